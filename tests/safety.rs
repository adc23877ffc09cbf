//! What dockscope guarantees about its own output and its own reach, proved on real
//! captures: every write to stdout is checked (a full disk is exit 2 with a message, a
//! reader that went away keeps the exit code the findings call for), names from the root
//! cannot fake lines of output, and the kernel sandbox stops any write.
#![allow(clippy::disallowed_methods)] // the tests break roots on purpose

mod common;
use common::{json, SampleRoot};
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

const IMG: &str = "image/overlay2";

/// The binary as a plain `std::process::Command` (stdout redirected by the test).
fn bin() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("dockscope"));
    c.env_remove("DOCKSCOPE_ROOT");
    c
}

/// Run with stdout on `/dev/full`: (exit code, stderr).
fn to_dev_full(root: &Path, args: &[&str]) -> (i32, String) {
    let out = bin()
        .arg("--root")
        .arg(root)
        .args(args)
        .stdout(
            fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run with stdout on a pipe whose reader is already closed: every write fails with
/// EPIPE. (A shell waits on stdin until the test has closed its end of the pipe, then
/// execs dockscope.) (exit code, stderr).
fn to_closed_pipe(root: &Path, args: &[&str]) -> (i32, String) {
    use std::io::Write;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("read go && exec \"$0\" \"$@\"")
        .arg(assert_cmd::cargo::cargo_bin("dockscope"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("DOCKSCOPE_ROOT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The daemon's id of a container, by name.
fn container_id(s: &SampleRoot, name: &str) -> String {
    let v = s.daemon_json("container-inspect.json");
    v.as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == name)
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A layer's `size` file edited: `verify` finds a size-mismatch (exit 1).
fn break_a_size(s: &SampleRoot) {
    let t = json(&s.root, &["tree", "app:1"]);
    let chain = &t["layers"][1]["chain_id"].as_str().unwrap()[7..];
    let rel = format!("{IMG}/layerdb/sha256/{chain}/size");
    let size: u64 = fs::read_to_string(s.path(&rel)).unwrap().parse().unwrap();
    fs::write(s.path(&rel), (size + 1).to_string()).unwrap();
}

#[test]
fn a_full_disk_is_exit_2_with_a_message_even_for_small_outputs() {
    let s = SampleRoot::unpack("full");
    for args in [
        &["check"][..],
        &["check", "--strict"],
        &["check", "--format", "prometheus"],
        &["images"],
        &["orphans", "--json"],
        &["info"],
        &["verify"],
    ] {
        let (code, err) = to_dev_full(&s.root, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("dockscope: error: writing output: No space left on device"),
            "{args:?}: {err}"
        );
    }
    // The same commands exit 0 when stdout takes what they write.
    assert_eq!(common::run(&s.root, &["check"]).0, 0);
}

#[test]
fn a_closed_pipe_keeps_the_exit_code_of_the_findings() {
    let s = SampleRoot::unpack("full");
    let (code, err) = to_closed_pipe(&s.root, &["check", "--strict"]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("error"), "{err}");
    let (code, _) = to_closed_pipe(&s.root, &["images"]);
    assert_eq!(code, 0);
    break_a_size(&s);
    assert_eq!(common::run(&s.root, &["verify"]).0, 1);
    let (code, err) = to_closed_pipe(&s.root, &["verify"]);
    assert_eq!(code, 1, "verify | head: {err}");
    let (code, _) = to_closed_pipe(&s.root, &["verify", "--json"]);
    assert_eq!(code, 1);
    // Cannot judge stays 2.
    fs::remove_file(s.path(&format!("{IMG}/repositories.json"))).unwrap();
    let (code, err) = to_closed_pipe(&s.root, &["orphans"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot judge"), "{err}");
}

/// A container name and a tag carrying a newline and a terminal escape: no command's
/// text output gets a line of the attacker's, nor the escape; JSON keeps the name exactly.
#[test]
fn names_cannot_fake_lines_of_output() {
    let s = SampleRoot::unpack("full");
    let id = container_id(&s, "/c-exit0");
    let cfg = s.path(&format!("containers/{id}/config.v2.json"));
    let text = fs::read_to_string(&cfg).unwrap();
    assert!(text.contains(r#""Name":"/c-exit0""#));
    fs::write(
        &cfg,
        text.replace(
            r#""Name":"/c-exit0""#,
            r#""Name":"/c-exit0\nFAKE LINE\u001b[31m""#,
        ),
    )
    .unwrap();
    let repos = s.path(&format!("{IMG}/repositories.json"));
    let mut v: Value = serde_json::from_slice(&fs::read(&repos).unwrap()).unwrap();
    let app = v["Repositories"]["app"]["app:1"].clone();
    v["Repositories"]["app"]["app:evil\nFAKE TAG"] = app;
    fs::write(&repos, serde_json::to_vec(&v).unwrap()).unwrap();
    let mut seen_name = false;
    let mut seen_tag = false;
    for args in [
        &["ps", "-a"][..],
        &["images", "-a"],
        &["volumes"],
        &["du", "--by", "container"],
        &["du", "--by", "image"],
        &["tree"],
        &["inspect", "c-exit0\nFAKE LINE\u{1b}[31m"],
        &["orphans"],
        &["check", "--strict"],
        &["verify"],
        &["info"],
    ] {
        let (_, out, err) = common::run(&s.root, args);
        for line in out.lines().chain(err.lines()) {
            assert!(
                !line.starts_with("FAKE") && !line.contains('\u{1b}'),
                "{args:?}: {line:?}"
            );
        }
        seen_name |= out.contains(r"c-exit0\nFAKE LINE\u{1b}[31m");
        seen_tag |= out.contains(r"evil\nFAKE TAG");
    }
    assert!(seen_name && seen_tag, "the names are shown, escaped");
    let ps = json(&s.root, &["ps", "-a"]);
    assert!(ps.to_string().contains(r"c-exit0\nFAKE LINE\u001b[31m"));
}

/// Run with the planted accesses of test builds (`DOCKSCOPE_PLANTED_WRITE`/`_READ`).
fn planted(root: &Path, extra: &[&str], write: &Path, read: &Path) -> (i32, String) {
    let out = bin()
        .args(extra)
        .arg("--root")
        .arg(root)
        .arg("images")
        .env("DOCKSCOPE_PLANTED_WRITE", write)
        .env("DOCKSCOPE_PLANTED_READ", read)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The kernel stops a write planted after the sandbox is entered (EACCES), under /tmp
/// and inside the root itself, and a read outside the root; `--no-sandbox` lets the same
/// write through, so the test can fail.
#[test]
fn the_sandbox_stops_a_planted_write() {
    let s = SampleRoot::unpack("full");
    let v = json(&s.root, &["info"]);
    assert_eq!(v["sandbox"]["state"], "enforced", "{:#}", v["sandbox"]);
    assert!(v["sandbox"]["abi"].as_i64().unwrap() >= 1);
    assert_eq!(
        v["sandbox"]["read_only"],
        serde_json::json!([s.root.display().to_string()])
    );
    assert_eq!(v["sandbox"]["writable"], serde_json::json!([]));
    let (_, text, _) = common::run(&s.root, &["info"]);
    assert!(
        text.contains("Sandbox:         enforced (Landlock ABI"),
        "{text}"
    );

    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret");
    fs::write(&secret, "not for dockscope").unwrap();
    for target in [outside.path().join("planted"), s.path("planted")] {
        let (code, err) = planted(&s.root, &[], &target, &secret);
        assert_eq!(code, 0, "{err}");
        assert!(
            err.contains(&format!(
                "planted write {}: Permission denied (os error 13)",
                target.display()
            )),
            "{err}"
        );
        assert!(
            err.contains("planted read") && err.contains("Permission denied (os error 13)"),
            "{err}"
        );
        assert!(!target.exists(), "{} was created", target.display());
    }
    // Without the sandbox the same attempts succeed.
    let target = outside.path().join("planted");
    let (code, err) = planted(&s.root, &["--no-sandbox"], &target, &secret);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("succeeded"), "{err}");
    assert!(target.exists());
    let v = json(&s.root, &["--no-sandbox", "info"]);
    assert_eq!(v["sandbox"]["state"], "disabled");
}

/// An archive root: only that file is readable.
#[test]
fn the_sandbox_allows_the_archive_file_only() {
    let s = SampleRoot::unpack("empty");
    let v = json(&s.archive, &["info"]);
    assert_eq!(v["sandbox"]["state"], "enforced");
    let sibling = s.archive.with_file_name("daemon");
    let out = bin()
        .arg("--root")
        .arg(&s.archive)
        .arg("images")
        .env("DOCKSCOPE_PLANTED_READ", sibling.join("info.json"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied (os error 13)"), "{err}");
}
