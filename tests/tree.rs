//! `dockscope tree` against `docker image inspect` and the Engine API's image history.
#![allow(clippy::disallowed_methods, clippy::print_stderr)]

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

/// The images each stack is made of, against the daemon's `GET /images/{id}/history`:
/// each step the daemon tagged with another image's names is where that image ends.
#[test]
fn stack_images_end_where_dockers_history_says() {
    // modern: a root written by dockerd 28.5.
    for root in ["full", "modern"] {
        stack_images_end_where_history_says(root);
    }
}

fn stack_images_end_where_history_says(root: &str) {
    let s = SampleRoot::unpack(root);
    let hist_dir = s.daemon.as_ref().unwrap().join("api-history");
    let mut checked = 0;
    for entry in std::fs::read_dir(&hist_dir).unwrap() {
        let path = entry.unwrap().path();
        let id = format!("sha256:{}", path.file_stem().unwrap().to_str().unwrap());
        let hist: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let steps = hist.as_array().unwrap();
        let t = json(&s.root, &["tree", &id]);
        let images = t["images"].as_array().unwrap();
        assert_eq!(images.last().unwrap()["id"].as_str(), Some(id.as_str()));
        assert_eq!(
            images.last().unwrap()["history_count"].as_u64(),
            Some(steps.len() as u64)
        );
        // Docker's history is newest first; step k from the end is history index n-1-k.
        for (k, step) in steps.iter().enumerate() {
            let Some(tags) = step["Tags"].as_array() else {
                continue;
            };
            let other = step["Id"].as_str().unwrap();
            if other == id || tags.is_empty() {
                continue;
            }
            let ours = images
                .iter()
                .find(|i| i["id"].as_str() == Some(other))
                .unwrap_or_else(|| panic!("{id}: {other} ({tags:?}) is not in the stack"));
            assert_eq!(
                ours["history_count"].as_u64(),
                Some((steps.len() - k) as u64),
                "{id}: {other} ends at that step"
            );
            assert_eq!(strs(&ours["repo_tags"]), strs(&step["Tags"]), "{id}");
            checked += 1;
        }
        // Every step of the image is listed once, under the image that added it, with
        // the layer it made; the layers come in order.
        let all_steps: Vec<&Value> = images
            .iter()
            .flat_map(|i| i["steps"].as_array().unwrap())
            .collect();
        assert_eq!(all_steps.len(), steps.len(), "{id}");
        for (ours, theirs) in all_steps.iter().zip(steps.iter().rev()) {
            assert_eq!(ours["created_by"], theirs["CreatedBy"], "{id}");
        }
        let made: Vec<u64> = all_steps
            .iter()
            .filter_map(|s| s["layer"].as_u64())
            .collect();
        let n = t["layers"].as_array().unwrap().len() as u64;
        assert_eq!(made, (1..=n).collect::<Vec<_>>(), "{id}");
        // Each layer names its parent and the image that added it.
        let layers = t["layers"].as_array().unwrap();
        for (k, l) in layers.iter().enumerate() {
            let want = if k == 0 {
                Value::Null
            } else {
                layers[k - 1]["chain_id"].clone()
            };
            assert_eq!(l["parent"], want, "{id}");
            assert!(images.iter().any(|i| i["id"] == l["added_by"]), "{id}");
        }
    }
    assert!(
        checked >= 10,
        "the capture has tagged steps under other images"
    );
}

#[test]
fn stack_reads_on_80_columns() {
    let s = SampleRoot::unpack("full");
    let (code, out, err) = common::dockscope()
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .arg("--root")
        .arg(&s.root)
        .args(["tree", "committed:1"])
        .output()
        .map(|o| {
            (
                o.status.code().unwrap(),
                String::from_utf8(o.stdout).unwrap(),
                String::from_utf8(o.stderr).unwrap(),
            )
        })
        .unwrap();
    assert_eq!(code, 0, "{err}");
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "wider than 80: {line:?}");
    }
    // Where each image ends and the next begins, in order.
    let base = out.find("── base:1 (").unwrap();
    let app = out
        .find("base:1 ends here; 127.0.0.1:5000/demo/app:1 (ccf1b3326e17) adds:")
        .unwrap();
    let committed = out
        .find("127.0.0.1:5000/demo/app:1 ends here; committed:1 (a82cb2bd384a) adds:")
        .unwrap();
    assert!(base < app && app < committed, "{out}");
    // The base layer has no command: its comment is shown. ENV and LABEL (metadata
    // only) come under app:1, which added them, before its first layer.
    let imported = out.find("(Imported from -)").unwrap();
    assert!(imported > base && imported < app, "{out}");
    let env = out.find("ENV APP_MODE=demo").unwrap();
    let label = out.find("LABEL org.example.role=app").unwrap();
    let run2 = out.find("RUN mkdir -p /data/sub").unwrap();
    assert!(app < env && env < label && label < run2, "{out}");
    // The layer line carries its build step.
    let line = out.lines().find(|l| l.contains("RUN mkdir -p")).unwrap();
    assert!(line.trim_start().starts_with("2  a61988543053"), "{line}");
    // SHARED WITH counts listed images: base:1's layer is in 6 other listed images
    // (base:1, tool, dangle, the dangling one, committed, bk), 14 with -a.
    let first = out.lines().find(|l| l.contains("eb1158a3ae4b")).unwrap();
    assert!(first.contains("  6  "), "{first}");
    let (_, all, _) = run(&s.root, &["tree", "committed:1", "-a"]);
    let first = all.lines().find(|l| l.contains("eb1158a3ae4b")).unwrap();
    assert!(first.contains("  14  "), "{first}");
    let t = json(&s.root, &["tree", "committed:1"]);
    assert_eq!(t["layers"][0]["shared_with"].as_array().unwrap().len(), 14);
    assert_eq!(
        t["layers"][0]["shared_with_listed"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    // --no-trunc: full ids and steps as recorded.
    let (_, full, _) = run(&s.root, &["tree", "committed:1", "--no-trunc"]);
    assert!(full.contains(t["layers"][1]["chain_id"].as_str().unwrap()));
    assert!(full.contains("/bin/sh -c #(nop)  ENV APP_MODE=demo"));
    assert!(full.contains("dd if=/dev/urandom of=/data/blob bs=1k count=16 2>/dev/null"));
}

#[test]
fn ascii_glyphs_when_the_locale_is_not_utf8() {
    let s = SampleRoot::unpack("full");
    let tree = |vars: &[(&str, &str)]| {
        let mut c = common::dockscope();
        c.env_remove("LC_ALL")
            .env_remove("LC_CTYPE")
            .env_remove("LANG");
        for (k, v) in vars {
            c.env(k, v);
        }
        let o = c.arg("--root").arg(&s.root).arg("tree").output().unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let utf8 = tree(&[("LANG", "en_US.UTF-8")]);
    assert!(utf8.contains("└── ") && utf8.contains("├── "), "{utf8}");
    for vars in [
        &[("LANG", "C")][..],
        &[][..],
        &[("LANG", "en_US.UTF-8"), ("LC_ALL", "POSIX")][..],
        &[("LC_CTYPE", "de_DE.ISO-8859-1"), ("LANG", "en_US.UTF-8")][..],
    ] {
        let ascii = tree(vars);
        assert!(ascii.is_ascii(), "{vars:?}: {ascii}");
        assert!(ascii.contains("`-- ") && ascii.contains("|-- "), "{ascii}");
        // The same tree, glyph for glyph.
        let back = ascii
            .replace("`-- ", "└── ")
            .replace("|-- ", "├── ")
            .replace("|   ", "│   ")
            .replace("...", "…");
        assert_eq!(back, utf8, "{vars:?}");
    }
}

/// A 20,000-layer chain on top of a real root's base layer (written the way the daemon
/// writes layerdb entries and overlay2 dirs), one image on it.
fn deep_chain(s: &SampleRoot, n: usize) -> (String, Vec<String>) {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::symlink;
    let hex = |b: &[u8]| format!("{:x}", Sha256::digest(b));
    let layerdb = s.path("image/overlay2/layerdb/sha256");
    let base_chain = "sha256:eb1158a3ae4bca48c3fb1fa0cfa327b5e5f4faab0cd856a134ad4e0063486fb2";
    assert!(layerdb.join(&base_chain[7..]).is_dir());
    let mut diff_ids = vec![base_chain.to_owned()];
    let mut chains = vec![base_chain.to_owned()];
    let mut parent_link: Option<String> = None;
    for k in 0..n {
        let diff = format!("sha256:{}", hex(format!("deep layer {k}").as_bytes()));
        let chain = format!(
            "sha256:{}",
            hex(format!("{} {}", chains.last().unwrap(), diff).as_bytes())
        );
        let cache = hex(format!("deep cache {k}").as_bytes());
        let d = layerdb.join(&chain[7..]);
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("diff"), &diff).unwrap();
        std::fs::write(d.join("size"), format!("{}", k % 7)).unwrap();
        std::fs::write(d.join("cache-id"), &cache).unwrap();
        std::fs::write(d.join("parent"), chains.last().unwrap()).unwrap();
        let o = s.path("overlay2").join(&cache);
        std::fs::create_dir_all(o.join("diff")).unwrap();
        // A 26-character name in the daemon's alphabet (base32: A-Z, 2-7).
        let link: String = Sha256::digest(cache.as_bytes())[..26]
            .iter()
            .map(|b| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[usize::from(b % 32)]))
            .collect();
        std::fs::write(o.join("link"), &link).unwrap();
        if let Some(p) = &parent_link {
            std::fs::write(o.join("lower"), format!("l/{p}")).unwrap();
        }
        symlink(format!("../{cache}/diff"), s.path("overlay2/l").join(&link)).unwrap();
        parent_link = Some(link);
        diff_ids.push(diff);
        chains.push(chain);
    }
    let history: Vec<Value> = (0..=n)
        .map(|k| serde_json::json!({"created": "2026-11-25T14:33:08Z", "created_by": format!("/bin/sh -c echo {k} > /f")}))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "created": "2026-11-25T14:33:08Z",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let bytes = serde_json::to_vec(&config).unwrap();
    let id = hex(&bytes);
    std::fs::write(
        s.path("image/overlay2/imagedb/content/sha256").join(&id),
        &bytes,
    )
    .unwrap();
    let repos_path = s.path("image/overlay2/repositories.json");
    let mut repos: Value =
        serde_json::from_str(&std::fs::read_to_string(&repos_path).unwrap()).unwrap();
    repos["Repositories"]["deep"] = serde_json::json!({"deep:1": format!("sha256:{id}")});
    std::fs::write(&repos_path, serde_json::to_vec(&repos).unwrap()).unwrap();
    (format!("sha256:{id}"), chains)
}

#[test]
#[allow(clippy::many_single_char_names)]
fn a_twenty_thousand_layer_chain_in_seconds_and_flat_json() {
    let s = SampleRoot::unpack("full");
    let n = 20_000;
    let t = std::time::Instant::now();
    let (id, chains) = deep_chain(&s, n);
    eprintln!("generated in {:?}", t.elapsed());
    let clock = |args: &[&str]| {
        let t = std::time::Instant::now();
        let (code, out, err) = run(&s.root, args);
        let took = t.elapsed();
        eprintln!("{args:?}: {took:?}");
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(err.is_empty(), "a consistent root: {err}");
        (out, took)
    };
    // Reading the root (`images` does only that) is the baseline: drawing the tree of
    // 20,000 layers must add little to it (a quadratic step would add minutes).
    let (_, baseline) = clock(&["images"]);
    let timed = |args: &[&str]| {
        let (out, took) = clock(args);
        assert!(
            took < baseline * 2 + std::time::Duration::from_secs(5),
            "{args:?} took {took:?}; reading the root took {baseline:?}"
        );
        out
    };
    let out = timed(&["tree", "deep:1"]);
    assert_eq!(
        out.lines().filter(|l| l.contains("RUN echo")).count(),
        n + 1,
        "one line per layer"
    );
    let out = timed(&["tree"]);
    assert!(
        out.contains("(20000 layers)") || out.contains("deep:1"),
        "{out}"
    );
    for line in out.lines() {
        assert!(line.chars().count() < 200, "{line}");
    }
    let out = timed(&["tree", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tree"].as_array().unwrap().len(), 0, "too deep to nest");
    assert!(v["tree_omitted"]
        .as_str()
        .unwrap()
        .contains("20001 layers deep"));
    let layers = v["layers"].as_array().unwrap();
    // Every layer once, parent before child, each naming its parent.
    let mut pos = BTreeMap::new();
    for (k, l) in layers.iter().enumerate() {
        let c = l["chain_id"].as_str().unwrap().to_owned();
        if let Some(p) = l["parent"].as_str() {
            assert!(pos.contains_key(p), "parent listed first");
        }
        assert!(pos.insert(c, k).is_none());
    }
    for (k, c) in chains.iter().enumerate().skip(1) {
        assert_eq!(
            layers[pos[c]]["parent"].as_str(),
            Some(chains[k - 1].as_str())
        );
        assert_eq!(layers[pos[c]]["depth"].as_u64(), Some(k as u64));
    }
    let top = &layers[pos[chains.last().unwrap()]];
    assert_eq!(top["images"][0]["id"].as_str(), Some(id.as_str()));
    // jq reads it (its nesting limit is far below 20,000).
    {
        use std::io::Write;
        let mut jq = std::process::Command::new("jq")
            .args(["-r", ".layers | length"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("jq (.ci/run installs it)");
        jq.stdin.take().unwrap().write_all(out.as_bytes()).unwrap();
        let o = jq.wait_with_output().unwrap();
        assert!(o.status.success());
        assert_eq!(
            String::from_utf8(o.stdout).unwrap().trim(),
            layers.len().to_string()
        );
    }
    // The stack's JSON is flat too.
    let t = json(&s.root, &["tree", "deep:1"]);
    assert_eq!(t["layers"].as_array().unwrap().len(), n + 1);
}

#[test]
fn forest_json_keeps_the_nested_tree_when_it_is_shallow() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["tree"]);
    assert!(v["tree_omitted"].is_null());
    // The flat list and the nested tree hold the same layers.
    let mut nested = Vec::new();
    let mut stack: Vec<&Value> = v["tree"].as_array().unwrap().iter().collect();
    while let Some(n) = stack.pop() {
        nested.push(n["chain_id"].as_str().unwrap().to_owned());
        stack.extend(n["children"].as_array().unwrap());
    }
    nested.sort();
    let mut flat: Vec<String> = v["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["chain_id"].as_str().unwrap().to_owned())
        .collect();
    flat.sort();
    assert_eq!(nested, flat);
    // One per distinct diff-id prefix among the images the daemon inspected.
    let prefixes: BTreeSet<Vec<String>> = inspect_by_id(&s)
        .values()
        .flat_map(|ins| {
            let d = diff_ids(ins);
            (1..=d.len()).map(move |k| d[..k].to_vec())
        })
        .collect();
    assert_eq!(flat.len(), prefixes.len());
}
