//! The `pmbot` binary: parses the command line and hands over to the library.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // The embedding model reads one short message at a time: splitting its small matrix
    // products over threads costs more than it saves (p50 22 ms on two threads, 15 ms on
    // one, `pmbot bench match`), and the other core keeps serving. Set before any thread.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("pmbot: error: cannot start the runtime: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
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
