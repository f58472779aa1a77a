//! Transactional apply of a whole configuration (what `lvs-keepalived` does on a reload and
//! `PUT /v1/config` exposes).
//!
//! A [`Setup`] is every service with its real servers and FULLNAT local addresses, plus
//! optionally the `--set` timeouts. [`Ipvs::apply_setup`] turns the director into that
//! configuration with the fewest ipvsadm operations, all or nothing:
//!
//! 1. **Plan** ([`Ipvs::plan`]): the document is checked on its own (a service, real server
//!    or local address listed twice; a local address of the wrong family), then diffed
//!    against the live table. A service or real server whose configuration is equal is
//!    not touched at all: its scheduler state, counters and connections stay as they are.
//!    A changed one is edited in place (`-E` / `-e` semantics), a missing one deleted
//!    (`-D` / `-d`), a new one added (`-A` / `-a`).
//! 2. **Validate on a shadow**: the plan runs first on a configuration-only copy of the
//!    director ([`Ipvs::config_shadow`]: same sysctls, same services, real servers in the
//!    same list order, same local addresses; no connections). Every check an operation
//!    makes (scheduler names, weights, thresholds, address families, the `mh` table
//!    size, duplicates) depends only on that configuration, so the first failing step
//!    fails there, and the live director is left untouched. The error names the item.
//! 3. **Apply** the same steps to the live director. They succeed because they succeeded on
//!    an identical configuration.
//!
//! Order of the steps: removed services go first; then, per service of the document in its
//! order, real servers that go away are deleted *before* the service is edited and new
//! ones are added (so a switch to `mh` or a full table is judged on the final list); local
//! addresses are removed before new ones are added. New real servers are added in reverse
//! document order: IPVS puts a new server at the head of its list, so a new service's list
//! (what listings and `rr` walk) ends up in document order. Real servers that stay keep
//! their place.

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;

use crate::error::{IpvsError, LaddrError};
use crate::ipvs::Ipvs;
use crate::service::{DestConfig, ServiceConfig};
use crate::time::Time;
use crate::types::{Af, ServiceKey};

/// One service of a [`Setup`]: the service, its real servers (in list order) and its
/// FULLNAT local addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSetup {
    /// What `-A`/`-E` would send.
    pub service: ServiceConfig,
    /// The real servers, in the service's list order (the order listings show).
    pub dests: Vec<DestConfig>,
    /// FULLNAT local addresses (`--add-laddr`), in pool order.
    pub laddrs: Vec<IpAddr>,
}

/// A whole director configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    /// Every service, in creation order. Services of the director that are not listed are
    /// deleted.
    pub services: Vec<ServiceSetup>,
    /// `--set tcp tcpfin udp` in seconds (0 keeps a value); `None` leaves the timeouts alone.
    pub timeouts: Option<(u32, u32, u32)>,
}

/// One operation of a plan, as ipvsadm would issue it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `-D`.
    DelService(ServiceKey),
    /// `-E`.
    EditService(ServiceConfig),
    /// `-A`.
    AddService(ServiceConfig),
    /// `-d`.
    DelDest {
        /// The service.
        service: ServiceKey,
        /// Real server address.
        addr: IpAddr,
        /// Real server port.
        port: u16,
    },
    /// `-e`.
    EditDest {
        /// The service.
        service: ServiceKey,
        /// The real server's new configuration.
        dest: DestConfig,
    },
    /// `-a`.
    AddDest {
        /// The service.
        service: ServiceKey,
        /// The real server.
        dest: DestConfig,
    },
    /// `--del-laddr`.
    DelLaddr {
        /// The service.
        service: ServiceKey,
        /// The local address.
        addr: IpAddr,
    },
    /// `--add-laddr`.
    AddLaddr {
        /// The service.
        service: ServiceKey,
        /// The local address.
        addr: IpAddr,
    },
    /// `--set`.
    SetTimeouts(u32, u32, u32),
}

/// A service key as ipvsadm names it in listings: `TCP 10.0.0.1:80`, `UDP [fd00::1]:53`,
/// `FWM 7`, `FWM 7 IPv6`.
pub fn service_name(key: &ServiceKey) -> String {
    match *key {
        ServiceKey::Addr {
            protocol,
            addr: IpAddr::V6(a),
            port,
        } => format!("{} [{a}]:{port}", protocol.name()),
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => format!("{} {addr}:{port}", protocol.name()),
        ServiceKey::Fwmark { af: Af::Inet, mark } => format!("FWM {mark}"),
        ServiceKey::Fwmark {
            af: Af::Inet6,
            mark,
        } => format!("FWM {mark} IPv6"),
    }
}

fn dest_name(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V6(a) => format!("[{a}]:{port}"),
        IpAddr::V4(a) => format!("{a}:{port}"),
    }
}

impl Step {
    /// The configuration item the step is about, for error messages:
    /// `service TCP 10.0.0.1:80`, `real server 10.2.0.11:8080 of service TCP 10.0.0.1:80`,
    /// `local address 10.2.0.200 of service …`, `timeouts`.
    pub fn item(&self) -> String {
        match self {
            Step::DelService(k) => format!("service {}", service_name(k)),
            Step::EditService(c) | Step::AddService(c) => {
                format!("service {}", service_name(&c.key))
            }
            Step::DelDest {
                service,
                addr,
                port,
            } => format!(
                "real server {} of service {}",
                dest_name(*addr, *port),
                service_name(service)
            ),
            Step::EditDest { service, dest } | Step::AddDest { service, dest } => format!(
                "real server {} of service {}",
                dest_name(dest.addr, dest.port),
                service_name(service)
            ),
            Step::DelLaddr { service, addr } | Step::AddLaddr { service, addr } => {
                format!("local address {addr} of service {}", service_name(service))
            }
            Step::SetTimeouts(..) => "timeouts".to_string(),
        }
    }
}

/// Why an apply was refused; nothing was changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyError {
    /// The configuration item that failed (see [`Step::item`]).
    pub item: String,
    /// What was wrong with it.
    pub error: IpvsError,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.item, self.error)
    }
}

impl std::error::Error for ApplyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// What an apply changed (or, for a check, would change).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Services added.
    pub services_added: u32,
    /// Services edited in place.
    pub services_edited: u32,
    /// Services deleted.
    pub services_deleted: u32,
    /// Services left untouched (their own configuration was equal; their real servers and
    /// local addresses may still have changed).
    pub services_unchanged: u32,
    /// Real servers added (also those of new services).
    pub dests_added: u32,
    /// Real servers edited in place.
    pub dests_edited: u32,
    /// Real servers deleted (not counting those of deleted services).
    pub dests_deleted: u32,
    /// Real servers left untouched.
    pub dests_unchanged: u32,
    /// Local addresses added.
    pub laddrs_added: u32,
    /// Local addresses removed.
    pub laddrs_deleted: u32,
    /// Whether the timeouts changed.
    pub timeouts_changed: bool,
}

impl ApplyReport {
    /// Whether the apply changed nothing.
    pub fn is_noop(&self) -> bool {
        self.services_added == 0
            && self.services_edited == 0
            && self.services_deleted == 0
            && self.dests_added == 0
            && self.dests_edited == 0
            && self.dests_deleted == 0
            && self.laddrs_added == 0
            && self.laddrs_deleted == 0
            && !self.timeouts_changed
    }
}

/// A checked plan: the steps and what they amount to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The operations, in the order they run.
    pub steps: Vec<Step>,
    /// Their summary.
    pub report: ApplyReport,
}

fn dup(item: String, error: IpvsError) -> ApplyError {
    ApplyError { item, error }
}

/// Checks of the document alone: duplicates and local-address families.
fn check_document(want: &Setup) -> Result<(), ApplyError> {
    let mut keys = HashSet::new();
    for s in &want.services {
        let name = service_name(&s.service.key);
        if !keys.insert(s.service.key) {
            return Err(dup(format!("service {name}"), IpvsError::ServiceExists));
        }
        let mut dests = HashSet::new();
        for d in &s.dests {
            if !dests.insert((d.addr, d.port)) {
                return Err(dup(
                    format!(
                        "real server {} of service {name}",
                        dest_name(d.addr, d.port)
                    ),
                    IpvsError::DestExists,
                ));
            }
        }
        let mut laddrs = HashSet::new();
        for &a in &s.laddrs {
            let item = format!("local address {a} of service {name}");
            if !laddrs.insert(a) {
                return Err(dup(item, LaddrError::Exists.into()));
            }
            if Af::of(&a) != s.service.key.af() {
                return Err(dup(
                    item,
                    IpvsError::Invalid {
                        reason: "local address family differs from the service's",
                    },
                ));
            }
        }
    }
    Ok(())
}

impl Ipvs {
    /// The live configuration as a [`Setup`] (timeouts included), so that applying it
    /// changes nothing.
    pub fn setup(&self) -> Setup {
        Setup {
            services: self
                .services()
                .map(|s| ServiceSetup {
                    service: s.config(),
                    dests: self
                        .dests_of(s.key())
                        .into_iter()
                        .map(|(_, d)| d.config())
                        .collect(),
                    laddrs: s.laddrs.list().into_iter().map(|l| l.addr).collect(),
                })
                .collect(),
            timeouts: Some(self.config().timeouts.get()),
        }
    }

    /// Diff `want` against the live configuration (see the [module docs](self)). Checks
    /// the document itself; the operations are checked by [`Ipvs::check_setup`].
    pub fn plan(&self, want: &Setup) -> Result<Plan, ApplyError> {
        check_document(want)?;
        let mut p = Plan::default();
        let r = &mut p.report;
        let wanted: HashSet<ServiceKey> = want.services.iter().map(|s| s.service.key).collect();
        for s in self.services() {
            if !wanted.contains(s.key()) {
                p.steps.push(Step::DelService(*s.key()));
                r.services_deleted += 1;
            }
        }
        for ws in &want.services {
            let key = ws.service.key;
            let Some(cur) = self.service(&key) else {
                p.steps.push(Step::AddService(ws.service.clone()));
                r.services_added += 1;
                for d in ws.dests.iter().rev() {
                    p.steps.push(Step::AddDest {
                        service: key,
                        dest: *d,
                    });
                    r.dests_added += 1;
                }
                for &addr in &ws.laddrs {
                    p.steps.push(Step::AddLaddr { service: key, addr });
                    r.laddrs_added += 1;
                }
                continue;
            };
            let cur_dests: Vec<DestConfig> = self
                .dests_of(&key)
                .into_iter()
                .map(|(_, d)| d.config())
                .collect();
            let find = |list: &[DestConfig], d: &DestConfig| {
                list.iter()
                    .find(|c| c.addr == d.addr && c.port == d.port)
                    .copied()
            };
            for c in &cur_dests {
                if find(&ws.dests, c).is_none() {
                    p.steps.push(Step::DelDest {
                        service: key,
                        addr: c.addr,
                        port: c.port,
                    });
                    r.dests_deleted += 1;
                }
            }
            if cur.config() == ws.service {
                r.services_unchanged += 1;
            } else {
                p.steps.push(Step::EditService(ws.service.clone()));
                r.services_edited += 1;
            }
            for d in &ws.dests {
                match find(&cur_dests, d) {
                    Some(c) if c == *d => r.dests_unchanged += 1,
                    Some(_) => {
                        p.steps.push(Step::EditDest {
                            service: key,
                            dest: *d,
                        });
                        r.dests_edited += 1;
                    }
                    None => {}
                }
            }
            for d in ws.dests.iter().rev() {
                if find(&cur_dests, d).is_none() {
                    p.steps.push(Step::AddDest {
                        service: key,
                        dest: *d,
                    });
                    r.dests_added += 1;
                }
            }
            let cur_laddrs: Vec<IpAddr> = cur.laddrs.list().into_iter().map(|l| l.addr).collect();
            for &addr in &cur_laddrs {
                if !ws.laddrs.contains(&addr) {
                    p.steps.push(Step::DelLaddr { service: key, addr });
                    r.laddrs_deleted += 1;
                }
            }
            for &addr in &ws.laddrs {
                if !cur_laddrs.contains(&addr) {
                    p.steps.push(Step::AddLaddr { service: key, addr });
                    r.laddrs_added += 1;
                }
            }
        }
        if let Some((tcp, tcpfin, udp)) = want.timeouts {
            let cur = self.config().timeouts.get();
            let keep = |new: u32, old: u32| if new == 0 { old } else { new };
            let after = (keep(tcp, cur.0), keep(tcpfin, cur.1), keep(udp, cur.2));
            if after != cur {
                p.steps.push(Step::SetTimeouts(tcp, tcpfin, udp));
                r.timeouts_changed = true;
            }
        }
        Ok(p)
    }

    /// A configuration-only copy: the same sysctls, services (same configuration and
    /// order), real servers (same configuration and list order) and local addresses, and
    /// no connections, counters or scheduler state. Configuration operations succeed or
    /// fail on it exactly as on `self`.
    pub fn config_shadow(&self) -> Result<Ipvs, IpvsError> {
        let mut shadow = Ipvs::new(self.config().clone());
        for s in self.services() {
            // Without a scheduler first, then bound to the real one with the whole list:
            // one table build instead of one per real server (mh: O(M) each).
            let cfg = s.config();
            shadow.add_service(&ServiceConfig {
                scheduler: "none".to_string(),
                ..cfg.clone()
            })?;
            // Added at the head one by one: the oldest first gives the same list order.
            for (_, d) in self.dests_of(s.key()).into_iter().rev() {
                shadow.add_dest(s.key(), &d.config())?;
            }
            shadow.edit_service(&cfg)?;
            for l in s.laddrs.list() {
                shadow.add_laddr(s.key(), l.addr)?;
            }
        }
        Ok(shadow)
    }

    fn run_step(&mut self, step: &Step, now: Time) -> Result<(), IpvsError> {
        match step {
            Step::DelService(k) => self.del_service(k, now),
            Step::EditService(c) => self.edit_service(c),
            Step::AddService(c) => self.add_service(c).map(drop),
            Step::DelDest {
                service,
                addr,
                port,
            } => self.del_dest(service, *addr, *port, now),
            Step::EditDest { service, dest } => self.edit_dest(service, dest),
            Step::AddDest { service, dest } => self.add_dest(service, dest).map(drop),
            Step::DelLaddr { service, addr } => self.del_laddr(service, *addr),
            Step::AddLaddr { service, addr } => self.add_laddr(service, *addr),
            Step::SetTimeouts(tcp, tcpfin, udp) => self.set_timeouts(*tcp, *tcpfin, *udp),
        }
    }

    /// Plan `want` and run the plan on a [configuration shadow](Ipvs::config_shadow):
    /// the plan if every step succeeds there, else the first failing item. Changes
    /// nothing.
    pub fn check_setup(&self, want: &Setup, now: Time) -> Result<Plan, ApplyError> {
        let plan = self.plan(want)?;
        if plan.steps.is_empty() {
            return Ok(plan);
        }
        let mut shadow = self.config_shadow().map_err(|error| ApplyError {
            item: "current configuration".to_string(),
            error,
        })?;
        for step in &plan.steps {
            shadow.run_step(step, now).map_err(|error| ApplyError {
                item: step.item(),
                error,
            })?;
        }
        Ok(plan)
    }

    /// Make the director's configuration `want`, all or nothing (see the
    /// [module docs](self)). On error nothing has changed and the error names the item.
    pub fn apply_setup(&mut self, want: &Setup, now: Time) -> Result<ApplyReport, ApplyError> {
        let plan = self.check_setup(want, now)?;
        for step in &plan.steps {
            // Succeeded on an identical configuration just now; a failure here would be a
            // check of the model that depends on more than the configuration.
            self.run_step(step, now).map_err(|error| ApplyError {
                item: format!("{} (after earlier steps were applied)", step.item()),
                error,
            })?;
        }
        Ok(plan.report)
    }
}
