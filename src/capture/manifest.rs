//! `dockscope-capture.json`: what a capture archive says about itself.
//!
//! Written last into the archive by `dockscope capture`, read back by
//! `DataRoot::open` when `--root` is such an archive. The schema is in docs/json.md.

use crate::model::ids::sha256_digest;
use crate::problem::{Problem, ProblemKind};
use crate::walk::{Bucket, Usage, WalkResult};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The value of `format` in every capture manifest.
pub const FORMAT: &str = "dockscope-capture";
/// Raised when a reader must change to understand a capture.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub tool: Tool,
    /// When the capture was written (RFC 3339, UTC).
    pub created: String,
    /// The data root's path on the host, as given.
    pub root: String,
    /// The folder in the archive that holds the data root (`docker`).
    pub data_root: String,
    /// The containerd root captured beside it, when one was (`containerd/` in the archive).
    #[serde(default)]
    pub containerd_root: Option<String>,
    pub host: Host,
    pub options: Options,
    pub counts: Counts,
    /// What the size walk measured on the live root, per bucket.
    pub disk: Disk,
    /// Files whose Env values were replaced by `<redacted>`.
    #[serde(default)]
    pub redacted: Vec<Redacted>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Host {
    pub kernel: Option<String>,
    pub hostname: Option<String>,
    /// The root's filesystem type (`ext4`, `xfs`, ...), from `statfs`.
    pub filesystem: Option<String>,
    /// `statfs`'s `f_type`, in hex.
    pub filesystem_magic: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Options {
    pub keep_env: bool,
    /// Layer files up to this size were captured with their contents (0: none).
    pub include_content: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Entries written (the data root's folder included, the manifest not).
    pub entries: u64,
    pub dirs: u64,
    /// Regular files.
    pub files: u64,
    pub symlinks: u64,
    /// Character and block devices (overlay whiteouts are 0/0 character devices) and FIFOs.
    pub special: u64,
    /// Names written as hard links to an earlier name.
    pub hard_links: u64,
    /// Regular files captured with their contents.
    pub contents_kept: u64,
    /// Regular files captured without their contents (one hole of their true size).
    pub contents_omitted: u64,
    /// Bytes of the files captured without their contents.
    pub bytes_omitted: u64,
    /// Sockets: tar has no entry type for them, so they are left out.
    pub sockets_skipped: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Disk {
    pub total: BucketUsage,
    pub buckets: Vec<BucketUsage>,
    /// Directories on another filesystem (live `merged/` mounts): not walked.
    pub mount_points: Vec<String>,
    /// Paths whose read failed on the live root: the buckets there are short (as
    /// `du`'s walk marks them), whatever the archive holds.
    #[serde(default)]
    pub incomplete_paths: Vec<String>,
}

/// One bucket of the size walk (see `walk::Bucket`): `kind` is `area`, `layer-diff`,
/// `layer-rest`, `container-dir`, `container-log`, `volume-data` or `volume-rest`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    pub kind: String,
    pub id: String,
    pub disk_bytes: Option<u64>,
    pub apparent_bytes: u64,
    pub size: u64,
    pub files: u64,
    pub dirs: u64,
    pub hardlinks_folded: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Redacted {
    /// The archive folder the file is in: `docker` (the data root) or `containerd`.
    #[serde(default = "docker_tree")]
    pub tree: String,
    /// Path relative to that folder's root.
    pub path: String,
    /// `container-config` or `image-config`.
    pub kind: String,
    /// How many Env values were replaced.
    pub env_values: usize,
    /// `sha256:` of the file on the host (an image config's id).
    pub original_sha256: String,
    /// `sha256:` of the file in the archive.
    pub sha256: String,
}

fn docker_tree() -> String {
    "docker".to_owned()
}

impl BucketUsage {
    pub fn new(bucket: &Bucket, u: &Usage) -> BucketUsage {
        let (kind, id) = match bucket {
            Bucket::Area(a) => ("area", a),
            Bucket::LayerDiff(i) => ("layer-diff", i),
            Bucket::LayerRest(i) => ("layer-rest", i),
            Bucket::ContainerDir(i) => ("container-dir", i),
            Bucket::ContainerLog(i) => ("container-log", i),
            Bucket::VolumeData(i) => ("volume-data", i),
            Bucket::VolumeRest(i) => ("volume-rest", i),
            Bucket::SnapshotRest(i) => ("snapshot-rest", i),
            Bucket::SnapshotFs(i) => ("snapshot-fs", i),
        };
        BucketUsage {
            kind: kind.to_owned(),
            id: id.clone(),
            disk_bytes: u.disk_bytes,
            apparent_bytes: u.apparent_bytes,
            size: u.size,
            files: u.files,
            dirs: u.dirs,
            hardlinks_folded: u.hardlinks_folded,
        }
    }

    pub fn bucket(&self) -> Option<Bucket> {
        let id = self.id.clone();
        Some(match self.kind.as_str() {
            "area" => Bucket::Area(id),
            "layer-diff" => Bucket::LayerDiff(id),
            "layer-rest" => Bucket::LayerRest(id),
            "container-dir" => Bucket::ContainerDir(id),
            "container-log" => Bucket::ContainerLog(id),
            "volume-data" => Bucket::VolumeData(id),
            "volume-rest" => Bucket::VolumeRest(id),
            "snapshot-rest" => Bucket::SnapshotRest(id),
            "snapshot-fs" => Bucket::SnapshotFs(id),
            _ => return None,
        })
    }

    pub fn usage(&self) -> Usage {
        Usage {
            disk_bytes: self.disk_bytes,
            apparent_bytes: self.apparent_bytes,
            size: self.size,
            files: self.files,
            dirs: self.dirs,
            hardlinks_folded: self.hardlinks_folded,
        }
    }
}

impl Manifest {
    pub fn parse(bytes: &[u8]) -> Result<Manifest, Problem> {
        let bad = |d: String| {
            Problem::new(
                crate::root::CAPTURE_MANIFEST,
                ProblemKind::Malformed,
                format!("capture manifest not used: {d}"),
            )
        };
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if m.format != FORMAT {
            return Err(bad(format!("format is {:?}, not {FORMAT:?}", m.format)));
        }
        if m.format_version > FORMAT_VERSION {
            return Err(bad(format!(
                "format_version {} is newer than this dockscope reads ({FORMAT_VERSION})",
                m.format_version
            )));
        }
        Ok(m)
    }

    /// Does the manifest vouch for this image config? True when the capture redacted
    /// the file at `rel`, its name is the original's digest and `bytes` are what the
    /// capture wrote. Then the config's id is what the host's file hashed to.
    pub fn vouches_for(&self, rel: &str, name_digest: &str, bytes: &[u8]) -> bool {
        self.redacted.iter().any(|r| {
            r.tree == self.data_root
                && r.path == rel
                && r.kind == "image-config"
                && r.original_sha256 == name_digest
                && r.sha256 == sha256_digest(bytes)
        })
    }

    /// The walk's buckets as the live root measured them.
    pub fn buckets(&self) -> HashMap<Bucket, Usage> {
        self.disk
            .buckets
            .iter()
            .filter_map(|b| Some((b.bucket()?, b.usage())))
            .collect()
    }

    /// Where a note says the sizes came from.
    pub fn source_note(&self) -> String {
        format!(
            "capture manifest ({}): measured on {} at {} by {} {}",
            crate::root::CAPTURE_MANIFEST,
            self.root,
            self.created,
            self.tool.name,
            self.tool.version
        )
    }

    /// Check a walk of the capture against what the live walk measured, and take the
    /// allocated bytes from the manifest. A bucket whose apparent bytes or counts differ
    /// means the archive was changed after capture: a problem, and its disk bytes stay
    /// as the entries say.
    pub fn reconcile(&self, walked: &mut WalkResult) {
        let live = self.buckets();
        let mut problems = Vec::new();
        for (b, u) in &mut walked.buckets {
            match live.get(b) {
                Some(l)
                    if l.apparent_bytes == u.apparent_bytes
                        && l.files == u.files
                        && l.dirs == u.dirs
                        && l.size == u.size =>
                {
                    u.disk_bytes = l.disk_bytes;
                }
                _ => problems.push(Problem::new(
                    crate::root::CAPTURE_MANIFEST,
                    ProblemKind::Mismatch,
                    format!(
                        "the archive's entries under {} differ from what the capture measured",
                        bucket_path(b)
                    ),
                )),
            }
        }
        for b in live.keys() {
            if !walked.buckets.contains_key(b) {
                problems.push(Problem::new(
                    crate::root::CAPTURE_MANIFEST,
                    ProblemKind::Mismatch,
                    format!(
                        "the capture measured {} but the archive holds no entry there",
                        bucket_path(b)
                    ),
                ));
            }
        }
        if problems.is_empty() {
            walked.total.disk_bytes = self.disk.total.disk_bytes;
        }
        for p in &self.disk.incomplete_paths {
            problems.push(Problem::new(
                p.clone(),
                ProblemKind::Unreadable,
                "could not be read on the live root when it was captured: the sizes there are short",
            ));
            walked.incomplete_paths.push(p.clone());
        }
        walked.incomplete_paths.sort();
        walked.incomplete_paths.dedup();
        walked.problems.extend(problems);
        walked.problems.sort();
    }
}

/// A bucket as a path under the data root, for messages.
fn bucket_path(b: &Bucket) -> String {
    match b {
        Bucket::Area(a) if a.is_empty() => "the root's own entries".to_owned(),
        Bucket::Area(a) => a.clone(),
        Bucket::LayerDiff(i) => format!("overlay2/{i}/diff"),
        Bucket::LayerRest(i) => format!("overlay2/{i}"),
        Bucket::ContainerDir(i) => format!("containers/{i}"),
        Bucket::ContainerLog(i) => format!("containers/{i} (logs)"),
        Bucket::VolumeData(i) => format!("volumes/{i}/_data"),
        Bucket::VolumeRest(i) => format!("volumes/{i}"),
        Bucket::SnapshotRest(_) | Bucket::SnapshotFs(_) => b.path(),
    }
}

/// Filesystem names of `statfs` magic numbers met under Docker roots.
pub fn filesystem_name(magic: u64) -> Option<&'static str> {
    Some(match magic {
        0xEF53 => "ext4",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlay",
        0x2FC1_2FC1 => "zfs",
        0x6573_5546 => "fuse",
        0x6969 => "nfs",
        _ => return None,
    })
}
