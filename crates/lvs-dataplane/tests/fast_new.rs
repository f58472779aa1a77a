//! BPF_PROG_TEST_RUN fixtures for new connections created in XDP (`lvs_new_fast` in
//! `bpf/lvs_xdp.bpf.c`): a first packet to a fast-eligible service creates the flows,
//! pops a connection id, sends an `EV_NEW` record before the state record, and leaves as
//! the slow path would send it (expected bytes from `lvs-wire`); failures punt the frame
//! untouched and leave nothing behind. Root (`make test`).

mod support;

use std::net::IpAddr;

use lvs_common::{
    CFG_SYNC_MASTER, Config, ConnState, EV_STATE, FastDest, FastSvc, FlowKey, FlowValue,
    IPPROTO_TCP, IPPROTO_UDP, NewConnEvent, Stat, SvcKey, SvcValue, action, addr16, dir,
};
use lvs_core::conn::tcp::TcpState;
use lvs_dataplane::{Dataplane, Record, TcVerdict, XdpVerdict};
use lvs_wire::build::{Builder, verify_frame};
use lvs_wire::encap::Outer;
use support::*;

const SVC: u32 = 7;
const OTHER_SVC: u32 = 8;

fn syn4(sport: u16, dport: u16) -> Vec<u8> {
    Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv4(CLIENT4, VIP4)
        .tcp(sport, dport)
        .tcp_flags(TCP_SYN)
        .build()
}

fn nat(dest_id: u32, slot: u32, rs: IpAddr, port: u16) -> FastDest {
    let (af, a) = addr16(rs);
    FastDest {
        dest_id,
        dest_slot: slot,
        action: action::NAT_IN,
        out_af: af,
        dir: dir::INPUT,
        dport: port.to_be(),
        daddr: a,
        ..Default::default()
    }
}

fn seq(ids: &[u32]) -> FastSvc {
    let mut s = FastSvc {
        n: ids.len() as u32,
        ..Default::default()
    };
    s.seq[..ids.len()].copy_from_slice(ids);
    s
}

/// A data plane with services TCP VIP4:80 (fast, `SVC`), TCP VIP4:81 (not fast), UDP
/// VIP6:53 (fast, `SVC + 1`), interface slots, no AF_XDP sockets (a punt is XDP_DROP).
fn setup(lab: &Lab) -> Dataplane {
    let mut dp = small_dataplane();
    for (k, id) in [
        (SvcKey::new(IPPROTO_TCP, v4(VIP4), 80), SVC),
        (SvcKey::new(IPPROTO_TCP, v4(VIP4), 81), OTHER_SVC),
        (SvcKey::new(IPPROTO_UDP, v6(VIP6), 53), SVC + 1),
    ] {
        dp.insert_service(
            &k,
            &SvcValue {
                svc_id: id,
                flags: 0,
            },
        )
        .unwrap();
    }
    dp.set_ifslot(lab.vc0, 0).unwrap();
    dp.set_ifslot(lab.vr0, 1).unwrap();
    bind_slow_path(&mut dp);
    dp.set_fast_dest(100, &nat(100, 3, v4(RS4), 8080)).unwrap();
    dp.set_fast_dest(101, &nat(101, 4, v4(RS4_NEAR), 8081))
        .unwrap();
    dp.set_fast_svc(SVC, &seq(&[100])).unwrap();
    dp
}

/// An AF_XDP socket in lvsd's place for slot 0 (vc0), queue 0: XDP creates connections
/// only while the slow path that adopts them is there. Unbound: a punt to it is
/// XDP_REDIRECT in BPF_PROG_TEST_RUN, and nothing arrives. Kept open for the process.
fn bind_slow_path(dp: &mut Dataplane) {
    // SAFETY: plain socket(2); the descriptor is deliberately leaked (lives with the test).
    #[allow(unsafe_code)]
    let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW, 0) };
    assert!(
        fd >= 0,
        "AF_XDP socket: {}",
        std::io::Error::last_os_error()
    );
    dp.set_xsk(0, 0, fd).unwrap();
}

fn records(dp: &mut Dataplane) -> Vec<Record> {
    std::iter::from_fn(|| dp.next_record()).collect()
}

fn stats(dp: &Dataplane) -> Vec<u64> {
    Stat::ALL.iter().map(|s| dp.stat(*s).unwrap()).collect()
}

fn delta(before: &[u64], dp: &Dataplane, s: Stat) -> u64 {
    dp.stat(s).unwrap() - before[s as usize]
}

#[test]
fn syn_creates_a_nat_connection() {
    require_root();
    let lab = Lab::new();
    let mut dp = setup(&lab);
    for id in [5, 6] {
        dp.push_conn_id(id).unwrap();
    }
    let (c4, vip4, rs4) = (v4(CLIENT4), v4(VIP4), v4(RS4));
    let input = syn4(40000, 80);
    let before = stats(&dp);
    let r = dp.test_run(&input, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Redirect);
    let want = wire_rewrite(&input, None, Some((rs4, 8080)), VR0_MAC, RS_MAC);
    assert_eq!(r.frame, want, "as the slow path sends it");
    verify_frame(&r.frame).unwrap();
    assert_eq!(delta(&before, &dp, Stat::NewFast), 1);
    assert_eq!(delta(&before, &dp, Stat::FwdRedirect), 1);
    assert_eq!(delta(&before, &dp, Stat::PuntNew), 0);
    // both flows, under the popped id (the queue is FIFO)
    let kin = FlowKey::new(IPPROTO_TCP, c4, 40000, vip4, 80);
    let vin = dp.flow(&kin).unwrap().expect("input flow");
    let mut want_in = FlowValue::new(action::NAT_IN, dir::INPUT, 2, 5, 3).with_dst(rs4, 8080);
    want_in.out_af = 2;
    assert_eq!(vin, want_in);
    let kout = FlowKey::new(IPPROTO_TCP, rs4, 8080, c4, 40000);
    let vout = dp.flow(&kout).unwrap().expect("output flow");
    assert_eq!(
        vout,
        FlowValue::new(action::NAT_OUT, dir::OUTPUT, 2, 5, 3).with_src(vip4, 80)
    );
    // the new-connection record first, then the state change of the same packet
    let recs = records(&mut dp);
    assert_eq!(recs.len(), 2, "{recs:?}");
    let Record::New(n) = recs[0] else {
        panic!("{recs:?}")
    };
    assert_eq!((n.conn_id, n.svc_id, n.dest_id, n.key), (5, SVC, 100, kin));
    assert!(n.ts_ns > 0);
    let Record::Event(e) = recs[1] else {
        panic!("{recs:?}")
    };
    assert_eq!(
        (e.kind, e.conn_id, e.old_state, e.new_state, e.pkts),
        (EV_STATE, 5, 0, TcpState::SynRecv as u8, 1)
    );
    let st = dp.conn(5).unwrap();
    assert_eq!(
        (st.state, st.pkts_in, st.bytes_in, st.pkts_out),
        (TcpState::SynRecv as u8, 0, 40, 0),
        "pkts_in counts packets after the first, bytes_in all"
    );
    let ds = dp.dest_stats(3).unwrap();
    assert_eq!((ds.pkts_in, ds.bytes_in), (1, 40));
    // a second SYN on the tuple is a flow hit: no new connection, no id taken
    let before = stats(&dp);
    let r2 = dp.test_run(&input, Some(lab.vc0)).unwrap();
    assert_eq!((r2.verdict, &r2.frame), (XdpVerdict::Redirect, &want));
    assert_eq!(delta(&before, &dp, Stat::NewFast), 0);
    assert!(records(&mut dp).is_empty());
    assert_eq!(dp.conn(5).unwrap().pkts_in, 1);
    // the reply goes through the output flow
    let reply = Builder::new(RS_MAC, VR0_MAC)
        .ipv4(RS4, CLIENT4)
        .tcp(8080, 40000)
        .tcp_flags(TCP_SYN | TCP_ACK)
        .build();
    let r3 = dp.test_run(&reply, Some(lab.vr0)).unwrap();
    assert_eq!(r3.verdict, XdpVerdict::Redirect);
    assert_eq!(
        r3.frame,
        wire_rewrite(&reply, Some((vip4, 80)), None, VC0_MAC, CLIENT_MAC)
    );
    assert_eq!(dp.pop_conn_id(), Some(6));
    assert_eq!(dp.pop_conn_id(), None);
}

#[test]
fn udp6_nat_dr_and_tun() {
    require_root();
    let lab = Lab::new();
    let mut dp = setup(&lab);
    let (c6, vip6, rs6) = (v6(CLIENT6), v6(VIP6), v6(RS6));
    dp.set_fast_dest(102, &nat(102, 5, rs6, 5353)).unwrap();
    dp.set_fast_svc(SVC + 1, &seq(&[102])).unwrap();
    dp.push_conn_id(9).unwrap();
    let input = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv6(v6b(CLIENT6), v6b(VIP6))
        .udp(40000, 53)
        .payload(b"query")
        .build();
    let r = dp.test_run(&input, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Redirect);
    assert_eq!(
        r.frame,
        wire_rewrite(&input, None, Some((rs6, 5353)), VR0_MAC, RS_MAC)
    );
    let kin = FlowKey::new(IPPROTO_UDP, c6, 40000, vip6, 53);
    assert_eq!(dp.flow(&kin).unwrap().unwrap().conn_id, 9);
    assert!(
        dp.flow(&FlowKey::new(IPPROTO_UDP, rs6, 5353, c6, 40000))
            .unwrap()
            .is_some()
    );
    let recs = records(&mut dp);
    assert!(matches!(recs.as_slice(), [Record::New(n)] if n.conn_id == 9 && n.key == kin));

    // DR: the frame keeps its addresses, goes to the real server's MAC; one flow only
    let (af, rs4a) = addr16(v4(RS4));
    let dr = FastDest {
        dest_id: 110,
        dest_slot: 6,
        action: action::DR,
        out_af: af,
        dir: dir::INPUT_ONLY,
        daddr: rs4a,
        ..Default::default()
    };
    dp.set_fast_dest(110, &dr).unwrap();
    dp.set_fast_svc(SVC, &seq(&[110])).unwrap();
    dp.push_conn_id(10).unwrap();
    let syn = syn4(40010, 80);
    let r = dp.test_run(&syn, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Redirect);
    assert_eq!(r.frame, wire_rewrite(&syn, None, None, VR0_MAC, RS_MAC));
    let k = FlowKey::new(IPPROTO_TCP, v4(CLIENT4), 40010, v4(VIP4), 80);
    let v = dp.flow(&k).unwrap().unwrap();
    assert_eq!(
        (v.action, v.dir, v.conn_id),
        (action::DR, dir::INPUT_ONLY, 10)
    );
    assert_eq!(dp.flows().unwrap().len(), 3);

    // TUN (IPIP): outer source from the template
    let (_, lip) = addr16(v4(DIR_R4));
    let tun = FastDest {
        dest_id: 111,
        dest_slot: 7,
        action: action::TUN_IPIP,
        saddr: lip,
        ..dr
    };
    dp.set_fast_dest(111, &tun).unwrap();
    dp.set_fast_svc(SVC, &seq(&[111])).unwrap();
    dp.push_conn_id(11).unwrap();
    let syn = syn4(40011, 80);
    let r = dp.test_run(&syn, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Redirect);
    let mut f = syn.clone();
    lvs_wire::decrement_ttl(&mut f).unwrap();
    let mut out = vec![0u8; f.len() + 64];
    let n = lvs_wire::encap_ipip(
        &f,
        &mut out,
        &Outer {
            src_mac: VR0_MAC,
            dst_mac: RS_MAC,
            src: v4(DIR_R4),
            dst: v4(RS4),
        },
    )
    .unwrap();
    assert_eq!(r.frame, out[..n].to_vec());
}

#[test]
fn rr_and_wrr_sequences() {
    require_root();
    let lab = Lab::new();
    let mut dp = setup(&lab);
    for id in 20..40 {
        dp.push_conn_id(id).unwrap();
    }
    dp.set_fast_svc(SVC, &seq(&[100, 101])).unwrap();
    let mut got = Vec::new();
    for i in 0..4u16 {
        let r = dp.test_run(&syn4(41000 + i, 80), Some(lab.vc0)).unwrap();
        // 101 (RS4_NEAR) is behind the ingress interface: XDP_TX
        let want = if i % 2 == 0 {
            XdpVerdict::Redirect
        } else {
            XdpVerdict::Tx
        };
        assert_eq!(r.verdict, want);
        for rec in records(&mut dp) {
            if let Record::New(n) = rec {
                got.push(n.dest_id);
            }
        }
    }
    assert_eq!(got, [100, 101, 100, 101]);
    // wrr weights 2 (100) and 1 (101) in the model's period; a new record restarts it
    let period: Vec<u32> = lvs_core::ipvs::wrr_period(&[2, 1])
        .into_iter()
        .map(|i| [100, 101][i])
        .collect();
    assert_eq!(period, [100, 100, 101]);
    dp.set_fast_svc(SVC, &seq(&period)).unwrap();
    let mut got = Vec::new();
    for i in 0..6u16 {
        dp.test_run(&syn4(42000 + i, 80), Some(lab.vc0)).unwrap();
        for rec in records(&mut dp) {
            if let Record::New(n) = rec {
                got.push(n.dest_id);
                let k = n.key;
                let v = dp.flow(&k).unwrap().unwrap();
                let want = if n.dest_id == 100 { RS4 } else { RS4_NEAR };
                assert_eq!(&v.new_daddr[..4], &want);
            }
        }
    }
    assert_eq!(got, [100, 100, 101, 100, 100, 101]);
    assert_eq!(dp.fast_svc(SVC).unwrap().unwrap().pos, 6);
}

/// A punt that leaves nothing behind: frame untouched, redirected to the (stand-in)
/// slow-path socket, `PuntNew` and `extra` counted, no flow, no record.
fn assert_punted_clean(dp: &mut Dataplane, lab: &Lab, frame: &[u8], extra: Option<Stat>) {
    let flows = dp.flows().unwrap().len();
    let before = stats(dp);
    let r = dp.test_run(frame, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Redirect);
    assert_eq!(r.frame, frame, "untouched");
    assert_eq!(delta(&before, dp, Stat::PuntNew), 1);
    assert_eq!(delta(&before, dp, Stat::XskRedirect), 1);
    assert_eq!(delta(&before, dp, Stat::NewFast), 0);
    if let Some(s) = extra {
        assert_eq!(delta(&before, dp, s), 1, "{}", s.name());
    }
    assert_eq!(dp.flows().unwrap().len(), flows, "nothing inserted");
    assert!(records(dp).is_empty());
}

#[test]
fn failures_punt_and_leave_nothing() {
    require_root();
    let lab = Lab::new();
    let mut dp = setup(&lab);
    // no id
    assert_punted_clean(&mut dp, &lab, &syn4(43000, 80), Some(Stat::NewNoId));
    // lvsd gone (its socket closed, or none on this queue): nothing is created, the
    // frame is punted (dropped without a socket) untouched, the id stays queued
    dp.push_conn_id(49).unwrap();
    dp.unset_xsk(0, 0).unwrap();
    let syn = syn4(43009, 80);
    let before = stats(&dp);
    let r = dp.test_run(&syn, Some(lab.vc0)).unwrap();
    assert_eq!((r.verdict, &r.frame), (XdpVerdict::Drop, &syn));
    assert_eq!(delta(&before, &dp, Stat::DropNoXsk), 1);
    assert_eq!(delta(&before, &dp, Stat::NewFast), 0);
    assert!(records(&mut dp).is_empty());
    assert_eq!(dp.pop_conn_id(), Some(49));
    bind_slow_path(&mut dp);
    // a service that is not fast-eligible: its id stays in the queue
    dp.push_conn_id(50).unwrap();
    assert_punted_clean(&mut dp, &lab, &syn4(43001, 81), None);
    // not a SYN (ACK, SYN+ACK): as before (passed, not punted, nothing created)
    let ack = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv4(CLIENT4, VIP4)
        .tcp(43002, 80)
        .tcp_flags(TCP_SYN | TCP_ACK)
        .build();
    let r = dp.test_run(&ack, Some(lab.vc0)).unwrap();
    assert_eq!(
        r.verdict,
        XdpVerdict::Redirect,
        "SYN+ACK to a service is punted as today"
    );
    assert!(records(&mut dp).is_empty());
    // the output flow exists already (another connection owns it): the input flow is
    // removed again and the id pushed back
    let (c4, rs4) = (v4(CLIENT4), v4(RS4));
    let taken = FlowKey::new(IPPROTO_TCP, rs4, 8080, c4, 43003);
    let other = FlowValue::new(action::NAT_OUT, dir::OUTPUT, 2, 999, 1);
    dp.insert_flow(&taken, &other).unwrap();
    assert_punted_clean(&mut dp, &lab, &syn4(43003, 80), Some(Stat::NewInsertFail));
    assert_eq!(dp.flow(&taken).unwrap(), Some(other));
    assert_eq!(dp.pop_conn_id(), Some(50), "the id went back");
    // the ring buffer is full: fill it with sync records of a UDP flow
    dp.push_conn_id(51).unwrap();
    let (vip4, conn) = (v4(VIP4), 70u32);
    dp.insert_flow(
        &FlowKey::new(IPPROTO_UDP, c4, 52000, vip4, 53),
        &FlowValue::new(action::NAT_IN, dir::INPUT, 2, conn, 1).with_dst(rs4, 53),
    )
    .unwrap();
    dp.set_conn(conn, &ConnState::default()).unwrap();
    dp.set_config(&Config {
        flags: CFG_SYNC_MASTER,
        sync_threshold: 0,
        sync_period: 1,
    })
    .unwrap();
    let udp = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv4(CLIENT4, VIP4)
        .udp(52000, 53)
        .build();
    let r = dp.test_run(&udp, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Redirect);
    assert!(
        matches!(records(&mut dp).as_slice(), [Record::Event(e)] if e.conn_id == conn),
        "one sync record per packet"
    );
    let before = dp.stat(Stat::EventLost).unwrap();
    let mut runs = 0;
    while dp.stat(Stat::EventLost).unwrap() == before {
        dp.test_run(&udp, Some(lab.vc0)).unwrap();
        runs += 1;
        assert!(runs < 40_000, "ring never filled");
    }
    let flows = dp.flows().unwrap().len();
    let before = stats(&dp);
    let syn = syn4(43004, 80);
    let r = dp.test_run(&syn, Some(lab.vc0)).unwrap();
    assert_eq!(
        (r.verdict, r.frame.as_slice()),
        (XdpVerdict::Redirect, syn.as_slice())
    );
    assert_eq!(delta(&before, &dp, Stat::NewNoEvent), 1);
    assert_eq!(delta(&before, &dp, Stat::PuntNew), 1);
    assert_eq!(dp.flows().unwrap().len(), flows);
    assert_eq!(dp.pop_conn_id(), Some(51), "no id taken");
    // the ring drains: nothing but the sync records
    assert!(
        records(&mut dp)
            .iter()
            .all(|r| matches!(r, Record::Event(e) if e.conn_id == conn))
    );
}

#[test]
fn generic_mode_tc_forwards_the_first_packet() {
    require_root();
    let lab = Lab::new();
    let mut dp = setup(&lab);
    dp.set_tc_forwarding(lab.vc0, true).unwrap();
    dp.push_conn_id(60).unwrap();
    let input = syn4(44000, 80);
    let before = stats(&dp);
    let r = dp.test_run(&input, Some(lab.vc0)).unwrap();
    assert_eq!((r.verdict, &r.frame), (XdpVerdict::Pass, &input));
    assert_eq!(delta(&before, &dp, Stat::PassToTc), 1);
    assert_eq!(delta(&before, &dp, Stat::NewFast), 1);
    let recs = records(&mut dp);
    assert!(matches!(
        recs.as_slice(),
        [Record::New(NewConnEvent { conn_id: 60, .. })]
    ));
    assert_eq!(dp.conn(60).unwrap().state, 0, "NONE until lvs_tc accounts");
    let t = dp.test_run_tc(&input, Some(lab.vc0)).unwrap();
    assert_eq!(t.verdict, TcVerdict::Redirect);
    assert_eq!(
        t.frame,
        wire_rewrite(&input, None, Some((v4(RS4), 8080)), VR0_MAC, RS_MAC)
    );
    let recs = records(&mut dp);
    assert!(
        matches!(recs.as_slice(), [Record::Event(e)] if e.kind == EV_STATE && e.pkts == 1 && e.new_state == TcpState::SynRecv as u8),
        "{recs:?}"
    );
    assert_eq!(dp.conn(60).unwrap().pkts_in, 0);
}

/// A unicast frame to another host's MAC (a bridge flooding, PACKET_OTHERHOST for the
/// kernel) creates no connection and is not forwarded by lvs_xdp: it goes to the stack
/// untouched. Frames to the interface's own MAC are served; without an LVS_IFMACS entry
/// nothing is checked.
#[test]
fn frames_for_another_host_are_not_served() {
    require_root();
    let lab = Lab::new();
    let mut dp = setup(&lab);
    for id in [5, 6] {
        dp.push_conn_id(id).unwrap();
    }
    dp.set_if_mac(lab.vc0, VC0_MAC).unwrap();
    let other = [0x02, 0, 0, 0, 0x0c, 0x99];
    let stray = Builder::new(CLIENT_MAC, other)
        .ipv4(CLIENT4, VIP4)
        .tcp(43000, 80)
        .tcp_flags(TCP_SYN)
        .build();
    let before = stats(&dp);
    let r = dp.test_run(&stray, Some(lab.vc0)).unwrap();
    assert_eq!((r.verdict, &r.frame), (XdpVerdict::Pass, &stray));
    assert_eq!(delta(&before, &dp, Stat::PassOtherHost), 1);
    assert_eq!(delta(&before, &dp, Stat::NewFast), 0);
    assert_eq!(delta(&before, &dp, Stat::PuntNew), 0);
    assert!(dp.flows().unwrap().is_empty());
    assert!(records(&mut dp).is_empty());
    // The same SYN to the director's MAC is served; a later stray frame of that flow is
    // not forwarded either (lvs_xdp forwards by itself here: no TC forwarding).
    let mine = syn4(43000, 80);
    let r = dp.test_run(&mine, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Redirect);
    let before = stats(&dp);
    let r = dp.test_run(&stray, Some(lab.vc0)).unwrap();
    assert_eq!((r.verdict, &r.frame), (XdpVerdict::Pass, &stray));
    assert_eq!(delta(&before, &dp, Stat::PassOtherHost), 1);
    // An interface without an entry is not checked.
    dp.remove_if_mac(lab.vc0).unwrap();
    let r = dp.test_run(&stray, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Redirect, "no entry: forwarded");
}
