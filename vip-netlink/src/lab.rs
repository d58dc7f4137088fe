//! The network-namespace lab: a throw-away LAN for tests that cross a network.
//!
//! A [`Lab`] is a set of network namespaces ("nodes"), each with one interface
//! `eth0` that is one end of a veth pair. The other ends are ports of a Linux
//! bridge that lives in a namespace of its own, so the host's interfaces are
//! never touched: every veth is created inside the bridge namespace and its
//! peer is created directly inside the node namespace.
//!
//! Node `i` (counting from 0) gets:
//! - MAC `02:68:6c:00:00:XX` with `XX = 11 + i` (locally administered),
//! - `198.18.0.(11 + i)/24` (RFC 2544 benchmarking range),
//! - `2001:db8::(11 + i)/64` without DAD (RFC 3849 documentation range), the
//!   group written with the same digits as the IPv4 octet (node 0 is
//!   `2001:db8::11`),
//! - its EUI-64 link-local address, usable at once (DAD is off in the node),
//! - loopback up, and IPv6 addresses kept when the link goes down.
//!
//! Names are unique per run (`hl-<pid>-<counter>-<hint>-…`) and every
//! namespace is deleted when the [`Lab`] is dropped, which also happens when a
//! test panics. Namespaces left behind by a dead process that had our PID are
//! deleted when this process builds its first lab.
//!
//! Fault knobs: [`Lab::link_down`] / [`Lab::link_up`] (the node's own
//! `eth0`, as an administrator would), [`Lab::carrier_down`] /
//! [`Lab::carrier_up`] (the bridge port: the node sees its carrier drop),
//! [`Lab::partition`] / [`Lab::heal`] (move bridge ports onto separate
//! bridges), [`Lab::netem`] (`tc netem` loss and delay on a node's
//! outgoing traffic, when the kernel has `sch_netem`) and [`Lab::loss`]
//! (random loss of a node's incoming frames with nftables, for kernels
//! without netem).
//!
//! Tests start with the CI rule: [`require`] says whether the lab can run,
//! printing why not, and panics under `CI=true` instead of skipping.
//!
//! ```no_run
//! use vip_netlink::lab::{self, Lab};
//!
//! if !lab::require() {
//!     return; // not root or no `ip`: skipped with a message (a failure under CI=true)
//! }
//! let lab = Lab::new("doc", 2).expect("build lab");
//! let out = lab.exec(0, &["ip", "-o", "addr", "show", "dev", "eth0"]).unwrap();
//! assert!(out.contains("198.18.0.11/24"));
//! // Run Rust code (a tokio current_thread runtime, say) inside node 1:
//! let addrs = lab.run_in(1, || std::fs::read_to_string("/proc/net/if_inet6")).unwrap();
//! assert!(addrs.unwrap().contains("eth0"));
//! // Dropping `lab` deletes every namespace.
//! ```

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Every test lab's namespace names start with this (then the PID).
pub const NAMESPACE_PREFIX: &str = "hl-";

/// Namespace names of labs built for manual use ([`Lab::new_manual`], `cargo
/// xtask lab up`) start with this, so no stale-lab sweep ever deletes them.
pub const MANUAL_PREFIX: &str = "hlm-";

/// Interface name of every node's LAN interface.
pub const NODE_IFNAME: &str = "eth0";

/// Most nodes one lab can hold (addresses run from .11 to .210).
pub const MAX_NODES: usize = 200;

/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";

/// The nftables table [`Lab::loss`] uses in a node.
const LOSS_TABLE: &str = "hadlab_loss";

/// The main bridge in the bridge namespace.
const MAIN_BRIDGE: &str = "br0";

/// Counts labs built by this process, so names stay unique.
static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// Deletes leftovers of a dead process with our PID, once per process.
static SWEEP: Once = Once::new();

/// What went wrong while building or driving a lab.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// An `ip`/`tc`/other command ran and failed.
    #[error("lab command `{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A command could not be started at all.
    #[error("cannot run lab command `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why it did not start.
        #[source]
        source: io::Error,
    },
    /// A node index past the end of the lab.
    #[error("node {index} does not exist: the lab has {nodes} nodes")]
    NoSuchNode {
        /// The index asked for.
        index: usize,
        /// How many nodes the lab has.
        nodes: usize,
    },
    /// More nodes than the address plan allows.
    #[error("a lab holds 1 to {max} nodes; {requested} requested")]
    NodeCount {
        /// How many were asked for.
        requested: usize,
        /// The maximum, [`MAX_NODES`].
        max: usize,
    },
    /// Entering a namespace (setns) failed.
    #[error("cannot enter network namespace {ns}: {source}")]
    Enter {
        /// The namespace name.
        ns: String,
        /// The error from open or setns.
        #[source]
        source: io::Error,
    },
    /// A thread for [`Lab::run_in`] could not be started.
    #[error("cannot start a thread for namespace {ns}: {source}")]
    Thread {
        /// The namespace name.
        ns: String,
        /// The error from the thread builder.
        #[source]
        source: io::Error,
    },
    /// Writing a sysctl inside a lab namespace failed.
    #[error("cannot set sysctl {key} in namespace {ns}: {source}")]
    Sysctl {
        /// The namespace name.
        ns: String,
        /// The key under /proc/sys.
        key: String,
        /// The write error.
        #[source]
        source: io::Error,
    },
    /// A link did not become operational in time.
    #[error("link of {ns} not operationally up after 5 s: {state}")]
    NotOperational {
        /// The node namespace.
        ns: String,
        /// What `ip link` showed for the node side and the bridge side.
        state: String,
    },
    /// A loss percentage outside 0..=100.
    #[error("loss {loss_pct}% is not within 0..=100")]
    LossOutOfRange {
        /// The value given.
        loss_pct: f64,
    },
    /// A node appears in two groups of a partition.
    #[error("node {index} is listed in more than one partition group")]
    PartitionOverlap {
        /// The node listed twice.
        index: usize,
    },
    /// The kernel lacks a feature (e.g. the `sch_netem` qdisc).
    #[error("{what} is not available on this kernel: {detail}")]
    Unsupported {
        /// The feature.
        what: &'static str,
        /// What the kernel or tool said.
        detail: String,
    },
}

/// One node of the lab: a network namespace with one LAN interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Index of the node in its lab (0-based).
    pub index: usize,
    /// Name of the network namespace (for `ip netns exec`).
    pub ns: String,
    /// Name of the LAN interface inside the namespace (always `eth0`).
    pub ifname: String,
    /// The node's IPv4 address on the LAN.
    pub ipv4: Ipv4Addr,
    /// Prefix length of [`Node::ipv4`].
    pub ipv4_prefix: u8,
    /// The node's global IPv6 address on the LAN.
    pub ipv6: Ipv6Addr,
    /// Prefix length of [`Node::ipv6`].
    pub ipv6_prefix: u8,
    /// The node's EUI-64 link-local address (derived from [`Node::mac`]).
    pub ipv6_link_local: Ipv6Addr,
    /// MAC address of `eth0`.
    pub mac: [u8; 6],
    /// Name of this node's port in the bridge namespace.
    pub bridge_port: String,
}

/// A LAN of network namespaces joined by a bridge; deleted on drop.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    bridge_ns: String,
    nodes: Vec<Node>,
    /// Partition bridges currently in the bridge namespace.
    partition_bridges: Mutex<Vec<String>>,
    /// PIDs started through [`Lab::spawn`], killed on drop if still in the lab.
    spawned: Mutex<Vec<u32>>,
    /// False once [`Lab::keep`] handed the namespaces over.
    owned: bool,
}

/// Why the lab cannot run on this machine, or `None` when it can.
///
/// The lab needs root (network namespaces, veths, bridges) and iproute2's
/// `ip` command.
pub fn unavailable_reason() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("the network lab needs root (network namespaces)".to_owned());
    }
    match Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("`ip -V` failed ({status}): iproute2 is broken")),
        Err(e) => Some(format!("iproute2's `ip` cannot be run: {e}")),
    }
}

/// The CI rule for lab tests: true when the lab can run.
///
/// When it cannot, prints why on stderr and returns false so the test can
/// return early — except when the environment has `CI=true`, where a skipped
/// network test would hide a broken pipeline, so it panics instead.
///
/// # Panics
/// Under `CI=true` when the lab cannot run.
pub fn require() -> bool {
    let Some(reason) = unavailable_reason() else {
        return true;
    };
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    assert!(
        !ci,
        "network lab required under CI=true but unavailable: {reason}"
    );
    eprintln!("skipping network-lab test: {reason}");
    false
}

/// Names of all network namespaces known to `ip netns` (from `/run/netns`).
pub fn list_namespaces() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(NETNS_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// Deletes every namespace whose name starts with `prefix`; returns their names.
///
/// Used by `cargo xtask lab down` and by the start-up sweep. Deleting a node
/// namespace destroys its veth, so nothing is left in the bridge namespace.
pub fn delete_namespaces_with_prefix(prefix: &str) -> Result<Vec<String>, LabError> {
    let mut deleted = Vec::new();
    let mut first_error = None;
    // Node namespaces first (they sort after "-br" only by luck of naming),
    // so delete the bridge namespace last explicitly.
    let mut names: Vec<String> = list_namespaces()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort_by_key(|n| n.ends_with("-br"));
    for name in names {
        match run(Command::new("ip").args(["netns", "delete", &name])) {
            Ok(_) => deleted.push(name),
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(deleted),
    }
}

/// Deletes lab namespaces whose creating process is gone; returns their names.
///
/// Lab names carry the PID of the process that built them
/// (`hl-<pid>-…`); a lab whose process no longer exists was never cleaned up
/// (SIGKILL, abort). Manual labs ([`MANUAL_PREFIX`]) are never touched.
pub fn delete_stale_namespaces() -> Result<Vec<String>, LabError> {
    let mut dead_prefixes = BTreeSet::new();
    for name in list_namespaces() {
        let Some(rest) = name.strip_prefix(NAMESPACE_PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next() else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            dead_prefixes.insert(format!("{NAMESPACE_PREFIX}{pid}-"));
        }
    }
    let mut deleted = Vec::new();
    for prefix in dead_prefixes {
        deleted.extend(delete_namespaces_with_prefix(&prefix)?);
    }
    Ok(deleted)
}

/// Moves the calling thread into network namespace `ns` for good.
///
/// Sockets (including rtnetlink ones) created afterwards by this thread live
/// in that namespace. Meant for threads made for the purpose, e.g. a tokio
/// runtime's `on_thread_start`; [`Lab::run_in`] wraps it in a fresh thread.
pub fn enter_namespace(ns: &str) -> Result<(), LabError> {
    let enter_err = |source: io::Error| LabError::Enter {
        ns: ns.to_owned(),
        source,
    };
    let file = File::open(Path::new(NETNS_DIR).join(ns)).map_err(enter_err)?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| enter_err(io::Error::from(e)))
}

impl Lab {
    /// Builds a LAN of `nodes` namespaces; `name_hint` goes into the names.
    ///
    /// The hint is reduced to at most 12 lowercase letters and digits.
    pub fn new(name_hint: &str, nodes: usize) -> Result<Lab, LabError> {
        Lab::build_with(NAMESPACE_PREFIX, name_hint, nodes)
    }

    /// A lab for manual use (`cargo xtask lab up`): names start with
    /// [`MANUAL_PREFIX`]; usually followed by [`Lab::keep`].
    pub fn new_manual(nodes: usize) -> Result<Lab, LabError> {
        Lab::build_with(MANUAL_PREFIX, "manual", nodes)
    }

    fn build_with(base: &str, name_hint: &str, nodes: usize) -> Result<Lab, LabError> {
        if nodes == 0 || nodes > MAX_NODES {
            return Err(LabError::NodeCount {
                requested: nodes,
                max: MAX_NODES,
            });
        }
        let pid = std::process::id();
        SWEEP.call_once(|| {
            // A namespace carrying our PID cannot be ours yet: it was left by
            // a dead process that had the same PID (killed before its Drop).
            let stale = format!("{NAMESPACE_PREFIX}{pid}-");
            if let Err(e) = delete_namespaces_with_prefix(&stale) {
                eprintln!("lab: could not delete stale namespaces {stale}*: {e}");
            }
        });
        let counter = LAB_COUNTER.fetch_add(1, Ordering::Relaxed);
        let hint: String = name_hint
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .take(12)
            .collect();
        let hint = if hint.is_empty() {
            "lab".to_owned()
        } else {
            hint
        };
        let prefix = format!("{base}{pid}-{counter}-{hint}-");
        let bridge_ns = format!("{prefix}br");
        let node_list = (0..nodes).map(|i| node_plan(&prefix, i)).collect();
        // From here on, Drop cleans up whatever was created, even on error.
        let lab = Lab {
            prefix,
            bridge_ns,
            nodes: node_list,
            partition_bridges: Mutex::new(Vec::new()),
            spawned: Mutex::new(Vec::new()),
            owned: true,
        };
        lab.build()?;
        Ok(lab)
    }

    /// For tests: [`require`] then [`Lab::new`]; `None` means "skip".
    ///
    /// # Panics
    /// When the lab cannot be built (a test failure), or under `CI=true`
    /// when the lab cannot run here.
    pub fn for_test(name_hint: &str, nodes: usize) -> Option<Lab> {
        if !require() {
            return None;
        }
        match Lab::new(name_hint, nodes) {
            Ok(lab) => Some(lab),
            Err(e) => panic!("cannot build the network lab: {e}"),
        }
    }

    fn build(&self) -> Result<(), LabError> {
        ip(&["netns", "add", &self.bridge_ns])?;
        // The bridge namespace only forwards frames: no IPv6 chatter (MLD,
        // router solicitations) from the bridge itself in captures.
        self.write_sysctls(
            &self.bridge_ns,
            &[
                ("net/ipv6/conf/all/disable_ipv6", "1"),
                ("net/ipv6/conf/default/disable_ipv6", "1"),
            ],
        )?;
        add_bridge(&self.bridge_ns, MAIN_BRIDGE)?;
        for node in &self.nodes {
            ip(&["netns", "add", &node.ns])?;
            // Before eth0 exists, so it inherits "default": no DAD (the
            // link-local address is usable at once, like a long-running
            // host's), and addresses survive `link set down` (so link_up
            // restores the node as it was).
            self.write_sysctls(
                &node.ns,
                &[
                    ("net/ipv6/conf/all/accept_dad", "0"),
                    ("net/ipv6/conf/default/accept_dad", "0"),
                    ("net/ipv6/conf/all/keep_addr_on_down", "1"),
                    ("net/ipv6/conf/default/keep_addr_on_down", "1"),
                ],
            )?;
            let mac = format_mac(&node.mac);
            ip_batch(
                &self.bridge_ns,
                &[
                    format!(
                        "link add {} type veth peer name {} netns {} address {mac}",
                        node.bridge_port, node.ifname, node.ns
                    ),
                    format!("link set {} master {MAIN_BRIDGE} up", node.bridge_port),
                ],
            )?;
            ip_batch(
                &node.ns,
                &[
                    "link set lo up".to_owned(),
                    format!(
                        "addr add {}/{} dev {}",
                        node.ipv4, node.ipv4_prefix, node.ifname
                    ),
                    format!(
                        "addr add {}/{} dev {} nodad",
                        node.ipv6, node.ipv6_prefix, node.ifname
                    ),
                    format!("link set {} up", node.ifname),
                ],
            )?;
        }
        for i in 0..self.nodes.len() {
            self.wait_operational(i)?;
        }
        Ok(())
    }

    /// Waits (at most 5 s) until node `i`'s `eth0` and its bridge port are
    /// operationally UP. Until the kernel's link watcher has processed the
    /// carrier change, a device's queue discards what is sent, so a test
    /// sending at once could lose its first packets.
    pub fn wait_operational(&self, i: usize) -> Result<(), LabError> {
        let node = self.node_ref(i)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let inside = ip(&["-n", &node.ns, "-o", "link", "show", "dev", &node.ifname])?;
            let port = ip(&[
                "-n",
                &self.bridge_ns,
                "-o",
                "link",
                "show",
                "dev",
                &node.bridge_port,
            ])?;
            if inside.contains("state UP") && port.contains("state UP") {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(LabError::NotOperational {
                    ns: node.ns.clone(),
                    state: format!("{} / {}", inside.trim(), port.trim()),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn write_sysctls(&self, ns: &str, settings: &[(&str, &str)]) -> Result<(), LabError> {
        self.run_in_ns(ns, || {
            for (key, value) in settings {
                // /proc/sys/net resolves against the calling thread's namespace.
                std::fs::write(Path::new("/proc/sys").join(key), value).map_err(|source| {
                    LabError::Sysctl {
                        ns: ns.to_owned(),
                        key: (*key).to_owned(),
                        source,
                    }
                })?;
            }
            Ok(())
        })?
    }

    /// Runs `f` on a fresh thread inside node `i`'s namespace and returns its result.
    ///
    /// Everything `f` creates (sockets, rtnetlink handles, a tokio
    /// `current_thread` runtime and its I/O) lives in the node. A panic in
    /// `f` is re-raised in the caller.
    pub fn run_in<T, F>(&self, i: usize, f: F) -> Result<T, LabError>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        let ns = self.node_ref(i)?.ns.clone();
        self.run_in_ns(&ns, f)
    }

    fn run_in_ns<T, F>(&self, ns: &str, f: F) -> Result<T, LabError>
    where
        F: FnOnce() -> T + Send,
        T: Send,
    {
        std::thread::scope(|scope| {
            let handle = std::thread::Builder::new()
                .name(format!("lab:{ns}"))
                .spawn_scoped(scope, move || {
                    enter_namespace(ns)?;
                    Ok::<T, LabError>(f())
                })
                .map_err(|source| LabError::Thread {
                    ns: ns.to_owned(),
                    source,
                })?;
            match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Starts a thread that enters node `i`'s namespace, then runs `f`; not joined.
    ///
    /// For long-lived in-process nodes (e.g. a daemon runtime a test stops
    /// through a channel). If entering fails, the thread returns the error
    /// without calling `f`.
    pub fn spawn_thread_in<T, F>(
        &self,
        i: usize,
        f: F,
    ) -> Result<std::thread::JoinHandle<Result<T, LabError>>, LabError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let ns = self.node_ref(i)?.ns.clone();
        let thread_ns = ns.clone();
        std::thread::Builder::new()
            .name(format!("lab:{ns}"))
            .spawn(move || {
                enter_namespace(&thread_ns)?;
                Ok(f())
            })
            .map_err(|source| LabError::Thread { ns, source })
    }

    /// The nodes, in index order.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node `i`.
    ///
    /// # Panics
    /// If `i` is out of range (a bug in the test); see [`Lab::try_node`].
    pub fn node(&self, i: usize) -> &Node {
        match self.node_ref(i) {
            Ok(node) => node,
            Err(e) => panic!("{e}"),
        }
    }

    /// Node `i`, or an error if there is no such node.
    pub fn try_node(&self, i: usize) -> Result<&Node, LabError> {
        self.node_ref(i)
    }

    fn node_ref(&self, i: usize) -> Result<&Node, LabError> {
        self.nodes.get(i).ok_or(LabError::NoSuchNode {
            index: i,
            nodes: self.nodes.len(),
        })
    }

    /// The common prefix of this lab's namespace names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Name of the namespace holding the bridge.
    pub fn bridge_ns(&self) -> &str {
        &self.bridge_ns
    }

    /// All namespaces of this lab: the nodes', then the bridge's.
    pub fn namespaces(&self) -> Vec<String> {
        let mut names: Vec<String> = self.nodes.iter().map(|n| n.ns.clone()).collect();
        names.push(self.bridge_ns.clone());
        names
    }

    /// Gives up ownership: the namespaces outlive this value (for `cargo
    /// xtask lab up`); returns the prefix to delete them with later.
    pub fn keep(mut self) -> String {
        self.owned = false;
        self.prefix.clone()
    }

    /// A `Command` that runs `program` inside node `i` (`ip netns exec`).
    ///
    /// Add arguments, set stdio and spawn it yourself. The child's PID is the
    /// program's own (`ip netns exec` execs it), so killing it by PID works.
    pub fn command(&self, i: usize, program: &str) -> Result<Command, LabError> {
        let node = self.node_ref(i)?;
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &node.ns, program]);
        Ok(cmd)
    }

    /// Runs `argv` inside node `i`, waits, and returns its stdout.
    ///
    /// A non-zero exit is an error carrying stderr.
    pub fn exec(&self, i: usize, argv: &[&str]) -> Result<String, LabError> {
        let output = self.exec_output(i, argv)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Runs `argv` inside node `i` and returns its full output, whatever its exit status.
    pub fn exec_output(&self, i: usize, argv: &[&str]) -> Result<Output, LabError> {
        let (program, args) = split_argv(argv)?;
        let mut cmd = self.command(i, program)?;
        cmd.args(args);
        let text = describe(&cmd);
        let output = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|source| LabError::Spawn {
                command: text.clone(),
                source,
            })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(LabError::Command {
                command: text,
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// Starts `argv` inside node `i` and returns the running child.
    ///
    /// Stdin is null; stdout and stderr are inherited (for pipes, build the
    /// command with [`Lab::command`] and start it with
    /// [`Lab::spawn_command`]). See [`Lab::spawn_command`] for the rest.
    pub fn spawn(&self, i: usize, argv: &[&str]) -> Result<Child, LabError> {
        let (program, args) = split_argv(argv)?;
        let mut cmd = self.command(i, program)?;
        cmd.args(args).stdin(Stdio::null());
        self.spawn_command(i, &mut cmd)
    }

    /// Starts `cmd`, made by [`Lab::command`]`(i, …)` and configured by the
    /// caller (args, env, stdio), and returns the running child.
    ///
    /// Returns once the child runs inside the node (or has exited). The test
    /// owns the child and should kill and wait for it; if it is still
    /// running inside the lab when the lab is dropped, it is killed then
    /// (checked by PID *and* network namespace, so a recycled PID is never
    /// hit). Processes the child itself starts are not tracked.
    pub fn spawn_command(&self, i: usize, cmd: &mut Command) -> Result<Child, LabError> {
        let node_ino = namespace_inode(&Path::new(NETNS_DIR).join(&self.node_ref(i)?.ns));
        let mut child = cmd.spawn().map_err(|source| LabError::Spawn {
            command: describe(cmd),
            source,
        })?;
        lock(&self.spawned).push(child.id());
        // `ip netns exec` enters the namespace and then execs the program;
        // wait (bounded) until it has, so the caller can rely on the child
        // being inside the node, and so Drop can recognise it.
        let proc_ns = Path::new("/proc")
            .join(child.id().to_string())
            .join("ns/net");
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while namespace_inode(&proc_ns) != node_ino
            && matches!(child.try_wait(), Ok(None))
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(child)
    }

    /// Sets node `i`'s `eth0` administratively down (as `ip link set eth0 down`).
    pub fn link_down(&self, i: usize) -> Result<(), LabError> {
        let node = self.node_ref(i)?;
        ip(&["-n", &node.ns, "link", "set", &node.ifname, "down"]).map(drop)
    }

    /// Sets node `i`'s `eth0` up again (its addresses were kept); returns
    /// once it is operational.
    pub fn link_up(&self, i: usize) -> Result<(), LabError> {
        let node = self.node_ref(i)?;
        ip(&["-n", &node.ns, "link", "set", &node.ifname, "up"])?;
        self.wait_operational(i)
    }

    /// Sets node `i`'s bridge port down: the node keeps `eth0` up but loses carrier.
    pub fn carrier_down(&self, i: usize) -> Result<(), LabError> {
        let node = self.node_ref(i)?;
        ip(&[
            "-n",
            &self.bridge_ns,
            "link",
            "set",
            &node.bridge_port,
            "down",
        ])
        .map(drop)
    }

    /// Sets node `i`'s bridge port up: carrier returns; returns once the
    /// link is operational.
    pub fn carrier_up(&self, i: usize) -> Result<(), LabError> {
        let node = self.node_ref(i)?;
        ip(&[
            "-n",
            &self.bridge_ns,
            "link",
            "set",
            &node.bridge_port,
            "up",
        ])?;
        self.wait_operational(i)
    }

    /// Cuts the nodes in `a` off from those in `b` (two separate LAN segments).
    ///
    /// Same as `partition_groups(&[a, b])`: nodes listed in neither stay on
    /// the original segment, which then reaches neither group.
    pub fn partition(&self, a: &[usize], b: &[usize]) -> Result<(), LabError> {
        self.partition_groups(&[a, b])
    }

    /// Splits the LAN: each group becomes its own segment (a bridge of its own).
    ///
    /// Nodes inside a group still reach each other; nodes in different groups
    /// (or in a group and in none) do not. Links stay up: the nodes see only
    /// silence, as with a failed switch uplink. Replaces any earlier partition.
    pub fn partition_groups(&self, groups: &[&[usize]]) -> Result<(), LabError> {
        let mut seen = BTreeSet::new();
        for &index in groups.iter().flat_map(|g| g.iter()) {
            self.node_ref(index)?;
            if !seen.insert(index) {
                return Err(LabError::PartitionOverlap { index });
            }
        }
        self.heal()?;
        let mut bridges = lock(&self.partition_bridges);
        for (g, group) in groups.iter().enumerate() {
            let bridge = format!("brp{g}");
            add_bridge(&self.bridge_ns, &bridge)?;
            bridges.push(bridge.clone());
            let lines: Vec<String> = group
                .iter()
                .map(|&i| format!("link set {} master {bridge}", self.nodes[i].bridge_port))
                .collect();
            ip_batch(&self.bridge_ns, &lines)?;
        }
        Ok(())
    }

    /// Undoes [`Lab::partition`]: every port back on the main bridge.
    pub fn heal(&self) -> Result<(), LabError> {
        let mut bridges = lock(&self.partition_bridges);
        if bridges.is_empty() {
            return Ok(());
        }
        let mut lines: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("link set {} master {MAIN_BRIDGE}", n.bridge_port))
            .collect();
        lines.extend(bridges.iter().map(|b| format!("link delete {b}")));
        ip_batch(&self.bridge_ns, &lines)?;
        bridges.clear();
        Ok(())
    }

    /// Applies `tc netem` loss (percent) and delay to node `i`'s outgoing traffic.
    ///
    /// Replaces any earlier setting. Returns [`LabError::Unsupported`] when the
    /// kernel has no `sch_netem` (see [`Lab::netem_supported`]).
    pub fn netem(&self, i: usize, loss_pct: f64, delay: Duration) -> Result<(), LabError> {
        let node = self.node_ref(i)?;
        let loss = format!("{loss_pct}%");
        let delay = format!("{}us", delay.as_micros());
        let result = Command::new("tc")
            .args(["-n", &node.ns, "qdisc", "replace", "dev", &node.ifname])
            .args(["root", "netem", "loss", &loss, "delay", &delay])
            .output();
        netem_result(result, "tc qdisc replace … netem")
    }

    /// Drops `loss_pct` percent of the frames arriving at node `i`, at random
    /// (nftables `numgen random` in a netdev ingress chain on `eth0`).
    ///
    /// Loss without `sch_netem` (which some kernels lack): needs the `nft`
    /// tool (Debian package `nftables`), else [`LabError::Unsupported`].
    /// Resolution is 0.1 %; replaces any earlier setting; 0 keeps the chain
    /// but drops nothing (see [`Lab::clear_loss`]).
    pub fn loss(&self, i: usize, loss_pct: f64) -> Result<(), LabError> {
        let node = self.node_ref(i)?;
        if !(0.0..=100.0).contains(&loss_pct) {
            return Err(LabError::LossOutOfRange { loss_pct });
        }
        // The range check makes the per-mille value fit 0..=1000.
        let per_mille = (loss_pct * 10.0).round() as u32;
        // numgen yields 0..=999: "< 1000" is out of its range, so 100 % is
        // a plain drop, and 0 % no rule at all.
        let rule = match per_mille {
            0 => String::new(),
            1000.. => "drop".to_owned(),
            n => format!("numgen random mod 1000 < {n} drop"),
        };
        // "add" then "delete" makes the replacement atomic whether or not
        // the table existed (nft applies the whole script as one batch).
        let script = format!(
            "add table netdev {LOSS_TABLE}\n\
             delete table netdev {LOSS_TABLE}\n\
             table netdev {LOSS_TABLE} {{\n\
             chain ingress {{\n\
             type filter hook ingress device \"{}\" priority 0; policy accept;\n\
             {rule}\n\
             }}\n\
             }}\n",
            node.ifname
        );
        self.nft(i, &script)
    }

    /// Removes node `i`'s [`Lab::loss`] setting (no-op if none).
    pub fn clear_loss(&self, i: usize) -> Result<(), LabError> {
        let script = format!("add table netdev {LOSS_TABLE}\ndelete table netdev {LOSS_TABLE}\n");
        self.nft(i, &script)
    }

    fn nft(&self, i: usize, script: &str) -> Result<(), LabError> {
        let mut cmd = self.command(i, "nft")?;
        cmd.args(["-f", "-"]);
        match run_with_stdin(&mut cmd, script) {
            Ok(_) => Ok(()),
            // `ip netns exec` reports a missing program on stderr, exit 255.
            Err(LabError::Command { stderr, .. })
                if stderr.contains("No such file") && stderr.contains("nft") =>
            {
                Err(LabError::Unsupported {
                    what: "nftables (the nft tool, Debian package nftables)",
                    detail: stderr,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Removes node `i`'s netem setting (no-op if none).
    pub fn clear_netem(&self, i: usize) -> Result<(), LabError> {
        let node = self.node_ref(i)?;
        let current =
            run(Command::new("tc").args(["-n", &node.ns, "qdisc", "show", "dev", &node.ifname]))?;
        if !current.contains("netem") {
            return Ok(());
        }
        ip_like(
            "tc",
            &["-n", &node.ns, "qdisc", "del", "dev", &node.ifname, "root"],
        )
        .map(drop)
    }

    /// Whether this kernel can do [`Lab::netem`] (tried on the bridge namespace's `br0`).
    pub fn netem_supported(&self) -> bool {
        let ok = Command::new("tc")
            .args([
                "-n",
                &self.bridge_ns,
                "qdisc",
                "replace",
                "dev",
                MAIN_BRIDGE,
            ])
            .args(["root", "netem", "delay", "1us"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            let _ = Command::new("tc")
                .args([
                    "-n",
                    &self.bridge_ns,
                    "qdisc",
                    "del",
                    "dev",
                    MAIN_BRIDGE,
                    "root",
                ])
                .stderr(Stdio::null())
                .status();
        }
        ok
    }

    /// Kills children from [`Lab::spawn`] that still run inside this lab.
    fn kill_spawned(&self) {
        let pids = std::mem::take(&mut *lock(&self.spawned));
        if pids.is_empty() {
            return;
        }
        let lab_inodes: Vec<u64> = self
            .nodes
            .iter()
            .filter_map(|n| namespace_inode(&Path::new(NETNS_DIR).join(&n.ns)))
            .collect();
        for pid in pids {
            let proc_ns = Path::new("/proc").join(pid.to_string()).join("ns/net");
            // Same PID *and* one of our namespaces: it is our child, not a
            // recycled PID of some other process.
            if namespace_inode(&proc_ns).is_some_and(|ino| lab_inodes.contains(&ino))
                && let Ok(raw) = i32::try_from(pid)
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(raw),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        self.kill_spawned();
        if let Err(e) = delete_namespaces_with_prefix(&self.prefix) {
            eprintln!("lab: cleanup of {}* incomplete: {e}", self.prefix);
        }
    }
}

/// Plans node `i`: names and addresses, before anything exists.
fn node_plan(prefix: &str, i: usize) -> Node {
    // MAX_NODES keeps 11 + i within one octet and four decimal digits.
    let host = u8::try_from(11 + i).unwrap_or(u8::MAX);
    let mac = [0x02, 0x68, 0x6c, 0x00, 0x00, host];
    let ipv6 = format!("2001:db8::{host}")
        .parse()
        .unwrap_or(Ipv6Addr::UNSPECIFIED);
    Node {
        index: i,
        ns: format!("{prefix}n{i}"),
        ifname: NODE_IFNAME.to_owned(),
        ipv4: Ipv4Addr::new(198, 18, 0, host),
        ipv4_prefix: 24,
        ipv6,
        ipv6_prefix: 64,
        ipv6_link_local: eui64_link_local(&mac),
        mac,
        bridge_port: format!("p{i}"),
    }
}

/// The EUI-64 link-local address the kernel derives from a MAC (RFC 4291 App. A).
pub fn eui64_link_local(mac: &[u8; 6]) -> Ipv6Addr {
    let [a, b, c, d, e, f] = *mac;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        a ^ 0x02,
        b,
        c,
        0xff,
        0xfe,
        d,
        e,
        f,
    ])
}

fn format_mac(mac: &[u8; 6]) -> String {
    let [a, b, c, d, e, f] = *mac;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

fn add_bridge(ns: &str, name: &str) -> Result<(), LabError> {
    // No multicast snooping: ff02::12 must reach every port without MLD
    // state; STP off and no forward delay: ports forward at once.
    ip_batch(
        ns,
        &[
            format!("link add {name} type bridge mcast_snooping 0 stp_state 0 forward_delay 0"),
            format!("link set {name} up"),
        ],
    )
}

fn namespace_inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going so
    // Drop can still clean up.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn split_argv<'a>(argv: &'a [&'a str]) -> Result<(&'a str, &'a [&'a str]), LabError> {
    argv.split_first()
        .map(|(p, rest)| (*p, rest))
        .ok_or_else(|| LabError::Spawn {
            command: String::new(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "empty argv"),
        })
}

fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs a command; stdout on success, [`LabError::Command`] otherwise.
fn run(cmd: &mut Command) -> Result<String, LabError> {
    let text = describe(cmd);
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LabError::Spawn {
            command: text.clone(),
            source,
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(LabError::Command {
            command: text,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

fn ip(args: &[&str]) -> Result<String, LabError> {
    ip_like("ip", args)
}

fn ip_like(program: &str, args: &[&str]) -> Result<String, LabError> {
    run(Command::new(program).args(args))
}

/// Runs several `ip` commands in namespace `ns` with one process (`ip -batch -`).
fn ip_batch(ns: &str, lines: &[String]) -> Result<(), LabError> {
    let script = lines.join("\n") + "\n";
    run_with_stdin(Command::new("ip").args(["-n", ns, "-batch", "-"]), &script).map(drop)
}

/// Runs a command with `input` on its stdin; its output, or an error if it
/// could not start or failed.
fn run_with_stdin(cmd: &mut Command, input: &str) -> Result<Output, LabError> {
    let command = format!("{} <<< {input:?}", describe(cmd));
    let spawn_err = |source| LabError::Spawn {
        command: command.clone(),
        source,
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(spawn_err)?;
    }
    let output = child.wait_with_output().map_err(spawn_err)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(LabError::Command {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

fn netem_result(result: io::Result<Output>, command: &str) -> Result<(), LabError> {
    let output = result.map_err(|source| LabError::Spawn {
        command: command.to_owned(),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if stderr.contains("kind is unknown") || stderr.contains("No such file") {
        return Err(LabError::Unsupported {
            what: "tc netem (sch_netem)",
            detail: stderr,
        });
    }
    Err(LabError::Command {
        command: command.to_owned(),
        status: output.status.to_string(),
        stderr,
    })
}
