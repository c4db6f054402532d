//! `gateway HOST...`: the admins' half of the exercise, the four objects in the egress gateway's
//! namespace that let a host out through the egress gateway. Pure: decided from the namespace's
//! objects as listed before writing.
//!
//! Per host, named after the host's object name NAME (naming.rs; `httpbin` for httpbin.org), as
//! the course's admins wrote them by hand (hack/cluster/egress-httpbin.yaml):
//! - ServiceEntry NAME: the host, port 80 `http-port` HTTP, resolution DNS, `exportTo: ["."]`, so
//!   the gateway (and only its namespace) can see the host (istio#48300);
//! - Gateway NAME-egressgateway: the egress gateway's pods (selector), server port 80 `http` HTTP
//!   for the host;
//! - DestinationRule egressgateway-for-NAME: the egress gateway Service, with subset NAME (what
//!   `via-gateway --subset NAME` names);
//! - VirtualService NAME-egressgateway: the second hop, bound to that Gateway, port 80 to the host.
//!
//! One of each per host, never a shared object with one server or subset per host: `--off` then
//! deletes whole objects (uid and resourceVersion guarded) and never edits a list another host or
//! another admin depends on, and hand-made objects are never edited at all. Istio merges what is
//! shared on the gateway: the servers of every Gateway on port 80 into one listener, the subsets
//! of every DestinationRule of one host in a namespace.

use std::collections::BTreeMap;

use serde_json::Value;

use super::istio::*;
use super::naming;
use super::plan::{self, AllowOptions, Target};
use super::traffic::covers;
use super::validate::{Host, PortSpec};

pub const DEFAULT_GATEWAY_NAMESPACE: &str = "istio-system";
pub const DEFAULT_GATEWAY_SERVICE: &str = "istio-egressgateway";
/// The egress gateway's pod labels, as the course environment's Deployment and Service have them.
pub const DEFAULT_SELECTOR: [(&str, &str); 2] =
    [("app", "istio-egressgateway"), ("istio", "egressgateway")];

const GATEWAY_SUFFIX: &str = "-egressgateway";
const DESTINATION_RULE_PREFIX: &str = "egressgateway-for-";
const ORIGINATION_RULE_PREFIX: &str = "originate-tls-for-";
/// The plain port the egress gateway takes the host's traffic on, as via-gateway's default.
const PORT: u32 = 80;

/// Where the egress gateway is and how its pods are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOptions {
    /// The egress gateway Service's name in the target namespace.
    pub service: String,
    pub selector: BTreeMap<String, String>,
    /// `--tls`: TLS on 443 passes through the gateway by SNI (a PASSTHROUGH server and a `tls`
    /// route), beside plain HTTP on 80.
    pub tls: bool,
    /// `--tls-origination`: the gateway takes plain HTTP on 80 and opens TLS to the host's 443 (a
    /// DestinationRule with `tls.mode: SIMPLE`).
    pub tls_origination: bool,
    /// `--upstream`: the one concrete host a wildcard's TLS goes to.
    pub upstream: Option<Host>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            service: DEFAULT_GATEWAY_SERVICE.into(),
            selector: DEFAULT_SELECTOR
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            tls: false,
            tls_origination: false,
            upstream: None,
        }
    }
}

/// Refuses the combinations that cannot work, with the reason, before anything is read.
pub fn check_options(host: &Host, options: &GatewayOptions) -> Result<(), String> {
    if options.tls && options.tls_origination {
        return Err(format!(
            "--tls and --tls-origination cannot both be used for {host}: both leave the gateway on \
             {host}:443, whose DestinationRule would then encrypt the passed-through TLS a second \
             time; choose one (--tls keeps the application's own HTTPS, --tls-origination takes \
             plain HTTP from it)"
        ));
    }
    match (&options.upstream, host.is_wildcard()) {
        (Some(upstream), _) if upstream.is_wildcard() => Err(format!(
            "invalid --upstream \"{upstream}\": the gateway connects to one concrete host, e.g. \
             www.wikipedia.org"
        )),
        (Some(_), false) => Err(format!(
            "--upstream is for wildcard hosts: the gateway connects to {host} itself; leave \
             --upstream out"
        )),
        (None, true) => Err(format!(
            "gateway cannot route wildcard host \"{host}\" without --upstream: the gateway's \
             second hop needs one concrete host to connect to (e.g. --upstream www.wikipedia.org \
             for '*.wikipedia.org', served by one hosting server), and --tls"
        )),
        (Some(_), true) if !options.tls || options.tls_origination => Err(format!(
            "wildcard host \"{host}\" can only pass through the gateway as TLS: use --tls (the \
             SNI names the host; plain HTTP or TLS origination would need a concrete host to \
             name)"
        )),
        _ => Ok(()),
    }
}

/// The four objects' names for a host whose objects are called `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub base: String,
    pub service_entry: String,
    pub gateway: String,
    pub destination_rule: String,
    pub virtual_service: String,
    /// The DestinationRule that originates TLS to the host (`--tls-origination`).
    pub origination_rule: String,
}

impl Names {
    pub fn of(base: &str) -> Names {
        Names {
            base: base.to_string(),
            service_entry: base.to_string(),
            gateway: format!("{base}{GATEWAY_SUFFIX}"),
            destination_rule: format!("{DESTINATION_RULE_PREFIX}{base}"),
            virtual_service: format!("{base}{GATEWAY_SUFFIX}"),
            origination_rule: format!("{ORIGINATION_RULE_PREFIX}{base}"),
        }
    }

    pub fn of_part(&self, part: Part) -> &str {
        match part {
            Part::ServiceEntry => &self.service_entry,
            Part::Gateway => &self.gateway,
            Part::GatewayRule => &self.destination_rule,
            Part::OriginationRule => &self.origination_rule,
            Part::VirtualService => &self.virtual_service,
        }
    }
}

/// The objects `gateway` writes for a host: the four of the course, and the DestinationRule of
/// `--tls-origination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    ServiceEntry,
    /// The egress gateway Service's DestinationRule, with the host's subset.
    GatewayRule,
    /// The host's DestinationRule that originates TLS on 443.
    OriginationRule,
    Gateway,
    VirtualService,
}

impl Part {
    pub fn kind(self) -> Kind {
        match self {
            Part::ServiceEntry => Kind::ServiceEntry,
            Part::GatewayRule | Part::OriginationRule => Kind::DestinationRule,
            Part::Gateway => Kind::Gateway,
            Part::VirtualService => Kind::VirtualService,
        }
    }
}

/// The parts in the order they are written (and, reversed, deleted): what a route names exists
/// before the route, and TLS is originated before the route sends plain HTTP to 443.
pub const PARTS: [Part; 5] = [
    Part::ServiceEntry,
    Part::GatewayRule,
    Part::OriginationRule,
    Part::Gateway,
    Part::VirtualService,
];

/// The longest base whose derived names are all DNS-1123 labels (63 characters).
const MAX_BASE: usize = 63 - DESTINATION_RULE_PREFIX.len();

/// The kinds `gateway` lists.
pub const KINDS: [Kind; 4] = [
    Kind::ServiceEntry,
    Kind::DestinationRule,
    Kind::Gateway,
    Kind::VirtualService,
];

/// The gateway namespace's objects of the four kinds, as listed.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub service_entries: Vec<Value>,
    pub destination_rules: Vec<Value>,
    pub gateways: Vec<Value>,
    pub virtual_services: Vec<Value>,
}

impl Listing {
    pub fn of_kind(&self, kind: Kind) -> &[Value] {
        match kind {
            Kind::ServiceEntry => &self.service_entries,
            Kind::DestinationRule => &self.destination_rules,
            Kind::Gateway => &self.gateways,
            Kind::VirtualService => &self.virtual_services,
        }
    }

    fn named(&self, kind: Kind, name: &str) -> Option<&Value> {
        self.of_kind(kind)
            .iter()
            .find(|v| v["metadata"]["name"].as_str() == Some(name))
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

pub fn is_managed(object: &Value) -> bool {
    object["metadata"]["labels"][MANAGED_BY_LABEL] == MANAGED_BY_VALUE
}

/// Managed and marked as written by `gateway`.
pub fn is_gateways(object: &Value) -> bool {
    is_managed(object) && object["metadata"]["labels"][COMPONENT_LABEL] == COMPONENT_VALUE
}

/// Whether `object` is `host`'s `part` (the gateway's DestinationRule: defines subset `base`; a
/// wildcard's ServiceEntry names its upstream, a host the wildcard covers).
fn is_for(part: Part, object: &Value, host: &str, base: &str) -> bool {
    let spec = &object["spec"];
    match part {
        Part::ServiceEntry => strings(&spec["hosts"])
            .iter()
            .any(|h| *h == host || (host.starts_with("*.") && covers(host, h))),
        Part::VirtualService => strings(&spec["hosts"]).contains(&host),
        Part::Gateway => spec["servers"].as_array().is_some_and(|servers| {
            servers
                .iter()
                .any(|s| strings(&s["hosts"]).iter().any(|h| bare(h) == host))
        }),
        Part::GatewayRule => spec["subsets"]
            .as_array()
            .is_some_and(|subsets| subsets.iter().any(|s| s["name"] == base)),
        Part::OriginationRule => spec["host"] == host,
    }
}

/// A Gateway server host without its `namespace/` prefix.
fn bare(host: &str) -> &str {
    host.split_once('/').map_or(host, |(_, h)| h)
}

/// The base name of the objects `gateway` already wrote for `host`, if any: from its Gateway,
/// else its VirtualService, else its ServiceEntry.
pub fn existing_base(listing: &Listing, host: &str) -> Option<String> {
    let ours = |part: Part| {
        listing
            .of_kind(part.kind())
            .iter()
            .filter(|o| is_gateways(o) && is_for(part, o, host, ""))
            .filter_map(|o| o["metadata"]["name"].as_str())
            .next()
            .map(String::from)
    };
    ours(Part::Gateway)
        .and_then(|n| n.strip_suffix(GATEWAY_SUFFIX).map(String::from))
        .or_else(|| {
            ours(Part::VirtualService)
                .and_then(|n| n.strip_suffix(GATEWAY_SUFFIX).map(String::from))
        })
        .or_else(|| ours(Part::ServiceEntry))
}

/// What to do with one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub kind: Kind,
    pub object: Value,
    /// The object there now (to update, with it as the precondition), or None (to create).
    pub before: Option<Value>,
}

/// A host's objects placed among what the namespace holds.
#[derive(Debug, Clone, PartialEq)]
pub struct HostPlan {
    pub names: Names,
    /// Written in this order.
    pub writes: Vec<Planned>,
    /// The plugin's objects for the host that the options no longer ask for (the TLS
    /// origination rule after a run without `--tls-origination`), deleted after the writes.
    pub removals: Vec<(Kind, Value)>,
    pub warnings: Vec<String>,
}

/// Whether `options` ask for `part` at all.
fn wanted(part: Part, options: &GatewayOptions) -> bool {
    part != Part::OriginationRule || options.tls_origination
}

/// The host's objects, placed among what the namespace holds, or a refusal naming the object in
/// the way. `given` are the base names earlier hosts of the same command took. Call
/// [`check_options`] first.
pub fn plan_host(
    target: &Target,
    host: &Host,
    options: &GatewayOptions,
    listing: &Listing,
    given: &[String],
    adopt: bool,
) -> Result<HostPlan, String> {
    let h = host.as_str();
    let ns = &target.namespace;
    let base = existing_base(listing, h).unwrap_or_else(|| {
        naming::unique_name_within(host, None, MAX_BASE, |base| {
            let names = Names::of(base);
            given.iter().any(|g| g == base)
                || PARTS.iter().any(|&part| {
                    listing
                        .named(part.kind(), names.of_part(part))
                        .is_some_and(|o| !is_for(part, o, h, base))
                })
        })
    });
    let names = Names::of(&base);
    let mut plan = HostPlan {
        names: names.clone(),
        writes: vec![],
        removals: vec![],
        warnings: vec![],
    };
    for part in PARTS {
        let kind = part.kind();
        let name = names.of_part(part);
        let before = listing.named(kind, name).cloned();
        if !wanted(part, options) {
            if let Some(current) = before.filter(|o| is_gateways(o) && is_for(part, o, h, &base)) {
                plan.removals.push((kind, current));
            }
            continue;
        }
        if let Some(current) = &before {
            let what = format!("{}/{name} in namespace {ns}", kind.qualified());
            match (is_managed(current), is_for(part, current, h, &base)) {
                (true, true) => {}
                (false, true) if adopt => {}
                (false, true) => {
                    return Err(format!(
                        "{what} already exists for {h} and was not created by kubectl-egress (no \
                         label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}): take it over with --adopt, \
                         or delete it"
                    ));
                }
                (_, false) => {
                    return Err(format!(
                        "{what} already exists and is not {h}'s: remove it or rename it, then run \
                         gateway {h} again"
                    ));
                }
            }
        }
        for other in listing.of_kind(kind) {
            let other_name = other["metadata"]["name"].as_str().unwrap_or_default();
            if other_name != name
                && !is_gateways(other)
                && part != Part::GatewayRule
                && is_for(part, other, h, &base)
            {
                let also = if part == Part::OriginationRule {
                    format!("is also a DestinationRule for {h}: Istio applies only one of them")
                } else {
                    format!("also lists {h}")
                };
                plan.warnings.push(format!(
                    "{}/{other_name} in namespace {ns} (not written by kubectl egress gateway) {also}",
                    kind.qualified()
                ));
            }
        }
        plan.writes.push(Planned {
            kind,
            object: object(part, target, host, &names, options),
            before,
        });
    }
    Ok(plan)
}

/// What `--off` deletes for a host: the objects under its names that the plugin wrote for it.
/// The rest is said, not touched.
pub fn plan_off(listing: &Listing, host: &str) -> (Vec<(Kind, Value)>, Vec<String>) {
    let Some(base) = existing_base(listing, host) else {
        return (vec![], vec![]);
    };
    let names = Names::of(&base);
    let mut gone = vec![];
    let mut kept = vec![];
    for part in PARTS.iter().rev().copied() {
        let kind = part.kind();
        let name = names.of_part(part);
        match listing.named(kind, name) {
            Some(o) if is_managed(o) && is_for(part, o, host, &base) => {
                gone.push((kind, o.clone()))
            }
            // Only `gateway` ever writes the origination rule under this name; a hand-made one
            // is someone else's business, not a leftover to report.
            Some(_) if part == Part::OriginationRule => {}
            Some(_) => kept.push(format!(
                "{}/{name} is not kubectl-egress's object for {host}: kept",
                kind.qualified()
            )),
            None => {}
        }
    }
    (gone, kept)
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
        (COMPONENT_LABEL.to_string(), COMPONENT_VALUE.to_string()),
    ])
}

fn metadata(target: &Target, name: &str) -> Metadata {
    Metadata {
        name: name.to_string(),
        namespace: Some(target.namespace.clone()),
        labels: labels(),
        ..Metadata::default()
    }
}

/// The egress gateway Service's FQDN in the target namespace.
pub fn service_host(target: &Target, options: &GatewayOptions) -> String {
    format!("{}.{}.svc.cluster.local", options.service, target.namespace)
}

const TLS_PORT: u32 = 443;

fn port(number: u32, name: &str, protocol: &str) -> PortSpec {
    PortSpec {
        number: number as u16,
        protocol: protocol.into(),
        name: Some(name.into()),
    }
}

fn destination(host: &str, port: u32) -> RouteDestination {
    RouteDestination {
        destination: Destination {
            host: host.to_string(),
            subset: None,
            port: Some(PortSelector { number: port }),
        },
        weight: Some(100),
    }
}

/// One of the host's objects. Plain HTTP on 80 unless the host is a wildcard (TLS only); with
/// `--tls` TLS on 443 by SNI (Istio's "Egress gateway for HTTPS traffic" task); with
/// `--tls-origination` the second hop goes to the host's 443 and a DestinationRule originates
/// TLS there ("Egress Gateways with TLS Origination").
pub fn object(
    part: Part,
    target: &Target,
    host: &Host,
    names: &Names,
    options: &GatewayOptions,
) -> Value {
    let api_version = target.api_version.group_version();
    let kind = part.kind();
    let to_value = |v: Result<Value, serde_json::Error>| v.unwrap_or_default();
    let http = !host.is_wildcard();
    // Where the gateway connects: the host, or a wildcard's one upstream.
    let upstream = options.upstream.as_ref().unwrap_or(host);
    match part {
        Part::ServiceEntry => {
            let mut ports = vec![];
            if http {
                ports.push(port(PORT, "http-port", "HTTP"));
            }
            if options.tls {
                // TLS, not HTTPS: the gateway forwards by SNI without looking inside (the task's
                // port); either protocol gives the same TCP cluster on 443.
                ports.push(port(TLS_PORT, "tls", "TLS"));
            } else if options.tls_origination {
                ports.push(port(TLS_PORT, "https", "HTTPS"));
            }
            let mut se = plan::service_entry(
                target,
                upstream,
                &AllowOptions {
                    ports,
                    name: Some(names.service_entry.clone()),
                    resolution: Some("DNS".into()),
                    ..AllowOptions::default()
                },
            );
            se.metadata.labels = labels();
            to_value(serde_json::to_value(se))
        }
        Part::Gateway => {
            let mut servers = vec![];
            if http {
                servers.push(GatewayServer {
                    port: Some(ServicePort {
                        number: PORT,
                        name: "http".into(),
                        protocol: "HTTP".into(),
                        target_port: None,
                    }),
                    hosts: vec![host.to_string()],
                    tls: None,
                });
            }
            if options.tls {
                servers.push(GatewayServer {
                    port: Some(ServicePort {
                        number: TLS_PORT,
                        name: "tls".into(),
                        protocol: "TLS".into(),
                        target_port: None,
                    }),
                    hosts: vec![host.to_string()],
                    tls: Some(ServerTls {
                        mode: "PASSTHROUGH".into(),
                    }),
                });
            }
            to_value(serde_json::to_value(Gateway {
                unreadable: None,
                api_version,
                kind: kind.name().into(),
                metadata: metadata(target, &names.gateway),
                spec: GatewaySpec {
                    selector: options.selector.clone(),
                    servers,
                },
            }))
        }
        Part::GatewayRule => to_value(serde_json::to_value(DestinationRule {
            unreadable: None,
            api_version,
            kind: kind.name().into(),
            metadata: metadata(target, &names.destination_rule),
            spec: DestinationRuleSpec {
                host: service_host(target, options),
                export_to: vec![],
                traffic_policy: None,
                subsets: vec![Subset {
                    name: names.base.clone(),
                    traffic_policy: None,
                }],
            },
        })),
        // exportTo ".": in istio-system (Istio's root namespace) a rule without it would apply to
        // every sidecar too, and a sidecar's own TLS to the host would be encrypted twice.
        Part::OriginationRule => to_value(serde_json::to_value(DestinationRule {
            unreadable: None,
            api_version,
            kind: kind.name().into(),
            metadata: metadata(target, &names.origination_rule),
            spec: DestinationRuleSpec {
                host: host.to_string(),
                export_to: vec![".".into()],
                traffic_policy: Some(TrafficPolicy {
                    tls: None,
                    port_level_settings: vec![PortTrafficPolicy {
                        port: Some(PortSelector { number: TLS_PORT }),
                        tls: Some(ClientTls {
                            mode: "SIMPLE".into(),
                            sni: Some(host.to_string()),
                        }),
                    }],
                }),
                subsets: vec![],
            },
        })),
        Part::VirtualService => {
            let gateway = names.gateway.clone();
            let http_routes = if http {
                // With origination the plain HTTP leaves for the host's 443.
                let to_port = if options.tls_origination {
                    TLS_PORT
                } else {
                    PORT
                };
                vec![HttpRoute {
                    matches: vec![HttpMatch {
                        gateways: vec![gateway.clone()],
                        port: Some(PORT),
                        uri: None,
                    }],
                    timeout: None,
                    retries: None,
                    route: vec![destination(host.as_str(), to_port)],
                }]
            } else {
                vec![]
            };
            let tls_routes = if options.tls {
                vec![TlsRoute {
                    matches: vec![TlsMatch {
                        gateways: vec![gateway.clone()],
                        port: Some(TLS_PORT),
                        sni_hosts: vec![host.to_string()],
                    }],
                    route: vec![destination(upstream.as_str(), TLS_PORT)],
                }]
            } else {
                vec![]
            };
            to_value(serde_json::to_value(VirtualService {
                unreadable: None,
                api_version,
                kind: kind.name().into(),
                metadata: metadata(target, &names.virtual_service),
                spec: VirtualServiceSpec {
                    hosts: vec![host.to_string()],
                    gateways: vec![gateway],
                    http: http_routes,
                    tls: tls_routes,
                    ..VirtualServiceSpec::default()
                },
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target() -> Target {
        Target {
            namespace: "istio-system".into(),
            api_version: ApiVersion::V1beta1,
        }
    }

    fn host(h: &str) -> Host {
        Host::parse(h).unwrap()
    }

    fn plan(listing: &Listing, h: &str, adopt: bool) -> Result<(Names, Vec<Planned>), String> {
        plan_host(
            &target(),
            &host(h),
            &GatewayOptions::default(),
            listing,
            &[],
            adopt,
        )
        .map(|p| (p.names, p.writes))
    }

    fn listing_of(planned: &[Planned]) -> Listing {
        let mut listing = Listing::default();
        for p in planned {
            let list = match p.kind {
                Kind::ServiceEntry => &mut listing.service_entries,
                Kind::DestinationRule => &mut listing.destination_rules,
                Kind::Gateway => &mut listing.gateways,
                Kind::VirtualService => &mut listing.virtual_services,
            };
            list.push(p.object.clone());
        }
        listing
    }

    #[test]
    fn names_follow_the_admins_objects() {
        let (names, planned) = plan(&Listing::default(), "httpbin.org", false).unwrap();
        assert_eq!(names, Names::of("httpbin"));
        assert_eq!(names.destination_rule, "egressgateway-for-httpbin");
        assert_eq!(names.gateway, "httpbin-egressgateway");
        assert!(planned.iter().all(|p| p.before.is_none()));
        let dr = &planned[1].object;
        assert_eq!(
            dr["spec"],
            json!({"host": "istio-egressgateway.istio-system.svc.cluster.local", "subsets": [{"name": "httpbin"}]})
        );
    }

    #[test]
    fn rerunning_updates_the_same_objects() {
        let (_, first) = plan(&Listing::default(), "httpbin.org", false).unwrap();
        let listing = listing_of(&first);
        let (names, again) = plan(&listing, "httpbin.org", false).unwrap();
        assert_eq!(names.base, "httpbin");
        assert!(again.iter().all(|p| p.before.is_some()));
    }

    #[test]
    fn another_hosts_names_are_worked_around() {
        let (_, first) = plan(&Listing::default(), "httpbin.org", false).unwrap();
        let listing = listing_of(&first);
        let (names, _) = plan(&listing, "httpbin.com", false).unwrap();
        assert_eq!(names.base, "httpbin-com");
        // A hand-made DestinationRule of that name for another subset takes the name too.
        let listing = Listing {
            destination_rules: vec![json!({
                "metadata": {"name": "egressgateway-for-api"},
                "spec": {"host": "x", "subsets": [{"name": "other"}]}
            })],
            ..Listing::default()
        };
        assert_eq!(
            plan(&listing, "api.example.org", false).unwrap().0.base,
            "api-example"
        );
    }

    #[test]
    fn hand_made_objects_for_the_host_are_refused_unless_adopted() {
        let (_, first) = plan(&Listing::default(), "httpbin.org", false).unwrap();
        let mut listing = listing_of(&first);
        for o in &mut listing.gateways {
            o["metadata"]["labels"] = json!({});
        }
        let err = plan(&listing, "httpbin.org", false).unwrap_err();
        assert!(
            err.contains("gateway.networking.istio.io/httpbin-egressgateway")
                && err.contains("--adopt"),
            "{err}"
        );
        assert!(plan(&listing, "httpbin.org", true).is_ok());
    }

    #[test]
    fn off_deletes_only_the_plugins_objects_routes_first() {
        let (_, first) = plan(&Listing::default(), "httpbin.org", false).unwrap();
        let mut listing = listing_of(&first);
        listing.destination_rules[0]["metadata"]["labels"] = json!({});
        let (gone, kept) = plan_off(&listing, "httpbin.org");
        let kinds: Vec<Kind> = gone.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [Kind::VirtualService, Kind::Gateway, Kind::ServiceEntry]
        );
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(plan_off(&listing, "other.org").0.is_empty());
    }

    #[test]
    fn long_hosts_keep_every_name_a_dns_label() {
        let long = format!("{}.example.org", "a".repeat(60));
        let (names, _) = plan(&Listing::default(), &long, false).unwrap();
        for part in PARTS {
            let n = names.of_part(part);
            assert!(crate::core::validate::dns_label("name", n).is_ok(), "{n}");
        }
    }
}
