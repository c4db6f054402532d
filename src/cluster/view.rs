//! What decides where a namespace's traffic goes, read from the cluster into the pure
//! [`ClusterView`] that `status` analyses and that `timeout`, `retries` and `via-gateway` check
//! what they are about to write against. Reads the user may not make come back as unknown.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Service};
use serde_json::Value;

use super::api::{
    AUTHORIZATION_POLICIES, ENVOY_FILTERS, IstioApi, ReadOnlyKind, SIDECARS, WASM_PLUGINS,
};
use crate::core::mesh::traffic::{Exported, KubeService, exported_to, service_port_protocol};
use crate::core::mesh::view::{ClusterView, GATEWAY_NAMESPACE, Known};
use crate::core::mesh::view::{
    DEFAULT_ROOT_NAMESPACE, Elsewhere, MeshConfigSource, MeshDefaults, MeshScope,
};
use crate::core::objects::istio::{
    AuthorizationPolicySpec, DEFAULT_EGRESS_GATEWAY_HOST, DestinationRule, DestinationRuleSpec,
    EnvoyFilterSpec, Kind, Object, ServiceEntry, ServiceEntrySpec, SidecarSpec, VirtualService,
    VirtualServiceSpec, WasmPluginSpec,
};
use crate::error::Result;

/// What decides where a namespace's traffic goes, beside its own ServiceEntries and
/// VirtualServices (already listed): what istio-system holds, the Services routes send to, the
/// mesh config. Reads the user may not make come back as unknown. `timeout` and `via-gateway`
/// use it too, to check what they are about to write.
pub async fn read_view(
    api: &IstioApi<'_>,
    namespace: Option<&str>,
    service_entries: Vec<ServiceEntry>,
    virtual_services: Vec<VirtualService>,
    also_services: &[&str],
    reach: Reach,
) -> ClusterView {
    // Other namespaces' exports, and what the egress gateway knows of external hosts: one
    // cluster-wide list where RBAC allows it, else istio-system's alone (and the rest unknown).
    let mut reach = reach;
    let mut unread = vec![];
    let (gateway_service_entries, elsewhere_service_entries) = around::<ServiceEntrySpec>(
        api,
        Kind::ServiceEntry,
        namespace,
        Some(&service_entries),
        &mut reach,
        &mut unread,
    )
    .await;
    let gateways = known(
        api.list_typed(Kind::Gateway, Some(GATEWAY_NAMESPACE), None)
            .await,
    );
    let (gateway_virtual_services, elsewhere_virtual_services) = around::<VirtualServiceSpec>(
        api,
        Kind::VirtualService,
        namespace,
        Some(&virtual_services),
        &mut reach,
        &mut unread,
    )
    .await;
    // The namespace's own are listed below (namespace_rules), without istio-system's.
    let (destination_rules, elsewhere_destination_rules) = around::<DestinationRuleSpec>(
        api,
        Kind::DestinationRule,
        namespace,
        None,
        &mut reach,
        &mut unread,
    )
    .await;
    let namespace_destination_rules = namespace_rules(api, namespace).await;
    let services = read_services(api, &virtual_services, also_services).await;
    let egress_gateway_service = match &services[DEFAULT_EGRESS_GATEWAY_HOST] {
        Known::Yes(s) => Known::Yes(s.is_some()),
        Known::Unknown(why) => Known::Unknown(why.clone()),
    };
    let source = mesh_config_source(api, namespace).await;
    let config_map = source.revision_config_map.as_deref().unwrap_or("istio");
    let mesh_config = match known(
        api.get_core::<ConfigMap>(GATEWAY_NAMESPACE, config_map)
            .await,
    ) {
        Known::Yes(Some(config_map)) => Known::Yes(mesh_config_of(&config_map)),
        Known::Yes(None) if source.revision_config_map.is_some() => Known::Unknown(format!(
            "ConfigMap istio-system/{config_map} not found: the namespace's istio.io/rev names no installed revision (a revision tag names its revision only in the webhook istio-revision-tag-*, which is not read)"
        )),
        Known::Yes(None) => Known::Unknown("ConfigMap istio-system/istio not found".into()),
        Known::Unknown(why) => Known::Unknown(why),
    };
    let outbound_policy = mesh_config.clone().map(|mesh| outbound_mode(&mesh));
    let defaults = mesh_config.map(|mesh| mesh_defaults(&mesh));
    // The gateway's AuthorizationPolicies matter to what status says; a write's check leaves
    // them out (they refuse no write).
    let policies = reach != Reach::OwnOnly;
    let mut scope = read_scope(api, namespace, defaults, policies).await;
    scope.mesh_config = source;

    ClusterView {
        service_entries,
        virtual_services,
        gateways,
        gateway_service_entries,
        egress_gateway_service,
        gateway_virtual_services,
        destination_rules,
        namespace_destination_rules,
        services,
        outbound_policy,
        scope,
        elsewhere: Elsewhere {
            service_entries: elsewhere_service_entries,
            virtual_services: elsewhere_virtual_services,
            destination_rules: elsewhere_destination_rules,
            unread,
        },
    }
}

/// Whether a read looks at other namespaces' objects (cluster-wide lists): `status` does; a
/// write's check does not (its own namespace's objects decide what it writes).
#[derive(Debug, Clone, PartialEq)]
pub enum Reach {
    Elsewhere,
    OwnOnly,
    /// A cluster-wide list was refused, why: the next kinds are not asked for (RBAC grants
    /// them together), only said unknown.
    Refused(String),
    /// Refused, and the namespaces could be listed: each is read on its own.
    OneByOne(Vec<String>),
}

/// What one kind's list around the namespace keeps: istio-system's objects, other namespaces'
/// that may be exported to the namespace, and hidden ServiceEntries that share a host with one
/// of their namespace's that is kept (Istio pools one namespace's entries for a host, so the
/// model must see them to say unknown: `Mesh::pooled_entries_unmodelled`). Objects come in key
/// order (namespace, then name), so one namespace's hidden ones are held at a time.
struct Kept<S> {
    kind: Kind,
    namespace: String,
    gateway: Vec<Object<S>>,
    elsewhere: Vec<Object<S>>,
    hidden: Vec<Object<S>>,
}

impl<S: Exported> Kept<S> {
    fn new(kind: Kind, namespace: &str) -> Kept<S> {
        Kept {
            kind,
            namespace: namespace.to_string(),
            gateway: vec![],
            elsewhere: vec![],
            hidden: vec![],
        }
    }

    fn take(&mut self, object: Object<S>) {
        if self
            .hidden
            .first()
            .is_some_and(|o| o.metadata.namespace != object.metadata.namespace)
        {
            self.keep_pooled();
        }
        let own = object.metadata.namespace.as_deref();
        let namespace = self.namespace.as_str();
        if own == Some(GATEWAY_NAMESPACE) {
            self.gateway.push(object);
        } else if own != Some(namespace)
            && (exported_to(&object, namespace)
                || (self.kind == Kind::ServiceEntry && exported_to(&object, GATEWAY_NAMESPACE)))
        {
            // One without exportTo is kept too: the mesh's default (read later) decides. A
            // ServiceEntry exported to the gateway's namespace gives the egress gateway its
            // cluster for the host (what a request through it meets there).
            self.elsewhere.push(object);
        } else if own != Some(namespace) && self.kind == Kind::ServiceEntry {
            self.hidden.push(object);
        }
    }

    /// The held namespace's hidden entries that share a host with one of its kept ones.
    fn keep_pooled(&mut self) {
        let Some(ns) = self
            .hidden
            .first()
            .and_then(|o| o.metadata.namespace.clone())
        else {
            return;
        };
        let kept: std::collections::HashSet<String> = self
            .elsewhere
            .iter()
            .rev()
            .take_while(|o| o.metadata.namespace.as_deref() == Some(ns.as_str()))
            .flat_map(|o| o.spec.hosts().iter().cloned())
            .collect();
        let pooled: Vec<Object<S>> = self
            .hidden
            .drain(..)
            .filter(|o| o.spec.hosts().iter().any(|h| kept.contains(h)))
            .collect();
        self.elsewhere.extend(pooled);
    }
}

/// Namespaces named in a message: the first few, and how many more.
fn some_of(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut said = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        said.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    said
}

/// One kind's objects around the namespace: istio-system's, and other namespaces' that may be
/// exported to it. With -A (or in istio-system) from what was `listed` already (not listed:
/// istio-system's list); else, as `reach` says, one cluster-wide list in pages keeping only
/// those, or istio-system's list alone (and the rest unknown, named).
async fn around<S: serde::de::DeserializeOwned + Default + Clone + Exported>(
    api: &IstioApi<'_>,
    kind: Kind,
    namespace: Option<&str>,
    listed: Option<&[Object<S>]>,
    reach: &mut Reach,
    unread: &mut Vec<String>,
) -> (Known<Vec<Object<S>>>, Known<Vec<Object<S>>>) {
    let Some(namespace) = namespace.filter(|ns| *ns != GATEWAY_NAMESPACE) else {
        let gateway = match listed {
            Some(listed) => Known::Yes(
                listed
                    .iter()
                    .filter(|o| o.metadata.namespace.as_deref() == Some(GATEWAY_NAMESPACE))
                    .cloned()
                    .collect(),
            ),
            None => known(api.list_typed(kind, Some(GATEWAY_NAMESPACE), None).await),
        };
        return (gateway, Known::Yes(vec![]));
    };
    if *reach == Reach::Elsewhere {
        let mut kept = Kept::new(kind, namespace);
        let everywhere = api
            .list_each(kind, None, None, |item| {
                kept.take(crate::core::objects::istio::typed(&item))
            })
            .await;
        kept.keep_pooled();
        match everywhere {
            Ok(_) => return (Known::Yes(kept.gateway), Known::Yes(kept.elsewhere)),
            Err(e) => {
                let why = if e.is_forbidden() {
                    format!("listing {} in all namespaces is forbidden", kind.plural())
                } else {
                    e.to_string()
                };
                // Where the namespaces can be listed, the ones this user may read are read one
                // by one (one request each, a few at a time).
                *reach = match (e.is_forbidden(), api.namespace_names().await) {
                    (true, Ok(names)) => Reach::OneByOne(names),
                    _ => Reach::Refused(why),
                };
            }
        }
    }
    if let Reach::OneByOne(names) = &*reach {
        use futures_util::stream::StreamExt;
        let others: Vec<&String> = names
            .iter()
            .filter(|n| *n != namespace && *n != GATEWAY_NAMESPACE)
            .collect();
        let asked = others.len();
        let lists: Vec<(&String, Result<Vec<Object<S>>>)> = futures_util::stream::iter(others)
            .map(|ns| async move { (ns, api.list_typed::<S>(kind, Some(ns), None).await) })
            .buffered(8)
            .collect()
            .await;
        let mut kept = Kept::new(kind, namespace);
        let mut not_read = vec![];
        for (ns, list) in lists {
            match list {
                Ok(objects) => objects.into_iter().for_each(|o| kept.take(o)),
                Err(_) => not_read.push(ns.clone()),
            }
        }
        kept.keep_pooled();
        if !not_read.is_empty() {
            unread.push(format!(
                "{} of other namespaces were read one namespace at a time (listing them in all namespaces is forbidden); {} of {} could not be read ({}): hosts or routes they export to {namespace} are not shown",
                kind.plural(),
                not_read.len(),
                asked,
                some_of(&not_read)
            ));
        }
        let gateway = known(api.list_typed(kind, Some(GATEWAY_NAMESPACE), None).await);
        return (gateway, Known::Yes(kept.elsewhere));
    }
    let why = match reach {
        Reach::Refused(why) if why.contains(kind.plural()) => why.clone(),
        // Refused for the first kind asked: the others are not tried (one request, not three).
        Reach::Refused(why) => format!("not tried: {why}"),
        _ => "not read by this command".to_string(),
    };
    let consequence = match kind {
        Kind::ServiceEntry => format!("hosts they export to {namespace} are not shown"),
        Kind::VirtualService => format!("routes they export to {namespace} are not applied"),
        _ => "their rules for hosts defined there are not applied".to_string(),
    };
    let unknown = format!(
        "{} of other namespaces could not be read ({why}): {consequence}",
        kind.plural()
    );
    let gateway = known(api.list_typed(kind, Some(GATEWAY_NAMESPACE), None).await);
    (gateway, Known::Unknown(unknown))
}

/// The namespace's Sidecars and Istio's default root namespace's (two lists, unreadable ones
/// unknown): what `allow` checks its hosts against. (A mesh whose rootNamespace is another is
/// not asked for its config here: status reads it.)
pub async fn read_sidecars(api: &IstioApi<'_>, namespace: &str) -> MeshScope {
    let (sidecars, root_sidecars) =
        own_and_root::<SidecarSpec>(api, &SIDECARS, Some(namespace), DEFAULT_ROOT_NAMESPACE).await;
    MeshScope {
        sidecars,
        root_sidecars,
        ..MeshScope::default()
    }
}

/// What scopes the namespace's sidecars: its Sidecars and EnvoyFilters (every namespace's with
/// -A) and the root namespace's, with the mesh config's defaults.
async fn read_scope(
    api: &IstioApi<'_>,
    namespace: Option<&str>,
    defaults: Known<MeshDefaults>,
    policies: bool,
) -> MeshScope {
    let root = match &defaults {
        Known::Yes(d) => d.root_namespace.clone(),
        Known::Unknown(_) => DEFAULT_ROOT_NAMESPACE.to_string(),
    };
    let (sidecars, root_sidecars) =
        own_and_root::<SidecarSpec>(api, &SIDECARS, namespace, &root).await;
    let (envoy_filters, root_envoy_filters) =
        own_and_root::<EnvoyFilterSpec>(api, &ENVOY_FILTERS, namespace, &root).await;
    // What refuses or changes requests but no write: status reads it, a write's check does not.
    let (gateway_policies, (wasm_plugins, root_wasm_plugins)) = if policies {
        // The gateway's namespace's, and the root namespace's where that is another (its
        // policies apply to every workload of the mesh).
        let mut policies = known(
            api.list_read_only::<AuthorizationPolicySpec>(
                &AUTHORIZATION_POLICIES,
                Some(GATEWAY_NAMESPACE),
            )
            .await,
        );
        if root != GATEWAY_NAMESPACE
            && let Known::Yes(listed) = &mut policies
        {
            match known(
                api.list_read_only::<AuthorizationPolicySpec>(&AUTHORIZATION_POLICIES, Some(&root))
                    .await,
            ) {
                Known::Yes(more) => listed.extend(more),
                Known::Unknown(why) => policies = Known::Unknown(why),
            }
        }
        (
            policies,
            own_and_root::<WasmPluginSpec>(api, &WASM_PLUGINS, namespace, &root).await,
        )
    } else {
        (Known::Yes(vec![]), (Known::Yes(vec![]), Known::Yes(vec![])))
    };
    MeshScope {
        sidecars,
        root_sidecars,
        defaults,
        envoy_filters,
        root_envoy_filters,
        wasm_plugins,
        root_wasm_plugins,
        gateway_policies,
        mesh_config: MeshConfigSource::default(),
    }
}

/// One kind's objects in the namespace (every namespace's with -A) and in the root namespace:
/// the second from the first list when that covered the root namespace, else one more list.
async fn own_and_root<S: serde::de::DeserializeOwned + Default + Clone>(
    api: &IstioApi<'_>,
    kind: &ReadOnlyKind,
    namespace: Option<&str>,
    root: &str,
) -> (Known<Vec<Object<S>>>, Known<Vec<Object<S>>>) {
    let own = known(api.list_read_only::<S>(kind, namespace).await);
    let root_objects = match (&own, namespace) {
        (Known::Yes(all), ns) if ns.is_none() || ns == Some(root) => Known::Yes(
            all.iter()
                .filter(|o| o.metadata.namespace.as_deref() == Some(root))
                .cloned()
                .collect(),
        ),
        _ => known(api.list_read_only::<S>(kind, Some(root)).await),
    };
    (own, root_objects)
}

/// The namespace's own DestinationRules (TLS origination); with -A, every namespace's but
/// istio-system's; in istio-system none (its list has them).
async fn namespace_rules(api: &IstioApi<'_>, namespace: Option<&str>) -> Vec<DestinationRule> {
    match namespace {
        Some(ns) if ns != GATEWAY_NAMESPACE => {
            known(api.list_typed(Kind::DestinationRule, Some(ns), None).await)
                .into_option()
                .unwrap_or_default()
        }
        None => known(api.list_typed(Kind::DestinationRule, None, None).await)
            .into_option()
            .unwrap_or_default()
            .into_iter()
            .filter(|dr: &DestinationRule| {
                dr.metadata.namespace.as_deref() != Some(GATEWAY_NAMESPACE)
            })
            .collect(),
        _ => vec![],
    }
}

/// The Services that routes send to: the egress gateway's, any `also_services` names (a
/// `--gateway-host`), and any other a route names; one get each.
async fn read_services(
    api: &IstioApi<'_>,
    virtual_services: &[VirtualService],
    also_services: &[&str],
) -> BTreeMap<String, Known<Option<KubeService>>> {
    let mut services = BTreeMap::new();
    let mut wanted = vec![DEFAULT_EGRESS_GATEWAY_HOST.to_string()];
    wanted.extend(
        also_services
            .iter()
            .filter(|s| s.ends_with(".svc.cluster.local") && **s != DEFAULT_EGRESS_GATEWAY_HOST)
            .map(|s| s.to_string()),
    );
    for vs in virtual_services {
        for route in vs.spec.http.iter().flat_map(|r| &r.route) {
            let host = &route.destination.host;
            if host.ends_with(".svc.cluster.local") && !wanted.contains(host) {
                wanted.push(host.clone());
            }
        }
    }
    for fqdn in wanted {
        let mut parts = fqdn.split('.');
        let (Some(name), Some(ns)) = (parts.next(), parts.next()) else {
            continue;
        };
        let service =
            known(api.get_core::<Service>(ns, name).await).map(|s| s.as_ref().map(kube_service));
        services.insert(fqdn, service);
    }
    services
}

/// A Service as the traffic model needs it: its selector and its ports' protocols (ports outside
/// u32 are left out).
fn kube_service(service: &Service) -> KubeService {
    let spec = service.spec.as_ref();
    KubeService {
        name: service.metadata.name.clone().unwrap_or_default(),
        namespace: service.metadata.namespace.clone().unwrap_or_default(),
        selector: spec.and_then(|s| s.selector.clone()).unwrap_or_default(),
        ports: spec
            .and_then(|s| s.ports.as_ref())
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| {
                        let number = u32::try_from(p.port).ok()?;
                        let protocol = service_port_protocol(
                            p.name.as_deref().unwrap_or_default(),
                            p.app_protocol.as_deref(),
                        );
                        Some((number, protocol))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        export_to: service
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("networking.istio.io/exportTo"))
            .map(|e| {
                e.split(',')
                    .map(|ns| ns.trim().to_string())
                    .filter(|ns| !ns.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Which mesh config the namespace's proxies get: a namespace labelled `istio.io/rev` (and not
/// `istio-injection`, which wins in Istio's webhooks) is served by that revision's istiod, which
/// reads ConfigMap `istio-<rev>`. With -A, `istio` for every namespace.
async fn mesh_config_source(api: &IstioApi<'_>, namespace: Option<&str>) -> MeshConfigSource {
    let Some(namespace) = namespace else {
        return MeshConfigSource::default();
    };
    match api.namespace_labels(namespace).await {
        Ok(labels) => {
            let labels = labels.unwrap_or_default();
            let revision = labels
                .get("istio.io/rev")
                .filter(|rev| !rev.is_empty() && *rev != "default")
                .filter(|_| !labels.contains_key("istio-injection"));
            MeshConfigSource {
                revision_config_map: revision.map(|rev| format!("istio-{rev}")),
                unknown: None,
            }
        }
        Err(why) => MeshConfigSource {
            revision_config_map: None,
            unknown: Some(format!(
                "the namespace's labels: {why}: answered with istio-system/istio's mesh config; one labelled istio.io/rev gets its revision's (ConfigMap istio-system/istio-<rev>)"
            )),
        },
    }
}

/// A read the user may not be allowed to make: the reason instead of an error.
fn known<T>(result: Result<T>) -> Known<T> {
    match result {
        Ok(value) => Known::Yes(value),
        Err(e) => Known::Unknown(e.to_string()),
    }
}

/// The mesh config in the `istio` ConfigMap's `mesh` key, as YAML values (Null when there is
/// none or it does not parse). Read as values, not into a typed shape: a mode that YAML reads
/// as a number or boolean is no mode (serde would take `3` for the text "3").
fn mesh_config_of(config_map: &ConfigMap) -> Value {
    config_map
        .data
        .as_ref()
        .and_then(|data| data.get("mesh"))
        .and_then(|mesh| serde_saphyr::from_str(mesh).ok())
        .unwrap_or(Value::Null)
}

/// `outboundTrafficPolicy.mode` from the mesh config.
fn outbound_mode(mesh: &Value) -> Option<String> {
    mesh["outboundTrafficPolicy"]["mode"]
        .as_str()
        .map(String::from)
}

/// The root namespace and the default exportTo of each kind, from the mesh config.
fn mesh_defaults(mesh: &Value) -> MeshDefaults {
    let list = |key: &str| -> Vec<String> {
        mesh[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    MeshDefaults {
        root_namespace: mesh["rootNamespace"]
            .as_str()
            .filter(|ns| !ns.is_empty())
            .unwrap_or(DEFAULT_ROOT_NAMESPACE)
            .to_string(),
        service_export_to: list("defaultServiceExportTo"),
        virtual_service_export_to: list("defaultVirtualServiceExportTo"),
        destination_rule_export_to: list("defaultDestinationRuleExportTo"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_service_gives_its_selector_and_port_protocols() {
        let service: Service = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "istio-egressgateway", "namespace": "istio-system"},
            "spec": {
                "selector": {"istio": "egressgateway"},
                "ports": [
                    {"name": "http2", "port": 80},
                    {"name": "tls", "port": 443, "appProtocol": "tls"}
                ]
            }
        }))
        .unwrap();
        let read = kube_service(&service);
        assert_eq!(read.name, "istio-egressgateway");
        assert_eq!(read.namespace, "istio-system");
        assert_eq!(read.selector["istio"], "egressgateway");
        assert_eq!(
            read.ports,
            [
                (80, service_port_protocol("http2", None)),
                (443, service_port_protocol("tls", Some("tls")))
            ]
        );
        // No spec: no selector, no ports.
        let bare = kube_service(&Service::default());
        assert!(bare.selector.is_empty() && bare.ports.is_empty());
    }

    #[test]
    fn the_outbound_mode_comes_from_the_mesh_key() {
        let config_map = |data: Value| -> ConfigMap {
            serde_json::from_value(json!({"metadata": {"name": "istio"}, "data": data})).unwrap()
        };
        let outbound_mode = |c: &ConfigMap| outbound_mode(&mesh_config_of(c));
        assert_eq!(
            outbound_mode(&config_map(
                json!({"mesh": "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"})
            )),
            Some("REGISTRY_ONLY".into())
        );
        assert_eq!(
            outbound_mode(&config_map(json!({"mesh": "accessLogFile: /dev/stdout\n"}))),
            None
        );
        assert_eq!(outbound_mode(&config_map(json!({}))), None);
        // A mode that is not text is no mode.
        assert_eq!(
            outbound_mode(&config_map(
                json!({"mesh": "outboundTrafficPolicy:\n  mode: 3\n"})
            )),
            None
        );
    }
}
