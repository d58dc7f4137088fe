//! The had daemon as a library: configuration, the runtime that drives
//! `vrrp-core` instances over `vip-netlink`, health checks and the proxy.

pub mod control;
pub mod demo;
pub mod metrics;
pub mod plan;
pub mod runtime;
pub mod status;

pub mod check;
pub mod config;
pub mod failover;
pub mod import;
