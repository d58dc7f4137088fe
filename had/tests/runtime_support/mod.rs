//! An in-memory LAN for the VRRP thread: no root, no sockets.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use had::plan::Vip;
use had::runtime::vrrp::{Received, Wire, WireError};
use tokio::sync::mpsc;
use vrrp_core::packet::IpFamily;

/// One broadcast segment shared by every node's wire.
#[derive(Default)]
pub struct Lan {
    pub listeners: Vec<(usize, mpsc::UnboundedSender<Received>)>,
    /// Nodes cut off from the segment (crash or partition).
    pub isolated: BTreeSet<usize>,
    pub vips: BTreeMap<usize, BTreeSet<IpAddr>>,
    pub announcements: BTreeMap<usize, u64>,
    /// Interfaces that do not exist (yet): starting an instance on one fails.
    pub missing_interfaces: BTreeSet<String>,
}

pub type SharedLan = Arc<Mutex<Lan>>;

pub struct SimWire {
    pub node: usize,
    pub primary: IpAddr,
    pub lan: SharedLan,
    pub links: Option<mpsc::UnboundedReceiver<(String, bool)>>,
}

impl Wire for SimWire {
    async fn listen(
        &mut self,
        _interface: &str,
        _source: IpAddr,
        _peers: &[IpAddr],
        sink: mpsc::UnboundedSender<Received>,
    ) -> Result<(), WireError> {
        self.lan.lock().unwrap().listeners.push((self.node, sink));
        Ok(())
    }
    async fn watch_links(&mut self) -> Option<mpsc::UnboundedReceiver<(String, bool)>> {
        self.links.take()
    }
    async fn primary_address(&mut self, interface: &str, _: IpFamily) -> Result<IpAddr, WireError> {
        if self
            .lan
            .lock()
            .unwrap()
            .missing_interfaces
            .contains(interface)
        {
            return Err(WireError(format!("{interface}: no such interface")));
        }
        Ok(self.primary)
    }
    async fn link_up(&mut self, _: &str) -> Result<bool, WireError> {
        Ok(true)
    }
    async fn send(
        &mut self,
        interface: &str,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) -> Result<(), WireError> {
        let lan = self.lan.lock().unwrap();
        if lan.isolated.contains(&self.node) {
            return Ok(());
        }
        for (node, sink) in &lan.listeners {
            if *node != self.node && !lan.isolated.contains(node) {
                let _ = sink.send(Received {
                    interface: interface.into(),
                    src,
                    dst,
                    ttl: 255,
                    payload: payload.to_vec(),
                });
            }
        }
        Ok(())
    }
    async fn add_addresses(&mut self, _: &str, vips: &[Vip]) -> Result<(), WireError> {
        let mut lan = self.lan.lock().unwrap();
        let set = lan.vips.entry(self.node).or_default();
        set.extend(vips.iter().map(|v| v.addr));
        Ok(())
    }
    async fn remove_addresses(&mut self, _: &str, vips: &[Vip]) -> Result<(), WireError> {
        let mut lan = self.lan.lock().unwrap();
        let set = lan.vips.entry(self.node).or_default();
        for v in vips {
            set.remove(&v.addr);
        }
        Ok(())
    }
    async fn announce(&mut self, _: &str, addrs: &[IpAddr], rounds: u32) -> Result<(), WireError> {
        let mut lan = self.lan.lock().unwrap();
        *lan.announcements.entry(self.node).or_default() += addrs.len() as u64 * u64::from(rounds);
        Ok(())
    }
}
