//! The model side: what a master reports, what a backup makes of it.

use std::net::IpAddr;

use crate::conn::{ConnFlags, ConnId, Direction, TcpState};
use crate::ipvs::{InVerdict, Ipvs, PacketMeta, TEMPLATE_ASSURED, TcpFlags};
use crate::service::{DestConfig, ServiceConfig};
use crate::sync::engine::{SyncApplied, SyncReceiver, SyncReject, SyncSender};
use crate::sync::wire::{self, SyncConn, Version};
use crate::time::Time;
use crate::types::{ForwardMethod, ServiceKey};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const VIP: &str = "10.0.0.1";
const RS1: &str = "10.0.1.2";
const RS2: &str = "10.0.1.3";

/// Services as in the capture: TCP VIP:80 rr and VIP:81 rr persistent 60 s, both with
/// RS1 and RS2, forwarding `fwd`.
fn director(fwd: ForwardMethod, rs: &[&str]) -> Ipvs {
    let mut d = Ipvs::default();
    for (port, persist) in [(80, None), (81, Some(60))] {
        let key = ServiceKey::tcp(ip(VIP), port);
        let mut cfg = ServiceConfig::new(key, "rr");
        if let Some(t) = persist {
            cfg = cfg.persistent(t);
        }
        d.add_service(&cfg).unwrap();
        for r in rs {
            d.add_dest(&key, &DestConfig::new(ip(r), port, fwd))
                .unwrap();
        }
    }
    d
}

fn pkt(cport: u16, vport: u16, f: TcpFlags) -> PacketMeta {
    PacketMeta::tcp(ip("10.0.0.2"), cport, ip(VIP), vport, f)
}

fn send(d: &mut Ipvs, cport: u16, vport: u16, f: TcpFlags, t: Time) -> ConnId {
    match d.process_in(&pkt(cport, vport, f), t) {
        InVerdict::Forward { id: Some(id), .. } => id,
        v => panic!("{v:?}"),
    }
}

fn reply(d: &mut Ipvs, daddr: &str, vport: u16, cport: u16, f: TcpFlags, t: Time) {
    let p = PacketMeta::tcp(ip(daddr), vport, ip("10.0.0.2"), cport, f);
    assert!(matches!(
        d.process_out(&p, t),
        crate::ipvs::OutVerdict::Forward { .. }
    ));
}

fn states(v: &[SyncConn]) -> Vec<(u16, u16, u32, u16, u32)> {
    v.iter()
        .map(|c| (c.cport, c.vport, c.flags, c.state, c.timeout))
        .collect()
}

#[test]
fn master_sends_what_the_kernel_sent() {
    let mut a = director(ForwardMethod::Masq, &[RS2]);
    a.set_sync_master(true);
    let t = Time::from_secs(1);
    // Non-persistent: SYN, handshake ACK, first data; the third packet is sent.
    let id = send(&mut a, 44004, 80, TcpFlags::SYN, t);
    send(&mut a, 44004, 80, TcpFlags::ACK, t);
    assert!(a.drain_sync().is_empty());
    send(&mut a, 44004, 80, TcpFlags::ACK, t);
    let es = TcpState::Established as u16;
    assert_eq!(states(&a.drain_sync()), [(44004, 80, 0, es, 900)]);
    // Then every 50 packets.
    for n in 4..=60 {
        send(&mut a, 44004, 80, TcpFlags::ACK, t);
        let out = a.drain_sync();
        assert_eq!(out.len(), usize::from(n == 53), "packet {n}");
    }
    // The client closes: CLOSE_WAIT is sent at once; the server's FIN moves it to
    // TIME_WAIT, sent with the client's last ACK (capture-msg1.bin).
    send(&mut a, 44004, 80, TcpFlags::FIN_ACK, t);
    reply(&mut a, RS2, 80, 44004, TcpFlags::FIN_ACK, t);
    send(&mut a, 44004, 80, TcpFlags::ACK, t);
    let out = a.drain_sync();
    assert_eq!(
        wire::encode(Version::V1, 0, &out).unwrap(),
        super::CAP1,
        "{out:?}"
    );
    // Nothing more for more ACKs in the same state.
    send(&mut a, 44004, 80, TcpFlags::ACK, t);
    assert!(a.drain_sync().is_empty());
    assert!(a.conns().get(id).is_some());
}

#[test]
fn templates_go_with_every_packet_and_first() {
    let mut a = director(ForwardMethod::Masq, &[RS2]);
    a.set_sync_master(true);
    let t = Time::from_secs(1);
    send(&mut a, 49472, 81, TcpFlags::SYN, t);
    let tpl = TcpState::None as u16;
    assert_eq!(states(&a.drain_sync()), [(0, 81, 0x1100, tpl, 60)]);
    send(&mut a, 49472, 81, TcpFlags::ACK, t);
    // ESTABLISHED assures the template.
    let assured = u16::from(TEMPLATE_ASSURED);
    assert_eq!(states(&a.drain_sync()), [(0, 81, 0x1100, assured, 60)]);
    send(&mut a, 49472, 81, TcpFlags::ACK, t);
    let es = TcpState::Established as u16;
    assert_eq!(
        states(&a.drain_sync()),
        [(0, 81, 0x1100, assured, 60), (49472, 81, 0, es, 900)]
    );
    // sync_persist_mode: the connection no longer, the template still.
    let mut p = *a.sync_params();
    p.persist_mode = true;
    a.set_sync_params(p).unwrap();
    for _ in 0..50 {
        send(&mut a, 49472, 81, TcpFlags::ACK, t);
    }
    assert!(
        a.drain_sync()
            .iter()
            .all(|c| c.flags & ConnFlags::TEMPLATE != 0)
    );
}

#[test]
fn nothing_is_reported_without_a_master() {
    let mut a = director(ForwardMethod::Masq, &[RS2]);
    let t = Time::from_secs(1);
    for f in [TcpFlags::SYN, TcpFlags::ACK, TcpFlags::ACK] {
        send(&mut a, 1000, 81, f, t);
    }
    assert!(a.drain_sync().is_empty());
    a.set_sync_master(true);
    send(&mut a, 1000, 81, TcpFlags::ACK, t);
    assert_eq!(a.drain_sync().len(), 1);
    a.set_sync_master(false);
    send(&mut a, 1000, 81, TcpFlags::ACK, t);
    assert!(a.drain_sync().is_empty());
}

#[test]
fn fast_path_reports_drive_the_master() {
    let mut a = director(ForwardMethod::Route, &[RS1]);
    a.set_sync_master(true);
    let t = Time::from_secs(1);
    let id = send(&mut a, 5000, 80, TcpFlags::SYN, t);
    // The fast path took the ACK (state change, 2 packets), then reports packet 3.
    a.observe_counted(id, Direction::Input, TcpFlags::ACK, 2, t);
    assert!(a.drain_sync().is_empty());
    a.sync_packets(id, 3, t);
    let out = a.drain_sync();
    assert_eq!(out.len(), 1);
    // DR: method 3 with NOOUTPUT, active.
    assert_eq!(out[0].flags, 3 | ConnFlags::NOOUTPUT);
    // A FIN from the client (DR: INPUT_ONLY table) is forced.
    a.observe_counted(id, Direction::Input, TcpFlags::FIN_ACK, 9, t);
    let out = a.drain_sync();
    assert_eq!(out[0].state, TcpState::FinWait as u16);
    assert_eq!(a.conns().get(id).unwrap().in_pkts, 9);
}

#[test]
fn an_expiring_template_with_users_is_resent() {
    let mut a = director(ForwardMethod::Masq, &[RS2]);
    a.set_sync_master(true);
    let t = Time::from_secs(1);
    send(&mut a, 7000, 81, TcpFlags::SYN, t);
    send(&mut a, 7000, 81, TcpFlags::ACK, t);
    a.drain_sync();
    // The template (60 s) expires while the connection (ESTABLISHED, 900 s) lives:
    // re-armed for 60 s and sent.
    a.poll(Time::from_secs(61));
    let out = a.drain_sync();
    assert!(
        out.iter()
            .any(|c| c.flags & ConnFlags::TEMPLATE != 0 && c.timeout == 60),
        "{out:?}"
    );
}

// ------------------------------------------------------------------ backup

/// Run A's connections through bytes into B.
fn replicate(a: &mut Ipvs, b: &mut Ipvs, t: Time) -> super::ReceiveStats {
    let mut s = SyncSender::new(0, 1472);
    for c in a.drain_sync() {
        s.push(&c, Version::V1, t);
    }
    let mut r = SyncReceiver::new(0);
    for m in s.flush() {
        r.receive(b, &m, t);
    }
    r.stats
}

fn counts(d: &Ipvs, port: u16) -> Vec<(IpAddr, u32, u32, u32)> {
    d.dests_of(&ServiceKey::tcp(ip(VIP), port))
        .into_iter()
        .map(|(_, d)| (d.addr, d.activeconns, d.inactconns, d.persistconns))
        .collect()
}

#[test]
fn backup_builds_the_same_table() {
    let mut a = director(ForwardMethod::Masq, &[RS1, RS2]);
    let mut b = director(ForwardMethod::Masq, &[RS1, RS2]);
    a.set_sync_master(true);
    let t = Time::from_secs(1);
    for cport in [44004, 44006] {
        for f in [TcpFlags::SYN, TcpFlags::ACK, TcpFlags::ACK] {
            send(&mut a, cport, 80, f, t);
        }
    }
    for f in [TcpFlags::SYN, TcpFlags::ACK, TcpFlags::ACK] {
        send(&mut a, 49472, 81, f, t);
    }
    let st = replicate(&mut a, &mut b, t);
    assert_eq!(st.rejected, 0);
    // Same entries (bar the SYNC flag and the packet counts), same real servers.
    let view = |d: &Ipvs| {
        let mut v: Vec<_> = d
            .conns()
            .iter()
            .map(|(_, c)| {
                (
                    c.cport,
                    c.vport,
                    c.daddr_ip(),
                    c.state,
                    c.flags.0 & !ConnFlags::SYNC,
                    c.timeout_ms,
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(view(&a), view(&b));
    assert!(
        b.conns()
            .iter()
            .all(|(_, c)| c.flags.has(ConnFlags::SYNC) && c.in_pkts == 3)
    );
    // Counters: established connections are active on the backup too, as in IPVS
    // (`ipvsadm -Ln` on a kernel backup showed ActiveConn 1), the template persistent.
    assert_eq!(counts(&a, 80), counts(&b, 80));
    assert_eq!(counts(&a, 81), counts(&b, 81));
    // Expiry as the master said.
    let (_, c) = b.conns().iter().find(|(_, c)| c.cport == 44004).unwrap();
    assert_eq!(c.expires, t.add_millis(900_000));
}

#[test]
fn the_backup_takes_over() {
    let mut a = director(ForwardMethod::Masq, &[RS1, RS2]);
    let mut b = director(ForwardMethod::Masq, &[RS1, RS2]);
    a.set_sync_master(true);
    let t = Time::from_secs(1);
    let mut rs = Vec::new();
    for cport in [2001, 2002, 2003] {
        for f in [TcpFlags::SYN, TcpFlags::ACK, TcpFlags::ACK] {
            send(&mut a, cport, 81, f, t);
        }
        let id = a.conns().iter().find(|(_, c)| c.cport == cport).unwrap().0;
        rs.push(a.conns().get(id).unwrap().daddr_ip());
    }
    replicate(&mut a, &mut b, t);
    // On B: packets of the existing connections go where A sent them (no SYN needed).
    let t2 = Time::from_secs(5);
    for (cport, want) in [2001, 2002, 2003].into_iter().zip(&rs) {
        match b.process_in(&pkt(cport, 81, TcpFlags::ACK), t2) {
            InVerdict::Forward { conn, .. } => assert_eq!(conn.daddr_ip(), *want),
            v => panic!("{v:?}"),
        }
    }
    // A new connection of the persistent client follows the synced template.
    match b.process_in(&pkt(2004, 81, TcpFlags::SYN), t2) {
        InVerdict::Forward { conn, .. } => assert_eq!(conn.daddr_ip(), rs[0]),
        v => panic!("{v:?}"),
    }
    // Non-persistent new connections are scheduled normally (rr over both).
    let mut seen = std::collections::HashSet::new();
    for cport in 3000..3004 {
        if let InVerdict::Forward { conn, .. } = b.process_in(&pkt(cport, 80, TcpFlags::SYN), t2) {
            seen.insert(conn.daddr_ip());
        }
    }
    assert_eq!(seen.len(), 2);
}

fn rec(state: TcpState, flags: u32, daddr: &str) -> SyncConn {
    SyncConn {
        af: crate::types::Af::Inet,
        protocol: 6,
        flags,
        state: state as u16,
        cport: 1234,
        vport: 80,
        dport: 80,
        fwmark: 0,
        timeout: 900,
        caddr: ip("10.0.0.2").into(),
        vaddr: ip(VIP).into(),
        daddr: ip(daddr).into(),
        seq: None,
        pe_data: None,
        pe_name: None,
        local: None,
    }
}

#[test]
fn backup_rules_for_new_and_existing_entries() {
    // B forwards by DR: a NAT entry from the master takes B's method.
    let mut b = director(ForwardMethod::Route, &[RS1]);
    b.set_sync_journal(true);
    let t = Time::from_secs(1);
    let r = rec(TcpState::Established, 0, RS1);
    let id = match b.sync_apply(&r, Version::V1, t).unwrap() {
        SyncApplied::Created(id) => id,
        x => panic!("{x:?}"),
    };
    let c = *b.conns().get(id).unwrap();
    assert_eq!(c.flags.fwd(), ForwardMethod::Route);
    assert!(c.flags.has(ConnFlags::NOOUTPUT | ConnFlags::SYNC));
    assert_eq!(counts(&b, 80), [(ip(RS1), 1, 0, 0)]);
    // Update: now FIN_WAIT and INACTIVE; counters move.
    let r2 = rec(TcpState::FinWait, ConnFlags::INACTIVE, RS1);
    assert_eq!(
        b.sync_apply(&r2, Version::V1, t),
        Ok(SyncApplied::Updated(id))
    );
    assert_eq!(counts(&b, 80), [(ip(RS1), 0, 1, 0)]);
    let c = b.conns().get(id).unwrap();
    assert_eq!((c.state, c.timeout_ms), (TcpState::FinWait as u8, 900_000));
    assert_eq!(b.drain_synced(), [id, id]);
    // A message about another real server for an INACTIVE entry: already replaced here.
    let other = rec(TcpState::TimeWait, ConnFlags::INACTIVE, "10.0.1.77");
    assert_eq!(
        b.sync_apply(&other, Version::V1, t),
        Ok(SyncApplied::Ignored)
    );
    // An active one replaces the entry; no local server matches: unbound, forwarded as the
    // master said (NAT).
    let other = rec(TcpState::Established, 0, "10.0.1.77");
    let nid = match b.sync_apply(&other, Version::V1, t).unwrap() {
        SyncApplied::Created(id) => id,
        x => panic!("{x:?}"),
    };
    let c = *b.conns().get(nid).unwrap();
    assert_eq!((c.dest(), c.flags.fwd()), (None, ForwardMethod::Masq));
    assert_eq!(counts(&b, 80), [(ip(RS1), 0, 0, 0)]);
    match b.process_in(&pkt(1234, 80, TcpFlags::ACK), t) {
        InVerdict::Forward { conn, .. } => assert_eq!(conn.daddr_ip(), ip("10.0.1.77")),
        v => panic!("{v:?}"),
    }
    // Once the server is configured here, the next message binds the entry.
    b.add_dest(
        &ServiceKey::tcp(ip(VIP), 80),
        &DestConfig::new(ip("10.0.1.77"), 80, ForwardMethod::Route),
    )
    .unwrap();
    assert_eq!(
        b.sync_apply(&other, Version::V1, t),
        Ok(SyncApplied::Updated(nid))
    );
    let c = *b.conns().get(nid).unwrap();
    assert_eq!(c.flags.fwd(), ForwardMethod::Route);
    assert!(c.dest().is_some());
    // Flags a backup must not take (ONE_PACKET, HASHED, anything above bit 15).
    let mut odd = rec(TcpState::Established, 0x2040 | 0x10000, RS1);
    odd.cport = 999;
    let SyncApplied::Created(oid) = b.sync_apply(&odd, Version::V1, t).unwrap() else {
        panic!()
    };
    let f = b.conns().get(oid).unwrap().flags.0;
    assert_eq!(f & (0x2000 | 0x10000), 0);
}

#[test]
fn backup_rejects_what_it_cannot_hold() {
    let mut b = director(ForwardMethod::Masq, &[RS1]);
    let t = Time::from_secs(1);
    let mut r = rec(TcpState::Established, 0, RS1);
    r.protocol = 50;
    assert_eq!(
        b.sync_apply(&r, Version::V1, t),
        Err(SyncReject::Protocol(50))
    );
    let mut r = rec(TcpState::Established, 0, RS1);
    r.state = 11;
    assert_eq!(b.sync_apply(&r, Version::V1, t), Err(SyncReject::State(11)));
    let mut r = rec(TcpState::Established, 0, RS1);
    r.protocol = 17;
    r.state = 1;
    assert_eq!(b.sync_apply(&r, Version::V1, t), Err(SyncReject::State(1)));
    let mut r = rec(TcpState::Established, 0, RS1);
    r.pe_data = Some(b"call-id".to_vec());
    assert_eq!(
        b.sync_apply(&r, Version::V1, t),
        Err(SyncReject::PersistenceEngine)
    );
    assert_eq!(b.conns().len(), 0);
    // A template's state is not checked (the kernel only logs it).
    let mut tpl = rec(TcpState::None, ConnFlags::TEMPLATE, RS1);
    tpl.state = 77;
    tpl.cport = 0;
    assert!(b.sync_apply(&tpl, Version::V1, t).is_ok());
}

#[test]
fn version_0_timeouts_come_from_the_tables() {
    let mut b = director(ForwardMethod::Masq, &[RS1]);
    let t = Time::from_secs(1);
    let mut r = rec(TcpState::FinWait, ConnFlags::INACTIVE, RS1);
    r.timeout = 0;
    let SyncApplied::Created(id) = b.sync_apply(&r, Version::V0, t).unwrap() else {
        panic!()
    };
    assert_eq!(b.conns().get(id).unwrap().timeout_ms, 120_000);
    let mut tpl = rec(
        TcpState::None,
        ConnFlags::TEMPLATE | ConnFlags::INACTIVE,
        RS1,
    );
    tpl.timeout = 0;
    tpl.cport = 0;
    let SyncApplied::Created(id) = b.sync_apply(&tpl, Version::V0, t).unwrap() else {
        panic!()
    };
    assert_eq!(b.conns().get(id).unwrap().timeout_ms, 180_000);
    assert_eq!(counts(&b, 80), [(ip(RS1), 0, 1, 1)]);
}

#[test]
fn receiver_filters_and_counts() {
    let mut b = director(ForwardMethod::Masq, &[RS1]);
    let t = Time::from_secs(1);
    let m = wire::encode(Version::V1, 7, &[rec(TcpState::Established, 0, RS1)]).unwrap();
    let mut r = SyncReceiver::new(3);
    assert_eq!(r.receive(&mut b, &m, t).other_syncid, 1);
    assert_eq!(b.conns().len(), 0);
    // syncid 0 accepts every sender.
    let mut any = SyncReceiver::new(0);
    assert_eq!(any.receive(&mut b, &m, t).created, 1);
    let mut same = SyncReceiver::new(7);
    assert_eq!(same.receive(&mut b, &m, t).updated, 1);
    assert_eq!(same.receive(&mut b, &m[..10], t).malformed, 1);
    assert_eq!(same.receive(&mut b, &[], t).malformed, 1);
    let mut cut = m.clone();
    cut[4] = 2;
    let s = same.receive(&mut b, &cut, t);
    assert_eq!((s.updated, s.truncated), (1, 1));
    assert_eq!(same.stats.messages, 4);
    assert_eq!(same.stats.malformed, 2);
}

#[test]
fn fullnat_entries_keep_their_local_port() {
    let key = ServiceKey::tcp(ip(VIP), 80);
    let mk = || {
        let mut d = Ipvs::default();
        d.add_service(&ServiceConfig::new(key, "rr")).unwrap();
        d.add_dest(&key, &DestConfig::new(ip(RS1), 80, ForwardMethod::FullNat))
            .unwrap();
        d.add_laddr(&key, ip("10.0.1.100")).unwrap();
        d
    };
    let (mut a, mut b) = (mk(), mk());
    a.set_sync_master(true);
    let t = Time::from_secs(1);
    for f in [TcpFlags::SYN, TcpFlags::ACK, TcpFlags::ACK] {
        send(&mut a, 4000, 80, f, t);
    }
    let out = a.drain_sync();
    assert_eq!(out.len(), 1);
    let (laddr, lport) = out[0].local.unwrap();
    assert_eq!(
        (laddr.to_ip(crate::types::Af::Inet), lport),
        (ip("10.0.1.100"), 1024)
    );
    let mut r = SyncReceiver::new(0);
    r.receive(&mut b, &wire::encode(Version::V1, 0, &out).unwrap(), t);
    let (_, c) = b.conns().iter().next().unwrap();
    assert_eq!((c.laddr_ip(), c.lport), (ip("10.0.1.100"), 1024));
    // The port is taken on B: B's own next connection gets another one.
    match b.process_in(&pkt(4001, 80, TcpFlags::SYN), t) {
        InVerdict::Forward { conn, .. } => assert_eq!(conn.lport, 1025),
        v => panic!("{v:?}"),
    }
    // Replies to LIP:1024 find the synced connection.
    let rp = PacketMeta::tcp(ip(RS1), 80, ip("10.0.1.100"), 1024, TcpFlags::ACK);
    assert!(matches!(
        b.process_out(&rp, t),
        crate::ipvs::OutVerdict::Forward { .. }
    ));
    // Without the extension (e.g. from a kernel) a FULLNAT entry cannot be held.
    let mut bare = out[0].clone();
    bare.local = None;
    bare.cport = 4002;
    assert_eq!(b.sync_apply(&bare, Version::V1, t), Err(SyncReject::Local));
}
