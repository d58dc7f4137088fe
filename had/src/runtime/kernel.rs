//! The production [`Wire`]: raw VRRP sockets, rtnetlink addresses, GARP/NA
//! and link watching, all from `vip-netlink`, in the network namespace of
//! the VRRP thread.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use vip_netlink::{Announcer, InterfaceAddress, LinkWatcher, Netlink, Peers, VrrpSocket};
use vrrp_core::packet::IpFamily;

use super::VrrpSpawner;
use super::vrrp::{Received, VrrpThread, Wire, WireError};
use crate::plan::Vip;

/// One socket per interface, family and peer list.
type SocketKey = (String, IpAddr, Vec<IpAddr>);

/// The kernel's network stack through `vip-netlink`.
#[derive(Debug)]
pub struct KernelWire {
    netlink: Netlink,
    sockets: HashMap<SocketKey, Arc<VrrpSocket>>,
    announcers: HashMap<String, Announcer>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for KernelWire {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn wire_err(e: vip_netlink::Error) -> WireError {
    WireError(e.to_string())
}

impl KernelWire {
    /// Open the rtnetlink connection; must run inside the VRRP thread's runtime.
    pub fn open() -> Result<KernelWire, WireError> {
        Ok(KernelWire {
            netlink: Netlink::connect().map_err(wire_err)?,
            sockets: HashMap::new(),
            announcers: HashMap::new(),
            tasks: Vec::new(),
        })
    }

    fn socket_for(&self, interface: &str, src: IpAddr) -> Option<&Arc<VrrpSocket>> {
        self.sockets
            .iter()
            .find(|((i, s, _), _)| i == interface && *s == src)
            .map(|(_, s)| s)
    }
}

/// The spawner `had` uses: the VRRP thread over the kernel.
pub fn spawner() -> VrrpSpawner {
    Arc::new(|instances, realtime, reports| {
        VrrpThread::spawn(KernelWire::open, instances, realtime, reports)
    })
}

impl Wire for KernelWire {
    async fn listen(
        &mut self,
        interface: &str,
        source: IpAddr,
        peers: &[IpAddr],
        sink: mpsc::UnboundedSender<Received>,
    ) -> Result<(), WireError> {
        let key = (interface.to_owned(), source, peers.to_vec());
        if self.sockets.contains_key(&key) {
            return Ok(());
        }
        let link = self.netlink.interface(interface).await.map_err(wire_err)?;
        let mode = if peers.is_empty() {
            Peers::Multicast
        } else {
            Peers::Unicast(peers.to_vec())
        };
        let socket = Arc::new(VrrpSocket::open(&link, source, mode).map_err(wire_err)?);
        let rx = socket.clone();
        let name = interface.to_owned();
        self.tasks.push(tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(p) => {
                        let sent = sink.send(Received {
                            interface: name.clone(),
                            src: p.src,
                            dst: p.dst,
                            ttl: p.ttl,
                            payload: p.payload,
                        });
                        if sent.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("VRRP socket on {name}: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        }));
        self.sockets.insert(key, socket);
        Ok(())
    }

    fn socket_drops(&self, interface: &str, source: IpAddr) -> Vec<(&'static str, u64)> {
        let (mut malformed, mut not_peer) = (0, 0);
        for ((name, src, _), socket) in &self.sockets {
            if name == interface && *src == source {
                let c = socket.counters();
                malformed += c.dropped_malformed;
                not_peer += c.dropped_not_peer;
            }
        }
        vec![
            ("socket_malformed", malformed),
            ("socket_not_peer", not_peer),
        ]
    }

    async fn watch_links(&mut self) -> Option<mpsc::UnboundedReceiver<(String, bool)>> {
        let mut watcher = match LinkWatcher::new() {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!("link watching unavailable: {e}");
                return None;
            }
        };
        if let Err(e) = watcher.snapshot().await {
            tracing::warn!("link watching unavailable: {e}");
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        self.tasks.push(tokio::spawn(async move {
            while let Some(ev) = watcher.next().await {
                if tx.send((ev.name, ev.state.is_up())).is_err() {
                    return;
                }
            }
        }));
        Some(rx)
    }

    async fn primary_address(
        &mut self,
        interface: &str,
        family: IpFamily,
    ) -> Result<IpAddr, WireError> {
        match family {
            IpFamily::V4 => self
                .netlink
                .primary_ipv4(interface)
                .await
                .map_err(wire_err)?
                .ok_or_else(|| {
                    WireError(format!(
                        "{interface} has no IPv4 address to send adverts from"
                    ))
                }),
            IpFamily::V6 => self
                .netlink
                .link_local_ipv6(interface)
                .await
                .map(IpAddr::V6)
                .map_err(wire_err),
        }
    }

    async fn link_up(&mut self, interface: &str) -> Result<bool, WireError> {
        self.netlink
            .interface(interface)
            .await
            .map(|i| i.is_up())
            .map_err(wire_err)
    }

    async fn send(
        &mut self,
        interface: &str,
        src: IpAddr,
        dst: IpAddr,
        payload: &[u8],
    ) -> Result<(), WireError> {
        let socket = self
            .socket_for(interface, src)
            .ok_or_else(|| WireError(format!("no VRRP socket on {interface} for {src}")))?;
        socket.send_to(payload, dst).await.map_err(wire_err)
    }

    async fn add_addresses(&mut self, interface: &str, vips: &[Vip]) -> Result<(), WireError> {
        for v in vips {
            let mut a = InterfaceAddress::new(v.addr, v.prefix_len).map_err(wire_err)?;
            if let Some(l) = &v.label {
                a = a.with_label(l.clone());
            }
            self.netlink
                .add_address(interface, &a)
                .await
                .map_err(wire_err)?;
        }
        Ok(())
    }

    async fn remove_addresses(&mut self, interface: &str, vips: &[Vip]) -> Result<(), WireError> {
        for v in vips {
            self.netlink
                .remove_address(interface, v.addr)
                .await
                .map_err(wire_err)?;
        }
        Ok(())
    }

    async fn announce(
        &mut self,
        interface: &str,
        addrs: &[IpAddr],
        rounds: u32,
    ) -> Result<(), WireError> {
        if !self.announcers.contains_key(interface) {
            let link = self.netlink.interface(interface).await.map_err(wire_err)?;
            let a = Announcer::open(&link).map_err(wire_err)?;
            self.announcers.insert(interface.to_owned(), a);
        }
        let Some(a) = self.announcers.get(interface) else {
            return Ok(());
        };
        a.announce(addrs, rounds, &vip_netlink::GarpConfig::default())
            .await
            .map(|_| ())
            .map_err(wire_err)
    }
}
