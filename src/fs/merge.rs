//! Walks and comparisons over merged views: the one place that knows how a view is
//! traversed and how two views differ. `docker diff` (a container's RW layer against
//! the view below it, used by `verify --content` and `diff CONTAINER`) and the
//! comparison of two views (`diff IMAGE1 IMAGE2`) both live here.

use super::{dir_is_opaque, join, lossy, Entry, MergedDir, Stack};
use crate::problem::Problem;
use crate::root::{DataRoot, Dir, FileKind, Meta};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

const CAPABILITY: &str = "security.capability";

/// Walk a merged view depth first, names sorted, from `start` (its path `base`).
/// `visit(path, entry, parent)` returns whether to descend into a directory. Open
/// directories are held only along the current path (depth × layers descriptors).
pub fn walk<'r>(
    stack: &Stack,
    start: MergedDir<'r>,
    base: &[u8],
    problems: &mut Vec<Problem>,
    mut visit: impl FnMut(&[u8], &Entry, &MergedDir<'r>) -> bool,
) {
    struct Frame<'r> {
        md: MergedDir<'r>,
        path: Vec<u8>,
        entries: Vec<Entry>,
        next: usize,
    }
    let entries = stack.list(&start, problems);
    let mut frames = vec![Frame {
        md: start,
        path: base.to_vec(),
        entries,
        next: 0,
    }];
    while let Some(top) = frames.last_mut() {
        let Some(e) = top.entries.get(top.next).cloned() else {
            frames.pop();
            continue;
        };
        top.next += 1;
        let path = join(&top.path, &e.name);
        let descend = visit(&path, &e, &top.md);
        if !(descend && e.is_dir() && !e.whiteout) {
            continue;
        }
        match stack.open_child(&top.md, &e) {
            Ok(md) => {
                let entries = stack.list(&md, problems);
                frames.push(Frame {
                    md,
                    path,
                    entries,
                    next: 0,
                });
            }
            Err(err) => problems.push(Problem::io(
                format!("{}/{}", layer_dir(&top.md, e.layer), lossy(&e.name)),
                &err,
            )),
        }
    }
}

/// The root-relative path of the layer dir `layer` holds open in `md`.
pub fn layer_dir(md: &MergedDir<'_>, layer: usize) -> String {
    md.layers
        .iter()
        .find(|(i, _)| *i == layer)
        .map(|(_, d)| super::dir_shown(d))
        .unwrap_or_default()
}

/// The open directory of `layer` in `md`.
pub fn dir_of<'a, 'r>(md: &'a MergedDir<'r>, layer: usize) -> Option<&'a Dir<'r>> {
    md.layers.iter().find(|(i, _)| *i == layer).map(|(_, d)| d)
}

/// `statDifferent` (moby pkg/archive/changes_unix.go): a directory's size and mtime
/// are not a measure of change.
pub fn stat_different(old: &Meta, new: &Meta) -> bool {
    let same_time = old.mtime == new.mtime
        && (old.mtime_nsec == new.mtime_nsec || old.mtime_nsec == 0 || new.mtime_nsec == 0);
    old.kind != new.kind
        || old.mode != new.mode
        || old.uid != new.uid
        || old.gid != new.gid
        || old.rdev != new.rdev
        || (old.kind != FileKind::Dir && (!same_time || old.len != new.len))
}

/// A container's changes as `docker diff` lists them: the RW dir `rw` (root-relative
/// `rw_rel`) against the view `lowers` (its init layer and image layers, top first).
/// A path of the RW dir absent from the old view is added (A); present with another
/// mode, owner, device, capability, or (not a directory) size or mtime, changed (C); a
/// name the RW dir hides is deleted (D); every directory above a change is changed.
/// Lower paths are never resolved through symlinks (the daemon's mounts would).
pub fn container_changes<'r>(
    root: &'r DataRoot,
    rw: Dir<'r>,
    rw_rel: &str,
    lowers: &Stack,
    problems: &mut Vec<Problem>,
) -> BTreeMap<Vec<u8>, &'static str> {
    struct Frame<'r> {
        rw: Dir<'r>,
        lower: Option<MergedDir<'r>>,
        path: Vec<u8>,
        /// Subdirectories still to visit: name, the old view's directory, new here.
        pending: Vec<(Vec<u8>, Option<Entry>)>,
    }
    let mut changes: BTreeMap<Vec<u8>, &'static str> = BTreeMap::new();
    let report = |problems: &mut Vec<Problem>, path: &[u8], e: &io::Error| {
        problems.push(Problem::io(format!("{rw_rel}/{}", lossy(path)), e));
    };
    // One directory of the RW layer: its entries against the old view's dir `lower`
    // (`None`: the directory is new in the container).
    let visit = |rw: &Dir<'_>,
                 lower: Option<&MergedDir<'_>>,
                 path: &[u8],
                 problems: &mut Vec<Problem>,
                 changes: &mut BTreeMap<Vec<u8>, &'static str>|
     -> Vec<(Vec<u8>, Option<Entry>)> {
        let mut sub = Vec::new();
        let entries = match rw.entries() {
            Ok(e) => e,
            Err(e) => {
                report(problems, path, &e);
                return sub;
            }
        };
        let opaque = !path.is_empty() && dir_is_opaque(rw);
        let mut names = HashSet::new();
        for e in entries {
            let name = e.name.as_bytes().to_vec();
            let p = join(path, &name);
            names.insert(name.clone());
            let f = match rw.lstat(&e.name) {
                Ok(m) => m,
                Err(err) => {
                    report(problems, &p, &err);
                    continue;
                }
            };
            let old = match lower {
                None => None,
                Some(md) => match lowers.child(md, &name) {
                    Ok(o) => o,
                    Err(err) => {
                        report(problems, &p, &err);
                        None
                    }
                },
            };
            if super::is_whiteout(&f) {
                if old.is_some() {
                    changes.insert(p, "D");
                }
                continue;
            }
            match &old {
                None => {
                    changes.insert(p.clone(), "A");
                }
                Some(o) => {
                    let caps_differ = if f.kind == FileKind::Dir && o.meta.kind == FileKind::Dir {
                        false
                    } else {
                        let new_cap = rw.get_xattr(&e.name, CAPABILITY).ok().flatten();
                        let old_cap = lower
                            .and_then(|md| dir_of(md, o.layer))
                            .and_then(|d| d.get_xattr(&e.name, CAPABILITY).ok().flatten());
                        new_cap != old_cap
                    };
                    if stat_different(&o.meta, &f) || caps_differ {
                        changes.insert(p.clone(), "C");
                    }
                }
            }
            if f.kind == FileKind::Dir {
                sub.push((name, old.filter(Entry::is_dir)));
            }
        }
        // An opaque RW dir hides every name of the old view it does not hold itself.
        if opaque {
            if let Some(md) = lower {
                for k in lowers.list(md, problems) {
                    if !names.contains(&k.name) {
                        changes.insert(join(path, &k.name), "D");
                    }
                }
            }
        }
        sub.sort_by(|a, b| b.0.cmp(&a.0));
        sub
    };
    let lower_top = lowers.open(root, problems);
    let pending = visit(&rw, Some(&lower_top), b"", problems, &mut changes);
    let mut frames = vec![Frame {
        rw,
        lower: Some(lower_top),
        path: Vec::new(),
        pending,
    }];
    while let Some(top) = frames.last_mut() {
        let Some((name, old)) = top.pending.pop() else {
            frames.pop();
            continue;
        };
        let path = join(&top.path, &name);
        let child = match top.rw.sub(OsStr::from_bytes(&name)) {
            Ok(d) => d,
            Err(e) => {
                report(problems, &path, &e);
                continue;
            }
        };
        let lower = match (&top.lower, &old) {
            (Some(md), Some(o)) => match lowers.open_child(md, o) {
                Ok(m) => Some(m),
                Err(e) => {
                    report(problems, &path, &e);
                    None
                }
            },
            _ => None,
        };
        let pending = visit(&child, lower.as_ref(), &path, problems, &mut changes);
        frames.push(Frame {
            rw: child,
            lower,
            path,
            pending,
        });
    }
    // Every directory above a change is changed (Docker adds it even when it is not).
    // In sorted order a path's ancestors come before it, so the walk up stops at the
    // first one already listed or added: each ancestor is met once, however deep.
    let mut above: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
    for p in changes.keys() {
        let mut p: &[u8] = p;
        while let Some(i) = p.iter().rposition(|&b| b == b'/') {
            p = &p[..i];
            if changes.contains_key(p) || !above.insert(p) {
                break;
            }
        }
    }
    let above: Vec<Vec<u8>> = above.into_iter().map(<[u8]>::to_vec).collect();
    for p in above {
        changes.insert(p, "C");
    }
    changes
}

/// One difference between two views.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ViewChange {
    /// `A` (only in the second view), `C` (in both, different), `D` (only in the first).
    pub kind: &'static str,
    /// Absolute in the view.
    pub path: String,
    /// `file`, `dir`, `symlink`, … in the second view (the first for `D`).
    #[serde(rename = "type")]
    pub file_type: &'static str,
    /// Bytes in the first view (`null` for `A`).
    pub size_before: Option<u64>,
    /// Bytes in the second view (`null` for `D`).
    pub size_after: Option<u64>,
}

/// `file`, `dir`, `symlink`, `char`, `block`, `fifo`, `socket`, `unknown`.
pub fn type_name(k: FileKind) -> &'static str {
    match k {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
        FileKind::CharDevice => "char",
        FileKind::BlockDevice => "block",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
        FileKind::Unknown => "unknown",
    }
}

fn link_of(md: &MergedDir<'_>, e: &Entry) -> Option<Vec<u8>> {
    if e.meta.kind != FileKind::Symlink {
        return None;
    }
    dir_of(md, e.layer)
        .and_then(|d| d.read_link(OsStr::from_bytes(&e.name)).ok())
        .map(|p| p.as_os_str().as_bytes().to_vec())
}

/// Two views compared path by path: added, changed (`statDifferent`, or another symlink
/// target), removed; what an added or removed directory holds is listed too.
#[allow(clippy::many_single_char_names)]
pub fn compare<'r>(
    a: (&Stack, MergedDir<'r>),
    b: (&Stack, MergedDir<'r>),
    problems: &mut Vec<Problem>,
) -> Vec<ViewChange> {
    struct Frame<'r> {
        a: Option<MergedDir<'r>>,
        b: Option<MergedDir<'r>>,
        path: Vec<u8>,
        pending: Vec<(Vec<u8>, Option<Entry>, Option<Entry>)>,
    }
    let (sa, sb) = (a.0, b.0);
    let mut out = Vec::new();
    let size = |e: &Entry| (e.meta.kind != FileKind::Dir).then_some(e.meta.len);
    let visit = |ma: Option<&MergedDir<'_>>,
                 mb: Option<&MergedDir<'_>>,
                 path: &[u8],
                 problems: &mut Vec<Problem>,
                 out: &mut Vec<ViewChange>| {
        let la = ma.map(|m| sa.list(m, problems)).unwrap_or_default();
        let lb = mb.map(|m| sb.list(m, problems)).unwrap_or_default();
        let mut sub = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < la.len() || j < lb.len() {
            let ord = match (la.get(i), lb.get(j)) {
                (Some(x), Some(y)) => x.name.cmp(&y.name),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            let (x, y) = match ord {
                std::cmp::Ordering::Less => {
                    i += 1;
                    (Some(la[i - 1].clone()), None)
                }
                std::cmp::Ordering::Greater => {
                    j += 1;
                    (None, Some(lb[j - 1].clone()))
                }
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                    (Some(la[i - 1].clone()), Some(lb[j - 1].clone()))
                }
            };
            let name = x
                .as_ref()
                .or(y.as_ref())
                .map(|e| e.name.clone())
                .unwrap_or_default();
            let p = join(path, &name);
            match (&x, &y) {
                (Some(x), None) => out.push(ViewChange {
                    kind: "D",
                    path: super::shown(&p),
                    file_type: type_name(x.meta.kind),
                    size_before: size(x),
                    size_after: None,
                }),
                (None, Some(y)) => out.push(ViewChange {
                    kind: "A",
                    path: super::shown(&p),
                    file_type: type_name(y.meta.kind),
                    size_before: None,
                    size_after: size(y),
                }),
                (Some(x), Some(y)) => {
                    let links_differ = x.meta.kind == FileKind::Symlink
                        && y.meta.kind == FileKind::Symlink
                        && ma.and_then(|m| link_of(m, x)) != mb.and_then(|m| link_of(m, y));
                    if stat_different(&x.meta, &y.meta) || links_differ {
                        out.push(ViewChange {
                            kind: "C",
                            path: super::shown(&p),
                            file_type: type_name(y.meta.kind),
                            size_before: size(x),
                            size_after: size(y),
                        });
                    }
                }
                (None, None) => {}
            }
            let x = x.filter(Entry::is_dir);
            let y = y.filter(Entry::is_dir);
            if x.is_some() || y.is_some() {
                sub.push((name, x, y));
            }
        }
        sub.reverse();
        sub
    };
    let (ta, tb) = (a.1, b.1);
    let pending = visit(Some(&ta), Some(&tb), b"", problems, &mut out);
    let mut frames = vec![Frame {
        a: Some(ta),
        b: Some(tb),
        path: Vec::new(),
        pending,
    }];
    while let Some(top) = frames.last_mut() {
        let Some((name, x, y)) = top.pending.pop() else {
            frames.pop();
            continue;
        };
        let path = join(&top.path, &name);
        let open = |s: &Stack,
                    md: &Option<MergedDir<'r>>,
                    e: &Option<Entry>,
                    problems: &mut Vec<Problem>| {
            match (md, e) {
                (Some(md), Some(e)) => match s.open_child(md, e) {
                    Ok(m) => Some(m),
                    Err(err) => {
                        problems.push(Problem::io(
                            format!("{}/{}", layer_dir(md, e.layer), lossy(&e.name)),
                            &err,
                        ));
                        None
                    }
                },
                _ => None,
            }
        };
        let ca = open(sa, &top.a, &x, problems);
        let cb = open(sb, &top.b, &y, problems);
        let pending = visit(ca.as_ref(), cb.as_ref(), &path, problems, &mut out);
        frames.push(Frame {
            a: ca,
            b: cb,
            path,
            pending,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Each directory of a view with its entries (sorted), depth first, a directory before
/// its subdirectories: the order `ls -R` prints them in. Open directories are held
/// only along the current path.
pub fn walk_dirs(
    stack: &Stack,
    start: MergedDir<'_>,
    base: &[u8],
    problems: &mut Vec<Problem>,
    mut on_dir: impl FnMut(&[u8], &[Entry]) -> io::Result<()>,
) -> io::Result<()> {
    struct Frame<'r> {
        md: MergedDir<'r>,
        path: Vec<u8>,
        entries: Vec<Entry>,
        next: usize,
    }
    let entries = stack.list(&start, problems);
    on_dir(base, &entries)?;
    let mut frames = vec![Frame {
        md: start,
        path: base.to_vec(),
        entries,
        next: 0,
    }];
    while let Some(top) = frames.last_mut() {
        let Some(k) = top.entries[top.next..]
            .iter()
            .position(|e| e.is_dir() && !e.whiteout)
            .map(|k| k + top.next)
        else {
            frames.pop();
            continue;
        };
        top.next = k + 1;
        let e = &top.entries[k];
        let path = join(&top.path, &e.name);
        match stack.open_child(&top.md, e) {
            Ok(md) => {
                let entries = stack.list(&md, problems);
                on_dir(&path, &entries)?;
                frames.push(Frame {
                    md,
                    path,
                    entries,
                    next: 0,
                });
            }
            Err(err) => problems.push(Problem::io(
                format!("{}/{}", layer_dir(&top.md, e.layer), lossy(&e.name)),
                &err,
            )),
        }
    }
    Ok(())
}
