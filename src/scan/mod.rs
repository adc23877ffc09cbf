//! Disk -> records. One parser per area of the root; each record remembers the file it
//! came from, and whatever cannot be read becomes a `Problem`, never a panic. Nothing
//! here prints or interprets: relations between records are the model's job.

pub mod bbolt;
pub mod buildcache;
pub mod buildkit;
pub mod containerd;
pub mod containers;
pub mod driverhints;
pub mod imagedb;
pub mod layerdb;
pub mod layout;
pub mod logs;
pub mod overlay2;
pub mod repositories;
pub mod volumes;

use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir};
use std::ffi::OsStr;
use std::io;

pub use containers::ContainerRec;
pub use imagedb::{ImageMetaRec, ImageRec};
pub use layerdb::{LayerRec, MountRec, RemovingRec, TmpRec};
pub use layout::Layout;
pub use overlay2::{DirRec, LinkRec};
pub use repositories::RefRec;
pub use volumes::VolumeRec;

/// Where the overlay2 image metadata lives, relative to the root.
pub const IMAGE_DIR: &str = "image/overlay2";

/// Id files (`diff`, `cache-id`, `link`, ...) are a few dozen bytes; `lower` at most
/// 128 links. Anything much larger is not Docker's.
pub const SMALL_LIMIT: u64 = 64 << 10;
/// JSON documents (image configs, container configs, repositories.json).
pub const JSON_LIMIT: u64 = 64 << 20;

/// Everything read from one root.
#[derive(Default)]
pub struct Scan {
    pub layout: Layout,
    pub images: Vec<ImageRec>,
    pub image_meta: Vec<ImageMetaRec>,
    pub layers: Vec<LayerRec>,
    pub removing: Vec<RemovingRec>,
    pub mounts: Vec<MountRec>,
    pub layerdb_tmp: Vec<TmpRec>,
    /// Entries of the daemon's download dir (`tmp/`, and `tmp-old/` when a cleanup at
    /// start did not finish), relative to the root.
    pub download_tmp: Vec<String>,
    pub dirs: Vec<DirRec>,
    pub links: Vec<LinkRec>,
    pub refs: Vec<RefRec>,
    pub containers: Vec<ContainerRec>,
    pub volumes: Vec<VolumeRec>,
    /// BuildKit's snapshot keys (`buildkit/snapshots.db`), when the file exists and reads.
    pub buildkit_snapshots: Option<std::collections::HashSet<String>>,
    /// Docker's containerd image store: what containerd's root adds (`None` on a
    /// classic root).
    pub containerd: Option<Box<containerd::records::C8d>>,
    pub problems: Vec<Problem>,
}

/// Scan a whole root whose layout has been found usable.
pub fn scan(root: &DataRoot, layout: Layout) -> Scan {
    let mut s = Scan {
        problems: root.problems().to_vec(),
        ..Scan::default()
    };
    let pool = crate::model::ids::Pool::default();
    let ((images, layers), ((dirs, containers), (refs, volumes))) = rayon::join(
        || rayon::join(|| imagedb::scan(root, &pool), || layerdb::scan(root, &pool)),
        || {
            rayon::join(
                || rayon::join(|| overlay2::scan(root), || containers::scan(root)),
                || rayon::join(|| repositories::scan(root), || volumes::scan(root)),
            )
        },
    );
    (s.images, s.image_meta) = (images.images, images.meta);
    s.problems.extend(images.problems);
    (s.layers, s.removing, s.mounts, s.layerdb_tmp) =
        (layers.layers, layers.removing, layers.mounts, layers.tmp);
    s.problems.extend(layers.problems);
    (s.dirs, s.links) = (dirs.dirs, dirs.links);
    s.problems.extend(dirs.problems);
    s.containers = containers.0;
    s.problems.extend(containers.1);
    s.refs = refs.0;
    s.problems.extend(refs.1);
    s.volumes = volumes.0;
    s.problems.extend(volumes.1);
    let (snapshots, bk_problems) = buildkit::scan(root);
    s.buildkit_snapshots = snapshots;
    s.problems.extend(bk_problems);
    for dir in ["tmp", "tmp-old"] {
        match open_optional(root, dir) {
            Ok(Some(d)) => {
                for name in sorted_names(&d, &mut s.problems) {
                    s.download_tmp.push(format!("{dir}/{name}"));
                }
            }
            Ok(None) => {}
            Err(p) => s.problems.push(p),
        }
    }
    s.layout = layout;
    s.problems.extend(s.layout.problems.iter().cloned());
    s.problems.sort();
    s.problems.dedup();
    s
}

/// Read a small text file of an open directory. `Ok(None)` when it does not exist;
/// otherwise a problem naming the file. Docker writes these without a newline; readers
/// trim surrounding white space as Docker's do (`size` is the exception, see layerdb).
pub fn read_text(dir: &Dir<'_>, name: &str, limit: u64) -> Result<Option<String>, Problem> {
    match dir.read(OsStr::new(name), limit) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => Ok(Some(s)),
            Err(_) => Err(Problem::new(
                dir.rel_of(OsStr::new(name)),
                ProblemKind::Malformed,
                "not UTF-8 text",
            )),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Problem::io(dir.rel_of(OsStr::new(name)), &e)),
    }
}

/// Open a directory that may legitimately be absent (`Ok(None)`).
pub fn open_optional<'r>(root: &'r DataRoot, rel: &str) -> Result<Option<Dir<'r>>, Problem> {
    match root.dir(rel) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Problem::io(rel, &e)),
    }
}

/// The entries of a directory with UTF-8 names, sorted; others become problems.
pub fn sorted_names(dir: &Dir<'_>, problems: &mut Vec<Problem>) -> Vec<String> {
    let entries = match dir.entries() {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::io(dir.rel(), &e));
            return Vec::new();
        }
    };
    let mut names = Vec::with_capacity(entries.len());
    for e in entries {
        match e.name_str() {
            Some(n) => names.push(n.to_owned()),
            None => problems.push(Problem::new(
                dir.rel_of(&e.name),
                ProblemKind::Unexpected,
                "name is not UTF-8; Docker never writes such a name here",
            )),
        }
    }
    names.sort_unstable();
    names
}
