//! `lvs-keepalived -t` against the real keepalived 2.2.7: every case in tests/conf_cases and
//! every sample Debian ships (tests/samples) has a `.expected` file recorded from
//! `keepalived -t` by tests/record-oracle.sh. The exit status must be the same and so must the
//! set of messages (reduced to `LN: text`); a `.known-diff` file lists the deliberate
//! differences (an lvs-rs extension, for instance) and overrides the status.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use lvs_keepalived::conf::{self, InterfaceInfo, LoadOptions, StaticEnv};

/// The machine record-oracle.sh runs keepalived on: lo, eth0..eth3 and their veth peers.
fn oracle_env() -> StaticEnv {
    let mut env = StaticEnv::with_interfaces(&["eth0", "eth1", "eth2", "eth3"]);
    for i in 0..4u32 {
        env.interfaces
            .insert(format!("peer{i}"), InterfaceInfo::ethernet(10 + i));
    }
    env
}

struct Expected {
    rc: i32,
    messages: BTreeSet<String>,
}

fn read_expected(path: &Path) -> Expected {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let rc = lines
        .next()
        .and_then(|l| l.strip_prefix("rc="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{}: first line must be rc=N", path.display()));
    Expected {
        rc,
        messages: lines.map(str::to_string).collect(),
    }
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut v = Vec::new();
    for dir in ["conf_cases", "samples"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let is_case = if dir == "samples" {
                name.starts_with("keepalived.conf.")
            } else {
                name.ends_with(".conf")
            };
            if is_case
                && !name.ends_with(".expected")
                && !name.ends_with(".known-diff")
                && p.is_file()
            {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

fn ours(path: &Path) -> (i32, BTreeSet<String>) {
    let opts = LoadOptions {
        config_id: Some("lvs1".to_string()),
        base_dir: Some(path.parent().unwrap().to_path_buf()),
        ..LoadOptions::default()
    };
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let loaded = conf::load_file(&name, &opts, &oracle_env());
    let msgs = loaded
        .diagnostics
        .reported()
        .map(|d| match &d.location {
            Some(l) => format!("L{}: {}", l.line, d.message),
            None => d.message.clone(),
        })
        .collect();
    (loaded.exit_status, msgs)
}

#[test]
fn config_test_matches_keepalived() {
    let all = cases();
    assert!(
        all.len() > 100,
        "the corpus is missing ({} files)",
        all.len()
    );
    let mut failures = Vec::new();
    for path in &all {
        let exp_path = PathBuf::from(format!("{}.expected", path.display()));
        let mut exp = read_expected(&exp_path);
        let kd = PathBuf::from(format!("{}.known-diff", path.display()));
        let mut extra_ok = BTreeSet::new();
        if let Ok(text) = std::fs::read_to_string(&kd) {
            for l in text.lines() {
                if let Some(v) = l.strip_prefix("rc=") {
                    exp.rc = v.parse().unwrap();
                } else if let Some(m) = l.strip_prefix('-') {
                    assert!(
                        exp.messages.remove(m),
                        "{}: known-diff line not in .expected: {m}",
                        kd.display()
                    );
                } else if let Some(m) = l.strip_prefix('+') {
                    extra_ok.insert(m.to_string());
                }
            }
        }
        let (rc, mut msgs) = ours(path);
        for m in &extra_ok {
            msgs.remove(m);
        }
        if rc != exp.rc || msgs != exp.messages {
            let missing: Vec<_> = exp.messages.difference(&msgs).collect();
            let extra: Vec<_> = msgs.difference(&exp.messages).collect();
            failures.push(format!(
                "{}: keepalived rc={} ours rc={rc}\n  only keepalived: {missing:?}\n  only ours: {extra:?}",
                path.display(),
                exp.rc
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
