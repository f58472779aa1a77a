//! Byte fixtures for every LVS forwarding method and direction: input frame → expected
//! output frame, both built with `lvs_wire::build` (independent full checksums), compared
//! byte for byte; every output's checksums are verified by full recomputation. Then the
//! negative cases and property tests.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use lvs_wire::build::{Builder, internet_checksum, ip_packet, verify_frame};
use lvs_wire::{
    Af, Error, Fragment, Outer, build_icmp_frag_needed, build_icmp_port_unreachable,
    build_icmp_time_exceeded, complete_partial_checksum, decap_gue, decap_ipip, decrement_ttl,
    encap_gue, encap_ipip, parse_frame, rewrite_icmp_error_in, rewrite_icmp_error_in_fullnat,
    rewrite_icmp_error_out, rewrite_icmp_error_out_fullnat, rewrite_tuple, set_macs,
};
use proptest::prelude::*;

// ---- The cast -------------------------------------------------------------------------

/// Client-side router.
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The director.
const DIR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
/// The real server.
const RS_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x03];

const CIP: [u8; 4] = [192, 0, 2, 10];
const VIP: [u8; 4] = [198, 51, 100, 1];
const RIP: [u8; 4] = [10, 0, 0, 5];
const LIP: [u8; 4] = [10, 0, 0, 1];
const DIP: [u8; 4] = [10, 0, 0, 2];
const HOP: [u8; 4] = [203, 0, 113, 1];

const CIP6: [u8; 16] = v6(0x2001_0db8_000c, 0x10);
const VIP6: [u8; 16] = v6(0x2001_0db8_000a, 0x1);
const RIP6: [u8; 16] = v6(0xfd00_0000_0000, 0x5);
const LIP6: [u8; 16] = v6(0xfd00_0000_0000, 0x1);
const DIP6: [u8; 16] = v6(0xfd00_0000_0000, 0x2);
const HOP6: [u8; 16] = v6(0x2001_0db8_00ff, 0x1);

const CPORT: u16 = 40000;
const VPORT: u16 = 80;
const RPORT: u16 = 8080;
const LPORT: u16 = 50001;

const fn v6(prefix48: u64, host: u16) -> [u8; 16] {
    let p = prefix48.to_be_bytes();
    let h = host.to_be_bytes();
    [
        p[2], p[3], p[4], p[5], p[6], p[7], 0, 0, 0, 0, 0, 0, 0, 0, h[0], h[1],
    ]
}

fn ip4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn ip6(a: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(a))
}

const PAYLOAD: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

fn eth(src: [u8; 6], dst: [u8; 6]) -> Builder {
    Builder::new(src, dst)
}

fn tcp4(src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Builder {
    eth(ROUTER_MAC, DIR_MAC)
        .ipv4(src.0, dst.0)
        .tcp(src.1, dst.1)
        .payload(PAYLOAD)
}

fn udp4(src: ([u8; 4], u16), dst: ([u8; 4], u16)) -> Builder {
    eth(ROUTER_MAC, DIR_MAC)
        .ipv4(src.0, dst.0)
        .udp(src.1, dst.1)
        .payload(b"dns query")
}

fn tcp6(src: ([u8; 16], u16), dst: ([u8; 16], u16)) -> Builder {
    eth(ROUTER_MAC, DIR_MAC)
        .ipv6(src.0, dst.0)
        .tcp(src.1, dst.1)
        .payload(PAYLOAD)
}

fn udp6(src: ([u8; 16], u16), dst: ([u8; 16], u16)) -> Builder {
    eth(ROUTER_MAC, DIR_MAC)
        .ipv6(src.0, dst.0)
        .udp(src.1, dst.1)
        .payload(b"odd")
}

// ---- Fixture table --------------------------------------------------------------------

type Op = Box<dyn Fn(&[u8]) -> Result<Vec<u8>, Error>>;
type InPlace<'a> = &'a dyn Fn(&mut [u8]) -> Result<(), Error>;

struct Fixture {
    name: &'static str,
    input: Vec<u8>,
    expected: Vec<u8>,
    op: Op,
}

/// An in-place operation as a fixture op.
fn in_place(f: impl Fn(&mut [u8]) -> Result<(), Error> + 'static) -> Op {
    Box::new(move |input| {
        let mut b = input.to_vec();
        f(&mut b)?;
        Ok(b)
    })
}

/// An operation writing into an output buffer as a fixture op.
fn into_out(f: impl Fn(&[u8], &mut [u8]) -> Result<usize, Error> + 'static) -> Op {
    Box::new(move |input| {
        let mut out = vec![0xeeu8; 2048];
        let n = f(input, &mut out)?;
        out.truncate(n);
        Ok(out)
    })
}

fn tuple(src: Option<(IpAddr, u16)>, dst: Option<(IpAddr, u16)>) -> Op {
    in_place(move |f| rewrite_tuple(f, src, dst))
}

/// Patch a quoted IP packet the way the ICMP error rewrite must: addresses and ports, the
/// quoted IPv4 header checksum recomputed, the quoted L4 checksum left alone.
fn patch_quote(quote: &[u8], src: Option<(&[u8], u16)>, dst: Option<(&[u8], u16)>) -> Vec<u8> {
    let mut q = quote.to_vec();
    let v4 = q[0] >> 4 == 4;
    let (sa, da, l4) = if v4 {
        (12, 16, usize::from(q[0] & 0xf) * 4)
    } else {
        (8, 24, 40)
    };
    if let Some((a, p)) = src {
        q[sa..sa + a.len()].copy_from_slice(a);
        q[l4..l4 + 2].copy_from_slice(&p.to_be_bytes());
    }
    if let Some((a, p)) = dst {
        q[da..da + a.len()].copy_from_slice(a);
        q[l4 + 2..l4 + 4].copy_from_slice(&p.to_be_bytes());
    }
    if v4 {
        q[10] = 0;
        q[11] = 0;
        let c = internet_checksum(&q[..l4]);
        q[10..12].copy_from_slice(&c.to_be_bytes());
    }
    q
}

/// The first `n` bytes of the IP packet of `b` (what an ICMP error quotes).
fn quote_of(b: &Builder, n: usize) -> Vec<u8> {
    let f = b.build();
    let ip = ip_packet(&f);
    ip[..n.min(ip.len())].to_vec()
}

fn outer4(src: [u8; 4], dst: [u8; 4]) -> Outer {
    Outer {
        src_mac: DIR_MAC,
        dst_mac: RS_MAC,
        src: ip4(src),
        dst: ip4(dst),
    }
}

fn outer6(src: [u8; 16], dst: [u8; 16]) -> Outer {
    Outer {
        src_mac: DIR_MAC,
        dst_mac: RS_MAC,
        src: ip6(src),
        dst: ip6(dst),
    }
}

/// TTL − 1 then encapsulation, as the director's tunnel transmit does.
fn tunnel(outer: Outer, gue: Option<(u16, u16)>) -> Op {
    into_out(move |input, out| {
        let mut inner = input.to_vec();
        decrement_ttl(&mut inner)?;
        match gue {
            None => encap_ipip(&inner, out, &outer),
            Some((s, d)) => encap_gue(&inner, out, &outer, s, d),
        }
    })
}

#[allow(clippy::too_many_lines)]
fn fixtures() -> Vec<Fixture> {
    let mut v = Vec::new();
    let mut add = |name, input: Builder, expected: Builder, op: Op| {
        v.push(Fixture {
            name,
            input: input.build(),
            expected: expected.build(),
            op,
        });
    };

    // NAT (-m), §4.1.
    add(
        "nat_in_tcp_v4",
        tcp4((CIP, CPORT), (VIP, VPORT)),
        tcp4((CIP, CPORT), (RIP, RPORT)),
        tuple(None, Some((ip4(RIP), RPORT))),
    );
    add(
        "nat_out_tcp_v4",
        tcp4((RIP, RPORT), (CIP, CPORT)).tcp_flags(0x12),
        tcp4((VIP, VPORT), (CIP, CPORT)).tcp_flags(0x12),
        tuple(Some((ip4(VIP), VPORT)), None),
    );
    add(
        "nat_in_udp_v4",
        udp4((CIP, CPORT), (VIP, 53)),
        udp4((CIP, CPORT), (RIP, 5353)),
        tuple(None, Some((ip4(RIP), 5353))),
    );
    add(
        "nat_out_udp_v4",
        udp4((RIP, 5353), (CIP, CPORT)),
        udp4((VIP, 53), (CIP, CPORT)),
        tuple(Some((ip4(VIP), 53)), None),
    );
    add(
        "nat_in_udp_v4_no_checksum_stays_0",
        udp4((CIP, CPORT), (VIP, 53)).udp_no_checksum(),
        udp4((CIP, CPORT), (RIP, 5353)).udp_no_checksum(),
        tuple(None, Some((ip4(RIP), 5353))),
    );
    add(
        "nat_in_tcp_v4_ip_options",
        tcp4((CIP, CPORT), (VIP, VPORT)).ip_options(&[0x94, 0x04, 0, 0, 1, 1, 1, 0]),
        tcp4((CIP, CPORT), (RIP, RPORT)).ip_options(&[0x94, 0x04, 0, 0, 1, 1, 1, 0]),
        tuple(None, Some((ip4(RIP), RPORT))),
    );
    add(
        "nat_in_tcp_v4_padded_frame",
        tcp4((CIP, CPORT), (VIP, VPORT)).payload(b"").pad_to(60),
        tcp4((CIP, CPORT), (RIP, RPORT)).payload(b"").pad_to(60),
        tuple(None, Some((ip4(RIP), RPORT))),
    );
    add(
        "nat_in_tcp_v6",
        tcp6((CIP6, CPORT), (VIP6, VPORT)),
        tcp6((CIP6, CPORT), (RIP6, RPORT)),
        tuple(None, Some((ip6(RIP6), RPORT))),
    );
    add(
        "nat_out_tcp_v6",
        tcp6((RIP6, RPORT), (CIP6, CPORT)),
        tcp6((VIP6, VPORT), (CIP6, CPORT)),
        tuple(Some((ip6(VIP6), VPORT)), None),
    );
    add(
        "nat_in_udp_v6",
        udp6((CIP6, CPORT), (VIP6, 53)),
        udp6((CIP6, CPORT), (RIP6, 5353)),
        tuple(None, Some((ip6(RIP6), 5353))),
    );
    add(
        "nat_out_udp_v6",
        udp6((RIP6, 5353), (CIP6, CPORT)),
        udp6((VIP6, 53), (CIP6, CPORT)),
        tuple(Some((ip6(VIP6), 53)), None),
    );
    add(
        "nat_in_icmp_echo_v4_ports_ignored",
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(CIP, VIP)
            .icmp(8, 0, 0x0042_0001)
            .payload(b"ping"),
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(CIP, RIP)
            .icmp(8, 0, 0x0042_0001)
            .payload(b"ping"),
        tuple(None, Some((ip4(RIP), 9999))),
    );
    add(
        "nat_in_icmpv6_echo",
        eth(ROUTER_MAC, DIR_MAC)
            .ipv6(CIP6, VIP6)
            .icmp(128, 0, 0x0042_0001)
            .payload(b"ping"),
        eth(ROUTER_MAC, DIR_MAC)
            .ipv6(CIP6, RIP6)
            .icmp(128, 0, 0x0042_0001)
            .payload(b"ping"),
        tuple(None, Some((ip6(RIP6), 9999))),
    );

    // FULLNAT.
    add(
        "fullnat_in_tcp_v4",
        tcp4((CIP, CPORT), (VIP, VPORT)),
        tcp4((LIP, LPORT), (RIP, RPORT)),
        tuple(Some((ip4(LIP), LPORT)), Some((ip4(RIP), RPORT))),
    );
    add(
        "fullnat_out_tcp_v4",
        tcp4((RIP, RPORT), (LIP, LPORT)),
        tcp4((VIP, VPORT), (CIP, CPORT)),
        tuple(Some((ip4(VIP), VPORT)), Some((ip4(CIP), CPORT))),
    );
    add(
        "fullnat_in_udp_v4",
        udp4((CIP, CPORT), (VIP, 53)),
        udp4((LIP, LPORT), (RIP, 5353)),
        tuple(Some((ip4(LIP), LPORT)), Some((ip4(RIP), 5353))),
    );
    add(
        "fullnat_in_tcp_v6",
        tcp6((CIP6, CPORT), (VIP6, VPORT)),
        tcp6((LIP6, LPORT), (RIP6, RPORT)),
        tuple(Some((ip6(LIP6), LPORT)), Some((ip6(RIP6), RPORT))),
    );
    add(
        "fullnat_out_tcp_v6",
        tcp6((RIP6, RPORT), (LIP6, LPORT)),
        tcp6((VIP6, VPORT), (CIP6, CPORT)),
        tuple(Some((ip6(VIP6), VPORT)), Some((ip6(CIP6), CPORT))),
    );
    add(
        "fullnat_out_udp_v6",
        udp6((RIP6, 5353), (LIP6, LPORT)),
        udp6((VIP6, 53), (CIP6, CPORT)),
        tuple(Some((ip6(VIP6), 53)), Some((ip6(CIP6), CPORT))),
    );

    // DR (-g), §4.2: TTL − 1, MACs.
    let dr = || {
        in_place(|f| {
            decrement_ttl(f)?;
            set_macs(f, DIR_MAC, RS_MAC)
        })
    };
    add(
        "dr_tcp_v4",
        tcp4((CIP, CPORT), (VIP, VPORT)),
        eth(DIR_MAC, RS_MAC)
            .ipv4(CIP, VIP)
            .ttl(63)
            .tcp(CPORT, VPORT)
            .payload(PAYLOAD),
        dr(),
    );
    add(
        "dr_udp_v6",
        udp6((CIP6, CPORT), (VIP6, 53)).ttl(2),
        eth(DIR_MAC, RS_MAC)
            .ipv6(CIP6, VIP6)
            .ttl(1)
            .udp(CPORT, 53)
            .payload(b"odd"),
        dr(),
    );

    // Tunnelling (-i), §4.3.
    let inner4 = |ttl| tcp4((CIP, CPORT), (VIP, VPORT)).ttl(ttl);
    let inner6 = |ttl| tcp6((CIP6, CPORT), (VIP6, VPORT)).ttl(ttl);
    add(
        "ipip_v4_in_v4",
        inner4(64).tos(0xb9),
        eth(DIR_MAC, RS_MAC)
            .ipv4(DIP, RIP)
            .id(0)
            .tos(0xb9)
            .ttl(63)
            .raw(4)
            .payload(ip_packet(&inner4(63).tos(0xb9).build())),
        tunnel(outer4(DIP, RIP), None),
    );
    add(
        "ipip_v4_in_v4_ce_becomes_ect0_no_df",
        inner4(64).tos(0x2b).df(false),
        eth(DIR_MAC, RS_MAC)
            .ipv4(DIP, RIP)
            .id(0)
            .df(false)
            .tos(0x2a)
            .ttl(63)
            .raw(4)
            .payload(ip_packet(&inner4(63).tos(0x2b).df(false).build())),
        tunnel(outer4(DIP, RIP), None),
    );
    add(
        "ipip_v6_in_v6",
        inner6(64).tos(0x03),
        eth(DIR_MAC, RS_MAC)
            .ipv6(DIP6, RIP6)
            .tos(0x02)
            .ttl(63)
            .raw(41)
            .payload(ip_packet(&inner6(63).tos(0x03).build())),
        tunnel(outer6(DIP6, RIP6), None),
    );
    add(
        "ipip_v4_in_v6",
        inner4(64),
        eth(DIR_MAC, RS_MAC)
            .ipv6(DIP6, RIP6)
            .ttl(63)
            .raw(4)
            .payload(ip_packet(&inner4(63).build())),
        tunnel(outer6(DIP6, RIP6), None),
    );
    add(
        "ipip_v6_in_v4_sets_df",
        inner6(64),
        eth(DIR_MAC, RS_MAC)
            .ipv4(DIP, RIP)
            .id(0)
            .ttl(63)
            .raw(41)
            .payload(ip_packet(&inner6(63).build())),
        tunnel(outer4(DIP, RIP), None),
    );
    let gue_payload = |proto: u8, inner: &[u8]| {
        let mut p = vec![0, proto, 0, 0];
        p.extend_from_slice(inner);
        p
    };
    add(
        "gue_v4_in_v4_udp_checksum_0",
        inner4(64),
        eth(DIR_MAC, RS_MAC)
            .ipv4(DIP, RIP)
            .id(0)
            .ttl(63)
            .udp(51234, 6080)
            .udp_no_checksum()
            .payload(&gue_payload(4, ip_packet(&inner4(63).build()))),
        tunnel(outer4(DIP, RIP), Some((51234, 6080))),
    );
    add(
        "gue_v6_in_v6_udp_checksum_computed",
        inner6(64),
        eth(DIR_MAC, RS_MAC)
            .ipv6(DIP6, RIP6)
            .ttl(63)
            .udp(51234, 6080)
            .payload(&gue_payload(41, ip_packet(&inner6(63).build()))),
        tunnel(outer6(DIP6, RIP6), Some((51234, 6080))),
    );

    // ICMP errors for connections, §4.5. NAT in: a router tells the VIP that its packet
    // VIP:vport → CIP:cport was too big; the RS must see it about RIP:rport → CIP:cport.
    let sent4 = tcp4((VIP, VPORT), (CIP, CPORT)).payload(&[0x55; 600]);
    let q = quote_of(&sent4, 548);
    add(
        "icmp_error_in_nat_v4",
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(HOP, VIP)
            .df(false)
            .icmp(3, 4, 1400)
            .payload(&q),
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(HOP, RIP)
            .df(false)
            .icmp(3, 4, 1400)
            .payload(&patch_quote(&q, Some((&RIP, RPORT)), None)),
        in_place(|f| rewrite_icmp_error_in(f, ip4(RIP), RPORT)),
    );
    // NAT out: the RS reports port unreachable about CIP:cport → RIP:rport (UDP); the
    // client must see it from the VIP about CIP:cport → VIP:vport.
    let sent = udp4((CIP, CPORT), (RIP, 5353));
    let q = quote_of(&sent, 28);
    add(
        "icmp_error_out_nat_v4",
        eth(RS_MAC, DIR_MAC)
            .ipv4(RIP, CIP)
            .icmp(3, 3, 0)
            .payload(&q),
        eth(RS_MAC, DIR_MAC)
            .ipv4(VIP, CIP)
            .icmp(3, 3, 0)
            .payload(&patch_quote(&q, None, Some((&VIP, 53)))),
        in_place(|f| rewrite_icmp_error_out(f, ip4(VIP), 53)),
    );
    // Quote with IP options and a time-exceeded error.
    let sent = tcp4((VIP, VPORT), (CIP, CPORT)).ip_options(&[1, 1, 1, 0]);
    let q = quote_of(&sent, 32);
    add(
        "icmp_error_in_nat_v4_quoted_options",
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(HOP, VIP)
            .icmp(11, 0, 0)
            .payload(&q),
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(HOP, RIP)
            .icmp(11, 0, 0)
            .payload(&patch_quote(&q, Some((&RIP, RPORT)), None)),
        in_place(|f| rewrite_icmp_error_in(f, ip4(RIP), RPORT)),
    );
    let sent6 = tcp6((VIP6, VPORT), (CIP6, CPORT)).payload(&[0x66; 1300]);
    let q = quote_of(&sent6, 1232);
    add(
        "icmp_error_in_nat_v6_packet_too_big",
        eth(ROUTER_MAC, DIR_MAC)
            .ipv6(HOP6, VIP6)
            .icmp(2, 0, 1280)
            .payload(&q),
        eth(ROUTER_MAC, DIR_MAC)
            .ipv6(HOP6, RIP6)
            .icmp(2, 0, 1280)
            .payload(&patch_quote(&q, Some((&RIP6, RPORT)), None)),
        in_place(|f| rewrite_icmp_error_in(f, ip6(RIP6), RPORT)),
    );
    let q = quote_of(&udp6((CIP6, CPORT), (RIP6, 5353)), 48);
    add(
        "icmp_error_out_nat_v6_port_unreachable",
        eth(RS_MAC, DIR_MAC)
            .ipv6(RIP6, CIP6)
            .icmp(1, 4, 0)
            .payload(&q),
        eth(RS_MAC, DIR_MAC)
            .ipv6(VIP6, CIP6)
            .icmp(1, 4, 0)
            .payload(&patch_quote(&q, None, Some((&VIP6, 53)))),
        in_place(|f| rewrite_icmp_error_out(f, ip6(VIP6), 53)),
    );
    let q = quote_of(&tcp4((VIP, VPORT), (CIP, CPORT)), 40);
    add(
        "icmp_error_in_fullnat_v4",
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(HOP, VIP)
            .icmp(3, 1, 0)
            .payload(&q),
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(LIP, RIP)
            .icmp(3, 1, 0)
            .payload(&patch_quote(&q, Some((&RIP, RPORT)), Some((&LIP, LPORT)))),
        in_place(|f| rewrite_icmp_error_in_fullnat(f, ip4(LIP), LPORT, ip4(RIP), RPORT)),
    );
    let q = quote_of(&tcp6((LIP6, LPORT), (RIP6, RPORT)), 60);
    add(
        "icmp_error_out_fullnat_v6",
        eth(RS_MAC, DIR_MAC)
            .ipv6(RIP6, LIP6)
            .icmp(1, 4, 0)
            .payload(&q),
        eth(RS_MAC, DIR_MAC)
            .ipv6(VIP6, CIP6)
            .icmp(1, 4, 0)
            .payload(&patch_quote(&q, Some((&CIP6, CPORT)), Some((&VIP6, VPORT)))),
        in_place(|f| rewrite_icmp_error_out_fullnat(f, ip6(VIP6), VPORT, ip6(CIP6), CPORT)),
    );

    // ICMP generated by the director.
    let big4 = tcp4((CIP, CPORT), (VIP, VPORT)).payload(&[0x42; 1460]);
    add(
        "gen_frag_needed_v4_quote_548",
        big4.clone(),
        eth(DIR_MAC, ROUTER_MAC)
            .ipv4(DIP, CIP)
            .tos(0xc0)
            .id(0)
            .df(false)
            .icmp(3, 4, 1480)
            .payload(&quote_of(&big4, 548)),
        into_out(|i, o| build_icmp_frag_needed(i, 1480, o, ip4(DIP))),
    );
    let big6 = tcp6((CIP6, CPORT), (VIP6, VPORT)).payload(&[0x42; 1440]);
    add(
        "gen_packet_too_big_v6_quote_1232",
        big6.clone(),
        eth(DIR_MAC, ROUTER_MAC)
            .ipv6(DIP6, CIP6)
            .icmp(2, 0, 1460)
            .payload(&quote_of(&big6, 1232)),
        into_out(|i, o| build_icmp_frag_needed(i, 1460, o, ip6(DIP6))),
    );
    let small = udp4((RIP, 5353), (CIP, CPORT)).pad_to(60);
    add(
        "gen_port_unreachable_v4_whole_packet_no_padding",
        small.clone(),
        eth(DIR_MAC, ROUTER_MAC)
            .ipv4(DIP, RIP)
            .tos(0xc0)
            .id(0)
            .df(false)
            .icmp(3, 3, 0)
            .payload(&quote_of(&small, 576)),
        into_out(|i, o| build_icmp_port_unreachable(i, o, ip4(DIP))),
    );
    let small6 = udp6((RIP6, 5353), (CIP6, CPORT));
    add(
        "gen_port_unreachable_v6",
        small6.clone(),
        eth(DIR_MAC, ROUTER_MAC)
            .ipv6(DIP6, RIP6)
            .icmp(1, 4, 0)
            .payload(&quote_of(&small6, 1280)),
        into_out(|i, o| build_icmp_port_unreachable(i, o, ip6(DIP6))),
    );
    let dying = tcp4((CIP, CPORT), (VIP, VPORT)).ttl(1);
    add(
        "gen_time_exceeded_v4",
        dying.clone(),
        eth(DIR_MAC, ROUTER_MAC)
            .ipv4(DIP, CIP)
            .tos(0xc0)
            .id(0)
            .df(false)
            .icmp(11, 0, 0)
            .payload(&quote_of(&dying, 576)),
        into_out(|i, o| build_icmp_time_exceeded(i, o, ip4(DIP))),
    );
    let dying6 = tcp6((CIP6, CPORT), (VIP6, VPORT)).ttl(1);
    add(
        "gen_time_exceeded_v6",
        dying6.clone(),
        eth(DIR_MAC, ROUTER_MAC)
            .ipv6(DIP6, CIP6)
            .icmp(3, 0, 0)
            .payload(&quote_of(&dying6, 1280)),
        into_out(|i, o| build_icmp_time_exceeded(i, o, ip6(DIP6))),
    );
    v
}

#[test]
fn fixture_table() {
    let table = fixtures();
    assert!(table.len() >= 40, "{} fixtures", table.len());
    for fx in &table {
        verify_frame(&fx.input).unwrap_or_else(|e| panic!("{}: input: {e}", fx.name));
        let got = (fx.op)(&fx.input).unwrap_or_else(|e| panic!("{}: {e}", fx.name));
        assert_eq!(got, fx.expected, "{}: output differs", fx.name);
        verify_frame(&got).unwrap_or_else(|e| panic!("{}: output: {e}", fx.name));
    }
}

/// Decapsulation gives back the frame the director saw after its TTL decrement, with the
/// tunnel frame's MAC addresses.
#[test]
fn decap_restores_inner() {
    for fx in fixtures()
        .iter()
        .filter(|f| f.name.starts_with("ipip") || f.name.starts_with("gue"))
    {
        let mut inner = fx.input.clone();
        decrement_ttl(&mut inner).unwrap();
        set_macs(&mut inner, DIR_MAC, RS_MAC).unwrap();
        let mut tun = fx.expected.clone();
        let r = if fx.name.starts_with("gue") {
            decap_gue(&mut tun)
        } else {
            decap_ipip(&mut tun)
        }
        .unwrap_or_else(|e| panic!("{}: {e}", fx.name));
        assert_eq!(&tun[r], &inner[..], "{}", fx.name);
    }
}

/// Literal bytes, so the XDP C tests can use the same frames without the builder. The
/// checksums were computed with an independent script (and agree with the builder).
#[test]
fn literal_nat_in_tcp_v4() {
    let input = hex(concat!(
        "02000000000202000000000108004500003a123440004006",
        "3c4bc000020ac63364019c400050000003e8000000005018",
        "ffff44630000474554202f20485454502f312e300d0a0d0a",
    ));
    let expected = hex(concat!(
        "02000000000202000000000108004500003a123440004006",
        "5c7bc000020a0a0000059c401f90000003e8000000005018",
        "ffff45530000474554202f20485454502f312e300d0a0d0a",
    ));
    assert_eq!(input, tcp4((CIP, CPORT), (VIP, VPORT)).build());
    assert_eq!(expected, tcp4((CIP, CPORT), (RIP, RPORT)).build());
    let mut f = input.clone();
    rewrite_tuple(&mut f, None, Some((ip4(RIP), RPORT))).unwrap();
    assert_eq!(f, expected);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Where incremental and full checksums could disagree on the representation of zero:
/// a rewrite whose correct UDP checksum is 0 must write `0xffff`; a TCP or IPv4 header
/// checksum that becomes 0 must be written `0x0000` (as a full computation does).
#[test]
fn checksum_zero_representations() {
    let csum_at = |f: &[u8], at: usize| u16::from_be_bytes([f[at], f[at + 1]]);
    for v6 in [false, true] {
        let (l4, new_dst) = if v6 {
            (14 + 40, ip6(RIP6))
        } else {
            (14 + 20, ip4(RIP))
        };
        // Payload word chosen so that the UDP sum of the expected frame is 0xffff.
        let exp0 = if v6 {
            udp6((CIP6, CPORT), (RIP6, 5353)).payload(&[0, 0]).build()
        } else {
            udp4((CIP, CPORT), (RIP, 5353)).payload(&[0, 0]).build()
        };
        let w = csum_at(&exp0, l4 + 6).to_be_bytes();
        let (input, expected) = if v6 {
            (
                udp6((CIP6, CPORT), (VIP6, 53)).payload(&w).build(),
                udp6((CIP6, CPORT), (RIP6, 5353)).payload(&w).build(),
            )
        } else {
            (
                udp4((CIP, CPORT), (VIP, 53)).payload(&w).build(),
                udp4((CIP, CPORT), (RIP, 5353)).payload(&w).build(),
            )
        };
        assert_eq!(csum_at(&expected, l4 + 6), 0xffff);
        let mut f = input.clone();
        rewrite_tuple(&mut f, None, Some((new_dst, 5353))).unwrap();
        assert_eq!(f, expected, "udp v6={v6}");

        // The same for TCP: the checksum becomes 0x0000.
        let exp0 = if v6 {
            tcp6((CIP6, CPORT), (RIP6, RPORT)).payload(&[0, 0]).build()
        } else {
            tcp4((CIP, CPORT), (RIP, RPORT)).payload(&[0, 0]).build()
        };
        let w = csum_at(&exp0, l4 + 16).to_be_bytes();
        let (input, expected) = if v6 {
            (
                tcp6((CIP6, CPORT), (VIP6, VPORT)).payload(&w).build(),
                tcp6((CIP6, CPORT), (RIP6, RPORT)).payload(&w).build(),
            )
        } else {
            (
                tcp4((CIP, CPORT), (VIP, VPORT)).payload(&w).build(),
                tcp4((CIP, CPORT), (RIP, RPORT)).payload(&w).build(),
            )
        };
        assert_eq!(csum_at(&expected, l4 + 16), 0);
        let mut f = input.clone();
        rewrite_tuple(&mut f, None, Some((new_dst, RPORT))).unwrap();
        assert_eq!(f, expected, "tcp v6={v6}");
    }
    // IPv4 header checksum becoming 0: pick the id that makes it so.
    let h0 = tcp4((CIP, CPORT), (RIP, RPORT)).id(0).build();
    let id = csum_at(&h0, 14 + 10);
    let expected = tcp4((CIP, CPORT), (RIP, RPORT)).id(id).build();
    assert_eq!(csum_at(&expected, 14 + 10), 0);
    let mut f = tcp4((CIP, CPORT), (VIP, VPORT)).id(id).build();
    rewrite_tuple(&mut f, None, Some((ip4(RIP), RPORT))).unwrap();
    assert_eq!(f, expected);
    // And TTL decrement onto a zero header checksum.
    let h0 = tcp4((CIP, CPORT), (VIP, VPORT)).ttl(63).id(0).build();
    let id = csum_at(&h0, 14 + 10);
    let expected = tcp4((CIP, CPORT), (VIP, VPORT)).ttl(63).id(id).build();
    let mut f = tcp4((CIP, CPORT), (VIP, VPORT)).ttl(64).id(id).build();
    decrement_ttl(&mut f).unwrap();
    assert_eq!(f, expected);
}

// ---- parse_frame ----------------------------------------------------------------------

#[test]
fn parse_tcp_v4_with_options() {
    let f = tcp4((CIP, CPORT), (VIP, VPORT))
        .ip_options(&[1, 1, 1, 0])
        .tcp_flags(0x02)
        .build();
    let i = parse_frame(&f).unwrap();
    assert_eq!(i.af, Af::Inet);
    assert_eq!(i.ethertype, 0x0800);
    assert_eq!((i.l3_offset, i.l4_offset), (14, 14 + 24));
    assert_eq!(i.protocol, 6);
    assert_eq!(i.src_ip(), ip4(CIP));
    assert_eq!(&i.daddr[..4], &VIP);
    assert_eq!(&i.daddr[4..], &[0; 12]);
    assert_eq!((i.sport, i.dport), (CPORT, VPORT));
    assert!(i.tcp_flags.syn() && !i.tcp_flags.ack() && !i.tcp_flags.fin() && !i.tcp_flags.rst());
    assert_eq!(i.ip_len, 24 + 20 + PAYLOAD.len() as u32);
    assert_eq!(i.l3_end, 14 + i.ip_len as usize);
    assert_eq!(i.ttl, 64);
    assert!(i.df);
    assert_eq!(i.fragment, Fragment::No);
    assert_eq!(i.icmp, None);
    assert_eq!(i.icmp_error, None);
}

#[test]
fn parse_udp_v6_ip_len_counts_header() {
    let f = udp6((CIP6, CPORT), (VIP6, 53)).ttl(7).tos(0x2e).build();
    let i = parse_frame(&f).unwrap();
    assert_eq!(i.af, Af::Inet6);
    assert_eq!(i.ip_len, 40 + 8 + 3);
    assert_eq!(i.dst_ip(), ip6(VIP6));
    assert_eq!((i.sport, i.dport, i.ttl, i.dsfield), (CPORT, 53, 7, 0x2e));
    assert!(i.df);
}

#[test]
fn parse_fragments() {
    let first = tcp4((CIP, CPORT), (VIP, VPORT)).fragment(0, true).build();
    let i = parse_frame(&first).unwrap();
    assert_eq!(
        (i.fragment, i.sport, i.dport),
        (Fragment::First, CPORT, VPORT)
    );
    let later = tcp4((CIP, CPORT), (VIP, VPORT))
        .fragment(1480, false)
        .build();
    let i = parse_frame(&later).unwrap();
    assert_eq!((i.fragment, i.sport, i.dport), (Fragment::Later, 0, 0));
    // UDP first fragment: the UDP length covers the whole datagram, not this fragment.
    let mut first_udp = udp4((CIP, CPORT), (VIP, 53)).fragment(0, true).build();
    first_udp[14 + 20 + 5] = 200;
    assert_eq!(parse_frame(&first_udp).unwrap().dport, 53);

    let first6 = udp6((CIP6, CPORT), (VIP6, 53)).fragment(0, true).build();
    let i = parse_frame(&first6).unwrap();
    assert_eq!(
        (i.fragment, i.protocol, i.l4_offset),
        (Fragment::First, 17, 14 + 48)
    );
    assert_eq!((i.sport, i.dport), (CPORT, 53));
    let later6 = udp6((CIP6, CPORT), (VIP6, 53)).fragment(8, false).build();
    let i = parse_frame(&later6).unwrap();
    assert_eq!((i.fragment, i.sport), (Fragment::Later, 0));
}

#[test]
fn parse_icmp_errors_embedded() {
    let q = quote_of(&tcp4((VIP, VPORT), (CIP, CPORT)), 28);
    for t in [3u8, 4, 11] {
        let f = eth(ROUTER_MAC, DIR_MAC)
            .ipv4(HOP, VIP)
            .icmp(t, 0, 0)
            .payload(&q)
            .build();
        let i = parse_frame(&f).unwrap();
        assert_eq!(i.icmp, Some((t, 0)));
        let e = i.icmp_error.expect("embedded");
        assert_eq!((e.protocol, e.sport, e.dport), (6, VPORT, CPORT));
        assert_eq!((&e.saddr[..4], &e.daddr[..4]), (&VIP[..], &CIP[..]));
        assert_eq!((e.l3_offset, e.l4_offset), (14 + 20 + 8, 14 + 20 + 8 + 20));
    }
    for t in [0u8, 5, 8, 12] {
        let f = eth(ROUTER_MAC, DIR_MAC)
            .ipv4(HOP, VIP)
            .icmp(t, 0, 0)
            .payload(&q)
            .build();
        assert_eq!(parse_frame(&f).unwrap().icmp_error, None, "type {t}");
    }
    let q6 = quote_of(&udp6((VIP6, 53), (CIP6, CPORT)), 48);
    for t in 1u8..=4 {
        let f = eth(ROUTER_MAC, DIR_MAC)
            .ipv6(HOP6, VIP6)
            .icmp(t, 0, 0)
            .payload(&q6)
            .build();
        let e = parse_frame(&f).unwrap().icmp_error.expect("embedded v6");
        assert_eq!(
            (e.protocol, e.sport, e.dport, e.saddr),
            (17, 53, CPORT, VIP6)
        );
    }
    // Quote too short for the ports.
    let f = eth(ROUTER_MAC, DIR_MAC)
        .ipv4(HOP, VIP)
        .icmp(3, 3, 0)
        .payload(&q[..22])
        .build();
    let i = parse_frame(&f).unwrap();
    assert_eq!((i.icmp, i.icmp_error), (Some((3, 3)), None));
}

#[test]
fn parse_rejects() {
    let good = tcp4((CIP, CPORT), (VIP, VPORT)).build();
    // VLAN tag, ARP.
    for et in [[0x81, 0x00], [0x08, 0x06]] {
        let mut f = good.clone();
        f[12..14].copy_from_slice(&et);
        assert_eq!(parse_frame(&f), Err(Error::Unsupported));
    }
    // Bad version.
    let mut f = good.clone();
    f[14] = 0x65;
    assert_eq!(parse_frame(&f), Err(Error::Malformed));
    // IHL below 5, IHL beyond the packet.
    let mut f = good.clone();
    f[14] = 0x44;
    assert_eq!(parse_frame(&f), Err(Error::Malformed));
    let mut f = good.clone();
    f[14] = 0x4f;
    assert_eq!(parse_frame(&f), Err(Error::Truncated)); // 60 bytes > 58 in the frame
    let mut f = tcp4((CIP, CPORT), (VIP, VPORT)).payload(&[0; 40]).build();
    f[14] = 0x4f; // header fits; TCP now starts in the zero payload: data offset 0
    assert_eq!(parse_frame(&f), Err(Error::Malformed));
    let mut f = tcp4((CIP, CPORT), (VIP, VPORT)).payload(&[0; 30]).build();
    f[14] = 0x4f; // header fits; only 10 bytes are left for TCP
    assert_eq!(parse_frame(&f), Err(Error::Truncated));
    // Total length beyond the frame, below the header.
    let mut f = good.clone();
    f[17] += 1;
    assert_eq!(parse_frame(&f), Err(Error::Truncated));
    let mut f = good.clone();
    f[16..18].copy_from_slice(&19u16.to_be_bytes());
    assert_eq!(parse_frame(&f), Err(Error::Malformed));
    // TCP data offset below 5.
    let mut f = good.clone();
    f[14 + 20 + 12] = 0x40;
    assert_eq!(parse_frame(&f), Err(Error::Malformed));
    // UDP length below 8.
    let mut f = udp4((CIP, CPORT), (VIP, 53)).build();
    f[14 + 20 + 5] = 7;
    assert_eq!(parse_frame(&f), Err(Error::Malformed));
    // IPv6 extension header (hop-by-hop): not parsed.
    let mut f = udp6((CIP6, CPORT), (VIP6, 53)).build();
    f[14 + 6] = 0;
    assert_eq!(parse_frame(&f), Err(Error::Unsupported));
    // Bad IPv6 version.
    let mut f = udp6((CIP6, CPORT), (VIP6, 53)).build();
    f[14] = 0x40;
    assert_eq!(parse_frame(&f), Err(Error::Malformed));
}

// ---- Negative cases for the rewrites ----------------------------------------------------

#[test]
fn truncated_at_every_length() {
    let mut frames: Vec<Vec<u8>> = fixtures().into_iter().map(|f| f.input).collect();
    frames.push(
        tcp4((CIP, CPORT), (VIP, VPORT))
            .ip_options(&[1, 1, 1, 0])
            .build(),
    );
    let mut out = vec![0u8; 2048];
    for full in &frames {
        let end = parse_frame(full).unwrap().l3_end;
        for n in 0..full.len() {
            let f = &full[..n];
            let r = parse_frame(f);
            if n < end {
                assert!(r.is_err(), "parse of {n}/{} bytes", full.len());
            }
            let mut b = f.to_vec();
            let ops: [InPlace<'_>; 6] = [
                &|b| decrement_ttl(b).map(drop),
                &|b| rewrite_tuple(b, Some((ip4(LIP), 1)), Some((ip4(RIP), 2))),
                &|b| rewrite_tuple(b, Some((ip6(LIP6), 1)), None),
                &|b| rewrite_icmp_error_in(b, ip4(RIP), RPORT),
                &|b| rewrite_icmp_error_out(b, ip6(VIP6), VPORT),
                &|b| decap_ipip(b).map(drop),
            ];
            for op in ops {
                if op(&mut b).is_err() {
                    assert_eq!(&b[..], f, "buffer changed on error at {n}");
                }
                b.copy_from_slice(f);
            }
            let _ = decap_gue(&mut b);
            let _ = encap_ipip(f, &mut out, &outer4(DIP, RIP));
            let _ = encap_gue(f, &mut out, &outer6(DIP6, RIP6), 1, 2);
            let _ = build_icmp_frag_needed(f, 1400, &mut out, ip4(DIP));
            let _ = build_icmp_port_unreachable(f, &mut out, ip6(DIP6));
            let _ = build_icmp_time_exceeded(f, &mut out, ip4(DIP));
        }
    }
}

#[test]
fn ttl_one_and_zero() {
    for ttl in [0u8, 1] {
        for f in [
            tcp4((CIP, CPORT), (VIP, VPORT)).ttl(ttl).build(),
            tcp6((CIP6, CPORT), (VIP6, VPORT)).ttl(ttl).build(),
        ] {
            let mut b = f.clone();
            assert_eq!(decrement_ttl(&mut b), Err(Error::TtlExceeded));
            assert_eq!(b, f);
        }
    }
    let mut b = tcp4((CIP, CPORT), (VIP, VPORT)).ttl(2).build();
    assert_eq!(decrement_ttl(&mut b), Ok(1));
    verify_frame(&b).unwrap();
}

#[test]
fn rewrite_refusals_leave_buffer_untouched() {
    let check = |f: Vec<u8>, op: &dyn Fn(&mut [u8]) -> Result<(), Error>, want: Error| {
        let mut b = f.clone();
        assert_eq!(op(&mut b), Err(want));
        assert_eq!(b, f);
    };
    let nat_in = |b: &mut [u8]| rewrite_tuple(b, None, Some((ip4(RIP), RPORT)));
    check(
        tcp4((CIP, CPORT), (VIP, VPORT)).fragment(0, true).build(),
        &nat_in,
        Error::Fragment,
    );
    check(
        tcp4((CIP, CPORT), (VIP, VPORT)).fragment(8, false).build(),
        &nat_in,
        Error::Fragment,
    );
    check(
        udp6((CIP6, CPORT), (VIP6, 53)).fragment(0, true).build(),
        &|b| rewrite_tuple(b, None, Some((ip6(RIP6), 1))),
        Error::Fragment,
    );
    check(
        tcp4((CIP, CPORT), (VIP, VPORT)).build(),
        &|b| rewrite_tuple(b, None, Some((ip6(RIP6), 1))),
        Error::FamilyMismatch,
    );
    check(
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(CIP, VIP)
            .raw(132)
            .payload(&[0; 16])
            .build(),
        &nat_in,
        Error::Unsupported,
    );
    check(
        tcp4((CIP, CPORT), (VIP, VPORT)).build(),
        &|b| rewrite_icmp_error_in(b, ip4(RIP), RPORT),
        Error::NotIcmpError,
    );
    // Echo is not an error message.
    check(
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(CIP, VIP)
            .icmp(8, 0, 1)
            .build(),
        &|b| rewrite_icmp_error_in(b, ip4(RIP), RPORT),
        Error::NotIcmpError,
    );
    // Bad ICMP checksum, bad outer IPv4 header checksum, bad ICMPv6 checksum.
    let q = quote_of(&tcp4((VIP, VPORT), (CIP, CPORT)), 28);
    let good = eth(ROUTER_MAC, DIR_MAC)
        .ipv4(HOP, VIP)
        .icmp(3, 4, 1400)
        .payload(&q)
        .build();
    let mut bad = good.clone();
    *bad.last_mut().unwrap() ^= 1;
    check(
        bad,
        &|b| rewrite_icmp_error_in(b, ip4(RIP), RPORT),
        Error::BadChecksum,
    );
    let mut bad = good.clone();
    bad[14 + 10] ^= 1;
    check(
        bad,
        &|b| rewrite_icmp_error_in(b, ip4(RIP), RPORT),
        Error::BadChecksum,
    );
    let q6 = quote_of(&tcp6((VIP6, VPORT), (CIP6, CPORT)), 60);
    let mut bad = eth(ROUTER_MAC, DIR_MAC)
        .ipv6(HOP6, VIP6)
        .icmp(2, 0, 1280)
        .payload(&q6)
        .build();
    bad[14 + 8] ^= 1; // outer source is in the pseudo-header
    check(
        bad,
        &|b| rewrite_icmp_error_in(b, ip6(RIP6), RPORT),
        Error::BadChecksum,
    );
}

#[test]
fn generated_icmp_refusals() {
    let mut out = vec![0u8; 2048];
    let tcp = tcp4((CIP, CPORT), (VIP, VPORT)).build();
    assert_eq!(
        build_icmp_frag_needed(&tcp, 1400, &mut out, ip6(DIP6)),
        Err(Error::FamilyMismatch)
    );
    assert_eq!(
        build_icmp_frag_needed(&tcp, 70000, &mut out, ip4(DIP)),
        Err(Error::TooLong)
    );
    assert_eq!(
        build_icmp_port_unreachable(&tcp, &mut out[..60], ip4(DIP)),
        Err(Error::BufferTooSmall)
    );
    let not_allowed = [
        // About an ICMP error.
        eth(ROUTER_MAC, DIR_MAC)
            .ipv4(CIP, VIP)
            .icmp(3, 3, 0)
            .payload(&[0x45; 28])
            .build(),
        eth(ROUTER_MAC, DIR_MAC)
            .ipv6(CIP6, VIP6)
            .icmp(1, 4, 0)
            .build(),
        // About a later fragment.
        tcp4((CIP, CPORT), (VIP, VPORT)).fragment(8, false).build(),
        // From an unspecified / multicast source, to a broadcast / multicast destination.
        tcp4(([0, 0, 0, 0], CPORT), (VIP, VPORT)).build(),
        tcp4(([224, 0, 0, 1], CPORT), (VIP, VPORT)).build(),
        udp4((CIP, CPORT), ([255, 255, 255, 255], 53)).build(),
        udp4((CIP, CPORT), ([239, 1, 2, 3], 53)).build(),
        udp6(([0; 16], CPORT), (VIP6, 53)).build(),
        udp6((CIP6, CPORT), (v6(0xff02_0000_0000, 1), 53)).build(),
    ];
    for f in &not_allowed {
        let src = if f[12] == 0x08 { ip4(DIP) } else { ip6(DIP6) };
        assert_eq!(
            build_icmp_port_unreachable(f, &mut out, src),
            Err(Error::IcmpNotAllowed)
        );
    }
    // Packet too big may be sent about an IPv6 multicast destination; echo requests are
    // fine to answer.
    let mcast6 = udp6((CIP6, CPORT), (v6(0xff02_0000_0000, 1), 53)).build();
    assert!(build_icmp_frag_needed(&mcast6, 1280, &mut out, ip6(DIP6)).is_ok());
    let echo = eth(ROUTER_MAC, DIR_MAC)
        .ipv4(CIP, VIP)
        .icmp(8, 0, 1)
        .build();
    assert!(build_icmp_time_exceeded(&echo, &mut out, ip4(DIP)).is_ok());
}

#[test]
fn encap_refusals() {
    let inner = tcp4((CIP, CPORT), (VIP, VPORT)).build();
    let mut out = vec![0u8; 2048];
    let mixed = Outer {
        src: ip4(DIP),
        dst: ip6(RIP6),
        ..outer4(DIP, RIP)
    };
    assert_eq!(
        encap_ipip(&inner, &mut out, &mixed),
        Err(Error::FamilyMismatch)
    );
    let need = 14 + 20 + inner.len() - 14;
    assert_eq!(
        encap_ipip(&inner, &mut out[..need - 1], &outer4(DIP, RIP)),
        Err(Error::BufferTooSmall)
    );
    assert_eq!(
        encap_ipip(&inner, &mut out[..need], &outer4(DIP, RIP)),
        Ok(need)
    );
    // A 65535-byte inner packet does not fit another IPv4 header.
    let huge = tcp4((CIP, CPORT), (VIP, VPORT))
        .payload(&vec![0; 65535 - 40])
        .build();
    let mut big = vec![0u8; 70000];
    assert_eq!(
        encap_ipip(&huge, &mut big, &outer4(DIP, RIP)),
        Err(Error::TooLong)
    );
    assert!(encap_ipip(&huge, &mut big, &outer6(DIP6, RIP6)).is_ok());
    // Decap of a non-tunnel packet.
    let mut plain = inner.clone();
    assert_eq!(decap_ipip(&mut plain), Err(Error::Unsupported));
    assert_eq!(decap_gue(&mut plain), Err(Error::Unsupported));
    assert_eq!(plain, inner);
    // Inner version that does not match the outer protocol.
    let mut lying = eth(DIR_MAC, RS_MAC)
        .ipv4(DIP, RIP)
        .raw(41)
        .payload(ip_packet(&inner))
        .build();
    let copy = lying.clone();
    assert_eq!(decap_ipip(&mut lying), Err(Error::Truncated));
    assert_eq!(lying, copy);
}

// ---- Property tests ---------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Kind {
    Tcp,
    Udp,
    UdpNoCsum,
    Icmp,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Tcp),
        Just(Kind::Udp),
        Just(Kind::UdpNoCsum),
        Just(Kind::Icmp)
    ]
}

/// (v6?, src, sport, dst, dport) with addresses in `Addr16` layout.
type Tuple = ([u8; 16], u16, [u8; 16], u16);

fn frame_of(v6: bool, kind: &Kind, t: &Tuple, payload: &[u8], ttl: u8) -> Vec<u8> {
    let b = eth(ROUTER_MAC, DIR_MAC);
    let b = if v6 {
        b.ipv6(t.0, t.2)
    } else {
        let (s, d) = (t.0, t.2);
        b.ipv4([s[0], s[1], s[2], s[3]], [d[0], d[1], d[2], d[3]])
    };
    let b = match kind {
        Kind::Tcp => b.tcp(t.1, t.3),
        Kind::Udp => b.udp(t.1, t.3),
        Kind::UdpNoCsum if !v6 => b.udp(t.1, t.3).udp_no_checksum(),
        Kind::UdpNoCsum => b.udp(t.1, t.3),
        Kind::Icmp => b.icmp(8, 0, 0x0001_0002),
    };
    b.ttl(ttl).payload(payload).build()
}

fn addr(v6: bool, a: [u8; 16]) -> IpAddr {
    if v6 {
        ip6(a)
    } else {
        ip4([a[0], a[1], a[2], a[3]])
    }
}

fn norm(v6: bool, mut a: [u8; 16]) -> [u8; 16] {
    if !v6 {
        a[4..].fill(0);
    }
    a
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// `rewrite_tuple` gives exactly the frame built from scratch with the new tuple (so
    /// every checksum verifies by full recomputation), and rewriting back restores the
    /// original bytes.
    #[test]
    fn rewrite_tuple_verifies_and_round_trips(
        v6 in any::<bool>(),
        kind in kind(),
        old in any::<([u8; 16], u16, [u8; 16], u16)>(),
        new_src in proptest::option::of(any::<([u8; 16], u16)>()),
        new_dst in proptest::option::of(any::<([u8; 16], u16)>()),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        ttl in any::<u8>(),
    ) {
        let old = (norm(v6, old.0), old.1, norm(v6, old.2), old.3);
        let new_src = new_src.map(|(a, p)| (norm(v6, a), p));
        let new_dst = new_dst.map(|(a, p)| (norm(v6, a), p));
        let input = frame_of(v6, &kind, &old, &payload, ttl);
        let ports = !matches!(kind, Kind::Icmp);
        let mut want = old;
        if let Some((a, p)) = new_src { want.0 = a; if ports { want.1 = p; } }
        if let Some((a, p)) = new_dst { want.2 = a; if ports { want.3 = p; } }
        let expected = frame_of(v6, &kind, &want, &payload, ttl);

        let mut f = input.clone();
        rewrite_tuple(
            &mut f,
            new_src.map(|(a, p)| (addr(v6, a), p)),
            new_dst.map(|(a, p)| (addr(v6, a), p)),
        ).unwrap();
        prop_assert_eq!(&f, &expected);
        prop_assert!(verify_frame(&f).is_ok());

        rewrite_tuple(
            &mut f,
            new_src.map(|_| (addr(v6, old.0), old.1)),
            new_dst.map(|_| (addr(v6, old.2), old.3)),
        ).unwrap();
        prop_assert_eq!(&f, &input);
    }

    /// No input makes any operation panic, and a failed in-place operation writes nothing.
    #[test]
    fn arbitrary_bytes_never_panic(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..160),
        ethertype in prop_oneof![Just([0x08u8, 0x00]), Just([0x86, 0xdd]), any::<[u8; 2]>()],
        version in any::<u8>(),
    ) {
        if bytes.len() >= 15 {
            bytes[12..14].copy_from_slice(&ethertype);
            if version & 1 == 0 {
                bytes[14] = if ethertype == [0x08, 0x00] { 0x45 } else { 0x60 };
            }
        }
        let _ = parse_frame(&bytes);
        let mut out = vec![0u8; 4096];
        let ops: [InPlace<'_>; 6] = [
            &|b| decrement_ttl(b).map(drop),
            &|b| rewrite_tuple(b, Some((ip4(LIP), 1)), Some((ip4(RIP), 2))),
            &|b| rewrite_tuple(b, None, Some((ip6(RIP6), 2))),
            &|b| rewrite_icmp_error_in(b, ip4(RIP), RPORT),
            &|b| rewrite_icmp_error_out_fullnat(b, ip6(VIP6), 1, ip6(CIP6), 2),
            &|b| decap_gue(b).map(drop),
        ];
        for op in ops {
            let mut b = bytes.clone();
            if op(&mut b).is_err() {
                prop_assert_eq!(&b, &bytes);
            }
        }
        let mut b = bytes.clone();
        let _ = decap_ipip(&mut b);
        let _ = encap_ipip(&bytes, &mut out, &outer6(DIP6, RIP6));
        let _ = encap_gue(&bytes, &mut out, &outer4(DIP, RIP), 1, 2);
        let _ = build_icmp_frag_needed(&bytes, 1280, &mut out, ip6(DIP6));
        let _ = build_icmp_time_exceeded(&bytes, &mut out, ip4(DIP));
    }
}

/// A checksum-offloaded sender leaves only the pseudo-header seed in the transport
/// checksum; the slow path must replace it by the full checksum before sending the frame
/// as a plain packet, leave correct checksums alone and refuse anything else.
#[test]
fn partial_checksum_seed_is_completed() {
    use lvs_wire::checksum::pseudo_header;
    let frames = [
        Builder::new([2; 6], [4; 6])
            .ipv4([10, 1, 0, 2], [10, 1, 0, 100])
            .udp(40000, 53)
            .payload(b"ping 0")
            .build(),
        Builder::new([2; 6], [4; 6])
            .ipv4([10, 1, 0, 2], [10, 1, 0, 100])
            .tcp(40000, 80)
            .payload(b"GET / HTTP/1.0\r\n\r\n")
            .build(),
        Builder::new([2; 6], [4; 6])
            .ipv6(
                "fd01::2".parse::<std::net::Ipv6Addr>().unwrap().octets(),
                "fd01::100".parse::<std::net::Ipv6Addr>().unwrap().octets(),
            )
            .udp(40000, 53)
            .payload(b"ping 1")
            .build(),
    ];
    for good in frames {
        let info = lvs_wire::parse_frame(&good).unwrap();
        let at = info.l4_offset + if info.protocol == 6 { 16 } else { 6 };
        let alen = if info.l4_offset == 34 { 4 } else { 16 };
        let seed = pseudo_header(
            &info.saddr[..alen],
            &info.daddr[..alen],
            info.protocol,
            (info.l3_end - info.l4_offset) as u32,
        );
        let mut f = good.clone();
        assert_eq!(
            complete_partial_checksum(&mut f),
            Ok(false),
            "already complete"
        );
        assert_eq!(f, good);
        f[at..at + 2].copy_from_slice(&seed.to_be_bytes());
        assert_eq!(complete_partial_checksum(&mut f), Ok(true));
        assert_eq!(f, good, "seed replaced by the full checksum");
        verify_frame(&f).unwrap();
        f[at] ^= 0x55;
        let before = f.clone();
        assert_eq!(complete_partial_checksum(&mut f), Err(Error::BadChecksum));
        assert_eq!(f, before, "untouched on error");
    }
}
