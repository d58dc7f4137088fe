//! Developer tasks for had: `cargo xtask <task>`.

use clap::{Parser, Subcommand};

mod bench;
mod bench_checks;
mod bench_routed;
mod bench_tls;
mod e2e;
mod failover;
mod fuzz;
mod hostile;
mod lab;
mod resources;
mod soak;

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
    /// Measurements: `bench proxy` (had's proxy vs HAProxy, nginx, Apache), `bench tls`
    /// (had vs HAProxy and nginx terminating TLS), `bench checks`.
    Bench(bench::BenchArgs),
    /// Timer error and CPU with 100 script vs 100 built-in checks at 100 ms.
    BenchChecks(bench_checks::BenchChecksArgs),
    /// Takeover times: had/keepalived pairs, advert 1 s and 0.1 s, crash/graceful/preemption.
    Failover(failover::FailoverArgs),
    /// Run the cargo-fuzz targets (vrrp-core decoders, had config loader and importers) for <secs> seconds each.
    Fuzz(fuzz::FuzzArgs),
    /// The pair under HTTP load with a failover every few seconds: served, failed, RSS, fds.
    Soak(soak::SoakArgs),
    /// Chaos with every CPU saturated (kept out of CI): spurious takeovers, crash takeover.
    ChaosCpu(e2e::ChaosCpuArgs),
    /// Idle RSS and CPU of 50 instances at 0.1 s, had beside keepalived.
    Resources(resources::ResourcesArgs),
    /// lb-proxy's hostile-request corpus through had, HAProxy, nginx and Apache: a table per class.
    Hostile(hostile::HostileArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.task {
        Task::Lab(args) => lab::run(args),
        Task::Bench(args) => bench::run(args),
        Task::BenchChecks(args) => bench_checks::run(args),
        Task::Fuzz(args) => fuzz::run(args),
        Task::Failover(args) => failover::run(args),
        Task::Soak(args) => soak::run(args),
        Task::ChaosCpu(args) => e2e::run_chaos_cpu(args),
        Task::Resources(args) => resources::run(args),
        Task::Hostile(args) => hostile::run(args),
    }
}
