//! `buildkit/metadata_v2.db`: BuildKit's cache records, as `docker system df` counts them.
//! Read from the file's bytes (never opened for writing, no lock taken).
//!
//! Each record is a bucket under `_main`, named by its id, holding `cache.*` and
//! `snapshot.*` keys whose values are JSON `{"value": …}`. An immutable record that was
//! committed from a mutable one names it in `cache.equalMutable`; BuildKit lists the pair
//! once (the mutable record, with the committed size), so such records are not counted.

use super::bbolt::Db;
use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use serde::Serialize;
use std::collections::HashMap;
use std::io;

const PATH: &str = "buildkit/metadata_v2.db";
/// BuildKit's databases stay small; a larger file is not read.
const LIMIT: u64 = 256 << 20;
/// More records than this are not read (a tampered file cannot make the list unbounded).
const MAX_RECORDS: usize = 1 << 20;

/// One build cache record, as `docker system df -v` lists it.
#[derive(Clone, Debug, Serialize)]
pub struct CacheRecord {
    pub id: String,
    pub parent: Option<String>,
    /// `cache.recordType`, or `regular` when unset (BuildKit's default).
    pub kind: String,
    pub description: String,
    /// `snapshot.size` of the record (or of the committed record equal to it).
    pub size: Option<i64>,
    /// Unix nanoseconds.
    pub created_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub usage_count: i64,
}

fn value(v: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice::<serde_json::Value>(v)
        .ok()
        .and_then(|mut j| j.get_mut("value").map(serde_json::Value::take))
}

/// The records; `None` when there is no database.
pub fn scan(root: &DataRoot) -> (Option<Vec<CacheRecord>>, Vec<Problem>) {
    let bytes = match root.read(PATH, LIMIT) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (None, Vec::new()),
        Err(e) => return (None, vec![Problem::io(PATH, &e)]),
    };
    let bad = |e: &dyn std::fmt::Display| {
        (
            None,
            vec![Problem::new(PATH, ProblemKind::Malformed, e.to_string())],
        )
    };
    let db = match Db::parse(&bytes) {
        Ok(db) => db,
        Err(e) => return bad(&e),
    };
    let main = match db.bucket(&[b"_main"]) {
        Ok(Some(m)) => m,
        Ok(None) => return (Some(Vec::new()), Vec::new()),
        Err(e) => return bad(&e),
    };
    let mut records = Vec::new();
    let mut committed_sizes: HashMap<String, i64> = HashMap::new();
    let mut problems = Vec::new();
    for (name, _) in main.buckets.iter().take(MAX_RECORDS) {
        let id = String::from_utf8_lossy(name).into_owned();
        let b = match db.bucket(&[b"_main", name]) {
            Ok(Some(b)) => b,
            Ok(None) => continue,
            Err(e) => {
                problems.push(Problem::new(
                    format!("{PATH} (record {id})"),
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
        let size = get("snapshot.size").and_then(|v| v.as_i64());
        if let Some(mutable) = get("cache.equalMutable").and_then(|v| v.as_str().map(str::to_owned))
        {
            if !mutable.is_empty() {
                if let Some(s) = size {
                    committed_sizes.insert(mutable, s);
                }
                continue;
            }
        }
        records.push(CacheRecord {
            id,
            parent: get("cache.parent")
                .and_then(|v| v.as_str().map(str::to_owned))
                .filter(|p| !p.is_empty()),
            kind: get("cache.recordType")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "regular".to_owned()),
            description: get("cache.description")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            size,
            created_at: get("cache.createdAt").and_then(|v| v.as_i64()),
            last_used_at: get("cache.lastUsedAt").and_then(|v| v.as_i64()),
            usage_count: get("cache.usageCount")
                .and_then(|v| v.as_i64())
                .unwrap_or(0),
        });
    }
    for r in &mut records {
        if r.size.is_none() {
            r.size = committed_sizes.get(&r.id).copied();
        }
    }
    (Some(records), problems)
}
