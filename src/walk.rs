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
use crate::root::{DataRoot, Dir, FileKind, Listing, Meta};
use crate::scan::containerd::OVERLAYFS;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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
    /// containerd's root: `io.containerd.snapshotter.v1.overlayfs/snapshots/<n>/` except
    /// `fs/` (`work/`, the dir itself).
    SnapshotRest(String),
    /// containerd's root: `io.containerd.snapshotter.v1.overlayfs/snapshots/<n>/fs`.
    SnapshotFs(String),
}

/// Which tree a walk measures: its buckets follow that tree's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tree {
    /// A Docker data root (`overlay2/`, `containers/`, `volumes/`).
    Docker,
    /// containerd's root (the overlayfs snapshotter's `snapshots/<n>`).
    Containerd,
}

impl Tree {
    /// How many leading path components decide an entry's bucket.
    fn depth(self) -> usize {
        match self {
            Tree::Docker => 3,
            Tree::Containerd => 4,
        }
    }
}

impl Bucket {
    /// The top-level area the bucket is part of.
    pub fn area(&self) -> &str {
        match self {
            Bucket::Area(a) => a,
            Bucket::LayerDiff(_) | Bucket::LayerRest(_) => "overlay2",
            Bucket::ContainerDir(_) | Bucket::ContainerLog(_) => "containers",
            Bucket::VolumeData(_) | Bucket::VolumeRest(_) => "volumes",
            Bucket::SnapshotRest(_) | Bucket::SnapshotFs(_) => OVERLAYFS,
        }
    }

    /// The path (relative to the root) of the directory the bucket measures; a
    /// container's logs are inside its dir.
    pub fn path(&self) -> String {
        match self {
            Bucket::Area(a) => a.clone(),
            Bucket::LayerRest(id) => format!("overlay2/{id}"),
            Bucket::LayerDiff(id) => format!("overlay2/{id}/diff"),
            Bucket::ContainerDir(id) | Bucket::ContainerLog(id) => format!("containers/{id}"),
            Bucket::VolumeRest(n) => format!("volumes/{n}"),
            Bucket::VolumeData(n) => format!("volumes/{n}/_data"),
            Bucket::SnapshotRest(n) => format!("{OVERLAYFS}/snapshots/{n}"),
            Bucket::SnapshotFs(n) => format!("{OVERLAYFS}/snapshots/{n}/fs"),
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
    /// Count one entry; `false` (and nothing counted) when a total would pass 2^64.
    fn add_entry(&mut self, m: &Meta) -> bool {
        self.add_sized(m.kind, m.len, m.disk)
    }

    /// [`Usage::add_entry`] from the entry's kind, length and allocated bytes.
    fn add_sized(&mut self, kind: FileKind, len: u64, disk: Option<u64>) -> bool {
        let file = kind != FileKind::Dir;
        let sized = matches!(kind, FileKind::File | FileKind::Symlink);
        let (Some(apparent), Some(size), Some(disk)) = (
            self.apparent_bytes.checked_add(len),
            if sized {
                self.size.checked_add(len)
            } else {
                Some(self.size)
            },
            match (self.disk_bytes, disk) {
                (Some(a), Some(b)) => a.checked_add(b).map(Some),
                _ => Some(None),
            },
        ) else {
            return false;
        };
        self.apparent_bytes = apparent;
        self.size = size;
        self.disk_bytes = disk;
        if file {
            self.files += 1;
        } else {
            self.dirs += 1;
        }
        true
    }

    /// Add another usage; `false` (and nothing added) when a total would pass 2^64.
    pub fn add(&mut self, o: &Usage) -> bool {
        let (Some(apparent), Some(size), Some(disk)) = (
            self.apparent_bytes.checked_add(o.apparent_bytes),
            self.size.checked_add(o.size),
            match (self.disk_bytes, o.disk_bytes) {
                (Some(a), Some(b)) => a.checked_add(b).map(Some),
                _ => Some(None),
            },
        ) else {
            return false;
        };
        self.apparent_bytes = apparent;
        self.size = size;
        self.disk_bytes = disk;
        self.files = self.files.saturating_add(o.files);
        self.dirs = self.dirs.saturating_add(o.dirs);
        self.hardlinks_folded = self.hardlinks_folded.saturating_add(o.hardlinks_folded);
        true
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
    /// Buckets in which a read failed (EMFILE, EIO, EACCES, an entry that vanished, a
    /// total beyond 2^64): their totals are short. Use [`WalkResult::incomplete`], which
    /// also counts failures in the directories above a bucket.
    pub incomplete: BTreeSet<Bucket>,
    /// The paths (relative to the root) whose read failed, sorted; each is also named by
    /// a problem in `problems`.
    pub incomplete_paths: Vec<String>,
}

impl WalkResult {
    /// True when `bucket`'s totals cannot be trusted: a read failed inside it, or a
    /// directory above it (its area, the root) could not be read, so the bucket may be
    /// short or absent from `buckets` altogether. A report must not call such a bucket's
    /// space reclaimable or unused; it says "cannot judge" and names the failed paths
    /// (`incomplete_paths`, `problems`). The walk never retries a failed read: the same
    /// failure gives the same (incomplete) answer.
    pub fn incomplete(&self, bucket: &Bucket) -> bool {
        self.incomplete.contains(bucket) || self.incomplete_at(&bucket.path())
    }

    /// True when a read failed at `rel` (relative to the root), below it, or in a
    /// directory above it.
    pub fn incomplete_at(&self, rel: &str) -> bool {
        self.incomplete_paths.iter().any(|p| {
            p.is_empty()
                || p == rel
                || rel
                    .strip_prefix(p.as_str())
                    .is_some_and(|r| r.starts_with('/'))
                || p.strip_prefix(rel).is_some_and(|r| r.starts_with('/'))
                || rel.is_empty()
        })
    }
}

/// Live counters for a progress line.
#[derive(Default)]
pub struct Progress {
    pub entries: AtomicU64,
    pub bytes: AtomicU64,
}

/// One directory entry seen with more than one link: settled after the walk. Kept
/// small (there can be millions): what the totals need, and the bucket shared.
struct Linked {
    dev: u64,
    ino: u64,
    bucket: Arc<Bucket>,
    kind: FileKind,
    len: u64,
    disk: Option<u64>,
}

impl Linked {
    fn new(m: &Meta, bucket: Arc<Bucket>) -> Linked {
        Linked {
            dev: m.dev,
            ino: m.ino,
            bucket,
            kind: m.kind,
            len: m.len,
            disk: m.disk,
        }
    }
}

struct Shared<'p> {
    root: &'p DataRoot,
    tree: Tree,
    known_disk: bool,
    root_dev: u64,
    out: Mutex<HashMap<Bucket, Usage>>,
    linked: Mutex<Vec<Linked>>,
    mounts: Mutex<Vec<String>>,
    problems: Mutex<Vec<Problem>>,
    incomplete: Mutex<Vec<(Bucket, String)>>,
    progress: Option<&'p Progress>,
}

/// Directories with more entries than this are split across threads.
const CHUNK: usize = 2048;

/// How many directory file descriptors the walks of this process keep open for their
/// pending subdirectories, all walks together. Beyond it a subdirectory is reopened from
/// its nearest kept ancestor, one `openat` per path component. Besides these, each
/// running job holds one descriptor (two while reopening), so the walk needs at most
/// `budget + 2 * threads` descriptors whatever the width or depth of the tree.
fn fd_budget() -> &'static AtomicUsize {
    static BUDGET: OnceLock<AtomicUsize> = OnceLock::new();
    BUDGET.get_or_init(|| {
        // A quarter of the soft limit, leaving the rest to the scan beside the walk.
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(1024);
        AtomicUsize::new(usize::try_from(soft / 4).unwrap_or(1024).clamp(8, 1024))
    })
}

fn take_token() -> bool {
    fd_budget()
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

/// A directory kept open for its subdirectories, holding one unit of the budget.
struct Held<'s> {
    dir: Dir<'s>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        fd_budget().fetch_add(1, Ordering::AcqRel);
    }
}

/// How to reach a directory: from a kept ancestor (or the root when none), through
/// `suffix`. Dropping the last anchor of a kept directory closes it.
#[derive(Clone)]
struct Anchor<'s> {
    held: Option<Arc<Held<'s>>>,
    suffix: Vec<OsString>,
}

impl<'s> Anchor<'s> {
    /// The path (relative to the root) of the directory this anchor reaches: for
    /// messages only, so made when one is needed.
    fn rel(&self) -> String {
        let mut rel = self
            .held
            .as_ref()
            .map_or_else(String::new, |h| h.dir.rel().to_owned());
        for name in &self.suffix {
            if !rel.is_empty() {
                rel.push('/');
            }
            rel.push_str(&name.to_string_lossy());
        }
        rel
    }

    fn child(&self, name: &OsStr) -> Anchor<'s> {
        let mut suffix = Vec::with_capacity(self.suffix.len() + 1);
        suffix.extend(self.suffix.iter().cloned());
        suffix.push(name.to_owned());
        Anchor {
            held: self.held.clone(),
            suffix,
        }
    }

    fn open(&self, root: &'s DataRoot) -> std::io::Result<Dir<'s>> {
        let (mut cur, rest) = match (&self.held, self.suffix.split_first()) {
            (Some(h), Some((first, rest))) => (h.dir.sub(first)?, rest),
            // Callers use a kept directory itself without reopening it.
            (Some(_), None) => {
                return Err(std::io::Error::other("no path to reopen a kept directory"))
            }
            (None, _) => (root.top()?, &self.suffix[..]),
        };
        for name in rest {
            cur = cur.sub(name)?;
        }
        Ok(cur)
    }
}

fn is_log(container: &str, name: &str) -> bool {
    name == "container-cached.log"
        || name == "local-logs"
        || name
            .strip_prefix(container)
            .is_some_and(|rest| rest.starts_with("-json.log"))
}

/// The bucket of an entry from its path components (only the first `tree.depth()`
/// matter).
fn classify(tree: Tree, parts: &[&str], inherited: &Bucket) -> Bucket {
    match tree {
        Tree::Docker => classify_docker(parts, inherited),
        Tree::Containerd => classify_containerd(parts, inherited),
    }
}

/// containerd's root: one area per top-level entry; the overlayfs snapshotter's
/// snapshot dirs and their `fs/` apart (as overlay2's layer dirs and their `diff/`).
fn classify_containerd(parts: &[&str], inherited: &Bucket) -> Bucket {
    match parts {
        [area] => Bucket::Area((*area).to_owned()),
        [OVERLAYFS, "snapshots", n] => Bucket::SnapshotRest((*n).to_owned()),
        [OVERLAYFS, "snapshots", n, "fs"] => Bucket::SnapshotFs((*n).to_owned()),
        _ => inherited.clone(),
    }
}

/// A Docker root's buckets (only the first three components matter).
fn classify_docker(parts: &[&str], inherited: &Bucket) -> Bucket {
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
    let parts: Vec<String> = rel
        .split('/')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    // The bucket of the start dir, as the full walk would have classified it.
    let mut start_bucket = Bucket::Area(String::new());
    let p: Vec<&str> = parts.iter().map(String::as_str).collect();
    for k in 1..=p.len().min(Tree::Docker.depth()) {
        start_bucket = classify(Tree::Docker, &p[..k], &start_bucket);
    }
    let anchor = Anchor {
        held: None,
        suffix: parts.iter().map(OsString::from).collect(),
    };
    let start = match anchor.open(root) {
        Ok(t) => t,
        Err(e) => {
            return WalkResult {
                buckets: HashMap::new(),
                total: Usage::empty(known_disk),
                mount_points: Vec::new(),
                problems: vec![Problem::io(rel, &e)],
                incomplete: BTreeSet::from([start_bucket]),
                incomplete_paths: vec![rel.to_owned()],
            };
        }
    };
    walk_opened(
        root,
        Tree::Docker,
        rel,
        start,
        anchor,
        parts,
        start_bucket,
        progress,
    )
}

/// Walk a whole tree once, its buckets following `tree`'s layout (containerd's root:
/// [`Bucket::SnapshotRest`], [`Bucket::SnapshotFs`], an [`Bucket::Area`] per top-level
/// entry). The root directory itself counts in `total`.
pub fn walk_tree(root: &DataRoot, tree: Tree, progress: Option<&Progress>) -> WalkResult {
    if tree == Tree::Docker {
        return walk(root, progress);
    }
    let start = match root.top() {
        Ok(t) => t,
        Err(e) => {
            return WalkResult {
                buckets: HashMap::new(),
                total: Usage::empty(root.sizes_known()),
                mount_points: Vec::new(),
                problems: vec![Problem::io("", &e)],
                incomplete: BTreeSet::from([Bucket::Area(String::new())]),
                incomplete_paths: vec![String::new()],
            };
        }
    };
    let anchor = Anchor {
        held: None,
        suffix: Vec::new(),
    };
    walk_opened(
        root,
        tree,
        "",
        start,
        anchor,
        Vec::new(),
        Bucket::Area(String::new()),
        progress,
    )
}

/// `walk_from` once the start directory is open; `anchor` reopens it from the root
/// (its path components `parts`) when the fd budget is spent.
#[allow(clippy::too_many_arguments)]
fn walk_opened<'r>(
    root: &'r DataRoot,
    tree: Tree,
    rel: &str,
    start: Dir<'r>,
    anchor: Anchor<'r>,
    parts: Vec<String>,
    start_bucket: Bucket,
    progress: Option<&Progress>,
) -> WalkResult {
    let known_disk = root.sizes_known();
    let mut problems = Vec::new();
    let mut incomplete = Vec::new();
    let start_meta = match start.meta() {
        Ok(m) => Some(m),
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            incomplete.push((start_bucket.clone(), rel.to_owned()));
            None
        }
    };
    let shared = Shared {
        root,
        tree,
        known_disk,
        root_dev: start_meta.map_or(0, |m| m.dev),
        out: Mutex::new(HashMap::new()),
        linked: Mutex::new(Vec::new()),
        mounts: Mutex::new(Vec::new()),
        problems: Mutex::new(problems),
        incomplete: Mutex::new(incomplete),
        progress,
    };
    let parts = (parts.len() < tree.depth()).then_some(parts);
    rayon::scope(|s| {
        let shared = &shared;
        s.spawn(move |s| walk_dir(s, shared, start, anchor, parts, Arc::new(start_bucket)));
    });
    let Shared {
        out,
        linked,
        mounts,
        problems,
        incomplete,
        ..
    } = shared;
    let mut buckets = out.into_inner().unwrap_or_default();
    let mut problems = problems.into_inner().unwrap_or_default();
    let mut incomplete = incomplete.into_inner().unwrap_or_default();
    settle_links(
        &mut buckets,
        linked.into_inner().unwrap_or_default(),
        known_disk,
        &mut problems,
        &mut incomplete,
    );
    let mut total = Usage::empty(known_disk);
    if let Some(m) = start_meta {
        total.add_entry(&m);
    }
    add_buckets(&mut total, &buckets, &mut problems, &mut incomplete);
    let mut mount_points = mounts.into_inner().unwrap_or_default();
    mount_points.sort();
    problems.sort();
    problems.dedup();
    let mut incomplete_paths: Vec<String> = incomplete.iter().map(|(_, p)| p.clone()).collect();
    incomplete_paths.sort();
    incomplete_paths.dedup();
    WalkResult {
        buckets,
        total,
        mount_points,
        problems,
        incomplete: incomplete.into_iter().map(|(b, _)| b).collect(),
        incomplete_paths,
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

/// A path's index among those asked for, and what it holds.
type Measured = (usize, (Usage, Vec<Problem>));

/// `measure` of many paths, in their order: the paths that share a parent directory
/// are measured from one open of it (instead of one open per path component each).
pub fn measure_many(root: &DataRoot, rels: &[&str]) -> Vec<(Usage, Vec<Problem>)> {
    use rayon::prelude::*;
    /// Paths measured from one open of their parent.
    const GROUP: usize = 256;
    let known_disk = root.sizes_known();
    let mut order: Vec<usize> = (0..rels.len()).collect();
    order.sort_by_key(|&i| (parent_of(rels[i]), i));
    let mut groups: Vec<&[usize]> = Vec::new();
    let mut rest = &order[..];
    while let Some(&first) = rest.first() {
        let parent = parent_of(rels[first]);
        let same = rest
            .iter()
            .take(GROUP)
            .take_while(|&&i| parent_of(rels[i]) == parent)
            .count();
        let (g, r) = rest.split_at(same);
        groups.push(g);
        rest = r;
    }
    let measured: Vec<Vec<Measured>> = groups
        .par_iter()
        .map(|g| {
            let parent_rel = parent_of(rels[g[0]]);
            let mut out = Vec::with_capacity(g.len());
            let Some(Ok(parent)) = parent_rel.map(|p| root.dir(p)) else {
                // The root itself, or a parent that cannot be opened: one by one, as
                // `measure` does (it names the problem on each path).
                for &i in *g {
                    out.push((i, measure(root, rels[i])));
                }
                return out;
            };
            for &i in *g {
                let rel = rels[i];
                let name = OsStr::new(rel.rsplit('/').next().unwrap_or(rel));
                let r = match parent.lstat(name) {
                    Ok(m) if m.kind == FileKind::Dir => match parent.sub(name) {
                        Ok(d) => {
                            let parts: Vec<String> = rel
                                .split('/')
                                .filter(|p| !p.is_empty())
                                .map(str::to_owned)
                                .collect();
                            let p: Vec<&str> = parts.iter().map(String::as_str).collect();
                            let anchor = Anchor {
                                held: None,
                                suffix: parts.iter().map(OsString::from).collect(),
                            };
                            let w = walk_opened(
                                root,
                                Tree::Docker,
                                rel,
                                d,
                                anchor,
                                parts.clone(),
                                bucket_of(&p),
                                None,
                            );
                            (w.total, w.problems)
                        }
                        Err(e) => (Usage::empty(known_disk), vec![Problem::io(rel, &e)]),
                    },
                    Ok(m) => {
                        let mut u = Usage::empty(known_disk);
                        u.add_entry(&m);
                        (u, Vec::new())
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        (Usage::empty(known_disk), Vec::new())
                    }
                    Err(e) => (Usage::empty(known_disk), vec![Problem::io(rel, &e)]),
                };
                out.push((i, r));
            }
            out
        })
        .collect();
    let mut all: Vec<Option<(Usage, Vec<Problem>)>> = (0..rels.len()).map(|_| None).collect();
    for (i, r) in measured.into_iter().flatten() {
        all[i] = Some(r);
    }
    all.into_iter()
        .map(|r| r.unwrap_or_else(|| (Usage::empty(known_disk), Vec::new())))
        .collect()
}

/// The parent of a plain relative path with at least two components (`None` for a name
/// at the top, or a path with empty components, which `measure` takes one by one).
fn parent_of(rel: &str) -> Option<&str> {
    let (parent, name) = rel.rsplit_once('/')?;
    (!parent.is_empty() && !name.is_empty() && !parent.split('/').any(str::is_empty))
        .then_some(parent)
}

/// Add every bucket to `total`. When a sum would pass 2^64, the buckets are added in
/// their sorted order, so that the same ones are left out (and named) whatever the
/// map's order; when none can, the order changes nothing and no sort is needed.
fn add_buckets(
    total: &mut Usage,
    buckets: &HashMap<Bucket, Usage>,
    problems: &mut Vec<Problem>,
    incomplete: &mut Vec<(Bucket, String)>,
) {
    let mut wide = [
        u128::from(total.apparent_bytes),
        u128::from(total.size),
        u128::from(total.disk_bytes.unwrap_or(0)),
    ];
    for u in buckets.values() {
        wide[0] += u128::from(u.apparent_bytes);
        wide[1] += u128::from(u.size);
        wide[2] += u128::from(u.disk_bytes.unwrap_or(0));
    }
    if wide.iter().all(|&w| w <= u128::from(u64::MAX)) {
        for u in buckets.values() {
            total.add(u);
        }
        return;
    }
    let mut keys: Vec<&Bucket> = buckets.keys().collect();
    keys.sort();
    for b in keys {
        if !total.add(&buckets[b]) {
            problems.push(overflow_problem(&b.path()));
            incomplete.push((b.clone(), b.path()));
        }
    }
}

fn overflow_problem(rel: &str) -> Problem {
    Problem::new(
        rel,
        ProblemKind::TooLarge,
        "sizes here add up beyond 2^64 bytes; the total is not counted",
    )
}

/// Each inode with several names counts once, in the smallest bucket that holds one of
/// its names; every other name is a folded link of the bucket it sits in.
fn settle_links(
    buckets: &mut HashMap<Bucket, Usage>,
    mut linked: Vec<Linked>,
    known_disk: bool,
    problems: &mut Vec<Problem>,
    incomplete: &mut Vec<(Bucket, String)>,
) {
    // Sorted by inode (the names of one inode side by side, read in order); within an
    // inode, the owner is its smallest bucket, whatever the order of its names.
    {
        use rayon::slice::ParallelSliceMut;
        linked.par_sort_unstable_by_key(|l| (l.dev, l.ino));
    }
    // Each bucket's share gathered apart first, keyed by the bucket's allocation (one
    // per subtree, shared by its entries), then added to `buckets` once per bucket: no
    // key copied or hashed per name.
    let mut slot_of = crate::model::ids::FastMap::<usize, usize>::default();
    let mut slots: Vec<(Arc<Bucket>, Usage, bool)> = Vec::new();
    let mut slot = |b: &Arc<Bucket>, slots: &mut Vec<(Arc<Bucket>, Usage, bool)>| -> usize {
        *slot_of.entry(Arc::as_ptr(b) as usize).or_insert_with(|| {
            slots.push((Arc::clone(b), Usage::empty(known_disk), true));
            slots.len() - 1
        })
    };
    for group in linked.chunk_by(|a, b| (a.dev, a.ino) == (b.dev, b.ino)) {
        let owner = (0..group.len())
            .min_by(|&a, &b| {
                let (a, b) = (&group[a].bucket, &group[b].bucket);
                if Arc::ptr_eq(a, b) {
                    std::cmp::Ordering::Equal
                } else {
                    a.cmp(b)
                }
            })
            .unwrap_or(0);
        let first = &group[owner];
        let n = slot(&first.bucket, &mut slots);
        let (_, u, ok) = &mut slots[n];
        if !u.add_sized(first.kind, first.len, first.disk) {
            *ok = false;
        }
        for (k, l) in group.iter().enumerate() {
            if k == owner {
                continue;
            }
            let n = slot(&l.bucket, &mut slots);
            let u = &mut slots[n].1;
            u.hardlinks_folded = u.hardlinks_folded.saturating_add(1);
        }
    }
    for (b, u, ok) in slots {
        let added = buckets
            .entry(Bucket::clone(&b))
            .or_insert_with(|| Usage::empty(known_disk))
            .add(&u);
        if !(ok && added) {
            problems.push(overflow_problem(&b.path()));
            incomplete.push((Bucket::clone(&b), b.path()));
        }
    }
}

/// The walk's totals fed one entry at a time by a caller that visits the entries itself
/// (`dockscope capture`, which stats each entry once for its archive): the same buckets,
/// hard-link rule, mount-point rule and overflow checks as `walk`.
pub struct Tally {
    buckets: HashMap<Bucket, Usage>,
    linked: Vec<Linked>,
    mounts: Vec<String>,
    problems: Vec<Problem>,
    incomplete: Vec<(Bucket, String)>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally::new()
    }
}

fn bucket_of(parts: &[&str]) -> Bucket {
    let mut bucket = Bucket::Area(String::new());
    for k in 1..=parts.len().min(Tree::Docker.depth()) {
        bucket = classify(Tree::Docker, &parts[..k], &bucket);
    }
    bucket
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            buckets: HashMap::new(),
            linked: Vec::new(),
            mounts: Vec::new(),
            problems: Vec::new(),
            incomplete: Vec::new(),
        }
    }

    /// One entry below the top, by its path components; `meta` as `lstat` gave it.
    pub fn add(&mut self, parts: &[&str], meta: &Meta) {
        let bucket = bucket_of(parts);
        if meta.kind != FileKind::Dir && meta.nlink > 1 {
            self.linked.push(Linked::new(meta, Arc::new(bucket)));
        } else if !self
            .buckets
            .entry(bucket.clone())
            .or_insert_with(|| Usage::empty(true))
            .add_entry(meta)
        {
            self.problems.push(overflow_problem(&bucket.path()));
            self.incomplete.push((bucket.clone(), bucket.path()));
        }
    }

    /// An entry whose read failed (the caller names it in a problem): its bucket is
    /// short, as in `walk`.
    pub fn failed(&mut self, parts: &[&str], rel: String) {
        self.incomplete.push((bucket_of(parts), rel));
    }

    /// A directory on another filesystem: not counted, not entered.
    pub fn mount_point(&mut self, rel: String) {
        self.mounts.push(rel);
    }

    /// The result, as `walk` returns it; `top` is the root directory's own `lstat`.
    pub fn finish(self, top: &Meta) -> WalkResult {
        let Tally {
            mut buckets,
            linked,
            mut mounts,
            mut problems,
            mut incomplete,
        } = self;
        settle_links(&mut buckets, linked, true, &mut problems, &mut incomplete);
        let mut total = Usage::empty(true);
        total.add_entry(top);
        add_buckets(&mut total, &buckets, &mut problems, &mut incomplete);
        mounts.sort();
        problems.sort();
        problems.dedup();
        let mut incomplete_paths: Vec<String> = incomplete.iter().map(|(_, p)| p.clone()).collect();
        incomplete_paths.sort();
        incomplete_paths.dedup();
        WalkResult {
            buckets,
            total,
            mount_points: mounts,
            problems,
            incomplete: incomplete.into_iter().map(|(b, _)| b).collect(),
            incomplete_paths,
        }
    }
}

/// One directory, open: list it, then visit its entries (split across jobs when large).
/// `anchor` is how the directory was reached; it is kept for the subdirectories only
/// when the directory itself cannot be (budget spent).
#[allow(clippy::needless_pass_by_value)] // owned: each job outlives its spawner
fn walk_dir<'s>(
    scope: &rayon::Scope<'s>,
    shared: &'s Shared<'s>,
    dir: Dir<'s>,
    anchor: Anchor<'s>,
    parts: Option<Vec<String>>,
    bucket: Arc<Bucket>,
) {
    let entries = match dir.list() {
        Ok(e) => e,
        Err(e) => {
            fail(shared, dir.rel().to_owned(), &bucket, &e);
            return;
        }
    };
    let n = entries.len();
    let needs_fd =
        n > CHUNK || (0..n).any(|i| matches!(entries.kind(i), None | Some(FileKind::Dir)));
    // Keep this directory open for what runs after this job only within the budget;
    // otherwise later jobs reopen it from `anchor` (which keeps its own kept ancestor).
    let (base, local) = if needs_fd && take_token() {
        drop(anchor); // the parent may close now
        (
            Anchor {
                held: Some(Arc::new(Held { dir })),
                suffix: Vec::new(),
            },
            None,
        )
    } else {
        (anchor, Some(dir))
    };
    let dir_ref: &Dir<'s> = match (&local, &base.held) {
        (Some(d), _) => d,
        (None, Some(h)) => &h.dir,
        (None, None) => unreachable!("a directory is either local or kept"),
    };
    if n > CHUNK {
        let entries = Arc::new(entries);
        for start in (0..n).step_by(CHUNK) {
            let entries = Arc::clone(&entries);
            let base = base.clone();
            let parts = parts.clone();
            let bucket = Arc::clone(&bucket);
            let rel = dir_ref.rel().to_owned();
            scope.spawn(move |s| {
                let end = (start + CHUNK).min(entries.len());
                let own;
                let dir = if let (Some(h), true) = (&base.held, base.suffix.is_empty()) {
                    &h.dir
                } else {
                    match base.open(shared.root) {
                        Ok(d) => {
                            own = d;
                            &own
                        }
                        Err(e) => {
                            fail(shared, rel, &bucket, &e);
                            return;
                        }
                    }
                };
                visit_entries(
                    s,
                    shared,
                    dir,
                    &base,
                    &entries,
                    start..end,
                    parts.as_deref(),
                    &bucket,
                );
            });
        }
    } else {
        visit_entries(
            scope,
            shared,
            dir_ref,
            &base,
            &entries,
            0..n,
            parts.as_deref(),
            &bucket,
        );
    }
}

/// A subdirectory's job: open it (through its anchor), then walk it.
#[allow(clippy::needless_pass_by_value)]
fn sub_job<'s>(
    scope: &rayon::Scope<'s>,
    shared: &'s Shared<'s>,
    anchor: Anchor<'s>,
    parts: Option<Vec<String>>,
    bucket: Arc<Bucket>,
) {
    match anchor.open(shared.root) {
        Ok(dir) => walk_dir(scope, shared, dir, anchor, parts, bucket),
        Err(e) => fail(shared, anchor.rel(), &bucket, &e),
    }
}

#[allow(clippy::too_many_arguments)]
fn visit_entries<'s>(
    scope: &rayon::Scope<'s>,
    shared: &'s Shared<'s>,
    dir: &Dir<'s>,
    base: &Anchor<'s>,
    entries: &Listing,
    range: std::ops::Range<usize>,
    parts: Option<&[String]>,
    bucket: &Arc<Bucket>,
) {
    // Below the first `tree.depth()` path components every entry is in `bucket`: its totals go to
    // `own`, with no per-entry hashing or cloning. Only shallow entries are classified.
    let mut own = Usage::empty(shared.known_disk);
    let mut local: HashMap<Bucket, Usage> = HashMap::new();
    let mut linked = Vec::new();
    let mut bytes = 0u64;
    let mut overflow: Vec<Bucket> = Vec::new();
    let count = range.len();
    for i in range {
        let name = entries.name(i);
        let (child_parts, child_bucket): (Option<Vec<String>>, Option<Arc<Bucket>>) = match parts {
            Some(parts) => {
                let name = name.to_string_lossy();
                let mut p: Vec<&str> = parts.iter().map(String::as_str).collect();
                p.push(&name);
                let b = classify(shared.tree, &p, bucket);
                let deeper = (p.len() < shared.tree.depth())
                    .then(|| p.iter().map(|s| (*s).to_owned()).collect());
                (deeper, (b != **bucket).then(|| Arc::new(b)))
            }
            None => (None, None),
        };
        let m = match dir.lstat_listed(entries, i) {
            Ok(m) => m,
            Err(err) => {
                let b = child_bucket.as_ref().unwrap_or(bucket);
                record_error(shared, dir, name, b, &err);
                continue;
            }
        };
        if m.kind == FileKind::Dir && shared.known_disk && m.dev != shared.root_dev {
            shared
                .mounts
                .lock()
                .map(|mut v| v.push(dir.rel_of(name)))
                .ok();
            continue;
        }
        bytes = bytes.saturating_add(m.len);
        if m.kind != FileKind::Dir && m.nlink > 1 {
            linked.push(Linked::new(
                &m,
                child_bucket.unwrap_or_else(|| Arc::clone(bucket)),
            ));
            continue;
        }
        let ok = match &child_bucket {
            None => own.add_entry(&m),
            Some(b) => local
                .entry(Bucket::clone(b))
                .or_insert_with(|| Usage::empty(shared.known_disk))
                .add_entry(&m),
        };
        if !ok {
            overflow.push(Bucket::clone(child_bucket.as_ref().unwrap_or(bucket)));
        }
        if m.kind == FileKind::Dir {
            let b = child_bucket.unwrap_or_else(|| Arc::clone(bucket));
            let anchor = base.child(name);
            scope.spawn(move |s| sub_job(s, shared, anchor, child_parts, b));
        }
    }
    if let Some(p) = shared.progress {
        p.entries.fetch_add(count as u64, Ordering::Relaxed);
        p.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    if let Ok(mut out) = shared.out.lock() {
        // Looked up before inserting: most jobs add to a bucket already there, and a
        // bucket's key is only copied once.
        let added = own.files + own.dirs == 0
            || if let Some(u) = out.get_mut(&**bucket) {
                u.add(&own)
            } else {
                let mut u = Usage::empty(shared.known_disk);
                let ok = u.add(&own);
                out.insert(Bucket::clone(bucket), u);
                ok
            };
        if !added {
            overflow.push(Bucket::clone(bucket));
        }
        for (b, u) in local {
            if !out
                .entry(b.clone())
                .or_insert_with(|| Usage::empty(shared.known_disk))
                .add(&u)
            {
                overflow.push(b);
            }
        }
    }
    for b in overflow {
        push_problem(shared, overflow_problem(&b.path()));
        mark(shared, b.clone(), b.path());
    }
    if !linked.is_empty() {
        if let Ok(mut l) = shared.linked.lock() {
            l.extend(linked);
        }
    }
}

fn record_error(
    shared: &Shared<'_>,
    dir: &Dir<'_>,
    name: &OsStr,
    bucket: &Bucket,
    err: &std::io::Error,
) {
    fail(shared, dir.rel_of(name), bucket, err);
}

/// A read that failed: a problem naming the path, and its bucket marked incomplete.
/// Never retried: the answer says what could not be read instead of guessing.
fn fail(shared: &Shared<'_>, rel: String, bucket: &Bucket, err: &std::io::Error) {
    let mut p = Problem::io(rel.clone(), err);
    if err.kind() == std::io::ErrorKind::NotFound {
        p.kind = ProblemKind::Unreadable;
        p.detail = "vanished during the walk".into();
    }
    push_problem(shared, p);
    mark(shared, bucket.clone(), rel);
}

fn mark(shared: &Shared<'_>, bucket: Bucket, rel: String) {
    if let Ok(mut v) = shared.incomplete.lock() {
        v.push((bucket, rel));
    }
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
    fn totals_past_2_64_leave_out_the_same_buckets_in_any_order() {
        let sized = |apparent: u64| Usage {
            disk_bytes: Some(apparent / 2),
            apparent_bytes: apparent,
            size: apparent,
            files: 1,
            ..Usage::default()
        };
        let big = u64::MAX / 2 + 1;
        let names = ["a", "b", "c"];
        // Two big buckets pass 2^64: the later one in bucket order is left out and
        // named, whatever order the map holds them in.
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut buckets = HashMap::new();
            for &k in &order {
                let u = if k == 1 { sized(7) } else { sized(big) };
                buckets.insert(Bucket::Area(names[k].to_owned()), u);
            }
            let mut total = Usage::empty(true);
            let (mut problems, mut incomplete) = (Vec::new(), Vec::new());
            add_buckets(&mut total, &buckets, &mut problems, &mut incomplete);
            assert_eq!(total.apparent_bytes, big + 7);
            assert_eq!(total.files, 2);
            assert_eq!(incomplete, vec![(Bucket::Area("c".into()), "c".to_owned())]);
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].path, "c");
        }
        // Below 2^64 every bucket counts, with no sort needed.
        let mut buckets = HashMap::new();
        for (k, n) in names.iter().enumerate() {
            buckets.insert(Bucket::Area((*n).to_owned()), sized(1000 * (k as u64 + 1)));
        }
        let mut total = Usage::empty(true);
        let (mut problems, mut incomplete) = (Vec::new(), Vec::new());
        add_buckets(&mut total, &buckets, &mut problems, &mut incomplete);
        assert_eq!(
            (total.apparent_bytes, total.disk_bytes, total.files),
            (6000, Some(3000), 3)
        );
        assert!(problems.is_empty() && incomplete.is_empty());
    }

    #[test]
    fn buckets_follow_docker_ownership() {
        let top = Bucket::Area(String::new());
        let id = "a".repeat(64);
        assert_eq!(
            classify_docker(&["overlay2"], &top),
            Bucket::Area("overlay2".into())
        );
        assert_eq!(
            classify_docker(&["overlay2", &id], &top),
            Bucket::LayerRest(id.clone())
        );
        assert_eq!(
            classify_docker(&["overlay2", &id, "diff"], &top),
            Bucket::LayerDiff(id.clone())
        );
        let rest = Bucket::LayerRest(id.clone());
        assert_eq!(classify_docker(&["overlay2", &id, "work"], &rest), rest);
        assert_eq!(
            classify_docker(&["overlay2", "l"], &top),
            Bucket::Area(String::new())
        );
        let log = format!("{id}-json.log.1");
        assert_eq!(
            classify_docker(&["containers", &id, &log], &top),
            Bucket::ContainerLog(id.clone())
        );
        assert_eq!(
            classify_docker(&["volumes", "v", "_data"], &top),
            Bucket::VolumeData("v".into())
        );
        assert_eq!(
            classify_docker(&["volumes", "metadata.db"], &top),
            Bucket::Area(String::new())
        );
    }

    #[test]
    fn containerd_buckets_follow_snapshots() {
        let top = Bucket::Area(String::new());
        let c = |p: &[&str], b: &Bucket| classify(Tree::Containerd, p, b);
        let area = Bucket::Area(OVERLAYFS.into());
        assert_eq!(c(&[OVERLAYFS], &top), area);
        assert_eq!(c(&[OVERLAYFS, "snapshots"], &area), area);
        assert_eq!(c(&[OVERLAYFS, "metadata.db"], &area), area);
        let rest = Bucket::SnapshotRest("12".into());
        assert_eq!(c(&[OVERLAYFS, "snapshots", "12"], &area), rest);
        assert_eq!(c(&[OVERLAYFS, "snapshots", "12", "work"], &rest), rest);
        assert_eq!(
            c(&[OVERLAYFS, "snapshots", "12", "fs"], &rest),
            Bucket::SnapshotFs("12".into())
        );
        assert_eq!(
            Bucket::SnapshotFs("12".into()).path(),
            format!("{OVERLAYFS}/snapshots/12/fs")
        );
        assert_eq!(Bucket::SnapshotRest("12".into()).area(), OVERLAYFS);
        // The Docker layout's names mean nothing special here.
        assert_eq!(c(&["overlay2"], &top), Bucket::Area("overlay2".into()));
        let native = Bucket::Area("io.containerd.snapshotter.v1.native".into());
        assert_eq!(
            c(
                &["io.containerd.snapshotter.v1.native", "snapshots", "3"],
                &native
            ),
            native
        );
    }
}
