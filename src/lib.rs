//! dockscope: a read-only forensic inspector for a Docker data root (overlay2).
//!
//! The pipeline: `root` (the one read-only door to the files) -> `scan` (files to
//! records, problems as data) -> `model` (records to one graph) -> `report` (graph to
//! tables or JSON). Each step depends only on the ones before it.

pub mod capture;
pub mod cli;
pub mod exit;
pub mod model;
pub mod problem;
pub mod report;
pub mod root;
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

/// Run one command; what it prints goes to `out` (data) and `err` (messages).
pub fn run(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write) -> ExitStatus {
    match run_inner(cli, out, err) {
        Ok(status) => status,
        Err(Fatal::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitStatus::Done,
        Err(e) => {
            let _ = writeln!(err, "dockscope: error: {e}");
            ExitStatus::Failure
        }
    }
}

fn run_inner(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitStatus, Fatal> {
    let started = std::time::Instant::now();
    if let Command::Capture(args) = &cli.command {
        use std::io::IsTerminal;
        let opts = capture::Options {
            output: args.output.clone(),
            force: args.force,
            keep_env: args.keep_env,
            include_content: args.include_content,
            containerd_root: None,
        };
        let report = capture::run(&cli.global.root, &opts, std::io::stderr().is_terminal())?;
        report::emit(&report, cli.global.json, out, err, capture::render)?;
        return Ok(ExitStatus::Done);
    }
    let root = DataRoot::open(&cli.global.root)?;
    let layout = scan::layout::detect(&root)?;
    // Commands that measure the whole root walk it while the scan runs.
    let needs_walk = matches!(
        cli.command,
        Command::Du(_) | Command::Check(_) | Command::Volumes
    );
    let (model, mut walked) = if needs_walk {
        let (model, walked) = rayon::join(
            || Model::build(scan::scan(&root, layout)),
            || walk_with_progress(&root),
        );
        (model, Some(walked))
    } else {
        (Model::build(scan::scan(&root, layout)), None)
    };
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
                report::du::build(&model, take_walk(), args.df_compat, root.sizes_known());
            report.disk_bytes_from = root.capture().map(capture::manifest::Manifest::source_note);
            let orphans = orphans_report(&root, &model, Some(&report));
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
            let report = orphans_report(&root, &model, None);
            if args.print0 {
                report::orphans::print0(&report, root.shown(), root.is_archive(), out)?;
                report::write_problems(&report.problems, err)?;
            } else {
                report::emit(&report, json, out, err, report::orphans::render)?;
            }
            Ok(ExitStatus::Done)
        }
        Command::Check(args) => {
            let walked = take_walk();
            let du = report::du::build(
                &model,
                walked,
                report::du::DfCompat::V23,
                root.sizes_known(),
            );
            let orphans = orphans_report(&root, &model, Some(&du));
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
            Ok(if report.ok {
                ExitStatus::Done
            } else {
                ExitStatus::Findings
            })
        }
        Command::Info => {
            let report = report::info::build(&root, &model);
            report::emit(&report, json, out, err, report::info::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Ps(args) => {
            let du = args.size.then(|| sized(&root, &model));
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
            args.size.then(|| sized(&root, &model)).as_ref(),
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
            if let Some(m) = root.capture() {
                if level != verify::Level::Metadata && m.options.include_content == 0 {
                    return Err(Fatal::Usage(format!(
                        "{}: a capture holds no layer file contents, so verify --content and --deep \
                         cannot run on it; run them on the live root, or capture with --include-content",
                        root.shown().display()
                    )));
                }
            }
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
            let verified = verify_with_progress(&root, &model, images.as_deref(), level, err);
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
                root.sizes_known(),
            );
            let report = report::volumes::build(&model, &du);
            report::emit(&report, json, out, err, report::volumes::render)?;
            Ok(ExitStatus::Done)
        }
        // handled before the root is opened for reading
        Command::Capture(_) => Err(Fatal::Usage("capture: internal dispatch error".into())),
    }
}

/// Docker's sizes of containers and volumes: the du walk, measured once.
fn sized(root: &DataRoot, model: &Model) -> report::du::DuReport {
    let walked = walk_with_progress(root);
    report::du::build(model, walked, report::du::DfCompat::V23, root.sizes_known())
}

/// The size walk, with a progress line on stderr when stderr is a terminal. On a
/// capture, the allocated bytes per bucket come from its manifest.
fn walk_with_progress(root: &DataRoot) -> walk::WalkResult {
    let mut walked = walk_with_progress_inner(root);
    if let Some(m) = root.capture() {
        m.reconcile(&mut walked);
    }
    walked
}

fn walk_with_progress_inner(root: &DataRoot) -> walk::WalkResult {
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
    model: &Model,
    du: Option<&report::du::DuReport>,
) -> report::orphans::OrphansReport {
    use rayon::prelude::*;
    let candidates = report::orphans::classify(model, model.buildkit_snapshots.as_ref());
    let paths: Vec<&String> = candidates.iter().flat_map(|c| &c.paths).collect();
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
    let mut sizes = std::collections::HashMap::new();
    for (p, u, pr) in measured {
        sizes.insert(p, u);
        problems.extend(pr);
    }
    problems.sort();
    problems.dedup();
    report::orphans::build(candidates, &sizes, root.sizes_known(), problems)
}
