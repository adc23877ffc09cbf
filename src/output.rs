//! The one place dockscope writes: a file the user names (`export -o FILE`), which
//! must lie outside the root. The file is written under a temporary name in its
//! directory and renamed into place when complete; an existing file is replaced only
//! with `--force`.
//!
//! `decide_output_path` is where the path to write is settled: a sandbox that allows
//! one writable path should be given `Decided::dir` (the temp file and the final file
//! both live there) after this call, and nothing else.
#![allow(clippy::disallowed_methods)] // the one writer, outside the root by construction

use crate::root::DataRoot;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Where the output goes, checked.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The directory that will be written to (canonical).
    pub dir: PathBuf,
    /// The final file (canonical directory + the name asked for).
    pub path: PathBuf,
    pub force: bool,
}

fn refuse(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, msg)
}

/// Settle the output path: its directory exists, is not the root nor inside it (by
/// canonical path and by device and inode of every ancestor, so a bind mount or a
/// symlinked path to the root is caught), it is not the root archive itself, and it
/// does not exist unless `force`.
pub fn decide_output_path(root: &DataRoot, requested: &Path, force: bool) -> io::Result<Decided> {
    let name = requested
        .file_name()
        .ok_or_else(|| refuse(format!("{}: not a file name", requested.display())))?;
    let parent = match requested.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let dir = std::fs::canonicalize(&parent)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))?;
    let path = dir.join(name);
    let root_path = std::fs::canonicalize(root.shown())?;
    let root_meta = std::fs::metadata(&root_path)?;
    if root.is_archive() {
        if path == root_path {
            return Err(refuse(format!(
                "{}: that is the root archive itself",
                requested.display()
            )));
        }
    } else {
        if dir.starts_with(&root_path) {
            return Err(refuse(format!(
                "{}: inside the root {}; dockscope never writes into a root",
                requested.display(),
                root_path.display()
            )));
        }
        let mut cur: Option<&Path> = Some(&dir);
        while let Some(p) = cur {
            if let Ok(m) = std::fs::metadata(p) {
                if m.dev() == root_meta.dev() && m.ino() == root_meta.ino() {
                    return Err(refuse(format!(
                        "{}: {} is the root {} (same device and inode); dockscope never writes into a root",
                        requested.display(),
                        p.display(),
                        root_path.display()
                    )));
                }
            }
            cur = p.parent();
        }
    }
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_dir() => {
            return Err(refuse(format!("{}: is a directory", requested.display())))
        }
        Ok(m) => {
            if root.is_archive() && m.dev() == root_meta.dev() && m.ino() == root_meta.ino() {
                return Err(refuse(format!(
                    "{}: that is the root archive itself",
                    requested.display()
                )));
            }
            if !force {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: exists; use --force to replace it", requested.display()),
                ));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok(Decided { dir, path, force })
}

/// A file being written under a temporary name; removed unless `finish` is called.
pub struct OutputFile {
    decided: Decided,
    tmp: PathBuf,
    file: Option<io::BufWriter<File>>,
}

impl OutputFile {
    pub fn create(decided: Decided) -> io::Result<OutputFile> {
        let name = decided
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = decided
            .dir
            .join(format!(".{name}.dockscope-{}.tmp", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .custom_flags(libc_nofollow())
            .open(&tmp)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", tmp.display())))?;
        Ok(OutputFile {
            decided,
            tmp,
            file: Some(io::BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Flush, sync and move into place (never over an existing file without `force`).
    pub fn finish(mut self) -> io::Result<PathBuf> {
        let w = self.file.take().expect("not finished twice");
        let f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        f.sync_all()?;
        drop(f);
        if self.decided.force {
            std::fs::rename(&self.tmp, &self.decided.path)?;
        } else {
            // a hard link fails if the name appeared meanwhile: never overwrite
            std::fs::hard_link(&self.tmp, &self.decided.path).map_err(|e| {
                io::Error::new(e.kind(), format!("{}: {e}", self.decided.path.display()))
            })?;
            std::fs::remove_file(&self.tmp)?;
        }
        Ok(self.decided.path.clone())
    }
}

fn libc_nofollow() -> i32 {
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

impl Write for OutputFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.as_mut().map_or(Ok(0), |f| f.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
