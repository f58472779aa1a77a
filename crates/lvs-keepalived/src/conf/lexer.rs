//! The line reader of keepalived's lib/parser.c (`read_line`), re-implemented.
//!
//! It turns the configuration files into logical lines, the unit keepalived's keyword parser
//! works on:
//! - reads files in 1024-byte `fgets` pieces, counts lines, follows `include` globs (relative to
//!   the including file's directory) and their `includer`/`includem`/`includew`/`includeb`/
//!   `includea` variants;
//! - removes comments (`#` and `!` outside double quotes, `\#` and `\!` escapes) and leading and
//!   trailing blanks (`decomment`);
//! - applies the pre-processing of keepalived's "ADVANCED CONFIGURATION": `@ID` / `@^ID` lines,
//!   `$NAME=VALUE` definitions (with `\` continued multi-line ones), `$NAME` / `${NAME}`
//!   substitution (recursive, the pre-defined `_PWD`, `_INSTANCE`, `_RANDOM`, `_HASH`, `_BANG`),
//!   and the `~SEQ(...)` / `~SEQx(...)` / `~LST(...)` line repeaters;
//! - splits a line at its first `{` or `}` outside quotes, so every brace is a line of its own,
//!   and counts the block depth (`Extra '}' found`, `There are N missing '}'s`).
//!
//! The quirks are kept on purpose, including the way keepalived 2.2.7 moves the rest of a line
//! after substituting a `${NAME params}` with a shorter value; the differences are bounds this
//! reader adds so that it always terminates (see [`LexOptions`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diag::{Diagnostics, Level, Location};
use super::glob;

/// Bound on nested multi-line definition expansions (keepalived has none).
const MAX_MULTILINE_DEPTH: usize = 1000;

/// keepalived's `MAXBUF`: one `fgets` reads at most this many bytes minus one.
pub(crate) const MAXBUF: usize = 1024;

/// `include`: no error when nothing matches.
pub(crate) const INCLUDE: u8 = 0;
/// Error if a matched entry is a directory, unreadable or not a regular non-executable file.
pub(crate) const INCLUDE_R: u8 = 0x01;
/// Error if no file matches (unless a wildcard was used).
pub(crate) const INCLUDE_M: u8 = 0x02;
/// Error if no file matches, even with a wildcard.
pub(crate) const INCLUDE_W: u8 = 0x04;
/// Every alternative of a `{a,b}` brace must match.
pub(crate) const INCLUDE_B: u8 = 0x08;

/// One logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// The text after all processing (never empty).
    pub text: String,
    /// File and line it came from.
    pub loc: Location,
}

/// Settings of the reader.
#[derive(Debug, Clone)]
pub(crate) struct LexOptions {
    /// keepalived's config-id (`-i`), matched by `@ID` lines; `None` drops every `@ID` line.
    pub config_id: Option<String>,
    /// Error levels for include problems (`-e` sets all of them).
    pub include_check: u8,
    /// Whether `include` lines are followed (the fuzz target turns this off).
    pub allow_includes: bool,
    /// Bound on lines produced by `~SEQ`/`~LST` and on substitutions per line, so that a
    /// hostile file cannot make the reader run forever (keepalived has no such bound).
    pub max_generated_lines: usize,
    /// Directory relative paths of the top-level file are resolved against.
    pub base_dir: PathBuf,
}

impl Default for LexOptions {
    fn default() -> Self {
        Self {
            config_id: None,
            include_check: INCLUDE,
            allow_includes: true,
            max_generated_lines: 100_000,
            base_dir: PathBuf::from("."),
        }
    }
}

#[derive(Debug)]
struct OpenFile {
    display: Arc<str>,
    dir: PathBuf,
    data: Vec<u8>,
    pos: usize,
    line_no: usize,
    done: bool,
}

#[derive(Debug)]
struct Frame {
    include_type: u8,
    sav_include_check: u8,
    pattern: String,
    base: PathBuf,
    paths: Vec<String>,
    next: usize,
    num_matches: usize,
    file: Option<OpenFile>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StdDef {
    Pwd,
    Instance,
    Random,
}

#[derive(Debug, Clone)]
struct Def {
    name: String,
    value: Vec<u8>,
    multiline: bool,
    func: Option<StdDef>,
    max_params: u32,
}

#[derive(Debug, Clone)]
enum Seq {
    Range {
        var: String,
        next: i64,
        step: i64,
        last: i64,
        hex: bool,
        text: String,
    },
    List {
        params: Vec<String>,
        values: Vec<Vec<String>>,
        idx: usize,
        text: String,
    },
}

/// The reader. Call [`Lexer::next_line`] until it returns `None`.
#[derive(Debug)]
pub(crate) struct Lexer {
    opts: LexOptions,
    stack: Vec<Frame>,
    include_check: u8,
    residue: Option<Vec<u8>>,
    defs: Vec<Def>,
    seqs: Vec<Seq>,
    multiline_seq_depth: usize,
    next_ptr: Option<Vec<u8>>,
    multiline_stack: Vec<(Option<Vec<u8>>, usize)>,
    multiline_def: Option<usize>,
    block_depth: i64,
    generated: usize,
    generation_capped: bool,
    file_error: bool,
    eof: bool,
    rng: u64,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x0c' | b'\n' | b'\r' | b'\x0b')
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// keepalived's `decomment()`: strips leading blanks, the comment (first `#`/`!` outside
/// quotes), `\#`/`\!` escapes outside quotes and trailing blanks; a trailing `\` is kept as a
/// continuation mark. Returns an "Unterminated quote" message when a quote is left open.
pub(crate) fn decomment(s: &[u8]) -> (Vec<u8>, Option<String>) {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    let mut out: Vec<u8> = s[start..].to_vec();
    let mut quote = false;
    let mut cont = false;
    let mut skip: Option<usize> = None;
    let mut i = 0;
    while i < out.len() {
        match out[i] {
            b'"' => {
                if skip.is_none() {
                    quote = !quote;
                }
                i += 1;
            }
            b'\\' => {
                if i + 1 < out.len() {
                    if !quote && (out[i + 1] == b'#' || out[i + 1] == b'!') {
                        out.remove(i);
                        i += 1;
                    } else {
                        i += 2;
                    }
                } else {
                    out.truncate(i);
                    cont = true;
                    break;
                }
            }
            b'!' | b'#' => {
                if !quote && skip.is_none() {
                    skip = Some(i);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    let err = quote.then(|| format!("Unterminated quote '{}'", lossy(&out)));
    if let Some(k) = skip {
        out.truncate(k);
    }
    while out.last().is_some_and(|&b| is_blank(b)) {
        out.pop();
    }
    if cont {
        out.push(b'\\');
    }
    (out, err)
}

/// keepalived's `alloc_strvec_r()`: splits a line into words on white space; `"..."` is one
/// word without its quotes and without escapes. An unmatched quote ends the line with an
/// "Unmatched quote" message.
pub(crate) fn split_words(line: &str) -> (Vec<String>, Option<String>) {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_white(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        if b[i] == b'"' {
            let start = i + 1;
            match b[start..].iter().position(|&c| c == b'"') {
                Some(off) => {
                    words.push(line[start..start + off].to_string());
                    i = start + off + 1;
                }
                None => return (words, Some(format!("Unmatched quote: '{line}'"))),
            }
        } else {
            let start = i;
            while i < b.len() && !is_white(b[i]) && b[i] != b'"' {
                i += 1;
            }
            words.push(line[start..i].to_string());
        }
    }
    (words, None)
}

/// Why [`split_quoted_escaped`] gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum QuoteError {
    /// `String '...': missing terminating "` (a configuration error).
    Unterminated(String),
    /// `Missing escape char at end` (only logged by keepalived).
    TrailingEscape(String),
}

/// keepalived's `alloc_strvec_quoted_escaped()`, used for script command lines: `"` and `'`
/// quoting, shell-like escapes (`\n \t \xHH \nnn \cC` ...). `Ok(None)` when there are no words.
pub(crate) fn split_quoted_escaped(src: &str) -> Result<Vec<String>, QuoteError> {
    let b = src.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    let mut quote: u8 = 0;
    while i < b.len() {
        while i < b.len() && is_white(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut word: Vec<u8> = Vec::new();
        while i < b.len() {
            let stop = b[i..].iter().position(|&c| match quote {
                b'"' => c == b'"' || c == b'\\',
                b'\'' => c == b'\'' || c == b'\\',
                _ => is_white(c) || c == b'\'' || c == b'"' || c == b'\\',
            });
            let Some(off) = stop else {
                if quote != 0 {
                    return Err(QuoteError::Unterminated(format!(
                        "String '{src}': missing terminating {}",
                        quote as char
                    )));
                }
                word.extend_from_slice(&b[i..]);
                i = b.len();
                break;
            };
            word.extend_from_slice(&b[i..i + off]);
            i += off;
            match b[i] {
                b'\\' => {
                    i += 1;
                    if i >= b.len() {
                        return Err(QuoteError::TrailingEscape(format!(
                            "Missing escape char at end: '{src}'"
                        )));
                    }
                    let c = b[i];
                    let out: u8;
                    if c == b'x' && i + 1 < b.len() && b[i + 1].is_ascii_hexdigit() {
                        i += 1;
                        let mut v: u8 = 0;
                        while i < b.len() && b[i].is_ascii_hexdigit() {
                            let d = (b[i] as char).to_digit(16).unwrap_or(0) as u8;
                            v = (v << 4) | d;
                            i += 1;
                        }
                        out = v;
                    } else if c == b'c' && i + 1 < b.len() {
                        out = b[i + 1] & 0x1f;
                        i += 2;
                    } else if (b'0'..=b'7').contains(&c) {
                        let mut v: u32 = (c - b'0') as u32;
                        i += 1;
                        for _ in 0..2 {
                            if i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                                v = (v << 3) + (b[i] - b'0') as u32;
                                i += 1;
                            }
                        }
                        out = v as u8;
                    } else {
                        out = match c {
                            b'a' => 0x07,
                            b'b' => 0x08,
                            b'E' => 0x1b,
                            b'f' => 0x0c,
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'v' => 0x0b,
                            other => other,
                        };
                        i += 1;
                    }
                    word.push(out);
                }
                _ if quote != 0 => {
                    // The closing quote.
                    i += 1;
                    quote = 0;
                }
                q @ (b'"' | b'\'') => {
                    quote = q;
                    i += 1;
                }
                _ => break,
            }
        }
        words.push(lossy(&word));
    }
    Ok(words)
}

/// `strtol(s, &end, 0)`: returns the value and the number of bytes consumed (0 if none).
fn strtol0(s: &[u8]) -> (i64, usize) {
    let mut i = 0;
    while i < s.len() && is_white(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let (radix, digits_start) = if i + 1 < s.len()
        && s[i] == b'0'
        && (s[i + 1] == b'x' || s[i + 1] == b'X')
        && s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, i + 2)
    } else if i < s.len() && s[i] == b'0' {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = digits_start;
    let mut v: i64 = 0;
    while j < s.len() {
        let Some(d) = (s[j] as char).to_digit(radix) else {
            break;
        };
        v = v.saturating_mul(radix as i64).saturating_add(d as i64);
        j += 1;
    }
    if j == digits_start {
        return (0, 0);
    }
    (if neg { -v } else { v }, j)
}

fn skip_blanks(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_blank(s[i]) {
        i += 1;
    }
    i
}

impl Lexer {
    fn blank(opts: LexOptions) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
        let mut lx = Self {
            include_check: opts.include_check,
            opts,
            stack: Vec::new(),
            residue: None,
            defs: Vec::new(),
            seqs: Vec::new(),
            multiline_seq_depth: 0,
            next_ptr: None,
            multiline_stack: Vec::new(),
            multiline_def: None,
            block_depth: 0,
            generated: 0,
            generation_capped: false,
            file_error: false,
            eof: false,
            rng: seed,
        };
        for (name, value, func, max) in [
            ("_PWD", None, Some(StdDef::Pwd), 0),
            ("_INSTANCE", None, Some(StdDef::Instance), 0),
            ("_RANDOM", None, Some(StdDef::Random), 2),
            ("_HASH", Some("#"), None, 0),
            ("_BANG", Some("!"), None, 0),
        ] {
            lx.defs.push(Def {
                name: name.to_string(),
                value: value
                    .map(|v: &str| v.as_bytes().to_vec())
                    .unwrap_or_default(),
                multiline: false,
                func,
                max_params: max,
            });
        }
        lx
    }

    /// A reader for the configuration file `conf_file` (a path or glob).
    pub(crate) fn new(conf_file: &str, opts: LexOptions, diags: &mut Diagnostics) -> Self {
        let mut lx = Self::blank(opts);
        let base = lx.opts.base_dir.clone();
        if !lx.open_glob_file(conf_file, INCLUDE_R | INCLUDE_M | INCLUDE_W, base, diags) {
            lx.file_config_error(
                INCLUDE_R,
                "Failed to open configuration file".to_string(),
                diags,
            );
            lx.eof = true;
        }
        lx
    }

    /// A reader over in-memory text shown as `name` (includes resolve against the base dir).
    pub(crate) fn from_text(name: &str, text: &[u8], opts: LexOptions) -> Self {
        let mut lx = Self::blank(opts);
        let base = lx.opts.base_dir.clone();
        lx.stack.push(Frame {
            include_type: INCLUDE_R | INCLUDE_M | INCLUDE_W,
            sav_include_check: lx.include_check,
            pattern: name.to_string(),
            base: base.clone(),
            paths: vec![name.to_string()],
            next: 1,
            num_matches: 1,
            file: Some(OpenFile {
                display: Arc::from(name),
                dir: base,
                data: text.to_vec(),
                pos: 0,
                line_no: 0,
                done: false,
            }),
        });
        lx
    }

    /// Whether an include/open problem that counts as an error happened (keepalived then does
    /// not run the configuration: `had_config_file_error`).
    pub(crate) fn had_file_error(&self) -> bool {
        self.file_error
    }

    /// The location of the line being read, if any file is open.
    pub(crate) fn location(&self) -> Option<Location> {
        let top = self.stack.last()?;
        let frame = if top.file.is_none() && self.stack.len() > 1 {
            &self.stack[self.stack.len() - 2]
        } else {
            top
        };
        let f = frame.file.as_ref()?;
        Some(Location {
            file: f.display.clone(),
            line: f.line_no,
        })
    }

    fn report(&self, diags: &mut Diagnostics, level: Level, msg: String) {
        diags.report(level, self.location(), msg);
    }

    fn file_config_error(&mut self, error_type: u8, msg: String, diags: &mut Diagnostics) {
        let ty = self.stack.last().map(|f| f.include_type).unwrap_or(0);
        let is_err = (self.include_check | ty) & error_type != 0;
        if is_err {
            self.file_error = true;
        }
        self.report(
            diags,
            if is_err {
                Level::FileNotFound
            } else {
                Level::Ok
            },
            msg,
        );
    }

    fn current_dir(&self) -> PathBuf {
        for f in self.stack.iter().rev() {
            if let Some(of) = &f.file {
                return of.dir.clone();
            }
        }
        self.opts.base_dir.clone()
    }

    fn open_glob_file(
        &mut self,
        pattern: &str,
        include_type: u8,
        base: PathBuf,
        diags: &mut Diagnostics,
    ) -> bool {
        self.stack.push(Frame {
            include_type,
            sav_include_check: self.include_check,
            pattern: pattern.to_string(),
            base: base.clone(),
            paths: Vec::new(),
            next: 0,
            num_matches: 0,
            file: None,
        });
        let g = glob::glob(pattern, &base);
        if g.paths.is_empty() {
            if g.missing_files > 0 || g.missing_dirs > 0 {
                let ty = if glob::have_brace(pattern) {
                    INCLUDE_B
                } else {
                    INCLUDE_M
                };
                self.file_config_error(ty, format!("Config files missing '{pattern}'."), diags);
            } else if g.have_wildcards && (self.include_check | include_type) & INCLUDE_W != 0 {
                self.file_config_error(
                    INCLUDE_W,
                    format!("No config files matched '{pattern}'."),
                    diags,
                );
            }
            self.stack.pop();
            return false;
        }
        if g.missing_files > 0 || g.missing_dirs > 0 {
            self.file_config_error(
                INCLUDE_B,
                format!("Some config files missing: \"{pattern}\"."),
                diags,
            );
            if (self.include_check | include_type) & INCLUDE_B != 0 {
                self.stack.pop();
                return false;
            }
        }
        if let Some(top) = self.stack.last_mut() {
            top.paths = g.paths;
        }
        if !self.open_conf_file(diags) {
            self.stack.pop();
            return false;
        }
        true
    }

    fn open_conf_file(&mut self, diags: &mut Diagnostics) -> bool {
        loop {
            let (name, base) = {
                let Some(top) = self.stack.last_mut() else {
                    return false;
                };
                if top.next >= top.paths.len() {
                    return false;
                }
                let name = top.paths[top.next].clone();
                top.next += 1;
                (name, top.base.clone())
            };
            if name.ends_with('/') {
                self.file_config_error(
                    INCLUDE_R,
                    format!("Configuration file '{name}' is a directory - skipping"),
                    diags,
                );
                continue;
            }
            let full = if Path::new(&name).is_absolute() {
                PathBuf::from(&name)
            } else {
                base.join(&name)
            };
            let regular = std::fs::metadata(&full).map(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 == 0
            });
            if !matches!(regular, Ok(true)) {
                self.file_config_error(
                    INCLUDE_R,
                    format!("Configuration file '{name}' is not a regular non-executable file - skipping"),
                    diags,
                );
                continue;
            }
            let data = match std::fs::read(&full) {
                Ok(d) => d,
                Err(e) => {
                    let why = e
                        .raw_os_error()
                        .map(errno_text)
                        .unwrap_or_else(|| e.to_string());
                    self.file_config_error(
                        INCLUDE_R,
                        format!("Configuration file '{name}' open problem ({why}) - skipping"),
                        diags,
                    );
                    continue;
                }
            };
            let dir = match full.parent() {
                Some(p) if name.contains('/') => p.to_path_buf(),
                _ => base.clone(),
            };
            let Some(top) = self.stack.last_mut() else {
                return false;
            };
            top.num_matches += 1;
            top.file = Some(OpenFile {
                display: Arc::from(name.as_str()),
                dir,
                data,
                pos: 0,
                line_no: 0,
                done: false,
            });
            return true;
        }
    }

    /// The file ended: open the next glob match, or return to the including file.
    fn get_next_file(&mut self, diags: &mut Diagnostics) -> bool {
        if let Some(top) = self.stack.last_mut() {
            self.include_check = top.sav_include_check;
            if let Some(f) = top.file.as_mut() {
                f.done = true;
            }
        }
        if self.open_conf_file(diags) {
            return true;
        }
        if let Some(top) = self.stack.pop()
            && top.num_matches == 0
        {
            diags.report(
                Level::Info,
                None,
                format!("No config files matched '{}'.", top.pattern),
            );
        }
        !self.stack.is_empty()
    }

    /// One `fgets(buf, MAXBUF)` from the current file: (bytes up to a NUL, whether the piece
    /// ended with a newline). `None` at the end of the file.
    fn fgets(&mut self) -> Option<(Vec<u8>, bool)> {
        let f = self.stack.last_mut()?.file.as_mut()?;
        if f.done || f.pos >= f.data.len() {
            return None;
        }
        let rest = &f.data[f.pos..];
        let max = MAXBUF - 1;
        let n = match rest.iter().take(max).position(|&b| b == b'\n') {
            Some(p) => p + 1,
            None => rest.len().min(max),
        };
        let piece = &rest[..n];
        f.pos += n;
        let piece = match piece.iter().position(|&b| b == 0) {
            Some(z) => &piece[..z],
            None => piece,
        };
        let nl = piece.last() == Some(&b'\n');
        Some((piece.to_vec(), nl))
    }

    /// Next non-blank, decommented physical line, or `None` at the end of all files.
    fn read_physical(&mut self, diags: &mut Diagnostics) -> Option<Vec<u8>> {
        loop {
            if self.stack.is_empty() {
                return None;
            }
            let Some((mut buf, nl)) = self.fgets() else {
                if self.get_next_file(diags) {
                    continue;
                }
                return None;
            };
            if nl && let Some(f) = self.stack.last_mut().and_then(|t| t.file.as_mut()) {
                f.line_no += 1;
            }
            while buf.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                buf.pop();
            }
            if buf.is_empty() {
                if let Some(di) = self.multiline_def.take()
                    && self.defs[di].value.is_empty()
                {
                    self.defs[di].multiline = false;
                }
                continue;
            }
            let (out, err) = decomment(&buf);
            if let Some(e) = err {
                self.report(diags, Level::GeneralError, e);
            }
            if !out.is_empty() {
                return Some(out);
            }
        }
    }

    /// Reads the next logical line, or `None` at the end.
    pub(crate) fn next_line(&mut self, diags: &mut Diagnostics) -> Option<Line> {
        if self.eof {
            return None;
        }
        let mut buf: Vec<u8>;
        loop {
            if let Some(r) = self.residue.take() {
                buf = r;
            } else if (!self.seqs.is_empty() && self.seqs.len() > self.multiline_seq_depth)
                || self.next_ptr.is_some()
            {
                self.generated += 1;
                if self.generated > self.opts.max_generated_lines
                    || self.multiline_stack.len() > MAX_MULTILINE_DEPTH
                {
                    if !self.generation_capped {
                        self.generation_capped = true;
                        self.report(
                            diags,
                            Level::GeneralError,
                            format!(
                                "~SEQ/~LST or multi-line definition expansion exceeds {} lines - truncating",
                                self.opts.max_generated_lines
                            ),
                        );
                    }
                    self.seqs.clear();
                    self.next_ptr = None;
                    self.multiline_stack.clear();
                    self.multiline_seq_depth = 0;
                    continue;
                }
                if !self.seqs.is_empty() && self.seqs.len() > self.multiline_seq_depth {
                    buf = self.next_seq_line();
                } else {
                    let np = self.next_ptr.take().unwrap_or_default();
                    match np.iter().position(|&b| b == b'\n') {
                        None => {
                            buf = np;
                            match self.multiline_stack.pop() {
                                Some((p, depth)) => {
                                    self.next_ptr = p;
                                    self.multiline_seq_depth = depth;
                                }
                                None => {
                                    self.next_ptr = None;
                                    self.multiline_seq_depth = 0;
                                }
                            }
                        }
                        Some(i) => {
                            buf = np[..i].to_vec();
                            self.next_ptr = Some(np[i + 1..].to_vec());
                        }
                    }
                }
            } else {
                match self.read_physical(diags) {
                    Some(b) => buf = b,
                    None => {
                        self.finish(diags);
                        return None;
                    }
                }
            }

            if let Some(di) = self.multiline_def {
                let mut len = buf.len();
                let cont = buf.last() == Some(&b'\\');
                if cont {
                    len -= 1;
                    while len >= 1 && is_blank(buf[len - 1]) {
                        len -= 1;
                    }
                    buf.truncate(len);
                    buf.push(b'\n');
                    len += 1;
                } else {
                    self.multiline_def = None;
                    if self.defs[di].value.is_empty() {
                        self.defs[di].multiline = false;
                    }
                }
                if len >= 2 || (len > 0 && !cont) {
                    self.defs[di].value.extend_from_slice(&buf[..len]);
                }
                continue;
            }
            if buf.is_empty() {
                continue;
            }
            self.preprocess(&mut buf, diags);
            if buf.is_empty() {
                continue;
            }
            if self.check_include(&buf, diags) {
                continue;
            }
            break;
        }

        // Split at the first brace outside quotes; the rest is read as the next line.
        let mut brace: Option<usize> = None;
        if buf[0] == b'{' || buf[0] == b'}' {
            brace = Some(0);
        } else {
            let mut i = 0;
            while i < buf.len() {
                match buf[i] {
                    b'{' | b'}' => {
                        brace = Some(i);
                        break;
                    }
                    b'"' => match buf[i + 1..].iter().position(|&c| c == b'"') {
                        Some(off) => i += off + 2,
                        None => break,
                    },
                    _ => i += 1,
                }
            }
        }
        if let Some(p) = brace {
            let skip = if p == 0 {
                1 + buf[1..].iter().take_while(|&&b| is_blank(b)).count()
            } else {
                0
            };
            if p + skip < buf.len() {
                let mut rest = buf[p + skip..].to_vec();
                while rest.last().is_some_and(|&b| b == b' ' || b == b'\t') {
                    rest.pop();
                }
                self.residue = Some(rest);
                buf.truncate(p + skip);
            }
        }
        while buf.last().is_some_and(|&b| b == b' ' || b == b'\t') {
            buf.pop();
        }
        if buf == b"{" {
            self.block_depth += 1;
        } else if buf == b"}" {
            let was = self.block_depth;
            self.block_depth -= 1;
            if was < 1 {
                self.report(
                    diags,
                    Level::UnexpectedBlockEnd,
                    "Extra '}' found".to_string(),
                );
                self.block_depth = 0;
            }
        }
        let loc = self.location().unwrap_or_else(|| Location {
            file: Arc::from(""),
            line: 0,
        });
        Some(Line {
            text: lossy(&buf),
            loc,
        })
    }

    fn finish(&mut self, diags: &mut Diagnostics) {
        if !self.eof {
            self.eof = true;
            if self.block_depth > 0 {
                diags.report(
                    Level::MissingBlockEnd,
                    None,
                    format!(
                        "There are {} missing '}}'s or extra '{{'s",
                        self.block_depth
                    ),
                );
            }
        }
    }

    /// `@ID`, `$NAME=`, `~SEQ`/`~LST` and `$NAME` substitution, in keepalived's order.
    fn preprocess(&mut self, buf: &mut Vec<u8>, diags: &mut Diagnostics) {
        loop {
            let mut recheck = false;
            if buf.first() == Some(&b'@') {
                let (rev, ofs) = if buf.get(1) == Some(&b'^') {
                    (true, 2)
                } else {
                    (false, 1)
                };
                let Some(sp) = buf
                    .iter()
                    .skip(ofs)
                    .position(|&b| is_blank(b))
                    .map(|p| p + ofs)
                else {
                    buf.clear();
                    return;
                };
                let id = &buf[ofs..sp];
                let mismatch = match &self.opts.config_id {
                    Some(cid) => id != cid.as_bytes(),
                    None => true,
                };
                if mismatch != rev {
                    buf.clear();
                    return;
                }
                let rest = skip_blanks(buf, sp);
                buf.drain(..rest);
            }
            if buf.first() == Some(&b'$')
                && let Some(di) = self.check_definition(buf)
            {
                if self.defs[di].multiline {
                    self.multiline_def = Some(di);
                }
                buf.clear();
                return;
            }
            if buf.starts_with(b"~SEQ") || buf.starts_with(b"~LST") {
                let text = lossy(buf);
                if buf[1] == b'S' {
                    if !self.add_seq(buf, diags) {
                        self.report(
                            diags,
                            Level::GeneralError,
                            format!("Invalid ~SEQ specification '{text}'"),
                        );
                    }
                } else if !self.add_lst(buf, diags) {
                    self.report(
                        diags,
                        Level::GeneralError,
                        format!("Invalid ~LST specification '{text}'"),
                    );
                }
                buf.clear();
                return;
            }
            if buf.first() == Some(&b'~') {
                return;
            }
            if buf.contains(&b'$') {
                let mut np = self.next_ptr.clone();
                if !self.replace_param(buf, MAXBUF, &mut np, diags) {
                    return;
                }
                self.next_ptr = np;
                let (out, err) = decomment(buf);
                if let Some(e) = err {
                    self.report(diags, Level::GeneralError, e);
                }
                *buf = out;
                if buf.first() == Some(&b'@') {
                    recheck = true;
                }
                if buf.contains(&b'$') {
                    recheck = true;
                }
            }
            if !recheck || buf.is_empty() {
                return;
            }
        }
    }

    /// Looks up a definition being used at `s` (the text after `$`). Returns the definition, the
    /// byte count keepalived replaces (`replaced_len + 1 + extra_braces`) and the parameters.
    fn find_use(&self, s: &[u8]) -> Option<(usize, usize, Option<String>, bool)> {
        let braces = s.first() == Some(&b'{');
        let name = if braces { &s[1..] } else { s };
        let first = *name.first()?;
        if !first.is_ascii_alphabetic() && first != b'_' {
            return None;
        }
        let mut len = 1;
        while len < name.len() && (name[len].is_ascii_alphanumeric() || name[len] == b'_') {
            len += 1;
        }
        let mut p = len;
        let mut param_start: Option<usize> = None;
        let mut param_end: usize = 0;
        if braces {
            while p < name.len() && (name[p] == b' ' || name[p].is_ascii_digit()) {
                if name[p] != b' ' {
                    if param_start.is_none() {
                        param_start = Some(p);
                    }
                    param_end = p;
                }
                p += 1;
            }
            if param_start.is_some() && param_end + 1 != p {
                return None;
            }
            if name.get(p) != Some(&b'}') {
                return None;
            }
        } else if p < name.len() && !matches!(name[p], b' ' | b'\t' | b',' | b')') {
            return None;
        }
        let allow_multiline = if braces {
            len + 1 >= name.len()
        } else {
            len >= name.len()
        };
        let key = &name[..len];
        let di = self
            .defs
            .iter()
            .position(|d| d.name.as_bytes() == key && (allow_multiline || !d.multiline))?;
        let params = param_start.map(|ps| lossy(&name[ps..=param_end]));
        if params.is_some() && self.defs[di].max_params == 0 {
            return None;
        }
        let extra = if braces { 2 } else { 0 };
        let replaced_len = match param_start {
            // params_end - (cur_pos + 1) + (braces ? 0 : 1), with name starting at cur_pos+1+braces
            Some(_) => param_end + usize::from(braces) + usize::from(!braces),
            None => len,
        };
        Some((di, replaced_len + 1 + extra, params, braces))
    }

    fn def_value(&mut self, di: usize, params: Option<&str>) -> Vec<u8> {
        match self.defs[di].func {
            None => self.defs[di].value.clone(),
            Some(StdDef::Pwd) => {
                let dir = self.current_dir();
                let abs = std::fs::canonicalize(&dir).unwrap_or(dir);
                abs.to_string_lossy().as_bytes().to_vec()
            }
            Some(StdDef::Instance) => self.opts.config_id.clone().unwrap_or_default().into_bytes(),
            Some(StdDef::Random) => {
                let (mut min, mut max) = (0u64, 32767u64);
                if let Some(p) = params {
                    let mut it = p.split(' ').filter(|w| !w.is_empty());
                    if let Some(a) = it.next() {
                        min = a.parse().unwrap_or(0);
                    }
                    if let Some(b) = it.next() {
                        max = b.parse().unwrap_or(0);
                    }
                }
                let digits = max.to_string().len();
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                let span = max.wrapping_sub(min).wrapping_add(1);
                let v = if span == 0 {
                    min
                } else {
                    self.rng % span + min
                };
                let mut s = v.to_string();
                s.truncate(digits);
                s.into_bytes()
            }
        }
    }

    /// keepalived's `replace_param()`, byte for byte, including how it moves the rest of the
    /// line when a `${NAME params}` reference is replaced by a shorter value.
    fn replace_param(
        &mut self,
        buf: &mut Vec<u8>,
        max_len: usize,
        multiline: &mut Option<Vec<u8>>,
        diags: &mut Diagnostics,
    ) -> bool {
        // Work on a NUL-terminated copy, as the C code does.
        let mut b: Vec<u8> = buf.clone();
        b.push(0);
        let cstrlen = |v: &[u8]| v.iter().position(|&c| c == 0).unwrap_or(v.len());
        let mut len_used = cstrlen(&b);
        let mut cur = 0usize;
        let mut found = false;
        let mut multiline_ptr: Option<Vec<u8>> = multiline.clone();
        let mut next_ptr: Option<Vec<u8>> = None;
        let mut iterations = 0usize;
        loop {
            let end = cstrlen(&b);
            let Some(off) = b[cur..end].iter().position(|&c| c == b'$') else {
                break;
            };
            cur += off;
            if cur + 1 >= end {
                break;
            }
            iterations += 1;
            if iterations > self.opts.max_generated_lines {
                diags.report(
                    Level::Info,
                    self.location(),
                    format!(
                        "Parameter substitution on line '{}' would exceed maximum line length",
                        lossy(&b[..end])
                    ),
                );
                return false;
            }
            let Some((di, total, params, _braces)) = self.find_use(&b[cur + 1..end]) else {
                cur += 1;
                continue;
            };
            found = true;
            next_ptr = multiline_ptr.clone();
            let is_multi = self.defs[di].multiline;
            if is_multi && multiline_ptr.is_some() {
                self.multiline_stack
                    .push((multiline_ptr.clone(), self.multiline_seq_depth));
            }
            if is_multi {
                self.multiline_seq_depth = self.seqs.len();
            }
            let value = self.def_value(di, params.as_deref());
            let replacing: Vec<u8> = if is_multi {
                match value.iter().position(|&c| c == b'\n') {
                    Some(i) => {
                        next_ptr = Some(value[i + 1..].to_vec());
                        multiline_ptr = next_ptr.clone();
                        value[..i].to_vec()
                    }
                    None => {
                        next_ptr = None;
                        multiline_ptr = None;
                        value.clone()
                    }
                }
            } else {
                value.clone()
            };
            let rlen = replacing.len();
            if len_used + rlen >= max_len + total {
                diags.report(
                    Level::Info,
                    self.location(),
                    format!(
                        "Parameter substitution on line '{}' would exceed maximum line length",
                        lossy(&b[..end])
                    ),
                );
                return false;
            }
            if total != rlen {
                if total < rlen {
                    // Lengthening: the whole tail moves right.
                    let tail: Vec<u8> = b[cur + total..=end].to_vec();
                    b.truncate(cur);
                    b.extend(std::iter::repeat_n(0u8, rlen));
                    b.extend_from_slice(&tail);
                } else {
                    // Shortening: copy forward until the source reaches `e`.
                    let s0 = cur + total - rlen;
                    // keepalived stops the copy at params_end + (braces ? 2 : 1), which is
                    // just after the closing brace, instead of at the end of the line.
                    let e = if params.is_some() { cur + total } else { end };
                    let mut s = s0;
                    let mut d = cur;
                    loop {
                        if s >= b.len() || d >= b.len() {
                            break;
                        }
                        b[d] = b[s];
                        if s == e {
                            break;
                        }
                        d += 1;
                        s += 1;
                    }
                }
                len_used = len_used + rlen - total;
            }
            for (k, &c) in replacing.iter().enumerate() {
                if cur + k < b.len() {
                    b[cur + k] = c;
                }
            }
            let first_non_blank = value.iter().find(|&&c| !is_blank(c));
            if first_non_blank == Some(&b'~') {
                break;
            }
        }
        if found {
            *multiline = next_ptr;
            let n = cstrlen(&b);
            b.truncate(n);
            *buf = b;
        }
        found
    }

    /// `$NAME=VALUE`: defines a parameter. Returns its index, or `None` if the line is not a
    /// definition.
    fn check_definition(&mut self, buf: &[u8]) -> Option<usize> {
        if buf.first() != Some(&b'$') {
            return None;
        }
        let c1 = *buf.get(1)?;
        if !c1.is_ascii_alphabetic() && c1 != b'_' {
            return None;
        }
        let mut p = 2;
        while p < buf.len() && buf[p] != b'=' {
            if !buf[p].is_ascii_alphanumeric() && buf[p] != b'_' {
                return None;
            }
            p += 1;
        }
        let name = lossy(&buf[1..p]);
        let p = skip_blanks(buf, p);
        if buf.get(p) != Some(&b'=') {
            return None;
        }
        let vstart = skip_blanks(buf, p + 1);
        let mut value: Vec<u8> = buf[vstart..].to_vec();
        let multiline = value.last() == Some(&b'\\');
        if multiline {
            let mut vlen = value.len();
            while vlen >= 2 && is_blank(value[vlen - 2]) {
                vlen -= 1;
            }
            if vlen < 2 {
                value.clear();
            } else {
                value.truncate(vlen);
                let last = value.len() - 1;
                value[last] = b'\n';
            }
        }
        let di = match self.defs.iter().position(|d| d.name == name) {
            Some(i) => {
                self.defs[i].func = None;
                i
            }
            None => {
                self.defs.push(Def {
                    name,
                    value: Vec::new(),
                    multiline: false,
                    func: None,
                    max_params: 0,
                });
                self.defs.len() - 1
            }
        };
        self.defs[di].value = value;
        self.defs[di].multiline = multiline;
        Some(di)
    }

    fn set_definition(&mut self, name: &str, value: &str) {
        let first = name.as_bytes().first().copied().unwrap_or(0);
        let found = if first.is_ascii_alphabetic() || first == b'_' {
            self.defs.iter().position(|d| d.name == name)
        } else {
            None
        };
        match found {
            Some(i) => {
                self.defs[i].func = None;
                self.defs[i].value = value.as_bytes().to_vec();
            }
            None => self.defs.push(Def {
                name: name.to_string(),
                value: value.as_bytes().to_vec(),
                multiline: false,
                func: None,
                max_params: 0,
            }),
        }
    }

    fn next_seq_line(&mut self) -> Vec<u8> {
        let Some(last) = self.seqs.last_mut() else {
            return Vec::new();
        };
        match last {
            Seq::Range {
                var,
                next,
                step,
                last: end,
                hex,
                text,
            } => {
                let val = if *hex {
                    format!("{:x}", *next as u64)
                } else {
                    next.to_string()
                };
                let (var, text) = (var.clone(), text.clone());
                *next = next.saturating_add(*step);
                let done = (*step > 0 && *next > *end)
                    || (*step < 0 && *next < *end)
                    || (*next == i64::MAX || *next == i64::MIN);
                if done {
                    self.seqs.pop();
                }
                self.set_definition(&var, &val);
                text.into_bytes()
            }
            Seq::List {
                params,
                values,
                idx,
                text,
            } => {
                let pairs: Vec<(String, String)> = params
                    .iter()
                    .cloned()
                    .zip(values[*idx].iter().cloned())
                    .collect();
                let text = text.clone();
                *idx += 1;
                if *idx >= values.len() {
                    self.seqs.pop();
                }
                for (p, v) in pairs {
                    self.set_definition(&p, &v);
                }
                text.into_bytes()
            }
        }
    }

    fn add_seq(&mut self, buf: &[u8], diags: &mut Diagnostics) -> bool {
        let whole = lossy(buf);
        let invalid = |lx: &Self, d: &mut Diagnostics| {
            lx.report(
                d,
                Level::GeneralError,
                format!("Invalid ~SEQ definition '{whole}'"),
            );
            false
        };
        let mut p = 4;
        let hex = buf.get(p) == Some(&b'x');
        if hex {
            p += 1;
        }
        p = skip_blanks(buf, p);
        if buf.get(p) != Some(&b'(') {
            return false;
        }
        p = skip_blanks(buf, p + 1);
        let var_start = p;
        while p < buf.len() && !matches!(buf[p], b' ' | b'\t' | b',' | b')') {
            p += 1;
        }
        let var = lossy(&buf[var_start..p]);
        p = skip_blanks(buf, p);
        if p >= buf.len() || buf[p] == b')' || p == var_start {
            return invalid(self, diags);
        }
        p = skip_blanks(buf, p + 1);
        let Some(close) = buf[p..].iter().position(|&c| c == b')').map(|o| o + p) else {
            return invalid(self, diags);
        };
        if close + 1 - p + 1 > 3 * 20 + 3 + 1 {
            self.report(
                diags,
                Level::GeneralError,
                format!("~SEQ parameter strings too long '{whole}'"),
            );
            return false;
        }
        let mut params: Vec<u8> = buf[p..=close].to_vec();
        let mut ml: Option<Vec<u8>> = None;
        self.replace_param(&mut params, 3 * 20 + 3 + 1, &mut ml, diags);
        if ml.is_some() {
            self.report(
                diags,
                Level::GeneralError,
                format!("~SEQ parameter is multiline definition '{whole}'"),
            );
            return false;
        }
        let q = &params;
        let (one, n1) = strtol0(q);
        let mut i = skip_blanks(q, n1);
        let (start, step, end);
        if q.get(i) == Some(&b')') {
            end = one;
            step = if end < 1 { -1 } else { 1 };
            start = if end < 0 { -1 } else { 1 };
        } else {
            if q.get(i) != Some(&b',') {
                return invalid(self, diags);
            }
            let (two, n2) = strtol0(&q[i + 1..]);
            i = skip_blanks(q, i + 1 + n2);
            if q.get(i) == Some(&b')') {
                start = one;
                end = two;
                step = if start <= end { 1 } else { -1 };
            } else {
                if q.get(i) != Some(&b',') {
                    return invalid(self, diags);
                }
                let (three, n3) = strtol0(&q[i + 1..]);
                i = skip_blanks(q, i + 1 + n3);
                if q.get(i) != Some(&b')') {
                    return invalid(self, diags);
                }
                start = one;
                step = two;
                end = three;
                if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                    self.report(
                        diags,
                        Level::GeneralError,
                        format!("Invalid ~SEQ values '{whole}'"),
                    );
                    return false;
                }
            }
        }
        if hex && (start < 0 || end < 0) {
            self.report(
                diags,
                Level::GeneralError,
                format!("~SEQx is only valid for positive numbers '{whole}'"),
            );
            return false;
        }
        let text_start = skip_blanks(buf, close + 1);
        self.seqs.push(Seq::Range {
            var,
            next: start,
            step,
            last: end,
            hex,
            text: lossy(&buf[text_start..]),
        });
        true
    }

    fn add_lst(&mut self, buf: &[u8], diags: &mut Diagnostics) -> bool {
        let at = |i: usize| buf.get(i).copied().unwrap_or(0);
        let span_not = |mut i: usize, set: &[u8]| {
            while i < buf.len() && !set.contains(&buf[i]) {
                i += 1;
            }
            i
        };
        let mut p = skip_blanks(buf, 4);
        if at(p) != b'(' {
            return false;
        }
        p = skip_blanks(buf, p + 1);
        let mut end_char = b',';
        if at(p) == b'{' {
            end_char = b'}';
            p = skip_blanks(buf, p + 1);
        }
        let mut params: Vec<String> = Vec::new();
        let mut num_vars = 0usize;
        loop {
            let v = p;
            p = span_not(p, b" \t,}");
            params.push(lossy(&buf[v..p]));
            p = skip_blanks(buf, p);
            if at(p) == end_char {
                break;
            }
            if at(p) != b',' {
                return false;
            }
            p = skip_blanks(buf, p + 1);
            num_vars += 1;
        }
        if at(p) == b'}' {
            p = skip_blanks(buf, p + 1);
        }
        if at(p) != b',' {
            return false;
        }
        p = skip_blanks(buf, p + 1);
        let mut sets: Vec<Vec<String>> = Vec::new();
        loop {
            let mut end_char = b',';
            if at(p) == b'{' {
                end_char = b'}';
                p = skip_blanks(buf, p + 1);
            }
            let mut values: Vec<String> = Vec::new();
            let mut num_values = 0usize;
            loop {
                let v = p;
                p = span_not(p, b" \t,})");
                values.push(lossy(&buf[v..p]));
                p = skip_blanks(buf, p);
                if at(p) == end_char || (at(p) == b')' && end_char == b',') {
                    break;
                }
                if at(p) != b',' {
                    return false;
                }
                p = skip_blanks(buf, p + 1);
                num_values += 1;
                if num_values > num_vars {
                    self.report(
                        diags,
                        Level::GeneralError,
                        format!("~LST specification has too many values '{}'", lossy(buf)),
                    );
                    return false;
                }
            }
            while num_values < num_vars {
                values.push(String::new());
                num_values += 1;
            }
            sets.push(values);
            if at(p) == b'}' && end_char == b'}' {
                p = skip_blanks(buf, p + 1);
            }
            if at(p) == b')' {
                break;
            }
            if at(p) != b',' {
                return false;
            }
            p = skip_blanks(buf, p + 1);
        }
        if params.is_empty() || sets.is_empty() {
            return false;
        }
        let text_start = skip_blanks(buf, p + 1);
        let text = if text_start <= buf.len() {
            lossy(&buf[text_start..])
        } else {
            String::new()
        };
        self.seqs.push(Seq::List {
            params,
            values: sets,
            idx: 0,
            text,
        });
        true
    }

    /// `include`, `includer`, `includem`, `includew`, `includeb`, `includea` lines.
    fn check_include(&mut self, buf: &[u8], diags: &mut Diagnostics) -> bool {
        if !buf.starts_with(b"include") || buf.len() < 8 {
            return false;
        }
        let c7 = buf[7];
        let (ty, p) = if c7.is_ascii_whitespace() {
            (INCLUDE, 8)
        } else if buf.get(8).is_some_and(|c| c.is_ascii_whitespace()) && b"rmwba".contains(&c7) {
            let ty = match c7 {
                b'r' => INCLUDE_R,
                b'a' => INCLUDE_R | INCLUDE_M | INCLUDE_B | INCLUDE_W,
                b'w' => INCLUDE_R | INCLUDE_M | INCLUDE_W,
                b'm' => INCLUDE_R | INCLUDE_M,
                _ => INCLUDE_R | INCLUDE_B,
            };
            (ty, 9)
        } else {
            return false;
        };
        let p = skip_blanks(buf, p.min(buf.len()));
        let pattern = lossy(&buf[p..]);
        if !self.opts.allow_includes {
            self.report(
                diags,
                Level::Info,
                format!("include of '{pattern}' not followed"),
            );
            return true;
        }
        let base = self.current_dir();
        self.open_glob_file(&pattern, ty, base, diags);
        true
    }
}

/// strerror(3) text for the errors opening a file can give.
fn errno_text(e: i32) -> String {
    match e {
        1 => "Operation not permitted".into(),
        2 => "No such file or directory".into(),
        5 => "Input/output error".into(),
        13 => "Permission denied".into(),
        21 => "Is a directory".into(),
        24 => "Too many open files".into(),
        _ => std::io::Error::from_raw_os_error(e).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> (Vec<String>, Diagnostics) {
        lines_with(text, LexOptions::default())
    }

    fn lines_with(text: &str, opts: LexOptions) -> (Vec<String>, Diagnostics) {
        let mut d = Diagnostics::new();
        let mut lx = Lexer::from_text("t.conf", text.as_bytes(), opts);
        let mut out = Vec::new();
        while let Some(l) = lx.next_line(&mut d) {
            out.push(l.text);
        }
        (out, d)
    }

    #[test]
    fn decomment_rules() {
        assert_eq!(decomment(b"  auth_pass abc#1").0, b"auth_pass abc");
        assert_eq!(decomment(b"x \"a#b\" # c").0, b"x \"a#b\"");
        assert_eq!(decomment(b"x a\\#b").0, b"x a#b");
        assert_eq!(decomment(b"x ! comment").0, b"x");
        assert_eq!(decomment(b"$A=b \\").0, b"$A=b\\");
        assert!(decomment(b"x \"abc").1.is_some());
    }

    #[test]
    fn braces_split_into_lines() {
        let (l, d) = lines("virtual_ipaddress { 10.0.0.1/24 }\n");
        assert_eq!(l, vec!["virtual_ipaddress", "{", "10.0.0.1/24", "}"]);
        assert!(d.is_empty());
        let (l, _) = lines("a \"{x}\" {\n}\n");
        assert_eq!(l, vec!["a \"{x}\"", "{", "}"]);
    }

    #[test]
    fn extra_and_missing_braces() {
        let (_, d) = lines("}\n");
        assert_eq!(d.all()[0].message, "Extra '}' found");
        let (_, d) = lines("a {\n");
        assert_eq!(d.all()[0].message, "There are 1 missing '}'s or extra '{'s");
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(split_words("a \"b c\" d").0, vec!["a", "b c", "d"]);
        assert_eq!(split_words("a\"b\"").0, vec!["a", "b"]);
        assert!(split_words("a \"b").1.is_some());
        assert_eq!(
            split_quoted_escaped("notify \"/bin/x a\\tb\" root").unwrap(),
            vec!["notify", "/bin/x a\tb", "root"]
        );
        assert_eq!(
            split_quoted_escaped("'a b' c\\x41").unwrap(),
            vec!["a b", "cA"]
        );
        assert!(matches!(
            split_quoted_escaped("\"abc"),
            Err(QuoteError::Unterminated(_))
        ));
    }

    #[test]
    fn definitions_and_substitution() {
        let (l, _) = lines("$IF=eth0\ninterface $IF\ninterface ${IF}x\n");
        assert_eq!(l, vec!["interface eth0", "interface eth0x"]);
        let (l, _) = lines("$A=$B\n$B=q\nx $A\n");
        assert_eq!(l, vec!["x q"]);
        let (l, _) = lines("$M=a \\\n b \\\n c\nk $M\n");
        assert_eq!(l, vec!["k a", "b", "c"]);
    }

    #[test]
    fn conditional_lines() {
        let opts = LexOptions {
            config_id: Some("node1".into()),
            ..LexOptions::default()
        };
        let (l, _) = lines_with("@node1 a 1\n@node2 b 2\n@^node1 c 3\n@^node2 d 4\n", opts);
        assert_eq!(l, vec!["a 1", "d 4"]);
    }

    #[test]
    fn seq_and_lst() {
        let (l, _) = lines("~SEQ(i,1,3) x $i\n");
        assert_eq!(l, vec!["x 1", "x 2", "x 3"]);
        let (l, _) = lines("~SEQx(i,9,1,11) x $i\n");
        assert_eq!(l, vec!["x 9", "x a", "x b"]);
        let (l, _) = lines("~LST({a,b},{1,2},{3,4}) ${a}-$b\n");
        assert_eq!(l, vec!["1-2", "3-4"]);
        // `$a-` is not a reference: only blank, `,`, `)` or the end may follow a bare name.
        let (l, _) = lines("~LST({a,b},{1,2}) $a-$b\n");
        assert_eq!(l, vec!["$a-2"]);
        let (l, _) = lines("~LST(v,p,q) y $v\n");
        assert_eq!(l, vec!["y p", "y q"]);
    }

    #[test]
    fn shortening_with_params_keeps_keepalived_quirk() {
        // keepalived 2.2.7 only moves two bytes after a shorter `${_RANDOM a b}` value.
        let (l, _) = lines("virtual_router_id ${_RANDOM 300 300} end\n");
        assert_eq!(l, vec!["virtual_router_id 300 ANDOM 300 300", "}", "end"]);
        let (l, _) = lines("$X=abc\nv ${X }z\n");
        assert_eq!(l, vec!["v abc", "}", "z"]);
    }

    #[test]
    fn self_reference_terminates() {
        let (l, _) = lines("$A=$A\nx $A\n");
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn long_lines_are_cut_like_fgets() {
        let long = "a".repeat(1500);
        let (l, _) = lines(&format!("{long}\n"));
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].len(), 1023);
    }
}
