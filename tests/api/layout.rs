//! The shape of the code, as the architecture rules say (issue 10): the capability modules of
//! `shared/src/app` and `shared/src/web` import one another without circles (shared pieces
//! live in leaf modules), and no file there grows past about 500 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn layer(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/src")
        .join(name)
}

/// The top-level module each file of the layer belongs to (`registrants` for
/// `app/registrants/list.rs`); the layer's own `mod.rs` belongs to none.
fn module_of(base: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(base).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "mod").then_some(name)
}

/// Which modules each module of the layer imports (`crate::<layer>::x`, and `super::x` from
/// the module's own top file), test code left out.
fn imports(layer_name: &str) -> BTreeMap<String, BTreeSet<String>> {
    let base = layer(layer_name);
    let files = rust_files(&base);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&base, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(&base, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let top =
            file.ends_with(format!("{module}.rs")) || file.ends_with(format!("{module}/mod.rs"));
        let prefixes = [
            format!("crate::{layer_name}::"),
            (if top { "super::" } else { "super::super::" }).to_string(),
        ];
        for prefix in prefixes {
            for part in code.split(prefix.as_str()).skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if modules.contains(&name) && name != module {
                    edges.entry(module.clone()).or_default().insert(name);
                }
            }
        }
    }
    edges
}

/// A circle through `start`, if there is one.
fn circle(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap().clone();
        for next in edges.get(&last).into_iter().flatten() {
            if next == start {
                return Some(path);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn capability_modules_import_one_another_without_circles() {
    for layer_name in ["app", "web"] {
        let edges = imports(layer_name);
        assert!(edges.len() > 10, "{layer_name}: no imports found");
        for module in edges.keys() {
            assert_eq!(
                circle(&edges, module),
                None,
                "{layer_name}: an import circle through {module}"
            );
        }
    }
}

#[test]
fn no_file_in_app_or_web_grows_past_about_500_lines() {
    for layer_name in ["app", "web"] {
        for file in rust_files(&layer(layer_name)) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            assert!(lines <= 550, "{} has {lines} lines", file.display());
        }
    }
}
