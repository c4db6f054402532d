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

mod models;
mod text;
use models::*;
pub use text::{Columns, columns, table};

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

#[cfg(test)]
mod tests;
