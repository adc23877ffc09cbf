//! `dockscope verify` at its three levels. Tamper roots are made from the unpacked `full`
//! capture by named functions, each a change a reviewer can read; each test states the
//! exact findings at the level that catches it, and that the levels below it (which
//! cannot see it) stay clean. Clean captures verify clean at every level, and the
//! containers' drift equals what `docker diff` answered when the root was captured.
#![allow(clippy::disallowed_methods)] // the tests break roots on purpose

mod common;
use common::{change_lines, run, SampleRoot};
use dockscope::model::ids::{ChainId, DiffId};
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const IMG: &str = "image/overlay2";
const LEVELS: [&str; 3] = ["metadata", "content", "deep"];

/// Run `verify` at a level (plus extra args) with `--json`: (exit code, report).
fn verify(root: &Path, level: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["verify"];
    match level {
        "content" => args.push("--content"),
        "deep" => args.push("--deep"),
        _ => {}
    }
    args.extend_from_slice(extra);
    args.push("--json");
    let (code, out, err) = run(root, &args);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    assert_eq!(v["level"], level);
    (code, v)
}

/// A finding reduced to what a test states: kind, layer (12 hex or "-"), path.
fn brief(v: &Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["layer"]
                    .as_str()
                    .map_or("-".to_owned(), |l| l[7..19].to_owned()),
                f["path"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn one<'a>(v: &'a Value, kind: &str) -> &'a Value {
    let hits: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect();
    assert_eq!(hits.len(), 1, "{kind}: {v:#}");
    hits[0]
}

fn strs(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// The image id a tag names in repositories.json.
fn image_id(s: &SampleRoot, tag: &str) -> String {
    let refs: Value =
        serde_json::from_slice(&fs::read(s.path(&format!("{IMG}/repositories.json"))).unwrap())
            .unwrap();
    let repo = tag.rsplit_once(':').unwrap().0;
    refs["Repositories"][repo][tag].as_str().unwrap().to_owned()
}

/// An image's chain ids, from its config (independent of dockscope's model).
fn chain_of(s: &SampleRoot, id: &str) -> Vec<ChainId> {
    let cfg: Value = serde_json::from_slice(
        &fs::read(s.path(&format!("{IMG}/imagedb/content/sha256/{}", &id[7..]))).unwrap(),
    )
    .unwrap();
    let diffs: Vec<DiffId> = cfg["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| DiffId::parse(d.as_str().unwrap()).unwrap())
        .collect();
    ChainId::chain(&diffs)
}

/// Every image whose rootfs holds a layer: the ids `images` of its findings must list.
fn holders(s: &SampleRoot, chain: &str) -> BTreeSet<String> {
    let dir = s.path(&format!("{IMG}/imagedb/content/sha256"));
    fs::read_dir(dir)
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|id| chain_of(s, id).iter().any(|c| c.as_str() == chain))
        .collect()
}

/// The k-th layer (base = 0) of a tagged image: (chain id, cache id).
fn layer(s: &SampleRoot, tag: &str, k: usize) -> (String, String) {
    let chain = chain_of(s, &image_id(s, tag))[k].as_str().to_owned();
    let cache =
        fs::read_to_string(s.path(&format!("{IMG}/layerdb/sha256/{}/cache-id", &chain[7..])))
            .unwrap();
    (chain, cache)
}

fn diff_path(cache: &str, file: &str) -> String {
    format!("overlay2/{cache}/diff/{file}")
}

fn short(chain: &str) -> String {
    chain[7..19].to_owned()
}

fn assert_clean(root: &Path, level: &str) -> Value {
    let (code, v) = verify(root, level, &[]);
    assert_eq!(code, 0, "{level}: {v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{level}: {v:#}");
    v
}

// ---------------------------------------------------------------- tampering ----

/// One byte of busybox flipped in place, in base:1's only layer.
fn flip_busybox_byte(s: &SampleRoot) -> (String, String) {
    let (chain, cache) = layer(s, "base:1", 0);
    let p = s.path(&diff_path(&cache, "bin/busybox"));
    let mut bytes = fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    fs::write(&p, bytes).unwrap();
    (chain, diff_path(&cache, "bin/busybox"))
}

/// A file planted in app:1's second layer after it was registered.
fn add_file_to_layer(s: &SampleRoot) -> (String, String) {
    let (chain, cache) = layer(s, "app:1", 1);
    fs::write(s.path(&diff_path(&cache, "data/planted.txt")), "planted\n").unwrap();
    (chain, diff_path(&cache, "data/planted.txt"))
}

/// A file removed from app:1's top layer.
fn delete_file(s: &SampleRoot) -> (String, String) {
    let (chain, cache) = layer(s, "app:1", 5);
    fs::remove_file(s.path(&diff_path(&cache, "srv/files/b.txt"))).unwrap();
    (chain, diff_path(&cache, "srv/files/b.txt"))
}

/// `data/blob` replaced (a new file) by one of the same size and other bytes.
fn replace_same_size(s: &SampleRoot) -> (String, String) {
    let (chain, cache) = layer(s, "app:1", 1);
    let p = s.path(&diff_path(&cache, "data/blob"));
    let len = fs::metadata(&p).unwrap().len();
    fs::remove_file(&p).unwrap();
    fs::write(&p, vec![b'x'; len as usize]).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
    (chain, diff_path(&cache, "data/blob"))
}

/// tool.txt made private (0644 -> 0600).
fn chmod_file(s: &SampleRoot) -> (String, String) {
    let (chain, cache) = layer(s, "127.0.0.1:5000/demo/tool:1", 1);
    let p = s.path(&diff_path(&cache, "usr/local/share/tool.txt"));
    fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
    (chain, diff_path(&cache, "usr/local/share/tool.txt"))
}

/// base2-app:1's top layer's `size` file says one byte more.
fn edit_size_file(s: &SampleRoot) -> (String, u64) {
    let (chain, _) = layer(s, "base2-app:1", 1);
    let p = s.path(&format!("{IMG}/layerdb/sha256/{}/size", &chain[7..]));
    let size: u64 = fs::read_to_string(&p).unwrap().parse().unwrap();
    fs::write(&p, (size + 1).to_string()).unwrap();
    (chain, size)
}

/// app:1's config edited (its id no longer its SHA-256).
fn edit_image_config(s: &SampleRoot) -> String {
    let id = image_id(s, "app:1");
    let p = s.path(&format!("{IMG}/imagedb/content/sha256/{}", &id[7..]));
    let text = fs::read_to_string(&p).unwrap();
    assert!(text.contains("APP_MODE=demo"));
    fs::write(&p, text.replace("APP_MODE=demo", "APP_MODE=evil")).unwrap();
    id
}

/// app:1's third layer's `diff` file names another DiffID.
fn edit_diff_file(s: &SampleRoot) -> (String, String, String) {
    let (chain, _) = layer(s, "app:1", 2);
    let p = s.path(&format!("{IMG}/layerdb/sha256/{}/diff", &chain[7..]));
    let real = fs::read_to_string(&p).unwrap();
    let fake = format!("sha256:{}", "0".repeat(64));
    fs::write(&p, &fake).unwrap();
    (chain, real, fake)
}

// -------------------------------------------------------------------- tests ----

#[test]
fn clean_captures_verify_clean_at_every_level() {
    for name in ["full", "empty", "crashed"] {
        let s = SampleRoot::unpack(name);
        for level in LEVELS {
            let v = assert_clean(&s.root, level);
            assert!(
                v["problems"].as_array().unwrap().is_empty() || name == "crashed",
                "{name} {level}: {v:#}"
            );
        }
    }
    for name in ["overlay2.v2", "vols.v2"] {
        let s = SampleRoot::explorer(name);
        for level in LEVELS {
            let v = assert_clean(&s.root, level);
            if level != "metadata" {
                // The capture was copied by a user, not root: owners are that user's.
                let p = v["problems"].as_array().unwrap();
                assert!(
                    p.iter()
                        .any(|p| p["detail"].as_str().unwrap().contains("not made as root")),
                    "{name}: {v:#}"
                );
            }
        }
    }
}

#[test]
fn deep_rebuilds_every_diff_id_of_the_full_capture() {
    // Whiteouts, an opaque dir, a hard link, symlinks, BuildKit layers, empty layers.
    let s = SampleRoot::unpack("full");
    let (_, v) = verify(&s.root, "deep", &[]);
    assert_eq!(v["checked"]["layers"], 17);
    assert_eq!(v["checked"]["diff_ids"], 17);
    assert_eq!(v["checked"]["images"], 19);
    assert!(v["checked"]["files"].as_u64().unwrap() > 100);
    let busybox = 1_982_256;
    assert!(v["checked"]["bytes"].as_u64().unwrap() > busybox);
}

#[test]
fn drift_is_docker_diff() {
    let s = SampleRoot::unpack("full");
    let (code, v) = verify(&s.root, "content", &[]);
    assert_eq!(code, 0, "drift is not a failure");
    let diffs = s.daemon.as_ref().unwrap().join("diff");
    let mut compared = 0;
    for d in v["drift"].as_array().unwrap() {
        let id = d["container"].as_str().unwrap();
        let Ok(text) = fs::read_to_string(diffs.join(format!("{id}.txt"))) else {
            continue; // a container the daemon was not asked about
        };
        let want: BTreeSet<String> = text
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let got: BTreeSet<String> = change_lines(d).into_iter().collect();
        assert_eq!(got, want, "container {id}");
        compared += 1;
    }
    assert_eq!(compared, fs::read_dir(&diffs).unwrap().count());
    // Not listed at the metadata level.
    let (_, v) = verify(&s.root, "metadata", &[]);
    assert!(v["drift"].as_array().unwrap().is_empty());
}

#[test]
fn flipped_byte_in_a_shared_base_layer() {
    let s = SampleRoot::unpack("full");
    let (chain, path) = flip_busybox_byte(&s);
    assert_clean(&s.root, "metadata"); // same size: the records cannot tell
    let (code, v) = verify(&s.root, "content", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        brief(&v),
        vec![("content-modified".into(), short(&chain), path.clone())]
    );
    let f = one(&v, "content-modified");
    assert_eq!(f["file"], "bin/busybox");
    assert_eq!(f["expected"]["size"], f["found"]["size"]);
    assert_ne!(f["expected"]["crc64"], f["found"]["crc64"]);
    // Every image on base:1 is named: base:1 itself, app, tool, bk, dangle, ...
    let images = strs(&f["images"]);
    assert_eq!(images, holders(&s, &chain));
    assert!(images.len() >= 10, "{images:?}");
    assert!(images.contains(&image_id(&s, "app:1")));
    let (code, v) = verify(&s.root, "deep", &[]);
    assert_eq!(code, 1);
    let diff = format!("{IMG}/layerdb/sha256/{}/diff", &chain[7..]);
    assert_eq!(
        brief(&v),
        vec![
            ("content-modified".into(), short(&chain), path),
            ("diff-id-mismatch".into(), short(&chain), diff),
        ]
    );
    assert_eq!(one(&v, "diff-id-mismatch")["expected"], chain.as_str());
    // The human report names the images.
    let (code, out, _) = run(&s.root, &["verify", "--content"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("IMAGES AFFECTED") && out.contains("app:1"),
        "{out}"
    );
}

#[test]
fn file_added_to_a_layer() {
    let s = SampleRoot::unpack("full");
    let (chain, path) = add_file_to_layer(&s);
    let size = format!("{IMG}/layerdb/sha256/{}/size", &chain[7..]);
    // The size file no longer matches diff/ (8 bytes more).
    let (code, v) = verify(&s.root, "metadata", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        brief(&v),
        vec![("size-mismatch".into(), short(&chain), size.clone())]
    );
    let f = one(&v, "size-mismatch");
    assert_eq!(
        f["found"].as_u64().unwrap(),
        f["expected"].as_u64().unwrap() + 8
    );
    assert_eq!(strs(&f["images"]), holders(&s, &chain));
    for level in ["content", "deep"] {
        // The tar rebuilt from tar-split does not hold the new file: DiffID unchanged.
        let (code, v) = verify(&s.root, level, &[]);
        assert_eq!(code, 1);
        assert_eq!(
            brief(&v),
            vec![
                ("content-added".into(), short(&chain), path.clone()),
                ("size-mismatch".into(), short(&chain), size.clone()),
            ],
            "{level}"
        );
        let f = one(&v, "content-added");
        assert_eq!(f["found"]["type"], "file");
        assert_eq!(f["found"]["size"], 8);
        assert!(f["expected"].is_null());
    }
}

#[test]
fn file_deleted_from_a_layer() {
    let s = SampleRoot::unpack("full");
    let (chain, path) = delete_file(&s);
    let size = format!("{IMG}/layerdb/sha256/{}/size", &chain[7..]);
    let (code, v) = verify(&s.root, "metadata", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        brief(&v),
        vec![("size-mismatch".into(), short(&chain), size.clone())]
    );
    let (_, v) = verify(&s.root, "content", &[]);
    assert_eq!(
        brief(&v),
        vec![
            ("content-missing".into(), short(&chain), path.clone()),
            ("size-mismatch".into(), short(&chain), size.clone()),
        ]
    );
    assert_eq!(one(&v, "content-missing")["expected"], "file");
    let (_, v) = verify(&s.root, "deep", &[]);
    assert_eq!(
        brief(&v),
        vec![
            ("content-missing".into(), short(&chain), path),
            (
                "diff-id-mismatch".into(),
                short(&chain),
                format!("{IMG}/layerdb/sha256/{}/diff", &chain[7..])
            ),
            ("size-mismatch".into(), short(&chain), size),
        ]
    );
}

#[test]
fn file_replaced_by_one_of_equal_size() {
    let s = SampleRoot::unpack("full");
    let (chain, path) = replace_same_size(&s);
    assert_clean(&s.root, "metadata");
    let (code, v) = verify(&s.root, "content", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        brief(&v),
        vec![("content-modified".into(), short(&chain), path.clone())]
    );
    let f = one(&v, "content-modified");
    assert_eq!(f["expected"]["size"], 16384);
    assert_eq!(f["found"]["size"], 16384);
    assert_eq!(strs(&f["images"]), holders(&s, &chain));
    let (_, v) = verify(&s.root, "deep", &[]);
    assert_eq!(
        brief(&v),
        vec![
            ("content-modified".into(), short(&chain), path),
            (
                "diff-id-mismatch".into(),
                short(&chain),
                format!("{IMG}/layerdb/sha256/{}/diff", &chain[7..])
            ),
        ]
    );
}

#[test]
fn mode_changed() {
    let s = SampleRoot::unpack("full");
    let (chain, path) = chmod_file(&s);
    assert_clean(&s.root, "metadata");
    for level in ["content", "deep"] {
        // The tar is rebuilt from the recorded headers: the DiffID cannot see a chmod.
        let (code, v) = verify(&s.root, level, &[]);
        assert_eq!(code, 1);
        assert_eq!(
            brief(&v),
            vec![("mode-changed".into(), short(&chain), path.clone())],
            "{level}"
        );
        let f = one(&v, "mode-changed");
        assert_eq!(
            (f["expected"].as_str(), f["found"].as_str()),
            (Some("0644"), Some("0600"))
        );
    }
}

#[test]
fn size_file_edited() {
    let s = SampleRoot::unpack("full");
    let (chain, size) = edit_size_file(&s);
    let path = format!("{IMG}/layerdb/sha256/{}/size", &chain[7..]);
    for level in LEVELS {
        let (code, v) = verify(&s.root, level, &[]);
        assert_eq!(code, 1);
        assert_eq!(
            brief(&v),
            vec![("size-mismatch".into(), short(&chain), path.clone())],
            "{level}"
        );
        let f = one(&v, "size-mismatch");
        assert_eq!(f["expected"].as_u64(), Some(size + 1));
        assert_eq!(f["found"].as_u64(), Some(size));
    }
}

#[test]
fn image_config_edited() {
    let s = SampleRoot::unpack("full");
    let id = edit_image_config(&s);
    let path = format!("{IMG}/imagedb/content/sha256/{}", &id[7..]);
    for level in LEVELS {
        let (code, v) = verify(&s.root, level, &[]);
        assert_eq!(code, 1);
        assert_eq!(
            brief(&v),
            vec![("image-id-mismatch".into(), "-".into(), path.clone())],
            "{level}"
        );
        let f = one(&v, "image-id-mismatch");
        assert_eq!(f["expected"], id.as_str());
        let bytes = fs::read(s.path(&path)).unwrap();
        assert_eq!(
            f["found"].as_str().unwrap(),
            dockscope::model::ids::sha256_digest(&bytes)
        );
        assert_eq!(strs(&f["images"]), BTreeSet::from([id.clone()]));
    }
    // The image Docker would not load is still found by its tag.
    let (code, v) = verify(&s.root, "metadata", &["app:1"]);
    assert_eq!(code, 1);
    assert_eq!(v["checked"]["images"], 1);
}

#[test]
fn diff_file_edited() {
    let s = SampleRoot::unpack("full");
    let (chain, real, fake) = edit_diff_file(&s);
    let dir = format!("{IMG}/layerdb/sha256/{}", &chain[7..]);
    for level in ["metadata", "content"] {
        let (code, v) = verify(&s.root, level, &[]);
        assert_eq!(code, 1);
        assert_eq!(
            brief(&v),
            vec![("chain-id-mismatch".into(), short(&chain), dir.clone())],
            "{level}"
        );
        assert_eq!(one(&v, "chain-id-mismatch")["expected"], chain.as_str());
    }
    let (_, v) = verify(&s.root, "deep", &[]);
    assert_eq!(
        brief(&v),
        vec![
            ("chain-id-mismatch".into(), short(&chain), dir.clone()),
            (
                "diff-id-mismatch".into(),
                short(&chain),
                format!("{dir}/diff")
            ),
        ]
    );
    // The rebuilt tar still hashes to the real DiffID.
    let f = one(&v, "diff-id-mismatch");
    assert_eq!(
        (f["expected"].as_str(), f["found"].as_str()),
        (Some(fake.as_str()), Some(real.as_str()))
    );
}

#[test]
fn whiteout_and_opaque_markers_are_checked() {
    let s = SampleRoot::unpack("full");
    // app:1's layer 3 deletes data/gone.txt and data/sub/a (0/0 devices); layer 4
    // makes opt/keep opaque (trusted.overlay.opaque=y).
    let (wh_chain, wh_cache) = layer(&s, "app:1", 3);
    fs::remove_file(s.path(&diff_path(&wh_cache, "data/gone.txt"))).unwrap();
    let (op_chain, op_cache) = layer(&s, "app:1", 4);
    let dir = s.path(&diff_path(&op_cache, "opt/keep"));
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import os,sys; os.removexattr(sys.argv[1], 'trusted.overlay.opaque')",
        ])
        .arg(&dir)
        .status()
        .unwrap();
    assert!(status.success());
    assert_clean(&s.root, "metadata"); // whiteouts and xattrs have no size
    let (code, v) = verify(&s.root, "content", &[]);
    assert_eq!(code, 1);
    assert_eq!(
        brief(&v),
        vec![
            (
                "content-missing".into(),
                short(&op_chain),
                diff_path(&op_cache, "opt/keep/.wh..wh..opq")
            ),
            (
                "content-missing".into(),
                short(&wh_chain),
                diff_path(&wh_cache, "data/gone.txt")
            ),
        ]
    );
    let expected: BTreeSet<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["expected"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        expected,
        BTreeSet::from(["whiteout".into(), "opaque".into()])
    );
}

#[test]
fn images_selected_by_name() {
    let s = SampleRoot::unpack("full");
    flip_busybox_byte(&s);
    // base2:1 does not hold base:1's layer: clean.
    let (code, v) = verify(&s.root, "content", &["base2:1"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["checked"]["images"], 1);
    assert_eq!(v["checked"]["layers"], 1);
    let (code, v) = verify(&s.root, "content", &["base:1", "base2:1"]);
    assert_eq!(code, 1);
    assert_eq!(v["checked"]["layers"], 2);
    let (code, _, err) = run(&s.root, &["verify", "nosuch:1"]);
    assert_eq!(code, 2);
    assert!(err.contains("No such image"), "{err}");
}

#[test]
fn archives_verify_metadata_and_say_what_they_cannot() {
    let s = SampleRoot::unpack("full");
    // Layers holding a non-empty regular file (GNU find on the unpacked copy): their
    // contents are what an archive cannot compare.
    let with_contents: BTreeSet<String> = fs::read_dir(s.path(&format!("{IMG}/layerdb/sha256")))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|chain| {
            let cache =
                fs::read_to_string(s.path(&format!("{IMG}/layerdb/sha256/{chain}/cache-id")))
                    .unwrap();
            let out = std::process::Command::new("find")
                .arg(s.path(&format!("overlay2/{cache}/diff")))
                .args(["-type", "f", "-size", "+0c", "-print", "-quit"])
                .output()
                .unwrap();
            !out.stdout.is_empty()
        })
        .collect();
    assert!(!with_contents.is_empty() && with_contents.len() < 17);
    for level in LEVELS {
        let (code, v) = verify(&s.archive, level, &[]);
        let noted = v["problems"].as_array().unwrap().iter().any(|p| {
            p["detail"]
                .as_str()
                .unwrap()
                .contains("layer file contents are not kept")
        });
        assert_eq!(noted, level != "metadata", "{level}: {v:#}");
        assert_eq!(v["checked"]["layers_total"], 17);
        if level == "metadata" {
            assert_eq!(code, 0, "{level}: {v:#}");
            assert_eq!(v["checked"]["layers_fully_checked"], 17);
            continue;
        }
        // Fail closed: what could not be compared is a finding, never "no mismatch".
        assert_eq!(code, 1, "{level}: {v:#}");
        let unchecked: BTreeSet<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                assert_eq!(f["kind"], "not-checked", "{f}");
                assert!(
                    f["found"].to_string().contains("not kept in an archive"),
                    "{f}"
                );
                f["layer"].as_str().unwrap()[7..].to_owned()
            })
            .collect();
        assert_eq!(unchecked, with_contents, "{level}");
        assert_eq!(
            v["checked"]["layers_fully_checked"],
            17 - with_contents.len(),
            "{level}"
        );
    }
    // Types, modes and link targets come from the archive's headers: drift too.
    let (_, v) = verify(&s.archive, "content", &[]);
    assert_eq!(v["checked"]["files"], 116);
    assert_eq!(v["checked"]["containers"], 12);
}

// ------------------------------------------------------------- fail closed ----

/// Every layer: (chain id hex, recorded size, GNU find's measure with symlinks, without
/// symlinks), each inode once.
fn measures(s: &SampleRoot) -> Vec<(String, u64, u64, u64)> {
    let mut out = Vec::new();
    for e in fs::read_dir(s.path(&format!("{IMG}/layerdb/sha256"))).unwrap() {
        let chain = e.unwrap().file_name().to_string_lossy().into_owned();
        let rd = |f: &str| fs::read_to_string(s.path(&format!("{IMG}/layerdb/sha256/{chain}/{f}")));
        let recorded: u64 = rd("size").unwrap().parse().unwrap();
        let cache = rd("cache-id").unwrap();
        let found = std::process::Command::new("find")
            .arg(s.path(&format!("overlay2/{cache}/diff")))
            .args([
                "(",
                "-type",
                "f",
                "-o",
                "-type",
                "l",
                ")",
                "-printf",
                "%i %y %s\\n",
            ])
            .output()
            .unwrap();
        let mut seen = BTreeSet::new();
        let (mut all, mut files) = (0, 0);
        for line in String::from_utf8(found.stdout).unwrap().lines() {
            let mut it = line.split(' ');
            let (ino, kind, size) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
            if seen.insert(ino.to_owned()) {
                let n: u64 = size.parse().unwrap();
                all += n;
                if kind == "f" {
                    files += n;
                }
            }
        }
        out.push((chain, recorded, all, files));
    }
    out.sort();
    out
}

fn layer_status<'a>(v: &'a Value, chain: &str) -> &'a Value {
    v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["chain_id"].as_str().unwrap().ends_with(chain))
        .unwrap_or_else(|| panic!("no layer {chain} in {v:#}"))
}

/// The `size` rule each layer matched, against GNU find on the same copy: the BuildKit
/// layer of the capture records 9 bytes where Docker's measure (symlinks counted) is 18.
#[test]
fn size_rule_follows_the_host() {
    let s = SampleRoot::unpack("full");
    let m = measures(&s);
    let v = assert_clean(&s.root, "metadata");
    assert_eq!(v["checked"]["layers_fully_checked"], 17);
    assert_eq!(v["checked"]["layers_total"], 17);
    let mut naive = 0;
    for (chain, recorded, all, files) in &m {
        let st = layer_status(&v, chain);
        assert_eq!(st["fully_checked"], true);
        if recorded == all {
            assert_eq!(st["size_rule"], "docker", "{chain}");
        } else {
            assert_eq!(recorded, files, "{chain}");
            assert_eq!(st["size_rule"], "naive-diff", "{chain}");
            naive += 1;
        }
    }
    assert!(
        m.iter().any(|(_, r, a, f)| (*r, *a, *f) == (9, 18, 9)),
        "the BuildKit layer: {m:?}"
    );
    assert_eq!(naive, 1);
    // A naive-diff host: every layer with symlinks records its size without them. The
    // root's layers show the rule, so each is accepted under it.
    let symlinked: Vec<&(String, u64, u64, u64)> =
        m.iter().filter(|(_, r, a, f)| a != f && r == a).collect();
    assert!(!symlinked.is_empty());
    for (chain, _, _, files) in &symlinked {
        fs::write(
            s.path(&format!("{IMG}/layerdb/sha256/{chain}/size")),
            files.to_string(),
        )
        .unwrap();
    }
    let v = assert_clean(&s.root, "metadata");
    for (chain, ..) in &symlinked {
        assert_eq!(layer_status(&v, chain)["size_rule"], "naive-diff");
    }
}

/// A naive-diff size on a root where no other layer shows that rule is a mismatch.
#[test]
fn naive_size_alone_is_a_mismatch() {
    let s = SampleRoot::unpack("full");
    let m = measures(&s);
    // Remove the one layer that shows the rule from the evidence: restore Docker's measure.
    let (bk, _, bk_all, _) = m.iter().find(|(_, r, a, _)| r != a).unwrap();
    fs::write(
        s.path(&format!("{IMG}/layerdb/sha256/{bk}/size")),
        bk_all.to_string(),
    )
    .unwrap();
    let v = assert_clean(&s.root, "metadata");
    assert_eq!(layer_status(&v, bk)["size_rule"], "docker");
    let (chain, _, all, files) = m.iter().find(|(_, r, a, f)| a != f && r == a).unwrap();
    fs::write(
        s.path(&format!("{IMG}/layerdb/sha256/{chain}/size")),
        files.to_string(),
    )
    .unwrap();
    let (code, v) = verify(&s.root, "metadata", &[]);
    assert_eq!(code, 1);
    let f = one(&v, "size-mismatch");
    assert_eq!(f["expected"].as_u64(), Some(*files));
    assert_eq!(f["found"].as_u64(), Some(*all));
    assert!(
        f["detail"].as_str().unwrap().contains("no other layer"),
        "{f}"
    );
    assert_eq!(layer_status(&v, chain)["size_rule"], Value::Null);
}

/// What stops a check is a finding of the level asked for, exit 1, never "no mismatch";
/// the summary counts the layers fully checked.
#[test]
fn verify_fails_closed() {
    type Break = fn(&SampleRoot, &str, &str);
    let cases: [(&str, Break, &str, &str); 6] = [
        (
            "garbage tar-split (after a byte of the layer changed)",
            |s, chain, cache| {
                let p = s.path(&diff_path(cache, "bin/busybox"));
                let mut b = fs::read(&p).unwrap();
                let mid = b.len() / 2;
                b[mid] ^= 1;
                fs::write(&p, b).unwrap();
                fs::write(
                    s.path(&format!("{IMG}/layerdb/sha256/{chain}/tar-split.json.gz")),
                    b"garbage",
                )
                .unwrap();
            },
            "content",
            "missing-tar-split",
        ),
        (
            "tar-split deleted",
            |s, chain, _| {
                fs::remove_file(s.path(&format!("{IMG}/layerdb/sha256/{chain}/tar-split.json.gz")))
                    .unwrap();
            },
            "deep",
            "missing-tar-split",
        ),
        (
            "a FIFO in place of the tar-split",
            |s, chain, _| {
                let p = s.path(&format!("{IMG}/layerdb/sha256/{chain}/tar-split.json.gz"));
                fs::remove_file(&p).unwrap();
                assert!(std::process::Command::new("mkfifo")
                    .arg(&p)
                    .status()
                    .unwrap()
                    .success());
            },
            "content",
            "missing-tar-split",
        ),
        (
            "cache-id deleted",
            |s, chain, _| {
                fs::remove_file(s.path(&format!("{IMG}/layerdb/sha256/{chain}/cache-id"))).unwrap();
            },
            "metadata",
            "not-checked",
        ),
        (
            "a FIFO in place of cache-id",
            |s, chain, _| {
                let p = s.path(&format!("{IMG}/layerdb/sha256/{chain}/cache-id"));
                fs::remove_file(&p).unwrap();
                assert!(std::process::Command::new("mkfifo")
                    .arg(&p)
                    .status()
                    .unwrap()
                    .success());
            },
            "content",
            "not-checked",
        ),
        (
            "diff deleted",
            |s, chain, _| {
                fs::remove_file(s.path(&format!("{IMG}/layerdb/sha256/{chain}/diff"))).unwrap();
            },
            "metadata",
            "not-checked",
        ),
    ];
    for (what, break_it, level, kind) in cases {
        let s = SampleRoot::unpack("full");
        let (chain, cache) = layer(&s, "base:1", 0);
        break_it(&s, &chain[7..], &cache);
        let (code, v) = verify(&s.root, level, &[]);
        assert_eq!(code, 1, "{what}: {v:#}");
        assert_eq!(v["ok"], false);
        let f = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind && f["layer"] == chain.as_str())
            .unwrap_or_else(|| panic!("{what}: no {kind} for {chain}: {v:#}"));
        assert!(f["images"].as_array().unwrap().len() > 1, "{what}: {f}");
        assert_eq!(
            layer_status(&v, &chain[7..])["fully_checked"],
            false,
            "{what}"
        );
        let full = v["checked"]["layers_fully_checked"].as_u64().unwrap();
        assert!(full < 17, "{what}");
        assert_eq!(v["checked"]["layers_total"], 17);
        let flag = format!("--{level}");
        let args: Vec<&str> = if level == "metadata" {
            vec!["verify"]
        } else {
            vec!["verify", &flag]
        };
        let (code, text, _) = run(&s.root, &args);
        assert_eq!(code, 1, "{what}");
        assert!(!text.contains("no mismatch"), "{what}: {text}");
        assert!(
            text.contains(&format!("{full} of 17 layers fully checked")),
            "{what}: {text}"
        );
    }
}
