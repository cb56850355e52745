//! The module boundaries, checked on the source: they hold by test, not by
//! convention. Production code only (test files and `#[cfg(test)]` tails
//! are left out: a test may reach across to set up what it checks).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn is_test_file(rel: &str) -> bool {
    rel.ends_with("_tests.rs")
        || rel.ends_with("/tests.rs")
        || rel.ends_with("/testkit.rs")
        || rel.contains("/tests/")
        || rel.ends_with("_props.rs")
}

/// `(path relative to src, production code)` of every source file: test
/// modules and comment lines left out.
fn production_sources() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![src()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let rel = path.strip_prefix(src()).unwrap().to_string_lossy().replace('\\', "/");
            if !rel.ends_with(".rs") || is_test_file(&rel) || rel == "architecture_tests.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = without_test_modules(&text);
            let code: Vec<&str> = code.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            out.push((rel, code.join("\n")));
        }
    }
    out.sort();
    out
}

/// `text` up to its first `#[cfg(test)]` module (a `mod` item, inline or
/// by `#[path]`); a `#[cfg(test)]` function or impl stays: it is code the
/// module's own tests build on.
fn without_test_modules(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.trim() != "#[cfg(test)]" {
            continue;
        }
        let item = lines[i + 1..].iter().map(|l| l.trim()).find(|l| !l.starts_with("#["));
        if item.is_some_and(|l| l.starts_with("mod ") || l.starts_with("pub mod ") || l.starts_with("pub(crate) mod "))
        {
            return lines[..i].join("\n");
        }
    }
    text.to_string()
}

fn top_level_modules() -> BTreeSet<String> {
    let mut mods = BTreeSet::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            mods.insert(name);
        } else if let Some(stem) = name.strip_suffix(".rs")
            && !matches!(stem, "lib" | "main")
        {
            mods.insert(stem.to_string());
        }
    }
    mods
}

/// `crate::<module>` paths named in `text`, grouped imports included.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                found.insert(name);
            }
        } else {
            found.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    found
}

#[test]
fn only_the_store_talks_to_the_database_library() {
    let outside: Vec<String> = production_sources()
        .into_iter()
        .filter(|(rel, text)| !rel.starts_with("store/") && text.contains("sea_orm"))
        .map(|(rel, _)| rel)
        .collect();
    assert!(outside.is_empty(), "sea_orm used outside src/store/: {outside:?}");
}

#[test]
fn domain_performs_no_effects_and_depends_on_no_shell_module() {
    let mods = top_level_modules();
    for (rel, text) in production_sources().into_iter().filter(|(rel, _)| rel.starts_with("domain/")) {
        for word in ["Utc::now()", "tokio::", "reqwest", "std::fs", "entity::"] {
            assert!(!text.contains(word), "{rel} uses `{word}`: domain decides, the shell performs");
        }
        let shell: Vec<String> = crate_paths(&text).into_iter().filter(|m| m != "domain" && mods.contains(m)).collect();
        assert!(shell.is_empty(), "{rel} depends on {shell:?}");
    }
}

#[test]
fn no_cycle_between_top_level_modules() {
    let mods = top_level_modules();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut why: BTreeMap<(String, String), String> = BTreeMap::new();
    for (rel, text) in production_sources() {
        let from = rel.split('/').next().unwrap().trim_end_matches(".rs").to_string();
        if !mods.contains(&from) {
            continue;
        }
        for to in crate_paths(&text).into_iter().filter(|m| mods.contains(m) && *m != from) {
            why.entry((from.clone(), to.clone())).or_insert_with(|| rel.clone());
            edges.entry(from.clone()).or_default().insert(to);
        }
    }
    // A cycle exists iff some module reaches itself.
    for start in &mods {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<Vec<String>> = vec![vec![start.clone()]];
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap();
            for next in edges.get(last).into_iter().flatten() {
                if next == start {
                    let mut cycle = path.clone();
                    cycle.push(next.clone());
                    let hops: Vec<String> = cycle
                        .windows(2)
                        .map(|w| format!("{} -> {} ({})", w[0], w[1], why[&(w[0].clone(), w[1].clone())]))
                        .collect();
                    panic!("module cycle: {}", hops.join(", "));
                }
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
}
