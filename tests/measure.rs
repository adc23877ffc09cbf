//! `walk::measure_many` (what `orphans` and `du` measure beyond the du walk's buckets):
//! for every path the same answer as `walk::measure` path by path, and for directories
//! the same totals as GNU `du -sB1` / `du -sb` on the unpacked root.
#![allow(clippy::disallowed_methods)]

mod common;

use common::SampleRoot;
use dockscope::root::DataRoot;
use dockscope::walk;
use std::path::Path;
use std::process::Command;

/// Every path of the root down to `depth` components (GNU find), and a few that do not
/// exist or lie beneath a file or a symlink.
fn paths(root: &Path, depth: u32) -> Vec<String> {
    let out = Command::new("find")
        .arg(root)
        .args([
            "-mindepth",
            "1",
            "-maxdepth",
            &depth.to_string(),
            "-printf",
            "%P\\n",
        ])
        .output()
        .expect("run find");
    assert!(out.status.success());
    let mut v: Vec<String> = String::from_utf8(out.stdout)
        .expect("UTF-8 names")
        .lines()
        .map(str::to_owned)
        .collect();
    let link = v
        .iter()
        .find(|p| p.starts_with("overlay2/l/"))
        .cloned()
        .expect("overlay2/l has links");
    v.extend([
        "nope".to_owned(),
        "image/overlay2/nope".to_owned(),
        "image/overlay2/repositories.json/x".to_owned(),
        format!("{link}/diff"),
    ]);
    v
}

fn du_bytes(path: &Path, flag: &str) -> u64 {
    let out = Command::new("du")
        .args(["-s", flag, "--"])
        .arg(path)
        .output()
        .expect("run du");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("du prints a number")
}

#[test]
fn measure_many_equals_measure_and_du() {
    let s = SampleRoot::unpack("full");
    let root = DataRoot::open(&s.root).unwrap();
    let all = paths(&s.root, 6);
    assert!(all.len() > 200, "{} paths", all.len());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let many = walk::measure_many(&root, &refs);
    assert_eq!(many.len(), all.len());
    let mut dirs = 0;
    for (p, (u, problems)) in all.iter().zip(&many) {
        let (want, want_problems) = walk::measure(&root, p);
        assert_eq!(*u, want, "{p}");
        assert_eq!(*problems, want_problems, "{p}");
        let full = s.root.join(p);
        let is_dir = full.symlink_metadata().is_ok_and(|m| m.is_dir());
        // Every directory down to the layer level is checked against du.
        if is_dir && p.matches('/').count() < 3 {
            dirs += 1;
            assert_eq!(u.disk_bytes, Some(du_bytes(&full, "-B1")), "{p}: du -sB1");
            assert_eq!(u.apparent_bytes, du_bytes(&full, "-b"), "{p}: du -sb");
        }
    }
    assert!(dirs > 20, "{dirs} dirs checked against du");
    // Paths that are not there hold nothing; beneath a symlink or a file is an error.
    let at = |p: &str| &many[all.iter().position(|x| x == p).unwrap()];
    assert_eq!(at("nope").0.apparent_bytes, 0);
    assert!(at("nope").1.is_empty());
    assert!(!at("image/overlay2/repositories.json/x").1.is_empty());
}

#[test]
fn measure_many_in_an_archive_equals_measure() {
    let s = SampleRoot::unpack("full");
    let root = DataRoot::open(&s.archive).unwrap();
    let all = paths(&s.root, 5);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let many = walk::measure_many(&root, &refs);
    let mut nonzero = 0;
    for (p, (u, problems)) in all.iter().zip(&many) {
        let (want, want_problems) = walk::measure(&root, p);
        assert_eq!(*u, want, "{p}");
        assert_eq!(*problems, want_problems, "{p}");
        nonzero += usize::from(u.apparent_bytes > 0);
    }
    assert!(nonzero > 100, "{nonzero} paths with bytes");
}
