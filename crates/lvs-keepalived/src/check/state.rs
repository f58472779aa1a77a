//! The sans-IO core of the health checkers: keepalived's `ipwrapper.c` and the checkers'
//! epilogues, with time passed in and IPVS commands handed out as [`Op`]s.
//!
//! [`Checks`] owns one state per virtual server, real server and checker. The driver asks
//! [`Checks::due`] which probes to run, runs them, and feeds each result back with
//! [`Checks::report`]; the core answers with [`Event`]s (lvsd operations, scripts to run,
//! log lines worded as keepalived's) and schedules the checker's next run, which
//! [`Checks::next_deadline`] tells. Nothing here sleeps, opens a socket or reads a clock.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use lvs_api::{DestSpec, Method, Protocol, ServiceKey, Tunnel};

use super::spec::{
    CheckerKind, CheckerSpec, HttpSpec, MiscSpec, Script, SpecError, VirtualServerSpec,
};

/// keepalived's `IPVS_WEIGHT_FAULT`: a FILE_CHECK status this low takes its checker down.
pub const IPVS_WEIGHT_FAULT: i64 = i32::MIN as i64;

/// keepalived's `BOOTSTRAP_DELAY`: checkers start one second after the daemon.
pub const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);
/// Default `delay_loop`.
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// Default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which checker: virtual server, real server and checker, as indexes into the specs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckerId {
    /// Index of the virtual server.
    pub vs: usize,
    /// Index of the real server in it.
    pub rs: usize,
    /// Index of the checker in the real server.
    pub checker: usize,
}

/// A probe to run now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// The checker.
    pub id: CheckerId,
    /// For HTTP_GET/SSL_GET: the url (index into the checker's urls) to fetch; 0 otherwise.
    pub url: usize,
}

/// What the core asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A line for the log, worded as keepalived's.
    Log(String),
    /// Something to do.
    Op(Op),
}

/// An operation on lvsd or a script to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `IP_VS_SO_SET_ADDDEST`.
    AddDest {
        /// The service.
        service: ServiceKey,
        /// The real server with the weight to use.
        dest: DestSpec,
    },
    /// `IP_VS_SO_SET_EDITDEST` (weight changes, inhibiting).
    EditDest {
        /// The service.
        service: ServiceKey,
        /// The real server with its new weight.
        dest: DestSpec,
    },
    /// `IP_VS_SO_SET_DELDEST`.
    DelDest {
        /// The service.
        service: ServiceKey,
        /// Real server address.
        addr: IpAddr,
        /// Real server port.
        port: u16,
    },
    /// Run a notify script (fire and forget, as keepalived's `notify_exec`).
    RunScript {
        /// Why.
        kind: ScriptKind,
        /// What.
        script: Script,
    },
}

/// Why a script runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptKind {
    /// A real server came up (`notify_up`).
    NotifyUp,
    /// A real server went down (`notify_down`).
    NotifyDown,
    /// A virtual server gained quorum (`quorum_up`).
    QuorumUp,
    /// A virtual server lost quorum (`quorum_down`).
    QuorumDown,
}

/// Why a probe failed (worded in the log as keepalived words each checker's failures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailReason {
    /// No answer in time (connect, read, or echo reply).
    Timeout,
    /// The connection was refused or the host/port was unreachable (ICMP error).
    ConnectFailed,
    /// A local or I/O error (socket, bind, send, read).
    Io(String),
    /// The TLS handshake or stream failed.
    Tls(String),
    /// HTTP: the connection closed before a complete header.
    NoData,
    /// HTTP: the status code is not in `status_code`.
    Status(u16),
    /// HTTP: the body's MD5 differs from `digest`.
    Digest,
    /// UDP: the reply does not match `require_reply`.
    ReplyMismatch,
    /// SMTP_CHECK.
    Smtp(SmtpFail),
    /// DNS_CHECK.
    Dns(DnsFail),
}

/// How an SMTP_CHECK failed; [`SmtpFail::message`] words it as keepalived's `smtp_final`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpFail {
    /// The connect failed at once (no route).
    NetworkUnreachable,
    /// The connection was refused or reset, or the host is unreachable.
    ConnectError,
    /// No connection within `connect_timeout`.
    ConnectTimeout,
    /// No complete line within `connect_timeout`.
    ReadTimeout,
    /// The connection closed (or a read failed) before a complete line.
    ReadFailure,
    /// A line could not be written within `connect_timeout`.
    WriteTimeout,
    /// Writing a line failed.
    WriteFailure,
    /// The greeting's status is not 220.
    BadGreeting,
    /// The HELO reply's status is not 250.
    BadHelo,
}

impl SmtpFail {
    /// keepalived's message; `dst` is the checked `[addr]:port`, `rs` the real server's.
    pub fn message(&self, dst: &str, rs: &str) -> String {
        match self {
            SmtpFail::NetworkUnreachable => {
                let host = dst
                    .strip_prefix('[')
                    .and_then(|d| d.rsplit_once("]:"))
                    .map_or(dst, |(h, _)| h);
                format!("Network unreachable for server {host} - real server {rs}")
            }
            SmtpFail::ConnectError => format!("Error connecting to server {dst}"),
            SmtpFail::ConnectTimeout => format!("Connection timeout to server {dst}"),
            SmtpFail::ReadTimeout => format!("Read timeout from server {dst}"),
            SmtpFail::ReadFailure => format!("Read failure from server {dst}"),
            SmtpFail::WriteTimeout => format!("Write timeout to server {dst}"),
            SmtpFail::WriteFailure => format!("Write failure to server {dst}"),
            SmtpFail::BadGreeting => format!("Bad greeting banner from server {dst}"),
            SmtpFail::BadHelo => format!("Bad HELO response from server {dst}"),
        }
    }
}

/// How a DNS_CHECK failed; [`DnsFail::message`] words it as keepalived's `dns_final`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsFail {
    /// The UDP connect failed at once (no route).
    NetworkUnreachable,
    /// The UDP connect failed otherwise.
    ConnectionError,
    /// The query could not be sent.
    WriteFailed,
    /// Only part of the query was sent.
    ShortWrite,
    /// No answer within `connect_timeout`.
    ReadTimeout,
    /// Reading failed with this errno (an ICMP port unreachable gives ECONNREFUSED).
    ReadError(i32),
    /// The answer has this non-zero RCODE.
    Rcode(u8),
}

impl DnsFail {
    /// keepalived's message; `dst` is the checked `[addr]:port`.
    pub fn message(&self, dst: &str) -> String {
        match self {
            DnsFail::NetworkUnreachable => format!("network unreachable for {dst}"),
            DnsFail::ConnectionError => "connection error.".to_string(),
            DnsFail::WriteFailed => "failed to write socket.".to_string(),
            DnsFail::ShortWrite => "failed to write all of the datagram.".to_string(),
            DnsFail::ReadTimeout => "read timeout from socket".to_string(),
            DnsFail::ReadError(e) => format!(
                "failed to read socket; errno {e} ({})",
                nix::errno::Errno::from_raw(*e).desc()
            ),
            DnsFail::Rcode(rc) => format!("read error occurred. (rcode = {rc})"),
        }
    }
}

/// The result of one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The service answered as required.
    Success,
    /// It did not.
    Failure(FailReason),
    /// MISC_CHECK: the script exited with this status.
    Exit(i32),
    /// No verdict: the probe could not be set up locally (socket, bind); keepalived logs
    /// it and tries again a `delay_loop` later without changing any state.
    Skipped(String),
    /// MISC_CHECK: the script died of a signal (`timed_out`: we killed it at
    /// `misc_timeout`).
    Signaled {
        /// The signal.
        signal: i32,
        /// Killed by us on timeout.
        timed_out: bool,
    },
}

/// A checker with every inherited value resolved: what the driver needs to probe.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckerConf {
    /// The checker and its own keywords.
    pub kind: CheckerKind,
    /// Where to connect (`connect_ip`/`connect_port`, else the real server as written).
    pub target: SocketAddr,
    /// Source address and port (`bindto`, `bind_port`).
    pub bind: Option<SocketAddr>,
    /// `bind_if`.
    pub bind_if: Option<String>,
    /// `fwmark`.
    pub fwmark: Option<u32>,
    /// `connect_timeout`.
    pub connect_timeout: Duration,
    /// `retry`.
    pub retry: u32,
    /// `delay_before_retry`.
    pub delay_before_retry: Duration,
    /// `delay_loop`.
    pub delay_loop: Duration,
    /// `warmup`.
    pub warmup: Duration,
    /// `alpha`.
    pub alpha: bool,
    /// `log_all_failures`.
    pub log_all_failures: bool,
    /// HTTP: per url, the Host header value (`virtualhost` of url, checker, real server,
    /// virtual server; else `ip:port`, `[ip6]:port`).
    pub http_hosts: Vec<String>,
    /// SSL_GET with `enable_sni`: per url, the server name to send (url, checker, virtual
    /// server `virtualhost`).
    pub sni: Vec<Option<String>>,
    /// MISC_CHECK: `misc_timeout`, else the virtual server's `delay_loop`.
    pub misc_timeout: Duration,
}

#[derive(Clone, Debug)]
struct CheckerState {
    conf: CheckerConf,
    is_up: bool,
    has_run: bool,
    retry_it: u32,
    enabled: bool,
    next_at: Option<Instant>,
    running: bool,
    started_at: Option<Instant>,
    // HTTP: the url to check next, and the url that failed.
    url_it: usize,
    failed_url: Option<usize>,
    // MISC_CHECK with misc_dynamic, FILE_CHECK: the checker's share of the weight.
    cur_weight: i64,
    last_exit_code: i32,
    // FILE_CHECK: index into `Checks::files`.
    file: Option<usize>,
}

/// A `track_file` the FILE_CHECKs of a configuration watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackFile {
    /// The `track_file` block's name.
    pub name: String,
    /// Its `file`.
    pub path: std::path::PathBuf,
    /// `init_file [VALUE] [overwrite]`.
    pub init: Option<(i32, bool)>,
    /// The value last read (keepalived's `last_status`).
    pub last_status: i64,
    /// Given up (its directory does not exist): its FILE_CHECKs never change anything.
    pub removed: bool,
    checkers: Vec<CheckerId>,
}

/// A FILE_CHECK's status for `value` (keepalived's `update_track_file_status`): with
/// weight 0, 0 (up) or [`IPVS_WEIGHT_FAULT`] by whether the value is zero (inverted by
/// `reverse`); else value × weight (negated by `reverse`) clamped to the `i32` range.
pub fn file_status(value: i64, weight: i32, reverse: bool) -> i64 {
    if weight == 0 {
        if (value == 0) == reverse {
            IPVS_WEIGHT_FAULT
        } else {
            0
        }
    } else {
        let mult: i128 = if reverse { -1 } else { 1 };
        (i128::from(value) * i128::from(weight) * mult)
            .clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i64
    }
}

#[derive(Clone, Debug)]
struct RsState {
    addr: IpAddr,
    /// Port given to lvsd (keepalived's corrected port).
    port: u16,
    method: Method,
    tunnel: Tunnel,
    u_threshold: u32,
    l_threshold: u32,
    iweight: i64,
    effective_weight: i64,
    inhibit: bool,
    alive: bool,
    set: bool,
    num_failed_checkers: u32,
    notify_up: Option<Script>,
    notify_down: Option<Script>,
    checkers: Vec<CheckerState>,
}

#[derive(Clone, Debug)]
struct VsState {
    /// The lvsd services: the virtual server's one, or one per entry (address) of its
    /// `virtual_server_group`.
    services: Vec<ServiceKey>,
    /// `virtual_server group NAME`.
    group: Option<String>,
    proto: &'static str,
    quorum: u32,
    hysteresis: u32,
    quorum_up: Option<Script>,
    quorum_down: Option<Script>,
    omega: bool,
    ha_suspend: bool,
    ha_suspend_addr_count: u32,
    quorum_state_up: bool,
    rs: Vec<RsState>,
    sorry: Option<RsState>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Rs(usize),
    Sorry,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Add,
    Del,
    Edit,
}

/// keepalived's `real_weight`: the weight lvsd gets, clamped to 0..=i32::MAX.
pub fn real_weight(effective: i64) -> i32 {
    effective.clamp(0, i64::from(i32::MAX)) as i32
}

fn proto_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// `[addr]:proto:port`, keepalived's `inet_sockaddrtotrio`.
fn trio(addr: IpAddr, proto: &str, port: u16) -> String {
    format!("[{addr}]:{proto}:{port}")
}

/// The state of every checker of a configuration.
#[derive(Clone, Debug)]
pub struct Checks {
    vs: Vec<VsState>,
    files: Vec<TrackFile>,
    warnings: Vec<String>,
    started: bool,
}

impl Checks {
    /// Resolve the specifications as keepalived's `check_data.c` does (inheritance,
    /// defaults, port corrections, quorum and hysteresis limits, alpha start state).
    /// Corrections are kept as [`Checks::warnings`], worded as keepalived's.
    pub fn new(specs: Vec<VirtualServerSpec>) -> Result<Checks, SpecError> {
        let mut warnings = Vec::new();
        let mut vss = Vec::with_capacity(specs.len());
        for spec in specs {
            vss.push(resolve_vs(spec, &mut warnings)?);
        }
        // One TrackFile per track_file block (name), shared by its FILE_CHECKs.
        let mut files: Vec<TrackFile> = Vec::new();
        for (v, vs) in vss.iter_mut().enumerate() {
            for (r, rs) in vs.rs.iter_mut().enumerate() {
                for (i, c) in rs.checkers.iter_mut().enumerate() {
                    let CheckerKind::File(f) = &c.conf.kind else {
                        continue;
                    };
                    let idx = match files.iter().position(|t| t.name == f.name) {
                        Some(idx) => idx,
                        None => {
                            files.push(TrackFile {
                                name: f.name.clone(),
                                path: f.path.clone(),
                                init: f.init,
                                last_status: 0,
                                removed: false,
                                checkers: Vec::new(),
                            });
                            files.len() - 1
                        }
                    };
                    files[idx].checkers.push(CheckerId {
                        vs: v,
                        rs: r,
                        checker: i,
                    });
                    c.file = Some(idx);
                }
            }
        }
        Ok(Checks {
            vs: vss,
            files,
            warnings,
            started: false,
        })
    }

    /// The track files the FILE_CHECKs watch (index = the `file` argument of
    /// [`Checks::set_file_initial`], [`Checks::file_changed`], [`Checks::remove_track_file`]).
    pub fn track_files(&self) -> &[TrackFile] {
        &self.files
    }

    /// The value a track file holds at start-up (keepalived reads it before the real
    /// servers are put in; no events). Call before [`Checks::start`].
    pub fn set_file_initial(&mut self, file: usize, value: i64) {
        if let Some(f) = self.files.get_mut(file) {
            f.last_status = value;
        }
    }

    /// Give a track file up (keepalived: "Track file directory for NAME does not exist -
    /// removing"): its FILE_CHECKs are dropped, as if not configured. Call before
    /// [`Checks::start`].
    pub fn remove_track_file(&mut self, file: usize) {
        if let Some(f) = self.files.get_mut(file) {
            f.removed = true;
            f.last_status = 0;
        }
    }

    /// A track file now holds `value` (0 also when it was deleted or moved away):
    /// keepalived's `update_track_file_status` for each FILE_CHECK of the file. A
    /// status of [`IPVS_WEIGHT_FAULT`] takes the checker down; leaving it brings the
    /// checker up with its weight share; other changes adjust the real server's weight.
    pub fn file_changed(&mut self, file: usize, value: i64) -> Vec<Event> {
        let mut out = Vec::new();
        let Some(f) = self.files.get(file) else {
            return out;
        };
        if f.removed || value == f.last_status {
            return out;
        }
        let last = f.last_status;
        for id in f.checkers.clone() {
            let CheckerKind::File(spec) = &self.checker(id).conf.kind else {
                continue;
            };
            let (w, rev) = (spec.weight, spec.reverse);
            let new_s = file_status(value, w, rev);
            let prev = file_status(last, w, rev);
            if new_s == prev {
                continue;
            }
            let (v, r) = (id.vs, id.rs);
            if new_s == IPVS_WEIGHT_FAULT {
                self.update_svr_checker_state(id, false, &mut out);
                let cur = self.checker(id).cur_weight;
                self.vs[v].rs[r].effective_weight -= cur;
                self.checker_mut(id).cur_weight = 0;
            } else if prev == IPVS_WEIGHT_FAULT {
                self.checker_mut(id).cur_weight = new_s;
                self.vs[v].rs[r].effective_weight += new_s;
                self.update_svr_checker_state(id, true, &mut out);
            } else {
                let eff = self.vs[v].rs[r].effective_weight + new_s - prev;
                self.update_svr_wgt(v, r, eff, true, &mut out);
                self.checker_mut(id).cur_weight = new_s;
            }
        }
        self.files[file].last_status = value;
        out
    }

    /// keepalived's `set_track_file_weights` and `set_track_file_checkers_down` at
    /// start-up, from the values given to [`Checks::set_file_initial`].
    fn init_file_checkers(&mut self) {
        for fi in 0..self.files.len() {
            let f = &self.files[fi];
            if f.removed || f.last_status == 0 {
                continue;
            }
            let last = f.last_status;
            for id in f.checkers.clone() {
                let CheckerKind::File(spec) = &self.checker(id).conf.kind else {
                    continue;
                };
                let (w, mult) = (i64::from(spec.weight), if spec.reverse { -1 } else { 1 });
                let product = last * w * mult;
                if w == 0 || product <= IPVS_WEIGHT_FAULT {
                    // keepalived marks the checker down for any non-zero value when the
                    // weight is 0, `reverse` or not (the first change of the file puts
                    // that right).
                    self.set_checker_state(id, false);
                } else {
                    self.checker_mut(id).cur_weight = product;
                    self.vs[id.vs].rs[id.rs].effective_weight += product;
                }
            }
        }
    }

    /// Configuration corrections made by [`Checks::new`].
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Every checker id.
    pub fn checker_ids(&self) -> Vec<CheckerId> {
        let mut ids = Vec::new();
        for (v, vs) in self.vs.iter().enumerate() {
            for (r, rs) in vs.rs.iter().enumerate() {
                for c in 0..rs.checkers.len() {
                    ids.push(CheckerId {
                        vs: v,
                        rs: r,
                        checker: c,
                    });
                }
            }
        }
        ids
    }

    /// The resolved configuration of a checker.
    pub fn conf(&self, id: CheckerId) -> &CheckerConf {
        &self.vs[id.vs].rs[id.rs].checkers[id.checker].conf
    }

    /// The services of virtual server `vs` (one, or one per address and fwmark entry of
    /// its `virtual_server_group`).
    pub fn services(&self, vs: usize) -> &[ServiceKey] {
        &self.vs[vs].services
    }

    /// Number of virtual servers.
    pub fn len(&self) -> usize {
        self.vs.len()
    }

    /// Whether there is no virtual server.
    pub fn is_empty(&self) -> bool {
        self.vs.is_empty()
    }

    /// The addresses `ha_suspend` follows for virtual server `vs` (none without
    /// `ha_suspend`): its address, or every address of its group, each once.
    pub fn ha_suspend_addrs(&self, vs: usize) -> Vec<IpAddr> {
        let v = &self.vs[vs];
        let mut out: Vec<IpAddr> = Vec::new();
        if !v.ha_suspend {
            return out;
        }
        let mut seen = std::collections::HashSet::new();
        for s in &v.services {
            if let ServiceKey::Addr { addr, .. } = s
                && seen.insert(*addr)
            {
                out.push(*addr);
            }
        }
        out
    }

    /// Whether real server `rs` of `vs` is alive (all its checkers up).
    pub fn rs_alive(&self, vs: usize, rs: usize) -> bool {
        self.vs[vs].rs[rs].alive
    }

    /// The effective weight of a real server (its weight plus misc_dynamic changes).
    pub fn rs_weight(&self, vs: usize, rs: usize) -> i64 {
        self.vs[vs].rs[rs].effective_weight
    }

    /// Whether virtual server `vs` has quorum.
    pub fn quorum_up(&self, vs: usize) -> bool {
        self.vs[vs].quorum_state_up
    }

    /// Whether the sorry server of `vs` is in use.
    pub fn sorry_active(&self, vs: usize) -> bool {
        self.vs[vs].sorry.as_ref().is_some_and(|s| s.alive)
    }

    /// keepalived's `FMT_VS`.
    pub fn fmt_vs(&self, vs: usize) -> String {
        fmt_vs(&self.vs[vs])
    }

    /// keepalived's `FMT_RS` (also `FMT_CHK`).
    pub fn fmt_rs(&self, vs: usize, rs: usize) -> String {
        let v = &self.vs[vs];
        trio(v.rs[rs].addr, v.proto, v.rs[rs].port)
    }

    /// Start: put the real servers in lvsd (`init_services`) and schedule every checker
    /// at `now + 1 s + jitter(warmup)` (`register_checkers_thread`). `jitter` returns a
    /// random duration in `0..=warmup`. Addresses for `ha_suspend` must be reported with
    /// [`Checks::set_address`] before this, or the checkers start suspended.
    pub fn start(
        &mut self,
        now: Instant,
        jitter: &mut dyn FnMut(Duration) -> Duration,
    ) -> Vec<Event> {
        let mut out = Vec::new();
        if self.started {
            return out;
        }
        self.started = true;
        self.init_file_checkers();
        for v in 0..self.vs.len() {
            // set_quorum_states() ran at configuration time, before any server was alive.
            let ws = weigh_live(&self.vs[v]);
            let vs = &mut self.vs[v];
            vs.quorum_state_up = ws >= i64::from(vs.quorum) + i64::from(vs.hysteresis);
            // init_service_rs
            for r in 0..self.vs[v].rs.len() {
                let rs = &self.vs[v].rs[r];
                if (rs.num_failed_checkers == 0 && !rs.alive) || (rs.inhibit && !rs.set) {
                    self.ipvs_cmd(v, Target::Rs(r), Cmd::Add, &mut out);
                    let rs = &mut self.vs[v].rs[r];
                    if rs.num_failed_checkers == 0 {
                        rs.alive = true;
                    }
                }
            }
            self.update_quorum_state(v, true, &mut out);
            let sorry_inhibit = self.vs[v]
                .sorry
                .as_ref()
                .is_some_and(|s| s.inhibit && !s.set);
            if sorry_inhibit {
                // Added with weight 0 up front.
                if let Some(s) = self.vs[v].sorry.as_mut() {
                    s.num_failed_checkers = 1;
                }
                self.ipvs_cmd(v, Target::Sorry, Cmd::Add, &mut out);
                if let Some(s) = self.vs[v].sorry.as_mut() {
                    s.num_failed_checkers = 0;
                }
            }
        }
        for v in 0..self.vs.len() {
            let vs_fmt = fmt_vs(&self.vs[v]);
            let suspended = self.vs[v].ha_suspend && self.vs[v].ha_suspend_addr_count == 0;
            for r in 0..self.vs[v].rs.len() {
                let rs_fmt = self.fmt_rs(v, r);
                for c in &mut self.vs[v].rs[r].checkers {
                    // FILE_CHECK has no probe to start (keepalived: no `launch`).
                    if c.file.is_some() {
                        continue;
                    }
                    if suspended {
                        c.enabled = false;
                    }
                    out.push(Event::Log(format!(
                        "{}ctivating healthchecker for service {rs_fmt} for VS {vs_fmt}",
                        if c.enabled { "A" } else { "Dea" }
                    )));
                    let w = if c.conf.warmup.is_zero() {
                        Duration::ZERO
                    } else {
                        jitter(c.conf.warmup).min(c.conf.warmup)
                    };
                    c.next_at = Some(now + BOOTSTRAP_DELAY + w);
                }
            }
        }
        out
    }

    /// The earliest time a checker is due, if any is scheduled.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.all_checkers()
            .filter(|c| !c.running)
            .filter_map(|c| c.next_at)
            .min()
    }

    /// The checkers due at `now`: they are marked running until [`Checks::report`].
    /// Suspended checkers (ha_suspend) are not returned but rescheduled a `delay_loop`
    /// later, as keepalived does.
    pub fn due(&mut self, now: Instant) -> Vec<Due> {
        let mut out = Vec::new();
        for (v, vs) in self.vs.iter_mut().enumerate() {
            for (r, rs) in vs.rs.iter_mut().enumerate() {
                for (i, c) in rs.checkers.iter_mut().enumerate() {
                    if c.running || c.next_at.is_none_or(|t| t > now) {
                        continue;
                    }
                    if !c.enabled {
                        c.next_at = Some(now + c.conf.delay_loop);
                        continue;
                    }
                    c.running = true;
                    c.next_at = None;
                    c.started_at = Some(now);
                    out.push(Due {
                        id: CheckerId {
                            vs: v,
                            rs: r,
                            checker: i,
                        },
                        url: c.url_it,
                    });
                }
            }
        }
        out
    }

    /// Feed the result of a probe returned by [`Checks::due`]; the checker is scheduled
    /// again. A result for a checker that is not running is ignored.
    pub fn report(&mut self, now: Instant, id: CheckerId, outcome: Outcome) -> Vec<Event> {
        let mut out = Vec::new();
        let Some(c) = self
            .vs
            .get_mut(id.vs)
            .and_then(|v| v.rs.get_mut(id.rs))
            .and_then(|r| r.checkers.get_mut(id.checker))
        else {
            return out;
        };
        if !c.running {
            return out;
        }
        c.running = false;
        if let Outcome::Skipped(why) = &outcome {
            let line = match &c.conf.kind {
                CheckerKind::Dns(_) => {
                    let v = &self.vs[id.vs];
                    let rs_fmt = trio(v.rs[id.rs].addr, v.proto, v.rs[id.rs].port);
                    format!("DNS_CHECK ({rs_fmt}) {why}. Rescheduling.")
                }
                _ => format!("{why}. Rescheduling."),
            };
            let c = self.checker_mut(id);
            out.push(Event::Log(line));
            c.next_at = Some(now + c.conf.delay_loop);
            return out;
        }
        let delay = match c.conf.kind.clone() {
            CheckerKind::Tcp | CheckerKind::Udp(_) | CheckerKind::Ping => {
                self.simple_epilog(id, &outcome, &mut out)
            }
            CheckerKind::Http(h) => self.http_result(id, &h, &outcome, &mut out),
            CheckerKind::Misc(m) => self.misc_result(id, &m, &outcome, &mut out),
            CheckerKind::Smtp(_) => self.smtp_result(id, &outcome, &mut out),
            CheckerKind::Dns(_) => self.dns_result(id, &outcome, &mut out),
            CheckerKind::File(_) => self.checker(id).conf.delay_loop,
        };
        let c = self.checker_mut(id);
        let next = match (&c.conf.kind, c.started_at) {
            // MISC_CHECK counts from when the script was started.
            (CheckerKind::Misc(_), Some(s)) => (s + delay).max(now),
            _ => now + delay,
        };
        c.next_at = Some(next);
        out
    }

    /// An address was added to (`present`) or removed from this host: resume or suspend
    /// the checkers of `ha_suspend` virtual servers at that address
    /// (`update_checker_activity`). Counted, so an address on two interfaces must go
    /// from both before the checkers stop.
    pub fn set_address(&mut self, addr: IpAddr, present: bool) -> Vec<Event> {
        let mut out = Vec::new();
        for v in 0..self.vs.len() {
            let vs = &self.vs[v];
            if !vs.ha_suspend {
                continue;
            }
            let matches = vs
                .services
                .iter()
                .any(|s| matches!(s, ServiceKey::Addr { addr: a, .. } if *a == addr));
            if !matches {
                continue;
            }
            let vs = &mut self.vs[v];
            if present {
                vs.ha_suspend_addr_count += 1;
            } else {
                vs.ha_suspend_addr_count = vs.ha_suspend_addr_count.saturating_sub(1);
            }
            let count = vs.ha_suspend_addr_count;
            let vs_fmt = fmt_vs(vs);
            for r in 0..self.vs[v].rs.len() {
                let rs_fmt = self.fmt_rs(v, r);
                for c in &mut self.vs[v].rs[r].checkers {
                    if c.file.is_some() {
                        continue;
                    }
                    if present != c.enabled && (present || count == 0) {
                        out.push(Event::Log(format!(
                            "{}ing healthchecker for service {rs_fmt} for VS {vs_fmt}",
                            if c.enabled { "Suspend" } else { "Activat" }
                        )));
                        c.enabled = present;
                    }
                }
            }
        }
        out
    }

    /// Stop (`clear_services`): with `remove_dests`, take every real server and sorry
    /// server this set out of lvsd (`Shutting down service ...`); with `omega`, run
    /// `notify_down` and `quorum_down` as well. Without `remove_dests` (keepalived's
    /// `lvs_flush_on_stop` / `-I`), only the quorum notifications of omega servers run.
    /// Checkers are unscheduled.
    pub fn shutdown(&mut self, remove_dests: bool) -> Vec<Event> {
        let mut out = Vec::new();
        for v in 0..self.vs.len() {
            for c in self.vs[v].rs.iter_mut().flat_map(|r| r.checkers.iter_mut()) {
                c.next_at = None;
                c.running = false;
            }
            if remove_dests {
                if self.vs[v].sorry.as_ref().is_some_and(|s| s.set) {
                    self.force_del(v, Target::Sorry, &mut out);
                    if let Some(s) = self.vs[v].sorry.as_mut() {
                        s.alive = false;
                    }
                }
                for r in 0..self.vs[v].rs.len() {
                    self.clear_service_rs(v, r, &mut out);
                }
            }
            // update_vs_notifies(vs, stopping = true)
            let vs = &mut self.vs[v];
            vs.quorum_state_up = false;
            if vs.omega
                && let Some(s) = vs.quorum_down.clone()
            {
                out.push(Event::Op(Op::RunScript {
                    kind: ScriptKind::QuorumDown,
                    script: s,
                }));
            }
        }
        out
    }

    fn clear_service_rs(&mut self, v: usize, r: usize, out: &mut Vec<Event>) {
        let vs_fmt = fmt_vs(&self.vs[v]);
        let rs_fmt = self.fmt_rs(v, r);
        let rs = &self.vs[v].rs[r];
        out.push(Event::Log(format!(
            "Shutting down {}service {rs_fmt} from VS {vs_fmt}",
            if rs.inhibit && !rs.alive {
                "(inhibited) "
            } else {
                ""
            }
        )));
        if !rs.set {
            return;
        }
        self.force_del(v, Target::Rs(r), out);
        let omega = self.vs[v].omega;
        let rs = &mut self.vs[v].rs[r];
        if !rs.alive {
            return;
        }
        rs.alive = false;
        if !omega {
            return;
        }
        if let Some(s) = rs.notify_down.clone() {
            out.push(Event::Op(Op::RunScript {
                kind: ScriptKind::NotifyDown,
                script: s,
            }));
        }
    }

    /// DELDEST even with inhibit_on_failure.
    fn force_del(&mut self, v: usize, t: Target, out: &mut Vec<Event>) {
        let sav = self.target_mut(v, t).inhibit;
        self.target_mut(v, t).inhibit = false;
        self.ipvs_cmd(v, t, Cmd::Del, out);
        self.target_mut(v, t).inhibit = sav;
    }

    fn all_checkers(&self) -> impl Iterator<Item = &CheckerState> {
        self.vs
            .iter()
            .flat_map(|v| v.rs.iter())
            .flat_map(|r| r.checkers.iter())
    }

    fn checker_mut(&mut self, id: CheckerId) -> &mut CheckerState {
        &mut self.vs[id.vs].rs[id.rs].checkers[id.checker]
    }

    fn checker(&self, id: CheckerId) -> &CheckerState {
        &self.vs[id.vs].rs[id.rs].checkers[id.checker]
    }

    fn target_mut(&mut self, v: usize, t: Target) -> &mut RsState {
        match t {
            Target::Rs(r) => &mut self.vs[v].rs[r],
            Target::Sorry => self.vs[v].sorry.as_mut().expect("sorry server"),
        }
    }

    /// keepalived's `ipvs_cmd` for a destination: inhibit turns a delete into weight 0
    /// and an add of a set server into an edit; the `set` flag follows what lvsd has.
    fn ipvs_cmd(&mut self, v: usize, t: Target, cmd: Cmd, out: &mut Vec<Event>) {
        let services = self.vs[v].services.clone();
        let group = self.vs[v].group.is_some();
        let rs = self.target_mut(v, t);
        let mut weight = real_weight(rs.effective_weight);
        let mut cmd = cmd;
        if cmd == Cmd::Del && rs.inhibit {
            weight = 0;
            cmd = Cmd::Edit;
        } else if cmd == Cmd::Add && rs.inhibit && rs.set {
            cmd = Cmd::Edit;
        } else if cmd == Cmd::Add && !rs.set {
            rs.set = true;
            if rs.inhibit && rs.num_failed_checkers > 0 {
                weight = 0;
            }
        } else if cmd == Cmd::Del && rs.set {
            rs.set = false;
        }
        // One command per service: a group's in keepalived's order (`ipvs_group_cmd`).
        for service in services {
            let port = if group {
                group_dest_port(service, rs.method, rs.port)
            } else {
                rs.port
            };
            let dest = DestSpec {
                addr: rs.addr,
                port,
                method: rs.method,
                tunnel: rs.tunnel,
                weight,
                u_threshold: rs.u_threshold,
                l_threshold: rs.l_threshold,
            };
            out.push(Event::Op(match cmd {
                Cmd::Add => Op::AddDest { service, dest },
                Cmd::Edit => Op::EditDest { service, dest },
                Cmd::Del => Op::DelDest {
                    service,
                    addr: dest.addr,
                    port: dest.port,
                },
            }));
        }
    }

    fn do_rs_notifies(&self, v: usize, r: usize, out: &mut Vec<Event>) {
        let rs = &self.vs[v].rs[r];
        let (kind, script) = if rs.alive {
            (ScriptKind::NotifyUp, &rs.notify_up)
        } else {
            (ScriptKind::NotifyDown, &rs.notify_down)
        };
        if let Some(s) = script {
            out.push(Event::Op(Op::RunScript {
                kind,
                script: s.clone(),
            }));
        }
    }

    fn do_vs_notifies(&self, v: usize, out: &mut Vec<Event>) {
        let vs = &self.vs[v];
        let (kind, script) = if vs.quorum_state_up {
            (ScriptKind::QuorumUp, &vs.quorum_up)
        } else {
            (ScriptKind::QuorumDown, &vs.quorum_down)
        };
        if let Some(s) = script {
            out.push(Event::Op(Op::RunScript {
                kind,
                script: s.clone(),
            }));
        }
    }

    /// keepalived's `perform_quorum_state`: add or remove every alive real server.
    fn perform_quorum_state(&mut self, v: usize, add: bool, out: &mut Vec<Event>) {
        out.push(Event::Log(format!(
            "{} the pool for VS {}",
            if add {
                "Adding alive servers to"
            } else {
                "Removing alive servers from"
            },
            fmt_vs(&self.vs[v])
        )));
        for r in 0..self.vs[v].rs.len() {
            if !self.vs[v].rs[r].alive {
                continue;
            }
            self.ipvs_cmd(v, Target::Rs(r), if add { Cmd::Add } else { Cmd::Del }, out);
        }
    }

    /// keepalived's `update_quorum_state`.
    fn update_quorum_state(&mut self, v: usize, init: bool, out: &mut Vec<Event>) {
        let ws = weigh_live(&self.vs[v]);
        let vs = &self.vs[v];
        let (q, h) = (i64::from(vs.quorum), i64::from(vs.hysteresis));
        let threshold = q + if vs.quorum_state_up { -h } else { h };
        let sorry_alive = vs.sorry.as_ref().map(|s| s.alive);
        let vs_fmt = fmt_vs(vs);
        if !vs.quorum_state_up && ws >= threshold {
            self.vs[v].quorum_state_up = true;
            out.push(Event::Log(format!(
                "Gained quorum {q}+{h}={threshold} <= {ws} for VS {vs_fmt}"
            )));
            if sorry_alive == Some(true) {
                let s = self.vs[v].sorry.as_ref().expect("sorry server");
                out.push(Event::Log(format!(
                    "{} sorry server {} from VS {vs_fmt}",
                    if s.inhibit { "Disabling" } else { "Removing" },
                    trio(s.addr, self.vs[v].proto, s.port)
                )));
                self.ipvs_cmd(v, Target::Sorry, Cmd::Del, out);
                if let Some(s) = self.vs[v].sorry.as_mut() {
                    s.alive = false;
                }
                self.perform_quorum_state(v, true, out);
            }
            self.do_vs_notifies(v, out);
        } else if (vs.quorum_state_up && (ws == 0 || ws < threshold))
            || (init && !vs.quorum_state_up && sorry_alive == Some(false))
        {
            self.vs[v].quorum_state_up = false;
            out.push(Event::Log(format!(
                "{} {q}-{h}={threshold} > {ws} for VS {vs_fmt}",
                if init {
                    "Starting with quorum down"
                } else {
                    "Lost quorum"
                }
            )));
            if sorry_alive == Some(false) {
                let s = self.vs[v].sorry.as_ref().expect("sorry server");
                out.push(Event::Log(format!(
                    "{} sorry server {} to VS {vs_fmt}",
                    if s.inhibit { "Enabling" } else { "Adding" },
                    trio(s.addr, self.vs[v].proto, s.port)
                )));
                self.perform_quorum_state(v, false, out);
                self.ipvs_cmd(v, Target::Sorry, Cmd::Add, out);
                if let Some(s) = self.vs[v].sorry.as_mut() {
                    s.alive = true;
                }
            }
            self.do_vs_notifies(v, out);
        }
    }

    /// keepalived's `perform_svr_state`: a real server goes up or down.
    fn perform_svr_state(&mut self, v: usize, r: usize, alive: bool, out: &mut Vec<Event>) {
        let rs = &self.vs[v].rs[r];
        if rs.alive == alive {
            return;
        }
        let inhibit = rs.inhibit;
        out.push(Event::Log(format!(
            "{}ing service {} {} VS {}",
            match (alive, inhibit) {
                (true, true) => "Enabl",
                (true, false) => "Add",
                (false, true) => "Disabl",
                (false, false) => "Remov",
            },
            self.fmt_rs(v, r),
            if inhibit {
                "of"
            } else if alive {
                "to"
            } else {
                "from"
            },
            fmt_vs(&self.vs[v])
        )));
        let vs = &self.vs[v];
        if vs.quorum_state_up || vs.sorry.as_ref().is_none_or(|s| !s.alive) {
            self.ipvs_cmd(
                v,
                Target::Rs(r),
                if alive { Cmd::Add } else { Cmd::Del },
                out,
            );
        }
        self.vs[v].rs[r].alive = alive;
        self.do_rs_notifies(v, r, out);
        self.update_quorum_state(v, false, out);
    }

    /// keepalived's `update_svr_wgt`.
    fn update_svr_wgt(
        &mut self,
        v: usize,
        r: usize,
        weight: i64,
        update_quorum: bool,
        out: &mut Vec<Event>,
    ) {
        let rs = &mut self.vs[v].rs[r];
        let new_w = real_weight(weight);
        let old_w = real_weight(rs.effective_weight);
        rs.effective_weight = weight;
        if new_w == old_w {
            return;
        }
        let (set, alive) = (rs.set, rs.alive);
        out.push(Event::Log(format!(
            "Changing weight from {old_w} to {new_w} for {}active service {} of VS {}",
            if alive { "" } else { "in" },
            self.fmt_rs(v, r),
            fmt_vs(&self.vs[v])
        )));
        let vs = &self.vs[v];
        if set && alive && (vs.quorum_state_up || vs.sorry.as_ref().is_none_or(|s| !s.alive)) {
            self.ipvs_cmd(v, Target::Rs(r), Cmd::Edit, out);
        }
        if update_quorum {
            self.update_quorum_state(v, false, out);
        }
    }

    /// keepalived's `update_svr_checker_state`.
    fn update_svr_checker_state(&mut self, id: CheckerId, alive: bool, out: &mut Vec<Event>) {
        let c = self.checker(id);
        if c.is_up == alive {
            if !c.has_run {
                if c.conf.alpha || !alive {
                    self.do_rs_notifies(id.vs, id.rs, out);
                }
                self.checker_mut(id).has_run = true;
            }
            return;
        }
        self.checker_mut(id).has_run = true;
        let failed = self.vs[id.vs].rs[id.rs].num_failed_checkers;
        if alive {
            if failed <= 1 {
                self.perform_svr_state(id.vs, id.rs, true, out);
            }
        } else if failed == 0 {
            self.perform_svr_state(id.vs, id.rs, false, out);
        }
        self.set_checker_state(id, alive);
    }

    fn set_checker_state(&mut self, id: CheckerId, up: bool) {
        set_checker_state(&mut self.vs[id.vs].rs[id.rs], id.checker, up);
    }

    /// TCP_CHECK, UDP_CHECK and PING_CHECK share one epilogue (`tcp_epilog`,
    /// `udp_epilog`, `icmp_epilog`). Returns the delay to the next run.
    fn simple_epilog(
        &mut self,
        id: CheckerId,
        outcome: &Outcome,
        out: &mut Vec<Event>,
    ) -> Duration {
        let rs_fmt = self.fmt_rs(id.vs, id.rs);
        let vs_fmt = self.fmt_vs(id.vs);
        let success = *outcome == Outcome::Success;
        let c = self.checker(id);
        let kind = c.conf.kind.clone();
        if let Outcome::Failure(reason) = outcome
            && c.is_up
            && c.conf.log_all_failures
        {
            out.push(Event::Log(simple_failure_line(
                &kind, reason, &rs_fmt, &vs_fmt,
            )));
        }
        let mut delay = c.conf.delay_loop;
        if success || ((c.is_up || !c.has_run) && c.retry_it >= c.conf.retry) {
            let (is_up, has_run, retry) = (c.is_up, c.has_run, c.conf.retry);
            self.checker_mut(id).retry_it = 0;
            if success && (!is_up || !has_run) {
                let what = match kind {
                    CheckerKind::Udp(_) => "UDP connection",
                    CheckerKind::Ping => "ICMP connection",
                    _ => "TCP connection",
                };
                out.push(Event::Log(format!("{what} to {rs_fmt} success.")));
                self.update_svr_checker_state(id, true, out);
            } else if !success && (is_up || !has_run) {
                let line = match (&kind, retry != 0 && has_run) {
                    (CheckerKind::Ping, true) => format!(
                        "ICMP CHECK on service {rs_fmt} of {vs_fmt} failed after {retry} retries."
                    ),
                    (CheckerKind::Ping, false) => {
                        format!("ICMP CHECK on service {rs_fmt} failed.")
                    }
                    (CheckerKind::Udp(_), true) => {
                        format!("UDP_CHECK on service {rs_fmt} failed after {retry} retries.")
                    }
                    (CheckerKind::Udp(_), false) => {
                        format!("UDP_CHECK on service {rs_fmt} failed.")
                    }
                    (_, true) => {
                        format!("TCP_CHECK on service {rs_fmt} failed after {retry} retries.")
                    }
                    (_, false) => format!("TCP_CHECK on service {rs_fmt} failed."),
                };
                out.push(Event::Log(line));
                self.update_svr_checker_state(id, false, out);
            }
        } else if c.is_up {
            delay = c.conf.delay_before_retry;
            self.checker_mut(id).retry_it += 1;
        }
        self.checker_mut(id).has_run = true;
        delay
    }

    /// `[addr]:port` of the checked address (keepalived's `inet_sockaddrtopair`).
    fn target_pair(&self, id: CheckerId) -> String {
        match self.checker(id).conf.target {
            SocketAddr::V4(a) => format!("[{}]:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        }
    }

    /// SMTP_CHECK (`smtp_final`). Returns the delay to the next run. A round starts with
    /// `retry_it` 0 (`smtp_start_check_thread`); each failure counts a retry, tried again
    /// after `delay_before_retry`, also while the checker is down; past `retry` the
    /// checker goes down and the next round is a `delay_loop` later.
    fn smtp_result(&mut self, id: CheckerId, outcome: &Outcome, out: &mut Vec<Event>) -> Duration {
        let rs_fmt = self.fmt_rs(id.vs, id.rs);
        if *outcome == Outcome::Success {
            self.checker_mut(id).retry_it = 0;
            let c = self.checker(id);
            if !c.is_up || !c.has_run {
                out.push(Event::Log(format!(
                    "Remote SMTP server {rs_fmt} succeed on service."
                )));
                self.update_svr_checker_state(id, true, out);
            }
            let c = self.checker_mut(id);
            c.has_run = true;
            return c.conf.delay_loop;
        }
        let msg = match outcome {
            Outcome::Failure(FailReason::Smtp(f)) => {
                let rs_pair = {
                    let r = &self.vs[id.vs].rs[id.rs];
                    match r.addr {
                        IpAddr::V4(a) => format!("[{a}]:{}", r.port),
                        IpAddr::V6(a) => format!("[{a}]:{}", r.port),
                    }
                };
                f.message(&self.target_pair(id), &rs_pair)
            }
            Outcome::Failure(FailReason::Timeout) => {
                SmtpFail::ConnectTimeout.message(&self.target_pair(id), "")
            }
            _ => SmtpFail::ConnectError.message(&self.target_pair(id), ""),
        };
        let c = self.checker(id);
        if (c.is_up || !c.has_run) && (c.conf.log_all_failures || c.retry_it >= c.conf.retry) {
            out.push(Event::Log(format!("SMTP_CHECK {msg}")));
        }
        let c = self.checker_mut(id);
        c.retry_it += 1;
        if c.retry_it <= c.conf.retry {
            return c.conf.delay_before_retry;
        }
        if c.is_up || !c.has_run {
            self.update_svr_checker_state(id, false, out);
        }
        let c = self.checker_mut(id);
        // The next round starts afresh.
        c.retry_it = 0;
        c.conf.delay_loop
    }

    /// DNS_CHECK (`dns_final`). Returns the delay to the next run. Only an up (or not yet
    /// run) checker retries; the first failure after start-up counts at once (retry
    /// iterations start at `retry`).
    fn dns_result(&mut self, id: CheckerId, outcome: &Outcome, out: &mut Vec<Event>) -> Duration {
        let rs_fmt = self.fmt_rs(id.vs, id.rs);
        if *outcome == Outcome::Success {
            let c = self.checker(id);
            if !c.is_up || !c.has_run {
                self.update_svr_checker_state(id, true, out);
            }
            let c = self.checker_mut(id);
            c.retry_it = 0;
            return c.conf.delay_loop;
        }
        let msg = match outcome {
            Outcome::Failure(FailReason::Dns(f)) => f.message(&self.target_pair(id)),
            Outcome::Failure(FailReason::Timeout) => DnsFail::ReadTimeout.message(""),
            _ => DnsFail::ConnectionError.message(""),
        };
        let c = self.checker(id);
        if c.is_up || !c.has_run {
            if c.conf.log_all_failures || c.retry_it >= c.conf.retry {
                let after = if c.has_run && c.retry_it >= c.conf.retry {
                    format!(" after {} retries", c.conf.retry)
                } else {
                    String::new()
                };
                out.push(Event::Log(format!("DNS_CHECK ({rs_fmt}) {msg}{after}")));
            }
            let c = self.checker_mut(id);
            if c.retry_it < c.conf.retry {
                c.retry_it += 1;
                c.has_run = true;
                return c.conf.delay_before_retry;
            }
            self.update_svr_checker_state(id, false, out);
        }
        let c = self.checker_mut(id);
        c.retry_it = 0;
        c.conf.delay_loop
    }

    /// HTTP_GET / SSL_GET (`http_handle_response`, `timeout_epilog`, `epilog`).
    fn http_result(
        &mut self,
        id: CheckerId,
        h: &HttpSpec,
        outcome: &Outcome,
        out: &mut Vec<Event>,
    ) -> Duration {
        let rs_fmt = self.fmt_rs(id.vs, id.rs);
        let c = self.checker(id);
        let url = c.url_it.min(h.urls.len().saturating_sub(1));
        if *outcome == Outcome::Success {
            if !c.is_up {
                out.push(Event::Log(format!(
                    "{} success to {rs_fmt} url({})",
                    if h.urls[url].digest.is_some() {
                        "MD5 digest"
                    } else {
                        "HTTP status code"
                    },
                    h.urls[url].path
                )));
            }
            return self.http_epilog(id, h, HttpStep::New, out);
        }
        if c.is_up || !c.has_run {
            if c.conf.log_all_failures {
                let reason = match outcome {
                    Outcome::Failure(r) => r.clone(),
                    _ => FailReason::Io("unexpected outcome".into()),
                };
                out.push(Event::Log(format!(
                    "{} server {rs_fmt}.",
                    http_failure_words(&reason, h.tls)
                )));
            }
            self.checker_mut(id).has_run = true;
            self.http_epilog(id, h, HttpStep::Retry, out)
        } else {
            self.http_epilog(id, h, HttpStep::Failed, out)
        }
    }

    fn http_epilog(
        &mut self,
        id: CheckerId,
        h: &HttpSpec,
        step: HttpStep,
        out: &mut Vec<Event>,
    ) -> Duration {
        let rs_fmt = self.fmt_rs(id.vs, id.rs);
        let n = h.urls.len();
        let c = self.checker_mut(id);
        match step {
            HttpStep::New => {
                c.url_it += 1;
                c.retry_it = 0;
            }
            HttpStep::Retry => c.retry_it += 1,
            HttpStep::Failed => {}
        }
        let done = c.url_it >= n;
        if step == HttpStep::New && done && c.failed_url.is_none() {
            if !c.is_up || !c.has_run {
                out.push(Event::Log(format!(
                    "Remote Web server {rs_fmt} succeed on service."
                )));
                self.update_svr_checker_state(id, true, out);
                self.checker_mut(id).has_run = true;
            }
            let c = self.checker_mut(id);
            c.url_it = 0;
            c.retry_it = 0;
        } else if step == HttpStep::Retry && c.retry_it > c.conf.retry {
            if c.is_up || !c.has_run {
                let line = if c.has_run && c.conf.retry != 0 {
                    format!(
                        "HTTP_CHECK on service {rs_fmt} failed after {} retries.",
                        c.retry_it - 1
                    )
                } else {
                    format!("HTTP_CHECK on service {rs_fmt} failed.")
                };
                out.push(Event::Log(line));
                self.update_svr_checker_state(id, false, out);
            }
            let c = self.checker_mut(id);
            c.failed_url = Some(c.url_it);
        } else if step == HttpStep::New && c.failed_url.is_some() {
            c.failed_url = None;
            c.url_it = 0;
            c.retry_it = 0;
        }
        let c = self.checker_mut(id);
        if c.url_it >= n {
            c.url_it = 0;
        }
        let delay = if step == HttpStep::New {
            if !c.has_run {
                c.retry_it = c.conf.retry;
            }
            c.conf.delay_loop
        } else if c.failed_url.is_some() {
            c.conf.delay_before_retry.max(c.conf.delay_loop)
        } else {
            c.conf.delay_before_retry
        };
        if h.fast_recovery && (!c.has_run || (!c.is_up && c.failed_url.is_none())) {
            Duration::ZERO
        } else {
            delay
        }
    }

    /// MISC_CHECK (`misc_check_child_thread`).
    fn misc_result(
        &mut self,
        id: CheckerId,
        m: &MiscSpec,
        outcome: &Outcome,
        out: &mut Vec<Event>,
    ) -> Duration {
        let (v, r) = (id.vs, id.rs);
        let mut exit_type: Option<&'static str> = None;
        let mut success = false;
        let mut reason: Option<(&'static str, i32)> = None;
        let mut message_only = false;
        match outcome {
            Outcome::Exit(status) => {
                let status = *status;
                if status == 0 || (m.dynamic && (2..=255).contains(&status)) {
                    let c = self.checker(id);
                    if status != c.last_exit_code {
                        let iweight = self.vs[v].rs[r].iweight;
                        let cur = c.cur_weight;
                        let new_cur = if status != 0 {
                            i64::from(status) - 2 - iweight
                        } else {
                            0
                        };
                        let eff = self.vs[v].rs[r].effective_weight - cur + new_cur;
                        let c = self.checker_mut(id);
                        c.cur_weight = new_cur;
                        c.last_exit_code = status;
                        self.update_svr_wgt(v, r, eff, true, out);
                    }
                    let c = self.checker_mut(id);
                    if !c.is_up || !c.has_run {
                        exit_type = Some("succeeded");
                        success = true;
                    }
                    c.retry_it = 0;
                } else {
                    let c = self.checker_mut(id);
                    if c.is_up || !c.has_run {
                        exit_type = Some("failed");
                        reason = Some(("exited with status", status));
                        if c.retry_it < c.conf.retry {
                            c.retry_it += 1;
                            if c.conf.log_all_failures {
                                message_only = true;
                            } else {
                                exit_type = None;
                            }
                        } else {
                            c.retry_it = 0;
                            let cur = c.cur_weight;
                            c.cur_weight = 0;
                            c.last_exit_code = status;
                            self.vs[v].rs[r].effective_weight -= cur;
                        }
                    }
                }
            }
            Outcome::Signaled { signal, timed_out } => {
                let c = self.checker_mut(id);
                if c.is_up || !c.has_run {
                    if *timed_out {
                        exit_type = Some("timed out");
                    } else {
                        exit_type = Some("failed");
                        reason = Some(("due to signal", *signal));
                    }
                    if c.retry_it < c.conf.retry {
                        c.retry_it += 1;
                        if c.conf.log_all_failures {
                            message_only = true;
                        } else {
                            exit_type = None;
                        }
                    } else {
                        c.retry_it = 0;
                        // keepalived leaves the misc_dynamic share in the weight here;
                        // we take it out as on a failed exit status (see the docs).
                        let cur = c.cur_weight;
                        c.cur_weight = 0;
                        self.vs[v].rs[r].effective_weight -= cur;
                    }
                }
            }
            Outcome::Success | Outcome::Failure(_) | Outcome::Skipped(_) => {
                // A MISC_CHECK result is an exit status; anything else is a failure to run.
                return self.misc_result(id, m, &Outcome::Exit(127), out);
            }
        }
        if let Some(t) = exit_type {
            let c = self.checker(id);
            let (retry, retry_it) = (c.conf.retry, c.retry_it);
            let plural = |n: u32| if n == 1 { "retry" } else { "retries" };
            let msg = if success {
                String::new()
            } else if retry != 0 {
                match retry_it {
                    1 => format!(", will do {retry} {}", plural(retry)),
                    n if n > 1 => format!(" on retry {}/{retry}", n - 1),
                    _ => format!(" after {retry} {}", plural(retry)),
                }
            } else {
                " with retry disabled".to_string()
            };
            let head = format!(
                "Misc check for [{} VS {}] by [{}] {t}{msg}",
                self.fmt_rs(v, r),
                self.fmt_vs(v),
                m.script.program()
            );
            out.push(Event::Log(match reason {
                Some((why, code)) => format!("{head} ({why} {code})."),
                None => format!("{head}."),
            }));
            if !message_only {
                self.update_svr_checker_state(id, success, out);
                if !success {
                    self.checker_mut(id).cur_weight = 0;
                }
            }
        }
        self.checker_mut(id).has_run = true;
        let c = self.checker(id);
        if c.retry_it > 0 {
            c.conf.delay_before_retry
        } else {
            c.conf.delay_loop
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HttpStep {
    New,
    Retry,
    Failed,
}

fn set_checker_state(rs: &mut RsState, checker: usize, up: bool) {
    let c = &mut rs.checkers[checker];
    if c.is_up == up {
        return;
    }
    c.is_up = up;
    if !up {
        rs.num_failed_checkers += 1;
    } else if rs.num_failed_checkers > 0 {
        rs.num_failed_checkers -= 1;
    }
}

fn weigh_live(vs: &VsState) -> i64 {
    vs.rs
        .iter()
        .filter(|r| r.alive)
        .map(|r| i64::from(real_weight(r.effective_weight)))
        .sum()
}

fn fmt_vs(vs: &VsState) -> String {
    if let Some(g) = &vs.group {
        // keepalived's `format_vs`: the group's virtual server has no address, port 0.
        return format!("[{g}]:0");
    }
    match vs.services.first() {
        Some(ServiceKey::Addr { addr, port, .. }) => trio(*addr, vs.proto, *port),
        Some(ServiceKey::Fwmark { mark, .. }) => format!("FWM {mark}"),
        None => String::new(),
    }
}

/// The port a real (or sorry) server has in one service of a group, as keepalived's
/// `ipvs_group_cmd` sets it: NAT keeps the server's own port (as written; 0 when left
/// out); DR/TUN/FNAT take the address service's port, and 0 in a fwmark service.
pub fn group_dest_port(service: ServiceKey, method: Method, rs_port: u16) -> u16 {
    if method == Method::Masq {
        return rs_port;
    }
    match service {
        ServiceKey::Addr { port, .. } => port,
        ServiceKey::Fwmark { .. } => 0,
    }
}

fn simple_failure_line(kind: &CheckerKind, reason: &FailReason, rs: &str, vs: &str) -> String {
    let timeout = *reason == FailReason::Timeout;
    match kind {
        CheckerKind::Udp(_) if *reason == FailReason::ReplyMismatch => {
            format!("UDP check to {rs} reply data mismatch.")
        }
        CheckerKind::Udp(_) => format!("UDP connection to {rs} failed."),
        CheckerKind::Ping if timeout => format!("ICMP connection to address {rs} timeout."),
        CheckerKind::Ping => format!("ICMP connection to {rs} of {vs} failed."),
        _ if timeout => format!("TCP connection to {rs} timeout."),
        _ => format!("TCP connection to {rs} failed."),
    }
}

fn http_failure_words(reason: &FailReason, tls: bool) -> &'static str {
    match reason {
        FailReason::Timeout if tls => "Timeout SSL read",
        FailReason::Timeout => "Timeout connecting",
        FailReason::ConnectFailed => "Connection failed",
        FailReason::Io(_) => "Read error with",
        FailReason::Tls(_) => "SSL handshake/communication error connecting to",
        FailReason::NoData => "Read, no data received from",
        FailReason::Status(_) => "HTTP status code error to",
        FailReason::Digest => "MD5 digest error to",
        FailReason::ReplyMismatch | FailReason::Smtp(_) | FailReason::Dns(_) => "Read error with",
    }
}

fn resolve_vs(spec: VirtualServerSpec, warnings: &mut Vec<String>) -> Result<VsState, SpecError> {
    let proto = match (&spec.group, spec.key) {
        (Some(g), _) => g.protocol.map(proto_name).unwrap_or("none"),
        (None, ServiceKey::Addr { protocol, .. }) => proto_name(protocol),
        (None, ServiceKey::Fwmark { .. }) => spec.fwmark_protocol.map(proto_name).unwrap_or("none"),
    };
    let (vport, fwmark) = match spec.key {
        ServiceKey::Addr { port, .. } => (port, false),
        ServiceKey::Fwmark { .. } => (0, true),
    };
    // A group's ports are set per service when the commands go out (`group_dest_port`);
    // keepalived corrects nothing in the configuration then (its checks only warn).
    let group = spec.group.is_some();
    let fwmark = match &spec.group {
        Some(g) => g
            .services
            .iter()
            .any(|s| matches!(s, ServiceKey::Fwmark { .. })),
        None => fwmark,
    };
    let mut vs = VsState {
        services: match &spec.group {
            Some(g) => g.services.clone(),
            None => vec![spec.key],
        },
        group: spec.group.as_ref().map(|g| g.name.clone()),
        proto,
        quorum: spec.quorum,
        hysteresis: spec.hysteresis,
        quorum_up: spec.quorum_up.clone(),
        quorum_down: spec.quorum_down.clone(),
        omega: spec.omega,
        ha_suspend: spec.ha_suspend,
        ha_suspend_addr_count: 0,
        quorum_state_up: false,
        rs: Vec::new(),
        sorry: None,
    };
    let vs_fmt = fmt_vs(&vs);
    if spec.ha_suspend && fwmark {
        return Err(SpecError::HaSuspendFwmark(vs_fmt));
    }
    let vs_delay_loop = spec.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    let mut weight_sum: i64 = 0;
    for rspec in &spec.real_servers {
        let method = rspec.method.unwrap_or(spec.method);
        let mut port = rspec.port;
        let rs_fmt = |p: u16| trio(rspec.addr, proto, p);
        if group {
            // As written: `group_dest_port` gives each service its port.
        } else if method == Method::Masq {
            if !fwmark && port == 0 {
                port = vport;
            }
        } else if fwmark {
            if port != 0 {
                warnings.push(format!(
                    "WARNING - fwmark virtual server {vs_fmt}, real server {} has port specified - clearing",
                    rs_fmt(port)
                ));
                port = 0;
            }
        } else if port == 0 {
            port = vport;
        } else if port != vport {
            warnings.push(format!(
                "WARNING - virtual server {vs_fmt} and real server {} ports don't match - resetting",
                rs_fmt(port)
            ));
            port = vport;
        }
        let weight = i64::from(rspec.weight);
        weight_sum += weight;
        let rs_delay_loop = rspec.delay_loop.unwrap_or(vs_delay_loop);
        let mut rs = RsState {
            addr: rspec.addr,
            port,
            method,
            tunnel: rspec.tunnel.unwrap_or(spec.tunnel),
            u_threshold: rspec.u_threshold,
            l_threshold: rspec.l_threshold,
            iweight: weight,
            effective_weight: weight,
            inhibit: rspec.inhibit_on_failure.unwrap_or(spec.inhibit_on_failure),
            alive: false,
            set: false,
            num_failed_checkers: 0,
            notify_up: rspec.notify_up.clone(),
            notify_down: rspec.notify_down.clone(),
            checkers: Vec::new(),
        };
        let rs_alpha = rspec.alpha.unwrap_or(spec.alpha);
        for cspec in &rspec.checkers {
            let c = resolve_checker(
                cspec,
                &spec,
                rspec,
                rs_alpha,
                rs_delay_loop,
                &vs_fmt,
                &rs_fmt(port),
            )?;
            rs.checkers.push(c);
        }
        // Alpha checkers start failed; every checker's first failure counts at once
        // (SMTP_CHECK's first round resets that: `smtp_start_check_thread`).
        for i in 0..rs.checkers.len() {
            if rs.checkers[i].conf.alpha {
                set_checker_state(&mut rs, i, false);
                rs.alive = false;
            }
            rs.checkers[i].retry_it = match rs.checkers[i].conf.kind {
                CheckerKind::Smtp(_) => 0,
                _ => rs.checkers[i].conf.retry,
            };
        }
        vs.rs.push(rs);
    }
    if let Some(s) = spec.sorry_server {
        let method = s.method.unwrap_or(spec.method);
        let mut port = s.port;
        if group {
            // As written: `group_dest_port` gives each service its port.
        } else if method == Method::Masq {
            if !fwmark && port == 0 {
                port = vport;
            }
        } else if fwmark {
            if port != 0 {
                warnings.push(format!(
                    "WARNING - virtual server {vs_fmt}, sorry server has port specified - clearing"
                ));
                port = 0;
            }
        } else if port == 0 {
            port = vport;
        } else if port != vport {
            warnings.push(format!(
                "WARNING - virtual server {vs_fmt} and sorry server ports don't match - resetting"
            ));
            port = vport;
        }
        vs.sorry = Some(RsState {
            addr: s.addr,
            port,
            method,
            tunnel: spec.tunnel,
            u_threshold: 0,
            l_threshold: 0,
            iweight: 1,
            effective_weight: 1,
            inhibit: s.inhibit,
            alive: false,
            set: false,
            num_failed_checkers: 0,
            notify_up: None,
            notify_down: None,
            checkers: Vec::new(),
        });
    }
    if i64::from(vs.quorum) > weight_sum {
        let ws = weight_sum.max(0) as u32;
        warnings.push(format!(
            "Warning - quorum {} for {vs_fmt} exceeds total weight of real servers {ws}, reducing quorum to {ws}",
            vs.quorum
        ));
        vs.quorum = ws;
    }
    if vs.hysteresis >= vs.quorum && !(vs.hysteresis == 0 && vs.quorum == 0) {
        let h = vs.quorum.saturating_sub(1);
        warnings.push(format!(
            "Virtual server {vs_fmt}: hysteresis {} >= quorum {}; setting hysteresis to {h}",
            vs.hysteresis, vs.quorum
        ));
        vs.hysteresis = h;
    }
    Ok(vs)
}

fn resolve_checker(
    c: &CheckerSpec,
    vs: &VirtualServerSpec,
    rs: &super::spec::RealServerSpec,
    rs_alpha: bool,
    rs_delay_loop: Duration,
    vs_fmt: &str,
    rs_fmt: &str,
) -> Result<CheckerState, SpecError> {
    let (default_retry, default_dbr) = match &c.kind {
        CheckerKind::Http(_) => (1, Duration::from_secs(3)),
        CheckerKind::Misc(_) => (0, Duration::from_secs(1)),
        // DNS_CHECK: delay_before_retry defaults to the delay_loop.
        CheckerKind::Dns(_) => (3, Duration::ZERO),
        _ => (1, Duration::from_secs(1)),
    };
    match &c.kind {
        CheckerKind::Http(h) if h.urls.is_empty() => {
            return Err(SpecError::NoUrls {
                vs: vs_fmt.to_string(),
                rs: rs_fmt.to_string(),
            });
        }
        CheckerKind::Misc(m) if m.script.argv.is_empty() => {
            return Err(SpecError::NoMiscPath {
                vs: vs_fmt.to_string(),
                rs: rs_fmt.to_string(),
            });
        }
        CheckerKind::Dns(d) => {
            super::probe::dns_query(0, d.qtype, &d.name)?;
        }
        _ => {}
    }
    let delay_loop = c.delay_loop.unwrap_or(rs_delay_loop);
    let retry = c.retry.or(rs.retry).or(vs.retry).unwrap_or(default_retry);
    let dbr = c
        .delay_before_retry
        .or(rs.delay_before_retry)
        .or(vs.delay_before_retry)
        .unwrap_or(if default_dbr.is_zero() {
            delay_loop
        } else {
            default_dbr
        });
    let warmup = c.warmup.or(rs.warmup).or(vs.warmup).unwrap_or(delay_loop);
    let connect_timeout = c
        .connect_timeout
        .or(rs.connect_timeout)
        .or(vs.connect_timeout)
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let target_ip = c.connect_ip.unwrap_or(rs.addr);
    let target = SocketAddr::new(target_ip, c.connect_port.unwrap_or(rs.port));
    let bind = match (c.bindto, c.bind_port) {
        (Some(a), p) => Some(SocketAddr::new(a, p.unwrap_or(0))),
        (None, Some(p)) => Some(SocketAddr::new(
            if target_ip.is_ipv4() {
                IpAddr::from([0u8; 4])
            } else {
                IpAddr::from([0u16; 8])
            },
            p,
        )),
        (None, None) => None,
    };
    let (http_hosts, sni) = match &c.kind {
        CheckerKind::Http(h) => {
            let hosts = h
                .urls
                .iter()
                .map(|u| {
                    u.virtualhost
                        .clone()
                        .or_else(|| h.virtualhost.clone())
                        .or_else(|| rs.virtualhost.clone())
                        .or_else(|| vs.virtualhost.clone())
                        .unwrap_or_else(|| match target {
                            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
                            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
                        })
                })
                .collect();
            let sni = h
                .urls
                .iter()
                .map(|u| {
                    if h.enable_sni {
                        u.virtualhost
                            .clone()
                            .or_else(|| h.virtualhost.clone())
                            .or_else(|| vs.virtualhost.clone())
                    } else {
                        None
                    }
                })
                .collect();
            (hosts, sni)
        }
        _ => (Vec::new(), Vec::new()),
    };
    let misc_timeout = match &c.kind {
        CheckerKind::Misc(m) => m
            .timeout
            .unwrap_or(vs.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP)),
        _ => Duration::ZERO,
    };
    let conf = CheckerConf {
        kind: c.kind.clone(),
        target,
        bind,
        bind_if: c.bind_if.clone(),
        fwmark: c.fwmark,
        connect_timeout,
        retry,
        delay_before_retry: dbr,
        delay_loop,
        warmup,
        alpha: c.alpha.unwrap_or(rs_alpha),
        log_all_failures: c.log_all_failures,
        http_hosts,
        sni,
        misc_timeout,
    };
    let is_file = matches!(conf.kind, CheckerKind::File(_));
    let mut conf = conf;
    if is_file {
        // keepalived: the file is read before anything runs, so the checker counts as
        // run, and alpha does not apply.
        conf.alpha = false;
    }
    Ok(CheckerState {
        conf,
        is_up: true,
        has_run: is_file,
        retry_it: 0,
        enabled: true,
        next_at: None,
        running: false,
        started_at: None,
        url_it: 0,
        failed_url: None,
        cur_weight: 0,
        last_exit_code: 0,
        file: None,
    })
}
