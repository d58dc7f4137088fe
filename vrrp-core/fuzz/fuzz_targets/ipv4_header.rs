//! Fuzz `Ipv4Header::parse`: it must never panic, and the payload it returns
//! must be a window of the input after the header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vrrp_core::packet::Ipv4Header;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = Ipv4Header::parse(data) {
        assert!(header.payload.len() + Ipv4Header::MIN_LEN <= data.len());
        let start = header.payload.as_ptr() as usize - data.as_ptr() as usize;
        assert!(start >= Ipv4Header::MIN_LEN);
        assert!(start + header.payload.len() <= data.len());
    }
});
