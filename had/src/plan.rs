//! From configuration to running stacks: the one place that decides what
//! each VRRP instance, check and proxy is built from.
//!
//! A [`Plan`] is the runtime's view of a configuration: everything already
//! converted to the types of `vrrp-core`, `health` and `lb-proxy`, so the
//! runtime itself never interprets a config key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the runtime needs to run one configuration.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `[global] router_id` (defaults to the host name).
    pub router_id: String,
    /// Where the control socket listens.
    pub control_socket: PathBuf,
    /// Where Prometheus metrics are served, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Run the VRRP thread with SCHED_RR.
    pub realtime: bool,
    /// How long a graceful stop waits for in-flight proxied requests.
    pub drain_timeout: Duration,
}

impl Plan {
    /// A plan with nothing to run but the control socket at `control_socket`.
    pub fn empty(router_id: impl Into<String>, control_socket: impl Into<PathBuf>) -> Plan {
        Plan {
            router_id: router_id.into(),
            control_socket: control_socket.into(),
            metrics_listen: None,
            realtime: false,
            drain_timeout: Duration::from_secs(5),
        }
    }
}
