//! `dockscope du` against GNU du run on the same unpacked copy, and against what dockerd
//! recorded (`/system/df`, `/containers/json?size=1`, `docker system df`).
#![allow(clippy::disallowed_methods)]

mod common;
use common::{assert_problem, json, run, strs, SampleRoot};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// `du -s<flag>` of one or more paths (their total with -c), in bytes.
fn gnu_du(flag: &str, paths: &[&Path]) -> u64 {
    let out = Command::new("du")
        .arg("-sc")
        .arg(flag)
        .args(paths)
        .output()
        .expect("run du");
    assert!(
        out.status.success(),
        "du failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    last.split_whitespace().next().unwrap().parse().unwrap()
}

fn by<'a>(v: &'a Value, list: &str, key: &str) -> BTreeMap<String, &'a Value> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x[key].as_str().unwrap().to_owned(), x))
        .collect()
}

#[test]
fn areas_and_total_agree_with_gnu_du() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["du"]);
    assert_eq!(v["problems"], Value::Array(vec![]));
    assert_eq!(
        v["total"]["disk_bytes"].as_u64(),
        Some(gnu_du("-B1", &[&s.root]))
    );
    assert_eq!(
        v["total"]["apparent_bytes"].as_u64(),
        Some(gnu_du("-b", &[&s.root]))
    );
    let areas = by(&v, "areas", "name");
    let on_disk: Vec<String> = std::fs::read_dir(&s.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(areas.len(), on_disk.len(), "one row per top-level entry");
    for name in on_disk {
        let p = s.root.join(&name);
        let a = areas[&name];
        assert_eq!(
            a["disk_bytes"].as_u64(),
            Some(gnu_du("-B1", &[&p])),
            "{name} disk"
        );
        assert_eq!(
            a["apparent_bytes"].as_u64(),
            Some(gnu_du("-b", &[&p])),
            "{name} apparent"
        );
    }
    // Hard links: every extra name of an inode is folded, as du does.
    let mut seen = HashSet::new();
    let mut extra = 0;
    for e in walkdir::WalkDir::new(&s.root).into_iter().flatten() {
        let m = e.metadata().unwrap();
        if !m.is_dir() && m.nlink() > 1 && !seen.insert((m.dev(), m.ino())) {
            extra += 1;
        }
    }
    assert!(extra > 0, "the capture has hard links");
    assert_eq!(v["total"]["hardlinks_folded"].as_u64(), Some(extra));
}

#[test]
fn layers_agree_with_du_and_layerdb() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["du"]);
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 17);
    for l in layers {
        let cache = l["cache_id"].as_str().unwrap();
        let dir = s.root.join("overlay2").join(cache);
        assert_eq!(
            l["disk_bytes"].as_u64(),
            Some(gnu_du("-B1", &[&dir])),
            "{cache}"
        );
        assert_eq!(
            l["apparent_bytes"].as_u64(),
            Some(gnu_du("-b", &[&dir])),
            "{cache}"
        );
        let chain = &l["chain_id"].as_str().unwrap()[7..];
        let recorded: u64 = std::fs::read_to_string(
            s.root
                .join("image/overlay2/layerdb/sha256")
                .join(chain)
                .join("size"),
        )
        .unwrap()
        .parse()
        .unwrap();
        assert_eq!(l["size"].as_u64(), Some(recorded));
        // Docker's measure of diff/ is the size file, except BuildKit's layers, whose
        // size leaves out symlinks (seen on this capture: 9 recorded, 18 on disk).
        if cache.len() == 64 {
            assert_eq!(l["diff_size"].as_u64(), Some(recorded), "{cache}");
        } else {
            assert!(l["diff_size"].as_u64().unwrap() >= recorded, "{cache}");
        }
    }
}

#[test]
fn images_containers_volumes_agree_with_the_daemon() {
    let s = SampleRoot::unpack("full");
    let df = s.daemon_json("api-system-df.json");
    for root in [&s.root, &s.archive] {
        let v = json(root, &["du", "--df-compat", "20.10"]);
        let ours = by(&v, "images", "id");
        let theirs = by(&df, "Images", "Id");
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>()
        );
        for (id, t) in &theirs {
            let o = ours[id];
            assert_eq!(o["size"].as_u64(), t["Size"].as_u64(), "{id}");
            assert_eq!(o["shared_size"].as_u64(), t["SharedSize"].as_u64(), "{id}");
            assert_eq!(
                o["unique_size"].as_u64(),
                Some(t["Size"].as_u64().unwrap() - t["SharedSize"].as_u64().unwrap())
            );
            assert_eq!(o["containers"].as_u64(), t["Containers"].as_u64(), "{id}");
        }
        let ours = by(&v, "containers", "id");
        let api = s.daemon_json("api-containers.json");
        let theirs: BTreeMap<String, &Value> = api
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["Id"].as_str().unwrap().to_owned(), c))
            .collect();
        assert_eq!(ours.len(), 12);
        for (id, t) in &theirs {
            let o = ours[id];
            assert_eq!(
                o["size_rw"].as_u64(),
                Some(t["SizeRw"].as_u64().unwrap_or(0)),
                "{id}"
            );
            assert_eq!(o["size_root_fs"].as_u64(), t["SizeRootFs"].as_u64(), "{id}");
            assert_eq!(
                format!("/{}", o["name"].as_str().unwrap()),
                t["Names"][0].as_str().unwrap()
            );
            let active =
                ["running", "paused", "restarting"].contains(&t["State"].as_str().unwrap());
            assert_eq!(o["active"].as_bool(), Some(active), "{id}");
        }
        let ours = by(&v, "volumes", "name");
        let theirs = by(&df, "Volumes", "Name");
        assert_eq!(ours.len(), theirs.len());
        for (name, t) in &theirs {
            assert_eq!(
                ours[name]["size"].as_u64(),
                t["UsageData"]["Size"].as_u64(),
                "{name}"
            );
            assert_eq!(
                ours[name]["links"].as_u64(),
                t["UsageData"]["RefCount"].as_u64(),
                "{name}"
            );
        }
        let d = &v["system_df"];
        assert_eq!(d["layers_size"].as_u64(), df["LayersSize"].as_u64());
        // The CLI's own arithmetic on the API's answer (cli/command/formatter/disk_usage.go).
        let in_use: u64 = df["Images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["Containers"].as_u64().unwrap() > 0)
            .map(|i| i["Size"].as_u64().unwrap() - i["SharedSize"].as_u64().unwrap())
            .sum();
        assert_eq!(
            d["images_reclaimable"].as_u64(),
            Some(df["LayersSize"].as_u64().unwrap() - in_use)
        );
        let sizes: Vec<(u64, bool)> = df["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let st = c["State"].as_str().unwrap();
                (
                    c["SizeRw"].as_u64().unwrap_or(0),
                    st == "running" || st == "paused",
                )
            })
            .collect();
        assert_eq!(
            d["containers_size"].as_u64(),
            Some(sizes.iter().map(|s| s.0).sum())
        );
        assert_eq!(
            d["containers_reclaimable"].as_u64(),
            Some(sizes.iter().filter(|s| !s.1).map(|s| s.0).sum())
        );
        assert_eq!(d["containers_active"].as_u64(), Some(2));
        let vol_total: u64 = df["Volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["UsageData"]["Size"].as_u64().unwrap())
            .sum();
        assert_eq!(d["volumes_size"].as_u64(), Some(vol_total));
        assert_eq!(d["volumes_reclaimable"].as_u64(), Some(0));
        // Build cache: the CLI prints the records not shared with images; the API's
        // BuilderSize adds the shared ones.
        let unshared: u64 = df["BuildCache"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|b| b["Shared"] == false)
            .map(|b| b["Size"].as_u64().unwrap())
            .sum();
        assert_eq!(d["build_cache_size"].as_u64(), Some(unshared));
        assert_eq!(
            v["build_cache"]["size_with_layers"].as_u64(),
            df["BuilderSize"].as_u64()
        );
    }
}

#[test]
fn container_disk_logs_and_sparse_files() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["du"]);
    for c in v["containers"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        let mount = s.root.join("image/overlay2/layerdb/mounts").join(id);
        let rw = std::fs::read_to_string(mount.join("mount-id")).unwrap();
        let rw_dir = s.root.join("overlay2").join(&rw);
        let init_dir = s.root.join("overlay2").join(format!("{rw}-init"));
        let ct_dir = s.root.join("containers").join(id);
        assert_eq!(
            c["disk_bytes"].as_u64(),
            Some(gnu_du("-B1", &[&rw_dir, &init_dir, &ct_dir])),
            "{id}"
        );
        let logs: u64 = std::fs::read_dir(&ct_dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{id}-json.log"))
            })
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert_eq!(c["log_bytes"].as_u64(), Some(logs), "{id}");
    }
    let sparse = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "c-sparse")
        .unwrap();
    assert_eq!(
        sparse["size_rw"].as_u64(),
        Some(12_587_024),
        "docker ps --size said 12.6MB"
    );
    assert!(
        sparse["disk_bytes"].as_u64().unwrap() < 1_000_000,
        "the hole is not on disk"
    );
    let logs = v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "c-logs")
        .unwrap();
    assert!(
        logs["log_bytes"].as_u64().unwrap() > 2000,
        "rotated logs counted"
    );
}

#[test]
fn archive_gives_exact_docker_sizes_and_no_guessed_blocks() {
    let s = SampleRoot::unpack("full");
    let dir = json(&s.root, &["du"]);
    let arc = json(&s.archive, &["du"]);
    assert_eq!(arc["disk_bytes_known"], false);
    assert_eq!(arc["dir_sizes_known"], false);
    assert_eq!(arc["total"]["disk_bytes"], Value::Null);
    for (a, d) in arc["areas"]
        .as_array()
        .unwrap()
        .iter()
        .zip(dir["areas"].as_array().unwrap())
    {
        assert_eq!(a["name"], d["name"]);
        assert_eq!(a["size"], d["size"], "{}", a["name"]);
        assert_eq!(a["files"], d["files"], "{}", a["name"]);
        assert_eq!(a["dirs"], d["dirs"], "{}", a["name"]);
        assert_eq!(a["disk_bytes"], Value::Null);
    }
    for key in ["layers", "images", "volumes"] {
        let strip = |v: &Value| -> Vec<Value> {
            v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    let mut x = x.clone();
                    x.as_object_mut().unwrap().remove("disk_bytes");
                    x.as_object_mut().unwrap().remove("apparent_bytes");
                    x
                })
                .collect()
        };
        assert_eq!(strip(&arc), strip(&dir), "{key}");
    }
    assert_eq!(arc["system_df"], dir["system_df"]);
    let (code, out, _) = run(&s.archive, &["du"]);
    assert_eq!(code, 0);
    assert!(out.contains("unknown"), "{out}");
}

#[test]
fn a_root_nested_ten_thousand_deep_is_walked_down_to_the_depth_bound() {
    let s = SampleRoot::unpack("full");
    let data = s.root.join("volumes/vol1/_data");
    // A relative chdir per level: the full path is far past PATH_MAX. Then the apparent
    // bytes of what lies more than 2,046 levels below `_data` (3 levels below the
    // root): dockscope opens directories down to 2,048 levels below the root, so it
    // stats entries down to 2,049 levels and no deeper.
    let out = Command::new("python3")
        .arg("-c")
        .arg(
            "import os,sys\n\
             os.chdir(sys.argv[1])\n\
             for _ in range(10000):\n\
             \x20   os.mkdir('d'); os.chdir('d')\n\
             open('leaf','w').write('x\\n')\n\
             fd=os.open(sys.argv[1],os.O_RDONLY)\n\
             unread=0\n\
             for depth in range(1,10002):\n\
             \x20   name='d' if depth<=10000 else 'leaf'\n\
             \x20   if depth>2046: unread+=os.lstat(name,dir_fd=fd).st_size\n\
             \x20   if depth<=10000:\n\
             \x20       n=os.open(name,os.O_RDONLY,dir_fd=fd); os.close(fd); fd=n\n\
             print(unread)",
        )
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let unread: u64 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let v = json(&s.root, &["du"]);
    let vol = by(&v, "volumes", "name")["vol1"];
    // The leaf file 10,000 levels down is not counted (before: 8198 + 2).
    assert_eq!(vol["size"].as_u64(), Some(8198));
    assert_eq!(
        v["total"]["apparent_bytes"].as_u64(),
        Some(gnu_du("-b", &[&s.root]) - unread)
    );
    // One problem names the first directory not opened.
    let first = format!("volumes/vol1/_data{}", "/d".repeat(2046));
    assert_problem(&v, &first, "more than 2048 levels below the root");
    // Without the sandbox, the same answer: the bound is dockscope's.
    assert_eq!(json(&s.root, &["--no-sandbox", "du"]), v);
    let _ = Command::new("rm").arg("-rf").arg(data.join("d")).status();
}

#[test]
fn human_views() {
    let s = SampleRoot::unpack("full");
    let (code, out, err) = run(&s.root, &["du"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("AREA") && out.contains("overlay2") && out.contains("total"),
        "{out}"
    );
    assert!(out.contains("Build Cache"), "{out}");
    let (_, out, _) = run(
        &s.root,
        &["du", "--by", "image", "--df-compat", "20.10", "--bytes"],
    );
    assert!(out.contains("base2-app:1"), "{out}");
    assert!(
        out.contains(" 21 "),
        "unique size of base2-app in bytes: {out}"
    );
    let (_, out, _) = run(&s.root, &["du", "--by", "container", "--top", "1"]);
    assert_eq!(out.lines().count(), 2, "header and the biggest: {out}");
    assert!(out.contains("c-sparse"), "{out}");
    let (_, out, _) = run(&s.root, &["du", "--by", "volume", "--sort", "name"]);
    let d = out.find("d1a413d32cfe").unwrap();
    assert!(d < out.find("vol1").unwrap());
    let (_, out, _) = run(&s.root, &["du", "--by", "layer", "--apparent-size"]);
    assert!(out.contains("APPARENT"), "{out}");
}

/// `dockscope du --system-df` against `docker system df` as the daemon printed it.
fn assert_system_df_is_dockers(s: &SampleRoot) {
    let want = s.daemon_text("system-df-summary.txt");
    for root in [&s.root, &s.archive] {
        let (code, out, err) = run(root, &["du", "--system-df"]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, want, "{}", root.display());
        let (_, out, _) = run(root, &["du"]);
        assert!(out.contains(&want), "the area view ends with it: {out}");
    }
}

#[test]
fn system_df_table_is_dockers_byte_for_byte_full() {
    assert_system_df_is_dockers(&SampleRoot::unpack("full"));
}

#[test]
fn system_df_table_is_dockers_byte_for_byte_empty_and_crashed() {
    assert_system_df_is_dockers(&SampleRoot::unpack("empty"));
    assert_system_df_is_dockers(&SampleRoot::unpack("crashed"));
}

/// A root written by dockerd 28.5 (overlay2, `engine-id`, no `trust/`): the 23+ rule is
/// chosen from its hints, and Build Cache counts BuildKit's records.
#[test]
fn system_df_table_is_dockers_byte_for_byte_modern() {
    let s = SampleRoot::unpack("modern");
    assert_system_df_is_dockers(&s);
    let v = json(&s.root, &["du"]);
    assert_eq!(v["df_compat"], "23");
    assert_eq!(v["df_compat_source"], "version-hint");
    let df = s.daemon_json("api-system-df.json");
    assert_eq!(
        v["system_df"]["build_cache_total"].as_u64(),
        Some(df["BuildCache"].as_array().unwrap().len() as u64)
    );
    assert_eq!(
        v["system_df"]["layers_size"].as_u64(),
        df["LayersSize"].as_u64()
    );
}

#[test]
fn system_df_rule_follows_the_roots_version_hints() {
    let s = SampleRoot::unpack("full");
    let df = s.daemon_json("api-system-df.json");
    // A 20.10 root (trust/ present): the 20.10 rule, and the report says why.
    let v = json(&s.root, &["du"]);
    assert_eq!(v["df_compat"], "20.10");
    assert_eq!(v["df_compat_source"], "version-hint");
    assert!(v["df_compat_reason"].as_str().unwrap().contains("trust/"));
    let shared: BTreeMap<String, u64> = df["Images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["Id"].as_str().unwrap().to_owned(),
                i["SharedSize"].as_u64().unwrap(),
            )
        })
        .collect();
    for (id, img) in by(&v, "images", "id") {
        assert_eq!(img["shared_size"].as_u64(), Some(shared[&id]), "{id}");
    }
    // Build Cache TOTAL counts BuildKit's records, as the daemon did.
    assert_eq!(
        v["system_df"]["build_cache_total"].as_u64(),
        Some(df["BuildCache"].as_array().unwrap().len() as u64)
    );
    let (_, out, _) = run(&s.root, &["du"]);
    assert!(out.contains("Docker 20.10 rule: trust/ present"), "{out}");
    // --df-compat overrides the hint.
    let v = json(&s.root, &["du", "--df-compat", "23"]);
    assert_eq!(v["df_compat"], "23");
    assert_eq!(v["df_compat_source"], "option");
    // The same root made to look like a 23+ root (engine-id written, trust/ gone).
    std::fs::remove_dir_all(s.path("trust")).unwrap();
    std::fs::write(
        s.path("engine-id"),
        "0b4a4b2c-9d5c-4a6e-9a51-7d0f9b0a1c11\n",
    )
    .unwrap();
    let v = json(&s.root, &["du"]);
    assert_eq!(v["df_compat"], "23");
    assert_eq!(v["df_compat_source"], "version-hint");
    assert!(v["df_compat_reason"]
        .as_str()
        .unwrap()
        .contains("engine-id"));
    // Under the 23+ rule the intermediate images count: base2-app's own layer is shared
    // with the classic builder's intermediate image, so nothing of it is unique.
    let base2_app = by(&v, "images", "id")
        .into_iter()
        .find(|(_, i)| strs(&i["repo_tags"]).contains(&"base2-app:1".to_owned()))
        .unwrap()
        .1
        .clone();
    assert_eq!(base2_app["unique_size"].as_u64(), Some(0));
    // And with neither hint, the 23+ rule by default.
    std::fs::remove_file(s.path("engine-id")).unwrap();
    let v = json(&s.root, &["du"]);
    assert_eq!(v["df_compat"], "23");
    assert_eq!(v["df_compat_source"], "default");
}

/// A `docker system df -v` text with its relative times replaced and its columns split:
/// per section, the header and the set of rows (docker's order of equal times, of
/// volumes and of build cache records is the daemon's map order, not a rule).
fn df_sections(text: &str) -> Vec<(String, Vec<String>, std::collections::BTreeSet<Vec<String>>)> {
    let time = |cell: &str| {
        let words: Vec<&str> = cell.split(' ').collect();
        let units = [
            "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week",
            "weeks", "month", "months", "year", "years",
        ];
        let mut out = Vec::new();
        let mut k = 0;
        while k < words.len() {
            if k + 1 < words.len()
                && units.contains(&words[k + 1])
                && (words[k].parse::<u64>().is_ok() || ["About", "a", "an"].contains(&words[k]))
            {
                out.push("<T>");
                k += 2;
            } else if units.contains(&words[k]) {
                // "Less than a second": the unit alone, after the words skipped below.
                out.push("<T>");
                k += 1;
            } else if words[k] == "About" || words[k] == "Less" {
                k += 1;
            } else if words[k] == "than" && k + 1 < words.len() && words[k + 1] == "a" {
                k += 2;
            } else {
                out.push(words[k]);
                k += 1;
            }
        }
        out.join(" ")
    };
    let mut sections = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(title) = lines.next() {
        if title.is_empty() {
            continue;
        }
        assert_eq!(lines.next(), Some(""), "a blank line after {title:?}");
        let split = |l: &str| -> Vec<String> {
            l.split("   ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(time)
                .collect()
        };
        let header = split(lines.next().unwrap());
        let mut rows = std::collections::BTreeSet::new();
        while let Some(l) = lines.peek() {
            if l.is_empty() {
                break;
            }
            rows.insert(split(lines.next().unwrap()));
        }
        // "Build cache usage: 216B" carries a size, not a time.
        sections.push((title.to_owned(), header, rows));
    }
    sections
}

#[test]
fn system_df_verbose_lists_what_docker_listed() {
    for name in ["full", "crashed", "empty", "modern"] {
        let s = SampleRoot::unpack(name);
        let want = s.daemon_text("system-df.txt");
        let (code, out, err) = run(&s.root, &["du", "--system-df", "-v"]);
        assert_eq!(code, 0, "{err}");
        let ours = df_sections(&out);
        let theirs = df_sections(&want);
        assert_eq!(ours.len(), 4, "{out}");
        assert_eq!(ours, theirs, "{name}:\n{out}\n---\n{want}");
        // Same layout too: each line as long as docker's once times are equal width.
        assert_eq!(out.lines().count(), want.lines().count(), "{name}");
    }
}
