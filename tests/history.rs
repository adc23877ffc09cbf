//! `dockscope history` against `docker history --no-trunc` and
//! `GET /images/<id>/history` for every image of the capture.

mod common;
use common::{explorer_archive, json, run, unix, SampleRoot};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

fn image_ids(s: &SampleRoot) -> Vec<String> {
    s.daemon_json("image-inspect.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].as_str().unwrap()[7..].to_owned())
        .collect()
}

fn check_api(root: &Path, s: &SampleRoot) {
    for id in image_ids(s) {
        let api = s.daemon_json(&format!("api-history/{id}.json"));
        let ours = json(root, &["history", &id]);
        assert_eq!(ours["problems"], Value::Array(vec![]), "{id}");
        assert_eq!(ours["image"], format!("sha256:{id}"));
        let api = api.as_array().unwrap();
        let rows = ours["history"].as_array().unwrap();
        assert_eq!(rows.len(), api.len(), "{id} steps");
        for (k, (o, a)) in rows.iter().zip(api).enumerate() {
            let what = format!("{id} step {k}");
            match a["Id"].as_str().unwrap() {
                "<missing>" => assert!(o["id"].is_null(), "{what}: {o}"),
                theirs => assert_eq!(o["id"], theirs, "{what}"),
            }
            assert_eq!(o["created_by"], a["CreatedBy"], "{what}");
            assert_eq!(o["size"], a["Size"], "{what}");
            assert_eq!(o["comment"], a["Comment"], "{what}");
            assert_eq!(
                unix(o["created"].as_str().unwrap()),
                a["Created"].as_i64().unwrap(),
                "{what}"
            );
            let tags = if a["Tags"].is_null() {
                Value::Array(vec![])
            } else {
                a["Tags"].clone()
            };
            assert_eq!(o["tags"], tags, "{what}");
            if o["empty_layer"] == true {
                assert_eq!(o["size"], 0, "{what}");
            }
        }
    }
}

#[test]
fn history_agrees_with_the_engine_api() {
    for name in ["full", "crashed"] {
        let s = SampleRoot::unpack(name);
        check_api(&s.root, &s);
        check_api(&s.archive, &s);
    }
    assert_eq!(image_ids(&SampleRoot::unpack("full")).len(), 19);
}

/// Split a docker-style table into cells by the header's column offsets.
fn cells(text: &str, headers: &[&str]) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines();
    let head = lines.next().expect("header");
    let starts: Vec<usize> = headers.iter().map(|h| head.find(h).unwrap()).collect();
    lines
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            headers
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    let from = starts[i].min(chars.len());
                    let to = starts
                        .get(i + 1)
                        .copied()
                        .unwrap_or(chars.len())
                        .min(chars.len());
                    let cell: String = chars[from..to].iter().collect();
                    ((*h).to_owned(), cell.trim().to_owned())
                })
                .collect()
        })
        .collect()
}

fn table_matches(s: &SampleRoot, headers: &[&str]) {
    for id in image_ids(s) {
        let theirs = cells(&s.daemon_text(&format!("history/{id}.txt")), headers);
        let (code, out, err) = run(&s.root, &["history", "--no-trunc", &id]);
        assert_eq!(code, 0, "{err}");
        let ours = cells(&out, headers);
        assert_eq!(ours.len(), theirs.len(), "{id}");
        for (o, t) in ours.iter().zip(&theirs) {
            for col in ["IMAGE", "CREATED BY", "SIZE", "COMMENT"] {
                assert_eq!(o[col], t[col], "{id} {col}");
            }
            // absolute: `YYYY-MM-DD HH:MM:SS`
            assert_eq!(o["CREATED"].len(), 19, "{o:?}");
            assert!(
                o["CREATED"].parse::<jiff::civil::DateTime>().is_ok(),
                "{o:?}"
            );
        }
    }
}

/// The table `docker history --no-trunc` printed, every column but the relative CREATED.
#[test]
fn table_matches_docker_history() {
    let headers = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"];
    for name in ["crashed", "full"] {
        let s = SampleRoot::unpack(name);
        table_matches(&s, &headers);
    }
    let s = SampleRoot::unpack("full");
    // Truncated as docker prints by default: 12-hex ids, CREATED BY cut at 45.
    let (_, out, _) = run(&s.root, &["history", "app:1"]);
    let rows = cells(&out, &headers);
    let app = json(&s.root, &["history", "app:1"]);
    assert_eq!(rows[0]["IMAGE"], app["image"].as_str().unwrap()[7..19]);
    assert_eq!(
        rows[0]["CREATED BY"],
        "/bin/sh -c #(nop)  CMD [\"cat\" \"/data/hello.t…"
    );
    assert_eq!(rows.last().unwrap()["COMMENT"], "Imported from -");
    assert_eq!(rows.last().unwrap()["SIZE"], "1.98MB");
}

/// A pulled image has no parent chain: only its own top step gets an id.
#[test]
fn pulled_image_steps_are_missing() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["history", "127.0.0.1:5000/demo/tool:1"]);
    let rows = v["history"].as_array().unwrap();
    assert!(rows[0]["id"].is_string());
    assert!(rows[1..].iter().all(|r| r["id"].is_null()), "{rows:?}");
}

#[test]
fn explorer_busybox_history() {
    let s = SampleRoot::explorer("overlay2.v2");
    for root in [s.root.clone(), explorer_archive("overlay2.v2")] {
        let v = json(&root, &["history", "busybox"]);
        let rows = v["history"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0]["id"],
            "sha256:8ac48589692a53a9b8c2d1ceaa6b402665aa7fe667ba51ccc03002300856d8c7"
        );
        assert_eq!(rows[0]["created_by"], "/bin/sh -c #(nop)  CMD [\"sh\"]");
        assert_eq!(rows[0]["created"], "2018-04-05T10:41:28.876407948Z");
        assert_eq!(rows[0]["size"], 0);
        assert_eq!(rows[0]["empty_layer"], true);
        assert!(rows[1]["id"].is_null());
        assert_eq!(rows[1]["size"], 1_146_369);
        assert_eq!(rows[1]["created"], "2018-04-05T10:41:28.603783455Z");
        let (code, out, _) = run(&root, &["history", "busybox"]);
        assert_eq!(code, 0);
        assert!(out.lines().nth(1).unwrap().starts_with("8ac48589692a "));
        assert!(out.lines().nth(2).unwrap().starts_with("<missing> "));
    }
}

#[test]
fn unknown_image_exits_2() {
    let s = SampleRoot::unpack("full");
    let (code, out, err) = run(&s.root, &["history", "nosuch:1"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("No such image: nosuch:1"), "{err}");
}

/// An image whose config no longer hashes to its id is on disk but does not load:
/// said so, with the file, not "No such image".
#[test]
#[allow(clippy::disallowed_methods)] // breaks a copy of a capture on purpose
fn an_image_that_does_not_load_is_named() {
    let s = SampleRoot::unpack("full");
    let api = s.daemon_json("api-images.json");
    let id = api
        .as_array()
        .unwrap()
        .iter()
        .find(|i| common::strs(&i["RepoTags"]).iter().any(|t| t == "base2:1"))
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rel = format!("image/overlay2/imagedb/content/sha256/{}", &id[7..]);
    let mut bytes = std::fs::read(s.path(&rel)).unwrap();
    // same JSON, one byte more: the digest no longer matches
    bytes.push(b'\n');
    std::fs::write(s.path(&rel), &bytes).unwrap();
    for name in ["base2:1", &id[7..19]] {
        let (code, out, err) = run(&s.root, &["history", name]);
        assert_eq!((code, out.as_str()), (2, ""), "{name}");
        assert!(
            err.contains("is on disk but Docker would not load it") && err.contains(&rel),
            "{name}: {err}"
        );
    }
}
