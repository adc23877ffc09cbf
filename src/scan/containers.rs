//! `containers/<id>/config.v2.json`: what ran, from which image, in which state.

use super::{open_optional, sorted_names, JSON_LIMIT};
use crate::model::ids::{ContainerId, ImageId};
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct StateRec {
    #[serde(rename = "Running")]
    pub running: bool,
    #[serde(rename = "Paused")]
    pub paused: bool,
    #[serde(rename = "Restarting")]
    pub restarting: bool,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    #[serde(rename = "Dead")]
    pub dead: bool,
    #[serde(rename = "Pid")]
    pub pid: i64,
    #[serde(rename = "ExitCode")]
    pub exit_code: i64,
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "StartedAt")]
    pub started_at: String,
    #[serde(rename = "FinishedAt")]
    pub finished_at: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct MountPointRec {
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "Destination")]
    pub destination: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "Type")]
    pub kind: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerConfigRec {
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Cmd")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Entrypoint")]
    pub entrypoint: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Image", default)]
    image: String,
    #[serde(rename = "Created", default)]
    created: String,
    #[serde(rename = "Path", default)]
    path: String,
    #[serde(rename = "Args", default)]
    args: Vec<String>,
    #[serde(rename = "Driver", default)]
    driver: String,
    #[serde(rename = "Config", default)]
    config: ContainerConfigRec,
    #[serde(rename = "State", default)]
    state: StateRec,
    #[serde(rename = "MountPoints", default)]
    mount_points: BTreeMap<String, MountPointRec>,
    #[serde(rename = "LogPath", default)]
    log_path: String,
}

/// One container, from `containers/<id>/config.v2.json`.
#[derive(Clone, Debug)]
pub struct ContainerRec {
    pub id: ContainerId,
    /// The config file, relative to the root.
    pub path: String,
    /// With docker's leading `/`.
    pub name: String,
    /// The image id it was created from (`Image` in the file).
    pub image: Option<ImageId>,
    pub created: String,
    pub cmd_path: String,
    pub args: Vec<String>,
    pub driver: String,
    pub config: ContainerConfigRec,
    pub state: StateRec,
    pub mounts: Vec<MountPointRec>,
    pub log_path: String,
}

pub fn scan(root: &DataRoot) -> (Vec<ContainerRec>, Vec<Problem>) {
    let mut problems = Vec::new();
    let dir = match open_optional(root, "containers") {
        Ok(Some(d)) => d,
        Ok(None) => return (Vec::new(), problems),
        Err(p) => {
            problems.push(p);
            return (Vec::new(), problems);
        }
    };
    let names = sorted_names(&dir, &mut problems);
    let results: Vec<(Option<ContainerRec>, Vec<Problem>)> =
        names.par_iter().map(|n| read_container(&dir, n)).collect();
    let mut out = Vec::new();
    for (rec, p) in results {
        out.extend(rec);
        problems.extend(p);
    }
    (out, problems)
}

fn read_container(dir: &Dir<'_>, name: &str) -> (Option<ContainerRec>, Vec<Problem>) {
    let rel = dir.rel_of(OsStr::new(name));
    let mut problems = Vec::new();
    let Some(id) = ContainerId::parse(name) else {
        problems.push(Problem::new(
            rel,
            ProblemKind::Unexpected,
            "not a container id (64 hex digits)",
        ));
        return (None, problems);
    };
    let sub = match dir.sub(OsStr::new(name)) {
        Ok(s) => s,
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            return (None, problems);
        }
    };
    let cfg_rel = sub.rel_of(OsStr::new("config.v2.json"));
    let bytes = match sub.read(OsStr::new("config.v2.json"), JSON_LIMIT) {
        Ok(b) => b,
        Err(e) => {
            problems.push(Problem::io(cfg_rel, &e));
            return (None, problems);
        }
    };
    let file: File = match serde_json::from_slice(&bytes) {
        Ok(f) => f,
        Err(e) => {
            problems.push(Problem::new(
                cfg_rel,
                ProblemKind::Malformed,
                format!("container config is not valid JSON: {e}"),
            ));
            return (None, problems);
        }
    };
    if file.id != id.as_str() {
        problems.push(Problem::new(
            cfg_rel.clone(),
            ProblemKind::Mismatch,
            format!(
                "ID is {:?}, not the directory's name",
                super::layerdb::shorten(&file.id)
            ),
        ));
    }
    let image = if file.image.is_empty() {
        None
    } else {
        let parsed = ImageId::parse(&file.image);
        if parsed.is_none() {
            problems.push(Problem::new(
                cfg_rel.clone(),
                ProblemKind::Malformed,
                format!(
                    "Image is {:?}, not an image id",
                    super::layerdb::shorten(&file.image)
                ),
            ));
        }
        parsed
    };
    let rec = ContainerRec {
        id,
        path: cfg_rel,
        name: file.name,
        image,
        created: file.created,
        cmd_path: file.path,
        args: file.args,
        driver: file.driver,
        config: file.config,
        state: file.state,
        mounts: file.mount_points.into_values().collect(),
        log_path: file.log_path,
    };
    (Some(rec), problems)
}
