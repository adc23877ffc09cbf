//! Container RW layers against their image: `docker diff`, offline.
//!
//! A container's RW dir (`overlay2/<mount-id>/diff`) has no record to verify against:
//! what it holds is the container's own changes, listed here as drift. The daemon that
//! made the sample roots (20.10, native overlay diff) answered `docker diff` through the
//! naive differ (`archive.ChangesDirs` over two mounts: the container's view and its
//! init layer's view), and `fs::merge::container_changes` reproduces that answer without
//! mounting, from the views `fs` merges as overlayfs does. This module finds the dirs.

use crate::fs::merge::container_changes;
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
    /// Sorted by path (a directory before what it holds).
    pub changes: Vec<Change>,
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// `A`, `C` or `D`, as `docker diff` prints them.
    pub kind: &'static str,
    /// Absolute in the container (`/etc/motd`).
    pub path: String,
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
    let changes = container_changes(root, rw_dir, &rw_diff, &lowers, &mut problems)
        .into_iter()
        .map(|(p, kind)| Change {
            kind,
            path: crate::fs::shown(&p),
        })
        .collect();
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

/// Sorted by path; of several entries for one path the last one met wins. A walk's
/// paths arrive nearly sorted, which the stable sort takes in about one pass (paths in
/// a deep tree share long prefixes: every comparison counts).
fn sorted_last_wins(mut v: Vec<(Vec<u8>, &'static str)>) -> Vec<(Vec<u8>, &'static str)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(Vec<u8>, &'static str)> = Vec::with_capacity(v.len());
    for c in v {
        match out.last_mut() {
            Some(last) if last.0 == c.0 => *last = c,
            _ => out.push(c),
        }
    }
    out
}

/// The directories above listed paths that are not listed themselves, each once. The
/// sorted list is read with a stack of the listed paths above the current one, so a
/// path's nearest listed ancestor is found without a search.
fn unlisted_parents(sorted: &[(Vec<u8>, &'static str)]) -> Vec<Vec<u8>> {
    let is_under = |p: &[u8], q: &[u8]| p.len() > q.len() && p.starts_with(q) && p[q.len()] == b'/';
    let mut above: HashSet<&[u8]> = HashSet::new();
    let mut stack: Vec<&[u8]> = Vec::new();
    for (p, _) in sorted {
        while stack.last().is_some_and(|q| !is_under(p, q)) {
            stack.pop();
        }
        let floor = stack.last().map_or(0, |q| q.len());
        let mut a: &[u8] = p;
        while let Some(k) = a.iter().rposition(|&b| b == b'/') {
            a = &a[..k];
            if a.len() <= floor {
                break;
            }
            // Not on the stack: listed out of stack order ("a", "a-b", "a/c"), or not.
            let listed = sorted
                .binary_search_by(|(x, _)| x.as_slice().cmp(a))
                .is_ok();
            if listed || !above.insert(a) {
                break;
            }
        }
        stack.push(p);
    }
    above.into_iter().map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod order_tests {
    use super::*;

    #[test]
    fn parents_are_added_once_and_order_is_bytewise() {
        let v: Vec<(Vec<u8>, &'static str)> = [
            ("a/c/d", "A"),
            ("a", "A"),
            ("a-b", "C"),
            ("x/y/z", "A"),
            ("a/c/d", "C"),
            ("x/y/w", "D"),
        ]
        .iter()
        .map(|(p, k)| (p.as_bytes().to_vec(), *k))
        .collect();
        let sorted = sorted_last_wins(v);
        let paths: Vec<&[u8]> = sorted.iter().map(|(p, _)| p.as_slice()).collect();
        assert_eq!(paths, [&b"a"[..], b"a-b", b"a/c/d", b"x/y/w", b"x/y/z"]);
        assert_eq!(sorted[2].1, "C", "the last entry for a path wins");
        let mut above = unlisted_parents(&sorted);
        above.sort();
        assert_eq!(above, [b"a/c".to_vec(), b"x".to_vec(), b"x/y".to_vec()]);
    }
}
