//! `dockscope orphans` and `check` on fault roots made from a real capture: each fault is
//! a named function that breaks a copy the way a crash, a failed rmi or an interrupted
//! pull would, and each test states the exact findings and bytes (measured with GNU du
//! on the same copy).
#![allow(clippy::disallowed_methods)]
// Metric values are whole numbers of bytes and objects: exact comparison is meant.
#![allow(
    clippy::float_cmp,
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation
)]

mod common;
use common::{json, run, SampleRoot};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

const IMG: &str = "image/overlay2";

/// `du -sb`/`du -sB1` of paths (each counted once), in bytes; symlinks not followed.
fn du(root: &Path, flag: &str, rels: &[String]) -> u64 {
    if rels.is_empty() {
        return 0;
    }
    let out = Command::new("du")
        .arg("-sc")
        .arg(flag)
        .args(rels.iter().map(|r| root.join(r)))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn findings<'a>(v: &'a Value, kind: &str) -> Vec<&'a Value> {
    common::of_kind(v, "findings", kind)
}

fn kinds(v: &Value, list: &str) -> Vec<String> {
    let mut k: Vec<String> = v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

fn paths(f: &Value) -> Vec<String> {
    let mut p: Vec<String> = f["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    p.sort();
    p
}

/// The finding's bytes are exactly what du says its paths hold.
fn bytes_match_du(root: &Path, f: &Value) {
    let p = paths(f);
    assert_eq!(
        f["apparent_bytes"].as_u64(),
        Some(du(root, "-b", &p)),
        "{f}"
    );
    assert_eq!(f["disk_bytes"].as_u64(), Some(du(root, "-B1", &p)), "{f}");
}

fn layer_of(s: &SampleRoot, image: &str, k: usize) -> (String, String) {
    let t = json(&s.root, &["tree", image]);
    let l = &t["layers"][k];
    (
        l["chain_id"].as_str().unwrap()[7..].to_owned(),
        l["cache_id"].as_str().unwrap().to_owned(),
    )
}

fn link_of(s: &SampleRoot, cache: &str) -> String {
    fs::read_to_string(s.path(&format!("overlay2/{cache}/link"))).unwrap()
}

/// The capture's baseline: the one finding `full` holds by design (c-orphan's image was
/// removed with rmi -f).
const BASELINE: &str = "container-missing-image";

fn new_findings(v: &Value) -> Vec<String> {
    kinds(v, "findings")
        .into_iter()
        .filter(|k| k != BASELINE)
        .collect()
}

// ---- faults -------------------------------------------------------------------------

/// A crashed pull: a filled overlay2 dir with its link, and nothing that names it.
fn add_orphan_cache_dir(s: &SampleRoot) -> (String, String) {
    let id = "0f".repeat(32);
    let dir = s.path(&format!("overlay2/{id}"));
    fs::create_dir_all(dir.join("diff/usr/lib")).unwrap();
    fs::write(dir.join("diff/usr/lib/partial.so"), vec![7u8; 300_000]).unwrap();
    fs::create_dir(dir.join("work")).unwrap();
    let link = "ORPHANORPHANORPHANORPHAN22";
    fs::write(dir.join("link"), link).unwrap();
    symlink(
        format!("../{id}/diff"),
        s.path(&format!("overlay2/l/{link}")),
    )
    .unwrap();
    (id, link.to_owned())
}

/// `rmi` of `dangle:1` cut short after the image config went: its top layer stays.
fn remove_image_keep_layers(s: &SampleRoot, name: &str) -> String {
    let t = json(&s.root, &["tree", name]);
    let id = t["id"].as_str().unwrap()[7..].to_owned();
    fs::remove_file(s.path(&format!("{IMG}/imagedb/content/sha256/{id}"))).unwrap();
    let _ = fs::remove_dir_all(s.path(&format!("{IMG}/imagedb/metadata/sha256/{id}")));
    let repos = s.path(&format!("{IMG}/repositories.json"));
    let mut v: Value = serde_json::from_slice(&fs::read(&repos).unwrap()).unwrap();
    let (repo, _) = name.split_once(':').unwrap();
    v["Repositories"].as_object_mut().unwrap().remove(repo);
    fs::write(&repos, serde_json::to_vec(&v).unwrap()).unwrap();
    id
}

fn break_cache_dir(s: &SampleRoot, cache: &str) {
    fs::remove_dir_all(s.path(&format!("overlay2/{cache}"))).unwrap();
}

fn add_layerdb_tmp(s: &SampleRoot) -> String {
    let rel = format!("{IMG}/layerdb/tmp/write-set-69349703");
    fs::create_dir_all(s.path(&rel)).unwrap();
    // the 10-byte empty gzip a killed pull leaves
    fs::write(
        s.path(&format!("{rel}/tar-split.json.gz")),
        [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff],
    )
    .unwrap();
    rel
}

fn container_dir(s: &SampleRoot, name: &str) -> String {
    let v = json(&s.root, &["du"]);
    let c = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
        .clone();
    c["id"].as_str().unwrap().to_owned()
}

// ---- tests --------------------------------------------------------------------------

#[test]
fn clean_captures_have_no_orphans() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["orphans"]);
    assert_eq!(kinds(&v, "findings"), [BASELINE]);
    assert_eq!(v["totals"]["reclaimable_apparent_bytes"], 0);
    // What Docker manages itself is reported apart, never as an orphan.
    let docker = kinds(&v, "docker_reclaimable");
    for k in [
        "build-cache",
        "container-only-layer",
        "dangling-image",
        "stopped-container",
    ] {
        assert!(docker.contains(&k.to_owned()), "{k} in {docker:?}");
    }
    // BuildKit's three context copies are build cache, with the bytes dockerd reported.
    let cache: Vec<&Value> = v["docker_reclaimable"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "build-cache")
        .collect();
    assert_eq!(cache.len(), 3);
    for f in &cache {
        bytes_match_du(&s.root, f);
    }
    let stopped = v["docker_reclaimable"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "stopped-container")
        .count();
    assert_eq!(stopped, 10, "12 containers, 2 recorded running or paused");
    let empty = SampleRoot::unpack("empty");
    let e = json(&empty.root, &["orphans"]);
    assert_eq!(e["findings"], Value::Array(vec![]));
    assert_eq!(e["docker_reclaimable"], Value::Array(vec![]));
    for name in ["overlay2.v2", "vols.v2"] {
        let e = SampleRoot::explorer(name);
        let v = json(&e.root, &["orphans"]);
        assert_eq!(v["findings"], Value::Array(vec![]), "{name}");
    }
    // An archive gives the same findings, with unknown disk bytes.
    let a = json(&s.archive, &["orphans"]);
    assert_eq!(kinds(&a, "findings"), [BASELINE]);
    assert_eq!(kinds(&a, "docker_reclaimable"), docker);
    assert_eq!(a["totals"]["reclaimable_disk_bytes"], Value::Null);
}

#[test]
fn orphan_cache_dir_from_a_crashed_pull() {
    let s = SampleRoot::unpack("full");
    let (id, link) = add_orphan_cache_dir(&s);
    let v = json(&s.root, &["orphans"]);
    assert_eq!(new_findings(&v), ["orphan-cache-dir"]);
    let f = findings(&v, "orphan-cache-dir")[0];
    assert_eq!(
        paths(f),
        [format!("overlay2/{id}"), format!("overlay2/l/{link}")]
    );
    assert_eq!(f["reclaimable"], true);
    bytes_match_du(&s.root, f);
    assert!(f["apparent_bytes"].as_u64().unwrap() > 300_000);
    assert_eq!(
        v["totals"]["reclaimable_apparent_bytes"],
        f["apparent_bytes"]
    );
    // --print0 lists exactly its paths for review.
    let out = common::dockscope()
        .arg("--root")
        .arg(&s.root)
        .args(["orphans", "--print0"])
        .output()
        .unwrap();
    let listed: Vec<String> = out
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    assert_eq!(
        listed,
        [
            s.root.join(format!("overlay2/{id}")).display().to_string(),
            s.root
                .join(format!("overlay2/l/{link}"))
                .display()
                .to_string()
        ]
    );
    assert!(
        s.path(&format!("overlay2/{id}")).exists(),
        "nothing is deleted"
    );
}

#[test]
fn unreferenced_layer_after_a_cut_short_rmi() {
    let s = SampleRoot::unpack("full");
    let (chain, cache) = layer_of(&s, "dangle:1", 1);
    let link = link_of(&s, &cache);
    remove_image_keep_layers(&s, "dangle:1");
    let v = json(&s.root, &["orphans"]);
    assert_eq!(new_findings(&v), ["unreferenced-layer"]);
    let f = findings(&v, "unreferenced-layer")[0];
    let mut expected = vec![
        format!("{IMG}/layerdb/sha256/{chain}"),
        format!("overlay2/l/{link}"),
        format!("overlay2/{cache}"),
    ];
    expected.sort();
    assert_eq!(paths(f), expected);
    bytes_match_du(&s.root, f);
}

#[test]
fn missing_cache_dir_and_its_dangling_link() {
    let s = SampleRoot::unpack("full");
    let (chain, cache) = layer_of(&s, "127.0.0.1:5000/demo/tool:1", 1);
    let link = link_of(&s, &cache);
    break_cache_dir(&s, &cache);
    let v = json(&s.root, &["orphans"]);
    assert_eq!(new_findings(&v), ["dangling-l-link", "missing-cache-dir"]);
    let f = findings(&v, "missing-cache-dir")[0];
    assert_eq!(paths(f), [format!("{IMG}/layerdb/sha256/{chain}")]);
    assert_eq!(f["reclaimable"], false, "an image still uses it");
    let l = findings(&v, "dangling-l-link")[0];
    assert_eq!(paths(l), [format!("overlay2/l/{link}")]);
    bytes_match_du(&s.root, l);
}

#[test]
fn missing_parent_makes_ghost_images() {
    let s = SampleRoot::unpack("full");
    let (base, base_cache) = layer_of(&s, "base2:1", 0);
    let base_link = link_of(&s, &base_cache);
    let (child, _) = layer_of(&s, "base2-app:1", 1);
    fs::remove_dir_all(s.path(&format!("{IMG}/layerdb/sha256/{base}"))).unwrap();
    let v = json(&s.root, &["orphans"]);
    let k = new_findings(&v);
    assert!(k.contains(&"missing-parent".to_owned()), "{k:?}");
    assert!(k.contains(&"incomplete-image".to_owned()), "{k:?}");
    assert!(k.contains(&"orphan-cache-dir".to_owned()), "{k:?}");
    let mp = findings(&v, "missing-parent");
    assert_eq!(mp.len(), 1);
    assert!(paths(mp[0]).contains(&format!("{IMG}/layerdb/sha256/{child}")));
    // base2:1, base2-app:1 and base2-app's intermediates are ghosts now.
    let ghosts = findings(&v, "incomplete-image");
    assert!(ghosts.len() >= 2, "{ghosts:?}");
    for g in &ghosts {
        bytes_match_du(&s.root, g);
    }
    let orphan = findings(&v, "orphan-cache-dir");
    let mut expected = vec![
        format!("overlay2/l/{base_link}"),
        format!("overlay2/{base_cache}"),
    ];
    expected.sort();
    assert_eq!(paths(orphan[0]), expected);
    bytes_match_du(&s.root, orphan[0]);
}

#[test]
fn dangling_tag_and_metadata_leftover() {
    let s = SampleRoot::unpack("full");
    let repos = s.path(&format!("{IMG}/repositories.json"));
    let mut v: Value = serde_json::from_slice(&fs::read(&repos).unwrap()).unwrap();
    let ghost = format!("sha256:{}", "ab".repeat(32));
    v["Repositories"]["ghost"] = serde_json::json!({ "ghost:1": ghost });
    fs::write(&repos, serde_json::to_vec(&v).unwrap()).unwrap();
    let meta = format!("{IMG}/imagedb/metadata/sha256/{}", "cd".repeat(32));
    fs::create_dir_all(s.path(&meta)).unwrap();
    fs::write(
        s.path(&format!("{meta}/lastUpdated")),
        "2026-11-24T00:34:22.29850033Z",
    )
    .unwrap();
    let v = json(&s.root, &["orphans"]);
    assert_eq!(
        new_findings(&v),
        ["dangling-tag", "imagedb-metadata-leftover"]
    );
    let t = findings(&v, "dangling-tag")[0];
    assert!(t["reason"].as_str().unwrap().contains("ghost:1"));
    let m = findings(&v, "imagedb-metadata-leftover")[0];
    assert_eq!(paths(m), [meta]);
    bytes_match_du(&s.root, m);
}

#[test]
fn l_links_that_point_nowhere_or_are_missing() {
    let s = SampleRoot::unpack("full");
    symlink("/etc", s.path("overlay2/l/ESCAPEESCAPEESCAPEESCAPE22")).unwrap();
    symlink(
        "../nonexistent/diff",
        s.path("overlay2/l/NOWHERENOWHERENOWHERENOWH"),
    )
    .unwrap();
    let (_, base_cache) = layer_of(&s, "base2:1", 0);
    let base_link = link_of(&s, &base_cache);
    fs::remove_file(s.path(&format!("overlay2/l/{base_link}"))).unwrap();
    let v = json(&s.root, &["orphans"]);
    assert_eq!(
        new_findings(&v),
        [
            "dangling-l-link",
            "dangling-l-link",
            "missing-l-link",
            "unknown-lower-link",
            "unknown-lower-link",
            "unknown-lower-link"
        ]
    );
    let dl: Vec<Vec<String>> = findings(&v, "dangling-l-link")
        .iter()
        .map(|f| paths(f))
        .collect();
    assert!(dl.contains(&vec!["overlay2/l/ESCAPEESCAPEESCAPEESCAPE22".to_owned()]));
    let ml = findings(&v, "missing-l-link")[0];
    assert_eq!(paths(ml), [format!("overlay2/{base_cache}/link")]);
    // every dir stacked on base2 (the layer above it, base2-app's container and its
    // init dir) names the missing link in its lower file
    for f in findings(&v, "unknown-lower-link") {
        assert!(f["reason"].as_str().unwrap().contains(&base_link), "{f}");
    }
}

#[test]
fn interrupted_registration_leaves_a_write_set() {
    let s = SampleRoot::unpack("full");
    let rel = add_layerdb_tmp(&s);
    let v = json(&s.root, &["orphans"]);
    assert_eq!(new_findings(&v), ["layerdb-tmp-leftover"]);
    let f = findings(&v, "layerdb-tmp-leftover")[0];
    assert_eq!(paths(f), [rel]);
    bytes_match_du(&s.root, f);
}

#[test]
fn containers_and_mounts_that_lost_each_other() {
    let s = SampleRoot::unpack("full");
    let exit0 = container_dir(&s, "c-exit0");
    let killed = container_dir(&s, "c-killed");
    let killed_mount =
        fs::read_to_string(s.path(&format!("{IMG}/layerdb/mounts/{killed}/mount-id"))).unwrap();
    fs::remove_dir_all(s.path(&format!("{IMG}/layerdb/mounts/{exit0}"))).unwrap();
    fs::remove_dir_all(s.path(&format!("containers/{killed}"))).unwrap();
    let v = json(&s.root, &["orphans"]);
    assert_eq!(
        new_findings(&v),
        [
            "container-without-mount",
            "mount-without-container",
            "orphan-cache-dir",
            "orphan-cache-dir"
        ]
    );
    let lost = findings(&v, "container-without-mount")[0];
    assert_eq!(paths(lost), [format!("containers/{exit0}")]);
    bytes_match_du(&s.root, lost);
    let stray = findings(&v, "mount-without-container")[0];
    let p = paths(stray);
    assert!(p.contains(&format!("{IMG}/layerdb/mounts/{killed}")));
    assert!(p.contains(&format!("overlay2/{killed_mount}")));
    assert!(p.contains(&format!("overlay2/{killed_mount}-init")));
    bytes_match_du(&s.root, stray);
    // c-exit0's RW and init dirs: no mount names them any more
    for o in findings(&v, "orphan-cache-dir") {
        bytes_match_du(&s.root, o);
    }
    // du measures the same paths from its own walk (no second walk) and must agree.
    let d = json(&s.root, &["du"]);
    assert_eq!(
        d["unowned"]["apparent_bytes"],
        v["totals"]["reclaimable_apparent_bytes"]
    );
    assert_eq!(
        d["unowned"]["disk_bytes"],
        v["totals"]["reclaimable_disk_bytes"]
    );
}

#[test]
fn partial_layer_and_pending_removal() {
    let s = SampleRoot::unpack("full");
    let (chain, _) = layer_of(&s, "committed:1", 6);
    fs::remove_file(s.path(&format!("{IMG}/layerdb/sha256/{chain}/size"))).unwrap();
    let (tool_chain, tool_cache) = layer_of(&s, "127.0.0.1:5000/demo/tool:1", 1);
    let removing = format!(
        "{IMG}/layerdb/sha256/{tool_chain}-{}-removing",
        "9".repeat(64)
    );
    fs::rename(
        s.path(&format!("{IMG}/layerdb/sha256/{tool_chain}")),
        s.path(&removing),
    )
    .unwrap();
    let v = json(&s.root, &["orphans"]);
    let k = new_findings(&v);
    assert!(k.contains(&"partial-layer".to_owned()), "{k:?}");
    let p = findings(&v, "partial-layer")[0];
    assert!(paths(p).contains(&format!("{IMG}/layerdb/sha256/{chain}")));
    bytes_match_du(&s.root, p);
    let pending: Vec<&Value> = v["docker_reclaimable"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "pending-removal")
        .collect();
    assert_eq!(pending.len(), 1);
    let pp = paths(pending[0]);
    assert!(
        pp.contains(&removing) && pp.contains(&format!("overlay2/{tool_cache}")),
        "{pp:?}"
    );
    bytes_match_du(&s.root, pending[0]);
}

#[test]
fn all_faults_at_once_count_each_byte_once() {
    let s = SampleRoot::unpack("full");
    add_orphan_cache_dir(&s);
    add_layerdb_tmp(&s);
    remove_image_keep_layers(&s, "dangle:1");
    let (_, cache) = layer_of(&s, "127.0.0.1:5000/demo/tool:1", 1);
    break_cache_dir(&s, &cache);
    let v = json(&s.root, &["orphans"]);
    let all: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["docker_reclaimable"].as_array().unwrap())
        .flat_map(paths)
        .collect();
    let unique: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "a path in two findings");
    let reclaimable: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["reclaimable"] == true)
        .flat_map(paths)
        .collect();
    assert_eq!(
        v["totals"]["reclaimable_apparent_bytes"].as_u64(),
        Some(du(&s.root, "-b", &reclaimable))
    );
    assert_eq!(
        v["totals"]["reclaimable_disk_bytes"].as_u64(),
        Some(du(&s.root, "-B1", &reclaimable))
    );
    assert_eq!(
        v["totals"]["findings"].as_u64().unwrap() as usize,
        v["findings"].as_array().unwrap().len()
    );
}

#[test]
fn check_exit_codes_and_policy() {
    let e = SampleRoot::unpack("empty");
    assert_eq!(run(&e.root, &["check"]).0, 0);
    let s = SampleRoot::unpack("full");
    // The capture's one broken reference (c-orphan's image was removed with rmi -f)
    // holds no bytes: reported, failing only with --strict.
    let (code, out, _) = run(&s.root, &["check"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("container-missing-image: 1 (0B, passes)"),
        "{out}"
    );
    let (code, out, _) = run(&s.root, &["check", "--strict"]);
    assert_eq!(code, 1);
    assert!(out.contains("FAIL: container-missing-image"), "{out}");
    assert_eq!(
        run(&s.root, &["check", "--strict", "--allow", BASELINE]).0,
        0
    );
    let v = json(&s.root, &["check"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["strict"], false);
    assert_eq!(findings(&v, BASELINE).len(), 1);
    let (id, link) = add_orphan_cache_dir(&s);
    let bytes = du(
        &s.root,
        "-B1",
        &[format!("overlay2/{id}"), format!("overlay2/l/{link}")],
    );
    assert_eq!(run(&s.root, &["check", "--allow", BASELINE]).0, 1);
    let ok = bytes.to_string();
    let short = (bytes - 1).to_string();
    assert_eq!(
        run(
            &s.root,
            &["check", "--allow", BASELINE, "--max-orphan-bytes", &ok]
        )
        .0,
        0
    );
    assert_eq!(
        run(
            &s.root,
            &["check", "--allow", BASELINE, "--max-orphan-bytes", &short]
        )
        .0,
        1
    );
    assert_eq!(
        run(
            &s.root,
            &["check", "--allow", BASELINE, "--allow", "orphan-cache-dir"]
        )
        .0,
        0
    );
    let (code, _, err) = run(&s.root.join("missing"), &["check"]);
    assert_eq!(code, 2, "{err}");
    // A problem that leaves nothing undecided fails the check unless allowed.
    fs::create_dir(s.path(&format!("{IMG}/layerdb/sha256/not-a-chain-id"))).unwrap();
    let (code, out, _) = run(
        &s.root,
        &["check", "--allow", BASELINE, "--allow", "orphan-cache-dir"],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("problem"), "{out}");
    let v = json(
        &s.root,
        &[
            "check",
            "--allow",
            BASELINE,
            "--allow",
            "orphan-cache-dir",
            "--allow",
            "problem",
        ],
    );
    assert_eq!(v["ok"], true);
    // Unreadable records cannot be allowed: the answer is unknown, exit 2.
    fs::write(s.path(&format!("{IMG}/repositories.json")), b"{").unwrap();
    let (code, out, err) = run(
        &s.root,
        &[
            "check",
            "--allow",
            BASELINE,
            "--allow",
            "orphan-cache-dir",
            "--allow",
            "problem",
        ],
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("cannot judge: image/overlay2/repositories.json (dangling-image)"),
        "{out}"
    );
    assert!(err.contains("cannot judge"), "{err}");
}

#[test]
fn check_allow_rejects_unknown_kinds_and_json_with_prometheus() {
    let s = SampleRoot::unpack("empty");
    let (code, out, err) = run(&s.root, &["check", "--allow", "orphan-cach-dir"]);
    assert_eq!(code, 2);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("unknown kind orphan-cach-dir"), "{err}");
    // The known kinds are listed: each one is accepted.
    let known = err.split("known kinds: ").nth(1).unwrap().trim();
    let kinds: Vec<&str> = known.split(", ").collect();
    assert!(kinds.contains(&"orphan-cache-dir") && kinds.contains(&"problem"));
    assert!(kinds.len() > 20, "{kinds:?}");
    let mut args = vec!["check"];
    for k in &kinds {
        args.push("--allow");
        args.push(k);
    }
    assert_eq!(run(&s.root, &args).0, 0);
    let (code, out, err) = run(&s.root, &["check", "--json", "--format", "prometheus"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("--json and --format prometheus"), "{err}");
    assert_eq!(run(&s.root, &["check", "--json", "--format", "json"]).0, 0);
}

#[test]
fn check_prometheus_output_parses() {
    let s = SampleRoot::unpack("full");
    let (id, _) = add_orphan_cache_dir(&s);
    let out = common::dockscope()
        .arg("--root")
        .arg(&s.root)
        .args(["check", "--format", "prometheus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text format");
    let get = |name: &str, label: (&str, &str)| -> f64 {
        scrape
            .samples
            .iter()
            .find(|smp| smp.metric == name && smp.labels.get(label.0) == Some(label.1))
            .map_or_else(
                || panic!("no {name} {label:?} in\n{text}"),
                |smp| match smp.value {
                    prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                    _ => f64::NAN,
                },
            )
    };
    assert_eq!(
        get(
            "dockscope_check_ok",
            ("root", &s.root.display().to_string())
        ),
        0.0
    );
    assert_eq!(get("dockscope_findings", ("kind", "orphan-cache-dir")), 1.0);
    let v = json(&s.root, &["orphans"]);
    let f = findings(&v, "orphan-cache-dir")[0];
    let disk = scrape
        .samples
        .iter()
        .find(|smp| {
            smp.metric == "dockscope_finding_bytes"
                && smp.labels.get("kind") == Some("orphan-cache-dir")
                && smp.labels.get("measure") == Some("disk")
        })
        .unwrap();
    assert!(
        matches!(disk.value, prometheus_parse::Value::Gauge(b) if b as u64 == f["disk_bytes"].as_u64().unwrap())
    );
    assert_eq!(get("dockscope_objects", ("kind", "images")), 19.0);
    assert_eq!(get("dockscope_objects", ("kind", "containers")), 12.0);
    let overlay = get("dockscope_area_bytes", ("area", "overlay2"));
    assert!(overlay > 0.0);
    assert!(text.contains("dockscope_scan_duration_seconds"));
    assert!(id.len() == 64);
}

/// A root where a pull and an rmi were really killed with `kill -9` (sample-roots/make.sh
/// `crashed`; values in sample-roots/crashed/EXPECTED.md).
#[test]
fn real_crashes_leave_what_expected_md_records() {
    let s = SampleRoot::unpack("crashed");
    let v = json(&s.root, &["orphans"]);
    assert_eq!(
        kinds(&v, "findings"),
        ["layerdb-tmp-leftover", "orphan-cache-dir"]
    );
    let orphan = findings(&v, "orphan-cache-dir")[0];
    let dir = "overlay2/e0bad6e4b5a1b156617733c9b1237c2d82eb657f9fded6fd0301fabc76582e13";
    assert!(paths(orphan).contains(&dir.to_owned()));
    assert_eq!(
        du(&s.root, "-b", &[dir.to_owned()]),
        3_947_574,
        "EXPECTED.md's du -sb"
    );
    bytes_match_du(&s.root, orphan);
    let tmp = findings(&v, "layerdb-tmp-leftover")[0];
    assert_eq!(
        paths(tmp),
        [format!("{IMG}/layerdb/tmp/write-set-3787379629")]
    );
    bytes_match_du(&s.root, tmp);
    // The interrupted rmi is Docker's to finish, not an orphan, and holds the 64 MiB layer.
    let pending: Vec<&Value> = v["docker_reclaimable"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "pending-removal")
        .collect();
    assert_eq!(pending.len(), 1);
    let p = paths(pending[0]);
    assert!(
        p.contains(
            &"overlay2/e5949c989eb2dba3dc54cf7504d6783439f2dcec338218c56cf5bdcf855eeccd".to_owned()
        ),
        "{p:?}"
    );
    bytes_match_du(&s.root, pending[0]);
    assert!(pending[0]["apparent_bytes"].as_u64().unwrap() > 67_000_000);
    // The daemon restarted after the crash counted neither leftover.
    let df = s.daemon_json("api-system-df.json");
    let du_report = json(&s.root, &["du", "--df-compat", "20.10"]);
    assert_eq!(du_report["system_df"]["layers_size"], df["LayersSize"]);
    assert_eq!(du_report["unowned"]["findings"], 2);
    assert_eq!(
        du_report["unowned"]["apparent_bytes"],
        v["totals"]["reclaimable_apparent_bytes"]
    );
    assert_eq!(
        du_report["unowned"]["disk_bytes"],
        v["totals"]["reclaimable_disk_bytes"]
    );
    let (code, _, _) = run(&s.root, &["check"]);
    assert_eq!(code, 1);
}

/// A pull killed mid-download leaves its blob in `tmp/` until the daemon restarts (seen
/// for real on the `crashed` capture before its restart: `tmp/GetImageBlob1067701420`).
#[test]
fn partial_download_in_tmp() {
    let s = SampleRoot::unpack("full");
    fs::write(s.path("tmp/GetImageBlob1067701420"), vec![0x1f; 521_940]).unwrap();
    let v = json(&s.root, &["orphans"]);
    assert_eq!(new_findings(&v), ["download-tmp-leftover"]);
    let f = findings(&v, "download-tmp-leftover")[0];
    assert_eq!(paths(f), ["tmp/GetImageBlob1067701420"]);
    assert_eq!(f["apparent_bytes"], 521_940);
    bytes_match_du(&s.root, f);
}

/// An `l/` link whose dir lost its `diff/` points at nothing: `dangling-l-link`.
#[test]
fn l_link_to_a_dir_without_diff_is_dangling() {
    let s = SampleRoot::unpack("full");
    let (_, cache) = layer_of(&s, "base2:1", 0);
    let link = link_of(&s, &cache);
    fs::rename(
        s.path(&format!("overlay2/{cache}/diff")),
        s.dir.path().join("moved-diff"),
    )
    .unwrap();
    let v = json(&s.root, &["orphans"]);
    let f = findings(&v, "dangling-l-link");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(paths(f[0]), [format!("overlay2/l/{link}")]);
    assert!(
        f[0]["reason"].as_str().unwrap().contains("has no diff/"),
        "{}",
        f[0]
    );
    bytes_match_du(&s.root, f[0]);
}

/// c-mounts uses the named volume vol1 (container-inspect.json): with vol1 gone, the
/// reference is reported; it holds no bytes, so `check` passes unless --strict.
#[test]
fn container_referring_to_a_missing_volume() {
    let s = SampleRoot::unpack("full");
    let ctrs = s.daemon_json("container-inspect.json");
    let ctr = ctrs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "/c-mounts")
        .unwrap();
    let mount = ctr["Mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["Name"] == "vol1")
        .unwrap();
    assert_eq!(mount["Type"], "volume");
    let dest = mount["Destination"].as_str().unwrap();
    assert_eq!(
        json(&s.root, &["orphans"])["findings"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    fs::remove_dir_all(s.path("volumes/vol1")).unwrap();
    let v = json(&s.root, &["orphans"]);
    let f = findings(&v, "container-missing-volume");
    assert_eq!(f.len(), 1, "{v:#}");
    assert_eq!(f[0]["reclaimable"], false);
    assert_eq!(f[0]["paths"], serde_json::json!([]));
    let reason = f[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("c-mounts") && reason.contains("vol1") && reason.contains(dest),
        "{reason}"
    );
    // (metadata.db still lists vol1: that is a problem of its own, allowed here.)
    let (code, out, err) = run(&s.root, &["check", "--allow", "problem"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("container-missing-volume: 1 (0B, passes)"),
        "{out}"
    );
    let (code, out, _) = run(&s.root, &["check", "--allow", "problem", "--strict"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("FAIL: container-missing-image, container-missing-volume"),
        "{out}"
    );
}

/// An overlay2 dir whose name is not UTF-8 is an orphan like any other: its bytes (GNU
/// du), its exact name in `raw_paths` and in `--print0`.
#[test]
fn non_utf8_overlay2_dir_is_a_finding_printed_losslessly() {
    use base64::Engine as _;
    use std::os::unix::ffi::OsStrExt;
    let s = SampleRoot::unpack("full");
    let name: &[u8] = b"crashed-\xff\xfe-pull";
    let dir = s.path("overlay2").join(std::ffi::OsStr::from_bytes(name));
    fs::create_dir_all(dir.join("diff")).unwrap();
    fs::write(dir.join("diff/blob"), vec![1u8; 123_456]).unwrap();
    let shown = "overlay2/crashed-\\xff\\xfe-pull";
    for args in [&["orphans", "--json"][..], &["check", "--json"]] {
        let (_, out, err) = run(&s.root, args);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {err}"));
        let f = findings(&v, "orphan-cache-dir");
        assert_eq!(f.len(), 1, "{v:#}");
        assert_eq!(paths(f[0]), [shown]);
        assert_eq!(f[0]["reclaimable"], true);
        let b64 = f[0]["raw_paths"][shown].as_str().unwrap();
        let mut raw = b"overlay2/".to_vec();
        raw.extend_from_slice(name);
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            raw
        );
        // du on the real name.
        let du_out = Command::new("du").args(["-sb"]).arg(&dir).output().unwrap();
        let du_b: u64 = String::from_utf8_lossy(&du_out.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(f[0]["apparent_bytes"].as_u64(), Some(du_b), "{args:?}");
    }
    let out = common::dockscope()
        .arg("--root")
        .arg(&s.root)
        .args(["orphans", "--print0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed: Vec<&[u8]> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(printed, [dir.as_os_str().as_bytes()]);
    assert!(Path::new(std::ffi::OsStr::from_bytes(printed[0])).is_dir());
    let (_, text, _) = run(&s.root, &["orphans"]);
    assert!(text.contains(&format!("path:  {shown}")), "{text}");
}
