//! The per-virtual-router state machine (RFC 5798 §6, RFC 3768 §6.4), with
//! keepalived's behaviour where the RFCs are silent (FAULT, the initial state
//! hint, preempt_delay, re-advertising at a lower-priority master).
//!
//! An [`Instance`] is sans-IO: every input takes `now`, effects are queued as
//! [`Action`]s drained with [`Instance::poll_action`], and
//! [`Instance::poll_timeout`] says when the driver must call
//! [`Instance::handle_timeout`].

use crate::limits;
use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::packet::{Advertisement, Auth, Version};
use crate::timers::{self, MasterDownInterval};

/// The priority of the address owner (RFC 5798 §6.1).
pub use crate::limits::OWNER_PRIORITY;
/// The priority a master sends when it resigns (RFC 5798 §6.1).
pub const RESIGN_PRIORITY: u8 = 0;
/// The TTL / hop limit every VRRP packet must carry (RFC 5798 §5.1.1.3).
pub const VRRP_TTL: u8 = 255;

/// The state a VRRP instance is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or shut down (RFC 5798 §6.4.1).
    Initialize,
    /// Listening to a master, ready to take over (RFC 5798 §6.4.2).
    Backup,
    /// Holding the virtual addresses and advertising (RFC 5798 §6.4.3).
    Master,
    /// keepalived's FAULT: a tracked interface or weight-0 check failed;
    /// holds no address, sends nothing.
    Fault,
}

impl fmt::Display for State {
    /// The names keepalived prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Initialize => "INIT",
            Self::Backup => "BACKUP",
            Self::Master => "MASTER",
            Self::Fault => "FAULT",
        })
    }
}

/// keepalived's `state MASTER|BACKUP`: where an instance heads at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InitialState {
    /// Start in Backup and wait a full Master_Down_Interval (the default).
    #[default]
    Backup,
    /// Start in Backup but take over after only one advertisement interval
    /// (plus the minimum skew) if no master is heard, as keepalived 2.x does.
    /// An address owner goes Master at once whatever the hint.
    Master,
}

/// Why an instance changed state; printable for logs and `hactl status`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// `start` was called: Initialize → Backup.
    Startup,
    /// Priority 255: the address owner goes Master at once (RFC 5798 §6.4.1).
    AddressOwner,
    /// Configured `state MASTER`, and no master heard for
    /// Master_Down_Interval after start.
    InitialStateMaster,
    /// Rebuilt while MASTER ([`Instance::resume`]) and no other master
    /// heard for one interval.
    Resumed,
    /// Master_Down_Timer expired: the master (if one was heard) went silent.
    MasterDown {
        /// The last master heard, if any.
        last_master: Option<IpAddr>,
    },
    /// The master resigned with a priority-0 advert and Skew_Time expired.
    MasterResigned {
        /// The resigning master.
        from: IpAddr,
    },
    /// A lower-priority master was preempted (adverts discarded, timer expired).
    PreemptedLowerPriority {
        /// The preempted master.
        from: IpAddr,
        /// Its advertised priority.
        priority: u8,
    },
    /// A master heard a higher priority advert and stepped down.
    HigherPriority {
        /// The sender.
        from: IpAddr,
        /// Its advertised priority.
        priority: u8,
    },
    /// A master heard an equal priority from a higher primary address
    /// (RFC 5798 §6.4.3 tie break) and stepped down.
    EqualPriorityHigherAddress {
        /// The sender.
        from: IpAddr,
        /// The shared priority.
        priority: u8,
    },
    /// The driver reported a fault (tracked interface or weight-0 check).
    FaultSet,
    /// The fault cleared.
    FaultCleared,
    /// `shutdown` was called.
    Shutdown,
    /// Another member of this instance's `vrrp_sync_group` became MASTER and
    /// the group follows it (see [`Instance::follow_group_to_master`]).
    SyncGroup {
        /// The member that became MASTER.
        leader: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Startup => f.write_str("startup"),
            Self::AddressOwner => f.write_str("address owner (priority 255)"),
            Self::Resumed => {
                f.write_str("reconfigured while MASTER and no other master heard for one interval")
            }
            Self::InitialStateMaster => {
                f.write_str("initial state MASTER and no master heard for Master_Down_Interval")
            }
            Self::MasterDown {
                last_master: Some(m),
            } => {
                write!(f, "master down timer expired (last master {m})")
            }
            Self::MasterDown { last_master: None } => {
                f.write_str("master down timer expired (no master heard)")
            }
            Self::MasterResigned { from } => write!(f, "priority 0 advert from {from}"),
            Self::PreemptedLowerPriority { from, priority } => {
                write!(f, "preempted lower priority {priority} master {from}")
            }
            Self::HigherPriority { from, priority } => {
                write!(f, "higher priority {priority} advert from {from}")
            }
            Self::EqualPriorityHigherAddress { from, priority } => {
                write!(
                    f,
                    "equal priority {priority} advert from higher address {from}"
                )
            }
            Self::FaultSet => f.write_str("fault"),
            Self::FaultCleared => f.write_str("fault cleared"),
            Self::Shutdown => f.write_str("shutdown"),
            Self::SyncGroup { leader } => {
                write!(f, "sync group member {leader} became MASTER")
            }
        }
    }
}

/// An effect the driver must carry out, in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this advertisement (source = the primary address, TTL 255).
    SendAdvert(Advertisement),
    /// Configure these virtual addresses on the interface.
    AddAddresses(Vec<IpAddr>),
    /// Remove these virtual addresses from the interface.
    RemoveAddresses(Vec<IpAddr>),
    /// Send gratuitous ARP (IPv4) / unsolicited neighbour advertisements (IPv6).
    Announce(Vec<IpAddr>),
    /// The state changed; emitted after the address actions it implies.
    StateChanged {
        /// The previous state.
        from: State,
        /// The new state.
        to: State,
        /// Why.
        reason: Reason,
    },
    /// An accepted advert listed other addresses than ours (RFC 5798 §7.1:
    /// logged, not fatal). Emitted once per distinct (sender, list).
    AddressListMismatch {
        /// The sender.
        from: IpAddr,
        /// The addresses it advertised.
        advertised: Vec<IpAddr>,
    },
}

/// Why a received advertisement was discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DropReason {
    /// RFC 5798 §7.1: TTL / hop limit must be 255.
    #[error("TTL/hop limit {got}, expected 255")]
    Ttl {
        /// The received TTL / hop limit.
        got: u8,
    },
    /// The advert belongs to another virtual router.
    #[error("VRID {got}, expected {expected}")]
    VridMismatch {
        /// The received VRID.
        got: u8,
        /// Ours.
        expected: u8,
    },
    /// The advert speaks another VRRP version.
    #[error("version {got:?}, expected {expected:?}")]
    VersionMismatch {
        /// The received version.
        got: Version,
        /// Ours.
        expected: Version,
    },
    /// RFC 3768 §7.1: the authentication type or password differs.
    #[error("authentication mismatch")]
    AuthMismatch,
    /// RFC 3768 §7.1: a v2 advert with another interval is discarded.
    #[error("advert interval {got_cs} cs, configured {expected_cs} cs")]
    IntervalMismatch {
        /// The received interval, centiseconds.
        got_cs: u16,
        /// Ours, centiseconds.
        expected_cs: u16,
    },
    /// The advert carries our own primary address as its source (looped back).
    #[error("our own advert looped back")]
    OwnAdvert,
    /// The instance is in INIT or FAULT and ignores adverts.
    #[error("instance is {state}, not listening")]
    NotListening {
        /// The state the instance was in.
        state: State,
    },
}

/// What happened to the adverts an instance saw and sent, for status and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    /// Adverts handed to `handle_advert`, accepted or not.
    pub adverts_received: u64,
    /// Adverts queued for sending (including priority 0).
    pub adverts_sent: u64,
    /// Dropped: TTL / hop limit not 255.
    pub dropped_ttl: u64,
    /// Dropped: another VRID.
    pub dropped_vrid: u64,
    /// Dropped: another version.
    pub dropped_version: u64,
    /// Dropped: authentication mismatch (v2).
    pub dropped_auth: u64,
    /// Dropped: interval mismatch (v2).
    pub dropped_interval: u64,
    /// Dropped: our own advert looped back.
    pub dropped_own: u64,
    /// Dropped: received in INIT or FAULT.
    pub dropped_not_listening: u64,
    /// Accepted adverts whose address list differed from ours.
    pub address_list_mismatch: u64,
    /// Lower-priority adverts a preempting backup discarded.
    pub lower_priority_discarded: u64,
    /// Priority-0 adverts received.
    pub priority_zero_received: u64,
    /// Priority-0 adverts sent.
    pub priority_zero_sent: u64,
    /// Times this instance became Master.
    pub became_master: u64,
    /// Times this instance left Master.
    pub released_master: u64,
}

/// The configuration of one virtual router, validated by [`Instance::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceConfig {
    /// Virtual router identifier, 1..=255.
    pub vrid: u8,
    /// Protocol version.
    pub version: Version,
    /// Configured priority, 1..=255 (255 = address owner).
    pub priority: u8,
    /// Advertisement interval in centiseconds: v3 1..=4095, v2 a whole number
    /// of seconds (100..=25500).
    pub advert_interval_cs: u16,
    /// The virtual addresses, one family, at most 255.
    pub virtual_addresses: Vec<IpAddr>,
    /// Our primary address: the adverts' source, used in tie breaks.
    pub primary_address: IpAddr,
    /// Preempt a lower-priority master (default true; false = `nopreempt`).
    pub preempt: bool,
    /// keepalived `preempt_delay`: after start or fault, and after the first
    /// lower-priority advert, wait this long before preempting.
    pub preempt_delay: Duration,
    /// RFC 5798 accept mode: a non-owner master accepts traffic to the VIPs.
    pub accept_mode: bool,
    /// v2 authentication (must be `Auth::None` for v3).
    pub auth: Auth,
    /// keepalived's `state MASTER|BACKUP` hint.
    pub initial_state: InitialState,
}

impl InstanceConfig {
    /// A v3 config with keepalived's defaults: priority 100, interval 1 s,
    /// preempt on, no delay, accept mode off, no auth, initial state BACKUP.
    pub fn new(vrid: u8, primary_address: IpAddr, virtual_addresses: Vec<IpAddr>) -> Self {
        Self {
            vrid,
            version: Version::V3,
            priority: 100,
            advert_interval_cs: 100,
            virtual_addresses,
            primary_address,
            preempt: true,
            preempt_delay: Duration::ZERO,
            accept_mode: false,
            auth: Auth::None,
            initial_state: InitialState::Backup,
        }
    }

    /// Whether this router owns the virtual addresses (priority 255).
    pub fn is_owner(&self) -> bool {
        self.priority == OWNER_PRIORITY
    }

    /// Checks every field; see [`ConfigError`].
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.vrid == 0 {
            return Err(ConfigError::Vrid);
        }
        if self.priority == 0 {
            return Err(ConfigError::Priority);
        }
        match self.version {
            Version::V3 => {
                if !limits::interval_ok(Version::V3, self.advert_interval_cs) {
                    return Err(ConfigError::V3Interval {
                        cs: self.advert_interval_cs,
                    });
                }
                if self.auth != Auth::None {
                    return Err(ConfigError::V3Auth);
                }
            }
            Version::V2 => {
                if !limits::interval_ok(Version::V2, self.advert_interval_cs) {
                    return Err(ConfigError::V2Interval {
                        cs: self.advert_interval_cs,
                    });
                }
                if !self.primary_address.is_ipv4() {
                    return Err(ConfigError::V2Ipv6);
                }
            }
        }
        if self.virtual_addresses.is_empty() {
            return Err(ConfigError::NoAddresses);
        }
        if self.virtual_addresses.len() > limits::MAX_ADDRESSES {
            return Err(ConfigError::TooManyAddresses {
                count: self.virtual_addresses.len(),
            });
        }
        if let Some(bad) = self
            .virtual_addresses
            .iter()
            .find(|a| a.is_ipv4() != self.primary_address.is_ipv4())
        {
            return Err(ConfigError::MixedFamilies {
                address: *bad,
                primary: self.primary_address,
            });
        }
        Ok(())
    }

    /// Settings that are valid but do not do what they seem to (keepalived
    /// warns about the same ones).
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let mut warnings = Vec::new();
        if self.initial_state == InitialState::Master && !self.preempt && !self.is_owner() {
            warnings.push(ConfigWarning::NopreemptWithInitialMaster);
        }
        warnings
    }
}

/// Why an [`InstanceConfig`] is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// VRID 0 is reserved.
    #[error("virtual_router_id must be 1..=255, got 0")]
    Vrid,
    /// Priority 0 is reserved for resignation.
    #[error("priority must be 1..=255, got 0 (0 is reserved for resigning masters)")]
    Priority,
    /// v3 interval out of range.
    #[error("advert_int {cs} cs out of range for VRRPv3 (1..=4095 cs, i.e. 0.01 to 40.95 s)")]
    V3Interval {
        /// The configured interval.
        cs: u16,
    },
    /// v2 interval not a whole number of seconds in 1..=255.
    #[error("advert_int {cs} cs invalid for VRRPv2 (whole seconds 1..=255)")]
    V2Interval {
        /// The configured interval.
        cs: u16,
    },
    /// v2 is IPv4 only.
    #[error("VRRPv2 is IPv4 only (RFC 3768); use version 3 for IPv6")]
    V2Ipv6,
    /// v3 has no authentication.
    #[error("authentication is VRRPv2 only (RFC 5798 removed it)")]
    V3Auth,
    /// No virtual address.
    #[error("virtual_ipaddress is empty")]
    NoAddresses,
    /// More addresses than the count field holds.
    #[error("{count} virtual addresses, at most 255 fit in an advert")]
    TooManyAddresses {
        /// How many were configured.
        count: usize,
    },
    /// An address of the other family than the primary address.
    #[error("virtual address {address} is not of the same family as primary address {primary}")]
    MixedFamilies {
        /// The offending virtual address.
        address: IpAddr,
        /// The primary address.
        primary: IpAddr,
    },
}

/// A valid setting that will not behave as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigWarning {
    /// keepalived: "nopreempt will not work with initial state MASTER";
    /// the instance starts as BACKUP would.
    NopreemptWithInitialMaster,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NopreemptWithInitialMaster => f.write_str(
                "nopreempt does not work with state MASTER; the instance starts as BACKUP",
            ),
        }
    }
}

/// One VRRP virtual router: the RFC 5798 state machine, sans IO.
#[derive(Debug, Clone)]
pub struct Instance {
    config: InstanceConfig,
    state: State,
    effective_priority: u8,
    fault: bool,
    /// Master_Adver_Interval (RFC 5798 §6.1): learned from the master in v3.
    master_adver_interval_cs: u16,
    /// Adver_Timer in Master, Master_Down_Timer in Backup, none otherwise.
    timer: Option<Instant>,
    /// keepalived preempt_delay: lower-priority adverts are accepted until then.
    preempt_time: Option<Instant>,
    master_address: Option<IpAddr>,
    /// The Reason to report if the Master_Down_Timer expires.
    down_reason: Reason,
    last_mismatch: Option<(IpAddr, Vec<IpAddr>)>,
    actions: VecDeque<Action>,
    transitions: u64,
    counters: Counters,
}

impl Instance {
    /// Validates `config` and builds an instance in [`State::Initialize`].
    pub fn new(config: InstanceConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            effective_priority: config.priority,
            master_adver_interval_cs: config.advert_interval_cs,
            config,
            state: State::Initialize,
            fault: false,
            timer: None,
            preempt_time: None,
            master_address: None,
            down_reason: Reason::MasterDown { last_master: None },
            last_mismatch: None,
            actions: VecDeque::new(),
            transitions: 0,
            counters: Counters::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The priority in use (configured priority moved by tracked checks).
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// The current master as far as we know: ourselves when Master, the last
    /// accepted advert's source when Backup, none in INIT / FAULT.
    pub fn master_address(&self) -> Option<IpAddr> {
        match self.state {
            State::Master => Some(self.config.primary_address),
            State::Backup => self.master_address,
            State::Initialize | State::Fault => None,
        }
    }

    /// How many state changes happened since creation.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// Receive and send counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Whether a fault is currently reported.
    pub fn is_fault(&self) -> bool {
        self.fault
    }

    /// Master_Adver_Interval in centiseconds (the master's, learned in v3).
    pub fn master_adver_interval_cs(&self) -> u16 {
        self.master_adver_interval_cs
    }

    /// Whether the driver should accept traffic addressed to the VIPs
    /// (RFC 5798 §6.4.3: Master and either owner or accept mode).
    pub fn accepts_vip_traffic(&self) -> bool {
        self.state == State::Master && (self.config.accept_mode || self.config.is_owner())
    }

    /// Skew_Time for the current effective priority and Master_Adver_Interval.
    pub fn skew_time(&self) -> Duration {
        timers::skew_time(
            self.config.version,
            self.effective_priority,
            self.master_adver_interval_cs,
        )
    }

    /// Master_Down_Interval for the current effective priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> MasterDownInterval {
        timers::master_down_interval(
            self.config.version,
            self.effective_priority,
            self.master_adver_interval_cs,
        )
    }

    /// The next queued effect, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When the driver must call [`Instance::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer
    }

    /// Starts the instance (RFC 5798 §6.4.1 Startup event). No effect unless
    /// the instance is in INIT (never started, or shut down).
    pub fn start(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        self.master_adver_interval_cs = self.config.advert_interval_cs;
        self.master_address = None;
        if self.fault {
            self.transition(State::Fault, Reason::FaultSet);
        } else if self.config.is_owner() {
            self.become_master(now, Reason::AddressOwner);
        } else {
            // RFC 5798 §6.4.1, and keepalived 2.2.7 as measured: a router
            // that does not own the addresses listens for a whole
            // Master_Down_Interval before it claims them, whatever its
            // `state` hint, so a node restarted beside a higher-priority
            // master sends no advert and no gratuitous ARP.
            self.enter_backup(now);
            if self.config.initial_state == InitialState::Master && self.config.preempt {
                self.down_reason = Reason::InitialStateMaster;
            }
            self.transition(State::Backup, Reason::Startup);
        }
    }

    /// Starts an instance rebuilt while it was MASTER (a reload that changed
    /// its settings): it is MASTER again after one interval plus the
    /// smallest skew, well before any backup's Master_Down_Interval, unless
    /// another master is heard first, so the peers see no change of master.
    /// No effect unless the instance is in INIT; a fault or an owner starts
    /// as [`start`](Self::start) does.
    pub fn resume(&mut self, now: Instant) {
        if self.state != State::Initialize {
            return;
        }
        self.start(now);
        if self.state == State::Backup {
            let short = timers::centiseconds(self.master_adver_interval_cs)
                + timers::skew_time(
                    self.config.version,
                    OWNER_PRIORITY,
                    self.master_adver_interval_cs,
                );
            self.timer = Some(now + short);
            self.down_reason = Reason::Resumed;
        }
    }

    /// A decoded advertisement arrived from `src` with this TTL / hop limit.
    /// Returns why it was discarded, if it was (also counted in [`Counters`]).
    pub fn handle_advert(
        &mut self,
        now: Instant,
        src: IpAddr,
        ttl_or_hop_limit: u8,
        advert: &Advertisement,
    ) -> Result<(), DropReason> {
        self.counters.adverts_received += 1;
        if let Err(reason) = self.check_advert(src, ttl_or_hop_limit, advert) {
            let counter = match reason {
                DropReason::Ttl { .. } => &mut self.counters.dropped_ttl,
                DropReason::VridMismatch { .. } => &mut self.counters.dropped_vrid,
                DropReason::VersionMismatch { .. } => &mut self.counters.dropped_version,
                DropReason::AuthMismatch => &mut self.counters.dropped_auth,
                DropReason::IntervalMismatch { .. } => &mut self.counters.dropped_interval,
                DropReason::OwnAdvert => &mut self.counters.dropped_own,
                DropReason::NotListening { .. } => &mut self.counters.dropped_not_listening,
            };
            *counter += 1;
            return Err(reason);
        }
        if advert.priority == RESIGN_PRIORITY {
            self.counters.priority_zero_received += 1;
        }
        self.note_address_list(src, advert);
        match self.state {
            State::Backup => self.backup_receive(now, src, advert),
            State::Master => self.master_receive(now, src, advert),
            State::Initialize | State::Fault => {}
        }
        Ok(())
    }

    /// The deadline from [`Instance::poll_timeout`] passed (early calls are no-ops).
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.timer else { return };
        if now < deadline {
            return;
        }
        match self.state {
            State::Backup => {
                // RFC 5798 §6.4.2: Master_Down_Timer fired.
                let reason = self.down_reason.clone();
                self.become_master(now, reason);
            }
            State::Master => {
                // RFC 5798 §6.4.3: Adver_Timer fired.
                self.send_advert(self.effective_priority);
                self.timer = Some(now + self.advert_interval());
            }
            State::Initialize | State::Fault => self.timer = None,
        }
    }

    /// The tracked checks moved the priority (see [`crate::priority`]).
    /// An owner stays 255; other values are clamped to 1..=254.
    pub fn set_effective_priority(&mut self, now: Instant, priority: u8) {
        let priority = if self.config.is_owner() {
            OWNER_PRIORITY
        } else {
            let (low, high) = limits::TRACKED_PRIORITY.into_inner();
            priority.clamp(
                u8::try_from(low).unwrap_or(1),
                u8::try_from(high).unwrap_or(254),
            )
        };
        if priority == self.effective_priority {
            return;
        }
        let old_mdi = self.master_down_interval().total();
        self.effective_priority = priority;
        if self.state == State::Backup {
            // keepalived moves the running Master_Down_Timer by the skew
            // difference, so a backup that rose times out as if it had been
            // at the new priority all along.
            let new_mdi = self.master_down_interval().total();
            if let Some(deadline) = self.timer {
                let moved = if new_mdi >= old_mdi {
                    deadline + (new_mdi - old_mdi)
                } else {
                    deadline.checked_sub(old_mdi - new_mdi).unwrap_or(deadline)
                };
                self.timer = Some(moved.max(now));
            }
        }
    }

    /// A tracked interface or weight-0 check failed (`true`) or recovered.
    pub fn set_fault(&mut self, now: Instant, fault: bool) {
        if self.fault == fault {
            return;
        }
        self.fault = fault;
        match (fault, self.state) {
            (true, State::Master) => {
                // keepalived sends a priority-0 advert when leaving MASTER for FAULT.
                self.leave_master(State::Fault, Reason::FaultSet, true);
            }
            (true, State::Backup) => {
                self.timer = None;
                self.transition(State::Fault, Reason::FaultSet);
            }
            (false, State::Fault) => {
                if self.config.is_owner() {
                    self.become_master(now, Reason::AddressOwner);
                } else {
                    self.enter_backup(now);
                    self.transition(State::Backup, Reason::FaultCleared);
                }
            }
            // In INIT the flag is remembered for `start`.
            _ => {}
        }
    }

    /// Another member of this instance's sync group became MASTER: a BACKUP
    /// follows it at once, as keepalived's `vrrp_sync_group` does, instead of
    /// waiting for its own Master_Down_Timer. Other states are left alone: a
    /// FAULT member holds the whole group in FAULT through [`Instance::set_fault`].
    pub fn follow_group_to_master(&mut self, now: Instant, leader: &str) {
        if self.state == State::Backup {
            self.become_master(
                now,
                Reason::SyncGroup {
                    leader: leader.to_owned(),
                },
            );
        }
    }

    /// Stops the instance (RFC 5798 §6.4.2/§6.4.3 Shutdown event): a master
    /// sends a priority-0 advert and removes its addresses. Ends in INIT;
    /// `start` may be called again.
    pub fn shutdown(&mut self, _now: Instant) {
        match self.state {
            State::Master => self.leave_master(State::Initialize, Reason::Shutdown, true),
            State::Backup | State::Fault => {
                self.timer = None;
                self.transition(State::Initialize, Reason::Shutdown);
            }
            State::Initialize => {}
        }
        self.preempt_time = None;
    }

    // ---- internals -------------------------------------------------------

    fn advert_interval(&self) -> Duration {
        timers::centiseconds(self.config.advert_interval_cs)
    }

    fn check_advert(&self, src: IpAddr, ttl: u8, advert: &Advertisement) -> Result<(), DropReason> {
        if matches!(self.state, State::Initialize | State::Fault) {
            return Err(DropReason::NotListening { state: self.state });
        }
        // RFC 5798 §7.1 / RFC 3768 §7.1, in the RFC's order.
        if ttl != VRRP_TTL {
            return Err(DropReason::Ttl { got: ttl });
        }
        if advert.version != self.config.version {
            return Err(DropReason::VersionMismatch {
                got: advert.version,
                expected: self.config.version,
            });
        }
        if advert.vrid != self.config.vrid {
            return Err(DropReason::VridMismatch {
                got: advert.vrid,
                expected: self.config.vrid,
            });
        }
        if self.config.version == Version::V2 {
            if advert.auth != self.config.auth {
                return Err(DropReason::AuthMismatch);
            }
            if advert.interval_cs != self.config.advert_interval_cs {
                return Err(DropReason::IntervalMismatch {
                    got_cs: advert.interval_cs,
                    expected_cs: self.config.advert_interval_cs,
                });
            }
        }
        if src == self.config.primary_address {
            return Err(DropReason::OwnAdvert);
        }
        Ok(())
    }

    fn note_address_list(&mut self, src: IpAddr, advert: &Advertisement) {
        let mut theirs = advert.addresses.clone();
        let mut ours = self.config.virtual_addresses.clone();
        theirs.sort_unstable();
        ours.sort_unstable();
        if theirs == ours {
            return;
        }
        self.counters.address_list_mismatch += 1;
        let key = (src, advert.addresses.clone());
        if self.last_mismatch.as_ref() != Some(&key) {
            self.actions.push_back(Action::AddressListMismatch {
                from: src,
                advertised: advert.addresses.clone(),
            });
            self.last_mismatch = Some(key);
        }
    }

    /// RFC 5798 §6.4.2 "If an ADVERTISEMENT is received" in Backup.
    fn backup_receive(&mut self, now: Instant, src: IpAddr, advert: &Advertisement) {
        if advert.priority == RESIGN_PRIORITY {
            // Set Master_Down_Timer to Skew_Time.
            self.timer = Some(now + self.skew_time());
            self.down_reason = Reason::MasterResigned { from: src };
            return;
        }
        let preempt_held = self.preempt_delay_holds(now, advert.priority);
        if !self.config.preempt || advert.priority >= self.effective_priority || preempt_held {
            if self.config.version == Version::V3 {
                // RFC 5798 §6.4.2: adopt the master's advertised interval.
                self.master_adver_interval_cs = advert.interval_cs;
            }
            self.master_address = Some(src);
            self.timer = Some(now + self.master_down_interval().total());
            self.down_reason = Reason::MasterDown {
                last_master: Some(src),
            };
        } else {
            // Discard: a lower-priority master will be preempted when the
            // Master_Down_Timer runs out.
            self.counters.lower_priority_discarded += 1;
            self.down_reason = Reason::PreemptedLowerPriority {
                from: src,
                priority: advert.priority,
            };
        }
    }

    /// keepalived preempt_delay: whether a lower-priority advert must still
    /// be accepted as from a legitimate master. Updates the delay clock.
    fn preempt_delay_holds(&mut self, now: Instant, priority: u8) -> bool {
        if self.config.preempt_delay.is_zero() {
            return false;
        }
        if priority >= self.effective_priority {
            self.preempt_time = None;
            return false;
        }
        let until = *self
            .preempt_time
            .get_or_insert(now + self.config.preempt_delay);
        now < until
    }

    /// RFC 5798 §6.4.3 "If an ADVERTISEMENT is received" in Master.
    fn master_receive(&mut self, now: Instant, src: IpAddr, advert: &Advertisement) {
        let ours = self.effective_priority;
        if advert.priority == RESIGN_PRIORITY {
            self.send_advert(ours);
            self.timer = Some(now + self.advert_interval());
            return;
        }
        let higher = advert.priority > ours;
        let tie_lost = advert.priority == ours && src > self.config.primary_address;
        if higher || tie_lost {
            if self.config.version == Version::V3 {
                self.master_adver_interval_cs = advert.interval_cs;
            }
            let reason = if higher {
                Reason::HigherPriority {
                    from: src,
                    priority: advert.priority,
                }
            } else {
                Reason::EqualPriorityHigherAddress {
                    from: src,
                    priority: advert.priority,
                }
            };
            self.leave_master(State::Backup, reason, false);
            self.master_address = Some(src);
            self.timer = Some(now + self.master_down_interval().total());
            self.down_reason = Reason::MasterDown {
                last_master: Some(src),
            };
        } else {
            // keepalived: answer a lower-priority master at once so it
            // learns of us without waiting for our next interval.
            self.send_advert(ours);
            self.timer = Some(now + self.advert_interval());
        }
    }

    fn enter_backup(&mut self, now: Instant) {
        self.master_adver_interval_cs = self.config.advert_interval_cs;
        self.master_address = None;
        self.timer = Some(now + self.master_down_interval().total());
        self.down_reason = Reason::MasterDown { last_master: None };
        self.preempt_time = if self.config.preempt_delay.is_zero() {
            None
        } else {
            Some(now + self.config.preempt_delay)
        };
    }

    fn become_master(&mut self, now: Instant, reason: Reason) {
        let addresses = self.config.virtual_addresses.clone();
        self.actions
            .push_back(Action::AddAddresses(addresses.clone()));
        self.send_advert(self.effective_priority);
        self.actions.push_back(Action::Announce(addresses));
        self.timer = Some(now + self.advert_interval());
        self.preempt_time = None;
        self.counters.became_master += 1;
        self.transition(State::Master, reason);
    }

    fn leave_master(&mut self, to: State, reason: Reason, resign: bool) {
        if resign {
            self.send_advert(RESIGN_PRIORITY);
        }
        self.actions.push_back(Action::RemoveAddresses(
            self.config.virtual_addresses.clone(),
        ));
        self.timer = None;
        self.counters.released_master += 1;
        self.transition(to, reason);
    }

    fn send_advert(&mut self, priority: u8) {
        self.counters.adverts_sent += 1;
        if priority == RESIGN_PRIORITY {
            self.counters.priority_zero_sent += 1;
        }
        self.actions.push_back(Action::SendAdvert(Advertisement {
            version: self.config.version,
            vrid: self.config.vrid,
            priority,
            interval_cs: self.config.advert_interval_cs,
            auth: match self.config.version {
                Version::V2 => self.config.auth,
                Version::V3 => Auth::None,
            },
            addresses: self.config.virtual_addresses.clone(),
        }));
    }

    fn transition(&mut self, to: State, reason: Reason) {
        let from = self.state;
        self.state = to;
        self.transitions += 1;
        self.actions
            .push_back(Action::StateChanged { from, to, reason });
    }
}
