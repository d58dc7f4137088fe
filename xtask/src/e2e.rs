//! `cargo xtask failover --e2e [--e2e-rounds N]`: client-visible outages of
//! the seed's whole architecture (two had nodes proxying the VIP to two
//! nginx members; a client probing `http://VIP/` every 10 ms with a fresh
//! connection), per fault, against the goals of issue 6.
//!
//! The lab scenario is the `had` lab test `e2e_seed` (one implementation for
//! CI and for measurements): this task runs it with `E2E_ROUNDS=N`, collects
//! the `E2E|…` lines it prints and turns them into a table with the min,
//! median and max outage per fault over the rounds. The shared helper
//! [`run_had_test`] also drives the heavy runs kept out of CI (`soak`, the
//! CPU-saturation chaos scenario).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// One `cargo test -p had` run of one test, with environment variables.
pub struct HadTest<'a> {
    /// The integration test file (`--test NAME`).
    pub file: &'a str,
    /// The test's name (an exact filter).
    pub name: &'a str,
    /// Whether the test is `#[ignore]`d (heavy runs are).
    pub ignored: bool,
    /// Extra environment for the test process.
    pub env: Vec<(&'a str, String)>,
    /// Whether to build had in release mode (measurements of the daemon itself).
    pub release: bool,
}

/// Runs `test`, echoing its output, and returns the lines it printed that
/// start with `prefix` (without the prefix). Fails if the test fails.
pub fn run_had_test(test: &HadTest<'_>, prefix: &str) -> Result<Vec<String>> {
    if let Some(why) = vip_netlink::lab::unavailable_reason() {
        bail!("this task needs the network lab: {why}");
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "-q", "-p", "had", "--test", test.file]);
    if test.release {
        cmd.arg("--release");
    }
    cmd.args([
        "--",
        "--exact",
        test.name,
        "--nocapture",
        "--test-threads",
        "1",
    ]);
    if test.ignored {
        cmd.arg("--ignored");
    }
    for (k, v) in &test.env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::inherit()).stderr(Stdio::piped());
    let mut child = cmd.spawn().context("cargo test -p had")?;
    let stderr = child.stderr.take().context("test stderr")?;
    let mut lines = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.context("read test output")?;
        eprintln!("{line}");
        if let Some(rest) = line.strip_prefix(prefix) {
            lines.push(rest.to_owned());
        }
    }
    let status = child.wait().context("wait for cargo test")?;
    if !status.success() {
        bail!(
            "the lab test {}::{} failed ({status})",
            test.file,
            test.name
        );
    }
    Ok(lines)
}

/// One fault's measurements over the rounds.
#[derive(Default)]
struct Row {
    outages_ms: Vec<f64>,
    failed: u64,
    total: u64,
    goal: String,
    reasons: Vec<String>,
}

/// Entry point: run the e2e lab test for `rounds` rounds and print the table.
pub fn run(rounds: usize) -> Result<()> {
    if rounds == 0 {
        bail!("--e2e-rounds must be at least 1");
    }
    let lines = run_had_test(
        &HadTest {
            file: "e2e_seed",
            name: "seed_architecture_end_to_end",
            ignored: false,
            env: vec![("E2E_ROUNDS", rounds.to_string())],
            release: false,
        },
        "E2E|",
    )?;
    // Keep the faults in the order the test runs them.
    let mut order: Vec<String> = Vec::new();
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for line in &lines {
        let f: Vec<&str> = line.split('|').collect();
        let [name, outage, failed, total, goal, reasons] = f.as_slice() else {
            bail!("unexpected E2E line: {line}");
        };
        if !rows.contains_key(*name) {
            order.push((*name).to_owned());
        }
        let row = rows.entry((*name).to_owned()).or_default();
        row.outages_ms.push(
            outage
                .parse()
                .with_context(|| format!("outage in {line}"))?,
        );
        row.failed += failed.parse::<u64>().unwrap_or(0);
        row.total += total.parse::<u64>().unwrap_or(0);
        row.goal = (*goal).to_owned();
        if !reasons.is_empty() {
            row.reasons.push((*reasons).to_owned());
        }
    }
    println!(
        "\n## Client-visible outage (VRRPv3, advert 0.1 s, had pair, probe every 10 ms, fresh connection, 200 ms deadline), {rounds} round(s)\n"
    );
    println!(
        "| fault | rounds | min ms | median ms | max ms | goal | failed / probes | verdict |\n|---|---|---|---|---|---|---|---|"
    );
    for name in &order {
        let Some(row) = rows.get_mut(name) else {
            continue;
        };
        row.outages_ms.sort_by(f64::total_cmp);
        let n = row.outages_ms.len();
        let min = row.outages_ms.first().copied().unwrap_or(0.0);
        let max = row.outages_ms.last().copied().unwrap_or(0.0);
        let median = row.outages_ms.get(n / 2).copied().unwrap_or(0.0);
        let (goal, verdict) = match row.goal.as_str() {
            "0 failed" => (
                "no failure".to_owned(),
                if row.failed == 0 { "met" } else { "MISSED" },
            ),
            "report" => ("(none)".to_owned(), "-"),
            g => match g.parse::<f64>() {
                Ok(limit) => (
                    format!("≤ {g} ms"),
                    if max <= limit { "met" } else { "MISSED" },
                ),
                Err(_) => (g.to_owned(), "-"),
            },
        };
        println!(
            "| {name} | {n} | {min:.1} | {median:.1} | {max:.1} | {goal} | {} / {} | {verdict} |",
            row.failed, row.total
        );
    }
    let reasons: Vec<String> = order
        .iter()
        .filter_map(|n| {
            let r = rows.get(n)?;
            (!r.reasons.is_empty()).then(|| format!("- {n}: {}", r.reasons.join(" | ")))
        })
        .collect();
    if !reasons.is_empty() {
        println!(
            "\nFailure reasons seen by the client:\n{}",
            reasons.join("\n")
        );
    }
    Ok(())
}

/// Arguments of `cargo xtask chaos-cpu`.
#[derive(Debug, clap::Args)]
pub struct ChaosCpuArgs {
    /// Seconds of saturation (2 to 120).
    #[arg(long, default_value_t = 10)]
    pub secs: u64,
}

/// `cargo xtask chaos-cpu`: the chaos suite's CPU-saturation scenario (two
/// busy threads per CPU, bounded in time) against three had nodes: whether
/// the master keeps the VIP, and the crash takeover time under load.
pub fn run_chaos_cpu(args: ChaosCpuArgs) -> Result<()> {
    let lines = run_had_test(
        &HadTest {
            file: "chaos",
            name: "cpu_saturation",
            ignored: true,
            env: vec![("CHAOS_CPU_SECS", args.secs.to_string())],
            release: false,
        },
        "CHAOS|",
    )?;
    println!("\n## Chaos: CPU saturation\n");
    for line in lines {
        println!("- {}", line.replace('|', ": "));
    }
    Ok(())
}
