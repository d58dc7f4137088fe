//! Developer tasks for had: `cargo xtask <task>`.

use clap::{Parser, Subcommand};

mod bench_checks;
mod fuzz;
mod lab;

/// had's developer tasks.
#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// One task per subcommand; each lives in its own module.
#[derive(Subcommand)]
enum Task {
    /// Build (`up`) or delete (`down`) a network-namespace lab for manual use.
    Lab(lab::LabArgs),
    /// Timer error and CPU with 100 script vs 100 built-in checks at 100 ms.
    BenchChecks(bench_checks::BenchChecksArgs),
    /// Run vrrp-core's cargo-fuzz targets for <secs> seconds each.
    Fuzz(fuzz::FuzzArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Lab(args) => lab::run(args),
        Task::BenchChecks(args) => bench_checks::run(args),
        Task::Fuzz(args) => fuzz::run(args),
    }
}
