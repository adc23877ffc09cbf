//! `dockscope du`: disk usage per area, layer, image, container and volume, with
//! Docker's `system df` figures reproduced from the same walk.

use super::{human_size, sanitize, table, write_table, Report};
use crate::model::ids::{ChainId, ContainerId, DirIdForm, ImageId};
use crate::model::{size, Model};
use crate::problem::Problem;
use crate::walk::{Bucket, Usage, WalkResult};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};

/// Which Docker release's rule `shared_size` follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum DfCompat {
    /// Docker 23 and later: every image counts when deciding what is shared.
    #[value(name = "23")]
    #[serde(rename = "23")]
    V23,
    /// Docker 20.10: only the images `docker images` lists count.
    #[value(name = "20.10")]
    #[serde(rename = "20.10")]
    V20_10,
}

/// How the human output is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    Area,
    Image,
    Layer,
    Container,
    Volume,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SortBy {
    Size,
    Name,
}

/// Options for the human rendering.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub by: By,
    pub apparent: bool,
    pub bytes: bool,
    pub sort: SortBy,
    pub top: Option<usize>,
}

#[derive(Serialize)]
pub struct DuReport {
    /// False for an archive: `disk_bytes` is then null (unknown), never guessed.
    pub disk_bytes_known: bool,
    /// False for an archive: tar headers give no directory sizes, so `apparent_bytes`
    /// counts files and links only there.
    pub dir_sizes_known: bool,
    pub df_compat: DfCompat,
    /// Where `disk_bytes` come from when not from the files read now: a capture's
    /// manifest (what the live root measured). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_bytes_from: Option<String>,
    pub areas: Vec<AreaUsage>,
    pub total: AreaUsage,
    pub layers: Vec<LayerUsage>,
    pub images: Vec<ImageUsage>,
    pub containers: Vec<ContainerUsage>,
    pub volumes: Vec<VolumeUsage>,
    pub build_cache: BuildCacheUsage,
    /// What no one owns (the reclaimable findings of `orphans`).
    pub unowned: Unowned,
    pub system_df: SystemDf,
    /// Directories on another filesystem (a live root's `merged/` mounts): not walked.
    pub mount_points_skipped: Vec<String>,
    #[serde(skip)]
    pub view: Option<View>,
    /// The walk's totals per bucket, so other reports (orphans) measure paths from the
    /// same walk instead of walking them again: see `usage_of`.
    #[serde(skip)]
    pub buckets: HashMap<Bucket, Usage>,
    pub problems: Vec<Problem>,
}

#[derive(Serialize, Clone)]
pub struct AreaUsage {
    pub name: String,
    pub disk_bytes: Option<u64>,
    pub apparent_bytes: u64,
    pub size: u64,
    pub files: u64,
    pub dirs: u64,
    pub hardlinks_folded: u64,
}

#[derive(Serialize)]
pub struct LayerUsage {
    pub chain_id: ChainId,
    pub cache_id: Option<String>,
    /// Docker's size of the layer (its layerdb `size` file).
    pub size: u64,
    /// Docker's measure of `overlay2/<cache-id>/diff` as found now.
    pub diff_size: u64,
    /// The whole `overlay2/<cache-id>` dir.
    pub disk_bytes: Option<u64>,
    pub apparent_bytes: u64,
    /// Loaded images whose chain holds the layer.
    pub images: Vec<ImageId>,
}

#[derive(Serialize)]
pub struct ImageUsage {
    pub id: ImageId,
    pub repo_tags: Vec<String>,
    pub size: u64,
    pub shared_size: u64,
    pub unique_size: u64,
    pub containers: usize,
}

#[derive(Serialize)]
pub struct ContainerUsage {
    pub id: ContainerId,
    pub name: String,
    /// Docker's `SizeRw`: its RW dir's `diff/`, Docker's measure.
    pub size_rw: u64,
    /// Docker's `SizeRootFs`: `size_rw` plus the layers under it.
    pub size_root_fs: u64,
    /// Allocated bytes of its RW dir, init dir and `containers/<id>/`.
    pub disk_bytes: Option<u64>,
    /// Bytes of its log files (rotated ones included).
    pub log_bytes: u64,
    pub active: bool,
}

#[derive(Serialize)]
pub struct VolumeUsage {
    pub name: String,
    /// Docker's measure of `volumes/<name>/_data`.
    pub size: u64,
    pub disk_bytes: Option<u64>,
    /// Containers that mount it.
    pub links: usize,
}

#[derive(Serialize)]
pub struct BuildCacheUsage {
    /// BuildKit's own dirs in overlay2 (25-character ids).
    pub dirs: usize,
    /// Docker's measure of those no image layer uses (what `docker system df` prints).
    pub size: u64,
    /// Plus the BuildKit dirs that are also image layers (the Engine API's `BuilderSize`).
    pub size_with_layers: u64,
    pub disk_bytes: Option<u64>,
}

/// What no one owns: the reclaimable findings of `orphans`, with its totals.
#[derive(Serialize, Default)]
pub struct Unowned {
    pub findings: usize,
    pub paths: Vec<String>,
    pub disk_bytes: Option<u64>,
    pub apparent_bytes: u64,
}

/// `docker system df`, reproduced.
#[derive(Serialize)]
pub struct SystemDf {
    pub images_total: usize,
    pub images_active: usize,
    pub layers_size: u64,
    pub images_reclaimable: u64,
    pub containers_total: usize,
    pub containers_active: usize,
    pub containers_size: u64,
    pub containers_reclaimable: u64,
    pub volumes_total: usize,
    pub volumes_active: usize,
    pub volumes_size: u64,
    pub volumes_reclaimable: u64,
    pub build_cache_size: u64,
}

impl Report for DuReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

fn area_usage(name: &str, u: &Usage) -> AreaUsage {
    AreaUsage {
        name: name.to_owned(),
        disk_bytes: u.disk_bytes,
        apparent_bytes: u.apparent_bytes,
        size: u.size,
        files: u.files,
        dirs: u.dirs,
        hardlinks_folded: u.hardlinks_folded,
    }
}

fn sum<'a>(known: bool, it: impl Iterator<Item = &'a Usage>) -> Usage {
    let mut total = Usage {
        disk_bytes: known.then_some(0),
        ..Usage::default()
    };
    for u in it {
        total.add(u);
    }
    total
}

pub fn build(model: &Model, walk: WalkResult, compat: DfCompat, known_disk: bool) -> DuReport {
    let WalkResult {
        buckets,
        total,
        mount_points,
        problems: walk_problems,
        ..
    } = walk;
    let empty = Usage {
        disk_bytes: known_disk.then_some(0),
        ..Usage::default()
    };
    let get = |b: Bucket| buckets.get(&b).copied().unwrap_or(empty);
    let dir_usage = |id: &str| {
        let mut u = get(Bucket::LayerRest(id.to_owned()));
        u.add(&get(Bucket::LayerDiff(id.to_owned())));
        u
    };

    let mut by_area: BTreeMap<&str, Usage> = BTreeMap::new();
    for (b, u) in &buckets {
        by_area.entry(b.area()).or_insert(empty).add(u);
    }
    let mut areas: Vec<AreaUsage> = model
        .layout
        .areas
        .iter()
        .map(|a| area_usage(&a.name, by_area.get(a.name.as_str()).unwrap_or(&empty)))
        .collect();
    areas.sort_by(|a, b| a.name.cmp(&b.name));

    let layers: Vec<LayerUsage> = (0..model.layers.len())
        .map(|l| {
            let rec = &model.layers[l];
            let u = rec.cache_id.as_deref().map_or(empty, dir_usage);
            LayerUsage {
                chain_id: rec.chain_id.clone(),
                cache_id: rec.cache_id.clone(),
                size: model.layer_size(l),
                diff_size: rec
                    .cache_id
                    .as_ref()
                    .map_or(0, |c| get(Bucket::LayerDiff(c.clone())).size),
                disk_bytes: u.disk_bytes,
                apparent_bytes: u.apparent_bytes,
                images: model
                    .layer_images(l)
                    .iter()
                    .map(|&i| model.images[i].rec.id.clone())
                    .collect(),
            }
        })
        .collect();

    // Images, with docker's SharedSize rule of the chosen release.
    let listed: Vec<usize> = model
        .loaded_images()
        .filter(|&i| model.is_listed(i))
        .collect();
    let counting: Vec<usize> = match compat {
        DfCompat::V23 => model.loaded_images().collect(),
        DfCompat::V20_10 => listed.clone(),
    };
    let mut holders: HashMap<usize, usize> = HashMap::new();
    for &i in &counting {
        for l in model.image_layers(i) {
            *holders.entry(l).or_default() += 1;
        }
    }
    let images: Vec<ImageUsage> = listed
        .iter()
        .map(|&i| {
            let chain = model.image_layers(i);
            let size = size::sum_capped(chain.iter().map(|&l| model.layer_size(l)));
            let shared = size::sum_capped(
                chain
                    .iter()
                    .filter(|l| holders.get(l).copied().unwrap_or(0) > 1)
                    .map(|&l| model.layer_size(l)),
            );
            ImageUsage {
                id: model.images[i].rec.id.clone(),
                repo_tags: model.tags_and_digests(i).0,
                size,
                shared_size: shared,
                unique_size: size.saturating_sub(shared),
                containers: model.image_containers(i).len(),
            }
        })
        .collect();
    let used_layers: HashSet<usize> = listed.iter().flat_map(|&i| model.image_layers(i)).collect();
    let layers_size = size::sum(used_layers.iter().map(|&l| model.layer_size(l)));
    let layers_overflow = layers_size.is_none();
    let layers_size = layers_size.unwrap_or(size::MAX);
    let in_use = size::sum_capped(
        images
            .iter()
            .filter(|i| i.containers > 0)
            .map(|i| i.size.saturating_sub(i.shared_size)),
    );

    let containers: Vec<ContainerUsage> = model
        .containers
        .iter()
        .enumerate()
        .map(|(c, ct)| {
            let (rw, init) = model.container_dirs(c);
            let rw_id = rw.map(|d| model.dirs[d].id.clone());
            let size_rw = rw_id
                .as_ref()
                .map_or(0, |id| get(Bucket::LayerDiff(id.clone())).size);
            let below = size::sum_capped(
                model
                    .container_layers(c)
                    .iter()
                    .map(|&l| model.layer_size(l)),
            );
            let id = ct.rec.id.as_str().to_owned();
            let mut disk = get(Bucket::ContainerDir(id.clone()));
            disk.add(&get(Bucket::ContainerLog(id.clone())));
            if let Some(r) = &rw_id {
                disk.add(&dir_usage(r));
            }
            if let Some(i) = init {
                disk.add(&dir_usage(&model.dirs[i].id));
            }
            let st = &ct.rec.state;
            ContainerUsage {
                id: ct.rec.id.clone(),
                name: ct.rec.name.trim_start_matches('/').to_owned(),
                size_rw,
                size_root_fs: size::add_capped(size_rw, below),
                disk_bytes: disk.disk_bytes,
                log_bytes: get(Bucket::ContainerLog(id)).apparent_bytes,
                active: st.running || st.paused || st.restarting,
            }
        })
        .collect();

    let volumes: Vec<VolumeUsage> = model
        .volumes
        .iter()
        .map(|v| {
            let u = get(Bucket::VolumeData(v.name.clone()));
            let mut all = u;
            all.add(&get(Bucket::VolumeRest(v.name.clone())));
            let links = model
                .containers
                .iter()
                .filter(|c| {
                    c.rec
                        .mounts
                        .iter()
                        .any(|m| m.name == v.name && m.kind == "volume")
                })
                .count();
            VolumeUsage {
                name: v.name.clone(),
                size: u.size,
                disk_bytes: all.disk_bytes,
                links,
            }
        })
        .collect();

    // BuildKit's dirs: those no layer uses are what `docker system df` calls build cache.
    let layer_dirs: HashSet<&str> = model
        .layers
        .iter()
        .filter_map(|l| l.cache_id.as_deref())
        .collect();
    let buildkit: Vec<&str> = model
        .dirs
        .iter()
        .filter(|d| d.form == DirIdForm::Buildkit)
        .map(|d| d.id.as_str())
        .collect();
    let cache_only = sum(
        known_disk,
        buildkit
            .iter()
            .filter(|d| !layer_dirs.contains(**d))
            .map(|d| {
                buckets
                    .get(&Bucket::LayerDiff((*d).to_owned()))
                    .unwrap_or(&empty)
            }),
    );
    // BuildKit registers its layers with its own size (symlinks not counted): use the
    // recorded size of those, as the Engine API's BuilderSize does.
    let buildkit_layers: u64 = (0..model.layers.len())
        .filter(|&l| {
            model.layers[l]
                .cache_id
                .as_deref()
                .is_some_and(|c| DirIdForm::of(c) == DirIdForm::Buildkit)
        })
        .map(|l| model.layer_size(l))
        .fold(0, size::add_capped);
    let cache_disk = buildkit
        .iter()
        .map(|d| dir_usage(d).disk_bytes)
        .sum::<Option<u64>>();
    let build_cache = BuildCacheUsage {
        dirs: buildkit.len(),
        size: cache_only.size,
        size_with_layers: size::add_capped(cache_only.size, buildkit_layers),
        disk_bytes: cache_disk,
    };

    let system_df = SystemDf {
        images_total: images.len(),
        images_active: images.iter().filter(|i| i.containers > 0).count(),
        layers_size,
        images_reclaimable: layers_size.saturating_sub(in_use),
        containers_total: containers.len(),
        containers_active: containers.iter().filter(|c| c.active).count(),
        containers_size: size::sum_capped(containers.iter().map(|c| c.size_rw)),
        containers_reclaimable: size::sum_capped(
            containers.iter().filter(|c| !c.active).map(|c| c.size_rw),
        ),
        volumes_total: volumes.len(),
        volumes_active: volumes.iter().filter(|v| v.links > 0).count(),
        volumes_size: size::sum_capped(volumes.iter().map(|v| v.size)),
        volumes_reclaimable: size::sum_capped(
            volumes.iter().filter(|v| v.links == 0).map(|v| v.size),
        ),
        build_cache_size: build_cache.size,
    };
    let mut problems = model.problems.clone();
    problems.extend(walk_problems);
    if layers_overflow {
        problems.push(crate::problem::Problem::new(
            "image/overlay2/layerdb",
            crate::problem::ProblemKind::TooLarge,
            format!(
                "the layers' size files add up beyond int64 (Docker's limit); shown capped at {}",
                size::MAX
            ),
        ));
    }
    problems.sort();
    problems.dedup();
    DuReport {
        disk_bytes_known: known_disk,
        dir_sizes_known: known_disk,
        df_compat: compat,
        disk_bytes_from: None,
        areas,
        total: area_usage("total", &total),
        layers,
        images,
        containers,
        volumes,
        build_cache,
        unowned: Unowned::default(),
        system_df,
        mount_points_skipped: mount_points,
        view: None,
        buckets,
        problems,
    }
}

impl DuReport {
    /// What the walk measured under a path that is a whole set of buckets:
    /// `overlay2/<id>` or `containers/<id>`. `None` for any other path.
    pub fn usage_of(&self, path: &str) -> Option<Usage> {
        let (area, id) = path.split_once('/')?;
        if id.contains('/') || id == "l" {
            return None;
        }
        let parts = match area {
            "overlay2" => [
                Bucket::LayerRest(id.to_owned()),
                Bucket::LayerDiff(id.to_owned()),
            ],
            "containers" => [
                Bucket::ContainerDir(id.to_owned()),
                Bucket::ContainerLog(id.to_owned()),
            ],
            _ => return None,
        };
        let mut u = Usage {
            disk_bytes: self.disk_bytes_known.then_some(0),
            ..Usage::default()
        };
        let mut seen = false;
        for b in &parts {
            if let Some(x) = self.buckets.get(b) {
                u.add(x);
                seen = true;
            }
        }
        seen.then_some(u)
    }
}

struct Fmt {
    bytes: bool,
}

impl Fmt {
    fn size(&self, n: u64) -> String {
        if self.bytes {
            n.to_string()
        } else {
            human_size(n)
        }
    }
    fn disk(&self, n: Option<u64>) -> String {
        n.map_or_else(|| "unknown".to_owned(), |n| self.size(n))
    }
}

fn pct(part: u64, whole: u64) -> String {
    // Integer percent, truncated, as the docker CLI prints it.
    format!("{}%", (part * 100).checked_div(whole).unwrap_or(0))
}

fn cut<T>(mut rows: Vec<T>, top: Option<usize>) -> Vec<T> {
    if let Some(n) = top {
        rows.truncate(n);
    }
    rows
}

pub fn render(r: &DuReport, out: &mut dyn Write) -> io::Result<()> {
    let view = r.view.unwrap_or(View {
        by: By::Area,
        apparent: false,
        bytes: false,
        sort: SortBy::Size,
        top: None,
    });
    let f = Fmt { bytes: view.bytes };
    let used = |disk: Option<u64>, apparent: u64| {
        if view.apparent {
            apparent
        } else {
            disk.unwrap_or(apparent)
        }
    };
    let measure = if view.apparent || !r.disk_bytes_known {
        "APPARENT"
    } else {
        "DISK"
    };
    match view.by {
        By::Area => {
            let mut rows: Vec<&AreaUsage> = r.areas.iter().collect();
            match view.sort {
                SortBy::Size => {
                    rows.sort_by_key(|a| std::cmp::Reverse(used(a.disk_bytes, a.apparent_bytes)));
                }
                SortBy::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            }
            let mut t = table(&[
                "AREA",
                "DISK",
                "APPARENT",
                "DOCKER SIZE",
                "FILES",
                "DIRS",
                "HARDLINKS FOLDED",
            ]);
            for a in cut(rows, view.top)
                .into_iter()
                .chain(std::iter::once(&r.total))
            {
                t.add_row(vec![
                    sanitize(&a.name),
                    f.disk(a.disk_bytes),
                    f.size(a.apparent_bytes),
                    f.size(a.size),
                    a.files.to_string(),
                    a.dirs.to_string(),
                    a.hardlinks_folded.to_string(),
                ]);
            }
            write_table(t, out)?;
            writeln!(out)?;
            let d = &r.system_df;
            let mut t = table(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
            let rows = [
                (
                    "Images",
                    d.images_total,
                    d.images_active,
                    d.layers_size,
                    d.images_reclaimable,
                ),
                (
                    "Containers",
                    d.containers_total,
                    d.containers_active,
                    d.containers_size,
                    d.containers_reclaimable,
                ),
                (
                    "Local Volumes",
                    d.volumes_total,
                    d.volumes_active,
                    d.volumes_size,
                    d.volumes_reclaimable,
                ),
                (
                    "Build Cache",
                    r.build_cache.dirs,
                    0,
                    d.build_cache_size,
                    d.build_cache_size,
                ),
            ];
            for (kind, total, active, size, recl) in rows {
                t.add_row(vec![
                    kind.to_owned(),
                    total.to_string(),
                    active.to_string(),
                    f.size(size),
                    format!("{} ({})", f.size(recl), pct(recl, size)),
                ]);
            }
            write_table(t, out)?;
            if r.unowned.findings > 0 {
                writeln!(
                    out,
                    "\nNo one owns {} on disk ({} apparent) in {} leftover(s): see `dockscope orphans`",
                    f.disk(r.unowned.disk_bytes),
                    f.size(r.unowned.apparent_bytes),
                    r.unowned.findings
                )?;
            }
        }
        By::Layer => {
            let mut rows: Vec<&LayerUsage> = r.layers.iter().collect();
            match view.sort {
                SortBy::Size => {
                    rows.sort_by_key(|l| std::cmp::Reverse(used(l.disk_bytes, l.apparent_bytes)));
                }
                SortBy::Name => rows.sort_by(|a, b| a.chain_id.cmp(&b.chain_id)),
            }
            let mut t = table(&["CHAIN ID", "CACHE ID", "SIZE", measure, "IMAGES"]);
            for l in cut(rows, view.top) {
                t.add_row(vec![
                    l.chain_id.short().to_owned(),
                    l.cache_id
                        .as_deref()
                        .map_or("-".into(), |c| c.chars().take(12).collect()),
                    f.size(l.size),
                    f.size(used(l.disk_bytes, l.apparent_bytes)),
                    l.images.len().to_string(),
                ]);
            }
            write_table(t, out)?;
        }
        By::Image => {
            let mut rows: Vec<&ImageUsage> = r.images.iter().collect();
            match view.sort {
                SortBy::Size => rows.sort_by_key(|i| std::cmp::Reverse(i.size)),
                SortBy::Name => {
                    rows.sort_by(|a, b| a.repo_tags.cmp(&b.repo_tags).then(a.id.cmp(&b.id)));
                }
            }
            let mut t = table(&[
                "REPOSITORY:TAG",
                "IMAGE ID",
                "SIZE",
                "SHARED SIZE",
                "UNIQUE SIZE",
                "CONTAINERS",
            ]);
            for i in cut(rows, view.top) {
                let name = if i.repo_tags.is_empty() {
                    "<none>".to_owned()
                } else {
                    sanitize(&i.repo_tags.join(", "))
                };
                t.add_row(vec![
                    name,
                    i.id.short().to_owned(),
                    f.size(i.size),
                    f.size(i.shared_size),
                    f.size(i.unique_size),
                    i.containers.to_string(),
                ]);
            }
            write_table(t, out)?;
        }
        By::Container => {
            let mut rows: Vec<&ContainerUsage> = r.containers.iter().collect();
            match view.sort {
                SortBy::Size => rows.sort_by_key(|c| std::cmp::Reverse(c.size_rw + c.log_bytes)),
                SortBy::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            }
            let mut t = table(&["CONTAINER ID", "NAME", "SIZE", "VIRTUAL", "LOGS", "DISK"]);
            for c in cut(rows, view.top) {
                t.add_row(vec![
                    c.id.short().to_owned(),
                    sanitize(&c.name),
                    f.size(c.size_rw),
                    f.size(c.size_root_fs),
                    f.size(c.log_bytes),
                    f.disk(c.disk_bytes),
                ]);
            }
            write_table(t, out)?;
        }
        By::Volume => {
            let mut rows: Vec<&VolumeUsage> = r.volumes.iter().collect();
            match view.sort {
                SortBy::Size => rows.sort_by_key(|v| std::cmp::Reverse(v.size)),
                SortBy::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            }
            let mut t = table(&["VOLUME NAME", "LINKS", "SIZE", "DISK"]);
            for v in cut(rows, view.top) {
                t.add_row(vec![
                    sanitize(&v.name),
                    v.links.to_string(),
                    f.size(v.size),
                    f.disk(v.disk_bytes),
                ]);
            }
            write_table(t, out)?;
        }
    }
    if !r.mount_points_skipped.is_empty() {
        writeln!(
            out,
            "\nnot walked (mount points on another filesystem, e.g. a live container's merged/): {}",
            r.mount_points_skipped.join(", ")
        )?;
    }
    if !r.disk_bytes_known {
        writeln!(
            out,
            "\nread from an archive: allocated sizes are unknown, apparent sizes are shown"
        )?;
    }
    if let Some(from) = &r.disk_bytes_from {
        writeln!(out, "\nallocated sizes from the {from}")?;
    }
    Ok(())
}
