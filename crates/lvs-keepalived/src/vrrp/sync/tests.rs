//! The sync-group coordinator driven like the driver drives it: two members, fed link,
//! track, timer and advert inputs, checked against keepalived 2.2.7's `vrrp_sync.c`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::*;
use crate::vrrp::instance::{InitialState, Track, TrackKind, Vip};
use crate::vrrp::packet::{MCAST_V4, Received, emit_ipv4};
use crate::vrrp::{InstanceConfig, Notify};

const A: usize = 0;
const B: usize = 1;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn argv(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Member `name` on `ifname`, VRID `vrid`, with an instance `notify` script.
fn member(name: &str, ifname: &str, vrid: u8, prio: u8, vip: &str) -> InstanceConfig {
    let mut c = InstanceConfig::new(name, ifname, vrid, vec![Vip::host(vip.parse().unwrap())]);
    c.priority = prio;
    c.notify = Notify {
        generic: Some(argv(&["/n.sh"])),
        ..Notify::default()
    };
    c
}

fn group_cfg() -> SyncGroupConfig {
    SyncGroupConfig {
        name: "G1".into(),
        members: vec!["VI_A".into(), "VI_B".into()],
        notify: GroupNotify {
            master: Some(argv(&["/gm.sh", "x"])),
            backup: Some(argv(&["/gb.sh"])),
            fault: Some(argv(&["/gf.sh"])),
            stop: Some(argv(&["/gs.sh"])),
            generic: Some(argv(&["/g.sh"])),
            master_rx_lower_pri: None,
        },
    }
}

struct Lab {
    insts: Vec<Instance>,
    group: SyncGroup,
    now: Duration,
}

impl Lab {
    fn with(a: InstanceConfig, b: InstanceConfig) -> Lab {
        let mut cfgs = [a, b];
        {
            let [a, b] = &mut cfgs;
            harmonize_initial_states(&mut [a, b]);
        }
        let insts = cfgs
            .into_iter()
            .enumerate()
            .map(|(n, c)| {
                c.validate().unwrap();
                let mut i = Instance::new(c);
                i.set_local_addr(IpAddr::V4(Ipv4Addr::new(10, 0, n as u8, 1)));
                i
            })
            .collect();
        Lab {
            insts,
            group: SyncGroup::new(group_cfg(), vec![A, B]),
            now: Duration::ZERO,
        }
    }

    fn new() -> Lab {
        Lab::with(
            member("VI_A", "eth0", 1, 100, "10.0.0.100"),
            member("VI_B", "eth1", 2, 100, "10.0.1.100"),
        )
    }

    fn start(&mut self) -> Vec<Output> {
        self.group.start(self.now, &mut self.insts[..])
    }

    fn feed(&mut self, idx: usize, input: Input<'_>) -> Vec<Output> {
        self.group.handle(self.now, &mut self.insts[..], idx, input)
    }

    /// Run the members' timers up to `until`.
    fn run_until(&mut self, until: Duration) -> Vec<Output> {
        let mut out = Vec::new();
        loop {
            let next = self
                .insts
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.next_timeout().map(|t| (t, i)))
                .min();
            let Some((t, i)) = next else { break };
            if t > until {
                break;
            }
            self.now = t;
            out.extend(self.feed(i, Input::Timer));
        }
        self.now = until;
        out
    }

    fn states(&self) -> (State, State, State) {
        (
            self.insts[A].state(),
            self.insts[B].state(),
            self.group.state(),
        )
    }

    /// Both members MASTER (no peer: the master-down timers run out).
    fn masters() -> Lab {
        let mut l = Lab::new();
        l.start();
        l.run_until(ms(4000));
        assert_eq!(l.states(), (State::Master, State::Master, State::Master));
        l
    }

    /// An advert for member `idx` from a peer at `src` with priority `prio`.
    fn advert(&self, idx: usize, prio: u8, src: Ipv4Addr) -> Vec<u8> {
        let msg = self.insts[idx]
            .advert(prio)
            .emit(IpAddr::V4(src), IpAddr::V4(MCAST_V4))
            .unwrap();
        emit_ipv4(1, src, MCAST_V4, 255, &msg)
    }
}

/// The notify scripts run, in order, as (member or group, argv).
fn scripts(out: &[Output]) -> Vec<(Option<usize>, Vec<String>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Member(m, Action::RunScript { argv }) => Some((Some(*m), argv.clone())),
            Output::Group(Action::RunScript { argv }) => Some((None, argv.clone())),
            _ => None,
        })
        .collect()
}

fn member_acts(out: &[Output], idx: usize) -> Vec<Action> {
    out.iter()
        .filter_map(|o| match o {
            Output::Member(m, a) if *m == idx && !matches!(a, Action::Log(_)) => Some(a.clone()),
            _ => None,
        })
        .collect()
}

fn group_logs(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Group(Action::Log(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn start_notifies_the_group_backup_before_its_members() {
    let mut l = Lab::new();
    let out = l.start();
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
    assert_eq!(
        scripts(&out),
        vec![
            (None, argv(&["/gb.sh"])),
            (None, argv(&["/g.sh", "GROUP", "G1", "BACKUP", "0"])),
            (
                Some(A),
                argv(&["/n.sh", "INSTANCE", "VI_A", "BACKUP", "100"])
            ),
            (
                Some(B),
                argv(&["/n.sh", "INSTANCE", "VI_B", "BACKUP", "100"])
            ),
        ]
    );
}

#[test]
fn members_become_master_together_when_all_want_it() {
    // A (priority 200) times out first (3 s + 56/256 s) but B (100) does not want MASTER
    // yet: A stays BACKUP. At B's timeout (3 s + 156/256 s) both become MASTER at once.
    let mut l = Lab::with(
        member("VI_A", "eth0", 1, 200, "10.0.0.100"),
        member("VI_B", "eth1", 2, 100, "10.0.1.100"),
    );
    l.start();
    let a_timeout = ms(3000) + Duration::from_micros(56 * 1_000_000 / 256);
    let b_timeout = ms(3000) + Duration::from_micros(156 * 1_000_000 / 256);
    let out = l.run_until(a_timeout);
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
    assert_eq!(l.insts[A].want(), State::Master, "A wants MASTER");
    assert_eq!(l.insts[B].want(), State::Backup);
    assert!(scripts(&out).is_empty());
    let out = l.run_until(b_timeout - ms(1));
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
    assert!(out.is_empty());
    let out = l.run_until(b_timeout);
    assert_eq!(l.states(), (State::Master, State::Master, State::Master));
    assert_eq!(
        group_logs(&out),
        vec!["VRRP_Group(G1) Syncing instances to MASTER state"]
    );
    // B went first (its timer), A followed in the same step, then the group notifies.
    assert_eq!(
        scripts(&out),
        vec![
            (
                Some(B),
                argv(&["/n.sh", "INSTANCE", "VI_B", "MASTER", "100"])
            ),
            (
                Some(A),
                argv(&["/n.sh", "INSTANCE", "VI_A", "MASTER", "200"])
            ),
            (None, argv(&["/gm.sh", "x"])),
            (None, argv(&["/g.sh", "GROUP", "G1", "MASTER", "0"])),
        ]
    );
    for m in [A, B] {
        let acts = member_acts(&out, m);
        assert!(acts.contains(&Action::AddVips), "{m}: {acts:?}");
        assert!(acts.contains(&Action::StateChange {
            from: State::Backup,
            to: State::Master
        }));
    }
}

#[test]
fn a_member_hearing_a_master_keeps_the_group_backup() {
    // B hears a master (priority 150) every second: A's timeouts never take the group to
    // MASTER.
    let mut l = Lab::new();
    l.start();
    let peer = Ipv4Addr::new(10, 0, 1, 2);
    let adv = l.advert(B, 150, peer);
    for s in 0..10 {
        let out = l.run_until(ms(s * 1000));
        assert!(scripts(&out).is_empty(), "{out:?}");
        let out = l.feed(B, Input::Advert(Received::from_ipv4(&adv).unwrap()));
        assert!(scripts(&out).is_empty(), "{out:?}");
    }
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
    assert_eq!(l.insts[A].want(), State::Master);
    assert_eq!(l.insts[B].want(), State::Backup);
    // The peer stops: B times out 3.6 s later, and the group becomes MASTER.
    l.run_until(ms(9000 + 3700));
    assert_eq!(l.states(), (State::Master, State::Master, State::Master));
}

#[test]
fn fault_of_one_member_takes_the_group_to_fault() {
    let mut l = Lab::masters();
    l.now = ms(5000);
    let out = l.feed(A, Input::Link { up: false });
    assert_eq!(l.states(), (State::Fault, State::Fault, State::Fault));
    assert!(l.insts[A].own_fault());
    assert!(!l.insts[B].own_fault(), "B is in FAULT for its group only");
    // Both masters resign with priority 0 and drop their VIPs.
    for m in [A, B] {
        let acts = member_acts(&out, m);
        assert_eq!(
            acts[..3],
            [
                Action::SendAdvert { priority: 0 },
                Action::RemoveVips,
                Action::StateChange {
                    from: State::Master,
                    to: State::Fault
                },
            ],
            "{m}"
        );
    }
    assert_eq!(
        group_logs(&out),
        vec!["VRRP_Group(G1) Syncing instances to FAULT state"]
    );
    assert_eq!(
        scripts(&out),
        vec![
            (
                Some(A),
                argv(&["/n.sh", "INSTANCE", "VI_A", "FAULT", "100"])
            ),
            (
                Some(B),
                argv(&["/n.sh", "INSTANCE", "VI_B", "FAULT", "100"])
            ),
            (None, argv(&["/gf.sh"])),
            (None, argv(&["/g.sh", "GROUP", "G1", "FAULT", "0"])),
        ]
    );
    // In FAULT nothing times out.
    assert!(l.run_until(ms(20000)).is_empty());
    assert_eq!(l.states(), (State::Fault, State::Fault, State::Fault));
}

#[test]
fn a_backup_member_follows_the_group_to_fault() {
    let mut l = Lab::new();
    l.start();
    l.now = ms(1000);
    let out = l.feed(B, Input::Link { up: false });
    assert_eq!(l.states(), (State::Fault, State::Fault, State::Fault));
    assert_eq!(
        member_acts(&out, A),
        vec![
            Action::StateChange {
                from: State::Backup,
                to: State::Fault
            },
            Action::RunScript {
                argv: argv(&["/n.sh", "INSTANCE", "VI_A", "FAULT", "100"])
            },
        ],
        "a backup sends no advert and has no VIPs to remove"
    );
}

#[test]
fn the_group_leaves_fault_when_every_member_is_up() {
    let mut l = Lab::masters();
    l.now = ms(5000);
    l.feed(A, Input::Link { up: false });
    // B goes down too (its own interface): already in FAULT, nothing more is run.
    let out = l.feed(B, Input::Link { up: false });
    assert!(scripts(&out).is_empty(), "{out:?}");
    assert!(group_logs(&out).is_empty());
    // A comes back: B is still down, the group stays in FAULT.
    l.now = ms(6000);
    let out = l.feed(A, Input::Link { up: true });
    assert_eq!(l.states(), (State::Fault, State::Fault, State::Fault));
    assert!(
        out.iter()
            .all(|o| matches!(o, Output::Member(_, Action::Log(_)))),
        "{out:?}"
    );
    // B comes back: both go BACKUP, the group with them.
    l.now = ms(7000);
    let out = l.feed(B, Input::Link { up: true });
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
    assert_eq!(
        group_logs(&out),
        vec!["VRRP_Group(G1) Syncing instances to BACKUP state"]
    );
    assert_eq!(
        scripts(&out),
        vec![
            (
                Some(B),
                argv(&["/n.sh", "INSTANCE", "VI_B", "BACKUP", "100"])
            ),
            (
                Some(A),
                argv(&["/n.sh", "INSTANCE", "VI_A", "BACKUP", "100"])
            ),
            (None, argv(&["/gb.sh"])),
            (None, argv(&["/g.sh", "GROUP", "G1", "BACKUP", "0"])),
        ]
    );
    // With no peer, the group becomes MASTER again one master-down interval later.
    l.run_until(ms(7000 + 3700));
    assert_eq!(l.states(), (State::Master, State::Master, State::Master));
}

#[test]
fn a_group_tracked_script_down_on_every_member() {
    // A group's track_script is every member's (the configuration mapping adds it): a
    // failing script reaches both members; the first takes the group to FAULT.
    let track = Track {
        kind: TrackKind::Script,
        name: "chk".into(),
        weight: 0,
        reverse: false,
    };
    let mut a = member("VI_A", "eth0", 1, 100, "10.0.0.100");
    let mut b = member("VI_B", "eth1", 2, 100, "10.0.1.100");
    a.tracks.push(track.clone());
    b.tracks.push(track);
    let mut l = Lab::with(a, b);
    l.start();
    l.now = ms(500);
    let down = Input::Track {
        kind: TrackKind::Script,
        name: "chk",
        up: false,
    };
    let out = l.feed(A, down);
    assert_eq!(l.states(), (State::Fault, State::Fault, State::Fault));
    assert_eq!(scripts(&out).len(), 4);
    let out = l.feed(B, down);
    assert!(scripts(&out).is_empty());
    let up = Input::Track {
        kind: TrackKind::Script,
        name: "chk",
        up: true,
    };
    l.now = ms(1500);
    l.feed(A, up);
    assert_eq!(l.states(), (State::Fault, State::Fault, State::Fault));
    l.feed(B, up);
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
}

#[test]
fn a_master_member_going_backup_takes_the_group_to_backup() {
    let mut l = Lab::masters();
    l.now = ms(5000);
    let peer = Ipv4Addr::new(10, 0, 0, 2);
    let adv = l.advert(A, 150, peer);
    let out = l.feed(A, Input::Advert(Received::from_ipv4(&adv).unwrap()));
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
    // B leaves MASTER without a priority-0 advert (keepalived's vrrp_state_leave_master
    // with advF false), dropping its VIPs.
    assert_eq!(
        member_acts(&out, B),
        vec![
            Action::RemoveVips,
            Action::StateChange {
                from: State::Master,
                to: State::Backup
            },
            Action::RunScript {
                argv: argv(&["/n.sh", "INSTANCE", "VI_B", "BACKUP", "100"])
            },
        ]
    );
    assert_eq!(
        scripts(&out)[2..],
        [
            (None, argv(&["/gb.sh"])),
            (None, argv(&["/g.sh", "GROUP", "G1", "BACKUP", "0"])),
        ]
    );
    // A wants BACKUP (it heard a master), B wants BACKUP (forced): B's timer running out
    // does not make the group MASTER while A keeps hearing its master.
    assert_eq!(l.insts[A].want(), State::Backup);
    for s in 6..=15 {
        l.run_until(ms(s * 1000));
        l.feed(A, Input::Advert(Received::from_ipv4(&adv).unwrap()));
    }
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
    assert_eq!(l.insts[B].want(), State::Master);
}

#[test]
fn a_member_down_at_start_starts_the_group_in_fault() {
    let mut l = Lab::new();
    // The driver reports the initial link states to the instances before the start.
    l.insts[B].handle(l.now, Input::Link { up: false });
    let out = l.start();
    assert_eq!(l.states(), (State::Fault, State::Fault, State::Fault));
    assert_eq!(
        scripts(&out),
        vec![
            (
                Some(A),
                argv(&["/n.sh", "INSTANCE", "VI_A", "FAULT", "100"])
            ),
            (
                Some(B),
                argv(&["/n.sh", "INSTANCE", "VI_B", "FAULT", "100"])
            ),
            (None, argv(&["/gf.sh"])),
            (None, argv(&["/g.sh", "GROUP", "G1", "FAULT", "0"])),
        ]
    );
    assert!(l.run_until(ms(10000)).is_empty());
    l.feed(B, Input::Link { up: true });
    assert_eq!(l.states(), (State::Backup, State::Backup, State::Backup));
}

#[test]
fn shutdown_stops_members_then_notifies_the_group() {
    let mut l = Lab::masters();
    let out = l.group.shutdown(ms(5000), &mut l.insts[..]);
    assert_eq!(l.states(), (State::Stop, State::Stop, State::Stop));
    for m in [A, B] {
        assert_eq!(member_acts(&out, m)[0], Action::SendAdvert { priority: 0 });
    }
    assert_eq!(
        scripts(&out),
        vec![
            (Some(A), argv(&["/n.sh", "INSTANCE", "VI_A", "STOP", "100"])),
            (Some(B), argv(&["/n.sh", "INSTANCE", "VI_B", "STOP", "100"])),
            (None, argv(&["/gs.sh"])),
            (None, argv(&["/g.sh", "GROUP", "G1", "STOP", "0"])),
        ]
    );
    // Nothing after the stop.
    assert!(
        l.feed(A, Input::Link { up: false })
            .iter()
            .all(|o| !matches!(o, Output::Group(_)))
    );
}

#[test]
fn owners_with_state_master_start_master_without_a_group_notify() {
    let mut a = member("VI_A", "eth0", 1, 255, "10.0.0.100");
    let mut b = member("VI_B", "eth1", 2, 255, "10.0.1.100");
    a.initial_state = InitialState::Master;
    b.initial_state = InitialState::Master;
    let mut l = Lab::with(a, b);
    let out = l.start();
    assert_eq!(l.group.state(), State::Master);
    assert!(scripts(&out).is_empty());
    let out = l.run_until(ms(1));
    assert_eq!(l.states(), (State::Master, State::Master, State::Master));
    assert!(scripts(&out).iter().all(|(m, _)| m.is_some()), "{out:?}");
}

#[test]
fn state_master_members_start_as_backup_unless_all_are_owners() {
    let mut a = member("VI_A", "eth0", 1, 255, "10.0.0.100");
    let mut b = member("VI_B", "eth1", 2, 150, "10.0.1.100");
    a.initial_state = InitialState::Master;
    b.initial_state = InitialState::Master;
    harmonize_initial_states(&mut [&mut a, &mut b]);
    assert_eq!(a.initial_state, InitialState::Backup);
    assert_eq!(b.initial_state, InitialState::Backup);
    let mut c = member("VI_A", "eth0", 1, 255, "10.0.0.100");
    let mut d = member("VI_B", "eth1", 2, 255, "10.0.1.100");
    c.initial_state = InitialState::Master;
    d.initial_state = InitialState::Master;
    harmonize_initial_states(&mut [&mut c, &mut d]);
    assert_eq!(c.initial_state, InitialState::Master);
    assert_eq!(d.initial_state, InitialState::Master);
}

#[test]
fn inputs_for_non_members_are_ignored() {
    let mut l = Lab::new();
    l.start();
    assert!(l.feed(7, Input::Link { up: false }).is_empty());
    assert_eq!(l.group.members(), &[A, B]);
    assert_eq!(l.group.name(), "G1");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Step {
        Wait(u64),
        Advert { member: usize, prio: u8 },
        Link { member: usize, up: bool },
        Script { member: usize, up: bool },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u64..5000).prop_map(Step::Wait),
            (0usize..2, any::<u8>()).prop_map(|(member, prio)| Step::Advert { member, prio }),
            (0usize..2, any::<bool>()).prop_map(|(member, up)| Step::Link { member, up }),
            (0usize..2, any::<bool>()).prop_map(|(member, up)| Step::Script { member, up }),
        ]
    }

    proptest! {
        /// Whatever happens, after every step: a member down means every member in FAULT
        /// and the group in FAULT; no member down means nobody in FAULT; the members are
        /// MASTER together or not at all, and the group's state is theirs; each member
        /// holds its VIPs exactly while MASTER.
        #[test]
        fn members_stay_together(steps in proptest::collection::vec(step(), 1..60),
                                 prio_a in 1u8..=254, prio_b in 1u8..=254) {
            let track = Track { kind: TrackKind::Script, name: "s".into(), weight: 0, reverse: false };
            let mut a = member("VI_A", "eth0", 1, prio_a, "10.0.0.100");
            let mut b = member("VI_B", "eth1", 2, prio_b, "10.0.1.100");
            a.tracks.push(track.clone());
            b.tracks.push(track);
            let mut l = Lab::with(a, b);
            let mut held = [false, false];
            let mut check = |l: &Lab, out: Vec<Output>| {
                for o in out {
                    match o {
                        Output::Member(m, Action::AddVips) => { assert!(!held[m]); held[m] = true; }
                        Output::Member(m, Action::RemoveVips) => { assert!(held[m]); held[m] = false; }
                        _ => {}
                    }
                }
                let (sa, sb, g) = l.states();
                let down = l.insts.iter().any(|i| i.own_fault());
                if down {
                    assert_eq!((sa, sb, g), (State::Fault, State::Fault, State::Fault));
                } else {
                    assert!(sa != State::Fault && sb != State::Fault && g != State::Fault,
                            "{:?}", l.states());
                }
                assert_eq!(sa == State::Master, sb == State::Master, "{:?}", l.states());
                assert_eq!(g == State::Master, sa == State::Master, "{:?}", l.states());
                for m in [A, B] {
                    assert_eq!(held[m], l.insts[m].state() == State::Master);
                }
            };
            let out = l.start();
            check(&l, out);
            for s in steps {
                let out = match s {
                    Step::Wait(d) => {
                        let until = l.now + ms(d);
                        l.run_until(until)
                    }
                    Step::Advert { member, prio } => {
                        let adv = l.advert(member, prio, Ipv4Addr::new(10, 0, member as u8, 2));
                        l.feed(member, Input::Advert(Received::from_ipv4(&adv).unwrap()))
                    }
                    Step::Link { member, up } => l.feed(member, Input::Link { up }),
                    Step::Script { member, up } => l.feed(
                        member,
                        Input::Track { kind: TrackKind::Script, name: "s", up },
                    ),
                };
                check(&l, out);
            }
        }
    }
}
