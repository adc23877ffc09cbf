//! The README's examples on the shipped sample root are real: each `$ dockscope --root
//! sample-roots/full/root.tar.gz …` block must print what the README shows (up to a
//! line `…`, where the README cuts the output short).

#![allow(clippy::disallowed_methods)] // reads the README

mod common;
use common::{dockscope, repo};

#[test]
fn readme_examples_print_what_they_show() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let prefix = "$ dockscope --root sample-roots/full/root.tar.gz ";
    let lines: Vec<&str> = readme.lines().collect();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let Some(args) = line.strip_prefix(prefix) else {
            continue;
        };
        let args = args.split('#').next().unwrap_or_default();
        let shown: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| !l.starts_with("```") && **l != "…")
            .copied()
            .collect();
        let out = dockscope()
            .current_dir(repo())
            .env("LC_ALL", "C.UTF-8") // the README shows the UTF-8 tree glyphs
            .args(["--root", "sample-roots/full/root.tar.gz"])
            .args(args.split_whitespace())
            .output()
            .expect("run dockscope");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let printed: Vec<&str> = stdout.lines().take(shown.len()).collect();
        assert_eq!(printed, shown, "README example `dockscope {args}`");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} README examples found");
}

/// The README's cron recipe for node_exporter's textfile collector, run exactly as
/// written (`sh -c` on the block's text), with the environment it reads.
fn textfile_recipe() -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let start = readme
        .find("```sh\n#!/bin/sh\n# dockscope textfile recipe\n")
        .expect("the recipe block in README.md");
    let body = &readme[start + "```sh\n".len()..];
    body[..body.find("```").expect("end of the block")].to_owned()
}

fn run_recipe(root: &std::path::Path, dir: &std::path::Path) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("dockscope");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::process::Command::new("sh")
        .arg("-c")
        .arg(textfile_recipe())
        .env("PATH", path)
        .env("DOCKSCOPE_ROOT", root)
        .env("TEXTFILE_DIR", dir)
        .output()
        .expect("run sh")
}

fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A sample's value as printed.
fn metric<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn readme_textfile_recipe_writes_atomically_whatever_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("dockscope.prom");
    // Clean root (exit 0).
    let empty = common::SampleRoot::unpack("empty");
    let out = run_recipe(&empty.root, dir.path());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(listing(dir.path()), ["dockscope.prom"]);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert_eq!(metric(&text, "dockscope_check_ok"), "1");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&prom).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o644);
    // Findings (exit 1 from check): the file is still replaced.
    let full = common::SampleRoot::unpack("full");
    std::fs::create_dir_all(
        full.path("overlay2/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/diff"),
    )
    .unwrap();
    let out = run_recipe(&full.root, dir.path());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(listing(dir.path()), ["dockscope.prom"]);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert_eq!(metric(&text, "dockscope_check_ok"), "0");
    assert!(text.contains("kind=\"orphan-cache-dir\""), "{text}");
    // Cannot judge (exit 2, metrics printed): replaced, and says so.
    std::fs::remove_file(full.path("image/overlay2/repositories.json")).unwrap();
    let out = run_recipe(&full.root, dir.path());
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&prom).unwrap();
    assert_eq!(metric(&text, "dockscope_cannot_judge"), "1");
    assert_eq!(listing(dir.path()), ["dockscope.prom"]);
    // Nothing printed (the root cannot be opened): the last file stays, no temp file.
    let out = run_recipe(&full.root.join("nope"), dir.path());
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&prom).unwrap(), text);
    assert_eq!(listing(dir.path()), ["dockscope.prom"]);
}
