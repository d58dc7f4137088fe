//! `cargo xtask soak MINUTES`: the had pair under steady HTTP load through
//! the VIP (a fresh connection every 2 ms from a client node) with a
//! failover every few seconds (the master demoted, then restored, through
//! its control socket); reports requests served and failed, and each
//! daemon's RSS, file descriptors and threads at start and end, from /proc.
//!
//! The scenario is the ignored `had` lab test `e2e_seed::soak` (the same
//! nodes, nginx members and client as the end-to-end test).

use anyhow::{Result, bail};
use clap::Args;

use crate::e2e::{HadTest, run_had_test};

/// Arguments of `cargo xtask soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// Minutes of load (fractions allowed, at least 10 s).
    pub minutes: f64,
    /// Seconds between failovers.
    #[arg(long, default_value_t = 3)]
    pub failover_every: u64,
}

/// Entry point.
pub fn run(args: SoakArgs) -> Result<()> {
    if !(args.minutes.is_finite() && args.minutes > 0.0 && args.minutes <= 360.0) {
        bail!("MINUTES must be in (0, 360]");
    }
    let secs = (args.minutes * 60.0).round().max(10.0) as u64;
    let lines = run_had_test(
        &HadTest {
            file: "e2e_seed",
            name: "soak",
            ignored: true,
            env: vec![
                ("SOAK_SECS", secs.to_string()),
                ("SOAK_FAILOVER_SECS", args.failover_every.to_string()),
            ],
            release: false,
        },
        "SOAK|",
    )?;
    println!(
        "\n## Soak: {secs} s, a failover every {} s\n",
        args.failover_every
    );
    for line in lines {
        println!("- {}", line.replace('|', ", "));
    }
    Ok(())
}
