//! Container RW layers against their image: `docker diff`, offline.
//!
//! A container's RW dir (`overlay2/<mount-id>/diff`) has no record to verify against:
//! what it holds is the container's own changes, listed here as drift. The daemon that
//! made the sample roots (20.10, native overlay diff) answered `docker diff` through the
//! naive differ (`archive.ChangesDirs` over two mounts: the container's view and its
//! init layer's view), and `fs::merge::container_changes` reproduces that answer without
//! mounting, from the views `fs` merges as overlayfs does. This module finds the dirs.

use crate::fs::merge::container_changes;
pub use crate::fs::merge::{Changes, Kind};
use crate::fs::{LayerInfo, Stack};
use crate::model::ids::{ContainerId, ImageId};
use crate::model::Model;
use crate::problem::{Problem, ProblemKind};
use crate::root::DataRoot;
use serde::Serialize;
use std::collections::HashMap;

/// One container's changes.
#[derive(Serialize, Clone, Debug)]
pub struct Drift {
    pub container: ContainerId,
    pub name: String,
    pub image: Option<ImageId>,
    /// The RW dir, relative to the root.
    pub path: String,
    /// Sorted by path (a directory before what it holds); in JSON a list of
    /// `{"kind": "A" | "C" | "D", "path": "/etc/motd"}` (the path absolute in the
    /// container).
    pub changes: Changes,
}

/// The changes in one container's RW dir; `None` when it has no RW dir.
pub fn container(
    root: &DataRoot,
    model: &Model,
    links: &HashMap<&str, usize>,
    c: usize,
) -> (Option<Drift>, Vec<Problem>) {
    let mut problems = Vec::new();
    let (Some(rw), _) = model.container_dirs(c) else {
        return (None, problems);
    };
    let rec = &model.containers[c].rec;
    let dir = &model.dirs[rw];
    let rw_diff = format!("{}/diff", dir.path);
    let mut lowers = Stack::default();
    for name in dir.lower() {
        let target = links
            .get(name)
            .and_then(|&i| model.links[i].dir_id.as_deref())
            .and_then(|id| model.dir_index(id));
        match target {
            Some(d) => lowers.layers.push(LayerInfo {
                role: "layer",
                dir: format!("{}/diff", model.dirs[d].path),
                cache_id: Some(model.dirs[d].id.clone()),
                ..LayerInfo::default()
            }),
            None => problems.push(Problem::new(
                format!("{}/lower", dir.path),
                ProblemKind::BrokenReference,
                format!("l/{name} names no layer dir; the changes are listed without it"),
            )),
        }
    }
    let rw_dir = match root.dir(&rw_diff) {
        Ok(d) => d,
        Err(e) => {
            problems.push(Problem::io(rw_diff, &e));
            return (None, problems);
        }
    };
    let changes = container_changes(root, rw_dir, &rw_diff, &lowers, &mut problems);
    (
        Some(Drift {
            container: rec.id.clone(),
            name: rec.name.trim_start_matches('/').to_owned(),
            image: rec.image.clone(),
            path: rw_diff,
            changes,
        }),
        problems,
    )
}
