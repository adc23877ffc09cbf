//! The real captures of google/docker-explorer (2017-2020), with the values of their
//! EXPECTED.md: overlay2 roots analysed, other drivers named and refused.

mod common;
use common::{explorer_archive, json, run, strs, SampleRoot};
use serde_json::Value;

#[test]
fn overlay2_v2_busybox() {
    let s = SampleRoot::explorer("overlay2.v2");
    let archive = explorer_archive("overlay2.v2");
    for root in [s.root.as_path(), archive.as_path()] {
        let images = json(root, &["images", "-a"]);
        let list = images["images"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        let im = &list[0];
        assert_eq!(
            im["id"],
            "sha256:8ac48589692a53a9b8c2d1ceaa6b402665aa7fe667ba51ccc03002300856d8c7"
        );
        assert_eq!(strs(&im["repo_tags"]), ["busybox:latest"]);
        assert_eq!(
            strs(&im["repo_digests"]),
            ["busybox@sha256:58ac43b2cc92c687a32c8be6278e50a063579655fe3090125dcb2af0ff9e1a64"]
        );
        assert_eq!(im["size"], 1_146_369);
        assert_eq!(im["created"], "2018-04-05T10:41:28.876407948Z");
        assert_eq!(im["parent"], Value::Null);

        let t = json(root, &["tree", "busybox"]);
        let layers = t["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        let l = &layers[0];
        assert_eq!(
            l["diff_id"],
            "sha256:0314be9edf00a925d59f9b88c9d8ccb34447ab677078874d8c14e7a6816e21e1"
        );
        assert_eq!(l["chain_id"], l["diff_id"]);
        assert_eq!(
            l["cache_id"],
            "583c602e6bded61f85a9deb504a724d5cc7cce3902c8385a7620fe1c78ad3176"
        );
        assert_eq!(l["link"], "CH5A7XWSBP2DUPV7V47B7DOOGY");
        assert_eq!(l["size"], 1_146_369);
        let steps = strs(&l["created_by"]);
        assert_eq!(steps.len(), 2, "the ADD and the empty-layer CMD after it");
        assert!(steps.iter().any(|s| s.contains("CMD [\"sh\"]")));

        let info = json(root, &["info"]);
        let c = &info["counts"];
        assert_eq!(c["containers"], 5);
        assert_eq!(c["running"], 1);
        assert_eq!(c["overlay2_dirs"], 11);
        assert_eq!(c["l_links"], 11);
        assert_eq!(c["init_dirs"], 5);
        assert_eq!(info["problems"], Value::Array(vec![]));
        // The empty image/overlay/ of an earlier driver is named, not analysed.
        let layouts = info["layouts"].as_array().unwrap();
        let overlay = layouts
            .iter()
            .find(|l| l["name"] == "overlay")
            .expect("overlay layout named");
        assert_eq!(overlay["analysed"], false);
    }
    // The archive's data root sits in its docker/ folder.
    assert_eq!(json(&archive, &["info"])["archive_prefix"], "docker");
}

#[test]
fn vols_v2_alpine() {
    let s = SampleRoot::explorer("vols.v2");
    let im = json(&s.root, &["images"]);
    let list = im["images"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["id"],
        "sha256:a24bb4013296f61e89ba57005a7b3e52274d8edd3ae2077d04395f806b63d83e"
    );
    assert_eq!(list[0]["size"], 5_574_537);
    let t = json(&s.root, &["tree", "alpine:latest"]);
    assert_eq!(
        t["layers"][0]["cache_id"],
        "e9dd021b588b13e38ae135f9160973ac825885e810007bebfc1353c5a58e5365"
    );
    assert_eq!(t["layers"][0]["link"], "DZLMGWVVFFVHUM4LJOGNABZDNZ");
    let info = json(&s.root, &["info"]);
    assert_eq!(info["counts"]["containers"], 4);
    assert_eq!(info["counts"]["volumes"], 3);
    assert_eq!(info["counts"]["overlay2_dirs"], 9);
    assert_eq!(info["problems"], Value::Array(vec![]));
}

#[test]
fn other_drivers_are_named_and_refused() {
    for (name, driver) in [
        ("overlay.v2", "overlay"),
        ("aufs.v2", "aufs"),
        ("aufs.v1", "aufs"),
    ] {
        let s = SampleRoot::explorer(name);
        for root in [s.root.clone(), explorer_archive(name)] {
            let (code, out, err) = run(&root, &["images"]);
            assert_eq!(code, 2, "{name}");
            assert!(out.is_empty());
            assert!(
                err.contains(&format!("using the {driver}")),
                "{name}: {err}"
            );
            assert!(err.contains("dockscope analyses overlay2 only"), "{err}");
            assert_eq!(err.lines().count(), 1, "one clear message: {err}");
        }
    }
    // The pre-1.10 layout is named as such.
    let s = SampleRoot::explorer("aufs.v1");
    let (_, _, err) = run(&s.root, &["info"]);
    assert!(err.contains("storage-v1"), "{err}");
}
