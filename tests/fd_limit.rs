//! The walk and the scan under a low open-file limit: the same answers as with a high
//! one, run after run; and when descriptors do run out, every bucket whose total came
//! out short is marked incomplete, never reported as a smaller number.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{repo, SampleRoot};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// The second test lowers this process's limit: the tests take turns.
static TURN: Mutex<()> = Mutex::new(());

/// A generated root (benches/gen_root.py, configs cloned from the `full` capture) with
/// more overlay2 dirs than the low limit allows descriptors.
fn generated_root(dir: &Path, layers: u32) -> std::path::PathBuf {
    let out = dir.join("root");
    let status = Command::new("python3")
        .arg(repo().join("benches/gen_root.py"))
        .arg(&out)
        .args(["--seed", "7", "--images", &(layers / 5).to_string()])
        .args([
            "--layers",
            &layers.to_string(),
            "--bases",
            "8",
            "--jobs",
            "1",
        ])
        .arg("--template")
        .arg(repo().join("sample-roots/full/root.tar.gz"))
        .status()
        .expect("run python3");
    assert!(status.success());
    out
}

/// Run the binary under `ulimit -n LIMIT` (`hard` for the hard limit).
fn run_limited(limit: &str, root: &Path, cmd: &str) -> (i32, Value) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {} && exec \"$0\" --root \"$1\" {cmd} --json",
            if limit == "hard" {
                "$(ulimit -Hn)"
            } else {
                limit
            }
        ))
        .arg(env!("CARGO_BIN_EXE_dockscope"))
        .arg(root)
        .env_remove("DOCKSCOPE_ROOT")
        .output()
        .expect("run sh");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        (0..=2).contains(&code),
        "{cmd} at ulimit {limit}: exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    strip_times(&mut v);
    (code, v)
}

/// Timings differ from run to run; nothing else may.
fn strip_times(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.ends_with("_seconds"));
            m.values_mut().for_each(strip_times);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_times),
        _ => {}
    }
}

fn gnu_du_b(path: &Path) -> u64 {
    let out = Command::new("du").arg("-sb").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn answers_do_not_depend_on_the_open_file_limit() {
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let tmp = tempfile::tempdir().unwrap();
    let root = generated_root(tmp.path(), 600);
    let dirs = std::fs::read_dir(root.join("overlay2")).unwrap().count();
    assert!(dirs > 600, "{dirs} overlay2 entries");
    for cmd in ["du", "check", "orphans"] {
        let (code, high) = run_limited("hard", &root, cmd);
        for _ in 0..2 {
            let (c, low) = run_limited("64", &root, cmd);
            assert_eq!(c, code, "{cmd}: exit code at ulimit -n 64");
            assert!(low == high, "{cmd}: --json differs at ulimit -n 64");
        }
        if cmd == "du" {
            assert_eq!(high["problems"], Value::Array(Vec::new()));
            assert_eq!(
                high["total"]["apparent_bytes"].as_u64(),
                Some(gnu_du_b(&root)),
                "du's total is GNU du -sb's"
            );
        }
    }
}

fn nofile() -> rustix::process::Rlimit {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
}

#[test]
fn descriptors_running_out_mark_what_they_touch() {
    let _turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let s = SampleRoot::unpack("full");
    let root = dockscope::root::DataRoot::open(&s.root).unwrap();
    let full = dockscope::walk::walk(&root, None);
    assert!(full.problems.is_empty(), "{:?}", full.problems);
    assert!(full.incomplete.is_empty());
    // Leave the walk one descriptor beyond those open now (the count includes the one
    // reading /proc/self/fd, closed right after): the root opens, its subdirectories
    // cannot.
    let open_now = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
    let saved = nofile();
    let mut low = saved;
    low.current = Some(open_now);
    rustix::process::setrlimit(rustix::process::Resource::Nofile, low).unwrap();
    let starved = dockscope::walk::walk(&root, None);
    rustix::process::setrlimit(rustix::process::Resource::Nofile, saved).unwrap();

    assert!(
        !starved.problems.is_empty(),
        "a walk with one descriptor to spare met no failure"
    );
    for p in &starved.problems {
        assert!(
            starved.incomplete_paths.contains(&p.path),
            "{p} is not marked"
        );
    }
    // Every bucket that came out different (or not at all) says it is incomplete.
    let mut differs = 0;
    for (b, u) in &full.buckets {
        if starved.buckets.get(b) != Some(u) {
            differs += 1;
            assert!(starved.incomplete(b), "{b:?} came out short, unmarked");
        }
    }
    assert!(differs > 0);
}
