//! `cargo xtask fuzz <secs> [target]`: run the cargo-fuzz targets of
//! vrrp-core (`vrrp-core/fuzz`: the wire decoders), of had (`had/fuzz`: the
//! config loader and the two importers, includes in memory) and of lb-proxy
//! (`lb-proxy/fuzz`: the member-side HTTP/1.1 codec) for a bounded time each.
//!
//! cargo-fuzz builds with `-Zsanitizer=address` and libFuzzer's coverage
//! flags, which need a nightly compiler. On a stable toolchain this task sets
//! `RUSTC_BOOTSTRAP=1`, which unlocks those flags on the same compiler; that
//! is a developer-only build of a test harness, never of a shipped binary.
//! cargo-fuzz itself is installed with `cargo install` when missing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Arguments of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Seconds to fuzz each target (libFuzzer's -max_total_time).
    pub secs: u64,
    /// Target to run; without it every target in vrrp-core/fuzz/fuzz_targets
    /// and had/fuzz/fuzz_targets runs, one after the other.
    pub target: Option<String>,
}

/// One finished libFuzzer run.
struct Outcome {
    target: String,
    /// libFuzzer's closing line, e.g. "Done 549394 runs in 21 second(s)".
    done_line: Option<String>,
}

/// Run the chosen target(s) for `args.secs` seconds each.
pub fn run(args: FuzzArgs) -> anyhow::Result<()> {
    if args.secs == 0 {
        bail!("fuzz time must be at least 1 second");
    }
    let mut available: Vec<(PathBuf, String)> = Vec::new();
    for crate_dir in FUZZ_DIRS {
        let fuzz_dir = workspace_root().join(crate_dir);
        for target in targets(&fuzz_dir)? {
            available.push((fuzz_dir.clone(), target));
        }
    }
    let chosen: Vec<(PathBuf, String)> = match args.target {
        Some(target) => match available.iter().find(|(_, t)| *t == target) {
            Some(found) => vec![found.clone()],
            None => bail!(
                "no fuzz target `{target}` in {}; available: {}",
                FUZZ_DIRS.join(", "),
                available
                    .iter()
                    .map(|(_, t)| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        None => available,
    };
    ensure_cargo_fuzz()?;
    let bootstrap = needs_bootstrap()?;
    if bootstrap {
        eprintln!("xtask fuzz: stable rustc, building the fuzz harness with RUSTC_BOOTSTRAP=1");
    }
    let mut outcomes = Vec::new();
    for (fuzz_dir, target) in chosen {
        outcomes.push(fuzz_one(&fuzz_dir, &target, args.secs, bootstrap)?);
    }
    for outcome in outcomes {
        println!(
            "{}: {}, no crash",
            outcome.target,
            outcome
                .done_line
                .as_deref()
                .unwrap_or("finished (libFuzzer printed no summary)")
        );
    }
    Ok(())
}

/// The cargo-fuzz crates, relative to the workspace root.
const FUZZ_DIRS: [&str; 3] = ["vrrp-core/fuzz", "had/fuzz", "lb-proxy/fuzz"];

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The fuzz targets: one `fuzz_targets/<name>.rs` per target, sorted.
fn targets(fuzz_dir: &Path) -> anyhow::Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    if names.is_empty() {
        bail!("no fuzz targets in {}", dir.display());
    }
    Ok(names)
}

/// The cargo that runs this task (or `cargo` from PATH).
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Install cargo-fuzz from crates.io if `cargo fuzz` is not available.
fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let present = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("xtask fuzz: cargo-fuzz is missing; running `cargo install cargo-fuzz --locked`");
    let status = cargo()
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .context("running cargo install cargo-fuzz")?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed ({status})");
    }
    Ok(())
}

/// Whether the active rustc is not a nightly and needs `RUSTC_BOOTSTRAP=1`
/// to accept cargo-fuzz's `-Z` flags.
fn needs_bootstrap() -> anyhow::Result<bool> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(&rustc)
        .arg("--version")
        .output()
        .context("running rustc --version")?;
    let version = String::from_utf8_lossy(&output.stdout);
    Ok(!version.contains("-nightly"))
}

/// Run one target for `secs` seconds with the committed seeds, forwarding
/// libFuzzer's output and keeping its closing line.
fn fuzz_one(fuzz_dir: &Path, target: &str, secs: u64, bootstrap: bool) -> anyhow::Result<Outcome> {
    // libFuzzer writes new inputs to the first corpus directory (ignored by
    // git) and only reads the committed seeds.
    let corpus = fuzz_dir.join("corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let seeds = fuzz_dir.join("seeds").join(target);

    let mut command = cargo();
    command
        .current_dir(fuzz_dir)
        .args(["fuzz", "run", "--fuzz-dir"])
        .arg(fuzz_dir)
        .arg(target)
        .arg(&corpus);
    if seeds.is_dir() {
        command.arg(&seeds);
    }
    command
        .arg("--")
        .arg(format!("-max_total_time={secs}"))
        // A single input taking 10 s is a hang worth reporting.
        .arg("-timeout=10")
        .stderr(Stdio::piped());
    if bootstrap {
        command.env("RUSTC_BOOTSTRAP", "1");
    }
    eprintln!("xtask fuzz: {target} for {secs} s (first build takes a few minutes)");
    let mut child = command.spawn().context("running cargo fuzz")?;
    let mut done_line = None;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let line = line.context("reading cargo fuzz output")?;
            eprintln!("{line}");
            if line.starts_with("Done ") {
                done_line = Some(line);
            }
        }
    }
    let status = child.wait().context("waiting for cargo fuzz")?;
    if !status.success() {
        bail!(
            "fuzz target {target} failed ({status}); a crashing input, if any, is in {}",
            fuzz_dir.join("artifacts").join(target).display()
        );
    }
    Ok(Outcome {
        target: target.to_owned(),
        done_line,
    })
}
