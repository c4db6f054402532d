//! The pure core: validated request -> Istio objects -> text. Nothing here talks to the network
//! or reads files, so `--dry-run=client` and every snapshot test run with no cluster.

pub mod allow_plan;
pub mod analyzers;
pub mod apply_plan;
pub mod change;
pub mod findings;
pub mod gateway;
pub mod gateway_policy;
pub mod graph;
pub mod imports;
pub mod istio;
pub mod live;
pub mod manifest;
pub mod naming;
pub mod ownership;
pub mod plan;
pub mod proxy_config;
pub mod render;
pub mod route_checks;
pub mod route_plan;
pub mod sidecar;
pub mod status;
pub mod traffic;
pub mod validate;
pub mod view;
mod words;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    /// The core's modules import one another without a cycle (tests aside): each can be read,
    /// and changed, knowing only those below it.
    #[test]
    fn no_module_of_the_core_imports_itself_back() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/core");
        let mut imports: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for file in std::fs::read_dir(dir).unwrap() {
            let path = file.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let source = std::fs::read_to_string(&path).unwrap();
            let code = source.split("#[cfg(test)]").next().unwrap_or_default();
            let mut used: Vec<String> = ["super::", "crate::core::"]
                .iter()
                .flat_map(|prefix| code.split(prefix).skip(1))
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect()
                })
                .filter(|m: &String| !m.is_empty() && *m != name)
                .collect();
            used.sort();
            used.dedup();
            imports.insert(name, used);
        }
        assert!(imports.contains_key("status") && imports["status"].contains(&"analyzers".into()));
        // Depth-first: a module met again while still on the path closes a cycle.
        fn visit(m: &str, imports: &BTreeMap<String, Vec<String>>, path: &mut Vec<String>) {
            if let Some(at) = path.iter().position(|p| p == m) {
                panic!("import cycle: {} -> {m}", path[at..].join(" -> "));
            }
            path.push(m.to_string());
            for next in imports.get(m).into_iter().flatten() {
                visit(next, imports, path);
            }
            path.pop();
        }
        for m in imports.keys() {
            visit(m, &imports, &mut vec![]);
        }
    }
}
