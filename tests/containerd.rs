//! Docker's containerd image store, on the roots written by dockerd 28.5.2 + containerd
//! 2.1 (`sample-roots/c8d`, `sample-roots/c8d-crashed`: `docker/` and `containerd/` side
//! by side). Every value is compared with the daemon's recorded answers
//! (`sample-roots/<name>/daemon/`), containerd's own listings (`daemon/ctr/`) or GNU du
//! on the unpacked copy.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{assert_problem, dockscope, json, of_kind, run, strs, SampleRoot};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process;

fn c8d() -> SampleRoot {
    SampleRoot::unpack("c8d")
}

fn docker(s: &SampleRoot) -> PathBuf {
    s.root.join("docker")
}

fn by_id(v: &Value, key: &str) -> BTreeMap<String, Value> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| (x[key].as_str().expect("id").to_owned(), x.clone()))
        .collect()
}

fn check_images(root: &Path, s: &SampleRoot) {
    let daemon = s.daemon_json("api-images-all.json");
    let mine = json(root, &["images", "-a"]);
    let mine = by_id(&mine["images"], "id");
    let daemon = by_id(&daemon, "Id");
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        daemon.keys().collect::<Vec<_>>()
    );
    for (id, d) in &daemon {
        let m = &mine[id];
        assert_eq!(m["size"], d["Size"], "{id} size");
        assert_eq!(strs(&m["repo_tags"]), strs(&d["RepoTags"]), "{id} tags");
        assert_eq!(
            strs(&m["repo_digests"]),
            strs(&d["RepoDigests"]),
            "{id} digests"
        );
        let parent = d["ParentId"].as_str().filter(|p| !p.is_empty());
        assert_eq!(m["parent"].as_str(), parent, "{id} parent");
        assert_eq!(
            common::unix(m["created"].as_str().expect("created")),
            d["Created"].as_i64().expect("Created"),
            "{id} created"
        );
    }
}

#[test]
fn images_all_as_the_daemon_lists_them_from_the_dirs_and_the_archive() {
    let s = c8d();
    check_images(&docker(&s), &s);
    check_images(&s.archive, &s);
    // Without -a: the classic builder's intermediates hidden, as /images/json.
    let daemon: BTreeSet<String> = by_id(&s.daemon_json("api-images.json"), "Id")
        .into_keys()
        .collect();
    let mine: BTreeSet<String> = by_id(&json(&docker(&s), &["images"])["images"], "id")
        .into_keys()
        .collect();
    assert_eq!(mine, daemon);
}

#[test]
fn history_as_the_daemon_answers() {
    let s = c8d();
    let dir = s.daemon.as_ref().unwrap().join("api-history");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let id = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let daemon: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mine = json(&docker(&s), &["history", &format!("sha256:{id}")]);
        let (d, m) = (
            daemon.as_array().unwrap(),
            mine["history"].as_array().unwrap(),
        );
        assert_eq!(d.len(), m.len(), "{id}");
        for (d, m) in d.iter().zip(m) {
            let mid = m["id"].as_str().unwrap_or("<missing>");
            assert_eq!(d["Id"].as_str().unwrap(), mid, "{id}");
            assert_eq!(d["Size"], m["size"], "{id}");
            assert_eq!(d["CreatedBy"], m["created_by"], "{id}");
            assert_eq!(strs(&d["Tags"]), strs(&m["tags"]), "{id}");
        }
        n += 1;
    }
    assert_eq!(n, 16);
}

#[test]
fn image_inspect_as_the_daemon_answers() {
    let s = c8d();
    let dir = s.daemon.as_ref().unwrap().join("api-image-inspect");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let id = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let mut daemon: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if let Value::Array(a) = daemon {
            daemon = a[0].clone();
        }
        let out = dockscope()
            .arg("--root")
            .arg(docker(&s))
            .args(["inspect", "--show-env", &format!("sha256:{id}")])
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut mine: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mine = mine[0].as_object_mut().unwrap();
        mine.remove("Dockscope");
        let daemon = daemon.as_object().unwrap();
        let keys: BTreeSet<&String> = daemon.keys().chain(mine.keys()).collect();
        for k in keys {
            assert_eq!(daemon.get(k), mine.get(k), "{id} {k}");
        }
        n += 1;
    }
    assert_eq!(n, 16);
}

#[test]
fn ps_size_is_the_usage_of_the_rw_snapshot() {
    let s = c8d();
    let daemon = by_id(&s.daemon_json("api-containers.json"), "Id");
    let mine = json(&docker(&s), &["ps", "-a", "--size"]);
    let mine = by_id(&mine["containers"], "id");
    assert_eq!(mine.len(), 10);
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        daemon.keys().collect::<Vec<_>>()
    );
    for (id, d) in &daemon {
        assert_eq!(mine[id]["size_rw"], d["SizeRw"], "{id}");
        assert_eq!(mine[id]["size_root_fs"], d["SizeRootFs"], "{id}");
        assert_eq!(mine[id]["image_id"], d["ImageID"], "{id}");
    }
    // SizeRw is `du -sB1` of the RW snapshot's fs/ (GNU du on the same copy).
    let c = json(&docker(&s), &["info"]);
    assert_eq!(c["driver"], "overlayfs");
}

#[test]
fn size_rw_equals_gnu_du_of_the_snapshot_fs() {
    let s = c8d();
    let mine = json(&docker(&s), &["ps", "-a", "--size"]);
    let tree = json(&docker(&s), &["info"]);
    assert_eq!(tree["containerd"]["found_by"], "sibling");
    for c in mine["containers"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        // the snapshot dir of the RW snapshot, from containerd's own listing
        let n = snapshot_dir(&s, "moby", id).expect("RW snapshot dir");
        let fs = s
            .root
            .join("containerd/io.containerd.snapshotter.v1.overlayfs/snapshots")
            .join(n)
            .join("fs");
        assert_eq!(c["size_rw"].as_u64().unwrap(), gnu_du(&[fs]), "{id}");
    }
}

/// `snapshots/<n>` of a key, from containerd's recorded listing (daemon/ctr).
fn snapshot_dir(s: &SampleRoot, ns: &str, key: &str) -> Option<String> {
    let text = s.daemon_text(&format!("ctr/snapshot-dirs-{ns}.tsv"));
    text.lines().find_map(|l| {
        let mut f = l.split('\t');
        let (k, _kind, n) = (f.next()?, f.next()?, f.next()?);
        (k == key).then(|| n.trim().to_owned())
    })
}

fn gnu_du(paths: &[PathBuf]) -> u64 {
    gnu_du_in("B1", paths)
}

#[test]
fn volumes_as_the_daemon_lists_them() {
    let s = c8d();
    let daemon = s.daemon_json("api-volumes.json");
    let daemon = by_id(&daemon["Volumes"], "Name");
    let mine = json(&docker(&s), &["volumes"]);
    let mine = by_id(&mine["volumes"], "name");
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        daemon.keys().collect::<Vec<_>>()
    );
    let df = s.daemon_json("api-system-df.json");
    for v in df["Volumes"].as_array().unwrap() {
        let name = v["Name"].as_str().unwrap();
        assert_eq!(mine[name]["size"], v["UsageData"]["Size"], "{name}");
        assert_eq!(mine[name]["links"], v["UsageData"]["RefCount"], "{name}");
    }
}

#[test]
fn info_names_the_driver_and_every_namespace_with_containerds_counts() {
    let s = c8d();
    let info = json(&docker(&s), &["info"]);
    let api = s.daemon_json("api-info.json");
    assert_eq!(info["driver"], api["Driver"]);
    assert_eq!(
        info["containerd"]["driver_type"].as_str(),
        api["DriverStatus"][0][1].as_str()
    );
    assert_eq!(info["containerd"]["image_records"], api["Images"]);
    assert_eq!(info["counts"]["containers"], api["Containers"]);
    let listed = |what: &str, ns: &str| -> u64 {
        let t = s.daemon_text(&format!("ctr/{what}-{ns}.txt"));
        t.lines().skip(1).filter(|l| !l.trim().is_empty()).count() as u64
    };
    let nss: Vec<String> = s
        .daemon_text("ctr/namespaces.txt")
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    let mine = info["containerd"]["namespaces"].as_array().unwrap();
    assert_eq!(
        mine.iter()
            .map(|n| n["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        nss
    );
    for n in mine {
        let ns = n["name"].as_str().unwrap();
        assert_eq!(n["images"], listed("images", ns), "{ns}");
        assert_eq!(n["blobs"], listed("content", ns), "{ns}");
        assert_eq!(n["snapshots"], listed("snapshots", ns), "{ns}");
        assert_eq!(n["leases"], listed("leases", ns), "{ns}");
        assert_eq!(n["containers"], listed("containers", ns), "{ns}");
    }
}

#[test]
fn tree_shows_blob_snapshot_and_chain_per_layer() {
    let s = c8d();
    let t = json(&docker(&s), &["tree", "bk:1"]);
    let layers = t["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5);
    let inspect = json(&docker(&s), &["inspect", "bk:1"]);
    let diff_ids = &inspect[0]["RootFS"]["Layers"];
    for (i, l) in layers.iter().enumerate() {
        assert_eq!(l["diff_id"], diff_ids[i]);
        let key = l["snapshot_key"].as_str().unwrap();
        assert_eq!(Some(key), l["chain_id"].as_str());
        let n = snapshot_dir(&s, "moby", key).expect("a snapshot dir");
        assert_eq!(
            l["snapshot_dir"].as_str().unwrap(),
            format!("containerd:io.containerd.snapshotter.v1.overlayfs/snapshots/{n}")
        );
        assert_eq!(l["snapshot_kind"], "committed");
        assert!(l["blob_present"].as_bool().unwrap());
        let blob = l["blob"]["digest"].as_str().unwrap();
        let file = s.root.join(format!(
            "containerd/io.containerd.content.v1.content/blobs/sha256/{}",
            blob.trim_start_matches("sha256:")
        ));
        assert_eq!(
            std::fs::metadata(&file).unwrap().len(),
            l["blob"]["size"].as_u64().unwrap()
        );
    }
}

#[test]
fn system_df_as_the_daemon_reports_it() {
    let s = c8d();
    let df = s.daemon_json("api-system-df.json");
    let du = json(&docker(&s), &["du"]);
    let sd = &du["system_df"];
    assert_eq!(sd["layers_size"], df["LayersSize"]);
    let images = by_id(&df["Images"], "Id");
    let mine = by_id(&du["images"], "id");
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        images.keys().collect::<Vec<_>>()
    );
    for (id, d) in &images {
        assert_eq!(mine[id]["size"], d["Size"], "{id}");
        assert_eq!(mine[id]["shared_size"], d["SharedSize"], "{id}");
        assert_eq!(mine[id]["containers"], d["Containers"], "{id}");
    }
    let containers = df["Containers"].as_array().unwrap();
    let rw: u64 = containers
        .iter()
        .map(|c| c["SizeRw"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(sd["containers_size"].as_u64().unwrap(), rw);
    // Per layer: its snapshot dir, as GNU du measures it
    let snaps = s
        .root
        .join("containerd/io.containerd.snapshotter.v1.overlayfs/snapshots");
    let layers = du["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 15);
    for l in layers {
        let n = l["cache_id"].as_str().unwrap();
        assert_eq!(
            l["disk_bytes"].as_u64().unwrap(),
            gnu_du(&[snaps.join(n)]),
            "{n}"
        );
    }
    // Build cache: BuildKit's records, their sizes, what is not shared with images
    let bc = df["BuildCache"].as_array().unwrap();
    assert_eq!(du["build_cache"]["dirs"].as_u64().unwrap(), bc.len() as u64);
    let all: u64 = bc.iter().map(|b| b["Size"].as_u64().unwrap()).sum();
    let unshared: u64 = bc
        .iter()
        .filter(|b| b["Shared"] == false)
        .map(|b| b["Size"].as_u64().unwrap())
        .sum();
    assert_eq!(du["build_cache"]["size_with_layers"].as_u64().unwrap(), all);
    assert_eq!(sd["build_cache_size"].as_u64().unwrap(), unshared);
    // RECLAIMABLE of `docker system df`: the CLI's arithmetic on the same answers
    let used: u64 = images
        .values()
        .filter(|i| i["Containers"].as_i64().unwrap_or(0) > 0)
        .map(|i| i["Size"].as_u64().unwrap() - i["SharedSize"].as_u64().unwrap())
        .sum();
    assert_eq!(
        sd["images_reclaimable"].as_u64().unwrap(),
        df["LayersSize"].as_u64().unwrap() - used
    );
    // Both trees' areas, and the total is GNU du of both.
    let total = du["total"]["disk_bytes"].as_u64().unwrap();
    let both = gnu_du(&[docker(&s), s.root.join("containerd")]);
    assert_eq!(total, both);
    assert!(du["areas"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["name"] == "containerd:io.containerd.snapshotter.v1.overlayfs"));
}

#[test]
fn a_clean_root_has_no_orphans() {
    let s = c8d();
    let (code, out, err) = run(&docker(&s), &["orphans", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{out}");
    assert_eq!(v["cannot_judge"].as_array().unwrap().len(), 0);
    // What Docker frees itself: the nine stopped containers (never a running one).
    let stopped = of_kind(&v, "docker_reclaimable", "stopped-container");
    assert_eq!(stopped.len(), 9);
    let api = s.daemon_json("api-containers.json");
    let running: Vec<&str> = api
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["State"] == "running")
        .map(|c| c["Id"].as_str().unwrap())
        .collect();
    assert_eq!(running.len(), 1);
    for f in &stopped {
        assert!(!f["paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().contains(running[0])));
    }
}

#[test]
fn the_crashed_pull_leaves_exactly_its_leftovers() {
    let s = SampleRoot::unpack("c8d-crashed");
    // the lease that holds them, as containerd lists it after the restart: judged as of
    // its creation (the lease expires 8 hours after the recording)
    let leases = s.daemon_text("ctr/leases-moby.txt");
    let line = leases.lines().find(|l| l.contains("gc.expire")).unwrap();
    let (lease, created) = {
        let mut w = line.split_whitespace();
        (w.next().unwrap(), w.next().unwrap())
    };
    let v = json(&docker(&s), &["orphans", "--as-of", created]);
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{v}");
    let f = &findings[0];
    assert_eq!(f["kind"], "interrupted-pull");
    assert_eq!(f["reclaimable"], false);
    let reason = f["reason"].as_str().unwrap();
    assert!(reason.contains(lease), "{reason}");
    let paths: Vec<String> = strs(&f["paths"]);
    let expected = s.daemon_text("../EXPECTED.md");
    // the ingests and the pull's snapshot dirs, as EXPECTED.md lists them
    let listed = |section: &str| -> Vec<String> {
        expected
            .split("\n## ")
            .find(|s| s.starts_with(section))
            .unwrap_or_else(|| panic!("EXPECTED.md has no section {section}"))
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_owned)
            .collect()
    };
    let ingests = listed("Ingests");
    let snapshots = listed("Snapshot dirs made by the pull");
    assert_eq!((ingests.len(), snapshots.len()), (1, 2), "{expected}");
    for (kind, name) in ingests
        .iter()
        .map(|n| ("ingest", n))
        .chain(snapshots.iter().map(|n| ("snapshot", n)))
    {
        let want = if kind == "ingest" {
            format!("containerd:io.containerd.content.v1.content/ingest/{name}")
        } else {
            format!("containerd:io.containerd.snapshotter.v1.overlayfs/snapshots/{name}")
        };
        assert!(paths.contains(&want), "{want} in {paths:?}");
    }
    // the blobs only the pull's lease keeps: the ones recorded 2 seconds old
    let content = s.daemon_text("ctr/content-moby.txt");
    for l in content.lines().filter(|l| l.contains("demo/big")) {
        let d = l.split_whitespace().next().unwrap();
        let want = format!(
            "containerd:io.containerd.content.v1.content/blobs/sha256/{}",
            d.trim_start_matches("sha256:")
        );
        assert!(paths.contains(&want), "{want}");
    }
    // bytes: GNU du of those paths on the same copy
    let on_disk: Vec<PathBuf> = paths
        .iter()
        .map(|p| {
            s.root
                .join("containerd")
                .join(p.trim_start_matches("containerd:"))
        })
        .collect();
    assert_eq!(f["disk_bytes"].as_u64().unwrap(), gnu_du(&on_disk));

    // Past the lease's expiry the same leftovers are containerd's to collect: the
    // expired lease, and what only it held, each apart, none left for a human.
    let expire = line
        .split("containerd.io/gc.expire=")
        .nth(1)
        .and_then(|r| r.split([',', ' ']).next())
        .unwrap();
    let after = (expire.parse::<jiff::Timestamp>().unwrap() + jiff::SignedDuration::from_secs(1))
        .to_string();
    let v = json(&docker(&s), &["orphans", "--as-of", &after]);
    assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{v}");
    let gc = v["docker_reclaimable"].as_array().unwrap();
    let kinds: Vec<&str> = gc.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"gc-expired-lease"), "{kinds:?}");
    let lease_finding = gc.iter().find(|f| f["kind"] == "gc-expired-lease").unwrap();
    assert!(lease_finding["reason"].as_str().unwrap().contains(lease));
    let collected: Vec<String> = gc
        .iter()
        .filter(|f| f["kind"] != "stopped-container")
        .flat_map(|f| strs(&f["paths"]))
        .collect();
    for p in &paths {
        assert!(collected.contains(p), "{p} in {collected:?}");
    }
}

#[test]
fn without_containerds_root_nothing_is_reclaimable_and_check_exits_2() {
    let s = c8d();
    std::fs::remove_dir_all(s.root.join("containerd")).unwrap();
    let (code, out, err) = run(&docker(&s), &["orphans", "--json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--containerd-root"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(!v["cannot_judge"].as_array().unwrap().is_empty());
    for f in v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["docker_reclaimable"].as_array().unwrap())
    {
        assert_eq!(f["reclaimable"], false, "{f}");
    }
    let (code, _, _) = run(&docker(&s), &["check"]);
    assert_eq!(code, 2);
    // A wrong --containerd-root says so too.
    let (code, _, err) = run(
        &docker(&s),
        &["--containerd-root", "/nonexistent/containerd", "orphans"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("--containerd-root"), "{err}");
}

#[test]
fn a_damaged_meta_db_is_said_and_nothing_is_judged() {
    let s = c8d();
    let db = s
        .root
        .join("containerd/io.containerd.metadata.v1.bolt/meta.db");
    let mut bytes = std::fs::read(&db).unwrap();
    // both meta pages' magic
    bytes[16] ^= 0xff;
    bytes[4096 + 16] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();
    let (code, out, err) = run(&docker(&s), &["orphans", "--json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("meta.db"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);
    assert_eq!(v["docker_reclaimable"].as_array().unwrap().len(), 0);
    let (code, _, _) = run(&docker(&s), &["check"]);
    assert_eq!(code, 2);
}

#[test]
fn an_explicit_containerd_root_and_the_archive_of_both_trees() {
    let s = c8d();
    // --containerd-root names the dir; the same answers as the sibling rule
    let a = json(&docker(&s), &["images", "-a"]);
    let out = dockscope()
        .arg("--root")
        .arg(docker(&s))
        .arg("--containerd-root")
        .arg(s.root.join("containerd"))
        .args(["images", "-a", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let b: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["images"], b["images"]);
    let info = json(&s.archive, &["info"]);
    assert_eq!(info["containerd"]["found_by"], "archive");
    assert_eq!(info["archive_prefix"], "docker");
}

#[test]
fn verify_hashes_blobs_and_layers_and_names_a_flipped_byte() {
    let s = c8d();
    let v = json(&docker(&s), &["verify", "--deep"]);
    assert_eq!(v["ok"], true, "{v}");
    // every layer of the unpacked images: one diff id each, as the snapshot keys say
    let layers = v["checked"]["diff_ids"].as_u64().unwrap();
    let chains = s
        .daemon_text("ctr/snapshots-moby.txt")
        .lines()
        .filter(|l| l.starts_with("sha256:") && l.contains("Committed"))
        .count() as u64;
    assert_eq!(layers, chains);
    // flip one byte of bk:1's top layer blob
    let t = json(&docker(&s), &["tree", "bk:1"]);
    let blob = t["layers"][4]["blob"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let rel = format!(
        "io.containerd.content.v1.content/blobs/sha256/{}",
        blob.trim_start_matches("sha256:")
    );
    let file = s.root.join("containerd").join(&rel);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&file, bytes).unwrap();
    let (code, out, _) = run(&docker(&s), &["verify", "--content", "--json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let f = of_kind(&v, "findings", "content-modified");
    assert_eq!(f.len(), 1, "{out}");
    assert_eq!(f[0]["path"], format!("containerd:{rel}"));
    assert_eq!(f[0]["expected"], blob.as_str());
    // metadata alone does not read contents: still clean
    let (code, _, _) = run(&docker(&s), &["verify"]);
    assert_eq!(code, 0);
}

#[test]
fn the_crashed_root_answers_as_the_restarted_daemon() {
    let s = SampleRoot::unpack("c8d-crashed");
    check_images(&docker(&s), &s);
    let df = s.daemon_json("api-system-df.json");
    let du = json(&docker(&s), &["du"]);
    // LayersSize counts the interrupted unpack's active snapshot, measured like the daemon
    assert_eq!(du["system_df"]["layers_size"], df["LayersSize"]);
    let api = by_id(&s.daemon_json("api-containers.json"), "Id");
    let ps = json(&docker(&s), &["ps", "-a", "--size"]);
    let ps = by_id(&ps["containers"], "id");
    assert_eq!(ps.len(), api.len());
    for (id, d) in &api {
        assert_eq!(ps[id]["size_rw"], d["SizeRw"], "{id}");
        assert_eq!(ps[id]["size_root_fs"], d["SizeRootFs"], "{id}");
    }
}

/// Bytes flipped anywhere in containerd's databases: every command still answers (exit
/// 0 or 2, never a panic), and orphans never calls anything reclaimable from damage.
#[test]
fn flipped_bytes_in_containerds_databases_never_panic() {
    let s = c8d();
    let files = [
        "containerd/io.containerd.metadata.v1.bolt/meta.db",
        "containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db",
        "docker/buildkit/containerd-overlayfs/metadata_v2.db",
    ];
    let originals: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(s.root.join(f)).unwrap())
        .collect();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for round in 0..12 {
        let k = round % files.len();
        let mut bytes = originals[k].clone();
        for _ in 0..8 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // mostly the meta pages and the first data pages
            let span = bytes.len().min(6 * 4096);
            let off = (seed as usize) % span;
            bytes[off] ^= (seed >> 40) as u8 | 1;
        }
        std::fs::write(s.root.join(files[k]), &bytes).unwrap();
        for args in [
            &["images", "-a"][..],
            &["info"][..],
            &["orphans", "--json"][..],
        ] {
            let (code, out, err) = run(&docker(&s), args);
            assert!(
                code == 0 || code == 2,
                "{args:?} round {round}: {code} {err}"
            );
            assert!(!err.contains("panicked"), "{err}");
            if args[0] == "orphans" && code == 0 {
                // meta.db read in full: judged; otherwise nothing reclaimable
                let v: Value = serde_json::from_str(&out).unwrap();
                if !v["cannot_judge"].as_array().unwrap().is_empty() {
                    assert!(v["findings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|f| f["reclaimable"] == false));
                }
            }
        }
        std::fs::write(s.root.join(files[k]), &originals[k]).unwrap();
    }
}

#[test]
fn a_damaged_snapshotter_db_leaves_every_snapshot_dir_undecided() {
    let s = c8d();
    let db = s
        .root
        .join("containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db");
    let mut bytes = std::fs::read(&db).unwrap();
    bytes[16] ^= 0xff;
    bytes[4096 + 16] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();
    let (code, out, err) = run(&docker(&s), &["orphans", "--json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("metadata.db"), "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let findings = v["findings"].as_array().unwrap();
    // every snapshot dir now lacks a record, and none of them is called reclaimable
    let dirs: Vec<&Value> = findings
        .iter()
        .filter(|f| f["kind"] == "snapshot-dir-without-record")
        .collect();
    assert!(!dirs.is_empty());
    for f in findings
        .iter()
        .chain(v["docker_reclaimable"].as_array().unwrap())
    {
        if f["kind"] != "gc-expired-lease" && f["kind"] != "gc-content" {
            assert_eq!(f["reclaimable"], false, "{f}");
        }
    }
    let (code, _, _) = run(&docker(&s), &["check"]);
    assert_eq!(code, 2);
}

#[test]
fn verify_content_names_a_flipped_byte_in_a_snapshot_file() {
    let s = c8d();
    let t = json(&docker(&s), &["tree", "bk:1"]);
    // layer 2: `RUN mkdir -p /bk && echo buildkit > /bk/hello.txt`
    let dir = t["layers"][1]["snapshot_dir"].as_str().unwrap().to_owned();
    let rel = format!("{}/fs/bk/hello.txt", dir.trim_start_matches("containerd:"));
    let file = s.root.join("containerd").join(&rel);
    let before = std::fs::read(&file).unwrap();
    assert_eq!(before, b"buildkit\n");
    let mut bytes = before.clone();
    bytes[0] ^= 0x20; // same size, other content
    std::fs::write(&file, &bytes).unwrap();
    let (code, out, _) = run(&docker(&s), &["verify", "--content", "--json"]);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let f = v["findings"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{out}");
    assert_eq!(f[0]["kind"], "content-modified");
    assert_eq!(f[0]["file"], "bk/hello.txt");
    assert_eq!(f[0]["path"], format!("containerd:{rel}"));
    assert_eq!(f[0]["layer"], t["layers"][1]["chain_id"]);
    // a file removed from the snapshot is content-missing
    std::fs::remove_file(&file).unwrap();
    let v = {
        let (_, out, _) = run(&docker(&s), &["verify", "--content", "--json"]);
        serde_json::from_str::<Value>(&out).unwrap()
    };
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["kind"] == "content-missing" && f["file"] == "bk/hello.txt"));
}

/// `images` keeps no image's history, but it still checks it: a config whose history is
/// not a list of history entries is named by `images` as by `history`.
#[test]
fn a_malformed_history_is_named_by_images_too() {
    let s = c8d();
    let blobs = s
        .root
        .join("containerd/io.containerd.content.v1.content/blobs/sha256");
    let config = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read(p)
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .is_some_and(|v| v["history"].is_array() && v["rootfs"].is_object())
        })
        .expect("an image config");
    let mut v: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    v["history"] = serde_json::json!([1, 2]);
    std::fs::write(&config, serde_json::to_vec(&v).unwrap()).unwrap();
    let want = format!(
        "containerd:io.containerd.content.v1.content/blobs/sha256/{}",
        config.file_name().unwrap().to_str().unwrap()
    );
    for args in [&["images", "-a"][..], &["history", "bk:1"][..]] {
        let (_, out, _) = run(&docker(&s), &[args, &["--json"]].concat());
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_problem(&v, &want, "history is not a list of history entries: ");
    }
}

/// The blob listing trusts the directory's file types (no lstat per blob): a truncated
/// blob is still a size mismatch for `verify`, which reads each size itself, and an
/// entry that is not a regular file is named as such.
#[test]
fn a_truncated_blob_and_a_dir_among_the_blobs_are_named() {
    let s = c8d();
    let t = json(&docker(&s), &["tree", "bk:1"]);
    let blob = t["layers"][4]["blob"]["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let size = t["layers"][4]["blob"]["size"].as_u64().unwrap();
    let blobs = "io.containerd.content.v1.content/blobs/sha256";
    let rel = format!("{blobs}/{}", blob.trim_start_matches("sha256:"));
    let file = s.root.join("containerd").join(&rel);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(bytes.len() as u64, size);
    std::fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
    let stray = format!("{blobs}/{}", "cd".repeat(32));
    std::fs::create_dir(s.root.join("containerd").join(&stray)).unwrap();

    let (code, out, _) = run(&docker(&s), &["verify", "--json"]);
    assert_eq!(code, 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let f = of_kind(&v, "findings", "size-mismatch");
    assert_eq!(f.len(), 1, "{out}");
    assert_eq!(f[0]["path"], format!("containerd:{rel}"));
    assert_eq!(f[0]["expected"], size);
    assert_eq!(f[0]["found"], size - 1);
    let stray = format!("containerd:{stray}");
    assert_problem(&v, &stray, "expected a regular file, found a directory");
    assert!(
        of_kind(&v, "problems", "wrong-type")
            .iter()
            .any(|p| p["path"] == stray.as_str()),
        "{out}"
    );
}

#[test]
fn leftovers_no_gc_sees_are_found_and_printed_under_containerds_root() {
    let s = c8d();
    let c = s.root.join("containerd");
    let snap = c.join("io.containerd.snapshotter.v1.overlayfs/snapshots/999");
    std::fs::create_dir_all(snap.join("fs")).unwrap();
    std::fs::write(snap.join("fs/junk"), vec![7u8; 10000]).unwrap();
    let blob = c.join(format!(
        "io.containerd.content.v1.content/blobs/sha256/{}",
        "ab".repeat(32)
    ));
    std::fs::write(&blob, b"no record names me").unwrap();
    std::fs::create_dir_all(c.join("tmpmounts/containerd-mount42")).unwrap();
    let v = json(&docker(&s), &["orphans"]);
    let kinds: BTreeMap<String, &Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap().to_owned(), f))
        .collect();
    assert_eq!(
        kinds.keys().cloned().collect::<Vec<_>>(),
        [
            "blob-without-record",
            "snapshot-dir-without-record",
            "tmpmounts-leftover"
        ]
    );
    for f in kinds.values() {
        assert_eq!(f["reclaimable"], true);
    }
    let snap_f = kinds["snapshot-dir-without-record"];
    assert_eq!(
        snap_f["disk_bytes"].as_u64().unwrap(),
        gnu_du(std::slice::from_ref(&snap))
    );
    let out = dockscope()
        .arg("--root")
        .arg(docker(&s))
        .args(["orphans", "--print0"])
        .output()
        .unwrap();
    let printed: BTreeSet<PathBuf> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .collect();
    let want: BTreeSet<PathBuf> = [snap, blob, c.join("tmpmounts/containerd-mount42")]
        .into_iter()
        .collect();
    assert_eq!(printed, want);
}

/// GNU du's total (`-sc`) of `paths` in `unit` (`-B1` allocated, `-b` apparent).
fn gnu_du_in(unit: &str, paths: &[PathBuf]) -> u64 {
    let out = process::Command::new("du")
        .arg(format!("-sc{unit}"))
        .args(paths)
        .output()
        .expect("du");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("du total")
}

/// `du` on the archive of both trees counts what the unpacked dirs hold: the same
/// areas, sizes, counts and layers' diff sizes (allocated bytes unknown in an archive).
#[test]
fn du_of_the_archive_of_both_trees_counts_what_the_dirs_hold() {
    let s = c8d();
    let dirs = json(&docker(&s), &["du"]);
    let arch = json(&s.archive, &["du"]);
    assert!(arch["total"]["disk_bytes"].is_null());
    for k in ["size", "files", "dirs", "hardlinks_folded"] {
        assert_eq!(arch["total"][k], dirs["total"][k], "total {k}");
    }
    let areas = |v: &Value| {
        v["areas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let name = a["name"].as_str().unwrap().to_owned();
                (
                    name,
                    (a["size"].clone(), a["files"].clone(), a["dirs"].clone()),
                )
            })
            .collect::<BTreeMap<_, _>>()
    };
    let (a, d) = (areas(&arch), areas(&dirs));
    assert_eq!(a, d);
    assert!(a.contains_key("containerd:io.containerd.snapshotter.v1.overlayfs"));
    let layers = by_id(&dirs["layers"], "chain_id");
    let alayers = by_id(&arch["layers"], "chain_id");
    assert_eq!(layers.len(), 15);
    assert_eq!(
        alayers.keys().collect::<Vec<_>>(),
        layers.keys().collect::<Vec<_>>()
    );
    let snaps = s
        .root
        .join("containerd/io.containerd.snapshotter.v1.overlayfs/snapshots");
    for (id, l) in &layers {
        assert_eq!(alayers[id]["diff_size"], l["diff_size"], "{id}");
        assert!(alayers[id]["disk_bytes"].is_null(), "{id}");
        // the dirs' apparent bytes: GNU du -sb of the snapshot dir
        let n = l["cache_id"].as_str().unwrap();
        assert_eq!(
            l["apparent_bytes"].as_u64().unwrap(),
            gnu_du_in("b", &[snaps.join(n)]),
            "{n}"
        );
    }
}

/// A file hard-linked from one snapshot's `fs/` into another's (planted in the real
/// root): counted once, as GNU du counts both trees, in the snapshot whose name sorts
/// first; the other snapshot's layer counts it as a folded link.
#[test]
fn a_hard_link_between_two_snapshots_counts_once_in_du() {
    let s = c8d();
    let before = json(&docker(&s), &["du"]);
    let snaps = s
        .root
        .join("containerd/io.containerd.snapshotter.v1.overlayfs/snapshots");
    let mut ids: Vec<String> = before["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["cache_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let file = snaps.join(&a).join("fs/planted.bin");
    std::fs::write(&file, vec![7u8; 300_000]).unwrap();
    std::fs::hard_link(&file, snaps.join(&b).join("fs/planted-link.bin")).unwrap();
    let after = json(&docker(&s), &["du"]);
    let both = [docker(&s), s.root.join("containerd")];
    assert_eq!(
        after["total"]["disk_bytes"].as_u64().unwrap(),
        gnu_du_in("B1", &both)
    );
    assert_eq!(
        after["total"]["apparent_bytes"].as_u64().unwrap(),
        gnu_du_in("b", &both)
    );
    assert_eq!(
        after["total"]["hardlinks_folded"].as_u64().unwrap(),
        before["total"]["hardlinks_folded"].as_u64().unwrap() + 1
    );
    let layer = |v: &Value, n: &str| {
        v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["cache_id"] == n)
            .unwrap()
            .clone()
    };
    // The owner: its whole dir, as GNU du measures it alone.
    assert_eq!(
        layer(&after, &a)["disk_bytes"].as_u64().unwrap(),
        gnu_du_in("B1", &[snaps.join(&a)])
    );
    assert_eq!(
        layer(&after, &a)["diff_size"].as_u64().unwrap(),
        layer(&before, &a)["diff_size"].as_u64().unwrap() + 300_000
    );
    // The other: the file is not counted again (GNU du of both dirs, owner first).
    assert_eq!(
        layer(&after, &b)["diff_size"],
        layer(&before, &b)["diff_size"]
    );
    let each = gnu_du_each(&[snaps.join(&a), snaps.join(&b)]);
    assert_eq!(each[0], gnu_du_in("B1", &[snaps.join(&a)]));
    assert_eq!(layer(&after, &b)["disk_bytes"].as_u64().unwrap(), each[1]);
}

/// GNU du's allocated bytes of each of `paths` in turn (an inode counted under the
/// first path that holds it).
fn gnu_du_each(paths: &[PathBuf]) -> Vec<u64> {
    let out = process::Command::new("du")
        .args(["-sB1"])
        .args(paths)
        .output()
        .expect("du");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            l.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .expect("du line")
        })
        .collect()
}
