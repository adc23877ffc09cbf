//! Files inside images, layers and containers: merged views of layer stacks.
//!
//! A view is a stack of layer dirs, top first, merged as overlayfs merges them: the
//! topmost entry of a name wins; a directory merges the same-named directories below
//! it until a layer holds a non-directory (or a whiteout) of that name or the
//! directory is opaque there; a whiteout (a character device 0/0, or with
//! `whiteout_files` a `.wh.<name>` file as in a layer tar or an aufs dir) hides the
//! name below it; an opaque directory (xattr `trusted.overlay.opaque=y`, or
//! `user.overlay.opaque=y` as a `userxattr` mount writes it, or a `.wh..wh..opq`
//! file with `whiteout_files`) hides everything below it.
//!
//! The stack is abstract: any dirs of one root, overlay2 `diff/` dirs in a Docker root,
//! or the overlayfs snapshotter's `snapshots/<id>/fs` dirs in containerd's root (Docker's
//! containerd image store, where every image, init and RW layer is a snapshot). A layer
//! names its dir as the reports show it (`containerd:` before a path of containerd's
//! root); `LayerInfo::rel` is the path inside the root the stack is opened on, and
//! `files_dir` says where a layer dir keeps its files. Everything is read through
//! `DataRoot` (no symlink of the root followed); a merged directory is held as one open
//! directory per layer, and its children are opened relative to those, so a walk costs
//! one open per directory and layer, never a reopen of every component from the base.
//!
//! `target.rs` turns TARGET (image, layer, container) into a stack; `merge.rs` holds
//! the comparisons (`docker diff`, image against image) built on these views.

pub mod merge;
pub mod names;
pub mod target;

use crate::problem::Problem;
use crate::root::{DataRoot, Dir, FileKind, Meta};
use serde::Serialize;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The xattrs that make a directory opaque: the kernel's, and the `userxattr` form.
pub const OPAQUE_KEYS: [&str; 2] = ["trusted.overlay.opaque", "user.overlay.opaque"];
/// A layer tar's (and aufs') whiteout prefix and opaque marker.
pub const WHITEOUT_PREFIX: &[u8] = b".wh.";
pub const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";

/// Symlinks followed while resolving one path inside a view (Linux's limit).
pub const MAX_HOPS: usize = 40;

/// One layer of a stack.
#[derive(Serialize, Clone, Debug, Default)]
pub struct LayerInfo {
    /// `layer` (an image layer), `init` (a container's init layer), `rw` (its own).
    pub role: &'static str,
    /// The layer's files, relative to the root (`image/overlay2/…` never; `overlay2/<id>/diff`).
    pub dir: String,
    /// The overlay2 dir id (the layer's `cache-id`).
    pub cache_id: Option<String>,
    pub chain_id: Option<String>,
    pub diff_id: Option<String>,
    /// The build step that made the layer (the image history's `created_by`).
    pub created_by: Option<String>,
    /// When that step ran (history `created`).
    pub created: Option<String>,
}

impl LayerInfo {
    /// The layer dir's path inside the root it lives in (see `rel`).
    pub fn rel(&self) -> &str {
        rel(&self.dir)
    }

    /// A short name for tables: `rw`, `init`, or the chain id's first 12 hex digits
    /// (the dir id when the layer has no chain id).
    pub fn short(&self) -> String {
        match (self.role, &self.chain_id, &self.cache_id) {
            ("rw" | "init", _, _) => self.role.to_owned(),
            (_, Some(c), _) => short_hex(c),
            (_, None, Some(d)) => short_hex(d),
            _ => self.dir.clone(),
        }
    }
}

/// Where a layer dir of the model (`overlay2/<id>`, or a snapshot dir shown
/// `containerd:…/snapshots/<n>`) keeps its files: `diff/` or the snapshot's `fs/`.
pub fn files_dir(dir_path: &str) -> String {
    if dir_path.starts_with(crate::scan::containerd::PREFIX) {
        format!("{dir_path}/fs")
    } else {
        format!("{dir_path}/diff")
    }
}

/// A layer dir as shown (`containerd:…`) -> its path inside the root that holds it.
pub fn rel(dir: &str) -> &str {
    dir.strip_prefix(crate::scan::containerd::PREFIX)
        .unwrap_or(dir)
}

/// An open layer dir's path as reports show it: `containerd:…` for a dir of
/// containerd's root (its paths all start `io.containerd.`), as every other path of it.
pub fn dir_shown(d: &Dir<'_>) -> String {
    shown_rel(d.rel())
}

/// A path inside the root a stack was opened on, as reports show it (see `dir_shown`).
pub fn shown_rel(rel: &str) -> String {
    if rel.starts_with("io.containerd.") {
        crate::scan::containerd::shown(rel)
    } else {
        rel.to_owned()
    }
}

/// `sha256:abcdef…` -> `abcdef123456`.
pub fn short_hex(s: &str) -> String {
    let s = s.strip_prefix("sha256:").unwrap_or(s);
    s.chars().take(12).collect()
}

/// A stack of layer dirs, top first.
#[derive(Clone, Debug, Default)]
pub struct Stack {
    pub layers: Vec<LayerInfo>,
    /// `.wh.` names are whiteouts (aufs dirs, unpacked layer tars), not plain files.
    pub whiteout_files: bool,
    /// One layer shown as it is: its whiteouts listed (not applied), opaque dirs marked.
    pub raw: bool,
    /// Only names and types are needed: where the directory listing tells an entry's
    /// type (and it is not a character device, a possible whiteout), it is not
    /// `lstat`ed and its `meta` holds the kind alone (as `ls -R` reads no inode).
    pub names_only: bool,
}

/// A `Meta` that knows only the kind (see `Stack::names_only`).
pub fn kind_only(kind: FileKind) -> Meta {
    Meta {
        kind,
        len: 0,
        disk: None,
        dev: 0,
        ino: 0,
        nlink: 0,
        mode: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        mtime: 0,
        mtime_nsec: 0,
    }
}

impl Stack {
    /// `lstat` of an entry, or its kind alone when that is all the listing needs.
    fn stat_entry(&self, d: &Dir<'_>, name: &[u8], kind: Option<FileKind>) -> io::Result<Meta> {
        match kind {
            Some(k) if self.names_only && k != FileKind::CharDevice => Ok(kind_only(k)),
            _ => d.lstat(OsStr::from_bytes(name)),
        }
    }
}

/// A directory of a merged view: one open directory per layer that merges into it,
/// top first (already cut below an opaque one).
pub struct MergedDir<'r> {
    pub layers: Vec<(usize, Dir<'r>)>,
}

/// A name in a merged directory.
#[derive(Clone, Debug)]
pub struct Entry {
    pub name: Vec<u8>,
    /// The `lstat` of the topmost entry of this name.
    pub meta: Meta,
    /// The stack index of the layer showing it.
    pub layer: usize,
    /// For a directory: the layers below `layer` whose same-named directory merges
    /// into it (before any opaque cut, which is applied when it is opened).
    pub below: Vec<usize>,
    /// A whiteout (listed only in a raw view).
    pub whiteout: bool,
    /// An opaque directory (marked only in a raw view).
    pub opaque: bool,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.meta.kind == FileKind::Dir
    }
}

/// A character device 0/0: overlayfs' whiteout.
pub fn is_whiteout(m: &Meta) -> bool {
    m.kind == FileKind::CharDevice && m.rdev == 0
}

/// Not there: no such name, or a parent that is not a directory (never followed).
pub fn absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput | io::ErrorKind::NotADirectory
    )
}

/// Is this open directory opaque in its layer?
pub fn dir_is_opaque(dir: &Dir<'_>) -> bool {
    OPAQUE_KEYS
        .iter()
        .any(|k| dir.xattr(k).ok().flatten().as_deref() == Some(b"y"))
}

/// Is the entry `name` of `dir` an opaque directory?
pub fn entry_is_opaque(dir: &Dir<'_>, name: &[u8]) -> bool {
    OPAQUE_KEYS.iter().any(|k| {
        dir.get_xattr(OsStr::from_bytes(name), k)
            .ok()
            .flatten()
            .as_deref()
            == Some(b"y")
    })
}

/// Join a view path (`""` is the top) and a name.
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A view path as the container shows it: `/` and `/etc/motd`.
pub fn shown(path: &[u8]) -> String {
    format!("/{}", lossy(path))
}

/// Split `/a/b/../c` into plain components, `..` popping (never above the top).
pub fn components(path: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for c in path.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c.to_vec()),
        }
    }
    out
}

impl Stack {
    /// Open the top of the view: each layer's dir (a layer that cannot be opened is
    /// left out, with a problem).
    pub fn open<'r>(&self, root: &'r DataRoot, problems: &mut Vec<Problem>) -> MergedDir<'r> {
        let mut layers = Vec::new();
        for (i, l) in self.layers.iter().enumerate() {
            match root.dir(l.rel()) {
                Ok(d) => {
                    let opaque = dir_is_opaque(&d);
                    layers.push((i, d));
                    if opaque {
                        break;
                    }
                }
                Err(e) => problems.push(Problem::io(l.dir.clone(), &e)),
            }
        }
        MergedDir { layers }
    }

    fn hidden_by_file(&self, dir: &Dir<'_>, name: &[u8]) -> bool {
        if !self.whiteout_files {
            return false;
        }
        let mut wh = WHITEOUT_PREFIX.to_vec();
        wh.extend_from_slice(name);
        dir.lstat(OsStr::from_bytes(&wh)).is_ok()
    }

    fn opaque_by_file(&self, dir: &Dir<'_>) -> bool {
        self.whiteout_files && dir.lstat(OsStr::from_bytes(OPAQUE_MARKER)).is_ok()
    }

    /// One name of a merged directory, by `lstat` in each layer (no listing).
    pub fn child(&self, md: &MergedDir<'_>, name: &[u8]) -> io::Result<Option<Entry>> {
        let mut found: Option<Entry> = None;
        for (i, d) in &md.layers {
            let m = match d.lstat(OsStr::from_bytes(name)) {
                Ok(m) => Some(m),
                Err(e) if absent(&e) => None,
                Err(e) => return Err(e),
            };
            match (&mut found, m) {
                (None, Some(m)) => {
                    if is_whiteout(&m) {
                        return Ok(None);
                    }
                    let dir = m.kind == FileKind::Dir;
                    found = Some(Entry {
                        name: name.to_vec(),
                        meta: m,
                        layer: *i,
                        below: Vec::new(),
                        whiteout: false,
                        opaque: false,
                    });
                    if !dir {
                        return Ok(found);
                    }
                }
                (None, None) => {
                    if self.hidden_by_file(d, name) {
                        return Ok(None);
                    }
                }
                (Some(f), Some(m)) => {
                    if m.kind != FileKind::Dir {
                        break;
                    }
                    f.below.push(*i);
                }
                (Some(_), None) => {
                    if self.hidden_by_file(d, name) {
                        break;
                    }
                }
            }
            if self.opaque_by_file(d) {
                break;
            }
        }
        Ok(found)
    }

    /// The names of a merged directory (whiteouts and what they hide left out), sorted
    /// by name. Problems name the layer dirs that could not be listed.
    pub fn list(&self, md: &MergedDir<'_>, problems: &mut Vec<Problem>) -> Vec<Entry> {
        if md.layers.len() == 1 && !self.whiteout_files {
            return self.list_one(&md.layers[0], problems);
        }
        // name -> (index in out or usize::MAX for a hidden name, merge still open)
        let mut seen: HashMap<Vec<u8>, (usize, bool)> = HashMap::new();
        let mut out: Vec<Entry> = Vec::new();
        for (i, d) in &md.layers {
            let entries = match d.entries() {
                Ok(e) => e,
                Err(e) => {
                    problems.push(Problem::io(dir_shown(d), &e));
                    continue;
                }
            };
            let mut opaque_here = false;
            for e in entries {
                let mut name = e.name.as_bytes().to_vec();
                let mut whiteout_file = false;
                if self.whiteout_files && name.starts_with(WHITEOUT_PREFIX) {
                    if name == OPAQUE_MARKER {
                        opaque_here = true;
                        continue;
                    }
                    name.drain(..WHITEOUT_PREFIX.len());
                    whiteout_file = true;
                }
                if let Some(&(at, open)) = seen.get(&name) {
                    if !open || at == usize::MAX {
                        continue;
                    }
                    // a directory above: this one merges if it is a directory too
                    let is_dir = !whiteout_file
                        && match e.kind {
                            Some(k) => k == FileKind::Dir,
                            None => d
                                .lstat(OsStr::from_bytes(&name))
                                .is_ok_and(|m| m.kind == FileKind::Dir),
                        };
                    if is_dir {
                        out[at].below.push(*i);
                    } else {
                        seen.insert(name, (at, false));
                    }
                    continue;
                }
                if whiteout_file {
                    seen.insert(name, (usize::MAX, false));
                    continue;
                }
                if self.raw && name == OPAQUE_MARKER {
                    continue;
                }
                let m = match self.stat_entry(d, &name, e.kind) {
                    Ok(m) => m,
                    Err(err) => {
                        problems.push(Problem::io(
                            format!("{}/{}", dir_shown(d), lossy(&name)),
                            &err,
                        ));
                        continue;
                    }
                };
                let whiteout = is_whiteout(&m);
                if whiteout && !self.raw {
                    seen.insert(name, (usize::MAX, false));
                    continue;
                }
                let dir = m.kind == FileKind::Dir;
                let opaque = self.raw && dir && entry_is_opaque(d, &name);
                seen.insert(name.clone(), (out.len(), dir));
                out.push(Entry {
                    name,
                    meta: m,
                    layer: *i,
                    below: Vec::new(),
                    whiteout,
                    opaque,
                });
            }
            if opaque_here {
                break;
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// `list` of a single layer: no names to merge.
    fn list_one(&self, (i, d): &(usize, Dir<'_>), problems: &mut Vec<Problem>) -> Vec<Entry> {
        let entries = match d.entries() {
            Ok(e) => e,
            Err(e) => {
                problems.push(Problem::io(dir_shown(d), &e));
                return Vec::new();
            }
        };
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let kind = e.kind;
            let name = e.name.into_vec();
            let m = match self.stat_entry(d, &name, kind) {
                Ok(m) => m,
                Err(err) => {
                    problems.push(Problem::io(
                        format!("{}/{}", dir_shown(d), lossy(&name)),
                        &err,
                    ));
                    continue;
                }
            };
            let whiteout = is_whiteout(&m);
            if whiteout && !self.raw {
                continue;
            }
            let opaque = self.raw && m.kind == FileKind::Dir && entry_is_opaque(d, &name);
            out.push(Entry {
                name,
                meta: m,
                layer: *i,
                below: Vec::new(),
                whiteout,
                opaque,
            });
        }
        out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Open a merged child directory from its parent (one `openat` per layer).
    pub fn open_child<'r>(&self, md: &MergedDir<'r>, e: &Entry) -> io::Result<MergedDir<'r>> {
        let mut layers = Vec::new();
        let name = OsStr::from_bytes(&e.name);
        let last = e.below.last().copied().unwrap_or(e.layer);
        for &i in std::iter::once(&e.layer).chain(e.below.iter()) {
            let Some((_, parent)) = md.layers.iter().find(|(j, _)| *j == i) else {
                continue;
            };
            let d = match parent.sub(name) {
                Ok(d) => d,
                Err(err) if i != e.layer && absent(&err) => break,
                Err(err) => return Err(err),
            };
            // opacity cuts the layers below: the lowest one has none to cut
            let opaque = i != last && (dir_is_opaque(&d) || self.opaque_by_file(&d));
            layers.push((i, d));
            if opaque {
                break;
            }
        }
        Ok(MergedDir { layers })
    }

    /// Look a path up (no symlink followed): the entry and its parent's merged dir.
    /// `Ok(None)` when the view does not hold it (or the path is the top).
    pub fn lookup<'r>(
        &self,
        root: &'r DataRoot,
        path: &[u8],
    ) -> io::Result<Option<(Entry, MergedDir<'r>)>> {
        let comps = components(path);
        let Some((last, parents)) = comps.split_last() else {
            return Ok(None);
        };
        let mut ignored = Vec::new();
        let mut cur = self.open(root, &mut ignored);
        for c in parents {
            let Some(e) = self.child(&cur, c)? else {
                return Ok(None);
            };
            if !e.is_dir() {
                return Ok(None);
            }
            cur = self.open_child(&cur, &e)?;
        }
        Ok(self.child(&cur, last)?.map(|e| (e, cur)))
    }

    /// The merged dir at a path (the top for `""`), no symlink followed.
    pub fn open_path<'r>(
        &self,
        root: &'r DataRoot,
        path: &[u8],
        problems: &mut Vec<Problem>,
    ) -> io::Result<Option<MergedDir<'r>>> {
        if components(path).is_empty() {
            return Ok(Some(self.open(root, problems)));
        }
        match self.lookup(root, path)? {
            Some((e, parent)) if e.is_dir() => Ok(Some(self.open_child(&parent, &e)?)),
            _ => Ok(None),
        }
    }

    /// Resolve a path as the container would (symlinks inside the view followed, at
    /// most `MAX_HOPS`, `..` never above the top; never a symlink of the root): the
    /// entry, its parent dir and its resolved path. `follow_last`: follow a final symlink.
    pub fn resolve<'r>(
        &self,
        root: &'r DataRoot,
        path: &[u8],
        follow_last: bool,
    ) -> io::Result<Option<(Entry, MergedDir<'r>, Vec<u8>)>> {
        let mut todo: Vec<Vec<u8>> = components(path);
        todo.reverse();
        let mut done: Vec<Vec<u8>> = Vec::new();
        let mut hops = 0usize;
        while let Some(c) = todo.pop() {
            if c == b".." {
                done.pop();
                continue;
            }
            if c == b"." {
                continue;
            }
            let mut p = done.clone();
            p.push(c.clone());
            let joined = p.join(&b'/');
            let Some((e, parent)) = self.lookup(root, &joined)? else {
                return Ok(None);
            };
            let last = todo.is_empty();
            if e.meta.kind == FileKind::Symlink && (!last || follow_last) {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("more than {MAX_HOPS} symbolic links in {}", shown(path)),
                    ));
                }
                let Some((_, d)) = parent.layers.iter().find(|(i, _)| *i == e.layer) else {
                    return Ok(None);
                };
                let target = d.read_link(OsStr::from_bytes(&e.name))?;
                let t = target.as_os_str().as_bytes();
                if t.starts_with(b"/") {
                    done.clear();
                }
                for comp in t.split(|&b| b == b'/').rev() {
                    if !comp.is_empty() {
                        todo.push(comp.to_vec());
                    }
                }
                continue;
            }
            if last {
                return Ok(Some((e, parent, joined)));
            }
            done.push(c);
        }
        Ok(None)
    }
}
