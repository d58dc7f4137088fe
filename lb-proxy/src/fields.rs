//! The header-field rule both sides of the proxy share: which fields are
//! hop-by-hop. The client side ([`crate::layer::forwarded`]) removes them
//! from requests; the member side ([`crate::member_conn`]) consumes them
//! from responses. One list, so the two cannot drift apart.

use http::HeaderName;
use http::header::{
    CONNECTION, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
};

/// Fields that describe a connection, not the message (RFC 9110 §7.6.1),
/// plus the non-standard `Keep-Alive` and `Proxy-Connection`: never passed
/// from one connection to the other, nor are the fields `Connection`
/// lists. `Connection` is first. Constants, so comparing with a parsed
/// name compares no strings.
pub(crate) static HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Whether a field name as read off the wire (any case) is in [`HOP_BY_HOP`].
pub(crate) fn is_hop_by_hop(name: &[u8]) -> bool {
    HOP_BY_HOP.iter().any(|h| {
        let h = h.as_str().as_bytes();
        h.len() == name.len() && h.eq_ignore_ascii_case(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_in_either_form() {
        for name in [
            "Connection",
            "KEEP-ALIVE",
            "proxy-connection",
            "Proxy-Authenticate",
            "proxy-authorization",
            "TE",
            "Trailer",
            "transfer-encoding",
            "Upgrade",
        ] {
            assert!(is_hop_by_hop(name.as_bytes()), "{name}");
        }
        for name in [
            "host",
            "content-length",
            "trailers",
            "tee",
            "x-connection",
            "",
        ] {
            assert!(!is_hop_by_hop(name.as_bytes()), "{name}");
        }
        assert_eq!(HOP_BY_HOP[0], CONNECTION);
    }
}
