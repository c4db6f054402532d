//! `timeout`, `retries` and `via-gateway`'s planning: the host's one VirtualService composed
//! from the one listed, or deleted when nothing is left to say. Pure: the command lists (or,
//! offline, lists nothing) and carries the change out.

use super::change::{Change, Listed, Planned, Precondition, Refusal};
use super::ownership::{self, Request, existing};
use crate::core::analysis::route_checks::{self, Proposal};
use crate::core::mesh::view::ClusterView;
use crate::core::objects::istio::{Kind, ListedObject, ServiceEntry, VirtualServiceSpec, to_value};
use crate::core::objects::plan::{self, RouteChange, RouteSettings, Target};
use crate::core::objects::validate::{Host, is_http_protocol};

/// What the command was asked, validated.
pub struct RouteRequest<'a> {
    pub host: &'a Host,
    pub change: &'a RouteChange,
    /// --export-to; empty: the VirtualService keeps its own.
    pub export_to: &'a [String],
    /// --adopt: take over a hand-made VirtualService for the host instead of refusing.
    pub adopt: bool,
    /// via-gateway --tls-origination: the admins' gateway must open TLS to the host.
    pub origination: bool,
}

/// What was learnt from the namespace's ServiceEntries (read once: they only pick the name).
/// Offline nothing is: `ServiceEntryFacts::default()`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ServiceEntryFacts {
    /// The host's ServiceEntry's name, which its VirtualService takes.
    pub name: Option<String>,
    /// Other hosts' ServiceEntries' names: with none of its own, the VirtualService takes a
    /// name none of them has, so that a later `allow` can give the ServiceEntry the same one.
    pub other_hosts_names: Vec<String>,
    /// Said once, before anything else is read.
    pub warnings: Vec<String>,
}

/// Reads the host's ServiceEntry (the plugin's first) among `service_entries`.
pub fn service_entry_facts(
    request: &RouteRequest<'_>,
    namespace: &str,
    service_entries: &[ServiceEntry],
) -> ServiceEntryFacts {
    let host = request.host;
    let lists_host = |se: &ServiceEntry| se.spec.hosts.iter().any(|h| h == host.as_str());
    let service_entry = service_entries
        .iter()
        .filter(|se| lists_host(se))
        .max_by_key(|se| se.metadata.is_managed());
    let warning = match (service_entry, request.change) {
        (
            None,
            RouteChange::SetTimeout(_) | RouteChange::SetRetries(_) | RouteChange::ViaGateway(..),
        ) => Some(format!(
            "no ServiceEntry for {host} in namespace {namespace}: with REGISTRY_ONLY calls still fail; run kubectl egress allow {host}"
        )),
        (Some(se), RouteChange::SetTimeout(t))
            if !se.spec.ports.iter().any(|p| is_http_protocol(&p.protocol)) =>
        {
            Some(format!(
                "{host} has no HTTP port: timeout {t} applies only to HTTP routes, never to HTTPS/TLS traffic (istio#47713)"
            ))
        }
        _ => None,
    };
    ServiceEntryFacts {
        name: service_entry.map(|se| se.metadata.name.clone()),
        other_hosts_names: service_entries
            .iter()
            .filter(|se| !lists_host(se))
            .map(|se| se.metadata.name.clone())
            .collect(),
        warnings: warning.into_iter().collect(),
    }
}

/// The host's VirtualService written over `virtual_services` (offline: `Listed::default()`), or
/// deleted when nothing is left; refused when another object is in the way or, given `checks`
/// (what istio-system holds), when Istio would not honour it.
pub fn plan(
    target: &Target,
    request: &RouteRequest<'_>,
    facts: &ServiceEntryFacts,
    virtual_services: &Listed<VirtualServiceSpec>,
    checks: Option<&ClusterView>,
) -> Planned {
    let (namespace, host) = (target.namespace.as_str(), request.host);
    let placed = ownership::place(
        &Request {
            kind: Kind::VirtualService,
            namespace,
            host,
            requested_name: None,
            preferred_name: facts.name.as_deref(),
            given_to_others: &facts.other_hosts_names,
            adopt: request.adopt,
        },
        &existing(virtual_services.json()),
    );
    let placement = match placed {
        Ok(placement) => placement,
        Err(refusal) => return planned(vec![], Err(Refusal::Conflict(refusal))),
    };
    let mut warnings = placement.warnings;
    let before = virtual_services.named(&placement.name);
    let current = before
        .map(|vs| RouteSettings::from_virtual_service(host.as_str(), &vs.typed.spec))
        .unwrap_or_default();
    let mut next = request.change.apply(&current);
    if !request.export_to.is_empty() {
        next.export_to = request.export_to.to_vec();
    }
    let Some(vs) = plan::virtual_service(target, &placement.name, host, &next) else {
        return planned(
            warnings,
            Ok(clearing(namespace, host, before, virtual_services)),
        );
    };
    if let Some(view) = checks {
        let proposal = Proposal {
            namespace,
            host: host.as_str(),
            change: request.change,
            origination: request.origination,
        };
        let listed = &virtual_services.items;
        let (refusal, sidecars) = route_checks::judged(view, listed, before, &vs, &proposal);
        warnings.extend(sidecars);
        if let Some(refusal) = refusal {
            return planned(warnings, Err(Refusal::Findings(refusal)));
        }
    }
    let change = Change::Apply {
        kind: Kind::VirtualService.into(),
        namespace: namespace.to_string(),
        object: to_value(&vs),
        precondition: Precondition::from_read(before.map(|b| &b.json), virtual_services),
        before: before.map(|b| b.json.clone()),
    };
    planned(warnings, Ok((vec![change], vec![])))
}

/// Nothing left to say about the host: the VirtualService goes, if it is the plugin's (never
/// what the plugin did not create, even when adopting). Else a note that nothing changes, when
/// the namespace was read (offline nothing is known of it).
fn clearing(
    namespace: &str,
    host: &Host,
    before: Option<&ListedObject<VirtualServiceSpec>>,
    listed: &Listed<VirtualServiceSpec>,
) -> (Vec<Change>, Vec<String>) {
    match before {
        Some(vs) if vs.typed.metadata.is_managed() => (
            vec![Change::delete_of(
                Kind::VirtualService,
                namespace,
                &vs.typed.metadata,
            )],
            vec![],
        ),
        _ if !listed.is_read() => (vec![], vec![]),
        _ => (
            vec![],
            vec![format!(
                "{host} has no timeout and no gateway route in namespace {namespace}: nothing to change"
            )],
        ),
    }
}

fn planned(warnings: Vec<String>, outcome: Result<(Vec<Change>, Vec<String>), Refusal>) -> Planned {
    match outcome {
        Ok((changes, notes)) => Planned {
            warnings,
            notes,
            outcome: Ok(vec![changes]),
        },
        Err(refusal) => Planned {
            warnings,
            notes: vec![],
            outcome: Err(refusal),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::mesh::view::Known;
    use crate::core::objects::istio::typed;
    use crate::core::objects::plan::{AllowOptions, GatewayHop};
    use serde_json::Value;
    use serde_json::json;

    fn target() -> Target {
        Target::v1("student1")
    }

    fn host() -> Host {
        Host::parse("httpbin.org").unwrap()
    }

    fn request<'a>(host: &'a Host, change: &'a RouteChange, adopt: bool) -> RouteRequest<'a> {
        RouteRequest {
            host,
            change,
            export_to: &[],
            adopt,
            origination: false,
        }
    }

    fn listed<S: serde::de::DeserializeOwned + Default>(items: Vec<Value>) -> Listed<S> {
        Listed {
            items: items.into_iter().map(ListedObject::new).collect(),
            resource_version: "100".into(),
        }
    }

    /// A listed VirtualService for httpbin.org with a 5s timeout, the plugin's when `managed`.
    fn with_timeout(name: &str, managed: bool) -> Value {
        let settings = RouteSettings {
            timeout: Some("5s".into()),
            ..RouteSettings::default()
        };
        let mut vs = to_value(&plan::virtual_service(&target(), name, &host(), &settings).unwrap());
        if !managed {
            vs["metadata"]["labels"] = json!({});
        }
        vs["metadata"]["uid"] = json!("uid-1");
        vs["metadata"]["resourceVersion"] = json!("7");
        vs
    }

    fn gateway_route() -> RouteChange {
        RouteChange::ViaGateway(Some(GatewayHop::default()), None)
    }

    #[test]
    fn offline_the_name_is_the_hosts_default() {
        for name in ["httpbin.org", "*.wikipedia.org", "api.gitlab.com"] {
            let host = Host::parse(name).unwrap();
            let change = RouteChange::SetTimeout("2s".into());
            let planned = plan(
                &target(),
                &request(&host, &change, false),
                &ServiceEntryFacts::default(),
                &Listed::default(),
                None,
            );
            assert!(planned.warnings.is_empty() && planned.notes.is_empty());
            let changes = planned.outcome.unwrap().concat();
            let Change::Apply {
                object,
                precondition,
                ..
            } = &changes[0]
            else {
                panic!("not an apply");
            };
            assert_eq!(object["metadata"]["name"], host.default_object_name());
            assert_eq!(precondition, &Precondition::None);
        }
    }

    #[test]
    fn a_gateway_route_keeps_the_timeout_listed() {
        let listed = listed(vec![with_timeout("httpbin", true)]);
        let (host, change) = (host(), gateway_route());
        let changes = plan(
            &target(),
            &request(&host, &change, false),
            &ServiceEntryFacts::default(),
            &listed,
            None,
        )
        .outcome
        .unwrap()
        .concat();
        let Change::Apply {
            object,
            before,
            precondition,
            ..
        } = &changes[0]
        else {
            panic!("not an apply");
        };
        let settings = RouteSettings::from_virtual_service(
            "httpbin.org",
            &typed::<VirtualServiceSpec>(object).spec,
        );
        assert_eq!(settings.timeout.as_deref(), Some("5s"));
        assert_eq!(settings.via_gateway, Some(GatewayHop::default()));
        assert_eq!(before.as_ref(), Some(&listed.items[0].json));
        assert_eq!(
            precondition,
            &Precondition::Unchanged {
                uid: "uid-1".into(),
                resource_version: "7".into()
            }
        );
    }

    #[test]
    fn a_cleared_route_is_deleted_only_when_the_plugins() {
        let (host, change) = (host(), RouteChange::ClearTimeout);
        let clear = |listed: &Listed<VirtualServiceSpec>, adopt: bool| {
            plan(
                &target(),
                &request(&host, &change, adopt),
                &ServiceEntryFacts::default(),
                listed,
                None,
            )
        };
        let ours = listed(vec![with_timeout("httpbin", true)]);
        let planned = clear(&ours, false);
        assert_eq!(
            planned.outcome.unwrap().concat(),
            [Change::delete_listed(
                Kind::VirtualService,
                "student1",
                &ours.items[0].json
            )]
        );
        // Adopted, someone else's is emptied of the timeout but never deleted.
        let theirs = listed(vec![with_timeout("httpbin", false)]);
        let planned = clear(&theirs, true);
        assert_eq!(planned.outcome.unwrap().concat(), []);
        assert_eq!(
            planned.notes,
            [
                "httpbin.org has no timeout and no gateway route in namespace student1: nothing to change"
            ]
        );
        // Offline nothing is known of the namespace: nothing to say either.
        let planned = clear(&Listed::default(), false);
        assert_eq!(planned.outcome.unwrap().concat(), []);
        assert!(planned.notes.is_empty());
    }

    #[test]
    fn a_hand_made_virtual_service_for_the_host_is_refused_unless_adopted() {
        let theirs = listed(vec![with_timeout("my-route", false)]);
        let (host, change) = (host(), gateway_route());
        let planned = plan(
            &target(),
            &request(&host, &change, false),
            &ServiceEntryFacts::default(),
            &theirs,
            None,
        );
        assert!(
            matches!(&planned.outcome, Err(Refusal::Conflict(m)) if m.contains("--adopt")),
            "{:?}",
            planned.outcome
        );
        let adopted = plan(
            &target(),
            &request(&host, &change, true),
            &ServiceEntryFacts::default(),
            &theirs,
            None,
        );
        let changes = adopted.outcome.unwrap().concat();
        assert_eq!(
            changes[0].display_name(),
            "virtualservice.networking.istio.io/my-route"
        );
    }

    #[test]
    fn the_virtual_service_takes_its_service_entrys_name_or_one_no_other_host_has() {
        let host = host();
        let change = RouteChange::SetTimeout("2s".into());
        let request = request(&host, &change, false);
        let ours = plan::service_entry(
            &target(),
            &host,
            &AllowOptions {
                name: Some("custom".into()),
                ..AllowOptions::default()
            },
        );
        let other = plan::service_entry(
            &target(),
            &Host::parse("httpbin.com").unwrap(),
            &AllowOptions::default(),
        );
        let facts = service_entry_facts(&request, "student1", &[ours, other.clone()]);
        assert_eq!(facts.name.as_deref(), Some("custom"));
        assert_eq!(facts.other_hosts_names, ["httpbin"]);
        assert!(facts.warnings.is_empty(), "{:?}", facts.warnings);

        let facts = service_entry_facts(&request, "student1", &[other]);
        assert_eq!(facts.name, None);
        assert!(facts.warnings[0].starts_with("no ServiceEntry for httpbin.org"));
        let planned = plan(&target(), &request, &facts, &listed(vec![]), None);
        assert_eq!(
            planned.outcome.unwrap()[0][0].display_name(),
            "virtualservice.networking.istio.io/httpbin-org"
        );
    }

    #[test]
    fn a_timeout_for_a_host_without_an_http_port_is_warned_of() {
        let host = host();
        let change = RouteChange::SetTimeout("2s".into());
        let https_only = plan::service_entry(
            &target(),
            &host,
            &AllowOptions {
                ports: vec![crate::core::objects::validate::PortSpec::parse("443/HTTPS").unwrap()],
                ..AllowOptions::default()
            },
        );
        let facts = service_entry_facts(&request(&host, &change, false), "student1", &[https_only]);
        assert_eq!(facts.warnings.len(), 1);
        assert!(
            facts.warnings[0].contains("has no HTTP port"),
            "{:?}",
            facts.warnings
        );
    }

    #[test]
    fn a_route_istio_would_not_honour_is_refused_given_the_checks() {
        // Nothing in istio-system: no egress gateway to route through.
        let view = ClusterView {
            elsewhere: Default::default(),
            service_entries: vec![],
            virtual_services: vec![],
            gateways: Known::Yes(vec![]),
            gateway_service_entries: Known::Yes(vec![]),
            egress_gateway_service: Known::Yes(false),
            gateway_virtual_services: Known::Yes(vec![]),
            destination_rules: Known::Yes(vec![]),
            namespace_destination_rules: vec![],
            services: Default::default(),
            outbound_policy: Known::Yes(Some("REGISTRY_ONLY".into())),
            scope: Default::default(),
        };
        let (host, change) = (host(), gateway_route());
        let planned = plan(
            &target(),
            &request(&host, &change, false),
            &ServiceEntryFacts::default(),
            &listed(vec![]),
            Some(&view),
        );
        assert!(
            matches!(&planned.outcome, Err(Refusal::Findings(m)) if m.starts_with("via-gateway httpbin.org would not work")),
            "{:?}",
            planned.outcome
        );
    }
}
