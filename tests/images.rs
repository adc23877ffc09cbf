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

fn ids_of(out: &str) -> Vec<String> {
    out.lines().map(str::to_owned).collect()
}

/// The API's images, by id.
fn api_images(s: &SampleRoot, file: &str) -> Vec<Value> {
    s.daemon_json(file).as_array().unwrap().clone()
}

fn is_none(i: &Value) -> bool {
    i["RepoTags"] == serde_json::json!(["<none>:<none>"])
}

/// `-q` prints one id per row docker prints: compared with the IMAGE ID column of the
/// recorded tables (`docker images [-a] --no-trunc --digests`).
#[test]
fn quiet_ids_are_dockers_rows() {
    let s = SampleRoot::unpack("full");
    for (file, all) in [("images.txt", true), ("images-default.txt", false)] {
        let table = s.daemon_text(file);
        let mut theirs: Vec<String> = table
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().nth(3).unwrap().to_owned())
            .collect();
        let mut args = vec!["images", "-q", "--no-trunc"];
        if all {
            args.push("-a");
        }
        let (code, out, err) = run(&s.root, &args);
        assert_eq!(code, 0, "{err}");
        let mut ours = ids_of(&out);
        // newest first, as the daemon sorts (ties in the same second may differ)
        let api = api_images(&s, "api-images-all.json");
        let created: BTreeMap<&str, i64> = api
            .iter()
            .map(|i| (i["Id"].as_str().unwrap(), i["Created"].as_i64().unwrap()))
            .collect();
        assert!(ours
            .windows(2)
            .all(|w| created[w[0].as_str()] >= created[w[1].as_str()]));
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{file}");
        // short ids by default: the first 12 hex digits
        let short_args: Vec<&str> = args
            .iter()
            .copied()
            .filter(|a| *a != "--no-trunc")
            .collect();
        let (_, short, _) = run(&s.root, &short_args);
        let mut short = ids_of(&short);
        short.sort();
        let want: Vec<String> = theirs.iter().map(|i| i[7..19].to_owned()).collect();
        assert_eq!(short, want);
    }
}

/// `docker images --digests`: the DIGEST column, row for row.
#[test]
fn digests_column_matches_docker() {
    let s = SampleRoot::unpack("full");
    let (code, out, err) = run(&s.root, &["images", "--digests", "--no-trunc"]);
    assert_eq!(code, 0, "{err}");
    let row = |l: &str| -> (String, String, String, String) {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f[0].into(), f[1].into(), f[2].into(), f[3].into())
    };
    let mut ours: Vec<_> = out.lines().skip(1).map(row).collect();
    let mut theirs: Vec<_> = s
        .daemon_text("images-default.txt")
        .lines()
        .skip(1)
        .map(row)
        .collect();
    assert!(out.starts_with("REPOSITORY"));
    assert!(out.lines().next().unwrap().contains("DIGEST"));
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
}

/// `--filter dangling=true`: the images the API lists as `<none>:<none>` without `-a`
/// (heads only, so the same with `-a`); `dangling=false` the others.
#[test]
fn dangling_filter_as_the_daemon() {
    let s = SampleRoot::unpack("full");
    let api = api_images(&s, "api-images.json");
    let mut none: Vec<String> = api
        .iter()
        .filter(|i| is_none(i))
        .map(|i| i["Id"].as_str().unwrap().to_owned())
        .collect();
    none.sort();
    assert!(!none.is_empty());
    for extra in [&[][..], &["-a"][..]] {
        let mut args = vec!["images", "--filter", "dangling=true", "-q", "--no-trunc"];
        args.extend(extra);
        let (code, out, err) = run(&s.root, &args);
        assert_eq!(code, 0, "{err}");
        let mut ours = ids_of(&out);
        ours.sort();
        assert_eq!(ours, none, "{args:?}");
    }
    let mut tagged: Vec<String> = api
        .iter()
        .filter(|i| !is_none(i))
        .map(|i| i["Id"].as_str().unwrap().to_owned())
        .collect();
    tagged.sort();
    tagged.dedup();
    let v = json(&s.root, &["images", "-a", "--filter", "dangling=false"]);
    let mut ours: Vec<String> = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    ours.sort();
    assert_eq!(ours, tagged);
    for bad in ["dangling=maybe", "nosuchkey=1", "dangling"] {
        let (code, out, err) = run(&s.root, &["images", "--filter", bad]);
        assert_eq!((code, out.as_str()), (2, ""), "{bad}");
        assert!(err.starts_with("dockscope: error: "), "{err}");
    }
}

/// `reference=` (and the positional REPOSITORY[:TAG]): a glob on the familiar name or
/// reference; only the matching references are listed.
#[test]
fn reference_filter_as_the_daemon() {
    let s = SampleRoot::unpack("full");
    let api = api_images(&s, "api-images-all.json");
    let name_of = |r: &str| -> String {
        let slash = r.rfind('/').map_or(0, |i| i + 1);
        match r[slash..].rfind(':') {
            Some(c) => r[..slash + c].to_owned(),
            None => r.to_owned(),
        }
    };
    // expected from the API: (id, tags) where the familiar name is exactly the pattern
    // (`app`), or has three path parts (`*/*/*`)
    for (pattern, keep) in [
        ("app", &(|n: &str| n == "app") as &dyn Fn(&str) -> bool),
        ("*/*/*", &|n: &str| n.matches('/').count() == 2),
    ] {
        let mut want: Vec<(String, Vec<String>)> = api
            .iter()
            .filter_map(|i| {
                let tags: Vec<String> = strs(&i["RepoTags"])
                    .into_iter()
                    .filter(|t| t != "<none>:<none>" && keep(&name_of(t)))
                    .collect();
                (!tags.is_empty()).then(|| (i["Id"].as_str().unwrap().to_owned(), tags))
            })
            .collect();
        want.sort();
        assert!(!want.is_empty());
        let filter = format!("reference={pattern}");
        for args in [vec!["images", "--filter", &filter], vec!["images", pattern]] {
            let v = json(&s.root, &args);
            let mut ours: Vec<(String, Vec<String>)> = v["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| (i["id"].as_str().unwrap().to_owned(), strs(&i["repo_tags"])))
                .collect();
            ours.sort();
            assert_eq!(ours, want, "{args:?}");
        }
    }
    let (code, _, err) = run(&s.root, &["images", "--filter", "reference=a["]);
    assert_eq!(code, 2, "{err}");
}

/// `label=`: the image config's labels (every one given must match); `before=`/`since=`:
/// strictly older/newer than the named image (image inspect's `Created`).
#[test]
fn label_before_since_filters() {
    let s = SampleRoot::unpack("full");
    let listed: Vec<String> = api_images(&s, "api-images.json")
        .iter()
        .map(|i| i["Id"].as_str().unwrap().to_owned())
        .collect();
    let inspect = s.daemon_json("image-inspect.json");
    let inspect = inspect.as_array().unwrap();
    let ids = |args: &[&str]| -> Vec<String> {
        let v = json(&s.root, args);
        let mut out: Vec<String> = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        out.sort();
        out
    };
    let want = |f: &dyn Fn(&Value) -> bool| -> Vec<String> {
        let mut out: Vec<String> = inspect
            .iter()
            .filter(|i| listed.iter().any(|l| l == i["Id"].as_str().unwrap()) && f(i))
            .map(|i| i["Id"].as_str().unwrap().to_owned())
            .collect();
        out.sort();
        out.dedup();
        out
    };
    let label = |i: &Value, k: &str| i["Config"]["Labels"][k].as_str().map(str::to_owned);
    let role_app = want(&|i| label(i, "org.example.role").as_deref() == Some("app"));
    assert!(!role_app.is_empty());
    assert_eq!(
        ids(&["images", "--filter", "label=org.example.role=app"]),
        role_app
    );
    let both = want(&|i| {
        label(i, "org.example.role").is_some() && label(i, "org.example.builder").is_some()
    });
    assert_eq!(
        ids(&[
            "images",
            "--filter",
            "label=org.example.role",
            "--filter",
            "label=org.example.builder"
        ]),
        both
    );
    let created = |name: &str| -> jiff::Timestamp {
        inspect
            .iter()
            .find(|i| strs(&i["RepoTags"]).iter().any(|t| t == name))
            .unwrap()["Created"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let at = |i: &Value| -> jiff::Timestamp { i["Created"].as_str().unwrap().parse().unwrap() };
    let b = created("dangle:1");
    assert_eq!(
        ids(&["images", "--filter", "before=dangle:1"]),
        want(&|i| at(i) < b)
    );
    let a = created("base2:1");
    assert_eq!(
        ids(&["images", "--filter", "since=base2:1"]),
        want(&|i| at(i) > a)
    );
    assert_eq!(
        ids(&[
            "images",
            "--filter",
            "since=base2:1",
            "--filter",
            "before=dangle:1"
        ]),
        want(&|i| at(i) > a && at(i) < b)
    );
    // until=TIME: created strictly before it (RFC 3339 or Unix seconds)
    let whole = jiff::Timestamp::from_second(b.as_second()).unwrap();
    let until = format!("until={}", b.as_second());
    assert_eq!(
        ids(&["images", "--filter", &until]),
        want(&|i| at(i) < whole)
    );
    let until = format!("until={b}");
    assert_eq!(ids(&["images", "--filter", &until]), want(&|i| at(i) < b));
    assert_eq!(ids(&["images", "--filter", "until=1s"]), want(&|_| true));
    let (code, _, err) = run(&s.root, &["images", "--filter", "before=nosuch:1"]);
    assert_eq!(code, 2);
    assert!(err.contains("No such image: nosuch:1"), "{err}");
}

/// IMAGE that names nothing loadable: a next step in the message.
#[test]
fn unknown_images_come_with_a_next_step() {
    let s = SampleRoot::unpack("full");
    // docker reads `base` as `base:latest`; the repository has other tags: suggest them
    let api = api_images(&s, "api-images.json");
    let base_tags: Vec<String> = api
        .iter()
        .flat_map(|i| strs(&i["RepoTags"]))
        .filter(|t| t.starts_with("base:"))
        .collect();
    assert!(!base_tags.is_empty());
    for cmd in ["tree", "history"] {
        let (code, out, err) = run(&s.root, &[cmd, "base"]);
        assert_eq!((code, out.as_str()), (2, ""));
        assert!(
            err.starts_with("dockscope: error: No such image: base"),
            "{err}"
        );
        for t in &base_tags {
            assert!(err.contains(&format!("did you mean {t}?")), "{err}");
        }
    }
    // a container's name
    let (code, _, err) = run(&s.root, &["tree", "c-running"]);
    assert_eq!(code, 2);
    assert!(err.contains("c-running is a container"), "{err}");
    // nothing at all
    let (_, _, err) = run(&s.root, &["tree", "nothing-like-it"]);
    assert!(err.contains("dockscope images -a"), "{err}");
}

/// `--root X/overlay2`, `X/image`, `X/image/overlay2`, `X/containers`: point at X.
#[test]
fn a_directory_of_a_data_root_is_named() {
    let s = SampleRoot::unpack("full");
    for sub in [
        "overlay2",
        "image",
        "image/overlay2",
        "containers",
        "volumes",
    ] {
        let path = s.root.join(sub);
        let (code, out, err) = run(&path, &["images"]);
        assert_eq!((code, out.as_str()), (2, ""), "{sub}");
        assert!(
            err.contains(&format!(
                "this looks like the {sub} dir of a data root: use --root {}",
                s.root.display()
            )),
            "{sub}: {err}"
        );
    }
    // the data root itself is fine
    let (code, _, _) = run(&s.root, &["images"]);
    assert_eq!(code, 0);
    // a root that is not there, or not a data root: where to find the right one
    let empty = tempfile::tempdir().unwrap();
    for path in [s.root.join("no-such-dir"), empty.path().to_owned()] {
        let (code, _, err) = run(&path, &["images"]);
        assert_eq!(code, 2);
        assert!(err.starts_with("dockscope: error: "), "{err}");
        assert!(err.contains("DockerRootDir"), "{err}");
    }
}

/// clap's usage errors in the one style every error has, exit 2.
#[test]
fn usage_errors_in_one_style() {
    let s = SampleRoot::unpack("empty");
    for args in [&["images", "--bogus"][..], &["ps", "-n", "x"][..]] {
        let (code, out, err) = run(&s.root, args);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        assert!(err.starts_with("dockscope: error: "), "{args:?}: {err}");
        assert!(err.contains("--help"), "{err}");
    }
    let (code, out, _) = run(&s.root, &["images", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("--filter"));
}
