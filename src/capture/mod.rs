//! `dockscope capture`: a small, secret-free archive of a live root that `--root FILE`
//! reads like the root itself.
//!
//! One pass over the root (depth first, names sorted, never following a symlink, never
//! leaving the root's filesystem) writes every entry's tar header with its metadata.
//! Files the reports parse keep their contents (`is_metadata`); every other file
//! (layer files, volume data, logs) is written as a PAX sparse entry that is one hole
//! of its true size, so sizes and counts stay exact and no byte of it leaves the host.
//! Each entry also carries what a tar header cannot hold, as `DOCKSCOPE.*` PAX records:
//! allocated bytes (`DOCKSCOPE.disk`), the live `st_size` where the archive's differs
//! (`DOCKSCOPE.size`: directories and redacted files), contents left out
//! (`DOCKSCOPE.omitted`), a mount point not walked (`DOCKSCOPE.mountpoint`). The same
//! stats feed the size walk's totals per bucket (`walk::Tally`: the buckets, hard-link
//! and mount-point rules of `du`), so a root that changes while it is captured still
//! gives a manifest that agrees with the entries. The manifest,
//! `dockscope-capture.json`, is written last at the archive's top beside `docker/`
//! (the data root).

pub mod manifest;
pub mod output;
pub mod redact;

use crate::model::ids::sha256_digest;
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir, FileKind, Meta, CAPTURE_MANIFEST};
use manifest::{BucketUsage, Counts, Host, Manifest, Redacted};
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The folder of the archive that holds the Docker data root.
pub const DOCKER_DIR: &str = "docker";
/// The folder of the archive that holds a containerd root captured beside it.
pub const CONTAINERD_DIR: &str = "containerd";

/// A metadata file larger than this is captured without its contents (and named in
/// the report's problems): no file Docker parses comes close.
pub const METADATA_LIMIT: u64 = 256 << 20;
/// containerd content blobs up to this size are sniffed: JSON ones (manifests, indexes,
/// configs) are metadata, the rest (layer blobs) are not.
const BLOB_SNIFF_LIMIT: u64 = 4 << 20;

#[derive(Clone, Debug)]
pub struct Options {
    pub output: PathBuf,
    pub force: bool,
    pub keep_env: bool,
    /// Layer files (`overlay2/<id>/diff/…`) up to this size keep their contents.
    pub include_content: u64,
    /// containerd's root, captured as `containerd/` beside `docker/`. `None`: a
    /// `containerd/` directory beside the root that holds containerd's metadata
    /// database is taken, as `--root` readers find it.
    pub containerd_root: Option<PathBuf>,
}

/// containerd's root beside a data root (`/var/lib/containerd` for `/var/lib/docker`),
/// when it holds containerd's metadata database.
fn containerd_beside(root: &std::path::Path) -> Option<PathBuf> {
    let parent = root.parent()?;
    let dir = parent.join("containerd");
    let probe = DataRoot::open(&dir).ok()?;
    (!probe.is_archive()
        && probe
            .lstat("io.containerd.metadata.v1.bolt/meta.db")
            .is_ok())
    .then_some(dir)
}

/// What `dockscope capture` prints (`--json`: docs/json.md).
#[derive(Serialize)]
pub struct CaptureReport {
    pub output: String,
    /// Bytes of the archive written.
    pub bytes: u64,
    pub compression: &'static str,
    pub root: String,
    pub counts: Counts,
    /// Files whose Env values were redacted, and how many values.
    pub redacted_files: usize,
    pub redacted_env_values: usize,
    pub total_disk_bytes: Option<u64>,
    pub total_apparent_bytes: u64,
    pub seconds: f64,
    pub problems: Vec<Problem>,
}

impl crate::report::Report for CaptureReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

pub fn render(r: &CaptureReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "captured {} into {} ({}, {} bytes) in {:.1}s",
        r.root, r.output, r.compression, r.bytes, r.seconds
    )?;
    let c = &r.counts;
    writeln!(
        out,
        "{} entries: {} dirs, {} files ({} with contents, {} without: {} bytes left on the host), {} symlinks, {} devices/FIFOs, {} hard links",
        c.entries, c.dirs, c.files, c.contents_kept, c.contents_omitted, c.bytes_omitted, c.symlinks, c.special, c.hard_links
    )?;
    if r.redacted_files > 0 {
        writeln!(
            out,
            "Env values redacted: {} in {} file(s) (names kept)",
            r.redacted_env_values, r.redacted_files
        )?;
    }
    if c.sockets_skipped > 0 {
        writeln!(
            out,
            "sockets left out (tar cannot hold them): {}",
            c.sockets_skipped
        )?;
    }
    Ok(())
}

/// What the capture keeps of a file: its bytes, or only its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    Contents,
    /// Contents kept when the file turns out to be JSON (containerd content blobs).
    IfJson,
    SizeOnly,
}

/// Is this file something a report parses? `parts` are the path's components below
/// the data root. One rule a line: extend here when a report learns a new file.
#[allow(
    clippy::match_same_arms, // one rule a line, each with its reason
    clippy::case_sensitive_file_extension_comparisons // Docker's own names, exact
)]
pub fn is_metadata(parts: &[&str]) -> Keep {
    use Keep::{Contents, IfJson, SizeOnly};
    match parts {
        // image store: imagedb (configs, parents), layerdb (diff, size, cache-id,
        // parent, tar-split, mounts), repositories.json, distribution metadata
        ["image", _, "repositories.json"] => Contents,
        ["image", _, "imagedb" | "layerdb" | "distribution", ..] => Contents,
        // overlay2: the dir's own files (link, lower, committed), never diff/work/merged
        ["overlay2", id, name] if *id != "l" && !matches!(*name, "diff" | "work" | "merged") => {
            Contents
        }
        // containers: config.v2.json, hostconfig.json and the other JSON, and the
        // generated hostname/hosts/resolv.conf; not logs, not mounts/ (secrets), not checkpoints
        ["containers", _, name]
            if name.ends_with(".json")
                || matches!(
                    *name,
                    "hostname" | "hosts" | "resolv.conf" | "resolv.conf.hash"
                ) =>
        {
            Contents
        }
        // volumes: the bbolt database and each volume's options, never _data
        ["volumes", "metadata.db"] | ["volumes", _, "opts.json"] => Contents,
        // bbolt databases and small state files of BuildKit, networks, the engine
        ["buildkit", .., name] if name.ends_with(".db") => Contents,
        ["network", "files", name] if name.ends_with(".db") => Contents,
        ["engine-id"] => Contents,
        // containerd's metadata (docker's own `containerd/` or a containerd root)
        [.., "io.containerd.metadata.v1.bolt", "meta.db"] => Contents,
        [.., "io.containerd.snapshotter.v1.overlayfs", "metadata.db"] => Contents,
        [.., "io.containerd.content.v1.content", "blobs", "sha256", _] => IfJson,
        // a partial download's own records (its ref, total, times), never its data
        [.., "io.containerd.content.v1.content", "ingest", _, name] if *name != "data" => Contents,
        _ => SizeOnly,
    }
}

/// Files whose Env values are redacted, and what they are.
fn redaction_kind(parts: &[&str]) -> Option<&'static str> {
    match parts {
        ["containers", _, "config.v2.json"] => Some("container-config"),
        ["image", _, "imagedb", "content", "sha256", _]
        | [.., "io.containerd.content.v1.content", "blobs", "sha256", _] => Some("image-config"),
        _ => None,
    }
}

/// Run `dockscope capture` on the directory root at `root_path`.
pub fn run(
    root_path: &std::path::Path,
    opts: &Options,
    progress_on: bool,
) -> Result<CaptureReport, crate::Fatal> {
    let started = std::time::Instant::now();
    let root = DataRoot::open(root_path)?;
    if root.is_archive() {
        return Err(crate::Fatal::Usage(format!(
            "{}: capture reads a directory root; this is an archive already",
            root_path.display()
        )));
    }
    let top_meta = root
        .top()
        .and_then(|t| t.meta())
        .map_err(|e| crate::Fatal::Open(crate::root::OpenError::Io(root_path.to_owned(), e)))?;
    let mut roots = vec![(top_meta.dev, top_meta.ino, root_path.to_owned())];
    let containerd_path = opts
        .containerd_root
        .clone()
        .or_else(|| containerd_beside(root_path));
    let containerd = match &containerd_path {
        Some(p) => {
            let r = DataRoot::open(p)?;
            if r.is_archive() {
                return Err(crate::Fatal::Usage(format!(
                    "{}: capture reads a directory containerd root; this is an archive",
                    p.display()
                )));
            }
            let m = r
                .top()
                .and_then(|t| t.meta())
                .map_err(|e| crate::Fatal::Open(crate::root::OpenError::Io(p.clone(), e)))?;
            roots.push((m.dev, m.ino, p.clone()));
            Some((r, m))
        }
        None => None,
    };
    let target = output::decide(&opts.output, &roots, opts.force)
        .map_err(|e| crate::Fatal::Usage(e.to_string()))?;
    let out = output::Output::create(&target)
        .map_err(|e| crate::Fatal::Usage(format!("{}: {e}", target.temp.display())))?;

    let counters = Progress::default();
    let done = AtomicBool::new(false);
    let (written, walked) = std::thread::scope(|s| {
        if progress_on {
            s.spawn(|| {
                let bar = indicatif::ProgressBar::new_spinner();
                while !done.load(Ordering::Relaxed) {
                    bar.set_message(format!(
                        "capturing: {} entries, {} kept",
                        counters.entries.load(Ordering::Relaxed),
                        crate::report::human_size(counters.kept.load(Ordering::Relaxed))
                    ));
                    bar.tick();
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                bar.finish_and_clear();
            });
        }
        let mut w = Writer {
            tar: tar::Builder::new(out),
            opts,
            counts: Counts::default(),
            seen: HashMap::new(),
            redacted: Vec::new(),
            problems: Vec::new(),
            progress: &counters,
            tree: DOCKER_DIR,
            tally: Some(crate::walk::Tally::new()),
        };
        let mut r = w.tree(&root, DOCKER_DIR, top_meta);
        let tally = w.tally.take().unwrap_or_default();
        if let (Ok(()), Some((croot, cmeta))) = (&r, &containerd) {
            w.tree = CONTAINERD_DIR;
            r = w.tree(croot, CONTAINERD_DIR, *cmeta);
        }
        done.store(true, Ordering::Relaxed);
        (r.map(|()| w), tally)
    });
    let mut w = written.map_err(crate::Fatal::Output)?;
    // the size walk's totals, from the very stats the entries were written with
    let walked = walked.finish(&top_meta);

    let mut buckets: Vec<BucketUsage> = walked
        .buckets
        .iter()
        .map(|(b, u)| BucketUsage::new(b, u))
        .collect();
    buckets.sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
    let uname = rustix::system::uname();
    let magic = root.fs_type();
    let manifest = Manifest {
        format: manifest::FORMAT.to_owned(),
        format_version: manifest::FORMAT_VERSION,
        tool: manifest::Tool {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        created: jiff::Timestamp::now().to_string(),
        root: root_path.display().to_string(),
        data_root: DOCKER_DIR.to_owned(),
        containerd_root: containerd_path.as_ref().map(|p| p.display().to_string()),
        host: Host {
            kernel: Some(uname.release().to_string_lossy().into_owned()),
            hostname: Some(uname.nodename().to_string_lossy().into_owned()),
            filesystem: magic.and_then(manifest::filesystem_name).map(str::to_owned),
            filesystem_magic: magic.map(|m| format!("{m:#x}")),
        },
        options: manifest::Options {
            keep_env: opts.keep_env,
            include_content: opts.include_content,
        },
        counts: w.counts.clone(),
        disk: manifest::Disk {
            total: BucketUsage::new(&crate::walk::Bucket::Area("total".into()), &walked.total),
            buckets,
            mount_points: walked.mount_points.clone(),
            incomplete_paths: walked.incomplete_paths.clone(),
        },
        redacted: std::mem::take(&mut w.redacted),
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_path(CAPTURE_MANIFEST)?;
    h.set_mode(0o644);
    h.set_mtime(u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0));
    h.set_size(json.len() as u64);
    h.set_cksum();
    w.tar.append(&h, json.as_slice())?;
    let out = w.tar.into_inner()?;
    out.commit()
        .map_err(|e| crate::Fatal::Usage(format!("{}: {e}", target.path.display())))?;
    let bytes = std::fs::symlink_metadata(&target.path).map_or(0, |m| m.len());

    let mut problems = w.problems;
    problems.sort();
    problems.dedup();
    Ok(CaptureReport {
        output: target.path.display().to_string(),
        bytes,
        compression: match target.compression {
            output::Compression::None => "none",
            output::Compression::Gzip => "gzip",
            output::Compression::Zstd => "zstd",
        },
        root: root_path.display().to_string(),
        counts: manifest.counts,
        redacted_files: manifest.redacted.len(),
        redacted_env_values: manifest.redacted.iter().map(|r| r.env_values).sum(),
        total_disk_bytes: walked.total.disk_bytes,
        total_apparent_bytes: walked.total.apparent_bytes,
        seconds: started.elapsed().as_secs_f64(),
        problems,
    })
}

#[derive(Default)]
struct Progress {
    entries: AtomicU64,
    kept: AtomicU64,
}

struct Writer<'a, W: Write> {
    tar: tar::Builder<W>,
    opts: &'a Options,
    counts: Counts,
    /// (dev, ino) of files with several names -> the archive path of the first.
    seen: HashMap<(u64, u64), Vec<u8>>,
    redacted: Vec<Redacted>,
    problems: Vec<Problem>,
    progress: &'a Progress,
    /// The archive folder being written (`docker` or `containerd`).
    tree: &'static str,
    /// The size walk's totals of the data root, fed with each entry written.
    tally: Option<crate::walk::Tally>,
}

/// One PAX record: `<length> <key>=<value>\n`, the length counting itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while (len.to_string().len() + body) != len {
        len = len.to_string().len() + body;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn dec(n: u64) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// A directory still to be written below: its parent (kept open) and its name.
struct Pending<'r> {
    parent: Arc<Dir<'r>>,
    name: std::ffi::OsString,
    apath: Vec<u8>,
    parts: Vec<String>,
}

impl<W: Write> Writer<'_, W> {
    /// Write the whole tree of `root` under `prefix/`.
    fn tree(&mut self, root: &DataRoot, prefix: &str, top_meta: Meta) -> io::Result<()> {
        let top = Arc::new(root.top()?);
        self.entry(prefix.as_bytes(), &top_meta, &[], &Body::Dir)?;
        let mut stack: Vec<Pending<'_>> = Vec::new();
        self.list(&top, prefix.as_bytes(), &[], top_meta.dev, &mut stack)?;
        while let Some(p) = stack.pop() {
            let dir = match p.parent.sub(&p.name) {
                Ok(d) => Arc::new(d),
                Err(e) => {
                    let rel = p.parent.rel_of(&p.name);
                    self.failed(&p.parts, &rel);
                    self.problems.push(Problem::io(rel, &e));
                    continue;
                }
            };
            drop(p.parent);
            self.list(&dir, &p.apath, &p.parts, top_meta.dev, &mut stack)?;
        }
        Ok(())
    }

    /// A read that failed: the size walk's bucket there is short, as `walk` marks it.
    fn failed(&mut self, parts: &[String], rel: &str) {
        if let Some(t) = &mut self.tally {
            let p: Vec<&str> = parts.iter().map(String::as_str).collect();
            t.failed(&p, rel.to_owned());
        }
    }

    /// Write the entries of one directory; its subdirectories go on the stack.
    fn list<'r>(
        &mut self,
        dir: &Arc<Dir<'r>>,
        apath: &[u8],
        parts: &[String],
        root_dev: u64,
        stack: &mut Vec<Pending<'r>>,
    ) -> io::Result<()> {
        let mut entries = match dir.entries() {
            Ok(e) => e,
            Err(e) => {
                self.failed(parts, dir.rel());
                self.problems.push(Problem::io(dir.rel(), &e));
                return Ok(());
            }
        };
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let mut subdirs = Vec::new();
        for e in entries {
            self.progress.entries.fetch_add(1, Ordering::Relaxed);
            let rel = dir.rel_of(&e.name);
            let meta = match dir.lstat(&e.name) {
                Ok(m) => m,
                Err(err) => {
                    let mut p = parts.to_vec();
                    p.push(e.name.to_string_lossy().into_owned());
                    self.failed(&p, &rel);
                    self.problems.push(Problem::io(rel, &err));
                    continue;
                }
            };
            let xattrs = dir.xattr_list(&e.name).unwrap_or_else(|err| {
                self.problems.push(Problem::io(rel.clone(), &err));
                Vec::new()
            });
            let mut path = apath.to_vec();
            path.push(b'/');
            path.extend_from_slice(e.name.as_bytes());
            let mut child_parts = parts.to_vec();
            child_parts.push(e.name.to_string_lossy().into_owned());
            let tally_parts: Vec<&str> = child_parts.iter().map(String::as_str).collect();
            match meta.kind {
                FileKind::Dir if meta.dev != root_dev => {
                    if let Some(t) = &mut self.tally {
                        t.mount_point(rel.clone());
                    }
                    self.entry(&path, &meta, &xattrs, &Body::MountPoint)?;
                }
                FileKind::Socket | FileKind::Unknown => {}
                _ => {
                    if let Some(t) = &mut self.tally {
                        t.add(&tally_parts, &meta);
                    }
                }
            }
            match meta.kind {
                FileKind::Dir if meta.dev != root_dev => {}
                FileKind::Dir => {
                    self.entry(&path, &meta, &xattrs, &Body::Dir)?;
                    subdirs.push(Pending {
                        parent: Arc::clone(dir),
                        name: e.name,
                        apath: path,
                        parts: child_parts,
                    });
                }
                FileKind::File => {
                    if meta.nlink > 1 {
                        if let Some(first) = self.seen.get(&(meta.dev, meta.ino)) {
                            let first = first.clone();
                            self.entry(&path, &meta, &[], &Body::HardLink(first))?;
                            continue;
                        }
                        self.seen.insert((meta.dev, meta.ino), path.clone());
                    }
                    let body = self.file_body(dir, &e.name, &rel, &child_parts, &meta);
                    self.entry(&path, &meta, &xattrs, &body)?;
                }
                FileKind::Symlink => match dir.read_link(&e.name) {
                    Ok(t) => {
                        self.entry(
                            &path,
                            &meta,
                            &xattrs,
                            &Body::Symlink(t.as_os_str().as_bytes().to_vec()),
                        )?;
                    }
                    Err(err) => self.problems.push(Problem::io(rel, &err)),
                },
                FileKind::CharDevice | FileKind::BlockDevice | FileKind::Fifo => {
                    if meta.nlink > 1 {
                        if let Some(first) = self.seen.get(&(meta.dev, meta.ino)) {
                            let first = first.clone();
                            self.entry(&path, &meta, &[], &Body::HardLink(first))?;
                            continue;
                        }
                        self.seen.insert((meta.dev, meta.ino), path.clone());
                    }
                    self.entry(&path, &meta, &xattrs, &Body::Special)?;
                }
                FileKind::Socket | FileKind::Unknown => {
                    self.counts.sockets_skipped += 1;
                    self.problems.push(Problem::new(
                        rel,
                        ProblemKind::NotAnalysed,
                        "a socket: tar has no entry for it, left out of the capture",
                    ));
                }
            }
        }
        // popped in name order
        stack.extend(subdirs.into_iter().rev());
        Ok(())
    }

    /// Decide and read what a regular file's entry holds.
    fn file_body(
        &mut self,
        dir: &Dir<'_>,
        name: &OsStr,
        rel: &str,
        parts: &[String],
        meta: &Meta,
    ) -> Body {
        let p: Vec<&str> = parts.iter().map(String::as_str).collect();
        let keep = match is_metadata(&p) {
            Keep::SizeOnly
                if self.opts.include_content > 0
                    && meta.len <= self.opts.include_content
                    && matches!(p.as_slice(), ["overlay2", _, "diff", ..]) =>
            {
                Keep::Contents
            }
            k => k,
        };
        if meta.len == 0 {
            return Body::Contents(Vec::new());
        }
        let limit = match keep {
            Keep::SizeOnly => return Body::Omitted,
            Keep::IfJson => BLOB_SNIFF_LIMIT,
            Keep::Contents => METADATA_LIMIT,
        };
        if meta.len > limit {
            if keep == Keep::Contents {
                self.problems.push(Problem::new(
                    rel,
                    ProblemKind::TooLarge,
                    format!("larger than {limit} bytes: captured without its contents"),
                ));
            }
            return Body::Omitted;
        }
        let bytes = match dir.open(name).and_then(|(f, m)| {
            let mut buf = Vec::with_capacity(m.len as usize);
            f.take(limit).read_to_end(&mut buf)?;
            Ok(buf)
        }) {
            Ok(b) => b,
            Err(e) => {
                self.problems.push(Problem::io(rel, &e));
                return Body::Omitted;
            }
        };
        if keep == Keep::IfJson && bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Body::Omitted;
        }
        if let (Some(kind), false) = (redaction_kind(&p), self.opts.keep_env) {
            match redact::redact_env(&bytes) {
                Some((_, 0)) => {}
                Some((new, n)) => {
                    self.redacted.push(Redacted {
                        tree: self.tree.to_owned(),
                        path: rel.to_owned(),
                        kind: kind.to_owned(),
                        env_values: n,
                        original_sha256: sha256_digest(&bytes),
                        sha256: sha256_digest(&new),
                    });
                    return Body::Contents(new);
                }
                None => {
                    self.problems.push(Problem::new(
                        rel,
                        ProblemKind::Malformed,
                        "not JSON the Env redaction can follow: captured without its contents",
                    ));
                    return Body::Omitted;
                }
            }
        }
        Body::Contents(bytes)
    }

    /// Write one entry: a PAX header with its records, then the ustar header and body.
    fn entry(
        &mut self,
        path: &[u8],
        meta: &Meta,
        xattrs: &[(String, Vec<u8>)],
        body: &Body,
    ) -> io::Result<()> {
        let mut pax = Vec::new();
        let mut h = tar::Header::new_ustar();
        h.set_mode(meta.mode & 0o7777);
        h.set_uid(u64::from(meta.uid));
        h.set_gid(u64::from(meta.gid));
        h.set_mtime(u64::try_from(meta.mtime).unwrap_or(0));
        if meta.mtime_nsec != 0 || meta.mtime < 0 {
            pax_record(
                &mut pax,
                "mtime",
                format!("{}.{:09}", meta.mtime, meta.mtime_nsec).as_bytes(),
            );
        }
        let mut header_path = path.to_vec();
        let mut data: Vec<u8> = Vec::new();
        self.counts.entries += 1;
        match body {
            Body::Dir | Body::MountPoint => {
                self.counts.dirs += 1;
                h.set_entry_type(tar::EntryType::Directory);
                header_path.push(b'/');
                pax_record(&mut pax, "DOCKSCOPE.size", &dec(meta.len));
                if matches!(body, Body::MountPoint) {
                    pax_record(&mut pax, "DOCKSCOPE.mountpoint", b"1");
                }
            }
            Body::Contents(bytes) => {
                self.counts.files += 1;
                self.counts.contents_kept += 1;
                self.progress
                    .kept
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                h.set_entry_type(tar::EntryType::Regular);
                // the live st_size, which the size walk counted, where the bytes
                // written differ (redacted, or changed since the lstat)
                if bytes.len() as u64 != meta.len {
                    pax_record(&mut pax, "DOCKSCOPE.size", &dec(meta.len));
                }
                data.clone_from(bytes);
            }
            Body::Omitted => {
                self.counts.files += 1;
                self.counts.contents_omitted += 1;
                self.counts.bytes_omitted += meta.len;
                h.set_entry_type(tar::EntryType::Regular);
                // GNU tar's PAX sparse format 0.1: the real name, size and map ("1
                // region: at the end, 0 bytes") in records, no body at all.
                pax_record(&mut pax, "GNU.sparse.major", b"0");
                pax_record(&mut pax, "GNU.sparse.minor", b"1");
                pax_record(&mut pax, "GNU.sparse.name", path);
                pax_record(&mut pax, "GNU.sparse.size", &dec(meta.len));
                pax_record(&mut pax, "GNU.sparse.numblocks", b"1");
                pax_record(
                    &mut pax,
                    "GNU.sparse.map",
                    format!("{},0", meta.len).as_bytes(),
                );
                pax_record(&mut pax, "DOCKSCOPE.omitted", b"1");
                let (parent, base) = match path.iter().rposition(|&b| b == b'/') {
                    Some(i) => (&path[..i], &path[i + 1..]),
                    None => (&b""[..], path),
                };
                header_path = parent.to_vec();
                header_path.extend_from_slice(b"/GNUSparseFile.0/");
                header_path.extend_from_slice(base);
            }
            Body::Symlink(target) => {
                self.counts.symlinks += 1;
                h.set_entry_type(tar::EntryType::Symlink);
                if h.set_link_name_literal(target).is_err() {
                    pax_record(&mut pax, "linkpath", target);
                }
            }
            Body::HardLink(first) => {
                self.counts.hard_links += 1;
                h.set_entry_type(tar::EntryType::Link);
                if h.set_link_name_literal(first).is_err() {
                    pax_record(&mut pax, "linkpath", first);
                }
            }
            Body::Special => {
                self.counts.special += 1;
                h.set_entry_type(match meta.kind {
                    FileKind::BlockDevice => tar::EntryType::Block,
                    FileKind::Fifo => tar::EntryType::Fifo,
                    _ => tar::EntryType::Char,
                });
                let (major, minor) = (rustix::fs::major(meta.rdev), rustix::fs::minor(meta.rdev));
                h.set_device_major(major)?;
                h.set_device_minor(minor)?;
            }
        }
        if !matches!(body, Body::HardLink(_)) {
            if let Some(d) = meta.disk {
                pax_record(&mut pax, "DOCKSCOPE.disk", &dec(d));
            }
        }
        for (k, v) in xattrs {
            pax_record(&mut pax, &format!("SCHILY.xattr.{k}"), v);
        }
        if set_path_bytes(&mut h, &header_path).is_err() {
            pax_record(&mut pax, "path", &header_path);
            set_path_bytes(&mut h, b"dockscope-long-name")?;
        }
        h.set_size(data.len() as u64);
        h.set_cksum();
        if !pax.is_empty() {
            let mut x = tar::Header::new_ustar();
            x.set_entry_type(tar::EntryType::XHeader);
            x.set_path("PaxHeader")?;
            x.set_mode(0o644);
            x.set_size(pax.len() as u64);
            x.set_cksum();
            self.tar.append(&x, pax.as_slice())?;
        }
        self.tar.append(&h, data.as_slice())
    }
}

fn set_path_bytes(h: &mut tar::Header, path: &[u8]) -> io::Result<()> {
    h.set_path(std::path::Path::new(OsStr::from_bytes(path)))
}

enum Body {
    Dir,
    MountPoint,
    /// The bytes (redacted ones included).
    Contents(Vec<u8>),
    Omitted,
    Symlink(Vec<u8>),
    HardLink(Vec<u8>),
    Special,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for value in [&b"x"[..], &[b'a'; 5][..], &[b'b'; 94][..], &[b'c'; 995][..]] {
            let mut out = Vec::new();
            pax_record(&mut out, "k", value);
            let text = String::from_utf8(out.clone()).unwrap();
            let n: usize = text.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(n, out.len(), "{text:?}");
        }
    }

    #[test]
    fn metadata_predicate() {
        let keep = |p: &str| is_metadata(&p.split('/').collect::<Vec<_>>());
        assert_eq!(
            keep("image/overlay2/imagedb/content/sha256/ab"),
            Keep::Contents
        );
        assert_eq!(
            keep("image/overlay2/layerdb/sha256/ab/tar-split.json.gz"),
            Keep::Contents
        );
        assert_eq!(keep("image/overlay2/repositories.json"), Keep::Contents);
        assert_eq!(keep("overlay2/abc/link"), Keep::Contents);
        assert_eq!(keep("overlay2/abc/lower"), Keep::Contents);
        assert_eq!(keep("overlay2/abc/diff/etc/passwd"), Keep::SizeOnly);
        assert_eq!(keep("overlay2/abc/work/x"), Keep::SizeOnly);
        assert_eq!(keep("containers/c/config.v2.json"), Keep::Contents);
        assert_eq!(keep("containers/c/c-json.log"), Keep::SizeOnly);
        assert_eq!(keep("containers/c/mounts/secrets/token"), Keep::SizeOnly);
        assert_eq!(keep("volumes/metadata.db"), Keep::Contents);
        assert_eq!(keep("volumes/v/_data/db.sqlite"), Keep::SizeOnly);
        assert_eq!(keep("buildkit/cache.db"), Keep::Contents);
        assert_eq!(keep("buildkit/content/blobs/sha256/ab"), Keep::SizeOnly);
        assert_eq!(keep("network/files/local-kv.db"), Keep::Contents);
        assert_eq!(keep("tmp/GetImageBlob123"), Keep::SizeOnly);
        assert_eq!(keep("swarm/raft/wal-v3-encrypted/0.wal"), Keep::SizeOnly);
        assert_eq!(
            keep("containerd/daemon/io.containerd.metadata.v1.bolt/meta.db"),
            Keep::Contents
        );
        assert_eq!(
            keep("io.containerd.content.v1.content/blobs/sha256/ab"),
            Keep::IfJson
        );
    }
}
