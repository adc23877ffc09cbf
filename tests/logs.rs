//! `dockscope logs` against the json-file lines the daemon wrote, parsed here on their
//! own, on the `full` capture (its `c-logs` container rotated its log twice).
#![allow(clippy::disallowed_methods)]

mod common;
use common::{dockscope, SampleRoot};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

struct Rec {
    stream: String,
    time: String,
    log: String,
}

/// The container's json-file entries, oldest file first, read independently.
fn recorded(s: &SampleRoot, id: &str) -> Vec<Rec> {
    let dir = s.path("containers").join(id);
    let mut files: Vec<(u32, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name()?.to_str()?.to_owned();
            let rest = name.strip_prefix(&format!("{id}-json.log"))?.to_owned();
            let n = if rest.is_empty() {
                0
            } else {
                rest.strip_prefix('.')?.parse().ok()?
            };
            Some((n, p))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut out = Vec::new();
    for (_, f) in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            out.push(Rec {
                stream: v["stream"].as_str().unwrap().to_owned(),
                time: v["time"].as_str().unwrap().to_owned(),
                log: v["log"].as_str().unwrap().to_owned(),
            });
        }
    }
    out
}

fn logs(root: &Path, args: &[&str]) -> (i32, String, String) {
    let o = dockscope()
        .arg("--root")
        .arg(root)
        .arg("logs")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

fn containers(s: &SampleRoot) -> Vec<(String, String)> {
    s.daemon_json("container-inspect.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["Id"].as_str().unwrap().to_owned(),
                c["Name"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches('/')
                    .to_owned(),
            )
        })
        .collect()
}

fn joined(recs: &[Rec], stream: &str) -> String {
    recs.iter()
        .filter(|r| r.stream == stream)
        .map(|r| r.log.as_str())
        .collect()
}

const C_LOGS: &str = "c-logs";

fn id_of(s: &SampleRoot, name: &str) -> String {
    containers(s)
        .into_iter()
        .find(|(_, n)| n == name)
        .unwrap()
        .0
}

#[test]
fn every_containers_log_as_recorded_with_rotation_and_streams_apart() {
    // Also the root written by dockerd 28.5.
    let m = SampleRoot::unpack("modern");
    for (id, name) in containers(&m) {
        let recs = recorded(&m, &id);
        let (code, out, err) = logs(&m.root, &[&name]);
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(out, joined(&recs, "stdout"), "modern {name} stdout");
        assert_eq!(err, joined(&recs, "stderr"), "modern {name} stderr");
    }
    let s = SampleRoot::unpack("full");
    let mut with_stderr = 0;
    for (id, name) in containers(&s) {
        let recs = recorded(&s, &id);
        let (code, out, err) = logs(&s.root, &[&name]);
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(out, joined(&recs, "stdout"), "{name} stdout");
        assert_eq!(err, joined(&recs, "stderr"), "{name} stderr");
        // An archive's index does not keep log contents: said, exit 2, no guess.
        let (code, out, err) = logs(&s.archive, &[&name]);
        assert_eq!((code, out.as_str()), (2, ""), "{name}");
        assert!(err.contains("not read from an archive"), "{err}");
        if recs.iter().any(|r| r.stream == "stderr") {
            with_stderr += 1;
        }
    }
    assert!(
        with_stderr > 0,
        "the capture has a container writing to stderr"
    );
    // c-logs kept three files (max-file=3): 200 lines written, the oldest rotated away.
    let id = id_of(&s, C_LOGS);
    let recs = recorded(&s, &id);
    assert!(s
        .path("containers")
        .join(&id)
        .join(format!("{id}-json.log.2"))
        .exists());
    let (_, out, _) = logs(&s.root, &[C_LOGS]);
    assert_eq!(out.lines().count(), recs.len());
    assert!(out.ends_with("log line 199: the quick brown fox jumps over the lazy dog\n"));
}

#[test]
fn tail_since_until_and_timestamps() {
    let s = SampleRoot::unpack("full");
    let id = id_of(&s, C_LOGS);
    let recs = recorded(&s, &id);
    let n = recs.len();
    let (_, out, _) = logs(&s.root, &[C_LOGS, "--tail", "5"]);
    assert_eq!(out, joined(&recs[n - 5..], "stdout"));
    let (_, out, _) = logs(&s.root, &[C_LOGS, "-n", "0"]);
    assert_eq!(out, "");
    // --since and --until are inclusive, as in docker.
    let k = n / 2;
    let (_, out, _) = logs(&s.root, &[C_LOGS, "--since", &recs[k].time]);
    assert_eq!(out, joined(&recs[k..], "stdout"));
    let (_, out, _) = logs(&s.root, &[C_LOGS, "--until", &recs[k].time]);
    assert_eq!(out, joined(&recs[..=k], "stdout"));
    let (_, out, _) = logs(
        &s.root,
        &[
            C_LOGS,
            "--since",
            &recs[3].time,
            "--until",
            &recs[6].time,
            "-t",
        ],
    );
    let mut want = String::new();
    for r in &recs[3..=6] {
        // RFC3339NanoFixed: the recorded time with nine fraction digits.
        let (secs, frac) = r.time.trim_end_matches('Z').split_once('.').unwrap();
        want.push_str(secs);
        want.push('.');
        want.push_str(frac);
        want.push_str(&"0".repeat(9 - frac.len()));
        want.push_str("Z ");
        want.push_str(&r.log);
    }
    assert_eq!(out, want);
    // A relative time long ago: everything; Unix seconds after the capture: nothing.
    let (_, out, _) = logs(&s.root, &[C_LOGS, "--since", "87600h"]);
    assert_eq!(out, joined(&recs, "stdout"));
    let (_, out, _) = logs(&s.root, &[C_LOGS, "--since", "4102444800"]);
    assert_eq!(out, "");
    let (code, _, err) = logs(&s.root, &[C_LOGS, "--since", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid time"), "{err}");
    let (code, _, err) = logs(&s.root, &["no-such-container"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("No such container: no-such-container"),
        "{err}"
    );
    // JSON: every entry with its stream and time.
    let (_, out, _) = logs(&s.root, &[C_LOGS, "--json", "--tail", "2"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["driver"], "json-file");
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["entries"][1]["log"].as_str(),
        Some(recs[n - 1].log.as_str())
    );
    assert_eq!(v["entries"][1]["stream"], "stdout");
}

#[test]
fn compressed_rotations_read_as_the_daemon_compresses_them() {
    let s = SampleRoot::unpack("full");
    let id = id_of(&s, C_LOGS);
    let recs = recorded(&s, &id);
    let dir = s.path("containers").join(&id);
    // What json-file's compress=true leaves: `.1.gz`, `.2.gz` (gzip of the rotated file).
    for k in [1, 2] {
        let f = dir.join(format!("{id}-json.log.{k}"));
        let status = std::process::Command::new("gzip").arg(&f).status().unwrap();
        assert!(status.success());
        assert!(dir.join(format!("{id}-json.log.{k}.gz")).exists());
    }
    let (code, out, err) = logs(&s.root, &[C_LOGS]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, joined(&recs, "stdout"));
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The `local` driver's frame of one entry (moby daemon/logger/local: a protobuf
/// LogEntry between two big-endian lengths).
fn frame(r: &Rec) -> Vec<u8> {
    let t: jiff::Timestamp = r.time.parse().unwrap();
    let mut msg = vec![0x0a];
    varint(r.stream.len() as u64, &mut msg);
    msg.extend_from_slice(r.stream.as_bytes());
    msg.push(0x10);
    varint(u64::try_from(t.as_nanosecond()).unwrap(), &mut msg);
    msg.push(0x1a);
    varint(r.log.len() as u64, &mut msg);
    msg.extend_from_slice(r.log.as_bytes());
    let len = (msg.len() as u32).to_be_bytes();
    let mut out = len.to_vec();
    out.extend_from_slice(&msg);
    out.extend_from_slice(&len);
    out
}

/// The same container switched to the `local` driver: its recorded entries re-framed
/// into `local-logs/container.log.1.gz` and `container.log`, and the json-file ones gone.
#[test]
fn local_driver_frames_rotated_and_compressed() {
    let s = SampleRoot::unpack("full");
    let id = id_of(&s, C_LOGS);
    let recs = recorded(&s, &id);
    let dir = s.path("containers").join(&id);
    let hc_path = dir.join("hostconfig.json");
    let mut hc: Value = serde_json::from_str(&std::fs::read_to_string(&hc_path).unwrap()).unwrap();
    hc["LogConfig"] = serde_json::json!({"Type": "local", "Config": {}});
    std::fs::write(&hc_path, serde_json::to_vec(&hc).unwrap()).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.to_str().unwrap().contains("-json.log") {
            std::fs::remove_file(p).unwrap();
        }
    }
    let local = dir.join("local-logs");
    std::fs::create_dir(&local).unwrap();
    let half = recs.len() / 2;
    let old: Vec<u8> = recs[..half].iter().flat_map(frame).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&old).unwrap();
    std::fs::write(local.join("container.log.1.gz"), gz.finish().unwrap()).unwrap();
    let new: Vec<u8> = recs[half..].iter().flat_map(frame).collect();
    std::fs::write(local.join("container.log"), &new).unwrap();
    let (code, out, err) = logs(&s.root, &[C_LOGS]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, joined(&recs, "stdout"));
    let (_, out, _) = logs(&s.root, &[C_LOGS, "-t", "--tail", "1"]);
    assert!(out.starts_with(&recs.last().unwrap().time[..19]), "{out}");
    // A frame whose closing length is wrong ends the file's reading, named.
    let mut broken = new.clone();
    let first_len = u32::from_be_bytes(broken[..4].try_into().unwrap()) as usize;
    broken[4 + first_len + 3] ^= 0xff;
    std::fs::write(local.join("container.log"), &broken).unwrap();
    let (code, out, err) = logs(&s.root, &[C_LOGS]);
    assert_eq!(code, 0);
    assert_eq!(out, joined(&recs[..half], "stdout"));
    assert!(
        err.contains(&format!("containers/{id}/local-logs/container.log:1")),
        "{err}"
    );
}

#[test]
fn a_damaged_line_is_named_and_skipped() {
    let s = SampleRoot::unpack("full");
    let id = id_of(&s, C_LOGS);
    let recs = recorded(&s, &id);
    let f = s
        .path("containers")
        .join(&id)
        .join(format!("{id}-json.log.1"));
    let text = std::fs::read_to_string(&f).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let broken = lines[2][..lines[2].len() / 2].to_owned();
    let lost = lines[2].to_owned();
    lines[2] = &broken;
    std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = logs(&s.root, &[C_LOGS]);
    assert_eq!(code, 0);
    let lost: Value = serde_json::from_str(&lost).unwrap();
    let want: String = recs
        .iter()
        .filter(|r| r.log != lost["log"].as_str().unwrap())
        .map(|r| r.log.as_str())
        .collect();
    assert_eq!(out, want, "every other line still printed");
    assert!(
        err.contains(&format!("containers/{id}/{id}-json.log.1:3")),
        "names the file and line: {err}"
    );
}
