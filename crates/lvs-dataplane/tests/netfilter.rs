//! The netfilter hook of firewall-mark services (`bpf/lvs_nf.bpf.c`), as root in a
//! throw-away network namespace: a real nftables mangle rule sets the mark, the hook hands
//! matching packets to userspace and drops them, and leaves everything else alone.

mod support;

use std::collections::HashSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use lvs_common::nf::{FwmarkKey, NfStat};
use lvs_dataplane::netfilter::{FwmarkHook, MarkedPacket};
use support::*;

fn next(hook: &mut FwmarkHook) -> Option<MarkedPacket> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if let Some(p) = hook.next_packet() {
            return Some(p);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

#[test]
fn marked_packets_of_a_fwmark_service_are_handed_over_and_dropped() {
    let _lab = Lab::new();
    sh("nft add table ip lvstest");
    sh("nft add chain ip lvstest pre '{ type filter hook prerouting priority mangle; }'");
    sh("nft add rule ip lvstest pre udp dport { 7001, 7002 } meta mark set 20");
    sh("nft add rule ip lvstest pre udp dport 7003 meta mark set 21");
    let mut hook = FwmarkHook::load().expect("load lvs_nf");
    hook.set_marks(&HashSet::from([FwmarkKey::new(20, false)]))
        .expect("marks");

    let rx1 = UdpSocket::bind("127.0.0.1:7001").unwrap();
    let rx3 = UdpSocket::bind("127.0.0.1:7003").unwrap();
    let rx4 = UdpSocket::bind("127.0.0.1:7004").unwrap();
    for s in [&rx1, &rx3, &rx4] {
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
    }
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"to-7001", "127.0.0.1:7001").unwrap();
    tx.send_to(b"to-7003", "127.0.0.1:7003").unwrap();
    tx.send_to(b"to-7004", "127.0.0.1:7004").unwrap();

    // Mark 20 is a service: handed over with its mark, the ingress interface (lo) and
    // the whole IP packet, and never delivered.
    let p = next(&mut hook).expect("the marked packet reaches the ring");
    assert_eq!(p.mark, 20);
    assert_eq!(p.ifindex, ifindex("lo"));
    assert_eq!(p.packet[0] >> 4, 4);
    assert_eq!(
        usize::from(u16::from_be_bytes([p.packet[2], p.packet[3]])),
        p.packet.len()
    );
    assert_eq!(&p.packet[20 + 8..], b"to-7001");
    assert_eq!(u16::from_be_bytes([p.packet[22], p.packet[23]]), 7001);
    let mut buf = [0u8; 64];
    assert!(
        rx1.recv_from(&mut buf).is_err(),
        "the handed-over packet was delivered"
    );
    // Mark 21 (not a service) and no mark: delivered untouched, not handed over.
    assert_eq!(rx3.recv_from(&mut buf).unwrap().0, 7);
    assert_eq!(rx4.recv_from(&mut buf).unwrap().0, 7);
    assert!(hook.next_packet().is_none());
    assert_eq!(hook.stat(NfStat::Handed), 1);
    // At least the two marked packets; the kernel's own IPv6 neighbour discovery between
    // the lab's veths carries nonzero marks too (looked up, not services, accepted).
    assert!(hook.stat(NfStat::Seen) >= 2);

    // Removing the service lets its packets through again.
    hook.set_marks(&HashSet::new()).expect("marks");
    tx.send_to(b"again", "127.0.0.1:7002").unwrap();
    let rx2 = UdpSocket::bind("127.0.0.1:7002");
    drop(rx2);
    assert!(hook.next_packet().is_none());
    assert_eq!(hook.stat(NfStat::Handed), 1);
}

#[test]
fn ipv6_marks_are_per_family() {
    let _lab = Lab::new();
    sh("nft add table inet lvstest");
    sh("nft add chain inet lvstest pre '{ type filter hook prerouting priority mangle; }'");
    sh("nft add rule inet lvstest pre udp dport 7101 meta mark set 30");
    let mut hook = FwmarkHook::load().expect("load lvs_nf");
    // Only the IPv6 family of mark 30 is a service.
    hook.set_marks(&HashSet::from([FwmarkKey::new(30, true)]))
        .expect("marks");
    let rx4 = UdpSocket::bind("127.0.0.1:7101").unwrap();
    rx4.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let tx4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx4.send_to(b"v4", "127.0.0.1:7101").unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(
        rx4.recv_from(&mut buf).unwrap().0,
        2,
        "IPv4 packet delivered"
    );
    let tx6 = UdpSocket::bind("[::1]:0").unwrap();
    tx6.send_to(b"v6", "[::1]:7101").unwrap();
    let p = next(&mut hook).expect("the IPv6 packet reaches the ring");
    assert_eq!(p.mark, 30);
    assert_eq!(p.packet[0] >> 4, 6);
    assert_eq!(&p.packet[40 + 8..], b"v6");
}
