//! The daemon's shared state: the IPVS model plus what the data plane needs to mirror.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use lvs_core::{Ipvs, ServiceKey, Time};

/// Everything lvsd owns, behind one lock.
#[derive(Debug)]
pub struct Daemon {
    /// The IPVS model: services, real servers, connections, stats.
    pub ipvs: Ipvs,
    /// FULLNAT services that send Proxy Protocol v2 to their real servers.
    pub proxy_protocol: HashSet<ServiceKey>,
    /// Bumped by every configuration change, so the data plane knows to re-sync.
    pub config_gen: u64,
    /// The last `config_gen` the data plane has applied (`None`: no data plane).
    pub applied_gen: Option<u64>,
    /// The data plane's status, refreshed by the slow path every second.
    pub dataplane: lvs_api::DataplaneStatus,
    /// The connection sync daemons.
    pub sync: crate::sync::SyncDaemons,
    start: Instant,
}

impl Daemon {
    /// A daemon with an empty table.
    pub fn new() -> Daemon {
        Daemon {
            ipvs: Ipvs::default(),
            proxy_protocol: HashSet::new(),
            config_gen: 0,
            applied_gen: None,
            dataplane: lvs_api::DataplaneStatus::default(),
            sync: crate::sync::SyncDaemons::default(),
            start: Instant::now(),
        }
    }

    /// Note a configuration change.
    pub fn changed(&mut self) {
        self.config_gen = self.config_gen.wrapping_add(1);
    }

    /// The model's clock: milliseconds since the daemon started.
    pub fn now(&self) -> Time {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Time::from_millis(ms)
    }
}

impl Default for Daemon {
    fn default() -> Self {
        Daemon::new()
    }
}

impl Shared {
    /// Wait (up to 2 s) until the data plane has applied every configuration change made
    /// so far, so that a command that returned is in force for the next packet.
    pub async fn applied(&self) {
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        loop {
            {
                let d = self.lock();
                match d.applied_gen {
                    None => return,
                    Some(g) if g == d.config_gen => return,
                    Some(_) => {}
                }
            }
            if Instant::now() > deadline {
                tracing::warn!("data plane did not apply a configuration change within 2 s");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}

/// The daemon shared between the API server, the timers and the slow path.
#[derive(Clone, Debug, Default)]
pub struct Shared(Arc<Mutex<Daemon>>);

impl Shared {
    /// Wrap a daemon.
    pub fn new(d: Daemon) -> Shared {
        Shared(Arc::new(Mutex::new(d)))
    }

    /// Lock it. A panic while holding the lock leaves the model as it was at the panic;
    /// we keep serving rather than cascade the panic into every request.
    pub fn lock(&self) -> MutexGuard<'_, Daemon> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
