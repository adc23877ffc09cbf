//! The names of a merged view, directory by directory, for `ls -R`: each layer dir is
//! read once into a packed listing (`Dir::list`), and the names of all the layers are
//! merged by one sort of small keys, no allocation per name. Only the subdirectories
//! are kept as `Entry` (to be opened next); the names of a directory are dropped once
//! they are written.
//!
//! The merge is `Stack::list`'s, name by name: the topmost entry of a name wins, a
//! whiteout hides the name below it, a directory merges the same-named directories
//! below it until a layer holds something else there. A view whose whiteouts are
//! `.wh.` files, or a raw layer (whiteouts listed, opaque dirs marked), is left to
//! `Stack::list` (see `Stack::plain_names`).

use super::{dir_shown, is_whiteout, join, kind_only, lossy, Entry, MergedDir, Stack};
use crate::problem::Problem;
use crate::root::{FileKind, Listing};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// The visible names of one merged directory, sorted by bytes (as `LC_ALL=C ls`).
pub struct Names {
    listings: Vec<Listing>,
    /// (listing, index in it) of each visible name, in order.
    order: Vec<(u32, u32)>,
}

impl Names {
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The names in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.order
            .iter()
            .map(|&(l, i)| self.listings[l as usize].name(i as usize).as_bytes())
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
    /// Can `list_names` list this view (no `.wh.` whiteout files, not a raw layer)?
    pub fn plain_names(&self) -> bool {
        !self.raw && !self.whiteout_files
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
                        if is_whiteout(&m) {
                            state = State::Done;
                            continue;
                        }
                        order.push((c.pos, c.idx));
                        if m.kind != FileKind::Dir {
                            break;
                        }
                        state = State::Merging(subdirs.len());
                        subdirs.push(Entry {
                            name: first.to_vec(),
                            meta: m,
                            layer: *layer,
                            below: Vec::new(),
                            whiteout: false,
                            opaque: false,
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
/// first, a directory before its subdirectories. Open directories are held only along
/// the current path; a directory's names only while `on_dir` sees them.
pub fn walk_names(
    stack: &Stack,
    start: MergedDir<'_>,
    base: &[u8],
    problems: &mut Vec<Problem>,
    mut on_dir: impl FnMut(&[u8], &Names) -> io::Result<()>,
) -> io::Result<()> {
    struct Frame<'r> {
        md: MergedDir<'r>,
        path: Vec<u8>,
        subdirs: Vec<Entry>,
        next: usize,
    }
    let (names, subdirs) = stack.list_names(&start, problems);
    on_dir(base, &names)?;
    drop(names);
    let mut frames = vec![Frame {
        md: start,
        path: base.to_vec(),
        subdirs,
        next: 0,
    }];
    while let Some(top) = frames.last_mut() {
        let Some(e) = top.subdirs.get(top.next) else {
            frames.pop();
            continue;
        };
        top.next += 1;
        let path = join(&top.path, &e.name);
        match stack.open_child(&top.md, e) {
            Ok(md) => {
                let (names, subdirs) = stack.list_names(&md, problems);
                on_dir(&path, &names)?;
                drop(names);
                frames.push(Frame {
                    md,
                    path,
                    subdirs,
                    next: 0,
                });
            }
            Err(err) => problems.push(Problem::io(
                format!(
                    "{}/{}",
                    super::merge::layer_dir(&top.md, e.layer),
                    lossy(&e.name)
                ),
                &err,
            )),
        }
    }
    Ok(())
}
