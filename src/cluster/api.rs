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
use crate::error::{Error, Reason, Result};

pub struct IstioApi<'a> {
    cluster: &'a Cluster,
    version: Cell<Option<ApiVersion>>,
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
        let resource = Self::resource(kind, version);
        let client = self.cluster.client.clone();
        match namespace {
            Some(ns) => Api::namespaced_with(client, ns, &resource),
            None => Api::all_with(client, &resource),
        }
    }

    /// Lists one kind in a namespace (None: all namespaces), optionally by label selector.
    pub async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>> {
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
                    return Ok(list.items.into_iter().map(to_value).collect());
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

    /// Server-side apply of one object; returns what the server stored (or would, with dry run).
    pub async fn apply(
        &self,
        kind: Kind,
        namespace: &str,
        object: &Value,
        field_manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<Value> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let mut params = PatchParams::apply(field_manager);
        params.force = force;
        params.dry_run = dry_run;
        let result = self
            .api(kind, self.version(), Some(namespace))
            .patch(name, &params, &Patch::Apply(object))
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

    /// Deletes one object, only if it is still the one listed (same uid).
    pub async fn delete(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
        uid: Option<String>,
        dry_run: bool,
    ) -> Result<()> {
        let params = DeleteParams {
            dry_run,
            preconditions: uid.map(|uid| Preconditions {
                uid: Some(uid),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match self
            .api(kind, self.version(), Some(namespace))
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
