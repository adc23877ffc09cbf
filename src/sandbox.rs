//! A kernel-enforced read-only sandbox (Linux Landlock), entered right after the
//! arguments are parsed and before the root is opened: from then on the process can read
//! only beneath the paths it was given (the data root, or the archive file; other roots a
//! command names, such as a containerd root), can write nowhere (files opened before, such
//! as stdout, stay usable), can make no TCP connection, and cannot signal processes
//! outside it. What it needs besides (the dynamic loader's libraries) is mapped before
//! `main`; the Rust runtime reads nothing after that (rayon's CPU count comes from
//! `sched_getaffinity`; an unreadable cgroup file only means "no quota").
//!
//! The kernel may lack Landlock (before 5.13, or not enabled at boot): dockscope then runs
//! as before, and `info` says so. `--no-sandbox` turns it off for debugging.

use landlock::{
    Access, AccessFs, AccessNet, LandlockStatus, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The newest Landlock ABI this build asks for; older kernels get what they support.
const TARGET: ABI = ABI::V6;

/// What the sandbox is, for `info` (JSON: `sandbox`, docs/json.md).
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SandboxState {
    /// `enforced` (every restriction asked for is in force), `partially-enforced` (the
    /// kernel's Landlock is older: file-system rules hold, some newer ones do not),
    /// `unavailable` (no Landlock in this kernel), `disabled` (`--no-sandbox`), `failed`
    /// (Landlock refused the rules: `detail` says why), `off` (dockscope used as a library).
    pub state: &'static str,
    /// The Landlock ABI version in force; `null` when none.
    pub abi: Option<i32>,
    /// The kernel's own ABI version when it is newer than the one in force (the rules
    /// asked for are those of `abi`; newer kernels enforce them all).
    pub kernel_abi: Option<i32>,
    /// Paths readable beneath (the root, the archive file, ...).
    pub read_only: Vec<String>,
    /// Paths writable (none unless a command writes a file).
    pub writable: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

static STATE: OnceLock<SandboxState> = OnceLock::new();

/// The state recorded by `Policy::enforce` or `disabled`; `off` when neither ran.
pub fn state() -> SandboxState {
    STATE.get().cloned().unwrap_or_else(|| SandboxState {
        state: "off",
        abi: None,
        kernel_abi: None,
        read_only: Vec::new(),
        writable: Vec::new(),
        detail: Some("not sandboxed by this caller".into()),
    })
}

/// Record that the sandbox was turned off (`--no-sandbox`).
pub fn disabled() -> SandboxState {
    let s = SandboxState {
        state: "disabled",
        abi: None,
        kernel_abi: None,
        read_only: Vec::new(),
        writable: Vec::new(),
        detail: Some("--no-sandbox".into()),
    };
    let _ = STATE.set(s.clone());
    s
}

/// What the process may touch once sandboxed.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    read_only: Vec<PathBuf>,
    writable: Vec<PathBuf>,
}

fn abi_number(abi: ABI) -> i32 {
    abi as i32
}

impl Policy {
    pub fn new() -> Policy {
        Policy::default()
    }

    /// Allow reading beneath a directory, or one file (an archive). A path that does not
    /// exist is skipped: opening it fails as it would have anyway.
    #[must_use]
    pub fn read_only(mut self, path: impl Into<PathBuf>) -> Policy {
        self.read_only.push(path.into());
        self
    }

    /// Allow writing one existing file (an output the command opened or created before
    /// `enforce`): write and truncate it, nothing else.
    #[must_use]
    pub fn writable(mut self, path: impl Into<PathBuf>) -> Policy {
        self.writable.push(path.into());
        self
    }

    /// Restrict this process (every thread started from now on) and record the state.
    /// Call it before any thread is started.
    pub fn enforce(self) -> SandboxState {
        let shown = |v: &[PathBuf]| v.iter().map(|p| p.display().to_string()).collect();
        let mut s = SandboxState {
            state: "failed",
            abi: None,
            kernel_abi: None,
            read_only: shown(&self.read_only),
            writable: shown(&self.writable),
            detail: None,
        };
        match self.restrict() {
            Ok(status) => {
                if let LandlockStatus::Available {
                    effective_abi,
                    kernel_abi,
                } = status.landlock
                {
                    s.abi = Some(abi_number(effective_abi.min(TARGET)));
                    s.kernel_abi = kernel_abi
                        .or_else(|| (effective_abi > TARGET).then(|| abi_number(effective_abi)));
                }
                s.state = match status.ruleset {
                    RulesetStatus::FullyEnforced => "enforced",
                    RulesetStatus::PartiallyEnforced => "partially-enforced",
                    RulesetStatus::NotEnforced => {
                        s.abi = None;
                        s.detail = Some(match status.landlock {
                            LandlockStatus::NotEnabled => {
                                "Landlock is built into this kernel but not enabled at boot".into()
                            }
                            LandlockStatus::NotImplemented => {
                                "this kernel has no Landlock (Linux 5.13 or later with CONFIG_SECURITY_LANDLOCK)".into()
                            }
                            LandlockStatus::Available { .. } => {
                                "Landlock did not enforce the rules".into()
                            }
                        });
                        "unavailable"
                    }
                };
            }
            Err(e) => s.detail = Some(e.to_string()),
        }
        let _ = STATE.set(s.clone());
        s
    }

    fn restrict(&self) -> Result<landlock::RestrictionStatus, landlock::RulesetError> {
        let read = AccessFs::from_read(TARGET);
        let file_only = AccessFs::ReadFile | AccessFs::Execute;
        let mut created = Ruleset::default()
            .handle_access(AccessFs::from_all(TARGET))?
            .handle_access(AccessNet::from_all(TARGET))?
            .scope(Scope::from_all(TARGET))?
            .create()?;
        for p in &self.read_only {
            if let Some((fd, is_dir)) = path_fd(p) {
                let access = if is_dir { read } else { read & file_only };
                created = created.add_rule(PathBeneath::new(fd, access))?;
            }
        }
        for p in &self.writable {
            if let Some((fd, false)) = path_fd(p) {
                created = created.add_rule(PathBeneath::new(
                    fd,
                    AccessFs::WriteFile | AccessFs::Truncate,
                ))?;
            }
        }
        created.restrict_self()
    }
}

/// An `O_PATH` handle on a path (the user named it: a symlink there is followed, as for
/// `--root`), and whether it is a directory.
fn path_fd(p: &Path) -> Option<(PathFd, bool)> {
    let fd = PathFd::new(p).ok()?;
    let is_dir = rustix::fs::fstat(&fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory
    });
    Some((fd, is_dir))
}

/// One line for `info`.
pub fn describe(s: &SandboxState) -> String {
    let mut line = match (s.state, s.abi) {
        ("enforced" | "partially-enforced", Some(abi)) => {
            format!(
                "{} (Landlock ABI {abi}): read-only beneath the root, no writes, no network",
                s.state
            )
        }
        (state, _) => state.to_owned(),
    };
    if let Some(d) = &s.detail {
        line.push_str(": ");
        line.push_str(d);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The one writable path of a future `-o FILE`: writable, while creating any other
    /// file fails. Landlock restricts the calling thread (and its children), so the
    /// policy is entered on a thread of its own.
    #[test]
    fn one_writable_path() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out.txt");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&out)
            .unwrap();
        let other = dir.path().join("other.txt");
        let (o, x) = (out.clone(), other.clone());
        let r = std::thread::spawn(move || {
            let s = Policy::new().writable(&o).enforce();
            if s.state != "enforced" {
                return None; // a kernel without Landlock: nothing to prove here
            }
            let wrote = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&o)
                .and_then(|mut f| f.write_all(b"report\n"));
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&x);
            Some((wrote.is_ok(), created.map_err(|e| e.raw_os_error())))
        })
        .join()
        .unwrap();
        if let Some((wrote, created)) = r {
            assert!(wrote);
            assert_eq!(created.err(), Some(Some(13)));
            assert!(!other.exists());
        }
    }
}
