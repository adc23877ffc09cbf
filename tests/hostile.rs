//! Inputs that once cost gigabytes, rebuilt from a real capture by tests/hostile/make.py
//! and run with the peak RSS measured: each must stay small, exit 0/1/2 with valid JSON,
//! and say what it refused.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{assert_problem, change_lines, gnu_ls_ra, repo, run, SampleRoot};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn make(args: &[&str]) {
    let status = Command::new("python3")
        .arg(repo().join("tests/hostile/make.py"))
        .args(args)
        .status()
        .expect("run python3");
    assert!(status.success(), "make.py {args:?}");
}

/// Run dockscope; (exit code, stdout, stderr, peak RSS in KiB from wait4).
fn measured(root: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String, u64) {
    let mut cmd = Command::new("python3");
    cmd.arg("-c")
        .arg(
            "import os,subprocess,sys\n\
             p=subprocess.Popen(sys.argv[1:],stdout=open(os.environ['OUT'],'wb'),stderr=open(os.environ['ERR'],'wb'))\n\
             _,st,ru=os.wait4(p.pid,0)\n\
             print(os.waitstatus_to_exitcode(st), ru.ru_maxrss)",
        )
        .arg(env!("CARGO_BIN_EXE_dockscope"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("DOCKSCOPE_ROOT");
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    cmd.env("OUT", &out).env("ERR", &err);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let line = String::from_utf8_lossy(&o.stdout);
    let mut it = line.split_whitespace();
    let code: i32 = it.next().unwrap().parse().unwrap();
    let rss: u64 = it.next().unwrap().parse().unwrap();
    (
        code,
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap(),
        rss,
    )
}

/// Every command with --json: exit 0/1/2, JSON out, RSS under `cap_mib`. Returns the
/// `check` report and stderr of the last command.
fn every_command(root: &Path, cap_mib: u64, env: &[(&str, &str)]) -> (Value, String) {
    let mut check = Value::Null;
    let mut stderr = String::new();
    // An archive is read whole by every command: two of them are enough there.
    let all: &[&[&str]] = &[
        &["check"],
        &["du"],
        &["volumes"],
        &["images", "-a"],
        &["info"],
    ];
    let commands = if root.is_dir() { all } else { &all[..2] };
    for args in commands {
        let mut a = args.to_vec();
        a.push("--json");
        let (code, out, err, rss) = measured(root, &a, env);
        assert!((0..=2).contains(&code), "{a:?}: exit {code}: {err}");
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{a:?}: {e}: {err}"));
        assert!(
            rss < cap_mib << 10,
            "{a:?}: peak RSS {} MiB, over {cap_mib} MiB",
            rss >> 10
        );
        if args[0] == "check" {
            check = v;
        }
        stderr.push_str(&err);
    }
    (check, stderr)
}

fn problems_text(v: &Value) -> String {
    v["problems"].to_string()
}

#[test]
fn overlapping_bbolt_elements_cost_nothing() {
    let s = SampleRoot::unpack("full");
    let hostile = s.dir.path().join("hostile.db");
    make(&[
        "bbolt",
        s.root.join("volumes/metadata.db").to_str().unwrap(),
        hostile.to_str().unwrap(),
    ]);
    // 65,535 elements over 1.3 MB: copying each would be 16 GiB.
    assert!(std::fs::metadata(&hostile).unwrap().len() < 2 << 20);
    let before = common::json(&s.root, &["volumes"]);
    for f in ["volumes/metadata.db", "buildkit/snapshots.db"] {
        std::fs::copy(&hostile, s.root.join(f)).unwrap();
    }
    let (check, _) = every_command(&s.root, 100, &[]);
    let p = problems_text(&check);
    assert!(
        p.contains("volumes/metadata.db") && p.contains("overlap"),
        "{p}"
    );
    // The volumes are still found from their dirs.
    let after = common::json(&s.root, &["volumes"]);
    let names = |v: &Value| {
        let mut n: Vec<String> = v["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&after), names(&before));
}

fn sample_archive() -> String {
    repo()
        .join("sample-roots/full/root.tar.gz")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn pax_sparse_entry_is_sized_by_what_it_stores() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pax-sparse.tar.gz");
    // 96 MiB stored for a 4 KiB file (benches/hostile.sh: 1 GiB)
    make(&[
        "archive",
        "pax-sparse",
        &sample_archive(),
        out.to_str().unwrap(),
        "--mb",
        "96",
        "--gzip",
    ]);
    assert!(std::fs::metadata(&out).unwrap().len() < 4 << 20);
    let (check, _) = every_command(&out, 60, &[]);
    assert!(
        problems_text(&check).contains("metadata.db"),
        "{}",
        problems_text(&check)
    );
}

#[test]
fn hard_links_share_one_body() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hardlinks.tar.gz");
    make(&[
        "archive",
        "hardlinks",
        &sample_archive(),
        out.to_str().unwrap(),
        "--count",
        "40",
        "--gzip",
    ]);
    // 40 links to a 16 MiB body: cloning would be 640 MiB.
    every_command(&out, 100, &[]);
    let v = common::json(&out, &["du"]);
    let plugins = v["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "plugins")
        .expect("plugins area")
        .clone();
    let base = common::json(Path::new(&sample_archive()), &["du"]);
    let base_plugins = base["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "plugins")
        .unwrap()
        .clone();
    assert_eq!(
        plugins["size"].as_u64().unwrap() - base_plugins["size"].as_u64().unwrap(),
        16 << 20,
        "the body counts once"
    );
    assert_eq!(
        plugins["hardlinks_folded"].as_u64().unwrap()
            - base_plugins["hardlinks_folded"].as_u64().unwrap(),
        40
    );
}

#[test]
fn kept_contents_stay_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("many.tar.gz");
    make(&[
        "archive",
        "many-files",
        &sample_archive(),
        out.to_str().unwrap(),
        "--count",
        "12",
        "--gzip",
    ]);
    // 12 files of 16 MiB outside the layer dirs (192 MiB) with a 32 MiB budget.
    let env = [("DOCKSCOPE_ARCHIVE_MEMORY", "32M")];
    let (check, _) = every_command(&out, 32 + 50, &env);
    assert!(
        problems_text(&check).contains("memory budget"),
        "{}",
        problems_text(&check)
    );
    // The capture's own metadata came first and was kept: same images as the sample.
    let images = |root: &Path, env: &[(&str, &str)]| {
        let (code, out, err, _) = measured(root, &["images", "-a", "--json"], env);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str::<Value>(&out).unwrap()["images"].clone()
    };
    assert_eq!(
        images(&out, &env),
        images(Path::new(&sample_archive()), &[])
    );
}

#[test]
fn a_huge_pax_header_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pax-header.tar.gz");
    make(&[
        "archive",
        "pax-header",
        &sample_archive(),
        out.to_str().unwrap(),
        "--mb",
        "48",
        "--gzip",
    ]);
    let (check, _) = every_command(&out, 40, &[]);
    assert!(
        problems_text(&check).contains("extension headers"),
        "{}",
        problems_text(&check)
    );
}

#[test]
fn a_deep_chain_in_a_container_is_verified_without_reopening() {
    let s = SampleRoot::unpack("full");
    let depth = 3000;
    let out = Command::new("python3")
        .arg(repo().join("tests/hostile/make.py"))
        .args(["deep-chain", s.root.to_str().unwrap(), &depth.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let diff = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // dockscope opens directories down to 2,048 levels below the root: `diff/` is 3
    // levels down, so it lists what lies at most 2,046 levels below `diff/`.
    let t = std::time::Instant::now();
    let found = Command::new("find")
        .args([".", "-mindepth", "1", "-maxdepth", "2046"])
        .current_dir(s.root.join(&diff))
        .output()
        .unwrap();
    let find_time = t.elapsed();
    assert!(found.status.success());
    let t = std::time::Instant::now();
    let (code, out, err, rss) = measured(&s.root, &["verify", "--content", "--json"], &[]);
    let took = t.elapsed();
    // Reopening every component from diff/ per entry took 80 s at 2,000 deep (debug
    // build) and grows with the square of the depth; one open per directory is well
    // under this bound even in a debug build (benches/hostile.sh compares a release
    // build with find at 20,000 deep).
    assert!(
        took < std::time::Duration::from_secs(30),
        "verify --content took {took:?} (find: {find_time:?})"
    );
    assert!(rss < 200 << 10, "peak RSS {} MiB", rss >> 10);
    let v: Value = serde_json::from_str(&out).unwrap();
    // What lies deeper was not read: a problem names the first directory not opened.
    // The image layers all check out, and drift is no finding, so the exit stays 0.
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["ok"], true);
    let too_deep = format!("{diff}{}", "/d".repeat(2046));
    assert_problem(&v, &too_deep, "more than 2048 levels below the root");
    // The drift lists exactly what find sees in the RW layer down to that depth.
    let drift = v["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == diff.as_str())
        .expect("the container's drift");
    let mut got: Vec<String> = drift["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let mut want: Vec<String> = String::from_utf8(found.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches('.').to_owned())
        .collect();
    want.sort();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "drift paths differ from find's");
    assert_eq!(got.len(), 2047);
    // Without the sandbox the answer is the same: the bound is dockscope's, not the
    // kernel's.
    let (code2, out2, _, _) = measured(
        &s.root,
        &["--no-sandbox", "verify", "--content", "--json"],
        &[],
    );
    assert_eq!(code2, code);
    let v2: Value = serde_json::from_str(&out2).unwrap();
    assert_eq!(v2["drift"], v["drift"]);
    assert_eq!(v2["problems"], v["problems"]);
}

/// dockscope with `args` on `root` under `ulimit -n LIMIT`: (exit code, stdout,
/// stderr).
fn limited(root: &Path, limit: u32, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {limit} && root=\"$1\" && shift && exec \"$0\" --root \"$root\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_dockscope"))
        .arg(root)
        .args(args)
        .env_remove("DOCKSCOPE_ROOT")
        .output()
        .expect("run sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A comb in the first container's RW layer: a `depth`-deep chain of `d`, and at every
/// level a sibling `d-N` (sorts between `d` and `d/…`) holding a file `f`, made one
/// directory at a time from the open parent (deeper than PATH_MAX is fine). Returns the
/// container's id and its RW layer's `diff/`.
fn comb(root: &Path, depth: usize) -> (String, std::path::PathBuf) {
    make(&["deep-chain", root.to_str().unwrap(), &depth.to_string()]);
    let mounts = root.join("image/overlay2/layerdb/mounts");
    let mut ids: Vec<String> = std::fs::read_dir(&mounts)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    ids.sort();
    let container = ids[0].clone();
    let mount_id = std::fs::read_to_string(mounts.join(&container).join("mount-id")).unwrap();
    let rw = root.join("overlay2").join(mount_id.trim()).join("diff");
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import os,sys\n\
             fd=os.open(sys.argv[1],os.O_RDONLY|os.O_DIRECTORY)\n\
             for i in range(int(sys.argv[2])):\n\
             \x20   os.mkdir('d-%d'%i,dir_fd=fd)\n\
             \x20   s=os.open('d-%d'%i,os.O_RDONLY|os.O_DIRECTORY,dir_fd=fd)\n\
             \x20   os.close(os.open('f',os.O_WRONLY|os.O_CREAT,0o644,dir_fd=s))\n\
             \x20   os.close(s)\n\
             \x20   n=os.open('d',os.O_RDONLY|os.O_DIRECTORY,dir_fd=fd)\n\
             \x20   os.close(fd)\n\
             \x20   fd=n\n",
        )
        .arg(&rw)
        .arg(depth.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    (container, rw)
}

#[test]
fn a_deep_chain_in_a_container_needs_few_descriptors() {
    // A comb: a 2,000-deep chain of `d`, and at every level a sibling `d-N` (sorts
    // between `d` and `d/…`) holding a file, so the walk comes back up through every
    // level to list a sibling after the chain below it was walked.
    let s = SampleRoot::unpack("full");
    let depth = 2000;
    let (container, rw) = comb(&s.root, depth);
    // What the RW layer holds, by GNU find, in byte order of whole paths.
    let found = Command::new("find")
        .args([".", "-mindepth", "1"])
        .current_dir(&rw)
        .output()
        .unwrap();
    assert!(found.status.success());
    let mut want: Vec<String> = String::from_utf8(found.stdout)
        .unwrap()
        .lines()
        .map(|l| format!("A {}", l.trim_start_matches('.')))
        .collect();
    want.sort_by(|a, b| a.as_bytes()[2..].cmp(&b.as_bytes()[2..]));
    assert!(want.len() > 3 * depth);
    // 48 descriptors: far fewer than the 4,000 directories on the way down.
    let (code, out, err) = limited(&s.root, 48, &["diff", &container]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("Too many open files"), "{err}");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), want.len(), "{err}");
    assert!(got == want, "diff differs from find's paths in byte order");
    // verify --content lists the same drift within a small budget too: 96, since the
    // other layers' content checks run beside the drift, each holding the open
    // directories of its own path (shallow here).
    let (code, out, err) = limited(&s.root, 96, &["verify", "--content", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["problems"].as_array().unwrap().is_empty(),
        "{}",
        v["problems"]
    );
    let drift = v["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["container"] == container.as_str())
        .expect("the container's drift");
    let listed = change_lines(drift);
    assert!(
        listed == want,
        "verify's drift differs from find's paths in byte order"
    );
}

#[test]
fn ls_recursive_of_a_deep_comb_needs_few_descriptors() {
    // A comb as above, 1,000 deep: `ls -R` lists `d` before `d-N`, so after the chain
    // below it was listed it comes back up through every level to list the sibling,
    // reopening what it closed to stay within the descriptors it may hold.
    let s = SampleRoot::unpack("full");
    let depth = 1000;
    let (container, rw) = comb(&s.root, depth);
    let ls_limited = |args: &[&str]| {
        let mut all = vec!["ls", "-R"];
        all.extend_from_slice(args);
        all.push(container.as_str());
        let (code, out, err) = limited(&s.root, 48, &all);
        assert_eq!(code, 0, "{err}");
        assert!(err.is_empty(), "{err}");
        out
    };
    // The container's own layer is GNU `ls -RA` of its dir (C locale), `/` for the top
    // and the marks of a raw layer left out.
    let want = gnu_ls_ra(&rw);
    assert!(want.len() > 4 * depth);
    let raw = ls_limited(&["--rw"]);
    let got: Vec<&str> = raw
        .lines()
        .map(|l| {
            l.trim_end_matches("  (whiteout)")
                .trim_end_matches("  (opaque)")
        })
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "ls -R --rw differs from GNU ls -RA");
    // The merged view holds the same comb below /d.
    let merged = ls_limited(&[]);
    let comb_part = |text: &str| -> Vec<String> {
        text.split("\n\n")
            .filter(|block| block.starts_with("/d/") || block.starts_with("/d:"))
            .map(str::to_owned)
            .collect()
    };
    let (a, b) = (comb_part(&merged), comb_part(&raw));
    // the chain of `d` and the `d-N` of every level but the top
    assert_eq!(a.len(), 2 * depth - 1);
    assert!(a == b, "the merged view's /d differs from the RW layer's");
    // `find` walks the merged view within the same budget: the `f` of every `d-N`,
    // as GNU find sees them in the RW layer.
    let (code, out, err) = limited(&s.root, 48, &["find", &container, "--name", "f", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["problems"].as_array().map(Vec::len),
        Some(0),
        "{}",
        v["problems"]
    );
    let mut got: Vec<String> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap().to_owned())
        .collect();
    got.sort();
    let found = Command::new("find")
        .args([".", "-name", "f"])
        .current_dir(&rw)
        .output()
        .unwrap();
    let mut want: Vec<String> = String::from_utf8(found.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches('.').to_owned())
        .collect();
    want.sort();
    assert_eq!(want.len(), depth);
    assert!(
        got == want,
        "find --name f differs from GNU find in the RW layer"
    );
}

#[test]
fn an_orphan_dir_deeper_than_the_bound_is_never_reclaimable() {
    // An overlay2 dir no record names, holding a chain past the depth bound: what lies
    // below the bound is not read, so its bytes are unknown and nothing may call the
    // dir reclaimable (orphans, check and du's leftovers alike).
    let s = SampleRoot::unpack("full");
    let id = "ab".repeat(32);
    let status = Command::new("python3")
        .arg("-c")
        .arg(
            "import os,sys\n\
             os.makedirs(sys.argv[1])\n\
             fd=os.open(sys.argv[1],os.O_RDONLY)\n\
             for _ in range(2100):\n\
             \x20   os.mkdir('d',dir_fd=fd); n=os.open('d',os.O_RDONLY,dir_fd=fd); os.close(fd); fd=n\n\
             w=os.open('leaf',os.O_WRONLY|os.O_CREAT,0o644,dir_fd=fd); os.write(w,b'x'*100000)",
        )
        .arg(s.root.join("overlay2").join(&id).join("diff"))
        .status()
        .unwrap();
    assert!(status.success());
    let dir = format!("overlay2/{id}");
    let first = format!("{dir}/diff{}", "/d".repeat(2046));

    // orphans: the dir is found, not reclaimable, and judged "cannot judge" for the
    // unread path; exit 2.
    let (code, out, err) = run(&s.root, &["orphans", "--json"]);
    assert_eq!(code, 2, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let finding = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["paths"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == dir.as_str())
        })
        .expect("the orphan dir is a finding");
    assert_eq!(finding["kind"], "orphan-cache-dir");
    assert_eq!(finding["reclaimable"], false);
    let cj = v["cannot_judge"].as_array().unwrap();
    assert!(
        cj.iter().any(|c| c["area"] == dir.as_str()
            && c["reason"].as_str().unwrap().starts_with(&first)
            && c["reason"]
                .as_str()
                .unwrap()
                .contains("more than 2048 levels below the root")),
        "{}",
        v["cannot_judge"]
    );
    // --print0 prints none of it.
    let (_, out, _) = run(&s.root, &["orphans", "--print0"]);
    assert!(!out.contains(&id), "{out:?}");
    // check: the same verdict, exit 2.
    let (code, out, err) = run(&s.root, &["check", "--json"]);
    assert_eq!(code, 2, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["cannot_judge"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["area"] == dir.as_str()));
    // du: its leftovers leave the dir out, and the unread path is a problem.
    let (_, out, err) = run(&s.root, &["du", "--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(
        !v["unowned"]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == dir.as_str()),
        "{err}"
    );
    assert!(v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["path"] == first.as_str()));
}
