//! `apply -f` and `cleanup -f`, the pure part: envsubst-style substitution, splitting files into
//! objects (multi-document YAML, JSON, `List`s), and the scoping rules (one namespace, no
//! cluster-scoped kinds). Reading files and asking the cluster live in commands/manifests.rs.

use std::fmt;

use serde_json::Value;

use crate::core::objects::istio::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::core::objects::validate::InputError;

/// Where an object came from, for messages: `start/api.yaml:12`, or `-:3` for stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    /// 1-based line where the object's document starts.
    pub line: usize,
    /// 1-based position in a `List`'s items.
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(item) = self.item {
            write!(f, " (item {item})")?;
        }
        Ok(())
    }
}

/// One object read from the files, after substitution.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub origin: Origin,
    pub object: Value,
    pub kind: ApiKind,
}

impl Manifest {
    pub fn name(&self) -> &str {
        self.object["metadata"]["name"].as_str().unwrap_or_default()
    }

    /// `Deployment/api`, as the user wrote it.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.kind.kind, self.name())
    }
}

/// What `apiVersion` and `kind` say.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiKind {
    /// "" for the core group (`apiVersion: v1`).
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl ApiKind {
    /// `apps/v1`, `v1`.
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployment.apps`, `service`: how kubectl names the kind in its output.
    pub fn qualified(&self) -> String {
        let kind = self.kind.to_ascii_lowercase();
        if self.group.is_empty() {
            kind
        } else {
            format!("{kind}.{}", self.group)
        }
    }
}

/// A kind as the cluster serves it (learnt from discovery, or known offline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub kind: ApiKind,
    pub plural: String,
    pub namespaced: bool,
}

/// Kinds that are cluster-scoped in every Kubernetes, refused without asking the cluster (and
/// when rendering offline, where there is no cluster to ask). Discovery catches any other.
const CLUSTER_SCOPED: [(&str, &str); 17] = [
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("scheduling.k8s.io", "PriorityClass"),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("networking.k8s.io", "IngressClass"),
    ("node.k8s.io", "RuntimeClass"),
];

pub fn known_cluster_scoped(kind: &ApiKind) -> bool {
    CLUSTER_SCOPED
        .iter()
        .any(|(group, name)| *group == kind.group && *name == kind.kind)
}

/// GNU envsubst's substitution, `$VAR` and `${VAR}`, through the `subst` crate, line by line so
/// that an error names the line. Differences from GNU envsubst, on purpose:
/// - an unset variable is an error (GNU writes an empty string);
/// - `\$` writes a literal `$` (`\$HOME` stays `$HOME`);
/// - `${VAR:default}` uses `default` when VAR is unset (subst's syntax; GNU leaves it as is).
///
/// As in GNU envsubst, a `$` not followed by a letter, `_` or `{` is left alone (`$1`, `a$`,
/// `$$`), and backslashes are kept (YAML escapes such as `"\n"` pass through).
pub fn substitute(
    file: &str,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, InputError> {
    let variables = Lookup(lookup);
    let mut out = String::with_capacity(text.len());
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let escaped = escape_for_subst(line);
        match subst::substitute(&escaped, &variables) {
            Ok(expanded) => out.push_str(&expanded),
            Err(subst::Error::NoSuchVariable(e)) => {
                return Err(InputError(format!(
                    "{file}:{}: variable ${} is not set: export it (envsubst would have written an empty string), or write \\$ for a literal $",
                    index + 1,
                    e.name
                )));
            }
            Err(e) => {
                return Err(InputError(format!(
                    "{file}:{}: cannot substitute variables: {e} in \"{}\"; write \\$ for a literal $",
                    index + 1,
                    line.trim_end().escape_debug()
                )));
            }
        }
    }
    Ok(out)
}

struct Lookup<'f>(&'f dyn Fn(&str) -> Option<String>);

impl<'a> subst::VariableMap<'a> for Lookup<'_> {
    type Value = String;

    fn get(&'a self, key: &str) -> Option<String> {
        (self.0)(key)
    }
}

/// Rewrites one line so that subst reads it as GNU envsubst would: only `\$` is an escape (a
/// backslash anywhere else is literal), and a `$` that starts no variable name is literal.
fn escape_for_subst(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek().copied()) {
            ('\\', Some('$')) => {
                chars.next();
                out.push_str("\\$");
            }
            ('\\', _) => out.push_str("\\\\"),
            ('$', Some(n)) if n.is_ascii_alphabetic() || n == '_' || n == '{' => out.push('$'),
            ('$', _) => out.push_str("\\$"),
            (c, _) => out.push(c),
        }
    }
    out
}

/// Splits a file (after substitution) into objects: YAML documents separated by `---` lines, or
/// one JSON value; a `List` (any kind ending in `List` with `items`) gives its items. Empty
/// documents are skipped. Errors name the file and line.
pub fn parse(file: &str, text: &str, json: bool) -> Result<Vec<Manifest>, InputError> {
    let mut documents: Vec<(usize, Value)> = vec![];
    if json {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            InputError(format!(
                "{file}:{}: malformed JSON: {}",
                e.line(),
                strip_position(&e.to_string())
            ))
        })?;
        documents.push((1, value));
    } else {
        for (start, body) in split_documents(text) {
            if body.trim().is_empty() {
                continue;
            }
            let value: Value = serde_saphyr::from_str(&body).map_err(|e| {
                let line = e
                    .location()
                    .map(|l| start + l.line() as usize - 1)
                    .unwrap_or(start);
                let message = e.to_string();
                let first = message.lines().next().unwrap_or_default();
                // "error: line 5 column 6: unclosed bracket" -> "unclosed bracket"
                let reason = first
                    .strip_prefix("error: line ")
                    .and_then(|rest| rest.split_once(": "))
                    .map(|(_, reason)| reason)
                    .unwrap_or(first);
                InputError(format!(
                    "{file}:{line}: malformed YAML: {}",
                    strip_position(reason)
                ))
            })?;
            documents.push((start, value));
        }
    }
    let mut manifests = vec![];
    for (line, value) in documents {
        let origin = |item| Origin {
            file: file.to_string(),
            line,
            item,
        };
        match value {
            Value::Null => {}
            Value::Object(ref map)
                if map
                    .get("kind")
                    .and_then(Value::as_str)
                    .is_some_and(|k| k.ends_with("List"))
                    && map.contains_key("items") =>
            {
                let items = map["items"].as_array().cloned().unwrap_or_default();
                for (index, item) in items.into_iter().enumerate() {
                    manifests.push(manifest(origin(Some(index + 1)), item)?);
                }
            }
            other => manifests.push(manifest(origin(None), other)?),
        }
    }
    Ok(manifests)
}

/// serde's messages end with " at line L column C": the line is said already.
fn strip_position(message: &str) -> &str {
    message
        .find(" at line ")
        .map(|i| &message[..i])
        .unwrap_or(message)
}

/// YAML documents and the line each starts on (the line after its `---`).
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut documents = vec![(1, String::new())];
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let bare = line.trim_end();
        if bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t") {
            documents.push((index + 2, String::new()));
            let rest = bare[3..].trim_start();
            // `--- {inline: document}`; a comment after the marker is nothing.
            if !rest.is_empty() && !rest.starts_with('#') {
                let last = documents.last_mut().expect("just pushed");
                last.0 = index + 1;
                last.1.push_str(rest);
                last.1.push('\n');
            }
        } else {
            documents.last_mut().expect("never empty").1.push_str(line);
        }
    }
    documents
}

fn manifest(origin: Origin, object: Value) -> Result<Manifest, InputError> {
    if !object.is_object() {
        return Err(InputError(format!(
            "{origin}: not a Kubernetes object (a mapping with apiVersion, kind and metadata.name)"
        )));
    }
    let field = |name: &str| {
        object[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(String::from)
            .ok_or_else(|| InputError(format!("{origin}: the object has no {name}")))
    };
    let api_version = field("apiVersion")?;
    let kind = field("kind")?;
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.clone()),
    };
    if object["metadata"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
    {
        return Err(InputError(format!(
            "{origin}: {kind} has no metadata.name (generateName cannot be applied: give it a name)"
        )));
    }
    Ok(Manifest {
        origin,
        object,
        kind: ApiKind {
            group,
            version,
            kind,
        },
    })
}

/// The scoping rules that need no cluster: every object goes into `namespace`; one that names
/// another namespace, or a kind that is cluster-scoped everywhere, is refused.
pub fn check_scope(manifests: &[Manifest], namespace: &str) -> Result<(), InputError> {
    for m in manifests {
        if known_cluster_scoped(&m.kind) {
            return Err(cluster_scoped(m, namespace));
        }
        match m.object["metadata"]["namespace"].as_str() {
            None | Some("") => {}
            Some(ns) if ns == namespace => {}
            Some(ns) => {
                return Err(InputError(format!(
                    "{}: {} names namespace \"{ns}\", but this command writes only into namespace {namespace}: remove metadata.namespace, or choose it with -n {ns}",
                    m.origin,
                    m.describe()
                )));
            }
        }
    }
    Ok(())
}

pub fn cluster_scoped(m: &Manifest, namespace: &str) -> InputError {
    InputError(format!(
        "{}: {} is cluster-scoped ({}): this command writes only into namespace {namespace}; ask a cluster admin for it, or remove it from the files",
        m.origin,
        m.describe(),
        m.kind.group_version()
    ))
}

/// The object as sent: in `namespace`, labelled as the plugin's. Returns a warning when the
/// object said another manager owned it.
pub fn place(m: &mut Manifest, namespace: &str) -> Option<String> {
    let old = m.object["metadata"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    // name, namespace, then the rest as written: reads like kubectl's output.
    let mut fresh = serde_json::Map::new();
    fresh.insert("name".into(), old["name"].clone());
    fresh.insert("namespace".into(), Value::String(namespace.into()));
    fresh.extend(
        old.into_iter()
            .filter(|(k, _)| k != "name" && k != "namespace"),
    );
    m.object["metadata"] = Value::Object(fresh);
    let meta = m.object["metadata"].as_object_mut().expect("just set");
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(Default::default()));
    if !labels.is_object() {
        *labels = Value::Object(Default::default());
    }
    let labels = labels.as_object_mut().expect("made an object above");
    let previous = labels.insert(
        MANAGED_BY_LABEL.into(),
        Value::String(MANAGED_BY_VALUE.into()),
    );
    match previous {
        Some(Value::String(v)) if v != MANAGED_BY_VALUE => Some(format!(
            "{}: {} said {MANAGED_BY_LABEL}={v}; it is now labelled {MANAGED_BY_VALUE}",
            m.origin,
            m.describe()
        )),
        _ => None,
    }
}

/// The distinct group-versions the objects use, sorted: one discovery request each.
pub fn group_versions(manifests: &[Manifest]) -> Vec<String> {
    let mut gvs: Vec<String> = manifests.iter().map(|m| m.kind.group_version()).collect();
    gvs.sort();
    gvs.dedup();
    gvs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(name: &str) -> Option<String> {
        match name {
            "STUDENT_NS" => Some("student1".into()),
            "TRAINING_NAME" => Some("egress".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn sub(text: &str) -> Result<String, InputError> {
        substitute("f.yaml", text, &env)
    }

    #[test]
    fn both_forms_are_substituted() {
        assert_eq!(
            sub("host: \"$STUDENT_NS.sentences.${TRAINING_NAME}.eficode.academy\"\n").unwrap(),
            "host: \"student1.sentences.egress.eficode.academy\"\n"
        );
        assert_eq!(sub("a: x${EMPTY}y").unwrap(), "a: xy");
    }

    #[test]
    fn an_unset_variable_names_file_line_and_variable() {
        let e = sub("a: 1\nb: $STUDENT_NS\nc: $NOPE\n").unwrap_err().0;
        assert!(e.starts_with("f.yaml:3: variable $NOPE is not set"), "{e}");
        let e = sub("\n\nc: ${NOPE}").unwrap_err().0;
        assert!(e.starts_with("f.yaml:3: variable $NOPE is not set"), "{e}");
    }

    #[test]
    fn literal_dollars_and_backslashes_pass_as_in_envsubst() {
        assert_eq!(sub("a: \\$STUDENT_NS").unwrap(), "a: $STUDENT_NS");
        assert_eq!(sub("a: \\${X}").unwrap(), "a: ${X}");
        assert_eq!(sub("a: '^x$' $1 $$ 5$ $").unwrap(), "a: '^x$' $1 $$ 5$ $");
        assert_eq!(
            sub("a: \"x\\n\\\\y\" b\\c").unwrap(),
            "a: \"x\\n\\\\y\" b\\c"
        );
        assert_eq!(sub("a: ${NOPE:fallback}").unwrap(), "a: fallback");
    }

    #[test]
    fn a_broken_reference_names_the_line() {
        let e = sub("a: 1\nb: ${STUDENT_NS\n").unwrap_err().0;
        assert!(
            e.starts_with("f.yaml:2: cannot substitute variables"),
            "{e}"
        );
    }

    #[test]
    fn documents_lists_and_lines() {
        let text = "# comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: api\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: api}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n";
        let ms = parse("f.yaml", text, false).unwrap();
        let seen: Vec<String> = ms
            .iter()
            .map(|m| format!("{} {} {}", m.origin, m.kind.qualified(), m.name()))
            .collect();
        assert_eq!(
            seen,
            [
                "f.yaml:3 service api",
                "f.yaml:9 (item 1) deployment.apps api",
                "f.yaml:9 (item 2) configmap c"
            ]
        );
        let json = parse(
            "f.json",
            r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"}}"#,
            true,
        )
        .unwrap();
        assert_eq!(json[0].kind.group_version(), "v1");
    }

    #[test]
    fn malformed_yaml_names_the_line_in_the_file() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [b\n  labels: {}\n";
        let e = parse("f.yaml", text, false).unwrap_err().0;
        assert!(e.starts_with("f.yaml:"), "{e}");
        let line: usize = e.split(':').nth(1).unwrap().parse().unwrap();
        assert!((9..=10).contains(&line), "{e}");
        assert!(e.contains("malformed YAML"), "{e}");
        let e = parse("f.json", "{\n\"a\": }", true).unwrap_err().0;
        assert!(e.starts_with("f.json:2: malformed JSON"), "{e}");
    }

    #[test]
    fn objects_need_api_version_kind_and_name() {
        let e = parse("f.yaml", "kind: Service\nmetadata: {name: a}\n", false)
            .unwrap_err()
            .0;
        assert_eq!(e, "f.yaml:1: the object has no apiVersion");
        let e = parse(
            "f.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {generateName: a-}\n",
            false,
        )
        .unwrap_err()
        .0;
        assert!(e.contains("Service has no metadata.name"), "{e}");
    }

    fn one(yaml: &str) -> Manifest {
        parse("f.yaml", yaml, false).unwrap().remove(0)
    }

    #[test]
    fn scope_refuses_other_namespaces_and_cluster_scoped_kinds() {
        let ok = one("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: student1}\n");
        assert!(check_scope(&[ok], "student1").is_ok());
        let foreign =
            one("apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: istio-system}\n");
        let e = check_scope(&[foreign], "student1").unwrap_err().0;
        assert!(
            e.starts_with("f.yaml:1: Service/a names namespace \"istio-system\""),
            "{e}"
        );
        let ns = one("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n");
        let e = check_scope(&[ns], "student1").unwrap_err().0;
        assert!(
            e.starts_with("f.yaml:1: Namespace/x is cluster-scoped"),
            "{e}"
        );
        let role = one(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\n",
        );
        assert!(check_scope(&[role], "student1").is_err());
    }

    #[test]
    fn place_sets_namespace_and_label() {
        let mut m =
            one("apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels: {app: a}\n");
        assert_eq!(place(&mut m, "student1"), None);
        assert_eq!(
            m.object["metadata"],
            json!({"name": "a", "labels": {"app": "a", "app.kubernetes.io/managed-by": "kubectl-egress"}, "namespace": "student1"})
        );
        let mut helm = one(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  labels: {app.kubernetes.io/managed-by: Helm}\n",
        );
        assert!(
            place(&mut helm, "student1")
                .unwrap()
                .contains("managed-by=Helm")
        );
    }

    #[test]
    fn group_versions_once_each() {
        let ms = parse(
            "f.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\n",
            false,
        )
        .unwrap();
        assert_eq!(group_versions(&ms), ["apps/v1", "v1"]);
    }
}
