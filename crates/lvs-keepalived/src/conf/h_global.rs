//! Handlers of `global_defs` (keepalived/core/global_parser.c), run in the parent pass.

use std::net::IpAddr;
use std::time::Duration;

use super::diag::Level;
use super::keywords::H;
use super::model::{LvsSyncDaemon, ScriptUser};
use super::num::{self, Msgs, TIMER_HZ};
use super::parser::{Parser, R, Vb};

fn us(v: u64) -> Duration {
    Duration::from_micros(v)
}

impl Parser<'_> {
    /// `smtp_alert`-style optional boolean: `Ok(Some(v))` or `Ok(None)` after reporting `msg`.
    pub(crate) fn opt_bool(
        &mut self,
        w: &[String],
        msg: impl FnOnce(&str) -> String,
    ) -> R<Option<bool>> {
        if w.len() >= 2 {
            match num::check_true_false(&w[1]) {
                Some(v) => Ok(Some(v)),
                None => {
                    let m = msg(&w[1]);
                    self.err(m);
                    Ok(None)
                }
            }
        } else {
            Ok(Some(true))
        }
    }

    pub(crate) fn global_handler(&mut self, h: H, w: &[String]) -> R {
        match h {
            H::RouterId => {
                if w.len() < 2 {
                    self.err("routerid name missing - ignoring");
                } else {
                    self.b.global.router_id = Some(w[1].clone());
                }
            }
            H::NotificationEmailFrom => {
                if w.len() < 2 {
                    self.err("emailfrom missing - ignoring");
                } else {
                    self.b.global.notification_email_from = Some(w[1].clone());
                }
            }
            H::SmtpServer => {
                let host = self.arg(w, 1)?.to_string();
                let port_str = w.get(2).cloned().unwrap_or_else(|| "25".to_string());
                let mut m = Msgs::new();
                let port = num::read_unsigned(&port_str, 1, 65535, &mut m);
                let host_ok = if host.contains(['-', '/']) {
                    is_hostname(&host)
                } else {
                    num::inet_pton(&host, host.contains(':')).is_some() || is_hostname(&host)
                };
                self.flush(m);
                match port {
                    Some(p) if host_ok => self.b.global.smtp_server = Some((host, p as u16)),
                    _ => self.err(format!("Invalid smtp server {host} {port_str}")),
                }
            }
            H::SmtpHeloName if w.len() >= 2 => {
                self.b.global.smtp_helo_name = Some(w[1].clone());
            }
            H::SmtpConnectTimeout => {
                let max = u32::MAX / TIMER_HZ as u32;
                match self.uint(w, 1, 0, max)? {
                    None => self.err(format!(
                        "smtp_connect_timeout '{}' must be in [0, {max}] - ignoring",
                        w[1]
                    )),
                    Some(mut t) => {
                        if t == 0 {
                            self.err("smtp_conect_timeout must be greater than 0, setting to 1");
                            t = 1;
                        }
                        self.b.global.smtp_connect_timeout = Duration::from_secs(t as u64);
                    }
                }
            }
            H::NotificationEmail => match self.read_value_block(w)? {
                None => self.err("Warning - empty notification_email block"),
                Some(v) => self.b.global.notification_email.extend(v),
            },
            H::SmtpAlert => {
                if let Some(v) = self.opt_bool(w, |s| {
                    format!("Invalid value '{s}' for global smtp_alert specified")
                })? {
                    self.b.global.smtp_alert = Some(v);
                }
            }
            H::SmtpAlertVrrp => {
                if let Some(v) = self.opt_bool(w, |s| {
                    format!("Invalid value '{s}' for global smtp_alert_vrrp specified")
                })? {
                    self.b.global.smtp_alert_vrrp = Some(v);
                }
            }
            H::SmtpAlertChecker => {
                if let Some(v) = self.opt_bool(w, |s| {
                    format!("Invalid value '{s}' for global smtp_alert_checker specified")
                })? {
                    self.b.global.smtp_alert_checker = Some(v);
                }
            }
            H::StartupScript | H::ShutdownScript => {
                let startup = h == H::StartupScript;
                let ty = if startup { "startup" } else { "shutdown" };
                let already = if startup {
                    self.b.startup_script.is_some()
                } else {
                    self.b.shutdown_script.is_some()
                };
                if already {
                    self.err(format!("{ty} script already specified"));
                } else if w.len() < 2 {
                    self.err(format!("{ty} script missing"));
                } else {
                    match self.notify_script(ty)? {
                        None => self.err(format!("Invalid {ty} script")),
                        Some(s) => {
                            if startup {
                                self.b.global.startup_script = Some(s.script.clone());
                                self.b.startup_script = Some(s);
                            } else {
                                self.b.global.shutdown_script = Some(s.script.clone());
                                self.b.shutdown_script = Some(s);
                            }
                        }
                    }
                }
            }
            H::MaxAutoPriority => {
                if w.len() < 2 {
                    self.b.global.max_auto_priority = Some(99);
                } else {
                    match self.int(w, 1, -1, 99)? {
                        Some(v) => self.b.global.max_auto_priority = Some(v),
                        None => self.err(format!("max_auto_priority '{}' must be in [0, 99] (or -1 to disable) - ignoring", w[1])),
                    }
                }
            }
            H::DynamicInterfaces => {
                self.b.global.dynamic_interfaces = true;
                if w.len() >= 2 && w[1] != "allow_if_changes" {
                    self.err(format!("Unknown dynamic_interfaces option '{}'", w[1]));
                }
            }
            H::DefaultInterface => {
                if w.len() < 2 {
                    self.err("default_interface requires interface name");
                } else {
                    self.b.global.default_interface = Some(w[1].clone());
                }
            }
            H::LvsTimeouts => self.lvs_timeouts(w)?,
            H::LvsFlush => self.b.global.lvs_flush = true,
            H::LvsFlushOnStop => {
                if w.len() == 1 || w[1] == "VS" {
                    self.b.global.lvs_flush_on_stop = true;
                } else {
                    self.err(format!("Unknown lvs_flush_on_stop type {}", w[1]));
                }
            }
            H::LvsSyncDaemon => self.lvs_sync_daemon(w)?,
            H::VrrpMcastGroup4 => {
                let s = self.arg(w, 1)?.to_string();
                match self.sockaddr(&s, None) {
                    Err(()) => self.err(format!("Can't parse vrrp_mcast_group4 [{s}]. Skipping")),
                    Ok((IpAddr::V6(_), _)) => {
                        self.err(format!("vrrp_mcast_group4 [{s}] is not IPv4. Skipping"))
                    }
                    Ok((IpAddr::V4(a), _)) if !a.is_multicast() => self.err(format!(
                        "vrrp_mcast_group4 [{s}] is not multicast. Skipping"
                    )),
                    Ok((IpAddr::V4(a), _)) => self.b.global.vrrp_mcast_group4 = a,
                }
            }
            H::VrrpMcastGroup6 => {
                let s = self.arg(w, 1)?.to_string();
                match self.sockaddr(&s, None) {
                    Err(()) => self.err(format!("Can't parse vrrp_mcast_group6 [{s}]. Skipping")),
                    Ok((IpAddr::V4(_), _)) => {
                        self.err(format!("vrrp_mcast_group6 [{s}] is not IPv6. Skipping"))
                    }
                    Ok((IpAddr::V6(a), _)) if !a.is_multicast() => self.err(format!(
                        "vrrp_mcast_group6 [{s}] is not multicast. Skipping"
                    )),
                    Ok((IpAddr::V6(a), _)) => {
                        if a.segments()[0] & 0xff0f != 0xff02 {
                            self.report(
                                Level::Warning,
                                format!("vrrp_mcast_group6 [{s}] should be link-local multicast."),
                            );
                        }
                        self.b.global.vrrp_mcast_group6 = a;
                    }
                }
            }
            H::VrrpGarpMasterDelay => match self.uint(w, 1, 0, u32::MAX / TIMER_HZ as u32)? {
                None => self.err(format!(
                    "vrrp_garp_master_delay '{}' invalid - ignoring",
                    w[1]
                )),
                Some(v) => self.b.global.vrrp_garp_master_delay = Duration::from_secs(v as u64),
            },
            H::VrrpGarpMasterRepeat => match self.uint(w, 1, 0, u32::MAX)? {
                None => self.err(format!(
                    "vrrp_garp_master_repeat '{}' invalid - ignoring",
                    w[1]
                )),
                Some(mut v) => {
                    if v == 0 {
                        self.err("vrrp_garp_master_repeat must be greater than 0, setting to 1");
                        v = 1;
                    }
                    self.b.global.vrrp_garp_master_repeat = v;
                }
            },
            H::VrrpGarpMasterRefresh => match self.uint(w, 1, 0, u32::MAX)? {
                None => {
                    self.err(format!(
                        "Invalid vrrp_garp_master_refresh '{}' - ignoring",
                        w[1]
                    ));
                    self.b.global.vrrp_garp_master_refresh = Duration::ZERO;
                }
                Some(v) => self.b.global.vrrp_garp_master_refresh = Duration::from_secs(v as u64),
            },
            H::VrrpGarpMasterRefreshRepeat => {
                match self.uint(w, 1, 0, u32::MAX)? {
                    None => self.err(format!(
                        "vrrp_garp_master_refresh_repeat '{}' invalid - ignoring",
                        w[1]
                    )),
                    Some(mut v) => {
                        if v == 0 {
                            self.err("vrrp_garp_master_refresh_repeat must be greater than 0, setting to 1");
                            v = 1;
                        }
                        self.b.global.vrrp_garp_master_refresh_repeat = v;
                    }
                }
            }
            H::VrrpGarpLowerPrioDelay => match self.uint(w, 1, 0, u32::MAX / TIMER_HZ as u32)? {
                None => self.err(format!(
                    "vrrp_garp_lower_prio_delay '{}' invalid - ignoring",
                    w[1]
                )),
                Some(v) => {
                    self.b.global.vrrp_garp_lower_prio_delay = Duration::from_secs(v as u64);
                    self.b.lower_prio_delay_set = true;
                }
            },
            H::VrrpGarpLowerPrioRepeat => match self.uint(w, 1, 0, i32::MAX as u32)? {
                None => self.err(format!("Invalid vrrp_garp_lower_prio_repeat '{}'", w[1])),
                Some(v) => {
                    self.b.global.vrrp_garp_lower_prio_repeat = v;
                    self.b.lower_prio_rep_set = true;
                }
            },
            H::VrrpDownTimerAdverts => match self.uint(w, 1, 1, 100)? {
                None => self.err(format!(
                    "Invalid vrrp_down_timer_adverts [1:100] '{}'",
                    w[1]
                )),
                Some(v) => self.b.global.vrrp_down_timer_adverts = v,
            },
            H::VrrpGarpInterval | H::VrrpGnaInterval => {
                let name = if h == H::VrrpGarpInterval {
                    "vrrp_garp_interval"
                } else {
                    "vrrp_gna_interval"
                };
                match self.decimal(w, 1, 1, u32::MAX as u64)? {
                    None => self.err(format!("{name} '{}' is invalid", w[1])),
                    Some(v) => {
                        if h == H::VrrpGarpInterval {
                            self.b.global.vrrp_garp_interval = us(v);
                        } else {
                            self.b.global.vrrp_gna_interval = us(v);
                        }
                    }
                }
            }
            H::VrrpMinGarp => {
                let mut on = true;
                if w.len() >= 2 {
                    match num::check_true_false(&w[1]) {
                        None => {
                            self.err("Invalid value for vrrp_min_garp specified");
                            return Ok(());
                        }
                        Some(v) => on = v,
                    }
                }
                if on {
                    let g = &mut self.b.global;
                    g.vrrp_min_garp = true;
                    if g.vrrp_garp_master_repeat == 5 {
                        g.vrrp_garp_master_repeat = 1;
                    }
                    if g.vrrp_garp_master_refresh_repeat == 1 {
                        g.vrrp_garp_master_refresh_repeat = 0;
                    }
                    if g.vrrp_garp_master_delay == Duration::from_secs(5) {
                        g.vrrp_garp_master_delay = Duration::ZERO;
                    }
                }
            }
            H::VrrpLowerPrioNoAdvert | H::VrrpHigherPrioSendAdvert => {
                let name = if h == H::VrrpLowerPrioNoAdvert {
                    "vrrp_lower_prio_no_advert"
                } else {
                    "vrrp_higher_prio_send_advert"
                };
                let v = if w.len() >= 2 {
                    match num::check_true_false(&w[1]) {
                        Some(v) => v,
                        None => {
                            self.err(format!("Invalid value for {name} specified"));
                            return Ok(());
                        }
                    }
                } else {
                    true
                };
                if h == H::VrrpLowerPrioNoAdvert {
                    self.b.global.vrrp_lower_prio_no_advert = v;
                } else {
                    self.b.global.vrrp_higher_prio_send_advert = v;
                }
            }
            H::VrrpVersion => match self.int(w, 1, 2, 3)? {
                None => self.err("VRRP Error: Version must be either 2 or 3"),
                Some(v) => self.b.global.vrrp_version = v as u8,
            },
            H::VrrpIptables => {
                self.err("iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option");
                self.b.nftables = true;
            }
            H::Nftables => {
                if self.b.nftables {
                    self.err("nftables already specified - ignoring");
                } else if w.len() >= 2 && w[1].len() >= 256 {
                    self.err("nftables table name too long - ignoring");
                } else {
                    self.b.nftables = true;
                }
            }
            H::VrrpCheckUnicastSrc => self.b.global.vrrp_check_unicast_src = true,
            H::VrrpSkipCheckAdvAddr => self.b.global.vrrp_skip_check_adv_addr = true,
            H::VrrpStrict => self.b.global.vrrp_strict = true,
            H::NotifyFifo | H::VrrpNotifyFifo | H::LvsNotifyFifo => {
                let ty = match h {
                    H::NotifyFifo => "",
                    H::VrrpNotifyFifo => "vrrp_",
                    _ => "lvs_",
                };
                let slot = match h {
                    H::NotifyFifo => self.b.global.notify_fifo.is_some(),
                    H::VrrpNotifyFifo => self.b.global.vrrp_notify_fifo.is_some(),
                    _ => self.b.global.lvs_notify_fifo.is_some(),
                };
                if w.len() < 2 {
                    self.err(format!("No {ty}notify_fifo name specified"));
                } else if slot {
                    self.err(format!(
                        "{ty}notify_fifo already specified - ignoring {}",
                        w[1]
                    ));
                } else {
                    let ok = if w.len() > 2 {
                        let u = ScriptUser {
                            user: w[2].clone(),
                            group: w.get(3).cloned(),
                        };
                        self.lookup_user(&u).is_some()
                    } else {
                        self.default_script_user().is_some()
                    };
                    if ok {
                        let name = Some(w[1].clone());
                        match h {
                            H::NotifyFifo => self.b.global.notify_fifo = name,
                            H::VrrpNotifyFifo => self.b.global.vrrp_notify_fifo = name,
                            _ => self.b.global.lvs_notify_fifo = name,
                        }
                    } else {
                        self.info(format!(
                            "Invalid user/group for {ty} fifo {} - ignoring",
                            w[1]
                        ));
                    }
                }
            }
            H::ScriptUser => {
                if w.len() < 2 {
                    self.err("No script username specified");
                } else {
                    let u = ScriptUser {
                        user: w[1].clone(),
                        group: w.get(2).cloned(),
                    };
                    self.b.default_user.set = true;
                    match self.lookup_user(&u) {
                        Some(ids) => {
                            self.b.default_user.ids = ids;
                            self.b.global.script_user = Some(u);
                        }
                        None => {
                            self.b.default_user.fail = true;
                            self.err("Error setting global script uid/gid");
                        }
                    }
                }
            }
            H::EnableScriptSecurity => self.b.global.enable_script_security = true,
            H::VrrpStartupDelay => match self.decimal(w, 1, TIMER_HZ / 1000, u32::MAX as u64)? {
                None => self.err(format!("vrrp_startup_delay '{}' is invalid", w[1])),
                Some(v) => self.b.global.vrrp_startup_delay = us(v),
            },
            H::LogUnknownVrids => self.b.global.log_unknown_vrids = true,
            _ => {}
        }
        Ok(())
    }

    fn lvs_timeouts(&mut self, w: &[String]) -> R {
        if w.len() < 3 {
            self.err("lvs_timeouts requires at least one option");
            return Ok(());
        }
        let mut i = 1;
        while i < w.len() {
            let which = w[i].as_str();
            if matches!(which, "tcp" | "tcpfin" | "udp") {
                if i == w.len() - 1 {
                    self.err(format!(
                        "No value specified for lvs_timeout {which} - ignoring"
                    ));
                    i += 1;
                    continue;
                }
                match self.uint(w, i + 1, 0, 86400 * 31)? {
                    None => self.err(format!(
                        "Invalid lvs_timeout {which} ({}) - ignoring",
                        w[i + 1]
                    )),
                    Some(v) => {
                        let t = &mut self.b.global.lvs_timeouts;
                        match which {
                            "tcp" => t.tcp = Some(v),
                            "tcpfin" => t.tcpfin = Some(v),
                            _ => t.udp = Some(v),
                        }
                    }
                }
                i += 2;
                continue;
            }
            self.err(format!("Unknown option {which} specified for lvs_timeouts"));
            i += 1;
        }
        Ok(())
    }

    fn lvs_sync_daemon(&mut self, w: &[String]) -> R {
        if let Some(s) = &self.b.global.lvs_sync_daemon {
            let msg = format!(
                "lvs_sync_daemon has already been specified as {} {} - ignoring",
                s.interface,
                s.vrrp_instance.clone().unwrap_or_default()
            );
            self.err(msg);
            return Ok(());
        }
        if w.len() < 2 {
            self.err("lvs_sync_daemon requires interface");
            return Ok(());
        }
        if w[1].len() >= 16 {
            self.err(format!(
                "lvs_sync_daemon interface name '{}' too long - ignoring",
                w[1]
            ));
            return Ok(());
        }
        let mut s = LvsSyncDaemon {
            interface: w[1].clone(),
            vrrp_instance: None,
            sync_id: None,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
        let mut i = 2;
        while i < w.len() {
            let word = w[i].as_str();
            match word {
                "inst" => {
                    let v = self.arg(w, i + 1)?.to_string();
                    if let Some(n) = &s.vrrp_instance {
                        let msg = format!(
                            "lvs_sync_daemon vrrp instance has already been specified as {n} - ignoring"
                        );
                        self.err(msg);
                    } else {
                        s.vrrp_instance = Some(v);
                    }
                    i += 2;
                    continue;
                }
                "id" | "maxlen" | "port" | "ttl" | "group" => {
                    if i == w.len() - 1 {
                        let msg = match word {
                            "id" => "No value specified for lvs_sync_daemon id, defaulting to vrid"
                                .to_string(),
                            _ => {
                                format!("No value specified for lvs_sync_daemon {word} - ignoring")
                            }
                        };
                        self.err(msg);
                        i += 1;
                        continue;
                    }
                    match word {
                        "id" => match self.uint(w, i + 1, 0, 255)? {
                            Some(v) => s.sync_id = Some(v as u8),
                            None => self.err(format!(
                                "Invalid syncid ({}) - defaulting to vrid",
                                w[i + 1]
                            )),
                        },
                        "maxlen" => match self.uint(w, i + 1, 1, 65535 - 20 - 8)? {
                            Some(v) => s.maxlen = Some(v as u16),
                            None => self.err(format!(
                                "Invalid lvs_sync_daemon maxlen ({}) - ignoring",
                                w[i + 1]
                            )),
                        },
                        "port" => match self.uint(w, i + 1, 1, 65535)? {
                            Some(v) => s.port = Some(v as u16),
                            None => self.err(format!(
                                "Invalid lvs_sync_daemon port ({}) - ignoring",
                                w[i + 1]
                            )),
                        },
                        "ttl" => match self.uint(w, i + 1, 1, 255)? {
                            Some(v) => s.ttl = Some(v as u8),
                            None => self.err(format!(
                                "Invalid lvs_sync_daemon ttl ({}) - ignoring",
                                w[i + 1]
                            )),
                        },
                        _ => {
                            let g = w[i + 1].clone();
                            match self.sockaddr(&g, None) {
                                Err(()) => self
                                    .err(format!("Invalid lvs_sync_daemon group ({g}) - ignoring")),
                                Ok((a, _)) if !a.is_multicast() => self.err(format!(
                                    "lvs_sync_daemon group address {g} is not multicast - ignoring"
                                )),
                                Ok((a, _)) => s.group = Some(a),
                            }
                        }
                    }
                    i += 2;
                    continue;
                }
                _ => {}
            }
            if i == 2 {
                s.vrrp_instance = Some(w[2].clone());
                i += 1;
                continue;
            }
            if i == 3 {
                match self.uint(w, 3, 0, 255)? {
                    None => self.err(format!("Invalid syncid ({}) - defaulting to vrid", w[3])),
                    Some(v) => {
                        self.err("Please use keyword \"id\" before lvs_sync_daemon SYNCID");
                        s.sync_id = Some(v as u8);
                    }
                }
                i += 1;
                continue;
            }
            self.err(format!(
                "Unknown option {word} specified for lvs_sync_daemon"
            ));
            i += 1;
        }
        self.b.global.lvs_sync_daemon = Some(s);
        let _ = Vb::Ignore;
        Ok(())
    }
}

/// Whether `s` could be a host name (keepalived resolves it with getaddrinfo; lvs-keepalived
/// accepts any syntactically valid name without a DNS query).
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
}
