//! `vrrp_script`: each script runs once per process on its own timer and its verdict is
//! shared with every instance and sync group that tracks it, as keepalived 2.2.7 does
//! (`vrrp_scheduler.c`: `vrrp_script_thread`, `vrrp_script_child_thread`; `vrrp_track.c`:
//! `update_script_priorities`; `vrrp.c`: `clear_diff_script`).
//!
//! - [`ScriptState`]: the sans-IO rise / fall counter of one script (keepalived's `result`
//!   and `init_state`), fed run outcomes, returning verdict changes and log lines.
//! - [`ScriptRunners`]: one runner task per script, publishing its [`ScriptStatus`] on a
//!   `tokio::sync::watch` channel; the VRRP drivers subscribe ([`ScriptRunners::feeds`]).
//!   [`ScriptRunners::update`] applies a reload: an unchanged script keeps running
//!   untouched, a changed one restarts with its result carried over, a script no one
//!   tracks stops.
//!
//! Weights are not the script's business: each tracker applies its own (`track_script`
//! entry, or the script's `weight`) in [`super::instance::Instance`].

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

/// A `vrrp_script` block: a command run every `interval`, whose exit status feeds the
/// instances that track it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptConfig {
    /// The script name (`vrrp_script NAME`).
    pub name: String,
    /// Program and arguments.
    pub argv: Vec<String>,
    /// `interval` (default 1 s).
    pub interval: Duration,
    /// `timeout`: a run that takes longer is a failure (default: the interval).
    pub timeout: Option<Duration>,
    /// `rise`: successes in a row to go up (default 1).
    pub rise: u32,
    /// `fall`: failures in a row to go down (default 1).
    pub fall: u32,
    /// `init_fail`: the script starts in the failed state instead of "no result yet".
    /// keepalived 2.2.7 resets this whenever a `track_script` names the script (see
    /// docs/compat/keepalived.md); the configuration mapping does the same.
    pub init_fail: bool,
}

impl ScriptConfig {
    /// A script with keepalived's defaults.
    pub fn new(name: &str, argv: Vec<String>) -> ScriptConfig {
        ScriptConfig {
            name: name.to_string(),
            argv,
            interval: Duration::from_secs(1),
            timeout: None,
            rise: 1,
            fall: 1,
            init_fail: false,
        }
    }

    fn rise(&self) -> u32 {
        self.rise.max(1)
    }

    fn fall(&self) -> u32 {
        self.fall.max(1)
    }

    /// How long a run may take (keepalived: `timeout`, else the interval).
    pub fn run_timeout(&self) -> Duration {
        match self.timeout {
            Some(t) if !t.is_zero() => t,
            _ => self.interval,
        }
    }
}

/// keepalived's `script_init_state_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitState {
    /// Started with the daemon, no result yet.
    Init,
    /// Added by a reload, no result yet.
    InitReload,
    /// `init_fail`: failed until it succeeds `rise` times.
    Failed,
    /// Has a result.
    Done,
}

/// How one run of a script ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// Exited with this status (0: success).
    Exited(i32),
    /// Killed by this signal (not ours).
    Signalled(i32),
    /// Still running after the timeout: terminated, a failure.
    TimedOut,
    /// Could not be started (counts as a failure).
    CannotRun,
}

/// What trackers see: the verdict and how many times it changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScriptStatus {
    /// `None`: no result yet (keepalived's INIT states); `Some(up)` otherwise.
    pub up: Option<bool>,
    /// Verdict changes since the script was first started (kept across reloads), so a
    /// tracker that reads late still sees a down-and-up it missed.
    pub changes: u64,
}

/// The rise / fall state of one script, as keepalived's `vrrp_script_t` (`result`,
/// `init_state`, `last_status`). Sans-IO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptState {
    name: String,
    rise: u32,
    fall: u32,
    /// 0..rise+fall: up when `>= rise`.
    result: u32,
    init: InitState,
    last_status: i32,
    changes: u64,
}

impl ScriptState {
    /// The state of a script started with the daemon (`reload` false) or added by a
    /// reload (`vrrp_init_script`: "one success is enough", or failed with `init_fail`).
    pub fn new(cfg: &ScriptConfig, reload: bool) -> ScriptState {
        let init = if cfg.init_fail {
            InitState::Failed
        } else if reload {
            InitState::InitReload
        } else {
            InitState::Init
        };
        ScriptState {
            name: cfg.name.clone(),
            rise: cfg.rise(),
            fall: cfg.fall(),
            result: if init == InitState::Failed {
                0
            } else {
                cfg.rise() - 1
            },
            init,
            last_status: 0,
            changes: 0,
        }
    }

    /// keepalived's `init_state`.
    pub fn init_state(&self) -> InitState {
        self.init
    }

    /// The verdict: `None` before the first result (unless `init_fail`).
    pub fn up(&self) -> Option<bool> {
        match self.init {
            InitState::Init | InitState::InitReload => None,
            InitState::Failed | InitState::Done => Some(self.result >= self.rise),
        }
    }

    /// What trackers see.
    pub fn status(&self) -> ScriptStatus {
        ScriptStatus {
            up: self.up(),
            changes: self.changes,
        }
    }

    /// One run ended (`vrrp_script_child_thread`). Returns the new verdict when it
    /// changed, and keepalived's log lines.
    pub fn on_result(&mut self, outcome: RunOutcome) -> (Option<bool>, Vec<String>) {
        let mut log = Vec::new();
        let (ok, exit_type, reason) = match outcome {
            RunOutcome::Exited(status) => {
                if status != self.last_status {
                    log.push(format!("Script `{}` now returning {status}", self.name));
                }
                self.last_status = status;
                if status == 0 {
                    (true, "succeeded", None)
                } else {
                    (
                        false,
                        "failed",
                        Some(format!("exited with status {status}")),
                    )
                }
            }
            RunOutcome::Signalled(sig) => (false, "failed", Some(format!("due to signal {sig}"))),
            RunOutcome::TimedOut => (false, "timed_out", None),
            RunOutcome::CannotRun => (false, "failed", Some("cannot run".to_string())),
        };
        let (rise, fall) = (self.rise, self.fall);
        let mut changed = None;
        if ok {
            if self.result < rise - 1 {
                self.result += 1;
            } else if self.result != rise + fall - 1 {
                if self.result < rise {
                    log.push(format!("VRRP_Script({}) {exit_type}", self.name));
                    changed = Some(true);
                }
                self.result = rise + fall - 1;
            }
        } else if self.result > rise {
            self.result -= 1;
        } else {
            if self.result == rise || matches!(self.init, InitState::Init | InitState::InitReload) {
                log.push(match &reason {
                    Some(r) => format!("VRRP_Script({}) {exit_type} ({r})", self.name),
                    None => format!("VRRP_Script({}) {exit_type}", self.name),
                });
                changed = Some(false);
            }
            self.result = 0;
        }
        self.init = InitState::Done;
        if changed.is_some() {
            self.changes += 1;
        }
        (changed, log)
    }

    /// The state a reload gives the new definition `new` of this script
    /// (`clear_diff_script`): a script without a result keeps waiting for its first one;
    /// otherwise the counter is moved onto the new `rise` / `fall`, keeping the verdict.
    /// Returns keepalived's log line when the verdict is carried over.
    pub fn reloaded(&self, new: &ScriptConfig) -> (ScriptState, Option<String>) {
        let mut n = ScriptState::new(new, true);
        n.changes = self.changes;
        match self.init {
            InitState::Init => {
                n.init = InitState::Init;
                n.result = n.rise - 1;
                return (n, None);
            }
            InitState::InitReload => {
                n.init = InitState::InitReload;
                n.result = n.rise - 1;
                return (n, None);
            }
            InitState::Failed | InitState::Done => {}
        }
        let log;
        if self.result < self.rise {
            n.result = if self.result == 0 {
                0
            } else {
                n.rise.saturating_sub(self.rise - self.result)
            };
            log = format!("VRRP_Script({}) considered unsuccessful on reload", n.name);
        } else {
            n.result = if self.result == self.rise + self.fall - 1 {
                n.rise + n.fall - 1
            } else {
                (n.rise + (self.result - self.rise)).min(n.rise + n.fall - 1)
            };
            log = format!("VRRP_Script({}) considered successful on reload", n.name);
        }
        n.last_status = self.last_status;
        n.init = InitState::Done;
        (n, Some(log))
    }
}

/// What a tracker that last saw `last` must feed its instances now that the script shows
/// `now`: the new verdict, preceded by the opposite one when the verdict flipped an even
/// number of times in between (a down-and-up it would otherwise miss).
pub fn track_updates(last: ScriptStatus, now: ScriptStatus) -> Vec<bool> {
    let Some(up) = now.up else {
        return Vec::new();
    };
    match now.changes.saturating_sub(last.changes) {
        0 if last.up == now.up => Vec::new(),
        0 | 1 => vec![up],
        // Two flips or more: the last two are what counts.
        _ => vec![!up, up],
    }
}

/// The status channels of the scripts a driver tracks, by script name.
pub type ScriptFeeds = HashMap<String, watch::Receiver<ScriptStatus>>;

struct Entry {
    cfg: ScriptConfig,
    tx: watch::Sender<ScriptStatus>,
    /// The state the runner works on (the runner's copy is the live one; this one is
    /// refreshed through `state_rx` for reloads).
    state_rx: watch::Receiver<ScriptState>,
    task: JoinHandle<()>,
}

/// The script runners of the process: one task per tracked `vrrp_script`. Dropping it
/// stops them. Needs a tokio runtime; meant for a current-thread one (a changed script's
/// old runner is aborted before its successor starts).
#[derive(Default)]
pub struct ScriptRunners {
    entries: HashMap<String, Entry>,
}

impl ScriptRunners {
    /// No scripts.
    pub fn new() -> ScriptRunners {
        ScriptRunners::default()
    }

    /// Run exactly `scripts` (the tracked ones): start new scripts, keep unchanged ones
    /// running untouched (their timer and result), restart changed ones with their result
    /// carried over (keepalived's `clear_diff_script`), stop the others. `reload` is false
    /// for the first call (new scripts start in keepalived's INIT, else INIT_RELOAD).
    pub fn update(&mut self, scripts: &[ScriptConfig], reload: bool) {
        self.entries.retain(|name, e| {
            let keep = scripts.iter().any(|s| s.name == *name);
            if !keep {
                info!("VRRP_Script({name}) no longer tracked: stopped");
                e.task.abort();
            }
            keep
        });
        for s in scripts {
            match self.entries.get_mut(&s.name) {
                Some(e) if e.cfg == *s => {}
                Some(e) => {
                    e.task.abort();
                    let (state, log) = e.state_rx.borrow().reloaded(s);
                    if let Some(l) = log {
                        info!("{l}");
                    }
                    let _ = e.tx.send(state.status());
                    let (state_tx, state_rx) = watch::channel(state.clone());
                    e.task = tokio::spawn(run_script(s.clone(), state, e.tx.clone(), state_tx));
                    e.state_rx = state_rx;
                    e.cfg = s.clone();
                }
                None => {
                    let state = ScriptState::new(s, reload);
                    let (tx, _) = watch::channel(state.status());
                    let (state_tx, state_rx) = watch::channel(state.clone());
                    let task = tokio::spawn(run_script(s.clone(), state, tx.clone(), state_tx));
                    self.entries.insert(
                        s.name.clone(),
                        Entry {
                            cfg: s.clone(),
                            tx,
                            state_rx,
                            task,
                        },
                    );
                }
            }
        }
    }

    /// The status channels of `names` that run here (others are left out: their trackers
    /// see no result).
    pub fn feeds<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> ScriptFeeds {
        names
            .into_iter()
            .filter_map(|n| {
                self.entries
                    .get(n)
                    .map(|e| (n.to_string(), e.tx.subscribe()))
            })
            .collect()
    }

    /// The scripts running now (for logs and tests).
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.entries.keys().cloned().collect();
        v.sort();
        v
    }

    /// The current state of script `name`.
    pub fn state(&self, name: &str) -> Option<ScriptState> {
        self.entries.get(name).map(|e| e.state_rx.borrow().clone())
    }
}

impl Drop for ScriptRunners {
    fn drop(&mut self) {
        for e in self.entries.values() {
            e.task.abort();
        }
    }
}

/// Run one script: now, then every `interval`; publish every result.
async fn run_script(
    cfg: ScriptConfig,
    mut state: ScriptState,
    tx: watch::Sender<ScriptStatus>,
    state_tx: watch::Sender<ScriptState>,
) {
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let outcome = run_once(&cfg).await;
        let (_, log) = state.on_result(outcome);
        for l in log {
            info!("{l}");
        }
        let _ = state_tx.send(state.clone());
        let _ = tx.send(state.status());
    }
}

/// One run of a script, in a process group of its own; at the timeout the group gets
/// SIGTERM, and SIGKILL 2 s later if the script is still there (keepalived's order).
async fn run_once(cfg: &ScriptConfig) -> RunOutcome {
    let Some((prog, args)) = cfg.argv.split_first() else {
        return RunOutcome::CannotRun;
    };
    let child = tokio::process::Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            warn!("VRRP_Script({}) cannot run {prog}: {e}", cfg.name);
            return RunOutcome::CannotRun;
        }
    };
    match tokio::time::timeout(cfg.run_timeout(), child.wait()).await {
        Ok(Ok(st)) => outcome_of(st),
        Ok(Err(e)) => {
            warn!("VRRP_Script({}) wait: {e}", cfg.name);
            RunOutcome::CannotRun
        }
        Err(_) => {
            let pgid = child.id().map(|p| nix::unistd::Pid::from_raw(p as i32));
            if let Some(pg) = pgid {
                let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGTERM);
            }
            if tokio::time::timeout(Duration::from_secs(2), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
            if let Some(pg) = pgid {
                // What the script started goes too.
                let _ = nix::sys::signal::killpg(pg, nix::sys::signal::Signal::SIGKILL);
            }
            RunOutcome::TimedOut
        }
    }
}

fn outcome_of(st: std::process::ExitStatus) -> RunOutcome {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => RunOutcome::Exited(c),
        (None, Some(s)) => RunOutcome::Signalled(s),
        (None, None) => RunOutcome::CannotRun,
    }
}

#[cfg(test)]
mod tests;
