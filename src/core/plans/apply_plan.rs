//! `apply -f`'s planning: one apply per object of the files, in their order. Pure: the command
//! resolves the kinds and lists the namespace (or, offline, does neither).

use std::collections::BTreeMap;

use serde_json::Value;

use super::change::{Change, Precondition, Resource, find_by_name};
use super::manifest::{self, ApiKind, Manifest};

/// The objects of each kind the namespace holds, as listed (offline: none).
pub type Live = BTreeMap<ApiKind, Vec<Value>>;

/// A kind as the files name it, when no cluster resolves it (offline): its plural is not known,
/// and it is taken as namespaced (the kinds cluster-scoped everywhere are refused before).
pub fn unresolved(manifest: &Manifest) -> manifest::Resource {
    manifest::Resource {
        kind: manifest.kind.clone(),
        plural: String::new(),
        namespaced: true,
    }
}

/// Each object applied over the one of its kind and name in `live`, if any. `resources`: each
/// object's kind as resolved, in the same order.
pub fn plan(
    namespace: &str,
    manifests: Vec<Manifest>,
    resources: Vec<manifest::Resource>,
    live: &Live,
) -> Vec<Change> {
    manifests
        .into_iter()
        .zip(resources)
        .map(|(m, resource)| Change::Apply {
            before: live
                .get(&m.kind)
                .and_then(|items| find_by_name(items, m.name()))
                .cloned(),
            kind: Resource::Discovered(resource),
            namespace: namespace.to_string(),
            object: m.object,
            // Server-side apply states the whole object: the result is what the files say,
            // whoever wrote in between, so no precondition (and no retry) is needed.
            precondition: Precondition::None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifests() -> Vec<Manifest> {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n---\n\
                    apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n";
        manifest::parse("app.yaml", text, false).unwrap()
    }

    #[test]
    fn objects_are_applied_in_order_over_those_of_their_kind_and_name() {
        let manifests = manifests();
        let config_map = manifests[0].kind.clone();
        let deployment = manifests[1].kind.clone();
        let listed = json!({"metadata": {"name": "api", "resourceVersion": "9"}});
        let live = Live::from([
            // A ConfigMap named like the Deployment is not the Deployment.
            (config_map, vec![json!({"metadata": {"name": "api"}})]),
            (deployment, vec![listed.clone()]),
        ]);
        let resources = manifests.iter().map(unresolved).collect();
        let changes = plan("student1", manifests, resources, &live);
        let befores: Vec<Option<Value>> = changes
            .iter()
            .map(|c| match c {
                Change::Apply {
                    before,
                    precondition,
                    namespace,
                    ..
                } => {
                    assert_eq!(precondition, &Precondition::None);
                    assert_eq!(namespace, "student1");
                    before.clone()
                }
                Change::Delete { .. } => panic!("a delete"),
            })
            .collect();
        assert_eq!(befores, [None, Some(listed)]);
        let names: Vec<String> = changes.iter().map(Change::display_name).collect();
        assert_eq!(names, ["configmap/settings", "deployment.apps/api"]);
    }

    #[test]
    fn offline_every_object_is_a_create_of_the_kind_the_file_names() {
        let manifests = manifests();
        let resources: Vec<_> = manifests.iter().map(unresolved).collect();
        assert!(
            resources
                .iter()
                .all(|r| r.namespaced && r.plural.is_empty())
        );
        let changes = plan("student1", manifests, resources, &Live::new());
        assert!(
            changes
                .iter()
                .all(|c| matches!(c, Change::Apply { before: None, .. }))
        );
    }
}
