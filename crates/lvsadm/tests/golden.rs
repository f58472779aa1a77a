//! Golden tests: every `tests/golden/*.golden` file records what the real ipvsadm 1.31
//! printed (stdout, stderr, exit status) for one command line in the ipvs-vm guest, after
//! a setup of ipvsadm commands, and optionally for a second ("post") command. lvsadm's
//! parser + formatters, run against the in-memory model of `common`, must reproduce it
//! byte for byte. A file may carry `lvsadm-*` overrides for a documented difference
//! (`difference:` line; see docs/compat/ipvsadm.md).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

struct Golden {
    fields: BTreeMap<String, String>,
    sections: BTreeMap<String, String>,
}

fn load(path: &Path) -> Golden {
    let text = std::fs::read_to_string(path).unwrap();
    let mut fields = BTreeMap::new();
    let mut sections = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.split_inclusive('\n') {
        if let Some(name) = line
            .strip_prefix("=== ")
            .and_then(|l| l.strip_suffix(" ===\n"))
        {
            current = Some(name.to_string());
            sections.insert(name.to_string(), String::new());
            continue;
        }
        match &current {
            Some(sec) => sections.get_mut(sec).unwrap().push_str(line),
            None => {
                if line.starts_with('#') {
                    continue;
                }
                let (k, v) = line.trim_end_matches('\n').split_once(": ").unwrap();
                fields.insert(k.to_string(), v.to_string());
            }
        }
    }
    Golden { fields, sections }
}

fn argv_of(json: &str) -> Vec<String> {
    let v: Vec<String> = serde_json::from_str(json).unwrap();
    std::iter::once("ipvsadm".to_string()).chain(v).collect()
}

impl Golden {
    fn expect(&self, key: &str) -> String {
        self.sections
            .get(&format!("lvsadm-{key}"))
            .or_else(|| self.sections.get(key))
            .cloned()
            .unwrap_or_default()
    }
    fn expect_field(&self, key: &str) -> Option<String> {
        self.fields
            .get(&format!("lvsadm-{key}"))
            .or_else(|| self.fields.get(key))
            .cloned()
    }
}

fn check(path: &Path) -> Vec<String> {
    let g = load(path);
    let name = path.file_stem().unwrap().to_string_lossy().to_string();
    let mut model = common::Model::default();
    if let Some(setup) = g.fields.get("setup") {
        let mut setup_out = String::new();
        for mut argv in common::setup_argvs(setup) {
            argv[0] = "ipvsadm".into();
            let o = common::run(&mut model, &argv, b"");
            setup_out.push_str(&o.stdout);
            setup_out.push_str(&o.stderr);
        }
        let want = g.expect("setup-output");
        assert_eq!(setup_out, want, "{name}: setup output differs");
    }
    let stdin: String = g
        .fields
        .get("stdin")
        .map(|s| serde_json::from_str(s).unwrap())
        .unwrap_or_default();
    let argv = argv_of(&g.fields["args"]);
    let o = common::run(&mut model, &argv, stdin.as_bytes());
    let mut errs = Vec::new();
    let mut cmp = |what: &str, got: &str, want: &str| {
        if got != want {
            errs.push(format!(
                "{name}: {what} differs\n--- want\n{want}--- got\n{got}---"
            ));
        }
    };
    cmp("stdout", &o.stdout, &g.expect("stdout"));
    cmp("stderr", &o.stderr, &g.expect("stderr"));
    cmp("rc", &o.rc.to_string(), &g.expect_field("rc").unwrap());
    if let Some(post) = g.fields.get("post") {
        let argv = argv_of(post);
        let o = common::run(&mut model, &argv, b"");
        cmp("post stdout", &o.stdout, &g.expect("post-stdout"));
        cmp("post stderr", &o.stderr, &g.expect("post-stderr"));
        cmp(
            "post rc",
            &o.rc.to_string(),
            &g.expect_field("post-rc").unwrap(),
        );
    }
    errs
}

#[test]
fn golden_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "golden"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 150, "only {} golden files", paths.len());
    let mut failures = Vec::new();
    for p in &paths {
        failures.extend(check(p));
    }
    if !failures.is_empty() {
        panic!(
            "{} golden mismatches of {} files:\n{}",
            failures.len(),
            paths.len(),
            failures.join("\n")
        );
    }
}
