//! `volumes/`: local-driver volume directories (`<name>/_data`, `<name>/opts.json`) and
//! the volume service's `metadata.db` (bbolt, bucket `volumes`: name -> JSON
//! `{"Name","Driver","Labels","Options"}`).

use super::bbolt;
use super::{open_optional, sorted_names, JSON_LIMIT};
use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io;

/// Where the volume service keeps driver, labels and options.
pub const METADATA_DB: &str = "volumes/metadata.db";

#[derive(Clone, Debug)]
pub struct VolumeRec {
    pub name: String,
    pub path: String,
    pub has_data: bool,
    pub has_opts: bool,
    /// What `metadata.db` says of it, when it has an entry there.
    pub meta: Option<VolumeMeta>,
}

/// One value of the `volumes` bucket of `metadata.db`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct VolumeMeta {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(
        rename = "Labels",
        deserialize_with = "super::containers::null_default"
    )]
    pub labels: BTreeMap<String, String>,
    #[serde(
        rename = "Options",
        deserialize_with = "super::containers::null_default"
    )]
    pub options: BTreeMap<String, String>,
}

pub fn scan(root: &DataRoot) -> (Vec<VolumeRec>, Vec<Problem>) {
    let mut problems = Vec::new();
    let dir = match open_optional(root, "volumes") {
        Ok(Some(d)) => d,
        Ok(None) => return (Vec::new(), problems),
        Err(p) => {
            problems.push(p);
            return (Vec::new(), problems);
        }
    };
    let mut meta = read_metadata(root, &mut problems);
    let mut out = Vec::new();
    for name in sorted_names(&dir, &mut problems) {
        // A directory counts as a volume if it holds `_data` or `opts.json`.
        let sub = match dir.sub(OsStr::new(&name)) {
            Ok(sub) => sub,
            // metadata.db, backingFsBlockDev: not directories
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => continue,
            // anything else (EMFILE, EACCES, EIO) is a volume that could not be read
            Err(e) => {
                problems.push(Problem::io(dir.rel_of(OsStr::new(&name)), &e));
                continue;
            }
        };
        let has_data = sub.lstat(OsStr::new("_data")).is_ok();
        let has_opts = sub.lstat(OsStr::new("opts.json")).is_ok();
        if has_data || has_opts {
            out.push(VolumeRec {
                path: dir.rel_of(OsStr::new(&name)),
                meta: meta.remove(&name),
                name,
                has_data,
                has_opts,
            });
        }
    }
    // Entries with no directory: other drivers keep their data elsewhere; a local one
    // whose directory is gone is a broken reference (the daemon would not list it).
    for (name, m) in meta {
        if m.driver == "local" || m.driver.is_empty() {
            problems.push(Problem::new(
                METADATA_DB,
                ProblemKind::BrokenReference,
                format!("local volume {name:?} has no directory volumes/{name}"),
            ));
            continue;
        }
        out.push(VolumeRec {
            path: format!("volumes/{name}"),
            name,
            has_data: false,
            has_opts: false,
            meta: Some(m),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, problems)
}

/// The `volumes` bucket, by name. Absent file or bucket: empty (Docker creates both on
/// first start).
fn read_metadata(root: &DataRoot, problems: &mut Vec<Problem>) -> BTreeMap<String, VolumeMeta> {
    let mut out = BTreeMap::new();
    let bytes = match root.read(METADATA_DB, JSON_LIMIT) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return out,
        Err(e) => {
            problems.push(Problem::io(METADATA_DB, &e));
            return out;
        }
    };
    let bucket = match bbolt::Db::parse(&bytes).and_then(|db| db.bucket(&[b"volumes"])) {
        Ok(Some(b)) => b,
        Ok(None) => return out,
        Err(e) => {
            problems.push(Problem::new(
                METADATA_DB,
                ProblemKind::Malformed,
                e.to_string(),
            ));
            return out;
        }
    };
    for pair in bucket.pairs {
        let Ok(name) = String::from_utf8(pair.key) else {
            problems.push(Problem::new(
                METADATA_DB,
                ProblemKind::Malformed,
                "a volume name is not UTF-8",
            ));
            continue;
        };
        match serde_json::from_slice::<VolumeMeta>(&pair.value) {
            Ok(m) => {
                if m.name != name {
                    problems.push(Problem::new(
                        METADATA_DB,
                        ProblemKind::Mismatch,
                        format!("entry {name:?} names volume {:?}", m.name),
                    ));
                }
                out.insert(name, m);
            }
            Err(e) => problems.push(Problem::new(
                METADATA_DB,
                ProblemKind::Malformed,
                format!("entry {name:?} is not the JSON Docker writes: {e}"),
            )),
        }
    }
    out
}
