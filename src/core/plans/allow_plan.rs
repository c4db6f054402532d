//! `allow`'s planning: which objects to write for each host, from the namespace's objects as
//! listed. Pure: the command lists (or, offline, lists nothing) and carries the chains out.

use serde_json::Value;

use super::change::{Change, Listed, Planned, Precondition, Refusal};
use super::ownership::{self, Placement, Request, existing};
use crate::core::objects::istio::{DestinationRuleSpec, Kind, ServiceEntrySpec, to_value};
use crate::core::objects::plan::{self, AllowOptions, Target};
use crate::core::objects::validate::Host;

/// What `allow` was asked, validated.
pub struct AllowRequest<'a> {
    pub hosts: &'a [Host],
    pub options: &'a AllowOptions,
    /// --adopt: take over a hand-made object for the host instead of refusing.
    pub adopt: bool,
}

/// What the planning reads. Offline both are `Listed::default()`.
pub struct AllowListings<'a> {
    pub service_entries: &'a Listed<ServiceEntrySpec>,
    /// The namespace's DestinationRules, read only when [`reads_destination_rules`] says so
    /// (else empty: no rule is written, and none can be stale).
    pub destination_rules: &'a Listed<DestinationRuleSpec>,
}

/// Whether the DestinationRules must be read: with --tls-origination each host gets one, under
/// its ServiceEntry's name; without it, a host the plugin allowed with it before (port 80 to 443)
/// loses its rule, else the sidecar would go on opening TLS to port 80. Read only then, to keep
/// `allow` at 2 requests.
pub fn reads_destination_rules(
    request: &AllowRequest<'_>,
    service_entries: &Listed<ServiceEntrySpec>,
) -> bool {
    request.options.tls_origination
        || service_entries.items.iter().any(|se| {
            let se = &se.typed;
            se.metadata.is_managed()
                && se
                    .spec
                    .hosts
                    .iter()
                    .any(|h| request.hosts.iter().any(|x| x.as_str() == h))
                && se.spec.ports.iter().any(|p| p.target_port == Some(443))
        })
}

/// Every host's chain of changes, decided before any is written, so that a refusal leaves
/// nothing half done. Hosts do not depend on each other: their chains are independent.
pub fn plan(target: &Target, request: &AllowRequest<'_>, listings: &AllowListings<'_>) -> Planned {
    let known = existing(listings.service_entries.json());
    let known_rules = existing(listings.destination_rules.json());
    let mut warnings = vec![];
    let mut chains = vec![];
    let mut given: Vec<String> = vec![];
    for host in request.hosts {
        let placed = ownership::place(
            &Request {
                kind: Kind::ServiceEntry,
                namespace: &target.namespace,
                host,
                requested_name: request.options.name.as_deref(),
                preferred_name: None,
                given_to_others: &given,
                adopt: request.adopt,
            },
            &known,
        );
        let placement = match placed {
            Ok(placement) => placement,
            Err(refusal) => return refused(warnings, refusal),
        };
        warnings.extend(placement.warnings.iter().cloned());
        given.push(placement.name.clone());
        match host_chain(target, request, listings, &known_rules, host, &placement) {
            Ok(chain) => chains.push(chain),
            Err(refusal) => return refused(warnings, refusal),
        }
    }
    Planned {
        warnings,
        notes: vec![],
        outcome: Ok(chains),
    }
}

fn refused(warnings: Vec<String>, refusal: String) -> Planned {
    Planned {
        warnings,
        notes: vec![],
        outcome: Err(Refusal::Conflict(refusal)),
    }
}

/// One host's changes, in order: its origination rule (first, so that the ServiceEntry's port 80
/// never reaches 443 in plain text), its ServiceEntry, then a rule gone stale.
fn host_chain(
    target: &Target,
    request: &AllowRequest<'_>,
    listings: &AllowListings<'_>,
    known_rules: &[ownership::Existing],
    host: &Host,
    placement: &Placement,
) -> Result<Vec<Change>, String> {
    let namespace = &target.namespace;
    let options = request.options;
    let rules = listings.destination_rules;
    let mut chain = vec![];
    if options.tls_origination {
        let rule = ownership::place(
            &Request {
                kind: Kind::DestinationRule,
                namespace,
                host,
                requested_name: Some(&placement.name),
                preferred_name: None,
                given_to_others: &[],
                adopt: request.adopt,
            },
            known_rules,
        )?;
        let object = plan::origination_rule(target, &rule.name, host, &options.export_to);
        chain.push(apply(
            Kind::DestinationRule,
            namespace,
            to_value(&object),
            rules,
        ));
    }
    let named = AllowOptions {
        name: Some(placement.name.clone()),
        ..options.clone()
    };
    let object = to_value(&plan::service_entry(target, host, &named));
    chain.push(apply(
        Kind::ServiceEntry,
        namespace,
        object,
        listings.service_entries,
    ));
    // The plugin's origination rule for the host, under the ServiceEntry's name: it goes after
    // the ServiceEntry stops sending port 80 to 443.
    // The host as the object says it (not the typed spec): a rule whose spec does not fit
    // our shape is still known by its host.
    let stale = rules.named(&placement.name).filter(|dr| {
        !options.tls_origination
            && dr.typed.metadata.is_managed()
            && dr.json["spec"]["host"] == host.as_str()
    });
    if let Some(dr) = stale {
        chain.push(Change::delete_of(
            Kind::DestinationRule,
            namespace,
            &dr.typed.metadata,
        ));
    }
    Ok(chain)
}

/// An apply of `object` over the object of its name in `listed`, if any, on condition that it
/// is still as listed.
fn apply<S>(kind: Kind, namespace: &str, object: Value, listed: &Listed<S>) -> Change {
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let before = listed.named(name).map(|o| o.json.clone());
    Change::Apply {
        kind: kind.into(),
        namespace: namespace.to_string(),
        precondition: Precondition::from_read(before.as_ref(), listed),
        before,
        object,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::objects::istio::{ListedObject, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
    use serde_json::json;

    fn target() -> Target {
        Target::v1("student1")
    }

    fn hosts(names: &[&str]) -> Vec<Host> {
        names.iter().map(|h| Host::parse(h).unwrap()).collect()
    }

    fn listed<S: serde::de::DeserializeOwned + Default>(items: Vec<Value>) -> Listed<S> {
        Listed {
            items: items.into_iter().map(ListedObject::new).collect(),
            resource_version: "100".into(),
        }
    }

    /// A listed object of `kind` named `name` for `host` (a ServiceEntry's `ports`, a rule's
    /// host), the plugin's when `managed`.
    fn object(kind: Kind, name: &str, host: &str, managed: bool, target_port: u32) -> Value {
        let labels = if managed {
            json!({MANAGED_BY_LABEL: MANAGED_BY_VALUE})
        } else {
            json!({})
        };
        let spec = match kind {
            Kind::DestinationRule => json!({"host": host}),
            _ => json!({"hosts": [host], "ports": [
                {"number": 80, "name": "http-port", "protocol": "HTTP", "targetPort": target_port}
            ]}),
        };
        json!({
            "apiVersion": "networking.istio.io/v1", "kind": kind.name(),
            "metadata": {"name": name, "namespace": "student1", "labels": labels,
                         "uid": format!("uid-{name}"), "resourceVersion": "7"},
            "spec": spec,
        })
    }

    fn run(
        hosts: &[Host],
        options: &AllowOptions,
        adopt: bool,
        service_entries: &Listed<ServiceEntrySpec>,
        destination_rules: &Listed<DestinationRuleSpec>,
    ) -> Planned {
        plan(
            &target(),
            &AllowRequest {
                hosts,
                options,
                adopt,
            },
            &AllowListings {
                service_entries,
                destination_rules,
            },
        )
    }

    /// kind/name of each change, with "delete " before a deletion.
    fn names(chain: &[Change]) -> Vec<String> {
        chain
            .iter()
            .map(|c| match c {
                Change::Delete { .. } => format!("delete {}", c.display_name()),
                Change::Apply { .. } => c.display_name(),
            })
            .collect()
    }

    #[test]
    fn new_hosts_get_distinct_names_and_are_created_on_the_list_not_changing() {
        let planned = run(
            &hosts(&["api.github.com", "api.gitlab.com"]),
            &AllowOptions::default(),
            false,
            &listed(vec![]),
            &Listed::default(),
        );
        assert!(planned.warnings.is_empty());
        let chains = planned.outcome.unwrap();
        assert_eq!(names(&chains[0]), ["serviceentry.networking.istio.io/api"]);
        assert_eq!(
            names(&chains[1]),
            ["serviceentry.networking.istio.io/api-gitlab"]
        );
        let Change::Apply {
            precondition,
            before,
            ..
        } = &chains[0][0]
        else {
            panic!("not an apply");
        };
        assert_eq!(before, &None);
        assert_eq!(
            precondition,
            &Precondition::Absent {
                list_resource_version: "100".into()
            }
        );
    }

    #[test]
    fn offline_names_are_what_the_online_planning_picks_over_nothing() {
        let hosts = hosts(&["api.github.com", "api.gitlab.com", "*.wikipedia.org"]);
        let planned = run(
            &hosts,
            &AllowOptions::default(),
            false,
            &Listed::default(),
            &Listed::default(),
        );
        let picked: Vec<String> = planned
            .outcome
            .unwrap()
            .iter()
            .map(|chain| chain[0].display_name())
            .collect();
        let expected: Vec<String> = crate::core::objects::naming::unique_names(&hosts, |_| false)
            .iter()
            .map(|n| format!("serviceentry.networking.istio.io/{n}"))
            .collect();
        assert_eq!(picked, expected);
    }

    #[test]
    fn a_host_already_allowed_is_applied_over_its_object_as_listed() {
        let ours = object(Kind::ServiceEntry, "custom", "httpbin.org", true, 80);
        let planned = run(
            &hosts(&["httpbin.org"]),
            &AllowOptions::default(),
            false,
            &listed(vec![ours.clone()]),
            &Listed::default(),
        );
        let chains = planned.outcome.unwrap();
        let Change::Apply {
            object,
            before,
            precondition,
            ..
        } = &chains[0][0]
        else {
            panic!("not an apply");
        };
        assert_eq!(object["metadata"]["name"], "custom");
        assert_eq!(before.as_ref(), Some(&ours));
        assert_eq!(
            precondition,
            &Precondition::Unchanged {
                uid: "uid-custom".into(),
                resource_version: "7".into()
            }
        );
    }

    #[test]
    fn a_hand_made_object_is_refused_unless_adopted() {
        let theirs = listed(vec![object(
            Kind::ServiceEntry,
            "httpbin",
            "httpbin.org",
            false,
            80,
        )]);
        let refused = run(
            &hosts(&["httpbin.org"]),
            &AllowOptions::default(),
            false,
            &theirs,
            &Listed::default(),
        );
        match refused.outcome {
            Err(Refusal::Conflict(message)) => assert!(message.contains("--adopt"), "{message}"),
            other => panic!("{other:?}"),
        }
        let adopted = run(
            &hosts(&["httpbin.org"]),
            &AllowOptions::default(),
            true,
            &theirs,
            &Listed::default(),
        );
        assert_eq!(
            names(&adopted.outcome.unwrap()[0]),
            ["serviceentry.networking.istio.io/httpbin"]
        );
    }

    #[test]
    fn warnings_for_hosts_before_a_refusal_are_kept() {
        let listed = listed(vec![
            // Someone else's second ServiceEntry for httpbin.org: a warning.
            object(Kind::ServiceEntry, "hand", "httpbin.org", false, 80),
            // Someone else's object for example.com under its name: refused.
            object(Kind::ServiceEntry, "example", "example.com", false, 80),
        ]);
        let planned = run(
            &hosts(&["httpbin.org", "example.com"]),
            &AllowOptions::default(),
            false,
            &listed,
            &Listed::default(),
        );
        assert_eq!(planned.warnings.len(), 1, "{:?}", planned.warnings);
        assert!(planned.warnings[0].contains("also lists httpbin.org"));
        assert!(matches!(planned.outcome, Err(Refusal::Conflict(_))));
    }

    #[test]
    fn tls_origination_writes_the_rule_first_under_the_service_entry_name() {
        let service_entries = listed(vec![]);
        let request = AllowRequest {
            hosts: &hosts(&["httpbin.org"]),
            options: &AllowOptions {
                tls_origination: true,
                ..AllowOptions::default()
            },
            adopt: false,
        };
        assert!(reads_destination_rules(&request, &service_entries));
        let planned = plan(
            &target(),
            &request,
            &AllowListings {
                service_entries: &service_entries,
                destination_rules: &listed(vec![]),
            },
        );
        assert_eq!(
            names(&planned.outcome.unwrap()[0]),
            [
                "destinationrule.networking.istio.io/httpbin",
                "serviceentry.networking.istio.io/httpbin"
            ]
        );
    }

    #[test]
    fn switching_tls_origination_off_deletes_the_plugins_stale_rule_only() {
        let originating = listed(vec![object(
            Kind::ServiceEntry,
            "httpbin",
            "httpbin.org",
            true,
            443,
        )]);
        let request = AllowRequest {
            hosts: &hosts(&["httpbin.org"]),
            options: &AllowOptions::default(),
            adopt: false,
        };
        assert!(reads_destination_rules(&request, &originating));
        let rule = object(Kind::DestinationRule, "httpbin", "httpbin.org", true, 0);
        let rules = listed(vec![rule.clone()]);
        let listings = AllowListings {
            service_entries: &originating,
            destination_rules: &rules,
        };
        let chain = plan(&target(), &request, &listings)
            .outcome
            .unwrap()
            .remove(0);
        assert_eq!(
            chain[1],
            Change::delete_listed(Kind::DestinationRule, "student1", &rule)
        );
        assert_eq!(
            names(&chain),
            [
                "serviceentry.networking.istio.io/httpbin",
                "delete destinationrule.networking.istio.io/httpbin"
            ]
        );
        // Someone else's rule, or the plugin's for another host, stays.
        for other in [
            object(Kind::DestinationRule, "httpbin", "httpbin.org", false, 0),
            object(Kind::DestinationRule, "httpbin", "other.org", true, 0),
        ] {
            let rules = listed(vec![other]);
            let listings = AllowListings {
                destination_rules: &rules,
                ..listings
            };
            let chain = plan(&target(), &request, &listings)
                .outcome
                .unwrap()
                .remove(0);
            assert_eq!(chain.len(), 1);
        }
        // A host never allowed with origination: the rules are not read.
        let plain = listed(vec![object(
            Kind::ServiceEntry,
            "httpbin",
            "httpbin.org",
            true,
            80,
        )]);
        assert!(!reads_destination_rules(&request, &plain));
    }

    #[test]
    fn a_hand_made_rule_in_the_way_of_origination_is_refused() {
        let rules = listed(vec![object(
            Kind::DestinationRule,
            "httpbin",
            "other.org",
            false,
            0,
        )]);
        let planned = run(
            &hosts(&["httpbin.org"]),
            &AllowOptions {
                tls_origination: true,
                ..AllowOptions::default()
            },
            true,
            &listed(vec![]),
            &rules,
        );
        assert!(
            matches!(&planned.outcome, Err(Refusal::Conflict(m)) if m.contains("destinationrule")),
            "{:?}",
            planned.outcome
        );
    }
}
