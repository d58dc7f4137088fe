//! From configuration to running stacks: the one place that decides what
//! each VRRP instance, check and proxy is built from.
//!
//! A [`Plan`] is the runtime's view of a configuration: everything already
//! converted to the types of `vrrp-core`, `health` and `lb-proxy`, so the
//! runtime itself never interprets a config key.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use vrrp_core::packet::IpFamily;

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
    /// The VRRP instances, in name order.
    pub instances: Vec<InstancePlan>,
}

/// One VRRP instance, ready for the VRRP thread.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlan {
    /// The `[vrrp_instance.NAME]` name.
    pub name: String,
    /// The interface adverts go out on and VIPs are added to.
    pub interface: String,
    /// IPv4 or IPv6 (from the VIPs).
    pub family: IpFamily,
    /// The state machine's configuration. `primary_address` is filled in
    /// from the interface (or `unicast_src_ip`) when the instance starts.
    pub core: vrrp_core::InstanceConfig,
    /// The virtual addresses with their prefix lengths and labels.
    pub vips: Vec<Vip>,
    /// `unicast_src_ip`: the source of unicast adverts.
    pub unicast_src: Option<IpAddr>,
    /// `unicast_peer`: empty = multicast.
    pub unicast_peers: Vec<IpAddr>,
    /// Gratuitous ARP / unsolicited NA schedule after becoming MASTER.
    pub garp: Garp,
    /// Tracked checks and their weights.
    pub track_checks: Vec<Tracked>,
    /// Tracked interfaces and their weights (0 = FAULT while down).
    pub track_interfaces: Vec<Tracked>,
    /// Notify hooks.
    pub notify: NotifyHooks,
    /// The `vrrp_sync_group` the instance belongs to.
    pub sync_group: Option<String>,
}

impl InstancePlan {
    /// What must not change for a reload to keep the instance's state and
    /// VIPs: interface, VRID, address family and VRRP version.
    pub fn identity(&self) -> (String, u8, IpFamily, vrrp_core::Version) {
        (
            self.interface.clone(),
            self.core.vrid,
            self.family,
            self.core.version,
        )
    }

    /// Whether a reload to `new` can keep the running state machine as is:
    /// same identity and the same protocol settings (priority and tracking
    /// are applied to a running instance without a restart).
    pub fn runs_as(&self, new: &InstancePlan) -> bool {
        let mut a = self.core.clone();
        let mut b = new.core.clone();
        a.priority = 0;
        b.priority = 0;
        a.primary_address = IpAddr::from([0, 0, 0, 0]);
        b.primary_address = IpAddr::from([0, 0, 0, 0]);
        self.identity() == new.identity()
            && a == b
            && self.vips == new.vips
            && self.unicast_src == new.unicast_src
            && self.unicast_peers == new.unicast_peers
            && (self.core.priority == 255) == (new.core.priority == 255)
    }
}

/// One virtual address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Vip {
    /// The address.
    pub addr: IpAddr,
    /// Its prefix length on the interface.
    pub prefix_len: u8,
    /// IPv4 label (`eth0:vip`), if any.
    pub label: Option<String>,
}

impl std::fmt::Display for Vip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// keepalived's `garp_master_delay`, `garp_master_repeat`, `garp_master_refresh`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Garp {
    /// Delay before the second burst after becoming MASTER (0 = no second burst).
    pub delay: Duration,
    /// Announcements per burst.
    pub repeat: u32,
    /// Period of refresh announcements while MASTER (`None` = never).
    pub refresh: Option<Duration>,
}

impl Default for Garp {
    /// keepalived's defaults: 5 s delay, 5 per burst, no refresh.
    fn default() -> Self {
        Garp {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: None,
        }
    }
}

/// A tracked object and its keepalived weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    /// Check or interface name.
    pub name: String,
    /// Signed weight; 0 = FAULT while failing.
    pub weight: i32,
}

/// Notify hook command lines (split like a shell, run without one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyHooks {
    /// Run on entering MASTER.
    pub master: Option<String>,
    /// Run on entering BACKUP.
    pub backup: Option<String>,
    /// Run on entering FAULT.
    pub fault: Option<String>,
    /// Run when the instance stops.
    pub stop: Option<String>,
    /// Run on every change with `INSTANCE name state priority` appended.
    pub generic: Option<String>,
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
            instances: Vec::new(),
        }
    }
}
