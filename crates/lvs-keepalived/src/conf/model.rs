//! The typed configuration: what keepalived.conf says once keepalived's defaults, inheritance
//! (virtual server → real server → checker) and corrections (`vrrp_complete_instance`,
//! `validate_check_config`) have been applied. Every value here is the one keepalived 2.2.7
//! would run with.
//!
//! Durations are [`std::time::Duration`]s; keepalived keeps them in microseconds and so do the
//! parsers here (`read_timer`: decimal seconds, at most 6 decimal places).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// Address family of an instance, a virtual server or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Family {
    /// IPv4.
    #[default]
    Inet,
    /// IPv6.
    Inet6,
}

impl Family {
    /// The family of an address.
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }
}

/// A script keepalived runs: a command line plus the user (and group) to run it as.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Script {
    /// Program and arguments, after keepalived's quoting and escape rules.
    pub args: Vec<String>,
    /// `USER [GROUP]` given after the quoted command (or by a `user` keyword), if any; otherwise
    /// keepalived's default script user (`script_user`, else `keepalived_script`, else root).
    pub user: Option<ScriptUser>,
}

/// A user and optional group scripts run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUser {
    /// User name.
    pub user: String,
    /// Group name (the user's primary group when absent).
    pub group: Option<String>,
}

/// `lvs_sync_daemon INTERFACE [inst] VRRP_INSTANCE [id N] [maxlen N] [port N] [ttl N] [group ADDR]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvsSyncDaemon {
    /// Interface the sync daemon uses.
    pub interface: String,
    /// The VRRP instance whose state decides master/backup sync (`None` = run both).
    pub vrrp_instance: Option<String>,
    /// Sync id (`id`, default: the instance's virtual_router_id, else 0).
    pub sync_id: Option<u8>,
    /// `maxlen` (bytes of a sync message).
    pub maxlen: Option<u16>,
    /// `port` (UDP port, kernel default 8848).
    pub port: Option<u16>,
    /// `ttl` of multicast sync messages.
    pub ttl: Option<u8>,
    /// `group`: multicast group of sync messages.
    pub group: Option<IpAddr>,
}

/// `lvs_timeouts tcp N tcpfin N udp N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LvsTimeouts {
    /// TCP established timeout in seconds.
    pub tcp: Option<u32>,
    /// TCP FIN_WAIT timeout in seconds.
    pub tcpfin: Option<u32>,
    /// UDP timeout in seconds.
    pub udp: Option<u32>,
}

/// The `global_defs { }` block.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalDefs {
    /// `router_id` (keepalived's default is the host name; `None` here means "not set").
    pub router_id: Option<String>,
    /// `notification_email { }` addresses.
    pub notification_email: Vec<String>,
    /// `notification_email_from`.
    pub notification_email_from: Option<String>,
    /// `smtp_server IP|NAME [PORT]`, kept as written (host, port; port defaults to 25).
    pub smtp_server: Option<(String, u16)>,
    /// `smtp_helo_name`.
    pub smtp_helo_name: Option<String>,
    /// `smtp_connect_timeout` (default 30 s).
    pub smtp_connect_timeout: Duration,
    /// `smtp_alert [BOOL]`.
    pub smtp_alert: Option<bool>,
    /// `smtp_alert_vrrp [BOOL]`.
    pub smtp_alert_vrrp: Option<bool>,
    /// `smtp_alert_checker [BOOL]`.
    pub smtp_alert_checker: Option<bool>,
    /// `script_user USER [GROUP]`.
    pub script_user: Option<ScriptUser>,
    /// `enable_script_security`.
    pub enable_script_security: bool,
    /// `vrrp_version` (default 2).
    pub vrrp_version: u8,
    /// `vrrp_mcast_group4` (default 224.0.0.18).
    pub vrrp_mcast_group4: Ipv4Addr,
    /// `vrrp_mcast_group6` (default ff02::12).
    pub vrrp_mcast_group6: Ipv6Addr,
    /// `vrrp_garp_master_delay` (default 5 s).
    pub vrrp_garp_master_delay: Duration,
    /// `vrrp_garp_master_repeat` (default 5).
    pub vrrp_garp_master_repeat: u32,
    /// `vrrp_garp_master_refresh` (default 0 = off).
    pub vrrp_garp_master_refresh: Duration,
    /// `vrrp_garp_master_refresh_repeat` (default 1).
    pub vrrp_garp_master_refresh_repeat: u32,
    /// `vrrp_garp_lower_prio_delay` (default: the master delay).
    pub vrrp_garp_lower_prio_delay: Duration,
    /// `vrrp_garp_lower_prio_repeat` (default: the master repeat).
    pub vrrp_garp_lower_prio_repeat: u32,
    /// `vrrp_garp_interval` (default 0).
    pub vrrp_garp_interval: Duration,
    /// `vrrp_gna_interval` (default 0).
    pub vrrp_gna_interval: Duration,
    /// `vrrp_min_garp`.
    pub vrrp_min_garp: bool,
    /// `vrrp_down_timer_adverts` (default 3).
    pub vrrp_down_timer_adverts: u32,
    /// `vrrp_lower_prio_no_advert`.
    pub vrrp_lower_prio_no_advert: bool,
    /// `vrrp_higher_prio_send_advert`.
    pub vrrp_higher_prio_send_advert: bool,
    /// `vrrp_check_unicast_src`.
    pub vrrp_check_unicast_src: bool,
    /// `vrrp_skip_check_adv_addr`.
    pub vrrp_skip_check_adv_addr: bool,
    /// `vrrp_strict`.
    pub vrrp_strict: bool,
    /// `vrrp_startup_delay`.
    pub vrrp_startup_delay: Duration,
    /// `log_unknown_vrids`.
    pub log_unknown_vrids: bool,
    /// `dynamic_interfaces`.
    pub dynamic_interfaces: bool,
    /// `default_interface`.
    pub default_interface: Option<String>,
    /// `lvs_sync_daemon`.
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    /// `lvs_flush`.
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop`.
    pub lvs_flush_on_stop: bool,
    /// `lvs_timeouts`.
    pub lvs_timeouts: LvsTimeouts,
    /// `max_auto_priority [N]`.
    pub max_auto_priority: Option<i32>,
    /// `startup_script`.
    pub startup_script: Option<Script>,
    /// `shutdown_script`.
    pub shutdown_script: Option<Script>,
    /// `notify_fifo FIFO`, `vrrp_notify_fifo FIFO`, `lvs_notify_fifo FIFO`, kept as written.
    pub notify_fifo: Option<String>,
    /// `vrrp_notify_fifo`.
    pub vrrp_notify_fifo: Option<String>,
    /// `lvs_notify_fifo`.
    pub lvs_notify_fifo: Option<String>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        Self {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            script_user: None,
            enable_script_security: false,
            vrrp_version: 2,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: Duration::ZERO,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: Duration::from_secs(5),
            vrrp_garp_lower_prio_repeat: 5,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_min_garp: false,
            vrrp_down_timer_adverts: 3,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_check_unicast_src: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_strict: false,
            vrrp_startup_delay: Duration::ZERO,
            log_unknown_vrids: false,
            dynamic_interfaces: false,
            default_interface: None,
            lvs_sync_daemon: None,
            lvs_flush: false,
            lvs_flush_on_stop: false,
            lvs_timeouts: LvsTimeouts::default(),
            max_auto_priority: None,
            startup_script: None,
            shutdown_script: None,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            lvs_notify_fifo: None,
        }
    }
}

/// `vrrp_script NAME { }`.
#[derive(Debug, Clone, PartialEq)]
pub struct VrrpScript {
    /// The script's name, referenced by `track_script`.
    pub name: String,
    /// `script "cmd args"` (with `user` applied).
    pub script: Script,
    /// `interval` (default 1 s).
    pub interval: Duration,
    /// `timeout` (default 0: the interval is used).
    pub timeout: Duration,
    /// `weight` (default 0: failure puts the instance in FAULT).
    pub weight: i32,
    /// `weight N reverse`.
    pub weight_reverse: bool,
    /// `rise` (default 1).
    pub rise: u32,
    /// `fall` (default 1).
    pub fall: u32,
    /// `init_fail`: the script starts in the failed state.
    pub init_fail: bool,
}

/// Initial state of a VRRP instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitialState {
    /// `state MASTER` (only goes straight to master when the priority is 255).
    Master,
    /// `state BACKUP`.
    Backup,
}

/// VRRP authentication (v2 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// `auth_type PASS`: the password, at most 8 bytes (keepalived zero-pads it in the packet).
    Pass(Vec<u8>),
    /// `auth_type AH` (IPv4, v2): the password, at most 8 bytes.
    Ah(Vec<u8>),
}

/// An address of `virtual_ipaddress`, `virtual_ipaddress_excluded` or `static_ipaddress`:
/// `ADDR[/LEN] [brd ADDR|+|-] [dev IF] [scope S] [label L] [peer ADDR] [home] [-nodad]
/// [mngtmpaddr] [noprefixroute] [autojoin] [no_track] [preferred_lft N|forever] [use_vmac]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualAddress {
    /// The address.
    pub addr: IpAddr,
    /// Prefix length (default 32 or 128; the peer's with `peer`).
    pub prefix_len: u8,
    /// Broadcast address (`brd`; `+`/`-` are resolved).
    pub broadcast: Option<Ipv4Addr>,
    /// `dev` (default: the instance's interface).
    pub dev: Option<String>,
    /// `scope` as a number (global 0, site 200, link 253, host 254, nowhere 255).
    pub scope: Option<u8>,
    /// `label` (IPv4 only).
    pub label: Option<String>,
    /// `peer` address.
    pub peer: Option<IpAddr>,
    /// `home`.
    pub home: bool,
    /// `-nodad`.
    pub nodad: bool,
    /// `mngtmpaddr`.
    pub mngtmpaddr: bool,
    /// `noprefixroute`.
    pub noprefixroute: bool,
    /// `autojoin`.
    pub autojoin: bool,
    /// `no_track`: a failure of this address's interface does not fault the instance.
    pub no_track: bool,
    /// `preferred_lft` (`u32::MAX` = forever). For IPv6 without it keepalived uses 0 for a /128
    /// and forever otherwise.
    pub preferred_lft: Option<u32>,
    /// `use_vmac`.
    pub use_vmac: bool,
}

/// A `unicast_peer { }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnicastPeer {
    /// Peer address.
    pub addr: IpAddr,
    /// `min_ttl` (default 0).
    pub min_ttl: u8,
    /// `max_ttl` (default 255).
    pub max_ttl: u8,
}

/// A `track_interface { }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedInterface {
    /// Interface name.
    pub name: String,
    /// `weight` (-253..=253; 0 = the instance goes to FAULT when the interface is down).
    pub weight: i32,
    /// `weight N reverse`.
    pub reverse: bool,
}

/// A `track_script { }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedScript {
    /// Name of the `vrrp_script`.
    pub name: String,
    /// Weight (the script's own weight unless overridden here).
    pub weight: i32,
    /// Reverse weight.
    pub reverse: bool,
}

/// A route or rule of `virtual_routes`, `virtual_rules`, `static_routes` or `static_rules`:
/// lvs-keepalived keeps them as written and only checks what keepalived's `-t` checks most
/// often (see docs/compat/keepalived.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    /// The words of the line.
    pub words: Vec<String>,
    /// `dev`/`oif`/`iif` interface, if given.
    pub dev: Option<String>,
}

/// `vrrp_instance NAME { }`.
#[derive(Debug, Clone, PartialEq)]
pub struct VrrpInstance {
    /// Instance name.
    pub name: String,
    /// Initial state (derived from the priority when `state` is absent).
    pub state: InitialState,
    /// `interface` (`None` only for unicast instances with `unicast_src_ip`).
    pub interface: Option<String>,
    /// `virtual_router_id` (1..=255).
    pub virtual_router_id: u8,
    /// `priority` (1..=255; default 100, or 255 with `state MASTER`).
    pub priority: u8,
    /// `advert_int`, after keepalived's rounding (whole seconds for v2, 10 ms for v3).
    pub advert_int: Duration,
    /// VRRP version (2 or 3; IPv6 is always 3).
    pub version: u8,
    /// Address family (from the VIPs; IPv4 if none).
    pub family: Family,
    /// `native_ipv6`.
    pub native_ipv6: bool,
    /// `nopreempt` (cleared by keepalived for priority 255 or initial state MASTER).
    pub nopreempt: bool,
    /// `preempt_delay` (0..=1000 s).
    pub preempt_delay: Duration,
    /// `authentication { }` (removed by keepalived for v3, strict mode or an empty password).
    pub authentication: Option<Authentication>,
    /// `virtual_ipaddress { }`: the addresses put in adverts.
    pub virtual_ipaddress: Vec<VirtualAddress>,
    /// `virtual_ipaddress_excluded { }`: managed but not advertised.
    pub virtual_ipaddress_excluded: Vec<VirtualAddress>,
    /// `unicast_src_ip` (alias `mcast_src_ip`).
    pub unicast_src_ip: Option<IpAddr>,
    /// `unicast_peer { }`.
    pub unicast_peers: Vec<UnicastPeer>,
    /// `unicast_ttl` (default 255 for IPv4).
    pub unicast_ttl: Option<u8>,
    /// `mcast_dst_ip` (default: the global multicast group of the family).
    pub mcast_dst_ip: Option<IpAddr>,
    /// `track_interface { }`.
    pub track_interfaces: Vec<TrackedInterface>,
    /// `track_script { }`.
    pub track_scripts: Vec<TrackedScript>,
    /// `dont_track_primary`.
    pub dont_track_primary: bool,
    /// `notify_master`.
    pub notify_master: Option<Script>,
    /// `notify_backup`.
    pub notify_backup: Option<Script>,
    /// `notify_fault`.
    pub notify_fault: Option<Script>,
    /// `notify_stop`.
    pub notify_stop: Option<Script>,
    /// `notify_deleted`.
    pub notify_deleted: Option<Script>,
    /// `notify_master_rx_lower_pri`.
    pub notify_master_rx_lower_pri: Option<Script>,
    /// `notify`: called with `INSTANCE NAME STATE PRIORITY` appended.
    pub notify: Option<Script>,
    /// `garp_master_delay` (default: the global one).
    pub garp_master_delay: Duration,
    /// `garp_master_repeat` (default: the global one).
    pub garp_master_repeat: u32,
    /// `garp_master_refresh`.
    pub garp_master_refresh: Duration,
    /// `garp_master_refresh_repeat`.
    pub garp_master_refresh_repeat: u32,
    /// `garp_lower_prio_delay`.
    pub garp_lower_prio_delay: Duration,
    /// `garp_lower_prio_repeat`.
    pub garp_lower_prio_repeat: u32,
    /// `down_timer_adverts` (default 3).
    pub down_timer_adverts: u32,
    /// Accept mode (`accept`/`no_accept`; default accept, except in strict mode).
    pub accept: bool,
    /// `strict_mode` (or the global `vrrp_strict`).
    pub strict_mode: bool,
    /// `skip_check_adv_addr`.
    pub skip_check_adv_addr: bool,
    /// `lower_prio_no_advert`.
    pub lower_prio_no_advert: bool,
    /// `higher_prio_send_advert`.
    pub higher_prio_send_advert: bool,
    /// `promote_secondaries`.
    pub promote_secondaries: bool,
    /// `smtp_alert`.
    pub smtp_alert: bool,
    /// `use_vmac [NAME]`: the name, or `Some("")` when no name was given.
    pub use_vmac: Option<String>,
    /// `virtual_routes { }`.
    pub virtual_routes: Vec<RouteSpec>,
    /// `virtual_rules { }`.
    pub virtual_rules: Vec<RouteSpec>,
    /// The sync group this instance belongs to.
    pub sync_group: Option<String>,
}

/// `vrrp_sync_group NAME { }`.
#[derive(Debug, Clone, PartialEq)]
pub struct VrrpSyncGroup {
    /// Group name.
    pub name: String,
    /// `group { }`: member instances that exist.
    pub members: Vec<String>,
    /// `track_interface { }`.
    pub track_interfaces: Vec<TrackedInterface>,
    /// `track_script { }`.
    pub track_scripts: Vec<TrackedScript>,
    /// `notify_master`.
    pub notify_master: Option<Script>,
    /// `notify_backup`.
    pub notify_backup: Option<Script>,
    /// `notify_fault`.
    pub notify_fault: Option<Script>,
    /// `notify_stop`.
    pub notify_stop: Option<Script>,
    /// `notify` (called with `GROUP NAME STATE PRIORITY`).
    pub notify: Option<Script>,
    /// `smtp_alert`.
    pub smtp_alert: bool,
    /// `sync_group_tracking_weight` (or the deprecated `global_tracking`).
    pub sync_group_tracking_weight: bool,
}

/// Transport protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP.
    Sctp,
}

/// Tunnel encapsulation of `lb_kind TUN type ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TunnelType {
    /// IPIP (default).
    #[default]
    Ipip,
    /// GUE with its UDP port.
    Gue(u16),
    /// GRE.
    Gre,
}

/// Tunnel checksum option of `lb_kind TUN ... nocsum|csum|remcsum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TunnelChecksum {
    /// `nocsum` (default).
    #[default]
    NoCsum,
    /// `csum`.
    Csum,
    /// `remcsum`.
    RemCsum,
}

/// Forwarding method (`lb_kind` / `lvs_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMethod {
    /// `NAT` (masquerading; keepalived's default).
    Nat,
    /// `DR` (direct routing).
    Dr,
    /// `TUN` (tunnelling).
    Tun {
        /// Encapsulation.
        tunnel: TunnelType,
        /// Checksum option.
        checksum: TunnelChecksum,
    },
    /// `FNAT`: full NAT, an lvs-rs extension keepalived does not have.
    FullNat,
}

/// How a virtual server is identified.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VirtualServerKey {
    /// `virtual_server IP PORT` (port 0 only for persistent services).
    Addr {
        /// Virtual address.
        addr: IpAddr,
        /// Virtual port.
        port: u16,
    },
    /// `virtual_server fwmark N`.
    Fwmark(u32),
    /// `virtual_server group NAME`.
    Group(String),
}

/// An entry of `virtual_server_group NAME { }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtualServerGroupEntry {
    /// `ADDR [PORT]`, `ADDR/LEN [PORT]`, `ADDR-LAST [PORT]` or `ADDR-ADDR [PORT]`: an inclusive
    /// address range.
    Range {
        /// First address.
        first: IpAddr,
        /// Last address (equal to `first` for one address).
        last: IpAddr,
        /// Port (0 = none).
        port: u16,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark {
        /// The mark.
        mark: u32,
        /// Family, when given.
        family: Option<Family>,
    },
}

/// `virtual_server_group NAME { }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualServerGroup {
    /// Group name.
    pub name: String,
    /// Entries in order.
    pub entries: Vec<VirtualServerGroupEntry>,
}

/// `sorry_server IP [PORT]` with `sorry_server_inhibit` and `sorry_server_lvs_method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SorryServer {
    /// Address.
    pub addr: IpAddr,
    /// Port (the virtual server's for non-NAT methods).
    pub port: u16,
    /// `sorry_server_inhibit`: added with weight 0 instead of removed.
    pub inhibit: bool,
    /// Forwarding method.
    pub method: ForwardMethod,
}

/// Scheduler flags set by `ops`, `flag-1/2/3`, `sh-port`, `sh-fallback`, `mh-port`,
/// `mh-fallback`, `hashed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchedFlags {
    /// `ops`: one-packet scheduling (UDP only).
    pub ops: bool,
    /// `flag-1` / `sh-fallback` / `mh-fallback`.
    pub flag1: bool,
    /// `flag-2` / `sh-port` / `mh-port`.
    pub flag2: bool,
    /// `flag-3`.
    pub flag3: bool,
}

/// `virtual_server ... { }`.
#[derive(Debug, Clone, PartialEq)]
pub struct VirtualServer {
    /// Address and port, fwmark or group.
    pub key: VirtualServerKey,
    /// Address family.
    pub family: Family,
    /// `protocol` (TCP, UDP, SCTP; `None` for fwmark services; keepalived defaults an
    /// address service without it to UDP).
    pub protocol: Option<Protocol>,
    /// `delay_loop` (default 60 s).
    pub delay_loop: Duration,
    /// `lb_algo` / `lvs_sched` (default `wlc`).
    pub lb_algo: String,
    /// Scheduler flags.
    pub sched_flags: SchedFlags,
    /// `lb_kind` / `lvs_method` (default NAT).
    pub lb_kind: ForwardMethod,
    /// `persistence_timeout` in seconds (`None` = not persistent).
    pub persistence_timeout: Option<u32>,
    /// `persistence_granularity`: a netmask (IPv4) or a prefix length (IPv6).
    pub persistence_granularity: Option<PersistenceGranularity>,
    /// `persistence_engine`.
    pub persistence_engine: Option<String>,
    /// `sorry_server`.
    pub sorry_server: Option<SorryServer>,
    /// `quorum` (default 1, reduced to the total weight of the real servers).
    pub quorum: u32,
    /// `hysteresis` (default 0, below quorum).
    pub hysteresis: u32,
    /// `quorum_up`.
    pub quorum_up: Option<Script>,
    /// `quorum_down`.
    pub quorum_down: Option<Script>,
    /// `alpha`.
    pub alpha: bool,
    /// `omega`.
    pub omega: bool,
    /// `inhibit_on_failure` (the real servers' default).
    pub inhibit_on_failure: bool,
    /// `ha_suspend`.
    pub ha_suspend: bool,
    /// `virtualhost` (the HTTP checkers' default Host).
    pub virtualhost: Option<String>,
    /// `connect_timeout` (default 5 s; the real servers' default).
    pub connect_timeout: Duration,
    /// `smtp_alert`.
    pub smtp_alert: bool,
    /// `real_server` blocks.
    pub real_servers: Vec<RealServer>,
}

/// `persistence_granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistenceGranularity {
    /// IPv4 netmask.
    Netmask(Ipv4Addr),
    /// IPv6 prefix length (1..=128).
    PrefixLen(u8),
}

/// `real_server IP [PORT] { }`.
#[derive(Debug, Clone, PartialEq)]
pub struct RealServer {
    /// Address.
    pub addr: IpAddr,
    /// Port (the virtual server's when omitted and not a fwmark service).
    pub port: u16,
    /// `weight` (default: the virtual server's `weight`, 1).
    pub weight: u32,
    /// `lvs_method` (default: the virtual server's).
    pub lb_kind: ForwardMethod,
    /// `inhibit_on_failure`.
    pub inhibit_on_failure: bool,
    /// `notify_up`.
    pub notify_up: Option<Script>,
    /// `notify_down`.
    pub notify_down: Option<Script>,
    /// `uthreshold` (0 = none).
    pub uthreshold: u32,
    /// `lthreshold` (0 = none).
    pub lthreshold: u32,
    /// `alpha`.
    pub alpha: bool,
    /// `smtp_alert`.
    pub smtp_alert: bool,
    /// `virtualhost`.
    pub virtualhost: Option<String>,
    /// Checkers; the server is alive when all of them are up.
    pub checkers: Vec<Checker>,
}

/// One health checker with its resolved timing.
#[derive(Debug, Clone, PartialEq)]
pub struct Checker {
    /// What kind of check.
    pub kind: CheckerKind,
    /// Address checked (`connect_ip`, default: the real server's).
    pub connect_ip: Option<IpAddr>,
    /// Port checked (`connect_port`, default: the real server's).
    pub connect_port: Option<u16>,
    /// `bindto` source address.
    pub bindto: Option<IpAddr>,
    /// `bind_port`.
    pub bind_port: Option<u16>,
    /// `bind_if`.
    pub bind_if: Option<String>,
    /// `fwmark` set on the checker's socket.
    pub fwmark: Option<u32>,
    /// `connect_timeout` (default: the real server's, then the virtual server's, 5 s).
    pub connect_timeout: Duration,
    /// `retry` / `nb_get_retry` (default: real server, virtual server, else 1; MISC_CHECK 0).
    pub retry: u32,
    /// `delay_before_retry` (default: real server, virtual server, else 1 s; HTTP/SSL 3 s).
    pub delay_before_retry: Duration,
    /// `warmup` (default: real server, virtual server, else the delay loop).
    pub warmup: Duration,
    /// `delay_loop` (default: real server, virtual server, 60 s).
    pub delay_loop: Duration,
    /// `alpha`.
    pub alpha: bool,
    /// `log_all_failures`.
    pub log_all_failures: bool,
}

/// Checker kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckerKind {
    /// `TCP_CHECK { }`: connect only.
    Tcp,
    /// `HTTP_GET { }` (`ssl: false`) or `SSL_GET { }` (`ssl: true`).
    Http(HttpCheck),
    /// `MISC_CHECK { }`.
    Misc(MiscCheck),
    /// `UDP_CHECK { }`.
    Udp(UdpCheck),
    /// `PING_CHECK { }`.
    Ping,
    /// `SMTP_CHECK { }` (one checker per deprecated `host { }` block).
    Smtp {
        /// `helo_name`.
        helo_name: Option<String>,
    },
    /// `DNS_CHECK { }`.
    Dns {
        /// `type` (default SOA).
        query_type: String,
        /// `name` (default `.`).
        name: String,
    },
    /// `FILE_CHECK { }`.
    File {
        /// `track_file` name (a block in [`Config::track_files`]).
        track_file: Option<String>,
        /// `weight W`, else the track_file's weight.
        weight: i32,
        /// `weight W reverse`, else the track_file's.
        reverse: bool,
    },
    /// `BFD_CHECK { }` (parsed; not run by lvs-keepalived).
    Bfd {
        /// `name` of the bfd_instance.
        name: Option<String>,
    },
}

/// HTTP protocol version of HTTP_GET/SSL_GET.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// `1.0` (default).
    #[default]
    Http10,
    /// `1.0C`: HTTP/1.0 with `Connection: close`.
    Http10Close,
    /// `1.1`.
    Http11,
}

/// `HTTP_GET` / `SSL_GET` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpCheck {
    /// `SSL_GET` rather than `HTTP_GET`.
    pub ssl: bool,
    /// `url { }` blocks (at least one).
    pub urls: Vec<HttpUrl>,
    /// `virtualhost` (default: the real server's, then the virtual server's).
    pub virtualhost: Option<String>,
    /// `http_protocol`.
    pub http_protocol: HttpProtocol,
    /// `enable_sni`.
    pub enable_sni: bool,
    /// `fast_recovery`.
    pub fast_recovery: bool,
}

/// `url { path P; digest HEX; status_code ...; virtualhost H }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// `path`.
    pub path: String,
    /// `digest`: MD5 of the body.
    pub digest: Option<[u8; 16]>,
    /// Accepted status codes as inclusive ranges (default 200-299).
    pub status_codes: Vec<(u16, u16)>,
    /// `virtualhost` for this URL.
    pub virtualhost: Option<String>,
    /// `regex` (kept, not evaluated by lvs-keepalived yet).
    pub regex: Option<String>,
    /// `regex_no_match`.
    pub regex_no_match: bool,
}

impl HttpUrl {
    /// Whether a status code is accepted.
    pub fn accepts(&self, code: u16) -> bool {
        self.status_codes
            .iter()
            .any(|&(lo, hi)| lo <= code && code <= hi)
    }
}

/// `MISC_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MiscCheck {
    /// `misc_path "cmd args"` with `user`.
    pub script: Script,
    /// `misc_timeout` (`None`: the delay loop).
    pub timeout: Option<Duration>,
    /// `misc_dynamic`: exit status 2..=255 sets the weight to status - 2.
    pub dynamic: bool,
}

/// `UDP_CHECK` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UdpCheck {
    /// `payload HEX`.
    pub payload: Vec<u8>,
    /// `require_reply [HEX]`.
    pub require_reply: bool,
    /// Expected reply bytes and their mask (`x` nibbles are wildcards).
    pub reply: Option<(Vec<u8>, Vec<u8>)>,
    /// `min_reply_length` (default 0).
    pub min_reply_length: u16,
    /// `max_reply_length` (default 255).
    pub max_reply_length: u16,
}

/// A whole keepalived.conf.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// `global_defs`.
    pub global: GlobalDefs,
    /// `vrrp_script` blocks that are used (keepalived drops unused or broken ones).
    pub vrrp_scripts: Vec<VrrpScript>,
    /// `vrrp_instance` blocks.
    pub vrrp_instances: Vec<VrrpInstance>,
    /// `vrrp_sync_group` blocks.
    pub vrrp_sync_groups: Vec<VrrpSyncGroup>,
    /// `static_ipaddress { }`.
    pub static_ipaddress: Vec<VirtualAddress>,
    /// `static_routes { }`.
    pub static_routes: Vec<RouteSpec>,
    /// `static_rules { }`.
    pub static_rules: Vec<RouteSpec>,
    /// `virtual_server_group` blocks.
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    /// `virtual_server` blocks.
    pub virtual_servers: Vec<VirtualServer>,
    /// `track_file` (and `vrrp_track_file`) blocks with a `file`, as the checker process
    /// reads them.
    pub track_files: Vec<TrackFile>,
}

/// `track_file NAME { file PATH; weight W [reverse]; init_file [VALUE] [overwrite] }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFile {
    /// Name.
    pub name: String,
    /// `file`.
    pub path: String,
    /// `weight` (-254..=254, default 1).
    pub weight: i32,
    /// `weight W reverse`.
    pub reverse: bool,
    /// `init_file [VALUE] [overwrite]`: (VALUE, overwrite); VALUE defaults to 0.
    pub init: Option<(i32, bool)>,
}

impl Config {
    /// The VRRP instance with this name.
    pub fn instance(&self, name: &str) -> Option<&VrrpInstance> {
        self.vrrp_instances.iter().find(|i| i.name == name)
    }

    /// The vrrp_script with this name.
    pub fn script(&self, name: &str) -> Option<&VrrpScript> {
        self.vrrp_scripts.iter().find(|s| s.name == name)
    }

    /// Number of real servers over all virtual servers.
    pub fn real_server_count(&self) -> usize {
        self.virtual_servers
            .iter()
            .map(|v| v.real_servers.len())
            .sum()
    }

    /// Number of checkers over all real servers.
    pub fn checker_count(&self) -> usize {
        self.virtual_servers
            .iter()
            .flat_map(|v| &v.real_servers)
            .map(|r| r.checkers.len())
            .sum()
    }
}
