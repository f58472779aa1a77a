//! From the typed keepalived.conf ([`crate::conf::Config`]) to what the parts run: the VRRP
//! instances ([`crate::vrrp`]), the checkers' specifications ([`crate::check`]) and the
//! services lvsd is given ([`lvs_api::Config`]).
//!
//! Pure functions, tested without privileges. What a part does not support is skipped with
//! a warning that names it (returned, the daemon logs them).

use std::collections::HashSet;
use std::net::IpAddr;

use lvs_api::{
    ConfigService, DestSpec, Family as ApiFamily, Method, Persistence, Protocol, SVC_F_ONEPACKET,
    SVC_F_SCHED1, SVC_F_SCHED2, SVC_F_SCHED3, ServiceKey, ServiceSpec, SyncDaemonSpec, SyncRole,
    Timeouts, Tunnel, TunnelCsum, TunnelKind,
};

use crate::check::spec as cs;
use crate::check::state::group_dest_port;
use crate::conf::model as m;
use crate::vrrp::{
    self, Family as VFamily, GroupNotify, InstanceConfig, Notify, ScriptConfig, SyncGroupConfig,
    Track, TrackKind, Version, Vip, VrrpConfig,
};

/// The VRRP side of a configuration, plus warnings about what is left out.
pub fn vrrp_config(c: &m::Config) -> (VrrpConfig, Vec<String>) {
    let mut warnings = Vec::new();
    let mut instances: Vec<InstanceConfig> = Vec::new();
    for i in &c.vrrp_instances {
        let Some(ic) = instance(i, &mut warnings) else {
            continue;
        };
        if instances
            .iter()
            .any(|o| o.interface == ic.interface && o.family == ic.family && o.vrid == ic.vrid)
        {
            warnings.push(format!(
                "({}) VRID {} is already used on {}: instance not started",
                ic.name, ic.vrid, ic.interface
            ));
            continue;
        }
        instances.push(ic);
    }
    let mut groups = Vec::new();
    for g in &c.vrrp_sync_groups {
        let mut members = Vec::new();
        for m in &g.members {
            let Some(ic) = instances.iter_mut().find(|i| i.name == *m) else {
                warnings.push(format!(
                    "vrrp_sync_group {}: member {m} is not started; the group runs without it",
                    g.name
                ));
                continue;
            };
            add_group_tracking(ic, g);
            members.push(m.clone());
        }
        if members.is_empty() {
            warnings.push(format!(
                "vrrp_sync_group {}: no member is started; group ignored",
                g.name
            ));
            continue;
        }
        groups.push(SyncGroupConfig {
            name: g.name.clone(),
            members,
            notify: GroupNotify {
                master: argv(&g.notify_master),
                backup: argv(&g.notify_backup),
                fault: argv(&g.notify_fault),
                stop: argv(&g.notify_stop),
                generic: argv(&g.notify),
                master_rx_lower_pri: None,
            },
        });
    }
    let tracked: HashSet<&str> = instances
        .iter()
        .flat_map(|i| {
            i.tracks
                .iter()
                .filter(|t| t.kind == TrackKind::Script)
                .map(|t| t.name.as_str())
        })
        .collect();
    let scripts = c
        .vrrp_scripts
        .iter()
        .filter(|s| tracked.contains(s.name.as_str()))
        .map(|s| ScriptConfig {
            name: s.name.clone(),
            argv: s.script.args.clone(),
            interval: s.interval,
            // 0 (not set): the interval.
            timeout: (!s.timeout.is_zero()).then_some(s.timeout),
            rise: s.rise.max(1),
            fall: s.fall.max(1),
            // keepalived 2.2.7 puts every tracked script back into its INIT state when a
            // `track_script` names it (`alloc_track_script`), so `init_fail` has no effect
            // (its `-d` dump shows "Init state = INIT"); untracked scripts do not run.
            init_fail: false,
        })
        .collect();
    (
        VrrpConfig {
            instances,
            scripts,
            groups,
        },
        warnings,
    )
}

/// A sync group's `track_interface` / `track_script` entries become each member's, as
/// keepalived's `sync_group_tracking_init`: an object the member tracks already takes the
/// group's weight unless the member's entry is unweighted; the member's own interface is
/// already tracked (unless `dont_track_primary`).
fn add_group_tracking(ic: &mut InstanceConfig, g: &m::VrrpSyncGroup) {
    let entries = g
        .track_interfaces
        .iter()
        .map(|t| (TrackKind::Interface, &t.name, t.weight, t.reverse))
        .chain(
            g.track_scripts
                .iter()
                .map(|t| (TrackKind::Script, &t.name, t.weight, t.reverse)),
        );
    for (kind, name, weight, reverse) in entries {
        if kind == TrackKind::Interface && *name == ic.interface && !ic.dont_track_primary {
            continue;
        }
        if let Some(t) = ic
            .tracks
            .iter_mut()
            .find(|t| t.kind == kind && t.name == *name)
        {
            if t.weight != 0 {
                t.weight = weight;
                t.reverse = reverse;
            }
            continue;
        }
        ic.tracks.push(Track {
            kind,
            name: name.clone(),
            weight,
            reverse,
        });
    }
}

/// What the daemon runs, one driver each, so that a reload restarts only what changed: every
/// sync group with its members (key `vrrp_sync_group NAME`), and every instance in no group
/// (key: its name), each with the scripts it tracks.
pub fn vrrp_units(cfg: &VrrpConfig) -> Vec<(String, VrrpConfig)> {
    let scripts_of = |insts: &[InstanceConfig]| -> Vec<ScriptConfig> {
        cfg.scripts
            .iter()
            .filter(|s| {
                insts.iter().any(|i| {
                    i.tracks
                        .iter()
                        .any(|t| t.kind == TrackKind::Script && t.name == s.name)
                })
            })
            .cloned()
            .collect()
    };
    let mut units = Vec::new();
    for g in &cfg.groups {
        let instances: Vec<InstanceConfig> = cfg
            .instances
            .iter()
            .filter(|i| g.members.contains(&i.name))
            .cloned()
            .collect();
        units.push((
            format!("vrrp_sync_group {}", g.name),
            VrrpConfig {
                scripts: scripts_of(&instances),
                instances,
                groups: vec![g.clone()],
            },
        ));
    }
    for i in &cfg.instances {
        if cfg.groups.iter().any(|g| g.members.contains(&i.name)) {
            continue;
        }
        let instances = vec![i.clone()];
        units.push((
            i.name.clone(),
            VrrpConfig {
                scripts: scripts_of(&instances),
                instances,
                groups: Vec::new(),
            },
        ));
    }
    units
}

fn vip(v: &m::VirtualAddress) -> Vip {
    Vip {
        addr: v.addr,
        prefix_len: v.prefix_len,
        dev: v.dev.clone(),
        label: v.label.clone(),
    }
}

fn argv(s: &Option<m::Script>) -> Option<Vec<String>> {
    s.as_ref().map(|s| s.args.clone())
}

fn instance(i: &m::VrrpInstance, warnings: &mut Vec<String>) -> Option<InstanceConfig> {
    let Some(interface) = i.interface.clone() else {
        warnings.push(format!("({}) no interface: instance not started", i.name));
        return None;
    };
    let vips: Vec<Vip> = i.virtual_ipaddress.iter().map(vip).collect();
    let mut ic = InstanceConfig::new(&i.name, &interface, i.virtual_router_id, vips);
    ic.family = match i.family {
        m::Family::Inet => VFamily::Inet,
        m::Family::Inet6 => VFamily::Inet6,
    };
    ic.version = if i.version == 3 || ic.family == VFamily::Inet6 {
        Version::V3
    } else {
        Version::V2
    };
    ic.priority = i.priority;
    let cs = i.advert_int.as_millis() / 10;
    ic.advert_int_cs = u16::try_from(cs.max(1)).unwrap_or(u16::MAX);
    ic.initial_state = match i.state {
        m::InitialState::Master => vrrp::instance::InitialState::Master,
        m::InitialState::Backup => vrrp::instance::InitialState::Backup,
    };
    ic.nopreempt = i.nopreempt;
    ic.preempt_delay = i.preempt_delay;
    match &i.authentication {
        Some(m::Authentication::Pass(p)) => {
            let mut a = [0u8; 8];
            for (d, s) in a.iter_mut().zip(p.iter()) {
                *d = *s;
            }
            ic.auth_pass = Some(a);
        }
        Some(m::Authentication::Ah(_)) => warnings.push(format!(
            "({}) auth_type AH is not supported: adverts are sent without authentication",
            i.name
        )),
        None => {}
    }
    ic.excluded_vips = i.virtual_ipaddress_excluded.iter().map(vip).collect();
    ic.unicast_src = i.unicast_src_ip;
    ic.unicast_peers = i.unicast_peers.iter().map(|p| p.addr).collect();
    ic.garp_master_delay = i.garp_master_delay;
    ic.garp_master_repeat = i.garp_master_repeat;
    ic.garp_lower_prio_delay = i.garp_lower_prio_delay;
    ic.garp_lower_prio_repeat = i.garp_lower_prio_repeat;
    ic.lower_prio_no_advert = i.lower_prio_no_advert;
    ic.higher_prio_send_advert = i.higher_prio_send_advert;
    ic.down_timer_adverts = i.down_timer_adverts.max(1);
    ic.dont_track_primary = i.dont_track_primary;
    ic.tracks = i
        .track_interfaces
        .iter()
        .map(|t| Track {
            kind: TrackKind::Interface,
            name: t.name.clone(),
            weight: t.weight,
            reverse: t.reverse,
        })
        .chain(i.track_scripts.iter().map(|t| Track {
            kind: TrackKind::Script,
            name: t.name.clone(),
            weight: t.weight,
            reverse: t.reverse,
        }))
        .collect();
    ic.notify = Notify {
        master: argv(&i.notify_master),
        backup: argv(&i.notify_backup),
        fault: argv(&i.notify_fault),
        stop: argv(&i.notify_stop),
        generic: argv(&i.notify),
        master_rx_lower_pri: argv(&i.notify_master_rx_lower_pri),
    };
    if i.use_vmac.is_some() {
        warnings.push(format!("({}) use_vmac is not supported: ignored", i.name));
    }
    if !i.virtual_routes.is_empty() || !i.virtual_rules.is_empty() {
        warnings.push(format!(
            "({}) virtual_routes / virtual_rules are not supported: ignored",
            i.name
        ));
    }
    Some(ic)
}

// ---- services ---------------------------------------------------------------------------

fn protocol(p: Option<m::Protocol>) -> Protocol {
    match p {
        Some(m::Protocol::Udp) => Protocol::Udp,
        Some(m::Protocol::Sctp) => Protocol::Sctp,
        Some(m::Protocol::Tcp) | None => Protocol::Tcp,
    }
}

fn api_family(f: m::Family) -> ApiFamily {
    match f {
        m::Family::Inet => ApiFamily::Inet,
        m::Family::Inet6 => ApiFamily::Inet6,
    }
}

/// The most addresses one `virtual_server_group` entry may stand for (an IPv6 range
/// walks at most the 65536 values of its last group; an IPv4 `/16` is as large).
/// keepalived has no limit; a larger IPv4 range is skipped with a warning.
pub const MAX_GROUP_ENTRY_ADDRESSES: u64 = 65536;

/// The addresses of a `virtual_server_group` range entry, walked as keepalived's
/// `ipvs_group_range_cmd` walks them: IPv4 from `first` up to `last` (across octets for
/// `A.B.C.D-E.F.G.H` and `/LEN`); IPv6 only the last 16-bit group changes, from
/// `first`'s to `last`'s (so `2001:db8::/64` is `2001:db8::` to `2001:db8::ffff`).
/// `Err` when the range is larger than [`MAX_GROUP_ENTRY_ADDRESSES`] or backwards.
pub fn range_addresses(first: IpAddr, last: IpAddr) -> Result<Vec<IpAddr>, String> {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let (a, b) = (u32::from(a), u32::from(b));
            if a > b {
                return Err(format!("{first}-{last}: the range ends before it starts"));
            }
            let n = u64::from(b - a) + 1;
            if n > MAX_GROUP_ENTRY_ADDRESSES {
                return Err(format!(
                    "{first}-{last}: {n} addresses, more than the {MAX_GROUP_ENTRY_ADDRESSES} lvs-keepalived supports per entry"
                ));
            }
            Ok((a..=b).map(|x| IpAddr::V4(x.into())).collect())
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let a = u128::from(a);
            let end = (u128::from(b) & 0xffff) as u16;
            let mut g = (a & 0xffff) as u16;
            let base = a & !0xffff;
            let mut out = Vec::new();
            loop {
                out.push(IpAddr::V6((base | u128::from(g)).into()));
                if g == end {
                    break;
                }
                g = g.wrapping_add(1);
            }
            Ok(out)
        }
        _ => Err(format!("{first}-{last}: the address families differ")),
    }
}

/// The lvsd services of a virtual server: its own, or for `virtual_server group NAME`
/// one per address of each address entry of the group (with the entry's port and the
/// virtual server's protocol), then one per fwmark entry (the entry's family, else the
/// virtual server's, else IPv4), in keepalived's order (`ipvs_group_cmd`). What cannot
/// be expanded is skipped with a warning.
pub fn service_keys(
    c: &m::Config,
    vs: &m::VirtualServer,
    warnings: &mut Vec<String>,
) -> Vec<ServiceKey> {
    match &vs.key {
        m::VirtualServerKey::Addr { addr, port } => vec![ServiceKey::Addr {
            protocol: protocol(vs.protocol),
            addr: *addr,
            port: *port,
        }],
        m::VirtualServerKey::Fwmark(mark) => vec![ServiceKey::Fwmark {
            family: api_family(vs.family),
            mark: *mark,
        }],
        m::VirtualServerKey::Group(name) => {
            let Some(g) = c.virtual_server_groups.iter().find(|g| g.name == *name) else {
                warnings.push(format!(
                    "virtual_server group {name}: no virtual_server_group {name}: ignored"
                ));
                return Vec::new();
            };
            let mut out = Vec::new();
            for e in &g.entries {
                if let m::VirtualServerGroupEntry::Range { first, last, port } = e {
                    match range_addresses(*first, *last) {
                        Ok(addrs) => out.extend(addrs.into_iter().map(|addr| ServiceKey::Addr {
                            protocol: protocol(vs.protocol),
                            addr,
                            port: *port,
                        })),
                        Err(e) => warnings
                            .push(format!("virtual_server_group {name}: entry {e}: skipped")),
                    }
                }
            }
            for e in &g.entries {
                if let m::VirtualServerGroupEntry::Fwmark { mark, family } = e {
                    out.push(ServiceKey::Fwmark {
                        family: api_family(family.unwrap_or(vs.family)),
                        mark: *mark,
                    });
                }
            }
            out
        }
    }
}

fn proto_word(p: Option<m::Protocol>) -> &'static str {
    match p {
        Some(m::Protocol::Tcp) => "tcp",
        Some(m::Protocol::Udp) => "udp",
        Some(m::Protocol::Sctp) => "sctp",
        None => "none",
    }
}

fn vsge_text(e: &m::VirtualServerGroupEntry, p: Option<m::Protocol>, added: bool) -> String {
    match e {
        m::VirtualServerGroupEntry::Fwmark { mark, .. } if added => format!("FWM {mark}"),
        m::VirtualServerGroupEntry::Fwmark { mark, .. } => mark.to_string(),
        m::VirtualServerGroupEntry::Range { first, last, port } => {
            let trio = format!("[{first}]:{}:{port}", proto_word(p));
            if first == last {
                trio
            } else {
                format!("{trio}-{last}")
            }
        }
    }
}

fn vsge_eq(a: &m::VirtualServerGroupEntry, b: &m::VirtualServerGroupEntry) -> bool {
    use m::VirtualServerGroupEntry as E;
    match (a, b) {
        (E::Fwmark { mark: x, .. }, E::Fwmark { mark: y, .. }) => x == y,
        (E::Range { .. }, E::Range { .. }) => a == b,
        _ => false,
    }
}

/// What a reload changes in the groups of the virtual servers that stay, worded as
/// keepalived's `clear_diff_vsge` / `sync_service_vsg_entry` log it (`VS [..] in group G
/// no longer exists`, `VS [..] added into group G`). A virtual server on a group stays
/// when the new configuration has one on the group of the same name (keepalived's
/// `vs_iseq`). The services themselves change with [`desired_config`].
pub fn group_changes(old: &m::Config, new: &m::Config) -> Vec<String> {
    let group = |c: &m::Config,
                 vs: &m::VirtualServer|
     -> Option<(String, Vec<m::VirtualServerGroupEntry>)> {
        let m::VirtualServerKey::Group(name) = &vs.key else {
            return None;
        };
        let entries = c
            .virtual_server_groups
            .iter()
            .find(|g| g.name == *name)
            .map(|g| g.entries.clone())
            .unwrap_or_default();
        Some((name.clone(), entries))
    };
    // keepalived lists address entries before fwmark entries.
    let ordered = |v: &[m::VirtualServerGroupEntry]| -> Vec<m::VirtualServerGroupEntry> {
        let (mut a, f): (Vec<_>, Vec<_>) = v
            .iter()
            .cloned()
            .partition(|e| matches!(e, m::VirtualServerGroupEntry::Range { .. }));
        a.extend(f);
        a
    };
    let mut out = Vec::new();
    for ovs in &old.virtual_servers {
        let Some((name, oentries)) = group(old, ovs) else {
            continue;
        };
        let Some((nvs, nentries)) = new.virtual_servers.iter().find_map(|n| {
            group(new, n)
                .filter(|(g, _)| *g == name)
                .map(|(_, e)| (n, e))
        }) else {
            continue;
        };
        for e in ordered(&oentries) {
            if !nentries.iter().any(|n| vsge_eq(&e, n)) {
                out.push(format!(
                    "VS [{}] in group {name} no longer exists",
                    vsge_text(&e, ovs.protocol, false)
                ));
            }
        }
        for e in ordered(&nentries) {
            if !oentries.iter().any(|o| vsge_eq(o, &e)) {
                out.push(format!(
                    "VS [{}] added into group {name}",
                    vsge_text(&e, nvs.protocol, true)
                ));
            }
        }
    }
    out
}

/// The port a real server (or the sorry server) of `vs` has in lvsd's `service`: the
/// configuration's (already corrected as keepalived does) for a plain virtual server;
/// for a group, set per service as keepalived's `ipvs_group_cmd` does (see
/// [`crate::check::state::group_dest_port`]).
pub fn dest_port(
    vs: &m::VirtualServer,
    service: ServiceKey,
    kind: m::ForwardMethod,
    port: u16,
) -> u16 {
    match vs.key {
        m::VirtualServerKey::Group(_) => group_dest_port(service, method(kind).0, port),
        _ => port,
    }
}

/// The method and tunnel settings of `lb_kind`.
pub fn method(k: m::ForwardMethod) -> (Method, Tunnel) {
    match k {
        m::ForwardMethod::Nat => (Method::Masq, Tunnel::default()),
        m::ForwardMethod::Dr => (Method::Route, Tunnel::default()),
        m::ForwardMethod::FullNat => (Method::FullNat, Tunnel::default()),
        m::ForwardMethod::Tun { tunnel, checksum } => {
            let (kind, port) = match tunnel {
                m::TunnelType::Ipip => (TunnelKind::Ipip, 0),
                m::TunnelType::Gue(p) => (TunnelKind::Gue, p),
                m::TunnelType::Gre => (TunnelKind::Gre, 0),
            };
            let csum = match checksum {
                m::TunnelChecksum::NoCsum => TunnelCsum::NoCsum,
                m::TunnelChecksum::Csum => TunnelCsum::Csum,
                m::TunnelChecksum::RemCsum => TunnelCsum::RemCsum,
            };
            (Method::Tunnel, Tunnel { kind, port, csum })
        }
    }
}

/// The service settings lvsd gets for a virtual server.
pub fn service_spec(vs: &m::VirtualServer, key: ServiceKey) -> ServiceSpec {
    let mut flags = 0;
    if vs.sched_flags.ops {
        flags |= SVC_F_ONEPACKET;
    }
    if vs.sched_flags.flag1 {
        flags |= SVC_F_SCHED1;
    }
    if vs.sched_flags.flag2 {
        flags |= SVC_F_SCHED2;
    }
    if vs.sched_flags.flag3 {
        flags |= SVC_F_SCHED3;
    }
    let v6 = match key {
        ServiceKey::Addr { addr, .. } => addr.is_ipv6(),
        ServiceKey::Fwmark { family, .. } => family == ApiFamily::Inet6,
    };
    let persistence = vs.persistence_timeout.map(|timeout| Persistence {
        timeout,
        prefix_len: match vs.persistence_granularity {
            Some(m::PersistenceGranularity::PrefixLen(n)) => n,
            Some(m::PersistenceGranularity::Netmask(mask)) => {
                u8::try_from(u32::from(mask).count_ones()).unwrap_or(32)
            }
            None if v6 => 128,
            None => 32,
        },
    });
    ServiceSpec {
        key,
        scheduler: vs.lb_algo.clone(),
        flags,
        persistence,
        pe: vs.persistence_engine.clone(),
        proxy_protocol: false,
    }
}

fn dest_spec(rs: &m::RealServer, port: u16, weight: i32) -> DestSpec {
    let (method, tunnel) = method(rs.lb_kind);
    DestSpec {
        addr: rs.addr,
        port,
        method,
        tunnel,
        weight,
        u_threshold: rs.uthreshold,
        l_threshold: rs.lthreshold,
    }
}

/// The keys of the services a configuration owns (a group's: every entry's).
pub fn owned_services(c: &m::Config) -> HashSet<ServiceKey> {
    let mut w = Vec::new();
    c.virtual_servers
        .iter()
        .flat_map(|vs| service_keys(c, vs, &mut w))
        .collect()
}

/// The lvsd configuration to apply for `c`, given what lvsd has now (`current`) and the
/// services an earlier configuration of this process owned (`previous`).
///
/// keepalived's `clear_diff_services` + `init_services`, transactionally: services of the
/// previous configuration that are gone are deleted; services lvsd has that this process
/// never owned (added with lvsadm) are left as they are; a service of `c` keeps the real
/// servers lvsd has for it that `c` still lists (with `c`'s settings; a real server that is
/// at weight 0 stays at 0, it is inhibited), and the checkers add the others. So services
/// and real servers that stay are not touched and keep their connections.
pub fn desired_config(
    c: &m::Config,
    current: &lvs_api::Config,
    previous: &HashSet<ServiceKey>,
) -> lvs_api::Config {
    let mut out = Vec::new();
    let ours = owned_services(c);
    for s in &current.services {
        let k = s.service.key;
        if !ours.contains(&k) && !previous.contains(&k) {
            out.push(s.clone());
        }
    }
    let mut seen = HashSet::new();
    let mut w = Vec::new();
    // A group's virtual server gives each of its services the same settings; a service
    // two virtual servers share (two on one group with the same protocol) takes the
    // first one's, as keepalived adds it once.
    for (vs, key) in c.virtual_servers.iter().flat_map(|vs| {
        service_keys(c, vs, &mut w)
            .into_iter()
            .map(move |k| (vs, k))
    }) {
        if !seen.insert(key) {
            continue;
        }
        let spec = service_spec(vs, key);
        let cur = current.services.iter().find(|s| s.service.key == key);
        let mut dests = Vec::new();
        if let Some(cur) = cur {
            for d in &cur.dests {
                if let Some(rs) = vs
                    .real_servers
                    .iter()
                    .find(|r| r.addr == d.addr && dest_port(vs, key, r.lb_kind, r.port) == d.port)
                {
                    let w = if d.weight == 0 {
                        0
                    } else {
                        i32::try_from(rs.weight).unwrap_or(i32::MAX)
                    };
                    dests.push(dest_spec(rs, d.port, w));
                } else if let Some(s) = &vs.sorry_server
                    && s.addr == d.addr
                    && dest_port(vs, key, s.method, s.port) == d.port
                {
                    dests.push(*d);
                }
            }
        }
        let laddrs = cur.map(|c| c.laddrs.clone()).unwrap_or_default();
        out.push(ConfigService {
            service: spec,
            dests,
            laddrs,
        });
    }
    let t = c.global.lvs_timeouts;
    let timeouts = (t.tcp.is_some() || t.tcpfin.is_some() || t.udp.is_some()).then_some(Timeouts {
        tcp: t.tcp.unwrap_or(0),
        tcpfin: t.tcpfin.unwrap_or(0),
        udp: t.udp.unwrap_or(0),
    });
    lvs_api::Config {
        services: out,
        timeouts,
    }
}

// ---- checkers ---------------------------------------------------------------------------

fn script(s: &m::Script, warnings: &mut Vec<String>) -> cs::Script {
    let base = cs::Script::new(s.args.clone());
    match &s.user {
        Some(u) => match base.clone().with_user(&u.user, u.group.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                warnings.push(format!("{e}: running {:?} as this user", s.args));
                base
            }
        },
        None => base,
    }
}

fn opt_script(s: &Option<m::Script>, warnings: &mut Vec<String>) -> Option<cs::Script> {
    s.as_ref().map(|s| script(s, warnings))
}

fn checker(
    c: &m::Checker,
    track_files: &[m::TrackFile],
    warnings: &mut Vec<String>,
    what: &str,
) -> Option<cs::CheckerSpec> {
    let kind = match &c.kind {
        m::CheckerKind::Tcp => cs::CheckerKind::Tcp,
        m::CheckerKind::Http(h) => {
            let urls = h
                .urls
                .iter()
                .map(|u| cs::UrlSpec {
                    path: u.path.clone(),
                    digest: u.digest,
                    status_codes: u.status_codes.clone(),
                    virtualhost: u.virtualhost.clone(),
                })
                .collect();
            let mut spec = cs::HttpSpec::new(h.ssl, urls);
            spec.virtualhost = h.virtualhost.clone();
            spec.protocol = match h.http_protocol {
                m::HttpProtocol::Http10 => cs::HttpProtocol::V1_0,
                m::HttpProtocol::Http10Close => cs::HttpProtocol::V1_0C,
                m::HttpProtocol::Http11 => cs::HttpProtocol::V1_1,
            };
            spec.enable_sni = h.enable_sni;
            spec.fast_recovery = h.fast_recovery;
            cs::CheckerKind::Http(spec)
        }
        m::CheckerKind::Misc(mc) => cs::CheckerKind::Misc(cs::MiscSpec {
            script: script(&mc.script, warnings),
            timeout: mc.timeout,
            dynamic: mc.dynamic,
        }),
        m::CheckerKind::Udp(u) => cs::CheckerKind::Udp(cs::UdpSpec {
            payload: (!u.payload.is_empty()).then(|| u.payload.clone()),
            require_reply: u.require_reply,
            reply: u.reply.as_ref().map(|(data, mask)| cs::HexPattern {
                data: data.clone(),
                mask: mask.clone(),
            }),
            min_reply_length: u.min_reply_length,
            max_reply_length: u.max_reply_length,
        }),
        m::CheckerKind::Ping => cs::CheckerKind::Ping,
        m::CheckerKind::Smtp { helo_name } => cs::CheckerKind::Smtp(cs::SmtpSpec {
            helo_name: helo_name
                .clone()
                .unwrap_or_else(|| cs::SMTP_DEFAULT_HELO.to_string()),
        }),
        m::CheckerKind::Dns { query_type, name } => {
            let Some(qtype) = cs::dns_type(query_type) else {
                warnings.push(format!(
                    "DNS_CHECK of {what}: unknown type {query_type}: ignored"
                ));
                return None;
            };
            cs::CheckerKind::Dns(cs::DnsSpec {
                qtype,
                name: if name.is_empty() {
                    ".".to_string()
                } else {
                    name.clone()
                },
            })
        }
        m::CheckerKind::File {
            track_file,
            weight,
            reverse,
        } => {
            let Some(t) = track_file
                .as_ref()
                .and_then(|n| track_files.iter().find(|t| &t.name == n))
            else {
                warnings.push(format!(
                    "FILE_CHECK of {what}: track_file {} not found: ignored",
                    track_file.as_deref().unwrap_or("")
                ));
                return None;
            };
            cs::CheckerKind::File(cs::FileCheckSpec {
                name: t.name.clone(),
                path: t.path.clone().into(),
                weight: *weight,
                reverse: *reverse,
                init: t.init,
            })
        }
        m::CheckerKind::Bfd { .. } => {
            warnings.push(format!("BFD_CHECK of {what} is not supported: ignored"));
            return None;
        }
    };
    let mut s = cs::CheckerSpec::new(kind);
    s.connect_ip = c.connect_ip;
    s.connect_port = c.connect_port;
    s.bindto = c.bindto;
    s.bind_port = c.bind_port;
    s.bind_if = c.bind_if.clone();
    s.fwmark = c.fwmark;
    s.connect_timeout = Some(c.connect_timeout);
    s.retry = Some(c.retry);
    s.delay_before_retry = Some(c.delay_before_retry);
    s.delay_loop = Some(c.delay_loop);
    s.warmup = Some(c.warmup);
    s.alpha = Some(c.alpha);
    s.log_all_failures = c.log_all_failures;
    Some(s)
}

fn fmt_addr(a: IpAddr, port: u16) -> String {
    match a {
        IpAddr::V4(_) => format!("{a}:{port}"),
        IpAddr::V6(_) => format!("[{a}]:{port}"),
    }
}

/// The checkers' specifications of a configuration, plus warnings.
pub fn checker_specs(c: &m::Config) -> (Vec<cs::VirtualServerSpec>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut out = Vec::new();
    for vs in &c.virtual_servers {
        let keys = service_keys(c, vs, &mut warnings);
        let mut spec = match &vs.key {
            m::VirtualServerKey::Group(name) => {
                // The key is not used for a group; its services are.
                let mut spec = cs::VirtualServerSpec::new(ServiceKey::Fwmark {
                    family: api_family(vs.family),
                    mark: 0,
                });
                spec.group = Some(cs::GroupSpec {
                    name: name.clone(),
                    protocol: vs.protocol.map(|p| protocol(Some(p))),
                    services: keys,
                });
                spec
            }
            _ => {
                let Some(&key) = keys.first() else { continue };
                let mut spec = cs::VirtualServerSpec::new(key);
                if matches!(key, ServiceKey::Fwmark { .. }) {
                    spec.fwmark_protocol = Some(protocol(vs.protocol));
                }
                spec
            }
        };
        let (method, tunnel) = method(vs.lb_kind);
        spec.method = method;
        spec.tunnel = tunnel;
        spec.delay_loop = Some(vs.delay_loop);
        spec.connect_timeout = Some(vs.connect_timeout);
        spec.alpha = vs.alpha;
        spec.omega = vs.omega;
        spec.inhibit_on_failure = vs.inhibit_on_failure;
        spec.quorum = vs.quorum;
        spec.hysteresis = vs.hysteresis;
        spec.quorum_up = opt_script(&vs.quorum_up, &mut warnings);
        spec.quorum_down = opt_script(&vs.quorum_down, &mut warnings);
        spec.sorry_server = vs.sorry_server.as_ref().map(|s| cs::SorryServerSpec {
            addr: s.addr,
            port: s.port,
            method: Some(self::method(s.method).0),
            inhibit: s.inhibit,
        });
        spec.ha_suspend = vs.ha_suspend;
        spec.virtualhost = vs.virtualhost.clone();
        for rs in &vs.real_servers {
            let what = format!("real server {}", fmt_addr(rs.addr, rs.port));
            let (rm, rt) = self::method(rs.lb_kind);
            let mut r = cs::RealServerSpec::new(rs.addr, rs.port);
            r.weight = i32::try_from(rs.weight).unwrap_or(i32::MAX);
            r.method = Some(rm);
            r.tunnel = Some(rt);
            r.inhibit_on_failure = Some(rs.inhibit_on_failure);
            r.alpha = Some(rs.alpha);
            r.notify_up = opt_script(&rs.notify_up, &mut warnings);
            r.notify_down = opt_script(&rs.notify_down, &mut warnings);
            r.u_threshold = rs.uthreshold;
            r.l_threshold = rs.lthreshold;
            r.virtualhost = rs.virtualhost.clone();
            r.checkers = rs
                .checkers
                .iter()
                .filter_map(|ck| checker(ck, &c.track_files, &mut warnings, &what))
                .collect();
            spec.real_servers.push(r);
        }
        out.push(spec);
    }
    (out, warnings)
}

// ---- sync daemon ------------------------------------------------------------------------

/// `lvs_sync_daemon`: the sync daemon settings for `role`, and the VRRP instance whose
/// state decides the role (`None`: none named; keepalived then runs only the backup).
pub fn sync_daemon(c: &m::Config, role: SyncRole) -> Option<(SyncDaemonSpec, Option<String>)> {
    let s = c.global.lvs_sync_daemon.as_ref()?;
    let vrid = s
        .vrrp_instance
        .as_deref()
        .and_then(|n| c.instance(n))
        .map(|i| i.virtual_router_id);
    Some((
        SyncDaemonSpec {
            role,
            mcast_ifn: s.interface.clone(),
            syncid: s.sync_id.or(vrid).unwrap_or(0),
            sync_maxlen: s.maxlen.unwrap_or(0),
            mcast_group: s.group,
            mcast_port: s.port.unwrap_or(0),
            mcast_ttl: s.ttl.unwrap_or(0),
        },
        s.vrrp_instance.clone(),
    ))
}

/// The VIPs of instance `name` (the addresses `ha_suspend` checkers follow).
pub fn instance_addresses(c: &m::Config, name: &str) -> Vec<IpAddr> {
    c.instance(name)
        .map(|i| {
            i.virtual_ipaddress
                .iter()
                .chain(&i.virtual_ipaddress_excluded)
                .map(|v| v.addr)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conf::{LoadOptions, StaticEnv, load_str};
    use lvs_api::ConfigService;

    const CONF: &str = "
global_defs {
    lvs_sync_daemon eth1 VI_1 maxlen 1200
    lvs_timeouts tcp 900 udp 60
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    version 3
    advert_int 0.1
    authentication {
        auth_type PASS
        auth_pass secret
    }
    virtual_ipaddress {
        10.1.0.100/32 dev eth0
        10.2.0.1/24 dev eth1
    }
}
virtual_server 10.1.0.100 80 {
    delay_loop 2
    lb_algo wrr
    lb_kind NAT
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    protocol TCP
    real_server 10.2.0.11 8080 {
        weight 3
        TCP_CHECK {
            connect_timeout 2
        }
    }
    real_server 10.2.0.12 8080 {
        weight 1
    }
}
";

    fn conf() -> m::Config {
        let l = load_str(
            "test.conf",
            CONF,
            &LoadOptions::default(),
            &StaticEnv::with_interfaces(&["eth0", "eth1"]),
        );
        l.config
    }

    fn key80() -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "10.1.0.100".parse().unwrap(),
            port: 80,
        }
    }

    #[test]
    fn vrrp_instances_as_configured() {
        let (v, warnings) = vrrp_config(&conf());
        assert!(warnings.is_empty(), "{warnings:?}");
        let i = &v.instances[0];
        assert_eq!((i.vrid, i.priority, i.advert_int_cs), (51, 150, 10));
        assert_eq!(i.version, Version::V3);
        // VRRPv3 has no authentication: keepalived ignores the block, and so do we.
        assert_eq!(i.auth_pass, None);
        assert_eq!(i.vips.len(), 2);
        assert_eq!(i.vips[1].dev.as_deref(), Some("eth1"));
        assert_eq!(i.vips[1].prefix_len, 24);
        let per = vrrp_units(&v);
        assert_eq!(per.len(), 1);
        assert_eq!(per[0].0, "VI_1");
        assert_eq!(per[0].1.instances, vec![i.clone()]);
    }

    #[test]
    fn services_and_sync_daemon() {
        let c = conf();
        let cur = lvs_api::Config::default();
        let d = desired_config(&c, &cur, &HashSet::new());
        assert_eq!(d.services.len(), 1);
        let s = &d.services[0].service;
        assert_eq!(s.key, key80());
        assert_eq!(s.scheduler, "wrr");
        assert_eq!(
            s.persistence,
            Some(Persistence {
                timeout: 300,
                prefix_len: 24
            })
        );
        // Real servers are the checkers' to add.
        assert!(d.services[0].dests.is_empty());
        assert_eq!(
            d.timeouts.map(|t| (t.tcp, t.tcpfin, t.udp)),
            Some((900, 0, 60))
        );
        let (spec, inst) = sync_daemon(&c, SyncRole::Master).unwrap();
        assert_eq!(inst.as_deref(), Some("VI_1"));
        assert_eq!(
            (spec.mcast_ifn.as_str(), spec.syncid, spec.sync_maxlen),
            ("eth1", 51, 1200)
        );
        let (checks, _) = checker_specs(&c);
        assert_eq!(checks[0].real_servers.len(), 2);
        assert_eq!(checks[0].real_servers[0].weight, 3);
        assert_eq!(checks[0].real_servers[0].checkers.len(), 1);
        assert!(checks[0].real_servers[1].checkers.is_empty());
    }

    #[test]
    fn reload_keeps_what_stays_and_leaves_foreign_services_alone() {
        let c = conf();
        let dest = |a: &str, w: i32| DestSpec {
            addr: a.parse().unwrap(),
            port: 8080,
            method: Method::Masq,
            tunnel: Tunnel::default(),
            weight: w,
            u_threshold: 0,
            l_threshold: 0,
        };
        let foreign = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "10.1.0.100".parse().unwrap(),
            port: 53,
        };
        let gone = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "10.1.0.100".parse().unwrap(),
            port: 443,
        };
        let svc = |key, dests| ConfigService {
            service: ServiceSpec {
                key,
                scheduler: "rr".into(),
                flags: 0,
                persistence: None,
                pe: None,
                proxy_protocol: false,
            },
            dests,
            laddrs: Vec::new(),
        };
        let current = lvs_api::Config {
            services: vec![
                svc(foreign, vec![]),
                svc(gone, vec![]),
                // Port 80 has one server the new configuration keeps (inhibited: weight 0)
                // and one it dropped.
                svc(key80(), vec![dest("10.2.0.11", 0), dest("10.2.0.99", 1)]),
            ],
            timeouts: None,
        };
        let previous = HashSet::from([key80(), gone]);
        let d = desired_config(&c, &current, &previous);
        let keys: Vec<ServiceKey> = d.services.iter().map(|s| s.service.key).collect();
        assert_eq!(keys, vec![foreign, key80()], "443 was ours and is gone");
        let s80 = &d.services[1];
        assert_eq!(s80.dests, vec![dest("10.2.0.11", 0)]);
        assert_eq!(s80.service.scheduler, "wrr");
    }

    #[test]
    fn sync_groups_run_their_members_together_with_the_group_tracking() {
        let conf = "
vrrp_script chk {
    script /bin/true
}
vrrp_script gchk {
    script /bin/true
    weight 10
}
vrrp_sync_group G1 {
    group {
        VI_A
        VI_B
    }
    track_interface {
        eth2
        eth0
    }
    track_script {
        gchk weight -20
    }
    notify /bin/echo
    notify_fault \"/bin/true arg\"
}
vrrp_instance VI_A {
    interface eth0
    virtual_router_id 1
    track_script {
        chk
    }
    virtual_ipaddress {
        10.0.0.100
    }
}
vrrp_instance VI_B {
    interface eth1
    virtual_router_id 2
    virtual_ipaddress {
        10.0.1.100
    }
}
vrrp_instance VI_C {
    interface eth1
    virtual_router_id 3
    virtual_ipaddress {
        10.0.1.101
    }
}
";
        let l = load_str(
            "test.conf",
            conf,
            &LoadOptions::default(),
            &StaticEnv::with_interfaces(&["eth0", "eth1", "eth2"]),
        );
        let (v, warnings) = vrrp_config(&l.config);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(v.groups.len(), 1);
        let g = &v.groups[0];
        assert_eq!(g.members, ["VI_A", "VI_B"]);
        assert_eq!(
            g.notify.generic.as_deref(),
            Some(&["/bin/echo".to_string()][..])
        );
        assert_eq!(
            g.notify.fault.as_deref(),
            Some(&["/bin/true".to_string(), "arg".to_string()][..])
        );
        let tracks = |name: &str| -> Vec<(TrackKind, String, i32)> {
            v.instances
                .iter()
                .find(|i| i.name == name)
                .unwrap()
                .tracks
                .iter()
                .map(|t| (t.kind, t.name.clone(), t.weight))
                .collect()
        };
        // The group's interfaces and scripts are each member's; a member's own interface
        // is tracked already (its link).
        assert_eq!(
            tracks("VI_A"),
            vec![
                (TrackKind::Script, "chk".into(), 0),
                (TrackKind::Interface, "eth2".into(), 0),
                (TrackKind::Script, "gchk".into(), -20),
            ]
        );
        assert_eq!(
            tracks("VI_B"),
            vec![
                (TrackKind::Interface, "eth2".into(), 0),
                (TrackKind::Interface, "eth0".into(), 0),
                (TrackKind::Script, "gchk".into(), -20),
            ]
        );
        assert!(tracks("VI_C").is_empty());
        let names: Vec<&str> = v.scripts.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["chk", "gchk"]);
        // No `timeout`: the interval (a zero timeout would fail every run).
        assert_eq!(v.scripts[0].timeout, None);
        assert_eq!(v.scripts[0].run_timeout(), v.scripts[0].interval);
        // One unit for the group (both members, both scripts), one for VI_C.
        let units = vrrp_units(&v);
        let keys: Vec<&str> = units.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["vrrp_sync_group G1", "VI_C"]);
        let members: Vec<&str> = units[0]
            .1
            .instances
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        assert_eq!(members, ["VI_A", "VI_B"]);
        assert_eq!(units[0].1.scripts.len(), 2);
        assert_eq!(units[0].1.groups, v.groups);
        assert!(units[1].1.groups.is_empty() && units[1].1.scripts.is_empty());
    }

    // ---- virtual_server_group ----------------------------------------------------------

    fn load(text: &str) -> m::Config {
        let l = load_str(
            "test.conf",
            text,
            &LoadOptions::default(),
            &StaticEnv::with_interfaces(&["eth0", "eth1"]),
        );
        l.config
    }

    fn tcp(a: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: a.parse().unwrap(),
            port,
        }
    }

    fn fwm(mark: u32, family: ApiFamily) -> ServiceKey {
        ServiceKey::Fwmark { family, mark }
    }

    fn keys(d: &lvs_api::Config) -> Vec<ServiceKey> {
        d.services.iter().map(|s| s.service.key).collect()
    }

    const GROUP_CONF: &str = "
virtual_server_group G {
    10.0.0.1-3 80
    192.168.1.254-192.168.2.1 80
    fwmark 7
    10.2.0.0/31 8080
}
virtual_server group G {
    delay_loop 2
    lb_algo wrr
    lb_kind DR
    persistence_timeout 60
    protocol TCP
    real_server 10.9.0.1 {
        weight 2
        TCP_CHECK {
            connect_port 80
        }
    }
    real_server 10.9.0.2 8080 {
        lvs_method NAT
        TCP_CHECK {
        }
    }
}
";

    #[test]
    fn a_group_is_one_service_per_address_and_fwmark_with_the_same_settings() {
        let c = load(GROUP_CONF);
        let d = desired_config(&c, &lvs_api::Config::default(), &HashSet::new());
        // Addresses first (ranges walked across octets), then fwmark entries, as
        // keepalived's ipvs_group_cmd; the fwmark takes the group's family.
        assert_eq!(
            keys(&d),
            vec![
                tcp("10.0.0.1", 80),
                tcp("10.0.0.2", 80),
                tcp("10.0.0.3", 80),
                tcp("192.168.1.254", 80),
                tcp("192.168.1.255", 80),
                tcp("192.168.2.0", 80),
                tcp("192.168.2.1", 80),
                tcp("10.2.0.0", 8080),
                tcp("10.2.0.1", 8080),
                fwm(7, ApiFamily::Inet),
            ]
        );
        for s in &d.services {
            assert_eq!(s.service.scheduler, "wrr");
            assert_eq!(s.service.persistence.map(|p| p.timeout), Some(60));
            assert!(s.dests.is_empty());
        }
        assert_eq!(owned_services(&c), keys(&d).into_iter().collect());
        // The checkers: one virtual server, one checker per real server, every service.
        let (specs, warnings) = checker_specs(&c);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(specs.len(), 1);
        let g = specs[0].group.as_ref().unwrap();
        assert_eq!(g.name, "G");
        assert_eq!(g.services, keys(&d));
        assert_eq!(specs[0].real_servers.len(), 2);
        assert_eq!(specs[0].real_servers[0].checkers.len(), 1);
    }

    #[test]
    fn ipv6_ranges_walk_the_last_group_and_ipv4_ranges_are_bounded() {
        let c = load(
            "
virtual_server_group G6 {
    fd00::1-3 443
    fd00:1::fffe-fd00:1::1:1 443
    fwmark 9 inet6
}
virtual_server group G6 {
    protocol TCP
    real_server fd01::1 443 {
    }
}
",
        );
        let d = desired_config(&c, &lvs_api::Config::default(), &HashSet::new());
        let k = |a: &str| tcp(a, 443);
        // keepalived changes only the last 16 bits: fffe, ffff, then 0 and 1 with the
        // first address's upper groups.
        assert_eq!(
            keys(&d),
            vec![
                k("fd00::1"),
                k("fd00::2"),
                k("fd00::3"),
                k("fd00:1::fffe"),
                k("fd00:1::ffff"),
                k("fd00:1::"),
                k("fd00:1::1"),
                fwm(9, ApiFamily::Inet6),
            ]
        );
        assert!(
            d.services
                .iter()
                .all(|s| s.service.persistence.is_none() && s.service.scheduler == "wlc")
        );
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        let r = range_addresses(a("2001:db8::"), a("2001:db8::ffff:ffff:ffff:ffff")).unwrap();
        assert_eq!(r.len(), 65536);
        assert_eq!((r[0], r[65535]), (a("2001:db8::"), a("2001:db8::ffff")));
        assert_eq!(
            range_addresses(a("10.0.0.0"), a("10.0.255.255"))
                .unwrap()
                .len(),
            65536
        );
        assert!(range_addresses(a("10.0.0.0"), a("10.1.0.0")).is_err());
        assert!(range_addresses(a("10.0.0.2"), a("10.0.0.1")).is_err());
        // A group entry too large is skipped with a warning; the others stay.
        let c = load(
            "
virtual_server_group BIG {
    10.0.0.0/8 80
    10.1.0.1 80
}
virtual_server group BIG {
    protocol TCP
    real_server 10.9.0.1 80 {
    }
}
",
        );
        let (specs, warnings) = checker_specs(&c);
        assert_eq!(
            specs[0].group.as_ref().unwrap().services,
            vec![tcp("10.1.0.1", 80)]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("10.0.0.0-10.255.255.255"),
            "{warnings:?}"
        );
    }

    #[test]
    fn several_virtual_servers_on_one_group() {
        let c = load(
            "
virtual_server_group G {
    10.0.0.1-2 53
}
virtual_server group G {
    protocol TCP
    lb_algo rr
    real_server 10.9.0.1 53 {
    }
}
virtual_server group G {
    protocol UDP
    lb_algo sh
    real_server 10.9.0.2 53 {
    }
}
",
        );
        let d = desired_config(&c, &lvs_api::Config::default(), &HashSet::new());
        let udp = |a: &str| ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: a.parse().unwrap(),
            port: 53,
        };
        assert_eq!(
            keys(&d),
            vec![
                tcp("10.0.0.1", 53),
                tcp("10.0.0.2", 53),
                udp("10.0.0.1"),
                udp("10.0.0.2")
            ]
        );
        let sched: Vec<&str> = d
            .services
            .iter()
            .map(|s| s.service.scheduler.as_str())
            .collect();
        assert_eq!(sched, ["rr", "rr", "sh", "sh"]);
        let (specs, _) = checker_specs(&c);
        assert_eq!(specs.len(), 2);
        assert_eq!(
            specs[1].group.as_ref().unwrap().services,
            vec![udp("10.0.0.1"), udp("10.0.0.2")]
        );
        assert_eq!(
            specs[1].real_servers[0].addr,
            "10.9.0.2".parse::<IpAddr>().unwrap()
        );
    }

    /// Every dest op of `events`, as (service, op, addr, port, weight).
    fn dest_ops(
        events: &[crate::check::Event],
    ) -> Vec<(ServiceKey, &'static str, IpAddr, u16, i32)> {
        use crate::check::{Event, Op};
        events
            .iter()
            .filter_map(|e| match e {
                Event::Op(Op::AddDest { service, dest }) => {
                    Some((*service, "add", dest.addr, dest.port, dest.weight))
                }
                Event::Op(Op::EditDest { service, dest }) => {
                    Some((*service, "edit", dest.addr, dest.port, dest.weight))
                }
                Event::Op(Op::DelDest {
                    service,
                    addr,
                    port,
                }) => Some((*service, "del", *addr, *port, 0)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_checker_result_applies_to_every_service_of_the_group() {
        use crate::check::{Checks, Event, FailReason, Outcome};
        use std::time::{Duration, Instant};
        let c = load(GROUP_CONF);
        let (specs, _) = checker_specs(&c);
        let services = specs[0].group.as_ref().unwrap().services.clone();
        let mut checks = Checks::new(specs).unwrap();
        let t0 = Instant::now();
        let start = checks.start(t0, &mut |_| Duration::ZERO);
        // One AddDest per service and real server: the DR server takes each address
        // service's port and 0 in the fwmark service; the NAT one keeps its own port.
        let ops = dest_ops(&start);
        assert_eq!(ops.len(), 2 * services.len());
        let rs1: IpAddr = "10.9.0.1".parse().unwrap();
        let rs2: IpAddr = "10.9.0.2".parse().unwrap();
        for (i, svc) in services.iter().enumerate() {
            let port = match svc {
                ServiceKey::Addr { port, .. } => *port,
                ServiceKey::Fwmark { .. } => 0,
            };
            assert_eq!(ops[i], (*svc, "add", rs1, port, 2));
            assert_eq!(ops[services.len() + i], (*svc, "add", rs2, 8080, 1));
        }
        let logs: Vec<&String> = start
            .iter()
            .filter_map(|e| match e {
                Event::Log(l) => Some(l),
                Event::Op(_) => None,
            })
            .collect();
        assert!(
            logs.iter()
                .any(|l| *l == "Activating healthchecker for service [10.9.0.1]:tcp:0 for VS [G]:0"),
            "{logs:?}"
        );
        // One checker per real server (two in all, not one per service).
        let due = checks.due(t0 + Duration::from_secs(2));
        assert_eq!(due.len(), 2);
        let d1 = due.iter().find(|d| d.id.rs == 0).unwrap();
        assert_eq!(checks.conf(d1.id).target.port(), 80, "connect_port");
        // Its failure takes the server out of every service of the group.
        let ev = checks.report(
            t0 + Duration::from_secs(2),
            d1.id,
            Outcome::Failure(FailReason::ConnectFailed),
        );
        let dels = dest_ops(&ev);
        assert_eq!(dels.len(), services.len());
        assert!(
            dels.iter()
                .zip(&services)
                .all(|(o, s)| o.0 == *s && o.1 == "del" && o.2 == rs1)
        );
        assert!(ev.iter().any(
            |e| matches!(e, Event::Log(l) if l == "Removing service [10.9.0.1]:tcp:0 from VS [G]:0")
        ));
        assert!(!checks.rs_alive(0, 0) && checks.rs_alive(0, 1));
        // And its success puts it back in all of them.
        let due = checks.due(t0 + Duration::from_secs(10));
        let d1 = due.iter().find(|d| d.id.rs == 0).unwrap();
        let ev = checks.report(t0 + Duration::from_secs(10), d1.id, Outcome::Success);
        let adds = dest_ops(&ev);
        assert_eq!(adds.len(), services.len());
        assert!(adds.iter().all(|o| o.1 == "add" && o.2 == rs1 && o.4 == 2));
    }

    #[test]
    fn sorry_server_inhibit_and_quorum_per_group() {
        use crate::check::{Checks, FailReason, Outcome};
        use std::time::{Duration, Instant};
        let c = load(
            "
virtual_server_group G {
    10.0.0.1-2 80
}
virtual_server group G {
    protocol TCP
    quorum 2
    sorry_server 10.9.9.9 8000
    real_server 10.9.0.1 8080 {
        TCP_CHECK {
        }
    }
    real_server 10.9.0.2 8080 {
        inhibit_on_failure
        TCP_CHECK {
        }
    }
}
",
        );
        let (specs, _) = checker_specs(&c);
        let mut checks = Checks::new(specs).unwrap();
        let t0 = Instant::now();
        let start = dest_ops(&checks.start(t0, &mut |_| Duration::ZERO));
        assert_eq!(start.len(), 4);
        assert!(checks.quorum_up(0));
        let due = checks.due(t0 + Duration::from_secs(2));
        let d2 = due.iter().find(|d| d.id.rs == 1).unwrap().id;
        let ev = dest_ops(&checks.report(
            t0 + Duration::from_secs(2),
            d2,
            Outcome::Failure(FailReason::Timeout),
        ));
        // The inhibited server goes to weight 0 in both services, quorum (2) is lost
        // once for the group: the alive server leaves both, the sorry server comes in.
        let s = |a: &str| tcp(a, 80);
        let ip = |a: &str| a.parse::<IpAddr>().unwrap();
        assert_eq!(
            ev,
            vec![
                (s("10.0.0.1"), "edit", ip("10.9.0.2"), 8080, 0),
                (s("10.0.0.2"), "edit", ip("10.9.0.2"), 8080, 0),
                (s("10.0.0.1"), "del", ip("10.9.0.1"), 8080, 0),
                (s("10.0.0.2"), "del", ip("10.9.0.1"), 8080, 0),
                (s("10.0.0.1"), "add", ip("10.9.9.9"), 8000, 1),
                (s("10.0.0.2"), "add", ip("10.9.9.9"), 8000, 1),
            ]
        );
        assert!(!checks.quorum_up(0) && checks.sorry_active(0));
    }

    #[test]
    fn ha_suspend_on_a_group_follows_its_addresses() {
        use crate::check::{Checks, Event};
        use std::time::{Duration, Instant};
        let c = load(
            "
virtual_server_group G {
    10.0.0.1-2 80
}
virtual_server group G {
    protocol TCP
    ha_suspend
    real_server 10.9.0.1 80 {
        TCP_CHECK {
        }
    }
}
",
        );
        let (specs, _) = checker_specs(&c);
        let mut checks = Checks::new(specs).unwrap();
        let ip = |a: &str| a.parse::<IpAddr>().unwrap();
        assert_eq!(
            checks.ha_suspend_addrs(0),
            vec![ip("10.0.0.1"), ip("10.0.0.2")]
        );
        let t0 = Instant::now();
        let _ = checks.start(t0, &mut |_| Duration::ZERO);
        assert!(
            checks.due(t0 + Duration::from_secs(2)).is_empty(),
            "suspended"
        );
        let logs = |ev: Vec<Event>| -> Vec<String> {
            ev.into_iter()
                .filter_map(|e| match e {
                    Event::Log(l) => Some(l),
                    Event::Op(_) => None,
                })
                .collect()
        };
        let on = "Activating healthchecker for service [10.9.0.1]:tcp:80 for VS [G]:0";
        let off = "Suspending healthchecker for service [10.9.0.1]:tcp:80 for VS [G]:0";
        assert_eq!(logs(checks.set_address(ip("10.0.0.2"), true)), [on]);
        assert!(logs(checks.set_address(ip("10.0.0.1"), true)).is_empty());
        assert!(logs(checks.set_address(ip("10.0.0.9"), false)).is_empty());
        assert!(logs(checks.set_address(ip("10.0.0.2"), false)).is_empty());
        assert_eq!(logs(checks.set_address(ip("10.0.0.1"), false)), [off]);
    }

    #[test]
    fn reload_adds_and_removes_the_services_of_changed_group_entries() {
        let old = load(
            "
virtual_server_group G {
    10.0.0.1-2 80
    fwmark 5
}
virtual_server group G {
    protocol TCP
    lb_kind DR
    real_server 10.9.0.1 80 {
    }
}
",
        );
        let new = load(
            "
virtual_server_group G {
    10.0.0.2-3 80
    fwmark 6
}
virtual_server group G {
    protocol TCP
    lb_kind DR
    real_server 10.9.0.1 80 {
    }
}
",
        );
        let dest = |port: u16, w: i32| DestSpec {
            addr: "10.9.0.1".parse().unwrap(),
            port,
            method: Method::Route,
            tunnel: Tunnel::default(),
            weight: w,
            u_threshold: 0,
            l_threshold: 0,
        };
        let svc = |key, dests| ConfigService {
            service: service_spec(&old.virtual_servers[0], key),
            dests,
            laddrs: Vec::new(),
        };
        let foreign = tcp("10.0.0.3", 8080);
        // What lvsd has after running `old` (the real server in every service: port 80
        // in the address services, 0 in the fwmark one), plus a service of lvsadm.
        let current = lvs_api::Config {
            services: vec![
                svc(tcp("10.0.0.1", 80), vec![dest(80, 1)]),
                svc(tcp("10.0.0.2", 80), vec![dest(80, 1)]),
                svc(fwm(5, ApiFamily::Inet), vec![dest(0, 1)]),
                svc(foreign, vec![]),
            ],
            timeouts: None,
        };
        let d = desired_config(&new, &current, &owned_services(&old));
        // 10.0.0.1 and fwmark 5 are gone; 10.0.0.2 keeps its real server (untouched, its
        // connections stay); 10.0.0.3 and fwmark 6 are new and empty (the checkers add
        // the real servers); lvsadm's service stays.
        assert_eq!(
            keys(&d),
            vec![
                foreign,
                tcp("10.0.0.2", 80),
                tcp("10.0.0.3", 80),
                fwm(6, ApiFamily::Inet)
            ]
        );
        assert_eq!(d.services[1].dests, vec![dest(80, 1)]);
        assert!(d.services[2].dests.is_empty() && d.services[3].dests.is_empty());
        assert_eq!(
            group_changes(&old, &new),
            [
                "VS [[10.0.0.1]:tcp:80-10.0.0.2] in group G no longer exists",
                "VS [5] in group G no longer exists",
                "VS [[10.0.0.2]:tcp:80-10.0.0.3] added into group G",
                "VS [FWM 6] added into group G",
            ]
        );
        assert!(group_changes(&new, &new).is_empty());
    }

    /// The same configuration under keepalived 2.2.7 in the ipvs-vm guest (`keepalived -n
    /// -l -C`, then `ipvsadm -Ln` once the TCP_CHECK of 127.0.0.4:81 had failed, then
    /// SIGTERM) gave these tables and log lines.
    #[test]
    fn group_tables_and_logs_as_keepalived_2_2_7() {
        use crate::check::{Checks, Event, FailReason, Op, Outcome};
        use std::collections::BTreeMap;
        use std::time::{Duration, Instant};
        let c = load(
            "
virtual_server_group G {
    10.0.0.1-2 80
    fwmark 7
}
virtual_server group G {
    delay_loop 2
    lb_algo wrr
    lb_kind DR
    protocol TCP
    sorry_server 10.9.9.9
    real_server 127.0.0.1 {
        weight 2
    }
    real_server 127.0.0.2 8080 {
        lvs_method NAT
    }
    real_server 127.0.0.3 {
        lvs_method NAT
    }
    real_server 127.0.0.4 81 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
",
        );
        let d = desired_config(&c, &lvs_api::Config::default(), &HashSet::new());
        assert!(d.services.iter().all(|s| s.service.scheduler == "wrr"));
        let (specs, _) = checker_specs(&c);
        let mut checks = Checks::new(specs).unwrap();
        let t0 = Instant::now();
        let mut events = checks.start(t0, &mut |_| Duration::ZERO);
        let due = checks.due(t0 + Duration::from_secs(2));
        assert_eq!(due.len(), 1);
        events.extend(checks.report(
            t0 + Duration::from_secs(2),
            due[0].id,
            Outcome::Failure(FailReason::ConnectFailed),
        ));
        // Apply the ops to an ipvsadm-like table.
        let mut table: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let name = |k: &ServiceKey| match k {
            ServiceKey::Addr { addr, port, .. } => format!("TCP  {addr}:{port}"),
            ServiceKey::Fwmark { mark, .. } => format!("FWM  {mark}"),
        };
        let fwd = |m: Method| if m == Method::Masq { "Masq" } else { "Route" };
        for e in &events {
            match e {
                Event::Op(Op::AddDest { service, dest }) => {
                    table.entry(name(service)).or_default().push(format!(
                        "{}:{} {} {}",
                        dest.addr,
                        dest.port,
                        fwd(dest.method),
                        dest.weight
                    ));
                }
                Event::Op(Op::DelDest {
                    service,
                    addr,
                    port,
                }) => {
                    let t = table.entry(name(service)).or_default();
                    t.retain(|l| !l.starts_with(&format!("{addr}:{port} ")));
                }
                Event::Op(_) => panic!("{e:?}"),
                Event::Log(_) => {}
            }
        }
        let dests = |first: &str| {
            vec![
                format!("127.0.0.1:{first} Route 2"),
                "127.0.0.2:8080 Masq 1".to_string(),
                "127.0.0.3:0 Masq 1".to_string(),
            ]
        };
        let want: BTreeMap<String, Vec<String>> = [
            ("TCP  10.0.0.1:80".to_string(), dests("80")),
            ("TCP  10.0.0.2:80".to_string(), dests("80")),
            ("FWM  7".to_string(), dests("0")),
        ]
        .into_iter()
        .collect();
        assert_eq!(table, want);
        events.extend(checks.shutdown(true));
        let logs: Vec<String> = events
            .into_iter()
            .filter_map(|e| match e {
                Event::Log(l) => Some(l),
                Event::Op(_) => None,
            })
            .collect();
        for l in [
            "Gained quorum 1+0=1 <= 5 for VS [G]:0",
            "Activating healthchecker for service [127.0.0.4]:tcp:81 for VS [G]:0",
            "TCP_CHECK on service [127.0.0.4]:tcp:81 failed.",
            "Removing service [127.0.0.4]:tcp:81 from VS [G]:0",
            "Shutting down service [127.0.0.1]:tcp:0 from VS [G]:0",
            "Shutting down service [127.0.0.2]:tcp:8080 from VS [G]:0",
            "Shutting down service [127.0.0.3]:tcp:0 from VS [G]:0",
            "Shutting down service [127.0.0.4]:tcp:81 from VS [G]:0",
        ] {
            assert!(logs.iter().any(|x| x == l), "{l:?} not in {logs:#?}");
        }
    }

    // ---- SMTP_CHECK, DNS_CHECK, FILE_CHECK ---------------------------------------------

    fn loaded(text: &str) -> (m::Config, Vec<String>) {
        let l = load_str(
            "test.conf",
            text,
            &LoadOptions::default(),
            &StaticEnv::with_interfaces(&["eth0", "eth1"]),
        );
        let msgs = l
            .diagnostics
            .reported()
            .map(|d| d.message.clone())
            .collect();
        (l.config, msgs)
    }

    #[test]
    fn smtp_dns_and_file_checks_become_checker_specs() {
        let (c, msgs) = loaded(
            r#"
track_file maint {
    file /run/lvs-test/maint
    weight -3 reverse
    init_file 2 overwrite
}
track_file nofile {
    weight 2
}
virtual_server 10.0.0.100 25 {
    protocol TCP
    delay_loop 7
    real_server 10.0.0.1 25 {
        SMTP_CHECK {
            helo_name mx.test
            connect_timeout 4
            host {
                connect_ip 10.0.0.9
                connect_port 2525
            }
        }
        SMTP_CHECK {
            host {
                connect_ip 10.0.0.7
            }
            host {
                connect_ip 10.0.0.8
                retry 5
            }
        }
        DNS_CHECK {
            type aaaa
            name www.example.org
            connect_port 53
        }
        DNS_CHECK {
            type SRV
            name a.b
        }
        FILE_CHECK {
            track_file maint
        }
        FILE_CHECK {
            track_file maint
            weight 0
        }
        FILE_CHECK {
            track_file nofile
        }
    }
}
"#,
        );
        for m in [
            "No file set for track_file nofile - ignoring",
            "Unknown DNS check type SRV - ignoring",
            "DNS_CHECK name 'a.b' has empty label - ignoring",
            "track_file nofile not found",
            "FILE_CHECK has no track_file specified - ignoring",
        ] {
            assert!(msgs.iter().any(|x| x == m), "{m:?} not in {msgs:#?}");
        }
        assert_eq!(
            c.track_files,
            vec![m::TrackFile {
                name: "maint".into(),
                path: "/run/lvs-test/maint".into(),
                weight: -3,
                reverse: true,
                init: Some((2, true)),
            }]
        );
        let (specs, warnings) = checker_specs(&c);
        assert!(warnings.is_empty(), "{warnings:?}");
        let ck = &specs[0].real_servers[0].checkers;
        let kinds: Vec<&str> = ck.iter().map(|c| c.kind.keyword()).collect();
        assert_eq!(
            kinds,
            vec![
                "SMTP_CHECK",
                "SMTP_CHECK",
                "SMTP_CHECK",
                "SMTP_CHECK",
                "DNS_CHECK",
                "DNS_CHECK",
                "FILE_CHECK",
                "FILE_CHECK"
            ]
        );
        // The first SMTP_CHECK sets connect_timeout: it checks the real server, and its
        // host is one more checker (with the real server's connect_timeout, 5 s).
        let smtp = |i: usize| match &ck[i].kind {
            cs::CheckerKind::Smtp(s) => s.helo_name.clone(),
            k => panic!("{k:?}"),
        };
        assert_eq!(smtp(0), "mx.test");
        assert_eq!(smtp(1), "mx.test");
        assert_eq!(smtp(2), cs::SMTP_DEFAULT_HELO);
        let target = |i: usize| (ck[i].connect_ip.unwrap().to_string(), ck[i].connect_port);
        assert_eq!(target(0), ("10.0.0.1".to_string(), Some(25)));
        assert_eq!(
            ck[0].connect_timeout,
            Some(std::time::Duration::from_secs(4))
        );
        assert_eq!(target(1), ("10.0.0.9".to_string(), Some(2525)));
        assert_eq!(
            ck[1].connect_timeout,
            Some(std::time::Duration::from_secs(5))
        );
        // The second has only hosts: the first is the checker, the second one more; the
        // retry written in a host block is the checker's.
        assert_eq!(target(2), ("10.0.0.7".to_string(), Some(25)));
        assert_eq!(target(3), ("10.0.0.8".to_string(), Some(25)));
        assert_eq!(ck[2].retry, Some(5));
        assert_eq!(ck[3].retry, Some(5));
        // DNS: type by number, retry 3 and delay_before_retry = delay_loop by default; a
        // checker with a bad type keeps the default (SOA) and one with a bad name ".".
        assert_eq!(
            ck[4].kind,
            cs::CheckerKind::Dns(cs::DnsSpec {
                qtype: 28,
                name: "www.example.org".into()
            })
        );
        assert_eq!(ck[4].retry, Some(3));
        assert_eq!(
            ck[4].delay_before_retry,
            Some(std::time::Duration::from_secs(7))
        );
        assert_eq!(ck[5].kind, cs::CheckerKind::Dns(cs::DnsSpec::default()));
        // FILE_CHECK: the track_file's weight and reverse unless it sets its own.
        let file = |i: usize| match &ck[i].kind {
            cs::CheckerKind::File(f) => f.clone(),
            k => panic!("{k:?}"),
        };
        assert_eq!(
            file(6),
            cs::FileCheckSpec {
                name: "maint".into(),
                path: "/run/lvs-test/maint".into(),
                weight: -3,
                reverse: true,
                init: Some((2, true)),
            }
        );
        assert_eq!((file(7).weight, file(7).reverse), (0, false));
        // The specs run: one track file shared by both FILE_CHECKs.
        let checks = crate::check::Checks::new(specs).unwrap();
        assert_eq!(checks.track_files().len(), 1);
    }
}
