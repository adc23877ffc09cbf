//! `dockscope volumes`: what `docker volume ls` lists, with each volume's size (Docker's
//! measure, from the du walk), the containers that mount it, and whether it is
//! anonymous.

use super::du::DuReport;
use super::filter::Filters;
use super::format::{self, Row};
use super::{human_size, sanitize, table, write_table, Report};
use crate::model::ids::is_hex64;
use crate::model::Model;
use crate::problem::Problem;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The label Docker 23+ puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

#[derive(Serialize)]
pub struct VolumesReport {
    pub volumes: Vec<VolumeRow>,
    pub problems: Vec<Problem>,
    /// `-q`: names only.
    #[serde(skip)]
    pub quiet: bool,
    /// The data root the daemon recorded (from containers' paths), for `Mountpoint`.
    #[serde(skip)]
    pub recorded_root: Option<String>,
}

/// The filter keys `docker volume ls --filter` accepts.
pub const FILTER_KEYS: &[&str] = &["dangling", "driver", "label", "name"];

impl Report for VolumesReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

#[derive(Serialize)]
pub struct VolumeRow {
    pub name: String,
    /// From `metadata.db`; `local` when the volume has no entry there.
    pub driver: String,
    /// `volumes/<name>/_data`, relative to the root.
    pub mountpoint: String,
    /// Docker's measure of `_data` (`docker system df -v`).
    pub size: u64,
    pub disk_bytes: Option<u64>,
    /// Containers that mount it.
    pub links: usize,
    /// Names of those containers (without the leading `/`), sorted.
    pub containers: Vec<String>,
    /// A 64-hex name (Docker 20.10 and older) or the `com.docker.volume.anonymous` label.
    pub anonymous: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    /// Has an entry in `volumes/metadata.db`.
    pub in_metadata_db: bool,
    /// Has `opts.json`: `_data` is a mount point (NFS, tmpfs, ...) and empty offline.
    pub has_opts: bool,
}

pub fn build(model: &Model, du: &DuReport) -> VolumesReport {
    build_filtered(model, du, &Filters::default())
        .unwrap_or_else(|_| unreachable!("no filter cannot fail"))
}

/// `docker volume ls` with the daemon's filters: `dangling` (no container mounts it),
/// `name` (equal, or a regular expression found in the name), `driver`, `label` (every one
/// given; `label!` none of them).
pub fn build_filtered(
    model: &Model,
    du: &DuReport,
    filters: &Filters,
) -> Result<VolumesReport, String> {
    let mut keys = FILTER_KEYS.to_vec();
    keys.push("label!");
    filters.validate(&keys)?;
    let dangling = if filters.contains("dangling") {
        Some(filters.get_bool("dangling", false)?)
    } else {
        None
    };
    let mut r = build_all(model, du);
    r.volumes.retain(|v| {
        dangling.is_none_or(|d| (v.containers.is_empty()) == d)
            && filters.regex_match("name", &v.name)
            && filters.exact_match("driver", &v.driver)
            && filters.match_kv_list("label", &v.labels)
            && !(filters.contains("label!") && filters.match_kv_list("label!", &v.labels))
    });
    Ok(r)
}

fn build_all(model: &Model, du: &DuReport) -> VolumesReport {
    let usage: BTreeMap<&str, _> = du.volumes.iter().map(|v| (v.name.as_str(), v)).collect();
    let mut volumes: Vec<VolumeRow> = model
        .volumes
        .iter()
        .map(|v| {
            let u = usage.get(v.name.as_str());
            let labels = v
                .meta
                .as_ref()
                .map(|m| m.labels.clone())
                .unwrap_or_default();
            let mut containers: Vec<String> = model
                .containers
                .iter()
                .filter(|c| {
                    c.rec
                        .mounts
                        .iter()
                        .any(|m| m.name == v.name && m.kind == "volume")
                })
                .map(|c| c.rec.name.trim_start_matches('/').to_owned())
                .collect();
            containers.sort();
            VolumeRow {
                name: v.name.clone(),
                driver: v
                    .meta
                    .as_ref()
                    .map(|m| m.driver.clone())
                    .filter(|d| !d.is_empty())
                    .unwrap_or_else(|| "local".to_owned()),
                mountpoint: format!("{}/_data", v.path),
                size: u.map_or(0, |u| u.size),
                disk_bytes: u.and_then(|u| u.disk_bytes),
                links: u.map_or(containers.len(), |u| u.links),
                containers,
                anonymous: is_hex64(&v.name) || labels.contains_key(ANONYMOUS_LABEL),
                options: v
                    .meta
                    .as_ref()
                    .map(|m| m.options.clone())
                    .unwrap_or_default(),
                labels,
                in_metadata_db: v.meta.is_some(),
                has_opts: v.has_opts,
            }
        })
        .collect();
    volumes.sort_by(|a, b| a.name.cmp(&b.name));
    VolumesReport {
        volumes,
        problems: du.problems.clone(),
        quiet: false,
        recorded_root: super::ps::model_recorded_root(model),
    }
}

/// docker's volume formatter fields and their table headers.
pub const HEADERS: format::Headers = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("Group", "GROUP"),
    ("Availability", "AVAILABILITY"),
    ("Status", "STATUS"),
];

/// The rows `--format` reads. `Mountpoint` is the path the daemon would print (under the
/// data root it recorded, else under `root_shown`); `Links` and `Size` are measured here
/// (`docker volume ls` prints `N/A`, `docker system df -v` these values); the swarm
/// cluster-volume fields are `N/A`.
pub fn format_rows(r: &VolumesReport, root_shown: &str) -> Vec<Row> {
    let base = r
        .recorded_root
        .clone()
        .unwrap_or_else(|| root_shown.trim_end_matches('/').to_owned());
    r.volumes
        .iter()
        .map(|v| {
            let mut row = Row::new();
            row.set("Name", v.name.clone())
                .set("Driver", v.driver.clone())
                .set("Scope", "local")
                .set("Mountpoint", format!("{base}/{}", v.mountpoint))
                .set("Labels", format::join_labels(&v.labels))
                .set("Links", v.links.to_string())
                .set("Size", format::go_human_size(v.size, 4))
                .set("Group", "N/A")
                .set("Availability", "N/A")
                .set("Status", "N/A");
            row.labels = v.labels.clone();
            row
        })
        .collect()
}

pub fn render(r: &VolumesReport, out: &mut dyn Write) -> io::Result<()> {
    if r.quiet {
        for v in &r.volumes {
            writeln!(out, "{}", sanitize(&v.name))?;
        }
        return Ok(());
    }
    let mut t = table(&[
        "NAME",
        "DRIVER",
        "MOUNTPOINT",
        "SIZE",
        "LINKS",
        "ANONYMOUS",
        "LABELS",
    ]);
    for v in &r.volumes {
        let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        t.add_row(vec![
            sanitize(&v.name),
            sanitize(&v.driver),
            sanitize(&v.mountpoint),
            human_size(v.size),
            v.links.to_string(),
            if v.anonymous { "yes" } else { "no" }.to_owned(),
            sanitize(&labels.join(",")),
        ]);
    }
    write_table(t, out)
}
