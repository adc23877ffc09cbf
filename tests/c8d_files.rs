//! The file commands (`ls`, `find`, `trace`, `diff`, `cat`, `export`, `waste`,
//! `timeline --files`, `verify --content` drift) on Docker's containerd image store:
//! `sample-roots/c8d` (dockerd 28.5.2 + containerd 2.1.9, `docker/` and `containerd/`
//! side by side), unpacked and as the archive. Every answer is compared with the
//! daemon's recorded `docker diff` and `docker export | tar -tvf` of each container
//! (`daemon/diff/`, `daemon/export/`), or with GNU find/tar on the unpacked copy.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{change_lines, dockscope, json, recorded_diffs, run, SampleRoot};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process;

fn c8d() -> SampleRoot {
    SampleRoot::unpack("c8d")
}

fn docker(s: &SampleRoot) -> PathBuf {
    s.root.join("docker")
}

/// The (changed) unpacked trees archived again with GNU tar, xattrs kept, as `name`
/// beside them.
fn archive_both(s: &SampleRoot, name: &str) -> PathBuf {
    let tgz = s.dir.path().join(name);
    let st = process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-czf"])
        .arg(&tgz)
        .arg("-C")
        .arg(&s.root)
        .args(["docker", "containerd"])
        .status()
        .expect("tar");
    assert!(st.success());
    tgz
}

/// The roots every answer is asked of: the unpacked dirs and the archive.
fn roots(s: &SampleRoot) -> Vec<PathBuf> {
    vec![docker(s), s.archive.clone()]
}

/// `cat SPEC` on a root: the bytes, which must come with exit 0.
fn cat_bytes(root: &Path, spec: &str) -> Vec<u8> {
    let out = dockscope()
        .arg("--root")
        .arg(root)
        .args(["cat", spec])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{spec}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A directory comes before anything it holds (the order `docker diff` prints in:
/// depth first; siblings follow Go's map order, which differs run to run).
fn parents_first(lines: &[String]) -> bool {
    let paths: Vec<&str> = lines.iter().map(|l| &l[2..]).collect();
    paths.iter().enumerate().all(|(i, p)| {
        let mut q = *p;
        while let Some(k) = q.rfind('/').filter(|&k| k > 0) {
            q = &q[..k];
            if let Some(j) = paths.iter().position(|x| *x == q) {
                if j > i {
                    return false;
                }
            }
        }
        true
    })
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

#[test]
fn diff_of_every_container_is_docker_diff() {
    let s = c8d();
    let recorded = recorded_diffs(&s);
    assert_eq!(recorded.len(), 10, "the capture records 10 containers");
    for root in roots(&s) {
        let mut equal = 0;
        for (id, want) in &recorded {
            let (code, out, err) = run(&root, &["diff", id]);
            assert_eq!(code, 0, "{id}: {err}");
            let got: Vec<String> = out.lines().map(str::to_owned).collect();
            assert!(parents_first(want), "{id}: the daemon's order");
            assert!(
                parents_first(&got),
                "{id}: a directory before what it holds"
            );
            assert_eq!(sorted(&got), sorted(want), "{id} on {}", root.display());
            // JSON: the same changes
            let j = json(&root, &["diff", id]);
            let from_json = change_lines(&j);
            assert_eq!(from_json, got, "{id} json");
            equal += 1;
        }
        assert_eq!(equal, 10);
    }
}

#[test]
fn verify_content_lists_every_containers_drift_as_docker_diff() {
    let s = c8d();
    let recorded = recorded_diffs(&s);
    for root in roots(&s) {
        let out = dockscope()
            .arg("--root")
            .arg(&root)
            .args(["verify", "--content", "--json"])
            .output()
            .expect("run");
        let v: Value = serde_json::from_slice(&out.stdout).expect("json");
        let drift = v["drift"].as_array().expect("drift");
        let by_id: BTreeMap<String, Vec<String>> = drift
            .iter()
            .map(|d| (d["container"].as_str().unwrap().to_owned(), change_lines(d)))
            .collect();
        assert_eq!(
            by_id.keys().collect::<Vec<_>>(),
            recorded.keys().collect::<Vec<_>>(),
            "every container has its drift listed"
        );
        for (id, want) in &recorded {
            assert_eq!(sorted(&by_id[id]), sorted(want), "{id}");
        }
        assert_eq!(v["checked"]["containers"], 10);
    }
}

/// The directories the daemon's export lists that no snapshot of the container holds on
/// disk (checked below for each): mount points the export adds (`/dev/pts`, `/dev/shm`,
/// `/proc`, `/sys`; the `-init` snapshots of this capture lack them).
const MOUNT_POINTS: [&str; 4] = ["dev/pts/", "dev/shm/", "proc/", "sys/"];

fn tar_listing(tar: &Path) -> Vec<String> {
    let out = process::Command::new("tar")
        .arg("-tvf")
        .arg(tar)
        .env("TZ", "UTC")
        .output()
        .expect("GNU tar");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The snapshot dirs (`containerd/…/fs`) of a target's stack, in the unpacked copy.
fn stack_dirs(s: &SampleRoot, target: &str) -> Vec<PathBuf> {
    let v = json(&docker(s), &["ls", target]);
    v["target"]["stack"]
        .as_array()
        .expect("stack")
        .iter()
        .map(|l| {
            let d = l["dir"].as_str().expect("dir");
            s.root
                .join("containerd")
                .join(d.strip_prefix("containerd:").expect("a containerd dir"))
        })
        .collect()
}

fn listing_path(line: &str) -> String {
    // `perms owner size date time path[ -> target]`
    let rest = line
        .split_whitespace()
        .skip(5)
        .collect::<Vec<_>>()
        .join(" ");
    rest.split(" -> ")
        .next()
        .unwrap_or("")
        .split(" link to ")
        .next()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn export_of_every_recorded_container_is_docker_export() {
    let s = c8d();
    let dir = s.daemon.as_ref().expect("daemon").join("export");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("daemon/export")
        .map(|e| {
            e.expect("e")
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 5);
    let out_dir = tempfile::tempdir().expect("tmp");
    for root in roots(&s) {
        for name in &names {
            let want: Vec<String> = s
                .daemon_text(&format!("export/{name}.txt"))
                .lines()
                .map(str::to_owned)
                .collect();
            let tar = out_dir.path().join(format!("{name}.tar"));
            let _ = std::fs::remove_file(&tar);
            let (code, _, err) = run(&root, &["export", name, "-o", tar.to_str().unwrap()]);
            assert_eq!(code, 0, "{name}: {err}");
            let got = tar_listing(&tar);
            // Equal line for line (order, modes, owners, sizes, times, link targets),
            // but for the mount points the daemon adds that no snapshot holds.
            let missing: Vec<&String> = want.iter().filter(|l| !got.contains(l)).collect();
            let extra: Vec<&String> = got.iter().filter(|l| !want.contains(l)).collect();
            assert!(extra.is_empty(), "{name}: not in docker export: {extra:?}");
            for m in &missing {
                let p = listing_path(m);
                assert!(MOUNT_POINTS.contains(&p.as_str()), "{name}: missing {m}");
                for d in stack_dirs(&s, name) {
                    assert!(
                        std::fs::symlink_metadata(d.join(&p)).is_err(),
                        "{name}: {p} is in {} but not exported",
                        d.display()
                    );
                }
            }
            let kept: Vec<&String> = want.iter().filter(|l| got.contains(l)).collect();
            assert_eq!(kept, got.iter().collect::<Vec<_>>(), "{name}: order");
        }
    }
}

#[test]
fn ls_and_find_of_each_container_list_what_docker_export_holds() {
    let s = c8d();
    for name in ["c-bk", "c-changes", "c-created", "c-exit0", "c-orphan"] {
        // the daemon's listing, less the mount points no snapshot of the stack holds
        let dirs = stack_dirs(&s, name);
        let want: BTreeSet<String> = s
            .daemon_text(&format!("export/{name}.txt"))
            .lines()
            .map(listing_path)
            .filter(|p| {
                !MOUNT_POINTS.contains(&p.as_str())
                    || dirs
                        .iter()
                        .any(|d| std::fs::symlink_metadata(d.join(p)).is_ok())
            })
            .map(|p| format!("/{}", p.trim_end_matches('/')))
            .collect();
        for root in roots(&s) {
            let v = json(&root, &["ls", "-R", name]);
            let got: BTreeSet<String> = v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(got, want, "{name} ls -R on {}", root.display());
            let v = json(&root, &["find", name, "--name", "*.txt"]);
            let got: BTreeSet<String> = v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_owned())
                .collect();
            let txt: BTreeSet<String> = want
                .iter()
                // the glob `*.txt` on the last component
                .filter(|p| {
                    p.rsplit('/')
                        .next()
                        .and_then(|n| n.strip_suffix(".txt"))
                        .is_some()
                })
                .cloned()
                .collect();
            assert_eq!(got, txt, "{name} find -name *.txt");
        }
    }
}

/// GNU find over a dir: `type size path` of every entry below it.
fn gnu_find(dir: &Path) -> BTreeSet<String> {
    let out = process::Command::new("find")
        .arg(".")
        .arg("-mindepth")
        .arg("1")
        .arg("-printf")
        .arg("%y %s %P\n")
        .current_dir(dir)
        .output()
        .expect("GNU find");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            // directory sizes are the filesystem's, not the layer's
            let mut t = l.splitn(3, ' ');
            let (y, size, p) = (t.next().unwrap(), t.next().unwrap(), t.next().unwrap());
            format!("{y} {} {p}", if y == "d" { "0" } else { size })
        })
        .collect()
}

#[test]
fn a_layer_by_any_of_its_names_is_its_snapshot_and_exports_its_files() {
    let s = c8d();
    let ctr = json(&docker(&s), &["ls", "c-changes"]);
    let stack = ctr["target"]["stack"].as_array().unwrap().clone();
    // the COPY layer: chain id, diff id, snapshot number and dir all name it
    let layer = stack
        .iter()
        .find(|l| l["role"] == "layer")
        .expect("an image layer");
    let chain = layer["chain_id"].as_str().unwrap();
    let diff = layer["diff_id"].as_str().unwrap();
    let n = layer["cache_id"].as_str().unwrap();
    let fs_dir = s.root.join("containerd").join(
        layer["dir"]
            .as_str()
            .unwrap()
            .strip_prefix("containerd:")
            .unwrap(),
    );
    let out_dir = tempfile::tempdir().expect("tmp");
    for root in roots(&s) {
        for name in [
            chain.to_owned(),
            diff.to_owned(),
            n.to_owned(),
            format!("snapshots/{n}"),
        ] {
            let v = json(&root, &["ls", "-R", &name]);
            let st = v["target"]["stack"].as_array().unwrap();
            assert_eq!(st.len(), 1, "{name}: one layer");
            assert_eq!(st[0]["dir"], layer["dir"], "{name}");
        }
        let tar = out_dir.path().join("layer.tar");
        let _ = std::fs::remove_file(&tar);
        let v = json(&root, &["export", chain, "-o", tar.to_str().unwrap()]);
        assert_eq!(v["diff_id"].as_str(), Some(diff));
        assert_eq!(
            v["diff_id_matches"],
            Value::Bool(false),
            "a new tar, not the blob's"
        );
        // the tar holds the snapshot's files: GNU tar's listing against GNU find
        let listed: BTreeSet<String> = tar_listing(&tar)
            .iter()
            .map(|l| {
                let y = match &l[..1] {
                    "-" => "f",
                    t => t,
                };
                let size = if y == "d" {
                    "0"
                } else {
                    l.split_whitespace().nth(2).unwrap()
                };
                format!("{y} {size} {}", listing_path(l).trim_end_matches('/'))
            })
            .collect();
        assert_eq!(listed, gnu_find(&fs_dir), "{}", root.display());
    }
    // the container's own snapshot key, and its init snapshot's
    let rec = recorded_diffs(&s);
    let cid = rec
        .keys()
        .find(|k| k.starts_with("1ee86467"))
        .expect("c-changes");
    let v = json(&docker(&s), &["ls", &format!("{cid}-init")]);
    assert_eq!(v["target"]["stack"][0]["dir"], stack[1]["dir"], "-init key");
    let v = json(&docker(&s), &["ls", "--rw", cid]);
    assert_eq!(v["target"]["stack"][0]["dir"], stack[0]["dir"], "--rw");
    assert_eq!(v["target"]["stack"].as_array().unwrap().len(), 1);
}

#[test]
fn ls_rw_is_gnu_find_of_the_rw_snapshot() {
    let s = c8d();
    for name in ["c-changes", "c-exit0", "c-commit-src"] {
        let dirs = stack_dirs(&s, name);
        let want: BTreeSet<String> = gnu_find(&dirs[0])
            .into_iter()
            .map(|l| format!("/{}", l.splitn(3, ' ').nth(2).unwrap()))
            .collect();
        for root in roots(&s) {
            let v = json(&root, &["ls", "-R", "--rw", name]);
            let got: BTreeSet<String> = v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["path"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(got, want, "{name}");
        }
    }
}

#[test]
fn cat_streams_the_file_of_the_topmost_snapshot_holding_it() {
    let s = c8d();
    let dirs = stack_dirs(&s, "c-changes");
    for path in [
        "srv/files/a.txt",
        "data/hello.txt",
        "added.txt",
        "bin/busybox",
    ] {
        let want = dirs
            .iter()
            .find_map(|d| std::fs::read(d.join(path)).ok())
            .expect("in a snapshot");
        for root in roots(&s) {
            assert_eq!(
                cat_bytes(&root, &format!("c-changes:/{path}")),
                want,
                "{path} on {}",
                root.display()
            );
        }
    }
    // a symlink inside the view resolves within it
    let out = dockscope()
        .arg("--root")
        .arg(docker(&s))
        .args(["cat", "app:1:/data/symlink.txt"])
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    // a deleted file is not there
    let (code, _, err) = run(&docker(&s), &["cat", "c-changes:/etc/motd"]);
    assert_eq!(code, 2);
    assert!(err.contains("/etc/motd"), "{err}");
}

#[test]
fn trace_names_the_layer_that_made_and_the_rw_snapshot_that_deleted() {
    let s = c8d();
    let dirs = stack_dirs(&s, "c-changes");
    // GNU: where /data/sub/b is a file and where a whiteout (char 0/0)
    let kinds: Vec<Option<String>> = dirs
        .iter()
        .map(|d| {
            let p = d.join("data/sub/b");
            std::fs::symlink_metadata(&p).ok().map(|_| {
                let out = process::Command::new("stat")
                    .args(["-c", "%F %t:%T %s"])
                    .arg(&p)
                    .output()
                    .expect("stat");
                String::from_utf8(out.stdout).unwrap().trim().to_owned()
            })
        })
        .collect();
    for root in roots(&s) {
        let v = json(&root, &["trace", "/data/sub/b", "c-changes"]);
        let ev = v["traces"][0]["events"].as_array().unwrap();
        let got: Vec<(u64, String)> = ev
            .iter()
            .map(|e| {
                (
                    e["layer_index"].as_u64().unwrap(),
                    e["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want: Vec<(u64, String)> = kinds
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(i, k)| {
                k.as_ref().map(|k| {
                    let kind = if k.starts_with("character special file 0:0") {
                        "deleted"
                    } else {
                        "created"
                    };
                    (i as u64, kind.to_owned())
                })
            })
            .collect();
        assert_eq!(got, want, "{}", root.display());
    }
}

#[test]
fn diff_of_two_images_is_the_committed_containers_file_changes() {
    let s = c8d();
    let rec = recorded_diffs(&s);
    // committed:1 is `docker commit` of c-commit-src on app:1
    let src = rec
        .iter()
        .find(|(_, v)| v.iter().any(|l| l == "A /committed.txt"))
        .map(|(_, v)| v.clone())
        .expect("c-commit-src");
    let dirs = stack_dirs(&s, "app:1");
    let is_dir = |p: &str| {
        dirs.iter().any(|d| {
            std::fs::symlink_metadata(d.join(p.trim_start_matches('/'))).is_ok_and(|m| m.is_dir())
        })
    };
    let want: Vec<String> = src
        .iter()
        .filter(|l| !(l.starts_with("C ") && is_dir(&l[2..])))
        .cloned()
        .collect();
    for root in roots(&s) {
        let v = json(&root, &["diff", "app:1", "committed:1"]);
        let got: Vec<String> = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["kind"].as_str().unwrap(),
                    f["path"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(sorted(&got), sorted(&want), "{}", root.display());
    }
}

#[test]
fn waste_counts_the_bytes_an_upper_snapshot_hides() {
    let s = c8d();
    let dirs = stack_dirs(&s, "app:1"); // top first
    for root in roots(&s) {
        let v = json(&root, &["waste", "app:1"]);
        let paths = v["paths"].as_array().unwrap();
        assert!(!paths.is_empty());
        let mut sum = 0;
        for p in paths {
            let rel = p["path"].as_str().unwrap().trim_start_matches('/');
            // the hidden copies: every snapshot but the topmost one holding the name
            let holders: Vec<u64> = dirs
                .iter()
                .filter_map(|d| std::fs::symlink_metadata(d.join(rel)).ok())
                .map(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    if m.file_type().is_char_device() {
                        0
                    } else {
                        m.len()
                    }
                })
                .collect();
            let hidden: u64 = holders[1..].iter().sum();
            assert_eq!(p["wasted_bytes"].as_u64(), Some(hidden), "{rel}");
            sum += hidden;
        }
        assert_eq!(v["wasted_bytes"].as_u64(), Some(sum));
        // total: every regular file of every snapshot of the image, a hard-linked
        // inode once per snapshot (GNU find)
        let total: u64 = dirs
            .iter()
            .map(|d| {
                let out = process::Command::new("find")
                    .args([".", "-type", "f", "-printf", "%i %s\n"])
                    .current_dir(d)
                    .output()
                    .expect("find");
                let inodes: BTreeMap<String, u64> = String::from_utf8(out.stdout)
                    .unwrap()
                    .lines()
                    .map(|l| {
                        let (i, sz) = l.split_once(' ').unwrap();
                        (i.to_owned(), sz.parse::<u64>().unwrap())
                    })
                    .collect();
                inodes.values().sum::<u64>()
            })
            .sum();
        assert_eq!(v["total_bytes"].as_u64(), Some(total));
    }
}

#[test]
fn timeline_files_are_the_rw_snapshots_entries_with_their_mtimes() {
    let s = c8d();
    for root in roots(&s) {
        let v = json(&root, &["timeline", "--files"]);
        let events = v["events"].as_array().unwrap();
        for name in ["c-changes", "c-exit0"] {
            let rw = &stack_dirs(&s, name)[0];
            let out = process::Command::new("find")
                .args([".", "-mindepth", "1", "-printf", "%P %T@\n"])
                .current_dir(rw)
                .output()
                .expect("find");
            let want: BTreeSet<(String, i64)> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let (p, t) = l.rsplit_once(' ').unwrap();
                    let secs = t.split('.').next().unwrap().parse::<i64>().unwrap();
                    (format!("/{p}"), secs)
                })
                .collect();
            let got: BTreeSet<(String, i64)> = events
                .iter()
                .filter(|e| e["kind"] == "file-modified" && e["object"] == name)
                .map(|e| {
                    let d = e["detail"].as_str().unwrap();
                    let p = d.split(" (deleted").next().unwrap().to_owned();
                    (p, e["unix"].as_i64().unwrap())
                })
                .collect();
            assert_eq!(got, want, "{name} on {}", root.display());
        }
        assert!(
            events.iter().any(|e| e["kind"] == "layer-unpacked"),
            "snapshot dirs are read"
        );
        // (an archive keeps no container log's contents: those problems are not ours)
        assert!(
            !v["problems"].as_array().unwrap().iter().any(|p| p["path"]
                .as_str()
                .unwrap()
                .contains("containerd")
                || !p["path"].as_str().unwrap().ends_with("-json.log")),
            "{}",
            v["problems"]
        );
    }
}

#[test]
fn an_image_by_name_id_prefix_and_digest_is_one_view() {
    let s = c8d();
    let v = json(&docker(&s), &["images", "--no-trunc"]);
    let app = v["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["repo_tags"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "app:1"))
        })
        .expect("app:1")
        .clone();
    let id = app["id"].as_str().unwrap();
    let hex = id.trim_start_matches("sha256:");
    let by_name = json(&docker(&s), &["ls", "-R", "app:1"]);
    for name in [id.to_owned(), hex[..12].to_owned()] {
        let v = json(&docker(&s), &["ls", "-R", &name]);
        assert_eq!(v["entries"], by_name["entries"], "{name}");
        assert_eq!(v["target"]["stack"], by_name["target"]["stack"], "{name}");
    }
    // the stack: the snapshots of the image's chain, top first, as ctr lists parents
    let stack = by_name["target"]["stack"].as_array().unwrap();
    assert!(stack.iter().all(|l| l["dir"]
        .as_str()
        .unwrap()
        .starts_with("containerd:io.containerd.snapshotter.v1.overlayfs/snapshots/")));
    assert_eq!(stack.len(), 6);
}

/// A broken copy: symlinks planted in a container's RW snapshot pointing out of the
/// view (absolute, `..` climbing, a directory), and a snapshot's `fs` made a symlink to
/// the host's `/etc`.
fn hostile_copy() -> (SampleRoot, PathBuf) {
    let s = c8d();
    let rw = stack_dirs(&s, "c-changes")[0].clone();
    std::os::unix::fs::symlink("/etc/passwd", rw.join("evil")).unwrap();
    std::os::unix::fs::symlink(
        "../../../../../../../../../../../etc/passwd",
        rw.join("climb"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc", rw.join("evildir")).unwrap();
    let exit0 = stack_dirs(&s, "c-exit0")[0].clone();
    std::fs::rename(&exit0, exit0.with_file_name("fs.moved")).unwrap();
    std::os::unix::fs::symlink("/etc", &exit0).unwrap();
    (s, rw)
}

#[test]
fn hostile_symlinks_never_print_host_bytes() {
    let (s, _) = hostile_copy();
    let host = std::fs::read("/etc/passwd").expect("host /etc/passwd");
    // the view's own /etc/passwd (from the image's base snapshot)
    let view: Vec<u8> = stack_dirs(&s, "c-created")
        .iter()
        .find_map(|d| std::fs::read(d.join("etc/passwd")).ok())
        .expect("the image has /etc/passwd");
    assert_ne!(
        host, view,
        "the test needs a host /etc/passwd unlike the image's"
    );
    // the broken copy as an archive too (GNU tar)
    let tgz = archive_both(&s, "hostile.tar.gz");
    for root in [docker(&s), tgz] {
        for path in ["/evil", "/climb", "/evildir/passwd"] {
            assert_eq!(
                cat_bytes(&root, &format!("c-changes:{path}")),
                view,
                "{path} resolves inside the view"
            );
        }
        // a directory symlink lists the view's /etc
        let (code, out, err) = run(&root, &["ls", "c-changes:/evildir/"]);
        assert_eq!(code, 0, "{err}");
        let listed: BTreeSet<String> = out.lines().map(str::to_owned).collect();
        let v = json(&root, &["ls", "c-changes:/etc"]);
        let etc: BTreeSet<String> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("/etc/")
                    .to_owned()
            })
            .collect();
        assert_eq!(listed, etc);
        // a snapshot's fs that is a symlink is never followed
        let (code, out, err) = run(&root, &["ls", "-R", "--rw", "c-exit0"]);
        let host_names: BTreeSet<String> = std::fs::read_dir("/etc")
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !out.lines()
                .any(|l| host_names.contains(l.trim()) && l.trim() != "passwd"),
            "host /etc listed: {out}"
        );
        assert!(
            err.contains("snapshots/"),
            "the dir is named: {err} (exit {code})"
        );
        let (code, out, _) = run(&root, &["cat", "c-exit0:/hostname"]);
        assert_ne!(code, 0);
        assert!(out.is_empty());
        // export of the whole view holds no host file
        let tar = s.dir.path().join("out.tar");
        let _ = std::fs::remove_file(&tar);
        let (_, _, _) = run(&root, &["export", "c-exit0", "-o", tar.to_str().unwrap()]);
        if tar.exists() {
            let names: Vec<String> = tar_listing(&tar).iter().map(|l| listing_path(l)).collect();
            assert!(
                !names.iter().any(|n| n == "hostname" || n == "os-release"),
                "{names:?}"
            );
        }
    }
}

/// The README's containerd walk-through prints what it shows (up to a line `…`).
#[test]
fn readme_containerd_file_examples_print_what_they_show() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).expect("README");
    let prefix = "$ dockscope --root sample-roots/c8d/root.tar.gz ";
    let lines: Vec<&str> = readme.lines().collect();
    let out_dir = tempfile::tempdir().expect("tmp");
    let tmp = out_dir.path().join("layer.tar");
    let tmp = tmp.to_str().unwrap();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(args) = line.strip_prefix(prefix) else {
            continue;
        };
        let cmd = args.split_whitespace().next().unwrap_or("");
        if !["diff", "trace", "ls", "cat", "export"].contains(&cmd) {
            continue;
        }
        let args = args.replace("/tmp/layer.tar", tmp);
        let shown: Vec<String> = lines[i + 1..]
            .iter()
            .take_while(|l| !l.starts_with("```") && **l != "…" && !l.starts_with("$ "))
            .map(|l| l.replace("/tmp/layer.tar", tmp))
            .collect();
        let out = dockscope()
            .current_dir(common::repo())
            .args(["--root", "sample-roots/c8d/root.tar.gz"])
            .args(args.split_whitespace())
            .output()
            .expect("run dockscope");
        assert!(
            out.status.success(),
            "{args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let printed: Vec<&str> = stdout.lines().take(shown.len()).collect();
        assert_eq!(printed, shown, "README example `dockscope {args}`");
        checked += 1;
    }
    assert_eq!(checked, 5, "the README's containerd file examples");
}

/// Each layer of an image's view is the snapshot of a layer blob `docker save` wrote
/// (the recorded `docker save IMAGE | tar -tvf -` listings): one snapshot per blob, the
/// blob's size as saved.
#[test]
fn each_snapshot_of_a_saved_image_is_a_blob_docker_save_wrote() {
    let s = c8d();
    let log = s.daemon_text("commands.log");
    let saved: Vec<&str> = log
        .lines()
        .filter_map(|l| {
            l.strip_prefix("docker save ")?
                .strip_suffix(" | tar -tvf -")
        })
        .collect();
    assert_eq!(saved.len(), 6);
    for image in saved {
        let file = format!("save/{}.txt", image.replace([':', '/'], "_"));
        let listing: BTreeMap<String, u64> = s
            .daemon_text(&file)
            .lines()
            .filter_map(|l| {
                let p = listing_path(l);
                let hex = p.strip_prefix("blobs/sha256/")?.to_owned();
                let size = l.split_whitespace().nth(2)?.parse().ok()?;
                (!hex.is_empty()).then_some((format!("sha256:{hex}"), size))
            })
            .collect();
        for root in roots(&s) {
            let view = json(&root, &["ls", image]);
            let stack = view["target"]["stack"].as_array().unwrap();
            let tree = json(&root, &["tree", image]);
            let layers = tree["layers"].as_array().unwrap();
            assert_eq!(stack.len(), layers.len(), "{image}");
            for (l, t) in stack.iter().rev().zip(layers) {
                assert_eq!(l["chain_id"], t["chain_id"], "{image}");
                assert_eq!(
                    l["dir"].as_str().unwrap(),
                    format!("{}/fs", t["snapshot_dir"].as_str().unwrap()),
                    "{image}"
                );
                let blob = t["blob"]["digest"].as_str().unwrap();
                assert_eq!(
                    listing.get(blob).copied(),
                    t["blob"]["size"].as_u64(),
                    "{image}: {blob} saved"
                );
            }
        }
    }
}

/// `find` without a target walks every snapshot dir once: GNU find over
/// `snapshots/*/fs` finds the same files.
#[test]
fn find_over_the_root_walks_every_snapshot_once() {
    let s = c8d();
    let snaps = s
        .root
        .join("containerd/io.containerd.snapshotter.v1.overlayfs/snapshots");
    let out = process::Command::new("find")
        .args([
            ".", "-path", "./*/fs/*", "-name", "*.txt", "!", "-type", "c", "-printf", "%P\n",
        ])
        .current_dir(&snaps)
        .output()
        .expect("find");
    let want: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (n, p) = l.split_once("/fs/").unwrap();
            format!("containerd:io.containerd.snapshotter.v1.overlayfs/snapshots/{n}/fs /{p}")
        })
        .collect();
    let dirs = std::fs::read_dir(&snaps)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("fs").is_dir())
        .count();
    for root in roots(&s) {
        let v = json(&root, &["find", "--name", "*.txt"]);
        assert_eq!(v["scope"], "root");
        assert_eq!(v["layers_searched"].as_u64(), Some(dirs as u64));
        let got: BTreeSet<String> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                format!(
                    "{} {}",
                    h["source"]["dir"].as_str().unwrap(),
                    h["path"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(got, want, "{}", root.display());
    }
}

/// Without containerd's root the file commands say where the layers are and how to
/// name it, exit 2.
#[test]
fn without_containerds_root_the_file_commands_name_the_flag() {
    let s = c8d();
    std::fs::rename(s.root.join("containerd"), s.root.join("moved")).unwrap();
    for args in [
        vec!["ls", "base:1"],
        vec!["diff", "c-changes"],
        vec!["cat", "c-changes:/added.txt"],
    ] {
        let (code, out, err) = run(&docker(&s), &args);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty());
        assert!(err.contains("--containerd-root"), "{err}");
    }
    // given with the flag, the same answers
    let out = dockscope()
        .arg("--root")
        .arg(docker(&s))
        .arg("--containerd-root")
        .arg(s.root.join("moved"))
        .args(["cat", "c-changes:/added.txt"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the one snapshot holding /added.txt (GNU find)
    let found = process::Command::new("find")
        .args([".", "-path", "./*/fs/added.txt"])
        .current_dir(
            s.root
                .join("moved/io.containerd.snapshotter.v1.overlayfs/snapshots"),
        )
        .output()
        .expect("find");
    let found = String::from_utf8(found.stdout).unwrap();
    let lines: Vec<&str> = found.lines().collect();
    assert_eq!(lines.len(), 1);
    let want = std::fs::read(
        s.root
            .join("moved/io.containerd.snapshotter.v1.overlayfs/snapshots")
            .join(lines[0]),
    )
    .unwrap();
    assert_eq!(out.stdout, want);
}

/// An opaque directory as the kernel marks one in an RW snapshot (`rm -rf /data; mkdir
/// /data` in the container): a real capture broken on purpose by setting the xattr, in
/// the kernel's form and the `userxattr` form, on the dirs and in an archive of them.
#[test]
fn an_opaque_dir_in_an_rw_snapshot_hides_the_image_below_it() {
    // the image's /data as `docker export` of c-exit0 lists it, less the container's file
    let base = c8d();
    let image_data: BTreeSet<String> = base
        .daemon_text("export/c-exit0.txt")
        .lines()
        .map(listing_path)
        .filter_map(|p| {
            let rest = p.strip_prefix("data/")?.trim_end_matches('/').to_owned();
            (!rest.is_empty() && !rest.contains('/') && rest != "new.txt").then_some(rest)
        })
        .collect();
    assert!(image_data.contains("hello.txt"));
    drop(base);
    for key in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        let s = c8d();
        let rw = stack_dirs(&s, "c-exit0")[0].clone();
        xattr::set(rw.join("data"), key, b"y").expect("set the opaque xattr");
        let tgz = archive_both(&s, "opaque.tar.gz");
        let mut want: Vec<String> = image_data.iter().map(|n| format!("D /data/{n}")).collect();
        want.push("C /data".into());
        want.push("A /data/new.txt".into());
        for root in [docker(&s), tgz.clone()] {
            let (code, out, err) = run(&root, &["ls", "c-exit0:/data"]);
            assert_eq!(code, 0, "{err}");
            assert_eq!(out.lines().collect::<Vec<_>>(), ["new.txt"], "{key}");
            let (code, out, err) = run(&root, &["diff", "c-exit0"]);
            assert_eq!(code, 0, "{err}");
            let got: Vec<String> = out.lines().map(str::to_owned).collect();
            assert_eq!(sorted(&got), sorted(&want), "{key} on {}", root.display());
            let v = json(&root, &["ls", "--rw", "c-exit0"]);
            let data = v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["path"] == "/data")
                .expect("/data");
            assert_eq!(data["opaque"], Value::Bool(true), "{key}");
        }
    }
}

/// An image's view exported: what `docker export` of its never-started container
/// (c-created on app:1) lists, less what only the container's `-init` snapshot adds
/// (GNU find on it) and the mount points.
#[test]
fn export_of_an_image_is_its_containers_export_without_the_init_snapshot() {
    let s = c8d();
    let dirs = stack_dirs(&s, "c-created");
    let init = &dirs[1];
    let image_dirs = &dirs[2..];
    let init_only: BTreeSet<String> = gnu_find(init)
        .into_iter()
        .map(|l| l.splitn(3, ' ').nth(2).unwrap().to_owned())
        .filter(|p| {
            image_dirs
                .iter()
                .all(|d| std::fs::symlink_metadata(d.join(p)).is_err())
        })
        .collect();
    let want: BTreeSet<String> = s
        .daemon_text("export/c-created.txt")
        .lines()
        .map(listing_path)
        .filter(|p| !MOUNT_POINTS.contains(&p.as_str()))
        .map(|p| p.trim_end_matches('/').to_owned())
        .filter(|p| !init_only.contains(p))
        .collect();
    let out_dir = tempfile::tempdir().expect("tmp");
    for root in roots(&s) {
        let tar = out_dir.path().join("app.tar");
        let _ = std::fs::remove_file(&tar);
        let v = json(&root, &["export", "app:1", "-o", tar.to_str().unwrap()]);
        assert_eq!(v["mode"], "view");
        assert_eq!(v["diff_id"], Value::Null);
        let got: BTreeSet<String> = tar_listing(&tar)
            .iter()
            .map(|l| listing_path(l).trim_end_matches('/').to_owned())
            .collect();
        assert_eq!(got, want, "{}", root.display());
    }
}
