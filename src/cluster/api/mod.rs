//! Every request the plugin sends to the API server goes through here.
//!
//! No discovery: the first list of a networking.istio.io kind doubles as the version probe
//! (v1, else v1beta1), so `allow` costs two requests (list, apply) on any Istio from 1.22 on.

use crate::core::objects::istio::metadata_of;
use std::cell::Cell;

use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions,
};
use serde_json::Value;

use super::connect::{Cluster, one_line};
use crate::core::objects::istio::{ApiVersion, GROUP, Kind, ListedObject, Object};
use crate::core::plans::change::{Listed, Precondition, Resource};
use crate::core::plans::manifest;
use crate::error::{Error, Reason, Result};

mod failures;
use failures::Described;

pub struct IstioApi<'a> {
    cluster: &'a Cluster,
    version: Cell<Option<ApiVersion>>,
    verify_namespaces: bool,
    namespaces_seen: std::cell::RefCell<Vec<String>>,
}

/// Objects per list request, as kubectl pages (`--chunk-size`).
pub const PAGE: u32 = 500;

/// A kind `status` reads but never writes: where the API server serves it.
pub struct ReadOnlyKind {
    pub group: &'static str,
    /// The versions to try, newest first.
    pub versions: &'static [&'static str],
    pub kind: &'static str,
    pub plural: &'static str,
}

pub const ENVOY_FILTERS: ReadOnlyKind = ReadOnlyKind {
    group: GROUP,
    versions: &["v1alpha3"],
    kind: "EnvoyFilter",
    plural: "envoyfilters",
};

pub const WASM_PLUGINS: ReadOnlyKind = ReadOnlyKind {
    group: "extensions.istio.io",
    versions: &["v1alpha1"],
    kind: "WasmPlugin",
    plural: "wasmplugins",
};

pub const AUTHORIZATION_POLICIES: ReadOnlyKind = ReadOnlyKind {
    group: "security.istio.io",
    versions: &["v1", "v1beta1"],
    kind: "AuthorizationPolicy",
    plural: "authorizationpolicies",
};

pub const SIDECARS: ReadOnlyKind = ReadOnlyKind {
    group: GROUP,
    versions: &["v1", "v1beta1", "v1alpha3"],
    kind: "Sidecar",
    plural: "sidecars",
};

/// One batch of a delete-collection.
pub struct Batch<'a> {
    pub limit: u32,
    pub continue_token: Option<&'a str>,
}

/// One conditional delete.
pub struct DeleteRequest<'a> {
    pub kind: &'a Resource,
    pub namespace: &'a str,
    pub name: &'a str,
    /// The object as read: uid, and resourceVersion when it must be unchanged too.
    pub preconditions: Preconditions,
    pub dry_run: bool,
}

/// How a write is sent.
#[derive(Clone, Copy)]
pub struct WriteOptions<'a> {
    pub field_manager: &'a str,
    /// Take over fields another field manager owns (--force-conflicts).
    pub force: bool,
    pub dry_run: bool,
}

/// Why a request failed: kube's error, or no whole answer within --request-timeout.
pub enum Failed {
    Kube(kube::Error),
    TimedOut(std::time::Duration),
}

impl Failed {
    /// The HTTP status of an API error answer.
    fn code(&self) -> Option<u16> {
        match self {
            Failed::Kube(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        }
    }

    /// 404 with a Kubernetes Status or kube-apiserver's plain "404 page not found": the version
    /// (or the group) is not served.
    fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }
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
            verify_namespaces: false,
            namespaces_seen: Default::default(),
        }
    }

    /// Sends one request: bounded by --request-timeout as a whole (headers, the whole body, and
    /// any Retry-After pause), so a server trickling its answer cannot hold the command.
    pub async fn send<T>(
        &self,
        request: impl std::future::Future<Output = kube::Result<T>>,
    ) -> std::result::Result<T, Failed> {
        send_within(self.cluster.request_timeout, request).await
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

    /// Lists one kind in a namespace (None: all namespaces), optionally by label selector, as
    /// the server sent the objects.
    pub async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>> {
        let mut items = vec![];
        self.list_each(kind, namespace, selector, |item| items.push(item))
            .await?;
        Ok(items)
    }

    /// [`IstioApi::list`], each object typed beside its JSON, with the list's resourceVersion,
    /// for a write composed from it.
    pub async fn list_with_version<S: serde::de::DeserializeOwned + Default>(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Listed<S>> {
        let mut items = vec![];
        let resource_version = self
            .list_each(kind, namespace, selector, |item| {
                items.push(ListedObject::new(item))
            })
            .await?;
        Ok(Listed {
            items,
            resource_version,
        })
    }

    /// [`IstioApi::list`] into typed objects, page by page: only the typed shape is kept, so
    /// memory follows what the objects say, not how big the server's JSON for them is.
    pub async fn list_typed<S: serde::de::DeserializeOwned + Default>(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Object<S>>> {
        let mut items = vec![];
        self.list_each(kind, namespace, selector, |item| {
            items.push(crate::core::objects::istio::typed(&item))
        })
        .await?;
        Ok(items)
    }

    /// Lists, in pages, a kind `status` only reads (Sidecars, EnvoyFilters, policies), typed,
    /// at the first of `versions` served. A kind not served at all is none of it (its CRD is
    /// not installed, so no such object can exist).
    pub async fn list_read_only<S: serde::de::DeserializeOwned + Default>(
        &self,
        kind: &ReadOnlyKind,
        namespace: Option<&str>,
    ) -> Result<Vec<Object<S>>> {
        let doing = || Doing {
            verb: "list",
            what: format!("{}.{}", kind.plural, kind.group),
            namespace,
        };
        for version in kind.versions {
            let resource = ApiResource {
                group: kind.group.into(),
                version: (*version).into(),
                api_version: format!("{}/{version}", kind.group),
                kind: kind.kind.into(),
                plural: kind.plural.into(),
            };
            let api = self.api_with(&resource, namespace);
            let params = ListParams::default().limit(PAGE);
            let page = match self.send(api.list(&params)).await {
                Ok(page) => page,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(self.describe(e, doing())),
            };
            let mut items = vec![];
            self.each_of_pages(&api, params, page, doing, |item| {
                items.push(crate::core::objects::istio::typed(&item))
            })
            .await?;
            return Ok(items);
        }
        Ok(vec![])
    }

    /// Lists in pages of [`PAGE`] (limit and continue, as kubectl does), handing each object to
    /// `each` (without managedFields) as its page arrives; returns the list's resourceVersion
    /// (every page of one list is read at the same one). The first page picks the API version.
    /// With [`IstioApi::verify_namespaces`], an empty list in a namespace checks the namespace
    /// exists.
    pub async fn list_each(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: Option<&str>,
        each: impl FnMut(Value),
    ) -> Result<String> {
        let mut params = ListParams::default().limit(PAGE);
        if let Some(s) = selector {
            params = params.labels(s);
        }
        let doing = || Doing {
            verb: "list",
            what: format!("{}.{GROUP}", kind.plural()),
            namespace,
        };
        let mut version = None;
        for candidate in self.candidates() {
            match self
                .send(self.api(kind, candidate, namespace).list(&params))
                .await
            {
                Ok(page) => {
                    version = Some((candidate, page));
                    break;
                }
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(self.describe(e, doing())),
            }
        }
        let Some((version, page)) = version else {
            return Err(self.not_served(kind));
        };
        self.version.set(Some(version));
        let resource_version = page.metadata.resource_version.clone().unwrap_or_default();
        let api = self.api(kind, version, namespace);
        let count = self.each_of_pages(&api, params, page, doing, each).await?;
        match namespace {
            Some(ns) if count == 0 => self.check_namespace(ns).await?,
            // Objects in it: the namespace exists, no later empty list need ask.
            Some(ns) => self.namespace_exists(ns),
            None => {}
        }
        Ok(resource_version)
    }

    /// Hands each object of `page`, and of the pages that continue it, to `each` (as
    /// [`IstioApi::list_each`] describes); how many there were.
    async fn each_of_pages<'d>(
        &self,
        api: &Api<DynamicObject>,
        mut params: ListParams,
        mut page: kube::core::ObjectList<DynamicObject>,
        doing: impl Fn() -> Doing<'d>,
        mut each: impl FnMut(Value),
    ) -> Result<usize> {
        let mut count = 0usize;
        loop {
            let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
            for item in std::mem::take(&mut page.items) {
                count += 1;
                each(to_value(item));
            }
            let Some(token) = next else { break };
            params = params.continue_token(&token);
            page = self
                .send(api.list(&params))
                .await
                .map_err(|e| self.describe(e, doing()))?;
        }
        Ok(count)
    }

    /// Empty lists check that their namespace exists (status, cleanup): a namespace that does
    /// not is an error (exit 4), not an empty answer. One more request, only when a list is empty.
    pub fn verify_namespaces(mut self) -> Self {
        self.verify_namespaces = true;
        self
    }

    /// Records that `namespace` exists (objects were read or deleted in it): no check is needed.
    pub fn namespace_exists(&self, namespace: &str) {
        let mut seen = self.namespaces_seen.borrow_mut();
        if !seen.iter().any(|n| n == namespace) {
            seen.push(namespace.to_string());
        }
    }

    /// The names of every namespace, in pages; Err: why they could not be listed (a student
    /// may not).
    pub async fn namespace_names(&self) -> std::result::Result<Vec<String>, String> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.cluster.client.clone());
        let mut names = vec![];
        let mut params = kube::api::ListParams::default().limit(500);
        loop {
            match self.send(api.list_metadata(&params)).await {
                Ok(page) => {
                    names.extend(page.items.into_iter().filter_map(|n| n.metadata.name));
                    match page.metadata.continue_.filter(|c| !c.is_empty()) {
                        Some(token) => params = params.continue_token(&token),
                        None => return Ok(names),
                    }
                }
                Err(Failed::Kube(kube::Error::Api(status))) if status.code == 403 => {
                    return Err("listing namespaces is forbidden".to_string());
                }
                Err(e) => {
                    return Err(self
                        .describe(
                            e,
                            Doing {
                                verb: "list",
                                what: "namespaces".to_string(),
                                namespace: None,
                            },
                        )
                        .to_string());
                }
            }
        }
    }

    /// The namespace's labels (None: it does not exist); Err: why they could not be read. A
    /// namespace read here is not read again to check that it exists.
    pub async fn namespace_labels(
        &self,
        namespace: &str,
    ) -> std::result::Result<Option<std::collections::BTreeMap<String, String>>, String> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.cluster.client.clone());
        match self.send(api.get_metadata_opt(namespace)).await {
            Ok(found) => {
                if found.is_some() {
                    self.namespaces_seen
                        .borrow_mut()
                        .push(namespace.to_string());
                }
                Ok(found.map(|n| n.metadata.labels.unwrap_or_default()))
            }
            Err(Failed::Kube(kube::Error::Api(status))) if status.code == 403 => {
                Err(format!("get namespace/{namespace} is forbidden"))
            }
            Err(e) => Err(self
                .describe(
                    e,
                    Doing {
                        verb: "get",
                        what: format!("namespace/{namespace}"),
                        namespace: None,
                    },
                )
                .to_string()),
        }
    }

    /// When asked to ([`IstioApi::verify_namespaces`]): an error if `namespace` does not exist.
    /// Not allowed to read namespaces (students): assumed to exist.
    pub async fn check_namespace(&self, namespace: &str) -> Result<()> {
        if !self.verify_namespaces || self.namespaces_seen.borrow().iter().any(|n| n == namespace) {
            return Ok(());
        }
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.cluster.client.clone());
        match self.send(api.get_metadata_opt(namespace)).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(Error::failed(
                    Reason::Config,
                    format!(
                        "namespace \"{namespace}\" does not exist: check -n or $STUDENT_NS (kubectl get namespaces)"
                    ),
                ));
            }
            Err(Failed::Kube(kube::Error::Api(status))) if status.code == 403 => {}
            Err(e) => {
                return Err(self.describe(
                    e,
                    Doing {
                        verb: "get",
                        what: format!("namespace/{namespace}"),
                        namespace: None,
                    },
                ));
            }
        }
        self.namespaces_seen
            .borrow_mut()
            .push(namespace.to_string());
        Ok(())
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
        let sent = precondition.carried_by(object);
        let result = self
            .send(
                self.api_for(kind, Some(namespace))
                    .patch(name, &params, &Patch::Apply(sent)),
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

    /// Writes `object` over what was read (`before`): server-side apply, or, when `before` is an
    /// object the plugin did not make (--adopt), [`IstioApi::adopt`].
    pub async fn write(
        &self,
        kind: &Resource,
        namespace: &str,
        object: &Value,
        before: Option<&Value>,
        precondition: &Precondition,
        options: &WriteOptions<'_>,
    ) -> Result<Value> {
        match before {
            Some(before) if !metadata_of(before).is_managed() => {
                self.adopt(kind, namespace, object, before, options).await
            }
            _ => {
                self.apply(kind, namespace, object, precondition, options)
                    .await
            }
        }
    }

    /// Takes over an object someone else made (--adopt): its spec becomes exactly the plugin's
    /// (fields the plugin does not set, say extra ports, go) and every field is the plugin's
    /// field manager's alone, whoever managed it before.
    ///
    /// Three requests. A JSON merge patch, conditional on the resourceVersion read, replaces the
    /// spec (top-level fields the plugin does not set are nulled), adds the plugin's label and
    /// drops kubectl's last-applied annotation. A forced server-side apply under the patch's
    /// resourceVersion makes the plugin's manager the owner of what it sets. A last patch, under
    /// the apply's resourceVersion, leaves that apply the only entry in managedFields, so the
    /// plugin's later applies can change or drop any field. (Resetting managedFields to `[{}]`
    /// instead makes the server hand every field to a "before-first-apply" manager on the next
    /// apply, which then keeps them.) With dry run, only the first patch is sent.
    pub async fn adopt(
        &self,
        kind: &Resource,
        namespace: &str,
        object: &Value,
        before: &Value,
        options: &WriteOptions<'_>,
    ) -> Result<Value> {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let doing = || Doing {
            verb: "adopt",
            what: format!("{}/{name}", kind.qualified()),
            namespace: Some(namespace),
        };
        let patch = adoption_patch(object, before);
        let params = PatchParams {
            field_manager: Some(options.field_manager.to_string()),
            dry_run: options.dry_run,
            ..PatchParams::default()
        };
        let patched = self
            .send(
                self.api_for(kind, Some(namespace))
                    .patch(name, &params, &Patch::Merge(patch)),
            )
            .await
            .map(to_value)
            .map_err(|e| self.describe(e, doing()))?;
        if options.dry_run {
            return Ok(patched);
        }
        let precondition = Precondition::unchanged(&patched);
        let mut params = PatchParams::apply(options.field_manager);
        params.force = true;
        let applied = self
            .send(self.api_for(kind, Some(namespace)).patch(
                name,
                &params,
                &Patch::Apply(precondition.carried_by(object)),
            ))
            .await
            .map_err(|e| self.describe(e, doing()))?;
        // Only the plugin's apply stays a manager: fields with unchanged values are still
        // co-owned by the managers before, which would keep them when the plugin drops them.
        let own: Vec<_> = applied
            .metadata
            .managed_fields
            .iter()
            .flatten()
            .filter(|m| {
                m.manager.as_deref() == Some(options.field_manager)
                    && m.operation.as_deref() == Some("Apply")
            })
            .cloned()
            .collect();
        let patch = serde_json::json!({
            "metadata": {
                "resourceVersion": applied.metadata.resource_version,
                "managedFields": own,
            },
        });
        self.send(self.api_for(kind, Some(namespace)).patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(patch),
        ))
        .await
        .map(to_value)
        .map_err(|e| self.describe(e, doing()))
    }

    /// Deletes one object, only if it is still the one listed: same uid, and, when given, same
    /// resourceVersion (unchanged since it was read). Gone already is fine.
    pub async fn delete(&self, request: DeleteRequest<'_>) -> Result<()> {
        let DeleteRequest {
            kind,
            namespace,
            name,
            preconditions,
            dry_run,
        } = request;
        let params = DeleteParams {
            dry_run,
            preconditions: Some(preconditions),
            ..DeleteParams::default()
        };
        match self
            .send(self.api_for(kind, Some(namespace)).delete(name, &params))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
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

    /// Deletes one batch of a kind's objects matching the selector in a namespace: at most
    /// `limit` of them, from `continue_token` on (the list the first batch began, read at one
    /// resourceVersion). Returns the objects deleted and where the next batch starts, if any.
    /// Bounded batches keep each request short, so a timeout never hides a delete still running.
    pub async fn delete_batch(
        &self,
        kind: Kind,
        namespace: &str,
        selector: &str,
        batch: &Batch<'_>,
        dry_run: bool,
    ) -> Result<(Vec<Value>, Option<String>)> {
        let params = DeleteParams {
            dry_run,
            ..DeleteParams::default()
        };
        let list = ListParams::default().labels(selector);
        for version in self.candidates() {
            // kube's delete_collection drops limit and continue: the request is built here.
            let path = format!(
                "/apis/{GROUP}/{}/namespaces/{namespace}/{}",
                version.as_str(),
                kind.plural()
            );
            let request = kube::core::Request::new(path)
                .delete_collection(&params, &list)
                .map(|mut request| {
                    let mut query = url_pairs(request.uri());
                    query.push(("limit".into(), batch.limit.to_string()));
                    if let Some(token) = batch.continue_token {
                        query.push(("continue".into(), token.to_string()));
                    }
                    let uri = format!(
                        "{}?{}",
                        request.uri().path(),
                        query
                            .iter()
                            .map(|(k, v)| format!("{k}={}", percent(v)))
                            .collect::<Vec<_>>()
                            .join("&")
                    );
                    if let Ok(uri) = uri.parse() {
                        *request.uri_mut() = uri;
                    }
                    request
                });
            let Ok(request) = request else {
                return Err(Error::runtime("cannot build a delete-collection request"));
            };
            match self
                .send(
                    self.cluster
                        .client
                        .request::<kube::core::ObjectList<DynamicObject>>(request),
                )
                .await
            {
                Ok(deleted) => {
                    self.version.set(Some(version));
                    let next = deleted.metadata.continue_.clone().filter(|c| !c.is_empty());
                    return Ok((deleted.items.into_iter().map(to_value).collect(), next));
                }
                Err(e) if e.is_not_found() => continue,
                Err(e) => {
                    return Err(self.describe(
                        e,
                        Doing {
                            verb: "delete",
                            what: format!("{} labelled {selector}", kind.plural()),
                            namespace: Some(namespace),
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
        let listed = self
            .send(async {
                if group_version.contains('/') {
                    client.list_api_group_resources(group_version).await
                } else {
                    client.list_core_api_resources(group_version).await
                }
            })
            .await;
        let list = match listed {
            Ok(list) => list,
            Err(Failed::Kube(kube::Error::Api(status))) if status.code == 404 => return Ok(None),
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
        self.send(
            self.api_for(&target, Some(namespace))
                .list(&ListParams::default()),
        )
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

    /// Gets a namespaced core/v1 object (Service, ConfigMap) for status, typed; Ok(None) when it
    /// does not exist.
    pub async fn get_core<K>(&self, namespace: &str, name: &str) -> Result<Option<K>>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        let api: Api<K> = Api::namespaced(self.cluster.client.clone(), namespace);
        self.send(api.get_opt(name)).await.map_err(|e| {
            self.describe(
                e,
                Doing {
                    verb: "get",
                    what: format!("{}/{name}", K::kind(&()).to_ascii_lowercase()),
                    namespace: Some(namespace),
                },
            )
        })
    }

    /// One line that says what failed and what to do.
    pub fn describe(&self, error: Failed, doing: Doing<'_>) -> Error {
        let request = Described {
            verb: doing.verb,
            what: &doing.what,
            place: doing
                .namespace
                .map(|ns| format!(" in namespace {ns}"))
                .unwrap_or_else(|| " in all namespaces".into()),
            api_server: &self.cluster.server,
        };
        let (reason, message) = match error {
            Failed::TimedOut(limit) => request.timed_out(limit),
            Failed::Kube(kube::Error::Api(status)) => request.answered(&status),
            Failed::Kube(kube::Error::SerdeError(e)) => request.not_json(&e),
            Failed::Kube(kube::Error::FromUtf8(_)) => request.not_text(),
            Failed::Kube(other) => request.unanswered(&other),
        };
        Error::failed(reason, message)
    }
}

/// The merge patch that takes `before` over as `object`: the spec becomes exactly the plugin's
/// (top-level fields it does not set are nulled), the plugin's labels, kubectl's last-applied
/// annotation dropped; conditional on the object read (its uid and resourceVersion).
fn adoption_patch(object: &Value, before: &Value) -> Value {
    let mut spec = object["spec"].clone();
    if let (Some(new), Some(old)) = (spec.as_object_mut(), before["spec"].as_object()) {
        for key in old.keys() {
            if !new.contains_key(key) {
                new.insert(key.clone(), Value::Null);
            }
        }
    }
    Precondition::unchanged(before).carried_by(&serde_json::json!({
        "metadata": {
            "labels": object["metadata"]["labels"],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": null},
        },
        "spec": spec,
    }))
}

/// The query of a URI as decoded pairs (only the selectors kube put there: plain ASCII).
fn url_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((k.to_string(), unpercent(v)))
        })
        .collect()
}

fn unpercent(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs `request` within `limit` (None: no limit), with the deadline visible to the transport
/// (Retry-After pauses must end before it).
pub async fn send_within<T>(
    limit: Option<std::time::Duration>,
    request: impl std::future::Future<Output = kube::Result<T>>,
) -> std::result::Result<T, Failed> {
    let Some(limit) = limit else {
        return super::transport::DEADLINE
            .scope(None, request)
            .await
            .map_err(Failed::Kube);
    };
    let deadline = tokio::time::Instant::now() + limit;
    match super::transport::DEADLINE
        .scope(Some(deadline), tokio::time::timeout_at(deadline, request))
        .await
    {
        Ok(result) => result.map_err(Failed::Kube),
        Err(_) => Err(Failed::TimedOut(limit)),
    }
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
mod tests;
