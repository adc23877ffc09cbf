//! What the layer files say about how the overlay2 driver ran (`docker info`'s
//! `Native Overlay Diff` and `userxattr`), from a bounded look at image layers' `diff/`.
//!
//! * `userxattr`: opaque directories carry `user.overlay.opaque` when the driver mounted
//!   with `userxattr` (rootless, kernel 5.11+), `trusted.overlay.opaque` otherwise.
//! * Native diff: Docker records a layer's `size` as `directory.Size(diff/)` (every
//!   non-directory entry's length, symlinks included, hard links once) when the driver
//!   uses the kernel's native diff; with naive diff it records the tar entries' sizes,
//!   where symlinks count 0. A layer holding symlinks tells the two apart.

use crate::root::{DataRoot, FileKind};
use std::collections::HashSet;
use std::ffi::OsStr;

/// Directories looked at, over all layers: the answer stays cheap on a large root.
const DIR_BUDGET: usize = 5_000;

/// What was seen; `None` where the files do not tell.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DriverEvidence {
    pub native_overlay_diff: Option<bool>,
    /// The layer whose `size` decided `native_overlay_diff`.
    pub native_overlay_diff_from: Option<String>,
    pub userxattr: Option<bool>,
    /// The directory whose opaque xattr decided `userxattr`.
    pub userxattr_from: Option<String>,
}

struct LayerWalk {
    total: u64,
    symlinks: u64,
    complete: bool,
}

fn walk_layer(
    root: &DataRoot,
    diff: &str,
    budget: &mut usize,
    ev: &mut DriverEvidence,
) -> LayerWalk {
    let mut w = LayerWalk {
        total: 0,
        symlinks: 0,
        complete: true,
    };
    let mut inodes = HashSet::new();
    let mut queue = vec![diff.to_owned()];
    while let Some(rel) = queue.pop() {
        if *budget == 0 {
            w.complete = false;
            break;
        }
        *budget -= 1;
        let Ok(dir) = root.dir(&rel) else {
            w.complete = false;
            continue;
        };
        let Ok(entries) = dir.entries() else {
            w.complete = false;
            continue;
        };
        for e in entries {
            let name: &OsStr = &e.name;
            let Ok(meta) = dir.lstat(name) else {
                w.complete = false;
                continue;
            };
            match meta.kind {
                FileKind::Dir => {
                    if ev.userxattr.is_none() {
                        for (key, user) in [
                            ("trusted.overlay.opaque", false),
                            ("user.overlay.opaque", true),
                        ] {
                            if let Ok(Some(v)) = dir.get_xattr(name, key) {
                                if v == b"y" {
                                    ev.userxattr = Some(user);
                                    ev.userxattr_from = Some(dir.rel_of(name));
                                }
                            }
                        }
                    }
                    if let Some(n) = e.name_str() {
                        queue.push(format!("{rel}/{n}"));
                    } else {
                        w.complete = false;
                    }
                }
                kind => {
                    if meta.nlink > 1 && !inodes.insert(meta.ino) {
                        continue;
                    }
                    w.total = w.total.saturating_add(meta.len);
                    if kind == FileKind::Symlink {
                        w.symlinks = w.symlinks.saturating_add(meta.len);
                    }
                }
            }
        }
    }
    w
}

/// Look at image layers (`(cache-id, recorded size, name for the report)`) until both
/// questions are answered or the budget is spent.
pub fn scan(root: &DataRoot, layers: &[(String, u64, String)]) -> DriverEvidence {
    let mut ev = DriverEvidence::default();
    let mut budget = DIR_BUDGET;
    for (cache, size, name) in layers {
        if budget == 0 || (ev.userxattr.is_some() && ev.native_overlay_diff.is_some()) {
            break;
        }
        let w = walk_layer(
            root,
            &format!("overlay2/{cache}/diff"),
            &mut budget,
            &mut ev,
        );
        if ev.native_overlay_diff.is_none() && w.complete && w.symlinks > 0 {
            if *size == w.total {
                ev.native_overlay_diff = Some(true);
            } else if *size == w.total - w.symlinks {
                ev.native_overlay_diff = Some(false);
            }
            if ev.native_overlay_diff.is_some() {
                ev.native_overlay_diff_from = Some(name.clone());
            }
        }
    }
    ev
}
