//! The `keepalived_conf` fuzz target's body on stable Rust, in every `cargo test`: over the
//! corpus (every case and sample configuration) and over a few thousand generated inputs —
//! keyword soup, mutated corpus files and arbitrary bytes. Nothing may panic.

use std::path::Path;

use lvs_keepalived::conf::fuzzing::{keepalived_conf, keywords};
use proptest::prelude::*;

fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut out = Vec::new();
    let mut dirs = vec![root.join("conf_cases"), root.join("samples")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn corpus_does_not_panic() {
    let c = corpus();
    assert!(c.len() > 200);
    for data in &c {
        keepalived_conf(data);
    }
}

const VALUES: &[&str] = &[
    "1",
    "0",
    "-1",
    "255",
    "300",
    "4294967296",
    "0.5",
    "1.0000005",
    "x",
    "",
    "10.0.0.1",
    "10.0.0.1/24",
    "10.0.0.1-20",
    "fd00::1",
    "fe80::1/64",
    "224.0.0.18",
    "eth0",
    "eth1",
    "lo",
    "eth9",
    "MASTER",
    "BACKUP",
    "PASS",
    "AH",
    "NAT",
    "DR",
    "TUN",
    "FNAT",
    "TCP",
    "UDP",
    "rr",
    "wlc",
    "sh",
    "on",
    "off",
    "reverse",
    "weight",
    "dev",
    "brd",
    "+",
    "-",
    "label",
    "scope",
    "link",
    "type",
    "gue",
    "port",
    "csum",
    "inst",
    "id",
    "\"/bin/true a b\"",
    "'x y'",
    "\"unterminated",
    "/bin/true",
    "root",
    "$X",
    "${X}",
    "${_RANDOM 1 5}",
    "${_HASH}",
    "\\",
    "#",
    "!",
    "{",
    "}",
    "{}",
    "a\"b",
    "\\x41",
];

const PREFIXES: &[&str] = &[
    "",
    "",
    "",
    "@lvs1 ",
    "@^lvs1 ",
    "@other ",
    "$X=",
    "$X=a \\",
    "~SEQ(i,1,3) ",
    "~LST(v,a,b) ",
    "include ",
    "# ",
];

fn line() -> impl Strategy<Value = String> {
    let kws = keywords();
    (
        prop::sample::select(PREFIXES.to_vec()),
        prop::sample::select(kws),
        prop::collection::vec(prop::sample::select(VALUES.to_vec()), 0..4),
        prop::bool::ANY,
    )
        .prop_map(|(pre, kw, vals, brace)| {
            let mut s = format!("{pre}{kw}");
            for v in vals {
                s.push(' ');
                s.push_str(v);
            }
            if brace {
                s.push_str(" {");
            }
            s
        })
}

fn soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![4 => line(), 1 => Just("}".to_string()), 1 => Just("{".to_string())],
        0..60,
    )
    .prop_map(|lines| lines.join("\n").into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn keyword_soup_does_not_panic(data in soup()) {
        keepalived_conf(&data);
    }

    #[test]
    fn mutated_corpus_does_not_panic(idx in any::<prop::sample::Index>(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..12)) {
        let c = corpus_cached();
        let mut data = idx.get(c).clone();
        for (at, byte, op) in edits {
            if data.is_empty() {
                data.push(byte);
                continue;
            }
            let i = at.index(data.len());
            match op {
                0 => data[i] = byte,
                1 => data.insert(i, byte),
                _ => { data.remove(i); }
            }
        }
        keepalived_conf(&data);
    }

    #[test]
    fn arbitrary_bytes_do_not_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        keepalived_conf(&data);
    }
}

fn corpus_cached() -> &'static Vec<Vec<u8>> {
    static C: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    C.get_or_init(corpus)
}
