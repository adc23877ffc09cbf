//! Walks and comparisons over merged views: the one place that knows how a view is
//! traversed and how two views differ. `docker diff` (a container's RW layer against
//! the view below it, used by `verify --content` and `diff CONTAINER`) and the
//! comparison of two views (`diff IMAGE1 IMAGE2`) both live here.

use super::{dir_is_opaque, join, lossy, Entry, MergedDir, Stack};
use crate::problem::Problem;
use crate::root::{DataRoot, Dir, FileKind, Meta};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

const CAPABILITY: &str = "security.capability";

/// Walk a merged view depth first, names sorted, from `start` (its path `base`).
/// `visit(path, entry, parent)` returns whether to descend into a directory. Only a
/// bounded set of the directories on the current path stay open (`Budget`): one
/// closed is reopened from its nearest open ancestor when its turn comes again, so a
/// 20,000-deep chain needs a few dozen descriptors per layer, not 20,000.
pub fn walk<'r>(
    stack: &Stack,
    start: MergedDir<'r>,
    base: &[u8],
    problems: &mut Vec<Problem>,
    mut visit: impl FnMut(&[u8], &Entry, &MergedDir<'r>) -> bool,
) {
    struct Frame<'r> {
        /// `None` while closed to keep within the budget.
        md: Option<MergedDir<'r>>,
        /// The length of this directory's path in `path`.
        len: usize,
        entries: Vec<Entry>,
        /// `entries[next - 1]` is the one being walked.
        next: usize,
    }
    impl<'r> Level<'r> for Frame<'r> {
        fn open_dir(&self) -> Option<&MergedDir<'r>> {
            self.md.as_ref()
        }
        fn walking(&self) -> Option<&Entry> {
            self.next.checked_sub(1).and_then(|k| self.entries.get(k))
        }
        fn set_dir(&mut self, md: Option<MergedDir<'r>>) {
            self.md = md;
        }
    }
    // One buffer for the path: a deep chain's paths are never all held at once.
    let mut path = base.to_vec();
    let entries = stack.list(&start, problems);
    let mut frames = vec![Frame {
        md: Some(start),
        len: path.len(),
        entries,
        next: 0,
    }];
    while let Some(top) = frames.last_mut() {
        if top.next >= top.entries.len() {
            frames.pop();
            continue;
        }
        let last = frames.len() - 1;
        if frames[last].md.is_none() && !Budget::reopen(&mut frames, stack, problems) {
            // What is left of it cannot be reached again: skip it.
            frames[last].next = frames[last].entries.len();
            continue;
        }
        let Some(top) = frames.last_mut() else { break };
        let Some(md) = top.md.as_ref() else {
            continue;
        };
        let e = &top.entries[top.next];
        top.next += 1;
        path.truncate(top.len);
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&e.name);
        let descend = visit(&path, e, md);
        if !(descend && e.is_dir() && !e.whiteout) {
            continue;
        }
        match stack.open_child(md, e) {
            Ok(child) => {
                let entries = stack.list(&child, problems);
                frames.push(Frame {
                    md: Some(child),
                    len: path.len(),
                    entries,
                    next: 0,
                });
                Budget::after_push(&mut frames, |f| f.md = None);
            }
            Err(err) => problems.push(Problem::io(
                format!("{}/{}", layer_dir(md, e.layer), lossy(&e.name)),
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
///
/// Each directory is listed once, from its parent's open descriptor. Only a bounded
/// set of the directories on the current path stay open (`Budget`): a directory
/// closed to keep within it is reopened from its nearest open ancestor when a
/// subdirectory of it is still to be visited, so a 20,000-deep chain needs a few dozen
/// descriptors, not 20,000. The answer is a tree of names (`Changes`): a path is never
/// held whole, only built while it is written.
pub fn container_changes<'r>(
    root: &'r DataRoot,
    rw: Dir<'r>,
    rw_rel: &str,
    lowers: &Stack,
    problems: &mut Vec<Problem>,
) -> Changes {
    struct Frame<'r> {
        /// This directory's node in `tree`.
        node: usize,
        /// The RW directory (`None` while closed to keep within the budget).
        rw: Option<Dir<'r>>,
        /// The old view's directory (`None` while closed, or when it has none).
        lower: Option<MergedDir<'r>>,
        /// The old view's entry of this directory, to reopen `lower` from the parent's.
        old: Option<Entry>,
        /// Subdirectories still to visit (last first): node, the old view's directory.
        pending: Vec<(usize, Option<Entry>)>,
    }
    let mut tree = Changes::default();
    let report = |problems: &mut Vec<Problem>, tree: &Changes, node: usize, e: &io::Error| {
        let path = tree.path_of(node);
        problems.push(Problem::io(format!("{rw_rel}/{}", lossy(&path)), e));
    };
    // One directory of the RW layer (node `at`): its entries against the old view's
    // dir `lower` (`None`: the directory is new in the container).
    let visit = |rw: &Dir<'_>,
                 lower: Option<&MergedDir<'_>>,
                 at: usize,
                 problems: &mut Vec<Problem>,
                 tree: &mut Changes|
     -> Vec<(usize, Option<Entry>)> {
        let mut sub = Vec::new();
        let entries = match rw.entries() {
            Ok(e) => e,
            Err(e) => {
                report(problems, tree, at, &e);
                return sub;
            }
        };
        // Opaque matters only where there is an old view to hide.
        let opaque = at != 0 && lower.is_some() && dir_is_opaque(rw);
        let mut names = HashSet::new();
        for e in entries {
            let name = e.name.as_bytes();
            if opaque {
                names.insert(name.to_vec());
            }
            // In a new directory everything is added: the listing's type is enough
            // (a character device is looked at: a whiteout there hides nothing).
            let listed = match e.kind {
                Some(k) if lower.is_none() && k != FileKind::CharDevice => Some(k),
                _ => None,
            };
            if let Some(k) = listed {
                let n = tree.add(at, name, Some(Kind::Added));
                if k == FileKind::Dir {
                    sub.push((n, None));
                }
                continue;
            }
            let f = match rw.lstat(&e.name) {
                Ok(m) => m,
                Err(err) => {
                    let n = tree.add(at, name, None);
                    report(problems, tree, n, &err);
                    tree.forget(n);
                    continue;
                }
            };
            let old = match lower {
                None => None,
                Some(md) => match lowers.child(md, name) {
                    Ok(o) => o,
                    Err(err) => {
                        let n = tree.add(at, name, None);
                        report(problems, tree, n, &err);
                        tree.forget(n);
                        None
                    }
                },
            };
            if super::is_whiteout(&f) {
                if old.is_some() {
                    tree.add(at, name, Some(Kind::Deleted));
                }
                continue;
            }
            let kind = match &old {
                None => Some(Kind::Added),
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
                    (stat_different(&o.meta, &f) || caps_differ).then_some(Kind::Changed)
                }
            };
            if kind.is_some() || f.kind == FileKind::Dir {
                let n = tree.add(at, name, kind);
                if f.kind == FileKind::Dir {
                    sub.push((n, old.filter(Entry::is_dir)));
                }
            }
        }
        // An opaque RW dir hides every name of the old view it does not hold itself.
        if opaque {
            if let Some(md) = lower {
                for k in lowers.list(md, problems) {
                    if !names.contains(&k.name) {
                        tree.add(at, &k.name, Some(Kind::Deleted));
                    }
                }
            }
        }
        // Visited in name order (popped from the end).
        sub.sort_by(|a, b| tree.name(b.0).cmp(tree.name(a.0)));
        sub
    };
    let lower_top = lowers.open(root, problems);
    let pending = visit(&rw, Some(&lower_top), 0, problems, &mut tree);
    let mut frames = vec![Frame {
        node: 0,
        rw: Some(rw),
        lower: Some(lower_top),
        old: None,
        pending,
    }];
    while let Some(top) = frames.last_mut() {
        let Some((node, old)) = top.pending.pop() else {
            frames.pop();
            continue;
        };
        if top.rw.is_none() {
            // Closed to keep within the budget: reopen it (and the closed levels above
            // it) from the nearest open ancestor.
            let last = frames.len() - 1;
            let anchor = frames[..last]
                .iter()
                .rposition(|fr| fr.rw.is_some())
                .unwrap_or(0);
            let mut failed = false;
            for level in anchor + 1..=last {
                let (above, here) = frames.split_at_mut(level);
                let (parent, frame) = (&above[level - 1], &mut here[0]);
                let Some(prw) = parent.rw.as_ref() else {
                    failed = true;
                    break;
                };
                match prw.sub(OsStr::from_bytes(tree.name(frame.node))) {
                    Ok(d) => frame.rw = Some(d),
                    Err(e) => {
                        report(problems, &tree, frame.node, &e);
                        failed = true;
                        break;
                    }
                }
                frame.lower = match (&parent.lower, &frame.old) {
                    (Some(md), Some(o)) => match lowers.open_child(md, o) {
                        Ok(m) => Some(m),
                        Err(e) => {
                            report(problems, &tree, frame.node, &e);
                            None
                        }
                    },
                    _ => None,
                };
                // The level above was needed only to open this one.
                if level - 1 > anchor && !Budget::keep(level - 1, last) {
                    let done = &mut above[level - 1];
                    done.rw = None;
                    done.lower = None;
                }
            }
            if failed {
                // What is left below it cannot be reached again: skip it.
                frames[last].pending.clear();
                continue;
            }
            Budget::after_reopen(&mut frames, anchor + 1, |f| {
                f.rw = None;
                f.lower = None;
            });
        }
        let Some(top) = frames.last() else { break };
        let Some(prw) = top.rw.as_ref() else { continue };
        let child = match prw.sub(OsStr::from_bytes(tree.name(node))) {
            Ok(d) => d,
            Err(e) => {
                report(problems, &tree, node, &e);
                continue;
            }
        };
        let lower = match (&top.lower, &old) {
            (Some(md), Some(o)) => match lowers.open_child(md, o) {
                Ok(m) => Some(m),
                Err(e) => {
                    report(problems, &tree, node, &e);
                    None
                }
            },
            _ => None,
        };
        let pending = visit(&child, lower.as_ref(), node, problems, &mut tree);
        let old = if lower.is_some() { old } else { None };
        frames.push(Frame {
            node,
            rw: Some(child),
            lower,
            old,
            pending,
        });
        Budget::after_push(&mut frames, |f| {
            f.rw = None;
            f.lower = None;
        });
    }
    tree.finish();
    tree
}

/// Which directories of the current path stay open: the deepest `WINDOW`, and
/// checkpoints at every `stride`-th depth, the stride doubling as the path deepens so
/// that there are at most `CHECKPOINTS` of them. A directory closed is reopened from
/// the nearest open one above it (a checkpoint at most `stride` levels up), one level
/// at a time, each level closed again once the next is open unless the budget keeps
/// it: at most `WINDOW + CHECKPOINTS + 2` directories are open at once, however deep.
pub(super) struct Budget;

impl Budget {
    const WINDOW: usize = 8;
    const CHECKPOINTS: usize = 16;

    fn stride(depth: usize) -> usize {
        depth.div_ceil(Self::CHECKPOINTS).next_power_of_two()
    }

    pub(super) fn keep(depth: usize, top: usize) -> bool {
        depth == 0 || depth + Self::WINDOW > top || depth % Self::stride(top) == 0
    }

    /// A frame was pushed: close what falls out of the window, and the checkpoints
    /// the new stride no longer keeps.
    pub(super) fn after_push<F>(frames: &mut [F], mut close: impl FnMut(&mut F)) {
        let top = frames.len() - 1;
        if let Some(out) = top.checked_sub(Self::WINDOW) {
            if !Self::keep(out, top) {
                close(&mut frames[out]);
            }
        }
        let (old, new) = (Self::stride(top - 1), Self::stride(top));
        if top > 0 && new != old {
            let below = top.saturating_sub(Self::WINDOW) + 1;
            let mut d = old;
            while d < below {
                if !Self::keep(d, top) {
                    close(&mut frames[d]);
                }
                d += old;
            }
        }
    }

    /// Frames `from..` were reopened: close those the budget does not keep.
    pub(super) fn after_reopen<F>(frames: &mut [F], from: usize, mut close: impl FnMut(&mut F)) {
        let top = frames.len() - 1;
        for (d, f) in frames.iter_mut().enumerate().skip(from) {
            if !Self::keep(d, top) {
                close(f);
            }
        }
    }

    /// The top frame was closed to keep within the budget: reopen it, and the closed
    /// levels above it, from the nearest open ancestor. False when a level cannot be
    /// opened again (a problem names it): what is left below it cannot be reached.
    pub(super) fn reopen<'r, F: Level<'r>>(
        frames: &mut [F],
        stack: &Stack,
        problems: &mut Vec<Problem>,
    ) -> bool {
        let last = frames.len() - 1;
        let anchor = frames[..last]
            .iter()
            .rposition(|f| f.open_dir().is_some())
            .unwrap_or(0);
        for level in anchor + 1..=last {
            let (above, here) = frames.split_at_mut(level);
            let parent = &above[level - 1];
            let (Some(pmd), Some(e)) = (parent.open_dir(), parent.walking()) else {
                return false;
            };
            match stack.open_child(pmd, e) {
                Ok(md) => here[0].set_dir(Some(md)),
                Err(err) => {
                    problems.push(Problem::io(
                        format!("{}/{}", layer_dir(pmd, e.layer), lossy(&e.name)),
                        &err,
                    ));
                    return false;
                }
            }
            // The level above was needed only to open this one.
            if level - 1 > anchor && !Self::keep(level - 1, last) {
                above[level - 1].set_dir(None);
            }
        }
        Self::after_reopen(frames, anchor + 1, |f| f.set_dir(None));
        true
    }
}

/// A level of a bounded walk, as [`Budget::reopen`] sees it.
pub(super) trait Level<'r> {
    /// Its directory, `None` while closed to keep within the budget.
    fn open_dir(&self) -> Option<&MergedDir<'r>>;
    /// The entry of the subdirectory being walked below it.
    fn walking(&self) -> Option<&Entry>;
    fn set_dir(&mut self, md: Option<MergedDir<'r>>);
}

/// What happened to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Added,
    Changed,
    Deleted,
}

impl Kind {
    /// `A`, `C` or `D`, as `docker diff` prints them.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Added => "A",
            Kind::Changed => "C",
            Kind::Deleted => "D",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Node {
    parent: usize,
    /// Where the name lies in `Changes::names`.
    start: usize,
    len: usize,
    kind: Option<Kind>,
}

/// A container's changes as a tree of names: each name is held once, under its
/// parent's node, and a full path is built only while it is written
/// (`Changes::try_for_each`), in `docker diff`'s byte order of whole paths. A
/// 20,000-deep chain holds 20,000 names, not 20,000 paths of up to 40,000 bytes.
#[derive(Clone, Debug)]
pub struct Changes {
    names: Vec<u8>,
    /// Node 0 is the top of the view (no name, never listed).
    nodes: Vec<Node>,
    /// Per node `n`, `items[offsets[n]..offsets[n + 1]]`: what its directory lists, in
    /// order (see `finish`); each item is `child * 2 + 1` for the child's subtree or
    /// `child * 2` for the child itself.
    items: Vec<usize>,
    offsets: Vec<usize>,
    counts: [usize; 3],
}

impl Default for Changes {
    fn default() -> Self {
        Changes {
            names: Vec::new(),
            nodes: vec![Node {
                parent: 0,
                start: 0,
                len: 0,
                kind: None,
            }],
            items: Vec::new(),
            offsets: Vec::new(),
            counts: [0; 3],
        }
    }
}

impl Changes {
    fn add(&mut self, parent: usize, name: &[u8], kind: Option<Kind>) -> usize {
        let start = self.names.len();
        self.names.extend_from_slice(name);
        self.nodes.push(Node {
            parent,
            start,
            len: name.len(),
            kind,
        });
        self.nodes.len() - 1
    }

    /// Drop the node just added (it was needed only to name a problem).
    fn forget(&mut self, n: usize) {
        if n + 1 == self.nodes.len() {
            let node = self.nodes.pop().expect("a node");
            self.names.truncate(node.start);
        }
    }

    fn name(&self, n: usize) -> &[u8] {
        let node = &self.nodes[n];
        &self.names[node.start..node.start + node.len]
    }

    /// The path of node `n` relative to the top (`a/b/c`).
    fn path_of(&self, mut n: usize) -> Vec<u8> {
        let mut parts = Vec::new();
        while n != 0 {
            parts.push(n);
            n = self.nodes[n].parent;
        }
        let mut out = Vec::new();
        for (i, &p) in parts.iter().rev().enumerate() {
            if i > 0 {
                out.push(b'/');
            }
            out.extend_from_slice(self.name(p));
        }
        out
    }

    /// Every directory above a change is changed (Docker adds it even when it is not);
    /// what is neither changed nor above a change goes. Then each directory's list:
    /// sorting whole paths puts `d/x` after `d-1` ('-' sorts before '/'), so a
    /// directory lists each child under its name and the child's subtree under the
    /// name followed by '/', and a depth-first walk of these lists yields the paths in
    /// byte order without comparing a whole path.
    fn finish(&mut self) {
        let n = self.nodes.len();
        // Children are added after their parent: one pass upwards marks the ancestors.
        let mut keep = vec![false; n];
        let mut inner = vec![false; n];
        for i in (1..n).rev() {
            if self.nodes[i].kind.is_some() || inner[i] {
                keep[i] = true;
                inner[self.nodes[i].parent] = true;
            }
        }
        for (node, &kept) in self.nodes.iter_mut().zip(&keep).skip(1) {
            if kept {
                let kind = *node.kind.get_or_insert(Kind::Changed);
                self.counts[kind as usize] += 1;
            }
        }
        // Items grouped by parent (counting sort), then ordered within each group.
        let mut offsets = vec![0usize; n + 1];
        for i in 1..n {
            if keep[i] {
                offsets[self.nodes[i].parent + 1] += 1 + usize::from(inner[i]);
            }
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut items = vec![0usize; offsets[n]];
        for i in 1..n {
            if keep[i] {
                let p = self.nodes[i].parent;
                items[fill[p]] = i * 2;
                fill[p] += 1;
                if inner[i] {
                    items[fill[p]] = i * 2 + 1;
                    fill[p] += 1;
                }
            }
        }
        for p in 0..n {
            let group = &mut items[offsets[p]..offsets[p + 1]];
            if group.len() > 1 {
                group.sort_unstable_by(|&a, &b| {
                    let key = |x: usize| {
                        let slash: &[u8] = if x % 2 == 1 { b"/" } else { b"" };
                        self.name(x / 2).iter().chain(slash)
                    };
                    key(a).cmp(key(b))
                });
            }
        }
        self.items = items;
        self.offsets = offsets;
    }

    /// How many paths are listed.
    pub fn len(&self) -> usize {
        self.counts.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many paths are listed as `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts[kind as usize]
    }

    /// Each change in order: its kind and its path, absolute in the container
    /// (`/etc/motd`; invalid UTF-8 replaced, as `fs::shown` shows a path).
    pub fn try_for_each<E>(&self, f: impl FnMut(Kind, &str) -> Result<(), E>) -> Result<(), E> {
        self.try_for_each_mapped(|n| Cow::Borrowed(n), f)
    }

    /// `try_for_each` with each name of a path passed through `map` first (`map`
    /// must treat the characters of a name one by one, as escaping does: each name is
    /// mapped once, not once per path that holds it).
    pub fn try_for_each_mapped<E>(
        &self,
        map: impl Fn(&str) -> Cow<'_, str>,
        mut f: impl FnMut(Kind, &str) -> Result<(), E>,
    ) -> Result<(), E> {
        self.walk(
            String::new(),
            |name, path| {
                path.push('/');
                path.push_str(&map(&String::from_utf8_lossy(name)));
            },
            |kind, path| f(kind, path),
        )
    }

    /// The depth-first walk of the lists `finish` made: `segment` appends a name to
    /// the path (which starts as `start`), `f` sees each change with its path. The
    /// path is one buffer, cut back to the directory's and extended by one name per
    /// item, so a change costs its name, not its whole path.
    fn walk<E>(
        &self,
        start: String,
        segment: impl Fn(&[u8], &mut String),
        mut f: impl FnMut(Kind, &mut String) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.offsets.is_empty() {
            return Ok(());
        }
        let mut path = start;
        // The directory being listed, its path's length in `path`, its next item.
        let mut stack: Vec<(usize, usize, usize)> = vec![(0, path.len(), self.offsets[0])];
        while let Some(top) = stack.last_mut() {
            let (dir, len, next) = *top;
            if next == self.offsets[dir + 1] {
                stack.pop();
                continue;
            }
            top.2 += 1;
            let item = self.items[next];
            let child = item / 2;
            path.truncate(len);
            segment(self.name(child), &mut path);
            if item % 2 == 1 {
                let (o, l) = (self.offsets[child], path.len());
                stack.push((child, l, o));
            } else {
                f(
                    self.nodes[child].kind.expect("kept nodes have a kind"),
                    &mut path,
                )?;
            }
        }
        Ok(())
    }

    /// Each change, its path as `fs::shown` would print it.
    pub fn to_vec(&self) -> Vec<(Kind, String)> {
        let mut out = Vec::with_capacity(self.len());
        let _ = self.try_for_each(|k, p| {
            out.push((k, p.to_owned()));
            Ok::<(), ()>(())
        });
        out
    }
}

/// Written as the list `[{"kind": "A", "path": "/etc/motd"}, …]`. Each name is
/// escaped for JSON once (by serde_json itself) and the paths are handed over already
/// escaped: escaping every path whole, byte by byte, cost more than the walk itself on
/// a deep chain (whose paths hold hundreds of megabytes together).
impl Serialize for Changes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        use serde_json::value::RawValue;
        #[derive(Serialize)]
        struct Change<'a> {
            kind: &'static str,
            path: &'a RawValue,
        }
        #[derive(Serialize)]
        struct Plain<'a> {
            kind: &'static str,
            path: &'a str,
        }
        let mut seq = s.serialize_seq(Some(self.len()))?;
        self.walk(
            String::from("\""),
            |name, path| {
                path.push('/');
                let quoted =
                    serde_json::to_string(&*String::from_utf8_lossy(name)).unwrap_or_default();
                path.push_str(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or(""));
            },
            |kind, path| {
                path.push('"');
                let r = match serde_json::from_str::<&RawValue>(path) {
                    Ok(raw) => seq.serialize_element(&Change {
                        kind: kind.as_str(),
                        path: raw,
                    }),
                    // Not reached: the names were escaped by serde_json.
                    Err(_) => match serde_json::from_str::<String>(path) {
                        Ok(p) => seq.serialize_element(&Plain {
                            kind: kind.as_str(),
                            path: &p,
                        }),
                        Err(e) => Err(serde::ser::Error::custom(e)),
                    },
                };
                path.pop();
                r
            },
        )?;
        seq.end()
    }
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
