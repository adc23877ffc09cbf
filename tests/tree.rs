//! `dockscope tree` against `docker image inspect` and the Engine API's image history.

mod common;
use common::{json, run, strs, SampleRoot};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn inspect_by_id(s: &SampleRoot) -> BTreeMap<String, Value> {
    s.daemon_json("image-inspect.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["Id"].as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

/// overlay2 dir names of an image, base first, from inspect's `GraphDriver` data.
fn cache_ids(inspect: &Value) -> Vec<String> {
    let data = &inspect["GraphDriver"]["Data"];
    let dir_of = |p: &str| {
        p.trim_end_matches("/diff")
            .rsplit('/')
            .next()
            .unwrap()
            .to_owned()
    };
    let mut out: Vec<String> = data["LowerDir"]
        .as_str()
        .map(|l| l.split(':').map(dir_of).collect())
        .unwrap_or_default();
    out.reverse();
    out.push(dir_of(data["UpperDir"].as_str().unwrap()));
    out
}

fn diff_ids(inspect: &Value) -> Vec<String> {
    inspect["RootFS"]["Layers"]
        .as_array()
        .map(|a| a.iter().map(|d| d.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn every_stack_agrees_with_inspect_and_history() {
    let s = SampleRoot::unpack("full");
    let inspect = inspect_by_id(&s);
    for root in [&s.root, &s.archive] {
        for (id, ins) in &inspect {
            let t = json(root, &["tree", id]);
            assert_eq!(t["id"].as_str(), Some(id.as_str()));
            assert_eq!(t["size"].as_u64(), ins["Size"].as_u64(), "{id} size");
            assert_eq!(strs(&t["repo_tags"]), strs(&ins["RepoTags"]), "{id} tags");
            assert_eq!(
                strs(&t["repo_digests"]),
                strs(&ins["RepoDigests"]),
                "{id} digests"
            );
            let layers = t["layers"].as_array().unwrap();
            let ours_diff: Vec<String> = layers
                .iter()
                .map(|l| l["diff_id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ours_diff, diff_ids(ins), "{id} diff ids, base first");
            let ours_cache: Vec<String> = layers
                .iter()
                .map(|l| l["cache_id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ours_cache, cache_ids(ins), "{id} cache ids, base first");
            for l in layers {
                let link = l["link"].as_str().expect("every layer has an l/ link");
                assert_eq!(link.len(), 26);
            }

            // History: the API lists steps newest first; ours are grouped per layer, base first.
            let hist = s.daemon_json(&format!("api-history/{}.json", &id[7..]));
            let mut steps: Vec<&Value> = hist.as_array().unwrap().iter().collect();
            steps.reverse();
            let ours_steps: Vec<String> = layers
                .iter()
                .flat_map(|l| strs_in_order(&l["created_by"]))
                .collect();
            let theirs: Vec<String> = steps
                .iter()
                .map(|h| h["CreatedBy"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ours_steps, theirs, "{id} history");
            // The sizes the API gives each step add up, per layer, to our layer size.
            let mut k = 0;
            for l in layers {
                let n = l["created_by"].as_array().unwrap().len();
                let sum: u64 = steps[k..k + n]
                    .iter()
                    .map(|h| h["Size"].as_u64().unwrap())
                    .sum();
                assert_eq!(l["size"].as_u64(), Some(sum), "{id} layer size vs history");
                k += n;
            }
        }
    }
}

fn strs_in_order(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn shared_with_names_every_image_on_the_same_chain() {
    let s = SampleRoot::unpack("full");
    let inspect = inspect_by_id(&s);
    for (id, ins) in &inspect {
        let mine = diff_ids(ins);
        let t = json(&s.root, &["tree", id]);
        for (k, l) in t["layers"].as_array().unwrap().iter().enumerate() {
            // Another image holds this layer iff its diff ids start with ours up to k.
            let expected: BTreeSet<String> = inspect
                .iter()
                .filter(|(other, o)| {
                    *other != id && {
                        let d = diff_ids(o);
                        d.len() > k && d[..=k] == mine[..=k]
                    }
                })
                .map(|(other, _)| other.clone())
                .collect();
            let ours: BTreeSet<String> = strs(&l["shared_with"]).into_iter().collect();
            assert_eq!(ours, expected, "{id} layer {k}");
        }
    }
}

#[test]
fn image_names_resolve_as_docker_resolves_them() {
    let s = SampleRoot::unpack("full");
    let inspect = inspect_by_id(&s);
    let app = inspect
        .values()
        .find(|v| strs(&v["RepoTags"]).contains(&"app:1".to_owned()))
        .unwrap();
    let app_id = app["Id"].as_str().unwrap();
    let digest_ref = strs(&app["RepoDigests"])[0].clone();
    for name in [
        "app",
        "app:1",
        "app:latest",
        "docker.io/library/app:1",
        "127.0.0.1:5000/demo/app:1",
        digest_ref.as_str(),
        app_id,
        &app_id[7..],
        &app_id[7..19],
    ] {
        let t = json(&s.root, &["tree", name]);
        assert_eq!(t["id"].as_str(), Some(app_id), "{name}");
    }
    let (code, _, err) = run(&s.root, &["tree", "no-such-image"]);
    assert_eq!(code, 2);
    assert!(err.contains("No such image: no-such-image"), "{err}");

    // A one-digit prefix that several ids share is ambiguous and lists them.
    let mut by_first: BTreeMap<char, Vec<&String>> = BTreeMap::new();
    for id in inspect.keys() {
        by_first
            .entry(id.chars().nth(7).unwrap())
            .or_default()
            .push(id);
    }
    let (c, ids) = by_first.iter().find(|(_, v)| v.len() > 1).unwrap();
    let (code, _, err) = run(&s.root, &["tree", &c.to_string()]);
    assert_eq!(code, 2);
    assert!(err.contains("ambiguous"), "{err}");
    for id in ids {
        assert!(err.contains(id.as_str()), "{err} lacks {id}");
    }
}

#[test]
fn forest_holds_every_image_once_without_repeating_trunks() {
    let s = SampleRoot::unpack("full");
    let inspect = inspect_by_id(&s);
    let listed: BTreeSet<String> = s
        .daemon_json("api-images.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Id"].as_str().unwrap().to_owned())
        .collect();
    let forest = json(&s.root, &["tree"]);
    let mut chains = Vec::new();
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stack: Vec<(&Value, Vec<String>)> = forest["tree"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n, vec![]))
        .collect();
    while let Some((node, mut path)) = stack.pop() {
        chains.push(node["chain_id"].as_str().unwrap().to_owned());
        path.push(node["diff_id"].as_str().unwrap().to_owned());
        let kids: u64 = node["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["branch_size"].as_u64().unwrap())
            .sum();
        assert_eq!(
            node["branch_size"].as_u64().unwrap(),
            node["size"].as_u64().unwrap() + kids
        );
        for im in node["images"].as_array().unwrap() {
            found.insert(im["id"].as_str().unwrap().to_owned(), path.clone());
        }
        for k in node["children"].as_array().unwrap() {
            stack.push((k, path.clone()));
        }
    }
    let unique: BTreeSet<&String> = chains.iter().collect();
    assert_eq!(
        unique.len(),
        chains.len(),
        "a layer appears twice in the forest"
    );
    assert_eq!(
        found.keys().cloned().collect::<BTreeSet<_>>(),
        listed,
        "tips = images docker lists"
    );
    for (id, path) in &found {
        assert_eq!(
            path,
            &diff_ids(&inspect[id]),
            "{id}: path from the root is its diff ids"
        );
    }
    // With -a the intermediates appear too.
    let all = json(&s.root, &["tree", "-a"]);
    let text = all.to_string();
    for id in inspect.keys() {
        assert!(text.contains(id.as_str()), "tree -a lacks {id}");
    }
}

#[test]
fn human_stack_and_forest_name_what_matters() {
    let s = SampleRoot::unpack("full");
    let (code, out, _) = run(&s.root, &["tree", "app:1"]);
    assert_eq!(code, 0);
    assert!(out.contains("app:1, app:latest"), "{out}");
    assert!(
        out.contains("ENV APP_MODE=demo"),
        "empty-layer steps shown: {out}"
    );
    assert!(out.contains("2MB"), "{out}");
    let (code, out, _) = run(&s.root, &["tree"]);
    assert_eq!(code, 0);
    assert!(out.contains("└── "), "{out}");
    assert!(out.contains("(dangling)"), "{out}");
    assert!(out.contains("bk:1"), "{out}");
}
