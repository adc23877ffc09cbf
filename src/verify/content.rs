//! One layer's files against its tar-split (levels `--content` and `--deep`).
//!
//! Every type 1 entry of `layerdb/sha256/<chain>/tar-split.json.gz` is a file Docker
//! extracted into `overlay2/<cache-id>/diff`, translated by the overlay whiteout
//! converter (format reference §4.4): `dir/.wh.<name>` became a character device 0/0
//! `dir/<name>`, `dir/.wh..wh..opq` the xattr `trusted.overlay.opaque=y` on `dir`.
//! Each entry is compared with the file of that name: type, mode, owner, size, link
//! target, device numbers, PAX xattrs and the CRC-64 of the content; then the files on
//! disk that no entry names are listed. `--deep` also rebuilds the tar as Docker does
//! for `docker save` (segments verbatim, file contents by name) and hashes it.

use super::tarsplit::{self, FileEntry, Header, HeaderParser, Item};

use super::{Kind, Progress, RawFinding};
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, Dir, FileKind, FileReader, Meta};
use rayon::prelude::*;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicUsize, Ordering};

/// tar-split's `CRCTable = crc64.MakeTable(crc64.ISO)`: CRC-64/GO-ISO.
static CRC: crc::Crc<u64, crc::Table<16>> =
    crc::Crc::<u64, crc::Table<16>>::new(&crc::CRC_64_GO_ISO);

/// Streaming buffer: two of these per layer being rebuilt, one per content worker.
const BUF: usize = 1 << 20;
/// Entries compared per parallel task (they share an open parent directory).
const CHUNK: usize = 128;

const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const OPAQUE_NAME: &[u8] = b".wh..wh..opq";
const WHITEOUT_PREFIX: &[u8] = b".wh.";

/// What a layer's check is asked to do.
pub struct Job<'a> {
    /// `image/overlay2/layerdb/sha256/<chain>/tar-split.json.gz`
    pub tar_split: String,
    /// `overlay2/<cache-id>/diff`
    pub diff: String,
    /// Rebuild the tar and hash it.
    pub deep: bool,
    pub progress: Option<&'a Progress>,
    /// Layers not finished yet, all jobs together: while there are more than threads,
    /// each thread hashes its own layer; at the tail, one layer's SHA-256 and CRC-64
    /// run on two threads.
    pub pending: Option<&'a AtomicUsize>,
}

/// What a layer's check found.
#[derive(Default)]
pub struct Outcome {
    pub findings: Vec<RawFinding>,
    pub problems: Vec<Problem>,
    /// Tar entries compared.
    pub files: u64,
    /// File bytes read.
    pub bytes: u64,
    /// `--deep`: `sha256:<hex>` of the rebuilt tar.
    pub rebuilt: Option<String>,
    /// The tar-split was read to its end (else nothing below is meaningful).
    pub tar_split_ok: bool,
    /// Some contents could not be read because the root is an archive.
    pub contents_unread: bool,
    pub owners: OwnerStats,
}

/// Owners seen on disk, to tell a capture that did not keep owners (one user owns
/// everything) or a remapped root (every id shifted) from files chowned one by one.
#[derive(Default, Clone, Debug)]
pub struct OwnerStats {
    /// Distinct `uid:gid` on disk (two at most: two means "several").
    pub disk: Vec<(u32, u32)>,
    /// Distinct shifts disk minus tar (two at most).
    pub shift: Vec<(i64, i64)>,
}

fn push_distinct<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if v.len() < 2 && !v.contains(&x) {
        v.push(x);
    }
}

impl OwnerStats {
    fn note(&mut self, tar: (u64, u64), disk: (u32, u32)) {
        push_distinct(&mut self.disk, disk);
        let d = |a: u32, b: u64| i64::from(a) - i64::try_from(b).unwrap_or(i64::MAX);
        push_distinct(&mut self.shift, (d(disk.0, tar.0), d(disk.1, tar.1)));
    }

    pub fn merge(&mut self, o: &OwnerStats) {
        for &x in &o.disk {
            push_distinct(&mut self.disk, x);
        }
        for &x in &o.shift {
            push_distinct(&mut self.shift, x);
        }
    }
}

/// What one tar entry asks of the disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// A file, directory, link, device or FIFO at `path`, as its header says.
    Entry,
    /// A whiteout: character device 0/0 at `path`.
    Whiteout,
    /// An opaque marker on the directory `path`.
    Opaque,
}

struct Expect {
    path: Vec<u8>,
    want: Want,
    size: u64,
    crc: Option<u64>,
    header: Option<Header>,
}

/// The kind a tar type flag extracts to; `None` for flags Docker does not extract.
fn header_kind(typeflag: u8) -> Option<&'static str> {
    Some(match typeflag {
        b'0' | 0 | b'7' | b'S' => "file",
        b'1' => "hard-link",
        b'2' => "symlink",
        b'3' => "char-device",
        b'4' => "block-device",
        b'5' => "dir",
        b'6' => "fifo",
        _ => return None,
    })
}

fn kind_str(k: FileKind) -> &'static str {
    match k {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
        FileKind::CharDevice => "char-device",
        FileKind::BlockDevice => "block-device",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
        FileKind::Unknown => "unknown",
    }
}

fn disk_kind_matches(want: &str, k: FileKind) -> bool {
    matches!(
        (want, k),
        ("file" | "hard-link", FileKind::File)
            | ("symlink", FileKind::Symlink)
            | ("char-device", FileKind::CharDevice)
            | ("block-device", FileKind::BlockDevice)
            | ("dir", FileKind::Dir)
            | ("fifo", FileKind::Fifo)
    )
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn crc_hex(c: u64) -> String {
    format!("{c:016x}")
}

fn major(rdev: u64) -> u64 {
    ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff)
}

fn minor(rdev: u64) -> u64 {
    ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff)
}

/// Classify a tar entry by the overlay whiteout converter's rules.
fn expect(entry: &FileEntry, header: Option<Header>) -> Option<Expect> {
    let path = tarsplit::clean(&entry.name)?;
    // AUFS metadata at the top (`.wh..wh.plnk/`, `.wh..wh.aufs`): Docker skips it.
    if path.starts_with(b".wh..wh.") && path != OPAQUE_NAME {
        return None;
    }
    let (dir, base) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&b""[..], &path[..]),
    };
    let (path, want) = if base == OPAQUE_NAME {
        (dir.to_vec(), Want::Opaque)
    } else if let Some(name) = base.strip_prefix(WHITEOUT_PREFIX) {
        let mut p = dir.to_vec();
        if !p.is_empty() {
            p.push(b'/');
        }
        p.extend_from_slice(name);
        (p, Want::Whiteout)
    } else {
        (path, Want::Entry)
    };
    Some(Expect {
        path,
        want,
        size: entry.size,
        crc: entry.crc,
        header,
    })
}

/// Open directories of one layer's `diff/`: a cursor on the path last asked for. Each
/// directory is opened once from its parent's descriptor as the cursor moves down, so a
/// walk in tar or depth-first order costs one `openat` per directory however deep (a
/// reopen from `diff/` per entry made a 20,000-deep chain quadratic). Only the deepest
/// `OPEN_LIMIT` directories of the path stay open; moving back above them reopens from
/// the nearest one still open.
pub(super) struct Tree<'r> {
    pub(super) base: Dir<'r>,
    /// The cursor's path, and where each of its components ends in it.
    cur: Vec<u8>,
    ends: Vec<usize>,
    /// (depth, directory) for the deepest open levels of the cursor, shallowest first;
    /// depth `k` is the directory `cur[..ends[k - 1]]`.
    open: std::collections::VecDeque<(usize, Dir<'r>)>,
}

/// Directories a `Tree` keeps open at once.
const OPEN_LIMIT: usize = 32;

pub(super) fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

impl<'r> Tree<'r> {
    pub(super) fn new(root: &'r DataRoot, diff: &str) -> io::Result<Self> {
        Ok(Tree {
            base: root.dir(diff)?,
            cur: Vec::new(),
            ends: Vec::new(),
            open: std::collections::VecDeque::new(),
        })
    }

    /// How many leading components `rel` shares with the cursor.
    fn common(&self, rel: &[u8]) -> usize {
        // The common byte prefix, compared a block at a time (paths can be very long).
        let n = self.cur.len().min(rel.len());
        let mut k = 0;
        while k + 64 <= n && self.cur[k..k + 64] == rel[k..k + 64] {
            k += 64;
        }
        while k < n && self.cur[k] == rel[k] {
            k += 1;
        }
        let below = self.ends.partition_point(|&e| e < k);
        let at_boundary = |p: &[u8]| p.len() == k || p.get(k) == Some(&b'/');
        if self.ends.get(below) == Some(&k) && at_boundary(&self.cur) && at_boundary(rel) {
            below + 1
        } else {
            below
        }
    }

    /// The directory `rel` (relative to `diff/`), never following a symlink.
    pub(super) fn dir(&mut self, rel: &[u8]) -> io::Result<&Dir<'r>> {
        if rel.is_empty() {
            return Ok(&self.base);
        }
        let common = self.common(rel);
        self.ends.truncate(common);
        self.cur.truncate(self.ends.last().copied().unwrap_or(0));
        while self.open.back().is_some_and(|(d, _)| *d > common) {
            self.open.pop_back();
        }
        // Reopen the levels above that were closed, from the deepest one still open.
        let mut depth = self.open.back().map_or(0, |(d, _)| *d);
        while depth < common {
            let start = if depth == 0 {
                0
            } else {
                self.ends[depth - 1] + 1
            };
            let name = OsStr::from_bytes(&self.cur[start..self.ends[depth]]);
            let next = match self.open.back() {
                Some((_, d)) => d.sub(name),
                None => self.base.sub(name),
            };
            match next {
                Ok(d) => self.push_open(depth + 1, d),
                Err(e) => {
                    self.ends.truncate(depth);
                    self.cur.truncate(self.ends.last().copied().unwrap_or(0));
                    return Err(e);
                }
            }
            depth += 1;
        }
        // Then down to `rel`.
        let rest = if common == 0 {
            rel
        } else {
            &rel[(self.cur.len() + 1).min(rel.len())..]
        };
        if !rest.is_empty() {
            for part in rest.split(|&b| b == b'/') {
                let next = match self.open.back() {
                    Some((_, d)) => d.sub(OsStr::from_bytes(part)),
                    None => self.base.sub(OsStr::from_bytes(part)),
                }?;
                if !self.cur.is_empty() {
                    self.cur.push(b'/');
                }
                self.cur.extend_from_slice(part);
                self.ends.push(self.cur.len());
                depth += 1;
                self.push_open(depth, next);
            }
        }
        Ok(&self.open.back().expect("rel is not empty").1)
    }

    fn push_open(&mut self, depth: usize, d: Dir<'r>) {
        self.open.push_back((depth, d));
        if self.open.len() > OPEN_LIMIT {
            self.open.pop_front();
        }
    }

    pub(super) fn lstat(&mut self, path: &[u8]) -> io::Result<Meta> {
        let (parent, name) = split(path);
        if name.is_empty() {
            return self.base.meta();
        }
        self.dir(parent)?.lstat(OsStr::from_bytes(name))
    }
}

/// Not there: no such name, or a parent that is not a directory (a file or a symlink,
/// never followed), or a name no file can have.
fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
    )
}

struct Checker<'r, 'a> {
    diff: &'a str,
    tree: Tree<'r>,
    findings: Vec<RawFinding>,
    problems: Vec<Problem>,
    contents_unread: bool,
    owners: OwnerStats,
}

impl<'r, 'a> Checker<'r, 'a> {
    /// A checker for one layer's `diff/` dir.
    fn new(root: &'r DataRoot, diff: &'a str) -> io::Result<Self> {
        Ok(Checker {
            diff,
            tree: Tree::new(root, diff)?,
            findings: Vec::new(),
            problems: Vec::new(),
            contents_unread: false,
            owners: OwnerStats::default(),
        })
    }

    fn finding(&mut self, kind: Kind, path: &[u8], expected: Value, found: Value) {
        self.findings.push(RawFinding {
            kind,
            file: Some(lossy(path)),
            expected,
            found,
            detail: None,
        });
    }

    fn problem(&mut self, path: &[u8], e: &io::Error) {
        let rel = if path.is_empty() {
            self.diff.to_owned()
        } else {
            format!("{}/{}", self.diff, lossy(path))
        };
        self.problems.push(Problem::io(rel, e));
    }

    /// Compare one entry's metadata; for a regular file with content, return it open.
    fn check(&mut self, e: &Expect) -> Option<(FileReader, Meta)> {
        if e.want == Want::Opaque {
            return None; // checked with the directories, once the whole tar is known
        }
        if e.path.is_empty() {
            return None; // "./": Docker's untar skips the root entry
        }
        let meta = match self.tree.lstat(&e.path) {
            Ok(m) => m,
            Err(err) if is_absent(&err) => {
                let want = match e.want {
                    Want::Whiteout => "whiteout",
                    _ => e
                        .header
                        .as_ref()
                        .and_then(|h| header_kind(h.typeflag))
                        .unwrap_or("entry"),
                };
                self.finding(Kind::ContentMissing, &e.path, json!(want), Value::Null);
                return None;
            }
            Err(err) => {
                self.problem(&e.path, &err);
                return None;
            }
        };
        if e.want == Want::Whiteout {
            if meta.kind != FileKind::CharDevice || meta.rdev != 0 {
                let found = if meta.kind == FileKind::CharDevice {
                    format!("char-device {},{}", major(meta.rdev), minor(meta.rdev))
                } else {
                    kind_str(meta.kind).to_owned()
                };
                self.finding(Kind::TypeChanged, &e.path, json!("whiteout"), json!(found));
            } else if let Some(h) = &e.header {
                self.owner(e, h, &meta);
            }
            return None;
        }
        let Some(h) = &e.header else {
            // Header unreadable (a problem says so): the tar-split's own facts only.
            if e.size > 0 && meta.kind != FileKind::File {
                self.finding(
                    Kind::TypeChanged,
                    &e.path,
                    json!("file"),
                    json!(kind_str(meta.kind)),
                );
                return None;
            }
            return self.open_content(e, &meta);
        };
        let want = header_kind(h.typeflag)?;
        if !disk_kind_matches(want, meta.kind) {
            self.finding(
                Kind::TypeChanged,
                &e.path,
                json!(want),
                json!(kind_str(meta.kind)),
            );
            return None;
        }
        match want {
            "hard-link" => {
                self.hard_link(e, h, &meta);
                return None; // the inode is checked through the entry that holds its data
            }
            "symlink" => {
                let (parent, name) = split(&e.path);
                match self
                    .tree
                    .dir(parent)
                    .and_then(|d| d.read_link(OsStr::from_bytes(name)))
                {
                    Ok(t) => {
                        let t = t.as_os_str().as_bytes();
                        if t != h.link.as_slice() {
                            self.finding(
                                Kind::LinkTargetChanged,
                                &e.path,
                                json!(lossy(&h.link)),
                                json!(lossy(t)),
                            );
                        }
                    }
                    Err(err) => self.problem(&e.path, &err),
                }
            }
            "char-device" | "block-device" => {
                let (ma, mi) = (major(meta.rdev), minor(meta.rdev));
                if (ma, mi) != (u64::from(h.dev_major), u64::from(h.dev_minor)) {
                    self.finding(
                        Kind::ContentModified,
                        &e.path,
                        json!(format!("{want} {},{}", h.dev_major, h.dev_minor)),
                        json!(format!("{want} {ma},{mi}")),
                    );
                }
            }
            _ => {}
        }
        if want != "symlink" && meta.mode & 0o7777 != h.mode & 0o7777 {
            self.finding(
                Kind::ModeChanged,
                &e.path,
                json!(format!("{:04o}", h.mode & 0o7777)),
                json!(format!("{:04o}", meta.mode & 0o7777)),
            );
        }
        self.owner(e, h, &meta);
        for (key, value) in &h.xattrs {
            let (parent, name) = split(&e.path);
            let got = self
                .tree
                .dir(parent)
                .and_then(|d| d.get_xattr(OsStr::from_bytes(name), key));
            match got {
                Ok(v) if v.as_deref() == Some(value.as_slice()) => {}
                Ok(v) => self.finding(
                    Kind::XattrChanged,
                    &e.path,
                    json!({ "key": key, "value": lossy(value) }),
                    json!({ "key": key, "value": v.map(|v| lossy(&v)) }),
                ),
                Err(err) => self.problem(&e.path, &err),
            }
        }
        if want == "file" {
            return self.open_content(e, &meta);
        }
        None
    }

    fn owner(&mut self, e: &Expect, h: &Header, meta: &Meta) {
        self.owners.note((h.uid, h.gid), (meta.uid, meta.gid));
        if (u64::from(meta.uid), u64::from(meta.gid)) != (h.uid, h.gid) {
            self.finding(
                Kind::OwnerChanged,
                &e.path,
                json!(format!("{}:{}", h.uid, h.gid)),
                json!(format!("{}:{}", meta.uid, meta.gid)),
            );
        }
    }

    fn hard_link(&mut self, e: &Expect, h: &Header, meta: &Meta) {
        let Some(target) = tarsplit::clean(&h.link) else {
            return;
        };
        let expected = json!(format!("hard link to {}", lossy(&target)));
        match self.tree.lstat(&target) {
            Ok(t) if t.ino == meta.ino && t.dev == meta.dev => {}
            Ok(_) => self.finding(
                Kind::LinkTargetChanged,
                &e.path,
                expected,
                json!("a separate file"),
            ),
            Err(err) if is_absent(&err) => {
                self.finding(
                    Kind::LinkTargetChanged,
                    &e.path,
                    expected,
                    json!("target missing"),
                );
            }
            Err(err) => self.problem(&target, &err),
        }
    }

    /// Size check, then the file open for its CRC (and the rebuilt tar).
    fn open_content(&mut self, e: &Expect, meta: &Meta) -> Option<(FileReader, Meta)> {
        if meta.len != e.size {
            self.finding(
                Kind::ContentModified,
                &e.path,
                json!({ "size": e.size, "crc64": e.crc.map(crc_hex) }),
                json!({ "size": meta.len, "crc64": Value::Null }),
            );
            // --deep still streams it: the rebuilt tar holds what Docker would send.
        }
        if e.size == 0 && meta.len == 0 {
            return None;
        }
        let (parent, name) = split(&e.path);
        match self
            .tree
            .dir(parent)
            .and_then(|d| d.open(OsStr::from_bytes(name)))
        {
            Ok(f) => Some(f),
            Err(err) if err.kind() == io::ErrorKind::Unsupported => {
                self.contents_unread = true;
                None
            }
            Err(err) => {
                self.problem(&e.path, &err);
                None
            }
        }
    }

    /// After the content was read: compare its CRC.
    fn content_read(&mut self, e: &Expect, meta: &Meta, crc: u64) {
        if meta.len == e.size && e.crc.is_some_and(|c| c != crc) {
            self.finding(
                Kind::ContentModified,
                &e.path,
                json!({ "size": e.size, "crc64": e.crc.map(crc_hex) }),
                json!({ "size": meta.len, "crc64": crc_hex(crc) }),
            );
        }
    }
}

/// Fill `buf` as far as the reader goes; the number of bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Stream a file into its CRC (and the tar hash); the CRC and the bytes read.
fn pump(
    r: &mut FileReader,
    mut sha: Option<&mut Sha256>,
    bufs: &mut (Vec<u8>, Vec<u8>),
    progress: Option<&Progress>,
    pending: Option<&AtomicUsize>,
) -> io::Result<(u64, u64)> {
    let threads = rayon::current_num_threads();
    let overlap = || pending.is_some_and(|p| p.load(Ordering::Relaxed) < threads);
    let mut crc = CRC.digest();
    let mut total = 0u64;
    let (a, b) = (&mut bufs.0, &mut bufs.1);
    let mut n = read_full(r, a)?;
    while n > 0 {
        total += n as u64;
        if let Some(p) = progress {
            p.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        let next = if n < a.len() {
            // The last piece: nothing left to overlap with.
            if let Some(s) = sha.as_deref_mut() {
                s.update(&a[..n]);
            }
            crc.update(&a[..n]);
            0
        } else if let (Some(s), true) = (sha.as_deref_mut(), overlap()) {
            // Hash this piece on one thread while another sums its CRC and reads the next.
            let cur = &a[..n];
            let ((), next) = rayon::join(
                || s.update(cur),
                || {
                    crc.update(cur);
                    read_full(r, b)
                },
            );
            std::mem::swap(a, b);
            next?
        } else {
            if let Some(s) = sha.as_deref_mut() {
                s.update(&a[..n]);
            }
            crc.update(&a[..n]);
            read_full(r, a)?
        };
        n = next;
    }
    Ok((crc.finalize(), total))
}

fn new_bufs() -> (Vec<u8>, Vec<u8>) {
    (vec![0u8; BUF], vec![0u8; BUF])
}

/// Check one layer.
pub fn check_layer(root: &DataRoot, job: &Job<'_>) -> Outcome {
    let mut out = Outcome::default();
    let ts = match open_tar_split(root, &job.tar_split) {
        Ok(r) => r,
        Err(e) => {
            out.findings.push(RawFinding {
                kind: Kind::MissingTarSplit,
                file: None,
                expected: json!("tar-split.json.gz"),
                found: if e.kind() == io::ErrorKind::NotFound {
                    Value::Null
                } else {
                    json!(e.to_string())
                },
                detail: Some("without it the layer's files cannot be checked, and Docker cannot export the layer".into()),
            });
            return out;
        }
    };
    let mut checker = match Checker::new(root, &job.diff) {
        Ok(c) => c,
        Err(e) => {
            out.problems.push(Problem::io(job.diff.clone(), &e));
            return out;
        }
    };
    let expects = if job.deep {
        deep_pass(ts, &mut checker, job, &mut out)
    } else {
        content_pass(ts, root, job, &mut out)
    };
    let Some(expects) = expects else {
        out.findings.append(&mut checker.findings);
        out.problems.append(&mut checker.problems);
        return out;
    };
    out.tar_split_ok = true;
    opaque_and_added(&mut checker, &expects);
    out.findings.append(&mut checker.findings);
    out.problems.append(&mut checker.problems);
    out.contents_unread |= checker.contents_unread;
    out.owners.merge(&checker.owners);
    out
}

fn open_tar_split(root: &DataRoot, rel: &str) -> io::Result<tarsplit::Reader<FileReader>> {
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let (f, _) = root.dir(parent)?.open(OsStr::new(name))?;
    Ok(tarsplit::Reader::new(f))
}

/// One step of a tar-split, as `read_all` hands it on.
enum Step<'a> {
    /// Raw tar bytes.
    Bytes(&'a [u8]),
    /// A tar entry, classified.
    Entry(&'a Expect),
}

/// Read the tar-split to its end: its entries, or `None` (with a problem) when unreadable.
fn read_all(
    mut ts: tarsplit::Reader<FileReader>,
    job: &Job<'_>,
    out: &mut Outcome,
    mut each: impl FnMut(Step<'_>),
) -> Option<Vec<Expect>> {
    let mut parser = HeaderParser::default();
    let mut expects = Vec::new();
    loop {
        match ts.next_item() {
            Ok(None) => return Some(expects),
            Ok(Some(Item::Segment(b))) => {
                parser.segment(&b);
                each(Step::Bytes(&b));
            }
            Ok(Some(Item::File(f))) => {
                let header = match parser.file(&f) {
                    Ok(h) if tarsplit::clean(&h.name) == tarsplit::clean(&f.name) => Some(h),
                    Ok(h) => {
                        out.problems.push(Problem::new(
                            job.tar_split.clone(),
                            ProblemKind::Malformed,
                            format!(
                                "entry {:?}: the tar header before it names {:?}; only its name, size and checksum are compared",
                                lossy(&f.name),
                                lossy(&h.name)
                            ),
                        ));
                        None
                    }
                    Err(e) => {
                        out.problems.push(Problem::new(
                            job.tar_split.clone(),
                            ProblemKind::Malformed,
                            format!(
                                "entry {:?}: tar header unreadable ({e}); only its name, size and checksum are compared",
                                lossy(&f.name)
                            ),
                        ));
                        None
                    }
                };
                if let Some(e) = expect(&f, header) {
                    each(Step::Entry(&e));
                    expects.push(e);
                } else if tarsplit::clean(&f.name).is_none() {
                    out.problems.push(Problem::new(
                        job.tar_split.clone(),
                        ProblemKind::Malformed,
                        format!(
                            "entry {:?} climbs out of the layer; not compared",
                            lossy(&f.name)
                        ),
                    ));
                }
            }
            Err(e) => {
                out.problems.push(Problem::new(
                    job.tar_split.clone(),
                    ProblemKind::Malformed,
                    format!("{e}; the layer's files are not compared"),
                ));
                return None;
            }
        }
    }
}

/// `--content`: read the tar-split, then compare the entries in parallel.
fn content_pass(
    ts: tarsplit::Reader<FileReader>,
    root: &DataRoot,
    job: &Job<'_>,
    out: &mut Outcome,
) -> Option<Vec<Expect>> {
    let mut expects = read_all(ts, job, out, |_| {})?;
    // A name given twice: the later entry is what the untar left.
    let mut last: HashMap<&[u8], usize> = HashMap::with_capacity(expects.len());
    for (i, e) in expects.iter().enumerate() {
        if e.want != Want::Opaque {
            last.insert(&e.path, i);
        }
    }
    let keep: Vec<bool> = (0..expects.len())
        .map(|i| {
            expects[i].want == Want::Opaque || last.get(expects[i].path.as_slice()) == Some(&i)
        })
        .collect();
    drop(last);
    let mut i = 0;
    expects.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    #[allow(clippy::type_complexity)]
    let results: Vec<(Vec<RawFinding>, Vec<Problem>, u64, u64, bool, OwnerStats)> = expects
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut c = match Checker::new(root, &job.diff) {
                Ok(c) => c,
                Err(e) => {
                    return (
                        Vec::new(),
                        vec![Problem::io(job.diff.clone(), &e)],
                        0,
                        0,
                        false,
                        OwnerStats::default(),
                    )
                }
            };
            let mut bufs = (vec![0u8; BUF], Vec::new());
            let (mut files, mut bytes) = (0, 0);
            for e in chunk {
                if e.want != Want::Opaque {
                    files += 1;
                }
                if let Some((mut f, meta)) = c.check(e) {
                    match pump(&mut f, None, &mut bufs, job.progress, None) {
                        Ok((crc, n)) => {
                            bytes += n;
                            c.content_read(e, &meta, crc);
                        }
                        Err(err) => c.problem(&e.path, &err),
                    }
                }
                if let Some(p) = job.progress {
                    p.files.fetch_add(1, Ordering::Relaxed);
                }
            }
            (
                c.findings,
                c.problems,
                files,
                bytes,
                c.contents_unread,
                c.owners,
            )
        })
        .collect();
    for (f, p, files, bytes, unread, owners) in results {
        out.owners.merge(&owners);
        out.findings.extend(f);
        out.problems.extend(p);
        out.files += files;
        out.bytes += bytes;
        out.contents_unread |= unread;
    }
    Some(expects)
}

/// `--deep`: one pass in tar order, hashing the rebuilt stream as it goes.
fn deep_pass(
    ts: tarsplit::Reader<FileReader>,
    checker: &mut Checker<'_, '_>,
    job: &Job<'_>,
    out: &mut Outcome,
) -> Option<Vec<Expect>> {
    let mut sha = Sha256::new();
    let mut bufs = new_bufs();
    let (mut files, mut bytes) = (0u64, 0u64);
    let mut stream_ok = true;
    let expects = read_all(ts, job, out, |step| match step {
        Step::Bytes(b) => sha.update(b),
        Step::Entry(e) => {
            if e.want != Want::Opaque {
                files += 1;
            }
            if let Some(p) = job.progress {
                p.files.fetch_add(1, Ordering::Relaxed);
            }
            if let Some((mut f, meta)) = checker.check(e) {
                match pump(&mut f, Some(&mut sha), &mut bufs, job.progress, job.pending) {
                    Ok((crc, n)) => {
                        bytes += n;
                        checker.content_read(e, &meta, crc);
                    }
                    Err(err) => {
                        stream_ok = false;
                        checker.problem(&e.path, &err);
                    }
                }
            } else if e.size > 0 && checker.contents_unread {
                stream_ok = false;
            }
        }
    })?;
    out.files += files;
    out.bytes += bytes;
    if stream_ok && !checker.contents_unread {
        out.rebuilt = Some(format!("sha256:{:x}", sha.finalize()));
    }
    Some(expects)
}

/// Opaque markers against the directories' xattrs, then what is on disk and in no entry.
fn opaque_and_added(c: &mut Checker<'_, '_>, expects: &[Expect]) {
    let mut named: HashSet<&[u8]> = HashSet::with_capacity(expects.len());
    let mut implicit: HashSet<&[u8]> = HashSet::new();
    let mut opaque: HashSet<&[u8]> = HashSet::new();
    let mut dirs: Vec<&[u8]> = Vec::new();
    for e in expects {
        match e.want {
            Want::Opaque => {
                opaque.insert(&e.path);
            }
            Want::Entry | Want::Whiteout => {
                named.insert(&e.path);
                if e.want == Want::Entry
                    && e.header.as_ref().is_some_and(|h| h.typeflag == b'5')
                    && !e.path.is_empty()
                {
                    dirs.push(&e.path);
                }
            }
        }
        // Docker creates missing parent directories: they are not additions.
        let mut p: &[u8] = &e.path;
        while let Some(i) = p.iter().rposition(|&b| b == b'/') {
            p = &p[..i];
            if !implicit.insert(p) {
                break;
            }
        }
    }
    // Every directory Docker extracted: its opaque xattr as the tar says.
    let mut flagged: Vec<&[u8]> = opaque.iter().copied().collect();
    flagged.sort_unstable();
    dirs.sort_unstable();
    dirs.dedup();
    for d in dirs.iter().copied().chain(
        flagged
            .iter()
            .copied()
            .filter(|m| dirs.binary_search(m).is_err()),
    ) {
        let want = opaque.contains(d);
        let (parent, name) = split(d);
        let got = if name.is_empty() {
            c.tree.base.xattr(OPAQUE_XATTR)
        } else {
            c.tree
                .dir(parent)
                .and_then(|p| p.get_xattr(OsStr::from_bytes(name), OPAQUE_XATTR))
        };
        let is = match got {
            Ok(v) => v.as_deref() == Some(b"y"),
            Err(err) if is_absent(&err) => continue, // the directory's own finding says so
            Err(err) => {
                c.problem(d, &err);
                continue;
            }
        };
        let mut marker = d.to_vec();
        if !marker.is_empty() {
            marker.push(b'/');
        }
        marker.extend_from_slice(OPAQUE_NAME);
        if want && !is {
            c.finding(Kind::ContentMissing, &marker, json!("opaque"), Value::Null);
        } else if !want && is {
            c.finding(Kind::ContentAdded, &marker, Value::Null, json!("opaque"));
        }
    }
    // The files on disk that no entry names.
    let mut stack: Vec<Vec<u8>> = vec![Vec::new()];
    while let Some(dir) = stack.pop() {
        let entries = match c.tree.dir(&dir).and_then(Dir::entries) {
            Ok(e) => e,
            Err(err) => {
                c.problem(&dir, &err);
                continue;
            }
        };
        let mut entries = entries;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for ent in entries {
            let mut path = dir.clone();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(ent.name.as_bytes());
            let kind = match ent.kind {
                Some(k) => Some(k),
                None => c.tree.lstat(&path).ok().map(|m| m.kind),
            };
            let known = named.contains(path.as_slice()) || implicit.contains(path.as_slice());
            if !known {
                let found = match c.tree.lstat(&path) {
                    Ok(m) => json!({ "type": kind_str(m.kind), "size": m.len }),
                    Err(_) => json!({ "type": kind.map_or("unknown", kind_str) }),
                };
                c.finding(Kind::ContentAdded, &path, Value::Null, found);
            }
            if kind == Some(FileKind::Dir) {
                stack.push(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cursor gives the directory asked for, whatever the order of the requests.
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn tree_cursor_follows_any_order() {
        let tmp = tempfile::tempdir().unwrap();
        let diff = tmp.path().join("diff");
        let mut deep = diff.clone();
        for _ in 0..(OPEN_LIMIT * 3) {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir_all(diff.join("a/b/c")).unwrap();
        std::fs::create_dir_all(diff.join("a/bc")).unwrap();
        std::fs::create_dir_all(diff.join("ab")).unwrap();
        let root = DataRoot::open(tmp.path()).unwrap();
        let mut t = Tree::new(&root, "diff").unwrap();
        let chain = |n: usize| vec!["d"; n].join("/");
        let mut asks: Vec<String> = vec![
            "a/b/c".into(),
            "a/bc".into(),
            "a/b".into(),
            "ab".into(),
            "a".into(),
            "a/b/c".into(),
        ];
        for n in [1, 50, 96, 3, 70, 96, 1, 40] {
            asks.push(chain(n));
        }
        asks.push("a/b".into());
        for a in &asks {
            let d = t.dir(a.as_bytes()).unwrap();
            assert_eq!(d.rel(), format!("diff/{a}"));
            assert!(d.meta().unwrap().kind == FileKind::Dir);
        }
        assert!(t.dir(b"a/missing").is_err());
        assert_eq!(t.dir(b"a/bc").unwrap().rel(), "diff/a/bc");
        assert!(t.dir(b"ab/x").is_err());
        assert_eq!(
            t.dir(&chain(96).into_bytes()).unwrap().rel(),
            format!("diff/{}", chain(96))
        );
    }

    #[test]
    fn crc_is_go_iso() {
        assert_eq!(CRC.checksum(b"123456789"), 0xB909_56C7_75A4_1001);
        assert_eq!(
            CRC.checksum(b"hello\n").to_be_bytes(),
            [0x61, 0x4c, 0x3e, 0xee, 0xe2, 0xd8, 0x10, 0x00]
        );
    }

    #[test]
    fn whiteouts_follow_the_overlay_converter() {
        let f = |n: &str| FileEntry {
            name: n.as_bytes().to_vec(),
            size: 0,
            crc: None,
        };
        let e = expect(&f("data/sub/.wh.a"), None).unwrap();
        assert_eq!(
            (e.path.as_slice(), e.want),
            (&b"data/sub/a"[..], Want::Whiteout)
        );
        let e = expect(&f("opt/keep/.wh..wh..opq"), None).unwrap();
        assert_eq!(
            (e.path.as_slice(), e.want),
            (&b"opt/keep"[..], Want::Opaque)
        );
        let e = expect(&f("./.wh.top"), None).unwrap();
        assert_eq!((e.path.as_slice(), e.want), (&b"top"[..], Want::Whiteout));
        assert!(expect(&f(".wh..wh.plnk/123"), None).is_none());
        let e = expect(&f(".wh..wh..opq"), None).unwrap();
        assert_eq!((e.path.as_slice(), e.want), (&b""[..], Want::Opaque));
        assert!(expect(&f(".wh..wh.plnk"), None).is_none());
        let e = expect(&f("./bin/busybox"), None).unwrap();
        assert_eq!(
            (e.path.as_slice(), e.want),
            (&b"bin/busybox"[..], Want::Entry)
        );
    }

    #[test]
    fn device_numbers_split_as_glibc_does() {
        let rdev = (1u64 << 8) | 3; // makedev(1, 3)
        assert_eq!((major(rdev), minor(rdev)), (1, 3));
        assert_eq!((major(0), minor(0)), (0, 0));
    }
}
