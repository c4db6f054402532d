//! The core's layout, checked: its modules import one another without a cycle, and so do its
//! rooms (tests aside), so each can be read, and changed, knowing only those below it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module of the core: its room and its name in the room (`["mesh", "traffic"]`); a room's
/// own `mod.rs` is `[room]`. The parts of a module split into a directory count as the module.
type Module = Vec<String>;

/// The module a file under src/core holds, as a path from `core` (`mesh/traffic/http.rs`:
/// `["mesh", "traffic", "http"]`); `None` for the core's own mod.rs and for tests files.
fn path_of(file: &Path, core: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(core).unwrap();
    let mut path: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if path.last().is_some_and(|last| last == "tests") {
        return None;
    }
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    (!path.is_empty()).then_some(path)
}

/// The module paths named after a prefix: `traffic::{self, Mesh}` gives `traffic` and
/// `traffic::Mesh`, each as its lowercase segments (`["traffic"]`).
fn named(rest: &str) -> Vec<Vec<String>> {
    let mut segments = vec![];
    let mut rest = rest;
    loop {
        let ident: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[ident.len()..];
        if ident.is_empty() || ident == "self" {
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 0;
                let end = group
                    .char_indices()
                    .find(|(_, c)| {
                        depth += match c {
                            '{' => 1,
                            '}' => -1,
                            _ => 0,
                        };
                        depth < 0
                    })
                    .map_or(group.len(), |(at, _)| at);
                let (mut items, mut depth, mut start) = (vec![], 0, 0);
                for (at, c) in group[..end].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            items.push(&group[start..at]);
                            start = at + 1;
                        }
                        _ => {}
                    }
                }
                items.push(&group[start..end]);
                return items
                    .into_iter()
                    .flat_map(|item| named(item.trim()))
                    .map(|tail| segments.iter().cloned().chain(tail).collect())
                    .collect();
            }
            return vec![segments];
        }
        segments.push(ident);
        match rest.strip_prefix("::") {
            Some(next) => rest = next,
            None => return vec![segments],
        }
    }
}

/// What each module of the core imports from the core outside itself (tests aside): every
/// `super::` and `crate::core::` path, resolved to the module it names.
fn imports() -> BTreeMap<Module, BTreeSet<Module>> {
    let core = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/core"));
    let files = crate::tests::rust_files(core);
    let paths: BTreeMap<Vec<String>, &Path> = files
        .iter()
        .filter_map(|file| Some((path_of(file, core)?, file.as_path())))
        .collect();
    let rooms: BTreeSet<&String> = paths.keys().map(|path| &path[0]).collect();
    let module = |path: &[String]| -> Module { path.iter().take(2).cloned().collect() };
    let mut imports: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (path, file) in &paths {
        let source = std::fs::read_to_string(file).unwrap();
        let code = match source.find("#[cfg(test)]\nmod tests {") {
            Some(at) => &source[..at],
            None => &source,
        };
        let from = module(path);
        let used = imports.entry(from.clone()).or_default();
        for (at, _) in code
            .match_indices("super::")
            .chain(code.match_indices("crate::core::"))
        {
            let before = &code[..at];
            if before.ends_with("super::") || before.ends_with(':') {
                continue; // the tail of a longer path, read from its start
            }
            let (mut base, mut rest) = (path.clone(), &code[at..]);
            if let Some(after) = rest.strip_prefix("crate::core::") {
                base.clear();
                rest = after;
                let room: String = after
                    .chars()
                    .take_while(|c| *c == '_' || c.is_ascii_lowercase())
                    .collect();
                assert!(
                    rooms.contains(&room),
                    "{} names crate::core::{room}, not a room of the core: name the room",
                    file.display()
                );
            }
            while let Some(after) = rest.strip_prefix("super::") {
                base.pop();
                rest = after;
            }
            for segments in named(rest) {
                let mut target = base.clone();
                for segment in segments {
                    target.push(segment);
                    if !paths.contains_key(&target) {
                        target.pop();
                        break;
                    }
                }
                let to = module(&target);
                if to.len() == 2 && to != from {
                    used.insert(to);
                }
            }
        }
    }
    imports
}

/// Depth-first: a node met again while still on the path closes a cycle.
fn cycle_through<N: Ord + Clone + std::fmt::Debug>(
    graph: &BTreeMap<N, BTreeSet<N>>,
) -> Option<Vec<N>> {
    fn visit<N: Ord + Clone>(
        n: &N,
        graph: &BTreeMap<N, BTreeSet<N>>,
        path: &mut Vec<N>,
        done: &mut BTreeSet<N>,
    ) -> Option<Vec<N>> {
        if let Some(at) = path.iter().position(|p| p == n) {
            return Some(path[at..].iter().cloned().chain([n.clone()]).collect());
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.clone());
        for next in graph.get(n).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut vec![], &mut done))
}

#[test]
fn no_module_of_the_core_imports_itself_back() {
    let imports = imports();
    let module = |path: &str| -> Module { path.split("::").map(str::to_string).collect() };
    assert!(imports[&module("analysis::status")].contains(&module("analysis::analyzers")));
    assert!(imports[&module("plans::route_plan")].contains(&module("analysis::route_checks")));
    assert!(imports.len() > 20, "only {} modules read", imports.len());
    let names = |cycle: Vec<Module>| cycle.iter().map(|m| m.join("::")).collect::<Vec<_>>();
    if let Some(cycle) = cycle_through(&imports) {
        panic!("import cycle: {}", names(cycle).join(" -> "));
    }
}

/// A room uses only the rooms below it: objects, then mesh, then analysis, then plans (render
/// uses objects).
#[test]
fn no_room_of_the_core_imports_itself_back() {
    let mut rooms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, used) in imports() {
        let below = rooms.entry(from[0].clone()).or_default();
        below.extend(
            used.iter()
                .map(|to| to[0].clone())
                .filter(|room| *room != from[0]),
        );
    }
    assert!(rooms["analysis"].contains("mesh") && rooms["plans"].contains("analysis"));
    if let Some(cycle) = cycle_through(&rooms) {
        panic!("rooms in a cycle: {}", cycle.join(" -> "));
    }
}
