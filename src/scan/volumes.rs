//! `volumes/`: local-driver volume directories (`<name>/_data`, `<name>/opts.json`).

use super::{open_optional, sorted_names};
use crate::problem::Problem;
use crate::root::DataRoot;
use std::ffi::OsStr;

#[derive(Clone, Debug)]
pub struct VolumeRec {
    pub name: String,
    pub path: String,
    pub has_data: bool,
    pub has_opts: bool,
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
    let mut out = Vec::new();
    for name in sorted_names(&dir, &mut problems) {
        // A directory counts as a volume if it holds `_data` or `opts.json`.
        let Ok(sub) = dir.sub(OsStr::new(&name)) else {
            continue; // metadata.db, backingFsBlockDev
        };
        let has_data = sub.lstat(OsStr::new("_data")).is_ok();
        let has_opts = sub.lstat(OsStr::new("opts.json")).is_ok();
        if has_data || has_opts {
            out.push(VolumeRec {
                path: dir.rel_of(OsStr::new(&name)),
                name,
                has_data,
                has_opts,
            });
        }
    }
    (out, problems)
}
