//! Formatter cases the guest could not produce (huge counters, FULLNAT, IPv6
//! connections...). Expected text is written from ipvsadm.c's format strings.

use std::net::IpAddr;

use lvs_api::{
    ConnInfo, Counters, DestInfo, DestSpec, Info, Method, Persistence, Protocol, Rates,
    ServiceInfo, ServiceKey, ServiceSpec, Timeouts, Tunnel,
};
use lvsadm::format::{self, DaemonInfo, Format};
use lvsadm::{DaemonState, NoResolver, StaticResolver};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn dest(a: &str, port: u16, method: Method) -> DestInfo {
    DestInfo {
        spec: DestSpec {
            addr: ip(a),
            port,
            method,
            tunnel: Tunnel::default(),
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
        },
        activeconns: 0,
        inactconns: 0,
        persistconns: 0,
        stats: Counters::default(),
        rates: Rates::default(),
    }
}

fn svc(a: &str, port: u16, dests: Vec<DestInfo>) -> ServiceInfo {
    ServiceInfo {
        spec: ServiceSpec {
            key: ServiceKey::Addr {
                protocol: Protocol::Tcp,
                addr: ip(a),
                port,
            },
            scheduler: "wlc".into(),
            flags: 0,
            persistence: None,
            pe: None,
            proxy_protocol: false,
        },
        stats: Counters::default(),
        rates: Rates::default(),
        dests,
    }
}

const INFO: Info = Info {
    version: 0x010201,
    conn_tab_size: 4096,
    num_services: 1,
};

#[test]
fn big_counters_are_abbreviated() {
    let mut d = dest("10.0.1.1", 80, Method::Masq);
    d.stats = Counters {
        conns: 99_999_999,
        inpkts: 100_000_000,
        outpkts: 1_234_567_890,
        inbytes: 123_456_789_012_345,
        outbytes: 987_654_321_098_765_432,
    };
    d.rates = Rates {
        cps: 123_456_789,
        inpps: 1_000_000_000,
        outpps: 7,
        inbps: 2_000_000_000,
        outbps: 99_999_999,
    };
    let mut s = svc("10.0.0.1", 80, vec![d.clone()]);
    s.stats = d.stats;
    s.rates = d.rates;
    let f = Format {
        numeric: true,
        stats: true,
        ..Format::default()
    };
    assert_eq!(
        format::list_all(&INFO, &[s.clone()], &f, &NoResolver),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n\
         \x20 -> RemoteAddress:Port\n\
         TCP  10.0.0.1:80                  99999999  100000K    1234M     123T  987654T\n\
         \x20 -> 10.0.1.1:80                  99999999  100000K    1234M     123T  987654T\n"
    );
    let f = Format {
        numeric: true,
        rate: true,
        ..Format::default()
    };
    // Real-server CPS/InPPS/OutPPS use %8llu: never abbreviated.
    assert_eq!(
        format::list_all(&INFO, &[s.clone()], &f, &NoResolver),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n\
         \x20 -> RemoteAddress:Port\n\
         TCP  10.0.0.1:80                   123456K    1000M        7    2000M 99999999\n\
         \x20 -> 10.0.1.1:80                  123456789 1000000000        7    2000M 99999999\n"
    );
    let f = Format {
        numeric: true,
        stats: true,
        exact: true,
        ..Format::default()
    };
    assert_eq!(
        format::list_all(&INFO, &[s], &f, &NoResolver),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n\
         \x20 -> RemoteAddress:Port\n\
         TCP  10.0.0.1:80                  99999999 100000000 1234567890 123456789012345 987654321098765432\n\
         \x20 -> 10.0.1.1:80                  99999999 100000000 1234567890 123456789012345 987654321098765432\n"
    );
}

#[test]
fn fullnat_local_and_proxy_protocol() {
    let mut s = svc(
        "10.0.0.1",
        443,
        vec![
            dest("10.0.1.1", 8443, Method::FullNat),
            dest("10.0.1.2", 443, Method::Local),
        ],
    );
    s.spec.proxy_protocol = true;
    s.spec.persistence = Some(Persistence {
        timeout: 60,
        prefix_len: 24,
    });
    let f = Format {
        numeric: true,
        ..Format::default()
    };
    assert_eq!(
        format::list_all(&INFO, &[s.clone()], &f, &NoResolver),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n\
         \x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  10.0.0.1:443 wlc persistent 60 mask 255.255.255.0 proxy-protocol\n\
         \x20 -> 10.0.1.1:8443                FullNat 1      0          0         \n\
         \x20 -> 10.0.1.2:443                 Local   1      0          0         \n"
    );
    assert_eq!(
        format::save(&[s], true, &NoResolver),
        "-A -t 10.0.0.1:443 -s wlc -p 60 -M 255.255.255.0 --proxy-protocol\n\
         -a -t 10.0.0.1:443 -r 10.0.1.1:8443 --fullnat -w 1\n\
         -a -t 10.0.0.1:443 -r 10.0.1.2:443 -g -w 1\n"
    );
}

#[test]
fn names_are_truncated() {
    let r = StaticResolver::new()
        .host(
            ip("10.0.0.1"),
            "a-really-long-virtual-host-name.example.org",
        )
        .host(ip("10.0.1.1"), "a-really-long-real-server-name.example.org")
        .host(
            ip("2001:db8::1"),
            "an-ipv6-host-with-a-name-longer-than-fifty-nine-bytes.example.org",
        );
    let s = svc("10.0.0.1", 80, vec![dest("10.0.1.1", 80, Method::Route)]);
    let v6 = svc(
        "2001:db8::1",
        80,
        vec![dest("2001:db8::1", 80, Method::Masq)],
    );
    let out = format::list_all(&INFO, &[s.clone(), v6.clone()], &Format::default(), &r);
    let lines: Vec<&str> = out.lines().collect();
    // IPv4: service name cut at 33 bytes, real server at 28; IPv6: only the 59-byte limit.
    assert_eq!(lines[3], "TCP  a-really-long-virtual-host-n wlc");
    assert_eq!(
        lines[4],
        "  -> a-really-long-real-server-na Route   1      0          0         "
    );
    assert_eq!(
        lines[5],
        "TCP  [an-ipv6-host-with-a-name-longer-than-fifty-nine-bytes.exam wlc"
    );
    assert_eq!(
        lines[6],
        "  -> [an-ipv6-host-with-a-name-longer-than-fifty-nine-bytes.exam Masq    1      0          0         "
    );
    // -S: no 33/28 cut, only the 59-byte buffer.
    assert_eq!(
        format::save(&[s], false, &r),
        "-A -t a-really-long-virtual-host-name.example.org:80 -s wlc\n\
         -a -t a-really-long-virtual-host-name.example.org:80 -r a-really-long-real-server-name.example.org:80 -g -w 1\n"
    );
}

fn conn(proto: &str, c: &str, v: &str, d: &str, state: &str, ms: u64) -> ConnInfo {
    ConnInfo {
        protocol: proto.into(),
        caddr: ip(c),
        cport: 40000,
        vaddr: ip(v),
        vport: 80,
        daddr: ip(d),
        dport: 8080,
        state: state.into(),
        expires_ms: ms,
        template: false,
        local: None,
        inpkts: 0,
        outpkts: 0,
    }
}

#[test]
fn connections() {
    let conns = vec![
        conn(
            "TCP",
            "2001:db8::100",
            "2001:db8::1",
            "2001:db8::20",
            "ESTABLISHED",
            899_999,
        ),
        conn(
            "TCP",
            "10.0.0.2",
            "10.0.0.1",
            "2001:db8::20",
            "SYN_RECV",
            6_000_000,
        ),
        conn(
            "SCTP",
            "10.0.0.2",
            "10.0.0.1",
            "10.0.1.1",
            "ESTABLISHED",
            999,
        ),
    ];
    let f = Format {
        numeric: true,
        ..Format::default()
    };
    assert_eq!(
        format::list_conns(&conns, &f, &NoResolver),
        "IPVS connection entries\n\
         pro expire state       source             virtual            destination\n\
         TCP 14:59  ESTABLISHED [2001:db8::100]:40000 [2001:db8::1]:80   [2001:db8::20]:8080\n\
         TCP 100:00 SYN_RECV    10.0.0.2:40000     10.0.0.1:80        [2001:db8::20]:8080\n\
         SCTP 00:00  ESTABLISHED 10.0.0.2:40000     10.0.0.1:80        10.0.1.1:8080\n"
    );
}

#[test]
fn timeout_and_daemons() {
    assert_eq!(
        format::list_timeout(&Timeouts {
            tcp: 900,
            tcpfin: 120,
            udp: 300
        }),
        "Timeout (tcp tcpfin udp): 900 120 300\n"
    );
    let d = |state, group| DaemonInfo {
        state,
        mcast_ifn: "eth1".into(),
        syncid: 3,
        sync_maxlen: 0,
        mcast_group: group,
        mcast_port: 0,
        mcast_ttl: 0,
    };
    // Backup given first: the master is still printed first; unreported fields are omitted.
    assert_eq!(
        format::list_daemons(&[
            d(DaemonState::Backup, Some(ip("ff02::1:2"))),
            d(DaemonState::Master, None)
        ]),
        "master sync daemon (mcast=eth1, syncid=3)\n\
         backup sync daemon (mcast=eth1, syncid=3, group=ff02::1:2)\n"
    );
    assert_eq!(format::list_daemons(&[]), "");
}

#[test]
fn empty_listings() {
    let f = Format {
        thresholds: true,
        ..Format::default()
    };
    assert_eq!(
        format::list_all(&INFO, &[], &f, &NoResolver),
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n\
         \x20 -> RemoteAddress:Port\n"
    );
    assert_eq!(format::save(&[], true, &NoResolver), "");
}
