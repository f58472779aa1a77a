//! The keyword tables of keepalived 2.2.7 as Debian builds it (LVS, VRRP, VMAC, IPVLAN, VRF,
//! BFD, nftables, SNMP, D-Bus, regex, track_process, linkbeat): every keyword keepalived knows,
//! where it is allowed, whether it opens a block of keywords (`sub`) and which handler
//! lvs-keepalived runs for it. Keywords lvs-keepalived does not act on have
//! [`H::Ignore`] (a one-line keyword) or [`H::IgnoreValueBlock`] (a `{ }` block of lines) so
//! that they are accepted exactly where keepalived accepts them and nothing else.
//!
//! Which process handles a root keyword is its [`Group`]; keepalived parses the file once per
//! process and skips the blocks of the other processes by counting braces.

/// Which keepalived process a root keyword belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    /// The parent process (`global_defs` and the bare root keywords).
    Global,
    /// The VRRP process.
    Vrrp,
    /// The checker process.
    Check,
    /// BFD keywords (active in the VRRP and checker processes too).
    Bfd,
    /// `track_file` (active in the VRRP and checker processes).
    TrackFile,
}

/// Handlers. The `Ignore*` ones accept a keyword without acting on it.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum H {
    /// Accepted, nothing done (also used for blocks whose keywords are in `sub`).
    Ignore,
    /// Accepted; its `{ }` block of raw lines is read and dropped.
    IgnoreValueBlock,
    // global_defs
    RouterId,
    NotificationEmailFrom,
    SmtpServer,
    SmtpHeloName,
    SmtpConnectTimeout,
    NotificationEmail,
    SmtpAlert,
    SmtpAlertVrrp,
    SmtpAlertChecker,
    StartupScript,
    ShutdownScript,
    MaxAutoPriority,
    DynamicInterfaces,
    DefaultInterface,
    LvsTimeouts,
    LvsFlush,
    LvsFlushOnStop,
    LvsSyncDaemon,
    VrrpMcastGroup4,
    VrrpMcastGroup6,
    VrrpGarpMasterDelay,
    VrrpGarpMasterRepeat,
    VrrpGarpMasterRefresh,
    VrrpGarpMasterRefreshRepeat,
    VrrpGarpLowerPrioDelay,
    VrrpGarpLowerPrioRepeat,
    VrrpDownTimerAdverts,
    VrrpGarpInterval,
    VrrpGnaInterval,
    VrrpMinGarp,
    VrrpLowerPrioNoAdvert,
    VrrpHigherPrioSendAdvert,
    VrrpVersion,
    VrrpIptables,
    Nftables,
    VrrpCheckUnicastSrc,
    VrrpSkipCheckAdvAddr,
    VrrpStrict,
    NotifyFifo,
    VrrpNotifyFifo,
    LvsNotifyFifo,
    ScriptUser,
    EnableScriptSecurity,
    VrrpStartupDelay,
    LogUnknownVrids,
    // root vrrp
    TrackGroup,
    StaticAddresses,
    StaticRoutes,
    StaticRules,
    SyncGroup,
    Instance,
    VrrpScript,
    // sync group
    SgGroup,
    SgTrackInterface,
    SgTrackScript,
    SgNotifyBackup,
    SgNotifyMaster,
    SgNotifyFault,
    SgNotifyStop,
    SgNotify,
    SgSmtpAlert,
    SgGlobalTracking,
    SgTrackingWeight,
    SgNotifyPriorityChanges,
    // vrrp_instance
    UseVmac,
    UnicastPeer,
    UnicastFaultNoPeer,
    CheckUnicastSrc,
    OldUnicastChecksum,
    NativeIpv6,
    State,
    Interface,
    Vrf,
    DontTrackPrimary,
    TrackInterface,
    TrackScript,
    McastSrcIp,
    UnicastSrcIp,
    McastDstIp,
    VirtualRouterId,
    UnicastTtl,
    Version,
    Priority,
    AdvertInt,
    VirtualIpaddress,
    VirtualIpaddressExcluded,
    PromoteSecondaries,
    LinkbeatUsePolling,
    VirtualRoutes,
    VirtualRules,
    Accept,
    NoAccept,
    SkipCheckAdvAddr,
    StrictMode,
    Preempt,
    Nopreempt,
    PreemptDelay,
    Debug,
    NotifyBackup,
    NotifyMaster,
    NotifyFault,
    NotifyStop,
    NotifyDeleted,
    Notify,
    NotifyMasterRxLowerPri,
    InstSmtpAlert,
    NotifyPriorityChanges,
    LvsSyncDaemonInterface,
    GarpMasterDelay,
    GarpMasterRefresh,
    GarpMasterRepeat,
    GarpMasterRefreshRepeat,
    GarpLowerPrioDelay,
    GarpLowerPrioRepeat,
    DownTimerAdverts,
    LowerPrioNoAdvert,
    HigherPrioSendAdvert,
    KernelRxBufSize,
    AuthType,
    AuthPass,
    // vrrp_script
    ScriptScript,
    ScriptInterval,
    ScriptTimeout,
    ScriptWeight,
    ScriptRise,
    ScriptFall,
    ScriptUserKw,
    ScriptInitFail,
    // check
    Vsg,
    Vs,
    IpFamily,
    VsRetry,
    VsDelayBeforeRetry,
    VsWarmup,
    VsConnectTimeout,
    VsDelayLoop,
    VsInhibit,
    LbAlgo,
    LbFlags,
    LbKind,
    PersistenceEngine,
    PersistenceTimeout,
    PersistenceGranularity,
    Protocol,
    HaSuspend,
    VsSmtpAlert,
    VsVirtualhost,
    VsAlpha,
    Omega,
    QuorumUp,
    QuorumDown,
    Quorum,
    Hysteresis,
    VsWeight,
    SorryServer,
    SorryServerInhibit,
    SorryServerLvsMethod,
    RealServer,
    RsWeight,
    RsLvsMethod,
    Uthreshold,
    Lthreshold,
    RsInhibit,
    NotifyUp,
    NotifyDown,
    RsAlpha,
    RsRetry,
    RsDelayBeforeRetry,
    RsWarmup,
    RsConnectTimeout,
    RsDelayLoop,
    RsSmtpAlert,
    RsVirtualhost,
    // checkers
    TcpCheck,
    HttpGet,
    SslGet,
    MiscCheck,
    UdpCheck,
    PingCheck,
    SmtpCheck,
    DnsCheck,
    FileCheck,
    BfdCheck,
    CoConnectIp,
    CoConnectPort,
    CoBindto,
    CoBindPort,
    CoBindIf,
    CoConnectTimeout,
    CoFwmark,
    ChkRetry,
    ChkDelayBeforeRetry,
    ChkWarmup,
    ChkDelayLoop,
    ChkAlpha,
    ChkLogAllFailures,
    HttpNbGetRetry,
    HttpVirtualhost,
    HttpProtocol,
    HttpEnableSni,
    HttpFastRecovery,
    Url,
    UrlPath,
    UrlDigest,
    UrlStatusCode,
    UrlVirtualhost,
    UrlRegex,
    UrlRegexNoMatch,
    MiscPath,
    MiscTimeout,
    MiscDynamic,
    MiscUser,
    UdpPayload,
    UdpRequireReply,
    UdpMinReplyLength,
    UdpMaxReplyLength,
    SmtpHelo,
    DnsType,
    DnsName,
    FileTrackFile,
    BfdName,
    TrackFileBlock,
    TfFile,
    TfWeight,
    TfInit,
    FileWeight,
    SmtpHost,
}

/// One keyword.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kw {
    /// The word, matched exactly (`strcmp`).
    pub name: &'static str,
    /// What runs when it is seen.
    pub h: H,
    /// The keywords allowed in its `{ }` block, for block keywords.
    pub sub: Option<&'static [Kw]>,
    /// Process of a root keyword (ignored below the root).
    pub group: Group,
}

const fn k(name: &'static str, h: H) -> Kw {
    Kw {
        name,
        h,
        sub: None,
        group: Group::Global,
    }
}

const fn kb(name: &'static str, h: H, sub: &'static [Kw]) -> Kw {
    Kw {
        name,
        h,
        sub: Some(sub),
        group: Group::Global,
    }
}

const fn root(name: &'static str, h: H, group: Group) -> Kw {
    Kw {
        name,
        h,
        sub: None,
        group,
    }
}

const fn rootb(name: &'static str, h: H, group: Group, sub: &'static [Kw]) -> Kw {
    Kw {
        name,
        h,
        sub: Some(sub),
        group,
    }
}

use H::{Ignore as I, IgnoreValueBlock as IVB};

/// `global_defs { }` (keepalived/core/global_parser.c `init_global_keywords`).
pub(crate) static GLOBAL_DEFS: &[Kw] = &[
    k("process_names", I),
    k("process_name", I),
    k("vrrp_process_name", I),
    k("checker_process_name", I),
    k("lvs_process_name", I),
    k("bfd_process_name", I),
    k("router_id", H::RouterId),
    k("notification_email_from", H::NotificationEmailFrom),
    k("smtp_server", H::SmtpServer),
    k("smtp_helo_name", H::SmtpHeloName),
    k("smtp_connect_timeout", H::SmtpConnectTimeout),
    k("notification_email", H::NotificationEmail),
    k("smtp_alert", H::SmtpAlert),
    k("startup_script", H::StartupScript),
    k("startup_script_timeout", I),
    k("shutdown_script", H::ShutdownScript),
    k("shutdown_script_timeout", I),
    k("max_auto_priority", H::MaxAutoPriority),
    k("min_auto_priority_delay", I),
    k("smtp_alert_vrrp", H::SmtpAlertVrrp),
    k("smtp_alert_checker", H::SmtpAlertChecker),
    k("checker_log_all_failures", I),
    k("dynamic_interfaces", H::DynamicInterfaces),
    k("no_email_faults", I),
    k("default_interface", H::DefaultInterface),
    k("disable_local_igmp", I),
    k("lvs_timeouts", H::LvsTimeouts),
    k("lvs_flush", H::LvsFlush),
    k("lvs_flush_on_stop", H::LvsFlushOnStop),
    k("lvs_flush_onstop", H::LvsFlushOnStop),
    k("lvs_sync_daemon", H::LvsSyncDaemon),
    k("vrrp_mcast_group4", H::VrrpMcastGroup4),
    k("vrrp_mcast_group6", H::VrrpMcastGroup6),
    k("vrrp_garp_master_delay", H::VrrpGarpMasterDelay),
    k("vrrp_garp_master_repeat", H::VrrpGarpMasterRepeat),
    k("vrrp_garp_master_refresh", H::VrrpGarpMasterRefresh),
    k(
        "vrrp_garp_master_refresh_repeat",
        H::VrrpGarpMasterRefreshRepeat,
    ),
    k("vrrp_garp_lower_prio_delay", H::VrrpGarpLowerPrioDelay),
    k("vrrp_garp_lower_prio_repeat", H::VrrpGarpLowerPrioRepeat),
    k("vrrp_down_timer_adverts", H::VrrpDownTimerAdverts),
    k("vrrp_garp_interval", H::VrrpGarpInterval),
    k("vrrp_gna_interval", H::VrrpGnaInterval),
    k("vrrp_min_garp", H::VrrpMinGarp),
    k("vrrp_garp_extra_if", I),
    k("vrrp_vmac_garp_intvl", I),
    k("vrrp_lower_prio_no_advert", H::VrrpLowerPrioNoAdvert),
    k("vrrp_higher_prio_send_advert", H::VrrpHigherPrioSendAdvert),
    k("vrrp_version", H::VrrpVersion),
    k("vrrp_iptables", H::VrrpIptables),
    k("nftables", H::Nftables),
    k("nftables_priority", I),
    k("nftables_ifindex", I),
    k("nftables_ipvs", I),
    k("nftables_ipvs_priority", I),
    k("nftables_ipvs_start_fwmark", I),
    k("nftables_counters", I),
    k("vrrp_check_unicast_src", H::VrrpCheckUnicastSrc),
    k("vrrp_skip_check_adv_addr", H::VrrpSkipCheckAdvAddr),
    k("vrrp_strict", H::VrrpStrict),
    k("vrrp_priority", I),
    k("vrrp_no_swap", I),
    k("vrrp_rt_priority", I),
    k("vrrp_cpu_affinity", I),
    k("vrrp_rlimit_rttime", I),
    k("vrrp_rlimit_rtime", I),
    k("notify_fifo", H::NotifyFifo),
    k("notify_fifo_script", I),
    k("vrrp_notify_fifo", H::VrrpNotifyFifo),
    k("vrrp_notify_fifo_script", I),
    k("vrrp_notify_priority_changes", I),
    k("fifo_write_vrrp_states_on_reload", I),
    k("lvs_notify_fifo", H::LvsNotifyFifo),
    k("lvs_notify_fifo_script", I),
    k("checker_priority", I),
    k("checker_no_swap", I),
    k("checker_rt_priority", I),
    k("checker_cpu_affinity", I),
    k("checker_rlimit_rttime", I),
    k("checker_rlimit_rtime", I),
    k("bfd_priority", I),
    k("bfd_no_swap", I),
    k("bfd_rt_priority", I),
    k("bfd_cpu_affinity", I),
    k("bfd_rlimit_rttime", I),
    k("bfd_rlimit_rtime", I),
    k("snmp_socket", I),
    k("enable_traps", I),
    k("enable_snmp_vrrp", I),
    k("enable_snmp_keepalived", I),
    k("enable_snmp_rfc", I),
    k("enable_snmp_rfcv2", I),
    k("enable_snmp_rfcv3", I),
    k("enable_snmp_checker", I),
    k("enable_dbus", I),
    k("dbus_service_name", I),
    k("script_user", H::ScriptUser),
    k("enable_script_security", H::EnableScriptSecurity),
    k("vrrp_netlink_cmd_rcv_bufs", I),
    k("vrrp_netlink_cmd_rcv_bufs_force", I),
    k("vrrp_netlink_monitor_rcv_bufs", I),
    k("vrrp_netlink_monitor_rcv_bufs_force", I),
    k("process_monitor_rcv_bufs", I),
    k("process_monitor_rcv_bufs_force", I),
    k("lvs_netlink_cmd_rcv_bufs", I),
    k("lvs_netlink_cmd_rcv_bufs_force", I),
    k("lvs_netlink_monitor_rcv_bufs", I),
    k("lvs_netlink_monitor_rcv_bufs_force", I),
    k("rs_init_notifies", I),
    k("no_checker_emails", I),
    k("vrrp_rx_bufs_policy", I),
    k("vrrp_rx_bufs_multiplier", I),
    k("vrrp_startup_delay", H::VrrpStartupDelay),
    k("log_unknown_vrids", H::LogUnknownVrids),
    k("vmac_prefix", I),
    k("vmac_addr_prefix", I),
    k("umask", I),
    k("random_seed", I),
    k("reload_check_config", I),
    k("reload_time_file", I),
    k("reload_repeat", I),
    k("reload_file", I),
    k("include_check", I),
    k("config_save_dir", I),
    k("tmp_config_directory", I),
    k("data_use_instance", I),
];

const TRACK_GROUP: &[Kw] = &[k("group", IVB)];

const SYNC_GROUP: &[Kw] = &[
    k("group", H::SgGroup),
    k("track_interface", H::SgTrackInterface),
    k("track_script", H::SgTrackScript),
    k("track_file", IVB),
    k("track_process", IVB),
    k("track_bfd", IVB),
    k("notify_backup", H::SgNotifyBackup),
    k("notify_master", H::SgNotifyMaster),
    k("notify_fault", H::SgNotifyFault),
    k("notify_stop", H::SgNotifyStop),
    k("notify", H::SgNotify),
    k("smtp_alert", H::SgSmtpAlert),
    k("global_tracking", H::SgGlobalTracking),
    k("sync_group_tracking_weight", H::SgTrackingWeight),
    k("notify_priority_changes", H::SgNotifyPriorityChanges),
];

const GARP_GROUP: &[Kw] = &[
    k("garp_interval", I),
    k("gna_interval", I),
    k("interface", I),
    k("interfaces", IVB),
];

const AUTHENTICATION: &[Kw] = &[k("auth_type", H::AuthType), k("auth_pass", H::AuthPass)];

const INSTANCE: &[Kw] = &[
    k("use_vmac", H::UseVmac),
    k("use_vmac_addr", I),
    k("vmac_xmit_base", I),
    k("use_ipvlan", I),
    k("unicast_peer", H::UnicastPeer),
    k("unicast_fault_no_peer", H::UnicastFaultNoPeer),
    k("check_unicast_src", H::CheckUnicastSrc),
    k("old_unicast_checksum", H::OldUnicastChecksum),
    k("native_ipv6", H::NativeIpv6),
    k("state", H::State),
    k("interface", H::Interface),
    k("vrf", H::Vrf),
    k("dont_track_primary", H::DontTrackPrimary),
    k("track_interface", H::TrackInterface),
    k("track_script", H::TrackScript),
    k("track_file", IVB),
    k("track_process", IVB),
    k("track_bfd", IVB),
    k("mcast_src_ip", H::McastSrcIp),
    k("unicast_src_ip", H::UnicastSrcIp),
    k("mcast_dst_ip", H::McastDstIp),
    k("track_src_ip", I),
    k("virtual_router_id", H::VirtualRouterId),
    k("unicast_ttl", H::UnicastTtl),
    k("version", H::Version),
    k("priority", H::Priority),
    k("advert_int", H::AdvertInt),
    k("virtual_ipaddress", H::VirtualIpaddress),
    k("virtual_ipaddress_excluded", H::VirtualIpaddressExcluded),
    k("promote_secondaries", H::PromoteSecondaries),
    k("linkbeat_use_polling", H::LinkbeatUsePolling),
    k("virtual_routes", H::VirtualRoutes),
    k("virtual_rules", H::VirtualRules),
    k("accept", H::Accept),
    k("no_accept", H::NoAccept),
    k("skip_check_adv_addr", H::SkipCheckAdvAddr),
    k("strict_mode", H::StrictMode),
    k("preempt", H::Preempt),
    k("nopreempt", H::Nopreempt),
    k("preempt_delay", H::PreemptDelay),
    k("debug", H::Debug),
    k("notify_backup", H::NotifyBackup),
    k("notify_master", H::NotifyMaster),
    k("notify_fault", H::NotifyFault),
    k("notify_stop", H::NotifyStop),
    k("notify_deleted", H::NotifyDeleted),
    k("notify", H::Notify),
    k("notify_master_rx_lower_pri", H::NotifyMasterRxLowerPri),
    k("smtp_alert", H::InstSmtpAlert),
    k("notify_priority_changes", H::NotifyPriorityChanges),
    k("lvs_sync_daemon_interface", H::LvsSyncDaemonInterface),
    k("garp_master_delay", H::GarpMasterDelay),
    k("garp_master_refresh", H::GarpMasterRefresh),
    k("garp_master_repeat", H::GarpMasterRepeat),
    k("garp_master_refresh_repeat", H::GarpMasterRefreshRepeat),
    k("garp_lower_prio_delay", H::GarpLowerPrioDelay),
    k("garp_lower_prio_repeat", H::GarpLowerPrioRepeat),
    k("down_timer_adverts", H::DownTimerAdverts),
    k("garp_extra_if", I),
    k("vmac_garp_intvl", I),
    k("lower_prio_no_advert", H::LowerPrioNoAdvert),
    k("higher_prio_send_advert", H::HigherPrioSendAdvert),
    k("kernel_rx_buf_size", H::KernelRxBufSize),
    kb("authentication", I, AUTHENTICATION),
];

const VRRP_SCRIPT: &[Kw] = &[
    k("script", H::ScriptScript),
    k("interval", H::ScriptInterval),
    k("timeout", H::ScriptTimeout),
    k("weight", H::ScriptWeight),
    k("rise", H::ScriptRise),
    k("fall", H::ScriptFall),
    k("user", H::ScriptUserKw),
    k("init_fail", H::ScriptInitFail),
];

const TRACK_PROCESS: &[Kw] = &[
    k("process", I),
    k("param_match", I),
    k("weight", I),
    k("quorum", I),
    k("quorum_max", I),
    k("delay", I),
    k("terminate_delay", I),
    k("fork_delay", I),
    k("full_command", I),
];

const SSL: &[Kw] = &[
    k("password", I),
    k("ca", I),
    k("certificate", I),
    k("key", I),
];

/// Keywords every checker with a connection has (check_api.c, `connection_keywords` true),
/// followed by the common ones.
macro_rules! conn_keywords {
    () => {
        [
            k("connect_ip", H::CoConnectIp),
            k("connect_port", H::CoConnectPort),
            k("bindto", H::CoBindto),
            k("bind_port", H::CoBindPort),
            k("bind_if", H::CoBindIf),
            k("connect_timeout", H::CoConnectTimeout),
            k("fwmark", H::CoFwmark),
        ]
    };
}

macro_rules! common_keywords {
    () => {
        [
            k("retry", H::ChkRetry),
            k("delay_before_retry", H::ChkDelayBeforeRetry),
            k("warmup", H::ChkWarmup),
            k("delay_loop", H::ChkDelayLoop),
            k("alpha", H::ChkAlpha),
            k("log_all_failures", H::ChkLogAllFailures),
        ]
    };
}

const TCP_CHECK: &[Kw] = &{
    let c = conn_keywords!();
    let m = common_keywords!();
    [
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], m[0], m[1], m[2], m[3], m[4], m[5],
    ]
};

const PING_CHECK: &[Kw] = TCP_CHECK;

const UDP_CHECK: &[Kw] = &{
    let c = conn_keywords!();
    let m = common_keywords!();
    [
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        c[6],
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        k("payload", H::UdpPayload),
        k("require_reply", H::UdpRequireReply),
        k("min_reply_length", H::UdpMinReplyLength),
        k("max_reply_length", H::UdpMaxReplyLength),
    ]
};

const URL: &[Kw] = &[
    k("path", H::UrlPath),
    k("digest", H::UrlDigest),
    k("status_code", H::UrlStatusCode),
    k("virtualhost", H::UrlVirtualhost),
    k("regex", H::UrlRegex),
    k("regex_no_match", H::UrlRegexNoMatch),
    k("regex_options", I),
    k("regex_min_offset", I),
    k("regex_max_offset", I),
    k("regex_stack", I),
];

const HTTP_GET: &[Kw] = &{
    let c = conn_keywords!();
    let m = common_keywords!();
    [
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        c[6],
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        k("nb_get_retry", H::HttpNbGetRetry),
        k("virtualhost", H::HttpVirtualhost),
        k("http_protocol", H::HttpProtocol),
        k("enable_sni", H::HttpEnableSni),
        k("fast_recovery", H::HttpFastRecovery),
        kb("url", H::Url, URL),
    ]
};

const MISC_CHECK: &[Kw] = &{
    let m = common_keywords!();
    [
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        k("misc_path", H::MiscPath),
        k("misc_timeout", H::MiscTimeout),
        k("misc_dynamic", H::MiscDynamic),
        k("user", H::MiscUser),
    ]
};

const SMTP_HOST: &[Kw] = TCP_CHECK;

const SMTP_CHECK: &[Kw] = &{
    let c = conn_keywords!();
    let m = common_keywords!();
    [
        k("helo_name", H::SmtpHelo),
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        c[6],
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        kb("host", H::SmtpHost, SMTP_HOST),
    ]
};

const DNS_CHECK: &[Kw] = &{
    let c = conn_keywords!();
    let m = common_keywords!();
    [
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        c[5],
        c[6],
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5],
        k("type", H::DnsType),
        k("name", H::DnsName),
    ]
};

const FILE_CHECK: &[Kw] = &[
    k("track_file", H::FileTrackFile),
    k("weight", H::FileWeight),
];

const BFD_CHECK: &[Kw] = &[k("name", H::BfdName), k("alpha", I)];

const REAL_SERVER: &[Kw] = &[
    k("weight", H::RsWeight),
    k("lvs_method", H::RsLvsMethod),
    k("uthreshold", H::Uthreshold),
    k("lthreshold", H::Lthreshold),
    k("inhibit_on_failure", H::RsInhibit),
    k("notify_up", H::NotifyUp),
    k("notify_down", H::NotifyDown),
    k("alpha", H::RsAlpha),
    k("retry", H::RsRetry),
    k("delay_before_retry", H::RsDelayBeforeRetry),
    k("warmup", H::RsWarmup),
    k("connect_timeout", H::RsConnectTimeout),
    k("delay_loop", H::RsDelayLoop),
    k("smtp_alert", H::RsSmtpAlert),
    k("virtualhost", H::RsVirtualhost),
    k("snmp_name", I),
    kb("MISC_CHECK", H::MiscCheck, MISC_CHECK),
    kb("SMTP_CHECK", H::SmtpCheck, SMTP_CHECK),
    kb("TCP_CHECK", H::TcpCheck, TCP_CHECK),
    kb("PING_CHECK", H::PingCheck, PING_CHECK),
    kb("UDP_CHECK", H::UdpCheck, UDP_CHECK),
    kb("HTTP_GET", H::HttpGet, HTTP_GET),
    kb("SSL_GET", H::SslGet, HTTP_GET),
    kb("DNS_CHECK", H::DnsCheck, DNS_CHECK),
    kb("FILE_CHECK", H::FileCheck, FILE_CHECK),
    kb("BFD_CHECK", H::BfdCheck, BFD_CHECK),
];

const VIRTUAL_SERVER: &[Kw] = &[
    k("ip_family", H::IpFamily),
    k("retry", H::VsRetry),
    k("delay_before_retry", H::VsDelayBeforeRetry),
    k("warmup", H::VsWarmup),
    k("connect_timeout", H::VsConnectTimeout),
    k("delay_loop", H::VsDelayLoop),
    k("inhibit_on_failure", H::VsInhibit),
    k("lb_algo", H::LbAlgo),
    k("lvs_sched", H::LbAlgo),
    k("hashed", H::LbFlags),
    k("ops", H::LbFlags),
    k("flag-1", H::LbFlags),
    k("flag-2", H::LbFlags),
    k("flag-3", H::LbFlags),
    k("sh-port", H::LbFlags),
    k("sh-fallback", H::LbFlags),
    k("mh-port", H::LbFlags),
    k("mh-fallback", H::LbFlags),
    k("lb_kind", H::LbKind),
    k("lvs_method", H::LbKind),
    k("persistence_engine", H::PersistenceEngine),
    k("persistence_timeout", H::PersistenceTimeout),
    k("persistence_granularity", H::PersistenceGranularity),
    k("protocol", H::Protocol),
    k("ha_suspend", H::HaSuspend),
    k("smtp_alert", H::VsSmtpAlert),
    k("virtualhost", H::VsVirtualhost),
    k("snmp_name", I),
    k("alpha", H::VsAlpha),
    k("omega", H::Omega),
    k("quorum_up", H::QuorumUp),
    k("quorum_down", H::QuorumDown),
    k("quorum", H::Quorum),
    k("hysteresis", H::Hysteresis),
    k("weight", H::VsWeight),
    k("sorry_server", H::SorryServer),
    k("sorry_server_inhibit", H::SorryServerInhibit),
    k("sorry_server_lvs_method", H::SorryServerLvsMethod),
    kb("real_server", H::RealServer, REAL_SERVER),
];

const BFD_INSTANCE: &[Kw] = &[
    k("source_ip", I),
    k("neighbor_ip", I),
    k("neighbour_ip", I),
    k("min_rx", I),
    k("min_tx", I),
    k("idle_tx", I),
    k("multiplier", I),
    k("passive", I),
    k("ttl", I),
    k("hoplimit", I),
    k("max_hops", I),
    k("weight", I),
    k("vrrp", I),
    k("checker", I),
];

const TRACK_FILE: &[Kw] = &[
    k("file", H::TfFile),
    k("weight", H::TfWeight),
    k("init_file", H::TfInit),
];

/// The root keywords, in keepalived's installation order.
pub(crate) static ROOT: &[Kw] = &[
    root("linkbeat_use_polling", I, Group::Global),
    root("net_namespace", I, Group::Global),
    root("net_namespace_ipvs", I, Group::Global),
    root("namespace_with_ipsets", I, Group::Global),
    root("use_pid_dir", I, Group::Global),
    root("instance", I, Group::Global),
    root("child_wait_time", I, Group::Global),
    rootb("global_defs", I, Group::Global, GLOBAL_DEFS),
    rootb("track_group", H::TrackGroup, Group::Vrrp, TRACK_GROUP),
    root("static_ipaddress", H::StaticAddresses, Group::Vrrp),
    root("static_routes", H::StaticRoutes, Group::Vrrp),
    root("static_rules", H::StaticRules, Group::Vrrp),
    rootb("vrrp_sync_group", H::SyncGroup, Group::Vrrp, SYNC_GROUP),
    rootb("garp_group", I, Group::Vrrp, GARP_GROUP),
    root("linkbeat_interfaces", IVB, Group::Vrrp),
    rootb("vrrp_instance", H::Instance, Group::Vrrp, INSTANCE),
    rootb("vrrp_script", H::VrrpScript, Group::Vrrp, VRRP_SCRIPT),
    rootb("vrrp_track_process", I, Group::Vrrp, TRACK_PROCESS),
    root("interface_up_down_delays", IVB, Group::Vrrp),
    rootb("SSL", I, Group::Check, SSL),
    root("virtual_server_group", H::Vsg, Group::Check),
    rootb("virtual_server", H::Vs, Group::Check, VIRTUAL_SERVER),
    rootb("bfd_instance", I, Group::Bfd, BFD_INSTANCE),
    rootb(
        "track_file",
        H::TrackFileBlock,
        Group::TrackFile,
        TRACK_FILE,
    ),
    rootb(
        "vrrp_track_file",
        H::TrackFileBlock,
        Group::TrackFile,
        TRACK_FILE,
    ),
];
