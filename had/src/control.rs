//! The control socket: a Unix stream socket (mode 0660) speaking JSON lines.
//!
//! Each connection sends one [`Request`] per line and reads one [`Response`]
//! per line. An `events` request is answered with one response line, then
//! one [`Event`] per line for as long as the client stays connected.
//!
//! ```
//! use had::control::{Request, Response};
//! let line = serde_json::to_string(&Request::Demote { instance: "VI_1".into() }).unwrap();
//! assert_eq!(line, r#"{"cmd":"demote","instance":"VI_1"}"#);
//! let ok: Response = serde_json::from_str(r#"{"ok":true,"message":"done"}"#).unwrap();
//! assert!(ok.ok);
//! ```

mod client;
mod server;

pub use client::{Client, ClientError};
pub use server::{BindError, ControlCall, bind, serve};

use serde::{Deserialize, Serialize};

use crate::status::{Override, State, Status};

/// Resolve once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it before returning.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Longest request or response line accepted, so a confused peer cannot make
/// either side buffer without bound.
pub const MAX_LINE: usize = 1 << 20;

/// One request line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// The whole [`Status`] document.
    Status,
    /// Force the instance's priority down to 1 until cleared.
    Demote {
        /// Instance name.
        instance: String,
    },
    /// Force the instance's priority up to 254 until cleared.
    Promote {
        /// Instance name.
        instance: String,
    },
    /// Drop an operator override: the instance goes back to its computed priority.
    Clear {
        /// Instance name.
        instance: String,
    },
    /// Take a proxy member out of rotation (in-flight requests finish).
    MemberDisable {
        /// Proxy name.
        proxy: String,
        /// Member URL as configured.
        url: String,
    },
    /// Put a proxy member back in rotation.
    MemberEnable {
        /// Proxy name.
        proxy: String,
        /// Member URL as configured.
        url: String,
    },
    /// Reload the configuration, as SIGHUP does.
    Reload,
    /// Read the certificate files of every TLS listener group again (the
    /// files in force: those of the configuration running). A group whose
    /// files cannot be used keeps serving the certificates it had.
    CertReload,
    /// Stream [`Event`]s until the client hangs up.
    Events,
}

/// One response line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request was carried out.
    pub ok: bool,
    /// What was done, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why the request was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The status document (answer to [`Request::Status`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Box<Status>>,
}

impl Response {
    /// A success with a message.
    pub fn done(message: impl Into<String>) -> Self {
        Response {
            ok: true,
            message: Some(message.into()),
            ..Response::default()
        }
    }

    /// A refusal with its reason.
    pub fn refused(error: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(error.into()),
            ..Response::default()
        }
    }

    /// The answer to a status request.
    pub fn status(status: Status) -> Self {
        Response {
            ok: true,
            status: Some(Box::new(status)),
            ..Response::default()
        }
    }
}

/// Something that happened on the node, streamed by `hactl events --follow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The kinds of [`Event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A VRRP instance changed state.
    State {
        /// Instance name.
        instance: String,
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// Why.
        reason: String,
    },
    /// An instance's effective priority changed.
    Priority {
        /// Instance name.
        instance: String,
        /// New effective priority.
        effective_priority: u8,
        /// Operator override in force, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r#override: Option<Override>,
    },
    /// A health check changed status.
    Check {
        /// Check name.
        check: String,
        /// `ok` or `failing`.
        status: String,
    },
    /// A proxy member was enabled or disabled by the operator.
    Member {
        /// Proxy name.
        proxy: String,
        /// Member URL.
        url: String,
        /// `enabled` or `disabled`.
        action: String,
    },
    /// A reload was attempted.
    Reload {
        /// Whether the new configuration is running.
        ok: bool,
        /// What changed, or why the new configuration was refused.
        message: String,
    },
}

impl Event {
    /// An event stamped with the current wall-clock time.
    pub fn now(kind: EventKind) -> Self {
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Event { unix_ms, kind }
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            EventKind::State {
                instance,
                from,
                to,
                reason,
            } => write!(f, "{instance}: {from} -> {to} ({reason})"),
            EventKind::Priority {
                instance,
                effective_priority,
                r#override,
            } => match r#override {
                Some(o) => write!(
                    f,
                    "{instance}: effective priority {effective_priority} ({o:?})"
                ),
                None => write!(f, "{instance}: effective priority {effective_priority}"),
            },
            EventKind::Check { check, status } => write!(f, "check {check}: {status}"),
            EventKind::Member { proxy, url, action } => write!(f, "proxy {proxy}: {url} {action}"),
            EventKind::Reload { ok: true, message } => write!(f, "reload: {message}"),
            EventKind::Reload { ok: false, message } => write!(f, "reload refused: {message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_stable_names() {
        let cases = [
            (Request::Status, r#"{"cmd":"status"}"#),
            (Request::Reload, r#"{"cmd":"reload"}"#),
            (Request::Events, r#"{"cmd":"events"}"#),
            (Request::CertReload, r#"{"cmd":"cert_reload"}"#),
            (
                Request::Promote {
                    instance: "VI_1".into(),
                },
                r#"{"cmd":"promote","instance":"VI_1"}"#,
            ),
            (
                Request::MemberDisable {
                    proxy: "web".into(),
                    url: "http://198.18.0.21:8080".into(),
                },
                r#"{"cmd":"member_disable","proxy":"web","url":"http://198.18.0.21:8080"}"#,
            ),
        ];
        for (req, text) in cases {
            assert_eq!(serde_json::to_string(&req).unwrap(), text);
            assert_eq!(serde_json::from_str::<Request>(text).unwrap(), req);
        }
    }

    #[test]
    fn events_flatten_their_kind() {
        let e = Event {
            unix_ms: 5,
            kind: EventKind::State {
                instance: "VI_1".into(),
                from: State::Backup,
                to: State::Master,
                reason: "master down".into(),
            },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], "state");
        assert_eq!(v["to"], "MASTER");
        assert_eq!(v["unix_ms"], 5);
        assert_eq!(e.to_string(), "VI_1: BACKUP -> MASTER (master down)");
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn unknown_command_is_an_error_not_a_panic() {
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"explode"}"#).is_err());
        assert!(serde_json::from_str::<Request>("not json").is_err());
    }
}
