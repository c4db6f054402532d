//! A planned write, as pure data: what the planners decide and the write engine carries out.
//! Nothing here talks to the API server; the preconditions say what the server must check.

use serde_json::Value;

use super::manifest;
use crate::core::objects::istio::{Kind, ListedObject, Metadata, metadata_of};

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

/// A list of one kind, each object typed as `S` beside its JSON, and the resourceVersion it was
/// read at. `Listed::default()` is what is known offline (no kubeconfig, `--dry-run=client`):
/// nothing, read at no version.
#[derive(Debug, Clone)]
pub struct Listed<S> {
    pub items: Vec<ListedObject<S>>,
    pub resource_version: String,
}

impl<S> Default for Listed<S> {
    fn default() -> Listed<S> {
        Listed {
            items: vec![],
            resource_version: String::new(),
        }
    }
}

impl<S> Listed<S> {
    /// Whether this was read from the cluster (offline nothing is: a default list, at no
    /// version; a list the API server answers always has one).
    pub fn is_read(&self) -> bool {
        !self.resource_version.is_empty()
    }

    /// The listed object of that name.
    pub fn named(&self, name: &str) -> Option<&ListedObject<S>> {
        self.items.iter().find(|o| o.typed.metadata.name == name)
    }

    /// The objects as the server sent them.
    pub fn json(&self) -> impl Iterator<Item = &Value> {
        self.items.iter().map(|o| &o.json)
    }
}

/// The object of that name among `listed` (objects of any kind, as JSON).
pub fn find_by_name<'v>(listed: &'v [Value], name: &str) -> Option<&'v Value> {
    // The name alone, not the whole metadata: asked once per object of a list of thousands.
    listed
        .iter()
        .find(|v| v["metadata"]["name"].as_str() == Some(name))
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
    /// Nothing read (offline: an empty list at no version) is no precondition.
    pub fn from_read<S>(before: Option<&Value>, listed: &Listed<S>) -> Precondition {
        match before {
            Some(object) => Precondition::unchanged(object),
            None if !listed.is_read() => Precondition::None,
            None => Precondition::Absent {
                list_resource_version: listed.resource_version.clone(),
            },
        }
    }

    /// The object (as read) must still be that one, unchanged: its uid and resourceVersion.
    pub fn unchanged(object: &Value) -> Precondition {
        let metadata = metadata_of(object);
        Precondition::Unchanged {
            uid: metadata.uid.unwrap_or_default(),
            resource_version: metadata.resource_version.unwrap_or_default(),
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
#[derive(Debug, Clone, PartialEq)]
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
    /// Deletes `object` as listed: only if it is still that one (uid), unchanged
    /// (resourceVersion).
    pub fn delete_listed(kind: impl Into<Resource>, namespace: &str, object: &Value) -> Change {
        Change::delete_of(kind, namespace, &metadata_of(object))
    }

    /// The delete of an object read as `metadata`: only if it is still that one, unchanged.
    pub fn delete_of(kind: impl Into<Resource>, namespace: &str, metadata: &Metadata) -> Change {
        Change::Delete {
            kind: kind.into(),
            namespace: namespace.to_string(),
            name: metadata.name.clone(),
            uid: metadata.uid.clone(),
            resource_version: metadata.resource_version.clone(),
        }
    }

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

/// Why a planner writes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An object stands in the way: someone else's, or another host's under the name.
    Conflict(String),
    /// Istio would not honour what would be written.
    Findings(String),
}

/// What a planner decided, as data: the command says it and hands the chains to the write
/// engine (each chain in order; chains independent of one another).
#[derive(Debug)]
pub struct Planned {
    /// `warning: ...` lines, said once (not again on a retry), also before a refusal: they were
    /// found for the hosts planned before it.
    pub warnings: Vec<String>,
    /// Lines said as they are, on every attempt.
    pub notes: Vec<String>,
    pub outcome: Result<Vec<Vec<Change>>, Refusal>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed() -> Listed<Value> {
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
        assert_eq!(
            Precondition::from_read(None, &Listed::<Value>::default()),
            Precondition::None
        );
    }

    #[test]
    fn a_listed_object_is_deleted_only_as_listed() {
        let object = json!({
            "metadata": {"name": "httpbin", "uid": "u-1", "resourceVersion": "42"},
            // An odd spec does not hide who the object is.
            "spec": {"hosts": 7},
        });
        let Change::Delete {
            kind,
            namespace,
            name,
            uid,
            resource_version,
        } = Change::delete_listed(Kind::VirtualService, "student1", &object)
        else {
            panic!("not a delete");
        };
        assert_eq!(kind, Resource::Istio(Kind::VirtualService));
        assert_eq!((namespace.as_str(), name.as_str()), ("student1", "httpbin"));
        assert_eq!(uid.as_deref(), Some("u-1"));
        assert_eq!(resource_version.as_deref(), Some("42"));
    }

    #[test]
    fn objects_are_found_by_name() {
        let listed: Listed<Value> = Listed {
            items: vec![
                ListedObject::new(json!({"metadata": {"name": "a"}})),
                ListedObject::new(json!({"metadata": {"name": "b"}})),
            ],
            resource_version: "1".into(),
        };
        assert_eq!(listed.named("b"), Some(&listed.items[1]));
        assert_eq!(listed.named("c"), None);
    }
}
