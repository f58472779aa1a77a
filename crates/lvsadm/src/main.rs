//! `lvsadm` (also installable as `ipvsadm`): parses an ipvsadm command line.
//!
//! TEMPORARY: until lvsadm is wired to lvsd's control API, a valid command line is printed
//! as JSON (what would be sent) and the exit status is 0. `-h`, `-v` and every parse error
//! already behave exactly as ipvsadm 1.31 (text and exit status).

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use lvsadm::{Command, SystemResolver, parse_invocation, parse_restore, usage};

fn main() -> ExitCode {
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("lvsadm: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<u8> {
    let argv: Vec<String> = std::env::args().collect();
    let resolver = SystemResolver::new();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let inv = match parse_invocation(&argv, &resolver) {
        Ok(inv) => inv,
        Err(e) => {
            eprint!("{}", e.stderr_text());
            return Ok(e.exit_code() as u8);
        }
    };
    match &inv.command {
        Command::Help { program } => {
            out.write_all(usage::usage(program).as_bytes())?;
            return Ok(0);
        }
        Command::Version => {
            out.write_all(usage::version().as_bytes())?;
            return Ok(0);
        }
        Command::Restore => {
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .context("reading standard input")?;
            let program = argv.first().map_or("ipvsadm", String::as_str);
            let mut status = 0u8;
            for line in parse_restore(&input, program, &resolver) {
                match line.result {
                    Ok(inv) => {
                        serde_json::to_writer(&mut out, &inv)?;
                        writeln!(out)?;
                        status = 0;
                    }
                    Err(e) => {
                        eprint!("{}", e.stderr_text());
                        if e.aborts_restore() {
                            return Ok(e.exit_code() as u8);
                        }
                        status = e.exit_code() as u8;
                    }
                }
            }
            return Ok(status);
        }
        _ => {}
    }
    serde_json::to_writer(&mut out, &inv)?;
    writeln!(out)?;
    Ok(0)
}
