//! The command line (clap derive only). Flags are turned into options in `lib.rs`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Read-only forensic inspector for a Docker data root (overlay2).
///
/// Reads the files Docker left on disk: never calls the daemon, never writes (but the
/// archive `capture` writes outside the root), never
/// follows a symlink out of the root. The root may also be a tar archive of one.
#[derive(Debug, Parser)]
#[command(name = "dockscope", version, about, long_about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

pub const EXIT_CODES: &str = "Exit codes: 0 done; 1 findings (check, verify); 2 cannot do the job \
(root missing or unreadable, not an overlay2 Docker root, unknown IMAGE, bad usage).";

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The Docker data root, or a .tar/.tar.gz/.tar.zst archive of one
    #[arg(
        long,
        global = true,
        env = "DOCKSCOPE_ROOT",
        default_value = "/var/lib/docker"
    )]
    pub root: PathBuf,
    /// Print one JSON object (schema: docs/json.md) instead of tables
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// An image's layer stack, or with no IMAGE the forest of all images
    Tree(TreeArgs),
    /// Images, as `docker images` lists them
    Images(ImagesArgs),
    /// What the root holds: layouts, counts, version hints and problems
    Info,
    /// Disk usage per area, image, layer, container and volume, and `docker system df`
    Du(DuArgs),
    /// Leftovers nothing references and broken references, with the bytes each holds
    Orphans(OrphansArgs),
    /// Orphans and consistency as one answer for CI: exit 0 clean, 1 findings, 2 unreadable
    Check(CheckArgs),
    /// Containers, as `docker ps` lists them, in their state when the root was captured
    Ps(PsArgs),
    /// An image's build steps, as `docker history` lists them
    History(HistoryArgs),
    /// Containers or images in `docker inspect`'s JSON, with the files each fact came from
    Inspect(InspectArgs),
    /// Volumes, with driver, size, the containers using them, anonymity and labels
    Volumes,
    /// Do the files still say what Docker recorded? Exit 0 clean, 1 mismatches, 2 unreadable
    Verify(VerifyArgs),
    /// Write a small, secret-free archive of the root that `--root FILE` reads like the root
    Capture(CaptureArgs),
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// Image name, `repo:tag`, `repo@sha256:…`, id, or unique id prefix
    pub image: Option<String>,
    /// In the forest, also name the classic builder's intermediate images
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Also list intermediate images, as `docker images -a`
    #[arg(short, long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct DuArgs {
    /// Rank by apparent size (as `du -b`) instead of allocated blocks
    #[arg(long)]
    pub apparent_size: bool,
    /// Print exact byte counts instead of human sizes
    #[arg(long)]
    pub bytes: bool,
    /// Order of the rows
    #[arg(long, value_enum, default_value = "size")]
    pub sort: crate::report::du::SortBy,
    /// Show only the first N rows
    #[arg(long, value_name = "N")]
    pub top: Option<usize>,
    /// What the table lists
    #[arg(long, value_enum, default_value = "area")]
    pub by: crate::report::du::By,
    /// Whose rule `shared_size` follows: Docker 23+ (every image counts) or 20.10 (only listed images)
    #[arg(long, value_enum, default_value = "23")]
    pub df_compat: crate::report::du::DfCompat,
}

#[derive(Debug, Args)]
pub struct OrphansArgs {
    /// Print the reclaimable findings' paths, NUL-separated, for review (nothing is deleted)
    #[arg(long)]
    pub print0: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    /// node_exporter textfile-collector metrics
    Prometheus,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Let findings of this kind pass (repeatable; `problem` lets unreadable input pass)
    #[arg(long, value_name = "KIND")]
    pub allow: Vec<String>,
    /// Let reclaimable leftovers pass while they hold at most N bytes (on disk)
    #[arg(long, value_name = "N")]
    pub max_orphan_bytes: Option<u64>,
    /// Output format (`--json` is the same as `--format json`)
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// All containers (default: those recorded running, paused or restarting)
    #[arg(short, long)]
    pub all: bool,
    /// Add SIZE: the RW layer and, in brackets, the whole root filesystem (walks the root)
    #[arg(short, long)]
    pub size: bool,
    /// Show Env values in `--json` (hidden by default: they may hold secrets)
    #[arg(long)]
    pub show_env: bool,
    /// Full ids and commands, as `docker ps --no-trunc`
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Image name, `repo:tag`, `repo@sha256:…`, id, or unique id prefix
    pub image: String,
    /// Full ids and CREATED BY, as `docker history --no-trunc`
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Container (name, id, unique id prefix) or image (as IMAGE elsewhere); containers first
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Show Env values (hidden by default: they may hold secrets)
    #[arg(long)]
    pub show_env: bool,
    /// Add containers' SizeRw and SizeRootFs (walks the root)
    #[arg(short, long)]
    pub size: bool,
}

#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The archive to write: FILE.tar.zst, FILE.tar.gz or FILE.tar (outside the root)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// Keep Env values in container and image configs (default: `NAME=<redacted>`)
    #[arg(long)]
    pub keep_env: bool,
    /// Keep the contents of layer files up to BYTES (for `verify --content`; default none)
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub include_content: u64,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Images to verify, as IMAGE elsewhere (default: the whole root)
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
    /// Also compare every layer file with its tar-split record, and list containers' drift
    #[arg(long)]
    pub content: bool,
    /// Also rebuild every layer's tar and compare its SHA-256 with the DiffID (implies --content)
    #[arg(long)]
    pub deep: bool,
}
