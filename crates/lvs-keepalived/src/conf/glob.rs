//! File-name globbing as keepalived's `include` uses it: glibc `glob()` with `GLOB_MARK`,
//! `GLOB_BRACE` and the `GLOB_ALTDIRFUNC` hooks keepalived installs to count missing files and
//! directories (lib/parser.c `open_and_check_glob`).
//!
//! Patterns are resolved against a base directory (the directory of the including file) but
//! the returned names keep the pattern's own form, as glob returns them: a relative pattern gives
//! relative names.

use std::path::{Path, PathBuf};

/// What one glob call found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct GlobResult {
    /// Matching names in pattern form, each alternative of a `{a,b}` brace sorted on its own;
    /// directories end with `/` (`GLOB_MARK`).
    pub paths: Vec<String>,
    /// Non-wildcard names that did not exist (keepalived's `gl_lstat` hook counts these).
    pub missing_files: u32,
    /// Directories that could not be opened while expanding a wildcard (`gl_opendir` hook).
    pub missing_dirs: u32,
    /// Whether a wildcard made glob open a directory.
    pub have_wildcards: bool,
}

/// Whether a pattern component contains glob magic characters.
fn is_magic(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// Removes backslash escapes from a non-magic component.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Expands `{a,b}` alternatives (glibc `GLOB_BRACE`), left-most brace first, recursively.
/// A pattern whose braces do not balance is returned unchanged.
pub(crate) fn expand_braces(pattern: &str) -> Vec<String> {
    let b = pattern.as_bytes();
    // Find the first unescaped '{'.
    let mut i = 0;
    let mut open = None;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'{' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(open) = open else {
        return vec![pattern.to_string()];
    };
    // Find the matching '}' and the top-level commas.
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut close = None;
    let mut j = open + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 1,
            b'{' => depth += 1,
            b'}' => {
                if depth == 0 {
                    close = Some(j);
                    break;
                }
                depth -= 1;
            }
            b',' if depth == 0 => commas.push(j),
            _ => {}
        }
        j += 1;
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let prefix = &pattern[..open];
    let suffix = &pattern[close + 1..];
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &pattern[w[0] + 1..w[1]];
        for e in expand_braces(&format!("{prefix}{alt}{suffix}")) {
            out.push(e);
        }
    }
    out
}

/// Whether a pattern contains an unescaped `{` (keepalived's `have_brace`).
pub(crate) fn have_brace(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'{' {
            return true;
        }
        i += 1;
    }
    false
}

/// `fnmatch(pattern, name, FNM_PERIOD)` for one path component.
pub(crate) fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if n.first() == Some(&'.')
        && p.first() != Some(&'.')
        && !(p.first() == Some(&'\\') && p.get(1) == Some(&'.'))
    {
        return false;
    }
    match_from(&p, &n)
}

fn match_from(p: &[char], n: &[char]) -> bool {
    // Iterative matcher with single-star backtracking.
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_class(p, pi, n[ni]) {
                        if matched {
                            pi = next;
                            ni += 1;
                            continue;
                        }
                    } else if n[ni] == '[' {
                        // An unterminated class is a literal '['.
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
                '\\' if pi + 1 < p.len() => {
                    if p[pi + 1] == n[ni] {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c => {
                    if c == n[ni] {
                        pi += 1;
                        ni += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, sn)) => {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Matches `c` against the bracket expression starting at `p[start] == '['`.
/// Returns (matched, index after the closing `]`), or None when there is no closing `]`.
fn match_class(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let ch = *p.get(i)?;
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&h| h != ']') {
            let mut hi = p[i + 2];
            let mut skip = 3;
            if hi == '\\' {
                hi = *p.get(i + 3)?;
                skip = 4;
            }
            if lo <= c && c <= hi {
                matched = true;
            }
            i += skip;
        } else {
            if lo == c {
                matched = true;
            }
            i += 1;
        }
    }
}

/// Runs glob on `pattern`, relative names resolved against `base`.
pub(crate) fn glob(pattern: &str, base: &Path) -> GlobResult {
    let mut res = GlobResult::default();
    for alt in expand_braces(pattern) {
        glob_one(&alt, base, &mut res);
    }
    res
}

fn fs_path(base: &Path, shown: &str) -> PathBuf {
    if shown.starts_with('/') {
        PathBuf::from(shown)
    } else {
        base.join(shown)
    }
}

fn glob_one(pattern: &str, base: &Path, res: &mut GlobResult) {
    if pattern.is_empty() {
        return;
    }
    let absolute = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    // Each candidate is the name as glob shows it.
    let mut cands: Vec<String> = vec![if absolute {
        "/".to_string()
    } else {
        String::new()
    }];
    let last = comps.len().saturating_sub(1);
    if comps.is_empty() {
        // The pattern is "/" (or "///").
        res.paths.push("/".to_string());
        return;
    }
    for (idx, comp) in comps.iter().enumerate() {
        let is_last = idx == last;
        let mut next = Vec::new();
        if is_magic(comp) {
            for c in &cands {
                res.have_wildcards = true;
                let dir = if c.is_empty() {
                    base.to_path_buf()
                } else {
                    fs_path(base, c)
                };
                let Ok(rd) = std::fs::read_dir(&dir) else {
                    res.missing_dirs += 1;
                    continue;
                };
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| fnmatch(comp, n))
                    .collect();
                names.sort();
                for n in names {
                    let shown = join_shown(c, &n);
                    if is_last || fs_path(base, &shown).is_dir() {
                        next.push(shown);
                    }
                }
            }
        } else {
            let lit = unescape(comp);
            for c in &cands {
                let shown = join_shown(c, &lit);
                if is_last && std::fs::symlink_metadata(fs_path(base, &shown)).is_err() {
                    res.missing_files += 1;
                    continue;
                }
                next.push(shown);
            }
        }
        cands = next;
        if cands.is_empty() {
            return;
        }
    }
    for c in cands {
        let is_dir = fs_path(base, &c).is_dir();
        res.paths.push(if is_dir && !c.ends_with('/') {
            format!("{c}/")
        } else {
            c
        });
    }
}

fn join_shown(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else if prefix.ends_with('/') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_expand_in_order() {
        assert_eq!(expand_braces("a{b,c}d"), vec!["abd", "acd"]);
        assert_eq!(
            expand_braces("{x,y}/{1,2}"),
            vec!["x/1", "x/2", "y/1", "y/2"]
        );
        assert_eq!(expand_braces("a{b"), vec!["a{b"]);
        assert!(have_brace("a{b,c}"));
        assert!(!have_brace("a\\{b"));
    }

    #[test]
    fn fnmatch_basics() {
        assert!(fnmatch("*.conf", "a.conf"));
        assert!(!fnmatch("*.conf", ".a.conf"));
        assert!(fnmatch(".*", ".a"));
        assert!(fnmatch("a?c", "abc"));
        assert!(fnmatch("[a-c]x", "bx"));
        assert!(!fnmatch("[!a-c]x", "bx"));
        assert!(fnmatch("a\\*", "a*"));
        assert!(!fnmatch("a\\*", "ab"));
        assert!(fnmatch("*a*b*", "xxaxxbxx"));
    }

    #[test]
    fn glob_counts_missing() {
        let dir = std::env::temp_dir().join(format!("lvs-ka-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d")).unwrap();
        std::fs::write(dir.join("d/b.conf"), "").unwrap();
        std::fs::write(dir.join("d/a.conf"), "").unwrap();
        let r = glob("d/*.conf", &dir);
        assert_eq!(r.paths, vec!["d/a.conf", "d/b.conf"]);
        assert!(r.have_wildcards);
        let r = glob("d/none.conf", &dir);
        assert!(r.paths.is_empty());
        assert_eq!(r.missing_files, 1);
        let r = glob("nodir/*.conf", &dir);
        assert_eq!(r.missing_dirs, 1);
        let r = glob("d/{a,c}.conf", &dir);
        assert_eq!(r.paths, vec!["d/a.conf"]);
        assert_eq!(r.missing_files, 1);
        let r = glob("d", &dir);
        assert_eq!(r.paths, vec!["d/"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
