//! `had --demo`: the whole daemon on an embedded configuration that needs no
//! root and no network setup: the proxy on 127.0.0.1 in front of two tiny
//! in-process backends, two built-in checks, metrics, and the control
//! socket in a private temporary directory. No VRRP instance (those need
//! raw sockets).
//!
//! ```
//! let toml = had::demo::config_text(8080, 9273, "/tmp/d/had.sock".as_ref(), &[
//!     "127.0.0.1:18081".parse().unwrap(),
//!     "127.0.0.1:18082".parse().unwrap(),
//! ]);
//! assert!(had::config::parse_str(&toml, "demo.toml").is_ok());
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::runtime::source::TextSource;

/// The embedded configuration, with the ports and paths filled in.
pub fn config_text(
    proxy_port: u16,
    metrics_port: u16,
    socket: &Path,
    backends: &[SocketAddr],
) -> String {
    let members: Vec<String> = backends
        .iter()
        .map(|b| format!("  {{ url = \"http://{b}\", loadfactor = 1 }},"))
        .collect();
    let first = backends
        .first()
        .copied()
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 1)));
    format!(
        r#"# had --demo: a proxy on localhost in front of two built-in backends.
[global]
router_id = "demo"
control_socket = "{socket}"
metrics_listen = "127.0.0.1:{metrics_port}"
drain_timeout = 2

# Healthy while at least one member of the proxy is up.
[track_proxy.web_members]
proxy = "web"
min_up = 1

# A plain TCP check of the first backend.
[tcp_check.backend_a]
connect_ip = "{ip}"
connect_port = {port}
interval = 1
timeout = 1

[proxy.web]
listen = ["127.0.0.1:{proxy_port}"]
preserve_host = true
pass_reverse = true
lbmethod = "byrequests"
members = [
{members}
]
"#,
        socket = socket.display(),
        ip = first.ip(),
        port = first.port(),
        members = members.join("\n"),
    )
}

/// A prepared demo: backends running, configuration written.
#[derive(Debug)]
pub struct Demo {
    /// The private directory holding the control socket (removed on drop).
    pub dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// The two backends.
    pub backends: Vec<SocketAddr>,
    /// The port the proxy listens on (0 = chosen by the kernel).
    pub proxy_port: u16,
    /// The metrics port.
    pub metrics_port: u16,
    /// The configuration source for the daemon.
    pub source: TextSource,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Start the two backends and build the configuration. `proxy_port` 0 lets
/// the kernel choose. Must run inside a tokio runtime.
pub async fn prepare(proxy_port: u16) -> std::io::Result<Demo> {
    let dir = std::env::temp_dir().join(format!("had-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("had.sock");
    let mut backends = Vec::new();
    let mut tasks = Vec::new();
    for name in ["A", "B"] {
        let (addr, task) = backend(name).await?;
        backends.push(addr);
        tasks.push(task);
    }
    // The metrics port must be known before the daemon binds it, to print it.
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let text = config_text(proxy_port, metrics_port, &socket, &backends);
    Ok(Demo {
        source: TextSource::new("<demo>", text),
        dir,
        socket,
        backends,
        proxy_port,
        metrics_port,
        tasks,
    })
}

impl Demo {
    /// What to try, printed once the daemon runs.
    pub fn banner(&self, proxy: SocketAddr) -> String {
        let hactl = format!("hactl --socket {}", self.socket.display());
        let cargo_hactl = format!(
            "cargo run -q -p hactl -- --socket {}",
            self.socket.display()
        );
        format!(
            "\nhad demo is running: a proxy on {proxy} in front of two built-in backends.\n\
             \n  curl http://{proxy}/hello            # answered by backend A, then B, then A...\n\
             \x20 {hactl} status              # or: {cargo_hactl} status\n\
             \x20 {hactl} status --json\n\
             \x20 {hactl} member disable web http://{b}\n\
             \x20 {hactl} events --follow\n\
             \x20 curl http://127.0.0.1:{m}/metrics\n\
             \x20 kill -HUP {pid}                        # reload\n\
             \x20 Ctrl-C or kill -TERM {pid}             # graceful stop\n",
            b = self
                .backends
                .first()
                .map_or_else(String::new, ToString::to_string),
            m = self.metrics_port,
            pid = std::process::id(),
        )
    }
}

/// One demo backend: answers every request with its name and the path.
pub async fn backend(name: &'static str) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let svc = service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| async move {
                        let body = format!(
                            "hello from backend {name} ({addr}): {} {}\n",
                            req.method(),
                            req.uri()
                        );
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_config_is_valid_and_has_no_vrrp_instance() {
        let text = config_text(
            8080,
            9273,
            Path::new("/tmp/x/had.sock"),
            &[
                "127.0.0.1:1".parse().unwrap(),
                "127.0.0.1:2".parse().unwrap(),
            ],
        );
        let loaded = crate::config::parse_str(&text, "demo.toml").expect("valid demo config");
        assert!(loaded.config.vrrp_instance.is_empty());
        let plan = crate::plan::from_config(&loaded).expect("plan");
        assert_eq!(plan.proxies.len(), 1);
        assert_eq!(plan.proxies[0].1.balancers[0].members.len(), 2);
        assert_eq!(plan.proxy_checks.len(), 1);
        assert_eq!(plan.checks.len(), 1);
    }
}
