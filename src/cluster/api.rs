//! Every request the plugin sends to the API server goes through here.
//!
//! No discovery: the first list of a networking.istio.io kind doubles as the version probe
//! (v1, else v1beta1), so `allow` costs two requests (list, apply) on any Istio from 1.22 on.

use std::cell::Cell;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions,
};
use serde_json::Value;

use super::connect::{Cluster, one_line};
use crate::core::istio::{ApiVersion, GROUP, Kind};
use crate::core::manifest;
use crate::error::{Error, Reason, Result};

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

pub struct IstioApi<'a> {
    cluster: &'a Cluster,
    version: Cell<Option<ApiVersion>>,
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
    fn carried_by(&self, object: &Value) -> Value {
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

/// How a write is sent.
pub struct WriteOptions<'a> {
    pub field_manager: &'a str,
    /// Take over fields another field manager owns (--force-conflicts).
    pub force: bool,
    pub dry_run: bool,
}

/// What a request was for, to name it in an error.
pub struct Doing<'a> {
    pub verb: &'a str,
    pub what: String,
    pub namespace: Option<&'a str>,
}

impl<'a> IstioApi<'a> {
    pub fn new(cluster: &'a Cluster, version: Option<ApiVersion>) -> IstioApi<'a> {
        IstioApi {
            cluster,
            version: Cell::new(version),
        }
    }

    /// The version in use: known after the first list (or given with --api-version).
    pub fn version(&self) -> ApiVersion {
        self.version.get().unwrap_or(ApiVersion::V1)
    }

    fn resource(kind: Kind, version: ApiVersion) -> ApiResource {
        ApiResource {
            group: GROUP.into(),
            version: version.as_str().into(),
            api_version: version.group_version(),
            kind: kind.name().into(),
            plural: kind.plural().into(),
        }
    }

    fn api(&self, kind: Kind, version: ApiVersion, namespace: Option<&str>) -> Api<DynamicObject> {
        self.api_with(&Self::resource(kind, version), namespace)
    }

    /// The Api for a write: the Istio kind at the version in use, or a discovered kind.
    fn api_for(&self, resource: &Resource, namespace: Option<&str>) -> Api<DynamicObject> {
        match resource {
            Resource::Istio(kind) => self.api(*kind, self.version(), namespace),
            Resource::Discovered(r) => self.api_with(
                &ApiResource {
                    group: r.kind.group.clone(),
                    version: r.kind.version.clone(),
                    api_version: r.kind.group_version(),
                    kind: r.kind.kind.clone(),
                    plural: r.plural.clone(),
                },
                namespace,
            ),
        }
    }

    fn api_with(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        let client = self.cluster.client.clone();
        match namespace {
            Some(ns) => Api::namespaced_with(client, ns, resource),
            None => Api::all_with(client, resource),
        }
    }

    /// Lists one kind in a namespace (None: all namespaces), optionally by label selector.
    pub async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>> {
        Ok(self
            .list_with_version(kind, namespace, selector)
            .await?
            .items)
    }

    /// [`IstioApi::list`], with the list's resourceVersion, for a write composed from it.
    pub async fn list_with_version(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Listed> {
        let mut params = ListParams::default();
        if let Some(s) = selector {
            params = params.labels(s);
        }
        let doing = || Doing {
            verb: "list",
            what: format!("{}.{GROUP}", kind.plural()),
            namespace,
        };
        for version in self.candidates() {
            match self.api(kind, version, namespace).list(&params).await {
                Ok(list) => {
                    self.version.set(Some(version));
                    return Ok(Listed {
                        resource_version: list.metadata.resource_version.unwrap_or_default(),
                        items: list.items.into_iter().map(to_value).collect(),
                    });
                }
                Err(kube::Error::Api(status)) if status.code == 404 => continue,
                Err(e) => return Err(self.describe(e, doing())),
            }
        }
        Err(self.not_served(kind))
    }

    /// The versions to try, in order: the one known, else v1 then v1beta1. A 404 on a list or a
    /// collection means the version is not served (a missing namespace lists as empty).
    fn candidates(&self) -> Vec<ApiVersion> {
        match self.version.get() {
            Some(v) => vec![v],
            None => vec![ApiVersion::V1, ApiVersion::V1beta1],
        }
    }

    fn not_served(&self, kind: Kind) -> Error {
        let tried = match self.version.get() {
            Some(v) => v.group_version(),
            None => format!("{GROUP}/v1 nor v1beta1"),
        };
        Error::failed(
            Reason::IstioMissing,
            format!(
                "the cluster does not serve {}s ({tried}): Istio's CRDs are not installed; install \
             Istio (or its CRDs) first, or point --context at a cluster that has them",
                kind.name(),
            ),
        )
    }

    /// Server-side apply of one object under `precondition`; returns what the server stored (or
    /// would, with dry run). A failed precondition is [`Reason::Modified`].
    pub async fn apply(
        &self,
        kind: &Resource,
        namespace: &str,
        object: &Value,
        precondition: &Precondition,
        options: &WriteOptions<'_>,
    ) -> Result<Value> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let mut params = PatchParams::apply(options.field_manager);
        params.force = options.force;
        params.dry_run = options.dry_run;
        let result = self
            .api_for(kind, Some(namespace))
            .patch(
                name,
                &params,
                &Patch::Apply(precondition.carried_by(object)),
            )
            .await;
        result.map(to_value).map_err(|e| {
            self.describe(
                e,
                Doing {
                    verb: "apply",
                    what: format!("{}/{name}", kind.qualified()),
                    namespace: Some(namespace),
                },
            )
        })
    }

    /// Deletes one object, only if it is still the one listed: same uid, and, when given, same
    /// resourceVersion (unchanged since it was read). Gone already is fine.
    pub async fn delete(
        &self,
        kind: &Resource,
        namespace: &str,
        name: &str,
        preconditions: Preconditions,
        dry_run: bool,
    ) -> Result<()> {
        let params = DeleteParams {
            dry_run,
            preconditions: Some(preconditions),
            ..DeleteParams::default()
        };
        match self
            .api_for(kind, Some(namespace))
            .delete(name, &params)
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(e) => Err(self.describe(
                e,
                Doing {
                    verb: "delete",
                    what: format!("{}/{name}", kind.qualified()),
                    namespace: Some(namespace),
                },
            )),
        }
    }

    /// Deletes every object of a kind matching the selector in one request; returns them.
    pub async fn delete_collection(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: &str,
        dry_run: bool,
    ) -> Result<Vec<Value>> {
        let params = DeleteParams {
            dry_run,
            ..DeleteParams::default()
        };
        let list = ListParams::default().labels(selector);
        for version in self.candidates() {
            match self
                .api(kind, version, namespace)
                .delete_collection(&params, &list)
                .await
            {
                Ok(either) => {
                    self.version.set(Some(version));
                    return Ok(either
                        .left()
                        .map(|l| l.items.into_iter().map(to_value).collect())
                        .unwrap_or_default());
                }
                Err(kube::Error::Api(status)) if status.code == 404 => continue,
                Err(e) => {
                    return Err(self.describe(
                        e,
                        Doing {
                            verb: "delete",
                            what: format!("{} labelled {selector}", kind.plural()),
                            namespace,
                        },
                    ));
                }
            }
        }
        Err(self.not_served(kind))
    }

    /// Discovery of one group-version (`GET /api/v1` or `/apis/GROUP/VERSION`): the kinds it
    /// serves, with plural and scope. Ok(None) when the group-version is not served.
    pub async fn discover(&self, group_version: &str) -> Result<Option<Vec<manifest::Resource>>> {
        let client = &self.cluster.client;
        let listed = if group_version.contains('/') {
            client.list_api_group_resources(group_version).await
        } else {
            client.list_core_api_resources(group_version).await
        };
        let list = match listed {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(None),
            Err(e) => {
                return Err(self.describe(
                    e,
                    Doing {
                        verb: "discover",
                        what: format!("the kinds of {group_version}"),
                        namespace: None,
                    },
                ));
            }
        };
        let (group, version) = match group_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), group_version.to_string()),
        };
        Ok(Some(
            list.resources
                .into_iter()
                // Subresources (deployments/scale) are not kinds of their own.
                .filter(|r| !r.name.contains('/'))
                .map(|r| manifest::Resource {
                    kind: manifest::ApiKind {
                        group: group.clone(),
                        version: version.clone(),
                        kind: r.kind,
                    },
                    plural: r.name,
                    namespaced: r.namespaced,
                })
                .collect(),
        ))
    }

    /// Lists a discovered kind in a namespace.
    pub async fn list_resource(
        &self,
        resource: &manifest::Resource,
        namespace: &str,
    ) -> Result<Vec<Value>> {
        let target = Resource::Discovered(resource.clone());
        self.api_for(&target, Some(namespace))
            .list(&ListParams::default())
            .await
            .map(|list| {
                list.items
                    .into_iter()
                    .map(|item| {
                        let mut value = to_value(item);
                        // A list's items of built-in kinds come without them; kubectl adds them.
                        if let Some(object) = value.as_object_mut() {
                            object
                                .entry("apiVersion")
                                .or_insert_with(|| resource.kind.group_version().into());
                            object
                                .entry("kind")
                                .or_insert_with(|| resource.kind.kind.clone().into());
                        }
                        value
                    })
                    .collect()
            })
            .map_err(|e| {
                self.describe(
                    e,
                    Doing {
                        verb: "list",
                        what: format!("{}.{}", resource.plural, resource.kind.group)
                            .trim_end_matches('.')
                            .to_string(),
                        namespace: Some(namespace),
                    },
                )
            })
    }

    /// Gets a core/v1 object (Service, ConfigMap) for status; Ok(None) when it does not exist.
    pub async fn get_core(
        &self,
        kind: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>> {
        let resource = ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.cluster.client.clone(), namespace, &resource);
        api.get_opt(name)
            .await
            .map(|o| o.map(to_value))
            .map_err(|e| {
                self.describe(
                    e,
                    Doing {
                        verb: "get",
                        what: format!("{}/{name}", kind.to_ascii_lowercase()),
                        namespace: Some(namespace),
                    },
                )
            })
    }

    /// One line that says what failed and what to do.
    pub fn describe(&self, error: kube::Error, doing: Doing<'_>) -> Error {
        let place = doing
            .namespace
            .map(|ns| format!(" in namespace {ns}"))
            .unwrap_or_else(|| " in all namespaces".into());
        let what = &doing.what;
        let verb = doing.verb;
        let (reason, message) = match error {
            kube::Error::Api(status) => {
                let server = one_line(&status.message);
                match status.code {
                    403 => (
                        Reason::Forbidden,
                        format!(
                            "forbidden: cannot {verb} {what}{place}: {server}; ask the cluster admin for access, or choose your own namespace with -n"
                        ),
                    ),
                    401 => (
                        Reason::Forbidden,
                        format!(
                            "unauthorized: the API server at {} rejected the kubeconfig's credentials; log in again",
                            self.cluster.server
                        ),
                    ),
                    404 if status
                        .details
                        .as_ref()
                        .is_some_and(|d| d.kind == "namespaces") =>
                    {
                        (
                            Reason::Config,
                            format!(
                                "namespace \"{}\" does not exist: check -n or $STUDENT_NS (kubectl get namespaces)",
                                status
                                    .details
                                    .as_ref()
                                    .map(|d| d.name.as_str())
                                    .unwrap_or_default()
                            ),
                        )
                    }
                    409 if !is_field_manager_conflict(&status) => (
                        Reason::Modified,
                        format!(
                            "{what}{place} changed while this command was writing it: {server}"
                        ),
                    ),
                    409 => (
                        Reason::Conflict,
                        format!(
                            "conflict: cannot {verb} {what}{place}: {server}; rerun with --force-conflicts to take those fields over"
                        ),
                    ),
                    422 | 400 => (
                        Reason::Rejected,
                        format!("the API server rejected {what}{place}: {server}"),
                    ),
                    _ => (
                        Reason::Other,
                        format!(
                            "cannot {verb} {what}{place}: {server} (HTTP {})",
                            status.code
                        ),
                    ),
                }
            }
            other => {
                let text = one_line(&error_chain(&other));
                let hint = if text.contains("elapsed")
                    || text.contains("timed out")
                    || text.contains("Timeout")
                {
                    "did not answer in time (raise --request-timeout if the server is slow)"
                } else {
                    "is unreachable: check that the cluster is running and --context/--kubeconfig point at it"
                };
                (
                    Reason::Unreachable,
                    format!(
                        "cannot {verb} {what}{place}: the API server at {} {hint} ({text})",
                        self.cluster.server
                    ),
                )
            }
        };
        Error::failed(reason, message)
    }
}

/// A 409 from server-side apply because another field manager owns fields (retrying cannot
/// help: --force-conflicts is the user's call), as opposed to a failed precondition or an object
/// created meanwhile (a re-read and retry can).
fn is_field_manager_conflict(status: &kube::core::Status) -> bool {
    status
        .details
        .as_ref()
        .is_some_and(|d| d.causes.iter().any(|c| c.reason == "FieldManagerConflict"))
        || status.message.starts_with("Apply failed with")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

/// The object as JSON, without managedFields (kubectl hides them too).
fn to_value(object: DynamicObject) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    value
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

    #[test]
    fn field_manager_conflicts_are_told_from_failed_preconditions() {
        let status = |message: &str, causes: Vec<&str>| {
            serde_json::from_value::<kube::core::Status>(json!({
                "code": 409, "reason": "Conflict", "message": message,
                "details": {"causes": causes.iter().map(|r| json!({"reason": r})).collect::<Vec<_>>()}
            }))
            .unwrap()
        };
        assert!(is_field_manager_conflict(&status(
            "Apply failed with 1 conflict: conflict with \"other-tool\": .spec.resolution",
            vec!["FieldManagerConflict"]
        )));
        assert!(!is_field_manager_conflict(&status(
            "Operation cannot be fulfilled on serviceentries.networking.istio.io \"httpbin\": the object has been modified; please apply your changes to the latest version and try again",
            vec![]
        )));
    }
}
