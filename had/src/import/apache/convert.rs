//! From the Apache model to had.toml: each `<VirtualHost>` (and the main
//! server, where it serves) becomes a `[proxy.NAME]` virtual host whose
//! routes are in the order httpd tries them, and each balancer a route
//! uses becomes a `[balancer.NAME]`.
//!
//! httpd's order, which had's first-match routes follow:
//! 1. `RewriteRule ... [P]` (mod_rewrite translates first);
//! 2. `ProxyPass` inside `<Location>`, the last matching section winning
//!    (merged in file order, so they are written last first);
//! 3. `ProxyPass`/`ProxyPassMatch`, the main server's before the virtual
//!    host's (mod_proxy merges them so);
//! 4. `Redirect`/`RedirectMatch`, then `Alias` (mod_alias, the virtual
//!    host's before the main server's);
//! 5. what is left is a file under `DocumentRoot`.
//!
//! A route after one that takes every path (`ProxyPass /`) is never
//! reached, in httpd as in had: it is left out with a note.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::Report;
use super::model::{
    Engine, FileSetting, Guard, HttpsRedirect, Model, Pass, PathMatch, RedirectCond, RedirectHost,
    Reverse, SSLV3, Scope, Setting, Site, SiteAddr, Ssl, TLSV1, TLSV1_1, TLSV1_2, TLSV1_3, Target,
    Url, on_off, parse_url, protocol_names, protocol_set, ssl_reason,
};
use super::source::Directive;
use crate::config::{Balancer, Config, Proxy, ProxyTls, Route, VerifyClient};
use crate::import::Location;

/// Apache's default `retry` of a failed member (had's own default is 5 s).
const APACHE_RETRY: Duration = Duration::from_secs(60);
/// Apache's default `Timeout`, which `ProxyTimeout` defaults to.
const APACHE_TIMEOUT: Duration = Duration::from_secs(60);
/// had's connect timeout when no member sets `connectiontimeout`.
const HAD_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// had's TLS handshake timeout when `tls.handshake_timeout` is not set.
const HAD_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Converts `model`; problems and notes go to `report`.
pub(super) fn convert(model: &Model, report: &mut Report) -> Config {
    let names = balancer_names(model);
    let defaults = defaults(model);
    let mut c = Converter {
        model,
        report,
        names,
        defaults,
        used: BTreeSet::new(),
        dropped: Vec::new(),
        used_balancers: BTreeSet::new(),
        sticky: BTreeMap::new(),
    };
    let mut hosts = Vec::new();
    for (i, site) in model.vhosts.iter().enumerate() {
        if let Some(h) = c.host(Scope::Vhost(i), site) {
            hosts.push(h);
        }
    }
    if let Some(h) = c.main_host() {
        hosts.push(h);
    }
    c.server_notes();
    c.finish(hosts)
}

/// Where a route sends, to match `ProxyPassReverse` lines against it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// A balancer, by its lower-case name.
    Balancer(String),
    /// A member's `scheme://authority`, in lower case.
    Url(String),
}

/// A route as built, with where it came from.
#[derive(Debug, Clone)]
struct Built {
    route: Route,
    at: Location,
    text: String,
    /// A prefix of only `/`: every path matches.
    catch_all: bool,
    /// For `ProxyPassReverse`: where it sends and the target's path.
    origin: Option<(Origin, String)>,
    /// The balancer (index in the model) it sends to.
    balancer: Option<usize>,
}

/// One connection setting compared between the first host of an address
/// and another: had's key, Apache's directive, the first's value, the
/// other's, whether they agree, where the other sets it.
type SettingCheck<'a> = (
    &'static str,
    &'static str,
    String,
    String,
    bool,
    &'a Option<Location>,
);

/// A `[proxy]` being built.
struct Host {
    name: String,
    label: String,
    at: Location,
    listen: Vec<SocketAddr>,
    server_name: Option<String>,
    server_alias: Vec<String>,
    preserve_host: bool,
    routes: Vec<Route>,
    /// The certificate (`SSLEngine on`).
    tls: Option<ProxyTls>,
    conn: Conn,
}

/// A connection setting and the line that set it (none: a default).
#[derive(Debug, Clone, PartialEq)]
struct Val<T> {
    value: T,
    at: Option<Location>,
}

impl<T: Clone> Val<T> {
    fn of(setting: Option<&Setting<T>>) -> Val<Option<T>> {
        Val {
            value: setting.map(|s| s.value.clone()),
            at: setting.map(|s| s.at.clone()),
        }
    }
}

/// The settings a listener group shares: had takes them from its first
/// `[proxy]`.
#[derive(Debug, Clone)]
struct Conn {
    timeout: Val<Duration>,
    connect_timeout: Val<Duration>,
    header_read: Val<Option<Duration>>,
    body_read: Val<Option<Duration>>,
    /// `Timeout`: also how long Apache waits to send to a client.
    send: Val<Option<Duration>>,
    limit_line: Val<Option<u32>>,
    limit_field_size: Val<Option<u32>>,
    limit_fields: Val<Option<u32>>,
    access_log: Val<Option<PathBuf>>,
    /// `SSLEngine on` (its line): the address serves TLS.
    tls: Option<Location>,
    /// `RequestReadTimeout handshake=`.
    handshake: Val<Option<Duration>>,
    /// `SSLVerifyClient` and what goes with it.
    client: Val<Option<ClientCerts>>,
    /// `SSLProxyCACertificateFile`.
    member_ca: Val<Option<PathBuf>>,
    /// `SSLProxyVerify`.
    member_verify: Val<bool>,
    /// Where the host first sends to an `https://` or `wss://` member:
    /// the member settings matter to it.
    https_member: Option<Location>,
}

/// The client certificates a TLS site asks for (`SSLVerifyClient`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClientCerts {
    /// `SSLCACertificateFile`.
    ca: PathBuf,
    verify: VerifyClient,
    /// `SSLVerifyDepth`; `None`: Apache's (and had's) 1.
    depth: Option<u8>,
    /// The `SSLVerifyClient` line.
    at: Location,
}

struct Converter<'m, 'r> {
    model: &'m Model,
    report: &'r mut Report,
    /// The `[balancer]` name of each balancer of the model.
    names: Vec<String>,
    /// Per `<VirtualHost>`: whether it is the first on one of its
    /// addresses, so Apache gives it every `Host` no other one names.
    defaults: Vec<bool>,
    /// Lines whose directive made it into the output.
    used: BTreeSet<(PathBuf, usize)>,
    /// Lines left out, with the directive and why (noted unless used elsewhere).
    dropped: Vec<(Location, String, String)>,
    used_balancers: BTreeSet<usize>,
    /// The `sticky_cookie` of each balancer, and the `Header` line.
    sticky: BTreeMap<usize, (String, Location)>,
}

/// Each balancer's `[balancer]` name: as first written, made unique.
fn balancer_names(model: &Model) -> Vec<String> {
    let mut taken = BTreeSet::new();
    model
        .balancers
        .iter()
        .map(|b| {
            let mut name = b.name.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{}_{n}", b.name);
                n += 1;
            }
            taken.insert(name.clone());
            name
        })
        .collect()
}

/// A name usable as a bare TOML key: `[A-Za-z0-9_-]`, others as `_`.
fn key_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn trimmed(s: &str) -> &str {
    s.trim_end_matches('/')
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

impl Converter<'_, '_> {
    fn drop(&mut self, at: &Location, text: &str, why: impl Into<String>) {
        self.dropped.push((at.clone(), text.to_owned(), why.into()));
    }

    fn host(&mut self, scope: Scope, site: &Site) -> Option<Host> {
        let tls_at = self.tls_on(scope, site);
        let mut tls = match &tls_at {
            Some(at) => self.certificate(scope, site, at),
            None => {
                self.plain(scope, site);
                None
            }
        };
        let client = self.ssl_settings(scope, site, tls_at.as_ref());
        if let (Some(t), Some(c)) = (&mut tls, &client) {
            t.client_ca = Some(c.ca.clone());
            t.verify_client = Some(c.verify);
            t.verify_depth = c.depth;
        }
        let mut routes = self.routes(scope, site, tls_at.is_some());
        self.pass_reverse(scope, site, &mut routes);
        self.sticky_header(scope, site, &routes);
        self.restrictions(scope, site, &routes, tls_at.is_some());
        let listen = self.listen(site);
        let server_name = site
            .server_name
            .as_ref()
            .or(self.model.server.server_name.as_ref());
        if let Some(n) = server_name {
            self.used.insert(place(&n.at));
        }
        let mut conn = self.conn(scope, site, &routes);
        conn.handshake = self.handshake(scope, site, tls_at.is_some());
        conn.tls = tls_at;
        conn.client = Val {
            at: client.as_ref().map(|c| c.at.clone()),
            value: client,
        };
        self.member_tls(scope, site, &routes, &mut conn);
        let name = self.host_name(scope, site, &routes);
        for r in &routes {
            self.used.insert(place(&r.at));
        }
        Some(Host {
            name,
            label: site.label(),
            at: site.at.clone(),
            listen,
            server_name: server_name.map(|n| n.value.clone()),
            server_alias: site.server_alias.clone(),
            preserve_host: site
                .preserve_host
                .or(self.model.server.preserve_host)
                .unwrap_or(false),
            routes: routes.into_iter().map(|b| b.route).collect(),
            tls,
            conn,
        })
    }

    /// The main server, when it serves: when it has routes of its own and
    /// a `Listen` address no `<VirtualHost>` takes.
    fn main_host(&mut self) -> Option<Host> {
        let server = &self.model.server;
        let has_routes = !(server.passes.is_empty()
            && server.location_passes.is_empty()
            && server.rewrites.is_empty()
            && server.redirects.is_empty());
        if !has_routes {
            return None;
        }
        let taken: Vec<Option<u16>> = self
            .model
            .vhosts
            .iter()
            .flat_map(|v| v.addrs.iter().map(|a| a.port))
            .collect();
        if taken.contains(&None) {
            return None;
        }
        let free: Vec<&Setting<SocketAddr>> = self
            .model
            .listens
            .iter()
            .filter(|l| !taken.contains(&Some(l.value.port())))
            .collect();
        if free.is_empty() && !(self.model.listens.is_empty() && self.model.vhosts.is_empty()) {
            return None;
        }
        let mut host = self.host(Scope::Server, server)?;
        if free.is_empty() {
            host.listen = vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80)];
            let at = server
                .passes
                .first()
                .or(server.location_passes.first())
                .or(server.rewrites.first())
                .map_or(&server.at, |p| &p.at);
            self.report.note(
                at,
                "Listen",
                "no Listen or <VirtualHost> in these files: the main server is imported on *:80, Apache's usual port",
            );
        } else {
            host.listen = free.iter().map(|l| l.value).collect();
            for l in free {
                self.used.insert(place(&l.at));
            }
        }
        Some(host)
    }

    /// Whether the site serves TLS (`SSLEngine on`, its own or the main
    /// server's, or `SSLEngine ADDR:PORT` naming one of its addresses):
    /// the `SSLEngine` line.
    fn tls_on(&mut self, scope: Scope, site: &Site) -> Option<Location> {
        let server = &self.model.server;
        let (engine, d) = pick_in(scope, &site.ssl, &server.ssl, |s| &s.engine)?;
        let on = match engine {
            Engine::On => true,
            Engine::Addrs(list) => site
                .addrs
                .iter()
                .any(|a| list.iter().any(|e| engine_covers(e, a))),
            Engine::Off | Engine::Optional => false,
        };
        match engine {
            _ if on => {
                self.used.insert(place(&d.at));
                return Some(d.at.clone());
            }
            // Plain HTTP, in Apache as in had.
            Engine::Off => {
                self.used.insert(place(&d.at));
            }
            Engine::Optional => self.drop(
                &d.at,
                &d.text(),
                "TLS only for a client that upgrades to it within HTTP/1.1 (RFC 2817), which no browser does: had serves this virtual host without TLS, as Apache serves every other client: not carried over",
            ),
            _ => self.drop(
                &d.at,
                &d.text(),
                format!(
                    "{} is on none of these addresses, so Apache serves it without TLS, and so will had: not needed",
                    site.label()
                ),
            ),
        }
        None
    }

    /// The certificate of a TLS site: mod_ssl lists the host's own
    /// `SSLCertificateFile`s before the main server's, pairs each with the
    /// key at the same place (the certificate's own file without one), and
    /// takes the host's `SSLCertificateChainFile`, else the main server's.
    fn certificate(&mut self, scope: Scope, site: &Site, engine: &Location) -> Option<ProxyTls> {
        let server = &self.model.server.ssl;
        let own = &site.ssl;
        let inherited = |list: &'_ Vec<FileSetting>| -> Vec<FileSetting> {
            if scope == Scope::Server {
                Vec::new()
            } else {
                list.clone()
            }
        };
        let certs: Vec<FileSetting> = own
            .certs
            .iter()
            .cloned()
            .chain(inherited(&server.certs))
            .collect();
        let keys: Vec<FileSetting> = own
            .keys
            .iter()
            .cloned()
            .chain(inherited(&server.keys))
            .collect();
        let Some(cert) = certs.first() else {
            self.report.problem(
                engine,
                format!(
                    "SSLEngine on, but no SSLCertificateFile is given for {} (Apache refuses to start without one): give the virtual host its certificate with SSLCertificateFile, and SSLCertificateKeyFile unless the key is in the same file",
                    site.label()
                ),
            );
            return None;
        };
        for (what, list) in [("certificate", &certs), ("key", &keys)] {
            if let (Some(first), Some(second)) = (list.first(), list.get(1)) {
                self.report.problem(
                    &second.at,
                    format!(
                        "{}: a second {what} for {} (the first is at {}): had serves one certificate per virtual host (Apache can hold an RSA and an ECDSA one); keep one SSLCertificateFile and its SSLCertificateKeyFile",
                        second.text,
                        site.label(),
                        first.at
                    ),
                );
                return None;
            }
        }
        let chain = pick_in(scope, own, server, |s| &s.chain);
        let key = keys.first();
        for f in [Some(cert), key, chain].into_iter().flatten() {
            self.used.insert(place(&f.at));
        }
        Some(ProxyTls {
            cert: cert.path.clone(),
            key: key.map_or_else(|| cert.path.clone(), |k| k.path.clone()),
            chain: chain.map(|c| c.path.clone()),
            strict_sni: false,
            handshake_timeout: None,
            ticket_keys: None,
            client_ca: None,
            verify_client: None,
            verify_depth: None,
            client_subject_header: None,
        })
    }

    /// A site without TLS: its certificate and protocol lines (and the main
    /// server's it would inherit) are left out.
    fn plain(&mut self, scope: Scope, site: &Site) {
        let why = format!(
            "without SSLEngine on, Apache serves {} without TLS, and so will had: not carried over",
            site.label()
        );
        let mut lines: Vec<(Location, String)> = Vec::new();
        let mut add = |ssl: &Ssl| {
            for f in ssl
                .certs
                .iter()
                .chain(&ssl.keys)
                .chain(&ssl.chain)
                .chain(&ssl.ca_file)
            {
                lines.push((f.at.clone(), f.text.clone()));
            }
            for d in ssl
                .protocol
                .iter()
                .chain(&ssl.verify_client)
                .chain(&ssl.ca_path)
                .chain(&ssl.verify_depth)
                .chain(&ssl.revocation)
            {
                lines.push((d.at.clone(), d.text()));
            }
        };
        add(&site.ssl);
        if scope != Scope::Server {
            add(&self.model.server.ssl);
        }
        for (at, text) in lines {
            self.drop(&at, &text, why.clone());
        }
    }

    /// `SSLProtocol`, `SSLVerifyClient`, `Protocols` and the other `SSL*`
    /// lines of a site; `tls` is its `SSLEngine on` line. The client
    /// certificates it asks for, if any.
    fn ssl_settings(
        &mut self,
        scope: Scope,
        site: &Site,
        tls: Option<&Location>,
    ) -> Option<ClientCerts> {
        let server = &self.model.server.ssl;
        let mut client = None;
        if let Some(engine) = tls {
            match pick_in(scope, &site.ssl, server, |s| &s.protocol) {
                Some(d) => self.ssl_protocol(d),
                None => self.report.note(
                    engine,
                    "SSLEngine on",
                    "no SSLProtocol: Apache's default (all -SSLv3) also accepts TLSv1 and TLSv1.1 where the system's OpenSSL allows them (most current distributions' OpenSSL does not); had serves TLS 1.2 and 1.3 only",
                ),
            }
            client = self.client_certs(scope, site);
        }
        if let Some(d) = pick_in(scope, &site.ssl, server, |s| &s.protocols) {
            self.protocols(d, tls.is_some());
        }
        for d in &site.ssl.other {
            self.drop(
                &d.at,
                &d.text(),
                format!("{}: not carried over", ssl_reason(&d.key())),
            );
        }
        client
    }

    /// `SSLProtocol` on a TLS site: had serves TLS 1.2 and 1.3.
    fn ssl_protocol(&mut self, d: &Directive) {
        let set = match protocol_set(d) {
            Ok(set) => set,
            Err(e) => {
                self.report.problem(&d.at, e);
                return;
            }
        };
        let modern = TLSV1_2 | TLSV1_3;
        let old = set.bits & (SSLV3 | TLSV1 | TLSV1_1);
        let replaced = if set.replaced {
            " (a protocol written without + or - replaces the ones before it)"
        } else {
            ""
        };
        if old != 0 {
            let all = if d
                .args
                .iter()
                .any(|a| a.trim_start_matches(['+', '-']).eq_ignore_ascii_case("all"))
            {
                " (Apache 2.4's `all` is SSLv3, where OpenSSL still has it, and TLSv1 to TLSv1.3)"
            } else {
                ""
            };
            self.report.problem(
                &d.at,
                format!(
                    "{} enables {}{all}{replaced}: had serves only TLS 1.2 and 1.3, so a client that speaks nothing newer could no longer connect (every current browser and TLS library speaks TLS 1.2). Decide whether that is acceptable; if it is, write `SSLProtocol -all +TLSv1.2 +TLSv1.3` and import again",
                    d.text(),
                    join_and(&protocol_names(old))
                ),
            );
        } else if set.bits == 0 {
            self.report.problem(
                &d.at,
                format!(
                    "{} enables no protocol{replaced} (Apache refuses to start): write `SSLProtocol -all +TLSv1.2 +TLSv1.3`",
                    d.text()
                ),
            );
        } else if set.bits == modern {
            self.used.insert(place(&d.at));
        } else {
            self.drop(
                &d.at,
                &d.text(),
                format!(
                    "enables {} only{replaced}; had serves both TLS 1.2 and 1.3 (not configurable): not carried over",
                    join_and(&protocol_names(set.bits))
                ),
            );
        }
    }

    /// `SSLVerifyClient` on a TLS site, with `SSLCACertificateFile` and
    /// `SSLVerifyDepth`: had's `tls.client_ca`, `verify_client` and
    /// `verify_depth`. Refused where had would let in a client Apache
    /// refuses: `optional_no_ca`, a CA directory, revocation checks.
    fn client_certs(&mut self, scope: Scope, site: &Site) -> Option<ClientCerts> {
        let server = &self.model.server.ssl;
        let own = &site.ssl;
        let d = pick_in(scope, own, server, |s| &s.verify_client);
        let ca = pick_in(scope, own, server, |s| &s.ca_file);
        let ca_path = pick_in(scope, own, server, |s| &s.ca_path);
        let depth = pick_in(scope, own, server, |s| &s.verify_depth);
        let mut revocation: Vec<&Directive> = own.revocation.iter().collect();
        if scope != Scope::Server && revocation.is_empty() {
            revocation = server.revocation.iter().collect();
        }
        let verify = match d.map(|d| d.arg(0).to_ascii_lowercase()) {
            None => None,
            Some(mode) if mode == "none" => None,
            Some(mode) if mode == "require" => Some(VerifyClient::Required),
            Some(mode) if mode == "optional" => Some(VerifyClient::Optional),
            Some(mode) if mode == "optional_no_ca" => {
                let d = d?;
                self.report.problem(
                    &d.at,
                    format!(
                        "{}: Apache lets in a client whose certificate it cannot verify; had verifies every certificate it accepts: use optional (and SSLCACertificateFile) if members do not rely on unverified ones",
                        d.text()
                    ),
                );
                return None;
            }
            Some(_) => {
                let d = d?;
                self.report.problem(
                    &d.at,
                    "SSLVerifyClient takes none, optional, require or optional_no_ca",
                );
                return None;
            }
        };
        let Some(verify) = verify else {
            // No client certificates: what only they use is dropped.
            if let Some(d) = d {
                self.drop(
                    &d.at,
                    &d.text(),
                    "the default: had asks no client for a certificate: not needed",
                );
            }
            let why = "used only with client certificates (SSLVerifyClient require or optional), which this site does not ask for: not carried over";
            let mut lines: Vec<(Location, String)> = Vec::new();
            if let Some(f) = &own.ca_file {
                lines.push((f.at.clone(), f.text.clone()));
            }
            for x in own
                .ca_path
                .iter()
                .chain(&own.verify_depth)
                .chain(&own.revocation)
            {
                lines.push((x.at.clone(), x.text()));
            }
            for (at, text) in lines {
                self.drop(&at, &text, why);
            }
            return None;
        };
        let d = d?;
        for r in &revocation {
            let off = r.key() == "sslcarevocationcheck" && r.arg(0).eq_ignore_ascii_case("none")
                || r.key() == "sslocspenable" && r.arg(0).eq_ignore_ascii_case("off");
            if off {
                // had checks no revocation either.
                self.used.insert(place(&r.at));
            } else {
                self.report.problem(
                    &r.at,
                    format!(
                        "{}: had does not check client certificates against revocation lists or OCSP, so it would let in a certificate Apache refuses as revoked: leave this site out of the import, or delete this line if every certificate the CAs issued may be used until it expires",
                        r.text()
                    ),
                );
                return None;
            }
        }
        let Some(ca) = ca else {
            let message = match ca_path {
                Some(p) => format!(
                    "{}: had reads client CAs from one file (tls.client_ca), not a directory ({}): concatenate its certificates into one file and name it in SSLCACertificateFile",
                    d.text(),
                    p.text()
                ),
                None => format!(
                    "{}: needs SSLCACertificateFile, the CAs client certificates must chain to",
                    d.text()
                ),
            };
            self.report.problem(&d.at, message);
            return None;
        };
        let depth = match depth {
            None => None,
            Some(x) => match x.arg(0).parse::<u8>() {
                Ok(n) if n >= 1 => {
                    self.used.insert(place(&x.at));
                    Some(n)
                }
                Ok(0) => {
                    self.report.problem(
                        &x.at,
                        format!(
                            "{}: only self-signed client certificates, which had cannot verify against SSLCACertificateFile; use 1 (a certificate issued directly by one of its CAs) or more",
                            x.text()
                        ),
                    );
                    return None;
                }
                _ => {
                    self.report
                        .problem(&x.at, format!("{}: needs a number from 1 to 255", x.text()));
                    return None;
                }
            },
        };
        self.used.insert(place(&d.at));
        self.used.insert(place(&ca.at));
        Some(ClientCerts {
            ca: ca.path.clone(),
            verify,
            depth,
            at: d.at.clone(),
        })
    }

    /// The core's `Protocols`: had offers h2 and http/1.1 on TLS listeners
    /// (ALPN) and HTTP/1.1 without TLS.
    fn protocols(&mut self, d: &Directive, tls: bool) {
        let words: Vec<String> = d.args.iter().map(|a| a.to_ascii_lowercase()).collect();
        let has = |w: &str| words.iter().any(|x| x == w);
        let others: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .filter(|w| !matches!(*w, "h2" | "h2c" | "http/1.1"))
            .collect();
        let mut why: Vec<String> = Vec::new();
        if has("h2c") {
            why.push(
                "had does not speak h2c (HTTP/2 without TLS); clients use HTTP/1.1 there".into(),
            );
        }
        if !others.is_empty() {
            why.push(format!(
                "had offers h2 and http/1.1 only, not {}",
                others.join(", ")
            ));
        }
        if tls && !has("h2") {
            why.push("had always offers h2 (HTTP/2) on TLS listeners, besides http/1.1".into());
        }
        if tls && !has("http/1.1") {
            why.push("had always offers http/1.1 on TLS listeners, besides h2".into());
        }
        if !tls && !has("http/1.1") {
            why.push("had serves HTTP/1.1 without TLS".into());
        }
        if why.is_empty() {
            self.used.insert(place(&d.at));
        } else {
            self.drop(
                &d.at,
                &d.text(),
                format!("{}: not carried over", why.join("; ")),
            );
        }
    }

    /// `RequestReadTimeout handshake=`: had's `tls.handshake_timeout`.
    fn handshake(&mut self, scope: Scope, site: &Site, tls: bool) -> Val<Option<Duration>> {
        let server = &self.model.server;
        let setting = pick_in(scope, site, server, |s| &s.handshake_read);
        if tls {
            return Val::of(setting);
        }
        if let Some(s) = &site.handshake_read {
            self.report.note(
                &s.at,
                format!("handshake={}", s.value.as_secs()),
                format!(
                    "{} serves no TLS, so there is no handshake: not carried over",
                    site.label()
                ),
            );
        }
        Val {
            value: None,
            at: None,
        }
    }

    /// The first `https://` or `wss://` member a host sends to, and where.
    fn https_member(&self, routes: &[Built]) -> Option<(Location, String)> {
        for b in routes {
            if let Some(url) = &b.route.url
                && is_tls_url(url)
            {
                return Some((b.at.clone(), url.clone()));
            }
            let members = b
                .balancer
                .and_then(|i| self.model.balancers.get(i))
                .map_or(&[][..], |def| &def.members);
            if let Some(m) = members.iter().find(|m| is_tls_url(&m.member.url)) {
                return Some((m.at.clone(), m.member.url.clone()));
            }
        }
        None
    }

    /// `SSLProxy*`: how had speaks TLS to the host's `https://` and
    /// `wss://` members (`member_ca_file`, `member_verify`).
    fn member_tls(&mut self, scope: Scope, site: &Site, routes: &[Built], conn: &mut Conn) {
        let server = &self.model.server.ssl;
        let own = &site.ssl;
        let engine = pick_in(scope, own, server, |s| &s.proxy_engine);
        let verify = pick_in(scope, own, server, |s| &s.proxy_verify);
        let ca_file = pick_in(scope, own, server, |s| &s.proxy_ca_file);
        let ca_path = pick_in(scope, own, server, |s| &s.proxy_ca_path);
        let name = pick_in(scope, own, server, |s| &s.proxy_check_name);
        let cn = pick_in(scope, own, server, |s| &s.proxy_check_cn);
        let expire = pick_in(scope, own, server, |s| &s.proxy_check_expire);
        let protocol = pick_in(scope, own, server, |s| &s.proxy_protocol);
        let client_cert: Vec<&Directive> = if scope == Scope::Server {
            own.proxy_client_cert.iter().collect()
        } else {
            own.proxy_client_cert
                .iter()
                .chain(&server.proxy_client_cert)
                .collect()
        };
        let Some((member_at, member_url)) = self.https_member(routes) else {
            let mut lines: Vec<(Location, String)> = Vec::new();
            for d in [engine, verify, ca_path, protocol]
                .into_iter()
                .flatten()
                .chain([name, cn, expire].into_iter().flatten().map(|(_, d)| d))
                .chain(client_cert)
            {
                lines.push((d.at.clone(), d.text()));
            }
            if let Some(f) = ca_file {
                lines.push((f.at.clone(), f.text.clone()));
            }
            let why = format!(
                "{} sends to no https:// or wss:// member: not needed",
                site.label()
            );
            for (at, text) in lines {
                self.drop(&at, &text, why.clone());
            }
            return;
        };
        conn.https_member = Some(member_at.clone());
        if let Some(d) = engine {
            if on_off(d.arg(0)) == Some(false) {
                self.drop(
                    &d.at,
                    &d.text(),
                    "Apache refuses https:// members with SSLProxyEngine off; had speaks TLS to them: not carried over",
                );
            } else {
                self.used.insert(place(&d.at));
            }
        }
        for d in client_cert {
            self.report.problem(
                &d.at,
                format!(
                    "{}: had presents no client certificate to members yet, so a member that asks for one would refuse had's connections",
                    d.text()
                ),
            );
        }
        if let Some(d) = protocol {
            match protocol_set(d) {
                Err(e) => self.report.problem(&d.at, e),
                Ok(set) if set.bits & (TLSV1_2 | TLSV1_3) == 0 => self.report.problem(
                    &d.at,
                    format!(
                        "{} enables {} only: had speaks TLS 1.2 and 1.3 to members",
                        d.text(),
                        join_and(&protocol_names(set.bits))
                    ),
                ),
                Ok(set) if set.bits == TLSV1_2 | TLSV1_3 => {
                    self.used.insert(place(&d.at));
                }
                Ok(_) => self.drop(
                    &d.at,
                    &d.text(),
                    "had speaks TLS 1.2 and 1.3 to https:// and wss:// members (not configurable): not carried over",
                ),
            }
        }
        let verifies = match verify.map(|d| d.arg(0).to_ascii_lowercase()).as_deref() {
            None | Some("require" | "optional") => true,
            Some("none" | "optional_no_ca") => false,
            Some(_) => {
                if let Some(d) = verify {
                    self.report.problem(
                        &d.at,
                        "SSLProxyVerify takes none, optional, require or optional_no_ca",
                    );
                }
                true
            }
        };
        // mod_ssl checks the name unless SSLProxyCheckPeerName is off, or
        // is unset while SSLProxyCheckPeerCN is off; the dates unless
        // SSLProxyCheckPeerExpire is off: with or without SSLProxyVerify.
        let name_off = match (name, cn) {
            (Some((false, d)), _) | (None, Some((false, d))) => Some(d),
            _ => None,
        };
        let expire_off = expire.filter(|(on, _)| !on).map(|(_, d)| d);
        if !verifies && let Some(d) = verify {
            conn.member_verify = Val {
                value: false,
                at: Some(d.at.clone()),
            };
            let mut unchecked = Vec::new();
            if name_off.is_none() {
                unchecked.push("names");
            }
            if expire_off.is_none() {
                unchecked.push("dates");
            }
            let mut why = "had accepts any certificate from this host's https:// and wss:// members (member_verify = false), and warns about it at start".to_owned();
            if !unchecked.is_empty() {
                why.push_str(&format!(
                    "; Apache still checked their {} (SSLProxyCheckPeerName and SSLProxyCheckPeerExpire are on unless turned off), had checks nothing",
                    unchecked.join(" and ")
                ));
            }
            self.used.insert(place(&d.at));
            self.report.note(&d.at, d.text(), why);
            for (_, d) in [name, cn, expire].into_iter().flatten() {
                self.used.insert(place(&d.at));
            }
            let why = "not needed: with SSLProxyVerify none had accepts any member certificate (member_verify = false)";
            if let Some(f) = ca_file {
                self.drop(&f.at, &f.text, why);
            }
            if let Some(d) = ca_path {
                self.drop(&d.at, &d.text(), why);
            }
            return;
        }
        match verify {
            Some(d) => {
                self.used.insert(place(&d.at));
                conn.member_verify = Val {
                    value: true,
                    at: Some(d.at.clone()),
                };
            }
            None => {
                let then = if ca_file.is_some() {
                    "against SSLProxyCACertificateFile (member_ca_file), which Apache does not use without SSLProxyVerify require: make sure it holds the CA of this member's certificate, or write SSLProxyVerify none"
                } else {
                    "against the system's CA store: if this member's certificate is self-signed or from a private CA, name that CA with SSLProxyCACertificateFile (member_ca_file), or write SSLProxyVerify none"
                };
                self.report.note(
                    &member_at,
                    member_url,
                    format!(
                        "Apache does not verify a member's certificate chain unless SSLProxyVerify require is set (it checks only its name and dates); had verifies it {then}"
                    ),
                );
            }
        }
        if let Some(d) = name_off {
            self.report.problem(
                &d.at,
                format!(
                    "{}: had verifies a member's certificate chain and its name together and cannot skip only the name check; write `SSLProxyVerify none` to turn both off (had then warns at start), or delete this line",
                    d.text()
                ),
            );
        }
        for (on, d) in [name, cn].into_iter().flatten() {
            if name_off.is_some_and(|o| o.at == d.at) {
                continue;
            }
            if *on {
                self.used.insert(place(&d.at));
            } else {
                self.drop(
                    &d.at,
                    &d.text(),
                    "no effect while SSLProxyCheckPeerName is on: had checks the name: not needed",
                );
            }
        }
        match (expire_off, expire) {
            (Some(d), _) => self.report.problem(
                &d.at,
                format!(
                    "{}: had checks a member certificate's dates along with its chain and cannot skip only that check; write `SSLProxyVerify none` to turn every check off (had then warns at start), or delete this line",
                    d.text()
                ),
            ),
            (None, Some((_, d))) => {
                self.used.insert(place(&d.at));
            }
            (None, None) => {}
        }
        if let Some(f) = ca_file {
            self.used.insert(place(&f.at));
            conn.member_ca = Val {
                value: Some(f.path.clone()),
                at: Some(f.at.clone()),
            };
        }
        if let Some(d) = ca_path {
            self.report.problem(
                &d.at,
                format!(
                    "{}: had takes the CA certificates members must chain to as one PEM file (member_ca_file), not a directory: put them in one file and name it with SSLProxyCACertificateFile",
                    d.text()
                ),
            );
        }
    }

    /// The routes of a site, in the order httpd tries them.
    fn routes(&mut self, scope: Scope, site: &Site, tls: bool) -> Vec<Built> {
        let mut candidates: Vec<Built> = Vec::new();
        if let Some(r) = &site.https_redirect {
            candidates.extend(self.https_redirect(scope, site, r, tls));
        }
        for p in &site.rewrites {
            candidates.extend(self.pass_route(scope, site, p));
        }
        let mut locations = merged(
            &self.model.server,
            scope,
            site,
            |s| &s.location_passes,
            true,
        );
        locations.reverse();
        for p in locations {
            candidates.extend(self.pass_route(scope, site, p));
        }
        for p in merged(&self.model.server, scope, site, |s| &s.passes, true) {
            candidates.extend(self.pass_route(scope, site, p));
        }
        let consumed = self.redirect_exclusions(scope, site, &mut candidates);
        for r in merged(&self.model.server, scope, site, |s| &s.redirects, false) {
            let mut route = Route::default();
            match &r.path {
                PathMatch::Prefix(p) => route.path = Some(p.clone()),
                PathMatch::Regex(re) => route.path_regex = Some(re.clone()),
            }
            route.redirect = Some(r.to.clone());
            route.status = (r.status != 302).then_some(r.status);
            candidates.push(Built {
                catch_all: is_root(&r.path),
                route,
                at: r.at.clone(),
                text: r.text.clone(),
                origin: None,
                balancer: None,
            });
        }
        for a in merged(&self.model.server, scope, site, |s| &s.aliases, false) {
            if let Err(e) = lb_proxy::route::PathPrefix::parse(&a.path) {
                self.drop(&a.at, &a.text, format!("the path {e}: not carried over"));
                continue;
            }
            let route = Route {
                path: Some(a.path.clone()),
                exclude: true,
                directory: Some(a.dir.clone()),
                ..Route::default()
            };
            candidates.push(Built {
                catch_all: is_root(&PathMatch::Prefix(a.path.clone())),
                route,
                at: a.at.clone(),
                text: a.text.clone(),
                origin: None,
                balancer: None,
            });
        }
        let root = site
            .document_root
            .as_ref()
            .or(self.model.server.document_root.as_ref());
        if let Some(root) = root {
            candidates.push(Built {
                route: Route {
                    path: Some("/".into()),
                    exclude: true,
                    directory: Some(root.value.clone()),
                    ..Route::default()
                },
                at: root.at.clone(),
                text: format!("DocumentRoot {}", root.value.display()),
                catch_all: true,
                origin: None,
                balancer: None,
            });
        }
        // Nothing after a route that takes every path is reached.
        let mut out: Vec<Built> = Vec::new();
        let mut taker: Option<(String, Location)> = None;
        for b in candidates {
            match &taker {
                // A Redirect already placed where an exclusion declines to it.
                Some(_) if consumed.contains(&b.at) && b.route.redirect.is_some() => {}
                Some((text, at)) => {
                    let why = if b.text.starts_with("DocumentRoot") {
                        format!(
                            "not needed: `{text}` ({at}) takes every request, so no file is served from it"
                        )
                    } else {
                        format!(
                            "never reached: `{text}` ({at}) takes every request first, in Apache as in had: not carried over"
                        )
                    };
                    self.drop(&b.at, &b.text, why);
                }
                None => {
                    if b.catch_all {
                        taker = Some((b.text.clone(), b.at.clone()));
                    }
                    out.push(b);
                }
            }
        }
        out
    }

    /// The http→https `RewriteRule` as a redirect route for `/`, where it
    /// does on every request of the host what had's redirect does: the same
    /// path and query, on https:// at one fixed host. Else the rule and its
    /// conditions are noted, as mod_rewrite rules are.
    fn https_redirect(
        &mut self,
        scope: Scope,
        site: &Site,
        r: &HttpsRedirect,
        tls: bool,
    ) -> Option<Built> {
        match self.redirect_target(scope, site, r, tls) {
            Ok(to) => {
                for (_, c) in &r.conds {
                    self.used.insert(place(&c.at));
                }
                Some(Built {
                    route: Route {
                        path: Some("/".into()),
                        redirect: Some(to),
                        status: (r.status != 302).then_some(r.status),
                        ..Route::default()
                    },
                    at: r.rule.at.clone(),
                    text: r.rule.text(),
                    catch_all: true,
                    origin: None,
                    balancer: None,
                })
            }
            Err(why) => {
                for (_, c) in &r.conds {
                    self.drop(
                        &c.at,
                        &c.text(),
                        format!(
                            "the condition of the rule at line {}, which is not carried over",
                            r.rule.at.line
                        ),
                    );
                }
                self.drop(&r.rule.at, &r.rule.text(), why);
                None
            }
        }
    }

    /// Where the https redirect sends every request, or why a route would
    /// not do what the rule does (the note's text).
    fn redirect_target(
        &self,
        scope: Scope,
        site: &Site,
        r: &HttpsRedirect,
        tls: bool,
    ) -> Result<String, String> {
        if tls {
            let never = r
                .conds
                .iter()
                .any(|(c, _)| matches!(c, RedirectCond::HttpsOff));
            return Err(if never {
                format!(
                    "never applies: {} serves TLS, where %{{HTTPS}} is on: not needed",
                    site.label()
                )
            } else {
                "had does not run mod_rewrite, and this rule redirects a TLS virtual host to itself: not carried over".into()
            });
        }
        let ports: Vec<Option<u16>> = site.addrs.iter().map(|a| a.port).collect();
        let host = match &r.host {
            RedirectHost::Literal(h) => h.clone(),
            RedirectHost::ServerName => self.one_name(scope, site, "%{SERVER_NAME}")?,
            RedirectHost::ClientHost => {
                let name = self.one_name(scope, site, "%{HTTP_HOST}")?;
                if ports.is_empty() || ports.iter().any(|p| *p != Some(80)) {
                    return Err(format!(
                        "%{{HTTP_HOST}} carries the port a client writes for a port other than 80 ({name}:PORT), and had's redirect has one fixed target: not carried over"
                    ));
                }
                name
            }
        };
        for (c, d) in &r.conds {
            let holds = match c {
                RedirectCond::HttpsOff => true,
                RedirectCond::PortNot(p) => {
                    !ports.is_empty() && ports.iter().all(|x| x.is_some_and(|x| x != *p))
                }
                RedirectCond::PortIs(p) => {
                    !ports.is_empty() && ports.iter().all(|x| *x == Some(*p))
                }
                RedirectCond::ServerNameIs(n, nocase) => {
                    let name = self.one_name(scope, site, "%{SERVER_NAME}")?;
                    if *nocase {
                        n.eq_ignore_ascii_case(&name)
                    } else {
                        *n == name
                    }
                }
            };
            if !holds {
                return Err(format!(
                    "the condition at line {} does not hold on every request of {}, and a route cannot test it: not carried over",
                    d.at.line,
                    site.label()
                ));
            }
        }
        Ok(format!("https://{host}/"))
    }

    /// The one name every request of a site carries (its `ServerName`, in
    /// lower case as `%{SERVER_NAME}` has it), or why there is none: the
    /// first host of an address answers any `Host`, and a `ServerAlias`
    /// adds names.
    fn one_name(&self, scope: Scope, site: &Site, var: &str) -> Result<String, String> {
        let first = match scope {
            Scope::Vhost(i) => self.defaults.get(i).copied().unwrap_or(true),
            Scope::Server => true,
        };
        let label = site.label();
        if first {
            return Err(format!(
                "{var} is the name the client asked for, and {label} is the first virtual host on its address, which Apache gives every Host no other virtual host names; had's redirect has one fixed target (write `Redirect permanent / https://NAME/` if one name is right for every client): not carried over"
            ));
        }
        if !site.server_alias.is_empty() {
            return Err(format!(
                "{var} is the name the client asked for, any of the ServerName and ServerAlias names of {label}; had's redirect has one fixed target: not carried over"
            ));
        }
        let name = site
            .server_name
            .as_ref()
            .or(self.model.server.server_name.as_ref())
            .ok_or_else(|| {
                format!("{label} has no ServerName, so {var} is unknown: not carried over")
            })?;
        Ok(name.value.to_ascii_lowercase())
    }

    /// `ProxyPass PATH !` declines PATH to the modules after mod_proxy, and
    /// mod_alias's `Redirect` is the first of them: a prefix `Redirect` that
    /// covers the exclusion takes its place (its target extended by the
    /// rest of the path, as mod_alias does), and one inside the exclusion
    /// goes just before it, as does a `RedirectMatch` whose every match is
    /// inside it (`^/promo/(.*)$` under `ProxyPass /promo !`). Returns the
    /// redirects so placed.
    fn redirect_exclusions(
        &mut self,
        scope: Scope,
        site: &Site,
        candidates: &mut Vec<Built>,
    ) -> Vec<Location> {
        let all = merged(&self.model.server, scope, site, |s| &s.redirects, false);
        let redirects: Vec<_> = all
            .iter()
            .filter_map(|r| match &r.path {
                PathMatch::Prefix(p) => lb_proxy::route::PathPrefix::parse(p)
                    .ok()
                    .map(|prefix| (*r, p.clone(), prefix)),
                PathMatch::Regex(_) => None,
            })
            .collect();
        let regexes: Vec<_> = all
            .iter()
            .filter_map(|r| match &r.path {
                PathMatch::Regex(re) => literal_prefix(re).map(|lit| (*r, re.clone(), lit)),
                PathMatch::Prefix(_) => None,
            })
            .collect();
        let mut consumed = Vec::new();
        if redirects.is_empty() && regexes.is_empty() {
            return consumed;
        }
        let redirect = |r: &super::model::Redirect, path: String, to: String| Built {
            catch_all: is_root(&PathMatch::Prefix(path.clone())),
            route: Route {
                path: Some(path),
                redirect: Some(to),
                status: (r.status != 302).then_some(r.status),
                ..Route::default()
            },
            at: r.at.clone(),
            text: r.text.clone(),
            origin: None,
            balancer: None,
        };
        let mut out = Vec::with_capacity(candidates.len());
        for b in candidates.drain(..) {
            let excluded = match (&b.route.path, b.route.exclude) {
                (Some(e), true) => lb_proxy::route::PathPrefix::parse(e)
                    .ok()
                    .map(|p| (e.clone(), p)),
                _ => None,
            };
            let Some((e, eprefix)) = excluded else {
                out.push(b);
                continue;
            };
            let mut replaced = None;
            for (r, rpath, rprefix) in &redirects {
                if let Some(n) = rprefix.matched_len(&e) {
                    let rest = e.get(n..).unwrap_or_default();
                    // mod_alias concatenates, slashes and all.
                    let to = format!("{}{rest}", r.to);
                    consumed.push(r.at.clone());
                    replaced = Some(redirect(r, e.clone(), to));
                    break;
                }
                if eprefix.matched_len(rpath).is_some() {
                    consumed.push(r.at.clone());
                    out.push(redirect(r, rpath.clone(), r.to.clone()));
                }
            }
            if replaced.is_none() {
                for (r, re, lit) in &regexes {
                    // Every path the expression matches starts with `lit`;
                    // the exclusion takes all of them when it matches `lit`
                    // and ends there at a segment boundary.
                    let inside = eprefix
                        .matched_len(lit)
                        .is_some_and(|n| n < lit.len() || e.ends_with('/'));
                    if inside {
                        consumed.push(r.at.clone());
                        let mut b = redirect(r, String::new(), r.to.clone());
                        b.route.path = None;
                        b.route.path_regex = Some(re.clone());
                        b.catch_all = false;
                        out.push(b);
                    }
                }
            }
            out.push(replaced.unwrap_or(b));
        }
        *candidates = out;
        consumed
    }

    /// Whether a prefix `Redirect` covers all of `path`.
    fn redirected(&self, scope: Scope, site: &Site, path: &PathMatch) -> bool {
        let PathMatch::Prefix(p) = path else {
            return false;
        };
        merged(&self.model.server, scope, site, |s| &s.redirects, false)
            .iter()
            .any(|r| matches!(&r.path, PathMatch::Prefix(rp) if lb_proxy::route::PathPrefix::parse(rp).is_ok_and(|x| x.matched_len(p).is_some())))
    }

    /// One pass as a route.
    fn pass_route(&mut self, scope: Scope, site: &Site, p: &Pass) -> Option<Built> {
        let mut route = Route::default();
        match &p.path {
            PathMatch::Prefix(prefix) => route.path = Some(prefix.clone()),
            PathMatch::Regex(re) => route.path_regex = Some(re.clone()),
        }
        let mut origin = None;
        let mut balancer = None;
        match &p.target {
            Target::Exclude => {
                route.exclude = true;
                match self.exclude_dir(scope, site, &p.path) {
                    Some(Files::Alias(dir)) => route.directory = Some(dir),
                    Some(Files::Root(dir)) => route.document_root = Some(dir),
                    None => {}
                }
                if route.directory.is_none()
                    && route.document_root.is_none()
                    && !self.handled(scope, site, &p.path)
                    && !self.redirected(scope, site, &p.path)
                {
                    self.report.note(
                        &p.at,
                        p.text.clone(),
                        "no DocumentRoot or Alias for this path in these files: had answers 404 here",
                    );
                }
            }
            Target::Balancer { key, to } => {
                let Some(i) = self.model.find_balancer(scope, key) else {
                    self.report.problem(
                        &p.at,
                        format!("balancer://{key} is not defined: no <Proxy balancer://{key}> or BalancerMember names it"),
                    );
                    return None;
                };
                route.balancer = self.names.get(i).cloned();
                route.to = Some(to.clone());
                balancer = Some(i);
                self.used_balancers.insert(i);
                origin = match &p.url {
                    Some(url) => url_origin(url),
                    None => Some((Origin::Balancer(key.clone()), to.clone())),
                };
            }
            Target::Url(url) => {
                route.url = Some(url.clone());
                origin = url_origin(url);
            }
        }
        Some(Built {
            catch_all: is_root(&p.path),
            route,
            at: p.at.clone(),
            text: p.text.clone(),
            origin,
            balancer,
        })
    }

    /// Whether a `SetHandler` `<Location>` covers `path` (its note says
    /// what had does there).
    fn handled(&self, scope: Scope, site: &Site, path: &PathMatch) -> bool {
        let PathMatch::Prefix(p) = path else {
            return false;
        };
        merged(&self.model.server, scope, site, |s| &s.handlers, true)
            .iter()
            .any(|h| covers(&h.path, p))
    }

    /// Where the files of `ProxyPass PATH !` come from: an `Alias` that
    /// covers PATH, else `DocumentRoot`; none under a `SetHandler`.
    fn exclude_dir(&mut self, scope: Scope, site: &Site, path: &PathMatch) -> Option<Files> {
        if self.handled(scope, site, path) {
            return None;
        }
        let root = site
            .document_root
            .as_ref()
            .or(self.model.server.document_root.as_ref());
        let p = match path {
            PathMatch::Prefix(p) => p,
            PathMatch::Regex(_) => {
                let root = root?;
                self.used.insert(place(&root.at));
                return Some(Files::Root(root.value.clone()));
            }
        };
        for a in merged(&self.model.server, scope, site, |s| &s.aliases, false) {
            let Ok(prefix) = lb_proxy::route::PathPrefix::parse(&a.path) else {
                continue;
            };
            if let Some(n) = prefix.matched_len(p) {
                let rest = p.get(n..).unwrap_or_default().trim_start_matches('/');
                self.used.insert(place(&a.at));
                return Some(Files::Alias(if rest.is_empty() {
                    a.dir.clone()
                } else {
                    a.dir.join(rest)
                }));
            }
        }
        let root = root?;
        self.used.insert(place(&root.at));
        Some(Files::Root(root.value.clone()))
    }

    /// `ProxyPassReverse` lines onto the routes whose path and URL they name.
    fn pass_reverse(&mut self, scope: Scope, site: &Site, routes: &mut [Built]) {
        for r in merged(&self.model.server, scope, site, |s| &s.reverses, true) {
            let mut matched = false;
            let mut regex_route = false;
            for b in routes.iter_mut() {
                let Some((origin, to)) = &b.origin else {
                    continue;
                };
                if !reverse_targets(r, origin, to) {
                    continue;
                }
                match &b.route.path {
                    Some(prefix) if trimmed(prefix) == trimmed(&r.path) => {
                        b.route.pass_reverse = true;
                        matched = true;
                    }
                    Some(_) => {}
                    None => regex_route = true,
                }
            }
            if matched {
                self.used.insert(place(&r.at));
            } else if regex_route {
                self.drop(
                    &r.at,
                    &r.text,
                    "had's pass_reverse needs a route with a path prefix, and the route to this URL matches a regular expression: not carried over",
                );
            } else {
                self.drop(
                    &r.at,
                    &r.text,
                    "matches no ProxyPass of this host with the same path and URL: had maps a route's own path and URL back, so this mapping is not carried over",
                );
            }
        }
    }

    /// The sticky-route `Header` onto the balancers the host sends to.
    fn sticky_header(&mut self, scope: Scope, site: &Site, routes: &[Built]) {
        let header = if scope == Scope::Server {
            site.sticky.as_ref()
        } else {
            site.sticky.as_ref().or(self.model.server.sticky.as_ref())
        };
        let Some(h) = header else {
            return;
        };
        let mut applied = false;
        let mut seen = BTreeSet::new();
        for i in routes.iter().filter_map(|b| b.balancer) {
            if !seen.insert(i) {
                continue;
            }
            let Some(def) = self.model.balancers.get(i) else {
                continue;
            };
            if !def.routed() {
                continue;
            }
            if let Some(own) = &def.sticky {
                if own.cookie != h.cookie {
                    let line = own.at.line;
                    self.report.note(
                        &h.at,
                        h.text.clone(),
                        format!("balancer://{} sets the cookie {} in its own <Proxy> section (line {line}): had sets one cookie per balancer, that one", def.name, own.cookie),
                    );
                }
                applied = true;
                continue;
            }
            match self.sticky.get(&i) {
                Some((other, at)) if *other != h.cookie => {
                    let line = at.line;
                    self.report.note(
                        &h.at,
                        h.text.clone(),
                        format!("balancer://{} already sets the cookie {other} (line {line}): had sets one cookie per balancer", def.name),
                    );
                }
                _ => {
                    self.sticky.insert(i, (h.cookie.clone(), h.at.clone()));
                    applied = true;
                }
            }
        }
        if applied {
            self.used.insert(place(&h.at));
        } else {
            self.drop(
                &h.at,
                &h.text,
                "no balancer this host sends to has members with route=, so the cookie would name none: not carried over",
            );
        }
    }

    /// Restrictive access rules in `<Location>`s: refused where had would
    /// serve the path to everyone, noted where it serves nothing.
    fn restrictions(&mut self, scope: Scope, site: &Site, routes: &[Built], tls: bool) {
        for r in merged(&self.model.server, scope, site, |s| &s.restrictions, true) {
            let lacks = match (r.guard, tls) {
                (Guard::RequireTls, true) => {
                    self.drop(
                        &r.at,
                        &r.text,
                        "every request to this TLS virtual host has TLS: not needed",
                    );
                    continue;
                }
                (Guard::ClientCert, false) => {
                    self.drop(
                        &r.at,
                        &r.text,
                        format!(
                            "without SSLEngine on, Apache serves {} without TLS and asks no client for a certificate: not carried over",
                            site.label()
                        ),
                    );
                    continue;
                }
                (Guard::ClientCert, true) => {
                    "had asks for client certificates per address (tls.client_ca), not per path"
                }
                (Guard::RequireTls, false) => {
                    "Apache refuses this path to clients without TLS, which every client of this virtual host is"
                }
                (Guard::Access, _) => "had has no access control",
            };
            let serving = routes
                .iter()
                .find(|b| serves(b) && overlaps(&b.route, &r.path));
            match serving {
                Some(b) => self.report.problem(
                    &r.at,
                    format!(
                        "{}: {lacks}, and `{}` ({}) would serve this path to every client: remove the rule from the file to import it, or keep the path off had",
                        r.text, b.text, b.at
                    ),
                ),
                None => self.drop(
                    &r.at,
                    &r.text,
                    format!("{lacks} (and serves nothing at this path): not carried over"),
                ),
            }
        }
    }

    /// Where a site listens: its addresses, `*` meaning every `Listen`
    /// address with the port.
    fn listen(&mut self, site: &Site) -> Vec<SocketAddr> {
        let (out, listens, port80) = addresses(self.model, site);
        for l in &listens {
            self.used.insert(place(l));
        }
        if port80 {
            self.report.note(
                &site.at,
                "<VirtualHost>",
                "an address without a port and no Listen in these files: imported on port 80",
            );
        }
        out
    }

    /// The `[proxy]` name: the one balancer a host sends to, else its
    /// `ServerName`, else `vhostN` (`main` for the main server).
    fn host_name(&self, scope: Scope, site: &Site, routes: &[Built]) -> String {
        let balancers: BTreeSet<&String> = routes
            .iter()
            .filter_map(|b| b.route.balancer.as_ref())
            .collect();
        let urls = routes.iter().any(|b| b.route.url.is_some());
        match (balancers.first(), &site.server_name, scope) {
            (Some(b), _, _) if balancers.len() == 1 && !urls => key_name(b),
            (_, Some(n), _) => key_name(&n.value),
            (_, None, Scope::Vhost(i)) => format!("vhost{}", i + 1),
            (_, None, Scope::Server) => "main".into(),
        }
    }

    /// The connection settings of a site.
    fn conn(&mut self, scope: Scope, site: &Site, routes: &[Built]) -> Conn {
        let server = &self.model.server;
        let timeout = pick_in(scope, site, server, |s| &s.proxy_timeout).or(pick_in(
            scope,
            site,
            server,
            |s| &s.core_timeout,
        ));
        let timeout = Val {
            value: timeout.map_or(APACHE_TIMEOUT, |s| s.value),
            at: timeout.map(|s| s.at.clone()),
        };
        Conn {
            timeout,
            connect_timeout: self.connect_timeout(routes),
            header_read: Val::of(pick_in(scope, site, server, |s| &s.header_read)),
            body_read: Val::of(pick_in(scope, site, server, |s| &s.body_read)),
            send: Val::of(pick_in(scope, site, server, |s| &s.core_timeout)),
            limit_line: Val::of(pick_in(scope, site, server, |s| &s.limit_line)),
            limit_field_size: Val::of(pick_in(scope, site, server, |s| &s.limit_field_size)),
            limit_fields: Val::of(pick_in(scope, site, server, |s| &s.limit_fields)),
            access_log: Val::of(pick_in(scope, site, server, |s| &s.access_log)),
            tls: None,
            handshake: Val {
                value: None,
                at: None,
            },
            client: Val {
                value: None,
                at: None,
            },
            member_ca: Val {
                value: None,
                at: None,
            },
            member_verify: Val {
                value: true,
                at: None,
            },
            https_member: None,
        }
    }

    /// Members' `connectiontimeout=`: had has one per `[proxy]`.
    fn connect_timeout(&mut self, routes: &[Built]) -> Val<Duration> {
        let mut set: Vec<(Duration, Location)> = Vec::new();
        let mut unset = 0;
        let mut seen = BTreeSet::new();
        for i in routes.iter().filter_map(|b| b.balancer) {
            if !seen.insert(i) {
                continue;
            }
            for m in self.model.balancers.get(i).map_or(&[][..], |b| &b.members) {
                match m.connect_timeout {
                    Some(d) => set.push((d, m.at.clone())),
                    None => unset += 1,
                }
            }
        }
        let Some(max) = set.iter().map(|(d, _)| *d).max() else {
            return Val {
                value: HAD_CONNECT_TIMEOUT,
                at: None,
            };
        };
        let uniform = unset == 0 && set.iter().all(|(d, _)| *d == max);
        if !uniform {
            // One note per line that differs (and one when some members set none).
            let differing = set.iter().filter(|(d, _)| *d != max);
            let some_unset = set.iter().filter(|_| unset > 0).take(1);
            for (d, at) in differing.chain(some_unset) {
                self.report.note(
                    at,
                    format!("connectiontimeout={}", d.as_secs_f64()),
                    format!(
                        "had has one connect timeout per [proxy]: {} (the longest set) applies to every member this host sends to",
                        seconds(max)
                    ),
                );
            }
        }
        let at = set.into_iter().find(|(d, _)| *d == max).map(|(_, at)| at);
        Val { value: max, at }
    }

    /// The main server's directives that no host used, and every line
    /// left out for a reason.
    fn server_notes(&mut self) {
        let server = &self.model.server;
        if let Some(n) = &server.server_name
            && !self.used.contains(&place(&n.at))
        {
            self.report.note(
                &n.at,
                format!("ServerName {}", n.value),
                "the main server's name: it serves no address here, so it is not needed",
            );
        }
        for l in &self.model.listens {
            if !self.used.contains(&place(&l.at)) {
                self.report.note(
                    &l.at,
                    format!("Listen {}", l.value),
                    "no imported host serves on this address: not carried over",
                );
            }
        }
        self.server_ssl_notes();
        let dropped = std::mem::take(&mut self.dropped);
        let mut noted = BTreeSet::new();
        // A line refused with a problem is not noted as left out besides.
        let refused: BTreeSet<(PathBuf, usize)> =
            self.report.problems.iter().map(|p| place(&p.at)).collect();
        for (at, text, why) in dropped {
            if !self.used.contains(&place(&at))
                && !refused.contains(&place(&at))
                && noted.insert(place(&at))
            {
                self.report.note(&at, text, why);
            }
        }
    }

    /// The main server's `SSL*` lines no imported host used (a host's own
    /// reason, noted first, wins).
    fn server_ssl_notes(&mut self) {
        let model = self.model;
        let ssl = &model.server.ssl;
        let mut lines: Vec<(Location, String, String)> = Vec::new();
        let tls = "no imported virtual host serves TLS with it: not carried over";
        let member = "no imported virtual host sends to an https:// or wss:// member: not needed";
        for f in ssl.certs.iter().chain(&ssl.keys).chain(&ssl.chain) {
            lines.push((f.at.clone(), f.text.clone(), tls.into()));
        }
        let tls_lines = ssl
            .engine
            .iter()
            .map(|(_, d)| d)
            .chain(&ssl.protocol)
            .chain(&ssl.verify_client);
        for d in tls_lines {
            lines.push((d.at.clone(), d.text(), tls.into()));
        }
        if let Some(f) = &ssl.proxy_ca_file {
            lines.push((f.at.clone(), f.text.clone(), member.into()));
        }
        let member_lines = ssl
            .proxy_engine
            .iter()
            .chain(&ssl.proxy_verify)
            .chain(&ssl.proxy_ca_path)
            .chain(&ssl.proxy_protocol)
            .chain(&ssl.proxy_client_cert)
            .chain(
                [
                    &ssl.proxy_check_name,
                    &ssl.proxy_check_cn,
                    &ssl.proxy_check_expire,
                ]
                .into_iter()
                .flatten()
                .map(|(_, d)| d),
            );
        for d in member_lines {
            lines.push((d.at.clone(), d.text(), member.into()));
        }
        if let Some(d) = &ssl.protocols {
            lines.push((
                d.at.clone(),
                d.text(),
                "no imported virtual host uses it: not carried over".into(),
            ));
        }
        for d in &ssl.other {
            lines.push((
                d.at.clone(),
                d.text(),
                format!("{}: not carried over", ssl_reason(&d.key())),
            ));
        }
        for (at, text, why) in lines {
            self.drop(&at, &text, why);
        }
    }

    /// The groups' shared settings, then the config.
    fn finish(&mut self, mut hosts: Vec<Host>) -> Config {
        // Hosts with nothing to serve are left out, unless another host on
        // the address would then answer their requests.
        let served: Vec<SocketAddr> = hosts
            .iter()
            .filter(|h| !h.routes.is_empty())
            .flat_map(|h| h.listen.iter().copied())
            .collect();
        let mut kept: Vec<Host> = Vec::new();
        for mut h in hosts.drain(..) {
            if !h.routes.is_empty() {
                kept.push(h);
            } else if h.listen.iter().any(|a| served.contains(a)) {
                self.report.note(
                    &h.at,
                    "<VirtualHost>",
                    "nothing here had can serve: requests for this host are answered 404 (they would otherwise go to the first virtual host on the address)",
                );
                h.routes = vec![Route {
                    path: Some("/".into()),
                    exclude: true,
                    ..Route::default()
                }];
                kept.push(h);
            } else {
                self.report.note(
                    &h.at,
                    "<VirtualHost>",
                    format!("{} has nothing had can serve (no ProxyPass, Redirect, Alias or DocumentRoot carried over): not imported", h.label),
                );
            }
        }
        self.groups(&mut kept);

        let mut config = Config::default();
        let mut taken = BTreeSet::new();
        for h in kept {
            let mut name = h.name.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{}_{n}", h.name);
                n += 1;
            }
            taken.insert(name.clone());
            let proxy = Proxy {
                listen: h.listen,
                server_name: h.server_name,
                server_alias: h.server_alias,
                routes: h.routes,
                path: "/".into(),
                preserve_host: h.preserve_host,
                pass_reverse: false,
                lbmethod: crate::config::LbMethod::default(),
                members: Vec::new(),
                timeout: h.conn.timeout.value,
                connect_timeout: h.conn.connect_timeout.value,
                retry: APACHE_RETRY,
                maxattempts: None,
                max_connections: None,
                health_check: None,
                access_log: h.conn.access_log.value,
                header_read_timeout: h.conn.header_read.value,
                body_read_timeout: h.conn.body_read.value,
                pool_idle_timeout: None,
                tunnel_idle_timeout: None,
                send_timeout: h.conn.send.value,
                limit_request_field_size: h.conn.limit_field_size.value,
                limit_request_fields: h.conn.limit_fields.value,
                limit_request_line: h.conn.limit_line.value,
                workers: None,
                tls: h.tls.map(|t| ProxyTls {
                    handshake_timeout: h.conn.handshake.value,
                    ..t
                }),
                member_ca_file: h.conn.member_ca.value,
                member_verify: h.conn.member_verify.value,
            };
            config.proxy.insert(name, proxy);
        }
        self.balancers(&mut config);
        config
    }

    /// The used balancers as `[balancer]` tables; the others noted.
    fn balancers(&mut self, config: &mut Config) {
        for (i, def) in self.model.balancers.iter().enumerate() {
            let Some(name) = self.names.get(i) else {
                continue;
            };
            if !self.used_balancers.contains(&i) {
                self.report.note(
                    &def.at,
                    format!("balancer://{}", def.name),
                    "no imported route sends to this balancer: not carried over",
                );
                continue;
            }
            if def.members.is_empty() && def.refused == 0 {
                self.report.problem(
                    &def.at,
                    format!("balancer://{} has no BalancerMember (Apache starts and answers 503; members added at run time with balancer-manager are not in the file): had needs at least one", def.name),
                );
                continue;
            }
            if def.members.is_empty() {
                // Each member line is refused with its reason.
                continue;
            }
            if def.members.len() > lb_proxy::MAX_MEMBERS {
                self.report.problem(
                    &def.at,
                    format!(
                        "balancer://{} has {} members; had takes at most {}",
                        def.name,
                        def.members.len(),
                        lb_proxy::MAX_MEMBERS
                    ),
                );
                continue;
            }
            let routed = def.routed();
            let cookie = match &def.sticky {
                Some(own) if routed => {
                    self.used.insert(place(&own.at));
                    Some(own.cookie.clone())
                }
                Some(own) => {
                    self.report.note(
                        &own.at,
                        own.text.clone(),
                        format!("balancer://{} has no member with route=, so the cookie would never name one: not carried over", def.name),
                    );
                    None
                }
                None => self.sticky.get(&i).map(|(c, _)| c.clone()),
            };
            // Apache sticks only to a member whose route= the session value
            // names: with no route= anywhere, stickysession does nothing.
            let stickysession = match &def.stickysession {
                Some((name, at)) if !routed => {
                    self.report.note(
                        at,
                        format!("stickysession={name}"),
                        "no BalancerMember of this balancer has route=, so Apache never sticks a session to one: not carried over",
                    );
                    None
                }
                Some((name, _)) => Some(name.clone()),
                None if routed => cookie.clone(),
                None => None,
            };

            config.balancer.insert(
                name.clone(),
                Balancer {
                    members: def.members.iter().map(|m| m.member.clone()).collect(),
                    lbmethod: def.lbmethod.unwrap_or_default(),
                    maxattempts: def.maxattempts,
                    stickysession,
                    nofailover: def.nofailover,
                    scolonpathdelim: def.scolonpathdelim,
                    sticky_cookie: cookie,
                },
            );
        }
    }

    /// `member_ca_file` and `member_verify` are one per address: among the
    /// hosts of a group that send to `https://` or `wss://` members, the
    /// first one's apply to all (the others need them not), and another
    /// that differs is refused at the line that sets the difference.
    fn member_groups(&mut self, hosts: &mut [Host], group: &[usize]) {
        let mut roots: Vec<usize> = group.to_vec();
        roots.sort_unstable();
        roots.dedup();
        for root in roots {
            let members: Vec<usize> = (0..hosts.len())
                .filter(|&i| group.get(i) == Some(&root))
                .collect();
            let Some(&lead) = members
                .iter()
                .find(|&&i| hosts.get(i).is_some_and(|h| h.conn.https_member.is_some()))
            else {
                continue;
            };
            let Some(first) = hosts.get(lead) else {
                continue;
            };
            let (ca, verify) = (
                first.conn.member_ca.clone(),
                first.conn.member_verify.clone(),
            );
            let (label, line) = (first.label.clone(), first.at.line);
            let mut problems: Vec<(Location, String)> = Vec::new();
            for &i in &members {
                let Some(h) = hosts.get(i) else {
                    continue;
                };
                if i != lead && h.conn.https_member.is_some() {
                    let shown = |v: &Option<PathBuf>| {
                        v.as_ref()
                            .map_or_else(|| "none".to_owned(), |p| p.display().to_string())
                    };
                    let verb = |v: &Val<bool>| match (v.value, &v.at) {
                        (_, None) => "(not set: had verifies)",
                        (true, Some(_)) => "require",
                        (false, Some(_)) => "none",
                    };
                    let diffs = [
                        (
                            "member_ca_file",
                            "SSLProxyCACertificateFile",
                            shown(&ca.value),
                            shown(&h.conn.member_ca.value),
                            ca.value == h.conn.member_ca.value,
                            &h.conn.member_ca.at,
                        ),
                        (
                            "member_verify",
                            "SSLProxyVerify",
                            verb(&verify).to_owned(),
                            verb(&h.conn.member_verify).to_owned(),
                            verify.value == h.conn.member_verify.value,
                            &h.conn.member_verify.at,
                        ),
                    ];
                    for (key, directive, first_value, value, same, at) in diffs {
                        if same {
                            continue;
                        }
                        let at = at
                            .clone()
                            .or_else(|| h.conn.https_member.clone())
                            .unwrap_or_else(|| h.at.clone());
                        problems.push((
                            at,
                            format!(
                                "{directive} {value} for {}, {first_value} for {label} (line {line}), which also sends to https:// members on the same address: had applies one {key} to every virtual host on an address; give them the same {directive}, or set it once outside the <VirtualHost>s",
                                h.label
                            ),
                        ));
                    }
                }
            }
            for (at, message) in problems {
                self.report.problem(&at, message);
            }
            for &i in &members {
                if let Some(h) = hosts.get_mut(i) {
                    h.conn.member_ca = ca.clone();
                    h.conn.member_verify = verify.clone();
                }
            }
        }
    }

    /// Hosts that share an address are one listener in had, whose settings
    /// are its first host's: a host that differs is refused at the line
    /// that sets the difference (the access log is noted instead: had
    /// writes the first host's).
    fn groups(&mut self, hosts: &mut [Host]) {
        let n = hosts.len();
        let mut group: Vec<usize> = (0..n).collect();
        for i in 0..n {
            for j in 0..i {
                let shares = hosts
                    .get(i)
                    .zip(hosts.get(j))
                    .is_some_and(|(a, b)| a.listen.iter().any(|x| b.listen.contains(x)));
                if shares {
                    let (from, to) = (group[i], group[j]);
                    for g in &mut group {
                        if *g == from {
                            *g = to;
                        }
                    }
                }
            }
        }
        self.member_groups(hosts, &group);
        let defaults = lb_proxy::ProxyConfig::default();
        for (i, &first) in group.iter().enumerate() {
            if first == i {
                continue;
            }
            let (Some(head), Some(h)) = (hosts.get(first), hosts.get(i)) else {
                continue;
            };
            let addr = head
                .listen
                .iter()
                .find(|a| h.listen.contains(a))
                .map_or_else(String::new, ToString::to_string);
            let mut problems: Vec<(Location, String)> = Vec::new();
            let mut notes: Vec<(Location, String)> = Vec::new();
            let (a, b) = (&head.conn, &h.conn);
            let size = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            let both_tls = a.tls.is_some() && b.tls.is_some();
            let handshake = |v: &Val<Option<Duration>>| v.value.unwrap_or(HAD_HANDSHAKE_TIMEOUT);
            let client = |c: &Option<ClientCerts>| match c {
                None => "none".to_owned(),
                Some(c) => format!(
                    "{} with {}, depth {}",
                    match c.verify {
                        VerifyClient::Required => "require",
                        VerifyClient::Optional => "optional",
                    },
                    c.ca.display(),
                    c.depth.unwrap_or(1)
                ),
            };
            let same_client = |x: &Option<ClientCerts>, y: &Option<ClientCerts>| match (x, y) {
                (Some(x), Some(y)) => {
                    x.ca == y.ca
                        && x.verify == y.verify
                        && x.depth.unwrap_or(1) == y.depth.unwrap_or(1)
                }
                (None, None) => true,
                _ => false,
            };
            let checks: [SettingCheck<'_>; 10] = [
                (
                    "tls.client_ca/verify_client/verify_depth",
                    "SSLVerifyClient",
                    client(&a.client.value),
                    client(&b.client.value),
                    !both_tls || same_client(&a.client.value, &b.client.value),
                    &b.client.at,
                ),
                (
                    "tls.handshake_timeout",
                    "RequestReadTimeout handshake=",
                    seconds(handshake(&a.handshake)),
                    seconds(handshake(&b.handshake)),
                    !both_tls || handshake(&a.handshake) == handshake(&b.handshake),
                    &b.handshake.at,
                ),
                (
                    "timeout",
                    "ProxyTimeout",
                    seconds(a.timeout.value),
                    seconds(b.timeout.value),
                    a.timeout.value == b.timeout.value,
                    &b.timeout.at,
                ),
                (
                    "connect_timeout",
                    "connectiontimeout=",
                    seconds(a.connect_timeout.value),
                    seconds(b.connect_timeout.value),
                    a.connect_timeout.value == b.connect_timeout.value,
                    &b.connect_timeout.at,
                ),
                (
                    "header_read_timeout",
                    "RequestReadTimeout header=",
                    seconds(a.header_read.value.unwrap_or(defaults.header_read_timeout)),
                    seconds(b.header_read.value.unwrap_or(defaults.header_read_timeout)),
                    a.header_read.value.unwrap_or(defaults.header_read_timeout)
                        == b.header_read.value.unwrap_or(defaults.header_read_timeout),
                    &b.header_read.at,
                ),
                (
                    "body_read_timeout",
                    "RequestReadTimeout body=",
                    seconds(a.body_read.value.unwrap_or(defaults.body_read_timeout)),
                    seconds(b.body_read.value.unwrap_or(defaults.body_read_timeout)),
                    a.body_read.value.unwrap_or(defaults.body_read_timeout)
                        == b.body_read.value.unwrap_or(defaults.body_read_timeout),
                    &b.body_read.at,
                ),
                (
                    "send_timeout",
                    "Timeout",
                    seconds(a.send.value.unwrap_or(defaults.send_timeout)),
                    seconds(b.send.value.unwrap_or(defaults.send_timeout)),
                    a.send.value.unwrap_or(defaults.send_timeout)
                        == b.send.value.unwrap_or(defaults.send_timeout),
                    &b.send.at,
                ),
                (
                    "limit_request_line",
                    "LimitRequestLine",
                    a.limit_line
                        .value
                        .unwrap_or(size(defaults.limit_request_line))
                        .to_string(),
                    b.limit_line
                        .value
                        .unwrap_or(size(defaults.limit_request_line))
                        .to_string(),
                    a.limit_line
                        .value
                        .unwrap_or(size(defaults.limit_request_line))
                        == b.limit_line
                            .value
                            .unwrap_or(size(defaults.limit_request_line)),
                    &b.limit_line.at,
                ),
                (
                    "limit_request_field_size",
                    "LimitRequestFieldSize",
                    a.limit_field_size
                        .value
                        .unwrap_or(size(defaults.limit_request_field_size))
                        .to_string(),
                    b.limit_field_size
                        .value
                        .unwrap_or(size(defaults.limit_request_field_size))
                        .to_string(),
                    a.limit_field_size
                        .value
                        .unwrap_or(size(defaults.limit_request_field_size))
                        == b.limit_field_size
                            .value
                            .unwrap_or(size(defaults.limit_request_field_size)),
                    &b.limit_field_size.at,
                ),
                (
                    "limit_request_fields",
                    "LimitRequestFields",
                    a.limit_fields
                        .value
                        .unwrap_or(size(defaults.limit_request_fields))
                        .to_string(),
                    b.limit_fields
                        .value
                        .unwrap_or(size(defaults.limit_request_fields))
                        .to_string(),
                    a.limit_fields
                        .value
                        .unwrap_or(size(defaults.limit_request_fields))
                        == b.limit_fields
                            .value
                            .unwrap_or(size(defaults.limit_request_fields)),
                    &b.limit_fields.at,
                ),
            ];
            if a.tls.is_some() != b.tls.is_some() {
                let (with, without) = if b.tls.is_some() {
                    ("with", "without")
                } else {
                    ("without", "with")
                };
                let at = b.tls.clone().unwrap_or_else(|| h.at.clone());
                problems.push((
                    at,
                    format!(
                        "{} serves {addr} {with} TLS, and {} (line {}), the first virtual host on it, {without}: had serves an address with TLS or without for all its virtual hosts, as Apache decides TLS by the first virtual host of an address; give both SSLEngine on and their certificates, or put them on different addresses",
                        h.label, head.label, head.at.line
                    ),
                ));
            }
            for (key, directive, first_value, value, same, at) in checks {
                if same {
                    continue;
                }
                let at = at.clone().unwrap_or_else(|| h.at.clone());
                problems.push((
                    at,
                    format!(
                        "{directive} {value} for {}, {first_value} for {} (line {}), the first virtual host on {addr}: had applies one {key} to every virtual host on an address; give them the same {directive}, or set it once outside the <VirtualHost>s",
                        h.label, head.label, head.at.line
                    ),
                ));
            }
            if a.access_log.value != b.access_log.value {
                let at = b.access_log.at.clone().unwrap_or_else(|| h.at.clone());
                let first = a
                    .access_log
                    .value
                    .as_ref()
                    .map_or_else(|| "no access log".to_owned(), |p| p.display().to_string());
                notes.push((
                    at,
                    format!(
                        "had writes one access log per address: requests for {} go to {first}, as for {} (line {}), the first virtual host on {addr}",
                        h.label, head.label, head.at.line
                    ),
                ));
            }
            let conn = head.conn.clone();
            for (at, message) in problems {
                self.report.problem(&at, message);
            }
            for (at, message) in notes {
                self.report.note(&at, "CustomLog", message);
            }
            if let Some(h) = hosts.get_mut(i) {
                h.conn = conn;
            }
        }
    }
}

/// Where a site listens: its addresses (`*` meaning every `Listen`
/// address with the port), the `Listen` lines they take, and whether an
/// address without a port found no `Listen` (then it is on port 80).
fn addresses(model: &Model, site: &Site) -> (Vec<SocketAddr>, Vec<Location>, bool) {
    let mut out: Vec<SocketAddr> = Vec::new();
    let mut taken = Vec::new();
    let mut port80 = false;
    let mut push = |a: SocketAddr| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for a in &site.addrs {
        let listens: Vec<&Setting<SocketAddr>> = model
            .listens
            .iter()
            .filter(|l| {
                a.port.is_none_or(|p| p == l.value.port())
                    && (a.ip.is_unspecified()
                        || l.value.ip().is_unspecified()
                        || a.ip == l.value.ip())
            })
            .collect();
        taken.extend(listens.iter().map(|l| l.at.clone()));
        match a.port {
            Some(_) if a.ip.is_unspecified() && !listens.is_empty() => {
                for l in listens {
                    push(l.value);
                }
            }
            Some(port) => push(SocketAddr::new(a.ip, port)),
            None if listens.is_empty() => {
                push(SocketAddr::new(a.ip, 80));
                port80 = true;
            }
            None => {
                for l in listens {
                    let ip = if a.ip.is_unspecified() {
                        l.value.ip()
                    } else {
                        a.ip
                    };
                    push(SocketAddr::new(ip, l.value.port()));
                }
            }
        }
    }
    (out, taken, port80)
}

/// For each `<VirtualHost>`, whether it is the first on one of its
/// addresses: Apache (and had) gives that host the requests whose `Host`
/// no other host on the address names.
fn defaults(model: &Model) -> Vec<bool> {
    let mut seen: Vec<SocketAddr> = Vec::new();
    model
        .vhosts
        .iter()
        .map(|v| {
            let (addrs, _, _) = addresses(model, v);
            let first = addrs.iter().any(|a| !seen.contains(a));
            seen.extend(addrs);
            first
        })
        .collect()
}

/// Whether `SSLEngine ADDR:PORT` names the virtual host address `a`.
fn engine_covers(engine: &SiteAddr, a: &SiteAddr) -> bool {
    let port = match (engine.port, a.port) {
        (None, _) => true,
        (Some(e), Some(p)) => e == p,
        (Some(_), None) => false,
    };
    port && (engine.ip.is_unspecified() || engine.ip == a.ip)
}

/// `a`, `a and b`, `a, b and c`.
fn join_and(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Whether a URL is one had speaks TLS to.
fn is_tls_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("wss://")
}

/// The main server's and a virtual host's lists merged as httpd merges
/// them: mod_proxy puts the main server's first, mod_alias the host's.
fn merged<'a, T>(
    server: &'a Site,
    scope: Scope,
    site: &'a Site,
    list: impl Fn(&'a Site) -> &'a Vec<T>,
    server_first: bool,
) -> Vec<&'a T> {
    let own = list(site).iter();
    if scope == Scope::Server {
        return own.collect();
    }
    let base = list(server).iter();
    if server_first {
        base.chain(own).collect()
    } else {
        own.chain(base).collect()
    }
}

/// One setting (`field`) of a host (`own`), else the main server's (the
/// main server itself has only its own).
fn pick_in<'a, S, T>(
    scope: Scope,
    own: &'a S,
    server: &'a S,
    field: impl Fn(&'a S) -> &'a Option<T>,
) -> Option<&'a T> {
    let mine = field(own).as_ref();
    if scope == Scope::Server {
        mine
    } else {
        mine.or(field(server).as_ref())
    }
}

/// Whether a route's path is all slashes: it takes every request.
fn is_root(path: &PathMatch) -> bool {
    matches!(path, PathMatch::Prefix(p) if !p.is_empty() && p.bytes().all(|b| b == b'/'))
}

/// Whether `location` (a prefix or expression) covers the prefix `p`.
fn covers(location: &PathMatch, p: &str) -> bool {
    match location {
        PathMatch::Prefix(l) => lb_proxy::route::PathPrefix::parse(l)
            .ok()
            .and_then(|l| l.matched_len(p))
            .is_some(),
        PathMatch::Regex(re) => lb_proxy::route::PathRegex::parse(re).is_ok_and(|r| r.is_match(p)),
    }
}

/// Whether a route serves content (proxied, or files).
fn serves(b: &Built) -> bool {
    b.route.balancer.is_some() || b.route.url.is_some() || b.route.directory.is_some()
}

/// Whether a route and a location can match the same paths.
fn overlaps(route: &Route, location: &PathMatch) -> bool {
    match (&route.path, location) {
        (Some(r), PathMatch::Prefix(l)) => {
            covers(&PathMatch::Prefix(r.clone()), l) || covers(location, r)
        }
        _ => true,
    }
}

/// A URL's origin and path, for `ProxyPassReverse`.
fn url_origin(url: &str) -> Option<(Origin, String)> {
    match parse_url(url) {
        Url::Http { origin, path } => Some((Origin::Url(origin.to_ascii_lowercase()), path)),
        _ => None,
    }
}

/// Whether a `ProxyPassReverse` names this target (the URL's trailing `/`
/// aside).
fn reverse_targets(r: &Reverse, origin: &Origin, to: &str) -> bool {
    match (parse_url(&r.url), origin) {
        (Url::Balancer { name, to: rto }, Origin::Balancer(key)) => {
            name.eq_ignore_ascii_case(key) && trimmed(&rto) == trimmed(to)
        }
        (Url::Http { origin: o, path }, Origin::Url(u)) => {
            o.eq_ignore_ascii_case(u) && trimmed(&path) == trimmed(to)
        }
        _ => false,
    }
}

/// A line's place, to key sets by.
fn place(at: &Location) -> (PathBuf, usize) {
    (at.file.clone(), at.line)
}

/// Where an excluded path's files come from.
enum Files {
    /// An `Alias`: the directory (or file) for the rest after the route's path.
    Alias(PathBuf),
    /// `DocumentRoot`: the whole request path inside it.
    Root(PathBuf),
}

/// The literal text every match of an anchored regular expression starts
/// with (`^/promo/(.*)$` → `/promo/`); `None` when it is not anchored or
/// starts with no literal `/`.
fn literal_prefix(re: &str) -> Option<String> {
    let body = re.strip_prefix('^')?;
    let lit: String = body
        .chars()
        .take_while(|c| {
            !matches!(
                c,
                '.' | '[' | ']' | '(' | ')' | '{' | '}' | '*' | '+' | '?' | '|' | '\\' | '^' | '$'
            )
        })
        .collect();
    // A quantifier applies to the character before it: that one is not sure.
    let next = body[lit.len()..].chars().next();
    let lit = if matches!(next, Some('*' | '?' | '{')) {
        let mut l = lit;
        l.pop();
        l
    } else {
        lit
    };
    lit.starts_with('/').then_some(lit)
}
