//! The parts of Istio's networking API the plugin writes and reads.
//!
//! Only the fields the plugin sets are modelled: with server-side apply the fields sent are the
//! fields owned. Field order follows the exercise's YAML, so rendered objects read like it.
//! Deserialisation is lenient (unknown fields ignored, everything defaulted) because `status`
//! also reads hand-made objects.

use serde::{Deserialize, Serialize};

pub const GROUP: &str = "networking.istio.io";
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "kubectl-egress";
/// Marks the objects `gateway` writes (beside the managed-by label), so that `cleanup` removes
/// their Gateways and DestinationRules but not the Gateways `apply -f` wrote.
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
pub const COMPONENT_VALUE: &str = "egress-gateway";
/// The reserved gateway name for "all sidecars in the mesh".
pub const MESH_GATEWAY: &str = "mesh";
pub const DEFAULT_EGRESS_GATEWAY_HOST: &str = "istio-egressgateway.istio-system.svc.cluster.local";

/// The Istio kinds the plugin handles, with the names the API server knows them by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    ServiceEntry,
    VirtualService,
    Gateway,
    DestinationRule,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::ServiceEntry => "ServiceEntry",
            Kind::VirtualService => "VirtualService",
            Kind::Gateway => "Gateway",
            Kind::DestinationRule => "DestinationRule",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::ServiceEntry => "serviceentries",
            Kind::VirtualService => "virtualservices",
            Kind::Gateway => "gateways",
            Kind::DestinationRule => "destinationrules",
        }
    }

    /// `serviceentry.networking.istio.io`, as kubectl prints it in `-o name` and messages.
    pub fn qualified(self) -> String {
        format!("{}.{GROUP}", self.name().to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceEntrySpec {
    pub hosts: Vec<String>,
    /// Only read: a TCP port without addresses catches every destination (IST0134).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    /// Only read: Istio merges two ServiceEntries for one host only when these match too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServicePort {
    pub number: u32,
    pub name: String,
    pub protocol: String,
    /// `allow --tls-origination`: port 80 of the ServiceEntry reaches the host on 443.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualServiceSpec {
    pub hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRoute>,
    /// TLS routes by SNI: `via-gateway --tls` sends 443 to the egress gateway (passthrough).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsRoute>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpRoute {
    #[serde(rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpMatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<HttpRetry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HttpRetry {
    /// int32 in Istio's CRDs, with no minimum: a negative count is accepted by the API server.
    pub attempts: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsRoute {
    #[serde(rename = "match", skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<TlsMatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TlsMatch {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sni_hosts: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpMatch {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    /// Only read (a hand-made route may match on the path), never written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteDestination {
    pub destination: Destination,
    /// int32 in Istio's CRDs, with no minimum: a negative weight is accepted by the API server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Destination {
    pub host: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortSelector {
    pub number: u32,
}

/// Read by `status` for the subsets a route to the egress gateway may name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DestinationRuleSpec {
    pub host: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<TrafficPolicy>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
}

/// The part of a DestinationRule's trafficPolicy that decides TLS toward the host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrafficPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub port_level_settings: Vec<PortTrafficPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortTrafficPolicy {
    pub port: Option<PortSelector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTls>,
}

/// `tls.mode` SIMPLE originates TLS (the sidecar or gateway speaks HTTPS to the host).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientTls {
    pub mode: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Subset {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<TrafficPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewaySpec {
    pub selector: std::collections::BTreeMap<String, String>,
    pub servers: Vec<GatewayServer>,
}

/// Read by `status`, written by `gateway` (fields in the order the admins' YAML has them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GatewayServer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<ServicePort>,
    pub hosts: Vec<String>,
    /// `tls.mode: PASSTHROUGH` on a TLS server: the gateway routes by SNI, TLS untouched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTls>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerTls {
    pub mode: String,
}

/// A Sidecar: what the proxies of the workloads it selects see and where they may send (read
/// by `status` only, never written: the plugin never edits a Sidecar).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SidecarSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<WorkloadSelector>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<SidecarEgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound_traffic_policy: Option<SidecarOutboundPolicy>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkloadSelector {
    pub labels: std::collections::BTreeMap<String, String>,
}

/// One egress listener: the hosts it imports (`namespace/dnsName`), on one port or on all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SidecarEgress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<SidecarPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_mode: Option<String>,
    pub hosts: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SidecarPort {
    pub number: u32,
    pub protocol: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SidecarOutboundPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress_proxy: Option<serde_json::Value>,
}

/// An EnvoyFilter: patches to the proxies' generated config that `status` does not model; read
/// only to name it where it may change an answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EnvoyFilterSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<WorkloadSelector>,
}

/// An extensions.istio.io WasmPlugin: a filter added to the proxies' HTTP chains that `status`
/// does not model; read only to name it where it may change an answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WasmPluginSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_refs: Vec<serde_json::Value>,
}

/// A security.istio.io AuthorizationPolicy, read to decide what it does to requests at the egress
/// gateway (`gateway_policy`); the plugin never writes one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthorizationPolicySpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<PolicySelector>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_refs: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PolicyRule>,
}

/// One rule: it matches a request when one of `from` and one of `to` match it and every `when`
/// does (an empty list matches every request).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyRule {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from: Vec<PolicyFrom>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<PolicyTo>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyFrom {
    /// Kept whole: any field in it names who sends, which status cannot know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyTo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<PolicyOperation>,
}

/// What a request asks for; each list, when not empty, must match (`not…`: must not).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicyOperation {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_methods: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_paths: Vec<String>,
}

/// security.istio.io's workload selector (`matchLabels`, where networking's says `labels`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicySelector {
    pub match_labels: std::collections::BTreeMap<String, String>,
}

/// An Istio object as the API server stores it, with our spec type inside: the shape both
/// rendered and sent, so `--dry-run=client -o yaml` shows exactly what `apply` sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S> {
    pub api_version: String,
    pub kind: String,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: S,
    /// Set when the object as listed does not fit our shape (its spec is then empty): why, naming
    /// the object and the field. Never sent.
    #[serde(skip)]
    pub unreadable: Option<String>,
}

/// A listed object in our typed shape. One whose spec does not fit it (a field of another type
/// than ours, from an older or newer CRD) is kept with an empty spec and says why in
/// [`Object::unreadable`], so that nothing takes the empty spec for what the object says.
pub fn typed<S: serde::de::DeserializeOwned + Default>(value: &serde_json::Value) -> Object<S> {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| Object {
        api_version: value["apiVersion"].as_str().unwrap_or_default().into(),
        kind: value["kind"].as_str().unwrap_or_default().into(),
        metadata: serde_json::from_value(value["metadata"].clone()).unwrap_or_default(),
        spec: S::default(),
        unreadable: Some(unreadable_reason::<S>(value, &e)),
    })
}

/// Why an object could not be read: the field (narrowed down to the smallest part of the object
/// that alone does not fit our shape) and what serde found there.
fn unreadable_reason<S: serde::de::DeserializeOwned + Default>(
    value: &serde_json::Value,
    error: &serde_json::Error,
) -> String {
    let mut current = value.clone();
    let mut error = error.to_string();
    // Narrowed within the spec when the rest of the object fits.
    let mut without_spec = value.clone();
    if let Some(map) = without_spec.as_object_mut() {
        map.remove("spec");
    }
    let in_spec =
        value.get("spec").is_some() && serde_json::from_value::<Object<S>>(without_spec).is_ok();
    let (mut pointer, mut shown) = if in_spec {
        ("/spec".to_string(), "spec".to_string())
    } else {
        (String::new(), String::new())
    };
    'narrow: loop {
        if !in_spec {
            break;
        }
        let Some(node) = current.pointer(&pointer).cloned() else {
            break;
        };
        let children = each_alone(&node);
        for (segment, name, only) in children {
            let mut candidate = current.clone();
            if let Some(slot) = candidate.pointer_mut(&pointer) {
                *slot = only;
            }
            if let Err(e) = serde_json::from_value::<Object<S>>(candidate.clone()) {
                current = candidate;
                pointer = format!("{pointer}/{segment}");
                if !name.starts_with('[') && !shown.is_empty() {
                    shown.push('.');
                }
                shown.push_str(&name);
                error = e.to_string();
                continue 'narrow;
            }
        }
        break;
    }
    let name = format!(
        "{} {}/{}",
        value["kind"].as_str().unwrap_or("object"),
        value["metadata"]["namespace"].as_str().unwrap_or_default(),
        value["metadata"]["name"].as_str().unwrap_or_default()
    );
    if shown.is_empty() {
        format!("{name} could not be read: {error}")
    } else {
        format!("{name}: {shown} could not be read: {error}")
    }
}

/// Each child of an object or array node alone in a node of its own kind, with its JSON-pointer
/// segment and the name shown for it (`key`, `[i]`): the object with only that child is read
/// again to find the one that does not fit.
fn each_alone(node: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    use serde_json::Value;
    match node {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let mut only = serde_json::Map::new();
                only.insert(k.clone(), v.clone());
                (
                    k.replace('~', "~0").replace('/', "~1"),
                    k.clone(),
                    Value::Object(only),
                )
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (
                    "0".to_string(),
                    format!("[{i}]"),
                    Value::Array(vec![v.clone()]),
                )
            })
            .collect(),
        _ => vec![],
    }
}

/// An object as listed: typed, for what the plugin decides from it, beside the JSON the server
/// sent, for what must see the object whole (a write compared with and adopted over it, an object
/// printed as deleted).
#[derive(Debug, Clone, PartialEq)]
pub struct ListedObject<S> {
    pub typed: Object<S>,
    pub json: serde_json::Value,
}

impl<S: serde::de::DeserializeOwned + Default> ListedObject<S> {
    /// Reads `json` leniently into the typed shape (see [`typed`]) and keeps it.
    pub fn new(json: serde_json::Value) -> ListedObject<S> {
        ListedObject {
            typed: typed(&json),
            json,
        }
    }
}

/// The metadata of an object of any kind, read leniently (default when it does not fit).
pub fn metadata_of(object: &serde_json::Value) -> Metadata {
    object
        .get("metadata")
        .and_then(|m| Metadata::deserialize(m).ok())
        .unwrap_or_default()
}

/// A Gateway server host (`namespace/host`, `./host`, `*/host`) without its namespace part; a host
/// without one as it is.
pub fn strip_namespace(host: &str) -> &str {
    host.split_once('/').map_or(host, |(_, h)| h)
}

/// A planned object as the JSON the API server is sent (and `-o json` prints).
pub fn to_value<T: Serialize>(object: &T) -> serde_json::Value {
    serde_json::to_value(object).unwrap_or_default()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metadata {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing)]
    pub uid: Option<String>,
    #[serde(skip_serializing)]
    pub resource_version: Option<String>,
    #[serde(skip_serializing)]
    pub creation_timestamp: Option<String>,
}

impl Metadata {
    pub fn is_managed(&self) -> bool {
        self.labels.get(MANAGED_BY_LABEL).map(String::as_str) == Some(MANAGED_BY_VALUE)
    }

    /// Managed and marked as written by `gateway` (its component label).
    pub fn is_gateways(&self) -> bool {
        self.is_managed()
            && self.labels.get(COMPONENT_LABEL).map(String::as_str) == Some(COMPONENT_VALUE)
    }
}

pub type ServiceEntry = Object<ServiceEntrySpec>;
pub type VirtualService = Object<VirtualServiceSpec>;
pub type Gateway = Object<GatewaySpec>;
pub type DestinationRule = Object<DestinationRuleSpec>;
pub type Sidecar = Object<SidecarSpec>;
pub type EnvoyFilter = Object<EnvoyFilterSpec>;
pub type WasmPlugin = Object<WasmPluginSpec>;
pub type AuthorizationPolicy = Object<AuthorizationPolicySpec>;

/// networking.istio.io versions the plugin can speak, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    V1,
    V1beta1,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1 => "v1",
            ApiVersion::V1beta1 => "v1beta1",
        }
    }

    pub fn group_version(self) -> String {
        format!("{GROUP}/{}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Objects the API server accepts (Istio's CRDs type `retries.attempts` and `route.weight`
    /// as int32 with no minimum) read with their spec, not as an empty one.
    #[test]
    fn what_the_crds_accept_reads() {
        let vs = json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "odd", "namespace": "team-a"},
            "spec": {
                "hosts": ["httpbin.org"],
                "http": [{
                    "timeout": "3s",
                    "retries": {"attempts": -1},
                    "route": [{"destination": {"host": "httpbin.org"}, "weight": -5}]
                }]
            }
        });
        let read: VirtualService = typed(&vs);
        assert_eq!(read.spec.hosts, ["httpbin.org"]);
        assert_eq!(read.spec.http[0].timeout.as_deref(), Some("3s"));
        assert_eq!(
            read.spec.http[0].retries.as_ref().map(|r| r.attempts),
            Some(-1)
        );
        assert_eq!(read.spec.http[0].route[0].weight, Some(-5));
        assert_eq!(read.unreadable, None);
    }

    /// A spec that does not fit (from another CRD version) says which field, not an empty spec.
    #[test]
    fn an_unreadable_spec_names_the_object_and_the_field() {
        let se = json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "metadata": {"name": "odd", "namespace": "team-a"},
            "spec": {
                "hosts": ["httpbin.org"],
                "ports": [
                    {"number": 80, "name": "http", "protocol": "HTTP"},
                    {"number": "443", "name": "https", "protocol": "TLS"}
                ]
            }
        });
        let read: ServiceEntry = typed(&se);
        assert_eq!(read.spec, ServiceEntrySpec::default());
        assert_eq!(read.metadata.name, "odd");
        assert_eq!(
            read.unreadable.as_deref(),
            Some(
                "ServiceEntry team-a/odd: spec.ports[1].number could not be read: \
                 invalid type: string \"443\", expected u32"
            )
        );
        let vs = json!({
            "apiVersion": "networking.istio.io/v1beta1",
            "kind": "VirtualService",
            "metadata": {"name": "r", "namespace": "istio-system"},
            "spec": {"hosts": "httpbin.org"}
        });
        let read: VirtualService = typed(&vs);
        assert_eq!(
            read.unreadable.as_deref(),
            Some(
                "VirtualService istio-system/r: spec.hosts could not be read: \
                 invalid type: string \"httpbin.org\", expected a sequence"
            )
        );
    }

    #[test]
    fn gateway_hosts_lose_only_their_namespace() {
        assert_eq!(strip_namespace("./httpbin.org"), "httpbin.org");
        assert_eq!(
            strip_namespace("istio-system/*.example.org"),
            "*.example.org"
        );
        assert_eq!(strip_namespace("httpbin.org"), "httpbin.org");
        // Only the first slash separates the namespace.
        assert_eq!(strip_namespace("a/b/c"), "b/c");
    }

    #[test]
    fn metadata_is_read_from_any_object() {
        let gateways = json!({"kind": "Gateway", "metadata": {"name": "g", "uid": "u", "labels": {
            MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: COMPONENT_VALUE}}});
        let meta = metadata_of(&gateways);
        assert_eq!((meta.name.as_str(), meta.uid.as_deref()), ("g", Some("u")));
        assert!(meta.is_managed() && meta.is_gateways());
        let allowed =
            json!({"metadata": {"name": "s", "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}}});
        assert!(metadata_of(&allowed).is_managed() && !metadata_of(&allowed).is_gateways());
        assert_eq!(metadata_of(&json!({"metadata": 3})), Metadata::default());
    }
}
