//! One analyzer per finding code, the way istioctl's analyzers are organised: each reads what
//! `status` knows about one host (its objects in Istio's order, the route settings, the per-port
//! traffic) and returns its findings. Pure; each has its unit tests below.

use super::istio::*;
use super::plan::RouteSettings;
use super::status::{
    ClusterView, Finding, GATEWAY_NAMESPACE, Known, Severity, codes, finding, service_namespace,
    short_service, visible_in,
};
use super::traffic::{Outcome, Response, Traffic, Via, Wire, covers};
use super::validate::is_http_protocol;

/// What the analyzers know about one external host of one namespace.
pub struct HostFacts<'a> {
    pub view: &'a ClusterView,
    /// Whether Service istio-system/istio-egressgateway exists (None: unknown).
    pub egress_gateway: Option<bool>,
    pub host: &'a str,
    /// In Istio's order: the first defines the host's ports.
    pub service_entries: &'a [&'a ServiceEntry],
    /// In Istio's order: the first is the one Istio applies.
    pub virtual_services: &'a [&'a VirtualService],
    /// What the applied VirtualService sets (timeout, gateway hop).
    pub settings: &'a RouteSettings,
    pub traffic: &'a [Traffic],
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
}

pub type Analyzer = fn(&HostFacts) -> Vec<Finding>;

/// Every analyzer, in the order findings are reported.
pub const ANALYZERS: [(&str, Analyzer); 19] = [
    (codes::DUPLICATE_VIRTUAL_SERVICE, duplicate_virtual_services),
    (codes::DUPLICATE_SERVICE_ENTRY, duplicate_service_entries),
    (codes::NO_SERVICE_ENTRY, no_service_entry),
    (codes::EXPORTED_BEYOND_NAMESPACE, exported_beyond_namespace),
    (codes::TIMEOUT_WITHOUT_HTTP, timeout_without_http),
    (codes::TIMEOUT_NOT_ON_HTTPS, timeout_not_on_https),
    (codes::NO_GATEWAY_FOR_HOST, no_gateway_for_host),
    (codes::HOST_HIDDEN_FROM_GATEWAY, host_hidden_from_gateway),
    (codes::NO_EGRESS_GATEWAY_SERVICE, no_egress_gateway_service),
    (codes::ROUTE_IGNORED, route_ignored),
    (codes::NO_CLUSTER, no_cluster),
    (codes::TCP_PORT_CATCHES_ALL, tcp_port_catches_all),
    (codes::ROUTED_BY_LISTENER_PORT, routed_by_listener_port),
    (codes::NOT_THROUGH_GATEWAY, not_through_gateway),
    (codes::TLS_ROUTE_NOT_ON_TLS_PORT, tls_route_not_on_tls_port),
    (codes::PLAIN_HTTP_TO_TLS_PORT, plain_http_to_tls_port),
    (codes::TLS_TWICE, tls_twice),
    (codes::NO_TLS_SERVER_AT_GATEWAY, no_tls_server_at_gateway),
    (codes::TLS_TO_PLAIN_PORT, tls_to_plain_port),
];

pub fn run(facts: &HostFacts) -> Vec<Finding> {
    ANALYZERS
        .iter()
        .flat_map(|(_, analyzer)| analyzer(facts))
        .collect()
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
    vec![finding(
        codes::DUPLICATE_VIRTUAL_SERVICE,
        Severity::Error,
        format!(
            "{} VirtualServices route {} ({}): Istio applies the oldest, {}, and silently ignores the rest; keep one",
            names.len(),
            f.host,
            names.join(", "),
            names[0]
        ),
    )]
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
    vec![finding(
        codes::DUPLICATE_SERVICE_ENTRY,
        Severity::Error,
        format!(
            "{} ServiceEntries name {} ({}): Istio builds routes from one and clusters from another, so requests may get 503 NC; keep one",
            names.len(),
            f.host,
            names.join(", ")
        ),
    )]
}

/// EGR002: a route for a host no ServiceEntry allows.
pub fn no_service_entry(f: &HostFacts) -> Vec<Finding> {
    if f.service_entry().is_some() {
        return vec![];
    }
    vec![finding(
        codes::NO_SERVICE_ENTRY,
        Severity::Warning,
        format!(
            "VirtualService {} routes {host} but no ServiceEntry allows it: run kubectl egress allow {host}",
            f.virtual_service()
                .map(|v| v.metadata.name.as_str())
                .unwrap_or("?"),
            host = f.host
        ),
    )]
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
            Some(finding(
                codes::EXPORTED_BEYOND_NAMESPACE,
                Severity::Warning,
                format!(
                    "ServiceEntry {} is visible beyond its namespace, to {to}: other namespaces may call {}",
                    se.metadata.name, f.host
                ),
            ))
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
    vec![finding(
        codes::TIMEOUT_WITHOUT_HTTP,
        Severity::Warning,
        format!(
            "timeout {timeout} never applies: {} has no HTTP port, and HTTPS/TLS traffic is opaque to the sidecar; to time HTTPS calls, let the sidecar open the TLS: kubectl egress allow {} --tls-origination (the application then calls http://{})",
            f.host, f.host, f.host
        ),
    )]
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
    vec![finding(
        codes::TIMEOUT_NOT_ON_HTTPS,
        Severity::Info,
        format!(
            "timeout {timeout} applies to HTTP only, not to {} (TLS is opaque to the sidecar){}",
            other.join(", "),
            if originates {
                String::new()
            } else {
                format!(
                    "; for a timeout on HTTPS calls: kubectl egress allow {} --tls-origination",
                    f.host
                )
            }
        ),
    )]
}

/// EGR005: routed via the gateway, but no Gateway in istio-system exposes the host (404).
pub fn no_gateway_for_host(f: &HostFacts) -> Vec<Finding> {
    if f.settings.via_gateway.is_none() {
        return vec![];
    }
    let host = f.host;
    match &f.view.gateways {
        Known::Yes(gateways) => {
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
            vec![finding(
                codes::NO_GATEWAY_FOR_HOST,
                Severity::Error,
                format!(
                    "no Gateway in istio-system exposes {host}: traffic sent to the egress gateway has no exit (404); ask the mesh admins for one"
                ),
            )]
        }
        Known::Unknown(why) => vec![finding(
            codes::UNKNOWN,
            Severity::Info,
            format!("cannot tell whether a Gateway exposes {host}: {why}"),
        )],
    }
}

/// EGR010: exportTo ["."] hides the namespace's ServiceEntry from the gateway's namespace: unless
/// something there makes the host known, the gateway drops what it is sent (istio#48300).
pub fn host_hidden_from_gateway(f: &HostFacts) -> Vec<Finding> {
    let Some(hop) = &f.settings.via_gateway else {
        return vec![];
    };
    let host = f.host;
    let Some(gateway_ns) = service_namespace(&hop.gateway_host) else {
        return vec![];
    };
    if gateway_ns != GATEWAY_NAMESPACE
        || f.service_entry().is_none()
        || f.service_entries
            .iter()
            .any(|se| visible_in(se, gateway_ns))
    {
        return vec![];
    }
    match &f.view.gateway_service_entries {
        Known::Yes(theirs) => {
            let known = theirs.iter().any(|se| {
                visible_in(se, gateway_ns) && se.spec.hosts.iter().any(|h| covers(h, host))
            });
            if known {
                return vec![];
            }
            vec![finding(
                codes::HOST_HIDDEN_FROM_GATEWAY,
                Severity::Error,
                format!(
                    "the egress gateway cannot see {host}: no ServiceEntry for it is visible in {gateway_ns} (exportTo \".\" hides this namespace's), so the gateway drops the traffic (istio#48300); ask the mesh admins for one, or run kubectl egress allow {host} --export-to . --export-to {gateway_ns}"
                ),
            )]
        }
        Known::Unknown(why) => vec![finding(
            codes::UNKNOWN,
            Severity::Info,
            format!("cannot tell whether the egress gateway knows {host}: {why}"),
        )],
    }
}

/// EGR006: routed via the default egress gateway, whose Service does not exist.
pub fn no_egress_gateway_service(f: &HostFacts) -> Vec<Finding> {
    match &f.settings.via_gateway {
        Some(hop)
            if hop.gateway_host == DEFAULT_EGRESS_GATEWAY_HOST
                && f.egress_gateway == Some(false) =>
        {
            vec![finding(
                codes::NO_EGRESS_GATEWAY_SERVICE,
                Severity::Error,
                format!(
                    "Service {} does not exist: routed traffic to {} has nowhere to go (503)",
                    short_service(&hop.gateway_host),
                    f.host
                ),
            )]
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
            Some(finding(
                codes::ROUTE_IGNORED,
                Severity::Warning,
                format!(
                    "VirtualService {}'s route for port {port} is ignored by Istio: {why}; requests to port {port} go {}",
                    vs.metadata.name,
                    if t.via == Via::Blocked { "nowhere" } else { t.via.as_str() }
                ),
            ))
        })
        .collect()
}

/// EGR012: a route to a cluster Istio does not push: 503 NC.
pub fn no_cluster(f: &HostFacts) -> Vec<Finding> {
    f.traffic
        .iter()
        .filter(|t| t.outcome == Outcome::NoCluster)
        .map(|t| {
            finding(
                codes::NO_CLUSTER,
                Severity::Error,
                format!(
                    "requests to {}:{} get {}: {}",
                    f.host,
                    t.port,
                    t.response.unwrap_or(Response::NoCluster),
                    t.reason
                        .as_deref()
                        .unwrap_or("Istio has no cluster for the route's destination")
                ),
            )
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
            finding(
                codes::TCP_PORT_CATCHES_ALL,
                Severity::Warning,
                format!(
                    "port {n}/{} of ServiceEntry {} has no addresses: every TCP connection on port {n} from this namespace, to any destination, goes to {} (istioctl IST0134); add --port {n}/TLS for TLS, or addresses",
                    p.protocol,
                    se.metadata.name,
                    f.host,
                    n = p.number
                ),
            )
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
    vec![finding(
        codes::ROUTED_BY_LISTENER_PORT,
        Severity::Info,
        format!(
            "VirtualService {} names no destination port for {}, which has {} ports: Istio routes each request to the port it came on (istioctl analyze reports this as IST0112; harmless here)",
            vs.metadata.name,
            f.host,
            se.spec.ports.len()
        ),
    )]
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
    vec![finding(
        codes::NOT_THROUGH_GATEWAY,
        Severity::Info,
        format!(
            "only HTTP goes through the egress gateway: {} still leaves {} directly from the sidecar",
            direct.join(", "),
            f.host
        ),
    )]
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
            let t = f.traffic.iter().find(|t| t.port == port);
            Some(finding(
                codes::TLS_ROUTE_NOT_ON_TLS_PORT,
                Severity::Warning,
                format!(
                    "VirtualService {}'s tls route for port {port} is ignored by Istio: ServiceEntry {} gives {host} {what}, and TLS is routed by SNI only on TLS or HTTPS ports{}; fix: kubectl egress allow {host} --port {port}/TLS (or the defaults, 443/HTTPS)",
                    vs.metadata.name,
                    se.metadata.name,
                    t.map(|t| format!(" (requests to port {port} go {})", t.via))
                        .unwrap_or_default()
                ),
            ))
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
            let at = if t.via == Via::Gateway { "the egress gateway" } else { "the sidecar" };
            let fix = if t.via == Via::Gateway {
                format!("the admins run kubectl egress gateway {} --tls-origination", f.host)
            } else {
                format!("kubectl egress allow {} --tls-origination", f.host)
            };
            finding(
                codes::PLAIN_HTTP_TO_TLS_PORT,
                Severity::Error,
                format!(
                    "HTTP to port {} leaves {at} for {} in plain text: an HTTPS server there answers with an error; no DestinationRule originates TLS for it (fix: {fix})",
                    t.port,
                    t.hops.last().map(String::as_str).unwrap_or(f.host),
                ),
            )
        })
        .collect()
}

/// EGR019: TLS from the application is encrypted a second time: a DestinationRule originates TLS
/// on the port the client's own TLS leaves on (e.g. `gateway --tls-origination`'s rule for 443
/// under a passthrough route).
pub fn tls_twice(f: &HostFacts) -> Vec<Finding> {
    f.traffic
        .iter()
        .filter(|t| t.wire == Some(Wire::Tls) && t.outcome == Outcome::Egress)
        .filter_map(|t| {
            let mode = t.upstream_tls.as_deref()?;
            Some(finding(
                codes::TLS_TWICE,
                Severity::Error,
                format!(
                    "TLS to port {} of {} is wrapped in TLS again ({mode}) on its way to {}: the server sees a handshake inside a handshake and the connection fails; the DestinationRule that originates TLS there must not apply to a port that carries the application's own TLS",
                    t.port,
                    f.host,
                    t.hops.last().map(String::as_str).unwrap_or(f.host),
                ),
            ))
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
        .map(|t| {
            finding(
                codes::NO_TLS_SERVER_AT_GATEWAY,
                Severity::Error,
                format!(
                    "TLS to {}:{} is sent to the egress gateway, which has no TLS passthrough server and route for it: the connection is reset; the admins run kubectl egress gateway {} --tls",
                    f.host, t.port, f.host
                ),
            )
        })
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
            finding(
                codes::TLS_TO_PLAIN_PORT,
                Severity::Warning,
                format!(
                    "TLS is opened to {} (port {} of the client): a web server there speaks plain HTTP, and the handshake fails; a DestinationRule originates TLS for the port without the ServiceEntry sending it to 443 (kubectl egress allow {} --tls-origination writes both)",
                    t.hops.last().map(String::as_str).unwrap_or(f.host),
                    t.port,
                    f.host
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::core::plan::{self, AllowOptions, GatewayHop, Target};
    use crate::core::validate::{Host, PortSpec};

    const HOST: &str = "httpbin.org";

    fn view() -> ClusterView {
        ClusterView {
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
        }
    }

    fn target() -> Target {
        Target {
            namespace: "s1".into(),
            api_version: ApiVersion::V1,
        }
    }

    fn se(options: AllowOptions) -> ServiceEntry {
        plan::service_entry(&target(), &Host::parse(HOST).unwrap(), &options)
    }

    fn vs(name: &str, settings: &RouteSettings) -> VirtualService {
        plan::virtual_service(&target(), name, &Host::parse(HOST).unwrap(), settings).unwrap()
    }

    fn traffic(port: u32, protocol: &str, via: Via, outcome: Outcome) -> Traffic {
        Traffic {
            port,
            protocol: protocol.into(),
            via,
            gateway_host: None,
            timeout: None,
            outcome,
            response: (outcome == Outcome::NoCluster).then_some(Response::NoCluster),
            hops: vec!["sidecar".into()],
            virtual_service: None,
            reason: None,
            upstream_tls: None,
            upstream_sni: None,
            upstream_port: None,
            wire: Some(Wire::of(protocol)),
        }
    }

    /// Runs one analyzer on a host's objects; the traffic is given, as the model would compute it.
    fn codes_of(
        analyzer: Analyzer,
        view: &ClusterView,
        ses: &[ServiceEntry],
        vss: &[VirtualService],
        traffic: &[Traffic],
    ) -> Vec<&'static str> {
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
            host: HOST,
            service_entries: &ses,
            virtual_services: &vss,
            settings: &settings,
            traffic,
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
            [codes::DUPLICATE_VIRTUAL_SERVICE]
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
            [codes::DUPLICATE_SERVICE_ENTRY]
        );
    }

    #[test]
    fn egr002_route_without_service_entry() {
        let v = view();
        let route = [vs("a", &timeout("1s"))];
        assert_eq!(
            codes_of(no_service_entry, &v, &[], &route, &[]),
            [codes::NO_SERVICE_ENTRY]
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
            [codes::EXPORTED_BEYOND_NAMESPACE]
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
            [codes::EXPORTED_BEYOND_NAMESPACE]
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
            [codes::TIMEOUT_WITHOUT_HTTP]
        );
        assert!(codes_of(timeout_without_http, &v, &both, &t, &[]).is_empty());
        assert_eq!(
            codes_of(timeout_not_on_https, &v, &both, &t, &[]),
            [codes::TIMEOUT_NOT_ON_HTTPS]
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
            [codes::NO_GATEWAY_FOR_HOST]
        );
        v.gateways = Known::Yes(vec![Gateway {
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
        v.gateways = Known::Unknown("forbidden".into());
        assert_eq!(
            codes_of(no_gateway_for_host, &v, &[], &routed, &[]),
            [codes::UNKNOWN]
        );
    }

    #[test]
    fn egr010_gateway_cannot_see_the_host() {
        let routed = [vs("a", &via_gateway(80))];
        let mut v = view();
        let hidden = [se(AllowOptions::default())];
        assert_eq!(
            codes_of(host_hidden_from_gateway, &v, &hidden, &routed, &[]),
            [codes::HOST_HIDDEN_FROM_GATEWAY]
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
            [codes::NO_EGRESS_GATEWAY_SERVICE]
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
            [codes::ROUTE_IGNORED]
        );
        assert!(codes_of(route_ignored, &v, &both, &on_80, &t).is_empty());
        let no_8080 = [vs("a", &via_gateway(8080))];
        let t = [traffic(8080, "HTTP", Via::Blocked, Outcome::Blackhole)];
        assert_eq!(
            codes_of(route_ignored, &v, &both, &no_8080, &t),
            [codes::ROUTE_IGNORED]
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
            [codes::NO_CLUSTER]
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
            [codes::TCP_PORT_CATCHES_ALL]
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
            [codes::ROUTED_BY_LISTENER_PORT]
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
            [codes::NOT_THROUGH_GATEWAY]
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
                [codes::TLS_ROUTE_NOT_ON_TLS_PORT]
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
            [codes::PLAIN_HTTP_TO_TLS_PORT]
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
            [codes::PLAIN_HTTP_TO_TLS_PORT]
        );
    }

    #[test]
    fn egr019_tls_inside_tls() {
        let v = view();
        let mut t = traffic(443, "TLS", Via::Gateway, Outcome::Egress);
        assert!(codes_of(tls_twice, &v, &[], &[], &[t.clone()]).is_empty());
        t.upstream_tls = Some("SIMPLE".into());
        assert_eq!(codes_of(tls_twice, &v, &[], &[], &[t]), [codes::TLS_TWICE]);
    }

    #[test]
    fn egr020_no_tls_server_at_the_gateway() {
        let v = view();
        for outcome in [Outcome::NoListener, Outcome::NoRoute] {
            let t = traffic(443, "HTTPS", Via::Gateway, outcome);
            assert_eq!(
                codes_of(no_tls_server_at_gateway, &v, &[], &[], &[t]),
                [codes::NO_TLS_SERVER_AT_GATEWAY]
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
            [codes::TLS_TO_PLAIN_PORT]
        );
        // To 443 (allow --tls-origination's targetPort) it is what was asked for.
        t.hops
            .last_mut()
            .unwrap()
            .replace_range(.., &format!("{HOST}:443"));
        assert!(codes_of(tls_to_plain_port, &v, &[], &[], &[t]).is_empty());
    }

    #[test]
    fn every_code_has_one_analyzer() {
        let mut codes: Vec<&str> = ANALYZERS.iter().map(|(c, _)| *c).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), ANALYZERS.len());
    }
}
