//! Which storage layouts a root holds, and whether dockscope can analyse it.

use super::{open_optional, sorted_names, IMAGE_DIR};
use crate::problem::{Problem, ProblemKind};
use crate::root::{DataRoot, FileKind};
use serde::Serialize;
use std::ffi::OsStr;

/// Graph drivers Docker has shipped; each keeps its layers in a top-level dir of its name
/// and its metadata in `image/<name>/`.
const DRIVERS: &[&str] = &[
    "overlay2",
    "overlay",
    "aufs",
    "fuse-overlayfs",
    "vfs",
    "btrfs",
    "zfs",
    "devicemapper",
    "windowsfilter",
];

/// One storage layout found in the root.
#[derive(Clone, Debug, Serialize)]
pub struct LayoutFound {
    /// `overlay2`, `aufs`, `containerd-snapshotter`, `storage-v1`, `userns-remap` ...
    pub name: String,
    /// Where it was seen, relative to the root.
    pub paths: Vec<String>,
    pub analysed: bool,
    pub note: String,
}

/// A top-level entry of the root.
#[derive(Clone, Debug, Serialize)]
pub struct Area {
    pub name: String,
    pub kind: &'static str,
}

#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub areas: Vec<Area>,
    pub layouts: Vec<LayoutFound>,
    pub version_hints: Vec<String>,
    pub problems: Vec<Problem>,
}

/// Why a root cannot be analysed.
#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{0}: not a Docker data root (none of image/, overlay2/, containers/ found)")]
    NotDockerRoot(String),
    #[error("{root}: a Docker data root using the {drivers} storage driver; dockscope analyses overlay2 only")]
    OtherDriver { root: String, drivers: String },
    #[error("{root}: holds only userns-remap subroots ({subroots}); scan one with --root {root}/{first}")]
    UsernsOnly {
        root: String,
        subroots: String,
        first: String,
    },
}

fn kind_word(kind: Option<FileKind>) -> &'static str {
    match kind {
        Some(FileKind::Dir) => "dir",
        Some(FileKind::File) => "file",
        Some(FileKind::Symlink) => "symlink",
        _ => "other",
    }
}

fn is_userns_name(name: &str) -> bool {
    name.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
    })
}

/// Look at the top of the root and say what it is.
pub fn detect(root: &DataRoot) -> Result<Layout, LayoutError> {
    let shown = root.shown().display().to_string();
    let mut layout = Layout::default();
    let top = root
        .top()
        .map_err(|_| LayoutError::NotDockerRoot(shown.clone()))?;
    let mut entries = top
        .entries()
        .map_err(|_| LayoutError::NotDockerRoot(shown.clone()))?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for e in &entries {
        let kind = e.kind.or_else(|| top.lstat(&e.name).ok().map(|m| m.kind));
        layout.areas.push(Area {
            name: e.name.to_string_lossy().into_owned(),
            kind: kind_word(kind),
        });
    }
    let has = |name: &str| entries.iter().any(|e| e.name == OsStr::new(name));
    let image_drivers: Vec<String> = match open_optional(root, "image") {
        Ok(Some(d)) => sorted_names(&d, &mut layout.problems),
        Ok(None) => Vec::new(),
        Err(p) => {
            layout.problems.push(p);
            Vec::new()
        }
    };
    for &driver in DRIVERS {
        let mut paths = Vec::new();
        if image_drivers.iter().any(|d| d == driver) {
            paths.push(format!("image/{driver}/"));
        }
        if has(driver) {
            paths.push(format!("{driver}/"));
        }
        if paths.is_empty() {
            continue;
        }
        let analysed = driver == "overlay2";
        layout.layouts.push(LayoutFound {
            name: driver.to_owned(),
            paths,
            analysed,
            note: if analysed {
                String::new()
            } else {
                format!("{driver} storage driver: not analysed (dockscope reads overlay2 only)")
            },
        });
    }
    let snapshots = "containerd/daemon/io.containerd.snapshotter.v1.overlayfs/snapshots";
    if let Ok(Some(d)) = open_optional(root, snapshots) {
        let n = d.entries().map_or(0, |e| e.len());
        if n > 0 {
            layout.layouts.push(LayoutFound {
                name: "containerd-snapshotter".into(),
                paths: vec![format!("{snapshots}/")],
                analysed: false,
                note: format!("containerd image store ({n} snapshots): not analysed"),
            });
        }
    }
    if has("graph")
        || entries
            .iter()
            .any(|e| e.name.to_string_lossy().starts_with("repositories-"))
    {
        layout.layouts.push(LayoutFound {
            name: "storage-v1".into(),
            paths: vec!["graph/".into()],
            analysed: false,
            note: "pre-1.10 storage (graph/): not analysed".into(),
        });
    }
    let subroots: Vec<String> = entries
        .iter()
        .filter_map(|e| e.name.to_str())
        .filter(|n| is_userns_name(n))
        .map(str::to_owned)
        .collect();
    for s in &subroots {
        layout.layouts.push(LayoutFound {
            name: "userns-remap".into(),
            paths: vec![format!("{s}/")],
            analysed: false,
            note: format!("userns-remap subroot: scan it with --root {shown}/{s}"),
        });
    }
    version_hints(root, &entries, &mut layout);

    let overlay2 = layout.layouts.iter().any(|l| l.name == "overlay2");
    if overlay2 {
        if matches!(open_optional(root, IMAGE_DIR), Ok(None)) && has("overlay2") {
            layout.problems.push(Problem::new(
                IMAGE_DIR,
                ProblemKind::Missing,
                "no image metadata for overlay2: layers cannot be tied to images",
            ));
        }
        return Ok(layout);
    }
    let others: Vec<&str> = layout
        .layouts
        .iter()
        .filter(|l| DRIVERS.contains(&l.name.as_str()) || l.name == "storage-v1")
        .map(|l| l.name.as_str())
        .collect();
    if !others.is_empty() {
        return Err(LayoutError::OtherDriver {
            root: shown,
            drivers: others.join(", "),
        });
    }
    if let Some(first) = subroots.first() {
        return Err(LayoutError::UsernsOnly {
            root: shown.clone(),
            subroots: subroots.join(", "),
            first: first.clone(),
        });
    }
    if has("image") || has("containers") {
        return Ok(layout); // a Docker root with nothing in it yet
    }
    Err(LayoutError::NotDockerRoot(shown))
}

fn version_hints(root: &DataRoot, entries: &[crate::root::DirEntry], layout: &mut Layout) {
    let has = |name: &str| entries.iter().any(|e| e.name == OsStr::new(name));
    let hints = &mut layout.version_hints;
    if has("engine-id") {
        hints.push("engine-id present: Docker 23 or later".into());
    }
    if has("trust") {
        hints.push("trust/ present: created by Docker 20.10 or earlier".into());
    }
    if root.lstat("image/identity-cache.db").is_ok() {
        hints.push("image/identity-cache.db present: Docker 29.3 or later".into());
    }
    if root.lstat("buildkit/history.db").is_ok() {
        hints.push("buildkit/history.db present: Docker 24 or later".into());
    }
    if has("containerd") {
        hints.push("containerd/ present: dockerd ran its own containerd (17.12 or later)".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userns_names() {
        assert!(is_userns_name("100000.100000"));
        assert!(!is_userns_name("100000."));
        assert!(!is_userns_name("a.b"));
        assert!(!is_userns_name("image"));
    }
}
