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

use super::merge::{layer_dir, Budget, Level};
use super::{
    dir_shown, entry_is_opaque, is_whiteout, kind_only, lossy, Entry, MergedDir, Stack,
    OPAQUE_MARKER,
};
use crate::problem::Problem;
use crate::root::{FileKind, Listing};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::sync::{Condvar, Mutex};

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

/// A directory of the walk's current path.
struct Frame<'r> {
    /// `None` while closed to keep within the budget (shared with a helper that
    /// opens a subdirectory handed to it).
    md: Option<Arc<MergedDir<'r>>>,
    /// The length of this directory's path in the walk's path buffer.
    len: usize,
    /// Its subdirectories still walked here; `subdirs[next - 1]` is the one being
    /// walked.
    subdirs: Vec<Entry>,
    next: usize,
    /// The subdirectories after `subdirs`, handed to the helper, in order.
    handed: VecDeque<Handed>,
}

impl<'r> Level<'r> for Frame<'r> {
    fn open_dir(&self) -> Option<&MergedDir<'r>> {
        self.md.as_deref()
    }
    fn walking(&self) -> Option<&Entry> {
        self.next.checked_sub(1).and_then(|k| self.subdirs.get(k))
    }
    fn set_dir(&mut self, md: Option<MergedDir<'r>>) {
        self.md = md.map(Arc::new);
    }
}

/// What a walk does at each directory.
trait Visit<'r> {
    /// Show a directory's names.
    fn dir(&mut self, path: &[u8], names: &Names) -> io::Result<()>;
    /// A directory was entered: pending subdirectories may be handed off (taken from
    /// the end of a frame's `subdirs` and put at the front of its `handed`).
    fn offer(&mut self, _frames: &mut [Frame<'r>], _path: &[u8]) {}
    /// A subtree handed off has its turn: its output and its problems, in order.
    fn take(&mut self, _from: Handed, _problems: &mut Vec<Problem>) -> io::Result<()> {
        Ok(())
    }
}

/// Each directory's names (sorted), depth first, a directory before its
/// subdirectories, for a `plain_names` stack.
///
/// Bounded on any tree: a directory's names are held only while `dir` sees them; the
/// path is one buffer; and only a bounded set of the directories on the current path
/// stay open (`Budget`, as `container_changes` keeps them): one closed is reopened from
/// its nearest open ancestor when a subdirectory of it is next, so a 20,000-deep chain
/// needs a few dozen descriptors per layer, not 20,000.
fn walk<'r>(
    stack: &Stack,
    start: MergedDir<'r>,
    base: &[u8],
    problems: &mut Vec<Problem>,
    v: &mut impl Visit<'r>,
) -> io::Result<()> {
    let mut path = base.to_vec();
    let (names, subdirs) = stack.list_names(&start, problems);
    v.dir(&path, &names)?;
    drop(names);
    let mut frames = vec![Frame {
        md: Some(Arc::new(start)),
        len: path.len(),
        subdirs,
        next: 0,
        handed: VecDeque::new(),
    }];
    v.offer(&mut frames, &path);
    while let Some(top) = frames.last_mut() {
        if top.next == top.subdirs.len() {
            if let Some(from) = top.handed.pop_front() {
                v.take(from, problems)?;
            } else {
                frames.pop();
            }
            continue;
        }
        top.next += 1;
        let last = frames.len() - 1;
        if frames[last].md.is_none() && !Budget::reopen(&mut frames, stack, problems) {
            // What is left below it cannot be reached again: skip it (what was handed
            // off is still taken in its turn).
            frames[last].next = frames[last].subdirs.len();
            continue;
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
                v.dir(&path, &names)?;
                drop(names);
                frames.push(Frame {
                    md: Some(Arc::new(child)),
                    len: path.len(),
                    subdirs,
                    next: 0,
                    handed: VecDeque::new(),
                });
                Budget::after_push(&mut frames, |f| f.md = None);
                v.offer(&mut frames, &path);
            }
            Err(err) => problems.push(open_failed(md, e, &err)),
        }
    }
    Ok(())
}

fn open_failed(md: &MergedDir<'_>, e: &Entry, err: &io::Error) -> Problem {
    Problem::io(
        format!("{}/{}", layer_dir(md, e.layer), lossy(&e.name)),
        err,
    )
}

/// Appends one directory's lines (its heading, its names) to a buffer.
pub type Render<'a> = &'a (dyn Fn(&mut Vec<u8>, &[u8], &Names) + Sync);

/// What a walk buffers before a write (or a hand-over).
const CHUNK: usize = 64 << 10;
/// The output of handed subtrees that may wait to be written, in bytes (one more
/// chunk of the subtree the helper is walking, so that it never waits for a writer
/// that waits for it).
const WAITING: usize = 16 << 20;

/// Output of a subtree walked by the helper.
enum Piece {
    Bytes(Vec<u8>),
    /// The end, with the problems met.
    Done(Vec<Problem>),
}

/// A handed subtree as its frame keeps it: its job number and its output.
type Handed = (u64, Receiver<Piece>);

/// A subtree for the helper: its directory's entry in `parent`, and its path.
struct Job<'r> {
    id: u64,
    parent: Arc<MergedDir<'r>>,
    entry: Entry,
    path: Vec<u8>,
    to: mpsc::Sender<Piece>,
}

/// What the two threads share: the bytes sent and not yet written.
#[derive(Default)]
struct Shared {
    state: Mutex<Waiting>,
    more: Condvar,
}

#[derive(Default)]
struct Waiting {
    /// Bytes of every handed subtree.
    total: usize,
    /// The job the helper walks, and its bytes.
    job: u64,
    job_bytes: usize,
    /// The helper is ready for a job.
    idle: bool,
    /// The writer is gone: the helper stops.
    gone: bool,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The walk that writes: directories separated by blank lines, in chunks; with a
/// helper thread, it hands whole subtrees of the shallowest pending directories to it
/// and writes their output when their turn comes.
struct Writer<'a, 'r> {
    render: Render<'a>,
    buf: Vec<u8>,
    out: &'a mut dyn Write,
    first: bool,
    helper: Option<Helper<'a, 'r>>,
}

struct Helper<'a, 'r> {
    jobs: mpsc::Sender<Job<'r>>,
    shared: &'a Shared,
    next_id: u64,
}

impl<'r> Visit<'r> for Writer<'_, 'r> {
    fn dir(&mut self, path: &[u8], names: &Names) -> io::Result<()> {
        if !self.first {
            self.buf.push(b'\n');
        }
        self.first = false;
        (self.render)(&mut self.buf, path, names);
        if self.buf.len() >= CHUNK {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn offer(&mut self, frames: &mut [Frame<'r>], path: &[u8]) {
        let Some(h) = self.helper.as_mut() else {
            return;
        };
        {
            let mut w = h.shared.lock();
            if !w.idle || w.total >= WAITING {
                return;
            }
            // The shallowest directory with a subdirectory pending: its last one is
            // the subtree written last of all those pending.
            let Some(f) = frames
                .iter_mut()
                .find(|f| f.md.is_some() && f.subdirs.len() > f.next)
            else {
                return;
            };
            let (Some(md), Some(entry)) = (f.md.clone(), f.subdirs.pop()) else {
                return;
            };
            let mut sub = path[..f.len].to_vec();
            if !sub.is_empty() {
                sub.push(b'/');
            }
            sub.extend_from_slice(&entry.name);
            let (to, from) = mpsc::channel();
            h.next_id += 1;
            let id = h.next_id;
            let job = Job {
                id,
                parent: md,
                entry,
                path: sub,
                to,
            };
            match h.jobs.send(job) {
                Ok(()) => {
                    w.idle = false;
                    f.handed.push_front((id, from));
                    return;
                }
                Err(mpsc::SendError(job)) => {
                    // The helper is gone: walk the subtree here after all.
                    f.subdirs.push(job.entry);
                }
            }
        }
        self.helper = None;
    }

    fn take(&mut self, (id, from): Handed, problems: &mut Vec<Problem>) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        for piece in from {
            match piece {
                Piece::Bytes(b) => {
                    self.out.write_all(&b)?;
                    if let Some(h) = &self.helper {
                        let mut w = h.shared.lock();
                        w.total -= b.len();
                        if w.job == id {
                            w.job_bytes -= b.len();
                        }
                        h.shared.more.notify_all();
                    }
                }
                Piece::Done(p) => {
                    problems.extend(p);
                    break;
                }
            }
        }
        Ok(())
    }
}

/// The helper's walk of one subtree: its output sent in chunks.
struct Sender<'a> {
    render: Render<'a>,
    buf: Vec<u8>,
    to: mpsc::Sender<Piece>,
    shared: &'a Shared,
}

impl Sender<'_> {
    /// Send what is buffered, once the waiting output leaves room for it (or none of
    /// this subtree's output waits: the writer may be waiting for it).
    fn send(&mut self) -> io::Result<()> {
        let gone = || io::Error::from(io::ErrorKind::BrokenPipe);
        {
            let mut w = self.shared.lock();
            while !w.gone && w.total >= WAITING && w.job_bytes > 0 {
                w = self
                    .shared
                    .more
                    .wait(w)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            if w.gone {
                return Err(gone());
            }
            w.total += self.buf.len();
            w.job_bytes += self.buf.len();
        }
        let b = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + (CHUNK >> 2)));
        self.to.send(Piece::Bytes(b)).map_err(|_| gone())
    }
}

impl Visit<'_> for Sender<'_> {
    fn dir(&mut self, path: &[u8], names: &Names) -> io::Result<()> {
        // never the first directory of the whole listing
        self.buf.push(b'\n');
        (self.render)(&mut self.buf, path, names);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }
}

fn helper_loop(stack: &Stack, render: Render<'_>, jobs: Receiver<Job<'_>>, shared: &Shared) {
    for job in jobs {
        let Job {
            id,
            parent,
            entry,
            path,
            to,
        } = job;
        {
            let mut w = shared.lock();
            w.job = id;
            w.job_bytes = 0;
        }
        let mut problems = Vec::new();
        let mut v = Sender {
            render,
            buf: Vec::with_capacity(CHUNK + (CHUNK >> 2)),
            to,
            shared,
        };
        let done = match stack.open_child(&parent, &entry) {
            Ok(md) => {
                drop(parent);
                walk(stack, md, &path, &mut problems, &mut v)
            }
            Err(err) => {
                problems.push(open_failed(&parent, &entry, &err));
                Ok(())
            }
        };
        // Err: the writer is gone (its output failed); nothing more to send.
        if done.is_ok() && (v.buf.is_empty() || v.send().is_ok()) {
            let _ = v.to.send(Piece::Done(problems));
        }
        shared.lock().idle = true;
    }
}

/// `ls -R` of a `plain_names` stack from `start` (its path `base`): each directory's
/// lines as `render` makes them, directories separated by blank lines, written to
/// `out` in large chunks. With two CPUs or more, a helper thread walks whole subtrees
/// (the last pending ones of the shallowest directories) while this one walks from
/// the start, and their output is written in its turn: the same bytes, the same
/// problems in the same order, at most `WAITING` bytes held back.
pub fn write_names(
    stack: &Stack,
    start: MergedDir<'_>,
    base: &[u8],
    problems: &mut Vec<Problem>,
    render: Render<'_>,
    out: &mut dyn Write,
) -> io::Result<()> {
    debug_assert!(stack.plain_names());
    let parallel = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let mut w = Writer {
        render,
        buf: Vec::with_capacity(CHUNK + (CHUNK >> 2)),
        out,
        first: true,
        helper: None,
    };
    if !parallel {
        walk(stack, start, base, problems, &mut w)?;
        return w.out.write_all(&w.buf);
    }
    let shared = Shared::default();
    shared.lock().idle = true;
    std::thread::scope(|s| {
        let (jobs, queue) = mpsc::channel::<Job<'_>>();
        let spawned = std::thread::Builder::new()
            .name("ls-helper".into())
            .spawn_scoped(s, || helper_loop(stack, render, queue, &shared));
        if spawned.is_ok() {
            w.helper = Some(Helper {
                jobs,
                shared: &shared,
                next_id: 0,
            });
        }
        let done = walk(stack, start, base, problems, &mut w);
        // The helper stops: its queue closes, and a wait for room ends.
        w.helper = None;
        shared.lock().gone = true;
        shared.more.notify_all();
        done?;
        w.out.write_all(&w.buf)
    })
}
