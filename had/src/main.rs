//! `had`: the high-availability daemon (VRRP + health checks + reverse proxy).
//!
//! Thin binary: argument parsing and wiring; everything else is in the
//! library so tests reach it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use had::runtime::{Daemon, Source, logging, source::FileSource};

mod allocator;

/// mimalloc instead of glibc's malloc: the proxy allocates a few small
/// buffers per request, and glibc's allocator was 11 % of the instructions
/// per proxied request under callgrind (see lb-proxy/README.md).
#[global_allocator]
static GLOBAL: allocator::MiMalloc = allocator::MiMalloc;

/// The had daemon: floats a virtual IP between nodes (VRRP, keepalived
/// compatible), moves it on health, and reverse-proxies HTTP on it.
#[derive(Debug, Parser)]
#[command(name = "had", version, about)]
struct Args {
    /// Configuration file.
    #[arg(long, short, default_value = "/etc/had/had.toml", value_name = "FILE")]
    config: PathBuf,
    /// Validate the configuration and exit: 0 valid, 1 invalid.
    #[arg(long)]
    check: bool,
    /// Run on an embedded configuration that needs no root and no network
    /// setup: a proxy on 127.0.0.1 in front of two built-in backends.
    #[arg(long, conflicts_with = "check")]
    demo: bool,
    /// The demo proxy's port (0 = any free port).
    #[arg(long, default_value_t = 8080, requires = "demo")]
    demo_port: u16,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.check {
        let report = had::check::check_files(std::slice::from_ref(&args.config));
        print!("{}", report.render());
        return if report.is_valid() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        };
    }
    logging::init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("had: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async move {
        if args.demo {
            run_demo(args.demo_port).await
        } else {
            let source: Arc<dyn Source> = Arc::new(FileSource::new(&args.config));
            let daemon = Daemon::start(source).await.map_err(|e| e.to_string())?;
            daemon.run().await.map_err(|e| e.to_string())
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("had: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run_demo(port: u16) -> Result<(), String> {
    let (demo, daemon) = match start_demo(port).await {
        // The usual port is taken: any free one will do for a demo.
        Err(had::runtime::StartError::Proxy { source, .. }) if port != 0 => {
            tracing::warn!("demo port {port}: {source}; using a free port instead");
            start_demo(0).await.map_err(|e| e.to_string())?
        }
        other => other.map_err(|e| e.to_string())?,
    };
    let proxy = daemon
        .proxy_addrs()
        .get("web")
        .and_then(|a| a.first().copied())
        .ok_or("the demo proxy did not start")?;
    println!("{}", demo.banner(proxy));
    let result = daemon.run().await.map_err(|e| e.to_string());
    drop(demo);
    result
}

async fn start_demo(port: u16) -> Result<(had::demo::Demo, Daemon), had::runtime::StartError> {
    let demo = had::demo::prepare(port)
        .await
        .map_err(had::runtime::StartError::Demo)?;
    let source: Arc<dyn Source> = Arc::new(demo.source.clone());
    let daemon = Daemon::start(source).await?;
    Ok((demo, daemon))
}
