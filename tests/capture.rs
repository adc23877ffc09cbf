//! `dockscope capture`: on every sample root written by a real dockerd, the capture
//! answers every command as the root itself did (paths and source notes aside); it
//! carries no planted secret; it refuses to write into the root or over a file; it is
//! small; GNU tar restores it with every file's true size.

#![allow(clippy::disallowed_methods)] // tests read and write their temp dirs
#![allow(clippy::print_stderr)] // the sizes measured are reported
#![allow(clippy::many_single_char_names)]

mod common;
use common::{dockscope, repo, SampleRoot};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

/// Every `sample-roots/<name>/root.tar.gz` in the repository.
fn sample_roots() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo().join("sample-roots"))
        .expect("sample-roots")
        .filter_map(Result::ok)
        .filter(|e| e.path().join("root.tar.gz").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Run `dockscope capture` and return its `--json` report.
fn capture(root: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = dockscope()
        .arg("--root")
        .arg(root)
        .arg("capture")
        .arg("-o")
        .arg(out)
        .args(extra)
        .arg("--json")
        .output()
        .expect("run capture");
    assert!(
        o.status.success(),
        "capture failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("capture --json")
}

/// (exit code, stdout or stderr) of one command, `--json`.
fn answer(root: &Path, args: &[String]) -> (i32, Value) {
    let o = dockscope()
        .arg("--root")
        .arg(root)
        .args(args)
        .arg("--json")
        .output()
        .expect("run dockscope");
    let code = o.status.code().unwrap_or(-1);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&o.stderr).into_owned()));
    (code, v)
}

/// Paths and source notes aside: the root's and the capture's paths become `ROOT`,
/// and the fields that name the source (or time a run) go.
fn normalise(v: &mut Value, subs: &[(String, &str)]) {
    match v {
        Value::String(s) => {
            for (from, to) in subs {
                if s.contains(from.as_str()) {
                    *s = s.replace(from.as_str(), to);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| normalise(x, subs)),
        Value::Object(o) => {
            for k in [
                "root",
                "archive",
                "archive_prefix",
                "disk_bytes_from",
                "scan_seconds",
                // how containerd's tree was found: beside the root, or in the archive
                "found_by",
                // the sandbox names the paths it allows
                "sandbox",
            ] {
                o.remove(k);
            }
            o.values_mut().for_each(|x| normalise(x, subs));
        }
        _ => {}
    }
}

/// The commands compared: every view, with the ids the root itself lists.
fn commands(root: &Path) -> Vec<Vec<String>> {
    let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let mut cmds: Vec<Vec<String>> = [
        "images",
        "images -a",
        "tree",
        "tree -a",
        "info",
        "du",
        "du --df-compat 20.10",
        "orphans",
        "check",
        "ps -a",
        "ps -a --size --no-trunc",
        "volumes",
        "verify",
    ]
    .iter()
    .map(|c| words(c))
    .collect();
    let (_, ps) = answer(root, &words("ps -a"));
    let containers: Vec<String> = ps["containers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let (_, images) = answer(root, &words("images -a"));
    let images: Vec<String> = images["images"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for i in &images {
        cmds.push(vec!["history".into(), i.clone()]);
        cmds.push(vec!["tree".into(), i.clone()]);
    }
    if !containers.is_empty() || !images.is_empty() {
        let mut all = vec!["inspect".to_owned()];
        all.extend(containers.iter().cloned());
        all.extend(images.iter().cloned());
        cmds.push(all);
    }
    if !containers.is_empty() {
        let mut sized = vec!["inspect".to_owned(), "--size".to_owned()];
        sized.extend(containers.iter().cloned());
        cmds.push(sized);
    }
    cmds
}

fn compare(dir: &Path, archive: &Path, what: &str) -> usize {
    // containerd's tree: beside the data root, or in the archive beside `docker/`
    let croot = dir.parent().unwrap_or(dir).join("containerd");
    let subs = [
        (croot.display().to_string(), "CONTAINERD_ROOT"),
        (
            format!("{}:containerd", archive.display()),
            "CONTAINERD_ROOT",
        ),
        (format!("{}/docker", archive.display()), "ROOT"),
        (archive.display().to_string(), "ROOT"),
        (dir.display().to_string(), "ROOT"),
    ];
    let cmds = commands(dir);
    for args in &cmds {
        let (code_dir, mut from_dir) = answer(dir, args);
        let (code_cap, mut from_cap) = answer(archive, args);
        normalise(&mut from_dir, &subs);
        normalise(&mut from_cap, &subs);
        assert_eq!(code_cap, code_dir, "{what}: exit code of {args:?}");
        assert_eq!(from_cap, from_dir, "{what}: {args:?} from the capture");
    }
    cmds.len()
}

/// The data root of an unpacked sample: the top, or `docker/` when the sample is a
/// `docker/` and `containerd/` pair (the containerd image store), whose `containerd/`
/// the capture then takes beside it.
fn data_root(s: &SampleRoot) -> PathBuf {
    if s.root.join("docker").is_dir() && !s.root.join("containers").exists() {
        s.root.join("docker")
    } else {
        s.root.clone()
    }
}

#[test]
fn every_command_answers_from_the_capture_as_from_the_root() {
    for name in sample_roots() {
        let s = SampleRoot::unpack(&name);
        let root = data_root(&s);
        let out = tempfile::tempdir().unwrap();
        let archive = out.path().join(format!("{name}.tar.zst"));
        capture(&root, &archive, &[]);
        let n = compare(&root, &archive, &name);
        eprintln!("{name}: {n} commands give the same JSON from the capture");
        assert!(n >= 13);
    }
}

#[test]
fn gzip_and_plain_tar_captures_answer_the_same() {
    let s = SampleRoot::unpack("full");
    let out = tempfile::tempdir().unwrap();
    for ext in ["tar.gz", "tar"] {
        let archive = out.path().join(format!("full.{ext}"));
        let report = capture(&s.root, &archive, &[]);
        assert_eq!(
            report["compression"],
            if ext == "tar" { "none" } else { "gzip" }
        );
        compare(&s.root, &archive, ext);
    }
}

fn gnu(args: &[&str], dir: &Path) -> String {
    let o = Process::new(args[0])
        .args(&args[1..])
        .arg(dir)
        .output()
        .expect("run tool");
    assert!(o.status.success(), "{args:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn du_from_the_capture_reports_the_disk_bytes_gnu_du_measured() {
    let s = SampleRoot::unpack("full");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("full.tar.zst");
    let report = capture(&s.root, &archive, &[]);
    let (code, du) = answer(&archive, &["du".to_owned()]);
    assert_eq!(code, 0);
    assert_eq!(du["disk_bytes_known"], true);
    assert_eq!(du["dir_sizes_known"], true);
    assert!(du["disk_bytes_from"]
        .as_str()
        .unwrap()
        .contains("capture manifest"));
    let du_b1: u64 = gnu(&["du", "-sB1", "--one-file-system"], &s.root)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let du_b: u64 = gnu(&["du", "-sb", "--one-file-system"], &s.root)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(du["total"]["disk_bytes"].as_u64(), Some(du_b1), "du -sB1");
    assert_eq!(du["total"]["apparent_bytes"].as_u64(), Some(du_b), "du -sb");
    // every entry is in the archive: find's counts
    let dirs = Process::new("find")
        .arg(&s.root)
        .args(["-type", "d"])
        .output()
        .unwrap()
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    let all = gnu(&["find"], &s.root).lines().count() as u64;
    let c = &report["counts"];
    assert_eq!(c["dirs"].as_u64(), Some(dirs), "find -type d");
    let non_dirs = c["files"].as_u64().unwrap()
        + c["symlinks"].as_u64().unwrap()
        + c["special"].as_u64().unwrap()
        + c["hard_links"].as_u64().unwrap();
    assert_eq!(non_dirs, all - dirs, "find ! -type d");
    assert_eq!(c["entries"].as_u64(), Some(all));
    assert!(c["contents_omitted"].as_u64().unwrap() > 0);
}

/// Decompress a capture and return its tar bytes.
fn tar_bytes(archive: &Path) -> Vec<u8> {
    let f = std::fs::File::open(archive).unwrap();
    let mut dec = ruzstd::decoding::StreamingDecoder::new(std::io::BufReader::new(f)).unwrap();
    let mut out = Vec::new();
    dec.read_to_end(&mut out).unwrap();
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_planted_secret_env_value_never_leaves_the_host() {
    let s = SampleRoot::unpack("full");
    let containers = s.path("containers");
    let first = std::fs::read_dir(&containers)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("config.v2.json").is_file())
        .min()
        .expect("a container");
    let cfg_path = first.join("config.v2.json");
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    let secret = "pl4nted-s3cret-value-7f3a9c";
    cfg["Config"]["Env"]
        .as_array_mut()
        .expect("Config.Env")
        .push(Value::String(format!("DB_PASSWORD={secret}")));
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    assert!(contains(
        &std::fs::read(&cfg_path).unwrap(),
        secret.as_bytes()
    ));

    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("full.tar.zst");
    let report = capture(&s.root, &archive, &[]);
    assert!(report["redacted_files"].as_u64().unwrap() > 1);
    let raw = std::fs::read(&archive).unwrap();
    let tar = tar_bytes(&archive);
    assert!(tar.len() > raw.len());
    assert!(
        !contains(&raw, secret.as_bytes()),
        "secret in the zstd bytes"
    );
    assert!(
        !contains(&tar, secret.as_bytes()),
        "secret in the tar bytes"
    );
    assert!(contains(&tar, b"DB_PASSWORD=<redacted>"), "the name stays");

    // inspect --show-env from the capture shows the name with the redacted value
    let id = first.file_name().unwrap().to_string_lossy().into_owned();
    let (code, v) = answer(
        &archive,
        &["inspect".into(), "--show-env".into(), id.clone()],
    );
    assert_eq!(code, 0);
    let env = v.to_string();
    assert!(env.contains("DB_PASSWORD=<redacted>"), "{env}");
    assert!(!env.contains(secret));

    // the image configs were redacted too, and still load: the manifest vouches for
    // each original digest, which is the file's name
    let manifest: Value = {
        let mut a = tar::Archive::new(std::io::Cursor::new(&tar));
        let mut found = None;
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            if e.path().unwrap().as_os_str() == "dockscope-capture.json" {
                let mut b = Vec::new();
                e.read_to_end(&mut b).unwrap();
                found = Some(serde_json::from_slice(&b).unwrap());
            }
        }
        found.expect("dockscope-capture.json in the archive")
    };
    let images: Vec<&Value> = manifest["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "image-config")
        .collect();
    assert!(!images.is_empty());
    for r in images {
        let name = r["path"].as_str().unwrap().rsplit('/').next().unwrap();
        assert_eq!(
            r["original_sha256"].as_str().unwrap(),
            format!("sha256:{name}")
        );
        assert_ne!(r["sha256"], r["original_sha256"]);
    }
    let (_, images_dir) = answer(&s.root, &["images".into(), "-a".into()]);
    let (_, images_cap) = answer(&archive, &["images".into(), "-a".into()]);
    assert_eq!(images_cap["images"], images_dir["images"]);

    // --keep-env keeps it: the search above can find it
    let kept = out.path().join("kept.tar.zst");
    capture(&s.root, &kept, &["--keep-env"]);
    assert!(contains(&tar_bytes(&kept), secret.as_bytes()));
}

/// Every entry under a directory with its size, mode and kind (the root's state).
fn listing(dir: &Path) -> BTreeMap<PathBuf, (u64, u32, i64)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            (e.path().to_owned(), (m.len(), m.mode(), m.mtime()))
        })
        .collect()
}

#[test]
fn refuses_to_write_into_the_root_or_over_a_file() {
    let s = SampleRoot::unpack("empty");
    let before = listing(&s.root);
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(s.path("image"), outside.path().join("into-root")).unwrap();
    for target in [
        s.path("cap.tar.zst"),
        s.path("image/cap.tar.gz"),
        outside.path().join("into-root/cap.tar"),
    ] {
        let o = dockscope()
            .arg("--root")
            .arg(&s.root)
            .args(["capture", "-o"])
            .arg(&target)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", target.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("inside the root"), "{err}");
    }
    assert_eq!(listing(&s.root), before, "the root changed");

    let existing = outside.path().join("old.tar.zst");
    std::fs::write(&existing, b"keep me").unwrap();
    let o = dockscope()
        .arg("--root")
        .arg(&s.root)
        .args(["capture", "-o"])
        .arg(&existing)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    capture(&s.root, &existing, &["--force"]);
    assert_ne!(std::fs::read(&existing).unwrap(), b"keep me");
    // no temporary file left beside it
    let names: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(listing(&s.root), before, "the root changed");

    // a bad name, an archive as the root
    let o = dockscope()
        .arg("--root")
        .arg(&s.root)
        .args(["capture", "-o"])
        .arg(outside.path().join("x.zip"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = dockscope()
        .arg("--root")
        .arg(&existing)
        .args(["capture", "-o"])
        .arg(outside.path().join("again.tar"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("archive"));
}

#[test]
fn a_capture_of_the_full_root_is_small() {
    let s = SampleRoot::unpack("full");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("full.tar.zst");
    let report = capture(&s.root, &archive, &[]);
    let bytes = std::fs::metadata(&archive).unwrap().len();
    let root_bytes: u64 = gnu(&["du", "-sb"], &s.root)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    eprintln!(
        "capture of sample-roots/full: {bytes} bytes for a root of {root_bytes} bytes ({} files without contents, {} bytes left on the host)",
        report["counts"]["contents_omitted"], report["counts"]["bytes_omitted"]
    );
    assert_eq!(report["bytes"].as_u64(), Some(bytes));
    assert!(bytes < 3_000_000, "{bytes} bytes");
    assert!(bytes * 10 < root_bytes, "{bytes} of {root_bytes}");
}

#[test]
fn contents_commands_say_the_capture_does_not_hold_them() {
    let s = SampleRoot::unpack("full");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("full.tar.zst");
    capture(&s.root, &archive, &[]);
    for flag in ["--content", "--deep"] {
        let o = dockscope()
            .arg("--root")
            .arg(&archive)
            .args(["verify", flag])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "verify {flag}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("holds no layer file contents"), "{err}");
    }
    // with --include-content the capture holds the layer files: verify --content
    // then gives the root's answer
    let with = out.path().join("with.tar.zst");
    capture(&s.root, &with, &["--include-content", "100000000"]);
    let args = vec!["verify".to_owned(), "--content".to_owned()];
    let (code_dir, mut a) = answer(&s.root, &args);
    let (code_cap, mut b) = answer(&with, &args);
    let subs = [
        (format!("{}/docker", with.display()), "ROOT"),
        (s.root.display().to_string(), "ROOT"),
    ];
    normalise(&mut a, &subs);
    normalise(&mut b, &subs);
    assert_eq!(code_cap, code_dir);
    assert_eq!(b, a);
}

#[test]
fn gnu_tar_restores_every_file_at_its_true_size() {
    let s = SampleRoot::unpack("full");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("full.tar.gz");
    capture(&s.root, &archive, &[]);
    let into = tempfile::tempdir().unwrap();
    let st = Process::new("tar")
        .args(["--warning=no-unknown-keyword", "--numeric-owner", "-xpzf"])
        .arg(&archive)
        .arg("-C")
        .arg(into.path())
        .status()
        .unwrap();
    assert!(st.success());
    let restored = into.path().join("docker");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(into.path().join("dockscope-capture.json")).unwrap())
            .unwrap();
    let redacted: Vec<String> = manifest["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    assert!(!redacted.is_empty());
    let (a, b) = (listing(&s.root), listing(&restored));
    assert_eq!(a.len(), b.len());
    let mut checked = 0;
    for (p, (len, mode, mtime)) in &a {
        let q = restored.join(p.strip_prefix(&s.root).unwrap());
        let (len2, mode2, mtime2) = b.get(&q).unwrap_or_else(|| panic!("{}", q.display()));
        let is_dir = mode & 0o170_000 == 0o040_000;
        // redacted files are shorter: the manifest names them
        let is_redacted = redacted.iter().any(|r| q.ends_with(r));
        if !is_dir && !is_redacted {
            assert_eq!(len, len2, "size of {}", q.display());
        }
        assert_eq!(mode, mode2, "mode of {}", q.display());
        if !is_dir {
            assert_eq!(mtime, mtime2, "mtime of {}", q.display());
        }
        checked += 1;
    }
    assert!(checked > 900, "{checked}");
}

/// The README's capture recipe, run: the capture on the "server" (an unpacked sample
/// root), then each CI line on the capture, which must print what it prints on the root.
#[test]
fn the_readme_recipe_runs() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block: Vec<&str> = readme
        .split("<!-- capture-recipe -->")
        .nth(1)
        .expect("the recipe marker")
        .lines()
        .skip_while(|l| !l.starts_with("```"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .filter_map(|l| l.strip_prefix("$ dockscope "))
        .collect();
    assert!(block.len() >= 3, "{block:?}");
    let s = SampleRoot::unpack("full");
    let server = tempfile::tempdir().unwrap();
    let ci = tempfile::tempdir().unwrap();
    let server_out = server.path().join("docker-root.tar.zst");
    let argv = |line: &str| -> Vec<String> {
        line.replace("/var/lib/docker", &s.root.display().to_string())
            .replace(
                "/tmp/docker-root.tar.zst",
                &server_out.display().to_string(),
            )
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let (capture_line, ci_lines) = block.split_first().unwrap();
    assert!(capture_line.contains(" capture "));
    let o = dockscope().args(argv(capture_line)).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // the capture travels to CI
    std::fs::copy(&server_out, ci.path().join("docker-root.tar.zst")).unwrap();
    for line in ci_lines {
        let on_capture = dockscope()
            .current_dir(ci.path())
            .args(argv(line))
            .output()
            .unwrap();
        let on_root: Vec<String> = argv(line)
            .into_iter()
            .map(|a| {
                if a == "docker-root.tar.zst" {
                    s.root.display().to_string()
                } else {
                    a
                }
            })
            .collect();
        let on_root = dockscope().args(on_root).output().unwrap();
        assert_eq!(on_capture.status.code(), on_root.status.code(), "{line}");
        let text = |b: &[u8]| {
            String::from_utf8_lossy(b)
                .lines()
                // du's last note names where the disk bytes came from
                .filter(|l| !l.starts_with("allocated sizes from the capture manifest"))
                .map(|l| l.trim_end().to_owned())
                .collect::<Vec<_>>()
        };
        let mut a = text(&on_capture.stdout);
        let mut b = text(&on_root.stdout);
        while a.last().is_some_and(String::is_empty) {
            a.pop();
        }
        while b.last().is_some_and(String::is_empty) {
            b.pop();
        }
        assert!(!a.is_empty(), "{line}: no output");
        assert_eq!(a, b, "{line}");
    }
}

/// The manifest vouches for the redacted bytes only: a capture whose redacted image
/// config is changed afterwards reports that image's digest mismatch, as a changed
/// config on a root does.
#[test]
fn a_redacted_config_changed_after_capture_is_a_mismatch() {
    let s = SampleRoot::unpack("full");
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("full.tar");
    capture(&s.root, &archive, &[]);
    let mut bytes = std::fs::read(&archive).unwrap();
    // the data of the first redacted image config, by its position in the tar
    let (id, at, len) = {
        let mut a = tar::Archive::new(std::io::Cursor::new(&bytes));
        let mut found = None;
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            if path.contains("imagedb/content/sha256/") && e.header().entry_type().is_file() {
                let pos = e.raw_file_position() as usize;
                let len = e.size() as usize;
                if contains(&bytes[pos..pos + len], b"=<redacted>") {
                    found = Some((path.rsplit('/').next().unwrap().to_owned(), pos, len));
                    break;
                }
            }
        }
        found.expect("a redacted image config")
    };
    let (_, before) = answer(&archive, &["orphans".into()]);
    let kinds = |v: &Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f.to_string().contains(&id))
            .map(|f| f["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!kinds(&before).contains(&"image-digest-mismatch".to_owned()));
    let data = &mut bytes[at..at + len];
    let i = data.windows(11).position(|w| w == b"=<redacted>").unwrap();
    data[i + 2] = b'R'; // same length: the tar stays well formed
    std::fs::write(&archive, &bytes).unwrap();
    let (_, after) = answer(&archive, &["orphans".into()]);
    assert!(
        kinds(&after).contains(&"image-digest-mismatch".to_owned()),
        "{after}"
    );
}

/// The archive's order is fixed whatever the threads do: a directory's entries in name
/// order, then each subdirectory's, even for a directory read in several pieces (a
/// layer of 9,000 files planted in the real root); hard links across pieces and
/// directories name the first name written; two captures are the same bytes up to
/// the manifest.
#[test]
fn a_large_directory_keeps_the_archive_order_and_its_hard_links() {
    let s = SampleRoot::unpack("full");
    let layer = std::fs::read_dir(s.root.join("overlay2"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join("diff").is_dir())
        .min()
        .expect("a layer");
    let big = layer.join("diff/big");
    std::fs::create_dir_all(big.join("d1")).unwrap();
    std::fs::create_dir(big.join("d2")).unwrap();
    let n = 9000;
    for i in 0..n {
        std::fs::write(big.join(format!("f{i:05}")), vec![b'x'; i % 700]).unwrap();
    }
    std::fs::remove_file(big.join(format!("f{:05}", n - 1))).unwrap();
    std::fs::hard_link(big.join("f00001"), big.join(format!("f{:05}", n - 1))).unwrap();
    std::fs::hard_link(big.join("f05000"), big.join("d1/x")).unwrap();
    std::fs::write(big.join("d2/y"), b"y").unwrap();

    let out = tempfile::tempdir().unwrap();
    let (a, b) = (out.path().join("a.tar"), out.path().join("b.tar"));
    capture(&s.root, &a, &[]);
    capture(&s.root, &b, &[]);
    let manifest_at = |p: &Path| {
        let mut ar = tar::Archive::new(std::fs::File::open(p).unwrap());
        let pos = ar
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.path_bytes().as_ref() == b"dockscope-capture.json")
            .expect("the manifest")
            .raw_header_position();
        pos as usize
    };
    let (bytes_a, bytes_b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let at = manifest_at(&a);
    assert_eq!(at, manifest_at(&b));
    assert!(bytes_a[..at] == bytes_b[..at], "two captures differ");

    // GNU tar's listing (sparse entries under their real names) below big/
    let prefix = format!(
        "docker/{}/",
        big.strip_prefix(&s.root).unwrap().to_str().unwrap()
    );
    let o = Process::new("tar").arg("-tf").arg(&a).output().unwrap();
    assert!(o.status.success());
    let listed: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter(|l| !l.is_empty()) // big/ itself
        .map(str::to_owned)
        .collect();
    let mut want = vec!["d1/".to_owned(), "d2/".to_owned()];
    want.extend((0..n).map(|i| format!("f{i:05}")));
    want.push("d1/x".to_owned());
    want.push("d2/y".to_owned());
    assert_eq!(listed.len(), want.len());
    assert!(listed == want, "archive order below big/");

    // hard links: the later names link to the first name written
    let mut ar = tar::Archive::new(std::fs::File::open(&a).unwrap());
    let mut links = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        if e.header().entry_type() == tar::EntryType::Link {
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let target = String::from_utf8_lossy(&e.link_name_bytes().unwrap()).into_owned();
            links.insert(name, target);
        }
    }
    let last = format!("{prefix}f{:05}", n - 1);
    assert_eq!(links.get(&last), Some(&format!("{prefix}f00001")));
    assert_eq!(
        links.get(&format!("{prefix}d1/x")),
        Some(&format!("{prefix}f05000"))
    );

    // and the counts are the root's
    let c = capture(&s.root, &out.path().join("c.tar.zst"), &[]);
    let all = gnu(&["find"], &s.root).lines().count() as u64;
    assert_eq!(c["counts"]["entries"].as_u64(), Some(all));
}
