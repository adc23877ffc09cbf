//! `du --by image`'s waste against GNU `find` listings of the unpacked layer dirs, and
//! `cat`/`export` on an archive root against the same commands on the unpacked copy.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{json, run, SampleRoot};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `diff/` dirs of an image, base first, as `tree --json` names them.
fn layer_dirs(s: &SampleRoot, image: &str) -> Vec<PathBuf> {
    let v = json(&s.root, &["tree", image]);
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            s.path(&format!(
                "overlay2/{}/diff",
                l["cache_id"].as_str().expect("cache id")
            ))
        })
        .collect()
}

/// One entry of a layer as GNU find lists it.
struct Listed {
    /// `f`, `d`, `l`, `c`, ...
    kind: char,
    size: u64,
    ino: u64,
    opaque: bool,
}

/// `find DIR -mindepth 1 -printf '%y %s %i %P\0'`: path -> entry.
fn gnu_listing(dir: &Path) -> BTreeMap<Vec<String>, Listed> {
    let out = Command::new("find")
        .arg(dir)
        .args(["-mindepth", "1", "-printf", "%y %s %i %P\\0"])
        .output()
        .expect("run GNU find");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut m = BTreeMap::new();
    for rec in text.split('\0').filter(|r| !r.is_empty()) {
        let mut it = rec.splitn(4, ' ');
        let kind = it.next().unwrap().chars().next().unwrap();
        let size: u64 = it.next().unwrap().parse().unwrap();
        let ino: u64 = it.next().unwrap().parse().unwrap();
        let rel = it.next().unwrap();
        let opaque = kind == 'd'
            && xattr::get(dir.join(rel), "trusted.overlay.opaque")
                .ok()
                .flatten()
                .as_deref()
                == Some(b"y");
        let comps: Vec<String> = rel.split('/').map(str::to_owned).collect();
        m.insert(
            comps,
            Listed {
                kind,
                size,
                ino,
                opaque,
            },
        );
    }
    m
}

/// (wasted, total) by hand: a regular file of layer k is wasted when a layer above
/// holds any entry of its path, a non-directory (a whiteout too) at one of its
/// ancestors, or an opaque directory at one of its ancestors. A hard-linked inode
/// counts once per layer, on its first name in walk order (components sorted).
fn reference(layers: &[BTreeMap<Vec<String>, Listed>]) -> (u64, u64) {
    let (mut wasted, mut total) = (0u64, 0u64);
    for (k, layer) in layers.iter().enumerate() {
        let mut inodes = HashSet::new();
        for (path, e) in layer {
            if e.kind != 'f' || !inodes.insert(e.ino) {
                continue;
            }
            total += e.size;
            let hidden = layers[k + 1..].iter().any(|up| {
                up.contains_key(path)
                    || (1..path.len()).any(|n| {
                        up.get(&path[..n])
                            .is_some_and(|a| a.kind != 'd' || a.opaque)
                    })
            });
            if hidden {
                wasted += e.size;
            }
        }
    }
    (wasted, total)
}

#[test]
fn du_by_image_waste_is_gnu_find_over_the_layers() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["du", "--by", "image"]);
    let images = v["images"].as_array().unwrap();
    assert!(images.len() >= 5);
    let (code, text, _) = run(&s.root, &["du", "--by", "image", "--bytes"]);
    assert_eq!(code, 0);
    let rows = common::cells(
        &text,
        &[
            "REPOSITORY:TAG",
            "IMAGE ID",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
            "WASTED",
            "EFFICIENCY",
        ],
    );
    let mut nonzero = 0;
    for im in images {
        let id = im["id"].as_str().unwrap();
        let dirs = layer_dirs(&s, id);
        let listings: Vec<_> = dirs.iter().map(|d| gnu_listing(d)).collect();
        let (wasted, total) = reference(&listings);
        assert_eq!(im["wasted_bytes"].as_u64(), Some(wasted), "{id}");
        let eff = if total == 0 {
            1.0
        } else {
            1.0 - wasted as f64 / total as f64
        };
        assert!(
            (im["efficiency"].as_f64().unwrap() - eff).abs() < 1e-12,
            "{id}: {} against {eff}",
            im["efficiency"]
        );
        // the same figures as `waste` prints for the image alone (one measure)
        let w = json(&s.root, &["waste", id]);
        assert_eq!(w["wasted_bytes"].as_u64(), Some(wasted), "{id}");
        assert_eq!(w["total_bytes"].as_u64(), Some(total), "{id}");
        let short: String = id.trim_start_matches("sha256:").chars().take(12).collect();
        let row = rows
            .iter()
            .find(|r| r["IMAGE ID"] == short)
            .unwrap_or_else(|| panic!("{short} in\n{text}"));
        assert_eq!(row["WASTED"], wasted.to_string(), "{text}");
        assert_eq!(row["EFFICIENCY"], format!("{:.2}%", eff * 100.0));
        if wasted > 0 {
            nonzero += 1;
        }
    }
    assert!(nonzero >= 2, "images with waste: {nonzero}");
    // the archive gives the same figures (its headers hold sizes, xattrs, whiteouts)
    let a = json(&s.archive, &["du", "--by", "image"]);
    let pick = |v: &serde_json::Value| -> BTreeMap<String, (u64, f64)> {
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["id"].as_str().unwrap().to_owned(),
                    (
                        i["wasted_bytes"].as_u64().unwrap(),
                        i["efficiency"].as_f64().unwrap(),
                    ),
                )
            })
            .collect()
    };
    assert_eq!(pick(&a), pick(&v));
    // without --by image the layers are not read: the fields are null
    let plain = json(&s.root, &["du"]);
    assert!(plain["images"][0]["wasted_bytes"].is_null());
}

#[allow(dead_code)]
fn read(p: &Path) -> Vec<u8> {
    fs::read(p).unwrap()
}

#[allow(dead_code)]
fn size_of(p: &Path) -> u64 {
    fs::symlink_metadata(p).unwrap().size()
}
