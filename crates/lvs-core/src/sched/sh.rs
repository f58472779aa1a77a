//! Source hashing (`ip_vs_sh.c`).
//!
//! A static 256-bucket table maps the client address (and, with `sh-port`, its source
//! port) to a real server. The table is filled in list order (newest first), giving each
//! destination `weight` consecutive buckets per round (weight 0 or less: one bucket), and
//! cycling through the list until all 256 buckets are assigned. It is rebuilt on every
//! add, delete and edit. The key is `hash_32(port + fold(addr), 8)`. A bucket whose
//! destination has weight <= 0 or the OVERLOAD flag gives "no destination available",
//! unless `sh-fallback` is set: then the key is re-hashed with offsets
//! `ihash, ihash+1, ...` (mod 256) until a usable destination comes up. For packets inside
//! ICMP errors ("inverse") the client is the destination address and port.

use std::net::IpAddr;

use super::{DestList, PacketInfo, SchedService, Scheduler, hash_32};
use crate::dest::{Dest, DestId};
use crate::error::SchedError;
use crate::time::Time;
use crate::types::{ServiceFlags, fold_addr};

/// `CONFIG_IP_VS_SH_TAB_BITS`.
const TAB_BITS: u32 = 8;
/// Number of buckets.
const TAB_SIZE: usize = 1 << TAB_BITS;
/// `IP_VS_SH_TAB_MASK`.
const TAB_MASK: u32 = (1 << TAB_BITS) - 1;

/// Source-hashing state: the bucket table.
#[derive(Debug, Clone)]
pub struct Sh {
    /// Bucket `i` -> the destination assigned to it (`None` only when the list is empty).
    buckets: Box<[Option<DestId>; TAB_SIZE]>,
}

impl Default for Sh {
    fn default() -> Self {
        Sh {
            buckets: Box::new([None; TAB_SIZE]),
        }
    }
}

/// `ip_vs_sh_hashkey`: `(offset + hash_32(port + fold(addr), 8)) & 255`.
fn hashkey(addr: &IpAddr, port: u16, offset: u32) -> usize {
    let v = u32::from(port).wrapping_add(fold_addr(addr));
    (offset.wrapping_add(hash_32(v, TAB_BITS)) & TAB_MASK) as usize
}

/// `is_unavailable`: weight <= 0 or OVERLOAD.
fn unavailable(d: &Dest) -> bool {
    d.weight <= 0 || d.is_overloaded()
}

/// The address and port the scheduler hashes (`sh-port`: the client port, else 0).
pub(super) fn hash_input(svc: &SchedService, pkt: &PacketInfo) -> (IpAddr, u16) {
    let (addr, port) = if pkt.inverse {
        (pkt.daddr, pkt.dport)
    } else {
        (pkt.saddr, pkt.sport)
    };
    // TCP, UDP and SCTP all carry ports; `Protocol` has no other variant.
    let port = if svc.flags.has(ServiceFlags::SCHED2) {
        port
    } else {
        0
    };
    (addr, port)
}

impl Sh {
    /// A fresh source-hashing scheduler (empty table).
    pub fn new() -> Sh {
        Sh::default()
    }

    /// `ip_vs_sh_reassign`: walk the list, `weight` buckets per destination (at least one).
    fn reassign(&mut self, dests: &DestList<'_>) {
        let n = dests.len();
        if n == 0 {
            self.buckets.fill(None);
            return;
        }
        let mut pos = 0usize;
        let mut d_count: i64 = 0;
        for b in self.buckets.iter_mut() {
            *b = Some(dests.id(pos));
            d_count += 1;
            if d_count >= i64::from(dests.at(pos).weight) {
                pos = (pos + 1) % n;
                d_count = 0;
            }
        }
    }

    /// The destination currently in bucket `i` (for inspection and tests).
    pub fn bucket(&self, i: usize) -> Option<DestId> {
        self.buckets.get(i).copied().flatten()
    }

    /// The bucket a client address/port hashes to (`port` 0 unless `sh-port`).
    pub fn bucket_of(addr: &IpAddr, port: u16) -> usize {
        hashkey(addr, port, 0)
    }

    fn get(&self, dests: &DestList<'_>, addr: &IpAddr, port: u16) -> Option<DestId> {
        let id = self.buckets[hashkey(addr, port, 0)]?;
        let d = dests.try_get(id)?;
        (!unavailable(d)).then_some(id)
    }

    fn get_fallback(&self, dests: &DestList<'_>, addr: &IpAddr, port: u16) -> Option<DestId> {
        let ihash = hashkey(addr, port, 0);
        let id = self.buckets[ihash]?;
        if dests.try_get(id).is_some_and(|d| !unavailable(d)) {
            return Some(id);
        }
        for offset in 0..TAB_SIZE {
            let roffset = ((offset + ihash) % TAB_SIZE) as u32;
            let id = self.buckets[hashkey(addr, port, roffset)]?;
            if dests.try_get(id).is_some_and(|d| !unavailable(d)) {
                return Some(id);
            }
        }
        None
    }
}

impl Scheduler for Sh {
    fn name(&self) -> &'static str {
        "sh"
    }

    fn init_service(&mut self, dests: &DestList<'_>, _: &SchedService) -> Result<(), SchedError> {
        self.reassign(dests);
        Ok(())
    }

    fn add_dest(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: DestId,
    ) -> Result<(), SchedError> {
        self.reassign(dests);
        Ok(())
    }

    fn del_dest(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: DestId,
        _: usize,
    ) -> Result<(), SchedError> {
        self.reassign(dests);
        Ok(())
    }

    fn upd_dest(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        _: DestId,
    ) -> Result<(), SchedError> {
        self.reassign(dests);
        Ok(())
    }

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        svc: &SchedService,
        pkt: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        let (addr, port) = hash_input(svc, pkt);
        if svc.flags.has(ServiceFlags::SCHED1) {
            self.get_fallback(dests, &addr, port)
        } else {
            self.get(dests, &addr, port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;
    use crate::types::Protocol;

    use super::super::testutil::{octet, picks_by_source};

    /// A service with flags and real servers 10.0.1.2, .3, .4 (port 80) added in that
    /// order with the given weights, as in the guest.
    fn service(flags: u32, weights: [i32; 3]) -> (Harness, [DestId; 3]) {
        Harness::guest_service(Box::new(Sh::new()), flags, weights)
    }

    // Kernel-observed vectors.
    //
    // Linux 6.12.95 (Debian 6.12.95+deb12-amd64), ipvsadm 1.31, in the ipvs-vm guest. The
    // clients are local addresses (IPVS schedules locally generated packets at LOCAL_OUT),
    // one UDP datagram per client, then `ipvsadm -Lnc` gives client -> real server:
    //
    //     ip link add dum0 type dummy; ip link set dum0 up
    //     for a in <SOURCES>; do ip addr add $a/32 dev dum0; done
    //     ip route add 10.0.0.0/16 dev dum0
    //     ipvsadm -A -u 10.0.0.1:PORT -s sh [-b FLAGS]
    //     ipvsadm -a -u 10.0.0.1:PORT -r 10.0.1.2:80 -m -w W1   # then .3 W2, then .4 W3
    //     [ipvsadm -e -u 10.0.0.1:PORT -r 10.0.1.3:80 -m -w 0]
    //     python3: socket(AF_INET, SOCK_DGRAM).bind((SRC, SPORT)).sendto(b'x', (VIP, PORT))
    //     ipvsadm -Lnc
    //
    // 0 below = no connection was created (sendto failed with EPERM: "no destination").

    /// `-s sh`, weights 1, 2, 3 (port 81).
    #[test]
    fn kernel_observed_weights_1_2_3() {
        let (mut h, _) = service(0, [1, 2, 3]);
        let kernel: [u8; 30] = [
            4, 3, 4, 3, 2, 4, 2, 4, 4, 4, 4, 4, 4, 3, 4, 3, 4, 4, 3, 4, 3, 4, 3, 2, 3, 4, 4, 3, 4,
            4,
        ];
        assert_eq!(picks_by_source(&mut h), kernel);
    }

    /// `-s sh -b sh-port`, weights 1, 1, 1, client 192.168.50.1 from ports 1000..=1029
    /// (port 82).
    #[test]
    fn kernel_observed_sh_port() {
        let (mut h, _) = service(ServiceFlags::SCHED2, [1, 1, 1]);
        let kernel: [u8; 30] = [
            4, 3, 4, 3, 4, 3, 2, 3, 4, 4, 2, 4, 2, 3, 3, 4, 2, 4, 2, 2, 3, 4, 3, 2, 4, 2, 3, 2, 4,
            2,
        ];
        let got: Vec<u8> = (1000..1030)
            .map(|p| {
                let id = h.pick_from("192.168.50.1", p);
                octet(&h, id)
            })
            .collect();
        assert_eq!(got, kernel);
        // Without sh-port every port of the client goes to one server.
        let (mut h, _) = service(0, [1, 1, 1]);
        let first = h.pick_from("192.168.50.1", 1000);
        assert!((1001..1030).all(|p| h.pick_from("192.168.50.1", p) == first));
    }

    /// weights 1, 1, 1, then `-e` of 10.0.1.3 to weight 0: with `sh-fallback` (port 86)
    /// and without (port 87).
    #[test]
    fn kernel_observed_quiesced_with_and_without_fallback() {
        let with_fb: [u8; 30] = [
            4, 2, 4, 4, 2, 2, 2, 2, 2, 4, 2, 4, 2, 4, 2, 4, 2, 2, 2, 2, 2, 4, 4, 2, 4, 2, 4, 4, 2,
            2,
        ];
        let without: [u8; 30] = [
            4, 0, 4, 4, 2, 0, 2, 0, 2, 4, 2, 4, 2, 4, 0, 4, 0, 2, 0, 2, 0, 4, 4, 2, 4, 2, 4, 4, 2,
            0,
        ];
        let (mut h, ids) = service(ServiceFlags::SCHED1, [1, 1, 1]);
        h.set_weight(ids[1], 0);
        assert_eq!(picks_by_source(&mut h), with_fb);
        let (mut h, ids) = service(0, [1, 1, 1]);
        h.set_weight(ids[1], 0);
        assert_eq!(picks_by_source(&mut h), without);
        // Clients whose bucket is usable are not moved by the fallback.
        for i in 0..30 {
            if without[i] != 0 {
                assert_eq!(with_fb[i], without[i]);
            }
        }
    }

    /// weights 2, 0, 1 at creation (port 91): the weight-0 server keeps one bucket and its
    /// clients get no destination.
    #[test]
    fn kernel_observed_weights_2_0_1() {
        let (mut h, _) = service(0, [2, 0, 1]);
        let kernel: [u8; 30] = [
            2, 4, 2, 2, 0, 2, 0, 2, 4, 2, 4, 2, 4, 0, 2, 0, 2, 4, 2, 4, 2, 4, 0, 2, 2, 2, 2, 2, 4,
            2,
        ];
        assert_eq!(picks_by_source(&mut h), kernel);
    }

    #[test]
    fn bucket_pattern_by_weight() {
        // b added first with weight 1, a second with weight 2: list (a, b)
        let mut h = Harness::new(Box::new(Sh::new()));
        let b = h.add("10.1.0.2", 1);
        let a = h.add("10.1.0.1", 2);
        let mut sh = Sh::new();
        let list = DestList::new(&h.order, &h.slab);
        sh.init_service(&list, &h.svc).unwrap();
        // a a b a a b ... ; 256 = 85*3 + 1 -> bucket 255 = a
        for i in 0..TAB_SIZE {
            let want = if i % 3 == 2 { b } else { a };
            assert_eq!(sh.bucket(i), Some(want), "bucket {i}");
        }
        // Weight 0 still takes one bucket per round, negative too.
        h.slab.get_mut(a).weight = 0;
        sh.upd_dest(&DestList::new(&h.order, &h.slab), &h.svc, a)
            .unwrap();
        for i in 0..TAB_SIZE {
            assert_eq!(sh.bucket(i), Some([a, b][i % 2]), "bucket {i}");
        }
        // A huge weight fills the whole table with the first destination.
        h.slab.get_mut(a).weight = i32::MAX;
        sh.upd_dest(&DestList::new(&h.order, &h.slab), &h.svc, a)
            .unwrap();
        assert!((0..TAB_SIZE).all(|i| sh.bucket(i) == Some(a)));
        // Empty list: all empty.
        sh.init_service(&DestList::new(&[], &h.slab), &h.svc)
            .unwrap();
        assert!((0..TAB_SIZE).all(|i| sh.bucket(i).is_none()));
    }

    #[test]
    fn hashkey_by_hand() {
        // 192.168.50.1 = 0xc0a83201; hash_32 keeps the top 8 bits of the product.
        let ip: IpAddr = "192.168.50.1".parse().unwrap();
        let want = (0xc0a8_3201u32.wrapping_mul(0x61C8_8647) >> 24) as usize;
        assert_eq!(Sh::bucket_of(&ip, 0), want);
        let want_port = ((0xc0a8_3201u32 + 1000).wrapping_mul(0x61C8_8647) >> 24) as usize;
        assert_eq!(Sh::bucket_of(&ip, 1000), want_port);
        assert_eq!(hashkey(&ip, 0, 300), (want + 300) & 255);
    }

    #[test]
    fn edit_rebuilds_table() {
        // sh has upd_dest: an -e weight change reshapes the buckets (unlike dh).
        let (mut h, ids) = service(0, [1, 1, 1]);
        let before = picks_by_source(&mut h);
        h.set_weight(ids[0], 1); // same weight: same table
        assert_eq!(picks_by_source(&mut h), before);
        h.set_weight(ids[0], 3);
        let after = picks_by_source(&mut h);
        assert_ne!(after, before);
        let (mut h2, _) = service(0, [3, 1, 1]);
        assert_eq!(picks_by_source(&mut h2), after);
        // Second guest run (same setup as the vectors above): weights 1, 1, 1, then
        // `ipvsadm -e -u 10.0.0.1:95 -r 10.0.1.2:80 -m -w 3` (port 95).
        let kernel: [u8; 30] = [
            2, 3, 2, 4, 2, 3, 2, 3, 2, 4, 2, 4, 2, 4, 2, 4, 2, 2, 2, 2, 2, 4, 3, 2, 2, 4, 2, 3, 3,
            3,
        ];
        assert_eq!(after, kernel);
    }

    #[test]
    fn overloaded_and_fallback_wraps() {
        let (mut h, ids) = service(ServiceFlags::SCHED1, [1, 1, 1]);
        // Everything overloaded: fallback walks all 256 offsets and gives up.
        for &id in &ids {
            h.slab.get_mut(id).flags.0 |= DestFlags::OVERLOAD;
        }
        assert_eq!(h.pick_from("192.168.50.1", 1), None);
        // One usable server left: every client lands on it.
        h.slab.get_mut(ids[0]).flags.0 &= !DestFlags::OVERLOAD;
        for s in super::super::testutil::GUEST_SOURCES {
            assert_eq!(h.pick_from(s, 1), Some(ids[0]));
        }
        // No fallback: only the clients hashed to it.
        let (mut h, ids) = service(0, [1, 1, 1]);
        let before = picks_by_source(&mut h);
        h.slab.get_mut(ids[2]).flags.0 |= DestFlags::OVERLOAD;
        let after = picks_by_source(&mut h);
        for i in 0..30 {
            let want = if before[i] == 4 { 0 } else { before[i] };
            assert_eq!(after[i], want);
        }
    }

    #[test]
    fn inverse_hashes_the_destination() {
        let (mut h, _) = service(ServiceFlags::SCHED2, [1, 1, 1]);
        let list = DestList::new(&h.order, &h.slab);
        let fwd = PacketInfo::new(
            Protocol::Tcp,
            "192.168.50.7".parse().unwrap(),
            1234,
            "10.0.0.1".parse().unwrap(),
            80,
        );
        let mut inv = PacketInfo::new(
            Protocol::Tcp,
            "10.0.0.1".parse().unwrap(),
            80,
            "192.168.50.7".parse().unwrap(),
            1234,
        );
        inv.inverse = true;
        let a = h.sched.schedule(&list, &h.svc, &fwd, h.now);
        let b = h.sched.schedule(&list, &h.svc, &inv, h.now);
        assert!(a.is_some());
        assert_eq!(a, b);
    }

    #[test]
    fn empty_and_all_quiesced() {
        let mut h = Harness::with_flags(Box::new(Sh::new()), ServiceFlags(ServiceFlags::SCHED1));
        assert_eq!(h.pick(), None);
        let a = h.add("10.1.0.1", 0);
        assert_eq!(h.pick(), None);
        h.set_weight(a, 5);
        assert_eq!(h.pick(), Some(a));
        h.del(a);
        assert_eq!(h.pick(), None);
    }
}
