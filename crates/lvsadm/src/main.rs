//! `lvsadm` (also installable as `ipvsadm`): the ipvsadm-compatible CLI of lvsd.
//!
//! `lvsadm realserver ...` is handled by [`lvsadm::realserver`] instead.
//!
//! Parses an ipvsadm 1.31 command line, carries it out through lvsd's control API
//! (`--socket PATH`, `$LVSD_SOCKET`, or `/run/lvsd.sock`) and prints what ipvsadm prints,
//! with ipvsadm's exit status.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use lvs_api::client::Client;
use lvsadm::exec::execute;
use lvsadm::{CliError, Command, SystemResolver, parse_invocation, parse_restore, usage};

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("lvsadm: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn report(e: &CliError) -> u8 {
    eprint!("{}", e.stderr_text());
    e.exit_code() as u8
}

fn run() -> anyhow::Result<u8> {
    // Arguments that are not UTF-8 are taken lossily (ipvsadm takes bytes; such a word
    // can only be a name that does not resolve): `std::env::args` would panic on them.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // `lvsadm realserver ...`: the real-server side set-up, not an ipvsadm command.
    if argv.get(1).map(String::as_str) == Some("realserver") {
        return Ok(lvsadm::realserver::main(&argv[2..]));
    }
    let resolver = SystemResolver::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let inv = match parse_invocation(&argv, &resolver) {
        Ok(inv) => inv,
        Err(e) => return Ok(report(&e)),
    };
    let client = Client::new(Client::socket_path(inv.socket.as_deref()));
    match &inv.command {
        Command::Help { program } => {
            out.write_all(usage::usage(program).as_bytes())?;
            Ok(0)
        }
        Command::Version => {
            out.write_all(usage::version().as_bytes())?;
            Ok(0)
        }
        Command::Restore => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading standard input")?;
            let program = argv.first().map_or("ipvsadm", String::as_str);
            // fail() ends the run; daemon errors are printed and the run goes on; the exit
            // status is the last line's.
            let mut status = 0u8;
            for line in parse_restore(&input, program, &resolver) {
                let result = line.result.and_then(|inv| {
                    let c = match &inv.socket {
                        Some(p) => Client::new(p),
                        None => client.clone(),
                    };
                    execute(&inv.command, &c, &resolver, &mut out)
                });
                match result {
                    Ok(()) => status = 0,
                    Err(e) => {
                        status = report(&e);
                        if e.aborts_restore() {
                            return Ok(status);
                        }
                    }
                }
            }
            out.flush()?;
            Ok(status)
        }
        cmd => match execute(cmd, &client, &resolver, &mut out) {
            Ok(()) => {
                out.flush()?;
                Ok(0)
            }
            Err(e) => {
                out.flush()?;
                Ok(report(&e))
            }
        },
    }
}
