//! The typed model: every keyword issue 5 lists lands in the right field with keepalived's
//! defaults, inheritance and corrections; and the reader's grammar (comments, quoting,
//! includes, pre-processing) gives the values keepalived would use.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use lvs_keepalived::conf::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn env() -> StaticEnv {
    StaticEnv::with_interfaces(&["eth0", "eth1", "eth2"])
}

fn load(text: &str) -> Loaded {
    load_str(
        "t.conf",
        text,
        &LoadOptions {
            config_id: Some("lvs1".into()),
            ..LoadOptions::default()
        },
        &env(),
    )
}

fn clean(text: &str) -> Config {
    let l = load(text);
    assert_eq!(l.exit_status, 0, "{:#?}", l.diagnostics.all());
    l.config
}

fn messages(l: &Loaded) -> Vec<String> {
    l.diagnostics.reported().map(|d| d.to_string()).collect()
}

const MIN_VI: &str = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

#[test]
fn global_defs_values() {
    let c = clean(
        "global_defs {
            router_id lb-1
            notification_email {
                a@example.com b@example.com
                c@example.com
            }
            notification_email_from ka@example.com
            smtp_server mail.example.com 587
            smtp_connect_timeout 12
            smtp_alert
            vrrp_version 3
            vrrp_garp_master_delay 2
            vrrp_garp_master_repeat 7
            vrrp_garp_master_refresh 30
            vrrp_garp_lower_prio_repeat 1
            vrrp_down_timer_adverts 4
            vrrp_strict
            vrrp_mcast_group4 224.0.0.42
            lvs_sync_daemon eth1 inst VI_1 id 9 maxlen 1400 port 8850 ttl 3 group 224.0.0.99
            lvs_timeouts tcp 7200 tcpfin 60 udp 120
            lvs_flush
            lvs_flush_on_stop VS
            enable_script_security
            script_user root root
        }\n",
    );
    let g = &c.global;
    assert_eq!(g.router_id.as_deref(), Some("lb-1"));
    assert_eq!(
        g.notification_email,
        vec!["a@example.com", "b@example.com", "c@example.com"]
    );
    assert_eq!(g.notification_email_from.as_deref(), Some("ka@example.com"));
    assert_eq!(g.smtp_server, Some(("mail.example.com".into(), 587)));
    assert_eq!(g.smtp_connect_timeout, Duration::from_secs(12));
    assert_eq!(g.smtp_alert, Some(true));
    assert_eq!(g.vrrp_version, 3);
    assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(2));
    assert_eq!(g.vrrp_garp_master_repeat, 7);
    assert_eq!(g.vrrp_garp_master_refresh, Duration::from_secs(30));
    assert_eq!(g.vrrp_garp_lower_prio_repeat, 1);
    assert_eq!(g.vrrp_down_timer_adverts, 4);
    assert!(g.vrrp_strict);
    assert_eq!(g.vrrp_mcast_group4, Ipv4Addr::new(224, 0, 0, 42));
    let s = g.lvs_sync_daemon.as_ref().unwrap();
    assert_eq!(s.interface, "eth1");
    assert_eq!(s.vrrp_instance.as_deref(), Some("VI_1"));
    assert_eq!(
        (s.sync_id, s.maxlen, s.port, s.ttl),
        (Some(9), Some(1400), Some(8850), Some(3))
    );
    assert_eq!(s.group, Some(ip("224.0.0.99")));
    assert_eq!(
        g.lvs_timeouts,
        LvsTimeouts {
            tcp: Some(7200),
            tcpfin: Some(60),
            udp: Some(120)
        }
    );
    assert!(g.lvs_flush && g.lvs_flush_on_stop);
    assert!(g.enable_script_security);
    assert_eq!(
        g.script_user,
        Some(ScriptUser {
            user: "root".into(),
            group: Some("root".into())
        })
    );
}

#[test]
fn global_defaults() {
    let c = clean(MIN_VI);
    let g = &c.global;
    assert_eq!(g.router_id, None);
    assert_eq!(g.vrrp_version, 2);
    assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(5));
    assert_eq!(g.vrrp_garp_master_repeat, 5);
    assert_eq!(g.vrrp_garp_lower_prio_delay, Duration::from_secs(5));
    assert_eq!(g.vrrp_garp_lower_prio_repeat, 5);
    assert_eq!(g.vrrp_mcast_group6.to_string(), "ff02::12");
    assert_eq!(g.smtp_connect_timeout, Duration::from_secs(30));
}

#[test]
fn old_lvs_sync_daemon_form() {
    let l = load("global_defs {\n lvs_sync_daemon eth1 VI_1 4\n}\n");
    let s = l.config.global.lvs_sync_daemon.clone().unwrap();
    assert_eq!(
        (s.vrrp_instance.as_deref(), s.sync_id),
        (Some("VI_1"), Some(4))
    );
    assert!(
        messages(&l)
            .iter()
            .any(|m| m.contains("Please use keyword \"id\" before lvs_sync_daemon SYNCID"))
    );
}

#[test]
fn vrrp_instance_values() {
    let c = clean(
        "global_defs {\n enable_script_security\n script_user root\n}
vrrp_script chk {
    script \"/bin/true --quiet\"
    interval 3
    timeout 2
    weight -30 reverse
    rise 2
    fall 4
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 42
    priority 150
    advert_int 2
    preempt_delay 0
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        10.0.0.10/24 dev eth1 label eth1:vip scope link brd 10.0.0.255
        10.0.0.11/24 brd +
    }
    virtual_ipaddress_excluded {
        fd00::10/64 dev eth1
    }
    unicast_src_ip 10.0.0.2
    unicast_peer {
        10.0.0.3
        10.0.0.4 min_ttl 200
    }
    track_interface {
        eth1 weight -20
        eth2 weight 10 reverse
    }
    track_script {
        chk
    }
    notify_master \"/bin/true master\"
    notify_backup /bin/true root
    notify \"/bin/true\"
    garp_master_delay 1
    garp_master_repeat 2
    no_accept
    dont_track_primary
}\n",
    );
    let v = c.instance("VI_1").unwrap();
    assert_eq!(v.state, InitialState::Master);
    assert_eq!(v.interface.as_deref(), Some("eth0"));
    assert_eq!((v.virtual_router_id, v.priority), (42, 150));
    assert_eq!(v.advert_int, Duration::from_secs(2));
    assert_eq!((v.version, v.family), (2, Family::Inet));
    assert_eq!(
        v.authentication,
        Some(Authentication::Pass(b"s3cret".to_vec()))
    );
    let a = &v.virtual_ipaddress[0];
    assert_eq!((a.addr, a.prefix_len), (ip("10.0.0.10"), 24));
    assert_eq!(a.dev.as_deref(), Some("eth1"));
    assert_eq!(a.label.as_deref(), Some("eth1:vip"));
    assert_eq!(a.scope, Some(253));
    assert_eq!(a.broadcast, Some(Ipv4Addr::new(10, 0, 0, 255)));
    assert_eq!(
        v.virtual_ipaddress[1].broadcast,
        Some(Ipv4Addr::new(10, 0, 0, 255))
    );
    assert_eq!(v.virtual_ipaddress_excluded[0].addr, ip("fd00::10"));
    assert_eq!(
        v.virtual_ipaddress_excluded[0].preferred_lft,
        Some(u32::MAX)
    );
    assert_eq!(v.unicast_src_ip, Some(ip("10.0.0.2")));
    assert_eq!(v.unicast_peers.len(), 2);
    assert_eq!(
        (v.unicast_peers[1].min_ttl, v.unicast_peers[1].max_ttl),
        (200, 255)
    );
    assert_eq!(v.unicast_ttl, Some(255));
    assert_eq!(
        v.mcast_dst_ip, None,
        "unicast instances have no multicast group"
    );
    assert_eq!(
        v.track_interfaces,
        vec![
            TrackedInterface {
                name: "eth1".into(),
                weight: -20,
                reverse: false
            },
            TrackedInterface {
                name: "eth2".into(),
                weight: 10,
                reverse: true
            },
        ]
    );
    // `chk` is tracked with the script's own weight.
    assert_eq!(
        v.track_scripts,
        vec![TrackedScript {
            name: "chk".into(),
            weight: -30,
            reverse: true
        }]
    );
    assert_eq!(
        v.notify_master.as_ref().unwrap().args,
        vec!["/bin/true", "master"]
    );
    assert_eq!(
        v.notify_backup
            .as_ref()
            .unwrap()
            .user
            .as_ref()
            .unwrap()
            .user,
        "root"
    );
    assert_eq!(v.notify.as_ref().unwrap().args, vec!["/bin/true"]);
    assert_eq!(
        (v.garp_master_delay, v.garp_master_repeat),
        (Duration::from_secs(1), 2)
    );
    assert!(!v.accept);
    assert!(v.dont_track_primary);
    let s = c.script("chk").unwrap();
    assert_eq!(s.script.args, vec!["/bin/true", "--quiet"]);
    assert_eq!(
        (s.interval, s.timeout),
        (Duration::from_secs(3), Duration::from_secs(2))
    );
    assert_eq!(
        (s.weight, s.weight_reverse, s.rise, s.fall),
        (-30, true, 2, 4)
    );
}

#[test]
fn track_script_defined_later_is_not_found() {
    let l = load(
        "global_defs {\n enable_script_security\n script_user root\n}
vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n track_script {\n  later\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}
vrrp_script later {\n script /bin/true\n}\n",
    );
    assert_eq!(l.exit_status, 5);
    assert_eq!(
        messages(&l),
        vec!["(t.conf: Line 9) (VI_1) track script later not found, ignoring..."]
    );
    assert!(
        l.config.vrrp_scripts.is_empty(),
        "an unused script is dropped"
    );
}

#[test]
fn vrrp_defaults_and_derivations() {
    let c = clean(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}
vrrp_instance B {\n state MASTER\n interface eth0\n virtual_router_id 2\n virtual_ipaddress {\n  10.0.0.2\n }\n}
vrrp_instance C {\n interface eth0\n virtual_router_id 3\n priority 255\n virtual_ipaddress {\n  10.0.0.3\n }\n}
vrrp_instance D {\n interface eth0\n version 3\n virtual_router_id 4\n advert_int 0.25\n virtual_ipaddress {\n  10.0.0.4\n }\n}
vrrp_instance E {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n  fd00::5/64\n }\n}\n",
    );
    let a = c.instance("A").unwrap();
    assert_eq!(
        (a.state, a.priority, a.version, a.advert_int),
        (InitialState::Backup, 100, 2, Duration::from_secs(1))
    );
    assert_eq!(a.mcast_dst_ip, Some(ip("224.0.0.18")));
    assert!(a.accept);
    assert_eq!(a.down_timer_adverts, 3);
    let b = c.instance("B").unwrap();
    assert_eq!(
        (b.state, b.priority),
        (InitialState::Master, 255),
        "state MASTER without priority means 255"
    );
    let cc = c.instance("C").unwrap();
    assert_eq!(
        cc.state,
        InitialState::Master,
        "priority 255 without state means MASTER"
    );
    let d = c.instance("D").unwrap();
    assert_eq!((d.version, d.advert_int), (3, Duration::from_millis(250)));
    let e = c.instance("E").unwrap();
    assert_eq!((e.family, e.version), (Family::Inet6, 3));
    assert_eq!(e.mcast_dst_ip, Some(ip("ff02::12")));
}

#[test]
fn advert_int_rounding() {
    let l = load(
        "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n advert_int 1.6\n virtual_ipaddress {\n  10.0.0.1\n }\n}
vrrp_instance B {\n interface eth0\n version 3\n virtual_router_id 2\n advert_int 0.125\n virtual_ipaddress {\n  10.0.0.2\n }\n}\n",
    );
    assert_eq!(l.exit_status, 5);
    assert_eq!(
        l.config.instance("A").unwrap().advert_int,
        Duration::from_secs(2)
    );
    assert_eq!(
        l.config.instance("B").unwrap().advert_int,
        Duration::from_millis(130)
    );
    assert_eq!(
        messages(&l),
        vec![
            "(A) VRRPv2 advertisement interval 1.600000s must be an integer. rounding",
            "(B) VRRPv3 advertisement interval 0.125000s must be in units of 10ms - rounding",
        ]
    );
}

#[test]
fn preemption_corrections() {
    let l = load(
        "vrrp_instance A {\n state MASTER\n interface eth0\n virtual_router_id 1\n priority 200\n nopreempt\n virtual_ipaddress {\n  10.0.0.1\n }\n}
vrrp_instance B {\n interface eth0\n virtual_router_id 2\n nopreempt\n preempt_delay 30\n virtual_ipaddress {\n  10.0.0.2\n }\n}
vrrp_instance C {\n interface eth0\n virtual_router_id 3\n preempt_delay 2.5\n virtual_ipaddress {\n  10.0.0.3\n }\n}\n",
    );
    assert!(!l.config.instance("A").unwrap().nopreempt);
    let b = l.config.instance("B").unwrap();
    assert!(b.nopreempt);
    assert_eq!(b.preempt_delay, Duration::ZERO);
    assert_eq!(
        l.config.instance("C").unwrap().preempt_delay,
        Duration::from_millis(2500)
    );
    assert_eq!(l.exit_status, 5);
}

#[test]
fn sync_group_values() {
    let c = clean(
        "vrrp_sync_group G {\n group {\n  VI_1 VI_2\n }\n track_interface {\n  eth2\n }\n smtp_alert\n}
vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}
vrrp_instance VI_2 {\n interface eth1\n virtual_router_id 2\n virtual_ipaddress {\n  10.0.1.1\n }\n}\n",
    );
    let g = &c.vrrp_sync_groups[0];
    assert_eq!(g.members, vec!["VI_1", "VI_2"]);
    assert_eq!(g.track_interfaces[0].name, "eth2");
    assert!(g.smtp_alert);
    assert_eq!(c.instance("VI_2").unwrap().sync_group.as_deref(), Some("G"));
}

#[test]
fn virtual_server_inheritance() {
    let l = load(
        "global_defs {\n enable_script_security\n script_user root\n}
virtual_server 10.0.0.1 80 {
    delay_loop 10
    lvs_sched wrr
    lvs_method DR
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    protocol TCP
    sorry_server 10.0.1.99 80
    sorry_server_inhibit
    quorum 2
    hysteresis 1
    alpha
    omega
    inhibit_on_failure
    retry 2
    delay_before_retry 4
    connect_timeout 7
    virtualhost www.example.com
    real_server 10.0.1.1 80 {
        weight 3
        uthreshold 1000
        lthreshold 100
        TCP_CHECK {
            connect_port 8080
        }
        HTTP_GET {
            url {
                path /health
                status_code 200 204
            }
        }
    }
    real_server 10.0.1.2 80 {
        inhibit_on_failure off
        retry 5
        MISC_CHECK {
            misc_path \"/bin/true 10.0.1.2\"
            misc_dynamic
            misc_timeout 3
        }
    }
}\n",
    );
    assert_eq!(l.exit_status, 0, "{:?}", messages(&l));
    let vs = &l.config.virtual_servers[0];
    assert_eq!(
        vs.key,
        VirtualServerKey::Addr {
            addr: ip("10.0.0.1"),
            port: 80
        }
    );
    assert_eq!(
        (vs.lb_algo.as_str(), vs.lb_kind, vs.protocol),
        ("wrr", ForwardMethod::Dr, Some(Protocol::Tcp))
    );
    assert_eq!(vs.persistence_timeout, Some(300));
    assert_eq!(
        vs.persistence_granularity,
        Some(PersistenceGranularity::Netmask(Ipv4Addr::new(
            255, 255, 255, 0
        )))
    );
    let s = vs.sorry_server.as_ref().unwrap();
    assert_eq!(
        (s.addr, s.port, s.inhibit, s.method),
        (ip("10.0.1.99"), 80, true, ForwardMethod::Dr)
    );
    assert_eq!(
        (vs.quorum, vs.hysteresis, vs.alpha, vs.omega),
        (2, 1, true, true)
    );
    assert_eq!(vs.delay_loop, Duration::from_secs(10));
    assert_eq!(vs.connect_timeout, Duration::from_secs(7));
    let r1 = &vs.real_servers[0];
    assert_eq!((r1.weight, r1.uthreshold, r1.lthreshold), (3, 1000, 100));
    assert!(r1.inhibit_on_failure, "inherited from the virtual server");
    assert!(r1.alpha, "inherited from the virtual server");
    assert_eq!(r1.lb_kind, ForwardMethod::Dr);
    let tcp = &r1.checkers[0];
    assert_eq!(tcp.kind, CheckerKind::Tcp);
    assert_eq!(
        (tcp.connect_ip, tcp.connect_port),
        (Some(ip("10.0.1.1")), Some(8080))
    );
    assert_eq!(tcp.retry, 2, "from the virtual server");
    assert_eq!(
        tcp.delay_before_retry,
        Duration::from_secs(4),
        "from the virtual server"
    );
    assert_eq!(
        tcp.connect_timeout,
        Duration::from_secs(7),
        "from the virtual server"
    );
    assert_eq!(tcp.delay_loop, Duration::from_secs(10));
    assert_eq!(
        tcp.warmup,
        Duration::from_secs(10),
        "warmup defaults to the delay loop"
    );
    assert!(tcp.alpha);
    let CheckerKind::Http(h) = &r1.checkers[1].kind else {
        panic!()
    };
    assert_eq!(h.urls[0].status_codes, vec![(200, 200), (204, 204)]);
    let r2 = &vs.real_servers[1];
    assert_eq!(r2.weight, 1);
    assert!(!r2.inhibit_on_failure);
    let misc = &r2.checkers[0];
    let CheckerKind::Misc(m) = &misc.kind else {
        panic!()
    };
    assert_eq!(m.script.args, vec!["/bin/true", "10.0.1.2"]);
    assert!(m.dynamic);
    assert_eq!(m.timeout, Some(Duration::from_secs(3)));
    assert_eq!(misc.retry, 5, "from the real server");
}

#[test]
fn checker_defaults() {
    let c = clean(
        "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT
 real_server 10.0.1.1 80 {\n  TCP_CHECK {\n  }\n  HTTP_GET {\n   url {\n    path /\n   }\n  }\n }\n}\n",
    );
    let r = &c.virtual_servers[0].real_servers[0];
    let (tcp, http) = (&r.checkers[0], &r.checkers[1]);
    assert_eq!(
        (tcp.retry, tcp.delay_before_retry),
        (1, Duration::from_secs(1))
    );
    assert_eq!(
        (http.retry, http.delay_before_retry),
        (1, Duration::from_secs(3))
    );
    assert_eq!(tcp.connect_timeout, Duration::from_secs(5));
    assert_eq!(tcp.delay_loop, Duration::from_secs(60));
    let CheckerKind::Http(h) = &http.kind else {
        panic!()
    };
    assert_eq!(h.urls[0].status_codes, vec![(200, 299)]);
    assert_eq!(h.http_protocol, HttpProtocol::Http10);
}

#[test]
fn lb_kinds_and_fnat() {
    let c = clean(
        "virtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo mh\n mh-port\n lb_kind TUN type gue port 5555 csum
 real_server 10.0.1.1 80 {\n }\n real_server 10.0.1.2 80 {\n  lvs_method FNAT\n }\n real_server 10.0.1.3 80 {\n  lvs_method TUN type gre\n }\n}\n",
    );
    let vs = &c.virtual_servers[0];
    assert!(vs.sched_flags.flag2);
    let tun = ForwardMethod::Tun {
        tunnel: TunnelType::Gue(5555),
        checksum: TunnelChecksum::Csum,
    };
    assert_eq!(vs.lb_kind, tun);
    assert_eq!(vs.real_servers[0].lb_kind, tun);
    assert_eq!(vs.real_servers[1].lb_kind, ForwardMethod::FullNat);
    assert_eq!(
        vs.real_servers[2].lb_kind,
        ForwardMethod::Tun {
            tunnel: TunnelType::Gre,
            checksum: TunnelChecksum::NoCsum
        }
    );
}

#[test]
fn fwmark_and_group_services() {
    let c = clean(
        "virtual_server_group G {\n 10.0.0.1 80\n 10.0.0.10-20 80\n 10.0.1.0/30 80\n fwmark 7 inet\n}
virtual_server group G {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.0.2.1 8080 {\n }\n}
virtual_server fwmark 3 {\n lb_algo rr\n lb_kind NAT\n real_server 10.0.2.2 80 {\n }\n}\n",
    );
    let g = &c.virtual_server_groups[0];
    assert_eq!(
        g.entries[1],
        VirtualServerGroupEntry::Range {
            first: ip("10.0.0.10"),
            last: ip("10.0.0.20"),
            port: 80
        }
    );
    assert_eq!(
        g.entries[2],
        VirtualServerGroupEntry::Range {
            first: ip("10.0.1.0"),
            last: ip("10.0.1.3"),
            port: 80
        }
    );
    assert_eq!(
        g.entries[3],
        VirtualServerGroupEntry::Fwmark {
            mark: 7,
            family: Some(Family::Inet)
        }
    );
    assert_eq!(
        c.virtual_servers[0].key,
        VirtualServerKey::Group("G".into())
    );
    assert_eq!(c.virtual_servers[1].key, VirtualServerKey::Fwmark(3));
    assert_eq!(c.virtual_servers[1].protocol, None);
    assert_eq!(
        c.virtual_servers[1].real_servers[0].port, 80,
        "NAT keeps the real server port"
    );
}

#[test]
fn udp_check_payload() {
    let c = clean(
        "virtual_server 10.0.0.1 53 {\n protocol UDP\n lb_algo rr\n lb_kind NAT
 real_server 10.0.1.1 53 {\n  UDP_CHECK {\n   payload 12 34 0a\n   require_reply 12 3x\n   min_reply_length 2\n  }\n }\n}\n",
    );
    let CheckerKind::Udp(u) = &c.virtual_servers[0].real_servers[0].checkers[0].kind else {
        panic!()
    };
    assert_eq!(u.payload, vec![0x12, 0x34, 0x0a]);
    assert!(u.require_reply);
    assert_eq!(u.reply, Some((vec![0x12, 0x30], vec![0x00, 0x0f])));
    assert_eq!((u.min_reply_length, u.max_reply_length), (2, 255));
}

// ---- grammar ----

#[test]
fn comments_quotes_and_braces() {
    let c = clean(
        "global_defs { router_id \"lb # one\" ! comment\n notification_email_from a\\#b }\n\
         vrrp_instance VI_1 { interface eth0\n virtual_router_id 9 # nine\n virtual_ipaddress { 10.0.0.9/32 }\n}\n",
    );
    assert_eq!(c.global.router_id.as_deref(), Some("lb # one"));
    assert_eq!(c.global.notification_email_from.as_deref(), Some("a#b"));
    assert_eq!(c.instance("VI_1").unwrap().virtual_router_id, 9);
}

#[test]
fn definitions_and_sequences() {
    let c = clean(
        "$IF=eth0
$BASE=10.0.0
$INST=vrrp_instance VI_$n { \\
  interface $IF \\
  virtual_router_id $n \\
  virtual_ipaddress { ${BASE}.$n } \\
}
~SEQ(n,1,3) $INST
",
    );
    assert_eq!(c.vrrp_instances.len(), 3);
    assert_eq!(
        c.instance("VI_3").unwrap().virtual_ipaddress[0].addr,
        ip("10.0.0.3")
    );
    assert_eq!(c.instance("VI_2").unwrap().virtual_router_id, 2);
}

#[test]
fn conditional_lines_follow_config_id() {
    let text = "@lvs1 global_defs {\n@lvs1  router_id one\n@lvs1 }\n@lvs2 global_defs {\n@lvs2  router_id two\n@lvs2 }\n";
    let one = load_str(
        "t.conf",
        text,
        &LoadOptions {
            config_id: Some("lvs1".into()),
            ..LoadOptions::default()
        },
        &env(),
    );
    assert_eq!(one.config.global.router_id.as_deref(), Some("one"));
    let two = load_str(
        "t.conf",
        text,
        &LoadOptions {
            config_id: Some("lvs2".into()),
            ..LoadOptions::default()
        },
        &env(),
    );
    assert_eq!(two.config.global.router_id.as_deref(), Some("two"));
    // Without -i the config-id is the first label of the host name.
    let mut e = env();
    e.hostname = "lvs2.example.com".into();
    let by_host = load_str("t.conf", text, &LoadOptions::default(), &e);
    assert_eq!(by_host.config.global.router_id.as_deref(), Some("two"));
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvs-ka-conf-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn includes_resolve_from_the_including_file() {
    let d = tempdir("inc");
    std::fs::create_dir_all(d.join("conf.d/more")).unwrap();
    std::fs::write(d.join("main.conf"), "include conf.d/*.conf\n").unwrap();
    std::fs::write(
        d.join("conf.d/a.conf"),
        "global_defs {\n router_id inc\n}\ninclude more/vi.inc\n",
    )
    .unwrap();
    std::fs::write(
        d.join("conf.d/more/vi.inc"),
        MIN_VI.replace("interface eth0", "interface eth0\n bogus_kw"),
    )
    .unwrap();
    let opts = LoadOptions {
        base_dir: Some(d.clone()),
        ..LoadOptions::default()
    };
    let l = load_file("main.conf", &opts, &env());
    assert_eq!(l.config.global.router_id.as_deref(), Some("inc"));
    assert_eq!(l.config.vrrp_instances.len(), 1);
    assert_eq!(
        messages(&l),
        vec!["(more/vi.inc: Line 3) Unknown keyword 'bogus_kw'"]
    );
    assert_eq!(l.exit_status, 5);
    // Loading by absolute path gives the same configuration.
    let abs = load_file(
        d.join("main.conf").to_str().unwrap(),
        &LoadOptions::default(),
        &env(),
    );
    assert_eq!(abs.config, l.config);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn missing_includes() {
    let d = tempdir("missing");
    std::fs::write(
        d.join("main.conf"),
        format!("include nothing.conf\n{MIN_VI}"),
    )
    .unwrap();
    std::fs::write(
        d.join("readable.conf"),
        format!("includer nothing.conf\n{MIN_VI}"),
    )
    .unwrap();
    std::fs::write(
        d.join("strict.conf"),
        format!("includem nothing.conf\n{MIN_VI}"),
    )
    .unwrap();
    let opts = LoadOptions {
        base_dir: Some(d.clone()),
        ..LoadOptions::default()
    };
    let l = load_file("main.conf", &opts, &env());
    assert_eq!(l.exit_status, 0, "a plain include may be missing");
    assert_eq!(
        messages(&l),
        vec!["(main.conf: Line 1) Config files missing 'nothing.conf'."]
    );
    let r = load_file("readable.conf", &opts, &env());
    assert_eq!(
        r.exit_status, 0,
        "includer only requires that what matches is readable"
    );
    let s = load_file("strict.conf", &opts, &env());
    assert_eq!(
        s.exit_status, 6,
        "includem makes a missing file an error that stops keepalived"
    );
    assert!(
        s.config.vrrp_instances.is_empty(),
        "keepalived stops before the VRRP checks"
    );
    let e = load_file(
        "main.conf",
        &LoadOptions {
            all_config: true,
            ..opts.clone()
        },
        &env(),
    );
    assert_eq!(e.exit_status, 6, "-e makes every include strict");
    // keepalived 2.2.7 exits 0 when the -f file itself does not exist.
    let none = load_file("absent.conf", &opts, &env());
    assert_eq!(none.exit_status, 0);
    assert_eq!(messages(&none), vec!["Config files missing 'absent.conf'."]);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn error_locations_and_stops() {
    let l = load(
        "global_defs {\n router_id a\n}\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 300\n}\n",
    );
    assert_eq!(
        messages(&l),
        vec![
            "(t.conf: Line 4) Extra '}' found",
            "(t.conf: Line 4) Unknown keyword '}'",
            "(t.conf: Line 7) number '300' outside range [1, 255]",
            "(t.conf: Line 7) (VI_1): VRID '300' not valid - must be between 1 & 255",
            "(VI_1) the virtual router id must be set",
        ]
    );
    assert_eq!(l.exit_status, 5);
    let stop = load("vrrp_instance VI_1 {\n interface eth0\n priority\n}\n");
    assert_eq!(stop.exit_status, 2);
    assert_eq!(
        messages(&stop),
        vec![
            "(t.conf: Line 3) *** Configuration line starting `priority` is missing a parameter after keyword `priority` at word position 2"
        ]
    );
}

#[test]
fn interface_problems() {
    let l = load(
        "vrrp_instance VI_1 {\n interface eth7\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n",
    );
    assert_eq!(l.exit_status, 5);
    assert_eq!(
        messages(&l),
        vec![
            "(t.conf: Line 2) WARNING - interface eth7 for vrrp_instance VI_1 doesn't exist",
            "Non-existent interface specified in configuration",
        ]
    );
    let dynamic = load(
        "global_defs {\n dynamic_interfaces\n}\nvrrp_instance VI_1 {\n interface eth7\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n",
    );
    assert_eq!(dynamic.exit_status, 0, "{:?}", messages(&dynamic));
    assert_eq!(
        dynamic
            .config
            .instance("VI_1")
            .unwrap()
            .interface
            .as_deref(),
        Some("eth7")
    );
}

#[test]
fn duplicate_vrid_stops_the_check() {
    let l = load(&format!(
        "{MIN_VI}{}",
        MIN_VI
            .replace("VI_1", "VI_2")
            .replace("10.0.0.1", "10.0.0.2")
    ));
    assert_eq!(l.exit_status, 5);
    assert_eq!(
        messages(&l),
        vec!["VI_1 and VI_2 both use VRID 51 with IPv4 on interface eth0"]
    );
}

#[test]
fn script_security() {
    let no_sec = load(&MIN_VI.replace("interface eth0", "interface eth0\n notify /bin/true"));
    assert_eq!(no_sec.exit_status, 6);
    assert_eq!(
        messages(&no_sec),
        vec!["SECURITY VIOLATION - scripts are being executed but script_security not enabled."]
    );
    let sec = load(&format!(
        "global_defs {{\n enable_script_security\n script_user root\n}}\n{}",
        MIN_VI.replace("interface eth0", "interface eth0\n notify /bin/true")
    ));
    assert_eq!(sec.exit_status, 0);
    assert!(sec.config.instance("VI_1").unwrap().notify.is_some());
    let missing = load(&MIN_VI.replace(
        "interface eth0",
        "interface eth0\n notify /no/such/script.sh",
    ));
    assert_eq!(
        missing.exit_status, 0,
        "a missing notify script is dropped silently"
    );
    assert!(missing.config.instance("VI_1").unwrap().notify.is_none());
}

#[test]
fn non_utf8_bytes_are_not_fatal() {
    let text = b"global_defs {\n router_id caf\xe9\n}\n";
    let l = load_bytes("t.conf", text, &LoadOptions::default(), &env());
    assert_eq!(l.exit_status, 0);
    assert!(l.config.global.router_id.unwrap().starts_with("caf"));
}

#[test]
fn system_env_sees_loopback() {
    // On the real machine `lo` exists and is refused for VRRP.
    let l = load_str(
        "t.conf",
        &MIN_VI.replace("eth0", "lo"),
        &LoadOptions::default(),
        &SystemEnv,
    );
    assert!(
        messages(&l)
            .iter()
            .any(|m| m.contains("(VI_1) cannot use a loopback interface (lo) for vrrp - ignoring"))
    );
}

#[test]
fn long_multibyte_values_are_cut_safely() {
    // Found by the fuzz target: persistence_engine is cut to 15 bytes inside a character.
    let l = load(
        "virtual_server 10.0.0.1 80 {\n protocol TCP\n persistence_engine ééééééééé\n real_server 10.0.1.1 80 {\n }\n}\n",
    );
    assert!(l.config.virtual_servers[0].persistence_engine.is_some());
    assert!(
        messages(&l)
            .iter()
            .any(|m| m.contains("persistence_name too long, truncating"))
    );
}

#[test]
fn self_referencing_definitions_terminate() {
    // keepalived would loop forever on these; lvs-keepalived stops with an error.
    let l = load("$A=$A\n$M=x \\\n$M\nglobal_defs {\n router_id $A\n}\n$M\n");
    assert_ne!(l.exit_status, 0);
}
