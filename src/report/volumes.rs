//! `dockscope volumes`: what `docker volume ls` lists, with each volume's size (Docker's
//! measure, from the du walk), the containers that mount it, and whether it is
//! anonymous.

use super::du::DuReport;
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
}

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
    }
}

pub fn render(r: &VolumesReport, out: &mut dyn Write) -> io::Result<()> {
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
