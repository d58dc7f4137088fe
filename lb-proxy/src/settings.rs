//! What one client connection is served with: the proxy's settings as they
//! were when it was accepted ([`Settings`], swapped whole on reload), and
//! the front end it came in on ([`Front`]). The server makes them; the
//! stack and its layers read them.

use std::time::Duration;

use crate::admission::limits::Limits;
use crate::config::ProxyConfig;

/// Settings read when a client connection starts.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Size limits of request heads.
    pub(crate) limits: Limits,
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    /// The longest response timeout of the proxy and its members: what the
    /// stack's timeout layer enforces (shorter ones are armed per member).
    pub(crate) outer_timeout: Duration,
    pub(crate) header_read_timeout: Duration,
    pub(crate) body_read_timeout: Duration,
    pub(crate) send_timeout: Duration,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) tunnel_idle_timeout: Duration,
    /// The header carrying a verified client certificate's subject.
    pub(crate) client_subject_header: Option<http::HeaderName>,
}

impl Settings {
    /// From a validated config.
    pub(crate) fn of(c: &ProxyConfig) -> Self {
        let (_, balancers) = c.sites();
        let outer_timeout = balancers
            .iter()
            .flat_map(|b| &b.members)
            .filter_map(|m| m.timeout)
            .fold(c.timeout, Duration::max);
        Self {
            limits: Limits {
                field_size: c.limit_request_field_size,
                fields: c.limit_request_fields,
                line: c.limit_request_line,
            },
            connect_timeout: c.connect_timeout,
            timeout: c.timeout,
            outer_timeout,
            header_read_timeout: c.header_read_timeout,
            body_read_timeout: c.body_read_timeout,
            send_timeout: c.send_timeout,
            pool_idle_timeout: c.pool_idle_timeout,
            tunnel_idle_timeout: c.tunnel_idle_timeout,
            client_subject_header: c
                .tls
                .as_ref()
                .and_then(|t| t.client_auth.as_ref())
                .and_then(|a| a.subject_header.as_deref())
                .and_then(|h| http::HeaderName::from_bytes(h.as_bytes()).ok()),
        }
    }
}

/// The front end a connection came in on: what `X-Forwarded-Proto`,
/// `X-Forwarded-Port` and the client-subject header say to members.
#[derive(Debug, Clone)]
pub(crate) struct Front {
    /// Over TLS.
    pub(crate) tls: bool,
    /// The local port.
    pub(crate) port: u16,
    /// The subject of the client's verified certificate.
    pub(crate) client_subject: Option<http::HeaderValue>,
}
