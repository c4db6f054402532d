//! `status`: what the listed objects mean for each external host, and what is wrong. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::istio::*;
use super::plan::RouteSettings;
use super::validate::is_http_protocol;

/// A fact the user may not be allowed to read: reported as unknown with the reason, never as an
/// error that hides the rest.
#[derive(Debug, Clone, PartialEq)]
pub enum Known<T> {
    Yes(T),
    Unknown(String),
}

impl<T> Known<T> {
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
    /// The mesh's outboundTrafficPolicy mode from the `istio` ConfigMap (None: not set, so
    /// Istio's default ALLOW_ANY).
    pub outbound_policy: Known<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
}

/// The findings `status` reports, with the codes documented in the README.
pub mod codes {
    pub const DUPLICATE_VIRTUAL_SERVICE: &str = "EGR001";
    pub const NO_SERVICE_ENTRY: &str = "EGR002";
    pub const EXPORTED_BEYOND_NAMESPACE: &str = "EGR003";
    pub const TIMEOUT_WITHOUT_HTTP: &str = "EGR004";
    pub const NO_GATEWAY_FOR_HOST: &str = "EGR005";
    pub const NO_EGRESS_GATEWAY_SERVICE: &str = "EGR006";
    pub const MESH_POLICY: &str = "EGR007";
    pub const TIMEOUT_NOT_ON_HTTPS: &str = "EGR008";
    pub const UNKNOWN: &str = "EGR009";
    pub const HOST_HIDDEN_FROM_GATEWAY: &str = "EGR010";
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// `direct`, `gateway`, or `blocked` (no ServiceEntry).
    pub kind: &'static str,
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
    /// The path a request takes, for people: `sidecar -> ... -> host`.
    pub path: String,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshReport {
    /// REGISTRY_ONLY or ALLOW_ANY; null when unknown.
    pub outbound_traffic_policy: Option<String>,
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

fn finding(code: &'static str, severity: Severity, message: String) -> Finding {
    Finding {
        code,
        severity,
        message,
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

/// Whether a host pattern as Istio writes it (`httpbin.org`, `*.example.org`, `*`) covers `host`.
fn covers(pattern: &str, host: &str) -> bool {
    pattern == host
        || pattern == "*"
        || pattern
            .strip_prefix('*')
            .is_some_and(|suffix| suffix.starts_with('.') && host.ends_with(suffix))
}

/// The namespace of a Service FQDN (`istio-egressgateway.istio-system.svc.cluster.local`).
fn service_namespace(fqdn: &str) -> Option<&str> {
    fqdn.split('.').nth(1)
}

/// Whether the egress gateway's namespace sees a ServiceEntry (its `exportTo`).
fn visible_in(se: &ServiceEntry, namespace: &str) -> bool {
    let own = se.metadata.namespace.as_deref() == Some(namespace);
    se.spec.export_to.is_empty()
        || se
            .spec
            .export_to
            .iter()
            .any(|e| e == "*" || e == namespace || (e == "." && own))
}

fn short_service(fqdn: &str) -> &str {
    fqdn.strip_suffix(".svc.cluster.local").unwrap_or(fqdn)
}

/// The ServiceEntries and VirtualServices that name one host in one namespace.
type ObjectsForHost<'a> = (Vec<&'a ServiceEntry>, Vec<&'a VirtualService>);

/// Where the mesh's egress gateway runs and the admins keep its configuration.
pub const GATEWAY_NAMESPACE: &str = "istio-system";

pub fn analyse(view: &ClusterView, only_hosts: &[String]) -> Report {
    let mesh = mesh_report(view);
    // (namespace, host) -> indexes of the objects that name it
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
    let reports = hosts
        .into_iter()
        .filter(|((_, host), _)| only_hosts.is_empty() || only_hosts.contains(host))
        .map(|((namespace, host), (ses, vss))| {
            host_report(view, &mesh, namespace, host, &ses, &vss)
        })
        .collect();
    Report {
        api_version: "egress.kubectl.io/v1",
        kind: "EgressStatus",
        mesh,
        hosts: reports,
    }
}

fn mesh_report(view: &ClusterView) -> MeshReport {
    let mut unknown = vec![];
    let mut findings = vec![];
    let outbound_traffic_policy = match &view.outbound_policy {
        Known::Yes(mode) => {
            let mode = mode.clone().unwrap_or_else(|| "ALLOW_ANY".to_string());
            let message = if mode == "REGISTRY_ONLY" {
                "the mesh runs outboundTrafficPolicy REGISTRY_ONLY: hosts without a ServiceEntry are \
                 blocked (HTTP 502, TLS errors)"
                    .to_string()
            } else {
                format!(
                    "the mesh runs outboundTrafficPolicy {mode}: unknown hosts pass through, \
                     ServiceEntries add control but are not required"
                )
            };
            findings.push(finding(codes::MESH_POLICY, Severity::Info, message));
            Some(mode)
        }
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
    if let Known::Unknown(why) = &view.gateways {
        unknown.push(format!("gateways: {why}"));
    }
    if let Known::Unknown(why) = &view.gateway_service_entries {
        unknown.push(format!("the egress gateway's ServiceEntries: {why}"));
    }
    MeshReport {
        outbound_traffic_policy,
        egress_gateway,
        unknown,
        findings,
    }
}

fn host_report(
    view: &ClusterView,
    mesh: &MeshReport,
    namespace: String,
    host: String,
    ses: &[&ServiceEntry],
    vss: &[&VirtualService],
) -> HostReport {
    let mut findings = vec![];
    let se = ses.first();
    let vs = vss.first();
    let settings = vs
        .map(|vs| RouteSettings::from_virtual_service(&host, &vs.spec))
        .unwrap_or_default();
    let ports: Vec<ServicePort> = se.map(|se| se.spec.ports.clone()).unwrap_or_default();

    if vss.len() > 1 {
        let names: Vec<&str> = vss.iter().map(|v| v.metadata.name.as_str()).collect();
        findings.push(finding(
            codes::DUPLICATE_VIRTUAL_SERVICE,
            Severity::Error,
            format!(
                "{} VirtualServices route {host} ({}): Istio applies one and silently ignores the rest; keep one",
                vss.len(),
                names.join(", ")
            ),
        ));
    }
    if se.is_none() {
        findings.push(finding(
            codes::NO_SERVICE_ENTRY,
            Severity::Warning,
            format!(
                "VirtualService {} routes {host} but no ServiceEntry allows it: run kubectl egress allow {host}",
                vs.map(|v| v.metadata.name.as_str()).unwrap_or("?")
            ),
        ));
    }
    for se in ses {
        let beyond: Vec<&str> = se
            .spec
            .export_to
            .iter()
            .filter(|e| e.as_str() != "." && Some(e.as_str()) != se.metadata.namespace.as_deref())
            // Routed via the egress gateway, its namespace must see the host (EGR010).
            .filter(|e| !(settings.via_gateway.is_some() && e.as_str() == GATEWAY_NAMESPACE))
            .map(String::as_str)
            .collect();
        if se.spec.export_to.is_empty() || !beyond.is_empty() {
            let to = if se.spec.export_to.is_empty() {
                "every namespace (no exportTo)".to_string()
            } else {
                beyond.join(", ")
            };
            findings.push(finding(
                codes::EXPORTED_BEYOND_NAMESPACE,
                Severity::Warning,
                format!(
                    "ServiceEntry {} is visible beyond its namespace, to {to}: other namespaces may call {host}",
                    se.metadata.name
                ),
            ));
        }
    }
    if let (Some(timeout), Some(_)) = (&settings.timeout, se) {
        let http_ports: Vec<u32> = ports
            .iter()
            .filter(|p| is_http_protocol(&p.protocol))
            .map(|p| p.number)
            .collect();
        let other_ports: Vec<String> = ports
            .iter()
            .filter(|p| !is_http_protocol(&p.protocol))
            .map(|p| format!("{}/{}", p.number, p.protocol))
            .collect();
        if http_ports.is_empty() {
            findings.push(finding(
                codes::TIMEOUT_WITHOUT_HTTP,
                Severity::Warning,
                format!(
                    "timeout {timeout} never applies: {host} has no HTTP port, and HTTPS/TLS traffic is opaque to the sidecar"
                ),
            ));
        } else if !other_ports.is_empty() {
            findings.push(finding(
                codes::TIMEOUT_NOT_ON_HTTPS,
                Severity::Info,
                format!(
                    "timeout {timeout} applies to HTTP only, not to {} (TLS is opaque to the sidecar)",
                    other_ports.join(", ")
                ),
            ));
        }
    }
    if let Some(hop) = &settings.via_gateway {
        match &view.gateways {
            Known::Yes(gateways) => {
                let listed = gateways.iter().any(|g| {
                    g.spec.servers.iter().any(|s| {
                        s.hosts.iter().any(|h| {
                            // Gateway hosts may be written namespace/host.
                            covers(h.rsplit('/').next().unwrap_or(h), &host)
                        })
                    })
                });
                if !listed {
                    findings.push(finding(
                        codes::NO_GATEWAY_FOR_HOST,
                        Severity::Error,
                        format!(
                            "no Gateway in istio-system exposes {host}: traffic sent to the egress gateway has no exit (404); ask the mesh admins for one"
                        ),
                    ));
                }
            }
            Known::Unknown(why) => findings.push(finding(
                codes::UNKNOWN,
                Severity::Info,
                format!("cannot tell whether a Gateway exposes {host}: {why}"),
            )),
        }
        // exportTo ["."] hides the student's ServiceEntry from the gateway's namespace: unless
        // something there makes the host known, the gateway drops what it is sent (istio#48300).
        if let Some(gateway_ns) = service_namespace(&hop.gateway_host)
            && gateway_ns == GATEWAY_NAMESPACE
            && se.is_some()
            && !ses.iter().any(|se| visible_in(se, gateway_ns))
        {
            match &view.gateway_service_entries {
                Known::Yes(theirs) => {
                    let known = theirs.iter().any(|se| {
                        visible_in(se, gateway_ns) && se.spec.hosts.iter().any(|h| covers(h, &host))
                    });
                    if !known {
                        findings.push(finding(
                            codes::HOST_HIDDEN_FROM_GATEWAY,
                            Severity::Error,
                            format!(
                                "the egress gateway cannot see {host}: no ServiceEntry for it is visible in {gateway_ns} (exportTo \".\" hides this namespace's), so the gateway drops the traffic (istio#48300); ask the mesh admins for one, or run kubectl egress allow {host} --export-to . --export-to {gateway_ns}"
                            ),
                        ));
                    }
                }
                Known::Unknown(why) => findings.push(finding(
                    codes::UNKNOWN,
                    Severity::Info,
                    format!("cannot tell whether the egress gateway knows {host}: {why}"),
                )),
            }
        }
        if hop.gateway_host == DEFAULT_EGRESS_GATEWAY_HOST && mesh.egress_gateway == Some(false) {
            findings.push(finding(
                codes::NO_EGRESS_GATEWAY_SERVICE,
                Severity::Error,
                format!(
                    "Service {} does not exist: routed traffic to {host} has nowhere to go (503)",
                    short_service(&hop.gateway_host)
                ),
            ));
        }
    }

    let route = match (&settings.via_gateway, se) {
        (_, None) => Route {
            kind: "blocked",
            gateway_host: None,
            port: None,
            subset: None,
        },
        (Some(hop), _) => Route {
            kind: "gateway",
            gateway_host: Some(hop.gateway_host.clone()),
            port: Some(hop.port),
            subset: hop.subset.clone(),
        },
        (None, _) => Route {
            kind: "direct",
            gateway_host: None,
            port: None,
            subset: None,
        },
    };
    let mut path = match &route.gateway_host {
        _ if se.is_none() => {
            let policy = mesh.outbound_traffic_policy.as_deref();
            if policy == Some("ALLOW_ANY") {
                format!("sidecar -> {host}  (passthrough, no ServiceEntry)")
            } else {
                format!("sidecar -x {host}  (blocked: no ServiceEntry)")
            }
        }
        Some(gateway) => format!(
            "sidecar -> {}:{} -> {host}",
            short_service(gateway),
            route.port.unwrap_or(80)
        ),
        None => format!("sidecar -> {host}"),
    };
    if let Some(timeout) = &settings.timeout {
        path.push_str(&format!("  (timeout {timeout})"));
    }
    let managed =
        ses.iter().all(|o| o.metadata.is_managed()) && vss.iter().all(|o| o.metadata.is_managed());
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
    }
}

/// The table `status` prints: kubectl-style columns, then the path and findings per host.
pub fn table(report: &Report, all_namespaces: bool, wide: bool) -> String {
    let mut header = vec![];
    if all_namespaces {
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
    if wide {
        header.extend(["SERVICEENTRY", "VIRTUALSERVICES"]);
    }
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for h in &report.hosts {
        let mut row = vec![];
        if all_namespaces {
            row.push(h.namespace.clone());
        }
        let ports = h
            .ports
            .iter()
            .map(|p| format!("{}/{}", p.number, p.protocol))
            .collect::<Vec<_>>()
            .join(",");
        let route = match h.route.kind {
            "gateway" => format!(
                "via {}",
                short_service(h.route.gateway_host.as_deref().unwrap_or(""))
            ),
            other => other.to_string(),
        };
        let codes: Vec<&str> = h
            .findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .map(|f| f.code)
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
        if wide {
            row.push(or_dash(h.service_entry.clone().unwrap_or_default()));
            row.push(or_dash(h.virtual_services.join(",")));
        }
        rows.push(row);
    }
    let mut out = if report.hosts.is_empty() {
        String::from("No external hosts found.\n")
    } else {
        columns(&rows)
    };
    for h in &report.hosts {
        out.push('\n');
        if all_namespaces {
            out.push_str(&format!("{}/{}\n", h.namespace, h.host));
        } else {
            out.push_str(&format!("{}\n", h.host));
        }
        out.push_str(&format!("  {}\n", h.path));
        for f in &h.findings {
            out.push_str(&format!(
                "  {} {}: {}\n",
                f.code,
                severity_word(f.severity),
                f.message
            ));
        }
    }
    out.push('\n');
    out.push_str("mesh\n");
    for f in &report.mesh.findings {
        out.push_str(&format!(
            "  {} {}: {}\n",
            f.code,
            severity_word(f.severity),
            f.message
        ));
    }
    if let Some(false) = report.mesh.egress_gateway {
        out.push_str("  egress gateway: istio-egressgateway not found in istio-system\n");
    }
    for why in &report.mesh.unknown {
        out.push_str(&format!("  unknown {why}\n"));
    }
    out
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
    }
}

fn or_dash(s: String) -> String {
    if s.is_empty() { "-".to_string() } else { s }
}

/// Left-aligned columns separated by three spaces, as kubectl prints tables.
pub fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::plan::{self, AllowOptions, GatewayHop, Target};
    use crate::core::validate::Host;

    fn target(ns: &str) -> Target {
        Target {
            namespace: ns.into(),
            api_version: ApiVersion::V1,
        }
    }

    fn view() -> ClusterView {
        ClusterView {
            service_entries: vec![],
            virtual_services: vec![],
            gateways: Known::Yes(vec![]),
            gateway_service_entries: Known::Yes(vec![]),
            egress_gateway_service: Known::Yes(true),
            outbound_policy: Known::Yes(Some("REGISTRY_ONLY".into())),
        }
    }

    fn codes(report: &Report) -> Vec<&'static str> {
        report
            .hosts
            .iter()
            .flat_map(|h| h.findings.iter().map(|f| f.code))
            .collect()
    }

    #[test]
    fn the_exercise_state_reads_back_with_its_path() {
        let host = Host::parse("httpbin.org").unwrap();
        let mut v = view();
        v.service_entries = vec![plan::service_entry(
            &target("s1"),
            &host,
            &AllowOptions::default(),
        )];
        let settings = plan::RouteSettings {
            timeout: Some("0.5s".into()),
            via_gateway: Some(GatewayHop::default()),
            export_to: vec![],
        };
        v.virtual_services =
            vec![plan::virtual_service(&target("s1"), "httpbin", &host, &settings).unwrap()];
        v.gateways = Known::Yes(vec![Gateway {
            api_version: "networking.istio.io/v1".into(),
            kind: "Gateway".into(),
            metadata: Metadata::default(),
            spec: GatewaySpec {
                selector: Default::default(),
                servers: vec![GatewayServer {
                    hosts: vec!["httpbin.org".into()],
                    port: None,
                }],
            },
        }]);
        // The admins' ServiceEntry in istio-system makes httpbin.org known to the gateway.
        v.gateway_service_entries = Known::Yes(vec![plan::service_entry(
            &target(GATEWAY_NAMESPACE),
            &host,
            &AllowOptions::default(),
        )]);
        let report = analyse(&v, &[]);
        assert_eq!(report.hosts.len(), 1);
        let h = &report.hosts[0];
        assert_eq!(
            h.path,
            "sidecar -> istio-egressgateway.istio-system:80 -> httpbin.org  (timeout 0.5s)"
        );
        assert!(h.managed);
        assert_eq!(codes(&report), vec![codes::TIMEOUT_NOT_ON_HTTPS]);
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
                ports: vec![crate::core::validate::PortSpec::parse("443").unwrap()],
                export_to: vec!["*".into()],
                ..AllowOptions::default()
            },
        );
        se.metadata.labels.clear();
        v.service_entries = vec![se];
        let settings = plan::RouteSettings {
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
            codes::DUPLICATE_VIRTUAL_SERVICE,
            codes::EXPORTED_BEYOND_NAMESPACE,
            codes::TIMEOUT_WITHOUT_HTTP,
            codes::NO_GATEWAY_FOR_HOST,
            codes::NO_EGRESS_GATEWAY_SERVICE,
        ] {
            assert!(found.contains(&code), "{code} missing from {found:?}");
        }
        assert!(!report.hosts[0].managed);
        assert_eq!(report.worst(), Some(Severity::Error));
    }

    #[test]
    fn route_without_service_entry_and_unknowns() {
        let host = Host::parse("api.example.com").unwrap();
        let mut v = view();
        let settings = plan::RouteSettings {
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
        assert_eq!(h.route.kind, "blocked");
        assert!(codes(&report).contains(&codes::NO_SERVICE_ENTRY));
        assert!(codes(&report).contains(&codes::UNKNOWN));
        assert_eq!(report.mesh.outbound_traffic_policy, None);
        assert_eq!(report.mesh.unknown.len(), 2);
        let text = table(&report, false, false);
        assert!(text.contains("unknown gateways: forbidden"), "{text}");
    }

    #[test]
    fn in_mesh_and_ingress_routes_are_not_egress() {
        let mut v = view();
        let internal = Host::parse("name").unwrap();
        let settings = plan::RouteSettings {
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
        assert!(state(&[], Known::Yes(vec![])).contains(&codes::HOST_HIDDEN_FROM_GATEWAY));
        // Exported to istio-system (the fix the finding suggests), or to everyone: seen.
        let seen = |codes: Vec<&str>| !codes.contains(&codes::HOST_HIDDEN_FROM_GATEWAY);
        let exported = state(&[".", GATEWAY_NAMESPACE], Known::Yes(vec![]));
        assert!(seen(exported.clone()));
        // ... and that is no EGR003 (visible beyond the namespace): the gateway needs it.
        assert!(!exported.contains(&codes::EXPORTED_BEYOND_NAMESPACE));
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
        assert!(seen(unknown.clone()) && unknown.contains(&codes::UNKNOWN));
    }

    #[test]
    fn host_patterns_cover_like_istio() {
        assert!(covers("httpbin.org", "httpbin.org"));
        assert!(covers("*", "httpbin.org"));
        assert!(covers("*.example.org", "api.example.org"));
        assert!(!covers("*.example.org", "example.org"));
        assert!(!covers("*.example.org", "api.example.org.evil.com"));
        assert!(!covers("*xample.org", "example.org"));
    }

    #[test]
    fn columns_align_like_kubectl() {
        let rows = vec![
            vec!["A".to_string(), "BB".to_string()],
            vec!["ccc".to_string(), "d".to_string()],
        ];
        assert_eq!(columns(&rows), "A     BB\nccc   d\n");
    }
}
