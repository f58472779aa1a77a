//! The state machine of one VRRP instance, sans-IO, as keepalived 2.2.7 runs it
//! (`vrrp.c`: `vrrp_state_backup`, `vrrp_state_master_rx`, `vrrp_state_master_tx`;
//! `vrrp_scheduler.c`: `vrrp_init_state`, timers; `vrrp_track.c`: effective priority).
//!
//! The caller owns the clock and the sockets: it feeds [`Input`]s with the current [`Time`]
//! to [`Instance::handle`], carries out the returned [`Action`]s in order, and calls
//! `handle(now, Input::Timer)` when [`Instance::next_timeout`] is reached.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::Duration;

use super::packet::{self, AUTH_AH, AUTH_NONE, AUTH_PASS, Advert, Family, Received, Version};

/// A point in time: the time since an origin the caller chooses (tests start at zero).
pub type Time = Duration;

/// The priority of the address owner: goes master at once and never changes.
pub const PRIO_OWNER: u8 = 255;
/// The priority a master sends when it resigns.
pub const PRIO_STOP: u8 = 0;
/// keepalived's default priority.
pub const DEFAULT_PRIORITY: u8 = 100;

/// One virtual address of an instance (`virtual_ipaddress` / `virtual_ipaddress_excluded`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (keepalived's default: /32 or /128).
    pub prefix_len: u8,
    /// `dev IF`: the interface to add it to (default: the instance's interface).
    pub dev: Option<String>,
    /// `label IF:x` (IPv4 only).
    pub label: Option<String>,
}

impl Vip {
    /// A host address (/32 or /128) on the instance's interface.
    pub fn host(addr: IpAddr) -> Vip {
        Vip {
            addr,
            prefix_len: if addr.is_ipv4() { 32 } else { 128 },
            dev: None,
            label: None,
        }
    }
}

/// `state MASTER|BACKUP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitialState {
    /// `state MASTER`: goes master at once only with priority 255 (else waits the
    /// master-down interval like a backup, as keepalived does).
    Master,
    /// `state BACKUP`.
    Backup,
}

/// What a tracked object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// `track_interface`.
    Interface,
    /// `track_script`.
    Script,
}

/// One `track_interface` / `track_script` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// Interface or script.
    pub kind: TrackKind,
    /// The interface name or the `vrrp_script` name.
    pub name: String,
    /// `weight W` (-253..=253). 0: a failure puts the instance in FAULT. W > 0: added to the
    /// priority while up; W < 0: added while down.
    pub weight: i32,
    /// `reverse`: the effect of up and down is swapped.
    pub reverse: bool,
}

/// The notify scripts of an instance, each a program and its arguments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notify {
    /// `notify_master`.
    pub master: Option<Vec<String>>,
    /// `notify_backup`.
    pub backup: Option<Vec<String>>,
    /// `notify_fault`.
    pub fault: Option<Vec<String>>,
    /// `notify_stop`.
    pub stop: Option<Vec<String>>,
    /// `notify`: run with `INSTANCE <name> <MASTER|BACKUP|FAULT|STOP> <priority>` appended.
    pub generic: Option<Vec<String>>,
    /// `notify_master_rx_lower_pri`.
    pub master_rx_lower_pri: Option<Vec<String>>,
}

/// Everything the state machine needs from a `vrrp_instance` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceConfig {
    /// The instance name (`vrrp_instance NAME`).
    pub name: String,
    /// `interface IF`.
    pub interface: String,
    /// `virtual_router_id` (1..=255).
    pub vrid: u8,
    /// `priority` (1..=255), the base priority.
    pub priority: u8,
    /// `advert_int` in centiseconds (v2: a multiple of 100, at most 255 s; v3: 1..=4095).
    pub advert_int_cs: u16,
    /// `version 2|3` (IPv6 is always 3).
    pub version: Version,
    /// Address family, from the virtual addresses.
    pub family: Family,
    /// `state`.
    pub initial_state: InitialState,
    /// `nopreempt`.
    pub nopreempt: bool,
    /// `preempt_delay`.
    pub preempt_delay: Duration,
    /// `authentication { auth_type PASS; auth_pass ... }`: the password, truncated to 8 bytes
    /// and zero-padded (v2 only; ignored by v3).
    pub auth_pass: Option<[u8; 8]>,
    /// `virtual_ipaddress`: added on master, listed in adverts.
    pub vips: Vec<Vip>,
    /// `virtual_ipaddress_excluded`: added on master, not advertised.
    pub excluded_vips: Vec<Vip>,
    /// `unicast_src_ip` / `mcast_src_ip`: the source of adverts.
    pub unicast_src: Option<IpAddr>,
    /// `unicast_peer`: non-empty means unicast mode.
    pub unicast_peers: Vec<IpAddr>,
    /// `check_unicast_src`: drop unicast adverts whose source is not a peer.
    pub check_unicast_src: bool,
    /// `garp_master_delay`: second GARP/NA burst after becoming master (0: none).
    pub garp_master_delay: Duration,
    /// `garp_master_repeat`: GARP/NA per address in each burst.
    pub garp_master_repeat: u32,
    /// `garp_lower_prio_repeat`: GARP/NA burst when a master hears a lower priority (0: off).
    pub garp_lower_prio_repeat: u32,
    /// `garp_lower_prio_delay`: second such burst after this delay (0: none).
    pub garp_lower_prio_delay: Duration,
    /// `lower_prio_no_advert`: a master does not answer lower-priority adverts.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`: a master sends one advert before yielding.
    pub higher_prio_send_advert: bool,
    /// `down_timer_adverts` (default 3).
    pub down_timer_adverts: u32,
    /// `track_interface` and `track_script` entries.
    pub tracks: Vec<Track>,
    /// `dont_track_primary`: the instance's own interface going down does not mean FAULT.
    pub dont_track_primary: bool,
    /// Notify scripts.
    pub notify: Notify,
}

/// A configuration the state machine cannot run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// VRID 0.
    #[error("({0}) virtual_router_id must be 1..255")]
    Vrid(String),
    /// Priority 0.
    #[error("({0}) priority must be 1..255")]
    Priority(String),
    /// Interval out of range for the version.
    #[error("({0}) advert_int out of range for VRRPv{1}")]
    AdvertInt(String, u8),
    /// VRRPv2 over IPv6.
    #[error("({0}) VRRPv2 does not support IPv6")]
    V2Ipv6(String),
    /// A virtual address of the wrong family.
    #[error("({0}) virtual address {1} is not of the instance's family")]
    VipFamily(String, IpAddr),
    /// More than 255 advertised addresses.
    #[error("({0}) more than 255 virtual addresses")]
    TooManyVips(String),
}

impl InstanceConfig {
    /// An instance with keepalived's defaults: VRRPv2, priority 100, advert_int 1 s,
    /// BACKUP, preempt, no auth, multicast, GARP delay 5 s / repeat 5, 3 down-timer adverts.
    /// The family follows the first VIP (IPv6 switches to VRRPv3).
    pub fn new(name: &str, interface: &str, vrid: u8, vips: Vec<Vip>) -> InstanceConfig {
        let family = vips
            .first()
            .map(|v| Family::of(v.addr))
            .unwrap_or(Family::Inet);
        InstanceConfig {
            name: name.to_string(),
            interface: interface.to_string(),
            vrid,
            priority: DEFAULT_PRIORITY,
            advert_int_cs: 100,
            version: if family == Family::Inet6 {
                Version::V3
            } else {
                Version::V2
            },
            family,
            initial_state: InitialState::Backup,
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            auth_pass: None,
            vips,
            excluded_vips: Vec::new(),
            unicast_src: None,
            unicast_peers: Vec::new(),
            check_unicast_src: false,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_lower_prio_repeat: 0,
            garp_lower_prio_delay: Duration::ZERO,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            down_timer_adverts: 3,
            tracks: Vec::new(),
            dont_track_primary: false,
            notify: Notify::default(),
        }
    }

    /// Check what the state machine relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = || self.name.clone();
        if self.vrid == 0 {
            return Err(ConfigError::Vrid(n()));
        }
        if self.priority == 0 {
            return Err(ConfigError::Priority(n()));
        }
        match self.version {
            Version::V2 => {
                if self.family == Family::Inet6 {
                    return Err(ConfigError::V2Ipv6(n()));
                }
                if self.advert_int_cs == 0
                    || !self.advert_int_cs.is_multiple_of(100)
                    || self.advert_int_cs > 25500
                {
                    return Err(ConfigError::AdvertInt(n(), 2));
                }
            }
            Version::V3 => {
                if self.advert_int_cs == 0 || self.advert_int_cs > packet::V3_MAX_ADVER_INT {
                    return Err(ConfigError::AdvertInt(n(), 3));
                }
            }
        }
        if let Some(v) = self.vips.iter().find(|v| Family::of(v.addr) != self.family) {
            return Err(ConfigError::VipFamily(n(), v.addr));
        }
        if self.vips.len() > 255 {
            return Err(ConfigError::TooManyVips(n()));
        }
        Ok(())
    }

    /// Unicast mode (`unicast_peer` given).
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    fn advert_int(&self) -> Duration {
        cs(u32::from(self.advert_int_cs))
    }
}

fn cs(v: u32) -> Duration {
    Duration::from_millis(u64::from(v) * 10)
}

/// The state of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Created, not started.
    Init,
    /// Waiting for the master to go away.
    Backup,
    /// Holding the virtual addresses and advertising.
    Master,
    /// A tracked interface or weight-0 script is down.
    Fault,
    /// Shut down.
    Stop,
}

impl State {
    /// The word keepalived uses for this state in notify arguments.
    pub fn notify_word(self) -> &'static str {
        match self {
            State::Init => "{UNKNOWN}",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stop => "STOP",
        }
    }
}

/// What happens to an instance.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// Start the instance (keepalived's `vrrp_init_state`). Report the interface and
    /// track states known at start first, with [`Input::Link`] and [`Input::Track`].
    Start,
    /// An advertisement arrived on the instance's socket.
    Advert(Received<'a>),
    /// The clock reached [`Instance::next_timeout`] (or later).
    Timer,
    /// A tracked interface or script changed state.
    Track {
        /// Interface or script.
        kind: TrackKind,
        /// Its name.
        name: &'a str,
        /// Up (interface up / script exit 0).
        up: bool,
    },
    /// The instance's own interface went up or down.
    Link {
        /// Up.
        up: bool,
    },
    /// Shutdown (SIGTERM): a master resigns with priority 0.
    Shutdown,
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority (to the group, or to every unicast peer).
    SendAdvert {
        /// The priority field.
        priority: u8,
    },
    /// Add the virtual addresses (VIPs and excluded VIPs).
    AddVips,
    /// Remove the virtual addresses.
    RemoveVips,
    /// Send `repeat` gratuitous ARPs / unsolicited NAs for every virtual address.
    SendGratuitous {
        /// Copies per address.
        repeat: u32,
    },
    /// Run a notify script: program and arguments.
    RunScript {
        /// argv.
        argv: Vec<String>,
    },
    /// The state changed.
    StateChange {
        /// Old state.
        from: State,
        /// New state.
        to: State,
    },
    /// A log line, worded as keepalived's.
    Log(String),
}

/// Why a received advertisement was ignored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// Malformed (length, version, type, checksum).
    #[error("{0}")]
    Packet(#[from] packet::PacketError),
    /// Another virtual router.
    #[error("VRID {0} is not ours")]
    Vrid(u8),
    /// Another address family.
    #[error("address family mismatch")]
    Family,
    /// Multicast advert with TTL/hop limit other than 255.
    #[error("invalid TTL/HL. Received {0} and expect 255")]
    Ttl(u8),
    /// Version differs from ours.
    #[error("wrong version. Received {0} and expect {1}")]
    Version(u8, u8),
    /// v2 auth type not 0, 1, 2.
    #[error("Invalid auth type: {0}")]
    InvalidAuthType(u8),
    /// v2 auth type differs from ours.
    #[error("received a {0} auth, expecting {1}!")]
    AuthTypeMismatch(u8, u8),
    /// v2 PASS password wrong.
    #[error("received an invalid passwd!")]
    Password,
    /// v2 advert interval differs from ours.
    #[error("advertisement interval mismatch mine={0} sec rcv'd={1} sec")]
    Interval(u16, u16),
    /// Address count differs from our VIP count.
    #[error("received an unexpected ip number count {0}, expected {1}!")]
    AddressCount(usize, usize),
    /// Multicast instance got a unicast advert or the reverse.
    #[error("Expected {0}icast packet but received {1}icast packet")]
    Cast(&'static str, &'static str),
    /// One of our VIPs is missing from the advert.
    #[error("ip address associated with VRID {0} not present in MASTER advert: {1}")]
    MissingVip(u8, IpAddr),
    /// Unicast source not a configured peer (`check_unicast_src`).
    #[error("unicast source address {0} not a unicast peer")]
    NotAPeer(IpAddr),
}

/// What the sync group of a member allows it at the moment (set by the group coordinator,
/// [`super::sync::SyncGroup`], before every input it feeds the member).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncGate {
    /// The member may become MASTER: its group is MASTER, or every other member wants MASTER
    /// (keepalived's `vrrp_sync_can_goto_master`).
    pub may_master: bool,
    /// Another member is down (tracked interface or script): this member stays in FAULT
    /// even when its own tracking is up (keepalived's `num_member_fault`).
    pub hold_fault: bool,
}

/// One VRRP instance.
#[derive(Clone, Debug)]
pub struct Instance {
    cfg: InstanceConfig,
    state: State,
    base_priority: u8,
    effective_priority: u8,
    local_addr: Option<IpAddr>,
    /// Master_Adver_Interval in centiseconds (v3 learns it from the master).
    master_adver_int_cs: u32,
    ms_down_timer: Duration,
    /// The advert (master) or master-down (backup) deadline.
    sands: Option<Time>,
    garp_at: Option<Time>,
    garp_lower_at: Option<Time>,
    preempt_time: Option<Time>,
    link_up: bool,
    /// Per track: None = no result yet, Some(up).
    track_state: Vec<Option<bool>>,
    master_addr: Option<IpAddr>,
    /// keepalived's `wantstate`: the state this instance would be in regardless of its
    /// sync group.
    want: State,
    /// Set when the instance is a member of a sync group.
    gate: Option<SyncGate>,
}

impl Instance {
    /// A new instance in INIT. `validate` the config first.
    pub fn new(cfg: InstanceConfig) -> Instance {
        let tracks = cfg.tracks.len();
        let mut i = Instance {
            base_priority: cfg.priority,
            effective_priority: cfg.priority,
            local_addr: cfg.unicast_src,
            master_adver_int_cs: u32::from(cfg.advert_int_cs),
            ms_down_timer: Duration::ZERO,
            state: State::Init,
            sands: None,
            garp_at: None,
            garp_lower_at: None,
            preempt_time: None,
            link_up: true,
            track_state: vec![None; tracks],
            master_addr: None,
            want: match cfg.initial_state {
                InitialState::Master => State::Master,
                InitialState::Backup => State::Backup,
            },
            gate: None,
            cfg,
        };
        i.ms_down_timer = i.down_timer();
        i
    }

    /// The configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The effective priority (base + track weights, 1..=254; 255 stays 255).
    pub fn effective_priority(&self) -> u8 {
        self.effective_priority
    }

    /// The state this instance wants regardless of its sync group (keepalived's
    /// `wantstate`): MASTER after its master-down timer ran out, BACKUP after it accepted
    /// a master's advert, FAULT while down.
    pub fn want(&self) -> State {
        self.want
    }

    /// Whether a tracked interface, a weight-0 tracked script or the instance's own
    /// interface is down (FAULT of its own, not forced by a sync group).
    pub fn own_fault(&self) -> bool {
        self.fault_reasons() > 0
    }

    /// Make this instance a sync-group member with what its group allows now. The
    /// coordinator sets it before every input it feeds.
    pub fn set_sync_gate(&mut self, gate: SyncGate) {
        self.gate = Some(gate);
    }

    /// Whether the group (if any) lets this instance become MASTER now.
    fn may_master(&self) -> bool {
        self.gate.is_none_or(|g| g.may_master)
    }

    /// Whether the group (if any) keeps this instance in FAULT.
    fn held_in_fault(&self) -> bool {
        self.gate.is_some_and(|g| g.hold_fault)
    }

    /// Sync group: another member went down (`vrrp_sync_fault`). A master resigns with
    /// priority 0 and drops its VIPs; a backup just enters FAULT.
    pub fn force_fault(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.state, State::Backup | State::Master | State::Init) {
            self.enter_fault(&mut out);
        }
        out
    }

    /// Sync group: another member went BACKUP, or the group left FAULT
    /// (`vrrp_sync_backup`). A master drops its VIPs (without a priority-0 advert).
    pub fn force_backup(&mut self, now: Time) -> Vec<Action> {
        let mut out = Vec::new();
        self.want = State::Backup;
        match self.state {
            State::Master => self.leave_master_to_backup(now, &mut out),
            State::Fault | State::Init => self.leave_fault_to_backup(now, &mut out),
            State::Backup | State::Stop => {}
        }
        out
    }

    /// Sync group: another member became MASTER and the whole group follows
    /// (`vrrp_sync_master`). Only a BACKUP member moves, and only if the gate allows it;
    /// otherwise it just wants MASTER.
    pub fn force_master(&mut self, now: Time) -> Vec<Action> {
        let mut out = Vec::new();
        self.want = State::Master;
        if self.state == State::Backup && self.may_master() {
            self.goto_master(now, &mut out);
        }
        out
    }

    /// The address of the last master heard from.
    pub fn master_addr(&self) -> Option<IpAddr> {
        self.master_addr
    }

    /// Set the primary address used as the advert source and for the tie-break (the
    /// interface's primary address; `unicast_src_ip` wins if configured).
    pub fn set_local_addr(&mut self, addr: IpAddr) {
        if self.cfg.unicast_src.is_none() {
            self.local_addr = Some(addr);
        }
    }

    /// The advert source / tie-break address, once known.
    pub fn local_addr(&self) -> Option<IpAddr> {
        self.local_addr
    }

    /// The current Master_Adver_Interval.
    pub fn master_adver_int(&self) -> Duration {
        cs(self.master_adver_int_cs)
    }

    /// The advertisement this instance sends with `priority`.
    pub fn advert(&self, priority: u8) -> Advert {
        let (auth_type, auth_data, adver_int) = match self.cfg.version {
            Version::V2 => match self.cfg.auth_pass {
                Some(p) => (AUTH_PASS, p, self.cfg.advert_int_cs / 100),
                None => (AUTH_NONE, [0; 8], self.cfg.advert_int_cs / 100),
            },
            Version::V3 => (AUTH_NONE, [0; 8], self.cfg.advert_int_cs),
        };
        Advert {
            version: self.cfg.version,
            vrid: self.cfg.vrid,
            priority,
            auth_type,
            auth_data,
            adver_int,
            addrs: self.cfg.vips.iter().map(|v| v.addr).collect(),
        }
    }

    /// When the driver must next feed [`Input::Timer`].
    pub fn next_timeout(&self) -> Option<Time> {
        [self.sands, self.garp_at, self.garp_lower_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Skew_Time with the current effective priority.
    pub fn skew(&self) -> Duration {
        self.skew_for(256 - u32::from(self.effective_priority))
    }

    fn skew_for(&self, pri_val: u32) -> Duration {
        match self.cfg.version {
            // keepalived: pri_val * TIMER_HZ / 256 (µs).
            Version::V2 => Duration::from_micros(u64::from(pri_val) * 1_000_000 / 256),
            // keepalived: pri_val * master_adver_int_cs * 625 / 16 (µs).
            Version::V3 => Duration::from_micros(
                u64::from(pri_val) * u64::from(self.master_adver_int_cs) * 625 / 16,
            ),
        }
    }

    /// Master_Down_Interval = down_timer_adverts × Master_Adver_Interval + Skew_Time.
    pub fn down_timer(&self) -> Duration {
        self.master_adver_int() * self.cfg.down_timer_adverts + self.skew()
    }

    /// Feed one input at time `now`; returns what to do, in order.
    pub fn handle(&mut self, now: Time, input: Input<'_>) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.start(now, &mut out),
            Input::Advert(rx) => self.on_advert(now, rx, &mut out),
            Input::Timer => self.on_timer(now, &mut out),
            Input::Track { kind, name, up } => {
                let mut changed = false;
                for (i, t) in self.cfg.tracks.iter().enumerate() {
                    if t.kind == kind && t.name == name && self.track_state[i] != Some(up) {
                        self.track_state[i] = Some(up);
                        changed = true;
                    }
                }
                if changed {
                    self.tracking_changed(now, &mut out);
                }
            }
            Input::Link { up } => {
                if self.link_up != up {
                    self.link_up = up;
                    self.tracking_changed(now, &mut out);
                }
            }
            Input::Shutdown => self.shutdown(&mut out),
        }
        out
    }

    fn log(&self, out: &mut Vec<Action>, msg: impl AsRef<str>) {
        out.push(Action::Log(format!("({}) {}", self.cfg.name, msg.as_ref())));
    }

    fn set_state(&mut self, to: State, out: &mut Vec<Action>) {
        if self.state != to {
            out.push(Action::StateChange {
                from: self.state,
                to,
            });
            self.state = to;
        }
    }

    /// keepalived's `send_instance_notifies`: the state's own script, then `notify` with
    /// `INSTANCE <name> <STATE> <priority>`.
    fn notify(&self, out: &mut Vec<Action>) {
        let n = &self.cfg.notify;
        let script = match self.state {
            State::Master => &n.master,
            State::Backup => &n.backup,
            State::Fault => &n.fault,
            State::Stop => &n.stop,
            State::Init => &None,
        };
        if let Some(argv) = script {
            out.push(Action::RunScript { argv: argv.clone() });
        }
        if let Some(g) = &n.generic {
            let mut argv = g.clone();
            argv.extend([
                "INSTANCE".to_string(),
                self.cfg.name.clone(),
                self.state.notify_word().to_string(),
                self.effective_priority.to_string(),
            ]);
            out.push(Action::RunScript { argv });
        }
    }

    /// Number of reasons to be in FAULT (keepalived's `num_script_if_fault`).
    fn fault_reasons(&self) -> usize {
        let link = usize::from(!self.link_up && !self.cfg.dont_track_primary);
        let tracks = self
            .cfg
            .tracks
            .iter()
            .zip(&self.track_state)
            .filter(|(t, s)| t.weight == 0 && matches!(s, Some(up) if *up == t.reverse))
            .count();
        link + tracks
    }

    /// base + Σ weights, clamped to 1..=254 (255 never changes).
    fn compute_priority(&self) -> u8 {
        if self.base_priority == PRIO_OWNER {
            return PRIO_OWNER;
        }
        let mut total = i32::from(self.base_priority);
        for (t, s) in self.cfg.tracks.iter().zip(&self.track_state) {
            let Some(up) = *s else { continue };
            let m = if t.reverse { -1 } else { 1 };
            if (t.weight > 0 && up) || (t.weight < 0 && !up) {
                total += t.weight * m;
            }
        }
        total.clamp(1, i32::from(PRIO_OWNER) - 1) as u8
    }

    fn start(&mut self, now: Time, out: &mut Vec<Action>) {
        if self.state != State::Init {
            return;
        }
        self.effective_priority = self.compute_priority();
        self.master_adver_int_cs = u32::from(self.cfg.advert_int_cs);
        if self.fault_reasons() > 0 || self.held_in_fault() {
            self.want = State::Fault;
            self.log(out, "Entering FAULT STATE (init)");
            self.set_state(State::Fault, out);
            self.sands = None;
            self.notify(out);
        } else if self.cfg.initial_state == InitialState::Master && self.base_priority == PRIO_OWNER
        {
            // keepalived: "the simplest way to become master is to time out from the
            // backup state very quickly (1 µs)", without a BACKUP notify.
            self.set_state(State::Backup, out);
            self.ms_down_timer = Duration::from_micros(1);
            self.sands = Some(now + self.ms_down_timer);
        } else {
            self.log(out, "Entering BACKUP STATE (init)");
            self.set_state(State::Backup, out);
            self.ms_down_timer = self.down_timer();
            self.sands = Some(now + self.ms_down_timer);
            self.notify(out);
        }
    }

    fn on_timer(&mut self, now: Time, out: &mut Vec<Action>) {
        if self.garp_at.is_some_and(|t| t <= now) {
            self.garp_at = None;
            if self.state == State::Master {
                out.push(Action::SendGratuitous {
                    repeat: self.cfg.garp_master_repeat,
                });
            }
        }
        if self.garp_lower_at.is_some_and(|t| t <= now) {
            self.garp_lower_at = None;
            if self.state == State::Master {
                out.push(Action::SendGratuitous {
                    repeat: self.cfg.garp_lower_prio_repeat,
                });
            }
        }
        if self.sands.is_some_and(|t| t <= now) {
            match self.state {
                State::Backup => {
                    self.log(out, "Receive advertisement timeout");
                    self.want = State::Master;
                    if self.may_master() {
                        self.goto_master(now, out);
                    } else {
                        // Held in BACKUP by the sync group until every member wants
                        // MASTER (`vrrp_sync_can_goto_master`).
                        self.ms_down_timer = self.down_timer();
                        self.sands = Some(now + self.ms_down_timer);
                    }
                }
                State::Master => {
                    out.push(Action::SendAdvert {
                        priority: self.effective_priority,
                    });
                    self.sands = Some(now + self.cfg.advert_int());
                }
                _ => self.sands = None,
            }
        }
    }

    /// `vrrp_state_goto_master` + `vrrp_state_master_tx` + `vrrp_state_become_master`.
    fn goto_master(&mut self, now: Time, out: &mut Vec<Action>) {
        self.want = State::Master;
        self.set_state(State::Master, out);
        self.master_adver_int_cs = u32::from(self.cfg.advert_int_cs);
        self.sands = Some(now + self.cfg.advert_int());
        // The advert first, so that the old master drops the VIPs before the GARPs.
        out.push(Action::SendAdvert {
            priority: self.effective_priority,
        });
        self.log(out, "Entering MASTER STATE");
        out.push(Action::AddVips);
        out.push(Action::SendGratuitous {
            repeat: self.cfg.garp_master_repeat,
        });
        self.notify(out);
        self.garp_at = if self.cfg.garp_master_delay.is_zero() {
            None
        } else {
            Some(now + self.cfg.garp_master_delay)
        };
        self.master_addr = self.local_addr;
    }

    /// Master → BACKUP on a better advert (`vrrp_state_leave_master`).
    fn leave_master_to_backup(&mut self, now: Time, out: &mut Vec<Action>) {
        self.want = State::Backup;
        self.log(out, "Entering BACKUP STATE");
        self.preempt_time = None;
        out.push(Action::RemoveVips);
        self.set_state(State::Backup, out);
        self.notify(out);
        self.ms_down_timer = self.down_timer();
        self.sands = Some(now + self.ms_down_timer);
        self.garp_at = None;
        self.garp_lower_at = None;
    }

    /// Validate an advert against this instance (`vrrp_check_packet`).
    pub fn check(&self, rx: &Received<'_>) -> Result<Advert, Reject> {
        if Family::of(rx.src) != self.cfg.family {
            return Err(Reject::Family);
        }
        let adv = Advert::parse(rx.payload, rx.src, rx.dst)?;
        if adv.vrid != self.cfg.vrid {
            return Err(Reject::Vrid(adv.vrid));
        }
        let unicast = self.cfg.is_unicast();
        if !unicast && let Some(ttl) = rx.ttl.filter(|t| *t != packet::VRRP_TTL) {
            return Err(Reject::Ttl(ttl));
        }
        if adv.version != self.cfg.version {
            return Err(Reject::Version(
                adv.version.number(),
                self.cfg.version.number(),
            ));
        }
        if adv.version == Version::V2 {
            if ![AUTH_NONE, AUTH_PASS, AUTH_AH].contains(&adv.auth_type) {
                return Err(Reject::InvalidAuthType(adv.auth_type));
            }
            let ours = if self.cfg.auth_pass.is_some() {
                AUTH_PASS
            } else {
                AUTH_NONE
            };
            if adv.auth_type != ours {
                return Err(Reject::AuthTypeMismatch(adv.auth_type, ours));
            }
            if let Some(pass) = &self.cfg.auth_pass
                && !constant_time_eq(pass, &adv.auth_data)
            {
                return Err(Reject::Password);
            }
            let mine = self.cfg.advert_int_cs / 100;
            if adv.adver_int != mine {
                return Err(Reject::Interval(mine, adv.adver_int));
            }
        }
        if adv.addrs.len() != self.cfg.vips.len() {
            return Err(Reject::AddressCount(adv.addrs.len(), self.cfg.vips.len()));
        }
        if rx.dst.is_multicast() == unicast {
            return Err(if unicast {
                Reject::Cast("un", "mult")
            } else {
                Reject::Cast("mult", "un")
            });
        }
        if let Some(v) = self.cfg.vips.iter().find(|v| !adv.addrs.contains(&v.addr)) {
            return Err(Reject::MissingVip(self.cfg.vrid, v.addr));
        }
        if unicast && self.cfg.check_unicast_src && !self.cfg.unicast_peers.contains(&rx.src) {
            return Err(Reject::NotAPeer(rx.src));
        }
        Ok(adv)
    }

    fn addr_cmp(&self, src: IpAddr) -> Ordering {
        match (src, self.local_addr) {
            (IpAddr::V4(a), Some(IpAddr::V4(b))) => u32::from(a).cmp(&u32::from(b)),
            (IpAddr::V6(a), Some(IpAddr::V6(b))) => u128::from(a).cmp(&u128::from(b)),
            _ => Ordering::Equal,
        }
    }

    fn on_advert(&mut self, now: Time, rx: Received<'_>, out: &mut Vec<Action>) {
        if !matches!(self.state, State::Backup | State::Master) {
            return;
        }
        let adv = match self.check(&rx) {
            Ok(a) => a,
            Err(e) => {
                self.log(out, e.to_string());
                self.ignored(now);
                return;
            }
        };
        if self.state == State::Backup {
            self.backup_rx(now, rx.src, &adv, out);
        } else {
            self.master_rx(now, rx.src, &adv, out);
        }
    }

    /// An ignored advert in BACKUP: the timer keeps running and `ms_down_timer` becomes the
    /// time left, as in keepalived (it matters for a later priority change).
    fn ignored(&mut self, now: Time) {
        if self.state == State::Backup
            && let Some(s) = self.sands
        {
            self.ms_down_timer = s.saturating_sub(now);
        }
    }

    /// `vrrp_state_backup`.
    fn backup_rx(&mut self, now: Time, src: IpAddr, adv: &Advert, out: &mut Vec<Action>) {
        let eff = self.effective_priority;
        if adv.priority == PRIO_STOP {
            self.log(out, "Backup received priority 0 advertisement");
            self.ms_down_timer = self.skew();
            self.sands = Some(now + self.ms_down_timer);
        } else if self.cfg.nopreempt
            || adv.priority >= eff
            || (!self.cfg.preempt_delay.is_zero() && self.preempt_time.is_none_or(|t| t > now))
        {
            if self.cfg.version == Version::V3 {
                self.master_adver_int_cs = adv.interval_cs();
            }
            self.ms_down_timer = self.down_timer();
            self.sands = Some(now + self.ms_down_timer);
            self.master_addr = Some(src);
            // Held in BACKUP by a sync group or not, a master is heard: BACKUP is wanted.
            self.want = State::Backup;
            if !self.cfg.preempt_delay.is_zero() {
                if adv.priority >= eff {
                    self.preempt_time = None;
                } else if self.preempt_time.is_none() {
                    self.log(out, "start preempt delay");
                    self.preempt_time = Some(now + self.cfg.preempt_delay);
                }
            }
        } else {
            self.log(
                out,
                format!(
                    "received lower priority ({}) advert from {} - discarding",
                    adv.priority, src
                ),
            );
            // The master-down timer keeps running.
            self.master_addr = Some(src);
            self.ignored(now);
        }
    }

    /// `vrrp_state_master_rx`.
    fn master_rx(&mut self, now: Time, src: IpAddr, adv: &Advert, out: &mut Vec<Action>) {
        let cmp = self.addr_cmp(src);
        let eff = self.effective_priority;
        if adv.priority == PRIO_STOP
            || (self.cfg.higher_prio_send_advert
                && (adv.priority > eff || (adv.priority == eff && cmp == Ordering::Greater)))
        {
            out.push(Action::SendAdvert { priority: eff });
            self.sands = Some(now + self.cfg.advert_int());
            if adv.priority == PRIO_STOP {
                self.log(out, "Master received priority 0 message");
                return;
            }
        }
        if adv.priority == eff {
            if cmp == Ordering::Equal {
                self.log(
                    out,
                    "WARNING - equal priority advert received from remote host with our IP address.",
                );
            } else if eff == PRIO_OWNER {
                self.log(out, "CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority");
                self.base_priority = PRIO_OWNER - 1;
                self.effective_priority = PRIO_OWNER - 1;
            }
        }
        let eff = self.effective_priority;
        if adv.priority < eff || (adv.priority == eff && cmp == Ordering::Less) {
            self.log(
                out,
                format!(
                    "Received advert from {} with lower priority {}, ours {}{}",
                    src,
                    adv.priority,
                    eff,
                    if self.cfg.lower_prio_no_advert {
                        ""
                    } else {
                        ", forcing new election"
                    }
                ),
            );
            if !self.cfg.lower_prio_no_advert {
                out.push(Action::SendAdvert { priority: eff });
                self.sands = Some(now + self.cfg.advert_int());
            }
            if self.cfg.garp_lower_prio_repeat > 0 {
                out.push(Action::SendGratuitous {
                    repeat: self.cfg.garp_lower_prio_repeat,
                });
                if !self.cfg.garp_lower_prio_delay.is_zero() {
                    self.garp_lower_at = Some(now + self.cfg.garp_lower_prio_delay);
                }
            }
            if let Some(argv) = &self.cfg.notify.master_rx_lower_pri {
                out.push(Action::RunScript { argv: argv.clone() });
            }
            return;
        }
        if adv.priority > eff || (adv.priority == eff && cmp == Ordering::Greater) {
            if adv.priority > eff {
                self.log(
                    out,
                    format!(
                        "Master received advert from {} with higher priority {}, ours {}",
                        src, adv.priority, eff
                    ),
                );
            } else {
                self.log(
                    out,
                    format!(
                        "Master received advert from {} with same priority {} but higher IP address than ours",
                        src, adv.priority
                    ),
                );
            }
            if self.cfg.version == Version::V3 {
                self.master_adver_int_cs = adv.interval_cs();
            }
            self.master_addr = Some(src);
            self.leave_master_to_backup(now, out);
        }
    }

    /// A track or the link changed: FAULT in or out, effective priority.
    fn tracking_changed(&mut self, now: Time, out: &mut Vec<Action>) {
        if self.state == State::Init || self.state == State::Stop {
            return;
        }
        let faulty = self.fault_reasons() > 0;
        if faulty && self.state != State::Fault {
            self.enter_fault(out);
        } else if faulty {
            // Already in FAULT (its own or forced by its sync group).
            self.want = State::Fault;
        } else if self.state == State::Fault {
            // `try_up_instance`: a sync group keeps the member in FAULT while another
            // member is down.
            self.want = State::Backup;
            if self.held_in_fault() {
                return;
            }
            self.effective_priority = self.compute_priority();
            self.master_adver_int_cs = u32::from(self.cfg.advert_int_cs);
            if self.cfg.initial_state == InitialState::Master
                && self.base_priority == PRIO_OWNER
                && self.may_master()
            {
                self.goto_master(now, out);
            } else {
                self.leave_fault_to_backup(now, out);
            }
            return;
        }
        // `vrrp_set_effective_priority`.
        let new = self.compute_priority();
        if new != self.effective_priority {
            self.log(
                out,
                format!(
                    "Changing effective priority from {} to {}",
                    self.effective_priority, new
                ),
            );
            self.effective_priority = new;
            let old = self.ms_down_timer;
            self.ms_down_timer = self.down_timer();
            if self.state == State::Backup
                && let Some(s) = self.sands
            {
                self.sands = Some(if self.ms_down_timer >= old {
                    s + (self.ms_down_timer - old)
                } else {
                    s.saturating_sub(old - self.ms_down_timer)
                });
            }
        }
    }

    /// `down_instance`: a master resigns (priority 0) and drops its VIPs.
    fn enter_fault(&mut self, out: &mut Vec<Action>) {
        self.want = State::Fault;
        if self.state == State::Master {
            out.push(Action::SendAdvert {
                priority: PRIO_STOP,
            });
            self.log(out, "Entering FAULT STATE");
            out.push(Action::RemoveVips);
        } else {
            self.log(out, "Entering FAULT STATE");
        }
        self.set_state(State::Fault, out);
        self.notify(out);
        self.sands = None;
        self.garp_at = None;
        self.garp_lower_at = None;
        self.preempt_time = None;
    }

    /// `vrrp_state_leave_fault` to BACKUP.
    fn leave_fault_to_backup(&mut self, now: Time, out: &mut Vec<Action>) {
        self.want = State::Backup;
        self.effective_priority = self.compute_priority();
        self.master_adver_int_cs = u32::from(self.cfg.advert_int_cs);
        self.log(out, "Entering BACKUP STATE");
        self.set_state(State::Backup, out);
        self.notify(out);
        self.preempt_time = None;
        self.ms_down_timer = self.down_timer();
        self.sands = Some(now + self.ms_down_timer);
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Stop {
            return;
        }
        if self.state == State::Master {
            out.push(Action::SendAdvert {
                priority: PRIO_STOP,
            });
            self.log(out, "sent 0 priority");
            out.push(Action::RemoveVips);
        }
        self.set_state(State::Stop, out);
        self.notify(out);
        self.sands = None;
        self.garp_at = None;
        self.garp_lower_at = None;
    }
}

/// Compare without an early exit (keepalived's `memcmp_constant_time`).
fn constant_time_eq(a: &[u8; 8], b: &[u8; 8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
