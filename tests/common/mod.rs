//! Test helpers: sample roots unpacked into temp dirs, the daemon's recorded answers,
//! and a `dockscope` command builder.
#![allow(dead_code, clippy::disallowed_methods)]

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process;
use tempfile::TempDir;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `sample-roots/docker-explorer/<name>.tgz` (copied from google/docker-explorer, Apache-2.0).
pub fn explorer_archive(name: &str) -> PathBuf {
    repo()
        .join("sample-roots/docker-explorer")
        .join(format!("{name}.tgz"))
}

/// A captured root unpacked into its own temp dir (removed when dropped).
pub struct SampleRoot {
    pub dir: TempDir,
    pub root: PathBuf,
    pub archive: PathBuf,
    /// `sample-roots/<name>/daemon/` (None for docker-explorer captures).
    pub daemon: Option<PathBuf>,
}

fn untar(archive: &Path, into: &Path) {
    // GNU tar restores whiteout devices, trusted.* xattrs and sparse files (as root).
    let status = process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpzf"])
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .expect("run tar");
    assert!(status.success(), "tar failed on {}", archive.display());
}

impl SampleRoot {
    /// `sample-roots/<name>/root.tar.gz`, unpacked.
    pub fn unpack(name: &str) -> SampleRoot {
        let archive = repo().join("sample-roots").join(name).join("root.tar.gz");
        let dir = tempfile::tempdir().expect("tempdir");
        untar(&archive, dir.path());
        SampleRoot {
            root: dir.path().to_owned(),
            dir,
            archive,
            daemon: Some(repo().join("sample-roots").join(name).join("daemon")),
        }
    }

    /// A docker-explorer capture, unpacked; its root is `docker/`.
    pub fn explorer(name: &str) -> SampleRoot {
        let archive = explorer_archive(name);
        let dir = tempfile::tempdir().expect("tempdir");
        untar(&archive, dir.path());
        SampleRoot {
            root: dir.path().join("docker"),
            dir,
            archive,
            daemon: None,
        }
    }

    /// A recorded daemon answer, parsed.
    pub fn daemon_json(&self, file: &str) -> Value {
        let path = self.daemon.as_ref().expect("a daemon capture").join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn daemon_text(&self, file: &str) -> String {
        let path = self.daemon.as_ref().expect("a daemon capture").join(file);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

pub fn dockscope() -> Command {
    let mut c = Command::cargo_bin("dockscope").expect("binary");
    c.env_remove("DOCKSCOPE_ROOT");
    c.env_remove("DOCKSCOPE_CONTAINERD_ROOT");
    c
}

/// Run `dockscope --root ROOT ARGS --json`, expect exit 0, parse stdout.
pub fn json(root: &Path, args: &[&str]) -> Value {
    let out = dockscope()
        .arg("--root")
        .arg(root)
        .args(args)
        .arg("--json")
        .output()
        .expect("run dockscope");
    assert!(
        out.status.success(),
        "dockscope {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

/// Run and return (exit code, stdout, stderr).
pub fn run(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = dockscope()
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("run dockscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn strs(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// RFC 3339 -> unix seconds.
/// The daemon's recorded `docker diff` beside a sample root (`daemon/diff/<id>.txt`):
/// container id -> its lines, in the recorded order.
pub fn recorded_diffs(s: &SampleRoot) -> std::collections::BTreeMap<String, Vec<String>> {
    let dir = s.daemon.as_ref().expect("daemon").join("diff");
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("daemon/diff") {
        let p = e.expect("entry").path();
        let id = p.file_stem().expect("name").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&p).expect("read");
        let lines = text.lines().filter(|l| !l.is_empty()).map(str::to_owned);
        out.insert(id, lines.collect());
    }
    out
}

/// A `diff`/`verify` changes list (`{"kind": "A", "path": "/x"}`) as `docker diff`
/// prints it: `A /x`, in the listed order.
pub fn change_lines(v: &Value) -> Vec<String> {
    v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["kind"].as_str().unwrap(),
                c["path"].as_str().unwrap()
            )
        })
        .collect()
}

pub fn unix(t: &str) -> i64 {
    t.parse::<jiff::Timestamp>().expect("RFC 3339").as_second()
}

/// Split a docker-style table into cells by the header's column offsets.
pub fn cells(text: &str, headers: &[&str]) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut lines = text.lines();
    let head = lines.next().expect("header");
    let starts: Vec<usize> = headers
        .iter()
        .map(|h| head.find(h).unwrap_or_else(|| panic!("{h} in {head}")))
        .collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let chars: Vec<char> = l.chars().collect();
            let mut row = std::collections::BTreeMap::new();
            for (i, h) in headers.iter().enumerate() {
                let from = starts[i].min(chars.len());
                let to = starts
                    .get(i + 1)
                    .copied()
                    .unwrap_or(chars.len())
                    .min(chars.len());
                let cell: String = chars[from..to].iter().collect();
                row.insert((*h).to_owned(), cell.trim().to_owned());
            }
            row
        })
        .collect()
}

/// The entries of the list `v[list]` (`findings`, `docker_reclaimable`, ...) whose
/// `kind` is `kind`.
pub fn of_kind<'v>(v: &'v Value, list: &str, kind: &str) -> Vec<&'v Value> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("{list} is a list: {v}"))
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

/// Assert that `v["problems"]` holds one at `path` whose detail says `detail`.
pub fn assert_problem(v: &Value, path: &str, detail: &str) {
    let problems = v["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p["path"] == path && p["detail"].as_str().unwrap().contains(detail)),
        "no problem at {path} saying {detail:?}: {}",
        v["problems"]
    );
}

/// GNU `ls -RA` of `dir` (C locale) as `dockscope ls -R` prints a layer: `/` for the
/// top, `/a/b:` for the headers below it.
pub fn gnu_ls_ra(dir: &Path) -> Vec<String> {
    let out = process::Command::new("ls")
        .args(["-RA", "."])
        .current_dir(dir)
        .env("LC_ALL", "C")
        .output()
        .expect("run ls");
    assert!(out.status.success(), "ls -RA {}", dir.display());
    String::from_utf8(out.stdout)
        .expect("utf-8 names")
        .lines()
        .map(|l| {
            if l == ".:" {
                "/:".to_owned()
            } else {
                l.strip_prefix("./")
                    .map_or(l.to_owned(), |r| format!("/{r}"))
            }
        })
        .collect()
}
