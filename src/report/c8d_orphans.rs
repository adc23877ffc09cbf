//! `orphans` and `check` on Docker's containerd image store, by containerd's own
//! garbage-collection rules (`scan::containerd::gc`). Two kinds, never mixed:
//!
//! - what containerd's next GC run collects on its own (records nothing reachable names,
//!   leases past their expiry), and what Docker's prune commands free: the
//!   `docker_reclaimable` list;
//! - what no GC ever sees: snapshot dirs without a snapshotter record, records whose dir
//!   is gone, blobs no namespace records, ingest dirs without a record, `tmpmounts/`
//!   leftovers, `rootfs/overlayfs/<id>` of containers that are gone, and an interrupted
//!   pull's leftovers (with their age and the lease holding them): the findings.
//!
//! Without containerd's records (root not found, meta.db unreadable or damaged) nothing
//! is judged: one `cannot_judge` entry names the flag to give.

use super::orphans::{Candidate, CannotJudge, Claims};
use crate::model::ids::sha256_digest;
use crate::model::Model;
use crate::scan::containerd::gc::{Graph, Node, Reach};
use crate::scan::containerd::records::C8d;
use crate::scan::containerd::{shown, Store, OVERLAYFS, SNAPSHOTTER};
use std::collections::{HashMap, HashSet};

/// The kinds this module reports (for `check --allow`).
pub const KINDS: &[&str] = &[
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
];

/// Every kind containerd's records decide (all undecided without them).
const JUDGED: &[&str] = &[
    "blob-without-record",
    "container-without-snapshot",
    "dangling-image",
    "gc-content",
    "gc-expired-lease",
    "gc-ingest",
    "gc-snapshot",
    "ingest-without-record",
    "interrupted-pull",
    "rootfs-without-container",
    "snapshot-dir-without-record",
    "snapshot-record-without-dir",
    "stopped-container",
    "tmpmounts-leftover",
];

const STOP_CONTAINERD: &str =
    "stop dockerd and containerd, then remove the paths (after review: dockscope orphans --print0)";
const GC_ITSELF: &str = "nothing to do: containerd's garbage collector removes it on its next run (any deletion or 100 writes trigger one)";

fn snapshot_dir(id: u64) -> String {
    shown(&format!("{OVERLAYFS}/snapshots/{id}"))
}

fn blob_path(store: &Store, digest: &str) -> Option<String> {
    store.blob_files.get(digest).map(|b| shown(&b.path))
}

/// The ingest dir of a content-store ingest ref: `ingest/<sha256 of the ref>`.
fn ingest_dir_of(store: &Store, backend_ref: &str) -> Option<String> {
    let hex = sha256_digest(backend_ref.as_bytes());
    let hex = hex.trim_start_matches("sha256:");
    store
        .ingest_dirs
        .iter()
        .find(|d| d.name == hex)
        .map(|d| shown(&d.path))
}

/// Decide every finding on a containerd-store root. `now`: Unix seconds (lease expiry).
pub fn classify(model: &Model, now: i64) -> (Vec<Candidate>, Vec<CannotJudge>) {
    classify_with(model, now, true)
}

/// [`classify`], the findings only (leftovers, broken references): not what
/// containerd's GC or Docker's prune commands free. `du` counts the findings alone, and
/// skips the reachability work the others need.
pub fn classify_findings(model: &Model, now: i64) -> (Vec<Candidate>, Vec<CannotJudge>) {
    classify_with(model, now, false)
}

fn classify_with(model: &Model, now: i64, all: bool) -> (Vec<Candidate>, Vec<CannotJudge>) {
    let Some(c8d) = model.containerd.as_ref() else {
        return (Vec::new(), Vec::new());
    };
    let Some(store) = c8d.store.as_ref() else {
        let (area, reason) = c8d.unusable.as_ref().map_or_else(
            || {
                (
                    "containerd root".to_owned(),
                    "containerd's records were not read; give them with --containerd-root DIR|ARCHIVE".to_owned(),
                )
            },
            |u| {
                let mut r = u.reason.clone();
                if !r.contains("--containerd-root") {
                    r.push_str("; give the right one with --containerd-root DIR|ARCHIVE");
                }
                (u.area.clone(), r)
            },
        );
        return (
            Vec::new(),
            vec![CannotJudge {
                area,
                kinds: JUDGED.to_vec(),
                reason,
                whole: true,
            }],
        );
    };
    if !store.meta.namespaces.iter().any(|n| n == &c8d.namespace) {
        return (
            Vec::new(),
            vec![CannotJudge {
                area: shown(crate::scan::containerd::META_DB),
                kinds: JUDGED.to_vec(),
                reason: format!(
                    "namespace {} is not in containerd's metadata (it has: {}); give Docker's with --namespace",
                    c8d.namespace,
                    store.meta.namespaces.join(", ")
                ),
                whole: true,
            }],
        );
    }
    let mut c = Claims::new();
    let mut cannot = Vec::new();
    if let Some(e) = &store.backend_error {
        cannot.push(CannotJudge {
            area: shown(&format!("{OVERLAYFS}/metadata.db")),
            kinds: vec![
                "dangling-image",
                "gc-snapshot",
                "interrupted-pull",
                "snapshot-dir-without-record",
                "snapshot-record-without-dir",
                "stopped-container",
            ],
            reason: e.clone(),
            whole: true,
        });
    }
    // A container record that could not be read may own any `rootfs/overlayfs/<id>`.
    if let Some(p) = model.problems.iter().find(|p| {
        (p.path == "containers" || p.path.starts_with("containers/"))
            && matches!(
                p.kind,
                crate::problem::ProblemKind::Unreadable | crate::problem::ProblemKind::Malformed
            )
    }) {
        cannot.push(CannotJudge {
            area: "containers".to_owned(),
            kinds: vec!["rootfs-without-container"],
            reason: format!("{}: {}", p.path, p.detail),
            whole: true,
        });
    }
    let graph = Graph::new(&store.meta, now);
    let none = HashSet::new();
    let reach_all = std::cell::OnceCell::new();
    let reach = || reach_all.get_or_init(|| graph.reach(&none, &none));
    let ns = c8d.namespace.as_str();
    let backend_by_key: HashMap<&str, &crate::scan::containerd::BackendSnapshot> =
        store.backend.iter().map(|b| (b.key.as_str(), b)).collect();
    let dirs: HashSet<&str> = store.snapshot_dirs.iter().map(|d| d.id.as_str()).collect();

    // Broken references first: they hold nothing and must stay visible.
    for b in &store.backend {
        if b.kind != "view" && !dirs.contains(b.id.to_string().as_str()) {
            c.add(
                "snapshot-record-without-dir",
                Vec::new(),
                false,
                format!(
                    "the snapshotter's record {} ({}) names snapshots/{}, which is gone: mounting it fails",
                    b.key, b.kind, b.id
                ),
                "none on disk; remove the image or container that uses it with docker (or ctr) so containerd drops the record",
                false,
            );
        }
    }
    for ct in &model.containers {
        let id = ct.rec.id.as_str();
        let has = c8d.snapshots.get(id).is_some_and(|s| s.id.is_some());
        if !has {
            c.add(
                "container-without-snapshot",
                Vec::new(),
                false,
                format!(
                    "container {} ({}) has no RW snapshot {id} in namespace {ns}: it cannot start",
                    ct.rec.id.short(),
                    ct.rec.name.trim_start_matches('/')
                ),
                "docker rm removes the container's own files",
                false,
            );
        }
    }

    // An interrupted pull (or other operation): a live lease holding ingests or
    // `extract-*` snapshots; its leftovers are what only it keeps.
    for l in &store.meta.leases {
        if graph.lease_expired(&l.labels) {
            continue;
        }
        let extract = l.snapshots.iter().any(|(_, k)| k.starts_with("extract-"));
        if l.ingests.is_empty() && !extract {
            continue;
        }
        let mut skip = HashSet::new();
        skip.insert((l.namespace.clone(), l.id.clone()));
        let without = graph.reach(&skip, &none);
        let mut paths = Vec::new();
        let mut parts = Vec::new();
        for i in &l.ingests {
            let rec = store
                .meta
                .ingests
                .iter()
                .find(|r| r.namespace == l.namespace && &r.key == i);
            let dir = rec
                .and_then(|r| r.backend_ref.as_deref())
                .and_then(|r| ingest_dir_of(store, r))
                .or_else(|| {
                    store
                        .ingest_dirs
                        .iter()
                        .find(|d| {
                            d.reference.as_deref().is_some_and(|r| {
                                r.starts_with(&format!("{}/", l.namespace))
                                    && r.ends_with(&format!("/{i}"))
                            })
                        })
                        .map(|d| shown(&d.path))
                });
            if let Some(d) = dir {
                paths.push(d);
            }
            parts.push(format!("ingest {i}"));
        }
        let mut held: Vec<&Node> = reach().not_in(&without);
        held.sort();
        held.dedup();
        for n in held {
            match n {
                Node::Snapshot(nsn, key) => {
                    let Some((ss, k)) = key.split_once('/') else {
                        continue;
                    };
                    if ss != SNAPSHOTTER {
                        continue;
                    }
                    let name = store
                        .meta
                        .snapshots
                        .iter()
                        .find(|s| &s.namespace == nsn && s.snapshotter == ss && s.key == k)
                        .map(|s| s.name.as_str());
                    if let Some(b) = name.and_then(|n| backend_by_key.get(n)) {
                        paths.push(snapshot_dir(b.id));
                        parts.push(format!("snapshot {k} ({})", b.kind));
                    }
                }
                Node::Content(_, d) if !kept_elsewhere(store, &without, d) => {
                    if let Some(p) = blob_path(store, d) {
                        paths.push(p);
                        parts.push(format!("blob {d}"));
                    }
                }
                _ => {}
            }
        }
        let expiry = l
            .labels
            .get("containerd.io/gc.expire")
            .map_or_else(|| "never expires".to_owned(), |e| format!("expires {e}"));
        c.add(
            "interrupted-pull",
            paths,
            false,
            format!(
                "lease {} of namespace {} (created {}, {expiry}) still holds what an interrupted pull or unpack left: {}",
                l.id,
                l.namespace,
                l.created.as_deref().unwrap_or("at an unknown time"),
                if parts.is_empty() { "nothing on disk".to_owned() } else { parts.join(", ") }
            ),
            &format!(
                "containerd frees it when the lease expires; sooner, with containerd running: ctr -n {} leases rm {} (never remove these paths by hand while its records name them)",
                l.namespace, l.id
            ),
            false,
        );
    }

    // What no GC sees.
    let backend_ids: HashSet<String> = store.backend.iter().map(|b| b.id.to_string()).collect();
    for d in &store.snapshot_dirs {
        if !backend_ids.contains(&d.id) {
            c.add(
                "snapshot-dir-without-record",
                vec![shown(&d.path)],
                true,
                format!(
                    "snapshots/{} is named by no record of the overlayfs snapshotter (metadata.db): no snapshot, image or container can use it",
                    d.id
                ),
                STOP_CONTAINERD,
                false,
            );
        }
    }
    let recorded: HashSet<&str> = store.meta.blobs.iter().map(|b| b.digest.as_str()).collect();
    for (digest, f) in &store.blob_files {
        if !recorded.contains(digest.as_str()) {
            c.add(
                "blob-without-record",
                vec![shown(&f.path)],
                true,
                format!("blob {digest} is recorded in no namespace of meta.db"),
                STOP_CONTAINERD,
                false,
            );
        }
    }
    for d in &store.ingest_dirs {
        let claimed = d.reference.as_deref().is_some_and(|r| {
            store
                .meta
                .ingests
                .iter()
                .any(|i| i.backend_ref.as_deref() == Some(r))
                || store.meta.leases.iter().any(|l| {
                    r.starts_with(&format!("{}/", l.namespace))
                        && l.ingests.iter().any(|k| r.ends_with(&format!("/{k}")))
                })
        });
        if !claimed {
            c.add(
                "ingest-without-record",
                vec![shown(&d.path)],
                true,
                format!(
                    "a partial download ({}, started {}, {} of {} bytes) that no ingest record or lease names",
                    d.reference.as_deref().unwrap_or("no ref file"),
                    d.started_at.as_deref().unwrap_or("at an unknown time"),
                    d.data_len.unwrap_or(0),
                    d.total.map_or_else(|| "?".to_owned(), |t| t.to_string())
                ),
                STOP_CONTAINERD,
                false,
            );
        }
    }
    for t in &store.tmpmounts {
        c.add(
            "tmpmounts-leftover",
            vec![shown(t)],
            true,
            "a temporary mount point containerd did not remove (it is made and removed around each use)".to_owned(),
            STOP_CONTAINERD,
            false,
        );
    }
    let live: HashSet<&str> = model.containers.iter().map(|c| c.rec.id.as_str()).collect();
    for r in &c8d.rootfs_dirs {
        let id = r.rsplit('/').next().unwrap_or(r);
        if !live.contains(id) {
            c.add(
                "rootfs-without-container",
                vec![r.clone()],
                true,
                format!("the mount point of container {id}, which no longer exists"),
                "stop the daemon, check nothing is mounted there, then remove the path",
                false,
            );
        }
    }

    if !all {
        return (c.out, cannot);
    }
    let reach = reach();
    // What containerd's GC collects itself.
    for l in &store.meta.leases {
        if graph.lease_expired(&l.labels) {
            c.add(
                "gc-expired-lease",
                Vec::new(),
                true,
                format!(
                    "lease {} of namespace {} expired at {}: what only it held is listed as gc-content / gc-snapshot",
                    l.id,
                    l.namespace,
                    l.labels.get("containerd.io/gc.expire").map_or("", String::as_str)
                ),
                GC_ITSELF,
                true,
            );
        }
    }
    for b in &store.meta.blobs {
        let n = Node::Content(b.namespace.clone(), b.digest.clone());
        if reach.has(&n) {
            continue;
        }
        let kept = kept_elsewhere(store, reach, &b.digest);
        let paths = if kept {
            Vec::new()
        } else {
            blob_path(store, &b.digest).into_iter().collect()
        };
        c.add(
            "gc-content",
            paths,
            true,
            format!(
                "blob {} of namespace {}: nothing reachable references it{}",
                b.digest,
                b.namespace,
                if kept {
                    " (another namespace keeps the file)"
                } else {
                    ""
                }
            ),
            GC_ITSELF,
            true,
        );
    }
    let mut named: HashSet<&str> = HashSet::new();
    for s in &store.meta.snapshots {
        named.insert(s.name.as_str());
        let n = Node::Snapshot(s.namespace.clone(), format!("{}/{}", s.snapshotter, s.key));
        if reach.has(&n) {
            continue;
        }
        let dir = (s.snapshotter == SNAPSHOTTER)
            .then(|| backend_by_key.get(s.name.as_str()))
            .flatten()
            .map(|b| snapshot_dir(b.id));
        c.add(
            "gc-snapshot",
            dir.into_iter().collect(),
            true,
            format!(
                "snapshot {} of namespace {}: no image, container, lease or label reaches it",
                s.key, s.namespace
            ),
            GC_ITSELF,
            true,
        );
    }
    for b in &store.backend {
        if !named.contains(b.key.as_str()) {
            c.add(
                "gc-snapshot",
                vec![snapshot_dir(b.id)],
                true,
                format!(
                    "the snapshotter's {} snapshot {} is named by no namespace of meta.db",
                    b.kind, b.key
                ),
                GC_ITSELF,
                true,
            );
        }
    }
    for i in &store.meta.ingests {
        let n = Node::Ingest(i.namespace.clone(), i.key.clone());
        if reach.has(&n) {
            continue;
        }
        let dir = i
            .backend_ref
            .as_deref()
            .and_then(|r| ingest_dir_of(store, r));
        c.add(
            "gc-ingest",
            dir.into_iter().collect(),
            true,
            format!(
                "ingest {} of namespace {}: expired or held by nothing",
                i.key, i.namespace
            ),
            GC_ITSELF,
            true,
        );
    }

    // What Docker's own prune commands free.
    docker_managed(model, c8d, store, &graph, reach, &mut c);
    (c.out, cannot)
}

/// Is a blob's file kept by a record that stays reachable (in any namespace)?
fn kept_elsewhere(store: &Store, without: &Reach, digest: &str) -> bool {
    store.meta.blobs.iter().any(|b| {
        b.digest == digest && {
            let n = Node::Content(b.namespace.clone(), b.digest.clone());
            without.has(&n)
        }
    })
}

fn docker_managed(
    model: &Model,
    c8d: &C8d,
    store: &Store,
    graph: &Graph<'_>,
    reach: &Reach,
    c: &mut Claims,
) {
    let ns = c8d.namespace.as_str();
    let none = HashSet::new();
    for ct in &model.containers {
        let st = &ct.rec.state;
        if st.running || st.paused || st.restarting {
            continue;
        }
        let id = ct.rec.id.as_str();
        let mut paths = vec![format!("containers/{id}")];
        for key in [id.to_owned(), format!("{id}-init")] {
            if let Some(n) = c8d.snapshots.get(&key).and_then(|s| s.id) {
                paths.push(snapshot_dir(n));
            }
        }
        c.add(
            "stopped-container",
            paths,
            true,
            format!(
                "container {} ({}) is not running; docker container prune removes it",
                ct.rec.id.short(),
                ct.rec.name.trim_start_matches('/')
            ),
            "docker container prune (or docker rm)",
            true,
        );
    }
    for (i, im) in model.images.iter().enumerate() {
        if !im.loaded || !model.is_dangling(i) || !model.image_containers(i).is_empty() {
            continue;
        }
        let Some(f) = c8d.image(&im.rec.id) else {
            continue;
        };
        let skip: HashSet<(String, String)> =
            f.names.iter().map(|n| (ns.to_owned(), n.clone())).collect();
        let without = graph.reach(&none, &skip);
        let mut paths = Vec::new();
        let mut gone: Vec<&Node> = reach.not_in(&without);
        gone.sort();
        gone.dedup();
        for n in gone {
            match n {
                Node::Content(_, d) if !kept_elsewhere(store, &without, d) => {
                    paths.extend(blob_path(store, d));
                }
                Node::Snapshot(nsn, key) if nsn == ns => {
                    if let Some((_, k)) = key.split_once('/') {
                        if let Some(n) = c8d.snapshots.get(k).and_then(|s| s.id) {
                            paths.push(snapshot_dir(n));
                        }
                    }
                }
                _ => {}
            }
        }
        c.add(
            "dangling-image",
            paths,
            true,
            format!(
                "image {} has no tag and no container uses it; docker image prune removes it",
                im.rec.id.short()
            ),
            "docker image prune",
            true,
        );
    }
}

/// Where a candidate's path lies: containerd's root (prefix dropped) or Docker's.
pub fn split_path(p: &str) -> (bool, &str) {
    match p.strip_prefix(crate::scan::containerd::PREFIX) {
        Some(rel) => (true, rel),
        None => (false, p),
    }
}

/// Classify, measure every path (containerd's on its root, Docker's on Docker's), build.
pub fn report(
    root: &crate::root::DataRoot,
    croot: Option<&crate::root::DataRoot>,
    model: &Model,
) -> super::orphans::OrphansReport {
    let now = crate::clock::now().as_second();
    let (candidates, cannot_judge) = classify(model, now);
    report_classified(root, croot, model, candidates, cannot_judge, &|_| None)
}

/// Measure the paths of classified candidates and build the report. `walked` gives a
/// path's usage when a walk already measured it (the path as shown: `containerd:` for
/// containerd's root); the other paths are measured here.
pub fn report_classified(
    root: &crate::root::DataRoot,
    croot: Option<&crate::root::DataRoot>,
    model: &Model,
    candidates: Vec<Candidate>,
    cannot_judge: Vec<CannotJudge>,
    walked: &(dyn Fn(&str) -> Option<crate::walk::Usage> + Sync),
) -> super::orphans::OrphansReport {
    use rayon::prelude::*;
    let paths: Vec<&String> = candidates.iter().flat_map(|c| &c.paths).collect();
    let measured: Vec<(String, crate::walk::Usage, Vec<crate::problem::Problem>)> = paths
        .par_iter()
        .map(|p| {
            if let Some(u) = walked(p) {
                return ((*p).clone(), u, Vec::new());
            }
            let (in_c8d, rel) = split_path(p);
            let r = if in_c8d { croot.unwrap_or(root) } else { root };
            let (u, mut problems) = crate::walk::measure(r, rel);
            if in_c8d {
                for pr in &mut problems {
                    pr.path = shown(&pr.path);
                }
            }
            ((*p).clone(), u, problems)
        })
        .collect();
    let mut problems = model.problems.clone();
    let mut sizes = HashMap::new();
    for (p, u, pr) in measured {
        sizes.insert(p, u);
        problems.extend(pr);
    }
    problems.sort();
    problems.dedup();
    let known_disk = root.sizes_known() && croot.is_none_or(crate::root::DataRoot::sizes_known);
    super::orphans::build(candidates, &sizes, known_disk, problems, cannot_judge)
}

/// `orphans --print0` on the containerd store: containerd's paths under its root, the
/// rest under Docker's (absolute for directories, as shown for archives).
pub fn print0(
    r: &super::orphans::OrphansReport,
    root: &crate::root::DataRoot,
    croot: Option<&crate::root::DataRoot>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    for f in r.findings.iter().filter(|f| f.reclaimable) {
        for p in &f.paths {
            let (in_c8d, rel) = split_path(p);
            let base = if in_c8d { croot } else { Some(root) };
            match base {
                Some(b) if !b.is_archive() => {
                    out.write_all(b.shown().join(rel).as_os_str().as_encoded_bytes())?;
                }
                _ => out.write_all(p.as_bytes())?,
            }
            out.write_all(b"\0")?;
        }
    }
    Ok(())
}
