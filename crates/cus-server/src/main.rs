//! `cus`: parses the command line and reports any failure on one line.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cus_server::cli::Cli::parse();
    match cus_server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // One human line, no backtrace: the chain of causes joined with ": ".
            eprintln!("cus: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
