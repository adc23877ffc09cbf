//! Seeded mutations of a real capture, every command run on each, for a bounded time:
//! bytes flipped, files truncated, files swapped for symlinks or FIFOs, huge sparse
//! sizes planted. Each run must exit 0, 1 or 2 (never a panic), print valid JSON with
//! --json, and stay under an RSS and a time cap.
//!
//! DOCKSCOPE_MUTATION_SECONDS sets the total time (default 20; CI runs 180) and
//! DOCKSCOPE_MUTATION_SEED the seed (default: fixed, so a failure replays).
#![allow(clippy::disallowed_methods)]

mod common;

use common::SampleRoot;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const RSS_CAP_KIB: u64 = 300 << 10;
const RUN_CAP: Duration = Duration::from_secs(60);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn budget() -> Duration {
    let secs = std::env::var("DOCKSCOPE_MUTATION_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(secs)
}

fn seed() -> u64 {
    std::env::var("DOCKSCOPE_MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_d0c5_c0de_0001)
        | 1
}

/// Regular files Docker writes as metadata (not layer contents), relative to the root.
fn metadata_files(root: &Path) -> Vec<PathBuf> {
    let out = Command::new("find")
        .arg(".")
        .args(["-path", "./overlay2/*/diff", "-prune", "-o"])
        .args(["-path", "./volumes/*/_data", "-prune", "-o"])
        .args(["-type", "f", "-print"])
        .current_dir(root)
        .output()
        .unwrap();
    let mut v: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| PathBuf::from(l.trim_start_matches("./")))
        .collect();
    v.sort();
    v
}

/// Run with the peak RSS from wait4 (python3): (code, stdout, stderr, KiB, time).
fn run(root: &Path, args: &[&str]) -> (i32, Vec<u8>, String, u64, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let t = Instant::now();
    let o = Command::new("python3")
        .arg("-c")
        .arg(
            "import os,subprocess,sys\n\
             p=subprocess.Popen(sys.argv[1:],stdout=open(os.environ['OUT'],'wb'),stderr=open(os.environ['ERR'],'wb'))\n\
             _,st,ru=os.wait4(p.pid,0)\n\
             print(os.waitstatus_to_exitcode(st), ru.ru_maxrss)",
        )
        .arg("timeout")
        .arg(RUN_CAP.as_secs().to_string())
        .arg(env!("CARGO_BIN_EXE_dockscope"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("DOCKSCOPE_ROOT")
        .env("OUT", &out)
        .env("ERR", &err)
        .output()
        .unwrap();
    let took = t.elapsed();
    let line = String::from_utf8_lossy(&o.stdout);
    let mut it = line.split_whitespace();
    let code = it.next().and_then(|c| c.parse().ok()).unwrap_or(-1);
    let rss = it.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    (
        code,
        std::fs::read(out).unwrap(),
        std::fs::read_to_string(err).unwrap_or_default(),
        rss,
        took,
    )
}

const COMMANDS: &[&[&str]] = &[
    &["check"],
    &["orphans"],
    &["du"],
    &["images", "-a"],
    &["ps", "-a"],
    &["volumes"],
    &["info"],
    &["tree"],
    &["verify"],
    &["verify", "--content"],
    &["inspect", "c-running"],
    &["history", "committed:1"],
];

/// One mutation of `rel`, undone by copying the file back from `pristine`.
fn mutate(root: &Path, rel: &Path, rng: &mut Rng) -> String {
    let p = root.join(rel);
    let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
    match rng.below(6) {
        0 | 1 => {
            let mut b = std::fs::read(&p).unwrap();
            let n = 1 + rng.below(8);
            for _ in 0..n {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
            std::fs::write(&p, b).unwrap();
            format!("flip {n} bits in {}", rel.display())
        }
        2 => {
            let at = rng.below(len as usize + 1) as u64;
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(at)
                .unwrap();
            format!("truncate {} at {at}", rel.display())
        }
        3 => {
            std::fs::remove_file(&p).unwrap();
            let target =
                ["/etc/passwd", "../../../../../etc/shadow", ".", "/dev/zero"][rng.below(4)];
            std::os::unix::fs::symlink(target, &p).unwrap();
            format!("{} -> {target}", rel.display())
        }
        4 => {
            std::fs::remove_file(&p).unwrap();
            assert!(Command::new("mkfifo").arg(&p).status().unwrap().success());
            format!("{} as a FIFO", rel.display())
        }
        _ => {
            // Sparse: claims 5 GiB, holds nothing.
            std::fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .set_len(5 << 30)
                .unwrap();
            format!("{} grown to 5 GiB sparse", rel.display())
        }
    }
}

fn restore(root: &Path, pristine: &Path, rel: &Path) {
    let p = root.join(rel);
    let _ = std::fs::remove_file(&p);
    std::fs::copy(pristine.join(rel), &p).unwrap();
}

#[test]
fn mutated_roots_never_break_a_command() {
    let pristine = SampleRoot::unpack("full");
    let work = SampleRoot::unpack("full");
    let files = metadata_files(&pristine.root);
    assert!(files.len() > 100, "{} metadata files", files.len());
    let mut rng = Rng(seed());
    let start = Instant::now();
    let (mut runs, mut mutations) = (0, 0);
    while start.elapsed() < budget() {
        let rel = files[rng.below(files.len())].clone();
        let what = mutate(&work.root, &rel, &mut rng);
        mutations += 1;
        for _ in 0..3 {
            let mut args = COMMANDS[rng.below(COMMANDS.len())].to_vec();
            args.push("--json");
            let (code, out, err, rss, took) = run(&work.root, &args);
            runs += 1;
            assert!(
                (0..=2).contains(&code),
                "{what}: {args:?} exited {code}: {err}"
            );
            if code != 2 || !out.is_empty() {
                serde_json::from_slice::<Value>(&out)
                    .unwrap_or_else(|e| panic!("{what}: {args:?}: not JSON ({e}): {err}"));
            }
            assert!(rss < RSS_CAP_KIB, "{what}: {args:?}: peak RSS {rss} KiB");
            assert!(took < RUN_CAP, "{what}: {args:?}: {took:?}");
        }
        restore(&work.root, &pristine.root, &rel);
    }
    eprintln!(
        "{mutations} mutations, {runs} runs in {:?}",
        start.elapsed()
    );
    assert!(runs > 0);
}

/// The parsers alone, in process: seeded random and mutated real inputs.
#[test]
fn parsers_take_any_bytes() {
    use dockscope::scan::bbolt::Db;
    use dockscope::verify::tarsplit::{HeaderParser, Item, Reader};
    let s = SampleRoot::unpack("full");
    let db = std::fs::read(s.root.join("volumes/metadata.db")).unwrap();
    let layer = metadata_files(&s.root)
        .into_iter()
        .find(|p| p.ends_with("tar-split.json.gz"))
        .unwrap();
    let ts = std::fs::read(s.root.join(layer)).unwrap();
    let archive = std::fs::read(common::repo().join("sample-roots/full/root.tar.gz")).unwrap();
    let mut rng = Rng(seed());
    let start = Instant::now();
    let mut n = 0;
    let tmp = tempfile::tempdir().unwrap();
    let arc = tmp.path().join("root.tar.gz");
    while start.elapsed() < budget() / 4 {
        n += 1;
        let mut m = |base: &[u8]| {
            let mut b = base.to_vec();
            for _ in 0..1 + rng.below(16) {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] = rng.next() as u8;
                }
            }
            if rng.below(4) == 0 {
                b.truncate(rng.below(b.len() + 1));
            }
            b
        };
        let bytes = m(&db);
        if let Ok(d) = Db::parse(&bytes) {
            let _ = d.bucket(&[b"volumes"]);
        }
        let bytes = m(&ts);
        let mut r = Reader::new(bytes.as_slice());
        let mut h = HeaderParser::default();
        for _ in 0..100_000 {
            match r.next_item() {
                Ok(Some(Item::Segment(seg))) => h.segment(&seg),
                Ok(Some(Item::File(f))) => {
                    let _ = h.file(&f);
                }
                _ => break,
            }
        }
        if n % 8 == 0 {
            std::fs::write(&arc, m(&archive)).unwrap();
            if let Ok(root) = dockscope::root::DataRoot::open(&arc) {
                let _ = dockscope::walk::walk(&root, None);
            }
        }
    }
    assert!(n > 0);
}
