//! Admission of TCP connections: a global cap and a per-peer cap.
//!
//! Past the global cap, new connections wait in the kernel's accept backlog
//! instead of each taking a file descriptor: a callback storm must never leave
//! SQLite unable to open its files. Past the per-peer cap a connection is
//! closed at once, so one address (a slow-loris client, a broken vendor
//! retrying in a loop) cannot take the slots every other peer needs.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The peer address, for handlers (`ConnectInfo<PeerAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The address a per-peer limit counts. An IPv6 host usually owns a whole
/// /64, so counting single addresses would let it open `2^64` times the limit.
pub fn peer_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

pub struct ConnectionSlots {
    global: Arc<Semaphore>,
    per_peer: Arc<Mutex<HashMap<IpAddr, usize>>>,
    max_per_peer: usize,
}

/// An admitted connection; its slots are given back when it is dropped.
pub struct Admitted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub slot: Slot,
}

pub struct Slot {
    _global: OwnedSemaphorePermit,
    key: IpAddr,
    per_peer: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.per_peer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = table.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                table.remove(&self.key);
            }
        }
    }
}

impl ConnectionSlots {
    pub fn new(max_connections: usize, max_per_peer: usize) -> Self {
        ConnectionSlots {
            global: Arc::new(Semaphore::new(max_connections.max(1))),
            per_peer: Arc::default(),
            max_per_peer: max_per_peer.max(1),
        }
    }

    /// The next connection within both caps. Cancel-safe (a cancelled call
    /// holds no slot and has accepted nothing).
    pub async fn accept(&self, listener: &TcpListener) -> Admitted {
        loop {
            let global = match self.global.clone().acquire_owned().await {
                Ok(permit) => permit,
                Err(_) => std::future::pending().await, // the semaphore is never closed
            };
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            };
            let key = peer_key(peer.ip());
            if !self.take_peer_slot(key) {
                // Dropping the stream closes it; the global permit goes back
                // with it, so the refused connection never held a slot.
                metrics::counter!("campaignd_http_connections_refused_total", "reason" => "per_peer").increment(1);
                tracing::debug!(peer = %peer.ip(), limit = self.max_per_peer, "connection over the per-peer limit closed");
                continue;
            }
            let slot = Slot { _global: global, key, per_peer: self.per_peer.clone() };
            return Admitted { stream, peer, slot };
        }
    }

    fn take_peer_slot(&self, key: IpAddr) -> bool {
        let mut table = self.per_peer.lock().unwrap_or_else(|p| p.into_inner());
        let open = table.entry(key).or_insert(0);
        if *open >= self.max_per_peer {
            return false;
        }
        *open += 1;
        true
    }
}

/// A failed accept: per-connection errors (the peer reset before we took it)
/// are nothing; anything else (out of file descriptors) is logged and waited
/// out briefly, so the loop does not spin while the condition lasts.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_peers_count_by_their_64_prefix_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(peer_key(a), peer_key(b));
        assert_ne!(peer_key(a), peer_key(other));
        let mapped: IpAddr = "::ffff:10.0.0.7".parse().unwrap();
        assert_eq!(peer_key(mapped), "10.0.0.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_peer_slot_is_given_back_when_its_connection_ends() {
        let slots = ConnectionSlots::new(10, 2);
        let key: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(slots.take_peer_slot(key));
        assert!(slots.take_peer_slot(key));
        assert!(!slots.take_peer_slot(key), "third connection of one peer");
        assert!(slots.take_peer_slot("127.0.0.3".parse().unwrap()), "another peer is not affected");
        let permit = slots.global.clone().try_acquire_owned().unwrap();
        drop(Slot { _global: permit, key, per_peer: slots.per_peer.clone() });
        assert!(slots.take_peer_slot(key), "a slot freed by a closed connection");
    }
}
