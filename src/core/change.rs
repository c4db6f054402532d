//! A planned write, as pure data: what the planners decide and the write engine carries out.
//! Nothing here talks to the API server; the preconditions say what the server must check.

use serde_json::Value;

use super::istio::Kind;
use super::manifest;

/// What a write is about: one of the plugin's Istio kinds (its version learnt by the first list),
/// or any kind found by discovery (`apply -f`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Istio(Kind),
    Discovered(manifest::Resource),
}

impl From<Kind> for Resource {
    fn from(kind: Kind) -> Resource {
        Resource::Istio(kind)
    }
}

impl Resource {
    /// `serviceentry.networking.istio.io`, `deployment.apps`, `service`.
    pub fn qualified(&self) -> String {
        match self {
            Resource::Istio(kind) => kind.qualified(),
            Resource::Discovered(r) => r.kind.qualified(),
        }
    }
}

/// A list of one kind, and the resourceVersion it was read at.
pub struct Listed {
    pub items: Vec<Value>,
    pub resource_version: String,
}

/// What must still hold for a write composed from a read to go ahead (optimistic concurrency:
/// the write fails with 409 Conflict instead of overwriting what changed meanwhile).
///
/// Server-side apply honours `metadata.resourceVersion` and `metadata.uid` of the applied object
/// as preconditions. Measured on kube-apiserver v1.34 (tests/e2e.rs checks it stays so):
/// - an existing object: a resourceVersion other than the current one is refused ("the object has
///   been modified"); a uid with no object there is refused ("uid mismatch ... no existing object
///   was found"), so an object deleted since the read is not silently re-created from it;
/// - no object yet: the resourceVersion is ignored and the object is created. So a create carries
///   the resourceVersion of the list that found no object: an object someone else creates after
///   that list has a newer one, the create becomes an update of theirs, and is refused.
///
/// The alternative for creates, POST with ?fieldManager, costs a second request for every new
/// object: its fields are recorded under operation Update, and the next apply by the same manager
/// name conflicts with them ("conflict with \"kubectl-egress\" using networking.istio.io/v1")
/// unless ownership is first moved by a forced apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// No check (rendering offline, or an object not composed from a read).
    None,
    /// The object is still the one read.
    Unchanged {
        uid: String,
        resource_version: String,
    },
    /// No object of that name existed at the list with this resourceVersion; none may now.
    Absent { list_resource_version: String },
}

impl Precondition {
    /// The precondition for writing over `before` (as listed), or over nothing in `listed`.
    pub fn from_read(before: Option<&Value>, listed: &Listed) -> Precondition {
        match before {
            Some(object) => Precondition::Unchanged {
                uid: object["metadata"]["uid"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                resource_version: object["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            },
            None => Precondition::Absent {
                list_resource_version: listed.resource_version.clone(),
            },
        }
    }

    /// The object to send: `object` with the precondition in its metadata.
    pub fn carried_by(&self, object: &Value) -> Value {
        let mut object = object.clone();
        let fields: Vec<(&str, &str)> = match self {
            Precondition::None => vec![],
            Precondition::Unchanged {
                uid,
                resource_version,
            } => vec![("uid", uid), ("resourceVersion", resource_version)],
            Precondition::Absent {
                list_resource_version,
            } => vec![("resourceVersion", list_resource_version)],
        };
        if let Some(meta) = object["metadata"].as_object_mut() {
            for (key, value) in fields.into_iter().filter(|(_, v)| !v.is_empty()) {
                meta.insert(key.into(), Value::String(value.into()));
            }
        }
        object
    }
}

/// One planned write, decided before anything is sent.
pub enum Change {
    Apply {
        kind: Resource,
        namespace: String,
        object: Value,
        /// The object as listed before the write, if it exists.
        before: Option<Value>,
        /// What the write was composed from must still hold.
        precondition: Precondition,
    },
    Delete {
        kind: Resource,
        namespace: String,
        name: String,
        /// The object as listed: deleted only if still that one, unchanged.
        uid: Option<String>,
        resource_version: Option<String>,
    },
}

impl Change {
    /// kind/name, as kubectl names objects.
    pub fn display_name(&self) -> String {
        match self {
            Change::Apply { kind, object, .. } => format!(
                "{}/{}",
                kind.qualified(),
                object["metadata"]["name"].as_str().unwrap_or_default()
            ),
            Change::Delete { kind, name, .. } => format!("{}/{name}", kind.qualified()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed() -> Listed {
        Listed {
            items: vec![],
            resource_version: "700".into(),
        }
    }

    #[test]
    fn an_update_carries_the_uid_and_resource_version_read() {
        let before =
            json!({"metadata": {"name": "httpbin", "uid": "u-1", "resourceVersion": "42"}});
        let precondition = Precondition::from_read(Some(&before), &listed());
        let sent = precondition.carried_by(&json!({"metadata": {"name": "httpbin"}, "spec": {}}));
        assert_eq!(
            sent["metadata"],
            json!({"name": "httpbin", "uid": "u-1", "resourceVersion": "42"})
        );
    }

    #[test]
    fn a_create_carries_the_list_resource_version_and_no_uid() {
        let sent = Precondition::from_read(None, &listed())
            .carried_by(&json!({"metadata": {"name": "httpbin"}}));
        assert_eq!(
            sent["metadata"],
            json!({"name": "httpbin", "resourceVersion": "700"})
        );
        // Offline nothing is added: rendered objects stay as the exercise writes them.
        let object = json!({"metadata": {"name": "httpbin"}});
        assert_eq!(Precondition::None.carried_by(&object), object);
    }
}
