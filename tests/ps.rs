//! `dockscope ps` against what dockerd 20.10 answered for the same root
//! (`docker ps -a --size --no-trunc`, `GET /containers/json?all=1&size=1`), and the
//! docker-explorer captures.
#![allow(clippy::disallowed_methods)] // plants a secret in a copy of a capture

mod common;
use common::{cells, explorer_archive, json, run, unix, SampleRoot};
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

/// Every field of the Engine API's container list that can be known offline.
fn check_against_api(root: &Path, s: &SampleRoot, name: &str) {
    let api_list = s.daemon_json("api-containers.json");
    let inspect = by_id(&s.daemon_json("container-inspect.json"), "Id");
    let ours = json(root, &["ps", "-a", "--size"]);
    assert_eq!(ours["problems"], Value::Array(vec![]), "a clean capture");
    // same containers, same order (newest first)
    let api_ids: Vec<&str> = api_list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Id"].as_str().unwrap())
        .collect();
    let our_ids: Vec<&str> = ours["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(our_ids, api_ids);
    let api = by_id(&api_list, "Id");
    let ours = by_id(&ours["containers"], "id");
    for (id, a) in &api {
        let o = &ours[id];
        let i = &inspect[id];
        assert_eq!(
            format!("/{}", o["name"].as_str().unwrap()),
            a["Names"][0].as_str().unwrap(),
            "{id} name"
        );
        assert_eq!(o["image"], a["Image"], "{id} image");
        assert_eq!(o["image_id"], a["ImageID"], "{id} image id");
        assert_eq!(o["command"], a["Command"], "{id} command");
        assert_eq!(
            unix(o["created"].as_str().unwrap()),
            a["Created"].as_i64().unwrap(),
            "{id} created"
        );
        assert_eq!(o["created"], i["Created"], "{id} created (inspect)");
        assert_eq!(o["state"], a["State"], "{id} state");
        assert_eq!(o["exit_code"], i["State"]["ExitCode"], "{id} exit code");
        assert_eq!(o["started_at"], i["State"]["StartedAt"], "{id} started");
        assert_eq!(o["finished_at"], i["State"]["FinishedAt"], "{id} finished");
        assert_eq!(
            o["size_rw"].as_u64().unwrap(),
            a["SizeRw"].as_u64().unwrap_or(0),
            "{id} SizeRw"
        );
        assert_eq!(o["size_root_fs"], a["SizeRootFs"], "{id} SizeRootFs");
        assert_eq!(o["labels"], a["Labels"], "{id} labels");
        assert_eq!(o["ports"], Value::Array(vec![]), "{id} ports");
        assert_eq!(a["Ports"], Value::Array(vec![]), "{id} ports (api)");
        let running = ["running", "paused", "restarting"].contains(&a["State"].as_str().unwrap());
        assert_eq!(o["recorded_running"], running, "{id} recorded running");
        // STATUS: docker's words, with times absolute and the capture noted
        let st = o["status"].as_str().unwrap();
        let theirs = a["Status"].as_str().unwrap();
        match a["State"].as_str().unwrap() {
            "running" => assert_eq!(st, "Up (recorded running at capture)"),
            "paused" => {
                assert!(theirs.starts_with("Up ") && theirs.ends_with("(Paused)"));
                assert_eq!(st, "Up (Paused) (recorded paused at capture)");
            }
            "created" => assert_eq!(st, theirs),
            "exited" => {
                let code = i["State"]["ExitCode"].as_i64().unwrap();
                assert!(theirs.starts_with(&format!("Exited ({code}) ")), "{theirs}");
                assert!(st.starts_with(&format!("Exited ({code}) 2026-")), "{st}");
            }
            other => panic!("unexpected state {other}"),
        }
        // mounts as the API lists them (sources as recorded; the API's anonymous
        // volume source is "" as in config.v2.json)
        let mut am: Vec<(String, String, String, String, String, bool, String)> = a["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["Type"].as_str().unwrap().to_owned(),
                    m["Name"].as_str().unwrap_or("").to_owned(),
                    m["Source"].as_str().unwrap().to_owned(),
                    m["Destination"].as_str().unwrap().to_owned(),
                    m["Mode"].as_str().unwrap().to_owned(),
                    m["RW"].as_bool().unwrap(),
                    m["Propagation"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut om: Vec<(String, String, String, String, String, bool, String)> = o["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["type"].as_str().unwrap().to_owned(),
                    m["name"].as_str().unwrap_or("").to_owned(),
                    m["source"].as_str().unwrap().to_owned(),
                    m["destination"].as_str().unwrap().to_owned(),
                    m["mode"].as_str().unwrap().to_owned(),
                    m["rw"].as_bool().unwrap(),
                    m["propagation"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        am.sort();
        om.sort();
        assert_eq!(om, am, "{id} mounts");
        // what only the files tell
        assert_eq!(
            o["log_driver"], i["HostConfig"]["LogConfig"]["Type"],
            "{id}"
        );
        assert_eq!(
            o["restart_policy"]["name"],
            i["HostConfig"]["RestartPolicy"]["Name"]
        );
        assert_eq!(o["restart_count"], i["RestartCount"]);
        let log = i["LogPath"].as_str().unwrap();
        let captured = format!("/tmp/dockscope-capture/{name}/root/");
        let expect = log.strip_prefix(&captured).unwrap_or(log);
        assert_eq!(o["log_path"], expect, "{id} log path");
        assert!(o["rw_dir"].as_str().unwrap().starts_with("overlay2/"));
        assert!(o["init_dir"].as_str().unwrap().ends_with("-init"));
        assert!(o["log_bytes"].is_u64());
    }
    // rotated logs are counted: c-logs has three files
    if let Some(logs) = ours.values().find(|c| c["name"] == "c-logs") {
        assert!(logs["log_bytes"].as_u64().unwrap() > 2048, "{logs}");
    }
}

#[test]
fn ps_agrees_with_the_engine_api() {
    for name in ["full", "crashed"] {
        let s = SampleRoot::unpack(name);
        check_against_api(&s.root, &s, name);
        check_against_api(&s.archive, &s, name);
    }
}

/// The table `docker ps -a --size --no-trunc` printed: ids, images, commands, names,
/// sizes; STATUS by its first word and exit code.
#[test]
fn table_matches_docker_ps() {
    for name in ["full", "crashed"] {
        table_matches(&SampleRoot::unpack(name));
    }
    let s = SampleRoot::unpack("full");
    // Without --no-trunc: short ids, the orphan's image as a short id, commands cut.
    let (_, out, _) = run(&s.root, &["ps", "-a"]);
    let rows = cells(
        &out,
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ],
    );
    let api = s.daemon_json("api-containers.json");
    let api_orphan = api
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Names"][0] == "/c-orphan")
        .unwrap();
    let orphan = rows.iter().find(|r| r["NAMES"] == "c-orphan").unwrap();
    // its image is gone: docker shows the 12-hex id
    assert_eq!(
        orphan["IMAGE"],
        api_orphan["ImageID"].as_str().unwrap()[7..19]
    );
    assert_eq!(
        orphan["CONTAINER ID"],
        api_orphan["Id"].as_str().unwrap()[..12]
    );
    assert_eq!(orphan["COMMAND"], "\"sh -c 'cat /orphan.…\"");
    let killed = rows.iter().find(|r| r["NAMES"] == "c-killed").unwrap();
    assert_eq!(killed["COMMAND"], "\"sleep 1000000\"");
    assert!(!out.contains("SIZE"));
}

fn table_matches(s: &SampleRoot) {
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
    let theirs = cells(&s.daemon_text("ps.txt"), &headers);
    for root in [&s.root, &s.archive] {
        let (code, out, err) = run(root, &["ps", "-a", "--size", "--no-trunc"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(err, "");
        let ours = cells(&out, &headers);
        assert_eq!(ours.len(), theirs.len());
        for (o, t) in ours.iter().zip(&theirs) {
            for col in ["CONTAINER ID", "IMAGE", "COMMAND", "PORTS", "NAMES", "SIZE"] {
                assert_eq!(o[col], t[col], "{col} of {}", t["NAMES"]);
            }
            let word = |s: &str| -> String {
                // "Exited (3) 5 seconds ago" -> "Exited (3)", "Up 2 seconds" -> "Up"
                let w: Vec<&str> = s.split_whitespace().collect();
                if w[0] == "Exited" {
                    format!("{} {}", w[0], w[1])
                } else {
                    w[0].to_owned()
                }
            };
            assert_eq!(word(&o["STATUS"]), word(&t["STATUS"]), "{}", t["NAMES"]);
            assert_eq!(
                o["STATUS"].contains("(Paused)"),
                t["STATUS"].contains("(Paused)")
            );
        }
    }
}

#[test]
fn default_lists_only_containers_recorded_running() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["ps"]);
    let names: Vec<&str> = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["c-paused", "c-running"]);
    assert!(
        v["containers"][0]["size_rw"].is_null(),
        "no sizes without --size"
    );
    let (code, out, _) = run(&s.root, &["ps"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Up (Paused) (recorded paused at capture)"),
        "{out}"
    );
    assert!(out.contains("Up (recorded running at capture)"), "{out}");
    assert_eq!(out.lines().count(), 3);
}

/// Env values may be secrets: hidden unless --show-env, in ps and in inspect.
#[test]
fn env_values_are_hidden_by_default() {
    let s = SampleRoot::unpack("full");
    let secret = "hunter2-s3cr3t";
    // plant a secret in c-exit0's Env, as `docker run -e API_TOKEN=…` would store it
    let v = json(&s.root, &["ps", "-a"]);
    let id = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "c-exit0")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cfg = s.path(&format!("containers/{id}/config.v2.json"));
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    doc["Config"]["Env"]
        .as_array_mut()
        .unwrap()
        .push(Value::String(format!("API_TOKEN={secret}")));
    std::fs::write(&cfg, serde_json::to_vec(&doc).unwrap()).unwrap();

    for args in [
        &["ps", "-a", "--json"][..],
        &["ps", "-a", "--no-trunc"],
        &["inspect", "c-exit0"],
        &["inspect", "c-exit0", "--json"],
    ] {
        let (code, out, err) = run(&s.root, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(!out.contains(secret), "{args:?} shows the secret");
        assert!(!err.contains(secret), "{args:?} shows the secret");
        if args[0] == "inspect" || args.contains(&"--json") {
            assert!(out.contains("API_TOKEN=<hidden>"), "{args:?}: {out}");
            assert!(out.contains("PATH=<hidden>"), "{args:?}");
        }
    }
    let v = json(&s.root, &["ps", "-a", "--show-env"]);
    let c = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "c-exit0")
        .unwrap();
    assert!(c["env"]
        .as_array()
        .unwrap()
        .contains(&Value::String(format!("API_TOKEN={secret}"))));
    let (_, out, _) = run(&s.root, &["inspect", "--show-env", "c-exit0"]);
    assert!(out.contains(&format!("API_TOKEN={secret}")));
}

/// docker-explorer's overlay2 capture (EXPECTED.md): five containers, one running.
#[test]
fn explorer_overlay2_containers() {
    let s = SampleRoot::explorer("overlay2.v2");
    for root in [s.root.clone(), explorer_archive("overlay2.v2")] {
        let v = json(&root, &["ps", "-a", "--size"]);
        assert_eq!(v["problems"], Value::Array(vec![]));
        let cs = by_id(&v["containers"], "id");
        let expect = [
            // id, name, state, created, size_rw, log bytes
            (
                "10acac0b3466813c9e1f85e2aa7d06298e51fbfe86bbcb6b7a19dd33d3798f6a",
                "reverent_wing",
                "created",
                "2018-05-16T10:51:28.695738065Z",
                0,
                215,
            ),
            (
                "61ba4e6c012c782186c649466157e05adfd7caa5b551432de51043893cae5353",
                "zealous_lalande",
                "created",
                "2018-05-16T10:51:22.291378147Z",
                0,
                192,
            ),
            (
                "8e8b7f23eb7cbd4dfe7e91646ddd0e0f524218e25d50113559f078dfb2690206",
                "festive_perlman",
                "running",
                "2018-05-16T10:51:39.271019533Z",
                5,
                0,
            ),
            (
                "9949fa153b778e39d6cab0a4e0ba60fa34a13fedb1f256d613a2f88c0c98408a",
                "mystifying_murdock",
                "exited",
                "2018-05-16T10:50:56.955107238Z",
                0,
                0,
            ),
            (
                "f83f963c67cbd36055f690fc988c1e42be06c1253e80113d1d516778c06b2841",
                "objective_franklin",
                "exited",
                "2018-05-16T10:51:04.83752424Z",
                0,
                75,
            ),
        ];
        assert_eq!(cs.len(), expect.len());
        for (id, name, state, created, rw, logs) in expect {
            let c = &cs[id];
            assert_eq!(c["name"], name);
            assert_eq!(c["state"], state, "{name}");
            assert_eq!(c["created"], created, "{name}");
            assert_eq!(c["image"], "busybox", "{name}");
            assert_eq!(
                c["image_id"],
                "sha256:8ac48589692a53a9b8c2d1ceaa6b402665aa7fe667ba51ccc03002300856d8c7"
            );
            assert_eq!(c["size_rw"], rw, "{name}");
            assert_eq!(c["size_root_fs"], rw + 1_146_369, "{name}");
            assert_eq!(c["log_bytes"], logs, "{name}");
            assert_eq!(c["recorded_running"], state == "running", "{name}");
            assert_eq!(c["restart_policy"]["name"], "no");
            assert_eq!(c["ports"], Value::Array(vec![]));
            assert_eq!(c["mounts"], Value::Array(vec![]));
        }
        assert_eq!(cs[expect[0].0]["exit_code"], 127);
        assert_eq!(cs[expect[0].0]["command"], "/bin/sh echo test");
        let running = json(&root, &["ps"]);
        let list = running["containers"].as_array().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["name"], "festive_perlman");
        assert_eq!(list[0]["started_at"], "2018-05-16T10:51:39.62598903Z");
    }
}

/// docker-explorer's volumes capture: each container's mounts.
#[test]
fn explorer_vols_mounts() {
    let s = SampleRoot::explorer("vols.v2");
    let v = json(&s.root, &["ps", "-a"]);
    let cs = by_id(&v["containers"], "id");
    let vol = |id: &str| -> (String, String, String) {
        let m = &cs[id]["mounts"][0];
        (
            m["type"].as_str().unwrap().to_owned(),
            m["name"].as_str().unwrap_or("").to_owned(),
            m["destination"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        vol("712909b5ab80d8785841f12e361c218a2faf5365f9ed525f2a0d6b6590ba89cb"),
        (
            "volume".into(),
            "f5479c534bbc6e2b9861973c2fbb4863ff5b7b5843c098d7fb1a027fe730a4dc".into(),
            "/opt/vols/volume".into()
        )
    );
    assert_eq!(
        vol("44abb8ace3e657daa96c12be2bbab24f85dae478902e6c440d95d34c46860311"),
        (
            "volume".into(),
            "b44451174b5fd2ad7d1a580b527d66d4812eaea3ed717331183e846d020eb8aa".into(),
            "/opt/vols/volume".into()
        )
    );
    assert_eq!(
        vol("a000dd4eb4d5652602e0fbae425d57f18f601ccc51a3c1c53c4f7c3f8443a350"),
        (
            "volume".into(),
            "8858cf2c8ea9f74fbbe433b56dbaec042523a195227e2f2b7c860de70b5e74f8".into(),
            "/opt/vols/volume".into()
        )
    );
    let bind = &cs["8b6e90cc742bd63f6acb7ecd40ddadb4e5dee27d8db2b739963f7cd2c7bcff4a"]["mounts"];
    assert_eq!(
        bind.as_array().unwrap().len(),
        1,
        "no volume in the original file"
    );
    assert_eq!(bind[0]["type"], "bind");
    assert_eq!(bind[0]["source"], "/opt/vols/bind");
    assert_eq!(bind[0]["destination"], "/opt");
    assert_eq!(
        cs["44abb8ace3e657daa96c12be2bbab24f85dae478902e6c440d95d34c46860311"]["command"],
        "--name alpine_volume"
    );
}

#[test]
fn empty_root_has_no_containers() {
    let s = SampleRoot::unpack("empty");
    let v = json(&s.root, &["ps", "-a", "--size"]);
    assert_eq!(v["containers"], Value::Array(vec![]));
    assert_eq!(v["problems"], Value::Array(vec![]));
}

/// The API's containers (newest first) and `dockscope ps ARGS --no-trunc -q`.
fn api_and_ours(s: &SampleRoot, args: &[&str]) -> (Vec<Value>, Vec<String>) {
    let api = s
        .daemon_json("api-containers.json")
        .as_array()
        .unwrap()
        .clone();
    let mut all = vec!["ps", "-q", "--no-trunc"];
    all.extend(args);
    let (code, out, err) = run(&s.root, &all);
    assert_eq!(code, 0, "{args:?}: {err}");
    (api, out.lines().map(str::to_owned).collect())
}

fn ids_where(api: &[Value], f: impl Fn(&Value) -> bool) -> Vec<String> {
    api.iter()
        .filter(|c| f(c))
        .map(|c| c["Id"].as_str().unwrap().to_owned())
        .collect()
}

/// `docker ps --filter ...`, each expected list derived from the Engine API's answer
/// (`GET /containers/json?all=1`), in the daemon's order.
#[test]
fn filters_as_the_daemon() {
    let s = SampleRoot::unpack("full");
    // status= lists every state asked for, whatever -a says
    for state in ["exited", "created", "running", "paused"] {
        let (api, ours) = api_and_ours(&s, &["--filter", &format!("status={state}")]);
        let want = ids_where(&api, |c| c["State"] == state);
        assert_eq!(ours, want, "status={state}");
    }
    let (api, ours) = api_and_ours(
        &s,
        &["--filter", "status=exited", "--filter", "status=created"],
    );
    assert_eq!(
        ours,
        ids_where(&api, |c| c["State"] == "exited" || c["State"] == "created")
    );
    // exited=N: with -a, the containers that ran and exited with N
    for code in ["0", "3", "137"] {
        let (api, ours) = api_and_ours(&s, &["-a", "--filter", &format!("exited={code}")]);
        let want = ids_where(&api, |c| {
            c["Status"]
                .as_str()
                .unwrap()
                .starts_with(&format!("Exited ({code})"))
        });
        assert!(!want.is_empty());
        assert_eq!(ours, want, "exited={code}");
    }
    // name=: equal, or a regular expression found in the name
    for pattern in ["c-exit0", "c-ex", "^c-[ck]", "base2$"] {
        let re = regex::Regex::new(pattern).unwrap();
        let (api, ours) = api_and_ours(&s, &["-a", "--filter", &format!("name={pattern}")]);
        let want = ids_where(&api, |c| re.is_match(&c["Names"][0].as_str().unwrap()[1..]));
        assert!(!want.is_empty());
        assert_eq!(ours, want, "name={pattern}");
    }
    // label=: every one given
    let (api, ours) = api_and_ours(&s, &["-a", "--filter", "label=org.example.role=app"]);
    assert_eq!(
        ours,
        ids_where(&api, |c| c["Labels"]["org.example.role"] == "app")
    );
    // volume=: by name or destination
    for v in ["vol1", "/data", "/named"] {
        let (api, ours) = api_and_ours(&s, &["-a", "--filter", &format!("volume={v}")]);
        let want = ids_where(&api, |c| {
            c["Mounts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["Destination"] == *v || m["Name"] == *v)
        });
        assert!(!want.is_empty(), "{v}");
        assert_eq!(ours, want, "volume={v}");
    }
    // ancestor=: the image and every image built on it (the API's ParentId chain)
    let images = s.daemon_json("api-images-all.json");
    let parent: BTreeMap<String, String> = images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["Id"].as_str().unwrap().to_owned(),
                i["ParentId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let id_of = |tag: &str| -> String {
        images
            .as_array()
            .unwrap()
            .iter()
            .find(|i| strs_of(&i["RepoTags"]).iter().any(|t| t == tag))
            .unwrap()["Id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for tag in ["base:1", "app:1", "base2:1"] {
        let root_id = id_of(tag);
        let descends = |mut id: String| -> bool {
            for _ in 0..100 {
                if id == root_id {
                    return true;
                }
                match parent.get(&id) {
                    Some(p) if !p.is_empty() => id = p.clone(),
                    _ => return false,
                }
            }
            false
        };
        let (api, ours) = api_and_ours(&s, &["-a", "--filter", &format!("ancestor={tag}")]);
        let want = ids_where(&api, |c| {
            descends(c["ImageID"].as_str().unwrap().to_owned())
        });
        assert!(!want.is_empty(), "{tag}");
        assert_eq!(ours, want, "ancestor={tag}");
    }
    // different keys are ANDed
    let (api, ours) = api_and_ours(&s, &["-a", "--filter", "name=c-ex", "--filter", "exited=3"]);
    assert_eq!(
        ours,
        ids_where(&api, |c| c["Names"][0].as_str().unwrap().contains("c-ex")
            && c["Status"].as_str().unwrap().starts_with("Exited (3)"))
    );
    // before=/since=: the containers created before/after the one named (by name or id)
    let (api, _) = api_and_ours(&s, &[]);
    let pos = api
        .iter()
        .position(|c| c["Names"][0] == "/c-exit0")
        .unwrap();
    let all_ids = ids_where(&api, |_| true);
    let (_, ours) = api_and_ours(&s, &["-a", "--filter", "before=c-exit0"]);
    assert_eq!(ours, all_ids[pos + 1..]);
    let id = all_ids[pos].clone();
    let (_, ours) = api_and_ours(&s, &["-a", "--filter", &format!("since={}", &id[..12])]);
    assert_eq!(ours, all_ids[..pos]);
    // -n N: the N newest, whatever their state; -l the newest
    let (api, ours) = api_and_ours(&s, &["-n", "3"]);
    assert_eq!(ours, ids_where(&api[..3], |_| true));
    let (api, ours) = api_and_ours(&s, &["-l"]);
    assert_eq!(ours, ids_where(&api[..1], |_| true));
    // bad values: docker's usage errors
    for bad in ["status=bogus", "exited=x", "nosuch=1", "health=meh"] {
        let (code, out, err) = run(&s.root, &["ps", "--filter", bad]);
        assert_eq!((code, out.as_str()), (2, ""), "{bad}");
        assert!(err.starts_with("dockscope: error: invalid filter"), "{err}");
    }
}

fn strs_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
