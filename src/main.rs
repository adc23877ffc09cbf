use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match dockscope::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return dockscope::usage_error(&e),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    let status = dockscope::run(&cli, &mut out, &mut err);
    // A closed pipe (`dockscope images | head`) is not an error.
    let _ = out.flush();
    ExitCode::from(status.code())
}
