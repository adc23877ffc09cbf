//! Docker's containerd image store: the sizes the daemon computes in this mode, which the
//! classic reports cannot know (they come from containerd's root, not Docker's).
//!
//! SizeRw is the snapshotter's usage of the container's active snapshot: a disk-usage
//! walk of `snapshots/<id>/fs` (allocated blocks of every entry, directories and the
//! `fs/` root included, each inode once). SizeRootFs adds the `-init` snapshot and the
//! image's chain (sizes stored at commit).

use crate::model::ids::ChainId;
use crate::model::Model;
use crate::problem::{Problem, ProblemKind};
use crate::report::du::DuReport;
use crate::root::DataRoot;
use crate::scan::containerd::{shown, OVERLAYFS};
use crate::walk;
use std::collections::HashMap;

/// Usage of an active snapshot: what the overlayfs snapshotter's `Usage` walks.
/// On an archive (no allocated blocks) the apparent size stands in, with a problem.
pub fn active_usage(croot: &DataRoot, id: u64, problems: &mut Vec<Problem>) -> u64 {
    snapshot_usage(croot, None, id, problems)
}

/// [`active_usage`], from the walk of containerd's root when there is one (its
/// `snapshots/<n>/fs` bucket), else measured now.
fn snapshot_usage(
    croot: &DataRoot,
    walked: Option<&walk::WalkResult>,
    id: u64,
    problems: &mut Vec<Problem>,
) -> u64 {
    let u = if let Some(w) = walked {
        snapshot_buckets(w, croot.sizes_known(), &id.to_string()).1
    } else {
        let rel = format!("{OVERLAYFS}/snapshots/{id}/fs");
        let (u, p) = walk::measure(croot, &rel);
        for mut pr in p {
            pr.path = shown(&pr.path);
            problems.push(pr);
        }
        u
    };
    match u.disk_bytes {
        Some(d) => d,
        None => u.apparent_bytes,
    }
}

/// A snapshot dir's usage from the walk of containerd's root: the whole dir
/// (`snapshots/<n>` with its `fs/` and `work/`), and its `fs/`. A dir that is not there
/// holds nothing.
fn snapshot_buckets(w: &walk::WalkResult, known_disk: bool, n: &str) -> (walk::Usage, walk::Usage) {
    let empty = walk::Usage {
        disk_bytes: known_disk.then_some(0),
        ..walk::Usage::default()
    };
    let get = |b: walk::Bucket| w.buckets.get(&b).copied().unwrap_or(empty);
    let fs = get(walk::Bucket::SnapshotFs(n.to_owned()));
    let mut all = get(walk::Bucket::SnapshotRest(n.to_owned()));
    all.add(&fs);
    (all, fs)
}

/// (SizeRw, SizeRootFs) per container id, as the daemon computes them in this mode.
pub fn container_sizes(
    model: &Model,
    croot: &DataRoot,
    walked: Option<&walk::WalkResult>,
    problems: &mut Vec<Problem>,
) -> HashMap<String, (u64, u64)> {
    let mut out = HashMap::new();
    let Some(c8d) = model.containerd.as_ref() else {
        return out;
    };
    let mut cache: HashMap<u64, u64> = HashMap::new();
    let mut measure = |id: u64, problems: &mut Vec<Problem>| -> u64 {
        *cache
            .entry(id)
            .or_insert_with(|| snapshot_usage(croot, walked, id, problems))
    };
    for ct in &model.containers {
        let id = ct.rec.id.as_str();
        let Some(s) = c8d.snapshots.get(id) else {
            continue;
        };
        let rw = match (s.kind, s.id) {
            (Some("active"), Some(n)) => measure(n, problems),
            (Some("committed"), _) => crate::scan::containerd::nonneg(s.size.unwrap_or(0)),
            _ => 0,
        };
        // Active snapshots below the RW one are rare (none in Docker's own chains); measure them too.
        let below_active = std::cell::RefCell::new(Vec::new());
        let below = s
            .parent
            .as_deref()
            .and_then(|p| {
                c8d.chain_usage(p, &|n| {
                    below_active.borrow_mut().push(n);
                    0
                })
            })
            .unwrap_or(0);
        let extra: u64 = below_active
            .into_inner()
            .into_iter()
            .map(|n| measure(n, problems))
            .sum();
        out.insert(id.to_owned(), (rw, rw + below + extra));
    }
    if !croot.sizes_known() && !out.is_empty() {
        problems.push(Problem::new(
            shown(&format!("{OVERLAYFS}/snapshots")),
            ProblemKind::NotAnalysed,
            "containers' SizeRw is the allocated blocks of their RW snapshot; an archive has no blocks, so apparent sizes stand in",
        ));
    }
    out
}

/// Replace the classic containers' sizes of a du report with the daemon's numbers in
/// this mode.
pub fn patch_du(du: &mut DuReport, model: &Model, croot: Option<&DataRoot>) {
    patch_du_walked(du, model, croot, None, None);
}

/// [`patch_du`] with the snapshots' usage taken from `walked`, the walk of containerd's
/// root ([`walk::Tree::Containerd`]) when there is one, instead of measuring them again;
/// `records`: [`images_df_records`] when computed already.
pub fn patch_du_walked(
    du: &mut DuReport,
    model: &Model,
    croot: Option<&DataRoot>,
    walked: Option<&walk::WalkResult>,
    records: Option<ImagesDf>,
) {
    let Some(croot) = croot else {
        return;
    };
    let mut problems = Vec::new();
    let sizes = container_sizes(model, croot, walked, &mut problems);
    for c in &mut du.containers {
        if let Some(&(rw, rootfs)) = sizes.get(c.id.as_str()) {
            c.size_rw = rw;
            c.size_root_fs = rootfs;
        }
    }
    images_df(du, model, croot, walked, records, &mut problems);
    du.problems.extend(problems);
    du.problems.sort();
    du.problems.dedup();
}

/// `info`'s section for the containerd image store.
#[derive(serde::Serialize, Clone, Debug)]
pub struct C8dInfo {
    /// containerd's root, and the rule that found it (`flag`, `sibling`, `embedded`, `archive`).
    pub root: Option<String>,
    pub found_by: Option<&'static str>,
    /// `overlayfs`
    pub driver: &'static str,
    /// `io.containerd.snapshotter.v1`, as `docker info` reports it.
    pub driver_type: &'static str,
    /// The namespace Docker's images were read from.
    pub namespace: String,
    /// `docker info` Images: the namespace's image records (one per name).
    pub image_records: usize,
    pub namespaces: Vec<NamespaceCounts>,
    /// Why containerd's records could not be read (nothing is then reclaimable).
    pub unusable: Option<String>,
}

#[derive(serde::Serialize, Clone, Debug, Default)]
pub struct NamespaceCounts {
    pub name: String,
    pub images: usize,
    pub containers: usize,
    pub blobs: usize,
    pub snapshots: usize,
    pub leases: usize,
    pub ingests: usize,
}

pub fn info(model: &Model) -> Option<C8dInfo> {
    let c = model.containerd.as_ref()?;
    let mut namespaces = Vec::new();
    let mut image_records = 0;
    if let Some(store) = &c.store {
        for ns in &store.meta.namespaces {
            let m = &store.meta;
            let counts = NamespaceCounts {
                name: ns.clone(),
                images: m.images.iter().filter(|x| &x.namespace == ns).count(),
                containers: m.containers.iter().filter(|x| &x.namespace == ns).count(),
                blobs: m.blobs.iter().filter(|x| &x.namespace == ns).count(),
                snapshots: m.snapshots.iter().filter(|x| &x.namespace == ns).count(),
                leases: m.leases.iter().filter(|x| &x.namespace == ns).count(),
                ingests: m.ingests.iter().filter(|x| &x.namespace == ns).count(),
            };
            if *ns == c.namespace {
                image_records = counts.images;
            }
            namespaces.push(counts);
        }
    }
    Some(C8dInfo {
        root: c.found.as_ref().map(|f| f.path.clone()),
        found_by: c.found.as_ref().map(|f| f.rule),
        driver: "overlayfs",
        driver_type: "io.containerd.snapshotter.v1",
        namespace: c.namespace.clone(),
        image_records,
        namespaces,
        unusable: c.unusable.as_ref().map(|u| u.reason.clone()),
    })
}

pub fn render_info(i: &C8dInfo, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use crate::report::{sanitize, table, write_table};
    writeln!(
        out,
        "containerd root: {}{}",
        sanitize(i.root.as_deref().unwrap_or("(not found)")),
        i.found_by
            .map_or(String::new(), |r| format!(" (found by rule: {r})"))
    )?;
    writeln!(out, "driver-type:     {}", i.driver_type)?;
    writeln!(
        out,
        "Images:          {} image records in namespace {}",
        i.image_records,
        sanitize(&i.namespace)
    )?;
    if let Some(u) = &i.unusable {
        writeln!(out, "containerd:      {}", sanitize(u))?;
    }
    let mut t = table(&[
        "NAMESPACE",
        "IMAGES",
        "CONTAINERS",
        "BLOBS",
        "SNAPSHOTS",
        "LEASES",
        "INGESTS",
    ]);
    for n in &i.namespaces {
        t.add_row(vec![
            sanitize(&n.name),
            n.images.to_string(),
            n.containers.to_string(),
            n.blobs.to_string(),
            n.snapshots.to_string(),
            n.leases.to_string(),
            n.ingests.to_string(),
        ]);
    }
    if !i.namespaces.is_empty() {
        write_table(t, out)?;
    }
    Ok(())
}

/// A layer's containerd facts, for `tree` (flattened into its JSON layer object).
#[derive(serde::Serialize, Clone, Debug)]
pub struct LayerC8d {
    /// The compressed layer blob (digest, size, media type), from the image's manifest.
    pub blob: Option<crate::scan::containerd::content::Desc>,
    /// The blob is in the content store (and recorded in the namespace).
    pub blob_present: bool,
    /// The snapshot's key in the namespace (= the chain id).
    pub snapshot_key: String,
    /// `containerd:io.containerd.snapshotter.v1.overlayfs/snapshots/<n>`.
    pub snapshot_dir: Option<String>,
    /// `committed`, `active`, `view`, or null when the snapshot is missing.
    pub snapshot_kind: Option<&'static str>,
}

/// `pos`: the layer's place in the image's stack (its blob is the image's own, from
/// the manifest Docker shows: another image may hold the same layer compressed otherwise).
pub fn layer(
    model: &Model,
    image: &crate::model::ids::ImageId,
    pos: usize,
    chain: &crate::model::ids::ChainId,
) -> Option<LayerC8d> {
    let c = model.containerd.as_ref()?;
    let f = c.layers.get(chain.as_str())?;
    let own = c
        .image(image)
        .and_then(|i| i.best_manifest())
        .filter(|m| m.chain_ids.get(pos).map(ChainId::as_str) == Some(chain.as_str()))
        .and_then(|m| m.layers.get(pos).cloned());
    let present = |d: &str| {
        c.store.as_ref().is_some_and(|s| {
            s.meta
                .blobs
                .iter()
                .any(|b| b.namespace == c.namespace && b.digest == d)
        })
    };
    let (blob, blob_present) = match own {
        Some(b) => {
            let p = present(&b.digest);
            (Some(b), p)
        }
        None => (f.blob.clone(), f.blob_present),
    };
    Some(LayerC8d {
        blob,
        blob_present,
        snapshot_key: f.snapshot_key.clone(),
        snapshot_dir: f.snapshot_dir.as_deref().map(shown),
        snapshot_kind: f.kind,
    })
}

/// The images `docker history` names, top first, in the containerd store: from the
/// image's first record (by name), each step to the parent its classic-builder label
/// names, continuing from the last parent record that has the label itself.
pub fn history_images(model: &Model, image: usize) -> Vec<usize> {
    let mut out = vec![image];
    let Some(c) = model.containerd.as_ref() else {
        return out;
    };
    let mut label = c
        .image(&model.images[image].rec.id)
        .and_then(|f| f.record_parents.first().cloned().flatten());
    while let Some(p) = label.take() {
        if out.len() > model.images.len() {
            break; // a label cycle (tampered records)
        }
        let Some(pid) = crate::model::ids::ImageId::parse(&p) else {
            break;
        };
        let (Some(pi), Some(pf)) = (model.image_index(&pid), c.image(&pid)) else {
            break;
        };
        if !model.images[pi].loaded {
            break;
        }
        out.push(pi);
        label = pf
            .record_parents
            .iter()
            .rev()
            .find(|l| l.is_some())
            .cloned()
            .flatten();
    }
    out
}

/// `docker system df`'s images in this mode, the part that needs the records alone
/// ([`images_df_records`]): `du` computes it beside the walks, which take longer.
pub struct ImagesDf {
    images: Vec<crate::report::du::ImageUsage>,
    /// Present content reachable from any image record, each digest once.
    content: u64,
    /// Committed snapshots' usage (stored at commit).
    committed: u64,
    /// Active snapshots counted in LayersSize, measured from the walk.
    active: Vec<u64>,
}

/// `docker system df`'s images in this mode: per listed image the daemon's Size and
/// SharedSize (Usage of each chain id held by more than one listed image), and
/// LayersSize: Docker 28 sums the usage of every snapshot of the namespace (image
/// layers, containers' RW and `-init`, BuildKit's) and the present content reachable
/// from any image record (each digest once); Docker 29 counts the images' snapshot
/// chains (each snapshot once) instead of every snapshot. `None` without containerd's
/// records.
pub fn images_df_records(model: &Model) -> Option<ImagesDf> {
    use crate::model::ids::{FastMap, FastSet};
    let c8d = model.containerd.as_ref()?;
    let store = c8d.store.as_ref()?;
    let listed: Vec<usize> = model
        .loaded_images()
        .filter(|&i| model.is_listed(i))
        .collect();
    let mut holders: FastMap<&str, usize> = FastMap::default();
    for &i in &listed {
        if let Some(f) = c8d.image(&model.images[i].rec.id) {
            for ch in f.all_chain_ids() {
                *holders.entry(ch.as_str()).or_default() += 1;
            }
        }
    }
    let usage_of = |key: &str| -> u64 {
        c8d.snapshots.get(key).map_or(0, |s| match s.kind {
            Some("committed") => crate::scan::containerd::nonneg(s.size.unwrap_or(0)),
            _ => 0,
        })
    };
    let mut images = Vec::with_capacity(listed.len());
    for &i in &listed {
        let im = &model.images[i];
        let Some(f) = c8d.image(&im.rec.id) else {
            continue;
        };
        let shared: u64 = f
            .all_chain_ids()
            .filter(|c| holders.get(c.as_str()).copied().unwrap_or(0) > 1)
            .map(|c| usage_of(c.as_str()))
            .sum();
        images.push(crate::report::du::ImageUsage {
            id: im.rec.id.clone(),
            repo_tags: model.tags_and_digests(i).0,
            size: f.size,
            shared_size: shared,
            unique_size: f.size.saturating_sub(shared),
            containers: model.image_containers(i).len(),
            wasted_bytes: None,
            efficiency: None,
        });
    }
    // Content reachable from any image record of the namespace, each digest once.
    let present: FastSet<&str> = store
        .meta
        .blobs
        .iter()
        .filter(|b| b.namespace == c8d.namespace)
        .map(|b| b.digest.as_str())
        .collect();
    let mut seen: FastSet<&str> = FastSet::default();
    seen.reserve(present.len());
    let mut content: u64 = 0;
    let mut stack: Vec<(&str, i64)> = Vec::new();
    for im in store
        .meta
        .images
        .iter()
        .filter(|x| x.namespace == c8d.namespace)
    {
        stack.push((im.target.digest.as_str(), im.target.size));
        while let Some((d, size)) = stack.pop() {
            if !present.contains(d) || seen.len() > 1_000_000 {
                continue;
            }
            if !seen.insert(d) {
                continue;
            }
            content += crate::scan::containerd::nonneg(size);
            match store.docs.get(d) {
                Some(crate::scan::containerd::content::Doc::Index { manifests }) => {
                    stack.extend(manifests.iter().map(|m| (m.digest.as_str(), m.size)));
                }
                Some(crate::scan::containerd::content::Doc::Manifest { config, layers }) => {
                    stack.push((config.digest.as_str(), config.size));
                    stack.extend(
                        layers
                            .iter()
                            .filter(|l| !seen.contains(l.digest.as_str()))
                            .map(|l| (l.digest.as_str(), l.size)),
                    );
                }
                None => {}
            }
        }
    }
    let docker29 = model
        .layout
        .version_hints
        .iter()
        .any(|h| h.contains("Docker 29"));
    let mut committed = 0u64;
    let mut active = Vec::new();
    if docker29 {
        let mut keys: FastSet<&str> = FastSet::default();
        for f in &c8d.images {
            for ch in f.all_chain_ids() {
                keys.insert(ch.as_str());
            }
        }
        committed = keys.iter().map(|k| usage_of(k)).sum();
    } else {
        for s in c8d.snapshots.values() {
            match (s.kind, s.id) {
                (Some("committed"), _) => {
                    committed += crate::scan::containerd::nonneg(s.size.unwrap_or(0));
                }
                (Some("active"), Some(n)) => active.push(n),
                _ => {}
            }
        }
    }
    Some(ImagesDf {
        images,
        content,
        committed,
        active,
    })
}

/// [`images_df_records`] finished with what the walk measured (active snapshots,
/// containers' SizeRw), into the du report.
fn images_df(
    du: &mut DuReport,
    model: &Model,
    croot: &DataRoot,
    walked: Option<&walk::WalkResult>,
    records: Option<ImagesDf>,
    problems: &mut Vec<Problem>,
) {
    let Some(c8d) = model.containerd.as_ref() else {
        return;
    };
    let Some(ImagesDf {
        images,
        content,
        committed,
        active,
    }) = records.or_else(|| images_df_records(model))
    else {
        return;
    };
    let snapshots = committed
        + active
            .into_iter()
            .map(|n| snapshot_usage(croot, walked, n, problems))
            .sum::<u64>();
    let layers_size = snapshots + content;
    let in_use: u64 = images
        .iter()
        .filter(|i| i.containers > 0)
        .map(|i| i.size.saturating_sub(i.shared_size))
        .sum();
    let df = &mut du.system_df;
    df.images_total = images.len();
    df.images_active = images.iter().filter(|i| i.containers > 0).count();
    df.layers_size = layers_size;
    df.images_reclaimable = layers_size.saturating_sub(in_use);
    // Build cache: BuildKit's records; the daemon's size of each is the size BuildKit
    // cached, else the usage of its snapshot plus its blob; `docker system df` sums the
    // records not shared with images.
    if let Some(records) = &c8d.build_cache {
        let mut size = 0u64;
        let mut all = 0u64;
        for r in records {
            let s = if let Some(s) = r.cached_size {
                crate::scan::containerd::nonneg(s)
            } else {
                let snap = r.snapshot.as_deref().and_then(|k| c8d.snapshots.get(k));
                let u = match snap.map(|s| (s.kind, s.id)) {
                    Some((Some("committed"), _)) => snap
                        .and_then(|s| s.size)
                        .map_or(0, crate::scan::containerd::nonneg),
                    Some((Some("active"), Some(n))) => snapshot_usage(croot, walked, n, problems),
                    _ => 0,
                };
                u + r.blob_size.map_or(0, crate::scan::containerd::nonneg)
            };
            all += s;
            if !r.shared {
                size += s;
            }
        }
        du.build_cache = crate::report::du::BuildCacheUsage {
            dirs: records.len(),
            size,
            size_with_layers: all,
            disk_bytes: None,
        };
        df.build_cache_size = size;
    }
    df.containers_size = du.containers.iter().map(|c| c.size_rw).sum();
    df.containers_reclaimable = du
        .containers
        .iter()
        .filter(|c| !c.active)
        .map(|c| c.size_rw)
        .sum();
    du.images = images;
}

/// A path's usage from the walks when it is a whole bucket: a snapshot dir of
/// containerd's root (`containerd:…/snapshots/<n>`, from `walked`), a layer or
/// container dir of Docker's (from the du report). `None` otherwise, and where a read
/// failed there: the caller measures it.
pub fn walked_usage(
    du: &DuReport,
    walked: Option<&walk::WalkResult>,
    known_disk: bool,
    path: &str,
) -> Option<walk::Usage> {
    match crate::report::c8d_orphans::split_path(path) {
        (true, rel) => {
            let w = walked?;
            let n = rel.strip_prefix(OVERLAYFS)?.strip_prefix("/snapshots/")?;
            if n.is_empty() || n.contains('/') {
                return None;
            }
            let rest = walk::Bucket::SnapshotRest(n.to_owned());
            if !w.buckets.contains_key(&rest) || w.incomplete(&rest) {
                return None;
            }
            if w.incomplete(&walk::Bucket::SnapshotFs(n.to_owned())) {
                return None;
            }
            Some(snapshot_buckets(w, known_disk, n).0)
        }
        (false, p) => du.usage_of(p),
    }
}

/// containerd's root in `du`: one area per top-level entry, named `containerd:<name>`,
/// added to the total (both trees are what the host spends); each layer's and
/// container's snapshot dirs. All from one walk of containerd's root (`walked`, run
/// beside the scan; walked now when not given): hard links fold across the whole tree,
/// each inode counted once, in the first bucket (in bucket order) holding one of its names.
pub fn add_areas(
    du: &mut DuReport,
    model: &Model,
    croot: Option<&DataRoot>,
    walked: Option<&walk::WalkResult>,
) {
    let Some(croot) = croot else {
        return;
    };
    let own;
    let w = if let Some(w) = walked {
        w
    } else {
        own = walk::walk_tree(croot, walk::Tree::Containerd, None);
        &own
    };
    let known_disk = croot.sizes_known();
    let empty = walk::Usage {
        disk_bytes: known_disk.then_some(0),
        ..walk::Usage::default()
    };
    // Every top-level entry is an area, also one whose read failed (then empty).
    let mut areas: std::collections::BTreeMap<&str, walk::Usage> =
        std::collections::BTreeMap::new();
    let listed: Vec<String> = croot
        .top()
        .and_then(|t| t.entries())
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.name.to_string_lossy().into_owned())
        .collect();
    for (b, u) in &w.buckets {
        let a = areas.entry(b.area()).or_insert(empty);
        a.add(u);
    }
    for name in &listed {
        areas.entry(name.as_str()).or_insert(empty);
    }
    let t = &w.total;
    du.total.disk_bytes = du.total.disk_bytes.zip(t.disk_bytes).map(|(a, b)| a + b);
    du.total.apparent_bytes += t.apparent_bytes;
    du.total.size += t.size;
    du.total.files += t.files;
    du.total.dirs += t.dirs;
    du.total.hardlinks_folded += t.hardlinks_folded;
    for (name, u) in areas {
        // Entries of the root dir itself have their own area; none is unnamed.
        if name.is_empty() {
            continue;
        }
        du.areas.push(crate::report::du::AreaUsage {
            name: shown(name),
            disk_bytes: u.disk_bytes,
            apparent_bytes: u.apparent_bytes,
            size: u.size,
            files: u.files,
            dirs: u.dirs,
            hardlinks_folded: u.hardlinks_folded,
        });
    }
    for p in &w.problems {
        let mut p = p.clone();
        p.path = shown(&p.path);
        du.problems.push(p);
    }
    du.mount_points_skipped
        .extend(w.mount_points.iter().map(|m| shown(m)));
    // Per layer: its snapshot dir (as overlay2/<cache-id> is measured classically).
    for l in &mut du.layers {
        let Some(n) = l.cache_id.as_deref() else {
            continue;
        };
        let (u, fs) = snapshot_buckets(w, known_disk, n);
        l.disk_bytes = u.disk_bytes;
        l.apparent_bytes = u.apparent_bytes;
        l.diff_size = fs.size;
    }
    // Per container: its RW and -init snapshot dirs besides `containers/<id>`.
    if let Some(c8d) = model.containerd.as_ref() {
        for c in &mut du.containers {
            let id = c.id.as_str().to_owned();
            for key in [id.clone(), format!("{id}-init")] {
                if let Some(n) = c8d.snapshots.get(&key).and_then(|s| s.id) {
                    let (u, _) = snapshot_buckets(w, known_disk, &n.to_string());
                    c.disk_bytes = c.disk_bytes.zip(u.disk_bytes).map(|(a, b)| a + b);
                }
            }
        }
    }
    du.areas.sort_by(|a, b| {
        b.disk_bytes
            .cmp(&a.disk_bytes)
            .then(b.apparent_bytes.cmp(&a.apparent_bytes))
    });
    du.problems.sort();
    du.problems.dedup();
}
