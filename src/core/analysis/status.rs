//! `status`: what the listed objects mean for each external host, and what is wrong. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::analyzers;
use crate::core::mesh::gateway_policy;
use crate::core::mesh::sidecar::{self, NamespaceScope};
use crate::core::mesh::traffic::{
    self, Imports, KubeService, Mesh, Traffic, Via, Wire, short_service,
};
use crate::core::objects::istio::*;
use crate::core::objects::plan::RouteSettings;

// What `status` reads and reports, from where each is defined: callers need only this module.
pub use super::findings::{Code, Finding, Severity};
pub use crate::core::mesh::view::{ClusterView, GATEWAY_NAMESPACE, Known};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// What the host's `traffic` sums up to: `gateway` when any port goes through a gateway,
    /// `blocked` when none leaves, else `direct` or `passthrough`.
    pub kind: Via,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostReport {
    pub namespace: String,
    pub host: String,
    pub service_entry: Option<String>,
    pub virtual_services: Vec<String>,
    pub ports: Vec<ServicePort>,
    pub resolution: Option<String>,
    pub export_to: Vec<String>,
    pub timeout: Option<String>,
    pub route: Route,
    /// Every object for the host carries the plugin's label.
    pub managed: bool,
    /// The path a request takes, for people: `sidecar -> ... -> host`, one part per port.
    pub path: String,
    pub findings: Vec<Finding>,
    /// Port by port: where a request goes and what the client sees (checked against Istio).
    pub traffic: Vec<Traffic>,
    /// In the egress gateway's namespace: the gateway's side of the host, port by port, from a
    /// request's arrival at the gateway (its Gateway server, second hop, cluster and TLS).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gateway: Vec<Traffic>,
    /// `namespace/name` of the Sidecar whose scope `traffic` is for (the namespace's, else the
    /// root namespace's); absent under Istio's default scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<String>,
    /// A host the namespace has no object for: the other namespace's ServiceEntry exported to it
    /// that allows it, `istio-system/central-api (exported to all)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_by: Option<String>,
    /// The workloads a Sidecar with a workloadSelector picks out, and what their requests get
    /// (`traffic` is for the namespace's other workloads).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<WorkloadTraffic>,
}

/// What the sidecars of the workloads one Sidecar's selector picks out get, port by port.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadTraffic {
    /// Their labels, `app=sentences,mode=api`.
    pub selector: String,
    /// `namespace/name` of the Sidecar.
    pub sidecar: String,
    /// Older Sidecars whose selectors may pick some of the same workloads: those workloads get
    /// the oldest one's answers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shadowed_by: Vec<String>,
    /// Whether it is the same as the host's `traffic`.
    pub same_as_namespace: bool,
    pub traffic: Vec<Traffic>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshReport {
    /// REGISTRY_ONLY or ALLOW_ANY; null when unknown.
    pub outbound_traffic_policy: Option<String>,
    /// The revision's ConfigMap the mesh config came from (`istio-system/istio-canary`, for a
    /// namespace labelled `istio.io/rev: canary`); absent: `istio-system/istio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesh_config: Option<String>,
    /// Whether istio-egressgateway exists in istio-system; null when unknown.
    pub egress_gateway: Option<bool>,
    /// Why something above is unknown.
    pub unknown: Vec<String>,
    pub findings: Vec<Finding>,
}

/// `status -o json|yaml`: a stable shape for scripts (documented in the README).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub mesh: MeshReport,
    pub hosts: Vec<HostReport>,
}

impl Report {
    pub fn worst(&self) -> Option<Severity> {
        self.mesh
            .findings
            .iter()
            .chain(self.hosts.iter().flat_map(|h| &h.findings))
            .map(|f| f.severity)
            .max()
    }
}

/// Whether a VirtualService host is an external one this tool cares about: mesh-bound (no
/// gateways, or `mesh`), a dotted name, and not a cluster service.
fn is_external_mesh_route(host: &str, vs: &VirtualServiceSpec) -> bool {
    let on_mesh = vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == MESH_GATEWAY);
    on_mesh
        && host.contains('.')
        && !host.ends_with(".cluster.local")
        && !host.ends_with(".svc")
        && host != "*"
}

/// The ServiceEntries and VirtualServices that name one host in one namespace.
type ObjectsForHost<'a> = (Vec<&'a ServiceEntry>, Vec<&'a VirtualService>);

pub fn analyse(view: &ClusterView, only_hosts: &[String]) -> Report {
    analyse_in(view, None, only_hosts)
}

/// [`analyse`], with a row for each of `only_hosts` that nothing in `namespace` names: what a
/// request to it from there gets (blocked, or passthrough), on the web's 80 and 443.
pub fn analyse_in(view: &ClusterView, namespace: Option<&str>, only_hosts: &[String]) -> Report {
    // Everything below sees the exportTo Istio applies: the mesh's default where none is set.
    let effective = view.with_export_defaults();
    let view = effective.as_ref().unwrap_or(view);
    let mesh = mesh_report(view);
    let mut hosts = hosts_of_objects(view);
    let foreign = match namespace {
        Some(ns) => exported_here(view, ns, &mut hosts),
        None => BTreeMap::new(),
    };
    let mut named = std::collections::BTreeSet::new();
    if let Some(ns) = namespace {
        for host in only_hosts {
            let key = (ns.to_string(), host.clone());
            if !hosts.contains_key(&key) {
                hosts.insert(key.clone(), Default::default());
                named.insert(key);
            }
        }
    }
    let namespaces: std::collections::BTreeSet<&str> =
        hosts.keys().map(|(ns, _)| ns.as_str()).collect();
    let scopes: BTreeMap<String, NamespaceScope> = namespaces
        .into_iter()
        .map(|ns| (ns.to_string(), scope_in(view, ns)))
        .collect();
    let contexts = Contexts::of(view, &scopes);
    // One model for every host: its lookups are built once.
    let model = Models::of(view, &contexts);
    let mut reports: Vec<HostReport> = hosts
        .into_iter()
        .filter(|((_, host), _)| only_hosts.is_empty() || only_hosts.contains(host))
        .map(|((namespace, host), (mut ses, mut vss))| {
            // When several ServiceEntries name the host, Istio takes its ports from the first.
            ses.sort_by_key(|se| traffic::service_precedence(se, &namespace));
            // The one Istio applies first: its own order, not the names'.
            vss.sort_by_key(|vs| traffic::precedence(vs, &namespace));
            let key = (namespace.clone(), host.clone());
            let only_named = named.contains(&key);
            let sidecar = scopes.get(&namespace).and_then(|s| s.decided_by.clone());
            if let Some(theirs) = foreign.get(&key) {
                return allowed_elsewhere(&model, namespace, host, theirs, sidecar);
            }
            let mut report = host_report(
                view,
                &mesh,
                &model,
                namespace,
                host,
                (&ses, &vss),
                only_named,
            );
            report.sidecar = sidecar;
            report
        })
        .collect();
    add_workload_traffic(view, &scopes, &mut reports);
    mark_gateway_policies(view, &mut reports);
    Report {
        api_version: "egress.kubectl.io/v1",
        kind: "EgressStatus",
        mesh,
        hosts: reports,
    }
}

/// (namespace, host) -> the objects that name it: the ServiceEntries and mesh VirtualServices
/// read, and, looking at the egress gateway's namespace, its Gateways' hosts.
fn hosts_of_objects(view: &ClusterView) -> BTreeMap<(String, String), ObjectsForHost<'_>> {
    let mut hosts: BTreeMap<(String, String), ObjectsForHost> = BTreeMap::new();
    for se in &view.service_entries {
        for host in &se.spec.hosts {
            let ns = se.metadata.namespace.clone().unwrap_or_default();
            hosts.entry((ns, host.clone())).or_default().0.push(se);
        }
    }
    for vs in &view.virtual_services {
        for host in vs
            .spec
            .hosts
            .iter()
            .filter(|h| is_external_mesh_route(h, &vs.spec))
        {
            let ns = vs.metadata.namespace.clone().unwrap_or_default();
            hosts.entry((ns, host.clone())).or_default().1.push(vs);
        }
    }
    // Looking at the egress gateway's namespace (or at all): its Gateways' hosts are hosts too,
    // with the gateway's side of each (a wildcard's ServiceEntry names its upstream instead).
    let gateway_side = view
        .service_entries
        .iter()
        .map(|se| &se.metadata.namespace)
        .chain(
            view.virtual_services
                .iter()
                .map(|vs| &vs.metadata.namespace),
        )
        .any(|ns| ns.as_deref() == Some(GATEWAY_NAMESPACE));
    if gateway_side && let Known::Yes(gateways) = &view.gateways {
        for host in gateways
            .iter()
            .filter(|g| g.metadata.namespace.as_deref() == Some(GATEWAY_NAMESPACE))
            .flat_map(|g| &g.spec.servers)
            .flat_map(|s| &s.hosts)
            .map(|h| h.rsplit('/').next().unwrap_or(h))
            .filter(|h| *h != "*")
        {
            hosts
                .entry((GATEWAY_NAMESPACE.to_string(), host.to_string()))
                .or_default();
        }
    }
    hosts
}

/// The hosts a ServiceEntry of istio-system or of another namespace exports to `namespace` that
/// no object of the namespace names: each added to `hosts` (with no objects of its own), with
/// the entry that allows it (the first in Istio's order).
fn exported_here<'v>(
    view: &'v ClusterView,
    namespace: &str,
    hosts: &mut BTreeMap<(String, String), ObjectsForHost<'v>>,
) -> BTreeMap<(String, String), &'v ServiceEntry> {
    let mut foreign = BTreeMap::new();
    if namespace == GATEWAY_NAMESPACE {
        return foreign;
    }
    let theirs = [
        &view.gateway_service_entries,
        &view.elsewhere.service_entries,
    ]
    .into_iter()
    .filter_map(|known| match known {
        Known::Yes(list) => Some(list),
        Known::Unknown(_) => None,
    })
    .flatten();
    let mut exported: Vec<&ServiceEntry> = theirs
        .filter(|se| se.metadata.namespace.as_deref() != Some(namespace))
        .filter(|se| se.unreadable.is_none() && traffic::exported_to(se, namespace))
        .collect();
    exported.sort_by_key(|se| traffic::service_precedence(se, namespace));
    for se in exported {
        for host in &se.spec.hosts {
            let key = (namespace.to_string(), host.clone());
            if !hosts.contains_key(&key) {
                hosts.insert(key.clone(), Default::default());
                foreign.insert(key, se);
            }
        }
    }
    foreign
}

/// The Sidecar scope of `namespace`'s sidecars. The egress gateway's namespace shares its
/// lookups with the gateway (which no Sidecar scopes): a narrowing Sidecar there is not modelled.
fn scope_in(view: &ClusterView, namespace: &str) -> NamespaceScope {
    gateway_namespace_checked(sidecar::scope_of(&view.scope, namespace), namespace)
}

fn gateway_namespace_checked(mut scope: NamespaceScope, namespace: &str) -> NamespaceScope {
    if namespace == GATEWAY_NAMESPACE && scope.effect.narrows() {
        scope.effect.imports = None;
        scope.effect.other_listeners.clear();
        scope.effect.unmodelled = Some(format!(
            "Sidecar {} narrows what the sidecars of the egress gateway's namespace see: status does not model that there",
            scope.decided_by.as_deref().unwrap_or_default()
        ));
    }
    scope
}

fn known_result<T>(known: &Known<T>) -> Result<&T, String> {
    match known {
        Known::Yes(v) => Ok(v),
        Known::Unknown(why) => Err(why.clone()),
    }
}

/// Services as the traffic model reads them.
type ServiceMap = BTreeMap<String, Result<Option<KubeService>, String>>;

struct Context {
    services: ServiceMap,
    /// Per proxy namespace: what [`traffic::pulled_in_by_routes`] and
    /// [`traffic::pulled_in_under`] make of the view.
    pulled_in: BTreeMap<String, Vec<ServiceEntry>>,
    /// Per namespace whose Sidecar narrows its imports: what its sidecars see.
    scoped: BTreeMap<String, traffic::Scoped>,
}

fn mesh_context(view: &ClusterView, scopes: &BTreeMap<String, NamespaceScope>) -> Context {
    let (service_entries, virtual_services) = every_entry_and_route(view);
    let services: ServiceMap = view
        .services
        .iter()
        .map(|(k, v)| (k.clone(), known_result(v).cloned()))
        .collect();
    let mut pulled_in: BTreeMap<String, Vec<ServiceEntry>> = BTreeMap::new();
    // The egress gateway's proxies get none (DefaultSidecarScopeForGateway).
    for se in traffic::pulled_in_by_routes(&service_entries, &virtual_services) {
        let namespace = se.metadata.namespace.clone().unwrap_or_default();
        if namespace != GATEWAY_NAMESPACE {
            pulled_in.entry(namespace).or_default().push(se);
        }
    }
    let mut scoped = BTreeMap::new();
    for (namespace, scope) in scopes {
        let effect = &scope.effect;
        let Some(imports) = &effect.imports else {
            // Istio's default scope keeps each hostname from one namespace too: only where two
            // namespaces visible here name one host does that change what the sidecars see.
            if traffic::hostnames_shared(&service_entries, namespace) {
                let imported = traffic::imported_service_entries(
                    &service_entries,
                    &Imports::everything(),
                    namespace,
                );
                scoped.insert(
                    namespace.clone(),
                    traffic::Scoped {
                        service_entries: imported,
                        services_pulled_in: BTreeMap::new(),
                    },
                );
            }
            continue;
        };
        let listener_port = effect.listener_port.as_ref().map(|(p, _)| *p);
        let imported = imported_on(&service_entries, imports, namespace, listener_port);
        let under = traffic::pulled_in_under(
            imports,
            namespace,
            &imported,
            &service_entries,
            &virtual_services,
            &services,
            listener_port,
        );
        let mut entries = under.service_entries;
        let mut services_pulled_in = under.services;
        // The Sidecar's other egress listeners: what they import is the sidecar's services too
        // (clusters), as are the destinations of the routes they import.
        for other in &effect.other_listeners {
            let port = other.port.as_ref().map(|(p, _)| *p);
            let imports = other.imports.clone().unwrap_or_else(Imports::everything);
            let theirs = imported_on(&service_entries, &imports, namespace, port);
            let under = traffic::pulled_in_under(
                &imports,
                namespace,
                &theirs,
                &service_entries,
                &virtual_services,
                &services,
                port,
            );
            entries.extend(theirs);
            entries.extend(under.service_entries);
            let imported_services = services.iter().filter_map(|(fqdn, service)| match service {
                Ok(Some(service))
                    if service.exported_to(namespace)
                        && imports.service(&service.namespace, fqdn) =>
                {
                    let ports: Vec<u32> = service
                        .ports
                        .iter()
                        .map(|(n, _)| *n)
                        .filter(|n| port.is_none_or(|p| p == *n))
                        .collect();
                    Some((fqdn.clone(), ports))
                }
                _ => None,
            });
            for (fqdn, ports) in under.services.into_iter().chain(imported_services) {
                services_pulled_in.entry(fqdn).or_default().extend(ports);
            }
        }
        pulled_in.insert(namespace.clone(), entries);
        scoped.insert(
            namespace.clone(),
            traffic::Scoped {
                service_entries: imported,
                services_pulled_in,
            },
        );
    }
    Context {
        services,
        pulled_in,
        scoped,
    }
}

/// The ServiceEntries an egress listener imports, only its port of them when it has one.
fn imported_on(
    service_entries: &[&ServiceEntry],
    imports: &Imports,
    namespace: &str,
    port: Option<u32>,
) -> Vec<ServiceEntry> {
    let imported = traffic::imported_service_entries(service_entries, imports, namespace);
    match port {
        Some(port) => traffic::on_port_only(imported, port),
        None => imported,
    }
}

/// What the models are built from: the scopes as given, and per namespace whose Sidecar has
/// egress listeners on ports of their own, per such port, the scopes with that listener
/// followed.
struct Contexts {
    base: (Scopes, Context),
    on_port: Vec<((String, u32), Scopes, Context)>,
}

/// Each namespace's Sidecar scope.
type Scopes = BTreeMap<String, NamespaceScope>;

impl Contexts {
    fn of(view: &ClusterView, scopes: &BTreeMap<String, NamespaceScope>) -> Contexts {
        let mut on_port = vec![];
        for (namespace, scope) in scopes {
            for port in scope.effect.listener_ports() {
                let Some(effect) = scope.effect.on_port(port) else {
                    continue;
                };
                let mut theirs = scopes.clone();
                theirs.insert(
                    namespace.clone(),
                    NamespaceScope {
                        decided_by: scope.decided_by.clone(),
                        effect,
                    },
                );
                let context = mesh_context(view, &theirs);
                on_port.push(((namespace.clone(), port), theirs, context));
            }
        }
        Contexts {
            base: (scopes.clone(), mesh_context(view, scopes)),
            on_port,
        }
    }
}

/// The traffic model, one per egress listener with a port of its own ([`Contexts`]): a
/// request on such a port is answered by that listener's model.
struct Models<'a> {
    base: Mesh<'a>,
    on_port: Vec<((String, u32), Mesh<'a>)>,
}

impl<'a> Models<'a> {
    fn of(view: &'a ClusterView, contexts: &'a Contexts) -> Models<'a> {
        let (scopes, context) = &contexts.base;
        Models {
            base: traffic_mesh(view, context, scopes),
            on_port: contexts
                .on_port
                .iter()
                .map(|(key, scopes, context)| (key.clone(), traffic_mesh(view, context, scopes)))
                .collect(),
        }
    }

    fn traffic(&self, namespace: &str, host: &str, ports: &[(u32, String)]) -> Vec<Traffic> {
        ports
            .iter()
            .flat_map(|(port, protocol)| {
                let on_port = self
                    .on_port
                    .iter()
                    .find(|((ns, p), _)| ns == namespace && p == port)
                    .map(|(_, model)| model);
                let Some(model) = on_port else {
                    return self.base.traffic(namespace, host, &[(*port, protocol.clone())]);
                };
                // When the port's own egress listener imports no service with that port, Istio
                // builds the port's listener (filter chains and all) from the one without a port,
                // yet its HTTP routes from the port's own: only HTTP is left unmodelled.
                if !model.has_listener(namespace, *port) && self.base.has_listener(namespace, *port) {
                    if Wire::of(protocol) != Wire::Http {
                        return self.base.traffic(namespace, host, &[(*port, protocol.clone())]);
                    }
                    return vec![Traffic {
                        reason: Some(format!(
                            "the Sidecar's egress listener on port {port} imports no service with that port, while the one without a port does: Istio builds the listener from the latter and its HTTP routes from the former, which status does not model"
                        )),
                        ..Traffic::starting(*port, protocol, "sidecar".to_string())
                    }];
                }
                model.traffic(namespace, host, &[(*port, protocol.clone())])
            })
            .collect()
    }

    fn at_gateway(&self, host: &str, gateway_host: &str) -> Vec<Traffic> {
        self.base.at_gateway(host, gateway_host)
    }
}

/// Every ServiceEntry and VirtualService read: the namespace's, istio-system's, other namespaces'.
fn every_entry_and_route(view: &ClusterView) -> (Vec<&ServiceEntry>, Vec<&VirtualService>) {
    let service_entries = with_gateways(
        &view.service_entries,
        &view.gateway_service_entries,
        &view.elsewhere.service_entries,
    );
    let virtual_services = with_gateways(
        &view.virtual_services,
        &view.gateway_virtual_services,
        &view.elsewhere.virtual_services,
    );
    (service_entries, virtual_services)
}

/// The namespace's objects of one kind, istio-system's and other namespaces' (when read), each
/// once: with -A istio-system's are among the namespace's already.
fn with_gateways<'a, S>(
    listed: &'a [Object<S>],
    gateways: &'a Known<Vec<Object<S>>>,
    elsewhere: &'a Known<Vec<Object<S>>>,
) -> Vec<&'a Object<S>> {
    let mut all: Vec<&Object<S>> = listed.iter().collect();
    if let Known::Yes(theirs) = elsewhere {
        all.extend(theirs);
    }
    if let Known::Yes(theirs) = gateways {
        for object in theirs {
            let listed = all.iter().any(|o| {
                o.metadata.name == object.metadata.name
                    && o.metadata.namespace == object.metadata.namespace
            });
            if !listed {
                all.push(object);
            }
        }
    }
    all
}

/// Everything the sidecar and the gateway can be configured by, from what was read.
fn traffic_mesh<'a>(
    view: &'a ClusterView,
    context: &'a Context,
    scopes: &BTreeMap<String, NamespaceScope>,
) -> Mesh<'a> {
    let (service_entries, virtual_services) = every_entry_and_route(view);
    Mesh {
        service_entries,
        pulled_in: context
            .pulled_in
            .iter()
            .map(|(ns, list)| (ns.clone(), list.iter().collect()))
            .collect(),
        scoped: &context.scoped,
        virtual_services,
        destination_rules: known_result(&view.destination_rules).map(|l| l.iter().collect()),
        // Other namespaces' apply to the hosts their ServiceEntries define (Mesh::client_tls).
        namespace_destination_rules: view
            .namespace_destination_rules
            .iter()
            .chain(
                known_result(&view.elsewhere.destination_rules)
                    .into_iter()
                    .flatten(),
            )
            .collect(),
        gateways: known_result(&view.gateways).map(|l| l.iter().collect()),
        gateway_routes_known: known_result(&view.gateway_virtual_services).map(|_| ()),
        services: &context.services,
        registry_only: known_result(&view.outbound_policy)
            .map(|mode| mode.as_deref() == Some("REGISTRY_ONLY")),
        sidecar_scopes: scopes
            .iter()
            .map(|(ns, scope)| (ns.clone(), scope.effect.clone()))
            .collect(),
        index: Default::default(),
    }
}

fn mesh_report(view: &ClusterView) -> MeshReport {
    let mut unknown = vec![];
    let outbound_traffic_policy = match view.outbound_mode() {
        Known::Yes(mode) => Some(mode),
        Known::Unknown(why) => {
            unknown.push(format!("outboundTrafficPolicy: {why}"));
            None
        }
    };
    let egress_gateway = match &view.egress_gateway_service {
        Known::Yes(exists) => Some(*exists),
        Known::Unknown(why) => {
            unknown.push(format!("egress gateway: {why}"));
            None
        }
    };
    if let Some(why) = &view.scope.mesh_config.unknown {
        unknown.push(why.clone());
    }
    if let Known::Unknown(why) = &view.gateways {
        unknown.push(format!("gateways: {why}"));
    }
    if let Known::Unknown(why) = &view.gateway_service_entries {
        unknown.push(format!("the egress gateway's ServiceEntries: {why}"));
    }
    if let Known::Unknown(why) = &view.elsewhere.service_entries {
        unknown.push(why.clone());
    }
    if let Known::Unknown(why) = &view.elsewhere.virtual_services {
        unknown.push(why.clone());
    }
    if let Known::Unknown(why) = &view.elsewhere.destination_rules {
        unknown.push(why.clone());
    }
    unknown.extend(view.elsewhere.unread.iter().cloned());
    if let Known::Unknown(why) = &view.scope.root_sidecars {
        unknown.push(format!(
            "the root namespace's Sidecars: {why}: a namespace without a Sidecar of its own is answered as if it had none there"
        ));
    }
    if let Known::Unknown(why) = &view.scope.gateway_policies {
        unknown.push(format!(
            "istio-system's AuthorizationPolicies: {why}: answers through the egress gateway assume none refuses them"
        ));
    }
    if let Known::Unknown(why) = &view.scope.wasm_plugins {
        unknown.push(format!(
            "the namespace's WasmPlugins: {why}: answers assume none of them filters its sidecars' requests"
        ));
    }
    if let Known::Unknown(why) = &view.scope.root_wasm_plugins {
        unknown.push(format!(
            "the root namespace's WasmPlugins: {why}: answers assume none of them filters the proxies' requests"
        ));
    }
    if let Known::Unknown(why) = &view.scope.root_envoy_filters {
        unknown.push(format!(
            "the root namespace's EnvoyFilters: {why}: answers assume none of them patches the proxies"
        ));
    }
    for why in unreadable(view) {
        if !unknown.contains(&why) {
            unknown.push(why);
        }
    }
    MeshReport {
        outbound_traffic_policy,
        mesh_config: view
            .scope
            .mesh_config
            .revision_config_map
            .as_ref()
            .map(|name| format!("{GATEWAY_NAMESPACE}/{name}")),
        egress_gateway,
        unknown,
        findings: analyzers::run_mesh(view),
    }
}

/// Why each listed object that could not be read was not (its spec does not fit ours): what it
/// would say is not known, so it is reported as unknown rather than as an empty object.
pub fn unreadable(view: &ClusterView) -> Vec<String> {
    fn of<S>(objects: &[Object<S>]) -> Vec<String> {
        objects
            .iter()
            .filter_map(|o| o.unreadable.clone())
            .collect()
    }
    fn listed<S>(known: &Known<Vec<Object<S>>>) -> Vec<String> {
        known_result(known).map(|l| of(l)).unwrap_or_default()
    }
    [
        of(&view.service_entries),
        of(&view.virtual_services),
        listed(&view.gateway_service_entries),
        listed(&view.gateway_virtual_services),
        listed(&view.gateways),
        listed(&view.destination_rules),
        listed(&view.elsewhere.service_entries),
        listed(&view.elsewhere.virtual_services),
        listed(&view.elsewhere.destination_rules),
        of(&view.namespace_destination_rules),
    ]
    .concat()
}

fn host_report(
    view: &ClusterView,
    mesh: &MeshReport,
    model: &Models,
    namespace: String,
    host: String,
    (ses, vss): (&[&ServiceEntry], &[&VirtualService]),
    only_named: bool,
) -> HostReport {
    let se = ses.first();
    let vs = vss.first();
    let settings = vs
        .map(|vs| RouteSettings::from_virtual_service(&host, &vs.spec))
        .unwrap_or_default();
    let ports: Vec<ServicePort> = se.map(|se| se.spec.ports.clone()).unwrap_or_default();

    // A host only a Gateway names (a wildcard, whose ServiceEntry names its upstream): only the
    // gateway's side is about it.
    let gateway_only = ses.is_empty() && vss.is_empty() && !only_named;
    let traffic = if gateway_only {
        vec![]
    } else {
        model.traffic(&namespace, &host, &traffic::ports_that_matter(ses, vss))
    };
    // The gateway's own side, in its namespace: what a request that reaches it meets.
    let gateway = if namespace == GATEWAY_NAMESPACE {
        model.at_gateway(&host, DEFAULT_EGRESS_GATEWAY_HOST)
    } else {
        vec![]
    };
    let findings = analyzers::run(&analyzers::HostFacts {
        view,
        egress_gateway: mesh.egress_gateway,
        namespace: &namespace,
        host: &host,
        service_entries: ses,
        virtual_services: vss,
        settings: &settings,
        traffic: &traffic,
        gateway: &gateway,
    });
    let route = route_summary(&traffic, &settings, gateway_only);
    let path = path_of(&host, &traffic);
    let managed = !only_named
        && ses.iter().all(|o| o.metadata.is_managed())
        && vss.iter().all(|o| o.metadata.is_managed());
    HostReport {
        namespace,
        host,
        service_entry: se.map(|s| s.metadata.name.clone()),
        virtual_services: vss.iter().map(|v| v.metadata.name.clone()).collect(),
        resolution: se.and_then(|s| s.spec.resolution.clone()),
        export_to: se.map(|s| s.spec.export_to.clone()).unwrap_or_default(),
        ports,
        timeout: settings.timeout.clone(),
        route,
        managed,
        path,
        findings,
        traffic,
        gateway,
        sidecar: None,
        allowed_by: None,
        workloads: vec![],
    }
}

/// A host the namespace has no object for, allowed there by another namespace's ServiceEntry
/// exported to it (an admin's in istio-system): where its requests go, and who allows it. Its
/// findings are that object's namespace's to see.
fn allowed_elsewhere(
    model: &Models,
    namespace: String,
    host: String,
    theirs: &ServiceEntry,
    sidecar: Option<String>,
) -> HostReport {
    let traffic = model.traffic(
        &namespace,
        &host,
        &traffic::ports_that_matter(&[theirs], &[]),
    );
    let export =
        if theirs.spec.export_to.is_empty() || theirs.spec.export_to.iter().any(|e| e == "*") {
            "exported to all".to_string()
        } else {
            format!("exported to {}", theirs.spec.export_to.join(","))
        };
    let route = route_summary(&traffic, &RouteSettings::default(), false);
    let path = path_of(&host, &traffic);
    let qualified = format!(
        "{}/{}",
        theirs.metadata.namespace.as_deref().unwrap_or_default(),
        theirs.metadata.name
    );
    HostReport {
        namespace,
        host,
        service_entry: Some(qualified.clone()),
        virtual_services: vec![],
        ports: theirs.spec.ports.clone(),
        resolution: theirs.spec.resolution.clone(),
        export_to: theirs.spec.export_to.clone(),
        timeout: None,
        route,
        managed: false,
        path,
        findings: vec![],
        traffic,
        gateway: vec![],
        sidecar,
        allowed_by: Some(format!("{qualified} ({export})")),
        workloads: vec![],
    }
}

/// Each host's answers for the workloads a Sidecar with a selector picks out: the same
/// analysis, with that Sidecar's scope for the namespace.
fn add_workload_traffic(
    view: &ClusterView,
    scopes: &BTreeMap<String, NamespaceScope>,
    reports: &mut [HostReport],
) {
    for namespace in scopes.keys() {
        for workload in sidecar::workload_scopes(&view.scope, namespace) {
            let mut theirs = scopes.clone();
            theirs.insert(
                namespace.clone(),
                gateway_namespace_checked(workload.scope, namespace),
            );
            let contexts = Contexts::of(view, &theirs);
            let model = Models::of(view, &contexts);
            let selector: Vec<String> = workload
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            for report in reports
                .iter_mut()
                .filter(|r| &r.namespace == namespace && !r.traffic.is_empty())
            {
                let ports: Vec<(u32, String)> = report
                    .traffic
                    .iter()
                    .map(|t| (t.port, t.protocol.clone()))
                    .collect();
                let traffic = model.traffic(namespace, &report.host, &ports);
                report.workloads.push(WorkloadTraffic {
                    selector: selector.join(","),
                    sidecar: workload.sidecar.clone(),
                    shadowed_by: workload.shadowed_by.clone(),
                    same_as_namespace: traffic == report.traffic,
                    traffic,
                });
            }
        }
    }
}

/// Requests through the egress gateway, and the gateway's own side of each host: what the
/// gateway's AuthorizationPolicies do to them (`gateway_policy`): refused (`denied`, 403 or a
/// closed connection), or unknown naming the policies where it turns on what status cannot know.
fn mark_gateway_policies(view: &ClusterView, reports: &mut [HostReport]) {
    let Known::Yes(policies) = &view.scope.gateway_policies else {
        return;
    };
    // Policies of a root namespace other than the gateway's apply to it too, and are not read.
    let unread_root = match &view.scope.defaults {
        Known::Yes(d) if d.root_namespace != GATEWAY_NAMESPACE => Some(d.root_namespace.clone()),
        _ => None,
    };
    if policies.is_empty() && unread_root.is_none() {
        return;
    }
    let labels_of = |gateway_host: &str| -> BTreeMap<String, String> {
        match view.services.get(gateway_host) {
            Some(Known::Yes(Some(service))) => service.selector.clone(),
            _ => BTreeMap::new(),
        }
    };
    for report in reports.iter_mut() {
        let host = report.host.clone();
        let before = report.traffic.clone();
        let arriving = report
            .traffic
            .iter_mut()
            .chain(
                report
                    .workloads
                    .iter_mut()
                    .flat_map(|w| w.traffic.iter_mut()),
            )
            .filter(|t| t.via == Via::Gateway)
            .chain(report.gateway.iter_mut());
        for t in arriving {
            // The HTTP RBAC filter runs before the router (a 404 NR or 503 NC becomes a 403); a
            // TLS chain's only where one matched the SNI.
            let decided_after = match t.wire {
                Some(Wire::Http) => matches!(
                    t.outcome,
                    traffic::Outcome::Egress
                        | traffic::Outcome::NoRoute
                        | traffic::Outcome::NoCluster
                ),
                _ => t.outcome == traffic::Outcome::Egress,
            };
            if !decided_after {
                continue;
            }
            let labels = labels_of(
                t.gateway_host
                    .as_deref()
                    .unwrap_or(DEFAULT_EGRESS_GATEWAY_HOST),
            );
            let request = gateway_policy::GatewayRequest {
                host: &host,
                port: t.port,
                http: t.wire == Some(Wire::Http),
            };
            let mut verdict = gateway_policy::decide(policies, &labels, &request);
            if let Some(root) = &unread_root {
                let unread =
                    format!("the AuthorizationPolicies of the root namespace {root} are not read");
                verdict = match verdict {
                    gateway_policy::Verdict::Unknown(why) => {
                        gateway_policy::Verdict::Unknown(format!("{why}; {unread}"))
                    }
                    gateway_policy::Verdict::Allowed => gateway_policy::Verdict::Unknown(unread),
                    denied => denied,
                };
            }
            match verdict {
                gateway_policy::Verdict::Allowed => {}
                gateway_policy::Verdict::Denied(why) => {
                    let http = t.wire == Some(Wire::Http);
                    t.outcome = traffic::Outcome::Denied;
                    t.response = Some(if http {
                        traffic::Response::Forbidden
                    } else {
                        traffic::Response::Reset
                    });
                    t.reason = Some(if http {
                        format!("RBAC: access denied at the egress gateway: {why}")
                    } else {
                        format!("the egress gateway's RBAC filter closes the connection: {why}")
                    });
                }
                gateway_policy::Verdict::Unknown(why) => {
                    t.outcome = traffic::Outcome::Unknown;
                    t.response = None;
                    t.reason = Some(format!("at the egress gateway: {why}"));
                }
            }
        }
        if report.traffic != before {
            report.path = path_of(&report.host, &report.traffic);
        }
    }
}

/// The text view's port lines joined by `; ` (a host's `path`).
fn path_of(host: &str, traffic: &[Traffic]) -> String {
    traffic
        .iter()
        .map(|t| traffic::describe(host, t))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the host's traffic sums up to ([`Route`]): through a gateway when any port goes
/// through one, blocked when none leaves, else direct or passthrough.
fn route_summary(traffic: &[Traffic], settings: &RouteSettings, gateway_only: bool) -> Route {
    let through_gateway = traffic.iter().find(|t| t.via == Via::Gateway);
    match (through_gateway, &settings.via_gateway) {
        (Some(t), hop) => Route {
            kind: Via::Gateway,
            gateway_host: t.gateway_host.clone(),
            port: Some(u16::try_from(t.port).unwrap_or(0)),
            subset: hop.as_ref().and_then(|h| h.subset.clone()),
        },
        // Only the gateway's side: the host is the gateway's.
        (None, _) if gateway_only => Route {
            kind: Via::Gateway,
            gateway_host: Some(DEFAULT_EGRESS_GATEWAY_HOST.to_string()),
            port: None,
            subset: None,
        },
        (None, _) if traffic.iter().all(|t| t.via == Via::Blocked) => Route {
            kind: Via::Blocked,
            gateway_host: None,
            port: None,
            subset: None,
        },
        (None, _) => Route {
            kind: if traffic.iter().any(|t| t.via == Via::Direct) {
                Via::Direct
            } else {
                Via::Passthrough
            },
            gateway_host: None,
            port: None,
            subset: None,
        },
    }
}

/// Which of the table's optional columns are shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Columns {
    /// NAMESPACE first (-A), and hosts named namespace/host below the table.
    pub namespace: bool,
    /// SERVICEENTRY and VIRTUALSERVICES last (-o wide).
    pub wide: bool,
}

/// The table `status` prints: kubectl-style columns, then the path and findings per host.
pub fn table(report: &Report, shown: Columns) -> String {
    let mut out = if report.hosts.is_empty() {
        String::from("No external hosts found.\n")
    } else {
        let mut rows = vec![header(shown)];
        rows.extend(report.hosts.iter().map(|h| row(h, shown)));
        columns(rows)
    };
    for h in &report.hosts {
        out.push_str(&host_details(h, shown));
    }
    out.push_str(&mesh_details(&report.mesh));
    printable(out)
}

fn header(shown: Columns) -> Vec<String> {
    let mut header = vec![];
    if shown.namespace {
        header.push("NAMESPACE");
    }
    header.extend([
        "HOST",
        "PORTS",
        "RESOLUTION",
        "EXPORT",
        "TIMEOUT",
        "ROUTE",
        "MANAGED",
        "FINDINGS",
    ]);
    if shown.wide {
        header.extend(["SERVICEENTRY", "VIRTUALSERVICES"]);
    }
    header.iter().map(|s| s.to_string()).collect()
}

/// A host's line of the table; FINDINGS lists the codes above info.
fn row(h: &HostReport, shown: Columns) -> Vec<String> {
    let mut row = vec![];
    if shown.namespace {
        row.push(h.namespace.clone());
    }
    let ports = h
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.number, p.protocol))
        .collect::<Vec<_>>()
        .join(",");
    let route = match h.route.kind {
        Via::Gateway => format!(
            "via {}",
            short_service(h.route.gateway_host.as_deref().unwrap_or(""))
        ),
        other => other.to_string(),
    };
    let codes: Vec<&str> = h
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| f.code.as_str())
        .collect();
    row.extend([
        h.host.clone(),
        or_dash(ports),
        or_dash(h.resolution.clone().unwrap_or_default()),
        or_dash(h.export_to.join(",")),
        or_dash(h.timeout.clone().unwrap_or_default()),
        route,
        if h.managed { "yes" } else { "no" }.to_string(),
        or_dash(codes.join(",")),
    ]);
    if shown.wide {
        row.push(or_dash(h.service_entry.clone().unwrap_or_default()));
        row.push(or_dash(h.virtual_services.join(",")));
    }
    row
}

/// Below the table, per host: its path port by port (the gateway's side too), and findings.
fn host_details(h: &HostReport, shown: Columns) -> String {
    let mut out = String::from("\n");
    if shown.namespace {
        out.push_str(&format!("{}/{}\n", h.namespace, h.host));
    } else {
        out.push_str(&format!("{}\n", h.host));
    }
    if let Some(by) = &h.allowed_by {
        out.push_str(&format!("  allowed by {by}\n"));
    }
    if let Some(sidecar) = &h.sidecar {
        out.push_str(&format!("  scoped by Sidecar {sidecar}\n"));
    }
    for t in &h.traffic {
        out.push_str(&format!("  {}\n", traffic::describe(&h.host, t)));
    }
    for t in &h.gateway {
        out.push_str(&format!("  gateway {}\n", traffic::describe(&h.host, t)));
    }
    for w in &h.workloads {
        let whose = format!("  workloads {} (Sidecar {})", w.selector, w.sidecar);
        if w.same_as_namespace {
            out.push_str(&format!("{whose}: the same\n"));
        } else {
            out.push_str(&format!("{whose}:\n"));
            for t in &w.traffic {
                out.push_str(&format!("    {}\n", traffic::describe(&h.host, t)));
            }
        }
        if !w.shadowed_by.is_empty() {
            out.push_str(&format!(
                "    those Sidecar {} also selects get its answers\n",
                w.shadowed_by.join(", ")
            ));
        }
    }
    for f in &h.findings {
        out.push_str(&format!("  {} {}: {}\n", f.code, f.severity, f.message));
    }
    out
}

fn mesh_details(mesh: &MeshReport) -> String {
    let mut out = String::from("\nmesh\n");
    if let Some(config_map) = &mesh.mesh_config {
        out.push_str(&format!(
            "  mesh config: ConfigMap {config_map} (the namespace's revision, istio.io/rev)\n"
        ));
    }
    for f in &mesh.findings {
        out.push_str(&format!("  {} {}: {}\n", f.code, f.severity, f.message));
    }
    if let Some(false) = mesh.egress_gateway {
        out.push_str("  egress gateway: istio-egressgateway not found in istio-system\n");
    }
    for why in &mesh.unknown {
        out.push_str(&format!("  unknown {why}\n"));
    }
    out
}

/// Control characters (a terminal escape in a hand-made host, say) shown escaped, never raw.
fn printable(text: String) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "-".to_string() } else { s }
}

/// Left-aligned columns separated by three spaces, borderless, as kubectl prints tables; widths
/// by display width (comfy-table), so wide characters in a host keep the columns straight.
pub fn columns(rows: Vec<Vec<String>>) -> String {
    use comfy_table::{ContentArrangement, Table, presets::NOTHING};
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled);
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    for row in rows {
        table.add_row(row);
    }
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i + 1 < count { 3 } else { 0 }));
    }
    let mut out = String::new();
    for line in table.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mesh::traffic::{Outcome, Response};
    use crate::core::objects::plan::{self, AllowOptions, GatewayHop, Target};
    use crate::core::objects::validate::{Host, PortSpec};

    fn target(ns: &str) -> Target {
        Target {
            namespace: ns.into(),
            api_version: ApiVersion::V1,
        }
    }

    fn view() -> ClusterView {
        ClusterView {
            elsewhere: Default::default(),
            service_entries: vec![],
            virtual_services: vec![],
            gateways: Known::Yes(vec![]),
            gateway_service_entries: Known::Yes(vec![]),
            egress_gateway_service: Known::Yes(true),
            gateway_virtual_services: Known::Yes(vec![]),
            destination_rules: Known::Yes(vec![]),
            namespace_destination_rules: vec![],
            services: BTreeMap::from([(
                DEFAULT_EGRESS_GATEWAY_HOST.to_string(),
                Known::Yes(Some(KubeService {
                    name: "istio-egressgateway".into(),
                    namespace: GATEWAY_NAMESPACE.into(),
                    selector: BTreeMap::from([("istio".into(), "egressgateway".into())]),
                    ports: vec![(80, "HTTP2".into()), (443, "HTTPS".into())],
                    export_to: vec![],
                })),
            )]),
            outbound_policy: Known::Yes(Some("REGISTRY_ONLY".into())),
            scope: Default::default(),
        }
    }

    fn leaving(port: u32, via: Via) -> Traffic {
        let mut t = Traffic::starting(port, "HTTP", "sidecar".into());
        t.via = via;
        t.gateway_host = (via == Via::Gateway).then(|| DEFAULT_EGRESS_GATEWAY_HOST.into());
        t.outcome = Outcome::Egress;
        t
    }

    #[test]
    fn a_hosts_route_sums_up_its_ports() {
        let none = RouteSettings::default();
        let hop = RouteSettings {
            via_gateway: Some(GatewayHop {
                subset: Some("httpbin".into()),
                ..GatewayHop::default()
            }),
            ..RouteSettings::default()
        };
        // Any port through a gateway: the route is the gateway's, with the hop's subset.
        let mixed = [leaving(443, Via::Direct), leaving(80, Via::Gateway)];
        let route = route_summary(&mixed, &hop, false);
        assert_eq!(
            (route.kind, route.port, route.subset.as_deref()),
            (Via::Gateway, Some(80), Some("httpbin"))
        );
        assert_eq!(
            route.gateway_host.as_deref(),
            Some(DEFAULT_EGRESS_GATEWAY_HOST)
        );
        // A host only a Gateway names is the gateway's, with no port of its own.
        let only = route_summary(&[], &none, true);
        assert_eq!((only.kind, only.port), (Via::Gateway, None));
        let blocked = [leaving(80, Via::Blocked), leaving(443, Via::Blocked)];
        assert_eq!(route_summary(&blocked, &none, false).kind, Via::Blocked);
        let partly = [leaving(80, Via::Blocked), leaving(443, Via::Direct)];
        assert_eq!(route_summary(&partly, &none, false).kind, Via::Direct);
        let open = [leaving(80, Via::Passthrough), leaving(443, Via::Blocked)];
        assert_eq!(route_summary(&open, &none, false).kind, Via::Passthrough);
    }

    fn codes(report: &Report) -> Vec<Code> {
        report
            .hosts
            .iter()
            .flat_map(|h| h.findings.iter().map(|f| f.code))
            .collect()
    }

    /// The exercise's end state: httpbin.org allowed in s1, with a timeout and routed through
    /// the egress gateway, whose admins expose it (a Gateway, its second hop, a ServiceEntry).
    fn exercise_state() -> ClusterView {
        let host = Host::parse("httpbin.org").unwrap();
        let mut v = view();
        v.service_entries = vec![plan::service_entry(
            &target("s1"),
            &host,
            &AllowOptions::default(),
        )];
        let settings = plan::RouteSettings {
            retries: None,
            tls_via_gateway: None,
            timeout: Some("0.5s".into()),
            via_gateway: Some(GatewayHop::default()),
            export_to: vec![],
        };
        v.virtual_services =
            vec![plan::virtual_service(&target("s1"), "httpbin", &host, &settings).unwrap()];
        v.gateways = Known::Yes(vec![http_gateway()]);
        // The admins' second hop, bound to that Gateway.
        let mut second_hop = plan::virtual_service(
            &target(GATEWAY_NAMESPACE),
            "httpbin-egressgateway",
            &host,
            &plan::RouteSettings {
                retries: None,
                tls_via_gateway: None,
                timeout: None,
                via_gateway: Some(GatewayHop {
                    gateway_host: "httpbin.org".into(),
                    port: 80,
                    subset: None,
                }),
                export_to: vec![],
            },
        )
        .unwrap();
        second_hop.spec.gateways = vec!["egw".into()];
        second_hop.spec.http[0].matches[0].gateways = vec!["egw".into()];
        v.gateway_virtual_services = Known::Yes(vec![second_hop]);
        // The admins' ServiceEntry in istio-system makes httpbin.org known to the gateway.
        v.gateway_service_entries = Known::Yes(vec![plan::service_entry(
            &target(GATEWAY_NAMESPACE),
            &host,
            &AllowOptions::default(),
        )]);
        v
    }

    /// The admins' Gateway in istio-system: port 80 HTTP for httpbin.org.
    fn http_gateway() -> Gateway {
        Gateway {
            unreadable: None,
            api_version: "networking.istio.io/v1".into(),
            kind: "Gateway".into(),
            metadata: Metadata {
                name: "egw".into(),
                namespace: Some(GATEWAY_NAMESPACE.into()),
                ..Metadata::default()
            },
            spec: GatewaySpec {
                selector: BTreeMap::from([("istio".into(), "egressgateway".into())]),
                servers: vec![GatewayServer {
                    hosts: vec!["httpbin.org".into()],
                    port: Some(ServicePort {
                        number: 80,
                        name: "http".into(),
                        protocol: "HTTP".into(),
                        target_port: None,
                    }),
                    tls: None,
                }],
            },
        }
    }

    #[test]
    fn the_exercise_state_reads_back_with_its_path() {
        let report = analyse(&exercise_state(), &[]);
        assert_eq!(report.hosts.len(), 1);
        let h = &report.hosts[0];
        let lines: Vec<String> = h
            .traffic
            .iter()
            .map(|t| traffic::describe(&h.host, t))
            .collect();
        assert_eq!(
            lines,
            vec![
                ":80  sidecar -> istio-egressgateway.istio-system:80 -> httpbin.org:80  (timeout 0.5s)",
                ":443  sidecar -> httpbin.org:443  (TLS, direct)",
            ]
        );
        assert_eq!(
            (h.traffic[0].via, h.traffic[0].outcome),
            (Via::Gateway, Outcome::Egress)
        );
        assert_eq!(
            (h.traffic[1].via, h.traffic[1].timeout.as_deref()),
            (Via::Direct, None)
        );
        assert!(h.managed);
        assert_eq!(
            codes(&report),
            vec![Code::TimeoutNotOnHttps, Code::NotThroughGateway]
        );
        assert_eq!(report.worst(), Some(Severity::Info));
    }

    #[test]
    fn problems_are_found() {
        let host = Host::parse("httpbin.org").unwrap();
        let mut v = view();
        let mut se = plan::service_entry(
            &target("s1"),
            &host,
            &AllowOptions {
                ports: vec![crate::core::objects::validate::PortSpec::parse("443").unwrap()],
                export_to: vec!["*".into()],
                ..AllowOptions::default()
            },
        );
        se.metadata.labels.clear();
        v.service_entries = vec![se];
        let settings = plan::RouteSettings {
            retries: None,
            tls_via_gateway: None,
            timeout: Some("1s".into()),
            via_gateway: Some(GatewayHop::default()),
            export_to: vec![],
        };
        let vs = plan::virtual_service(&target("s1"), "httpbin", &host, &settings).unwrap();
        let mut second = vs.clone();
        second.metadata.name = "other".into();
        v.virtual_services = vec![vs, second];
        v.egress_gateway_service = Known::Yes(false);
        let report = analyse(&v, &[]);
        let found = codes(&report);
        for code in [
            Code::DuplicateVirtualService,
            Code::ExportedBeyondNamespace,
            Code::TimeoutWithoutHttp,
            Code::NoGatewayForHost,
            Code::NoEgressGatewayService,
        ] {
            assert!(found.contains(&code), "{code} missing from {found:?}");
        }
        assert!(!report.hosts[0].managed);
        assert_eq!(report.worst(), Some(Severity::Error));
    }

    /// An object whose spec does not fit ours, as listed (`typed` keeps it with an empty spec).
    fn unreadable_object<S: serde::de::DeserializeOwned + Default>(
        kind: &str,
        namespace: &str,
    ) -> Object<S> {
        typed(&serde_json::json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": kind,
            "metadata": {"name": "odd", "namespace": namespace},
            "spec": {"hosts": ["odd.example.com"], "exportTo": "."}
        }))
    }

    #[test]
    fn unreadable_objects_are_unknown_with_the_reason_and_change_nothing_else() {
        let host = Host::parse("httpbin.org").unwrap();
        let mut v = view();
        v.service_entries = vec![plan::service_entry(
            &target("s1"),
            &host,
            &AllowOptions::default(),
        )];
        let readable = analyse(&v, &[]);
        assert!(readable.mesh.unknown.is_empty());

        let reason = |kind: &str, ns: &str| {
            format!(
                "{kind} {ns}/odd: spec.exportTo could not be read: \
                 invalid type: string \".\", expected a sequence"
            )
        };
        // In the namespace, and in istio-system, ServiceEntries and VirtualServices alike.
        v.service_entries
            .push(unreadable_object("ServiceEntry", "s1"));
        v.virtual_services
            .push(unreadable_object("VirtualService", "s1"));
        v.gateway_service_entries =
            Known::Yes(vec![unreadable_object("ServiceEntry", GATEWAY_NAMESPACE)]);
        v.gateway_virtual_services =
            Known::Yes(vec![unreadable_object("VirtualService", GATEWAY_NAMESPACE)]);
        let report = analyse(&v, &[]);
        assert_eq!(
            report.mesh.unknown,
            [
                reason("ServiceEntry", "s1"),
                reason("VirtualService", "s1"),
                reason("ServiceEntry", GATEWAY_NAMESPACE),
                reason("VirtualService", GATEWAY_NAMESPACE),
            ]
        );
        // No host is made up from their empty specs; the readable host reads as before.
        assert_eq!(report.hosts, readable.hosts);
        assert!(table(&report, Columns::default()).contains(&format!(
            "  unknown {}\n",
            reason("VirtualService", GATEWAY_NAMESPACE)
        )));
        // Listed twice (istio-system with -A): said once.
        v.service_entries = vec![unreadable_object("ServiceEntry", GATEWAY_NAMESPACE)];
        v.virtual_services = vec![];
        v.gateway_virtual_services = Known::Yes(vec![]);
        assert_eq!(
            analyse(&v, &[]).mesh.unknown,
            [reason("ServiceEntry", GATEWAY_NAMESPACE)]
        );
    }

    #[test]
    fn route_without_service_entry_and_unknowns() {
        let host = Host::parse("api.example.com").unwrap();
        let mut v = view();
        let settings = plan::RouteSettings {
            retries: None,
            tls_via_gateway: None,
            timeout: None,
            via_gateway: Some(GatewayHop::default()),
            export_to: vec![],
        };
        v.virtual_services =
            vec![plan::virtual_service(&target("s2"), "api", &host, &settings).unwrap()];
        v.gateways = Known::Unknown("forbidden".into());
        v.outbound_policy = Known::Unknown("forbidden".into());
        let report = analyse(&v, &[]);
        let h = &report.hosts[0];
        // HTTP on 80 still goes to the gateway (Istio makes a virtual host from the
        // VirtualService alone); what the gateway does with it is unknown here.
        assert_eq!(h.route.kind, Via::Gateway);
        assert_eq!(h.traffic[0].outcome, Outcome::Unknown);
        // ... and 443 depends on the mesh policy, which could not be read.
        assert_eq!(
            (h.traffic[1].port, h.traffic[1].outcome),
            (443, Outcome::Unknown)
        );
        assert!(codes(&report).contains(&Code::NoServiceEntry));
        assert!(codes(&report).contains(&Code::Unknown));
        assert_eq!(report.mesh.outbound_traffic_policy, None);
        assert_eq!(report.mesh.unknown.len(), 2);
        let text = table(&report, Columns::default());
        assert!(text.contains("unknown gateways: forbidden"), "{text}");
    }

    fn traffic_of<'r>(report: &'r Report, host: &str, port: u32) -> &'r Traffic {
        let h = report.hosts.iter().find(|h| h.host == host).unwrap();
        h.traffic.iter().find(|t| t.port == port).unwrap()
    }

    /// Istio gives a sidecar the cluster of a host its own namespace's VirtualService routes to,
    /// from a ServiceEntry of that namespace that is not exported there (exportTo
    /// istio-system, or ~): clusters only, no listener (SidecarScope.collectImportedServices).
    #[test]
    fn a_route_pulls_in_the_cluster_of_its_namespaces_hidden_service_entry() {
        let host = Host::parse("httpbin.org").unwrap();
        for export in [vec!["istio-system".to_string()], vec!["~".to_string()]] {
            let mut v = view();
            let mut se = plan::service_entry(&target("s1"), &host, &AllowOptions::default());
            se.spec.export_to = export.clone();
            v.service_entries = vec![se];
            let hidden = analyse(&v, &[]);
            assert_eq!(hidden.hosts.len(), 1, "{export:?}");
            let timeout = plan::RouteSettings {
                timeout: Some("2s".into()),
                ..plan::RouteSettings::default()
            };
            v.virtual_services =
                vec![plan::virtual_service(&target("s1"), "httpbin", &host, &timeout).unwrap()];
            let routed = analyse(&v, &[]);
            let http = traffic_of(&routed, "httpbin.org", 80);
            assert_eq!(
                (http.via, http.outcome, http.timeout.as_deref()),
                (Via::Direct, Outcome::Egress, Some("2s")),
                "{export:?}"
            );
            // Exported elsewhere, the VirtualService is not the namespace's to see: no pull.
            v.virtual_services[0].spec.export_to = vec!["istio-system".into()];
            let unseen = analyse(&v, &[]);
            assert!(
                unseen
                    .hosts
                    .iter()
                    .flat_map(|h| &h.traffic)
                    .all(|t| t.outcome != Outcome::Egress),
                "{export:?}"
            );
        }
    }

    /// Two ServiceEntries of the namespace for one host: Istio merges their ports where it can
    /// (same resolution, labels, workloadSelector and exportTo); one not exported here still
    /// changes the listeners (the oracle: a hidden TLS 443 takes the other's 443 away), so the
    /// answer is unknown naming both.
    #[test]
    fn several_service_entries_for_one_host() {
        let entry = |name: &str,
                     ports: serde_json::Value,
                     resolution: &str,
                     export: serde_json::Value,
                     created: &str| {
            typed::<ServiceEntrySpec>(&serde_json::json!({
                "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                "metadata": {"name": name, "namespace": "s1", "creationTimestamp": created},
                "spec": {"hosts": ["httpbin.org"], "ports": ports, "resolution": resolution, "exportTo": export},
            }))
        };
        let http = serde_json::json!([{"number": 80, "name": "http", "protocol": "HTTP"}]);
        let tls = serde_json::json!([{"number": 443, "name": "tls", "protocol": "TLS"}]);
        let mut v = view();
        v.service_entries = vec![
            entry(
                "a",
                http.clone(),
                "DNS",
                serde_json::json!(["."]),
                "2026-01-01T00:00:10Z",
            ),
            entry(
                "b",
                tls.clone(),
                "DNS",
                serde_json::json!(["."]),
                "2026-01-01T00:00:20Z",
            ),
        ];
        let merged = analyse(&v, &["httpbin.org".to_string()]);
        let ports: Vec<(u32, Outcome)> = merged.hosts[0]
            .traffic
            .iter()
            .map(|t| (t.port, t.outcome))
            .collect();
        assert_eq!(
            ports,
            vec![(80, Outcome::Egress), (443, Outcome::Egress)],
            "{merged:?}"
        );
        // Resolutions differ: the clusters are the first's alone, b's listener stays (reset).
        v.service_entries[1].spec.resolution = Some("NONE".into());
        let first = analyse(&v, &[]);
        assert_eq!(
            traffic_of(&first, "httpbin.org", 443).outcome,
            Outcome::NoCluster,
            "{first:?}"
        );
        // One not exported here.
        v.service_entries[1].spec.export_to = vec!["~".into()];
        let hidden = analyse(&v, &[]);
        let t = traffic_of(&hidden, "httpbin.org", 80);
        assert_eq!(t.outcome, Outcome::Unknown, "{t:?}");
        assert!(t.reason.as_deref().unwrap().contains("s1/a, s1/b"), "{t:?}");
    }

    /// A host named on the command line that nothing allows gets its row: blocked under
    /// REGISTRY_ONLY (502 on the HTTP listener of 80, the gateway Service's port; a reset on 443),
    /// passthrough when the namespace's Sidecar says ALLOW_ANY, unknown when its Sidecar narrows
    /// what the namespace sees (not modelled yet), naming the Sidecar.
    #[test]
    fn a_named_host_nothing_allows_and_the_namespaces_sidecar() {
        let v = view();
        let only = ["httpbin.org".to_string()];
        assert!(analyse(&v, &only).hosts.is_empty(), "no namespace: no row");
        let blocked = analyse_in(&v, Some("s1"), &only);
        let row = &blocked.hosts[0];
        assert_eq!((row.namespace.as_str(), row.managed), ("s1", false));
        let http = traffic_of(&blocked, "httpbin.org", 80);
        assert_eq!(
            (http.outcome, http.response),
            (Outcome::Blackhole, Some(Response::BadGateway))
        );
        let tls = traffic_of(&blocked, "httpbin.org", 443);
        assert_eq!(
            (tls.outcome, tls.response),
            (Outcome::Blackhole, Some(Response::Reset))
        );
        let sidecar = |spec: serde_json::Value| -> Sidecar {
            typed(&serde_json::json!({
                "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                "metadata": {"name": "default", "namespace": "s1"}, "spec": spec,
            }))
        };
        let mut v = view();
        v.scope.sidecars = Known::Yes(vec![sidecar(
            serde_json::json!({"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}),
        )]);
        let open = analyse_in(&v, Some("s1"), &only);
        assert_eq!(open.hosts[0].sidecar.as_deref(), Some("s1/default"));
        for port in [80, 443] {
            let t = traffic_of(&open, "httpbin.org", port);
            assert_eq!((t.via, t.outcome), (Via::Passthrough, Outcome::Egress));
        }
        // The same Sidecar in another namespace changes nothing here.
        assert_eq!(
            traffic_of(&analyse_in(&v, Some("s2"), &only), "httpbin.org", 80).outcome,
            Outcome::Blackhole
        );
        v.scope.sidecars = Known::Yes(vec![sidecar(
            serde_json::json!({"egress": [{"hosts": ["istio-system/*"]}]}),
        )]);
        v.service_entries = vec![plan::service_entry(
            &target("s1"),
            &Host::parse("httpbin.org").unwrap(),
            &AllowOptions::default(),
        )];
        // The Sidecar imports istio-system's services only: the gateway Service keeps an HTTP
        // listener on port 80, which has no virtual host for httpbin.org (the 502).
        let narrowed = analyse(&v, &[]);
        let t = traffic_of(&narrowed, "httpbin.org", 80);
        assert_eq!(
            (t.outcome, t.response),
            (Outcome::Blackhole, Some(Response::BadGateway)),
            "{t:?}"
        );
        assert_eq!(narrowed.hosts[0].sidecar.as_deref(), Some("s1/default"));
        // Importing the namespace's own hosts too, the entry is seen again.
        v.scope.sidecars = Known::Yes(vec![sidecar(
            serde_json::json!({"egress": [{"hosts": ["istio-system/*", "./httpbin.org"]}]}),
        )]);
        let seen = analyse(&v, &[]);
        let t = traffic_of(&seen, "httpbin.org", 80);
        assert_eq!((t.via, t.outcome), (Via::Direct, Outcome::Egress), "{t:?}");
    }

    /// An AuthorizationPolicy of istio-system selecting the egress gateway: what it refuses is
    /// denied (403), what turns on the request's path unknown naming it; one for other workloads
    /// changes nothing.
    #[test]
    fn egress_listeners_on_ports_answer_for_their_port() {
        let sidecar = |egress: serde_json::Value| -> Sidecar {
            typed(&serde_json::json!({
                "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                "metadata": {"name": "default", "namespace": "s1"}, "spec": {"egress": egress},
            }))
        };
        let mut v = view();
        let options = AllowOptions {
            ports: vec![
                PortSpec::parse("80/HTTP").unwrap(),
                PortSpec::parse("443/TLS").unwrap(),
            ],
            ..AllowOptions::default()
        };
        v.service_entries = vec![plan::service_entry(
            &target("s1"),
            &Host::parse("httpbin.org").unwrap(),
            &options,
        )];
        // Port 80 imports the host; every other port only istio-system's services.
        v.scope.sidecars = Known::Yes(vec![sidecar(serde_json::json!([
            {"port": {"number": 80, "protocol": "HTTP", "name": "web"}, "hosts": ["./httpbin.org"]},
            {"hosts": ["istio-system/*"]},
        ]))]);
        let report = analyse(&v, &[]);
        let web = traffic_of(&report, "httpbin.org", 80);
        assert_eq!(
            (web.via, web.outcome),
            (Via::Direct, Outcome::Egress),
            "{web:?}"
        );
        // 443: the gateway Service's TLS port makes a listener with no chain for the host.
        let tls = traffic_of(&report, "httpbin.org", 443);
        assert_eq!(
            (tls.outcome, tls.response),
            (Outcome::Blackhole, Some(Response::Reset)),
            "{tls:?}"
        );
        // Without a listener for the other ports, 443 has none at all: the same reset, by the
        // virtual outbound listener.
        v.scope.sidecars = Known::Yes(vec![sidecar(serde_json::json!([
            {"port": {"number": 443, "protocol": "TLS", "name": "tls"}, "hosts": ["./*"]},
        ]))]);
        let report = analyse(&v, &[]);
        let tls = traffic_of(&report, "httpbin.org", 443);
        assert_eq!(
            (tls.via, tls.outcome),
            (Via::Direct, Outcome::Egress),
            "{tls:?}"
        );
        let web = traffic_of(&report, "httpbin.org", 80);
        assert_eq!(
            (web.outcome, web.response),
            (Outcome::Blackhole, Some(Response::Reset)),
            "{web:?}"
        );
        // A listener whose protocol is not its services': unknown, saying why.
        v.scope.sidecars = Known::Yes(vec![sidecar(serde_json::json!([
            {"port": {"number": 80, "protocol": "TCP", "name": "tcp"}, "hosts": ["./*"]},
        ]))]);
        let report = analyse(&v, &[]);
        let web = traffic_of(&report, "httpbin.org", 80);
        assert_eq!(web.outcome, Outcome::Unknown, "{web:?}");
        assert!(
            web.reason
                .as_deref()
                .is_some_and(|r| r.contains("protocol TCP")),
            "{web:?}"
        );
    }

    #[test]
    fn the_gateways_policies_decide_what_goes_through_it() {
        let policy = |name: &str, selector: serde_json::Value, rules: serde_json::Value| {
            typed::<AuthorizationPolicySpec>(&serde_json::json!({
                "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                "metadata": {"name": name, "namespace": GATEWAY_NAMESPACE},
                "spec": {"selector": selector, "action": "DENY", "rules": rules},
            }))
        };
        let mut v = exercise_state();
        let through = |v: &ClusterView| {
            let report = analyse(v, &[]);
            let t = traffic_of(&report, "httpbin.org", 80).clone();
            (t, report)
        };
        let (t, _) = through(&v);
        assert_eq!((t.via, t.outcome), (Via::Gateway, Outcome::Egress), "{t:?}");
        let egress_gateway = serde_json::json!({"matchLabels": {"istio": "egressgateway"}});
        let httpbin = serde_json::json!([{"to": [{"operation": {"hosts": ["httpbin.org"]}}]}]);
        v.scope.gateway_policies = Known::Yes(vec![policy(
            "ingress-only",
            serde_json::json!({"matchLabels": {"istio": "ingressgateway"}}),
            httpbin.clone(),
        )]);
        let (t, _) = through(&v);
        assert_eq!(t.outcome, Outcome::Egress, "{t:?}");
        v.scope.gateway_policies = Known::Yes(vec![policy(
            "deny-httpbin",
            egress_gateway.clone(),
            httpbin,
        )]);
        let (t, report) = through(&v);
        assert_eq!(
            (t.outcome, t.response),
            (Outcome::Denied, Some(Response::Forbidden)),
            "{t:?}"
        );
        assert!(
            t.reason
                .as_deref()
                .unwrap()
                .contains("RBAC: access denied at the egress gateway: denied by AuthorizationPolicy istio-system/deny-httpbin"),
            "{t:?}"
        );
        assert!(
            report.hosts[0].path.contains("-x denied (403)"),
            "{}",
            report.hosts[0].path
        );
        v.scope.gateway_policies = Known::Yes(vec![policy(
            "deny-delay",
            egress_gateway,
            serde_json::json!([{"to": [{"operation": {"paths": ["/delay/*"]}}]}]),
        )]);
        let (t, _) = through(&v);
        assert_eq!(t.outcome, Outcome::Unknown, "{t:?}");
        assert!(
            t.reason
                .as_deref()
                .unwrap()
                .contains("AuthorizationPolicy istio-system/deny-delay may deny it (it depends on the request's path)"),
            "{t:?}"
        );
        v.scope.gateway_policies = Known::Unknown("forbidden".into());
        assert!(
            analyse(&v, &[])
                .mesh
                .unknown
                .iter()
                .any(|u| u.contains("AuthorizationPolicies: forbidden"))
        );
    }

    /// A Sidecar for the api pods: their answers beside the namespace's, in the JSON and below
    /// the table; one an older Sidecar's selector covers never applies and is left out.
    #[test]
    fn a_sidecar_for_some_workloads_answers_for_them() {
        let sidecar = |name: &str, created: &str, spec: serde_json::Value| -> Sidecar {
            typed(&serde_json::json!({
                "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                "metadata": {"name": name, "namespace": "s1", "creationTimestamp": created},
                "spec": spec,
            }))
        };
        let mut v = view();
        v.service_entries = vec![plan::service_entry(
            &target("s1"),
            &Host::parse("httpbin.org").unwrap(),
            &AllowOptions::default(),
        )];
        let api = serde_json::json!({
            "workloadSelector": {"labels": {"app": "sentences", "mode": "api"}},
            "egress": [{"hosts": ["istio-system/*"]}],
        });
        let covered = serde_json::json!({
            "workloadSelector": {"labels": {"app": "sentences", "mode": "api", "version": "v1"}},
            "outboundTrafficPolicy": {"mode": "ALLOW_ANY"},
        });
        v.scope.sidecars = Known::Yes(vec![
            sidecar("api", "2026-01-01T00:00:01Z", api),
            sidecar("v1", "2026-01-01T00:00:02Z", covered),
        ]);
        let report = analyse(&v, &[]);
        let host = &report.hosts[0];
        assert_eq!(host.traffic[0].outcome, Outcome::Egress);
        assert_eq!(host.workloads.len(), 1, "{:?}", host.workloads);
        let api = &host.workloads[0];
        assert_eq!(
            (
                api.selector.as_str(),
                api.sidecar.as_str(),
                api.same_as_namespace
            ),
            ("app=sentences,mode=api", "s1/api", false)
        );
        assert_eq!(
            (api.traffic[0].outcome, api.traffic[0].response),
            (Outcome::Blackhole, Some(Response::BadGateway))
        );
        let text = table(&report, Columns::default());
        assert!(
            text.contains("  workloads app=sentences,mode=api (Sidecar s1/api):\n    "),
            "{text}"
        );
    }

    /// An admin's ServiceEntry in istio-system exported to every namespace allows its host in
    /// each: the namespace's status lists it, saying who allows it; one exported only to its own
    /// namespace (the course's) is not listed.
    #[test]
    fn a_host_istio_system_exports_is_the_namespaces_too() {
        let mut v = view();
        let host = Host::parse("api.example.com").unwrap();
        let mut central =
            plan::service_entry(&target(GATEWAY_NAMESPACE), &host, &AllowOptions::default());
        central.metadata.name = "central-api".into();
        central.spec.export_to = vec![];
        let mut private = plan::service_entry(
            &target(GATEWAY_NAMESPACE),
            &Host::parse("httpbin.org").unwrap(),
            &AllowOptions::default(),
        );
        private.spec.export_to = vec![".".into()];
        v.gateway_service_entries = Known::Yes(vec![central, private]);
        let report = analyse_in(&v, Some("s1"), &[]);
        assert_eq!(report.hosts.len(), 1, "{:?}", report.hosts);
        let row = &report.hosts[0];
        assert_eq!(
            (row.host.as_str(), row.allowed_by.as_deref(), row.managed),
            (
                "api.example.com",
                Some("istio-system/central-api (exported to all)"),
                false
            )
        );
        let http = traffic_of(&report, "api.example.com", 80);
        assert_eq!((http.via, http.outcome), (Via::Direct, Outcome::Egress));
        assert!(table(&report, Columns::default()).contains("allowed by istio-system/central-api"));
        // Without a namespace to answer for (-A), istio-system's own rows say it.
        assert!(analyse(&v, &[]).hosts.is_empty());
    }

    /// The endpoints of a STATIC ServiceEntry take a port's targetPort, as DNS ones do.
    #[test]
    fn a_static_service_entry_leaves_on_the_target_port() {
        let host = Host::parse("httpbin.org").unwrap();
        let mut v = view();
        let mut se = plan::service_entry(&target("s1"), &host, &AllowOptions::default());
        se.spec.resolution = Some("STATIC".into());
        se.spec.ports.retain(|p| p.number == 80);
        se.spec.ports[0].target_port = Some(8443);
        v.service_entries = vec![se];
        let report = analyse(&v, &[]);
        let http = traffic_of(&report, "httpbin.org", 80);
        assert_eq!(
            (http.outcome, http.upstream_port),
            (Outcome::Egress, Some(8443))
        );
    }

    /// A ServiceEntry port with no protocol is sniffed: HTTP on it is routed by Host, and its
    /// TCP chain is on the listener only if no HTTP or sniffed port came first in Istio's order.
    #[test]
    fn a_port_with_no_protocol_is_sniffed() {
        let port = |number: u32, protocol: &str| ServicePort {
            number,
            name: format!("p-{number}"),
            protocol: protocol.into(),
            ..ServicePort::default()
        };
        let entry = |host: &str, created: &str, ports: Vec<ServicePort>| {
            let mut se = plan::service_entry(
                &target("s1"),
                &Host::parse(host).unwrap(),
                &AllowOptions::default(),
            );
            se.metadata.creation_timestamp = Some(created.into());
            se.spec.resolution = Some("NONE".into());
            se.spec.ports = ports;
            se
        };
        let sniffed = entry(
            "db.example.com",
            "2026-01-01T00:00:01Z",
            vec![port(8080, "")],
        );
        let mut v = view();
        v.service_entries = vec![sniffed.clone()];
        let alone = analyse(&v, &[]);
        let tcp = traffic_of(&alone, "db.example.com", 8080);
        assert_eq!((tcp.via, tcp.outcome), (Via::Direct, Outcome::Egress));
        // An older HTTP port on 8080 made the listener first: the sniffed port adds no chain.
        let http = entry(
            "api.example.com",
            "2026-01-01T00:00:00Z",
            vec![port(8080, "HTTP")],
        );
        v.service_entries = vec![sniffed.clone(), http.clone()];
        let after_http = analyse(&v, &[]);
        let tcp = traffic_of(&after_http, "db.example.com", 8080);
        assert_eq!(
            (tcp.via, tcp.outcome, tcp.response),
            (Via::Blocked, Outcome::Blackhole, Some(Response::Reset))
        );
        // A TCP port always adds its chain.
        let opaque = entry(
            "tcp.example.com",
            "2026-01-01T00:00:02Z",
            vec![port(8080, "TCP")],
        );
        v.service_entries = vec![http, opaque];
        let tcp_after_http = analyse(&v, &[]);
        let tcp = traffic_of(&tcp_after_http, "tcp.example.com", 8080);
        assert_eq!((tcp.via, tcp.outcome), (Via::Direct, Outcome::Egress));
    }

    #[test]
    fn in_mesh_and_ingress_routes_are_not_egress() {
        let mut v = view();
        let internal = Host::parse("name").unwrap();
        let settings = plan::RouteSettings {
            retries: None,
            tls_via_gateway: None,
            timeout: Some("1s".into()),
            ..Default::default()
        };
        let mut ingress = plan::virtual_service(
            &target("s1"),
            "sentences",
            &Host::parse("s1.sentences.example.com").unwrap(),
            &settings,
        )
        .unwrap();
        ingress.spec.gateways = vec!["sentences".into()];
        v.virtual_services = vec![
            plan::virtual_service(&target("s1"), "name", &internal, &settings).unwrap(),
            ingress,
        ];
        assert!(analyse(&v, &[]).hosts.is_empty());
    }

    #[test]
    fn a_host_the_egress_gateway_cannot_see_is_found() {
        let host = Host::parse("api.example.org").unwrap();
        let via_gateway = plan::RouteSettings {
            via_gateway: Some(GatewayHop::default()),
            ..Default::default()
        };
        let state = |export_to: &[&str], in_gateway_ns: Known<Vec<ServiceEntry>>| {
            let mut v = view();
            let options = AllowOptions {
                export_to: export_to.iter().map(|e| e.to_string()).collect(),
                ..AllowOptions::default()
            };
            v.service_entries = vec![plan::service_entry(&target("s1"), &host, &options)];
            v.virtual_services =
                vec![plan::virtual_service(&target("s1"), "api", &host, &via_gateway).unwrap()];
            v.gateway_service_entries = in_gateway_ns;
            codes(&analyse(&v, &[]))
        };
        // exportTo ["."] and nothing in istio-system: the gateway drops it.
        assert!(state(&[], Known::Yes(vec![])).contains(&Code::HostHiddenFromGateway));
        // Exported to istio-system (the fix the finding suggests), or to everyone: seen.
        let seen = |codes: Vec<Code>| !codes.contains(&Code::HostHiddenFromGateway);
        let exported = state(&[".", GATEWAY_NAMESPACE], Known::Yes(vec![]));
        assert!(seen(exported.clone()));
        // ... and that is no EGR003 (visible beyond the namespace): the gateway needs it.
        assert!(!exported.contains(&Code::ExportedBeyondNamespace));
        assert!(seen(state(&["*"], Known::Yes(vec![]))));
        // An admins' wildcard ServiceEntry in istio-system covers it.
        let wildcard = plan::service_entry(
            &target(GATEWAY_NAMESPACE),
            &Host::parse("*.example.org").unwrap(),
            &AllowOptions::default(),
        );
        assert!(seen(state(&[], Known::Yes(vec![wildcard.clone()]))));
        // ... unless it is exported only elsewhere.
        let mut elsewhere = wildcard;
        elsewhere.spec.export_to = vec!["s9".into()];
        assert!(!seen(state(&[], Known::Yes(vec![elsewhere]))));
        // Unreadable istio-system: unknown, not an error.
        let unknown = state(&[], Known::Unknown("forbidden".into()));
        assert!(seen(unknown.clone()) && unknown.contains(&Code::Unknown));
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let mut v = view();
        let mut se = plan::service_entry(
            &target("s1"),
            &Host::parse("httpbin.org").unwrap(),
            &AllowOptions::default(),
        );
        se.spec.hosts = vec!["evil\u{1b}[2J.org".into()];
        v.service_entries = vec![se];
        let text = table(&analyse(&v, &[]), Columns::default());
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("evil\\u{1b}[2J.org"), "{text}");
    }

    #[test]
    fn columns_align_like_kubectl() {
        let rows = vec![
            vec!["A".to_string(), "BB".to_string()],
            vec!["ccc".to_string(), "d".to_string()],
        ];
        assert_eq!(columns(rows), "A     BB\nccc   d\n");
        // Display width, not characters: a wide character takes two columns.
        let wide = vec![
            vec!["日本.jp".to_string(), "x".to_string()],
            vec!["abcdefg".to_string(), "y".to_string()],
        ];
        assert_eq!(columns(wide), "日本.jp   x\nabcdefg   y\n");
    }
}
