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
use super::validate::{Host, PortSpec};

pub const DEFAULT_GATEWAY_NAMESPACE: &str = "istio-system";
pub const DEFAULT_GATEWAY_SERVICE: &str = "istio-egressgateway";
/// The egress gateway's pod labels, as the course environment's Deployment and Service have them.
pub const DEFAULT_SELECTOR: [(&str, &str); 2] =
    [("app", "istio-egressgateway"), ("istio", "egressgateway")];

const GATEWAY_SUFFIX: &str = "-egressgateway";
const DESTINATION_RULE_PREFIX: &str = "egressgateway-for-";
/// The plain port the egress gateway takes the host's traffic on, as via-gateway's default.
const PORT: u32 = 80;

/// Where the egress gateway is and how its pods are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayOptions {
    /// The egress gateway Service's name in the target namespace.
    pub service: String,
    pub selector: BTreeMap<String, String>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            service: DEFAULT_GATEWAY_SERVICE.into(),
            selector: DEFAULT_SELECTOR
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
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
}

impl Names {
    pub fn of(base: &str) -> Names {
        Names {
            base: base.to_string(),
            service_entry: base.to_string(),
            gateway: format!("{base}{GATEWAY_SUFFIX}"),
            destination_rule: format!("{DESTINATION_RULE_PREFIX}{base}"),
            virtual_service: format!("{base}{GATEWAY_SUFFIX}"),
        }
    }

    pub fn of_kind(&self, kind: Kind) -> &str {
        match kind {
            Kind::ServiceEntry => &self.service_entry,
            Kind::Gateway => &self.gateway,
            Kind::DestinationRule => &self.destination_rule,
            Kind::VirtualService => &self.virtual_service,
        }
    }
}

/// The longest base whose derived names are all DNS-1123 labels (63 characters).
const MAX_BASE: usize = 63 - DESTINATION_RULE_PREFIX.len();

/// The kinds in the order they are written (and, reversed, deleted): what a route names exists
/// before the route.
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

/// Whether `object` of `kind` is about `host` (for a DestinationRule: defines subset `base`).
fn is_for(kind: Kind, object: &Value, host: &str, base: &str) -> bool {
    let spec = &object["spec"];
    match kind {
        Kind::ServiceEntry | Kind::VirtualService => strings(&spec["hosts"]).contains(&host),
        Kind::Gateway => spec["servers"].as_array().is_some_and(|servers| {
            servers
                .iter()
                .any(|s| strings(&s["hosts"]).iter().any(|h| bare(h) == host))
        }),
        Kind::DestinationRule => spec["subsets"]
            .as_array()
            .is_some_and(|subsets| subsets.iter().any(|s| s["name"] == base)),
    }
}

/// A Gateway server host without its `namespace/` prefix.
fn bare(host: &str) -> &str {
    host.split_once('/').map_or(host, |(_, h)| h)
}

/// The base name of the objects `gateway` already wrote for `host`, if any: from its Gateway,
/// else its VirtualService, else its ServiceEntry.
pub fn existing_base(listing: &Listing, host: &str) -> Option<String> {
    let ours = |kind: Kind| {
        listing
            .of_kind(kind)
            .iter()
            .filter(|o| is_gateways(o) && is_for(kind, o, host, ""))
            .filter_map(|o| o["metadata"]["name"].as_str())
            .next()
            .map(String::from)
    };
    ours(Kind::Gateway)
        .and_then(|n| n.strip_suffix(GATEWAY_SUFFIX).map(String::from))
        .or_else(|| {
            ours(Kind::VirtualService)
                .and_then(|n| n.strip_suffix(GATEWAY_SUFFIX).map(String::from))
        })
        .or_else(|| ours(Kind::ServiceEntry))
}

/// What to do with one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub kind: Kind,
    pub object: Value,
    /// The object there now (to update, with it as the precondition), or None (to create).
    pub before: Option<Value>,
}

/// The host's four objects, placed among what the namespace holds, or a refusal naming the
/// object in the way. `given` are the base names earlier hosts of the same command took.
pub fn plan_host(
    target: &Target,
    host: &Host,
    options: &GatewayOptions,
    listing: &Listing,
    given: &[String],
    adopt: bool,
) -> Result<(Names, Vec<Planned>, Vec<String>), String> {
    let h = host.as_str();
    let ns = &target.namespace;
    let base = existing_base(listing, h).unwrap_or_else(|| {
        naming::unique_name_within(host, None, MAX_BASE, |base| {
            let names = Names::of(base);
            given.iter().any(|g| g == base)
                || KINDS.iter().any(|&kind| {
                    listing
                        .named(kind, names.of_kind(kind))
                        .is_some_and(|o| !is_for(kind, o, h, base))
                })
        })
    });
    let names = Names::of(&base);
    let mut planned = vec![];
    let mut warnings = vec![];
    for kind in KINDS {
        let name = names.of_kind(kind);
        let before = listing.named(kind, name).cloned();
        if let Some(current) = &before {
            let what = format!("{}/{name} in namespace {ns}", kind.qualified());
            match (is_managed(current), is_for(kind, current, h, &base)) {
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
                && kind != Kind::DestinationRule
                && is_for(kind, other, h, &base)
            {
                warnings.push(format!(
                    "{}/{other_name} in namespace {ns} (not written by kubectl egress gateway) \
                     also lists {h}",
                    kind.qualified()
                ));
            }
        }
        planned.push(Planned {
            kind,
            object: object(kind, target, host, &names, options),
            before,
        });
    }
    Ok((names, planned, warnings))
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
    for kind in KINDS.iter().rev().copied() {
        let name = names.of_kind(kind);
        match listing.named(kind, name) {
            Some(o) if is_managed(o) && is_for(kind, o, host, &base) => {
                gone.push((kind, o.clone()))
            }
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

/// One of the host's four objects.
pub fn object(
    kind: Kind,
    target: &Target,
    host: &Host,
    names: &Names,
    options: &GatewayOptions,
) -> Value {
    let api_version = target.api_version.group_version();
    let to_value = |v: Result<Value, serde_json::Error>| v.unwrap_or_default();
    match kind {
        Kind::ServiceEntry => {
            let mut se = plan::service_entry(
                target,
                host,
                &AllowOptions {
                    ports: vec![PortSpec {
                        number: PORT as u16,
                        protocol: "HTTP".into(),
                        name: Some("http-port".into()),
                    }],
                    name: Some(names.service_entry.clone()),
                    ..AllowOptions::default()
                },
            );
            se.metadata.labels = labels();
            to_value(serde_json::to_value(se))
        }
        Kind::Gateway => to_value(serde_json::to_value(Gateway {
            api_version,
            kind: kind.name().into(),
            metadata: metadata(target, &names.gateway),
            spec: GatewaySpec {
                selector: options.selector.clone(),
                servers: vec![GatewayServer {
                    port: Some(ServicePort {
                        number: PORT,
                        name: "http".into(),
                        protocol: "HTTP".into(),
                        target_port: None,
                    }),
                    hosts: vec![host.to_string()],
                    tls: None,
                }],
            },
        })),
        Kind::DestinationRule => to_value(serde_json::to_value(DestinationRule {
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
        Kind::VirtualService => to_value(serde_json::to_value(VirtualService {
            api_version,
            kind: kind.name().into(),
            metadata: metadata(target, &names.virtual_service),
            spec: VirtualServiceSpec {
                hosts: vec![host.to_string()],
                gateways: vec![names.gateway.clone()],
                http: vec![HttpRoute {
                    matches: vec![HttpMatch {
                        gateways: vec![names.gateway.clone()],
                        port: Some(PORT),
                        uri: None,
                    }],
                    timeout: None,
                    retries: None,
                    route: vec![RouteDestination {
                        destination: Destination {
                            host: host.to_string(),
                            subset: None,
                            port: Some(PortSelector { number: PORT }),
                        },
                        weight: Some(100),
                    }],
                }],
                ..VirtualServiceSpec::default()
            },
        })),
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
        .map(|(n, p, _)| (n, p))
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
        for kind in KINDS {
            let n = names.of_kind(kind);
            assert!(crate::core::validate::dns_label("name", n).is_ok(), "{n}");
        }
    }
}
