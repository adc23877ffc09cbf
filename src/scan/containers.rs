//! `containers/<id>/config.v2.json` and `hostconfig.json`: what ran, from which image,
//! in which state, with which mounts, ports, logging and restart policy. Both files are
//! also kept whole (as parsed JSON) for `inspect`.

use super::{open_optional, sorted_names, JSON_LIMIT};
use crate::model::ids::{ContainerId, ImageId};
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir};
use rayon::prelude::*;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;

/// Go writes a nil map or slice as `null`: read it as empty.
pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

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
    #[serde(rename = "Health")]
    pub health: Option<HealthRec>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HealthRec {
    #[serde(rename = "Status")]
    pub status: String,
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
    /// `z`/`Z` (SELinux relabel): docker shows it as the mount's `Mode`.
    #[serde(rename = "Relabel")]
    pub relabel: String,
    #[serde(rename = "Propagation")]
    pub propagation: String,
}

/// `Config.Cmd` and `Config.Entrypoint` are Go `StrSlice`s: an array, or one string.
fn str_slice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum S {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<S>::deserialize(d)? {
        None => None,
        Some(S::One(s)) => Some(vec![s]),
        Some(S::Many(v)) => Some(v),
    })
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContainerConfigRec {
    #[serde(rename = "Image")]
    pub image: String,
    #[serde(rename = "Cmd", deserialize_with = "str_slice")]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Entrypoint", deserialize_with = "str_slice")]
    pub entrypoint: Option<Vec<String>>,
    /// `NAME=value` strings: values may be secrets, shown only on request.
    #[serde(rename = "Env", deserialize_with = "null_default")]
    pub env: Vec<String>,
    #[serde(rename = "Labels", deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    /// `"80/tcp"` -> `{}`.
    #[serde(rename = "ExposedPorts", deserialize_with = "null_default")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    #[serde(rename = "Hostname")]
    pub hostname: String,
    #[serde(rename = "User")]
    pub user: String,
    #[serde(rename = "WorkingDir")]
    pub working_dir: String,
}

/// One host binding of a container port (`HostConfig.PortBindings`, `NetworkSettings.Ports`).
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct PortBindingRec {
    #[serde(rename = "HostIp")]
    pub host_ip: String,
    #[serde(rename = "HostPort")]
    pub host_port: String,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LogConfigRec {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Config", deserialize_with = "null_default")]
    pub config: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct RestartPolicyRec {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "MaximumRetryCount")]
    pub maximum_retry_count: i64,
}

/// The parts of `hostconfig.json` reports use; the whole file is in `raw_hostconfig`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HostConfigRec {
    #[serde(rename = "Binds", deserialize_with = "null_default")]
    pub binds: Vec<String>,
    #[serde(rename = "LogConfig")]
    pub log_config: LogConfigRec,
    #[serde(rename = "RestartPolicy")]
    pub restart_policy: RestartPolicyRec,
    #[serde(rename = "PortBindings", deserialize_with = "null_default")]
    pub port_bindings: BTreeMap<String, Option<Vec<PortBindingRec>>>,
    /// `--mount` specs, as stored (`Type`, `Source`, `Target`, `ReadOnly`, ...).
    #[serde(rename = "Mounts", deserialize_with = "null_default")]
    pub mounts: Vec<serde_json::Value>,
    #[serde(rename = "NetworkMode")]
    pub network_mode: String,
    #[serde(rename = "AutoRemove")]
    pub auto_remove: bool,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct NetworkSettingsFile {
    #[serde(rename = "Ports", deserialize_with = "null_default")]
    ports: BTreeMap<String, Option<Vec<PortBindingRec>>>,
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
    #[serde(rename = "Args", default, deserialize_with = "null_default")]
    args: Vec<String>,
    #[serde(rename = "Driver", default)]
    driver: String,
    #[serde(rename = "Config", default, deserialize_with = "null_default")]
    config: ContainerConfigRec,
    #[serde(rename = "State", default, deserialize_with = "null_default")]
    state: StateRec,
    #[serde(rename = "MountPoints", default, deserialize_with = "null_default")]
    mount_points: BTreeMap<String, MountPointRec>,
    #[serde(rename = "LogPath", default)]
    log_path: String,
    #[serde(rename = "NetworkSettings", default, deserialize_with = "null_default")]
    network_settings: NetworkSettingsFile,
    #[serde(rename = "RestartCount", default)]
    restart_count: i64,
    #[serde(rename = "HostnamePath", default)]
    hostname_path: String,
    #[serde(rename = "HostsPath", default)]
    hosts_path: String,
    #[serde(rename = "ResolvConfPath", default)]
    resolv_conf_path: String,
    #[serde(rename = "OS", default)]
    os: String,
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
    /// `MountPoints`, in destination order.
    pub mounts: Vec<MountPointRec>,
    /// As recorded: an absolute path on the host that wrote the root.
    pub log_path: String,
    /// `NetworkSettings.Ports`: `"80/tcp"` -> host bindings (`None`: exposed only).
    pub ports: BTreeMap<String, Option<Vec<PortBindingRec>>>,
    pub restart_count: i64,
    pub hostname_path: String,
    pub hosts_path: String,
    pub resolv_conf_path: String,
    pub os: String,
    /// `hostconfig.json`, relative to the root, when it was read.
    pub hostconfig_path: Option<String>,
    pub host: HostConfigRec,
    /// `config.v2.json` whole, as parsed.
    pub raw_config: serde_json::Value,
    /// `hostconfig.json` whole, as parsed (`None` when absent or unreadable).
    pub raw_hostconfig: Option<serde_json::Value>,
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
    let raw: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            problems.push(Problem::new(
                cfg_rel,
                ProblemKind::Malformed,
                format!("container config is not valid JSON: {e}"),
            ));
            return (None, problems);
        }
    };
    let file = match File::deserialize(&raw) {
        Ok(f) => f,
        Err(e) => {
            problems.push(Problem::new(
                cfg_rel,
                ProblemKind::Malformed,
                format!("container config is not the JSON Docker writes: {e}"),
            ));
            return (None, problems);
        }
    };
    let (hostconfig_path, host, raw_hostconfig) = read_hostconfig(&sub, &mut problems);
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
        ports: file.network_settings.ports,
        restart_count: file.restart_count,
        hostname_path: file.hostname_path,
        hosts_path: file.hosts_path,
        resolv_conf_path: file.resolv_conf_path,
        os: file.os,
        hostconfig_path,
        host,
        raw_config: raw,
        raw_hostconfig,
    };
    (Some(rec), problems)
}

/// `hostconfig.json`: Docker writes it with `config.v2.json`; without it the container
/// still loads, with an empty HostConfig.
fn read_hostconfig(
    sub: &Dir<'_>,
    problems: &mut Vec<Problem>,
) -> (Option<String>, HostConfigRec, Option<serde_json::Value>) {
    let rel = sub.rel_of(OsStr::new("hostconfig.json"));
    let bytes = match sub.read(OsStr::new("hostconfig.json"), JSON_LIMIT) {
        Ok(b) => b,
        Err(e) => {
            let p = Problem::io(rel, &e);
            if e.kind() == io::ErrorKind::NotFound {
                problems.push(Problem::new(
                    p.path,
                    ProblemKind::Missing,
                    "no hostconfig.json; Docker writes one with every container",
                ));
            } else {
                problems.push(p);
            }
            return (None, HostConfigRec::default(), None);
        }
    };
    let raw: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            problems.push(Problem::new(
                rel,
                ProblemKind::Malformed,
                format!("host config is not valid JSON: {e}"),
            ));
            return (None, HostConfigRec::default(), None);
        }
    };
    match HostConfigRec::deserialize(&raw) {
        Ok(h) => (Some(rel), h, Some(raw)),
        Err(e) => {
            problems.push(Problem::new(
                rel.clone(),
                ProblemKind::Malformed,
                format!("host config is not the JSON Docker writes: {e}"),
            ));
            (Some(rel), HostConfigRec::default(), Some(raw))
        }
    }
}
