//! The sans-IO checker core against reference/keepalived.md §3, bullet by bullet, with a
//! fake clock (no sockets, no root).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use lvs_api::{Method, Protocol, ServiceKey};
use lvs_keepalived::check::*;

const S: Duration = Duration::from_secs(1);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn vs_key() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: ip("10.0.0.100"),
        port: 80,
    }
}

/// A virtual server with `n` real servers 10.0.0.1.. of weight 1, one TCP_CHECK each,
/// delay_loop 10 s, delay_before_retry 2 s, retry 1, no warmup.
fn vs_with(n: usize) -> VirtualServerSpec {
    let mut vs = VirtualServerSpec::new(vs_key());
    vs.delay_loop = Some(10 * S);
    vs.delay_before_retry = Some(2 * S);
    vs.warmup = Some(Duration::ZERO);
    for i in 0..n {
        let mut rs = RealServerSpec::new(ip(&format!("10.0.0.{}", i + 1)), 80);
        rs.checkers.push(CheckerSpec::new(CheckerKind::Tcp));
        vs.real_servers.push(rs);
    }
    vs
}

struct Sim {
    c: Checks,
    t0: Instant,
    now: Instant,
}

impl Sim {
    fn new(specs: Vec<VirtualServerSpec>) -> (Sim, Vec<Event>) {
        let mut c = Checks::new(specs).unwrap();
        let t0 = Instant::now();
        let ev = c.start(t0, &mut |_| Duration::ZERO);
        (Sim { c, t0, now: t0 }, ev)
    }

    fn at(&self) -> Duration {
        self.now - self.t0
    }

    /// Advance to the next deadline, run what is due with `f(due) -> Outcome`, and return
    /// the events with the time (since start) the probes ran.
    fn step(&mut self, f: &mut dyn FnMut(Due) -> Outcome) -> (Duration, Vec<Due>, Vec<Event>) {
        let next = self.c.next_deadline().expect("a deadline");
        self.now = next.max(self.now);
        let due = self.c.due(self.now);
        let mut ev = Vec::new();
        for d in &due {
            ev.extend(self.c.report(self.now, d.id, f(*d)));
        }
        (self.at(), due, ev)
    }

    /// Run steps until time `until` (since start), collecting events.
    fn run_until(
        &mut self,
        until: Duration,
        f: &mut dyn FnMut(Duration, Due) -> Outcome,
    ) -> Vec<(Duration, Event)> {
        let mut all = Vec::new();
        while self.c.next_deadline().is_some_and(|d| d - self.t0 <= until) {
            let t = self.c.next_deadline().unwrap() - self.t0;
            let (_, _, ev) = self.step(&mut |d| f(t, d));
            all.extend(ev.into_iter().map(|e| (t, e)));
        }
        all
    }
}

fn ops(ev: &[Event]) -> Vec<Op> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Op(o) => Some(o.clone()),
            Event::Log(_) => None,
        })
        .collect()
}

fn logs(ev: &[Event]) -> Vec<String> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Log(l) => Some(l.clone()),
            Event::Op(_) => None,
        })
        .collect()
}

fn fail() -> Outcome {
    Outcome::Failure(FailReason::ConnectFailed)
}

/// Short form of an op: "add 10.0.0.1 w1", "edit 10.0.0.1 w0", "del 10.0.0.1", "script QuorumUp".
fn short(o: &Op) -> String {
    match o {
        Op::AddDest { dest, .. } => format!("add {} w{}", dest.addr, dest.weight),
        Op::EditDest { dest, .. } => format!("edit {} w{}", dest.addr, dest.weight),
        Op::DelDest { addr, .. } => format!("del {addr}"),
        Op::RunScript { kind, script } => format!("script {kind:?} {}", script.program()),
    }
}

fn shorts(ev: &[Event]) -> Vec<String> {
    ops(ev).iter().map(short).collect()
}

#[test]
fn without_alpha_every_server_is_added_at_start_and_quorum_is_gained() {
    let mut vs = vs_with(2);
    vs.quorum_up = Some(Script::new(["/qup"]));
    let (_, ev) = Sim::new(vec![vs]);
    assert_eq!(
        shorts(&ev),
        ["add 10.0.0.1 w1", "add 10.0.0.2 w1", "script QuorumUp /qup"]
    );
    let l = logs(&ev);
    assert!(
        l.contains(&"Gained quorum 1+0=1 <= 2 for VS [10.0.0.100]:tcp:80".to_string()),
        "{l:?}"
    );
    assert!(
        l.contains(
            &"Activating healthchecker for service [10.0.0.1]:tcp:80 for VS [10.0.0.100]:tcp:80"
                .to_string()
        )
    );
    // The add carries the method, port and thresholds.
    let mut vs = vs_with(1);
    vs.real_servers[0].u_threshold = 7;
    vs.real_servers[0].l_threshold = 3;
    vs.real_servers[0].weight = 5;
    let (_, ev) = Sim::new(vec![vs]);
    match &ops(&ev)[0] {
        Op::AddDest { service, dest } => {
            assert_eq!(*service, vs_key());
            assert_eq!(
                (
                    dest.port,
                    dest.method,
                    dest.weight,
                    dest.u_threshold,
                    dest.l_threshold
                ),
                (80, Method::Masq, 5, 7, 3)
            );
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn first_failure_at_start_up_takes_the_server_down_at_once() {
    let (mut sim, _) = Sim::new(vec![vs_with(1)]);
    // First check at 1 s (bootstrap delay, no warmup).
    let (t, due, ev) = sim.step(&mut |_| fail());
    assert_eq!((t, due.len()), (S, 1));
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    assert_eq!(
        logs(&ev)[..2],
        [
            "TCP_CHECK on service [10.0.0.1]:tcp:80 failed.".to_string(),
            "Removing service [10.0.0.1]:tcp:80 from VS [10.0.0.100]:tcp:80".to_string()
        ]
    );
    assert!(!sim.c.rs_alive(0, 0));
    // Down: the next check is a delay_loop later, not a delay_before_retry.
    let (t, _, ev) = sim.step(&mut |_| fail());
    assert_eq!(t, 11 * S);
    assert!(ev.is_empty());
    // Recovery: one success brings it back.
    let (t, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(t, 21 * S);
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1"]);
    assert_eq!(
        logs(&ev)[..2],
        [
            "TCP connection to [10.0.0.1]:tcp:80 success.".to_string(),
            "Adding service [10.0.0.1]:tcp:80 to VS [10.0.0.100]:tcp:80".to_string()
        ]
    );
}

#[test]
fn a_down_verdict_needs_one_plus_retry_consecutive_failures() {
    let mut vs = vs_with(1);
    vs.retry = Some(2);
    let (mut sim, _) = Sim::new(vec![vs]);
    assert!(shorts(&sim.step(&mut |_| Outcome::Success).2).is_empty());
    // fail, fail (retries at delay_before_retry), success resets the count.
    let (t, _, ev) = sim.step(&mut |_| fail());
    assert_eq!((t, ev.len()), (11 * S, 0));
    let (t, _, ev) = sim.step(&mut |_| fail());
    assert_eq!((t, ev.len()), (13 * S, 0));
    let (t, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!((t, ev.len()), (15 * S, 0));
    // Three consecutive failures now.
    let (t, _, _) = sim.step(&mut |_| fail());
    assert_eq!(t, 25 * S);
    let (t, _, _) = sim.step(&mut |_| fail());
    assert_eq!(t, 27 * S);
    assert!(sim.c.rs_alive(0, 0));
    let (t, _, ev) = sim.step(&mut |_| fail());
    assert_eq!(t, 29 * S);
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    assert_eq!(
        logs(&ev)[0],
        "TCP_CHECK on service [10.0.0.1]:tcp:80 failed after 2 retries."
    );
    assert_eq!(sim.c.next_deadline().unwrap() - sim.t0, 39 * S);
}

#[test]
fn a_server_is_alive_iff_every_checker_is_up() {
    let mut vs = vs_with(1);
    vs.real_servers[0]
        .checkers
        .push(CheckerSpec::new(CheckerKind::Ping));
    vs.retry = Some(0);
    let (mut sim, _) = Sim::new(vec![vs]);
    let tcp = |d: &Due| d.id.checker == 0;
    sim.step(&mut |_| Outcome::Success);
    // TCP fails: removed.
    let (_, _, ev) = sim.step(&mut |d| if tcp(&d) { fail() } else { Outcome::Success });
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    // Ping fails too: nothing more.
    let (_, _, ev) = sim.step(&mut |_| fail());
    assert!(ops(&ev).is_empty());
    assert_eq!(
        logs(&ev),
        ["ICMP CHECK on service [10.0.0.1]:tcp:80 failed."]
    );
    // TCP recovers: still one failed checker.
    let (_, _, ev) = sim.step(&mut |d| if tcp(&d) { Outcome::Success } else { fail() });
    assert!(ops(&ev).is_empty(), "{ev:?}");
    assert!(!sim.c.rs_alive(0, 0));
    // Ping recovers: added.
    let (_, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1"]);
}

#[test]
fn inhibit_on_failure_sets_weight_zero_instead_of_deleting() {
    let mut vs = vs_with(1);
    vs.real_servers[0].weight = 3;
    vs.real_servers[0].inhibit_on_failure = Some(true);
    let (mut sim, ev) = Sim::new(vec![vs]);
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w3"]);
    let (_, _, ev) = sim.step(&mut |_| fail());
    assert_eq!(shorts(&ev), ["edit 10.0.0.1 w0"]);
    assert!(
        logs(&ev)
            .contains(&"Disabling service [10.0.0.1]:tcp:80 of VS [10.0.0.100]:tcp:80".to_string())
    );
    let (_, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(shorts(&ev), ["edit 10.0.0.1 w3"]);
    assert!(
        logs(&ev)
            .contains(&"Enabling service [10.0.0.1]:tcp:80 of VS [10.0.0.100]:tcp:80".to_string())
    );
    // Shutdown removes it for real.
    let ev = sim.c.shutdown(true);
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
}

#[test]
fn alpha_starts_failed_inhibited_servers_at_weight_zero() {
    let mut vs = vs_with(2);
    vs.alpha = true;
    vs.real_servers[1].inhibit_on_failure = Some(true);
    vs.real_servers[0].notify_up = Some(Script::new(["/up"]));
    vs.real_servers[0].notify_down = Some(Script::new(["/down"]));
    let (mut sim, ev) = Sim::new(vec![vs]);
    // Not added; the inhibited one added with weight 0; no quorum, no sorry server.
    assert_eq!(shorts(&ev), ["add 10.0.0.2 w0"]);
    assert!(!sim.c.quorum_up(0));
    // First results: .1 fails (alpha: notify_down runs, nothing in lvsd), .2 succeeds.
    let (_, _, ev) = sim.step(&mut |d| {
        if d.id.rs == 0 {
            fail()
        } else {
            Outcome::Success
        }
    });
    assert_eq!(shorts(&ev), ["script NotifyDown /down", "edit 10.0.0.2 w1"]);
    assert!(logs(&ev).contains(&"Gained quorum 1+0=1 <= 1 for VS [10.0.0.100]:tcp:80".to_string()));
    assert!(sim.c.quorum_up(0));
    // .1 recovers: added, notify_up.
    let (_, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1", "script NotifyUp /up"]);
}

#[test]
fn quorum_with_hysteresis() {
    let mut vs = vs_with(4);
    vs.quorum = 3;
    vs.hysteresis = 1;
    vs.retry = Some(0);
    vs.quorum_up = Some(Script::new(["/qup"]));
    vs.quorum_down = Some(Script::new(["/qdown"]));
    let (mut sim, ev) = Sim::new(vec![vs]);
    // 4 >= 3 + 1.
    assert!(logs(&ev).contains(&"Gained quorum 3+1=4 <= 4 for VS [10.0.0.100]:tcp:80".to_string()));
    let mut down = 0usize;
    let f = |k: usize| {
        move |d: Due| {
            if d.id.rs < k {
                fail()
            } else {
                Outcome::Success
            }
        }
    };
    sim.step(&mut f(0));
    // 3 alive: 3 >= 3 - 1, still up.
    down += 1;
    let (_, _, ev) = sim.step(&mut f(down));
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    down += 1;
    // 2 alive: 2 is not < 2, still up.
    let (_, _, ev) = sim.step(&mut f(down));
    assert_eq!(shorts(&ev), ["del 10.0.0.2"]);
    assert!(sim.c.quorum_up(0));
    down += 1;
    // 1 alive: lost.
    let (_, _, ev) = sim.step(&mut f(down));
    assert_eq!(shorts(&ev), ["del 10.0.0.3", "script QuorumDown /qdown"]);
    assert!(logs(&ev).contains(&"Lost quorum 3-1=2 > 1 for VS [10.0.0.100]:tcp:80".to_string()));
    // Back to 3 alive: 3 < 3 + 1, still down.
    let (_, _, ev) = sim.step(&mut f(1));
    assert_eq!(shorts(&ev), ["add 10.0.0.2 w1", "add 10.0.0.3 w1"]);
    assert!(!sim.c.quorum_up(0));
    // 4 alive: gained.
    let (_, _, ev) = sim.step(&mut f(0));
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1", "script QuorumUp /qup"]);
    assert!(sim.c.quorum_up(0));
}

#[test]
fn sorry_server_replaces_the_pool_while_quorum_is_lost() {
    let mut vs = vs_with(2);
    vs.quorum = 2;
    vs.retry = Some(0);
    vs.sorry_server = Some(SorryServerSpec {
        addr: ip("10.0.0.99"),
        port: 0,
        method: None,
        inhibit: false,
    });
    let (mut sim, ev) = Sim::new(vec![vs]);
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1", "add 10.0.0.2 w1"]);
    sim.step(&mut |_| Outcome::Success);
    // .1 fails: quorum lost, the alive .2 leaves the pool, the sorry server comes in.
    let (_, _, ev) = sim.step(&mut |d| {
        if d.id.rs == 0 {
            fail()
        } else {
            Outcome::Success
        }
    });
    assert_eq!(
        shorts(&ev),
        ["del 10.0.0.1", "del 10.0.0.2", "add 10.0.0.99 w1"]
    );
    let l = logs(&ev);
    assert!(
        l.contains(&"Adding sorry server [10.0.0.99]:tcp:80 to VS [10.0.0.100]:tcp:80".to_string()),
        "{l:?}"
    );
    assert!(
        l.contains(&"Removing alive servers from the pool for VS [10.0.0.100]:tcp:80".to_string())
    );
    assert!(sim.c.sorry_active(0));
    // While the sorry server is in use, state changes do not touch lvsd.
    let (_, _, ev) = sim.step(&mut |_| fail());
    assert!(ops(&ev).is_empty(), "{ev:?}");
    assert!(
        logs(&ev).contains(
            &"Removing service [10.0.0.2]:tcp:80 from VS [10.0.0.100]:tcp:80".to_string()
        )
    );
    let (_, _, ev) = sim.step(&mut |d| {
        if d.id.rs == 0 {
            Outcome::Success
        } else {
            fail()
        }
    });
    assert!(ops(&ev).is_empty(), "{ev:?}");
    // Both up: quorum back, sorry server out, alive servers back in.
    let (_, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(
        shorts(&ev),
        ["del 10.0.0.99", "add 10.0.0.1 w1", "add 10.0.0.2 w1"]
    );
    assert!(logs(&ev).contains(
        &"Removing sorry server [10.0.0.99]:tcp:80 from VS [10.0.0.100]:tcp:80".to_string()
    ));
    assert!(!sim.c.sorry_active(0));
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_zero() {
    let mut vs = vs_with(1);
    vs.alpha = true;
    vs.retry = Some(0);
    vs.sorry_server = Some(SorryServerSpec {
        addr: ip("10.0.0.99"),
        port: 8080,
        method: Some(Method::Masq),
        inhibit: true,
    });
    let (mut sim, ev) = Sim::new(vec![vs]);
    // Alpha: quorum down at start, so the sorry server is in use right away: added with
    // its weight; then the inhibit rule would add it at 0 only if not set yet.
    assert_eq!(shorts(&ev), ["add 10.0.0.99 w1"]);
    let l = logs(&ev);
    assert!(
        l.contains(&"Starting with quorum down 1-0=1 > 0 for VS [10.0.0.100]:tcp:80".to_string()),
        "{l:?}"
    );
    assert!(l.contains(
        &"Enabling sorry server [10.0.0.99]:tcp:8080 to VS [10.0.0.100]:tcp:80".to_string()
    ));
    let (_, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(shorts(&ev), ["edit 10.0.0.99 w0", "add 10.0.0.1 w1"]);
    assert!(logs(&ev).contains(
        &"Disabling sorry server [10.0.0.99]:tcp:8080 from VS [10.0.0.100]:tcp:80".to_string()
    ));
    let (_, _, ev) = sim.step(&mut |_| fail());
    // Back to the sorry server: an edit, since it stayed in the table.
    assert_eq!(shorts(&ev), ["del 10.0.0.1", "edit 10.0.0.99 w1"]);

    // Without alpha the inhibited sorry server is put in at weight 0 up front.
    let mut vs = vs_with(1);
    vs.sorry_server = Some(SorryServerSpec {
        addr: ip("10.0.0.99"),
        port: 0,
        method: None,
        inhibit: true,
    });
    let (_, ev) = Sim::new(vec![vs]);
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1", "add 10.0.0.99 w0"]);
}

#[test]
fn misc_dynamic_exit_codes_set_the_weight() {
    let mut vs = vs_with(0);
    let mut rs = RealServerSpec::new(ip("10.0.0.1"), 80);
    rs.weight = 10;
    rs.checkers
        .push(CheckerSpec::new(CheckerKind::Misc(MiscSpec {
            script: Script::new(["/chk", "x"]),
            timeout: None,
            dynamic: true,
        })));
    vs.real_servers.push(rs);
    let (mut sim, _) = Sim::new(vec![vs]);
    // Exit 7: up with weight 5.
    let (_, _, ev) = sim.step(&mut |_| Outcome::Exit(7));
    assert_eq!(shorts(&ev), ["edit 10.0.0.1 w5"]);
    assert!(logs(&ev).contains(&"Changing weight from 10 to 5 for active service [10.0.0.1]:tcp:80 of VS [10.0.0.100]:tcp:80".to_string()));
    assert!(
        logs(&ev).contains(
            &"Misc check for [[10.0.0.1]:tcp:80 VS [10.0.0.100]:tcp:80] by [/chk] succeeded."
                .to_string()
        )
    );
    // Same status again: nothing.
    assert!(ops(&sim.step(&mut |_| Outcome::Exit(7)).2).is_empty());
    // Exit 0: back to the configured weight.
    assert_eq!(
        shorts(&sim.step(&mut |_| Outcome::Exit(0)).2),
        ["edit 10.0.0.1 w10"]
    );
    // Exit 2: weight 0 but alive.
    assert_eq!(
        shorts(&sim.step(&mut |_| Outcome::Exit(2)).2),
        ["edit 10.0.0.1 w0"]
    );
    assert!(sim.c.rs_alive(0, 0));
    // Exit 1: down at once (MISC_CHECK retry defaults to 0).
    let (_, _, ev) = sim.step(&mut |_| Outcome::Exit(1));
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    assert!(logs(&ev).contains(&"Misc check for [[10.0.0.1]:tcp:80 VS [10.0.0.100]:tcp:80] by [/chk] failed with retry disabled (exited with status 1).".to_string()));
    assert_eq!(sim.c.rs_weight(0, 0), 10);
    // Exit 4 brings it back with weight 2.
    let (_, _, ev) = sim.step(&mut |_| Outcome::Exit(4));
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w2"]);
    // A timeout is a failure.
    let (_, _, ev) = sim.step(&mut |_| Outcome::Signaled {
        signal: 15,
        timed_out: true,
    });
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    assert!(logs(&ev).contains(&"Misc check for [[10.0.0.1]:tcp:80 VS [10.0.0.100]:tcp:80] by [/chk] timed out with retry disabled.".to_string()));
}

#[test]
fn misc_without_dynamic_and_its_timing() {
    let mut vs = vs_with(0);
    let mut rs = RealServerSpec::new(ip("10.0.0.1"), 80);
    let mut c = CheckerSpec::new(CheckerKind::Misc(MiscSpec {
        script: Script::new(["/chk"]),
        timeout: Some(3 * S),
        dynamic: false,
    }));
    c.retry = Some(1);
    rs.checkers.push(c);
    vs.real_servers.push(rs);
    let mut checks = Checks::new(vec![vs]).unwrap();
    assert_eq!(checks.conf(checks.checker_ids()[0]).misc_timeout, 3 * S);
    let t0 = Instant::now();
    checks.start(t0, &mut |_| Duration::ZERO);
    checks.report(
        t0,
        CheckerId {
            vs: 0,
            rs: 0,
            checker: 0,
        },
        Outcome::Success,
    ); // not running: ignored
    let d = checks.due(t0 + S);
    assert_eq!(d.len(), 1);
    // Exit 5 without misc_dynamic is a failure; first one at start-up takes it down.
    // The script ran 2 s: the next run is counted from its start (1 s + 10 s).
    let ev = checks.report(t0 + 3 * S, d[0].id, Outcome::Exit(5));
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    assert_eq!(checks.next_deadline().unwrap() - t0, 11 * S);
    let d = checks.due(t0 + 11 * S);
    let ev = checks.report(t0 + 11 * S, d[0].id, Outcome::Exit(0));
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1"]);
    // Up: one failure is retried after delay_before_retry.
    let d = checks.due(t0 + 21 * S);
    let ev = checks.report(t0 + 21 * S, d[0].id, Outcome::Exit(1));
    assert!(ev.is_empty(), "{ev:?}");
    assert_eq!(checks.next_deadline().unwrap() - t0, 23 * S);
    let d = checks.due(t0 + 23 * S);
    let ev = checks.report(t0 + 23 * S, d[0].id, Outcome::Exit(1));
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    assert!(
        logs(&ev)[0].ends_with("failed after 1 retry (exited with status 1)."),
        "{ev:?}"
    );
}

#[test]
fn ha_suspend_pauses_checkers_until_the_address_is_here() {
    let mut vs = vs_with(1);
    vs.ha_suspend = true;
    let mut c = Checks::new(vec![vs]).unwrap();
    assert_eq!(c.ha_suspend_addrs(0), vec![ip("10.0.0.100")]);
    let t0 = Instant::now();
    let ev = c.start(t0, &mut |_| Duration::ZERO);
    assert!(
        logs(&ev).contains(
            &"Deactivating healthchecker for service [10.0.0.1]:tcp:80 for VS [10.0.0.100]:tcp:80"
                .to_string()
        )
    );
    // Due at 1 s but suspended: rescheduled a delay_loop later, not run.
    assert!(c.due(t0 + S).is_empty());
    assert_eq!(c.next_deadline().unwrap() - t0, 11 * S);
    let ev = c.set_address(ip("10.0.0.100"), true);
    assert_eq!(
        logs(&ev),
        ["Activating healthchecker for service [10.0.0.1]:tcp:80 for VS [10.0.0.100]:tcp:80"]
    );
    assert!(c.set_address(ip("10.9.9.9"), true).is_empty());
    assert_eq!(c.due(t0 + 11 * S).len(), 1);
    // Counted: the address on two interfaces, removed from one: still active.
    assert!(c.set_address(ip("10.0.0.100"), true).is_empty());
    assert!(c.set_address(ip("10.0.0.100"), false).is_empty());
    let ev = c.set_address(ip("10.0.0.100"), false);
    assert_eq!(
        logs(&ev),
        ["Suspending healthchecker for service [10.0.0.1]:tcp:80 for VS [10.0.0.100]:tcp:80"]
    );
    // Fwmark services cannot use it.
    let mut fw = vs_with(1);
    fw.key = ServiceKey::Fwmark {
        family: lvs_api::Family::Inet,
        mark: 1,
    };
    fw.ha_suspend = true;
    assert!(Checks::new(vec![fw]).is_err());
}

#[test]
fn omega_runs_the_down_scripts_on_shutdown() {
    for omega in [false, true] {
        let mut vs = vs_with(1);
        vs.omega = omega;
        vs.quorum_down = Some(Script::new(["/qdown"]));
        vs.real_servers[0].notify_down = Some(Script::new(["/down"]));
        let (mut sim, _) = Sim::new(vec![vs]);
        let ev = sim.c.shutdown(true);
        let want: &[&str] = if omega {
            &[
                "del 10.0.0.1",
                "script NotifyDown /down",
                "script QuorumDown /qdown",
            ]
        } else {
            &["del 10.0.0.1"]
        };
        assert_eq!(shorts(&ev), want);
        assert_eq!(
            logs(&ev),
            ["Shutting down service [10.0.0.1]:tcp:80 from VS [10.0.0.100]:tcp:80"]
        );
        assert!(sim.c.next_deadline().is_none());
        // Without removing dests only the omega quorum script runs.
        let (mut sim, _) = Sim::new(vec![{
            let mut v = vs_with(1);
            v.omega = omega;
            v.quorum_down = Some(Script::new(["/qdown"]));
            v
        }]);
        let ev = sim.c.shutdown(false);
        assert_eq!(shorts(&ev).len(), usize::from(omega));
    }
}

fn http_vs(urls: Vec<UrlSpec>, fast_recovery: bool) -> VirtualServerSpec {
    let mut vs = vs_with(0);
    vs.delay_before_retry = None;
    let mut rs = RealServerSpec::new(ip("10.0.0.1"), 8080);
    let mut h = HttpSpec::new(false, urls);
    h.fast_recovery = fast_recovery;
    rs.checkers.push(CheckerSpec::new(CheckerKind::Http(h)));
    vs.real_servers.push(rs);
    vs
}

#[test]
fn http_get_checks_one_url_per_run_and_retries_the_failed_one() {
    let mut u2 = UrlSpec::new("/b");
    u2.digest = Some([0; 16]);
    let (mut sim, _) = Sim::new(vec![http_vs(vec![UrlSpec::new("/a"), u2], false)]);
    let conf = sim.c.conf(sim.c.checker_ids()[0]).clone();
    assert_eq!(conf.http_hosts, ["10.0.0.1:8080", "10.0.0.1:8080"]);
    assert_eq!(conf.delay_before_retry, 3 * S);
    assert_eq!(conf.retry, 1);
    // url 0 at 1 s, url 1 at 11 s: up.
    let (t, due, _) = sim.step(&mut |_| Outcome::Success);
    assert_eq!((t, due[0].url), (S, 0));
    let (t, due, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!((t, due[0].url), (11 * S, 1));
    assert!(ops(&ev).is_empty());
    // url 0 ok, url 1 fails: retried after delay_before_retry (3 s), then down.
    sim.step(&mut |_| Outcome::Success);
    let (t, due, ev) = sim.step(&mut |_| Outcome::Failure(FailReason::Digest));
    assert_eq!((t, due[0].url, ev.len()), (31 * S, 1, 0));
    let (t, due, ev) = sim.step(&mut |_| Outcome::Failure(FailReason::Digest));
    assert_eq!((t, due[0].url), (34 * S, 1));
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    assert_eq!(
        logs(&ev)[0],
        "HTTP_CHECK on service [10.0.0.1]:tcp:8080 failed after 1 retries."
    );
    // Down: the failed url is checked every max(delay_loop, delay_before_retry).
    let (t, due, ev) = sim.step(&mut |_| Outcome::Failure(FailReason::Status(500)));
    assert_eq!((t, due[0].url, ev.len()), (44 * S, 1, 0));
    // It succeeds: then every url again from the first before the server is up.
    let (t, due, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!((t, due[0].url), (54 * S, 1));
    assert_eq!(
        logs(&ev),
        ["MD5 digest success to [10.0.0.1]:tcp:8080 url(/b)"]
    );
    assert!(ops(&ev).is_empty());
    let (_, due, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(due[0].url, 0);
    assert!(ops(&ev).is_empty());
    let (t, due, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!((t, due[0].url), (74 * S, 1));
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1"]);
    assert!(
        logs(&ev)
            .contains(&"Remote Web server [10.0.0.1]:tcp:8080 succeed on service.".to_string())
    );
}

#[test]
fn http_get_first_failure_at_start_and_fast_recovery() {
    let (mut sim, _) = Sim::new(vec![http_vs(vec![UrlSpec::new("/")], true)]);
    // fast_recovery: before the first result, no delay.
    let (_, _, ev) = sim.step(&mut |_| Outcome::Failure(FailReason::Timeout));
    assert_eq!(shorts(&ev), ["del 10.0.0.1"]);
    // keepalived marks the checker as run before its verdict, hence "after 1 retries".
    assert_eq!(
        logs(&ev)[0],
        "HTTP_CHECK on service [10.0.0.1]:tcp:8080 failed after 1 retries."
    );
    let (t, _, _) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(t, 11 * S);
    // The failed url is clear now: fast recovery checks again at once.
    let (t, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(t, 11 * S);
    assert_eq!(shorts(&ev), ["add 10.0.0.1 w1"]);
}

#[test]
fn keepalived_corrections_of_the_configuration() {
    // DR real server with another port: reset to the service's port, with a warning.
    let mut vs = vs_with(1);
    vs.method = Method::Route;
    vs.real_servers[0].port = 8080;
    vs.quorum = 5;
    vs.hysteresis = 3;
    let c = Checks::new(vec![vs]).unwrap();
    let w = c.warnings();
    assert!(w.contains(&"WARNING - virtual server [10.0.0.100]:tcp:80 and real server [10.0.0.1]:tcp:8080 ports don't match - resetting".to_string()), "{w:?}");
    assert!(w.contains(&"Warning - quorum 5 for [10.0.0.100]:tcp:80 exceeds total weight of real servers 1, reducing quorum to 1".to_string()));
    assert!(w.contains(&"Virtual server [10.0.0.100]:tcp:80: hysteresis 3 >= quorum 1; setting hysteresis to 0".to_string()));
    // The checker still connects to the port as written.
    assert_eq!(c.conf(c.checker_ids()[0]).target.port(), 8080);
    assert_eq!(c.fmt_rs(0, 0), "[10.0.0.1]:tcp:80");
    // Fwmark DR: port cleared.
    let mut vs = vs_with(1);
    vs.key = ServiceKey::Fwmark {
        family: lvs_api::Family::Inet,
        mark: 7,
    };
    vs.method = Method::Route;
    let c = Checks::new(vec![vs]).unwrap();
    assert_eq!(c.fmt_vs(0), "FWM 7");
    assert_eq!(c.fmt_rs(0, 0), "[10.0.0.1]:none:0");
    // An HTTP_GET without url is refused.
    assert!(Checks::new(vec![http_vs(vec![], false)]).is_err());
    // Inheritance: checker <- real server <- virtual server <- default.
    let mut vs = vs_with(1);
    vs.connect_timeout = Some(7 * S);
    vs.real_servers[0].retry = Some(4);
    vs.real_servers[0].checkers[0].delay_loop = Some(3 * S);
    vs.real_servers[0].virtualhost = Some("www.example".into());
    let c = Checks::new(vec![vs]).unwrap();
    let conf = c.conf(c.checker_ids()[0]);
    assert_eq!(
        (
            conf.connect_timeout,
            conf.retry,
            conf.delay_loop,
            conf.delay_before_retry
        ),
        (7 * S, 4, 3 * S, 2 * S)
    );
}

#[test]
fn warmup_spreads_the_first_checks() {
    let mut vs = vs_with(3);
    vs.warmup = None; // default: delay_loop (10 s)
    let mut c = Checks::new(vec![vs]).unwrap();
    let t0 = Instant::now();
    let mut k = 0u32;
    c.start(t0, &mut |w| {
        k += 1;
        w / 4 * k
    });
    let mut times: Vec<Duration> = Vec::new();
    let mut now = t0;
    while times.len() < 3 {
        now = c.next_deadline().unwrap();
        for d in c.due(now) {
            times.push(now - t0);
            let _ = d;
        }
    }
    assert_eq!(
        times,
        [
            S + Duration::from_millis(2500),
            S + 5 * S,
            S + Duration::from_millis(7500)
        ]
    );
    let _ = now;
}

#[test]
fn many_cycles_with_flapping_servers_keep_lvsd_consistent() {
    // Replay a long random-ish history and check that the ops sequence always leaves lvsd
    // with exactly the alive servers (no quorum/sorry), and each op is legal.
    let mut vs = vs_with(3);
    vs.retry = Some(1);
    let (mut sim, ev) = Sim::new(vec![vs]);
    let mut in_lvsd = std::collections::BTreeSet::new();
    let apply = |ev: &[Event], set: &mut std::collections::BTreeSet<IpAddr>| {
        for o in ops(ev) {
            match o {
                Op::AddDest { dest, .. } => assert!(set.insert(dest.addr), "double add {o:?}"),
                Op::DelDest { addr, .. } => assert!(set.remove(&addr), "del of absent {o:?}"),
                o => panic!("unexpected {o:?}"),
            }
        }
    };
    apply(&ev, &mut in_lvsd);
    let mut seed = 12345u64;
    let all = sim.run_until(3000 * S, &mut |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if seed.is_multiple_of(3) {
            fail()
        } else {
            Outcome::Success
        }
    });
    let evs: Vec<Event> = all.into_iter().map(|(_, e)| e).collect();
    apply(&evs, &mut in_lvsd);
    for r in 0..3 {
        assert_eq!(
            in_lvsd.contains(&ip(&format!("10.0.0.{}", r + 1))),
            sim.c.rs_alive(0, r)
        );
    }
}

// ---- SMTP_CHECK, DNS_CHECK, FILE_CHECK ----------------------------------------------------

/// One real server 10.0.0.1:25 with one checker of `kind` (delay_loop 10 s,
/// delay_before_retry 2 s unless `dbr` is None, no warmup).
fn one_checker(kind: CheckerKind, retry: Option<u32>, dbr: Option<Duration>) -> VirtualServerSpec {
    let mut vs = VirtualServerSpec::new(vs_key());
    vs.delay_loop = Some(10 * S);
    vs.delay_before_retry = dbr;
    vs.retry = retry;
    vs.warmup = Some(Duration::ZERO);
    let mut rs = RealServerSpec::new(ip("10.0.0.1"), 25);
    rs.checkers.push(CheckerSpec::new(kind));
    vs.real_servers.push(rs);
    vs
}

fn smtp_fail(f: SmtpFail) -> Outcome {
    Outcome::Failure(FailReason::Smtp(f))
}

#[test]
fn smtp_check_retries_from_the_first_round_and_words_failures_as_keepalived() {
    let (mut sim, ev) = Sim::new(vec![one_checker(
        CheckerKind::Smtp(SmtpSpec::default()),
        Some(1),
        Some(2 * S),
    )]);
    assert_eq!(shorts(&ev), vec!["add 10.0.0.1 w1"]);
    // First round at 1 s: unlike TCP_CHECK, a first failure is retried (the round starts
    // with retry_it = 0) and logged only when the retries are used up.
    let (t, _, ev) = sim.step(&mut |_| smtp_fail(SmtpFail::BadGreeting));
    assert_eq!(t, S);
    assert!(ev.is_empty(), "{ev:?}");
    let (t, _, ev) = sim.step(&mut |_| smtp_fail(SmtpFail::ConnectError));
    assert_eq!(t, 3 * S, "delay_before_retry");
    assert_eq!(
        logs(&ev)[0],
        "SMTP_CHECK Error connecting to server [10.0.0.1]:25"
    );
    assert_eq!(shorts(&ev), vec!["del 10.0.0.1"]);
    // Down: each round still retries once, silently (the checker is no longer up).
    let (t, _, ev) = sim.step(&mut |_| smtp_fail(SmtpFail::ReadTimeout));
    assert_eq!(t, 13 * S, "delay_loop after the verdict");
    assert!(ev.is_empty());
    let (t, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(t, 15 * S);
    assert_eq!(
        logs(&ev)[0],
        "Remote SMTP server [10.0.0.1]:tcp:25 succeed on service."
    );
    assert_eq!(shorts(&ev), vec!["add 10.0.0.1 w1"]);
    let (t, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(t, 25 * S);
    assert!(ev.is_empty());
    // Up again: a failure followed by a success within the retries changes nothing.
    let (_, _, ev) = sim.step(&mut |_| smtp_fail(SmtpFail::BadHelo));
    assert!(ev.is_empty());
    let (t, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(t, 37 * S);
    assert!(ev.is_empty());
    // The other messages.
    let dst = "[10.0.0.1]:25";
    assert_eq!(
        SmtpFail::BadGreeting.message(dst, dst),
        "Bad greeting banner from server [10.0.0.1]:25"
    );
    assert_eq!(
        SmtpFail::NetworkUnreachable.message(dst, "[10.0.0.1]:25"),
        "Network unreachable for server 10.0.0.1 - real server [10.0.0.1]:25"
    );
}

#[test]
fn smtp_check_log_all_failures_logs_every_attempt() {
    let mut vs = one_checker(CheckerKind::Smtp(SmtpSpec::default()), Some(2), Some(S));
    vs.real_servers[0].checkers[0].log_all_failures = true;
    let (mut sim, _) = Sim::new(vec![vs]);
    let mut n = 0;
    for _ in 0..3 {
        let (_, _, ev) = sim.step(&mut |_| smtp_fail(SmtpFail::ReadFailure));
        n += logs(&ev)
            .iter()
            .filter(|l| l.starts_with("SMTP_CHECK Read failure from server"))
            .count();
        if !ops(&ev).is_empty() {
            assert_eq!(shorts(&ev), vec!["del 10.0.0.1"]);
        }
    }
    assert_eq!(n, 3);
    assert!(!sim.c.rs_alive(0, 0));
}

fn dns_fail(f: DnsFail) -> Outcome {
    Outcome::Failure(FailReason::Dns(f))
}

#[test]
fn dns_check_defaults_and_retries_as_keepalived() {
    let (mut sim, _) = Sim::new(vec![one_checker(
        CheckerKind::Dns(DnsSpec::default()),
        None,
        None,
    )]);
    let id = sim.c.checker_ids()[0];
    // retry 3, delay_before_retry = delay_loop.
    assert_eq!(sim.c.conf(id).retry, 3);
    assert_eq!(sim.c.conf(id).delay_before_retry, 10 * S);
    assert_eq!(sim.c.conf(id).target.port(), 25);
    // The first failure after start-up takes it down at once, without "after N retries".
    let (_, _, ev) = sim.step(&mut |_| dns_fail(DnsFail::Rcode(2)));
    assert_eq!(
        logs(&ev)[0],
        "DNS_CHECK ([10.0.0.1]:tcp:25) read error occurred. (rcode = 2)"
    );
    assert_eq!(shorts(&ev), vec!["del 10.0.0.1"]);
    // Down: failures are silent, one per delay_loop.
    let (t, _, ev) = sim.step(&mut |_| dns_fail(DnsFail::ReadTimeout));
    assert_eq!(t, 11 * S);
    assert!(ev.is_empty());
    let (_, _, ev) = sim.step(&mut |_| Outcome::Success);
    assert_eq!(shorts(&ev), vec!["add 10.0.0.1 w1"]);
    // Up: three silent retries a delay_before_retry apart, then down with the count.
    for i in 0..3 {
        let (t, _, ev) = sim.step(&mut |_| dns_fail(DnsFail::ReadTimeout));
        assert_eq!(t, (31 + 10 * i) * S);
        assert!(ev.is_empty(), "{ev:?}");
    }
    let (_, _, ev) = sim.step(&mut |_| dns_fail(DnsFail::ReadError(111)));
    assert_eq!(
        logs(&ev)[0],
        "DNS_CHECK ([10.0.0.1]:tcp:25) failed to read socket; errno 111 (Connection refused) after 3 retries"
    );
    assert_eq!(shorts(&ev), vec!["del 10.0.0.1"]);
}

#[test]
fn dns_check_names_that_cannot_be_encoded_are_refused() {
    let d = DnsSpec {
        qtype: 1,
        name: format!("{}.example", "a".repeat(64)),
    };
    assert!(Checks::new(vec![one_checker(CheckerKind::Dns(d), None, None)]).is_err());
}

fn file_check(weight: i32, reverse: bool) -> CheckerKind {
    CheckerKind::File(FileCheckSpec {
        name: "f".into(),
        path: "/nonexistent/f".into(),
        weight,
        reverse,
        init: None,
    })
}

#[test]
fn file_status_maps_values_to_weights_as_keepalived() {
    // Weight 0: 0 is up, anything else is a fault; reverse swaps them.
    assert_eq!(file_status(0, 0, false), 0);
    assert_eq!(file_status(3, 0, false), IPVS_WEIGHT_FAULT);
    assert_eq!(file_status(-1, 0, false), IPVS_WEIGHT_FAULT);
    assert_eq!(file_status(0, 0, true), IPVS_WEIGHT_FAULT);
    assert_eq!(file_status(7, 0, true), 0);
    // Otherwise value × weight, negated by reverse, clamped to i32.
    assert_eq!(file_status(3, 2, false), 6);
    assert_eq!(file_status(3, 2, true), -6);
    assert_eq!(file_status(-3, -2, false), 6);
    assert_eq!(file_status(1 << 31, i32::MAX, false), i64::from(i32::MAX));
    assert_eq!(file_status(-(1 << 31), 2, false), IPVS_WEIGHT_FAULT);
}

#[test]
fn file_check_weight_zero_takes_the_server_down_on_a_non_zero_value() {
    let mut c = Checks::new(vec![one_checker(file_check(0, false), None, None)]).unwrap();
    assert_eq!(c.track_files().len(), 1);
    c.set_file_initial(0, 1);
    let ev = c.start(Instant::now(), &mut |_| Duration::ZERO);
    // Down from the start: not added, no checker activation, nothing ever due.
    assert!(shorts(&ev).is_empty(), "{ev:?}");
    assert!(logs(&ev).iter().all(|l| !l.contains("healthchecker")));
    assert!(c.next_deadline().is_none());
    assert_eq!(shorts(&c.file_changed(0, 0)), vec!["add 10.0.0.1 w1"]);
    assert!(c.file_changed(0, 0).is_empty(), "same value");
    assert_eq!(shorts(&c.file_changed(0, 5)), vec!["del 10.0.0.1"]);
    assert!(shorts(&c.file_changed(0, -5)).is_empty(), "still a fault");
    assert_eq!(shorts(&c.file_changed(0, 0)), vec!["add 10.0.0.1 w1"]);
}

#[test]
fn file_check_weight_adds_value_times_weight_to_the_server() {
    let mut vs = one_checker(file_check(2, false), None, None);
    vs.real_servers[0].weight = 10;
    let mut c = Checks::new(vec![vs]).unwrap();
    c.set_file_initial(0, 3);
    let ev = c.start(Instant::now(), &mut |_| Duration::ZERO);
    assert_eq!(shorts(&ev), vec!["add 10.0.0.1 w16"]);
    assert_eq!(shorts(&c.file_changed(0, -1)), vec!["edit 10.0.0.1 w8"]);
    // Below zero the server stays in with weight 0.
    assert_eq!(shorts(&c.file_changed(0, -20)), vec!["edit 10.0.0.1 w0"]);
    assert!(c.rs_alive(0, 0));
    assert_eq!(c.rs_weight(0, 0), -30);
    // A fault (value × weight ≤ i32::MIN) takes it down and out of the weight.
    assert_eq!(shorts(&c.file_changed(0, -(1 << 30))), vec!["del 10.0.0.1"]);
    assert_eq!(c.rs_weight(0, 0), 10);
    assert_eq!(shorts(&c.file_changed(0, 1)), vec!["add 10.0.0.1 w12"]);
}

#[test]
fn file_check_reverse_and_removed_files() {
    // Reverse with a weight: the value lowers the weight.
    let mut vs = one_checker(file_check(1, true), None, None);
    vs.real_servers[0].weight = 5;
    let mut c = Checks::new(vec![vs]).unwrap();
    let ev = c.start(Instant::now(), &mut |_| Duration::ZERO);
    assert_eq!(shorts(&ev), vec!["add 10.0.0.1 w5"]);
    assert_eq!(shorts(&c.file_changed(0, 2)), vec!["edit 10.0.0.1 w3"]);
    // Reverse with weight 0: zero is the fault. keepalived starts such a checker up
    // when the file holds 0 (its start-up test only looks at non-zero values); the
    // first change puts it right.
    let mut c = Checks::new(vec![one_checker(file_check(0, true), None, None)]).unwrap();
    let ev = c.start(Instant::now(), &mut |_| Duration::ZERO);
    assert_eq!(shorts(&ev), vec!["add 10.0.0.1 w1"]);
    assert!(shorts(&c.file_changed(0, 4)).is_empty());
    assert_eq!(shorts(&c.file_changed(0, 0)), vec!["del 10.0.0.1"]);
    // A removed track file (its directory does not exist) changes nothing.
    let mut c = Checks::new(vec![one_checker(file_check(0, false), None, None)]).unwrap();
    c.remove_track_file(0);
    let ev = c.start(Instant::now(), &mut |_| Duration::ZERO);
    assert_eq!(shorts(&ev), vec!["add 10.0.0.1 w1"]);
    assert!(c.file_changed(0, 1).is_empty());
}
