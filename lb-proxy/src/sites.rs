//! The routing model at run time: for each listener its virtual hosts in
//! order, each host's routes in order, and the named balancers the routes
//! send to. Built from a validated [`ProxyConfig`] and swapped whole on
//! reload; members that keep their URL in a balancer that keeps its name
//! keep their state and counters.
//!
//! Resolving a request is pure ([`Sites::resolve`]): which host (Apache's
//! name-based virtual hosts: `Host` without its port against `ServerName`
//! and `ServerAlias`, else the address's first host), which route (first
//! match), and what the member sees or what the client gets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http::StatusCode;

use crate::Error;
use crate::balancer::Members;
use crate::config::{PathMatch, ProxyConfig, RouteAction};
use crate::member::Member;
use crate::route::{HostPattern, PathPrefix, PathRegex, host_without_port};

/// How a route matches.
#[derive(Debug)]
enum Matcher {
    Prefix(PathPrefix),
    Regex(PathRegex),
}

/// What a matched route does.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send to a balancer.
    Proxy {
        balancer: Arc<Members>,
        /// The balancer URL's path; `None` = the friendly join.
        to: Option<String>,
        /// The `ProxyPassReverse` mapping, made once when the sites are built.
        reverse: Option<Arc<Reverse>>,
    },
    /// Not proxied: a directory (or one file), or 404.
    Local {
        directory: Option<PathBuf>,
        /// The whole request path is looked up in `directory`.
        full_path: bool,
    },
    /// A redirect.
    Redirect { status: StatusCode, to: String },
}

/// One route.
#[derive(Debug)]
struct Route {
    matcher: Matcher,
    action: Action,
}

/// One virtual host.
#[derive(Debug)]
pub(crate) struct Host {
    /// Its name in the config, for logs.
    pub(crate) name: String,
    names: Vec<HostPattern>,
    pub(crate) preserve_host: bool,
    routes: Vec<Route>,
    index: RouteIndex,
}

/// Which routes can match a path, found without trying every route.
///
/// A prefix route matches only on whole path segments (Apache's
/// `alias_match`, see [`crate::route::PathPrefix::matched_len`]), so on a
/// path without runs of `/` (every canonical path) a route whose prefix,
/// without its trailing `/`, is `K` can only match a path that is `K` or
/// starts with `K/`. Routes are kept by `K`; a path's candidates are the
/// routes under each of its own segment prefixes (`/a`, `/a/b`, ...) and
/// the routes that are not indexed (regular expressions, `/`, prefixes with
/// `//`), tried in configuration order as before: the first match is the
/// same as the full scan's, in a few lookups instead of one test per route.
#[derive(Debug, Default)]
struct RouteIndex {
    by_prefix: std::collections::HashMap<Box<str>, Vec<u16>, foldhash::fast::RandomState>,
    always: Vec<u16>,
}

/// Below this many routes, trying each is cheaper than the lookups.
const INDEX_FROM: usize = 8;

impl RouteIndex {
    fn build(routes: &[Route]) -> Self {
        let mut index = Self::default();
        if routes.len() < INDEX_FROM || routes.len() > usize::from(u16::MAX) {
            return index;
        }
        for (i, r) in routes.iter().enumerate() {
            let i = u16::try_from(i).unwrap_or(u16::MAX);
            match &r.matcher {
                Matcher::Prefix(p) if p.is_plain() && !p.is_root() => index
                    .by_prefix
                    .entry(p.as_str().trim_end_matches('/').into())
                    .or_default()
                    .push(i),
                _ => index.always.push(i),
            }
        }
        index
    }

    fn is_built(&self) -> bool {
        !self.by_prefix.is_empty()
    }

    /// The routes that may match `path` (without runs of `/`), in order.
    fn candidates(&self, path: &str) -> Vec<u16> {
        let mut out = self.always.clone();
        let bytes = path.as_bytes();
        let ends = bytes
            .iter()
            .enumerate()
            .skip(1)
            .filter(|(_, b)| **b == b'/')
            .map(|(i, _)| i)
            .chain(std::iter::once(bytes.len()));
        for end in ends {
            if let Some(ids) = path.get(..end).and_then(|k| self.by_prefix.get(k)) {
                out.extend_from_slice(ids);
            }
        }
        out.sort_unstable();
        out
    }
}

/// The routing model in force.
#[derive(Debug)]
pub(crate) struct Sites {
    hosts: Vec<Host>,
    /// For each listener (in `ProxyConfig::listen` order), its hosts in order.
    by_listener: Vec<Vec<usize>>,
    balancers: Vec<Arc<Members>>,
}

/// Where a proxied request goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The balancer.
    pub(crate) balancer: Arc<Members>,
    /// The path (and query) joined after each member's URL path: empty or
    /// starting with `?` when the request was the route's whole prefix
    /// (the member's own path is then the target).
    pub(crate) path: String,
    /// `ProxyPassReverse`: the member-side base (after a member's URL) and
    /// the front path that replaces it.
    pub(crate) reverse: Option<Arc<Reverse>>,
    /// `ProxyPreserveHost`.
    pub(crate) preserve_host: bool,
}

/// A request with where it goes, from the router to the balancer.
#[derive(Debug)]
pub struct Routed {
    /// The request as the client sent it (normalised).
    pub request: http::Request<crate::body::RequestBody>,
    /// Its balancer and path.
    pub(crate) target: Target,
}

/// One route's `ProxyPassReverse` mapping.
#[derive(Debug, Clone)]
pub struct Reverse {
    /// What follows a member's URL in a URL the mapping applies to.
    pub(crate) member_path: String,
    /// What replaces the member's URL and `member_path`.
    pub(crate) front_path: String,
}

/// What a request resolves to.
#[derive(Debug)]
pub(crate) enum Resolved<'a> {
    /// Forward it.
    Proxy(Target),
    /// Serve `rest` from `directory`.
    Directory {
        directory: &'a PathBuf,
        rest: String,
    },
    /// Answer with a redirect.
    Redirect {
        status: StatusCode,
        location: String,
    },
    /// 404.
    NotFound,
}

/// The query of `uri`, with its `?`, or empty.
/// `path` followed by the query of `uri` (`?q`), if it has one.
fn with_query(mut path: String, uri: &http::Uri) -> String {
    if let Some(q) = uri.query() {
        path.reserve(q.len() + 1);
        path.push('?');
        path.push_str(q);
    }
    path
}

impl Sites {
    /// Builds the model of `config`, reusing members of `previous` (same
    /// balancer name, same URL).
    pub(crate) fn build(
        config: &ProxyConfig,
        workers: usize,
        previous: Option<&Sites>,
    ) -> Result<Self, Error> {
        let (vhosts, balancer_configs) = config.sites();
        let mut balancers = Vec::with_capacity(balancer_configs.len());
        for (bi, b) in balancer_configs.iter().enumerate() {
            let old = previous.and_then(|p| p.balancer(&b.name));
            let mut list = Vec::with_capacity(b.members.len());
            for (i, m) in b.members.iter().enumerate() {
                let member = match old.and_then(|o| o.get(&m.url)) {
                    Some(existing) => {
                        existing.update(m, config);
                        existing.clone()
                    }
                    None => Arc::new(Member::new(m, config, workers).map_err(|reason| {
                        let field = if config.vhosts.is_empty() {
                            format!("members[{i}].url")
                        } else {
                            format!("balancers[{bi}].members[{i}].url")
                        };
                        Error::Config { field, reason }
                    })?),
                };
                list.push(member);
            }
            balancers.push(Arc::new(Members::new(
                b.name.clone(),
                list,
                b.lbmethod,
                b.max_attempts,
                b.sticky.clone(),
            )));
        }
        let mut hosts = Vec::with_capacity(vhosts.len());
        for h in &vhosts {
            let mut routes = Vec::with_capacity(h.routes.len());
            for r in &h.routes {
                let matcher = match &r.path {
                    PathMatch::Prefix(p) => {
                        Matcher::Prefix(PathPrefix::parse(p).map_err(|reason| Error::Config {
                            field: format!("{}.path", h.name),
                            reason,
                        })?)
                    }
                    PathMatch::Regex(p) => {
                        Matcher::Regex(PathRegex::parse(p).map_err(|reason| Error::Config {
                            field: format!("{}.path_regex", h.name),
                            reason,
                        })?)
                    }
                };
                let action = match &r.action {
                    RouteAction::Proxy {
                        balancer,
                        to,
                        pass_reverse,
                    } => Action::Proxy {
                        balancer: balancers
                            .iter()
                            .find(|b| &b.name == balancer)
                            .cloned()
                            .ok_or_else(|| Error::Config {
                                field: format!("{}.balancer", h.name),
                                reason: format!("no balancer is named {balancer:?}"),
                            })?,
                        to: to.clone(),
                        reverse: pass_reverse
                            .then(|| Arc::new(Reverse::of(&matcher, to.as_deref()))),
                    },
                    RouteAction::Local {
                        directory,
                        full_path,
                    } => Action::Local {
                        directory: directory.clone(),
                        full_path: *full_path,
                    },
                    RouteAction::Redirect { status, to } => Action::Redirect {
                        status: StatusCode::from_u16(*status).map_err(|_| Error::Config {
                            field: format!("{}.status", h.name),
                            reason: format!("{status} is not a status"),
                        })?,
                        to: to.clone(),
                    },
                };
                routes.push(Route { matcher, action });
            }
            hosts.push(Host {
                name: h.name.clone(),
                names: h
                    .server_name
                    .iter()
                    .chain(&h.server_alias)
                    .map(|n| HostPattern::new(n))
                    .collect(),
                preserve_host: h.preserve_host,
                index: RouteIndex::build(&routes),
                routes,
            });
        }
        let by_listener = config
            .listen
            .iter()
            .map(|addr: &SocketAddr| {
                vhosts
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| h.listen.is_empty() || h.listen.contains(addr))
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        Ok(Self {
            hosts,
            by_listener,
            balancers,
        })
    }

    /// The balancers, in configuration order.
    pub(crate) fn balancers(&self) -> &[Arc<Members>] {
        &self.balancers
    }

    /// The balancers the routes of host `name` send to (every host named
    /// `name`, on any listener).
    pub(crate) fn balancers_of(&self, name: &str) -> Vec<&Arc<Members>> {
        let mut out: Vec<&Arc<Members>> = Vec::new();
        for host in self.hosts.iter().filter(|h| h.name == name) {
            for route in &host.routes {
                if let Action::Proxy { balancer, .. } = &route.action
                    && !out.iter().any(|b| Arc::ptr_eq(b, balancer))
                {
                    out.push(balancer);
                }
            }
        }
        out
    }

    /// Whether a host is named `name`.
    pub(crate) fn has_host(&self, name: &str) -> bool {
        self.hosts.iter().any(|h| h.name == name)
    }

    /// The balancer named `name`.
    pub(crate) fn balancer(&self, name: &str) -> Option<&Arc<Members>> {
        self.balancers.iter().find(|b| b.name == name)
    }

    /// The host a request to listener `listener` with `Host: host` is for:
    /// the first whose name matches, else the listener's first. A fully
    /// qualified name's trailing dot is not part of it (httpd's
    /// `fix_hostname` drops it too).
    pub(crate) fn host(&self, listener: usize, host: Option<&str>) -> Option<&Host> {
        let ids = self.by_listener.get(listener)?;
        let wanted = host.map(|h| host_without_port(h).trim_end_matches('.'));
        let matched = wanted.and_then(|h| {
            ids.iter()
                .map(|&i| &self.hosts[i])
                .find(|v| v.names.iter().any(|p| p.matches(h)))
        });
        matched.or_else(|| ids.first().map(|&i| &self.hosts[i]))
    }

    /// What a request for `uri` (origin-form, dot segments removed) on `host`
    /// resolves to.
    pub(crate) fn resolve<'a>(host: &'a Host, uri: &http::Uri) -> Resolved<'a> {
        let path = uri.path();
        // Scanned once for runs of `/` (a canonical path has none), not once per route.
        let plain = !crate::route::has_slash_run(path.as_bytes());
        let indexed;
        let order: &mut dyn Iterator<Item = &Route> = if plain && host.index.is_built() {
            indexed = host.index.candidates(path);
            &mut indexed
                .iter()
                .filter_map(|&i| host.routes.get(usize::from(i)))
        } else {
            &mut host.routes.iter()
        };
        for route in order {
            let Some(rest) = route.matcher.apply(path, plain, &route.action) else {
                continue;
            };
            return match &route.action {
                Action::Proxy {
                    balancer, reverse, ..
                } => Resolved::Proxy(Target {
                    balancer: balancer.clone(),
                    path: with_query(rest, uri),
                    reverse: reverse.clone(),
                    preserve_host: host.preserve_host,
                }),
                Action::Local {
                    directory: Some(directory),
                    full_path,
                } => Resolved::Directory {
                    directory,
                    rest: if *full_path { path.to_owned() } else { rest },
                },
                Action::Local {
                    directory: None, ..
                } => Resolved::NotFound,
                Action::Redirect { status, to: _ } => Resolved::Redirect {
                    status: *status,
                    location: if uri.query().is_some() && !rest.contains('?') {
                        with_query(rest, uri)
                    } else {
                        rest
                    },
                },
            };
        }
        Resolved::NotFound
    }
}

impl Matcher {
    /// Whether `path` matches, and then what the action gets: for a proxy
    /// route the path after the member's URL, for a directory the path
    /// inside it, for a redirect the location.
    fn apply(&self, path: &str, plain: bool, action: &Action) -> Option<String> {
        let to = match action {
            Action::Proxy { to, .. } => to.as_deref(),
            Action::Redirect { to, .. } => Some(to.as_str()),
            Action::Local { .. } => None,
        };
        match self {
            Self::Prefix(prefix) => match to {
                // Apache: the target, then the rest exactly as it follows
                // the matched prefix (`ProxyPass /app http://b/app/`: `/app/x`
                // → `/app//x`, the documented trailing-slash pitfall).
                Some(to) => {
                    let len = prefix.matched_len_in(path, plain)?;
                    let rest = path.get(len..).unwrap_or_default();
                    let mut out = String::with_capacity(to.len() + rest.len() + 16);
                    out.push_str(to);
                    out.push_str(rest);
                    Some(out)
                }
                // had's own `path`: the rest starts with `/`; the prefix alone
                // leaves nothing (the member's own path).
                None => {
                    let rest = prefix.strip_in(path, plain)?;
                    Some(if rest.whole {
                        String::new()
                    } else {
                        rest.path.into_owned()
                    })
                }
            },
            Self::Regex(re) => match (to, action) {
                // Apache's ProxyPassMatch: `$N` substituted into the target;
                // a target without any substitution gets the whole path
                // appended (`ProxyPassMatch \.gif$ balancer://b`).
                (Some(to), Action::Proxy { .. }) => {
                    let expanded = re.expand(path, to)?;
                    Some(if expanded == to {
                        format!("{to}{path}")
                    } else {
                        expanded
                    })
                }
                // RedirectMatch: the substituted target, nothing appended.
                (Some(to), _) => re.expand(path, to),
                (None, _) => re.is_match(path).then(|| path.to_owned()),
            },
        }
    }
}

impl Reverse {
    /// The `ProxyPassReverse` mapping of a proxy route.
    fn of(matcher: &Matcher, to: Option<&str>) -> Self {
        let prefix = match matcher {
            Matcher::Prefix(p) => p.as_str(),
            Matcher::Regex(_) => "/",
        };
        match to {
            Some(to) => Reverse {
                member_path: to.to_owned(),
                front_path: prefix.to_owned(),
            },
            None => Reverse {
                member_path: String::new(),
                front_path: prefix.trim_end_matches('/').to_owned(),
            },
        }
    }
}
