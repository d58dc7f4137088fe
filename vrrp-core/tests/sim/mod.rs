//! A deterministic event-queue LAN for `vrrp_core::Instance`s: per-link loss,
//! delay and cuts, node crashes and restarts, all in virtual time from one
//! base `Instant` and driven by a seeded RNG.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use rand_xorshift::XorShiftRng;
use vrrp_core::{Action, Advertisement, Instance, InstanceConfig, State};

/// One simulated router.
pub struct Node {
    pub config: InstanceConfig,
    pub instance: Instance,
    pub alive: bool,
    /// Whether the VIPs are configured on this node (from Add/Remove actions).
    pub holds_addresses: bool,
    /// Every (time, from, to) state change this node reported.
    pub changes: Vec<(Instant, State, State)>,
    /// When this node last accepted-or-not received an advert (any priority).
    pub last_heard: Vec<(Instant, IpAddr, u8)>,
}

/// A link property from one node to another.
#[derive(Clone, Copy)]
pub struct Link {
    pub loss: f64,
    pub min_delay: Duration,
    pub max_delay: Duration,
    pub cut: bool,
}

impl Link {
    pub fn perfect() -> Self {
        Self {
            loss: 0.0,
            min_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
            cut: false,
        }
    }
}

struct Delivery {
    at: Instant,
    seq: u64,
    to: usize,
    from: IpAddr,
    advert: Advertisement,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delivery {}
impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delivery {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The simulated LAN.
pub struct Lan {
    pub base: Instant,
    pub now: Instant,
    pub nodes: Vec<Node>,
    pub links: Vec<Vec<Link>>,
    pub rng: XorShiftRng,
    queue: BinaryHeap<Reverse<Delivery>>,
    seq: u64,
    /// Adverts each node put on the wire: (time, priority).
    pub sent: Vec<Vec<(Instant, u8)>>,
}

pub fn node_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        198,
        18,
        0,
        10 + u8::try_from(i).expect("few nodes"),
    ))
}

pub fn vip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, 200))
}

impl Lan {
    pub fn new(seed: u64, configs: Vec<InstanceConfig>) -> Self {
        let base = Instant::now();
        let n = configs.len();
        let nodes = configs
            .into_iter()
            .map(|config| Node {
                instance: Instance::new(config.clone()).expect("valid sim config"),
                config,
                alive: false,
                holds_addresses: false,
                changes: Vec::new(),
                last_heard: Vec::new(),
            })
            .collect();
        Self {
            base,
            now: base,
            nodes,
            links: vec![vec![Link::perfect(); n]; n],
            rng: XorShiftRng::seed_from_u64(seed),
            queue: BinaryHeap::new(),
            seq: 0,
            sent: vec![Vec::new(); n],
        }
    }

    pub fn at(&self, offset: Duration) -> Instant {
        self.base + offset
    }

    pub fn set_all_links(&mut self, link: Link) {
        for row in &mut self.links {
            for l in row.iter_mut() {
                *l = link;
            }
        }
    }

    pub fn start(&mut self, i: usize) {
        let now = self.now;
        let node = &mut self.nodes[i];
        node.alive = true;
        node.instance.start(now);
        self.drain(i);
    }

    /// The node stops processing and sending; its VIPs vanish with it.
    pub fn crash(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.alive = false;
        node.holds_addresses = false;
    }

    /// A crashed node comes back as a fresh process and starts.
    pub fn restart(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.instance = Instance::new(node.config.clone()).expect("valid sim config");
        self.start(i);
    }

    pub fn shutdown(&mut self, i: usize) {
        let now = self.now;
        self.nodes[i].instance.shutdown(now);
        self.drain(i);
        self.nodes[i].alive = false;
    }

    pub fn set_priority(&mut self, i: usize, priority: u8) {
        let now = self.now;
        self.nodes[i].instance.set_effective_priority(now, priority);
        self.drain(i);
    }

    pub fn set_fault(&mut self, i: usize, fault: bool) {
        let now = self.now;
        self.nodes[i].instance.set_fault(now, fault);
        self.drain(i);
    }

    /// Executes node `i`'s queued actions and checks the address invariant.
    fn drain(&mut self, i: usize) {
        let now = self.now;
        while let Some(action) = self.nodes[i].instance.poll_action() {
            match action {
                Action::SendAdvert(advert) => {
                    self.sent[i].push((now, advert.priority));
                    self.broadcast(i, advert);
                }
                Action::AddAddresses(addrs) => {
                    let node = &mut self.nodes[i];
                    assert!(!node.holds_addresses, "node {i} added addresses twice");
                    assert_eq!(addrs, node.config.virtual_addresses);
                    node.holds_addresses = true;
                }
                Action::RemoveAddresses(addrs) => {
                    let node = &mut self.nodes[i];
                    assert!(
                        node.holds_addresses,
                        "node {i} removed addresses it did not hold"
                    );
                    assert_eq!(addrs, node.config.virtual_addresses);
                    node.holds_addresses = false;
                }
                Action::Announce(addrs) => {
                    assert!(
                        self.nodes[i].holds_addresses,
                        "node {i} announced unheld addresses"
                    );
                    assert!(!addrs.is_empty());
                }
                Action::StateChanged { from, to, .. } => {
                    self.nodes[i].changes.push((now, from, to));
                }
                Action::AddressListMismatch { .. } => {
                    panic!("node {i}: every sim node advertises the same list");
                }
            }
        }
        let node = &self.nodes[i];
        assert_eq!(
            node.holds_addresses,
            node.instance.state() == State::Master,
            "node {i}: addresses held must match MASTER (state {})",
            node.instance.state()
        );
    }

    fn broadcast(&mut self, from: usize, advert: Advertisement) {
        let src = node_ip(from);
        for to in 0..self.nodes.len() {
            if to == from {
                continue;
            }
            let link = self.links[from][to];
            if link.cut || (link.loss > 0.0 && self.rng.random_bool(link.loss)) {
                continue;
            }
            let delay = if link.max_delay > link.min_delay {
                let span = (link.max_delay - link.min_delay).as_micros() as u64;
                link.min_delay + Duration::from_micros(self.rng.random_range(0..=span))
            } else {
                link.min_delay
            };
            self.seq += 1;
            self.queue.push(Reverse(Delivery {
                at: self.now + delay,
                seq: self.seq,
                to,
                from: src,
                advert: advert.clone(),
            }));
        }
    }

    /// The earliest pending event (delivery or live node timer), if any.
    fn next_event(&self) -> Option<Instant> {
        let delivery = self.queue.peek().map(|Reverse(d)| d.at);
        let timer = self
            .nodes
            .iter()
            .filter(|n| n.alive)
            .filter_map(|n| n.instance.poll_timeout())
            .min();
        match (delivery, timer) {
            (Some(d), Some(t)) => Some(d.min(t)),
            (d, t) => d.or(t),
        }
    }

    /// Processes one event at or before `until`; returns false if none.
    pub fn step(&mut self, until: Instant) -> bool {
        let Some(at) = self.next_event() else {
            return false;
        };
        if at > until {
            return false;
        }
        self.now = at;
        // Deliveries first at a tie: a packet on the wire at the deadline counts.
        if self.queue.peek().is_some_and(|Reverse(d)| d.at == at) {
            let Some(Reverse(d)) = self.queue.pop() else {
                return false;
            };
            if self.nodes[d.to].alive {
                self.nodes[d.to]
                    .last_heard
                    .push((at, d.from, d.advert.priority));
                let _ = self.nodes[d.to]
                    .instance
                    .handle_advert(at, d.from, 255, &d.advert);
                self.drain(d.to);
            }
            return true;
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].alive && self.nodes[i].instance.poll_timeout() == Some(at) {
                self.nodes[i].instance.handle_timeout(at);
                self.drain(i);
            }
        }
        true
    }

    /// Runs every event up to `until`, calling `observe` after each.
    pub fn run_until(&mut self, until: Instant, mut observe: impl FnMut(&Lan)) {
        while self.step(until) {
            observe(self);
        }
        self.now = until;
    }

    /// A readable dump of every node, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let changes: Vec<String> = n
                .changes
                .iter()
                .map(|(t, from, to)| format!("{:?} {from}->{to}", *t - self.base))
                .collect();
            out += &format!(
                "node {i} {} alive={} state={} prio={} timer={:?} changes={changes:?}\n",
                node_ip(i),
                n.alive,
                n.instance.state(),
                n.instance.effective_priority(),
                n.instance.poll_timeout().map(|t| t - self.base),
            );
        }
        out + &format!("now {:?}", self.now - self.base)
    }

    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.nodes[i].instance.state() == State::Master)
            .collect()
    }

    /// The live, non-fault node with the highest effective priority.
    pub fn expected_winner(&self) -> Option<usize> {
        (0..self.nodes.len())
            .filter(|&i| {
                let n = &self.nodes[i];
                n.alive && !matches!(n.instance.state(), State::Fault | State::Initialize)
            })
            .max_by_key(|&i| (self.nodes[i].instance.effective_priority(), node_ip(i)))
    }
}
