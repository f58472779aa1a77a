//! Test support: a small in-memory stand-in for lvsd (the kernel's IPVS table semantics
//! that ipvsadm's visible behaviour depends on) and a runner that executes a command line
//! against it the way ipvsadm would, producing (stdout, stderr, exit status).

#![allow(dead_code)]

use std::net::IpAddr;

use lvs_api::{
    ConnInfo, Counters, DestInfo, ErrorKind, Info, Rates, ServiceInfo, ServiceKey, Timeouts,
};
use lvsadm::format::{self, DaemonInfo};
use lvsadm::{
    Command, ListWhat, Operation, Services, StaticResolver, ipvs_strerror, parse_invocation,
    parse_restore, usage,
};

pub fn resolver() -> StaticResolver {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
    let hosts = std::fs::read_to_string(format!("{dir}/_hosts")).unwrap();
    let services = std::fs::read_to_string(format!("{dir}/_services")).unwrap();
    StaticResolver::new()
        .hosts_text(&hosts)
        .services(Services::parse(&services))
}

const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos",
    "none",
];

#[derive(Default)]
pub struct Model {
    pub services: Vec<ServiceInfo>,
    pub timeouts: Option<Timeouts>,
    pub daemons: Vec<DaemonInfo>,
    pub conns: Vec<ConnInfo>,
}

type KErr = (Operation, ErrorKind, &'static str);

/// Bits 8..15 of the address of the guest's `struct netns_ipvs`, which the kernel mixes into
/// its service hash: inferred from the order the real ipvsadm printed services whose
/// comparisons wrap around (golden cases sort_wrap_v6 and fwmark_big, same boot).
const NETNS_HASH_BYTE: u32 = 0x80;

/// The kernel's service hash bucket (ip_vs_svc_hashkey / ip_vs_svc_fwm_hashkey), with the
/// fwmark table after the address table.
fn kernel_bucket(key: &ServiceKey) -> (u8, u32) {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let fold = match addr {
                IpAddr::V4(a) => u32::from(*a),
                IpAddr::V6(a) => {
                    let o = a.octets();
                    (0..4).fold(0, |f, i| {
                        f ^ u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
                    })
                }
            };
            let proto = match protocol {
                lvs_api::Protocol::Tcp => 6,
                lvs_api::Protocol::Udp => 17,
                lvs_api::Protocol::Sctp => 132,
            };
            let porth = u32::from(*port);
            (
                0,
                (proto ^ fold ^ NETNS_HASH_BYTE ^ (porth >> 8) ^ porth) & 255,
            )
        }
        ServiceKey::Fwmark { mark, .. } => (1, (NETNS_HASH_BYTE ^ mark) & 255),
    }
}

impl Model {
    /// Services in the kernel's dump order: hash bucket order, newest first in a bucket
    /// (`services` is kept in insertion order).
    pub fn kernel_order(&self) -> Vec<ServiceInfo> {
        let mut v: Vec<(usize, &ServiceInfo)> = self.services.iter().enumerate().collect();
        v.sort_by_key(|(i, s)| (kernel_bucket(&s.spec.key), std::cmp::Reverse(*i)));
        v.into_iter().map(|(_, s)| s.clone()).collect()
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts.unwrap_or(Timeouts {
            tcp: 900,
            tcpfin: 120,
            udp: 300,
        })
    }

    fn find(&self, key: &ServiceKey) -> Option<usize> {
        self.services.iter().position(|s| s.spec.key == *key)
    }

    fn check_sched(op: Operation, spec: &lvs_api::ServiceSpec) -> Result<(), KErr> {
        if !SCHEDULERS.contains(&spec.scheduler.as_str())
            || spec.pe.as_deref().is_some_and(|p| p != "sip")
        {
            return Err((op, ErrorKind::SchedulerNotFound, ""));
        }
        Ok(())
    }

    fn check_dest(op: Operation, d: &lvs_api::DestSpec) -> Result<(), KErr> {
        let bad = match d.addr {
            IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
            IpAddr::V6(a) => a.is_multicast(),
        };
        if bad {
            return Err((op, ErrorKind::Invalid, ""));
        }
        if d.l_threshold > d.u_threshold {
            return Err((op, ErrorKind::OutOfRange, ""));
        }
        Ok(())
    }

    /// Executes a mutating command; Err = the daemon's error.
    pub fn apply(&mut self, cmd: &Command) -> Result<(), KErr> {
        use Operation as O;
        match cmd {
            Command::AddService(spec) => {
                if self.find(&spec.key).is_some() {
                    return Err((O::AddService, ErrorKind::ServiceExists, ""));
                }
                Self::check_sched(O::AddService, spec)?;
                self.services.push(ServiceInfo {
                    spec: spec.clone(),
                    stats: Counters::default(),
                    rates: Rates::default(),
                    dests: Vec::new(),
                });
            }
            Command::EditService(spec) => {
                let i =
                    self.find(&spec.key)
                        .ok_or((O::EditService, ErrorKind::NoSuchService, ""))?;
                Self::check_sched(O::EditService, spec)?;
                self.services[i].spec = spec.clone();
            }
            Command::DeleteService(key) => {
                let i = self
                    .find(key)
                    .ok_or((O::DeleteService, ErrorKind::NoSuchService, ""))?;
                self.services.remove(i);
            }
            Command::Clear => self.services.clear(),
            Command::Zero(z) => {
                if let Some(k) = &z.service {
                    self.find(k)
                        .ok_or((O::Zero, ErrorKind::NoSuchService, ""))?;
                }
            }
            Command::AddDest(r) => {
                let i =
                    self.find(&r.service)
                        .ok_or((O::AddDest, ErrorKind::ServiceNotDefined, ""))?;
                Self::check_dest(O::AddDest, &r.dest)?;
                let s = &mut self.services[i];
                if s.dests
                    .iter()
                    .any(|d| d.spec.addr == r.dest.addr && d.spec.port == r.dest.port)
                {
                    return Err((O::AddDest, ErrorKind::DestExists, ""));
                }
                // The kernel adds real servers at the head of the list.
                s.dests.insert(
                    0,
                    DestInfo {
                        spec: r.dest,
                        activeconns: 0,
                        inactconns: 0,
                        persistconns: 0,
                        stats: Counters::default(),
                        rates: Rates::default(),
                    },
                );
            }
            Command::EditDest(r) => {
                let i =
                    self.find(&r.service)
                        .ok_or((O::EditDest, ErrorKind::ServiceNotDefined, ""))?;
                let s = &mut self.services[i];
                let d = s
                    .dests
                    .iter_mut()
                    .find(|d| d.spec.addr == r.dest.addr && d.spec.port == r.dest.port)
                    .ok_or((O::EditDest, ErrorKind::NoSuchDest, ""))?;
                Self::check_dest(O::EditDest, &r.dest)?;
                d.spec = r.dest;
            }
            Command::DeleteDest(r) => {
                let i = self.find(&r.service).ok_or((
                    O::DeleteDest,
                    ErrorKind::ServiceNotDefined,
                    "",
                ))?;
                let s = &mut self.services[i];
                let j = s
                    .dests
                    .iter()
                    .position(|d| d.spec.addr == r.addr && d.spec.port == r.port)
                    .ok_or((O::DeleteDest, ErrorKind::NoSuchDest, ""))?;
                s.dests.remove(j);
            }
            Command::SetTimeouts(t) => {
                let mut cur = self.timeouts();
                if t.tcp != 0 {
                    cur.tcp = t.tcp;
                }
                if t.tcpfin != 0 {
                    cur.tcpfin = t.tcpfin;
                }
                if t.udp != 0 {
                    cur.udp = t.udp;
                }
                self.timeouts = Some(cur);
            }
            Command::StartDaemon(c) => {
                if self.daemons.iter().any(|d| d.state == c.state) {
                    return Err((O::StartDaemon, ErrorKind::ServiceExists, ""));
                }
                if c.mcast_ifn != "dummy0" && c.mcast_ifn != "lo" {
                    return Err((O::StartDaemon, ErrorKind::Internal, "No such device"));
                }
                let group = c.mcast_group.unwrap_or("224.0.0.81".parse().unwrap());
                self.daemons.push(DaemonInfo {
                    state: c.state,
                    mcast_ifn: c.mcast_ifn.clone(),
                    syncid: c.syncid,
                    sync_maxlen: if c.sync_maxlen != 0 {
                        c.sync_maxlen
                    } else if group.is_ipv6() {
                        1452
                    } else {
                        1472
                    },
                    mcast_group: Some(group),
                    mcast_port: if c.mcast_port != 0 {
                        c.mcast_port
                    } else {
                        8848
                    },
                    mcast_ttl: if c.mcast_ttl != 0 { c.mcast_ttl } else { 1 },
                });
            }
            Command::StopDaemon(s) => {
                let i = self
                    .daemons
                    .iter()
                    .position(|d| d.state == s.state)
                    .ok_or((O::StopDaemon, ErrorKind::NoSuchService, ""))?;
                self.daemons.remove(i);
            }
            other => panic!("not a mutating command: {other:?}"),
        }
        Ok(())
    }
}

/// What one invocation printed and returned; `exit` = the process ended here (restore).
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub rc: i32,
    pub exit: bool,
}

fn ok(stdout: String) -> Outcome {
    Outcome {
        stdout,
        stderr: String::new(),
        rc: 0,
        exit: false,
    }
}

fn exec(model: &mut Model, cmd: Command, stdin: &[u8], program: &str) -> Outcome {
    let r = resolver();
    match cmd {
        Command::Help { program } => Outcome {
            exit: true,
            ..ok(usage::usage(&program))
        },
        Command::Version => Outcome {
            exit: true,
            ..ok(usage::version())
        },
        Command::List(req) => {
            let out = match req.what {
                ListWhat::All => {
                    let info = Info {
                        version: 0x010201,
                        conn_tab_size: 4096,
                        num_services: model.services.len() as u32,
                    };
                    format::list_all(&info, &model.kernel_order(), &req.format, &r)
                }
                ListWhat::Service(key) => match model.find(&key) {
                    Some(i) => format::list_service(&model.services[i], &req.format, &r),
                    None => {
                        let e = lvsadm::daemon_error(Operation::List, ErrorKind::NoSuchService, "");
                        return Outcome {
                            stdout: String::new(),
                            stderr: e.stderr_text(),
                            rc: e.exit_code(),
                            exit: true,
                        };
                    }
                },
                ListWhat::Connections => format::list_conns(&model.conns, &req.format, &r),
                ListWhat::Timeout => format::list_timeout(&model.timeouts()),
                ListWhat::Daemon => format::list_daemons(&model.daemons),
            };
            ok(out)
        }
        Command::Save(f) => ok(format::list_all(
            &Info {
                version: 0x010201,
                conn_tab_size: 4096,
                num_services: 0,
            },
            &model.kernel_order(),
            &f,
            &r,
        )),
        Command::Restore => {
            let mut all = ok(String::new());
            for line in parse_restore(stdin, program, &r) {
                match line.result {
                    Ok(inv) => {
                        let o = exec(model, inv.command, b"", program);
                        all.stdout.push_str(&o.stdout);
                        all.stderr.push_str(&o.stderr);
                        all.rc = o.rc;
                        if o.exit {
                            return all;
                        }
                    }
                    Err(e) => {
                        all.stderr.push_str(&e.stderr_text());
                        all.rc = e.exit_code();
                        if e.aborts_restore() {
                            return all;
                        }
                    }
                }
            }
            all
        }
        other => match model.apply(&other) {
            Ok(()) => ok(String::new()),
            Err((op, kind, detail)) => Outcome {
                stdout: String::new(),
                stderr: format!("{}\n", ipvs_strerror(op, kind, detail)),
                rc: 255,
                exit: false,
            },
        },
    }
}

/// Runs one command line (argv[0] included) against the model.
pub fn run(model: &mut Model, argv: &[String], stdin: &[u8]) -> Outcome {
    let r = resolver();
    match parse_invocation(argv, &r) {
        Err(e) => Outcome {
            stdout: String::new(),
            stderr: e.stderr_text(),
            rc: e.exit_code(),
            exit: true,
        },
        Ok(inv) => exec(model, inv.command, stdin, &argv[0]),
    }
}

/// Splits "ipvsadm a b; ipvsadm c" into argvs.
pub fn setup_argvs(setup: &str) -> Vec<Vec<String>> {
    setup
        .split(';')
        .map(|c| c.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect()
}
