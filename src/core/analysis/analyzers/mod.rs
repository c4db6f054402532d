//! One analyzer per finding code, the way istioctl's analyzers are organised: each reads what
//! `status` knows about one host (its objects in Istio's order, the route settings, the per-port
//! traffic) or, for the mesh's own finding, what was read of the mesh, and returns its findings,
//! all of its own code. Codes, severities and messages are in the catalogue (`findings.rs`).
//! Pure; each has its unit tests in tests.rs.

use super::findings::{Code, Finding, Severity};
use crate::core::mesh::sidecar;
use crate::core::mesh::traffic::{
    Outcome, Response, Traffic, Via, Wire, covers, exported_to, short_service,
};
use crate::core::mesh::view::{ClusterView, GATEWAY_NAMESPACE, Known};
use crate::core::objects::istio::*;
use crate::core::objects::plan::RouteSettings;
use crate::core::objects::validate::is_http_protocol;

/// What the analyzers know about one external host of one namespace.
pub struct HostFacts<'a> {
    pub view: &'a ClusterView,
    /// Whether Service istio-system/istio-egressgateway exists (None: unknown).
    pub egress_gateway: Option<bool>,
    /// The namespace whose sidecars' view this is.
    pub namespace: &'a str,
    pub host: &'a str,
    /// In Istio's order: the first defines the host's ports.
    pub service_entries: &'a [&'a ServiceEntry],
    /// In Istio's order: the first is the one Istio applies.
    pub virtual_services: &'a [&'a VirtualService],
    /// What the applied VirtualService sets (timeout, gateway hop).
    pub settings: &'a RouteSettings,
    pub traffic: &'a [Traffic],
    /// In the egress gateway's namespace: the gateway's side of the host (else empty).
    pub gateway: &'a [Traffic],
}

impl<'a> HostFacts<'a> {
    fn service_entry(&self) -> Option<&'a ServiceEntry> {
        self.service_entries.first().copied()
    }

    fn virtual_service(&self) -> Option<&'a VirtualService> {
        self.virtual_services.first().copied()
    }

    fn ports(&self) -> &'a [ServicePort] {
        self.service_entry()
            .map(|se| se.spec.ports.as_slice())
            .unwrap_or_default()
    }

    /// The namespace of the gateway the host is routed through, when it is istio-system and
    /// none of the namespace's ServiceEntries for the host is visible there: then the gateway
    /// needs one of its own (EGR010), if it can be read (else EGR009).
    fn hidden_from_gateway_namespace(&self) -> Option<&'a str> {
        let hop = self.settings.via_gateway.as_ref()?;
        let gateway_ns = service_namespace(&hop.gateway_host)?;
        let hidden = gateway_ns == GATEWAY_NAMESPACE
            && self.service_entry().is_some()
            && !self
                .service_entries
                .iter()
                .any(|se| exported_to(se, gateway_ns));
        hidden.then_some(GATEWAY_NAMESPACE)
    }
}

/// The namespace of a Service FQDN (`istio-egressgateway.istio-system.svc.cluster.local`).
fn service_namespace(fqdn: &str) -> Option<&str> {
    fqdn.split('.').nth(1)
}

/// What an analyzer reads.
#[derive(Clone, Copy)]
pub enum Analyzer {
    /// One host of one namespace: every finding but the mesh's.
    Host(fn(&HostFacts) -> Vec<Finding>),
    /// The mesh as read (EGR007).
    Mesh(fn(&ClusterView) -> Vec<Finding>),
}

/// Every analyzer, one per code of the catalogue, in the order their findings are reported.
pub const ANALYZERS: [(Code, Analyzer); 23] = [
    mesh(Code::MeshPolicy, mesh_policy),
    host(Code::DuplicateVirtualService, duplicate_virtual_services),
    host(Code::DuplicateServiceEntry, duplicate_service_entries),
    host(Code::NoServiceEntry, no_service_entry),
    host(Code::ExportedBeyondNamespace, exported_beyond_namespace),
    host(Code::TimeoutWithoutHttp, timeout_without_http),
    host(Code::TimeoutNotOnHttps, timeout_not_on_https),
    host(Code::NoGatewayForHost, no_gateway_for_host),
    // Between EGR005 and EGR010: each unknown stands where the finding it replaces would.
    host(Code::Unknown, unknown),
    host(Code::HostHiddenFromGateway, host_hidden_from_gateway),
    host(Code::NoEgressGatewayService, no_egress_gateway_service),
    host(Code::RouteIgnored, route_ignored),
    host(Code::NoCluster, no_cluster),
    host(Code::TcpPortCatchesAll, tcp_port_catches_all),
    host(Code::RoutedByListenerPort, routed_by_listener_port),
    host(Code::NotThroughGateway, not_through_gateway),
    host(Code::TlsRouteNotOnTlsPort, tls_route_not_on_tls_port),
    host(Code::PlainHttpToTlsPort, plain_http_to_tls_port),
    host(Code::TlsTwice, tls_twice),
    host(Code::NoTlsServerAtGateway, no_tls_server_at_gateway),
    host(Code::TlsToPlainPort, tls_to_plain_port),
    host(Code::GatewaySideFails, gateway_side_fails),
    host(Code::SidecarDoesNotImport, sidecar_does_not_import),
];

const fn host(code: Code, analyzer: fn(&HostFacts) -> Vec<Finding>) -> (Code, Analyzer) {
    (code, Analyzer::Host(analyzer))
}

const fn mesh(code: Code, analyzer: fn(&ClusterView) -> Vec<Finding>) -> (Code, Analyzer) {
    (code, Analyzer::Mesh(analyzer))
}

/// One host's findings.
pub fn run(facts: &HostFacts) -> Vec<Finding> {
    ANALYZERS
        .iter()
        .flat_map(|(code, analyzer)| match analyzer {
            Analyzer::Host(analyzer) => of_its_code(*code, analyzer(facts)),
            Analyzer::Mesh(_) => vec![],
        })
        .collect()
}

/// The mesh's findings.
pub fn run_mesh(view: &ClusterView) -> Vec<Finding> {
    ANALYZERS
        .iter()
        .flat_map(|(code, analyzer)| match analyzer {
            Analyzer::Mesh(analyzer) => of_its_code(*code, analyzer(view)),
            Analyzer::Host(_) => vec![],
        })
        .collect()
}

/// An analyzer reports its own code only (checked in debug builds, which the tests are).
fn of_its_code(code: Code, findings: Vec<Finding>) -> Vec<Finding> {
    debug_assert!(
        findings.iter().all(|f| f.code == code),
        "the analyzer for {code} reported {:?}",
        findings.iter().map(|f| f.code).collect::<Vec<_>>()
    );
    findings
}

/// EGR007: the mesh's outboundTrafficPolicy, which decides what happens to unknown hosts.
pub fn mesh_policy(view: &ClusterView) -> Vec<Finding> {
    let Known::Yes(mode) = view.outbound_mode() else {
        return vec![];
    };
    let effect = if mode == "REGISTRY_ONLY" {
        "hosts without a ServiceEntry are blocked (HTTP 502, TLS errors)"
    } else {
        "unknown hosts pass through, ServiceEntries add control but are not required"
    };
    vec![Code::MeshPolicy.finding(&[("mode", &mode), ("effect", &effect)])]
}

/// EGR001: Istio never merges two VirtualServices for a host; it applies the first.
pub fn duplicate_virtual_services(f: &HostFacts) -> Vec<Finding> {
    if f.virtual_services.len() < 2 {
        return vec![];
    }
    let names: Vec<&str> = f
        .virtual_services
        .iter()
        .map(|v| v.metadata.name.as_str())
        .collect();
    vec![Code::DuplicateVirtualService.finding(&[
        ("count", &names.len()),
        ("host", &f.host),
        ("names", &names.join(", ")),
        ("first", &names[0]),
    ])]
}

/// EGR016: several ServiceEntries of the namespace for one host.
pub fn duplicate_service_entries(f: &HostFacts) -> Vec<Finding> {
    if f.service_entries.len() < 2 {
        return vec![];
    }
    let names: Vec<&str> = f
        .service_entries
        .iter()
        .map(|s| s.metadata.name.as_str())
        .collect();
    vec![Code::DuplicateServiceEntry.finding(&[
        ("count", &names.len()),
        ("host", &f.host),
        ("names", &names.join(", ")),
    ])]
}

/// EGR002: a route for a host no ServiceEntry allows.
pub fn no_service_entry(f: &HostFacts) -> Vec<Finding> {
    let (None, Some(vs)) = (f.service_entry(), f.virtual_service()) else {
        return vec![];
    };
    vec![Code::NoServiceEntry.finding(&[("virtual_service", &vs.metadata.name), ("host", &f.host)])]
}

/// EGR003: a ServiceEntry visible beyond its namespace. istio-system does not count for a host
/// routed through the egress gateway there, which needs to see it (EGR010).
pub fn exported_beyond_namespace(f: &HostFacts) -> Vec<Finding> {
    f.service_entries
        .iter()
        .filter_map(|se| {
            let beyond: Vec<&str> = se
                .spec
                .export_to
                .iter()
                .filter(|e| {
                    e.as_str() != "." && Some(e.as_str()) != se.metadata.namespace.as_deref()
                })
                .filter(|e| !(f.settings.via_gateway.is_some() && e.as_str() == GATEWAY_NAMESPACE))
                .map(String::as_str)
                .collect();
            if !se.spec.export_to.is_empty() && beyond.is_empty() {
                return None;
            }
            let to = if se.spec.export_to.is_empty() {
                "every namespace (no exportTo)".to_string()
            } else {
                beyond.join(", ")
            };
            Some(Code::ExportedBeyondNamespace.finding(&[
                ("service_entry", &se.metadata.name),
                ("to", &to),
                ("host", &f.host),
            ]))
        })
        .collect()
}

/// EGR004: a timeout on a host with no HTTP port never applies.
pub fn timeout_without_http(f: &HostFacts) -> Vec<Finding> {
    let (Some(timeout), Some(_)) = (&f.settings.timeout, f.service_entry()) else {
        return vec![];
    };
    if f.ports().iter().any(|p| is_http_protocol(&p.protocol)) {
        return vec![];
    }
    vec![Code::TimeoutWithoutHttp.finding(&[("timeout", timeout), ("host", &f.host)])]
}

/// EGR008: the timeout applies to the HTTP ports only.
pub fn timeout_not_on_https(f: &HostFacts) -> Vec<Finding> {
    let (Some(timeout), Some(_)) = (&f.settings.timeout, f.service_entry()) else {
        return vec![];
    };
    let ports = f.ports();
    let other: Vec<String> = ports
        .iter()
        .filter(|p| !is_http_protocol(&p.protocol))
        .map(|p| format!("{}/{}", p.number, p.protocol))
        .collect();
    if other.is_empty() || !ports.iter().any(|p| is_http_protocol(&p.protocol)) {
        return vec![];
    }
    // TLS already opened for plain HTTP (by the sidecar or the gateway): HTTPS calls can be made
    // that way, with the timeout.
    let originates = f
        .traffic
        .iter()
        .any(|t| t.wire == Some(Wire::Http) && t.upstream_tls.is_some());
    let hint = if originates {
        String::new()
    } else {
        format!(
            "; for a timeout on HTTPS calls: kubectl egress allow {} --tls-origination",
            f.host
        )
    };
    vec![Code::TimeoutNotOnHttps.finding(&[
        ("timeout", timeout),
        ("ports", &other.join(", ")),
        ("hint", &hint),
    ])]
}

/// EGR005: routed via the gateway, but no Gateway in istio-system exposes the host (404).
pub fn no_gateway_for_host(f: &HostFacts) -> Vec<Finding> {
    if f.settings.via_gateway.is_none() {
        return vec![];
    }
    let host = f.host;
    let Known::Yes(gateways) = &f.view.gateways else {
        return vec![];
    };
    let listed = gateways.iter().any(|g| {
        g.spec.servers.iter().any(|s| {
            // Gateway hosts may be written namespace/host.
            s.hosts
                .iter()
                .any(|h| covers(h.rsplit('/').next().unwrap_or(h), host))
        })
    });
    if listed {
        return vec![];
    }
    vec![Code::NoGatewayForHost.finding(&[("host", &host)])]
}

/// EGR009: what EGR005 and EGR010 need could not be read (istio-system's Gateways, its
/// ServiceEntries).
pub fn unknown(f: &HostFacts) -> Vec<Finding> {
    let host = f.host;
    let mut found = vec![];
    if f.settings.via_gateway.is_some()
        && let Known::Unknown(why) = &f.view.gateways
    {
        found.push(
            Code::Unknown.finding(&[("what", &format!("a Gateway exposes {host}")), ("why", why)]),
        );
    }
    if f.hidden_from_gateway_namespace().is_some()
        && let Known::Unknown(why) = &f.view.gateway_service_entries
    {
        found.push(Code::Unknown.finding(&[
            ("what", &format!("the egress gateway knows {host}")),
            ("why", why),
        ]));
    }
    found
}

/// EGR010: exportTo ["."] hides the namespace's ServiceEntry from the gateway's namespace: unless
/// something there makes the host known, the gateway drops what it is sent (istio#48300).
pub fn host_hidden_from_gateway(f: &HostFacts) -> Vec<Finding> {
    let host = f.host;
    let (Some(gateway_ns), Known::Yes(theirs)) = (
        f.hidden_from_gateway_namespace(),
        &f.view.gateway_service_entries,
    ) else {
        return vec![];
    };
    let known = theirs
        .iter()
        .any(|se| exported_to(se, gateway_ns) && se.spec.hosts.iter().any(|h| covers(h, host)));
    if known {
        return vec![];
    }
    vec![Code::HostHiddenFromGateway.finding(&[("host", &host), ("namespace", &gateway_ns)])]
}

/// EGR006: routed via the default egress gateway, whose Service does not exist.
pub fn no_egress_gateway_service(f: &HostFacts) -> Vec<Finding> {
    match &f.settings.via_gateway {
        Some(hop)
            if hop.gateway_host == DEFAULT_EGRESS_GATEWAY_HOST
                && f.egress_gateway == Some(false) =>
        {
            vec![Code::NoEgressGatewayService.finding(&[
                ("service", &short_service(&hop.gateway_host)),
                ("host", &f.host),
            ])]
        }
        _ => vec![],
    }
}

/// EGR011: a route matching a port Istio does not route as HTTP for this host is dropped.
pub fn route_ignored(f: &HostFacts) -> Vec<Finding> {
    let (Some(vs), se) = (f.virtual_service(), f.service_entry()) else {
        return vec![];
    };
    let host = f.host;
    vs.spec
        .http
        .iter()
        .flat_map(|r| &r.matches)
        .filter_map(|m| m.port)
        .filter_map(|port| {
            let t = f.traffic.iter().find(|t| t.port == port)?;
            let declared = se.and_then(|se| se.spec.ports.iter().find(|p| p.number == port));
            let why = match declared {
                Some(p) if !is_http_protocol(&p.protocol) => format!(
                    "port {port} of {host} is {}, and an http route never applies to it",
                    p.protocol
                ),
                // Port 80 of a host the ServiceEntry lacks still gets the route (Istio makes a
                // virtual host on 80 for every VirtualService host): not ignored.
                None if se.is_some() && t.via != Via::Gateway => format!(
                    "ServiceEntry {} gives {host} no port {port}",
                    se.map(|s| s.metadata.name.as_str()).unwrap_or_default()
                ),
                _ => return None,
            };
            let goes = if t.via == Via::Blocked {
                "nowhere"
            } else {
                t.via.as_str()
            };
            Some(Code::RouteIgnored.finding(&[
                ("virtual_service", &vs.metadata.name),
                ("port", &port),
                ("why", &why),
                ("where", &goes),
            ]))
        })
        .collect()
}

/// EGR012: a route to a cluster Istio does not push: 503 NC.
pub fn no_cluster(f: &HostFacts) -> Vec<Finding> {
    f.traffic
        .iter()
        .filter(|t| t.outcome == Outcome::NoCluster)
        .map(|t| {
            Code::NoCluster.finding(&[
                ("host", &f.host),
                ("port", &t.port),
                ("response", &t.response.unwrap_or(Response::NoCluster)),
                (
                    "why",
                    &t.reason
                        .as_deref()
                        .unwrap_or("Istio has no cluster for the route's destination"),
                ),
            ])
        })
        .collect()
}

/// EGR013: a TCP port with no addresses takes every connection on that port (IST0134).
pub fn tcp_port_catches_all(f: &HostFacts) -> Vec<Finding> {
    let Some(se) = f.service_entry().filter(|se| se.spec.addresses.is_empty()) else {
        return vec![];
    };
    se.spec
        .ports
        .iter()
        .filter(|p| Wire::of(&p.protocol) == Wire::Tcp)
        .map(|p| {
            Code::TcpPortCatchesAll.finding(&[
                ("port", &p.number),
                ("protocol", &p.protocol),
                ("service_entry", &se.metadata.name),
                ("host", &f.host),
            ])
        })
        .collect()
}

/// EGR014: the exercise's timeout VirtualService names no port on a host with two: Istio routes
/// it by the listener's port (istioctl analyze reports IST0112 for it).
pub fn routed_by_listener_port(f: &HostFacts) -> Vec<Finding> {
    let (Some(se), Some(vs)) = (f.service_entry(), f.virtual_service()) else {
        return vec![];
    };
    let portless = vs.spec.http.iter().any(|r| {
        r.route
            .iter()
            .any(|d| d.destination.host == f.host && d.destination.port.is_none())
    });
    if se.spec.ports.len() < 2 || !portless {
        return vec![];
    }
    vec![Code::RoutedByListenerPort.finding(&[
        ("virtual_service", &vs.metadata.name),
        ("host", &f.host),
        ("count", &se.spec.ports.len()),
    ])]
}

/// EGR015: only the ports a gateway route matches go through the gateway.
pub fn not_through_gateway(f: &HostFacts) -> Vec<Finding> {
    if f.settings.via_gateway.is_none() || !f.traffic.iter().any(|t| t.via == Via::Gateway) {
        return vec![];
    }
    let direct: Vec<String> = f
        .traffic
        .iter()
        .filter(|t| t.via == Via::Direct)
        .map(|t| format!("{}/{}", t.port, t.protocol))
        .collect();
    if direct.is_empty() {
        return vec![];
    }
    vec![Code::NotThroughGateway.finding(&[("ports", &direct.join(", ")), ("host", &f.host)])]
}

/// EGR017: a `tls` route (via-gateway --tls) for a port the ServiceEntry does not declare as
/// TLS or HTTPS: Istio routes TLS by SNI only on such ports, so the route is ignored.
pub fn tls_route_not_on_tls_port(f: &HostFacts) -> Vec<Finding> {
    let (Some(vs), Some(se)) = (f.virtual_service(), f.service_entry()) else {
        return vec![];
    };
    let host = f.host;
    let mut ports: Vec<u32> = vs
        .spec
        .tls
        .iter()
        .flat_map(|r| &r.matches)
        .filter_map(|m| m.port)
        .collect();
    ports.dedup();
    ports
        .into_iter()
        .filter_map(|port| {
            let declared = se.spec.ports.iter().find(|p| p.number == port);
            let what = match declared {
                Some(p) if Wire::of(&p.protocol) == Wire::Tls => return None,
                Some(p) => format!("{port}/{}", p.protocol),
                None => format!("no port {port}"),
            };
            let goes = f
                .traffic
                .iter()
                .find(|t| t.port == port)
                .map(|t| format!(" (requests to port {port} go {})", t.via))
                .unwrap_or_default();
            Some(Code::TlsRouteNotOnTlsPort.finding(&[
                ("virtual_service", &vs.metadata.name),
                ("port", &port),
                ("service_entry", &se.metadata.name),
                ("host", &host),
                ("what", &what),
                ("where", &goes),
            ]))
        })
        .collect()
}

/// EGR018: plain HTTP leaves for the host's 443 with no TLS originated: an HTTPS server answers
/// it with an error (400, or a reset). The ServiceEntry's targetPort 443 (or the gateway's second
/// hop to 443) without the DestinationRule that opens TLS.
pub fn plain_http_to_tls_port(f: &HostFacts) -> Vec<Finding> {
    f.traffic
        .iter()
        .filter(|t| t.wire == Some(Wire::Http) && t.outcome == Outcome::Egress)
        .filter(|t| t.upstream_tls.is_none())
        // Sent to 443 by the config (targetPort, the gateway's second hop), not by the client.
        .filter(|t| t.port != 443 || t.via == Via::Gateway)
        .filter(|t| t.hops.last().is_some_and(|h| h.ends_with(":443")))
        .map(|t| {
            let at_gateway = t.via == Via::Gateway;
            let proxy = if at_gateway {
                "the egress gateway"
            } else {
                "the sidecar"
            };
            let fix = if at_gateway {
                format!(
                    "the admins run kubectl egress gateway {} --tls-origination",
                    f.host
                )
            } else {
                format!("kubectl egress allow {} --tls-origination", f.host)
            };
            Code::PlainHttpToTlsPort.finding(&[
                ("port", &t.port),
                ("proxy", &proxy),
                (
                    "destination",
                    &t.hops.last().map(String::as_str).unwrap_or(f.host),
                ),
                ("fix", &fix),
            ])
        })
        .collect()
}

/// EGR019: TLS from the application is encrypted a second time: a DestinationRule originates TLS
/// on the port the client's own TLS leaves on (e.g. `gateway --tls-origination`'s rule for 443
/// under a passthrough route).
pub fn tls_twice(f: &HostFacts) -> Vec<Finding> {
    let found = f
        .traffic
        .iter()
        .filter(|t| t.wire == Some(Wire::Tls) && t.outcome == Outcome::Egress)
        .filter_map(|t| {
            let mode = t.upstream_tls.as_deref()?;
            Some(Code::TlsTwice.finding(&[
                ("port", &t.port),
                ("host", &f.host),
                ("mode", &mode),
                (
                    "destination",
                    &t.hops.last().map(String::as_str).unwrap_or(f.host),
                ),
            ]))
        });
    // In the gateway's namespace the sidecar's view is of pods there, rarely any: a rule that
    // originates TLS for the gateway (gateway --tls-origination) would wrap their own TLS
    // again, which is worth knowing, not an error of the gateway's.
    if f.namespace != GATEWAY_NAMESPACE {
        return found.collect();
    }
    found
        .map(|mut finding| {
            finding.severity = Severity::Info;
            finding.message = format!(
                "for a pod with a sidecar in {GATEWAY_NAMESPACE}: {}",
                finding.message
            );
            finding
        })
        .collect()
}

/// EGR020: TLS sent to the egress gateway (via-gateway --tls) finds no passthrough server or
/// route there for the host.
pub fn no_tls_server_at_gateway(f: &HostFacts) -> Vec<Finding> {
    f.traffic
        .iter()
        .filter(|t| t.wire == Some(Wire::Tls) && t.via == Via::Gateway)
        .filter(|t| matches!(t.outcome, Outcome::NoListener | Outcome::NoRoute))
        .map(|t| Code::NoTlsServerAtGateway.finding(&[("host", &f.host), ("port", &t.port)]))
        .collect()
}

/// EGR022: a proxy opens TLS to port 80 of the host: web servers speak plain HTTP there, so
/// the handshake fails. A DestinationRule that originates TLS for port 80 without the
/// ServiceEntry sending that port to 443 (`targetPort`), as `allow --tls-origination` writes both.
pub fn tls_to_plain_port(f: &HostFacts) -> Vec<Finding> {
    f.traffic
        .iter()
        .filter(|t| t.outcome == Outcome::Egress && t.upstream_tls.is_some())
        .filter(|t| t.hops.last().is_some_and(|h| h.ends_with(":80")))
        .map(|t| {
            Code::TlsToPlainPort.finding(&[
                (
                    "destination",
                    &t.hops.last().map(String::as_str).unwrap_or(f.host),
                ),
                ("port", &t.port),
                ("host", &f.host),
            ])
        })
        .collect()
}

/// EGR023: a Sidecar scoping the namespace's workloads, or some of them, that does not import
/// the namespace's own ServiceEntry or VirtualService for the host.
pub fn sidecar_does_not_import(f: &HostFacts) -> Vec<Finding> {
    let own = |namespace: Option<&str>| namespace == Some(f.namespace);
    let entry = f
        .service_entries
        .iter()
        .any(|se| own(se.metadata.namespace.as_deref()));
    let route = f
        .virtual_services
        .iter()
        .any(|vs| own(vs.metadata.namespace.as_deref()));
    sidecar::missing_imports(&f.view.scope, f.namespace, f.host, entry, route)
        .iter()
        .map(|m| m.finding(f.host))
        .collect()
}

impl sidecar::MissingImport {
    /// As EGR023 says it.
    pub fn finding(&self, host: &str) -> Finding {
        Code::SidecarDoesNotImport.finding(&[
            ("whose", &self.whose),
            ("what", &self.what),
            ("host", &host),
            ("sidecar", &self.sidecar),
            ("imports", &self.egress.join(", ")),
        ])
    }
}

/// EGR021: in the gateway's namespace, a request that reaches the egress gateway for the host
/// fails there (its side of the host, `gateway` in the report).
pub fn gateway_side_fails(f: &HostFacts) -> Vec<Finding> {
    f.gateway
        .iter()
        .filter(|t| !matches!(t.outcome, Outcome::Egress | Outcome::Unknown))
        .map(|t| {
            let what = if t.wire == Some(Wire::Tls) {
                "TLS connections"
            } else {
                "requests"
            };
            Code::GatewaySideFails.finding(&[
                ("what", &what),
                ("host", &f.host),
                ("port", &t.port),
                (
                    "response",
                    &t.response.map(|r| format!(" {r}")).unwrap_or_default(),
                ),
                ("outcome", &t.outcome),
                (
                    "why",
                    &t.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default(),
                ),
            ])
        })
        .collect()
}

#[cfg(test)]
mod tests;
