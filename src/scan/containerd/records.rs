//! containerd's records mapped onto dockscope's: an image is its record's target
//! digest with the config of its best platform manifest; a layer is a committed snapshot
//! keyed by its chain id, whose `snapshots/<id>` dir plays the overlay2 dir's part; a
//! container's RW layer is the snapshot keyed by its id, on `<id>-init`. What only
//! containerd has (manifests, blobs, namespaces, leases, ingests) stays in `C8d`.

use super::content::{is_index_type, Desc, Doc, Platform};
use super::meta::Descriptor;
use super::{shown, Found, Store, Unusable, CONTENT, META_DB, OVERLAYFS, SNAPSHOTTER};
use crate::model::ids::{ChainId, ContainerId, DiffId, DirIdForm, FastMap, FastSet, ImageId, Pool};
use crate::problem::Problem;
use crate::root::DataRoot;
use crate::scan::{ContainerRec, DirRec, ImageMetaRec, ImageRec, LayerRec, MountRec, RefRec, Scan};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The label the classic builder puts on the images it makes, naming the parent.
pub const PARENT_LABEL: &str = "org.mobyproject.image.parent";
/// Names of images `rmi` removed while a container still used them.
pub const DANGLING_PREFIX: &str = "moby-dangling@";

/// One platform (or attestation) manifest reachable from an image's target.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestFacts {
    pub digest: String,
    pub size: i64,
    pub platform: Option<Platform>,
    /// `image`, `attestation` or `unknown` (not present or not a manifest).
    pub kind: &'static str,
    /// The manifest, its config and every layer blob are present.
    pub available: bool,
    /// Sizes of the present blobs reachable from it (manifest, config, layers).
    pub content_size: u64,
    pub config: Option<Desc>,
    #[serde(serialize_with = "super::content::ser_layers")]
    pub layers: super::content::Layers,
    pub diff_ids: Vec<DiffId>,
    pub chain_ids: Vec<ChainId>,
    /// Σ snapshot usage along its chain (0 when a snapshot of the chain is missing).
    pub unpacked_size: u64,
}

/// An image as Docker's containerd store lists it: one per target digest.
#[derive(Clone, Debug, Serialize)]
pub struct ImageFacts {
    pub id: ImageId,
    pub target: Descriptor,
    /// The namespace's image records with this target, sorted.
    pub names: Vec<String>,
    /// Per record (in name order), the parent its classic-builder label names.
    #[serde(skip)]
    pub record_parents: Vec<Option<String>>,
    pub manifests: Vec<ManifestFacts>,
    /// Index in `manifests` of the platform Docker shows (host platform first).
    pub best: Option<usize>,
    /// `docker images` SIZE: present content of every manifest + unpacked snapshots.
    pub size: u64,
    /// `docker image inspect` Size: descriptor sizes from the target (index included).
    pub inspect_size: u64,
    pub parent: Option<String>,
}

impl ImageFacts {
    pub fn best_manifest(&self) -> Option<&ManifestFacts> {
        self.best.map(|b| &self.manifests[b])
    }
    /// Chain ids of every image manifest (for SharedSize).
    pub fn all_chain_ids(&self) -> impl Iterator<Item = &ChainId> {
        self.manifests
            .iter()
            .filter(|m| m.kind == "image" && m.available)
            .flat_map(|m| &m.chain_ids)
    }
}

/// A layer's containerd facts, by chain id.
#[derive(Clone, Debug, Serialize)]
pub struct LayerFacts {
    pub chain_id: String,
    pub diff_id: Option<String>,
    /// The compressed blob (from the best manifest of an image holding it).
    pub blob: Option<Desc>,
    pub blob_present: bool,
    pub snapshot_key: String,
    /// `snapshots/<id>`, relative to containerd's root.
    pub snapshot_dir: Option<String>,
    pub kind: Option<&'static str>,
    pub usage: Option<u64>,
}

/// A snapshot of the namespace joined with the snapshotter's record.
#[derive(Clone, Debug, Serialize)]
pub struct NsSnapshot {
    pub key: String,
    pub parent: Option<String>,
    /// The snapshotter's id: its dir is `snapshots/<id>`.
    pub id: Option<u64>,
    pub kind: Option<&'static str>,
    /// Stored at commit.
    pub size: Option<i64>,
}

/// What the containerd store adds to the model.
#[derive(Default)]
pub struct C8d {
    pub namespace: String,
    pub found: Option<Found>,
    /// Set when containerd's records could not be read: nothing is then reclaimable.
    pub unusable: Option<Unusable>,
    pub store: Option<Store>,
    pub images: Vec<ImageFacts>,
    pub layers: BTreeMap<String, LayerFacts>,
    /// Usage of committed snapshots of the namespace, by key (stored at commit).
    pub committed_usage: FastMap<String, u64>,
    /// BuildKit's cache records (`None` without its database).
    pub build_cache: Option<Vec<super::buildkit::BuildRecord>>,
    /// Docker's `rootfs/overlayfs/<id>` mount points, relative to Docker's root.
    pub rootfs_dirs: Vec<String>,
    /// The namespace's snapshots by key: (parent key, snapshotter record).
    pub snapshots: FastMap<String, NsSnapshot>,
    pub image_by_id: FastMap<ImageId, usize>,
}

impl C8d {
    /// Usage of a snapshot and every ancestor (committed sizes; views count 0; active
    /// ones are measured by the caller: `active` gives their usage). `None` when one
    /// of the chain is missing.
    pub fn chain_usage(&self, top: &str, active: &dyn Fn(u64) -> u64) -> Option<u64> {
        let mut total = 0u64;
        let mut next = Some(top.to_owned());
        let mut steps = 0;
        while let Some(key) = next {
            steps += 1;
            if steps > self.snapshots.len() + 1 {
                return None;
            }
            let s = self.snapshots.get(&key)?;
            let id = s.id?;
            total += match s.kind {
                Some("committed") => crate::scan::containerd::nonneg(s.size.unwrap_or(0)),
                Some("active") => active(id),
                _ => 0,
            };
            next = s.parent.as_deref().map(str::to_owned);
        }
        Some(total)
    }

    pub fn image(&self, id: &ImageId) -> Option<&ImageFacts> {
        self.image_by_id.get(id).map(|&i| &self.images[i])
    }
}

/// A reference as the docker CLI shows it (`docker.io/library/` dropped).
pub fn familiar(name: &str) -> String {
    if let Some(rest) = name.strip_prefix("docker.io/library/") {
        if !rest.contains('/') {
            return rest.to_owned();
        }
    }
    name.strip_prefix("docker.io/").unwrap_or(name).to_owned()
}

/// `repo` of a reference (tag or digest dropped).
fn repo_of(reference: &str) -> &str {
    let r = reference.split('@').next().unwrap_or(reference);
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[slash..].rfind(':') {
        Some(c) => &r[..slash + c],
        None => r,
    }
}

fn host_rank(p: Option<&Platform>) -> u8 {
    match p {
        Some(p) if p.os == "linux" && p.architecture == "amd64" => 0,
        Some(p) if p.os == "linux" && p.architecture == "386" => 1,
        Some(p) if p.os == "unknown" => 9,
        _ => 5,
    }
}

/// Build the containerd part of a scan: records mapped into `scan`, facts returned.
pub fn map_into(
    scan: &mut Scan,
    store: Store,
    croot: &DataRoot,
    containers: &[ContainerRec],
    pool: &Pool,
) -> C8d {
    let ns = store.namespace.clone();
    let mut problems: Vec<Problem> = Vec::new();
    let blobs_dir = croot.dir(&format!("{CONTENT}/blobs/sha256")).ok();
    // Two independent halves side by side: the snapshots (joined with the backend's
    // records, each one's unpacked size), and the images' blobs, targets and configs.
    let (snaps, (ns_blobs, by_target, configs)) = rayon::join(
        || SnapshotIndex::build(&store, &ns),
        || {
            // Present, as the daemon asks containerd: the namespace has a record of the blob.
            let ns_blobs: FastSet<&str> = store
                .meta
                .blobs
                .iter()
                .filter(|b| b.namespace == ns)
                .map(|b| b.digest.as_str())
                .collect();
            // Image records of the namespace, grouped by target digest.
            // (A stable sort: each target's records keep the order meta.db gave them.)
            let mut recs: Vec<&super::meta::ImageRecord> = store
                .meta
                .images
                .iter()
                .filter(|i| i.namespace == ns)
                .collect();
            {
                use rayon::prelude::*;
                recs.par_sort_by(|a, b| a.target.digest.cmp(&b.target.digest));
            }
            let by_target: Vec<(&str, Vec<&super::meta::ImageRecord>)> = recs
                .chunk_by(|a, b| a.target.digest == b.target.digest)
                .map(|g| (g[0].target.digest.as_str(), g.to_vec()))
                .collect();
            let configs = blobs_dir.as_ref().map_or_else(FastMap::default, |dir| {
                read_configs(&store, &ns_blobs, dir, croot, pool)
            });
            (ns_blobs, by_target, configs)
        },
    );
    let present = |d: &str| ns_blobs.contains(d);
    let backend_of = |key: &str| snaps.backend.get(key).copied();
    let ns_snaps = &snaps.records;
    let committed_usage = snaps.committed_usage;
    let usage_of = |top: &str| snaps.usage.get(top).copied().flatten();
    // Each image on its own (in parallel), then put together in target order.
    let map_one = |(target, recs): &(&str, Vec<&super::meta::ImageRecord>)| -> MappedImage {
        let target = *target;
        let mut out = MappedImage::default();
        let Some(id) = ImageId::parse(target) else {
            out.problems.push(Problem::new(
                shown(META_DB),
                crate::problem::ProblemKind::Malformed,
                format!(
                    "image {} has target {target:?}, not a sha256 digest",
                    recs[0].name
                ),
            ));
            return out;
        };
        let first = recs[0];
        // The platform manifests reachable from the target.
        let mut mdescs: Vec<Desc> = Vec::new();
        let mut inspect_size = crate::scan::containerd::nonneg(first.target.size);
        match store.docs.get(target) {
            Some(Doc::Index { manifests }) => {
                for m in manifests {
                    match store.docs.get(&m.digest) {
                        Some(Doc::Index { manifests: inner }) => {
                            mdescs.extend(inner.iter().cloned());
                        }
                        _ => mdescs.push(m.clone()),
                    }
                }
            }
            Some(Doc::Manifest { .. }) => mdescs.push(Desc {
                media_type: first.target.media_type.clone(),
                digest: target.to_owned(),
                size: first.target.size,
                platform: None,
                annotations: BTreeMap::new(),
            }),
            None => {
                if !is_index_type(&first.target.media_type) && !present(target) {
                    out.problems.push(Problem::new(
                        shown(META_DB),
                        crate::problem::ProblemKind::BrokenReference,
                        format!(
                            "image {} names target {target}, which is not in the content store",
                            first.name
                        ),
                    ));
                }
            }
        }
        // Sized exactly: most images have one manifest, and a `Vec` grown by push holds
        // four.
        let mut manifests = Vec::with_capacity(mdescs.len());
        for d in &mdescs {
            let attestation = d
                .annotations
                .get("vnd.docker.reference.type")
                .is_some_and(|t| t == "attestation-manifest");
            let mut mf = ManifestFacts {
                digest: d.digest.clone(),
                size: d.size,
                platform: d.platform.clone(),
                kind: "unknown",
                available: false,
                content_size: 0,
                config: None,
                layers: super::content::Layers::from([]),
                diff_ids: Vec::new(),
                chain_ids: Vec::new(),
                unpacked_size: 0,
            };
            if let Some(Doc::Manifest { config, layers }) = store.docs.get(&d.digest) {
                mf.kind = if attestation { "attestation" } else { "image" };
                // Each descriptor looked up once: available when all are present; the
                // daemon adds each present descriptor's size (the manifest's own only
                // when present: then its children are walked).
                let own = present(&d.digest);
                let mut all = own;
                let mut children = 0;
                for c in std::iter::once(config).chain(layers.iter()) {
                    if present(&c.digest) {
                        children += crate::scan::containerd::nonneg(c.size);
                    } else {
                        all = false;
                    }
                }
                mf.available = all;
                if own {
                    mf.content_size += crate::scan::containerd::nonneg(d.size) + children;
                }
                mf.config = Some(config.clone());
                mf.layers = layers.clone();
            }
            manifests.push(mf);
        }
        // Configs: diff ids and chains of image manifests with their config present.
        let mut recs_by_manifest: Vec<Option<ImageRec>> = Vec::with_capacity(manifests.len());
        for mf in &mut manifests {
            recs_by_manifest.push(None);
            if mf.kind != "image" {
                continue;
            }
            let Some(cfg) = mf.config.clone() else {
                continue;
            };
            let Some(hex) = cfg.digest.strip_prefix("sha256:") else {
                continue;
            };
            if !present(&cfg.digest) {
                continue;
            }
            let Some(dir) = &blobs_dir else { continue };
            let taken = configs
                .get(&cfg.digest)
                .and_then(|cell| cell.lock().ok().and_then(|mut c| c.take()));
            let read = taken.unwrap_or_else(|| read_config(dir, hex, pool, croot, !store.lean));
            out.problems.extend(read.problems);
            let Some(mut rec) = read.rec else { continue };
            mf.diff_ids.clone_from(&rec.diff_ids);
            mf.chain_ids.clone_from(&rec.chain);
            if mf.platform.is_none() {
                mf.platform = Some(Platform {
                    architecture: rec.architecture.clone().unwrap_or_default(),
                    os: rec.os.clone().unwrap_or_default(),
                    variant: rec.variant.clone(),
                });
            }
            if mf.available {
                mf.unpacked_size = mf
                    .chain_ids
                    .last()
                    .map_or(0, |top| usage_of(top.as_str()).unwrap_or(0));
            }
            rec.id = id.clone();
            rec.path = shown(&[CONTENT, "/blobs/sha256/", hex].concat());
            *recs_by_manifest.last_mut().expect("pushed") = Some(rec);
        }
        let best = pick_best(&manifests, &recs_by_manifest);
        let best_rec = best.and_then(|b| recs_by_manifest[b].take());
        if let Some(b) = best {
            let m = &manifests[b];
            let idx_size = if mdescs.len() == 1 && mdescs[0].digest == *target {
                0
            } else {
                inspect_size
            };
            inspect_size = idx_size
                + crate::scan::containerd::nonneg(m.size)
                + m.config
                    .as_ref()
                    .map_or(0, |c| crate::scan::containerd::nonneg(c.size))
                + m.layers
                    .iter()
                    .map(|l| crate::scan::containerd::nonneg(l.size))
                    .sum::<u64>();
        }
        let size: u64 = manifests
            .iter()
            .map(|m| m.content_size + m.unpacked_size)
            .sum();
        let mut sorted: Vec<&&super::meta::ImageRecord> = recs.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<String> = sorted.iter().map(|r| r.name.clone()).collect();
        let record_parents: Vec<Option<String>> = sorted
            .iter()
            .map(|r| {
                r.labels
                    .get(PARENT_LABEL)
                    .cloned()
                    .filter(|p| !p.is_empty())
            })
            .collect();
        let parent = recs
            .iter()
            .find_map(|r| r.labels.get(PARENT_LABEL).cloned())
            .filter(|p| !p.is_empty());
        // Tags and digests, as the daemon lists them.
        let tagged: Vec<&&super::meta::ImageRecord> = recs
            .iter()
            .filter(|r| !r.name.starts_with(DANGLING_PREFIX))
            .collect();
        for r in &tagged {
            let fam = familiar(&r.name);
            let is_digest = fam.contains('@');
            let repo = repo_of(&fam).to_owned();
            if !is_digest {
                out.refs.push(RefRec {
                    repo: repo.clone(),
                    reference: fam.clone(),
                    image: id.clone(),
                    is_digest: false,
                });
            }
        }
        // RepoDigests: the daemon names one record (the last by name) with the target.
        if let Some(r) = tagged.iter().max_by(|a, b| a.name.cmp(&b.name)) {
            let fam = familiar(&r.name);
            let repo = repo_of(&fam).to_owned();
            out.refs.push(RefRec {
                reference: [repo.as_str(), "@", target].concat(),
                repo,
                image: id.clone(),
                is_digest: true,
            });
        }
        if let Some(mut rec) = best_rec {
            if rec.created.is_none() {
                rec.created.clone_from(&first.created);
            }
            let meta = ImageMetaRec {
                id: id.clone(),
                path: shown(META_DB),
                parent: parent.as_deref().and_then(ImageId::parse),
                last_updated: recs.iter().filter_map(|r| r.updated.clone()).max(),
                built_locally: false,
            };
            out.image = Some((rec, meta));
        }
        out.facts = Some(ImageFacts {
            id,
            target: first.target.clone(),
            names,
            record_parents,
            manifests,
            best,
            size,
            inspect_size,
            parent,
        });
        out
    };
    let mapped: Vec<MappedImage> = {
        use rayon::prelude::*;
        by_target.par_iter().map(map_one).collect()
    };
    let mut images = Vec::with_capacity(mapped.len());
    scan.images.reserve(mapped.len());
    scan.image_meta.reserve(mapped.len());
    let mut configs_seen: FastSet<ImageId> = FastSet::default();
    for m in mapped {
        problems.extend(m.problems);
        scan.refs.extend(m.refs);
        if let Some((rec, meta)) = m.image {
            if configs_seen.insert(rec.id.clone()) {
                scan.image_meta.push(meta);
                scan.images.push(rec);
            }
        }
        images.extend(m.facts);
    }
    // Layer facts (none for a lean read: their diff ids are looked up below): the first
    // image manifest naming a chain gives its diff id, the first with a blob its blob.
    // (Keyed by the chain's text while built; sorted into the answer's map at the end.)
    let mut layer_facts: FastMap<&str, LayerFacts> = FastMap::default();
    for mf in images
        .iter()
        .flat_map(|f| &f.manifests)
        .filter(|_| !store.lean)
    {
        for (li, c) in mf.chain_ids.iter().enumerate() {
            let c = c.as_str();
            if layer_facts.get(c).is_some_and(|e| e.blob.is_some()) {
                continue;
            }
            let blob = mf.layers.get(li).cloned();
            let entry = match layer_facts.get_mut(c) {
                Some(e) => e,
                None => layer_facts.entry(c).or_insert_with(|| LayerFacts {
                    chain_id: c.to_owned(),
                    diff_id: mf.diff_ids.get(li).map(|d| d.as_str().to_owned()),
                    blob: None,
                    blob_present: false,
                    snapshot_key: c.to_owned(),
                    snapshot_dir: None,
                    kind: None,
                    usage: None,
                }),
            };
            if entry.blob.is_none() {
                entry.blob_present = blob.as_ref().is_some_and(|b| present(&b.digest));
                entry.blob = blob;
            }
        }
    }

    // A layer's parent is the previous chain id of an image's stack (a snapshot's own
    // parent may be a builder container's `-init` snapshot), and its diff id the one
    // its stack folds in. A chain id is the hash of those two, so every stack naming it
    // gives the same pair; and once a chain id is known, so is every one below it. Each
    // stack is walked from its top down to the first chain id already known.
    let mut chain_links: FastMap<&str, (Option<&str>, Option<&str>)> = FastMap::default();
    for m in images.iter().flat_map(|f| &f.manifests) {
        for (li, c) in m.chain_ids.iter().enumerate().rev() {
            match chain_links.entry(c.as_str()) {
                std::collections::hash_map::Entry::Occupied(_) => break,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((
                        li.checked_sub(1).map(|p| m.chain_ids[p].as_str()),
                        m.diff_ids.get(li).map(DiffId::as_str),
                    ));
                }
            }
        }
    }
    // Layers: committed snapshots of the namespace whose key is a chain id.
    let mut dir_kind: HashMap<String, &'static str> = HashMap::new();
    if !store.snapshot_dirs.is_empty() {
        for b in &store.backend {
            dir_kind.insert(b.id.to_string(), b.kind);
        }
    }
    // In key order: the layers come out sorted by chain id.
    let mut keys: Vec<(&str, &super::meta::SnapshotRecord)> =
        ns_snaps.iter().map(|(k, r)| (*k, *r)).collect();
    {
        use rayon::prelude::*;
        keys.par_sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    if !store.lean {
        for (key, _) in keys.iter().filter(|(k, _)| ChainId::parse(k).is_some()) {
            let b = backend_of(key);
            let entry = layer_facts.entry(key).or_insert_with(|| LayerFacts {
                chain_id: (*key).to_owned(),
                diff_id: None,
                blob: None,
                blob_present: false,
                snapshot_key: (*key).to_owned(),
                snapshot_dir: None,
                kind: None,
                usage: None,
            });
            entry.snapshot_dir = b.map(|b| format!("{OVERLAYFS}/snapshots/{}", b.id));
            entry.kind = b.map(|b| b.kind);
            entry.usage = committed_usage.get(*key).copied();
        }
    }
    // Each layer record on its own (in parallel: there is one per snapshot).
    let layer_rec = |&(key, rec): &(&str, &super::meta::SnapshotRecord)| -> Option<LayerRec> {
        let chain = ChainId::parse(key)?;
        let b = backend_of(key);
        let diff_text = if store.lean {
            chain_links.get(key).and_then(|l| l.1)
        } else {
            layer_facts.get(key).and_then(|e| e.diff_id.as_deref())
        };
        Some(LayerRec {
            chain_id: chain,
            path: shown(&[META_DB, "#v1/", &ns, "/snapshots/", SNAPSHOTTER, "/", key].concat()),
            diff_id: diff_text.and_then(DiffId::parse),
            parent: match chain_links.get(key).and_then(|l| l.0) {
                Some(p) => ChainId::parse(p),
                None if diff_text.is_some() => None, // a base layer
                None => rec.parent.as_deref().and_then(ChainId::parse),
            },
            cache_id: b.map(|b| b.id.to_string()),
            size: committed_usage.get(key).copied(),
            tar_split_len: None,
            descriptor: false,
            complete: b.is_some_and(|b| b.kind == "committed"),
        })
    };
    let layers: Vec<LayerRec> = {
        use rayon::prelude::*;
        keys.par_iter().filter_map(layer_rec).collect()
    };
    if scan.layers.is_empty() {
        scan.layers = layers;
    } else {
        scan.layers.extend(layers);
        scan.layers.sort_by(|a, b| a.chain_id.cmp(&b.chain_id));
    }
    for d in &store.snapshot_dirs {
        scan.dirs.push(DirRec {
            id: d.id.clone(),
            form: DirIdForm::Other,
            path: shown(&d.path),
            link: None,
            lower_names: String::new(),
            has_diff: d.has_fs,
            has_work: d.has_work,
            has_merged: false,
            committed: dir_kind.get(&d.id) == Some(&"committed"),
        });
    }
    // Containers: RW snapshot keyed by the container id, on `<id>-init`, on the image.
    for c in containers {
        let id = c.id.as_str();
        let rw = backend_of(id);
        let init_key = format!("{id}-init");
        let init = backend_of(&init_key);
        let parent = ns_snaps
            .get(init_key.as_str())
            .and_then(|s| s.parent.as_deref())
            .or_else(|| ns_snaps.get(id).and_then(|s| s.parent.as_deref()))
            .and_then(ChainId::parse);
        if rw.is_none() && init.is_none() && parent.is_none() {
            continue;
        }
        scan.mounts.push(MountRec {
            container_id: ContainerId::parse(id).unwrap_or_else(|| c.id.clone()),
            path: shown(&format!("{META_DB}#v1/{ns}/snapshots/{SNAPSHOTTER}/{id}")),
            mount_id: rw.map(|b| b.id.to_string()),
            init_id: init.map(|b| b.id.to_string()),
            parent,
        });
    }
    let snapshots = ns_snaps
        .iter()
        .filter(|_| !store.lean)
        .map(|(k, r)| {
            let b = backend_of(k);
            (
                (*k).to_owned(),
                NsSnapshot {
                    key: (*k).to_owned(),
                    parent: r.parent.clone(),
                    id: b.map(|b| b.id),
                    kind: b.map(|b| b.kind),
                    size: b.and_then(|b| b.size),
                },
            )
        })
        .collect();
    let image_by_id = images
        .iter()
        .enumerate()
        .map(|(i, f)| (f.id.clone(), i))
        .collect();
    let layer_map: BTreeMap<String, LayerFacts> = layer_facts
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let mut store = store;
    store.problems.extend(problems);
    scan.problems.extend(store.problems.iter().cloned());
    C8d {
        namespace: ns,
        found: Some(store.found.clone()),
        unusable: None,
        store: Some(store),
        images,
        layers: layer_map,
        committed_usage,
        snapshots,
        rootfs_dirs: Vec::new(),
        build_cache: None,
        image_by_id,
    }
}

/// One image's part of the mapping, put together with the others in target order.
#[derive(Default)]
struct MappedImage {
    facts: Option<ImageFacts>,
    problems: Vec<Problem>,
    refs: Vec<RefRec>,
    /// The best manifest's config and the image's metadata.
    image: Option<(ImageRec, ImageMetaRec)>,
}

/// An image config read from the content store, with its chain ids.
/// The namespace's snapshots by key, each joined with the snapshotter's record, and
/// each one's unpacked size: the Usage of it and of every ancestor, following the
/// snapshots' parents (`None` when one is missing, counted as 0 by the daemon).
struct SnapshotIndex<'s> {
    records: FastMap<&'s str, &'s super::meta::SnapshotRecord>,
    backend: FastMap<&'s str, &'s super::BackendSnapshot>,
    usage: FastMap<&'s str, Option<u64>>,
    committed_usage: FastMap<String, u64>,
}

impl<'s> SnapshotIndex<'s> {
    fn build(store: &'s Store, ns: &str) -> SnapshotIndex<'s> {
        let backend_by_key: FastMap<&str, &super::BackendSnapshot> =
            store.backend.iter().map(|b| (b.key.as_str(), b)).collect();
        let records: FastMap<&str, &super::meta::SnapshotRecord> = store
            .meta
            .snapshots
            .iter()
            .filter(|s| s.namespace == ns && s.snapshotter == SNAPSHOTTER)
            .map(|s| (s.key.as_str(), s))
            .collect();
        let backend: FastMap<&str, &super::BackendSnapshot> = records
            .iter()
            .filter_map(|(k, s)| Some((*k, *backend_by_key.get(s.name.as_str())?)))
            .collect();
        let own = |b: &super::BackendSnapshot| {
            if b.kind == "committed" {
                crate::scan::containerd::nonneg(b.size.unwrap_or(0))
            } else {
                0
            }
        };
        let committed_usage = backend
            .iter()
            .filter(|(_, b)| b.kind == "committed")
            .map(|(k, b)| ((*k).to_owned(), own(b)))
            .collect();
        // Each snapshot's total is remembered: images share their ancestors.
        let mut usage: FastMap<&str, Option<u64>> = FastMap::default();
        usage.reserve(records.len());
        let mut path: Vec<(&str, u64)> = Vec::new();
        for &top in records.keys() {
            path.clear();
            let mut cur = top;
            let base = loop {
                if let Some(v) = usage.get(cur) {
                    break *v;
                }
                if path.len() > records.len() {
                    break None; // a parent cycle (tampered records)
                }
                let Some((key, rec)) = records.get_key_value(cur) else {
                    break None;
                };
                let Some(b) = backend.get(key) else {
                    break None;
                };
                path.push((key, own(b)));
                match rec.parent.as_deref() {
                    Some(p) => cur = p,
                    None => break Some(0),
                }
            };
            let mut acc = base;
            for &(key, own) in path.iter().rev() {
                acc = acc.map(|a| a + own);
                usage.insert(key, acc);
            }
        }
        SnapshotIndex {
            records,
            backend,
            usage,
            committed_usage,
        }
    }
}

/// The config of every manifest the documents hold, read, checked and its chain ids
/// computed in parallel (each used by the image loop, at most once; a second use reads
/// it again).
fn read_configs(
    store: &Store,
    ns_blobs: &FastSet<&str>,
    dir: &crate::root::Dir<'_>,
    croot: &DataRoot,
    pool: &Pool,
) -> FastMap<String, std::sync::Mutex<Option<ConfigRead>>> {
    use rayon::prelude::*;
    let mut wanted: Vec<&str> = store
        .docs
        .values()
        .filter_map(|d| match d {
            Doc::Manifest { config, .. } => Some(config.digest.as_str()),
            Doc::Index { .. } => None,
        })
        .filter(|d| ns_blobs.contains(d) && d.starts_with("sha256:"))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    wanted
        .par_iter()
        .map(|d| {
            let hex = d.strip_prefix("sha256:").unwrap_or(d);
            let read = read_config(dir, hex, pool, croot, !store.lean);
            ((*d).to_owned(), std::sync::Mutex::new(Some(read)))
        })
        .collect()
}

struct ConfigRead {
    rec: Option<ImageRec>,
    problems: Vec<Problem>,
}

fn read_config(
    dir: &crate::root::Dir<'_>,
    hex: &str,
    pool: &Pool,
    croot: &DataRoot,
    keep_history: bool,
) -> ConfigRead {
    let (rec, mut problems) =
        crate::scan::imagedb::read_config(dir, hex, pool, croot.capture(), keep_history);
    // (named as every path of containerd's root is shown)
    for p in &mut problems {
        p.path = shown(&p.path);
    }
    ConfigRead { rec, problems }
}

/// The manifest Docker shows: available image manifests first, the host platform first.
fn pick_best(manifests: &[ManifestFacts], recs: &[Option<ImageRec>]) -> Option<usize> {
    manifests
        .iter()
        .enumerate()
        .filter(|(i, m)| m.kind == "image" && recs[*i].is_some())
        .min_by_key(|(i, m)| (!m.available, host_rank(m.platform.as_ref()), *i))
        .map(|(i, _)| i)
}
