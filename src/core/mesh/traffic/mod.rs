//! Where a request to an external host goes, port by port, the way Istio builds the sidecar's and
//! the egress gateway's config from the objects. Pure.
//!
//! Every rule here is checked against Istio's own config generation (the oracle in
//! hack/harness/istio-sim, tests/oracle.rs): when the two disagree, Istio is right and this file
//! changes. What it models: a sidecar in one namespace, the ServiceEntries, VirtualServices and
//! DestinationRules it can see, and the egress gateway's Service, Gateways and VirtualServices.
//! What it cannot see (Services of other namespaces sharing a port number) is named in README.

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use serde::Serialize;

pub use super::imports::{Imports, SidecarEffect};
use crate::core::objects::istio::*;
use crate::core::objects::validate::{go_duration_nanos, is_http_protocol};
use crate::core::objects::words::words;

/// A Kubernetes Service as far as routing to it matters: the egress gateway's, or any Service a
/// route names as its gateway.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KubeService {
    pub name: String,
    pub namespace: String,
    /// The gateway's pods carry these labels (no kubelet here, so no Pod is read).
    pub selector: BTreeMap<String, String>,
    /// (port, protocol as Istio reads it from the port name or appProtocol)
    pub ports: Vec<(u32, String)>,
    /// Its `networking.istio.io/exportTo` annotation (empty: every namespace, unless the mesh
    /// config's defaultServiceExportTo says otherwise, `ClusterView::with_export_defaults`).
    pub export_to: Vec<String>,
}

impl KubeService {
    /// Whether proxies in `namespace` see it (IsServiceVisible).
    pub fn exported_to(&self, namespace: &str) -> bool {
        visible_in(&self.export_to, &self.namespace, namespace)
    }

    pub fn fqdn(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.name, self.namespace)
    }
}

/// Istio's protocol for a Service port: `appProtocol`, else the port name's prefix
/// (`http2-web` is HTTP2); unnamed ports are sniffed (`AUTO`).
pub fn service_port_protocol(name: &str, app_protocol: Option<&str>) -> String {
    let source = app_protocol.unwrap_or(name).to_ascii_lowercase();
    let prefix = source.split('-').next().unwrap_or_default();
    match prefix {
        "http" => "HTTP",
        "http2" | "h2c" => "HTTP2",
        "grpc" | "grpc-web" => "GRPC",
        "https" => "HTTPS",
        "tls" => "TLS",
        "tcp" => "TCP",
        "mongo" => "MONGO",
        "mysql" => "MYSQL",
        "redis" => "REDIS",
        "udp" => "UDP",
        _ => "AUTO",
    }
    .to_string()
}

/// How a client sends on a port: plain HTTP (Host header), TLS (SNI), or opaque TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Wire {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "TLS")]
    Tls,
    #[serde(rename = "TCP")]
    Tcp,
}

impl Wire {
    pub fn of(protocol: &str) -> Wire {
        match protocol.to_ascii_uppercase().as_str() {
            p if is_http_protocol(p) => Wire::Http,
            "HTTPS" | "TLS" => Wire::Tls,
            _ => Wire::Tcp,
        }
    }
}

words! {
    /// Where the sidecar sends a request (a `traffic` entry's `via`). A host's `route.kind` sums
    /// its ports up in the same words.
    pub enum Via {
        /// Straight to the host.
        Direct = "direct",
        /// To the egress gateway (a Service a route names), which sends it on.
        Gateway = "gateway",
        /// Nothing names the host on the port, and ALLOW_ANY lets it pass (PassthroughCluster).
        Passthrough = "passthrough",
        /// Nowhere: REGISTRY_ONLY's BlackHoleCluster, or not worked out yet.
        Blocked = "blocked",
    }
}

words! {
    /// What becomes of a request (a `traffic` entry's `outcome`).
    pub enum Outcome {
        /// It leaves the mesh.
        Egress = "egress",
        /// REGISTRY_ONLY's BlackHoleCluster: HTTP `502`, TLS/TCP `reset`.
        Blackhole = "blackhole",
        /// The egress gateway has no virtual host or route for it: `404 NR` (TLS: `reset`).
        NoRoute = "no-route",
        /// A route to a cluster Istio does not push: `503 NC` (TLS/TCP: `reset`).
        NoCluster = "no-cluster",
        /// No Gateway opens the port on the egress gateway: `503 UF` (TLS: `reset`).
        NoListener = "no-listener",
        /// An AuthorizationPolicy at the egress gateway refuses it: HTTP `403` (TLS/TCP: `reset`).
        Denied = "denied",
        /// What decides it could not be read, or several ServiceEntries name the host.
        Unknown = "unknown",
    }
}

words! {
    /// What the client sees when a request does not leave (a `traffic` entry's `response`):
    /// Envoy's HTTP status and response flag, or a closed connection.
    pub enum Response {
        /// REGISTRY_ONLY's block_all route on an HTTP listener.
        BadGateway = "502",
        /// No route (Envoy's flag NR).
        NoRoute = "404 NR",
        /// No cluster (NC).
        NoCluster = "503 NC",
        /// No listener to send to (UF: upstream connection failure).
        UpstreamFailure = "503 UF",
        /// The gateway's RBAC filter: `RBAC: access denied`.
        Forbidden = "403",
        /// TLS or TCP: the connection is closed.
        Reset = "reset",
    }
}

/// One port of one host: where a request goes and what the client sees.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Traffic {
    pub port: u32,
    /// The ServiceEntry's protocol for the port, or what a client sends when none declares it.
    pub protocol: String,
    pub via: Via,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_host: Option<String>,
    /// The route's timeout, only where one applies (plain HTTP).
    pub timeout: Option<String>,
    pub outcome: Outcome,
    /// What the client sees when the request does not leave.
    pub response: Option<Response>,
    pub hops: Vec<String>,
    /// The VirtualService Istio applies to this request (the oldest, when several name the host).
    pub virtual_service: Option<String>,
    /// Why the outcome is unknown, or what else the user should know about this port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// TLS the last proxy originates toward the host (a DestinationRule's SIMPLE or MUTUAL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_tls: Option<String>,
    /// The SNI it sends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_sni: Option<String>,
    /// The host's port the request leaves on, when it differs from `port` (targetPort).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_port: Option<u32>,
    /// The service port of the cluster the request leaves through (`outbound|PORT||host`):
    /// the destination's port, which a ServiceEntry's targetPort does not change.
    #[serde(skip)]
    pub cluster_port: Option<u32>,
    #[serde(skip)]
    pub wire: Option<Wire>,
}

impl Traffic {
    /// A request on `port` starting at `first_hop`, before the model has followed it: nowhere yet,
    /// outcome unknown.
    pub(crate) fn starting(port: u32, protocol: &str, first_hop: String) -> Traffic {
        Traffic {
            port,
            protocol: protocol.to_string(),
            via: Via::Blocked,
            gateway_host: None,
            timeout: None,
            outcome: Outcome::Unknown,
            response: None,
            hops: vec![first_hop],
            virtual_service: None,
            reason: None,
            upstream_tls: None,
            upstream_sni: None,
            upstream_port: None,
            cluster_port: None,
            wire: Some(Wire::of(protocol)),
        }
    }
}

/// What the sidecar's and the gateway's config is built from.
pub struct Mesh<'a> {
    /// Every ServiceEntry read (the namespace's, and istio-system's).
    pub service_entries: Vec<&'a ServiceEntry>,
    /// Per proxy namespace: ServiceEntries whose clusters its sidecars get although they do not
    /// see them ([`pulled_in_by_routes`], [`pulled_in_under`]).
    pub pulled_in: BTreeMap<String, Vec<&'a ServiceEntry>>,
    /// Per namespace whose Sidecar narrows what it imports: what its sidecars see instead of
    /// everything exported there.
    pub scoped: &'a BTreeMap<String, Scoped>,
    /// Every VirtualService read (the namespace's, and istio-system's when readable).
    pub virtual_services: Vec<&'a VirtualService>,
    /// istio-system's DestinationRules (the mesh's root namespace: they apply everywhere).
    pub destination_rules: Result<Vec<&'a DestinationRule>, String>,
    /// The namespace's own DestinationRules.
    pub namespace_destination_rules: Vec<&'a DestinationRule>,
    pub gateways: Result<Vec<&'a Gateway>, String>,
    /// Whether istio-system's VirtualServices were read (they bind to the gateways).
    pub gateway_routes_known: Result<(), String>,
    /// Services by FQDN: Ok(None) when it does not exist.
    pub services: &'a BTreeMap<String, Result<Option<KubeService>, String>>,
    /// REGISTRY_ONLY (true), ALLOW_ANY (false), or unknown.
    pub registry_only: Result<bool, String>,
    /// Per namespace, what its Sidecar changes for its sidecars (core/sidecar.rs): absent, Istio's
    /// default scope.
    pub sidecar_scopes: BTreeMap<String, SidecarEffect>,
    /// Lookups by host and port, built on first use (`Index::default()`).
    pub index: Index<'a>,
}

/// What a namespace's sidecars see under a Sidecar that narrows their imports (or where two
/// namespaces name one host).
#[derive(Debug, Default)]
pub struct Scoped {
    /// The ServiceEntries, each with only its imported hosts ([`imported_service_entries`]).
    pub service_entries: Vec<ServiceEntry>,
    /// Kubernetes Services (FQDN) not imported whose clusters imported routes pull in, with the
    /// ports pulled in ([`pulled_in_under`]).
    pub services_pulled_in: BTreeMap<String, Vec<u32>>,
}

/// What the model looks up for every host, built once: `status` of a namespace with 20,000
/// ServiceEntries otherwise scans all of them several times per host and port (minutes, not
/// seconds). Each lookup returns what the scan it replaces found, in the same order.
#[derive(Default)]
pub struct Index<'a> {
    /// Per namespace: the ServiceEntries a proxy there sees.
    visible: RefCell<HashMap<String, Rc<Visible<'a>>>>,
    /// (namespace, host): the namespace's own ServiceEntries that name the host exactly.
    own: OnceCell<HashMap<(&'a str, &'a str), Vec<&'a ServiceEntry>>>,
    /// host: each namespace with several ServiceEntries naming it exactly, and those entries.
    several: OnceCell<HashMap<&'a str, Vec<Vec<&'a ServiceEntry>>>>,
}

/// The ServiceEntries visible in one namespace, in the order read, and lookups into them.
struct Visible<'a> {
    all: Vec<&'a ServiceEntry>,
    /// Host as written -> positions in `all` of the entries that name it.
    by_host: HashMap<&'a str, Vec<usize>>,
    /// Positions of the entries with a wildcard host (`*`, `*.a.org`).
    wildcards: Vec<usize>,
    /// Port -> the sidecar's listener there ([`Mesh::listener`]).
    listeners: RefCell<HashMap<u32, Listener>>,
    /// Port -> [`Mesh::tcp_port_owner`].
    tcp_owners: RefCell<HashMap<u32, Option<String>>>,
}

/// The sidecar's listener on a port.
#[derive(Clone, Copy)]
struct Listener {
    /// Some Service or ServiceEntry the proxy sees has the port.
    exists: bool,
    /// One of them says HTTP there, or no protocol (Istio sniffs it): HTTP requests are routed
    /// by Host.
    http: bool,
    /// Some ServiceEntry's opaque-TCP chain is on it ([`Mesh::tcp_chains`]): it takes what is
    /// not HTTP (Istio merges both kinds of chain on one port and sniffs).
    tcp: bool,
}

impl<'a> Visible<'a> {
    fn new(all: Vec<&'a ServiceEntry>) -> Visible<'a> {
        let mut by_host: HashMap<&'a str, Vec<usize>> = HashMap::new();
        let mut wildcards = vec![];
        for (position, se) in all.iter().enumerate() {
            let mut wildcard = false;
            for host in &se.spec.hosts {
                let positions = by_host.entry(host.as_str()).or_default();
                if positions.last() != Some(&position) {
                    positions.push(position);
                }
                wildcard |= host.contains('*');
            }
            if wildcard {
                wildcards.push(position);
            }
        }
        Visible {
            all,
            by_host,
            wildcards,
            listeners: Default::default(),
            tcp_owners: Default::default(),
        }
    }

    /// The entries that name `host` exactly, in order.
    fn naming(&self, host: &str) -> impl Iterator<Item = &'a ServiceEntry> + '_ {
        self.by_host
            .get(host)
            .into_iter()
            .flatten()
            .map(|&i| self.all[i])
    }

    /// The entries with a host that covers `host` (exactly or by wildcard), in order.
    fn covering(&self, host: &str) -> Vec<&'a ServiceEntry> {
        let mut positions: Vec<usize> = self
            .by_host
            .get(host)
            .into_iter()
            .flatten()
            .chain(&self.wildcards)
            .copied()
            .collect();
        positions.sort_unstable();
        positions.dedup();
        positions
            .into_iter()
            .map(|i| self.all[i])
            .filter(|se| se.spec.hosts.iter().any(|h| covers(h, host)))
            .collect()
    }
}

/// Whether `pattern` (a host as Istio writes it: `a.org`, `*.a.org`, `*`) covers `host`.
pub fn covers(pattern: &str, host: &str) -> bool {
    pattern == host
        || pattern == "*"
        || pattern
            .strip_prefix('*')
            .is_some_and(|suffix| suffix.starts_with('.') && host.ends_with(suffix))
}

/// The specs Istio scopes to namespaces with `exportTo`.
pub trait Exported {
    fn export_to(&self) -> &[String];
    fn export_to_mut(&mut self) -> &mut Vec<String>;
    /// The hosts it is for (a DestinationRule's one).
    fn hosts(&self) -> &[String];
}

macro_rules! exported {
    ($($spec:ty),*) => {$(
        impl Exported for $spec {
            fn export_to(&self) -> &[String] {
                &self.export_to
            }
            fn export_to_mut(&mut self) -> &mut Vec<String> {
                &mut self.export_to
            }
            fn hosts(&self) -> &[String] {
                &self.hosts
            }
        }
    )*};
}

exported!(ServiceEntrySpec, VirtualServiceSpec);

impl Exported for DestinationRuleSpec {
    fn export_to(&self) -> &[String] {
        &self.export_to
    }
    fn export_to_mut(&mut self) -> &mut Vec<String> {
        &mut self.export_to
    }
    fn hosts(&self) -> &[String] {
        std::slice::from_ref(&self.host)
    }
}

/// Whether `object` is visible in `namespace` (its `exportTo`, relative to its own namespace).
/// No exportTo means every namespace (Istio's default).
pub fn exported_to<S: Exported>(object: &Object<S>, namespace: &str) -> bool {
    visible_in(object.spec.export_to(), namespace_of(object), namespace)
}

/// Istio's exportTo rule, for an object of namespace `own`: none, `*`, `namespace` by name, or
/// `.` when it is `own`.
fn visible_in(export_to: &[String], own: &str, namespace: &str) -> bool {
    export_to.is_empty()
        || export_to
            .iter()
            .any(|e| e == "*" || e == namespace || (e == "." && own == namespace))
}

/// The ServiceEntries whose clusters a namespace's sidecars get although they are not
/// exported there: for each host a VirtualService visible there routes to, Istio adds the
/// host's service from the proxy's own namespace whatever its exportTo
/// (SidecarScope.collectImportedServices), with only the ports the routes name when every
/// route names one, unless a service the proxy sees already has that hostname. Clusters only:
/// listeners come from the services the proxy sees. Each comes back as a copy naming that one
/// host. (Gateways get no such services: the caller leaves out the gateway's namespace.)
pub fn pulled_in_by_routes(
    service_entries: &[&ServiceEntry],
    virtual_services: &[&VirtualService],
) -> Vec<ServiceEntry> {
    let mut namespaces: Vec<&str> = service_entries.iter().map(|se| namespace_of(se)).collect();
    namespaces.sort();
    namespaces.dedup();
    let mut pulled_in = vec![];
    for namespace in namespaces {
        let routes = virtual_services
            .iter()
            .filter(|vs| binds_to_mesh(&vs.spec) && exported_to(vs, namespace));
        for (host, ports) in route_destinations(routes) {
            let seen = |se: &&&ServiceEntry| se.spec.hosts.iter().any(|h| *h == host);
            if service_entries
                .iter()
                .filter(|se| exported_to(se, namespace))
                .any(|se| seen(&se))
            {
                continue;
            }
            let mut own: Vec<&&ServiceEntry> = service_entries
                .iter()
                .filter(|se| namespace_of(se) == namespace)
                .filter(seen)
                .collect();
            own.sort_by(|a, b| creation_order(a, b));
            let Some(service_entry) = own.first() else {
                continue;
            };
            let mut copy = (**service_entry).clone();
            copy.spec.hosts = vec![host.to_string()];
            if !ports.contains(&0) {
                copy.spec.ports.retain(|p| ports.contains(&p.number));
            }
            if !copy.spec.ports.is_empty() {
                pulled_in.push(copy);
            }
        }
    }
    pulled_in
}

/// The ServiceEntries a proxy in `namespace` sees under a Sidecar's `imports`: each one exported
/// there with only its imported hosts (one with none left out), in the order given, and each
/// hostname from one namespace: the proxy's own, else the first in creation order
/// (selectServices; every host of a ServiceEntry is a service of its own to Istio). Copies.
pub fn imported_service_entries(
    service_entries: &[&ServiceEntry],
    imports: &Imports,
    namespace: &str,
) -> Vec<ServiceEntry> {
    let exported: Vec<&ServiceEntry> = service_entries
        .iter()
        .copied()
        .filter(|se| exported_to(se, namespace))
        .collect();
    let mut by_age = exported.clone();
    by_age.sort_by(creation_order);
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for se in &by_age {
        let own = namespace_of(se);
        for host in se.spec.hosts.iter().filter(|h| imports.service(own, h)) {
            let taken = owner.entry(host.as_str()).or_insert(own);
            if own == namespace {
                *taken = own;
            }
        }
    }
    exported
        .into_iter()
        .filter_map(|se| {
            let own = namespace_of(se);
            let hosts: Vec<String> = se
                .spec
                .hosts
                .iter()
                .filter(|h| imports.service(own, h) && owner.get(h.as_str()) == Some(&own))
                .cloned()
                .collect();
            (!hosts.is_empty()).then(|| {
                let mut copy = se.clone();
                copy.spec.hosts = hosts;
                copy
            })
        })
        .collect()
}

/// What an egress listener on `port` takes of the services it imports: that port alone, and
/// no service without it (serviceMatchingListenerPort).
pub fn on_port_only(service_entries: Vec<ServiceEntry>, port: u32) -> Vec<ServiceEntry> {
    service_entries
        .into_iter()
        .filter_map(|mut se| {
            se.spec.ports.retain(|p| p.number == port);
            (!se.spec.ports.is_empty()).then_some(se)
        })
        .collect()
}

/// Whether two namespaces whose ServiceEntries are visible in `namespace` name one host.
pub fn hostnames_shared(service_entries: &[&ServiceEntry], namespace: &str) -> bool {
    let mut first: HashMap<&str, &str> = HashMap::new();
    service_entries
        .iter()
        .filter(|se| exported_to(se, namespace))
        .any(|se| {
            let own = namespace_of(se);
            se.spec
                .hosts
                .iter()
                .any(|h| *first.entry(h.as_str()).or_insert(own) != own)
        })
}

/// What a Sidecar's imported VirtualServices pull into a proxy in `namespace` besides what it
/// imports: for each host they route to that no imported service has, the host's service
/// from the proxy's namespace whatever its exportTo, else a visible Kubernetes Service, else
/// the oldest visible ServiceEntry of another namespace (collectImportedServices,
/// pickBestVisibleNamespace), with the ports the routes name (all when one names none).
/// Clusters only: listeners come from what is imported.
pub struct PulledIn {
    pub service_entries: Vec<ServiceEntry>,
    pub services: BTreeMap<String, Vec<u32>>,
}

///
/// Under an egress listener with a port (`listener_port`) a destination keeps only that port,
/// whatever the route names (serviceMatchingListenerPort).
pub fn pulled_in_under(
    imports: &Imports,
    namespace: &str,
    imported: &[ServiceEntry],
    service_entries: &[&ServiceEntry],
    virtual_services: &[&VirtualService],
    services: &BTreeMap<String, Result<Option<KubeService>, String>>,
    listener_port: Option<u32>,
) -> PulledIn {
    let mut out = PulledIn {
        service_entries: vec![],
        services: BTreeMap::new(),
    };
    let routes = virtual_services.iter().filter(|vs| {
        binds_to_mesh(&vs.spec)
            && exported_to(vs, namespace)
            && imports.virtual_service(namespace_of(vs), &vs.spec.hosts)
    });
    for (host, ports) in route_destinations(routes) {
        let wanted = |number: u32| match listener_port {
            Some(only) => number == only,
            None => ports.contains(&0) || ports.contains(&number),
        };
        let kube = match services.get(host) {
            Some(Ok(Some(service)))
                if service.namespace == namespace || service.exported_to(namespace) =>
            {
                Some(service)
            }
            _ => None,
        };
        if imported
            .iter()
            .any(|se| se.spec.hosts.iter().any(|h| h == host))
            || kube.is_some_and(|k| imports.service(&k.namespace, host))
        {
            continue;
        }
        let mut own: Vec<&ServiceEntry> = service_entries
            .iter()
            .copied()
            .filter(|se| se.spec.hosts.iter().any(|h| h == host))
            .collect();
        own.sort_by(creation_order);
        let chosen = own
            .iter()
            .find(|se| namespace_of(se) == namespace)
            .or_else(|| {
                if kube.is_some() {
                    return None;
                }
                own.iter().find(|se| exported_to(se, namespace))
            });
        if let Some(se) = chosen {
            let mut copy = (*se).clone();
            copy.spec.hosts = vec![host.to_string()];
            copy.spec.ports.retain(|p| wanted(p.number));
            if !copy.spec.ports.is_empty() {
                out.service_entries.push(copy);
            }
        } else if let Some(service) = kube {
            let numbers: Vec<u32> = service
                .ports
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| wanted(*n))
                .collect();
            if !numbers.is_empty() {
                out.services.insert(host.to_string(), numbers);
            }
        }
    }
    out
}

/// Host -> the ports the routes send it to (0: a destination that names no port), over the
/// http, tls and tcp routes (virtualServiceDestinationsFilteredBySourceNamespace).
fn route_destinations<'v>(
    virtual_services: impl Iterator<Item = &'v &'v VirtualService>,
) -> BTreeMap<&'v str, Vec<u32>> {
    let mut out: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut add =
        |host: &'v str, port: Option<u32>| out.entry(host).or_default().push(port.unwrap_or(0));
    for vs in virtual_services {
        let typed = vs
            .spec
            .http
            .iter()
            .flat_map(|r| &r.route)
            .chain(vs.spec.tls.iter().flat_map(|r| &r.route));
        for d in typed {
            add(
                &d.destination.host,
                d.destination.port.as_ref().map(|p| p.number),
            );
        }
        for route in vs
            .spec
            .tcp
            .iter()
            .filter_map(|r| r["route"].as_array())
            .flatten()
        {
            if let Some(host) = route["destination"]["host"].as_str() {
                let port = route["destination"]["port"]["number"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok());
                add(host, port);
            }
        }
    }
    out
}

/// An object's name as seen from `namespace`: `name` there, `other/name` from elsewhere.
fn name_from<S>(object: &Object<S>, namespace: &str) -> String {
    match namespace_of(object) {
        own if own == namespace => object.metadata.name.clone(),
        other => format!("{other}/{}", object.metadata.name),
    }
}

fn namespace_of<S>(object: &Object<S>) -> &str {
    object.metadata.namespace.as_deref().unwrap_or_default()
}

fn creation_order<S>(a: &&Object<S>, b: &&Object<S>) -> std::cmp::Ordering {
    (
        a.metadata.creation_timestamp.as_deref().unwrap_or_default(),
        &a.metadata.name,
        namespace_of(a),
    )
        .cmp(&(
            b.metadata.creation_timestamp.as_deref().unwrap_or_default(),
            &b.metadata.name,
            namespace_of(b),
        ))
}

/// Istio's order of the VirtualServices a proxy in `namespace` sees: those of its own namespace
/// exported there (`.`, or the namespace by name) first, then those of other namespaces exported
/// to it by name, then public ones (`*` or no exportTo); by creation time within each
/// (PushContext.VirtualServicesForGateway). The same
/// order decides which of several ServiceEntries for one host defines its ports.
pub fn precedence<'v, S: Exported>(
    object: &'v Object<S>,
    namespace: &str,
) -> (u8, &'v str, &'v str, &'v str) {
    let export = object.spec.export_to();
    let own = namespace_of(object);
    let class = if export.is_empty() || export.iter().any(|e| e == "*") {
        2
    } else if own == namespace && export.iter().any(|e| e == "." || e == own) {
        0
    } else {
        1
    };
    (
        class,
        object
            .metadata
            .creation_timestamp
            .as_deref()
            .unwrap_or_default(),
        &object.metadata.name,
        own,
    )
}

/// Two of `duplicates` (one namespace's ServiceEntries for one host) that Istio cannot merge and
/// has no fixed order for: the same place in its order, created in the same second.
fn unordered_pair<'s>(
    duplicates: &[&'s ServiceEntry],
    namespace: &str,
) -> Option<(&'s str, &'s str)> {
    let class_and_time = |se: &ServiceEntry| {
        let (class, created, _, _) = service_precedence(se, namespace);
        (class, created.to_string())
    };
    duplicates.iter().enumerate().find_map(|(i, a)| {
        duplicates[i + 1..]
            .iter()
            .find(|b| class_and_time(a) == class_and_time(b) && !can_merge(a, b))
            .map(|b| (a.metadata.name.as_str(), b.metadata.name.as_str()))
    })
}

/// Whether Istio merges two ServiceEntries' Services for one host (canMergeServices): same
/// namespace, resolution, labels, workloadSelector and exportTo.
fn can_merge(a: &ServiceEntry, b: &ServiceEntry) -> bool {
    let resolution = |se: &ServiceEntry| {
        se.spec
            .resolution
            .as_deref()
            .unwrap_or("NONE")
            .to_ascii_uppercase()
    };
    let export = |se: &ServiceEntry| {
        se.spec
            .export_to
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    namespace_of(a) == namespace_of(b)
        && resolution(a) == resolution(b)
        && a.metadata.labels == b.metadata.labels
        && a.spec.workload_selector == b.spec.workload_selector
        && export(a) == export(b)
}

/// Istio's order of the Services (from ServiceEntries) a proxy in `namespace` sees: those
/// exported to it (its own with `.`, or any naming it) first, then public ones, by creation
/// time within each (PushContext.servicesExportedToNamespace; unlike VirtualServices, a
/// namespace's own come first only by age).
pub fn service_precedence<'v>(
    se: &'v ServiceEntry,
    namespace: &str,
) -> (u8, &'v str, &'v str, &'v str) {
    let (class, created, name, own) = precedence(se, namespace);
    (u8::from(class == 2), created, name, own)
}

/// The hosts a mesh-bound VirtualService routes for the sidecars.
fn binds_to_mesh(vs: &VirtualServiceSpec) -> bool {
    vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == MESH_GATEWAY)
}

/// `istio-egressgateway.istio-system` for `istio-egressgateway.istio-system.svc.cluster.local`.
pub(crate) fn short_service(fqdn: &str) -> &str {
    fqdn.strip_suffix(".svc.cluster.local").unwrap_or(fqdn)
}

/// A Gateway server that passes TLS through to the host (SNI routing), not terminating it.
fn is_passthrough(server: &GatewayServer) -> bool {
    server
        .tls
        .as_ref()
        .is_some_and(|tls| tls.mode.eq_ignore_ascii_case("PASSTHROUGH"))
}

fn server_covers(server: &GatewayServer, host: &str) -> bool {
    server.hosts.iter().any(|h| {
        let pattern = h.split_once('/').map_or(h.as_str(), |(_, p)| p);
        covers(pattern, host)
    })
}

/// Whether a `tls` route takes TLS for `sni` on `port` at `gateway`.
fn tls_route_takes(
    route: &TlsRoute,
    gateway: &str,
    port: u32,
    sni: &str,
    vs_gateways: &[String],
) -> bool {
    route.matches.iter().any(|m| {
        let gateways = if m.gateways.is_empty() {
            vs_gateways
        } else {
            &m.gateways
        };
        let on_gateway =
            gateways.is_empty() && gateway == MESH_GATEWAY || gateways.iter().any(|g| g == gateway);
        on_gateway && m.port.is_none_or(|p| p == port) && m.sni_hosts.iter().any(|h| covers(h, sni))
    })
}

/// Whether a route's match list takes a request to `port` at `gateway` with path `/`.
fn route_takes(route: &HttpRoute, gateway: &str, port: u32, vs_gateways: &[String]) -> bool {
    if route.matches.is_empty() {
        return true;
    }
    route.matches.iter().any(|m| {
        let gateways = if m.gateways.is_empty() {
            vs_gateways
        } else {
            &m.gateways
        };
        let on_gateway =
            gateways.is_empty() && gateway == MESH_GATEWAY || gateways.iter().any(|g| g == gateway);
        let on_port = m.port.is_none_or(|p| p == port);
        let on_path = match &m.uri {
            None => true,
            Some(uri) => uri.get("prefix").and_then(|p| p.as_str()) == Some("/"),
        };
        on_gateway && on_port && on_path
    })
}

impl<'a> Mesh<'a> {
    /// The ServiceEntries a proxy in `namespace` sees, indexed (built once per namespace).
    fn visible(&self, namespace: &str) -> Rc<Visible<'a>> {
        if let Some(visible) = self.index.visible.borrow().get(namespace) {
            return visible.clone();
        }
        let seen = match self.scoped.get(namespace) {
            Some(scoped) => scoped.service_entries.iter().collect(),
            None => self
                .service_entries
                .iter()
                .copied()
                .filter(|se| exported_to(se, namespace))
                .collect(),
        };
        let visible = Rc::new(Visible::new(seen));
        self.index
            .visible
            .borrow_mut()
            .insert(namespace.to_string(), visible.clone());
        visible
    }

    /// What the Sidecar of `namespace` imports, when it narrows it.
    fn imports(&self, namespace: &str) -> Option<&Imports> {
        self.sidecar_scopes
            .get(namespace)
            .and_then(|s| s.imports.as_ref())
    }

    /// Whether a sidecar in `namespace` applies `vs`: exported there, and imported by its
    /// Sidecar.
    fn sees_virtual_service(&self, namespace: &str, vs: &VirtualService) -> bool {
        exported_to(vs, namespace)
            && self
                .imports(namespace)
                .is_none_or(|i| i.virtual_service(namespace_of(vs), &vs.spec.hosts))
    }

    /// Whether a sidecar in `namespace` has the Kubernetes Service `fqdn` among its services
    /// (listeners and clusters).
    fn imports_service(&self, namespace: &str, fqdn: &str, service: &KubeService) -> bool {
        service.exported_to(namespace)
            && self
                .imports(namespace)
                .is_none_or(|i| i.service(&service.namespace, fqdn))
    }

    /// Whether a sidecar in `namespace` has a cluster for the Kubernetes Service `fqdn` on
    /// `port`: imported, or pulled in by an imported route.
    fn kube_cluster(&self, namespace: &str, fqdn: &str, service: &KubeService, port: u32) -> bool {
        let on_listener_port = self
            .sidecar_scopes
            .get(namespace)
            .and_then(|s| s.listener_port.as_ref())
            .is_none_or(|(only, _)| *only == port);
        service.ports.iter().any(|(n, _)| *n == port)
            && ((on_listener_port && self.imports_service(namespace, fqdn, service))
                || self
                    .scoped
                    .get(namespace)
                    .and_then(|s| s.services_pulled_in.get(fqdn))
                    .is_some_and(|ports| ports.contains(&port)))
    }

    /// The ports of `host` that a proxy in `namespace` knows, with their protocol.
    fn host_ports(&self, namespace: &str, host: &str) -> Vec<(u32, String)> {
        if let Some(Ok(Some(service))) = self.services.get(host) {
            return service.ports.clone();
        }
        self.defining_service_entry(namespace, host)
            .map(|se| {
                se.spec
                    .ports
                    .iter()
                    .map(|p| (p.number, p.protocol.to_ascii_uppercase()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The sidecar's listener on `port` in `namespace`, from the protocols of every Service port
    /// `port` a proxy there knows: whether there is one, and whether it is an HTTP listener.
    fn listener(&self, namespace: &str, port: u32) -> Listener {
        let visible = self.visible(namespace);
        if let Some(listener) = visible.listeners.borrow().get(&port) {
            return *listener;
        }
        let protocols = self.port_protocols(namespace, port);
        // No protocol: Istio sniffs the port (protocol "auto"), with both kinds of chain.
        let listener = Listener {
            exists: !protocols.is_empty(),
            http: protocols
                .iter()
                .any(|p| p.is_empty() || is_http_protocol(p)),
            tcp: !self.tcp_chains(namespace, port).is_empty(),
        };
        visible.listeners.borrow_mut().insert(port, listener);
        listener
    }

    /// The protocol each service a proxy in `namespace` sees declares on `port` (uppercase;
    /// empty: none, sniffed): its ServiceEntries', then the Kubernetes Services it imports.
    fn port_protocols(&self, namespace: &str, port: u32) -> Vec<String> {
        let mut protocols: Vec<String> = self
            .visible(namespace)
            .all
            .iter()
            .flat_map(|se| se.spec.ports.iter())
            .filter(|p| p.number == port)
            .map(|p| p.protocol.to_ascii_uppercase())
            .collect();
        for (fqdn, service) in self.services.iter() {
            let Ok(Some(service)) = service else { continue };
            if !self.imports_service(namespace, fqdn, service) {
                continue;
            }
            protocols.extend(
                service
                    .ports
                    .iter()
                    .filter(|(n, _)| *n == port)
                    .map(|(_, p)| p.clone()),
            );
        }
        protocols
    }

    /// The ServiceEntries (with no addresses) whose opaque-TCP filter chain is on the wildcard
    /// listener for `port`, in Istio's order: it builds the listener service by service
    /// (buildSidecarOutboundListener). A TCP port always adds its chain; a port with no
    /// protocol (sniffed) adds its chains only while no HTTP or sniffed port came before it,
    /// since an HTTP port's listener is already a sniffing one (with a fall-through chain).
    fn tcp_chains(&self, namespace: &str, port: u32) -> Vec<&'a ServiceEntry> {
        let visible = self.visible(namespace);
        let mut in_order: Vec<&ServiceEntry> = visible
            .all
            .iter()
            .copied()
            .filter(|se| se.spec.addresses.is_empty())
            .collect();
        in_order.sort_by_key(|se| service_precedence(se, namespace));
        let mut sniffing = false;
        let mut chains = vec![];
        for se in in_order {
            for p in se.spec.ports.iter().filter(|p| p.number == port) {
                let protocol = p.protocol.to_ascii_uppercase();
                if protocol.is_empty() {
                    if !sniffing {
                        chains.push(se);
                    }
                    sniffing = true;
                } else if is_http_protocol(&protocol) {
                    sniffing = true;
                } else if Wire::of(&protocol) == Wire::Tcp {
                    chains.push(se);
                }
            }
        }
        chains
    }

    /// The VirtualService a sidecar in `namespace` applies to `host` on `port`: the first, in
    /// Istio's order, that has a route for the port (Istio never merges them; one with no route
    /// for the port makes no virtual host there).
    pub fn winning_virtual_service(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
        service_has_port: bool,
    ) -> Option<&'a VirtualService> {
        let mut candidates: Vec<&VirtualService> = self
            .virtual_services
            .iter()
            .copied()
            .filter(|vs| binds_to_mesh(&vs.spec))
            .filter(|vs| self.sees_virtual_service(namespace, vs))
            .filter(|vs| vs.spec.hosts.iter().any(|h| h == host))
            // A wildcard host whose Service has this HTTP port is indexed to one VirtualService
            // whatever its routes (mostSpecificWildcardVsIndex); otherwise the virtual host comes
            // from the first with a route for the port.
            .filter(|vs| {
                (host.contains('*') && service_has_port)
                    || vs
                        .spec
                        .http
                        .iter()
                        .any(|r| route_takes(r, MESH_GATEWAY, port, &vs.spec.gateways))
            })
            .collect();
        candidates.sort_by_key(|vs| precedence(vs, namespace));
        candidates.first().copied()
    }

    /// The ServiceEntry whose ports make `host`'s clusters: when several name the host, the
    /// first in Istio's order (as for VirtualServices).
    fn defining_service_entry(&self, namespace: &str, host: &str) -> Option<&'a ServiceEntry> {
        self.service_entries_in_order(namespace, host)
            .first()
            .copied()
    }

    fn service_entries_in_order(&self, namespace: &str, host: &str) -> Vec<&'a ServiceEntry> {
        let mut candidates: Vec<&ServiceEntry> = self.visible(namespace).naming(host).collect();
        candidates.sort_by_key(|se| service_precedence(se, namespace));
        candidates
    }

    /// The port numbers of the Service a proxy in `namespace` builds `host`'s clusters from:
    /// the defining ServiceEntry's, and those of each later one Istio merges into it, numbers
    /// it lacks added (SidecarScope.appendSidecarServices); one it cannot merge is ignored.
    fn cluster_ports(&self, namespace: &str, host: &str) -> Vec<u32> {
        self.cluster_port_definitions(namespace, host)
            .iter()
            .map(|(_, p)| p.number)
            .collect()
    }

    /// [`Mesh::cluster_ports`] with the entry and port definition each number comes from.
    fn cluster_port_definitions(
        &self,
        namespace: &str,
        host: &str,
    ) -> Vec<(&'a ServiceEntry, &'a ServicePort)> {
        let in_order = self.service_entries_in_order(namespace, host);
        let Some(first) = in_order
            .first()
            .copied()
            .or_else(|| self.pulled_in_entry(namespace, host))
        else {
            return vec![];
        };
        let mut ports: Vec<(&ServiceEntry, &ServicePort)> =
            first.spec.ports.iter().map(|p| (first, p)).collect();
        // A Sidecar's other egress listeners add the ports they import of the same service
        // (appendSidecarServices); they come in as pulled-in entries.
        let other_listeners = self
            .pulled_in
            .get(namespace)
            .into_iter()
            .flatten()
            .copied()
            .filter(|se| !std::ptr::eq(*se, first) && se.spec.hosts.iter().any(|h| h == host));
        for other in in_order.iter().skip(1).copied().chain(other_listeners) {
            if can_merge(first, other) {
                for p in &other.spec.ports {
                    if !ports.iter().any(|(_, q)| q.number == p.number) {
                        ports.push((other, p));
                    }
                }
            }
        }
        ports
    }

    /// The ServiceEntry whose ports make the clusters a proxy in `namespace` has for `host`:
    /// the defining one it sees, else one a route pulled in ([`pulled_in_by_routes`]), which
    /// adds clusters but no listener.
    fn cluster_service_entry(&self, namespace: &str, host: &str) -> Option<&'a ServiceEntry> {
        self.defining_service_entry(namespace, host)
            .or_else(|| self.pulled_in_entry(namespace, host))
    }

    /// The entry for `host` a route of `namespace` pulled in ([`pulled_in_by_routes`]).
    fn pulled_in_entry(&self, namespace: &str, host: &str) -> Option<&'a ServiceEntry> {
        self.pulled_in
            .get(namespace)?
            .iter()
            .copied()
            .find(|se| se.spec.hosts.iter().any(|h| h == host))
    }

    fn cluster_pushed(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
        subset: Option<&str>,
    ) -> Result<bool, String> {
        let port_known = match self.services.get(host) {
            Some(Err(why)) => return Err(why.clone()),
            Some(Ok(Some(service))) => self.kube_cluster(namespace, host, service, port),
            Some(Ok(None)) => false,
            None => self.cluster_ports(namespace, host).contains(&port),
        };
        if !port_known {
            return Ok(false);
        }
        let Some(subset) = subset else {
            return Ok(true);
        };
        let rules = self.destination_rules.as_ref().map_err(Clone::clone)?;
        Ok(rules.iter().any(|dr| {
            dr.spec.host == host
                && exported_to(dr, namespace)
                && dr.spec.subsets.iter().any(|s| s.name == subset)
        }))
    }

    /// Port by port, for a sidecar in `namespace`.
    pub fn traffic(&self, namespace: &str, host: &str, ports: &[(u32, String)]) -> Vec<Traffic> {
        ports
            .iter()
            .map(|(port, protocol)| self.one_port(namespace, host, *port, protocol))
            .collect()
    }

    /// The egress gateway's side of `host` alone (what `status` shows in the gateway's
    /// namespace): for each port of the gateway Service on which a Gateway server for the host
    /// is open, where a request for the host that reaches the gateway there goes.
    pub fn at_gateway(&self, host: &str, gateway_host: &str) -> Vec<Traffic> {
        let (Some(Ok(Some(service))), Ok(gateways)) =
            (self.services.get(gateway_host), &self.gateways)
        else {
            return vec![];
        };
        let mut sides = vec![];
        for (port, _) in &service.ports {
            let servers = self.gateway_servers(gateways, service, *port);
            let Some((_, server)) = servers.iter().find(|(_, s)| server_covers(s, host)) else {
                continue;
            };
            let protocol = server
                .port
                .as_ref()
                .map(|p| p.protocol.to_ascii_uppercase())
                .unwrap_or_default();
            let wire = if is_passthrough(server) {
                Wire::Tls
            } else if is_http_protocol(&protocol) {
                Wire::Http
            } else {
                // A server that terminates TLS itself: not a mode the plugin writes or models.
                continue;
            };
            let mut t = Traffic::starting(
                *port,
                &protocol,
                format!("{}:{port}", short_service(gateway_host)),
            );
            t.via = Via::Gateway;
            t.gateway_host = Some(gateway_host.to_string());
            t.wire = Some(wire);
            if wire == Wire::Tls {
                self.tls_at_gateway(host, gateway_host, *port, &mut t);
            } else {
                self.http_at_gateway(host, gateway_host, *port, &mut t);
            }
            sides.push(t);
        }
        sides
    }

    /// Why Istio's answer for `host:port` from `proxy_ns` turns on more than the model follows,
    /// when some namespace has several ServiceEntries for the host: Istio pools the endpoints of
    /// one namespace's entries for a host, and builds listeners from entries a proxy does not
    /// otherwise see (the oracle shows both), so one not exported here, or one whose port leaves
    /// on another targetPort, changes what a request meets.
    fn pooled_entries_unmodelled(&self, proxy_ns: &str, host: &str, port: u32) -> Option<String> {
        let several = self.index.several.get_or_init(|| {
            let mut several: HashMap<&str, Vec<Vec<&ServiceEntry>>> = HashMap::new();
            for ((_, host), ses) in self.own_entries() {
                if ses.len() > 1 {
                    several.entry(host).or_default().push(ses.clone());
                }
            }
            several
        });
        let visible: Vec<&ServiceEntry> = self.visible(proxy_ns).naming(host).collect();
        // Under a Sidecar's egress imports Istio's listeners do not come from every entry (the
        // oracle: not even from merged ones): not modelled.
        let scoped = self
            .sidecar_scopes
            .get(proxy_ns)
            .is_some_and(|effect| effect.narrows());
        for ses in several.get(host).into_iter().flatten() {
            let names = || {
                ses.iter()
                    .map(|se| format!("{}/{}", namespace_of(se), se.metadata.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let shown = ses
                .iter()
                .filter(|se| {
                    visible.iter().any(|v| {
                        v.metadata.name == se.metadata.name && namespace_of(v) == namespace_of(se)
                    })
                })
                .count();
            if shown > 0 && shown < ses.len() {
                return Some(format!(
                    "ServiceEntries {} all name {host} and not all are exported to {proxy_ns}: Istio builds listeners and endpoints from every one of them; keep one",
                    names()
                ));
            }
            let mut leaves_on: Vec<u32> = ses
                .iter()
                .flat_map(|se| se.spec.ports.iter())
                .filter(|p| p.number == port)
                .map(|p| p.target_port.unwrap_or(p.number))
                .collect();
            leaves_on.sort_unstable();
            leaves_on.dedup();
            if shown > 0 && scoped {
                return Some(format!(
                    "ServiceEntries {} all name {host}: what the Sidecar's listeners take from them is not modelled; keep one",
                    names()
                ));
            }
            if shown > 0 && leaves_on.len() > 1 {
                return Some(format!(
                    "ServiceEntries {} all name {host} and send its port {port} to different ports: Istio balances requests over the endpoints of both; keep one",
                    names()
                ));
            }
        }
        None
    }

    /// The ServiceEntries of one namespace that name `host` exactly, when there are several.
    pub fn duplicate_service_entries(&self, namespace: &str, host: &str) -> Vec<&'a ServiceEntry> {
        match self.own_entries().get(&(namespace, host)) {
            Some(same) if same.len() > 1 => same.clone(),
            _ => vec![],
        }
    }

    /// (namespace, host): each namespace's ServiceEntries that name the host exactly.
    fn own_entries(&self) -> &HashMap<(&'a str, &'a str), Vec<&'a ServiceEntry>> {
        self.index.own.get_or_init(|| {
            let mut own: HashMap<(&str, &str), Vec<&ServiceEntry>> = HashMap::new();
            for se in self.service_entries.iter().copied() {
                for (i, host) in se.spec.hosts.iter().enumerate() {
                    // Once per entry, however often it names the host.
                    if !se.spec.hosts[..i].contains(host) {
                        own.entry((namespace_of(se), host.as_str()))
                            .or_default()
                            .push(se);
                    }
                }
            }
            own
        })
    }

    /// Whether a sidecar in `namespace` has a listener of its own on `port`.
    pub fn has_listener(&self, namespace: &str, port: u32) -> bool {
        self.listener(namespace, port).exists
    }

    /// Where an egress listener with a port builds its listener with another protocol than a
    /// service it imports declares on that port (the listener's wins): not modelled.
    fn listener_protocol_unmodelled(&self, namespace: &str, port: u32) -> Option<String> {
        let (_, protocol) = self.sidecar_scopes.get(namespace)?.listener_port.as_ref()?;
        let wire = |p: &str| (!p.is_empty()).then(|| Wire::of(p));
        let theirs = self
            .port_protocols(namespace, port)
            .into_iter()
            .find(|p| wire(p) != wire(protocol))?;
        Some(format!(
            "the Sidecar's egress listener on port {port} says protocol {protocol} where a service it imports says {}: the listener's protocol decides, which status does not model",
            if theirs.is_empty() { "none" } else { &theirs }
        ))
    }

    fn one_port(&self, namespace: &str, host: &str, port: u32, protocol: &str) -> Traffic {
        if let Some(why) = self
            .sidecar_scopes
            .get(namespace)
            .and_then(|s| s.unmodelled.clone())
            .or_else(|| self.listener_protocol_unmodelled(namespace, port))
        {
            return Traffic {
                reason: Some(why),
                ..Traffic::starting(port, protocol, "sidecar".to_string())
            };
        }
        // Several of the namespace's ServiceEntries for the host: Istio's listeners take every
        // one's ports, its clusters the first's and those it merges (`cluster_ports`). Which is
        // first is its order by creation time; two it cannot merge, created in the same second,
        // have no order Istio fixes: say so rather than guess.
        if let Some(why) = self.pooled_entries_unmodelled(namespace, host, port) {
            return Traffic {
                reason: Some(why),
                ..Traffic::starting(port, protocol, "sidecar".to_string())
            };
        }
        let duplicates = self.duplicate_service_entries(namespace, host);
        if let Some((a, b)) = unordered_pair(&duplicates, namespace) {
            return Traffic {
                reason: Some(format!(
                    "ServiceEntries {a} and {b} both name {host}, were created in the same second and cannot be merged (resolution, labels, workloadSelector or exportTo differ): which one Istio builds its clusters from is not fixed; keep one"
                )),
                ..Traffic::starting(port, protocol, "sidecar".to_string())
            };
        }
        let wire = Wire::of(protocol);
        let mut t = Traffic::starting(port, protocol, "sidecar".to_string());
        let listener = self.listener(namespace, port);
        let http_listener = listener.http;
        let declared = self
            .visible(namespace)
            .covering(host)
            .into_iter()
            .find_map(|se| se.spec.ports.iter().find(|p| p.number == port))
            .map(|p| Wire::of(&p.protocol));
        match wire {
            Wire::Http if http_listener => self.http_at_sidecar(namespace, host, port, &mut t),
            Wire::Tcp if listener.tcp => {
                // No SNI, no Host: one destination takes every connection to the port.
                match self.tcp_port_owner(namespace, port) {
                    Some(owner) if owner != host => {
                        t.reason = Some(format!(
                            "port {port} belongs to {owner}: every TCP connection on it goes there"
                        ));
                        self.leave_direct(namespace, &owner, port, &mut t);
                    }
                    Some(_) => self.leave_direct(namespace, host, port, &mut t),
                    None => self.no_match(namespace, false, &mut t),
                }
            }
            // TLS filter chains exist only for hosts with a TLS port in the registry: a `tls`
            // route for a host no ServiceEntry gives that port makes none.
            Wire::Tls if listener.exists && !http_listener => {
                if declared.is_none_or(|d| d == Wire::Http) {
                    self.no_match(namespace, false, &mut t);
                } else if let Some((vs, destination)) = self.tls_route(namespace, host, port) {
                    t.virtual_service = Some(name_from(vs, namespace));
                    self.tls_to(namespace, host, port, destination, &mut t);
                } else {
                    self.leave_direct(namespace, host, port, &mut t);
                }
            }
            _ => self.no_match(namespace, false, &mut t),
        }
        t
    }

    /// The `tls` route a sidecar in `namespace` applies to TLS for `host` (SNI) on `port`: the
    /// first VirtualService, in Istio's order, with a route matching the port and the SNI.
    fn tls_route(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
    ) -> Option<(&'a VirtualService, &'a Destination)> {
        let mut candidates: Vec<&VirtualService> = self
            .virtual_services
            .iter()
            .copied()
            .filter(|vs| binds_to_mesh(&vs.spec))
            .filter(|vs| self.sees_virtual_service(namespace, vs))
            .filter(|vs| vs.spec.hosts.iter().any(|h| covers(h, host)))
            .collect();
        candidates.sort_by_key(|vs| precedence(vs, namespace));
        candidates.into_iter().find_map(|vs| {
            let route = vs
                .spec
                .tls
                .iter()
                .find(|r| tls_route_takes(r, MESH_GATEWAY, port, host, &vs.spec.gateways))?;
            Some((vs, &route.route.first()?.destination))
        })
    }

    /// TLS sent by a `tls` route: to the egress gateway (then its SNI routes), or to a host.
    fn tls_to(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
        destination: &Destination,
        t: &mut Traffic,
    ) {
        let target = destination.host.as_str();
        let target_port = destination.port.as_ref().map(|p| p.number).unwrap_or(port);
        let is_gateway = self.sends_to_gateway(host, target, t);
        match self.cluster_pushed(
            namespace,
            target,
            target_port,
            destination.subset.as_deref(),
        ) {
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(why);
            }
            Ok(false) => {
                t.outcome = Outcome::NoCluster;
                t.response = Some(Response::Reset);
                t.hops
                    .push(format!("{}:{target_port}", short_service(target)));
                t.reason = Some(match &destination.subset {
                    Some(subset) => {
                        format!("no DestinationRule defines subset {subset} of {target}")
                    }
                    None => format!("no Service or ServiceEntry gives {target} port {target_port}"),
                });
            }
            Ok(true) if is_gateway => {
                t.hops
                    .push(format!("{}:{target_port}", short_service(target)));
                self.tls_at_gateway(host, target, target_port, t);
            }
            Ok(true) => self.egress_at(namespace, target, target_port, t),
        }
    }

    /// The gateway's side of TLS passthrough: a TLS server on the port for the host, and a
    /// VirtualService's `tls` route bound to it by SNI.
    fn tls_at_gateway(&self, host: &str, gateway_host: &str, port: u32, t: &mut Traffic) {
        let Some((gateway_ns, servers)) =
            self.gateway_listening(gateway_host, port, Response::Reset, t)
        else {
            return;
        };
        let mut bound: Vec<(&VirtualService, String)> = vec![];
        for (gateway, server) in &servers {
            if !is_passthrough(server) || !server_covers(server, host) {
                continue;
            }
            bound.extend(self.bound_to(gateway, gateway_ns, host));
        }
        bound.sort_by(|a, b| creation_order(&a.0, &b.0));
        let route = bound.iter().find_map(|(vs, reference)| {
            vs.spec
                .tls
                .iter()
                .find(|r| tls_route_takes(r, reference, port, host, &vs.spec.gateways))
        });
        // A passthrough server gets filter chains only from the tls routes bound to it: with
        // none for any host, the gateway opens no listener on the port at all.
        if route.is_none() && !self.any_tls_route_on(&servers, gateway_ns, port) {
            t.outcome = Outcome::NoListener;
            t.response = Some(Response::Reset);
            t.reason = Some(format!(
                "the egress gateway has no TLS passthrough route on port {port} for any host, so it does not listen there: the admins' VirtualService tls route for {host} is missing"
            ));
            return;
        }
        let Some(destination) = route.and_then(|r| r.route.first()).map(|r| &r.destination) else {
            t.outcome = Outcome::NoRoute;
            t.response = Some(Response::Reset);
            t.reason = Some(format!(
                "the egress gateway has no TLS passthrough route for {host} on port {port}: the admins' Gateway server (tls.mode PASSTHROUGH) or VirtualService tls route for it is missing"
            ));
            return;
        };
        let target_port = destination.port.as_ref().map(|p| p.number).unwrap_or(port);
        self.send_from_gateway(gateway_ns, destination, target_port, Response::Reset, t);
    }

    /// What the gateway Service on `gateway_host` listens with on `port`: its namespace and
    /// the servers of its Gateways there. None when it cannot be known or there is no server,
    /// with `t` saying so (`no_listener`: what a client then sees).
    fn gateway_listening(
        &self,
        gateway_host: &str,
        port: u32,
        no_listener: Response,
        t: &mut Traffic,
    ) -> Option<(&'a str, Vec<(&'a Gateway, &'a GatewayServer)>)> {
        let Some(Ok(Some(service))) = self.services.get(gateway_host) else {
            t.outcome = Outcome::Unknown;
            return None;
        };
        let gateways = match &self.gateways {
            Ok(g) => g,
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(format!("the egress gateway's Gateways: {why}"));
                return None;
            }
        };
        if let Err(why) = &self.gateway_routes_known {
            t.outcome = Outcome::Unknown;
            t.reason = Some(format!("the egress gateway's VirtualServices: {why}"));
            return None;
        }
        let gateway_ns = service.namespace.as_str();
        let servers = self.gateway_servers(gateways, service, port);
        if servers.is_empty() {
            t.outcome = Outcome::NoListener;
            t.response = Some(no_listener);
            t.reason = Some(format!(
                "no Gateway in {gateway_ns} opens port {port} on {}",
                short_service(gateway_host)
            ));
            return None;
        }
        Some((gateway_ns, servers))
    }

    /// The gateway's route sends to `destination` on `target_port`: out, if the gateway has
    /// the cluster (`no_cluster`: what a client sees when it has not).
    fn send_from_gateway(
        &self,
        gateway_ns: &str,
        destination: &Destination,
        target_port: u32,
        no_cluster: Response,
        t: &mut Traffic,
    ) {
        let target = destination.host.as_str();
        match self.cluster_pushed(
            gateway_ns,
            target,
            target_port,
            destination.subset.as_deref(),
        ) {
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(why);
            }
            Ok(false) => {
                t.outcome = Outcome::NoCluster;
                t.response = Some(no_cluster);
                t.hops.push(format!("{target}:{target_port}"));
                t.reason = Some(format!(
                    "the egress gateway cannot see {target}:{target_port}: no ServiceEntry for it is visible in {gateway_ns}"
                ));
            }
            Ok(true) => self.egress_at(gateway_ns, target, target_port, t),
        }
    }

    /// Whether any tls route is bound to a passthrough server among `servers` on `port`.
    fn any_tls_route_on(
        &self,
        servers: &[(&'a Gateway, &'a GatewayServer)],
        gateway_ns: &str,
        port: u32,
    ) -> bool {
        servers.iter().any(|(gateway, server)| {
            is_passthrough(server)
                && server.hosts.iter().any(|h| {
                    let pattern = h.split_once('/').map_or(h.as_str(), |(_, p)| p);
                    self.virtual_services.iter().any(|vs| {
                        let names_gateway = vs.spec.gateways.iter().any(|g| {
                            *g == format!("{}/{}", namespace_of(*gateway), gateway.metadata.name)
                                || (g == &gateway.metadata.name
                                    && namespace_of(vs) == namespace_of(*gateway))
                        });
                        names_gateway
                            && exported_to(vs, gateway_ns)
                            && vs.spec.tls.iter().any(|r| {
                                r.matches.iter().any(|m| {
                                    m.port.is_none_or(|p| p == port)
                                        && m.sni_hosts
                                            .iter()
                                            .any(|sni| covers(pattern, sni) || covers(sni, pattern))
                                })
                            })
                    })
                })
        })
    }

    /// The Gateways the gateway Service's pods run, and their servers on `port`.
    fn gateway_servers(
        &self,
        gateways: &[&'a Gateway],
        service: &KubeService,
        port: u32,
    ) -> Vec<(&'a Gateway, &'a GatewayServer)> {
        gateways
            .iter()
            .copied()
            .filter(|g| {
                namespace_of(g) == service.namespace
                    && !g.spec.selector.is_empty()
                    && g.spec
                        .selector
                        .iter()
                        .all(|(k, v)| service.selector.get(k) == Some(v))
            })
            .flat_map(|g| g.spec.servers.iter().map(move |s| (g, s)))
            .filter(|(_, s)| s.port.as_ref().is_some_and(|p| p.number == port))
            .collect()
    }

    /// The VirtualServices bound to `gateway` for `host`, with how they name the gateway.
    fn bound_to(
        &self,
        gateway: &Gateway,
        gateway_ns: &str,
        host: &str,
    ) -> Vec<(&'a VirtualService, String)> {
        let full = format!("{}/{}", namespace_of(gateway), gateway.metadata.name);
        self.virtual_services
            .iter()
            .copied()
            .filter(|vs| {
                vs.spec.gateways.iter().any(|g| {
                    *g == full
                        || (g == &gateway.metadata.name
                            && namespace_of(vs) == namespace_of(gateway))
                })
            })
            .filter(|vs| exported_to(vs, gateway_ns))
            .filter(|vs| vs.spec.hosts.iter().any(|h| covers(h, host)))
            .map(|vs| {
                let reference = if namespace_of(vs) == namespace_of(gateway) {
                    gateway.metadata.name.clone()
                } else {
                    full.clone()
                };
                (vs, reference)
            })
            .collect()
    }

    /// The host whose ServiceEntry owns an opaque TCP port with no addresses: Istio builds one
    /// listener for the port, and the first TCP chain on it ([`Mesh::tcp_chains`]) takes it.
    fn tcp_port_owner(&self, namespace: &str, port: u32) -> Option<String> {
        let visible = self.visible(namespace);
        if let Some(owner) = visible.tcp_owners.borrow().get(&port) {
            return owner.clone();
        }
        let owner = self
            .tcp_chains(namespace, port)
            .first()
            .and_then(|se| se.spec.hosts.first().cloned());
        visible.tcp_owners.borrow_mut().insert(port, owner.clone());
        owner
    }

    /// Nothing in the sidecar's config names the host on this port: the mesh policy decides.
    /// On an HTTP listener REGISTRY_ONLY answers 502 (block_all); elsewhere the connection goes
    /// to the BlackHoleCluster and is closed.
    fn no_match(&self, namespace: &str, on_http_listener: bool, t: &mut Traffic) {
        let registry_only = match self
            .sidecar_scopes
            .get(namespace)
            .and_then(|s| s.registry_only)
        {
            Some(own) => Ok(own),
            None => self.registry_only.clone(),
        };
        match &registry_only {
            Ok(true) => {
                t.via = Via::Blocked;
                t.outcome = Outcome::Blackhole;
                t.response = Some(if on_http_listener {
                    Response::BadGateway
                } else {
                    Response::Reset
                });
            }
            Ok(false) => {
                t.via = Via::Passthrough;
                t.outcome = Outcome::Egress;
            }
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(format!("the mesh's outboundTrafficPolicy: {why}"));
            }
        }
    }

    /// The request leaves the mesh from a proxy in `proxy_ns` to `host:port`: with the TLS a
    /// DestinationRule there originates, on the ServiceEntry's targetPort.
    fn egress_at(&self, proxy_ns: &str, host: &str, port: u32, t: &mut Traffic) {
        t.outcome = Outcome::Egress;
        // The port as the Service Istio builds the cluster from has it (merged entries too).
        let target_port = self
            .cluster_port_definitions(proxy_ns, host)
            .into_iter()
            .find(|(_, p)| p.number == port)
            .filter(|(se, _)| {
                // STATIC too: its endpoints take the port's targetPort when they name none.
                matches!(
                    se.spec.resolution.as_deref(),
                    Some("DNS") | Some("DNS_ROUND_ROBIN") | Some("STATIC") | None
                )
            })
            .and_then(|(_, p)| p.target_port)
            .filter(|tp| *tp != port);
        let leaves_on = target_port.unwrap_or(port);
        // resolution NONE: an original-destination cluster, the connection keeps the address
        // and port it was made to; no other port can be named.
        let original_destination = self
            .cluster_service_entry(proxy_ns, host)
            .is_some_and(|se| se.spec.resolution.as_deref() == Some("NONE"));
        t.upstream_port = (leaves_on != t.port && !original_destination).then_some(leaves_on);
        t.cluster_port = Some(port);
        t.hops.push(format!("{host}:{leaves_on}"));
        if let Some(tls) = self.client_tls(proxy_ns, host, port) {
            t.upstream_tls = Some(tls.mode.clone());
            t.upstream_sni = tls.sni.clone();
        }
    }

    /// The TLS a proxy in `proxy_ns` originates to `host:port`: the first DestinationRule for the
    /// host it sees (its own namespace's, then istio-system's, the root namespace), its port's
    /// setting before the rule's default.
    fn client_tls(&self, proxy_ns: &str, host: &str, port: u32) -> Option<&'a ClientTls> {
        let root: Vec<&DestinationRule> = self.destination_rules.clone().unwrap_or_default();
        let all: Vec<&DestinationRule> = self
            .namespace_destination_rules
            .iter()
            .copied()
            .chain(root.iter().copied())
            .collect();
        // The proxy's own namespace first, then the namespace of the ServiceEntry that defines
        // the host, then the root namespace (istio-system); a rule elsewhere never applies.
        let service_ns = self
            .cluster_service_entry(proxy_ns, host)
            .map(|se| namespace_of(se).to_string())
            .unwrap_or_default();
        let rule = all
            .iter()
            .copied()
            .filter(|dr| namespace_of(dr) == proxy_ns)
            .chain(
                all.iter()
                    .copied()
                    .filter(|dr| namespace_of(dr) == service_ns && service_ns != proxy_ns),
            )
            .chain(
                root.iter()
                    .copied()
                    .filter(|dr| namespace_of(dr) != proxy_ns && namespace_of(dr) != service_ns),
            )
            .find(|dr| dr.spec.host == host && exported_to(dr, proxy_ns))?;
        let policy = rule.spec.traffic_policy.as_ref()?;
        let tls = policy
            .port_level_settings
            .iter()
            .find(|p| p.port.as_ref().is_some_and(|p| p.number == port))
            .and_then(|p| p.tls.as_ref())
            .or(policy.tls.as_ref())?;
        matches!(tls.mode.as_str(), "SIMPLE" | "MUTUAL").then_some(tls)
    }

    /// Straight from the sidecar to the host, if Istio pushed the host's cluster for the port.
    fn leave_direct(&self, namespace: &str, host: &str, port: u32, t: &mut Traffic) {
        t.via = Via::Direct;
        match self.cluster_pushed(namespace, host, port, None) {
            Ok(true) => self.egress_at(namespace, host, port, t),
            Ok(false) => {
                t.hops.push(format!("{host}:{port}"));
                t.outcome = Outcome::NoCluster;
                t.response = Some(if t.wire == Some(Wire::Http) {
                    Response::NoCluster
                } else {
                    Response::Reset
                });
                t.reason = Some(format!(
                    "several ServiceEntries name {host}: Istio takes its ports from one, {}, which has no port {port}",
                    self.defining_service_entry(namespace, host)
                        .map(|se| se.metadata.name.as_str())
                        .unwrap_or("?")
                ));
            }
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(why);
            }
        }
    }

    /// HTTP at the sidecar: the virtual host and route for the host on the port, then where
    /// the route sends it (out, or on to the egress gateway).
    fn http_at_sidecar(&self, namespace: &str, host: &str, port: u32, t: &mut Traffic) {
        let (service_here, routed) = self.sidecar_http_route(namespace, host, port);
        let Some((vs, route)) = routed else {
            // block_all (REGISTRY_ONLY: 502) or allow_any (PassthroughCluster), unless the
            // host's own port makes a cluster to go to.
            return if service_here {
                self.leave_direct(namespace, host, port, t)
            } else {
                self.no_match(namespace, true, t)
            };
        };
        t.virtual_service = Some(name_from(vs, namespace));
        t.timeout = route
            .timeout
            .clone()
            .filter(|d| go_duration_nanos(d).is_some_and(|n| n > 0));
        let Some(destination) = route.route.first().map(|r| &r.destination) else {
            t.outcome = Outcome::Unknown;
            t.reason = Some("the route has no destination".into());
            return;
        };
        let target = destination.host.as_str();
        let target_port = self.sidecar_destination_port(namespace, destination, port);
        let is_gateway = self.sends_to_gateway(host, target, t);
        match self.cluster_pushed(
            namespace,
            target,
            target_port,
            destination.subset.as_deref(),
        ) {
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(why);
                return;
            }
            Ok(false) => {
                t.outcome = Outcome::NoCluster;
                t.response = Some(Response::NoCluster);
                t.hops
                    .push(format!("{}:{target_port}", short_service(target)));
                t.reason =
                    Some(self.why_no_cluster(namespace, destination, target_port, is_gateway));
                return;
            }
            Ok(true) => {}
        }
        if !is_gateway {
            return self.egress_at(namespace, target, target_port, t);
        }
        t.hops
            .push(format!("{}:{target_port}", short_service(target)));
        self.http_at_gateway(host, target, target_port, t);
    }

    /// The sidecar's virtual host for `host` on `port`: whether the host's own ServiceEntry
    /// has an HTTP port there, and the applied VirtualService with its route for the port, if
    /// any. A VirtualService makes a virtual host on the host's HTTP ports, and on port 80
    /// whatever the host's ports (route.go's "gross hack" for hosts outside the registry).
    fn sidecar_http_route(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
    ) -> (bool, Option<(&'a VirtualService, &'a HttpRoute)>) {
        let http_ports: Vec<u32> = self
            .visible(namespace)
            .naming(host)
            .flat_map(|se| se.spec.ports.iter())
            // A port with no protocol is sniffed: its HTTP chain has the host's virtual host.
            .filter(|p| p.protocol.is_empty() || is_http_protocol(&p.protocol))
            .map(|p| p.number)
            .collect();
        let service_here = http_ports.contains(&port);
        if !service_here && port != 80 {
            return (false, None);
        }
        let routed = self
            .winning_virtual_service(namespace, host, port, service_here)
            .and_then(|vs| {
                let route = vs
                    .spec
                    .http
                    .iter()
                    .find(|r| route_takes(r, MESH_GATEWAY, port, &vs.spec.gateways))?;
                Some((vs, route))
            });
        (service_here, routed)
    }

    /// The port a sidecar's HTTP route sends to. No port given: a one-port Service's port,
    /// when the route was built for that Service; else the listener's port
    /// (GetDestinationCluster).
    fn sidecar_destination_port(
        &self,
        namespace: &str,
        destination: &Destination,
        port: u32,
    ) -> u32 {
        let target_ports = self.host_ports(namespace, &destination.host);
        let built_for_service = target_ports
            .iter()
            .any(|(n, p)| *n == port && (is_http_protocol(p) || p == "AUTO"));
        destination
            .port
            .as_ref()
            .map(|p| p.number)
            .or_else(|| (built_for_service && target_ports.len() == 1).then(|| target_ports[0].0))
            .unwrap_or(port)
    }

    /// Whether a sidecar's route to `target` goes through a gateway (a Service the model knows,
    /// other than the host itself) or leaves directly; `t` says which.
    fn sends_to_gateway(&self, host: &str, target: &str, t: &mut Traffic) -> bool {
        let is_gateway = target != host && self.services.contains_key(target);
        t.via = if is_gateway {
            Via::Gateway
        } else {
            Via::Direct
        };
        if is_gateway {
            t.gateway_host = Some(target.to_string());
        }
        is_gateway
    }

    /// Why a sidecar's HTTP route to `destination` gets 503 NC: the subset, the gateway's
    /// port, or the host's port that no ServiceEntry gives.
    fn why_no_cluster(
        &self,
        namespace: &str,
        destination: &Destination,
        target_port: u32,
        is_gateway: bool,
    ) -> String {
        let target = destination.host.as_str();
        match &destination.subset {
            Some(subset)
                if self
                    .host_ports(namespace, target)
                    .iter()
                    .any(|(n, _)| *n == target_port) =>
            {
                format!("no DestinationRule defines subset {subset} of {target}")
            }
            _ if is_gateway => format!("{target} has no port {target_port}"),
            _ => format!("no ServiceEntry visible here gives {target} port {target_port}"),
        }
    }

    /// The second hop: the egress gateway's listener, virtual host and route for the host.
    fn http_at_gateway(&self, host: &str, gateway_host: &str, port: u32, t: &mut Traffic) {
        let Some((gateway_ns, servers)) =
            self.gateway_listening(gateway_host, port, Response::UpstreamFailure, t)
        else {
            return;
        };
        // VirtualServices bound to one of those Gateways for the host (the oldest wins).
        let mut bound: Vec<(&VirtualService, String)> = vec![];
        for (gateway, server) in &servers {
            if server_covers(server, host) {
                bound.extend(self.bound_to(gateway, gateway_ns, host));
            }
        }
        bound.sort_by(|a, b| creation_order(&a.0, &b.0));
        let route = bound.iter().find_map(|(vs, reference)| {
            vs.spec
                .http
                .iter()
                .find(|r| route_takes(r, reference, port, &vs.spec.gateways))
        });
        let Some(route) = route else {
            t.outcome = Outcome::NoRoute;
            t.response = Some(Response::NoRoute);
            t.reason = Some(format!(
                "the egress gateway has no route for {host} on port {port}: the admins' VirtualService for it is missing"
            ));
            return;
        };
        let Some(destination) = route.route.first().map(|r| &r.destination) else {
            t.outcome = Outcome::Unknown;
            return;
        };
        let target_ports = self.host_ports(gateway_ns, &destination.host);
        let target_port = destination
            .port
            .as_ref()
            .map(|p| p.number)
            .or_else(|| (target_ports.len() == 1).then(|| target_ports[0].0))
            .unwrap_or(port);
        self.send_from_gateway(gateway_ns, destination, target_port, Response::NoCluster, t);
    }
}

/// The ports that matter for a host: its ServiceEntry's, the ports its VirtualService's routes
/// match, and, for a host with no ServiceEntry, the web's 80 and 443 (what a client tries).
pub fn ports_that_matter(
    service_entries: &[&ServiceEntry],
    virtual_services: &[&VirtualService],
) -> Vec<(u32, String)> {
    // Every entry's ports, the first's protocol for a number: Istio builds listeners from all
    // of them (clusters from those it merges, `Mesh::cluster_ports`).
    let mut ports: Vec<(u32, String)> = vec![];
    for p in service_entries.iter().flat_map(|se| &se.spec.ports) {
        if !ports.iter().any(|(n, _)| *n == p.number) {
            ports.push((p.number, p.protocol.to_ascii_uppercase()));
        }
    }
    if service_entries.is_empty() {
        ports.push((80, "HTTP".into()));
        ports.push((443, "HTTPS".into()));
    }
    for vs in virtual_services {
        for m in vs.spec.tls.iter().flat_map(|r| &r.matches) {
            if let Some(p) = m.port
                && !ports.iter().any(|(n, _)| *n == p)
            {
                ports.push((p, "TLS".into()));
            }
        }
        for m in vs.spec.http.iter().flat_map(|r| &r.matches) {
            if let Some(p) = m.port
                && !ports.iter().any(|(n, _)| *n == p)
            {
                ports.push((p, "HTTP".into()));
            }
        }
    }
    ports.sort();
    ports.dedup_by_key(|(n, _)| *n);
    ports
}

/// The text line for one port: `:80  sidecar -> istio-egressgateway.istio-system:80 -> httpbin.org:80  (timeout 0.5s)`.
pub fn describe(host: &str, t: &Traffic) -> String {
    let arrow = if t.outcome == Outcome::Egress {
        " -> "
    } else {
        " -x "
    };
    let mut hops = t.hops.clone();
    // The application's TLS at the gateway: routed by its SNI, never opened.
    // (The gateway's own side starts at the gateway, a sidecar's request one hop before.)
    let at_gateway = usize::from(hops.first().is_some_and(|h| h == "sidecar"));
    if t.wire == Some(Wire::Tls) && t.via == Via::Gateway && hops.len() > at_gateway + 1 {
        hops[at_gateway].push_str(&format!(" (SNI {host}, passthrough)"));
    }
    // TLS a proxy opens to the host (a DestinationRule's SIMPLE): Istio then checks the server's
    // certificate against the proxy's OS CA certificates, as no caCertificates are given.
    if let (Some(mode), true) = (&t.upstream_tls, t.outcome == Outcome::Egress)
        && let Some(last) = hops.last_mut()
    {
        last.push_str(&format!(
            " (TLS {mode}{})",
            t.upstream_sni
                .as_deref()
                .map(|sni| format!(", SNI {sni}"))
                .unwrap_or_default()
        ));
    }
    let mut line = format!(":{}  {}", t.port, hops.join(" -> "));
    match t.outcome {
        Outcome::Egress => {
            if t.via == Via::Passthrough {
                line.push_str(" -> (passthrough: ALLOW_ANY)");
            }
        }
        outcome => {
            line.push_str(arrow.trim_end());
            line.push_str(&format!(
                " {outcome}{}",
                t.response.map(|r| format!(" ({r})")).unwrap_or_default()
            ));
        }
    }
    if let Some(timeout) = &t.timeout {
        line.push_str(&format!("  (timeout {timeout})"));
    }
    if t.wire == Some(Wire::Tls) && t.outcome == Outcome::Egress {
        line.push_str("  (TLS");
        if t.via == Via::Direct {
            line.push_str(", direct");
        }
        line.push(')');
    }
    if let Some(reason) = &t.reason {
        line.push_str(&format!(": {reason}"));
    }
    line
}

#[cfg(test)]
mod tests;
