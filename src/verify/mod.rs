//! `dockscope verify`: do the files still say what Docker recorded about them?
//!
//! Three levels, each including the one before:
//! * **metadata** (default): image ids against their configs' bytes, chain ids against
//!   `diff` and `parent`, each image's chain present and linked in order, `cache-id`,
//!   `link`, `lower` and `size` against the overlay2 dirs, tags against imagedb;
//! * **content** (`--content`): every file of every layer against its tar-split entry
//!   (type, mode, owner, size, link target, xattrs, CRC-64), files added since, and the
//!   containers' RW layers listed as drift (`docker diff`, offline; not a failure);
//! * **deep** (`--deep`): each layer's tar rebuilt byte for byte from its tar-split and
//!   files, as `docker save` would send it, and its SHA-256 compared with the DiffID.
//!
//! This is the scanner for file contents: it reads through `DataRoot` (never follows a
//! symlink, never writes). Findings are data; the report module renders them.

pub mod c8d;
pub mod content;
pub mod drift;
pub mod tarsplit;

use crate::model::ids::{sha256_digest, ChainId, DirIdForm, ImageId};
use crate::model::resolve::{familiar_reference, Resolved};
use crate::model::Model;
use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use crate::scan::{IMAGE_DIR, JSON_LIMIT, SMALL_LIMIT};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// What `verify` compares, from fastest to most thorough.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Metadata,
    Content,
    Deep,
}

/// The kind of a finding, stable in `--json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An image config's SHA-256 is not its id (its file name).
    ImageIdMismatch,
    /// A layer's chain id recomputed from `diff` and `parent` is not its dir name.
    ChainIdMismatch,
    /// A chain id of an image's rootfs has no layerdb dir.
    MissingLayer,
    /// A layer's `parent` is not the chain id before it in an image's rootfs.
    ParentMismatch,
    /// `cache-id` names no overlay2 dir (or one without `diff/`).
    MissingCacheDir,
    /// The dir's `link` file and `l/` disagree.
    LinkMismatch,
    /// The dir's `lower` file is not the parent chain's links.
    LowerMismatch,
    /// The `size` file is not the size of the layer's `diff/`.
    SizeMismatch,
    /// A reference to an image or layer that does not exist.
    DanglingReference,
    /// The layer has no readable `tar-split.json.gz`: its files cannot be checked.
    MissingTarSplit,
    /// A file's content (CRC-64 or size) or a device's numbers differ.
    ContentModified,
    /// A file of the layer's tar is not on disk (or an opaque marker is gone).
    ContentMissing,
    /// A file on disk that the layer's tar does not hold.
    ContentAdded,
    ModeChanged,
    OwnerChanged,
    TypeChanged,
    /// A symlink's target, or a hard link's inode, differs.
    LinkTargetChanged,
    /// An xattr the tar set is gone or different.
    XattrChanged,
    /// The rebuilt tar's SHA-256 is not the layer's DiffID.
    DiffIdMismatch,
    /// Something the check at the requested level needs (the layer's `diff`, `cache-id`
    /// or `size` file, its overlay2 `diff/`, its file contents) is missing or unreadable:
    /// the layer was not fully checked, which is never "no mismatch".
    NotChecked,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ImageIdMismatch => "image-id-mismatch",
            Kind::ChainIdMismatch => "chain-id-mismatch",
            Kind::MissingLayer => "missing-layer",
            Kind::ParentMismatch => "parent-mismatch",
            Kind::MissingCacheDir => "missing-cache-dir",
            Kind::LinkMismatch => "link-mismatch",
            Kind::LowerMismatch => "lower-mismatch",
            Kind::SizeMismatch => "size-mismatch",
            Kind::DanglingReference => "dangling-reference",
            Kind::MissingTarSplit => "missing-tar-split",
            Kind::ContentModified => "content-modified",
            Kind::ContentMissing => "content-missing",
            Kind::ContentAdded => "content-added",
            Kind::ModeChanged => "mode-changed",
            Kind::OwnerChanged => "owner-changed",
            Kind::TypeChanged => "type-changed",
            Kind::LinkTargetChanged => "link-target-changed",
            Kind::XattrChanged => "xattr-changed",
            Kind::DiffIdMismatch => "diff-id-mismatch",
            Kind::NotChecked => "not-checked",
        }
    }
}

/// A finding before it is placed: a layer's checks fill these in.
pub struct RawFinding {
    pub kind: Kind,
    /// Path inside the layer (`bin/busybox`), for content findings.
    pub file: Option<String>,
    pub expected: Value,
    pub found: Value,
    pub detail: Option<String>,
}

/// One mismatch between what Docker recorded and what is there.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Finding {
    /// The layer (chain id) it is in; `null` for image configs and tags.
    pub layer: Option<ChainId>,
    /// Every image whose rootfs holds the layer (or the image concerned), by id.
    pub images: Vec<ImageId>,
    /// The file that disagrees, relative to the root.
    pub path: String,
    /// For content findings: the path inside the layer (`bin/busybox`).
    pub file: Option<String>,
    pub kind: Kind,
    /// What the record says.
    pub expected: Value,
    /// What is there (`null`: nothing).
    pub found: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What was looked at.
#[derive(Serialize, Default, Clone, Debug)]
pub struct Checked {
    pub images: usize,
    pub layers: usize,
    /// Tar entries compared with the disk (`--content`, `--deep`).
    pub files: u64,
    /// File bytes read and summed.
    pub bytes: u64,
    /// Layer tars rebuilt and hashed (`--deep`).
    pub diff_ids: usize,
    /// Container RW layers listed as drift.
    pub containers: usize,
    /// Layers every check of the requested level could be run on (the rest each have a
    /// finding, `not-checked` when nothing else says why).
    pub layers_fully_checked: usize,
    /// Layers the run covered (the same as `layers`).
    pub layers_total: usize,
}

/// How one layer was checked.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct LayerChecked {
    pub chain_id: ChainId,
    /// Every check of the requested level ran on it.
    pub fully_checked: bool,
    /// Which measure its `size` file matched: `docker` (regular files and symlinks, each
    /// inode once), `naive-diff` (symlinks not counted: BuildKit's layers, and hosts whose
    /// driver uses the naive diff, accepted when other layers of the root show it);
    /// `null` when it matched neither or could not be measured.
    pub size_rule: Option<&'static str>,
    /// What could not be checked, when not fully checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unchecked: Vec<String>,
}

/// Everything `verify` found.
pub struct Verified {
    pub level: Level,
    pub findings: Vec<Finding>,
    /// Each layer of the run, by chain id.
    pub layers: Vec<LayerChecked>,
    pub drift: Vec<drift::Drift>,
    pub checked: Checked,
    pub problems: Vec<Problem>,
}

/// Live counters for a progress bar.
#[derive(Default)]
pub struct Progress {
    pub bytes: AtomicU64,
    pub files: AtomicU64,
    pub layers: AtomicU64,
}

/// IMAGE as `verify` takes it: like everywhere else, but an image Docker would not
/// load (its config edited, a layer gone) is still found by tag or id: it is what
/// verify is asked about.
pub fn resolve(model: &Model, name: &str) -> Resolved {
    let r = model.resolve_image(name);
    if r != Resolved::NotFound {
        return r;
    }
    let input = name.trim();
    let bare = input.strip_prefix("sha256:").unwrap_or(input);
    let wanted = familiar_reference(input);
    if let Some(i) = model
        .tags
        .iter()
        .find(|r| r.reference == wanted)
        .and_then(|r| model.image_index(&r.image))
    {
        return Resolved::Found(i);
    }
    if bare.is_empty() || !bare.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Resolved::NotFound;
    }
    let bare = bare.to_ascii_lowercase();
    let mut hits: Vec<usize> = (0..model.images.len())
        .filter(|&i| model.images[i].rec.id.hex().starts_with(&bare))
        .collect();
    hits.sort_by(|&a, &b| model.images[a].rec.id.cmp(&model.images[b].rec.id));
    match hits.len() {
        0 => Resolved::NotFound,
        1 => Resolved::Found(hits[0]),
        _ => Resolved::Ambiguous(hits),
    }
}

/// Bytes a content run will read at most: the selected layers' sizes (for a progress bar).
pub fn planned_bytes(model: &Model, images: Option<&[usize]>) -> u64 {
    select(model, images)
        .layers
        .iter()
        .map(|&l| model.layer_size(l))
        .fold(0, u64::saturating_add)
}

/// Which images, layers and containers a run covers.
struct Selection {
    all: bool,
    images: Vec<usize>,
    layers: Vec<usize>,
    containers: Vec<usize>,
}

fn select(model: &Model, images: Option<&[usize]>) -> Selection {
    match images {
        None => Selection {
            all: true,
            images: (0..model.images.len()).collect(),
            layers: (0..model.layers.len()).collect(),
            containers: (0..model.containers.len()).collect(),
        },
        Some(sel) => {
            let mut images: Vec<usize> = sel.to_vec();
            images.sort_unstable();
            images.dedup();
            let mut layers = BTreeSet::new();
            for &i in &images {
                for c in model.images[i].chain() {
                    if let Some(l) = model.layer_index(c) {
                        layers.insert(l);
                    }
                }
            }
            let containers = (0..model.containers.len())
                .filter(|&c| {
                    model
                        .container_image(c)
                        .is_some_and(|i| images.binary_search(&i).is_ok())
                })
                .collect();
            Selection {
                all: false,
                images,
                layers: layers.into_iter().collect(),
                containers,
            }
        }
    }
}

/// Run the checks of `level` on the whole root (`images` = None) or on some images.
pub fn run(
    root: &DataRoot,
    model: &Model,
    images: Option<&[usize]>,
    level: Level,
    progress: Option<&Progress>,
) -> Verified {
    let sel = select(model, images);
    // Every image whose rootfs names a layer, by chain id (loaded or not).
    let mut holders: HashMap<usize, Vec<ImageId>> = HashMap::new();
    for im in &model.images {
        for c in im.chain() {
            if let Some(l) = model.layer_index(c) {
                holders.entry(l).or_default().push(im.rec.id.clone());
            }
        }
    }
    for v in holders.values_mut() {
        v.sort();
        v.dedup();
    }
    let links: HashMap<&str, usize> = model
        .links
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.as_str(), i))
        .collect();
    let mut problems: Vec<Problem> = model.problems.clone();
    let mut findings: Vec<Finding> = Vec::new();
    let place = |layer: Option<usize>, path: String, raw: RawFinding| -> Finding {
        let images = layer
            .and_then(|l| holders.get(&l))
            .cloned()
            .unwrap_or_default();
        Finding {
            layer: layer.map(|l| model.layers[l].chain_id.clone()),
            images,
            path,
            file: raw.file,
            kind: raw.kind,
            expected: raw.expected,
            found: raw.found,
            detail: raw.detail,
        }
    };

    // ---- metadata: images and tags
    for &i in &sel.images {
        let im = &model.images[i];
        let rec = &im.rec;
        if !rec.digest_ok {
            let found = match root.read(&rec.path, JSON_LIMIT) {
                Ok(bytes) => json!(sha256_digest(&bytes)),
                Err(e) => json!(format!("unreadable: {e}")),
            };
            findings.push(Finding {
                layer: None,
                images: vec![rec.id.clone()],
                path: rec.path.clone(),
                file: None,
                kind: Kind::ImageIdMismatch,
                expected: json!(rec.id),
                found,
                detail: Some(
                    "the config's SHA-256 is not its id: Docker does not load this image".into(),
                ),
            });
        }
        let chain = im.chain();
        for (k, c) in chain.iter().enumerate() {
            let Some(l) = model.layer_index(c) else {
                findings.push(Finding {
                    layer: Some(c.clone()),
                    images: vec![rec.id.clone()],
                    path: format!("{IMAGE_DIR}/layerdb/sha256/{}", c.hex()),
                    file: None,
                    kind: Kind::MissingLayer,
                    expected: json!(c),
                    found: Value::Null,
                    detail: Some(format!(
                        "layer {} of the image's rootfs is not in layerdb",
                        k + 1
                    )),
                });
                continue;
            };
            let want = k.checked_sub(1).map(|p| &chain[p]);
            let have = model.layers[l].parent.as_ref();
            if want != have {
                findings.push(place(
                    Some(l),
                    format!("{}/parent", model.layers[l].path),
                    RawFinding {
                        kind: Kind::ParentMismatch,
                        file: None,
                        expected: json!(want),
                        found: json!(have),
                        detail: Some("the image's rootfs puts another layer below this one".into()),
                    },
                ));
            }
        }
    }
    if sel.all {
        for r in &model.tags {
            if model.image_index(&r.image).is_none() {
                findings.push(Finding {
                    layer: None,
                    images: vec![r.image.clone()],
                    path: format!("{IMAGE_DIR}/repositories.json"),
                    file: None,
                    kind: Kind::DanglingReference,
                    expected: json!(r.image),
                    found: Value::Null,
                    detail: Some(format!(
                        "{} names an image with no config in imagedb",
                        r.reference
                    )),
                });
            }
        }
    }

    // ---- metadata: layers (sizes measured in parallel)
    let layer_meta: Vec<(usize, Placed, Vec<Problem>, LayerMeta)> = sel
        .layers
        .par_iter()
        .map(|&l| {
            let (f, p, m) = layer_metadata(root, model, &links, l);
            (l, f, p, m)
        })
        .collect();
    // Which layers show the naive-diff rule (recorded size = files without symlinks).
    let naive: Vec<usize> = layer_meta
        .iter()
        .filter(|(_, _, _, m)| m.size.as_ref().is_some_and(SizeFacts::naive_match))
        .map(|(l, ..)| *l)
        .collect();
    let mut status: HashMap<usize, LayerChecked> = HashMap::new();
    for (l, fs, ps, meta) in layer_meta {
        findings.extend(fs.into_iter().map(|(path, raw)| place(Some(l), path, raw)));
        problems.extend(ps);
        let rec = &model.layers[l];
        let mut unchecked = meta.unchecked;
        let mut size_rule = None;
        if let Some(f) = &meta.size {
            match f.docker {
                None => unchecked.push("size: the layer's diff/ could not be measured".into()),
                Some(n) if n == f.recorded => size_rule = Some("docker"),
                Some(_) if f.naive_match() && (f.buildkit || naive.iter().any(|&o| o != l)) => {
                    size_rule = Some("naive-diff");
                }
                Some(n) => {
                    let naive_size = f.symlinks.map(|s| n.saturating_sub(s));
                    findings.push(place(
                        Some(l),
                        format!("{}/size", rec.path),
                        RawFinding {
                            kind: Kind::SizeMismatch,
                            file: None,
                            expected: json!(f.recorded),
                            found: json!(n),
                            detail: Some(match naive_size {
                                Some(v) if v != n && f.naive_match() => format!(
                                    "measured as Docker does (regular files and symlinks, each inode once);                                      without symlinks it is {v}, the naive-diff rule, but no other layer of the root shows that rule"
                                ),
                                Some(v) if v != n => format!(
                                    "measured as Docker does (regular files and symlinks, each inode once);                                      without symlinks (the naive-diff rule) it is {v}"
                                ),
                                _ => "measured as Docker does: regular files and symlinks, each inode once".into(),
                            }),
                        },
                    ));
                }
            }
        }
        status.insert(
            l,
            LayerChecked {
                chain_id: rec.chain_id.clone(),
                fully_checked: unchecked.is_empty(),
                size_rule,
                unchecked,
            },
        );
    }

    let mut checked = Checked {
        images: sel.images.len(),
        layers: sel.layers.len(),
        ..Checked::default()
    };
    let mut drift = Vec::new();

    // ---- content and deep
    if level >= Level::Content {
        let deep = level == Level::Deep;
        let pending = std::sync::atomic::AtomicUsize::new(0);
        let mut jobs: Vec<(usize, content::Job<'_>)> = sel
            .layers
            .iter()
            .filter_map(|&l| {
                let rec = &model.layers[l];
                let d = model.layer_dir(l).filter(|&d| model.dirs[d].has_diff)?;
                Some((
                    l,
                    content::Job {
                        tar_split: format!("{}/tar-split.json.gz", rec.path),
                        diff: format!("{}/diff", model.dirs[d].path),
                        deep,
                        progress,
                        pending: Some(&pending),
                    },
                ))
            })
            .collect();
        for &l in &sel.layers {
            if !jobs.iter().any(|(j, _)| *j == l) {
                if let Some(st) = status.get_mut(&l) {
                    st.unchecked
                        .push("content: the layer has no overlay2 dir with diff/".into());
                }
            }
        }
        // Largest first: the long layers start early and the pool stays busy.
        jobs.sort_by_key(|(l, _)| std::cmp::Reverse(model.layer_size(*l)));
        pending.store(jobs.len(), Ordering::Relaxed);
        let outcomes: Vec<(usize, content::Outcome)> = jobs
            .par_iter()
            .map(|(l, job)| {
                let o = content::check_layer(root, job);
                pending.fetch_sub(1, Ordering::Relaxed);
                if let Some(p) = progress {
                    p.layers.fetch_add(1, Ordering::Relaxed);
                }
                (*l, o)
            })
            .collect();
        let mut unread = false;
        let mut owners = content::OwnerStats::default();
        for (l, o) in outcomes {
            owners.merge(&o.owners);
            let rec = &model.layers[l];
            let diff = jobs
                .iter()
                .find(|(j, _)| *j == l)
                .map(|(_, j)| j.diff.clone())
                .unwrap_or_default();
            checked.files += o.files;
            checked.bytes += o.bytes;
            unread |= o.contents_unread;
            if let Some(st) = status.get_mut(&l) {
                let tar_split = jobs
                    .iter()
                    .find(|(j, _)| *j == l)
                    .map(|(_, j)| j.tar_split.clone())
                    .unwrap_or_default();
                if !o.tar_split_ok {
                    let why = o
                        .problems
                        .iter()
                        .find(|p| p.path == tar_split || p.path == diff)
                        .map_or_else(|| "unreadable".to_owned(), |p| p.detail.clone());
                    let has_missing = o.findings.iter().any(|f| f.kind == Kind::MissingTarSplit);
                    if o.problems.iter().any(|p| p.path == diff) {
                        st.unchecked.push(format!("content: {diff}: {why}"));
                    } else {
                        st.unchecked
                            .push(format!("content: tar-split.json.gz: {why}"));
                        if !has_missing {
                            findings.push(place(
                                Some(l),
                                tar_split.clone(),
                                RawFinding {
                                    kind: Kind::MissingTarSplit,
                                    file: None,
                                    expected: json!("tar-split.json.gz"),
                                    found: json!(why),
                                    detail: Some("unreadable: the layer's files cannot be checked, and Docker cannot export the layer".into()),
                                },
                            ));
                        }
                    }
                } else if o.contents_unread {
                    st.unchecked.push(
                        "content: file contents are not kept in an archive: CRC-64s not compared"
                            .into(),
                    );
                } else if deep && o.rebuilt.is_none() {
                    st.unchecked
                        .push("deep: the layer's tar could not be rebuilt".into());
                }
            }
            for raw in o.findings {
                let path = match (&raw.file, raw.kind) {
                    (_, Kind::MissingTarSplit) => format!("{}/tar-split.json.gz", rec.path),
                    (Some(f), _) => format!("{diff}/{f}"),
                    (None, _) => diff.clone(),
                };
                findings.push(place(Some(l), path, raw));
            }
            problems.extend(o.problems);
            if let Some(found) = o.rebuilt {
                checked.diff_ids += 1;
                if let Some(want) = &rec.diff_id {
                    if want.as_str() != found {
                        findings.push(place(
                            Some(l),
                            format!("{}/diff", rec.path),
                            RawFinding {
                                kind: Kind::DiffIdMismatch,
                                file: None,
                                expected: json!(want),
                                found: json!(found),
                                detail: Some(
                                    "the tar rebuilt from tar-split and the layer's files does not hash to the DiffID"
                                        .into(),
                                ),
                            },
                        ));
                    }
                }
            }
        }
        let owner_findings = findings.iter().any(|f| f.kind == Kind::OwnerChanged);
        if owner_findings && owners.disk.len() == 1 && owners.disk[0].0 != 0 {
            // GNU tar run by a user: every file is that user's, and modes went through
            // its umask. Not a tampering a record can tell; say so once.
            let (u, g) = owners.disk[0];
            findings.retain(|f| !matches!(f.kind, Kind::OwnerChanged | Kind::ModeChanged));
            problems.push(Problem::new(
                "overlay2",
                ProblemKind::NotAnalysed,
                format!(
                    "every layer file is owned by {u}:{g}, not by the owners the layers' tars record: \
                     the copy was not made as root, so owners and modes were not compared"
                ),
            ));
        } else if owner_findings && owners.shift.len() == 1 {
            let (du, dg) = owners.shift[0];
            findings.retain(|f| f.kind != Kind::OwnerChanged);
            problems.push(Problem::new(
                "overlay2",
                ProblemKind::NotAnalysed,
                format!(
                    "every layer file's owner is its tar's shifted by {du:+}:{dg:+} \
                     (a remapped user namespace): owners were not compared"
                ),
            ));
        }
        if unread {
            problems.push(Problem::new(
                "",
                ProblemKind::NotAnalysed,
                "reading an archive: layer file contents are not kept, so their CRC-64s were not \
                 compared and no DiffID was rebuilt (types, modes, owners, sizes, links and xattrs \
                 were); unpack it as root (GNU tar --xattrs) and verify the directory",
            ));
        }
        let drifts: Vec<(Option<drift::Drift>, Vec<Problem>)> = sel
            .containers
            .par_iter()
            .map(|&c| drift::container(root, model, &links, c))
            .collect();
        for (d, p) in drifts {
            drift.extend(d);
            problems.extend(p);
        }
        drift.sort_by(|a, b| a.container.cmp(&b.container));
        checked.containers = drift.len();
    }

    // Fail closed: a layer not fully checked has a finding, `not-checked` when no other
    // finding of the layer says why.
    let mut layers: Vec<LayerChecked> = status.into_values().collect();
    for st in &mut layers {
        st.fully_checked = st.unchecked.is_empty();
        let l = model.layer_index(&st.chain_id);
        if !st.fully_checked
            && !findings
                .iter()
                .any(|f| f.layer.as_ref() == Some(&st.chain_id))
        {
            let rec = l.map(|l| &model.layers[l]);
            findings.push(place(
                l,
                rec.map_or_else(String::new, |r| r.path.clone()),
                RawFinding {
                    kind: Kind::NotChecked,
                    file: None,
                    expected: json!(level),
                    found: json!(st.unchecked),
                    detail: Some(format!(
                        "not every check of the {} level could run on this layer: {}",
                        match level {
                            Level::Metadata => "metadata",
                            Level::Content => "content",
                            Level::Deep => "deep",
                        },
                        st.unchecked.join("; ")
                    )),
                },
            ));
        }
    }
    layers.sort_by(|a, b| a.chain_id.cmp(&b.chain_id));
    checked.layers_total = layers.len();
    checked.layers_fully_checked = layers.iter().filter(|s| s.fully_checked).count();
    findings.sort_by(|a, b| {
        (&a.layer, &a.path, a.kind, &a.file).cmp(&(&b.layer, &b.path, b.kind, &b.file))
    });
    findings.dedup();
    problems.sort();
    problems.dedup();
    Verified {
        level,
        findings,
        layers,
        drift,
        checked,
        problems,
    }
}

/// What `layer_metadata` learned beyond its findings.
#[derive(Default)]
struct LayerMeta {
    /// Metadata checks that could not run, and why.
    unchecked: Vec<String>,
    size: Option<SizeFacts>,
}

/// A layer's recorded size and the measures it may follow.
struct SizeFacts {
    recorded: u64,
    /// Docker's measure of `diff/` (files and symlinks, each inode once); `None` when it
    /// could not be measured.
    docker: Option<u64>,
    /// Bytes of symlink targets, from the tar-split (read only when `docker` differs).
    symlinks: Option<u64>,
    /// A BuildKit dir: BuildKit records its tar-split's file sizes (no symlinks).
    buildkit: bool,
}

impl SizeFacts {
    /// The recorded size is the naive-diff measure and not Docker's.
    fn naive_match(&self) -> bool {
        match (self.docker, self.symlinks) {
            (Some(n), Some(l)) => {
                l > 0 && n != self.recorded && n.checked_sub(l) == Some(self.recorded)
            }
            _ => false,
        }
    }
}

/// Findings of one layer, each with the path it concerns.
type Placed = Vec<(String, RawFinding)>;

/// Metadata checks of one layer: findings with the path each concerns.
fn layer_metadata(
    root: &DataRoot,
    model: &Model,
    links: &HashMap<&str, usize>,
    l: usize,
) -> (Placed, Vec<Problem>, LayerMeta) {
    let rec = &model.layers[l];
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut meta = LayerMeta::default();
    if rec.diff_id.is_none() {
        meta.unchecked
            .push("chain id: the layer's diff file is missing or unreadable".into());
    }
    if rec.size.is_none() {
        meta.unchecked
            .push("size: the layer's size file is missing or unreadable".into());
    }
    let mut push =
        |path: String, kind: Kind, expected: Value, found: Value, detail: Option<String>| {
            out.push((
                path,
                RawFinding {
                    kind,
                    file: None,
                    expected,
                    found,
                    detail,
                },
            ));
        };
    // Chain id: c = diff for a base layer, sha256("<parent> <diff>") above it.
    if let Some(diff) = &rec.diff_id {
        let computed = match &rec.parent {
            None => diff.as_str().to_owned(),
            Some(p) => sha256_digest(format!("{p} {diff}").as_bytes()),
        };
        if computed != rec.chain_id.as_str() {
            push(
                rec.path.clone(),
                Kind::ChainIdMismatch,
                json!(rec.chain_id),
                json!(computed),
                Some("recomputed from the layer's diff and parent files".into()),
            );
        }
    }
    if let Some(p) = &rec.parent {
        if model.layer_index(p).is_none() {
            push(
                format!("{}/parent", rec.path),
                Kind::DanglingReference,
                json!(p),
                Value::Null,
                Some("the parent layer is not in layerdb".into()),
            );
        }
    }
    let Some(cache) = &rec.cache_id else {
        meta.unchecked.push(
            "cache-id missing or unreadable: the layer's overlay2 dir (link, lower, size) is not checked"
                .into(),
        );
        return (out, problems, meta);
    };
    let Some(d) = model.dir_index(cache).filter(|&d| model.dirs[d].has_diff) else {
        push(
            format!("{}/cache-id", rec.path),
            Kind::MissingCacheDir,
            json!(format!("overlay2/{cache}/diff")),
            Value::Null,
            None,
        );
        meta.unchecked.push(format!(
            "overlay2/{cache}/diff does not exist: link, lower and size are not checked"
        ));
        return (out, problems, meta);
    };
    let dir = &model.dirs[d];
    // link: the dir's short name, and l/<name> -> ../<id>/diff
    let target = format!("../{cache}/diff");
    match &dir.link {
        None => push(
            format!("{}/link", dir.path),
            Kind::LinkMismatch,
            json!("a 26-character name of a link in l/"),
            Value::Null,
            None,
        ),
        Some(name) => {
            let found = links.get(name.as_str()).map(|&i| &model.links[i]);
            if found.and_then(|l| l.target.as_deref()) != Some(target.as_str()) {
                push(
                    format!("overlay2/l/{name}"),
                    Kind::LinkMismatch,
                    json!(target),
                    json!(found.and_then(|l| l.target.clone())),
                    None,
                );
            }
        }
    }
    // lower: the parent's link first, then the parent's own lower (its ancestors' links).
    let mut expected = Vec::new();
    let mut cur = model.layer_parent(l);
    let mut known = rec.parent.is_none() || cur.is_some();
    while let Some(p) = cur {
        if expected.len() > model.layers.len() {
            known = false;
            break;
        }
        let Some(link) = model
            .layer_dir(p)
            .and_then(|pd| model.dirs[pd].link.as_deref())
        else {
            known = false; // that layer's own finding says why
            break;
        };
        expected.push(format!("l/{link}"));
        cur = model.layer_parent(p);
        if cur.is_none() && model.layers[p].parent.is_some() {
            known = false;
        }
    }
    if !known {
        meta.unchecked
            .push("lower: the parent chain's links are not all known".into());
    }
    if known {
        let expected = (!expected.is_empty()).then(|| expected.join(":"));
        let lower_rel = format!("{}/lower", dir.path);
        let found = match root.read(&lower_rel, SMALL_LIMIT) {
            Ok(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                meta.unchecked.push(format!("lower: {lower_rel}: {e}"));
                problems.push(Problem::io(lower_rel.clone(), &e));
                expected.clone()
            }
        };
        if found != expected {
            push(
                lower_rel,
                Kind::LowerMismatch,
                json!(expected),
                json!(found),
                None,
            );
        }
    }
    // size: Docker's measure of diff/ (regular files and symlinks, each inode once). A
    // size without symlinks is the naive-diff rule: BuildKit records its tar-split's file
    // sizes (`ChecksumForGraphID` counts `Entry.Size`), and so do hosts whose overlay2
    // driver uses the naive diff; `run` decides which rule the root shows.
    if let Some(size) = rec.size {
        let (usage, ps) = crate::walk::measure(root, &format!("{}/diff", dir.path));
        let docker = ps.is_empty().then_some(usage.size);
        problems.extend(ps);
        let symlinks = match docker {
            Some(n) if n != size => {
                let rel = format!("{}/tar-split.json.gz", rec.path);
                match tar_split_symlink_bytes(root, &rel) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        problems.push(Problem::new(
                            rel,
                            ProblemKind::Malformed,
                            format!("{e}; the naive-diff size rule is not tried"),
                        ));
                        None
                    }
                }
            }
            _ => None,
        };
        meta.size = Some(SizeFacts {
            recorded: size,
            docker,
            symlinks,
            buildkit: dir.form == DirIdForm::Buildkit,
        });
    }
    (out, problems, meta)
}

/// The bytes of the symlink targets a tar-split records (the lengths Docker's size
/// counts and the naive diff does not).
fn tar_split_symlink_bytes(root: &DataRoot, rel: &str) -> io::Result<u64> {
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let (f, _) = root.dir(parent)?.open(std::ffi::OsStr::new(name))?;
    let mut r = tarsplit::Reader::new(f);
    let mut parser = tarsplit::HeaderParser::default();
    let mut sum = 0u64;
    while let Some(item) = r.next_item()? {
        match item {
            tarsplit::Item::Segment(b) => parser.segment(&b),
            tarsplit::Item::File(f) => {
                let h = parser
                    .file(&f)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if h.typeflag == b'2' {
                    sum = sum.saturating_add(h.link.len() as u64);
                }
            }
        }
    }
    Ok(sum)
}
