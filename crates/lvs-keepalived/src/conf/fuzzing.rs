//! The body of the `keepalived_conf` fuzz target (fuzz/fuzz_targets/keepalived_conf.rs), also run
//! on stable Rust by tests/conf_fuzz_smoke.rs.

use super::diag::{Level, exit_status_for};
use super::env::{InterfaceInfo, StaticEnv};
use super::keywords::{Kw, ROOT};
use super::{LoadOptions, load_bytes};

/// The machine the fuzz target checks against: lo, eth0, eth1.
fn env() -> StaticEnv {
    let mut e = StaticEnv::with_interfaces(&["eth0", "eth1"]);
    e.interfaces
        .insert("peer0".to_string(), InterfaceInfo::ethernet(9));
    e
}

/// Loads `data` as a keepalived.conf (includes not followed, `~SEQ` bounded) and checks what
/// must hold for any input: no panic, keepalived's exit statuses only, the status agrees with
/// the messages, and every message has text.
pub fn keepalived_conf(data: &[u8]) {
    let opts = LoadOptions {
        config_id: Some("lvs1".to_string()),
        allow_includes: false,
        max_generated_lines: 2000,
        ..LoadOptions::default()
    };
    let loaded = load_bytes("fuzz.conf", data, &opts, &env());
    let status = loaded.exit_status;
    assert!(matches!(status, 0 | 2 | 4 | 5 | 6), "exit status {status}");
    let from_messages = exit_status_for(loaded.diagnostics.status_level());
    if status != 2 && status != 6 {
        assert_eq!(status, from_messages, "{:?}", loaded.diagnostics.all());
    }
    if status == 2 {
        assert!(
            loaded
                .diagnostics
                .all()
                .iter()
                .any(|d| d.level == Level::MissingParameter)
        );
    }
    for d in loaded.diagnostics.all() {
        assert!(!d.message.is_empty());
        let _ = d.to_string();
    }
    let c = &loaded.config;
    for i in &c.vrrp_instances {
        assert!(i.version == 2 || i.version == 3, "{i:?}");
    }
}

/// Every keyword keepalived knows, for dictionaries and generators.
pub fn keywords() -> Vec<&'static str> {
    fn walk(t: &'static [Kw], out: &mut Vec<&'static str>) {
        for k in t {
            if !out.contains(&k.name) {
                out.push(k.name);
            }
            if let Some(s) = k.sub {
                walk(s, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(ROOT, &mut v);
    v
}
