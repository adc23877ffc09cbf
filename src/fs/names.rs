//! The names of a merged view, directory by directory, for `ls -R`: each layer dir is
//! read once into a packed listing (`Dir::list`), and the names of all the layers are
//! merged by one sort of small keys, no allocation per name. Only the subdirectories
//! are kept as `Entry` (to be opened next); the names of a directory are dropped once
//! they are written.
//!
//! The merge is `Stack::list`'s, name by name: the topmost entry of a name wins, a
//! whiteout hides the name below it, a directory merges the same-named directories
//! below it until a layer holds something else there; a raw layer lists its whiteouts
//! and marks its opaque dirs. A view whose whiteouts are `.wh.` files is left to
//! `Stack::list` (see `Stack::plain_names`).

use super::merge::{layer_dir, Budget};
use super::{
    dir_shown, entry_is_opaque, is_whiteout, kind_only, lossy, Entry, MergedDir, Stack,
    OPAQUE_MARKER,
};
use crate::problem::Problem;
use crate::root::{FileKind, Listing};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// The visible names of one merged directory, sorted by bytes (as `LC_ALL=C ls`).
pub struct Names {
    listings: Vec<Listing>,
    /// Each visible name in order: its listing, its index there, its marks.
    order: Vec<(u32, u32, Marks)>,
}

/// What a raw layer's listing marks a name as.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Marks {
    pub whiteout: bool,
    pub opaque: bool,
}

impl Names {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The names in order, with their marks.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Marks)> + '_ {
        self.order
            .iter()
            .map(|&(l, i, m)| (self.listings[l as usize].name(i as usize).as_bytes(), m))
    }
}

/// One name of one layer's listing, with its first 8 bytes as a number: the sort
/// compares numbers and reads the names only where those are equal.
#[derive(Clone, Copy)]
struct Cand {
    key: u64,
    /// The listing (its position among the layers listed, top first).
    pos: u32,
    idx: u32,
}

/// The first 8 bytes, big-endian, zero-padded: `key(a) < key(b)` implies `a < b`, and
/// equal keys leave the order to the bytes themselves.
fn key(name: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = name.len().min(8);
    b[..n].copy_from_slice(&name[..n]);
    u64::from_be_bytes(b)
}

/// Where one name stands while its entries are read top layer first.
enum State {
    /// Not seen yet (or only entries that could not be read).
    Unseen,
    /// Hidden by a whiteout, or shown and nothing below merges into it.
    Done,
    /// A directory shown: `subdirs[i]`; same-named directories below merge into it.
    Merging(usize),
}

impl Stack {
    /// Can `list_names` list this view (no `.wh.` whiteout files)?
    pub fn plain_names(&self) -> bool {
        !self.whiteout_files
    }

    /// The visible names of a merged directory, sorted, and its subdirectories as
    /// entries (in the same order) to open with `open_child`. The same answer as
    /// `list` for a `plain_names` stack. Problems name the layer dirs (or entries)
    /// that could not be read.
    pub fn list_names(
        &self,
        md: &MergedDir<'_>,
        problems: &mut Vec<Problem>,
    ) -> (Names, Vec<Entry>) {
        debug_assert!(self.plain_names());
        // (position in md.layers, listing)
        let mut listed: Vec<(usize, Listing)> = Vec::with_capacity(md.layers.len());
        for (k, (_, d)) in md.layers.iter().enumerate() {
            match d.list() {
                Ok(l) => listed.push((k, l)),
                Err(e) => problems.push(Problem::io(dir_shown(d), &e)),
            }
        }
        let total = listed.iter().map(|(_, l)| l.len()).sum();
        let mut cands = Vec::with_capacity(total);
        for (p, (_, l)) in listed.iter().enumerate() {
            for i in 0..l.len() {
                cands.push(Cand {
                    key: key(l.name(i).as_bytes()),
                    pos: p as u32,
                    idx: i as u32,
                });
            }
        }
        let name = |c: &Cand| listed[c.pos as usize].1.name(c.idx as usize).as_bytes();
        cands.sort_unstable_by(|a, b| {
            a.key
                .cmp(&b.key)
                .then_with(|| name(a).cmp(name(b)))
                .then(a.pos.cmp(&b.pos))
        });
        let mut order = Vec::with_capacity(cands.len());
        let mut subdirs: Vec<Entry> = Vec::new();
        let mut start = 0;
        while start < cands.len() {
            let first = name(&cands[start]);
            let mut end = start + 1;
            while end < cands.len()
                && cands[end].key == cands[start].key
                && name(&cands[end]) == first
            {
                end += 1;
            }
            // `Stack::list` of several layers leaves the marker out of a raw view
            if self.raw && md.layers.len() > 1 && first == OPAQUE_MARKER {
                start = end;
                continue;
            }
            let mut state = State::Unseen;
            for c in &cands[start..end] {
                let (at, l) = &listed[c.pos as usize];
                let (layer, d) = &md.layers[*at];
                let idx = c.idx as usize;
                match state {
                    State::Done => break,
                    State::Merging(s) => {
                        let is_dir = match l.kind(idx) {
                            Some(kind) => kind == FileKind::Dir,
                            None => d
                                .lstat_listed(l, idx)
                                .is_ok_and(|m| m.kind == FileKind::Dir),
                        };
                        if !is_dir {
                            break;
                        }
                        subdirs[s].below.push(*layer);
                    }
                    State::Unseen => {
                        let m = match l.kind(idx) {
                            Some(kind) if self.names_only && kind != FileKind::CharDevice => {
                                kind_only(kind)
                            }
                            _ => match d.lstat_listed(l, idx) {
                                Ok(m) => m,
                                Err(err) => {
                                    problems.push(Problem::io(
                                        format!("{}/{}", dir_shown(d), lossy(first)),
                                        &err,
                                    ));
                                    continue;
                                }
                            },
                        };
                        let whiteout = is_whiteout(&m);
                        if whiteout && !self.raw {
                            state = State::Done;
                            continue;
                        }
                        let dir = m.kind == FileKind::Dir;
                        let opaque = self.raw && dir && entry_is_opaque(d, first);
                        order.push((c.pos, c.idx, Marks { whiteout, opaque }));
                        if !dir {
                            break;
                        }
                        state = State::Merging(subdirs.len());
                        subdirs.push(Entry {
                            name: first.to_vec(),
                            meta: m,
                            layer: *layer,
                            below: Vec::new(),
                            whiteout,
                            opaque,
                        });
                    }
                }
            }
            start = end;
        }
        let listings = listed.into_iter().map(|(_, l)| l).collect();
        (Names { listings, order }, subdirs)
    }
}

/// `walk_dirs` for a `plain_names` stack: each directory's names (sorted), depth
/// first, a directory before its subdirectories.
///
/// Bounded on any tree: a directory's names are held only while `on_dir` sees them;
/// the path is one buffer; and only a bounded set of the directories on the current
/// path stay open (`Budget`, as `container_changes` keeps them): one closed is reopened
/// from its nearest open ancestor when a subdirectory of it is next, so a 20,000-deep
/// chain needs a few dozen descriptors per layer, not 20,000.
pub fn walk_names(
    stack: &Stack,
    start: MergedDir<'_>,
    base: &[u8],
    problems: &mut Vec<Problem>,
    mut on_dir: impl FnMut(&[u8], &Names) -> io::Result<()>,
) -> io::Result<()> {
    struct Frame<'r> {
        /// `None` while closed to keep within the budget.
        md: Option<MergedDir<'r>>,
        /// The length of this directory's path in `path`.
        len: usize,
        /// Its subdirectories; `subdirs[next - 1]` is the one being walked.
        subdirs: Vec<Entry>,
        next: usize,
    }
    let open_failed = |md: &MergedDir<'_>, e: &Entry, err: &io::Error| {
        Problem::io(
            format!("{}/{}", layer_dir(md, e.layer), lossy(&e.name)),
            err,
        )
    };
    let mut path = base.to_vec();
    let (names, subdirs) = stack.list_names(&start, problems);
    on_dir(&path, &names)?;
    drop(names);
    let mut frames = vec![Frame {
        md: Some(start),
        len: path.len(),
        subdirs,
        next: 0,
    }];
    while let Some(top) = frames.last_mut() {
        if top.next == top.subdirs.len() {
            frames.pop();
            continue;
        }
        top.next += 1;
        let last = frames.len() - 1;
        if frames[last].md.is_none() {
            // Closed to keep within the budget: reopen it (and the closed levels above
            // it) from the nearest open ancestor.
            let anchor = frames[..last]
                .iter()
                .rposition(|f| f.md.is_some())
                .unwrap_or(0);
            let mut failed = false;
            for level in anchor + 1..=last {
                let (above, here) = frames.split_at_mut(level);
                let parent = &above[level - 1];
                let (Some(pmd), Some(e)) = (
                    parent.md.as_ref(),
                    parent
                        .next
                        .checked_sub(1)
                        .and_then(|k| parent.subdirs.get(k)),
                ) else {
                    failed = true;
                    break;
                };
                match stack.open_child(pmd, e) {
                    Ok(md) => here[0].md = Some(md),
                    Err(err) => {
                        problems.push(open_failed(pmd, e, &err));
                        failed = true;
                        break;
                    }
                }
                // The level above was needed only to open this one.
                if level - 1 > anchor && !Budget::keep(level - 1, last) {
                    above[level - 1].md = None;
                }
            }
            if failed {
                // What is left below it cannot be reached again: skip it.
                frames[last].next = frames[last].subdirs.len();
                continue;
            }
            Budget::after_reopen(&mut frames, anchor + 1, |f| f.md = None);
        }
        let Some(top) = frames.last() else { break };
        let (Some(md), Some(e)) = (top.md.as_ref(), top.subdirs.get(top.next - 1)) else {
            continue;
        };
        path.truncate(top.len);
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&e.name);
        match stack.open_child(md, e) {
            Ok(child) => {
                let (names, subdirs) = stack.list_names(&child, problems);
                on_dir(&path, &names)?;
                drop(names);
                frames.push(Frame {
                    md: Some(child),
                    len: path.len(),
                    subdirs,
                    next: 0,
                });
                Budget::after_push(&mut frames, |f| f.md = None);
            }
            Err(err) => problems.push(open_failed(md, e, &err)),
        }
    }
    Ok(())
}
