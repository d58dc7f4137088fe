//! The routing model's configuration: virtual hosts (Apache `<VirtualHost>`
//! with `ServerName`/`ServerAlias`) carrying ordered routes (`ProxyPass`,
//! `ProxyPassMatch`, `ProxyPass PATH !`, `Redirect`), and named balancers
//! (`<Proxy balancer://NAME>`) that routes share.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{LbMethod, MemberConfig};

/// A named balancer: Apache `<Proxy balancer://NAME>` with its
/// `BalancerMember`s and `ProxySet` parameters. Several routes may send to
/// one balancer: one member list, one health state, one set of counters.
#[derive(Debug, Clone, PartialEq)]
pub struct BalancerConfig {
    /// The name routes use (`balancer://NAME`).
    pub name: String,
    /// Balancing method.
    pub lbmethod: LbMethod,
    /// Apache `maxattempts`: other members tried after a failed attempt;
    /// `None` = every other usable member.
    pub max_attempts: Option<u32>,
    /// The members, at least one, at most [`super::MAX_MEMBERS`].
    pub members: Vec<MemberConfig>,
    /// Sticky sessions; `None` = none.
    pub sticky: Option<StickyConfig>,
}

impl BalancerConfig {
    /// A `byrequests` balancer over `members`.
    pub fn new(name: impl Into<String>, members: Vec<MemberConfig>) -> Self {
        Self {
            name: name.into(),
            lbmethod: LbMethod::ByRequests,
            max_attempts: None,
            members,
            sticky: None,
        }
    }
}

/// Apache's sticky sessions (`stickysession=`, `nofailover=`,
/// `scolonpathdelim=`) and had's own `sticky_cookie`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickyConfig {
    /// Cookie that carries the route (`stickysession=NAME`, or the part
    /// before `|` in `NAME|urlname`); the route is what follows its value's
    /// first `.` (`JSESSIONID=abc.node1` → `node1`).
    pub cookie: Option<String>,
    /// URL parameter that carries it (`;NAME=` path parameter or `?NAME=`
    /// query parameter; the part after `|`, else the same name).
    pub url_param: Option<String>,
    /// `nofailover=On`: a request whose member is unusable gets 503 instead
    /// of another member.
    pub nofailover: bool,
    /// `scolonpathdelim=On`: `;` also ends the URL parameter's value.
    pub scolon_path_delim: bool,
    /// had's `sticky_cookie = "ROUTEID"`: the proxy sets `ROUTEID=.ROUTE;
    /// Path=/` itself when the request carried no route or another one
    /// (Apache sites do it with `Header add Set-Cookie
    /// "ROUTEID=.%{BALANCER_WORKER_ROUTE}e" env=BALANCER_ROUTE_CHANGED`).
    pub set_cookie: Option<String>,
}

/// One virtual host: the names it answers to and its routes, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualHostConfig {
    /// A name for logs and errors (the daemon's `[proxy.NAME]`).
    pub name: String,
    /// The proxy's addresses this host is served on; empty = all of them.
    /// On each address, the first host listed is the default one (Apache).
    pub listen: Vec<SocketAddr>,
    /// `ServerName`; `None` only for a host that is the default and nothing else.
    pub server_name: Option<String>,
    /// `ServerAlias` names, exact or with `*`/`?` wildcards (`*.example.com`).
    pub server_alias: Vec<String>,
    /// `ProxyPreserveHost On`.
    pub preserve_host: bool,
    /// The routes, first match wins; a path no route matches is answered 404.
    pub routes: Vec<RouteConfig>,
}

/// How a route matches a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    /// `ProxyPass PATH`: a prefix, matched as Apache's `alias_match` does.
    Prefix(String),
    /// `ProxyPassMatch REGEX`: a regular expression over the path.
    Regex(String),
}

/// What a route does with the requests it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    /// `ProxyPass PATH balancer://NAME/TO`: send to a named balancer.
    Proxy {
        /// The balancer's name.
        balancer: String,
        /// The balancer URL's path, joined with the rest of the request path
        /// exactly as Apache joins it (`ProxyPass /api/ balancer://b/v1/`:
        /// `/api/x` → `/v1/x`; with a regex, `$1`… are substituted). `None`:
        /// the prefix is dropped and the rest starts with `/`
        /// (`path = "/api"`: `/api/x` → `/x`, `/api` → the member's path).
        to: Option<String>,
        /// `ProxyPassReverse` for this route.
        pass_reverse: bool,
    },
    /// `ProxyPass PATH !`: not proxied. Served from `directory` (`Alias`,
    /// `DocumentRoot`) when set, else answered 404.
    Local {
        /// Where the files come from: a directory, or one file (`Alias
        /// /favicon.ico /srv/www/favicon.ico`), served for the route's path
        /// itself and nothing below it.
        directory: Option<PathBuf>,
        /// The file is `directory` + the whole request path, as under
        /// Apache's `DocumentRoot` (nginx `root`); `false`: `directory` + the
        /// path after the route's prefix, as under `Alias`.
        full_path: bool,
    },
    /// `Redirect STATUS PATH URL` / `RedirectMatch`: answered with a
    /// redirect to `to` plus the rest of the path (or `to` with `$1`…
    /// substituted for a regex route).
    Redirect {
        /// 301, 302, 303, 307 or 308.
        status: u16,
        /// The target URL.
        to: String,
    },
}

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// What it matches.
    pub path: PathMatch,
    /// What it does.
    pub action: RouteAction,
}
