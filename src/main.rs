use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Plain `dockscope`: the help, on stdout, as a successful answer.
    if std::env::args_os().len() == 1 {
        use clap::CommandFactory;
        let help = dockscope::cli::Cli::command().render_help();
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{help}");
        return ExitCode::SUCCESS;
    }
    let cli = dockscope::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut err = std::io::stderr();
    let status = dockscope::run(&cli, &mut out, &mut err);
    // A closed pipe (`dockscope images | head`) is not an error.
    let _ = out.flush();
    ExitCode::from(status.code())
}
