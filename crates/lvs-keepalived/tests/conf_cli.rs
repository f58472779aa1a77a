//! The `lvs-keepalived` binary's command line: keepalived's options, `-t` output and exit
//! status, `-h`, `-v`, and the daemon refusing a configuration that cannot run.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lvs-keepalived"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run lvs-keepalived")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lvs-ka-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A configuration that needs no network interface (only the checker part).
const GOOD: &str = "global_defs {\n router_id cli\n}\nvirtual_server 10.0.0.1 80 {\n protocol TCP\n lb_algo rr\n lb_kind NAT\n real_server 10.0.1.1 80 {\n  TCP_CHECK {\n  }\n }\n}\n";

#[test]
fn help_and_version() {
    let h = run(&["-h"]);
    assert_eq!(h.status.code(), Some(0));
    let e = stderr(&h);
    assert!(e.starts_with("Usage: "), "{e}");
    for opt in [
        "--use-file=FILE",
        "--config-test[=LOG_FILE]",
        "--vrrp",
        "--check",
        "--dont-fork",
        "--log-console",
        "--log-detail",
        "--vrrp_pid=FILE",
        "--checkers_pid=FILE",
        "/etc/keepalived/keepalived.conf",
    ] {
        assert!(e.contains(opt), "usage lacks {opt}");
    }
    assert_eq!(run(&["--help"]).status.code(), Some(0));
    let v = run(&["-v"]);
    assert_eq!(v.status.code(), Some(0));
    assert!(stderr(&v).starts_with("lvs-keepalived v"), "{}", stderr(&v));
    assert_eq!(run(&["--version"]).status.code(), Some(0));
}

#[test]
fn bad_options() {
    let o = run(&["--bogus"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "Unknown option --bogus\n");
    let o = run(&["-Z"]);
    assert_eq!(
        (o.status.code(), stderr(&o).as_str()),
        (Some(1), "Unknown option -Z\n")
    );
    let o = run(&["-f"]);
    assert_eq!(
        (o.status.code(), stderr(&o).as_str()),
        (Some(1), "Missing parameter for option -f\n")
    );
    let o = run(&["--use-file"]);
    assert_eq!(
        (o.status.code(), stderr(&o).as_str()),
        (Some(1), "Missing parameter for option --use-file\n")
    );
    let o = run(&["--use-file="]);
    assert_eq!(o.status.code(), Some(1));
    // "--conf" could be --config-test, --config-id or --config-fd.
    assert_eq!(run(&["--conf"]).status.code(), Some(1));
}

#[test]
fn signum() {
    let o = run(&["--signum=RELOAD"]);
    assert_eq!(
        (o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()),
        (Some(0), "1\n")
    );
    let o = run(&["--signum", "STOP"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "15\n");
    let o = run(&["--signum=NOPE"]);
    assert_eq!(
        (o.status.code(), stderr(&o).as_str()),
        (Some(1), "Unknown sigfunc NOPE\n")
    );
}

#[test]
fn config_test_good_and_bad() {
    let d = tempdir("t");
    let good = d.join("good.conf");
    std::fs::write(&good, GOOD).unwrap();
    let o = run(&["-t", "-f", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    // Long forms, option clusters and daemon options next to -t.
    let o = run(&[
        "-nlD",
        "--config-test",
        "--use-file",
        good.to_str().unwrap(),
        "-P",
        "-p",
        "/nonexistent/pid",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let bad = d.join("bad.conf");
    std::fs::write(
        &bad,
        GOOD.replace("lb_algo rr", "lb_algo fastest\n bogus_keyword"),
    )
    .unwrap();
    let o = run(&["-t", "-f", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5));
    let b = bad.to_str().unwrap();
    assert_eq!(
        stderr(&o),
        format!(
            "({b}: Line 6) Invalid lvs_scheduler 'fastest' - ignoring\n({b}: Line 7) Unknown keyword 'bogus_keyword'\n\
             Virtual server [10.0.0.1]:tcp:80: no scheduler set, setting default 'wlc'\n"
        )
    );

    let missing_param = d.join("stop.conf");
    std::fs::write(&missing_param, "global_defs {\n vrrp_version\n}\n").unwrap();
    let o = run(&["-t", "-f", missing_param.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));

    // -t=FILE appends the messages to FILE instead of stderr.
    let log = d.join("test.log");
    let o = run(&[&format!("--config-test={}", log.display()), "-f", b]);
    assert_eq!(o.status.code(), Some(5));
    assert_eq!(stderr(&o), "");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 3);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn config_test_relative_path_and_config_id() {
    let d = tempdir("rel");
    std::fs::write(
        d.join("main.conf"),
        "@node1 global_defs {\n@node1  bogus_only_on_node1\n@node1 }\n",
    )
    .unwrap();
    let o = bin()
        .current_dir(&d)
        .args(["-t", "-f", "main.conf", "-i", "node2"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = bin()
        .current_dir(&d)
        .args(["-t", "-f", "main.conf", "--config-id=node1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5));
    assert_eq!(
        stderr(&o),
        "(main.conf: Line 2) Unknown keyword 'bogus_only_on_node1'\n"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn unexpected_arguments_are_reported() {
    let d = tempdir("arg");
    let good = d.join("good.conf");
    std::fs::write(&good, GOOD).unwrap();
    let o = run(&["-t", "extra", "-f", good.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "Unexpected argument(s): extra \n"
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn the_daemon_does_not_start_on_a_configuration_that_cannot_run() {
    let o = run(&["-n", "-P", "-f", "/nonexistent/keepalived.conf"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot run"), "{}", stderr(&o));
}
