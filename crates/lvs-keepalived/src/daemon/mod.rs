//! Running lvs-keepalived: the VRRP instances, the health checkers and the bridge to lvsd,
//! in one process (keepalived forks a VRRP and a checker child; we run both as tasks of
//! one tokio runtime, `-P` / `-C` keep one of them only).
//!
//! - Start: the configuration is loaded (keepalived's own rules, [`crate::conf`]); lvsd is
//!   given the virtual services with one transactional apply ([`map::desired_config`]), the
//!   checkers put the real servers in ([`crate::check`]), the VRRP instances start
//!   ([`crate::vrrp`]); with `lvs_sync_daemon`, lvsd's sync daemon follows the named
//!   instance (backup at start, master while the instance is MASTER, as keepalived's
//!   `ipvs_syncd_master` / `ipvs_syncd_backup`).
//! - SIGHUP: reload. The new file is loaded (a file that does not load is logged and the
//!   running configuration stays); lvsd gets the new services in one apply that leaves the
//!   services and real servers that stay untouched (their connections survive); checkers
//!   restart on the new specifications; a VRRP instance (or a `vrrp_sync_group` with its
//!   members) keeps running untouched when its part of the configuration did not change
//!   (otherwise it restarts).
//! - SIGTERM / SIGINT: masters resign (priority 0), checkers stop, and the services this
//!   process added are removed from lvsd (unless `--dont-release-ipvs`), as keepalived's
//!   `clear_services`.

pub mod map;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lvs_api::client::Client;
use lvs_api::{ServiceKey, SyncDaemonSpec, SyncRole};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::check::driver::{CheckerHandle, LvsdSink, run_checkers};
use crate::check::state::Checks;
use crate::conf::{self, LoadOptions, SystemEnv, model::Config};
use crate::vrrp::{
    DriverError, ScriptFeeds, ScriptRunners, State, StateEvent, VrrpConfig, run_vrrp_shared,
};

/// What the command line asks for.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `-f`: the configuration file.
    pub conf_file: String,
    /// `-i`: `@ID` lines apply.
    pub config_id: Option<String>,
    /// `-P`: VRRP only (no lvsd needed).
    pub vrrp_only: bool,
    /// `-C`: checkers only.
    pub check_only: bool,
    /// `-I`: leave lvsd's services in place on exit.
    pub dont_release_ipvs: bool,
    /// `-p`, `-r`, `-c`: pid files (all name this one process).
    pub pid_files: Vec<String>,
}

/// Load the configuration; `None` (after logging why) when it cannot run.
fn load(opts: &RunOptions) -> Option<Config> {
    let lo = LoadOptions {
        config_id: opts.config_id.clone(),
        ..LoadOptions::default()
    };
    // keepalived -t accepts a missing file (exit 0); a daemon without its file is a mistake.
    if !opts.conf_file.contains(['*', '?', '[']) && !std::path::Path::new(&opts.conf_file).is_file()
    {
        error!(
            "{}: the configuration cannot run: not a readable file",
            opts.conf_file
        );
        return None;
    }
    let loaded = conf::load_file(&opts.conf_file, &lo, &SystemEnv);
    for d in loaded.diagnostics.reported() {
        warn!("{d}");
    }
    // 4: the configuration cannot run (no file, bad interface). 6 (scripts without
    // `enable_script_security`) is a warning for the daemon, as for keepalived: it logs
    // the SECURITY VIOLATION line (above) and runs.
    if loaded.exit_status == 4 {
        error!(
            "{}: the configuration cannot run (keepalived -t would exit {})",
            opts.conf_file, loaded.exit_status
        );
        return None;
    }
    Some(loaded.config)
}

/// Run until SIGTERM/SIGINT; returns the exit status.
pub fn run(opts: RunOptions) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("tokio runtime: {e}");
            return 1;
        }
    };
    rt.block_on(run_async(opts))
}

/// A blocking lvsd call, off the runtime's thread.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

/// Shared with the VRRP observer: what to do when an instance changes state.
#[derive(Default)]
struct ObserverCtx {
    /// Checkers to tell about addresses (ha_suspend).
    checker: Option<CheckerHandle>,
    /// Instance name → its VIPs.
    addresses: HashMap<String, Vec<IpAddr>>,
    /// `lvs_sync_daemon`: backup spec, master spec, the instance it follows.
    sync: Option<(SyncDaemonSpec, SyncDaemonSpec, Option<String>)>,
    /// lvsd (None with `-P`).
    client: Option<Client>,
    /// The role lvsd's sync daemon was last switched to.
    sync_role: Option<SyncRole>,
}

type Shared = Arc<Mutex<ObserverCtx>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, ObserverCtx> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// Switch lvsd's sync daemon to `role` (stop the other role, start this one), as
/// keepalived's `ipvs_syncd_master` / `ipvs_syncd_backup`.
async fn switch_sync(ctx: &Shared, role: SyncRole) {
    let (client, spec) = {
        let mut c = lock(ctx);
        let Some((backup, master, _)) = c.sync.clone() else {
            return;
        };
        let Some(client) = c.client.clone() else {
            return;
        };
        if c.sync_role == Some(role) {
            return;
        }
        c.sync_role = Some(role);
        (
            client,
            if role == SyncRole::Master {
                master
            } else {
                backup
            },
        )
    };
    let other = if role == SyncRole::Master {
        SyncRole::Backup
    } else {
        SyncRole::Master
    };
    let r = blocking(move || {
        let _ = client.stop_sync_daemon(other);
        client.start_sync_daemon(&spec)
    })
    .await;
    match r {
        Some(Ok(())) => info!("lvs sync daemon: {role:?} on {}", "lvsd"),
        Some(Err(e)) => warn!("lvs sync daemon {role:?}: {e}"),
        None => {}
    }
}

async fn observe(ctx: Shared, mut rx: mpsc::UnboundedReceiver<StateEvent>) {
    let mut master: HashSet<String> = HashSet::new();
    while let Some(ev) = rx.recv().await {
        let was = master.contains(&ev.instance);
        let is = ev.state == State::Master;
        if was == is {
            continue;
        }
        if is {
            master.insert(ev.instance.clone());
        } else {
            master.remove(&ev.instance);
        }
        let follows_sync = {
            let c = lock(&ctx);
            if let Some(h) = &c.checker {
                for a in c.addresses.get(&ev.instance).into_iter().flatten() {
                    if is {
                        h.address_added(*a);
                    } else {
                        h.address_removed(*a);
                    }
                }
            }
            c.sync
                .as_ref()
                .is_some_and(|(_, _, inst)| inst.as_deref() == Some(ev.instance.as_str()))
        };
        if follows_sync {
            switch_sync(
                &ctx,
                if is {
                    SyncRole::Master
                } else {
                    SyncRole::Backup
                },
            )
            .await;
        }
    }
}

struct VrrpRun {
    cfg: VrrpConfig,
    generation: u64,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A VRRP run that ended by itself (not through [`VrrpRun::stop`]): its generation and
/// the error, if any.
type VrrpExit = (u64, Option<DriverError>);

impl VrrpRun {
    fn start(
        cfg: VrrpConfig,
        feeds: ScriptFeeds,
        ctx: &Shared,
        generation: u64,
        exits: &mpsc::UnboundedSender<VrrpExit>,
    ) -> VrrpRun {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(observe(ctx.clone(), rx));
        let (stop, stopped) = oneshot::channel::<()>();
        let run_cfg = cfg.clone();
        let exits = exits.clone();
        let task = tokio::spawn(async move {
            let (stop_seen_tx, stop_seen) = oneshot::channel::<()>();
            let r = run_vrrp_shared(run_cfg, Some(tx), feeds, async move {
                let _ = stopped.await;
                let _ = stop_seen_tx.send(());
            })
            .await;
            let asked = stop_seen.await.is_ok();
            match r {
                Err(e) if asked => error!("VRRP: {e}"),
                Err(e) => {
                    let _ = exits.send((generation, Some(e)));
                }
                Ok(()) if !asked => {
                    let _ = exits.send((generation, None));
                }
                Ok(()) => {}
            }
        });
        VrrpRun {
            cfg,
            generation,
            stop,
            task,
        }
    }

    /// Whether `new` can keep this run going: the same instances and groups. The scripts
    /// it tracks run apart ([`ScriptRunners`]), so a changed script does not restart it.
    fn same_unit(&self, new: &VrrpConfig) -> bool {
        self.cfg.instances == new.instances && self.cfg.groups == new.groups
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            error!("VRRP task: {e}");
        }
    }
}

struct CheckRun {
    handle: CheckerHandle,
    task: JoinHandle<()>,
    sink: LvsdSink,
}

impl CheckRun {
    async fn stop(self, remove_dests: bool) {
        self.handle.shutdown(remove_dests);
        let _ = self.task.await;
        let sink = self.sink;
        let _ = blocking(move || sink.finish()).await;
    }
}

/// Wait (logging once) until lvsd answers.
async fn lvsd_config(client: &Client) -> lvs_api::Config {
    let mut warned = false;
    loop {
        let c = client.clone();
        match blocking(move || c.config()).await {
            Some(Ok(cfg)) => return cfg,
            Some(Err(e)) if !warned => {
                warn!("lvsd is not answering ({e}); retrying every second");
                warned = true;
            }
            Some(Err(_)) | None => {}
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Give lvsd the services of `config` (diffed against what it has), then start checkers.
async fn start_checkers(
    config: &Config,
    client: &Client,
    previous: &HashSet<ServiceKey>,
) -> Option<CheckRun> {
    let current = lvsd_config(client).await;
    let desired = map::desired_config(config, &current, previous);
    let c = client.clone();
    match blocking(move || c.apply_config(&desired)).await {
        Some(Ok(s)) => info!(
            "lvsd: services +{} ~{} -{}, real servers +{} ~{} -{}",
            s.services_added,
            s.services_edited,
            s.services_deleted,
            s.dests_added,
            s.dests_edited,
            s.dests_deleted
        ),
        Some(Err(e)) => error!("lvsd refused the virtual servers (nothing applied): {e}"),
        None => {}
    }
    let (specs, warnings) = map::checker_specs(config);
    for w in warnings {
        warn!("{w}");
    }
    let checks = match Checks::new(specs) {
        Ok(c) => c,
        Err(e) => {
            error!("health checkers not started: {e}");
            return None;
        }
    };
    let sink = LvsdSink::spawn(client.clone(), |l| info!("{l}"));
    let (handle, rx) = CheckerHandle::new();
    let task = tokio::spawn(run_checkers(checks, sink.emitter(), rx));
    Some(CheckRun { handle, task, sink })
}

fn write_pid_files(files: &[String]) {
    for f in files {
        if let Err(e) = std::fs::write(f, format!("{}\n", std::process::id())) {
            warn!("pid file {f}: {e}");
        }
    }
}

fn sync_specs(config: &Config) -> Option<(SyncDaemonSpec, SyncDaemonSpec, Option<String>)> {
    let (backup, inst) = map::sync_daemon(config, SyncRole::Backup)?;
    let (master, _) = map::sync_daemon(config, SyncRole::Master)?;
    Some((backup, master, inst))
}

fn addresses(config: &Config) -> HashMap<String, Vec<IpAddr>> {
    config
        .vrrp_instances
        .iter()
        .map(|i| (i.name.clone(), map::instance_addresses(config, &i.name)))
        .collect()
}

async fn run_async(opts: RunOptions) -> i32 {
    let Some(mut config) = load(&opts) else {
        return 1;
    };
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        error!("installing signal handlers failed");
        return 1;
    };
    write_pid_files(&opts.pid_files);
    info!("Starting lvs-keepalived (keepalived 2.2.7 compatible)");
    let client = (!opts.vrrp_only).then(|| Client::new(Client::socket_path(None)));
    let ctx: Shared = Arc::new(Mutex::new(ObserverCtx {
        client: client.clone(),
        sync: sync_specs(&config),
        addresses: addresses(&config),
        ..ObserverCtx::default()
    }));
    // The sync daemon starts as a backup, as keepalived's does.
    if !opts.vrrp_only {
        switch_sync(&ctx, SyncRole::Backup).await;
    }
    let mut owned: HashSet<ServiceKey> = HashSet::new();
    let mut checks = None;
    if let (Some(client), false) = (&client, opts.vrrp_only) {
        checks = start_checkers(&config, client, &owned).await;
        owned = map::owned_services(&config);
        lock(&ctx).checker = checks.as_ref().map(|c| c.handle.clone());
    }
    // One VRRP driver per instance not in a sync group and one per sync group (its
    // members together), so that a reload restarts only what changed: a group whose
    // configuration or any member's changed restarts with all its members.
    let mut vrrp: HashMap<String, VrrpRun> = HashMap::new();
    // Each tracked `vrrp_script` runs once here, whatever the number of units tracking it
    // (keepalived's one timer per script); the units subscribe to its verdicts.
    let mut scripts = ScriptRunners::new();
    let mut generation = 0u64;
    let (exits_tx, mut exits) = mpsc::unbounded_channel::<VrrpExit>();
    if !opts.check_only {
        let (cfg, warnings) = map::vrrp_config(&config);
        for w in warnings {
            warn!("{w}");
        }
        scripts.update(&cfg.scripts, false);
        for (name, c) in map::vrrp_units(&cfg) {
            generation += 1;
            let feeds = scripts.feeds(c.scripts.iter().map(|s| s.name.as_str()));
            vrrp.insert(name, VrrpRun::start(c, feeds, &ctx, generation, &exits_tx));
        }
    }

    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            Some((g, e)) = exits.recv() => {
                if !vrrp.values().any(|v| v.generation == g) {
                    continue;
                }
                for (_, v) in vrrp.drain() {
                    v.stop().await;
                }
                match e {
                    Some(e) => error!("VRRP: {e}; exiting"),
                    None => error!("VRRP stopped; exiting"),
                }
                stop_checks(checks.take(), &client, &owned, &opts).await;
                for f in &opts.pid_files {
                    let _ = std::fs::remove_file(f);
                }
                return 1;
            }
            _ = hup.recv() => {
                info!("Reloading");
                let Some(new) = load(&opts) else {
                    warn!("reload failed; the running configuration stays");
                    continue;
                };
                for l in map::group_changes(&config, &new) {
                    info!("{l}");
                }
                if let Some(c) = checks.take() {
                    c.stop(false).await;
                }
                if let Some(client) = &client {
                    checks = start_checkers(&new, client, &owned).await;
                    owned = map::owned_services(&new);
                }
                {
                    let mut c = lock(&ctx);
                    c.checker = checks.as_ref().map(|c| c.handle.clone());
                    c.addresses = addresses(&new);
                    c.sync = sync_specs(&new);
                }
                if !opts.check_only {
                    let (cfg, warnings) = map::vrrp_config(&new);
                    for w in warnings {
                        warn!("{w}");
                    }
                    let wanted: HashMap<String, VrrpConfig> =
                        map::vrrp_units(&cfg).into_iter().collect();
                    let names: Vec<String> = vrrp.keys().cloned().collect();
                    for name in names {
                        let same = match (wanted.get(&name), vrrp.get(&name)) {
                            (Some(w), Some(v)) => v.same_unit(w),
                            _ => false,
                        };
                        if !same && let Some(v) = vrrp.remove(&name) {
                            info!("({name}) configuration changed or removed: stopping the instance");
                            v.stop().await;
                        }
                    }
                    // Unchanged scripts keep running (and their results), changed ones
                    // restart with their result carried over, untracked ones stop.
                    scripts.update(&cfg.scripts, true);
                    for (name, c) in wanted {
                        if let std::collections::hash_map::Entry::Vacant(e) = vrrp.entry(name) {
                            info!("({}) starting the instance", e.key());
                            generation += 1;
                            let feeds = scripts.feeds(c.scripts.iter().map(|s| s.name.as_str()));
                            e.insert(VrrpRun::start(c, feeds, &ctx, generation, &exits_tx));
                        }
                    }
                }
                config = new;
                info!("Reload finished ({} virtual servers)", config.virtual_servers.len());
            }
        }
    }
    info!("Stopping");
    for (_, v) in vrrp.drain() {
        v.stop().await;
    }
    drop(scripts);
    stop_checks(checks.take(), &client, &owned, &opts).await;
    if let Some(client) = &client
        && lock(&ctx).sync.is_some()
    {
        let c = client.clone();
        let _ = blocking(move || {
            let _ = c.stop_sync_daemon(SyncRole::Master);
            let _ = c.stop_sync_daemon(SyncRole::Backup);
        })
        .await;
    }
    for f in &opts.pid_files {
        let _ = std::fs::remove_file(f);
    }
    0
}

/// Stop the checkers; unless `-I`, take this process's services out of lvsd.
async fn stop_checks(
    checks: Option<CheckRun>,
    client: &Option<Client>,
    owned: &HashSet<ServiceKey>,
    opts: &RunOptions,
) {
    let release = !opts.dont_release_ipvs;
    if let Some(c) = checks {
        c.stop(release).await;
    }
    if let (true, Some(client)) = (release, client) {
        let c = client.clone();
        let owned = owned.clone();
        let r = blocking(move || {
            let mut cfg = c.config()?;
            cfg.services.retain(|s| !owned.contains(&s.service.key));
            cfg.timeouts = None;
            c.apply_config(&cfg).map(|_| ())
        })
        .await;
        if let Some(Err(e)) = r {
            warn!("removing the virtual servers from lvsd: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(conf: &str, tag: &str) -> RunOptions {
        let path =
            std::env::temp_dir().join(format!("lvs-ka-load-{tag}-{}.conf", std::process::id()));
        std::fs::write(&path, conf).unwrap();
        RunOptions {
            conf_file: path.to_string_lossy().into_owned(),
            config_id: None,
            vrrp_only: true,
            check_only: false,
            dont_release_ipvs: false,
            pid_files: Vec::new(),
        }
    }

    /// Notify scripts without `enable_script_security`: `-t` exits 6, the daemon runs (as
    /// keepalived does, with its SECURITY VIOLATION warning); a missing file does not.
    #[test]
    fn a_security_warning_does_not_stop_the_daemon() {
        let conf = "vrrp_instance VI_1 {\n  interface lo\n  virtual_router_id 51\n  \
                    priority 100\n  virtual_ipaddress {\n    192.0.2.1\n  }\n  \
                    notify_master /bin/true\n}\n";
        let o = opts(conf, "sec");
        let loaded = conf::load_file(&o.conf_file, &LoadOptions::default(), &SystemEnv);
        assert_eq!(loaded.exit_status, 6, "{:?}", loaded.diagnostics);
        let c = load(&o).expect("runs");
        assert_eq!(c.vrrp_instances.len(), 1);
        let _ = std::fs::remove_file(&o.conf_file);
        let missing = RunOptions {
            conf_file: "/nonexistent/keepalived.conf".into(),
            ..o
        };
        assert!(load(&missing).is_none());
    }
}
