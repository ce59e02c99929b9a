//! The pipeline's shape, checked from the source: the top-level modules of src/ (its folders)
//! import each other without a circle and only down the layers, the domain imports nothing,
//! the deal rules import only the domain, and nothing imports the command line. Read from the `crate::` paths of each
//! file's product code (a file's `#[cfg(test)]` part may reach further); `cargo test --test
//! architecture` runs it, and docs/architecture.md explains the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One import of another top-level module: where it is written.
#[derive(Debug, Clone)]
struct Import {
    from: String,
    to: String,
    at: String,
}

/// The module graph of src/: every import between two different top-level modules.
struct Graph {
    modules: BTreeSet<String>,
    imports: Vec<Import>,
    /// `crate::` names that are no module, re-export or exported macro, with where: a path the
    /// reader could not place would hide an import, so the tests refuse it.
    unplaced: Vec<String>,
}

impl Graph {
    fn read() -> Graph {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
        let (modules, aliases) = top_level(&lib);
        let mut imports = Vec::new();
        let mut unplaced = Vec::new();
        let files = rust_files(&src);
        let macros = exported_macros(&files);
        for file in files {
            let relative = file.strip_prefix(&src).unwrap();
            let Some(from) = owner(relative) else {
                continue;
            };
            let text = std::fs::read_to_string(&file).unwrap();
            for (line, target) in crate_paths(&text) {
                let to = aliases.get(&target).cloned().unwrap_or(target);
                let at = format!("src/{}:{line}", relative.display());
                if !modules.contains(&to) {
                    if !macros.contains(&to) {
                        unplaced.push(format!("crate::{to} at {at}"));
                    }
                } else if to != from {
                    imports.push(Import {
                        from: from.clone(),
                        to,
                        at,
                    });
                }
            }
        }
        Graph {
            modules,
            imports,
            unplaced,
        }
    }

    fn targets(&self, from: &str) -> BTreeSet<&str> {
        self.imports
            .iter()
            .filter(|i| i.from == from)
            .map(|i| i.to.as_str())
            .collect()
    }

    /// Every module `from` reaches through one or more imports.
    fn reach(&self, from: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut queue = vec![from.to_string()];
        while let Some(module) = queue.pop() {
            for next in self.targets(&module) {
                if seen.insert(next.to_string()) {
                    queue.push(next.to_string());
                }
            }
        }
        seen
    }

    /// Where `from` imports `to`, for messages.
    fn evidence(&self, from: &str, to: &str) -> String {
        let places: Vec<&str> = self
            .imports
            .iter()
            .filter(|i| i.from == from && i.to == to)
            .map(|i| i.at.as_str())
            .collect();
        format!("{from} → {to} ({})", places.join(", "))
    }
}

/// The top-level modules `lib.rs` declares, and its `pub use` aliases (a former path → the
/// module that owns it now).
fn top_level(lib: &str) -> (BTreeSet<String>, BTreeMap<String, String>) {
    let mut modules = BTreeSet::new();
    let mut aliases = BTreeMap::new();
    for line in lib.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("pub mod ") {
            modules.insert(name.trim_end_matches(';').to_string());
        } else if let Some(path) = line.strip_prefix("pub use ") {
            let path = path.trim_end_matches(';');
            let owner = path.split("::").next().unwrap().split(' ').next().unwrap();
            if let Some((_, alias)) = path.split_once(" as ") {
                aliases.insert(alias.trim().to_string(), owner.to_string());
            } else if let Some((_, group)) = path.split_once("::{") {
                for name in group.trim_end_matches('}').split(',') {
                    aliases.insert(name.trim().to_string(), owner.to_string());
                }
            } else if let Some(name) = path.rsplit("::").next() {
                aliases.insert(name.to_string(), owner.to_string());
            }
        }
    }
    (modules, aliases)
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The names of the `macro_rules!` macros in src/: `#[macro_export]` puts them at the crate
/// root, where `crate::outln!` names them.
fn exported_macros(files: &[PathBuf]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        for part in text.split("macro_rules!").skip(1) {
            names.insert(identifier(part.trim_start()));
        }
    }
    names
}

/// The top-level module a file belongs to; `None` for the crate root and the binary.
fn owner(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        name => Some(name.trim_end_matches(".rs").to_string()),
    }
}

/// The first name after each `crate::` of the product code, with its line: `crate::a::b` gives
/// `a`, `crate::{a, b::c}` gives `a` and `b`. Comments are skipped, and the file's unit tests
/// (from its `#[cfg(test)]` on) are not read.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut code = String::new();
    let mut line_of = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed == "#[cfg(test)]" {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
        line_of.resize(code.len(), number + 1);
    }
    let mut rest = code.as_str();
    let mut offset = 0;
    while let Some(at) = rest.find("crate::") {
        let start = at + "crate::".len();
        let after = &rest[start..];
        let line = line_of[offset + at];
        if let Some(group) = after.strip_prefix('{') {
            for item in top_level_items(group) {
                found.push((line, item));
            }
        } else {
            found.push((line, identifier(after)));
        }
        offset += start;
        rest = &rest[start..];
    }
    found.retain(|(_, name)| !name.is_empty());
    found
}

/// The leading names of the comma-separated items of a `{…}` group (its text after `{`).
fn top_level_items(group: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if item_start && !c.is_whitespace() => {
                items.push(identifier(&group[i..]));
                item_start = false;
            }
            _ => {}
        }
    }
    items
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn the_reader_sees_the_pipelines_imports() {
    let graph = Graph::read();
    // Guards the reader itself: a parser that saw nothing would pass every check below.
    for (from, to) in [
        ("pipeline", "rules"),
        ("pipeline", "register"),
        ("rules", "domain"),
        ("cli", "pipeline"),
    ] {
        assert!(
            graph.targets(from).contains(to),
            "{from} should import {to}; the reader found {:?}",
            graph.targets(from)
        );
    }
    assert!(
        graph.modules.len() >= 10,
        "modules read from lib.rs: {:?}",
        graph.modules
    );
    assert!(
        graph.unplaced.is_empty(),
        "these paths name no module of lib.rs, no `pub use` of it on one line, and no macro; \
         write the re-export as `pub use module::{{a, b}};` or `pub use module as name;`:\n{}",
        graph.unplaced.join("\n")
    );
}

#[test]
fn no_module_imports_another_in_a_circle() {
    let graph = Graph::read();
    let mut circles = Vec::new();
    for import in &graph.imports {
        if graph.reach(&import.to).contains(&import.from) {
            circles.push(graph.evidence(&import.from, &import.to));
        }
    }
    circles.sort();
    circles.dedup();
    assert!(
        circles.is_empty(),
        "these imports lie on a circle; move what both sides need to the lower one:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_domain_imports_nothing_and_the_rules_only_the_domain() {
    let graph = Graph::read();
    let mut wrong = Vec::new();
    for (module, allowed) in [("domain", vec![]), ("rules", vec!["domain"])] {
        for to in graph.targets(module) {
            if !allowed.contains(&to) {
                wrong.push(graph.evidence(module, to));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "the domain stands alone and the rules are pure over it; move these types into \
         src/domain/ or pass them in:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn nothing_imports_the_command_line() {
    let graph = Graph::read();
    let wrong: Vec<String> = graph
        .imports
        .iter()
        .filter(|i| i.to == "cli")
        .map(|i| graph.evidence(&i.from, "cli"))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        wrong.is_empty(),
        "the command line is the top of the crate; move what these need out of src/cli/:\n{}",
        wrong.join("\n")
    );
}

/// The layers of docs/architecture.md, lowest first. A folder imports from its own layer or
/// below; one not listed here (the test harness) is not held to an order.
const LAYERS: [&[&str]; 7] = [
    &["domain"],
    &["rules", "ops", "db"],
    &["source", "calltouch", "register"],
    &["config"],
    &["pipeline"],
    &["status", "doctor", "discover"],
    &["cli"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

#[test]
fn every_import_goes_down_the_layers() {
    let graph = Graph::read();
    let mut upward: Vec<String> = graph
        .imports
        .iter()
        .filter(|i| matches!((layer(&i.from), layer(&i.to)), (Some(from), Some(to)) if to > from))
        .map(|i| graph.evidence(&i.from, &i.to))
        .collect();
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "these imports reach up a layer (docs/architecture.md); move what they need down:\n{}",
        upward.join("\n")
    );
}
