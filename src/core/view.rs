//! What `status` reads from the cluster, as its analysis and its analyzers take it. Pure.

use std::collections::BTreeMap;

use super::istio::*;
use super::traffic::KubeService;

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
