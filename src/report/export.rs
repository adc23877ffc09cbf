//! `dockscope cat TARGET:PATH` and `dockscope export TARGET [PATH] -o FILE.tar`.
//!
//! `cat` resolves PATH inside the view as the container would (its symlinks followed
//! within the view, at most 40, `..` never above its top; never a symlink of the root)
//! and streams the file. `export` of an image layer rebuilds the tar Docker made (the
//! tar-split's raw bytes verbatim, file contents from the layer dir), so its SHA-256 is
//! the layer's DiffID; of an image or container (or a subtree, or a layer dir without
//! tar-split) it writes the merged view (or the layer with its whiteouts as `.wh.`
//! entries) as a new tar, names relative to the view's top, as `docker export` does.

use super::ls::{open_target, TargetRef};
use crate::fs::merge::{dir_of, walk};
use crate::fs::target::{self, Target};
use crate::fs::{self, Entry, MergedDir, Stack, OPAQUE_MARKER, WHITEOUT_PREFIX};
use crate::model::Model;
use crate::output::{decide_output_path, OutputFile};
use crate::problem::Problem;
use crate::root::{DataRoot, Dir, FileKind};
use crate::verify::tarsplit;
use crate::Fatal;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn usage(path: &str, e: impl std::fmt::Display) -> Fatal {
    Fatal::Usage(format!("{}: {e}", super::sanitize(path)))
}

/// `cat`: the file's bytes to `out`.
pub fn cat(
    root: &DataRoot,
    model: &Model,
    spec: &str,
    rw_only: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Fatal> {
    let (name, path) = target::split_spec(spec);
    let mut problems = Vec::new();
    let o = open_target(model, name, rw_only, &mut problems)?;
    let found = o
        .stack
        .resolve(root, path.as_bytes(), true)
        .map_err(|e| usage(path, e))?;
    let Some((e, parent, _)) = found else {
        return Err(usage(path, "no such file in the view"));
    };
    if e.whiteout {
        return Err(usage(path, "a whiteout: the layer deletes this name"));
    }
    if e.meta.kind != FileKind::File {
        return Err(usage(
            path,
            format!(
                "not a regular file ({})",
                crate::root::kind_name(e.meta.kind)
            ),
        ));
    }
    let dir = dir_of(&parent, e.layer).ok_or_else(|| usage(path, "layer not open"))?;
    let (mut f, _) = dir
        .open_streaming(OsStr::from_bytes(&e.name))
        .map_err(|err| {
            usage(
                &format!("{}/{}", fs::dir_shown(dir), fs::lossy(&e.name)),
                err,
            )
        })?;
    io::copy(&mut f, out)?;
    super::write_problems(&problems, err)?;
    Ok(())
}

#[derive(Serialize)]
pub struct ExportReport {
    pub target: TargetRef,
    /// The subtree exported (`/` for all).
    pub path: String,
    /// `layer-tar` (a layer's tar rebuilt from its tar-split) or `view` (a tar written
    /// from the files).
    pub mode: &'static str,
    /// The file written.
    pub output: String,
    /// Tar entries written.
    pub entries: u64,
    /// Bytes of the tar.
    pub bytes: u64,
    /// `sha256:` of the tar.
    pub sha256: String,
    /// Mode `layer-tar`: the layer's DiffID, and whether the tar hashes to it.
    pub diff_id: Option<String>,
    pub diff_id_matches: Option<bool>,
    pub problems: Vec<Problem>,
}

impl super::Report for ExportReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// Counts and hashes what goes through it.
struct Hashing<W: Write> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Rebuild a layer's tar from its tar-split and its dir: entries written.
#[allow(clippy::many_single_char_names)]
fn layer_tar(root: &DataRoot, tar_split: &str, diff: &str, w: &mut dyn Write) -> io::Result<u64> {
    let (p, n) = tar_split.rsplit_once('/').unwrap_or(("", tar_split));
    let (f, _) = root.dir(p)?.open(OsStr::new(n))?;
    let mut r = tarsplit::Reader::new(f);
    let base = root.dir(diff)?;
    let mut last: Option<(Vec<u8>, Dir<'_>)> = None;
    let mut entries = 0u64;
    while let Some(item) = r.next_item()? {
        match item {
            tarsplit::Item::Segment(b) => w.write_all(&b)?,
            tarsplit::Item::File(fe) => {
                entries += 1;
                if fe.size == 0 {
                    continue;
                }
                let name = tarsplit::clean(&fe.name).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("entry {:?} climbs out of the layer", fs::lossy(&fe.name)),
                    )
                })?;
                let (parent, file) = match name.iter().rposition(|&b| b == b'/') {
                    Some(i) => (name[..i].to_vec(), name[i + 1..].to_vec()),
                    None => (Vec::new(), name.clone()),
                };
                if last.as_ref().is_none_or(|(p, _)| *p != parent) {
                    let mut d = root.dir(diff)?;
                    for c in parent.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
                        d = d.sub(OsStr::from_bytes(c))?;
                    }
                    last = Some((parent.clone(), d));
                }
                let dir = last.as_ref().map_or(&base, |(_, d)| d);
                let (f, _) = dir.open_streaming(OsStr::from_bytes(&file)).map_err(|e| {
                    io::Error::new(e.kind(), format!("{diff}/{}: {e}", fs::lossy(&name)))
                })?;
                let copied = io::copy(&mut f.take(fe.size), w)?;
                if copied != fe.size {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "{diff}/{}: {copied} bytes, the tar-split records {}",
                            fs::lossy(&name),
                            fe.size
                        ),
                    ));
                }
            }
        }
    }
    Ok(entries)
}

/// One entry of a view into the tar.
fn append(
    b: &mut tar::Builder<&mut dyn Write>,
    path: &[u8],
    e: &Entry,
    parent: &MergedDir<'_>,
    links: &mut HashMap<(usize, u64, u64), Vec<u8>>,
) -> io::Result<u64> {
    let dir = dir_of(parent, e.layer).ok_or_else(|| io::Error::other("layer not open"))?;
    let name = OsStr::from_bytes(&e.name);
    let mut h = tar::Header::new_gnu();
    h.set_mode(e.meta.mode);
    h.set_uid(u64::from(e.meta.uid));
    h.set_gid(u64::from(e.meta.gid));
    h.set_mtime(u64::try_from(e.meta.mtime).unwrap_or(0));
    h.set_size(0);
    let tar_path = |p: &[u8]| Path::new(OsStr::from_bytes(p)).to_owned();
    if e.whiteout {
        // a layer's whiteout, as a layer tar writes it
        let mut wh = WHITEOUT_PREFIX.to_vec();
        wh.extend_from_slice(&e.name);
        let p = match path.iter().rposition(|&c| c == b'/') {
            Some(i) => fs::join(&path[..i], &wh),
            None => wh,
        };
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, tar_path(&p), io::empty())?;
        return Ok(1);
    }
    match e.meta.kind {
        FileKind::Dir => {
            h.set_entry_type(tar::EntryType::Directory);
            let mut p = path.to_vec();
            p.push(b'/');
            b.append_data(&mut h, tar_path(&p), io::empty())?;
            if e.opaque {
                let mut h2 = h.clone();
                h2.set_entry_type(tar::EntryType::Regular);
                h2.set_mode(0o644);
                b.append_data(
                    &mut h2,
                    tar_path(&fs::join(path, OPAQUE_MARKER)),
                    io::empty(),
                )?;
                return Ok(2);
            }
        }
        FileKind::Symlink => {
            let target = dir.read_link(name)?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, tar_path(path), target)?;
        }
        FileKind::File => {
            let key = (e.layer, e.meta.dev, e.meta.ino);
            if e.meta.nlink > 1 {
                if let Some(first) = links.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    b.append_link(&mut h, tar_path(path), tar_path(first))?;
                    return Ok(1);
                }
                links.insert(key, path.to_vec());
            }
            let (f, meta) = dir.open_streaming(name).map_err(|err| {
                io::Error::new(
                    err.kind(),
                    NotRead(format!(
                        "{}/{}: {err}",
                        fs::dir_shown(dir),
                        fs::lossy(&e.name)
                    )),
                )
            })?;
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len);
            b.append_data(&mut h, tar_path(path), f.take(meta.len))?;
        }
        FileKind::CharDevice | FileKind::BlockDevice => {
            h.set_entry_type(if e.meta.kind == FileKind::CharDevice {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            let rdev = e.meta.rdev;
            let major = ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff);
            let minor = ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff);
            h.set_device_major(major as u32)?;
            h.set_device_minor(minor as u32)?;
            b.append_data(&mut h, tar_path(path), io::empty())?;
        }
        FileKind::Fifo => {
            h.set_entry_type(tar::EntryType::Fifo);
            b.append_data(&mut h, tar_path(path), io::empty())?;
        }
        FileKind::Socket | FileKind::Unknown => return Ok(0), // tar has no socket entry
    }
    Ok(1)
}

/// A file of the view that could not be read (not an error writing the tar).
#[derive(Debug)]
struct NotRead(String);

impl std::fmt::Display for NotRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NotRead {}

/// Why a view's tar stopped: a file that could not be read is named as such (the tar,
/// incomplete, is not kept), anything else is an error writing the output.
fn failed_tar(e: io::Error) -> Fatal {
    let unread = e
        .get_ref()
        .and_then(|r| r.downcast_ref::<NotRead>())
        .is_some();
    if unread {
        Fatal::Usage(format!("{e}; the tar was not written"))
    } else {
        Fatal::Output(e)
    }
}

/// Write a view (or its subtree) as a tar.
#[allow(clippy::many_single_char_names)]
fn view_tar(
    root: &DataRoot,
    stack: &Stack,
    path: &str,
    w: &mut dyn Write,
    problems: &mut Vec<Problem>,
) -> Result<u64, Fatal> {
    let mut b = tar::Builder::new(w);
    b.mode(tar::HeaderMode::Complete);
    let mut links = HashMap::new();
    let mut entries = 0u64;
    let mut failed: Option<io::Error> = None;
    let start = match super::ls::locate(root, stack, path)? {
        None => stack.open(root, problems),
        Some((e, parent, p)) => {
            entries += append(&mut b, &p, &e, &parent, &mut links)?;
            if !e.is_dir() || e.whiteout {
                b.finish()?;
                return Ok(entries);
            }
            let md = stack
                .open_child(&parent, &e)
                .map_err(|err| usage(path, err))?;
            let mut ps = Vec::new();
            walk(stack, md, &p, &mut ps, |p, e, parent| {
                if failed.is_some() {
                    return false;
                }
                match append(&mut b, p, e, parent, &mut links) {
                    Ok(n) => entries += n,
                    Err(err) => failed = Some(err),
                }
                true
            });
            problems.extend(ps);
            if let Some(e) = failed {
                return Err(failed_tar(e));
            }
            b.finish()?;
            return Ok(entries);
        }
    };
    walk(stack, start, b"", problems, |p, e, parent| {
        if failed.is_some() {
            return false;
        }
        match append(&mut b, p, e, parent, &mut links) {
            Ok(n) => entries += n,
            Err(err) => failed = Some(err),
        }
        true
    });
    if let Some(e) = failed {
        return Err(failed_tar(e));
    }
    b.finish()?;
    Ok(entries)
}

pub fn export(
    root: &DataRoot,
    model: &Model,
    spec: &str,
    path: Option<&str>,
    output: &Path,
    force: bool,
    rw_only: bool,
) -> Result<ExportReport, Fatal> {
    export_from(root, root, model, spec, path, output, force, rw_only)
}

/// `export`, the layer files read from `root` (containerd's root on its image store)
/// and the output refused inside `guard` (the Docker root) and inside `root`.
#[allow(clippy::too_many_arguments)]
pub fn export_from(
    root: &DataRoot,
    guard: &DataRoot,
    model: &Model,
    spec: &str,
    path: Option<&str>,
    output: &Path,
    force: bool,
    rw_only: bool,
) -> Result<ExportReport, Fatal> {
    let (name, spec_path) = target::split_spec(spec);
    let path = path.unwrap_or(spec_path);
    let mut problems = Vec::new();
    let o = open_target(model, name, rw_only, &mut problems)?;
    if !std::ptr::eq(root, guard) {
        match decide_output_path(root, output, force) {
            Ok(_) => {}
            // a tree inside an archive (`root.tar.gz/containerd`) has no path of its
            // own: the archive's check is the guard's
            Err(e) if root.is_archive() && e.kind() == io::ErrorKind::NotADirectory => {}
            Err(e) => return Err(Fatal::Usage(e.to_string())),
        }
    }
    let decided =
        decide_output_path(guard, output, force).map_err(|e| Fatal::Usage(e.to_string()))?;
    let mut file = OutputFile::create(decided).map_err(|e| Fatal::Usage(e.to_string()))?;
    let whole = fs::components(path.as_bytes()).is_empty();
    let layer = match o.target {
        Target::Layer(l) if whole => Some(l),
        _ => None,
    };
    let mut w = Hashing {
        inner: &mut file,
        sha: Sha256::new(),
        bytes: 0,
    };
    let (mode, entries, diff_id) =
        if let Some(l) = layer.filter(|&l| model.layers[l].tar_split_len.is_some()) {
            let rec = &model.layers[l];
            let ts = format!("{}/tar-split.json.gz", rec.path);
            let n = layer_tar(root, &ts, &o.stack.layers[0].dir, &mut w)
                .map_err(|e| Fatal::Usage(format!("rebuilding the layer's tar: {e}")))?;
            (
                "layer-tar",
                n,
                rec.diff_id.as_ref().map(|d| d.as_str().to_owned()),
            )
        } else {
            let n = view_tar(root, &o.stack, path, &mut w, &mut problems)?;
            // A snapshot of containerd's store has no tar-split: its files are written
            // as a new tar, which is compared with the DiffID all the same.
            let diff_id = layer
                .filter(|_| model.containerd.is_some())
                .and_then(|l| model.layers[l].diff_id.as_ref())
                .map(|d| d.as_str().to_owned());
            ("view", n, diff_id)
        };
    w.flush()?;
    let sha256 = format!("sha256:{:x}", w.sha.finalize());
    let bytes = w.bytes;
    let written = file.finish().map_err(Fatal::Output)?;
    let diff_id_matches = diff_id.as_ref().map(|d| *d == sha256);
    Ok(ExportReport {
        target: o.tref,
        path: fs::shown(&fs::components(path.as_bytes()).join(&b'/')),
        mode,
        output: written.display().to_string(),
        entries,
        bytes,
        sha256,
        diff_id,
        diff_id_matches,
        problems,
    })
}

pub fn render(r: &ExportReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "wrote {}: {} entries, {} bytes, {}",
        super::sanitize(&r.output),
        r.entries,
        r.bytes,
        r.sha256
    )?;
    match (&r.diff_id, r.diff_id_matches) {
        (Some(d), Some(true)) => writeln!(out, "the tar hashes to the layer's DiffID {d}"),
        (Some(d), _) => writeln!(out, "the tar does NOT hash to the layer's DiffID {d}"),
        _ => Ok(()),
    }
}
