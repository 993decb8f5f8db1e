mod api;
mod auth;
mod cli;
mod config;
mod formats;
#[cfg(test)]
mod fuzzing;
mod output;
mod secret;
#[cfg(unix)]
mod signals;
mod value;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            if error.is::<cli::UsageError>() {
                ExitCode::from(2)
            } else if error.is::<cli::Drift>() {
                ExitCode::from(3)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
