//! `dockscope info` against `docker info`, and the same answers from an archive.

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
