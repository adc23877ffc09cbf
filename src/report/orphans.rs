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
    pub problems: Vec<Problem>,
}

impl Report for OrphansReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

const STOP_FIRST: &str =
    "stop the daemon, then remove the paths (after review: dockscope orphans --print0)";

struct Claims {
    taken: HashSet<String>,
    /// Paths of reclaimable orphan findings and of pending removals: their links and
    /// lower files are moot (the driver removes a dir's link before the dir).
    orphaned: HashSet<String>,
    out: Vec<Candidate>,
}

impl Claims {
    /// Add a candidate with the paths no earlier candidate took.
    fn add(
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
pub fn classify(model: &Model, snapshots: Option<&HashSet<String>>) -> Vec<Candidate> {
    let mut c = Claims {
        taken: HashSet::new(),
        orphaned: HashSet::new(),
        out: Vec::new(),
    };
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
        } else if model.is_dangling(i) {
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

    // l/ links and lower files.
    for l in &model.links {
        if c.taken.contains(&l.path) {
            continue;
        }
        match l.dir_id.as_ref().and_then(|id| model.dir_index(id)) {
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
        let f = Finding {
            kind: cand.kind,
            paths: cand.paths,
            apparent_bytes: apparent,
            disk_bytes: disk,
            reclaimable: cand.reclaimable,
            reason: cand.reason,
            cleanup: cand.cleanup,
        };
        if cand.docker {
            totals.docker_reclaimable += 1;
            totals.docker_reclaimable_apparent_bytes = crate::model::size::add_capped(
                totals.docker_reclaimable_apparent_bytes,
                f.apparent_bytes,
            );
            totals.docker_reclaimable_disk_bytes = totals
                .docker_reclaimable_disk_bytes
                .zip(f.disk_bytes)
                .map(|(a, b)| crate::model::size::add_capped(a, b));
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
        problems,
    }
}

fn bytes_of(f: &Finding) -> String {
    f.disk_bytes
        .map_or_else(|| human_size(f.apparent_bytes), human_size)
}

pub fn render(r: &OrphansReport, out: &mut dyn Write) -> io::Result<()> {
    if r.findings.is_empty() {
        writeln!(out, "No orphans or broken references.")?;
    } else {
        writeln!(out, "Findings (leftovers and broken references):\n")?;
        for f in &r.findings {
            let what = if f.reclaimable {
                "reclaimable"
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

/// `--print0`: the reclaimable findings' paths, NUL-separated: absolute for a directory
/// root, relative to the data root for an archive.
pub fn print0(
    r: &OrphansReport,
    root: &std::path::Path,
    archive: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    for f in r.findings.iter().filter(|f| f.reclaimable) {
        for p in &f.paths {
            if archive {
                out.write_all(p.as_bytes())?;
            } else {
                out.write_all(root.join(p).as_os_str().as_encoded_bytes())?;
            }
            out.write_all(b"\0")?;
        }
    }
    Ok(())
}
