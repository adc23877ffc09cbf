//! The capture's pass over a tree: worker threads list, stat and serialize whole
//! directories ahead of time; one writer takes the results in the archive's order
//! (depth first, names sorted: a directory's entries, then each subdirectory in name
//! order), settles hard links (the first name written is the file, later names link
//! to it), feeds the size walk's tally and writes the bytes.
//!
//! The writer keeps at most `AHEAD` directories read ahead, and a directory of more
//! than `CHUNK_ENTRIES` names is read in pieces of that many, so the headers held in
//! memory stay under `AHEAD` x `CHUNK_ENTRIES` entries (about 100 MB at worst, a few MB
//! on a Docker root) whatever the root holds; the names of the directory being read
//! are held whole, as a listing holds them.

use super::entry::{append, Body};
use super::manifest::{Counts, Redacted};
use super::{is_metadata, redact, redaction_kind, Keep, Options, BLOB_SNIFF_LIMIT, METADATA_LIMIT};
use crate::model::ids::sha256_digest;
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir, DirEntry, FileKind, Meta};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// Directories read ahead of the writer, at most.
const AHEAD: usize = 64;
/// Names of one directory serialized in one piece, at most.
const CHUNK_ENTRIES: usize = 1024;

#[derive(Default)]
pub struct Progress {
    pub entries: AtomicU64,
    pub kept: AtomicU64,
}

/// What the workers share: read-only.
pub struct Ctx<'a> {
    pub opts: &'a Options,
    /// The archive folder being written (`docker` or `containerd`).
    pub tree: &'static str,
    pub root_dev: u64,
}

/// What the writer gathers over the whole capture.
pub struct Sink<'a, W: Write> {
    pub tar: tar::Builder<W>,
    pub counts: Counts,
    /// (dev, ino) of files with several names -> the archive path of the first.
    pub seen: HashMap<(u64, u64), Vec<u8>>,
    pub redacted: Vec<Redacted>,
    pub problems: Vec<Problem>,
    pub progress: &'a Progress,
    /// The size walk's totals of the data root, fed with each entry written.
    pub tally: Option<crate::walk::Tally>,
    scratch: Vec<u8>,
    pax: Vec<u8>,
}

impl<'a, W: Write> Sink<'a, W> {
    pub fn new(tar: tar::Builder<W>, progress: &'a Progress) -> Self {
        Sink {
            tar,
            counts: Counts::default(),
            seen: HashMap::new(),
            redacted: Vec::new(),
            problems: Vec::new(),
            progress,
            tally: Some(crate::walk::Tally::new()),
            scratch: Vec::new(),
            pax: Vec::new(),
        }
    }
}

/// A directory still to be read: its parent (kept open) and its name.
struct Pending<'r> {
    parent: Arc<Dir<'r>>,
    name: OsString,
    apath: Vec<u8>,
    parts: Arc<Vec<String>>,
}

/// A piece of a large directory after its first.
struct Piece<'r> {
    dir: Arc<Dir<'r>>,
    names: Arc<Vec<DirEntry>>,
    start: usize,
    apath: Arc<Vec<u8>>,
    parts: Arc<Vec<String>>,
}

enum Work<'r> {
    Sub(Pending<'r>),
    Piece(Piece<'r>),
}

/// How an entry counts in the report.
enum Count {
    Dir,
    Kept(u64),
    Omitted(u64),
    Symlink,
    Special,
    Socket,
    /// No entry written (its read failed; a problem says so).
    Nothing,
}

enum TallyOp {
    Add,
    MountPoint(String),
    No,
}

/// One name of a directory, serialized in `Block::bytes[..end]` after the previous one.
struct Rec {
    name: String,
    meta: Meta,
    count: Count,
    tally: TallyOp,
    end: usize,
    /// The archive path of a file or device with several names: written whole the
    /// first time, as a link to that path after.
    linkable: Option<Vec<u8>>,
    /// What reading the contents found: kept only when the entry is written whole.
    problems: Vec<Problem>,
    redacted: Option<Redacted>,
}

/// One directory's entries (or a piece of them), read and serialized.
struct Block<'r> {
    parts: Arc<Vec<String>>,
    bytes: Vec<u8>,
    recs: Vec<Rec>,
    subdirs: Vec<Pending<'r>>,
    problems: Vec<Problem>,
    /// Reads that failed, for the tally: (path components, path).
    failed: Vec<(Vec<String>, String)>,
    /// The pieces still to come after this first one.
    rest: Vec<Piece<'r>>,
    /// Not the directory's last piece: its subdirectories wait for the last.
    more: bool,
}

impl<'r> Block<'r> {
    fn new(parts: Arc<Vec<String>>) -> Block<'r> {
        Block {
            parts,
            bytes: Vec::new(),
            recs: Vec::new(),
            subdirs: Vec::new(),
            problems: Vec::new(),
            failed: Vec::new(),
            rest: Vec::new(),
            more: false,
        }
    }
}

/// Read a directory: list it, then its first piece of names.
fn read_dir<'r>(
    ctx: &Ctx<'_>,
    dir: &Arc<Dir<'r>>,
    apath: Vec<u8>,
    parts: Arc<Vec<String>>,
) -> io::Result<Block<'r>> {
    let mut entries = match dir.entries() {
        Ok(e) => e,
        Err(e) => {
            let mut b = Block::new(parts);
            b.failed.push((b.parts.to_vec(), dir.rel().to_owned()));
            b.problems.push(Problem::io(dir.rel(), &e));
            return Ok(b);
        }
    };
    entries.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    if entries.len() <= CHUNK_ENTRIES {
        return read_names(ctx, dir, &entries, &apath, parts);
    }
    let names = Arc::new(entries);
    let apath = Arc::new(apath);
    let mut b = read_names(
        ctx,
        dir,
        &names[..CHUNK_ENTRIES],
        &apath,
        Arc::clone(&parts),
    )?;
    b.more = true;
    b.rest = (CHUNK_ENTRIES..names.len())
        .step_by(CHUNK_ENTRIES)
        .map(|start| Piece {
            dir: Arc::clone(dir),
            names: Arc::clone(&names),
            start,
            apath: Arc::clone(&apath),
            parts: Arc::clone(&parts),
        })
        .collect();
    Ok(b)
}

fn read_piece<'r>(ctx: &Ctx<'_>, p: &Piece<'r>) -> io::Result<Block<'r>> {
    let end = (p.start + CHUNK_ENTRIES).min(p.names.len());
    let mut b = read_names(
        ctx,
        &p.dir,
        &p.names[p.start..end],
        &p.apath,
        Arc::clone(&p.parts),
    )?;
    b.more = end < p.names.len();
    Ok(b)
}

fn work<'r>(ctx: &Ctx<'_>, w: Work<'r>) -> io::Result<Block<'r>> {
    match w {
        Work::Sub(p) => match p.parent.sub(&p.name) {
            Ok(d) => {
                drop(p.parent);
                read_dir(ctx, &Arc::new(d), p.apath, p.parts)
            }
            Err(e) => {
                let rel = p.parent.rel_of(&p.name);
                let mut b = Block::new(p.parts);
                b.failed.push((b.parts.to_vec(), rel.clone()));
                b.problems.push(Problem::io(rel, &e));
                Ok(b)
            }
        },
        Work::Piece(p) => read_piece(ctx, &p),
    }
}

/// Stat and serialize the given names of `dir` (sorted).
fn read_names<'r>(
    ctx: &Ctx<'_>,
    dir: &Arc<Dir<'r>>,
    names: &[DirEntry],
    apath: &[u8],
    parts: Arc<Vec<String>>,
) -> io::Result<Block<'r>> {
    let mut b = Block::new(parts);
    b.recs.reserve(names.len());
    b.bytes.reserve(names.len() * 1536);
    let mut pax = Vec::with_capacity(1024);
    for e in names {
        let name_str = e.name.to_string_lossy().into_owned();
        let meta = match dir.lstat(&e.name) {
            Ok(m) => m,
            Err(err) => {
                let rel = dir.rel_of(&e.name);
                let mut p = b.parts.to_vec();
                p.push(name_str);
                b.failed.push((p, rel.clone()));
                b.problems.push(Problem::io(rel, &err));
                continue;
            }
        };
        let xattrs = if matches!(meta.kind, FileKind::Socket | FileKind::Unknown) {
            Vec::new()
        } else {
            dir.xattr_list(&e.name).unwrap_or_else(|err| {
                b.problems.push(Problem::io(dir.rel_of(&e.name), &err));
                Vec::new()
            })
        };
        let mut path = Vec::with_capacity(apath.len() + 1 + e.name.len());
        path.extend_from_slice(apath);
        path.push(b'/');
        path.extend_from_slice(e.name.as_bytes());
        let mut rec = Rec {
            name: name_str,
            meta,
            count: Count::Nothing,
            tally: TallyOp::Add,
            end: 0,
            linkable: None,
            problems: Vec::new(),
            redacted: None,
        };
        match meta.kind {
            FileKind::Dir if meta.dev != ctx.root_dev => {
                rec.tally = TallyOp::MountPoint(dir.rel_of(&e.name));
                rec.count = Count::Dir;
                append(
                    &mut b.bytes,
                    &mut pax,
                    &path,
                    &meta,
                    &xattrs,
                    &Body::MountPoint,
                )?;
            }
            FileKind::Dir => {
                rec.count = Count::Dir;
                append(&mut b.bytes, &mut pax, &path, &meta, &xattrs, &Body::Dir)?;
                let mut child = Vec::with_capacity(b.parts.len() + 1);
                child.extend(b.parts.iter().cloned());
                child.push(rec.name.clone());
                b.subdirs.push(Pending {
                    parent: Arc::clone(dir),
                    name: e.name.clone(),
                    apath: path,
                    parts: Arc::new(child),
                });
            }
            FileKind::File => {
                if meta.nlink > 1 {
                    rec.linkable = Some(path.clone());
                }
                let contents = file_body(ctx, dir, &e.name, &b.parts, &mut rec);
                let body = if let Some(bytes) = &contents {
                    rec.count = Count::Kept(bytes.len() as u64);
                    Body::Contents(bytes)
                } else {
                    rec.count = Count::Omitted(meta.len);
                    Body::Omitted
                };
                append(&mut b.bytes, &mut pax, &path, &meta, &xattrs, &body)?;
            }
            FileKind::Symlink => match dir.read_link(&e.name) {
                Ok(t) => {
                    rec.count = Count::Symlink;
                    append(
                        &mut b.bytes,
                        &mut pax,
                        &path,
                        &meta,
                        &xattrs,
                        &Body::Symlink(t.as_os_str().as_bytes()),
                    )?;
                }
                Err(err) => rec.problems.push(Problem::io(dir.rel_of(&e.name), &err)),
            },
            FileKind::CharDevice | FileKind::BlockDevice | FileKind::Fifo => {
                if meta.nlink > 1 {
                    rec.linkable = Some(path.clone());
                }
                rec.count = Count::Special;
                append(
                    &mut b.bytes,
                    &mut pax,
                    &path,
                    &meta,
                    &xattrs,
                    &Body::Special,
                )?;
            }
            FileKind::Socket | FileKind::Unknown => {
                rec.tally = TallyOp::No;
                rec.count = Count::Socket;
                rec.problems.push(Problem::new(
                    dir.rel_of(&e.name),
                    ProblemKind::NotAnalysed,
                    "a socket: tar has no entry for it, left out of the capture",
                ));
            }
        }
        rec.end = b.bytes.len();
        b.recs.push(rec);
    }
    Ok(b)
}

/// Decide and read what a regular file's entry holds: `Some(bytes)` kept, `None` its
/// size only. Problems and a redaction go on `rec`.
fn file_body(
    ctx: &Ctx<'_>,
    dir: &Dir<'_>,
    name: &OsStr,
    parts: &[String],
    rec: &mut Rec,
) -> Option<Vec<u8>> {
    let meta = rec.meta;
    let mut p: Vec<&str> = Vec::with_capacity(parts.len() + 1);
    p.extend(parts.iter().map(String::as_str));
    p.push(&rec.name);
    let keep = match is_metadata(&p) {
        Keep::SizeOnly
            if ctx.opts.include_content > 0
                && meta.len <= ctx.opts.include_content
                && matches!(p.as_slice(), ["overlay2", _, "diff", ..]) =>
        {
            Keep::Contents
        }
        k => k,
    };
    if meta.len == 0 {
        return Some(Vec::new());
    }
    let limit = match keep {
        Keep::SizeOnly => return None,
        Keep::IfJson => BLOB_SNIFF_LIMIT,
        Keep::Contents => METADATA_LIMIT,
    };
    let rel = || dir.rel_of(name);
    if meta.len > limit {
        if keep == Keep::Contents {
            rec.problems.push(Problem::new(
                rel(),
                ProblemKind::TooLarge,
                format!("larger than {limit} bytes: captured without its contents"),
            ));
        }
        return None;
    }
    let bytes = match dir.open(name).and_then(|(f, m)| {
        let mut buf = Vec::with_capacity(m.len.min(limit) as usize);
        f.take(limit).read_to_end(&mut buf)?;
        Ok(buf)
    }) {
        Ok(b) => b,
        Err(e) => {
            rec.problems.push(Problem::io(rel(), &e));
            return None;
        }
    };
    if keep == Keep::IfJson && bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    if let (Some(kind), false) = (redaction_kind(&p), ctx.opts.keep_env) {
        match redact::redact_env(&bytes) {
            Some((_, 0)) => {}
            Some((new, n)) => {
                rec.redacted = Some(Redacted {
                    tree: ctx.tree.to_owned(),
                    path: rel(),
                    kind: kind.to_owned(),
                    env_values: n,
                    original_sha256: sha256_digest(&bytes),
                    sha256: sha256_digest(&new),
                });
                return Some(new);
            }
            None => {
                rec.problems.push(Problem::new(
                    rel(),
                    ProblemKind::Malformed,
                    "not JSON the Env redaction can follow: captured without its contents",
                ));
                return None;
            }
        }
    }
    Some(bytes)
}

impl<W: Write> Sink<'_, W> {
    /// Write one entry built here (the top directory, a hard link).
    fn put_one(&mut self, path: &[u8], meta: &Meta, body: &Body<'_>) -> io::Result<()> {
        self.scratch.clear();
        append(&mut self.scratch, &mut self.pax, path, meta, &[], body)?;
        self.tar.get_mut().write_all(&self.scratch)?;
        self.counts.entries += 1;
        match body {
            Body::Dir | Body::MountPoint => self.counts.dirs += 1,
            Body::HardLink(_) => self.counts.hard_links += 1,
            _ => {}
        }
        Ok(())
    }

    /// Write a block's entries, in order.
    fn put(&mut self, b: Block<'_>) -> io::Result<()> {
        if let Some(t) = &mut self.tally {
            for (parts, rel) in &b.failed {
                let p: Vec<&str> = parts.iter().map(String::as_str).collect();
                t.failed(&p, rel.clone());
            }
            let mut p: Vec<&str> = b.parts.iter().map(String::as_str).collect();
            let depth = p.len();
            for rec in &b.recs {
                match &rec.tally {
                    TallyOp::Add => {
                        p.truncate(depth);
                        p.push(&rec.name);
                        t.add(&p, &rec.meta);
                    }
                    TallyOp::MountPoint(rel) => t.mount_point(rel.clone()),
                    TallyOp::No => {}
                }
            }
        }
        self.problems.extend(b.problems);
        // the bytes go out in runs: a run ends where a later name of an inode is
        // written as a link instead of its serialized entry
        let (mut start, mut run) = (0, 0);
        for rec in b.recs {
            let end = rec.end;
            self.progress.entries.fetch_add(1, Ordering::Relaxed);
            if let Some(path) = rec.linkable {
                let key = (rec.meta.dev, rec.meta.ino);
                if let Some(first) = self.seen.get(&key) {
                    let first = first.clone();
                    self.tar.get_mut().write_all(&b.bytes[run..start])?;
                    self.put_one(&path, &rec.meta, &Body::HardLink(&first))?;
                    (start, run) = (end, end);
                    continue;
                }
                self.seen.insert(key, path);
            }
            start = end;
            self.problems.extend(rec.problems);
            self.redacted.extend(rec.redacted);
            let c = &mut self.counts;
            match rec.count {
                Count::Dir => {
                    c.entries += 1;
                    c.dirs += 1;
                }
                Count::Kept(n) => {
                    c.entries += 1;
                    c.files += 1;
                    c.contents_kept += 1;
                    self.progress.kept.fetch_add(n, Ordering::Relaxed);
                }
                Count::Omitted(n) => {
                    c.entries += 1;
                    c.files += 1;
                    c.contents_omitted += 1;
                    c.bytes_omitted += n;
                }
                Count::Symlink => {
                    c.entries += 1;
                    c.symlinks += 1;
                }
                Count::Special => {
                    c.entries += 1;
                    c.special += 1;
                }
                Count::Socket => c.sockets_skipped += 1,
                Count::Nothing => {}
            }
        }
        self.tar.get_mut().write_all(&b.bytes[run..start])
    }
}

/// A slot the writer waits on for one block.
struct Slot<'r> {
    block: Mutex<Option<io::Result<Block<'r>>>>,
    ready: Condvar,
}

impl<'r> Slot<'r> {
    fn fill(&self, b: io::Result<Block<'r>>) {
        *self.block.lock().unwrap_or_else(PoisonError::into_inner) = Some(b);
        self.ready.notify_one();
    }

    fn wait(&self) -> io::Result<Block<'r>> {
        let mut g = self.block.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(b) = g.take() {
                return b;
            }
            g = self.ready.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A directory (or piece) to read, and where its block goes.
type Job<'r> = (Work<'r>, Arc<Slot<'r>>);

/// The jobs for the workers: the last pushed is taken first (the writer pushes the
/// one it needs soonest last).
struct Queue<'r> {
    jobs: Mutex<(Vec<Job<'r>>, bool)>,
    more: Condvar,
}

impl<'r> Queue<'r> {
    fn push(&self, job: Job<'r>) {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .0
            .push(job);
        self.more.notify_one();
    }

    fn take(&self) -> Option<Job<'r>> {
        let mut g = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if g.1 {
                return None;
            }
            if let Some(j) = g.0.pop() {
                return Some(j);
            }
            g = self.more.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn close(&self) {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.more.notify_all();
    }
}

/// Closes the queue however the writer leaves (error or not), so the workers end.
struct Closer<'q, 'r>(&'q Queue<'r>);

impl Drop for Closer<'_, '_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

fn worker(ctx: &Ctx<'_>, q: &Queue<'_>) {
    while let Some((w, slot)) = q.take() {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(ctx, w)))
            .unwrap_or_else(|_| Err(io::Error::other("a capture worker failed")));
        slot.fill(r);
    }
}

enum Step<'r> {
    Waiting(Work<'r>),
    Launched(Arc<Slot<'r>>),
}

/// Launch the steps nearest the top of the stack: the top always, the others while
/// fewer than `AHEAD` are in flight. Launched last is taken first.
fn launch<'r>(stack: &mut [Step<'r>], q: &Queue<'r>, in_flight: &mut usize) {
    let mut picked = Vec::new();
    for (k, i) in (0..stack.len()).rev().enumerate() {
        if k > 0 && *in_flight + picked.len() >= AHEAD {
            break;
        }
        if matches!(stack[i], Step::Waiting(_)) {
            picked.push(i);
        }
        if k >= AHEAD {
            break;
        }
    }
    for &i in picked.iter().rev() {
        let slot = Arc::new(Slot {
            block: Mutex::new(None),
            ready: Condvar::new(),
        });
        let Step::Waiting(w) = std::mem::replace(&mut stack[i], Step::Launched(Arc::clone(&slot)))
        else {
            unreachable!("picked a waiting step")
        };
        q.push((w, slot));
        *in_flight += 1;
    }
}

/// Write the whole tree of `root` under `prefix/`.
pub fn write_tree<W: Write + Send>(
    sink: &mut Sink<'_, W>,
    ctx: &Ctx<'_>,
    root: &DataRoot,
    prefix: &str,
    top_meta: &Meta,
) -> io::Result<()> {
    let top = Arc::new(root.top()?);
    sink.put_one(prefix.as_bytes(), top_meta, &Body::Dir)?;
    let q = Queue {
        jobs: Mutex::new((Vec::new(), false)),
        more: Condvar::new(),
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 8));
    std::thread::scope(|s| {
        let _closer = Closer(&q);
        for _ in 0..workers {
            s.spawn(|| worker(ctx, &q));
        }
        let mut stack: Vec<Step<'_>> = Vec::new();
        let mut held: Vec<Pending<'_>> = Vec::new();
        let mut in_flight = 0usize;
        let mut next = Some(read_dir(
            ctx,
            &top,
            prefix.as_bytes().to_vec(),
            Arc::new(Vec::new()),
        )?);
        loop {
            let mut b = if let Some(b) = next.take() {
                b
            } else {
                launch(&mut stack, &q, &mut in_flight);
                match stack.pop() {
                    None => break,
                    Some(Step::Launched(slot)) => {
                        in_flight -= 1;
                        slot.wait()?
                    }
                    Some(Step::Waiting(w)) => work(ctx, w)?,
                }
            };
            let subdirs = std::mem::take(&mut b.subdirs);
            let rest = std::mem::take(&mut b.rest);
            let more = b.more;
            sink.put(b)?;
            held.extend(subdirs);
            if !more {
                stack.extend(held.drain(..).rev().map(|p| Step::Waiting(Work::Sub(p))));
            }
            stack.extend(
                rest.into_iter()
                    .rev()
                    .map(|p| Step::Waiting(Work::Piece(p))),
            );
        }
        Ok(())
    })
}
