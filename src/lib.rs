//! dockscope: a read-only forensic inspector for a Docker data root (overlay2).
//!
//! The pipeline: `root` (the one read-only door to the files) -> `scan` (files to
//! records, problems as data) -> `model` (records to one graph) -> `report` (graph to
//! tables or JSON). Each step depends only on the ones before it.

pub mod capture;
pub mod cli;
pub mod clock;
pub mod exit;
pub mod fs;
pub mod model;
pub mod output;
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

/// A command line clap refused: help and version as clap prints them, a usage error in
/// the one style every error has (`dockscope: error: …`, then clap's usage and hint), exit 2.
pub fn usage_error(e: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return std::process::ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
    }
    let text = e.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    let _ = write!(io::stderr(), "dockscope: error: {text}");
    std::process::ExitCode::from(ExitStatus::Failure.code())
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
    // Commands that need no root.
    match &cli.command {
        Command::Completions(args) => {
            return finish(completions(args.shell, out), err);
        }
        Command::Man => return finish(man_page(out), err),
        _ => {}
    }
    // States and findings in colour for people at a terminal.
    let paintable = !cli.global.json
        && match &cli.command {
            Command::Ps(_) | Command::Verify(_) => true,
            Command::Orphans(a) => !a.print0,
            Command::Check(a) => a.format == cli::CheckFormat::Text,
            _ => false,
        };
    let colour = paintable && {
        use std::io::IsTerminal;
        report::color::enabled(
            cli.global.color,
            io::stdout().is_terminal(),
            std::env::var("NO_COLOR").ok().as_deref(),
        )
    };
    let mut out = Output {
        inner: out,
        closed: false,
    };
    let mut painter;
    let out: &mut dyn Write = if colour {
        painter = report::color::Painter::new(&mut out);
        &mut painter
    } else {
        &mut out
    };
    let result = run_inner(cli, out, err).and_then(|status| {
        out.flush()?;
        Ok(status)
    });
    match result {
        Ok(status) => status,
        Err(e) => {
            let _ = writeln!(err, "dockscope: error: {e}{}", next_step(&e));
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

/// What to try next, for the errors whose own words do not say it.
fn next_step(e: &Fatal) -> &'static str {
    match e {
        Fatal::Open(root::OpenError::NotFound(_)) => {
            "; give the data root with --root (on the host, `docker info -f '{{.DockerRootDir}}'` names it)"
        }
        Fatal::Open(root::OpenError::Io(_, io)) if io.kind() == io::ErrorKind::PermissionDenied => {
            "; the data root is readable by root only: run with sudo, or on a copy or an archive of it"
        }
        Fatal::Layout(scan::layout::LayoutError::NotDockerRoot(_)) => {
            "; give the directory that holds them with --root (on the host, `docker info -f '{{.DockerRootDir}}'` names it)"
        }
        _ => "",
    }
}

fn finish(r: io::Result<()>, err: &mut dyn Write) -> ExitStatus {
    match r {
        Ok(()) => ExitStatus::Done,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitStatus::Done,
        Err(e) => {
            let _ = writeln!(err, "dockscope: error: writing output: {e}");
            ExitStatus::Failure
        }
    }
}

/// `dockscope completions SHELL`: clap_complete's script for the command line.
pub fn completions(shell: cli::Shell, out: &mut dyn Write) -> io::Result<()> {
    use clap::CommandFactory;
    let shell = match shell {
        cli::Shell::Bash => clap_complete::Shell::Bash,
        cli::Shell::Zsh => clap_complete::Shell::Zsh,
        cli::Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "dockscope", &mut buf);
    out.write_all(&buf)
}

/// `dockscope man`: the man page (roff), from the same clap definitions.
pub fn man_page(out: &mut dyn Write) -> io::Result<()> {
    use clap::CommandFactory;
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
    out.write_all(&buf)
}

fn run_inner(cli: &Cli, out: &mut dyn Write, err: &mut dyn Write) -> Result<ExitStatus, Fatal> {
    check_usage(cli)?;
    let started = std::time::Instant::now();
    clock::set_as_of(cli.global.as_of);
    if let Command::Capture(args) = &cli.command {
        use std::io::IsTerminal;
        let opts = capture::Options {
            output: args.output.clone(),
            force: args.force,
            keep_env: args.keep_env,
            include_content: args.include_content,
            containerd_root: cli.global.containerd_root.clone(),
        };
        let report = capture::run(&cli.global.root, &opts, std::io::stderr().is_terminal())?;
        report::emit(&report, cli.global.json, out, err, capture::render)?;
        return Ok(ExitStatus::Done);
    }
    let root = DataRoot::open(&cli.global.root)?;
    let layout = detect_or_hint(&cli.global.root, &root)?;
    // Commands that measure the whole root walk it while the scan runs.
    let needs_walk = matches!(
        cli.command,
        Command::Du(_) | Command::Check(_) | Command::Volumes(_)
    );
    let c8d_opts = scan::containerd::Options {
        root: cli.global.containerd_root.clone(),
        namespace: cli.global.namespace.clone(),
        // `images` reads records only: no blob measured, no snapshot dir opened.
        lean: matches!(cli.command, Command::Images(_)),
    };
    let scan_c8d = |layout| {
        let (scanned, croot) =
            scan::containerd::scan_root(&root, &cli.global.root, layout, &c8d_opts);
        (Model::build(scanned), croot)
    };
    // `du` walks containerd's root too (Docker's image store there), beside the scan
    // and the Docker root's walk: found first, as the scan finds it.
    let pre_croot = if matches!(cli.command, Command::Du(_)) {
        prefind_containerd(&root, &cli.global.root, &c8d_opts)
    } else {
        None
    };
    // `du`'s work on the records alone is done beside the walks too: they take longer.
    let is_du = matches!(cli.command, Command::Du(_));
    let ((model, croot), mut walked, mut cwalked, mut du_recs) = if needs_walk {
        let ((model, du_recs), (walked, cwalked)) = rayon::join(
            || {
                let scanned = scan_c8d(layout);
                let recs = is_du.then(|| du_records(&scanned.0, &root));
                (scanned, recs)
            },
            || walk_both_with_progress(&root, pre_croot.as_ref()),
        );
        (model, Some(walked), cwalked, du_recs)
    } else {
        (scan_c8d(layout), None, None, None)
    };
    drop(pre_croot);
    let model = FreeAside(Some(model));
    let croot = croot.as_ref();
    let mut take_walk = || walked.take().unwrap_or_else(|| walk_with_progress(&root));
    let json = cli.global.json;
    match &cli.command {
        Command::Images(args) => {
            let tmpl = listing_template(
                args.format.as_deref(),
                json,
                args.quiet,
                report::images::HEADERS,
                err,
            )?;
            let mut filter = args.filter.clone();
            if let Some(r) = &args.reference {
                filter.push(format!("reference={r}"));
            }
            let filters = report::filter::Filters::parse(&filter).map_err(Fatal::Usage)?;
            let mut report =
                report::images::build_filtered(&model, args.all, &filters).map_err(Fatal::Usage)?;
            report.view = report::images::View {
                quiet: args.quiet,
                digests: args.digests,
                no_trunc: args.no_trunc,
            };
            if let Some(t) = tmpl {
                let rows =
                    report::images::format_rows(&report, args.format.as_deref().unwrap_or(""));
                print_template(
                    &t,
                    report::images::HEADERS,
                    &rows,
                    &report.problems,
                    out,
                    err,
                )?;
            } else {
                report::emit(&report, json, out, err, report::images::render)?;
            }
            drop(report);
            // Freed beside the process's exit, not before it: at 10,000 images, freeing
            // the model record by record is a tenth of the run.
            let _ = std::thread::Builder::new().spawn(move || drop(model));
            Ok(ExitStatus::Done)
        }
        Command::Tree(args) => {
            if let Some(name) = &args.image {
                let i = report::resolve_or_fail(&model, name)?;
                let mut report = report::tree::build_stack_with(&model, i, args.all);
                report.no_trunc = args.no_trunc;
                report.prefer_name(name);
                report.glyphs = report::tree::Glyphs::from_locale(|k| std::env::var(k).ok());
                report::emit(&report, json, out, err, report::tree::render_stack)?;
            } else {
                let mut report = report::tree::build_forest(&model, args.all, json);
                report.glyphs = report::tree::Glyphs::from_locale(|k| std::env::var(k).ok());
                report::emit(&report, json, out, err, report::tree::render_forest)?;
            }
            Ok(ExitStatus::Done)
        }
        Command::Du(args) => {
            let (rule, source, reason) = report::du::choose_rule(&model, args.df_compat);
            // containerd's root, walked beside the scan (or now, when it was not found
            // before the scan): snapshot sizes, areas, layers from its buckets.
            let cwalked = cwalked
                .take()
                .or_else(|| croot.map(|c| walk::walk_tree(c, walk::Tree::Containerd, None)));
            let walked = take_walk();
            let DuRecords {
                found,
                images_df,
                build_cache: (records, bk_problems),
            } = du_recs.take().unwrap_or_else(|| du_records(&model, &root));
            let mut report = report::du::build(&model, walked, rule, root.sizes_known());
            report.disk_bytes_from = root.capture().map(capture::manifest::Manifest::source_note);
            report.df_compat_source = source;
            report.df_compat_reason = reason;
            report.system_df.build_cache_total = records.as_ref().map(Vec::len);
            report.problems.extend(bk_problems);
            report::c8d::patch_du_walked(&mut report, &model, croot, cwalked.as_ref(), images_df);
            report::c8d::add_areas(&mut report, &model, croot, cwalked.as_ref());
            if args.by == report::du::By::Image {
                report::du::add_waste(&mut report, &root, &model);
            }
            if args.verbose {
                report.verbose = Some(report::du::verbose(
                    &model,
                    &report,
                    records.as_deref(),
                    crate::clock::now(),
                ));
            }
            let orphans = if let Some((candidates, cannot)) = found {
                // `du` counts the findings alone; sized from the walks where a path is
                // a whole bucket.
                let known = croot.is_some_and(DataRoot::sizes_known);
                report::c8d_orphans::report_classified(
                    &root,
                    croot,
                    &model,
                    candidates,
                    cannot,
                    &|p| report::c8d::walked_usage(&report, cwalked.as_ref(), known, p),
                )
            } else {
                orphans_report(&root, croot, &model, Some(&report))
            };
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
                system_df_only: args.system_df,
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
                root.sizes_known(),
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
            let mut report = report::info::build(&root, &model);
            // Image layers (with a recorded size): their files show how the driver ran.
            let mut layers: Vec<(String, u64, String)> = Vec::new();
            for l in 0..model.layers.len() {
                if let (Some(c), Some(size)) =
                    (model.layers[l].cache_id.clone(), model.layers[l].size)
                {
                    layers.push((c, size, model.layers[l].chain_id.to_string()));
                }
            }
            let evidence = scan::driverhints::scan(&root, &layers);
            report.docker = report::info::docker_info(&model, &evidence);
            let report = InfoWithSandbox {
                info: report,
                sandbox: sandbox::state(),
            };
            report::emit(&report, json, out, err, render_info)?;
            Ok(ExitStatus::Done)
        }
        Command::Ps(args) => {
            let tmpl = listing_template(
                args.format.as_deref(),
                json,
                args.quiet,
                report::ps::HEADERS,
                err,
            )?;
            let filters = report::filter::Filters::parse(&args.filter).map_err(Fatal::Usage)?;
            // docker measures sizes when asked, or when the template reads `.Size`.
            let want_size = args.size || tmpl.as_ref().is_some_and(|t| t.reads_field("Size"));
            let opts = report::ps::Options {
                all: args.all,
                show_env: args.show_env,
                no_trunc: args.no_trunc,
                quiet: args.quiet,
                last: if args.latest { Some(1) } else { args.last },
            };
            // Check the filters before the walk: a bad one must not cost a measure.
            report::ps::build_filtered(&model, None, opts, &filters).map_err(Fatal::Usage)?;
            let du = want_size.then(|| sized(&root, &model, croot));
            let report = report::ps::build_filtered(&model, du.as_ref(), opts, &filters)
                .map_err(Fatal::Usage)?;
            if let Some(t) = tmpl {
                let rows = report::ps::format_rows(&report);
                print_template(&t, report::ps::HEADERS, &rows, &report.problems, out, err)?;
            } else {
                report::emit(&report, json, out, err, report::ps::render)?;
            }
            Ok(ExitStatus::Done)
        }
        Command::History(args) => {
            let tmpl = listing_template(
                args.format.as_deref(),
                json,
                args.quiet,
                report::history::HEADERS,
                err,
            )?;
            let i = report::resolve_or_fail(&model, &args.image)?;
            let mut report = report::history::build(&model, i);
            report.no_trunc = args.no_trunc;
            report.quiet = args.quiet;
            report.raw = !args.human;
            if let Some(t) = tmpl {
                let rows = report::history::format_rows(&report);
                print_template(
                    &t,
                    report::history::HEADERS,
                    &rows,
                    &report.problems,
                    out,
                    err,
                )?;
            } else {
                report::emit(&report, json, out, err, report::history::render)?;
            }
            Ok(ExitStatus::Done)
        }
        Command::Inspect(args) => {
            let tmpl = match args.format.as_deref() {
                Some(_) if json => {
                    return Err(Fatal::Usage(
                        "--json and --format cannot be used together".to_owned(),
                    ))
                }
                None | Some("json") => None,
                Some(f) => report::format::parse(Some(f)).map_err(|e| Fatal::Usage(e.0))?,
            };
            let sizes = args.size.then(|| sized(&root, &model, croot));
            let opts = report::inspect::Options {
                show_env: args.show_env,
            };
            let Some(t) = tmpl else {
                return report::inspect::run(
                    &root,
                    &model,
                    &args.names,
                    opts,
                    sizes.as_ref(),
                    out,
                    err,
                );
            };
            // The objects as `inspect` prints them, each run through the template.
            let mut buf = Vec::new();
            let status = report::inspect::run(
                &root,
                &model,
                &args.names,
                opts,
                sizes.as_ref(),
                &mut buf,
                err,
            )?;
            let objects: Vec<serde_json::Value> = serde_json::from_slice(&buf).unwrap_or_default();
            let text = t.render_values(&objects).map_err(|e| Fatal::Usage(e.0))?;
            out.write_all(report::format::scrub(&text).as_bytes())?;
            Ok(status)
        }
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
        Command::Logs(args) => {
            let now = crate::clock::now();
            let time = |v: &Option<String>| {
                v.as_deref()
                    .map(|s| report::logs::parse_time(s, now))
                    .transpose()
                    .map_err(Fatal::Usage)
            };
            let tail = match args.tail.as_str() {
                "all" | "-1" => None,
                n => Some(n.parse::<usize>().map_err(|_| {
                    Fatal::Usage(format!(
                        "invalid --tail {:?}: a number or `all`",
                        report::sanitize(n)
                    ))
                })?),
            };
            let opts = report::logs::Options {
                since: time(&args.since)?,
                until: time(&args.until)?,
                tail,
                timestamps: args.timestamps,
            };
            report::logs::run(&root, &model, &args.container, &opts, json, out, err)
        }
        Command::Completions(_) | Command::Man => Ok(ExitStatus::Done),
        Command::Ls(args) if !args.long && !json => {
            report::ls::stream_names(
                files_root(&root, croot, &model)?,
                &model,
                &args.target,
                args.rw,
                args.recursive,
                out,
                err,
            )?;
            Ok(ExitStatus::Done)
        }
        Command::Ls(args) => {
            let report = report::ls::build(
                files_root(&root, croot, &model)?,
                &model,
                &args.target,
                args.rw,
                args.recursive,
                args.long,
            )?;
            report::emit(&report, json, out, err, report::ls::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Diff(args) => {
            let report =
                report::diff::build(files_root(&root, croot, &model)?, &model, &args.targets)?;
            report::emit(&report, json, out, err, report::diff::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Cat(args) => {
            report::export::cat(
                files_root(&root, croot, &model)?,
                &model,
                &args.target,
                args.rw,
                out,
                err,
            )?;
            Ok(ExitStatus::Done)
        }
        Command::Export(args) => {
            let report = report::export::export_from(
                files_root(&root, croot, &model)?,
                &root,
                &model,
                &args.target,
                args.path.as_deref(),
                &args.output,
                args.force,
                args.rw,
            )?;
            report::emit(&report, json, out, err, report::export::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Find(args) => {
            let filter = report::find::filter_from(args)?;
            let report = report::find::build(
                files_root(&root, croot, &model)?,
                &model,
                args.target.as_deref(),
                args.rw,
                args.in_containers,
                &filter,
            )?;
            report::emit(&report, json, out, err, report::find::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Trace(args) => {
            let report = report::trace::build(
                files_root(&root, croot, &model)?,
                &model,
                &args.path,
                args.target.as_deref(),
            )?;
            report::emit(&report, json, out, err, report::trace::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Waste(args) => {
            let i = report::resolve_or_fail(&model, &args.image)?;
            let report =
                report::waste::build(files_root(&root, croot, &model)?, &model, i, args.top);
            report::emit(&report, json, out, err, report::waste::render)?;
            Ok(ExitStatus::Done)
        }
        Command::Timeline(args) => {
            let lroot = files_root(&root, croot, &model).unwrap_or(&root);
            let report = report::timeline::build_with(&root, lroot, &model, args.files);
            let format = match (args.format, json, args.csv, args.bodyfile) {
                (_, true, _, _) => cli::TimelineFormat::Json,
                (_, _, true, _) => cli::TimelineFormat::Csv,
                (_, _, _, true) => cli::TimelineFormat::Bodyfile,
                (f, _, _, _) => f,
            };
            match format {
                cli::TimelineFormat::Text => {
                    report::emit(&report, false, out, err, report::timeline::render)?;
                }
                cli::TimelineFormat::Json => {
                    report::emit(&report, true, out, err, report::timeline::render)?;
                }
                cli::TimelineFormat::Csv => {
                    report::timeline::render_csv(&report, out)?;
                    report::write_problems(&report.problems, err)?;
                }
                cli::TimelineFormat::Bodyfile => {
                    report::timeline::render_bodyfile(&report, out)?;
                    report::write_problems(&report.problems, err)?;
                }
            }
            Ok(ExitStatus::Done)
        }
        Command::Volumes(args) => {
            let tmpl = listing_template(
                args.format.as_deref(),
                json,
                args.quiet,
                report::volumes::HEADERS,
                err,
            )?;
            let filters = report::filter::Filters::parse(&args.filter).map_err(Fatal::Usage)?;
            let du = report::du::build(
                &model,
                take_walk(),
                report::du::DfCompat::V23,
                root.sizes_known(),
            );
            let mut report =
                report::volumes::build_filtered(&model, &du, &filters).map_err(Fatal::Usage)?;
            report.quiet = args.quiet;
            if let Some(t) = tmpl {
                let shown = report::inspect::base_path(&root);
                let rows = report::volumes::format_rows(&report, &shown);
                print_template(
                    &t,
                    report::volumes::HEADERS,
                    &rows,
                    &report.problems,
                    out,
                    err,
                )?;
            } else {
                report::emit(&report, json, out, err, report::volumes::render)?;
            }
            Ok(ExitStatus::Done)
        }
        // handled before the root is opened for reading
        Command::Capture(_) => Err(Fatal::Usage("capture: internal dispatch error".into())),
    }
}

/// The root the file commands read layer files from: containerd's when the images live
/// in its store (every image, init and RW layer is a snapshot of its overlayfs
/// snapshotter), else the Docker root.
fn files_root<'a>(
    root: &'a DataRoot,
    croot: Option<&'a DataRoot>,
    model: &Model,
) -> Result<&'a DataRoot, Fatal> {
    let Some(c8d) = model.containerd.as_deref() else {
        return Ok(root);
    };
    match croot {
        Some(c) if c8d.store.is_some() => Ok(c),
        // containerd's records unread, but the Docker root has a classic store of its own
        _ if model
            .dirs
            .iter()
            .any(|d| !d.path.starts_with(scan::containerd::PREFIX)) =>
        {
            Ok(root)
        }
        _ => Err(Fatal::Usage(format!(
            "the layers live in containerd's root, which cannot be used: {}",
            c8d.unusable
                .as_ref()
                .map_or("containerd's root was not found", |u| u.reason.as_str())
        ))),
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
    // The hint for `--root X/overlay2` reads the directories above the root: settle it
    // while they are still readable.
    let _ = MISPLACED.set(misplaced_hint(&cli.global.root));
    let mut policy = sandbox::Policy::new().read_only(&cli.global.root);
    for p in extra_read_only(cli) {
        policy = policy.read_only(p);
    }
    if let Some(dir) = output_dir(cli) {
        policy = policy.writable(dir);
    }
    policy.enforce()
}

/// The one directory a command writes in (`export -o FILE`, `capture -o FILE`: FILE's directory, where it is
/// written under a temporary name and renamed). `output::decide_output_path` refuses it
/// later if it lies inside the root.
fn output_dir(cli: &Cli) -> Option<std::path::PathBuf> {
    let file = match &cli.command {
        Command::Export(args) => &args.output,
        Command::Capture(args) => &args.output,
        _ => return None,
    };
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
    std::path::absolute(parent.unwrap_or(std::path::Path::new("."))).ok()
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

/// `scan::layout::detect`, or, for `--root` pointed at a directory inside a data root,
/// the data root to use instead.
fn detect_or_hint(path: &std::path::Path, root: &DataRoot) -> Result<scan::layout::Layout, Fatal> {
    let detected = scan::layout::detect(root);
    let hint = match MISPLACED.get() {
        Some(settled) => settled.clone(),
        None => misplaced_root(path, root, detected.is_ok()),
    };
    match (detected, hint) {
        (_, Some(hint)) => Err(Fatal::Usage(hint)),
        (Ok(layout), None) => Ok(layout),
        (Err(e), None) => Err(e.into()),
    }
}

/// The misplaced-root hint, settled before the sandbox hides the root's parents.
static MISPLACED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

fn misplaced_hint(path: &std::path::Path) -> Option<String> {
    let root = DataRoot::open(path).ok()?;
    let recognised = scan::layout::detect(&root).is_ok();
    misplaced_root(path, &root, recognised)
}

/// `--root X/overlay2` (or `X/image`, `X/containers`, `X/image/overlay2`, ...): a directory
/// inside a data root rather than the data root. Says which data root to use. A root that
/// was recognised is questioned only when it is named like one of a data root's own
/// directories and its parent is a data root.
fn misplaced_root(path: &std::path::Path, root: &DataRoot, recognised: bool) -> Option<String> {
    const AREAS: &[&str] = &[
        "overlay2",
        "image",
        "containers",
        "volumes",
        "buildkit",
        "network",
        "plugins",
        "runtimes",
        "swarm",
        "tmp",
        "trust",
        "containerd",
        "builder",
        "layerdb",
        "imagedb",
    ];
    if root.is_archive() {
        return None;
    }
    let abs = std::path::absolute(path).ok()?;
    let name = abs.file_name()?.to_str()?;
    if recognised && !AREAS.contains(&name) {
        return None;
    }
    let levels = if recognised { 1 } else { 3 };
    let mut cur = abs.as_path();
    for _ in 0..levels {
        let parent = cur.parent()?;
        let looks_like_root = |p: &std::path::Path| {
            DataRoot::open(p).ok().is_some_and(|r| {
                !r.is_archive()
                    && scan::layout::detect(&r).is_ok_and(|l| l.layouts.iter().any(|x| x.analysed))
            })
        };
        // `X/image` has an `overlay2/` too: a candidate named like a data root's own
        // directory, whose parent is a data root, is not one.
        let is_data_root = looks_like_root(parent)
            && !(parent
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| AREAS.contains(&n))
                && parent.parent().is_some_and(looks_like_root));
        if is_data_root {
            let rel = abs.strip_prefix(parent).ok()?.display().to_string();
            // Show the data root as the user wrote the path, where that is possible.
            let mut given = path.to_path_buf();
            for _ in rel.split('/') {
                given.pop();
            }
            let shown = if given.as_os_str().is_empty() {
                parent.display().to_string()
            } else {
                given.display().to_string()
            };
            return Some(format!(
                "{}: this looks like the {rel} dir of a data root: use --root {shown}",
                path.display()
            ));
        }
        cur = parent;
    }
    None
}

/// A listing's `--format`, checked before any work: `None` prints the usual table (or
/// JSON, or ids with `-q`). `-q` wins over `--format`, with docker's warning; `--json`
/// with `-q` or a template is a usage error.
fn listing_template(
    format: Option<&str>,
    json: bool,
    quiet: bool,
    headers: report::format::Headers,
    err: &mut dyn Write,
) -> Result<Option<report::format::Template>, Fatal> {
    if json && (quiet || format.is_some()) {
        return Err(Fatal::Usage(format!(
            "--json and {} cannot be used together",
            if quiet { "--quiet" } else { "--format" }
        )));
    }
    let tmpl = report::format::parse(format).map_err(|e| Fatal::Usage(e.0))?;
    if let Some(t) = &tmpl {
        let known: Vec<&str> = headers.iter().map(|(f, _)| *f).collect();
        t.check_fields(&known).map_err(|e| Fatal::Usage(e.0))?;
        if quiet {
            writeln!(
                err,
                "WARNING: Ignoring custom format, because both --format and --quiet are set."
            )?;
            return Ok(None);
        }
    }
    Ok(tmpl)
}

/// Print a listing's rows through a template, then the problems footer.
fn print_template(
    t: &report::format::Template,
    headers: report::format::Headers,
    rows: &[report::format::Row],
    problems: &[problem::Problem],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Fatal> {
    let text = t
        .render_rows(headers, rows)
        .map_err(|e| Fatal::Usage(e.0))?;
    out.write_all(report::format::scrub(&text).as_bytes())?;
    report::write_problems(problems, err)?;
    Ok(())
}

/// Docker's sizes of containers and volumes: the du walk, measured once.
fn sized(root: &DataRoot, model: &Model, croot: Option<&DataRoot>) -> report::du::DuReport {
    let walked = walk_with_progress(root);
    let mut du = report::du::build(model, walked, report::du::DfCompat::V23, root.sizes_known());
    report::c8d::patch_du(&mut du, model, croot);
    du
}

/// A value freed on a thread of its own once done with: freeing a large model (a
/// million records) takes time the answer need not wait for.
struct FreeAside<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> std::ops::Deref for FreeAside<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("taken only on drop")
    }
}

impl<T: Send + 'static> Drop for FreeAside<T> {
    fn drop(&mut self) {
        if let Some(v) = self.0.take() {
            // Freed here when no thread can be started.
            let _ = std::thread::Builder::new().spawn(move || drop(v));
        }
    }
}

/// The size walk, with a progress line on stderr when stderr is a terminal. On a
/// capture, the allocated bytes per bucket come from its manifest.
fn walk_with_progress(root: &DataRoot) -> walk::WalkResult {
    walk_both_with_progress(root, None).0
}

/// The size walk of the Docker root and, when given, of containerd's root beside it
/// (one progress line for both).
fn walk_both_with_progress(
    root: &DataRoot,
    croot: Option<&DataRoot>,
) -> (walk::WalkResult, Option<walk::WalkResult>) {
    let (mut walked, cwalked) = walk_with_progress_inner(root, croot);
    if let Some(m) = root.capture() {
        m.reconcile(&mut walked);
    }
    (walked, cwalked)
}

/// `du`'s work on the records alone, which needs no walk: done beside the walks.
struct DuRecords {
    /// The containerd store's findings, classified (`None`: the graphdriver layout).
    found: Option<(
        Vec<report::orphans::Candidate>,
        Vec<report::orphans::CannotJudge>,
    )>,
    /// `system df`'s image numbers in the containerd store, but for the walks' part.
    images_df: Option<report::c8d::ImagesDf>,
    /// BuildKit's records (`buildkit/cache.db`) and their problems.
    build_cache: (
        Option<Vec<scan::buildcache::CacheRecord>>,
        Vec<problem::Problem>,
    ),
}

fn du_records(model: &Model, root: &DataRoot) -> DuRecords {
    let (found, (images_df, build_cache)) = rayon::join(
        || {
            model.containerd.is_some().then(|| {
                let now = crate::clock::now().as_second();
                report::c8d_orphans::classify_findings(model, now)
            })
        },
        || {
            (
                report::c8d::images_df_records(model),
                scan::buildcache::scan(root),
            )
        },
    );
    DuRecords {
        found,
        images_df,
        build_cache,
    }
}

/// containerd's root as the scan will find it, for `du` to walk beside the scan.
/// `None` when the scan will not look for one, there is none, or `--containerd-root`
/// names an archive (indexed once, by the scan; walked after it).
fn prefind_containerd(
    root: &DataRoot,
    root_path: &std::path::Path,
    opts: &scan::containerd::Options,
) -> Option<DataRoot> {
    if !scan::containerd::wanted(root, opts) || opts.root.as_deref().is_some_and(|p| !p.is_dir()) {
        return None;
    }
    scan::containerd::find(root, root_path, opts)
        .ok()
        .map(|(r, _)| r)
}

fn walk_with_progress_inner(
    root: &DataRoot,
    croot: Option<&DataRoot>,
) -> (walk::WalkResult, Option<walk::WalkResult>) {
    use std::io::IsTerminal;
    use std::sync::atomic::{AtomicBool, Ordering};
    let both = |p: Option<&walk::Progress>| {
        rayon::join(
            || walk::walk(root, p),
            || croot.map(|c| walk::walk_tree(c, walk::Tree::Containerd, p)),
        )
    };
    if !std::io::stderr().is_terminal() {
        return both(None);
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
        let r = both(Some(&progress));
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
                        disk_bytes: root.sizes_known().then_some(0),
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
    let from_du: Vec<Option<walk::Usage>> = paths
        .iter()
        .map(|p| du.and_then(|d| d.usage_of(p)))
        .collect();
    // What the du walk did not measure, measured now (paths sharing a parent together).
    let rest: Vec<&str> = paths
        .iter()
        .zip(&from_du)
        .filter(|(_, u)| u.is_none())
        .map(|(p, _)| p.as_str())
        .collect();
    let mut walked = walk::measure_many(root, &rest).into_iter();
    let measured: Vec<(String, walk::Usage, Vec<problem::Problem>)> = paths
        .iter()
        .zip(from_du)
        .map(|(p, u)| {
            let (u, problems) =
                u.map_or_else(|| walked.next().unwrap_or_default(), |u| (u, Vec::new()));
            ((*p).clone(), u, problems)
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
    let cannot_judge = report::orphans::judge(model, &candidates, &absent, &problems);
    report::orphans::build(
        candidates,
        &sizes,
        root.sizes_known(),
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
