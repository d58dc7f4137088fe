//! The VRRP path: a dedicated thread with its own current-thread tokio
//! runtime that feeds every `vrrp_core::Instance` and carries out its
//! actions through a [`Wire`].
//!
//! Nothing else runs on this thread, so health checks, proxies and the control
//! socket can never delay an advert or a takeover; with `[global] realtime`
//! it runs SCHED_RR like keepalived's VRRP process.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use vrrp_core::packet::{IpFamily, MULTICAST_V4, MULTICAST_V6};
use vrrp_core::{Action, Advertisement, Instance, PriorityOutcome, effective_priority};

use crate::plan::{InstancePlan, Vip};
use crate::status::{AdvertCounters, InstanceStatus, Override, State};

/// A VRRP packet as received: the IP payload with what the IP header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The interface it arrived on.
    pub interface: String,
    /// IP source.
    pub src: IpAddr,
    /// IP destination.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// The VRRP message.
    pub payload: Vec<u8>,
}

/// Why the wire could not do what was asked (names interface and address).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

/// What the VRRP thread needs from the kernel. The production implementation
/// is built on `vip-netlink`; tests use an in-memory LAN.
#[allow(async_fn_in_trait)]
pub trait Wire: 'static {
    /// Receive VRRP packets of `source`'s family on `interface` into `sink`
    /// from now on (multicast group joined, or unicast from `peers`), and
    /// send from `source`. Idempotent.
    async fn listen(
        &mut self,
        interface: &str,
        source: IpAddr,
        peers: &[IpAddr],
        sink: mpsc::UnboundedSender<Received>,
    ) -> Result<(), WireError>;
    /// Link changes `(interface, up)` from now on; `None` if this wire
    /// cannot watch links. Called once.
    async fn watch_links(&mut self) -> Option<mpsc::UnboundedReceiver<(String, bool)>>;
    /// The address adverts are sent from: the interface's primary IPv4
    /// address, or its IPv6 link-local address (RFC 5798 §5.1.2.1).
    async fn primary_address(
        &mut self,
        interface: &str,
        family: IpFamily,
    ) -> Result<IpAddr, WireError>;
    /// Whether the interface is up (with carrier).
    async fn link_up(&mut self, interface: &str) -> Result<bool, WireError>;
    /// Send a VRRP message with TTL / hop limit 255.
    async fn send(
        &mut self,
        interface: &str,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) -> Result<(), WireError>;
    /// Add the addresses to the interface (idempotent).
    async fn add_addresses(&mut self, interface: &str, vips: &[Vip]) -> Result<(), WireError>;
    /// Remove the addresses from the interface (idempotent).
    async fn remove_addresses(&mut self, interface: &str, vips: &[Vip]) -> Result<(), WireError>;
    /// `rounds` rounds of gratuitous ARP / unsolicited NA for every address.
    async fn announce(
        &mut self,
        interface: &str,
        addrs: &[IpAddr],
        rounds: u32,
    ) -> Result<(), WireError>;
    /// Packets the receiving side for (`interface`, `source`) discarded
    /// before they reached the driver, by reason; shown in `hactl status`
    /// beside the instance's own drop counters. Wires that discard nothing
    /// themselves (the test LAN) keep the default.
    fn socket_drops(&self, interface: &str, source: IpAddr) -> Vec<(&'static str, u64)> {
        let _ = (interface, source);
        Vec::new()
    }
}

/// What the rest of the daemon tells the VRRP thread.
#[derive(Debug)]
pub enum Command {
    /// A check changed result.
    Check {
        /// Check name.
        name: String,
        /// Whether it succeeds.
        healthy: bool,
        /// The value a `track_file` check read (multiplied by the weight).
        value: Option<i64>,
    },
    /// An interface went up or down.
    Link {
        /// Interface name.
        interface: String,
        /// Whether it is up.
        up: bool,
    },
    /// Operator priority override (`None` clears it).
    Override {
        /// Instance name.
        instance: String,
        /// The override.
        value: Option<Override>,
        /// `Err` names an unknown instance.
        reply: oneshot::Sender<Result<u8, String>>,
    },
    /// Replace the set of instances (SIGHUP).
    Reload {
        /// The new instances.
        instances: Vec<InstancePlan>,
        /// What happened, for the log.
        reply: oneshot::Sender<String>,
    },
    /// Graceful stop: priority-0 adverts, VIPs removed, thread ends.
    Shutdown {
        /// Answered once every instance is down.
        reply: oneshot::Sender<()>,
    },
}

/// What the VRRP thread tells the rest of the daemon.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// An instance changed state (notify hooks and events run from this).
    State {
        /// Instance name.
        instance: String,
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: String,
        /// Effective priority now.
        priority: u8,
    },
    /// An instance's effective priority changed.
    Priority {
        /// Instance name.
        instance: String,
        /// New effective priority.
        priority: u8,
        /// Override in force.
        value: Option<Override>,
    },
}

/// Shared, always-current status of every instance (read by `status`).
pub type StatusBoard = Arc<Mutex<BTreeMap<String, InstanceStatus>>>;

/// The running VRRP thread.
#[derive(Debug)]
pub struct VrrpThread {
    commands: mpsc::UnboundedSender<Command>,
    board: StatusBoard,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl VrrpThread {
    /// Start the thread: `make_wire` runs on it (so sockets belong to its
    /// runtime), then every instance starts.
    pub fn spawn<W, F>(
        make_wire: F,
        instances: Vec<InstancePlan>,
        realtime: bool,
        reports: mpsc::UnboundedSender<Report>,
    ) -> std::io::Result<VrrpThread>
    where
        W: Wire,
        F: FnOnce() -> Result<W, WireError> + Send + 'static,
    {
        let (commands, rx) = mpsc::unbounded_channel();
        let board: StatusBoard = Arc::default();
        let b = board.clone();
        let thread = std::thread::Builder::new()
            .name("had-vrrp".into())
            .spawn(move || {
                if realtime {
                    set_realtime();
                }
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!("VRRP thread: cannot build its runtime: {e}");
                        return;
                    }
                };
                rt.block_on(async move {
                    let wire = match make_wire() {
                        Ok(w) => w,
                        Err(e) => {
                            tracing::error!("VRRP thread: {e}");
                            return;
                        }
                    };
                    let mut driver = Driver::new(wire, b, reports);
                    driver.run(instances, rx).await;
                });
            })?;
        Ok(VrrpThread {
            commands,
            board,
            thread: Some(thread),
        })
    }

    /// Send a command; false if the thread is gone.
    pub fn send(&self, command: Command) -> bool {
        self.commands.send(command).is_ok()
    }

    /// False once the thread has ended (it only ends on shutdown, or if it
    /// could not open its runtime or the kernel interfaces).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// A snapshot of every instance's status.
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.board
            .lock()
            .map(|b| b.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stop every instance (priority 0, VIPs removed) and join the thread.
    pub async fn shutdown(mut self) {
        let (tx, rx) = oneshot::channel();
        if self.send(Command::Shutdown { reply: tx }) {
            let _ = rx.await;
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// SCHED_RR for the VRRP thread, as keepalived's VRRP process does, so a busy
/// machine cannot delay an advert into a spurious takeover.
fn set_realtime() {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadPriorityValue, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let prio = ThreadPriorityValue::try_from(50u8)
        .map_or(ThreadPriority::Max, ThreadPriority::Crossplatform);
    match set_thread_priority_and_policy(
        thread_native_id(),
        prio,
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin),
    ) {
        Ok(()) => tracing::info!("VRRP thread runs SCHED_RR"),
        Err(e) => tracing::warn!("realtime = true but SCHED_RR was refused: {e:?}"),
    }
}

/// The clock the driver reads: tokio's, so tests can run in paused time.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// One running instance and what the driver knows about its inputs.
struct Slot {
    plan: InstancePlan,
    vr: Instance,
    checks: BTreeMap<String, (bool, Option<i64>)>,
    links: BTreeMap<String, bool>,
    value: Option<Override>,
    own_fault: bool,
    group_fault: bool,
    entered: Instant,
    reason: String,
    master_priority: Option<u8>,
    extra_drops: BTreeMap<String, u64>,
    announcing: Option<vip_netlink::AnnounceSchedule>,
}

impl Slot {
    fn state(&self) -> State {
        to_state(self.vr.state())
    }

    /// keepalived's effective priority from the tracked objects, then the
    /// operator's override; `None` = FAULT.
    fn computed_priority(&self) -> Option<u8> {
        let mut tracked = Vec::new();
        for t in &self.plan.track_checks {
            let (healthy, value) = self.checks.get(&t.name).copied().unwrap_or((true, None));
            tracked.push(match value {
                // keepalived's track_file: the value times the weight.
                Some(v) => match health::track_file_effect(v, t.weight, t.reverse) {
                    health::FileEffect::Fault => vrrp_core::Tracked::check(0, false),
                    health::FileEffect::Delta(d) => vrrp_core::Tracked::check(d, d >= 0),
                },
                None => vrrp_core::Tracked::check(t.weight, healthy),
            });
        }
        for t in &self.plan.track_interfaces {
            let up = self.links.get(&t.name).copied().unwrap_or(true);
            tracked.push(vrrp_core::Tracked::check(t.weight, up));
        }
        // The instance's own interface always counts, as a weight-0 object.
        let own_up = self
            .links
            .get(&self.plan.interface)
            .copied()
            .unwrap_or(true);
        tracked.push(vrrp_core::Tracked::interface(own_up));
        match effective_priority(self.plan.core.priority, tracked) {
            PriorityOutcome::Fault => None,
            PriorityOutcome::Priority(p) => Some(self.value.map_or(p, Override::priority)),
        }
    }

    fn status(&self, at: Instant) -> InstanceStatus {
        let c = self.vr.counters();
        let mut dropped: BTreeMap<String, u64> = [
            ("ttl", c.dropped_ttl),
            ("vrid", c.dropped_vrid),
            ("version", c.dropped_version),
            ("auth", c.dropped_auth),
            ("interval", c.dropped_interval),
            ("own", c.dropped_own),
            ("not_listening", c.dropped_not_listening),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.to_owned(), n))
        .collect();
        for (k, n) in &self.extra_drops {
            *dropped.entry(k.clone()).or_default() += n;
        }
        let core_dropped = c.dropped_ttl
            + c.dropped_vrid
            + c.dropped_version
            + c.dropped_auth
            + c.dropped_interval
            + c.dropped_own
            + c.dropped_not_listening;
        let state = self.state();
        InstanceStatus {
            name: self.plan.name.clone(),
            state,
            virtual_router_id: self.plan.core.vrid,
            version: self.plan.core.version.number(),
            interface: self.plan.interface.clone(),
            priority: self.plan.core.priority,
            effective_priority: self.vr.effective_priority(),
            r#override: self.value,
            master: if state == State::Master {
                Some(self.vr.config().primary_address)
            } else {
                self.vr.master_address()
            },
            master_priority: if state == State::Master {
                Some(self.vr.effective_priority())
            } else {
                self.master_priority
            },
            virtual_ipaddress: self.plan.vips.iter().map(ToString::to_string).collect(),
            transitions: self.vr.transitions(),
            in_state_secs: at.saturating_duration_since(self.entered).as_secs_f64(),
            reason: self.reason.clone(),
            sync_group: self.plan.sync_group.clone(),
            adverts: AdvertCounters {
                sent: c.adverts_sent,
                received: c.adverts_received.saturating_sub(core_dropped),
                dropped,
            },
        }
    }
}

fn to_state(s: vrrp_core::State) -> State {
    match s {
        vrrp_core::State::Initialize => State::Init,
        vrrp_core::State::Backup => State::Backup,
        vrrp_core::State::Master => State::Master,
        vrrp_core::State::Fault => State::Fault,
    }
}

/// The VRRP thread's loop state.
struct Driver<W: Wire> {
    wire: W,
    slots: Vec<Slot>,
    board: StatusBoard,
    reports: mpsc::UnboundedSender<Report>,
    packets_tx: mpsc::UnboundedSender<Received>,
    packets: mpsc::UnboundedReceiver<Received>,
    links: BTreeMap<String, bool>,
    checks: BTreeMap<String, (bool, Option<i64>)>,
    /// Instances that could not start yet (interface missing, no address):
    /// shown as FAULT and retried, as keepalived keeps such an instance in FAULT.
    pending: Vec<Pending>,
    /// When the status board was last rebuilt.
    published_at: Option<Instant>,
    /// A packet changed counters but no state: the board is rebuilt at most
    /// every `QUIET_PUBLISH` for those (a BACKUP of 50 instances at 0.1 s
    /// hears 500 adverts a second; rebuilding every status for each cost
    /// more CPU than the protocol itself).
    publish_owed: bool,
}

/// How stale the counters on the status board may get while nothing but
/// received adverts happened. State changes and commands publish at once.
const QUIET_PUBLISH: std::time::Duration = std::time::Duration::from_millis(200);

/// An instance waiting for its interface.
struct Pending {
    plan: InstancePlan,
    error: String,
    since: Instant,
    retry_at: Instant,
}

/// How often an instance that could not start is tried again.
const START_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

impl<W: Wire> Driver<W> {
    fn new(wire: W, board: StatusBoard, reports: mpsc::UnboundedSender<Report>) -> Self {
        let (packets_tx, packets) = mpsc::unbounded_channel();
        Driver {
            wire,
            slots: Vec::new(),
            board,
            reports,
            packets_tx,
            packets,
            links: BTreeMap::new(),
            checks: BTreeMap::new(),
            pending: Vec::new(),
            published_at: None,
            publish_owed: false,
        }
    }

    async fn run(
        &mut self,
        instances: Vec<InstancePlan>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        // Subscribe before reading link states, so no change falls between.
        let mut links = self.wire.watch_links().await;
        for plan in instances {
            self.add(plan, None).await;
        }
        self.settle(false).await;
        loop {
            let deadline = self.next_deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                    None => std::future::pending().await,
                }
            };
            // Only a received advert that changes no state may publish late.
            let mut quiet = false;
            tokio::select! {
                biased;
                // Timers first: a takeover must not wait behind a queue of packets.
                () = sleep => {
                    self.fire_timers();
                    self.retry_pending().await;
                }
                Some(pkt) = self.packets.recv() => {
                    self.receive(&pkt);
                    quiet = true;
                }
                Some((interface, up)) = async {
                    match links.as_mut() {
                        Some(l) => l.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    tracing::info!("link {interface} is {}", if up { "up" } else { "down" });
                    self.command(Command::Link { interface, up }).await;
                }
                cmd = commands.recv() => match cmd {
                    None => {
                        self.shutdown_all().await;
                        return;
                    }
                    Some(Command::Shutdown { reply }) => {
                        self.shutdown_all().await;
                        let _ = reply.send(());
                        return;
                    }
                    Some(cmd) => self.command(cmd).await,
                },
            }
            self.settle(quiet).await;
        }
    }

    /// Build and start one instance; `keep` carries a running state machine over a reload.
    async fn add(&mut self, plan: InstancePlan, keep: Option<Slot>) {
        if let Some(mut slot) = keep {
            tracing::info!("{}: kept across reload in {}", plan.name, slot.state());
            slot.plan = plan;
            let at = now();
            self.refresh_inputs(&mut slot);
            self.apply_priority(&mut slot, at);
            self.slots.push(slot);
            return;
        }
        self.start_new(plan, true, false).await;
    }

    /// Build and start a state machine for `plan`; `clean` first removes
    /// VIPs left on the interface (not when resuming a MASTER whose VIPs
    /// are ours and must stay).
    /// Starts `plan`'s instance; `resume`: it was MASTER a moment ago (a
    /// reload rebuilt it), so it claims again after one interval
    /// ([`Instance::resume`]) instead of listening for Master_Down_Interval.
    async fn start_new(&mut self, plan: InstancePlan, clean: bool, resume: bool) {
        let name = plan.name.clone();
        let mut core = plan.core.clone();
        core.primary_address = match plan.unicast_src {
            Some(a) => a,
            None => match self
                .wire
                .primary_address(&plan.interface, plan.family)
                .await
            {
                Ok(a) => a,
                Err(e) => return self.park(plan, e.to_string()),
            },
        };
        let vr = match Instance::new(core) {
            Ok(vr) => vr,
            Err(e) => return self.park(plan, e.to_string()),
        };
        // A node killed while MASTER (ours or keepalived) leaves its VIPs
        // behind; never hold them twice on the LAN.
        if clean {
            for (dev, vips) in by_device(&plan.interface, &plan.vips) {
                if let Err(e) = self.wire.remove_addresses(&dev, &vips).await {
                    tracing::warn!("{name}: removing leftover VIPs: {e}");
                }
            }
        }
        if let Err(e) = self
            .wire
            .listen(
                &plan.interface,
                vr.config().primary_address,
                &plan.unicast_peers,
                self.packets_tx.clone(),
            )
            .await
        {
            return self.park(plan, e.to_string());
        }
        let mut interfaces: Vec<String> = plan
            .track_interfaces
            .iter()
            .map(|t| t.name.clone())
            .collect();
        interfaces.push(plan.interface.clone());
        for ifname in interfaces {
            if !self.links.contains_key(&ifname) {
                match self.wire.link_up(&ifname).await {
                    Ok(up) => {
                        self.links.insert(ifname, up);
                    }
                    Err(e) => tracing::warn!("{name}: link state of {ifname}: {e}"),
                }
            }
        }
        let at = now();
        let mut slot = Slot {
            plan,
            vr,
            checks: BTreeMap::new(),
            links: BTreeMap::new(),
            value: None,
            own_fault: false,
            group_fault: false,
            entered: at,
            reason: "startup".into(),
            master_priority: None,
            extra_drops: BTreeMap::new(),
            announcing: None,
        };
        self.refresh_inputs(&mut slot);
        self.apply_priority(&mut slot, at);
        if resume {
            slot.vr.resume(at);
        } else {
            slot.vr.start(at);
        }
        self.slots.push(slot);
    }

    /// Keep an instance that cannot start yet; it shows as FAULT and is retried.
    fn park(&mut self, plan: InstancePlan, error: String) {
        let at = now();
        let since = match self.pending.iter().position(|p| p.plan.name == plan.name) {
            Some(i) => {
                let old = self.pending.swap_remove(i);
                if old.error != error {
                    tracing::error!("{}: not started: {error} (retrying)", plan.name);
                }
                old.since
            }
            None => {
                tracing::error!(
                    "{}: not started: {error} (retrying every {START_RETRY:?})",
                    plan.name
                );
                at
            }
        };
        self.pending.push(Pending {
            plan,
            error,
            since,
            retry_at: at + START_RETRY,
        });
    }

    /// Try again the instances whose retry time has come.
    async fn retry_pending(&mut self) {
        let at = now();
        let (due, wait): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.retry_at <= at);
        self.pending = wait;
        for p in due {
            let name = p.plan.name.clone();
            self.add(p.plan, None).await;
            if self.slots.iter().any(|s| s.plan.name == name) {
                tracing::info!(
                    "{name}: started after {:?}",
                    at.saturating_duration_since(p.since)
                );
            }
        }
    }

    fn refresh_inputs(&self, slot: &mut Slot) {
        slot.checks.clone_from(&self.checks);
        slot.links.clone_from(&self.links);
    }

    /// Recompute and hand the effective priority / fault to the state machine.
    fn apply_priority(&self, slot: &mut Slot, at: Instant) -> bool {
        let before = (slot.vr.effective_priority(), slot.own_fault);
        match slot.computed_priority() {
            None => slot.own_fault = true,
            Some(p) => {
                slot.own_fault = false;
                slot.vr.set_effective_priority(at, p);
            }
        }
        slot.vr.set_fault(at, slot.own_fault || slot.group_fault);
        let changed = before != (slot.vr.effective_priority(), slot.own_fault);
        if changed {
            let _ = self.reports.send(Report::Priority {
                instance: slot.plan.name.clone(),
                priority: slot.vr.effective_priority(),
                value: slot.value,
            });
        }
        changed
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .iter()
            .flat_map(|s| {
                [
                    s.vr.poll_timeout(),
                    s.announcing
                        .as_ref()
                        .and_then(vip_netlink::AnnounceSchedule::poll_timeout),
                ]
            })
            .flatten()
            .chain(self.pending.iter().map(|p| p.retry_at))
            .chain(
                self.published_at
                    .filter(|_| self.publish_owed)
                    .map(|t| t + QUIET_PUBLISH),
            )
            .min()
    }

    fn fire_timers(&mut self) {
        let at = now();
        for slot in &mut self.slots {
            if slot.vr.poll_timeout().is_some_and(|d| d <= at) {
                slot.vr.handle_timeout(at);
            }
        }
    }

    fn receive(&mut self, pkt: &Received) {
        let at = now();
        let Some(&vrid) = pkt.payload.get(1) else {
            return;
        };
        let family = IpFamily::of(pkt.src);
        let decoded = Advertisement::decode(&pkt.payload, pkt.src, pkt.dst);
        for slot in &mut self.slots {
            if slot.plan.interface != pkt.interface
                || slot.plan.family != family
                || slot.plan.core.vrid != vrid
            {
                continue;
            }
            if !slot.plan.unicast_peers.is_empty()
                && !slot.plan.unicast_peers.contains(&pkt.src)
                && pkt.src != slot.vr.config().primary_address
            {
                *slot.extra_drops.entry("unknown_peer".into()).or_default() += 1;
                continue;
            }
            let advert = match &decoded {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!("{}: malformed advert from {}: {e}", slot.plan.name, pkt.src);
                    *slot.extra_drops.entry(drop_key(e)).or_default() += 1;
                    continue;
                }
            };
            match slot.vr.handle_advert(at, pkt.src, pkt.ttl, advert) {
                Ok(()) => {
                    if Some(pkt.src) == slot.vr.master_address() {
                        slot.master_priority = Some(advert.priority);
                    }
                }
                Err(reason) => {
                    if !matches!(reason, vrrp_core::DropReason::OwnAdvert) {
                        tracing::debug!(
                            "{}: advert from {} dropped: {reason}",
                            slot.plan.name,
                            pkt.src
                        );
                    }
                }
            }
        }
    }

    async fn command(&mut self, cmd: Command) {
        let at = now();
        match cmd {
            Command::Check {
                name,
                healthy,
                value,
            } => {
                self.checks.insert(name.clone(), (healthy, value));
                let mut slots = std::mem::take(&mut self.slots);
                for slot in &mut slots {
                    if slot.plan.track_checks.iter().any(|t| t.name == name) {
                        slot.checks.insert(name.clone(), (healthy, value));
                        self.apply_priority(slot, at);
                    }
                }
                self.slots = slots;
            }
            Command::Link { interface, up } => {
                self.links.insert(interface.clone(), up);
                for p in &mut self.pending {
                    if up && p.plan.interface == interface {
                        p.retry_at = at;
                    }
                }
                let mut slots = std::mem::take(&mut self.slots);
                for slot in &mut slots {
                    let tracks = slot.plan.interface == interface
                        || slot
                            .plan
                            .track_interfaces
                            .iter()
                            .any(|t| t.name == interface);
                    if tracks {
                        slot.links.insert(interface.clone(), up);
                        self.apply_priority(slot, at);
                    }
                }
                self.slots = slots;
            }
            Command::Override {
                instance,
                value,
                reply,
            } => {
                let mut slots = std::mem::take(&mut self.slots);
                let answer = match slots.iter_mut().find(|s| s.plan.name == instance) {
                    Some(slot) => {
                        slot.value = value;
                        self.apply_priority(slot, at);
                        Ok(slot.vr.effective_priority())
                    }
                    None => match self.pending.iter().find(|p| p.plan.name == instance) {
                        Some(p) => Err(format!("{instance} is not running: {}", p.error)),
                        None => Err(format!("no instance named {instance:?}")),
                    },
                };
                self.slots = slots;
                // Answer with the status board already showing the change.
                self.settle(false).await;
                let _ = reply.send(answer);
            }
            Command::Reload { instances, reply } => {
                let msg = self.reload(instances).await;
                self.settle(false).await;
                let _ = reply.send(msg);
            }
            Command::Shutdown { reply } => {
                // Handled by the loop; kept exhaustive for safety.
                self.shutdown_all().await;
                let _ = reply.send(());
            }
        }
    }

    async fn reload(&mut self, instances: Vec<InstancePlan>) -> String {
        // Waiting instances start over from the new configuration.
        self.pending.clear();
        let mut old: BTreeMap<String, Slot> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(|s| (s.plan.name.clone(), s))
            .collect();
        let (mut kept, mut resumed, mut started, mut stopped) = (0, 0, 0, 0);
        let mut fresh = Vec::new();
        for plan in instances {
            match old.remove(&plan.name) {
                Some(slot) if slot.plan.runs_as(&plan) => {
                    kept += 1;
                    let value = slot.value;
                    self.add(plan, Some(slot)).await;
                    if let Some(s) = self.slots.last_mut() {
                        s.value = value;
                    }
                }
                Some(slot)
                    if slot.plan.identity() == plan.identity()
                        && slot.state() == State::Master
                        && plan.core.preempt =>
                {
                    resumed += 1;
                    self.resume_master(slot, plan).await;
                }
                Some(slot) => {
                    stopped += 1;
                    self.stop_slot(slot).await;
                    fresh.push(plan);
                }
                None => fresh.push(plan),
            }
        }
        for (_, slot) in old {
            stopped += 1;
            self.stop_slot(slot).await;
        }
        for plan in fresh {
            started += 1;
            self.add(plan, None).await;
        }
        format!(
            "VRRP: {kept} kept, {resumed} reconfigured as MASTER, {stopped} stopped, {started} started"
        )
    }

    /// A MASTER whose identity is unchanged but whose settings changed (VIP
    /// list, interval, auth...): the state machine is rebuilt without a
    /// hand-over. The old one is dropped silently (no priority-0 advert, the
    /// VIPs it keeps stay on the interface) and the new one starts with
    /// [`Instance::resume`], so it is MASTER again after one interval, well
    /// before any backup's Master_Down_Interval: the peers see no change of
    /// master. VIPs no longer configured are removed.
    async fn resume_master(&mut self, slot: Slot, plan: InstancePlan) {
        let name = plan.name.clone();
        tracing::info!("{name}: reconfigured while MASTER, resuming without hand-over");
        let removed: Vec<Vip> = slot
            .plan
            .vips
            .iter()
            .filter(|v| !plan.vips.iter().any(|n| n.addr == v.addr))
            .cloned()
            .collect();
        for (dev, vips) in by_device(&slot.plan.interface, &removed) {
            if let Err(e) = self.wire.remove_addresses(&dev, &vips).await {
                tracing::warn!("{name}: removing VIPs no longer configured: {e}");
            }
        }
        let value = slot.value;
        drop(slot);
        self.start_new(plan, false, true).await;
        if let Some(s) = self.slots.iter_mut().find(|s| s.plan.name == name) {
            s.value = value;
        }
    }

    async fn stop_slot(&mut self, mut slot: Slot) {
        let at = now();
        slot.vr.shutdown(at);
        self.drain(&mut slot).await;
    }

    async fn shutdown_all(&mut self) {
        self.pending.clear();
        let slots = std::mem::take(&mut self.slots);
        for slot in slots {
            self.stop_slot(slot).await;
        }
        self.publish();
    }

    /// Carry out every queued action of every instance, propagate sync
    /// groups, and publish the status, until nothing is left.
    async fn settle(&mut self, quiet: bool) {
        let mut changed = false;
        // Bounded: each round either empties the queues or propagates a
        // group change, which queues at most one more round per member.
        for _ in 0..8 {
            let mut slots = std::mem::take(&mut self.slots);
            let mut changes = Vec::new();
            for slot in &mut slots {
                changes.extend(self.drain(slot).await);
            }
            self.slots = slots;
            changed |= !changes.is_empty();
            self.announce_due().await;
            // Always recompute: a member's fault may have cleared without a
            // state change of its own (the group held it in FAULT).
            if !self.propagate_groups(&changes) {
                break;
            }
        }
        let at = now();
        let recent = self
            .published_at
            .is_some_and(|t| at.saturating_duration_since(t) < QUIET_PUBLISH);
        if quiet && !changed && recent {
            self.publish_owed = true;
        } else {
            self.publish();
        }
    }

    /// Execute one instance's queued actions; returns its state changes.
    async fn drain(&mut self, slot: &mut Slot) -> Vec<(String, State, State)> {
        let mut changes = Vec::new();
        while let Some(action) = slot.vr.poll_action() {
            match action {
                Action::SendAdvert(advert) => self.send_advert(slot, &advert).await,
                Action::AddAddresses(addrs) => {
                    let vips = pick(&slot.plan.vips, &addrs);
                    for (dev, vips) in by_device(&slot.plan.interface, &vips) {
                        if let Err(e) = self.wire.add_addresses(&dev, &vips).await {
                            tracing::error!("{}: adding VIPs: {e}", slot.plan.name);
                        }
                    }
                }
                Action::RemoveAddresses(addrs) => {
                    let vips = pick(&slot.plan.vips, &addrs);
                    for (dev, vips) in by_device(&slot.plan.interface, &vips) {
                        if let Err(e) = self.wire.remove_addresses(&dev, &vips).await {
                            tracing::error!("{}: removing VIPs: {e}", slot.plan.name);
                        }
                    }
                }
                Action::Announce(_) => {
                    // keepalived's garp_master_* timing; the first set goes
                    // out right away in `announce_due`.
                    slot.announcing =
                        Some(vip_netlink::AnnounceSchedule::new(now(), &slot.plan.garp));
                }
                Action::StateChanged { from, to, reason } => {
                    let (from, to) = (to_state(from), to_state(to));
                    slot.entered = now();
                    slot.reason = reason.to_string();
                    if to != State::Master {
                        slot.announcing = None;
                    }
                    if to == State::Backup {
                        slot.master_priority = None;
                    }
                    tracing::info!(
                        "{}: {from} -> {to} ({reason}), priority {}",
                        slot.plan.name,
                        slot.vr.effective_priority()
                    );
                    let _ = self.reports.send(Report::State {
                        instance: slot.plan.name.clone(),
                        from,
                        to,
                        reason: reason.to_string(),
                        priority: slot.vr.effective_priority(),
                    });
                    changes.push((slot.plan.name.clone(), from, to));
                }
                Action::AddressListMismatch { from, advertised } => {
                    tracing::warn!(
                        "{}: {from} advertises {advertised:?}, we have {:?} (RFC 5798 §7.1: logged, not fatal)",
                        slot.plan.name,
                        slot.plan.vips.iter().map(|v| v.addr).collect::<Vec<_>>()
                    );
                }
            }
        }
        changes
    }

    async fn send_advert(&mut self, slot: &Slot, advert: &Advertisement) {
        let src = slot.vr.config().primary_address;
        let dsts: Vec<IpAddr> = if slot.plan.unicast_peers.is_empty() {
            vec![match slot.plan.family {
                IpFamily::V4 => IpAddr::V4(MULTICAST_V4),
                IpFamily::V6 => IpAddr::V6(MULTICAST_V6),
            }]
        } else {
            slot.plan.unicast_peers.clone()
        };
        let mut buf = vec![0u8; advert.encoded_len()];
        for dst in dsts {
            match advert.encode(src, dst, &mut buf) {
                Ok(n) => {
                    let payload = buf.get(..n).unwrap_or(&buf);
                    if let Err(e) = self
                        .wire
                        .send(&slot.plan.interface, src, dst, payload)
                        .await
                    {
                        tracing::warn!("{}: sending advert to {dst}: {e}", slot.plan.name);
                    }
                }
                Err(e) => tracing::error!("{}: encoding advert: {e}", slot.plan.name),
            }
        }
    }

    /// Announcement rounds that are due (first set, second set, refreshes).
    async fn announce_due(&mut self) {
        let at = now();
        let mut slots = std::mem::take(&mut self.slots);
        for slot in &mut slots {
            if slot.state() != State::Master {
                slot.announcing = None;
                continue;
            }
            let Some(schedule) = slot.announcing.as_mut() else {
                continue;
            };
            let mut rounds = 0;
            while let Some(n) = schedule.poll(at) {
                rounds += n;
            }
            if rounds > 0 {
                for (dev, vips) in by_device(&slot.plan.interface, &slot.plan.vips) {
                    let addrs: Vec<IpAddr> = vips.iter().map(|v| v.addr).collect();
                    if let Err(e) = self.wire.announce(&dev, &addrs, rounds).await {
                        tracing::warn!("{}: announcing VIPs: {e}", slot.plan.name);
                    }
                }
            }
        }
        self.slots = slots;
    }

    /// keepalived's `vrrp_sync_group`: a member entering FAULT takes the
    /// group to FAULT; a MASTER member dropping to BACKUP takes the group's
    /// other masters down with it. Returns whether anything was changed.
    fn propagate_groups(&mut self, changes: &[(String, State, State)]) -> bool {
        let at = now();
        let mut touched = false;
        // Group fault = any member's own fault.
        let mut faulty: BTreeMap<String, bool> = BTreeMap::new();
        for s in &self.slots {
            if let Some(g) = &s.plan.sync_group {
                *faulty.entry(g.clone()).or_default() |= s.own_fault;
            }
        }
        for slot in &mut self.slots {
            let Some(g) = slot.plan.sync_group.clone() else {
                continue;
            };
            let group_fault = faulty.get(&g).copied().unwrap_or(false);
            if slot.group_fault != group_fault {
                slot.group_fault = group_fault;
                slot.vr.set_fault(at, slot.own_fault || slot.group_fault);
                touched = true;
            }
        }
        // keepalived: a member becoming MASTER takes the group's BACKUPs along.
        for (name, _, to) in changes {
            if *to != State::Master {
                continue;
            }
            let Some(group) = self.sync_group_of(name) else {
                continue;
            };
            for slot in &mut self.slots {
                if &slot.plan.name != name
                    && slot.plan.sync_group.as_ref() == Some(&group)
                    && slot.state() == State::Backup
                {
                    slot.vr.follow_group_to_master(at, name);
                    touched = true;
                }
            }
        }
        for (name, from, to) in changes {
            if !(*from == State::Master && *to == State::Backup) {
                continue;
            }
            let Some(group) = self.sync_group_of(name) else {
                continue;
            };
            for slot in &mut self.slots {
                if &slot.plan.name != name
                    && slot.plan.sync_group.as_ref() == Some(&group)
                    && slot.state() == State::Master
                {
                    tracing::info!(
                        "{}: sync group {group} follows {name} to BACKUP",
                        slot.plan.name
                    );
                    slot.vr.shutdown(at);
                    slot.vr.start(at);
                    touched = true;
                }
            }
        }
        touched
    }

    /// The sync group of the instance named `name`, if it has one.
    fn sync_group_of(&self, name: &str) -> Option<String> {
        self.slots
            .iter()
            .find(|s| s.plan.name == name)
            .and_then(|s| s.plan.sync_group.clone())
    }

    fn publish(&mut self) {
        let at = now();
        self.published_at = Some(at);
        self.publish_owed = false;
        if let Ok(mut board) = self.board.lock() {
            board.clear();
            for s in &self.slots {
                let mut status = s.status(at);
                // The socket is shared by the instances on its interface
                // and family: each shows the socket's totals.
                for (reason, n) in self
                    .wire
                    .socket_drops(&s.plan.interface, s.vr.config().primary_address)
                {
                    if n > 0 {
                        *status.adverts.dropped.entry(reason.to_owned()).or_default() += n;
                    }
                }
                board.insert(s.plan.name.clone(), status);
            }
            for p in &self.pending {
                board.insert(p.plan.name.clone(), pending_status(p, at));
            }
        }
    }
}

/// How an instance that could not start shows in `hactl status`: FAULT, as
/// keepalived shows an instance whose interface is missing.
fn pending_status(p: &Pending, at: Instant) -> InstanceStatus {
    InstanceStatus {
        name: p.plan.name.clone(),
        state: State::Fault,
        virtual_router_id: p.plan.core.vrid,
        version: p.plan.core.version.number(),
        interface: p.plan.interface.clone(),
        priority: p.plan.core.priority,
        effective_priority: p.plan.core.priority,
        virtual_ipaddress: p.plan.vips.iter().map(ToString::to_string).collect(),
        in_state_secs: at.saturating_duration_since(p.since).as_secs_f64(),
        reason: format!("not started: {}", p.error),
        sync_group: p.plan.sync_group.clone(),
        ..InstanceStatus::default()
    }
}

/// The configured VIPs (with prefix and label) for the addresses an action names.
fn pick(vips: &[Vip], addrs: &[IpAddr]) -> Vec<Vip> {
    addrs
        .iter()
        .map(|a| {
            vips.iter().find(|v| v.addr == *a).cloned().unwrap_or(Vip {
                addr: *a,
                prefix_len: if a.is_ipv4() { 32 } else { 128 },
                label: None,
                dev: None,
            })
        })
        .collect()
}

/// VIPs grouped by the device they live on (keepalived's `dev`; default the
/// instance's interface), in first-seen order.
fn by_device(interface: &str, vips: &[Vip]) -> Vec<(String, Vec<Vip>)> {
    let mut out: Vec<(String, Vec<Vip>)> = Vec::new();
    for v in vips {
        let dev = v.dev.as_deref().unwrap_or(interface);
        match out.iter_mut().find(|(d, _)| d == dev) {
            Some((_, list)) => list.push(v.clone()),
            None => out.push((dev.to_owned(), vec![v.clone()])),
        }
    }
    out
}

/// A short counter key for a decode error (`malformed` plus the variant).
fn drop_key(e: &vrrp_core::DecodeError) -> String {
    format!("malformed_{}", e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vip(a: &str, dev: Option<&str>) -> Vip {
        Vip {
            addr: a.parse().unwrap(),
            prefix_len: 24,
            label: None,
            dev: dev.map(Into::into),
        }
    }

    #[test]
    fn vips_are_grouped_by_their_device() {
        let vips = [
            vip("198.18.0.200", None),
            vip("198.18.1.200", Some("eth1")),
            vip("198.18.0.201", None),
        ];
        let groups = by_device("eth0", &vips);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, "eth0");
        assert_eq!(groups[0].1.len(), 2);
        assert_eq!(groups[1].0, "eth1");
        assert_eq!(groups[1].1[0].addr, vips[1].addr);
    }

    #[test]
    fn actions_keep_the_configured_prefix_and_label() {
        let mut v = vip("198.18.0.200", None);
        v.label = Some("eth0:vip".into());
        let picked = pick(
            std::slice::from_ref(&v),
            &[v.addr, "198.18.0.9".parse().unwrap()],
        );
        assert_eq!(picked[0], v);
        assert_eq!(
            picked[1].prefix_len, 32,
            "an unknown address is a host route"
        );
    }

    #[test]
    fn malformed_adverts_get_a_readable_counter_key() {
        let e = Advertisement::decode(
            &[0x31, 51],
            "198.18.0.1".parse().unwrap(),
            "224.0.0.18".parse().unwrap(),
        )
        .unwrap_err();
        let key = drop_key(&e);
        assert!(key.starts_with("malformed_"), "{key}");
        assert!(
            key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{key}"
        );
    }
}
