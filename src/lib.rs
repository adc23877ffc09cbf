//! dockscope: a read-only forensic inspector for a Docker data root (overlay2).
//!
//! The pipeline: `root` (the one read-only door to the files) -> `scan` (files to
//! records, problems as data) -> `model` (records to one graph) -> `report` (graph to
//! tables or JSON). Each step depends only on the ones before it.

pub mod cli;
pub mod exit;
pub mod model;
pub mod problem;
pub mod report;
pub mod root;
pub mod sandbox;
pub mod scan;
pub mod verify;
pub mod walk;

use cli::{Cli, Command};
use exit::ExitStatus;
use model::Model;
use root::DataRoot;
use std::io::{self, Write};

/// Why a command could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error(transparent)]
    Open(#[from] root::OpenError),
    #[error(transparent)]
    Layout(#[from] scan::layout::LayoutError),
    #[error("{0}")]
    Usage(String),
    #[error("writing output: {0}")]
    Output(#[from] io::Error),
}

/// Open, scan and model a root.
pub fn load(path: &std::path::Path) -> Result<(DataRoot, Model), Fatal> {
    let root = DataRoot::open(path)?;
    let layout = scan::layout::detect(&root)?;
    let scanned = scan::scan(&root, layout);
    let model = Model::build(scanned);
    Ok((root, model))
}

/// Stdout as the commands see it: every write checked. A reader that went away
/// (`dockscope verify | head`) is not an error: the rest is dropped and the command
/// still returns the status its findings call for. Any other write error (a full disk,
/// `> /dev/full`) is kept and fails the run.
struct Output<'a> {
    inner: &'a mut dyn Write,
    closed: bool,
}

impl Output<'_> {
    fn absorb<T: Default>(&mut self, r: io::Result<T>) -> io::Result<T> {
        match r {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(T::default())
            }
            r => r,
        }
    }
}

impl Write for Output<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let r = self.inner.write(buf);
        let n = self.absorb(r)?;
        Ok(if self.closed { buf.len() } else { n })
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let r = self.inner.flush();
        self.absorb(r)
    }
}

/// Run one command; what it prints goes to `out` (data) and `err` (messages). `out` is
/// flushed before returning: an error writing it is exit 2 with a message, a closed pipe
/// keeps the command's own status.
pub fn run(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write) -> ExitStatus {
    let mut out = Output {
        inner: out,
        closed: false,
    };
    let result = run_inner(cli, &mut out, err).and_then(|status| {
        out.flush()?;
        Ok(status)
    });
    match result {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(err, "dockscope: error: {e}");
            ExitStatus::Failure
        }
    }
}

/// Usage errors clap cannot see: found before the root is opened.
fn check_usage(cli: &Cli) -> Result<(), Fatal> {
    if let Command::Check(args) = &cli.command {
        if cli.global.json && args.format == cli::CheckFormat::Prometheus {
            return Err(Fatal::Usage(
                "--json and --format prometheus cannot be used together: pick one".into(),
            ));
        }
        if let Some(msg) = report::check::unknown_allow(&args.allow) {
            return Err(Fatal::Usage(msg));
        }
    }
    Ok(())
}

fn run_inner(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitStatus, Fatal> {
    check_usage(cli)?;
    let started = std::time::Instant::now();
    let root = DataRoot::open(&cli.global.root)?;
    let layout = scan::layout::detect(&root)?;
    // Commands that measure the whole root walk it while the scan runs.
    let needs_walk = matches!(
        cli.command,
        Command::Du(_) | Command::Check(_) | Command::Volumes
    );
    let c8d_opts = scan::containerd::Options {
        root: cli.global.containerd_root.clone(),
        namespace: cli.global.namespace.clone(),
    };
    let scan_c8d = |layout| {
        let (scanned, croot) =
            scan::containerd::scan_root(&root, &cli.global.root, layout, &c8d_opts);
        (Model::build(scanned), croot)
    };
    let ((model, croot), mut walked) = if needs_walk {
        let (model, walked) = rayon::join(|| scan_c8d(layout), || walk_with_progress(&root));
        (model, Some(walked))
    } else {
        (scan_c8d(layout), None)
    };
    let croot = croot.as_ref();
    let mut take_walk = || walked.take().unwrap_or_else(|| walk_with_progress(&root));
    let json = cli.global.json;
    match &cli.command {
        Command::Images(args) => {
            let report = report::images::build(&model, args.all);
            report::emit(&report, json, out, err, report::images::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Tree(args) => {
            if let Some(name) = &args.image {
                let i = report::resolve_or_fail(&model, name)?;
                let report = report::tree::build_stack(&model, i);
                report::emit(&report, json, out, err, report::tree::render_stack)?;
            } else {
                let report = report::tree::build_forest(&model, args.all);
                report::emit(&report, json, out, err, report::tree::render_forest)?;
            }
            Ok(ExitStatus::Done)
        }
        Command::Du(args) => {
            let mut report =
                report::du::build(&model, take_walk(), args.df_compat, !root.is_archive());
            report::c8d::patch_du(&mut report, &model, croot);
            report::c8d::add_areas(&mut report, &model, croot);
            let orphans = orphans_report(&root, croot, &model, Some(&report));
            let reclaimable: Vec<&report::orphans::Finding> =
                orphans.findings.iter().filter(|f| f.reclaimable).collect();
            report.unowned = report::du::Unowned {
                findings: reclaimable.len(),
                paths: reclaimable
                    .iter()
                    .flat_map(|f| f.paths.iter().cloned())
                    .collect(),
                disk_bytes: orphans.totals.reclaimable_disk_bytes,
                apparent_bytes: orphans.totals.reclaimable_apparent_bytes,
            };
            report.view = Some(report::du::View {
                by: args.by,
                apparent: args.apparent_size,
                bytes: args.bytes,
                sort: args.sort,
                top: args.top,
            });
            report::emit(&report, json, out, err, report::du::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Orphans(args) => {
            let report = orphans_report(&root, croot, &model, None);
            if args.print0 {
                if model.containerd.is_some() {
                    report::c8d_orphans::print0(&report, &root, croot, out)?;
                } else {
                    report::orphans::print0(&report, root.shown(), root.is_archive(), out)?;
                }
                report::write_problems(&report.problems, err)?;
            } else {
                report::emit(&report, json, out, err, report::orphans::render)?;
            }
            if report.cannot_judge.is_empty() {
                Ok(ExitStatus::Done)
            } else {
                writeln!(
                    err,
                    "dockscope: {}",
                    report::orphans::cannot_judge_line(&report.cannot_judge)
                )?;
                Ok(ExitStatus::Failure)
            }
        }
        Command::Check(args) => {
            let walked = take_walk();
            let du = report::du::build(
                &model,
                walked,
                report::du::DfCompat::V23,
                !root.is_archive(),
            );
            let orphans = orphans_report(&root, croot, &model, Some(&du));
            let loaded: Vec<usize> = model.loaded_images().collect();
            let counts = report::check::CheckCounts {
                images: loaded.len(),
                dangling_images: loaded.iter().filter(|&&i| model.is_dangling(i)).count(),
                layers: model.layers.len(),
                overlay2_dirs: model.dirs.len(),
                containers: model.containers.len(),
                volumes: model.volumes.len(),
            };
            let policy = report::check::Policy {
                allow: args.allow.clone(),
                max_orphan_bytes: args.max_orphan_bytes,
                strict: args.strict,
            };
            let report = report::check::build(
                orphans,
                counts,
                du.areas,
                started.elapsed().as_secs_f64(),
                &policy,
            );
            match (args.format, json) {
                (cli::CheckFormat::Prometheus, _) => {
                    // Written in one piece so a failed write is seen, not half a file.
                    out.write_all(
                        report::check::prometheus(&report, &root.shown().display().to_string())
                            .as_bytes(),
                    )?;
                    report::write_problems(&report.problems, err)?;
                }
                (cli::CheckFormat::Json, _) | (_, true) => {
                    report::emit(&report, true, out, err, report::check::render)?;
                }
                (cli::CheckFormat::Text, false) => {
                    report::emit(&report, false, out, err, report::check::render)?;
                }
            }
            if !report.cannot_judge.is_empty() {
                writeln!(
                    err,
                    "dockscope: {}",
                    report::orphans::cannot_judge_line(&report.cannot_judge)
                )?;
                return Ok(ExitStatus::Failure);
            }
            Ok(if report.ok {
                ExitStatus::Done
            } else {
                ExitStatus::Findings
            })
        }
        Command::Info => {
            let report = InfoWithSandbox {
                info: report::info::build(&root, &model),
                sandbox: sandbox::state(),
            };
            report::emit(&report, json, out, err, render_info)?;
            Ok(ExitStatus::Done)
        }
        Command::Ps(args) => {
            let du = args.size.then(|| sized(&root, &model, croot));
            let opts = report::ps::Options {
                all: args.all,
                show_env: args.show_env,
                no_trunc: args.no_trunc,
            };
            let report = report::ps::build(&model, du.as_ref(), opts);
            report::emit(&report, json, out, err, report::ps::render)?;
            Ok(ExitStatus::Done)
        }
        Command::History(args) => {
            let i = report::resolve_or_fail(&model, &args.image)?;
            let mut report = report::history::build(&model, i);
            report.no_trunc = args.no_trunc;
            report::emit(&report, json, out, err, report::history::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Inspect(args) => report::inspect::run(
            &root,
            &model,
            &args.names,
            report::inspect::Options {
                show_env: args.show_env,
            },
            args.size.then(|| sized(&root, &model, croot)).as_ref(),
            out,
            err,
        ),
        Command::Verify(args) => {
            let level = if args.deep {
                verify::Level::Deep
            } else if args.content {
                verify::Level::Content
            } else {
                verify::Level::Metadata
            };
            let images = if args.images.is_empty() {
                None
            } else {
                let mut v = Vec::with_capacity(args.images.len());
                for name in &args.images {
                    v.push(report::resolved_or_fail(
                        &model,
                        name,
                        verify::resolve(&model, name),
                    )?);
                }
                Some(v)
            };
            let verified = if model.containerd.is_some() {
                verify::c8d::run(croot, &model, images.as_deref(), level)
            } else {
                verify_with_progress(&root, &model, images.as_deref(), level, err)
            };
            let report = report::verify::build(&model, verified);
            report::emit(&report, json, out, err, report::verify::render)?;
            Ok(if report.ok {
                ExitStatus::Done
            } else {
                ExitStatus::Findings
            })
        }
        Command::Volumes => {
            let du = report::du::build(
                &model,
                take_walk(),
                report::du::DfCompat::V23,
                !root.is_archive(),
            );
            let report = report::volumes::build(&model, &du);
            report::emit(&report, json, out, err, report::volumes::render)?;
            Ok(ExitStatus::Done)
        }
    }
}

/// `info` with the sandbox this process runs in (JSON: the `sandbox` object).
#[derive(serde::Serialize)]
struct InfoWithSandbox {
    #[serde(flatten)]
    info: report::info::InfoReport,
    sandbox: sandbox::SandboxState,
}

impl report::Report for InfoWithSandbox {
    fn problems(&self) -> &[problem::Problem] {
        &self.info.problems
    }
}

fn render_info(r: &InfoWithSandbox, out: &mut dyn Write) -> io::Result<()> {
    report::info::render(&r.info, out)?;
    writeln!(out, "Sandbox:         {}", sandbox::describe(&r.sandbox))
}

/// The sandbox for a command line: read-only beneath `--root` (and any path a command
/// adds), no writes, no network. `--no-sandbox` records that it is off.
pub fn enter_sandbox(cli: &Cli) -> sandbox::SandboxState {
    if cli.global.no_sandbox {
        return sandbox::disabled();
    }
    let mut policy = sandbox::Policy::new().read_only(&cli.global.root);
    for p in extra_read_only(cli) {
        policy = policy.read_only(p);
    }
    policy.enforce()
}

/// Paths besides `--root` that the command line names for reading (a containerd root, a
/// second data root ...): each is readable beneath in the sandbox. Add them here.
fn extra_read_only(cli: &Cli) -> Vec<std::path::PathBuf> {
    // Docker's containerd image store: containerd's root, as given or beside the root
    // (`<root>/containerd/daemon` lies beneath the root already).
    if let Some(c) = &cli.global.containerd_root {
        return vec![c.clone()];
    }
    let parent = cli.global.root.parent().unwrap_or(std::path::Path::new(""));
    let sibling = if parent.as_os_str().is_empty() {
        std::path::PathBuf::from("containerd")
    } else {
        parent.join("containerd")
    };
    if sibling.is_dir() && !cli.global.root.is_file() {
        vec![sibling]
    } else {
        Vec::new()
    }
}

/// Docker's sizes of containers and volumes: the du walk, measured once.
fn sized(root: &DataRoot, model: &Model, croot: Option<&DataRoot>) -> report::du::DuReport {
    let walked = walk_with_progress(root);
    let mut du = report::du::build(model, walked, report::du::DfCompat::V23, !root.is_archive());
    report::c8d::patch_du(&mut du, model, croot);
    du
}

/// The size walk, with a progress line on stderr when stderr is a terminal.
fn walk_with_progress(root: &DataRoot) -> walk::WalkResult {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering};
    if !std::io::stderr().is_terminal() {
        return walk::walk(root, None);
    }
    let progress = walk::Progress::default();
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            while !done.load(Ordering::Relaxed) {
                bar.set_message(format!(
                    "walking: {} entries, {}",
                    progress.entries.load(Ordering::Relaxed),
                    report::human_size(progress.bytes.load(Ordering::Relaxed))
                ));
                bar.tick();
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        let r = walk::walk(root, Some(&progress));
        done.store(true, Ordering::Relaxed);
        r
    });
    result
}

/// `verify`, with a progress bar on stderr when it reads layer files and stderr is a terminal.
fn verify_with_progress(
    root: &DataRoot,
    model: &Model,
    images: Option<&[usize]>,
    level: verify::Level,
    err: &mut dyn Write,
) -> verify::Verified {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering};
    if level == verify::Level::Metadata || !std::io::stderr().is_terminal() {
        return verify::run(root, model, images, level, None);
    }
    let progress = verify::Progress::default();
    let total = verify::planned_bytes(model, images);
    let done = AtomicBool::new(false);
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            let bar = indicatif::ProgressBar::new(total.max(1));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "verifying [{bar:30}] {bytes}/{total_bytes} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            while !done.load(Ordering::Relaxed) {
                let bytes = progress.bytes.load(Ordering::Relaxed);
                bar.set_length(total.max(bytes));
                bar.set_position(bytes);
                bar.set_message(format!(
                    "{} files, {} layers done",
                    progress.files.load(Ordering::Relaxed),
                    progress.layers.load(Ordering::Relaxed)
                ));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        let r = verify::run(root, model, images, level, Some(&progress));
        done.store(true, Ordering::Relaxed);
        r
    });
    let _ = err.flush();
    result
}

/// Classify the orphans, measure every path they name (overlay2 and container dirs from the du walk
/// when there is one, the rest by walking just those paths), and build the report.
fn orphans_report(
    root: &DataRoot,
    croot: Option<&DataRoot>,
    model: &Model,
    du: Option<&report::du::DuReport>,
) -> report::orphans::OrphansReport {
    use rayon::prelude::*;
    if model.containerd.is_some() {
        return report::c8d_orphans::report(root, croot, model);
    }
    let odd = odd_overlay2_names(root);
    let candidates = report::orphans::classify(model, model.buildkit_snapshots.as_ref(), &odd);
    // Names that are not UTF-8 are measured from a walk of overlay2/ (the du walk when
    // there is one), whose buckets are keyed by the name made lossy.
    let odd_walk =
        (!odd.is_empty() && du.is_none()).then(|| walk::walk_from(root, "overlay2", None));
    let mut odd_sizes: Vec<(String, walk::Usage)> = Vec::new();
    for c in &candidates {
        for (shown, bytes) in &c.raw {
            let lossy = String::from_utf8_lossy(bytes.strip_prefix(b"overlay2/").unwrap_or(bytes))
                .into_owned();
            let usage = match (&odd_walk, du) {
                (Some(w), _) => {
                    let mut u = walk::Usage {
                        disk_bytes: (!root.is_archive()).then_some(0),
                        ..walk::Usage::default()
                    };
                    for b in [
                        walk::Bucket::LayerRest(lossy.clone()),
                        walk::Bucket::LayerDiff(lossy.clone()),
                    ] {
                        if let Some(x) = w.buckets.get(&b) {
                            u.add(x);
                        }
                    }
                    Some(u)
                }
                (None, Some(d)) => d.usage_of(&format!("overlay2/{lossy}")),
                (None, None) => None,
            };
            if let Some(u) = usage {
                odd_sizes.push((shown.clone(), u));
            }
        }
    }
    let raw_shown: std::collections::HashSet<&String> = candidates
        .iter()
        .flat_map(|c| c.raw.iter().map(|(p, _)| p))
        .collect();
    let paths: Vec<&String> = candidates
        .iter()
        .flat_map(|c| &c.paths)
        .filter(|p| !raw_shown.contains(p))
        .collect();
    let from_du = |p: &str| du.and_then(|d| d.usage_of(p));
    let measured: Vec<(String, walk::Usage, Vec<problem::Problem>)> = paths
        .par_iter()
        .map(|p| {
            if let Some(u) = from_du(p) {
                ((*p).clone(), u, Vec::new())
            } else {
                let (u, problems) = walk::measure(root, p);
                ((*p).clone(), u, problems)
            }
        })
        .collect();
    let mut problems = model.problems.clone();
    if let Some(du) = du {
        // The walk's read errors (EACCES, EIO, EMFILE ...) touch what they lie under.
        problems.extend(du.problems.iter().cloned());
    }
    let mut sizes: std::collections::HashMap<String, walk::Usage> = odd_sizes.into_iter().collect();
    if let Some(w) = odd_walk {
        problems.extend(w.problems);
    }
    for (p, u, pr) in measured {
        sizes.insert(p, u);
        problems.extend(pr);
    }
    problems.sort();
    problems.dedup();
    let absent = absent_record_areas(root);
    let cannot_judge = report::orphans::judge(
        model,
        &candidates,
        &absent,
        &problems,
        &incomplete_buckets(),
    );
    report::orphans::build(
        candidates,
        &sizes,
        !root.is_archive(),
        problems,
        cannot_judge,
    )
}

/// The names in `overlay2/` that are not UTF-8 (the scan leaves them out: no record can
/// name them), as bytes.
fn odd_overlay2_names(root: &DataRoot) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(dir) = root.dir("overlay2") else {
        return Vec::new();
    };
    let mut v: Vec<Vec<u8>> = dir
        .entries()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.name_str().is_none())
        .map(|e| e.name.as_bytes().to_vec())
        .collect();
    v.sort();
    v
}

/// The record areas (and their parents) that do not exist in the root.
fn absent_record_areas(root: &DataRoot) -> Vec<String> {
    report::orphans::PROBED
        .iter()
        .copied()
        .filter(|a| {
            root.lstat(a)
                .is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        })
        .map(str::to_owned)
        .collect()
}

/// Walk buckets that were not read in full, as (path, reason). The walk reports its read
/// errors as problems today, which `judge` already applies; a per-bucket marker can be
/// fed here without changing the rule.
fn incomplete_buckets() -> Vec<(String, String)> {
    Vec::new()
}
