//! The command line itself: completions and the man page are generated from the clap
//! definitions and committed; help on a plain `dockscope`; colour only when asked for
//! or on a terminal.
//!
//! After changing a flag, regenerate the committed files with
//! `DOCKSCOPE_BLESS=1 cargo test --test cli`.
#![allow(clippy::disallowed_methods)]

mod common;
use common::{dockscope, repo, SampleRoot};

fn stdout_of(args: &[&str]) -> (i32, String) {
    let o = dockscope().args(args).output().unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8(o.stdout).unwrap(),
    )
}

/// A committed generated file equals what the binary generates now.
fn current(args: &[&str], file: &str) {
    let (code, fresh) = stdout_of(args);
    assert_eq!(code, 0, "{args:?}");
    assert!(!fresh.is_empty());
    let path = repo().join(file);
    if std::env::var_os("DOCKSCOPE_BLESS").is_some() {
        std::fs::write(&path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{file} is stale: run `DOCKSCOPE_BLESS=1 cargo test --test cli` and commit it"
    );
}

#[test]
fn completions_and_man_page_are_current() {
    current(&["completions", "bash"], "docs/completions/dockscope.bash");
    current(&["completions", "zsh"], "docs/completions/_dockscope");
    current(&["completions", "fish"], "docs/completions/dockscope.fish");
    current(&["man"], "docs/dockscope.1");
}

#[test]
fn completions_know_the_commands_and_load_in_their_shells() {
    let (_, bash) = stdout_of(&["completions", "bash"]);
    for word in [
        "tree",
        "logs",
        "--df-compat",
        "--no-trunc",
        "--color",
        "--since",
    ] {
        assert!(bash.contains(word), "bash completion lacks {word}");
    }
    let (_, man) = stdout_of(&["man"]);
    assert!(man.starts_with(".ie \\n(.g .ds Aq"), "roff: {}", &man[..40]);
    assert!(
        man.contains("dockscope\\-logs") || man.contains("logs"),
        "{man}"
    );
    // bash parses the script and registers the completion function.
    let script = repo().join("docs/completions/dockscope.bash");
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p dockscope",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("dockscope"));
    // And bash completes a subcommand from it.
    let o = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && COMP_WORDS=(dockscope lo) COMP_CWORD=1 COMP_LINE='dockscope lo' COMP_POINT=12 && _dockscope dockscope lo dockscope && printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "logs");
}

#[test]
fn plain_dockscope_prints_help_to_stdout() {
    let o = dockscope().output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.contains("Usage: dockscope"), "{out}");
    assert!(out.contains("logs") && out.contains("completions"), "{out}");
    assert!(o.stderr.is_empty());
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let s = SampleRoot::unpack("full");
    let ps = |extra: &[&str], no_color: Option<&str>| {
        let mut c = dockscope();
        c.env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        let o = c
            .arg("--root")
            .arg(&s.root)
            .args(["ps", "-a"])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let plain = ps(&[], None);
    assert!(!plain.contains('\u{1b}'), "not a terminal: no escapes");
    assert_eq!(ps(&["--color", "never"], None), plain);
    let always = ps(&["--color", "always"], Some("1"));
    assert!(
        always.contains("\u{1b}[32mUp\u{1b}[0m"),
        "running green: {always}"
    );
    assert!(
        always.contains("\u{1b}[33mUp (Paused)\u{1b}[0m"),
        "{always}"
    );
    assert!(
        always.contains("\u{1b}[31mExited (\u{1b}[0m137)"),
        "{always}"
    );
    // Without the escapes it is the same text, column for column.
    let stripped = always
        .split('\u{1b}')
        .enumerate()
        .map(|(k, part)| {
            if k == 0 {
                part
            } else {
                &part[part.find('m').unwrap() + 1..]
            }
        })
        .collect::<String>();
    assert_eq!(stripped, plain);
    // JSON is never painted.
    let o = dockscope()
        .arg("--root")
        .arg(&s.root)
        .args(["ps", "-a", "--json", "--color", "always"])
        .output()
        .unwrap();
    assert!(!o.stdout.contains(&0x1b));
    // Findings: check's verdict.
    let o = dockscope()
        .arg("--root")
        .arg(&s.root)
        .args(["check", "--strict", "--color", "always"])
        .output()
        .unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("\u{1b}[1m\u{1b}[31mFAIL\u{1b}[0m: "),
        "bold red: {out}"
    );
    // A pass is green.
    let o = dockscope()
        .arg("--root")
        .arg(&s.root)
        .args(["check", "--color", "always"])
        .output()
        .unwrap();
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("\u{1b}[1m\u{1b}[32mOK\u{1b}[0m: "),
        "bold green: {out}"
    );
}
