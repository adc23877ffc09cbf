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

pub const EXIT_CODES: &str = "Exit codes: 0 done; 1 findings (check, verify; inspect: a NAME not found); \
2 cannot do the job (root missing or unreadable, not an overlay2 Docker root, unknown IMAGE, bad usage).";

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
    /// containerd's root (or an archive of it) for Docker's containerd image store
    /// (default: `containerd/` beside the root, else `<root>/containerd/daemon`)
    #[arg(
        long,
        global = true,
        env = "DOCKSCOPE_CONTAINERD_ROOT",
        value_name = "DIR|ARCHIVE"
    )]
    pub containerd_root: Option<PathBuf>,
    /// containerd namespace holding Docker's images (containerd image store)
    #[arg(long, global = true, default_value = "moby")]
    pub namespace: String,
    /// Judge lease expiry and ages as of TIME (RFC 3339 or Unix seconds), e.g. when
    /// the disk was imaged (default: now)
    #[arg(long, global = true, env = "DOCKSCOPE_AS_OF", value_name = "TIME", value_parser = crate::clock::parse)]
    pub as_of: Option<jiff::Timestamp>,
    /// Do not enter the Landlock sandbox (read-only beneath --root, no writes); for
    /// debugging
    #[arg(long, global = true)]
    pub no_sandbox: bool,
    /// Colour states and findings: `auto` on a terminal unless NO_COLOR is set
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorWhen,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Container name, id, or unique id prefix
    pub container: String,
    /// Only entries at or after this time: a duration before now (10m, 1h30m), an RFC 3339
    /// time, a date, or Unix seconds
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only entries at or before this time (same forms as --since)
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only the last N entries (`all` for every one)
    #[arg(short = 'n', long, value_name = "N", default_value = "all")]
    pub tail: String,
    /// Prefix each entry with its time (RFC 3339, nanoseconds)
    #[arg(short, long)]
    pub timestamps: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: Shell,
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
    Volumes(VolumesArgs),
    /// Do the files still say what Docker recorded? Exit 0 clean, 1 mismatches, 2 unreadable
    Verify(VerifyArgs),
    /// Files of an image or container (merged view) or of one layer, as `ls`
    Ls(LsArgs),
    /// A container's changes as `docker diff` lists them, or two images/layers compared
    Diff(DiffArgs),
    /// A file of an image, container or layer, to stdout (symlinks resolved inside the view)
    Cat(CatArgs),
    /// A layer as the tar Docker would produce, or a view or subtree as a tar file
    Export(ExportArgs),
    /// Files by name, path, type, size, mode bits, time or owner, with the layers holding them
    Find(FindArgs),
    /// The life of one path through a layer stack: created, changed, deleted, by which step
    Trace(TraceArgs),
    /// Bytes an image's lower layers hold that upper layers overwrite or delete
    Waste(WasteArgs),
    /// What the root records, as one sorted list of timestamped events with their source files
    Timeline(TimelineArgs),
    /// A container's log, as `docker logs` prints it (json-file and local drivers, rotated
    /// and compressed files); stdout entries to stdout, stderr entries to stderr
    Logs(LogsArgs),
    /// Print a shell completion script (bash, zsh, fish) to stdout
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout
    Man,
    /// Write a small, secret-free archive of the root that `--root FILE` reads like the root
    Capture(CaptureArgs),
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// Image name, `repo:tag`, `repo@sha256:…`, id, or unique id prefix
    pub image: Option<String>,
    /// In the forest, also name the classic builder's intermediate images; for one image,
    /// count them in SHARED WITH (default: the images `docker images` lists)
    #[arg(short, long)]
    pub all: bool,
    /// Full ids and build steps as recorded, not cut to the terminal's width
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only images of this repository (a glob, as docker's `reference=` filter)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
    /// Also list intermediate images, as `docker images -a`
    #[arg(short, long)]
    pub all: bool,
    /// Only image ids, one per row docker would print
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Full image ids
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter as `docker images --filter`: dangling=true|false, label=KEY[=VALUE],
    /// before=IMAGE, since=IMAGE, until=TIME, reference=GLOB (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Print with a Go template, as `docker images --format` (`json`, `table …`, `{{.ID}}` …)
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct VolumesArgs {
    /// Only volume names
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter as `docker volume ls --filter`: dangling=true|false, name=REGEX,
    /// driver=NAME, label=KEY[=VALUE] (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Print with a Go template, as `docker volume ls --format`
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
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
    /// Whose rule `shared_size` follows: Docker 23+ (every image counts) or 20.10 (only listed
    /// images). Default: the rule of the Docker release the root's version hints name
    #[arg(long, value_enum)]
    pub df_compat: Option<crate::report::du::DfCompat>,
    /// Print only `docker system df`'s table, as the docker CLI prints it
    #[arg(long)]
    pub system_df: bool,
    /// With --system-df: also list images, containers, volumes and build cache records, as
    /// `docker system df -v` (times relative to now)
    #[arg(short, long, requires = "system_df")]
    pub verbose: bool,
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
    /// Also fail on broken references that hold no bytes (a container whose image was
    /// removed with `rmi -f`, a tag naming no image)
    #[arg(long)]
    pub strict: bool,
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
    /// Only container ids
    #[arg(short, long)]
    pub quiet: bool,
    /// The N most recently created containers, whatever their state
    #[arg(short = 'n', long, value_name = "N")]
    pub last: Option<usize>,
    /// The most recently created container, whatever its state
    #[arg(short, long)]
    pub latest: bool,
    /// Filter as `docker ps --filter`: status=, name=, id=, ancestor=, exited=, label=,
    /// volume=, network=, health=, before=, since= (repeatable)
    #[arg(short, long, value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Print with a Go template, as `docker ps --format`
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Image name, `repo:tag`, `repo@sha256:…`, id, or unique id prefix
    pub image: String,
    /// Full ids and CREATED BY, as `docker history --no-trunc`
    #[arg(long)]
    pub no_trunc: bool,
    /// Only the ids (`<missing>` where docker prints it)
    #[arg(short, long)]
    pub quiet: bool,
    /// Human sizes and times (`--human=false`: RFC 3339 times and byte counts, as docker)
    #[arg(
        short = 'H',
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub human: bool,
    /// Print with a Go template, as `docker history --format`
    #[arg(long, value_name = "TEMPLATE")]
    pub format: Option<String>,
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
    /// Print each object with a Go template, as `docker inspect --format`
    #[arg(short, long, value_name = "TEMPLATE")]
    pub format: Option<String>,
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

/// TARGET as the file commands take it.
const TARGET_HELP: &str = "Image (as IMAGE elsewhere), container (name, id, unique id prefix), or \
layer (chain id, diff id, overlay2 dir id, or a unique prefix of one)";

#[derive(Debug, Args)]
pub struct LsArgs {
    /// TARGET[:PATH]: an image, container or layer, and a path in it (default `/`)
    #[arg(value_name = "TARGET[:PATH]", long_help = TARGET_HELP)]
    pub target: String,
    /// Long listing: type, mode, owner, size, mtime, layer, link target
    #[arg(short, long)]
    pub long: bool,
    /// List subdirectories recursively
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// A container's own RW layer alone (its whiteouts and opaque dirs shown as such)
    #[arg(long)]
    pub rw: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// A container, or two images, layers (the view as of that layer) or containers
    #[arg(required = true, num_args = 1..=2, value_name = "TARGET")]
    pub targets: Vec<String>,
}

#[derive(Debug, Args)]
pub struct CatArgs {
    /// TARGET:PATH
    #[arg(value_name = "TARGET:PATH")]
    pub target: String,
    /// A container's own RW layer alone
    #[arg(long)]
    pub rw: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// TARGET[:PATH]: a layer (its tar, byte for byte), an image or container (its merged view)
    #[arg(value_name = "TARGET[:PATH]")]
    pub target: String,
    /// Only this subtree of the view (same as TARGET:PATH)
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// The tar file to write (outside the root)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Replace FILE if it exists
    #[arg(long)]
    pub force: bool,
    /// A container's own RW layer alone
    #[arg(long)]
    pub rw: bool,
}

#[derive(Debug, Args)]
pub struct FindArgs {
    /// Search only this image, container or layer (default: every layer and container of the root)
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// File name glob (`*`, `?`, `[...]`), as `find -name`
    #[arg(long, value_name = "GLOB")]
    pub name: Option<String>,
    /// Path glob on the whole path (`/usr/*/python*`), as `find -path`
    #[arg(long, value_name = "GLOB")]
    pub path: Option<String>,
    /// Type: f, d, l, c, b, p, s
    #[arg(long = "type", value_name = "T")]
    pub file_type: Option<char>,
    /// Size as `find -size`: `+10M` (more than), `-4k` (less than), `100` (exactly, bytes)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub size: Option<String>,
    /// Setuid files
    #[arg(long)]
    pub setuid: bool,
    /// Setgid files
    #[arg(long)]
    pub setgid: bool,
    /// World-writable entries (symlinks left out)
    #[arg(long)]
    pub world_writable: bool,
    /// Modified after TIME (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub newer: Option<String>,
    /// Modified before TIME (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "TIME")]
    pub older: Option<String>,
    /// Owner uid
    #[arg(long, value_name = "UID")]
    pub uid: Option<u32>,
    /// Group gid
    #[arg(long, value_name = "GID")]
    pub gid: Option<u32>,
    /// Only what containers hold: their RW layers and the image layers under them
    #[arg(long)]
    pub in_containers: bool,
    /// With a container TARGET: its own RW layer alone
    #[arg(long)]
    pub rw: bool,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The path in the view (`/etc/motd`)
    pub path: String,
    /// The image or container whose stack to follow (default: every image and container)
    #[arg(value_name = "IMAGE|CONTAINER")]
    pub target: Option<String>,
}

#[derive(Debug, Args)]
pub struct WasteArgs {
    /// Image name, `repo:tag`, `repo@sha256:…`, id, or unique id prefix
    pub image: String,
    /// Show only the first N paths
    #[arg(long, value_name = "N", default_value = "20")]
    pub top: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TimelineFormat {
    Text,
    Json,
    Csv,
    /// Sleuth Kit bodyfile 3.x (for `mactime`)
    Bodyfile,
}

#[derive(Debug, Args)]
pub struct TimelineArgs {
    /// Also the mtimes of the files in containers' RW layers
    #[arg(long)]
    pub files: bool,
    /// Output format (`--json` is the same as `--format json`)
    #[arg(long, value_enum, default_value = "text")]
    pub format: TimelineFormat,
    /// Same as `--format csv`
    #[arg(long)]
    pub csv: bool,
    /// Same as `--format bodyfile`
    #[arg(long)]
    pub bodyfile: bool,
}
