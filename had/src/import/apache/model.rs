//! What an Apache configuration says, in Apache's terms: the main server
//! and each `<VirtualHost>` (a [`Site`]) with their `ProxyPass` lists,
//! `<Location>` passes, `ProxyPassReverse`s, redirects, aliases, rewrite
//! rules and connection settings, and the balancers (`<Proxy
//! balancer://>`, `BalancerMember`, `ProxySet`), each with the line it came
//! from. Every directive not carried over is noted here with its reason;
//! [`super::convert`] turns the model into had's routes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Report;
use super::source::{Directive, Node, Section};
use crate::config::{LbMethod, Member, parse_duration};
use crate::import::Location;

/// A value and the line that set it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Setting<T> {
    /// The value.
    pub value: T,
    /// Where it was set.
    pub at: Location,
}

/// How a route matches the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PathMatch {
    /// A prefix, as `ProxyPass` and `<Location>` match it.
    Prefix(String),
    /// A regular expression, as `ProxyPassMatch` and `<LocationMatch>`.
    Regex(String),
}

/// Where a pass sends a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `ProxyPass PATH !`.
    Exclude,
    /// `balancer://NAME/TO`: the balancer (by its name in lower case, as
    /// httpd looks it up) and the URL's path as written.
    Balancer {
        /// The name in lower case.
        key: String,
        /// What follows the name in the URL (may be empty).
        to: String,
    },
    /// One member URL, as written.
    Url(String),
}

/// A `ProxyPass`, `ProxyPassMatch`, `<Location>`'s `ProxyPass` or a
/// `RewriteRule [P]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pass {
    /// What it matches.
    pub path: PathMatch,
    /// Where it sends.
    pub target: Target,
    /// When the target was a URL given worker parameters, turned into a
    /// one-member balancer: the URL as written (for `ProxyPassReverse`).
    pub url: Option<String>,
    /// Where it is.
    pub at: Location,
    /// The directive, for notes.
    pub text: String,
}

/// A `ProxyPassReverse PATH URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reverse {
    /// The local path.
    pub path: String,
    /// The member-side URL.
    pub url: String,
    /// Where it is.
    pub at: Location,
    /// The directive, for notes.
    pub text: String,
}

/// A `Redirect` or `RedirectMatch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Redirect {
    /// What it matches.
    pub path: PathMatch,
    /// The target.
    pub to: String,
    /// The status (301-308).
    pub status: u16,
    /// Where it is.
    pub at: Location,
    /// The directive, for notes.
    pub text: String,
}

/// An `Alias URL-PATH DIRECTORY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Alias {
    /// The URL path.
    pub path: String,
    /// The directory.
    pub dir: PathBuf,
    /// Where it is.
    pub at: Location,
    /// The directive, for notes.
    pub text: String,
}

/// A `SetHandler` in a `<Location>` (balancer-manager, server-status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Handler {
    /// The location.
    pub path: PathMatch,
    /// The handler's name.
    pub name: String,
    /// Where it is.
    pub at: Location,
    /// The directive, for notes.
    pub text: String,
}

/// What a rule in a `<Location>` asks of a client before it is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// Access control (`Require ip`, `Deny from`, `SSLRequire`): had has none.
    Access,
    /// `SSLVerifyClient require|optional` in a `<Location>`: a client
    /// certificate for one path, which had does not ask for (its
    /// `tls.client_ca` is per address).
    ClientCert,
    /// `SSLRequireSSL`: TLS, which a TLS virtual host always has.
    RequireTls,
}

/// A rule that keeps some clients out (`Require ip`, `Deny from`,
/// `SSLVerifyClient require`) in a `<Location>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Restriction {
    /// The location.
    pub path: PathMatch,
    /// What it asks.
    pub guard: Guard,
    /// Where it is.
    pub at: Location,
    /// The directive, for notes.
    pub text: String,
}

/// A file a directive names, resolved as Apache resolves it (under
/// `ServerRoot` when relative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FileSetting {
    /// The file.
    pub path: PathBuf,
    /// Where it is named.
    pub at: Location,
    /// The directive, for notes.
    pub text: String,
}

/// `SSLEngine`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Engine {
    /// `on`.
    On,
    /// `off`.
    Off,
    /// `optional`: TLS only for a client that upgrades (RFC 2817).
    Optional,
    /// `SSLEngine ADDR:PORT...`: on for the virtual hosts on these addresses.
    Addrs(Vec<SiteAddr>),
}

/// What mod_ssl (and the core's `Protocols`) says in one context: the
/// main server, or one `<VirtualHost>`. A virtual host's setting overrides
/// the main server's, and its certificate list comes before the main
/// server's ([`super::convert`] merges them as mod_ssl does).
#[derive(Debug, Clone, Default)]
pub(super) struct Ssl {
    /// `SSLEngine` and its line.
    pub engine: Option<(Engine, Directive)>,
    /// `SSLCertificateFile`, in order.
    pub certs: Vec<FileSetting>,
    /// `SSLCertificateKeyFile`, in order.
    pub keys: Vec<FileSetting>,
    /// `SSLCertificateChainFile` (the last one).
    pub chain: Option<FileSetting>,
    /// `SSLProtocol` (the last one).
    pub protocol: Option<Directive>,
    /// `SSLVerifyClient` at server or virtual-host level.
    pub verify_client: Option<Directive>,
    /// `SSLCACertificateFile`: the CAs client certificates chain to.
    pub ca_file: Option<FileSetting>,
    /// `SSLCACertificatePath`.
    pub ca_path: Option<Directive>,
    /// `SSLVerifyDepth`.
    pub verify_depth: Option<Directive>,
    /// `SSLCARevocationFile`, `SSLCARevocationPath`, `SSLCARevocationCheck`
    /// and `SSLOCSPEnable`: revocation checks of client certificates.
    pub revocation: Vec<Directive>,
    /// `SSLProxyEngine`.
    pub proxy_engine: Option<Directive>,
    /// `SSLProxyVerify`.
    pub proxy_verify: Option<Directive>,
    /// `SSLProxyCACertificateFile`.
    pub proxy_ca_file: Option<FileSetting>,
    /// `SSLProxyCACertificatePath`.
    pub proxy_ca_path: Option<Directive>,
    /// `SSLProxyCheckPeerName`.
    pub proxy_check_name: Option<(bool, Directive)>,
    /// `SSLProxyCheckPeerCN`.
    pub proxy_check_cn: Option<(bool, Directive)>,
    /// `SSLProxyCheckPeerExpire`.
    pub proxy_check_expire: Option<(bool, Directive)>,
    /// `SSLProxyProtocol`.
    pub proxy_protocol: Option<Directive>,
    /// `SSLProxyMachineCertificateFile`/`Path`/`ChainFile`: a client
    /// certificate for members.
    pub proxy_client_cert: Vec<Directive>,
    /// The core's `Protocols`.
    pub protocols: Option<Directive>,
    /// Every other `SSL*` directive, noted with its reason.
    pub other: Vec<Directive>,
}

/// The host a rewrite redirect sends to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RedirectHost {
    /// Written in the rule (`https://www.example.com%{REQUEST_URI}`).
    Literal(String),
    /// `%{HTTP_HOST}`: the `Host` the client sent, port included.
    ClientHost,
    /// `%{SERVER_NAME}`: the name the request matched (the client's
    /// `Host` without its port, in lower case).
    ServerName,
}

/// A `RewriteCond` of an https redirect that holds on every request of a
/// plain-HTTP virtual host, depending on where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RedirectCond {
    /// `%{HTTPS} off` (`!on`, `!=on`...): true without TLS.
    HttpsOff,
    /// `%{SERVER_PORT} !^443$`: true on a virtual host on other ports.
    PortNot(u16),
    /// `%{SERVER_PORT} ^80$`: true on a virtual host on that port only.
    PortIs(u16),
    /// `%{SERVER_NAME} =NAME` (certbot's): true when every request of the
    /// host names NAME; the flag is `[NC]`.
    ServerNameIs(String, bool),
}

/// The http→https redirect of mod_rewrite, as certbot and the guides write
/// it: `RewriteCond %{HTTPS} off` and `RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]`,
/// the first rule of its virtual host. [`super::convert`] imports it as a
/// redirect route where that is exactly what Apache does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HttpsRedirect {
    /// Where it sends.
    pub host: RedirectHost,
    /// `R=` (302 without one: the scheme differs, so Apache redirects).
    pub status: u16,
    /// The conditions, each with its line.
    pub conds: Vec<(RedirectCond, Directive)>,
    /// The `RewriteRule`.
    pub rule: Directive,
}

/// `Header add Set-Cookie "NAME=.%{BALANCER_WORKER_ROUTE}e; path=/"
/// env=BALANCER_ROUTE_CHANGED`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StickyHeader {
    /// The cookie's name.
    pub cookie: String,
    /// Where it is.
    pub at: Location,
    /// The directive, for notes.
    pub text: String,
}

/// A `RewriteRule` and the `RewriteCond`s before it.
#[derive(Debug, Clone)]
struct Rewrite {
    rule: Directive,
    conds: Vec<Directive>,
}

/// One address of a `<VirtualHost>`: `*` is the unspecified address, no
/// port means every port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SiteAddr {
    /// The address (unspecified for `*` and `_default_`).
    pub ip: IpAddr,
    /// The port; none = every `Listen` port.
    pub port: Option<u16>,
}

/// The main server or one `<VirtualHost>`.
#[derive(Debug, Clone)]
pub(super) struct Site {
    /// The `<VirtualHost>` line (the main file's first line for the main server).
    pub at: Location,
    /// The `<VirtualHost>` addresses (none for the main server).
    pub addrs: Vec<SiteAddr>,
    /// `ServerName`, without scheme and port.
    pub server_name: Option<Setting<String>>,
    /// `ServerAlias`.
    pub server_alias: Vec<String>,
    /// `ProxyPreserveHost`.
    pub preserve_host: Option<bool>,
    /// `ProxyTimeout`.
    pub proxy_timeout: Option<Setting<Duration>>,
    /// `Timeout`, ProxyTimeout's default.
    pub core_timeout: Option<Setting<Duration>>,
    /// `RequestReadTimeout header=`.
    pub header_read: Option<Setting<Duration>>,
    /// `RequestReadTimeout body=`.
    pub body_read: Option<Setting<Duration>>,
    /// `LimitRequestLine`.
    pub limit_line: Option<Setting<u32>>,
    /// `LimitRequestFieldSize`.
    pub limit_field_size: Option<Setting<u32>>,
    /// `LimitRequestFields`.
    pub limit_fields: Option<Setting<u32>>,
    /// `CustomLog` / `TransferLog` to a file.
    pub access_log: Option<Setting<PathBuf>>,
    /// `DocumentRoot`.
    pub document_root: Option<Setting<PathBuf>>,
    /// `ProxyPass` and `ProxyPassMatch`, in order.
    pub passes: Vec<Pass>,
    /// `ProxyPass` inside `<Location>` and `<LocationMatch>`, in order.
    pub location_passes: Vec<Pass>,
    /// `RewriteRule ... [P]` that had can route.
    pub rewrites: Vec<Pass>,
    /// `ProxyPassReverse`.
    pub reverses: Vec<Reverse>,
    /// `Redirect`, `RedirectMatch`.
    pub redirects: Vec<Redirect>,
    /// `Alias`.
    pub aliases: Vec<Alias>,
    /// `SetHandler` in `<Location>`s.
    pub handlers: Vec<Handler>,
    /// Restrictive access rules in `<Location>`s.
    pub restrictions: Vec<Restriction>,
    /// The sticky-route `Header`.
    pub sticky: Option<StickyHeader>,
    /// mod_ssl's directives and `Protocols`.
    pub ssl: Ssl,
    /// `RequestReadTimeout handshake=`.
    pub handshake_read: Option<Setting<Duration>>,
    /// The http→https `RewriteRule` redirect, when it is the first rule.
    pub https_redirect: Option<HttpsRedirect>,
    rewrite_engine: Option<bool>,
    rewrite_list: Vec<Rewrite>,
    pending_conds: Vec<Directive>,
}

impl Site {
    fn new(at: Location) -> Self {
        Site {
            at,
            addrs: Vec::new(),
            server_name: None,
            server_alias: Vec::new(),
            preserve_host: None,
            proxy_timeout: None,
            core_timeout: None,
            header_read: None,
            body_read: None,
            limit_line: None,
            limit_field_size: None,
            limit_fields: None,
            access_log: None,
            document_root: None,
            passes: Vec::new(),
            location_passes: Vec::new(),
            rewrites: Vec::new(),
            reverses: Vec::new(),
            redirects: Vec::new(),
            aliases: Vec::new(),
            handlers: Vec::new(),
            restrictions: Vec::new(),
            sticky: None,
            ssl: Ssl::default(),
            handshake_read: None,
            https_redirect: None,
            rewrite_engine: None,
            rewrite_list: Vec::new(),
            pending_conds: Vec::new(),
        }
    }

    /// How a person finds it: `<VirtualHost *:80> at line 3` or `the main server`.
    pub fn label(&self) -> String {
        if self.addrs.is_empty() {
            "the main server".into()
        } else {
            format!("the <VirtualHost> at {}", self.at)
        }
    }
}

/// Which balancers a site sees: its own `<Proxy>`s, then the main server's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Scope {
    /// The main server.
    Server,
    /// The `<VirtualHost>` at this index.
    Vhost(usize),
}

/// One `BalancerMember`.
#[derive(Debug, Clone)]
pub(super) struct MemberDef {
    /// The member in had's terms.
    pub member: Member,
    /// `connectiontimeout=`: one per `[proxy]` in had.
    pub connect_timeout: Option<Duration>,
    /// Where it is.
    pub at: Location,
}

/// One `<Proxy balancer://NAME>` (or the `BalancerMember`s that name it).
#[derive(Debug, Clone)]
pub(super) struct BalancerDef {
    /// The name in lower case (httpd's lookup key).
    pub key: String,
    /// The name as first written.
    pub name: String,
    /// Where it is defined.
    pub scope: Scope,
    /// Where it is first defined.
    pub at: Location,
    /// The members.
    pub members: Vec<MemberDef>,
    /// `lbmethod=`.
    pub lbmethod: Option<LbMethod>,
    /// `maxattempts=`.
    pub maxattempts: Option<u32>,
    /// `stickysession=` and where it is set.
    pub stickysession: Option<(String, Location)>,
    /// `nofailover=On`.
    pub nofailover: bool,
    /// `scolonpathdelim=On`.
    pub scolonpathdelim: bool,
    /// The sticky-route `Header` inside its `<Proxy>` section.
    pub sticky: Option<StickyHeader>,
    /// `BalancerMember` lines refused (each with its own problem).
    pub refused: usize,
}

impl BalancerDef {
    /// Whether some member has `route=`: without one, Apache never sticks
    /// a session (nor can a sticky cookie name a member).
    pub fn routed(&self) -> bool {
        self.members.iter().any(|m| m.member.route.is_some())
    }
}

/// The whole configuration in Apache's terms.
#[derive(Debug)]
pub(super) struct Model {
    /// The main server (directives outside any `<VirtualHost>`).
    pub server: Site,
    /// The `<VirtualHost>`s in file order.
    pub vhosts: Vec<Site>,
    /// The balancers, in the order they are defined.
    pub balancers: Vec<BalancerDef>,
    /// `Listen`.
    pub listens: Vec<Setting<SocketAddr>>,
    /// Directives and sections the importer knows as Apache's.
    pub recognised: usize,
    /// The first directive, to show when the input is not Apache's.
    pub first: Option<Directive>,
}

/// Balancer parameters given on a `ProxyPass` line, applied once every
/// `<Proxy>` is known (a `ProxyPass` may come before its `<Proxy>`).
struct PendingParams {
    scope: Scope,
    key: String,
    params: Vec<String>,
    at: Location,
}

/// Builds the model of `nodes`; `main` is the main file.
pub(super) fn build(
    nodes: &[Node],
    main: &Path,
    server_root: Option<&Path>,
    report: &mut Report,
) -> Model {
    let start = Location {
        file: main.to_path_buf(),
        line: 1,
    };
    let mut b = Builder {
        model: Model {
            server: Site::new(start),
            vhosts: Vec::new(),
            balancers: Vec::new(),
            listens: Vec::new(),
            recognised: 0,
            first: None,
        },
        report,
        server_root: server_root.map(Path::to_path_buf),
        pending: Vec::new(),
    };
    b.nodes(Scope::Server, nodes);
    b.finish_rewrites(Scope::Server);
    let pending = std::mem::take(&mut b.pending);
    // A missing balancer is reported with the pass that names it.
    for p in pending {
        if let Some(i) = b.model.find_balancer(p.scope, &p.key)
            && let Some(def) = b.model.balancers.get_mut(i)
        {
            balancer_params(b.report, &p.params, &p.at, def);
        }
    }
    b.model
}

impl Model {
    /// The balancer `key` as `scope` sees it: its own, else the main server's.
    pub fn find_balancer(&self, scope: Scope, key: &str) -> Option<usize> {
        let find = |s: Scope| {
            self.balancers
                .iter()
                .position(|b| b.scope == s && b.key == key)
        };
        find(scope).or_else(|| find(Scope::Server))
    }
}

struct Builder<'r> {
    model: Model,
    report: &'r mut Report,
    server_root: Option<PathBuf>,
    pending: Vec<PendingParams>,
}

/// A path as Apache resolves a relative one: under `ServerRoot`.
fn rooted(root: Option<&Path>, path: &str) -> PathBuf {
    let p = Path::new(path);
    match root {
        Some(r) if !p.is_absolute() => r.join(p),
        _ => p.to_path_buf(),
    }
}

/// Apache's `On`/`Off`, in any case.
pub(super) fn on_off(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("on") {
        Some(true)
    } else if v.eq_ignore_ascii_case("off") {
        Some(false)
    } else {
        None
    }
}

/// `Listen` and `<VirtualHost>` addresses: `80`, `*:80`, `_default_:80`,
/// `198.18.0.1:80`, `[2001:db8::1]:80`, `*` (every port).
fn parse_addr(text: &str) -> Option<SiteAddr> {
    let any4 = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    if let Ok(port) = text.parse::<u16>() {
        return Some(SiteAddr {
            ip: any4,
            port: Some(port),
        });
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some(SiteAddr {
            ip: sa.ip(),
            port: Some(sa.port()),
        });
    }
    let ip_of = |host: &str| match host {
        "*" | "_default_" => Some(any4),
        "[::]" => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        h => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok(),
    };
    match text.rsplit_once(':') {
        Some((host, "*")) => ip_of(host).map(|ip| SiteAddr { ip, port: None }),
        Some((host, port)) if !host.ends_with(':') && port.parse::<u16>().is_ok() => {
            Some(SiteAddr {
                ip: ip_of(host)?,
                port: port.parse().ok(),
            })
        }
        _ => ip_of(text).map(|ip| SiteAddr { ip, port: None }),
    }
}

/// A URL as a `ProxyPass` or `BalancerMember` gives it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Url {
    /// `balancer://NAME[/PATH]`.
    Balancer {
        /// The name as written.
        name: String,
        /// What follows it.
        to: String,
    },
    /// `http`, `https`, `ws` or `wss`: `SCHEME://AUTHORITY[/PATH]`.
    Http {
        /// `SCHEME://AUTHORITY`.
        origin: String,
        /// What follows it.
        path: String,
    },
    /// A scheme had does not speak to members (`ajp`, `fcgi`...).
    Unsupported(String),
    /// Not a URL.
    Invalid,
}

/// The member schemes had forwards to.
const MEMBER_SCHEMES: &[&str] = &["http", "https", "ws", "wss"];

pub(super) fn parse_url(url: &str) -> Url {
    if url
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("unix:"))
    {
        return Url::Unsupported("unix".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Url::Invalid;
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            rest.get(i..).unwrap_or_default(),
        ),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Url::Invalid;
    }
    let scheme_lower = scheme.to_ascii_lowercase();
    if scheme_lower == "balancer" {
        return Url::Balancer {
            name: authority.to_owned(),
            to: path.to_owned(),
        };
    }
    if !MEMBER_SCHEMES.contains(&scheme_lower.as_str()) {
        return Url::Unsupported(scheme_lower);
    }
    Url::Http {
        origin: format!("{scheme}://{authority}"),
        path: path.to_owned(),
    }
}

/// Why a scheme is refused.
pub(super) fn unsupported_scheme(scheme: &str) -> String {
    format!(
        "{scheme}:// is not supported: had speaks HTTP/1.1 to members (http, https, ws and wss URLs)"
    )
}

/// `ServerName [scheme://]host[:port]` → the host.
fn host_name(text: &str) -> String {
    let no_scheme = text.split_once("://").map_or(text, |(_, h)| h);
    if no_scheme.starts_with('[') {
        return no_scheme
            .find(']')
            .and_then(|e| no_scheme.get(..=e))
            .unwrap_or(no_scheme)
            .to_owned();
    }
    no_scheme
        .rsplit_once(':')
        .filter(|(_, p)| p.parse::<u16>().is_ok())
        .map_or(no_scheme, |(h, _)| h)
        .to_owned()
}

/// How an access-control directive affects clients.
#[derive(Debug, PartialEq, Eq)]
enum Access {
    /// Lets everyone in (`Require all granted`, `Allow from all`, `Order`).
    Open,
    /// Keeps some clients out.
    Restrictive,
}

fn access(d: &Directive) -> Option<Access> {
    let arg0 = d.arg(0).to_ascii_lowercase();
    match d.key().as_str() {
        "require" => Some(
            if arg0 == "all" && d.arg(1).eq_ignore_ascii_case("granted") {
                Access::Open
            } else {
                Access::Restrictive
            },
        ),
        "order" | "satisfy" | "allow" => Some(Access::Open),
        // `Deny from none` names a host called "none": it keeps no one out.
        "deny" => Some(
            if d.args
                .iter()
                .skip(1)
                .all(|a| a.eq_ignore_ascii_case("none"))
            {
                Access::Open
            } else {
                Access::Restrictive
            },
        ),
        k if k.starts_with("auth") => Some(Access::Restrictive),
        // A client certificate, an expression, or TLS, asked of the client.
        "sslrequire" | "sslrequiressl" => Some(Access::Restrictive),
        "sslverifyclient" if !arg0.eq_ignore_ascii_case("none") => Some(Access::Restrictive),
        _ => None,
    }
}

/// Why a mod_ssl directive is not carried over (those [`super::convert`]
/// does not map to `tls`, `member_ca_file` or `member_verify`).
pub(super) fn ssl_reason(key: &str) -> &'static str {
    match key {
        "sslciphersuite" => {
            "had uses rustls's default cipher suites, which are all AEAD (AES-GCM, ChaCha20-Poly1305) with forward secrecy (ECDHE); they are not configurable"
        }
        "sslhonorcipherorder" => {
            "the client picks among had's cipher suites (rustls's defaults, all AEAD with forward secrecy, none weak); the order is not configurable"
        }
        "sslcompression" => "had never compresses TLS (rustls has no TLS compression)",
        "sslsessiontickets" => {
            "had issues session tickets only with tls.ticket_keys (a key file the nodes of a pair share); without it, sessions resume from its in-memory cache"
        }
        "sslsessioncache" | "sslsessioncachetimeout" => {
            "had resumes TLS sessions from rustls's in-memory cache (its size and lifetime are not configurable), or from tickets with tls.ticket_keys"
        }
        "sslsessionticketkeyfile" => {
            "had's tls.ticket_keys takes a file of its own format (base64 lines of 80 random bytes), which the nodes of a pair share"
        }
        "sslusestapling" => {
            "had does not staple OCSP responses yet: clients check the certificate's revocation themselves, as with stapling off"
        }
        k if k.starts_with("sslstapling") => {
            "had does not staple OCSP responses yet: clients check the certificate's revocation themselves, as with stapling off"
        }
        "sslopensslconfcmd" => {
            "an OpenSSL setting: had's TLS is rustls (TLS 1.2 and 1.3, rustls's default cipher suites and key exchange groups)"
        }
        "sslrandomseed" => "had's TLS library seeds itself from the operating system",
        "sslpassphrasedialog" => {
            "had reads key files as they are and asks for no pass phrase: an encrypted key must be decrypted first (openssl pkey -in KEY -out PLAIN.key)"
        }
        "sslcryptodevice" => "had uses no OpenSSL engine (its TLS is rustls)",
        "sslfips" => "had's TLS is rustls with ring, which has no FIPS mode",
        "sslinsecurerenegotiation" | "sslrenegbuffersize" => "had never renegotiates TLS",
        "ssloptions" => {
            "exports TLS details (SSL_* variables, certificates) to Apache's modules and CGI scripts: had has none; members see X-Forwarded-Proto: https"
        }
        "sslcadnrequestfile" | "sslcadnrequestpath" => {
            "had names the CAs of tls.client_ca (SSLCACertificateFile) to clients asked for a certificate"
        }
        "sslusername" => {
            "had forwards a verified client's subject in the header tls.client_subject_header names, not as a user name"
        }
        k if k.starts_with("sslocsp") => "had does not check client certificates with OCSP",
        "sslverifyclient" => "had asks no client for a certificate (Apache's default, none)",
        "sslstrictsnivhostcheck" => {
            "had's nearest setting, tls = { strict_sni = true }, also refuses a client whose SNI names no certificate of the address (Apache serves it from the first virtual host): set it by hand if that is what you want"
        }
        "sslproxyciphersuite" => {
            "had's TLS to members uses rustls's default cipher suites, not configurable"
        }
        "sslproxyverifydepth" => "had verifies member certificate chains of any depth",
        "sslproxycarevocationfile" | "sslproxycarevocationpath" | "sslproxycarevocationcheck" => {
            "had does not check members' certificates against revocation lists"
        }
        "sslproxyengine" => "had speaks TLS to https:// and wss:// members without being told to",
        k if k.starts_with("sslproxy") => {
            "had takes its TLS settings for members (member_ca_file, member_verify) from SSLProxy* lines in a <VirtualHost> or at server level, not from this section"
        }
        "sslsrpverifierfile" | "sslsrpunknownuserseed" => "had has no TLS-SRP",
        "sslrequiressl" | "sslrequire" => NO_ACCESS_CONTROL,
        _ => "a mod_ssl setting had has no equivalent of",
    }
}

/// The TLS protocols of an `SSLProtocol` line, as bits.
pub(super) const SSLV3: u8 = 1;
/// TLS 1.0.
pub(super) const TLSV1: u8 = 2;
/// TLS 1.1.
pub(super) const TLSV1_1: u8 = 4;
/// TLS 1.2.
pub(super) const TLSV1_2: u8 = 8;
/// TLS 1.3.
pub(super) const TLSV1_3: u8 = 16;
/// httpd 2.4's `all`: SSLv3 (where OpenSSL still has it), TLSv1 to TLSv1.3.
const PROTOCOL_ALL: u8 = SSLV3 | TLSV1 | TLSV1_1 | TLSV1_2 | TLSV1_3;

/// What an `SSLProtocol` (or `SSLProxyProtocol`) line enables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ProtocolSet {
    /// The protocols, as bits.
    pub bits: u8,
    /// A word without `+` or `-` replaced what the words before it set.
    pub replaced: bool,
}

/// mod_ssl's `ssl_cmd_protocol_parse`: from nothing, each word adds
/// (`+`), removes (`-`) or, without a sign, replaces; `all` is SSLv3 and
/// TLSv1 to TLSv1.3; `-SSLv2` is ignored, any other SSLv2 refused.
pub(super) fn protocol_set(d: &Directive) -> Result<ProtocolSet, String> {
    let mut set = ProtocolSet {
        bits: 0,
        replaced: false,
    };
    for w in &d.args {
        let (action, word) = match w.chars().next() {
            Some(c @ ('+' | '-')) => (Some(c), w.get(1..).unwrap_or_default()),
            _ => (None, w.as_str()),
        };
        let this = match word.to_ascii_lowercase().as_str() {
            "sslv2" if action == Some('-') => continue,
            "sslv2" => {
                return Err(format!(
                    "{}: SSLv2 is no longer supported (Apache refuses to start)",
                    d.name
                ));
            }
            "sslv3" => SSLV3,
            "tlsv1" => TLSV1,
            "tlsv1.1" => TLSV1_1,
            "tlsv1.2" => TLSV1_2,
            "tlsv1.3" => TLSV1_3,
            "all" => PROTOCOL_ALL,
            _ => {
                return Err(format!(
                    "{}: illegal protocol '{word}' (Apache refuses to start)",
                    d.name
                ));
            }
        };
        match action {
            Some('-') => set.bits &= !this,
            Some(_) => set.bits |= this,
            None => {
                set.replaced |= set.bits != 0;
                set.bits = this;
            }
        }
    }
    Ok(set)
}

/// The names of the protocols in `bits`, oldest first.
pub(super) fn protocol_names(bits: u8) -> Vec<&'static str> {
    [
        (SSLV3, "SSLv3"),
        (TLSV1, "TLSv1"),
        (TLSV1_1, "TLSv1.1"),
        (TLSV1_2, "TLSv1.2"),
        (TLSV1_3, "TLSv1.3"),
    ]
    .iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, n)| *n)
    .collect()
}

/// What had's importer says about directives it does not carry over.
const PROCESS: &str = "an Apache process setting: had runs as its own daemon ([global], and [proxy] workers and max_connections size it)";
const CONTENT: &str = "Apache content handling (types, indexes, filters, error documents): had forwards members' responses unchanged and serves a directory's files as they are";
const ENVIRONMENT: &str = "sets environment variables for Apache's modules: had has none";
const NOT_NEEDED_MODULES: &str = "had needs no modules: what the importer carries over is built in";
const REWRITE: &str = "had does not run mod_rewrite: only RewriteRule ... [P] of the simple form (^/PREFIX(.*)$ to a URL with $1) is carried over";
const KEEPALIVE: &str = "had keeps client connections alive; their idle limit is header_read_timeout (RequestReadTimeout header=)";
const NO_ACCESS_CONTROL: &str = "had has no access control";

/// Directives had knows and does not carry over, with why.
fn dropped(key: &str) -> Option<&'static str> {
    Some(match key {
        "loadmodule" | "loadfile" => NOT_NEEDED_MODULES,
        "user" | "group" => "had runs as the user its service starts it as",
        "pidfile"
        | "mutex"
        | "defaultruntimedir"
        | "scoreboardfile"
        | "coredumpdirectory"
        | "serverlimit"
        | "startservers"
        | "minspareservers"
        | "maxspareservers"
        | "minsparethreads"
        | "maxsparethreads"
        | "threadsperchild"
        | "threadlimit"
        | "maxrequestworkers"
        | "maxclients"
        | "maxconnectionsperchild"
        | "maxrequestsperchild"
        | "asyncrequestworkerfactor"
        | "listenbacklog"
        | "gracefulshutdowntimeout"
        | "enablesendfile"
        | "enablemmap"
        | "acceptfilter"
        | "threadstacksize"
        | "maxmemfree"
        | "rlimitcpu"
        | "rlimitmem"
        | "rlimitnproc" => PROCESS,
        "serveradmin" => "had shows no administrator address on its error pages",
        "servertokens" | "serversignature" => "had sends no Server banner of Apache's",
        "hostnamelookups" => "had logs client addresses, never looked-up names",
        "usecanonicalname" | "usecanonicalphysicalport" | "namevirtualhost" | "serverpath" => {
            "not needed: had chooses a virtual host by the request's Host on each address, as Apache 2.4 does"
        }
        "extendedstatus" | "proxystatus" => {
            "had's member status is `hactl status` and the Prometheus metrics"
        }
        "traceenable"
        | "fileetag"
        | "contentdigest"
        | "allowencodedslashes"
        | "acceptpathinfo"
        | "mergeslashes"
        | "httpprotocoloptions" => "an Apache request-handling option had has no equivalent of",
        "keepalive" | "maxkeepaliverequests" | "keepalivetimeout" => KEEPALIVE,
        "logformat" | "errorlogformat" => "had writes Apache's combined format only",
        "loglevel" | "bufferedlogs" | "globallog" => {
            "had logs to stderr (journald keeps it) at its own level"
        }
        "directoryindex"
        | "options"
        | "allowoverride"
        | "allowoverridelist"
        | "addtype"
        | "addhandler"
        | "removehandler"
        | "adddefaultcharset"
        | "addcharset"
        | "addencoding"
        | "addlanguage"
        | "addoutputfilter"
        | "addoutputfilterbytype"
        | "addinputfilter"
        | "setoutputfilter"
        | "setinputfilter"
        | "typesconfig"
        | "mimemagicfile"
        | "defaulttype"
        | "forcetype"
        | "indexoptions"
        | "indexignore"
        | "indexorderdefault"
        | "headername"
        | "readmename"
        | "addicon"
        | "addiconbytype"
        | "addiconbyencoding"
        | "defaulticon"
        | "adddescription"
        | "languagepriority"
        | "forcelanguagepriority"
        | "defaultlanguage"
        | "errordocument"
        | "accessfilename"
        | "expiresactive"
        | "expiresbytype"
        | "expiresdefault"
        | "deflatecompressionlevel"
        | "filterprovider"
        | "filterchain"
        | "filterdeclare"
        | "substitute"
        | "checkspelling"
        | "xbithack"
        | "sethandler" => CONTENT,
        "setenv" | "setenvif" | "setenvifnocase" | "setenvifexpr" | "browsermatch"
        | "browsermatchnocase" | "unsetenv" | "passenv" => ENVIRONMENT,
        "requestheader" => {
            "had does not rewrite request headers (it adds X-Forwarded-For, -Host and -Proto and drops hop-by-hop headers)"
        }
        "header" => {
            "had does not add or change response headers (only the sticky-route Set-Cookie form of Header is carried over)"
        }
        "proxyvia" => "had sends no Via header",
        "proxyaddheaders" => {
            "had always adds X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto"
        }
        "proxyerroroverride" => "had forwards members' error responses unchanged",
        "proxybadheader"
        | "proxymaxforwards"
        | "proxyiobuffersize"
        | "proxyreceivebuffersize"
        | "proxysourceaddress"
        | "proxyremote"
        | "proxyremotematch"
        | "noproxy"
        | "proxyblock"
        | "proxydomain"
        | "proxyhcexpr"
        | "proxyhctemplate"
        | "proxyhctpsize"
        | "proxyfcgibackendtype"
        | "proxyfcgisetenvif"
        | "proxyprotocol" => "a mod_proxy setting had has no equivalent of",
        "proxywebsocketidletimeout" => {
            "not carried over: had's idle limit of upgraded connections is the [proxy] key tunnel_idle_timeout"
        }
        "proxypassreversecookiepath" | "proxypassreversecookiedomain" => {
            "had does not rewrite cookies yet: Set-Cookie paths and domains reach the client as the member sent them"
        }
        "proxypassinterpolateenv" => "had does not interpolate ${VAR} in URLs at run time",
        "limitrequestbody" | "limitxmlrequestbody" => "had sets no limit on request body size",
        "aliasmatch" => {
            "had serves a directory by path prefix (Alias) only: regular-expression aliases are not carried over"
        }
        "scriptalias" | "scriptaliasmatch" | "scriptinterpretersource" | "scriptsock" => {
            "had runs no CGI scripts"
        }
        "rewritebase" | "rewritemap" | "rewriteoptions" => REWRITE,
        "use" | "undefmacro" => "mod_macro is not expanded by the importer",
        "protocolshonororder" => {
            "had offers h2 and http/1.1 on TLS listeners and lets the client choose (ALPN)"
        }
        "h2direct" => "had does not speak HTTP/2 without TLS (h2c); clients use HTTP/1.1 there",
        "h2push" | "h2pushpriority" | "h2pushresource" | "h2earlyhints" => {
            "had pushes no resources over HTTP/2"
        }
        "require" | "order" | "allow" | "deny" | "satisfy" => NO_ACCESS_CONTROL,
        k if k.starts_with("auth") => NO_ACCESS_CONTROL,
        k if k.starts_with("proxyhtml") => "had does not rewrite HTML",
        k if k.starts_with("sec") => "had has no web application firewall (ModSecurity)",
        k if k.starts_with("ssl") => ssl_reason(k),
        k if k.starts_with("cache") => "had caches no responses",
        _ => return None,
    })
}

/// The directives the model reads itself.
const HANDLED: &[&str] = &[
    "listen",
    "servername",
    "serveralias",
    "proxypass",
    "proxypassmatch",
    "proxypassreverse",
    "proxypreservehost",
    "proxytimeout",
    "timeout",
    "limitrequestline",
    "limitrequestfieldsize",
    "limitrequestfields",
    "requestreadtimeout",
    "protocols",
    "customlog",
    "transferlog",
    "errorlog",
    "documentroot",
    "alias",
    "redirect",
    "redirectmatch",
    "redirectpermanent",
    "redirecttemp",
    "rewriteengine",
    "rewritecond",
    "rewriterule",
    "balancermember",
    "proxyset",
    "proxyrequests",
    "virtualhost",
    "proxy",
    "proxymatch",
    "location",
    "locationmatch",
    "directory",
    "directorymatch",
    "files",
    "filesmatch",
    "if",
    "elseif",
    "else",
    "macro",
    "limit",
    "limitexcept",
    "requireall",
    "requireany",
    "requirenone",
];

/// Whether `key` names one of Apache's directives or sections.
fn known(key: &str) -> bool {
    HANDLED.contains(&key) || dropped(key).is_some()
}

/// Why a duration is refused.
fn seconds(report: &mut Report, at: &Location, what: &str, v: &str) -> Option<Duration> {
    match parse_duration(v) {
        Ok(d) => Some(d),
        Err(e) => {
            report.problem(at, format!("{what}={v}: {e}"));
            None
        }
    }
}

/// What an Apache worker parameter does in had, when it does nothing.
fn worker_param_dropped(key: &str) -> &'static str {
    match key {
        "keepalive" | "disablereuse" | "enablereuse" => {
            "had keeps member connections alive and reuses them from a pool"
        }
        "ttl" => "had's idle pooled connections close after the [proxy] key pool_idle_timeout",
        "max" | "min" | "smax" | "acquire" => "had does not cap connections per member",
        "flushpackets" | "flushwait" => "had streams responses as members send them",
        "ping" => "had sends no 100-continue or CPING probe before a request",
        "upgrade" => "had passes any Upgrade (WebSocket) through to http and ws members",
        "hcmethod" | "hcuri" | "hcinterval" | "hcpasses" | "hcfails" | "hcexpr" | "hctemplate" => {
            "had's active health checks are one per [proxy] (health_check = { ... }), not per member"
        }
        "redirect" => "had does not redirect a member's sticky clients elsewhere",
        "secret" => "an AJP setting: had speaks HTTP to members",
        _ => "a BalancerMember parameter had has no equivalent of",
    }
}

/// Applies worker parameters (`BalancerMember URL key=value...`) to `member`.
fn worker_params(
    report: &mut Report,
    params: &[String],
    at: &Location,
    member: &mut Member,
    connect_timeout: &mut Option<Duration>,
) {
    for p in params {
        let Some((k, v)) = p.split_once('=') else {
            report.note(at, p.clone(), "not a key=value parameter: not carried over");
            continue;
        };
        match k.to_ascii_lowercase().as_str() {
            "loadfactor" => match v.parse::<u32>() {
                Ok(n) if lb_proxy::LOADFACTOR.contains(&n) => member.loadfactor = n,
                _ => report.problem(
                    at,
                    format!(
                        "loadfactor={v}: needs a number {}-{}",
                        lb_proxy::LOADFACTOR.start(),
                        lb_proxy::LOADFACTOR.end()
                    ),
                ),
            },
            "retry" => member.retry = seconds(report, at, "retry", v),
            "timeout" => member.timeout = seconds(report, at, "timeout", v),
            "connectiontimeout" => *connect_timeout = seconds(report, at, "connectiontimeout", v),
            "route" => member.route = Some(v.to_owned()),
            "lbset" => match v.parse::<u32>() {
                Ok(n) if n <= 99 => member.lbset = Some(n),
                _ => report.problem(at, format!("lbset={v}: needs a number 0-99")),
            },
            "status" => member.status = member_status(report, at, p, v),
            _ => report.note(
                at,
                p.clone(),
                format!(
                    "{}: not carried over",
                    worker_param_dropped(&k.to_ascii_lowercase())
                ),
            ),
        }
    }
}

/// `status=+H`: the flags had implements (H, D, N, I) kept as written; S
/// (stopped) as D, which never sends to the member either; E and C dropped
/// with a note; R refused.
fn member_status(report: &mut Report, at: &Location, param: &str, v: &str) -> Option<String> {
    let mut out = String::new();
    let mut sign = '+';
    for c in v.chars() {
        match c.to_ascii_uppercase() {
            '+' | '-' => sign = c,
            'H' | 'D' | 'N' | 'I' => {
                out.push(sign);
                out.push(c.to_ascii_uppercase());
            }
            'S' => {
                report.note(
                    at,
                    param.to_owned(),
                    "S (stopped) is imported as D: had never sends to a disabled member",
                );
                out.push(sign);
                out.push('D');
            }
            'E' | 'C' => report.note(
                at,
                param.to_owned(),
                format!("{c}: had starts every member as usable and finds errors itself: flag not carried over"),
            ),
            'R' => report.problem(
                at,
                format!("{param}: had has no hot spares (R); +H, a hot standby used only when every other member is down, is the nearest"),
            ),
            _ => report.problem(at, format!("{param}: {c} is not an Apache member status flag")),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Applies balancer parameters (`ProxySet balancer://x key=value...`, or
/// on a `ProxyPass` to a balancer).
fn balancer_params(report: &mut Report, params: &[String], at: &Location, b: &mut BalancerDef) {
    for p in params {
        let Some((k, v)) = p.split_once('=') else {
            report.note(at, p.clone(), "not a key=value parameter: not carried over");
            continue;
        };
        let flag = |report: &mut Report| match on_off(v) {
            Some(on) => on,
            None => {
                report.problem(at, format!("{p}: expected On or Off"));
                false
            }
        };
        match k.to_ascii_lowercase().as_str() {
            "lbmethod" => match v.to_ascii_lowercase().as_str() {
                "byrequests" => b.lbmethod = Some(LbMethod::Byrequests),
                "bybusyness" => b.lbmethod = Some(LbMethod::Bybusyness),
                "bytraffic" => b.lbmethod = Some(LbMethod::Bytraffic),
                _ => report.problem(
                    at,
                    format!(
                        "lbmethod={v} is not supported (allowed: byrequests, bybusyness, bytraffic)"
                    ),
                ),
            },
            "maxattempts" => match v.parse::<u32>() {
                Ok(n) => b.maxattempts = Some(n),
                Err(_) => report.problem(at, format!("maxattempts={v}: needs a number")),
            },
            "stickysession" => b.stickysession = Some((v.to_owned(), at.clone())),
            "nofailover" => b.nofailover = flag(report),
            "scolonpathdelim" => b.scolonpathdelim = flag(report),
            "timeout" => report.note(
                at,
                p.clone(),
                "a balancer's timeout is how long Apache waits for a free member; had never waits (no member has a connection limit): not carried over",
            ),
            "growth" => report.note(
                at,
                p.clone(),
                "room for members added at run time with balancer-manager; had's members come from its config: not carried over",
            ),
            "failonstatus" | "failontimeout" => report.note(
                at,
                p.clone(),
                "had takes a member out on connection failures, not on a response status or timeout: not carried over",
            ),
            "forcerecovery" => report.note(
                at,
                p.clone(),
                "had retries members itself once their retry time is over: not carried over",
            ),
            "lbset" | "loadfactor" | "route" | "retry" | "status" => report.note(
                at,
                p.clone(),
                "a member parameter, not a balancer's (Apache refuses it here): not carried over",
            ),
            _ => report.note(
                at,
                p.clone(),
                "a balancer parameter had has no equivalent of: not carried over",
            ),
        }
    }
}

/// `Header add|set Set-Cookie "NAME=.%{BALANCER_WORKER_ROUTE}e; path=/"
/// env=BALANCER_ROUTE_CHANGED`: the cookie's name, or why not.
fn sticky_cookie(report: &mut Report, d: &Directive) -> Option<String> {
    let mut args: Vec<&str> = d.args.iter().map(String::as_str).collect();
    if args
        .first()
        .is_some_and(|a| a.eq_ignore_ascii_case("always") || a.eq_ignore_ascii_case("onsuccess"))
    {
        args.remove(0);
    }
    let [action, header, value, rest @ ..] = args.as_slice() else {
        return None;
    };
    if !(action.eq_ignore_ascii_case("add") || action.eq_ignore_ascii_case("set"))
        || !header.eq_ignore_ascii_case("set-cookie")
    {
        return None;
    }
    let (cookie, attrs) = value.split_once(';').unwrap_or((value, ""));
    let name = cookie
        .trim()
        .strip_suffix("=.%{BALANCER_WORKER_ROUTE}e")?
        .to_owned();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    for attr in attrs.split(';').map(str::trim).filter(|a| !a.is_empty()) {
        if !attr.eq_ignore_ascii_case("path=/") {
            report.note(
                &d.at,
                d.text(),
                format!("had sets the cookie with Path=/ only: `{attr}` is not carried over"),
            );
        }
    }
    match rest {
        [cond] if cond.eq_ignore_ascii_case("env=BALANCER_ROUTE_CHANGED") => {}
        [] => report.note(
            &d.at,
            d.text(),
            "had sets the cookie only when the request did not already name its member's route (Apache's env=BALANCER_ROUTE_CHANGED)",
        ),
        _ => return None,
    }
    Some(name)
}

impl Builder<'_> {
    fn site(&mut self, scope: Scope) -> &mut Site {
        match scope {
            Scope::Vhost(i) if i < self.model.vhosts.len() => &mut self.model.vhosts[i],
            _ => &mut self.model.server,
        }
    }

    fn recognise(&mut self, d: &Directive) {
        if self.model.first.is_none() {
            self.model.first = Some(d.clone());
        }
        if known(&d.key()) {
            self.model.recognised += 1;
        }
    }

    fn nodes(&mut self, scope: Scope, nodes: &[Node]) {
        for node in nodes {
            match node {
                Node::Directive(d) => self.directive(scope, d),
                Node::Section(s) => self.section(scope, s),
            }
        }
    }

    fn section(&mut self, scope: Scope, s: &Section) {
        let head = &s.head;
        self.recognise(head);
        let count = count_directives(&s.children);
        match head.key().as_str() {
            "virtualhost" if scope == Scope::Server => self.virtual_host(s),
            "virtualhost" => self
                .report
                .problem(&head.at, "<VirtualHost> inside <VirtualHost>: Apache refuses it"),
            "proxy" | "proxymatch" => self.proxy_section(scope, s),
            "location" | "locationmatch" => self.location(scope, s),
            "directory" | "directorymatch" | "files" | "filesmatch" => {
                let restrictive = any_restrictive(&s.children);
                self.report.note(
                    &head.at,
                    head.section_text(),
                    format!(
                        "had serves directories without per-directory options{}: the {count} directive(s) in this section are not carried over",
                        if restrictive { " and has no access control" } else { "" }
                    ),
                );
            }
            "if" | "elseif" | "else" => self.report.note(
                &head.at,
                head.section_text(),
                format!("expressions are not evaluated by the importer: the {count} directive(s) in this section are not carried over"),
            ),
            "macro" => self.report.note(
                &head.at,
                head.section_text(),
                "mod_macro is not expanded by the importer: not carried over",
            ),
            "requireall" | "requireany" | "requirenone" | "limit" | "limitexcept" => {
                self.report.note(
                    &head.at,
                    head.section_text(),
                    format!("{NO_ACCESS_CONTROL}: the {count} directive(s) in this section are not carried over"),
                );
            }
            _ => self.report.note(
                &head.at,
                head.section_text(),
                format!("a section had has no equivalent of: the {count} directive(s) in it are not carried over"),
            ),
        }
    }

    fn virtual_host(&mut self, s: &Section) {
        let mut site = Site::new(s.head.at.clone());
        for a in &s.head.args {
            match parse_addr(a) {
                Some(addr) => site.addrs.push(addr),
                None => self.report.problem(
                    &s.head.at,
                    format!("<VirtualHost {a}>: expected an IP address with a port (198.18.0.200:80, *:80, _default_:80, [2001:db8::1]:80); a host name is resolved by Apache at start, give its address"),
                ),
            }
        }
        if s.head.args.is_empty() {
            self.report
                .problem(&s.head.at, "<VirtualHost> needs an address (*:80)");
        }
        self.model.vhosts.push(site);
        let scope = Scope::Vhost(self.model.vhosts.len() - 1);
        self.nodes(scope, &s.children);
        self.finish_rewrites(scope);
    }

    fn directive(&mut self, scope: Scope, d: &Directive) {
        self.recognise(d);
        let key = d.key();
        match key.as_str() {
            "listen" => self.listen(d),
            "servername" => {
                let value = host_name(d.arg(0));
                self.site(scope).server_name = Some(Setting {
                    value,
                    at: d.at.clone(),
                });
            }
            "serveralias" => {
                let names: Vec<String> = d.args.iter().map(|a| host_name(a)).collect();
                self.site(scope).server_alias.extend(names);
            }
            "proxypass" => self.proxy_pass(scope, None, d),
            "proxypassmatch" => self.proxy_pass_match(scope, d),
            "proxypassreverse" => self.reverse(scope, None, d),
            "proxypreservehost" => match on_off(d.arg(0)) {
                Some(on) => self.site(scope).preserve_host = Some(on),
                None => self
                    .report
                    .problem(&d.at, "ProxyPreserveHost takes On or Off"),
            },
            "proxytimeout" | "timeout" => {
                if let Some(t) = seconds(self.report, &d.at, &d.name, d.arg(0)) {
                    let setting = Some(Setting {
                        value: t,
                        at: d.at.clone(),
                    });
                    if key == "timeout" {
                        self.site(scope).core_timeout = setting;
                    } else {
                        self.site(scope).proxy_timeout = setting;
                    }
                }
            }
            "limitrequestline" | "limitrequestfieldsize" | "limitrequestfields" => {
                let Ok(n) = d.arg(0).parse::<u32>() else {
                    self.report
                        .problem(&d.at, format!("{} needs a number", d.name));
                    return;
                };
                let setting = Some(Setting {
                    value: n,
                    at: d.at.clone(),
                });
                let site = self.site(scope);
                match key.as_str() {
                    "limitrequestline" => site.limit_line = setting,
                    "limitrequestfieldsize" => site.limit_field_size = setting,
                    _ => site.limit_fields = setting,
                }
            }
            "requestreadtimeout" => self.request_read_timeout(scope, d),
            "customlog" | "transferlog" => self.custom_log(scope, d),
            "errorlog" => {
                let why = crate::config::PROXY_ERROR_LOG.why;
                self.report.note(&d.at, d.text(), format!("{why}; dropped"));
            }
            "documentroot" => {
                let dir = rooted(self.server_root.as_deref(), d.arg(0));
                self.site(scope).document_root = Some(Setting {
                    value: dir,
                    at: d.at.clone(),
                });
            }
            "alias" => {
                if d.args.len() != 2 {
                    self.report
                        .problem(&d.at, "Alias takes a URL path and a directory");
                    return;
                }
                let alias = Alias {
                    path: d.arg(0).to_owned(),
                    dir: PathBuf::from(d.arg(1)),
                    at: d.at.clone(),
                    text: d.text(),
                };
                self.site(scope).aliases.push(alias);
            }
            "redirect" | "redirectmatch" | "redirectpermanent" | "redirecttemp" => {
                self.redirect(scope, d);
            }
            "rewriteengine" => match on_off(d.arg(0)) {
                Some(on) => self.site(scope).rewrite_engine = Some(on),
                None => self.report.problem(&d.at, "RewriteEngine takes On or Off"),
            },
            "rewritecond" => self.site(scope).pending_conds.push(d.clone()),
            "rewriterule" => {
                let site = self.site(scope);
                let conds = std::mem::take(&mut site.pending_conds);
                site.rewrite_list.push(Rewrite {
                    rule: d.clone(),
                    conds,
                });
            }
            "header" => match sticky_cookie(self.report, d) {
                Some(cookie) => {
                    self.site(scope).sticky = Some(StickyHeader {
                        cookie,
                        at: d.at.clone(),
                        text: d.text(),
                    });
                }
                None => self.drop_known(d),
            },
            "balancermember" => self.balancer_member(scope, None, d),
            "proxyset" => self.proxy_set(scope, None, d),
            "proxyrequests" => {
                if on_off(d.arg(0)) != Some(false) {
                    self.report.note(
                        &d.at,
                        d.text(),
                        "had is a reverse proxy only: forward proxying is not carried over",
                    );
                }
            }
            "sslengine" => self.ssl_engine(scope, d),
            "protocols" => self.site(scope).ssl.protocols = Some(d.clone()),
            k if k.starts_with("ssl") => self.ssl(scope, d),
            _ => self.drop_known(d),
        }
    }

    /// `SSLEngine on|off|optional|ADDR:PORT...`.
    fn ssl_engine(&mut self, scope: Scope, d: &Directive) {
        let engine = match d.arg(0).to_ascii_lowercase().as_str() {
            "on" => Engine::On,
            "off" => Engine::Off,
            "optional" => Engine::Optional,
            _ => {
                let addrs: Option<Vec<SiteAddr>> = d.args.iter().map(|a| parse_addr(a)).collect();
                match addrs {
                    Some(a) if !a.is_empty() => Engine::Addrs(a),
                    _ => {
                        self.report.problem(
                            &d.at,
                            "SSLEngine takes on, off, optional or addresses (*:443)",
                        );
                        return;
                    }
                }
            }
        };
        self.site(scope).ssl.engine = Some((engine, d.clone()));
    }

    /// A file named by an `SSL*` directive, resolved under `ServerRoot` as
    /// mod_ssl resolves it.
    fn ssl_file(&mut self, d: &Directive) -> Option<FileSetting> {
        let file = d.arg(0);
        if file.is_empty() {
            self.report
                .problem(&d.at, format!("{} needs a file", d.name));
            return None;
        }
        if self.server_root.is_none() && !Path::new(file).is_absolute() {
            self.report.note(
                &d.at,
                d.text(),
                "a relative file is under Apache's ServerRoot, which these files do not set: kept as written (relative to had's working directory)",
            );
        }
        Some(FileSetting {
            path: rooted(self.server_root.as_deref(), file),
            at: d.at.clone(),
            text: d.text(),
        })
    }

    /// mod_ssl's directives, kept for [`super::convert`].
    fn ssl(&mut self, scope: Scope, d: &Directive) {
        let key = d.key();
        let flag = |b: &mut Self| match on_off(d.arg(0)) {
            Some(on) => Some((on, d.clone())),
            None => {
                b.report
                    .problem(&d.at, format!("{} takes On or Off", d.name));
                None
            }
        };
        match key.as_str() {
            "sslcertificatefile"
            | "sslcertificatekeyfile"
            | "sslcertificatechainfile"
            | "sslcacertificatefile"
            | "sslproxycacertificatefile" => {
                let Some(f) = self.ssl_file(d) else {
                    return;
                };
                let ssl = &mut self.site(scope).ssl;
                match key.as_str() {
                    "sslcertificatefile" => ssl.certs.push(f),
                    "sslcertificatekeyfile" => ssl.keys.push(f),
                    "sslcertificatechainfile" => ssl.chain = Some(f),
                    "sslcacertificatefile" => ssl.ca_file = Some(f),
                    _ => ssl.proxy_ca_file = Some(f),
                }
            }
            "sslprotocol" => self.site(scope).ssl.protocol = Some(d.clone()),
            "sslverifyclient" => self.site(scope).ssl.verify_client = Some(d.clone()),
            "sslcacertificatepath" => self.site(scope).ssl.ca_path = Some(d.clone()),
            "sslverifydepth" => self.site(scope).ssl.verify_depth = Some(d.clone()),
            "sslcarevocationfile"
            | "sslcarevocationpath"
            | "sslcarevocationcheck"
            | "sslocspenable" => self.site(scope).ssl.revocation.push(d.clone()),
            "sslproxyengine" => self.site(scope).ssl.proxy_engine = Some(d.clone()),
            "sslproxyverify" => self.site(scope).ssl.proxy_verify = Some(d.clone()),
            "sslproxycacertificatepath" => self.site(scope).ssl.proxy_ca_path = Some(d.clone()),
            "sslproxyprotocol" => self.site(scope).ssl.proxy_protocol = Some(d.clone()),
            "sslproxycheckpeername" => {
                if let Some(f) = flag(self) {
                    self.site(scope).ssl.proxy_check_name = Some(f);
                }
            }
            "sslproxycheckpeercn" => {
                if let Some(f) = flag(self) {
                    self.site(scope).ssl.proxy_check_cn = Some(f);
                }
            }
            "sslproxycheckpeerexpire" => {
                if let Some(f) = flag(self) {
                    self.site(scope).ssl.proxy_check_expire = Some(f);
                }
            }
            "sslproxymachinecertificatefile"
            | "sslproxymachinecertificatepath"
            | "sslproxymachinecertificatechainfile" => {
                self.site(scope).ssl.proxy_client_cert.push(d.clone());
            }
            _ => self.site(scope).ssl.other.push(d.clone()),
        }
    }

    /// A note for a directive not carried over, with its reason.
    fn drop_known(&mut self, d: &Directive) {
        let why = dropped(&d.key()).unwrap_or("a directive had has no equivalent of");
        self.report
            .note(&d.at, d.text(), format!("{why}: not carried over"));
    }

    fn listen(&mut self, d: &Directive) {
        match parse_addr(d.arg(0)) {
            Some(SiteAddr { ip, port: Some(p) }) => {
                self.model.listens.push(Setting {
                    value: SocketAddr::new(ip, p),
                    at: d.at.clone(),
                });
                if let Some(proto) = d.args.get(1) {
                    let why = if proto.eq_ignore_ascii_case("https") {
                        format!(
                            "the protocol {proto} only tells Apache what to expect on the port; TLS is each virtual host's SSLEngine, which had carries over (tls): not needed"
                        )
                    } else {
                        format!("the protocol {proto} is not carried over: had serves HTTP")
                    };
                    self.report.note(&d.at, d.text(), why);
                }
            }
            _ => self.report.problem(
                &d.at,
                "Listen needs [ADDRESS:]PORT (80, 198.18.0.200:80, [::]:80)",
            ),
        }
    }

    /// `RequestReadTimeout header=20-40,MinRate=500 body=20`.
    fn request_read_timeout(&mut self, scope: Scope, d: &Directive) {
        for arg in &d.args {
            let Some((k, v)) = arg.split_once('=') else {
                self.report.problem(
                    &d.at,
                    format!("RequestReadTimeout: {arg:?} is not key=value"),
                );
                continue;
            };
            let first = v.split(['-', ',']).next().unwrap_or_default();
            let Ok(secs) = first.parse::<u64>() else {
                self.report
                    .problem(&d.at, format!("RequestReadTimeout {arg}: needs seconds"));
                continue;
            };
            let key = k.to_ascii_lowercase();
            if key != "header" && key != "body" && key != "handshake" {
                self.report.problem(
                    &d.at,
                    format!("RequestReadTimeout {arg}: expected header=, body= or handshake="),
                );
                continue;
            }
            if secs == 0 {
                let default = if key == "handshake" { 10 } else { 20 };
                self.report.note(
                    &d.at,
                    arg.clone(),
                    format!("0 turns Apache's limit off; had always has one ({default} s by default): not carried over"),
                );
                continue;
            }
            if v.contains(['-', ',']) {
                self.report.note(
                    &d.at,
                    arg.clone(),
                    format!("had keeps the first limit ({secs} s): a range and MinRate, which extend it while data arrives, are not carried over"),
                );
            }
            let setting = Some(Setting {
                value: Duration::from_secs(secs),
                at: d.at.clone(),
            });
            match key.as_str() {
                "header" => self.site(scope).header_read = setting,
                "body" => self.site(scope).body_read = setting,
                _ => self.site(scope).handshake_read = setting,
            }
        }
    }

    /// `CustomLog FILE FORMAT [env=...]` and `TransferLog FILE`.
    fn custom_log(&mut self, scope: Scope, d: &Directive) {
        let file = d.arg(0);
        if file.is_empty() {
            self.report
                .problem(&d.at, format!("{} needs a file", d.name));
            return;
        }
        if file.starts_with('|') {
            self.report.note(
                &d.at,
                d.text(),
                "pipes the log to a program; had writes its access log to a file (rotate it with logrotate): not carried over",
            );
            return;
        }
        if let Some(existing) = &self.site(scope).access_log {
            let line = existing.at.line;
            self.report.note(
                &d.at,
                d.text(),
                format!("had writes one access log per virtual host: the one at line {line} is kept, this one is not carried over"),
            );
            return;
        }
        let format = d.args.get(1).map(|f| f.to_ascii_lowercase());
        if d.key() == "transferlog" || format.as_deref() != Some("combined") {
            self.report.note(
                &d.at,
                d.text(),
                "had writes Apache's combined format only: the log is kept, in combined format",
            );
        }
        if let Some(cond) = d.args.get(2) {
            self.report.note(
                &d.at,
                d.text(),
                format!("had logs every request: the condition {cond} is not carried over"),
            );
        }
        if self.server_root.is_none() && !Path::new(file).is_absolute() {
            self.report.note(
                &d.at,
                d.text(),
                "a relative file is under Apache's ServerRoot, which these files do not set: kept as written (relative to had's working directory)",
            );
        }
        let path = rooted(self.server_root.as_deref(), file);
        self.site(scope).access_log = Some(Setting {
            value: path,
            at: d.at.clone(),
        });
    }

    /// `Redirect [status] PATH URL`, `RedirectMatch [status] REGEX URL`,
    /// `RedirectPermanent`, `RedirectTemp`.
    fn redirect(&mut self, scope: Scope, d: &Directive) {
        let key = d.key();
        let mut args: &[String] = &d.args;
        let mut status = match key.as_str() {
            "redirectpermanent" => 301,
            _ => 302,
        };
        if matches!(key.as_str(), "redirect" | "redirectmatch") && args.len() == 3 {
            let word = args
                .first()
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default();
            status = match word.as_str() {
                "permanent" => 301,
                "temp" => 302,
                "seeother" => 303,
                n => n.parse().unwrap_or(0),
            };
            args = args.get(1..).unwrap_or_default();
        }
        let [path, to] = args else {
            let gone = args.len() <= 2
                && d.args
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case("gone") || a.starts_with('4'));
            if gone {
                self.report.problem(
                    &d.at,
                    format!(
                        "{}: had's redirect routes answer 301, 302, 303, 307 or 308 only",
                        d.text()
                    ),
                );
            } else {
                self.report
                    .problem(&d.at, format!("{}: expected [status] PATH URL", d.name));
            }
            return;
        };
        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
            self.report.problem(
                &d.at,
                format!(
                    "{}: had's redirect routes answer 301, 302, 303, 307 or 308 only",
                    d.text()
                ),
            );
            return;
        }
        let matcher = if key == "redirectmatch" {
            if let Err(e) = lb_proxy::route::PathRegex::parse(path) {
                self.report.problem(&d.at, format!("RedirectMatch: {e}"));
                return;
            }
            PathMatch::Regex(path.clone())
        } else {
            if let Err(e) = lb_proxy::route::PathPrefix::parse(path) {
                self.report
                    .problem(&d.at, format!("{}: the path {e}", d.name));
                return;
            }
            if let Some(why) = broken_join(path, to) {
                self.report.problem(&d.at, why);
                return;
            }
            PathMatch::Prefix(path.clone())
        };
        let redirect = Redirect {
            path: matcher,
            to: to.clone(),
            status,
            at: d.at.clone(),
            text: d.text(),
        };
        self.site(scope).redirects.push(redirect);
    }

    /// `ProxyPass PATH URL|! [key=value...]`, or inside `<Location>` (`loc`)
    /// `ProxyPass URL|! [key=value...]`.
    fn proxy_pass(&mut self, scope: Scope, loc: Option<&PathMatch>, d: &Directive) {
        let (path, rest) = match loc {
            Some(m) => (m.clone(), d.args.as_slice()),
            None => {
                let Some((p, rest)) = d.args.split_first() else {
                    self.report
                        .problem(&d.at, "ProxyPass needs a path and a URL");
                    return;
                };
                if p == "!" || p.contains("://") {
                    self.report.problem(
                        &d.at,
                        "ProxyPass outside <Location> needs a path first (ProxyPass /path URL)",
                    );
                    return;
                }
                (PathMatch::Prefix(p.clone()), rest)
            }
        };
        if let PathMatch::Prefix(p) = &path
            && let Err(e) = lb_proxy::route::PathPrefix::parse(p)
        {
            let hint = if p.contains(char::is_whitespace) {
                " (check the quotes on this line: Apache reads them this way)"
            } else {
                ""
            };
            self.report
                .problem(&d.at, format!("ProxyPass: the path {e}{hint}"));
            return;
        }
        let Some((url, params)) = rest.split_first() else {
            self.report.problem(&d.at, "ProxyPass needs a URL (or !)");
            return;
        };
        let pass = self.pass(scope, path, url, params, d);
        if let Some(pass) = pass {
            let site = self.site(scope);
            if loc.is_some() {
                site.location_passes.push(pass);
            } else {
                site.passes.push(pass);
            }
        }
    }

    /// `ProxyPassMatch REGEX URL|! [key=value...]`.
    fn proxy_pass_match(&mut self, scope: Scope, d: &Directive) {
        let [re, url, params @ ..] = d.args.as_slice() else {
            self.report
                .problem(&d.at, "ProxyPassMatch needs a regular expression and a URL");
            return;
        };
        if let Err(e) = lb_proxy::route::PathRegex::parse(re) {
            self.report.problem(&d.at, format!("ProxyPassMatch: {e}"));
            return;
        }
        if let Some(pass) = self.pass(scope, PathMatch::Regex(re.clone()), url, params, d) {
            self.site(scope).passes.push(pass);
        }
    }

    /// The pass of `url` (with its parameters) for `path`.
    fn pass(
        &mut self,
        scope: Scope,
        path: PathMatch,
        url: &str,
        params: &[String],
        d: &Directive,
    ) -> Option<Pass> {
        let mut pass = Pass {
            path,
            target: Target::Exclude,
            url: None,
            at: d.at.clone(),
            text: d.text(),
        };
        // Flags without `=` (nocanon, interpolate, noquery).
        let (flags, params): (Vec<String>, Vec<String>) =
            params.iter().cloned().partition(|p| !p.contains('='));
        for f in &flags {
            let why = match f.to_ascii_lowercase().as_str() {
                "nocanon" => "had forwards the path as it normalised it (dot segments removed)",
                "interpolate" => "had does not interpolate ${VAR} at run time",
                "noquery" => "had forwards the query string",
                _ => "not a ProxyPass flag had knows",
            };
            self.report
                .note(&d.at, f.clone(), format!("{why}: not carried over"));
        }
        if url == "!" {
            for p in &params {
                self.report.note(
                    &d.at,
                    p.clone(),
                    "an excluded path has no member: not carried over",
                );
            }
            return Some(pass);
        }
        if let PathMatch::Prefix(p) = &pass.path
            && let Some(why) = broken_join(p, url)
        {
            self.report.problem(&d.at, why);
            return None;
        }
        match parse_url(url) {
            Url::Balancer { name, to } => {
                let key = name.to_ascii_lowercase();
                if !params.is_empty() {
                    self.pending.push(PendingParams {
                        scope,
                        key: key.clone(),
                        params,
                        at: d.at.clone(),
                    });
                }
                pass.target = Target::Balancer { key, to };
            }
            Url::Http { origin, path: to } => {
                if params.is_empty() {
                    pass.target = Target::Url(url.to_owned());
                } else {
                    // Worker parameters need a member: a balancer of one.
                    let key = self.url_balancer(scope, &origin, &params, &d.at);
                    pass.target = Target::Balancer { key, to };
                    pass.url = Some(url.to_owned());
                }
            }
            Url::Unsupported(scheme) => {
                self.report.problem(&d.at, unsupported_scheme(&scheme));
                return None;
            }
            Url::Invalid => {
                self.report.problem(
                    &d.at,
                    format!("{url:?} is not a URL (scheme://host[:port][/path])"),
                );
                return None;
            }
        }
        Some(pass)
    }

    /// A one-member balancer for `ProxyPass /x http://h:8080/y retry=0`,
    /// named after the member's host and port; shared by passes to the same
    /// origin, as Apache shares the worker.
    fn url_balancer(
        &mut self,
        scope: Scope,
        origin: &str,
        params: &[String],
        at: &Location,
    ) -> String {
        if let Some(b) = self.model.balancers.iter().find(|b| {
            b.scope == scope
                && b.members.len() == 1
                && b.members.iter().any(|m| m.member.url == origin)
        }) {
            self.report.note(
                at,
                params.join(" "),
                format!("Apache keeps the parameters of the first ProxyPass to {origin} (line {}): not carried over", b.at.line),
            );
            return b.key.clone();
        }
        let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
        let base: String = authority
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut key = base.to_ascii_lowercase();
        let mut n = 2;
        while self.model.balancers.iter().any(|b| b.key == key) {
            key = format!("{}_{n}", base.to_ascii_lowercase());
            n += 1;
        }
        let mut member = Member {
            url: origin.to_owned(),
            loadfactor: 1,
            retry: None,
            timeout: None,
            status: None,
            route: None,
            lbset: None,
        };
        let mut connect_timeout = None;
        worker_params(self.report, params, at, &mut member, &mut connect_timeout);
        self.model.balancers.push(BalancerDef {
            key: key.clone(),
            name: key.clone(),
            scope,
            at: at.clone(),
            members: vec![MemberDef {
                member,
                connect_timeout,
                at: at.clone(),
            }],
            lbmethod: None,
            maxattempts: None,
            stickysession: None,
            nofailover: false,
            scolonpathdelim: false,
            sticky: None,
            refused: 0,
        });
        key
    }

    /// `ProxyPassReverse PATH URL`, or inside `<Location>` `ProxyPassReverse URL`.
    fn reverse(&mut self, scope: Scope, loc: Option<&PathMatch>, d: &Directive) {
        let (path, url, extra) = match loc {
            Some(PathMatch::Prefix(p)) => (p.clone(), d.arg(0), d.args.get(1..)),
            Some(PathMatch::Regex(_)) => {
                self.report.note(
                    &d.at,
                    d.text(),
                    "ProxyPassReverse needs a path prefix, not a <LocationMatch> expression: not carried over",
                );
                return;
            }
            None => (d.arg(0).to_owned(), d.arg(1), d.args.get(2..)),
        };
        if url.is_empty() {
            self.report
                .problem(&d.at, "ProxyPassReverse needs a path and a URL");
            return;
        }
        for e in extra.unwrap_or_default() {
            self.report.note(
                &d.at,
                e.clone(),
                "ProxyPassReverse takes no parameters (only `interpolate`, which had does not do): not carried over",
            );
        }
        let r = Reverse {
            path,
            url: url.to_owned(),
            at: d.at.clone(),
            text: d.text(),
        };
        self.site(scope).reverses.push(r);
    }

    /// The balancer `name` defined in `scope`, created if new.
    fn balancer(&mut self, scope: Scope, name: &str, at: &Location) -> usize {
        let key = name.to_ascii_lowercase();
        if let Some(i) = self
            .model
            .balancers
            .iter()
            .position(|b| b.scope == scope && b.key == key)
        {
            return i;
        }
        self.model.balancers.push(BalancerDef {
            key,
            name: name.to_owned(),
            scope,
            at: at.clone(),
            members: Vec::new(),
            lbmethod: None,
            maxattempts: None,
            stickysession: None,
            nofailover: false,
            scolonpathdelim: false,
            sticky: None,
            refused: 0,
        });
        self.model.balancers.len() - 1
    }

    /// `<Proxy balancer://NAME>` (or `<Proxy *>`, `<ProxyMatch>`: access
    /// rules for proxied URLs).
    fn proxy_section(&mut self, scope: Scope, s: &Section) {
        let head = &s.head;
        let target = head.arg(0);
        let balancer = match parse_url(target) {
            Url::Balancer { name, .. } if head.key() == "proxy" => Some(name),
            _ => None,
        };
        let Some(name) = balancer else {
            if any_restrictive(&s.children) {
                self.report.problem(
                    &head.at,
                    format!("{}: {NO_ACCESS_CONTROL}, and this section keeps some clients from the proxied URLs: remove it from the file to import it, knowing had will not", head.section_text()),
                );
            } else {
                self.report.note(
                    &head.at,
                    head.section_text(),
                    format!("access rules for proxied URLs that let every client in: not needed ({NO_ACCESS_CONTROL})"),
                );
            }
            return;
        };
        let index = self.balancer(scope, &name, &head.at);
        for node in &s.children {
            match node {
                Node::Directive(d) => {
                    self.recognise(d);
                    match d.key().as_str() {
                        "balancermember" => self.balancer_member(scope, Some(index), d),
                        "proxyset" => self.proxy_set(scope, Some(index), d),
                        // Headers set in <Proxy balancer://x> apply to what
                        // is proxied to x only.
                        "header" => match sticky_cookie(self.report, d) {
                            Some(cookie) => {
                                if let Some(b) = self.model.balancers.get_mut(index) {
                                    b.sticky = Some(StickyHeader {
                                        cookie,
                                        at: d.at.clone(),
                                        text: d.text(),
                                    });
                                }
                            }
                            None => self.drop_known(d),
                        },
                        _ => match access(d) {
                            Some(Access::Restrictive) => self.report.problem(
                                &d.at,
                                format!("{}: {NO_ACCESS_CONTROL}; this rule keeps some clients from balancer://{name}: remove it to import the file, knowing had will not", d.text()),
                            ),
                            Some(Access::Open) => self.report.note(
                                &d.at,
                                d.text(),
                                "lets every client in, as had does: not needed",
                            ),
                            None => self.drop_known(d),
                        },
                    }
                }
                Node::Section(inner) => self.report.note(
                    &inner.head.at,
                    inner.head.section_text(),
                    "a section inside <Proxy>: not carried over",
                ),
            }
        }
    }

    /// The balancer of a line inside `<Proxy balancer://x>` (`index`), or
    /// the one its first argument names, with the arguments that follow;
    /// `None` when it names none (the caller says why).
    fn balancer_and_args<'d>(
        &mut self,
        scope: Scope,
        index: Option<usize>,
        d: &'d Directive,
    ) -> Option<(usize, &'d [String])> {
        match index {
            Some(i) => Some((i, d.args.as_slice())),
            None => match parse_url(d.arg(0)) {
                Url::Balancer { name, .. } => Some((
                    self.balancer(scope, &name, &d.at),
                    d.args.get(1..).unwrap_or_default(),
                )),
                _ => None,
            },
        }
    }

    /// `BalancerMember URL [key=value...]` inside `<Proxy balancer://x>`
    /// (`index`), or `BalancerMember balancer://x URL [key=value...]`.
    fn balancer_member(&mut self, scope: Scope, index: Option<usize>, d: &Directive) {
        let Some((index, args)) = self.balancer_and_args(scope, index, d) else {
            self.report.problem(
                &d.at,
                "BalancerMember outside <Proxy balancer://NAME> must name its balancer first (BalancerMember balancer://NAME URL)",
            );
            return;
        };
        let Some((url, params)) = args.split_first() else {
            self.report.problem(&d.at, "BalancerMember needs a URL");
            return;
        };
        let refused = match parse_url(url) {
            Url::Http { .. } => None,
            Url::Unsupported(scheme) => Some(unsupported_scheme(&scheme)),
            Url::Balancer { .. } | Url::Invalid => Some(format!(
                "{url:?} is not a member URL (http://host:port[/path])"
            )),
        };
        if let Some(why) = refused {
            self.report.problem(&d.at, why);
            if let Some(b) = self.model.balancers.get_mut(index) {
                b.refused += 1;
            }
            return;
        }
        let mut member = Member {
            url: url.clone(),
            loadfactor: 1,
            retry: None,
            timeout: None,
            status: None,
            route: None,
            lbset: None,
        };
        let mut connect_timeout = None;
        worker_params(
            self.report,
            params,
            &d.at,
            &mut member,
            &mut connect_timeout,
        );
        let Some(b) = self.model.balancers.get_mut(index) else {
            return;
        };
        if let Some(other) = b.members.iter().find(|m| m.member.url == member.url) {
            let line = other.at.line;
            self.report.problem(
                &d.at,
                format!(
                    "{url} is already a member of balancer://{} (line {line})",
                    b.name
                ),
            );
            return;
        }
        b.members.push(MemberDef {
            member,
            connect_timeout,
            at: d.at.clone(),
        });
    }

    /// `ProxySet key=value...` inside `<Proxy balancer://x>` (`index`), or
    /// `ProxySet balancer://x key=value...`.
    fn proxy_set(&mut self, scope: Scope, index: Option<usize>, d: &Directive) {
        let Some((index, params)) = self.balancer_and_args(scope, index, d) else {
            self.report.note(
                &d.at,
                d.text(),
                "ProxySet for a single worker: had sets member parameters on BalancerMember lines only; not carried over",
            );
            return;
        };
        if let Some(b) = self.model.balancers.get_mut(index) {
            balancer_params(self.report, params, &d.at, b);
        }
    }

    /// `<Location PATH>`, `<Location ~ REGEX>`, `<LocationMatch REGEX>`.
    fn location(&mut self, scope: Scope, s: &Section) {
        let head = &s.head;
        let matcher = match (head.key().as_str(), head.args.as_slice()) {
            ("location", [tilde, re]) if tilde == "~" => PathMatch::Regex(re.clone()),
            ("locationmatch", [re]) => PathMatch::Regex(re.clone()),
            ("location", [p]) => PathMatch::Prefix(p.clone()),
            _ => {
                self.report.problem(
                    &head.at,
                    format!(
                        "{}: expected one path (or ~ and an expression)",
                        head.section_text()
                    ),
                );
                return;
            }
        };
        if let PathMatch::Regex(re) = &matcher
            && let Err(e) = lb_proxy::route::PathRegex::parse(re)
        {
            self.report
                .problem(&head.at, format!("{}: {e}", head.section_text()));
            return;
        }
        for node in &s.children {
            let d = match node {
                Node::Directive(d) => d,
                Node::Section(inner) => {
                    self.recognise(&inner.head);
                    if any_restrictive(&inner.children) {
                        self.site(scope).restrictions.push(Restriction {
                            path: matcher.clone(),
                            guard: Guard::Access,
                            at: inner.head.at.clone(),
                            text: inner.head.section_text(),
                        });
                    } else {
                        self.report.note(
                            &inner.head.at,
                            inner.head.section_text(),
                            "a section inside <Location>: not carried over",
                        );
                    }
                    continue;
                }
            };
            self.recognise(d);
            match d.key().as_str() {
                "proxypass" => self.proxy_pass(scope, Some(&matcher), d),
                "proxypassreverse" => self.reverse(scope, Some(&matcher), d),
                "sethandler" => {
                    let why = match d.arg(0).to_ascii_lowercase().as_str() {
                        "balancer-manager" => "had has no balancer-manager page: `hactl status` shows the members and `hactl` enables and disables them",
                        "server-status" | "server-info" => "had's status is `hactl status` and the Prometheus metrics",
                        _ => "had runs no Apache handlers",
                    };
                    self.report
                        .note(&d.at, d.text(), format!("{why}: not carried over"));
                    let handler = Handler {
                        path: matcher.clone(),
                        name: d.arg(0).to_owned(),
                        at: d.at.clone(),
                        text: d.text(),
                    };
                    self.site(scope).handlers.push(handler);
                }
                "proxypreservehost" => self.report.note(
                    &d.at,
                    d.text(),
                    "had sets ProxyPreserveHost per virtual host, not per <Location>: not carried over",
                ),
                "redirect" | "redirectmatch" | "redirectpermanent" | "redirecttemp" => {
                    self.report.note(
                        &d.at,
                        d.text(),
                        "a Redirect inside <Location> is not carried over: write it as Redirect PATH URL in the virtual host",
                    );
                }
                "rewriterule" | "rewritecond" | "rewriteengine" => self.report.note(
                    &d.at,
                    d.text(),
                    format!("{REWRITE} (and never inside <Location>): not carried over"),
                ),
                "sslverifyclient" | "sslrequiressl"
                    if access(d) == Some(Access::Restrictive) =>
                {
                    let guard = if d.key() == "sslrequiressl" {
                        Guard::RequireTls
                    } else {
                        Guard::ClientCert
                    };
                    self.site(scope).restrictions.push(Restriction {
                        path: matcher.clone(),
                        guard,
                        at: d.at.clone(),
                        text: d.text(),
                    });
                }
                _ => match access(d) {
                    Some(Access::Restrictive) => self.site(scope).restrictions.push(Restriction {
                        path: matcher.clone(),
                        guard: Guard::Access,
                        at: d.at.clone(),
                        text: d.text(),
                    }),
                    Some(Access::Open) => self.report.note(
                        &d.at,
                        d.text(),
                        "lets every client in, as had does: not needed",
                    ),
                    None => self.drop_known(d),
                },
            }
        }
    }

    /// The site's `RewriteRule`s, once the whole site is read (httpd reads
    /// `RewriteEngine` wherever it is in the context).
    fn finish_rewrites(&mut self, scope: Scope) {
        let site = self.site(scope);
        let engine = site.rewrite_engine;
        let rules = std::mem::take(&mut site.rewrite_list);
        let stray = std::mem::take(&mut site.pending_conds);
        for c in &stray {
            self.report.note(
                &c.at,
                c.text(),
                "a RewriteCond with no RewriteRule after it does nothing: not carried over",
            );
        }
        let only = rules.len() == 1;
        for (i, r) in rules.into_iter().enumerate() {
            if engine == Some(true)
                && i == 0
                && let Some(redirect) = https_redirect(&r, only)
            {
                self.site(scope).https_redirect = Some(redirect);
                continue;
            }
            if engine != Some(true) {
                let why = "RewriteEngine On is not set in this context, so Apache does not run this rule: not carried over";
                for c in &r.conds {
                    self.report.note(&c.at, c.text(), why);
                }
                self.report.note(&r.rule.at, r.rule.text(), why);
                continue;
            }
            if let Some(pass) = self.rewrite(&r) {
                self.site(scope).rewrites.push(pass);
            }
        }
    }

    /// `RewriteRule ^/app/(.*)$ balancer://NAME/$1 [P]`, or why not.
    fn rewrite(&mut self, r: &Rewrite) -> Option<Pass> {
        let d = &r.rule;
        let [pattern, subst, rest @ ..] = d.args.as_slice() else {
            self.report
                .problem(&d.at, "RewriteRule needs a pattern and a substitution");
            return None;
        };
        let flags: Vec<String> = rest.first().map(|f| rewrite_flags(f)).unwrap_or_default();
        let proxy = flags.iter().any(|f| f == "p" || f == "proxy");
        if !proxy {
            for c in &r.conds {
                self.report.note(
                    &c.at,
                    c.text(),
                    format!(
                        "the condition of the rule at line {}, which is not carried over",
                        d.at.line
                    ),
                );
            }
            self.report
                .note(&d.at, d.text(), format!("{REWRITE}: not carried over"));
            return None;
        }
        let refuse = |report: &mut Report, why: String| {
            report.problem(
                &d.at,
                format!("{}: {why}; had imports RewriteRule [P] only as ^/PREFIX(.*)$ to balancer://NAME/...$1 or http://HOST/...$1 with no RewriteCond", d.text()),
            );
            None
        };
        if let Some(c) = r.conds.first() {
            return refuse(
                self.report,
                format!(
                    "the RewriteCond at line {} makes it conditional, which a route cannot be",
                    c.at.line
                ),
            );
        }
        for f in &flags {
            if !matches!(
                f.as_str(),
                "p" | "proxy"
                    | "l"
                    | "last"
                    | "nc"
                    | "nocase"
                    | "qsa"
                    | "qsappend"
                    | "ne"
                    | "noescape"
                    | "end"
            ) {
                return refuse(self.report, format!("the flag {f} has no equivalent"));
            }
        }
        if pattern.starts_with('!') || !pattern.starts_with("^/") {
            return refuse(
                self.report,
                "the pattern is not anchored at the start of the path (^/...)".into(),
            );
        }
        if subst.contains("%{") || subst.contains("${") {
            return refuse(
                self.report,
                "the substitution uses variables, and a route substitutes only $N".into(),
            );
        }
        let substitutes = subst
            .as_bytes()
            .windows(2)
            .any(|w| w.first() == Some(&b'$') && w.get(1).is_some_and(u8::is_ascii_digit));
        if !substitutes {
            return refuse(
                self.report,
                "the substitution has no $N (a route without one would append the whole path)"
                    .into(),
            );
        }
        let nocase = flags.iter().any(|f| f == "nc" || f == "nocase");
        let regex = if nocase {
            format!("(?i){pattern}")
        } else {
            pattern.clone()
        };
        if let Err(e) = lb_proxy::route::PathRegex::parse(&regex) {
            return refuse(self.report, e);
        }
        let target = match parse_url(subst) {
            Url::Balancer { name, to } => Target::Balancer {
                key: name.to_ascii_lowercase(),
                to,
            },
            Url::Http { origin, .. } if !origin.contains('$') => Target::Url(subst.clone()),
            Url::Http { .. } => {
                return refuse(self.report, "$N in the host cannot be routed".into());
            }
            Url::Unsupported(scheme) => {
                self.report.problem(&d.at, unsupported_scheme(&scheme));
                return None;
            }
            Url::Invalid => {
                return refuse(
                    self.report,
                    "the substitution is not a URL (a [P] rule proxies to one)".into(),
                );
            }
        };
        Some(Pass {
            path: PathMatch::Regex(regex),
            target,
            url: None,
            at: d.at.clone(),
            text: d.text(),
        })
    }
}

/// What `$1` holds after a `RewriteRule` pattern that matches every
/// URL-path (which starts with `/` in a virtual host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Capture {
    /// No group.
    None,
    /// The whole path.
    Whole,
    /// What follows its first `/`.
    AfterSlash,
}

/// The patterns people write to match every path, and their `$1`.
fn every_path(pattern: &str) -> Option<Capture> {
    Some(match pattern {
        "^" | "^/" | "/" | ".*" | "^.*" | "^.*$" | "^/.*" | "^/.*$" | "^/?.*" | "^/?.*$" => {
            Capture::None
        }
        "(.*)" | "^(.*)" | "^(.*)$" => Capture::Whole,
        "^/(.*)" | "^/(.*)$" | "^/?(.*)" | "^/?(.*)$" => Capture::AfterSlash,
        _ => return None,
    })
}

/// The flags of a `RewriteRule` or `RewriteCond` (`[P,L]`, `[NC,OR]`),
/// trimmed and in lower case, as mod_rewrite compares them.
fn rewrite_flags(arg: &str) -> Vec<String> {
    arg.trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|f| f.trim().to_ascii_lowercase())
        .collect()
}

/// A `RewriteCond` that can hold on every request of a plain-HTTP virtual
/// host (whether it does depends on the host: [`super::convert`] decides).
fn redirect_cond(c: &Directive) -> Option<RedirectCond> {
    let [test, pattern, rest @ ..] = c.args.as_slice() else {
        return None;
    };
    let mut nocase = false;
    match rest {
        [] => {}
        [flags] => {
            for f in rewrite_flags(flags) {
                match f.as_str() {
                    "nc" | "nocase" => nocase = true,
                    // Conditions that all hold hold however they are joined.
                    "or" | "ornext" => {}
                    _ => return None,
                }
            }
        }
        _ => return None,
    }
    let lower = pattern.to_ascii_lowercase();
    match test.as_str() {
        "%{HTTPS}" => match lower.as_str() {
            // `off` never contains, nor equals, `on`.
            "!on" | "!=on" | "!^on$" | "!^on" => Some(RedirectCond::HttpsOff),
            "off" | "=off" | "^off$" | "^off" if nocase || pattern.as_str() == lower => {
                Some(RedirectCond::HttpsOff)
            }
            _ => None,
        },
        "%{SERVER_PORT}" => match pattern.as_str() {
            "!^443$" | "!=443" => Some(RedirectCond::PortNot(443)),
            "^80$" | "=80" => Some(RedirectCond::PortIs(80)),
            _ => None,
        },
        "%{SERVER_NAME}" => pattern
            .strip_prefix('=')
            .filter(|n| !n.is_empty())
            .map(|n| RedirectCond::ServerNameIs(n.to_owned(), nocase)),
        _ => None,
    }
}

/// `RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]` and the
/// forms like it: every path to the same path on https://, the query kept;
/// `only` when it is the context's only rule (without `L` the rules after
/// it would rewrite the redirect).
fn https_redirect(r: &Rewrite, only: bool) -> Option<HttpsRedirect> {
    let d = &r.rule;
    let [pattern, subst, rest @ ..] = d.args.as_slice() else {
        return None;
    };
    let capture = every_path(pattern)?;
    let mut status = 302;
    let mut last = false;
    match rest {
        [] => {}
        [flags] => {
            for f in rewrite_flags(flags) {
                let (name, value) = f.split_once('=').unwrap_or((f.as_str(), ""));
                match name {
                    "r" | "redirect" => {
                        status = match value {
                            "" | "temp" => 302,
                            "permanent" => 301,
                            "seeother" => 303,
                            n => n.parse().ok()?,
                        };
                        if !matches!(status, 301 | 302 | 303 | 307 | 308) {
                            return None;
                        }
                    }
                    "l" | "last" | "end" => last = true,
                    // The path is escaped as had's redirect keeps it, or
                    // not (NE); the query is appended either way, as had's.
                    "ne" | "noescape" | "nc" | "nocase" | "qsa" | "qsappend" => {}
                    _ => return None,
                }
            }
        }
        _ => return None,
    }
    if !(last || only) {
        return None;
    }
    let after = subst
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .and(subst.get(8..))?;
    let (host, path) = if let Some(p) = after.strip_prefix("%{HTTP_HOST}") {
        (RedirectHost::ClientHost, p)
    } else if let Some(p) = after.strip_prefix("%{SERVER_NAME}") {
        (RedirectHost::ServerName, p)
    } else {
        let end = after.find(['/', '%', '$']).unwrap_or(after.len());
        let (literal, p) = after.split_at(end);
        let valid = !literal.is_empty()
            && literal
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if !valid {
            return None;
        }
        (RedirectHost::Literal(literal.to_owned()), p)
    };
    let whole_path = matches!(
        (path, capture),
        ("%{REQUEST_URI}", _) | ("/$1", Capture::AfterSlash) | ("$1", Capture::Whole)
    );
    if !whole_path {
        return None;
    }
    let conds = r
        .conds
        .iter()
        .map(|c| redirect_cond(c).map(|k| (k, c.clone())))
        .collect::<Option<Vec<_>>>()?;
    Some(HttpsRedirect {
        host,
        status,
        conds,
        rule: d.clone(),
    })
}

/// Apache's literal join of a `ProxyPass` or `Redirect` target and the rest
/// of the path: a path ending in `/` leaves a rest that starts without one,
/// so a target with no path of its own gives `http://b:8080x`, a URL that
/// does not work. Why, when that happens.
pub(super) fn broken_join(path: &str, url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    if rest.contains('/') || rest.contains('?') || !path.ends_with('/') {
        return None;
    }
    Some(format!(
        "Apache joins {url} and what follows {path} with no slash between them ({url}x for {path}x, not a URL that works): write {url}/"
    ))
}

fn count_directives(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|n| match n {
            Node::Directive(_) => 1,
            Node::Section(s) => count_directives(&s.children),
        })
        .sum()
}

fn any_restrictive(nodes: &[Node]) -> bool {
    nodes.iter().any(|n| match n {
        Node::Directive(d) => access(d) == Some(Access::Restrictive),
        Node::Section(s) => {
            matches!(
                s.head.key().as_str(),
                "requireall" | "requireany" | "requirenone"
            ) || any_restrictive(&s.children)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::source::words;
    use super::*;

    #[test]
    fn addresses() {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let a = |ip: IpAddr, port: Option<u16>| Some(SiteAddr { ip, port });
        assert_eq!(parse_addr("80"), a(any, Some(80)));
        assert_eq!(parse_addr("*:8080"), a(any, Some(8080)));
        assert_eq!(parse_addr("_default_:80"), a(any, Some(80)));
        assert_eq!(parse_addr("*"), a(any, None));
        assert_eq!(parse_addr("*:*"), a(any, None));
        assert_eq!(
            parse_addr("198.18.0.200:80"),
            a(IpAddr::from([198, 18, 0, 200]), Some(80))
        );
        assert_eq!(
            parse_addr("[2001:db8::1]:80"),
            a("2001:db8::1".parse().expect("ip"), Some(80))
        );
        assert_eq!(
            parse_addr("[::]:80"),
            a(IpAddr::V6(Ipv6Addr::UNSPECIFIED), Some(80))
        );
        assert_eq!(parse_addr("www.example.com:80"), None);
    }

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("balancer://MyCluster/app/"),
            Url::Balancer {
                name: "MyCluster".into(),
                to: "/app/".into()
            }
        );
        assert_eq!(
            parse_url("balancer://c"),
            Url::Balancer {
                name: "c".into(),
                to: String::new()
            }
        );
        assert_eq!(
            parse_url("wss://198.18.0.1:8443/ws"),
            Url::Http {
                origin: "wss://198.18.0.1:8443".into(),
                path: "/ws".into()
            }
        );
        assert_eq!(parse_url("ajp://t:8009/"), Url::Unsupported("ajp".into()));
        assert_eq!(
            parse_url("unix:/run/x.sock|http://l/"),
            Url::Unsupported("unix".into())
        );
        assert_eq!(parse_url("/x"), Url::Invalid);
    }

    #[test]
    fn broken_joins() {
        assert!(broken_join("/app/", "http://b:8080").is_some());
        assert!(broken_join("/", "balancer://c").is_some());
        assert!(broken_join("/app", "http://b:8080").is_none());
        assert!(broken_join("/app/", "http://b:8080/").is_none());
        assert!(broken_join("/app/", "http://b:8080/x").is_none());
    }

    fn directive(name: &str, args: &str) -> Directive {
        Directive {
            name: name.into(),
            args: words(args),
            at: Location {
                file: PathBuf::from("site.conf"),
                line: 1,
            },
        }
    }

    #[test]
    fn ssl_protocol_as_mod_ssl_reads_it() {
        let names = |args: &str| {
            protocol_set(&directive("SSLProtocol", args))
                .map(|s| (protocol_names(s.bits), s.replaced))
        };
        let ok = |n: &[&'static str], replaced: bool| Ok((n.to_vec(), replaced));
        assert_eq!(
            names("all -SSLv3"),
            ok(&["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"], false)
        );
        assert_eq!(
            names("-all +TLSv1.2 +TLSv1.3"),
            ok(&["TLSv1.2", "TLSv1.3"], false)
        );
        assert_eq!(names("-SSLv2 TLSv1.2"), ok(&["TLSv1.2"], false));
        assert_eq!(names("TLSv1.2 TLSv1.3"), ok(&["TLSv1.3"], true));
        assert_eq!(names("+TLSv1.2 -TLSv1.2"), ok(&[], false));
        assert!(names("+SSLv2").is_err());
        assert!(names("TLSv2").is_err());
    }

    #[test]
    fn https_redirect_shapes() {
        let rule = |args: &str, conds: &[&str], only: bool| {
            https_redirect(
                &Rewrite {
                    rule: directive("RewriteRule", args),
                    conds: conds.iter().map(|c| directive("RewriteCond", c)).collect(),
                },
                only,
            )
            .map(|r| {
                (
                    r.host,
                    r.status,
                    r.conds.into_iter().map(|(c, _)| c).collect::<Vec<_>>(),
                )
            })
        };
        assert_eq!(
            rule(
                "^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]",
                &["%{HTTPS} off"],
                false
            ),
            Some((RedirectHost::ClientHost, 301, vec![RedirectCond::HttpsOff]))
        );
        assert_eq!(
            rule(
                "^ https://%{SERVER_NAME}%{REQUEST_URI} [END,NE,R=permanent]",
                &["%{SERVER_NAME} =www.example.com"],
                false
            ),
            Some((
                RedirectHost::ServerName,
                301,
                vec![RedirectCond::ServerNameIs("www.example.com".into(), false)]
            ))
        );
        // No [R]: an absolute URL with another scheme is a 302 redirect.
        assert_eq!(
            rule(
                "(.*) https://%{HTTP_HOST}%{REQUEST_URI}",
                &["%{SERVER_PORT} !^443$"],
                true
            ),
            Some((
                RedirectHost::ClientHost,
                302,
                vec![RedirectCond::PortNot(443)]
            ))
        );
        assert_eq!(
            rule("^/(.*)$ https://www.example.com/$1 [L,R=308]", &[], false),
            Some((RedirectHost::Literal("www.example.com".into()), 308, vec![]))
        );
        // Not the same path, another flag, without L among other rules, a
        // condition that does not always hold, a status had has not.
        assert_eq!(
            rule("^/(.*)$ https://www.example.com/$1 [R,L]", &[], false).map(|r| r.1),
            Some(302)
        );
        assert!(rule("^/app https://www.example.com/ [R,L]", &[], true).is_none());
        assert!(rule("^(.*)$ https://www.example.com/$1 [R,L]", &[], true).is_none());
        assert!(rule("^ https://%{HTTP_HOST}%{REQUEST_URI} [R,QSD,L]", &[], true).is_none());
        assert!(rule("^ https://%{HTTP_HOST}%{REQUEST_URI} [R]", &[], false).is_none());
        assert!(
            rule(
                "^ https://%{HTTP_HOST}%{REQUEST_URI} [R,L]",
                &["%{HTTPS} OFF"],
                true
            )
            .is_none()
        );
        assert!(rule("^ https://%{HTTP_HOST}%{REQUEST_URI} [R=404,L]", &[], true).is_none());
        assert!(rule("^ http://%{HTTP_HOST}%{REQUEST_URI} [R,L]", &[], true).is_none());
    }

    #[test]
    fn host_names() {
        assert_eq!(host_name("www.example.com"), "www.example.com");
        assert_eq!(host_name("https://www.example.com:443"), "www.example.com");
        assert_eq!(host_name("[2001:db8::1]:80"), "[2001:db8::1]");
    }
}
