//! Handlers of the checker process (keepalived/check/check_parser.c, check_data.c,
//! check_api.c and the check_*.c checkers).

use std::net::IpAddr;

use super::keywords::H;
use super::lexer;
use super::model::*;
use super::num::{self, Msgs, TIMER_HZ};
use super::parser::{
    ChkBuild, ConnOpts, FileCheckB, Parser, R, RsBuild, ScriptB, SorryBuild, Vb, VsBuild, VsgBuild,
};

const SCHEDULERS: &[&str] = &[
    "rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos",
];
/// `IPVS_WEIGHT_MAX`.
pub(crate) const IPVS_WEIGHT_MAX: u32 = i32::MAX as u32;

macro_rules! vs {
    ($p:expr) => {
        match $p.b.vss.last_mut() {
            Some(v) => v,
            None => return Ok(()),
        }
    };
}

macro_rules! rs {
    ($p:expr) => {
        match $p.b.vss.last_mut().and_then(|v| v.rss.last_mut()) {
            Some(r) => r,
            None => return Ok(()),
        }
    };
}

macro_rules! chk {
    ($p:expr) => {
        match $p.cur_chk() {
            Some(c) => c,
            None => return Ok(()),
        }
    };
}

fn fmt_proto(p: Option<Protocol>) -> &'static str {
    match p {
        Some(Protocol::Tcp) => "tcp",
        Some(Protocol::Udp) => "udp",
        Some(Protocol::Sctp) => "sctp",
        None => "none",
    }
}

/// Two characters read as keepalived's `strtoul(pair, 16)` must consume both: two hex digits,
/// or a blank or sign followed by one.
fn hex_pair(p: &[u8]) -> Option<u8> {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    match (p[0], p[1]) {
        (a, b) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => Some(hex(a)? << 4 | hex(b)?),
        (b' ' | b'\t' | b'+', b) => hex(b),
        (b'-', b) => Some(hex(b)?.wrapping_neg()),
        _ => None,
    }
}

/// keepalived's `cmd_str`: every word in single quotes (but a leading `<`/`>` word).
pub(crate) fn cmd_str(args: &[String]) -> String {
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 && (a.starts_with('<') || a.starts_with('>')) {
                a.clone()
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// keepalived's `FMT_VS`.
pub(crate) fn fmt_vs(v: &VsBuild) -> String {
    match &v.key {
        VirtualServerKey::Group(g) => format!("[{g}]:0"),
        VirtualServerKey::Fwmark(m) => format!("FWM {m}"),
        VirtualServerKey::Addr { addr, port } => {
            format!("[{addr}]:{}:{port}", fmt_proto(v.protocol))
        }
    }
}

/// keepalived's `FMT_RS`.
pub(crate) fn fmt_rs(r: &RsBuild, v: &VsBuild) -> String {
    format!("[{}]:{}:{}", r.addr, fmt_proto(v.protocol), r.port)
}

impl Parser<'_> {
    pub(crate) fn cur_chk(&mut self) -> Option<&mut ChkBuild> {
        let (a, b, c) = self.b.cur_checker?;
        self.b.vss.get_mut(a)?.rss.get_mut(b)?.checkers.get_mut(c)
    }

    fn cur_co(&mut self) -> Option<&mut ConnOpts> {
        let c = self.cur_chk()?;
        // SMTP_CHECK uses its own connection options (not the first host's) once one is
        // given outside the `host { }` blocks.
        if c.smtp_saved_co.is_none() {
            c.co_set = true;
        }
        c.co.as_mut()
    }

    /// `svr_forwarding_handler`: `NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]`
    /// (and `FNAT`, lvs-rs's full NAT). `None` after an error.
    fn forwarding(
        &mut self,
        w: &[String],
        s_type: &str,
        prev: Option<ForwardMethod>,
    ) -> R<Option<ForwardMethod>> {
        let kind = self.arg(w, 1)?.to_string();
        let base = match kind.as_str() {
            "NAT" => ForwardMethod::Nat,
            "DR" => ForwardMethod::Dr,
            "TUN" => ForwardMethod::Tun {
                tunnel: TunnelType::Ipip,
                checksum: TunnelChecksum::NoCsum,
            },
            "FNAT" => ForwardMethod::FullNat,
            _ => {
                self.err(format!(
                    "PARSER : unknown [{kind}] routing method for {s_type} server."
                ));
                return Ok(None);
            }
        };
        let _ = prev;
        let (mut tun, mut csum) = (TunnelType::Ipip, TunnelChecksum::NoCsum);
        let mut port: u32 = 0;
        let mut is_gue = false;
        let mut i = 2;
        while i < w.len() {
            match w[i].as_str() {
                "type" => {
                    let Some(t) = w.get(i + 1) else {
                        self.err(format!("Missing tunnel type for {s_type} server."));
                        return Ok(None);
                    };
                    match t.as_str() {
                        "ipip" => {
                            tun = TunnelType::Ipip;
                            is_gue = false;
                        }
                        "gue" => is_gue = true,
                        "gre" => {
                            tun = TunnelType::Gre;
                            is_gue = false;
                        }
                        _ => {
                            self.err(format!("Unknown tunnel type {t} for {s_type} server."));
                            return Ok(None);
                        }
                    }
                    i += 1;
                }
                "port" => {
                    if w.get(i + 1).is_none() {
                        self.err(format!("Missing port for {s_type} server gue tunnel."));
                        return Ok(None);
                    }
                    match self.uint(w, i + 1, 1, 65535)? {
                        Some(p) => port = p,
                        None => {
                            self.err(format!(
                                "Invalid gue tunnel port {} for {s_type} server.",
                                w[i + 1]
                            ));
                            return Ok(None);
                        }
                    }
                    i += 1;
                }
                "nocsum" => csum = TunnelChecksum::NoCsum,
                "csum" => csum = TunnelChecksum::Csum,
                "remcsum" => csum = TunnelChecksum::RemCsum,
                o => {
                    self.err(format!("Invalid tunnel option {o} for {s_type} server."));
                    return Ok(None);
                }
            }
            i += 1;
        }
        if is_gue != (port != 0) {
            self.err("gue tunnels require port, otherwise cannot have port.");
            return Ok(None);
        }
        if is_gue {
            tun = TunnelType::Gue(port as u16);
        }
        if tun == TunnelType::Ipip && csum != TunnelChecksum::NoCsum {
            self.err("ipip tunnels do not support checksum option.");
            return Ok(None);
        }
        if tun == TunnelType::Gre && csum == TunnelChecksum::RemCsum {
            self.err("gre tunnels do not support remote checksum option.");
            return Ok(None);
        }
        Ok(Some(match base {
            ForwardMethod::Tun { .. } => ForwardMethod::Tun {
                tunnel: tun,
                checksum: csum,
            },
            other => other,
        }))
    }

    fn check_script(&mut self, ty: &str) -> R<Option<ScriptB>> {
        self.notify_script(ty)
    }

    fn queue_checker(&mut self, kind: CheckerKind, with_co: bool) {
        let Some(vi) = self.b.vss.len().checked_sub(1) else {
            return;
        };
        let Some(ri) = self.b.vss[vi].rss.len().checked_sub(1) else {
            return;
        };
        let rs = &self.b.vss[vi].rss[ri];
        let co = with_co.then_some(ConnOpts {
            dst: rs.addr,
            dst_port: rs.port,
            bindto: None,
            bind_port: None,
            bind_if: None,
            connect_timeout_us: None,
            fwmark: None,
        });
        let c = ChkBuild {
            kind,
            co,
            alpha: None,
            delay_loop_us: None,
            warmup_us: None,
            retry: None,
            delay_before_retry_us: None,
            default_retry: 1,
            default_delay_before_retry_us: TIMER_HZ,
            log_all_failures: false,
            misc_script: None,
            misc_user_set: false,
            misc_user: None,
            co_set: false,
            smtp_saved_co: None,
            smtp_hosts: Vec::new(),
        };
        self.b.vss[vi].rss[ri].checkers.push(c);
        let ci = self.b.vss[vi].rss[ri].checkers.len() - 1;
        self.b.cur_checker = Some((vi, ri, ci));
    }

    /// `dequeue_new_checker`.
    fn dequeue_checker(&mut self) {
        if let Some((a, b, c)) = self.b.cur_checker.take()
            && let Some(rs) = self.b.vss.get_mut(a).and_then(|v| v.rss.get_mut(b))
            && c < rs.checkers.len()
        {
            rs.checkers.remove(c);
        }
    }

    pub(crate) fn check_handler(&mut self, h: H, w: &[String]) -> R {
        match h {
            H::Vsg => {
                let name = self.arg(w, 1)?.to_string();
                self.b.vsgs.push(VsgBuild {
                    name: name.clone(),
                    entries: Vec::new(),
                    have_ipv4: false,
                    have_ipv6: false,
                    fwmark_no_family: false,
                });
                let mut v: Vec<String> = vec![String::new()];
                v.extend_from_slice(&w[2..]);
                v[0] = w[0].clone();
                self.value_block(&v, Vb::Vsg)?;
                let g = self.b.vsgs.last().cloned();
                if let Some(g) = g {
                    if g.entries.is_empty() {
                        self.err(format!(
                            "virtual server group {} has no entries - removing",
                            g.name
                        ));
                        self.b.vsgs.pop();
                    } else if g.have_ipv4 && g.have_ipv6 && g.fwmark_no_family {
                        self.err(format!("virtual server group {} cannot have IPv4, IPv6 and fwmark without family - removing", g.name));
                        self.b.vsgs.pop();
                    }
                }
            }
            H::Vs => self.alloc_vs(w)?,
            H::IpFamily => {
                let s = self.arg(w, 1)?.to_string();
                let af = match s.as_str() {
                    "inet" => Family::Inet,
                    "inet6" => Family::Inet6,
                    _ => {
                        self.err(format!("unknown address family {s}"));
                        return Ok(());
                    }
                };
                let v = vs!(self);
                if v.af.is_some_and(|f| f != af) {
                    self.err(format!(
                        "Virtual server specified family {s} conflicts with server family"
                    ));
                } else {
                    v.af = Some(af);
                }
            }
            H::VsConnectTimeout => match self.timer(w, 1, 1, u32::MAX as u64)? {
                None => self.err(format!(
                    "virtual server connect_timeout {} invalid - ignoring",
                    w[1]
                )),
                Some(t) => vs!(self).connect_timeout_us = t,
            },
            H::VsDelayLoop => match self.timer(w, 1, 1, 0)? {
                None => self.err(format!(
                    "virtual server delay loop '{}' invalid - ignoring",
                    w[1]
                )),
                Some(t) => vs!(self).delay_loop_us = t,
            },
            H::VsDelayBeforeRetry => match self.timer(w, 1, 0, 0)? {
                None => self.err(format!(
                    "virtual server delay before retry '{}' invalid - ignoring",
                    w[1]
                )),
                Some(t) => vs!(self).delay_before_retry_us = Some(t),
            },
            H::VsRetry => match self.uint(w, 1, 1, u32::MAX)? {
                None => self.err(format!("retry value invalid - {}", w[1])),
                Some(v) => vs!(self).retry = Some(v),
            },
            H::VsWarmup => match self.timer(w, 1, 0, 0)? {
                None => self.err(format!(
                    "virtual server warmup '{}' invalid - ignoring",
                    w[1]
                )),
                Some(t) => vs!(self).warmup_us = Some(t),
            },
            H::LbAlgo => {
                let s = self.arg(w, 1)?.to_string();
                if SCHEDULERS.contains(&s.as_str()) {
                    vs!(self).sched = s;
                } else {
                    self.err(format!("Invalid lvs_scheduler '{s}' - ignoring"));
                }
            }
            H::LbFlags => {
                let v = vs!(self);
                match w[0].as_str() {
                    "ops" => v.flags.ops = true,
                    "hashed" => {}
                    "flag-1" => v.flags.flag1 = true,
                    "flag-2" => v.flags.flag2 = true,
                    "flag-3" => v.flags.flag3 = true,
                    f => {
                        let sched = v.sched.clone();
                        if sched == "sh" && f.starts_with("sh-")
                            || sched == "mh" && f.starts_with("mh-")
                        {
                            if f.ends_with("-port") {
                                v.flags.flag2 = true;
                            } else {
                                v.flags.flag1 = true;
                            }
                        } else if sched != "sh" && sched != "mh" {
                            self.err(format!("{f} only applies to sh scheduler - ignoring"));
                        }
                    }
                }
            }
            H::LbKind => {
                let prev = vs!(self).method;
                if let Some(m) = self.forwarding(w, "virtual", prev)? {
                    vs!(self).method = Some(m);
                }
            }
            H::PersistenceTimeout => {
                if w.len() < 2 {
                    vs!(self).persistence_timeout = 360;
                } else {
                    match self.uint(w, 1, 1, 86400 * 31)? {
                        None => self.err("persistence_timeout invalid"),
                        Some(v) => vs!(self).persistence_timeout = v,
                    }
                }
            }
            H::PersistenceEngine => {
                let s = self.arg(w, 1)?.to_string();
                let mut s2 = s.clone();
                if s.len() > 15 {
                    self.err(format!("persistence_name too long, truncating - {s}"));
                    s2 = String::from_utf8_lossy(&s.as_bytes()[..15]).into_owned();
                }
                vs!(self).persistence_engine = Some(s2);
            }
            H::PersistenceGranularity => {
                let s = self.arg(w, 1)?.to_string();
                let af = vs!(self).af.unwrap_or(if s.contains('.') {
                    Family::Inet
                } else {
                    Family::Inet6
                });
                let g = if af == Family::Inet6 {
                    match self.uint(w, 1, 1, 128)? {
                        Some(v) => PersistenceGranularity::PrefixLen(v as u8),
                        None => {
                            self.err(format!(
                                "Invalid IPv6 persistence_granularity specified - {s}"
                            ));
                            return Ok(());
                        }
                    }
                } else {
                    match s.parse::<std::net::Ipv4Addr>() {
                        Ok(a) => PersistenceGranularity::Netmask(a),
                        Err(_) => {
                            self.err(format!(
                                "Invalid IPv4 persistence_granularity specified - {s}"
                            ));
                            return Ok(());
                        }
                    }
                };
                let v = vs!(self);
                v.granularity = Some(g);
                if v.af.is_none() {
                    v.af = Some(af);
                }
                if v.persistence_timeout == 0 {
                    v.persistence_timeout = 360;
                }
            }
            H::Protocol => {
                let s = self.arg(w, 1)?.to_string();
                match s.to_ascii_uppercase().as_str() {
                    "TCP" => vs!(self).protocol = Some(Protocol::Tcp),
                    "UDP" => vs!(self).protocol = Some(Protocol::Udp),
                    "SCTP" => vs!(self).protocol = Some(Protocol::Sctp),
                    _ => self.err(format!("Unknown protocol {s} - ignoring")),
                }
            }
            H::HaSuspend => vs!(self).ha_suspend = true,
            H::VsInhibit => vs!(self).inhibit = true,
            H::VsSmtpAlert => {
                if let Some(v) = self.opt_bool(w, |s| {
                    format!("Invalid virtual_server smtp_alert parameter {s}")
                })? {
                    vs!(self).smtp_alert = Some(v);
                }
            }
            H::VsVirtualhost => {
                if w.len() < 2 {
                    self.err("virtual server virtualhost missing");
                } else {
                    vs!(self).virtualhost = Some(w[1].clone());
                }
            }
            H::VsAlpha => vs!(self).alpha = true,
            H::Omega => vs!(self).omega = true,
            H::QuorumUp | H::QuorumDown => {
                let up = h == H::QuorumUp;
                let exists = if up {
                    vs!(self).quorum_up.is_some()
                } else {
                    vs!(self).quorum_down.is_some()
                };
                if exists {
                    let a = self.arg(w, 1)?.to_string();
                    let g = vs!(self)
                        .vsgname
                        .clone()
                        .unwrap_or_else(|| "(null)".to_string());
                    let which = if up { "quorum_up" } else { "quorum_down" };
                    self.err(format!(
                        "({g}) {which} script already specified - ignoring {a}"
                    ));
                    return Ok(());
                }
                let s = self.check_script("quorum")?;
                if up {
                    vs!(self).quorum_up = s;
                } else {
                    vs!(self).quorum_down = s;
                }
            }
            H::Quorum => {
                let q = match self.uint(w, 1, 1, u32::MAX)? {
                    Some(q) => q,
                    None => {
                        self.err(format!(
                            "Quorum {} must be in [1, {}]. Setting to 1.",
                            w[1],
                            u32::MAX
                        ));
                        1
                    }
                };
                vs!(self).quorum = q;
            }
            H::Hysteresis => match self.uint(w, 1, 0, u32::MAX)? {
                None => self.err(format!(
                    "Hysteresis {} must be in [0, {}] - ignoring",
                    w[1],
                    u32::MAX
                )),
                Some(v) => vs!(self).hysteresis = v,
            },
            H::VsWeight => match self.uint(w, 1, 1, IPVS_WEIGHT_MAX)? {
                None => self.err(format!(
                    "Virtual server weight {} is outside range 1-{IPVS_WEIGHT_MAX}",
                    w[1]
                )),
                Some(v) => vs!(self).weight = v,
            },
            H::SorryServer => {
                let ip = self.arg(w, 1)?.to_string();
                let port = w.get(2).filter(|p| p.bytes().any(|c| c != b'0')).cloned();
                match self.sockaddr(&ip, port.as_deref()) {
                    Err(()) => self.err(format!("Invalid sorry server IP address {ip} - skipping")),
                    Ok((addr, p)) => {
                        let m = vs!(self).method;
                        vs!(self).sorry = Some(SorryBuild {
                            addr,
                            port: p.unwrap_or(0),
                            inhibit: false,
                            method: m,
                        });
                    }
                }
            }
            H::SorryServerInhibit => match vs!(self).sorry.as_mut() {
                Some(s) => s.inhibit = true,
                None => {
                    self.err("Ignoring sorry_server inhibit used before or without sorry_server")
                }
            },
            H::SorryServerLvsMethod => {
                if vs!(self).sorry.is_none() {
                    self.err("sorry_server forwarding used without sorry_server");
                    return Ok(());
                }
                let prev = vs!(self).sorry.as_ref().and_then(|s| s.method);
                if let Some(m) = self.forwarding(w, "sorry", prev)?
                    && let Some(s) = vs!(self).sorry.as_mut()
                {
                    s.method = Some(m);
                }
            }
            H::RealServer => self.alloc_rs(w)?,
            H::RsWeight => match self.uint(w, 1, 0, IPVS_WEIGHT_MAX)? {
                None => self.err(format!(
                    "Real server weight {} is outside range 0-{IPVS_WEIGHT_MAX}",
                    w[1]
                )),
                Some(v) => rs!(self).weight = Some(v),
            },
            H::RsLvsMethod => {
                let prev = rs!(self).method;
                if let Some(m) = self.forwarding(w, "real", prev)? {
                    rs!(self).method = Some(m);
                }
            }
            H::Uthreshold | H::Lthreshold => {
                let which = if h == H::Uthreshold {
                    "uthreshold"
                } else {
                    "lthreshold"
                };
                match self.uint(w, 1, 0, u32::MAX)? {
                    None => self.err(format!("Invalid real_server {which} '{}' - ignoring", w[1])),
                    Some(v) => {
                        let r = rs!(self);
                        if h == H::Uthreshold {
                            r.uthreshold = v;
                        } else {
                            r.lthreshold = v;
                        }
                    }
                }
            }
            H::RsInhibit => {
                if let Some(v) =
                    self.opt_bool(w, |s| format!("Invalid inhibit_on_failure parameter {s}"))?
                {
                    rs!(self).inhibit = Some(v);
                }
            }
            H::NotifyUp | H::NotifyDown => {
                let up = h == H::NotifyUp;
                let exists = if up {
                    rs!(self).notify_up.is_some()
                } else {
                    rs!(self).notify_down.is_some()
                };
                if exists {
                    let a = self.arg(w, 1)?.to_string();
                    let g = vs!(self)
                        .vsgname
                        .clone()
                        .unwrap_or_else(|| "(null)".to_string());
                    let which = if up { "notify_up" } else { "notify_down" };
                    self.err(format!(
                        "({g}) {which} script already specified - ignoring {a}"
                    ));
                    return Ok(());
                }
                let s = self.check_script("notify")?;
                if up {
                    rs!(self).notify_up = s;
                } else {
                    rs!(self).notify_down = s;
                }
            }
            H::RsAlpha => {
                if let Some(v) = self.opt_bool(w, |s| format!("Invalid alpha parameter {s}"))? {
                    rs!(self).alpha = Some(v);
                }
            }
            H::RsRetry => match self.uint(w, 1, 1, u32::MAX)? {
                None => self.err(format!("retry value invalid - {}", w[1])),
                Some(v) => rs!(self).retry = Some(v),
            },
            H::RsDelayBeforeRetry => match self.timer(w, 1, 0, 0)? {
                None => self.err(format!(
                    "real server delay_before_retry '{}' invalid - ignoring",
                    w[1]
                )),
                Some(t) => rs!(self).delay_before_retry_us = Some(t),
            },
            H::RsWarmup => match self.timer(w, 1, 0, 0)? {
                None => self.err(format!("real server warmup '{}' invalid - ignoring", w[1])),
                Some(t) => rs!(self).warmup_us = Some(t),
            },
            H::RsConnectTimeout => match self.timer(w, 1, 1, u32::MAX as u64)? {
                None => self.err(format!(
                    "real server connect_timeout {} invalid - ignoring",
                    w[1]
                )),
                Some(t) => rs!(self).connect_timeout_us = Some(t),
            },
            H::RsDelayLoop => match self.timer(w, 1, 1, 0)? {
                None => self.err(format!(
                    "real server delay_loop '{}' invalid - ignoring",
                    w[1]
                )),
                Some(t) => rs!(self).delay_loop_us = Some(t),
            },
            H::RsSmtpAlert => {
                if let Some(v) = self.opt_bool(w, |s| {
                    format!("Invalid real_server smtp_alert parameter {s}")
                })? {
                    rs!(self).smtp_alert = Some(v);
                }
            }
            H::RsVirtualhost => {
                if w.len() < 2 {
                    self.err("real server virtualhost missing");
                } else {
                    rs!(self).virtualhost = Some(w[1].clone());
                }
            }
            H::TcpCheck => self.queue_checker(CheckerKind::Tcp, true),
            H::PingCheck => self.queue_checker(CheckerKind::Ping, true),
            H::UdpCheck => self.queue_checker(
                CheckerKind::Udp(UdpCheck {
                    payload: Vec::new(),
                    require_reply: false,
                    reply: None,
                    min_reply_length: 0,
                    max_reply_length: 255,
                }),
                true,
            ),
            H::HttpGet | H::SslGet => {
                self.queue_checker(
                    CheckerKind::Http(HttpCheck {
                        ssl: h == H::SslGet,
                        ..HttpCheck::default()
                    }),
                    true,
                );
                chk!(self).default_delay_before_retry_us = 3 * TIMER_HZ;
            }
            H::MiscCheck => {
                self.queue_checker(
                    CheckerKind::Misc(MiscCheck {
                        script: Script::default(),
                        timeout: None,
                        dynamic: false,
                    }),
                    false,
                );
                chk!(self).default_retry = 0;
                self.b.misc_open = true;
            }
            H::SmtpCheck => self.queue_checker(CheckerKind::Smtp { helo_name: None }, true),
            H::DnsCheck => {
                self.queue_checker(
                    CheckerKind::Dns {
                        query_type: "SOA".to_string(),
                        // Unset until `name` (default `.` at the end of the block).
                        name: String::new(),
                    },
                    true,
                );
                chk!(self).default_retry = 3;
                chk!(self).default_delay_before_retry_us = 0;
            }
            H::FileCheck => self.b.file_check = Some(FileCheckB::default()),
            H::TrackFileBlock => {
                self.b.cur_track_file = w.get(1).map(|n| TrackFile {
                    name: n.clone(),
                    path: String::new(),
                    weight: 1,
                    reverse: false,
                    init: None,
                });
                self.b.cur_track_file_path_set = false;
            }
            H::TfFile => {
                if w.len() < 2 {
                    self.err("track file file name missing");
                    return Ok(());
                }
                let set = self.b.cur_track_file_path_set;
                let Some(t) = self.b.cur_track_file.as_mut() else {
                    return Ok(());
                };
                if set {
                    let msg = format!(
                        "File already set for track file {} - ignoring {}",
                        t.name, w[1]
                    );
                    self.err(msg);
                } else {
                    t.path = w[1..].join(" ");
                    self.b.cur_track_file_path_set = true;
                }
            }
            H::TfWeight => {
                let Some(name) = self.b.cur_track_file.as_ref().map(|t| t.name.clone()) else {
                    return Ok(());
                };
                if w.len() < 2 {
                    self.err(format!(
                        "No weight specified for track file {name} - ignoring"
                    ));
                    return Ok(());
                }
                if self
                    .b
                    .cur_track_file
                    .as_ref()
                    .is_some_and(|t| t.weight != 1)
                {
                    self.err(format!(
                        "Weight already set for track file {name} - ignoring {}",
                        w[1]
                    ));
                    return Ok(());
                }
                let weight = match self.int(w, 1, -254, 254)? {
                    Some(v) => v,
                    None => {
                        self.err(format!("Weight ({}) for track_file {name} must be between [-254..254] inclusive. Ignoring...", w[1]));
                        1
                    }
                };
                let mut reverse = false;
                if let Some(opt) = w.get(2) {
                    if opt == "reverse" {
                        reverse = true;
                    } else {
                        self.err(format!("track_file {name} unknown weight option {opt}"));
                    }
                }
                if let Some(t) = self.b.cur_track_file.as_mut() {
                    t.weight = weight;
                    t.reverse |= reverse;
                }
            }
            H::TfInit => {
                let Some(name) = self.b.cur_track_file.as_ref().map(|t| t.name.clone()) else {
                    return Ok(());
                };
                let (mut value, mut overwrite) = (0i32, false);
                for word in &w[1..] {
                    let word = word.trim_start();
                    if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
                        match word.parse::<i32>() {
                            Ok(v) => {
                                if !(-254..=254).contains(&v) {
                                    self.err(format!("Track file {name} init value {v} is outside sensible range [-254, 254]"));
                                }
                                value = v;
                            }
                            Err(_) => {
                                self.err(format!("Track file {name} init value {word} is invalid"));
                                value = 0;
                            }
                        }
                    } else if word == "overwrite" {
                        overwrite = true;
                    } else {
                        self.err(format!("Unknown track file init option {word}"));
                    }
                }
                if let Some(t) = self.b.cur_track_file.as_mut() {
                    t.init = Some((value, overwrite));
                }
            }
            H::SmtpHost => {
                let Some((vi, ri, _)) = self.b.cur_checker else {
                    return Ok(());
                };
                let (addr, port) = {
                    let rs = &self.b.vss[vi].rss[ri];
                    (rs.addr, rs.port)
                };
                if let Some(c) = self.cur_chk()
                    && c.smtp_saved_co.is_none()
                {
                    c.smtp_saved_co = c.co.take();
                    c.co = Some(ConnOpts {
                        dst: addr,
                        dst_port: port,
                        bindto: None,
                        bind_port: None,
                        bind_if: None,
                        connect_timeout_us: None,
                        fwmark: None,
                    });
                }
            }
            H::BfdCheck => self.queue_checker(CheckerKind::Bfd { name: None }, false),
            _ => return self.checker_keyword(h, w),
        }
        Ok(())
    }

    fn checker_keyword(&mut self, h: H, w: &[String]) -> R {
        match h {
            H::CoConnectIp => {
                let s = self.arg(w, 1)?.to_string();
                match self.sockaddr(&s, None) {
                    Err(()) => self.err(format!("Invalid connect_ip address {s} - ignoring")),
                    Ok((a, _)) => {
                        let co = match self.cur_co() {
                            Some(c) => c,
                            None => return Ok(()),
                        };
                        if co.bindto.is_some_and(|b| b.is_ipv6() != a.is_ipv6()) {
                            self.err(format!("connect_ip address {s} does not match address family of bindto - skipping"));
                        } else {
                            co.dst = a;
                        }
                    }
                }
            }
            H::CoConnectPort | H::CoBindPort => match self.uint(w, 1, 1, 65535)? {
                None => {
                    let which = if h == H::CoConnectPort {
                        "connect_port"
                    } else {
                        "bind_port"
                    };
                    self.err(format!("Invalid checker {which} '{}'", w[1]));
                }
                Some(p) => {
                    if let Some(co) = self.cur_co() {
                        if h == H::CoConnectPort {
                            co.dst_port = p as u16;
                        } else {
                            co.bind_port = Some(p as u16);
                        }
                    }
                }
            },
            H::CoBindto => {
                let s = self.arg(w, 1)?.to_string();
                match self.sockaddr(&s, None) {
                    Err(()) => self.err(format!("Invalid bindto address {s} - ignoring")),
                    Ok((a, _)) => {
                        let Some(co) = self.cur_co() else {
                            return Ok(());
                        };
                        if co.dst.is_ipv6() != a.is_ipv6() {
                            self.err(format!("bindto address {s} does not match address family of connect_ip - skipping"));
                        } else {
                            co.bindto = Some(a);
                        }
                    }
                }
            }
            H::CoBindIf => {
                let s = self.arg(w, 1)?.to_string();
                if s.len() > 15 {
                    self.err(format!("Interface name {s} is too long - ignoring"));
                } else if let Some(co) = self.cur_co() {
                    co.bind_if = Some(s);
                }
            }
            H::CoConnectTimeout => match self.timer(w, 1, 1, u32::MAX as u64)? {
                None => self.err(format!("connect_timeout {} invalid - ignoring", w[1])),
                Some(t) => {
                    if let Some(co) = self.cur_co() {
                        co.connect_timeout_us = Some(t);
                    }
                }
            },
            H::CoFwmark => match self.uint(w, 1, 0, u32::MAX)? {
                None => self.err(format!("Invalid fwmark connection value '{}'", w[1])),
                Some(v) => {
                    if let Some(co) = self.cur_co() {
                        co.fwmark = Some(v);
                    }
                }
            },
            H::ChkRetry | H::HttpNbGetRetry => {
                if h == H::HttpNbGetRetry {
                    self.err("nb_get_retry is deprecated - please use 'retry'");
                }
                match self.uint(w, 1, 0, u32::MAX)? {
                    None => {
                        let msg = if h == H::ChkRetry {
                            format!("Invalid retry connection value '{}'", w[1])
                        } else {
                            format!("Invalid nb_get_retry value '{}'", w[1])
                        };
                        self.err(msg);
                    }
                    Some(v) => chk!(self).retry = Some(v),
                }
            }
            H::ChkDelayBeforeRetry => match self.timer(w, 1, 0, 0)? {
                None => self.err(format!(
                    "Invalid delay_before_retry connection value '{}'",
                    w[1]
                )),
                Some(t) => chk!(self).delay_before_retry_us = Some(t),
            },
            H::ChkWarmup => match self.timer(w, 1, 0, 0)? {
                None => self.err(format!("Invalid warmup connection value '{}'", w[1])),
                Some(t) => chk!(self).warmup_us = Some(t),
            },
            H::ChkDelayLoop => match self.timer(w, 1, 1, 0)? {
                None => self.err(format!("delay_loop '{}' is invalid - ignoring", w[1])),
                Some(t) => chk!(self).delay_loop_us = Some(t),
            },
            H::ChkAlpha => {
                if let Some(v) = self.opt_bool(w, |s| format!("Invalid alpha parameter {s}"))? {
                    chk!(self).alpha = Some(v);
                }
            }
            H::ChkLogAllFailures => {
                if let Some(v) =
                    self.opt_bool(w, |s| format!("Invalid log_all_failures parameter {s}"))?
                {
                    chk!(self).log_all_failures = v;
                }
            }
            H::HttpVirtualhost => {
                if w.len() < 2 {
                    self.err("HTTP_GET virtualhost name missing");
                } else if let CheckerKind::Http(hc) = &mut chk!(self).kind {
                    hc.virtualhost = Some(w[1].clone());
                }
            }
            H::HttpProtocol => {
                if w.len() < 2 {
                    self.err("Missing http_protocol version");
                    return Ok(());
                }
                let p = match w[1].as_str() {
                    "1.0" => HttpProtocol::Http10,
                    "1.1" => HttpProtocol::Http11,
                    "1.0C" | "1.0c" => HttpProtocol::Http10Close,
                    _ => {
                        self.err(format!("Invalid http_protocol version {}", w[1]));
                        return Ok(());
                    }
                };
                if let CheckerKind::Http(hc) = &mut chk!(self).kind {
                    hc.http_protocol = p;
                }
            }
            H::HttpEnableSni | H::HttpFastRecovery => {
                let which = if h == H::HttpEnableSni {
                    "enable_sni"
                } else {
                    "fast_recovery"
                };
                if let Some(v) = self.opt_bool(w, |s| format!("Invalid {which} parameter {s}"))?
                    && let CheckerKind::Http(hc) = &mut chk!(self).kind
                {
                    if h == H::HttpEnableSni {
                        hc.enable_sni = v;
                    } else {
                        hc.fast_recovery = v;
                    }
                }
            }
            H::Url => {
                if let CheckerKind::Http(hc) = &mut chk!(self).kind {
                    hc.urls.push(HttpUrl {
                        path: String::new(),
                        digest: None,
                        status_codes: Vec::new(),
                        virtualhost: None,
                        regex: None,
                        regex_no_match: false,
                    });
                }
            }
            H::UrlPath => {
                let s = self.arg(w, 1)?.to_string();
                if let Some(u) = self.cur_url() {
                    u.path = s;
                }
            }
            H::UrlDigest => {
                let s = self.arg(w, 1)?.to_string();
                if self.cur_url().is_some_and(|u| u.digest.is_some()) {
                    self.err(format!("Digest '{s}' is a duplicate"));
                    return Ok(());
                }
                if s.len() != 32 {
                    self.err(format!(
                        "digest '{s}' character length should be 32 rather than {}",
                        s.len()
                    ));
                    return Ok(());
                }
                let mut d = [0u8; 16];
                let bytes = s.as_bytes();
                for i in (0..16).rev() {
                    match hex_pair(&bytes[2 * i..2 * i + 2]) {
                        Some(b) => d[i] = b,
                        None => {
                            let shown = String::from_utf8_lossy(&bytes[..2 * i + 2]);
                            self.err(format!(
                                "Unable to interpret hex digit in '{shown}' at offset {}/{}",
                                2 * i,
                                2 * i + 1
                            ));
                            return Ok(());
                        }
                    }
                }
                if let Some(u) = self.cur_url() {
                    u.digest = Some(d);
                }
            }
            H::UrlStatusCode => {
                let mut ranges = Vec::new();
                for s in &w[1..] {
                    let b = s.as_bytes();
                    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
                    let min: u64 = s[..digits].parse().unwrap_or(0);
                    let (max, rest) = if b.get(digits) == Some(&b'-') {
                        let r = &s[digits + 1..];
                        let d2 = r.bytes().take_while(|c| c.is_ascii_digit()).count();
                        (r[..d2].parse().unwrap_or(0), &r[d2..])
                    } else {
                        (min, &s[digits..])
                    };
                    if !rest.is_empty()
                        || !(100..=599).contains(&min)
                        || !(100..=599).contains(&max)
                        || min > max
                    {
                        self.err(format!("Invalid HTTP_GET status code '{s}'"));
                        continue;
                    }
                    ranges.push((min as u16, max as u16));
                }
                if let Some(u) = self.cur_url() {
                    u.status_codes.extend(ranges);
                }
            }
            H::UrlVirtualhost => {
                if w.len() < 2 {
                    self.err("Missing HTTP_GET virtualhost name");
                } else if let Some(u) = self.cur_url() {
                    u.virtualhost = Some(w[1].clone());
                }
            }
            H::UrlRegex => {
                let raw = self.raw.clone();
                if let Ok(qe) = lexer::split_quoted_escaped(&raw)
                    && qe.len() == 2
                    && let Some(u) = self.cur_url()
                {
                    u.regex = Some(qe[1].clone());
                }
            }
            H::UrlRegexNoMatch => {
                if let Some(u) = self.cur_url() {
                    u.regex_no_match = true;
                }
            }
            H::MiscPath => {
                if !self.b.misc_open {
                    return Ok(());
                }
                let raw = self.raw.clone();
                let args = match lexer::split_quoted_escaped(&raw) {
                    Ok(qe) => self.script_args(&qe),
                    Err(e) => {
                        self.quote_error(e);
                        None
                    }
                };
                if let Some(a) = args {
                    chk!(self).misc_script = Some(ScriptB {
                        script: Script {
                            args: a,
                            user: None,
                        },
                        uid: 0,
                        gid: 0,
                    });
                }
            }
            H::MiscTimeout => {
                if !self.b.misc_open {
                    return Ok(());
                }
                match self.uint(w, 1, 0, u32::MAX / TIMER_HZ as u32)? {
                    None => self.err(format!("Invalid misc_timeout value '{}'", w[1])),
                    Some(v) => {
                        if let CheckerKind::Misc(m) = &mut chk!(self).kind {
                            m.timeout = (v > 0).then(|| std::time::Duration::from_secs(v as u64));
                        }
                    }
                }
            }
            H::MiscDynamic => {
                if self.b.misc_open
                    && let CheckerKind::Misc(m) = &mut chk!(self).kind
                {
                    m.dynamic = true;
                }
            }
            H::MiscUser => {
                if !self.b.misc_open {
                    return Ok(());
                }
                let cmd = chk!(self)
                    .misc_script
                    .as_ref()
                    .map(|s| cmd_str(&s.script.args))
                    .unwrap_or_else(|| "(null)".to_string());
                if w.len() < 2 {
                    self.err(format!("No user specified for misc checker script {cmd}"));
                    return Ok(());
                }
                let u = ScriptUser {
                    user: w[1].clone(),
                    group: w.get(2).cloned(),
                };
                match self.lookup_user(&u) {
                    None => {
                        self.err(format!(
                            "Failed to set uid/gid for misc checker script {cmd} - removing"
                        ));
                        self.dequeue_checker();
                        self.b.misc_open = false;
                    }
                    Some((uid, gid)) => {
                        let c = chk!(self);
                        c.misc_user_set = true;
                        c.misc_user = Some((u, uid, gid));
                    }
                }
            }
            H::UdpPayload | H::UdpRequireReply => {
                let payload = h == H::UdpPayload;
                if w.len() == 1 {
                    if payload {
                        self.err("UDP_CHECK payload requires a payload");
                    } else if let CheckerKind::Udp(u) = &mut chk!(self).kind {
                        u.require_reply = true;
                    }
                    return Ok(());
                }
                let hex = w[1..].join(" ");
                let parsed = num::read_hex_str(&hex, !payload);
                let ok = parsed.is_some();
                if let CheckerKind::Udp(u) = &mut chk!(self).kind {
                    if payload {
                        if let Some((d, _)) = parsed {
                            u.payload = d;
                        }
                    } else {
                        u.require_reply = true;
                        u.reply = parsed;
                    }
                }
                if !ok {
                    let msg = if payload {
                        "Invalid hex string for UDP_CHECK payload"
                    } else {
                        "Invalid hex string for UDP_CHECK reply"
                    };
                    self.err(msg);
                }
            }
            H::UdpMinReplyLength | H::UdpMaxReplyLength => {
                let min = h == H::UdpMinReplyLength;
                match self.uint(w, 1, 0, u16::MAX as u32)? {
                    None => {
                        let which = if min { "min" } else { "max" };
                        self.err(format!(
                            "UDP_CHECK {which} length {} not valid - must be between 0 & {}",
                            w[1],
                            u16::MAX
                        ));
                    }
                    Some(v) => {
                        if let CheckerKind::Udp(u) = &mut chk!(self).kind {
                            if min {
                                u.min_reply_length = v as u16;
                            } else {
                                u.max_reply_length = v as u16;
                            }
                        }
                    }
                }
            }
            H::SmtpHelo => {
                if let Some(v) = w.get(1).cloned()
                    && let CheckerKind::Smtp { helo_name } = &mut chk!(self).kind
                {
                    *helo_name = Some(v);
                }
            }
            H::DnsType => {
                let v = self.arg(w, 1)?.to_string();
                if crate::check::dns_type(&v).is_none() {
                    self.err(format!("Unknown DNS check type {v} - ignoring"));
                } else if let CheckerKind::Dns { query_type, .. } = &mut chk!(self).kind {
                    *query_type = v.to_ascii_uppercase();
                }
            }
            H::DnsName => {
                let v = self.arg(w, 1)?.to_string();
                let already = matches!(
                    self.cur_chk().map(|c| &c.kind),
                    Some(CheckerKind::Dns { name, .. }) if !name.is_empty()
                );
                if already {
                    self.err("DNS_CHECK name already specified - ignoring");
                    return Ok(());
                }
                // keepalived's test: a leading dot (unless the name is "."), or a dot
                // right after the first character or after any dot.
                let b = v.as_bytes();
                let invalid = (b.first() == Some(&b'.') && b.len() > 1)
                    || std::iter::once(0)
                        .chain(
                            b.iter()
                                .enumerate()
                                .filter(|(_, c)| **c == b'.')
                                .map(|(i, _)| i),
                        )
                        .any(|i| b.get(i + 1) == Some(&b'.'));
                if invalid {
                    self.err(format!("DNS_CHECK name '{v}' has empty label - ignoring"));
                } else if let CheckerKind::Dns { name, .. } = &mut chk!(self).kind {
                    *name = v;
                }
            }
            H::FileTrackFile => {
                let name = self.arg(w, 1)?.to_string();
                if self.b.track_files.iter().any(|t| t.name == name) {
                    if let Some(f) = self.b.file_check.as_mut() {
                        f.name = Some(name);
                    }
                } else {
                    self.err(format!("track_file {name} not found"));
                }
            }
            H::FileWeight => {
                if w.len() < 2 {
                    self.err("track file weight missing");
                    return Ok(());
                }
                let Some(weight) = self.int(w, 1, -i32::MAX, i32::MAX)? else {
                    self.err(format!(
                        "weight for track file must be in [{}..{}] inclusive. Ignoring...",
                        -i32::MAX,
                        i32::MAX
                    ));
                    return Ok(());
                };
                let reverse = match w.get(2).map(String::as_str) {
                    None | Some("noreverse") => false,
                    Some("reverse") => true,
                    Some(o) => {
                        self.err(format!("unknown track file weight option {o} - ignoring"));
                        return Ok(());
                    }
                };
                if let Some(f) = self.b.file_check.as_mut() {
                    f.weight = Some((weight, reverse));
                }
            }
            H::BfdName => {
                if let Some(v) = w.get(1).cloned()
                    && let CheckerKind::Bfd { name } = &mut chk!(self).kind
                {
                    *name = Some(v);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn cur_url(&mut self) -> Option<&mut HttpUrl> {
        match &mut self.cur_chk()?.kind {
            CheckerKind::Http(h) => h.urls.last_mut(),
            _ => None,
        }
    }

    fn alloc_vs(&mut self, w: &[String]) -> R {
        let p1 = self.arg(w, 1)?.to_string();
        let p2 = w.get(2).cloned();
        let base = |key: VirtualServerKey, af: Option<Family>| VsBuild {
            key,
            af,
            vsgname: None,
            retry: None,
            delay_before_retry_us: None,
            warmup_us: None,
            connect_timeout_us: 5 * TIMER_HZ,
            delay_loop_us: 60 * TIMER_HZ,
            inhibit: false,
            sched: String::new(),
            flags: SchedFlags::default(),
            method: None,
            persistence_engine: None,
            persistence_timeout: 0,
            granularity: None,
            protocol: None,
            ha_suspend: false,
            smtp_alert: None,
            virtualhost: None,
            alpha: false,
            omega: false,
            quorum_up: None,
            quorum_down: None,
            quorum: 1,
            hysteresis: 0,
            weight: 1,
            sorry: None,
            rss: Vec::new(),
        };
        if p1 == "group" {
            let g = self.arg(w, 2)?.to_string();
            let mut v = base(VirtualServerKey::Group(g.clone()), None);
            v.vsgname = Some(g);
            self.b.vss.push(v);
        } else if p1 == "fwmark" {
            let s = self.arg(w, 2)?.to_string();
            let mut m = Msgs::new();
            let r = num::read_unsigned(&s, 0, u32::MAX, &mut m);
            self.flush(m);
            match r {
                None => {
                    self.err(format!(
                        "virtual server fwmark '{s}' must be in [0, {}] - ignoring",
                        u32::MAX
                    ));
                    self.skip_block(true);
                }
                Some(mark) => self.b.vss.push(base(VirtualServerKey::Fwmark(mark), None)),
            }
        } else {
            let port = p2.filter(|p| p.bytes().any(|c| c != b'0'));
            match self.sockaddr(&p1, port.as_deref()) {
                Err(()) => {
                    let (pp, sep, pv) = match &port {
                        Some(p) => ("/port", "/", p.as_str()),
                        None => ("", "", ""),
                    };
                    self.err(format!(
                        "Invalid virtual server IP address{pp} {p1}{sep}{pv} - skipping"
                    ));
                    self.skip_block(true);
                }
                Ok((addr, p)) => {
                    let af = Family::of(&addr);
                    self.b.vss.push(base(
                        VirtualServerKey::Addr {
                            addr,
                            port: p.unwrap_or(0),
                        },
                        Some(af),
                    ));
                }
            }
        }
        Ok(())
    }

    fn alloc_rs(&mut self, w: &[String]) -> R {
        let ip = self.arg(w, 1)?.to_string();
        let port = w.get(2).cloned();
        let port_ok = port.clone().filter(|p| p.bytes().any(|c| c != b'0'));
        let method = vs!(self).method;
        match self.sockaddr(&ip, port_ok.as_deref()) {
            Err(()) => {
                self.err(format!(
                    "Invalid real server ip address/port {ip}/{} - skipping",
                    port.unwrap_or_else(|| "(null)".to_string())
                ));
                self.skip_block(true);
            }
            Ok((addr, p)) => {
                vs!(self).rss.push(RsBuild {
                    addr,
                    port: p.unwrap_or(0),
                    weight: None,
                    method,
                    uthreshold: 0,
                    lthreshold: 0,
                    inhibit: None,
                    notify_up: None,
                    notify_down: None,
                    alpha: None,
                    retry: None,
                    delay_before_retry_us: None,
                    warmup_us: None,
                    connect_timeout_us: None,
                    delay_loop_us: None,
                    smtp_alert: None,
                    virtualhost: None,
                    checkers: Vec::new(),
                });
            }
        }
        Ok(())
    }

    /// `alloc_vsg_entry`.
    pub(crate) fn alloc_vsg_entry(&mut self, w: &[String]) -> R {
        let gname = self
            .b
            .vsgs
            .last()
            .map(|g| g.name.clone())
            .unwrap_or_default();
        if w[0] == "fwmark" {
            let s = self.arg(w, 1)?.to_string();
            let mut m = Msgs::new();
            let mark = num::read_unsigned(&s, 0, u32::MAX, &mut m);
            self.flush(m);
            let Some(mark) = mark else {
                self.err(format!(
                    "({gname}): fwmark '{s}' must be in [0, {}] - ignoring",
                    u32::MAX
                ));
                return Ok(());
            };
            let family = match w.get(2).map(String::as_str) {
                None => None,
                Some("inet") => Some(Family::Inet),
                Some("inet6") => Some(Family::Inet6),
                Some(f) => {
                    self.err(format!(
                        "({gname}): fwmark '{mark}' family {f} unknown - ignoring"
                    ));
                    return Ok(());
                }
            };
            let Some(g) = self.b.vsgs.last_mut() else {
                return Ok(());
            };
            match family {
                Some(Family::Inet) => g.have_ipv4 = true,
                Some(Family::Inet6) => g.have_ipv6 = true,
                None => g.fwmark_no_family = true,
            }
            g.entries
                .push(VirtualServerGroupEntry::Fwmark { mark, family });
            return Ok(());
        }
        let addr_str = w[0].clone();
        let port_str = w.get(1).filter(|p| p.bytes().any(|c| c != b'0')).cloned();
        let (first, port) = match self.sockaddr(&addr_str, port_str.as_deref()) {
            Ok(v) => v,
            Err(()) => {
                let (a, b, c) = match &port_str {
                    Some(p) => ("/port", "/", p.as_str()),
                    None => ("", "", ""),
                };
                self.err(format!(
                    "Invalid virtual server group IP address {addr_str} {a}{b}{c} - skipping"
                ));
                return Ok(());
            }
        };
        let port = port.unwrap_or(0);
        let last: IpAddr;
        if let Some(slash) = addr_str.find('/') {
            let m_str = &addr_str[slash + 1..];
            let max = if first.is_ipv6() { 128 } else { 32 };
            let mask: Option<u32> =
                if !m_str.is_empty() && m_str.bytes().all(|c| c.is_ascii_digit()) {
                    m_str.parse().ok()
                } else {
                    None
                };
            let Some(mask) = mask.filter(|&m| m != 0 && m <= max) else {
                self.err(format!("Invalid netmask - {addr_str} - skipping"));
                return Ok(());
            };
            match first {
                IpAddr::V4(a) => {
                    let host = if mask >= 32 { 0 } else { u32::MAX >> mask };
                    if u32::from(a) & host != 0 {
                        self.err(format!(
                            "Address mask bits not empty - {addr_str} - skipping"
                        ));
                        return Ok(());
                    }
                    last = IpAddr::V4((u32::from(a) | host).into());
                }
                IpAddr::V6(a) => {
                    let host = if mask >= 128 { 0 } else { u128::MAX >> mask };
                    if u128::from(a) & host != 0 {
                        self.err(format!(
                            "Address mask bits not empty - {addr_str} - skipping"
                        ));
                        return Ok(());
                    }
                    last = IpAddr::V6((u128::from(a) | host).into());
                }
            }
        } else if let Some(dash) = addr_str.find('-')
            && ((first.is_ipv4() && addr_str[dash + 1..].contains('.'))
                || (first.is_ipv6() && addr_str[dash + 1..].contains(':')))
        {
            let end_str = addr_str[dash + 1..].to_string();
            let end = match self.sockaddr(&end_str, port_str.as_deref()) {
                Ok((e, _)) => e,
                Err(()) => {
                    self.err(format!("Invalid range end {addr_str} - skipping"));
                    return Ok(());
                }
            };
            if end.is_ipv6() != first.is_ipv6() {
                self.err(format!(
                    "Range address families do not match {addr_str} - skipping"
                ));
                return Ok(());
            }
            let bad = match (first, end) {
                (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) > u32::from(b),
                (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) > u128::from(b),
                _ => true,
            };
            if bad {
                self.err(format!(
                    "Address range end is less than address range start - {addr_str} - skipping"
                ));
                return Ok(());
            }
            last = end;
        } else if let Some(dash) = addr_str.find('-') {
            let r = &addr_str[dash + 1..];
            let v6 = addr_str.contains(':');
            let digits = r
                .bytes()
                .take_while(|c| {
                    if v6 {
                        c.is_ascii_hexdigit()
                    } else {
                        c.is_ascii_digit()
                    }
                })
                .count();
            let val = u64::from_str_radix(&r[..digits], if v6 { 16 } else { 10 })
                .unwrap_or(if digits == 0 { 0 } else { u64::MAX });
            if digits < r.len() {
                self.report(
                    super::diag::Level::InvalidNumber,
                    format!(
                        "Virtual server group range '{addr_str}' has extra characters at end '{}'",
                        &r[digits..]
                    ),
                );
                return Ok(());
            }
            if (v6 && val > 0xffff) || (!v6 && val > 255) {
                self.report(
                    super::diag::Level::InvalidNumber,
                    format!("Virtual server group range '{addr_str}' end '{r}' too large"),
                );
                return Ok(());
            }
            let (end, start) = match first {
                IpAddr::V4(a) => {
                    let x = u32::from(a);
                    (
                        IpAddr::V4(((x & !0xff) | val as u32).into()),
                        (x & 0xff) as u64,
                    )
                }
                IpAddr::V6(a) => {
                    let x = u128::from(a);
                    (
                        IpAddr::V6(((x & !0xffff) | val as u128).into()),
                        (x & 0xffff) as u64,
                    )
                }
            };
            if start >= val {
                self.err(format!("Address range end is not greater than address range start - {addr_str} - skipping"));
                return Ok(());
            }
            last = end;
        } else {
            last = first;
        }
        let Some(g) = self.b.vsgs.last_mut() else {
            return Ok(());
        };
        if first.is_ipv4() {
            g.have_ipv4 = true;
        } else {
            g.have_ipv6 = true;
        }
        g.entries
            .push(VirtualServerGroupEntry::Range { first, last, port });
        Ok(())
    }

    pub(crate) fn check_close(&mut self, h: H) -> R {
        match h {
            H::Vs => {
                let Some(v) = self.b.vss.last_mut() else {
                    return Ok(());
                };
                if let Some(s) = &v.sorry
                    && !matches!(s.method, Some(ForwardMethod::Tun { .. }))
                {
                    let sf = Family::of(&s.addr);
                    match v.af {
                        None => v.af = Some(sf),
                        Some(f) if f != sf => {
                            let a = s.addr;
                            v.sorry = None;
                            self.err(format!("Address family of virtual server and sorry server {a} don't match - skipping sorry server."));
                        }
                        _ => {}
                    }
                }
                let v = vs!(self);
                if v.af.is_none() && v.vsgname.is_none() {
                    let mut af = v.sorry.as_ref().map(|s| Family::of(&s.addr));
                    let mut mixed = false;
                    for r in &v.rss {
                        let f = Family::of(&r.addr);
                        match af {
                            None => af = Some(f),
                            Some(x) if x != f => {
                                mixed = true;
                                break;
                            }
                            _ => {}
                        }
                    }
                    v.af = Some(if mixed {
                        Family::Inet
                    } else {
                        af.unwrap_or(Family::Inet)
                    });
                }
            }
            H::RealServer => {
                let Some(v) = self.b.vss.last_mut() else {
                    return Ok(());
                };
                let Some(r) = v.rss.last() else { return Ok(()) };
                if !matches!(r.method, Some(ForwardMethod::Tun { .. })) {
                    let rf = Family::of(&r.addr);
                    match v.af {
                        None => v.af = Some(rf),
                        Some(f) if f != rf => {
                            let a = r.addr;
                            v.rss.pop();
                            self.b.cur_checker = None;
                            self.err(format!("Address family of virtual server and real server {a} don't match - skipping real server."));
                        }
                        _ => {}
                    }
                }
            }
            H::TrackFileBlock => {
                let Some(t) = self.b.cur_track_file.take() else {
                    return Ok(());
                };
                if !self.b.cur_track_file_path_set {
                    self.err(format!("No file set for track_file {} - ignoring", t.name));
                } else {
                    self.b.track_files.push(t);
                }
            }
            H::SmtpHost => {
                let Some(c) = self.cur_chk() else {
                    return Ok(());
                };
                let Some(saved) = c.smtp_saved_co.take() else {
                    return Ok(());
                };
                let host = c.co.replace(saved);
                if let Some(co) = host {
                    if let IpAddr::V6(a) = co.dst
                        && a.segments()[0] & 0xffc0 == 0xfe80
                        && co.bind_if.is_none()
                    {
                        self.err(format!("Checker link local address {a} requires a bind_if"));
                    } else if let Some(c) = self.cur_chk() {
                        c.smtp_hosts.push(co);
                    }
                }
            }
            H::SmtpCheck => {
                let Some((vi, ri, ci)) = self.b.cur_checker else {
                    return Ok(());
                };
                let (mut hosts, co_set) = match self.cur_chk() {
                    Some(c) => (std::mem::take(&mut c.smtp_hosts), c.co_set),
                    None => return Ok(()),
                };
                if hosts.is_empty() || co_set {
                    self.checker_conn_check();
                    if self.b.cur_checker.is_none() {
                        return Ok(());
                    }
                } else if let Some(c) = self.cur_chk() {
                    // The first host is the checker's connection.
                    c.co = Some(hosts.remove(0));
                }
                // One more checker per other host, with the checker's other settings.
                let Some(base) = self.cur_chk().cloned() else {
                    return Ok(());
                };
                let rs = &mut self.b.vss[vi].rss[ri];
                for (n, h) in hosts.into_iter().enumerate() {
                    let mut c = base.clone();
                    c.co = Some(h);
                    rs.checkers.insert(ci + 1 + n, c);
                }
            }
            H::DnsCheck => {
                self.checker_conn_check();
                if let Some(c) = self.cur_chk()
                    && let CheckerKind::Dns { name, .. } = &mut c.kind
                    && name.is_empty()
                {
                    *name = ".".to_string();
                }
            }
            H::TcpCheck | H::PingCheck | H::UdpCheck => {
                self.checker_conn_check();
                if h == H::UdpCheck
                    && let Some(c) = self.cur_chk()
                    && let CheckerKind::Udp(u) = &c.kind
                    && u.min_reply_length > u.max_reply_length
                {
                    let (a, b) = (u.min_reply_length, u.max_reply_length);
                    self.err(format!(
                        "UDP_CHECK min_reply length {a} > max_reply_length {b} - will always fail"
                    ));
                }
            }
            H::HttpGet | H::SslGet => {
                let no_urls = self.cur_chk().is_some_and(
                    |c| matches!(&c.kind, CheckerKind::Http(hc) if hc.urls.is_empty()),
                );
                if no_urls {
                    self.err("HTTP/SSL_GET checker has no urls specified - ignoring");
                    self.dequeue_checker();
                    return Ok(());
                }
                self.checker_conn_check();
            }
            H::Url => {
                let Some(c) = self.cur_chk() else {
                    return Ok(());
                };
                let CheckerKind::Http(hc) = &mut c.kind else {
                    return Ok(());
                };
                let Some(u) = hc.urls.last_mut() else {
                    return Ok(());
                };
                if u.path.is_empty() {
                    hc.urls.pop();
                    self.err("HTTP/SSL_GET checker url has no path - ignoring");
                } else if u.status_codes.is_empty() {
                    u.status_codes.push((200, 299));
                }
            }
            H::FileCheck => match self.b.file_check.take() {
                Some(FileCheckB {
                    name: Some(name),
                    weight,
                }) => {
                    let (weight, reverse) = weight.unwrap_or_else(|| {
                        self.b
                            .track_files
                            .iter()
                            .find(|t| t.name == name)
                            .map_or((1, false), |t| (t.weight, t.reverse))
                    });
                    self.queue_checker(
                        CheckerKind::File {
                            track_file: Some(name),
                            weight,
                            reverse,
                        },
                        false,
                    );
                    self.b.cur_checker = None;
                }
                _ => self.err("FILE_CHECK has no track_file specified - ignoring"),
            },
            H::MiscCheck => {
                if !self.b.misc_open {
                    return Ok(());
                }
                self.b.misc_open = false;
                let Some(c) = self.cur_chk() else {
                    return Ok(());
                };
                if c.misc_script.is_none() {
                    self.err("No script path has been specified for MISC_CHECKER - skipping");
                    self.dequeue_checker();
                    return Ok(());
                }
                let user = c.misc_user.clone();
                let ids = match user {
                    Some((_, uid, gid)) => Some((uid, gid)),
                    None => self.default_script_user(),
                };
                let Some((uid, gid)) = ids else {
                    let cmd = self
                        .cur_chk()
                        .and_then(|c| c.misc_script.as_ref())
                        .map(|s| cmd_str(&s.script.args))
                        .unwrap_or_default();
                    self.err(format!(
                        "Unable to set default user for misc script {cmd} - removing"
                    ));
                    self.dequeue_checker();
                    return Ok(());
                };
                let Some(c) = self.cur_chk() else {
                    return Ok(());
                };
                if let Some(s) = c.misc_script.as_mut() {
                    s.uid = uid;
                    s.gid = gid;
                    s.script.user = c.misc_user.as_ref().map(|(u, _, _)| u.clone());
                    if let CheckerKind::Misc(m) = &mut c.kind {
                        m.script = s.script.clone();
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `check_conn_opts`: an IPv6 link-local target needs `bind_if`.
    fn checker_conn_check(&mut self) {
        let Some(c) = self.cur_chk() else { return };
        let Some(co) = &c.co else { return };
        if let IpAddr::V6(a) = co.dst
            && a.segments()[0] & 0xffc0 == 0xfe80
            && co.bind_if.is_none()
        {
            self.err(format!("Checker link local address {a} requires a bind_if"));
            self.dequeue_checker();
        }
    }
}
