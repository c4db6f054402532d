//! Where a request to an external host goes, port by port, the way Istio builds the sidecar's and
//! the egress gateway's config from the objects. Pure.
//!
//! Every rule here is checked against Istio's own config generation (the oracle in
//! hack/harness/istio-sim, tests/oracle.rs): when the two disagree, Istio is right and this module
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

mod http;
mod lookups;
mod tls;
mod visibility;
pub use visibility::*;

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
    /// Per namespace, what its Sidecar changes for its sidecars (core/mesh/sidecar.rs): absent, Istio's
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
        self.one_port_on(
            namespace,
            host,
            port,
            protocol,
            self.listener(namespace, port),
        )
    }

    /// An HTTP request on `port` that meets the listener `listener_of` builds and this model's
    /// routes: a Sidecar's egress listener on the port that imports no service with it gets its
    /// listener (filter chains and all) from the listener without a port, yet Istio takes the
    /// port's HTTP routes (RDS by port, `GetEgressListenerForRDS`) from the port's own.
    pub fn http_on_listener_of(
        &self,
        listener_of: &Mesh,
        namespace: &str,
        host: &str,
        port: u32,
        protocol: &str,
    ) -> Traffic {
        let listener = listener_of.listener(namespace, port);
        self.one_port_on(namespace, host, port, protocol, listener)
    }

    fn one_port_on(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
        protocol: &str,
        listener: Listener,
    ) -> Traffic {
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
