//! A thin stand-alone runner for benchmarks until the daemon wires lb-proxy:
//! `proxy [--access-log PATH] LISTEN_ADDR MEMBER_URL...` (e.g. `proxy
//! 127.0.0.1:8080 http://127.0.0.1:8081 http://127.0.0.1:8082`), with the
//! seed's Apache settings (ProxyPreserveHost On, ProxyPassReverse,
//! byrequests). Runs until SIGINT/SIGTERM, then drains for up to 5 s.

use std::time::Duration;

use lb_proxy::{MemberConfig, ProxyConfig, ProxyHandle};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let mut access_log = None;
    if args.peek().map(String::as_str) == Some("--access-log") {
        args.next();
        access_log = Some(args.next().ok_or("--access-log needs a path")?.into());
    }
    let listen = args
        .next()
        .ok_or("usage: proxy [--access-log PATH] LISTEN_ADDR MEMBER_URL...")?;
    let members: Vec<MemberConfig> = args.map(MemberConfig::new).collect();
    let config = ProxyConfig {
        listen: vec![
            listen
                .parse()
                .map_err(|e| format!("listen address {listen:?}: {e}"))?,
        ],
        preserve_host: true,
        pass_reverse: true,
        members,
        access_log,
        ..ProxyConfig::default()
    };
    let proxy = ProxyHandle::start(config)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r?,
            _ = term.recv() => {}
        }
        let report = proxy.drain(Duration::from_secs(5)).await;
        eprintln!("drained; {} connections cut", report.unfinished_connections);
        Ok::<(), std::io::Error>(())
    })?;
    Ok(())
}
