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
mod tests;
