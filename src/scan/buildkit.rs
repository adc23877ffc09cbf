//! `buildkit/snapshots.db`: the names of BuildKit's snapshots, so that its overlay2 dirs
//! are known as build cache. Read from the file's bytes (never opened for writing, no
//! lock taken), as a live daemon may hold the database.

use super::bbolt::Db;
use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use std::collections::HashSet;
use std::io;

const PATH: &str = "buildkit/snapshots.db";
/// BuildKit's databases stay small; a larger file is not read.
const LIMIT: u64 = 256 << 20;

/// The snapshot keys (top-level bucket names); `None` when there is no database.
pub fn scan(root: &DataRoot) -> (Option<HashSet<String>>, Vec<Problem>) {
    let bytes = match root.read(PATH, LIMIT) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return (None, Vec::new()),
        Err(e) => return (None, vec![Problem::io(PATH, &e)]),
    };
    let names = Db::parse(&bytes).and_then(|db| db.root());
    match names {
        Ok(top) => (
            Some(
                top.buckets
                    .iter()
                    .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                    .collect(),
            ),
            Vec::new(),
        ),
        Err(e) => (
            None,
            vec![Problem::new(PATH, ProblemKind::Malformed, e.to_string())],
        ),
    }
}
