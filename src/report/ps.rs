//! `dockscope ps [-a] [--size]`: what `docker ps` lists, from the containers' recorded
//! state. Nothing runs offline: a container recorded running or paused is shown as
//! such, with a note that this is its state when the root was captured.

use super::du::{ContainerUsage, DuReport};
use super::filter::Filters;
use super::format::{self, Row};
use super::{human_size, human_time, sanitize, table, write_table, Report};
use crate::model::ids::{ContainerId, ImageId};
use crate::model::resolve::Resolved;
use crate::model::Model;
use crate::problem::Problem;
use crate::scan::containers::{ContainerRec, MountPointRec, StateRec};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

/// How the rows are printed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub all: bool,
    pub show_env: bool,
    pub no_trunc: bool,
    /// `-q`: ids only.
    pub quiet: bool,
    /// `-n N` (`-l` is 1): the N newest containers, whatever their state.
    pub last: Option<usize>,
}

/// The filter keys `docker ps --filter` accepts here (`isolation` is Windows-only).
pub const FILTER_KEYS: &[&str] = &[
    "ancestor", "before", "exited", "expose", "health", "id", "is-task", "label", "name",
    "network", "publish", "since", "status", "volume",
];

const STATES: &[&str] = &[
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
];
const HEALTH: &[&str] = &["starting", "healthy", "unhealthy", "none"];

#[derive(Serialize)]
pub struct PsReport {
    pub containers: Vec<PsRow>,
    pub problems: Vec<Problem>,
    #[serde(skip)]
    pub sized: bool,
    #[serde(skip)]
    pub no_trunc: bool,
    #[serde(skip)]
    pub quiet: bool,
}

impl Report for PsReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// One container, as the Engine API's `/containers/json` gives it, plus what only the
/// files tell.
#[derive(Serialize)]
pub struct PsRow {
    pub id: ContainerId,
    /// Without docker's leading `/`.
    pub name: String,
    /// The API's `Image`: the name the user typed while it still names the same image,
    /// else the image id.
    pub image: String,
    /// The image it was created from (it may be gone).
    pub image_id: Option<ImageId>,
    /// The API's `Command`: path and arguments, arguments with spaces in single quotes.
    pub command: String,
    pub created: String,
    /// `created`, `running`, `paused`, `restarting`, `exited` or `dead`.
    pub state: &'static str,
    pub status: String,
    /// Recorded running, paused or restarting: its state when the root was captured.
    pub recorded_running: bool,
    pub exit_code: i64,
    pub started_at: String,
    pub finished_at: String,
    /// Docker's `SizeRw` (`null` without `--size`).
    pub size_rw: Option<u64>,
    /// Docker's `SizeRootFs` (`null` without `--size`).
    pub size_root_fs: Option<u64>,
    /// Bytes of its log files, rotated ones included (`null` without `--size`).
    pub log_bytes: Option<u64>,
    pub ports: Vec<PortRow>,
    pub mounts: Vec<MountRow>,
    pub labels: BTreeMap<String, String>,
    /// `NAME=<hidden>` unless `--show-env`.
    pub env: Vec<String>,
    pub restart_policy: RestartPolicy,
    pub restart_count: i64,
    pub log_driver: String,
    /// The log file relative to the root when it lies in the root, else as recorded.
    pub log_path: String,
    /// `overlay2/<mount-id>`: its RW layer.
    pub rw_dir: Option<String>,
    pub init_dir: Option<String>,
    pub config_path: String,
    /// Networks it is attached to (`NetworkSettings.Networks`), sorted.
    pub networks: Vec<String>,
}

/// A port as the Engine API lists it.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct PortRow {
    pub ip: Option<String>,
    pub private_port: u16,
    pub public_port: Option<u16>,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A mount as the Engine API lists it.
#[derive(Serialize)]
pub struct MountRow {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    /// As recorded (a path on the host that wrote the root; `""` for some volumes).
    pub source: String,
    pub destination: String,
    pub driver: Option<String>,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
}

#[derive(Serialize)]
pub struct RestartPolicy {
    pub name: String,
    pub maximum_retry_count: i64,
}

/// Go's zero time, which Docker writes for "never".
pub fn is_zero_time(t: &str) -> bool {
    t.is_empty() || t.starts_with("0001-01-01T00:00:00")
}

/// Docker's `State.StateString()`.
pub fn state_string(s: &StateRec) -> &'static str {
    if s.running {
        if s.paused {
            "paused"
        } else if s.restarting {
            "restarting"
        } else {
            "running"
        }
    } else if s.dead {
        "dead"
    } else if is_zero_time(&s.started_at) {
        "created"
    } else {
        "exited"
    }
}

/// Docker's `State.String()`, with times absolute and a note where the daemon would
/// say how long it has been up: offline there is no "now".
pub fn status_string(s: &StateRec) -> String {
    if s.running {
        if s.paused {
            return "Up (Paused) (recorded paused at capture)".to_owned();
        }
        if s.restarting {
            return format!(
                "Restarting ({}) (recorded restarting at capture)",
                s.exit_code
            );
        }
        if let Some(h) = s.health.as_ref().filter(|h| !h.status.is_empty()) {
            return format!("Up ({}) (recorded running at capture)", h.status);
        }
        return "Up (recorded running at capture)".to_owned();
    }
    if s.dead {
        return "Dead".to_owned();
    }
    if is_zero_time(&s.started_at) {
        return "Created".to_owned();
    }
    if is_zero_time(&s.finished_at) {
        return String::new();
    }
    format!("Exited ({}) {}", s.exit_code, human_time(&s.finished_at))
}

/// The Engine API's `Command` (moby `container/view.go`): an argument holding a space is
/// wrapped in single quotes.
pub fn command_string(c: &ContainerRec) -> String {
    if c.args.is_empty() {
        return c.cmd_path.clone();
    }
    let args: Vec<String> = c
        .args
        .iter()
        .map(|a| {
            if a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect();
    format!("{} {}", c.cmd_path, args.join(" "))
}

/// The Engine API's `Image` (moby `daemon/list.go` `refreshImage`): `Config.Image` while
/// it still resolves to the image the container was made from, else that image's id.
pub fn api_image(model: &Model, c: &ContainerRec) -> String {
    let typed = c.config.image.as_str();
    let Some(id) = &c.image else {
        return typed.to_owned();
    };
    if typed == id.as_str() {
        return typed.to_owned();
    }
    match model.resolve_image(typed) {
        Resolved::Found(i) if model.images[i].rec.id == *id => typed.to_owned(),
        _ => id.as_str().to_owned(),
    }
}

/// Env entries with their values hidden: `NAME=<hidden>`.
pub fn redact_env(env: &[String], show: bool) -> Vec<String> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((name, _)) if !show => format!("{name}=<hidden>"),
            _ => e.clone(),
        })
        .collect()
}

/// The ports as the Engine API lists them (moby `daemon/list.go`), from the recorded
/// `NetworkSettings.Ports`.
pub fn api_ports(c: &ContainerRec) -> Vec<PortRow> {
    let mut out = Vec::new();
    for (key, bindings) in &c.ports {
        let (port, proto) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Some(private) = first_port(port) else {
            continue;
        };
        match bindings.as_deref() {
            None | Some([]) => out.push(PortRow {
                ip: None,
                private_port: private,
                public_port: None,
                kind: proto.to_owned(),
            }),
            Some(list) => {
                for b in list {
                    out.push(PortRow {
                        ip: Some(b.host_ip.clone()).filter(|s| !s.is_empty()),
                        private_port: private,
                        public_port: first_port(&b.host_port),
                        kind: proto.to_owned(),
                    });
                }
            }
        }
    }
    out
}

/// `nat.ParsePort`: a number, or the start of a range.
fn first_port(s: &str) -> Option<u16> {
    s.split('-').next().and_then(|p| p.parse().ok())
}

/// The docker CLI's `DisplayablePorts`: consecutive ports grouped into ranges.
pub fn displayable_ports(ports: &[PortRow]) -> String {
    let mut ports: Vec<&PortRow> = ports.iter().collect();
    ports.sort_by(|a, b| {
        a.private_port
            .cmp(&b.private_port)
            .then_with(|| a.ip.cmp(&b.ip))
            .then_with(|| a.public_port.cmp(&b.public_port))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    let mut groups: BTreeMap<String, (u16, u16)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut result = Vec::new();
    let mut mappings = Vec::new();
    for p in ports {
        let current = p.private_port;
        let mut key = p.kind.clone();
        if let Some(ip) = &p.ip {
            let public = p.public_port.unwrap_or(0);
            if public != current {
                let host = if ip.contains(':') {
                    format!("[{ip}]:{public}")
                } else {
                    format!("{ip}:{public}")
                };
                mappings.push(format!("{host}->{}/{}", p.private_port, p.kind));
                continue;
            }
            key = format!("{ip}/{}", p.kind);
        }
        match groups.get_mut(&key) {
            None => {
                groups.insert(key.clone(), (current, current));
                order.push(key);
            }
            Some(g) if g.1.checked_add(1) == Some(current) => g.1 = current,
            Some(g) => {
                result.push(form_group(&key, g.0, g.1));
                *g = (current, current);
            }
        }
    }
    for key in order {
        let g = groups[&key];
        result.push(form_group(&key, g.0, g.1));
    }
    result.extend(mappings);
    result.join(", ")
}

fn form_group(key: &str, start: u16, last: u16) -> String {
    let (ip, kind) = match key.rsplit_once('/') {
        Some((ip, kind)) => (ip, kind),
        None => ("", key),
    };
    let mut group = start.to_string();
    if start != last {
        group = format!("{group}-{last}");
    }
    if !ip.is_empty() {
        group = format!("{ip}:{group}->{group}");
    }
    format!("{group}/{kind}")
}

fn mount_row(m: &MountPointRec) -> MountRow {
    MountRow {
        kind: m.kind.clone(),
        name: Some(m.name.clone()).filter(|s| !s.is_empty()),
        source: m.source.clone(),
        destination: m.destination.clone(),
        driver: Some(m.driver.clone()).filter(|s| !s.is_empty()),
        mode: m.relabel.clone(),
        rw: m.rw,
        propagation: m.propagation.clone(),
    }
}

/// The root the container's files were recorded under (`/var/lib/docker`), found from
/// a path Docker wrote under `containers/<id>/`.
pub fn recorded_root(c: &ContainerRec) -> Option<String> {
    let marker = format!("/containers/{}/", c.id.as_str());
    [
        &c.log_path,
        &c.resolv_conf_path,
        &c.hostname_path,
        &c.hosts_path,
    ]
    .iter()
    .find_map(|p| p.find(&marker).map(|i| p[..i].to_owned()))
}

/// The recorded root of the whole capture: the first container that tells it.
pub fn model_recorded_root(model: &Model) -> Option<String> {
    model.containers.iter().find_map(|c| recorded_root(&c.rec))
}

/// A recorded absolute path, relative to the root when it lies under `recorded`.
pub fn relative_to(path: &str, recorded: Option<&str>) -> String {
    if let Some(rest) = recorded.and_then(|r| path.strip_prefix(r)) {
        if let Some(rel) = rest.strip_prefix('/') {
            return rel.to_owned();
        }
    }
    path.to_owned()
}

pub fn build(model: &Model, du: Option<&DuReport>, opts: Options) -> PsReport {
    build_filtered(model, du, opts, &Filters::default())
        .unwrap_or_else(|_| unreachable!("no filter cannot fail"))
}

/// Network names a container is attached to, sorted.
pub fn networks(c: &ContainerRec) -> Vec<String> {
    let mut v: Vec<String> = c
        .raw_config
        .get("NetworkSettings")
        .and_then(|n| n.get("Networks"))
        .and_then(serde_json::Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn network_ids(c: &ContainerRec) -> Vec<String> {
    c.raw_config
        .get("NetworkSettings")
        .and_then(|n| n.get("Networks"))
        .and_then(serde_json::Value::as_object)
        .map(|m| {
            m.values()
                .filter_map(|n| n.get("NetworkID").and_then(serde_json::Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The daemon's health word for a container (`none` without a health check).
fn health_word(c: &ContainerRec) -> &str {
    c.state
        .health
        .as_ref()
        .map(|h| h.status.as_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("none")
}

/// `publish=`/`expose=` values: `80`, `80/udp`, `8000-8080/tcp`.
fn port_filter(key: &str, values: &[&str]) -> Result<Vec<(u16, String)>, String> {
    let mut out = Vec::new();
    for v in values {
        if v.contains(':') {
            return Err(format!("filter for '{key}' should not contain ':': {v}"));
        }
        let (port, proto) = v.split_once('/').unwrap_or((v, "tcp"));
        let (a, b) = port.split_once('-').unwrap_or((port, port));
        let bad = || format!("invalid filter '{key}={v}': not a port or port range");
        let a: u16 = a.parse().map_err(|_| bad())?;
        let b: u16 = b.parse().map_err(|_| bad())?;
        if b < a {
            return Err(bad());
        }
        for p in a..=b {
            out.push((p, proto.to_owned()));
        }
    }
    Ok(out)
}

/// The image and every image built on it (imagedb `parent`), as docker's `ancestor=`.
fn with_descendants(model: &Model, i: usize, set: &mut std::collections::HashSet<usize>) {
    let mut stack = vec![i];
    while let Some(x) = stack.pop() {
        if set.insert(x) {
            stack.extend(model.image_children(x));
        }
    }
}

/// `docker ps` with the daemon's filters (moby `daemon/list.go`), newest first.
pub fn build_filtered(
    model: &Model,
    du: Option<&DuReport>,
    opts: Options,
    filters: &Filters,
) -> Result<PsReport, String> {
    filters.validate(FILTER_KEYS)?;
    let mut exited = Vec::new();
    for v in filters.get("exited") {
        exited.push(
            v.parse::<i64>()
                .map_err(|_| format!("invalid filter 'exited={v}': not a number"))?,
        );
    }
    let mut all = opts.all;
    for v in filters.get("status") {
        if !STATES.contains(&v) {
            return Err(format!(
                "invalid filter 'status={v}': invalid value for state ({v}): must be one of {}",
                STATES.join(", ")
            ));
        }
        all = true;
    }
    for v in filters.get("health") {
        if !HEALTH.contains(&v) {
            return Err(format!(
                "invalid filter 'health={v}': must be one of {}",
                HEALTH.join(", ")
            ));
        }
    }
    let is_task = filters.get_bool("is-task", false)?;
    let by_name = |key: &str, v: &str| -> Result<String, String> {
        match super::inspect::resolve_container(model, v) {
            Ok(Some(i)) => Ok(model.containers[i].rec.id.as_str().to_owned()),
            Ok(None) => Err(format!(
                "invalid filter '{key}={v}': No such container: {v}"
            )),
            Err(e) => Err(format!("invalid filter '{key}={v}': {e}")),
        }
    };
    let mut before = None;
    for v in filters.get("before") {
        before = Some(by_name("before", v)?);
    }
    let mut since = None;
    for v in filters.get("since") {
        since = Some(by_name("since", v)?);
    }
    let ancestors = filters.contains("ancestor").then(|| {
        let mut set = std::collections::HashSet::new();
        for v in filters.get("ancestor") {
            if let Resolved::Found(i) = model.resolve_image(v) {
                with_descendants(model, i, &mut set);
            }
        }
        set.into_iter()
            .map(|i| model.images[i].rec.id.clone())
            .collect::<std::collections::HashSet<ImageId>>()
    });
    let publish = port_filter("publish", &filters.get("publish"))?;
    let expose = port_filter("expose", &filters.get("expose"))?;

    let mut order: Vec<usize> = (0..model.containers.len()).collect();
    let created = |i: usize| {
        model.containers[i]
            .rec
            .created
            .parse::<jiff::Timestamp>()
            .ok()
    };
    order.sort_by(|&a, &b| {
        let (ca, cb) = (&model.containers[a].rec, &model.containers[b].rec);
        created(b)
            .cmp(&created(a))
            .then_with(|| cb.created.cmp(&ca.created))
            .then_with(|| ca.id.cmp(&cb.id))
    });
    let limit = opts.last.unwrap_or(0);
    let mut selected = Vec::new();
    for i in order {
        let c = &model.containers[i].rec;
        if let Some(b) = &before {
            if c.id.as_str() == b {
                before = None;
            }
            continue;
        }
        if since.as_deref() == Some(c.id.as_str()) {
            break;
        }
        if !c.state.running && !all && limit == 0 {
            continue;
        }
        let name = c.name.trim_start_matches('/');
        if !filters.regex_match("name", &c.name) && !filters.regex_match("name", name) {
            continue;
        }
        if !filters.regex_match("id", c.id.as_str()) {
            continue;
        }
        if filters.contains("is-task") && is_task {
            continue; // nothing here is a swarm task
        }
        if !filters.match_kv_list("label", &c.config.labels) {
            continue;
        }
        if limit > 0 && selected.len() == limit {
            break;
        }
        if !exited.is_empty()
            && !exited.iter().any(|&code| {
                code == c.state.exit_code && !c.state.running && !is_zero_time(&c.state.started_at)
            })
        {
            continue;
        }
        if !filters.regex_match("status", state_string(&c.state)) {
            continue;
        }
        if !filters.exact_match("health", health_word(c)) {
            continue;
        }
        if filters.contains("volume") {
            let hit = filters.get("volume").iter().any(|v| {
                c.mounts.iter().any(|m| {
                    m.destination == *v
                        || (if m.name.is_empty() {
                            &m.source
                        } else {
                            &m.name
                        }) == v
                })
            });
            if !hit {
                continue;
            }
        }
        if let Some(set) = &ancestors {
            if !c.image.as_ref().is_some_and(|id| set.contains(id)) {
                continue;
            }
        }
        if filters.contains("network") {
            let names = networks(c);
            let ids = network_ids(c);
            let hit = filters
                .get("network")
                .iter()
                .any(|v| names.iter().any(|n| n == v) || ids.iter().any(|id| id.starts_with(v)));
            if !hit {
                continue;
            }
        }
        if !publish.is_empty() || !expose.is_empty() {
            let ports = api_ports(c);
            let hit = ports.iter().any(|p| {
                p.public_port
                    .is_some_and(|pp| publish.contains(&(pp, p.kind.clone())))
                    || expose.contains(&(p.private_port, p.kind.clone()))
            });
            if !hit {
                continue;
            }
        }
        selected.push(i);
    }
    Ok(build_rows(model, du, opts, &selected))
}

fn build_rows(model: &Model, du: Option<&DuReport>, opts: Options, selected: &[usize]) -> PsReport {
    let usage: BTreeMap<&str, &ContainerUsage> = du
        .map(|d| d.containers.iter().map(|c| (c.id.as_str(), c)).collect())
        .unwrap_or_default();
    let recorded = model_recorded_root(model);
    let mut rows: Vec<PsRow> = Vec::new();
    for &i in selected {
        let c = &model.containers[i].rec;
        let u = usage.get(c.id.as_str());
        let (rw, init) = model.container_dirs(i);
        let own_root = recorded_root(c).or_else(|| recorded.clone());
        rows.push(PsRow {
            id: c.id.clone(),
            name: c.name.trim_start_matches('/').to_owned(),
            image: api_image(model, c),
            image_id: c.image.clone(),
            command: command_string(c),
            created: c.created.clone(),
            state: state_string(&c.state),
            status: status_string(&c.state),
            recorded_running: c.state.running,
            exit_code: c.state.exit_code,
            started_at: c.state.started_at.clone(),
            finished_at: c.state.finished_at.clone(),
            size_rw: u.map(|u| u.size_rw),
            size_root_fs: u.map(|u| u.size_root_fs),
            log_bytes: u.map(|u| u.log_bytes),
            ports: api_ports(c),
            mounts: c.mounts.iter().map(mount_row).collect(),
            labels: c.config.labels.clone(),
            env: redact_env(&c.config.env, opts.show_env),
            restart_policy: RestartPolicy {
                name: c.host.restart_policy.name.clone(),
                maximum_retry_count: c.host.restart_policy.maximum_retry_count,
            },
            restart_count: c.restart_count,
            log_driver: c.host.log_config.kind.clone(),
            log_path: relative_to(&c.log_path, own_root.as_deref()),
            rw_dir: rw.map(|d| model.dirs[d].path.clone()),
            init_dir: init.map(|d| model.dirs[d].path.clone()),
            config_path: c.path.clone(),
            networks: networks(c),
        });
    }
    PsReport {
        containers: rows,
        problems: du.map_or_else(|| model.problems.clone(), |d| d.problems.clone()),
        sized: du.is_some(),
        no_trunc: opts.no_trunc,
        quiet: opts.quiet,
    }
}

/// Go's `strconv.Quote`, which the docker CLI applies to COMMAND.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The docker CLI's `Ellipsis`: at most `max` characters, the last one `…`.
pub fn ellipsis(s: &str, max: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= max || max == 0 {
        return s.to_owned();
    }
    let mut out: String = chars[..max - 1].iter().collect();
    out.push('…');
    out
}

/// The IMAGE column: `Image` as the API gives it, shortened as the CLI does.
pub fn display_image(image: &str, image_id: Option<&ImageId>, no_trunc: bool) -> String {
    if no_trunc {
        return image.to_owned();
    }
    let trunc = |s: &str| -> String {
        let s = s.split_once(':').map_or(s, |(_, rest)| rest);
        s.chars().take(12).collect()
    };
    if image_id.is_some_and(|id| trunc(id.as_str()) == trunc(image)) {
        return trunc(image);
    }
    // A digest reference shows without its digest; docker.io/library/ is dropped.
    let named = image.split_once('@').map_or(image, |(n, _)| n);
    let mut s = named;
    for prefix in ["docker.io/", "index.docker.io/"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    if let Some(rest) = s.strip_prefix("library/") {
        if !rest.contains('/') {
            s = rest;
        }
    }
    s.to_owned()
}

pub fn render(r: &PsReport, out: &mut dyn Write) -> io::Result<()> {
    if r.quiet {
        for c in &r.containers {
            if r.no_trunc {
                writeln!(out, "{}", c.id.as_str())?;
            } else {
                writeln!(out, "{}", c.id.short())?;
            }
        }
        return Ok(());
    }
    let mut header = vec![
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ];
    if r.sized {
        header.push("SIZE");
    }
    let mut t = table(&header);
    for c in &r.containers {
        let id = if r.no_trunc {
            c.id.as_str().to_owned()
        } else {
            c.id.short().to_owned()
        };
        let command = if r.no_trunc {
            c.command.clone()
        } else {
            ellipsis(&c.command, 20)
        };
        let mut row = vec![
            id,
            sanitize(&display_image(&c.image, c.image_id.as_ref(), r.no_trunc)),
            sanitize(&go_quote(&command)),
            human_time(&c.created),
            c.status.clone(),
            displayable_ports(&c.ports),
            sanitize(&c.name),
        ];
        if r.sized {
            row.push(format!(
                "{} (virtual {})",
                human_size(c.size_rw.unwrap_or(0)),
                human_size(c.size_root_fs.unwrap_or(0))
            ));
        }
        t.add_row(row);
    }
    write_table(t, out)
}

/// docker's container formatter fields and their table headers.
pub const HEADERS: format::Headers = &[
    ("ID", "CONTAINER ID"),
    ("Names", "NAMES"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Networks", "NETWORKS"),
    ("Platform", "PLATFORM"),
];

/// The rows `--format` reads, with docker's field values (docker 28's container
/// formatter): `Size` is `0B` unless sizes were measured (`--size`, or a template that
/// reads `.Size`), `Platform` is null (only the containerd store records it).
pub fn format_rows(r: &PsReport) -> Vec<Row> {
    r.containers
        .iter()
        .map(|c| {
            let trunc = !r.no_trunc;
            let created = format::unix_seconds(&c.created).unwrap_or(0);
            let command = if trunc {
                ellipsis(&c.command, 20)
            } else {
                c.command.clone()
            };
            let image = if c.image.is_empty() {
                "<no image>".to_owned()
            } else {
                display_image(&c.image, c.image_id.as_ref(), r.no_trunc)
            };
            let srw = format::go_human_size(c.size_rw.unwrap_or(0), 3);
            let size = match c.size_root_fs {
                Some(v) if v > 0 => format!("{srw} (virtual {})", format::go_human_size(v, 3)),
                _ => srw,
            };
            let mounts: Vec<String> = c
                .mounts
                .iter()
                .map(|m| {
                    let n = m.name.clone().unwrap_or_else(|| m.source.clone());
                    if trunc {
                        ellipsis(&n, 15)
                    } else {
                        n
                    }
                })
                .collect();
            let local = c
                .mounts
                .iter()
                .filter(|m| m.driver.as_deref() == Some("local"))
                .count();
            let mut row = Row::new();
            row.set(
                "ID",
                if trunc {
                    format::truncate_id(c.id.as_str())
                } else {
                    c.id.as_str().to_owned()
                },
            )
            .set("Names", c.name.clone())
            .set("Image", image)
            .set("Command", go_quote(&command))
            .set("CreatedAt", format::go_time_string(created))
            .set("RunningFor", format::since(created))
            .set("Ports", displayable_ports(&c.ports))
            .set("State", c.state)
            .set("Status", c.status.clone())
            .set("Size", size)
            .set("Labels", format::join_labels(&c.labels))
            .set("Mounts", mounts.join(","))
            .set("LocalVolumes", local.to_string())
            .set("Networks", c.networks.join(","))
            .set_value("Platform", serde_json::Value::Null);
            row.labels = c.labels.clone();
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(ip: Option<&str>, private: u16, public: Option<u16>) -> PortRow {
        PortRow {
            ip: ip.map(str::to_owned),
            private_port: private,
            public_port: public,
            kind: "tcp".into(),
        }
    }

    #[test]
    fn ports_as_the_cli_prints_them() {
        assert_eq!(displayable_ports(&[]), "");
        assert_eq!(displayable_ports(&[port(None, 80, None)]), "80/tcp");
        assert_eq!(
            displayable_ports(&[
                port(None, 80, None),
                port(None, 81, None),
                port(None, 82, None)
            ]),
            "80-82/tcp"
        );
        assert_eq!(
            displayable_ports(&[port(Some("0.0.0.0"), 8080, Some(80))]),
            "0.0.0.0:80->8080/tcp"
        );
        assert_eq!(
            displayable_ports(&[port(Some("0.0.0.0"), 80, Some(80))]),
            "0.0.0.0:80->80/tcp"
        );
        assert_eq!(
            displayable_ports(&[port(Some("::"), 8080, Some(80))]),
            "[::]:80->8080/tcp"
        );
    }

    #[test]
    fn quoting_and_ellipsis() {
        assert_eq!(go_quote("sh -c 'a \"b\"'"), "\"sh -c 'a \\\"b\\\"'\"");
        assert_eq!(go_quote("a\u{1b}b"), "\"a\\x1bb\"");
        assert_eq!(ellipsis("sleep 1000000", 20), "sleep 1000000");
        assert_eq!(
            ellipsis("sh -c 'echo ok; echo new > /data/new.txt'", 20),
            "sh -c 'echo ok; ech…"
        );
    }

    #[test]
    fn image_column() {
        let id = ImageId::parse(
            "sha256:14c51b910dbbfdfd99ce45132684a258a8ea72352bb49488f7b582d1eaa1c29e",
        )
        .unwrap();
        assert_eq!(display_image(id.as_str(), Some(&id), false), "14c51b910dbb");
        assert_eq!(display_image(id.as_str(), Some(&id), true), id.as_str());
        assert_eq!(display_image("app:1", Some(&id), false), "app:1");
        assert_eq!(
            display_image("docker.io/library/busybox:latest", Some(&id), false),
            "busybox:latest"
        );
        assert_eq!(display_image("app@sha256:abcd", Some(&id), false), "app");
    }

    #[test]
    fn env_is_hidden() {
        let env = vec![
            "PATH=/bin".to_owned(),
            "TOKEN=s3cret".to_owned(),
            "BARE".to_owned(),
        ];
        assert_eq!(
            redact_env(&env, false),
            ["PATH=<hidden>", "TOKEN=<hidden>", "BARE"]
        );
        assert_eq!(redact_env(&env, true), env);
    }
}
