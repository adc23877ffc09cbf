//! `--format` on every listing, against what dockerd 20.10 and its CLI printed for the
//! same root: the recorded tables (`docker images -a --no-trunc --digests`,
//! `docker ps -a --size --no-trunc`, `docker history --no-trunc`, `docker volume ls`) give
//! docker's own rendering of each field; the Engine API answers give the raw values.

mod common;
use common::{cells, run, unix, SampleRoot};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn ok(root: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(root, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// Tab-separated template output, one Vec per line.
fn tsv(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn images_fields_match_docker_images() {
    let s = SampleRoot::unpack("full");
    let recorded = s.daemon_text("images.txt");
    let headers = ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"];
    let mut theirs: Vec<Vec<String>> = cells(&recorded, &headers)
        .into_iter()
        .map(|r| {
            vec![
                r["IMAGE ID"].clone(),
                r["REPOSITORY"].clone(),
                r["TAG"].clone(),
                r["DIGEST"].clone(),
                r["SIZE"].clone(),
            ]
        })
        .collect();
    for root in [&s.root, &s.archive] {
        let out = ok(
            root,
            &[
                "images",
                "-a",
                "--no-trunc",
                "--digests",
                "--format",
                "{{.ID}}\\t{{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.Size}}",
            ],
        );
        let mut ours = tsv(&out);
        assert_eq!(ours.len(), theirs.len());
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs);
    }
    // CreatedAt is Go's time of the API's Created (seconds), in UTC.
    let api = s.daemon_json("api-images-all.json");
    let created: BTreeMap<&str, i64> = api
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["Id"].as_str().unwrap(), i["Created"].as_i64().unwrap()))
        .collect();
    let out = ok(
        &s.root,
        &[
            "images",
            "-a",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.CreatedAt}}",
        ],
    );
    for l in out.lines() {
        let (id, at) = l.split_once(' ').unwrap();
        let at = at.strip_suffix(" +0000 UTC").expect("Go's UTC time");
        let t = format!("{}Z", at.replace(' ', "T"));
        assert_eq!(unix(&t), created[id], "{id}");
    }
}

#[test]
fn images_json_has_dockers_fields() {
    let s = SampleRoot::unpack("full");
    let out = ok(&s.root, &["images", "--format", "{{json .}}"]);
    let recorded = s.daemon_text("images-default.txt");
    let table = cells(
        &recorded,
        &["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
    );
    let api = s.daemon_json("api-images.json");
    let api_size: BTreeMap<String, u64> = api
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["Id"].as_str().unwrap()[7..19].to_owned(),
                i["Size"].as_u64().unwrap(),
            )
        })
        .collect();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), table.len());
    for l in lines {
        let v: Value = serde_json::from_str(l).expect("one JSON object a line");
        let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        // docker 28's image formatter context: its methods without arguments
        assert_eq!(
            keys,
            [
                "Containers",
                "CreatedAt",
                "CreatedSince",
                "Digest",
                "ID",
                "Repository",
                "SharedSize",
                "Size",
                "Tag",
                "UniqueSize",
                "VirtualSize"
            ]
            .into_iter()
            .collect()
        );
        let row = table
            .iter()
            .find(|r| {
                r["REPOSITORY"] == v["Repository"]
                    && r["TAG"] == v["Tag"]
                    && r["IMAGE ID"].contains(v["ID"].as_str().unwrap())
            })
            .unwrap_or_else(|| panic!("{l} not in docker's table"));
        assert_eq!(v["Size"], row["SIZE"].as_str());
        assert_eq!(v["SharedSize"], "N/A");
        assert!(api_size.contains_key(v["ID"].as_str().unwrap()));
        assert!(v["CreatedSince"].as_str().unwrap().ends_with(" ago"));
    }
    // json.Marshal escapes < and > (docker prints "\u003cnone\u003e")
    let none = out
        .lines()
        .find(|l| l.contains("\"Repository\":\"\\u003cnone\\u003e\""));
    assert!(none.is_some(), "{out}");
    // `--format json` is `{{json .}}`
    assert_eq!(ok(&s.root, &["images", "--format", "json"]), out);
}

/// `table`: docker's headers, columns as its tabwriter aligns them (each column as wide
/// as its widest cell plus 3, at least 10).
#[test]
fn table_header_and_alignment() {
    let s = SampleRoot::unpack("full");
    let plain = ok(
        &s.root,
        &["images", "--format", "{{.ID}}\\t{{.Repository}}\\t{{.Tag}}"],
    );
    let rows = tsv(&plain);
    let out = ok(
        &s.root,
        &[
            "images",
            "--format",
            "table {{.ID}}\\t{{.Repository}}\\t{{.Tag}}",
        ],
    );
    let mut lines = out.lines();
    let head = lines.next().unwrap();
    let header = ["IMAGE ID", "REPOSITORY", "TAG"];
    let w0 = rows
        .iter()
        .map(|r| r[0].len())
        .chain([header[0].len()])
        .max()
        .unwrap()
        + 3;
    let w1 = rows
        .iter()
        .map(|r| r[1].len())
        .chain([header[1].len()])
        .max()
        .unwrap()
        + 3;
    let (w0, w1) = (w0.max(10), w1.max(10));
    let line = |c: [&str; 3]| format!("{:<w0$}{:<w1$}{}", c[0], c[1], c[2]);
    assert_eq!(head, line(header));
    for (l, r) in lines.zip(&rows) {
        assert_eq!(l, line([&r[0], &r[1], &r[2]]));
    }
}

#[test]
fn ps_fields_match_docker_ps() {
    let s = SampleRoot::unpack("full");
    let recorded = s.daemon_text("ps.txt");
    let headers = [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
        "SIZE",
    ];
    let theirs: Vec<Vec<String>> = cells(&recorded, &headers)
        .into_iter()
        .map(|r| {
            vec![
                r["CONTAINER ID"].clone(),
                r["IMAGE"].clone(),
                r["COMMAND"].clone(),
                r["PORTS"].clone(),
                r["NAMES"].clone(),
                r["SIZE"].clone(),
            ]
        })
        .collect();
    // .Size makes the sizes measured, as docker does when the template reads it.
    let out = ok(
        &s.root,
        &[
            "ps",
            "-a",
            "--no-trunc",
            "--format",
            "{{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.Ports}}\\t{{.Names}}\\t{{.Size}}",
        ],
    );
    assert_eq!(tsv(&out), theirs, "same rows, same order (newest first)");
    // -q is {{.ID}}
    let q = ok(&s.root, &["ps", "-aq", "--no-trunc"]);
    let ids: Vec<&str> = theirs.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(q.lines().collect::<Vec<_>>(), ids);
    let q = ok(&s.root, &["ps", "-a", "--format", "{{.ID}}"]);
    let short: Vec<&str> = ids.iter().map(|i| &i[..12]).collect();
    assert_eq!(q.lines().collect::<Vec<_>>(), short);
}

#[test]
fn ps_json_agrees_with_the_engine_api() {
    let s = SampleRoot::unpack("full");
    let api = s.daemon_json("api-containers.json");
    let out = ok(&s.root, &["ps", "-a", "--format", "{{json .}}"]);
    let ours: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let api = api.as_array().unwrap();
    assert_eq!(ours.len(), api.len());
    for (o, a) in ours.iter().zip(api) {
        let keys: BTreeSet<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Command",
                "CreatedAt",
                "ID",
                "Image",
                "Labels",
                "LocalVolumes",
                "Mounts",
                "Names",
                "Networks",
                "Platform",
                "Ports",
                "RunningFor",
                "Size",
                "State",
                "Status"
            ]
            .into_iter()
            .collect()
        );
        assert_eq!(o["ID"], a["Id"].as_str().unwrap()[..12]);
        assert_eq!(o["Names"], a["Names"][0].as_str().unwrap()[1..]);
        assert_eq!(o["State"], a["State"]);
        let mut labels: Vec<String> = a["Labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        labels.sort();
        assert_eq!(o["Labels"], labels.join(","));
        let nets: Vec<&str> = a["NetworkSettings"]["Networks"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(o["Networks"], nets.join(","));
        let mounts = a["Mounts"].as_array().unwrap();
        let local = mounts.iter().filter(|m| m["Driver"] == "local").count();
        assert_eq!(o["LocalVolumes"], local.to_string());
        let names: BTreeSet<String> = o["Mounts"]
            .as_str()
            .unwrap()
            .split(',')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect();
        let want: BTreeSet<String> = mounts
            .iter()
            .map(|m| {
                let n = m["Name"]
                    .as_str()
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| m["Source"].as_str().unwrap());
                // docker's Ellipsis(name, 15)
                if n.chars().count() > 15 {
                    format!("{}…", n.chars().take(14).collect::<String>())
                } else {
                    n.to_owned()
                }
            })
            .collect();
        assert_eq!(names, want);
        let t = o["CreatedAt"]
            .as_str()
            .unwrap()
            .strip_suffix(" +0000 UTC")
            .unwrap();
        assert_eq!(
            unix(&format!("{}Z", t.replace(' ', "T"))),
            a["Created"].as_i64().unwrap()
        );
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // lists the recorded answers beside the capture
fn history_fields_match_docker_history() {
    let s = SampleRoot::unpack("full");
    let dir = s.daemon.as_ref().unwrap().join("history");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let id = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let recorded = std::fs::read_to_string(&path).unwrap();
        let headers = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"];
        let theirs: Vec<Vec<String>> = cells(&recorded, &headers)
            .into_iter()
            .map(|r| vec![r["IMAGE"].clone(), r["SIZE"].clone(), r["COMMENT"].clone()])
            .collect();
        let out = ok(
            &s.root,
            &[
                "history",
                "--no-trunc",
                "--format",
                "{{.ID}}\\t{{.Size}}\\t{{.Comment}}",
                &id,
            ],
        );
        assert_eq!(tsv(&out), theirs, "{id}");
        let q = ok(&s.root, &["history", "-q", "--no-trunc", &id]);
        let ids: Vec<&str> = theirs.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(q.lines().collect::<Vec<_>>(), ids, "{id} -q");
        // {{json .}}: docker's history formatter context
        for l in ok(&s.root, &["history", "--format", "{{json .}}", &id]).lines() {
            let v: Value = serde_json::from_str(l).unwrap();
            let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(
                keys,
                [
                    "Comment",
                    "CreatedAt",
                    "CreatedBy",
                    "CreatedSince",
                    "ID",
                    "Size"
                ]
            );
        }
        // CreatedAt is RFC 3339 of the API's Created
        let api = s.daemon_json(&format!("api-history/{id}.json"));
        let out = ok(&s.root, &["history", "--format", "{{.CreatedAt}}", &id]);
        let want: Vec<i64> = api
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["Created"].as_i64().unwrap())
            .collect();
        let got: Vec<i64> = out.lines().map(unix).collect();
        assert_eq!(got, want, "{id}");
        // --human=false: RFC 3339 times and byte counts, as the API gives them
        let out = ok(&s.root, &["history", "--human=false", "--no-trunc", &id]);
        let mut lines = out.lines();
        assert!(lines.next().unwrap().contains("CREATED AT"));
        for (l, h) in lines.zip(api.as_array().unwrap()) {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(unix(f[1]), h["Created"].as_i64().unwrap(), "{id}");
            let size = format!("  {}", h["Size"]);
            assert!(
                l.ends_with(&size) || l.contains(&format!("{size}  ")),
                "{id}: {l}"
            );
        }
        let out = ok(
            &s.root,
            &[
                "history",
                "-H=false",
                "--format",
                "{{.CreatedSince}} {{.Size}}",
                &id,
            ],
        );
        let want: Vec<String> = api
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let t = jiff::Timestamp::from_second(h["Created"].as_i64().unwrap()).unwrap();
                format!("{} {}", t.strftime("%Y-%m-%dT%H:%M:%SZ"), h["Size"])
            })
            .collect();
        assert_eq!(out.lines().collect::<Vec<_>>(), want, "{id}");
        checked += 1;
    }
    assert!(checked > 10);
}

#[test]
fn volume_fields_match_docker_volume_ls() {
    let s = SampleRoot::unpack("full");
    let recorded = s.daemon_text("volumes.txt");
    let theirs: Vec<Vec<String>> = cells(&recorded, &["DRIVER", "VOLUME NAME"])
        .into_iter()
        .map(|r| vec![r["DRIVER"].clone(), r["VOLUME NAME"].clone()])
        .collect();
    let out = ok(&s.root, &["volumes", "--format", "{{.Driver}}\\t{{.Name}}"]);
    assert_eq!(tsv(&out), theirs);
    // docker's default table, asked for by its template
    let out = ok(
        &s.root,
        &["volumes", "--format", "table {{.Driver}}\\t{{.Name}}"],
    );
    let want: Vec<String> = recorded.lines().map(|l| l.trim_end().to_owned()).collect();
    let got: Vec<String> = out.lines().map(|l| l.trim_end().to_owned()).collect();
    assert_eq!(got, want);
    // {{json .}}: docker 28's volume formatter context
    for l in ok(&s.root, &["volumes", "--format", "json"]).lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Availability",
                "Driver",
                "Group",
                "Labels",
                "Links",
                "Mountpoint",
                "Name",
                "Scope",
                "Size",
                "Status"
            ]
        );
    }
    // Mountpoint and Scope as the API gives them
    let api = s.daemon_json("api-volumes.json");
    let out = ok(
        &s.root,
        &[
            "volumes",
            "--format",
            "{{.Name}}\\t{{.Mountpoint}}\\t{{.Scope}}",
        ],
    );
    let mut want: Vec<Vec<String>> = api["Volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            vec![
                v["Name"].as_str().unwrap().to_owned(),
                v["Mountpoint"].as_str().unwrap().to_owned(),
                v["Scope"].as_str().unwrap().to_owned(),
            ]
        })
        .collect();
    want.sort();
    assert_eq!(tsv(&out), want);
}

#[test]
fn inspect_format_reads_the_objects() {
    let s = SampleRoot::unpack("full");
    let recorded = s.daemon_json("container-inspect.json");
    let list = recorded.as_array().unwrap();
    let names: Vec<&str> = list
        .iter()
        .map(|c| c["Name"].as_str().unwrap().trim_start_matches('/'))
        .collect();
    let mut args = vec![
        "inspect",
        "-f",
        "{{.Id}} {{.Image}} {{.State.Status}} {{.State.ExitCode}} {{json .Config.Cmd}}",
    ];
    args.extend(&names);
    let out = ok(&s.root, &args);
    let want: Vec<String> = list
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {} {}",
                c["Id"].as_str().unwrap(),
                c["Image"].as_str().unwrap(),
                c["State"]["Status"].as_str().unwrap(),
                c["State"]["ExitCode"],
                serde_json::to_string(&c["Config"]["Cmd"]).unwrap()
            )
        })
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
}

#[test]
fn bad_templates_and_combinations() {
    let s = SampleRoot::unpack("full");
    for (args, says) in [
        (
            &["images", "--format", "{{.ID"][..],
            "template parsing error",
        ),
        (&["ps", "--format", "{{nosuch .ID}}"][..], "not defined"),
        (
            &["history", "base:1", "--format", "{{if .ID}}"][..],
            "template parsing error",
        ),
        (
            &["volumes", "--format", "{{.Nope}}"][..],
            "can't evaluate field Nope",
        ),
        (
            &["images", "--format", "{{.Names}}"][..],
            "can't evaluate field Names",
        ),
        (
            &["images", "--json", "--format", "{{.ID}}"][..],
            "cannot be used together",
        ),
        (&["ps", "--json", "-q"][..], "cannot be used together"),
    ] {
        let (code, out, err) = run(&s.root, args);
        assert_eq!(code, 2, "{args:?}");
        assert_eq!(out, "", "{args:?}");
        assert!(err.starts_with("dockscope: error: "), "{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // -q wins over --format, with docker's warning
    let (code, out, err) = run(&s.root, &["ps", "-a", "-q", "--format", "{{.Names}}"]);
    assert_eq!(code, 0);
    assert!(err.contains("Ignoring custom format"), "{err}");
    assert_eq!(out, ok(&s.root, &["ps", "-aq"]));
}

/// The `modern` capture (dockerd 28.5, overlay2 graph driver), when the repository has it:
/// the daemon's own answers to the flags this release adds.
fn modern() -> Option<SampleRoot> {
    let have = common::repo()
        .join("sample-roots/modern/root.tar.gz")
        .exists();
    if !have {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("sample-roots/modern is not in this checkout: nothing to compare");
        }
    }
    have.then(|| SampleRoot::unpack("modern"))
}

#[test]
fn modern_root_answers_as_dockerd_28() {
    let Some(s) = modern() else { return };
    // docker images --filter dangling=true -q; docker images -a --filter dangling=true -q --no-trunc
    assert_eq!(
        ok(&s.root, &["images", "--filter", "dangling=true", "-q"]),
        s.daemon_text("images-dangling-q.txt")
    );
    assert_eq!(
        ok(
            &s.root,
            &[
                "images",
                "-a",
                "--filter",
                "dangling=true",
                "-q",
                "--no-trunc"
            ]
        ),
        s.daemon_text("images-dangling-a-q-no-trunc.txt")
    );
    // docker images --digests: every column but CREATED
    let heads = ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"];
    let key = |r: &BTreeMap<String, String>| {
        vec![
            r["REPOSITORY"].clone(),
            r["TAG"].clone(),
            r["DIGEST"].clone(),
            r["IMAGE ID"].clone(),
            r["SIZE"].clone(),
        ]
    };
    let mut theirs: Vec<Vec<String>> = cells(&s.daemon_text("images-digests.txt"), &heads)
        .iter()
        .map(key)
        .collect();
    let mut ours: Vec<Vec<String>> = cells(&ok(&s.root, &["images", "--digests"]), &heads)
        .iter()
        .map(key)
        .collect();
    theirs.sort();
    ours.sort();
    assert_eq!(ours, theirs);
    // docker ps -a --size, through docker's own default template
    let heads = [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
        "SIZE",
    ];
    let key = |r: &BTreeMap<String, String>| {
        ["CONTAINER ID", "IMAGE", "COMMAND", "PORTS", "NAMES", "SIZE"]
            .iter()
            .map(|h| r[*h].clone())
            .collect::<Vec<_>>()
    };
    let theirs: Vec<Vec<String>> = cells(&s.daemon_text("ps-size.txt"), &heads)
        .iter()
        .map(key)
        .collect();
    let out = ok(
        &s.root,
        &[
            "ps",
            "-a",
            "--format",
            "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Ports}}\\t{{.Names}}\\t{{.Size}}",
        ],
    );
    let ours: Vec<Vec<String>> = cells(&out, &heads).iter().map(key).collect();
    assert_eq!(ours, theirs);
    // docker volume ls, byte for byte
    assert_eq!(
        ok(
            &s.root,
            &["volumes", "--format", "table {{.Driver}}\\t{{.Name}}"]
        ),
        s.daemon_text("volumes.txt")
    );
}

/// `docker history IMAGE` (truncated ids and CREATED BY) on the modern capture.
#[test]
#[allow(clippy::disallowed_methods)] // lists the recorded answers beside the capture
fn modern_history_truncated_as_docker() {
    let Some(s) = modern() else { return };
    let dir = s.daemon.as_ref().unwrap().join("history");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(id) = name.strip_suffix(".trunc.txt") else {
            continue;
        };
        let recorded = std::fs::read_to_string(&path).unwrap();
        let heads = ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"];
        let key = |r: &BTreeMap<String, String>| {
            vec![
                r["IMAGE"].clone(),
                r["CREATED BY"].clone(),
                r["SIZE"].clone(),
                r["COMMENT"].clone(),
            ]
        };
        let theirs: Vec<Vec<String>> = cells(&recorded, &heads).iter().map(key).collect();
        let out = ok(
            &s.root,
            &[
                "history",
                "--format",
                "table {{.ID}}\\t{{.CreatedSince}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}",
                id,
            ],
        );
        let ours: Vec<Vec<String>> = cells(&out, &heads).iter().map(key).collect();
        assert_eq!(ours, theirs, "{id}");
        checked += 1;
    }
    assert!(checked > 5);
}
