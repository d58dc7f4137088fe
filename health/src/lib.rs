//! keepalived-style track scripts and built-in checks that produce a stream
//! of health changes for the VRRP priority.
