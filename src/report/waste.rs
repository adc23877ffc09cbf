//! `dockscope waste IMAGE`: bytes the image ships in lower layers that upper layers
//! overwrite or delete (so no container ever sees them), the paths responsible, and
//! an efficiency figure.
//!
//! Unlike dive, the copy a container sees is never counted as wasted: a file written
//! in three layers wastes the two lower copies, not three. Bytes are regular files'
//! sizes (`st_size`); a hard-linked inode counts once per layer. Efficiency is
//! `1 - wasted / total`, where total is the bytes of every layer's files.

use crate::fs::merge::walk;
use crate::fs::target::image_stack;
use crate::fs::{self, Stack};
use crate::model::Model;
use crate::problem::Problem;
use crate::root::{DataRoot, FileKind};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};

#[derive(Serialize, Clone, Debug)]
pub struct WastedPath {
    /// Absolute in the image.
    pub path: String,
    /// Bytes of the lower copies no container sees.
    pub wasted_bytes: u64,
    /// How many lower copies.
    pub copies: usize,
    /// `overwritten` or `deleted` (by the last layer that hid a copy).
    pub how: &'static str,
}

#[derive(Serialize)]
pub struct WasteReport {
    pub image: String,
    /// Bytes of every layer's regular files.
    pub total_bytes: u64,
    pub wasted_bytes: u64,
    /// `1 - wasted / total` (1 for an empty image).
    pub efficiency: f64,
    /// Paths by wasted bytes, largest first (all of them in `--json`).
    pub paths: Vec<WastedPath>,
    #[serde(skip)]
    pub top: usize,
    pub problems: Vec<Problem>,
}

impl super::Report for WasteReport {
    fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

/// Remove `p` and everything below it from `live`; what was there is wasted.
fn hide(
    live: &mut BTreeMap<Vec<u8>, u64>,
    p: &[u8],
    with_self: bool,
    how: &'static str,
    out: &mut HashMap<Vec<u8>, (u64, usize, &'static str)>,
) {
    let mut gone: Vec<Vec<u8>> = Vec::new();
    if with_self && live.contains_key(p) {
        gone.push(p.to_vec());
    }
    let mut lo = p.to_vec();
    lo.push(b'/');
    let mut hi = p.to_vec();
    hi.push(b'/' + 1);
    if p.is_empty() {
        gone.extend(live.keys().cloned());
    } else {
        gone.extend(live.range(lo..hi).map(|(k, _)| k.clone()));
    }
    for k in gone {
        if let Some(size) = live.remove(&k) {
            let e = out.entry(k).or_insert((0, 0, how));
            e.0 += size;
            e.1 += 1;
            e.2 = how;
        }
    }
}

/// What one image wastes: the bytes of every layer's regular files, and the lower
/// copies upper layers hide, by path. The one measure behind `waste` and `du --by image`.
pub struct Measure {
    pub total_bytes: u64,
    /// path -> (wasted bytes, copies, how)
    pub wasted: HashMap<Vec<u8>, (u64, usize, &'static str)>,
    pub problems: Vec<Problem>,
}

impl Measure {
    pub fn wasted_bytes(&self) -> u64 {
        self.wasted.values().map(|w| w.0).sum()
    }

    /// `1 - wasted / total` (1 for an empty image).
    pub fn efficiency(&self) -> f64 {
        efficiency(self.wasted_bytes(), self.total_bytes)
    }
}

fn efficiency(wasted: u64, total: u64) -> f64 {
    if total == 0 {
        1.0
    } else {
        1.0 - wasted as f64 / total as f64
    }
}

/// Walk the image's layers, base first, and measure what upper layers hide.
pub fn measure(root: &DataRoot, model: &Model, image: usize) -> Measure {
    let stack = image_stack(model, image);
    let mut problems = Vec::new();
    let mut live: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    let mut wasted: HashMap<Vec<u8>, (u64, usize, &'static str)> = HashMap::new();
    let mut total = 0u64;
    // An opaque dir hides the lower entries before its own are added: the walk visits
    // a directory before what it holds.
    for layer in stack.layers.iter().rev() {
        let one = Stack {
            layers: vec![layer.clone()],
            raw: true,
            ..Stack::default()
        };
        let start = one.open(root, &mut problems);
        let mut inodes: HashSet<(u64, u64)> = HashSet::new();
        walk(&one, start, b"", &mut problems, |p, e, _| {
            if e.whiteout {
                hide(&mut live, p, true, "deleted", &mut wasted);
                return false;
            }
            if e.meta.kind == FileKind::Dir {
                // a directory replacing a file hides it; an opaque one hides what is below
                if live.contains_key(p) {
                    hide(&mut live, p, true, "overwritten", &mut wasted);
                }
                if e.opaque {
                    hide(&mut live, p, false, "deleted", &mut wasted);
                }
                return true;
            }
            // a non-directory replaces the name and whatever was below it
            hide(&mut live, p, false, "deleted", &mut wasted);
            hide(&mut live, p, true, "overwritten", &mut wasted);
            let size = if e.meta.kind == FileKind::File
                && (e.meta.nlink < 2 || inodes.insert((e.meta.dev, e.meta.ino)))
            {
                e.meta.len
            } else {
                0
            };
            total += size;
            live.insert(p.to_vec(), size);
            true
        });
    }
    Measure {
        total_bytes: total,
        wasted,
        problems,
    }
}

/// `du --by image`'s figures for one image: (wasted bytes, efficiency), and the problems
/// met (a layer that could not be read makes the figures a lower bound).
pub fn summary(root: &DataRoot, model: &Model, image: usize) -> (u64, f64, Vec<Problem>) {
    let m = measure(root, model, image);
    (m.wasted_bytes(), m.efficiency(), m.problems)
}

pub fn build(root: &DataRoot, model: &Model, image: usize, top: usize) -> WasteReport {
    let Measure {
        total_bytes: total,
        wasted,
        mut problems,
    } = measure(root, model, image);
    let wasted_bytes: u64 = wasted.values().map(|w| w.0).sum();
    let mut paths: Vec<WastedPath> = wasted
        .into_iter()
        .filter(|(_, w)| w.0 > 0)
        .map(|(p, (bytes, copies, how))| WastedPath {
            path: fs::shown(&p),
            wasted_bytes: bytes,
            copies,
            how,
        })
        .collect();
    paths.sort_by(|a, b| {
        b.wasted_bytes
            .cmp(&a.wasted_bytes)
            .then(a.path.cmp(&b.path))
    });
    let efficiency = efficiency(wasted_bytes, total);
    let (_, name) = crate::fs::target::describe(model, crate::fs::target::Target::Image(image));
    problems.sort();
    problems.dedup();
    WasteReport {
        image: name,
        total_bytes: total,
        wasted_bytes,
        efficiency,
        paths,
        top,
        problems,
    }
}

pub fn render(r: &WasteReport, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{}: {} of {} bytes wasted ({}), efficiency {:.2}%",
        super::sanitize(&r.image),
        r.wasted_bytes,
        r.total_bytes,
        super::human_size(r.wasted_bytes),
        r.efficiency * 100.0
    )?;
    if r.paths.is_empty() {
        return Ok(());
    }
    let mut t = super::table(&["WASTED", "COPIES", "HOW", "PATH"]);
    for p in r.paths.iter().take(r.top) {
        t.add_row(vec![
            p.wasted_bytes.to_string(),
            p.copies.to_string(),
            p.how.to_owned(),
            super::sanitize(&p.path),
        ]);
    }
    super::write_table(t, out)
}
