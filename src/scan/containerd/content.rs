//! Indexes and manifests of the content store: the documents that tie an image record to
//! its platform manifests, configs and layer blobs.

use super::{shown, Store, CONTENT};
use crate::problem::{Problem, ProblemKind};
use crate::scan::JSON_LIMIT;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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

/// An index (or Docker manifest list), or an image manifest.
#[derive(Clone, Debug)]
pub enum Doc {
    Index { manifests: Vec<Desc> },
    Manifest { config: Desc, layers: Vec<Desc> },
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
            layers: raw.layers.unwrap_or_default(),
        });
    }
    Err(format!(
        "neither an index nor a manifest (mediaType {:?})",
        raw.media_type.unwrap_or_default()
    ))
}

/// Read every index and manifest reachable from the namespace's image records (each
/// once; nested indexes followed a bounded depth). Absent blobs are not problems here
/// (a platform not pulled); the model says what is missing where it matters.
pub fn read_docs(
    root: &crate::root::DataRoot,
    store: &Store,
    problems: &mut Vec<Problem>,
) -> HashMap<String, Doc> {
    let mut out: HashMap<String, Doc> = HashMap::new();
    let mut queue: Vec<(String, usize)> = store
        .meta
        .images
        .iter()
        .filter(|i| i.namespace == store.namespace)
        .map(|i| (i.target.digest.clone(), 0))
        .collect();
    while let Some((digest, depth)) = queue.pop() {
        if out.contains_key(&digest) || depth > 4 {
            continue;
        }
        let Some(rel) = blob_rel(&digest) else {
            continue;
        };
        if !store.blob_files.contains_key(&digest) {
            continue;
        }
        let bytes = match root.read(&rel, JSON_LIMIT) {
            Ok(b) => b,
            Err(e) => {
                problems.push(Problem::io(shown(&rel), &e));
                continue;
            }
        };
        match parse(&bytes) {
            Ok(doc) => {
                if let Doc::Index { manifests } = &doc {
                    for m in manifests {
                        queue.push((m.digest.clone(), depth + 1));
                    }
                }
                out.insert(digest, doc);
            }
            Err(e) => problems.push(Problem::new(shown(&rel), ProblemKind::Malformed, e)),
        }
    }
    out
}
