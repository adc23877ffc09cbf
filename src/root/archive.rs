//! A tar archive of a data root, indexed in memory in one streaming pass.
//!
//! Headers give every entry's kind, size, mode, owner and link target, so sizes,
//! listings and links are exact. Small metadata files are kept in memory; layer
//! contents (`overlay2/*/diff`, volume data, logs) are not, so a large capture costs
//! memory in proportion to its entries, not its bytes. Allocated blocks are unknown.
//!
//! Memory is bounded whatever the archive claims: a file is kept only when both its
//! stored bytes and its real size are at most `KEEP_LIMIT`, and all kept files together
//! stay within a budget (`DOCKSCOPE_ARCHIVE_MEMORY`, default 256 MiB; past it a file's
//! content is "not kept" and reading it is a problem naming it). A hard link shares its
//! target's bytes. Extension headers (PAX records, GNU long names) are bounded by
//! `HEADER_LIMIT`; a zstd frame asking for a window above `ZSTD_WINDOW_LIMIT` is refused
//! before anything is allocated for it.
//!
//! A file whose content was not kept can still be streamed (`Index::stream`, for `cat`
//! and `export`): the index records where each entry's bytes start in the
//! (decompressed) archive stream, and a second pass over the archive file, through
//! the descriptor opened for the first, skips to them and hands out exactly the
//! entry's bytes through fixed buffers. The last pass's decoder is kept while it is
//! still before the next entry asked for, so entries read in archive order cost one
//! pass in all.

use super::{DirEntry, FileKind, Meta};
use crate::problem::{Problem, ProblemKind};
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Files larger than this are never kept in memory (no metadata file comes close).
const KEEP_LIMIT: u64 = 16 << 20;

/// All kept file contents together, unless `DOCKSCOPE_ARCHIVE_MEMORY` says otherwise.
const DEFAULT_BUDGET: u64 = 256 << 20;

/// The environment variable that sets the budget: bytes, or a number with K, M or G.
pub const BUDGET_ENV: &str = "DOCKSCOPE_ARCHIVE_MEMORY";

/// Bytes the tar reader may read between two entries beyond the previous entry's body:
/// extension headers (PAX records, GNU long names, old GNU sparse maps). Real ones are a
/// few KiB; the tar reader keeps them whole in memory.
const HEADER_LIMIT: u64 = 1 << 20;

/// The largest zstd window accepted (`zstd --long=26`); the decoder allocates it.
const ZSTD_WINDOW_LIMIT: u64 = 64 << 20;

/// Names at the top of a Docker data root, used to find the root inside an archive.
const ROOT_MARKERS: &[&str] = &[
    "image",
    "overlay2",
    "containers",
    "volumes",
    "aufs",
    "overlay",
];

/// The manifest `dockscope capture` writes at the top of its archive.
pub const CAPTURE_MANIFEST: &str = "dockscope-capture.json";

/// PAX records `dockscope capture` adds to each entry (`DOCKSCOPE.*`): what the live
/// root measured that a tar header cannot hold.
#[derive(Default)]
struct CaptureRecords {
    /// `DOCKSCOPE.disk`: allocated bytes (`st_blocks * 512`).
    disk: Option<u64>,
    /// `DOCKSCOPE.size`: `st_size` where the header's differs (directories, redacted files).
    size: Option<u64>,
    /// `DOCKSCOPE.omitted`: the entry holds no content (one hole of its true size).
    omitted: bool,
    /// `DOCKSCOPE.mountpoint`: a directory on another filesystem, not walked.
    mount_point: bool,
}

impl CaptureRecords {
    fn set(&mut self, key: &str, value: &str) {
        match key {
            "DOCKSCOPE.disk" => self.disk = value.parse().ok(),
            "DOCKSCOPE.size" => self.size = value.parse().ok(),
            "DOCKSCOPE.omitted" => self.omitted = value == "1",
            "DOCKSCOPE.mountpoint" => self.mount_point = value == "1",
            _ => {}
        }
    }
}

pub enum ReadError {
    NotArchive,
    Io(io::Error),
}

/// Extended attributes of one entry: (key, value) pairs.
type Xattrs = Box<[(Box<str>, Box<[u8]>)]>;

struct Node {
    name: OsString,
    meta: Meta,
    children: HashMap<OsString, usize>,
    /// Kept content, shared by hard links.
    data: Option<std::sync::Arc<Vec<u8>>>,
    /// The content was not kept because the memory budget was spent.
    over_budget: bool,
    link: Option<PathBuf>,
    /// Extended attributes from PAX `SCHILY.xattr.*` records (boxed: most entries have none).
    xattrs: Option<Xattrs>,
    /// Where the file's bytes start in the decompressed archive stream (`NOT_STREAMED`
    /// for anything but a plain regular file: sparse and omitted entries are not).
    at: u64,
    /// The bytes at `at` are a PAX sparse 1.0 map and the data regions.
    sparse: bool,
}

const NOT_STREAMED: u64 = u64::MAX;

/// A decoder left by the last stream, and its position in the decompressed stream.
type Cursor = Option<(Box<dyn Read + Send>, u64)>;

/// Reads the archive file by offset (`pread`), so passes never share a file position.
struct At {
    file: Arc<File>,
    pos: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// One entry's bytes, streamed from the archive; gives its decoder back when dropped.
pub struct EntryReader {
    inner: Option<Box<dyn Read + Send>>,
    /// Position of `inner` in the decompressed stream.
    pos: u64,
    left: u64,
    home: Arc<Mutex<Cursor>>,
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let Some(inner) = self.inner.as_mut() else {
            return Ok(0);
        };
        let want = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = inner.read(&mut buf[..want])?;
        if n == 0 {
            self.inner = None;
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the archive ends {} bytes before this file does", self.left),
            ));
        }
        self.pos += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

/// A PAX sparse 1.0 entry streamed: the map read first (at most `HEADER_LIMIT` bytes),
/// then zeros for holes and the stored regions' bytes in order.
struct SparseReader {
    inner: EntryReader,
    regions: Vec<(u64, u64)>,
    next: usize,
    pos: u64,
    size: u64,
}

impl SparseReader {
    fn new(mut inner: EntryReader, size: u64) -> io::Result<SparseReader> {
        let bad =
            |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("sparse map: {what}"));
        let mut map: Vec<u8> = Vec::new();
        let mut numbers: Vec<u64> = Vec::new();
        let mut used = 0usize;
        let mut want: Option<u64> = None;
        loop {
            if want.is_some_and(|n| numbers.len() as u64 == 1 + 2 * n) {
                break;
            }
            if let Some(end) = map[used..].iter().position(|&b| b == b'\n') {
                let line =
                    std::str::from_utf8(&map[used..used + end]).map_err(|_| bad("not decimal"))?;
                numbers.push(line.parse().map_err(|_| bad("not decimal"))?);
                used += end + 1;
                if want.is_none() {
                    want = Some(numbers[0]);
                }
                continue;
            }
            if map.len() as u64 >= HEADER_LIMIT {
                return Err(bad("larger than the limit"));
            }
            let at = map.len();
            map.resize(at + 512, 0);
            inner.read_exact(&mut map[at..])?;
        }
        let mut regions = Vec::with_capacity(numbers.len() / 2);
        let mut end = 0u64;
        for pair in numbers[1..].chunks(2) {
            let (off, len) = (pair[0], pair[1]);
            let stop = off
                .checked_add(len)
                .ok_or_else(|| bad("region past the end"))?;
            if off < end || stop > size {
                return Err(bad("regions out of order or past the file's size"));
            }
            end = stop;
            regions.push((off, len));
        }
        Ok(SparseReader {
            inner,
            regions,
            next: 0,
            pos: 0,
            size,
        })
    }
}

impl Read for SparseReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos >= self.size || buf.is_empty() {
                return Ok(0);
            }
            let (hole_end, region) = match self.regions.get(self.next) {
                Some(&(off, len)) => (off, Some(off + len)),
                None => (self.size, None),
            };
            let cap = |n: u64| usize::try_from(n).unwrap_or(usize::MAX).min(buf.len());
            if self.pos < hole_end {
                let n = cap(hole_end - self.pos);
                buf[..n].fill(0);
                self.pos += n as u64;
                return Ok(n);
            }
            let Some(stop) = region else { return Ok(0) };
            if self.pos >= stop {
                self.next += 1;
                continue;
            }
            let n = cap(stop - self.pos);
            let got = self.inner.read(&mut buf[..n])?;
            if got == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the archive ends inside a sparse file's data",
                ));
            }
            self.pos += got as u64;
            return Ok(got);
        }
    }
}

impl Drop for EntryReader {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            if let Ok(mut c) = self.home.lock() {
                *c = Some((inner, self.pos));
            }
        }
    }
}

pub struct Index {
    nodes: Vec<Node>,
    top: usize,
    prefix: String,
    /// Bytes of file content kept, and the most that may be.
    kept: u64,
    budget: u64,
    /// Of `kept`, the bytes of `is_store_bulk` files (at most half the budget).
    kept_snapshot: u64,
    /// The first file not kept for want of budget.
    first_over: Option<String>,
    /// The archive file, for the second pass of `stream`.
    source: Option<Arc<File>>,
    /// The archive is a plain tar: `stream` reads an entry at its offset directly.
    plain: bool,
    cursor: Arc<Mutex<Cursor>>,
}

/// `256M`, `1G`, `65536`: bytes.
fn parse_budget(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&v[..i], 1 << 20),
        (i, 'g' | 'G') => (&v[..i], 1 << 30),
        _ => (v, 1),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(mult)
}

/// The reader below the tar parser: counts what is read while the parser looks for the
/// next entry, and fails past the allowance (the previous body, padding and
/// `HEADER_LIMIT`), so an extension header cannot make the parser allocate without end.
struct Guard<R> {
    inner: R,
    state: std::rc::Rc<GuardState>,
}

#[derive(Default)]
struct GuardState {
    /// Bytes still allowed; `None` outside the header phase.
    allowance: std::cell::Cell<Option<u64>>,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(left) = self.state.allowance.get() {
            match left.checked_sub(n as u64) {
                Some(l) => self.state.allowance.set(Some(l)),
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "extension headers (PAX records or GNU long names) larger than {HEADER_LIMIT} bytes"
                        ),
                    ))
                }
            }
        }
        Ok(n)
    }
}

/// The window a zstd frame header asks for; `None` when the header is not complete.
fn zstd_window(head: &[u8]) -> Option<u64> {
    let fhd = *head.get(4)?;
    let single_segment = fhd & 0x20 != 0;
    let dict_len = [0usize, 1, 2, 4][usize::from(fhd & 3)];
    if !single_segment {
        let wd = *head.get(5)?;
        let log = 10 + u64::from(wd >> 3);
        let base = 1u64 << log;
        return Some(base + (base / 8) * u64::from(wd & 7));
    }
    // Single segment: the window is the frame content size.
    let at = 5 + dict_len;
    let fcs = match fhd >> 6 {
        0 => u64::from(*head.get(at)?),
        1 => u64::from(u16::from_le_bytes(head.get(at..at + 2)?.try_into().ok()?)) + 256,
        2 => u64::from(u32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?)),
        _ => u64::from_le_bytes(head.get(at..at + 8)?.try_into().ok()?),
    };
    Some(fcs)
}

fn dir_meta(ino: u64) -> Meta {
    Meta {
        kind: FileKind::Dir,
        len: 0,
        disk: None,
        dev: 0,
        ino,
        nlink: 1,
        mode: 0o755,
        uid: 0,
        gid: 0,
        rdev: 0,
        mtime: 0,
        mtime_nsec: 0,
    }
}

/// Contents that are bulky by nature on containerd's store: the files of its overlayfs
/// snapshots (`snapshots/<n>/fs`) and content blobs over 64 KiB (compressed layers, in
/// practice; indexes, manifests and configs are smaller). They are kept for `verify
/// --content`, but from half the budget only, so that they never crowd out the metadata
/// that follows them in the archive: `meta.db` is read whatever the budget's size.
fn is_store_bulk(parts: &[OsString], len: u64) -> bool {
    parts.windows(4).any(|w| {
        w[0] == "io.containerd.snapshotter.v1.overlayfs"
            && w[1] == "snapshots"
            && (w[3] == "fs" || w[3] == "work")
    }) || (len > 64 << 10
        && parts
            .windows(3)
            .any(|w| w[0] == "io.containerd.content.v1.content" && w[1] == "blobs"))
}

/// Layer contents, volume data and logs: read past, never kept.
fn is_bulk(parts: &[OsString]) -> bool {
    parts.windows(3).any(|w| {
        (w[0] == "overlay2" && (w[2] == "diff" || w[2] == "merged" || w[2] == "work"))
            || (w[0] == "volumes" && w[2] == "_data")
    }) || parts
        .last()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains("-json.log"))
}

/// GNU tar's PAX sparse 1.0 data: a map (`count`, then `offset` and `size` per region,
/// one decimal number a line, padded to 512 bytes), then the regions' bytes in order.
/// `None` when the map does not fit the data (the content is then unknown, not guessed).
fn expand_sparse(raw: &[u8], real_size: u64) -> Option<Vec<u8>> {
    let mut pos = 0usize;
    let mut number = || -> Option<u64> {
        let rest = raw.get(pos..)?;
        let end = rest.iter().take(24).position(|&b| b == b'\n')?;
        let n = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
        pos += end + 1;
        Some(n)
    };
    let count = number()?;
    if count > raw.len() as u64 {
        return None;
    }
    let mut regions = Vec::with_capacity(count as usize);
    for _ in 0..count {
        regions.push((number()?, number()?));
    }
    let mut at = pos.div_ceil(512) * 512;
    let mut out = vec![0u8; usize::try_from(real_size).ok()?];
    for (offset, size) in regions {
        let (off, size) = (usize::try_from(offset).ok()?, usize::try_from(size).ok()?);
        let src = raw.get(at..at.checked_add(size)?)?;
        out.get_mut(off..off.checked_add(size)?)?
            .copy_from_slice(src);
        at += size;
    }
    Some(out)
}

/// A PAX time, `seconds[.fraction]`, as seconds and nanoseconds.
fn parse_pax_time(v: &str) -> Option<(i64, u32)> {
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some((secs, nanos))
}

fn open_stream<R: Read + Send + 'static>(file: R) -> Result<Box<dyn Read + Send>, ReadError> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader.fill_buf().map_err(ReadError::Io)?;
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(Box::new(flate2::read::MultiGzDecoder::new(reader)));
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        if let Some(w) = zstd_window(head).filter(|&w| w > ZSTD_WINDOW_LIMIT) {
            return Err(ReadError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "the zstd frame asks for a {w}-byte window, more than the {ZSTD_WINDOW_LIMIT} accepted"
                ),
            )));
        }
        let dec = ruzstd::decoding::StreamingDecoder::new(reader).map_err(|e| {
            ReadError::Io(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        })?;
        return Ok(Box::new(dec));
    }
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Ok(Box::new(reader));
    }
    Err(ReadError::NotArchive)
}

impl Index {
    pub fn read(file: File) -> Result<(Index, Vec<Problem>), ReadError> {
        let mut problems = Vec::new();
        let budget = match std::env::var(BUDGET_ENV) {
            Ok(v) => parse_budget(&v).unwrap_or_else(|| {
                problems.push(Problem::new(
                    "",
                    ProblemKind::Malformed,
                    format!("{BUDGET_ENV}={v:?} is not a size (bytes, or with K, M, G); using {DEFAULT_BUDGET}"),
                ));
                DEFAULT_BUDGET
            }),
            Err(_) => DEFAULT_BUDGET,
        };
        Self::read_with_budget(file, budget, problems)
    }

    fn read_with_budget(
        file: File,
        budget: u64,
        mut problems: Vec<Problem>,
    ) -> Result<(Index, Vec<Problem>), ReadError> {
        let file = Arc::new(file);
        let mut head = [0u8; 4];
        let plain = file.read_at(&mut head, 0).is_ok_and(|n| n == 4)
            && !head.starts_with(&[0x1f, 0x8b])
            && head != [0x28, 0xb5, 0x2f, 0xfd];
        let stream = open_stream(At {
            file: Arc::clone(&file),
            pos: 0,
        })?;
        let state = std::rc::Rc::new(GuardState::default());
        let stream = Guard {
            inner: stream,
            state: std::rc::Rc::clone(&state),
        };
        let mut ix = Index {
            nodes: vec![Node {
                name: OsString::new(),
                meta: dir_meta(1),
                children: HashMap::new(),
                data: None,
                over_budget: false,
                link: None,
                xattrs: None,
                at: NOT_STREAMED,
                sparse: false,
            }],
            top: 0,
            prefix: String::new(),
            kept: 0,
            kept_snapshot: 0,
            budget,
            first_over: None,
            source: Some(file),
            plain,
            cursor: Arc::new(Mutex::new(None)),
        };
        let mut archive = tar::Archive::new(stream);
        let mut entries = archive.entries().map_err(ReadError::Io)?;
        let mut count = 0usize;
        // What the parser may read to reach the next entry: the body of the previous
        // one (not read by us when not kept), its padding, and extension headers.
        let mut allowance = HEADER_LIMIT + 1024;
        loop {
            state.allowance.set(Some(allowance));
            let next = entries.next();
            state.allowance.set(None);
            let Some(entry) = next else { break };
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    problems.push(Problem::new(
                        "",
                        ProblemKind::Malformed,
                        format!("archive unreadable after {count} entries: {e}; the rest is not analysed"),
                    ));
                    break;
                }
            };
            count += 1;
            allowance = entry
                .size()
                .div_ceil(512)
                .saturating_mul(512)
                .saturating_add(HEADER_LIMIT + 1024);
            if let Err(e) = ix.add(&mut entry) {
                let shown = entry
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                problems.push(Problem::new(
                    shown,
                    ProblemKind::Malformed,
                    format!("archive entry not indexed: {e}"),
                ));
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    break;
                }
            }
        }
        if count == 0 {
            return Err(ReadError::NotArchive);
        }
        if let Some(first) = ix.first_over.take() {
            problems.push(Problem::new(
                first,
                ProblemKind::TooLarge,
                format!(
                    "the memory budget for archive contents ({} bytes, {BUDGET_ENV}) is spent: \
                     this file and later ones are not kept, reading them is a problem",
                    ix.budget
                ),
            ));
        }
        ix.fix_nlinks();
        ix.find_top();
        Ok((ix, problems))
    }

    fn add<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> io::Result<()> {
        // GNU tar's PAX sparse format (1.0) stores the real name and size in PAX
        // records and a sparse map ahead of the data; the header name is a stand-in.
        let mut sparse_name = None;
        let mut sparse_size = None;
        let mut sparse_map_in_data = false;
        let mut xattrs: Vec<(Box<str>, Box<[u8]>)> = Vec::new();
        let mut pax_mtime = None;
        let mut capture = CaptureRecords::default();
        if let Some(exts) = entry.pax_extensions()? {
            for ext in exts.flatten() {
                if let Some(key) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                    xattrs.push((key.into(), ext.value_bytes().into()));
                    continue;
                }
                match (ext.key(), ext.value()) {
                    (Ok("mtime"), Ok(v)) => pax_mtime = parse_pax_time(v),
                    (Ok("GNU.sparse.name"), Ok(v)) => sparse_name = Some(PathBuf::from(v)),
                    (Ok("GNU.sparse.major"), Ok(v)) => sparse_map_in_data = v == "1",
                    (Ok("GNU.sparse.realsize" | "GNU.sparse.size"), Ok(v)) => {
                        sparse_size = v.parse::<u64>().ok();
                    }
                    (Ok(k), Ok(v)) if k.starts_with("DOCKSCOPE.") => capture.set(k, v),
                    _ => {}
                }
            }
        }
        let path = match sparse_name {
            Some(p) => p,
            None => entry.path()?.into_owned(),
        };
        let mut parts = Vec::new();
        for c in path.components() {
            match c {
                Component::Normal(p) => parts.push(p.to_owned()),
                Component::CurDir | Component::RootDir => {}
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "path leaves the archive",
                    ))
                }
            }
        }
        let header = entry.header();
        let etype = header.entry_type();
        let kind = match etype {
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                FileKind::File
            }
            tar::EntryType::Directory => FileKind::Dir,
            tar::EntryType::Symlink => FileKind::Symlink,
            tar::EntryType::Char => FileKind::CharDevice,
            tar::EntryType::Block => FileKind::BlockDevice,
            tar::EntryType::Fifo => FileKind::Fifo,
            tar::EntryType::Link => {
                let target = entry.link_name()?.ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "hard link without target")
                })?;
                return self.add_hard_link(&parts, &target);
            }
            _ => return Ok(()), // pax/GNU extension headers are folded in by the tar crate
        };
        let mode = header.mode().unwrap_or(0) & 0o7777;
        let (mtime, mtime_nsec) = pax_mtime
            .unwrap_or_else(|| (i64::try_from(header.mtime().unwrap_or(0)).unwrap_or(0), 0));
        let uid = u32::try_from(header.uid().unwrap_or(0)).unwrap_or(u32::MAX);
        let gid = u32::try_from(header.gid().unwrap_or(0)).unwrap_or(u32::MAX);
        let rdev = match kind {
            FileKind::CharDevice | FileKind::BlockDevice => {
                let major = u64::from(header.device_major().ok().flatten().unwrap_or(0));
                let minor = u64::from(header.device_minor().ok().flatten().unwrap_or(0));
                (major << 8) | minor
            }
            _ => 0,
        };
        let link = if kind == FileKind::Symlink {
            entry.link_name()?.map(std::borrow::Cow::into_owned)
        } else {
            None
        };
        let len = match kind {
            FileKind::File => sparse_size.unwrap_or_else(|| entry.size()),
            FileKind::Symlink => link.as_ref().map_or(0, |l| l.as_os_str().len() as u64),
            _ => 0,
        };
        // Bytes stored for this entry (for PAX sparse: the map and the data regions).
        let stored = entry.size();
        let at = if kind == FileKind::File
            && etype != tar::EntryType::GNUSparse
            && !capture.omitted
            && ((sparse_size.is_none() && stored == len) || sparse_map_in_data)
        {
            entry.raw_file_position()
        } else {
            NOT_STREAMED
        };
        let mut over_budget = false;
        let data = if kind == FileKind::File
            && !capture.omitted
            && (sparse_size.is_none() || sparse_map_in_data)
            && len <= KEEP_LIMIT
            && stored <= KEEP_LIMIT
            // a capture says itself which contents it left out (`DOCKSCOPE.omitted`):
            // layer files it holds were asked for (`--include-content`)
            && (capture.disk.is_some() || !is_bulk(&parts))
        {
            // The most this entry can cost: what is read, and what it expands to.
            let need = stored.max(len);
            // a capture's manifest comes last and is always kept (it is small)
            let manifest = parts.len() == 1 && parts[0] == CAPTURE_MANIFEST;
            let snapshot = is_store_bulk(&parts, len);
            let over = self.kept.saturating_add(need) > self.budget
                || (snapshot && self.kept_snapshot.saturating_add(need) > self.budget / 2);
            if over && !manifest {
                over_budget = true;
                if self.first_over.is_none() {
                    self.first_over = Some(
                        parts
                            .iter()
                            .map(|p| p.to_string_lossy())
                            .collect::<Vec<_>>()
                            .join("/"),
                    );
                }
                None
            } else {
                let mut buf = Vec::with_capacity(stored as usize);
                // Never more than claimed: an old GNU sparse entry reads as its real size.
                entry.take(KEEP_LIMIT + 1).read_to_end(&mut buf)?;
                let data = if buf.len() as u64 > KEEP_LIMIT {
                    None
                } else if sparse_size.is_some() {
                    // small sparse metadata files exist: bbolt files (`volumes/metadata.db`)
                    expand_sparse(&buf, len)
                } else {
                    Some(buf)
                };
                if let Some(d) = &data {
                    self.kept += d.len() as u64;
                    if snapshot {
                        self.kept_snapshot += d.len() as u64;
                    }
                }
                data.map(std::sync::Arc::new)
            }
        } else {
            None
        };
        if parts.is_empty() {
            return Ok(()); // "./" itself
        }
        let node = self.insert(&parts);
        let ino = self.nodes[node].meta.ino;
        let n = &mut self.nodes[node];
        n.meta = Meta {
            kind,
            // a capture records the live st_size where the archive's differs (directories,
            // files whose Env values were redacted)
            len: capture.size.unwrap_or(len),
            disk: capture.disk,
            dev: u64::from(capture.mount_point),
            ino,
            nlink: 1,
            mode,
            uid,
            gid,
            rdev,
            mtime,
            mtime_nsec,
        };
        n.data = data;
        n.over_budget = over_budget;
        n.link = link;
        n.xattrs = (!xattrs.is_empty()).then(|| xattrs.into_boxed_slice());
        n.at = at;
        n.sparse = sparse_size.is_some();
        Ok(())
    }

    fn add_hard_link(&mut self, parts: &[OsString], target: &Path) -> io::Result<()> {
        let target_parts: Vec<OsString> = target
            .components()
            .filter_map(|c| match c {
                Component::Normal(p) => Some(p.to_owned()),
                _ => None,
            })
            .collect();
        let src = self.lookup(&target_parts).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "hard link to {} which the archive does not hold before it",
                    target.display()
                ),
            )
        })?;
        let meta = self.nodes[src].meta;
        // Shared, not copied: a thousand links to one body cost one body.
        let data = self.nodes[src].data.clone();
        let over_budget = self.nodes[src].over_budget;
        let xattrs = self.nodes[src].xattrs.clone();
        let (at, sparse) = (self.nodes[src].at, self.nodes[src].sparse);
        let node = self.insert(parts);
        let n = &mut self.nodes[node];
        n.at = at;
        n.sparse = sparse;
        n.meta = meta;
        n.data = data;
        n.over_budget = over_budget;
        n.xattrs = xattrs;
        Ok(())
    }

    fn lookup(&self, parts: &[OsString]) -> Option<usize> {
        let mut cur = 0;
        for p in parts {
            cur = *self.nodes[cur].children.get(p)?;
        }
        Some(cur)
    }

    /// Find or create the node for `parts`, creating parent directories on the way.
    fn insert(&mut self, parts: &[OsString]) -> usize {
        let mut cur = 0;
        for p in parts {
            cur = if let Some(&c) = self.nodes[cur].children.get(p) {
                c
            } else {
                let id = self.nodes.len();
                self.nodes.push(Node {
                    name: p.clone(),
                    meta: dir_meta(id as u64 + 1),
                    children: HashMap::new(),
                    data: None,
                    over_budget: false,
                    link: None,
                    xattrs: None,
                    at: NOT_STREAMED,
                    sparse: false,
                });
                self.nodes[cur].children.insert(p.clone(), id);
                id
            };
        }
        cur
    }

    fn fix_nlinks(&mut self) {
        let mut counts: HashMap<u64, u64> = HashMap::new();
        for n in &self.nodes {
            if n.meta.kind != FileKind::Dir {
                *counts.entry(n.meta.ino).or_default() += 1;
            }
        }
        for n in &mut self.nodes {
            if n.meta.kind != FileKind::Dir {
                n.meta.nlink = counts.get(&n.meta.ino).copied().unwrap_or(1);
            }
        }
    }

    /// The data root is the first folder, going down single-child folders, that holds
    /// one of Docker's top-level areas (`docker/` in many captures). A capture's
    /// manifest beside it does not count as a second child, and a `docker/` folder
    /// is taken when the top holds others beside it (`containerd/`).
    fn find_top(&mut self) {
        let mut cur = 0;
        let mut prefix = Vec::new();
        for _ in 0..4 {
            let node = &self.nodes[cur];
            if ROOT_MARKERS
                .iter()
                .any(|m| node.children.contains_key(OsStr::new(m)))
            {
                break;
            }
            if let Some(&docker) = node.children.get(OsStr::new("docker")) {
                if self.nodes[docker].meta.kind == FileKind::Dir && node.children.len() > 1 {
                    prefix.push("docker".to_owned());
                    cur = docker;
                    continue;
                }
            }
            let mut dirs = node
                .children
                .values()
                .filter(|&&c| self.nodes[c].meta.kind == FileKind::Dir);
            let others = node
                .children
                .keys()
                .filter(|k| k.as_os_str() != OsStr::new(CAPTURE_MANIFEST))
                .count();
            match (dirs.next(), dirs.next(), others) {
                (Some(&only), None, 1) => {
                    prefix.push(self.nodes[only].name.to_string_lossy().into_owned());
                    cur = only;
                }
                _ => break,
            }
        }
        self.top = cur;
        self.prefix = prefix.join("/");
    }

    /// The node at a `/`-separated path from the archive's own top.
    pub fn lookup_rel(&self, rel: &str) -> Option<usize> {
        let parts: Vec<OsString> = rel
            .split('/')
            .filter(|p| !p.is_empty())
            .map(OsString::from)
            .collect();
        self.lookup(&parts)
    }

    /// The bytes of a capture's manifest: `dockscope-capture.json` at the archive's top
    /// or in the data root's folder.
    pub fn capture_manifest(&self) -> Option<&[u8]> {
        [0, self.top].iter().find_map(|&n| {
            let c = *self.nodes[n].children.get(OsStr::new(CAPTURE_MANIFEST))?;
            self.nodes[c].data.as_deref().map(Vec::as_slice)
        })
    }

    pub fn top(&self) -> usize {
        self.top
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn child(&self, node: usize, name: &OsStr) -> io::Result<usize> {
        self.nodes[node]
            .children
            .get(name)
            .copied()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    pub fn meta(&self, node: usize) -> Meta {
        self.nodes[node].meta
    }

    pub fn entries(&self, node: usize) -> Vec<DirEntry> {
        self.nodes[node]
            .children
            .iter()
            .map(|(name, &c)| DirEntry {
                name: name.clone(),
                kind: Some(self.nodes[c].meta.kind),
            })
            .collect()
    }

    pub fn content(&self, node: usize) -> io::Result<Vec<u8>> {
        let n = &self.nodes[node];
        if let Some(d) = &n.data {
            return Ok(d.as_ref().clone());
        }
        if n.over_budget {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!(
                    "not kept: the memory budget for archive contents ({} bytes) was spent \
                     before it; raise {BUDGET_ENV} or unpack the archive",
                    self.budget
                ),
            ));
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "layer content is not kept when reading an archive",
        ))
    }

    /// A regular file's bytes for streaming: kept ones from memory, the others read
    /// again from the archive file (a second pass, skipping to the entry; memory
    /// bounded by the decoder's buffers whatever the entry's size).
    pub fn stream(&self, node: usize) -> io::Result<Box<dyn Read + Send>> {
        let n = &self.nodes[node];
        if let Some(d) = &n.data {
            return Ok(Box::new(io::Cursor::new(d.as_ref().clone())));
        }
        let (Some(file), true) = (&self.source, n.at != NOT_STREAMED) else {
            return self
                .content(node)
                .map(|d| Box::new(io::Cursor::new(d)) as _);
        };
        let (at, len, sparse) = (n.at, n.meta.len, n.sparse);
        if self.plain && !sparse {
            return Ok(Box::new(
                At {
                    file: Arc::clone(file),
                    pos: at,
                }
                .take(len),
            ));
        }
        let cached = self.cursor.lock().ok().and_then(|mut c| c.take());
        let (mut dec, pos) = match cached {
            Some((dec, pos)) if pos <= at => (dec, pos),
            _ => {
                let dec = open_stream(At {
                    file: Arc::clone(file),
                    pos: 0,
                })
                .map_err(|e| match e {
                    ReadError::Io(e) => e,
                    ReadError::NotArchive => {
                        io::Error::new(io::ErrorKind::InvalidData, "the archive changed")
                    }
                })?;
                (dec, 0)
            }
        };
        let skipped = io::copy(&mut (&mut dec).take(at - pos), &mut io::sink())?;
        if skipped != at - pos {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the archive ends before this file's bytes",
            ));
        }
        let inner = EntryReader {
            inner: Some(dec),
            pos: at,
            // a sparse entry's stored length is its map's and regions' (read from the map)
            left: if sparse { u64::MAX } else { len },
            home: Arc::clone(&self.cursor),
        };
        if sparse {
            return Ok(Box::new(SparseReader::new(inner, len)?));
        }
        Ok(Box::new(inner))
    }

    pub fn xattr(&self, node: usize, key: &str) -> Option<Vec<u8>> {
        self.nodes[node]
            .xattrs
            .as_ref()?
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v.to_vec())
    }

    pub fn link_target(&self, node: usize) -> io::Result<PathBuf> {
        self.nodes[node]
            .link
            .clone()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a symbolic link"))
    }
}

#[cfg(test)]
mod sparse_tests {
    use super::expand_sparse;

    /// A PAX sparse 1.0 body: the map, padded to 512 bytes, then the data regions.
    fn body(map: &str, data: &[u8]) -> Vec<u8> {
        let mut b = map.as_bytes().to_vec();
        b.resize(b.len().div_ceil(512) * 512, 0);
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn sparse_regions_are_placed_and_holes_zeroed() {
        let raw = body("2\n0\n3\n8192\n2\n", b"abcXY");
        let out = expand_sparse(&raw, 8200).unwrap();
        assert_eq!(out.len(), 8200);
        assert_eq!(&out[..3], b"abc");
        assert!(out[3..8192].iter().all(|&b| b == 0));
        assert_eq!(&out[8192..8194], b"XY");
    }

    #[test]
    fn a_map_that_does_not_fit_is_refused() {
        // region beyond the real size, data shorter than the map says, garbage map
        assert!(expand_sparse(&body("1\n100\n10\n", &[1; 10]), 50).is_none());
        assert!(expand_sparse(&body("1\n0\n10\n", &[1; 4]), 50).is_none());
        assert!(expand_sparse(b"x\n", 50).is_none());
        assert!(expand_sparse(b"", 50).is_none());
        assert!(expand_sparse(&body("99999999999\n", &[]), 50).is_none());
    }
}
