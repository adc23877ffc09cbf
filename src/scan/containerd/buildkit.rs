//! BuildKit's cache records in the containerd store
//! (`buildkit/containerd-overlayfs/metadata_v2.db`): what `docker system df` lists as
//! build cache in this mode. Each record is a bucket of `_main` whose keys hold
//! `{"value": …}` JSON; a committed record that mirrors a mutable one
//! (`cache.equalMutable` set) is that record, not another.

use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use crate::scan::bbolt::Db;
use serde::Serialize;
use std::io;

pub const PATH: &str = "buildkit/containerd-overlayfs/metadata_v2.db";
const LIMIT: u64 = 256 << 20;

/// One build-cache record as the daemon lists it.
#[derive(Clone, Debug, Serialize)]
pub struct BuildRecord {
    pub id: String,
    /// `regular`, `source.local`, …
    pub kind: String,
    /// The size BuildKit cached (`snapshot.size`), when it did.
    pub cached_size: Option<i64>,
    /// Its snapshot key in the namespace.
    pub snapshot: Option<String>,
    /// Its compressed blob's size (`cache.blobsize`), when it has one.
    pub blob_size: Option<i64>,
    /// It has a blob: its layer is shared with images (the daemon's `Shared`).
    pub shared: bool,
    pub description: Option<String>,
    /// Unix nanoseconds.
    pub created_ns: Option<i64>,
    pub last_used_ns: Option<i64>,
}

fn value(v: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(v)
        .ok()?
        .get("value")
        .cloned()
}

/// The records, or `None` when the database is absent.
pub fn scan(root: &DataRoot) -> (Option<Vec<BuildRecord>>, Vec<Problem>) {
    let bytes = match root.read(PATH, LIMIT) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (None, Vec::new()),
        Err(e) => return (None, vec![Problem::io(PATH, &e)]),
    };
    let bad = |e: String| (None, vec![Problem::new(PATH, ProblemKind::Malformed, e)]);
    let db = match Db::parse(&bytes) {
        Ok(d) => d,
        Err(e) => return bad(e.to_string()),
    };
    let main = match db.bucket(&[b"_main"]) {
        Ok(Some(m)) => m,
        Ok(None) => return (Some(Vec::new()), Vec::new()),
        Err(e) => return bad(e.to_string()),
    };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (id, raw) in &main.buckets {
        let id = String::from_utf8_lossy(id).into_owned();
        let b = match db.open_bucket(raw) {
            Ok(b) => b,
            Err(e) => {
                problems.push(Problem::new(
                    format!("{PATH}#_main/{id}"),
                    ProblemKind::Malformed,
                    e.to_string(),
                ));
                continue;
            }
        };
        let get = |k: &str| {
            b.pairs
                .iter()
                .find(|p| p.key == k.as_bytes())
                .and_then(|p| value(&p.value))
        };
        let equal_mutable = get("cache.equalMutable")
            .and_then(|v| v.as_str().map(str::to_owned))
            .filter(|s| !s.is_empty());
        if equal_mutable.is_some() {
            continue; // the committed twin of a mutable record: listed once, as that
        }
        let blob = get("cache.blob").and_then(|v| v.as_str().map(str::to_owned));
        out.push(BuildRecord {
            kind: get("cache.recordType")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "regular".to_owned()),
            cached_size: get("snapshot.size")
                .and_then(|v| v.as_i64())
                .filter(|s| *s >= 0),
            snapshot: get("cache.snapshot").and_then(|v| v.as_str().map(str::to_owned)),
            blob_size: get("cache.blobsize").and_then(|v| v.as_i64()),
            shared: blob.is_some_and(|b| !b.is_empty()),
            description: get("cache.description").and_then(|v| v.as_str().map(str::to_owned)),
            created_ns: get("cache.createdAt").and_then(|v| v.as_i64()),
            last_used_ns: get("cache.lastUsedAt").and_then(|v| v.as_i64()),
            id,
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    (Some(out), problems)
}
