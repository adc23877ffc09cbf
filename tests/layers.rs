//! ls, find, trace, diff, cat and export on the real 20.10 capture, against independent
//! references: the daemon's recorded `docker diff`, the layers' DiffIDs, and GNU
//! `find`/`cat` run on a merged copy this test builds from the unpacked layer dirs
//! (whiteouts and opaque dirs applied by hand).
#![allow(clippy::disallowed_methods)]

mod common;

use common::{change_lines, gnu_ls_ra, json, recorded_diffs, run, SampleRoot};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
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

fn remove(p: &Path) {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p).unwrap(),
        Ok(_) => fs::remove_file(p).unwrap(),
        Err(_) => {}
    }
}

/// Merge layer dirs (base first) into `into`, as overlayfs shows them: a char device
/// 0/0 deletes the name, `trusted.overlay.opaque=y` empties the dir first.
fn materialise(layers: &[PathBuf], into: &Path) {
    fs::create_dir_all(into).unwrap();
    for layer in layers {
        for e in walkdir::WalkDir::new(layer)
            .min_depth(1)
            .sort_by_file_name()
        {
            let e = e.unwrap();
            let rel = e.path().strip_prefix(layer).unwrap();
            let dest = into.join(rel);
            let m = fs::symlink_metadata(e.path()).unwrap();
            let ft = m.file_type();
            if ft.is_char_device() && m.rdev() == 0 {
                remove(&dest);
                continue;
            }
            if ft.is_dir() {
                let opaque = xattr::get(e.path(), "trusted.overlay.opaque")
                    .ok()
                    .flatten()
                    .as_deref()
                    == Some(b"y");
                let is_dir = fs::symlink_metadata(&dest).is_ok_and(|d| d.is_dir());
                if opaque || !is_dir {
                    remove(&dest);
                    fs::create_dir(&dest).unwrap();
                }
                std::os::unix::fs::lchown(&dest, Some(m.uid()), Some(m.gid())).unwrap();
                fs::set_permissions(&dest, fs::Permissions::from_mode(m.mode() & 0o7777)).unwrap();
                continue;
            }
            remove(&dest);
            let ok = Command::new("cp")
                .args(["-a", "--no-preserve=links"])
                .arg(e.path())
                .arg(&dest)
                .status()
                .unwrap()
                .success();
            assert!(ok, "cp {}", e.path().display());
        }
    }
}

/// GNU find on a tree: path -> "type mode uid gid size[ target]".
fn gnu_find(dir: &Path, extra: &[&str]) -> BTreeMap<String, String> {
    let out = Command::new("find")
        .arg(dir)
        .args(["-mindepth", "1"])
        .args(extra)
        .args(["-printf", "/%P\\t%y %m %U %G %s %l\\n"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (p, rest) = l.split_once('\t').unwrap();
            let f: Vec<&str> = rest.splitn(6, ' ').collect();
            let size = if f[0] == "d" { "-" } else { f[4] };
            let mode = u32::from_str_radix(f[1], 8).unwrap();
            (
                p.to_owned(),
                format!("{} {mode:o} {} {} {size} {}", f[0], f[2], f[3], f[5])
                    .trim_end()
                    .to_owned(),
            )
        })
        .collect()
}

fn ty(t: &str) -> &str {
    match t {
        "file" => "f",
        "dir" => "d",
        "symlink" => "l",
        "char" => "c",
        "block" => "b",
        "fifo" => "p",
        _ => "s",
    }
}

/// dockscope's rows in the same shape as `gnu_find`.
fn rows(entries: &Value) -> BTreeMap<String, String> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let t = ty(e["type"].as_str().unwrap());
            let mode = u32::from_str_radix(e["mode"].as_str().unwrap(), 8).unwrap();
            let size = if t == "d" {
                "-".to_owned()
            } else {
                e["size"].to_string()
            };
            let target = e["link_target"].as_str().unwrap_or("");
            (
                e["path"].as_str().unwrap().to_owned(),
                format!("{t} {mode:o} {} {} {size} {target}", e["uid"], e["gid"])
                    .trim_end()
                    .to_owned(),
            )
        })
        .collect()
}

const IMAGES: [&str; 5] = ["app:1", "bk:1", "committed:1", "base2-app:1", "base:1"];

#[test]
fn ls_recursive_is_gnu_find_on_the_merged_copy() {
    let s = SampleRoot::unpack("full");
    let tmp = tempfile::tempdir().unwrap();
    for image in IMAGES {
        let merged = tmp.path().join(image.replace(':', "_"));
        materialise(&layer_dirs(&s, image), &merged);
        let want = gnu_find(&merged, &[]);
        let v = json(&s.root, &["ls", "-R", image]);
        let got = rows(&v["entries"]);
        assert!(want.len() > 10, "{image}: {} entries", want.len());
        assert_eq!(got, want, "{image}");
        // the archive gives the same listing
        let a = json(&s.archive, &["ls", "-R", image]);
        assert_eq!(rows(&a["entries"]), want, "{image} from the archive");
        // the human listing is GNU `ls -RA` (C locale) with `/` for the top
        let gnu = gnu_ls_ra(&merged);
        let (code, out, _) = run(&s.root, &["ls", "-R", image]);
        assert_eq!(code, 0);
        assert_eq!(out.lines().collect::<Vec<_>>(), gnu, "{image}");
    }
}

#[test]
fn ls_of_a_subdir_and_of_one_layer_shows_whiteouts_and_opaque_dirs() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["ls", "app:1:/data"]);
    let names: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "/data/blob",
            "/data/hardlink.txt",
            "/data/hello.txt",
            "/data/sub",
            "/data/symlink.txt"
        ]
    );
    // the layer of `RUN rm /data/sub/a /data/gone.txt`: two whiteouts
    let dirs = layer_dirs(&s, "app:1");
    let tree = json(&s.root, &["tree", "app:1"]);
    let layers = tree["layers"].as_array().unwrap();
    let k = dirs
        .iter()
        .position(|d| {
            d.join("data/gone.txt").exists()
                && fs::symlink_metadata(d.join("data/gone.txt"))
                    .unwrap()
                    .file_type()
                    .is_char_device()
        })
        .expect("a layer deleting /data/gone.txt");
    let chain = layers[k]["chain_id"].as_str().unwrap();
    let v = json(&s.root, &["ls", "-R", chain]);
    let wh: BTreeSet<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["whiteout"] == true)
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(wh, BTreeSet::from(["/data/gone.txt", "/data/sub/a"]));
    // `RUN rm -rf /opt/keep && mkdir /opt/keep`: an opaque dir
    let k = dirs
        .iter()
        .position(|d| {
            xattr::get(d.join("opt/keep"), "trusted.overlay.opaque")
                .ok()
                .flatten()
                .is_some()
        })
        .expect("an opaque /opt/keep");
    let v = json(
        &s.root,
        &[
            "ls",
            &format!("{}:/opt", layers[k]["chain_id"].as_str().unwrap()),
        ],
    );
    assert_eq!(v["entries"][0]["path"], "/opt/keep");
    assert_eq!(v["entries"][0]["opaque"], true);
    // a container's own layer: c-sparse deleted /etc/motd and /data/sub/b
    let v = json(&s.root, &["ls", "-R", "--rw", "c-sparse"]);
    let wh: BTreeSet<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["whiteout"] == true)
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(wh, BTreeSet::from(["/data/sub/b", "/etc/motd"]));
    // an archive root keeps no layer contents in memory: cat streams them from it
    let (code, out, err) = run(&s.archive, &["cat", "app:1:/data/hello.txt"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, run(&s.root, &["cat", "app:1:/data/hello.txt"]).1);
    let (code, _, err) = run(&s.root, &["ls", "no-such-thing"]);
    assert_eq!(code, 2);
    assert!(err.contains("No such image, container or layer"), "{err}");
}

#[test]
fn diff_container_is_the_recorded_docker_diff() {
    let s = SampleRoot::unpack("full");
    let recorded = recorded_diffs(&s);
    let mut compared = 0;
    for (id, lines) in &recorded {
        let want: BTreeSet<String> = lines.iter().cloned().collect();
        let (code, out, err) = run(&s.root, &["diff", id]);
        assert_eq!(code, 0, "{err}");
        let got: BTreeSet<String> = out.lines().map(str::to_owned).collect();
        assert_eq!(got, want, "container {id}");
        // and by name, from the archive
        let v = json(&s.archive, &["diff", &id[..12]]);
        assert_eq!(v["changes"].as_array().unwrap().len(), want.len());
        compared += 1;
    }
    assert_eq!(compared, 11);
}

#[test]
fn diff_container_lists_whole_paths_in_byte_order() {
    // Names that sort around '/' ('-' and '.' sort before it, '0' after): `docker diff`
    // order is that of whole paths, so `/etc/ds/x` comes after `/etc/ds-x` and `/etc/ds.d`.
    let s = SampleRoot::unpack("full");
    let diffs = s.daemon.as_ref().unwrap().join("diff");
    let (id, recorded) = fs::read_dir(&diffs)
        .unwrap()
        .map(|f| f.unwrap().path())
        .map(|f| {
            let text = fs::read_to_string(&f).unwrap();
            (f.file_stem().unwrap().to_str().unwrap().to_owned(), text)
        })
        .find(|(_, text)| text.lines().any(|l| l == "C /etc"))
        .expect("a container that changed /etc");
    let v = json(&s.root, &["diff", &id]);
    let rw = s.path(v["from"]["stack"][0]["dir"].as_str().unwrap());
    let listed = |rw: &Path| -> BTreeSet<String> {
        let o = Command::new("find")
            .args([".", "-mindepth", "1"])
            .current_dir(rw)
            .output()
            .unwrap();
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(|l| l.trim_start_matches('.').to_owned())
            .collect()
    };
    let before = listed(&rw);
    for p in [
        "etc/ds/x",
        "etc/ds/y/z",
        "etc/ds-x",
        "etc/ds.d/f",
        "etc/ds0",
        "zz/y",
        "zz-1",
        "zz.d/f",
        "zz0/q",
    ] {
        let p = rw.join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, b"x").unwrap();
    }
    let mut want: BTreeSet<String> = recorded
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let added: Vec<String> = listed(&rw).difference(&before).cloned().collect();
    assert_eq!(added.len(), 15);
    want.extend(added.iter().map(|p| format!("A {p}")));
    let (code, out, err) = run(&s.root, &["diff", &id]);
    assert_eq!(code, 0, "{err}");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(
        got.iter().map(|l| (*l).to_owned()).collect::<BTreeSet<_>>(),
        want
    );
    let mut sorted = got.clone();
    sorted.sort_by(|a, b| a.as_bytes()[2..].cmp(&b.as_bytes()[2..]));
    assert_eq!(got, sorted, "not in byte order of whole paths");
    // --json: the same list in the same order.
    let v = json(&s.root, &["diff", &id]);
    let in_json = change_lines(&v);
    assert_eq!(in_json, got);
    assert_eq!(
        v["totals"]["added"].as_u64().unwrap() as usize,
        got.iter().filter(|l| l.starts_with("A ")).count()
    );
}

#[test]
fn diff_of_two_images_is_the_commit() {
    // committed:1 = app:1 + the RW layer of c-commit-src, whose `docker diff` is recorded
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["diff", "app:1", "committed:1"]);
    let got: BTreeSet<String> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] != "C" || f["type"] != "dir")
        .map(|f| {
            format!(
                "{} {}",
                f["kind"].as_str().unwrap(),
                f["path"].as_str().unwrap()
            )
        })
        .collect();
    let want: BTreeSet<String> = s
        .daemon_text("diff/5fa3b3577905d00a916769d7c61626301b95d196d17c716363bd9b66865b6db4.txt")
        .lines()
        .filter(|l| !l.starts_with("C "))
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want);
    let added = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/committed.txt")
        .unwrap();
    assert_eq!(added["size_after"], "committed\n".len());
    // two layers of one chain: the view as of each
    let tree = json(&s.root, &["tree", "app:1"]);
    let layers = tree["layers"].as_array().unwrap();
    let (a, b) = (
        layers[0]["chain_id"].as_str().unwrap(),
        layers[1]["chain_id"].as_str().unwrap(),
    );
    let v = json(&s.root, &["diff", a, b]);
    let added: BTreeSet<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "A")
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for p in [
        "/data/sub/a",
        "/data/sub/b",
        "/opt/keep/k1",
        "/data/gone.txt",
        "/data/blob",
    ] {
        assert!(added.contains(p), "{p} in {added:?}");
    }
}

#[test]
fn export_of_every_layer_hashes_to_its_diff_id() {
    let s = SampleRoot::unpack("full");
    let out = tempfile::tempdir().unwrap();
    let layerdb = s.path("image/overlay2/layerdb/sha256");
    let mut n = 0;
    for e in fs::read_dir(&layerdb).unwrap() {
        let chain = e.unwrap().file_name().into_string().unwrap();
        let diff_id = fs::read_to_string(layerdb.join(&chain).join("diff")).unwrap();
        let file = out.path().join(format!("{chain}.tar"));
        let v = json(&s.root, &["export", &chain, "-o", file.to_str().unwrap()]);
        assert_eq!(v["mode"], "layer-tar");
        let bytes = fs::read(&file).unwrap();
        let sha = format!("sha256:{:x}", Sha256::digest(&bytes));
        assert_eq!(sha, diff_id.trim(), "layer {chain}");
        assert_eq!(v["diff_id_matches"], true);
        // GNU tar reads it, and lists what the layer dir holds
        let list = Command::new("tar").arg("-tf").arg(&file).output().unwrap();
        assert!(list.status.success());
        n += 1;
    }
    assert_eq!(n, 17);
}

#[test]
fn export_of_an_image_is_its_merged_view_and_never_writes_into_the_root() {
    let s = SampleRoot::unpack("full");
    let tmp = tempfile::tempdir().unwrap();
    let merged = tmp.path().join("merged");
    materialise(&layer_dirs(&s, "app:1"), &merged);
    let tar = tmp.path().join("app.tar");
    let v = json(&s.root, &["export", "app:1", "-o", tar.to_str().unwrap()]);
    assert_eq!(v["mode"], "view");
    let x = tmp.path().join("x");
    fs::create_dir(&x).unwrap();
    let ok = Command::new("tar")
        .args(["--numeric-owner", "-xpf"])
        .arg(&tar)
        .arg("-C")
        .arg(&x)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let mut want = gnu_find(&merged, &[]);
    let mut got = gnu_find(&x, &[]);
    // directory link counts aside, hard links are kept as hard links
    want.retain(|k, _| !k.is_empty());
    got.retain(|k, _| !k.is_empty());
    assert_eq!(got, want);
    let h = fs::metadata(x.join("data/hardlink.txt")).unwrap();
    assert_eq!(
        h.ino(),
        fs::metadata(x.join("data/hello.txt")).unwrap().ino()
    );
    // a subtree
    let sub = tmp.path().join("sub.tar");
    json(
        &s.root,
        &["export", "app:1", "/data/sub", "-o", sub.to_str().unwrap()],
    );
    let list = Command::new("tar").arg("-tf").arg(&sub).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&list.stdout),
        "data/sub/\ndata/sub/b\n"
    );
    // no overwrite without --force, and never into the root (by path or via a symlink)
    let (code, _, err) = run(&s.root, &["export", "app:1", "-o", tar.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("--force"), "{err}");
    let (code, _, _) = run(
        &s.root,
        &["export", "app:1", "-o", tar.to_str().unwrap(), "--force"],
    );
    assert_eq!(code, 0);
    let inside = s.path("overlay2/x.tar");
    let (code, _, err) = run(
        &s.root,
        &["export", "app:1", "-o", inside.to_str().unwrap()],
    );
    assert_eq!(code, 2);
    assert!(err.contains("never writes into a root"), "{err}");
    assert!(!inside.exists());
    let link = tmp.path().join("to-root");
    std::os::unix::fs::symlink(s.path("containers"), &link).unwrap();
    let (code, _, err) = run(
        &s.root,
        &[
            "export",
            "app:1",
            "-o",
            link.join("y.tar").to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(!s.path("containers/y.tar").exists());
    // the archive root itself is not overwritten
    let (code, _, _) = run(
        &s.archive,
        &[
            "export",
            "app:1",
            "-o",
            s.archive.to_str().unwrap(),
            "--force",
        ],
    );
    assert_eq!(code, 2);
}

#[test]
fn cat_is_the_merged_copy_and_never_the_host() {
    let s = SampleRoot::unpack("full");
    let tmp = tempfile::tempdir().unwrap();
    let merged = tmp.path().join("merged");
    let dirs = layer_dirs(&s, "app:1");
    materialise(&dirs, &merged);
    let mut n = 0;
    for e in walkdir::WalkDir::new(&merged).min_depth(1) {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        let rel = e.path().strip_prefix(&merged).unwrap().to_str().unwrap();
        let out = common::dockscope()
            .arg("--root")
            .arg(&s.root)
            .args(["cat", &format!("app:1:/{rel}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{rel}");
        assert_eq!(out.stdout, fs::read(e.path()).unwrap(), "{rel}");
        n += 1;
    }
    assert!(n >= 8, "{n} files");
    // a symlink inside the image is resolved inside it
    let (_, out, _) = run(&s.root, &["cat", "app:1:/data/symlink.txt"]);
    assert_eq!(out, "hello\n");
    // hostile symlinks planted in the top layer: absolute, climbing, and a loop
    let top = dirs.last().unwrap();
    std::os::unix::fs::symlink("/etc", top.join("evil")).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../etc/hostname", top.join("climb")).unwrap();
    std::os::unix::fs::symlink("loop", top.join("loop")).unwrap();
    let (code, out, _) = run(&s.root, &["cat", "app:1:/evil/passwd"]);
    assert_eq!(code, 0);
    assert_eq!(out.as_bytes(), fs::read(merged.join("etc/passwd")).unwrap());
    let (code, out, err) = run(&s.root, &["cat", "app:1:/climb"]);
    assert_eq!(code, 2, "the image has no /etc/hostname: {out}");
    assert!(out.is_empty());
    assert!(err.contains("no such file"), "{err}");
    let (code, out, err) = run(&s.root, &["cat", "app:1:/loop"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("symbolic links"), "{err}");
    // a FIFO planted in a layer is listed and exported, never opened (no hang)
    let ok = Command::new("mkfifo")
        .arg(top.join("fifo"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let (code, out, err) = run(&s.root, &["cat", "app:1:/fifo"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("not a regular file"), "{err}");
    let v = json(&s.root, &["ls", "app:1:/fifo"]);
    assert_eq!(v["entries"][0]["type"], "fifo");
    let tar = tmp.path().join("with-fifo.tar");
    json(&s.root, &["export", "app:1", "-o", tar.to_str().unwrap()]);
    let list = Command::new("tar").arg("-tvf").arg(&tar).output().unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.lines()
            .any(|l| l.starts_with('p') && l.ends_with(" fifo")),
        "{list}"
    );
    // the planted links are exported as links, not followed
    assert!(
        list.lines()
            .any(|l| l.starts_with('l') && l.ends_with("evil -> /etc")),
        "{list}"
    );
    // a layer dir replaced by a symlink to the host's /etc is refused, not followed
    let victim = top.parent().unwrap().join("diff-moved");
    fs::rename(top, &victim).unwrap();
    std::os::unix::fs::symlink("/etc", top).unwrap();
    let (_, out, _) = run(&s.root, &["cat", "app:1:/passwd"]);
    assert!(out.is_empty(), "host bytes: {out}");
    let (_, out, _) = run(&s.root, &["cat", "app:1:/etc/hostname"]);
    assert!(out.is_empty(), "host bytes: {out}");
}

#[test]
fn find_setuid_is_gnu_find_perm_4000_on_the_merged_copy() {
    let s = SampleRoot::unpack("full");
    let dirs = layer_dirs(&s, "app:1");
    // plant setuid files: one visible (top layer), one hidden above (its layer's file
    // is overwritten by the top layer's copy)
    let top = dirs.last().unwrap();
    let srv = top.join("srv/files");
    let planted = fs::read_dir(&srv).unwrap().next().unwrap().unwrap().path();
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o4755)).unwrap();
    let base = &dirs[0];
    fs::set_permissions(base.join("etc/motd"), fs::Permissions::from_mode(0o4644)).unwrap();
    let low = dirs
        .iter()
        .find(|d| d.join("data/hello.txt").exists())
        .unwrap();
    fs::set_permissions(
        low.join("data/hello.txt"),
        fs::Permissions::from_mode(0o6755),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let merged = tmp.path().join("m");
    materialise(&dirs, &merged);
    let want: BTreeSet<String> = gnu_find(&merged, &["-perm", "-4000"]).into_keys().collect();
    assert!(want.len() >= 3, "{want:?}");
    let v = json(&s.root, &["find", "app:1", "--setuid"]);
    let got: BTreeSet<String> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);
    let want_sgid: BTreeSet<String> = gnu_find(&merged, &["-perm", "-2000"]).into_keys().collect();
    let v = json(&s.root, &["find", "app:1", "--setgid"]);
    let got: BTreeSet<String> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want_sgid);
    // across the root: each hit with its layer and the containers holding it
    let v = json(&s.root, &["find", "--setuid", "--in-containers"]);
    let hits = v["hits"].as_array().unwrap();
    let motd = hits.iter().find(|h| h["path"] == "/etc/motd").unwrap();
    let sparse = motd["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "c-sparse")
        .unwrap();
    assert_eq!(sparse["visible"], false, "c-sparse deleted /etc/motd");
    let running = motd["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "c-running")
        .unwrap();
    assert_eq!(running["visible"], true);
    // a dir nothing references, planted in overlay2/, is searched too
    let planted = s.path("overlay2/planted/diff/usr/bin");
    fs::create_dir_all(&planted).unwrap();
    fs::write(planted.join("x"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(planted.join("x"), fs::Permissions::from_mode(0o4755)).unwrap();
    let v = json(&s.root, &["find", "--setuid"]);
    let x = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["path"] == "/usr/bin/x")
        .expect("the planted setuid file");
    assert_eq!(x["source"]["role"], "unreferenced");
    assert_eq!(x["source"]["dir"], "overlay2/planted/diff");
    // name, type and size filters against GNU find
    for (args, gnu) in [
        (vec!["--name", "*.txt"], vec!["-name", "*.txt"]),
        (vec!["--type", "l"], vec!["-type", "l"]),
        (vec!["--path", "/data/*"], vec!["-path", "*/m/data/*"]),
        (vec!["--size", "+10k"], vec!["-size", "+10k"]),
        (
            vec!["--world-writable"],
            vec!["-perm", "-0002", "!", "-type", "l"],
        ),
        // (files only: copying into the merged copy touched its dirs' mtimes)
        (
            vec!["--newer", "2026-11-25T14:33:09Z", "--type", "f"],
            vec!["-newermt", "2026-11-25T14:33:09Z", "-type", "f"],
        ),
        (
            vec!["--uid", "0", "--type", "d"],
            vec!["-uid", "0", "-type", "d"],
        ),
    ] {
        let want: BTreeSet<String> = gnu_find(&merged, &gnu).into_keys().collect();
        let mut a = vec!["find", "app:1"];
        a.extend(args.iter());
        let v = json(&s.root, &a);
        let got: BTreeSet<String> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["path"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, want, "{args:?}");
        assert!(!want.is_empty(), "{args:?}");
    }
}

#[test]
fn trace_follows_the_dockerfile() {
    let s = SampleRoot::unpack("full");
    // RUN mkdir ... echo a > /data/sub/a ..., then RUN rm /data/sub/a /data/gone.txt
    let v = json(&s.root, &["trace", "/data/sub/a", "app:1"]);
    let ev = v["traces"][0]["events"].as_array().unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0]["kind"], "created");
    assert_eq!(ev[0]["size"], 2);
    assert!(ev[0]["layer"]["created_by"]
        .as_str()
        .unwrap()
        .contains("echo a > /data/sub/a"));
    assert_eq!(ev[1]["kind"], "deleted");
    assert!(ev[1]["layer"]["created_by"]
        .as_str()
        .unwrap()
        .contains("rm /data/sub/a /data/gone.txt"));
    assert_eq!(v["traces"][0]["present"], false);
    // RUN rm -rf /opt/keep && mkdir /opt/keep: deleted by an opaque dir
    let v = json(&s.root, &["trace", "/opt/keep/k1", "app:1"]);
    let ev = v["traces"][0]["events"].as_array().unwrap();
    assert_eq!(ev[1]["kind"], "deleted");
    assert!(ev[1]["details"][0].as_str().unwrap().contains("opaque"));
    // COPY files/ /srv/files/, then c-sparse's `echo modified >> /srv/files/a.txt`
    let v = json(&s.root, &["trace", "/srv/files/a.txt", "c-sparse"]);
    let ev = v["traces"][0]["events"].as_array().unwrap();
    assert_eq!(ev.len(), 2);
    assert!(ev[0]["layer"]["created_by"]
        .as_str()
        .unwrap()
        .contains("COPY"));
    assert_eq!(ev[1]["kind"], "changed");
    assert_eq!(ev[1]["layer"]["role"], "rw");
    assert_eq!(
        ev[1]["size"].as_u64().unwrap(),
        ev[0]["size"].as_u64().unwrap() + "modified\n".len() as u64
    );
    assert_ne!(ev[0]["sha256"], ev[1]["sha256"]);
    // without a target: every image and container touching /etc/motd; bk:1 deletes it
    let v = json(&s.root, &["trace", "/etc/motd"]);
    let bk = v["traces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "bk:1")
        .unwrap();
    assert_eq!(bk["present"], false);
    assert!(bk["events"][1]["layer"]["created_by"]
        .as_str()
        .unwrap()
        .contains("rm /etc/motd"));
}

#[test]
fn waste_is_what_upper_layers_hide() {
    let s = SampleRoot::unpack("full");
    for image in ["app:1", "committed:1", "bk:1"] {
        let dirs = layer_dirs(&s, image);
        let tmp = tempfile::tempdir().unwrap();
        let merged = tmp.path().join("m");
        materialise(&dirs, &merged);
        // a regular file of a lower layer is wasted when the view does not show it or
        // a higher layer holds an entry of that name
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for (k, d) in dirs.iter().enumerate() {
            for e in walkdir::WalkDir::new(d).min_depth(1) {
                let e = e.unwrap();
                if !e.file_type().is_file() {
                    continue;
                }
                let rel = e.path().strip_prefix(d).unwrap();
                let hidden = fs::symlink_metadata(merged.join(rel)).is_err()
                    || dirs[k + 1..]
                        .iter()
                        .any(|up| fs::symlink_metadata(up.join(rel)).is_ok_and(|m| !m.is_dir()));
                if hidden {
                    *want
                        .entry(format!("/{}", rel.to_str().unwrap()))
                        .or_default() += e.metadata().unwrap().len();
                }
            }
        }
        let v = json(&s.root, &["waste", image]);
        let got: BTreeMap<String, u64> = v["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["path"].as_str().unwrap().to_owned(),
                    p["wasted_bytes"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, want, "{image}");
        assert!(!want.is_empty(), "{image}");
        assert_eq!(v["wasted_bytes"], want.values().sum::<u64>());
    }
}

#[test]
fn timeline_is_what_the_daemon_reported() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["timeline"]);
    let events = v["events"].as_array().unwrap();
    let has = |kind: &str, object: &str, t: &str| {
        let want = common::unix(t);
        events
            .iter()
            .any(|e| e["kind"] == kind && e["object"] == object && e["unix"] == want)
    };
    let mut checked = 0;
    for c in s.daemon_json("container-inspect.json").as_array().unwrap() {
        let name = c["Name"].as_str().unwrap().trim_start_matches('/');
        assert!(
            has("container-created", name, c["Created"].as_str().unwrap()),
            "{name}"
        );
        let st = &c["State"];
        if !st["StartedAt"].as_str().unwrap().starts_with("0001") {
            assert!(
                has("container-started", name, st["StartedAt"].as_str().unwrap()),
                "{name}"
            );
        }
        if st["Running"] == false && !st["FinishedAt"].as_str().unwrap().starts_with("0001") {
            assert!(
                has(
                    "container-finished",
                    name,
                    st["FinishedAt"].as_str().unwrap()
                ),
                "{name}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 12);
    for im in s.daemon_json("image-inspect.json").as_array().unwrap() {
        let Some(tag) = im["RepoTags"].as_array().unwrap().iter().find_map(|t| {
            let t = t.as_str().unwrap();
            (!t.starts_with("127.")).then_some(t)
        }) else {
            continue;
        };
        let t = common::unix(im["Created"].as_str().unwrap());
        assert!(
            events
                .iter()
                .any(|e| e["kind"] == "image-created" && e["unix"] == t && e["detail"] == im["Id"]),
            "{tag}"
        );
    }
    // c-logs printed `log line 0..199`, rotated at 1k into 3 files
    let last = events
        .iter()
        .find(|e| e["kind"] == "log-last-line" && e["object"] == "c-logs")
        .unwrap();
    assert_eq!(
        last["detail"],
        "log line 199: the quick brown fox jumps over the lazy dog"
    );
    let first = events
        .iter()
        .find(|e| e["kind"] == "log-first-line" && e["object"] == "c-logs")
        .unwrap();
    assert!(first["source"].as_str().unwrap().ends_with("-json.log.2"));
    // sorted by time
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    // the bodyfile: 11 fields, the event's time as mtime; --files adds the RW layers' files
    let (code, body, _) = run(&s.root, &["timeline", "--files", "--bodyfile"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines.iter().all(|l| l.split('|').count() == 11), "{body}");
    let f = lines.iter().find(|l| l.contains("/committed.txt")).unwrap();
    let fields: Vec<&str> = f.split('|').collect();
    let m = fs::metadata(
        walkdir::WalkDir::new(s.path("overlay2"))
            .into_iter()
            .filter_map(Result::ok)
            .find(|e| {
                e.file_name() == "committed.txt" && e.path().to_str().unwrap().contains("/diff/")
            })
            .unwrap()
            .path(),
    )
    .unwrap();
    assert_eq!(fields[8], m.mtime().to_string());
    assert_eq!(fields[6], "10");
    let (_, csv, _) = run(&s.root, &["timeline", "--csv"]);
    assert_eq!(csv.lines().count(), events.len() + 1);
}

/// The dockerd 28.5 overlay2 capture (`sample-roots/modern`), where it is in the tree:
/// `docker diff`, `docker export` listings and `docker save` blob sizes recorded by the
/// daemon beside it.
#[test]
fn modern_root_diff_export_and_save_agree_with_the_daemon() {
    if !common::repo()
        .join("sample-roots/modern/root.tar.gz")
        .exists()
    {
        return;
    }
    let s = SampleRoot::unpack("modern");
    let daemon = s.daemon.clone().unwrap();
    let mut diffs = 0;
    for (id, lines) in recorded_diffs(&s) {
        let want: BTreeSet<String> = lines.into_iter().collect();
        let (code, out, err) = run(&s.root, &["diff", &id]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            out.lines().map(str::to_owned).collect::<BTreeSet<_>>(),
            want,
            "{id}"
        );
        diffs += 1;
    }
    assert!(diffs > 0);
    // `docker export CONTAINER` (tar -tv listings): the same names
    let tmp = tempfile::tempdir().unwrap();
    let mut exports = 0;
    for f in fs::read_dir(daemon.join("export")).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_stem().unwrap().to_str().unwrap().to_owned();
        let want: BTreeSet<String> = fs::read_to_string(&f)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .map(|n| n.trim_end_matches('/').to_owned())
            .collect();
        let tar = tmp.path().join(format!("{name}.tar"));
        json(&s.root, &["export", &name, "-o", tar.to_str().unwrap()]);
        let list = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
        let got: BTreeSet<String> = String::from_utf8(list.stdout)
            .unwrap()
            .lines()
            .map(|n| n.trim_end_matches('/').to_owned())
            .collect();
        assert_eq!(got, want, "docker export {name}");
        exports += 1;
    }
    assert!(exports > 0);
    // every layer: its tar hashes to its DiffID and has the size of `docker save`'s blob
    let mut saved: BTreeMap<String, u64> = BTreeMap::new();
    for f in fs::read_dir(daemon.join("save")).unwrap() {
        for l in fs::read_to_string(f.unwrap().path()).unwrap().lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if let Some(hex) = w.get(5).and_then(|n| n.strip_prefix("blobs/sha256/")) {
                saved.insert(hex.to_owned(), w[2].parse().unwrap());
            }
        }
    }
    let layerdb = s.path("image/overlay2/layerdb/sha256");
    let mut matched = 0;
    for e in fs::read_dir(&layerdb).unwrap() {
        let chain = e.unwrap().file_name().into_string().unwrap();
        let tar = tmp.path().join("layer.tar");
        let v = json(
            &s.root,
            &["export", &chain, "-o", tar.to_str().unwrap(), "--force"],
        );
        assert_eq!(v["diff_id_matches"], true, "{chain}");
        let hex = v["diff_id"].as_str().unwrap().trim_start_matches("sha256:");
        if let Some(&size) = saved.get(hex) {
            assert_eq!(v["bytes"], size, "{chain}");
            matched += 1;
        }
    }
    assert!(matched > 0);
}

/// The human `ls -R` text a JSON listing stands for: each directory's names under its
/// `PATH:` heading, directories in the listing's (depth-first) order.
fn ls_r_text(v: &Value) -> String {
    let top = v["path"].as_str().unwrap().to_owned();
    let mut dirs = vec![top.clone()];
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::from([(top, Vec::new())]);
    for e in v["entries"].as_array().unwrap() {
        let path = e["path"].as_str().unwrap();
        let (parent, name) = path.rsplit_once('/').unwrap();
        let parent = if parent.is_empty() { "/" } else { parent };
        let mut line = name.to_owned();
        if e["whiteout"] == true {
            line.push_str("  (whiteout)");
        }
        if e["opaque"] == true {
            line.push_str("  (opaque)");
        }
        names.get_mut(parent).unwrap().push(line);
        if e["type"] == "dir" && e["whiteout"] != true {
            dirs.push(path.to_owned());
            names.insert(path.to_owned(), Vec::new());
        }
    }
    let blocks: Vec<String> = dirs
        .iter()
        .map(|d| {
            let mut block = format!("{d}:\n");
            for n in &names[d] {
                block.push_str(n);
                block.push('\n');
            }
            block
        })
        .collect();
    blocks.join("\n")
}

#[test]
fn ls_recursive_text_is_the_json_listing_for_every_view() {
    // The text of `ls -R` merges each directory's layers by sorting all their names
    // at once; `--json` merges them name by name. Both must show the same view, for
    // every image and container (init and RW layers on top of the image's), a
    // container's own layer, and a subdirectory, from the root and from its archive.
    let s = SampleRoot::unpack("full");
    let images = json(&s.root, &["images"]);
    let ps = json(&s.root, &["ps", "-a"]);
    let mut specs: Vec<Vec<String>> = Vec::new();
    for i in images["images"].as_array().unwrap() {
        specs.push(vec![i["id"].as_str().unwrap().to_owned()]);
    }
    for c in ps["containers"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap().to_owned();
        specs.push(vec![name.clone()]);
        specs.push(vec!["--rw".to_owned(), name]);
    }
    specs.push(vec!["app:1:/data".to_owned()]);
    specs.push(vec!["c-sparse:/data".to_owned()]);
    assert!(specs.len() > 20, "{specs:?}");
    let mut whiteouts = 0;
    for spec in &specs {
        for root in [&s.root, &s.archive] {
            let mut args = vec!["ls", "-R"];
            args.extend(spec.iter().map(String::as_str));
            let v = json(root, &args);
            whiteouts += v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["whiteout"] == true)
                .count();
            let (code, out, err) = run(root, &args);
            assert_eq!(code, 0, "{spec:?}: {err}");
            assert_eq!(out, ls_r_text(&v), "{spec:?} on {}", root.display());
        }
    }
    // the containers' own layers hold whiteouts: the views above hide what they name
    assert!(whiteouts > 0);
}
