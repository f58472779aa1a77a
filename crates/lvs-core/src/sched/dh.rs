//! Destination hashing (`ip_vs_dh.c`).
//!
//! A static 256-bucket table maps the packet's *destination* address to a real server:
//! bucket `i` holds the list element `i mod n` (list order, newest first; weights are
//! ignored). The key is `hash_32(fold(daddr), 8)`. The table is rebuilt when a destination
//! is added or deleted, but not when one is edited (`-e`), exactly like the kernel, which
//! has no `upd_dest` callback for dh. A destination found in the bucket is refused (no
//! fallback, "no destination available") when it has weight <= 0, the OVERLOAD flag, or
//! is no longer in the service.

use super::{DestList, PacketInfo, SchedService, Scheduler, hash_32};
use crate::dest::DestId;
use crate::error::SchedError;
use crate::time::Time;
use crate::types::fold_addr;

/// `CONFIG_IP_VS_DH_TAB_BITS`.
const TAB_BITS: u32 = 8;
/// Number of buckets.
const TAB_SIZE: usize = 1 << TAB_BITS;

/// Destination-hashing state: the bucket table.
#[derive(Debug, Clone)]
pub struct Dh {
    /// Bucket `i` -> the destination assigned to it (`None` only when the list is empty).
    buckets: Box<[Option<DestId>; TAB_SIZE]>,
}

impl Default for Dh {
    fn default() -> Self {
        Dh {
            buckets: Box::new([None; TAB_SIZE]),
        }
    }
}

impl Dh {
    /// A fresh destination-hashing scheduler (empty table).
    pub fn new() -> Dh {
        Dh::default()
    }

    /// `ip_vs_dh_reassign`: bucket `i` = list element `i mod n`.
    fn reassign(&mut self, dests: &DestList<'_>) {
        let n = dests.len();
        for (i, b) in self.buckets.iter_mut().enumerate() {
            *b = if n == 0 { None } else { Some(dests.id(i % n)) };
        }
    }

    /// The bucket index of a destination address (`ip_vs_dh_hashkey`).
    pub fn bucket_of(addr: &std::net::IpAddr) -> usize {
        hash_32(fold_addr(addr), TAB_BITS) as usize
    }

    /// The destination currently in bucket `i` (for inspection and tests).
    pub fn bucket(&self, i: usize) -> Option<DestId> {
        self.buckets.get(i).copied().flatten()
    }
}

impl Scheduler for Dh {
    fn name(&self) -> &'static str {
        "dh"
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

    // No upd_dest: an edit (weight, method) leaves the table as it is.

    fn schedule(
        &mut self,
        dests: &DestList<'_>,
        _: &SchedService,
        pkt: &PacketInfo,
        _: Time,
    ) -> Option<DestId> {
        let id = self.buckets[Dh::bucket_of(&pkt.daddr)]?;
        let d = dests.try_get(id)?;
        if !d.is_available() || d.weight <= 0 || d.is_overloaded() {
            return None;
        }
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::super::testutil::Harness;
    use super::*;
    use crate::dest::DestFlags;
    use crate::types::Protocol;

    fn pick_for(h: &mut Harness, daddr: &str) -> String {
        let pkt = PacketInfo::new(
            Protocol::Udp,
            "192.168.50.1".parse().unwrap(),
            6000,
            daddr.parse().unwrap(),
            80,
        );
        let list = DestList::new(&h.order, &h.slab);
        match h.sched.schedule(&list, &h.svc, &pkt, h.now) {
            Some(id) => h.name(id),
            None => "-".to_string(),
        }
    }

    /// Last octet of the real server chosen for 10.0.<net>.1 ..= 10.0.<net>.30.
    fn picks(h: &mut Harness, net: u8) -> Vec<u8> {
        (1..=30)
            .map(|i| {
                let s = pick_for(h, &format!("10.0.{net}.{i}"));
                s.rsplit('.').next().unwrap().parse().unwrap()
            })
            .collect()
    }

    /// Observed on Linux 6.12.95 (Debian 6.12.95+deb12-amd64, ipvsadm 1.31) in the ipvs-vm
    /// guest. The daddr varies through a firewall-mark service; the client is local (IPVS
    /// schedules locally generated packets at LOCAL_OUT):
    /// ```text
    /// ip link add dum0 type dummy; ip link set dum0 up
    /// ip addr add 192.168.50.1/32 dev dum0; ip route add 10.0.0.0/16 dev dum0
    /// nft add table ip t
    /// nft add chain ip t out '{ type route hook output priority mangle; }'
    /// nft add rule ip t out ip daddr 10.0.2.0/24 meta mark set 1
    /// nft add rule ip t out ip daddr 10.0.5.0/24 meta mark set 4
    /// ipvsadm -A -f 1 -s dh
    /// for i in 2 3 4; do ipvsadm -a -f 1 -r 10.0.1.$i:80 -m -w 1; done
    /// ipvsadm -A -f 4 -s dh
    /// for i in 2 3 4 5 6; do ipvsadm -a -f 4 -r 10.0.1.$i:80 -m -w $i; done
    /// # one UDP datagram from 192.168.50.1:6000 to each 10.0.{2,5}.{1..30}:80 (python3
    /// # socket bound to the source), then: ipvsadm -Lnc  (source, virtual -> destination)
    /// ```
    #[test]
    fn kernel_observed_three_dests() {
        let mut h = Harness::new(Box::new(Dh::new()));
        for i in 2..=4 {
            h.add(&format!("10.0.1.{i}"), 1);
        }
        // 10.0.2.1 -> 10.0.1.3, 10.0.2.2 -> 10.0.1.2, ... (ipvsadm -Lnc, sorted by daddr)
        let kernel: [u8; 30] = [
            3, 2, 3, 4, 4, 2, 4, 2, 3, 3, 4, 2, 4, 2, 2, 3, 4, 3, 2, 3, 2, 3, 2, 4, 2, 4, 2, 2, 3,
            4,
        ];
        assert_eq!(picks(&mut h, 2), kernel);
    }

    /// Same guest run as [`kernel_observed_three_dests`] (fwmark 4, five servers with
    /// weights 2..6, which dh ignores).
    #[test]
    fn kernel_observed_five_dests() {
        let mut h = Harness::new(Box::new(Dh::new()));
        for i in 2..=6 {
            h.add(&format!("10.0.1.{i}"), i);
        }
        let kernel: [u8; 30] = [
            3, 5, 3, 6, 3, 5, 3, 6, 4, 6, 3, 6, 4, 2, 4, 6, 5, 2, 4, 2, 4, 3, 5, 2, 5, 3, 6, 3, 5,
            3,
        ];
        assert_eq!(picks(&mut h, 5), kernel);
    }

    #[test]
    fn table_is_list_order_modulo_n() {
        let mut h = Harness::new(Box::new(Dh::new()));
        let a = h.add("10.1.0.1", 1);
        let b = h.add("10.1.0.2", 5);
        let c = h.add("10.1.0.3", 0);
        // list: c b a -> buckets c b a c b a ...
        let mut dh = Dh::new();
        dh.init_service(&DestList::new(&h.order, &h.slab), &h.svc)
            .unwrap();
        for i in 0..TAB_SIZE {
            assert_eq!(dh.bucket(i), Some([c, b, a][i % 3]), "bucket {i}");
        }
        // hand-checked key: hash_32(0x0a000201, 8) = (0x0a000201 * 0x61c88647) >> 24
        let ip: IpAddr = "10.0.2.1".parse().unwrap();
        let key = (0x0a00_0201u32.wrapping_mul(0x61C8_8647) >> 24) as usize;
        assert_eq!(Dh::bucket_of(&ip), key);
        // 10.0.2.1 -> bucket key -> list[key % 3]
        let expect = [c, b, a][key % 3];
        assert_eq!(pick_for(&mut h, "10.0.2.1"), {
            if expect == c {
                "-".to_string()
            } else {
                h.name(expect)
            }
        });
    }

    #[test]
    fn refuses_quiesced_and_overloaded_without_fallback() {
        let mut h = Harness::new(Box::new(Dh::new()));
        for i in 2..=4 {
            h.add(&format!("10.0.1.{i}"), 1);
        }
        // 10.0.2.1 -> .3 and 10.0.2.2 -> .2 (kernel vector above)
        assert_eq!(pick_for(&mut h, "10.0.2.1"), "10.0.1.3");
        let id3 = h.order[1];
        assert_eq!(h.name(id3), "10.0.1.3");
        h.set_weight(id3, 0);
        assert_eq!(pick_for(&mut h, "10.0.2.1"), "-");
        assert_eq!(pick_for(&mut h, "10.0.2.2"), "10.0.1.2");
        h.set_weight(id3, 7);
        h.slab.get_mut(id3).flags.0 |= DestFlags::OVERLOAD;
        assert_eq!(pick_for(&mut h, "10.0.2.1"), "-");
        h.slab.get_mut(id3).flags.0 &= !DestFlags::OVERLOAD;
        assert_eq!(pick_for(&mut h, "10.0.2.1"), "10.0.1.3");
    }

    #[test]
    fn edit_keeps_table_add_and_delete_rebuild() {
        let mut h = Harness::new(Box::new(Dh::new()));
        let d2 = h.add("10.0.1.2", 1);
        h.add("10.0.1.3", 1);
        h.add("10.0.1.4", 1);
        let before = picks(&mut h, 2);
        // -e with another weight: no upd_dest, same table
        h.set_weight(d2, 9);
        assert_eq!(picks(&mut h, 2), before);
        // delete .2: 2 dests, table rebuilt as list[i % 2] over (.4, .3)
        h.del(d2);
        let after = picks(&mut h, 2);
        for (i, &o) in after.iter().enumerate() {
            let key = Dh::bucket_of(&format!("10.0.2.{}", i + 1).parse().unwrap());
            assert_eq!(o, [4, 3][key % 2], "daddr 10.0.2.{}", i + 1);
        }
        // add .5 at the head: list (.5, .4, .3)
        h.add("10.0.1.5", 1);
        for i in 1..=30u8 {
            let ip: IpAddr = format!("10.0.2.{i}").parse().unwrap();
            let want = ["10.0.1.5", "10.0.1.4", "10.0.1.3"][Dh::bucket_of(&ip) % 3];
            assert_eq!(pick_for(&mut h, &ip.to_string()), want);
        }
    }

    #[test]
    fn empty_and_ipv6() {
        let mut h = Harness::new(Box::new(Dh::new()));
        assert_eq!(pick_for(&mut h, "10.0.2.1"), "-");
        let a = h.add("2001:db8::1", 1);
        let b = h.add("2001:db8::2", 1);
        // fold of 2001:db8::5 = 0x20010db8 ^ 0 ^ 0 ^ 5
        let ip: IpAddr = "2001:db8::5".parse().unwrap();
        let key = hash_32(0x2001_0db8 ^ 5, 8) as usize;
        assert_eq!(Dh::bucket_of(&ip), key);
        let want = h.name([b, a][key % 2]);
        assert_eq!(pick_for(&mut h, "2001:db8::5"), want);
        h.del(a);
        h.del(b);
        assert_eq!(pick_for(&mut h, "2001:db8::5"), "-");
    }
}
