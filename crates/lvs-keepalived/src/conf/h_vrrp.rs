//! Handlers of the VRRP process (keepalived/vrrp/vrrp_parser.c, vrrp_data.c, vrrp_track.c,
//! vrrp_ipaddress.c, and a reduced vrrp_iproute.c / vrrp_iprule.c).

use std::net::{IpAddr, Ipv4Addr};

use super::diag::Level;
use super::keywords::H;
use super::lexer;
use super::model::*;
use super::num::{self, Msgs, TIMER_HZ};
use super::parser::{AuthKind, IfRef, InstBuild, Parser, R, ScriptB, ScriptBuild, SgBuild, Vb};

const VRRP_PRIO_OWNER: u32 = 255;
const VRRP_PRIO_DFL: u32 = 100;
const IFNAMSIZ: usize = 16;

fn new_instance(name: &str, g: &GlobalDefs) -> InstBuild {
    InstBuild {
        name: name.to_string(),
        wantstate: None,
        base_priority: 0,
        ifp: None,
        vrid: 0,
        family: None,
        version: 0,
        adver_int_us: 0,
        nopreempt: false,
        preempt_delay_us: 0,
        auth_type: AuthKind::None,
        auth_data: Vec::new(),
        vips: Vec::new(),
        evips: Vec::new(),
        saddr: None,
        saddr_from_config: false,
        peers: Vec::new(),
        unicast_configured: false,
        unicast_fault_no_peer: false,
        unicast: false,
        ttl: None,
        mcast_daddr: None,
        track_ifs: Vec::new(),
        track_scripts: Vec::new(),
        dont_track_primary: false,
        notify_master: None,
        notify_backup: None,
        notify_fault: None,
        notify_stop: None,
        notify_deleted: None,
        notify_deleted_set: false,
        notify: None,
        notify_master_rx_lower_pri: None,
        garp_delay_us: g.vrrp_garp_master_delay.as_micros() as u64,
        garp_rep: g.vrrp_garp_master_repeat,
        garp_refresh_s: g.vrrp_garp_master_refresh.as_secs(),
        garp_refresh_rep: g.vrrp_garp_master_refresh_repeat,
        garp_lower_prio_delay_us: None,
        garp_lower_prio_rep: None,
        down_timer_adverts: g.vrrp_down_timer_adverts,
        accept: None,
        strict_mode: None,
        skip_check_adv_addr: g.vrrp_skip_check_adv_addr,
        lower_prio_no_advert: None,
        higher_prio_send_advert: None,
        smtp_alert: None,
        promote_secondaries: false,
        use_vmac: None,
        vroutes: Vec::new(),
        vrules: Vec::new(),
        native_ipv6: false,
        vrf: false,
        sync: None,
    }
}

/// Scope names of iproute2's rt_scopes defaults.
fn scope_value(s: &str) -> Option<u8> {
    match s {
        "global" => Some(0),
        "nowhere" => Some(255),
        "host" => Some(254),
        "link" => Some(253),
        "site" => Some(200),
        _ => {
            let v: u32 = if let Some(h) = s.strip_prefix("0x") {
                u32::from_str_radix(h, 16).ok()?
            } else {
                s.parse().ok()?
            };
            (v <= 255).then_some(v as u8)
        }
    }
}

macro_rules! inst {
    ($p:expr) => {
        match $p.b.insts.last_mut() {
            Some(i) => i,
            None => return Ok(()),
        }
    };
}

macro_rules! sgroup {
    ($p:expr) => {
        match $p.b.sgroups.last_mut() {
            Some(g) => g,
            None => return Ok(()),
        }
    };
}

impl Parser<'_> {
    fn inst_name(&self) -> String {
        self.b
            .insts
            .last()
            .map(|i| i.name.clone())
            .unwrap_or_default()
    }

    fn sg_name(&self) -> String {
        self.b
            .sgroups
            .last()
            .map(|i| i.name.clone())
            .unwrap_or_default()
    }

    pub(crate) fn vrrp_handler(&mut self, h: H, w: &[String]) -> R {
        match h {
            H::TrackGroup => {
                if w.len() != 2 {
                    self.err("track_group must have a name - skipping");
                    self.skip_block(true);
                } else if self.b.track_groups.contains(&w[1]) {
                    self.err(format!("track_group {} already defined", w[1]));
                    self.skip_block(true);
                } else {
                    self.b.track_groups.push(w[1].clone());
                }
            }
            H::StaticAddresses => self.value_block(w, Vb::StaticAddr)?,
            H::StaticRoutes => self.value_block(w, Vb::StaticRoute)?,
            H::StaticRules => self.value_block(w, Vb::StaticRule)?,
            H::SyncGroup => {
                if w.len() != 2 {
                    self.err("vrrp_sync_group must have a name - skipping");
                    self.skip_block(true);
                } else if self.b.sgroups.iter().any(|g| g.name == w[1]) {
                    self.err(format!("vrrp sync group {} already defined", w[1]));
                    self.skip_block(true);
                } else {
                    self.b.sgroups.push(SgBuild {
                        name: w[1].clone(),
                        iname: None,
                        members: Vec::new(),
                        track_ifs: Vec::new(),
                        track_scripts: Vec::new(),
                        notify_master: None,
                        notify_backup: None,
                        notify_fault: None,
                        notify_stop: None,
                        notify: None,
                        smtp_alert: None,
                        tracking_weight: false,
                    });
                }
            }
            H::SgGroup => {
                if sgroup!(self).iname.is_some() {
                    let n = self.sg_name();
                    self.err(format!("Group list already specified for sync group {n}"));
                    self.skip_block(true);
                    return Ok(());
                }
                let v = self.read_value_block(w)?;
                if v.is_none() {
                    let n = self.sg_name();
                    self.err(format!("Warning - sync group {n} has empty group block"));
                }
                sgroup!(self).iname = v;
            }
            H::SgTrackInterface => self.value_block(w, Vb::SgTrackIf)?,
            H::SgTrackScript => self.value_block(w, Vb::SgTrackScript)?,
            H::SgNotifyBackup
            | H::SgNotifyMaster
            | H::SgNotifyFault
            | H::SgNotifyStop
            | H::SgNotify => {
                let which = match h {
                    H::SgNotifyBackup => "notify_backup",
                    H::SgNotifyMaster => "notify_master",
                    H::SgNotifyFault => "notify_fault",
                    H::SgNotifyStop => "notify_stop",
                    _ => "notify",
                };
                let g = sgroup!(self);
                let exists = match h {
                    H::SgNotifyBackup => g.notify_backup.is_some(),
                    H::SgNotifyMaster => g.notify_master.is_some(),
                    H::SgNotifyFault => g.notify_fault.is_some(),
                    H::SgNotifyStop => g.notify_stop.is_some(),
                    _ => g.notify.is_some(),
                };
                if exists {
                    let a = self.arg(w, 1)?.to_string();
                    let n = self.sg_name();
                    self.err(format!(
                        "vrrp group {n}: {which} script already specified - ignoring {a}"
                    ));
                    return Ok(());
                }
                let s = self.notify_script("notify")?;
                let g = sgroup!(self);
                match h {
                    H::SgNotifyBackup => g.notify_backup = s,
                    H::SgNotifyMaster => g.notify_master = s,
                    H::SgNotifyFault => g.notify_fault = s,
                    H::SgNotifyStop => g.notify_stop = s,
                    _ => g.notify = s,
                }
            }
            H::SgSmtpAlert => {
                if let Some(v) = self.opt_bool(w, |s| {
                    format!("Invalid vrrp_group smtp_alert parameter {s}")
                })? {
                    sgroup!(self).smtp_alert = Some(v);
                }
            }
            H::SgGlobalTracking => {
                let n = self.sg_name();
                self.err(format!("({n}) global_tracking is deprecated. Use track_interface/script/file on the sync group"));
                sgroup!(self).tracking_weight = true;
            }
            H::SgTrackingWeight => sgroup!(self).tracking_weight = true,
            H::SgNotifyPriorityChanges => {
                let n = self.sg_name();
                self.opt_bool(w, |s| {
                    format!(
                        "({n}) Invalid value '{s}' for sync group notify_priority_changes specified"
                    )
                })?;
            }
            H::Instance => {
                if w.len() != 2 {
                    self.err("vrrp_instance must have a name");
                    self.skip_block(true);
                } else if self.b.insts.iter().any(|i| i.name == w[1]) {
                    self.err(format!("vrrp instance {} already defined", w[1]));
                    self.skip_block(true);
                } else {
                    let i = new_instance(&w[1], &self.b.global);
                    self.b.insts.push(i);
                }
            }
            H::VrrpScript => {
                let name = self.arg(w, 1)?.to_string();
                self.b.scripts.push(ScriptBuild {
                    name,
                    script: None,
                    user: None,
                    interval_us: TIMER_HZ,
                    timeout_us: 0,
                    weight: 0,
                    weight_reverse: false,
                    rise: 1,
                    fall: 1,
                    init_fail: false,
                    insecure: false,
                });
                self.b.script_user_set = false;
                self.b.remove_script = false;
            }
            H::ScriptScript => {
                let raw = self.raw.clone();
                let args = match lexer::split_quoted_escaped(&raw) {
                    Ok(qe) => self.script_args(&qe),
                    Err(e) => {
                        self.quote_error(e);
                        None
                    }
                };
                if let Some(s) = self.b.scripts.last_mut() {
                    s.script = args.map(|a| ScriptB {
                        script: Script {
                            args: a,
                            user: None,
                        },
                        uid: 0,
                        gid: 0,
                    });
                }
            }
            H::ScriptInterval | H::ScriptTimeout => {
                let name = self
                    .b
                    .scripts
                    .last()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                let max = u32::MAX / TIMER_HZ as u32;
                let what = if h == H::ScriptInterval {
                    "interval"
                } else {
                    "timeout"
                };
                match self.uint(w, 1, 0, max)? {
                    None => {
                        let msg = if h == H::ScriptInterval {
                            format!(
                                "({name}): vrrp script interval '{}' must be between 1 and {max} - ignoring",
                                w[1]
                            )
                        } else {
                            format!(
                                "({name}): vrrp script timeout '{}' invalid - ignoring",
                                w[1]
                            )
                        };
                        self.err(msg);
                    }
                    Some(mut v) => {
                        if v == 0 {
                            self.err(format!(
                                "({name}): vrrp script {what} must be greater than 0, setting to 1"
                            ));
                            v = 1;
                        }
                        if let Some(s) = self.b.scripts.last_mut() {
                            if h == H::ScriptInterval {
                                s.interval_us = v as u64 * TIMER_HZ;
                            } else {
                                s.timeout_us = v as u64 * TIMER_HZ;
                            }
                        }
                    }
                }
            }
            H::ScriptWeight => {
                let name = self
                    .b
                    .scripts
                    .last()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                match self.int(w, 1, -253, 253)? {
                    None => self.err(format!(
                        "vrrp_script {name} weight {} must be in [-253, 253]",
                        w[1]
                    )),
                    Some(v) => {
                        if let Some(s) = self.b.scripts.last_mut() {
                            s.weight = v;
                        }
                    }
                }
                if w.len() >= 3 {
                    if w[2] == "reverse" {
                        if let Some(s) = self.b.scripts.last_mut() {
                            s.weight_reverse = true;
                        }
                    } else {
                        self.err(format!("vrrp_script {name} unknown weight option {}", w[2]));
                    }
                }
            }
            H::ScriptRise | H::ScriptFall => {
                let name = self
                    .b
                    .scripts
                    .last()
                    .map(|s| s.name.clone())
                    .unwrap_or_default();
                let what = if h == H::ScriptRise { "rise" } else { "fall" };
                let v = match self.uint(w, 1, 1, i32::MAX as u32)? {
                    Some(v) => v,
                    None => {
                        self.err(format!(
                            "({name}): vrrp script {what} value '{}' invalid, defaulting to 1",
                            w[1]
                        ));
                        1
                    }
                };
                if let Some(s) = self.b.scripts.last_mut() {
                    if h == H::ScriptRise {
                        s.rise = v;
                    } else {
                        s.fall = v;
                    }
                }
            }
            H::ScriptUserKw => {
                let user = ScriptUser {
                    user: self.arg(w, 1)?.to_string(),
                    group: w.get(2).cloned(),
                };
                match self.lookup_user(&user) {
                    None => {
                        let cmd = self
                            .b
                            .scripts
                            .last()
                            .and_then(|s| s.script.as_ref())
                            .map(|s| super::h_check::cmd_str(&s.script.args))
                            .unwrap_or_default();
                        self.err(format!("Unable to set uid/gid for script {cmd}"));
                        self.b.remove_script = true;
                    }
                    Some((uid, gid)) => {
                        self.b.remove_script = false;
                        self.b.script_user_set = true;
                        if let Some(s) = self.b.scripts.last_mut() {
                            s.user = Some((user, uid, gid));
                        }
                    }
                }
            }
            H::ScriptInitFail => {
                if let Some(s) = self.b.scripts.last_mut() {
                    s.init_fail = true;
                }
            }
            _ => return self.instance_handler(h, w),
        }
        Ok(())
    }

    fn instance_handler(&mut self, h: H, w: &[String]) -> R {
        let iname = self.inst_name();
        match h {
            H::UseVmac => {
                let mut name = String::new();
                for word in w.iter().take(3).skip(1) {
                    if word.contains(':') {
                        continue;
                    }
                    if word.is_empty()
                        || word.len() >= IFNAMSIZ
                        || word == "."
                        || word == ".."
                        || word.contains(['/', ' '])
                    {
                        self.err(format!(
                            "VMAC interface name '{}' too long or invalid characters - ignoring",
                            word
                        ));
                        continue;
                    }
                    name = word.clone();
                }
                inst!(self).use_vmac = Some(name);
            }
            H::UnicastPeer => {
                inst!(self).unicast_configured = true;
                self.value_block(w, Vb::UnicastPeer)?;
            }
            H::UnicastFaultNoPeer => {
                let i = inst!(self);
                i.unicast_configured = true;
                i.unicast_fault_no_peer = true;
            }
            H::CheckUnicastSrc => inst!(self).unicast_configured = true,
            H::OldUnicastChecksum => {
                inst!(self).unicast_configured = true;
                if w.len() >= 2 && w[1] != "never" {
                    self.err(format!(
                        "({iname}) Unknown old_unicast_chksum mode {} - ignoring",
                        w[1]
                    ));
                }
            }
            H::NativeIpv6 => {
                let i = inst!(self);
                if i.family == Some(Family::Inet) {
                    self.err(format!(
                        "({iname}) Cannot specify native_ipv6 with IPv4 addresses"
                    ));
                } else {
                    i.family = Some(Family::Inet6);
                    i.version = 3;
                    i.native_ipv6 = true;
                }
            }
            H::State => {
                let s = self.arg(w, 1)?.to_string();
                let i = inst!(self);
                match s.as_str() {
                    "MASTER" => i.wantstate = Some(InitialState::Master),
                    "BACKUP" => {
                        if i.wantstate == Some(InitialState::Master) {
                            self.err(format!(
                                "({iname}) state previously set as MASTER - ignoring BACKUP"
                            ));
                        } else {
                            i.wantstate = Some(InitialState::Backup);
                        }
                    }
                    _ => {
                        i.wantstate = Some(InitialState::Backup);
                        self.err(format!(
                            "({iname}) unknown state '{s}', defaulting to BACKUP"
                        ));
                    }
                }
            }
            H::Interface => {
                let name = self.arg(w, 1)?.to_string();
                if name.len() >= IFNAMSIZ {
                    self.err(format!("Interface name '{name}' too long - ignoring"));
                    return Ok(());
                }
                let ifp = self.if_dynamic(&name);
                match ifp {
                    None => {
                        self.err(format!(
                            "WARNING - interface {name} for vrrp_instance {iname} doesn't exist"
                        ));
                        inst!(self).ifp = None;
                    }
                    Some(r) if r.info.as_ref().is_some_and(|i| i.loopback) => {
                        self.err(format!(
                            "({iname}) cannot use a loopback interface ({name}) for vrrp - ignoring"
                        ));
                        inst!(self).ifp = None;
                    }
                    Some(r) => inst!(self).ifp = Some(r),
                }
            }
            H::Vrf => {
                let name = self.arg(w, 1)?.to_string();
                if name.len() >= IFNAMSIZ {
                    self.err(format!(
                        "({iname}) VRF interface name '{name}' too long - ignoring"
                    ));
                } else if inst!(self).ifp.is_some() {
                    self.err(format!(
                        "({iname}) Cannot specify VRF interface and interface - ignoring"
                    ));
                } else if inst!(self).vrf {
                    self.err(format!(
                        "({iname}) VRF interface already specified as '{name}' - ignoring"
                    ));
                } else {
                    match self.if_dynamic(&name) {
                        None => self.err(format!("({iname}) WARNING - VRF interface {name} doesn't exist")),
                        Some(r) if r.info.as_ref().is_some_and(|i| i.loopback) => {
                            self.err(format!("({iname}) cannot use a loopback interface ({name}) for VRF - ignoring"))
                        }
                        Some(_) => inst!(self).vrf = true,
                    }
                }
            }
            H::DontTrackPrimary => inst!(self).dont_track_primary = true,
            H::TrackInterface => self.value_block(w, Vb::TrackIf)?,
            H::TrackScript => self.value_block(w, Vb::TrackScript)?,
            H::McastSrcIp | H::UnicastSrcIp => {
                if h == H::UnicastSrcIp {
                    inst!(self).unicast_configured = true;
                }
                let s = self.arg(w, 1)?.to_string();
                match self.sockaddr(&s, None) {
                    Err(()) => {
                        self.err(format!("Configuration error: VRRP instance[{iname}] malformed src address[{s}]. Skipping..."));
                    }
                    Ok((a, _)) => {
                        let i = inst!(self);
                        let fam = Family::of(&a);
                        match i.family {
                            None => {
                                i.family = Some(fam);
                                i.saddr = Some(a);
                                i.saddr_from_config = true;
                            }
                            Some(f) if f == fam => {
                                i.saddr = Some(a);
                                i.saddr_from_config = true;
                            }
                            Some(_) => {
                                i.saddr = None;
                                i.saddr_from_config = false;
                                self.err(format!(
                                    "Configuration error: VRRP instance[{iname}] and src address[{s}] MUST be of the same family !!! Skipping..."
                                ));
                            }
                        }
                    }
                }
            }
            H::McastDstIp => {
                let s = self.arg(w, 1)?.to_string();
                match self.sockaddr(&s, None) {
                    Err(()) => self.err(format!(
                        "({iname}) malformed mcast dest address {s}. Skipping..."
                    )),
                    Ok((a, _)) => {
                        let fam = Family::of(&a);
                        let i = inst!(self);
                        let mut keep = true;
                        match i.family {
                            None => i.family = Some(fam),
                            Some(f) if f != fam => {
                                keep = false;
                                self.err(format!("({iname}) mcast dest address {s} MUST match VRRP instance family. Skipping..."));
                            }
                            _ => {}
                        }
                        let ok_mc = match a {
                            IpAddr::V4(v) => v.is_multicast(),
                            IpAddr::V6(v) => v.segments()[0] & 0xff0f == 0xff02,
                        };
                        if keep && !ok_mc {
                            keep = false;
                            let ll = if fam == Family::Inet6 {
                                " link-local"
                            } else {
                                ""
                            };
                            self.err(format!(
                                "({iname}) mcast_dst_ip {s} not{ll} multicast. Skipping..."
                            ));
                        }
                        inst!(self).mcast_daddr = keep.then_some(a);
                    }
                }
            }
            H::VirtualRouterId => match self.uint(w, 1, 1, 255)? {
                None => self.err(format!(
                    "({iname}): VRID '{}' not valid - must be between 1 & 255",
                    w[1]
                )),
                Some(v) => inst!(self).vrid = v as u8,
            },
            H::UnicastTtl => match self.uint(w, 1, 0, 255)? {
                None => self.err(format!(
                    "({iname}): TTL '{}' not valid - must be between 0 & 255",
                    w[1]
                )),
                Some(v) => inst!(self).ttl = Some(v as u8),
            },
            H::Version => match self.int(w, 1, 2, 3)? {
                None => self.err(format!("({iname}): Version must be either 2 or 3")),
                Some(v) => {
                    let i = inst!(self);
                    let cur = i.version;
                    if (cur != 0 && cur as i32 != v) || (v == 2 && i.family == Some(Family::Inet6))
                    {
                        self.err(format!("({iname}) vrrp_version {v} conflicts with configured or deduced version {cur}; ignoring."));
                    } else {
                        i.version = v as u8;
                    }
                }
            },
            H::Priority => match self.uint(w, 1, 1, VRRP_PRIO_OWNER)? {
                None => {
                    self.err(format!("({iname}) Priority not valid! must be between 1 & {VRRP_PRIO_OWNER}. Using default {VRRP_PRIO_DFL}"));
                    inst!(self).base_priority = VRRP_PRIO_DFL as u8;
                }
                Some(v) => inst!(self).base_priority = v as u8,
            },
            H::AdvertInt => {
                let s = self.arg(w, 1)?.to_string();
                let mut m = Msgs::new();
                let v = num::read_decimal(&s, TIMER_HZ / 100, 255 * TIMER_HZ, 6, true, &mut m);
                self.flush(m);
                match v {
                    Some(v) if v > 0 => inst!(self).adver_int_us = v,
                    _ => self.err(format!(
                        "({iname}) Advert interval ({s}) not valid! Must be > 0 - ignoring"
                    )),
                }
            }
            H::VirtualIpaddress => self.value_block(w, Vb::Vip)?,
            H::VirtualIpaddressExcluded => self.value_block(w, Vb::Evip)?,
            H::PromoteSecondaries => inst!(self).promote_secondaries = true,
            H::LinkbeatUsePolling => {
                self.err(format!("({iname}) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block"));
            }
            H::VirtualRoutes => self.value_block(w, Vb::VirtualRoute)?,
            H::VirtualRules => self.value_block(w, Vb::VirtualRule)?,
            H::Accept => inst!(self).accept = Some(true),
            H::NoAccept => inst!(self).accept = Some(false),
            H::SkipCheckAdvAddr => {
                if w.len() >= 2 {
                    match num::check_true_false(&w[1]) {
                        Some(_) => inst!(self).skip_check_adv_addr = true,
                        None => self.err(format!(
                            "({iname}) invalid skip_check_adv_addr {} specified",
                            w[1]
                        )),
                    }
                } else {
                    inst!(self).skip_check_adv_addr = true;
                }
            }
            H::StrictMode => {
                if w.len() >= 2 {
                    match num::check_true_false(&w[1]) {
                        Some(v) => inst!(self).strict_mode = Some(v),
                        None => {
                            self.err(format!("({iname}) invalid strict_mode {} specified", w[1]))
                        }
                    }
                } else {
                    inst!(self).strict_mode = Some(true);
                }
            }
            H::Preempt => inst!(self).nopreempt = false,
            H::Nopreempt => inst!(self).nopreempt = true,
            H::PreemptDelay => match self.decimal(w, 1, 0, 1000 * TIMER_HZ)? {
                None => {
                    self.err(format!(
                        "({iname}) Preempt_delay not valid! must be between 0-1000"
                    ));
                    inst!(self).preempt_delay_us = 0;
                }
                Some(v) => inst!(self).preempt_delay_us = v,
            },
            H::Debug if self.uint(w, 1, 0, 4)?.is_none() => {
                self.err(format!(
                    "({iname}) Debug value '{}' not valid; must be between 0-4",
                    w[1]
                ));
            }
            H::NotifyBackup
            | H::NotifyMaster
            | H::NotifyFault
            | H::NotifyStop
            | H::Notify
            | H::NotifyMasterRxLowerPri => {
                let which = match h {
                    H::NotifyBackup => "notify_backup",
                    H::NotifyMaster => "notify_master",
                    H::NotifyFault => "notify_fault",
                    H::NotifyStop => "notify_stop",
                    H::NotifyMasterRxLowerPri => "notify_master_rx_lower_pri",
                    _ => "notify",
                };
                let i = inst!(self);
                let exists = match h {
                    H::NotifyBackup => i.notify_backup.is_some(),
                    H::NotifyMaster => i.notify_master.is_some(),
                    H::NotifyFault => i.notify_fault.is_some(),
                    H::NotifyStop => i.notify_stop.is_some(),
                    H::NotifyMasterRxLowerPri => i.notify_master_rx_lower_pri.is_some(),
                    _ => i.notify.is_some(),
                };
                if exists {
                    let a = self.arg(w, 1)?.to_string();
                    self.err(format!(
                        "({iname}) {which} script already specified - ignoring {a}"
                    ));
                    return Ok(());
                }
                let s = self.notify_script("notify")?;
                let i = inst!(self);
                match h {
                    H::NotifyBackup => i.notify_backup = s,
                    H::NotifyMaster => i.notify_master = s,
                    H::NotifyFault => i.notify_fault = s,
                    H::NotifyStop => i.notify_stop = s,
                    H::NotifyMasterRxLowerPri => i.notify_master_rx_lower_pri = s,
                    _ => i.notify = s,
                }
            }
            H::NotifyDeleted => {
                if inst!(self).notify_deleted_set {
                    let a = w.get(1).cloned().unwrap_or_default();
                    self.err(format!(
                        "({iname}) notify_deleted already specified - ignoring {a}"
                    ));
                    return Ok(());
                }
                let s = if w.len() > 1 {
                    self.notify_script("notify")?
                } else {
                    None
                };
                let i = inst!(self);
                i.notify_deleted = s;
                i.notify_deleted_set = true;
            }
            H::InstSmtpAlert => {
                if let Some(v) = self.opt_bool(w, |s| {
                    format!("Invalid vrrp_instance smtp_alert parameter {s}")
                })? {
                    inst!(self).smtp_alert = Some(v);
                }
            }
            H::NotifyPriorityChanges => {
                self.opt_bool(w, |s| {
                    format!("({iname}) Invalid value '{s}' for notify_priority_changes specified")
                })?;
            }
            H::LvsSyncDaemonInterface => {
                self.err(format!(
                    "({iname}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated."
                ));
                let pad = " ".repeat(iname.len().saturating_sub(2));
                self.err(format!("      {pad}Please use global lvs_sync_daemon"));
                if let Some(s) = &self.b.global.lvs_sync_daemon {
                    let msg = format!(
                        "({iname}) lvs_sync_daemon_interface has already been specified as {} - ignoring",
                        s.interface
                    );
                    self.err(msg);
                } else {
                    let ifn = self.arg(w, 1)?.to_string();
                    self.b.global.lvs_sync_daemon = Some(LvsSyncDaemon {
                        interface: ifn,
                        vrrp_instance: Some(iname.clone()),
                        sync_id: None,
                        maxlen: None,
                        port: None,
                        ttl: None,
                        group: None,
                    });
                }
            }
            H::GarpMasterDelay => match self.uint(w, 1, 0, u32::MAX / TIMER_HZ as u32)? {
                None => self.err(format!(
                    "({iname}): garp_master_delay '{}' invalid - ignoring",
                    w[1]
                )),
                Some(v) => inst!(self).garp_delay_us = v as u64 * TIMER_HZ,
            },
            H::GarpMasterRefresh => match self.uint(w, 1, 0, u32::MAX)? {
                None => {
                    self.err(format!(
                        "({iname}): Invalid garp_master_refresh '{}' - ignoring",
                        w[1]
                    ));
                    inst!(self).garp_refresh_s = 0;
                }
                Some(v) => inst!(self).garp_refresh_s = v as u64,
            },
            H::GarpMasterRepeat | H::GarpMasterRefreshRepeat => {
                let which = if h == H::GarpMasterRepeat {
                    "garp_master_repeat"
                } else {
                    "garp_master_refresh_repeat"
                };
                match self.uint(w, 1, 0, u32::MAX)? {
                    None => self.err(format!("({iname}): {which} '{}' invalid - ignoring", w[1])),
                    Some(mut v) => {
                        if v == 0 {
                            self.err(format!(
                                "({iname}): {which} must be greater than 0, setting to 1"
                            ));
                            v = 1;
                        }
                        let i = inst!(self);
                        if h == H::GarpMasterRepeat {
                            i.garp_rep = v;
                        } else {
                            i.garp_refresh_rep = v;
                        }
                    }
                }
            }
            H::GarpLowerPrioDelay => match self.uint(w, 1, 0, u32::MAX / TIMER_HZ as u32)? {
                None => self.err(format!(
                    "({iname}): garp_lower_prio_delay '{}' invalid - ignoring",
                    w[1]
                )),
                Some(v) => inst!(self).garp_lower_prio_delay_us = Some(v as u64 * TIMER_HZ),
            },
            H::GarpLowerPrioRepeat => match self.uint(w, 1, 0, i32::MAX as u32)? {
                None => self.err(format!(
                    "({iname}): Invalid garp_lower_prio_repeat '{}'",
                    w[1]
                )),
                Some(v) => inst!(self).garp_lower_prio_rep = Some(v),
            },
            H::DownTimerAdverts => match self.uint(w, 1, 1, 100)? {
                None => self.err(format!(
                    "({iname}): Invalid down_timer_adverts [1:100] '{}'",
                    w[1]
                )),
                Some(v) => inst!(self).down_timer_adverts = v,
            },
            H::LowerPrioNoAdvert | H::HigherPrioSendAdvert => {
                let which = if h == H::LowerPrioNoAdvert {
                    "lower_prio_no_advert"
                } else {
                    "higher_prio_send_advert"
                };
                let v = if w.len() >= 2 {
                    match num::check_true_false(&w[1]) {
                        Some(v) => v,
                        None => {
                            self.err(format!("({iname}) invalid {which} {} specified", w[1]));
                            return Ok(());
                        }
                    }
                } else {
                    true
                };
                let i = inst!(self);
                if h == H::LowerPrioNoAdvert {
                    i.lower_prio_no_advert = Some(v);
                } else {
                    i.higher_prio_send_advert = Some(v);
                }
            }
            H::KernelRxBufSize => {
                let ok = w.len() == 2 && self.uint(w, 1, 0, u32::MAX)?.is_some();
                if !ok {
                    self.err(format!("({iname}) invalid kernel_rx_buf_size specified"));
                }
            }
            H::AuthType => {
                let s = self.arg(w, 1)?.to_string();
                match s.as_str() {
                    "AH" => inst!(self).auth_type = AuthKind::Ah,
                    "PASS" => inst!(self).auth_type = AuthKind::Pass,
                    _ => self.err(format!("({iname}) unknown authentication type '{s}'")),
                }
            }
            H::AuthPass => {
                let s = self.arg(w, 1)?.to_string();
                let mut b = s.into_bytes();
                if b.len() > 8 {
                    b.truncate(8);
                    self.err("Truncating auth_pass to 8 characters");
                }
                inst!(self).auth_data = b;
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn vrrp_close(&mut self, h: H) -> R {
        match h {
            H::Instance => {
                let Some(i) = self.b.insts.last_mut() else {
                    return Ok(());
                };
                let iname = i.name.clone();
                if i.unicast_configured && i.use_vmac.is_some() {
                    if i.ifp.is_none() {
                        i.use_vmac = None;
                        self.err(format!("({iname}): Cannot use VMAC/ipvlan with unicast and no interface - clearing use_vmac"));
                    } else {
                        self.err(format!(
                            "({iname}) unicast with use_vmac requires vmac_xmit_base - setting"
                        ));
                    }
                }
                let i = inst!(self);
                if i.peers.is_empty() && i.ttl.is_some() {
                    i.ttl = Some(0);
                    self.err(format!(
                        "({iname}): Cannot use unicast_ttl without unicast peers - resetting"
                    ));
                }
            }
            H::VrrpScript => {
                let Some(s) = self.b.scripts.last() else {
                    return Ok(());
                };
                let name = s.name.clone();
                let has_script = s.script.as_ref().is_some_and(|x| !x.script.args.is_empty());
                if !has_script {
                    self.err(format!("No script set for vrrp_script {name} - removing"));
                    self.b.remove_script = true;
                } else if !self.b.remove_script
                    && !self.b.script_user_set
                    && self.default_script_user().is_none()
                {
                    self.err(format!(
                        "Unable to set default user for vrrp script {name} - removing"
                    ));
                    self.b.remove_script = true;
                }
                if self.b.remove_script {
                    self.b.scripts.pop();
                    return Ok(());
                }
                let ids = self.b.default_user.ids;
                if let Some(s) = self.b.scripts.last_mut()
                    && let Some(sc) = s.script.as_mut()
                {
                    match &s.user {
                        Some((u, uid, gid)) => {
                            sc.script.user = Some(u.clone());
                            sc.uid = *uid;
                            sc.gid = *gid;
                        }
                        None => {
                            sc.uid = ids.0;
                            sc.gid = ids.1;
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `alloc_ipaddress(list, strvec, static_addr)`.
    pub(crate) fn alloc_ipaddress(
        &mut self,
        w: &[String],
        static_addr: bool,
    ) -> R<Option<VirtualAddress>> {
        let mut m = Msgs::new();
        let parsed = num::parse_ipaddress(&w[0], true, &mut m);
        self.flush(m);
        let Some((addr, prefix)) = parsed else {
            return Ok(None);
        };
        let mut a = VirtualAddress {
            addr,
            prefix_len: prefix,
            broadcast: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            home: false,
            nodad: false,
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
            no_track: false,
            preferred_lft: None,
            use_vmac: false,
        };
        let is6 = addr.is_ipv6();
        let mut brd_len = 0i32;
        let mut have_broadcast = false;
        let mut have_track_group = false;
        let mut i = 1;
        let mut missing: Option<String> = None;
        while i < w.len() {
            let s = w[i].as_str();
            let param = w.get(i + 1).cloned();
            let need = matches!(
                s,
                "dev" | "scope" | "broadcast" | "brd" | "label" | "peer" | "preferred_lft"
            ) || (static_addr && s == "track_group");
            if need && param.is_none() {
                missing = Some(s.to_string());
                break;
            }
            let p = param.unwrap_or_default();
            match s {
                "dev" => {
                    if a.dev.is_some() {
                        self.err(format!(
                            "Cannot specify ipaddress device more than once for {}",
                            w[0]
                        ));
                        return Ok(None);
                    }
                    match self.if_dynamic(&p) {
                        Some(r) => a.dev = Some(r.name),
                        None => {
                            self.err(format!(
                                "WARNING - interface {p} for ip address {} doesn't exist",
                                w[0]
                            ));
                            return Ok(None);
                        }
                    }
                    i += 1;
                }
                "scope" => {
                    match scope_value(&p) {
                        Some(v) => a.scope = Some(v),
                        None => self.err(format!(
                            "Invalid scope '{p}' specified for {} - ignoring",
                            w[0]
                        )),
                    }
                    i += 1;
                }
                "broadcast" | "brd" => {
                    if is6 {
                        self.err(format!("VRRP is trying to assign a broadcast {s} to the IPv6 address {} !!?? WTF... skipping VIP...", w[0]));
                        return Ok(None);
                    }
                    have_broadcast = true;
                    match p.as_str() {
                        "-" => brd_len = -2,
                        "+" => brd_len = -1,
                        _ => match p.parse::<Ipv4Addr>() {
                            Ok(b) => a.broadcast = Some(b),
                            Err(_) => {
                                self.err(format!("VRRP is trying to assign invalid broadcast {p}. skipping VIP..."));
                                return Ok(None);
                            }
                        },
                    }
                    i += 1;
                }
                "label" => {
                    if p.len() >= IFNAMSIZ {
                        self.err(format!(
                            "Address label {p} is longer than maximum length {} - removing address",
                            IFNAMSIZ - 1
                        ));
                        return Ok(None);
                    }
                    a.label = Some(p);
                    i += 1;
                }
                "peer" => {
                    i += 1;
                    if a.peer.is_some() {
                        self.err(format!(
                            "Peer {p} - another peer has already been specified"
                        ));
                    } else {
                        let mut m = Msgs::new();
                        let pr = num::parse_ipaddress(&p, false, &mut m);
                        self.flush(m);
                        match pr {
                            None => self.err(format!("Invalid peer address {p}")),
                            Some((pa, plen)) if pa.is_ipv6() != is6 => {
                                let _ = plen;
                                self.err(format!("Peer address {p} does not match address family"));
                            }
                            Some((pa, plen)) => {
                                if a.prefix_len != if is6 { 128 } else { 32 } {
                                    self.err("Cannot specify address prefix when specifying peer address - ignoring");
                                }
                                a.peer = Some(pa);
                                a.prefix_len = plen;
                            }
                        }
                    }
                }
                "home" => a.home = true,
                "-nodad" => a.nodad = true,
                "mngtmpaddr" => a.mngtmpaddr = true,
                "noprefixroute" => a.noprefixroute = true,
                "autojoin" => a.autojoin = true,
                "no_track" => a.no_track = true,
                "preferred_lft" => {
                    i += 1;
                    if p == "forever" {
                        a.preferred_lft = Some(u32::MAX);
                    } else {
                        match self.uint(w, i, 0, u32::MAX)? {
                            Some(v) => a.preferred_lft = Some(v),
                            None => self.err(format!("preferred_lft {p} is invalid")),
                        }
                    }
                }
                "track_group" if static_addr => {
                    i += 1;
                    if have_track_group {
                        self.err(format!("track_group {p} is a duplicate"));
                        break;
                    }
                    if self.b.track_groups.contains(&p) {
                        have_track_group = true;
                    } else {
                        self.err(format!("track_group {p} not found"));
                    }
                }
                "use_vmac" if !static_addr => a.use_vmac = true,
                _ => self.err(format!(
                    "Unknown configuration entry '{s}' for ip address - ignoring"
                )),
            }
            i += 1;
        }
        if let Some(s) = missing {
            self.err(format!("No {s} parameter specified for {}", w[0]));
            return Ok(None);
        }
        if have_broadcast && a.peer.is_some() {
            self.err("Cannot specify broadcast and peer addresses - ignoring broadcast address");
            a.broadcast = None;
        } else if brd_len < 0 && a.prefix_len <= 30 {
            let base = match a.peer.unwrap_or(a.addr) {
                IpAddr::V4(v) => u32::from(v),
                IpAddr::V6(_) => 0,
            };
            let mask = u32::MAX.checked_shr(a.prefix_len as u32).unwrap_or(0);
            let b = if brd_len == -1 {
                base | mask
            } else {
                base & !mask
            };
            a.broadcast = Some(Ipv4Addr::from(b));
        } else if brd_len < 0 {
            self.err(format!(
                "Address prefix length {} too long for broadcast",
                a.prefix_len
            ));
        }
        if static_addr && a.dev.is_none() {
            // keepalived's get_default_if(): default_interface, else "eth0".
            let def = self
                .b
                .global
                .default_interface
                .clone()
                .unwrap_or_else(|| "eth0".to_string());
            match self.if_dynamic(&def) {
                Some(r) => a.dev = Some(r.name),
                None => {
                    self.report(
                        Level::Fatal,
                        format!("Static address {} requires either an interface or default interface must exist", w[0]),
                    );
                    return Ok(None);
                }
            }
        }
        if is6 {
            if a.scope.is_some_and(|s| s != 0) {
                self.err(format!(
                    "Cannot specify scope for IPv6 addresses ({}) - ignoring scope",
                    w[0]
                ));
                a.scope = None;
            }
            if a.label.is_some() {
                self.err(format!(
                    "Cannot specify label for IPv6 addresses ({}) - ignoring label",
                    w[0]
                ));
                a.label = None;
            }
            if a.preferred_lft.is_none() {
                a.preferred_lft = Some(if a.prefix_len == 128 { 0 } else { u32::MAX });
            }
        }
        if have_track_group && a.dev.is_none() {
            self.err("Static route cannot have track_group if interface not specified");
        }
        Ok(Some(a))
    }

    pub(crate) fn alloc_vip(&mut self, w: &[String], excluded: bool) -> R {
        let iname = self.inst_name();
        let Some(a) = self.alloc_ipaddress(w, false)? else {
            return Ok(());
        };
        let i = inst!(self);
        if excluded {
            i.evips.push(a);
            return Ok(());
        }
        let fam = Family::of(&a.addr);
        match i.family {
            None => i.family = Some(fam),
            Some(f) if f != fam => {
                self.err(format!(
                    "({iname}): address family must match VRRP instance [{}] - ignoring",
                    w[0]
                ));
                return Ok(());
            }
            _ => {}
        }
        inst!(self).vips.push(a);
        Ok(())
    }

    pub(crate) fn alloc_unicast_peer(&mut self, w: &[String]) -> R {
        let iname = self.inst_name();
        let addr = match self.sockaddr(&w[0], None) {
            Ok((a, _)) => a,
            Err(()) => {
                self.err(format!("Configuration error: VRRP instance[{iname}] malformed unicast peer address[{}]. Skipping...", w[0]));
                return Ok(());
            }
        };
        let fam = Family::of(&addr);
        let i = inst!(self);
        match i.family {
            None => i.family = Some(fam),
            Some(f) if f != fam => {
                self.err(format!(
                    "Configuration error: VRRP instance[{iname}] and unicast peer address[{}] MUST be of the same family !!! Skipping...",
                    w[0]
                ));
                return Ok(());
            }
            _ => {}
        }
        let mut peer = UnicastPeer {
            addr,
            min_ttl: 0,
            max_ttl: 255,
        };
        let mut k = 1;
        while k < w.len() {
            if k + 1 >= w.len() {
                self.err(format!("({iname}) {} is missing a value", w[k]));
                break;
            }
            let mut m = Msgs::new();
            let v = num::read_unsigned(&w[k + 1], 0, 255, &mut m);
            self.flush(m);
            if let Some(v) = v {
                match w[k].as_str() {
                    "min_ttl" => peer.min_ttl = v as u8,
                    "max_ttl" => peer.max_ttl = v as u8,
                    _ => {
                        self.err(format!("({iname}) unknown unicast_peer option {}", w[k]));
                        break;
                    }
                }
            }
            k += 2;
        }
        if peer.min_ttl > peer.max_ttl {
            self.err(format!(
                "({iname}) min_ttl {} > max_ttl {} - all packets will be discarded",
                peer.min_ttl, peer.max_ttl
            ));
        }
        inst!(self).peers.push(peer);
        Ok(())
    }

    pub(crate) fn alloc_track_if(&mut self, w: &[String], group: bool) -> R {
        let name = if group {
            self.sg_name()
        } else {
            self.inst_name()
        };
        let tracked = w[0].clone();
        let Some(ifp) = self.if_dynamic(&tracked) else {
            self.err(format!(
                "({name}) tracked interface {tracked} doesn't exist"
            ));
            return Ok(());
        };
        let list_has = if group {
            self.b
                .sgroups
                .last()
                .is_some_and(|g| g.track_ifs.iter().any(|(t, _)| t.name == tracked))
        } else {
            self.b
                .insts
                .last()
                .is_some_and(|i| i.track_ifs.iter().any(|(t, _)| t.name == tracked))
        };
        if list_has {
            self.err(format!(
                "({name}) duplicate track_interface {tracked} - ignoring"
            ));
            return Ok(());
        }
        let mut weight = 0;
        let mut reverse = false;
        if w.len() >= 2 {
            if w[1] != "weight" {
                self.err(format!(
                    "({name}) unknown track_interface {tracked} option {} - ignoring",
                    w[1]
                ));
                return Ok(());
            }
            if w.len() == 2 {
                self.err(format!("({name}) weight without value specified for track_interface {tracked} - ignoring"));
                return Ok(());
            }
            match self.int(w, 2, -254, 254)? {
                None => {
                    self.err(format!("({name}) weight {} for {tracked} must be between [-253..253] inclusive. Ignoring...", w[2]));
                    weight = 0;
                }
                Some(v) if v == -254 || v == 254 => {
                    self.err(format!(
                        "({name}) weight for {tracked} cannot be +/-254. Setting to +/-253"
                    ));
                    weight = if v < 0 { -253 } else { 253 };
                }
                Some(v) => weight = v,
            }
            if w.len() >= 4 {
                if w[3] == "reverse" {
                    reverse = true;
                } else {
                    self.err(format!(
                        "({name}) unknown track_interace {tracked} weight option {} - ignoring",
                        w[3]
                    ));
                }
            }
        }
        let t = (
            TrackedInterface {
                name: tracked,
                weight,
                reverse,
            },
            ifp,
        );
        if group {
            if let Some(g) = self.b.sgroups.last_mut() {
                g.track_ifs.push(t);
            }
        } else if let Some(i) = self.b.insts.last_mut() {
            i.track_ifs.push(t);
        }
        Ok(())
    }

    pub(crate) fn alloc_track_script(&mut self, w: &[String], group: bool) -> R {
        let name = if group {
            self.sg_name()
        } else {
            self.inst_name()
        };
        let tracked = w[0].clone();
        let Some(si) = self.b.scripts.iter().position(|s| s.name == tracked) else {
            self.err(format!(
                "({name}) track script {tracked} not found, ignoring..."
            ));
            return Ok(());
        };
        let dup = if group {
            self.b
                .sgroups
                .last()
                .is_some_and(|g| g.track_scripts.iter().any(|t| t.name == tracked))
        } else {
            self.b
                .insts
                .last()
                .is_some_and(|i| i.track_scripts.iter().any(|t| t.name == tracked))
        };
        if dup {
            self.err(format!(
                "({name}) duplicate track_script {tracked} - ignoring"
            ));
            return Ok(());
        }
        let mut weight = self.b.scripts[si].weight;
        let mut reverse = self.b.scripts[si].weight_reverse;
        if w.len() >= 2 {
            if w[1] != "weight" {
                self.err(format!(
                    "({name}) unknown track script option {} - ignoring",
                    w[1]
                ));
                return Ok(());
            }
            if w.len() == 2 {
                self.err(format!(
                    "({name}) weight without value specified for track script {tracked} - ignoring"
                ));
                return Ok(());
            }
            match self.int(w, 2, -254, 254)? {
                None => {
                    self.err(format!("({name}) track script {tracked}: weight must be between [-253..253] inclusive, ignoring..."));
                }
                Some(v) if v == -254 || v == 254 => {
                    self.err(format!(
                        "({name}) weight for {tracked} cannot be +/-254. Setting to +/-253"
                    ));
                    weight = if v < 0 { -253 } else { 253 };
                }
                Some(v) => weight = v,
            }
            if w.len() >= 4 {
                match w[3].as_str() {
                    "reverse" => reverse = true,
                    "noreverse" => reverse = false,
                    o => self.err(format!(
                        "({name}) unknown track_script {tracked} weight option {o} - ignoring"
                    )),
                }
            }
        }
        let t = TrackedScript {
            name: tracked,
            weight,
            reverse,
        };
        if group {
            if let Some(g) = self.b.sgroups.last_mut() {
                g.track_scripts.push(t);
            }
        } else if let Some(i) = self.b.insts.last_mut() {
            i.track_scripts.push(t);
        }
        Ok(())
    }

    /// A reduced `alloc_route`: checks the destination, the interfaces and the tracking rule
    /// keepalived's `-t` reports most often; other options are taken as they are.
    pub(crate) fn alloc_route(&mut self, w: &[String], static_route: bool) -> R<Option<RouteSpec>> {
        const ONE_ARG: &[&str] = &[
            "src",
            "from",
            "tos",
            "dsfield",
            "table",
            "protocol",
            "scope",
            "metric",
            "priority",
            "preference",
            "expires",
            "hoplimit",
            "realms",
            "rto_min",
            "initcwnd",
            "initrwnd",
            "features",
            "quickack",
            "congctl",
            "pref",
            "ttl-propagate",
            "fastopen_no_cookie",
            "vrf",
        ];
        const LOCKABLE: &[&str] = &[
            "mtu",
            "advmss",
            "rtt",
            "rttvar",
            "reordering",
            "window",
            "cwnd",
            "ssthresh",
        ];
        const TYPES: &[&str] = &[
            "unicast",
            "blackhole",
            "unreachable",
            "prohibit",
            "local",
            "broadcast",
            "anycast",
            "multicast",
            "throw",
            "nat",
        ];
        let mut dev: Option<String> = None;
        let mut dest: Option<String> = None;
        let mut dont_track = false;
        let mut family: Option<bool> = None;
        let mut i = 0;
        while i < w.len() {
            let s = w[i].as_str();
            match s {
                "inet" | "inet6" => {}
                "no_track" => dont_track = true,
                "onlink" | "prepend" | "append" | "add" => {}
                "via" | "gw" => {
                    if s == "gw" {
                        self.err("\"gw\" for routes is deprecated. Please use \"via\"");
                    }
                    if matches!(w.get(i + 1).map(String::as_str), Some("inet" | "inet6")) {
                        i += 1;
                    }
                    i += 1;
                    let v = self.arg(w, i)?.to_string();
                    let mut m = Msgs::new();
                    let ok = num::parse_ipaddress(&v, false, &mut m);
                    self.flush(m);
                    if ok.is_none() {
                        self.err(format!("invalid route via address {v}"));
                        return Ok(None);
                    }
                }
                "dev" | "oif" => {
                    i += 1;
                    let d = self.arg(w, i)?.to_string();
                    if self.if_dynamic(&d).is_none() {
                        self.err(format!(
                            "WARNING - interface {d} for VROUTE nexthop doesn't exist"
                        ));
                        return Ok(None);
                    }
                    dev = Some(d);
                }
                "or" => {
                    self.err("\"or\" for routes is deprecated. Please use \"nexthop\"");
                    i += 1;
                    let v = self.arg(w, i)?.to_string();
                    let mut m = Msgs::new();
                    let ok = num::parse_ipaddress(&v, false, &mut m);
                    self.flush(m);
                    if ok.is_none() {
                        self.err(format!("Invalid \"or\" address {v}"));
                        return Ok(None);
                    }
                }
                "nexthop" => break,
                "track_group" if static_route => i += 1,
                "as" => {
                    if w.get(i + 1).is_some_and(|x| x == "to") {
                        i += 1;
                    }
                    i += 1;
                }
                _ if ONE_ARG.contains(&s) => i += 1,
                _ if LOCKABLE.contains(&s) => {
                    if w.get(i + 1).is_some_and(|x| x == "lock") {
                        i += 1;
                    }
                    i += 1;
                }
                "encap" => break,
                _ => {
                    if s == "to" {
                        i += 1;
                    }
                    if w.get(i).is_some_and(|x| TYPES.contains(&x.as_str())) {
                        i += 1;
                    }
                    let d = self.arg(w, i)?.to_string();
                    let fam = match d.as_str() {
                        "default" | "any" | "all" => None,
                        "default6" => Some(true),
                        _ => {
                            let mut m = Msgs::new();
                            let p = num::parse_ipaddress(&d, true, &mut m);
                            self.flush(m);
                            match p {
                                Some((a, _)) => Some(a.is_ipv6()),
                                None => {
                                    self.err(format!("unknown route keyword {d}"));
                                    return Ok(None);
                                }
                            }
                        }
                    };
                    if let (Some(f), Some(g)) = (fam, family)
                        && f != g
                    {
                        self.err(format!(
                            "Cannot mix IPv4 and IPv6 addresses for route ({d})"
                        ));
                        return Ok(None);
                    }
                    family = family.or(fam);
                    dest = Some(d);
                }
            }
            i += 1;
        }
        let Some(dest) = dest else {
            self.err("Route must have a destination");
            return Ok(None);
        };
        if !dont_track && dev.is_none() {
            self.err(format!(
                "Warning - cannot track route {dest} with no interface specified, not tracking"
            ));
        }
        Ok(Some(RouteSpec {
            words: w.to_vec(),
            dev,
        }))
    }

    /// A reduced `alloc_rule`: from/to addresses, interfaces, the action and the
    /// preference keepalived assigns when none is given.
    pub(crate) fn alloc_rule(&mut self, w: &[String], _static_rule: bool) -> R<Option<RouteSpec>> {
        const ONE_ARG: &[&str] = &[
            "preference",
            "order",
            "priority",
            "tos",
            "dsfield",
            "fwmark",
            "realms",
            "suppress_prefixlength",
            "sup_pl",
            "suppress_ifgroup",
            "sup_group",
            "tunnel-id",
            "uidrange",
            "protocol",
            "ipproto",
            "sport",
            "dport",
            "track_group",
            "type",
            "goto",
        ];
        let mut family: Option<bool> = None;
        let mut dev: Option<String> = None;
        let mut have_pref = false;
        let mut have_action = false;
        let mut i = 0;
        while i < w.len() {
            let s = w[i].as_str();
            match s {
                "inet" => family = Some(false),
                "inet6" => family = Some(true),
                "from" | "to" => {
                    i += 1;
                    let v = self.arg(w, i)?.to_string();
                    let fam = match v.as_str() {
                        "default" | "any" | "all" => None,
                        "default6" => Some(true),
                        _ => {
                            let mut m = Msgs::new();
                            let p = num::parse_ipaddress(&v, true, &mut m);
                            self.flush(m);
                            match p {
                                Some((a, _)) => Some(a.is_ipv6()),
                                None => {
                                    self.err(format!("Invalid rule {s} address {v}"));
                                    return Ok(None);
                                }
                            }
                        }
                    };
                    if let (Some(f), Some(g)) = (fam, family)
                        && f != g
                    {
                        self.err("rule specification has mixed IPv4 and IPv6");
                        return Ok(None);
                    }
                    family = family.or(fam);
                }
                "table" | "lookup" => {
                    i += 1;
                    let t = self.arg(w, i)?.to_string();
                    if t == "0" {
                        self.err("Table 0 is not valid");
                        return Ok(None);
                    }
                    have_action = true;
                }
                "dev" | "iif" | "oif" => {
                    i += 1;
                    let d = self.arg(w, i)?.to_string();
                    if self.if_dynamic(&d).is_none() {
                        self.err(format!("WARNING - interface {d} for rule doesn't exist"));
                        return Ok(None);
                    }
                    dev = Some(d);
                }
                "no_track" | "l3mdev" | "nop" | "blackhole" | "prohibit" | "unreachable" => {
                    if s != "no_track" {
                        have_action = true;
                    }
                }
                _ if ONE_ARG.contains(&s) => {
                    if matches!(s, "preference" | "order" | "priority") {
                        have_pref = true;
                    }
                    if matches!(s, "type" | "goto") {
                        have_action = true;
                    }
                    i += 1;
                }
                _ => {
                    self.err(format!("Unknown rule option {s}"));
                    return Ok(None);
                }
            }
            i += 1;
        }
        if !have_action {
            self.err("No action specified for rule - ignoring");
            return Ok(None);
        }
        if !have_pref {
            let v6 = family.unwrap_or(false);
            let slot = if v6 {
                &mut self.b.next_rule_priority_v6
            } else {
                &mut self.b.next_rule_priority_v4
            };
            if *slot == 0 {
                *slot = 16384;
            }
            let prio = *slot;
            *slot -= 1;
            self.err(format!("Rule has no preference specified - setting to {prio}. This is probably not what you want."));
        }
        Ok(Some(RouteSpec {
            words: w.to_vec(),
            dev,
        }))
    }
}

/// An interface reference's kernel index (0 when it does not exist yet).
pub(crate) fn ifindex(r: &IfRef) -> u32 {
    r.info.as_ref().map(|i| i.ifindex).unwrap_or(0)
}
