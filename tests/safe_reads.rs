//! What dockscope opens: a device node or FIFO planted where Docker writes a file is
//! never opened (its type is checked first), and reading a root does not change the
//! access times of what it reads (`O_NOATIME`).
#![allow(clippy::disallowed_methods)]

mod common;

use common::{run, SampleRoot};
use std::mem::MaybeUninit;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const COMMANDS: &[&[&str]] = &[
    &["check"],
    &["orphans"],
    &["du"],
    &["images", "-a"],
    &["ps", "-a"],
    &["volumes"],
    &["info"],
    &["tree"],
    &["inspect", "--help"],
    &["verify", "--deep"],
];

fn first_dir(dir: &Path) -> PathBuf {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.ends_with("l"))
        .collect();
    names.sort();
    names.remove(0)
}

/// Replace a file by a FIFO, or by a character device `major:minor` (as root).
fn plant(path: &Path, device: Option<(u32, u32)>) {
    std::fs::remove_file(path).unwrap();
    let status = match device {
        Some((ma, mi)) => Command::new("mknod")
            .arg(path)
            .args(["c", &ma.to_string(), &mi.to_string()])
            .status(),
        None => Command::new("mkfifo").arg(path).status(),
    }
    .unwrap();
    assert!(status.success(), "planting {}", path.display());
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[test]
fn planted_devices_and_fifos_are_never_opened() {
    use rustix::fs::inotify;
    let s = SampleRoot::unpack("full");
    let layer = first_dir(&s.root.join("image/overlay2/layerdb/sha256"));
    let container = first_dir(&s.root.join("containers"));
    let diff_file = {
        // a regular file in a layer's diff/, where verify --content reads
        let out = Command::new("find")
            .arg(s.root.join("overlay2"))
            .args([
                "-path", "*/diff/*", "-type", "f", "-size", "+0", "-print", "-quit",
            ])
            .output()
            .unwrap();
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    };
    assert!(diff_file.is_file());
    // /dev/null's numbers: harmless even if opened, which the test would catch.
    let dev = is_root().then_some((1, 3));
    let planted = [
        (s.root.join("image/overlay2/repositories.json"), dev),
        (layer.join("cache-id"), None),
        (layer.join("tar-split.json.gz"), dev),
        (container.join("config.v2.json"), None),
        (container.join("hostconfig.json"), dev),
        (s.root.join("volumes/metadata.db"), dev),
        (diff_file.clone(), None),
    ];
    for (p, d) in &planted {
        plant(p, *d);
    }
    let ino =
        inotify::init(inotify::CreateFlags::NONBLOCK | inotify::CreateFlags::CLOEXEC).unwrap();
    for (p, _) in &planted {
        inotify::add_watch(&ino, p, inotify::WatchFlags::OPEN).unwrap();
    }
    let events = |ino: &std::os::fd::OwnedFd| {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut r = inotify::Reader::new(ino, &mut buf);
        let mut n = 0;
        while r.next().is_ok() {
            n += 1;
        }
        n
    };
    for args in COMMANDS {
        let (code, _, err) = run(&s.root, args);
        assert!((0..=2).contains(&code), "{args:?}: exit {code}: {err}");
        assert_eq!(events(&ino), 0, "{args:?} opened a planted node");
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let (code, out, _) = run(&s.root, &with_json);
        if !args.contains(&"--help") {
            assert!((0..=2).contains(&code));
            serde_json::from_str::<serde_json::Value>(&out).expect("JSON");
        }
        assert_eq!(events(&ino), 0, "{with_json:?} opened a planted node");
    }
    // The planted nodes are reported by what they are, not read.
    let (_, _, err) = run(&s.root, &["check"]);
    assert!(err.contains("repositories.json"), "{err}");
    // Control: an open is seen.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open(&diff_file)
        .unwrap();
    drop(f);
    assert!(
        events(&ino) > 0,
        "inotify saw no open at all: the test is blind"
    );
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}
impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
    }
}

fn atime(p: &Path) -> (i64, i64) {
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.atime(), m.atime_nsec())
}

#[test]
fn reading_a_root_keeps_access_times() {
    // O_NOATIME needs the owner or CAP_FOWNER: the sample unpacks as the runner's own
    // files, so it applies as any user.
    let s = SampleRoot::unpack("full");
    // Set every atime far in the past: relatime would then update any read one.
    let status = Command::new("find")
        .arg(&s.root)
        .args(["-exec", "touch", "-h", "-a", "-d", "2001-01-01", "{}", "+"])
        .status()
        .unwrap();
    assert!(status.success());
    let watched: Vec<PathBuf> = [
        "image/overlay2/repositories.json",
        "image/overlay2/imagedb/content/sha256",
        "image/overlay2/layerdb/sha256",
        "containers",
        "overlay2",
        "volumes/metadata.db",
    ]
    .iter()
    .map(|p| s.root.join(p))
    .chain([first_dir(&s.root.join("overlay2")).join("diff")])
    .collect();
    let before: Vec<_> = watched.iter().map(|p| atime(p)).collect();
    for args in [&["check"][..], &["du"], &["verify", "--deep"], &["volumes"]] {
        let (code, _, err) = run(&s.root, args);
        assert!((0..=2).contains(&code), "{args:?}: {err}");
    }
    for (p, b) in watched.iter().zip(&before) {
        assert_eq!(atime(p), *b, "{} atime changed", p.display());
    }
    // Control: an ordinary read of the same file does change it on this filesystem.
    let f = &watched[0];
    std::fs::read(f).unwrap();
    if atime(f) == before[0] {
        eprintln!("this filesystem does not update atimes (noatime?): the check above was blind");
    }
}
