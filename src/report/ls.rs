//! `dockscope ls TARGET[:PATH]`: the files of an image's or container's merged view,
//! or of one layer alone (whiteouts and opaque directories shown as such).
//! Every name is listed, dot files included (as `ls -A`).

use crate::fs::merge::{dir_of, type_name, walk, walk_dirs};
use crate::fs::names::{write_names, Marks, Names};
use crate::fs::target::{self, Target};
use crate::fs::{self, Entry, LayerInfo, MergedDir, Stack};
use crate::model::Model;
use crate::problem::Problem;
use crate::root::{DataRoot, FileKind, Meta};
use crate::Fatal;
use serde::Serialize;
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

/// What a TARGET is, for output.
#[derive(Serialize, Clone, Debug)]
pub struct TargetRef {
    /// `image`, `container`, `layer` or `dir`.
    pub kind: String,
    /// A tag, container name, chain id or dir id.
    pub name: String,
    /// The view's layers, top first; `layer` fields index this list.
    pub stack: Vec<LayerInfo>,
}

/// One file of a view.
#[derive(Serialize, Clone, Debug)]
pub struct FileRow {
    /// Absolute in the view (`/etc/motd`).
    pub path: String,
    /// `file`, `dir`, `symlink`, `char`, `block`, `fifo`, `socket`, `unknown`.
    #[serde(rename = "type")]
    pub file_type: &'static str,
    /// Permission bits with setuid/setgid/sticky, octal (`"4755"`).
    pub mode: String,
    /// As `ls -l` prints them (`-rwsr-xr-x`).
    pub perms: String,
    pub uid: u32,
    pub gid: u32,
    /// `st_size`: bytes of a file, length of a symlink's target.
    pub size: u64,
    pub nlink: u64,
    /// RFC 3339, UTC, with nanoseconds.
    pub mtime: String,
    pub link_target: Option<String>,
    /// The stack index (top first) of the layer the entry comes from.
    pub layer: usize,
    /// A whiteout (only in a single layer's listing).
    pub whiteout: bool,
    /// An opaque directory (only in a single layer's listing).
    pub opaque: bool,
}

#[derive(Serialize)]
pub struct LsReport {
    pub target: TargetRef,
    /// The path listed.
    pub path: String,
    pub recursive: bool,
    pub entries: Vec<FileRow>,
    #[serde(skip)]
    pub long: bool,
    pub problems: Vec<Problem>,
}

impl super::Report for LsReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// `-rwxr-xr-x`, with `s`/`S`/`t`/`T` as `ls` shows them.
pub fn perms(m: &Meta) -> String {
    let t = match m.kind {
        FileKind::Dir => 'd',
        FileKind::Symlink => 'l',
        FileKind::CharDevice => 'c',
        FileKind::BlockDevice => 'b',
        FileKind::Fifo => 'p',
        FileKind::Socket => 's',
        FileKind::File | FileKind::Unknown => '-',
    };
    let mode = m.mode;
    let bit = |b: u32, c: char| if mode & b != 0 { c } else { '-' };
    let special = |x: u32, s: u32, lower: char, upper: char| match (mode & x != 0, mode & s != 0) {
        (true, true) => lower,
        (false, true) => upper,
        (true, false) => 'x',
        (false, false) => '-',
    };
    [
        t,
        bit(0o400, 'r'),
        bit(0o200, 'w'),
        special(0o100, 0o4000, 's', 'S'),
        bit(0o040, 'r'),
        bit(0o020, 'w'),
        special(0o010, 0o2000, 's', 'S'),
        bit(0o004, 'r'),
        bit(0o002, 'w'),
        special(0o001, 0o1000, 't', 'T'),
    ]
    .iter()
    .collect()
}

/// An mtime as RFC 3339 UTC.
pub fn rfc3339(sec: i64, nsec: u32) -> String {
    jiff::Timestamp::new(sec, i32::try_from(nsec).unwrap_or(0))
        .map_or_else(|_| sec.to_string(), |t| t.to_string())
}

/// A row for an entry; `parent` is the merged dir holding it (for a symlink's target).
pub fn row(path: &[u8], e: &Entry, parent: &MergedDir<'_>) -> FileRow {
    let link_target = (e.meta.kind == FileKind::Symlink)
        .then(|| {
            dir_of(parent, e.layer)
                .and_then(|d| d.read_link(OsStr::from_bytes(&e.name)).ok())
                .map(|p| fs::lossy(p.as_os_str().as_bytes()))
        })
        .flatten();
    FileRow {
        path: fs::shown(path),
        file_type: type_name(e.meta.kind),
        mode: format!("{:04o}", e.meta.mode),
        perms: perms(&e.meta),
        uid: e.meta.uid,
        gid: e.meta.gid,
        size: e.meta.len,
        nlink: e.meta.nlink,
        mtime: rfc3339(e.meta.mtime, e.meta.mtime_nsec),
        link_target,
        layer: e.layer,
        whiteout: e.whiteout,
        opaque: e.opaque,
    }
}

/// A resolved TARGET and its stack.
pub struct Opened {
    pub target: Target,
    pub stack: Stack,
    pub tref: TargetRef,
}

/// Resolve TARGET and build its stack.
pub fn open_target(
    model: &Model,
    name: &str,
    rw_only: bool,
    problems: &mut Vec<Problem>,
) -> Result<Opened, Fatal> {
    let t = target::resolve(model, name).map_err(Fatal::Usage)?;
    if rw_only && !matches!(t, Target::Container(_)) {
        return Err(Fatal::Usage("--rw applies to a container only".into()));
    }
    let stack = target::stack(model, t, rw_only, problems).map_err(Fatal::Usage)?;
    let (kind, name) = target::describe(model, t);
    Ok(Opened {
        target: t,
        tref: TargetRef {
            kind,
            name,
            stack: stack.layers.clone(),
        },
        stack,
    })
}

/// Where PATH leads in the view: intermediate symlinks resolved inside the view, a
/// final one followed only when the path ends with `/`. `None`: the top.
pub fn locate<'r>(
    root: &'r DataRoot,
    stack: &Stack,
    path: &str,
) -> Result<Option<(Entry, MergedDir<'r>, Vec<u8>)>, Fatal> {
    if fs::components(path.as_bytes()).is_empty() {
        return Ok(None);
    }
    let follow = path.ends_with('/');
    match stack.resolve(root, path.as_bytes(), follow) {
        Ok(Some(found)) => Ok(Some(found)),
        Ok(None) => Err(Fatal::Usage(format!(
            "{}: no such file or directory in the view",
            super::sanitize(path)
        ))),
        Err(e) => Err(Fatal::Usage(format!("{}: {e}", super::sanitize(path)))),
    }
}

pub fn build(
    root: &DataRoot,
    model: &Model,
    spec: &str,
    rw_only: bool,
    recursive: bool,
    long: bool,
) -> Result<LsReport, Fatal> {
    let (name, path) = target::split_spec(spec);
    let mut problems = Vec::new();
    let o = open_target(model, name, rw_only, &mut problems)?;
    let mut entries = Vec::new();
    let (start, base) = match locate(root, &o.stack, path)? {
        None => (o.stack.open(root, &mut problems), Vec::new()),
        Some((e, parent, p)) if e.is_dir() && !e.whiteout => {
            let md = o
                .stack
                .open_child(&parent, &e)
                .map_err(|err| Fatal::Usage(format!("{}: {err}", super::sanitize(path))))?;
            (md, p)
        }
        Some((e, parent, p)) => {
            entries.push(row(&p, &e, &parent));
            return Ok(LsReport {
                target: o.tref,
                path: fs::shown(&p),
                recursive,
                entries,
                long,
                problems,
            });
        }
    };
    walk(&o.stack, start, &base, &mut problems, |p, e, parent| {
        entries.push(row(p, e, parent));
        recursive
    });
    Ok(LsReport {
        target: o.tref,
        path: fs::shown(&base),
        recursive,
        entries,
        long,
        problems,
    })
}

/// Write a name as `ls` does, control characters escaped.
fn write_name(out: &mut dyn Write, name: &[u8], e: &Entry) -> io::Result<()> {
    if name.iter().any(|&b| b < 0x20 || b == 0x7f) || std::str::from_utf8(name).is_err() {
        out.write_all(super::sanitize(&fs::lossy(name)).as_bytes())?;
    } else {
        out.write_all(name)?;
    }
    if e.whiteout {
        out.write_all(b"  (whiteout)")?;
    }
    if e.opaque {
        out.write_all(b"  (opaque)")?;
    }
    out.write_all(b"\n")
}

/// Printable ASCII only: written as it is.
fn plain_ascii(b: &[u8]) -> bool {
    b.iter().all(|&c| (0x20..0x7f).contains(&c))
}

/// `write_name` into a buffer.
fn push_name(buf: &mut Vec<u8>, name: &[u8], marks: Marks) {
    if plain_ascii(name) {
        buf.extend_from_slice(name);
    } else if name.iter().any(|&b| b < 0x20 || b == 0x7f) || std::str::from_utf8(name).is_err() {
        buf.extend_from_slice(super::sanitize(&fs::lossy(name)).as_bytes());
    } else {
        buf.extend_from_slice(name);
    }
    if marks.whiteout {
        buf.extend_from_slice(b"  (whiteout)");
    }
    if marks.opaque {
        buf.extend_from_slice(b"  (opaque)");
    }
    buf.push(b'\n');
}

/// A directory's `PATH:` heading of `ls -R`.
fn push_heading(buf: &mut Vec<u8>, dir: &[u8]) {
    if plain_ascii(dir) {
        buf.push(b'/');
        buf.extend_from_slice(dir);
    } else {
        buf.extend_from_slice(super::sanitize(&fs::shown(dir)).as_bytes());
    }
    buf.extend_from_slice(b":\n");
}

/// `ls [-R] TARGET[:PATH]` without `-l` or `--json`: names streamed as the directories
/// are read (no inode read where the listing tells the type), in `ls -R`'s layout.
pub fn stream_names(
    root: &DataRoot,
    model: &Model,
    spec: &str,
    rw_only: bool,
    recursive: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Fatal> {
    let (name, path) = target::split_spec(spec);
    let mut problems = Vec::new();
    let mut o = open_target(model, name, rw_only, &mut problems)?;
    o.stack.names_only = true;
    let (start, base) = match locate(root, &o.stack, path)? {
        None => (o.stack.open(root, &mut problems), Vec::new()),
        Some((e, parent, p)) if e.is_dir() && !e.whiteout => {
            let md = o
                .stack
                .open_child(&parent, &e)
                .map_err(|err| Fatal::Usage(format!("{}: {err}", super::sanitize(path))))?;
            (md, p)
        }
        Some((e, _, _)) => {
            write_name(out, &e.name, &e)?;
            super::write_problems(&problems, err)?;
            return Ok(());
        }
    };
    if !recursive {
        for e in o.stack.list(&start, &mut problems) {
            write_name(out, &e.name, &e)?;
        }
        super::write_problems(&problems, err)?;
        return Ok(());
    }
    if o.stack.plain_names() {
        let render = |buf: &mut Vec<u8>, dir: &[u8], names: &Names| {
            push_heading(buf, dir);
            for (name, marks) in names.iter() {
                push_name(buf, name, marks);
            }
        };
        write_names(&o.stack, start, &base, &mut problems, &render, out)?;
        super::write_problems(&problems, err)?;
        return Ok(());
    }
    let mut first = true;
    walk_dirs(&o.stack, start, &base, &mut problems, |dir, entries| {
        if !first {
            out.write_all(b"\n")?;
        }
        first = false;
        writeln!(out, "{}:", super::sanitize(&fs::shown(dir)))?;
        for e in entries {
            write_name(out, &e.name, e)?;
        }
        Ok(())
    })?;
    super::write_problems(&problems, err)?;
    Ok(())
}

fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// One `ls -l` line (the name as given).
pub fn long_line(r: &FileRow, stack: &[LayerInfo], name: &str) -> String {
    let mtime = r.mtime.parse::<jiff::Timestamp>().map_or_else(
        |_| r.mtime.clone(),
        |t| t.strftime("%Y-%m-%d %H:%M").to_string(),
    );
    let layer = stack.get(r.layer).map(LayerInfo::short).unwrap_or_default();
    let mut s = format!(
        "{} {:>5} {:>5} {:>10} {} {:<12} {}",
        r.perms,
        r.uid,
        r.gid,
        r.size,
        mtime,
        layer,
        super::sanitize(name)
    );
    if let Some(t) = &r.link_target {
        s.push_str(" -> ");
        s.push_str(&super::sanitize(t));
    }
    if r.whiteout {
        s.push_str("  (whiteout)");
    }
    if r.opaque {
        s.push_str("  (opaque)");
    }
    s
}

pub fn render(r: &LsReport, out: &mut dyn Write) -> io::Result<()> {
    let line = |e: &FileRow| {
        let name = name_of(&e.path);
        if r.long {
            long_line(e, &r.target.stack, name)
        } else {
            let mut s = super::sanitize(name);
            if e.whiteout {
                s.push_str("  (whiteout)");
            }
            if e.opaque {
                s.push_str("  (opaque)");
            }
            s
        }
    };
    if !r.recursive {
        for e in &r.entries {
            writeln!(out, "{}", line(e))?;
        }
        return Ok(());
    }
    // As `ls -R`: each directory's names under a `PATH:` heading, directories in
    // depth-first order.
    let mut groups: Vec<(String, Vec<&FileRow>)> = vec![(r.path.clone(), Vec::new())];
    let mut index: std::collections::HashMap<String, usize> =
        std::iter::once((r.path.clone(), 0)).collect();
    for e in &r.entries {
        let parent = match e.path.rsplit_once('/') {
            Some(("", _)) | None => "/".to_owned(),
            Some((p, _)) => p.to_owned(),
        };
        if let Some(&g) = index.get(&parent) {
            groups[g].1.push(e);
        }
        if e.file_type == "dir" && !e.whiteout {
            index.insert(e.path.clone(), groups.len());
            groups.push((e.path.clone(), Vec::new()));
        }
    }
    for (k, (dir, rows)) in groups.iter().enumerate() {
        if k > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}:", super::sanitize(dir))?;
        for e in rows {
            writeln!(out, "{}", line(e))?;
        }
    }
    Ok(())
}
