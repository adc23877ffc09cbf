//! `dockscope orphans` and `dockscope check`: what nothing references, broken references
//! between areas, and apart from those what Docker itself manages and would free.
//!
//! `classify` decides from the model alone which paths belong to which finding (each
//! path to one finding at most, so totals never count a byte twice); the caller measures
//! the paths; `build` puts the two together.

use super::{human_size, sanitize, table, write_table, Report};
use crate::model::ids::DirIdForm;
use crate::model::Model;
use crate::problem::Problem;
use crate::scan::IMAGE_DIR;
use crate::walk::Usage;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{self, Write};

/// A leftover or broken reference, before it is measured.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub kind: &'static str,
    pub paths: Vec<String>,
    pub reclaimable: bool,
    pub reason: String,
    pub cleanup: String,
    /// Managed by Docker itself (`docker_reclaimable`), not an orphan.
    pub docker: bool,
    /// Paths whose names are not UTF-8: (the path as in `paths`, its exact bytes).
    pub raw: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize, Clone)]
pub struct Finding {
    pub kind: &'static str,
    /// Relative to the root.
    pub paths: Vec<String>,
    pub apparent_bytes: u64,
    /// `null` when reading an archive.
    pub disk_bytes: Option<u64>,
    pub reclaimable: bool,
    pub reason: String,
    /// How it could be cleaned safely.
    pub cleanup: String,
    /// For a path whose name is not UTF-8 (written in `paths` with `\xNN` for each byte
    /// that is not), its exact bytes, base64: `{"overlay2/\\xff…": "b3Zlcmxh…"}`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw_paths: BTreeMap<String, String>,
    /// The exact bytes of those paths, for `--print0`.
    #[serde(skip)]
    pub raw: Vec<(String, Vec<u8>)>,
}

#[derive(Serialize, Default)]
pub struct Totals {
    pub findings: usize,
    pub reclaimable_apparent_bytes: u64,
    pub reclaimable_disk_bytes: Option<u64>,
    pub docker_reclaimable: usize,
    pub docker_reclaimable_apparent_bytes: u64,
    pub docker_reclaimable_disk_bytes: Option<u64>,
}

#[derive(Serialize)]
pub struct OrphansReport {
    pub findings: Vec<Finding>,
    pub docker_reclaimable: Vec<Finding>,
    pub totals: Totals,
    /// Records that could not be read in full: the findings of these kinds (in this area)
    /// are not called reclaimable. Non-empty: `orphans` and `check` exit 2.
    pub cannot_judge: Vec<CannotJudge>,
    pub problems: Vec<Problem>,
}

/// Every finding kind `orphans` and `check` report (what `check --allow` accepts, with
/// `problem`).
pub const KINDS: &[&str] = &[
    // Docker's containerd image store (report/c8d_orphans.rs)
    "blob-without-record",
    "container-without-snapshot",
    "gc-content",
    "gc-expired-lease",
    "gc-ingest",
    "gc-snapshot",
    "ingest-without-record",
    "interrupted-pull",
    "rootfs-without-container",
    "snapshot-dir-without-record",
    "snapshot-record-without-dir",
    "tmpmounts-leftover",
    // overlay2
    "build-cache",
    "container-missing-image",
    "container-missing-volume",
    "container-only-layer",
    "container-without-mount",
    "dangling-image",
    "dangling-l-link",
    "dangling-tag",
    "download-tmp-leftover",
    "image-digest-mismatch",
    "imagedb-metadata-leftover",
    "incomplete-image",
    "layerdb-tmp-leftover",
    "missing-cache-dir",
    "missing-l-link",
    "missing-parent",
    "missing-rw-dir",
    "mount-without-container",
    "orphan-cache-dir",
    "partial-layer",
    "pending-removal",
    "stopped-container",
    "unknown-lower-link",
    "unreferenced-layer",
    "wrong-l-link",
];

/// An area whose records could not all be read, and the finding kinds it leaves
/// undecided.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct CannotJudge {
    /// Relative to the root: a record area (`image/overlay2/layerdb`, `containers`, ...),
    /// or one finding's path when only that finding is touched.
    pub area: String,
    pub kinds: Vec<&'static str>,
    pub reason: String,
    /// Area-wide (every finding of `kinds`) or only the findings holding `area`.
    #[serde(skip)]
    pub whole: bool,
}

/// Paths whose absence `judge` weighs (`absent` lists those of them that do not exist).
pub const PROBED: &[&str] = &[
    "image",
    "image/overlay2",
    "image/overlay2/imagedb",
    "image/overlay2/imagedb/content/sha256",
    "image/overlay2/layerdb",
    "image/overlay2/layerdb/sha256",
    "image/overlay2/layerdb/mounts",
    "image/overlay2/repositories.json",
    "containers",
];

/// The records that claim what orphans lists, by area, and the finding kinds whose
/// "nothing claims it" rests on each area having been read in full.
pub const RECORD_AREAS: &[(&str, &[&str])] = &[
    (
        "image/overlay2/imagedb",
        &[
            "container-only-layer",
            "dangling-image",
            "imagedb-metadata-leftover",
            "incomplete-image",
            "missing-cache-dir",
            "unreferenced-layer",
        ],
    ),
    (
        "image/overlay2/layerdb",
        &[
            "build-cache",
            "container-only-layer",
            "container-without-mount",
            "dangling-image",
            "incomplete-image",
            "layerdb-tmp-leftover",
            "missing-cache-dir",
            "missing-parent",
            "mount-without-container",
            "orphan-cache-dir",
            "partial-layer",
            "pending-removal",
            "stopped-container",
            "unreferenced-layer",
        ],
    ),
    ("image/overlay2/repositories.json", &["dangling-image"]),
    (
        "containers",
        &[
            "container-only-layer",
            "dangling-image",
            "missing-cache-dir",
            "mount-without-container",
            "unreferenced-layer",
        ],
    ),
];

/// The overlay2 listing: only a failure to list `overlay2/` or `overlay2/l/` themselves
/// leaves these undecided (a problem inside one dir touches the finding holding it).
const LISTING_AREAS: &[(&str, &[&str])] = &[
    (
        "overlay2",
        &[
            "build-cache",
            "dangling-l-link",
            "missing-cache-dir",
            "orphan-cache-dir",
        ],
    ),
    ("overlay2/l", &["dangling-l-link"]),
];

/// What one unread file of a record leaves undecided.
enum Damage {
    /// A whole record (its dir, or the file that ties it to others) in this area.
    Record(&'static str),
    /// A file naming an overlay2 dir (`cache-id`, `mount-id`, `init-id`): any dir nothing
    /// else names could be the one it names.
    DirName,
    /// A file that claims nothing (a layer's `size`, `diff`, a container's logs): the
    /// finding about that record says it.
    Nothing,
    /// Anything else: a record area or what lies above it.
    Area,
}

const DIR_NAME_KINDS: &[&str] = &["build-cache", "orphan-cache-dir"];

fn record_damage(path: &str) -> Damage {
    let split = |prefix: &str| {
        path.strip_prefix(prefix)
            .map(|rest| match rest.split_once('/') {
                Some((entry, file)) => (entry.to_owned(), Some(file.to_owned())),
                None => (rest.to_owned(), None),
            })
    };
    let layerdb = "image/overlay2/layerdb";
    for sub in ["sha256/", "mounts/"] {
        if let Some((_, file)) = split(&format!("{layerdb}/{sub}")) {
            return match file.as_deref() {
                None | Some("parent") => Damage::Record(layerdb),
                Some("cache-id" | "mount-id" | "init-id") => Damage::DirName,
                Some(_) => Damage::Nothing,
            };
        }
    }
    if let Some((_, file)) = split("containers/") {
        return match file.as_deref() {
            None | Some("config.v2.json") => Damage::Record("containers"),
            Some(_) => Damage::Nothing,
        };
    }
    Damage::Area
}

/// Problem kinds that mean a record was not read as written (a missing file Docker
/// always writes, unreadable, garbage, wrong type, too large, tampered).
fn is_damage(p: &Problem) -> bool {
    use crate::problem::ProblemKind as K;
    matches!(
        p.kind,
        K::Unreadable | K::Malformed | K::Missing | K::WrongType | K::TooLarge | K::Mismatch
    )
}

/// `inner` is `outer` or lies beneath it (paths relative to the root; `""` is the root).
fn beneath(inner: &str, outer: &str) -> bool {
    outer.is_empty()
        || inner == outer
        || inner
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Decide what cannot be judged. `absent`: record areas of `RECORD_AREAS` (or their
/// parents) that do not exist in the root; `problems`: every problem of the scan and the
/// walks (the walk names every path it could not read in full by a problem). A problem lying under a record area (or above it: the whole
/// root, `image/`) makes the area's kinds undecided; one lying under a finding's path
/// makes that finding undecided.
pub fn judge(
    model: &Model,
    candidates: &[Candidate],
    absent: &[String],
    problems: &[Problem],
) -> Vec<CannotJudge> {
    let mut out: Vec<CannotJudge> = Vec::new();
    let holds_anything = !(model.images.is_empty()
        && model.layers.is_empty()
        && model.dirs.is_empty()
        && model.containers.is_empty()
        && model.stray_mounts.is_empty());
    // Reasons per area: the first two, then how many more.
    let mut reasons: Vec<Vec<String>> = Vec::new();
    // The reasons already given per entry: a root with many problems gives thousands.
    let mut seen: Vec<HashSet<String>> = Vec::new();
    // Where each area's entry is in `out` (one entry per damaged dir name: thousands).
    let mut at: HashMap<String, usize> = HashMap::new();
    let mut area_entry = |area: &str, kinds: &[&'static str], reason: String| {
        if let Some(&k) = at.get(area) {
            if seen[k].insert(reason.clone()) {
                reasons[k].push(reason);
            }
        } else {
            at.insert(area.to_owned(), out.len());
            seen.push(HashSet::from([reason.clone()]));
            out.push(CannotJudge {
                area: area.to_owned(),
                kinds: kinds.to_vec(),
                reason: String::new(),
                whole: true,
            });
            reasons.push(vec![reason]);
        }
    };
    // What is absent, when the root holds what it would claim: the top-most absent path
    // names it. Docker creates `layerdb/mounts` with the first container, and
    // `repositories.json` with the first tag, so a root without them may be clean.
    let cached: HashSet<&str> = model
        .layers
        .iter()
        .filter_map(|l| l.cache_id.as_deref())
        .collect();
    let unclaimed_dirs = model.dirs.iter().any(|d| !cached.contains(d.id.as_str()));
    for &(probe, area, relevant) in &[
        (
            "image/overlay2/imagedb",
            "image/overlay2/imagedb",
            holds_anything,
        ),
        (
            "image/overlay2/imagedb/content/sha256",
            "image/overlay2/imagedb",
            !model.layers.is_empty(),
        ),
        (
            "image/overlay2/layerdb",
            "image/overlay2/layerdb",
            holds_anything,
        ),
        (
            "image/overlay2/layerdb/sha256",
            "image/overlay2/layerdb",
            !(model.images.is_empty() && model.dirs.is_empty()),
        ),
        (
            "image/overlay2/layerdb/mounts",
            "image/overlay2/layerdb",
            !model.containers.is_empty() || unclaimed_dirs,
        ),
        (
            "image/overlay2/repositories.json",
            "image/overlay2/repositories.json",
            !model.images.is_empty(),
        ),
        ("containers", "containers", holds_anything),
    ] {
        if !relevant {
            continue;
        }
        let kinds = RECORD_AREAS
            .iter()
            .find(|(a, _)| *a == area)
            .map_or(&[][..], |(_, k)| *k);
        if let Some(top) = absent
            .iter()
            .filter(|a| beneath(probe, a))
            .min_by_key(|a| a.len())
        {
            area_entry(
                area,
                kinds,
                format!("{top} does not exist: the records it holds could not be read"),
            );
        }
    }
    // (path, reason, a read error: what lies under the path was not all seen)
    let failures: Vec<(&str, String, bool)> = problems
        .iter()
        .filter(|p| is_damage(p))
        .map(|p| {
            (
                p.path.as_str(),
                sanitize(&p.to_string()),
                p.kind == crate::problem::ProblemKind::Unreadable,
            )
        })
        .collect();
    let kinds_of = |area: &str| {
        RECORD_AREAS
            .iter()
            .find(|(a, _)| *a == area)
            .map_or(&[][..], |(_, k)| *k)
    };
    for (path, reason, _) in &failures {
        match record_damage(path) {
            Damage::Record(area) => area_entry(area, kinds_of(area), reason.clone()),
            Damage::DirName => area_entry(path, DIR_NAME_KINDS, reason.clone()),
            Damage::Nothing => {}
            Damage::Area => {
                for &(area, kinds) in RECORD_AREAS {
                    if beneath(path, area) || beneath(area, path) {
                        area_entry(area, kinds, reason.clone());
                    }
                }
            }
        }
        for &(area, kinds) in LISTING_AREAS {
            if *path == area || beneath(area, path) {
                area_entry(area, kinds, reason.clone());
            }
        }
    }
    for (e, r) in out.iter_mut().zip(&reasons) {
        e.reason = r.iter().take(2).cloned().collect::<Vec<_>>().join("; ");
        if r.len() > 2 {
            let _ = write!(e.reason, "; and {} more (see problems)", r.len() - 2);
        }
    }
    // A read failure inside what one finding names.
    let io_failures: Vec<&(&str, String, bool)> = failures.iter().filter(|f| f.2).collect();
    for cand in candidates.iter().filter(|c| c.reclaimable) {
        for p in &cand.paths {
            if let Some((_, reason, _)) = io_failures.iter().find(|(f, _, _)| beneath(f, p)) {
                if !out.iter().any(|e| e.area == *p) {
                    out.push(CannotJudge {
                        area: p.clone(),
                        kinds: vec![cand.kind],
                        reason: reason.clone(),
                        whole: false,
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| a.area.cmp(&b.area));
    out
}

impl CannotJudge {
    /// Does this leave the finding undecided?
    pub fn touches(&self, kind: &str, paths: &[String]) -> bool {
        self.kinds.contains(&kind) && (self.whole || paths.contains(&self.area))
    }
}

/// One line for stderr naming what could not be read.
pub fn cannot_judge_line(entries: &[CannotJudge]) -> String {
    let areas: Vec<String> = entries.iter().map(|e| sanitize(&e.area)).collect();
    format!(
        "cannot judge what is reclaimable: {} could not be read in full ({}); nothing that depends on it is called reclaimable",
        areas.join(", "),
        entries
            .first()
            .map_or_else(String::new, |e| e.reason.clone())
    )
}

impl Report for OrphansReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

const STOP_FIRST: &str =
    "stop the daemon, then remove the paths (after review: dockscope orphans --print0)";

/// Findings in the making: each path goes to the first candidate that claims it.
/// Shared by the overlay2 and the containerd-store classifiers.
pub(super) struct Claims {
    taken: HashSet<String>,
    /// Paths of reclaimable orphan findings and of pending removals: their links and
    /// lower files are moot (the driver removes a dir's link before the dir).
    orphaned: HashSet<String>,
    pub(super) out: Vec<Candidate>,
}

impl Claims {
    pub(super) fn new() -> Claims {
        Claims {
            taken: HashSet::new(),
            orphaned: HashSet::new(),
            out: Vec::new(),
        }
    }

    /// Add a candidate with the paths no earlier candidate took.
    pub(super) fn add(
        &mut self,
        kind: &'static str,
        paths: Vec<String>,
        reclaimable: bool,
        reason: String,
        cleanup: &str,
        docker: bool,
    ) {
        let paths: Vec<String> = paths
            .into_iter()
            .filter(|p| self.taken.insert(p.clone()))
            .collect();
        if reclaimable && (!docker || kind == "pending-removal") {
            self.orphaned.extend(paths.iter().cloned());
        }
        self.out.push(Candidate {
            kind,
            paths,
            reclaimable,
            reason,
            cleanup: cleanup.to_owned(),
            docker,
            raw: Vec::new(),
        });
    }
}

fn dir_paths(model: &Model, id: &str) -> Vec<String> {
    let mut v = vec![format!("overlay2/{id}")];
    if let Some(d) = model.dir_index(id) {
        for l in model.dir_links(d) {
            v.push(model.links[l].path.clone());
        }
    }
    v
}

fn layer_paths(model: &Model, l: usize) -> Vec<String> {
    let rec = &model.layers[l];
    let mut v = vec![rec.path.clone()];
    if let Some(c) = &rec.cache_id {
        if model.dir_index(c).is_some() {
            v.extend(dir_paths(model, c));
        }
    }
    v
}

/// Decide every finding from the model. `snapshots`: the BuildKit snapshot keys of
/// `buildkit/snapshots.db`, when it could be read.
pub fn classify(
    model: &Model,
    snapshots: Option<&HashSet<String>>,
    odd_dirs: &[Vec<u8>],
) -> Vec<Candidate> {
    let mut c = Claims::new();
    let loaded: Vec<usize> = model.loaded_images().collect();
    let mut by_image = vec![false; model.layers.len()];
    for &i in &loaded {
        for l in model.image_layers(i) {
            by_image[l] = true;
        }
    }
    let mut by_container = vec![false; model.layers.len()];
    for c in 0..model.containers.len() {
        for l in model.container_layers(c) {
            by_container[l] = true;
        }
    }

    // Images.
    for (i, im) in model.images.iter().enumerate() {
        let mut paths = vec![im.rec.path.clone()];
        if let Some(m) = &im.meta {
            paths.push(m.path.clone());
        }
        if !im.rec.digest_ok {
            c.add(
                "image-digest-mismatch",
                paths,
                false,
                format!(
                    "the SHA-256 of {} is not its name: Docker does not load it; the config was changed after it was written",
                    im.rec.id.short()
                ),
                "keep it for inspection; dockscope verify shows what changed",
                false,
            );
        } else if !im.loaded {
            let missing = im
                .chain()
                .iter()
                .find(|ch| {
                    model
                        .layer_index(ch)
                        .is_none_or(|l| !model.layer_loadable(l))
                })
                .map_or_else(String::new, |ch| ch.short().to_owned());
            c.add(
                "incomplete-image",
                paths,
                true,
                format!(
                    "layer {missing} of its chain is missing or broken: Docker drops this image at start, its config still holds bytes"
                ),
                STOP_FIRST,
                false,
            );
        } else if model.is_dangling(i) && model.image_containers(i).is_empty() {
            // `docker image prune` refuses an image a container (running or not) uses.
            for l in model.image_layers(i) {
                let only = model.layer_images(l) == [i] && !by_container[l];
                if only {
                    paths.extend(layer_paths(model, l));
                }
            }
            c.add(
                "dangling-image",
                paths,
                true,
                format!("image {} has no tag and no child", im.rec.id.short()),
                &format!("docker image prune (or docker rmi {})", im.rec.id.short()),
                true,
            );
        }
    }
    for m in &model.stray_image_meta {
        c.add(
            "imagedb-metadata-leftover",
            vec![m.path.clone()],
            true,
            format!("metadata for image {} whose config is gone", m.id.short()),
            STOP_FIRST,
            false,
        );
    }
    for t in &model.tags {
        if model.image_index(&t.image).is_none() {
            c.add(
                "dangling-tag",
                Vec::new(),
                false,
                format!(
                    "{IMAGE_DIR}/repositories.json: {} names image {} which has no config",
                    t.reference,
                    t.image.short()
                ),
                &format!(
                    "docker rmi {} (or stop the daemon and edit repositories.json)",
                    t.reference
                ),
                false,
            );
        }
    }

    // Layers.
    for (l, rec) in model.layers.iter().enumerate() {
        let reached = by_image[l] || by_container[l];
        let cache_missing = rec
            .cache_id
            .as_ref()
            .is_some_and(|id| model.dir_index(id).is_none());
        let parent_missing = rec
            .parent
            .as_ref()
            .is_some_and(|p| model.layer_index(p).is_none());
        if !rec.complete {
            c.add(
                "partial-layer",
                layer_paths(model, l),
                true,
                "layerdb entry lacks or garbles diff, cache-id or size: Docker cannot load it, and it blocks a later pull of the same layer".into(),
                STOP_FIRST,
                false,
            );
        } else if parent_missing {
            c.add(
                "missing-parent",
                layer_paths(model, l),
                true,
                format!(
                    "its parent layer {} is not in layerdb: Docker drops this layer and every image on it",
                    rec.parent.as_ref().map_or("", |p| p.short())
                ),
                STOP_FIRST,
                false,
            );
        } else if cache_missing {
            c.add(
                "missing-cache-dir",
                vec![rec.path.clone()],
                !reached,
                format!(
                    "its overlay2 dir {} does not exist",
                    rec.cache_id.as_deref().unwrap_or_default()
                ),
                if reached {
                    "remove and pull again the images that use it (docker rmi, docker pull)"
                } else {
                    STOP_FIRST
                },
                false,
            );
        } else if !reached {
            c.add(
                "unreferenced-layer",
                layer_paths(model, l),
                true,
                "no image's layer chain and no container reaches this layer".into(),
                STOP_FIRST,
                false,
            );
        } else if !by_image[l] {
            c.add(
                "container-only-layer",
                layer_paths(model, l),
                true,
                "pinned only by a container whose image was removed".into(),
                "docker rm the containers that use it; Docker then frees the layer",
                true,
            );
        }
    }

    // Containers and mounts.
    for (k, ct) in model.containers.iter().enumerate() {
        let id = ct.rec.id.as_str();
        let ctr_dir = format!("containers/{id}");
        let Some(mount) = &ct.mount else {
            c.add(
                "container-without-mount",
                vec![ctr_dir],
                true,
                format!("no {IMAGE_DIR}/layerdb/mounts/{id}: Docker cannot load this container"),
                STOP_FIRST,
                false,
            );
            continue;
        };
        let (rw, init) = model.container_dirs(k);
        if rw.is_none() {
            c.add(
                "missing-rw-dir",
                vec![ctr_dir.clone(), mount.path.clone()],
                false,
                format!(
                    "its RW dir overlay2/{} does not exist",
                    mount.mount_id.as_deref().unwrap_or("?")
                ),
                &format!("docker rm {}", ct.rec.id.short()),
                false,
            );
            continue;
        }
        if ct.rec.image.is_some() && model.container_image(k).is_none() {
            c.add(
                "container-missing-image",
                Vec::new(),
                false,
                format!(
                    "container {} ({}) was created from image {}, whose config is gone (docker rmi -f)",
                    ct.rec.id.short(),
                    ct.rec.name.trim_start_matches('/'),
                    ct.rec.image.as_ref().map_or("", |i| i.short())
                ),
                "none needed while the container is kept; docker rm frees its layers",
                false,
            );
        }
        let volumes: HashSet<&str> = model.volumes.iter().map(|v| v.name.as_str()).collect();
        let mut missing: Vec<(&str, &str)> = ct
            .rec
            .mounts
            .iter()
            .filter(|mp| {
                (mp.kind == "volume" || (mp.kind.is_empty() && !mp.name.is_empty()))
                    && (mp.driver.is_empty() || mp.driver == "local")
                    && !volumes.contains(mp.name.as_str())
            })
            .map(|mp| (mp.name.as_str(), mp.destination.as_str()))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        for (name, dest) in missing {
            c.add(
                "container-missing-volume",
                Vec::new(),
                false,
                format!(
                    "container {} ({}) mounts volume {} at {}, which is not in volumes/",
                    ct.rec.id.short(),
                    sanitize(ct.rec.name.trim_start_matches('/')),
                    sanitize(name),
                    sanitize(dest)
                ),
                "restore the volume, or docker rm the container (Docker would start it with a new, empty volume of that name)",
                false,
            );
        }
        let st = &ct.rec.state;
        if !(st.running || st.paused || st.restarting) {
            let mut paths = Vec::new();
            for d in [rw, init].into_iter().flatten() {
                paths.extend(dir_paths(model, &model.dirs[d].id));
            }
            paths.push(ctr_dir);
            paths.push(mount.path.clone());
            c.add(
                "stopped-container",
                paths,
                true,
                format!(
                    "container {} is not running",
                    ct.rec.name.trim_start_matches('/')
                ),
                &format!(
                    "docker container prune (or docker rm {})",
                    ct.rec.id.short()
                ),
                true,
            );
        }
    }
    for m in &model.stray_mounts {
        let mut paths = vec![m.path.clone()];
        for id in [&m.mount_id, &m.init_id].into_iter().flatten() {
            if model.dir_index(id).is_some() {
                paths.extend(dir_paths(model, id));
            }
        }
        c.add(
            "mount-without-container",
            paths,
            true,
            format!("no containers/{} for this RW layer", m.container_id),
            STOP_FIRST,
            false,
        );
    }

    // Interrupted work.
    for t in &model.layerdb_tmp {
        let mut paths = vec![t.path.clone()];
        if let Some(id) = &t.cache_id {
            if model.dir_index(id).is_some() {
                paths.extend(dir_paths(model, id));
            }
        }
        c.add(
            "layerdb-tmp-leftover",
            paths,
            true,
            "a layer registration that never finished (a crash or kill during a pull or build)"
                .into(),
            STOP_FIRST,
            false,
        );
    }
    for path in &model.download_tmp {
        c.add(
            "download-tmp-leftover",
            vec![path.clone()],
            true,
            "a partial download (GetImageBlob*) left by a pull that did not finish; the daemon clears tmp/ at its next start".into(),
            "restart the daemon (it empties tmp/), or stop it and remove the path",
            false,
        );
    }
    for r in &model.removing {
        let mut paths = vec![r.path.clone()];
        if let Some(id) = &r.cache_id {
            if model.dir_index(id).is_some() {
                paths.extend(dir_paths(model, id));
            }
        }
        c.add(
            "pending-removal",
            paths,
            true,
            "a layer deletion that did not finish".into(),
            "restart the daemon: a clean shutdown removes *-removing entries",
            true,
        );
    }

    // overlay2 dirs nothing names.
    let mut named: HashSet<&str> = HashSet::new();
    for l in &model.layers {
        named.extend(l.cache_id.as_deref());
    }
    for m in model
        .containers
        .iter()
        .filter_map(|c| c.mount.as_ref())
        .chain(&model.stray_mounts)
    {
        named.extend(m.mount_id.as_deref());
        named.extend(m.init_id.as_deref());
    }
    for d in &model.dirs {
        if named.contains(d.id.as_str()) {
            continue;
        }
        let path = format!("overlay2/{}", d.id);
        if c.taken.contains(&path) {
            continue;
        }
        if d.form == DirIdForm::Buildkit && snapshots.is_none_or(|s| s.contains(&d.id)) {
            c.add(
                "build-cache",
                dir_paths(model, &d.id),
                true,
                "a BuildKit snapshot (build cache)".into(),
                "docker builder prune",
                true,
            );
        } else {
            let why = if d.form == DirIdForm::Buildkit {
                "named by no layerdb cache-id, no container mount and not in buildkit/snapshots.db"
            } else {
                "named by no layerdb cache-id and no container mount (mount-id, init-id)"
            };
            c.add(
                "orphan-cache-dir",
                dir_paths(model, &d.id),
                true,
                why.into(),
                STOP_FIRST,
                false,
            );
        }
    }

    // overlay2 dirs whose names are not UTF-8: no record can name them (ids are hex or
    // base32), so nothing claims them.
    for name in odd_dirs {
        let path = format!("overlay2/{}", super::escape_bytes(name));
        if !c.taken.insert(path.clone()) {
            continue;
        }
        let mut raw = b"overlay2/".to_vec();
        raw.extend_from_slice(name);
        c.orphaned.insert(path.clone());
        c.out.push(Candidate {
            kind: "orphan-cache-dir",
            paths: vec![path.clone()],
            reclaimable: true,
            reason: "its name is not UTF-8: Docker never names a dir so, and no layerdb cache-id, container mount or BuildKit snapshot can name it".into(),
            cleanup: STOP_FIRST.to_owned(),
            docker: false,
            raw: vec![(path, raw)],
        });
    }

    // l/ links and lower files.
    for l in &model.links {
        if c.taken.contains(&l.path) {
            continue;
        }
        match l.dir_id.as_ref().and_then(|id| model.dir_index(id)) {
            Some(d) if !model.dirs[d].has_diff => c.add(
                "dangling-l-link",
                vec![l.path.clone()],
                true,
                format!(
                    "points at overlay2/{}/diff, which does not exist (the dir has no diff/)",
                    sanitize(&model.dirs[d].id)
                ),
                STOP_FIRST,
                false,
            ),
            None => c.add(
                "dangling-l-link",
                vec![l.path.clone()],
                true,
                format!(
                    "points at {} which is not an existing overlay2/<id>/diff",
                    sanitize(l.target.as_deref().unwrap_or("nothing"))
                ),
                STOP_FIRST,
                false,
            ),
            Some(d) if model.dirs[d].link.as_deref() != Some(l.name.as_str()) => c.add(
                "wrong-l-link",
                vec![l.path.clone()],
                false,
                format!(
                    "points at overlay2/{} whose link file names {}",
                    model.dirs[d].id,
                    model.dirs[d].link.as_deref().unwrap_or("nothing")
                ),
                "stop the daemon and make the link match the dir's link file",
                false,
            ),
            Some(_) => {}
        }
    }
    let link_names: HashSet<&str> = model.links.iter().map(|l| l.name.as_str()).collect();
    for d in &model.dirs {
        if c.orphaned.contains(&format!("overlay2/{}", d.id)) {
            continue;
        }
        if let Some(link) = &d.link {
            if !link_names.contains(link.as_str()) {
                c.add(
                    "missing-l-link",
                    vec![format!("{}/link", d.path)],
                    false,
                    format!("its link file names l/{link}, which does not exist: mounts of layers above it fail"),
                    "stop the daemon and recreate the link: l/<name> -> ../<id>/diff",
                    false,
                );
            }
        }
        let unknown: Vec<&str> = d.lower().filter(|n| !link_names.contains(n)).collect();
        if !unknown.is_empty() {
            c.add(
                "unknown-lower-link",
                vec![format!("{}/lower", d.path)],
                false,
                format!(
                    "its lower file names l/{}, which does not exist",
                    unknown.join(", l/")
                ),
                "stop the daemon and recreate the links",
                false,
            );
        }
    }
    let mut out = c.out;
    out.sort_by(|a, b| {
        (a.docker, a.kind, &a.paths, &a.reason).cmp(&(b.docker, b.kind, &b.paths, &b.reason))
    });
    out
}

/// Put findings and measured paths together.
pub fn build(
    candidates: Vec<Candidate>,
    sizes: &HashMap<String, Usage>,
    known_disk: bool,
    problems: Vec<Problem>,
    cannot_judge: Vec<CannotJudge>,
) -> OrphansReport {
    let mut findings = Vec::new();
    let mut docker = Vec::new();
    let mut totals = Totals {
        reclaimable_disk_bytes: known_disk.then_some(0),
        docker_reclaimable_disk_bytes: known_disk.then_some(0),
        ..Totals::default()
    };
    for cand in candidates {
        let mut apparent = 0;
        let mut disk = known_disk.then_some(0u64);
        for p in &cand.paths {
            if let Some(u) = sizes.get(p) {
                apparent = crate::model::size::add_capped(apparent, u.apparent_bytes);
                disk = disk
                    .zip(u.disk_bytes)
                    .map(|(a, b)| crate::model::size::add_capped(a, b));
            }
        }
        let undecided = cannot_judge
            .iter()
            .any(|e| e.touches(cand.kind, &cand.paths));
        let f = Finding {
            kind: cand.kind,
            paths: cand.paths,
            apparent_bytes: apparent,
            disk_bytes: disk,
            reclaimable: cand.reclaimable && !undecided,
            reason: cand.reason,
            cleanup: cand.cleanup,
            raw_paths: cand
                .raw
                .iter()
                .map(|(p, b)| {
                    use base64::Engine as _;
                    (
                        p.clone(),
                        base64::engine::general_purpose::STANDARD.encode(b),
                    )
                })
                .collect(),
            raw: cand.raw,
        };
        if cand.docker {
            totals.docker_reclaimable += 1;
            if f.reclaimable {
                totals.docker_reclaimable_apparent_bytes = crate::model::size::add_capped(
                    totals.docker_reclaimable_apparent_bytes,
                    f.apparent_bytes,
                );
                totals.docker_reclaimable_disk_bytes = totals
                    .docker_reclaimable_disk_bytes
                    .zip(f.disk_bytes)
                    .map(|(a, b)| crate::model::size::add_capped(a, b));
            }
            docker.push(f);
        } else {
            totals.findings += 1;
            if f.reclaimable {
                totals.reclaimable_apparent_bytes = crate::model::size::add_capped(
                    totals.reclaimable_apparent_bytes,
                    f.apparent_bytes,
                );
                totals.reclaimable_disk_bytes = totals
                    .reclaimable_disk_bytes
                    .zip(f.disk_bytes)
                    .map(|(a, b)| crate::model::size::add_capped(a, b));
            }
            findings.push(f);
        }
    }
    OrphansReport {
        findings,
        docker_reclaimable: docker,
        totals,
        cannot_judge,
        problems,
    }
}

fn bytes_of(f: &Finding) -> String {
    f.disk_bytes
        .map_or_else(|| human_size(f.apparent_bytes), human_size)
}

pub fn render(r: &OrphansReport, out: &mut dyn Write) -> io::Result<()> {
    render_cannot_judge(&r.cannot_judge, out)?;
    if r.findings.is_empty() {
        writeln!(out, "No orphans or broken references.")?;
    } else {
        writeln!(out, "Findings (leftovers and broken references):\n")?;
        for f in &r.findings {
            let undecided = r.cannot_judge.iter().any(|e| e.touches(f.kind, &f.paths));
            let what = if f.reclaimable {
                "reclaimable"
            } else if undecided {
                "cannot judge"
            } else {
                "not reclaimable"
            };
            writeln!(out, "{}  {}  ({what})", f.kind, bytes_of(f))?;
            writeln!(out, "  why:   {}", sanitize(&f.reason))?;
            for p in &f.paths {
                writeln!(out, "  path:  {}", sanitize(p))?;
            }
            writeln!(out, "  clean: {}", f.cleanup)?;
        }
    }
    writeln!(out)?;
    let mut per: BTreeMap<(&str, bool), (usize, u64, Option<u64>)> = BTreeMap::new();
    for (f, docker) in r
        .findings
        .iter()
        .map(|f| (f, false))
        .chain(r.docker_reclaimable.iter().map(|f| (f, true)))
    {
        let e = per.entry((f.kind, docker)).or_insert((0, 0, Some(0)));
        e.0 += 1;
        e.1 = crate::model::size::add_capped(e.1, f.apparent_bytes);
        e.2 =
            e.2.zip(f.disk_bytes)
                .map(|(a, b)| crate::model::size::add_capped(a, b));
    }
    let mut t = table(&["KIND", "WHO FREES IT", "COUNT", "DISK", "APPARENT"]);
    for ((kind, docker), (n, apparent, disk)) in per {
        t.add_row(vec![
            kind.to_owned(),
            if docker {
                "docker".into()
            } else {
                "nobody (orphan)".to_owned()
            },
            n.to_string(),
            disk.map_or_else(|| "unknown".into(), human_size),
            human_size(apparent),
        ]);
    }
    write_table(t, out)?;
    let tt = &r.totals;
    writeln!(
        out,
        "\n{} finding(s); reclaimable by hand: {} on disk ({} apparent). Docker would free {} itself.",
        tt.findings,
        tt.reclaimable_disk_bytes.map_or_else(|| "unknown".into(), human_size),
        human_size(tt.reclaimable_apparent_bytes),
        tt.docker_reclaimable_disk_bytes
            .map_or_else(|| human_size(tt.docker_reclaimable_apparent_bytes), human_size),
    )?;
    Ok(())
}

/// The "cannot judge" block that opens the human `orphans` and `check` reports.
pub fn render_cannot_judge(entries: &[CannotJudge], out: &mut dyn Write) -> io::Result<()> {
    for e in entries {
        writeln!(
            out,
            "cannot judge: {} ({}): {}",
            sanitize(&e.area),
            e.kinds.join(", "),
            sanitize(&e.reason)
        )?;
    }
    if !entries.is_empty() {
        writeln!(
            out,
            "  nothing of these kinds is called reclaimable until the records can be read\n"
        )?;
    }
    Ok(())
}

/// `--print0`: the reclaimable findings' paths, NUL-separated: absolute for a directory
/// root, relative to the data root for an archive.
pub fn print0(
    r: &OrphansReport,
    root: &std::path::Path,
    archive: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    for f in r.findings.iter().filter(|f| f.reclaimable) {
        for p in &f.paths {
            // A name that is not UTF-8 is written as its exact bytes.
            let bytes = f
                .raw
                .iter()
                .find(|(shown, _)| shown == p)
                .map_or(p.as_bytes(), |(_, b)| b.as_slice());
            if archive {
                out.write_all(bytes)?;
            } else {
                out.write_all(
                    root.join(std::ffi::OsStr::from_bytes(bytes))
                        .as_os_str()
                        .as_bytes(),
                )?;
            }
            out.write_all(b"\0")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::ProblemKind;

    fn candidate(kind: &'static str, path: &str) -> Candidate {
        Candidate {
            kind,
            paths: vec![path.to_owned()],
            reclaimable: true,
            reason: String::new(),
            cleanup: String::new(),
            docker: false,
            raw: Vec::new(),
        }
    }

    /// A read error under a finding's path leaves that finding (and only it) undecided.
    #[test]
    fn read_errors_touch_what_they_lie_under() {
        let model = Model::build(crate::scan::Scan::default());
        let cands = [
            candidate("orphan-cache-dir", "overlay2/aaa"),
            candidate("orphan-cache-dir", "overlay2/bbb"),
        ];
        let eacces = Problem::new(
            "overlay2/aaa/diff/etc",
            ProblemKind::Unreadable,
            "Permission denied (os error 13)",
        );
        let cj = judge(&model, &cands, &[], &[eacces]);
        assert_eq!(cj.len(), 1, "{cj:?}");
        assert_eq!(cj[0].area, "overlay2/aaa");
        assert!(cj[0].touches("orphan-cache-dir", &cands[0].paths));
        assert!(!cj[0].touches("orphan-cache-dir", &cands[1].paths));
        // A malformed file inside a finding is that finding's own story, not a read error.
        let bad = Problem::new("overlay2/aaa/link", ProblemKind::Malformed, "bad");
        assert!(judge(&model, &cands, &[], &[bad]).is_empty());
        // An empty root has nothing to judge: absent areas do not matter.
        assert!(judge(&model, &cands, &["containers".into()], &[]).is_empty());
    }

    #[test]
    fn record_damage_scopes() {
        assert!(matches!(
            record_damage("image/overlay2/layerdb/sha256/abc/cache-id"),
            Damage::DirName
        ));
        assert!(matches!(
            record_damage("image/overlay2/layerdb/sha256/abc/size"),
            Damage::Nothing
        ));
        assert!(matches!(
            record_damage("image/overlay2/layerdb/sha256/abc"),
            Damage::Record("image/overlay2/layerdb")
        ));
        assert!(matches!(
            record_damage("containers/abc/config.v2.json"),
            Damage::Record("containers")
        ));
        assert!(matches!(
            record_damage("containers/abc/hostconfig.json"),
            Damage::Nothing
        ));
        assert!(matches!(record_damage(""), Damage::Area));
        assert!(beneath("a/b", "a") && beneath("a", "a") && beneath("x", ""));
        assert!(!beneath("ab", "a"));
    }
}
