//! `du --by image`'s waste against GNU `find` listings of the unpacked layer dirs, and
//! `cat`/`export` on an archive root against the same commands on the unpacked copy.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{json, run, SampleRoot};
use std::collections::{BTreeMap, HashSet};
use std::fs;
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

/// `dockscope --root ROOT ARGS`: (exit code, stdout bytes, stderr).
fn raw(root: &Path, args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = common::dockscope()
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sha256_file(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{:x}", Sha256::digest(fs::read(p).unwrap()))
}

#[test]
fn cat_and_export_from_an_archive_are_those_of_the_unpacked_root() {
    let s = SampleRoot::unpack("full");
    let out = tempfile::tempdir().unwrap();
    // every regular file of every image and container view, through cat
    let mut files = 0;
    for target in [
        "app:1",
        "bk:1",
        "committed:1",
        "base2-app:1",
        "c-sparse",
        "c-exit0",
    ] {
        let v = json(&s.root, &["ls", "-R", target]);
        for e in v["entries"].as_array().unwrap() {
            if e["type"] != "file" {
                continue;
            }
            let spec = format!("{target}:{}", e["path"].as_str().unwrap());
            let (c1, from_dir, _) = raw(&s.root, &["cat", &spec]);
            let (c2, from_archive, err) = raw(&s.archive, &["cat", &spec]);
            assert_eq!((c1, c2), (0, 0), "{spec}: {err}");
            assert_eq!(from_archive, from_dir, "{spec}");
            assert_eq!(from_dir.len() as u64, e["size"].as_u64().unwrap(), "{spec}");
            files += 1;
        }
    }
    assert!(files > 50, "{files} files");
    // every layer: the same tar as from the directory, hashing to its DiffID
    let layerdb = s.path("image/overlay2/layerdb/sha256");
    let mut layers = 0;
    for e in fs::read_dir(&layerdb).unwrap() {
        let chain = e.unwrap().file_name().into_string().unwrap();
        let diff_id = fs::read_to_string(layerdb.join(&chain).join("diff")).unwrap();
        let a = out.path().join(format!("{chain}-a.tar"));
        let d = out.path().join(format!("{chain}-d.tar"));
        let va = json(&s.archive, &["export", &chain, "-o", a.to_str().unwrap()]);
        json(&s.root, &["export", &chain, "-o", d.to_str().unwrap()]);
        assert_eq!(va["mode"], "layer-tar");
        assert_eq!(va["diff_id_matches"], true, "{chain}: {va:#}");
        assert_eq!(sha256_file(&a), diff_id.trim(), "{chain}");
        assert_eq!(fs::read(&a).unwrap(), fs::read(&d).unwrap(), "{chain}");
        layers += 1;
    }
    assert_eq!(layers, 17);
    // image and container views and a subtree: the same tar bytes
    for args in [
        vec!["export", "app:1"],
        vec!["export", "bk:1"],
        vec!["export", "c-sparse"],
        vec!["export", "app:1", "/bin"],
    ] {
        let a = out.path().join("view-a.tar");
        let d = out.path().join("view-d.tar");
        let mut aa = args.clone();
        aa.extend(["-o", a.to_str().unwrap(), "--force"]);
        let mut dd = args.clone();
        dd.extend(["-o", d.to_str().unwrap(), "--force"]);
        let va = json(&s.archive, &aa);
        let vd = json(&s.root, &dd);
        assert_eq!(va["entries"], vd["entries"], "{args:?}");
        assert!(va["entries"].as_u64().unwrap() > 1, "{args:?}");
        assert_eq!(fs::read(&a).unwrap(), fs::read(&d).unwrap(), "{args:?}");
        // GNU tar reads it
        let ok = Command::new("tar").arg("-tf").arg(&a).output().unwrap();
        assert!(ok.status.success());
    }
}

#[test]
fn a_large_layer_file_streams_from_an_archive_in_bounded_memory() {
    // A real capture with one 96 MiB file added to a layer, archived again with GNU tar.
    let s = SampleRoot::unpack("full");
    let dirs = layer_dirs(&s, "app:1");
    let top = dirs.last().unwrap();
    let size = 96usize << 20;
    let mut body = Vec::with_capacity(size);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    while body.len() < size {
        // xorshift: bytes that gzip cannot fold away
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        body.extend_from_slice(&state.to_le_bytes());
    }
    fs::write(top.join("big.bin"), &body).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let archive = tmp.path().join("root.tar.gz");
    let st = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-czf"])
        .arg(&archive)
        .arg("-C")
        .arg(&s.root)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(assert_cmd::cargo::cargo_bin("dockscope"))
        .arg("--root")
        .arg(&archive)
        .args(["cat", "app:1:/big.bin"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout == body, "the bytes of big.bin");
    let err = String::from_utf8_lossy(&out.stderr);
    let peak_kib: u64 = err.trim().lines().last().unwrap().parse().unwrap();
    assert!(
        peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB while streaming a 96 MiB file"
    );
    // the whole view through export: the file is in the tar, whole
    let view = tmp.path().join("view.tar");
    let v = json(&archive, &["export", "app:1", "-o", view.to_str().unwrap()]);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0, "{v:#}");
    let mut ar = tar::Archive::new(fs::File::open(&view).unwrap());
    let mut found = false;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some("big.bin") {
            let mut got = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut got).unwrap();
            found = got == body;
        }
    }
    assert!(found, "big.bin whole in the export");
}

/// `dir:/path` of every entry GNU find lists under each layer dir `overlay2/*/diff`,
/// character devices (whiteouts) left out, with extra find predicates.
fn gnu_find_layers(s: &SampleRoot, extra: &[&str]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for e in fs::read_dir(s.path("overlay2")).unwrap() {
        let e = e.unwrap();
        let diff = e.path().join("diff");
        if e.file_name() == "l" || !diff.is_dir() {
            continue;
        }
        let o = Command::new("find")
            .arg(&diff)
            .args(["-mindepth", "1", "!", "-type", "c"])
            .args(extra)
            .args(["-printf", "%P\\0"])
            .output()
            .unwrap();
        assert!(o.status.success());
        let dir = format!("overlay2/{}/diff", e.file_name().to_str().unwrap());
        for p in String::from_utf8(o.stdout).unwrap().split('\0') {
            if !p.is_empty() {
                out.insert(format!("{dir}:/{p}"));
            }
        }
    }
    out
}

fn hits(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}:{}",
                h["source"]["dir"].as_str().unwrap(),
                h["path"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn find_across_the_root_is_gnu_find_over_every_layer_dir() {
    use std::os::unix::fs::PermissionsExt;
    let s = SampleRoot::unpack("full");
    // setuid and setgid files in several layers (and one directory)
    let mut planted = 0;
    for e in fs::read_dir(s.path("overlay2")).unwrap() {
        let diff = e.unwrap().path().join("diff");
        if !diff.is_dir() {
            continue;
        }
        for f in walkdir::WalkDir::new(&diff).min_depth(1).max_depth(3) {
            let f = f.unwrap();
            if f.file_type().is_file() && planted % 3 == 0 {
                let mode = if planted % 2 == 0 { 0o4755 } else { 0o6711 };
                fs::set_permissions(f.path(), fs::Permissions::from_mode(mode)).unwrap();
            }
            if f.file_type().is_dir() && planted % 7 == 0 {
                fs::set_permissions(f.path(), fs::Permissions::from_mode(0o4755)).unwrap();
            }
            if f.file_type().is_file() || f.file_type().is_dir() {
                planted += 1;
            }
        }
    }
    let want = gnu_find_layers(&s, &["-perm", "-4000"]);
    assert!(want.len() >= 5, "{want:?}");
    assert_eq!(hits(&json(&s.root, &["find", "--setuid"])), want);
    let want = gnu_find_layers(&s, &["-perm", "-2000"]);
    assert_eq!(hits(&json(&s.root, &["find", "--setgid"])), want);
    // names and types alone (no inode read): the same sets
    let want = gnu_find_layers(&s, &["-name", "*.txt"]);
    assert!(want.len() >= 3);
    assert_eq!(hits(&json(&s.root, &["find", "--name", "*.txt"])), want);
    let want = gnu_find_layers(&s, &["-type", "l"]);
    assert_eq!(hits(&json(&s.root, &["find", "--type", "l"])), want);
    let want = gnu_find_layers(&s, &["-type", "d"]);
    let v = json(&s.root, &["find", "--type", "d"]);
    assert_eq!(hits(&v), want);
    // the type filters out what it can without reading an inode; the size reads it
    let want = gnu_find_layers(&s, &["-type", "f", "-size", "+100c"]);
    assert!(want.len() >= 3);
    assert_eq!(
        hits(&json(&s.root, &["find", "--type", "f", "--size", "+100"])),
        want
    );
    let want = gnu_find_layers(&s, &["-type", "d", "-perm", "-4000"]);
    assert!(!want.is_empty());
    assert_eq!(
        hits(&json(&s.root, &["find", "--type", "d", "--setuid"])),
        want
    );
    // a hit found by name alone still shows its mode and owner
    let any = &v["hits"][0];
    assert!(any["mode"].as_str().unwrap() != "0000" || any["uid"].is_u64());
}
