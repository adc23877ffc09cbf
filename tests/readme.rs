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
