//! The semantic checks keepalived's `-t` runs after parsing, and the conversion to the model:
//! the script security checks of the parent, `link_vsg_to_vs` + `validate_check_config`
//! (keepalived/check) and `vrrp_complete_init` / `vrrp_complete_instance` /
//! `check_vrid_conflicts` / `sync_group_tracking_init` (keepalived/vrrp/vrrp.c). The messages,
//! their levels and the points where keepalived stops checking are kept.

use std::net::IpAddr;
use std::time::Duration;

use super::diag::{Diagnostics, Level};
use super::env::{Env, sc};
use super::h_check::{fmt_rs, fmt_vs};
use super::h_vrrp::ifindex;
use super::model::*;
use super::parser::{AuthKind, Build, ChkBuild, InstBuild, RsBuild, ScriptB, VsBuild};

const TIMER_HZ: u64 = 1_000_000;

fn us(v: u64) -> Duration {
    Duration::from_micros(v)
}

struct Ck<'a> {
    d: &'a mut Diagnostics,
    env: &'a dyn Env,
}

impl Ck<'_> {
    fn err(&mut self, msg: impl Into<String>) {
        self.d.report(Level::GeneralError, None, msg);
    }
    fn report(&mut self, level: Level, msg: impl Into<String>) {
        self.d.report(level, None, msg);
    }
    fn flags(&self, s: &ScriptB, security: bool) -> u32 {
        match s.script.args.first() {
            Some(p) => self.env.script_flags(p, s.uid, s.gid, security),
            None => sc::NOTFOUND,
        }
    }
    /// `check_notify_script_secure`: drops the script when it must not run.
    fn notify_secure(&self, s: &mut Option<ScriptB>, security: bool) -> u32 {
        let Some(x) = s else { return 0 };
        let f = self.flags(x, security);
        if f & (sc::INHIBIT | sc::NOTFOUND) != 0 || f & sc::EXECUTABLE == 0 {
            *s = None;
        }
        f
    }
}

fn violation(kind: &str, flags: u32) -> String {
    format!(
        "SECURITY VIOLATION - {kind}scripts are being executed but script_security not enabled.{}",
        if flags & sc::INSECURE != 0 {
            " There are insecure scripts."
        } else {
            ""
        }
    )
}

/// After the parent pass: the startup/shutdown script check of keepalived's main().
pub(crate) fn after_parent(b: &mut Build, d: &mut Diagnostics, env: &dyn Env) {
    let ck = Ck { d, env };
    let sec = b.global.enable_script_security;
    let mut flags = 0;
    for s in [&mut b.startup_script, &mut b.shutdown_script] {
        let Some(x) = s.as_ref() else { continue };
        let f = ck.flags(x, sec);
        flags |= f;
        if f & (sc::INHIBIT | sc::NOTFOUND) != 0 || f & (sc::EXECUTABLE | sc::SYSTEM) == 0 {
            *s = None;
        }
    }
    if b.startup_script.is_none() {
        b.global.startup_script = None;
    }
    if b.shutdown_script.is_none() {
        b.global.shutdown_script = None;
    }
    let mut ck = ck;
    if !sec && flags & sc::ISSCRIPT != 0 {
        ck.report(Level::SecurityError, violation("start/shutdown ", flags));
    }
}

fn vs_has_fwmarks(v: &VsBuild, b: &Build) -> bool {
    match &v.key {
        VirtualServerKey::Fwmark(_) => true,
        VirtualServerKey::Group(g) => b.vsgs.iter().find(|x| &x.name == g).is_some_and(|x| {
            x.entries
                .iter()
                .any(|e| matches!(e, VirtualServerGroupEntry::Fwmark { .. }))
        }),
        _ => false,
    }
}

fn vsg_ranges(v: &VsBuild, b: &Build) -> Vec<(IpAddr, IpAddr, u16)> {
    match &v.key {
        VirtualServerKey::Group(g) => b
            .vsgs
            .iter()
            .find(|x| &x.name == g)
            .map(|x| {
                x.entries
                    .iter()
                    .filter_map(|e| match e {
                        VirtualServerGroupEntry::Range { first, last, port } => {
                            Some((*first, *last, *port))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn fmt_vsge(first: IpAddr, last: IpAddr, port: u16) -> String {
    if first != last {
        format!("{first}-{last},{port}")
    } else {
        format!("{first},{port}")
    }
}

/// The checker process after its parse: `link_vsg_to_vs` and `validate_check_config`.
pub(crate) fn complete_check(b: &mut Build, d: &mut Diagnostics, env: &dyn Env) {
    let mut ck = Ck { d, env };
    // link_vsg_to_vs
    let mut i = 0;
    while i < b.vss.len() {
        let Some(gname) = b.vss[i].vsgname.clone() else {
            i += 1;
            continue;
        };
        let fmt = fmt_vs(&b.vss[i]);
        let Some(g) = b.vsgs.iter().find(|g| g.name == gname).cloned() else {
            ck.report(Level::Info, format!("Virtual server group {gname} specified but not configured - ignoring virtual server {fmt}"));
            b.vss.remove(i);
            continue;
        };
        let vsg_af = if g.have_ipv4 == g.have_ipv6 {
            None
        } else if g.have_ipv4 {
            Some(Family::Inet)
        } else {
            Some(Family::Inet6)
        };
        let af = b.vss[i].af;
        if g.have_ipv4 && g.have_ipv6 && af.is_some() {
            ck.report(Level::Info, format!("{gname}: virtual server group with IPv4 & IPv6 doesn't match virtual server {fmt} - ignoring"));
            b.vss.remove(i);
            continue;
        } else if (g.have_ipv4 && af == Some(Family::Inet6))
            || (g.have_ipv6 && af == Some(Family::Inet))
        {
            ck.report(
                Level::Info,
                format!("{gname}: address family doesn't match virtual server {fmt} - ignoring"),
            );
            b.vss.remove(i);
            continue;
        } else if let Some(vf) = vsg_af {
            match af {
                None => b.vss[i].af = Some(vf),
                Some(f) if f != vf => {
                    ck.report(
                        Level::Info,
                        format!(
                            "{gname}: address family doesn't match virtual server {fmt} - ignoring"
                        ),
                    );
                    b.vss.remove(i);
                    continue;
                }
                _ => {}
            }
        } else if af.is_none() && g.fwmark_no_family {
            ck.report(Level::Info, format!("{gname}: Virtual server {fmt} address family cannot be determined, defaulting to IPv4"));
        }
        i += 1;
    }

    // validate_check_config
    let g_smtp_checker = b.global.smtp_alert_checker;
    let g_smtp = b.global.smtp_alert;
    let mut vi = 0;
    while vi < b.vss.len() {
        if b.vss[vi].rss.is_empty() {
            let f = fmt_vs(&b.vss[vi]);
            ck.err(format!("Virtual server {f} has no real servers - ignoring"));
            b.vss.remove(vi);
            continue;
        }
        let has_fwm = vs_has_fwmarks(&b.vss[vi], b);
        let ranges = vsg_ranges(&b.vss[vi], b);
        let is_group = b.vss[vi].vsgname.is_some();
        let is_fwmark = matches!(b.vss[vi].key, VirtualServerKey::Fwmark(_));
        let v = &mut b.vss[vi];
        if v.ha_suspend && has_fwm {
            ck.err(format!(
                "Virtual server {}: cannot use ha_suspend with fwmarks - clearing ha_suspend",
                fmt_vs(v)
            ));
            v.ha_suspend = false;
        }
        if (is_group && !ranges.is_empty()) || (!is_group && !is_fwmark) {
            if v.protocol.is_none() {
                ck.err(format!(
                    "Virtual server {}: no protocol set - defaulting to UDP",
                    fmt_vs(v)
                ));
                v.protocol = Some(Protocol::Udp);
            }
            if v.flags.ops && v.protocol != Some(Protocol::Udp) {
                ck.err(format!(
                    "Virtual server {}: one packet scheduling requires UDP - resetting",
                    fmt_vs(v)
                ));
                v.flags.ops = false;
            }
            if v.persistence_timeout == 0
                && !is_group
                && !is_fwmark
                && matches!(v.key, VirtualServerKey::Addr { port: 0, .. })
            {
                ck.err(format!(
                    "Virtual server {}: zero port only valid for persistent services - setting",
                    fmt_vs(v)
                ));
                v.persistence_timeout = 360;
            }
        }
        if v.persistence_timeout == 0 && is_group && ranges.iter().any(|r| r.2 == 0) {
            ck.err(format!(
                "Virtual server {}: zero port only valid for persistent services - setting",
                fmt_vs(v)
            ));
            v.persistence_timeout = 360;
        }
        let fwm_only = (is_group && ranges.is_empty() && has_fwm) || (!is_group && is_fwmark);
        if v.protocol.is_some() && fwm_only {
            ck.err(format!("Warning: Virtual server {}: protocol specified for fwmark - protocol will be ignored", fmt_vs(v)));
            v.protocol = None;
        }
        if v.sched.is_empty() {
            ck.err(format!(
                "Virtual server {}: no scheduler set, setting default 'wlc'",
                fmt_vs(v)
            ));
            v.sched = "wlc".to_string();
        }
        if v.smtp_alert.is_none() {
            v.smtp_alert = Some(g_smtp_checker.or(g_smtp).unwrap_or(false));
        }
        let mut weight_sum: u64 = 0;
        let mut ri = 0;
        while ri < v.rss.len() {
            let dup = v.rss[..ri]
                .iter()
                .any(|r| r.addr == v.rss[ri].addr && r.port == v.rss[ri].port);
            if dup {
                ck.err(format!(
                    "VS {}: real server {} is duplicated - removing second rs",
                    fmt_vs(v),
                    fmt_rs(&v.rss[ri], v)
                ));
                v.rss.remove(ri);
                continue;
            }
            if v.rss[ri].method.is_none() {
                if v.method.is_none() {
                    ck.err(format!(
                        "Virtual server {}: no forwarding method set, setting default NAT",
                        fmt_vs(v)
                    ));
                    v.method = Some(ForwardMethod::Nat);
                }
                v.rss[ri].method = v.method;
            }
            let (va, vinh, vret, vct, vdl, vwu, vdbr, vw) = (
                v.alpha,
                v.inhibit,
                v.retry,
                v.connect_timeout_us,
                v.delay_loop_us,
                v.warmup_us,
                v.delay_before_retry_us,
                v.weight,
            );
            let r = &mut v.rss[ri];
            r.alpha.get_or_insert(va);
            r.inhibit.get_or_insert(vinh);
            if r.retry.is_none() {
                r.retry = vret;
            }
            r.connect_timeout_us.get_or_insert(vct);
            r.delay_loop_us.get_or_insert(vdl);
            if r.warmup_us.is_none() {
                r.warmup_us = vwu;
            }
            if r.delay_before_retry_us.is_none() {
                r.delay_before_retry_us = vdbr;
            }
            r.weight.get_or_insert(vw);
            if r.smtp_alert.is_none() {
                r.smtp_alert = Some(g_smtp_checker.or(g_smtp).unwrap_or(true));
            }
            weight_sum += r.weight.unwrap_or(1) as u64;
            let (raddr, rport, rinh) = (r.addr, r.port, r.inhibit.unwrap_or(false));
            let rfmt = fmt_rs(&v.rss[ri], v);
            if let Some(s) = v.sorry.as_mut()
                && s.addr == raddr
                && s.port == rport
                && s.inhibit != rinh
            {
                s.inhibit = rinh;
                let msg = format!(
                    "Virtual server {}: real server {rfmt} matches sorry server, but inhibit setting differs, {}ing on sorry server",
                    fmt_vs(v),
                    if rinh { "sett" } else { "clear" }
                );
                ck.err(msg);
            }
            ri += 1;
        }
        if v.sorry.as_ref().is_some_and(|s| s.method.is_none()) {
            if v.method.is_none() {
                ck.err(format!(
                    "Virtual server {}: no forwarding method set, setting default NAT",
                    fmt_vs(v)
                ));
                v.method = Some(ForwardMethod::Nat);
            }
            let m = v.method;
            if let Some(s) = v.sorry.as_mut() {
                s.method = m;
            }
        }
        if v.quorum as u64 > weight_sum {
            let ws = weight_sum.min(u32::MAX as u64) as u32;
            ck.err(format!(
                "Warning - quorum {} for {} exceeds total weight of real servers {ws}, reducing quorum to {ws}",
                v.quorum,
                fmt_vs(v)
            ));
            v.quorum = ws;
        }
        if v.hysteresis >= v.quorum {
            let h = v.quorum.wrapping_sub(1);
            ck.err(format!(
                "Virtual server {}: hysteresis {} >= quorum {}; setting hysteresis to {h}",
                fmt_vs(v),
                v.hysteresis,
                v.quorum
            ));
            v.hysteresis = h;
        }
        let is_nat = |m: Option<ForwardMethod>| m == Some(ForwardMethod::Nat);
        if is_group {
            if has_fwm {
                for r in &v.rss {
                    if !is_nat(r.method) && r.port != 0 {
                        ck.err(format!(
                            "WARNING - fwmark virtual server {}, real server {} has port specified - port will be ignored",
                            fmt_vs(v),
                            fmt_rs(r, v)
                        ));
                    }
                }
                if v.sorry
                    .as_ref()
                    .is_some_and(|s| !is_nat(s.method) && s.port != 0)
                {
                    ck.err(format!("WARNING - fwmark virtual server {}, sorry server has port specified - port will be ignored", fmt_vs(v)));
                }
            }
            for &(first, last, port) in &ranges {
                for r in &v.rss {
                    if !is_nat(r.method) && r.port != 0 && r.port != port {
                        ck.err(format!(
                            "virtual server {}:[{}] and real server {} ports don't match",
                            fmt_vs(v),
                            fmt_vsge(first, last, port),
                            fmt_rs(r, v)
                        ));
                    }
                }
                if v.sorry
                    .as_ref()
                    .is_some_and(|s| !is_nat(s.method) && s.port != 0 && s.port != port)
                {
                    ck.err(format!("WARNING - virtual server {}, sorry server has port specified - port will be ignored", fmt_vs(v)));
                }
            }
        } else {
            let vport = match v.key {
                VirtualServerKey::Addr { port, .. } => port,
                _ => 0,
            };
            for ri in 0..v.rss.len() {
                let r = &v.rss[ri];
                if is_nat(r.method) {
                    if !is_fwmark && r.port == 0 {
                        v.rss[ri].port = vport;
                    }
                    continue;
                }
                if is_fwmark {
                    if r.port != 0 {
                        ck.err(format!(
                            "WARNING - fwmark virtual server {}, real server {} has port specified - clearing",
                            fmt_vs(v),
                            fmt_rs(r, v)
                        ));
                        v.rss[ri].port = 0;
                    }
                } else if r.port == 0 {
                    v.rss[ri].port = vport;
                } else if r.port != vport {
                    ck.err(format!(
                        "WARNING - virtual server {} and real server {} ports don't match - resetting",
                        fmt_vs(v),
                        fmt_rs(r, v)
                    ));
                    v.rss[ri].port = vport;
                }
            }
            let vf = fmt_vs(v);
            if let Some(s) = v.sorry.as_mut()
                && !is_nat(s.method)
            {
                if is_fwmark {
                    if s.port != 0 {
                        ck.err(format!("WARNING - virtual server {vf}, sorry server has port specified - clearing"));
                        s.port = 0;
                    }
                } else if s.port == 0 {
                    s.port = vport;
                } else if s.port != vport {
                    ck.err(format!("WARNING - virtual server {vf} and sorry server ports don't match - resetting"));
                    s.port = vport;
                }
            }
        }
        // Checker defaults come from the real server.
        for r in &mut v.rss {
            let (ra, rret, rct, rdl, rwu, rdbr) = (
                r.alpha.unwrap_or(false),
                r.retry,
                r.connect_timeout_us.unwrap_or(5 * TIMER_HZ),
                r.delay_loop_us.unwrap_or(60 * TIMER_HZ),
                r.warmup_us,
                r.delay_before_retry_us,
            );
            for c in &mut r.checkers {
                c.alpha.get_or_insert(ra);
                if c.retry.is_none() {
                    c.retry = Some(rret.unwrap_or(c.default_retry));
                }
                if let Some(co) = c.co.as_mut() {
                    co.connect_timeout_us.get_or_insert(rct);
                }
                let dl = *c.delay_loop_us.get_or_insert(rdl);
                if c.warmup_us.is_none() {
                    c.warmup_us = Some(rwu.unwrap_or(dl));
                }
                if c.delay_before_retry_us.is_none() {
                    c.delay_before_retry_us =
                        Some(rdbr.unwrap_or(if c.default_delay_before_retry_us != 0 {
                            c.default_delay_before_retry_us
                        } else {
                            dl
                        }));
                }
            }
        }
        vi += 1;
    }

    // check_check_script_security
    if b.vss.is_empty() {
        return;
    }
    let sec = b.global.enable_script_security;
    let mut flags = 0;
    for v in &mut b.vss {
        for r in &mut v.rss {
            r.checkers.retain(|c| {
                let Some(s) = &c.misc_script else { return true };
                let f = ck.flags(s, sec);
                flags |= f;
                !(f & (sc::INHIBIT | sc::NOTFOUND) != 0 || f & (sc::EXECUTABLE | sc::SYSTEM) == 0)
            });
        }
    }
    for v in &mut b.vss {
        flags |= ck.notify_secure(&mut v.quorum_up, sec);
        flags |= ck.notify_secure(&mut v.quorum_down, sec);
        for r in &mut v.rss {
            flags |= ck.notify_secure(&mut r.notify_up, sec);
            flags |= ck.notify_secure(&mut r.notify_down, sec);
        }
    }
    if !sec && flags & sc::ISSCRIPT != 0 {
        ck.report(Level::SecurityError, violation("check ", flags));
    }
}

/// The VRRP process after its parse: `vrrp_complete_init` as far as `-t` runs it. Returns
/// false where keepalived stops checking.
pub(crate) fn complete_vrrp(b: &mut Build, d: &mut Diagnostics, env: &dyn Env) -> bool {
    let mut ck = Ck { d, env };
    if b.nonexistent_interface {
        ck.report(
            Level::BadInterface,
            "Non-existent interface specified in configuration",
        );
        return false;
    }
    if !b.lower_prio_rep_set {
        b.global.vrrp_garp_lower_prio_repeat = b.global.vrrp_garp_master_repeat;
    }
    if !b.lower_prio_delay_set {
        b.global.vrrp_garp_lower_prio_delay = b.global.vrrp_garp_master_delay;
    }
    vrrp_script_security(b, &mut ck);
    for i in &b.insts {
        if i.vrid == 0 {
            ck.err(format!("({}) the virtual router id must be set", i.name));
            return false;
        }
        if i.ifp.is_none() {
            ck.err(format!("({}) Unknown interface!", i.name));
            return false;
        }
    }
    // Sync groups.
    let mut gi = 0;
    while gi < b.sgroups.len() {
        let Some(names) = b.sgroups[gi].iname.take() else {
            ck.err(format!(
                "Sync group {} has no virtual router(s). removing",
                b.sgroups[gi].name
            ));
            b.sgroups.remove(gi);
            continue;
        };
        let gname = b.sgroups[gi].name.clone();
        let mut state: Option<bool> = None; // Some(true) = MASTER, Some(false) = BACKUP
        let mut members = Vec::new();
        for n in names {
            let Some(ii) = b.insts.iter().position(|x| x.name == n) else {
                ck.err(format!(
                    "Virtual router {n} specified in sync group {gname} doesn't exist - ignoring"
                ));
                continue;
            };
            if b.insts[ii].sync.is_some() {
                ck.err(format!(
                    "Virtual router {n} cannot exist in more than one sync group; ignoring {gname}"
                ));
                continue;
            }
            b.insts[ii].sync = Some(gi);
            members.push(ii);
            let inst = &b.insts[ii];
            if state == Some(true) && inst.wantstate == Some(InitialState::Backup) {
                ck.err(format!("Sync group {gname} has some member(s) as address owner and some not as address owner. This won't work."));
            }
            if state != Some(false) {
                state =
                    Some(inst.wantstate == Some(InitialState::Master) && inst.base_priority == 255);
            }
        }
        if members.is_empty() {
            ck.err(format!("Sync group {gname}, no matching virtual router found in group declaration - removing"));
            b.sgroups.remove(gi);
            for i in &mut b.insts {
                if let Some(s) = i.sync {
                    if s == gi {
                        i.sync = None;
                    } else if s > gi {
                        i.sync = Some(s - 1);
                    }
                }
            }
            continue;
        }
        if members.len() == 1 {
            ck.err(format!("Sync group {gname} has only 1 virtual router(s) - this probably isn't what you want"));
        }
        b.sgroups[gi].members = members;
        gi += 1;
    }
    let g = b.global.clone();
    let tracking_weight: Vec<bool> = b.sgroups.iter().map(|s| s.tracking_weight).collect();
    for i in 0..b.insts.len() {
        let sync_tw = b.insts[i].sync.map(|s| tracking_weight[s]);
        if !complete_instance(&mut b.insts[i], &g, sync_tw, &mut ck) {
            return false;
        }
    }
    if vrid_conflicts(&b.insts, &g, &mut ck) {
        return false;
    }
    // sync_group_tracking_init
    for sg in &mut b.sgroups {
        if sg.members.is_empty() {
            continue;
        }
        let owner = sg.members.iter().any(|&m| b.insts[m].base_priority == 255);
        for t in &mut sg.track_scripts {
            if owner && t.weight != 0 {
                ck.err(format!("({}) Cannot have weighted track script '{}' with member having priority 255 - clearing weight", sg.name, t.name));
                t.weight = 0;
            }
        }
        for (t, _) in &mut sg.track_ifs {
            if owner && t.weight != 0 {
                ck.err(format!("({}) Cannot have weighted track interface '{}' with member having priority 255 - clearing weight", sg.name, t.name));
                t.weight = 0;
            }
        }
        if sg.smtp_alert.is_none() {
            sg.smtp_alert = Some(g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false));
        }
    }
    true
}

fn vrrp_script_security(b: &mut Build, ck: &mut Ck<'_>) {
    if b.insts.is_empty() {
        return;
    }
    let sec = b.global.enable_script_security;
    let mut flags = 0;
    for s in &mut b.scripts {
        if s.insecure {
            continue;
        }
        let Some(x) = &s.script else { continue };
        let f = ck.flags(x, sec);
        flags |= f;
        if f & sc::INHIBIT != 0 {
            ck.err(format!("Disabling track script {} due to insecure", s.name));
            s.insecure = true;
        } else if f & sc::NOTFOUND != 0 {
            ck.err(format!(
                "Disabling track script {} since not found/accessible",
                s.name
            ));
            s.insecure = true;
        } else if f & (sc::EXECUTABLE | sc::SYSTEM) == 0 {
            s.insecure = true;
        }
    }
    let insecure: Vec<String> = b
        .scripts
        .iter()
        .filter(|s| s.insecure)
        .map(|s| s.name.clone())
        .collect();
    for i in &mut b.insts {
        for s in [
            &mut i.notify_backup,
            &mut i.notify_master,
            &mut i.notify_fault,
            &mut i.notify_stop,
            &mut i.notify_deleted,
            &mut i.notify,
            &mut i.notify_master_rx_lower_pri,
        ] {
            flags |= ck.notify_secure(s, sec);
        }
        i.track_scripts.retain(|t| !insecure.contains(&t.name));
    }
    for g in &mut b.sgroups {
        for s in [
            &mut g.notify_backup,
            &mut g.notify_master,
            &mut g.notify_fault,
            &mut g.notify_stop,
            &mut g.notify,
        ] {
            flags |= ck.notify_secure(s, sec);
        }
        g.track_scripts.retain(|t| !insecure.contains(&t.name));
    }
    if !sec && flags & sc::ISSCRIPT != 0 {
        ck.report(Level::SecurityError, violation("", flags));
    }
    b.scripts.retain(|s| !s.insecure);
}

fn complete_instance(
    v: &mut InstBuild,
    g: &GlobalDefs,
    sync_tracking_weight: Option<bool>,
    ck: &mut Ck<'_>,
) -> bool {
    let n = v.name.clone();
    let strict = v.strict_mode.unwrap_or(g.vrrp_strict);
    v.strict_mode = Some(strict);
    if v.family == Some(Family::Inet6) {
        if v.version == 2 && strict {
            ck.err(format!(
                "({n}) cannot use IPv6 with VRRP version 2; setting version 3"
            ));
            v.version = 3;
        } else if v.version == 0 {
            v.version = 3;
        }
    }
    let family = *v.family.get_or_insert(Family::Inet);
    if v.version == 0 {
        v.version = if family == Family::Inet6 {
            3
        } else {
            g.vrrp_version
        };
    }
    if family == Family::Inet && v.ttl.is_none() {
        v.ttl = Some(255);
    }
    if v.vips.is_empty() {
        if v.version == 3 || strict {
            ck.err(format!("({n}) No VIP specified; at least one is required"));
            return false;
        }
        ck.err(format!("({n}) No VIP specified; at least one is sensible"));
    }
    if v.base_priority == 0 {
        v.base_priority = if v.wantstate == Some(InitialState::Master) {
            255
        } else {
            100
        };
    }
    let owner = v.base_priority == 255;
    match v.wantstate {
        None => {
            v.wantstate = Some(if owner {
                InitialState::Master
            } else {
                InitialState::Backup
            })
        }
        Some(w) => {
            if strict && (w == InitialState::Master) != owner {
                ck.err(format!("({n}) State MASTER must match being address owner"));
                v.wantstate = Some(if owner {
                    InitialState::Master
                } else {
                    InitialState::Backup
                });
            }
        }
    }
    if strict && v.auth_type != AuthKind::None {
        ck.err(format!(
            "({n}) Strict mode does not support authentication. Ignoring."
        ));
        v.auth_type = AuthKind::None;
    } else if v.version == 3 && v.auth_type != AuthKind::None {
        ck.err(format!(
            "({n}) VRRP version 3 does not support authentication. Ignoring."
        ));
        v.auth_type = AuthKind::None;
    } else if v.auth_type != AuthKind::None && v.auth_data.first().is_none_or(|&c| c == 0) {
        ck.err(format!(
            "({n}) Authentication specified but no password given. Ignoring"
        ));
        v.auth_type = AuthKind::None;
    } else if family == Family::Inet6 && v.auth_type == AuthKind::Ah {
        ck.err(format!(
            "({n}) Cannot use AH authentication with IPv6. ignoring"
        ));
        v.auth_type = AuthKind::None;
    } else if v.auth_type == AuthKind::Ah && v.wantstate == Some(InitialState::Master) && !owner {
        ck.err(format!(
            "({n}) Initial state master is incompatible with AH authentication - clearing"
        ));
        v.wantstate = Some(InitialState::Backup);
    }
    if v.unicast_configured {
        if !v.peers.is_empty() {
            v.unicast = true;
        } else if v.unicast_fault_no_peer {
            ck.report(
                Level::Info,
                format!("({n}) Cannot use unicast without any peers - going to fault state"),
            );
        } else {
            ck.report(
                Level::Deprecated,
                format!("({n}) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration."),
            );
        }
    }
    let info = v.ifp.as_ref().and_then(|r| r.info.clone());
    if v.use_vmac.is_some() && info.as_ref().is_some_and(|i| !i.ethernet) {
        ck.err(format!(
            "({n}): vmacs are only supported on Ethernet type interfaces"
        ));
        v.use_vmac = None;
    }
    if let Some(i) = &info
        && !i.multicast
        && !v.unicast
    {
        let ifn = v.ifp.as_ref().map(|r| r.name.clone()).unwrap_or_default();
        ck.err(format!(
            "({n}) interface {ifn} does not support multicast, specify unicast peers - disabling"
        ));
    }
    if family == Family::Inet6
        && !v.unicast
        && let Some(first) = v.vips.first()
        && !matches!(first.addr, IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80)
    {
        if strict {
            ck.err(format!(
                "({n}) the first IPv6 VIP address must be link local"
            ));
        } else {
            ck.report(
                Level::Info,
                format!("({n}) the first IPv6 VIP address should be link local"),
            );
        }
    }
    let mtu = info.as_ref().map(|i| i.mtu as usize).unwrap_or(1500);
    let max_addr = if family == Family::Inet {
        let mut hdr = 14 + 20 + 8;
        if v.version == 2 {
            hdr += 8;
            if v.auth_type == AuthKind::Ah {
                hdr += 24;
            }
        }
        mtu.saturating_sub(hdr) / 4
    } else {
        mtu.saturating_sub(14 + 40 + 8) / 16
    }
    .min(255);
    if !v.vips.is_empty() && v.vips.len() > max_addr {
        ck.err(format!(
            "({n}) Number of VIPs ({}) exceeds maximum/space available in packet (max {max_addr} addresses) - excess moved to eVIPs",
            v.vips.len()
        ));
        let extra = v.vips.split_off(max_addr);
        v.evips.extend(extra);
    }
    if owner && v.nopreempt {
        ck.err(format!(
            "({n}) nopreempt is incompatible with priority 255. resetting nopreempt"
        ));
        v.nopreempt = false;
    }
    if v.wantstate == Some(InitialState::Master) {
        if v.nopreempt {
            ck.err(format!(
                "({n}) Warning - nopreempt will not work with initial state MASTER - clearing"
            ));
            v.nopreempt = false;
        }
        if v.preempt_delay_us != 0 {
            ck.err(format!(
                "({n}) Warning - preempt delay will not work with initial state MASTER - clearing"
            ));
            v.preempt_delay_us = 0;
        }
    }
    if v.preempt_delay_us != 0 {
        if strict {
            ck.err(format!(
                "({n}) preempt_delay is incompatible with strict mode - resetting"
            ));
            v.preempt_delay_us = 0;
        }
        if v.nopreempt {
            ck.err(format!(
                "({n}) preempt_delay is incompatible with nopreempt mode - resetting"
            ));
            v.preempt_delay_us = 0;
        }
    }
    if v.down_timer_adverts != 3 && strict {
        ck.err(format!(
            "({n}) down_timer_adverts is incompatible with strict mode - resetting"
        ));
        v.down_timer_adverts = 3;
    }
    let mut accept = v.accept.unwrap_or(if owner { true } else { !strict });
    if accept && !owner && strict && v.version == 2 {
        ck.err(format!("({n}) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"));
        accept = false;
    }
    v.accept = Some(accept);
    if !v.unicast && v.mcast_daddr.is_none() {
        v.mcast_daddr = Some(if family == Family::Inet {
            IpAddr::V4(g.vrrp_mcast_group4)
        } else {
            IpAddr::V6(g.vrrp_mcast_group6)
        });
    } else if v.unicast && v.mcast_daddr.is_some() {
        ck.err(format!(
            "({n}) multicast destination specified with unicast - ignoring"
        ));
        v.mcast_daddr = None;
    }
    match v.garp_lower_prio_rep {
        None => {
            v.garp_lower_prio_rep = Some(if strict {
                0
            } else {
                g.vrrp_garp_lower_prio_repeat
            })
        }
        Some(r) if strict && r != 0 => {
            ck.err(format!(
                "({n}) Strict mode requires no repeat garps. resetting"
            ));
            v.garp_lower_prio_rep = Some(0);
        }
        _ => {}
    }
    match v.garp_lower_prio_delay_us {
        None => {
            v.garp_lower_prio_delay_us = Some(if strict {
                0
            } else {
                g.vrrp_garp_lower_prio_delay.as_micros() as u64
            })
        }
        Some(r) if strict && r != 0 => {
            ck.err(format!(
                "({n}) Strict mode requires no repeat garp delay. resetting"
            ));
            v.garp_lower_prio_delay_us = Some(0);
        }
        _ => {}
    }
    match v.lower_prio_no_advert {
        None => v.lower_prio_no_advert = Some(strict || g.vrrp_lower_prio_no_advert),
        Some(false) if strict => {
            ck.err(format!(
                "({n}) Strict mode requires no lower priority advert. resetting"
            ));
            v.lower_prio_no_advert = Some(true);
        }
        _ => {}
    }
    match v.higher_prio_send_advert {
        None => v.higher_prio_send_advert = Some(!strict && g.vrrp_higher_prio_send_advert),
        Some(true) if strict => {
            ck.err(format!(
                "({n}) strict mode requires higher_prio_send_advert to be clear. resetting"
            ));
            v.higher_prio_send_advert = Some(false);
        }
        _ => {}
    }
    if v.smtp_alert.is_none() {
        v.smtp_alert = Some(g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false));
    }
    if v.adver_int_us == 0 {
        v.adver_int_us = TIMER_HZ;
    }
    let secs = v.adver_int_us as f64 / TIMER_HZ as f64;
    if v.version == 2 {
        if v.adver_int_us >= 256 * TIMER_HZ {
            ck.err(format!("({n}) VRRPv2 advertisement interval {secs:.2}s is out of range. Must be less than 256s. Setting to 255s"));
            v.adver_int_us = 255 * TIMER_HZ;
        } else if !v.adver_int_us.is_multiple_of(TIMER_HZ) {
            ck.err(format!(
                "({n}) VRRPv2 advertisement interval {secs:.6}s must be an integer. rounding"
            ));
            v.adver_int_us += TIMER_HZ / 2;
            v.adver_int_us -= v.adver_int_us % TIMER_HZ;
            if v.adver_int_us == 0 {
                v.adver_int_us = TIMER_HZ;
            }
        }
    } else {
        let centi = TIMER_HZ / 100;
        if v.adver_int_us >= 4096 * centi {
            ck.err(format!("({n}) VRRPv3 advertisement interval {secs:.2}s is out of range. Must be less than 40.96s. Setting to 40.95s"));
            v.adver_int_us = 4095 * centi;
        } else if !v.adver_int_us.is_multiple_of(centi) {
            ck.err(format!(
                "({n}) VRRPv3 advertisement interval {secs:.6}s must be in units of 10ms - rounding"
            ));
            v.adver_int_us += centi / 2;
            v.adver_int_us -= v.adver_int_us % centi;
            if v.adver_int_us == 0 {
                v.adver_int_us = centi;
            }
        }
    }
    if v.promote_secondaries && v.use_vmac.is_some() {
        ck.err(format!(
            "({n}) promote_secondaries is automatically set for vmacs - ignoring"
        ));
        v.promote_secondaries = false;
    }
    if let Some(own) = v.ifp.as_ref().map(|r| r.name.clone()) {
        let before = v.track_ifs.len();
        v.track_ifs.retain(|(t, _)| t.name != own);
        if v.track_ifs.len() != before {
            ck.err(format!(
                "({n}) Ignoring track_interface {own} since own interface"
            ));
        }
    }
    if v.vips.is_empty() {
        if v.version == 3 || family == Family::Inet6 || strict {
            ck.err(format!("({n}) No VIP specified; at least one is required"));
            return false;
        }
        ck.report(
            Level::Warning,
            format!("({n}) No VIP specified; at least one is sensible"),
        );
    }
    let sync_no_tw = sync_tracking_weight == Some(false);
    if sync_no_tw || owner {
        let why = if sync_no_tw {
            "SYNC group"
        } else {
            "address owner"
        };
        let mut kept = Vec::new();
        for (t, r) in std::mem::take(&mut v.track_ifs) {
            if t.weight != 0 {
                ck.err(format!(
                    "({n}) ignoring {} tracked interface {}due to {why}",
                    t.name,
                    if sync_no_tw { "weight " } else { "" }
                ));
                if sync_no_tw {
                    kept.push((TrackedInterface { weight: 0, ..t }, r));
                }
            } else {
                kept.push((t, r));
            }
        }
        v.track_ifs = kept;
        let why_s = if sync_no_tw {
            "SYNC group"
        } else {
            "address_owner"
        };
        v.track_scripts.retain(|t| {
            if t.weight != 0 {
                ck.err(format!(
                    "({n}) ignoring tracked script {} with weights due to {why_s}",
                    t.name
                ));
                false
            } else {
                true
            }
        });
    }
    true
}

fn vrid_conflicts(insts: &[InstBuild], g: &GlobalDefs, ck: &mut Ck<'_>) -> bool {
    let mut had_error = false;
    for (a, v) in insts.iter().enumerate() {
        for w in &insts[a + 1..] {
            if v.family != w.family || v.vrid != w.vrid || v.unicast != w.unicast {
                continue;
            }
            if v.unicast {
                if let (Some(x), Some(y)) = (&v.ifp, &w.ifp)
                    && x.name != y.name
                {
                    continue;
                }
                if !v.saddr_from_config || !w.saddr_from_config || v.saddr != w.saddr {
                    continue;
                }
                if !v
                    .peers
                    .iter()
                    .any(|p| w.peers.iter().any(|q| q.addr == p.addr))
                {
                    continue;
                }
                ck.err(format!(
                    "({}) duplicate VRID conflict with {} VRID {}",
                    v.name, w.name, v.vrid
                ));
                had_error = true;
                continue;
            }
            let (Some(x), Some(y)) = (&v.ifp, &w.ifp) else {
                continue;
            };
            if x.name != y.name {
                continue;
            }
            let default = |i: &InstBuild| match i.family {
                Some(Family::Inet6) => IpAddr::V6(g.vrrp_mcast_group6),
                _ => IpAddr::V4(g.vrrp_mcast_group4),
            };
            if v.mcast_daddr.unwrap_or_else(|| default(v))
                != w.mcast_daddr.unwrap_or_else(|| default(w))
            {
                continue;
            }
            if ifindex(x) != 0 {
                let fam = if v.family == Some(Family::Inet6) {
                    6
                } else {
                    4
                };
                ck.err(format!(
                    "{} and {} both use VRID {} with IPv{fam} on interface {}",
                    v.name, w.name, v.vrid, x.name
                ));
                had_error = true;
            }
        }
    }
    had_error
}

fn method(m: Option<ForwardMethod>) -> ForwardMethod {
    m.unwrap_or(ForwardMethod::Nat)
}

fn checker_model(c: ChkBuild, rs: &RsBuild) -> Checker {
    let co = c.co.clone();
    let dl = c.delay_loop_us.unwrap_or(60 * TIMER_HZ);
    Checker {
        kind: c.kind,
        connect_ip: co.as_ref().map(|x| x.dst),
        connect_port: co.as_ref().map(|x| x.dst_port),
        bindto: co.as_ref().and_then(|x| x.bindto),
        bind_port: co.as_ref().and_then(|x| x.bind_port),
        bind_if: co.as_ref().and_then(|x| x.bind_if.clone()),
        fwmark: co.as_ref().and_then(|x| x.fwmark),
        connect_timeout: us(co
            .as_ref()
            .and_then(|x| x.connect_timeout_us)
            .or(rs.connect_timeout_us)
            .unwrap_or(5 * TIMER_HZ)),
        retry: c.retry.unwrap_or(c.default_retry),
        delay_before_retry: us(c
            .delay_before_retry_us
            .unwrap_or(c.default_delay_before_retry_us)),
        warmup: us(c.warmup_us.unwrap_or(dl)),
        delay_loop: us(dl),
        alpha: c.alpha.unwrap_or(false),
        log_all_failures: c.log_all_failures,
    }
}

fn auth_model(v: &InstBuild) -> Option<Authentication> {
    match v.auth_type {
        AuthKind::None => None,
        AuthKind::Pass => Some(Authentication::Pass(v.auth_data.clone())),
        AuthKind::Ah => Some(Authentication::Ah(v.auth_data.clone())),
    }
}

fn sc(s: Option<ScriptB>) -> Option<Script> {
    s.map(|x| x.script)
}

/// Turns the completed build into the model.
pub(crate) fn into_model(b: Build) -> Config {
    let mut used: Vec<String> = Vec::new();
    for i in &b.insts {
        used.extend(i.track_scripts.iter().map(|t| t.name.clone()));
    }
    for g in &b.sgroups {
        used.extend(g.track_scripts.iter().map(|t| t.name.clone()));
    }
    let sg_names: Vec<String> = b.sgroups.iter().map(|g| g.name.clone()).collect();
    let vrrp_instances = b
        .insts
        .iter()
        .map(|v| VrrpInstance {
            name: v.name.clone(),
            state: v.wantstate.unwrap_or(InitialState::Backup),
            interface: v.ifp.as_ref().map(|r| r.name.clone()),
            virtual_router_id: v.vrid,
            priority: if v.base_priority == 0 {
                100
            } else {
                v.base_priority
            },
            advert_int: us(if v.adver_int_us == 0 {
                TIMER_HZ
            } else {
                v.adver_int_us
            }),
            version: if v.version == 0 {
                b.global.vrrp_version
            } else {
                v.version
            },
            family: v.family.unwrap_or_default(),
            native_ipv6: v.native_ipv6,
            nopreempt: v.nopreempt,
            preempt_delay: us(v.preempt_delay_us),
            authentication: auth_model(v),
            virtual_ipaddress: v.vips.clone(),
            virtual_ipaddress_excluded: v.evips.clone(),
            unicast_src_ip: v.saddr,
            unicast_peers: if v.unicast || v.unicast_configured {
                v.peers.clone()
            } else {
                Vec::new()
            },
            unicast_ttl: v.ttl,
            mcast_dst_ip: v.mcast_daddr,
            track_interfaces: v.track_ifs.iter().map(|(t, _)| t.clone()).collect(),
            track_scripts: v.track_scripts.clone(),
            dont_track_primary: v.dont_track_primary,
            notify_master: sc(v.notify_master.clone()),
            notify_backup: sc(v.notify_backup.clone()),
            notify_fault: sc(v.notify_fault.clone()),
            notify_stop: sc(v.notify_stop.clone()),
            notify_deleted: sc(v.notify_deleted.clone()),
            notify_master_rx_lower_pri: sc(v.notify_master_rx_lower_pri.clone()),
            notify: sc(v.notify.clone()),
            garp_master_delay: us(v.garp_delay_us),
            garp_master_repeat: v.garp_rep,
            garp_master_refresh: Duration::from_secs(v.garp_refresh_s),
            garp_master_refresh_repeat: v.garp_refresh_rep,
            garp_lower_prio_delay: us(v
                .garp_lower_prio_delay_us
                .unwrap_or(b.global.vrrp_garp_lower_prio_delay.as_micros() as u64)),
            garp_lower_prio_repeat: v
                .garp_lower_prio_rep
                .unwrap_or(b.global.vrrp_garp_lower_prio_repeat),
            down_timer_adverts: v.down_timer_adverts,
            accept: v.accept.unwrap_or(true),
            strict_mode: v.strict_mode.unwrap_or(b.global.vrrp_strict),
            skip_check_adv_addr: v.skip_check_adv_addr,
            lower_prio_no_advert: v
                .lower_prio_no_advert
                .unwrap_or(b.global.vrrp_lower_prio_no_advert),
            higher_prio_send_advert: v
                .higher_prio_send_advert
                .unwrap_or(b.global.vrrp_higher_prio_send_advert),
            promote_secondaries: v.promote_secondaries,
            smtp_alert: v.smtp_alert.unwrap_or(false),
            use_vmac: v.use_vmac.clone(),
            virtual_routes: v.vroutes.clone(),
            virtual_rules: v.vrules.clone(),
            sync_group: v.sync.and_then(|s| sg_names.get(s).cloned()),
        })
        .collect();
    let vrrp_sync_groups = b
        .sgroups
        .iter()
        .map(|g| VrrpSyncGroup {
            name: g.name.clone(),
            members: g
                .members
                .iter()
                .filter_map(|&m| b.insts.get(m).map(|i| i.name.clone()))
                .collect(),
            track_interfaces: g.track_ifs.iter().map(|(t, _)| t.clone()).collect(),
            track_scripts: g.track_scripts.clone(),
            notify_master: sc(g.notify_master.clone()),
            notify_backup: sc(g.notify_backup.clone()),
            notify_fault: sc(g.notify_fault.clone()),
            notify_stop: sc(g.notify_stop.clone()),
            notify: sc(g.notify.clone()),
            smtp_alert: g.smtp_alert.unwrap_or(false),
            sync_group_tracking_weight: g.tracking_weight,
        })
        .collect();
    let vrrp_scripts = b
        .scripts
        .iter()
        .filter(|s| used.contains(&s.name))
        .map(|s| VrrpScript {
            name: s.name.clone(),
            script: s
                .script
                .as_ref()
                .map(|x| x.script.clone())
                .unwrap_or_default(),
            interval: us(s.interval_us),
            timeout: us(s.timeout_us),
            weight: s.weight,
            weight_reverse: s.weight_reverse,
            rise: s.rise,
            fall: s.fall,
            init_fail: s.init_fail,
        })
        .collect();
    let virtual_server_groups = b
        .vsgs
        .iter()
        .map(|g| VirtualServerGroup {
            name: g.name.clone(),
            entries: g.entries.clone(),
        })
        .collect();
    let virtual_servers = b
        .vss
        .into_iter()
        .map(|v| {
            let real_servers = v
                .rss
                .iter()
                .map(|r| RealServer {
                    addr: r.addr,
                    port: r.port,
                    weight: r.weight.unwrap_or(v.weight),
                    lb_kind: method(r.method.or(v.method)),
                    inhibit_on_failure: r.inhibit.unwrap_or(v.inhibit),
                    notify_up: sc(r.notify_up.clone()),
                    notify_down: sc(r.notify_down.clone()),
                    uthreshold: r.uthreshold,
                    lthreshold: r.lthreshold,
                    alpha: r.alpha.unwrap_or(v.alpha),
                    smtp_alert: r.smtp_alert.unwrap_or(true),
                    virtualhost: r.virtualhost.clone(),
                    checkers: r
                        .checkers
                        .iter()
                        .cloned()
                        .map(|c| checker_model(c, r))
                        .collect(),
                })
                .collect();
            VirtualServer {
                family: v.af.unwrap_or_default(),
                protocol: v.protocol,
                delay_loop: us(v.delay_loop_us),
                lb_algo: if v.sched.is_empty() {
                    "wlc".to_string()
                } else {
                    v.sched.clone()
                },
                sched_flags: v.flags,
                lb_kind: method(v.method),
                persistence_timeout: (v.persistence_timeout != 0).then_some(v.persistence_timeout),
                persistence_granularity: v.granularity,
                persistence_engine: v.persistence_engine.clone(),
                sorry_server: v.sorry.as_ref().map(|s| SorryServer {
                    addr: s.addr,
                    port: s.port,
                    inhibit: s.inhibit,
                    method: method(s.method.or(v.method)),
                }),
                quorum: v.quorum,
                hysteresis: v.hysteresis,
                quorum_up: sc(v.quorum_up.clone()),
                quorum_down: sc(v.quorum_down.clone()),
                alpha: v.alpha,
                omega: v.omega,
                inhibit_on_failure: v.inhibit,
                ha_suspend: v.ha_suspend,
                virtualhost: v.virtualhost.clone(),
                connect_timeout: us(v.connect_timeout_us),
                smtp_alert: v.smtp_alert.unwrap_or(false),
                real_servers,
                key: v.key,
            }
        })
        .collect();
    Config {
        global: b.global,
        vrrp_scripts,
        vrrp_instances,
        vrrp_sync_groups,
        static_ipaddress: b.static_addresses,
        static_routes: b.static_routes,
        static_rules: b.static_rules,
        virtual_server_groups,
        track_files: b.track_files,
        virtual_servers,
    }
}
