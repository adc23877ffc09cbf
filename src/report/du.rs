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
    /// Print only `docker system df`'s table (`--system-df`).
    pub system_df_only: bool,
}

#[derive(Serialize)]
pub struct DuReport {
    /// False for an archive: `disk_bytes` is then null (unknown), never guessed.
    pub disk_bytes_known: bool,
    /// False for an archive: tar headers give no directory sizes, so `apparent_bytes`
    /// counts files and links only there.
    pub dir_sizes_known: bool,
    pub df_compat: DfCompat,
    /// Why `df_compat` was chosen: `option` (`--df-compat`), `version-hint` (the root's
    /// version hints) or `default` (no hint: the Docker 23+ rule).
    pub df_compat_source: &'static str,
    /// The hint or option behind `df_compat`, in words.
    pub df_compat_reason: String,
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
    /// `docker system df -v`'s listings, when asked for (`du --system-df -v`).
    #[serde(skip)]
    pub verbose: Option<VerboseDf>,
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
    /// Bytes in lower layers that upper layers overwrite or delete (`waste`'s measure);
    /// null unless `--by image` was asked for (the layers' files are read for it).
    pub wasted_bytes: Option<u64>,
    /// `1 - wasted_bytes / bytes of every layer's files`; null as `wasted_bytes`.
    pub efficiency: Option<f64>,
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
    /// BuildKit's cache records (`buildkit/metadata_v2.db`), as `docker system df` counts
    /// them; `None` when the database is absent or unreadable (the count of BuildKit's
    /// overlay2 dirs is shown instead).
    pub build_cache_total: Option<usize>,
    /// Records in use by a running build: always 0 offline (no build runs in a copy).
    pub build_cache_active: usize,
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

/// The `system df` rule for this root: `--df-compat` when given, else the root's version
/// hints (a 20.10 root gets the 20.10 rule, a 23+ root the 23+ rule), else the 23+ rule.
/// Returns the rule, its source and the reason in words.
pub fn choose_rule(model: &Model, option: Option<DfCompat>) -> (DfCompat, &'static str, String) {
    if let Some(c) = option {
        let name = match c {
            DfCompat::V23 => "23",
            DfCompat::V20_10 => "20.10",
        };
        return (c, "option", format!("--df-compat {name}"));
    }
    let hints = &model.layout.version_hints;
    let modern = [
        "engine-id",
        "buildkit/history.db",
        "image/identity-cache.db",
    ];
    if let Some(h) = hints
        .iter()
        .find(|h| modern.iter().any(|m| h.starts_with(m)))
    {
        return (DfCompat::V23, "version-hint", h.clone());
    }
    if let Some(h) = hints.iter().find(|h| h.starts_with("trust/")) {
        return (DfCompat::V20_10, "version-hint", h.clone());
    }
    (
        DfCompat::V23,
        "default",
        "no version hint: the Docker 23+ rule".to_owned(),
    )
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
    // In the containerd store, the images are the daemon's numbers in that mode, put in
    // by `report::c8d::patch_du_walked` (every caller that shows them calls it): not
    // computed twice.
    let c8d_images = model.containerd.as_ref().is_some_and(|c| c.store.is_some());
    let images: Vec<ImageUsage> = if c8d_images {
        Vec::new()
    } else {
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
        listed
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
                    wasted_bytes: None,
                    efficiency: None,
                }
            })
            .collect()
    };
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
        build_cache_total: None,
        build_cache_active: 0,
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
        df_compat_source: "option",
        df_compat_reason: String::new(),
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
        verbose: None,
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

/// Go's `fmt.Sprintf("%.*g", prec, x)` for a finite, non-negative `x`.
fn go_g(x: f64, prec: usize) -> String {
    if x == 0.0 {
        return "0".to_owned();
    }
    let prec = prec.max(1);
    // Rust and Go both round the exact binary value to `prec` significant digits.
    let e = format!("{:.*e}", prec - 1, x);
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let strip = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        }
    };
    let prec_i = i32::try_from(prec).unwrap_or(i32::MAX);
    if exp < -4 || exp >= prec_i {
        let m = if digits.len() > 1 {
            strip(format!("{}.{}", &digits[..1], &digits[1..]))
        } else {
            digits
        };
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", exp.abs());
    }
    let s = if exp >= 0 {
        let point = usize::try_from(exp + 1).unwrap_or(0);
        if digits.len() > point {
            format!("{}.{}", &digits[..point], &digits[point..])
        } else {
            format!("{digits}{}", "0".repeat(point - digits.len()))
        }
    } else {
        format!(
            "0.{}{digits}",
            "0".repeat(usize::try_from(-exp - 1).unwrap_or(0))
        )
    };
    strip(s)
}

/// go-units' `HumanSizeWithPrecision(size, prec)`: decimal units, `prec` significant
/// digits (`docker system df` uses 4, `docker images` 3).
pub fn go_human_size(bytes: u64, prec: usize) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, prec), UNITS[i])
}

/// Go's `text/tabwriter` as the docker CLI sets it up (`minwidth 10, tabwidth 1,
/// padding 3, padchar ' '`): every cell but a line's last is padded to its column's width.
pub fn go_tabwriter(rows: &[Vec<String>], out: &mut dyn Write) -> io::Result<()> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![10usize; cols];
    for row in rows {
        for (c, cell) in row.iter().enumerate().take(row.len().saturating_sub(1)) {
            widths[c] = widths[c].max(cell.chars().count() + 3);
        }
    }
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if c + 1 < row.len() {
                let pad = widths[c].saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `docker system df`'s summary table, byte for byte as the docker CLI prints it
/// (cli/command/formatter/disk_usage.go): sizes with 4 significant digits, and the
/// reclaimable percentage (integer, truncated) only where the total is not zero.
pub fn write_system_df(r: &DuReport, out: &mut dyn Write) -> io::Result<()> {
    let d = &r.system_df;
    let size = |n: u64| go_human_size(n, 4);
    let with_pct = |recl: u64, total: u64| {
        if total > 0 {
            format!(
                "{} ({}%)",
                size(recl),
                (u128::from(recl) * 100) / u128::from(total)
            )
        } else {
            size(recl)
        }
    };
    let rows = vec![
        vec![
            "TYPE".into(),
            "TOTAL".into(),
            "ACTIVE".into(),
            "SIZE".into(),
            "RECLAIMABLE".into(),
        ],
        vec![
            "Images".into(),
            d.images_total.to_string(),
            d.images_active.to_string(),
            size(d.layers_size),
            with_pct(d.images_reclaimable, d.layers_size),
        ],
        vec![
            "Containers".into(),
            d.containers_total.to_string(),
            d.containers_active.to_string(),
            size(d.containers_size),
            with_pct(d.containers_reclaimable, d.containers_size),
        ],
        vec![
            "Local Volumes".into(),
            d.volumes_total.to_string(),
            d.volumes_active.to_string(),
            size(d.volumes_size),
            with_pct(d.volumes_reclaimable, d.volumes_size),
        ],
        vec![
            "Build Cache".into(),
            d.build_cache_total
                .unwrap_or(r.build_cache.dirs)
                .to_string(),
            d.build_cache_active.to_string(),
            size(d.build_cache_size),
            size(d.build_cache_size),
        ],
    ];
    go_tabwriter(&rows, out)
}

fn cut<T>(mut rows: Vec<T>, top: Option<usize>) -> Vec<T> {
    if let Some(n) = top {
        rows.truncate(n);
    }
    rows
}

/// `du --by image`: each image's wasted bytes and efficiency, measured by `waste`
/// (the layers' files read, images in parallel).
pub fn add_waste(r: &mut DuReport, root: &crate::root::DataRoot, model: &Model) {
    use rayon::prelude::*;
    let index: HashMap<&str, usize> = (0..model.images.len())
        .map(|i| (model.images[i].rec.id.as_str(), i))
        .collect();
    let found: Vec<Option<(u64, f64, Vec<Problem>)>> = r
        .images
        .par_iter()
        .map(|u| {
            let &i = index.get(u.id.as_str())?;
            Some(super::waste::summary(root, model, i))
        })
        .collect();
    for (u, f) in r.images.iter_mut().zip(found) {
        if let Some((wasted, efficiency, problems)) = f {
            u.wasted_bytes = Some(wasted);
            u.efficiency = Some(efficiency);
            r.problems.extend(problems);
        }
    }
    r.problems.sort();
    r.problems.dedup();
}

pub fn render(r: &DuReport, out: &mut dyn Write) -> io::Result<()> {
    let view = r.view.unwrap_or(View {
        by: By::Area,
        apparent: false,
        bytes: false,
        sort: SortBy::Size,
        top: None,
        system_df_only: false,
    });
    if view.system_df_only {
        return match &r.verbose {
            Some(v) => write_system_df_verbose(r, v, out),
            None => write_system_df(r, out),
        };
    }
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
            write_system_df(r, out)?;
            let rule = match r.df_compat {
                DfCompat::V23 => "23+",
                DfCompat::V20_10 => "20.10",
            };
            writeln!(
                out,
                "(docker system df, Docker {rule} rule: {}; --df-compat to change)",
                sanitize(&r.df_compat_reason)
            )?;
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
                "WASTED",
                "EFFICIENCY",
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
                    i.wasted_bytes.map_or_else(|| "-".to_owned(), |w| f.size(w)),
                    i.efficiency
                        .map_or_else(|| "-".to_owned(), |e| format!("{:.2}%", e * 100.0)),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_units_sizes() {
        // As go-units prints them (fmt's %.4g / %.3g on the value divided by 1000s).
        assert_eq!(go_human_size(0, 4), "0B");
        assert_eq!(go_human_size(999, 4), "999B");
        assert_eq!(go_human_size(1000, 4), "1kB");
        assert_eq!(go_human_size(8198, 4), "8.198kB");
        assert_eq!(go_human_size(16_410, 4), "16.41kB");
        assert_eq!(go_human_size(24_604, 4), "24.6kB");
        assert_eq!(go_human_size(1_999_959, 4), "2MB");
        assert_eq!(go_human_size(1_998_959, 4), "1.999MB");
        assert_eq!(go_human_size(12_587_060, 4), "12.59MB");
        assert_eq!(go_human_size(999_950, 4), "1000kB");
        assert_eq!(go_human_size(1_983_000, 3), "1.98MB");
        assert_eq!(go_human_size(u64::MAX, 4), "18.45EB");
        assert_eq!(go_g(1234.0, 3), "1.23e+03");
        assert_eq!(go_g(0.000_012_5, 4), "1.25e-05");
        assert_eq!(go_g(0.5, 4), "0.5");
    }

    #[test]
    fn tabwriter_pads_like_go() {
        let mut out = Vec::new();
        let rows = vec![
            vec!["TYPE".to_owned(), "TOTAL".to_owned(), "X".to_owned()],
            vec![
                "Local Volumes".to_owned(),
                "2".to_owned(),
                "0B (0%)".to_owned(),
            ],
        ];
        go_tabwriter(&rows, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "TYPE            TOTAL     X\nLocal Volumes   2         0B (0%)\n"
        );
    }
}

/// go-units' `HumanDuration`, as docker's "… ago" columns print it.
pub fn go_human_duration(secs_f: f64) -> String {
    super::format::human_duration(secs_f as i64)
}

/// `docker system df -v`'s listings, as rows of cells (times relative to `now`, as the
/// docker CLI would print them now).
#[derive(Default)]
pub struct VerboseDf {
    pub images: Vec<Vec<String>>,
    pub containers: Vec<Vec<String>>,
    pub volumes: Vec<Vec<String>>,
    pub build_cache: Vec<Vec<String>>,
}

/// Build the `-v` listings from the model, the report and BuildKit's records.
pub fn verbose(
    model: &Model,
    r: &DuReport,
    records: Option<&[crate::scan::buildcache::CacheRecord]>,
    now: jiff::Timestamp,
) -> VerboseDf {
    use super::ps::{api_image, command_string, display_image, ellipsis, go_quote, is_zero_time};
    let size = |n: u64| go_human_size(n, 4);
    let ago = |t: Option<jiff::Timestamp>| {
        t.map_or_else(String::new, |t| {
            let d = now.duration_since(t).as_secs_f64();
            format!("{} ago", go_human_duration(d))
        })
    };
    let parse = |s: &str| s.parse::<jiff::Timestamp>().ok();
    let mut v = VerboseDf::default();
    // Images, newest first.
    let mut imgs: Vec<(Option<jiff::Timestamp>, &ImageUsage)> = r
        .images
        .iter()
        .map(|i| {
            let created = model
                .image_index(&i.id)
                .and_then(|k| model.images[k].rec.created.as_deref())
                .and_then(parse);
            (created, i)
        })
        .collect();
    imgs.sort_by_key(|x| std::cmp::Reverse(x.0));
    // The image SIZE column: 4 significant digits in the 20.10 CLI, 3 from 23 on (its
    // SHARED and UNIQUE sizes keep 4); the release the root's version hints name decides.
    let image_prec = match r.df_compat {
        DfCompat::V20_10 => 4,
        DfCompat::V23 => 3,
    };
    for (created, i) in imgs {
        let (repo, tag) = match i.repo_tags.first() {
            Some(t) => match t.rsplit_once(':') {
                Some((r, g)) if !g.contains('/') => (r.to_owned(), g.to_owned()),
                _ => (t.clone(), "<none>".to_owned()),
            },
            None => ("<none>".to_owned(), "<none>".to_owned()),
        };
        v.images.push(vec![
            sanitize(&repo),
            sanitize(&tag),
            i.id.short().to_owned(),
            ago(created),
            go_human_size(i.size, image_prec),
            size(i.shared_size),
            size(i.unique_size),
            i.containers.to_string(),
        ]);
    }
    // Containers, newest first.
    let mut cts: Vec<(Option<jiff::Timestamp>, usize)> = model
        .containers
        .iter()
        .enumerate()
        .map(|(k, c)| (parse(&c.rec.created), k))
        .collect();
    cts.sort_by_key(|x| std::cmp::Reverse(x.0));
    for (created, k) in cts {
        let c = &model.containers[k].rec;
        let st = &c.state;
        let since = |t: &str| {
            if is_zero_time(t) {
                None
            } else {
                parse(t)
            }
        };
        let up = || {
            since(&st.started_at).map_or_else(String::new, |t| {
                go_human_duration(now.duration_since(t).as_secs_f64())
            })
        };
        let status = if st.running {
            if st.paused {
                format!("Up {} (Paused)", up())
            } else if st.restarting {
                format!(
                    "Restarting ({}) {}",
                    st.exit_code,
                    ago(since(&st.finished_at))
                )
            } else if let Some(h) = st.health.as_ref().filter(|h| !h.status.is_empty()) {
                let h = if h.status == "starting" {
                    "health: starting".to_owned()
                } else {
                    h.status.clone()
                };
                format!("Up {} ({h})", up())
            } else {
                format!("Up {}", up())
            }
        } else if st.dead {
            "Dead".to_owned()
        } else if is_zero_time(&st.started_at) {
            "Created".to_owned()
        } else if is_zero_time(&st.finished_at) {
            String::new()
        } else {
            format!("Exited ({}) {}", st.exit_code, ago(since(&st.finished_at)))
        };
        let size_rw = r
            .containers
            .iter()
            .find(|u| u.id == c.id)
            .map_or(0, |u| u.size_rw);
        v.containers.push(vec![
            c.id.short().to_owned(),
            sanitize(&display_image(
                &api_image(model, c),
                c.image.as_ref(),
                false,
            )),
            sanitize(&go_quote(&ellipsis(&command_string(c), 20))),
            c.mounts
                .iter()
                .filter(|m| m.kind == "volume")
                .count()
                .to_string(),
            // The containers' formatter prints 3 significant digits (`12.6MB`).
            go_human_size(size_rw, 3),
            ago(created),
            status,
            sanitize(c.name.trim_start_matches('/')),
        ]);
    }
    for vol in &r.volumes {
        v.volumes.push(vec![
            sanitize(&vol.name),
            vol.links.to_string(),
            size(vol.size),
        ]);
    }
    // Build cache: a record is shared unless it is a BuildKit dir no image layer uses
    // (the same rule as the build cache size).
    let layer_dirs: HashSet<&str> = model
        .layers
        .iter()
        .filter_map(|l| l.cache_id.as_deref())
        .collect();
    for rec in records.unwrap_or_default() {
        let own_dir = model.dir_index(&rec.id).is_some() && !layer_dirs.contains(rec.id.as_str());
        let nanos =
            |n: Option<i64>| n.and_then(|n| jiff::Timestamp::from_nanosecond(i128::from(n)).ok());
        v.build_cache.push(vec![
            rec.id.chars().take(12).collect(),
            sanitize(&rec.kind),
            size(u64::try_from(rec.size.unwrap_or(0)).unwrap_or(0)),
            ago(nanos(rec.created_at)),
            if rec.last_used_at.is_some() {
                ago(nanos(rec.last_used_at))
            } else {
                String::new()
            },
            rec.usage_count.to_string(),
            (!own_dir).to_string(),
        ]);
    }
    v
}

/// `docker system df -v`, laid out as the docker CLI lays it out.
pub fn write_system_df_verbose(r: &DuReport, v: &VerboseDf, out: &mut dyn Write) -> io::Result<()> {
    let table = |head: &[&str], rows: &[Vec<String>], out: &mut dyn Write| {
        let mut all = vec![head.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()];
        all.extend(rows.iter().cloned());
        go_tabwriter(&all, out)
    };
    writeln!(out, "Images space usage:\n")?;
    table(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &v.images,
        out,
    )?;
    writeln!(out, "\nContainers space usage:\n")?;
    table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &v.containers,
        out,
    )?;
    writeln!(out, "\nLocal Volumes space usage:\n")?;
    table(&["VOLUME NAME", "LINKS", "SIZE"], &v.volumes, out)?;
    writeln!(
        out,
        "\nBuild cache usage: {}\n",
        go_human_size(r.system_df.build_cache_size, 4)
    )?;
    table(
        &[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "CREATED",
            "LAST USED",
            "USAGE",
            "SHARED",
        ],
        &v.build_cache,
        out,
    )
}
