//! FULLNAT local addresses (DPVS's `laddr`): a per-service pool of director addresses and
//! the port allocator for the SNAT side of FULLNAT connections.
//!
//! A FULLNAT connection is rewritten client→VIP becomes LIP:lport→RIP:rport, so replies
//! come back to the director from any real server without routing help. The pair
//! (LIP, lport) must identify the connection for the reply lookup; this allocator keeps one
//! bitmap of used ports per local address and protocol, so each (LIP, protocol) carries up
//! to [`PORT_MAX`]−[`PORT_MIN`]+1 connections whatever the real server. Local addresses are
//! taken in turn (round robin, as DPVS does), and within one address the next free port
//! after the last one handed out (next fit), so a port is reused as late as possible.

use std::net::IpAddr;

use crate::error::LaddrError;
use crate::types::Af;

/// Lowest local port handed out.
pub const PORT_MIN: u16 = 1024;
/// Highest local port handed out.
pub const PORT_MAX: u16 = 65535;

const WORDS: usize = 65536 / 64;

/// Used ports of one (local address, protocol).
#[derive(Clone)]
struct PortMap {
    protocol: u8,
    bits: Box<[u64; WORDS]>,
    used: u32,
    cursor: u16,
}

impl std::fmt::Debug for PortMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortMap")
            .field("protocol", &self.protocol)
            .field("used", &self.used)
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl PortMap {
    fn new(protocol: u8) -> PortMap {
        PortMap {
            protocol,
            bits: Box::new([0; WORDS]),
            used: 0,
            cursor: PORT_MIN,
        }
    }

    fn is_used(&self, p: u16) -> bool {
        self.bits[usize::from(p) / 64] & (1 << (p % 64)) != 0
    }

    fn capacity() -> u32 {
        u32::from(PORT_MAX - PORT_MIN) + 1
    }

    /// Take the next free port at or after the cursor.
    fn take(&mut self) -> Option<u16> {
        if self.used >= Self::capacity() {
            return None;
        }
        let span = Self::capacity();
        let start = u32::from(self.cursor.max(PORT_MIN) - PORT_MIN);
        for k in 0..span {
            let p = PORT_MIN + u16::try_from((start + k) % span).ok()?;
            if !self.is_used(p) {
                self.bits[usize::from(p) / 64] |= 1 << (p % 64);
                self.used += 1;
                self.cursor = if p == PORT_MAX { PORT_MIN } else { p + 1 };
                return Some(p);
            }
        }
        None
    }

    fn give_back(&mut self, p: u16) -> bool {
        if p < PORT_MIN || !self.is_used(p) {
            return false;
        }
        self.bits[usize::from(p) / 64] &= !(1 << (p % 64));
        self.used -= 1;
        true
    }
}

/// One local address and its port maps.
#[derive(Clone, Debug)]
struct Laddr {
    addr: IpAddr,
    maps: Vec<PortMap>,
}

impl Laddr {
    fn map(&mut self, protocol: u8) -> &mut PortMap {
        if let Some(i) = self.maps.iter().position(|m| m.protocol == protocol) {
            &mut self.maps[i]
        } else {
            self.maps.push(PortMap::new(protocol));
            let last = self.maps.len() - 1;
            &mut self.maps[last]
        }
    }

    fn used(&self) -> u32 {
        self.maps.iter().map(|m| m.used).sum()
    }
}

/// The local addresses of one FULLNAT service.
#[derive(Clone, Debug, Default)]
pub struct LaddrPool {
    addrs: Vec<Laddr>,
    next: usize,
}

/// What `--get-laddr` shows of one local address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaddrInfo {
    /// The local address.
    pub addr: IpAddr,
    /// Ports in use over all protocols (DPVS shows this as "conns").
    pub used_ports: u32,
}

impl LaddrPool {
    /// An empty pool.
    pub fn new() -> LaddrPool {
        LaddrPool::default()
    }

    /// Add `addr` (`--add-laddr`).
    pub fn add(&mut self, addr: IpAddr) -> Result<(), LaddrError> {
        if self.addrs.iter().any(|l| l.addr == addr) {
            return Err(LaddrError::Exists);
        }
        self.addrs.push(Laddr {
            addr,
            maps: Vec::new(),
        });
        Ok(())
    }

    /// Remove `addr` (`--del-laddr`). Connections that use it keep their entries; their
    /// ports are simply not returned to a pool any more.
    pub fn remove(&mut self, addr: IpAddr) -> Result<(), LaddrError> {
        let i = self
            .addrs
            .iter()
            .position(|l| l.addr == addr)
            .ok_or(LaddrError::NotFound)?;
        self.addrs.remove(i);
        if self.next >= self.addrs.len() {
            self.next = 0;
        }
        Ok(())
    }

    /// The configured addresses in the order they were added (`--get-laddr`).
    pub fn list(&self) -> Vec<LaddrInfo> {
        self.addrs
            .iter()
            .map(|l| LaddrInfo {
                addr: l.addr,
                used_ports: l.used(),
            })
            .collect()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Allocate a (local address, port) of family `af` for a new `protocol` connection.
    /// Addresses are tried in turn starting after the last one used.
    pub fn allocate(&mut self, af: Af, protocol: u8) -> Result<(IpAddr, u16), LaddrError> {
        let n = self.addrs.len();
        let mut any_family = false;
        for k in 0..n {
            let i = (self.next + k) % n;
            let l = &mut self.addrs[i];
            if Af::of(&l.addr) != af {
                continue;
            }
            any_family = true;
            if let Some(p) = l.map(protocol).take() {
                self.next = (i + 1) % n;
                return Ok((l.addr, p));
            }
        }
        if any_family {
            Err(LaddrError::Exhausted)
        } else {
            Err(LaddrError::Empty)
        }
    }

    /// Mark `port` of `addr` in use for `protocol` without allocating it: a connection
    /// learnt from a sync message keeps the local port its master chose, and no new
    /// connection here may take it. `None` if `addr` is not in the pool; `Some(false)` if
    /// the port is already in use. Ports below [`PORT_MIN`] are never handed out, so they
    /// need no reservation (`Some(true)`).
    pub fn reserve(&mut self, addr: IpAddr, protocol: u8, port: u16) -> Option<bool> {
        let l = self.addrs.iter_mut().find(|l| l.addr == addr)?;
        if port < PORT_MIN {
            return Some(true);
        }
        let m = l.map(protocol);
        if m.is_used(port) {
            return Some(false);
        }
        m.bits[usize::from(port) / 64] |= 1 << (port % 64);
        m.used += 1;
        Some(true)
    }

    /// Return a port taken by [`LaddrPool::allocate`]. Returns whether it was in use.
    pub fn release(&mut self, addr: IpAddr, protocol: u8, port: u16) -> bool {
        match self.addrs.iter_mut().find(|l| l.addr == addr) {
            Some(l) => l.map(protocol).give_back(port),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn round_robin_over_addresses_and_next_fit_ports() {
        let mut p = LaddrPool::new();
        p.add(ip("10.9.0.1")).unwrap();
        p.add(ip("10.9.0.2")).unwrap();
        assert_eq!(p.add(ip("10.9.0.1")), Err(LaddrError::Exists));
        assert_eq!(p.allocate(Af::Inet, 6), Ok((ip("10.9.0.1"), 1024)));
        assert_eq!(p.allocate(Af::Inet, 6), Ok((ip("10.9.0.2"), 1024)));
        assert_eq!(p.allocate(Af::Inet, 6), Ok((ip("10.9.0.1"), 1025)));
        // Another protocol has its own ports.
        assert_eq!(p.allocate(Af::Inet, 17), Ok((ip("10.9.0.2"), 1024)));
        // A released port is not reused before the cursor wraps.
        assert!(p.release(ip("10.9.0.1"), 6, 1024));
        assert!(!p.release(ip("10.9.0.1"), 6, 1024));
        assert_eq!(p.allocate(Af::Inet, 6), Ok((ip("10.9.0.1"), 1026)));
        assert_eq!(p.list()[0].used_ports, 2);
    }

    #[test]
    fn family_is_respected() {
        let mut p = LaddrPool::new();
        assert_eq!(p.allocate(Af::Inet, 6), Err(LaddrError::Empty));
        p.add(ip("2001:db8::9")).unwrap();
        assert_eq!(p.allocate(Af::Inet, 6), Err(LaddrError::Empty));
        assert_eq!(p.allocate(Af::Inet6, 6), Ok((ip("2001:db8::9"), 1024)));
    }

    #[test]
    fn exhaustion_is_an_error_and_release_recovers() {
        let mut p = LaddrPool::new();
        p.add(ip("10.9.0.1")).unwrap();
        let n = u32::from(PORT_MAX - PORT_MIN) + 1;
        for _ in 0..n {
            p.allocate(Af::Inet, 6).unwrap();
        }
        assert_eq!(p.allocate(Af::Inet, 6), Err(LaddrError::Exhausted));
        assert!(p.release(ip("10.9.0.1"), 6, 40000));
        assert_eq!(p.allocate(Af::Inet, 6), Ok((ip("10.9.0.1"), 40000)));
        assert_eq!(p.allocate(Af::Inet, 6), Err(LaddrError::Exhausted));
    }

    #[test]
    fn reserve_takes_a_port_out_of_the_pool() {
        let mut p = LaddrPool::new();
        p.add(ip("10.9.0.1")).unwrap();
        assert_eq!(p.reserve(ip("10.9.0.2"), 6, 1024), None);
        assert_eq!(p.reserve(ip("10.9.0.1"), 6, 1024), Some(true));
        assert_eq!(p.reserve(ip("10.9.0.1"), 6, 1024), Some(false));
        assert_eq!(p.reserve(ip("10.9.0.1"), 6, 80), Some(true));
        // The allocator skips it, release gives it back.
        assert_eq!(p.allocate(Af::Inet, 6), Ok((ip("10.9.0.1"), 1025)));
        assert_eq!(p.list()[0].used_ports, 2);
        assert!(p.release(ip("10.9.0.1"), 6, 1024));
        assert_eq!(p.list()[0].used_ports, 1);
    }

    #[test]
    fn remove_keeps_the_rest() {
        let mut p = LaddrPool::new();
        p.add(ip("10.9.0.1")).unwrap();
        p.add(ip("10.9.0.2")).unwrap();
        p.remove(ip("10.9.0.1")).unwrap();
        assert_eq!(p.remove(ip("10.9.0.1")), Err(LaddrError::NotFound));
        assert_eq!(p.allocate(Af::Inet, 6), Ok((ip("10.9.0.2"), 1024)));
        assert!(!p.release(ip("10.9.0.1"), 6, 1024));
    }
}
