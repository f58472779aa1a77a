//! keepalived's keyword parser (lib/parser.c `process_stream`, `alloc_value_block`,
//! `skip_block`), driven by the tables in [`super::keywords`].
//!
//! keepalived parses the whole file once in each of its processes, with only that process's
//! root keywords active; blocks of inactive root keywords are skipped by counting braces.
//! [`Parser::run_pass`] does the same for one [`PassKind`], so malformed block structure gives
//! the same messages as keepalived does. The handlers (in `h_global.rs`, `h_vrrp.rs`,
//! `h_check.rs`) fill a [`Build`], which `check.rs` completes and turns into the model.

use std::net::IpAddr;

use super::diag::{Diagnostics, Level, Location};
use super::env::{Env, InterfaceInfo};
use super::keywords::{Group, H, Kw, ROOT};
use super::lexer::{self, Lexer, Line, QuoteError};
use super::model::*;
use super::num::{self, Msgs};

/// keepalived stops at once (exit 2) when a handler reads a parameter that is not there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Abort;

/// Result of a handler.
pub(crate) type R<T = ()> = Result<T, Abort>;

/// The logical lines of the configuration, read on demand and kept for the next passes.
pub(crate) struct Source {
    lexer: Option<Lexer>,
    lines: Vec<Line>,
    file_error: bool,
}

impl Source {
    /// Lines from a lexer.
    pub(crate) fn new(lexer: Lexer) -> Self {
        Self {
            lexer: Some(lexer),
            lines: Vec::new(),
            file_error: false,
        }
    }

    fn get(&mut self, i: usize, d: &mut Diagnostics) -> Option<&Line> {
        while self.lines.len() <= i {
            let l = self.lexer.as_mut()?.next_line(d);
            match l {
                Some(l) => self.lines.push(l),
                None => {
                    self.file_error |= self.lexer.as_ref().is_some_and(|l| l.had_file_error());
                    self.lexer = None;
                    return None;
                }
            }
        }
        self.lines.get(i)
    }

    /// Reads everything that is left (so that end-of-file messages are emitted).
    pub(crate) fn drain(&mut self, d: &mut Diagnostics) {
        let mut i = self.lines.len();
        while self.get(i, d).is_some() {
            i += 1;
        }
    }

    /// Whether an include problem that counts as an error happened.
    pub(crate) fn had_file_error(&self) -> bool {
        self.file_error || self.lexer.as_ref().is_some_and(|l| l.had_file_error())
    }
}

/// Which keepalived process a pass emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PassKind {
    /// The parent: `global_defs` and bare root keywords.
    Parent,
    /// The checker process: virtual servers.
    Checker,
    /// The VRRP process: instances, scripts, sync groups, static addresses.
    Vrrp,
}

impl PassKind {
    fn active(self, g: Group) -> bool {
        match self {
            PassKind::Parent => g == Group::Global,
            PassKind::Checker => matches!(g, Group::Check | Group::Bfd | Group::TrackFile),
            PassKind::Vrrp => matches!(g, Group::Vrrp | Group::Bfd | Group::TrackFile),
        }
    }
}

/// An interface reference: its name, and what the machine says about it (`None` when it does
/// not exist now but `dynamic_interfaces` allows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IfRef {
    pub name: String,
    pub info: Option<InterfaceInfo>,
}

/// A script with the uid/gid it runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScriptB {
    pub script: Script,
    pub uid: u32,
    pub gid: u32,
}

/// State of keepalived's default script user (lib/notify.c).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DefaultUser {
    pub set: bool,
    pub fail: bool,
    pub ids: (u32, u32),
}

/// A vrrp_script being built.
#[derive(Debug, Clone)]
pub(crate) struct ScriptBuild {
    pub name: String,
    pub script: Option<ScriptB>,
    pub user: Option<(ScriptUser, u32, u32)>,
    pub interval_us: u64,
    pub timeout_us: u64,
    pub weight: i32,
    pub weight_reverse: bool,
    pub rise: u32,
    pub fall: u32,
    pub init_fail: bool,
    pub insecure: bool,
}

/// Authentication kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthKind {
    None,
    Pass,
    Ah,
}

/// A vrrp_instance being built (the fields of keepalived's `vrrp_t` the checks use).
#[derive(Debug, Clone)]
pub(crate) struct InstBuild {
    pub name: String,
    pub wantstate: Option<InitialState>,
    pub base_priority: u8,
    pub ifp: Option<IfRef>,
    pub vrid: u8,
    pub family: Option<Family>,
    pub version: u8,
    pub adver_int_us: u64,
    pub nopreempt: bool,
    pub preempt_delay_us: u64,
    pub auth_type: AuthKind,
    pub auth_data: Vec<u8>,
    pub vips: Vec<VirtualAddress>,
    pub evips: Vec<VirtualAddress>,
    pub saddr: Option<IpAddr>,
    pub saddr_from_config: bool,
    pub peers: Vec<UnicastPeer>,
    pub unicast_configured: bool,
    pub unicast_fault_no_peer: bool,
    pub unicast: bool,
    pub ttl: Option<u8>,
    pub mcast_daddr: Option<IpAddr>,
    pub track_ifs: Vec<(TrackedInterface, IfRef)>,
    pub track_scripts: Vec<TrackedScript>,
    pub dont_track_primary: bool,
    pub notify_master: Option<ScriptB>,
    pub notify_backup: Option<ScriptB>,
    pub notify_fault: Option<ScriptB>,
    pub notify_stop: Option<ScriptB>,
    pub notify_deleted: Option<ScriptB>,
    pub notify_deleted_set: bool,
    pub notify: Option<ScriptB>,
    pub notify_master_rx_lower_pri: Option<ScriptB>,
    pub garp_delay_us: u64,
    pub garp_rep: u32,
    pub garp_refresh_s: u64,
    pub garp_refresh_rep: u32,
    pub garp_lower_prio_delay_us: Option<u64>,
    pub garp_lower_prio_rep: Option<u32>,
    pub down_timer_adverts: u32,
    pub accept: Option<bool>,
    pub strict_mode: Option<bool>,
    pub skip_check_adv_addr: bool,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    pub smtp_alert: Option<bool>,
    pub promote_secondaries: bool,
    pub use_vmac: Option<String>,
    pub vroutes: Vec<RouteSpec>,
    pub vrules: Vec<RouteSpec>,
    pub native_ipv6: bool,
    pub vrf: bool,
    pub sync: Option<usize>,
}

/// A vrrp_sync_group being built.
#[derive(Debug, Clone)]
pub(crate) struct SgBuild {
    pub name: String,
    pub iname: Option<Vec<String>>,
    pub members: Vec<usize>,
    pub track_ifs: Vec<(TrackedInterface, IfRef)>,
    pub track_scripts: Vec<TrackedScript>,
    pub notify_master: Option<ScriptB>,
    pub notify_backup: Option<ScriptB>,
    pub notify_fault: Option<ScriptB>,
    pub notify_stop: Option<ScriptB>,
    pub notify: Option<ScriptB>,
    pub smtp_alert: Option<bool>,
    pub tracking_weight: bool,
}

/// Connection options of a checker (check_api.c `conn_opts_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnOpts {
    pub dst: IpAddr,
    pub dst_port: u16,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    pub connect_timeout_us: Option<u64>,
    pub fwmark: Option<u32>,
}

/// A FILE_CHECK being built: track_file name, `weight W [reverse]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileCheckB {
    pub name: Option<String>,
    pub weight: Option<(i32, bool)>,
}

/// A checker being built.
#[derive(Debug, Clone)]
pub(crate) struct ChkBuild {
    pub kind: CheckerKind,
    pub co: Option<ConnOpts>,
    pub alpha: Option<bool>,
    pub delay_loop_us: Option<u64>,
    pub warmup_us: Option<u64>,
    pub retry: Option<u32>,
    pub delay_before_retry_us: Option<u64>,
    pub default_retry: u32,
    pub default_delay_before_retry_us: u64,
    pub log_all_failures: bool,
    pub misc_script: Option<ScriptB>,
    pub misc_user_set: bool,
    pub misc_user: Option<(ScriptUser, u32, u32)>,
    /// SMTP_CHECK: a conn keyword was given outside `host { }`.
    pub co_set: bool,
    /// SMTP_CHECK: inside `host { }`, the checker's own conn options.
    pub smtp_saved_co: Option<ConnOpts>,
    /// SMTP_CHECK: the `host { }` blocks.
    pub smtp_hosts: Vec<ConnOpts>,
}

/// A sorry server being built.
#[derive(Debug, Clone)]
pub(crate) struct SorryBuild {
    pub addr: IpAddr,
    pub port: u16,
    pub inhibit: bool,
    pub method: Option<ForwardMethod>,
}

/// A real server being built.
#[derive(Debug, Clone)]
pub(crate) struct RsBuild {
    pub addr: IpAddr,
    pub port: u16,
    pub weight: Option<u32>,
    pub method: Option<ForwardMethod>,
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub inhibit: Option<bool>,
    pub notify_up: Option<ScriptB>,
    pub notify_down: Option<ScriptB>,
    pub alpha: Option<bool>,
    pub retry: Option<u32>,
    pub delay_before_retry_us: Option<u64>,
    pub warmup_us: Option<u64>,
    pub connect_timeout_us: Option<u64>,
    pub delay_loop_us: Option<u64>,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub checkers: Vec<ChkBuild>,
}

/// A virtual server being built.
#[derive(Debug, Clone)]
pub(crate) struct VsBuild {
    pub key: VirtualServerKey,
    pub af: Option<Family>,
    pub vsgname: Option<String>,
    pub retry: Option<u32>,
    pub delay_before_retry_us: Option<u64>,
    pub warmup_us: Option<u64>,
    pub connect_timeout_us: u64,
    pub delay_loop_us: u64,
    pub inhibit: bool,
    pub sched: String,
    pub flags: SchedFlags,
    pub method: Option<ForwardMethod>,
    pub persistence_engine: Option<String>,
    pub persistence_timeout: u32,
    pub granularity: Option<PersistenceGranularity>,
    pub protocol: Option<Protocol>,
    pub ha_suspend: bool,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub alpha: bool,
    pub omega: bool,
    pub quorum_up: Option<ScriptB>,
    pub quorum_down: Option<ScriptB>,
    pub quorum: u32,
    pub hysteresis: u32,
    pub weight: u32,
    pub sorry: Option<SorryBuild>,
    pub rss: Vec<RsBuild>,
}

/// A virtual_server_group being built.
#[derive(Debug, Clone)]
pub(crate) struct VsgBuild {
    pub name: String,
    pub entries: Vec<VirtualServerGroupEntry>,
    pub have_ipv4: bool,
    pub have_ipv6: bool,
    pub fwmark_no_family: bool,
}

/// Everything the handlers of all passes collect.
#[derive(Debug, Default)]
pub(crate) struct Build {
    pub global: GlobalDefs,
    pub lower_prio_delay_set: bool,
    pub lower_prio_rep_set: bool,
    pub nftables: bool,
    pub default_user: DefaultUser,
    pub startup_script: Option<ScriptB>,
    pub shutdown_script: Option<ScriptB>,
    // checker process
    pub vsgs: Vec<VsgBuild>,
    pub vss: Vec<VsBuild>,
    pub cur_checker: Option<(usize, usize, usize)>,
    pub misc_open: bool,
    pub track_files: Vec<crate::conf::model::TrackFile>,
    pub cur_track_file: Option<crate::conf::model::TrackFile>,
    pub cur_track_file_path_set: bool,
    pub file_check: Option<FileCheckB>,
    // vrrp process
    pub scripts: Vec<ScriptBuild>,
    pub script_user_set: bool,
    pub remove_script: bool,
    pub insts: Vec<InstBuild>,
    pub sgroups: Vec<SgBuild>,
    pub static_addresses: Vec<VirtualAddress>,
    pub static_routes: Vec<RouteSpec>,
    pub static_rules: Vec<RouteSpec>,
    pub track_groups: Vec<String>,
    pub nonexistent_interface: bool,
    pub ifaces: Vec<IfRef>,
    pub next_rule_priority_v4: u32,
    pub next_rule_priority_v6: u32,
}

/// Value-block kinds (handlers that read the lines of a `{ }` block themselves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vb {
    Ignore,
    Vip,
    Evip,
    UnicastPeer,
    TrackIf,
    TrackScript,
    SgTrackIf,
    SgTrackScript,
    StaticAddr,
    StaticRoute,
    StaticRule,
    VirtualRoute,
    VirtualRule,
    Vsg,
}

/// One parse of the whole file as one keepalived process does it.
pub(crate) struct Parser<'a> {
    src: &'a mut Source,
    pos: usize,
    pub(crate) d: &'a mut Diagnostics,
    pub(crate) env: &'a dyn Env,
    pub(crate) b: &'a mut Build,
    kind: PassKind,
    skip: i32,
    kw_level: i32,
    pub(crate) loc: Option<Location>,
    pub(crate) raw: String,
}

impl<'a> Parser<'a> {
    /// A parser for one pass.
    pub(crate) fn new(
        src: &'a mut Source,
        d: &'a mut Diagnostics,
        env: &'a dyn Env,
        b: &'a mut Build,
        kind: PassKind,
    ) -> Self {
        Self {
            src,
            pos: 0,
            d,
            env,
            b,
            kind,
            skip: 0,
            kw_level: 0,
            loc: None,
            raw: String::new(),
        }
    }

    /// Parses the whole file.
    pub(crate) fn run_pass(&mut self) -> R {
        self.process_stream(ROOT, false).map(|_| ())
    }

    /// Reports a message at the current line.
    pub(crate) fn report(&mut self, level: Level, msg: impl Into<String>) {
        self.d.report(level, self.loc.clone(), msg);
    }

    /// Reports a general error at the current line (most keepalived messages).
    pub(crate) fn err(&mut self, msg: impl Into<String>) {
        self.report(Level::GeneralError, msg);
    }

    /// Logs an informational message (keepalived's `log_message`, not shown by `-t`).
    pub(crate) fn info(&mut self, msg: impl Into<String>) {
        self.report(Level::Info, msg);
    }

    pub(crate) fn flush(&mut self, m: Msgs) {
        for (l, s) in m {
            self.report(l, s);
        }
    }

    /// `strvec_slot(strvec, i)`: the word, or keepalived's missing-parameter stop.
    pub(crate) fn arg<'w>(&mut self, w: &'w [String], i: usize) -> R<&'w str> {
        if let Some(s) = w.get(i) {
            return Ok(s.as_str());
        }
        let first = w.first().map(String::as_str).unwrap_or("***MISSING ***");
        let msg = if i > 0 && i - 1 < w.len() {
            format!(
                "*** Configuration line starting `{first}` is missing a parameter after keyword `{}` at word position {}",
                w[i - 1],
                i + 1
            )
        } else {
            format!(
                "*** Configuration line starting `{first}` is missing a parameter at word position {}",
                i + 1
            )
        };
        self.report(Level::MissingParameter, msg);
        Err(Abort)
    }

    /// `read_unsigned_strvec(strvec, i, min, max)`.
    pub(crate) fn uint(&mut self, w: &[String], i: usize, min: u32, max: u32) -> R<Option<u32>> {
        let s = self.arg(w, i)?.to_string();
        let mut m = Msgs::new();
        let v = num::read_unsigned(&s, min, max, &mut m);
        self.flush(m);
        Ok(v)
    }

    /// `read_int_strvec(strvec, i, min, max)`.
    pub(crate) fn int(&mut self, w: &[String], i: usize, min: i32, max: i32) -> R<Option<i32>> {
        let s = self.arg(w, i)?.to_string();
        let mut m = Msgs::new();
        let v = num::read_int(&s, min, max, &mut m);
        self.flush(m);
        Ok(v)
    }

    /// `read_timer(strvec, i, min, max, true)` in microseconds.
    pub(crate) fn timer(&mut self, w: &[String], i: usize, min: u64, max: u64) -> R<Option<u64>> {
        let s = self.arg(w, i)?.to_string();
        let mut m = Msgs::new();
        let v = num::read_timer(&s, min, max, true, &mut m);
        self.flush(m);
        Ok(v)
    }

    /// `read_decimal_unsigned_strvec(strvec, i, min, max, TIMER_HZ_DIGITS, true)`.
    pub(crate) fn decimal(&mut self, w: &[String], i: usize, min: u64, max: u64) -> R<Option<u64>> {
        let s = self.arg(w, i)?.to_string();
        let mut m = Msgs::new();
        let v = num::read_decimal(&s, min, max, 6, true, &mut m);
        self.flush(m);
        Ok(v)
    }

    /// `inet_stosockaddr(ip, port)` with messages.
    pub(crate) fn sockaddr(
        &mut self,
        ip: &str,
        port: Option<&str>,
    ) -> Result<(IpAddr, Option<u16>), ()> {
        let mut m = Msgs::new();
        let r = num::inet_stosockaddr(ip, port, &mut m);
        self.flush(m);
        r
    }

    /// `if_get_by_ifname(name, IF_CREATE_IF_DYNAMIC)`: `None` (and the "non-existent
    /// interface" flag) when it does not exist and `dynamic_interfaces` is off.
    pub(crate) fn if_dynamic(&mut self, name: &str) -> Option<IfRef> {
        if let Some(r) = self.b.ifaces.iter().find(|r| r.name == name) {
            return Some(r.clone());
        }
        match self.env.interface(name) {
            Some(info) => {
                let r = IfRef {
                    name: name.to_string(),
                    info: Some(info),
                };
                self.b.ifaces.push(r.clone());
                Some(r)
            }
            None if self.b.global.dynamic_interfaces => {
                self.info(format!("Configuration specifies interface {name} which doesn't currently exist - will use if created"));
                let r = IfRef {
                    name: name.to_string(),
                    info: None,
                };
                self.b.ifaces.push(r.clone());
                Some(r)
            }
            None => {
                self.b.nonexistent_interface = true;
                None
            }
        }
    }

    fn read(&mut self) -> Option<Vec<String>> {
        let line = self.src.get(self.pos, self.d)?.clone();
        self.pos += 1;
        self.loc = Some(line.loc);
        self.raw = line.text;
        let (words, err) = lexer::split_words(&self.raw);
        if let Some(e) = err {
            self.report(Level::UnmatchedQuote, e);
        }
        Some(words)
    }

    /// `process_stream(keywords, need_bob)`: `Ok(true)` when a skipped block ended the level.
    fn process_stream(&mut self, table: &'static [Kw], need_bob: bool) -> R<bool> {
        let mut need_bob = need_bob;
        loop {
            let Some(mut words) = self.read() else {
                return Ok(false);
            };
            if words.is_empty() {
                continue;
            }
            if self.skip == -1 {
                if words[0] == "{" {
                    self.skip = 1;
                    need_bob = false;
                    continue;
                }
                self.skip = 0;
            }
            if self.skip != 0 {
                let mut last = "";
                for w in &words {
                    last = w;
                    if w == "{" {
                        self.skip += 1;
                    } else if w == "}" {
                        self.skip -= 1;
                        if self.skip == 0 {
                            break;
                        }
                    }
                }
                if last == "}" && self.skip == 0 && self.kw_level > 0 {
                    return Ok(true);
                }
                continue;
            }
            if need_bob {
                need_bob = false;
                if words[0] == "{" && self.kw_level > 0 {
                    continue;
                }
                self.report(
                    Level::MissingBlockStart,
                    "Missing '{' at beginning of configuration block",
                );
            } else if words[0] == "{" {
                self.report(Level::UnexpectedBlockStart, "Unexpected '{' - ignoring");
                continue;
            }
            if words[0] == "}" && self.kw_level > 0 {
                return Ok(false);
            }
            let Some(kw) = table.iter().find(|k| k.name == words[0]) else {
                let msg = format!("Unknown keyword '{}'", words[0]);
                self.report(Level::UnknownKeyword, msg);
                continue;
            };
            let active = self.kw_level > 0 || self.kind.active(kw.group);
            if !active {
                self.skip = if words.last().is_some_and(|w| w == "{") {
                    1
                } else {
                    -1
                };
                continue;
            }
            let mut bob_needed = false;
            if kw.sub.is_some() {
                if words.len() > 1 && words.last().is_some_and(|w| w == "{") {
                    words.pop();
                } else {
                    bob_needed = true;
                }
            }
            if matches!(kw.h, H::Ignore | H::IgnoreValueBlock) && kw.sub.is_none() {
                // Shown by `lvs-keepalived -t -D`; not a keepalived message.
                let msg = format!(
                    "'{}' is accepted but lvs-keepalived does not act on it",
                    kw.name
                );
                self.info(msg);
            }
            self.dispatch(kw.h, &words)?;
            if let Some(sub) = kw.sub {
                self.kw_level += 1;
                let ret = self.process_stream(sub, bob_needed);
                self.kw_level -= 1;
                if !ret? {
                    self.close(kw.h)?;
                }
            }
        }
    }

    /// `skip_block(need_block_start)`.
    pub(crate) fn skip_block(&mut self, need_block_start: bool) {
        self.skip = if need_block_start { -1 } else { 1 };
    }

    /// `alloc_value_block`: reads the lines of a `{ }` block and hands each to `vb`.
    pub(crate) fn value_block(&mut self, w: &[String], vb: Vb) -> R {
        self.value_block_lines(w, &mut |p, line| p.value_line(vb, line))
    }

    /// `read_value_block`: all the words of the block in one list (`None` when empty).
    pub(crate) fn read_value_block(&mut self, w: &[String]) -> R<Option<Vec<String>>> {
        let mut all = Vec::new();
        self.value_block_lines(w, &mut |_, line| {
            all.extend_from_slice(line);
            Ok(())
        })?;
        Ok((!all.is_empty()).then_some(all))
    }

    fn value_block_lines(
        &mut self,
        w: &[String],
        f: &mut dyn FnMut(&mut Self, &[String]) -> R,
    ) -> R {
        let mut need_bob = true;
        let mut had_eob = false;
        let mut first: Option<Vec<String>> = None;
        if w.len() > 1 {
            if w[1] == "{" {
                need_bob = false;
                if w.len() > 2 {
                    let mut v: Vec<String> = w[2..].to_vec();
                    if v.last().is_some_and(|x| x == "}") {
                        v.pop();
                        had_eob = true;
                    }
                    first = Some(v);
                }
            } else {
                let msg = format!("Block {} has extra parameters {} ...", w[0], w[1]);
                self.err(msg);
            }
        }
        loop {
            let mut vec = match first.take() {
                Some(v) => v,
                None => {
                    let Some(v) = self.read() else { return Ok(()) };
                    if v.is_empty() {
                        continue;
                    }
                    let mut v = v;
                    if need_bob {
                        need_bob = false;
                        if v[0] == "{" {
                            if v.len() == 1 {
                                continue;
                            }
                            v.remove(0);
                        } else {
                            let msg = format!("'{{' missing from beginning of block {}", w[0]);
                            self.info(msg);
                        }
                    }
                    if v.last().is_some_and(|x| x == "}") {
                        if v.len() == 1 {
                            return Ok(());
                        }
                        had_eob = true;
                        v.pop();
                    }
                    v
                }
            };
            if !vec.is_empty() {
                f(self, &vec)?;
            }
            vec.clear();
            if had_eob {
                return Ok(());
            }
        }
    }

    fn value_line(&mut self, vb: Vb, line: &[String]) -> R {
        match vb {
            Vb::Ignore => Ok(()),
            Vb::Vip => self.alloc_vip(line, false),
            Vb::Evip => self.alloc_vip(line, true),
            Vb::UnicastPeer => self.alloc_unicast_peer(line),
            Vb::TrackIf => self.alloc_track_if(line, false),
            Vb::SgTrackIf => self.alloc_track_if(line, true),
            Vb::TrackScript => self.alloc_track_script(line, false),
            Vb::SgTrackScript => self.alloc_track_script(line, true),
            Vb::StaticAddr => {
                if let Some(a) = self.alloc_ipaddress(line, true)? {
                    self.b.static_addresses.push(a);
                }
                Ok(())
            }
            Vb::StaticRoute => {
                if let Some(r) = self.alloc_route(line, true)? {
                    self.b.static_routes.push(r);
                }
                Ok(())
            }
            Vb::StaticRule => {
                if let Some(r) = self.alloc_rule(line, true)? {
                    self.b.static_rules.push(r);
                }
                Ok(())
            }
            Vb::VirtualRoute => {
                if let Some(r) = self.alloc_route(line, false)?
                    && let Some(i) = self.b.insts.last_mut()
                {
                    i.vroutes.push(r);
                }
                Ok(())
            }
            Vb::VirtualRule => {
                if let Some(r) = self.alloc_rule(line, false)?
                    && let Some(i) = self.b.insts.last_mut()
                {
                    i.vrules.push(r);
                }
                Ok(())
            }
            Vb::Vsg => self.alloc_vsg_entry(line),
        }
    }

    fn dispatch(&mut self, h: H, w: &[String]) -> R {
        match h {
            H::Ignore => Ok(()),
            H::IgnoreValueBlock => self.value_block(w, Vb::Ignore),
            _ => match self.kind {
                PassKind::Parent => self.global_handler(h, w),
                PassKind::Vrrp => self.vrrp_handler(h, w),
                PassKind::Checker => self.check_handler(h, w),
            },
        }
    }

    fn close(&mut self, h: H) -> R {
        match self.kind {
            PassKind::Parent => Ok(()),
            PassKind::Vrrp => self.vrrp_close(h),
            PassKind::Checker => self.check_close(h),
        }
    }

    /// keepalived's `notify_script_init(extra_params, type)`: re-reads the current line with
    /// quoting and escapes; `WORD "cmd args" [USER [GROUP]]`.
    pub(crate) fn notify_script(&mut self, ty: &str) -> R<Option<ScriptB>> {
        let raw = self.raw.clone();
        let qe = match lexer::split_quoted_escaped(&raw) {
            Ok(v) if !v.is_empty() => v,
            Ok(_) => {
                self.info("Unable to parse notify script");
                return Ok(None);
            }
            Err(e) => {
                self.quote_error(e);
                self.info("Unable to parse notify script");
                return Ok(None);
            }
        };
        let Some(args) = self.script_args(&qe) else {
            let what = self.arg(&qe, 1)?.to_string();
            self.info(format!("Unable to parse script '{what}' - ignoring"));
            return Ok(None);
        };
        if qe.len() > 2 {
            let user = ScriptUser {
                user: qe[2].clone(),
                group: qe.get(3).cloned(),
            };
            match self.lookup_user(&user) {
                Some((uid, gid)) => Ok(Some(ScriptB {
                    script: Script {
                        args,
                        user: Some(user),
                    },
                    uid,
                    gid,
                })),
                None => {
                    self.info(format!(
                        "Invalid user/group for {ty} script {} - ignoring",
                        args[0]
                    ));
                    Ok(None)
                }
            }
        } else {
            match self.default_script_user() {
                Some((uid, gid)) => Ok(Some(ScriptB {
                    script: Script { args, user: None },
                    uid,
                    gid,
                })),
                None => {
                    self.info(format!(
                        "Failed to set default user for {ty} script {} - ignoring",
                        args[0]
                    ));
                    Ok(None)
                }
            }
        }
    }

    /// `set_script_params_array`: the program and arguments in word 1 of a quoted line.
    pub(crate) fn script_args(&mut self, qe: &[String]) -> Option<Vec<String>> {
        let s = qe.get(1)?;
        match lexer::split_quoted_escaped(s) {
            Ok(v) if !v.is_empty() => Some(v),
            Ok(_) => None,
            Err(e) => {
                self.quote_error(e);
                None
            }
        }
    }

    pub(crate) fn quote_error(&mut self, e: QuoteError) {
        match e {
            QuoteError::Unterminated(m) => self.report(Level::UnmatchedQuote, m),
            QuoteError::TrailingEscape(m) => self.info(m),
        }
    }

    /// `set_uid_gid(user, group)`.
    pub(crate) fn lookup_user(&mut self, u: &ScriptUser) -> Option<(u32, u32)> {
        let Some((uid, mut gid)) = self.env.user(&u.user) else {
            self.info(format!("Script user '{}' does not exist", u.user));
            return None;
        };
        if let Some(g) = &u.group {
            match self.env.group(g) {
                Some(x) => gid = x,
                None => {
                    self.info(format!("Script group '{g}' does not exist"));
                    return None;
                }
            }
        }
        Some((uid, gid))
    }

    /// `get_default_script_user`: `script_user`, else `keepalived_script`, else our ids.
    pub(crate) fn default_script_user(&mut self) -> Option<(u32, u32)> {
        if self.b.default_user.fail {
            return None;
        }
        if !self.b.default_user.set {
            self.b.default_user.set = true;
            self.b.default_user.ids = self.env.our_ids();
            let u = ScriptUser {
                user: "keepalived_script".to_string(),
                group: None,
            };
            match self.lookup_user(&u) {
                Some(ids) => self.b.default_user.ids = ids,
                None if self.b.global.enable_script_security => {
                    self.err("Unable to set default user keepalived_script for script");
                    self.b.default_user.fail = true;
                    return None;
                }
                None => {}
            }
        }
        Some(self.b.default_user.ids)
    }
}
