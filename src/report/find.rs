//! `dockscope find [TARGET]`: files by name, path, type, size, mode bits, time and
//! owner. With TARGET, its view is searched (merged, or one layer alone); without,
//! every layer dir of the root is walked once (image layers, containers' init and RW
//! layers, overlay2 dirs nothing references), in parallel, and each hit names the layer
//! that holds it, the images and containers whose stacks hold that layer, and whether
//! the file is visible in each (not overwritten or deleted above). `--in-containers`
//! keeps the layers under containers. Whiteouts never match.

use super::ls::{open_target, row, FileRow, TargetRef};
use crate::fs::merge::walk;
use crate::fs::target::{container_stack, image_stack, layer_info};
use crate::fs::{Entry, LayerInfo, MergedDir, Stack};
use crate::model::Model;
use crate::problem::Problem;
use crate::root::{DataRoot, Dir, DirEntry, FileKind};
use crate::Fatal;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// `*`, `?` and `[...]` (`[!...]` negated, ranges) as fnmatch without flags: `*` also
/// matches `/` (as `find -path` does).
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let (mut star_p, mut star_t) = (usize::MAX, 0usize);
    while t < s.len() {
        if p < pat.len() {
            match pat[p] {
                b'*' => {
                    star_p = p;
                    star_t = t;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some((matched, next)) = class(&pat[p..], s[t]) {
                        if matched {
                            p += next;
                            t += 1;
                            continue;
                        }
                    } else if s[t] == b'[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == s[t] {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[t] {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        if star_p == usize::MAX {
            return false;
        }
        p = star_p + 1;
        star_t += 1;
        t = star_t;
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// A `[...]` class at the start of `pat`: (matches, its length); `None` if unclosed.
fn class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut i = 1;
    let neg = matches!(pat.get(i), Some(b'!' | b'^'));
    if neg {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        if pat[i] == b']' && !first {
            return Some((matched != neg, i + 1));
        }
        first = false;
        if i + 2 < pat.len() && pat[i + 1] == b'-' && pat[i + 2] != b']' {
            if pat[i] <= c && c <= pat[i + 2] {
                matched = true;
            }
            i += 3;
        } else {
            if pat[i] == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

/// What a file must be.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub name: Option<String>,
    pub path: Option<String>,
    pub kind: Option<FileKind>,
    /// (ordering, bytes): `+N` greater, `-N` less, `N` equal.
    pub size: Option<(std::cmp::Ordering, u64)>,
    pub setuid: bool,
    pub setgid: bool,
    pub world_writable: bool,
    pub newer: Option<i64>,
    pub older: Option<i64>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// `f`, `d`, `l`, `c`, `b`, `p`, `s` as `find -type`.
pub fn parse_type(c: char) -> Result<FileKind, String> {
    Ok(match c {
        'f' => FileKind::File,
        'd' => FileKind::Dir,
        'l' => FileKind::Symlink,
        'c' => FileKind::CharDevice,
        'b' => FileKind::BlockDevice,
        'p' => FileKind::Fifo,
        's' => FileKind::Socket,
        _ => return Err(format!("--type {c}: one of f, d, l, c, b, p, s")),
    })
}

/// `+10M`, `-4k`, `100`, `100c`: bytes (k, M, G: 1024-based, as `find -size`).
pub fn parse_size(s: &str) -> Result<(std::cmp::Ordering, u64), String> {
    let bad = || format!("--size {s}: a number of bytes with an optional +/- and k, M, G");
    let (ord, rest) = match s.as_bytes().first() {
        Some(b'+') => (std::cmp::Ordering::Greater, &s[1..]),
        Some(b'-') => (std::cmp::Ordering::Less, &s[1..]),
        _ => (std::cmp::Ordering::Equal, s),
    };
    let (num, mult) = match rest.chars().last() {
        Some('c') => (&rest[..rest.len() - 1], 1),
        Some('k') => (&rest[..rest.len() - 1], 1 << 10),
        Some('M') => (&rest[..rest.len() - 1], 1 << 20),
        Some('G') => (&rest[..rest.len() - 1], 1 << 30),
        _ => (rest, 1),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    Ok((ord, n.checked_mul(mult).ok_or_else(bad)?))
}

/// RFC 3339 or `YYYY-MM-DD` (midnight UTC) -> unix seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_second());
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_second())
        .ok_or_else(|| format!("{s}: not an RFC 3339 time nor YYYY-MM-DD"))
}

impl Filter {
    /// The filter reads more than names and types (which the directory listing gives):
    /// every entry must be `lstat`ed.
    pub fn needs_stat(&self) -> bool {
        self.size.is_some()
            || self.setuid
            || self.setgid
            || self.world_writable
            || self.newer.is_some()
            || self.older.is_some()
            || self.uid.is_some()
            || self.gid.is_some()
    }

    /// No entry of this kind can match (its type is filtered out, or a symlink, whose
    /// mode bits are always 0777, against a mode-bit filter): no need to read its inode.
    pub fn cannot_match(&self, kind: FileKind) -> bool {
        self.kind.is_some_and(|k| k != kind)
            || (kind == FileKind::Symlink && (self.setuid || self.setgid || self.world_writable))
    }

    pub fn matches(&self, path: &[u8], e: &Entry) -> bool {
        let m = &e.meta;
        if e.whiteout {
            return false;
        }
        if let Some(k) = self.kind {
            if m.kind != k {
                return false;
            }
        }
        if self.setuid && m.mode & 0o4000 == 0 {
            return false;
        }
        if self.setgid && m.mode & 0o2000 == 0 {
            return false;
        }
        if self.world_writable && (m.mode & 0o002 == 0 || m.kind == FileKind::Symlink) {
            return false;
        }
        if let Some((ord, n)) = self.size {
            if m.len.cmp(&n) != ord {
                return false;
            }
        }
        // as `find -newermt`: strictly after the time, nanoseconds counted
        let after = |t: i64| m.mtime > t || (m.mtime == t && m.mtime_nsec > 0);
        if self.newer.is_some_and(|t| !after(t)) || self.older.is_some_and(|t| m.mtime >= t) {
            return false;
        }
        if self.uid.is_some_and(|u| m.uid != u) || self.gid.is_some_and(|g| m.gid != g) {
            return false;
        }
        if let Some(n) = &self.name {
            if !glob(n.as_bytes(), &e.name) {
                return false;
            }
        }
        if let Some(p) = &self.path {
            let mut full = b"/".to_vec();
            full.extend_from_slice(path);
            if !glob(p.as_bytes(), &full) {
                return false;
            }
        }
        true
    }
}

/// An image or container whose stack holds a hit's layer.
#[derive(Serialize, Clone, Debug)]
pub struct Holder {
    /// Image id or container id.
    pub id: String,
    /// A tag (or `<none>`), or the container's name.
    pub name: String,
    /// The file is what the view shows (not overwritten or deleted above); `null` when
    /// not looked up (more than 10,000 hits).
    pub visible: Option<bool>,
}

#[derive(Serialize, Clone, Debug)]
pub struct Hit {
    #[serde(flatten)]
    pub file: FileRow,
    /// Without TARGET: the layer that holds the file.
    pub source: Option<LayerInfo>,
    pub images: Vec<Holder>,
    pub containers: Vec<Holder>,
}

#[derive(Serialize)]
pub struct FindReport {
    /// `target` (one view searched) or `root` (every layer dir).
    pub scope: &'static str,
    pub target: Option<TargetRef>,
    /// Layer dirs walked (scope `root`).
    pub layers_searched: usize,
    pub hits: Vec<Hit>,
    pub problems: Vec<Problem>,
}

impl super::Report for FindReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

const VISIBILITY_LIMIT: usize = 10_000;

/// A layer's top searched: (unit, hits, problems, its top-level directories' names).
type Top = (usize, Vec<FileRow>, Vec<Problem>, Vec<Vec<u8>>);

pub fn build(
    root: &DataRoot,
    model: &Model,
    target_name: Option<&str>,
    rw_only: bool,
    in_containers: bool,
    filter: &Filter,
) -> Result<FindReport, Fatal> {
    let mut problems = Vec::new();
    if let Some(name) = target_name {
        let o = open_target(model, name, rw_only, &mut problems)?;
        let mut hits = Vec::new();
        let top = o.stack.open(root, &mut problems);
        walk(&o.stack, top, b"", &mut problems, |p, e, parent| {
            if filter.matches(p, e) {
                hits.push(Hit {
                    file: row(p, e, parent),
                    source: None,
                    images: Vec::new(),
                    containers: Vec::new(),
                });
            }
            true
        });
        return Ok(FindReport {
            scope: "target",
            target: Some(o.tref),
            layers_searched: o.stack.layers.len(),
            hits,
            problems,
        });
    }
    // Every container's stack, by dir.
    let mut cstacks: Vec<(usize, Stack)> = Vec::new();
    let mut dir_containers: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for c in 0..model.containers.len() {
        if let Some(s) = container_stack(model, c, &mut problems) {
            for l in &s.layers {
                dir_containers.entry(l.dir.clone()).or_default().insert(c);
            }
            cstacks.push((c, s));
        }
    }
    // The units: each layer dir once.
    let mut units: Vec<(LayerInfo, Vec<usize>)> = Vec::new();
    let mut seen = BTreeSet::new();
    for l in 0..model.layers.len() {
        if model.layer_dir(l).is_none() {
            continue;
        }
        let info = layer_info(model, l);
        if seen.insert(info.dir.clone()) {
            units.push((info, model.layer_images(l).to_vec()));
        }
    }
    for (_, s) in &cstacks {
        for l in &s.layers {
            if seen.insert(l.dir.clone()) {
                units.push((l.clone(), Vec::new()));
            }
        }
    }
    // overlay2 dirs nothing references (a deleted image's leftovers, a planted dir)
    for d in 0..model.dirs.len() {
        let info = crate::fs::target::dir_info(model, d, "unreferenced");
        if model.dirs[d].has_diff && seen.insert(info.dir.clone()) {
            units.push((info, Vec::new()));
        }
    }
    if in_containers {
        units.retain(|(l, _)| dir_containers.contains_key(&l.dir));
    }
    // Each layer's top entries, then each of its top-level directories as a job of its
    // own, so that one big layer is shared between the threads.
    let tops: Vec<Top> = units
        .par_iter()
        .enumerate()
        .map(|(k, (info, _))| {
            let (mut rows, mut ps, mut subs) = (Vec::new(), Vec::new(), Vec::new());
            match root.dir(info.rel()) {
                Ok(d) => search_layer(d, b"", filter, false, &mut rows, &mut ps, &mut subs),
                Err(e) => ps.push(Problem::io(info.dir.clone(), &e)),
            }
            (k, rows, ps, subs)
        })
        .collect();
    let jobs: Vec<(usize, &[u8])> = tops
        .iter()
        .flat_map(|(k, _, _, subs)| subs.iter().map(move |n| (*k, n.as_slice())))
        .collect();
    let below: Vec<(usize, Vec<FileRow>, Vec<Problem>)> = jobs
        .par_iter()
        .map(|&(k, name)| {
            let (mut rows, mut ps) = (Vec::new(), Vec::new());
            let dir = &units[k].0.dir;
            match root
                .dir(units[k].0.rel())
                .and_then(|d| d.sub(std::ffi::OsStr::from_bytes(name)))
            {
                Ok(d) => search_layer(d, name, filter, true, &mut rows, &mut ps, &mut Vec::new()),
                Err(e) => ps.push(Problem::io(format!("{dir}/{}", crate::fs::lossy(name)), &e)),
            }
            (k, rows, ps)
        })
        .collect();
    let mut found: Vec<(usize, Vec<FileRow>, Vec<Problem>)> = tops
        .into_iter()
        .map(|(k, rows, ps, _)| (k, rows, ps))
        .chain(below)
        .collect();
    found.sort_by_key(|(k, _, _)| *k);
    let total: usize = found.iter().map(|(_, r, _)| r.len()).sum();
    let look = total <= VISIBILITY_LIMIT;
    let mut istacks: HashMap<usize, Stack> = HashMap::new();
    let visible = |stack: &Stack, path: &str, dir: &str| -> Option<bool> {
        if !look {
            return None;
        }
        match stack.lookup(root, path.as_bytes()) {
            Ok(Some((e, _))) => Some(stack.layers.get(e.layer).is_some_and(|l| l.dir == dir)),
            Ok(None) => Some(false),
            Err(_) => None,
        }
    };
    let mut hits = Vec::new();
    for (k, rows, ps) in found {
        problems.extend(ps);
        let (info, images) = &units[k];
        for r in rows {
            let imgs = if in_containers {
                Vec::new()
            } else {
                images
                    .iter()
                    .map(|&i| {
                        let s = istacks.entry(i).or_insert_with(|| image_stack(model, i));
                        let name = model
                            .image_refs(i)
                            .first()
                            .map_or_else(|| "<none>".to_owned(), |r| r.reference.clone());
                        Holder {
                            id: model.images[i].rec.id.as_str().to_owned(),
                            name,
                            visible: visible(s, &r.path, &info.dir),
                        }
                    })
                    .collect()
            };
            let ctrs = dir_containers
                .get(&info.dir)
                .map(|cs| {
                    cs.iter()
                        .filter_map(|&c| {
                            let s = &cstacks.iter().find(|(x, _)| *x == c)?.1;
                            let rec = &model.containers[c].rec;
                            Some(Holder {
                                id: rec.id.as_str().to_owned(),
                                name: rec.name.trim_start_matches('/').to_owned(),
                                visible: visible(s, &r.path, &info.dir),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            hits.push(Hit {
                file: r,
                source: Some(info.clone()),
                images: imgs,
                containers: ctrs,
            });
        }
    }
    hits.sort_by(|a, b| {
        (&a.file.path, a.source.as_ref().map(|s| &s.dir))
            .cmp(&(&b.file.path, b.source.as_ref().map(|s| &s.dir)))
    });
    problems.sort();
    problems.dedup();
    Ok(FindReport {
        scope: "root",
        target: None,
        layers_searched: units.len(),
        hits,
        problems,
    })
}

/// Search one layer dir's subtree `dir` (its path in the layer `base`) depth first, as
/// a one-layer view shows it (whiteouts left out): an entry is `lstat`ed only when the
/// filter reads more than its name and type, or the listing does not tell the type
/// (and for a hit, to show it). `deep`: descend; otherwise the subdirectories' names
/// go to `subs` for later jobs. One open directory per level.
fn search_layer(
    dir: Dir<'_>,
    base: &[u8],
    filter: &Filter,
    deep: bool,
    rows: &mut Vec<FileRow>,
    problems: &mut Vec<Problem>,
    subs: &mut Vec<Vec<u8>>,
) {
    struct Frame<'r> {
        md: MergedDir<'r>,
        entries: std::vec::IntoIter<DirEntry>,
        plen: usize,
    }
    let need_stat = filter.needs_stat();
    let list = |d: &Dir<'_>, problems: &mut Vec<Problem>| match d.entries() {
        Ok(e) => e.into_iter(),
        Err(e) => {
            problems.push(Problem::io(crate::fs::dir_shown(d), &e));
            Vec::new().into_iter()
        }
    };
    let mut path = base.to_vec();
    let entries = list(&dir, problems);
    let mut frames = vec![Frame {
        md: MergedDir {
            layers: vec![(0, dir)],
        },
        entries,
        plen: path.len(),
    }];
    while let Some(f) = frames.last_mut() {
        let Some(de) = f.entries.next() else {
            frames.pop();
            continue;
        };
        let d = &f.md.layers[0].1;
        let name = de.name.into_vec();
        let os = std::ffi::OsStr::from_bytes(&name);
        let stat = |problems: &mut Vec<Problem>| {
            d.lstat(os).map_err(|e| {
                problems.push(Problem::io(
                    format!("{}/{}", crate::fs::dir_shown(d), crate::fs::lossy(&name)),
                    &e,
                ));
            })
        };
        let (meta, stated) = match de.kind {
            Some(k) if k != FileKind::CharDevice && (!need_stat || filter.cannot_match(k)) => {
                (crate::fs::kind_only(k), false)
            }
            _ => match stat(problems) {
                Ok(m) => (m, true),
                Err(()) => continue,
            },
        };
        if crate::fs::is_whiteout(&meta) {
            continue;
        }
        path.truncate(f.plen);
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&name);
        let is_dir = meta.kind == FileKind::Dir;
        let mut e = Entry {
            name,
            meta,
            layer: 0,
            below: Vec::new(),
            whiteout: false,
            opaque: false,
        };
        if !filter.cannot_match(e.meta.kind) && filter.matches(&path, &e) {
            if !stated {
                // known by its type alone: read the rest to show it
                match d.lstat(std::ffi::OsStr::from_bytes(&e.name)) {
                    Ok(m) => e.meta = m,
                    Err(err) => problems.push(Problem::io(
                        format!("{}/{}", crate::fs::dir_shown(d), crate::fs::lossy(&e.name)),
                        &err,
                    )),
                }
            }
            rows.push(row(&path, &e, &f.md));
        }
        if !is_dir {
            continue;
        }
        if !deep {
            subs.push(e.name);
            continue;
        }
        match d.sub(std::ffi::OsStr::from_bytes(&e.name)) {
            Ok(sd) => {
                let entries = list(&sd, problems);
                let plen = path.len();
                frames.push(Frame {
                    md: MergedDir {
                        layers: vec![(0, sd)],
                    },
                    entries,
                    plen,
                });
            }
            Err(err) => problems.push(Problem::io(
                format!("{}/{}", crate::fs::dir_shown(d), crate::fs::lossy(&e.name)),
                &err,
            )),
        }
    }
}

pub fn render(r: &FindReport, out: &mut dyn Write) -> io::Result<()> {
    let holders = |hs: &[Holder]| {
        hs.iter()
            .map(|h| {
                let mark = match h.visible {
                    Some(false) => " (hidden)",
                    _ => "",
                };
                format!("{}{mark}", super::sanitize(&h.name))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    for h in &r.hits {
        let layer = match (&h.source, &r.target) {
            (Some(s), _) => s.short(),
            (None, Some(t)) => t
                .stack
                .get(h.file.layer)
                .map(LayerInfo::short)
                .unwrap_or_default(),
            _ => String::new(),
        };
        let mut line = format!(
            "{} {:>5} {:>5} {:>10} {:<12} {}",
            h.file.perms,
            h.file.uid,
            h.file.gid,
            h.file.size,
            layer,
            super::sanitize(&h.file.path)
        );
        if let Some(t) = &h.file.link_target {
            line.push_str(" -> ");
            line.push_str(&super::sanitize(t));
        }
        if !h.containers.is_empty() {
            line.push_str("  containers: ");
            line.push_str(&holders(&h.containers));
        }
        if !h.images.is_empty() {
            line.push_str("  images: ");
            line.push_str(&holders(&h.images));
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The filter from the command line.
pub fn filter_from(args: &crate::cli::FindArgs) -> Result<Filter, Fatal> {
    Ok(Filter {
        name: args.name.clone(),
        path: args.path.clone(),
        kind: args
            .file_type
            .map(parse_type)
            .transpose()
            .map_err(Fatal::Usage)?,
        size: args
            .size
            .as_deref()
            .map(parse_size)
            .transpose()
            .map_err(Fatal::Usage)?,
        setuid: args.setuid,
        setgid: args.setgid,
        world_writable: args.world_writable,
        newer: args
            .newer
            .as_deref()
            .map(parse_time)
            .transpose()
            .map_err(Fatal::Usage)?,
        older: args
            .older
            .as_deref()
            .map(parse_time)
            .transpose()
            .map_err(Fatal::Usage)?,
        uid: args.uid,
        gid: args.gid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_as_fnmatch() {
        assert!(glob(b"*.txt", b"hello.txt"));
        assert!(!glob(b"*.txt", b"hello.txt.bak"));
        assert!(glob(b"/usr/*/python*", b"/usr/lib/python3"));
        assert!(glob(b"/data/*", b"/data/sub/a"));
        assert!(glob(b"h?llo", b"hello"));
        assert!(glob(b"[a-c]x", b"bx"));
        assert!(!glob(b"[!a-c]x", b"bx"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"a", b""));
    }

    #[test]
    fn sizes_and_times() {
        assert_eq!(
            parse_size("+10M").unwrap(),
            (std::cmp::Ordering::Greater, 10 << 20)
        );
        assert_eq!(parse_size("-4k").unwrap(), (std::cmp::Ordering::Less, 4096));
        assert_eq!(parse_size("100").unwrap(), (std::cmp::Ordering::Equal, 100));
        assert!(parse_size("x").is_err());
        assert_eq!(parse_time("1970-01-02").unwrap(), 86400);
        assert_eq!(parse_time("1970-01-01T00:01:00Z").unwrap(), 60);
    }
}
