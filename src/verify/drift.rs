//! Container RW layers against their image: `docker diff`, offline.
//!
//! A container's RW dir (`overlay2/<mount-id>/diff`) has no record to verify against:
//! what it holds is the container's own changes, listed here as drift. The daemon that
//! made the sample roots (20.10, native overlay diff) answered `docker diff` through the
//! naive differ (`archive.ChangesDirs` over two mounts: the container's view and its
//! init layer's view), and this module reproduces that answer without mounting:
//! the two views are merged from the layer dirs as overlayfs merges them (a character
//! device 0/0 hides a name, `trusted.overlay.opaque=y` hides the lower dirs' entries).
//! A path of the RW dir absent from the old view is added (A); present with another
//! mode, owner, device, capability, or (not a directory) size or mtime, changed (C); a
//! name the RW dir hides is deleted (D); and every directory above a change is changed.
//! Lower paths are never resolved through symlinks (the daemon's mounts would).

use super::content::{split, Tree};
use crate::model::ids::{ContainerId, ImageId};
use crate::model::Model;
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir, FileKind, Meta};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

const OPAQUE: &str = "trusted.overlay.opaque";
const CAPABILITY: &str = "security.capability";

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

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn is_whiteout(m: &Meta) -> bool {
    m.kind == FileKind::CharDevice && m.rdev == 0
}

fn xattr(tree: &mut Tree<'_>, path: &[u8], key: &str) -> io::Result<Option<Vec<u8>>> {
    let (parent, name) = split(path);
    if name.is_empty() {
        return tree.dir(b"")?.xattr(key);
    }
    tree.dir(parent)?.get_xattr(OsStr::from_bytes(name), key)
}

/// `statDifferent` (pkg/archive/changes_unix.go): a directory's size and mtime are
/// not a measure of change.
fn stat_different(old: &Meta, new: &Meta) -> bool {
    let same_time = old.mtime == new.mtime
        && (old.mtime_nsec == new.mtime_nsec || old.mtime_nsec == 0 || new.mtime_nsec == 0);
    old.kind != new.kind
        || old.mode != new.mode
        || old.uid != new.uid
        || old.gid != new.gid
        || old.rdev != new.rdev
        || (old.kind != FileKind::Dir && (!same_time || old.len != new.len))
}

/// The image's view: the lower dirs merged as overlayfs merges them.
struct Lowers<'r> {
    trees: Vec<Tree<'r>>,
}

/// A path of the merged view: its stat, the layer showing it, and (for a directory)
/// the layers whose entries it merges, top first.
struct Found {
    meta: Meta,
    layer: usize,
    dir_layers: Vec<usize>,
}

fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
    )
}

impl Lowers<'_> {
    fn opaque(&mut self, layer: usize, path: &[u8]) -> io::Result<bool> {
        Ok(xattr(&mut self.trees[layer], path, OPAQUE)?.as_deref() == Some(b"y"))
    }

    fn lookup(&mut self, path: &[u8]) -> io::Result<Option<Found>> {
        let mut layers: Vec<usize> = (0..self.trees.len()).collect();
        let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        let mut cur = Vec::new();
        for (k, c) in comps.iter().enumerate() {
            cur = join(&cur, c);
            let mut found: Option<(Meta, usize)> = None;
            let mut next = Vec::new();
            for &i in &layers {
                let m = match self.trees[i].lstat(&cur) {
                    Ok(m) => m,
                    Err(e) if absent(&e) => continue,
                    Err(e) => return Err(e),
                };
                if found.is_none() {
                    if is_whiteout(&m) {
                        return Ok(None);
                    }
                    found = Some((m, i));
                    if m.kind != FileKind::Dir {
                        break;
                    }
                } else if m.kind != FileKind::Dir {
                    break; // a file or whiteout below a merged dir ends the merge
                }
                next.push(i);
                if self.opaque(i, &cur)? {
                    break;
                }
            }
            let Some((meta, layer)) = found else {
                return Ok(None);
            };
            if k + 1 == comps.len() {
                return Ok(Some(Found {
                    meta,
                    layer,
                    dir_layers: next,
                }));
            }
            if meta.kind != FileKind::Dir {
                return Ok(None);
            }
            layers = next;
        }
        Ok(None)
    }

    /// The names of a merged directory.
    fn children(&mut self, path: &[u8], layers: &[usize]) -> io::Result<Vec<Vec<u8>>> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for &i in layers {
            let entries = match self.trees[i].dir(path).and_then(Dir::entries) {
                Ok(e) => e,
                Err(e) if absent(&e) => continue,
                Err(e) => return Err(e),
            };
            for e in entries {
                let name = e.name.as_bytes().to_vec();
                if !seen.insert(name.clone()) {
                    continue;
                }
                let m = self.trees[i].lstat(&join(path, &name))?;
                if !is_whiteout(&m) {
                    out.push(name);
                }
            }
        }
        Ok(out)
    }
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
    let mut lowers = Lowers { trees: Vec::new() };
    for name in dir.lower() {
        let target = links
            .get(name)
            .and_then(|&i| model.links[i].dir_id.as_deref())
            .and_then(|id| model.dir_index(id));
        match target {
            Some(d) => match Tree::new(root, &format!("{}/diff", model.dirs[d].path)) {
                Ok(t) => lowers.trees.push(t),
                Err(e) => problems.push(Problem::io(format!("{}/diff", model.dirs[d].path), &e)),
            },
            None => problems.push(Problem::new(
                format!("{}/lower", dir.path),
                ProblemKind::BrokenReference,
                format!("l/{name} names no layer dir; the changes are listed without it"),
            )),
        }
    }
    let mut rw_tree = match Tree::new(root, &rw_diff) {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem::io(rw_diff, &e));
            return (None, problems);
        }
    };
    // (path, kind) in the order met; sorted (the last one for a path wins) at the end.
    let mut changes: Vec<(Vec<u8>, &'static str)> = Vec::new();
    let report = |problems: &mut Vec<Problem>, path: &[u8], e: &io::Error| {
        problems.push(Problem::io(format!("{rw_diff}/{}", lossy(path)), e));
    };
    // (path in the RW dir, its parent is new in the container)
    let mut stack: Vec<(Vec<u8>, bool)> = vec![(Vec::new(), false)];
    while let Some((d, new_dir)) = stack.pop() {
        let entries = match rw_tree.dir(&d).and_then(Dir::entries) {
            Ok(e) => e,
            Err(e) => {
                report(&mut problems, &d, &e);
                continue;
            }
        };
        let opaque = !d.is_empty()
            && xattr(&mut rw_tree, &d, OPAQUE).ok().flatten().as_deref() == Some(b"y");
        let mut names = HashSet::new();
        for e in entries {
            let path = join(&d, e.name.as_bytes());
            names.insert(e.name.as_bytes().to_vec());
            let f = match rw_tree.lstat(&path) {
                Ok(m) => m,
                Err(err) => {
                    report(&mut problems, &path, &err);
                    continue;
                }
            };
            let old = if new_dir {
                None
            } else {
                match lowers.lookup(&path) {
                    Ok(o) => o,
                    Err(err) => {
                        report(&mut problems, &path, &err);
                        None
                    }
                }
            };
            if is_whiteout(&f) {
                if old.is_some() {
                    changes.push((path, "D"));
                }
                continue;
            }
            match &old {
                None => {
                    changes.push((path.clone(), "A"));
                }
                Some(o) => {
                    let caps_differ = if f.kind == FileKind::Dir && o.meta.kind == FileKind::Dir {
                        false
                    } else {
                        let new_cap = xattr(&mut rw_tree, &path, CAPABILITY).ok().flatten();
                        let old_cap = xattr(&mut lowers.trees[o.layer], &path, CAPABILITY)
                            .ok()
                            .flatten();
                        new_cap != old_cap
                    };
                    if stat_different(&o.meta, &f) || caps_differ {
                        changes.push((path.clone(), "C"));
                    }
                }
            }
            if f.kind == FileKind::Dir {
                let old_is_dir = old.as_ref().is_some_and(|o| o.meta.kind == FileKind::Dir);
                stack.push((path, !old_is_dir));
            }
        }
        // An opaque RW dir hides every name of the old view it does not hold itself.
        if opaque && !new_dir {
            match lowers.lookup(&d) {
                Ok(Some(o)) if o.meta.kind == FileKind::Dir => {
                    match lowers.children(&d, &o.dir_layers) {
                        Ok(kids) => {
                            for k in kids.into_iter().filter(|k| !names.contains(k)) {
                                changes.push((join(&d, &k), "D"));
                            }
                        }
                        Err(e) => report(&mut problems, &d, &e),
                    }
                }
                Ok(_) => {}
                Err(e) => report(&mut problems, &d, &e),
            }
        }
    }
    let mut changes = sorted_last_wins(changes);
    // Every directory above a change is changed (Docker adds it even when it is not).
    let above = unlisted_parents(&changes);
    if !above.is_empty() {
        changes.extend(above.into_iter().map(|p| (p, "C")));
        changes = sorted_last_wins(changes);
    }
    let changes = changes
        .into_iter()
        .map(|(p, kind)| {
            let mut path = String::with_capacity(p.len() + 1);
            path.push('/');
            match std::str::from_utf8(&p) {
                Ok(t) => path.push_str(t),
                Err(_) => path.push_str(&String::from_utf8_lossy(&p)),
            }
            Change { kind, path }
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
