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
    let forest = dockscope::report::tree::build_forest(&model, true, true);
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

/// The running container's RW dir, as the daemon recorded it (`GraphDriver.Data.UpperDir`
/// in container-inspect.json): `overlay2/<id>`.
fn running_rw_dir(s: &SampleRoot) -> String {
    let v = s.daemon_json("container-inspect.json");
    let c = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "/c-running")
        .unwrap();
    let upper = c["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    let id = upper.rsplit('/').nth(1).unwrap();
    format!("overlay2/{id}")
}

fn all_findings(v: &Value) -> Vec<&Value> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["docker_reclaimable"].as_array().unwrap())
        .collect()
}

/// What a broken root must give: exit 2 for `orphans` (JSON, text, --print0) and `check`,
/// one stderr line naming the area, `cannot_judge` naming it with `kinds`, no finding of
/// those kinds reclaimable, the running container's RW dir never reclaimable nor printed
/// by --print0, and reclaimable totals that count only reclaimable findings.
fn assert_cannot_judge(root: &Path, area: &str, kinds: &[&str], rw: &str) -> Value {
    let out = common::dockscope()
        .arg("--root")
        .arg(root)
        .args(["orphans", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "orphans exit code");
    let err = String::from_utf8_lossy(&out.stderr);
    let line: Vec<&str> = err.lines().filter(|l| l.contains("cannot judge")).collect();
    assert_eq!(line.len(), 1, "{err}");
    assert!(line[0].contains(area), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cj = v["cannot_judge"].as_array().unwrap();
    let entry = cj
        .iter()
        .find(|e| e["area"] == area)
        .unwrap_or_else(|| panic!("no cannot_judge entry for {area}: {cj:?}"));
    assert!(!entry["reason"].as_str().unwrap().is_empty());
    let undecided: Vec<&str> = cj
        .iter()
        .flat_map(|e| e["kinds"].as_array().unwrap())
        .map(|k| k.as_str().unwrap())
        .collect();
    for k in kinds {
        assert!(undecided.contains(k), "{k} not in {cj:?}");
    }
    let mut reclaimable_apparent = 0;
    for f in all_findings(&v) {
        let paths = common::strs(&f["paths"]);
        if undecided.contains(&f["kind"].as_str().unwrap()) {
            assert_eq!(f["reclaimable"], false, "{f}");
        }
        if f["reclaimable"] == true {
            assert!(
                !paths
                    .iter()
                    .any(|p| p == rw || p.starts_with(&format!("{rw}/"))),
                "the running container's RW dir is called reclaimable: {f}"
            );
            if v["findings"].as_array().unwrap().contains(f) {
                reclaimable_apparent += f["apparent_bytes"].as_u64().unwrap();
            }
        }
    }
    assert_eq!(
        v["totals"]["reclaimable_apparent_bytes"].as_u64().unwrap(),
        reclaimable_apparent
    );
    let out = common::dockscope()
        .arg("--root")
        .arg(root)
        .args(["orphans", "--print0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    for p in out.stdout.split(|&b| b == 0) {
        let p = String::from_utf8_lossy(p);
        assert!(!p.contains(rw), "--print0 printed the running RW dir");
    }
    let (code, text, _) = run(root, &["orphans"]);
    assert_eq!(code, 2);
    assert!(text.contains(&format!("cannot judge: {area}")), "{text}");
    let (code, text, err) = run(root, &["check"]);
    assert_eq!(code, 2, "check: {text}{err}");
    assert!(text.contains(&format!("cannot judge: {area}")), "{text}");
    let out = common::dockscope()
        .arg("--root")
        .arg(root)
        .args(["check", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["cannot_judge"], v["cannot_judge"]);
    assert_eq!(c["ok"], false);
    v
}

/// Paths of the findings that hold the dir, whatever their verdict.
fn holders<'a>(v: &'a Value, rel: &str) -> Vec<&'a Value> {
    all_findings(v)
        .into_iter()
        .filter(|f| common::strs(&f["paths"]).iter().any(|p| p == rel))
        .collect()
}

#[test]
fn intact_capture_judges_everything() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    assert!(s.path(&rw).join("diff").is_dir(), "{rw}");
    let (code, _, err) = run(&s.root, &["orphans"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&s.root, &["orphans"]);
    assert_eq!(v["cannot_judge"], serde_json::json!([]));
    assert!(holders(&v, &rw).is_empty(), "a running container's RW dir");
}

#[test]
fn image_dir_removed_cannot_judge() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    fs::remove_dir_all(s.path("image")).unwrap();
    let v = assert_cannot_judge(
        &s.root,
        "image/overlay2/layerdb",
        &["orphan-cache-dir", "container-without-mount", "build-cache"],
        &rw,
    );
    // The RW dir is listed (nothing names it any more), but not as reclaimable.
    let h = holders(&v, &rw);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["kind"], "orphan-cache-dir");
    assert!(v["cannot_judge"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["area"] == "image/overlay2/imagedb"));
    assert_eq!(v["totals"]["reclaimable_apparent_bytes"], 0);
}

#[test]
fn layerdb_replaced_by_a_fifo_cannot_judge() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    let layerdb = s.path(&format!("{IMG}/layerdb"));
    fs::remove_dir_all(&layerdb).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&layerdb)
        .status()
        .unwrap()
        .success());
    let v = assert_cannot_judge(
        &s.root,
        "image/overlay2/layerdb",
        &["orphan-cache-dir", "incomplete-image", "unreferenced-layer"],
        &rw,
    );
    assert!(v["cannot_judge"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("FIFO"));
    assert_eq!(holders(&v, &rw)[0]["reclaimable"], false);
}

#[test]
fn layerdb_mounts_replaced_by_a_symlink_cannot_judge() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    let mounts = s.path(&format!("{IMG}/layerdb/mounts"));
    fs::rename(&mounts, s.dir.path().join("mounts-elsewhere")).unwrap();
    symlink(s.dir.path().join("mounts-elsewhere"), &mounts).unwrap();
    let v = assert_cannot_judge(
        &s.root,
        "image/overlay2/layerdb",
        &["orphan-cache-dir", "container-without-mount"],
        &rw,
    );
    assert_eq!(holders(&v, &rw)[0]["kind"], "orphan-cache-dir");
}

#[test]
fn repositories_json_deleted_cannot_judge_dangling_images() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    fs::remove_file(s.path(&format!("{IMG}/repositories.json"))).unwrap();
    let v = assert_cannot_judge(
        &s.root,
        "image/overlay2/repositories.json",
        &["dangling-image"],
        &rw,
    );
    // Every image now looks untagged; none of them is called prunable.
    let dangling: Vec<&Value> = all_findings(&v)
        .into_iter()
        .filter(|f| f["kind"] == "dangling-image")
        .collect();
    assert!(dangling.len() > 1, "{dangling:?}");
    assert!(dangling.iter().all(|f| f["reclaimable"] == false));
    // What does not rest on tags is still judged: stopped containers.
    assert!(all_findings(&v)
        .iter()
        .any(|f| f["kind"] == "stopped-container" && f["reclaimable"] == true));
}

#[test]
fn containers_garbled_cannot_judge() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    for e in fs::read_dir(s.path("containers")).unwrap() {
        fs::write(e.unwrap().path().join("config.v2.json"), b"\x00garbage{").unwrap();
    }
    let v = assert_cannot_judge(
        &s.root,
        "containers",
        &["mount-without-container", "unreferenced-layer"],
        &rw,
    );
    let h = holders(&v, &rw);
    assert_eq!(h[0]["kind"], "mount-without-container");
    assert_eq!(h[0]["reclaimable"], false);
}

#[test]
fn one_running_container_config_garbled_keeps_its_rw_dir() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    let v = s.daemon_json("container-inspect.json");
    let id = v
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "/c-running")
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cfg = s.path(&format!("containers/{id}/config.v2.json"));
    let text = fs::read_to_string(&cfg).unwrap();
    fs::write(&cfg, &text[..text.len() / 2]).unwrap();
    let v = assert_cannot_judge(&s.root, "containers", &["mount-without-container"], &rw);
    assert_eq!(holders(&v, &rw)[0]["kind"], "mount-without-container");
}

#[test]
fn truncated_archive_cannot_judge() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.tar.gz");
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "gzip -dc {} | head -c 3000000 | gzip > {}",
            s.archive.display(),
            cut.display()
        ))
        .status()
        .unwrap();
    assert!(ok.success());
    let v = assert_cannot_judge(
        &cut,
        "overlay2",
        &["orphan-cache-dir", "dangling-l-link"],
        &rw,
    );
    assert!(v["cannot_judge"]
        .as_array()
        .unwrap()
        .iter()
        .all(
            |e| e["reason"].as_str().unwrap().contains("archive unreadable")
                || e["reason"].as_str().unwrap().contains("does not exist")
        ));
    assert!(all_findings(&v).iter().all(|f| f["reclaimable"] == false));
    // The whole archive reads: the same command judges it.
    let (code, _, err) = run(&s.archive, &["orphans"]);
    assert_eq!(code, 0, "{err}");
}

/// `docker image prune` skips a dangling image a container was created from.
#[test]
fn dangling_image_used_by_a_container_is_not_prunable() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["orphans"]);
    let dangling: Vec<&Value> = all_findings(&v)
        .into_iter()
        .filter(|f| f["kind"] == "dangling-image")
        .collect();
    assert_eq!(dangling.len(), 1);
    let images = json(&s.root, &["images", "-a"]);
    let id = images["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["dangling"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A stopped container now says it was created from the dangling image.
    let ctrs = s.daemon_json("container-inspect.json");
    let c = ctrs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "/c-exit0")
        .unwrap();
    let cfg = s.path(&format!(
        "containers/{}/config.v2.json",
        c["Id"].as_str().unwrap()
    ));
    let text = fs::read_to_string(&cfg).unwrap();
    let old = c["Image"].as_str().unwrap();
    assert!(text.contains(old));
    fs::write(&cfg, text.replace(old, &id)).unwrap();
    let v = json(&s.root, &["orphans"]);
    assert!(
        !all_findings(&v)
            .iter()
            .any(|f| f["kind"] == "dangling-image"),
        "{v}"
    );
    // `images` still calls it dangling, as `docker images -f dangling=true` does.
    let images = json(&s.root, &["images", "-a"]);
    assert!(images["images"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == id.as_str() && i["dangling"] == true));
}

/// A layer whose `cache-id` is gone: its dir looks unnamed, but the record that names it
/// could not be read, so no unnamed dir is called reclaimable.
#[test]
fn missing_cache_id_leaves_unnamed_dirs_undecided() {
    let s = SampleRoot::unpack("full");
    let rw = running_rw_dir(&s);
    let top = layer_of(&s, "app:1", 1);
    let rel = format!("{IMG}/layerdb/sha256/{top}/cache-id");
    let cache = fs::read_to_string(s.path(&rel)).unwrap();
    fs::remove_file(s.path(&rel)).unwrap();
    let v = assert_cannot_judge(&s.root, &rel, &["orphan-cache-dir", "build-cache"], &rw);
    let h = holders(&v, &format!("overlay2/{cache}"));
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["kind"], "orphan-cache-dir");
    assert_eq!(h[0]["reclaimable"], false);
    // The partial layer itself is still judged: nothing else names a layerdb entry.
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "partial-layer" && f["reclaimable"] == true));
}
