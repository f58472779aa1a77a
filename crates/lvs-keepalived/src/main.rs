//! `lvs-keepalived`: keepalived's command line. `-t` (`--config-test`) checks a
//! configuration exactly as keepalived 2.2.7's `-t` does (messages on stderr, same exit status);
//! `-h` and `-v` work; otherwise it runs the daemon in the foreground ([`daemon::run`]).

use std::io::Write;
use std::process::ExitCode;

use lvs_keepalived::conf::{self, DEFAULT_CONFIG_FILE, LoadOptions, SystemEnv};
use lvs_keepalived::daemon;

/// How an option takes its argument (getopt_long's has_arg).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    Optional,
}

/// (long name, short letter, argument). Short-only options have an empty long name; long-only
/// ones use a letter above 'z' as their key.
const OPTIONS: &[(&str, char, Arg)] = &[
    ("use-file", 'f', Arg::Required),
    ("vrrp", 'P', Arg::None),
    ("check", 'C', Arg::None),
    ("no_bfd", 'B', Arg::None),
    ("all", '\u{3}', Arg::None),
    ("log-console", 'l', Arg::None),
    ("log-detail", 'D', Arg::None),
    ("log-facility", 'S', Arg::Required),
    ("log-file", 'g', Arg::Optional),
    ("all-config", 'e', Arg::None),
    ("no-syslog", 'G', Arg::None),
    ("umask", 'u', Arg::Required),
    ("release-vips", 'X', Arg::None),
    ("dont-release-vrrp", 'V', Arg::None),
    ("dont-release-ipvs", 'I', Arg::None),
    ("dont-respawn", 'R', Arg::None),
    ("dont-fork", 'n', Arg::None),
    ("dump-conf", 'd', Arg::None),
    ("pid", 'p', Arg::Required),
    ("vrrp_pid", 'r', Arg::Required),
    ("genhash", 'T', Arg::None),
    ("checkers_pid", 'c', Arg::Required),
    ("address-monitoring", 'a', Arg::None),
    ("bfd_pid", 'b', Arg::Required),
    ("snmp", 'x', Arg::None),
    ("snmp-agent-socket", 'A', Arg::Required),
    ("core-dump", 'm', Arg::None),
    ("core-dump-pattern", 'M', Arg::Optional),
    ("namespace", 's', Arg::Required),
    ("config-id", 'i', Arg::Required),
    ("signum", '\u{4}', Arg::Required),
    ("config-test", 't', Arg::Optional),
    ("config-fd", '\u{8}', Arg::Required),
    ("version", 'v', Arg::None),
    ("help", 'h', Arg::None),
];

#[derive(Default)]
struct Cmd {
    conf_file: Option<String>,
    config_test: bool,
    config_test_log: Option<String>,
    config_id: Option<String>,
    all_config: bool,
    vrrp_only: bool,
    check_only: bool,
    dont_fork: bool,
    log_console: bool,
    log_detail: u8,
    pid_file: Option<String>,
    vrrp_pid_file: Option<String>,
    checkers_pid_file: Option<String>,
    dont_release_ipvs: bool,
    bad_option: bool,
}

fn usage(prog: &str) -> String {
    let mut s = format!("Usage: {prog} [OPTION...]\n");
    s.push_str(&format!(
        "  -f, --use-file=FILE          Use the specified configuration file\n                                default '{DEFAULT_CONFIG_FILE}'\n"
    ));
    s.push_str(
        "  -P, --vrrp                   Only run with VRRP subsystem\n\
  -C, --check                  Only run with Health-checker subsystem\n\
  -B, --no_bfd                 Don't run BFD subsystem\n\
      --all                    Force all child processes to run, even if have no configuration\n\
  -l, --log-console            Log messages to local console\n\
  -D, --log-detail             Detailed log messages\n\
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)\n\
                               Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)\n\
  -G, --no-syslog              Don't log via syslog\n\
  -u, --umask=MASK             umask for file creation (in numeric form)\n\
  -X, --release-vips           Drop VIP on transition from signal.\n\
  -V, --dont-release-vrrp      Don't remove VRRP VIPs and VROUTEs on daemon stop\n\
  -I, --dont-release-ipvs      Don't remove IPVS topology on daemon stop\n\
  -R, --dont-respawn           Don't respawn child processes\n\
  -n, --dont-fork              Don't fork the daemon process\n\
  -d, --dump-conf              Dump the configuration data\n\
  -p, --pid=FILE               Use specified pidfile for parent process\n\
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process\n\
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).\n\
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process\n\
  -a, --address-monitoring     Report all address additions/deletions notified via netlink\n\
  -b, --bfd_pid=FILE           Use specified pidfile for BFD child process\n\
  -x, --snmp                   Enable SNMP subsystem\n\
  -A, --snmp-agent-socket=FILE Use the specified socket for master agent\n\
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)\n\
  -m, --core-dump              Produce core dump if terminate abnormally\n\
  -M, --core-dump-pattern=PATN Also set /proc/sys/kernel/core_pattern to PATN (default 'core')\n\
  -e, --all-config             Error if any configuration file missing (same as includet)\n\
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id\n\
                                or any lines beginning @^ that do match.\n\
                                The config-id defaults to the node name if option not used\n\
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON\n\
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to\n\
                                stderr by default\n\
  -v, --version                Display the version number\n\
  -h, --help                   Display this help message\n",
    );
    s
}

fn version() -> String {
    format!(
        "lvs-keepalived v{} (keepalived 2.2.7 compatible)\n\nlvs-rs: Linux Virtual Server rebuilt in Rust. License GPL-2.0-only.\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn signum(name: &str) -> Option<i32> {
    Some(match name {
        "STOP" => 15,
        "RELOAD" => 1,
        "DATA" => 10,
        "STATS" => 12,
        "STATS_CLEAR" => 63,
        "JSON" => 36,
        _ => return None,
    })
}

/// What the command line asks for, besides the settings in `Cmd`.
enum Early {
    Exit(u8),
}

/// getopt_long as keepalived calls it (option string with a leading ':').
fn parse(args: &[String], prog: &str) -> Result<Cmd, Early> {
    let mut cmd = Cmd::default();
    let mut positional: Vec<String> = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            positional.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let matches: Vec<&(&str, char, Arg)> = OPTIONS
                .iter()
                .filter(|o| !o.0.is_empty() && o.0.starts_with(name))
                .collect();
            let opt = matches
                .iter()
                .find(|o| o.0 == name)
                .copied()
                .or(if matches.len() == 1 {
                    Some(matches[0])
                } else {
                    None
                });
            let Some(&(lname, key, kind)) = opt else {
                eprintln!("Unknown option {a}");
                cmd.bad_option = true;
                continue;
            };
            let value = match kind {
                Arg::None => {
                    if inline.is_some() {
                        eprintln!("Unknown option {a}");
                        cmd.bad_option = true;
                        continue;
                    }
                    None
                }
                Arg::Optional => inline,
                Arg::Required => match inline {
                    Some(v) if !v.is_empty() => Some(v),
                    Some(_) => None,
                    None if i < args.len() => {
                        i += 1;
                        Some(args[i - 1].clone())
                    }
                    None => None,
                },
            };
            if kind == Arg::Required && value.is_none() {
                eprintln!("Missing parameter for option --{lname}");
                cmd.bad_option = true;
                continue;
            }
            apply(&mut cmd, key, value, prog)?;
            continue;
        }
        if a.len() > 1 && a.starts_with('-') {
            let chars: Vec<char> = a[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                let Some(&(_, key, kind)) =
                    OPTIONS.iter().find(|o| o.1 == c && c.is_ascii_alphabetic())
                else {
                    eprintln!("Unknown option -{c}");
                    cmd.bad_option = true;
                    continue;
                };
                let rest: String = chars[k..].iter().collect();
                let value = match kind {
                    Arg::None => None,
                    Arg::Optional => {
                        k = chars.len();
                        (!rest.is_empty()).then_some(rest)
                    }
                    Arg::Required => {
                        k = chars.len();
                        if !rest.is_empty() {
                            Some(rest)
                        } else if i < args.len() {
                            i += 1;
                            Some(args[i - 1].clone())
                        } else {
                            eprintln!("Missing parameter for option -{c}");
                            cmd.bad_option = true;
                            continue;
                        }
                    }
                };
                apply(&mut cmd, key, value, prog)?;
            }
            continue;
        }
        positional.push(a.clone());
    }
    if !positional.is_empty() {
        println!("Unexpected argument(s): {} ", positional.join(" "));
    }
    if cmd.bad_option {
        return Err(Early::Exit(1));
    }
    Ok(cmd)
}

fn apply(cmd: &mut Cmd, key: char, value: Option<String>, prog: &str) -> Result<(), Early> {
    match key {
        'v' => {
            eprint!("{}", version());
            return Err(Early::Exit(0));
        }
        'h' => {
            eprint!("{}", usage(prog));
            return Err(Early::Exit(0));
        }
        'f' => cmd.conf_file = value,
        't' => {
            cmd.config_test = true;
            cmd.config_test_log = value.filter(|v| !v.is_empty());
        }
        'i' => cmd.config_id = value,
        'e' => cmd.all_config = true,
        'P' => cmd.vrrp_only = true,
        'C' => cmd.check_only = true,
        'n' => cmd.dont_fork = true,
        'l' => cmd.log_console = true,
        'D' => cmd.log_detail = cmd.log_detail.saturating_add(1),
        'I' => cmd.dont_release_ipvs = true,
        'p' => cmd.pid_file = value,
        'r' => cmd.vrrp_pid_file = value,
        'c' => cmd.checkers_pid_file = value,
        'T' => {
            eprintln!("{prog}: genhash mode (-T) is not supported");
            return Err(Early::Exit(1));
        }
        '\u{4}' => {
            let v = value.unwrap_or_default();
            match signum(&v) {
                Some(n) => {
                    println!("{n}");
                    return Err(Early::Exit(0));
                }
                None => {
                    eprintln!("Unknown sigfunc {v}");
                    return Err(Early::Exit(1));
                }
            }
        }
        // Accepted for compatibility; they only matter to the daemon.
        _ => {}
    }
    Ok(())
}

fn config_test(cmd: &Cmd) -> u8 {
    let file = cmd
        .conf_file
        .clone()
        .unwrap_or_else(|| DEFAULT_CONFIG_FILE.to_string());
    let opts = LoadOptions {
        config_id: cmd.config_id.clone(),
        all_config: cmd.all_config,
        ..LoadOptions::default()
    };
    let loaded = conf::load_file(&file, &opts, &SystemEnv);
    let mut out: Box<dyn Write> = match &cmd.config_test_log {
        Some(path) => match std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
        {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!(
                    "Unable to open config-test log file {path} {} - {e}",
                    e.raw_os_error().unwrap_or(0)
                );
                return 1;
            }
        },
        None => Box::new(std::io::stderr()),
    };
    for d in loaded.diagnostics.reported() {
        let _ = writeln!(out, "{d}");
    }
    if cmd.log_detail > 0 {
        for d in loaded
            .diagnostics
            .all()
            .iter()
            .filter(|d| !d.level.is_reported())
        {
            let _ = writeln!(out, "{d}");
        }
    }
    loaded.exit_status.clamp(0, 255) as u8
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let prog = args
        .first()
        .cloned()
        .unwrap_or_else(|| "lvs-keepalived".to_string());
    let cmd = match parse(&args, &prog) {
        Ok(c) => c,
        Err(Early::Exit(code)) => return ExitCode::from(code),
    };
    if cmd.config_test {
        return ExitCode::from(config_test(&cmd));
    }
    init_logging(cmd.log_detail);
    let opts = daemon::RunOptions {
        conf_file: cmd
            .conf_file
            .clone()
            .unwrap_or_else(|| DEFAULT_CONFIG_FILE.to_string()),
        config_id: cmd.config_id.clone(),
        vrrp_only: cmd.vrrp_only,
        check_only: cmd.check_only,
        dont_release_ipvs: cmd.dont_release_ipvs,
        pid_files: [&cmd.pid_file, &cmd.vrrp_pid_file, &cmd.checkers_pid_file]
            .into_iter()
            .flatten()
            .cloned()
            .collect(),
    };
    // Always in the foreground (as with keepalived's -n): run it under a supervisor.
    let _ = (cmd.dont_fork, cmd.log_console);
    ExitCode::from(u8::try_from(daemon::run(opts)).unwrap_or(1))
}

/// Log to standard error (keepalived logs to syslog unless -l; a supervisor collects
/// standard error). `RUST_LOG` overrides; `-D` adds detail.
fn init_logging(detail: u8) {
    let default = if detail > 0 { "debug" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
