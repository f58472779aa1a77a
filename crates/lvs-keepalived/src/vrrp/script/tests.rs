use super::*;

fn cfg(rise: u32, fall: u32) -> ScriptConfig {
    ScriptConfig {
        rise,
        fall,
        ..ScriptConfig::new("chk", vec!["/bin/true".into()])
    }
}

const OK: RunOutcome = RunOutcome::Exited(0);
const BAD: RunOutcome = RunOutcome::Exited(1);

/// Feed `runs`; the verdict after each run.
fn verdicts(s: &mut ScriptState, runs: &[RunOutcome]) -> Vec<Option<bool>> {
    runs.iter()
        .map(|r| {
            s.on_result(*r);
            s.up()
        })
        .collect()
}

#[test]
fn first_result_counts_at_once_either_way() {
    let mut s = ScriptState::new(&cfg(3, 3), false);
    assert_eq!(s.up(), None);
    assert_eq!(s.init_state(), InitState::Init);
    let (ch, log) = s.on_result(OK);
    assert_eq!(ch, Some(true));
    assert_eq!(log, ["VRRP_Script(chk) succeeded"]);
    let mut s = ScriptState::new(&cfg(3, 3), false);
    let (ch, log) = s.on_result(BAD);
    assert_eq!(ch, Some(false));
    assert_eq!(
        log,
        [
            "Script `chk` now returning 1",
            "VRRP_Script(chk) failed (exited with status 1)"
        ]
    );
    assert_eq!(s.init_state(), InitState::Done);
}

#[test]
fn fall_and_rise_need_results_in_a_row() {
    let mut s = ScriptState::new(&cfg(2, 3), false);
    s.on_result(OK);
    // Two failures, a success (resets), three failures: down on the third.
    let v = verdicts(&mut s, &[BAD, BAD, OK, BAD, BAD, BAD]);
    let up = Some(true);
    let down = Some(false);
    assert_eq!(v, [up, up, up, up, up, down]);
    // One success, a failure (resets), two successes: up on the second.
    let v = verdicts(&mut s, &[OK, BAD, OK, OK]);
    assert_eq!(v, [down, down, down, up]);
    assert_eq!(s.status().changes, 3);
}

#[test]
fn timeouts_and_signals_are_failures() {
    let mut s = ScriptState::new(&cfg(1, 1), false);
    s.on_result(OK);
    let (ch, log) = s.on_result(RunOutcome::TimedOut);
    assert_eq!(ch, Some(false));
    assert_eq!(log, ["VRRP_Script(chk) timed_out"]);
    s.on_result(OK);
    let (ch, log) = s.on_result(RunOutcome::Signalled(9));
    assert_eq!(ch, Some(false));
    assert_eq!(log, ["VRRP_Script(chk) failed (due to signal 9)"]);
}

#[test]
fn init_fail_starts_down_and_needs_rise_successes() {
    let c = ScriptConfig {
        init_fail: true,
        ..cfg(2, 1)
    };
    let mut s = ScriptState::new(&c, false);
    assert_eq!(s.up(), Some(false));
    // A failure changes nothing (already down, no log of a transition).
    let (ch, _) = s.on_result(BAD);
    assert_eq!(ch, None);
    assert_eq!(verdicts(&mut s, &[OK, OK]), [Some(false), Some(true)]);
}

#[test]
fn reload_carries_the_result_onto_the_new_rise_fall() {
    // Up with a full counter: stays up, full on the new scale.
    let mut s = ScriptState::new(&cfg(2, 2), false);
    s.on_result(OK);
    let (n, log) = s.reloaded(&cfg(3, 4));
    assert_eq!(
        log.as_deref(),
        Some("VRRP_Script(chk) considered successful on reload")
    );
    assert_eq!(n.up(), Some(true));
    // Four failures in a row now needed.
    let mut n2 = n.clone();
    assert_eq!(
        verdicts(&mut n2, &[BAD, BAD, BAD, BAD]),
        [Some(true), Some(true), Some(true), Some(false)]
    );
    // Down, one success into rise 3 (two to go): two to go with rise 4 too.
    let mut s = ScriptState::new(&cfg(3, 1), false);
    s.on_result(BAD);
    s.on_result(OK);
    let (mut n, log) = s.reloaded(&cfg(4, 1));
    assert_eq!(
        log.as_deref(),
        Some("VRRP_Script(chk) considered unsuccessful on reload")
    );
    assert_eq!(n.up(), Some(false));
    assert_eq!(verdicts(&mut n, &[OK, OK]), [Some(false), Some(true)]);
    // No result yet: still none, the first result counts at once.
    let s = ScriptState::new(&cfg(3, 3), false);
    let (mut n, log) = s.reloaded(&cfg(2, 2));
    assert_eq!((n.up(), log), (None, None));
    assert_eq!(n.init_state(), InitState::Init);
    assert_eq!(n.on_result(BAD).0, Some(false));
}

#[test]
fn new_script_on_reload_is_init_reload() {
    let s = ScriptState::new(&cfg(1, 1), true);
    assert_eq!((s.init_state(), s.up()), (InitState::InitReload, None));
}

#[test]
fn zero_timeout_means_the_interval() {
    let mut c = cfg(1, 1);
    c.interval = Duration::from_secs(3);
    assert_eq!(c.run_timeout(), Duration::from_secs(3));
    c.timeout = Some(Duration::ZERO);
    assert_eq!(c.run_timeout(), Duration::from_secs(3));
    c.timeout = Some(Duration::from_secs(1));
    assert_eq!(c.run_timeout(), Duration::from_secs(1));
}

#[test]
fn track_updates_replay_missed_flips() {
    let st = |up, changes| ScriptStatus { up, changes };
    assert_eq!(track_updates(st(None, 0), st(Some(true), 1)), [true]);
    assert_eq!(
        track_updates(st(Some(true), 1), st(Some(true), 1)),
        [] as [bool; 0]
    );
    assert_eq!(
        track_updates(st(Some(true), 1), st(Some(false), 2)),
        [false]
    );
    // Down and up again between two reads: the tracker still sees both.
    assert_eq!(
        track_updates(st(Some(true), 1), st(Some(true), 3)),
        [false, true]
    );
    assert_eq!(
        track_updates(st(Some(true), 1), st(Some(false), 4)),
        [true, false]
    );
}

// The runners, with real processes (no root needed).

struct TmpDir(std::path::PathBuf);

impl TmpDir {
    fn new(tag: &str) -> TmpDir {
        let d = std::env::temp_dir().join(format!("lvs-ka-script-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TmpDir(d)
    }
    fn runs(&self) -> usize {
        std::fs::read_to_string(self.0.join("runs"))
            .unwrap_or_default()
            .lines()
            .count()
    }
    fn set_ok(&self, ok: bool) {
        let f = self.0.join("ok");
        if ok {
            std::fs::write(f, "").unwrap();
        } else {
            let _ = std::fs::remove_file(f);
        }
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A script that appends a line per run and succeeds while `ok` exists.
fn file_script(dir: &TmpDir, name: &str, interval_ms: u64, rise: u32, fall: u32) -> ScriptConfig {
    let d = dir.0.display();
    ScriptConfig {
        interval: Duration::from_millis(interval_ms),
        rise,
        fall,
        ..ScriptConfig::new(
            name,
            vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("echo run >> {d}/runs; test -e {d}/ok"),
            ],
        )
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Record every status a feed shows, as a tracker does.
fn record(mut rx: watch::Receiver<ScriptStatus>) -> JoinHandle<Vec<bool>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut last = *rx.borrow_and_update();
        if let Some(up) = last.up {
            seen.push(up);
        }
        while rx.changed().await.is_ok() {
            let now = *rx.borrow_and_update();
            seen.extend(track_updates(last, now));
            last = now;
        }
        seen
    })
}

async fn wait_runs(dir: &TmpDir, n: usize) {
    let t0 = std::time::Instant::now();
    while dir.runs() < n {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the script did not run {n} times"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One runner, two trackers with different weights: the script runs once per interval
/// (not once per tracker), rise / fall are counted once, and both trackers see the same
/// transitions, each applying its own weight.
#[test]
fn one_runner_feeds_two_trackers() {
    use crate::vrrp::instance::{Input, Instance, InstanceConfig, Track, TrackKind, Vip};
    let dir = TmpDir::new("two");
    block_on(async {
        dir.set_ok(true);
        let mut runners = ScriptRunners::new();
        let s = file_script(&dir, "chk", 100, 2, 2);
        runners.update(std::slice::from_ref(&s), false);
        let a = record(runners.feeds(["chk"]).remove("chk").unwrap());
        let b = record(runners.feeds(["chk"]).remove("chk").unwrap());
        let t0 = std::time::Instant::now();
        wait_runs(&dir, 3).await;
        dir.set_ok(false);
        // fall 2: down after two failed runs (counted once, not once per tracker).
        let n = dir.runs();
        wait_runs(&dir, n + 3).await;
        assert_eq!(runners.state("chk").unwrap().up(), Some(false));
        dir.set_ok(true);
        let n = dir.runs();
        wait_runs(&dir, n + 3).await;
        assert_eq!(runners.state("chk").unwrap().up(), Some(true));
        let elapsed = t0.elapsed();
        let runs = dir.runs();
        // Once per interval (the first at once), whatever the number of trackers.
        let most = (elapsed.as_millis() / 100) as usize + 2;
        assert!(runs <= most, "{runs} runs in {elapsed:?}");
        drop(runners);
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert_eq!(a, [true, false, true]);
        assert_eq!(a, b);

        // Each tracker applies its own weight to the same transitions.
        let inst = |name: &str, weight: i32| {
            let mut c = InstanceConfig::new(
                name,
                "eth0",
                1,
                vec![Vip::host("10.0.0.1".parse().unwrap())],
            );
            c.tracks.push(Track {
                kind: TrackKind::Script,
                name: "chk".into(),
                weight,
                reverse: false,
            });
            let mut i = Instance::new(c);
            i.handle(Duration::ZERO, Input::Start);
            i
        };
        let (mut x, mut y) = (inst("VI_1", -10), inst("VI_2", -30));
        let mut prios = Vec::new();
        for up in &a {
            for i in [&mut x, &mut y] {
                i.handle(
                    Duration::ZERO,
                    Input::Track {
                        kind: TrackKind::Script,
                        name: "chk",
                        up: *up,
                    },
                );
            }
            prios.push((x.effective_priority(), y.effective_priority()));
        }
        assert_eq!(prios, [(100, 100), (90, 70), (100, 100)]);
    });
}

/// A reload keeps an unchanged script running untouched (its result and counter), restarts
/// a changed one with its verdict carried over, stops one no longer tracked and starts a
/// new one in keepalived's INIT_RELOAD.
#[test]
fn reload_keeps_unchanged_and_restarts_changed() {
    let da = TmpDir::new("ra");
    let db = TmpDir::new("rb");
    let dc = TmpDir::new("rc");
    block_on(async {
        da.set_ok(true);
        db.set_ok(false);
        let a = file_script(&da, "a", 100, 1, 3);
        let b = file_script(&db, "b", 100, 1, 1);
        let mut runners = ScriptRunners::new();
        runners.update(&[a.clone(), b.clone()], false);
        let feed_a = runners.feeds(["a"]).remove("a").unwrap();
        let feed_b = runners.feeds(["b"]).remove("b").unwrap();
        wait_runs(&da, 2).await;
        wait_runs(&db, 2).await;
        // a: up, with one failure counted (fall 3: two more needed).
        da.set_ok(false);
        let n = da.runs();
        wait_runs(&da, n + 1).await;
        let before_a = runners.state("a").unwrap();
        assert_eq!(before_a.up(), Some(true));
        assert_eq!(runners.state("b").unwrap().up(), Some(false));

        // b changes (rise 3), c is new, a is unchanged.
        let b2 = ScriptConfig {
            rise: 3,
            ..b.clone()
        };
        let c = file_script(&dc, "c", 100, 1, 1);
        runners.update(&[a.clone(), b2, c], true);
        // a's state is untouched.
        assert_eq!(runners.state("a").unwrap(), before_a);
        // b restarted: carried over as down (not a fresh "no result yet").
        let sb = runners.state("b").unwrap();
        assert_eq!((sb.init_state(), sb.up()), (InitState::Done, Some(false)));
        assert_eq!(
            runners.state("c").unwrap().init_state(),
            InitState::InitReload
        );
        // The trackers' channels are the same ones.
        assert!(feed_a.has_changed().is_ok() && feed_b.has_changed().is_ok());
        // a keeps failing: down at its third failure in a row.
        let n = da.runs();
        wait_runs(&da, n + 3).await;
        assert_eq!(runners.state("a").unwrap().up(), Some(false));
        // b needs 3 successes now (at most 2 counted when its next run starts).
        db.set_ok(true);
        let n = db.runs();
        wait_runs(&db, n + 1).await;
        let sb = runners.state("b").unwrap();
        assert_eq!(sb.up(), Some(false), "{sb:?}");
        let n = db.runs();
        wait_runs(&db, n + 4).await;
        assert_eq!(runners.state("b").unwrap().up(), Some(true));

        // a no longer tracked: stopped, its channel closed.
        runners.update(&[], true);
        assert!(runners.names().is_empty());
        let n = da.runs();
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(da.runs() <= n + 1, "a stopped");
        let mut feed_a = feed_a;
        feed_a.borrow_and_update();
        assert!(feed_a.changed().await.is_err());
        drop(feed_b);
    });
}
