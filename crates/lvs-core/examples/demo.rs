//! `make demo` (for now): drive a synthetic workload through the lvs-core director model
//! and print how each scheduler spreads it over three real servers, then persistence and
//! connection states, in ipvsadm's listing format.
//!
//! Everything here is the sans-IO model: no packets leave the process.

use std::net::{IpAddr, Ipv4Addr};

use lvs_core::sched::SCHEDULER_NAMES;
use lvs_core::{
    DestConfig, ForwardMethod, InVerdict, Ipvs, PacketMeta, ServiceConfig, ServiceKey, TcpFlags,
    Time,
};

const CLIENTS: u32 = 600;
const WEIGHTS: [i32; 3] = [3, 2, 1];

fn vip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
}

fn rs(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 168, 10, 1 + i as u8))
}

fn client(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0xc633_6400u32 + i * 7 + 1))
}

/// A director with one service `sched` and three real servers (added 1, 2, 3).
fn director(sched: &str, persistent: Option<u32>) -> (Ipvs, ServiceKey) {
    let mut ipvs = Ipvs::default();
    let key = ServiceKey::tcp(vip(), 80);
    let mut cfg = ServiceConfig::new(key, sched);
    if let Some(p) = persistent {
        cfg = cfg.persistent(p);
    }
    ipvs.add_service(&cfg).expect("service");
    for (i, w) in WEIGHTS.iter().enumerate() {
        ipvs.add_dest(
            &key,
            &DestConfig::new(rs(i), 80, ForwardMethod::Masq).weight(*w),
        )
        .expect("real server");
    }
    (ipvs, key)
}

/// Open one connection (SYN, then ACK) and return the real server chosen.
fn connect(ipvs: &mut Ipvs, c: IpAddr, sport: u16, now: Time) -> Option<IpAddr> {
    let syn = PacketMeta::tcp(c, sport, vip(), 80, TcpFlags::SYN);
    let InVerdict::Forward { conn, .. } = ipvs.process_in(&syn, now) else {
        return None;
    };
    let ack = PacketMeta::tcp(c, sport, vip(), 80, TcpFlags::ACK);
    ipvs.process_in(&ack, now);
    Some(conn.daddr_ip())
}

fn listing(ipvs: &Ipvs) {
    println!("IP Virtual Server version 1.2.1 (size=4096)");
    println!("Prot LocalAddress:Port Scheduler Flags");
    println!("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn");
    for s in ipvs.services() {
        let ServiceKey::Addr {
            protocol,
            addr,
            port,
        } = s.key()
        else {
            continue;
        };
        let mut line = format!("{:<4} {}:{} {}", protocol.name(), addr, port, s.scheduler());
        if let Some(p) = s.persistence() {
            line.push_str(&format!(" persistent {}", p.timeout));
        }
        println!("{line}");
        let mut dests = ipvs.dests_of(s.key());
        dests.sort_by_key(|(_, d)| (d.addr, d.port));
        for (_, d) in dests {
            println!(
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                format!("{}:{}", d.addr, d.port),
                d.fwd.name(),
                d.weight,
                d.activeconns,
                d.inactconns
            );
        }
    }
}

fn conn_listing(ipvs: &Ipvs, now: Time, limit: usize) {
    println!("IPVS connection entries");
    println!(
        "pro expire {:<11} {:<18} {:<18} destination",
        "state", "source", "virtual"
    );
    for (_, c) in ipvs.conns().iter().take(limit) {
        let secs = c.expires.millis_since(now) / 1000;
        let pro = if c.is_template() && c.protocol == 0 {
            "IP"
        } else {
            c.protocol().map_or("IP", |p| p.name())
        };
        let expire = format!("{:02}:{:02}", secs / 60, secs % 60);
        let source = format!("{}:{}", c.caddr_ip(), c.cport);
        let virt = format!("{}:{}", c.vaddr_ip(), c.vport);
        let dest = format!("{}:{}", c.daddr_ip(), c.dport);
        let state = Ipvs::state_name(c);
        println!("{pro:<3} {expire:<6} {state:<11} {source:<18} {virt:<18} {dest}");
    }
}

fn main() {
    println!(
        "lvs-core demo: {CLIENTS} clients each open one TCP connection to {}:80;",
        vip()
    );
    println!(
        "real servers {} (w{}), {} (w{}), {} (w{}), added in that order; connections stay open.\n",
        rs(0),
        WEIGHTS[0],
        rs(1),
        WEIGHTS[1],
        rs(2),
        WEIGHTS[2]
    );
    println!(
        "{:<6} {:>16} {:>16} {:>16}",
        "sched",
        rs(0).to_string(),
        rs(1).to_string(),
        rs(2).to_string()
    );
    for name in SCHEDULER_NAMES {
        let (mut ipvs, _) = director(name, None);
        let mut counts = [0u32; 3];
        for i in 0..CLIENTS {
            if let Some(d) = connect(&mut ipvs, client(i), 40000, Time::from_millis(u64::from(i))) {
                let k = (0..3).find(|&k| rs(k) == d).expect("one of ours");
                counts[k] += 1;
            }
        }
        println!(
            "{:<6} {:>16} {:>16} {:>16}",
            name, counts[0], counts[1], counts[2]
        );
    }

    println!(
        "\nPersistence (rr -p 360): client 198.51.100.1 opens 5 connections, then others come:"
    );
    let (mut ipvs, _) = director("rr", Some(360));
    let c0 = client(0);
    let mut seen = Vec::new();
    for p in 0..5 {
        seen.push(connect(&mut ipvs, c0, 50000 + p, Time::ZERO).expect("scheduled"));
    }
    println!(
        "  {c0} -> {}",
        seen.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    for i in 1..4 {
        let d = connect(&mut ipvs, client(i), 50000, Time::ZERO).expect("scheduled");
        println!("  {} -> {d}", client(i));
    }
    println!();
    listing(&ipvs);
    println!();
    conn_listing(&ipvs, Time::ZERO, 12);
}
