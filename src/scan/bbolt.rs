//! A read-only walker for bbolt files (`volumes/metadata.db`, ...): over bytes already
//! read through `DataRoot`, or page by page from a file `DataRoot` opened (positioned
//! reads of the pages a walk needs, so a large file is never held whole in memory). No
//! crate that opens or locks the file, no write, no mmap.
//!
//! Layout (bbolt `internal/common/{page,meta}.go`): pages 0 and 1 are meta pages; the
//! valid one with the higher `txid` wins. Branch pages point at child pages, leaf pages
//! hold key/value pairs; a value flagged as a bucket starts with its root page id, and
//! a root of 0 means an inline bucket whose page image follows in the value. Any bytes
//! give `Ok` or an error naming what is wrong: every offset is checked, every page id
//! is bounded by the file, and a page met twice in one walk is a loop.

use std::borrow::Cow;
use std::fmt;
use std::io;

const MAGIC: u32 = 0xED0C_DAED;
const VERSION: u32 = 2;
const PAGE_HEADER: usize = 16;
const META_LEN: usize = 64;
const LEAF_ELEM: usize = 16;
const BRANCH_ELEM: usize = 16;
const BUCKET_HEADER: usize = 16;

const FLAG_BRANCH: u16 = 0x01;
const FLAG_LEAF: u16 = 0x02;
const FLAG_BUCKET: u32 = 0x01;

/// Nested buckets deeper than this are refused (Docker's files nest 3 at most).
const MAX_DEPTH: usize = 64;

/// The largest page size accepted, and so how far into the file page 1 may start.
const MAX_META_SCAN: usize = 65536;

/// Why a bbolt file (or part of it) cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoltError {
    /// Shorter than two meta pages, or than a page it names.
    Truncated(String),
    /// Neither meta page has bbolt's magic number.
    BadMagic,
    /// A meta page has the magic but a wrong version or page size.
    BadMeta(String),
    /// Neither meta page with the magic has a valid FNV-1a checksum.
    BadChecksum,
    /// A page id beyond the file or the meta's high-water mark.
    PageOutOfRange(u64),
    /// A page met twice in one walk (a cycle), or more pages visited than exist.
    Loop(u64),
    /// A page or element that contradicts the format.
    Malformed(String),
}

impl fmt::Display for BoltError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoltError::Truncated(what) => write!(f, "bbolt file truncated: {what}"),
            BoltError::BadMagic => {
                write!(f, "not a bbolt file (no meta page has magic 0xED0CDAED)")
            }
            BoltError::BadMeta(what) => write!(f, "bbolt meta page invalid: {what}"),
            BoltError::BadChecksum => {
                write!(f, "bbolt meta pages fail their FNV-1a checksum")
            }
            BoltError::PageOutOfRange(id) => {
                write!(f, "bbolt page {id} is beyond the end of the file")
            }
            BoltError::Loop(id) => write!(f, "bbolt page {id} is reached twice: a cycle"),
            BoltError::Malformed(what) => write!(f, "bbolt page malformed: {what}"),
        }
    }
}

/// One key/value pair of a bucket (values that are sub-buckets are listed apart).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// The content of one bucket, copied out of the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    pub pairs: Vec<Pair>,
    /// Names of sub-buckets, with their raw bucket values (header + inline page).
    pub buckets: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The content of one bucket as slices of the file's bytes: nothing copied. Elements
/// never overlap one another, so the slices of one bucket together are at most the
/// size of the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketRef<'a> {
    pub pairs: Vec<(&'a [u8], &'a [u8])>,
    /// Sub-buckets: name and raw bucket value (header + inline page).
    pub buckets: Vec<(&'a [u8], &'a [u8])>,
}

impl BucketRef<'_> {
    /// A copy that owns its bytes.
    pub fn to_owned_bucket(&self) -> Bucket {
        Bucket {
            pairs: self
                .pairs
                .iter()
                .map(|(k, v)| Pair {
                    key: k.to_vec(),
                    value: v.to_vec(),
                })
                .collect(),
            buckets: self
                .buckets
                .iter()
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .collect(),
        }
    }
}

/// The content of one bucket copied into one reusable buffer: opening a bucket into it
/// again allocates nothing once it has grown (meta.db holds a bucket per record: tens of
/// thousands of them, each read and dropped).
#[derive(Clone, Debug, Default)]
pub struct BucketBuf {
    bytes: Vec<u8>,
    /// (is a sub-bucket, key start, value start, value end) in `bytes`.
    elems: Vec<(bool, usize, usize, usize)>,
    /// The page being read (kept, so that each bucket read does not zero a new one).
    page: Vec<u8>,
}

impl BucketBuf {
    fn clear(&mut self) {
        self.bytes.clear();
        self.elems.clear();
    }

    fn elem(&self, e: &(bool, usize, usize, usize)) -> (&[u8], &[u8]) {
        (&self.bytes[e.1..e.2], &self.bytes[e.2..e.3])
    }

    /// The key/value pairs, in key order.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.elems
            .iter()
            .filter(|e| !e.0)
            .map(move |e| self.elem(e))
    }

    /// The sub-buckets: name and raw bucket value, in key order.
    pub fn buckets(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.elems.iter().filter(|e| e.0).map(move |e| self.elem(e))
    }

    /// The value of the first pair with this key.
    pub fn pair(&self, key: &[u8]) -> Option<&[u8]> {
        self.pairs().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The raw value of the first sub-bucket with this name.
    pub fn sub(&self, key: &[u8]) -> Option<&[u8]> {
        self.buckets().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

impl<'p> Sink<'p> for BucketBuf {
    fn put(&mut self, is_bucket: bool, key: &'p [u8], value: &'p [u8]) {
        let k0 = self.bytes.len();
        self.bytes.extend_from_slice(key);
        let v0 = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.elems.push((is_bucket, k0, v0, self.bytes.len()));
    }
}

/// Where the elements of a page go: borrowed (`BucketRef`) or copied (`Bucket`).
trait Sink<'p> {
    fn put(&mut self, is_bucket: bool, key: &'p [u8], value: &'p [u8]);
}

impl<'a> Sink<'a> for BucketRef<'a> {
    fn put(&mut self, is_bucket: bool, key: &'a [u8], value: &'a [u8]) {
        if is_bucket {
            self.buckets.push((key, value));
        } else {
            self.pairs.push((key, value));
        }
    }
}

impl<'p> Sink<'p> for Bucket {
    fn put(&mut self, is_bucket: bool, key: &'p [u8], value: &'p [u8]) {
        if is_bucket {
            self.buckets.push((key.to_vec(), value.to_vec()));
        } else {
            self.pairs.push(Pair {
                key: key.to_vec(),
                value: value.to_vec(),
            });
        }
    }
}

/// A file read at positions (`pread`): the pages of a file-backed `Db` (shared by the
/// threads that walk its buckets at once).
pub trait ReadAt: Sync {
    /// Fill `buf` from offset `off`; a short file is an error.
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, off)
    }
}

/// The bytes behind a `Db`.
#[derive(Clone, Copy)]
enum Src<'a> {
    Bytes(&'a [u8]),
    /// A file and its length at open.
    File(&'a dyn ReadAt, u64),
}

/// An opened (parsed) bbolt file.
pub struct Db<'a> {
    src: Src<'a>,
    page_size: usize,
    /// Pages below this id exist (the meta's `pgid`), bounded by the file length.
    page_count: u64,
    root: u64,
    pub txid: u64,
}

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    b.get(off..off.checked_add(2)?)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// FNV-1a, 64 bits: bbolt's meta checksum.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

struct Meta {
    page_size: u32,
    root: u64,
    pgid: u64,
    txid: u64,
}

enum MetaVerdict {
    NoMagic,
    Bad(BoltError),
    Ok(Meta),
}

fn read_meta(bytes: &[u8], page_off: usize) -> MetaVerdict {
    let Some(m) = page_off
        .checked_add(PAGE_HEADER)
        .and_then(|s| bytes.get(s..s.checked_add(META_LEN)?))
    else {
        return MetaVerdict::NoMagic;
    };
    let (Some(magic), Some(version), Some(page_size)) = (u32_at(m, 0), u32_at(m, 4), u32_at(m, 8))
    else {
        return MetaVerdict::NoMagic;
    };
    if magic != MAGIC {
        return MetaVerdict::NoMagic;
    }
    let (Some(root), Some(pgid), Some(txid), Some(sum)) =
        (u64_at(m, 16), u64_at(m, 40), u64_at(m, 48), u64_at(m, 56))
    else {
        return MetaVerdict::NoMagic;
    };
    if fnv1a64(&m[..56]) != sum {
        return MetaVerdict::Bad(BoltError::BadChecksum);
    }
    if version != VERSION {
        return MetaVerdict::Bad(BoltError::BadMeta(format!(
            "version {version}, expected {VERSION}"
        )));
    }
    if !(512..=1 << 24).contains(&page_size) || !page_size.is_power_of_two() {
        return MetaVerdict::Bad(BoltError::BadMeta(format!("page size {page_size}")));
    }
    MetaVerdict::Ok(Meta {
        page_size,
        root,
        pgid,
        txid,
    })
}

/// The current meta of a file whose first bytes are `head` (the whole file, or at
/// least its first `MAX_META_SCAN + PAGE_HEADER + META_LEN` bytes).
fn pick_meta(head: &[u8]) -> Result<Meta, BoltError> {
    if head.len() < PAGE_HEADER + META_LEN {
        return Err(BoltError::Truncated(format!(
            "{} bytes, shorter than a meta page",
            head.len()
        )));
    }
    let m0 = read_meta(head, 0);
    // Page 1 sits one page size further: the size meta 0 gives, else the usual ones.
    let mut sizes = Vec::new();
    if let MetaVerdict::Ok(m) = &m0 {
        sizes.push(m.page_size as usize);
    }
    sizes.extend([4096, 8192, 16384, 65536]);
    let mut m1 = MetaVerdict::NoMagic;
    for s in sizes {
        m1 = read_meta(head, s);
        if !matches!(m1, MetaVerdict::NoMagic) {
            break;
        }
    }
    match (m0, m1) {
        (MetaVerdict::Ok(a), MetaVerdict::Ok(b)) => Ok(if b.txid > a.txid { b } else { a }),
        (MetaVerdict::Ok(a), _) | (_, MetaVerdict::Ok(a)) => Ok(a),
        (MetaVerdict::NoMagic, MetaVerdict::NoMagic) => Err(BoltError::BadMagic),
        (MetaVerdict::Bad(e), _) | (_, MetaVerdict::Bad(e)) => Err(e),
    }
}

impl<'a> Db<'a> {
    /// Check the meta pages and pick the current one.
    pub fn parse(bytes: &'a [u8]) -> Result<Db<'a>, BoltError> {
        let best = pick_meta(bytes)?;
        let page_size = best.page_size as usize;
        let in_file = (bytes.len() / page_size) as u64;
        Ok(Db {
            src: Src::Bytes(bytes),
            page_size,
            page_count: best.pgid.min(in_file),
            root: best.root,
            txid: best.txid,
        })
    }

    /// Open a file of `len` bytes read page by page: only the meta pages are read now,
    /// each walk reads the pages it visits. The borrowed views (`root_ref`,
    /// `bucket_ref`, `sub_bucket`) need a `Db` over bytes (`parse`).
    pub fn from_file(file: &'a dyn ReadAt, len: u64) -> Result<Db<'a>, BoltError> {
        let head_len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(MAX_META_SCAN + PAGE_HEADER + META_LEN);
        let mut head = vec![0u8; head_len];
        file.read_exact_at(&mut head, 0)
            .map_err(|e| BoltError::Truncated(format!("meta pages: {e}")))?;
        let best = pick_meta(&head)?;
        let page_size = best.page_size as usize;
        let in_file = len / page_size as u64;
        Ok(Db {
            src: Src::File(file, len),
            page_size,
            page_count: best.pgid.min(in_file),
            root: best.root,
            txid: best.txid,
        })
    }

    /// The checked byte range of page `id` with its overflow pages, from its header.
    fn page_range(&self, id: u64, head: &[u8]) -> Result<(usize, usize), BoltError> {
        let start = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_mul(self.page_size))
            .ok_or(BoltError::PageOutOfRange(id))?;
        let overflow = u64::from(u32_at(head, 12).unwrap_or(0));
        let pages = overflow
            .checked_add(1)
            .filter(|n| id.checked_add(*n).is_some_and(|end| end <= self.page_count))
            .ok_or_else(|| {
                BoltError::Truncated(format!("page {id} has {overflow} overflow pages"))
            })?;
        let len = (pages as usize)
            .checked_mul(self.page_size)
            .ok_or(BoltError::PageOutOfRange(id))?;
        Ok((start, len))
    }

    /// The bytes of page `id` (with its overflow pages): borrowed from the bytes, or
    /// read from the file.
    fn page(&self, id: u64) -> Result<Cow<'a, [u8]>, BoltError> {
        if id < 2 || id >= self.page_count {
            return Err(BoltError::PageOutOfRange(id));
        }
        match self.src {
            Src::Bytes(bytes) => {
                let start = usize::try_from(id)
                    .ok()
                    .and_then(|i| i.checked_mul(self.page_size))
                    .ok_or(BoltError::PageOutOfRange(id))?;
                let head = bytes
                    .get(start..start + PAGE_HEADER)
                    .ok_or(BoltError::PageOutOfRange(id))?;
                let (start, len) = self.page_range(id, head)?;
                bytes
                    .get(start..start.saturating_add(len))
                    .map(Cow::Borrowed)
                    .ok_or_else(|| BoltError::Truncated(format!("page {id}")))
            }
            Src::File(file, file_len) => {
                // One page first; its overflow pages (bounded by the file) after.
                let mut buf = vec![0u8; self.page_size];
                let off = id.saturating_mul(self.page_size as u64);
                file.read_exact_at(&mut buf, off)
                    .map_err(|e| BoltError::Truncated(format!("page {id}: {e}")))?;
                let (start, len) = self.page_range(id, &buf)?;
                if start as u64 + len as u64 > file_len {
                    return Err(BoltError::Truncated(format!("page {id}")));
                }
                if len > buf.len() {
                    let first = buf.len();
                    buf.resize(len, 0);
                    file.read_exact_at(&mut buf[first..], off + first as u64)
                        .map_err(|e| BoltError::Truncated(format!("page {id}: {e}")))?;
                }
                Ok(Cow::Owned(buf))
            }
        }
    }

    /// `page`, read into `buf` when from a file.
    fn page_into<'s>(&self, id: u64, buf: &'s mut Vec<u8>) -> Result<&'s [u8], BoltError>
    where
        'a: 's,
    {
        let Src::File(file, file_len) = self.src else {
            return match self.page(id)? {
                Cow::Borrowed(b) => Ok(b),
                Cow::Owned(v) => {
                    *buf = v;
                    Ok(buf.as_slice())
                }
            };
        };
        if id < 2 || id >= self.page_count {
            return Err(BoltError::PageOutOfRange(id));
        }
        // One page first; its overflow pages (bounded by the file) after.
        buf.resize(self.page_size, 0);
        let off = id.saturating_mul(self.page_size as u64);
        file.read_exact_at(&mut buf[..self.page_size], off)
            .map_err(|e| BoltError::Truncated(format!("page {id}: {e}")))?;
        let (start, len) = self.page_range(id, &buf[..self.page_size])?;
        if start as u64 + len as u64 > file_len {
            return Err(BoltError::Truncated(format!("page {id}")));
        }
        buf.resize(len, 0);
        if len > self.page_size {
            file.read_exact_at(&mut buf[self.page_size..], off + self.page_size as u64)
                .map_err(|e| BoltError::Truncated(format!("page {id}: {e}")))?;
        }
        Ok(buf.as_slice())
    }

    fn bytes_only(&self) -> Result<(), BoltError> {
        match self.src {
            Src::Bytes(_) => Ok(()),
            Src::File(..) => Err(BoltError::Malformed(
                "a borrowed view of a file read page by page".into(),
            )),
        }
    }

    /// The top-level bucket names.
    pub fn root(&self) -> Result<Bucket, BoltError> {
        let mut out = Bucket::default();
        Walk::new(self).visit(self.root, &mut out)?;
        Ok(out)
    }

    /// The bucket at a path of names (`&[b"volumes"]`); `Ok(None)` when absent.
    /// One walk for the whole path: a bucket rooted at a page of its parents is a loop.
    pub fn bucket(&self, path: &[&[u8]]) -> Result<Option<Bucket>, BoltError> {
        let mut walk = Walk::new(self);
        let mut current = Bucket::default();
        walk.visit(self.root, &mut current)?;
        for name in path {
            let Some((_, raw)) = current.buckets.iter().find(|(k, _)| k == name) else {
                return Ok(None);
            };
            let raw = raw.clone();
            current = walk.bucket_value(&raw)?;
        }
        Ok(Some(current))
    }

    /// The top-level buckets, borrowed from the file's bytes.
    pub fn root_ref(&self) -> Result<BucketRef<'a>, BoltError> {
        self.bytes_only()?;
        let mut out = BucketRef::default();
        Walk::new(self).visit_ref(self.root, &mut out)?;
        Ok(out)
    }

    /// The bucket at a path of names, borrowed from the file's bytes; `Ok(None)` when
    /// absent. Each step reads only the pages of the buckets on the path.
    pub fn bucket_ref(&self, path: &[&[u8]]) -> Result<Option<BucketRef<'a>>, BoltError> {
        self.bytes_only()?;
        let mut walk = Walk::new(self);
        let mut current = BucketRef::default();
        walk.visit_ref(self.root, &mut current)?;
        for name in path {
            let Some(&(_, raw)) = current.buckets.iter().find(|(k, _)| k == name) else {
                return Ok(None);
            };
            current = walk.bucket_value_ref(raw)?;
        }
        Ok(Some(current))
    }

    /// A sub-bucket's content from its raw value (as listed in `BucketRef::buckets`).
    pub fn sub_bucket(&self, raw: &'a [u8]) -> Result<BucketRef<'a>, BoltError> {
        self.bytes_only()?;
        Walk::new(self).bucket_value_ref(raw)
    }
}

impl Db<'_> {
    /// A sub-bucket from its raw value (as listed in `Bucket::buckets`), read with a
    /// fresh loop guard: walking a large tree one bucket at a time stays linear.
    pub fn open_bucket(&self, raw: &[u8]) -> Result<Bucket, BoltError> {
        Walk::new(self).bucket_value(raw)
    }

    /// `open_bucket` into a reusable buffer (emptied first; on error it holds a part).
    pub fn open_bucket_into(&self, raw: &[u8], out: &mut BucketBuf) -> Result<(), BoltError> {
        out.clear();
        let mut walk = Walk::new(self);
        walk.buf = std::mem::take(&mut out.page);
        let read = walk.bucket_value_into(raw, out);
        out.page = walk.buf;
        read
    }
}

/// A bucket value's root page (`root u64, sequence u64`, then an inline page when the
/// root is 0).
fn bucket_root(raw: &[u8]) -> Result<u64, BoltError> {
    let root = u64_at(raw, 0)
        .ok_or_else(|| BoltError::Malformed("bucket value shorter than 16 bytes".into()))?;
    if raw.len() < BUCKET_HEADER {
        return Err(BoltError::Malformed(
            "bucket value shorter than 16 bytes".into(),
        ));
    }
    Ok(root)
}

/// Values larger than this are refused (bbolt allows 2 GiB; no file dockscope reads
/// holds a value near this).
const MAX_VALUE: usize = 16 << 20;

/// Page ranges a walk covered: a short list while it is short (most walks read one to
/// a few pages), one bit per page of the file beyond that.
enum Covered {
    Few(Vec<(u64, u64)>),
    Bits(Vec<u64>),
}

const FEW_RANGES: usize = 64;

/// One traversal: remembers every page it covered (overflow pages included), so that a
/// cycle, or two pages sharing bytes, stops it; each byte of the file is read at most
/// once per traversal.
struct Walk<'d, 'a> {
    db: &'d Db<'a>,
    covered: Covered,
    depth: usize,
    /// The page being read, from a file (one at a time: a page's children are listed
    /// before they are visited).
    buf: Vec<u8>,
}

impl<'d, 'a> Walk<'d, 'a> {
    fn new(db: &'d Db<'a>) -> Self {
        Walk {
            db,
            covered: Covered::Few(Vec::new()),
            depth: 0,
            buf: Vec::new(),
        }
    }

    /// A bucket value, copied out: its inline page, or its tree.
    fn bucket_value(&mut self, raw: &[u8]) -> Result<Bucket, BoltError> {
        let mut out = Bucket::default();
        self.bucket_value_into(raw, &mut out)?;
        Ok(out)
    }

    /// A bucket value copied into `out`: its inline page, or its tree.
    fn bucket_value_into<S: for<'p> Sink<'p>>(
        &mut self,
        raw: &[u8],
        out: &mut S,
    ) -> Result<(), BoltError> {
        let root = bucket_root(raw)?;
        if root == 0 {
            // an inline page holds no branch: nothing to follow
            self.nested(|_| page_elements(&raw[BUCKET_HEADER..], 0, true, out))?;
        } else {
            self.visit(root, out)?;
        }
        Ok(())
    }

    /// A bucket value, borrowed: its inline page, or its tree.
    fn bucket_value_ref(&mut self, raw: &'a [u8]) -> Result<BucketRef<'a>, BoltError> {
        let root = bucket_root(raw)?;
        let mut out = BucketRef::default();
        if root == 0 {
            self.nested(|_| page_elements(&raw[BUCKET_HEADER..], 0, true, &mut out))?;
        } else {
            self.visit_ref(root, &mut out)?;
        }
        Ok(out)
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, BoltError>,
    ) -> Result<T, BoltError> {
        if self.depth >= MAX_DEPTH {
            return Err(BoltError::Malformed(format!(
                "more than {MAX_DEPTH} nested pages or buckets"
            )));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Mark pages `id..id+n` covered; `false` when one already was.
    fn cover(&mut self, id: u64, n: u64) -> bool {
        let end = id.saturating_add(n);
        if let Covered::Few(ranges) = &mut self.covered {
            if ranges.iter().any(|&(a, b)| id < b && a < end) {
                return false;
            }
            if ranges.len() < FEW_RANGES {
                ranges.push((id, end));
                return true;
            }
            let words = usize::try_from(self.db.page_count.div_ceil(64)).unwrap_or(0);
            let mut bits = vec![0u64; words];
            for &(a, b) in ranges.iter() {
                for p in a..b {
                    if let Some(w) = usize::try_from(p / 64).ok().and_then(|w| bits.get_mut(w)) {
                        *w |= 1 << (p % 64);
                    }
                }
            }
            self.covered = Covered::Bits(bits);
        }
        let Covered::Bits(bits) = &mut self.covered else {
            return false;
        };
        for p in id..end {
            let (Ok(w), b) = (usize::try_from(p / 64), p % 64) else {
                return false;
            };
            let Some(word) = bits.get_mut(w) else {
                return false;
            };
            if *word & (1 << b) != 0 {
                return false;
            }
            *word |= 1 << b;
        }
        true
    }

    /// Every pair under a page, copied out (a branch's children in order).
    fn visit<S: for<'p> Sink<'p>>(&mut self, id: u64, out: &mut S) -> Result<(), BoltError> {
        let mut buf = std::mem::take(&mut self.buf);
        let children = self.elements(id, &mut buf, out);
        self.buf = buf;
        let children = children?;
        self.nested(|w| {
            for child in children {
                w.visit(child, out)?;
            }
            Ok(())
        })
    }

    /// Page `id`'s elements (into `out`) and children, its bytes read into `buf`.
    fn elements<S: for<'p> Sink<'p>>(
        &mut self,
        id: u64,
        buf: &mut Vec<u8>,
        out: &mut S,
    ) -> Result<Vec<u64>, BoltError> {
        let page = self.db.page_into(id, buf)?;
        let n = (page.len() / self.db.page_size) as u64;
        if !self.cover(id, n) {
            return Err(BoltError::Loop(id));
        }
        self.nested(|_| page_elements(page, id, false, out))
    }

    /// Every pair under a page, borrowed from the bytes.
    fn visit_ref(&mut self, id: u64, out: &mut BucketRef<'a>) -> Result<(), BoltError> {
        let Cow::Borrowed(page) = self.db.page(id)? else {
            return Err(BoltError::Malformed(
                "a borrowed view of a file read page by page".into(),
            ));
        };
        let n = (page.len() / self.db.page_size) as u64;
        if !self.cover(id, n) {
            return Err(BoltError::Loop(id));
        }
        self.nested(|w| {
            let children = page_elements(page, id, false, out)?;
            for child in children {
                w.visit_ref(child, out)?;
            }
            Ok(())
        })
    }
}

/// Read the elements of one page image (a file page, or an inline bucket's page): a
/// leaf's pairs go to `out` (only once all of them are checked: none overlaps another,
/// so what is copied is at most the page), a branch's children are returned in order.
fn page_elements<'p>(
    page: &'p [u8],
    id: u64,
    inline: bool,
    out: &mut impl Sink<'p>,
) -> Result<Vec<u64>, BoltError> {
    let bad = |what: &str| BoltError::Malformed(format!("page {id}: {what}"));
    let flags = u16_at(page, 8).ok_or_else(|| bad("shorter than its header"))?;
    let count = usize::from(u16_at(page, 10).ok_or_else(|| bad("shorter than its header"))?);
    // The element headers themselves must fit the page: the count is checked before
    // anything is sized by it.
    let elems_end = PAGE_HEADER + count * LEAF_ELEM; // LEAF_ELEM == BRANCH_ELEM
    if elems_end > page.len() {
        return Err(bad(&format!(
            "{count} elements do not fit a page of {} bytes",
            page.len()
        )));
    }
    if flags & FLAG_LEAF != 0 {
        // (flags, key start, key end, value end) of each element, in order
        let mut elems: Vec<(u32, usize, usize, usize)> = Vec::with_capacity(count);
        for i in 0..count {
            let e = PAGE_HEADER + i * LEAF_ELEM;
            let (Some(eflags), Some(pos), Some(ksize), Some(vsize)) = (
                u32_at(page, e),
                u32_at(page, e + 4),
                u32_at(page, e + 8),
                u32_at(page, e + 12),
            ) else {
                return Err(bad(&format!("leaf element {i} beyond the page")));
            };
            if vsize as usize > MAX_VALUE {
                return Err(bad(&format!(
                    "leaf element {i} claims a value of {vsize} bytes"
                )));
            }
            let k0 = e
                .checked_add(pos as usize)
                .ok_or_else(|| bad("element offset overflows"))?;
            let k1 = k0
                .checked_add(ksize as usize)
                .ok_or_else(|| bad("key size overflows"))?;
            let v1 = k1
                .checked_add(vsize as usize)
                .ok_or_else(|| bad("value size overflows"))?;
            if v1 > page.len() {
                return Err(bad(&format!("leaf element {i} points beyond the page")));
            }
            if k0 < elems_end && k0 < v1 {
                return Err(bad(&format!(
                    "leaf element {i} points into the element headers"
                )));
            }
            elems.push((eflags, k0, k1, v1));
        }
        let mut spans: Vec<(usize, usize)> = elems
            .iter()
            .map(|&(_, k0, _, v1)| (k0, v1))
            .filter(|(a, b)| a < b)
            .collect();
        spans.sort_unstable();
        if spans.windows(2).any(|w| w[1].0 < w[0].1) {
            return Err(bad("leaf elements overlap"));
        }
        for (eflags, k0, k1, v1) in elems {
            out.put(eflags & FLAG_BUCKET != 0, &page[k0..k1], &page[k1..v1]);
        }
        Ok(Vec::new())
    } else if flags & FLAG_BRANCH != 0 {
        if inline {
            return Err(bad("an inline bucket holds a branch page"));
        }
        let mut children = Vec::with_capacity(count);
        for i in 0..count {
            let e = PAGE_HEADER + i * BRANCH_ELEM;
            let child = u64_at(page, e + 8)
                .ok_or_else(|| bad(&format!("branch element {i} beyond the page")))?;
            children.push(child);
        }
        Ok(children)
    } else {
        Err(bad(&format!(
            "flags {flags:#x}, expected a branch or leaf page"
        )))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const PS: usize = 4096;

    fn put_u16(b: &mut [u8], off: usize, v: u16) {
        b[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn put_u32(b: &mut [u8], off: usize, v: u32) {
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn put_u64(b: &mut [u8], off: usize, v: u64) {
        b[off..off + 8].copy_from_slice(&v.to_le_bytes());
    }

    fn meta(b: &mut [u8], page: usize, root: u64, pgid: u64, txid: u64) {
        let p = page * PS;
        put_u64(b, p, page as u64);
        put_u16(b, p + 8, 0x04);
        let m = p + PAGE_HEADER;
        put_u32(b, m, MAGIC);
        put_u32(b, m + 4, VERSION);
        put_u32(b, m + 8, PS as u32);
        put_u64(b, m + 16, root);
        put_u64(b, m + 32, 0); // freelist
        put_u64(b, m + 40, pgid);
        put_u64(b, m + 48, txid);
        let sum = fnv1a64(&b[m..m + 56]);
        put_u64(b, m + 56, sum);
    }

    /// A leaf page image holding `(flags, key, value)` elements.
    fn leaf(id: u64, elems: &[(u32, &[u8], &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; PAGE_HEADER + elems.len() * LEAF_ELEM];
        put_u64(&mut b, 0, id);
        put_u16(&mut b, 8, FLAG_LEAF);
        put_u16(&mut b, 10, elems.len() as u16);
        for (i, (flags, k, v)) in elems.iter().enumerate() {
            let e = PAGE_HEADER + i * LEAF_ELEM;
            let pos = b.len() - e;
            put_u32(&mut b, e, *flags);
            put_u32(&mut b, e + 4, pos as u32);
            put_u32(&mut b, e + 8, k.len() as u32);
            put_u32(&mut b, e + 12, v.len() as u32);
            b.extend_from_slice(k);
            b.extend_from_slice(v);
        }
        b
    }

    fn inline_bucket(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let elems: Vec<(u32, &[u8], &[u8])> = pairs.iter().map(|(k, v)| (0, *k, *v)).collect();
        let mut v = vec![0u8; BUCKET_HEADER];
        v.extend(leaf(0, &elems));
        v
    }

    /// A 4-page file like Docker's `volumes/metadata.db`: bucket `volumes` inline in
    /// the root leaf at page 2.
    pub fn sample_db(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; 4 * PS];
        meta(&mut b, 0, 3, 4, 1);
        meta(&mut b, 1, 2, 4, 2);
        let bucket = inline_bucket(pairs);
        let root = leaf(2, &[(FLAG_BUCKET, b"volumes", &bucket)]);
        b[2 * PS..2 * PS + root.len()].copy_from_slice(&root);
        b
    }

    #[test]
    fn reads_an_inline_bucket() {
        let b = sample_db(&[(b"v1", b"{\"Name\":\"v1\"}"), (b"v2", b"{}")]);
        let db = Db::parse(&b).unwrap();
        assert_eq!(db.txid, 2);
        let bucket = db.bucket(&[b"volumes"]).unwrap().unwrap();
        assert_eq!(bucket.pairs.len(), 2);
        assert_eq!(bucket.pairs[0].key, b"v1");
        assert_eq!(bucket.pairs[0].value, b"{\"Name\":\"v1\"}");
        assert_eq!(db.bucket(&[b"other"]).unwrap(), None);
    }

    /// Six pages: the root on page 2, a branch to leaves 3 and 4; page 3 holds the bucket
    /// `volumes` rooted at page 5 (`a` = `1`), page 4 the key `top` = `x`.
    fn branch_db() -> Vec<u8> {
        let mut b = vec![0u8; 6 * PS];
        meta(&mut b, 0, 2, 6, 1);
        meta(&mut b, 1, 2, 6, 1);
        let mut br = vec![0u8; PAGE_HEADER + 2 * BRANCH_ELEM];
        put_u16(&mut br, 8, FLAG_BRANCH);
        put_u16(&mut br, 10, 2);
        put_u64(&mut br, PAGE_HEADER + 8, 3);
        put_u64(&mut br, PAGE_HEADER + BRANCH_ELEM + 8, 4);
        b[2 * PS..2 * PS + br.len()].copy_from_slice(&br);
        let mut hdr = vec![0u8; BUCKET_HEADER];
        put_u64(&mut hdr, 0, 5);
        let p3 = leaf(3, &[(FLAG_BUCKET, b"volumes", &hdr)]);
        b[3 * PS..3 * PS + p3.len()].copy_from_slice(&p3);
        let p4 = leaf(4, &[(0, b"top", b"x")]);
        b[4 * PS..4 * PS + p4.len()].copy_from_slice(&p4);
        let p5 = leaf(5, &[(0, b"a", b"1")]);
        b[5 * PS..5 * PS + p5.len()].copy_from_slice(&p5);
        b
    }

    #[test]
    fn branch_pages_are_followed() {
        let b = branch_db();
        let db = Db::parse(&b).unwrap();
        let root = db.root().unwrap();
        assert_eq!(root.pairs.len(), 1);
        let v = db.bucket(&[b"volumes"]).unwrap().unwrap();
        assert_eq!(v.pairs[0].key, b"a");
    }

    #[test]
    fn bad_magic() {
        let mut b = sample_db(&[]);
        b[PAGE_HEADER] ^= 0xff;
        b[PS + PAGE_HEADER] ^= 0xff;
        assert_eq!(Db::parse(&b).err(), Some(BoltError::BadMagic));
        assert_eq!(Db::parse(&[0u8; 8192]).err(), Some(BoltError::BadMagic));
    }

    #[test]
    fn bad_checksum() {
        let mut b = sample_db(&[]);
        // txid changed behind the checksum's back, in both metas
        b[PAGE_HEADER + 48] ^= 1;
        b[PS + PAGE_HEADER + 48] ^= 1;
        assert_eq!(Db::parse(&b).err(), Some(BoltError::BadChecksum));
        // one good meta is enough: bbolt falls back to it
        let mut b = sample_db(&[(b"k", b"v")]);
        b[PS + PAGE_HEADER + 48] ^= 1;
        let db = Db::parse(&b).unwrap();
        assert_eq!(db.txid, 1);
    }

    #[test]
    fn page_out_of_range() {
        let mut b = vec![0u8; 4 * PS];
        meta(&mut b, 0, 9, 4, 1);
        meta(&mut b, 1, 9, 4, 1);
        let db = Db::parse(&b).unwrap();
        assert_eq!(db.root().err(), Some(BoltError::PageOutOfRange(9)));
        // a high-water mark beyond the file is bounded by the file
        let mut b = vec![0u8; 4 * PS];
        meta(&mut b, 0, 7, 1000, 1);
        meta(&mut b, 1, 7, 1000, 1);
        assert_eq!(
            Db::parse(&b).unwrap().root().err(),
            Some(BoltError::PageOutOfRange(7))
        );
        // a bucket pointing at a meta page
        let mut b = sample_db(&[]);
        let mut hdr = vec![0u8; BUCKET_HEADER];
        put_u64(&mut hdr, 0, 1);
        let root = leaf(2, &[(FLAG_BUCKET, b"volumes", &hdr)]);
        b[2 * PS..3 * PS].fill(0);
        b[2 * PS..2 * PS + root.len()].copy_from_slice(&root);
        assert_eq!(
            Db::parse(&b).unwrap().bucket(&[b"volumes"]).err(),
            Some(BoltError::PageOutOfRange(1))
        );
    }

    #[test]
    fn loop_is_stopped() {
        let mut b = vec![0u8; 4 * PS];
        meta(&mut b, 0, 2, 4, 1);
        meta(&mut b, 1, 2, 4, 1);
        // page 2: a branch whose only child is itself
        let mut br = vec![0u8; PAGE_HEADER + BRANCH_ELEM];
        put_u16(&mut br, 8, FLAG_BRANCH);
        put_u16(&mut br, 10, 1);
        put_u64(&mut br, PAGE_HEADER + 8, 2);
        b[2 * PS..2 * PS + br.len()].copy_from_slice(&br);
        assert_eq!(
            Db::parse(&b).unwrap().root().err(),
            Some(BoltError::Loop(2))
        );
        // a bucket whose root is the page that holds it
        let mut b = vec![0u8; 4 * PS];
        meta(&mut b, 0, 2, 4, 1);
        meta(&mut b, 1, 2, 4, 1);
        let mut hdr = vec![0u8; BUCKET_HEADER];
        put_u64(&mut hdr, 0, 2);
        let root = leaf(2, &[(FLAG_BUCKET, b"volumes", &hdr)]);
        b[2 * PS..2 * PS + root.len()].copy_from_slice(&root);
        assert_eq!(
            Db::parse(&b).unwrap().bucket(&[b"volumes"]).err(),
            Some(BoltError::Loop(2))
        );
    }

    #[test]
    fn malformed_elements_and_truncation() {
        assert!(matches!(
            Db::parse(&[0u8; 10]).err(),
            Some(BoltError::Truncated(_))
        ));
        let mut b = sample_db(&[(b"k", b"v")]);
        // the root leaf's element claims a huge value
        put_u32(&mut b, 2 * PS + PAGE_HEADER + 12, u32::MAX);
        assert!(matches!(
            Db::parse(&b).unwrap().root().err(),
            Some(BoltError::Malformed(_))
        ));
        // unknown page flags
        let mut b = sample_db(&[]);
        put_u16(&mut b, 2 * PS + 8, 0x40);
        assert!(matches!(
            Db::parse(&b).unwrap().root().err(),
            Some(BoltError::Malformed(_))
        ));
    }

    /// A 1.3 MiB leaf (one page and its overflow pages) whose 65,535 elements all point at
    /// the same bytes: refused as overlapping, nothing copied (a copy per element would
    /// be 16 GiB).
    #[test]
    fn overlapping_elements_are_refused() {
        let pages = 320;
        let mut b = vec![0u8; (pages + 2) * PS];
        meta(&mut b, 0, 2, (pages + 2) as u64, 1);
        meta(&mut b, 1, 2, (pages + 2) as u64, 1);
        let p = 2 * PS;
        put_u16(&mut b, p + 8, FLAG_LEAF);
        put_u16(&mut b, p + 10, u16::MAX);
        put_u32(&mut b, p + 12, (pages - 1) as u32); // overflow
        let data = PAGE_HEADER + usize::from(u16::MAX) * LEAF_ELEM;
        let vsize = pages * PS - data - 8;
        for i in 0..usize::from(u16::MAX) {
            let e = PAGE_HEADER + i * LEAF_ELEM;
            put_u32(&mut b, p + e + 4, (data - e) as u32);
            put_u32(&mut b, p + e + 8, 8);
            put_u32(&mut b, p + e + 12, vsize as u32);
        }
        let db = Db::parse(&b).unwrap();
        let err = db.root().unwrap_err();
        assert!(
            matches!(err, BoltError::Malformed(ref m) if m.contains("overlap")),
            "{err}"
        );
        // one element alone reads (the same bytes, not overlapping anything)
        put_u16(&mut b, p + 10, 1);
        put_u32(&mut b, p + PAGE_HEADER + 4, (data - PAGE_HEADER) as u32);
        let root = Db::parse(&b).unwrap().root().unwrap();
        assert_eq!(root.pairs[0].value.len(), vsize);
    }

    /// Two pages whose overflow ranges share pages are one region read twice: refused.
    #[test]
    fn pages_sharing_overflow_are_refused() {
        let mut b = vec![0u8; 8 * PS];
        meta(&mut b, 0, 2, 8, 1);
        meta(&mut b, 1, 2, 8, 1);
        let mut br = vec![0u8; PAGE_HEADER + 2 * BRANCH_ELEM];
        put_u16(&mut br, 8, FLAG_BRANCH);
        put_u16(&mut br, 10, 2);
        put_u64(&mut br, PAGE_HEADER + 8, 3);
        put_u64(&mut br, PAGE_HEADER + BRANCH_ELEM + 8, 4);
        b[2 * PS..2 * PS + br.len()].copy_from_slice(&br);
        // page 3 spans 3..7 (overflow 3), page 4 lies inside it
        let p3 = leaf(3, &[(0, b"a", b"1")]);
        b[3 * PS..3 * PS + p3.len()].copy_from_slice(&p3);
        put_u32(&mut b, 3 * PS + 12, 3);
        let p4 = leaf(4, &[(0, b"b", b"2")]);
        b[4 * PS..4 * PS + p4.len()].copy_from_slice(&p4);
        assert_eq!(
            Db::parse(&b).unwrap().root().err(),
            Some(BoltError::Loop(4))
        );
        // an element count larger than the page can hold
        let mut b = sample_db(&[(b"k", b"v")]);
        put_u16(&mut b, 2 * PS + 10, 300);
        let err = Db::parse(&b).unwrap().root().unwrap_err();
        assert!(
            matches!(err, BoltError::Malformed(ref m) if m.contains("do not fit")),
            "{err}"
        );
    }

    #[test]
    fn borrowed_and_owned_views_agree() {
        let b = sample_db(&[(b"v1", b"{}"), (b"v2", b"[]")]);
        let db = Db::parse(&b).unwrap();
        let r = db.bucket_ref(&[b"volumes"]).unwrap().unwrap();
        assert_eq!(
            r.pairs,
            vec![(&b"v1"[..], &b"{}"[..]), (&b"v2"[..], &b"[]"[..])]
        );
        assert_eq!(
            r.to_owned_bucket(),
            db.bucket(&[b"volumes"]).unwrap().unwrap()
        );
        let top = db.root_ref().unwrap();
        let sub = db.sub_bucket(top.buckets[0].1).unwrap();
        assert_eq!(sub, r);
    }

    /// A bucket read into a reused buffer holds what a copied one holds, from bytes and
    /// from a file read page by page (pages across a branch too), and a second read
    /// into the same buffer replaces the first.
    #[test]
    fn bucket_buf_agrees_with_bucket() {
        let b = sample_db(&[(b"v1", b"{}"), (b"v2", b"[]")]);
        let db = Db::parse(&b).unwrap();
        let top = db.root().unwrap();
        let raw = &top.buckets[0].1;
        let owned = db.open_bucket(raw).unwrap();
        let mut buf = BucketBuf::default();
        db.open_bucket_into(raw, &mut buf).unwrap();
        let pairs: Vec<(Vec<u8>, Vec<u8>)> =
            buf.pairs().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = owned
            .pairs
            .iter()
            .map(|p| (p.key.clone(), p.value.clone()))
            .collect();
        assert_eq!(pairs, want);
        assert_eq!(buf.pair(b"v2"), Some(&b"[]"[..]));
        assert_eq!(buf.pair(b"v3"), None);
        assert_eq!(buf.buckets().count(), 0);
        // the root (a branch over two leaves), from a file, into the same buffer
        let b = branch_db();
        let len = b.len() as u64;
        let mem = Mem(b);
        let db = Db::from_file(&mem, len).unwrap();
        let mut root_value = vec![0u8; BUCKET_HEADER];
        put_u64(&mut root_value, 0, 2);
        db.open_bucket_into(&root_value, &mut buf).unwrap();
        assert_eq!(buf.pair(b"top"), Some(&b"x"[..]));
        assert_eq!(buf.pairs().count(), 1);
        let sub = buf.sub(b"volumes").unwrap().to_vec();
        db.open_bucket_into(&sub, &mut buf).unwrap();
        assert_eq!(
            buf.pairs().collect::<Vec<_>>(),
            vec![(&b"a"[..], &b"1"[..])]
        );
        // a page out of range is an error, not a panic
        put_u64(&mut root_value, 0, 9);
        assert_eq!(
            db.open_bucket_into(&root_value, &mut buf).err(),
            Some(BoltError::PageOutOfRange(9))
        );
    }

    /// Bytes read at positions, as a file would be.
    struct Mem(Vec<u8>);
    impl ReadAt for Mem {
        fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
            let s = usize::try_from(off).unwrap_or(usize::MAX);
            let src = s
                .checked_add(buf.len())
                .and_then(|e| self.0.get(s..e))
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    /// Read page by page from a file, the same buckets as from the bytes; the borrowed
    /// views are refused; a file cut short is an error, not a panic.
    #[test]
    fn file_backed_reads_agree() {
        let b = sample_db(&[(b"v1", b"{}"), (b"v2", b"[]")]);
        let bytes = Db::parse(&b).unwrap();
        let mem = Mem(b.clone());
        let file = Db::from_file(&mem, b.len() as u64).unwrap();
        assert_eq!(file.txid, bytes.txid);
        assert_eq!(file.root().unwrap(), bytes.root().unwrap());
        assert_eq!(
            file.bucket(&[b"volumes"]).unwrap(),
            bytes.bucket(&[b"volumes"]).unwrap()
        );
        assert!(file.root_ref().is_err());
        // a file shorter than the length it was opened with
        let short = Mem(b[..3 * PS].to_vec());
        let r = Db::from_file(&short, b.len() as u64).and_then(|db| db.root());
        assert!(matches!(r.err(), Some(BoltError::Truncated(_))));
        assert!(matches!(
            Db::from_file(&Mem(vec![0; 10]), 10).err(),
            Some(BoltError::Truncated(_))
        ));
        // the overlapping-elements file: refused before anything is copied
        let pages = 40;
        let mut b = vec![0u8; (pages + 2) * PS];
        meta(&mut b, 0, 2, (pages + 2) as u64, 1);
        meta(&mut b, 1, 2, (pages + 2) as u64, 1);
        let p = 2 * PS;
        put_u16(&mut b, p + 8, FLAG_LEAF);
        put_u16(&mut b, p + 10, 1000);
        put_u32(&mut b, p + 12, (pages - 1) as u32);
        let data = PAGE_HEADER + 1000 * LEAF_ELEM;
        for i in 0..1000 {
            let e = PAGE_HEADER + i * LEAF_ELEM;
            put_u32(&mut b, p + e + 4, (data - e) as u32);
            put_u32(&mut b, p + e + 8, 8);
            put_u32(&mut b, p + e + 12, 100_000);
        }
        let len = b.len() as u64;
        let mem = Mem(b);
        let err = Db::from_file(&mem, len).unwrap().root().unwrap_err();
        assert!(matches!(err, BoltError::Malformed(ref m) if m.contains("overlap")));
    }

    /// A walk over many pages switches from its short list to one bit per page and
    /// still stops a page met twice.
    #[test]
    fn many_pages_and_a_late_loop() {
        let n = 100u64; // leaves 3..3+n, the branch at page 2 lists them, then page 3 again
        let total = n + 3;
        let mut b = vec![0u8; total as usize * PS];
        meta(&mut b, 0, 2, total, 1);
        meta(&mut b, 1, 2, total, 1);
        let count = n as usize + 1;
        let mut br = vec![0u8; PAGE_HEADER + count * BRANCH_ELEM];
        put_u16(&mut br, 8, FLAG_BRANCH);
        put_u16(&mut br, 10, count as u16);
        for i in 0..count {
            let child = if i < n as usize { 3 + i as u64 } else { 3 };
            put_u64(&mut br, PAGE_HEADER + i * BRANCH_ELEM + 8, child);
        }
        b[2 * PS..2 * PS + br.len()].copy_from_slice(&br);
        for i in 0..n {
            let key = format!("k{i:03}");
            let l = leaf(3 + i, &[(0, key.as_bytes(), b"v")]);
            let at = (3 + i) as usize * PS;
            b[at..at + l.len()].copy_from_slice(&l);
        }
        assert_eq!(
            Db::parse(&b).unwrap().root().err(),
            Some(BoltError::Loop(3))
        );
        // without the repeated child every leaf is read
        put_u16(&mut b, 2 * PS + 10, n as u16);
        let root = Db::parse(&b).unwrap().root().unwrap();
        assert_eq!(root.pairs.len(), n as usize);
        let len = b.len() as u64;
        let mem = Mem(b);
        assert_eq!(Db::from_file(&mem, len).unwrap().root().unwrap(), root);
    }

    /// Any bytes: Ok or an error, never a panic or a hang.
    #[test]
    fn mutated_files_never_panic() {
        let base = sample_db(&[(b"vol1", b"{\"Name\":\"vol1\",\"Driver\":\"local\"}")]);
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..4000 {
            let mut b = base.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // aim mostly at the interesting bytes: headers of pages 0-2 and the root
                let page = (seed % 3) as usize;
                let off = page * PS + ((seed >> 8) as usize % 160);
                b[off] = (seed >> 32) as u8;
            }
            if let Ok(db) = Db::parse(&b) {
                let _ = db.root();
                let _ = db.bucket(&[b"volumes"]);
            }
        }
    }
}
