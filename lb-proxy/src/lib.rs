//! A reverse proxy that replaces Apache's `mod_proxy_balancer`: a tower
//! `Service` stack served by hyper, balancing over backend members with
//! Apache's smooth weighted `byrequests` (or `bybusyness`), with passive and
//! active health, failover, `ProxyPreserveHost`, `ProxyPassReverse`, a
//! combined-format access log and graceful drain.
//!
//! The daemon turns a `[proxy.NAME]` section into a [`ProxyConfig`] and keeps
//! the [`ProxyHandle`] that [`ProxyHandle::start`] returns:
//!
//! ```
//! use lb_proxy::{MemberConfig, ProxyConfig, ProxyHandle};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), lb_proxy::Error> {
//! let config = ProxyConfig {
//!     listen: vec!["127.0.0.1:0".parse().expect("address")],
//!     preserve_host: true,
//!     pass_reverse: true,
//!     members: vec![
//!         MemberConfig::new("http://127.0.0.1:8081"),
//!         MemberConfig::new("http://127.0.0.1:8082").with_loadfactor(3),
//!     ],
//!     ..ProxyConfig::default()
//! };
//! let proxy = ProxyHandle::start(config)?;
//! assert_eq!(proxy.stats().members.len(), 2);
//! proxy.set_member_enabled("http://127.0.0.1:8081", false)?;
//! let report = proxy.drain(std::time::Duration::from_secs(1)).await;
//! assert_eq!(report.unfinished_connections, 0);
//! # Ok(())
//! # }
//! ```

pub mod admission;
pub mod balancer;
pub mod body;
pub mod config;
mod fields;
pub mod forward;
pub mod h1;
mod health;
pub mod layer;
pub mod member;
mod member_conn;
mod member_tls;
mod pool;
pub mod route;
mod send_watch;
mod server;
mod settings;
pub mod sites;
mod stack;
pub mod timer;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use balancer::Members;
pub use config::{
    BalancerConfig, HealthCheckConfig, HealthCheckKind, LOADFACTOR, LbMethod, MAX_MEMBERS,
    MIN_LINE_LIMIT, MemberConfig, PathMatch, ProxyConfig, RouteAction, RouteConfig, StickyConfig,
    VirtualHostConfig,
};
pub use member::{LATENCY_BUCKETS, MemberStats, MemberStatus};
pub use server::{BalancerStats, DrainReport, ProxyHandle, ProxyStats};
pub use tls::{
    CertificateConfig, CertificateError, CertificateInfo, ClientAuth, ClientVerify, TlsConfig,
};

/// Everything that can go wrong at this crate's boundary.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config field is invalid.
    #[error("proxy config: {field}: {reason}")]
    Config {
        /// The field, e.g. `members[1].url`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The access log could not be opened.
    #[error("cannot open access log {}: {source}", path.display())]
    AccessLog {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A reload changed something only a restart can change.
    #[error("proxy config: {field} cannot change on reload; restart the proxy")]
    NeedsRestart {
        /// The field.
        field: &'static str,
    },
    /// No member has this URL.
    #[error("no member with url {0}")]
    UnknownMember(String),
    /// A worker thread or its runtime could not start.
    #[error("cannot start proxy worker: {0}")]
    Runtime(std::io::Error),
    /// A certificate cannot be used (the one in force, if any, stays).
    #[error("tls: {0}")]
    Certificate(#[from] tls::CertificateError),
}
