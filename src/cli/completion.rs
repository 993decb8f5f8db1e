//! `databricks completion SHELL`: a completion script generated from the command definitions.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Context};

#[derive(Args, Debug)]
pub struct Completion {
    /// The shell to print the script for
    #[arg(value_enum)]
    shell: Shell,
}

impl Completion {
    pub fn run(self, _context: &Context) -> anyhow::Result<()> {
        let mut command = Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut command, "databricks", &mut script);
        crate::output::write_stdout(&script)?;
        Ok(())
    }
}
