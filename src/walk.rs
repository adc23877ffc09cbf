//! The size walk used by `du`: one parallel pass over the whole root.
//!
//! Every entry is stat'ed once and never followed. Each directory is one rayon job
//! (large directories are split further), so the walk never recurses on the call stack
//! and a root nested 10,000 levels deep is fine. Totals are kept per *bucket*: a
//! top-level area, or finer where Docker attributes space (an overlay2 dir's `diff/`
//! and the rest, a container's dir and its logs, a volume's `_data`). A hard-linked
//! inode is counted once, in the bucket of its first name in bucket order, a fixed rule
//! so that the answer does not depend on thread timing.

use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir, DirEntry, FileKind, Meta};
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Where an entry's bytes are attributed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// A top-level entry of the root, for what no finer bucket claims.
    Area(String),
    /// `overlay2/<id>/diff`.
    LayerDiff(String),
    /// `overlay2/<id>/` except `diff/` (link, lower, work/, merged/, committed).
    LayerRest(String),
    /// `containers/<id>/` except its log files.
    ContainerDir(String),
    /// `containers/<id>/<id>-json.log*`, `local-logs/`, `container-cached.log`.
    ContainerLog(String),
    /// `volumes/<name>/_data`.
    VolumeData(String),
    /// `volumes/<name>/` except `_data`.
    VolumeRest(String),
}

impl Bucket {
    /// The top-level area the bucket is part of.
    pub fn area(&self) -> &str {
        match self {
            Bucket::Area(a) => a,
            Bucket::LayerDiff(_) | Bucket::LayerRest(_) => "overlay2",
            Bucket::ContainerDir(_) | Bucket::ContainerLog(_) => "containers",
            Bucket::VolumeData(_) | Bucket::VolumeRest(_) => "volumes",
        }
    }
}

/// The three measures, and counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Allocated bytes, as `du -sB1`; `None` where unknown (an archive).
    pub disk_bytes: Option<u64>,
    /// Every entry's length, directories included, as `du -sb`.
    pub apparent_bytes: u64,
    /// Docker's measure: regular files and symlinks, each inode once, no directories.
    pub size: u64,
    pub files: u64,
    pub dirs: u64,
    /// Names not counted again because their inode was already counted.
    pub hardlinks_folded: u64,
}

impl Usage {
    fn add_entry(&mut self, m: &Meta) {
        self.apparent_bytes += m.len;
        self.disk_bytes = match (self.disk_bytes, m.disk) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        if m.kind == FileKind::Dir {
            self.dirs += 1;
        } else {
            self.files += 1;
            if matches!(m.kind, FileKind::File | FileKind::Symlink) {
                self.size += m.len;
            }
        }
    }

    pub fn add(&mut self, o: &Usage) {
        self.apparent_bytes += o.apparent_bytes;
        self.disk_bytes = match (self.disk_bytes, o.disk_bytes) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.size += o.size;
        self.files += o.files;
        self.dirs += o.dirs;
        self.hardlinks_folded += o.hardlinks_folded;
    }

    fn empty(known_disk: bool) -> Usage {
        Usage {
            disk_bytes: known_disk.then_some(0),
            ..Usage::default()
        }
    }
}

/// What one walk measured.
pub struct WalkResult {
    pub buckets: HashMap<Bucket, Usage>,
    pub total: Usage,
    /// Directories on another filesystem (live `merged/` mounts): not walked.
    pub mount_points: Vec<String>,
    pub problems: Vec<Problem>,
}

/// Live counters for a progress line.
#[derive(Default)]
pub struct Progress {
    pub entries: AtomicU64,
    pub bytes: AtomicU64,
}

/// One directory entry seen with more than one link: settled after the walk.
struct Linked {
    dev: u64,
    ino: u64,
    bucket: Bucket,
    meta: Meta,
}

struct Shared<'p> {
    known_disk: bool,
    root_dev: u64,
    out: Mutex<HashMap<Bucket, Usage>>,
    linked: Mutex<Vec<Linked>>,
    mounts: Mutex<Vec<String>>,
    problems: Mutex<Vec<Problem>>,
    progress: Option<&'p Progress>,
}

/// Directories with more entries than this are split across threads.
const CHUNK: usize = 2048;

fn is_log(container: &str, name: &str) -> bool {
    name == "container-cached.log"
        || name == "local-logs"
        || name
            .strip_prefix(container)
            .is_some_and(|rest| rest.starts_with("-json.log"))
}

/// The bucket of an entry from its path components (only the first three matter).
fn classify(parts: &[&str], inherited: &Bucket) -> Bucket {
    match parts {
        [area] => match *area {
            "overlay2" | "containers" | "volumes" => Bucket::Area((*area).to_owned()),
            a => Bucket::Area(a.to_owned()),
        },
        ["overlay2", id] if *id != "l" => Bucket::LayerRest((*id).to_owned()),
        ["overlay2", id, "diff"] if *id != "l" => Bucket::LayerDiff((*id).to_owned()),
        ["containers", id] => Bucket::ContainerDir((*id).to_owned()),
        ["containers", id, name] if is_log(id, name) => Bucket::ContainerLog((*id).to_owned()),
        ["volumes", name] if *name != "metadata.db" && *name != "backingFsBlockDev" => {
            Bucket::VolumeRest((*name).to_owned())
        }
        ["volumes", name, "_data"] => Bucket::VolumeData((*name).to_owned()),
        _ => inherited.clone(),
    }
}

/// Walk the whole root once.
pub fn walk(root: &DataRoot, progress: Option<&Progress>) -> WalkResult {
    walk_from(root, "", progress)
}

/// Walk one subtree (`rel` relative to the root; `""` for the whole root). The
/// directory `rel` itself counts in `total`, as `du` counts it.
pub fn walk_from(root: &DataRoot, rel: &str, progress: Option<&Progress>) -> WalkResult {
    let known_disk = root.sizes_known();
    let mut problems = Vec::new();
    let start = match if rel.is_empty() {
        root.top()
    } else {
        root.dir(rel)
    } {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            return WalkResult {
                buckets: HashMap::new(),
                total: Usage::empty(known_disk),
                mount_points: Vec::new(),
                problems,
            };
        }
    };
    let start_meta = start.meta().ok();
    let parts: Vec<String> = rel
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    // The bucket of the start dir, as the full walk would have classified it.
    let mut start_bucket = Bucket::Area(String::new());
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    for k in 1..=p.len().min(3) {
        start_bucket = classify(&p[..k], &start_bucket);
    }
    let shared = Shared {
        known_disk,
        root_dev: start_meta.map_or(0, |m| m.dev),
        out: Mutex::new(HashMap::new()),
        linked: Mutex::new(Vec::new()),
        mounts: Mutex::new(Vec::new()),
        problems: Mutex::new(problems),
        progress,
    };
    let parts = (parts.len() < 3).then_some(parts);
    rayon::scope(|s| {
        let shared = &shared;
        s.spawn(move |s| walk_dir(s, shared, start, parts, start_bucket));
    });
    let Shared {
        out,
        linked,
        mounts,
        problems,
        ..
    } = shared;
    let mut buckets = out.into_inner().unwrap_or_default();
    settle_links(
        &mut buckets,
        linked.into_inner().unwrap_or_default(),
        known_disk,
    );
    let mut total = Usage::empty(known_disk);
    if let Some(m) = start_meta {
        total.add_entry(&m);
    }
    for u in buckets.values() {
        total.add(u);
    }
    let mut mount_points = mounts.into_inner().unwrap_or_default();
    mount_points.sort();
    let mut problems = problems.into_inner().unwrap_or_default();
    problems.sort();
    WalkResult {
        buckets,
        total,
        mount_points,
        problems,
    }
}

/// What one path holds: a whole subtree for a directory, the entry itself otherwise.
/// A path that does not exist holds nothing.
pub fn measure(root: &DataRoot, rel: &str) -> (Usage, Vec<Problem>) {
    let known_disk = root.sizes_known();
    match root.lstat(rel) {
        Ok(m) if m.kind == FileKind::Dir => {
            let r = walk_from(root, rel, None);
            (r.total, r.problems)
        }
        Ok(m) => {
            let mut u = Usage::empty(known_disk);
            u.add_entry(&m);
            (u, Vec::new())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            (Usage::empty(known_disk), Vec::new())
        }
        Err(e) => (Usage::empty(known_disk), vec![Problem::io(rel, &e)]),
    }
}

/// Each inode with several names counts once, in the smallest bucket that holds one of
/// its names; every other name is a folded link of the bucket it sits in.
fn settle_links(buckets: &mut HashMap<Bucket, Usage>, mut linked: Vec<Linked>, known_disk: bool) {
    linked.sort_by(|a, b| (a.dev, a.ino, &a.bucket).cmp(&(b.dev, b.ino, &b.bucket)));
    let mut i = 0;
    while i < linked.len() {
        let first = &linked[i];
        buckets
            .entry(first.bucket.clone())
            .or_insert_with(|| Usage::empty(known_disk))
            .add_entry(&first.meta);
        let mut j = i + 1;
        while j < linked.len() && linked[j].dev == first.dev && linked[j].ino == first.ino {
            buckets
                .entry(linked[j].bucket.clone())
                .or_insert_with(|| Usage::empty(known_disk))
                .hardlinks_folded += 1;
            j += 1;
        }
        i = j;
    }
}

/// The walk's totals fed one entry at a time by a caller that visits the entries itself
/// (`dockscope capture`, which stats each entry once for its archive): the same buckets,
/// hard-link rule and mount-point rule as `walk`.
pub struct Tally {
    buckets: HashMap<Bucket, Usage>,
    linked: Vec<Linked>,
    mounts: Vec<String>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            buckets: HashMap::new(),
            linked: Vec::new(),
            mounts: Vec::new(),
        }
    }

    /// One entry below the top, by its path components; `meta` as `lstat` gave it.
    pub fn add(&mut self, parts: &[&str], meta: &Meta) {
        let mut bucket = Bucket::Area(String::new());
        for k in 1..=parts.len().min(3) {
            bucket = classify(&parts[..k], &bucket);
        }
        if meta.kind != FileKind::Dir && meta.nlink > 1 {
            self.linked.push(Linked {
                dev: meta.dev,
                ino: meta.ino,
                bucket,
                meta: *meta,
            });
        } else {
            self.buckets
                .entry(bucket)
                .or_insert_with(|| Usage::empty(true))
                .add_entry(meta);
        }
    }

    /// A directory on another filesystem: not counted, not entered.
    pub fn mount_point(&mut self, rel: String) {
        self.mounts.push(rel);
    }

    /// The result, as `walk` returns it; `top` is the root directory's own `lstat`.
    pub fn finish(self, top: &Meta, problems: Vec<Problem>) -> WalkResult {
        let Tally {
            mut buckets,
            linked,
            mut mounts,
        } = self;
        settle_links(&mut buckets, linked, true);
        let mut total = Usage::empty(true);
        total.add_entry(top);
        for u in buckets.values() {
            total.add(u);
        }
        mounts.sort();
        WalkResult {
            buckets,
            total,
            mount_points: mounts,
            problems,
        }
    }
}

#[allow(clippy::needless_pass_by_value)] // owned: each job outlives its spawner
fn walk_dir<'s>(
    scope: &rayon::Scope<'s>,
    shared: &'s Shared<'s>,
    dir: Dir<'s>,
    parts: Option<Vec<String>>,
    bucket: Bucket,
) {
    let entries = match dir.entries() {
        Ok(e) => e,
        Err(e) => {
            push_problem(shared, Problem::io(dir.rel(), &e));
            return;
        }
    };
    let dir = std::sync::Arc::new(dir);
    if entries.len() > CHUNK {
        for chunk in entries.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            let dir = std::sync::Arc::clone(&dir);
            let parts = parts.clone();
            let bucket = bucket.clone();
            scope.spawn(move |s| visit_entries(s, shared, &dir, &chunk, parts.as_deref(), &bucket));
        }
    } else {
        visit_entries(scope, shared, &dir, &entries, parts.as_deref(), &bucket);
    }
}

fn visit_entries<'s>(
    scope: &rayon::Scope<'s>,
    shared: &'s Shared<'s>,
    dir: &Dir<'s>,
    entries: &[DirEntry],
    parts: Option<&[String]>,
    bucket: &Bucket,
) {
    // Below the first three path components every entry is in `bucket`: its totals go to
    // `own`, with no per-entry hashing or cloning. Only shallow entries are classified.
    let mut own = Usage::empty(shared.known_disk);
    let mut local: HashMap<Bucket, Usage> = HashMap::new();
    let mut linked = Vec::new();
    let mut bytes = 0u64;
    for e in entries {
        let (child_parts, child_bucket): (Option<Vec<String>>, Option<Bucket>) = match parts {
            Some(parts) => {
                let name = e.name.to_string_lossy();
                let mut p: Vec<&str> = parts.iter().map(String::as_str).collect();
                p.push(&name);
                let b = classify(&p, bucket);
                let deeper = (p.len() < 3).then(|| p.iter().map(|s| (*s).to_owned()).collect());
                (deeper, (b != *bucket).then_some(b))
            }
            None => (None, None),
        };
        let mut add = |m: &Meta| match &child_bucket {
            None => own.add_entry(m),
            Some(b) => local
                .entry(b.clone())
                .or_insert_with(|| Usage::empty(shared.known_disk))
                .add_entry(m),
        };
        if e.kind == Some(FileKind::Dir) {
            match dir.sub(&e.name) {
                Ok(sub) => match sub.meta() {
                    Ok(m) => {
                        if shared.known_disk && m.dev != shared.root_dev {
                            shared
                                .mounts
                                .lock()
                                .map(|mut v| v.push(sub.rel().to_owned()))
                                .ok();
                            continue;
                        }
                        bytes += m.len;
                        add(&m);
                        let b = child_bucket.unwrap_or_else(|| bucket.clone());
                        scope.spawn(move |s| walk_dir(s, shared, sub, child_parts, b));
                    }
                    Err(err) => push_problem(shared, Problem::io(sub.rel(), &err)),
                },
                Err(err) => record_error(shared, dir, &e.name, &err),
            }
            continue;
        }
        match dir.lstat(&e.name) {
            Ok(m) if m.kind == FileKind::Dir => {
                // d_type was unknown: treat as a directory now.
                let again = DirEntry {
                    name: e.name.clone(),
                    kind: Some(FileKind::Dir),
                };
                visit_entries(
                    scope,
                    shared,
                    dir,
                    std::slice::from_ref(&again),
                    parts,
                    bucket,
                );
            }
            Ok(m) => {
                bytes += m.len;
                if m.nlink > 1 {
                    linked.push(Linked {
                        dev: m.dev,
                        ino: m.ino,
                        bucket: child_bucket.unwrap_or_else(|| bucket.clone()),
                        meta: m,
                    });
                } else {
                    add(&m);
                }
            }
            Err(err) => record_error(shared, dir, &e.name, &err),
        }
    }
    if let Some(p) = shared.progress {
        p.entries.fetch_add(entries.len() as u64, Ordering::Relaxed);
        p.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    if let Ok(mut out) = shared.out.lock() {
        if own.files + own.dirs > 0 {
            out.entry(bucket.clone())
                .or_insert_with(|| Usage::empty(shared.known_disk))
                .add(&own);
        }
        for (b, u) in local {
            out.entry(b)
                .or_insert_with(|| Usage::empty(shared.known_disk))
                .add(&u);
        }
    }
    if !linked.is_empty() {
        if let Ok(mut l) = shared.linked.lock() {
            l.extend(linked);
        }
    }
}

fn record_error(shared: &Shared<'_>, dir: &Dir<'_>, name: &OsStr, err: &std::io::Error) {
    let mut p = Problem::io(dir.rel_of(name), err);
    if err.kind() == std::io::ErrorKind::NotFound {
        p.kind = ProblemKind::Unreadable;
        p.detail = "vanished during the walk".into();
    }
    push_problem(shared, p);
}

fn push_problem(shared: &Shared<'_>, p: Problem) {
    if let Ok(mut v) = shared.problems.lock() {
        v.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_follow_docker_ownership() {
        let top = Bucket::Area(String::new());
        let id = "a".repeat(64);
        assert_eq!(
            classify(&["overlay2"], &top),
            Bucket::Area("overlay2".into())
        );
        assert_eq!(
            classify(&["overlay2", &id], &top),
            Bucket::LayerRest(id.clone())
        );
        assert_eq!(
            classify(&["overlay2", &id, "diff"], &top),
            Bucket::LayerDiff(id.clone())
        );
        let rest = Bucket::LayerRest(id.clone());
        assert_eq!(classify(&["overlay2", &id, "work"], &rest), rest);
        assert_eq!(
            classify(&["overlay2", "l"], &top),
            Bucket::Area(String::new())
        );
        let log = format!("{id}-json.log.1");
        assert_eq!(
            classify(&["containers", &id, &log], &top),
            Bucket::ContainerLog(id.clone())
        );
        assert_eq!(
            classify(&["volumes", "v", "_data"], &top),
            Bucket::VolumeData("v".into())
        );
        assert_eq!(
            classify(&["volumes", "metadata.db"], &top),
            Bucket::Area(String::new())
        );
    }
}
