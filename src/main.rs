//! The `pmbot` binary: parses the command line and hands over to the library.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "pmbot=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = pmbot::cli::Cli::parse();
    match pmbot::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pmbot: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
