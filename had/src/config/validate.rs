//! Semantic checks on a deserialized configuration: ranges, address
//! families, references between tables, clashes, and risky settings.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

mod proxy;

use super::error::{Invalid, Problem, Risk, Warning};
use super::schema::{AuthType, Config, InitialState, VrrpInstance};
use super::{Source, nearest};

/// Allowed range of a check weight (keepalived: -253..=253 in older
/// releases, -254..=254 in 2.x).
/// keepalived's weight range, from vrrp-core.
const WEIGHT_RANGE: (i64, i64) = (
    *vrrp_core::limits::WEIGHT.start() as i64,
    *vrrp_core::limits::WEIGHT.end() as i64,
);

struct Checker<'a, 'b> {
    source: &'a Source<'b>,
    errors: &'a mut Vec<Invalid>,
    warnings: &'a mut Vec<Warning>,
}

fn key<S: AsRef<str>>(parts: &[S]) -> Vec<String> {
    parts.iter().map(|s| s.as_ref().to_string()).collect()
}

fn family(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() { "IPv4" } else { "IPv6" }
}

impl Checker<'_, '_> {
    fn error<S: AsRef<str>>(&mut self, path: &[S], problem: Problem) {
        let path = key(path);
        self.errors.push(Invalid {
            origin: self.source.origin(&path),
            key: path.join("."),
            problem,
        });
    }

    fn warn<S: AsRef<str>>(&mut self, path: &[S], risk: Risk) {
        let path = key(path);
        self.warnings.push(Warning {
            origin: self.source.origin(&path),
            key: path.join("."),
            risk,
        });
    }

    fn where_is<S: AsRef<str>>(&self, path: &[S]) -> String {
        let path = key(path);
        match self.source.origin(&path).line() {
            Some(line) => format!("{} (line {line})", path.join(".")),
            None => path.join("."),
        }
    }

    fn range<S: AsRef<str>>(&mut self, path: &[S], value: i64, lo: i64, hi: i64) {
        if value < lo || value > hi {
            self.error(
                path,
                Problem::OutOfRange {
                    value: value.to_string(),
                    allowed: if lo < 0 {
                        format!("{lo} to {hi}")
                    } else {
                        format!("{lo}-{hi}")
                    },
                },
            );
        }
    }

    fn weight<S: AsRef<str>>(&mut self, path: &[S], value: i64) {
        self.range(path, value, WEIGHT_RANGE.0, WEIGHT_RANGE.1);
    }

    fn at_least_one<S: AsRef<str>>(&mut self, path: &[S], value: u32) {
        if value == 0 {
            self.error(
                path,
                Problem::OutOfRange {
                    value: "0".into(),
                    allowed: "1 or more".into(),
                },
            );
        }
    }

    fn at_least<S: AsRef<str>>(&mut self, path: &[S], value: u32, min: u32, unit: &str) {
        if value < min {
            self.error(
                path,
                Problem::OutOfRange {
                    value: value.to_string(),
                    allowed: format!("{min}{unit} or more"),
                },
            );
        }
    }

    /// Whether `path` was written rather than left to its default.
    fn written<S: AsRef<str>>(&self, path: &[S]) -> bool {
        self.source.written(&key(path))
    }

    fn positive_duration<S: AsRef<str>>(&mut self, path: &[S], value: Duration) {
        if value.is_zero() {
            self.error(
                path,
                Problem::OutOfRange {
                    value: "0".into(),
                    allowed: "more than 0 s".into(),
                },
            );
        }
    }

    fn command<S: AsRef<str>>(&mut self, path: &[S], text: &str) {
        if shlex::split(text).is_none_or(|v| v.is_empty()) {
            self.error(
                path,
                Problem::InvalidValue {
                    message: format!(
                        "{text:?} is not a command line (empty, or an unclosed quote)"
                    ),
                },
            );
        }
    }

    /// A member URL: `http://`, `https://`, `ws://` or `wss://` with a
    /// host; a scheme Apache has and had does not is named as such.
    fn member_url<S: AsRef<str>>(&mut self, path: &[S], url: &str) {
        let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let message = match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" | "ws" | "wss" if !host.is_empty() => return,
            "ajp" | "fcgi" | "uwsgi" | "h2c" | "h2" | "scgi" | "ftp" | "unix" => format!(
                "{scheme}:// members are not supported: had speaks HTTP/1.1 and WebSocket to members (http://, https://, ws://, wss://)"
            ),
            _ => format!(
                "{url:?} is not an http://, https://, ws:// or wss:// URL with a host (e.g. \"http://198.18.0.21:8080\")"
            ),
        };
        self.error(path, Problem::InvalidValue { message });
    }

    fn http_url<S: AsRef<str>>(&mut self, path: &[S], url: &str) {
        let ok = url
            .strip_prefix("http://")
            .map(|rest| rest.split(['/', '?']).next().unwrap_or_default())
            .is_some_and(|authority| !authority.is_empty());
        if !ok {
            self.error(
                path,
                Problem::InvalidValue { message: format!("{url:?} is not an http:// URL with a host (e.g. \"http://198.18.0.21:8080\")") },
            );
        }
    }
}

/// Runs every semantic check, appending to `errors` and `warnings`.
pub(crate) fn validate(
    source: &Source<'_>,
    config: &Config,
    errors: &mut Vec<Invalid>,
    warnings: &mut Vec<Warning>,
) {
    let mut c = Checker {
        source,
        errors,
        warnings,
    };
    let g = &config.global;
    if !matches!(g.vrrp_version, 2 | 3) {
        c.error(
            &["global", "vrrp_version"],
            Problem::OutOfRange {
                value: g.vrrp_version.to_string(),
                allowed: "2 or 3".into(),
            },
        );
    }
    if let Some(id) = &g.router_id
        && id.trim().is_empty()
    {
        c.error(
            &["global", "router_id"],
            Problem::Empty {
                hint: "a name for this node, e.g. \"ha1\"",
            },
        );
    }

    // Checks tracked through `track_script` share one namespace.
    let mut script_names: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for (section, names) in [
        ("vrrp_script", config.vrrp_script.keys().collect::<Vec<_>>()),
        ("tcp_check", config.tcp_check.keys().collect()),
        ("http_check", config.http_check.keys().collect()),
        ("track_proxy", config.track_proxy.keys().collect()),
    ] {
        for name in names {
            if let Some((other_section, other_name)) = script_names.get(name.as_str()) {
                let other = c.where_is(&[other_section, other_name]);
                c.error(
                    &[section, name],
                    Problem::DuplicateName {
                        name: name.clone(),
                        other,
                    },
                );
            } else {
                script_names.insert(name, (section, name));
            }
        }
    }

    for (name, s) in &config.vrrp_script {
        c.command(&["vrrp_script", name, "script"], &s.script);
        c.weight(&["vrrp_script", name, "weight"], s.weight);
        c.at_least_one(&["vrrp_script", name, "rise"], s.rise);
        c.at_least_one(&["vrrp_script", name, "fall"], s.fall);
        c.positive_duration(&["vrrp_script", name, "interval"], s.interval);
        if let Some(t) = s.timeout {
            c.positive_duration(&["vrrp_script", name, "timeout"], t);
        }
    }
    for (name, t) in &config.tcp_check {
        c.weight(&["tcp_check", name, "weight"], t.weight);
        c.at_least_one(&["tcp_check", name, "rise"], t.rise);
        c.at_least_one(&["tcp_check", name, "fall"], t.fall);
        c.positive_duration(&["tcp_check", name, "interval"], t.interval);
        c.positive_duration(&["tcp_check", name, "timeout"], t.timeout);
        if t.connect_port == 0 {
            c.error(
                &["tcp_check", name, "connect_port"],
                Problem::OutOfRange {
                    value: "0".into(),
                    allowed: "1-65535".into(),
                },
            );
        }
    }
    for (name, h) in &config.http_check {
        c.http_url(&["http_check", name, "url"], &h.url);
        c.range(
            &["http_check", name, "status_code"],
            i64::from(h.status_code),
            100,
            599,
        );
        c.weight(&["http_check", name, "weight"], h.weight);
        c.at_least_one(&["http_check", name, "rise"], h.rise);
        c.at_least_one(&["http_check", name, "fall"], h.fall);
        c.positive_duration(&["http_check", name, "interval"], h.interval);
        c.positive_duration(&["http_check", name, "timeout"], h.timeout);
    }
    for (name, t) in &config.track_proxy {
        c.weight(&["track_proxy", name, "weight"], t.weight);
        if !config.proxy.contains_key(&t.proxy) {
            c.error(
                &["track_proxy", name, "proxy"],
                Problem::UnknownReference {
                    what: "[proxy.NAME]",
                    name: t.proxy.clone(),
                    suggestion: nearest(&t.proxy, config.proxy.keys().map(String::as_str)),
                },
            );
        }
    }
    for (name, t) in &config.track_file {
        c.weight(&["track_file", name, "weight"], t.weight);
    }
    for (name, t) in &config.track_process {
        c.weight(&["track_process", name, "weight"], t.weight);
        c.at_least_one(&["track_process", name, "quorum"], t.quorum);
        if let Some(max) = t.quorum_max
            && max < t.quorum
        {
            c.error(
                &["track_process", name, "quorum_max"],
                Problem::OutOfRange {
                    value: max.to_string(),
                    allowed: format!("{} (quorum) or more", t.quorum),
                },
            );
        }
        if let Some(mode) = &t.param_match
            && !matches!(mode.as_str(), "exact" | "partial" | "initial")
        {
            c.error(
                &["track_process", name, "param_match"],
                Problem::InvalidValue {
                    message: format!(
                        "{mode:?} is not allowed (allowed: \"exact\", \"partial\", \"initial\")"
                    ),
                },
            );
        }
    }

    let mut vrids: BTreeMap<(String, u32, &'static str), String> = BTreeMap::new();
    for (name, inst) in &config.vrrp_instance {
        instance(&mut c, config, name, inst, &script_names);
        if let Some(first) = inst.virtual_ipaddress.first() {
            let fam = family(&first.addr);
            let k = (inst.interface.clone(), inst.virtual_router_id, fam);
            if let Some(other) = vrids.get(&k) {
                let other = c.where_is(&["vrrp_instance", other]);
                c.error(
                    &["vrrp_instance", name, "virtual_router_id"],
                    Problem::DuplicateVrid {
                        vrid: inst.virtual_router_id,
                        interface: inst.interface.clone(),
                        family: fam,
                        other,
                    },
                );
            } else {
                vrids.insert(k, name.clone());
            }
        }
    }

    let mut grouped: BTreeMap<&str, &str> = BTreeMap::new();
    for (gname, group) in &config.vrrp_sync_group {
        if group.group.is_empty() {
            c.error(
                &["vrrp_sync_group", gname, "group"],
                Problem::Empty {
                    hint: "the names of two or more vrrp_instance tables",
                },
            );
        }
        for (i, member) in group.group.iter().enumerate() {
            let idx = i.to_string();
            if !config.vrrp_instance.contains_key(member) {
                c.error(
                    &["vrrp_sync_group", gname, "group", &idx],
                    Problem::UnknownReference {
                        what: "vrrp_instance",
                        name: member.clone(),
                        suggestion: nearest(
                            member,
                            config.vrrp_instance.keys().map(String::as_str),
                        ),
                    },
                );
            } else if let Some(other) = grouped.get(member.as_str()) {
                let other = c.where_is(&["vrrp_sync_group", other]);
                c.error(
                    &["vrrp_sync_group", gname, "group", &idx],
                    Problem::TwoSyncGroups {
                        instance: member.clone(),
                        other,
                    },
                );
            } else {
                grouped.insert(member, gname);
            }
        }
        for (k, v) in [
            ("notify_master", &group.notify_master),
            ("notify_backup", &group.notify_backup),
            ("notify_fault", &group.notify_fault),
            ("notify", &group.notify),
        ] {
            if let Some(cmd) = v {
                c.command(&["vrrp_sync_group", gname, k], cmd);
            }
        }
    }

    proxy::validate(&mut c, config);
}

fn instance(
    c: &mut Checker<'_, '_>,
    config: &Config,
    name: &str,
    inst: &VrrpInstance,
    script_names: &BTreeMap<&str, (&str, &str)>,
) {
    let at = |k: &'static str| ["vrrp_instance", name, k];
    if inst.interface.trim().is_empty() {
        c.error(
            &at("interface"),
            Problem::Empty {
                hint: "the interface name, e.g. \"eth0\"",
            },
        );
    }
    let (low, high) = vrrp_core::limits::VRID.into_inner();
    c.range(
        &at("virtual_router_id"),
        i64::from(inst.virtual_router_id),
        i64::from(low),
        i64::from(high),
    );
    let (low, high) = vrrp_core::limits::PRIORITY.into_inner();
    c.range(
        &at("priority"),
        i64::from(inst.priority),
        i64::from(low),
        i64::from(high),
    );
    let version = inst.effective_version(&config.global);
    if let Some(v) = inst.version
        && !matches!(v, 2 | 3)
    {
        c.error(
            &at("version"),
            Problem::OutOfRange {
                value: v.to_string(),
                allowed: "2 or 3".into(),
            },
        );
    }
    let adv = inst.advert_int;
    let wire = if version == 2 {
        vrrp_core::Version::V2
    } else {
        vrrp_core::Version::V3
    };
    // RFC 3768 §5.3.7: an 8-bit count of seconds; RFC 5798 §5.2.7: a
    // 12-bit count of centiseconds.
    if matches!(version, 2 | 3)
        && let Err(e) = vrrp_core::limits::interval_cs(wire, adv)
    {
        c.error(
            &at("advert_int"),
            Problem::AdvertInterval {
                value: format!("{}", adv.as_secs_f64()),
                version,
                allowed: e.allowed(),
            },
        );
    }
    if inst.preempt_delay > Duration::from_secs(1000) {
        c.error(
            &at("preempt_delay"),
            Problem::OutOfRange {
                value: format!("{} s", inst.preempt_delay.as_secs_f64()),
                allowed: "0-1000 s".into(),
            },
        );
    }
    if inst.nopreempt && inst.state == InitialState::Master {
        c.warn(&at("nopreempt"), Risk::NopreemptWithMaster);
    }
    if !inst.accept && c.written(&at("accept")) {
        c.error(
            &at("accept"),
            Problem::Unsupported {
                value: "false".into(),
                why: "had installs no firewall rule dropping traffic to the VIPs, so a MASTER \
                      always accepts it (keepalived's default outside vrrp_strict); remove the key"
                    .into(),
            },
        );
    }

    if let Some(auth) = &inst.authentication {
        if version == 3 {
            c.warn(&at("authentication"), Risk::AuthIgnoredV3);
        } else {
            let pass_key = ["vrrp_instance", name, "authentication", "auth_pass"];
            if auth.auth_pass.is_empty() {
                c.error(
                    &pass_key,
                    Problem::Empty {
                        hint: "a password of 1 to 8 characters",
                    },
                );
            }
            if auth.auth_pass.len() > 8 {
                c.warn(
                    &pass_key,
                    Risk::AuthPassTruncated {
                        len: auth.auth_pass.chars().count(),
                        used: auth.wire_pass().to_string(),
                    },
                );
            }
            match auth.auth_type {
                AuthType::Pass => c.warn(
                    &["vrrp_instance", name, "authentication", "auth_type"],
                    Risk::PassIsNotSecurity,
                ),
                AuthType::Ah => c.error(
                    &["vrrp_instance", name, "authentication", "auth_type"],
                    Problem::Unsupported {
                        value: "\"AH\"".into(),
                        why: "had implements no IPsec AH and would send adverts without \
                              authentication; use \"PASS\" or remove `authentication`"
                            .into(),
                    },
                ),
            }
        }
    }

    // The instance's family is its first VIP's; VRRPv2 is IPv4 only (RFC 3768 §1).
    let first = inst.virtual_ipaddress.first().map(|v| v.addr);
    if first.is_none() {
        c.warn(&at("virtual_ipaddress"), Risk::NoVirtualAddress);
    }
    for (i, vip) in inst.virtual_ipaddress.iter().enumerate() {
        let idx = i.to_string();
        let path = ["vrrp_instance", name, "virtual_ipaddress", idx.as_str()];
        if version == 2 && vip.addr.is_ipv6() {
            c.error(
                &path,
                Problem::WrongFamily {
                    addr: vip.addr.to_string(),
                    family: "IPv6",
                    why: "VRRPv2 carries IPv4 only (RFC 3768); set version = 3".into(),
                },
            );
        } else if let Some(f) = first
            && f.is_ipv4() != vip.addr.is_ipv4()
        {
            c.error(&path, Problem::WrongFamily { addr: vip.addr.to_string(), family: family(&vip.addr), why: format!("this instance is {} (its first address is {f}); put each family in its own instance", family(&f)) });
        }
        if vip.label.is_some() && vip.addr.is_ipv6() {
            c.error(
                &path,
                Problem::InvalidValue {
                    message: "labels exist for IPv4 addresses only".into(),
                },
            );
        }
    }
    let fam = first.map_or(if version == 2 { "IPv4" } else { "" }, |a| family(&a));
    let wrong = |a: &IpAddr| !fam.is_empty() && family(a) != fam;
    if let Some(src) = &inst.unicast_src_ip
        && wrong(src)
    {
        c.error(
            &at("unicast_src_ip"),
            Problem::WrongFamily {
                addr: src.to_string(),
                family: family(src),
                why: format!("the instance's adverts are {fam}"),
            },
        );
    }
    for (i, peer) in inst.unicast_peer.iter().enumerate() {
        if wrong(peer) {
            c.error(
                &["vrrp_instance", name, "unicast_peer", &i.to_string()],
                Problem::WrongFamily {
                    addr: peer.to_string(),
                    family: family(peer),
                    why: format!("the instance's adverts are {fam}"),
                },
            );
        }
    }

    for (i, t) in inst.track_script.iter().enumerate() {
        let idx = i.to_string();
        if !script_names.contains_key(t.name.as_str()) {
            c.error(
                &["vrrp_instance", name, "track_script", &idx],
                Problem::UnknownReference {
                    what: "vrrp_script, tcp_check, http_check or track_proxy",
                    name: t.name.clone(),
                    suggestion: nearest(&t.name, script_names.keys().copied()),
                },
            );
        }
        if let Some(w) = t.weight {
            c.weight(&["vrrp_instance", name, "track_script", &idx], w);
        }
    }
    for (list, table, defined) in [
        (
            "track_file",
            &inst.track_file,
            config
                .track_file
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        ),
        (
            "track_process",
            &inst.track_process,
            config.track_process.keys().map(String::as_str).collect(),
        ),
    ] {
        for (i, t) in table.iter().enumerate() {
            let idx = i.to_string();
            if !defined.contains(&t.name.as_str()) {
                c.error(
                    &["vrrp_instance", name, list, &idx],
                    Problem::UnknownReference {
                        what: list,
                        name: t.name.clone(),
                        suggestion: nearest(&t.name, defined.iter().copied()),
                    },
                );
            }
            if let Some(w) = t.weight {
                c.weight(&["vrrp_instance", name, list, &idx], w);
            }
        }
    }
    for (i, t) in inst.track_interface.iter().enumerate() {
        let idx = i.to_string();
        if t.name.trim().is_empty() {
            c.error(
                &["vrrp_instance", name, "track_interface", &idx],
                Problem::Empty {
                    hint: "an interface name",
                },
            );
        }
        if let Some(w) = t.weight {
            c.weight(&["vrrp_instance", name, "track_interface", &idx], w);
        }
    }
    for (k, v) in [
        ("notify_master", &inst.notify_master),
        ("notify_backup", &inst.notify_backup),
        ("notify_fault", &inst.notify_fault),
        ("notify_stop", &inst.notify_stop),
        ("notify", &inst.notify),
    ] {
        if let Some(cmd) = v {
            c.command(&["vrrp_instance", name, k], cmd);
        }
    }
}
