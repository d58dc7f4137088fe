//! Link-state watching over rtnetlink (RTNLGRP_LINK): the events that put
//! an instance in FAULT when its interface or a `track_interface` goes down,
//! and back to BACKUP when it returns.

use std::collections::HashMap;

use futures_util::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::LinkMessage;
use tokio::sync::mpsc;

use crate::error::Error;
use crate::netlink::{Interface, Netlink};

/// The state of a link as VRRP cares about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkState {
    /// Administratively up and running (IFF_UP and IFF_RUNNING).
    Up,
    /// Down: administratively, or no carrier.
    Down,
    /// The interface was deleted.
    Removed,
}

impl LinkState {
    /// True for [`LinkState::Up`].
    pub fn is_up(self) -> bool {
        self == LinkState::Up
    }
}

/// A link's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    /// Interface index.
    pub index: u32,
    /// Interface name.
    pub name: String,
    /// Its state.
    pub state: LinkState,
}

impl LinkEvent {
    fn from_interface(interface: &Interface) -> LinkEvent {
        LinkEvent {
            index: interface.index,
            name: interface.name.clone(),
            state: if interface.is_up() {
                LinkState::Up
            } else {
                LinkState::Down
            },
        }
    }
}

/// A subscription to link changes in this network namespace.
///
/// Subscribe first, then read the current state with
/// [`LinkWatcher::snapshot`], then loop on [`LinkWatcher::next`]: no change
/// can fall between the two. `next` yields only real changes of
/// [`LinkState`] (the kernel repeats RTM_NEWLINK for many unrelated reasons).
///
/// ```no_run
/// # async fn demo() -> Result<(), vip_netlink::Error> {
/// use vip_netlink::link::LinkWatcher;
///
/// let mut watcher = LinkWatcher::new()?;
/// for link in watcher.snapshot().await? {
///     println!("{} is {:?}", link.name, link.state);
/// }
/// while let Some(change) = watcher.next().await {
///     println!("{} is now {:?}", change.name, change.state);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LinkWatcher {
    events: mpsc::UnboundedReceiver<LinkEvent>,
    query: Netlink,
    tasks: [tokio::task::JoinHandle<()>; 2],
    /// Last state reported per interface index.
    known: HashMap<u32, LinkState>,
}

impl LinkWatcher {
    /// Subscribes to link changes; must be called inside a tokio runtime.
    pub fn new() -> Result<LinkWatcher, Error> {
        let (connection, _, messages) =
            rtnetlink::new_multicast_connection(&[rtnetlink::MulticastGroup::Link])
                .map_err(Error::NetlinkSocket)?;
        let connection = tokio::spawn(connection);
        let (sender, events) = mpsc::unbounded_channel();
        let forwarder = tokio::spawn(async move {
            let mut messages = messages;
            while let Some((message, _)) = messages.next().await {
                let event = match message.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(link)) => {
                        LinkEvent::from_interface(&Interface::from_message(&link))
                    }
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(link)) => {
                        removed(&link)
                    }
                    _ => continue,
                };
                if sender.send(event).is_err() {
                    break;
                }
            }
        });
        Ok(LinkWatcher {
            events,
            query: Netlink::connect()?,
            tasks: [connection, forwarder],
            known: HashMap::new(),
        })
    }

    /// The current state of every link (and the baseline for [`LinkWatcher::next`]).
    pub async fn snapshot(&mut self) -> Result<Vec<LinkEvent>, Error> {
        let links: Vec<LinkEvent> = self
            .query
            .interfaces()
            .await?
            .iter()
            .map(LinkEvent::from_interface)
            .collect();
        for link in &links {
            self.known.insert(link.index, link.state);
        }
        Ok(links)
    }

    /// The next change of a link's state; `None` if the subscription ended.
    pub async fn next(&mut self) -> Option<LinkEvent> {
        loop {
            let event = self.events.recv().await?;
            let previous = if event.state == LinkState::Removed {
                self.known.remove(&event.index)
            } else {
                self.known.insert(event.index, event.state)
            };
            if previous != Some(event.state) {
                return Some(event);
            }
        }
    }

    /// The last state reported for interface `index`, if known.
    pub fn state_of(&self, index: u32) -> Option<LinkState> {
        self.known.get(&index).copied()
    }
}

impl Drop for LinkWatcher {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn removed(link: &LinkMessage) -> LinkEvent {
    let interface = Interface::from_message(link);
    LinkEvent {
        index: interface.index,
        name: interface.name,
        state: LinkState::Removed,
    }
}
