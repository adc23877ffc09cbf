use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = dockscope::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    // `run` flushes `out` itself and turns write errors into exit 2 (a closed pipe keeps
    // the command's status).
    let status = dockscope::run(&cli, &mut out, &mut err);
    ExitCode::from(status.code())
}
