//! Docker's containerd image store: images, blobs and unpacked layers live in
//! containerd's root (`/var/lib/containerd`, or `<data-root>/containerd/daemon` when
//! dockerd runs its own containerd), containers and volumes in Docker's.
//!
//! `find` locates containerd's root beside a Docker root; `read` reads its records
//! (meta.db, the overlayfs snapshotter's metadata.db, the content store, ingests,
//! tmpmounts); `records` maps them onto the records the rest of dockscope knows
//! (images, tags, layers, snapshot dirs, containers' RW snapshots), so every report works
//! unchanged, and keeps what only containerd has beside them.

pub mod buildkit;
pub mod content;
pub mod gc;
pub mod meta;

use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, FileKind, FileReader};
use crate::scan::bbolt::Db;
use crate::scan::{open_optional, sorted_names, SMALL_LIMIT};
use serde::Serialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

pub use meta::{BackendSnapshot, MetaDb};

/// Paths inside containerd's root are shown with this prefix, so that they are never
/// taken for paths of the Docker root.
pub const PREFIX: &str = "containerd:";
pub const META_DB: &str = "io.containerd.metadata.v1.bolt/meta.db";
pub const CONTENT: &str = "io.containerd.content.v1.content";
pub const OVERLAYFS: &str = "io.containerd.snapshotter.v1.overlayfs";
/// The snapshotter Docker uses in this mode.
pub const SNAPSHOTTER: &str = "overlayfs";
/// meta.db and the snapshotter's db stay far below this.
const DB_LIMIT: u64 = 1 << 30;

/// A path of containerd's root as dockscope shows it.
pub fn shown(rel: &str) -> String {
    [PREFIX, rel].concat()
}

/// What the user asked for.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `--containerd-root` (or `DOCKSCOPE_CONTAINERD_ROOT`).
    pub root: Option<PathBuf>,
    /// `--namespace` (default `moby`).
    pub namespace: String,
    /// The command lists images only (`images`): blob files are not listed, content
    /// records are their digests only, snapshot dirs are not looked into (see
    /// `Store::lean`), image configs' history is checked but not kept (`ImageRec::
    /// history_raw` is `None`), and of the containerd facts only the images' are kept
    /// (`C8d::store` is `None`, its `layers`, `snapshots` and `committed_usage` are
    /// empty).
    pub lean: bool,
}

/// Does this Docker root keep its images in containerd? True when asked to read a
/// containerd root, when the classic image store is absent (`image/overlay2` and
/// `overlay2/`), or when a container names the `overlayfs` snapshotter as its driver.
pub fn wanted(docker: &DataRoot, opts: &Options) -> bool {
    if opts.root.is_some() {
        return true;
    }
    let classic = docker.lstat("image/overlay2").is_ok() || docker.lstat("overlay2").is_ok();
    if !classic {
        return true;
    }
    docker.lstat("rootfs/overlayfs").is_ok()
}

/// Where containerd's root was found, and by which rule.
#[derive(Clone, Debug, Serialize)]
pub struct Found {
    pub path: String,
    /// `flag`, `sibling`, `embedded` (`<root>/containerd/daemon`), `archive`.
    pub rule: &'static str,
}

fn has_store(r: &DataRoot) -> bool {
    r.lstat("io.containerd.metadata.v1.bolt").is_ok()
}

/// Find and open containerd's root for a Docker root opened from `docker_path`.
/// `Err` says why not, naming the flag to give.
pub fn find(
    docker: &DataRoot,
    docker_path: &Path,
    opts: &Options,
) -> Result<(DataRoot, Found), String> {
    if let Some(p) = &opts.root {
        let r = DataRoot::open(p).map_err(|e| {
            format!("containerd root {e}; give the right one with --containerd-root DIR|ARCHIVE")
        })?;
        // An archive of both trees: containerd's is beside Docker's inside it.
        if r.is_archive() && !has_store(&r) {
            if let Some((sub, found)) = in_archive(&r, p) {
                return Ok((sub, found));
            }
        }
        if !has_store(&r) {
            return Err(format!(
                "{}: no io.containerd.metadata.v1.bolt/ there: not a containerd root; give the right one with --containerd-root DIR|ARCHIVE",
                p.display()
            ));
        }
        return Ok((
            r,
            Found {
                path: p.display().to_string(),
                rule: "flag",
            },
        ));
    }
    if docker.is_archive() {
        if let Some(found) = in_archive(docker, docker_path) {
            return Ok(found);
        }
    } else {
        // The `containerd` dir beside the Docker root (`/var/lib/containerd` beside
        // `/var/lib/docker`, also on a mounted evidence disk).
        let parent = docker_path.parent().unwrap_or(Path::new(""));
        let sibling = if parent.as_os_str().is_empty() {
            PathBuf::from("containerd")
        } else {
            parent.join("containerd")
        };
        if let Ok(r) = DataRoot::open(&sibling) {
            if !r.is_archive() && has_store(&r) {
                return Ok((
                    r,
                    Found {
                        path: sibling.display().to_string(),
                        rule: "sibling",
                    },
                ));
            }
        }
        let embedded = docker_path.join("containerd").join("daemon");
        if let Ok(r) = DataRoot::open(&embedded) {
            if !r.is_archive() && has_store(&r) {
                return Ok((
                    r,
                    Found {
                        path: embedded.display().to_string(),
                        rule: "embedded",
                    },
                ));
            }
        }
    }
    Err(format!(
        "{}: images are kept in containerd's image store, but no containerd root was found beside it (containerd/ next to it, or containerd/daemon inside it); give it with --containerd-root DIR|ARCHIVE",
        docker_path.display()
    ))
}

/// containerd's tree inside an archive: beside the Docker root (`containerd/` next to
/// `docker/`), or `<docker root>/containerd/daemon`.
fn in_archive(r: &DataRoot, path: &Path) -> Option<(DataRoot, Found)> {
    let prefix = r.archive_prefix().unwrap_or("");
    let parent = prefix.rsplit_once('/').map_or("", |(p, _)| p);
    let mut candidates = Vec::new();
    if !prefix.is_empty() {
        candidates.push(if parent.is_empty() {
            "containerd".to_owned()
        } else {
            format!("{parent}/containerd")
        });
    }
    candidates.push(if prefix.is_empty() {
        "containerd/daemon".to_owned()
    } else {
        format!("{prefix}/containerd/daemon")
    });
    candidates.push("containerd".to_owned());
    for c in candidates {
        if let Some(sub) = r.archive_root(&c) {
            if has_store(&sub) {
                return Some((
                    sub,
                    Found {
                        path: format!("{}:{c}", path.display()),
                        rule: "archive",
                    },
                ));
            }
        }
    }
    None
}

/// A blob file of the content store (a regular file: its size is the walk's, or
/// `verify`'s, to read).
#[derive(Clone, Debug, Serialize)]
pub struct BlobFile {
    pub digest: String,
    pub path: String,
}

/// One `ingest/<hash>/` dir: a download in progress (or interrupted).
#[derive(Clone, Debug, Serialize)]
pub struct IngestDir {
    pub name: String,
    pub path: String,
    /// The `ref` file: the ingest's reference (its meta.db key has the namespace before it).
    pub reference: Option<String>,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    pub total: Option<u64>,
    /// Bytes of `data` so far.
    pub data_len: Option<u64>,
}

/// One `snapshots/<id>/` dir of the overlayfs snapshotter.
#[derive(Clone, Debug, Serialize)]
pub struct SnapshotDir {
    pub id: String,
    pub path: String,
    pub has_fs: bool,
    pub has_work: bool,
}

/// Everything read from containerd's root.
pub struct Store {
    pub found: Found,
    pub namespace: String,
    pub meta: MetaDb,
    /// The overlayfs snapshotter's records.
    pub backend: Vec<BackendSnapshot>,
    /// Why the snapshotter's metadata.db could not be read in full (then no snapshot dir
    /// can be judged unowned).
    pub backend_error: Option<String>,
    pub blob_files: BTreeMap<String, BlobFile>,
    pub ingest_dirs: Vec<IngestDir>,
    pub snapshot_dirs: Vec<SnapshotDir>,
    pub tmpmounts: Vec<String>,
    /// Parsed manifests and indexes, by digest (those reachable from image records).
    pub docs: crate::model::ids::FastMap<String, content::Doc>,
    pub problems: Vec<Problem>,
    /// Read for a command that needs the records only: `blob_files` is empty (the blobs
    /// dir is not listed: the documents are read by name), a content record holds its
    /// digest alone, `snapshot_dirs` is empty (the dir is listed, for its problems, but
    /// no snapshot dir is opened), and of the records' labels only the classic
    /// builder's parent is kept.
    pub lean: bool,
}

/// Why containerd's records could not be used: nothing may be called reclaimable then.
#[derive(Clone, Debug, Serialize)]
pub struct Unusable {
    pub area: String,
    pub reason: String,
}

/// Read containerd's root. `Err` when meta.db cannot be read at all.
pub fn read(root: &DataRoot, found: Found, namespace: &str, lean: bool) -> Result<Store, Unusable> {
    // meta.db, the snapshotter's db, the blobs and the snapshot dirs are read at once.
    let read_meta = || -> Result<MetaDb, Unusable> {
        let file = match open_db(root, META_DB) {
            Ok(f) => f,
            Err(e) => {
                let reason = if e.kind() == io::ErrorKind::NotFound {
                    "containerd's metadata database is missing".to_owned()
                } else {
                    format!("containerd's metadata database cannot be read: {e}")
                };
                return Err(Unusable {
                    area: shown(META_DB),
                    reason,
                });
            }
        };
        file.with_db(|db| meta::read_db_with(db, lean))
            .map_err(|e| Unusable {
                area: shown(META_DB),
                reason: format!("containerd's metadata database is damaged: {e}"),
            })
    };
    let read_backend = || {
        let mut problems = Vec::new();
        let backend = read_backend(root, &mut problems);
        (backend, problems)
    };
    let read_blobs = || {
        let mut problems = Vec::new();
        if lean {
            // The documents are read by name: a missing one is skipped as unlisted.
            return (BTreeMap::new(), problems);
        }
        let blobs = list_blobs(root, &mut problems);
        (blobs, problems)
    };
    let read_dirs = || {
        let mut problems = Vec::new();
        let dirs = list_snapshot_dirs(root, &mut problems, lean);
        (dirs, problems)
    };
    let (meta, (((backend, backend_error), sdb_problems), ((blob_files, blob_problems), dirs))) =
        rayon::join(read_meta, || {
            rayon::join(read_backend, || rayon::join(read_blobs, read_dirs))
        });
    let meta = meta?;
    if !meta.errors.is_empty() {
        // A damaged bucket: records may be missing, so nothing can be judged unowned.
        let (at, what) = &meta.errors[0];
        return Err(Unusable {
            area: shown(META_DB),
            reason: format!(
                "containerd's metadata database is damaged ({} parts unreadable, first {at}: {what})",
                meta.errors.len()
            ),
        });
    }
    let mut problems = root.problems().to_vec();
    problems.extend(sdb_problems);
    problems.extend(blob_problems);
    let mut store = Store {
        found,
        namespace: namespace.to_owned(),
        meta,
        backend,
        backend_error,
        blob_files,
        ingest_dirs: Vec::new(),
        snapshot_dirs: Vec::new(),
        tmpmounts: Vec::new(),
        docs: crate::model::ids::FastMap::default(),
        problems: Vec::new(),
        lean,
    };
    store.ingest_dirs = list_ingests(root, &mut problems);
    let (snapshot_dirs, dir_problems) = dirs;
    store.snapshot_dirs = snapshot_dirs;
    problems.extend(dir_problems);
    if let Ok(Some(d)) = open_optional(root, "tmpmounts") {
        store.tmpmounts = sorted_names(&d, &mut problems)
            .into_iter()
            .map(|n| format!("tmpmounts/{n}"))
            .collect();
    }
    store.docs = content::read_docs(root, &store, &mut problems);
    for p in &mut problems {
        if !p.path.starts_with(PREFIX) {
            p.path = shown(&p.path);
        }
    }
    store.problems = problems;
    Ok(store)
}

/// The overlayfs snapshotter's records, and why they cannot all be read (then no
/// snapshot dir can be judged unowned).
fn read_backend(
    root: &DataRoot,
    problems: &mut Vec<Problem>,
) -> (Vec<BackendSnapshot>, Option<String>) {
    let mut backend = Vec::new();
    let mut backend_error = None;
    let sdb = format!("{OVERLAYFS}/metadata.db");
    match open_db(root, &sdb) {
        Ok(f) => match f.with_db(meta::read_snapshotter_db) {
            Ok((snaps, errs)) => {
                backend = snaps;
                if let Some(first) = errs.first() {
                    backend_error = Some(format!(
                        "the overlayfs snapshotter's metadata.db is damaged ({} parts unreadable, first {first})",
                        errs.len()
                    ));
                }
                for e in errs {
                    problems.push(Problem::new(shown(&sdb), ProblemKind::Malformed, e));
                }
            }
            Err(e) => {
                backend_error = Some(format!(
                    "the overlayfs snapshotter's metadata.db is damaged: {e}"
                ));
                problems.push(Problem::new(shown(&sdb), ProblemKind::Malformed, e));
            }
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // No snapshotter db: fine only when there is no snapshot dir either.
            if root
                .dir(&format!("{OVERLAYFS}/snapshots"))
                .and_then(|d| d.entries())
                .is_ok_and(|e| !e.is_empty())
            {
                backend_error =
                    Some("the overlayfs snapshotter's metadata.db is missing".to_owned());
            }
        }
        Err(e) => {
            backend_error = Some(format!(
                "the overlayfs snapshotter's metadata.db cannot be read: {e}"
            ));
            problems.push(Problem::io(shown(&sdb), &e));
        }
    }
    (backend, backend_error)
}

/// A bbolt file of containerd's root, opened to be read page by page (meta.db holds a
/// page per image, blob and snapshot record: hundreds of MB on a large host).
struct DbFile {
    reader: FileReader,
    len: u64,
}

fn open_db(root: &DataRoot, rel: &str) -> io::Result<DbFile> {
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let d = if dir.is_empty() {
        root.top()?
    } else {
        root.dir(dir)?
    };
    let (reader, meta) = d.open(OsStr::new(name))?;
    if meta.len > DB_LIMIT {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {DB_LIMIT} bytes, not read"),
        ));
    }
    Ok(DbFile {
        reader,
        len: meta.len,
    })
}

impl DbFile {
    /// Parse it (the meta pages) and hand the database to `f`.
    fn with_db<T>(&self, f: impl FnOnce(&Db<'_>) -> Result<T, String>) -> Result<T, String> {
        let db = match &self.reader {
            FileReader::Fd(file) => Db::from_file(file, self.len),
            FileReader::Mem(c) => Db::parse(c.get_ref()),
            // `open` never streams; a database is read whole or in place
            FileReader::Stream(_) => return Err("not readable in place".to_owned()),
        }
        .map_err(|e| e.to_string())?;
        f(&db)
    }
}

/// `sorted_names` with each entry's kind as the listing gives it (`None`: not given).
fn sorted_entries(
    dir: &crate::root::Dir<'_>,
    problems: &mut Vec<Problem>,
) -> Vec<(String, Option<FileKind>)> {
    let entries = match dir.entries() {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::io(dir.rel(), &e));
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        match e.name_str() {
            Some(n) => out.push((n.to_owned(), e.kind)),
            None => problems.push(Problem::new(
                dir.rel_of(&e.name),
                ProblemKind::Unexpected,
                "name is not UTF-8; Docker never writes such a name here",
            )),
        }
    }
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out
}

fn list_blobs(root: &DataRoot, problems: &mut Vec<Problem>) -> BTreeMap<String, BlobFile> {
    let mut out = BTreeMap::new();
    let rel = format!("{CONTENT}/blobs");
    let Ok(Some(algs)) = open_optional(root, &rel) else {
        return out;
    };
    for alg in sorted_names(&algs, problems) {
        let Ok(d) = algs.sub(OsStr::new(&alg)) else {
            continue;
        };
        for (name, kind) in sorted_entries(&d, problems) {
            let path = d.rel_of(OsStr::new(&name));
            // The listing's file type when the filesystem gives one (no stat per blob),
            // else an lstat.
            let kind = match kind {
                Some(k) => Ok(k),
                None => d.lstat(OsStr::new(&name)).map(|m| m.kind),
            };
            match kind {
                Ok(FileKind::File) => {
                    let digest = format!("{alg}:{name}");
                    out.insert(digest.clone(), BlobFile { digest, path });
                }
                Ok(k) => problems.push(Problem::new(
                    path,
                    ProblemKind::WrongType,
                    format!(
                        "expected a regular file, found {}",
                        crate::root::kind_name(k)
                    ),
                )),
                Err(e) => problems.push(Problem::io(path, &e)),
            }
        }
    }
    out
}

fn list_ingests(root: &DataRoot, problems: &mut Vec<Problem>) -> Vec<IngestDir> {
    let mut out = Vec::new();
    let rel = format!("{CONTENT}/ingest");
    let Ok(Some(d)) = open_optional(root, &rel) else {
        return out;
    };
    for name in sorted_names(&d, problems) {
        let path = d.rel_of(OsStr::new(&name));
        let Ok(sub) = d.sub(OsStr::new(&name)) else {
            problems.push(Problem::new(
                path,
                ProblemKind::Unexpected,
                "not a directory; containerd keeps one dir per ingest here",
            ));
            continue;
        };
        let small = |f: &str| {
            sub.read(OsStr::new(f), SMALL_LIMIT)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        };
        let time = |f: &str| {
            sub.read(OsStr::new(f), SMALL_LIMIT)
                .ok()
                .and_then(|b| meta::go_time(&b))
        };
        out.push(IngestDir {
            reference: small("ref"),
            started_at: time("startedat"),
            updated_at: time("updatedat"),
            total: small("total").and_then(|t| t.parse().ok()),
            data_len: sub.lstat(OsStr::new("data")).ok().map(|m| m.len),
            name,
            path,
        });
    }
    out
}

fn list_snapshot_dirs(
    root: &DataRoot,
    problems: &mut Vec<Problem>,
    lean: bool,
) -> Vec<SnapshotDir> {
    let mut out = Vec::new();
    let rel = format!("{OVERLAYFS}/snapshots");
    let Ok(Some(d)) = open_optional(root, &rel) else {
        return out;
    };
    let names = sorted_names(&d, problems);
    if lean {
        return out;
    }
    for name in names {
        let path = d.rel_of(OsStr::new(&name));
        let (has_fs, has_work) = match d.sub(OsStr::new(&name)) {
            Ok(s) => (
                s.lstat(OsStr::new("fs"))
                    .is_ok_and(|m| m.kind == FileKind::Dir),
                s.lstat(OsStr::new("work"))
                    .is_ok_and(|m| m.kind == FileKind::Dir),
            ),
            Err(_) => (false, false),
        };
        out.push(SnapshotDir {
            id: name,
            path,
            has_fs,
            has_work,
        });
    }
    out
}

pub mod records;

/// Scan a Docker root and, when its images live in containerd, containerd's root
/// beside it. Returns containerd's root when one was opened (for the size walks).
pub fn scan_root(
    root: &DataRoot,
    root_path: &Path,
    layout: crate::scan::Layout,
    opts: &Options,
) -> (crate::scan::Scan, Option<DataRoot>) {
    let want = wanted(root, opts);
    let mut scan = crate::scan::scan(root, layout);
    if !want {
        return (scan, None);
    }
    let namespace = if opts.namespace.is_empty() {
        "moby".to_owned()
    } else {
        opts.namespace.clone()
    };
    let mut c8d = records::C8d {
        namespace: namespace.clone(),
        ..records::C8d::default()
    };
    let unusable = match find(root, root_path, opts) {
        Err(reason) => Unusable {
            area: "containerd root".into(),
            reason,
        },
        Ok((croot, found)) => {
            c8d.found = Some(found.clone());
            match read(&croot, found.clone(), &namespace, opts.lean) {
                Ok(store) => {
                    if !store.meta.namespaces.iter().any(|n| n == &namespace) {
                        scan.problems.push(Problem::new(
                            shown(META_DB),
                            ProblemKind::Missing,
                            format!(
                                "namespace {namespace} is not in containerd's metadata (it has: {}); give Docker's with --namespace",
                                store.meta.namespaces.join(", ")
                            ),
                        ));
                    }
                    let pool = crate::model::ids::Pool::default();
                    let containers = std::mem::take(&mut scan.containers);
                    let mut mapped =
                        records::map_into(&mut scan, store, &croot, &containers, &pool);
                    scan.containers = containers;
                    mapped.found = Some(found);
                    if let Ok(Some(d)) = open_optional(root, "rootfs/overlayfs") {
                        mapped.rootfs_dirs = sorted_names(&d, &mut scan.problems)
                            .into_iter()
                            .map(|n| format!("rootfs/overlayfs/{n}"))
                            .collect();
                    }
                    let (records, problems) = buildkit::scan(root);
                    mapped.build_cache = records;
                    scan.problems.extend(problems);
                    mark_layout(&mut scan.layout, &mapped);
                    if opts.lean {
                        // The images' facts are all a lean read is for: the records
                        // behind them are let go (on another thread) before the model
                        // is built.
                        let records = (
                            mapped.store.take(),
                            std::mem::take(&mut mapped.layers),
                            std::mem::take(&mut mapped.snapshots),
                            std::mem::take(&mut mapped.committed_usage),
                        );
                        let _ = std::thread::Builder::new().spawn(move || drop(records));
                    }
                    scan.containerd = Some(Box::new(mapped));
                    scan.problems.sort();
                    scan.problems.dedup();
                    return (scan, Some(croot));
                }
                Err(u) => u,
            }
        }
    };
    scan.problems.push(Problem::new(
        unusable.area.clone(),
        ProblemKind::Missing,
        unusable.reason.clone(),
    ));
    scan.problems.sort();
    scan.problems.dedup();
    c8d.unusable = Some(unusable);
    scan.containerd = Some(Box::new(c8d));
    (scan, None)
}

fn mark_layout(layout: &mut crate::scan::Layout, c8d: &records::C8d) {
    layout
        .layouts
        .retain(|l| l.name != "containerd-snapshotter");
    let found = c8d.found.as_ref().map_or(String::new(), |f| f.path.clone());
    layout.layouts.push(crate::scan::layout::LayoutFound {
        name: "containerd-snapshotter".into(),
        paths: vec![format!("{found}/{OVERLAYFS}/")],
        analysed: true,
        note: format!(
            "containerd image store, namespace {}: {} images, {} snapshots",
            c8d.namespace,
            c8d.images.len(),
            c8d.store.as_ref().map_or(0, |s| s.backend.len())
        ),
    });
}

/// A size containerd stores signed (a negative one is damage): as unsigned, 0 if negative.
pub fn nonneg(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
