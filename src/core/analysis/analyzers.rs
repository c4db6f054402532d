//! One analyzer per finding code, the way istioctl's analyzers are organised: each reads what
//! `status` knows about one host (its objects in Istio's order, the route settings, the per-port
//! traffic) or, for the mesh's own finding, what was read of the mesh, and returns its findings,
//! all of its own code. Codes, severities and messages are in the catalogue (`findings.rs`).
//! Pure; each has its unit tests below.

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
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::core::analysis::findings::CATALOGUE;
    use crate::core::objects::plan::{self, AllowOptions, GatewayHop, Target};
    use crate::core::objects::validate::{Host, PortSpec};

    const HOST: &str = "httpbin.org";

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
            services: BTreeMap::new(),
            outbound_policy: Known::Yes(Some("REGISTRY_ONLY".into())),
            scope: Default::default(),
        }
    }

    fn target() -> Target {
        Target::v1("s1")
    }

    fn se(options: AllowOptions) -> ServiceEntry {
        plan::service_entry(&target(), &Host::parse(HOST).unwrap(), &options)
    }

    fn vs(name: &str, settings: &RouteSettings) -> VirtualService {
        plan::virtual_service(&target(), name, &Host::parse(HOST).unwrap(), settings).unwrap()
    }

    fn traffic(port: u32, protocol: &str, via: Via, outcome: Outcome) -> Traffic {
        let mut t = Traffic::starting(port, protocol, "sidecar".into());
        t.via = via;
        t.outcome = outcome;
        t.response = (outcome == Outcome::NoCluster).then_some(Response::NoCluster);
        t
    }

    /// Runs one analyzer on a host's objects; the traffic is given, as the model would compute it.
    fn codes_of(
        analyzer: fn(&HostFacts) -> Vec<Finding>,
        view: &ClusterView,
        ses: &[ServiceEntry],
        vss: &[VirtualService],
        traffic: &[Traffic],
    ) -> Vec<Code> {
        let ses: Vec<&ServiceEntry> = ses.iter().collect();
        let vss: Vec<&VirtualService> = vss.iter().collect();
        let settings = vss
            .first()
            .map(|v| RouteSettings::from_virtual_service(HOST, &v.spec))
            .unwrap_or_default();
        let facts = HostFacts {
            view,
            egress_gateway: match view.egress_gateway_service {
                Known::Yes(b) => Some(b),
                Known::Unknown(_) => None,
            },
            namespace: "s1",
            host: HOST,
            service_entries: &ses,
            virtual_services: &vss,
            settings: &settings,
            traffic,
            gateway: &[],
        };
        analyzer(&facts).iter().map(|f| f.code).collect()
    }

    fn timeout(t: &str) -> RouteSettings {
        RouteSettings {
            timeout: Some(t.into()),
            ..RouteSettings::default()
        }
    }

    fn via_gateway(port: u16) -> RouteSettings {
        RouteSettings {
            via_gateway: Some(GatewayHop {
                port,
                ..GatewayHop::default()
            }),
            ..RouteSettings::default()
        }
    }

    fn ports(specs: &[&str]) -> AllowOptions {
        AllowOptions {
            ports: specs.iter().map(|p| PortSpec::parse(p).unwrap()).collect(),
            ..AllowOptions::default()
        }
    }

    #[test]
    fn egr001_two_virtual_services() {
        let one = [vs("a", &timeout("1s"))];
        let two = [vs("a", &timeout("1s")), vs("b", &timeout("2s"))];
        let v = view();
        assert!(codes_of(duplicate_virtual_services, &v, &[], &one, &[]).is_empty());
        assert_eq!(
            codes_of(duplicate_virtual_services, &v, &[], &two, &[]),
            [Code::DuplicateVirtualService]
        );
    }

    #[test]
    fn egr016_two_service_entries() {
        let v = view();
        let mut other = se(AllowOptions::default());
        other.metadata.name = "other".into();
        assert!(
            codes_of(
                duplicate_service_entries,
                &v,
                &[se(AllowOptions::default())],
                &[],
                &[]
            )
            .is_empty()
        );
        assert_eq!(
            codes_of(
                duplicate_service_entries,
                &v,
                &[se(AllowOptions::default()), other],
                &[],
                &[]
            ),
            [Code::DuplicateServiceEntry]
        );
    }

    #[test]
    fn egr002_route_without_service_entry() {
        let v = view();
        let route = [vs("a", &timeout("1s"))];
        assert_eq!(
            codes_of(no_service_entry, &v, &[], &route, &[]),
            [Code::NoServiceEntry]
        );
        assert!(
            codes_of(
                no_service_entry,
                &v,
                &[se(AllowOptions::default())],
                &route,
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn egr003_visible_beyond_the_namespace() {
        let v = view();
        let export = |e: &[&str]| {
            se(AllowOptions {
                export_to: e.iter().map(|s| s.to_string()).collect(),
                ..AllowOptions::default()
            })
        };
        assert!(codes_of(exported_beyond_namespace, &v, &[export(&[])], &[], &[]).is_empty());
        assert_eq!(
            codes_of(exported_beyond_namespace, &v, &[export(&["*"])], &[], &[]),
            [Code::ExportedBeyondNamespace]
        );
        // istio-system is needed when the host goes through the gateway there.
        let to_gateway = export(&[".", GATEWAY_NAMESPACE]);
        assert_eq!(
            codes_of(
                exported_beyond_namespace,
                &v,
                std::slice::from_ref(&to_gateway),
                &[],
                &[]
            ),
            [Code::ExportedBeyondNamespace]
        );
        let routed = [vs("a", &via_gateway(80))];
        assert!(codes_of(exported_beyond_namespace, &v, &[to_gateway], &routed, &[]).is_empty());
    }

    #[test]
    fn egr004_and_egr008_timeouts_and_tls() {
        let v = view();
        let t = [vs("a", &timeout("1s"))];
        let https_only = [se(ports(&["443/HTTPS"]))];
        let both = [se(AllowOptions::default())];
        let http_only = [se(ports(&["80/HTTP"]))];
        assert_eq!(
            codes_of(timeout_without_http, &v, &https_only, &t, &[]),
            [Code::TimeoutWithoutHttp]
        );
        assert!(codes_of(timeout_without_http, &v, &both, &t, &[]).is_empty());
        assert_eq!(
            codes_of(timeout_not_on_https, &v, &both, &t, &[]),
            [Code::TimeoutNotOnHttps]
        );
        assert!(codes_of(timeout_not_on_https, &v, &http_only, &t, &[]).is_empty());
        assert!(codes_of(timeout_not_on_https, &v, &https_only, &t, &[]).is_empty());
    }

    #[test]
    fn egr005_no_gateway_exposes_the_host() {
        let routed = [vs("a", &via_gateway(80))];
        let mut v = view();
        assert_eq!(
            codes_of(no_gateway_for_host, &v, &[], &routed, &[]),
            [Code::NoGatewayForHost]
        );
        v.gateways = Known::Yes(vec![Gateway {
            unreadable: None,
            api_version: "networking.istio.io/v1".into(),
            kind: "Gateway".into(),
            metadata: Metadata::default(),
            spec: GatewaySpec {
                selector: BTreeMap::new(),
                servers: vec![GatewayServer {
                    hosts: vec![format!("./{HOST}")],
                    port: None,
                    tls: None,
                }],
            },
        }]);
        assert!(codes_of(no_gateway_for_host, &v, &[], &routed, &[]).is_empty());
        // Unreadable Gateways: EGR009 instead.
        v.gateways = Known::Unknown("forbidden".into());
        assert!(codes_of(no_gateway_for_host, &v, &[], &routed, &[]).is_empty());
    }

    #[test]
    fn egr009_what_could_not_be_read() {
        let routed = [vs("a", &via_gateway(80))];
        let hidden = [se(AllowOptions::default())];
        let mut v = view();
        assert!(codes_of(unknown, &v, &hidden, &routed, &[]).is_empty());
        v.gateways = Known::Unknown("forbidden".into());
        v.gateway_service_entries = Known::Unknown("forbidden".into());
        assert_eq!(
            codes_of(unknown, &v, &hidden, &routed, &[]),
            [Code::Unknown, Code::Unknown]
        );
        // Each stands in for the finding it cannot make.
        assert!(codes_of(no_gateway_for_host, &v, &hidden, &routed, &[]).is_empty());
        assert!(codes_of(host_hidden_from_gateway, &v, &hidden, &routed, &[]).is_empty());
        // Not routed via the gateway: nothing needed from istio-system.
        let direct = [vs("a", &timeout("1s"))];
        assert!(codes_of(unknown, &v, &hidden, &direct, &[]).is_empty());
    }

    #[test]
    fn egr007_the_mesh_policy() {
        let mut v = view();
        let messages = |v: &ClusterView| -> Vec<String> {
            run_mesh(v).into_iter().map(|f| f.message).collect()
        };
        assert_eq!(
            messages(&v),
            [
                "the mesh runs outboundTrafficPolicy REGISTRY_ONLY: hosts without a ServiceEntry are blocked (HTTP 502, TLS errors)"
            ]
        );
        v.outbound_policy = Known::Yes(None);
        assert_eq!(
            messages(&v),
            [
                "the mesh runs outboundTrafficPolicy ALLOW_ANY: unknown hosts pass through, ServiceEntries add control but are not required"
            ]
        );
        v.outbound_policy = Known::Unknown("forbidden".into());
        assert!(messages(&v).is_empty());
    }

    #[test]
    fn egr010_gateway_cannot_see_the_host() {
        let routed = [vs("a", &via_gateway(80))];
        let mut v = view();
        let hidden = [se(AllowOptions::default())];
        assert_eq!(
            codes_of(host_hidden_from_gateway, &v, &hidden, &routed, &[]),
            [Code::HostHiddenFromGateway]
        );
        let mut admins = se(AllowOptions::default());
        admins.metadata.namespace = Some(GATEWAY_NAMESPACE.into());
        v.gateway_service_entries = Known::Yes(vec![admins]);
        assert!(codes_of(host_hidden_from_gateway, &v, &hidden, &routed, &[]).is_empty());
    }

    #[test]
    fn egr006_no_egress_gateway_service() {
        let routed = [vs("a", &via_gateway(80))];
        let mut v = view();
        assert!(codes_of(no_egress_gateway_service, &v, &[], &routed, &[]).is_empty());
        v.egress_gateway_service = Known::Yes(false);
        assert_eq!(
            codes_of(no_egress_gateway_service, &v, &[], &routed, &[]),
            [Code::NoEgressGatewayService]
        );
    }

    #[test]
    fn egr011_route_on_a_port_istio_ignores() {
        let v = view();
        let on_443 = [vs("a", &via_gateway(443))];
        let on_80 = [vs("a", &via_gateway(80))];
        let both = [se(AllowOptions::default())];
        let t = [
            traffic(80, "HTTP", Via::Direct, Outcome::Egress),
            traffic(443, "HTTPS", Via::Direct, Outcome::Egress),
        ];
        assert_eq!(
            codes_of(route_ignored, &v, &both, &on_443, &t),
            [Code::RouteIgnored]
        );
        assert!(codes_of(route_ignored, &v, &both, &on_80, &t).is_empty());
        let no_8080 = [vs("a", &via_gateway(8080))];
        let t = [traffic(8080, "HTTP", Via::Blocked, Outcome::Blackhole)];
        assert_eq!(
            codes_of(route_ignored, &v, &both, &no_8080, &t),
            [Code::RouteIgnored]
        );
    }

    #[test]
    fn egr012_no_cluster() {
        let v = view();
        assert!(
            codes_of(
                no_cluster,
                &v,
                &[],
                &[],
                &[traffic(80, "HTTP", Via::Direct, Outcome::Egress)]
            )
            .is_empty()
        );
        assert_eq!(
            codes_of(
                no_cluster,
                &v,
                &[],
                &[],
                &[traffic(80, "HTTP", Via::Direct, Outcome::NoCluster)]
            ),
            [Code::NoCluster]
        );
    }

    #[test]
    fn egr013_tcp_port_without_addresses() {
        let v = view();
        assert_eq!(
            codes_of(
                tcp_port_catches_all,
                &v,
                &[se(ports(&["5432/TCP"]))],
                &[],
                &[]
            ),
            [Code::TcpPortCatchesAll]
        );
        let mut addressed = se(ports(&["5432/TCP"]));
        addressed.spec.addresses = vec!["10.1.2.3".into()];
        assert!(codes_of(tcp_port_catches_all, &v, &[addressed], &[], &[]).is_empty());
        assert!(
            codes_of(
                tcp_port_catches_all,
                &v,
                &[se(ports(&["443/TLS"]))],
                &[],
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn egr014_portless_destination_on_a_two_port_host() {
        let v = view();
        let t = [vs("a", &timeout("0.5s"))];
        assert_eq!(
            codes_of(
                routed_by_listener_port,
                &v,
                &[se(AllowOptions::default())],
                &t,
                &[]
            ),
            [Code::RoutedByListenerPort]
        );
        assert!(
            codes_of(
                routed_by_listener_port,
                &v,
                &[se(ports(&["80/HTTP"]))],
                &t,
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn egr015_only_http_through_the_gateway() {
        let v = view();
        let routed = [vs("a", &via_gateway(80))];
        let t = [
            traffic(80, "HTTP", Via::Gateway, Outcome::Egress),
            traffic(443, "HTTPS", Via::Direct, Outcome::Egress),
        ];
        assert_eq!(
            codes_of(not_through_gateway, &v, &[], &routed, &t),
            [Code::NotThroughGateway]
        );
        assert!(codes_of(not_through_gateway, &v, &[], &routed, &t[..1]).is_empty());
    }

    fn tls_via_gateway() -> RouteSettings {
        RouteSettings {
            tls_via_gateway: Some(GatewayHop {
                port: 443,
                ..GatewayHop::default()
            }),
            ..via_gateway(80)
        }
    }

    #[test]
    fn egr017_tls_route_on_a_port_that_is_not_tls() {
        let v = view();
        let routed = [vs("a", &tls_via_gateway())];
        let https = [se(AllowOptions::default())];
        let http_443 = [se(ports(&["80/HTTP", "443/HTTP"]))];
        let without = [se(ports(&["80/HTTP"]))];
        assert!(codes_of(tls_route_not_on_tls_port, &v, &https, &routed, &[]).is_empty());
        for ses in [&http_443, &without] {
            assert_eq!(
                codes_of(tls_route_not_on_tls_port, &v, ses, &routed, &[]),
                [Code::TlsRouteNotOnTlsPort]
            );
        }
    }

    #[test]
    fn egr018_plain_http_to_443() {
        let v = view();
        let mut to_443 = traffic(80, "HTTP", Via::Direct, Outcome::Egress);
        to_443.hops.push(format!("{HOST}:443"));
        to_443.upstream_port = Some(443);
        assert_eq!(
            codes_of(plain_http_to_tls_port, &v, &[], &[], &[to_443.clone()]),
            [Code::PlainHttpToTlsPort]
        );
        let mut originated = to_443.clone();
        originated.upstream_tls = Some("SIMPLE".into());
        assert!(codes_of(plain_http_to_tls_port, &v, &[], &[], &[originated]).is_empty());
        // The client's own choice of HTTP on 443 is not flagged; the gateway's hop to 443 is.
        let mut declared = traffic(443, "HTTP", Via::Direct, Outcome::Egress);
        declared.hops.push(format!("{HOST}:443"));
        assert!(codes_of(plain_http_to_tls_port, &v, &[], &[], &[declared]).is_empty());
        let mut second_hop = traffic(80, "HTTP", Via::Gateway, Outcome::Egress);
        second_hop.hops.push(format!("{HOST}:443"));
        assert_eq!(
            codes_of(plain_http_to_tls_port, &v, &[], &[], &[second_hop]),
            [Code::PlainHttpToTlsPort]
        );
    }

    #[test]
    fn egr019_tls_inside_tls() {
        let v = view();
        let mut t = traffic(443, "TLS", Via::Gateway, Outcome::Egress);
        assert!(codes_of(tls_twice, &v, &[], &[], &[t.clone()]).is_empty());
        t.upstream_tls = Some("SIMPLE".into());
        assert_eq!(
            codes_of(tls_twice, &v, &[], &[], &[t.clone()]),
            [Code::TlsTwice]
        );
        // In the gateway's namespace it is about pods there, rarely any: worth knowing only.
        let settings = RouteSettings::default();
        let facts = |namespace| HostFacts {
            view: &v,
            egress_gateway: Some(true),
            namespace,
            host: HOST,
            service_entries: &[],
            virtual_services: &[],
            settings: &settings,
            traffic: std::slice::from_ref(&t),
            gateway: &[],
        };
        let elsewhere = tls_twice(&facts("s1")).remove(0);
        assert_eq!(elsewhere.severity, Severity::Error);
        let there = tls_twice(&facts(GATEWAY_NAMESPACE)).remove(0);
        assert_eq!(there.severity, Severity::Info);
        assert_eq!(
            there.message,
            format!(
                "for a pod with a sidecar in istio-system: {}",
                elsewhere.message
            )
        );
    }

    #[test]
    fn egr020_no_tls_server_at_the_gateway() {
        let v = view();
        for outcome in [Outcome::NoListener, Outcome::NoRoute] {
            let t = traffic(443, "HTTPS", Via::Gateway, outcome);
            assert_eq!(
                codes_of(no_tls_server_at_gateway, &v, &[], &[], &[t]),
                [Code::NoTlsServerAtGateway]
            );
        }
        let fine = traffic(443, "HTTPS", Via::Gateway, Outcome::Egress);
        assert!(codes_of(no_tls_server_at_gateway, &v, &[], &[], &[fine]).is_empty());
    }

    #[test]
    fn egr022_tls_to_port_80() {
        let v = view();
        let mut t = traffic(80, "HTTP", Via::Direct, Outcome::Egress);
        t.hops.push(format!("{HOST}:80"));
        assert!(codes_of(tls_to_plain_port, &v, &[], &[], &[t.clone()]).is_empty());
        t.upstream_tls = Some("SIMPLE".into());
        assert_eq!(
            codes_of(tls_to_plain_port, &v, &[], &[], &[t.clone()]),
            [Code::TlsToPlainPort]
        );
        // To 443 (allow --tls-origination's targetPort) it is what was asked for.
        t.hops
            .last_mut()
            .unwrap()
            .replace_range(.., &format!("{HOST}:443"));
        assert!(codes_of(tls_to_plain_port, &v, &[], &[], &[t]).is_empty());
    }

    #[test]
    fn egr023_a_sidecar_that_does_not_import_the_host() {
        let sidecar = |name: &str, spec: serde_json::Value| -> Sidecar {
            typed(&serde_json::json!({
                "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                "metadata": {"name": name, "namespace": "s1"}, "spec": spec,
            }))
        };
        let entry = [se(AllowOptions::default())];
        let route = [vs("httpbin", &timeout("1s"))];
        let mut v = view();
        assert!(codes_of(sidecar_does_not_import, &v, &entry, &route, &[]).is_empty());
        v.scope.sidecars = Known::Yes(vec![sidecar(
            "default",
            serde_json::json!({"egress": [{"hosts": ["istio-system/*"]}]}),
        )]);
        let ses: Vec<&ServiceEntry> = entry.iter().collect();
        let vss: Vec<&VirtualService> = route.iter().collect();
        let settings = timeout("1s");
        let facts = HostFacts {
            view: &v,
            egress_gateway: Some(true),
            namespace: "s1",
            host: HOST,
            service_entries: &ses,
            virtual_services: &vss,
            settings: &settings,
            traffic: &[],
            gateway: &[],
        };
        let found = sidecar_does_not_import(&facts);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            found[0].message,
            format!(
                "the namespace's sidecars never get its ServiceEntry or its VirtualService for {HOST}: the Sidecar s1/default imports only istio-system/*; add ./{HOST} to its egress hosts (the plugin does not edit Sidecars)"
            )
        );
        // Importing the host, or a Sidecar for some workloads only that does not: named by their
        // labels.
        let mut v = v.clone();
        v.scope.sidecars = Known::Yes(vec![
            sidecar(
                "default",
                serde_json::json!({"egress": [{"hosts": ["istio-system/*", format!("./{HOST}")]}]}),
            ),
            sidecar(
                "api",
                serde_json::json!({
                    "workloadSelector": {"labels": {"app": "sentences", "mode": "api"}},
                    "egress": [{"hosts": ["istio-system/*"]}],
                }),
            ),
        ]);
        let facts = HostFacts {
            view: &v,
            service_entries: &ses,
            virtual_services: &vss,
            settings: &settings,
            ..facts
        };
        let found = sidecar_does_not_import(&facts);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .message
                .starts_with("the sidecars of workloads app=sentences,mode=api never get"),
            "{found:?}"
        );
    }

    #[test]
    fn egr021_the_gateway_side_fails() {
        let v = view();
        let side = |outcome, response| {
            let mut t = traffic(80, "HTTP", Via::Gateway, outcome);
            t.hops = vec!["istio-egressgateway.istio-system:80".into()];
            t.response = response;
            t.reason = Some("the admins' VirtualService for it is missing".into());
            t
        };
        let gateway = [
            side(Outcome::Egress, None),
            side(Outcome::Unknown, None),
            side(Outcome::NoRoute, Some(Response::NoRoute)),
        ];
        let settings = RouteSettings::default();
        let facts = HostFacts {
            view: &v,
            egress_gateway: Some(true),
            namespace: GATEWAY_NAMESPACE,
            host: HOST,
            service_entries: &[],
            virtual_services: &[],
            settings: &settings,
            traffic: &[],
            gateway: &gateway,
        };
        let found = gateway_side_fails(&facts);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            "at the egress gateway, requests for httpbin.org on port 80 get 404 NR (no-route): the admins' VirtualService for it is missing"
        );
        // A host only a Gateway names (no ServiceEntry, no VirtualService): this finding alone.
        assert_eq!(run(&facts), found);
    }

    /// The catalogue, the analyzers and what they report agree: each code has exactly one
    /// analyzer (`run` and `run_mesh` check in debug builds that it reports its own code only),
    /// and a finding can only be made from a catalogue code.
    #[test]
    fn every_code_has_one_analyzer() {
        for entry in CATALOGUE {
            let analyzers = ANALYZERS.iter().filter(|(c, _)| *c == entry.code).count();
            assert_eq!(analyzers, 1, "{}: {analyzers} analyzers", entry.code);
        }
        assert_eq!(ANALYZERS.len(), CATALOGUE.len());
        // The mesh's own finding is the only one not about a host.
        let mesh: Vec<Code> = ANALYZERS
            .iter()
            .filter(|(_, a)| matches!(a, Analyzer::Mesh(_)))
            .map(|(c, _)| *c)
            .collect();
        assert_eq!(mesh, [Code::MeshPolicy]);
    }

    /// Each analyzer's unit test above is named after its code (`egr001_...`), and each code has
    /// one: a finding added to the catalogue without a test fails here.
    #[test]
    fn every_code_has_its_test() {
        let tests: Vec<&str> = include_str!("analyzers.rs")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("fn egr"))
            .collect();
        for entry in CATALOGUE {
            let code = entry.code.as_str().to_ascii_lowercase();
            assert!(
                tests.iter().any(|t| format!("egr{t}").contains(&code)),
                "no unit test named after {}",
                entry.code
            );
        }
    }
}
