//! `dockscope info` against `docker info`, and the same answers from an archive.
#![allow(clippy::disallowed_methods)]

mod common;
use common::{json, run, SampleRoot};
use serde_json::Value;

#[test]
fn counts_agree_with_docker_info() {
    let s = SampleRoot::unpack("full");
    let info = s.daemon_json("info.json");
    for root in [&s.root, &s.archive] {
        let v = json(root, &["info"]);
        let c = &v["counts"];
        assert_eq!(v["driver"], info["Driver"]);
        assert_eq!(c["images"], info["Images"]);
        assert_eq!(c["containers"], info["Containers"]);
        // A paused container is still recorded Running (docker counts it apart).
        let running = info["ContainersRunning"].as_u64().unwrap()
            + info["ContainersPaused"].as_u64().unwrap();
        assert_eq!(c["running"].as_u64(), Some(running));
        let api_volumes = s.daemon_json("api-volumes.json");
        assert_eq!(
            c["volumes"].as_u64(),
            Some(api_volumes["Volumes"].as_array().unwrap().len() as u64)
        );
        let listed = s.daemon_json("api-images.json").as_array().unwrap().len() as u64;
        assert_eq!(
            c["tagged"].as_u64().unwrap() + c["dangling"].as_u64().unwrap(),
            listed
        );
        assert_eq!(v["problems"], Value::Array(vec![]));
        // overlay2: one dir per layer + two per container + BuildKit's; one l/ link each.
        assert_eq!(c["overlay2_dirs"], c["l_links"]);
        assert_eq!(c["init_dirs"], info["Containers"]);
    }
}

#[test]
fn archive_and_directory_give_the_same_reports() {
    let s = SampleRoot::unpack("full");
    for args in [
        &["images", "-a"][..],
        &["tree"][..],
        &["tree", "app:1"][..],
        &["tree", "-a"][..],
    ] {
        assert_eq!(json(&s.root, args), json(&s.archive, args), "{args:?}");
    }
    let mut dir = json(&s.root, &["info"]);
    let mut arc = json(&s.archive, &["info"]);
    assert_eq!(arc["archive"], true);
    assert_eq!(dir["archive"], false);
    for v in [&mut dir, &mut arc] {
        let o = v.as_object_mut().unwrap();
        o.remove("root");
        o.remove("archive");
        o.remove("archive_prefix");
        o.remove("sandbox"); // names the root as given
    }
    assert_eq!(dir, arc);
}

#[test]
fn human_info_names_root_and_counts() {
    let s = SampleRoot::unpack("full");
    let (code, out, err) = run(&s.root, &["info"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Storage driver:  overlay2"), "{out}");
    assert!(
        out.contains("images                19     8 tagged, 1 dangling, 10 intermediate"),
        "{out}"
    );
    assert!(err.is_empty(), "no problems on a clean root: {err}");
}

/// `.tar` and `.tar.zst` archives of the same capture give the same reports as `.tar.gz`.
#[test]
fn plain_and_zstd_archives_read_in_place() {
    #![allow(clippy::disallowed_methods)] // writes the test's own archives
    let s = SampleRoot::unpack("full");
    let dir = tempfile::tempdir().unwrap();
    let gz = std::fs::read(&s.archive).unwrap();
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut tar).unwrap();
    let plain = dir.path().join("root.tar");
    std::fs::write(&plain, &tar).unwrap();
    let zst = dir.path().join("root.tar.zst");
    let packed =
        ruzstd::encoding::compress_to_vec(&tar[..], ruzstd::encoding::CompressionLevel::Fastest);
    std::fs::write(&zst, packed).unwrap();
    let want = json(&s.archive, &["images", "-a"]);
    assert_eq!(json(&plain, &["images", "-a"]), want);
    assert_eq!(json(&zst, &["images", "-a"]), want);
    assert_eq!(
        json(&zst, &["tree", "app:1"]),
        json(&s.root, &["tree", "app:1"])
    );
}

/// The `docker info` answers the files hold, against what the daemon said, on every
/// sample root, from the directory and from the archive.
#[test]
fn docker_info_where_the_files_tell() {
    // modern: a root written by dockerd 28.5.
    for name in ["full", "crashed", "empty", "modern"] {
        let s = SampleRoot::unpack(name);
        let info = s.daemon_json("info.json");
        for root in [&s.root, &s.archive] {
            let v = json(root, &["info"]);
            let d = &v["docker"];
            for (ours, theirs) in [
                ("containers", "Containers"),
                ("containers_running", "ContainersRunning"),
                ("containers_paused", "ContainersPaused"),
                ("containers_stopped", "ContainersStopped"),
                ("images", "Images"),
                ("driver", "Driver"),
            ] {
                assert_eq!(d[ours], info[theirs], "{name} {ours}");
            }
            // Every DriverStatus pair we give is the daemon's.
            let theirs: Vec<Value> = info["DriverStatus"].as_array().unwrap().clone();
            for pair in d["driver_status"].as_array().unwrap() {
                assert!(theirs.contains(pair), "{name}: {pair} not in {theirs:?}");
            }
            let has_containers = info["Containers"].as_u64().unwrap() > 0;
            if has_containers {
                assert_eq!(d["docker_root_dir"], info["DockerRootDir"], "{name}");
                assert!(d["docker_root_dir_from"]
                    .as_str()
                    .unwrap()
                    .contains("config.v2.json"));
                assert_eq!(d["logging_driver"], info["LoggingDriver"], "{name}");
            } else {
                assert!(d["docker_root_dir"].is_null(), "{name}: nothing records it");
            }
            if info["Images"].as_u64().unwrap() > 0 {
                assert_eq!(d["server_version"], info["ServerVersion"], "{name}");
            } else {
                assert!(d["server_version"].is_null());
            }
        }
        // The human form says the same.
        let (code, out, _) = run(&s.root, &["info"]);
        assert_eq!(code, 0);
        assert!(
            out.contains(&format!("  Paused: {}", info["ContainersPaused"])),
            "{out}"
        );
        if info["Images"].as_u64().unwrap() > 0 {
            assert!(out.contains(&format!(
                " Server Version: {}",
                info["ServerVersion"].as_str().unwrap()
            )));
        }
    }
    // The full root's layers hold symlinks and opaque dirs: both pairs are answered
    // (on a directory; an archive keeps xattrs and symlink lengths too).
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["info"]);
    let keys: Vec<&str> = v["docker"]["driver_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["Native Overlay Diff", "userxattr"]);
}

/// A layer whose recorded size leaves symlinks out is a naive-diff host's (the
/// daemon's NaiveDiffDriver counts tar entry sizes, 0 for a symlink).
#[test]
fn naive_diff_is_told_by_a_layer_size_without_symlinks() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["info"]);
    let from = v["docker"]["driver_status_from"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(from.contains("symlinks counted"), "{from}");
    // Rewrite every layer's size as naive diff would have recorded it: the regular
    // files' bytes (hard links once), symlinks as 0.
    let layerdb = s.path("image/overlay2/layerdb/sha256");
    for e in std::fs::read_dir(&layerdb).unwrap() {
        let d = e.unwrap().path();
        let Ok(cache) = std::fs::read_to_string(d.join("cache-id")) else {
            continue;
        };
        let out = std::process::Command::new("find")
            .arg(s.path("overlay2").join(cache.trim()).join("diff"))
            .args(["-type", "f", "-printf", "%i %s\n"])
            .output()
            .unwrap();
        let mut seen = std::collections::HashSet::new();
        let mut total = 0u64;
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let (ino, size) = line.split_once(' ').unwrap();
            if seen.insert(ino.to_owned()) {
                total += size.parse::<u64>().unwrap();
            }
        }
        std::fs::write(d.join("size"), total.to_string()).unwrap();
    }
    let v = json(&s.root, &["info"]);
    assert_eq!(
        v["docker"]["driver_status"][0],
        serde_json::json!(["Native Overlay Diff", "false"])
    );
}
