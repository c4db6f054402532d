//! Objects -> text, in kubectl's formats. Pure.

use serde_json::Value;

use crate::core::objects::istio::GROUP;

/// `-o` values that print objects (status adds `wide`, a table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectFormat {
    Yaml,
    Json,
    Name,
}

/// Control characters (a terminal escape in a hand-made host, a newline in a typed argument)
/// shown escaped, never raw: what is printed stays on its line and cannot drive the terminal.
pub fn escaped_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// YAML documents separated by `---`, as `kubectl get -o yaml` prints several objects in a
/// stream; kubectl-style list indentation.
pub fn yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(yaml_one)
        .collect::<Vec<_>>()
        .join("---\n")
}

pub fn yaml_one<T: serde::Serialize>(value: &T) -> String {
    // Serialising a serde_json::Value or our plain structs cannot fail: no maps with non-string
    // keys, no non-finite floats.
    serde_saphyr::to_string(value).unwrap_or_else(|e| format!("# cannot render YAML: {e}\n"))
}

/// One object as itself; several as a `v1` `List`, as kubectl does.
pub fn json(objects: &[Value]) -> String {
    let value = match objects {
        [one] => one.clone(),
        many => serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": many,
            "metadata": {},
        }),
    };
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// `serviceentry.networking.istio.io/httpbin`, `deployment.apps/api`, `service/api`: the group
/// from the object's apiVersion (networking.istio.io when it has none).
pub fn name(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("").to_ascii_lowercase();
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    match object["apiVersion"].as_str() {
        Some(api_version) if !api_version.contains('/') && !api_version.is_empty() => {
            format!("{kind}/{name}")
        }
        Some(api_version) if !api_version.is_empty() => {
            let group = api_version.split('/').next().unwrap_or(GROUP);
            format!("{kind}.{group}/{name}")
        }
        _ => format!("{kind}.{GROUP}/{name}"),
    }
}

pub fn objects(format: ObjectFormat, objects: &[Value]) -> String {
    match format {
        ObjectFormat::Yaml => yaml(objects),
        ObjectFormat::Json => json(objects),
        ObjectFormat::Name => objects.iter().map(|o| name(o) + "\n").collect(),
    }
}
