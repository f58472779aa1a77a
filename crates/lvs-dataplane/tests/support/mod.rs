//! Test support: root check, a throw-away network namespace with veths, addresses and
//! static neighbours for `bpf_fib_lookup`, and frame builders.

#![allow(dead_code, unsafe_code)] // unsafe: unshare/setns/if_nametoindex (libc)

use std::ffi::CString;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::process::Command;

use lvs_dataplane::{Dataplane, LoadOptions};

/// Fail (not skip) when not root: these tests load BPF programs and create namespaces.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "lvs-dataplane tests need root (BPF_PROG_TEST_RUN, map creation, network namespaces): \
         run them as root, e.g. `make test` or `sudo -E cargo test -p lvs-dataplane`"
    );
}

pub const VC0_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0c, 0x00]; // director, client side
pub const VC1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0c, 0x01];
pub const VR0_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0d, 0x00]; // director, real-server side
pub const VR1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x0d, 0x01];
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xc2];
pub const RS_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
pub const RS_NEAR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];

pub fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

pub fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

pub fn v6b(s: &str) -> [u8; 16] {
    s.parse::<Ipv6Addr>().unwrap().octets()
}

// Addresses of the lab.
pub const CLIENT4: [u8; 4] = [10, 0, 0, 2];
pub const VIP4: [u8; 4] = [10, 0, 0, 100];
pub const DIR_C4: [u8; 4] = [10, 0, 0, 1]; // director on vc0
pub const DIR_R4: [u8; 4] = [10, 1, 0, 1]; // director on vr0 (also the FULLNAT LIP)
pub const RS4: [u8; 4] = [10, 1, 0, 10]; // behind vr0, neighbour known
pub const RS4_NONEIGH: [u8; 4] = [10, 1, 0, 11]; // behind vr0, no neighbour entry
pub const RS4_NEAR: [u8; 4] = [10, 0, 0, 10]; // behind vc0 (XDP_TX)
pub const RS4_SMALLMTU: [u8; 4] = [10, 2, 0, 10]; // route MTU 500
pub const CLIENT6: &str = "fd00::2";
pub const VIP6: &str = "fd00::100";
pub const DIR_C6: &str = "fd00::1";
pub const DIR_R6: &str = "fd01::1";
pub const RS6: &str = "fd01::10";

fn mac_str(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A network namespace made for the calling thread (`unshare(CLONE_NEWNET)`), holding
/// two veth pairs: `vc0`/`vc1` (the director's client side) and `vr0`/`vr1` (its real
/// server side), addresses, static neighbour entries and forwarding on. Only this thread
/// is in it and it has no route anywhere else; dropping the guard moves the thread back
/// to its original namespace, and the kernel deletes the throw-away one (with its veths)
/// as soon as nothing references it, also when the test panics.
pub struct Lab {
    orig: File,
    /// ifindex of vc0.
    pub vc0: u32,
    /// ifindex of vr0.
    pub vr0: u32,
}

pub fn sh(cmd: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .unwrap_or_else(|e| panic!("running `{cmd}`: {e}"));
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn ifindex(name: &str) -> u32 {
    let c = CString::new(name).unwrap();
    // SAFETY: c is a valid NUL-terminated string.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    assert!(i != 0, "no interface {name}");
    i
}

impl Lab {
    pub fn new() -> Lab {
        require_root();
        let orig = File::open("/proc/thread-self/ns/net").expect("open own netns");
        // SAFETY: plain syscall; affects only this thread.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        let mut lab = Lab {
            orig,
            vc0: 0,
            vr0: 0,
        };
        // Commands run as children of this thread, so they live in the new namespace.
        let cmds = [
            "ip link set lo up".to_string(),
            format!(
                "ip link add vc0 address {} type veth peer name vc1 address {}",
                mac_str(VC0_MAC),
                mac_str(VC1_MAC)
            ),
            format!(
                "ip link add vr0 address {} type veth peer name vr1 address {}",
                mac_str(VR0_MAC),
                mac_str(VR1_MAC)
            ),
            "for i in vc0 vc1 vr0 vr1; do ip link set $i up; done".into(),
            "echo 1 > /proc/sys/net/ipv4/ip_forward".into(),
            "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding".into(),
            "ip addr add 10.0.0.1/24 dev vc0".into(),
            "ip addr add 10.1.0.1/24 dev vr0".into(),
            "ip -6 addr add fd00::1/64 dev vc0 nodad".into(),
            "ip -6 addr add fd01::1/64 dev vr0 nodad".into(),
            "ip route add 10.2.0.0/24 dev vr0 mtu lock 500".into(),
            format!(
                "ip neigh add 10.0.0.2 lladdr {} dev vc0 nud permanent",
                mac_str(CLIENT_MAC)
            ),
            format!(
                "ip neigh add fd00::2 lladdr {} dev vc0 nud permanent",
                mac_str(CLIENT_MAC)
            ),
            format!(
                "ip neigh add 10.0.0.10 lladdr {} dev vc0 nud permanent",
                mac_str(RS_NEAR_MAC)
            ),
            format!(
                "ip neigh add 10.1.0.10 lladdr {} dev vr0 nud permanent",
                mac_str(RS_MAC)
            ),
            format!(
                "ip neigh add fd01::10 lladdr {} dev vr0 nud permanent",
                mac_str(RS_MAC)
            ),
            format!(
                "ip neigh add 10.2.0.10 lladdr {} dev vr0 nud permanent",
                mac_str(RS_MAC)
            ),
        ];
        for c in &cmds {
            sh(c);
        }
        lab.vc0 = ifindex("vc0");
        lab.vr0 = ifindex("vr0");
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // SAFETY: orig is an open namespace fd.
        let rc = unsafe { libc::setns(self.orig.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 && !std::thread::panicking() {
            panic!("setns back: {}", std::io::Error::last_os_error());
        }
    }
}

/// A Dataplane with small maps for tests.
pub fn small_dataplane() -> Dataplane {
    Dataplane::load(LoadOptions {
        flows_max: 4096,
        conns_max: 1024,
        dests_max: 64,
    })
    .expect("load lvs_xdp")
}

/// An ARP request frame (who-has 10.0.0.100 tell 10.0.0.2).
pub fn arp_request() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&CLIENT4);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&VIP4);
    f.resize(60, 0);
    f
}

/// Hex dump of the first difference, for readable failures.
pub fn diff(expected: &[u8], got: &[u8]) -> String {
    let at = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    format!(
        "lengths expected {} got {}; first difference at byte {at}\nexpected: {:02x?}\ngot:      {:02x?}",
        expected.len(),
        got.len(),
        expected,
        got
    )
}

/// TCP flags (header byte 13).
pub const TCP_FIN: u16 = 0x01;
/// SYN.
pub const TCP_SYN: u16 = 0x02;
/// RST.
pub const TCP_RST: u16 = 0x04;
/// PSH.
pub const TCP_PSH: u16 = 0x08;
/// ACK.
pub const TCP_ACK: u16 = 0x10;

/// The expected output of a NAT/FULLNAT/DR hit, through lvs-wire: TTL - 1, tuple rewrite,
/// MACs.
pub fn wire_rewrite(
    input: &[u8],
    src: Option<(IpAddr, u16)>,
    dst: Option<(IpAddr, u16)>,
    smac: [u8; 6],
    dmac: [u8; 6],
) -> Vec<u8> {
    let mut f = input.to_vec();
    lvs_wire::decrement_ttl(&mut f).unwrap();
    if src.is_some() || dst.is_some() {
        lvs_wire::rewrite_tuple(&mut f, src, dst).unwrap();
    }
    lvs_wire::set_macs(&mut f, smac, dmac).unwrap();
    f
}
