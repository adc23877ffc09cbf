use clap::Parser;
use std::process::ExitCode;

/// mimalloc: the scans allocate many small records from several threads at once, where
/// glibc's allocator spent a sixth of `images`' CPU time (BENCHMARKS.md). Transparent
/// huge pages are left off (`no_thp`), so peak memory stays near glibc's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Plain `dockscope`: the help, on stdout, as a successful answer.
    if std::env::args_os().len() == 1 {
        use clap::CommandFactory;
        use std::io::Write;
        let help = dockscope::cli::Cli::command().render_help();
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{help}");
        return ExitCode::SUCCESS;
    }
    let cli = match dockscope::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return dockscope::usage_error(&e),
    };
    // Before the root is opened and before any thread starts.
    dockscope::enter_sandbox(&cli);
    #[cfg(debug_assertions)]
    planted::attempts();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    // `run` flushes `out` itself and turns write errors into exit 2 (a closed pipe keeps
    // the command's status).
    let status = dockscope::run(&cli, &mut out, &mut err);
    ExitCode::from(status.code())
}

/// Test builds only: accesses planted on purpose after the sandbox is entered, to prove
/// it holds (tests/safety.rs). `DOCKSCOPE_PLANTED_WRITE=PATH` tries to create PATH,
/// `DOCKSCOPE_PLANTED_READ=PATH` to open PATH for reading; each result goes to stderr.
#[cfg(debug_assertions)]
mod planted {
    use std::io::Write;

    pub fn attempts() {
        let mut err = std::io::stderr();
        if let Some(p) = std::env::var_os("DOCKSCOPE_PLANTED_WRITE") {
            let r = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p);
            let _ = writeln!(
                err,
                "planted write {}: {}",
                p.to_string_lossy(),
                outcome(&r)
            );
        }
        if let Some(p) = std::env::var_os("DOCKSCOPE_PLANTED_READ") {
            let r = std::fs::OpenOptions::new().read(true).open(&p);
            let _ = writeln!(err, "planted read {}: {}", p.to_string_lossy(), outcome(&r));
        }
    }

    fn outcome(r: &std::io::Result<std::fs::File>) -> String {
        match r {
            Ok(_) => "succeeded".into(),
            Err(e) => format!("{e}"),
        }
    }
}
