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

mod entry;
pub mod manifest;
pub mod output;
pub mod redact;
mod tree;

use crate::problem::Problem;
use crate::root::{DataRoot, CAPTURE_MANIFEST};
use manifest::{BucketUsage, Counts, Host, Manifest};
use serde::Serialize;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

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

    let counters = tree::Progress::default();
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
        let mut w = tree::Sink::new(tar::Builder::new(out), &counters);
        let ctx = tree::Ctx {
            opts,
            tree: DOCKER_DIR,
            root_dev: top_meta.dev,
        };
        let mut r = tree::write_tree(&mut w, &ctx, &root, DOCKER_DIR, &top_meta);
        let tally = w.tally.take().unwrap_or_default();
        if let (Ok(()), Some((croot, cmeta))) = (&r, &containerd) {
            let ctx = tree::Ctx {
                opts,
                tree: CONTAINERD_DIR,
                root_dev: cmeta.dev,
            };
            r = tree::write_tree(&mut w, &ctx, croot, CONTAINERD_DIR, cmeta);
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

#[cfg(test)]
mod tests {
    use super::*;

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
