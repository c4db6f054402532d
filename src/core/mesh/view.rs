//! What `status` reads from the cluster, as its analysis and its analyzers take it. Pure.

use std::collections::BTreeMap;

use super::traffic::{Exported, KubeService};
use crate::core::objects::istio::*;

/// Where the mesh's egress gateway runs and the admins keep its configuration.
pub const GATEWAY_NAMESPACE: &str = "istio-system";

/// A fact the user may not be allowed to read: reported as unknown with the reason, never as an
/// error that hides the rest.
#[derive(Debug, Clone, PartialEq)]
pub enum Known<T> {
    Yes(T),
    Unknown(String),
}

impl<T> Known<T> {
    pub fn into_option(self) -> Option<T> {
        match self {
            Known::Yes(v) => Some(v),
            Known::Unknown(_) => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Known<U> {
        match self {
            Known::Yes(v) => Known::Yes(f(v)),
            Known::Unknown(why) => Known::Unknown(why),
        }
    }
}

/// What `status` read from the cluster.
#[derive(Debug, Clone)]
pub struct ClusterView {
    pub service_entries: Vec<ServiceEntry>,
    pub virtual_services: Vec<VirtualService>,
    /// Gateways in istio-system, where the admins define the egress exit points.
    pub gateways: Known<Vec<Gateway>>,
    /// ServiceEntries in istio-system: what the egress gateway there knows of external hosts.
    pub gateway_service_entries: Known<Vec<ServiceEntry>>,
    /// Whether the egress gateway Service exists in istio-system.
    pub egress_gateway_service: Known<bool>,
    /// VirtualServices in istio-system: the admins' second hop, bound to the Gateways.
    pub gateway_virtual_services: Known<Vec<VirtualService>>,
    /// DestinationRules in istio-system: the subsets of the egress gateway, and (the mesh's root
    /// namespace) TLS origination rules that apply everywhere.
    pub destination_rules: Known<Vec<DestinationRule>>,
    /// The namespace's own DestinationRules (`allow --tls-origination` writes one per host).
    pub namespace_destination_rules: Vec<DestinationRule>,
    /// The Services routes send to (the egress gateway's, and any `--gateway-host`), by FQDN.
    pub services: BTreeMap<String, Known<Option<KubeService>>>,
    /// The mesh's outboundTrafficPolicy mode from the `istio` ConfigMap (None: not set, so
    /// Istio's default ALLOW_ANY).
    pub outbound_policy: Known<Option<String>>,
    /// What else scopes what a workload's proxy sees: Sidecars and the mesh config's defaults.
    pub scope: MeshScope,
    /// Other namespaces' objects that may be exported to the namespace (none with -A: every
    /// namespace's are above).
    pub elsewhere: Elsewhere,
}

/// The ServiceEntries and VirtualServices of namespaces other than the one status is about and
/// istio-system that may be exported to it (read cluster-wide, where RBAC allows).
#[derive(Debug, Clone)]
pub struct Elsewhere {
    pub service_entries: Known<Vec<ServiceEntry>>,
    pub virtual_services: Known<Vec<VirtualService>>,
    /// Their DestinationRules: one applies to a host their ServiceEntry defines.
    pub destination_rules: Known<Vec<DestinationRule>>,
    /// Where they were read namespace by namespace (a cluster-wide list refused): each kind's
    /// namespaces that could not be read, said as status says an unknown.
    pub unread: Vec<String>,
}

impl Default for Elsewhere {
    /// Nothing elsewhere.
    fn default() -> Elsewhere {
        Elsewhere {
            service_entries: Known::Yes(vec![]),
            virtual_services: Known::Yes(vec![]),
            destination_rules: Known::Yes(vec![]),
            unread: vec![],
        }
    }
}

impl ClusterView {
    /// The view as Istio applies the mesh config's default exportTo: every object and Service
    /// that sets none gets the default of its kind (initDefaultExportMaps; for DestinationRules
    /// only `.` counts). None when the defaults are Istio's own (every namespace) or unknown.
    pub fn with_export_defaults(&self) -> Option<ClusterView> {
        let Known::Yes(defaults) = &self.scope.defaults else {
            return None;
        };
        let narrows = |d: &[String]| d.iter().any(|e| e != "*");
        if !narrows(&defaults.service_export_to)
            && !narrows(&defaults.virtual_service_export_to)
            && !narrows(&defaults.destination_rule_export_to)
        {
            return None;
        }
        let mut view = self.clone();
        let services = &defaults.service_export_to;
        let routes = &defaults.virtual_service_export_to;
        // Of the DestinationRule default Istio honours `.` alone (setDestinationRules): any
        // other leaves a rule without exportTo public.
        let private = vec![".".to_string()];
        let rules: &[String] = if defaults.destination_rule_export_to.iter().any(|e| e == ".") {
            &private
        } else {
            &[]
        };
        fill(
            view.service_entries
                .iter_mut()
                .chain(known_mut(&mut view.gateway_service_entries))
                .chain(known_mut(&mut view.elsewhere.service_entries)),
            services,
        );
        fill(
            view.virtual_services
                .iter_mut()
                .chain(known_mut(&mut view.gateway_virtual_services))
                .chain(known_mut(&mut view.elsewhere.virtual_services)),
            routes,
        );
        fill(
            view.namespace_destination_rules
                .iter_mut()
                .chain(known_mut(&mut view.destination_rules))
                .chain(known_mut(&mut view.elsewhere.destination_rules)),
            rules,
        );
        for service in view.services.values_mut() {
            if let Known::Yes(Some(service)) = service
                && service.export_to.is_empty()
            {
                service.export_to = services.to_vec();
            }
        }
        Some(view)
    }
}

/// `default` as the exportTo of each object that sets none.
fn fill<'o, S: Exported + 'o>(
    objects: impl Iterator<Item = &'o mut Object<S>>,
    default: &[String],
) {
    for object in objects {
        let export_to = object.spec.export_to_mut();
        if export_to.is_empty() {
            *export_to = default.to_vec();
        }
    }
}

fn known_mut<T>(list: &mut Known<Vec<T>>) -> impl Iterator<Item = &mut T> {
    match list {
        Known::Yes(items) => Some(items.iter_mut()),
        Known::Unknown(_) => None,
    }
    .into_iter()
    .flatten()
}

/// Istio's own root namespace when the mesh config names none.
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";

/// What scopes the config a workload's sidecar gets, beside the objects' own `exportTo`.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshScope {
    /// The namespace's Sidecars (every namespace's, with -A).
    pub sidecars: Known<Vec<Sidecar>>,
    /// The Sidecars of the mesh's root namespace: one without a selector is the default for
    /// every namespace that has none of its own.
    pub root_sidecars: Known<Vec<Sidecar>>,
    /// The mesh config's defaults (ConfigMap istio-system/istio).
    pub defaults: Known<MeshDefaults>,
    /// The namespace's EnvoyFilters (every namespace's, with -A) (not modelled: named where
    /// they may change an answer).
    pub envoy_filters: Known<Vec<EnvoyFilter>>,
    /// The root namespace's EnvoyFilters: one without a selector patches every proxy.
    pub root_envoy_filters: Known<Vec<EnvoyFilter>>,
    /// The namespace's WasmPlugins and the root namespace's (read by status alone; not
    /// modelled: named where they may change an answer, as EnvoyFilters are).
    pub wasm_plugins: Known<Vec<WasmPlugin>>,
    pub root_wasm_plugins: Known<Vec<WasmPlugin>>,
    /// istio-system's AuthorizationPolicies: one that may select the egress gateway may refuse
    /// what reaches it (not modelled: said unknown).
    pub gateway_policies: Known<Vec<AuthorizationPolicy>>,
    /// Which ConfigMap the mesh config above came from.
    pub mesh_config: MeshConfigSource,
}

/// The ConfigMap the mesh config was read from: `istio`, or for a namespace labelled
/// `istio.io/rev` that revision's `istio-<rev>` (its istiod reads its own).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeshConfigSource {
    /// The revision's ConfigMap in istio-system, when not `istio`: `istio-canary`.
    pub revision_config_map: Option<String>,
    /// What could not be told about the choice (said under mesh.unknown): the namespace's
    /// labels could not be read.
    pub unknown: Option<String>,
}

impl Default for MeshScope {
    /// A mesh with no Sidecar and Istio's defaults.
    fn default() -> MeshScope {
        MeshScope {
            sidecars: Known::Yes(vec![]),
            root_sidecars: Known::Yes(vec![]),
            defaults: Known::Yes(MeshDefaults::default()),
            envoy_filters: Known::Yes(vec![]),
            root_envoy_filters: Known::Yes(vec![]),
            wasm_plugins: Known::Yes(vec![]),
            root_wasm_plugins: Known::Yes(vec![]),
            gateway_policies: Known::Yes(vec![]),
            mesh_config: MeshConfigSource::default(),
        }
    }
}

/// The mesh config's fields that decide visibility: the root namespace and the exportTo an
/// object gets when it sets none (empty: Istio's default, every namespace).
#[derive(Debug, Clone, PartialEq)]
pub struct MeshDefaults {
    pub root_namespace: String,
    pub service_export_to: Vec<String>,
    pub virtual_service_export_to: Vec<String>,
    pub destination_rule_export_to: Vec<String>,
}

impl Default for MeshDefaults {
    fn default() -> MeshDefaults {
        MeshDefaults {
            root_namespace: DEFAULT_ROOT_NAMESPACE.to_string(),
            service_export_to: vec![],
            virtual_service_export_to: vec![],
            destination_rule_export_to: vec![],
        }
    }
}

impl ClusterView {
    /// The mesh's outboundTrafficPolicy mode: the ConfigMap's, or ALLOW_ANY (Istio's default)
    /// when it sets none.
    pub fn outbound_mode(&self) -> Known<String> {
        self.outbound_policy
            .clone()
            .map(|mode| mode.unwrap_or_else(|| "ALLOW_ANY".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view_with(defaults: MeshDefaults) -> ClusterView {
        let dr = |export: serde_json::Value| {
            typed(&json!({
                "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {"name": "r", "namespace": "s1"},
                "spec": {"host": "httpbin.org", "exportTo": export},
            }))
        };
        ClusterView {
            elsewhere: Default::default(),
            service_entries: vec![typed(&json!({
                "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                "metadata": {"name": "se", "namespace": "s1"},
                "spec": {"hosts": ["httpbin.org"]},
            }))],
            virtual_services: vec![],
            gateways: Known::Yes(vec![]),
            gateway_service_entries: Known::Unknown("forbidden".into()),
            egress_gateway_service: Known::Yes(true),
            gateway_virtual_services: Known::Yes(vec![]),
            destination_rules: Known::Yes(vec![]),
            namespace_destination_rules: vec![dr(json!([])), dr(json!(["*"]))],
            services: BTreeMap::from([(
                "gw.istio-system.svc.cluster.local".to_string(),
                Known::Yes(Some(KubeService::default())),
            )]),
            outbound_policy: Known::Yes(None),
            scope: MeshScope {
                defaults: Known::Yes(defaults),
                ..MeshScope::default()
            },
        }
    }

    #[test]
    fn the_mesh_default_export_applies_where_an_object_sets_none() {
        assert!(
            view_with(MeshDefaults::default())
                .with_export_defaults()
                .is_none()
        );
        let star = MeshDefaults {
            service_export_to: vec!["*".into()],
            ..MeshDefaults::default()
        };
        assert!(view_with(star).with_export_defaults().is_none());
        let private = view_with(MeshDefaults {
            service_export_to: vec![".".into()],
            destination_rule_export_to: vec!["istio-system".into()],
            ..MeshDefaults::default()
        })
        .with_export_defaults()
        .unwrap();
        assert_eq!(private.service_entries[0].spec.export_to, ["."]);
        let Known::Yes(Some(gateway)) = &private.services["gw.istio-system.svc.cluster.local"]
        else {
            panic!("the Service is there");
        };
        assert_eq!(gateway.export_to, ["."]);
        // A DestinationRule default other than `.` leaves rules public (Istio honours `.` only);
        // one that sets its own keeps it.
        assert!(
            private.namespace_destination_rules[0]
                .spec
                .export_to
                .is_empty()
        );
        assert_eq!(private.namespace_destination_rules[1].spec.export_to, ["*"]);
        let rules = view_with(MeshDefaults {
            destination_rule_export_to: vec![".".into()],
            ..MeshDefaults::default()
        })
        .with_export_defaults()
        .unwrap();
        assert_eq!(rules.namespace_destination_rules[0].spec.export_to, ["."]);
        assert!(rules.service_entries[0].spec.export_to.is_empty());
    }
}
