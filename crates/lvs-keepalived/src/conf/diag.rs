//! Configuration messages and keepalived's `-t` exit status.
//!
//! keepalived reports every configuration problem through one function with a severity
//! (`config_err_t` in lib/parser.h). With `-t` it prints each message on stderr and exits
//! with a status derived from the *least severe* non-OK level it saw (the comparison in
//! `vreport_config_error` keeps the larger enum value): 0 when nothing was reported, 4 when only
//! "cannot run" problems were seen (file not found, bad interface, fatal), 6 when a script
//! security violation was seen, and 5 for everything else. [`Level`] mirrors that enum in the
//! same order so the arithmetic is the same.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Severity of a configuration message, in keepalived's order (`config_err_t`).
///
/// The order matters: keepalived's `-t` exit status is computed from the greatest level seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Printed but does not change the exit status (e.g. a missing file of a plain `include`).
    Ok,
    /// A configuration file is missing or unreadable (exit 4).
    FileNotFound,
    /// An interface named in the configuration does not exist (exit 4).
    BadInterface,
    /// keepalived cannot run this configuration (exit 4).
    Fatal,
    /// The configuration file name matched several files.
    MultipleFiles,
    /// `Unknown keyword 'X'`.
    UnknownKeyword,
    /// `Unexpected '{'`.
    UnexpectedBlockStart,
    /// `Missing '{'`.
    MissingBlockStart,
    /// `Extra '}'`.
    UnexpectedBlockEnd,
    /// `There are N missing '}'s`.
    MissingBlockEnd,
    /// An unmatched double quote.
    UnmatchedQuote,
    /// A keyword without its parameter.
    MissingParameter,
    /// A malformed or out-of-range number.
    InvalidNumber,
    /// Any other error keepalived works around (most messages).
    GeneralError,
    /// A warning.
    Warning,
    /// A deprecated keyword or form.
    Deprecated,
    /// Scripts would run but `enable_script_security` is not set (exit 6).
    SecurityError,
    /// Not a configuration error: keepalived only logs it (`log_message`), `-t` does not print
    /// it and it does not change the exit status.
    Info,
}

impl Level {
    /// Whether this message is part of keepalived's `-t` output and exit status.
    pub fn is_reported(self) -> bool {
        self != Level::Info
    }
}

/// Where a message comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file name as keepalived prints it (the path given or matched by a glob).
    pub file: Arc<str>,
    /// 1-based line number in that file.
    pub line: usize,
}

/// One configuration message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    /// Severity.
    pub level: Level,
    /// File and line, when the message is about a line being read.
    pub location: Option<Location>,
    /// The message text, worded as keepalived words it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "({}: Line {}) {}", loc.file, loc.line, self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// The messages of one configuration load, in the order they were produced, without repeats.
///
/// keepalived parses the file once per process (parent, checker, VRRP, BFD) and so prints many
/// messages several times; this collection keeps the first occurrence of each
/// (level, location, text) and drops the rest.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    seen: HashSet<Diagnostic>,
}

impl Diagnostics {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a message unless the same one is already there.
    pub fn push(&mut self, d: Diagnostic) {
        if self.seen.insert(d.clone()) {
            self.items.push(d);
        }
    }

    /// Adds a message.
    pub fn report(&mut self, level: Level, location: Option<Location>, message: impl Into<String>) {
        self.push(Diagnostic {
            level,
            location,
            message: message.into(),
        });
    }

    /// All messages, including [`Level::Info`] ones.
    pub fn all(&self) -> &[Diagnostic] {
        &self.items
    }

    /// The messages keepalived's `-t` prints (everything but [`Level::Info`]).
    pub fn reported(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter().filter(|d| d.level.is_reported())
    }

    /// The level keepalived's exit status is computed from: the greatest reported level, or
    /// [`Level::Ok`] when nothing was reported.
    pub fn status_level(&self) -> Level {
        self.reported().map(|d| d.level).max().unwrap_or(Level::Ok)
    }

    /// keepalived's `-t` exit status for these messages (`config_test_exit`).
    pub fn exit_status(&self) -> i32 {
        exit_status_for(self.status_level())
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no messages.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// keepalived's `-t` exit status for a level (`config_test_exit` in keepalived/core/main.c).
pub fn exit_status_for(level: Level) -> i32 {
    match level {
        Level::Ok | Level::Info => 0,
        Level::FileNotFound | Level::BadInterface | Level::Fatal => 4,
        Level::SecurityError => 6,
        _ => 5,
    }
}

/// Exit status keepalived uses when a handler finds a keyword without its parameter
/// (`KEEPALIVED_EXIT_CONFIG`): it stops reading at once.
pub const EXIT_MISSING_PARAMETER: i32 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_least_severe_level_seen() {
        let mut d = Diagnostics::new();
        assert_eq!(d.exit_status(), 0);
        d.report(Level::Ok, None, "Config files missing 'x'.");
        assert_eq!(d.exit_status(), 0);
        d.report(
            Level::BadInterface,
            None,
            "Non-existent interface specified in configuration",
        );
        assert_eq!(d.exit_status(), 4);
        d.report(Level::GeneralError, None, "x");
        assert_eq!(d.exit_status(), 5);
        d.report(Level::SecurityError, None, "y");
        assert_eq!(d.exit_status(), 6);
        d.report(Level::Info, None, "z");
        assert_eq!(d.exit_status(), 6);
    }

    #[test]
    fn repeats_are_dropped() {
        let mut d = Diagnostics::new();
        let loc = Some(Location {
            file: "a.conf".into(),
            line: 3,
        });
        d.report(Level::UnknownKeyword, loc.clone(), "Unknown keyword 'x'");
        d.report(Level::UnknownKeyword, loc, "Unknown keyword 'x'");
        assert_eq!(d.len(), 1);
        assert_eq!(
            d.all()[0].to_string(),
            "(a.conf: Line 3) Unknown keyword 'x'"
        );
    }
}
