mod api;
mod auth;
mod cli;
mod config;
mod dotenv;
mod editor;
#[cfg(test)]
mod fuzzing;
mod input;
mod output;
mod secret;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Error: {error:#}");
            if error.is::<cli::UsageError>() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
