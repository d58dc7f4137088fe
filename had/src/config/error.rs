//! Typed errors and warnings of configuration loading. Each one says where
//! (file and line, or the environment variable), which key, and what is allowed:
//! `had.toml:12: vrrp_instance.VI_1.virtual_router_id: 300 is out of range (allowed 1-255)`.

use std::fmt;
use std::path::PathBuf;

/// Where a setting was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// In a file, at a line when known.
    File {
        /// The file as given by the user.
        path: PathBuf,
        /// 1-based line, if the key is written in the file.
        line: Option<usize>,
    },
    /// In an environment variable (`HAD_...`).
    Env {
        /// The variable's name.
        var: String,
    },
}

impl Origin {
    /// The line, for settings written in a file.
    pub fn line(&self) -> Option<usize> {
        match self {
            Origin::File { line, .. } => *line,
            Origin::Env { .. } => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path,
                line: Some(line),
            } => write!(f, "{}:{line}", path.display()),
            Origin::File { path, line: None } => write!(f, "{}", path.display()),
            Origin::Env { var } => write!(f, "environment {var}"),
        }
    }
}

fn suggest(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}

/// What is wrong with a setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The file is not valid TOML.
    #[error("TOML syntax error: {message}")]
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// A key had doesn't know.
    #[error("unknown key `{key}`{}", match suggestion { Some(s) => format!("; did you mean `{s}`?"), None => format!(" (allowed: {})", allowed.join(", ")) })]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The nearest allowed key, if one is close.
        suggestion: Option<String>,
        /// Every allowed key at this place.
        allowed: Vec<String>,
    },
    /// A required key is absent.
    #[error("missing required key `{key}`")]
    MissingKey {
        /// The key.
        key: String,
    },
    /// A value of the wrong type or form.
    #[error("{message}")]
    InvalidValue {
        /// What is wrong and what is allowed.
        message: String,
    },
    /// A number outside its range.
    #[error("{value} is out of range (allowed {allowed})")]
    OutOfRange {
        /// The value as written.
        value: String,
        /// The allowed range.
        allowed: String,
    },
    /// An advertisement interval the instance's VRRP version cannot carry.
    #[error("{value} s is not possible with VRRPv{version} (allowed {allowed})")]
    AdvertInterval {
        /// The interval in seconds.
        value: String,
        /// 2 or 3.
        version: u32,
        /// The allowed values for that version.
        allowed: &'static str,
    },
    /// An address of the wrong family.
    #[error("{addr} is {family} but {why}")]
    WrongFamily {
        /// The address.
        addr: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// Why the other family is needed.
        why: String,
    },
    /// Two instances share a VRID on one interface and family.
    #[error(
        "VRID {vrid} is already used on {interface} ({family}) by {other}; each virtual router on a link needs its own VRID"
    )]
    DuplicateVrid {
        /// The VRID.
        vrid: u32,
        /// The interface.
        interface: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
        /// The other instance and where it is.
        other: String,
    },
    /// A reference to something not defined.
    #[error("no {what} named `{name}`{}", suggest(suggestion))]
    UnknownReference {
        /// What kind of thing was looked for.
        what: &'static str,
        /// The name as written.
        name: String,
        /// The nearest defined name, if one is close.
        suggestion: Option<String>,
    },
    /// Two proxies listen on the same address.
    #[error("{addr} is also a listen address of {other}")]
    ListenClash {
        /// The address.
        addr: String,
        /// The other proxy and where it is.
        other: String,
    },
    /// The same name is defined twice in tables that share a namespace.
    #[error("the name `{name}` is also used by {other}; check names must be unique")]
    DuplicateName {
        /// The name.
        name: String,
        /// The other definition.
        other: String,
    },
    /// An instance in two sync groups.
    #[error("`{instance}` is already in {other}; an instance can be in one sync group only")]
    TwoSyncGroups {
        /// The instance.
        instance: String,
        /// The other group.
        other: String,
    },
    /// A list that must not be empty.
    #[error("must not be empty: {hint}")]
    Empty {
        /// What to write.
        hint: &'static str,
    },
    /// A key had knows but refuses ([`super::REFUSED_KEYS`]).
    #[error("not supported: {why}; remove the key")]
    RefusedKey {
        /// Why had does not honour it.
        why: &'static str,
    },
    /// A value had knows but does not implement: accepting it would promise
    /// an effect the runtime does not have.
    #[error("{value} is not supported: {why}")]
    Unsupported {
        /// The value as written.
        value: String,
        /// Why, and what to write instead.
        why: String,
    },
    /// A reference to a named table that is not defined (`balancer = "x"`
    /// without `[balancer.x]`).
    #[error("there is no [{table}.{name}]{}", suggest(suggestion))]
    UndefinedTable {
        /// The table kind (`balancer`).
        table: &'static str,
        /// The name as written.
        name: String,
        /// The nearest defined name, if one is close.
        suggestion: Option<String>,
    },
    /// Keys of which exactly one must be given: none or several are.
    #[error("{}", exactly_one(what, keys, found))]
    ExactlyOne {
        /// What needs them (`a route`).
        what: &'static str,
        /// The alternatives, for the message (`path or path_regex`).
        keys: &'static str,
        /// The ones given, in the order written.
        found: Vec<&'static str>,
    },
    /// A key that only has an effect beside another.
    #[error("only has an effect with {with}; remove it")]
    OnlyWith {
        /// The key or value it needs.
        with: &'static str,
    },
    /// A key of the one-balancer shorthand in a `[proxy]` that has routes.
    #[error("belongs to the members shorthand, which [[{proxy}.route]] replaces: {instead}")]
    ShorthandKey {
        /// `proxy.NAME`.
        proxy: String,
        /// Where the setting goes instead.
        instead: &'static str,
    },
    /// A connection setting of a `[proxy]` that shares an address with an
    /// earlier one, set differently from that first section's.
    #[error(
        "{value} differs from {first}: [proxy] sections that share an address are one listener, \
         which takes its first section's connection settings; write the same value in both, or \
         leave it out of both"
    )]
    SharedListener {
        /// This section's value.
        value: String,
        /// The first section's value and where it is.
        first: String,
    },
    /// A host name two `[proxy]` sections on one address both answer to.
    #[error(
        "`{name}` is also a name of {other} on {addr}: only the first in the file would ever get its requests"
    )]
    DuplicateHostName {
        /// The name (lower case).
        name: String,
        /// The other section's key and where it is.
        other: String,
        /// The shared address.
        addr: String,
    },
    /// A `[proxy]` without a name on an address whose default host is another.
    #[error(
        "no server_name or server_alias, and {default} is the default host of {addr}: no request \
         could reach this one; give it a server_name"
    )]
    UnreachableHost {
        /// The address.
        addr: String,
        /// The default host (the address's first `[proxy]`) and where it is.
        default: String,
    },
    /// Sticky sessions on a balancer none of whose members has a route.
    #[error(
        "no member has a `route`, so no request could stick to one: give each member \
         route = \"NAME\" (Apache's route=), the part of the session value after its first `.`"
    )]
    NothingSticks,
    /// A `[balancer]` named like a `[proxy]` with the members shorthand,
    /// whose own balancer has that name.
    #[error("`{name}` also names the balancer of {other}'s members shorthand; rename one of them")]
    BalancerNameClash {
        /// The name.
        name: String,
        /// The `[proxy]` and where it is.
        other: String,
    },
}

fn exactly_one(what: &str, keys: &str, found: &[&str]) -> String {
    match found {
        [] => format!("{what} needs one of {keys}"),
        _ => format!(
            "{} are all set, but {what} takes exactly one of {keys}",
            found
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// A legal but risky setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Risk {
    /// keepalived and had send only 8 characters of `auth_pass`.
    #[error(
        "auth_pass is {len} characters; only the first 8 (\"{used}\") are used, as keepalived does"
    )]
    AuthPassTruncated {
        /// Length as written.
        len: usize,
        /// What is actually used.
        used: String,
    },
    /// PASS authentication is sent in clear.
    #[error(
        "auth_type PASS sends the password in clear on the link: it guards against misconfigured neighbours, not attackers"
    )]
    PassIsNotSecurity,
    /// VRRPv3 has no authentication.
    #[error(
        "VRRPv3 has no authentication (RFC 5798 removed it): it is ignored, as keepalived does; remove it or use version = 2"
    )]
    AuthIgnoredV3,
    /// `nopreempt` needs `state = "BACKUP"`.
    #[error(
        "nopreempt has no effect with state = \"MASTER\" (keepalived clears it): this node takes the VIP back whenever it starts; use state = \"BACKUP\" on every node"
    )]
    NopreemptWithMaster,
    /// An instance without VIPs.
    #[error("no virtual_ipaddress: this instance elects a MASTER but moves no address")]
    NoVirtualAddress,
    /// Every member is a hot standby.
    #[error(
        "every member has status +H (hot standby): none is used until all others fail, so none is used"
    )]
    AllHotStandby,
    /// A route an earlier route of the same `[proxy]` always matches first.
    #[error(
        "this route is never used: {earlier} comes first and matches every path this one could \
         (the first matching route wins); put the longer path first"
    )]
    RouteShadowed {
        /// The earlier route, its path and where it is.
        earlier: String,
    },
    /// A `[balancer]` no route sends to.
    #[error("no route sends to this balancer: it is started but never used")]
    UnusedBalancer,
    /// A host name of one `[proxy]` that a wildcard of an earlier one on the
    /// same address also matches: the earlier one gets its requests.
    #[error(
        "`{name}` also matches `{pattern}` of {first} on {addr}, which comes first in the file and \
         so gets these requests; move this [proxy] above it, or narrow the pattern"
    )]
    HostShadowed {
        /// The name that loses.
        name: String,
        /// The earlier wildcard.
        pattern: String,
        /// The earlier section's key and where it is.
        first: String,
        /// The shared address.
        addr: String,
    },
    /// A member `route` nothing reads: its balancer has no sticky sessions.
    #[error("has no effect: {why}")]
    MemberRouteUnused {
        /// Why, and what to write instead.
        why: &'static str,
    },
    /// Two members of one balancer with the same route.
    #[error(
        "route `{route}` is also the route of {other}: a sticky request for it always goes to the first"
    )]
    DuplicateMemberRoute {
        /// The route.
        route: String,
        /// The other member and where it is.
        other: String,
    },
    /// A `[proxy] tls` certificate that expires within two weeks.
    #[error(
        "certificate {file} expires on {date} ({}): renew it",
        if *days == 1 { "1 day".to_owned() } else { format!("{days} days") }
    )]
    CertificateExpiring {
        /// The certificate file.
        file: String,
        /// Its `notAfter`, `YYYY-MM-DD` (UTC).
        date: String,
        /// Whole days left.
        days: i64,
    },
}

/// One error: where, which key, what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{problem}", if key.is_empty() { String::new() } else { format!("{key}: ") })]
pub struct Invalid {
    /// Where the setting is.
    pub origin: Origin,
    /// Dotted key path, e.g. `vrrp_instance.VI_1.priority`.
    pub key: String,
    /// What is wrong.
    pub problem: Problem,
}

/// One warning: where, which key, what risk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: warning: {key}: {risk}")]
pub struct Warning {
    /// Where the setting is.
    pub origin: Origin,
    /// Dotted key path.
    pub key: String,
    /// The risk.
    pub risk: Risk,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{}", render(errors))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every error found (at least one).
        errors: Vec<Invalid>,
        /// Warnings found on the way.
        warnings: Vec<Warning>,
    },
}

fn render(errors: &[Invalid]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigError {
    /// The errors (one for an unreadable file).
    pub fn errors(&self) -> Vec<String> {
        match self {
            ConfigError::Read { .. } => vec![self.to_string()],
            ConfigError::Invalid { errors, .. } => errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// Warnings found before the errors stopped loading.
    pub fn warnings(&self) -> &[Warning] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { warnings, .. } => warnings,
        }
    }
}
