//! Pure sans-IO VRRP: the RFC 3768 (v2) and RFC 5798 (v3) advertisement codec
//! and the per-virtual-router state machine.
//!
//! This crate owns no socket, reads no clock and draws no random number: time
//! comes in as an argument and effects go out as values the driver executes.
//! `had` drives it over real sockets; the tests drive it through a simulated
//! LAN in virtual time.
//!
//! - [`packet`]: decode and encode advertisements.
//! - [`instance`]: one [`Instance`] per virtual router; feed it adverts,
//!   timeouts, priority and fault changes; drain [`Action`]s.
//! - [`timers`]: Skew_Time and Master_Down_Interval as pure functions.
//! - [`priority`]: keepalived's effective priority from tracked checks.
//!
//! # Example
//!
//! A lone backup hears no master, so after Master_Down_Interval it takes over:
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use std::time::Instant;
//! use vrrp_core::{Action, Instance, InstanceConfig, State};
//!
//! let vip = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 200));
//! let me = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 11));
//! let mut vr = Instance::new(InstanceConfig::new(51, me, vec![vip]))?;
//!
//! let t0 = Instant::now(); // the driver's clock, never read by the crate
//! vr.start(t0);
//! assert_eq!(vr.state(), State::Backup);
//! while let Some(action) = vr.poll_action() {
//!     println!("{action:?}"); // StateChanged { from: INIT, to: BACKUP, .. }
//! }
//!
//! // Priority 100, 1 s interval: 3 s + (256 − 100)/256 s.
//! let deadline = vr.poll_timeout().expect("a backup always has a timer");
//! assert_eq!(deadline - t0, vr.master_down_interval().total());
//! vr.handle_timeout(deadline);
//! assert_eq!(vr.state(), State::Master);
//!
//! let mut sent = 0;
//! while let Some(action) = vr.poll_action() {
//!     match action {
//!         Action::AddAddresses(addrs) => assert_eq!(addrs, vec![vip]),
//!         Action::SendAdvert(advert) => { assert_eq!(advert.priority, 100); sent += 1 }
//!         Action::Announce(_) | Action::StateChanged { .. } => {}
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! assert_eq!(sent, 1);
//! # Ok::<(), vrrp_core::ConfigError>(())
//! ```

pub mod instance;
pub mod limits;
pub mod packet;
pub mod priority;
pub mod timers;

pub use instance::{
    Action, ConfigError, ConfigWarning, Counters, DropReason, InitialState, Instance,
    InstanceConfig, Reason, State,
};
pub use packet::{
    AdvertPacket, Advertisement, Auth, DecodeError, EncodeError, InternetChecksum, IpFamily,
    Ipv4Header, Ipv4HeaderError, Version, internet_checksum,
};
pub use priority::{PriorityOutcome, Tracked, effective_priority};
pub use timers::{MasterDownInterval, master_down_interval, skew_time};
