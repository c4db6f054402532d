//! Which object a write may touch. Pure: decided from the namespace's objects of one kind, as
//! listed before writing.
//!
//! The plugin never overwrites silently what it did not create: an object counts as its own only
//! with the label `app.kubernetes.io/managed-by=kubectl-egress`.

use crate::core::objects::istio::metadata_of;
use serde_json::Value;

use crate::core::objects::istio::{Kind, MANAGED_BY_LABEL, MANAGED_BY_VALUE};
use crate::core::objects::naming;
use crate::core::objects::validate::Host;

/// What the decision needs to know of an existing object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub name: String,
    pub managed: bool,
    pub hosts: Vec<String>,
}

/// The object a write goes to, and what stands there now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub name: String,
    pub current: Option<Existing>,
    /// Said on stderr; the write still goes ahead.
    pub warnings: Vec<String>,
}

/// What ownership decisions need to know about listed objects.
pub fn existing<'v>(listed: impl IntoIterator<Item = &'v Value>) -> Vec<Existing> {
    listed.into_iter().map(Existing::of).collect()
}

impl Existing {
    /// One listed object: its name and whether it is the plugin's from its metadata, the hosts
    /// from its spec as it is (ServiceEntries and VirtualServices list hosts; a DestinationRule
    /// names one).
    pub fn of(object: &Value) -> Existing {
        let metadata = metadata_of(object);
        let spec = &object["spec"];
        let hosts = match spec["hosts"].as_array() {
            Some(hosts) => hosts
                .iter()
                .filter_map(|h| h.as_str().map(String::from))
                .collect(),
            None => spec["host"]
                .as_str()
                .map(String::from)
                .into_iter()
                .collect(),
        };
        Existing {
            managed: metadata.is_managed(),
            name: metadata.name,
            hosts,
        }
    }
}

pub struct Request<'a> {
    pub kind: Kind,
    pub namespace: &'a str,
    pub host: &'a Host,
    /// `--name`, when the user chose one.
    pub requested_name: Option<&'a str>,
    /// The name to try before the host's own candidates (the VirtualService takes its
    /// ServiceEntry's name).
    pub preferred_name: Option<&'a str>,
    /// Names this command already gave other hosts: taken too.
    pub given_to_others: &'a [String],
    pub adopt: bool,
}

/// Picks the name to write for `request.host` among `existing`, or refuses with a message that
/// names the object in the way and what to do.
pub fn place(request: &Request<'_>, existing: &[Existing]) -> Result<Placement, String> {
    let kind = request.kind.qualified();
    let ns = request.namespace;
    let host = request.host.as_str();
    let for_host = |managed: bool| {
        existing
            .iter()
            .find(|e| e.managed == managed && e.hosts.iter().any(|h| h == host))
    };
    let name = match (request.requested_name, for_host(true), for_host(false)) {
        (Some(name), _, _) => name.to_string(),
        (None, Some(ours), _) => ours.name.clone(),
        (None, None, Some(theirs)) if request.adopt => theirs.name.clone(),
        // A name is free when no object has it, or the object there is this host's (a hand-made
        // one is then refused or adopted below, never worked around under another name).
        (None, None, _) => naming::unique_name(request.host, request.preferred_name, |name| {
            let for_this_host = |e: &Existing| {
                e.hosts.iter().any(|h| h == host) && (!e.managed || e.hosts.len() == 1)
            };
            request.given_to_others.iter().any(|n| n == name)
                || existing.iter().any(|e| e.name == name && !for_this_host(e))
        }),
    };
    let current = existing.iter().find(|e| e.name == name).cloned();
    let mut warnings = vec![];

    if let Some(theirs) = for_host(false).filter(|e| e.name != name) {
        match request.kind {
            // Istio silently ignores one of two VirtualServices for a host (istio#36621).
            Kind::VirtualService => {
                return Err(format!(
                    "{kind}/{} in namespace {ns} already routes {host}, and Istio ignores one of two \
                     VirtualServices for the same host: take it over with --adopt, or delete it",
                    theirs.name
                ));
            }
            _ => warnings.push(format!(
                "{kind}/{} in namespace {ns} (not managed by kubectl-egress) also lists {host}",
                theirs.name
            )),
        }
    }

    if let Some(current) = &current {
        may_write_over(request, current)?;
    }
    Ok(Placement {
        name,
        current,
        warnings,
    })
}

/// Whether the object already under the chosen name may be written over for the request's host:
/// the plugin's object for that host alone, or a hand-made one for it with --adopt.
fn may_write_over(request: &Request<'_>, current: &Existing) -> Result<(), String> {
    let (kind, ns, name) = (request.kind.qualified(), request.namespace, &current.name);
    let host = request.host.as_str();
    let same_host = current.hosts.len() == 1 && current.hosts[0] == host;
    let lists_host = current.hosts.iter().any(|h| h == host);
    match (current.managed, same_host, lists_host) {
        (true, true, _) => {}
        (true, false, _) => {
            return Err(format!(
                "{kind}/{name} in namespace {ns} is kubectl-egress's object for {}, not {host}: \
                 choose another name with --name",
                current.hosts.join(", ")
            ));
        }
        (false, _, true) if request.adopt => {}
        (false, _, true) => {
            return Err(format!(
                "{kind}/{name} in namespace {ns} already exists and was not created by \
                 kubectl-egress (no label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}): take it over \
                 with --adopt, or delete it"
            ));
        }
        (false, _, false) => {
            return Err(format!(
                "{kind}/{name} in namespace {ns} already exists for {}, not {host}, and was not \
                 created by kubectl-egress: choose another name with --name",
                if current.hosts.is_empty() {
                    "no host".to_string()
                } else {
                    current.hosts.join(", ")
                }
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, managed: bool, hosts: &[&str]) -> Existing {
        Existing {
            name: name.into(),
            managed,
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        }
    }

    fn request(kind: Kind, adopt: bool, name: Option<&'static str>) -> Request<'static> {
        static HOST: std::sync::LazyLock<Host> =
            std::sync::LazyLock::new(|| Host::parse("httpbin.org").unwrap());
        Request {
            kind,
            namespace: "student1",
            host: &HOST,
            requested_name: name,
            preferred_name: None,
            given_to_others: &[],
            adopt,
        }
    }

    #[test]
    fn listed_objects_say_their_name_owner_and_hosts() {
        let managed = serde_json::json!({"metadata": {"name": "httpbin", "labels": {
            MANAGED_BY_LABEL: MANAGED_BY_VALUE}}, "spec": {"hosts": ["httpbin.org", 7]}});
        let rule = serde_json::json!({"metadata": {"name": "r", "labels": {
            MANAGED_BY_LABEL: "someone-else"}}, "spec": {"host": "httpbin.org"}});
        let bare = serde_json::json!({"metadata": {"name": "bare"}});
        assert_eq!(
            existing(&[managed, rule, bare]),
            [
                obj("httpbin", true, &["httpbin.org"]),
                obj("r", false, &["httpbin.org"]),
                obj("bare", false, &[]),
            ]
        );
    }

    #[test]
    fn creates_with_default_name_when_nothing_is_there() {
        let p = place(&request(Kind::ServiceEntry, false, None), &[]).unwrap();
        assert_eq!(p.name, "httpbin");
        assert_eq!(p.current, None);
    }

    #[test]
    fn reuses_own_object_for_the_host_under_any_name() {
        let existing = [obj("custom", true, &["httpbin.org"])];
        let p = place(&request(Kind::ServiceEntry, false, None), &existing).unwrap();
        assert_eq!(p.name, "custom");
        assert_eq!(p.current, Some(existing[0].clone()));
    }

    #[test]
    fn refuses_hand_made_object_of_same_name_and_host_unless_adopted() {
        let existing = [obj("httpbin", false, &["httpbin.org"])];
        let err = place(&request(Kind::ServiceEntry, false, None), &existing).unwrap_err();
        assert!(err.contains("serviceentry.networking.istio.io/httpbin in namespace student1"));
        assert!(err.contains("--adopt"));
        let p = place(&request(Kind::ServiceEntry, true, None), &existing).unwrap();
        assert_eq!(p.name, "httpbin");
    }

    #[test]
    fn a_name_another_host_has_is_worked_around() {
        for managed in [false, true] {
            let other = [obj("httpbin", managed, &["other.org"])];
            let p = place(&request(Kind::ServiceEntry, false, None), &other).unwrap();
            assert_eq!(p.name, "httpbin-org");
            assert_eq!(p.current, None);
        }
        let given = ["httpbin".to_string()];
        let p = place(
            &Request {
                given_to_others: &given,
                ..request(Kind::ServiceEntry, false, None)
            },
            &[],
        )
        .unwrap();
        assert_eq!(p.name, "httpbin-org");
    }

    #[test]
    fn refuses_requested_name_taken_by_another_host_even_with_adopt() {
        let theirs = [obj("httpbin", false, &["other.org"])];
        let err = place(&request(Kind::ServiceEntry, true, Some("httpbin")), &theirs).unwrap_err();
        assert!(err.contains("other.org") && err.contains("--name"), "{err}");
        let ours = [obj("httpbin", true, &["other.org"])];
        let err = place(&request(Kind::ServiceEntry, true, Some("httpbin")), &ours).unwrap_err();
        assert!(
            err.contains("kubectl-egress's object for other.org"),
            "{err}"
        );
    }

    #[test]
    fn the_preferred_name_is_tried_first() {
        let p = place(
            &Request {
                preferred_name: Some("custom"),
                ..request(Kind::VirtualService, false, None)
            },
            &[obj("httpbin", false, &["other.org"])],
        )
        .unwrap();
        assert_eq!(p.name, "custom");
    }

    #[test]
    fn second_virtual_service_for_a_host_is_refused() {
        let existing = [obj("my-route", false, &["httpbin.org"])];
        let err = place(&request(Kind::VirtualService, false, None), &existing).unwrap_err();
        assert!(
            err.contains("virtualservice.networking.istio.io/my-route"),
            "{err}"
        );
        assert!(err.contains("Istio ignores one"), "{err}");
        // Adopting takes over that object, under its own name.
        let p = place(&request(Kind::VirtualService, true, None), &existing).unwrap();
        assert_eq!(p.name, "my-route");
    }

    #[test]
    fn second_service_entry_for_a_host_is_a_warning() {
        let existing = [obj("hand", false, &["httpbin.org"])];
        let p = place(&request(Kind::ServiceEntry, false, None), &existing).unwrap();
        assert_eq!(p.name, "httpbin");
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("also lists httpbin.org"));
    }

    #[test]
    fn requested_name_wins() {
        let existing = [obj("httpbin", true, &["httpbin.org"])];
        let p = place(
            &request(Kind::ServiceEntry, false, Some("other")),
            &existing,
        )
        .unwrap();
        assert_eq!(p.name, "other");
        assert_eq!(p.current, None);
    }
}
