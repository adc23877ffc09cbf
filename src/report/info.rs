//! `dockscope info`: what the root holds, what was analysed, and every problem met.

use super::{sanitize, table, write_table, Report};
use crate::model::ids::DirIdForm;
use crate::model::Model;
use crate::problem::Problem;
use crate::root::DataRoot;
use crate::scan::layout::{Area, LayoutFound};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

#[derive(Serialize)]
pub struct InfoReport {
    /// The root as given.
    pub root: String,
    /// True when the root was read from a tar archive.
    pub archive: bool,
    /// For an archive, the folder inside it that holds the data root.
    pub archive_prefix: Option<String>,
    /// The storage driver analysed.
    pub driver: &'static str,
    pub layouts: Vec<LayoutFound>,
    pub areas: Vec<Area>,
    pub counts: Counts,
    pub version_hints: Vec<String>,
    /// Docker's containerd image store: containerd's root and its namespaces (absent
    /// on a classic root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containerd: Option<super::c8d::C8dInfo>,
    /// `docker info`'s answers where the files tell them (null where they do not).
    pub docker: DockerInfo,
    pub problems: Vec<Problem>,
}

/// `docker info`, offline: each value with the file or rule it came from.
#[derive(Serialize, Default)]
pub struct DockerInfo {
    /// `Containers`, `ContainersRunning`, `ContainersPaused`, `ContainersStopped`, as the
    /// daemon counts them from each container's recorded state (a restarting container
    /// counts as stopped, as in docker).
    pub containers: usize,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    /// `Images`: every image the daemon would load, intermediates included.
    pub images: usize,
    pub driver: &'static str,
    /// `DriverStatus` pairs that the layer files tell (`Native Overlay Diff`,
    /// `userxattr`); the others (`Backing Filesystem`, `Supports d_type`) are facts of the
    /// host, not of the files.
    pub driver_status: Vec<[String; 2]>,
    /// Where each `driver_status` pair was seen.
    pub driver_status_from: Vec<String>,
    /// `ServerVersion`: the `docker_version` the daemon wrote into the image configs it
    /// made itself (builds, commits, imports); null when no such config exists.
    pub server_version: Option<String>,
    pub server_version_from: Option<String>,
    /// `DockerRootDir`: the data root's path on the host that wrote it, from the paths
    /// the daemon recorded in containers' `config.v2.json` (log, resolv.conf, hosts, ...)
    /// and volume mounts; null when no container records one.
    pub docker_root_dir: Option<String>,
    pub docker_root_dir_from: Option<String>,
    /// `LoggingDriver`: the log driver most containers were created with (the daemon's
    /// default unless a run overrode it); null without containers.
    pub logging_driver: Option<String>,
    pub logging_driver_from: Option<String>,
}

/// The data root a recorded absolute path lives under: `<root>/containers/<id>/…` or
/// `<root>/volumes/<name>/_data`.
fn root_of(path: &str) -> Option<&str> {
    for marker in ["/containers/", "/volumes/"] {
        if let Some(k) = path.rfind(marker) {
            let root = &path[..k];
            let rest = &path[k + marker.len()..];
            if !root.is_empty() && rest.contains('/') {
                return Some(root);
            }
        }
    }
    None
}

/// `docker info`'s answers from the model and what the layer files showed.
pub fn docker_info(model: &Model, ev: &crate::scan::driverhints::DriverEvidence) -> DockerInfo {
    let mut d = DockerInfo {
        driver: "overlay2",
        images: model.loaded_images().count(),
        containers: model.containers.len(),
        ..DockerInfo::default()
    };
    for c in &model.containers {
        let st = &c.rec.state;
        // docker's State.StateString(): paused and restarting before running.
        if st.running && st.paused {
            d.containers_paused += 1;
        } else if st.running && !st.restarting {
            d.containers_running += 1;
        } else {
            d.containers_stopped += 1;
        }
    }
    let yes_no = |b: bool| if b { "true" } else { "false" }.to_owned();
    if let Some(n) = ev.native_overlay_diff {
        d.driver_status
            .push(["Native Overlay Diff".to_owned(), yes_no(n)]);
        d.driver_status_from.push(format!(
            "the size Docker recorded for layer {} (symlinks {}counted)",
            ev.native_overlay_diff_from.as_deref().unwrap_or("?"),
            if n { "" } else { "not " }
        ));
    }
    if let Some(u) = ev.userxattr {
        d.driver_status.push(["userxattr".to_owned(), yes_no(u)]);
        d.driver_status_from.push(format!(
            "the opaque-directory xattr ({}.overlay.opaque) on {}",
            if u { "user" } else { "trusted" },
            ev.userxattr_from.as_deref().unwrap_or("?")
        ));
    }
    // Server version: configs this daemon wrote (it records their parent, or they are
    // its imports and commits: no foreign builder), newest first.
    let mut made_here: Vec<(&str, &str, &str)> = model
        .loaded_images()
        .filter_map(|i| {
            let rec = &model.images[i].rec;
            let v = rec.docker_version.as_deref().filter(|v| !v.is_empty())?;
            let local = model.images[i]
                .meta
                .as_ref()
                .is_some_and(|m| m.parent.is_some());
            local.then(|| (rec.created.as_deref().unwrap_or(""), v, rec.path.as_str()))
        })
        .collect();
    made_here.sort_unstable();
    if let Some((_, v, path)) = made_here.last() {
        d.server_version = Some((*v).to_owned());
        d.server_version_from = Some(format!(
            "docker_version of {path}, the newest image config built here (its parent is recorded in imagedb/metadata)"
        ));
    } else {
        let mut any: Vec<(&str, &str, &str)> = model
            .loaded_images()
            .filter_map(|i| {
                let rec = &model.images[i].rec;
                let v = rec.docker_version.as_deref().filter(|v| !v.is_empty())?;
                Some((rec.created.as_deref().unwrap_or(""), v, rec.path.as_str()))
            })
            .collect();
        any.sort_unstable();
        if let Some((_, v, path)) = any.last() {
            d.server_version = Some((*v).to_owned());
            d.server_version_from = Some(format!(
                "docker_version of {path}, the newest image config (it may have been built elsewhere)"
            ));
        }
    }
    // Data root: the most common prefix of the recorded paths.
    let mut roots: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    for c in &model.containers {
        let r = &c.rec;
        let paths = [
            ("LogPath", r.log_path.as_str()),
            ("ResolvConfPath", r.resolv_conf_path.as_str()),
            ("HostnamePath", r.hostname_path.as_str()),
            ("HostsPath", r.hosts_path.as_str()),
        ];
        let mounts = r
            .mounts
            .iter()
            .filter(|m| m.kind == "volume")
            .map(|m| ("MountPoints[].Source", m.source.as_str()));
        for (field, p) in paths.into_iter().chain(mounts) {
            if let Some(root) = root_of(p) {
                let e = roots
                    .entry(root)
                    .or_insert_with(|| (0, format!("{field} in {}", r.path)));
                e.0 += 1;
            }
        }
    }
    if let Some((root, (_, from))) = roots.iter().max_by_key(|(_, (n, _))| *n) {
        d.docker_root_dir = Some((*root).to_owned());
        d.docker_root_dir_from = Some(from.clone());
    }
    let mut drivers: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &model.containers {
        let t = c.rec.host.log_config.kind.as_str();
        if !t.is_empty() {
            *drivers.entry(t).or_default() += 1;
        }
    }
    let total: usize = drivers.values().sum();
    if let Some((t, n)) = drivers.iter().max_by_key(|(_, n)| **n) {
        d.logging_driver = Some((*t).to_owned());
        d.logging_driver_from = Some(format!(
            "LogConfig.Type of {n} of {total} containers' hostconfig.json"
        ));
    }
    d
}

#[derive(Serialize, Default)]
pub struct Counts {
    /// Images Docker would load.
    pub images: usize,
    pub tagged: usize,
    pub dangling: usize,
    pub intermediate: usize,
    /// Image configs Docker would not load (bad digest or missing layers).
    pub unloadable_images: usize,
    pub tags: usize,
    pub digests: usize,
    pub layers: usize,
    pub layers_removing: usize,
    pub layerdb_tmp: usize,
    pub overlay2_dirs: usize,
    pub init_dirs: usize,
    pub buildkit_dirs: usize,
    pub l_links: usize,
    pub containers: usize,
    pub running: usize,
    pub volumes: usize,
}

impl Report for InfoReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

pub fn build(root: &DataRoot, model: &Model) -> InfoReport {
    let loaded: Vec<usize> = model.loaded_images().collect();
    let counts = Counts {
        images: loaded.len(),
        tagged: loaded
            .iter()
            .filter(|&&i| !model.image_refs(i).is_empty())
            .count(),
        dangling: loaded.iter().filter(|&&i| model.is_dangling(i)).count(),
        intermediate: loaded.iter().filter(|&&i| model.is_intermediate(i)).count(),
        unloadable_images: model.images.len() - loaded.len(),
        tags: model.tags.iter().filter(|t| !t.is_digest).count(),
        digests: model.tags.iter().filter(|t| t.is_digest).count(),
        layers: model.layers.len(),
        layers_removing: model.removing.len(),
        layerdb_tmp: model.layerdb_tmp.len(),
        overlay2_dirs: model.dirs.len(),
        init_dirs: model
            .dirs
            .iter()
            .filter(|d| d.form == DirIdForm::Init)
            .count(),
        buildkit_dirs: model
            .dirs
            .iter()
            .filter(|d| d.form == DirIdForm::Buildkit)
            .count(),
        l_links: model.links.len(),
        containers: model.containers.len(),
        running: model
            .containers
            .iter()
            .filter(|c| c.rec.state.running)
            .count(),
        volumes: model.volumes.len(),
    };
    InfoReport {
        root: root.shown().display().to_string(),
        archive: root.is_archive(),
        archive_prefix: root.archive_prefix().map(str::to_owned),
        driver: if model.containerd.is_some() {
            "overlayfs"
        } else {
            "overlay2"
        },
        layouts: model.layout.layouts.clone(),
        areas: model.layout.areas.clone(),
        counts,
        version_hints: model.layout.version_hints.clone(),
        containerd: super::c8d::info(model),
        docker: DockerInfo::default(),
        problems: model.problems.clone(),
    }
}

pub fn render(r: &InfoReport, out: &mut dyn Write) -> io::Result<()> {
    let kind = if r.archive {
        " (tar archive, read in place)"
    } else {
        ""
    };
    writeln!(out, "Root:            {}{kind}", sanitize(&r.root))?;
    if let Some(p) = r.archive_prefix.as_deref().filter(|p| !p.is_empty()) {
        writeln!(out, "Root in archive: {}/", sanitize(p))?;
    }
    writeln!(out, "Storage driver:  {}", r.driver)?;
    if let Some(c) = &r.containerd {
        super::c8d::render_info(c, out)?;
    }
    for l in r.layouts.iter().filter(|l| !l.analysed) {
        writeln!(
            out,
            "Also found:      {} at {} ({})",
            l.name,
            l.paths.join(", "),
            l.note
        )?;
    }
    let areas: Vec<String> = r.areas.iter().map(|a| sanitize(&a.name)).collect();
    writeln!(out, "Areas:           {}", areas.join(" "))?;
    let c = &r.counts;
    let mut t = table(&["WHAT", "COUNT", "NOTE"]);
    let rows: [(&str, usize, String); 13] = [
        (
            "images",
            c.images,
            format!(
                "{} tagged, {} dangling, {} intermediate",
                c.tagged, c.dangling, c.intermediate
            ),
        ),
        (
            "unloadable images",
            c.unloadable_images,
            "configs Docker would not load".into(),
        ),
        (
            "tags / digests",
            c.tags,
            format!("{} digest references", c.digests),
        ),
        ("layers", c.layers, "layerdb/sha256 entries".into()),
        (
            "layers being removed",
            c.layers_removing,
            "layerdb *-removing".into(),
        ),
        (
            "layerdb/tmp entries",
            c.layerdb_tmp,
            "interrupted registrations".into(),
        ),
        (
            "overlay2 dirs",
            c.overlay2_dirs,
            format!("{} init, {} BuildKit", c.init_dirs, c.buildkit_dirs),
        ),
        ("l/ links", c.l_links, String::new()),
        (
            "containers",
            c.containers,
            format!("{} recorded running at capture", c.running),
        ),
        ("volumes", c.volumes, String::new()),
        ("problems", r.problems.len(), "listed below (stderr)".into()),
        ("version hints", r.version_hints.len(), String::new()),
        ("layouts found", r.layouts.len(), String::new()),
    ];
    for (what, n, note) in rows {
        t.add_row(vec![what.to_owned(), n.to_string(), note]);
    }
    write_table(t, out)?;
    for h in &r.version_hints {
        writeln!(out, "hint: {h}")?;
    }
    // As `docker info` prints its Server section, where the files tell.
    let d = &r.docker;
    let unknown = "(not recorded)";
    writeln!(out, "\nAs docker info would show it:")?;
    writeln!(out, " Containers: {}", d.containers)?;
    writeln!(out, "  Running: {}", d.containers_running)?;
    writeln!(out, "  Paused: {}", d.containers_paused)?;
    writeln!(out, "  Stopped: {}", d.containers_stopped)?;
    writeln!(out, " Images: {}", d.images)?;
    writeln!(
        out,
        " Server Version: {}",
        d.server_version
            .as_deref()
            .map_or(unknown.to_owned(), sanitize)
    )?;
    writeln!(out, " Storage Driver: {}", d.driver)?;
    for [k, v] in &d.driver_status {
        writeln!(out, "  {k}: {v}")?;
    }
    writeln!(
        out,
        " Logging Driver: {}",
        d.logging_driver
            .as_deref()
            .map_or(unknown.to_owned(), sanitize)
    )?;
    writeln!(
        out,
        " Docker Root Dir: {}",
        d.docker_root_dir
            .as_deref()
            .map_or(unknown.to_owned(), sanitize)
    )?;
    Ok(())
}
