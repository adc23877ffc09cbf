//! `dockscope volumes` against `docker volume ls`, `GET /volumes` and the volumes of
//! `GET /system/df`; `volumes/metadata.db` read with the bbolt walker.
#![allow(clippy::disallowed_methods)] // breaks metadata.db in a copy on purpose

mod common;
use common::{json, run, SampleRoot};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const CAPTURED: &str = "/tmp/dockscope-capture/full/root";

fn by_name(list: &Value, key: &str) -> BTreeMap<String, Value> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| (v[key].as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

fn check(root: &Path, s: &SampleRoot) {
    let api = by_name(&s.daemon_json("api-volumes.json")["Volumes"], "Name");
    let df = by_name(&s.daemon_json("api-system-df.json")["Volumes"], "Name");
    let ours = json(root, &["volumes"]);
    assert_eq!(ours["problems"], Value::Array(vec![]));
    let ours = by_name(&ours["volumes"], "name");
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        api.keys().collect::<Vec<_>>()
    );
    for (name, a) in &api {
        let o = &ours[name];
        assert_eq!(o["driver"], a["Driver"], "{name}");
        let labels = if a["Labels"].is_null() {
            serde_json::json!({})
        } else {
            a["Labels"].clone()
        };
        assert_eq!(o["labels"], labels, "{name}");
        let mp = a["Mountpoint"].as_str().unwrap();
        assert_eq!(
            format!("{CAPTURED}/{}", o["mountpoint"].as_str().unwrap()),
            mp,
            "{name}"
        );
        assert_eq!(o["size"], df[name]["UsageData"]["Size"], "{name} size");
        assert_eq!(
            o["links"], df[name]["UsageData"]["RefCount"],
            "{name} links"
        );
        assert_eq!(o["in_metadata_db"], true);
    }
    assert_eq!(ours["vol1"]["anonymous"], false);
    assert_eq!(ours["vol1"]["containers"], serde_json::json!(["c-mounts"]));
    let anon = ours.keys().find(|n| n.len() == 64).unwrap();
    assert_eq!(ours[anon]["anonymous"], true);
}

#[test]
fn volumes_agree_with_the_daemon() {
    let s = SampleRoot::unpack("full");
    check(&s.root, &s);
    check(&s.archive, &s);
}

/// `docker volume ls`: the same drivers and names.
#[test]
fn table_matches_docker_volume_ls() {
    let s = SampleRoot::unpack("full");
    let theirs: Vec<(String, String)> = s
        .daemon_text("volumes.txt")
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[1].to_owned(), f[0].to_owned())
        })
        .collect();
    let (code, out, err) = run(&s.root, &["volumes"]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        head,
        [
            "NAME",
            "DRIVER",
            "MOUNTPOINT",
            "SIZE",
            "LINKS",
            "ANONYMOUS",
            "LABELS"
        ]
    );
    let ours: Vec<(String, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_owned(), f[1].to_owned())
        })
        .collect();
    assert_eq!(ours, theirs);
    let vol1: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("vol1 "))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        vol1,
        ["vol1", "local", "volumes/vol1/_data", "8.2kB", "1", "no"]
    );
    assert!(out.contains("8.2kB"), "{out}");
}

#[test]
fn explorer_volumes() {
    let s = SampleRoot::explorer("vols.v2");
    let v = json(&s.root, &["volumes"]);
    assert_eq!(v["problems"], Value::Array(vec![]));
    let vols = by_name(&v["volumes"], "name");
    let names: Vec<&str> = vols.keys().map(|k| &k[..8]).collect();
    assert_eq!(names, ["8858cf2c", "b4445117", "f5479c53"]);
    for (name, vol) in &vols {
        assert_eq!(vol["driver"], "local", "{name}");
        assert_eq!(vol["anonymous"], true, "{name}");
        assert_eq!(vol["links"], 1, "{name}");
        assert_eq!(vol["size"], 0, "{name}");
        assert_eq!(vol["in_metadata_db"], true, "{name}");
    }
    let s = SampleRoot::explorer("overlay2.v2");
    let v = json(&s.root, &["volumes"]);
    assert_eq!(v["volumes"], Value::Array(vec![]));
    assert_eq!(v["problems"], Value::Array(vec![]));
}

/// A broken metadata.db is a problem naming it; the volumes are still listed.
#[test]
fn broken_metadata_db_is_a_problem() {
    let s = SampleRoot::unpack("full");
    let db = s.path("volumes/metadata.db");
    let good = std::fs::read(&db).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"not a bolt file at all".repeat(500)),
        ("truncated", good[..100].to_vec()),
        ("empty", Vec::new()),
        ("zeros", vec![0u8; good.len()]),
    ];
    for (what, bytes) in cases {
        std::fs::write(&db, &bytes).unwrap();
        let v = json(&s.root, &["volumes"]);
        let problems = v["problems"].as_array().unwrap();
        assert!(
            problems
                .iter()
                .any(|p| p["path"] == "volumes/metadata.db" && p["kind"] == "malformed"),
            "{what}: {problems:?}"
        );
        let vols = by_name(&v["volumes"], "name");
        assert_eq!(vols.len(), 2, "{what}");
        assert_eq!(vols["vol1"]["driver"], "local");
        assert_eq!(vols["vol1"]["in_metadata_db"], false);
    }
    // byte changes in the page headers, metas and elements of the real file: an answer,
    // never a crash or a hang
    let offsets = (0..4).flat_map(|page| (0..120).step_by(7).map(move |o| page * 4096 + o));
    for off in offsets {
        let mut b = good.clone();
        b[off] ^= 0x5a;
        std::fs::write(&db, &b).unwrap();
        let (code, _, err) = run(&s.root, &["volumes", "--json"]);
        assert_eq!(code, 0, "byte {off}: {err}");
    }
}

/// `volume ls -q` and `--filter dangling=`: a volume is dangling when no container
/// mounts it (the API's containers' `Mounts`). With the container that used them
/// removed (`docker rm` without `-v` leaves them), they become dangling.
#[test]
fn quiet_and_dangling_filter() {
    let s = SampleRoot::unpack("full");
    let names: Vec<String> = s
        .daemon_text("volumes.txt")
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
        .collect();
    let q = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["volumes", "-q"];
        all.extend(args);
        let (code, out, err) = run(&s.root, &all);
        assert_eq!(code, 0, "{err}");
        out.lines().map(str::to_owned).collect()
    };
    assert_eq!(q(&[]), names);
    let containers = s.daemon_json("api-containers.json");
    let containers = containers.as_array().unwrap();
    let used_by = |c: &Value| -> Vec<String> {
        c["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["Type"] == "volume")
            .map(|m| m["Name"].as_str().unwrap().to_owned())
            .collect()
    };
    let used: Vec<String> = containers.iter().flat_map(used_by).collect();
    let dangling: Vec<String> = names
        .iter()
        .filter(|n| !used.contains(n))
        .cloned()
        .collect();
    assert_eq!(q(&["--filter", "dangling=true"]), dangling);
    let in_use: Vec<String> = names.iter().filter(|n| used.contains(n)).cloned().collect();
    assert_eq!(q(&["--filter", "dangling=false"]), in_use);
    assert_eq!(q(&["--filter", "name=vol"]), ["vol1"]);
    assert_eq!(q(&["--filter", "driver=local"]), names);

    // remove the container that mounts them: its volumes are left, dangling
    let owner = containers.iter().find(|c| !used_by(c).is_empty()).unwrap();
    let id = owner["Id"].as_str().unwrap();
    std::fs::remove_dir_all(s.path(&format!("containers/{id}"))).unwrap();
    let left: Vec<String> = containers
        .iter()
        .filter(|c| c["Id"] != owner["Id"])
        .flat_map(used_by)
        .collect();
    let mut want: Vec<String> = names
        .iter()
        .filter(|n| !left.contains(n))
        .cloned()
        .collect();
    want.sort();
    assert!(!want.is_empty());
    assert_eq!(q(&["--filter", "dangling=true"]), want);

    let (code, _, err) = run(&s.root, &["volumes", "--filter", "dangling=perhaps"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid filter 'dangling"), "{err}");
}
