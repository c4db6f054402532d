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

use super::change::{Listed, Precondition};
use crate::core::mesh::traffic::covers;
use crate::core::objects::istio::*;
use crate::core::objects::naming;
use crate::core::objects::plan::{self, AllowOptions, Target};
use crate::core::objects::validate::{Host, PortSpec};

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

/// The gateway namespace's objects of the four kinds, as listed (offline: `Listing::default()`,
/// nothing).
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub service_entries: Listed<ServiceEntrySpec>,
    pub destination_rules: Listed<DestinationRuleSpec>,
    pub gateways: Listed<GatewaySpec>,
    pub virtual_services: Listed<VirtualServiceSpec>,
}

impl Listing {
    /// Adds an object of `kind` as the server listed it.
    pub fn add(&mut self, kind: Kind, json: Value) {
        match kind {
            Kind::ServiceEntry => self.service_entries.items.push(ListedObject::new(json)),
            Kind::DestinationRule => self.destination_rules.items.push(ListedObject::new(json)),
            Kind::Gateway => self.gateways.items.push(ListedObject::new(json)),
            Kind::VirtualService => self.virtual_services.items.push(ListedObject::new(json)),
        }
    }

    /// The precondition of a write of `kind` over `before` (None: a create), from its list.
    pub fn precondition(&self, kind: Kind, before: Option<&Value>) -> Precondition {
        match kind {
            Kind::ServiceEntry => Precondition::from_read(before, &self.service_entries),
            Kind::DestinationRule => Precondition::from_read(before, &self.destination_rules),
            Kind::Gateway => Precondition::from_read(before, &self.gateways),
            Kind::VirtualService => Precondition::from_read(before, &self.virtual_services),
        }
    }

    /// The listed objects of `kind`, in the order listed.
    fn of_kind(&self, kind: Kind) -> Vec<Entry<'_>> {
        fn entries<'a, S>(
            objects: &'a [ListedObject<S>],
            spec: impl Fn(&'a S) -> Spec<'a>,
        ) -> Vec<Entry<'a>> {
            let entry = |o: &'a ListedObject<S>| Entry {
                metadata: &o.typed.metadata,
                spec: spec(&o.typed.spec),
                json: &o.json,
            };
            objects.iter().map(entry).collect()
        }
        match kind {
            Kind::ServiceEntry => entries(&self.service_entries.items, Spec::ServiceEntry),
            Kind::DestinationRule => entries(&self.destination_rules.items, Spec::DestinationRule),
            Kind::Gateway => entries(&self.gateways.items, Spec::Gateway),
            Kind::VirtualService => entries(&self.virtual_services.items, Spec::VirtualService),
        }
    }

    fn named(&self, kind: Kind, name: &str) -> Option<Entry<'_>> {
        self.of_kind(kind)
            .into_iter()
            .find(|e| e.metadata.name == name)
    }
}

/// One listed object of any of the four kinds, as the planning reads it.
#[derive(Clone, Copy)]
struct Entry<'a> {
    metadata: &'a Metadata,
    spec: Spec<'a>,
    /// As the server sent it: what a write over the object is compared with.
    json: &'a Value,
}

#[derive(Clone, Copy)]
enum Spec<'a> {
    ServiceEntry(&'a ServiceEntrySpec),
    DestinationRule(&'a DestinationRuleSpec),
    Gateway(&'a GatewaySpec),
    VirtualService(&'a VirtualServiceSpec),
}

/// Whether `spec` is `host`'s `part` (the gateway's DestinationRule: defines subset `base`; a
/// wildcard's ServiceEntry names its upstream, a host the wildcard covers).
fn is_for(part: Part, spec: Spec<'_>, host: &str, base: &str) -> bool {
    match (part, spec) {
        (Part::ServiceEntry, Spec::ServiceEntry(se)) => se
            .hosts
            .iter()
            .any(|h| h == host || (host.starts_with("*.") && covers(host, h))),
        (Part::VirtualService, Spec::VirtualService(vs)) => vs.hosts.iter().any(|h| h == host),
        (Part::Gateway, Spec::Gateway(gw)) => gw
            .servers
            .iter()
            .any(|s| s.hosts.iter().any(|h| strip_namespace(h) == host)),
        (Part::GatewayRule, Spec::DestinationRule(dr)) => dr.subsets.iter().any(|s| s.name == base),
        (Part::OriginationRule, Spec::DestinationRule(dr)) => dr.host == host,
        _ => false,
    }
}

/// The base name of the objects `gateway` already wrote for `host`, if any: from its Gateway,
/// else its VirtualService, else its ServiceEntry.
pub fn existing_base(listing: &Listing, host: &str) -> Option<String> {
    let ours = |part: Part| {
        listing
            .of_kind(part.kind())
            .into_iter()
            .find(|e| e.metadata.is_gateways() && is_for(part, e.spec, host, ""))
            .map(|e| e.metadata.name.clone())
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
    /// The object there now, as listed (to update, with it as the precondition), or None (to
    /// create).
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
    pub removals: Vec<(Kind, Metadata)>,
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
    let base = existing_base(listing, h).unwrap_or_else(|| free_base(listing, host, given));
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
        let before = listing.named(kind, name);
        if !wanted(part, options) {
            if let Some(current) =
                before.filter(|e| e.metadata.is_gateways() && is_for(part, e.spec, h, &base))
            {
                plan.removals.push((kind, current.metadata.clone()));
            }
            continue;
        }
        if let Some(current) = before {
            check_existing(part, current, target, h, &base, adopt)?;
        }
        plan.warnings
            .extend(others_for_host(part, listing, target, h, &names));
        plan.writes.push(Planned {
            kind,
            object: object(part, target, host, &names, options),
            before: before.map(|e| e.json.clone()),
        });
    }
    Ok(plan)
}

/// The first base for `host` whose names are all free: not taken by an earlier host of the
/// command, nor by an object that is not this host's.
fn free_base(listing: &Listing, host: &Host, given: &[String]) -> String {
    naming::unique_name_within(host, None, MAX_BASE, |base| {
        let names = Names::of(base);
        given.iter().any(|g| g == base)
            || PARTS.iter().any(|&part| {
                listing
                    .named(part.kind(), names.of_part(part))
                    .is_some_and(|e| !is_for(part, e.spec, host.as_str(), base))
            })
    })
}

/// Refuses to write `part` over `current` (the object under its name) when it is not host `h`'s,
/// or is a hand-made one and `adopt` is not given.
fn check_existing(
    part: Part,
    current: Entry<'_>,
    target: &Target,
    h: &str,
    base: &str,
    adopt: bool,
) -> Result<(), String> {
    let what = format!(
        "{}/{} in namespace {}",
        part.kind().qualified(),
        current.metadata.name,
        target.namespace
    );
    match (
        current.metadata.is_managed(),
        is_for(part, current.spec, h, base),
    ) {
        (true, true) => Ok(()),
        (false, true) if adopt => Ok(()),
        (false, true) => Err(format!(
            "{what} already exists for {h} and was not created by kubectl-egress (no \
             label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}): take it over with --adopt, \
             or delete it"
        )),
        (_, false) => Err(format!(
            "{what} already exists and is not {h}'s: remove it or rename it, then run \
             gateway {h} again"
        )),
    }
}

/// Warnings about objects of `part`'s kind under other names, not written by `gateway`, that are
/// for host `h` too (the gateway's DestinationRules are shared by design: none).
fn others_for_host(
    part: Part,
    listing: &Listing,
    target: &Target,
    h: &str,
    names: &Names,
) -> Vec<String> {
    if part == Part::GatewayRule {
        return vec![];
    }
    let kind = part.kind();
    let name = names.of_part(part);
    let also = if part == Part::OriginationRule {
        format!("is also a DestinationRule for {h}: Istio applies only one of them")
    } else {
        format!("also lists {h}")
    };
    listing
        .of_kind(kind)
        .into_iter()
        .filter(|other| {
            other.metadata.name != name
                && !other.metadata.is_gateways()
                && is_for(part, other.spec, h, &names.base)
        })
        .map(|other| {
            format!(
                "{}/{} in namespace {} (not written by kubectl egress gateway) {also}",
                kind.qualified(),
                other.metadata.name,
                target.namespace
            )
        })
        .collect()
}

/// What `--off` deletes for a host: the objects under its names that the plugin wrote for it.
/// The rest is said, not touched.
pub fn plan_off(listing: &Listing, host: &str) -> (Vec<(Kind, Metadata)>, Vec<String>) {
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
            Some(e) if e.metadata.is_managed() && is_for(part, e.spec, host, &base) => {
                gone.push((kind, e.metadata.clone()))
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
    let head = |name: &str| Head {
        api_version: target.api_version.group_version(),
        kind: part.kind().name().into(),
        metadata: metadata(target, name),
    };
    match part {
        Part::ServiceEntry => to_value(&service_entry(target, host, names, options)),
        Part::Gateway => to_value(&gateway(head(&names.gateway), host, options)),
        Part::GatewayRule => to_value(&gateway_rule(
            head(&names.destination_rule),
            target,
            names,
            options,
        )),
        Part::OriginationRule => to_value(&origination_rule(head(&names.origination_rule), host)),
        Part::VirtualService => to_value(&virtual_service(
            head(&names.virtual_service),
            host,
            names,
            options,
        )),
    }
}

/// What every object `gateway` writes begins with.
struct Head {
    api_version: String,
    kind: String,
    metadata: Metadata,
}

impl Head {
    fn with<S>(self, spec: S) -> Object<S> {
        Object {
            api_version: self.api_version,
            kind: self.kind,
            metadata: self.metadata,
            spec,
            unreadable: None,
        }
    }
}

/// The ServiceEntry: the host (a wildcard's upstream) on 80 unless a wildcard, and on 443 with
/// `--tls` or `--tls-origination`, resolved by DNS.
fn service_entry(
    target: &Target,
    host: &Host,
    names: &Names,
    options: &GatewayOptions,
) -> ServiceEntry {
    let mut ports = vec![];
    if !host.is_wildcard() {
        ports.push(port(PORT, "http-port", "HTTP"));
    }
    if options.tls {
        // TLS, not HTTPS: the gateway forwards by SNI without looking inside (the task's port);
        // either protocol gives the same TCP cluster on 443.
        ports.push(port(TLS_PORT, "tls", "TLS"));
    } else if options.tls_origination {
        ports.push(port(TLS_PORT, "https", "HTTPS"));
    }
    // Where the gateway connects: the host, or a wildcard's one upstream.
    let upstream = options.upstream.as_ref().unwrap_or(host);
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
    se
}

/// The Gateway: the egress gateway's pods, a server on 80 for plain HTTP unless a wildcard, and
/// with `--tls` a PASSTHROUGH server on 443.
fn gateway(head: Head, host: &Host, options: &GatewayOptions) -> Gateway {
    let server = |number: u32, name: &str, protocol: &str, tls: Option<ServerTls>| GatewayServer {
        port: Some(ServicePort {
            number,
            name: name.into(),
            protocol: protocol.into(),
            target_port: None,
        }),
        hosts: vec![host.to_string()],
        tls,
    };
    let mut servers = vec![];
    if !host.is_wildcard() {
        servers.push(server(PORT, "http", "HTTP", None));
    }
    if options.tls {
        let passthrough = ServerTls {
            mode: "PASSTHROUGH".into(),
        };
        servers.push(server(TLS_PORT, "tls", "TLS", Some(passthrough)));
    }
    head.with(GatewaySpec {
        selector: options.selector.clone(),
        servers,
    })
}

/// The egress gateway Service's DestinationRule, with the host's subset.
fn gateway_rule(
    head: Head,
    target: &Target,
    names: &Names,
    options: &GatewayOptions,
) -> DestinationRule {
    head.with(DestinationRuleSpec {
        host: service_host(target, options),
        export_to: vec![],
        traffic_policy: None,
        subsets: vec![Subset {
            name: names.base.clone(),
            traffic_policy: None,
        }],
    })
}

/// The host's DestinationRule that originates TLS on 443. exportTo ".": in istio-system (Istio's
/// root namespace) a rule without it would apply to every sidecar too, and a sidecar's own TLS to
/// the host would be encrypted twice.
fn origination_rule(head: Head, host: &Host) -> DestinationRule {
    head.with(DestinationRuleSpec {
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
    })
}

/// The second hop, bound to the host's Gateway: plain HTTP on 80 to the host (its 443 with
/// `--tls-origination`) unless a wildcard, and with `--tls` TLS on 443 by SNI to the upstream.
fn virtual_service(
    head: Head,
    host: &Host,
    names: &Names,
    options: &GatewayOptions,
) -> VirtualService {
    let gateway = names.gateway.clone();
    let mut http = vec![];
    if !host.is_wildcard() {
        // With origination the plain HTTP leaves for the host's 443.
        let to_port = if options.tls_origination {
            TLS_PORT
        } else {
            PORT
        };
        http.push(HttpRoute {
            matches: vec![HttpMatch {
                gateways: vec![gateway.clone()],
                port: Some(PORT),
                uri: None,
            }],
            timeout: None,
            retries: None,
            route: vec![destination(host.as_str(), to_port)],
        });
    }
    let mut tls = vec![];
    if options.tls {
        let upstream = options.upstream.as_ref().unwrap_or(host);
        tls.push(TlsRoute {
            matches: vec![TlsMatch {
                gateways: vec![gateway.clone()],
                port: Some(TLS_PORT),
                sni_hosts: vec![host.to_string()],
            }],
            route: vec![destination(upstream.as_str(), TLS_PORT)],
        });
    }
    head.with(VirtualServiceSpec {
        hosts: vec![host.to_string()],
        gateways: vec![gateway],
        http,
        tls,
        ..VirtualServiceSpec::default()
    })
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
            listing.add(p.kind, p.object.clone());
        }
        listing
    }

    /// `planned`, with the labels of its objects of `kind` taken away (as if made by hand).
    fn hand_made(mut planned: Vec<Planned>, kind: Kind) -> Vec<Planned> {
        for p in planned.iter_mut().filter(|p| p.kind == kind) {
            p.object["metadata"]["labels"] = json!({});
        }
        planned
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
        let mut listing = Listing::default();
        listing.add(
            Kind::DestinationRule,
            json!({
                "apiVersion": "networking.istio.io/v1beta1",
                "kind": "DestinationRule",
                "metadata": {"name": "egressgateway-for-api"},
                "spec": {"host": "x", "subsets": [{"name": "other"}]}
            }),
        );
        assert_eq!(
            plan(&listing, "api.example.org", false).unwrap().0.base,
            "api-example"
        );
    }

    #[test]
    fn hand_made_objects_for_the_host_are_refused_unless_adopted() {
        let (_, first) = plan(&Listing::default(), "httpbin.org", false).unwrap();
        let listing = listing_of(&hand_made(first, Kind::Gateway));
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
        let listing = listing_of(&hand_made(first, Kind::DestinationRule));
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
            assert!(
                crate::core::objects::validate::dns_label("name", n).is_ok(),
                "{n}"
            );
        }
    }
}
