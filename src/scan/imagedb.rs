//! `image/overlay2/imagedb`: image configs (`content/sha256/<id>`) and their metadata
//! (`metadata/sha256/<id>/{parent,lastUpdated,builtLocally}`).

use super::{open_optional, read_text, sorted_names, IMAGE_DIR, JSON_LIMIT, SMALL_LIMIT};
use crate::model::ids::{is_hex64, sha256_digest, ChainId, DiffId, ImageId, Pool};
use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::ffi::OsStr;

/// One step of an image's history.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
pub struct HistoryEntry {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
}

/// A history entry's shape, checked without copying its text (`HistoryEntry` is what
/// the history is read into when it is shown; the two must accept the same input).
#[derive(Deserialize)]
#[allow(dead_code)] // the fields are read only to be type-checked
struct HistoryCheck<'a> {
    #[serde(default, borrow)]
    created: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    created_by: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    author: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    comment: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize, Default)]
struct RootFs<'a> {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    /// Borrowed from the file's bytes (a copy only for a digest written with escapes):
    /// each is interned as it is checked.
    #[serde(default, borrow)]
    diff_ids: Vec<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct ConfigFile<'a> {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    author: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    docker_version: Option<String>,
    #[serde(default)]
    config: Option<Box<RawValue>>,
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    container_config: Option<Box<RawValue>>,
    #[serde(default, rename = "os.version")]
    os_version: Option<String>,
    /// Borrowed: checked here, kept only when the command shows history.
    #[serde(default, borrow)]
    history: Option<&'a RawValue>,
    #[serde(default, borrow)]
    rootfs: RootFs<'a>,
}

/// An image config from `imagedb/content/sha256/<id>`.
#[derive(Clone, Debug)]
pub struct ImageRec {
    pub id: ImageId,
    /// The config file, relative to the root.
    pub path: String,
    /// Bytes of the config file.
    pub config_len: u64,
    /// The file's SHA-256 equals its name. Docker refuses to load an image otherwise.
    pub digest_ok: bool,
    pub created: Option<String>,
    pub author: Option<String>,
    pub architecture: Option<String>,
    pub os: Option<String>,
    pub variant: Option<String>,
    pub comment: Option<String>,
    pub docker_version: Option<String>,
    /// The `config` object (Cmd, Env, Labels, ...), as stored: kept as text, parsed by
    /// the reports that show it (a parsed tree costs several times the bytes).
    pub config: Option<Box<RawValue>>,
    /// The classic builder's container and its config (`container`, `container_config`).
    pub container: Option<String>,
    pub container_config: Option<Box<RawValue>>,
    pub os_version: Option<String>,
    /// The `history` array as stored; `history()` parses it. At 10,000 images the parsed
    /// form costs more than everything else the model keeps.
    pub history_raw: Option<Box<RawValue>>,
    pub diff_ids: Vec<DiffId>,
    /// The chain ids of `diff_ids`, base first (interned: images share their bases).
    pub chain: Vec<ChainId>,
}

impl ImageRec {
    /// The image's history steps, oldest first (empty when the config has none or they
    /// do not parse; the scan reported that).
    pub fn history(&self) -> Vec<HistoryEntry> {
        self.history_raw
            .as_ref()
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default()
    }
}

/// `imagedb/metadata/sha256/<id>/`.
#[derive(Clone, Debug)]
pub struct ImageMetaRec {
    pub id: ImageId,
    pub path: String,
    pub parent: Option<ImageId>,
    pub last_updated: Option<String>,
    pub built_locally: bool,
}

#[derive(Default)]
pub struct ImageScan {
    pub images: Vec<ImageRec>,
    pub meta: Vec<ImageMetaRec>,
    pub problems: Vec<Problem>,
}

/// `pool` shares equal ids between records (and with the layerdb scan).
pub fn scan(root: &DataRoot, pool: &Pool) -> ImageScan {
    let mut out = ImageScan::default();
    let content = format!("{IMAGE_DIR}/imagedb/content/sha256");
    match open_optional(root, &content) {
        Err(p) => out.problems.push(p),
        Ok(None) => {}
        Ok(Some(dir)) => {
            let names = sorted_names(&dir, &mut out.problems);
            let results: Vec<(Option<ImageRec>, Vec<Problem>)> = names
                .par_iter()
                .map(|name| read_config(&dir, name, pool, root.capture(), true))
                .collect();
            out.images.reserve_exact(results.len());
            for (rec, problems) in results {
                out.images.extend(rec);
                out.problems.extend(problems);
            }
        }
    }
    let metadata = format!("{IMAGE_DIR}/imagedb/metadata/sha256");
    match open_optional(root, &metadata) {
        Err(p) => out.problems.push(p),
        Ok(None) => {}
        Ok(Some(dir)) => {
            for name in sorted_names(&dir, &mut out.problems) {
                let rel = dir.rel_of(OsStr::new(&name));
                let Some(id) = ImageId::from_hex(&name) else {
                    out.problems.push(Problem::new(
                        rel,
                        ProblemKind::Unexpected,
                        "not an image id (64 hex digits)",
                    ));
                    continue;
                };
                let sub = match dir.sub(OsStr::new(&name)) {
                    Ok(s) => s,
                    Err(e) => {
                        out.problems.push(Problem::io(rel, &e));
                        continue;
                    }
                };
                let mut rec = ImageMetaRec {
                    id,
                    path: rel,
                    parent: None,
                    last_updated: None,
                    built_locally: false,
                };
                match read_text(&sub, "parent", SMALL_LIMIT) {
                    Ok(Some(p)) => match ImageId::parse(&p) {
                        Some(p) => rec.parent = Some(p),
                        None => out.problems.push(Problem::new(
                            sub.rel_of(OsStr::new("parent")),
                            ProblemKind::Malformed,
                            "expected sha256:<64 hex>, the parent image id",
                        )),
                    },
                    Ok(None) => {}
                    Err(p) => out.problems.push(p),
                }
                match read_text(&sub, "lastUpdated", SMALL_LIMIT) {
                    Ok(t) => rec.last_updated = t.map(|t| t.trim().to_owned()),
                    Err(p) => out.problems.push(p),
                }
                rec.built_locally = sub.lstat(OsStr::new("builtLocally")).is_ok();
                out.meta.push(rec);
            }
        }
    }
    out
}

/// Read and check one image config. `keep_history`: keep the `history` text in the
/// record (it is checked either way; `images` shows none of it).
pub fn read_config(
    dir: &crate::root::Dir<'_>,
    name: &str,
    pool: &Pool,
    capture: Option<&crate::capture::manifest::Manifest>,
    keep_history: bool,
) -> (Option<ImageRec>, Vec<Problem>) {
    let rel = dir.rel_of(OsStr::new(name));
    let mut problems = Vec::new();
    if !is_hex64(name) {
        problems.push(Problem::new(
            rel,
            ProblemKind::Unexpected,
            "not an image id (64 hex digits); Docker ignores it",
        ));
        return (None, problems);
    }
    let bytes = match dir.read(OsStr::new(name), JSON_LIMIT) {
        Ok(b) => b,
        Err(e) => {
            problems.push(Problem::io(rel, &e));
            return (None, problems);
        }
    };
    let id = ImageId::from_hex(name).expect("checked hex");
    // A capture redacts Env values in image configs; its manifest vouches for the
    // config's original digest (docs/json.md, "capture").
    let digest_ok = sha256_digest(&bytes) == id.as_str()
        || capture.is_some_and(|m| m.vouches_for(&rel, id.as_str(), &bytes));
    if !digest_ok {
        problems.push(Problem::new(
            rel.clone(),
            ProblemKind::Mismatch,
            "sha256 of the config differs from its name; Docker does not load this image",
        ));
    }
    let cfg: ConfigFile = match serde_json::from_slice(&bytes) {
        Ok(c) => c,
        Err(e) => {
            problems.push(Problem::new(
                rel,
                ProblemKind::Malformed,
                format!("image config is not valid JSON: {e}"),
            ));
            return (None, problems);
        }
    };
    if let Some(kind) = cfg.rootfs.kind.as_deref() {
        if kind != "layers" {
            problems.push(Problem::new(
                rel.clone(),
                ProblemKind::Malformed,
                format!("rootfs.type is {kind:?}, expected \"layers\""),
            ));
        }
    }
    if let Some(raw) = cfg.history {
        if let Err(e) = serde_json::from_str::<Vec<HistoryCheck<'_>>>(raw.get()) {
            problems.push(Problem::new(
                rel.clone(),
                ProblemKind::Malformed,
                format!("history is not a list of history entries: {e}"),
            ));
        }
    }
    let mut diff_ids = Vec::with_capacity(cfg.rootfs.diff_ids.len());
    for d in &cfg.rootfs.diff_ids {
        if let Some(d) = DiffId::parse_in(d.as_ref(), pool) {
            diff_ids.push(d);
        } else {
            problems.push(Problem::new(
                rel,
                ProblemKind::Malformed,
                format!("rootfs.diff_ids holds {d:?}, not a sha256 digest"),
            ));
            return (None, problems);
        }
    }
    let rec = ImageRec {
        id,
        path: rel,
        config_len: bytes.len() as u64,
        digest_ok,
        created: cfg.created,
        author: cfg.author,
        architecture: cfg.architecture,
        os: cfg.os,
        variant: cfg.variant,
        comment: cfg.comment,
        docker_version: cfg.docker_version,
        config: cfg.config,
        container: cfg.container,
        container_config: cfg.container_config,
        os_version: cfg.os_version,
        history_raw: cfg.history.filter(|_| keep_history).map(RawValue::to_owned),
        chain: ChainId::chain_in(&diff_ids, pool),
        diff_ids,
    };
    (Some(rec), problems)
}
