//! `-R`: ipvsadm's restore input, read as `config_stream_read()` reads it, and turned
//! into commands.
//!
//! Tokenising (re-done from config_stream.c): a "line" is read with
//! `fscanf("%4096[^ \t\n\r]%1[ \t\n\r]")`, so tokens are separated by space, tab, CR or LF
//! and a token longer than 4096 bytes is split; every token equal to `ipvsadm` is dropped;
//! lines with no token left are skipped. There is **no comment syntax**: config_stream.c
//! means to ignore text after `#` but looks for it in the one-character separator, so it
//! never triggers; a line starting with `#` is an ordinary command line whose first word
//! is not an option, which ends the restore with "Try `ipvsadm -h' ..." (exit 255), as the
//! real ipvsadm does (`ipvsadm-restore` strips `^#` lines before piping to `ipvsadm -R`).
//! Two quirks are kept: reading stops at a last line that has no newline but ends in two or
//! more blanks (that line is lost), and at the end of input.
//!
//! # Running a restore (for the code that executes commands)
//!
//! ipvsadm processes the lines in order, each as a full command line with the same
//! `argv[0]`:
//! * a line whose parse fails with [`CliError::aborts_restore`] (a `fail()`, "Try ... -h",
//!   or `-R` inside the input) prints its message and **ends the run** with that error's
//!   exit status; lines after it are not executed (those before it stay applied);
//! * a popt error ([`CliError::Popt`], e.g. an unknown option) prints its message and the
//!   line's status is -1; the run **goes on**;
//! * a command the daemon refuses prints ipvsadm's message ([`crate::ipvs_strerror`]) and
//!   the line's status is -1; the run goes on;
//! * `-h` / `-v` print their text and end the run with status 0; listings print as usual
//!   (a failed listing ends the run with status 1);
//! * the exit status of `ipvsadm -R` is the **last processed line's** status: 0, or 255 for
//!   -1 (an empty input gives 0).
//!
//! [`parse_restore`] stops after the first aborting error, so its last item tells the
//! caller whether to exit early.

use crate::cli::{Invocation, parse_argv};
use crate::error::CliError;
use crate::resolve::Resolver;

/// config_stream.c's `MAX_LINE_LENGTH`: the longest token.
const MAX_TOKEN: usize = 4096;

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Splits restore input into the token lists ipvsadm processes, in order (each without
/// `argv[0]`; lines left empty are not included).
pub fn restore_lines(input: &[u8]) -> Vec<Vec<String>> {
    let mut pos = 0;
    let mut lines = Vec::new();
    // One call of config_stream_read(): None = NULL (the restore loop stops).
    let read_line = |pos: &mut usize| -> Option<Vec<String>> {
        let mut tokens: Vec<String> = Vec::new();
        let mut ntoken = 0;
        // `tail` starts uninitialised in C; any non-newline value behaves the same.
        let mut tail: u8 = b' ';
        loop {
            if *pos >= input.len() {
                // fscanf returned EOF.
                break;
            }
            if is_sep(input[*pos]) {
                // status 0: skip blanks up to the end of the line (or of the input).
                loop {
                    match input.get(*pos) {
                        None => return None,
                        Some(b'\n') => {
                            *pos += 1;
                            return Some(tokens);
                        }
                        Some(b'\t' | b'\r' | b' ') => *pos += 1,
                        Some(_) => break,
                    }
                }
                continue;
            }
            let start = *pos;
            while *pos < input.len() && !is_sep(input[*pos]) && *pos - start < MAX_TOKEN {
                *pos += 1;
            }
            let token = String::from_utf8_lossy(&input[start..*pos]).into_owned();
            if *pos < input.len() && is_sep(input[*pos]) {
                tail = input[*pos];
                *pos += 1;
            }
            if token != "ipvsadm" {
                ntoken += 1;
                tokens.push(token);
            }
            if tail == b'\n' {
                return Some(tokens);
            }
        }
        if ntoken == 0 {
            return None;
        }
        Some(tokens)
    };
    while let Some(tokens) = read_line(&mut pos) {
        if !tokens.is_empty() {
            lines.push(tokens);
        }
    }
    lines
}

/// One processed line of a restore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreLine {
    /// The command line as ipvsadm processes it (`argv[0]` first).
    pub argv: Vec<String>,
    /// What parsing it gave.
    pub result: Result<Invocation, CliError>,
}

/// Parses restore input (`program` = `argv[0]` of the `-R` invocation). Stops after the
/// first line whose error ends the run (see the module documentation).
pub fn parse_restore(input: &[u8], program: &str, resolver: &dyn Resolver) -> Vec<RestoreLine> {
    let mut out = Vec::new();
    for tokens in restore_lines(input) {
        let argv: Vec<String> = std::iter::once(program.to_string()).chain(tokens).collect();
        let result = parse_argv(&argv, resolver, true);
        let stop = matches!(&result, Err(e) if e.aborts_restore());
        out.push(RestoreLine { argv, result });
        if stop {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<Vec<String>> {
        restore_lines(s.as_bytes())
    }

    #[test]
    fn tokenizer() {
        assert_eq!(
            lines("-A -t x\n\n  \n-C"),
            vec![vec!["-A", "-t", "x"], vec!["-C"]]
        );
        assert_eq!(lines("ipvsadm -C ipvsadm\nipvsadm\n"), vec![vec!["-C"]]);
        assert_eq!(lines("\t-C\r\n"), vec![vec!["-C"]]);
        assert_eq!(lines("-C\n-L \t"), vec![vec!["-C"]]);
        assert_eq!(lines("-C\n-L "), vec![vec!["-C"], vec!["-L"]]);
        assert_eq!(lines("# x\n"), vec![vec!["#", "x"]]);
        assert!(lines("").is_empty());
        let long = "a".repeat(5000);
        assert_eq!(lines(&long), vec![vec!["a".repeat(4096), "a".repeat(904)]]);
    }
}
