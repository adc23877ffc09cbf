//! `DataRoot`: the only door to the filesystem.
//!
//! A root is either a directory (read through file descriptors: every component is
//! opened with `O_NOFOLLOW`, so no symlink is ever followed and no path leaves the root)
//! or a tar archive of one (`.tar`, `.tar.gz`, `.tar.zst`), indexed in memory in one
//! pass and never unpacked. Nothing here opens anything for writing.
#![allow(clippy::disallowed_methods)] // the one place allowed to touch the filesystem

mod archive;

pub use archive::CAPTURE_MANIFEST;

use crate::problem::Problem;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// What an entry is, as `lstat` tells (symlinks are never followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    Unknown,
}

impl FileKind {
    fn from_file_type(t: FileType) -> FileKind {
        match t {
            FileType::RegularFile => FileKind::File,
            FileType::Directory => FileKind::Dir,
            FileType::Symlink => FileKind::Symlink,
            FileType::CharacterDevice => FileKind::CharDevice,
            FileType::BlockDevice => FileKind::BlockDevice,
            FileType::Fifo => FileKind::Fifo,
            FileType::Socket => FileKind::Socket,
            FileType::Unknown => FileKind::Unknown,
        }
    }
}

/// `lstat` of one entry. In an archive `blocks` is unknown and `ino` is synthetic
/// (unique per inode, shared by hard links).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub kind: FileKind,
    /// `st_size`: bytes of a file, target length of a symlink.
    pub len: u64,
    /// Allocated bytes (`st_blocks * 512`); `None` in an archive.
    pub disk: Option<u64>,
    pub dev: u64,
    pub ino: u64,
    pub nlink: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub mtime: i64,
    pub mtime_nsec: u32,
}

impl Meta {
    fn from_stat(st: &rustix::fs::Stat) -> Meta {
        Meta {
            kind: FileKind::from_file_type(FileType::from_raw_mode(st.st_mode)),
            len: u64::try_from(st.st_size).unwrap_or(0),
            disk: Some(u64::try_from(st.st_blocks).unwrap_or(0).saturating_mul(512)),
            dev: st.st_dev,
            ino: st.st_ino,
            nlink: st.st_nlink,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
            mtime: st.st_mtime,
            mtime_nsec: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
        }
    }
}

/// One name in a directory, with its kind when the directory listing tells it.
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub name: OsString,
    pub kind: Option<FileKind>,
}

impl DirEntry {
    /// The name if it is UTF-8 (every name Docker itself chooses is ASCII).
    pub fn name_str(&self) -> Option<&str> {
        self.name.to_str()
    }
}

/// The names of one directory, packed in one buffer (`Dir::list`), with their kinds
/// when the listing tells them.
#[derive(Default, Debug)]
pub struct Listing {
    /// Every name followed by its NUL.
    names: Vec<u8>,
    starts: Vec<usize>,
    kinds: Vec<Option<FileKind>>,
}

impl Listing {
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Name `i` with its NUL.
    fn with_nul(&self, i: usize) -> &[u8] {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.names.len());
        &self.names[self.starts[i]..end]
    }

    /// Name `i` for the kernel (a name from getdents holds no NUL but its last byte).
    fn c_name(&self, i: usize) -> &std::ffi::CStr {
        std::ffi::CStr::from_bytes_with_nul(self.with_nul(i)).unwrap_or_default()
    }

    /// Name `i`.
    pub fn name(&self, i: usize) -> &OsStr {
        let b = self.with_nul(i);
        OsStr::from_bytes(&b[..b.len().saturating_sub(1)])
    }

    /// Kind of entry `i` as the listing tells it (`None`: look with `lstat`).
    pub fn kind(&self, i: usize) -> Option<FileKind> {
        self.kinds[i]
    }
}

thread_local! {
    /// The getdents buffer of `Dir::list`, reused by every listing on this thread.
    static GETDENTS_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Why a root cannot be opened at all.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
    #[error("{0}: cannot open: {1}")]
    Io(PathBuf, #[source] io::Error),
    #[error("{0}: not a directory, nor a tar archive (.tar, .tar.gz, .tar.zst) of one")]
    NotRoot(PathBuf),
}

enum Backend {
    Fs(OwnedFd),
    Archive(std::sync::Arc<archive::Index>),
}

/// A Docker data root, opened read-only.
pub struct DataRoot {
    backend: Backend,
    shown: PathBuf,
    problems: Vec<Problem>,
    /// For a second root inside the same archive (`archive_root`): its top node and
    /// the folder holding it.
    archive_top: Option<(usize, String)>,
    /// The manifest of a `dockscope capture` archive (`dockscope-capture.json`).
    capture: Option<crate::capture::manifest::Manifest>,
}

/// A directory inside the root, open for listing and reading its entries.
pub struct Dir<'r> {
    root: &'r DataRoot,
    rel: String,
    /// Levels below the root (the root itself is 0); never more than [`MAX_DEPTH`].
    depth: u32,
    handle: Handle,
    /// `entries()` has read the fd to its end once.
    listed: std::sync::atomic::AtomicBool,
}

enum Handle {
    Fd(OwnedFd),
    Node(usize),
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
// NONBLOCK: opening a FIFO planted where a file belongs must not hang; the kind is
// checked right after the open and anything but a regular file is refused.
const FILE_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK)
    .union(OFlags::NOCTTY);

/// The deepest directory dockscope opens, in levels below the root. No path the
/// kernel accepts in one call goes deeper (`PATH_MAX` is 4,096 bytes: at most 2,048
/// one-letter components), so Docker's own tools cannot reach below it either. The
/// bound also bounds time: under Landlock every open costs the kernel one step per
/// level between the entry and `/`, so a directory chain of unbounded depth would
/// cost time quadratic in its depth.
pub const MAX_DEPTH: u32 = 2048;

fn too_deep() -> io::Error {
    io::Error::other(format!(
        "more than {MAX_DEPTH} levels below the root (deeper than any path the kernel or Docker can name): not read"
    ))
}

fn check_name(name: &OsStr) -> io::Result<()> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') || b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a plain file name: {:?}", name.to_string_lossy()),
        ));
    }
    Ok(())
}

fn join_rel(base: &str, name: &OsStr) -> String {
    let name = name.to_string_lossy();
    if base.is_empty() {
        name.into_owned()
    } else {
        format!("{base}/{name}")
    }
}

fn not_regular(kind: FileKind) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("expected a regular file, found {}", kind_name(kind)),
    )
}

/// How a kind is named in messages.
pub fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "a regular file",
        FileKind::Dir => "a directory",
        FileKind::Symlink => "a symbolic link (not followed)",
        FileKind::CharDevice => "a character device",
        FileKind::BlockDevice => "a block device",
        FileKind::Fifo => "a FIFO",
        FileKind::Socket => "a socket",
        FileKind::Unknown => "an entry of unknown type",
    }
}

/// Read a whole file; `size` (from fstat) sizes the buffer, so a file whose size has not
/// changed is read in one call.
fn read_limited(file: File, limit: u64, size: u64) -> io::Result<Vec<u8>> {
    if size > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes, not read"),
        ));
    }
    let want = usize::try_from(size).unwrap_or(0);
    let mut out = Vec::with_capacity(want.saturating_add(1));
    // One read asks for one byte more than the size: getting exactly the size is the end
    // (a regular file reads short only there), so no second read is needed to see it.
    // Anything else (a file grown or shrunk since its stat) reads on to the end.
    let n = loop {
        match rustix::io::read(&file, rustix::buffer::spare_capacity(&mut out)) {
            Ok(n) => break n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    };
    if n != want {
        file.take(limit + 1 - n as u64).read_to_end(&mut out)?;
    }
    if out.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("larger than {limit} bytes, not read"),
        ));
    }
    Ok(out)
}

/// A regular file of the root, open read-only for streaming (`Dir::open`).
pub enum FileReader {
    Fd(File),
    Mem(io::Cursor<Vec<u8>>),
    /// A file of an archive, read again from the archive (`Dir::open_streaming`).
    Stream(Box<dyn Read + Send>),
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            FileReader::Fd(f) => f.read(buf),
            FileReader::Mem(c) => c.read(buf),
            FileReader::Stream(r) => r.read(buf),
        }
    }
}

/// Read an xattr value with a growing buffer; absent (or unsupported) is `None`.
fn xattr_value(
    mut get: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; 256];
    loop {
        match get(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(rustix::io::Errno::NODATA | rustix::io::Errno::NOTSUP) => return Ok(None),
            // the value is larger than the buffer (xattr values are at most 64 KiB)
            Err(rustix::io::Errno::RANGE) if buf.len() < 1 << 17 => buf.resize(buf.len() * 8, 0),
            Err(e) => return Err(e.into()),
        }
    }
}

fn symlink_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "expected a regular file or directory, found a symbolic link (not followed)",
    )
}

/// `openat` with `O_NOATIME` where the kernel allows it (the caller owns the entry or
/// has CAP_FOWNER): reading a root for evidence must not change its access times. On
/// EPERM the open is made again without it, silently.
fn open_noatime(dir: &OwnedFd, name: &OsStr, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    match rustix::fs::openat(dir, name, flags.union(OFlags::NOATIME), Mode::empty()) {
        Err(rustix::io::Errno::PERM) => rustix::fs::openat(dir, name, flags, Mode::empty()),
        r => r,
    }
}

/// Open a regular file of `dir` read-only. Its type is checked with
/// `fstatat(AT_SYMLINK_NOFOLLOW)` BEFORE anything is opened, so a device node, FIFO or
/// socket planted where a file belongs is never opened (opening a device can act on
/// hardware: a watchdog arms on open). The open itself is `O_NOFOLLOW|O_NONBLOCK`, and
/// the opened inode must be the one checked (same device and inode, still a regular
/// file), or the entry changed in between and is refused.
fn open_regular(dir: &OwnedFd, name: &OsStr) -> io::Result<(OwnedFd, rustix::fs::Stat)> {
    let before = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let kind = FileKind::from_file_type(FileType::from_raw_mode(before.st_mode));
    if kind == FileKind::Symlink {
        return Err(symlink_error()); // worded as before the check moved ahead of the open
    }
    if kind != FileKind::File {
        return Err(not_regular(kind));
    }
    let file = open_noatime(dir, name, FILE_FLAGS).map_err(|e| open_error(e, dir, name))?;
    let st = rustix::fs::fstat(&file)?;
    let kind = FileKind::from_file_type(FileType::from_raw_mode(st.st_mode));
    if kind != FileKind::File {
        return Err(not_regular(kind));
    }
    if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino) {
        return Err(io::Error::new(
            io::ErrorKind::Interrupted,
            "replaced while being opened; not read",
        ));
    }
    Ok((file, st))
}

/// `O_NOFOLLOW` on a symlink gives ELOOP (or ENOTDIR with `O_DIRECTORY`): say what it is.
fn open_error(err: rustix::io::Errno, dir: &OwnedFd, name: &OsStr) -> io::Error {
    if err == rustix::io::Errno::LOOP || err == rustix::io::Errno::NOTDIR {
        if let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            let kind = FileKind::from_file_type(FileType::from_raw_mode(st.st_mode));
            if kind == FileKind::Symlink {
                return symlink_error();
            }
            if err == rustix::io::Errno::NOTDIR {
                return io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("expected a directory, found {}", kind_name(kind)),
                );
            }
        }
    }
    err.into()
}

impl DataRoot {
    /// Open a root: a directory, or a tar archive of one.
    pub fn open(path: &Path) -> Result<DataRoot, OpenError> {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(OpenError::NotFound(path.to_owned()))
            }
            Err(e) => return Err(OpenError::Io(path.to_owned(), e)),
        };
        if meta.is_dir() {
            // The root itself may be a symlink (/var/lib/docker -> /data/docker is common):
            // the user named it. Nothing below it is followed.
            let flags = DIR_FLAGS.difference(OFlags::NOFOLLOW);
            let fd = match rustix::fs::open(path, flags.union(OFlags::NOATIME), Mode::empty()) {
                Err(rustix::io::Errno::PERM) => rustix::fs::open(path, flags, Mode::empty()),
                r => r,
            }
            .map_err(|e| OpenError::Io(path.to_owned(), e.into()))?;
            return Ok(DataRoot {
                backend: Backend::Fs(fd),
                shown: path.to_owned(),
                problems: Vec::new(),
                archive_top: None,
                capture: None,
            });
        }
        if !meta.is_file() {
            return Err(OpenError::NotRoot(path.to_owned()));
        }
        // The archive the user named (checked to be a regular file above; O_NONBLOCK in
        // case it was swapped for a FIFO since), read without touching its atime.
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        let file = match rustix::fs::open(path, flags.union(OFlags::NOATIME), Mode::empty()) {
            Err(rustix::io::Errno::PERM) => rustix::fs::open(path, flags, Mode::empty()),
            r => r,
        }
        .map_err(|e| OpenError::Io(path.to_owned(), e.into()))?;
        if !rustix::fs::fstat(&file)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
        {
            return Err(OpenError::NotRoot(path.to_owned()));
        }
        let file = File::from(file);
        let (index, mut problems) = archive::Index::read(file).map_err(|e| match e {
            archive::ReadError::NotArchive => OpenError::NotRoot(path.to_owned()),
            archive::ReadError::Io(e) => OpenError::Io(path.to_owned(), e),
        })?;
        let capture = index.capture_manifest().and_then(|bytes| {
            crate::capture::manifest::Manifest::parse(bytes)
                .map_err(|p| problems.push(p))
                .ok()
        });
        Ok(DataRoot {
            backend: Backend::Archive(std::sync::Arc::new(index)),
            shown: path.to_owned(),
            problems,
            archive_top: None,
            capture,
        })
    }

    /// Another data root inside the same archive: the directory at `rel` from the
    /// archive's own top (`None` when it is absent or this root is not an archive).
    /// The archive is indexed once and shared.
    pub fn archive_root(&self, rel: &str) -> Option<DataRoot> {
        let Backend::Archive(ix) = &self.backend else {
            return None;
        };
        let node = ix.lookup_rel(rel)?;
        if ix.meta(node).kind != FileKind::Dir {
            return None;
        }
        Some(DataRoot {
            backend: Backend::Archive(std::sync::Arc::clone(ix)),
            shown: self.shown.join(rel),
            problems: Vec::new(),
            archive_top: Some((node, rel.to_owned())),
            // A capture's manifest vouches for the files it redacted in this tree too.
            capture: self.capture.clone().map(|mut m| {
                rel.rsplit('/')
                    .next()
                    .unwrap_or(rel)
                    .clone_into(&mut m.data_root);
                m
            }),
        })
    }

    /// The manifest when the root is a `dockscope capture` archive.
    pub fn capture(&self) -> Option<&crate::capture::manifest::Manifest> {
        self.capture.as_ref()
    }

    /// True when every entry's allocated bytes and directory sizes are known: a
    /// directory, or a capture (whose entries carry what the live root measured).
    pub fn sizes_known(&self) -> bool {
        !self.is_archive() || self.capture.is_some()
    }

    /// The filesystem type (`statfs` magic number) of a directory root.
    pub fn fs_type(&self) -> Option<u64> {
        match &self.backend {
            Backend::Fs(fd) => rustix::fs::fstatfs(fd)
                .ok()
                .and_then(|s| u64::try_from(s.f_type).ok()),
            Backend::Archive(_) => None,
        }
    }

    /// The path the user gave.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// True when the root is an archive: allocated sizes are unknown there.
    pub fn is_archive(&self) -> bool {
        matches!(self.backend, Backend::Archive(_))
    }

    /// For an archive, the folder inside it that holds the data root ("" when at top).
    pub fn archive_prefix(&self) -> Option<&str> {
        match &self.backend {
            Backend::Archive(ix) => Some(
                self.archive_top
                    .as_ref()
                    .map_or(ix.prefix(), |(_, p)| p.as_str()),
            ),
            Backend::Fs(_) => None,
        }
    }

    /// Problems met while opening (a truncated archive, ...).
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The root directory itself.
    pub fn top(&self) -> io::Result<Dir<'_>> {
        let handle = match &self.backend {
            Backend::Fs(fd) => {
                Handle::Fd(open_noatime(fd, OsStr::new("."), DIR_FLAGS).map_err(io::Error::from)?)
            }
            Backend::Archive(ix) => {
                Handle::Node(self.archive_top.as_ref().map_or(ix.top(), |(n, _)| *n))
            }
        };
        Ok(Dir {
            root: self,
            rel: String::new(),
            depth: 0,
            handle,
            listed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A directory by its path relative to the root (`/`-separated, plain names only).
    pub fn dir(&self, rel: &str) -> io::Result<Dir<'_>> {
        let mut dir = self.top()?;
        for part in rel.split('/').filter(|p| !p.is_empty()) {
            dir = dir.sub(OsStr::new(part))?;
        }
        Ok(dir)
    }

    /// Read a whole regular file by relative path, refusing one larger than `limit`.
    pub fn read(&self, rel: &str, limit: u64) -> io::Result<Vec<u8>> {
        let (parent, name) = split_rel(rel);
        self.dir(parent)?.read(OsStr::new(name), limit)
    }

    /// `lstat` by relative path.
    pub fn lstat(&self, rel: &str) -> io::Result<Meta> {
        let (parent, name) = split_rel(rel);
        if name.is_empty() {
            return self.top()?.meta();
        }
        self.dir(parent)?.lstat(OsStr::new(name))
    }
}

fn split_rel(rel: &str) -> (&str, &str) {
    match rel.rsplit_once('/') {
        Some((p, n)) => (p, n),
        None => ("", rel),
    }
}

impl<'r> Dir<'r> {
    /// Path of this directory relative to the root.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// Path of an entry of this directory relative to the root.
    pub fn rel_of(&self, name: &OsStr) -> String {
        join_rel(&self.rel, name)
    }

    /// Open a subdirectory; a symlink is refused, never followed.
    pub fn sub(&self, name: &OsStr) -> io::Result<Dir<'r>> {
        check_name(name)?;
        if self.depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        let handle = match (&self.handle, &self.root.backend) {
            // O_DIRECTORY: the kernel refuses anything but a directory before opening
            // it, so no device is ever opened here.
            (Handle::Fd(fd), _) => {
                Handle::Fd(open_noatime(fd, name, DIR_FLAGS).map_err(|e| open_error(e, fd, name))?)
            }
            (Handle::Node(n), Backend::Archive(ix)) => {
                let child = ix.child(*n, name)?;
                match ix.meta(child).kind {
                    FileKind::Dir => Handle::Node(child),
                    FileKind::Symlink => return Err(symlink_error()),
                    k => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("expected a directory, found {}", kind_name(k)),
                        ))
                    }
                }
            }
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        };
        Ok(Dir {
            root: self.root,
            rel: self.rel_of(name),
            depth: self.depth + 1,
            handle,
            listed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The names in this directory (without `.` and `..`), in no particular order.
    pub fn entries(&self) -> io::Result<Vec<DirEntry>> {
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => {
                // getdents64 straight on our fd: no dup, no reopen. A second listing of
                // the same handle starts over from the top.
                if self.listed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    rustix::fs::seek(fd, rustix::fs::SeekFrom::Start(0))?;
                }
                let mut out = Vec::new();
                let mut buf = Vec::with_capacity(32 << 10);
                let mut raw = rustix::fs::RawDir::new(fd, buf.spare_capacity_mut());
                while let Some(entry) = raw.next() {
                    let entry = entry?;
                    let name = entry.file_name().to_bytes();
                    if name == b"." || name == b".." {
                        continue;
                    }
                    let kind = match entry.file_type() {
                        FileType::Unknown => None,
                        t => Some(FileKind::from_file_type(t)),
                    };
                    out.push(DirEntry {
                        name: OsString::from_vec(name.to_vec()),
                        kind,
                    });
                }
                Ok(out)
            }
            (Handle::Node(n), Backend::Archive(ix)) => Ok(ix.entries(*n)),
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }

    /// The names in this directory, as [`Dir::entries`], packed in one buffer: no
    /// allocation per name. For the walk, which lists every directory of the root.
    pub fn list(&self) -> io::Result<Listing> {
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => {
                if self.listed.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    rustix::fs::seek(fd, rustix::fs::SeekFrom::Start(0))?;
                }
                // Sized for a typical directory at once: no regrowth for most of them.
                let mut out = Listing {
                    names: Vec::with_capacity(1024),
                    starts: Vec::with_capacity(32),
                    kinds: Vec::with_capacity(32),
                };
                GETDENTS_BUF.with(|cell| {
                    let mut buf = cell.take();
                    buf.clear();
                    buf.reserve(64 << 10);
                    let mut raw = rustix::fs::RawDir::new(fd, buf.spare_capacity_mut());
                    let mut res = Ok(());
                    while let Some(entry) = raw.next() {
                        let entry = match entry {
                            Ok(e) => e,
                            Err(e) => {
                                res = Err(e);
                                break;
                            }
                        };
                        let name = entry.file_name().to_bytes_with_nul();
                        if name == b".\0" || name == b"..\0" {
                            continue;
                        }
                        let kind = match entry.file_type() {
                            FileType::Unknown => None,
                            t => Some(FileKind::from_file_type(t)),
                        };
                        out.starts.push(out.names.len());
                        out.kinds.push(kind);
                        out.names.extend_from_slice(name);
                    }
                    cell.set(buf);
                    res
                })?;
                Ok(out)
            }
            (Handle::Node(n), Backend::Archive(ix)) => {
                let mut out = Listing::default();
                for e in ix.entries(*n) {
                    // Looked up by `name` (never `c_name`): an archive's name is kept whole.
                    out.starts.push(out.names.len());
                    out.kinds.push(e.kind);
                    out.names.extend_from_slice(e.name.as_bytes());
                    out.names.push(0);
                }
                Ok(out)
            }
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }

    /// `lstat` of entry `i` of a listing of this directory ([`Dir::list`]). The name
    /// is passed to the kernel as listed, without a copy.
    pub fn lstat_listed(&self, listing: &Listing, i: usize) -> io::Result<Meta> {
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => {
                let name = listing.c_name(i);
                // What getdents returns is one plain name of a directory (never `/`,
                // never `.`/`..`, which `list` leaves out); checked anyway in debug builds.
                debug_assert!(check_name(listing.name(i)).is_ok());
                Ok(Meta::from_stat(&rustix::fs::statat(
                    fd,
                    name,
                    AtFlags::SYMLINK_NOFOLLOW,
                )?))
            }
            _ => self.lstat(listing.name(i)),
        }
    }

    /// `lstat` of an entry.
    pub fn lstat(&self, name: &OsStr) -> io::Result<Meta> {
        check_name(name)?;
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => Ok(Meta::from_stat(&rustix::fs::statat(
                fd,
                name,
                AtFlags::SYMLINK_NOFOLLOW,
            )?)),
            (Handle::Node(n), Backend::Archive(ix)) => Ok(ix.meta(ix.child(*n, name)?)),
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }

    /// `lstat` of this directory itself.
    pub fn meta(&self) -> io::Result<Meta> {
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => Ok(Meta::from_stat(&rustix::fs::fstat(fd)?)),
            (Handle::Node(n), Backend::Archive(ix)) => Ok(ix.meta(*n)),
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }

    /// Read a regular file whole; larger than `limit` is an error, so is any other kind.
    pub fn read(&self, name: &OsStr, limit: u64) -> io::Result<Vec<u8>> {
        check_name(name)?;
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => {
                let (file, st) = open_regular(fd, name)?;
                read_limited(
                    File::from(file),
                    limit,
                    u64::try_from(st.st_size).unwrap_or(0),
                )
            }
            (Handle::Node(n), Backend::Archive(ix)) => {
                let child = ix.child(*n, name)?;
                let meta = ix.meta(child);
                if meta.kind != FileKind::File {
                    return Err(not_regular(meta.kind));
                }
                if meta.len > limit {
                    return Err(io::Error::new(
                        io::ErrorKind::FileTooLarge,
                        format!("larger than {limit} bytes, not read"),
                    ));
                }
                ix.content(child)
            }
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }

    /// An extended attribute of an entry (`trusted.overlay.opaque`, ...), never following
    /// a symlink. `Ok(None)` when the entry has no such attribute, or its filesystem none.
    pub fn get_xattr(&self, name: &OsStr, key: &str) -> io::Result<Option<Vec<u8>>> {
        check_name(name)?;
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => {
                let st = rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
                match FileKind::from_file_type(FileType::from_raw_mode(st.st_mode)) {
                    FileKind::Dir => {
                        let d = open_noatime(fd, name, DIR_FLAGS)
                            .map_err(|e| open_error(e, fd, name))?;
                        xattr_value(|buf| rustix::fs::fgetxattr(&d, key, buf))
                    }
                    FileKind::File => {
                        let (f, _) = open_regular(fd, name)?;
                        xattr_value(|buf| rustix::fs::fgetxattr(&f, key, buf))
                    }
                    _ => {
                        // Symlinks, devices, FIFOs and sockets are not opened: lgetxattr
                        // on /proc/self/fd/N/NAME names the entry itself, unfollowed.
                        let mut path = format!("/proc/self/fd/{}/", fd.as_raw_fd()).into_bytes();
                        path.extend_from_slice(name.as_bytes());
                        let path = OsString::from_vec(path);
                        xattr_value(|buf| rustix::fs::lgetxattr(path.as_os_str(), key, buf))
                    }
                }
            }
            (Handle::Node(n), Backend::Archive(ix)) => Ok(ix.xattr(ix.child(*n, name)?, key)),
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }

    /// Every extended attribute of an entry, never following a symlink, sorted by key.
    /// Empty in an archive and where the filesystem has none.
    pub fn xattr_list(&self, name: &OsStr) -> io::Result<Vec<(String, Vec<u8>)>> {
        check_name(name)?;
        let Handle::Fd(fd) = &self.handle else {
            return Ok(Vec::new());
        };
        // llistxattr/lgetxattr on /proc/self/fd/N/NAME: the entry itself, unfollowed,
        // without opening it.
        let mut path = format!("/proc/self/fd/{}/", fd.as_raw_fd()).into_bytes();
        path.extend_from_slice(name.as_bytes());
        let path = OsString::from_vec(path);
        let mut names = vec![0u8; 1024];
        loop {
            match rustix::fs::llistxattr(path.as_os_str(), &mut names) {
                Ok(n) => {
                    names.truncate(n);
                    break;
                }
                Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
                Err(rustix::io::Errno::RANGE) if names.len() < 1 << 20 => {
                    names.resize(names.len() * 8, 0);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut out = Vec::new();
        for key in names.split(|&b| b == 0).filter(|k| !k.is_empty()) {
            let key = String::from_utf8_lossy(key).into_owned();
            if let Some(v) = xattr_value(|buf| rustix::fs::lgetxattr(path.as_os_str(), &*key, buf))?
            {
                out.push((key, v));
            }
        }
        out.sort();
        Ok(out)
    }

    /// An extended attribute of this directory itself (see `get_xattr`).
    pub fn xattr(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => xattr_value(|buf| rustix::fs::fgetxattr(fd, key, buf)),
            (Handle::Node(n), Backend::Archive(ix)) => Ok(ix.xattr(*n, key)),
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }

    /// Open a regular file for streaming reads (any size), with its `fstat`. In an
    /// archive only the small files kept in memory can be read (layer contents cannot).
    pub fn open(&self, name: &OsStr) -> io::Result<(FileReader, Meta)> {
        check_name(name)?;
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => {
                let (file, st) = open_regular(fd, name)?;
                Ok((FileReader::Fd(File::from(file)), Meta::from_stat(&st)))
            }
            (Handle::Node(n), Backend::Archive(ix)) => {
                let child = ix.child(*n, name)?;
                let meta = ix.meta(child);
                if meta.kind != FileKind::File {
                    return Err(not_regular(meta.kind));
                }
                Ok((FileReader::Mem(io::Cursor::new(ix.content(child)?)), meta))
            }
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }

    /// `open`, and in an archive also a file whose content was not kept: its bytes are
    /// streamed from a second pass over the archive (for `cat` and `export`).
    pub fn open_streaming(&self, name: &OsStr) -> io::Result<(FileReader, Meta)> {
        check_name(name)?;
        match (&self.handle, &self.root.backend) {
            (Handle::Node(n), Backend::Archive(ix)) => {
                let child = ix.child(*n, name)?;
                let meta = ix.meta(child);
                if meta.kind != FileKind::File {
                    return Err(not_regular(meta.kind));
                }
                Ok((FileReader::Stream(ix.stream(child)?), meta))
            }
            _ => self.open(name),
        }
    }

    /// The target of a symlink, as stored (never resolved).
    pub fn read_link(&self, name: &OsStr) -> io::Result<PathBuf> {
        check_name(name)?;
        match (&self.handle, &self.root.backend) {
            (Handle::Fd(fd), _) => {
                let target = rustix::fs::readlinkat(fd, name, Vec::new())?;
                Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
            }
            (Handle::Node(n), Backend::Archive(ix)) => ix.link_target(ix.child(*n, name)?),
            (Handle::Node(_), Backend::Fs(_)) => unreachable!("node handle on a directory root"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_read_gets_every_byte_whatever_the_stated_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let body: Vec<u8> = (0..100u8).collect();
        std::fs::write(&path, &body).unwrap();
        let open = || File::open(&path).unwrap();
        // As stated, smaller (the file grew since its stat), larger (it shrank), empty.
        for stated in [100, 40, 0, 250] {
            assert_eq!(
                read_limited(open(), 1000, stated).unwrap(),
                body,
                "{stated}"
            );
        }
        // The limit holds on what is read, not on what was stated.
        let err = read_limited(open(), 60, 40).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        let err = read_limited(open(), 60, 100).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(read_limited(open(), 100, 100).unwrap(), body);
        std::fs::write(&path, b"").unwrap();
        assert_eq!(read_limited(open(), 10, 0).unwrap(), b"");
    }

    #[test]
    fn names_that_could_leave_the_root_are_refused() {
        for bad in ["", ".", "..", "a/b", "x\0y"] {
            assert!(check_name(OsStr::new(bad)).is_err(), "{bad:?}");
        }
        assert!(check_name(OsStr::new("..x")).is_ok());
    }

    #[test]
    fn rel_paths_join_and_split() {
        assert_eq!(join_rel("", OsStr::new("image")), "image");
        assert_eq!(join_rel("image", OsStr::new("overlay2")), "image/overlay2");
        assert_eq!(split_rel("a/b/c"), ("a/b", "c"));
        assert_eq!(split_rel("c"), ("", "c"));
    }
}
