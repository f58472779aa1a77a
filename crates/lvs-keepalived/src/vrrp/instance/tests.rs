//! State-machine tables driven by advert bytes (the captured keepalived adverts of
//! reference §2.3 and adverts built by the codec for the other cases).

use super::*;
use crate::vrrp::packet::{MCAST_V4, MCAST_V6, emit_ipv4};
use std::net::Ipv4Addr;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn pass(s: &[u8]) -> [u8; 8] {
    let mut p = [0u8; 8];
    p[..s.len()].copy_from_slice(s);
    p
}

/// Captured: keepalived 2.2.7, v2 PASS "secret12", VRID 51, prio 150, 1 s, VIP 10.200.0.100,
/// from 10.200.0.1.
const CAPTURED_V2_PRIO150: [u8; 40] = [
    0x45, 0xc0, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0xff, 0x70, 0xcf, 0xc9, 0x0a, 0xc8, 0x00, 0x01,
    0xe0, 0x00, 0x00, 0x12, 0x21, 0x33, 0x96, 0x01, 0x01, 0x01, 0xcf, 0x1f, 0x0a, 0xc8, 0x00, 0x64,
    0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x31, 0x32,
];
/// Captured: the same keepalived on SIGTERM (priority 0); VRRP part only.
const CAPTURED_V2_PRIO0: [u8; 20] = [
    0x21, 0x33, 0x00, 0x01, 0x01, 0x01, 0x65, 0x20, 0x0a, 0xc8, 0x00, 0x64, 0x73, 0x65, 0x63, 0x72,
    0x65, 0x74, 0x31, 0x32,
];
/// Captured: v3 IPv6, VRID 52, prio 150, 50 cs, VIP fd00:200::100.
const CAPTURED_V3_V6: [u8; 24] = [
    0x31, 0x34, 0x96, 0x01, 0x00, 0x32, 0x45, 0xdf, 0xfd, 0x00, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0x01, 0x00,
];

/// The peer of the captures: VI_1, VRID 51, PASS secret12, VIP 10.200.0.100, on 10.200.0.2.
fn v2_cfg(prio: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new(
        "VI_1",
        "veth0",
        51,
        vec![Vip {
            addr: ip("10.200.0.100"),
            prefix_len: 24,
            dev: None,
            label: None,
        }],
    );
    c.priority = prio;
    c.auth_pass = Some(pass(b"secret12"));
    c.notify.generic = Some(vec!["/tmp/notify.sh".into()]);
    c
}

fn v3_cfg(prio: u8, int_cs: u16) -> InstanceConfig {
    let mut c = v2_cfg(prio);
    c.version = Version::V3;
    c.auth_pass = None;
    c.advert_int_cs = int_cs;
    c
}

fn new(cfg: InstanceConfig, local: &str) -> Instance {
    cfg.validate().unwrap();
    let mut i = Instance::new(cfg);
    i.set_local_addr(ip(local));
    i
}

/// An IPv4 advert from `src` as a peer with `like`'s configuration would send it.
fn advert_from(like: &Instance, prio: u8, src: &str) -> Vec<u8> {
    let IpAddr::V4(s) = ip(src) else { panic!() };
    let msg = like
        .advert(prio)
        .emit(IpAddr::V4(s), IpAddr::V4(MCAST_V4))
        .unwrap();
    emit_ipv4(7, s, MCAST_V4, 255, &msg)
}

fn feed(i: &mut Instance, now: Duration, bytes: &[u8]) -> Vec<Action> {
    let rx = Received::from_ipv4(bytes).unwrap();
    i.handle(now, Input::Advert(rx))
}

/// The actions without log lines.
fn acts(v: Vec<Action>) -> Vec<Action> {
    v.into_iter()
        .filter(|a| !matches!(a, Action::Log(_)))
        .collect()
}

fn logs(v: &[Action]) -> Vec<String> {
    v.iter()
        .filter_map(|a| match a {
            Action::Log(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn script(args: &[&str]) -> Action {
    Action::RunScript {
        argv: args.iter().map(|s| s.to_string()).collect(),
    }
}

fn send(p: u8) -> Action {
    Action::SendAdvert { priority: p }
}

fn to(from: State, to: State) -> Action {
    Action::StateChange { from, to }
}

/// Run timers up to `until`; returns every action with the time it happened.
fn run_until(i: &mut Instance, until: Duration) -> Vec<(Duration, Action)> {
    let mut out = Vec::new();
    while let Some(t) = i.next_timeout() {
        if t > until {
            break;
        }
        for a in acts(i.handle(t, Input::Timer)) {
            out.push((t, a));
        }
    }
    out
}

fn becomes_master_actions(prio: u8) -> Vec<Action> {
    vec![
        to(State::Backup, State::Master),
        send(prio),
        Action::AddVips,
        Action::SendGratuitous { repeat: 5 },
        script(&[
            "/tmp/notify.sh",
            "INSTANCE",
            "VI_1",
            "MASTER",
            &prio.to_string(),
        ]),
    ]
}

#[test]
fn timers_match_keepalived_formulas() {
    let i = new(v2_cfg(100), "10.200.0.2");
    // v2: skew (256-100)/256 s = 609.375 ms, down = 3 s + skew.
    assert_eq!(i.skew(), Duration::from_micros(609_375));
    assert_eq!(i.down_timer(), Duration::from_micros(3_609_375));
    let i = new(v2_cfg(150), "10.200.0.2");
    assert_eq!(i.down_timer(), Duration::from_micros(3_414_062));
    // v3 with 0.1 s: skew (256-100)*10/256 cs.
    let i = new(v3_cfg(100, 10), "10.200.0.2");
    assert_eq!(i.skew(), Duration::from_micros(60_937));
    assert_eq!(i.down_timer(), Duration::from_micros(360_937));
}

#[test]
fn start_backup_then_takeover_after_master_down_interval() {
    let mut i = new(v2_cfg(100), "10.200.0.2");
    let a = i.handle(ms(0), Input::Start);
    assert_eq!(logs(&a), vec!["(VI_1) Entering BACKUP STATE (init)"]);
    assert_eq!(
        acts(a),
        vec![
            to(State::Init, State::Backup),
            script(&["/tmp/notify.sh", "INSTANCE", "VI_1", "BACKUP", "100"])
        ]
    );
    assert_eq!(i.next_timeout(), Some(Duration::from_micros(3_609_375)));
    let a = run_until(&mut i, ms(3609));
    assert!(a.is_empty());
    let a = run_until(&mut i, ms(3610));
    let acts: Vec<_> = a.into_iter().map(|(_, a)| a).collect();
    assert_eq!(acts, becomes_master_actions(100));
    assert_eq!(i.state(), State::Master);
    // Adverts every second, the second GARP burst 5 s after takeover.
    let a = run_until(&mut i, ms(3610 + 5000));
    let sends = a.iter().filter(|(_, a)| *a == send(100)).count();
    assert_eq!(sends, 5);
    let garps: Vec<_> = a
        .iter()
        .filter(|(_, a)| matches!(a, Action::SendGratuitous { .. }))
        .collect();
    assert_eq!(
        garps,
        vec![&(
            Duration::from_micros(3_609_375) + ms(5000),
            Action::SendGratuitous { repeat: 5 }
        )]
    );
}

#[test]
fn state_master_below_255_waits_like_a_backup() {
    // Reference §2.5: state MASTER, prio 150, no peer: master after 3 + 106/256 s.
    let mut c = v2_cfg(150);
    c.initial_state = InitialState::Master;
    let mut i = new(c, "10.200.0.1");
    i.handle(ms(0), Input::Start);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.next_timeout(), Some(Duration::from_micros(3_414_062)));
}

#[test]
fn owner_with_state_master_goes_master_at_once() {
    let mut c = v2_cfg(255);
    c.initial_state = InitialState::Master;
    let mut i = new(c, "10.200.0.1");
    let a = acts(i.handle(ms(0), Input::Start));
    // No BACKUP notify on the way.
    assert_eq!(a, vec![to(State::Init, State::Backup)]);
    let a: Vec<_> = run_until(&mut i, ms(1)).into_iter().map(|x| x.1).collect();
    assert_eq!(a, becomes_master_actions(255));
}

#[test]
fn backup_accepts_higher_priority_and_restarts_timer() {
    let mut i = new(v2_cfg(100), "10.200.0.2");
    i.handle(ms(0), Input::Start);
    // The captured advert of real keepalived (prio 150) every second keeps us backup.
    for s in 1..10u64 {
        let a = acts(feed(&mut i, ms(s * 1000), &CAPTURED_V2_PRIO150));
        assert!(a.is_empty(), "{a:?}");
        assert_eq!(
            i.next_timeout(),
            Some(ms(s * 1000) + Duration::from_micros(3_609_375))
        );
    }
    assert_eq!(i.master_addr(), Some(ip("10.200.0.1")));
    assert!(run_until(&mut i, ms(12_000)).is_empty());
    assert_eq!(i.state(), State::Backup);
    // Silence: master after the full interval.
    let a = run_until(&mut i, ms(12_610));
    assert_eq!(a[0].0, ms(9000) + Duration::from_micros(3_609_375));
    assert_eq!(i.state(), State::Master);
}

#[test]
fn backup_takes_over_after_skew_on_priority_zero() {
    let mut i = new(v2_cfg(100), "10.200.0.2");
    i.handle(ms(0), Input::Start);
    feed(&mut i, ms(1000), &CAPTURED_V2_PRIO150);
    let mut ip0 = CAPTURED_V2_PRIO150[..20].to_vec();
    ip0.extend_from_slice(&CAPTURED_V2_PRIO0);
    let a = feed(&mut i, ms(1500), &ip0);
    assert_eq!(
        logs(&a),
        vec!["(VI_1) Backup received priority 0 advertisement"]
    );
    assert_eq!(
        i.next_timeout(),
        Some(ms(1500) + Duration::from_micros(609_375))
    );
    let a = run_until(&mut i, ms(2110));
    assert_eq!(a.len(), 5);
    assert_eq!(i.state(), State::Master);
}

#[test]
fn backup_discards_lower_priority_and_preempts() {
    let mut i = new(v2_cfg(150), "10.200.0.1");
    i.handle(ms(0), Input::Start);
    let lower = advert_from(&i, 100, "10.200.0.2");
    let deadline = i.next_timeout().unwrap();
    let a = feed(&mut i, ms(1000), &lower);
    assert_eq!(
        logs(&a),
        vec!["(VI_1) received lower priority (100) advert from 10.200.0.2 - discarding"]
    );
    // The timer is not restarted.
    assert_eq!(i.next_timeout(), Some(deadline));
    feed(&mut i, ms(2000), &lower);
    feed(&mut i, ms(3000), &lower);
    run_until(&mut i, deadline);
    assert_eq!(i.state(), State::Master);
}

#[test]
fn nopreempt_accepts_lower_priority_master() {
    let mut c = v2_cfg(150);
    c.nopreempt = true;
    let mut i = new(c, "10.200.0.1");
    i.handle(ms(0), Input::Start);
    let lower = advert_from(&i, 100, "10.200.0.2");
    for s in 1..20u64 {
        assert!(acts(feed(&mut i, ms(s * 1000), &lower)).is_empty());
        run_until(&mut i, ms(s * 1000 + 999));
    }
    assert_eq!(i.state(), State::Backup);
}

#[test]
fn preempt_delay_holds_off_preemption() {
    let mut c = v2_cfg(150);
    c.preempt_delay = Duration::from_secs(10);
    let mut i = new(c, "10.200.0.1");
    i.handle(ms(0), Input::Start);
    let lower = advert_from(&i, 100, "10.200.0.2");
    // Accepted (timer restarted) until 10 s after the first lower advert at t=1 s.
    let mut t = 1000;
    while t < 11_000 {
        feed(&mut i, ms(t), &lower);
        assert_eq!(i.next_timeout(), Some(ms(t) + i.down_timer()), "at {t} ms");
        run_until(&mut i, ms(t + 999));
        t += 1000;
    }
    assert_eq!(i.state(), State::Backup);
    // After the delay the adverts are discarded and the timer runs out.
    let a = feed(&mut i, ms(11_000), &lower);
    assert!(logs(&a)[0].contains("discarding"));
    feed(&mut i, ms(12_000), &lower);
    feed(&mut i, ms(13_000), &lower);
    let end = ms(10_000) + i.down_timer();
    run_until(&mut i, end);
    assert_eq!(i.state(), State::Master);
}

fn master(cfg: InstanceConfig, local: &str) -> Instance {
    let mut i = new(cfg, local);
    i.handle(ms(0), Input::Start);
    run_until(&mut i, ms(4000));
    assert_eq!(i.state(), State::Master);
    i
}

#[test]
fn master_yields_to_higher_priority() {
    let mut i = master(v2_cfg(100), "10.200.0.2");
    let a = feed(&mut i, ms(5000), &CAPTURED_V2_PRIO150);
    assert_eq!(
        logs(&a)[0],
        "(VI_1) Master received advert from 10.200.0.1 with higher priority 150, ours 100"
    );
    assert_eq!(
        acts(a),
        vec![
            Action::RemoveVips,
            to(State::Master, State::Backup),
            script(&["/tmp/notify.sh", "INSTANCE", "VI_1", "BACKUP", "100"])
        ]
    );
    assert_eq!(i.next_timeout(), Some(ms(5000) + i.down_timer()));
}

#[test]
fn master_equal_priority_tie_break_by_address() {
    // Higher sender address wins.
    let mut i = master(v2_cfg(100), "10.200.0.2");
    let adv = advert_from(&i, 100, "10.200.0.3");
    let a = feed(&mut i, ms(5000), &adv);
    assert!(logs(&a)[0].contains("same priority 100 but higher IP address"));
    assert_eq!(i.state(), State::Backup);
    // Lower sender address loses: we stay master and force a new election.
    let mut i = master(v2_cfg(100), "10.200.0.2");
    let adv = advert_from(&i, 100, "10.200.0.1");
    let a = feed(&mut i, ms(5000), &adv);
    assert_eq!(acts(a), vec![send(100)]);
    assert_eq!(i.state(), State::Master);
    assert_eq!(i.next_timeout(), Some(ms(6000)));
}

#[test]
fn master_answers_lower_priority_and_priority_zero() {
    let mut i = master(v2_cfg(150), "10.200.0.1");
    let lower = advert_from(&i, 100, "10.200.0.2");
    let a = feed(&mut i, ms(5000), &lower);
    assert!(logs(&a)[0].ends_with("with lower priority 100, ours 150, forcing new election"));
    assert_eq!(acts(a), vec![send(150)]);
    let zero = advert_from(&i, 0, "10.200.0.2");
    let a = feed(&mut i, ms(5200), &zero);
    assert_eq!(acts(a), vec![send(150)]);
    assert_eq!(i.state(), State::Master);

    let mut c = v2_cfg(150);
    c.lower_prio_no_advert = true;
    c.garp_lower_prio_repeat = 2;
    c.notify.master_rx_lower_pri = Some(vec!["/bin/lower".into()]);
    let mut i = master(c, "10.200.0.1");
    let a = feed(&mut i, ms(5000), &lower);
    assert_eq!(
        acts(a),
        vec![
            Action::SendGratuitous { repeat: 2 },
            script(&["/bin/lower"])
        ]
    );
}

#[test]
fn both_owners_is_a_configuration_error() {
    let mut c = v2_cfg(255);
    c.initial_state = InitialState::Master;
    let mut i = master(c, "10.200.0.1");
    let other = advert_from(&i, 255, "10.200.0.2");
    let a = feed(&mut i, ms(5000), &other);
    assert!(logs(&a)[0].contains("CONFIGURATION ERROR"));
    assert_eq!(i.effective_priority(), 254);
    // 255 > 254 now: yield.
    assert_eq!(i.state(), State::Backup);
}

#[test]
fn higher_prio_send_advert_sends_before_yielding() {
    let mut c = v2_cfg(100);
    c.higher_prio_send_advert = true;
    let mut i = master(c, "10.200.0.2");
    let a = acts(feed(&mut i, ms(5000), &CAPTURED_V2_PRIO150));
    assert_eq!(a[0], send(100));
    assert_eq!(a[1], Action::RemoveVips);
}

#[test]
fn shutdown_master_resigns_with_priority_zero() {
    let mut c = v2_cfg(100);
    c.notify.stop = Some(vec!["/bin/stop".into(), "x".into()]);
    let mut i = master(c, "10.200.0.2");
    let a = acts(i.handle(ms(9000), Input::Shutdown));
    assert_eq!(
        a,
        vec![
            send(0),
            Action::RemoveVips,
            to(State::Master, State::Stop),
            script(&["/bin/stop", "x"]),
            script(&["/tmp/notify.sh", "INSTANCE", "VI_1", "STOP", "100"]),
        ]
    );
    assert_eq!(i.next_timeout(), None);
    // The advert bytes match keepalived's captured priority-0 advert.
    let bytes = i
        .advert(0)
        .emit(ip("10.200.0.1"), IpAddr::V4(MCAST_V4))
        .unwrap();
    assert_eq!(bytes, CAPTURED_V2_PRIO0);
}

#[test]
fn shutdown_backup_only_notifies() {
    let mut i = new(v2_cfg(100), "10.200.0.2");
    i.handle(ms(0), Input::Start);
    let a = acts(i.handle(ms(10), Input::Shutdown));
    assert_eq!(
        a,
        vec![
            to(State::Backup, State::Stop),
            script(&["/tmp/notify.sh", "INSTANCE", "VI_1", "STOP", "100"])
        ]
    );
}

#[test]
fn link_down_is_fault_and_link_up_is_backup() {
    let mut i = master(v2_cfg(100), "10.200.0.2");
    let a = acts(i.handle(ms(5000), Input::Link { up: false }));
    assert_eq!(
        a,
        vec![
            send(0),
            Action::RemoveVips,
            to(State::Master, State::Fault),
            script(&["/tmp/notify.sh", "INSTANCE", "VI_1", "FAULT", "100"])
        ]
    );
    assert_eq!(i.next_timeout(), None);
    // Adverts are ignored in FAULT.
    assert!(feed(&mut i, ms(5500), &CAPTURED_V2_PRIO150).is_empty());
    let a = acts(i.handle(ms(6000), Input::Link { up: true }));
    assert_eq!(
        a,
        vec![
            to(State::Fault, State::Backup),
            script(&["/tmp/notify.sh", "INSTANCE", "VI_1", "BACKUP", "100"])
        ]
    );
    assert_eq!(i.next_timeout(), Some(ms(6000) + i.down_timer()));
    // dont_track_primary: link down changes nothing.
    let mut c = v2_cfg(100);
    c.dont_track_primary = true;
    let mut i = master(c, "10.200.0.2");
    assert!(acts(i.handle(ms(5000), Input::Link { up: false })).is_empty());
}

#[test]
fn start_in_fault_when_tracked_down() {
    let mut c = v2_cfg(100);
    c.tracks.push(Track {
        kind: TrackKind::Interface,
        name: "eth1".into(),
        weight: 0,
        reverse: false,
    });
    let mut i = new(c, "10.200.0.2");
    i.handle(
        ms(0),
        Input::Track {
            kind: TrackKind::Interface,
            name: "eth1",
            up: false,
        },
    );
    let a = acts(i.handle(ms(0), Input::Start));
    assert_eq!(a[0], to(State::Init, State::Fault));
    let a = acts(i.handle(
        ms(100),
        Input::Track {
            kind: TrackKind::Interface,
            name: "eth1",
            up: true,
        },
    ));
    assert_eq!(a[0], to(State::Fault, State::Backup));
}

#[test]
fn track_script_weights_change_priority() {
    let mut c = v2_cfg(150);
    c.tracks = vec![
        Track {
            kind: TrackKind::Script,
            name: "chk".into(),
            weight: -60,
            reverse: false,
        },
        Track {
            kind: TrackKind::Script,
            name: "bonus".into(),
            weight: 200,
            reverse: false,
        },
        Track {
            kind: TrackKind::Script,
            name: "rev".into(),
            weight: 10,
            reverse: true,
        },
    ];
    let mut i = master(c, "10.200.0.1");
    let sc = |name, up| Input::Track {
        kind: TrackKind::Script,
        name,
        up,
    };
    let a = i.handle(ms(5000), sc("chk", false));
    assert_eq!(
        logs(&a),
        vec!["(VI_1) Changing effective priority from 150 to 90"]
    );
    // The next adverts carry the new priority; the master does not resign by itself.
    let a = run_until(&mut i, ms(6500));
    assert!(a.iter().all(|(_, a)| *a == send(90)));
    i.handle(ms(6600), sc("chk", true));
    assert_eq!(i.effective_priority(), 150);
    i.handle(ms(6700), sc("bonus", true));
    assert_eq!(i.effective_priority(), 254, "clamped to 254");
    i.handle(ms(6800), sc("bonus", false));
    i.handle(ms(6900), sc("rev", true));
    assert_eq!(i.effective_priority(), 140, "reverse: up subtracts");
    // Weight 0 failing: FAULT.
    let mut c = v2_cfg(150);
    c.tracks = vec![Track {
        kind: TrackKind::Script,
        name: "must".into(),
        weight: 0,
        reverse: false,
    }];
    let mut i = master(c, "10.200.0.1");
    let a = acts(i.handle(ms(5000), sc("must", false)));
    assert_eq!(a[0], send(0));
    assert_eq!(i.state(), State::Fault);
}

#[test]
fn backup_priority_change_moves_the_down_timer() {
    let mut c = v2_cfg(100);
    c.tracks = vec![Track {
        kind: TrackKind::Script,
        name: "chk".into(),
        weight: 50,
        reverse: false,
    }];
    let mut i = new(c, "10.200.0.2");
    i.handle(ms(0), Input::Start);
    let before = i.next_timeout().unwrap();
    i.handle(
        ms(100),
        Input::Track {
            kind: TrackKind::Script,
            name: "chk",
            up: true,
        },
    );
    // Skew shrinks by 50/256 s.
    assert_eq!(
        i.next_timeout().unwrap(),
        before - Duration::from_micros(195_313)
    );
}

#[test]
fn invalid_adverts_are_ignored() {
    let mut i = new(v2_cfg(100), "10.200.0.2");
    i.handle(ms(0), Input::Start);
    let deadline = i.next_timeout().unwrap();
    let other_cfg = |f: &dyn Fn(&mut InstanceConfig)| {
        let mut c = v2_cfg(150);
        f(&mut c);
        Instance::new(c)
    };
    let mut ttl254 = CAPTURED_V2_PRIO150.to_vec();
    ttl254[8] = 254;
    let mut bad_csum = CAPTURED_V2_PRIO150.to_vec();
    bad_csum[27] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>, Reject)> = vec![
        ("ttl", ttl254, Reject::Ttl(254)),
        (
            "checksum",
            bad_csum,
            Reject::Packet(packet::PacketError::Checksum(2)),
        ),
        (
            "password",
            advert_from(
                &other_cfg(&|c| c.auth_pass = Some(pass(b"wrong"))),
                150,
                "10.200.0.1",
            ),
            Reject::Password,
        ),
        (
            "no auth",
            advert_from(&other_cfg(&|c| c.auth_pass = None), 150, "10.200.0.1"),
            Reject::AuthTypeMismatch(0, 1),
        ),
        (
            "interval",
            advert_from(&other_cfg(&|c| c.advert_int_cs = 200), 150, "10.200.0.1"),
            Reject::Interval(1, 2),
        ),
        (
            "vrid",
            advert_from(&other_cfg(&|c| c.vrid = 52), 150, "10.200.0.1"),
            Reject::Vrid(52),
        ),
        (
            "count",
            advert_from(
                &other_cfg(&|c| c.vips.push(Vip::host(ip("10.200.0.101")))),
                150,
                "10.200.0.1",
            ),
            Reject::AddressCount(2, 1),
        ),
        (
            "missing vip",
            advert_from(
                &other_cfg(&|c| c.vips[0].addr = ip("10.200.0.99")),
                150,
                "10.200.0.1",
            ),
            Reject::MissingVip(51, ip("10.200.0.100")),
        ),
        (
            "version",
            advert_from(
                &other_cfg(&|c| {
                    c.version = Version::V3;
                }),
                150,
                "10.200.0.1",
            ),
            Reject::Version(3, 2),
        ),
    ];
    for (what, bytes, expect) in cases {
        let rx = Received::from_ipv4(&bytes).unwrap();
        assert_eq!(i.check(&rx), Err(expect.clone()), "{what}");
        let a = i.handle(ms(1000), Input::Advert(rx));
        assert_eq!(logs(&a), vec![format!("(VI_1) {expect}")], "{what}");
        assert_eq!(i.next_timeout(), Some(deadline), "{what}");
    }
}

#[test]
fn unicast_checks() {
    let mut c = v2_cfg(100);
    c.auth_pass = None;
    c.unicast_src = Some(ip("10.200.0.2"));
    c.unicast_peers = vec![ip("10.200.0.1")];
    c.check_unicast_src = true;
    let mut i = new(c, "10.200.0.99");
    assert_eq!(i.local_addr(), Some(ip("10.200.0.2")), "unicast_src wins");
    i.handle(ms(0), Input::Start);
    let msg = i
        .advert(150)
        .emit(ip("10.200.0.1"), ip("10.200.0.2"))
        .unwrap();
    let good = emit_ipv4(
        1,
        Ipv4Addr::new(10, 200, 0, 1),
        Ipv4Addr::new(10, 200, 0, 2),
        64, // TTL is not checked in unicast mode
        &msg,
    );
    assert_eq!(
        i.check(&Received::from_ipv4(&good).unwrap())
            .unwrap()
            .priority,
        150
    );
    let msg = i
        .advert(150)
        .emit(ip("10.200.0.7"), ip("10.200.0.2"))
        .unwrap();
    let stranger = emit_ipv4(
        1,
        Ipv4Addr::new(10, 200, 0, 7),
        Ipv4Addr::new(10, 200, 0, 2),
        255,
        &msg,
    );
    assert_eq!(
        i.check(&Received::from_ipv4(&stranger).unwrap()),
        Err(Reject::NotAPeer(ip("10.200.0.7")))
    );
    let msg = i
        .advert(150)
        .emit(ip("10.200.0.1"), IpAddr::V4(MCAST_V4))
        .unwrap();
    let mcast = emit_ipv4(1, Ipv4Addr::new(10, 200, 0, 1), MCAST_V4, 255, &msg);
    assert_eq!(
        i.check(&Received::from_ipv4(&mcast).unwrap()),
        Err(Reject::Cast("un", "mult"))
    );
}

#[test]
fn v3_learns_master_interval_and_restores_its_own() {
    let mut i = new(v3_cfg(100, 100), "10.200.0.2");
    i.handle(ms(0), Input::Start);
    let peer = new(v3_cfg(150, 10), "10.200.0.1");
    let a = feed(&mut i, ms(1000), &advert_from(&peer, 150, "10.200.0.1"));
    assert!(acts(a).is_empty());
    assert_eq!(i.master_adver_int(), ms(100));
    // 3 × 0.1 s + (256-100) × 10 cs / 256.
    assert_eq!(
        i.next_timeout(),
        Some(ms(1000) + Duration::from_micros(360_937))
    );
    run_until(&mut i, ms(1400));
    assert_eq!(i.state(), State::Master);
    assert_eq!(i.master_adver_int(), ms(1000));
    // As master it advertises its own interval (100 cs).
    assert_eq!(i.advert(100).adver_int, 100);
}

#[test]
fn v3_ipv6_captured_advert_keeps_backup() {
    let mut c = InstanceConfig::new(
        "VI_6",
        "veth0",
        52,
        vec![Vip {
            addr: ip("fd00:200::100"),
            prefix_len: 64,
            dev: None,
            label: None,
        }],
    );
    assert_eq!(c.version, Version::V3);
    c.advert_int_cs = 50;
    let mut i = new(c, "fe80::1");
    i.handle(ms(0), Input::Start);
    let rx = Received {
        src: ip("fe80::d808:d7ff:fe7a:4616"),
        dst: IpAddr::V6(MCAST_V6),
        ttl: Some(255),
        payload: &CAPTURED_V3_V6,
    };
    assert!(acts(i.handle(ms(100), Input::Advert(rx))).is_empty());
    // 3 × 0.5 s + (256-100) × 50 / 256 cs.
    assert_eq!(
        i.next_timeout(),
        Some(ms(100) + ms(1500) + Duration::from_micros(304_687))
    );
    // Hop limit 64 is rejected.
    let rx = Received {
        ttl: Some(64),
        ..rx
    };
    assert_eq!(i.check(&rx), Err(Reject::Ttl(64)));
    // The same instance as master emits the captured bytes at priority 150.
    assert_eq!(
        i.advert(150)
            .emit(ip("fe80::d808:d7ff:fe7a:4616"), IpAddr::V6(MCAST_V6))
            .unwrap(),
        CAPTURED_V3_V6
    );
}

#[test]
fn config_validation() {
    let mut c = v2_cfg(100);
    assert_eq!(c.validate(), Ok(()));
    c.advert_int_cs = 50;
    assert!(matches!(c.validate(), Err(ConfigError::AdvertInt(_, 2))));
    c.version = Version::V3;
    assert_eq!(c.validate(), Ok(()));
    c.vips.push(Vip::host(ip("fd00::1")));
    assert!(matches!(c.validate(), Err(ConfigError::VipFamily(..))));
    let mut c = v2_cfg(100);
    c.vrid = 0;
    assert!(matches!(c.validate(), Err(ConfigError::Vrid(_))));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        Wait(u64),
        Advert { prio: u8, src: u8 },
        Link(bool),
        Script(bool),
        Junk(Vec<u8>),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u64..5000).prop_map(Step::Wait),
            (any::<u8>(), 1u8..5).prop_map(|(prio, src)| Step::Advert { prio, src }),
            any::<bool>().prop_map(Step::Link),
            any::<bool>().prop_map(Step::Script),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Step::Junk),
        ]
    }

    proptest! {
        /// Whatever happens, the VIPs are held exactly while MASTER, a timer is pending
        /// exactly in BACKUP and MASTER, and the last state change matches `state()`.
        #[test]
        fn vips_follow_the_state(steps in proptest::collection::vec(step(), 1..60),
                                 prio in 1u8..=255, v3 in any::<bool>()) {
            let mut c = if v3 { v3_cfg(prio, 10) } else { v2_cfg(prio) };
            c.tracks.push(Track { kind: TrackKind::Script, name: "s".into(), weight: -30, reverse: false });
            c.initial_state = InitialState::Master;
            let mut i = new(c, "10.200.0.3");
            let peer = i.clone();
            let mut now = ms(0);
            let mut held = false;
            let mut check = |i: &Instance, acts: Vec<Action>| {
                for a in acts {
                    match a {
                        Action::AddVips => { assert!(!held); held = true; }
                        Action::RemoveVips => { assert!(held); held = false; }
                        _ => {}
                    }
                }
                assert_eq!(held, i.state() == State::Master);
                assert_eq!(i.next_timeout().is_some(), matches!(i.state(), State::Backup | State::Master));
            };
            let a = i.handle(now, Input::Start);
            check(&i, a);
            for s in steps {
                let acts = match s {
                    Step::Wait(d) => {
                        now += ms(d);
                        let mut all = Vec::new();
                        while let Some(t) = i.next_timeout().filter(|t| *t <= now) {
                            all.extend(i.handle(t, Input::Timer));
                        }
                        all
                    }
                    Step::Advert { prio, src } => {
                        let bytes = advert_from(&peer, prio, &format!("10.200.0.{src}"));
                        feed(&mut i, now, &bytes)
                    }
                    Step::Link(up) => i.handle(now, Input::Link { up }),
                    Step::Script(up) => i.handle(now, Input::Track { kind: TrackKind::Script, name: "s", up }),
                    Step::Junk(b) => i.handle(now, Input::Advert(Received {
                        src: ip("10.200.0.1"), dst: IpAddr::V4(MCAST_V4), ttl: Some(255), payload: &b,
                    })),
                };
                check(&i, acts);
                prop_assert!((1..=255).contains(&i.effective_priority()));
            }
            let a = i.handle(now, Input::Shutdown);
            check(&i, a);
            prop_assert_eq!(i.state(), State::Stop);
            prop_assert!(!held);
        }
    }
}
