//! Every sample configuration Debian's keepalived package ships
//! (/usr/share/doc/keepalived/samples, copied to tests/samples): each loads with keepalived's
//! `-t` exit status (recorded from the real keepalived in tests/samples/*.expected) and holds
//! what the file says.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use lvs_keepalived::conf::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn env() -> StaticEnv {
    let mut env = StaticEnv::with_interfaces(&["eth0", "eth1", "eth2", "eth3"]);
    for i in 0..4u32 {
        env.interfaces
            .insert(format!("peer{i}"), InterfaceInfo::ethernet(10 + i));
    }
    env
}

/// Loads a sample; asserts the exit status keepalived 2.2.7 gives it.
fn sample(name: &str, status: i32) -> Config {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let expected = std::fs::read_to_string(dir.join(format!("{name}.expected"))).unwrap();
    assert_eq!(
        expected.lines().next(),
        Some(format!("rc={status}").as_str()),
        "{name}: recorded keepalived status"
    );
    let opts = LoadOptions {
        config_id: Some("lvs1".into()),
        base_dir: Some(dir),
        ..LoadOptions::default()
    };
    let loaded = load_file(name, &opts, &env());
    assert_eq!(
        loaded.exit_status,
        status,
        "{name}: {:?}",
        loaded.diagnostics.all()
    );
    loaded.config
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn firewall_loc_globals(c: &Config) {
    assert_eq!(c.global.router_id.as_deref(), Some("LVS_DEVEL"));
    assert_eq!(c.global.notification_email, vec!["acassen"]);
    assert_eq!(
        c.global.notification_email_from.as_deref(),
        Some("Alexandre.Cassen@firewall.loc")
    );
    assert_eq!(
        c.global.smtp_server,
        Some(("192.168.200.1".to_string(), 25))
    );
    assert_eq!(c.global.smtp_connect_timeout, secs(30));
}

#[test]
fn http_get_port() {
    let c = sample("keepalived.conf.HTTP_GET.port", 0);
    firewall_loc_globals(&c);
    assert_eq!(c.virtual_servers.len(), 1);
    let vs = &c.virtual_servers[0];
    assert_eq!(
        vs.key,
        VirtualServerKey::Addr {
            addr: ip("192.168.200.100"),
            port: 443
        }
    );
    assert_eq!(vs.protocol, Some(Protocol::Tcp));
    assert_eq!(vs.persistence_timeout, Some(50));
    assert_eq!(vs.delay_loop, secs(6));
    let rs = &vs.real_servers[0];
    assert_eq!(
        (rs.addr, rs.port, rs.weight),
        (ip("192.168.201.100"), 443, 1)
    );
    let chk = &rs.checkers[0];
    let CheckerKind::Http(h) = &chk.kind else {
        panic!("{chk:?}")
    };
    assert!(h.ssl);
    assert_eq!(h.urls.len(), 1);
    assert_eq!(h.urls[0].path, "/");
    assert_eq!(h.urls[0].digest.unwrap()[0], 0xff);
    assert_eq!(h.urls[0].status_codes, vec![(200, 299)]);
    assert_eq!(chk.connect_port, Some(444));
    assert_eq!(chk.connect_ip, Some(ip("192.168.201.100")));
    assert_eq!(
        (chk.connect_timeout, chk.retry, chk.delay_before_retry),
        (secs(3), 3, secs(3))
    );
}

#[test]
fn ipv6() {
    let c = sample("keepalived.conf.IPv6", 0);
    assert_eq!(c.virtual_server_groups.len(), 1);
    let g = &c.virtual_server_groups[0];
    assert_eq!(g.name, "IPv6_group");
    assert_eq!(
        g.entries,
        vec![
            VirtualServerGroupEntry::Range {
                first: ip("ae00::2"),
                last: ip("ae00::9"),
                port: 80
            },
            VirtualServerGroupEntry::Range {
                first: ip("ae00::1"),
                last: ip("ae00::1"),
                port: 80
            },
        ]
    );
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.family, Family::Inet6);
    assert_eq!(
        vs.key,
        VirtualServerKey::Addr {
            addr: ip("ae00::1"),
            port: 80
        }
    );
    let rs = &vs.real_servers[0];
    assert_eq!((rs.addr, rs.port), (ip("ae00::10"), 25));
    assert_eq!(
        rs.checkers[0].kind,
        CheckerKind::Smtp {
            helo_name: Some("foo.bar.com".into())
        }
    );
    assert_eq!(rs.checkers[0].retry, 3);
}

#[test]
fn ping_check() {
    let c = sample("keepalived.conf.PING_CHECK", 0);
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.protocol, Some(Protocol::Udp));
    assert_eq!(
        vs.key,
        VirtualServerKey::Addr {
            addr: ip("10.10.10.2"),
            port: 1358
        }
    );
    assert_eq!(vs.real_servers[0].checkers[0].kind, CheckerKind::Ping);
    assert_eq!(vs.real_servers[0].checkers[0].retry, 4);
}

#[test]
fn smtp_check() {
    let c = sample("keepalived.conf.SMTP_CHECK", 0);
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.real_servers.len(), 3);
    // The second and third SMTP_CHECK set connect_timeout themselves, so (as keepalived's
    // smtp_check_end_handler) they check the real server and each host block is one more
    // checker with the same settings: 1 + 4 + 4.
    assert_eq!(c.checker_count(), 9);
    for rs in &vs.real_servers {
        for ck in &rs.checkers {
            assert!(
                matches!(&ck.kind, CheckerKind::Smtp { helo_name: Some(h) } if h == "foo.bar.com")
            );
            assert_eq!(ck.retry, 2);
            assert_eq!(ck.delay_before_retry, secs(5));
        }
    }
    assert_eq!(vs.real_servers[0].checkers[0].connect_timeout, secs(30));
    let targets = |i: usize| {
        vs.real_servers[i]
            .checkers
            .iter()
            .map(|ck| (ck.connect_ip.unwrap().to_string(), ck.connect_port.unwrap()))
            .collect::<Vec<_>>()
    };
    let t = |a: &str, p: u16| (a.to_string(), p);
    assert_eq!(
        targets(1),
        vec![
            t("172.16.1.11", 25),
            t("172.16.1.11", 25),
            t("192.168.155.10", 25),
            t("64.233.167.99", 25)
        ]
    );
    assert_eq!(
        targets(2),
        vec![
            t("172.16.1.12", 25),
            t("172.16.1.12", 25),
            t("192.168.155.11", 25),
            t("64.233.167.100", 587)
        ]
    );
    // A host's bindto stays its own; the checker's connect_timeout is not a host's.
    assert_eq!(vs.real_servers[2].checkers[0].bindto, None);
    assert_eq!(
        vs.real_servers[2].checkers[1].bindto,
        Some(ip("172.16.1.2"))
    );
    assert_eq!(vs.real_servers[1].checkers[0].connect_timeout, secs(10));
}

#[test]
fn ssl_get() {
    // keepalived: "(VI_1) Initial state master is incompatible with AH authentication - clearing".
    let c = sample("keepalived.conf.SSL_GET", 5);
    let vi = c.instance("VI_1").unwrap();
    assert_eq!(vi.state, InitialState::Backup);
    assert_eq!(
        vi.authentication,
        Some(Authentication::Ah(b"1111".to_vec()))
    );
    assert_eq!(vi.virtual_ipaddress.len(), 3);
    assert_eq!(c.virtual_servers.len(), 2);
    let CheckerKind::Http(h) = &c.virtual_servers[0].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert!(h.ssl);
    assert_eq!(
        h.urls.iter().map(|u| u.path.as_str()).collect::<Vec<_>>(),
        vec!["/", "/mrtg/"]
    );
    let CheckerKind::Http(h) = &c.virtual_servers[1].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert!(!h.ssl);
}

#[test]
fn udp_check() {
    let c = sample("keepalived.conf.UDP_CHECK", 0);
    let chk = &c.virtual_servers[0].real_servers[0].checkers[0];
    assert!(matches!(chk.kind, CheckerKind::Udp(_)));
    assert_eq!(
        (chk.connect_timeout, chk.retry, chk.delay_before_retry),
        (secs(3), 3, secs(3))
    );
}

#[test]
fn conditional_conf() {
    // With config-id lvs1 none of the @high/@low lines apply: the script has no command.
    let c = sample("keepalived.conf.conditional_conf", 5);
    let vi = c.instance("VI_0").unwrap();
    assert_eq!(vi.priority, 100);
    assert_eq!(vi.version, 3);
    assert_eq!(vi.advert_int, secs(12));
    assert_eq!(vi.use_vmac.as_deref(), Some(""));
    assert!(vi.track_scripts.is_empty());
    assert_eq!(vi.track_interfaces.len(), 2);
    assert_eq!(vi.track_interfaces[1].weight, 20);
    // With config-id high the script and priority lines are used.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let opts = LoadOptions {
        config_id: Some("high".into()),
        base_dir: Some(dir),
        ..LoadOptions::default()
    };
    let high = load_file("keepalived.conf.conditional_conf", &opts, &env()).config;
    assert_eq!(high.instance("VI_0").unwrap().priority, 170);
    assert_eq!(
        high.instance("VI_0").unwrap().track_scripts.len(),
        0,
        "the script file does not exist"
    );
}

#[test]
fn fwmark() {
    // keepalived: "protocol specified for fwmark - protocol will be ignored".
    let c = sample("keepalived.conf.fwmark", 5);
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.key, VirtualServerKey::Fwmark(1));
    assert_eq!(vs.protocol, None);
    assert_eq!(vs.persistence_timeout, Some(900));
    assert_eq!(vs.real_servers.len(), 2);
    assert_eq!(vs.real_servers[0].port, 0);
    assert_eq!(vs.real_servers[0].checkers[0].connect_port, Some(80));
}

#[test]
fn inhibit() {
    let c = sample("keepalived.conf.inhibit", 0);
    let rs = &c.virtual_servers[0].real_servers[0];
    assert!(rs.inhibit_on_failure);
    assert!(!c.virtual_servers[0].inhibit_on_failure);
}

#[test]
fn misc_check() {
    let c = sample("keepalived.conf.misc_check", 0);
    // The script does not exist here, so keepalived drops the checker.
    assert_eq!(c.checker_count(), 0);
    assert_eq!(c.real_server_count(), 1);
}

#[test]
fn misc_check_arg() {
    let c = sample("keepalived.conf.misc_check_arg", 0);
    assert_eq!(c.real_server_count(), 1);
    assert_eq!(c.virtual_servers[0].lb_algo, "rr");
}

#[test]
fn quorum() {
    let c = sample("keepalived.conf.quorum", 0);
    let vs = &c.virtual_servers[0];
    assert_eq!(
        (vs.quorum, vs.hysteresis, vs.alpha, vs.omega),
        (7, 2, true, true)
    );
    assert_eq!(vs.real_servers.len(), 10);
    assert_eq!(vs.lb_algo, "wrr");
    // The scripts are not on this machine: keepalived does not run them.
    assert!(vs.quorum_up.is_none() && vs.quorum_down.is_none());
    assert!(
        vs.real_servers
            .iter()
            .all(|r| r.alpha && r.port == 8080 && r.checkers[0].alpha)
    );
}

#[test]
fn sample_conf() {
    let c = sample("keepalived.conf.sample", 0);
    firewall_loc_globals(&c);
    let vi = c.instance("VI_1").unwrap();
    assert!(vi.nopreempt);
    assert_eq!(
        (vi.virtual_router_id, vi.priority, vi.state),
        (50, 100, InitialState::Backup)
    );
    assert_eq!(vi.virtual_ipaddress.len(), 3);
    assert_eq!(vi.virtual_ipaddress[0].addr, ip("192.168.200.11"));
    assert_eq!(vi.virtual_ipaddress[0].prefix_len, 32);
    let vs = &c.virtual_servers[0];
    let s = vs.sorry_server.as_ref().unwrap();
    assert_eq!(
        (s.addr, s.port, s.inhibit),
        (ip("192.168.200.200"), 1358, false)
    );
}

#[test]
fn status_code() {
    let c = sample("keepalived.conf.status_code", 0);
    let CheckerKind::Http(h) = &c.virtual_servers[0].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert_eq!(
        h.urls[0].status_codes,
        vec![(200, 299), (400, 499), (503, 503), (505, 505)]
    );
    assert!(h.urls[0].accepts(404) && !h.urls[0].accepts(504));
    assert_eq!(h.urls[1].status_codes, vec![(200, 200)]);
    assert!(h.urls[1].digest.is_some());
}

#[test]
fn track_interface() {
    // eth0.1 does not exist: "Non-existent interface specified in configuration".
    let c = sample("keepalived.conf.track_interface", 5);
    let vi = c.instance("VI_1").unwrap();
    assert_eq!(vi.interface, None);
    assert_eq!(
        vi.track_interfaces
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        vec!["eth0", "eth1"]
    );
    assert_eq!(vi.virtual_ipaddress[1].dev.as_deref(), Some("eth1"));
    assert_eq!(vi.virtual_routes.len(), 3);
    assert_eq!(c.static_routes.len(), 4);
    assert_eq!(c.static_routes[2].dev.as_deref(), Some("eth3"));
}

#[test]
fn virtual_server_group() {
    let c = sample("keepalived.conf.virtual_server_group", 0);
    let g = &c.virtual_server_groups[0];
    assert_eq!(g.entries.len(), 6);
    assert_eq!(
        g.entries[3],
        VirtualServerGroupEntry::Range {
            first: ip("192.168.200.3"),
            last: ip("192.168.200.10"),
            port: 80
        }
    );
    assert_eq!(
        g.entries[4],
        VirtualServerGroupEntry::Fwmark {
            mark: 1,
            family: None
        }
    );
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.key, VirtualServerKey::Group("VSG_1".into()));
    assert_eq!(vs.real_servers.len(), 2);
}

#[test]
fn virtualhost() {
    let c = sample("keepalived.conf.virtualhost", 0);
    assert_eq!(
        c.virtual_servers[0].virtualhost.as_deref(),
        Some("www.firewall.loc")
    );
}

#[test]
fn vrrp() {
    let c = sample("keepalived.conf.vrrp", 0);
    assert_eq!(c.vrrp_instances.len(), 4);
    let vi = c.instance("VI_1").unwrap();
    assert_eq!(vi.garp_master_delay, secs(10));
    assert!(vi.smtp_alert);
    assert_eq!(
        vi.authentication,
        Some(Authentication::Pass(b"1111".to_vec()))
    );
    assert_eq!(vi.virtual_ipaddress.len(), 4);
    assert_eq!(vi.virtual_ipaddress[3].label.as_deref(), Some("eth0:1"));
    let vi4 = c.instance("VI_4").unwrap();
    assert_eq!(
        (vi4.interface.as_deref(), vi4.priority, vi4.state),
        (Some("eth1"), 50, InitialState::Backup)
    );
    assert_eq!(vi4.advert_int, secs(1));
    assert_eq!(vi4.version, 2);
    assert_eq!(vi4.mcast_dst_ip, Some(ip("224.0.0.18")));
}

#[test]
fn vrrp_localcheck() {
    // killall is found in PATH and scripts run without enable_script_security: exit 6.
    let c = sample("keepalived.conf.vrrp.localcheck", 6);
    assert_eq!(c.vrrp_instances.len(), 9);
    let vi = c.instance("VI_1").unwrap();
    let ts: Vec<(&str, i32)> = vi
        .track_scripts
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(ts[1], ("chk_haproxy", 2));
    assert!(ts.contains(&("chk_http_port", -2)));
    let ti: Vec<(&str, i32)> = vi
        .track_interfaces
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert_eq!(ti, vec![("eth1", 2), ("eth2", -2), ("eth3", 0)]);
    let s = c.script("chk_http_port").unwrap();
    assert_eq!(s.script.args, vec!["</dev/tcp/127.0.0.1/80"]);
    assert_eq!((s.interval, s.weight), (secs(1), -2));
    assert_eq!(vi.virtual_ipaddress[0].prefix_len, 25);
}

#[test]
fn vrrp_lvs_syncd() {
    // An old syntax: `VI_2` and `VI_3` are unknown keywords in vrrp_sync_group.
    let c = sample("keepalived.conf.vrrp.lvs_syncd", 5);
    assert!(c.vrrp_sync_groups.is_empty());
    let s = c.global.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!(
        (s.interface.as_str(), s.vrrp_instance.as_deref()),
        ("eth1", Some("VI_1"))
    );
    assert_eq!(
        c.instance("VI_1").unwrap().authentication,
        Some(Authentication::Pass(b"grr02".to_vec()))
    );
    assert_eq!(c.virtual_servers[0].delay_loop, secs(20));
}

#[test]
fn vrrp_routes() {
    let c = sample("keepalived.conf.vrrp.routes", 5);
    assert_eq!(c.static_routes.len(), 5);
    let vi = c.instance("VI_1").unwrap();
    assert_eq!(vi.virtual_routes.len(), 7);
    assert_eq!(vi.virtual_routes[2].dev.as_deref(), Some("eth2"));
    assert_eq!(vi.virtual_routes[6].words[0], "0.0.0.0/0");
}

#[test]
fn vrrp_rules() {
    // `to 192.168.100./24` is not an address: the rule is dropped.
    let c = sample("keepalived.conf.vrrp.rules", 5);
    assert_eq!(c.static_rules.len(), 1);
    assert_eq!(c.instance("VI_1").unwrap().virtual_rules.len(), 1);
    assert_eq!(
        c.instance("VI_1").unwrap().virtual_ipaddress[2]
            .dev
            .as_deref(),
        Some("eth2")
    );
}

#[test]
fn vrrp_scripts() {
    let c = sample("keepalived.conf.vrrp.scripts", 0);
    let g = &c.vrrp_sync_groups[0];
    assert_eq!(g.name, "G1");
    assert_eq!(g.members, vec!["VI_2", "VI_3"]);
    assert_eq!(
        c.instance("VI_2").unwrap().sync_group.as_deref(),
        Some("G1")
    );
    assert_eq!(c.instance("VI_1").unwrap().sync_group, None);
    // /usr/local/bin/vrrp.* do not exist here: keepalived drops the notify scripts.
    assert!(g.notify_master.is_none());
    assert!(c.instance("VI_1").unwrap().notify_master.is_none());
    assert_eq!(c.instance("VI_2").unwrap().priority, 150);
}

#[test]
fn vrrp_static_ipaddress() {
    let c = sample("keepalived.conf.vrrp.static_ipaddress", 5);
    assert_eq!(c.static_ipaddress.len(), 3);
    assert_eq!(c.static_ipaddress[0].scope, Some(253));
    assert_eq!(c.static_ipaddress[2].dev.as_deref(), Some("eth2"));
    assert_eq!(c.instance("VI_1").unwrap().virtual_routes.len(), 4);
}

#[test]
fn vrrp_sync() {
    let c = sample("keepalived.conf.vrrp.sync", 0);
    assert_eq!(c.vrrp_sync_groups.len(), 2);
    assert_eq!(c.vrrp_sync_groups[0].members.len(), 7);
    assert_eq!(c.vrrp_sync_groups[1].members, vec!["VI_3", "VI_4"]);
    assert_eq!(c.vrrp_instances.len(), 9);
    assert_eq!(
        c.instance("VI_9").unwrap().sync_group.as_deref(),
        Some("G1")
    );
    assert_eq!(
        c.instance("VI_4").unwrap().virtual_ipaddress[0].prefix_len,
        28
    );
}

#[test]
fn every_sample_has_a_test() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/samples");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().to_string();
        if name.starts_with("keepalived.conf.") && !name.ends_with(".expected") {
            n += 1;
        }
    }
    // The 25 keepalived.conf.* samples of Debian's keepalived 2.2.7 (the two *.sh samples are
    // scripts, not configurations).
    assert_eq!(n, 25);
}
