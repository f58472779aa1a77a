//! The part of popt (1.19, the version ipvsadm 1.31 is linked with on Debian 12) that
//! ipvsadm's option table exercises, re-done: long options (`--name`, `--name=value`),
//! short clusters (`-Ln`, `-At10.0.0.1:80`, `-t=addr`), optional arguments (taken only when
//! the next word does not start with `-`), `--` and `-` handling, argument permutation
//! (leftovers collected for `poptGetArg`), the `!#:+` argument expansion, and popt's error
//! codes with `poptBadOption`'s view of the offending word.

/// How an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// `POPT_ARG_NONE`.
    None,
    /// `POPT_ARG_STRING`.
    Required,
    /// `POPT_ARG_STRING | POPT_ARGFLAG_OPTIONAL`.
    Optional,
}

/// One entry of the option table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OptDef<T: Copy> {
    pub long: Option<&'static str>,
    pub short: Option<u8>,
    pub arg: ArgKind,
    pub tag: T,
}

/// popt's errors (`POPT_ERROR_*`) as poptStrerror words them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PoptError {
    NoArg,
    UnwantedArg,
    BadOpt,
}

impl PoptError {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            PoptError::NoArg => "missing argument",
            PoptError::UnwantedArg => "option does not take an argument",
            PoptError::BadOpt => "unknown option",
        }
    }
}

/// A popt context over one argv (argv[0] is skipped).
pub(crate) struct Popt<'a, T: Copy> {
    argv: &'a [String],
    table: &'a [OptDef<T>],
    next: usize,
    /// Remaining characters of a short-option cluster: (argv index, byte offset).
    next_char: Option<(usize, usize)>,
    rest_leftover: bool,
    leftovers: Vec<String>,
    /// Words removed by `!#:+` expansion.
    deleted: Vec<bool>,
    leftover_pos: usize,
}

impl<'a, T: Copy> Popt<'a, T> {
    pub(crate) fn new(argv: &'a [String], table: &'a [OptDef<T>]) -> Self {
        Popt {
            argv,
            table,
            next: 1,
            next_char: None,
            rest_leftover: false,
            leftovers: Vec::new(),
            deleted: vec![false; argv.len()],
            leftover_pos: 0,
        }
    }

    /// `poptBadOption(con, POPT_BADOPTION_NOALIAS)`: the argv word consumed last.
    pub(crate) fn bad_option(&self) -> String {
        self.argv
            .get(self.next.saturating_sub(1))
            .cloned()
            .unwrap_or_default()
    }

    /// `poptGetArg`: the next leftover (non-option) argument.
    pub(crate) fn get_arg(&mut self) -> Option<String> {
        let a = self.leftovers.get(self.leftover_pos).cloned();
        if a.is_some() {
            self.leftover_pos += 1;
        }
        a
    }

    fn find_long(&self, name: &str) -> Option<&'a OptDef<T>> {
        self.table.iter().find(|o| o.long == Some(name))
    }

    fn find_short(&self, c: u8) -> Option<&'a OptDef<T>> {
        self.table.iter().find(|o| o.short == Some(c))
    }

    /// popt's `findNextArg(con, 1, 1)`: the next word not starting with '-' (and not yet
    /// removed), removed.
    fn take_next_plain_arg(&mut self) -> Option<String> {
        for i in self.next..self.argv.len() {
            if self.deleted[i] || self.argv[i].starts_with('-') {
                continue;
            }
            self.deleted[i] = true;
            return Some(self.argv[i].clone());
        }
        None
    }

    /// popt's `expandNextArg`: every `!#:+` becomes the next plain word (found once).
    fn expand(&mut self, s: &str) -> String {
        if !s.contains("!#:+") {
            return s.to_string();
        }
        let mut out = String::new();
        let mut a: Option<String> = None;
        let mut rest = s;
        while let Some(pos) = rest.find('!') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(tail) = after.strip_prefix("#:+") {
                if a.is_none() {
                    a = self.take_next_plain_arg();
                }
                if let Some(a) = &a {
                    out.push_str(a);
                    rest = tail;
                    continue;
                }
            }
            out.push('!');
            rest = after;
        }
        out.push_str(rest);
        out
    }

    /// `poptGetNextOpt`: the next option with its argument, `Ok(None)` at the end.
    pub(crate) fn next_opt(&mut self) -> Result<Option<(T, Option<String>)>, PoptError> {
        loop {
            let mut long_arg: Option<String> = None;
            let opt: &OptDef<T>;
            if self.next_char.is_none() {
                if self.next >= self.argv.len() {
                    return Ok(None);
                }
                if self.deleted[self.next] {
                    self.next += 1;
                    continue;
                }
                let idx = self.next;
                self.next += 1;
                let word = &self.argv[idx];
                if self.rest_leftover || !word.starts_with('-') || word == "-" {
                    self.leftovers.push(word.clone());
                    continue;
                }
                if word == "--" {
                    self.rest_leftover = true;
                    continue;
                }
                let (body, one_dash) = match word.strip_prefix("--") {
                    Some(b) => (b, false),
                    None => (&word[1..], true),
                };
                let (name, arg) = match body.find('=') {
                    Some(p) => (&body[..p], Some(body[p + 1..].to_string())),
                    None => (body, None),
                };
                // No option of ipvsadm's table is ONEDASH, so "-name" is always a cluster.
                let found = if one_dash { None } else { self.find_long(name) };
                match found {
                    Some(o) => {
                        opt = o;
                        long_arg = arg;
                    }
                    None if one_dash => {
                        self.next_char = Some((idx, 1));
                        continue;
                    }
                    None => return Err(PoptError::BadOpt),
                }
            } else {
                let (idx, off) = self.next_char.take().unwrap_or((0, 0));
                let bytes = self.argv[idx].as_bytes();
                let c = bytes[off];
                opt = match self.find_short(c) {
                    Some(o) => o,
                    None => return Err(PoptError::BadOpt),
                };
                if off + 1 < bytes.len() {
                    self.next_char = Some((idx, off + 1));
                }
            }

            if opt.arg == ArgKind::None {
                let eq_follows = self
                    .next_char
                    .is_some_and(|(i, o)| self.argv[i].as_bytes()[o] == b'=');
                if long_arg.is_some() || eq_follows {
                    return Err(PoptError::UnwantedArg);
                }
                return Ok(Some((opt.tag, None)));
            }

            let value = if let Some(la) = long_arg {
                Some(self.expand(&la))
            } else if let Some((i, o)) = self.next_char.take() {
                let rest = &self.argv[i][o..];
                let rest = rest.strip_prefix('=').unwrap_or(rest).to_string();
                Some(self.expand(&rest))
            } else {
                // Words removed by `!#:+` are still counted by popt here (it checks
                // `next == argc` only), so a removed word can be taken as an argument.
                if self.next >= self.argv.len() {
                    if opt.arg != ArgKind::Optional {
                        return Err(PoptError::NoArg);
                    }
                    None
                } else if opt.arg == ArgKind::Optional && self.argv[self.next].starts_with('-') {
                    None
                } else {
                    let w = self.argv[self.next].clone();
                    self.next += 1;
                    Some(self.expand(&w))
                }
            };
            return Ok(Some((opt.tag, value)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<OptDef<char>> {
        vec![
            OptDef {
                long: Some("list"),
                short: Some(b'L'),
                arg: ArgKind::None,
                tag: 'L',
            },
            OptDef {
                long: Some("numeric"),
                short: Some(b'n'),
                arg: ArgKind::None,
                tag: 'n',
            },
            OptDef {
                long: Some("tcp-service"),
                short: Some(b't'),
                arg: ArgKind::Required,
                tag: 't',
            },
            OptDef {
                long: Some("persistent"),
                short: Some(b'p'),
                arg: ArgKind::Optional,
                tag: 'p',
            },
        ]
    }

    type Events = Vec<Result<(char, Option<String>), PoptError>>;

    fn run(args: &[&str]) -> (Events, Vec<String>) {
        let argv: Vec<String> = std::iter::once("prog")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        let t = table();
        let mut p = Popt::new(&argv, &t);
        let mut out = Vec::new();
        loop {
            match p.next_opt() {
                Ok(Some(x)) => out.push(Ok(x)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e));
                    break;
                }
            }
        }
        let mut left = Vec::new();
        while let Some(a) = p.get_arg() {
            left.push(a);
        }
        (out, left)
    }

    #[test]
    fn clusters_and_args() {
        let (o, _) = run(&["-Lnt10.0.0.1:80"]);
        assert_eq!(
            o,
            vec![
                Ok(('L', None)),
                Ok(('n', None)),
                Ok(('t', Some("10.0.0.1:80".into())))
            ]
        );
        let (o, _) = run(&["-t=x", "--tcp-service=y", "--tcp-service", "-z"]);
        assert_eq!(
            o,
            vec![
                Ok(('t', Some("x".into()))),
                Ok(('t', Some("y".into()))),
                Ok(('t', Some("-z".into())))
            ]
        );
        let (o, _) = run(&["-p", "-n", "-p", "5", "-p"]);
        assert_eq!(
            o,
            vec![
                Ok(('p', None)),
                Ok(('n', None)),
                Ok(('p', Some("5".into()))),
                Ok(('p', None))
            ]
        );
        let (o, l) = run(&["a", "-L", "-", "--", "-n", "b"]);
        assert_eq!(o, vec![Ok(('L', None))]);
        assert_eq!(l, vec!["a", "-", "-n", "b"]);
        let (o, _) = run(&["-L=1"]);
        assert_eq!(o, vec![Err(PoptError::UnwantedArg)]);
        let (o, _) = run(&["--list=1"]);
        assert_eq!(o, vec![Err(PoptError::UnwantedArg)]);
        let (o, _) = run(&["--lis"]);
        assert_eq!(o, vec![Err(PoptError::BadOpt)]);
        let (o, _) = run(&["-t"]);
        assert_eq!(o, vec![Err(PoptError::NoArg)]);
        let (o, l) = run(&["-t", "a!#:+b", "-L", "c", "d"]);
        assert_eq!(o, vec![Ok(('t', Some("acb".into()))), Ok(('L', None))]);
        assert_eq!(l, vec!["d"]);
    }
}
