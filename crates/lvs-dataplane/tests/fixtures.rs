//! BPF_PROG_TEST_RUN fixtures for `lvs_xdp`, `lvs_tc` and `lvs_rs_decap`: input frame →
//! verdict and output bytes, where every expected output is produced by the Rust twin
//! (`lvs-wire`) from the same input. Run as root (`make test`); they fail, not skip,
//! otherwise.
//!
//! `lvs_tc` runs on the same inputs as `lvs_xdp`: what XDP forwards TC must forward with
//! the same bytes; what XDP punts TC cannot (no AF_XDP from TC) and either leaves alone
//! (not a flow hit) or drops; and `lvs_xdp` on a TC-forwarding interface passes exactly the
//! hits it would have forwarded.
//!
//! Each test makes its own throw-away network namespace ([`support::Lab`]) so that
//! `bpf_fib_lookup` sees a known topology; nothing is ever transmitted.

mod support;

use std::net::IpAddr;

use lvs_common::{
    CFG_SLOPPY_TCP, CFG_SYNC_MASTER, Config, ConnState, DestStats, EV_STATE, EV_SYNC, FlowKey,
    FlowValue, IPPROTO_TCP, IPPROTO_UDP, SVC_F_VADDR, Stat, SvcKey, SvcValue, action, dir,
};
use lvs_core::conn::tcp::{Direction, TcpState, transition};
use lvs_dataplane::{
    AttachedMode, Dataplane, RsDecap, TcRunOptions, TcVerdict, XdpModeChoice, XdpVerdict,
};
use lvs_wire::build::{Builder, ip_packet, verify_frame};
use lvs_wire::encap::Outer;
use support::*;

// ---- expected outputs through lvs-wire ---------------------------------------------------------

/// TUN: TTL - 1 then IPIP (or GUE with (sport, dport)) encapsulation.
fn wire_tun(input: &[u8], outer: Outer, gue: Option<(u16, u16)>) -> Vec<u8> {
    let mut f = input.to_vec();
    lvs_wire::decrement_ttl(&mut f).unwrap();
    let mut out = vec![0u8; f.len() + 128];
    let n = match gue {
        None => lvs_wire::encap_ipip(&f, &mut out, &outer).unwrap(),
        Some((s, d)) => lvs_wire::encap_gue(&f, &mut out, &outer, s, d).unwrap(),
    };
    out.truncate(n);
    out
}

// ---- the table ----------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum If {
    Vc0,
    Vr0,
}

struct Case {
    name: &'static str,
    ingress: If,
    input: Vec<u8>,
    verdict: XdpVerdict,
    /// `None`: the frame must come out unchanged.
    output: Option<Vec<u8>>,
    /// The outcome counter this frame must bump.
    stat: Stat,
    /// What `lvs_tc` does with it when that is not derived from the XDP outcome (see
    /// [`tc_expectation`]): verdict, output (`None`: unchanged), counter.
    tc: Option<(TcVerdict, Option<Vec<u8>>, Stat)>,
}

fn case(
    name: &'static str,
    ingress: If,
    input: Vec<u8>,
    verdict: XdpVerdict,
    output: Option<Vec<u8>>,
    stat: Stat,
) -> Case {
    Case {
        name,
        ingress,
        input,
        verdict,
        output,
        stat,
        tc: None,
    }
}

/// What `lvs_tc` does with a case's frame: forward what XDP forwards (same bytes), leave
/// alone what is no flow hit, drop the flow hits XDP punts (TC cannot punt; in generic mode
/// XDP has punted them before TC sees them).
fn tc_expectation(c: &Case) -> (TcVerdict, Option<Vec<u8>>, Stat) {
    if let Some(t) = &c.tc {
        return t.clone();
    }
    match (c.verdict, c.stat) {
        (XdpVerdict::Tx, _) => (TcVerdict::Redirect, c.output.clone(), Stat::FwdTx),
        (XdpVerdict::Redirect, _) => (TcVerdict::Redirect, c.output.clone(), Stat::FwdRedirect),
        (XdpVerdict::Pass, _) => (TcVerdict::Ok, None, Stat::TcPass),
        (_, Stat::DropAction) => (TcVerdict::Shot, None, Stat::DropAction),
        (_, Stat::PuntNew | Stat::PuntIcmp | Stat::PuntFrag) => (TcVerdict::Ok, None, Stat::TcPass),
        (
            _,
            Stat::PuntAction | Stat::PuntTtl | Stat::PuntFragNeeded | Stat::PuntFib | Stat::PuntPp,
        ) => (TcVerdict::Shot, None, Stat::TcDrop),
        (v, st) => panic!("{}: no TC expectation for {v:?} / {}", c.name, st.name()),
    }
}

fn tcp4(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    smac: [u8; 6],
    dmac: [u8; 6],
) -> Builder {
    Builder::new(smac, dmac).ipv4(src, dst).tcp(sport, dport)
}

fn tcp6(src: &str, sport: u16, dst: &str, dport: u16, smac: [u8; 6], dmac: [u8; 6]) -> Builder {
    Builder::new(smac, dmac)
        .ipv6(v6b(src), v6b(dst))
        .tcp(sport, dport)
}

fn udp4(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    smac: [u8; 6],
    dmac: [u8; 6],
) -> Builder {
    Builder::new(smac, dmac).ipv4(src, dst).udp(sport, dport)
}

fn udp6(src: &str, sport: u16, dst: &str, dport: u16, smac: [u8; 6], dmac: [u8; 6]) -> Builder {
    Builder::new(smac, dmac)
        .ipv6(v6b(src), v6b(dst))
        .udp(sport, dport)
}

/// One flow entry; conn ids and dest slots are taken from a counter so every flow has its own.
struct Flows<'a> {
    dp: &'a mut Dataplane,
    next: u32,
}

impl Flows<'_> {
    fn add(&mut self, key: FlowKey, mut value: FlowValue) -> u32 {
        self.next += 1;
        value.conn_id = self.next;
        value.dest_slot = self.next % 64;
        self.dp.insert_flow(&key, &value).unwrap();
        self.dp.set_conn(self.next, &ConnState::default()).unwrap();
        self.next
    }
}

fn fv(act: u8, d: u8) -> FlowValue {
    FlowValue::new(act, d, 0, 0, 0)
}

/// Install the flows and services of the table and return the cases.
fn fixture_table(dp: &mut Dataplane, lab: &Lab) -> Vec<Case> {
    use XdpVerdict::*;
    let c4 = v4(CLIENT4);
    let vip4 = v4(VIP4);
    let rs4 = v4(RS4);
    let lip4 = v4(DIR_R4);
    let c6 = v6(CLIENT6);
    let vip6 = v6(VIP6);
    let rs6 = v6(RS6);
    let lip6 = v6(DIR_R6);
    let mut cases = Vec::new();
    let mut flows = Flows { dp, next: 0 };

    // Services: TCP and UDP VIP:80, a port-0 TCP service on .101, the VIP markers.
    for (p, a, port) in [
        (IPPROTO_TCP, vip4, 80),
        (IPPROTO_UDP, vip4, 53),
        (IPPROTO_TCP, vip6, 80),
        (IPPROTO_TCP, v4([10, 0, 0, 101]), 0),
    ] {
        flows
            .dp
            .insert_service(
                &SvcKey::new(p, a, port),
                &SvcValue {
                    svc_id: 1,
                    flags: 0,
                },
            )
            .unwrap();
    }
    for a in [vip4, vip6] {
        flows
            .dp
            .insert_service(
                &SvcKey::vaddr_marker(a),
                &SvcValue {
                    svc_id: 0,
                    flags: SVC_F_VADDR,
                },
            )
            .unwrap();
    }
    flows.dp.set_ifslot(lab.vc0, 0).unwrap();
    flows.dp.set_ifslot(lab.vr0, 1).unwrap();

    // ---- NAT (masquerading) -----------------------------------------------------------------
    for (name_in, name_out, proto, cport, input, reply) in [
        (
            "NAT in TCP IPv4",
            "NAT out TCP IPv4",
            IPPROTO_TCP,
            40000,
            tcp4(CLIENT4, 40000, VIP4, 80, CLIENT_MAC, VC0_MAC)
                .payload(b"GET / HTTP/1.0\r\n\r\n")
                .build(),
            tcp4(RS4, 8080, CLIENT4, 40000, RS_MAC, VR0_MAC)
                .payload(b"HTTP/1.0 200 OK\r\n")
                .build(),
        ),
        (
            "NAT in UDP IPv4",
            "NAT out UDP IPv4",
            IPPROTO_UDP,
            40001,
            udp4(CLIENT4, 40001, VIP4, 80, CLIENT_MAC, VC0_MAC)
                .payload(b"query")
                .build(),
            udp4(RS4, 8080, CLIENT4, 40001, RS_MAC, VR0_MAC)
                .payload(b"answer")
                .build(),
        ),
        (
            "NAT in UDP IPv4, checksum 0 stays 0, Ethernet padding kept",
            "NAT out UDP IPv4, checksum 0 stays 0",
            IPPROTO_UDP,
            40002,
            udp4(CLIENT4, 40002, VIP4, 80, CLIENT_MAC, VC0_MAC)
                .udp_no_checksum()
                .payload(b"q")
                .pad_to(60)
                .build(),
            udp4(RS4, 8080, CLIENT4, 40002, RS_MAC, VR0_MAC)
                .udp_no_checksum()
                .payload(b"a")
                .build(),
        ),
        (
            "NAT in TCP IPv4 with IP options",
            "NAT out TCP IPv4 with IP options",
            IPPROTO_TCP,
            40003,
            tcp4(CLIENT4, 40003, VIP4, 80, CLIENT_MAC, VC0_MAC)
                .ip_options(&[1, 1, 1, 0])
                .payload(b"x")
                .build(),
            tcp4(RS4, 8080, CLIENT4, 40003, RS_MAC, VR0_MAC)
                .ip_options(&[7, 3, 4, 0])
                .payload(b"y")
                .build(),
        ),
    ] {
        let key_in = FlowKey::new(proto, c4, cport, vip4, 80);
        flows.add(key_in, fv(action::NAT_IN, dir::INPUT).with_dst(rs4, 8080));
        let key_out = FlowKey::new(proto, rs4, 8080, c4, cport);
        flows.add(key_out, fv(action::NAT_OUT, dir::OUTPUT).with_src(vip4, 80));
        let out_in = wire_rewrite(&input, None, Some((rs4, 8080)), VR0_MAC, RS_MAC);
        let out_out = wire_rewrite(&reply, Some((vip4, 80)), None, VC0_MAC, CLIENT_MAC);
        cases.push(case(
            name_in,
            If::Vc0,
            input,
            Redirect,
            Some(out_in),
            Stat::FwdRedirect,
        ));
        cases.push(case(
            name_out,
            If::Vr0,
            reply,
            Redirect,
            Some(out_out),
            Stat::FwdRedirect,
        ));
    }
    for (name_in, name_out, proto, cport, input, reply) in [
        (
            "NAT in TCP IPv6",
            "NAT out TCP IPv6",
            IPPROTO_TCP,
            41000,
            tcp6(CLIENT6, 41000, VIP6, 80, CLIENT_MAC, VC0_MAC)
                .payload(b"GET /")
                .build(),
            tcp6(RS6, 8080, CLIENT6, 41000, RS_MAC, VR0_MAC)
                .payload(b"200")
                .build(),
        ),
        (
            "NAT in UDP IPv6",
            "NAT out UDP IPv6",
            IPPROTO_UDP,
            41001,
            udp6(CLIENT6, 41001, VIP6, 80, CLIENT_MAC, VC0_MAC)
                .payload(b"query")
                .build(),
            udp6(RS6, 8080, CLIENT6, 41001, RS_MAC, VR0_MAC)
                .payload(b"answer")
                .build(),
        ),
    ] {
        flows.add(
            FlowKey::new(proto, c6, cport, vip6, 80),
            fv(action::NAT_IN, dir::INPUT).with_dst(rs6, 8080),
        );
        flows.add(
            FlowKey::new(proto, rs6, 8080, c6, cport),
            fv(action::NAT_OUT, dir::OUTPUT).with_src(vip6, 80),
        );
        let out_in = wire_rewrite(&input, None, Some((rs6, 8080)), VR0_MAC, RS_MAC);
        let out_out = wire_rewrite(&reply, Some((vip6, 80)), None, VC0_MAC, CLIENT_MAC);
        cases.push(case(
            name_in,
            If::Vc0,
            input,
            Redirect,
            Some(out_in),
            Stat::FwdRedirect,
        ));
        cases.push(case(
            name_out,
            If::Vr0,
            reply,
            Redirect,
            Some(out_out),
            Stat::FwdRedirect,
        ));
    }

    // ---- FULLNAT ---------------------------------------------------------------------------------
    for (af6, proto, cport, input, reply) in [
        (
            false,
            IPPROTO_TCP,
            42000,
            tcp4(CLIENT4, 42000, VIP4, 80, CLIENT_MAC, VC0_MAC)
                .payload(b"hello")
                .build(),
            tcp4(RS4, 8080, DIR_R4, 5000, RS_MAC, VR0_MAC)
                .payload(b"world")
                .build(),
        ),
        (
            false,
            IPPROTO_UDP,
            42001,
            udp4(CLIENT4, 42001, VIP4, 80, CLIENT_MAC, VC0_MAC)
                .payload(b"hello")
                .build(),
            udp4(RS4, 8080, DIR_R4, 5001, RS_MAC, VR0_MAC)
                .payload(b"world")
                .build(),
        ),
        (
            true,
            IPPROTO_TCP,
            42002,
            tcp6(CLIENT6, 42002, VIP6, 80, CLIENT_MAC, VC0_MAC)
                .payload(b"hello")
                .build(),
            tcp6(RS6, 8080, DIR_R6, 5002, RS_MAC, VR0_MAC)
                .payload(b"world")
                .build(),
        ),
    ] {
        let (c, vip, rs, lip) = if af6 {
            (c6, vip6, rs6, lip6)
        } else {
            (c4, vip4, rs4, lip4)
        };
        let lport = 5000 + (cport - 42000);
        flows.add(
            FlowKey::new(proto, c, cport, vip, 80),
            fv(action::FNAT_IN, dir::INPUT)
                .with_src(lip, lport)
                .with_dst(rs, 8080),
        );
        flows.add(
            FlowKey::new(proto, rs, 8080, lip, lport),
            fv(action::FNAT_OUT, dir::OUTPUT)
                .with_src(vip, 80)
                .with_dst(c, cport),
        );
        let out_in = wire_rewrite(
            &input,
            Some((lip, lport)),
            Some((rs, 8080)),
            VR0_MAC,
            RS_MAC,
        );
        let out_out = wire_rewrite(
            &reply,
            Some((vip, 80)),
            Some((c, cport)),
            VC0_MAC,
            CLIENT_MAC,
        );
        let (n_in, n_out) = match (af6, proto) {
            (false, IPPROTO_TCP) => ("FULLNAT in TCP IPv4", "FULLNAT out TCP IPv4"),
            (false, _) => ("FULLNAT in UDP IPv4", "FULLNAT out UDP IPv4"),
            _ => ("FULLNAT in TCP IPv6", "FULLNAT out TCP IPv6"),
        };
        cases.push(case(
            n_in,
            If::Vc0,
            input,
            Redirect,
            Some(out_in),
            Stat::FwdRedirect,
        ));
        cases.push(case(
            n_out,
            If::Vr0,
            reply,
            Redirect,
            Some(out_out),
            Stat::FwdRedirect,
        ));
    }

    // ---- DR -------------------------------------------------------------------------------------
    let input = tcp4(CLIENT4, 43000, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .payload(b"dr")
        .build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 43000, vip4, 80),
        fv(action::DR, dir::INPUT_ONLY).with_dst(rs4, 0),
    );
    let out = wire_rewrite(&input, None, None, VR0_MAC, RS_MAC);
    cases.push(case(
        "DR TCP IPv4 (other interface)",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));

    let input = tcp4(CLIENT4, 43001, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .payload(b"dr")
        .build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 43001, vip4, 80),
        fv(action::DR, dir::INPUT_ONLY).with_dst(v4(RS4_NEAR), 0),
    );
    let out = wire_rewrite(&input, None, None, VC0_MAC, RS_NEAR_MAC);
    cases.push(case(
        "DR TCP IPv4 (same interface: XDP_TX)",
        If::Vc0,
        input,
        Tx,
        Some(out),
        Stat::FwdTx,
    ));

    let input = udp6(CLIENT6, 43002, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .payload(b"dr6")
        .build();
    flows.add(
        FlowKey::new(IPPROTO_UDP, c6, 43002, vip6, 80),
        fv(action::DR, dir::INPUT_ONLY).with_dst(rs6, 0),
    );
    let out = wire_rewrite(&input, None, None, VR0_MAC, RS_MAC);
    cases.push(case(
        "DR UDP IPv6",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));

    // ---- TUN --------------------------------------------------------------------------------------
    let outer4 = Outer {
        src_mac: VR0_MAC,
        dst_mac: RS_MAC,
        src: lip4,
        dst: rs4,
    };
    let outer6 = Outer {
        src_mac: VR0_MAC,
        dst_mac: RS_MAC,
        src: lip6,
        dst: rs6,
    };
    let tun = |act: u8, outer: &Outer| {
        fv(act, dir::INPUT_ONLY)
            .with_src(outer.src, 0)
            .with_dst(outer.dst, 0)
    };

    let input = tcp4(CLIENT4, 44000, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tos(0x2b)
        .payload(b"tun 4in4")
        .build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 44000, vip4, 80),
        tun(action::TUN_IPIP, &outer4),
    );
    let out = wire_tun(&input, outer4, None);
    cases.push(case(
        "TUN IPIP 4in4 (ECN CE -> ECT(0) outer)",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));

    let input = udp4(CLIENT4, 44001, VIP4, 53, CLIENT_MAC, VC0_MAC)
        .df(false)
        .payload(b"q")
        .pad_to(60)
        .build();
    flows.add(
        FlowKey::new(IPPROTO_UDP, c4, 44001, vip4, 53),
        tun(action::TUN_IPIP, &outer4),
    );
    let out = wire_tun(&input, outer4, None);
    cases.push(case(
        "TUN IPIP 4in4 UDP, no DF, padding trimmed",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));

    let input = tcp6(CLIENT6, 44002, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .tos(0xbb)
        .payload(b"tun 6in6")
        .build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c6, 44002, vip6, 80),
        tun(action::TUN_IPIP, &outer6),
    );
    let out = wire_tun(&input, outer6, None);
    cases.push(case(
        "TUN IPIP 6in6 (traffic class CE -> ECT(0))",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));

    let input = tcp4(CLIENT4, 44003, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .payload(b"tun 4in6")
        .build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 44003, vip4, 80),
        tun(action::TUN_IPIP, &outer6),
    );
    let out = wire_tun(&input, outer6, None);
    cases.push(case(
        "TUN IPIP 4in6",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));

    let input = tcp6(CLIENT6, 44004, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .tos(0x49)
        .payload(b"tun 6in4")
        .build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c6, 44004, vip6, 80),
        tun(action::TUN_IPIP, &outer4),
    );
    let out = wire_tun(&input, outer4, None);
    cases.push(case(
        "TUN IPIP 6in4",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));

    let input = tcp4(CLIENT4, 44005, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .payload(b"tun gue")
        .build();
    let mut gue = tun(action::TUN_GUE, &outer4);
    gue.new_sport = 49152u16.to_be();
    gue.tun_port = 6080u16.to_be();
    flows.add(FlowKey::new(IPPROTO_TCP, c4, 44005, vip4, 80), gue);
    let out = wire_tun(&input, outer4, Some((49152, 6080)));
    cases.push(case(
        "TUN GUE 4in4",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));

    let input = tcp6(CLIENT6, 44006, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .payload(b"gue6")
        .build();
    let mut gue6 = tun(action::TUN_GUE, &outer6);
    gue6.tun_port = 6080u16.to_be();
    flows.add(FlowKey::new(IPPROTO_TCP, c6, 44006, vip6, 80), gue6);
    cases.push(case(
        "TUN GUE with IPv6 outer -> punt",
        If::Vc0,
        input,
        Drop,
        None,
        Stat::PuntAction,
    ));

    // ---- DROP / PUNT actions -------------------------------------------------------------------------
    let input = tcp4(CLIENT4, 45000, VIP4, 80, CLIENT_MAC, VC0_MAC).build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 45000, vip4, 80),
        fv(action::DROP, dir::INPUT),
    );
    cases.push(case(
        "DROP action",
        If::Vc0,
        input,
        Drop,
        None,
        Stat::DropAction,
    ));

    let input = tcp4(CLIENT4, 45001, VIP4, 80, CLIENT_MAC, VC0_MAC).build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 45001, vip4, 80),
        fv(action::PUNT, dir::INPUT),
    );
    cases.push(case(
        "PUNT action (no XSK bound: XDP_DROP)",
        If::Vc0,
        input,
        Drop,
        None,
        Stat::PuntAction,
    ));

    // ---- misses -------------------------------------------------------------------------------------
    let syn = tcp4(CLIENT4, 46000, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_SYN)
        .build();
    cases.push(case(
        "miss, service, SYN -> punt (no XSK: XDP_DROP)",
        If::Vc0,
        syn,
        Drop,
        None,
        Stat::PuntNew,
    ));
    let syn6 = tcp6(CLIENT6, 46000, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_SYN)
        .build();
    cases.push(case(
        "miss, service, SYN IPv6 -> punt",
        If::Vc0,
        syn6,
        Drop,
        None,
        Stat::PuntNew,
    ));
    let udp = udp4(CLIENT4, 46001, VIP4, 53, CLIENT_MAC, VC0_MAC)
        .payload(b"q")
        .build();
    cases.push(case(
        "miss, UDP service -> punt",
        If::Vc0,
        udp,
        Drop,
        None,
        Stat::PuntNew,
    ));
    let syn_port0 = tcp4(CLIENT4, 46002, [10, 0, 0, 101], 2222, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_SYN)
        .build();
    cases.push(case(
        "miss, port-0 service, SYN -> punt",
        If::Vc0,
        syn_port0,
        Drop,
        None,
        Stat::PuntNew,
    ));
    let ack = tcp4(CLIENT4, 46003, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_ACK)
        .build();
    cases.push(case(
        "miss, service, ACK -> pass",
        If::Vc0,
        ack,
        Pass,
        None,
        Stat::PassNonSyn,
    ));
    let synrst = tcp4(CLIENT4, 46004, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_SYN | TCP_RST)
        .build();
    cases.push(case(
        "miss, service, SYN+RST -> pass",
        If::Vc0,
        synrst,
        Pass,
        None,
        Stat::PassNonSyn,
    ));
    let other = tcp4(CLIENT4, 46005, VIP4, 443, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_SYN)
        .build();
    cases.push(case(
        "not a service (other port) -> pass",
        If::Vc0,
        other,
        Pass,
        None,
        Stat::PassNotOurs,
    ));
    let ssh = tcp4(CLIENT4, 46006, DIR_C4, 22, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_SYN)
        .build();
    cases.push(case(
        "director's own ssh -> pass",
        If::Vc0,
        ssh,
        Pass,
        None,
        Stat::PassNotOurs,
    ));
    cases.push(case(
        "ARP -> pass",
        If::Vc0,
        arp_request(),
        Pass,
        None,
        Stat::PassNotOurs,
    ));
    let vrrp = Builder::new(CLIENT_MAC, [0x01, 0, 0x5e, 0, 0, 0x12])
        .ipv4(CLIENT4, [224, 0, 0, 18])
        .raw(112)
        .payload(&[0x21, 1, 100, 1, 0, 1, 0, 0, 10, 0, 0, 100])
        .build();
    cases.push(case(
        "VRRP -> pass",
        If::Vc0,
        vrrp,
        Pass,
        None,
        Stat::PassNotOurs,
    ));
    let hbh = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv6(v6b(CLIENT6), v6b(VIP6))
        .raw(0)
        .payload(&[6, 0, 1, 4, 0, 0, 0, 0])
        .build();
    cases.push(case(
        "IPv6 extension header -> pass",
        If::Vc0,
        hbh,
        Pass,
        None,
        Stat::PassUnsupported,
    ));
    let mut short = tcp4(CLIENT4, 46007, VIP4, 80, CLIENT_MAC, VC0_MAC).build();
    short.truncate(40);
    cases.push(case(
        "truncated IPv4 -> pass (parse error)",
        If::Vc0,
        short,
        Pass,
        None,
        Stat::ParseError,
    ));

    // ---- slow-path cases of a known flow -----------------------------------------------------------
    let ttl1 = tcp4(CLIENT4, 40000, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .ttl(1)
        .build();
    cases.push(case(
        "TTL 1 on a flow -> punt",
        If::Vc0,
        ttl1,
        Drop,
        None,
        Stat::PuntTtl,
    ));
    let hl1 = tcp6(CLIENT6, 41000, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .ttl(1)
        .build();
    cases.push(case(
        "hop limit 1 on a flow -> punt",
        If::Vc0,
        hl1,
        Drop,
        None,
        Stat::PuntTtl,
    ));

    let input = tcp4(CLIENT4, 47000, VIP4, 80, CLIENT_MAC, VC0_MAC).build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 47000, vip4, 80),
        fv(action::NAT_IN, dir::INPUT).with_dst(v4(RS4_NONEIGH), 80),
    );
    // lvs_tc: the neighbour entry vanished after lvs_xdp checked: bpf_redirect_neigh, the
    // kernel resolves it and writes the MACs (unchanged here).
    let tc_out = wire_rewrite(
        &input,
        None,
        Some((v4(RS4_NONEIGH), 80)),
        CLIENT_MAC,
        VC0_MAC,
    );
    cases.push(case(
        "next hop without neighbour entry -> punt",
        If::Vc0,
        input,
        Drop,
        None,
        Stat::PuntFib,
    ));
    cases.last_mut().unwrap().tc = Some((TcVerdict::Redirect, Some(tc_out), Stat::TcFwdNeigh));

    let input = tcp4(CLIENT4, 47001, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .payload(&[0u8; 600])
        .build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 47001, vip4, 80),
        fv(action::NAT_IN, dir::INPUT).with_dst(v4(RS4_SMALLMTU), 80),
    );
    cases.push(case(
        "larger than route MTU (DF) -> punt",
        If::Vc0,
        input,
        Drop,
        None,
        Stat::PuntFragNeeded,
    ));

    let input = tcp4(CLIENT4, 47002, VIP4, 80, CLIENT_MAC, VC0_MAC).build();
    flows.add(
        FlowKey::new(IPPROTO_TCP, c4, 47002, vip4, 80),
        fv(action::NAT_IN, dir::INPUT).with_dst(v4(DIR_R4), 80),
    );
    cases.push(case(
        "new destination is local -> punt",
        If::Vc0,
        input,
        Drop,
        None,
        Stat::PuntFib,
    ));

    // ICMP errors: a router tells the director that its reply VIP:80 -> client:40000 could
    // not be delivered; the quote inverted is the NAT-in flow.
    let quoted = tcp4(VIP4, 80, CLIENT4, 40000, VC0_MAC, CLIENT_MAC).build();
    let quote = &ip_packet(&quoted)[..28];
    let icmp = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv4([10, 0, 0, 254], VIP4)
        .icmp(3, 1, 0)
        .payload(quote)
        .build();
    cases.push(case(
        "ICMP error about a flow -> punt",
        If::Vc0,
        icmp,
        Drop,
        None,
        Stat::PuntIcmp,
    ));
    let quoted = tcp6(VIP6, 80, CLIENT6, 41000, VC0_MAC, CLIENT_MAC).build();
    let quote = &ip_packet(&quoted)[..48];
    let icmp6 = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv6(v6b("fd00::fe"), v6b(VIP6))
        .icmp(1, 3, 0)
        .payload(quote)
        .build();
    cases.push(case(
        "ICMPv6 error about a flow -> punt",
        If::Vc0,
        icmp6,
        Drop,
        None,
        Stat::PuntIcmp,
    ));
    let quoted = tcp4(VIP4, 80, CLIENT4, 39999, VC0_MAC, CLIENT_MAC).build();
    let quote = &ip_packet(&quoted)[..28];
    let icmp = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv4([10, 0, 0, 254], VIP4)
        .icmp(3, 1, 0)
        .payload(quote)
        .build();
    cases.push(case(
        "ICMP error about no flow -> pass",
        If::Vc0,
        icmp,
        Pass,
        None,
        Stat::PassNotOurs,
    ));
    let echo = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv4(CLIENT4, VIP4)
        .icmp(8, 0, 0x0001_0001)
        .payload(b"ping")
        .build();
    cases.push(case(
        "ICMP echo to the VIP -> pass",
        If::Vc0,
        echo,
        Pass,
        None,
        Stat::PassNotOurs,
    ));

    let frag = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv4(CLIENT4, VIP4)
        .fragment(1480, false)
        .raw(17)
        .payload(b"tail")
        .build();
    cases.push(case(
        "IPv4 fragment to a VIP -> punt",
        If::Vc0,
        frag,
        Drop,
        None,
        Stat::PuntFrag,
    ));
    let frag6 = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv6(v6b(CLIENT6), v6b(VIP6))
        .fragment(0, true)
        .udp(1, 2)
        .payload(b"head")
        .build();
    cases.push(case(
        "IPv6 fragment to a VIP -> punt",
        If::Vc0,
        frag6,
        Drop,
        None,
        Stat::PuntFrag,
    ));
    let frag = Builder::new(CLIENT_MAC, VC0_MAC)
        .ipv4(CLIENT4, DIR_C4)
        .fragment(8, true)
        .raw(17)
        .payload(b"x")
        .build();
    cases.push(case(
        "IPv4 fragment to another address -> pass",
        If::Vc0,
        frag,
        Pass,
        None,
        Stat::PassNotOurs,
    ));

    cases
}

fn ingress(lab: &Lab, i: If) -> u32 {
    match i {
        If::Vc0 => lab.vc0,
        If::Vr0 => lab.vr0,
    }
}

/// Check one run against its expectation: verdict, output bytes (with valid checksums when
/// rewritten), the counter and the "seen" counter each bumped once.
#[allow(clippy::too_many_arguments)]
fn check_run(
    dp: &Dataplane,
    name: &str,
    got: (String, &[u8]),
    want: (String, &[u8], bool),
    stat: (Stat, u64),
    seen: (Stat, u64),
    failures: &mut Vec<String>,
) {
    let mut why = Vec::new();
    if got.0 != want.0 {
        why.push(format!("verdict {}, expected {}", got.0, want.0));
    }
    if got.1 != want.1 {
        why.push(format!("output differs: {}", diff(want.1, got.1)));
    }
    // (only rewritten frames: the verifier of the builder expects well-formed ones)
    if want.2
        && let Err(e) = verify_frame(got.1)
    {
        why.push(format!("bad checksum in output: {e}"));
    }
    let after = dp.stat(stat.0).unwrap();
    if after != stat.1 + 1 {
        why.push(format!(
            "counter {} went {} -> {after}",
            stat.0.name(),
            stat.1
        ));
    }
    if dp.stat(seen.0).unwrap() != seen.1 + 1 {
        why.push(format!("{} not counted", seen.0.name()));
    }
    println!(
        "{:<60} {:<10} {}",
        name,
        got.0,
        if why.is_empty() { "ok" } else { "FAILED" }
    );
    if !why.is_empty() {
        failures.push(format!("{name}: {}", why.join("; ")));
    }
}

fn assert_no_failures(failures: &[String], n: usize) {
    println!("{n} fixture cases");
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn xdp_fixture_table() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let cases = fixture_table(&mut dp, &lab);
    let mut failures = Vec::new();
    for c in &cases {
        let before = dp.stat(c.stat).unwrap();
        let rx_before = dp.stat(Stat::Rx).unwrap();
        let r = dp
            .test_run(&c.input, Some(ingress(&lab, c.ingress)))
            .unwrap();
        let want = c.output.as_deref().unwrap_or(&c.input);
        check_run(
            &dp,
            c.name,
            (format!("{:?}", r.verdict), &r.frame),
            (format!("{:?}", c.verdict), want, c.output.is_some()),
            (c.stat, before),
            (Stat::Rx, rx_before),
            &mut failures,
        );
    }
    assert_no_failures(&failures, cases.len());
    // Every punt found a slot (both interfaces have one) but no socket.
    assert!(dp.stat(Stat::DropNoXsk).unwrap() > 0);
    assert_eq!(dp.stat(Stat::XskRedirect).unwrap(), 0);
    assert_eq!(dp.stat(Stat::PassToTc).unwrap(), 0);
}

/// `lvs_tc` on every frame of the table: forwards what XDP forwards, byte for byte.
#[test]
fn tc_fixture_table() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let cases = fixture_table(&mut dp, &lab);
    let mut failures = Vec::new();
    for c in &cases {
        let (verdict, output, stat) = tc_expectation(c);
        let before = dp.stat(stat).unwrap();
        let rx_before = dp.stat(Stat::TcRx).unwrap();
        let r = dp
            .test_run_tc(&c.input, Some(ingress(&lab, c.ingress)))
            .unwrap();
        let want = output.as_deref().unwrap_or(&c.input);
        check_run(
            &dp,
            c.name,
            (format!("{:?}", r.verdict), &r.frame),
            (format!("{verdict:?}"), want, output.is_some()),
            (stat, before),
            (Stat::TcRx, rx_before),
            &mut failures,
        );
    }
    assert_no_failures(&failures, cases.len());
    // TC never touches the XDP-only counters.
    assert_eq!(dp.stat(Stat::Rx).unwrap(), 0);
    assert_eq!(dp.stat(Stat::DropNoXsk).unwrap(), 0);
}

/// `lvs_xdp` on interfaces flagged for TC forwarding: every hit it would forward, and a hit
/// whose next hop has no neighbour entry (`lvs_tc` uses `bpf_redirect_neigh`), is passed
/// untouched (`pass_to_tc`); everything else (the other punts) is unchanged.
#[test]
fn xdp_fixture_table_with_tc_forwarding() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let cases = fixture_table(&mut dp, &lab);
    for ifx in [lab.vc0, lab.vr0] {
        assert!(!dp.tc_forwarding(ifx).unwrap());
        dp.set_tc_forwarding(ifx, true).unwrap();
        assert!(dp.tc_forwarding(ifx).unwrap());
    }
    let mut failures = Vec::new();
    let mut passed = 0;
    for c in &cases {
        // exactly what lvs_tc forwards (the no-neighbour case included: bpf_redirect_neigh)
        let (verdict, output, stat) = match tc_expectation(c).0 {
            TcVerdict::Redirect => {
                passed += 1;
                (XdpVerdict::Pass, None, Stat::PassToTc)
            }
            _ => (c.verdict, c.output.clone(), c.stat),
        };
        let before = dp.stat(stat).unwrap();
        let rx_before = dp.stat(Stat::Rx).unwrap();
        let r = dp
            .test_run(&c.input, Some(ingress(&lab, c.ingress)))
            .unwrap();
        let want = output.as_deref().unwrap_or(&c.input);
        check_run(
            &dp,
            c.name,
            (format!("{:?}", r.verdict), &r.frame),
            (format!("{verdict:?}"), want, output.is_some()),
            (stat, before),
            (Stat::Rx, rx_before),
            &mut failures,
        );
    }
    assert_no_failures(&failures, cases.len());
    assert!(passed >= 20, "{passed} forwarding cases");
    assert_eq!(
        dp.stat(Stat::FwdTx).unwrap() + dp.stat(Stat::FwdRedirect).unwrap(),
        0
    );
    // No accounting in XDP for what TC forwards (TC accounts).
    assert_eq!(dp.conn(1).unwrap().pkts_in, 0);
    dp.set_tc_forwarding(lab.vc0, false).unwrap();
    dp.set_tc_forwarding(lab.vc0, false).unwrap(); // clearing twice is fine
    assert!(!dp.tc_forwarding(lab.vc0).unwrap());
}

/// A punt on an interface without an ifslot is dropped the same way (never passed).
#[test]
fn punt_without_ifslot_is_dropped() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    dp.insert_service(
        &SvcKey::new(IPPROTO_TCP, v4(VIP4), 80),
        &SvcValue::default(),
    )
    .unwrap();
    let syn = tcp4(CLIENT4, 1234, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_SYN)
        .build();
    let r = dp.test_run(&syn, Some(lab.vc0)).unwrap();
    assert_eq!(r.verdict, XdpVerdict::Drop);
    assert_eq!(dp.stat(Stat::PuntNew).unwrap(), 1);
    assert_eq!(dp.stat(Stat::DropNoXsk).unwrap(), 1);
    // sloppy_tcp: a non-SYN, non-RST segment may start a connection.
    let ack = tcp4(CLIENT4, 1235, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_ACK)
        .build();
    assert_eq!(
        dp.test_run(&ack, Some(lab.vc0)).unwrap().verdict,
        XdpVerdict::Pass
    );
    dp.set_config(&Config {
        flags: CFG_SLOPPY_TCP,
        ..Config::default()
    })
    .unwrap();
    assert_eq!(dp.config().unwrap().flags, CFG_SLOPPY_TCP);
    assert_eq!(
        dp.test_run(&ack, Some(lab.vc0)).unwrap().verdict,
        XdpVerdict::Drop
    );
    let rst = tcp4(CLIENT4, 1236, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_RST)
        .build();
    assert_eq!(
        dp.test_run(&rst, Some(lab.vc0)).unwrap().verdict,
        XdpVerdict::Pass
    );
    assert_eq!(dp.stat(Stat::PuntNew).unwrap(), 2);
    assert_eq!(dp.stat(Stat::PassNonSyn).unwrap(), 2);
}

/// Which of the director's programs a test drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Prog {
    Xdp,
    Tc,
}

/// One run of `prog` on `frame` received on `ifx`: the verdict (as text), whether it
/// forwarded the packet, and the frame as it left.
fn run(dp: &mut Dataplane, prog: Prog, frame: &[u8], ifx: u32) -> (String, bool, Vec<u8>) {
    match prog {
        Prog::Xdp => {
            let r = dp.test_run(frame, Some(ifx)).unwrap();
            let fwd = matches!(r.verdict, XdpVerdict::Tx | XdpVerdict::Redirect);
            (format!("{:?}", r.verdict), fwd, r.frame)
        }
        Prog::Tc => {
            let r = dp.test_run_tc(frame, Some(ifx)).unwrap();
            let fwd = r.verdict == TcVerdict::Redirect;
            (format!("{:?}", r.verdict), fwd, r.frame)
        }
    }
}

/// xorshift64*: a deterministic generator for the randomized comparison below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        for x in &mut b {
            *x = self.next() as u8;
        }
        b
    }
}

/// Random TCP/UDP frames (IPv4 with and without options, IPv6; random ports, TTL, TOS,
/// payload, and often a deliberately wrong or edge-value checksum: 0, 0xffff, random)
/// through the four NAT/FULLNAT actions: XDP's output must equal lvs-wire's byte for byte.
#[test]
fn nat_rewrites_match_lvs_wire_on_random_frames() {
    random_frames(Prog::Xdp);
}

/// The same 3000 random frames through `lvs_tc` (whose checksum updates are the kernel's
/// helpers): byte for byte as lvs-wire.
#[test]
fn tc_nat_rewrites_match_lvs_wire_on_random_frames() {
    random_frames(Prog::Tc);
}

fn random_frames(prog: Prog) {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let mut rng = Rng(0x1f2e_3d4c_5b6a_7988);
    const N: usize = 3000;
    let mut by_action = [0usize; 4];
    for i in 0..N {
        let is_v6 = rng.below(3) == 0;
        let udp = rng.below(2) == 0;
        let act = [
            action::NAT_IN,
            action::NAT_OUT,
            action::FNAT_IN,
            action::FNAT_OUT,
        ][rng.below(4) as usize];
        // next hop: (new or unchanged destination, egress MACs)
        let hops4 = [
            (v4(RS4), VR0_MAC, RS_MAC),
            (v4(RS4_NEAR), VC0_MAC, RS_NEAR_MAC),
            (v4(CLIENT4), VC0_MAC, CLIENT_MAC),
        ];
        let hops6 = [
            (v6(RS6), VR0_MAC, RS_MAC),
            (v6(CLIENT6), VC0_MAC, CLIENT_MAC),
        ];
        let (dst, smac, dmac) = if is_v6 {
            hops6[rng.below(2) as usize]
        } else {
            hops4[rng.below(3) as usize]
        };
        // random unicast addresses outside the lab's subnets (a multicast or loopback source
        // would rightly make the FIB lookup fail)
        let rand_addr = |rng: &mut Rng| -> IpAddr {
            if is_v6 {
                let mut a = rng.bytes::<16>();
                a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                IpAddr::from(a)
            } else {
                let a = rng.bytes::<4>();
                IpAddr::from([10, 100 + a[1] % 100, a[2], a[3]])
            }
        };
        let src = rand_addr(&mut rng);
        // NAT_OUT keeps the destination, so the packet must already be addressed to `dst`.
        let pkt_dst = if act == action::NAT_OUT {
            dst
        } else {
            rand_addr(&mut rng)
        };
        let (sport, dport) = (rng.next() as u16, rng.next() as u16);
        let (nsrc, nsport, ndport) = (rand_addr(&mut rng), rng.next() as u16, rng.next() as u16);
        let payload: Vec<u8> = (0..rng.below(80)).map(|_| rng.next() as u8).collect();
        let mut b = Builder::new(CLIENT_MAC, VC0_MAC);
        b = match (src, pkt_dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => b.ipv4(s.octets(), d.octets()),
            (IpAddr::V6(s), IpAddr::V6(d)) => b.ipv6(s.octets(), d.octets()),
            _ => unreachable!(),
        };
        b = b.ttl(2 + rng.below(254) as u8).tos(rng.next() as u8);
        if !is_v6 && rng.below(4) == 0 {
            b = b.ip_options(&[1, 1, 1, 0]);
        }
        b = if udp {
            b.udp(sport, dport)
        } else {
            b.tcp(sport, dport).tcp_flags(rng.next() as u16 & 0x1f)
        };
        if udp && !is_v6 && rng.below(4) == 0 {
            b = b.udp_no_checksum();
        }
        let mut frame = b.payload(&payload).build();
        let info = lvs_wire::parse_frame(&frame).unwrap();
        let csum_at = info.l4_offset + if udp { 6 } else { 16 };
        let is_zero_udp = udp && frame[csum_at..csum_at + 2] == [0, 0];
        if !is_zero_udp && rng.below(3) == 0 {
            let c: u16 = [0, 0xffff, rng.next() as u16][rng.below(3) as usize];
            frame[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
        }
        let proto = if udp { IPPROTO_UDP } else { IPPROTO_TCP };
        let key = FlowKey::new(proto, src, sport, pkt_dst, dport);
        let (new_src, new_dst) = match act {
            action::NAT_IN => (None, Some((dst, ndport))),
            action::NAT_OUT => (Some((nsrc, nsport)), None),
            _ => (Some((nsrc, nsport)), Some((dst, ndport))),
        };
        let mut v = FlowValue::new(act, dir::INPUT, key.af, 1, 1);
        if let Some((a, p)) = new_src {
            v = v.with_src(a, p);
        }
        if let Some((a, p)) = new_dst {
            v = v.with_dst(a, p);
        }
        dp.insert_flow(&key, &v).unwrap();
        // (an established connection: a bare SYN on a finished one is a reuse punt)
        dp.set_conn(
            1,
            &ConnState {
                state: TcpState::Established as u8,
                ..Default::default()
            },
        )
        .unwrap();
        let (verdict, fwd, out) = run(&mut dp, prog, &frame, lab.vc0);
        let want = wire_rewrite(&frame, new_src, new_dst, smac, dmac);
        assert!(
            fwd,
            "case {i}: {verdict} action {act} key {key:?} value {v:?} stats {:?}",
            dp.stats()
                .unwrap()
                .into_iter()
                .filter(|s| s.1 > 0)
                .collect::<Vec<_>>()
        );
        assert_eq!(out, want, "case {i} (action {act}): {}", diff(&want, &out));
        dp.remove_flow(&key).unwrap();
        by_action[act as usize] += 1;
    }
    println!(
        "{prog:?}: {N} random frames identical to lvs-wire (by action NAT_IN/NAT_OUT/FNAT_IN/FNAT_OUT: {by_action:?})"
    );
}

/// Random frames through the tunnel actions: IPv4 (with and without options, DF or not)
/// and IPv6 inner packets, TCP and UDP, random TOS (the ECN bits included), TTL and
/// payload up to what fits the 1500-byte MTU once encapsulated, Ethernet padding on short
/// frames; IPIP with an IPv4 or IPv6 outer header (4in4, 6in6, 4in6, 6in4) and GUE (IPv4
/// outer). `lvs_xdp`'s and `lvs_tc`'s output must equal `lvs_wire::encap_ipip` /
/// `encap_gue` byte for byte.
#[test]
fn tun_encap_matches_lvs_wire_on_random_frames() {
    random_tun_frames(Prog::Xdp);
}

#[test]
fn tc_tun_encap_matches_lvs_wire_on_random_frames() {
    random_tun_frames(Prog::Tc);
}

fn random_tun_frames(prog: Prog) {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let mut rng = Rng(0x7a11_0c0d_e5ea_1234);
    const N: usize = 1500;
    // [4in4, 6in6, 4in6, 6in4, GUE]
    let mut by_kind = [0usize; 5];
    for i in 0..N {
        let inner_v6 = rng.below(2) == 0;
        let gue = rng.below(5) == 0;
        let outer_v6 = !gue && rng.below(2) == 0;
        let udp = rng.below(2) == 0;
        let rand_addr = |rng: &mut Rng, v6: bool| -> IpAddr {
            if v6 {
                let mut a = rng.bytes::<16>();
                a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                IpAddr::from(a)
            } else {
                let a = rng.bytes::<4>();
                IpAddr::from([10, 100 + a[1] % 100, a[2], a[3]])
            }
        };
        let (src, dst) = (rand_addr(&mut rng, inner_v6), rand_addr(&mut rng, inner_v6));
        let (sport, dport) = (rng.next() as u16, rng.next() as u16);
        let outer = Outer {
            src_mac: VR0_MAC,
            dst_mac: RS_MAC,
            src: rand_addr(&mut rng, outer_v6),
            dst: if outer_v6 { v6(RS6) } else { v4(RS4) },
        };
        let olen = if outer_v6 { 40 } else { 20 } + if gue { 12 } else { 0 };
        let opts = !inner_v6 && rng.below(4) == 0;
        let hdrs =
            if inner_v6 { 40 } else { 20 } + if opts { 4 } else { 0 } + if udp { 8 } else { 20 };
        let max = 1500 - olen - hdrs;
        let len = if rng.below(2) == 0 {
            rng.below(64)
        } else {
            rng.below(max as u64 + 1)
        };
        let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let mut b = Builder::new(CLIENT_MAC, VC0_MAC);
        b = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => b.ipv4(s.octets(), d.octets()),
            (IpAddr::V6(s), IpAddr::V6(d)) => b.ipv6(s.octets(), d.octets()),
            _ => unreachable!(),
        };
        b = b.ttl(2 + rng.below(254) as u8).tos(rng.next() as u8);
        if !inner_v6 {
            b = b.df(rng.below(2) == 0);
        }
        if opts {
            b = b.ip_options(&[1, 1, 1, 0]);
        }
        b = if udp {
            b.udp(sport, dport)
        } else {
            b.tcp(sport, dport)
                .tcp_flags(TCP_ACK | (rng.next() as u16 & 0x09))
        };
        b = b.payload(&payload);
        if rng.below(3) == 0 {
            b = b.pad_to(60);
        }
        let frame = b.build();
        let proto = if udp { IPPROTO_UDP } else { IPPROTO_TCP };
        let key = FlowKey::new(proto, src, sport, dst, dport);
        let act = if gue {
            action::TUN_GUE
        } else {
            action::TUN_IPIP
        };
        let (gsport, gdport) = (rng.next() as u16, 6080u16);
        let mut v = FlowValue::new(act, dir::INPUT_ONLY, key.af, 1, 1)
            .with_src(outer.src, 0)
            .with_dst(outer.dst, 0);
        if gue {
            v.new_sport = gsport.to_be();
            v.tun_port = gdport.to_be();
        }
        dp.insert_flow(&key, &v).unwrap();
        let (verdict, fwd, out) = run(&mut dp, prog, &frame, lab.vc0);
        let want = wire_tun(&frame, outer, gue.then_some((gsport, gdport)));
        assert!(
            fwd,
            "case {i}: {verdict} key {key:?} value {v:?} stats {:?}",
            dp.stats()
                .unwrap()
                .into_iter()
                .filter(|s| s.1 > 0)
                .collect::<Vec<_>>()
        );
        assert_eq!(out, want, "case {i}: {}", diff(&want, &out));
        verify_frame(&out).unwrap_or_else(|e| panic!("case {i}: {e}"));
        dp.remove_flow(&key).unwrap();
        by_kind[match (gue, inner_v6, outer_v6) {
            (true, _, _) => 4,
            (_, false, false) => 0,
            (_, true, true) => 1,
            (_, false, true) => 2,
            (_, true, false) => 3,
        }] += 1;
    }
    println!(
        "{prog:?}: {N} random tunnel frames identical to lvs-wire (4in4, 6in6, 4in6, 6in4, GUE: {by_kind:?})"
    );
}

// ---- TCP state, counters, events -----------------------------------------------------------------

fn lvs_dir(d: u8) -> Direction {
    match d {
        dir::INPUT => Direction::Input,
        dir::OUTPUT => Direction::Output,
        _ => Direction::InputOnly,
    }
}

/// Every cell of the three tables (3 directions × 4 events × 11 states = 132) plus the
/// "no flag → CLOSE" column, against `lvs_core::conn::tcp::transition`; each change must
/// produce exactly one LVS_EV_STATE record.
#[test]
fn tcp_state_table_all_cells() {
    state_table(Prog::Xdp);
}

/// The same 132 (+33) cells through `lvs_tc`.
#[test]
fn tc_tcp_state_table_all_cells() {
    state_table(Prog::Tc);
}

fn state_table(prog: Prog) {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let c4 = v4(CLIENT4);
    let vip4 = v4(VIP4);
    let rs4 = v4(RS4);
    // NAT in (INPUT), NAT out (OUTPUT), DR (INPUT_ONLY): one conn each.
    let k_in = FlowKey::new(IPPROTO_TCP, c4, 50000, vip4, 80);
    let k_out = FlowKey::new(IPPROTO_TCP, rs4, 8080, c4, 50000);
    let k_dr = FlowKey::new(IPPROTO_TCP, c4, 50001, vip4, 80);
    dp.insert_flow(
        &k_in,
        &FlowValue::new(action::NAT_IN, dir::INPUT, 2, 1, 1).with_dst(rs4, 8080),
    )
    .unwrap();
    dp.insert_flow(
        &k_out,
        &FlowValue::new(action::NAT_OUT, dir::OUTPUT, 2, 1, 1).with_src(vip4, 80),
    )
    .unwrap();
    dp.insert_flow(
        &k_dr,
        &FlowValue::new(action::DR, dir::INPUT_ONLY, 2, 2, 2).with_dst(rs4, 0),
    )
    .unwrap();
    let frames = [
        (
            dir::INPUT,
            1u32,
            lab.vc0,
            (CLIENT4, 50000, VIP4, 80, CLIENT_MAC, VC0_MAC),
        ),
        (
            dir::OUTPUT,
            1,
            lab.vr0,
            (RS4, 8080, CLIENT4, 50000, RS_MAC, VR0_MAC),
        ),
        (
            dir::INPUT_ONLY,
            2,
            lab.vc0,
            (CLIENT4, 50001, VIP4, 80, CLIENT_MAC, VC0_MAC),
        ),
    ];
    let events: [(&str, u16); 5] = [
        ("syn", TCP_SYN),
        ("fin", TCP_FIN | TCP_ACK),
        ("ack", TCP_ACK | TCP_PSH),
        ("rst", TCP_RST | TCP_ACK),
        ("none", 0),
    ];
    let mut cells = 0;
    let mut reuse = 0;
    let mut failures = Vec::new();
    while dp.next_event().is_some() {}
    for (d, conn, ifx, (s, sp, t, tp, sm, tm)) in frames {
        for (ev, flags) in events {
            for st in TcpState::ALL {
                let set = |dp: &mut Dataplane| {
                    dp.set_conn(
                        conn,
                        &ConnState {
                            state: st as u8,
                            ..Default::default()
                        },
                    )
                    .unwrap()
                };
                set(&mut dp);
                // A bare SYN on a finished connection (input side) is a new connection
                // attempt: punted for the model's conn_reuse_mode (TC: dropped, XDP has
                // punted it), state untouched. The cell itself is checked with SYN+ACK.
                let finished = matches!(st, TcpState::TimeWait | TcpState::Close)
                    || (st == TcpState::FinWait && d == dir::INPUT_ONLY);
                let mut flags = flags;
                if ev == "syn" && d != dir::OUTPUT && finished {
                    let stat = if prog == Prog::Xdp {
                        Stat::PuntReuse
                    } else {
                        Stat::TcDrop
                    };
                    let before = dp.stat(stat).unwrap();
                    let f = tcp4(s, sp, t, tp, sm, tm).tcp_flags(flags).build();
                    let (verdict, fwd, _) = run(&mut dp, prog, &f, ifx);
                    if fwd || dp.stat(stat).unwrap() != before + 1 {
                        failures.push(format!("dir {d} bare SYN from {st}: {verdict}"));
                    }
                    if dp.conn(conn).unwrap().state != st as u8 || dp.next_event().is_some() {
                        failures.push(format!("dir {d} bare SYN from {st}: state changed"));
                    }
                    reuse += 1;
                    flags |= TCP_ACK;
                    set(&mut dp);
                }
                let f = tcp4(s, sp, t, tp, sm, tm).tcp_flags(flags).build();
                let (verdict, fwd, _) = run(&mut dp, prog, &f, ifx);
                assert!(fwd, "{ev} {st}: {verdict}");
                let f8 = flags as u8;
                let want = transition(
                    st,
                    lvs_dir(d),
                    f8 & 2 != 0,
                    f8 & 1 != 0,
                    f8 & 0x10 != 0,
                    f8 & 4 != 0,
                );
                let got = dp.conn(conn).unwrap().state;
                if got != want as u8 {
                    failures.push(format!("dir {d} {ev} from {st}: got {got}, want {want}"));
                }
                let evt = dp.next_event();
                if want != st {
                    match evt {
                        Some(e)
                            if e.kind == EV_STATE
                                && e.conn_id == conn
                                && e.old_state == st as u8
                                && e.new_state == want as u8
                                && e.dir == d
                                && e.tcp_flags == f8 => {}
                        other => failures.push(format!("dir {d} {ev} from {st}: event {other:?}")),
                    }
                } else if let Some(e) = evt {
                    failures.push(format!("dir {d} {ev} from {st}: unexpected event {e:?}"));
                }
                if ev != "none" {
                    cells += 1;
                }
            }
        }
    }
    println!("{cells} table cells (+33 no-flag cells) checked, {reuse} reuse punts");
    assert_eq!(cells, 132);
    assert_eq!(reuse, 5);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Handshake and close sequences through the NAT flows, compared step by step with
/// lvs-core, plus per-connection and per-real-server counters and the event records.
#[test]
fn tcp_sequences_counters_events() {
    sequences(Prog::Xdp);
}

/// Sync master: inbound packets whose count (the slow path's first packet included) meets
/// `n % period == threshold` are reported (`LVS_EV_SYNC`), state changes carry the count,
/// replies never trigger a report; nothing without `CFG_SYNC_MASTER`.
#[test]
fn sync_master_events() {
    sync_events(Prog::Xdp);
}

/// The same through `lvs_tc`.
#[test]
fn tc_sync_master_events() {
    sync_events(Prog::Tc);
}

fn sync_events(prog: Prog) {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let (c4, vip4, rs4) = (v4(CLIENT4), v4(VIP4), v4(RS4));
    let conn = 11u32;
    dp.insert_flow(
        &FlowKey::new(IPPROTO_UDP, c4, 52000, vip4, 53),
        &FlowValue::new(action::NAT_IN, dir::INPUT, 2, conn, 1).with_dst(rs4, 53),
    )
    .unwrap();
    dp.insert_flow(
        &FlowKey::new(IPPROTO_UDP, rs4, 53, c4, 52000),
        &FlowValue::new(action::NAT_OUT, dir::OUTPUT, 2, conn, 1).with_src(vip4, 53),
    )
    .unwrap();
    dp.set_conn(conn, &ConnState::default()).unwrap();
    while dp.next_event().is_some() {}
    let input = udp4(CLIENT4, 52000, VIP4, 53, CLIENT_MAC, VC0_MAC).build();
    let output = udp4(RS4, 53, CLIENT4, 52000, RS_MAC, VR0_MAC).build();
    // Off: nothing.
    for _ in 0..4 {
        assert!(run(&mut dp, prog, &input, lab.vc0).1);
    }
    assert!(dp.next_event().is_none());
    dp.set_config(&Config {
        flags: CFG_SYNC_MASTER,
        sync_threshold: 3,
        sync_period: 5,
    })
    .unwrap();
    // XDP has counted 4, so with the slow path's first packet these are packets 6..=20.
    let mut got = Vec::new();
    for k in 6..=20u32 {
        assert!(run(&mut dp, prog, &input, lab.vc0).1);
        assert!(run(&mut dp, prog, &output, lab.vr0).1);
        while let Some(e) = dp.next_event() {
            assert_eq!((e.kind, e.conn_id, e.dir), (EV_SYNC, conn, dir::INPUT));
            assert_eq!(e.pkts, k);
            got.push(e.pkts);
        }
    }
    assert_eq!(got, [8, 13, 18]);
    // Period 0: only at the threshold itself (long past here).
    dp.set_config(&Config {
        flags: CFG_SYNC_MASTER,
        sync_threshold: 3,
        sync_period: 0,
    })
    .unwrap();
    for _ in 0..10 {
        assert!(run(&mut dp, prog, &input, lab.vc0).1);
    }
    assert!(dp.next_event().is_none());
    // TCP: a state change is reported as EV_STATE with the count, not as EV_SYNC too.
    let tconn = 12u32;
    dp.insert_flow(
        &FlowKey::new(IPPROTO_TCP, c4, 52001, vip4, 80),
        &FlowValue::new(action::NAT_IN, dir::INPUT, 2, tconn, 1).with_dst(rs4, 80),
    )
    .unwrap();
    dp.set_conn(
        tconn,
        &ConnState {
            state: TcpState::SynRecv as u8,
            ..ConnState::default()
        },
    )
    .unwrap();
    dp.set_config(&Config {
        flags: CFG_SYNC_MASTER,
        sync_threshold: 2,
        sync_period: 50,
    })
    .unwrap();
    let ack = tcp4(CLIENT4, 52001, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_ACK)
        .build();
    assert!(run(&mut dp, prog, &ack, lab.vc0).1);
    let e = dp.next_event().unwrap();
    assert_eq!(
        (e.kind, e.pkts, e.new_state),
        (EV_STATE, 2, TcpState::Established as u8)
    );
    assert!(dp.next_event().is_none());
}

/// The same sequences, counters and events through `lvs_tc`.
#[test]
fn tc_tcp_sequences_counters_events() {
    sequences(Prog::Tc);
}

fn sequences(prog: Prog) {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let c4 = v4(CLIENT4);
    let vip4 = v4(VIP4);
    let rs4 = v4(RS4);
    let (conn, slot) = (7u32, 5u32);
    dp.insert_flow(
        &FlowKey::new(IPPROTO_TCP, c4, 51000, vip4, 80),
        &FlowValue::new(action::NAT_IN, dir::INPUT, 2, conn, slot).with_dst(rs4, 8080),
    )
    .unwrap();
    dp.insert_flow(
        &FlowKey::new(IPPROTO_TCP, rs4, 8080, c4, 51000),
        &FlowValue::new(action::NAT_OUT, dir::OUTPUT, 2, conn, slot).with_src(vip4, 80),
    )
    .unwrap();
    dp.set_conn(conn, &ConnState::default()).unwrap();
    dp.clear_dest_stats(slot).unwrap();
    let seq: [(u8, u16, usize); 9] = [
        (dir::INPUT, TCP_SYN, 0),
        (dir::OUTPUT, TCP_SYN | TCP_ACK, 0),
        (dir::INPUT, TCP_ACK, 0),
        (dir::INPUT, TCP_ACK | TCP_PSH, 100),
        (dir::OUTPUT, TCP_ACK | TCP_PSH, 1000),
        (dir::INPUT, TCP_FIN | TCP_ACK, 0),
        (dir::OUTPUT, TCP_ACK, 0),
        (dir::OUTPUT, TCP_FIN | TCP_ACK, 0),
        (dir::INPUT, TCP_ACK, 0),
    ];
    let mut state = TcpState::None;
    let mut want = ConnState::default();
    let mut want_events = Vec::new();
    let t0 = dp.conn(conn).unwrap().last_seen_ns;
    for (d, flags, len) in seq {
        let payload = vec![0x61u8; len];
        let f = if d == dir::INPUT {
            tcp4(CLIENT4, 51000, VIP4, 80, CLIENT_MAC, VC0_MAC)
        } else {
            tcp4(RS4, 8080, CLIENT4, 51000, RS_MAC, VR0_MAC)
        }
        .tcp_flags(flags)
        .payload(&payload)
        .build();
        let ifx = if d == dir::INPUT { lab.vc0 } else { lab.vr0 };
        let (verdict, fwd, _) = run(&mut dp, prog, &f, ifx);
        assert!(fwd, "{verdict}");
        let f8 = flags as u8;
        let next = transition(
            state,
            lvs_dir(d),
            f8 & 2 != 0,
            f8 & 1 != 0,
            f8 & 0x10 != 0,
            f8 & 4 != 0,
        );
        if next != state {
            want_events.push((state as u8, next as u8, d));
        }
        state = next;
        let bytes = (20 + 20 + len) as u64;
        if d == dir::OUTPUT {
            want.pkts_out += 1;
            want.bytes_out += bytes;
        } else {
            want.pkts_in += 1;
            want.bytes_in += bytes;
        }
        let got = dp.conn(conn).unwrap();
        assert_eq!(got.state, state as u8, "after {flags:#x} dir {d}");
        assert_eq!(
            (got.pkts_in, got.bytes_in, got.pkts_out, got.bytes_out),
            (want.pkts_in, want.bytes_in, want.pkts_out, want.bytes_out)
        );
        assert!(got.last_seen_ns > t0);
    }
    assert_eq!(state, TcpState::TimeWait);
    let ds = dp.dest_stats(slot).unwrap();
    assert_eq!(
        ds,
        DestStats {
            pkts_in: want.pkts_in,
            bytes_in: want.bytes_in,
            pkts_out: want.pkts_out,
            bytes_out: want.bytes_out
        }
    );
    let mut got_events = Vec::new();
    while let Some(e) = dp.next_event() {
        assert_eq!(e.kind, EV_STATE);
        assert_eq!(e.conn_id, conn);
        got_events.push((e.old_state, e.new_state, e.dir));
        if e.dir == dir::INPUT {
            assert_eq!(e.key, FlowKey::new(IPPROTO_TCP, c4, 51000, vip4, 80));
        }
    }
    assert_eq!(got_events, want_events);
    println!("events: {got_events:?}");

    // IPv6 bytes = payload length + 40; UDP keeps state 0.
    let c6 = v6(CLIENT6);
    dp.insert_flow(
        &FlowKey::new(IPPROTO_UDP, c6, 51001, v6(VIP6), 80),
        &FlowValue::new(action::NAT_IN, dir::INPUT, 10, 8, 6).with_dst(v6(RS6), 80),
    )
    .unwrap();
    dp.set_conn(8, &ConnState::default()).unwrap();
    let f = udp6(CLIENT6, 51001, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .payload(&[1; 10])
        .build();
    assert!(run(&mut dp, prog, &f, lab.vc0).1);
    let cs = dp.conn(8).unwrap();
    assert_eq!((cs.pkts_in, cs.bytes_in, cs.state), (1, 40 + 8 + 10, 0));
    assert_eq!(dp.dest_stats(6).unwrap().bytes_in, 58);
    // A punted packet (TTL 1) is not counted here: the slow path counts it (TC drops it,
    // uncounted: in generic mode XDP has punted it before).
    let f = udp6(CLIENT6, 51001, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .ttl(1)
        .build();
    let (verdict, fwd, _) = run(&mut dp, prog, &f, lab.vc0);
    assert!(!fwd);
    assert_eq!(verdict, if prog == Prog::Xdp { "Drop" } else { "Shot" });
    assert_eq!(dp.conn(8).unwrap().pkts_in, 1);
}

// ---- real-server decapsulation ----------------------------------------------------------------------

/// The real server's two decapsulators, `lvs_rs_decap` (XDP) and `lvs_rs_decap_tc` (TC
/// ingress): the same output as `lvs_wire::decap_ipip` for every combination of families,
/// untouched frames otherwise.
#[test]
fn rs_decap_fixtures() {
    rs_decap_table(false);
}

#[test]
fn rs_decap_tc_fixtures() {
    rs_decap_table(true);
}

/// One run of the XDP or the TC decapsulator: (passed up the stack, output frame).
fn rs_run(rs: &mut RsDecap, tc: bool, frame: &[u8]) -> (bool, Vec<u8>) {
    if tc {
        let r = rs.test_run_tc(frame, &TcRunOptions::default()).unwrap();
        (r.verdict == TcVerdict::Ok, r.frame)
    } else {
        let r = rs.test_run(frame).unwrap();
        (r.verdict == XdpVerdict::Pass, r.frame)
    }
}

fn rs_decap_table(tc: bool) {
    require_root();
    let mut rs = RsDecap::load().unwrap();
    rs.add_vip(v4(VIP4)).unwrap();
    rs.add_vip(v6(VIP6)).unwrap();
    rs.add_local(v4(RS4)).unwrap();
    rs.add_local(v6(RS6)).unwrap();
    let o4 = Outer {
        src_mac: VR0_MAC,
        dst_mac: RS_MAC,
        src: v4(DIR_R4),
        dst: v4(RS4),
    };
    let o6 = Outer {
        src_mac: VR0_MAC,
        dst_mac: RS_MAC,
        src: v6(DIR_R6),
        dst: v6(RS6),
    };
    let in4 = tcp4(CLIENT4, 1000, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .payload(b"inner4")
        .build();
    let in6 = tcp6(CLIENT6, 1000, VIP6, 80, CLIENT_MAC, VC0_MAC)
        .payload(b"inner6")
        .build();
    let big4 = tcp4(CLIENT4, 1001, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .payload(&[0xa5; 1400])
        .build();
    let big6 = udp6(CLIENT6, 1001, VIP6, 53, CLIENT_MAC, VC0_MAC)
        .payload(&[0x3c; 1200])
        .build();
    let other4 = tcp4(CLIENT4, 1000, [10, 0, 0, 99], 80, CLIENT_MAC, VC0_MAC).build();
    let mut n = 0;
    for (name, inner, outer, decap) in [
        ("4in4", &in4, o4, true),
        ("6in6", &in6, o6, true),
        ("4in6", &in4, o6, true),
        ("6in4", &in6, o4, true),
        ("4in4, 1400 bytes of TCP payload", &big4, o4, true),
        ("6in6, 1200 bytes of UDP payload", &big6, o6, true),
        ("inner destination not a VIP", &other4, o4, false),
        (
            "outer destination not local",
            &in4,
            Outer {
                dst: v4([10, 1, 0, 12]),
                ..o4
            },
            false,
        ),
    ] {
        let tunneled = wire_tun(inner, outer, None);
        let (pass, frame) = rs_run(&mut rs, tc, &tunneled);
        assert!(pass, "{name}");
        if decap {
            let mut want = tunneled.clone();
            let range = lvs_wire::decap_ipip(&mut want).unwrap();
            let want = want[range].to_vec();
            assert_eq!(frame, want, "{name}: {}", diff(&want, &frame));
        } else {
            assert_eq!(frame, tunneled, "{name}: must be untouched");
        }
        n += 1;
    }
    // Padding after a tunnelled frame is trimmed; a plain packet to the VIP is untouched.
    let small = udp4(CLIENT4, 1, VIP4, 53, CLIENT_MAC, VC0_MAC).build();
    let mut padded = wire_tun(&small, o4, None);
    let unpadded_len = padded.len();
    padded.resize(unpadded_len.max(60) + 6, 0);
    let (pass, frame) = rs_run(&mut rs, tc, &padded);
    let mut want = padded[..unpadded_len].to_vec();
    let range = lvs_wire::decap_ipip(&mut want).unwrap();
    assert!(pass);
    assert_eq!(frame, want[range].to_vec());
    assert_eq!(rs_run(&mut rs, tc, &in4), (true, in4.clone()));
    assert_eq!(rs_run(&mut rs, tc, &arp_request()).1, arp_request());
    // An inner length beyond the frame: malformed, untouched.
    let mut cut = wire_tun(&big4, o4, None);
    cut.truncate(cut.len() - 100);
    let tot = (cut.len() - 14) as u16;
    let mut outer = lvs_wire::ipv4::Packet::new_unchecked(&mut cut[14..]);
    outer.set_total_len(tot);
    outer.fill_checksum();
    assert_eq!(
        rs_run(&mut rs, tc, &cut),
        (true, cut.clone()),
        "truncated inner"
    );
    rs.remove_vip(v4(VIP4)).unwrap();
    rs.remove_vip(v4(VIP4)).unwrap(); // removing twice is fine
    let tunneled = wire_tun(&in4, o4, None);
    assert_eq!(rs_run(&mut rs, tc, &tunneled).1, tunneled);
    println!("{} decap cases", n + 5);
}

// ---- attach ---------------------------------------------------------------------------------------------

/// Whether `ifname`'s tcx ingress becomes empty within a second (the kernel may release
/// a closed link a little later).
fn tcx_ingress_empties(ifname: &str) -> bool {
    for _ in 0..100 {
        if tcx_ingress(ifname).is_empty() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    false
}

/// Names of the programs on `ifname`'s tcx ingress.
fn tcx_ingress(ifname: &str) -> Vec<String> {
    use aya::programs::{SchedClassifier, TcAttachType};
    let (_, progs) = SchedClassifier::query_tcx(ifname, TcAttachType::Ingress).unwrap();
    progs
        .iter()
        .map(|p| p.name_as_str().unwrap_or("?").to_string())
        .collect()
}

/// Names of the `cls_bpf` filters at `ifname`'s (clsact) TC ingress.
fn tc_filters(ifname: &str) -> Vec<String> {
    let mut nl = lvs_netlink::Netlink::open().unwrap();
    nl.ingress_filters(ifindex(ifname))
        .unwrap()
        .into_iter()
        .map(|f| f.name)
        .collect()
}

/// The id and name of the XDP program on `ifname`, if any.
fn xdp_program(ifname: &str) -> Option<(u32, String)> {
    let mut nl = lvs_netlink::Netlink::open().unwrap();
    let l = nl.link_by_name(ifname).unwrap().unwrap();
    let (id, _) = l.xdp.any()?;
    let name = aya::programs::loaded_programs()
        .filter_map(|p| p.ok())
        .find(|p| p.id() == id)
        .map(|p| p.name_as_str().unwrap_or("?").to_string())
        .unwrap_or_default();
    Some((id, name))
}

fn has_clsact(ifname: &str) -> bool {
    let q = std::process::Command::new("tc")
        .args(["qdisc", "show", "dev", ifname])
        .output()
        .unwrap();
    String::from_utf8_lossy(&q.stdout).contains("clsact")
}

#[test]
fn attach_modes_on_veth() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    assert!(lvs_dataplane::is_virtual_interface("vc0"));
    // Auto on a veth: generic XDP + lvs_tc at TC ingress (see XdpModeChoice::Auto).
    assert_eq!(
        dp.attach("vc0", XdpModeChoice::Auto).unwrap(),
        AttachedMode::GenericWithTc
    );
    assert!(dp.tc_forwarding(lab.vc0).unwrap());
    assert_eq!(tc_filters("vc0"), ["lvs_tc+clsact"]);
    assert_eq!(xdp_program("vc0").unwrap().1, "lvs_xdp");
    assert!(dp.attach("vc0", XdpModeChoice::Auto).is_err(), "twice");
    // veth also has a native XDP driver: no TC there.
    assert_eq!(
        dp.attach("vr0", XdpModeChoice::Native).unwrap(),
        AttachedMode::Native
    );
    assert!(!dp.tc_forwarding(lab.vr0).unwrap());
    assert!(tc_filters("vr0").is_empty());
    // The old behaviour on demand: generic XDP forwarding by itself.
    assert_eq!(
        dp.attach("vc1", XdpModeChoice::Generic).unwrap(),
        AttachedMode::Generic
    );
    assert!(!dp.tc_forwarding(ifindex("vc1")).unwrap());
    assert_eq!(dp.attached().len(), 3);
    assert_eq!(
        dp.attached()
            .iter()
            .map(|(n, m)| format!("{n}={m}"))
            .collect::<Vec<_>>(),
        ["vc0=generic+tc", "vr0=native", "vc1=generic"]
    );
    assert!(dp.attach("nosuchif0", XdpModeChoice::Generic).is_err());
    assert!(
        dp.attach("nosuchif0", XdpModeChoice::GenericWithTc)
            .is_err()
    );
    dp.detach("vc0").unwrap();
    assert!(dp.detach("vc0").is_err());
    assert!(!dp.tc_forwarding(lab.vc0).unwrap());
    assert!(tc_filters("vc0").is_empty());
    assert_eq!(xdp_program("vc0"), None);
    // Again, forced, on the interface just left.
    assert_eq!(
        dp.attach("vc0", XdpModeChoice::GenericWithTc).unwrap(),
        AttachedMode::GenericWithTc
    );
    dp.detach_all().unwrap();
    assert!(dp.attached().is_empty());
    assert!(!dp.tc_forwarding(lab.vc0).unwrap());
    for i in ["vc0", "vr0", "vc1"] {
        assert_eq!(xdp_program(i), None, "{i}");
    }
    // The clsact qdisc added for lvs_tc went with it.
    assert!(!has_clsact("vc0"));
    let mut rs = RsDecap::load().unwrap();
    assert_eq!(rs.attach("vr1").unwrap(), AttachedMode::Generic);
    // The real server's TC decapsulator, at tcx ingress.
    rs.attach_tc("vc1").unwrap();
    assert_eq!(tcx_ingress("vc1"), ["lvs_rs_decap_tc"]);
    assert!(rs.tc_program_id().unwrap() > 0);
    rs.detach_all().unwrap();
    assert!(tcx_ingress_empties("vc1"), "{:?}", tcx_ingress("vc1"));
}

/// The attachments outlive a `Dataplane` that goes without detaching (lvsd killed): the
/// next one replaces them and starts clean, one owner at a time, and a program that is not
/// ours is never replaced.
#[test]
fn attachments_outlive_their_owner_and_the_next_one_replaces_them() {
    let lab = Lab::new();
    let mut dead = small_dataplane();
    dead.attach("vc0", XdpModeChoice::GenericWithTc).unwrap();
    dead.attach("vr0", XdpModeChoice::Native).unwrap();
    let (old_id, _) = xdp_program("vc0").unwrap();
    dead.leave_attached();
    // Still there, with its flag: lvs_xdp keeps passing flow hits to lvs_tc.
    assert_eq!(xdp_program("vc0"), Some((old_id, "lvs_xdp".to_string())));
    assert_eq!(xdp_program("vr0").unwrap().1, "lvs_xdp");
    assert_eq!(tc_filters("vc0"), ["lvs_tc+clsact"]);
    assert!(has_clsact("vc0"));

    let mut next = small_dataplane();
    assert!(!next.tc_forwarding(lab.vc0).unwrap(), "new maps");
    assert_eq!(
        next.attach("vc0", XdpModeChoice::GenericWithTc).unwrap(),
        AttachedMode::GenericWithTc
    );
    let (new_id, name) = xdp_program("vc0").unwrap();
    assert_ne!(new_id, old_id);
    assert_eq!(name, "lvs_xdp");
    assert_eq!(
        tc_filters("vc0"),
        ["lvs_tc+clsact"],
        "one filter, the new one"
    );
    // The stale native program goes, and generic mode is possible again.
    assert_eq!(
        next.attach("vr0", XdpModeChoice::Generic).unwrap(),
        AttachedMode::Generic
    );

    // A second live owner is refused, and changes nothing.
    let mut other = small_dataplane();
    match other.attach("vc0", XdpModeChoice::GenericWithTc) {
        Err(lvs_dataplane::DataplaneError::InUse { ifname, .. }) => assert_eq!(ifname, "vc0"),
        r => panic!("{r:?}"),
    }
    assert_eq!(xdp_program("vc0").unwrap().0, new_id);

    // A program that is not ours is not replaced.
    let mut rs = RsDecap::load().unwrap();
    rs.attach("vc1").unwrap();
    let foreign = xdp_program("vc1").unwrap();
    match other.attach("vc1", XdpModeChoice::Generic) {
        Err(lvs_dataplane::DataplaneError::Busy { ifname, .. }) => assert_eq!(ifname, "vc1"),
        r => panic!("{r:?}"),
    }
    assert_eq!(xdp_program("vc1").unwrap(), foreign);
    rs.detach_all().unwrap();

    // Detaching removes everything, the clsact qdisc the dead owner added included.
    next.detach_all().unwrap();
    assert_eq!(xdp_program("vc0"), None);
    assert_eq!(xdp_program("vr0"), None);
    assert!(tc_filters("vc0").is_empty());
    assert!(!has_clsact("vc0"));
}

/// GSO aggregates (what TSO senders and GRO hand to generic XDP and TC): frames longer
/// than the ingress interface's MTU.
#[test]
fn gso_aggregates() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    dp.set_ifslot(lab.vc0, 0).unwrap();
    let c4 = v4(CLIENT4);
    let vip4 = v4(VIP4);
    for (port, rs) in [(60000, RS4), (60001, RS4_SMALLMTU)] {
        dp.insert_flow(
            &FlowKey::new(IPPROTO_TCP, c4, port, vip4, 80),
            &FlowValue::new(action::NAT_IN, dir::INPUT, 2, 1, 1).with_dst(v4(rs), 8080),
        )
        .unwrap();
    }
    // two segments of 1448 bytes: IP length 2936 > 1500
    let big = |port: u16| {
        tcp4(CLIENT4, port, VIP4, 80, CLIENT_MAC, VC0_MAC)
            .tcp_flags(TCP_ACK)
            .payload(&[0x5a; 2896])
            .build()
    };
    let gso = TcRunOptions {
        ifindex: Some(lab.vc0),
        gso_size: 1448,
        gso_segs: 2,
        repeat: 1,
    };
    let single = TcRunOptions {
        ifindex: Some(lab.vc0),
        ..Default::default()
    };
    for (port, rs) in [(60000, RS4), (60001, RS4_SMALLMTU)] {
        let f = big(port);
        let want = wire_rewrite(&f, None, Some((v4(rs), 8080)), VR0_MAC, RS_MAC);
        // lvs_xdp: longer than the ingress MTU = an aggregate: no route MTU check (its
        // segments are what leave), forwarded; with TC forwarding, passed to lvs_tc.
        dp.set_tc_forwarding(lab.vc0, false).unwrap();
        let r = dp.test_run(&f, Some(lab.vc0)).unwrap();
        assert_eq!(r.verdict, XdpVerdict::Redirect, "port {port}");
        assert_eq!(r.frame, want, "{}", diff(&want, &r.frame));
        dp.set_tc_forwarding(lab.vc0, true).unwrap();
        let r = dp.test_run(&f, Some(lab.vc0)).unwrap();
        assert_eq!((r.verdict, &r.frame), (XdpVerdict::Pass, &f), "port {port}");
        // lvs_tc, as a GSO skb: forwarded, the same bytes (segments are not checked
        // against the route MTU, as IPVS does not check GSO skbs over IPv4).
        let r = dp.test_run_tc_with(&f, &gso).unwrap();
        assert_eq!(r.verdict, TcVerdict::Redirect, "port {port}");
        assert_eq!(r.frame, want, "{}", diff(&want, &r.frame));
    }
    // The same length as one packet (no gso_size): the egress device (MTU 1500) cannot
    // take it: lvs_tc drops it (it cannot punt).
    let before = dp.stat(Stat::TcDrop).unwrap();
    let r = dp.test_run_tc_with(&big(60000), &single).unwrap();
    assert_eq!(r.verdict, TcVerdict::Shot);
    assert_eq!(dp.stat(Stat::TcDrop).unwrap(), before + 1);
    assert_eq!(dp.stat(Stat::PassToTc).unwrap(), 2);
    assert_eq!(dp.stat(Stat::PuntFragNeeded).unwrap(), 0);
}

/// Tunnel flows' GSO aggregates in `lvs_tc`: checked per segment against the route MTU
/// (`RS4_SMALLMTU`: `mtu lock 500`). TCP: the encapsulated segment is as long as the
/// client's (`lvs_skb_encap` lowers `gso_size` by the tunnel header), IP + TCP headers +
/// `gso_size`; UDP GSO keeps its size, + the tunnel header. A segment one byte too long:
/// dropped and counted `tc_too_big`; one that fits goes on to the encapsulation, which
/// `BPF_PROG_TEST_RUN` cannot complete for an aggregate (its skbs have GSO type 0, which
/// `bpf_skb_adjust_room` refuses: `encap_error`); the end-to-end uploads through TUN
/// (crates/lvs-e2e/tests/tun.rs) run real aggregates through it. The same frames as single
/// packets are too big for the route (`tc_drop`: lvs_xdp punts such packets, frag-needed).
#[test]
fn tc_tunnel_aggregates_checked_per_segment() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let (c4, c6, vip4, vip6) = (v4(CLIENT4), v6(CLIENT6), v4(VIP4), v6(VIP6));
    let tun = FlowValue::new(action::TUN_IPIP, dir::INPUT_ONLY, 2, 1, 1)
        .with_src(v4(DIR_R4), 0)
        .with_dst(v4(RS4_SMALLMTU), 0);
    // (name, frame, segment headers: IP + TCP / IP + UDP + outer IPv4)
    let mut cases: Vec<(&str, Vec<u8>, u32)> = Vec::new();
    let k = FlowKey::new(IPPROTO_TCP, c4, 61000, vip4, 80);
    dp.insert_flow(&k, &tun).unwrap();
    cases.push((
        "TCP 4in4",
        tcp4(CLIENT4, 61000, VIP4, 80, CLIENT_MAC, VC0_MAC)
            .tcp_flags(TCP_ACK)
            .payload(&[7; 3000])
            .build(),
        20 + 20,
    ));
    let k = FlowKey::new(IPPROTO_TCP, c6, 61001, vip6, 80);
    dp.insert_flow(&k, &tun).unwrap();
    cases.push((
        "TCP 6in4",
        tcp6(CLIENT6, 61001, VIP6, 80, CLIENT_MAC, VC0_MAC)
            .tcp_flags(TCP_ACK)
            .payload(&[7; 3000])
            .build(),
        40 + 20,
    ));
    let k = FlowKey::new(IPPROTO_UDP, c4, 61002, vip4, 53);
    dp.insert_flow(&k, &tun).unwrap();
    cases.push((
        "UDP 4in4",
        udp4(CLIENT4, 61002, VIP4, 53, CLIENT_MAC, VC0_MAC)
            .payload(&[7; 3000])
            .build(),
        20 + 8 + 20,
    ));
    for (name, frame, hdrs) in &cases {
        let fits = 500 - hdrs;
        for (gso_size, too_big) in [(fits, false), (fits + 1, true)] {
            let opts = TcRunOptions {
                ifindex: Some(lab.vc0),
                gso_size,
                gso_segs: 3000_u32.div_ceil(gso_size),
                repeat: 1,
            };
            let before = (
                dp.stat(Stat::TcTooBig).unwrap(),
                dp.stat(Stat::EncapError).unwrap(),
            );
            let r = dp.test_run_tc_with(frame, &opts).unwrap();
            let after = (
                dp.stat(Stat::TcTooBig).unwrap(),
                dp.stat(Stat::EncapError).unwrap(),
            );
            assert_eq!(r.verdict, TcVerdict::Shot, "{name} gso_size {gso_size}");
            let want = if too_big {
                (before.0 + 1, before.1)
            } else {
                (before.0, before.1 + 1)
            };
            assert_eq!(
                after, want,
                "{name} gso_size {gso_size}: (too big, encap error)"
            );
            if too_big {
                assert_eq!(&r.frame, frame, "{name}: dropped untouched");
            }
        }
        // A single packet of that size: too big for the route (lvs_xdp punts it).
        let before = dp.stat(Stat::TcDrop).unwrap();
        let r = dp
            .test_run_tc_with(
                frame,
                &TcRunOptions {
                    ifindex: Some(lab.vc0),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(r.verdict, TcVerdict::Shot, "{name} single");
        assert_eq!(dp.stat(Stat::TcDrop).unwrap(), before + 1, "{name} single");
    }
    // Dropped before any accounting: the connection counted only the three aggregates
    // that passed the check (accounted before the encapsulation failed).
    assert_eq!(dp.stat(Stat::TcTooBig).unwrap(), 3);
    assert_eq!(dp.conn(1).unwrap().pkts_in, 3);
}

// ---- ns/packet -------------------------------------------------------------------------------------------

/// Mean ns/packet of `frame` over at least `total` program runs, in kernel batches of
/// `batch` runs (`BPF_PROG_TEST_RUN` repeat) that each start from the original frame.
///
/// Why batches: with `repeat`, every run sees the frame the previous run left, and every
/// forwarded packet has its TTL decremented, so run 64 of a TTL-64 frame would already be a
/// TTL punt. A TTL-255 frame gives 254 hits per batch. The kernel times only its loop, so
/// the per-call setup (which, for repeat > 1, swaps the XDP dispatcher and waits for an RCU
/// grace period: ~10-20 ms wall time per call) is not in the figure, only in the test's
/// run time.
///
/// Returns the median over the batches of their mean ns/run: robust against a batch that
/// a busy 2-core VM preempted (the kernel's clock keeps running through vCPU steal).
fn bench(
    dp: &mut Dataplane,
    frame: &[u8],
    ifx: u32,
    batch: u32,
    total: u32,
    want: XdpVerdict,
) -> f64 {
    let mut per_batch = Vec::new();
    let mut runs = 0u64;
    while runs < u64::from(total) {
        // A repeated run stops with EINTR when the test thread has a signal pending or the
        // kernel wants the CPU back (`bpf_test_timer_continue`): run that batch again.
        let mut tries = 0;
        let r = loop {
            match dp.test_run_repeat(frame, Some(ifx), batch) {
                Ok(r) => break r,
                Err(e) if tries < 20 && format!("{e:?}").contains("Interrupted") => tries += 1,
                Err(e) => panic!("BPF_PROG_TEST_RUN: {e:?}"),
            }
        };
        assert_eq!(r.verdict, want);
        per_batch.push(r.duration.as_nanos() as f64);
        runs += u64::from(batch);
    }
    per_batch.sort_by(f64::total_cmp);
    per_batch[per_batch.len() / 2]
}

/// As [`bench`], for `lvs_tc`.
fn bench_tc(
    dp: &mut Dataplane,
    frame: &[u8],
    ifx: u32,
    batch: u32,
    total: u32,
    want: TcVerdict,
) -> f64 {
    let mut per_batch = Vec::new();
    let mut runs = 0u64;
    while runs < u64::from(total) {
        let opts = TcRunOptions {
            ifindex: Some(ifx),
            repeat: batch,
            ..Default::default()
        };
        let r = dp.test_run_tc_with(frame, &opts).unwrap();
        assert_eq!(r.verdict, want);
        per_batch.push(r.duration.as_nanos() as f64);
        runs += u64::from(batch);
    }
    per_batch.sort_by(f64::total_cmp);
    per_batch[per_batch.len() / 2]
}

/// ns/packet of the hit paths. `LVS_PERF_RUNS` sets the number of runs per figure (default
/// 50,800 = 200 batches, a few seconds; docs/perf.md uses 1,000,000).
#[test]
fn perf_hit_paths() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let c4 = v4(CLIENT4);
    let vip4 = v4(VIP4);
    let rs4 = v4(RS4);
    // NAT in: VIP -> RS, then RS -> RS' and RS' -> RS, so that repeated runs (which see the
    // frame the previous run rewrote) keep hitting instead of missing after the first
    // rewrite. Both real servers have neighbour entries.
    let rs4b = v4(RS4_SMALLMTU);
    for (from, to) in [
        ((vip4, 80), (rs4, 8080)),
        ((rs4, 8080), (rs4b, 8080)),
        ((rs4b, 8080), (rs4, 8080)),
    ] {
        dp.insert_flow(
            &FlowKey::new(IPPROTO_TCP, c4, 52000, from.0, from.1),
            &FlowValue::new(action::NAT_IN, dir::INPUT, 2, 1, 1).with_dst(to.0, to.1),
        )
        .unwrap();
    }
    dp.insert_flow(
        &FlowKey::new(IPPROTO_TCP, c4, 52001, vip4, 80),
        &FlowValue::new(action::DR, dir::INPUT_ONLY, 2, 2, 2).with_dst(rs4, 0),
    )
    .unwrap();
    dp.insert_service(&SvcKey::new(IPPROTO_TCP, vip4, 80), &SvcValue::default())
        .unwrap();
    let frame = |port: u16, ttl: u8| {
        tcp4(CLIENT4, port, VIP4, 80, CLIENT_MAC, VC0_MAC)
            .ttl(ttl)
            .tcp_flags(TCP_ACK)
            .payload(&[0; 64])
            .build()
    };
    let nat = frame(52000, 255);
    let dr = frame(52001, 255);
    let ttl1 = frame(52001, 1);
    let syn = tcp4(CLIENT4, 52003, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .tcp_flags(TCP_SYN)
        .build();
    let pass = tcp4(CLIENT4, 52002, DIR_C4, 22, CLIENT_MAC, VC0_MAC)
        .payload(&[0; 64])
        .build();
    let total: u32 = std::env::var("LVS_PERF_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_800);
    let ns_nat = bench(&mut dp, &nat, lab.vc0, 254, total, XdpVerdict::Redirect);
    let ns_dr = bench(&mut dp, &dr, lab.vc0, 254, total, XdpVerdict::Redirect);
    // These paths do not modify the frame: 4 calls with repeat = total / 4.
    let ns_punt = bench(&mut dp, &ttl1, lab.vc0, total / 4, total, XdpVerdict::Drop);
    let ns_new = bench(&mut dp, &syn, lab.vc0, total / 4, total, XdpVerdict::Drop);
    let ns_pass = bench(&mut dp, &pass, lab.vc0, total / 4, total, XdpVerdict::Pass);
    // Generic mode with TC forwarding: lvs_xdp checks and passes the hit (frame untouched),
    // lvs_tc forwards it.
    dp.set_tc_forwarding(lab.vc0, true).unwrap();
    let ns_xdp_to_tc = bench(&mut dp, &nat, lab.vc0, total / 4, total, XdpVerdict::Pass);
    let ns_tc_nat = bench_tc(&mut dp, &nat, lab.vc0, 254, total, TcVerdict::Redirect);
    let ns_tc_dr = bench_tc(&mut dp, &dr, lab.vc0, 254, total, TcVerdict::Redirect);
    let ns_tc_pass = bench_tc(&mut dp, &pass, lab.vc0, total / 4, total, TcVerdict::Ok);
    println!("ns/packet (BPF_PROG_TEST_RUN, {total} runs each, median of the batches):");
    println!("  NAT in hit (fib, counters, TTL, DNAT, csums) : {ns_nat:.1}");
    println!("  DR hit (fib, counters, TTL, MACs)           : {ns_dr:.1}");
    println!("  flow hit, TTL 1 -> punt (no XSK)            : {ns_punt:.1}");
    println!("  miss, service SYN -> punt (no XSK)          : {ns_new:.1}");
    println!("  miss, not a service -> XDP_PASS            : {ns_pass:.1}");
    println!("  generic+tc: NAT hit in lvs_xdp -> XDP_PASS  : {ns_xdp_to_tc:.1}");
    println!("  generic+tc: NAT in hit in lvs_tc            : {ns_tc_nat:.1}");
    println!("  generic+tc: DR hit in lvs_tc                : {ns_tc_dr:.1}");
    println!("  generic+tc: not a flow -> TC_ACT_OK         : {ns_tc_pass:.1}");
    assert!(ns_nat > 0.0 && ns_dr > 0.0 && ns_pass > 0.0);
    assert!(ns_xdp_to_tc > 0.0 && ns_tc_nat > 0.0 && ns_tc_dr > 0.0 && ns_tc_pass > 0.0);
}

// ---- FULLNAT with Proxy Protocol: punts and TCP sequence translation --------------------------

/// NAT/FULLNAT rewrite then the sequence translation of a Proxy Protocol flow (lvs-wire):
/// `Some(true)` input (seq + delta), `Some(false)` output (ack and SACK − delta).
#[allow(clippy::too_many_arguments)]
fn wire_pp(
    input: &[u8],
    src: (IpAddr, u16),
    dst: (IpAddr, u16),
    smac: [u8; 6],
    dmac: [u8; 6],
    xlate: Option<bool>,
    delta: u32,
) -> Vec<u8> {
    let mut f = wire_rewrite(input, Some(src), Some(dst), smac, dmac);
    match xlate {
        Some(true) => {
            lvs_wire::seq_translate_in(&mut f, delta).unwrap();
        }
        Some(false) => {
            lvs_wire::seq_translate_out(&mut f, delta).unwrap();
        }
        None => {}
    }
    f
}

/// TCP options: NOP NOP timestamps, then NOP NOP SACK with `edges` (pairs).
fn ts_sack(edges: &[u32]) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78];
    if !edges.is_empty() {
        o.extend_from_slice(&[1, 1, 5, (2 + 4 * edges.len()) as u8]);
        for e in edges {
            o.extend_from_slice(&e.to_be_bytes());
        }
    }
    o
}

/// The Proxy Protocol table: for IPv4 and IPv6, an input flow waiting for the header
/// (`FF_PP_WAIT`), an input flow after it (`FF_PP_FIRST | FF_SEQ`) and an output flow
/// (`FF_SEQ`); every expected output from lvs-wire.
fn pp_table(dp: &mut Dataplane, lab: &Lab) -> Vec<Case> {
    use XdpVerdict::*;
    let mut flows = Flows { dp, next: 0 };
    flows.dp.set_ifslot(lab.vc0, 0).unwrap();
    flows.dp.set_ifslot(lab.vr0, 1).unwrap();
    let mut cases = Vec::new();
    let pp_seq = 0xffff_ff00u32; // the first data byte; + delta wraps
    for v6 in [false, true] {
        let (c, vip, rs, lip) = if v6 {
            (v6_(CLIENT6), v6_(VIP6), v6_(RS6), v6_(DIR_R6))
        } else {
            (v4(CLIENT4), v4(VIP4), v4(RS4), v4(DIR_R4))
        };
        let delta: u32 = if v6 { 52 } else { 28 };
        let fam = if v6 { "IPv6" } else { "IPv4" };
        let client = |cport: u16| -> Builder {
            if v6 {
                tcp6(CLIENT6, cport, VIP6, 80, CLIENT_MAC, VC0_MAC)
            } else {
                tcp4(CLIENT4, cport, VIP4, 80, CLIENT_MAC, VC0_MAC)
            }
        };
        let server = |lport: u16| -> Builder {
            if v6 {
                tcp6(RS6, 8080, DIR_R6, lport, RS_MAC, VR0_MAC)
            } else {
                tcp4(RS4, 8080, DIR_R4, lport, RS_MAC, VR0_MAC)
            }
        };
        let base = if v6 { 45000 } else { 44000 };

        // Waiting for the header: everything but SYN and RST goes to the slow path.
        let (cport, lport) = (base, 6000 + base % 1000);
        let mut v = fv(action::FNAT_IN, dir::INPUT)
            .with_src(lip, lport)
            .with_dst(rs, 8080);
        v.flags = lvs_common::FF_PP_WAIT;
        v.pp_seq = pp_seq;
        v.seq_delta = delta;
        flows.add(FlowKey::new(IPPROTO_TCP, c, cport, vip, 80), v);
        let fwd = |input: Vec<u8>| {
            let out = wire_pp(&input, (lip, lport), (rs, 8080), VR0_MAC, RS_MAC, None, 0);
            (input, Some(out))
        };
        for (name, input, punt) in [
            (
                "PP wait: SYN forwarded untranslated",
                client(cport).tcp_seq_ack(pp_seq - 1, 0).tcp_flags(TCP_SYN),
                false,
            ),
            (
                "PP wait: RST forwarded untranslated",
                client(cport).tcp_seq_ack(pp_seq, 0).tcp_flags(TCP_RST),
                false,
            ),
            (
                "PP wait: handshake ACK punted",
                client(cport).tcp_seq_ack(pp_seq, 77).tcp_flags(TCP_ACK),
                true,
            ),
            (
                "PP wait: first data punted",
                client(cport)
                    .tcp_seq_ack(pp_seq, 77)
                    .tcp_flags(TCP_ACK | TCP_PSH)
                    .payload(b"GET / HTTP/1.0\r\n\r\n"),
                true,
            ),
            (
                "PP wait: FIN punted",
                client(cport)
                    .tcp_seq_ack(pp_seq, 77)
                    .tcp_flags(TCP_ACK | TCP_FIN),
                true,
            ),
        ] {
            let input = input.build();
            let name: &'static str = format!("{name} ({fam})").leak();
            if punt {
                cases.push(case(name, If::Vc0, input, Drop, None, Stat::PuntPp));
            } else {
                let (input, out) = fwd(input);
                cases.push(case(name, If::Vc0, input, Redirect, out, Stat::FwdRedirect));
            }
        }

        // Header sent: the first data segment (and its retransmissions) still go to the
        // slow path, everything else is translated.
        let (cport, lport) = (base + 1, 6001 + base % 1000);
        let mut v = fv(action::FNAT_IN, dir::INPUT)
            .with_src(lip, lport)
            .with_dst(rs, 8080);
        v.flags = lvs_common::FF_PP_FIRST | lvs_common::FF_SEQ;
        v.pp_seq = pp_seq;
        v.seq_delta = delta;
        flows.add(FlowKey::new(IPPROTO_TCP, c, cport, vip, 80), v);
        let opts = ts_sack(&[]);
        for (name, input, xlate) in [
            (
                "PP seq in: first data segment again punted",
                client(cport)
                    .tcp_seq_ack(pp_seq, 77)
                    .tcp_options(&opts)
                    .payload(b"GET /"),
                None,
            ),
            (
                "PP seq in: SYN untranslated",
                client(cport).tcp_seq_ack(pp_seq - 1, 0).tcp_flags(TCP_SYN),
                Some(false),
            ),
            (
                "PP seq in: ACK at the first sequence number translated",
                client(cport)
                    .tcp_seq_ack(pp_seq, 78)
                    .tcp_flags(TCP_ACK)
                    .tcp_options(&opts),
                Some(true),
            ),
            (
                "PP seq in: later data translated (wraps)",
                client(cport)
                    .tcp_seq_ack(pp_seq.wrapping_add(1448), 79)
                    .tcp_options(&opts)
                    .payload(&[0x5a; 300]),
                Some(true),
            ),
            (
                "PP seq in: FIN translated",
                client(cport)
                    .tcp_seq_ack(pp_seq.wrapping_add(5000), 79)
                    .tcp_flags(TCP_ACK | TCP_FIN),
                Some(true),
            ),
            (
                "PP seq in: RST translated",
                client(cport)
                    .tcp_seq_ack(pp_seq.wrapping_add(5001), 0)
                    .tcp_flags(TCP_RST),
                Some(true),
            ),
        ] {
            let input = input.build();
            let name: &'static str = format!("{name} ({fam})").leak();
            match xlate {
                None => cases.push(case(name, If::Vc0, input, Drop, None, Stat::PuntPp)),
                Some(t) => {
                    let out = wire_pp(
                        &input,
                        (lip, lport),
                        (rs, 8080),
                        VR0_MAC,
                        RS_MAC,
                        t.then_some(true),
                        delta,
                    );
                    cases.push(case(
                        name,
                        If::Vc0,
                        input,
                        Redirect,
                        Some(out),
                        Stat::FwdRedirect,
                    ));
                }
            }
        }

        // Output: acknowledgement number and SACK blocks back into the client's space.
        let mut v = fv(action::FNAT_OUT, dir::OUTPUT)
            .with_src(vip, 80)
            .with_dst(c, cport);
        v.flags = lvs_common::FF_SEQ;
        v.seq_delta = delta;
        flows.add(FlowKey::new(IPPROTO_TCP, rs, 8080, lip, lport), v);
        let a = pp_seq.wrapping_add(delta);
        let sack4 = {
            let mut o = vec![1, 1, 5, 34];
            for e in 0..8u32 {
                o.extend_from_slice(&a.wrapping_add(3000 + 100 * e).to_be_bytes());
            }
            o
        };
        for (name, input, xlate) in [
            (
                "PP seq out: ACK with timestamps and 2 SACK blocks",
                server(lport)
                    .tcp_seq_ack(9000, a.wrapping_add(100))
                    .tcp_flags(TCP_ACK)
                    .tcp_options(&ts_sack(&[
                        a.wrapping_add(2000),
                        a.wrapping_add(3000),
                        a.wrapping_add(4000),
                        a.wrapping_add(5000),
                    ])),
                true,
            ),
            (
                "PP seq out: ACK with 4 SACK blocks",
                server(lport)
                    .tcp_seq_ack(9000, a.wrapping_add(100))
                    .tcp_flags(TCP_ACK)
                    .tcp_options(&sack4),
                true,
            ),
            (
                "PP seq out: data, ack of the header only (wraps back)",
                server(lport)
                    .tcp_seq_ack(9000, a)
                    .tcp_options(&ts_sack(&[]))
                    .payload(b"HTTP/1.0 200 OK\r\n"),
                true,
            ),
            (
                "PP seq out: SYN-ACK untranslated",
                server(lport)
                    .tcp_seq_ack(8999, pp_seq)
                    .tcp_flags(TCP_SYN | TCP_ACK),
                false,
            ),
            (
                "PP seq out: RST without ACK untranslated",
                server(lport).tcp_seq_ack(9500, 0).tcp_flags(TCP_RST),
                false,
            ),
        ] {
            let input = input.build();
            let name: &'static str = format!("{name} ({fam})").leak();
            let out = wire_pp(
                &input,
                (vip, 80),
                (c, cport),
                VC0_MAC,
                CLIENT_MAC,
                xlate.then_some(false),
                delta,
            );
            cases.push(case(
                name,
                If::Vr0,
                input,
                Redirect,
                Some(out),
                Stat::FwdRedirect,
            ));
        }
    }

    // A UDP flow never takes part, whatever its flags say.
    let mut v = fv(action::FNAT_IN, dir::INPUT)
        .with_src(v4(DIR_R4), 6100)
        .with_dst(v4(RS4), 8080);
    v.flags = lvs_common::FF_PP_WAIT | lvs_common::FF_SEQ;
    v.pp_seq = 0;
    v.seq_delta = 28;
    flows.add(
        FlowKey::new(IPPROTO_UDP, v4(CLIENT4), 44100, v4(VIP4), 80),
        v,
    );
    let input = udp4(CLIENT4, 44100, VIP4, 80, CLIENT_MAC, VC0_MAC)
        .payload(&[0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3])
        .build();
    let out = wire_rewrite(
        &input,
        Some((v4(DIR_R4), 6100)),
        Some((v4(RS4), 8080)),
        VR0_MAC,
        RS_MAC,
    );
    cases.push(case(
        "PP flags on a UDP flow: plain FULLNAT",
        If::Vc0,
        input,
        Redirect,
        Some(out),
        Stat::FwdRedirect,
    ));
    cases
}

fn v6_(s: &str) -> IpAddr {
    v6(s)
}

/// `lvs_xdp` on the Proxy Protocol table: the punts, and translations byte-identical to
/// lvs-wire's `seq_translate_in` / `seq_translate_out`.
#[test]
fn xdp_proxy_protocol_table() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let cases = pp_table(&mut dp, &lab);
    let mut failures = Vec::new();
    for c in &cases {
        let before = dp.stat(c.stat).unwrap();
        let rx_before = dp.stat(Stat::Rx).unwrap();
        let r = dp
            .test_run(&c.input, Some(ingress(&lab, c.ingress)))
            .unwrap();
        let want = c.output.as_deref().unwrap_or(&c.input);
        check_run(
            &dp,
            c.name,
            (format!("{:?}", r.verdict), &r.frame),
            (format!("{:?}", c.verdict), want, c.output.is_some()),
            (c.stat, before),
            (Stat::Rx, rx_before),
            &mut failures,
        );
    }
    assert_no_failures(&failures, cases.len());
    assert_eq!(dp.stat(Stat::PuntPp).unwrap(), 8);
}

/// `lvs_tc` on the same table: the same bytes where XDP forwards; what XDP punts, TC drops
/// (`tc_drop`: in generic mode XDP punted it before TC saw it).
#[test]
fn tc_proxy_protocol_table() {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let cases = pp_table(&mut dp, &lab);
    let mut failures = Vec::new();
    for c in &cases {
        let (verdict, output, stat) = tc_expectation(c);
        let before = dp.stat(stat).unwrap();
        let rx_before = dp.stat(Stat::TcRx).unwrap();
        let r = dp
            .test_run_tc(&c.input, Some(ingress(&lab, c.ingress)))
            .unwrap();
        let want = output.as_deref().unwrap_or(&c.input);
        check_run(
            &dp,
            c.name,
            (format!("{:?}", r.verdict), &r.frame),
            (format!("{verdict:?}"), want, output.is_some()),
            (stat, before),
            (Stat::TcRx, rx_before),
            &mut failures,
        );
    }
    assert_no_failures(&failures, cases.len());
    assert_eq!(dp.stat(Stat::TcDrop).unwrap(), 8);
}

/// Random TCP segments through FULLNAT flows with `FF_SEQ` in both directions: random
/// sequence and acknowledgement numbers, deltas, flags, and option layouts (NOPs,
/// timestamps, MSS, window scale, SACK of 1 to 4 blocks, a SACK option of a bad length,
/// EOL, padding): XDP and TC output equal lvs-wire's byte for byte.
#[test]
fn pp_seq_translation_matches_lvs_wire_on_random_frames() {
    random_pp_frames(Prog::Xdp);
    random_pp_frames(Prog::Tc);
}

fn random_options(rng: &mut Rng) -> Vec<u8> {
    let mut o = Vec::new();
    for _ in 0..rng.below(6) {
        match rng.below(8) {
            0 => o.push(1),
            1 => o.extend_from_slice(&[8, 10]),
            2 => o.extend_from_slice(&[2, 4, 5, 0xb4]),
            3 => o.extend_from_slice(&[3, 3, 7]),
            4 => o.extend_from_slice(&[5, 11]), // SACK of a bad length: skipped
            5 => o.push(0),                     // EOL
            _ => {
                let n = 1 + rng.below(4) as usize;
                o.extend_from_slice(&[5, (2 + 8 * n) as u8]);
            }
        }
        // fill in the option bodies with random bytes after their kind/length
        let need = match o.get(o.len().wrapping_sub(2)..) {
            Some([k, l]) if *k != 1 && *k != 0 && *l >= 2 => *l as usize - 2,
            _ => 0,
        };
        for _ in 0..need {
            o.push(rng.next() as u8);
        }
    }
    o.truncate(40);
    while o.len() % 4 != 0 {
        o.push(1);
    }
    o
}

fn random_pp_frames(prog: Prog) {
    let lab = Lab::new();
    let mut dp = small_dataplane();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    const N: usize = 1000;
    let mut with_sack = 0;
    for i in 0..N {
        let is_v6 = rng.below(2) == 0;
        let out_dir = rng.below(2) == 0;
        let delta = [28u32, 52, rng.next() as u32][rng.below(3) as usize];
        let (c, vip, rs, lip) = if is_v6 {
            (v6(CLIENT6), v6(VIP6), v6(RS6), v6(DIR_R6))
        } else {
            (v4(CLIENT4), v4(VIP4), v4(RS4), v4(DIR_R4))
        };
        let (cport, lport) = (
            1024 + rng.below(60000) as u16,
            1024 + rng.below(60000) as u16,
        );
        let opts = random_options(&mut rng);
        let payload: Vec<u8> = (0..rng.below(100)).map(|_| rng.next() as u8).collect();
        let ack = if rng.below(4) != 0 { TCP_ACK } else { 0 };
        let flags = (rng.next() as u16 & 0x3f) | ack;
        let (src, sport, dst, dport, smac, dmac) = if out_dir {
            (rs, 8080, lip, lport, RS_MAC, VR0_MAC)
        } else {
            (c, cport, vip, 80, CLIENT_MAC, VC0_MAC)
        };
        let mut b = Builder::new(smac, dmac);
        b = match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => b.ipv4(s.octets(), d.octets()),
            (IpAddr::V6(s), IpAddr::V6(d)) => b.ipv6(s.octets(), d.octets()),
            _ => unreachable!(),
        };
        let frame = b
            .tcp(sport, dport)
            .tcp_seq_ack(rng.next() as u32, rng.next() as u32)
            .tcp_flags(flags)
            .tcp_options(&opts)
            .payload(&payload)
            .build();
        let key = FlowKey::new(IPPROTO_TCP, src, sport, dst, dport);
        let mut v = if out_dir {
            fv(action::FNAT_OUT, dir::OUTPUT)
                .with_src(vip, 80)
                .with_dst(c, cport)
        } else {
            fv(action::FNAT_IN, dir::INPUT)
                .with_src(lip, lport)
                .with_dst(rs, 8080)
        };
        v.flags = lvs_common::FF_SEQ;
        v.seq_delta = delta;
        v.conn_id = 1;
        dp.insert_flow(&key, &v).unwrap();
        dp.set_conn(
            1,
            &ConnState {
                state: TcpState::Established as u8,
                ..Default::default()
            },
        )
        .unwrap();
        let (verdict, fwd, out) = run(
            &mut dp,
            prog,
            &frame,
            if out_dir { lab.vr0 } else { lab.vc0 },
        );
        let want = if out_dir {
            wire_pp(
                &frame,
                (vip, 80),
                (c, cport),
                VC0_MAC,
                CLIENT_MAC,
                Some(false),
                delta,
            )
        } else {
            wire_pp(
                &frame,
                (lip, lport),
                (rs, 8080),
                VR0_MAC,
                RS_MAC,
                Some(true),
                delta,
            )
        };
        assert!(fwd, "case {i}: {verdict}");
        assert_eq!(
            out,
            want,
            "{prog:?} case {i}: options {opts:02x?}: {}",
            diff(&want, &out)
        );
        verify_frame(&frame).unwrap();
        if let Err(e) = verify_frame(&out) {
            panic!(
                "{prog:?} case {i} out_dir {out_dir} delta {delta} flags {flags:#x} opts {opts:02x?}: {e}\nin  {frame:02x?}\nout {out:02x?}"
            );
        }
        if out_dir && opts.contains(&5) {
            with_sack += 1;
        }
        dp.remove_flow(&key).unwrap();
    }
    assert!(with_sack > 100, "{with_sack} frames with a SACK option");
    println!("{prog:?}: {N} random Proxy Protocol segments identical to lvs-wire");
}
