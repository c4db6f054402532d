//! Validated requests -> the Istio objects that carry them out. Pure: no I/O.
//!
//! The VirtualService is built from [`RouteSettings`], the one place where a host's timeout and
//! gateway routing meet: Istio never merges two VirtualServices for one host (istio#36621), so
//! the plugin keeps one per host and every command edits its settings, not the object.

use std::collections::BTreeMap;

use super::istio::*;
use super::validate::{Host, InputError, PortSpec};

/// Where objects go: every object carries the namespace; the API version is resolved before
/// building (offline it is v1beta1, as the exercise writes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub api_version: ApiVersion,
}

#[cfg(test)]
impl Target {
    /// The unit tests' target: `namespace` at Istio's v1 API.
    pub(crate) fn v1(namespace: &str) -> Target {
        Target {
            namespace: namespace.into(),
            api_version: ApiVersion::V1,
        }
    }
}

fn metadata(target: &Target, name: &str) -> Metadata {
    Metadata {
        name: name.to_string(),
        namespace: Some(target.namespace.clone()),
        labels: BTreeMap::from([(MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string())]),
        ..Metadata::default()
    }
}

// ---------------------------------------------------------------------------------------------
// ServiceEntry

pub const RESOLUTIONS: [&str; 4] = ["DNS", "NONE", "STATIC", "DNS_ROUND_ROBIN"];
pub const LOCATIONS: [&str; 2] = ["MESH_EXTERNAL", "MESH_INTERNAL"];

/// `allow`'s options, already validated one by one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AllowOptions {
    /// Empty: the exercise's ports, 80 `http-port` HTTP and 443 `https-port` HTTPS.
    pub ports: Vec<PortSpec>,
    pub resolution: Option<String>,
    /// Empty: `["."]`, visible only in the object's namespace.
    pub export_to: Vec<String>,
    pub location: Option<String>,
    pub name: Option<String>,
    /// Plain HTTP to port 80, TLS to the host's 443 from the sidecar (port 80's targetPort 443,
    /// and a DestinationRule that originates TLS): timeouts and retries then apply.
    pub tls_origination: bool,
}

pub fn default_export_to(export_to: &[String]) -> Vec<String> {
    if export_to.is_empty() {
        vec![".".to_string()]
    } else {
        export_to.to_vec()
    }
}

/// Checks the options that only make sense together, before anything is built or sent.
pub fn check_allow(hosts: &[Host], options: &AllowOptions) -> Result<(), InputError> {
    if options.name.is_some() && hosts.len() > 1 {
        return Err(InputError(
            "--name names one ServiceEntry: give one host with it, or leave --name out".into(),
        ));
    }
    for host in hosts.iter().filter(|h| h.is_wildcard()) {
        if let Some(r) = &options.resolution
            && r.starts_with("DNS")
        {
            return Err(InputError(format!(
                "--resolution {r} cannot be used with wildcard host \"{host}\": DNS resolution needs \
                 a concrete host; leave --resolution out (wildcards use NONE) or name the host"
            )));
        }
    }
    if options.tls_origination {
        if let Some(host) = hosts.iter().find(|h| h.is_wildcard()) {
            return Err(InputError(format!(
                "--tls-origination needs a concrete host to name in TLS (SNI), not \"{host}\": allow each host by name"
            )));
        }
        if !options.ports.is_empty() {
            return Err(InputError(
                "--tls-origination writes the ports itself (80/HTTP to the host's 443, and 443/HTTPS): leave --port out".into(),
            ));
        }
    }
    let mut numbers = BTreeMap::new();
    for (port, name) in options.ports.iter().zip(port_names(&options.ports)) {
        if numbers.insert(port.number, ()).is_some() {
            return Err(InputError(format!(
                "--port {} is given twice: each port number may appear once",
                port.number
            )));
        }
        let same_name = options
            .ports
            .iter()
            .zip(port_names(&options.ports))
            .filter(|(_, n)| *n == name)
            .count();
        if same_name > 1 {
            return Err(InputError(format!(
                "port name \"{name}\" is used twice: give each --port a distinct NAME"
            )));
        }
    }
    Ok(())
}

/// Port names: the user's, or `<protocol>-port` as the exercise names them, with the number
/// appended when two ports share a protocol.
fn port_names(ports: &[PortSpec]) -> Vec<String> {
    ports
        .iter()
        .map(|p| match &p.name {
            Some(name) => name.clone(),
            None => {
                let base = format!("{}-port", p.protocol.to_ascii_lowercase());
                let shared = ports
                    .iter()
                    .filter(|q| q.name.is_none() && q.protocol == p.protocol)
                    .count();
                if shared > 1 {
                    format!("{base}-{}", p.number)
                } else {
                    base
                }
            }
        })
        .collect()
}

fn default_ports() -> Vec<PortSpec> {
    vec![
        PortSpec {
            number: 80,
            protocol: "HTTP".into(),
            name: Some("http-port".into()),
        },
        PortSpec {
            number: 443,
            protocol: "HTTPS".into(),
            name: Some("https-port".into()),
        },
    ]
}

/// The ServiceEntry that lets `host` out of the mesh. Call [`check_allow`] first.
pub fn service_entry(target: &Target, host: &Host, options: &AllowOptions) -> ServiceEntry {
    let ports = if options.ports.is_empty() {
        default_ports()
    } else {
        options.ports.clone()
    };
    let names = port_names(&ports);
    let resolution = options.resolution.clone().unwrap_or_else(|| {
        if host.is_wildcard() {
            "NONE".to_string()
        } else {
            "DNS".to_string()
        }
    });
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| host.default_object_name());
    Object {
        unreadable: None,
        api_version: target.api_version.group_version(),
        kind: Kind::ServiceEntry.name().to_string(),
        metadata: metadata(target, &name),
        spec: ServiceEntrySpec {
            hosts: vec![host.to_string()],
            addresses: vec![],
            export_to: default_export_to(&options.export_to),
            ports: ports
                .iter()
                .zip(names)
                .map(|(p, name)| ServicePort {
                    number: u32::from(p.number),
                    name,
                    protocol: p.protocol.clone(),
                    // Origination: the application's plain HTTP on 80 leaves on the host's 443.
                    target_port: (options.tls_origination && p.number == 80).then_some(443),
                })
                .collect(),
            location: options.location.clone(),
            resolution: Some(resolution),
            workload_selector: None,
        },
    }
}

/// `allow --tls-origination`'s DestinationRule: the sidecar speaks TLS to the host for what
/// the application sends to port 80 (Istio's "Egress TLS Origination" task), with the host as SNI.
pub fn origination_rule(
    target: &Target,
    name: &str,
    host: &Host,
    export_to: &[String],
) -> DestinationRule {
    Object {
        unreadable: None,
        api_version: target.api_version.group_version(),
        kind: Kind::DestinationRule.name().to_string(),
        metadata: metadata(target, name),
        spec: DestinationRuleSpec {
            host: host.to_string(),
            export_to: default_export_to(export_to),
            traffic_policy: Some(TrafficPolicy {
                tls: None,
                port_level_settings: vec![PortTrafficPolicy {
                    port: Some(PortSelector { number: 80 }),
                    tls: Some(ClientTls {
                        mode: "SIMPLE".into(),
                        sni: Some(host.to_string()),
                    }),
                }],
            }),
            subsets: vec![],
        },
    }
}

// ---------------------------------------------------------------------------------------------
// VirtualService

/// The egress gateway hop of a host's route (the admins own the Gateway and the second hop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayHop {
    pub gateway_host: String,
    pub port: u16,
    pub subset: Option<String>,
}

impl Default for GatewayHop {
    fn default() -> Self {
        GatewayHop {
            gateway_host: DEFAULT_EGRESS_GATEWAY_HOST.to_string(),
            port: 80,
            subset: None,
        }
    }
}

/// Everything the plugin's one VirtualService for a host expresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSettings {
    pub timeout: Option<String>,
    pub retries: Option<HttpRetry>,
    pub via_gateway: Option<GatewayHop>,
    /// `via-gateway --tls`: TLS on 443, by SNI, to the egress gateway's 443 (passthrough).
    pub tls_via_gateway: Option<GatewayHop>,
    /// Empty: `["."]`.
    pub export_to: Vec<String>,
}

impl RouteSettings {
    /// Reads the settings back from a VirtualService the plugin wrote (or one being adopted).
    pub fn from_virtual_service(host: &str, spec: &VirtualServiceSpec) -> RouteSettings {
        let timeout = spec.http.iter().find_map(|r| r.timeout.clone());
        let via_gateway = spec.http.iter().find_map(|route| {
            let destination = &route.route.first()?.destination;
            if destination.host == host || destination.host.is_empty() {
                return None;
            }
            let port = route
                .matches
                .iter()
                .find_map(|m| m.port)
                .or(destination.port.as_ref().map(|p| p.number))
                .unwrap_or(80);
            Some(GatewayHop {
                gateway_host: destination.host.clone(),
                port: u16::try_from(port).unwrap_or(80),
                subset: destination.subset.clone(),
            })
        });
        let retries = spec.http.iter().find_map(|r| r.retries.clone());
        let tls_via_gateway = spec.tls.iter().find_map(|route| {
            let destination = &route.route.first()?.destination;
            if destination.host == host || destination.host.is_empty() {
                return None;
            }
            Some(GatewayHop {
                gateway_host: destination.host.clone(),
                port: destination
                    .port
                    .as_ref()
                    .and_then(|p| u16::try_from(p.number).ok())
                    .unwrap_or(443),
                subset: destination.subset.clone(),
            })
        });
        RouteSettings {
            timeout,
            retries,
            via_gateway,
            tls_via_gateway,
            export_to: spec.export_to.clone(),
        }
    }

    /// True when the VirtualService would change nothing Istio does on its own.
    pub fn is_empty(&self) -> bool {
        self.timeout.is_none()
            && self.retries.is_none()
            && self.via_gateway.is_none()
            && self.tls_via_gateway.is_none()
    }
}

/// The host's VirtualService, or `None` when the settings are empty and it should go.
pub fn virtual_service(
    target: &Target,
    name: &str,
    host: &Host,
    settings: &RouteSettings,
) -> Option<VirtualService> {
    if settings.is_empty() {
        return None;
    }
    Some(Object {
        unreadable: None,
        api_version: target.api_version.group_version(),
        kind: Kind::VirtualService.name().to_string(),
        metadata: metadata(target, name),
        spec: VirtualServiceSpec {
            hosts: vec![host.to_string()],
            export_to: default_export_to(&settings.export_to),
            gateways: if settings.via_gateway.is_some() || settings.tls_via_gateway.is_some() {
                vec![MESH_GATEWAY.to_string()]
            } else {
                vec![]
            },
            http: http_route(host, settings).into_iter().collect(),
            tls: settings
                .tls_via_gateway
                .iter()
                .map(|hop| tls_route(host, hop))
                .collect(),
            ..VirtualServiceSpec::default()
        },
    })
}

/// The host's HTTP route: through the gateway (the exercise's routing VirtualService, with the
/// timeout kept on it), or straight out with a timeout or retries; None for TLS only.
fn http_route(host: &Host, settings: &RouteSettings) -> Option<HttpRoute> {
    match &settings.via_gateway {
        // TLS only (a wildcard through the gateway): a route to a wildcard host is no route.
        None if settings.timeout.is_none() && settings.retries.is_none() => None,
        Some(hop) => Some(HttpRoute {
            matches: vec![HttpMatch {
                gateways: vec![MESH_GATEWAY.to_string()],
                port: Some(u32::from(hop.port)),
                uri: None,
            }],
            timeout: settings.timeout.clone(),
            retries: settings.retries.clone(),
            route: vec![to_gateway(hop)],
        }),
        None => Some(HttpRoute {
            matches: vec![],
            timeout: settings.timeout.clone(),
            retries: settings.retries.clone(),
            route: vec![RouteDestination {
                destination: Destination {
                    host: host.to_string(),
                    ..Destination::default()
                },
                weight: Some(100),
            }],
        }),
    }
}

/// Istio's "Egress gateway for HTTPS traffic" task: the sidecar's TLS to the host on 443,
/// matched by SNI, goes to the gateway's 443 untouched.
fn tls_route(host: &Host, hop: &GatewayHop) -> TlsRoute {
    TlsRoute {
        matches: vec![TlsMatch {
            gateways: vec![MESH_GATEWAY.to_string()],
            port: Some(443),
            sni_hosts: vec![host.to_string()],
        }],
        route: vec![to_gateway(hop)],
    }
}

/// All of a route's traffic to the egress gateway's port (and subset) of the hop.
fn to_gateway(hop: &GatewayHop) -> RouteDestination {
    RouteDestination {
        destination: Destination {
            host: hop.gateway_host.clone(),
            subset: hop.subset.clone(),
            port: Some(PortSelector {
                number: u32::from(hop.port),
            }),
        },
        weight: Some(100),
    }
}

/// A change to a host's route, as `timeout` and `via-gateway` ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteChange {
    SetTimeout(String),
    ClearTimeout,
    SetRetries(HttpRetry),
    ClearRetries,
    /// The HTTP hop (none for a wildcard with `--tls`), and with `--tls` the TLS passthrough
    /// hop on 443.
    ViaGateway(Option<GatewayHop>, Option<GatewayHop>),
    Direct,
}

impl RouteChange {
    pub fn apply(&self, settings: &RouteSettings) -> RouteSettings {
        let mut next = settings.clone();
        match self {
            RouteChange::SetTimeout(t) => next.timeout = Some(t.clone()),
            RouteChange::ClearTimeout => next.timeout = None,
            RouteChange::SetRetries(r) => next.retries = Some(r.clone()),
            RouteChange::ClearRetries => next.retries = None,
            RouteChange::ViaGateway(hop, tls) => {
                next.via_gateway = hop.clone();
                next.tls_via_gateway = tls.clone();
            }
            RouteChange::Direct => {
                next.via_gateway = None;
                next.tls_via_gateway = None;
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target::v1("student1")
    }

    fn host() -> Host {
        Host::parse("httpbin.org").unwrap()
    }

    #[test]
    fn timeout_then_gateway_keeps_the_timeout_on_the_gateway_route() {
        let with_timeout = RouteChange::SetTimeout("0.5s".into()).apply(&RouteSettings::default());
        let both = RouteChange::ViaGateway(Some(GatewayHop::default()), None).apply(&with_timeout);
        let vs = virtual_service(&target(), "httpbin", &host(), &both).unwrap();
        assert_eq!(vs.spec.gateways, vec!["mesh"]);
        let route = &vs.spec.http[0];
        assert_eq!(route.timeout.as_deref(), Some("0.5s"));
        assert_eq!(route.route[0].destination.host, DEFAULT_EGRESS_GATEWAY_HOST);
        assert_eq!(route.matches[0].port, Some(80));
    }

    #[test]
    fn settings_read_back_from_the_object_they_built() {
        let settings = RouteSettings {
            retries: None,
            tls_via_gateway: None,
            timeout: Some("2s".into()),
            via_gateway: Some(GatewayHop {
                subset: Some("httpbin".into()),
                port: 8080,
                ..GatewayHop::default()
            }),
            export_to: vec![".".into()],
        };
        let vs = virtual_service(&target(), "httpbin", &host(), &settings).unwrap();
        assert_eq!(
            RouteSettings::from_virtual_service("httpbin.org", &vs.spec),
            settings
        );
    }

    #[test]
    fn undoing_each_part_leaves_the_other_and_then_nothing() {
        let both = RouteSettings {
            retries: None,
            tls_via_gateway: None,
            timeout: Some("0.5s".into()),
            via_gateway: Some(GatewayHop::default()),
            export_to: vec![],
        };
        let direct = RouteChange::Direct.apply(&both);
        let vs = virtual_service(&target(), "httpbin", &host(), &direct).unwrap();
        assert!(vs.spec.gateways.is_empty());
        assert_eq!(vs.spec.http[0].route[0].destination.host, "httpbin.org");
        assert_eq!(vs.spec.http[0].timeout.as_deref(), Some("0.5s"));
        let nothing = RouteChange::ClearTimeout.apply(&direct);
        assert!(virtual_service(&target(), "httpbin", &host(), &nothing).is_none());
    }

    #[test]
    fn wildcard_hosts_get_resolution_none_and_dns_is_refused() {
        let wildcard = Host::parse("*.wikipedia.org").unwrap();
        let se = service_entry(&target(), &wildcard, &AllowOptions::default());
        assert_eq!(se.spec.resolution.as_deref(), Some("NONE"));
        assert_eq!(se.metadata.name, "wildcard-wikipedia");
        let dns = AllowOptions {
            resolution: Some("DNS".into()),
            ..AllowOptions::default()
        };
        assert!(
            check_allow(&[wildcard], &dns)
                .unwrap_err()
                .0
                .contains("wildcard")
        );
    }

    #[test]
    fn port_names_follow_the_exercise_and_stay_unique() {
        let ports = vec![
            PortSpec::parse("80").unwrap(),
            PortSpec::parse("8080").unwrap(),
            PortSpec::parse("443").unwrap(),
        ];
        assert_eq!(
            port_names(&ports),
            vec!["http-port-80", "http-port-8080", "https-port"]
        );
        let clash = AllowOptions {
            ports: vec![
                PortSpec::parse("80/HTTP/web").unwrap(),
                PortSpec::parse("81/HTTP/web").unwrap(),
            ],
            ..AllowOptions::default()
        };
        assert!(
            check_allow(&[host()], &clash)
                .unwrap_err()
                .0
                .contains("\"web\"")
        );
    }
}
