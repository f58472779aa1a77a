//! Helpers for scheduler tests: a service's destination list that behaves like the
//! kernel's (new destinations at the head) and drives a scheduler's callbacks.

use std::net::IpAddr;

use super::{DestList, PacketInfo, SchedService, Scheduler};
use crate::dest::{Dest, DestId, DestSlab};
use crate::time::Time;
use crate::types::{Af, ForwardMethod, Protocol, ServiceFlags};

/// A service under test: its destinations, in kernel list order, and its scheduler.
pub(crate) struct Harness {
    pub slab: DestSlab,
    pub order: Vec<DestId>,
    pub svc: SchedService,
    pub sched: Box<dyn Scheduler>,
    pub now: Time,
}

impl Harness {
    /// A fresh IPv4 service with no flags bound to `sched`.
    pub fn new(sched: Box<dyn Scheduler>) -> Harness {
        Harness::with_flags(sched, ServiceFlags::default())
    }

    /// A fresh IPv4 service with `flags` bound to `sched`.
    pub fn with_flags(mut sched: Box<dyn Scheduler>, flags: ServiceFlags) -> Harness {
        let slab = DestSlab::new();
        let order = Vec::new();
        let svc = SchedService {
            af: Af::Inet,
            flags,
        };
        sched
            .init_service(&DestList::new(&order, &slab), &svc)
            .expect("init_service");
        Harness {
            slab,
            order,
            svc,
            sched,
            now: Time::ZERO,
        }
    }

    /// Add `addr:80` with `weight`, at the head of the list, as `ipvsadm -a` does.
    pub fn add(&mut self, addr: &str, weight: i32) -> DestId {
        let ip: IpAddr = addr.parse().expect("address");
        let id = self
            .slab
            .insert(Dest::new(ip, 80, ForwardMethod::Masq).with_weight(weight));
        self.order.insert(0, id);
        let list = DestList::new(&self.order, &self.slab);
        self.sched.add_dest(&list, &self.svc, id).expect("add_dest");
        id
    }

    /// Unlink `id` as `ipvsadm -d` does (its record stays readable).
    pub fn del(&mut self, id: DestId) {
        let pos = self.order.iter().position(|&d| d == id).expect("in list");
        self.order.remove(pos);
        self.slab.get_mut(id).flags.0 &= !crate::dest::DestFlags::AVAILABLE;
        let list = DestList::new(&self.order, &self.slab);
        self.sched
            .del_dest(&list, &self.svc, id, pos)
            .expect("del_dest");
    }

    /// Edit `id`'s weight as `ipvsadm -e -w` does.
    pub fn set_weight(&mut self, id: DestId, weight: i32) {
        let d = self.slab.get_mut(id);
        d.weight = weight;
        if weight != 0 {
            d.last_weight = weight;
        }
        let list = DestList::new(&self.order, &self.slab);
        self.sched.upd_dest(&list, &self.svc, id).expect("upd_dest");
    }

    /// Schedule a TCP packet from `client:sport` to 10.0.0.1:80.
    pub fn pick_from(&mut self, client: &str, sport: u16) -> Option<DestId> {
        let pkt = PacketInfo::new(
            Protocol::Tcp,
            client.parse().expect("address"),
            sport,
            "10.0.0.1".parse().expect("address"),
            80,
        );
        let list = DestList::new(&self.order, &self.slab);
        self.sched.schedule(&list, &self.svc, &pkt, self.now)
    }

    /// Schedule a packet from a fixed client.
    pub fn pick(&mut self) -> Option<DestId> {
        self.pick_from("192.0.2.1", 40000)
    }

    /// The address of `id`, for readable assertions.
    pub fn name(&self, id: DestId) -> String {
        self.slab.get(id).addr.to_string()
    }

    /// `n` picks as addresses ("-" where none was available).
    pub fn picks(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| match self.pick() {
                Some(id) => self.name(id),
                None => "-".to_string(),
            })
            .collect()
    }

    /// The set-up of the kernel-observed vectors: real servers 10.0.1.2, .3, .4 (port 80)
    /// added in that order with `weights`, on a service with `flags`.
    pub fn guest_service(
        sched: Box<dyn Scheduler>,
        flags: u32,
        weights: [i32; 3],
    ) -> (Harness, [DestId; 3]) {
        let mut h = Harness::with_flags(sched, ServiceFlags(flags));
        let ids = [
            h.add("10.0.1.2", weights[0]),
            h.add("10.0.1.3", weights[1]),
            h.add("10.0.1.4", weights[2]),
        ];
        (h, ids)
    }

    /// `n` picks, each opening an active connection on the chosen destination; the
    /// addresses picked ("-" where none was available).
    pub fn connect_active(&mut self, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| match self.pick_and_connect(true) {
                Some(id) => self.name(id),
                None => "-".to_string(),
            })
            .collect()
    }

    /// Pick, and account a new connection on the chosen destination as the table does
    /// (inactive first, `active` = whether it becomes active).
    pub fn pick_and_connect(&mut self, active: bool) -> Option<DestId> {
        let id = self.pick()?;
        let d = self.slab.get_mut(id);
        if active {
            d.activeconns += 1;
        } else {
            d.inactconns += 1;
        }
        Some(id)
    }
}

/// The 30 clients of the guest runs (each sent from port 5000).
pub(crate) const GUEST_SOURCES: [&str; 30] = [
    "192.168.50.1",
    "192.168.50.2",
    "192.168.50.3",
    "192.168.50.4",
    "192.168.50.5",
    "192.168.50.6",
    "192.168.50.7",
    "192.168.50.8",
    "192.168.50.9",
    "192.168.50.10",
    "192.168.50.11",
    "192.168.50.12",
    "192.168.50.13",
    "192.168.50.14",
    "192.168.50.15",
    "192.168.50.16",
    "192.168.50.17",
    "192.168.50.18",
    "192.168.50.19",
    "192.168.50.20",
    "192.168.50.21",
    "192.168.50.22",
    "192.168.50.23",
    "192.168.50.24",
    "172.16.3.77",
    "10.200.1.9",
    "203.0.113.250",
    "198.51.100.7",
    "100.64.12.34",
    "192.0.2.199",
];

/// Last octet of the chosen server, 0 for "no destination" (255 for IPv6).
pub(crate) fn octet(h: &Harness, id: Option<DestId>) -> u8 {
    id.map_or(0, |id| match h.slab.get(id).addr {
        IpAddr::V4(a) => a.octets()[3],
        IpAddr::V6(_) => 255,
    })
}

/// The picks for [`GUEST_SOURCES`], as last octets.
pub(crate) fn picks_by_source(h: &mut Harness) -> Vec<u8> {
    GUEST_SOURCES
        .iter()
        .map(|s| {
            let id = h.pick_from(s, 5000);
            octet(h, id)
        })
        .collect()
}
