//! Where a capture is written, and the writer: the one place in dockscope that
//! creates a file.
//!
//! `decide` settles the output once (outside the root, not overwritten without
//! `--force`, a temporary name in the same directory); a sandbox that allows one
//! writable path takes `Target::dir`. The archive is written to the temporary name and
//! renamed over the final name only when complete, so a failed capture leaves nothing
//! half-written under the final name.
#![allow(clippy::disallowed_methods)] // the capture's own output file, never under a root

use rustix::fs::{Mode, OFlags};
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// How the archive is compressed, from the output's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    #[allow(clippy::case_sensitive_file_extension_comparisons)] // lowercased first
    pub fn from_name(path: &Path) -> Option<Compression> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        if name.ends_with(".tar.zst") || name.ends_with(".tzst") {
            Some(Compression::Zstd)
        } else if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(Compression::Gzip)
        } else if name.ends_with(".tar") {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// The settled output: where it goes, the directory written to, the temporary name.
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    /// Replace an existing file at `path` (`--force`).
    pub force: bool,
    /// The directory that receives the temporary file and the rename: the one path a
    /// sandbox must allow writing to.
    pub dir: PathBuf,
    pub temp: PathBuf,
    pub compression: Compression,
}

/// Why the output cannot be written (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{0}: the name must end in .tar.zst, .tar.gz or .tar")]
    Name(PathBuf),
    #[error("{0}: is inside the root being captured ({1}); write the capture elsewhere")]
    InsideRoot(PathBuf, PathBuf),
    #[error("{0}: exists; pass --force to replace it")]
    Exists(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, io::Error),
}

/// Settle the output path. `roots` are the (dev, ino) of the directories being captured:
/// the output's directory and every directory above it (`..` followed up to `/`, so a
/// symlink or a bind mount of the root is seen through) must be none of them.
pub fn decide(
    output: &Path,
    roots: &[(u64, u64, PathBuf)],
    force: bool,
) -> Result<Target, OutputError> {
    let compression =
        Compression::from_name(output).ok_or_else(|| OutputError::Name(output.to_owned()))?;
    let name = output
        .file_name()
        .ok_or_else(|| OutputError::Name(output.to_owned()))?;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let io_err = |e: io::Error| OutputError::Io(dir.clone(), e);
    let mut cur: OwnedFd = rustix::fs::open(
        &dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(e.into()))?;
    for _ in 0..4096 {
        let st = rustix::fs::fstat(&cur).map_err(|e| io_err(e.into()))?;
        if let Some((_, _, root)) = roots
            .iter()
            .find(|(dev, ino, _)| *dev == st.st_dev && *ino == st.st_ino)
        {
            return Err(OutputError::InsideRoot(output.to_owned(), root.clone()));
        }
        let up = rustix::fs::openat(
            &cur,
            "..",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(e.into()))?;
        let up_st = rustix::fs::fstat(&up).map_err(|e| io_err(e.into()))?;
        if up_st.st_dev == st.st_dev && up_st.st_ino == st.st_ino {
            break; // `/`
        }
        cur = up;
    }
    match std::fs::symlink_metadata(output) {
        Ok(_) if !force => return Err(OutputError::Exists(output.to_owned())),
        Ok(m) if m.is_dir() => {
            return Err(OutputError::Io(
                output.to_owned(),
                io::Error::new(io::ErrorKind::IsADirectory, "is a directory"),
            ))
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(OutputError::Io(output.to_owned(), e)),
    }
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    Ok(Target {
        path: output.to_owned(),
        force,
        temp: dir.join(temp_name),
        dir,
        compression,
    })
}

/// The open temporary file, compressed as the name says. `commit` renames it into place.
pub struct Output {
    inner: Sink,
    temp: PathBuf,
    path: PathBuf,
    force: bool,
    committed: bool,
}

enum Sink {
    Plain(io::BufWriter<File>),
    Gzip(flate2::write::GzEncoder<io::BufWriter<File>>),
    Zstd(ZstdWriter),
    Done,
}

impl Output {
    pub fn create(t: &Target) -> io::Result<Output> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_0600()
            .open(&t.temp)?;
        let buffered = io::BufWriter::with_capacity(1 << 20, file);
        let inner = match t.compression {
            Compression::None => Sink::Plain(buffered),
            Compression::Gzip => Sink::Gzip(flate2::write::GzEncoder::new(
                buffered,
                flate2::Compression::new(6),
            )),
            Compression::Zstd => Sink::Zstd(ZstdWriter::new(buffered)?),
        };
        Ok(Output {
            inner,
            temp: t.temp.clone(),
            path: t.path.clone(),
            force: t.force,
            committed: false,
        })
    }

    /// Finish the compressed stream, sync the file and rename it to the final name.
    pub fn commit(mut self) -> io::Result<()> {
        let file = match std::mem::replace(&mut self.inner, Sink::Done) {
            Sink::Plain(w) => w.into_inner().map_err(io::IntoInnerError::into_error)?,
            Sink::Gzip(g) => g
                .finish()?
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?,
            Sink::Zstd(z) => z
                .finish()?
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?,
            Sink::Done => return Err(io::Error::other("output already finished")),
        };
        file.sync_all()?;
        drop(file);
        if self.force {
            std::fs::rename(&self.temp, &self.path)?;
        } else {
            // a file that appeared at FILE since `decide` is not replaced either
            let cwd = rustix::fs::CWD;
            match rustix::fs::renameat_with(
                cwd,
                &self.temp,
                cwd,
                &self.path,
                rustix::fs::RenameFlags::NOREPLACE,
            ) {
                Ok(()) => {}
                Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                    std::fs::rename(&self.temp, &self.path)?;
                }
                Err(rustix::io::Errno::EXIST) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "appeared during the capture; pass --force to replace it",
                    ))
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
            Sink::Zstd(w) => w.write(buf),
            Sink::Done => Err(io::Error::other("output already finished")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
            Sink::Zstd(w) => w.flush(),
            Sink::Done => Ok(()),
        }
    }
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

/// zstd through libzstd (the `zstd` crate), level 1 with its worker threads: the walk
/// hands over whole buffers and libzstd compresses them on its own threads, so the walk
/// and the compression use separate cores.
struct ZstdWriter {
    enc: zstd::stream::write::Encoder<'static, io::BufWriter<File>>,
    /// Small writes (512-byte headers) gathered into large ones: one call into libzstd
    /// per `CHUNK`.
    buf: Vec<u8>,
}

const CHUNK: usize = 1 << 20;

/// zstd's level: 1 is its fastest standard level; a capture is mostly near-identical
/// headers, which level 1 already shrinks about fifteen times.
const ZSTD_LEVEL: i32 = 1;

impl ZstdWriter {
    fn new(w: io::BufWriter<File>) -> io::Result<ZstdWriter> {
        let mut enc = zstd::stream::write::Encoder::new(w, ZSTD_LEVEL)?;
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        enc.multithread(u32::try_from(workers).unwrap_or(1))?;
        Ok(ZstdWriter {
            enc,
            buf: Vec::with_capacity(CHUNK),
        })
    }

    fn finish(mut self) -> io::Result<io::BufWriter<File>> {
        self.enc.write_all(&self.buf)?;
        self.enc.finish()
    }
}

impl Write for ZstdWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > CHUNK && !self.buf.is_empty() {
            self.enc.write_all(&self.buf)?;
            self.buf.clear();
        }
        if data.len() >= CHUNK / 4 {
            self.enc.write_all(&self.buf)?;
            self.buf.clear();
            self.enc.write_all(data)?;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
