//! Pure sans-IO VRRP: the RFC 3768 (v2) and RFC 5798 (v3) advertisement codec
//! and the per-virtual-router state machine.
//!
//! This crate owns no socket, reads no clock and draws no random number: time
//! comes in as an argument and effects go out as values the driver executes.

pub mod packet;

pub use packet::{Advertisement, Auth, DecodeError, EncodeError, Version};
