//! `dockscope inspect` against `docker container inspect` and `docker image inspect` of
//! every object of the capture, field by field; name resolution as docker's.

mod common;
use common::{explorer_archive, run, SampleRoot};
use serde_json::Value;
use std::path::Path;

/// The data root the daemon ran on; every recorded host path under it moves to --root.
const CAPTURED: &str = "/tmp/dockscope-capture/full/root";

fn captured(name: &str) -> String {
    format!("/tmp/dockscope-capture/{name}/root")
}

fn inspect(root: &Path, args: &[&str]) -> Value {
    let (code, out, err) = run(root, &[&["inspect"][..], args].concat());
    assert_eq!(code, 0, "inspect {args:?}: {err}");
    serde_json::from_str(&out).expect("stdout is JSON")
}

fn rebased(v: &Value, root: &Path, name: &str) -> Value {
    let abs = std::path::absolute(root).unwrap();
    let text = serde_json::to_string(v)
        .unwrap()
        .replace(&captured(name), abs.to_str().unwrap());
    serde_json::from_str(&text).unwrap()
}

/// Every difference between two JSON values, as paths.
fn diff(ours: &Value, theirs: &Value, path: &str, out: &mut Vec<String>) {
    match (ours, theirs) {
        (Value::Object(mine), Value::Object(docker)) => {
            let keys: std::collections::BTreeSet<&String> =
                mine.keys().chain(docker.keys()).collect();
            for key in keys {
                if key == "Dockscope" {
                    continue;
                }
                let at = format!("{path}/{key}");
                match (mine.get(key), docker.get(key)) {
                    (Some(one), Some(other)) => diff(one, other, &at, out),
                    (None, _) => out.push(format!("{at}: missing from ours")),
                    (_, None) => out.push(format!("{at}: not in docker's")),
                }
            }
        }
        (mine, docker) if mine != docker => {
            out.push(format!("{path}: ours {mine}, docker's {docker}"));
        }
        _ => {}
    }
}

fn sort_mounts(v: &mut Value) {
    // docker renders MountPoints from a Go map: its order is random
    if let Some(m) = v.get_mut("Mounts").and_then(Value::as_array_mut) {
        m.sort_by_key(|m| m["Destination"].as_str().unwrap_or("").to_owned());
    }
}

fn check_all(root: &Path, s: &SampleRoot, name: &str) {
    let mut theirs: Vec<Value> = s
        .daemon_json("container-inspect.json")
        .as_array()
        .unwrap()
        .clone();
    theirs.extend(
        s.daemon_json("image-inspect.json")
            .as_array()
            .unwrap()
            .clone(),
    );
    let ids: Vec<&str> = theirs.iter().map(|o| o["Id"].as_str().unwrap()).collect();
    let mut args = vec!["--show-env"];
    args.extend(&ids);
    let (code, out, err) = run(root, &[&["inspect"][..], &args].concat());
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "", "a clean capture has no problems");
    let ours: Value = serde_json::from_str(&out).unwrap();
    let ours = ours.as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    let mut diffs = Vec::new();
    for (o, t) in ours.iter().zip(&theirs) {
        let mut o = o.clone();
        let mut t = rebased(t, root, name);
        sort_mounts(&mut o);
        sort_mounts(&mut t);
        diff(&o, &t, &t["Id"].as_str().unwrap()[..19], &mut diffs);
        // where each fact came from: files that exist under the root
        let d = &o["Dockscope"];
        assert!(!d["sources"].as_array().unwrap().is_empty());
        assert!(!d["layer_dirs"].as_array().unwrap().is_empty());
    }
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn inspect_agrees_with_the_daemon() {
    for name in ["full", "crashed"] {
        let s = SampleRoot::unpack(name);
        check_all(&s.root, &s, name);
        check_all(&s.archive, &s, name);
    }
    let s = SampleRoot::unpack("full");
    assert_eq!(
        s.daemon_json("container-inspect.json")
            .as_array()
            .unwrap()
            .len(),
        12
    );
    assert_eq!(
        s.daemon_json("image-inspect.json")
            .as_array()
            .unwrap()
            .len(),
        19
    );
}

#[test]
fn dockscope_block_names_real_files() {
    let s = SampleRoot::unpack("full");
    let v = inspect(&s.root, &["c-mounts", "app:1"]);
    for o in v.as_array().unwrap() {
        let d = &o["Dockscope"];
        for p in d["sources"]
            .as_array()
            .unwrap()
            .iter()
            .chain(d["layer_dirs"].as_array().unwrap())
        {
            let p = p.as_str().unwrap();
            assert!(
                s.path(p).symlink_metadata().is_ok(),
                "{p} named but not in the root"
            );
        }
    }
    let c = &v[0]["Dockscope"];
    assert_eq!(c["recorded_root"], CAPTURED);
    assert_eq!(c["recorded_running"], false);
    let srcs: Vec<&str> = c["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    let id = v[0]["Id"].as_str().unwrap();
    assert!(srcs.contains(&format!("containers/{id}/config.v2.json").as_str()));
    assert!(srcs.contains(&format!("containers/{id}/hostconfig.json").as_str()));
    assert!(srcs.contains(&"volumes/vol1"));
    // RW dir, init dir, then the image's 6 layers
    assert_eq!(c["layer_dirs"].as_array().unwrap().len(), 8);
    let i = &v[1]["Dockscope"];
    assert_eq!(i["layer_dirs"].as_array().unwrap().len(), 6);
}

#[test]
fn env_values_hidden_without_show_env() {
    let s = SampleRoot::unpack("full");
    let v = inspect(&s.root, &["c-mounts", "app:1"]);
    for env in [
        &v[0]["Config"]["Env"],
        &v[1]["Config"]["Env"],
        &v[1]["ContainerConfig"]["Env"],
    ] {
        let env: Vec<&str> = env
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(env, ["PATH=<hidden>", "APP_MODE=<hidden>"]);
    }
}

#[test]
fn names_resolve_as_docker_resolves_them() {
    let s = SampleRoot::unpack("full");
    let cs = s.daemon_json("container-inspect.json");
    let mounts = cs
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "/c-mounts")
        .unwrap();
    let id = mounts["Id"].as_str().unwrap();
    for name in ["c-mounts", "/c-mounts", id, &id[..12], &id[..5]] {
        let v = inspect(&s.root, &[name]);
        assert_eq!(v[0]["Id"], id, "{name}");
    }
    // images by tag, digest, id and prefix
    let ims = s.daemon_json("image-inspect.json");
    let app_image = ims
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["RepoTags"].as_array().unwrap().contains(&"app:1".into()))
        .unwrap();
    let app = app_image["Id"].as_str().unwrap();
    let digest = app_image["RepoDigests"][0].as_str().unwrap();
    for name in [
        "app:1",
        "app",
        "docker.io/library/app:latest",
        app,
        &app[7..],
        &app[7..19],
        digest,
    ] {
        let v = inspect(&s.root, &[name]);
        assert_eq!(v[0]["Id"], app, "{name}");
    }
    // a prefix unique among containers that also starts an image id: the container wins
    let images: Vec<String> = s
        .daemon_json("image-inspect.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Id"].as_str().unwrap()[7..].to_owned())
        .collect();
    let cids: Vec<&str> = cs
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Id"].as_str().unwrap())
        .collect();
    let shared = cids
        .iter()
        .flat_map(|c| (1..6).map(move |n| &c[..n]))
        .find(|p| {
            cids.iter().filter(|c| c.starts_with(p)).count() == 1
                && images.iter().any(|i| i.starts_with(p))
        })
        .expect("a prefix shared by a container and an image");
    let v = inspect(&s.root, &[shared]);
    assert!(
        v[0]["State"].is_object(),
        "{shared} should name the container"
    );
    // several at once, in order
    let v = inspect(&s.root, &["c-exit3", "base:1", "c-exit0"]);
    assert_eq!(v[0]["Name"], "/c-exit3");
    assert_eq!(v[1]["RepoTags"][0], "base:1");
    assert_eq!(v[2]["Name"], "/c-exit0");
    // unknown: as docker, `[]` on stdout, the name on stderr, exit 1
    let (code, out, err) = run(&s.root, &["inspect", "xx"]);
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "[]");
    assert!(
        err.starts_with("dockscope: error: No such object: xx"),
        "{err}"
    );
    // what was found is printed, what was not is named
    let (code, out, err) = run(&s.root, &["inspect", "c-exit0", "nosuch"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["Name"], "/c-exit0");
    assert!(err.contains("No such object: nosuch"), "{err}");
}

#[test]
fn archive_paths_sit_under_the_archive() {
    let s = SampleRoot::unpack("full");
    let v = inspect(&s.archive, &["c-exit0"]);
    let upper = v[0]["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap();
    let archive = s.archive.to_str().unwrap();
    assert!(
        upper.starts_with(&format!("{archive}/overlay2/")),
        "{upper}"
    );
}

/// docker-explorer's overlay2 capture: prefixes, the running container, paths.
#[test]
fn explorer_overlay2_inspect() {
    let s = SampleRoot::explorer("overlay2.v2");
    let root = s.root.as_path();
    let v = inspect(root, &["61ba4e6c012c782"]);
    assert_eq!(
        v[0]["Id"],
        "61ba4e6c012c782186c649466157e05adfd7caa5b551432de51043893cae5353"
    );
    assert_eq!(v[0]["Name"], "/zealous_lalande");
    assert_eq!(v[0]["State"]["Status"], "created");
    assert_eq!(v[0]["State"]["ExitCode"], 127);

    // the empty prefix matches every container: ambiguous, the 5 ids listed sorted
    let (code, out, err) = run(root, &["inspect", ""]);
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "[]");
    let listed: Vec<&str> = err
        .lines()
        .skip(1)
        .map(|l| l.trim().split(' ').next().unwrap())
        .collect();
    let mut sorted = listed.clone();
    sorted.sort_unstable();
    assert_eq!(listed, sorted);
    let short: Vec<&str> = listed.iter().map(|l| &l[..8]).collect();
    assert_eq!(
        short,
        ["10acac0b", "61ba4e6c", "8e8b7f23", "9949fa15", "f83f963c"]
    );
    let (code, _, err) = run(root, &["inspect", "xx"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("dockscope: error: No such object: xx"),
        "{err}"
    );

    let run_id = "8e8b7f23eb7cbd4dfe7e91646ddd0e0f524218e25d50113559f078dfb2690206";
    for r in [root.to_owned(), explorer_archive("overlay2.v2")] {
        let v = inspect(&r, &["festive_perlman"]);
        let c = &v[0];
        assert_eq!(c["Id"], run_id);
        assert_eq!(c["State"]["Running"], true);
        assert_eq!(c["State"]["Status"], "running");
        assert_eq!(c["State"]["Pid"], 71799);
        assert_eq!(c["State"]["StartedAt"], "2018-05-16T10:51:39.62598903Z");
        assert_eq!(c["Created"], "2018-05-16T10:51:39.271019533Z");
        assert_eq!(c["Config"]["Image"], "busybox");
        assert_eq!(
            c["Image"],
            "sha256:8ac48589692a53a9b8c2d1ceaa6b402665aa7fe667ba51ccc03002300856d8c7"
        );
        assert_eq!(c["Dockscope"]["recorded_running"], true);
        assert_eq!(c["Dockscope"]["recorded_root"], "/var/lib/docker");
        let mut base = std::path::absolute(&r)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        if r.extension().is_some() {
            base.push_str("/docker"); // the archive's data root is its docker/ folder
        }
        let data = &c["GraphDriver"]["Data"];
        let rw = "92fd3b3e7d6101bb701743c9518c45b0d036b898c8a3d7cae84e1a06e6829b53";
        assert_eq!(data["UpperDir"], format!("{base}/overlay2/{rw}/diff"));
        assert_eq!(data["MergedDir"], format!("{base}/overlay2/{rw}/merged"));
        assert_eq!(
            data["LowerDir"],
            format!(
                "{base}/overlay2/{rw}-init/diff:{base}/overlay2/583c602e6bded61f85a9deb504a724d5cc7cce3902c8385a7620fe1c78ad3176/diff"
            )
        );
        assert_eq!(
            c["LogPath"],
            format!("{base}/containers/{run_id}/{run_id}-json.log")
        );
        assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "no");
        // the image, by name
        let v = inspect(&r, &["busybox"]);
        let im = &v[0];
        assert_eq!(im["Created"], "2018-04-05T10:41:28.876407948Z");
        assert_eq!(im["DockerVersion"], "17.06.2-ce");
        assert_eq!(
            im["ContainerConfig"]["Cmd"],
            serde_json::json!(["/bin/sh", "-c", "#(nop) ", "CMD [\"sh\"]"])
        );
        assert_eq!(im["Size"], 1_146_369);
        assert_eq!(im["Parent"], "");
        assert_eq!(im["Metadata"]["LastTagTime"], "0001-01-01T00:00:00Z");
        assert_eq!(im["RepoTags"], serde_json::json!(["busybox:latest"]));
        assert!(im["GraphDriver"]["Data"].get("LowerDir").is_none());
    }
}

/// docker-explorer's volumes capture: volume sources under the root, the bind as is.
#[test]
fn explorer_vols_inspect() {
    let s = SampleRoot::explorer("vols.v2");
    let base = std::path::absolute(&s.root).unwrap();
    let base = base.to_str().unwrap();
    let v = inspect(&s.root, &["712909b5", "8b6e90cc"]);
    let m = &v[0]["Mounts"][0];
    assert_eq!(
        m["Source"],
        format!(
            "{base}/volumes/f5479c534bbc6e2b9861973c2fbb4863ff5b7b5843c098d7fb1a027fe730a4dc/_data"
        )
    );
    assert_eq!(m["Destination"], "/opt/vols/volume");
    assert_eq!(m["Type"], "volume");
    let b = &v[1]["Mounts"];
    assert_eq!(b.as_array().unwrap().len(), 1);
    assert_eq!(b[0]["Type"], "bind");
    assert_eq!(b[0]["Source"], "/opt/vols/bind");
    assert_eq!(b[0]["Destination"], "/opt");
    assert_eq!(
        v[1]["HostConfig"]["Mounts"][0]["Target"], "/opt",
        "the --mount spec is in hostconfig.json"
    );
}
