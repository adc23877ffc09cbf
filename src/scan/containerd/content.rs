//! Indexes and manifests of the content store: the documents that tie an image record to
//! its platform manifests, configs and layer blobs.

use super::{shown, Store, CONTENT};
use crate::model::ids::FastMap;
use crate::problem::{Problem, ProblemKind};
use crate::scan::JSON_LIMIT;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Desc {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Desc>>,
    #[serde(default)]
    config: Option<Desc>,
    #[serde(default)]
    layers: Option<Vec<Desc>>,
}

/// A manifest's layer list: shared by the document and every image that names it (at
/// 10,000 images, a copy per holder is tens of MB).
pub type Layers = std::sync::Arc<[Desc]>;

/// Serialize shared layers as the list they are.
pub fn ser_layers<S: serde::Serializer>(l: &Layers, s: S) -> Result<S::Ok, S::Error> {
    serde::Serialize::serialize(&**l, s)
}

/// An index (or Docker manifest list), or an image manifest.
#[derive(Clone, Debug)]
pub enum Doc {
    Index { manifests: Vec<Desc> },
    Manifest { config: Desc, layers: Layers },
}

pub fn is_index_type(mt: &str) -> bool {
    mt == "application/vnd.oci.image.index.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.list.v2+json"
}

pub fn is_manifest_type(mt: &str) -> bool {
    mt == "application/vnd.oci.image.manifest.v1+json"
        || mt == "application/vnd.docker.distribution.manifest.v2+json"
}

/// The path of a blob in the content store, relative to containerd's root.
pub fn blob_rel(digest: &str) -> Option<String> {
    let (alg, hex) = digest.split_once(':')?;
    if alg != "sha256" || !crate::model::ids::is_hex64(hex) {
        return None;
    }
    Some(format!("{CONTENT}/blobs/{alg}/{hex}"))
}

/// Parse one document's bytes.
pub fn parse(bytes: &[u8]) -> Result<Doc, String> {
    let raw: Raw = serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    if let Some(m) = raw.manifests {
        return Ok(Doc::Index { manifests: m });
    }
    if let Some(c) = raw.config {
        return Ok(Doc::Manifest {
            config: c,
            layers: raw.layers.unwrap_or_default().into(),
        });
    }
    Err(format!(
        "neither an index nor a manifest (mediaType {:?})",
        raw.media_type.unwrap_or_default()
    ))
}

/// Read every index and manifest reachable from the namespace's image records (each
/// once; nested indexes followed a bounded depth). Absent blobs are not problems here
/// (a platform not pulled); the model says what is missing where it matters. Each
/// level of the walk (targets, then the manifests of indexes, ...) is read and parsed
/// in parallel.
pub fn read_docs(
    root: &crate::root::DataRoot,
    store: &Store,
    problems: &mut Vec<Problem>,
) -> FastMap<String, Doc> {
    use rayon::prelude::*;
    let mut out: FastMap<String, Doc> = FastMap::default();
    let dir = root.dir(&format!("{CONTENT}/blobs/sha256")).ok();
    let mut level: Vec<String> = store
        .meta
        .images
        .iter()
        .filter(|i| i.namespace == store.namespace)
        .map(|i| i.target.digest.clone())
        .collect();
    for _depth in 0..=4 {
        level.sort_unstable();
        level.dedup();
        // (a lean read lists no blob files: each document is read by name, and one
        // that is not there is skipped, as an unlisted one)
        level.retain(|d| {
            !out.contains_key(d)
                && blob_rel(d).is_some()
                && (store.lean || store.blob_files.contains_key(d))
        });
        if level.is_empty() {
            break;
        }
        let read = |digest: &String| -> Result<Option<Doc>, Problem> {
            let rel = blob_rel(digest).unwrap_or_default();
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            let bytes = match match &dir {
                Some(d) => d.read(std::ffi::OsStr::new(hex), JSON_LIMIT),
                None => root.read(&rel, JSON_LIMIT),
            } {
                Ok(b) => b,
                Err(e) if store.lean && e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(None)
                }
                Err(e) => return Err(Problem::io(shown(&rel), &e)),
            };
            parse(&bytes)
                .map(Some)
                .map_err(|e| Problem::new(shown(&rel), ProblemKind::Malformed, e))
        };
        let docs: Vec<Result<Option<Doc>, Problem>> = level.par_iter().map(read).collect();
        let mut next = Vec::new();
        for (digest, doc) in std::mem::take(&mut level).into_iter().zip(docs) {
            match doc {
                Ok(None) => {}
                Ok(Some(mut doc)) => {
                    match &mut doc {
                        Doc::Index { manifests } => {
                            next.extend(manifests.iter().map(|m| m.digest.clone()));
                            manifests.shrink_to_fit();
                        }
                        Doc::Manifest { .. } => {}
                    }
                    out.insert(digest, doc);
                }
                Err(p) => problems.push(p),
            }
        }
        level = next;
    }
    out
}
