//! `dockscope inspect NAME...`: `docker inspect` for containers and images, with the
//! field names and shapes the daemon uses, for what the files tell offline.
//!
//! Containers come from `config.v2.json` and `hostconfig.json` (moby
//! `daemon/inspect.go`); images from the image config, its imagedb metadata and its
//! layers (moby `daemon/images` `LookupImage`). Host paths the daemon would print
//! (`LogPath`, `GraphDriver.Data`, volume sources, ...) are given under the root as
//! given, not under the root Docker recorded. Each object gets a `Dockscope` block naming
//! the files its facts came from.

use super::ps::{is_zero_time, model_recorded_root, recorded_root, redact_env, state_string};
use crate::model::resolve::Resolved;
use crate::model::Model;
use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a NAME names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Container(usize),
    Image(usize),
}

/// Why a NAME names nothing, in docker's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unresolved {
    NotFound(String),
    Ambiguous(String, Vec<String>),
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::NotFound(name) => {
                write!(f, "No such object: {}", super::sanitize(name))
            }
            Unresolved::Ambiguous(name, list) => {
                write!(
                    f,
                    "id prefix {:?} is ambiguous; it matches:",
                    super::sanitize(name)
                )?;
                for c in list {
                    write!(f, "\n  {}", super::sanitize(c))?;
                }
                Ok(())
            }
        }
    }
}

/// A container as moby's `GetContainer` finds it: full id, then name (with or without
/// the leading `/`), then a unique id prefix. The empty prefix matches every container.
pub fn resolve_container(model: &Model, name: &str) -> Result<Option<usize>, Unresolved> {
    let cs = &model.containers;
    if let Some(i) = cs.iter().position(|c| c.rec.id.as_str() == name) {
        return Ok(Some(i));
    }
    let slashed = if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("/{name}")
    };
    if !name.is_empty() {
        if let Some(i) = cs.iter().position(|c| c.rec.name == slashed) {
            return Ok(Some(i));
        }
    }
    let mut hits: Vec<usize> = (0..cs.len())
        .filter(|&i| cs[i].rec.id.as_str().starts_with(name))
        .collect();
    hits.sort_by(|&a, &b| cs[a].rec.id.cmp(&cs[b].rec.id));
    match hits.len() {
        0 => Ok(None),
        1 => Ok(Some(hits[0])),
        _ => Err(Unresolved::Ambiguous(
            name.to_owned(),
            hits.iter()
                .map(|&i| format!("{} ({})", cs[i].rec.id.as_str(), cs[i].rec.name))
                .collect(),
        )),
    }
}

/// docker inspect's order: a container, then an image.
pub fn resolve(model: &Model, name: &str) -> Result<Target, Unresolved> {
    if let Some(c) = resolve_container(model, name)? {
        return Ok(Target::Container(c));
    }
    match model.resolve_image(name) {
        Resolved::Found(i) => Ok(Target::Image(i)),
        Resolved::NotFound => Err(Unresolved::NotFound(name.to_owned())),
        Resolved::Ambiguous(hits) => Err(Unresolved::Ambiguous(
            name.to_owned(),
            hits.iter()
                .map(|&i| model.images[i].rec.id.as_str().to_owned())
                .collect(),
        )),
    }
}

/// Where absolute paths point: the root as given (made absolute), and for an archive
/// the folder inside it that holds the data root.
pub fn base_path(root: &DataRoot) -> String {
    let shown = root.shown();
    let abs = std::path::absolute(shown).unwrap_or_else(|_| shown.to_owned());
    let mut p = abs;
    if let Some(prefix) = root.archive_prefix().filter(|p| !p.is_empty()) {
        p.push(prefix);
    }
    let s = p.to_string_lossy().into_owned();
    s.trim_end_matches('/').to_owned()
}

/// The inspected objects, in the order asked, and what could not be made sense of.
pub struct InspectReport {
    pub objects: Vec<Object>,
    pub problems: Vec<Problem>,
}

/// One inspected object, serialized with docker's field order.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Object {
    Container(Box<ContainerInspect>),
    Image(Box<ImageInspect>),
}

/// Options that change the output.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub show_env: bool,
}

/// Per-container sizes from the du walk (`SizeRw`, `SizeRootFs`), when asked.
pub type Sizes = BTreeMap<String, (u64, u64)>;

pub fn build(
    model: &Model,
    base: &str,
    targets: &[Target],
    sizes: Option<&Sizes>,
    opts: Options,
) -> InspectReport {
    let mut problems = model.problems.clone();
    let objects = targets
        .iter()
        .map(|t| match *t {
            Target::Container(c) => container(model, base, c, sizes, opts, &mut problems),
            Target::Image(i) => image(model, base, i, opts, &mut problems),
        })
        .collect();
    problems.sort();
    problems.dedup();
    InspectReport { objects, problems }
}

/// `key` of a JSON object, or `Null`.
fn get<'v>(v: Option<&'v Value>, key: &str) -> &'v Value {
    static NULL: Value = Value::Null;
    v.and_then(|v| v.get(key)).unwrap_or(&NULL)
}

fn or_default(v: &Value, default: Value) -> Value {
    if v.is_null() {
        default
    } else {
        v.clone()
    }
}

fn str_of(v: &Value) -> Value {
    or_default(v, Value::String(String::new()))
}

fn bool_of(v: &Value) -> Value {
    or_default(v, Value::Bool(false))
}

fn num_of(v: &Value) -> Value {
    or_default(v, Value::from(0))
}

/// A Go `StrSlice`: one string reads as a one-element list.
fn str_slice(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::Array(vec![Value::String(s.clone())]),
        v => v.clone(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(_) => false,
    }
}

/// `container.Config`, fields in docker's order, `omitempty` ones left out when empty.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerConfig {
    hostname: Value,
    domainname: Value,
    user: Value,
    attach_stdin: Value,
    attach_stdout: Value,
    attach_stderr: Value,
    #[serde(skip_serializing_if = "is_empty")]
    exposed_ports: Value,
    tty: Value,
    open_stdin: Value,
    stdin_once: Value,
    env: Value,
    cmd: Value,
    #[serde(skip_serializing_if = "is_empty")]
    healthcheck: Value,
    #[serde(skip_serializing_if = "is_empty")]
    args_escaped: Value,
    image: Value,
    volumes: Value,
    working_dir: Value,
    entrypoint: Value,
    #[serde(skip_serializing_if = "is_empty")]
    network_disabled: Value,
    #[serde(skip_serializing_if = "is_empty")]
    mac_address: Value,
    #[serde(rename = "OnBuild")]
    on_build: Value,
    labels: Value,
    #[serde(skip_serializing_if = "is_empty")]
    stop_signal: Value,
    #[serde(skip_serializing_if = "Value::is_null")]
    stop_timeout: Value,
    #[serde(skip_serializing_if = "is_empty")]
    shell: Value,
}

fn env_value(v: &Value, show: bool) -> Value {
    match v.as_array() {
        Some(list) => {
            let strings: Vec<String> = list
                .iter()
                .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned))
                .collect();
            Value::from(redact_env(&strings, show))
        }
        None => v.clone(),
    }
}

/// A config object kept as raw JSON text, parsed for display.
fn parsed(raw: Option<&serde_json::value::RawValue>) -> Option<Value> {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
}

fn docker_config(c: Option<&Value>, show_env: bool) -> DockerConfig {
    DockerConfig {
        hostname: str_of(get(c, "Hostname")),
        domainname: str_of(get(c, "Domainname")),
        user: str_of(get(c, "User")),
        attach_stdin: bool_of(get(c, "AttachStdin")),
        attach_stdout: bool_of(get(c, "AttachStdout")),
        attach_stderr: bool_of(get(c, "AttachStderr")),
        exposed_ports: get(c, "ExposedPorts").clone(),
        tty: bool_of(get(c, "Tty")),
        open_stdin: bool_of(get(c, "OpenStdin")),
        stdin_once: bool_of(get(c, "StdinOnce")),
        env: env_value(get(c, "Env"), show_env),
        cmd: str_slice(get(c, "Cmd")),
        healthcheck: get(c, "Healthcheck").clone(),
        args_escaped: get(c, "ArgsEscaped").clone(),
        image: str_of(get(c, "Image")),
        volumes: get(c, "Volumes").clone(),
        working_dir: str_of(get(c, "WorkingDir")),
        entrypoint: str_slice(get(c, "Entrypoint")),
        network_disabled: get(c, "NetworkDisabled").clone(),
        mac_address: get(c, "MacAddress").clone(),
        on_build: get(c, "OnBuild").clone(),
        labels: get(c, "Labels").clone(),
        stop_signal: get(c, "StopSignal").clone(),
        stop_timeout: get(c, "StopTimeout").clone(),
        shell: str_slice(get(c, "Shell")),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GraphDriver {
    data: Option<BTreeMap<String, String>>,
    name: String,
}

/// overlay2's `GetMetadata` for one dir: its `diff`, `work`, `merged`, and its lower
/// dirs (from its `lower` file through the `l/` links), immediate parent first.
fn graph_data(
    model: &Model,
    base: &str,
    dir: usize,
    layer_dirs: &mut Vec<String>,
    sources: &mut Vec<String>,
    problems: &mut Vec<Problem>,
) -> BTreeMap<String, String> {
    let d = &model.dirs[dir];
    let abs = |rel: &str| format!("{base}/{rel}");
    let mut data = BTreeMap::new();
    data.insert("UpperDir".to_owned(), abs(&format!("{}/diff", d.path)));
    data.insert("WorkDir".to_owned(), abs(&format!("{}/work", d.path)));
    data.insert("MergedDir".to_owned(), abs(&format!("{}/merged", d.path)));
    layer_dirs.push(d.path.clone());
    if d.lower_names.is_empty() {
        return data;
    }
    sources.push(format!("{}/lower", d.path));
    let mut lowers = Vec::new();
    for name in d.lower() {
        let link = model.links.iter().find(|l| l.name == *name);
        let target = link
            .and_then(|l| l.dir_id.as_deref())
            .and_then(|id| model.dir_index(id));
        match (link, target) {
            (Some(l), Some(t)) => {
                sources.push(l.path.clone());
                lowers.push(abs(&format!("{}/diff", model.dirs[t].path)));
                layer_dirs.push(model.dirs[t].path.clone());
            }
            _ => problems.push(Problem::new(
                format!("{}/lower", d.path),
                ProblemKind::BrokenReference,
                format!("names l/{name}, which leads to no overlay2 dir; docker inspect would fail here"),
            )),
        }
    }
    data.insert("LowerDir".to_owned(), lowers.join(":"));
    data
}

/// Where each fact came from.
#[derive(Serialize)]
struct Provenance {
    /// Files read for this object, relative to the root.
    sources: Vec<String>,
    /// Its overlay2 dirs, relative to the root: for a container its RW dir first, then
    /// init and image layers (top first); for an image its layers, top first.
    layer_dirs: Vec<String>,
    /// The root the recorded absolute paths were under, replaced by the root given.
    recorded_root: Option<String>,
    /// For a container: recorded running or paused, i.e. its state at capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    recorded_running: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct State {
    status: &'static str,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: i64,
    exit_code: i64,
    error: String,
    started_at: String,
    finished_at: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    health: Value,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MountPoint {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    source: String,
    destination: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    driver: String,
    mode: String,
    #[serde(rename = "RW")]
    rw: bool,
    propagation: String,
}

/// `network.EndpointSettings` (the stored one carries `IPAMOperational`, not shown).
#[derive(Serialize)]
#[allow(clippy::struct_field_names)] // docker's names
struct Endpoint {
    #[serde(rename = "IPAMConfig")]
    ipam_config: Value,
    #[serde(rename = "Links")]
    links: Value,
    #[serde(rename = "Aliases")]
    aliases: Value,
    #[serde(rename = "NetworkID")]
    network_id: Value,
    #[serde(rename = "EndpointID")]
    endpoint_id: Value,
    #[serde(rename = "Gateway")]
    gateway: Value,
    #[serde(rename = "IPAddress")]
    ip_address: Value,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: Value,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: Value,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: Value,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: Value,
    #[serde(rename = "MacAddress")]
    mac_address: Value,
    #[serde(rename = "DriverOpts")]
    driver_opts: Value,
}

fn endpoint(e: Option<&Value>) -> Endpoint {
    Endpoint {
        ipam_config: get(e, "IPAMConfig").clone(),
        links: get(e, "Links").clone(),
        aliases: get(e, "Aliases").clone(),
        network_id: str_of(get(e, "NetworkID")),
        endpoint_id: str_of(get(e, "EndpointID")),
        gateway: str_of(get(e, "Gateway")),
        ip_address: str_of(get(e, "IPAddress")),
        ip_prefix_len: num_of(get(e, "IPPrefixLen")),
        ipv6_gateway: str_of(get(e, "IPv6Gateway")),
        global_ipv6_address: str_of(get(e, "GlobalIPv6Address")),
        global_ipv6_prefix_len: num_of(get(e, "GlobalIPv6PrefixLen")),
        mac_address: str_of(get(e, "MacAddress")),
        driver_opts: get(e, "DriverOpts").clone(),
    }
}

/// `types.NetworkSettings`: the stored settings, the `bridge` endpoint copied to the
/// top level (moby `getDefaultNetworkSettings`), `Ports` never null.
#[derive(Serialize)]
struct NetworkSettings {
    #[serde(rename = "Bridge")]
    bridge: Value,
    #[serde(rename = "SandboxID")]
    sandbox_id: Value,
    #[serde(rename = "HairpinMode")]
    hairpin_mode: Value,
    #[serde(rename = "LinkLocalIPv6Address")]
    link_local_ipv6_address: Value,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    link_local_ipv6_prefix_len: Value,
    #[serde(rename = "Ports")]
    ports: Value,
    #[serde(rename = "SandboxKey")]
    sandbox_key: Value,
    #[serde(rename = "SecondaryIPAddresses")]
    secondary_ip_addresses: Value,
    #[serde(rename = "SecondaryIPv6Addresses")]
    secondary_ipv6_addresses: Value,
    #[serde(rename = "EndpointID")]
    endpoint_id: Value,
    #[serde(rename = "Gateway")]
    gateway: Value,
    #[serde(rename = "GlobalIPv6Address")]
    global_ipv6_address: Value,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    global_ipv6_prefix_len: Value,
    #[serde(rename = "IPAddress")]
    ip_address: Value,
    #[serde(rename = "IPPrefixLen")]
    ip_prefix_len: Value,
    #[serde(rename = "IPv6Gateway")]
    ipv6_gateway: Value,
    #[serde(rename = "MacAddress")]
    mac_address: Value,
    #[serde(rename = "Networks")]
    networks: BTreeMap<String, Endpoint>,
}

fn network_settings(n: Option<&Value>) -> NetworkSettings {
    let nets = get(n, "Networks");
    let bridge = nets.get("bridge").filter(|b| !b.is_null());
    let networks = nets
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), endpoint(Some(v))))
                .collect()
        })
        .unwrap_or_default();
    NetworkSettings {
        bridge: str_of(get(n, "Bridge")),
        sandbox_id: str_of(get(n, "SandboxID")),
        hairpin_mode: bool_of(get(n, "HairpinMode")),
        link_local_ipv6_address: str_of(get(n, "LinkLocalIPv6Address")),
        link_local_ipv6_prefix_len: num_of(get(n, "LinkLocalIPv6PrefixLen")),
        ports: or_default(get(n, "Ports"), Value::Object(serde_json::Map::new())),
        sandbox_key: str_of(get(n, "SandboxKey")),
        secondary_ip_addresses: get(n, "SecondaryIPAddresses").clone(),
        secondary_ipv6_addresses: get(n, "SecondaryIPv6Addresses").clone(),
        endpoint_id: str_of(get(bridge, "EndpointID")),
        gateway: str_of(get(bridge, "Gateway")),
        global_ipv6_address: str_of(get(bridge, "GlobalIPv6Address")),
        global_ipv6_prefix_len: num_of(get(bridge, "GlobalIPv6PrefixLen")),
        ip_address: str_of(get(bridge, "IPAddress")),
        ip_prefix_len: num_of(get(bridge, "IPPrefixLen")),
        ipv6_gateway: str_of(get(bridge, "IPv6Gateway")),
        mac_address: str_of(get(bridge, "MacAddress")),
        networks,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    id: String,
    created: String,
    path: String,
    args: Vec<String>,
    state: State,
    image: String,
    /// The containerd store: the platform manifest the container was created from.
    #[serde(skip_serializing_if = "Option::is_none")]
    image_manifest_descriptor: Option<Value>,
    resolv_conf_path: String,
    hostname_path: String,
    hosts_path: String,
    log_path: String,
    name: String,
    restart_count: i64,
    driver: String,
    platform: String,
    mount_label: Value,
    process_label: Value,
    app_armor_profile: Value,
    /// Exec sessions are not persisted: a daemon started on this root has none.
    #[serde(rename = "ExecIDs")]
    exec_ids: Option<Vec<String>>,
    host_config: Value,
    graph_driver: GraphDriver,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_rw: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_root_fs: Option<u64>,
    mounts: Vec<MountPoint>,
    config: DockerConfig,
    network_settings: NetworkSettings,
    dockscope: Provenance,
}

/// A recorded absolute path under the recorded root, moved under the root given.
fn rebase(path: &str, recorded: Option<&str>, base: &str) -> String {
    if let Some(rest) = recorded.and_then(|r| path.strip_prefix(r)) {
        if rest.starts_with('/') {
            return format!("{base}{rest}");
        }
    }
    path.to_owned()
}

fn container(
    model: &Model,
    base: &str,
    ci: usize,
    sizes: Option<&Sizes>,
    opts: Options,
    problems: &mut Vec<Problem>,
) -> Object {
    let ct = &model.containers[ci];
    let c = &ct.rec;
    let raw = Some(&c.raw_config);
    let recorded = recorded_root(c).or_else(|| model_recorded_root(model));
    let rec = recorded.as_deref();
    let mut sources = vec![c.path.clone()];
    sources.extend(c.hostconfig_path.clone());
    let mut layer_dirs = Vec::new();
    if let Some(m) = &ct.mount {
        for f in ["mount-id", "init-id", "parent"] {
            sources.push(format!("{}/{f}", m.path));
        }
    }
    let (rw, _init) = model.container_dirs(ci);
    let data = rw.map(|d| graph_data(model, base, d, &mut layer_dirs, &mut sources, problems));
    if rw.is_none() {
        problems.push(Problem::new(
            c.path.clone(),
            ProblemKind::BrokenReference,
            "no RW layer dir found (layerdb mounts/<id>/mount-id); GraphDriver.Data is null",
        ));
    }
    let mounts = c
        .mounts
        .iter()
        .map(|m| {
            // moby `MountPoint.Path()`: a volume's own path, else the recorded source.
            let local = m.driver == "local" || m.driver.is_empty();
            let source = if m.kind == "volume" && local && !m.name.is_empty() {
                format!("{base}/volumes/{}/_data", m.name)
            } else {
                rebase(&m.source, rec, base)
            };
            if m.kind == "volume" && !m.name.is_empty() {
                sources.push(format!("volumes/{}", m.name));
            }
            MountPoint {
                kind: m.kind.clone(),
                name: m.name.clone(),
                source,
                destination: m.destination.clone(),
                driver: m.driver.clone(),
                mode: m.relabel.clone(),
                rw: m.rw,
                propagation: m.propagation.clone(),
            }
        })
        .collect();
    let st = &c.state;
    let size = sizes.and_then(|s| s.get(c.id.as_str()));
    let out = ContainerInspect {
        id: c.id.as_str().to_owned(),
        created: c.created.clone(),
        path: c.cmd_path.clone(),
        args: c.args.clone(),
        state: State {
            status: state_string(st),
            running: st.running,
            paused: st.paused,
            restarting: st.restarting,
            oom_killed: st.oom_killed,
            dead: st.dead,
            pid: st.pid,
            exit_code: st.exit_code,
            error: st.error.clone(),
            started_at: st.started_at.clone(),
            finished_at: st.finished_at.clone(),
            health: get(Some(get(raw, "State")), "Health").clone(),
        },
        image: c
            .image
            .as_ref()
            .map_or_else(String::new, |i| i.as_str().to_owned()),
        image_manifest_descriptor: get(raw, "ImageManifest").as_object().map(|o| {
            // The daemon fills the platform from `ImagePlatform` when the descriptor has none.
            let mut o = o.clone();
            let platform = get(raw, "ImagePlatform");
            if !o.contains_key("platform") && platform.is_object() {
                o.insert("platform".into(), platform.clone());
            }
            Value::Object(o)
        }),
        resolv_conf_path: rebase(&c.resolv_conf_path, rec, base),
        hostname_path: rebase(&c.hostname_path, rec, base),
        hosts_path: rebase(&c.hosts_path, rec, base),
        log_path: rebase(&c.log_path, rec, base),
        name: c.name.clone(),
        restart_count: c.restart_count,
        driver: c.driver.clone(),
        platform: c.os.clone(),
        mount_label: str_of(get(raw, "MountLabel")),
        process_label: str_of(get(raw, "ProcessLabel")),
        app_armor_profile: str_of(get(raw, "AppArmorProfile")),
        exec_ids: None,
        host_config: c.raw_hostconfig.clone().unwrap_or(Value::Null),
        graph_driver: GraphDriver {
            // The containerd store's daemon gives no paths (the snapshotter owns them).
            data: data.filter(|_| model.containerd.is_none()),
            name: c.driver.clone(),
        },
        size_rw: size.map(|s| s.0),
        size_root_fs: size.map(|s| s.1),
        mounts,
        config: docker_config(Some(get(raw, "Config")), opts.show_env),
        network_settings: network_settings(Some(get(raw, "NetworkSettings"))),
        dockscope: Provenance {
            sources,
            layer_dirs,
            recorded_root: recorded,
            recorded_running: Some(st.running),
        },
    };
    Object::Container(Box::new(out))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RootFs {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    layers: Vec<String>,
}

/// An image's `Config`: Docker's container config, or (containerd store, API 1.50+)
/// the OCI image config's fields only.
#[derive(Serialize)]
#[serde(untagged)]
enum ImageConfig {
    Docker(Box<DockerConfig>),
    Oci(serde_json::Value),
}

/// The OCI image config fields of a Docker config; the always-present ones default to
/// null or "" as the daemon prints them.
fn oci_config(c: &DockerConfig) -> serde_json::Value {
    let full = serde_json::to_value(c).unwrap_or_default();
    let mut out = serde_json::Map::new();
    for k in [
        "Cmd",
        "Entrypoint",
        "Env",
        "Labels",
        "OnBuild",
        "User",
        "Volumes",
        "WorkingDir",
    ] {
        out.insert(k.to_owned(), full.get(k).cloned().unwrap_or_default());
    }
    for k in [
        "ArgsEscaped",
        "ExposedPorts",
        "Healthcheck",
        "Shell",
        "StopSignal",
    ] {
        if let Some(v) = full.get(k).filter(|v| !v.is_null()) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    serde_json::Value::Object(out)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Metadata {
    last_tag_time: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: String,
    comment: String,
    created: String,
    /// Absent in the containerd store's answer (API 1.44+ dropped them there).
    #[serde(skip_serializing_if = "Option::is_none")]
    container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_config: Option<DockerConfig>,
    docker_version: String,
    author: String,
    config: Option<ImageConfig>,
    architecture: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    variant: String,
    os: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    os_version: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    virtual_size: Option<u64>,
    graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    root_fs: RootFs,
    metadata: Metadata,
    /// The containerd store only: the image record's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    descriptor: Option<crate::scan::containerd::meta::DescriptorJson>,
    dockscope: Provenance,
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The reference store's order (moby `reference/store.go` `lexicalRefs`): by the full
/// name, `docker.io/library/` included.
fn full_name(familiar: &str) -> String {
    let first = familiar.split('/').next().unwrap_or("");
    let has_domain = familiar.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        familiar.to_owned()
    } else if familiar.contains('/') {
        format!("docker.io/{familiar}")
    } else {
        format!("docker.io/library/{familiar}")
    }
}

fn image(
    model: &Model,
    base: &str,
    i: usize,
    opts: Options,
    problems: &mut Vec<Problem>,
) -> Object {
    let im = &model.images[i];
    let r = &im.rec;
    let mut sources = vec![r.path.clone()];
    let mut refs = model.image_refs(i);
    if !refs.is_empty() {
        sources.push(format!("{}/repositories.json", crate::scan::IMAGE_DIR));
    }
    refs.sort_by_key(|r| full_name(&r.reference));
    let tags = refs
        .iter()
        .filter(|r| !r.is_digest)
        .map(|r| r.reference.clone())
        .collect();
    let digests = refs
        .iter()
        .filter(|r| r.is_digest)
        .map(|r| r.reference.clone())
        .collect();
    let meta = im.meta.as_ref();
    if let Some(m) = meta {
        if m.parent.is_some() {
            sources.push(format!("{}/parent", m.path));
        }
        if m.last_updated.is_some() {
            sources.push(format!("{}/lastUpdated", m.path));
        }
    }
    let layers = model.image_layers(i);
    for &l in &layers {
        let p = &model.layers[l].path;
        for f in ["diff", "size", "cache-id"] {
            sources.push(format!("{p}/{f}"));
        }
    }
    let mut layer_dirs = Vec::new();
    let data = layers.last().map(|&top| {
        if let Some(d) = model.layer_dir(top) {
            graph_data(model, base, d, &mut layer_dirs, &mut sources, problems)
        } else {
            problems.push(Problem::new(
                format!("{}/cache-id", model.layers[top].path),
                ProblemKind::BrokenReference,
                "the top layer has no overlay2 dir; GraphDriver.Data is empty",
            ));
            BTreeMap::new()
        }
    });
    // moby: an image without a comment shows its last history step's.
    let comment = r
        .comment
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| r.history().last().and_then(|h| h.comment.clone()))
        .unwrap_or_default();
    let out = ImageInspect {
        id: r.id.as_str().to_owned(),
        repo_tags: tags,
        repo_digests: digests,
        parent: meta
            .and_then(|m| m.parent.as_ref())
            .map_or_else(String::new, |p| p.as_str().to_owned()),
        comment,
        created: r.created.clone().unwrap_or_else(|| ZERO_TIME.to_owned()),
        container: Some(r.container.clone().unwrap_or_default()),
        container_config: Some(docker_config(
            parsed(r.container_config.as_deref()).as_ref(),
            opts.show_env,
        )),
        docker_version: r.docker_version.clone().unwrap_or_default(),
        author: r.author.clone().unwrap_or_default(),
        config: parsed(r.config.as_deref())
            .filter(|c| !c.is_null())
            .map(|c| ImageConfig::Docker(Box::new(docker_config(Some(&c), opts.show_env)))),
        architecture: r.architecture.clone().unwrap_or_default(),
        variant: r.variant.clone().unwrap_or_default(),
        os: r
            .os
            .clone()
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| "linux".to_owned()),
        os_version: r.os_version.clone().unwrap_or_default(),
        size: model.image_size(i),
        virtual_size: Some(model.image_size(i)),
        graph_driver: GraphDriver {
            data,
            name: "overlay2".to_owned(),
        },
        root_fs: RootFs {
            kind: "layers".to_owned(),
            layers: r.diff_ids.iter().map(|d| d.as_str().to_owned()).collect(),
        },
        metadata: Metadata {
            last_tag_time: meta
                .and_then(|m| m.last_updated.clone())
                .filter(|t| !is_zero_time(t))
                .unwrap_or_else(|| ZERO_TIME.to_owned()),
        },
        descriptor: None,
        dockscope: Provenance {
            sources,
            layer_dirs,
            recorded_root: None,
            recorded_running: None,
        },
    };
    let mut out = out;
    if let Some(f) = model.containerd.as_ref().and_then(|c| c.image(&r.id)) {
        // The containerd store's answer (API 1.51): content size only, no
        // Container/ContainerConfig/VirtualSize, the target descriptor, every repository's digest.
        out.container = None;
        out.container_config = None;
        out.virtual_size = None;
        out.size = f.inspect_size;
        out.graph_driver = GraphDriver {
            data: None,
            name: "overlayfs".to_owned(),
        };
        out.descriptor = Some(f.target.clone().into());
        if let Some(ImageConfig::Docker(c)) = &out.config {
            out.config = Some(ImageConfig::Oci(oci_config(c)));
        }
        let mut repos: Vec<String> = f
            .names
            .iter()
            .filter(|n| !n.starts_with(crate::scan::containerd::records::DANGLING_PREFIX))
            .map(|n| {
                let fam = crate::scan::containerd::records::familiar(n);
                let repo = fam.split('@').next().unwrap_or(&fam);
                let slash = repo.rfind('/').map_or(0, |i| i + 1);
                let repo = match repo[slash..].rfind(':') {
                    Some(c) => &repo[..slash + c],
                    None => repo,
                };
                format!("{repo}@{}", f.target.digest)
            })
            .collect();
        repos.sort_by_key(|r| full_name(r));
        repos.dedup();
        out.repo_digests = repos;
        out.dockscope.layer_dirs = Vec::new();
    }
    Object::Image(Box::new(out))
}

/// Resolve every NAME, then print docker's array on `out` and problems on `err`. Any
/// NAME that names nothing (or too much) fails the whole command, stdout left empty.
pub fn run(
    root: &DataRoot,
    model: &Model,
    names: &[String],
    opts: Options,
    du: Option<&super::du::DuReport>,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Result<crate::exit::ExitStatus, crate::Fatal> {
    // As docker: what was found is printed, each name that was not is named on stderr,
    // and the exit code is 1.
    let mut targets = Vec::new();
    let mut failed = false;
    for name in names {
        match resolve(model, name) {
            Ok(t) => targets.push(t),
            Err(e) => {
                writeln!(err, "dockscope: error: {e}{}", not_found_hint(model, &e))?;
                failed = true;
            }
        }
    }
    let sizes: Option<Sizes> = du.map(|d| {
        d.containers
            .iter()
            .map(|c| (c.id.as_str().to_owned(), (c.size_rw, c.size_root_fs)))
            .collect()
    });
    let mut report = build(model, &base_path(root), &targets, sizes.as_ref(), opts);
    if let Some(d) = du {
        report.problems.extend(d.problems.iter().cloned());
        report.problems.sort();
        report.problems.dedup();
    }
    serde_json::to_writer_pretty(&mut *out, &report.objects).map_err(std::io::Error::from)?;
    writeln!(out)?;
    super::write_problems(&report.problems, err)?;
    Ok(if failed {
        crate::exit::ExitStatus::Findings
    } else {
        crate::exit::ExitStatus::Done
    })
}

/// The next step for a NAME that names nothing: what the image resolver knows (an image
/// that does not load, other tags of the repository, ...), or where to look.
fn not_found_hint(model: &Model, e: &Unresolved) -> String {
    let Unresolved::NotFound(name) = e else {
        return String::new();
    };
    let msg = model.not_found_message(name);
    let generic = format!("No such image: {}", super::sanitize(name));
    match msg.strip_prefix(&generic) {
        Some(rest) if rest.contains("did you mean") || rest.contains("is a container") => {
            rest.to_owned()
        }
        Some(_) => "; `dockscope ps -a` and `dockscope images -a` list what there is".to_owned(),
        None => format!("; {msg}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_store_order() {
        let mut v = vec![
            "app:latest",
            "127.0.0.1:5000/demo/app:1",
            "app:1",
            "user/x:1",
        ];
        v.sort_by_key(|s| full_name(s));
        assert_eq!(
            v,
            [
                "127.0.0.1:5000/demo/app:1",
                "app:1",
                "app:latest",
                "user/x:1"
            ]
        );
    }

    #[test]
    fn paths_move_under_the_root_given() {
        let rec = Some("/var/lib/docker");
        assert_eq!(
            rebase("/var/lib/docker/containers/x/hosts", rec, "/tmp/r"),
            "/tmp/r/containers/x/hosts"
        );
        assert_eq!(
            rebase("/var/lib/dockerx/a", rec, "/tmp/r"),
            "/var/lib/dockerx/a"
        );
        assert_eq!(rebase("", rec, "/tmp/r"), "");
        assert_eq!(rebase("/srv/bind", rec, "/tmp/r"), "/srv/bind");
    }
}
