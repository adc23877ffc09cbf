//! `dockscope images` against what dockerd 20.10 answered for the same root.

mod common;
use common::{json, run, strs, unix, SampleRoot};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn by_id(list: &Value, key: &str) -> BTreeMap<String, Value> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|v| (v[key].as_str().expect("id").to_owned(), v.clone()))
        .collect()
}

/// Every field `docker images` shows, compared with the Engine API's `/images/json`.
fn check_against_api(root: &Path, sample: &SampleRoot, all: bool) {
    let api = sample.daemon_json(if all {
        "api-images-all.json"
    } else {
        "api-images.json"
    });
    let args: &[&str] = if all { &["images", "-a"] } else { &["images"] };
    let ours = json(root, args);
    assert_eq!(
        ours["problems"],
        Value::Array(vec![]),
        "a clean capture has no problems"
    );
    let api = by_id(&api, "Id");
    let ours = by_id(&ours["images"], "id");
    assert_eq!(
        api.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>()
    );
    let inspect = by_id(&sample.daemon_json("image-inspect.json"), "Id");
    for (id, a) in &api {
        let o = &ours[id];
        let none = |v: &Value, marker: &str| -> Vec<String> {
            strs(v).into_iter().filter(|s| s != marker).collect()
        };
        assert_eq!(
            strs(&o["repo_tags"]),
            none(&a["RepoTags"], "<none>:<none>"),
            "{id} tags"
        );
        assert_eq!(
            strs(&o["repo_digests"]),
            none(&a["RepoDigests"], "<none>@<none>"),
            "{id} digests"
        );
        assert_eq!(o["size"].as_u64(), a["Size"].as_u64(), "{id} size");
        let parent = a["ParentId"].as_str().filter(|p| !p.is_empty());
        assert_eq!(o["parent"].as_str(), parent, "{id} parent");
        assert_eq!(
            unix(o["created"].as_str().unwrap()),
            a["Created"].as_i64().unwrap(),
            "{id} created"
        );
        assert_eq!(
            o["created"].as_str(),
            inspect[id]["Created"].as_str(),
            "{id} created (inspect)"
        );
        // dangling as the daemon marks it: no reference at all, listed anyway
        let dangling = a["RepoTags"] == serde_json::json!(["<none>:<none>"]);
        assert_eq!(
            o["dangling"].as_bool().unwrap() || o["intermediate"].as_bool().unwrap(),
            dangling,
            "{id} <none>"
        );
        // the layer chain: as many layers as inspect's RootFS has diff ids
        let layers = inspect[id]["RootFS"]["Layers"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(o["layers"].as_array().unwrap().len(), layers, "{id} layers");
    }
}

#[test]
fn images_all_agree_with_the_daemon() {
    let s = SampleRoot::unpack("full");
    check_against_api(&s.root, &s, true);
    check_against_api(&s.archive, &s, true);
}

#[test]
fn images_default_agree_with_the_daemon() {
    let s = SampleRoot::unpack("full");
    check_against_api(&s.root, &s, false);
    check_against_api(&s.archive, &s, false);
}

#[test]
fn dangling_and_intermediate_as_docker_defines_them() {
    let s = SampleRoot::unpack("full");
    let all = json(&s.root, &["images", "-a"]);
    let images = all["images"].as_array().unwrap();
    let dangling: Vec<&Value> = images.iter().filter(|i| i["dangling"] == true).collect();
    let intermediate = images.iter().filter(|i| i["intermediate"] == true).count();
    // `docker images` (no -a) lists exactly one <none>: the image that `dangle:1` replaced.
    let api = s.daemon_json("api-images.json");
    let none: Vec<&Value> = api
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["RepoTags"] == serde_json::json!(["<none>:<none>"]))
        .collect();
    assert_eq!(dangling.len(), none.len());
    assert_eq!(dangling[0]["id"], none[0]["Id"]);
    let info = s.daemon_json("info.json");
    assert_eq!(images.len() as u64, info["Images"].as_u64().unwrap());
    assert_eq!(intermediate, images.len() - api.as_array().unwrap().len());
}

/// The human table has docker's rows: one per tag, `<none>` for untagged images,
/// the same short ids and the same sizes as `docker images -a` printed.
#[test]
fn human_table_matches_docker_images() {
    let s = SampleRoot::unpack("full");
    for (file, args) in [
        ("images.txt", &["images", "-a"][..]),
        ("images-default.txt", &["images"][..]),
    ] {
        let (code, out, err) = run(&s.root, args);
        assert_eq!(code, 0, "{err}");
        let mut ours: Vec<(String, String, String, String)> = out
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f[0].into(), f[1].into(), f[2].into(), f[f.len() - 1].into())
            })
            .collect();
        let mut theirs: Vec<(String, String, String, String)> = s
            .daemon_text(file)
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let id = f[3].trim_start_matches("sha256:")[..12].to_owned();
                (f[0].into(), f[1].into(), id, f[f.len() - 1].into())
            })
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{file}");
    }
}

#[test]
fn empty_root_has_no_images() {
    let s = SampleRoot::unpack("empty");
    let v = json(&s.root, &["images", "-a"]);
    assert_eq!(v["images"], Value::Array(vec![]));
    assert_eq!(v["problems"], Value::Array(vec![]));
    assert_eq!(s.daemon_json("api-images-all.json"), Value::Array(vec![]));
}
