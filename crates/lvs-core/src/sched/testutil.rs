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
