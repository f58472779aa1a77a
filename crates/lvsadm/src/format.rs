//! ipvsadm's listings, byte for byte, over lvs-api types: `-L`/`-Ln` with every column
//! mode, one-service listings, `-S`, `-Lc`, `--timeout`, `--daemon`, and the sorting
//! ipvsadm applies unless `--nosort`.
//!
//! Every function returns the text ipvsadm writes to standard output. Name resolution (no
//! `-n`) goes through a [`Resolver`].

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use lvs_api::{
    ConnInfo, DestInfo, Family, Info, Method, Protocol, SVC_F_ONEPACKET, SVC_F_SCHED1,
    SVC_F_SCHED2, SVC_F_SCHED3, ServiceInfo, ServiceKey, ServiceSpec, Timeouts, TunnelCsum,
    TunnelKind,
};
use serde::Serialize;

use crate::cli::DaemonState;
use crate::num::ntop;
use crate::resolve::{Resolver, ServProto};

/// ipvsadm's `FMT_*` flags: how to print a listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Format {
    /// `-n`: no name resolution.
    pub numeric: bool,
    /// `-S`: print rules (`-A`/`-a` lines).
    pub rule: bool,
    /// `--stats`.
    pub stats: bool,
    /// `--rate`.
    pub rate: bool,
    /// `--thresholds`.
    pub thresholds: bool,
    /// `--persistent-conn`.
    pub persistent_conn: bool,
    /// `--nosort`: the daemon's order.
    pub nosort: bool,
    /// `--exact`/`-X`: unabbreviated numbers.
    pub exact: bool,
    /// `--tun-info`.
    pub tun_info: bool,
}

/// `IP_VS_VERSION_CODE` as `NVERSION` prints it.
fn nversion(code: u32) -> String {
    format!(
        "{}.{}.{}",
        (code >> 16) & 0xff,
        (code >> 8) & 0xff,
        code & 0xff
    )
}

/// `print_largenum`: a 9-column (or wider with `--exact`) number, abbreviated with
/// K/M/G/T (factors of 1000) from 100 million on.
pub fn largenum(i: u64, exact: bool) -> String {
    if exact {
        let len = i.to_string().len();
        let w = if len <= 8 { 9 } else { len + 1 };
        return format!("{i:>w$}");
    }
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

fn truncate_bytes(s: &mut String, n: usize) {
    if s.len() > n {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// `addrport_to_anyname`: `addr:port` (IPv6 in brackets), names looked up unless
/// `numeric`; at most 59 bytes (ipvsadm's 60-byte buffer).
pub fn addrport_to_anyname(
    addr: IpAddr,
    port: u16,
    proto: ServProto,
    numeric: bool,
    resolver: &dyn Resolver,
) -> String {
    let (open, close) = match addr {
        IpAddr::V4(_) => ("", ""),
        IpAddr::V6(_) => ("[", "]"),
    };
    let mut s = if numeric {
        format!("{open}{}{close}:{port}", ntop(&addr))
    } else {
        let host = resolver.addr_to_host(addr).unwrap_or_else(|| ntop(&addr));
        let serv = resolver
            .port_to_service(port, proto)
            .unwrap_or_else(|| port.to_string());
        format!("{open}{host}{close}:{serv}")
    };
    truncate_bytes(&mut s, 59);
    s
}

fn svc_is_v6(key: &ServiceKey) -> bool {
    match key {
        ServiceKey::Addr { addr, .. } => addr.is_ipv6(),
        ServiceKey::Fwmark { family, .. } => *family == Family::Inet6,
    }
}

/// The protocol a service's ports are named with. The kernel does not report a protocol
/// for fwmark services, so their real servers' ports stay numeric.
fn svc_proto(key: &ServiceKey) -> ServProto {
    match key {
        ServiceKey::Addr { protocol, .. } => ServProto::from(*protocol),
        ServiceKey::Fwmark { .. } => ServProto::Ip,
    }
}

/// `svc_name` of `print_service_entry`.
fn svc_name(key: &ServiceKey, format: &Format, resolver: &dyn Resolver) -> String {
    match key {
        // Debian's ipvsadm 1.31 prints the mark with %d (upstream fixed it to %u after the
        // release): marks of 2^31 and more print negative, as there.
        ServiceKey::Fwmark { family, mark } => match (format.rule, family) {
            (true, Family::Inet6) => format!("-f {} -6", *mark as i32),
            (true, Family::Inet) => format!("-f {}", *mark as i32),
            (false, Family::Inet6) => format!("FWM  {} IPv6", *mark as i32),
            (false, Family::Inet) => format!("FWM  {}", *mark as i32),
        },
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => {
            let vname = addrport_to_anyname(
                *addr,
                *port,
                ServProto::from(*protocol),
                format.numeric,
                resolver,
            );
            if format.rule {
                let opt = match protocol {
                    Protocol::Tcp => "-t",
                    Protocol::Udp => "-u",
                    Protocol::Sctp => "--sctp-service",
                };
                format!("{opt} {vname}")
            } else {
                let p = match protocol {
                    Protocol::Tcp => "TCP",
                    Protocol::Udp => "UDP",
                    Protocol::Sctp => "SCTP",
                };
                let mut s = format!("{p:<4} {vname}");
                if addr.is_ipv4() {
                    truncate_bytes(&mut s, 33);
                }
                s
            }
        }
    }
}

/// `print_sched_flags`.
fn sched_flags(spec: &ServiceSpec) -> String {
    let f = spec.flags;
    let mut names: Vec<&str> = Vec::new();
    match spec.scheduler.as_str() {
        "sh" | "mh" => {
            let sh = spec.scheduler == "sh";
            if f & SVC_F_SCHED1 != 0 {
                names.push(if sh { "sh-fallback" } else { "mh-fallback" });
            }
            if f & SVC_F_SCHED2 != 0 {
                names.push(if sh { "sh-port" } else { "mh-port" });
            }
        }
        _ => {
            for (bit, n) in [
                (SVC_F_SCHED1, "flag-1"),
                (SVC_F_SCHED2, "flag-2"),
                (SVC_F_SCHED3, "flag-3"),
            ] {
                if f & bit != 0 {
                    names.push(n);
                }
            }
        }
    }
    names.join(",")
}

/// The persistence mask as ipvsadm prints it: dotted quad (IPv4) or prefix length (IPv6);
/// None for a host mask (/32, /128).
fn mask_text(spec: &ServiceSpec, prefix_len: u8) -> Option<String> {
    if svc_is_v6(&spec.key) {
        (prefix_len != 128).then(|| prefix_len.to_string())
    } else {
        let bits = match prefix_len {
            0 => 0,
            n => u32::MAX << (32 - u32::from(n.min(32))),
        };
        (bits != u32::MAX).then(|| Ipv4Addr::from(bits).to_string())
    }
}

fn fwd_name(m: Method) -> &'static str {
    match m {
        Method::Masq => "Masq",
        Method::Local => "Local",
        Method::Tunnel => "Tunnel",
        Method::Route => "Route",
        Method::FullNat => "FullNat",
    }
}

fn fwd_switch(m: Method) -> &'static str {
    match m {
        Method::Masq => "-m",
        Method::Tunnel => "-i",
        Method::Local | Method::Route => "-g",
        Method::FullNat => "--fullnat",
    }
}

fn tun_name(k: TunnelKind) -> &'static str {
    match k {
        TunnelKind::Ipip => "ipip",
        TunnelKind::Gue => "gue",
        TunnelKind::Gre => "gre",
    }
}

fn tun_flag(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "-c",
        TunnelCsum::Csum => "+c",
        TunnelCsum::RemCsum => "r+c",
    }
}

fn tun_flag_opt(c: TunnelCsum) -> &'static str {
    match c {
        TunnelCsum::NoCsum => "--tun-nocsum",
        TunnelCsum::Csum => "--tun-csum",
        TunnelCsum::RemCsum => "--tun-remcsum",
    }
}

/// `fwd_tun_info`: the TunnelInfo column.
fn tun_info(d: &DestInfo) -> String {
    let s = &d.spec;
    if s.method != Method::Tunnel {
        return "n/a".into();
    }
    let mut t = match s.tunnel.kind {
        TunnelKind::Ipip => "ipip".to_string(),
        TunnelKind::Gue => format!("gue:{}:{}", s.tunnel.port, tun_flag(s.tunnel.csum)),
        TunnelKind::Gre => format!("gre:{}", tun_flag(s.tunnel.csum)),
    };
    truncate_bytes(&mut t, 15);
    t
}

/// `print_title`.
fn title(format: &Format) -> String {
    const P: &str = "Prot LocalAddress:Port";
    const R: &str = "  -> RemoteAddress:Port\n";
    if format.stats {
        let [a, b, c, d, e] = ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"];
        format!("{P:<33} {a:>8} {b:>8} {c:>8} {d:>8} {e:>8}\n{R}")
    } else if format.rate {
        let [a, b, c, d, e] = ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"];
        format!("{P:<33} {a:>8} {b:>8} {c:>8} {d:>8} {e:>8}\n{R}")
    } else if format.thresholds {
        let [a, b, c, d] = ["Uthreshold", "Lthreshold", "ActiveConn", "InActConn"];
        format!("{P:<33} {a:<10} {b:<10} {c:<10} {d:<10}\n{R}")
    } else if format.persistent_conn {
        let [a, b, c, d] = ["Weight", "PersistConn", "ActiveConn", "InActConn"];
        format!("{P:<33} {a:<9} {b:<11} {c:<10} {d:<10}\n{R}")
    } else if format.tun_info {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n".to_string()
    } else if !format.rule {
        "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n".to_string()
    } else {
        String::new()
    }
}

/// The address of a service or real server as libipvs's comparators see it: four
/// host-order words (IPv4 in the first).
fn words(a: &IpAddr) -> [u32; 4] {
    match a {
        IpAddr::V4(v4) => [u32::from(*v4), 0, 0, 0],
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            [w(0), w(4), w(8), w(12)]
        }
    }
}

/// `r = a - b` on unsigned values stored into an int, as libipvs does.
fn diff32(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

fn addr_cmp(a: &IpAddr, b: &IpAddr) -> i32 {
    let (wa, wb) = (words(a), words(b));
    if a.is_ipv6() {
        let mut r = 0;
        for i in 0..4 {
            r = diff32(wa[i], wb[i]);
            if r != 0 {
                break;
            }
        }
        r
    } else {
        diff32(wa[0], wb[0])
    }
}

/// `ipvs_cmp_services`: fwmark, family, protocol, address, port (with libipvs's integer
/// wrap-around for far-apart values).
pub fn cmp_services(a: &ServiceKey, b: &ServiceKey) -> i32 {
    fn parts(k: &ServiceKey) -> (u32, i32, i32, IpAddr, i32) {
        match k {
            ServiceKey::Fwmark { family, mark } => {
                let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
                let af = if *family == Family::Inet6 { 10 } else { 2 };
                // The kernel reports neither protocol nor address for fwmark services.
                (*mark, af, 0, unspecified, 0)
            }
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                let proto = match protocol {
                    Protocol::Tcp => 6,
                    Protocol::Udp => 17,
                    Protocol::Sctp => 132,
                };
                let af = if addr.is_ipv6() { 10 } else { 2 };
                (0, af, proto, *addr, i32::from(*port))
            }
        }
    }
    let (fa, afa, pa, aa, pta) = parts(a);
    let (fb, afb, pb, ab, ptb) = parts(b);
    let mut r = diff32(fa, fb);
    if r != 0 {
        return r;
    }
    r = afa - afb;
    if r != 0 {
        return r;
    }
    r = pa - pb;
    if r != 0 {
        return r;
    }
    r = addr_cmp(&aa, &ab);
    if r != 0 {
        return r;
    }
    pta - ptb
}

/// `ipvs_cmp_dests`: address then port.
pub fn cmp_dests(a: &DestInfo, b: &DestInfo) -> i32 {
    let r = addr_cmp(&a.spec.addr, &b.spec.addr);
    if r != 0 {
        return r;
    }
    i32::from(a.spec.port) - i32::from(b.spec.port)
}

/// glibc 2.36's `qsort` (a top-down merge sort) with a C comparator, reproduced so that the
/// order is the same even where libipvs's comparators are not a total order.
pub fn glibc_qsort<T: Clone>(items: &mut [T], cmp: &dyn Fn(&T, &T) -> i32) {
    let n = items.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    glibc_qsort(&mut items[..n1], cmp);
    glibc_qsort(&mut items[n1..], cmp);
    let mut tmp: Vec<T> = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&items[i], &items[j]) <= 0 {
            tmp.push(items[i].clone());
            i += 1;
        } else {
            tmp.push(items[j].clone());
            j += 1;
        }
    }
    while i < n1 {
        tmp.push(items[i].clone());
        i += 1;
    }
    let done = tmp.len();
    items[..done].clone_from_slice(&tmp);
}

/// Services in ipvsadm's listing order (sorted unless `--nosort`).
pub fn ordered_services<'a>(services: &'a [ServiceInfo], format: &Format) -> Vec<&'a ServiceInfo> {
    let mut v: Vec<&ServiceInfo> = services.iter().collect();
    if !format.nosort {
        glibc_qsort(&mut v, &|a: &&ServiceInfo, b: &&ServiceInfo| {
            cmp_services(&a.spec.key, &b.spec.key)
        });
    }
    v
}

/// `print_service_entry`: one service and its real servers.
pub fn service_entry(svc: &ServiceInfo, format: &Format, resolver: &dyn Resolver) -> String {
    let spec = &svc.spec;
    let name = svc_name(&spec.key, format, resolver);
    let mut out = String::new();
    let flags_text = sched_flags(spec);
    let has_sched_flags = spec.flags & (SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3) != 0;
    if format.rule {
        let _ = write!(out, "-A {name} -s {}", spec.scheduler);
        if let Some(p) = spec.persistence {
            let _ = write!(out, " -p {}", p.timeout);
            if let Some(m) = mask_text(spec, p.prefix_len) {
                let _ = write!(out, " -M {m}");
            }
        }
        if let Some(pe) = spec.pe.as_deref().filter(|p| !p.is_empty()) {
            let _ = write!(out, " --pe {pe}");
        }
        if spec.flags & SVC_F_ONEPACKET != 0 {
            out.push_str(" -o");
        }
        if has_sched_flags {
            let _ = write!(out, " -b {flags_text}");
        }
        if spec.proxy_protocol {
            out.push_str(" --proxy-protocol");
        }
    } else if format.stats || format.rate {
        let _ = write!(out, "{name:<33}");
        let vals = if format.stats {
            let s = &svc.stats;
            [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
        } else {
            let r = &svc.rates;
            [r.cps, r.inpps, r.outpps, r.inbps, r.outbps]
        };
        for v in vals {
            out.push_str(&largenum(v, format.exact));
        }
    } else {
        let _ = write!(out, "{name} {}", spec.scheduler);
        if has_sched_flags {
            let _ = write!(out, " ({flags_text})");
        }
        if let Some(p) = spec.persistence {
            let _ = write!(out, " persistent {}", p.timeout);
            if let Some(m) = mask_text(spec, p.prefix_len) {
                let _ = write!(out, " mask {m}");
            }
            if let Some(pe) = spec.pe.as_deref().filter(|p| !p.is_empty()) {
                let _ = write!(out, " pe {pe}");
            }
        }
        if spec.flags & SVC_F_ONEPACKET != 0 {
            out.push_str(" ops");
        }
        if spec.proxy_protocol {
            out.push_str(" proxy-protocol");
        }
    }
    out.push('\n');

    let mut dests: Vec<&DestInfo> = svc.dests.iter().collect();
    if !format.nosort {
        glibc_qsort(&mut dests, &|a: &&DestInfo, b: &&DestInfo| cmp_dests(a, b));
    }
    let proto = svc_proto(&spec.key);
    for d in dests {
        let e = &d.spec;
        let mut dname = addrport_to_anyname(e.addr, e.port, proto, format.numeric, resolver);
        if !format.rule && e.addr.is_ipv4() {
            truncate_bytes(&mut dname, 28);
        }
        if format.rule {
            let _ = write!(
                out,
                "-a {name} -r {dname} {} -w {}",
                fwd_switch(e.method),
                e.weight
            );
            if e.method == Method::Tunnel {
                let t = &e.tunnel;
                match t.kind {
                    TunnelKind::Ipip => {
                        let _ = write!(out, " --tun-type {}", tun_name(t.kind));
                    }
                    TunnelKind::Gue => {
                        let _ = write!(
                            out,
                            " --tun-type {} --tun-port {} {}",
                            tun_name(t.kind),
                            t.port,
                            tun_flag_opt(t.csum)
                        );
                    }
                    TunnelKind::Gre => {
                        let _ = write!(
                            out,
                            " --tun-type {} {}",
                            tun_name(t.kind),
                            tun_flag_opt(t.csum)
                        );
                    }
                }
            }
            out.push('\n');
        } else if format.stats {
            let _ = write!(out, "  -> {dname:<28}");
            let s = &d.stats;
            for v in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
                out.push_str(&largenum(v, format.exact));
            }
            out.push('\n');
        } else if format.rate {
            let r = &d.rates;
            let _ = write!(
                out,
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                r.cps, r.inpps, r.outpps
            );
            out.push_str(&largenum(r.inbps, format.exact));
            out.push_str(&largenum(r.outbps, format.exact));
            out.push('\n');
        } else if format.thresholds {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                e.u_threshold, e.l_threshold, d.activeconns, d.inactconns
            );
        } else if format.persistent_conn {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                e.weight as u32, d.persistconns, d.activeconns, d.inactconns
            );
        } else if format.tun_info {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
                fwd_name(e.method),
                tun_info(d),
                e.weight,
                d.activeconns,
                d.inactconns
            );
        } else {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                fwd_name(e.method),
                e.weight,
                d.activeconns,
                d.inactconns
            );
        }
    }
    out
}

/// `list_all` (and `-S` when `format.rule`): the version line (not for `-S`), the title
/// and every service.
pub fn list_all(
    info: &Info,
    services: &[ServiceInfo],
    format: &Format,
    resolver: &dyn Resolver,
) -> String {
    let mut out = String::new();
    if !format.rule {
        let _ = writeln!(
            out,
            "IP Virtual Server version {} (size={})",
            nversion(info.version),
            info.conn_tab_size as i32
        );
    }
    out.push_str(&title(format));
    for s in ordered_services(services, format) {
        out.push_str(&service_entry(s, format, resolver));
    }
    out
}

/// `-S [-n]`: the rules that recreate `services`.
pub fn save(services: &[ServiceInfo], numeric: bool, resolver: &dyn Resolver) -> String {
    let format = Format {
        rule: true,
        numeric,
        ..Format::default()
    };
    let info = Info {
        version: 0,
        conn_tab_size: 0,
        num_services: 0,
    };
    list_all(&info, services, &format, resolver)
}

/// `list_service` (`-L -t ...`): the title and one service, no version line.
pub fn list_service(svc: &ServiceInfo, format: &Format, resolver: &dyn Resolver) -> String {
    let mut out = title(format);
    out.push_str(&service_entry(svc, format, resolver));
    out
}

fn conn_proto(p: &str) -> ServProto {
    match p {
        "TCP" => ServProto::Tcp,
        "UDP" => ServProto::Udp,
        "SCTP" => ServProto::Sctp,
        _ => ServProto::Ip,
    }
}

/// `list_conn` (`-Lc`): the connection entries in the daemon's order.
pub fn list_conns(conns: &[ConnInfo], format: &Format, resolver: &dyn Resolver) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if format.persistent_conn {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    for c in conns {
        let proto = conn_proto(&c.protocol);
        // ipvsadm reads the virtual address with the client address's family.
        let vaddr = match (c.caddr, c.vaddr) {
            (IpAddr::V6(_), IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
            (_, v) => v,
        };
        let cname = addrport_to_anyname(c.caddr, c.cport, proto, format.numeric, resolver);
        let vname = addrport_to_anyname(vaddr, c.vport, proto, format.numeric, resolver);
        let dname = addrport_to_anyname(c.daddr, c.dport, proto, format.numeric, resolver);
        let secs = c.expires_ms / 1000;
        let expire = format!("{:02}:{:02}", secs / 60, secs % 60);
        let _ = writeln!(
            out,
            "{:<3} {:<6} {:<11} {:<18} {:<18} {}",
            c.protocol, expire, c.state, cname, vname, dname
        );
    }
    out
}

/// `list_timeout` (`-L --timeout`).
pub fn list_timeout(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp as i32, t.tcpfin as i32, t.udp as i32
    )
}

/// One running sync daemon, as `-L --daemon` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DaemonInfo {
    /// Role.
    pub state: DaemonState,
    /// Multicast interface.
    pub mcast_ifn: String,
    /// Sync id.
    pub syncid: u8,
    /// Maximum message length (0 = not reported).
    pub sync_maxlen: u16,
    /// Multicast group (None = not reported).
    pub mcast_group: Option<IpAddr>,
    /// UDP port (0 = not reported).
    pub mcast_port: u16,
    /// TTL (0 = not reported).
    pub mcast_ttl: u8,
}

/// `list_daemon` (`-L --daemon`): the master first, then the backup.
pub fn list_daemons(daemons: &[DaemonInfo]) -> String {
    let mut out = String::new();
    for state in [DaemonState::Master, DaemonState::Backup] {
        for d in daemons.iter().filter(|d| d.state == state) {
            let role = match state {
                DaemonState::Master => "master",
                DaemonState::Backup => "backup",
            };
            let _ = write!(
                out,
                "{role} sync daemon (mcast={}, syncid={}",
                d.mcast_ifn, d.syncid
            );
            if d.sync_maxlen != 0 {
                let _ = write!(out, ", maxlen={}", d.sync_maxlen);
            }
            if let Some(g) = d.mcast_group {
                let _ = write!(out, ", group={}", ntop(&g));
            }
            if d.mcast_port != 0 {
                let _ = write!(out, ", port={}", d.mcast_port);
            }
            if d.mcast_ttl != 0 {
                let _ = write!(out, ", ttl={}", d.mcast_ttl);
            }
            out.push_str(")\n");
        }
    }
    out
}

/// Extension `--get-laddr`: the FULLNAT local addresses of a service (DPVS's layout).
pub fn list_laddrs(
    service: &ServiceKey,
    laddrs: &[lvs_api::LaddrInfo],
    format: &Format,
    resolver: &dyn Resolver,
) -> String {
    let list_fmt = Format {
        rule: false,
        ..*format
    };
    let mut out = format!(
        "{:<20} {:<8} {:<20} {:<10} {:<10}\n",
        "VIP:VPORT", "TOTAL", "SNAT_IP", "CONFLICTS", "CONNS"
    );
    let vname = svc_name(service, &list_fmt, resolver);
    let vname = vname
        .split_once(' ')
        .map_or(vname.as_str(), |(_, v)| v.trim_start());
    let total = laddrs.len();
    for l in laddrs {
        let ip = if format.numeric {
            ntop(&l.addr)
        } else {
            resolver
                .addr_to_host(l.addr)
                .unwrap_or_else(|| ntop(&l.addr))
        };
        let _ = writeln!(
            out,
            "{vname:<20} {total:<8} {ip:<20} {:<10} {:<10}",
            0, l.used_ports
        );
    }
    out
}

/// Ordering helper for callers that need a Rust [`Ordering`] from the C comparators.
pub fn to_ordering(r: i32) -> Ordering {
    r.cmp(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largenum_forms() {
        assert_eq!(largenum(0, false), "        0");
        assert_eq!(largenum(99_999_999, false), " 99999999");
        assert_eq!(largenum(100_000_000, false), "  100000K");
        assert_eq!(largenum(999_999_999, false), "  999999K");
        assert_eq!(largenum(1_000_000_000, false), "    1000M");
        assert_eq!(largenum(99_999_999_999, false), "   99999M");
        assert_eq!(largenum(100_000_000_000, false), "     100G");
        assert_eq!(largenum(100_000_000_000_000, false), "     100T");
        assert_eq!(largenum(u64::MAX, false), "18446744T");
        assert_eq!(largenum(12, true), "       12");
        assert_eq!(largenum(12_345_678, true), " 12345678");
        assert_eq!(largenum(123_456_789, true), " 123456789");
        assert_eq!(largenum(u64::MAX, true), " 18446744073709551615");
    }

    #[test]
    fn qsort_matches_c_wraparound() {
        // 10.0.0.1 - 192.168.0.1 wraps to a positive int: 192.168.0.1 sorts first.
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "192.168.0.1".parse().unwrap();
        assert!(addr_cmp(&a, &b) > 0);
        let mut v = vec![a, b];
        glibc_qsort(&mut v, &|x: &IpAddr, y: &IpAddr| addr_cmp(x, y));
        assert_eq!(v, vec![b, a]);
    }
}
