//! Bad input, made by breaking a real capture on purpose: each fault gets a problem that
//! names the file, the rest of the root is still reported, and nothing panics or hangs.
#![allow(clippy::disallowed_methods)] // the tests break roots on purpose

mod common;
use common::{json, run, SampleRoot};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

const IMG: &str = "image/overlay2";

/// The image id that `app:1` names in the capture.
fn app_id(s: &SampleRoot) -> String {
    let refs: Value =
        serde_json::from_slice(&fs::read(s.path(&format!("{IMG}/repositories.json"))).unwrap())
            .unwrap();
    refs["Repositories"]["app"]["app:1"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn layer_of(s: &SampleRoot, image: &str, k: usize) -> String {
    let t = json(&s.root, &["tree", image]);
    t["layers"][k]["chain_id"].as_str().unwrap()[7..].to_owned()
}

fn problems(v: &Value) -> Vec<(String, String, String)> {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["path"].as_str().unwrap().to_owned(),
                p["kind"].as_str().unwrap().to_owned(),
                p["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn image_ids(v: &Value) -> Vec<String> {
    v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

fn has_problem(v: &Value, path: &str, kind: &str) {
    let ps = problems(v);
    assert!(
        ps.iter().any(|(p, k, _)| p == path && k == kind),
        "no {kind} problem at {path}: {ps:?}"
    );
}

#[test]
fn truncated_image_config() {
    let s = SampleRoot::unpack("full");
    let before = image_ids(&json(&s.root, &["images", "-a"]));
    let id = app_id(&s);
    let rel = format!("{IMG}/imagedb/content/sha256/{}", &id[7..]);
    let bytes = fs::read(s.path(&rel)).unwrap();
    fs::write(s.path(&rel), &bytes[..bytes.len() / 2]).unwrap();
    let v = json(&s.root, &["images", "-a"]);
    // A truncated config no longer hashes to its name: Docker does not load it.
    has_problem(&v, &rel, "mismatch");
    has_problem(&v, &rel, "malformed");
    let after = image_ids(&v);
    assert_eq!(after.len(), before.len() - 1);
    assert!(!after.contains(&id));
    let (code, _, err) = run(&s.root, &["tree", "app:1"]);
    assert_eq!(code, 2);
    // The image is there but does not load: said so, with the file, not "No such image".
    assert!(
        err.contains("is on disk but Docker would not load it") && err.contains(&rel),
        "{err}"
    );
    // The human report says on stderr what it could not read.
    let (code, _, err) = run(&s.root, &["images"]);
    assert_eq!(code, 0);
    assert!(err.contains(&rel), "{err}");
}

#[test]
fn edited_image_config_is_a_digest_mismatch() {
    let s = SampleRoot::unpack("full");
    let id = app_id(&s);
    let rel = format!("{IMG}/imagedb/content/sha256/{}", &id[7..]);
    let text = fs::read_to_string(s.path(&rel)).unwrap();
    fs::write(s.path(&rel), text.replace("APP_MODE=demo", "APP_MODE=evil")).unwrap();
    let v = json(&s.root, &["images", "-a"]);
    has_problem(&v, &rel, "mismatch");
    assert!(!image_ids(&v).contains(&id));
}

#[test]
fn size_file_with_a_newline_breaks_the_layer_and_its_images() {
    let s = SampleRoot::unpack("full");
    let top = layer_of(&s, "committed:1", 6);
    let rel = format!("{IMG}/layerdb/sha256/{top}/size");
    let size = fs::read_to_string(s.path(&rel)).unwrap();
    fs::write(s.path(&rel), format!("{size}\n")).unwrap();
    let v = json(&s.root, &["images", "-a"]);
    has_problem(&v, &rel, "malformed");
    let ps = problems(&v);
    assert!(
        ps.iter()
            .any(|(_, _, d)| d.contains("expected a decimal byte count")),
        "{ps:?}"
    );
    let (code, _, _) = run(&s.root, &["tree", "committed:1"]);
    assert_eq!(code, 2, "Docker cannot load committed:1 any more");
    let (code, _, _) = run(&s.root, &["tree", "app:1"]);
    assert_eq!(code, 0, "other images are unaffected");
}

#[test]
fn missing_cache_id_and_diff() {
    let s = SampleRoot::unpack("full");
    let top = layer_of(&s, "bk:1", 4);
    let dir = format!("{IMG}/layerdb/sha256/{top}");
    fs::remove_file(s.path(&format!("{dir}/cache-id"))).unwrap();
    fs::write(s.path(&format!("{dir}/diff")), "sha256:nothex").unwrap();
    let v = json(&s.root, &["info"]);
    has_problem(&v, &format!("{dir}/cache-id"), "missing");
    has_problem(&v, &format!("{dir}/diff"), "malformed");
    assert_eq!(v["counts"]["unloadable_images"], 1);
}

#[test]
fn parent_layer_missing() {
    let s = SampleRoot::unpack("full");
    let base = layer_of(&s, "base2:1", 0);
    fs::remove_dir_all(s.path(&format!("{IMG}/layerdb/sha256/{base}"))).unwrap();
    let v = json(&s.root, &["images", "-a"]);
    let child = layer_of(&s, "app:1", 1); // still loads: another base
    assert!(!child.is_empty());
    let ps = problems(&v);
    assert!(
        ps.iter().any(|(p, k, d)| p.ends_with("/parent")
            && k == "broken-reference"
            && d.contains(&base[..12])),
        "{ps:?}"
    );
    assert!(
        ps.iter()
            .any(|(p, k, _)| p.contains("imagedb/content") && k == "broken-reference"),
        "{ps:?}"
    );
    let (code, _, _) = run(&s.root, &["tree", "base2-app:1"]);
    assert_eq!(code, 2);
}

#[test]
fn repositories_json_garbage_and_dangling_tag() {
    let s = SampleRoot::unpack("full");
    let rel = format!("{IMG}/repositories.json");
    fs::write(s.path(&rel), b"{\"Repositories\":{\"app\":{\"app:1\":").unwrap();
    let v = json(&s.root, &["images", "-a"]);
    has_problem(&v, &rel, "malformed");
    assert_eq!(image_ids(&v).len(), 19, "images are still listed, untagged");

    let ghost = format!("sha256:{}", "ab".repeat(32));
    fs::write(
        s.path(&rel),
        format!("{{\"Repositories\":{{\"ghost\":{{\"ghost:1\":\"{ghost}\"}}}}}}"),
    )
    .unwrap();
    let v = json(&s.root, &["images", "-a"]);
    let ps = problems(&v);
    assert!(
        ps.iter()
            .any(|(p, k, d)| p == &rel && k == "broken-reference" && d.contains("ghost:1")),
        "{ps:?}"
    );
}

#[test]
fn symlinks_are_never_followed() {
    let s = SampleRoot::unpack("full");
    // repositories.json replaced by a link to a file outside the root
    let rel = format!("{IMG}/repositories.json");
    fs::remove_file(s.path(&rel)).unwrap();
    symlink("/etc/passwd", s.path(&rel)).unwrap();
    // a whole metadata dir replaced by a link to /etc
    let meta = format!("{IMG}/imagedb/metadata");
    fs::remove_dir_all(s.path(&meta)).unwrap();
    symlink("/etc", s.path(&meta)).unwrap();
    // an l/ link pointing out of the root
    symlink("/etc", s.path("overlay2/l/AAAAAAAAAAAAAAAAAAAAAAAAAA")).unwrap();
    let v = json(&s.root, &["info"]);
    has_problem(&v, &rel, "wrong-type");
    has_problem(&v, &format!("{meta}/sha256"), "wrong-type");
    let text = v.to_string();
    assert!(!text.contains("root:x:0:0"), "read through a symlink");
    assert_eq!(v["counts"]["l_links"], 45);
}

#[test]
fn fifo_where_a_file_belongs_does_not_hang() {
    let s = SampleRoot::unpack("full");
    let top = layer_of(&s, "dangle:1", 1);
    let rel = format!("{IMG}/layerdb/sha256/{top}/cache-id");
    fs::remove_file(s.path(&rel)).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(s.path(&rel))
        .status()
        .unwrap();
    assert!(status.success());
    let v = json(&s.root, &["info"]);
    has_problem(&v, &rel, "wrong-type");
}

#[test]
fn malformed_container_config() {
    let s = SampleRoot::unpack("full");
    let dir = fs::read_dir(s.path("containers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let name = dir.file_name().unwrap().to_str().unwrap().to_owned();
    fs::write(dir.join("config.v2.json"), b"\x00\xffnot json").unwrap();
    let v = json(&s.root, &["info"]);
    has_problem(
        &v,
        &format!("containers/{name}/config.v2.json"),
        "malformed",
    );
    assert_eq!(
        v["counts"]["containers"], 11,
        "the other containers are read"
    );
}

#[test]
fn stray_names_are_reported() {
    let s = SampleRoot::unpack("full");
    fs::create_dir(s.path(&format!("{IMG}/layerdb/sha256/not-a-chain-id"))).unwrap();
    fs::write(
        s.path(&format!("{IMG}/imagedb/content/sha256/README")),
        b"hi",
    )
    .unwrap();
    let v = json(&s.root, &["info"]);
    has_problem(
        &v,
        &format!("{IMG}/layerdb/sha256/not-a-chain-id"),
        "unexpected",
    );
    has_problem(
        &v,
        &format!("{IMG}/imagedb/content/sha256/README"),
        "unexpected",
    );
    assert_eq!(v["counts"]["images"], 19);
}

#[test]
fn roots_that_cannot_be_read_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&dir.path().join("nope"), &["images"]);
    assert_eq!(code, 2);
    assert!(err.contains("no such file or directory"), "{err}");
    let (code, _, err) = run(dir.path(), &["images"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a Docker data root"), "{err}");
    let junk = dir.path().join("junk.tar.gz");
    fs::write(
        &junk,
        b"this is not an archive at all, not even close to one",
    )
    .unwrap();
    let (code, _, err) = run(&junk, &["images"]);
    assert_eq!(code, 2);
    assert!(err.contains("nor a tar archive"), "{err}");
}

#[test]
fn truncated_archive_reports_what_it_could_read() {
    let s = SampleRoot::unpack("full");
    let dir = tempfile::tempdir().unwrap();
    // Decompress, cut the tar in half, recompress: the first half is still a root.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc {} | head -c 3000000 | gzip > {}/cut.tar.gz",
            s.archive.display(),
            dir.path().display()
        ))
        .status()
        .unwrap();
    assert!(out.success());
    let v = json(&dir.path().join("cut.tar.gz"), &["info"]);
    let ps = problems(&v);
    assert!(
        ps.iter()
            .any(|(p, _, d)| p.is_empty() && d.contains("archive unreadable")),
        "{ps:?}"
    );
}

/// Any bytes in any metadata file: never a panic, always a report.
#[test]
fn random_bytes_in_every_metadata_file_never_panic() {
    let s = SampleRoot::unpack("full");
    let mut files = Vec::new();
    for area in [IMG, "containers"] {
        for e in walkdir::WalkDir::new(s.path(area)).into_iter().flatten() {
            if e.file_type().is_file() {
                files.push(e.path().to_owned());
            }
        }
    }
    files.sort();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (n, f) in files.iter().enumerate() {
        let original = fs::read(f).unwrap();
        let len = (next() % 200) as usize;
        let junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let variant = match n % 3 {
            0 => junk,
            1 => original[..original.len().min(len)].to_vec(),
            _ => {
                let mut v = original.clone();
                if !v.is_empty() {
                    let i = (next() as usize) % v.len();
                    v[i] ^= 0x5a;
                }
                v
            }
        };
        fs::write(f, &variant).unwrap();
    }
    let (root, model) = dockscope::load(Path::new(&s.root)).expect("still a root");
    drop(root);
    let mut sink = Vec::new();
    let images = dockscope::report::images::build(&model, true);
    dockscope::report::images::render(&images, &mut sink).unwrap();
    let forest = dockscope::report::tree::build_forest(&model, true);
    dockscope::report::tree::render_forest(&forest, &mut sink).unwrap();
    for i in model.loaded_images() {
        let st = dockscope::report::tree::build_stack(&model, i);
        dockscope::report::tree::render_stack(&st, &mut sink).unwrap();
    }
    assert!(!model.problems.is_empty());
    for p in &model.problems {
        assert!(
            !p.path.starts_with('/'),
            "paths are relative to the root: {p}"
        );
    }
}
