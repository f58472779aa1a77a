//! `lvsadm realserver setup|teardown|status` in network namespaces (root).
//!
//! Lab: namespace `r` (the real server) and `d` (standing in for the director and the
//! clients), joined by a veth pair `d:eth0` <-> `r:eth0`.
//!
//! ```text
//!  d: eth0 10.2.1.1/24 fd02:1::1/64        r: eth0 10.2.1.11/24 fd02:1::11/64
//!     lo   10.9.0.2 fd09::2 (clients)          default routes via d
//!     VIPs routed via r (DR forwarding)        lvsadm realserver setup, lvs-echo on the VIPs
//! ```
//!
//! TUN: `d` sends IPIP frames built with lvs-wire (`encap_ipip`, the director's own
//! encapsulation) through `lvs-sendraw`; the kernel here has no ipip, so only lvsadm's BPF
//! decapsulator (TC ingress on this veth by default, generic XDP with `--xdp-mode
//! generic`) can deliver them to lvs-echo on the VIP, whose reply goes straight back to
//! the client address on `d` (through r's default route, as in LVS-TUN).

use std::net::IpAddr;
use std::process::Output;

use lvs_testkit::{Lab, bin_path};
use lvs_wire::build::Builder;
use lvs_wire::{Outer, encap_ipip};

const VIP4: &str = "10.1.0.100";
const VIP6: &str = "fd01::100";
const PORT: u16 = 9000;

/// The lab, with a best-effort `teardown` in `r` before the namespaces go (also when a
/// test fails), so no record is left in /run/lvs-rs.
struct RsLab {
    lab: Lab,
    lvsadm: String,
}

impl Drop for RsLab {
    fn drop(&mut self) {
        let _ = self
            .lab
            .try_exec("r", &[&self.lvsadm, "realserver", "teardown"]);
    }
}

fn bin(name: &str) -> String {
    bin_path(name)
        .unwrap_or_else(|e| panic!("{e:#}"))
        .to_str()
        .unwrap()
        .to_string()
}

fn rs_lab(tag: &str) -> RsLab {
    let mut lab = Lab::new(tag).expect("lab (needs root)");
    lab.add_ns("r").unwrap();
    lab.add_ns("d").unwrap();
    lab.veth("d", "eth0", "r", "eth0").unwrap();
    lab.addr("r", "eth0", "10.2.1.11/24").unwrap();
    lab.addr("r", "eth0", "fd02:1::11/64").unwrap();
    lab.route("r", &["default", "via", "10.2.1.1"]).unwrap();
    lab.route("r", &["default", "via", "fd02:1::1"]).unwrap();
    lab.addr("d", "eth0", "10.2.1.1/24").unwrap();
    lab.addr("d", "eth0", "fd02:1::1/64").unwrap();
    lab.addr("d", "lo", "10.9.0.2/32").unwrap();
    lab.addr("d", "lo", "fd09::2/128").unwrap();
    lab.route("d", &["10.1.0.100/32", "via", "10.2.1.11"])
        .unwrap();
    lab.route("d", &["fd01::100/128", "via", "fd02:1::11"])
        .unwrap();
    RsLab {
        lab,
        lvsadm: bin("lvsadm"),
    }
}

impl RsLab {
    fn lvsadm(&self, args: &[&str]) -> Output {
        let mut full = vec![self.lvsadm.as_str(), "realserver"];
        full.extend_from_slice(args);
        self.lab.try_exec("r", &full).unwrap()
    }

    /// `lvsadm realserver ARGS` must exit with `code`; returns stdout + stderr.
    fn lvsadm_ok(&self, args: &[&str], code: i32) -> String {
        let out = self.lvsadm(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "lvsadm realserver {args:?}:\n{text}"
        );
        text
    }

    fn sh(&self, ns: &str, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.lab.exec(ns, args).unwrap().stdout).into_owned()
    }

    fn sysctl(&self, path: &str) -> String {
        self.sh("r", &["cat", &format!("/proc/sys/{path}")])
            .trim()
            .to_string()
    }

    fn sysctls(&self, paths: &[String]) -> Vec<(String, String)> {
        paths.iter().map(|p| (p.clone(), self.sysctl(p))).collect()
    }

    fn mac(&self, ns: &str) -> [u8; 6] {
        let s = self.sh(ns, &["cat", "/sys/class/net/eth0/address"]);
        let v: Vec<u8> = s
            .trim()
            .split(':')
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    fn lo_addrs(&self) -> String {
        self.sh("r", &["ip", "-o", "addr", "show", "dev", "lo"])
    }

    fn link_details(&self, ifname: &str) -> String {
        self.sh("r", &["ip", "-d", "link", "show", ifname])
    }

    fn record_path(&self) -> String {
        let ino = self.sh("r", &["stat", "-L", "-c", "%i", "/proc/self/ns/net"]);
        format!("/run/lvs-rs/realserver-{}.json", ino.trim())
    }

    fn start_echo(&mut self) {
        let echo = bin("lvs-echo");
        let v4 = format!("{VIP4}:{PORT}");
        let v6 = format!("[{VIP6}]:{PORT}");
        self.lab
            .spawn("r", &[&echo, "rs1", "--udp", &v4, "--udp", &v6])
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let ss = self.sh("r", &["ss", "-Hlun", &format!("sport = :{PORT}")]);
            if ss.lines().count() >= 2 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "lvs-echo did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// UDP from `d` (lvs-echo's client) to `vip`: the reply line or `timeout`.
    fn udp_from_d(&self, vip: &str) -> String {
        let hp = if vip.contains(':') {
            format!("[{vip}]:{PORT}")
        } else {
            format!("{vip}:{PORT}")
        };
        self.sh("d", &[&bin("lvs-echo"), "--udp-client", &hp])
            .trim()
            .to_string()
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn octets4(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(v) => v.octets(),
        IpAddr::V6(_) => panic!("not IPv4"),
    }
}

fn octets6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(v) => v.octets(),
        IpAddr::V4(_) => panic!("not IPv6"),
    }
}

/// An IPIP frame from `d` to `r`: inner UDP `client:cport` -> `vip:PORT`, outer
/// `outer_src` -> `outer_dst`, as the director's encapsulation builds it.
fn ipip_frame(
    d_mac: [u8; 6],
    r_mac: [u8; 6],
    client: IpAddr,
    cport: u16,
    vip: IpAddr,
    outer_src: IpAddr,
    outer_dst: IpAddr,
) -> Vec<u8> {
    let b = Builder::new(d_mac, r_mac);
    let b = if client.is_ipv4() {
        b.ipv4(octets4(client), octets4(vip))
    } else {
        b.ipv6(octets6(client), octets6(vip))
    };
    let inner = b
        .udp(cport, PORT)
        .payload(b"ping through the tunnel")
        .build();
    let mut out = vec![0u8; inner.len() + 64];
    let n = encap_ipip(
        &inner,
        &mut out,
        &Outer {
            src_mac: d_mac,
            dst_mac: r_mac,
            src: outer_src,
            dst: outer_dst,
        },
    )
    .expect("encap_ipip");
    out.truncate(n);
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hostport(a: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(a, port).to_string()
}

/// Send `frame` from `d` until the UDP reply to `client:cport` arrives: the reply line, or
/// `timeout`.
fn send_ipip(l: &RsLab, frame: &[u8], client: IpAddr, cport: u16, timeout_ms: u32) -> String {
    let out = l
        .lab
        .try_exec(
            "d",
            &[
                &bin("lvs-sendraw"),
                "eth0",
                &hex(frame),
                "--expect-udp",
                &hostport(client, cport),
                "--timeout-ms",
                &timeout_ms.to_string(),
            ],
        )
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() || s == "timeout",
        "lvs-sendraw: {}{s}",
        String::from_utf8_lossy(&out.stderr)
    );
    s
}

fn conf(dev: &str, key: &str) -> String {
    format!("net/ipv4/conf/{dev}/{key}")
}

fn arp_keys() -> Vec<String> {
    let mut v = Vec::new();
    for d in ["all", "lo", "eth0"] {
        v.push(conf(d, "arp_ignore"));
        v.push(conf(d, "arp_announce"));
    }
    v
}

fn rp_keys() -> Vec<String> {
    ["all", "default", "eth0"]
        .iter()
        .map(|d| conf(d, "rp_filter"))
        .collect()
}

/// TUN: VIPs, sysctls and the decapsulator in place after lvsadm exited; IPIP to the
/// VIPs (v4 in v4, v6 in v6, v6 in v4, v4 in v6) decapsulated and answered; teardown
/// undoes all of it. Default on a veth: `lvs_rs_decap_tc` at TC ingress.
#[test]
fn tun_tc_decap_survives_lvsadm_and_tears_down() {
    tun_decap_survives_lvsadm_and_tears_down("rt", None);
}

/// The same with `--xdp-mode generic`: `lvs_rs_decap` in generic XDP.
#[test]
fn tun_xdp_decap_survives_lvsadm_and_tears_down() {
    tun_decap_survives_lvsadm_and_tears_down("rx", Some("generic"));
}

fn tc_ingress(l: &RsLab) -> String {
    l.sh("r", &["tc", "filter", "show", "dev", "eth0", "ingress"])
}

fn qdiscs(l: &RsLab) -> String {
    l.sh("r", &["tc", "qdisc", "show", "dev", "eth0"])
}

fn tun_decap_survives_lvsadm_and_tears_down(tag: &str, xdp_mode: Option<&str>) {
    let mut l = rs_lab(tag);
    let xdp = xdp_mode.is_some();
    // Non-default starting values, to see them restored.
    l.lab
        .sysctl("r", "net.ipv4.conf.all.rp_filter", "1")
        .unwrap();
    l.lab
        .sysctl("r", "net.ipv4.conf.eth0.rp_filter", "2")
        .unwrap();
    let keys: Vec<String> = arp_keys().into_iter().chain(rp_keys()).collect();
    let before = l.sysctls(&keys);

    let mut setup = vec!["setup", "--vip", VIP4, "--vip", VIP6, "--method", "tun"];
    if let Some(m) = xdp_mode {
        setup.extend(["--xdp-mode", m]);
    }
    let out = l.lvsadm_ok(&setup, 0);
    if xdp {
        assert!(out.contains("lvs_rs_decap attached (generic XDP"), "{out}");
        assert!(out.contains("decapsulation: xdp"), "{out}");
    } else {
        assert!(
            out.contains("lvs_rs_decap_tc attached (tc ingress")
                && out.contains("clsact qdisc added"),
            "{out}"
        );
        assert!(out.contains("decapsulation: tc"), "{out}");
    }

    // lvsadm has exited: everything must still be there.
    let lo = l.lo_addrs();
    assert!(lo.contains("inet 10.1.0.100/32"), "{lo}");
    assert!(lo.contains("inet6 fd01::100/128"), "{lo}");
    for d in ["all", "lo", "eth0"] {
        assert_eq!(l.sysctl(&conf(d, "arp_ignore")), "1", "{d}");
        assert_eq!(l.sysctl(&conf(d, "arp_announce")), "2", "{d}");
    }
    for k in rp_keys() {
        assert_eq!(l.sysctl(&k), "0", "{k}");
    }
    let link = l.link_details("eth0");
    if xdp {
        assert!(link.contains("xdpgeneric"), "{link}");
        assert!(link.contains("name lvs_rs_decap"), "{link}");
        assert!(!tc_ingress(&l).contains("bpf"));
    } else {
        assert!(!link.contains("xdp"), "{link}");
        let f = tc_ingress(&l);
        assert!(
            f.contains("lvs_rs_decap_tc") && f.contains("direct-action"),
            "{f}"
        );
    }
    let record = l.record_path();
    assert!(std::path::Path::new(&record).exists(), "{record}");
    let status = l.lvsadm_ok(&["status"], 0);
    if xdp {
        assert!(status.contains("eth0 lvs_rs_decap id"), "{status}");
    } else {
        assert!(
            status.contains("tc:         eth0 lvs_rs_decap_tc id"),
            "{status}"
        );
    }
    assert!(status.contains(": attached"), "{status}");

    // Tunnelled traffic.
    l.start_echo();
    let (d_mac, r_mac) = (l.mac("d"), l.mac("r"));
    let (c4, c6) = (ip("10.9.0.2"), ip("fd09::2"));
    let (o4d, o4r) = (ip("10.2.1.1"), ip("10.2.1.11"));
    let (o6d, o6r) = (ip("fd02:1::1"), ip("fd02:1::11"));
    let cases = [
        ("v4 in v4", c4, ip(VIP4), o4d, o4r, 40001),
        ("v6 in v6", c6, ip(VIP6), o6d, o6r, 40002),
        ("v6 in v4", c6, ip(VIP6), o4d, o4r, 40003),
        ("v4 in v6", c4, ip(VIP4), o6d, o6r, 40004),
    ];
    for (name, client, vip, osrc, odst, cport) in cases {
        let frame = ipip_frame(d_mac, r_mac, client, cport, vip, osrc, odst);
        let reply = send_ipip(&l, &frame, client, cport, 5000);
        assert_eq!(
            reply,
            format!(
                "from={} server=rs1 client={}",
                hostport(vip, PORT),
                hostport(client, cport)
            ),
            "{name}"
        );
    }

    // Setup again: same arguments are fine, others are refused.
    let again = l.lvsadm_ok(&setup, 0);
    assert!(again.contains("already set up"), "{again}");
    let other = l.lvsadm_ok(&["setup", "--vip", VIP4, "--method", "dr"], 1);
    assert!(other.contains("teardown"), "{other}");

    // Teardown: all gone, sysctls as before.
    let td = l.lvsadm_ok(&["teardown"], 0);
    if xdp {
        assert!(td.contains("eth0: lvs_rs_decap detached"), "{td}");
    } else {
        assert!(
            td.contains("eth0: lvs_rs_decap_tc detached (tc ingress)")
                && td.contains("eth0: clsact qdisc removed"),
            "{td}"
        );
        assert!(!qdiscs(&l).contains("clsact"), "{}", qdiscs(&l));
    }
    let lo = l.lo_addrs();
    assert!(
        !lo.contains("10.1.0.100") && !lo.contains("fd01::100"),
        "{lo}"
    );
    let link = l.link_details("eth0");
    assert!(!link.contains("xdp"), "{link}");
    assert_eq!(l.sysctls(&keys), before);
    assert!(!std::path::Path::new(&record).exists(), "{record}");
    let frame = ipip_frame(d_mac, r_mac, c4, 40005, ip(VIP4), o4d, o4r);
    assert_eq!(send_ipip(&l, &frame, c4, 40005, 1500), "timeout");

    // Nothing set up: teardown is a no-op, status says so.
    let td = l.lvsadm_ok(&["teardown"], 0);
    assert!(td.contains("nothing"), "{td}");
    l.lvsadm_ok(&["status"], 1);
}

/// The TC decapsulator's `clsact` qdisc stays when something else put a filter on it
/// after setup (teardown removes only its own filter); a filter whose program was replaced
/// is reported, not removed.
#[test]
fn tc_decap_teardown_leaves_other_filters() {
    let mut l = rs_lab("rq");
    l.lvsadm_ok(
        &["setup", "--vip", VIP4, "--vip", VIP6, "--method", "tun"],
        0,
    );
    l.sh(
        "r",
        &[
            "tc", "filter", "add", "dev", "eth0", "egress", "protocol", "all", "u32", "match",
            "u32", "0", "0",
        ],
    );
    // Still decapsulates.
    l.start_echo();
    let (d_mac, r_mac) = (l.mac("d"), l.mac("r"));
    let frame = ipip_frame(
        d_mac,
        r_mac,
        ip("10.9.0.2"),
        40010,
        ip(VIP4),
        ip("10.2.1.1"),
        ip("10.2.1.11"),
    );
    let reply = send_ipip(&l, &frame, ip("10.9.0.2"), 40010, 5000);
    assert!(reply.contains("server=rs1"), "{reply}");
    let td = l.lvsadm_ok(&["teardown"], 0);
    assert!(td.contains("lvs_rs_decap_tc detached"), "{td}");
    assert!(td.contains("clsact qdisc left in place"), "{td}");
    assert!(qdiscs(&l).contains("clsact"), "{}", qdiscs(&l));
    assert!(!tc_ingress(&l).contains("lvs_rs_decap_tc"));
    let egress = l.sh("r", &["tc", "filter", "show", "dev", "eth0", "egress"]);
    assert!(egress.contains("u32"), "{egress}");
}

/// DR: VIPs on lo and ARP suppression; the VIP answers when routed to the real server
/// (DR forwarding) but not to ARP or neighbour solicitation; teardown restores.
#[test]
fn dr_arp_suppression_and_teardown() {
    let mut l = rs_lab("rd");
    let keys: Vec<String> = arp_keys().into_iter().chain(rp_keys()).collect();
    let before = l.sysctls(&keys);

    l.lvsadm_ok(
        &[
            "setup",
            "--vip",
            VIP4,
            "--vip",
            VIP6,
            "--method",
            "dr",
            "--interface",
            "eth0",
        ],
        0,
    );
    let lo = l.lo_addrs();
    assert!(lo.contains("inet 10.1.0.100/32"), "{lo}");
    assert!(lo.contains("inet6 fd01::100/128"), "{lo}");
    for d in ["all", "lo", "eth0"] {
        assert_eq!(l.sysctl(&conf(d, "arp_ignore")), "1", "{d}");
        assert_eq!(l.sysctl(&conf(d, "arp_announce")), "2", "{d}");
    }
    // DR leaves rp_filter alone and attaches nothing.
    let after: Vec<_> = l.sysctls(&rp_keys());
    assert_eq!(after, before[6..].to_vec());
    assert!(!l.link_details("eth0").contains("xdp"));
    l.lvsadm_ok(&["status"], 0);

    // DR forwarding: d routes the VIP via r's address (r's MAC, VIP unchanged).
    l.start_echo();
    for vip in [VIP4, VIP6] {
        let r = l.udp_from_d(vip);
        assert!(r.starts_with("server=rs1 client="), "{vip}: {r}");
    }
    // On-link: d asks for the VIP itself (ARP / NS); r must not answer.
    l.sh(
        "d",
        &["ip", "route", "replace", "10.1.0.100/32", "dev", "eth0"],
    );
    l.sh(
        "d",
        &[
            "ip",
            "-6",
            "route",
            "replace",
            "fd01::100/128",
            "dev",
            "eth0",
        ],
    );
    l.sh("d", &["ip", "neigh", "flush", "dev", "eth0"]);
    assert_eq!(l.udp_from_d(VIP4), "timeout");
    assert_eq!(l.udp_from_d(VIP6), "timeout");
    // Control: without arp_ignore, r answers ARP for the VIP on lo (the "ARP problem").
    for d in ["all", "lo", "eth0"] {
        l.lab
            .sysctl("r", &format!("net.ipv4.conf.{d}.arp_ignore"), "0")
            .unwrap();
    }
    l.sh("d", &["ip", "neigh", "flush", "dev", "eth0"]);
    let r = l.udp_from_d(VIP4);
    assert!(r.starts_with("server=rs1"), "{r}");
    let status = l.lvsadm_ok(&["status"], 3);
    assert!(status.contains("[CHANGED]"), "{status}");
    for d in ["all", "lo", "eth0"] {
        l.lab
            .sysctl("r", &format!("net.ipv4.conf.{d}.arp_ignore"), "1")
            .unwrap();
    }
    l.lvsadm_ok(&["status"], 0);

    l.lvsadm_ok(&["teardown"], 0);
    let lo = l.lo_addrs();
    assert!(
        !lo.contains("10.1.0.100") && !lo.contains("fd01::100"),
        "{lo}"
    );
    assert_eq!(l.sysctls(&keys), before);
}

/// A setup that fails half-way (native XDP on a bridge, after the VIPs and sysctls were
/// applied) undoes what it did; a VIP that was there before is left in place.
#[test]
fn failed_setup_rolls_back() {
    let l = rs_lab("rf");
    l.lab.bridge("r", "br0").unwrap();
    l.sh("r", &["ip", "addr", "add", "10.1.0.101/32", "dev", "lo"]);
    let keys: Vec<String> = arp_keys()
        .into_iter()
        .chain(rp_keys())
        .chain([conf("br0", "rp_filter"), conf("br0", "arp_ignore")])
        .collect();
    let before = l.sysctls(&keys);
    let lo_before = l.lo_addrs();

    let out = l.lvsadm_ok(
        &[
            "setup",
            "--vip",
            VIP4,
            "--vip",
            "10.1.0.101",
            "--method",
            "tun",
            "--interface",
            "br0",
            "--xdp-mode",
            "native",
        ],
        1,
    );
    assert!(out.contains("br0") && out.contains("native"), "{out}");
    assert!(out.contains("undone"), "{out}");
    assert_eq!(l.lo_addrs(), lo_before);
    assert!(l.lo_addrs().contains("10.1.0.101/32"));
    assert_eq!(l.sysctls(&keys), before);
    assert!(!l.link_details("br0").contains("xdp"));
    assert!(!std::path::Path::new(&l.record_path()).exists());
    l.lvsadm_ok(&["status"], 1);

    // Command-line and validation errors change nothing either.
    let e = l.lvsadm_ok(&["setup", "--vip", VIP4], 2);
    assert!(e.contains("--method"), "{e}");
    let e = l.lvsadm_ok(
        &[
            "setup",
            "--vip",
            VIP4,
            "--method",
            "tun",
            "--interface",
            "nope0",
        ],
        1,
    );
    assert!(e.contains("nope0"), "{e}");
    assert_eq!(l.lo_addrs(), lo_before);
    assert_eq!(l.sysctls(&keys), before);
}
