//! Developer tasks for had: `cargo xtask <task>`.

use clap::{Parser, Subcommand};

/// had's developer tasks.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// One task per subcommand; each lives in its own module.
#[derive(Subcommand)]
enum Task {}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.task {}
}
