//! What the parsed commands carry (the requests lvsd will get): ipvsadm's defaults and
//! post-parse rules, and lvsadm's documented extensions.

use std::net::IpAddr;

use lvs_api::{
    DestSpec, Family, Method, Persistence, Protocol, SVC_F_ONEPACKET, SVC_F_SCHED1, SVC_F_SCHED2,
    ServiceKey, ServiceSpec, Tunnel, TunnelCsum, TunnelKind,
};
use lvsadm::{
    CliError, Command, DaemonState, ListWhat, NoResolver, StaticResolver, parse, parse_invocation,
};

fn argv(s: &str) -> Vec<String> {
    std::iter::once("ipvsadm")
        .chain(s.split_whitespace())
        .map(String::from)
        .collect()
}

fn p(s: &str) -> Command {
    parse(&argv(s), &NoResolver).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> CliError {
    parse(&argv(s), &NoResolver).unwrap_err()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn tcp(a: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip(a),
        port,
    }
}

#[test]
fn add_service_defaults() {
    assert_eq!(
        p("-A -t 10.0.0.1:80"),
        Command::AddService(ServiceSpec {
            key: tcp("10.0.0.1", 80),
            scheduler: "wlc".into(),
            flags: 0,
            persistence: None,
            pe: None,
            proxy_protocol: false,
        })
    );
    let Command::AddService(s) = p("-A -t 10.0.0.1:0 -p") else {
        panic!()
    };
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout: 360,
            prefix_len: 32
        })
    );
    let Command::AddService(s) =
        p("-A -t 10.0.0.1:80 -p 60 -M 255.255.240.0 --pe sip -s sh -b sh-port")
    else {
        panic!()
    };
    assert_eq!(
        s.persistence,
        Some(Persistence {
            timeout: 60,
            prefix_len: 20
        })
    );
    assert_eq!(s.pe.as_deref(), Some("sip"));
    assert_eq!(s.flags, SVC_F_SCHED2);
    let Command::AddService(s) = p("-A -f 7 -6 -p -M 48 -o -s mh -b mh-fallback") else {
        panic!()
    };
    assert_eq!(
        s.key,
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark: 7
        }
    );
    assert_eq!(s.persistence.unwrap().prefix_len, 48);
    assert_eq!(s.flags, SVC_F_ONEPACKET | SVC_F_SCHED1);
}

#[test]
fn edit_is_a_full_entry() {
    // -E sends every field: what is not given goes back to its default.
    assert_eq!(
        p("-E -t 10.0.0.1:80"),
        Command::EditService(ServiceSpec {
            key: tcp("10.0.0.1", 80),
            scheduler: "wlc".into(),
            flags: 0,
            persistence: None,
            pe: None,
            proxy_protocol: false,
        })
    );
}

#[test]
fn dest_defaults_and_ports() {
    let d = |s: &str| match p(s) {
        Command::AddDest(r) | Command::EditDest(r) => r.dest,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        d("-a -t 10.0.0.1:80 -r 10.0.1.1"),
        DestSpec {
            addr: ip("10.0.1.1"),
            port: 80,
            method: Method::Route,
            tunnel: Tunnel::default(),
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
        }
    );
    // DR and TUN: the port is the service's; NAT keeps its own or copies the service's.
    assert_eq!(d("-a -t 10.0.0.1:80 -r 10.0.1.1:8080").port, 80);
    assert_eq!(d("-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -i").port, 80);
    assert_eq!(d("-a -t 10.0.0.1:80 -r 10.0.1.1:8080 -m").port, 8080);
    assert_eq!(d("-a -t 10.0.0.1:80 -r 10.0.1.1 -m").port, 80);
    assert_eq!(d("-a -f 3 -r 10.0.1.1:8080").port, 8080);
    // -r before -t: the service port was still 0 when -r was read.
    assert_eq!(d("-a -r 10.0.1.1 -t 10.0.0.1:80 -m").port, 0);
    let t = d(
        "-e -t 10.0.0.1:80 -r 10.0.1.1 -i --tun-type gue --tun-port 6080 --tun-remcsum -w 0 -x 9 -y 3",
    );
    assert_eq!(
        t.tunnel,
        Tunnel {
            kind: TunnelKind::Gue,
            port: 6080,
            csum: TunnelCsum::RemCsum
        }
    );
    assert_eq!((t.weight, t.u_threshold, t.l_threshold), (0, 9, 3));
    // -d keeps the given port (no DR forcing).
    match p("-d -t 10.0.0.1:80 -r 10.0.1.1:8080") {
        Command::DeleteDest(d) => assert_eq!(d.port, 8080),
        other => panic!("{other:?}"),
    }
}

#[test]
fn names_resolve_through_the_resolver() {
    let r = StaticResolver::new()
        .host(ip("10.1.2.3"), "www.example")
        .services(lvsadm::Services::parse("http 80/tcp www\ndomain 53/udp\n"));
    let c = parse(&argv("-A -t www.example:www"), &r).unwrap();
    assert!(matches!(c, Command::AddService(s) if s.key == tcp("10.1.2.3", 80)));
    assert!(parse(&argv("-A -t www.example:domain"), &r).is_err());
    assert!(parse(&argv("-A -u www.example:domain"), &r).is_ok());
}

#[test]
fn exit_codes_and_texts() {
    let e = err("-t 10.0.0.1:80");
    assert_eq!(e.exit_code(), 255);
    assert_eq!(
        e.stderr_text(),
        "Try `ipvsadm -h' or 'ipvsadm --help' for more information.\n"
    );
    let e = err("-L --bogus");
    assert_eq!(
        (e.exit_code(), e.stderr_text().as_str()),
        (255, "--bogus: unknown option\n")
    );
    assert!(!e.aborts_restore());
    let e = err("-A -t 10.0.0.1:80 -p 0");
    assert_eq!(e.exit_code(), 2);
    assert!(e.aborts_restore());
    let e = err("-A -6");
    assert_eq!(e.stderr_text(), "-6 used before -f\n\n");
    let e = parse(&["lvsadm".to_string(), "-K".to_string()], &NoResolver).unwrap_err();
    assert_eq!(
        e.stderr_text(),
        "Try `lvsadm -h' or 'lvsadm --help' for more information.\n"
    );
}

#[test]
fn list_requests() {
    let l = |s: &str| match p(s) {
        Command::List(l) => l,
        other => panic!("{other:?}"),
    };
    assert_eq!(parse(&argv(""), &NoResolver).unwrap(), p("-L"));
    assert_eq!(l("-L").what, ListWhat::All);
    assert!(!l("-L").format.numeric);
    assert!(l("-Ln --stats --exact").format.exact);
    assert_eq!(l("-Lc").what, ListWhat::Connections);
    assert_eq!(l("-L --timeout").what, ListWhat::Timeout);
    assert_eq!(l("-L --daemon").what, ListWhat::Daemon);
    assert_eq!(
        l("-L -t 10.0.0.1:80").what,
        ListWhat::Service(tcp("10.0.0.1", 80))
    );
    match p("-S -n") {
        Command::Save(f) => assert!(f.rule && f.numeric),
        other => panic!("{other:?}"),
    }
}

#[test]
fn daemon_commands() {
    match p(
        "--start-daemon backup --syncid 9 --mcast-group ff02::1:2 --mcast-port 9 --mcast-ttl 2 --sync-maxlen 1000",
    ) {
        Command::StartDaemon(d) => {
            assert_eq!(d.state, DaemonState::Backup);
            assert_eq!(d.mcast_ifn, "eth0");
            assert_eq!(
                (d.syncid, d.mcast_port, d.mcast_ttl, d.sync_maxlen),
                (9, 9, 2, 1000)
            );
            assert_eq!(d.mcast_group, Some(ip("ff02::1:2")));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(p("--stop-daemon master"), Command::StopDaemon(s) if s.state == DaemonState::Master)
    );
}

#[test]
fn extensions() {
    // --fullnat: a forwarding method; ports are not forced.
    match p("-a -t 10.0.0.1:80 -r 10.0.1.1:8080 --fullnat") {
        Command::AddDest(r) => {
            assert_eq!(r.dest.method, Method::FullNat);
            assert_eq!(r.dest.port, 8080);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err("-a -t 10.0.0.1:80 -r 10.0.1.1 --fullnat -m").stderr_text(),
        "multiple 'forwarding-method' options specified\n"
    );
    assert_eq!(
        err("-a -t 10.0.0.1:80 -r [::1]:80 --fullnat").stderr_text(),
        "Different address family is allowed only for tunneling servers\n"
    );
    // --proxy-protocol: a service flag for -A/-E only.
    match p("-A -t 10.0.0.1:80 --proxy-protocol") {
        Command::AddService(s) => assert!(s.proxy_protocol),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err("-a -t 10.0.0.1:80 -r 10.0.1.1 --proxy-protocol").stderr_text(),
        "Illegal 'proxy-protocol' option with the 'add-server' command\n"
    );
    // Local addresses.
    match p("--add-laddr -t 10.0.0.1:80 -z 192.168.0.5") {
        Command::AddLaddr(r) => {
            assert_eq!(r.service, tcp("10.0.0.1", 80));
            assert_eq!(r.addr, ip("192.168.0.5"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(p("--del-laddr -t 10.0.0.1:80 --laddr 2001:db8::5"), Command::DeleteLaddr(r) if r.addr == ip("2001:db8::5"))
    );
    assert!(
        matches!(p("--get-laddr -t 10.0.0.1:80 -n"), Command::GetLaddr { format, .. } if format.numeric)
    );
    assert_eq!(
        err("--add-laddr -t 10.0.0.1:80").stderr_text(),
        "You need to supply the 'laddr' option for the 'add-laddr' command\n"
    );
    assert_eq!(
        err("-A -t 10.0.0.1:80 -z 1.2.3.4").stderr_text(),
        "Illegal 'laddr' option with the 'add-service' command\n"
    );
    assert_eq!(
        err("--add-laddr -t 10.0.0.1:80 -z nonsense").stderr_text(),
        "illegal local address specified\n"
    );
    // --socket: global, anywhere, once.
    let inv = parse_invocation(&argv("--socket /tmp/s -Ln"), &NoResolver).unwrap();
    assert_eq!(inv.socket.as_deref(), Some("/tmp/s"));
    let inv = parse_invocation(&argv("-Ln --socket=/tmp/t"), &NoResolver).unwrap();
    assert_eq!(inv.socket.as_deref(), Some("/tmp/t"));
    assert_eq!(
        err("-Ln --socket a --socket b").stderr_text(),
        "multiple 'socket' options specified\n"
    );
    // The extensions do not change ipvsadm command lines: an ipvsadm line parses the same
    // with or without --socket.
    assert_eq!(p("--socket /x -A -t 10.0.0.1:80"), p("-A -t 10.0.0.1:80"));
}

#[test]
fn json_of_commands() {
    let inv = parse_invocation(&argv("-a -t 10.0.0.1:80 -r 10.0.1.1 -m"), &NoResolver).unwrap();
    let j = serde_json::to_value(&inv).unwrap();
    assert_eq!(j["command"]["command"], "add-dest");
    assert_eq!(j["command"]["args"]["dest"]["method"], "masq");
}
