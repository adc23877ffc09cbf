//! `image/overlay2/layerdb`: layers (`sha256/<chain>/`), pending removals
//! (`sha256/<chain>-<rand>-removing`), container mounts (`mounts/<id>/`) and the
//! leftovers of interrupted registrations (`tmp/`).

use super::{open_optional, read_text, sorted_names, IMAGE_DIR, SMALL_LIMIT};
use crate::model::ids::{is_hex64, ChainId, ContainerId, DiffId, Pool};
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir, FileKind};
use rayon::prelude::*;
use std::ffi::OsStr;

/// A committed layer, `layerdb/sha256/<chain>/`.
#[derive(Clone, Debug)]
pub struct LayerRec {
    pub chain_id: ChainId,
    pub path: String,
    pub diff_id: Option<DiffId>,
    pub parent: Option<ChainId>,
    pub cache_id: Option<String>,
    /// The `size` file: Docker's size of the layer's `diff/`.
    pub size: Option<u64>,
    /// Bytes of `tar-split.json.gz`, when present.
    pub tar_split_len: Option<u64>,
    pub descriptor: bool,
    /// Every file the layer loader needs was read and parsed.
    pub complete: bool,
}

/// `layerdb/sha256/<chain>-<random>-removing`: a deletion that did not finish.
#[derive(Clone, Debug)]
pub struct RemovingRec {
    pub path: String,
    pub chain_id: Option<ChainId>,
    pub cache_id: Option<String>,
}

/// `layerdb/mounts/<container>/`: a container's RW layer.
#[derive(Clone, Debug)]
pub struct MountRec {
    pub container_id: ContainerId,
    pub path: String,
    pub mount_id: Option<String>,
    pub init_id: Option<String>,
    pub parent: Option<ChainId>,
}

/// An entry of `layerdb/tmp/`: an interrupted layer registration.
#[derive(Clone, Debug)]
pub struct TmpRec {
    pub path: String,
    pub name: String,
    pub cache_id: Option<String>,
}

#[derive(Default)]
pub struct LayerScan {
    pub layers: Vec<LayerRec>,
    pub removing: Vec<RemovingRec>,
    pub mounts: Vec<MountRec>,
    pub tmp: Vec<TmpRec>,
    pub problems: Vec<Problem>,
}

/// `pool` shares equal ids between records (and with the imagedb scan).
pub fn scan(root: &DataRoot, pool: &Pool) -> LayerScan {
    let mut out = LayerScan::default();
    let base = format!("{IMAGE_DIR}/layerdb");
    match open_optional(root, &format!("{base}/sha256")) {
        Err(p) => out.problems.push(p),
        Ok(None) => {}
        Ok(Some(dir)) => {
            let names = sorted_names(&dir, &mut out.problems);
            let results: Vec<(Entry, Vec<Problem>)> = names
                .par_iter()
                .map(|n| read_layer_dir(&dir, n, pool))
                .collect();
            out.layers.reserve_exact(results.len());
            for (entry, problems) in results {
                match entry {
                    Entry::Layer(l) => out.layers.push(l),
                    Entry::Removing(r) => out.removing.push(r),
                    Entry::None => {}
                }
                out.problems.extend(problems);
            }
        }
    }
    match open_optional(root, &format!("{base}/mounts")) {
        Err(p) => out.problems.push(p),
        Ok(None) => {}
        Ok(Some(dir)) => {
            for name in sorted_names(&dir, &mut out.problems) {
                if let Some(m) = read_mount(&dir, &name, &mut out.problems) {
                    out.mounts.push(m);
                }
            }
        }
    }
    match open_optional(root, &format!("{base}/tmp")) {
        Err(p) => out.problems.push(p),
        Ok(None) => {}
        Ok(Some(dir)) => {
            for name in sorted_names(&dir, &mut out.problems) {
                let cache_id = optional_cache_id(&dir, &name, &mut out.problems);
                out.tmp.push(TmpRec {
                    path: dir.rel_of(OsStr::new(&name)),
                    name,
                    cache_id,
                });
            }
        }
    }
    out
}

/// The `cache-id` of a leftover dir (`tmp/`, `-removing`), when it has one. A read
/// error other than absence is a problem: the leftover's dir is then not known.
fn optional_cache_id(dir: &Dir<'_>, name: &str, problems: &mut Vec<Problem>) -> Option<String> {
    let sub = match dir.sub(OsStr::new(name)) {
        Ok(d) => d,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::InvalidInput
            ) =>
        {
            return None
        }
        Err(e) => {
            problems.push(Problem::io(dir.rel_of(OsStr::new(name)), &e));
            return None;
        }
    };
    match read_text(&sub, "cache-id", SMALL_LIMIT) {
        Ok(c) => c.map(|s| s.trim().to_owned()),
        Err(p) => {
            problems.push(p);
            None
        }
    }
}

enum Entry {
    Layer(LayerRec),
    Removing(RemovingRec),
    None,
}

fn read_layer_dir(dir: &Dir<'_>, name: &str, pool: &Pool) -> (Entry, Vec<Problem>) {
    let rel = dir.rel_of(OsStr::new(name));
    let mut problems = Vec::new();
    if let Some(rest) = name.strip_suffix("-removing") {
        let chain_id = rest.get(..64).and_then(ChainId::from_hex);
        let cache_id = optional_cache_id(dir, name, &mut problems);
        return (
            Entry::Removing(RemovingRec {
                path: rel,
                chain_id,
                cache_id,
            }),
            problems,
        );
    }
    let Some(chain_id) = is_hex64(name)
        .then(|| ChainId::parse_in(&format!("sha256:{name}"), pool))
        .flatten()
    else {
        problems.push(Problem::new(
            rel,
            ProblemKind::Unexpected,
            "not a chain id (64 hex digits); Docker skips it",
        ));
        return (Entry::None, problems);
    };
    let sub = match dir.sub(OsStr::new(name)) {
        Ok(s) => s,
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            return (Entry::None, problems);
        }
    };
    let mut complete = true;
    let mut digest = |file: &str, required: bool, problems: &mut Vec<Problem>| -> Option<String> {
        match read_text(&sub, file, SMALL_LIMIT) {
            Ok(Some(s)) => {
                let t = s.trim();
                if t.strip_prefix("sha256:").is_some_and(is_hex64) {
                    Some(t.to_owned())
                } else {
                    problems.push(Problem::new(
                        sub.rel_of(OsStr::new(file)),
                        ProblemKind::Malformed,
                        format!("expected sha256:<64 hex>, found {:?}", shorten(t)),
                    ));
                    complete = false;
                    None
                }
            }
            Ok(None) => {
                if required {
                    problems.push(Problem::new(
                        sub.rel_of(OsStr::new(file)),
                        ProblemKind::Missing,
                        "missing; Docker cannot load this layer",
                    ));
                    complete = false;
                }
                None
            }
            Err(p) => {
                problems.push(p);
                complete = false;
                None
            }
        }
    };
    let diff_id = digest("diff", true, &mut problems).and_then(|s| DiffId::parse_in(&s, pool));
    let parent = digest("parent", false, &mut problems).and_then(|s| ChainId::parse_in(&s, pool));
    let cache_id = match read_text(&sub, "cache-id", SMALL_LIMIT) {
        Ok(Some(s)) if !s.trim().is_empty() && !s.trim().contains('/') && s.trim() != ".." => {
            Some(s.trim().to_owned())
        }
        Ok(Some(_)) => {
            problems.push(Problem::new(
                sub.rel_of(OsStr::new("cache-id")),
                ProblemKind::Malformed,
                "empty or not a plain name, expected an overlay2 dir id",
            ));
            complete = false;
            None
        }
        Ok(None) => {
            problems.push(Problem::new(
                sub.rel_of(OsStr::new("cache-id")),
                ProblemKind::Missing,
                "missing; the layer's overlay2 dir is unknown",
            ));
            complete = false;
            None
        }
        Err(p) => {
            problems.push(p);
            complete = false;
            None
        }
    };
    // Docker parses `size` with ParseInt(s, 10, 64) and no trimming: a stray newline
    // breaks it, so does a value beyond int64; a negative one loads.
    let size = match read_text(&sub, "size", SMALL_LIMIT) {
        Ok(Some(s)) => match crate::model::size::parse_int64(&s) {
            Ok(n) if n >= 0 => Some(n.unsigned_abs()),
            Ok(n) => {
                problems.push(Problem::new(
                    sub.rel_of(OsStr::new("size")),
                    ProblemKind::Malformed,
                    format!("negative size {n}: Docker loads the layer and sums it as is; counted as 0 here"),
                ));
                Some(0)
            }
            Err(why) => {
                problems.push(Problem::new(
                    sub.rel_of(OsStr::new("size")),
                    ProblemKind::Malformed,
                    format!(
                        "expected a decimal byte count (int64), found {:?}: {why}; Docker cannot load this layer",
                        shorten(&s)
                    ),
                ));
                complete = false;
                None
            }
        },
        Ok(None) => {
            problems.push(Problem::new(
                sub.rel_of(OsStr::new("size")),
                ProblemKind::Missing,
                "missing; Docker cannot load this layer",
            ));
            complete = false;
            None
        }
        Err(p) => {
            problems.push(p);
            complete = false;
            None
        }
    };
    let tar_split_len = match sub.lstat(OsStr::new("tar-split.json.gz")) {
        Ok(m) if m.kind == FileKind::File => Some(m.len),
        Ok(m) => {
            problems.push(Problem::new(
                sub.rel_of(OsStr::new("tar-split.json.gz")),
                ProblemKind::WrongType,
                format!(
                    "expected a regular file, found {}",
                    crate::root::kind_name(m.kind)
                ),
            ));
            None
        }
        Err(_) => None,
    };
    let descriptor = sub.lstat(OsStr::new("descriptor.json")).is_ok();
    (
        Entry::Layer(LayerRec {
            chain_id,
            path: rel,
            diff_id,
            parent,
            cache_id,
            size,
            tar_split_len,
            descriptor,
            complete,
        }),
        problems,
    )
}

fn read_mount(dir: &Dir<'_>, name: &str, problems: &mut Vec<Problem>) -> Option<MountRec> {
    let rel = dir.rel_of(OsStr::new(name));
    let Some(container_id) = ContainerId::parse(name) else {
        problems.push(Problem::new(
            rel,
            ProblemKind::Unexpected,
            "not a container id (64 hex digits)",
        ));
        return None;
    };
    let sub = match dir.sub(OsStr::new(name)) {
        Ok(s) => s,
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            return None;
        }
    };
    let mut text = |file: &str| match read_text(&sub, file, SMALL_LIMIT) {
        Ok(v) => v.map(|s| s.trim().to_owned()),
        Err(p) => {
            problems.push(p);
            None
        }
    };
    let mount_id = text("mount-id");
    let init_id = text("init-id");
    let parent_raw = text("parent");
    let parent = match parent_raw {
        Some(p) => {
            let parsed = ChainId::parse(&p);
            if parsed.is_none() {
                problems.push(Problem::new(
                    sub.rel_of(OsStr::new("parent")),
                    ProblemKind::Malformed,
                    format!("expected sha256:<64 hex>, found {:?}", shorten(&p)),
                ));
            }
            parsed
        }
        None => None,
    };
    if mount_id.is_none() {
        problems.push(Problem::new(
            sub.rel_of(OsStr::new("mount-id")),
            ProblemKind::Missing,
            "missing; the container's RW dir is unknown",
        ));
    }
    let valid = |s: &Option<String>, init: bool| {
        s.as_deref().is_none_or(|s| {
            let s = if init {
                s.strip_suffix("-init").unwrap_or("")
            } else {
                s
            };
            is_hex64(s)
        })
    };
    for (file, value, init) in [("mount-id", &mount_id, false), ("init-id", &init_id, true)] {
        if !valid(value, init) {
            problems.push(Problem::new(
                sub.rel_of(OsStr::new(file)),
                ProblemKind::Malformed,
                "not an overlay2 dir id",
            ));
        }
    }
    let safe = |s: Option<String>| s.filter(|s| !s.contains('/') && s != ".." && !s.is_empty());
    Some(MountRec {
        container_id,
        path: rel,
        mount_id: safe(mount_id),
        init_id: safe(init_id),
        parent,
    })
}

/// A value quoted in a message: at most 80 characters of it.
pub fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}
