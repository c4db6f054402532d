//! What `timeout`, `retries` and `via-gateway` refuse to write: `status`'s analysis run on the
//! namespace as it would be with the host's VirtualService written, and the reason Istio would
//! ignore the route or answer it with an error. Pure: the command reads the view
//! (cluster::view) and turns a refusal into exit 3.

use super::findings::Code;
use super::status::{self, HostReport, Severity};
use crate::core::mesh::traffic::{Outcome, Traffic, Via};
use crate::core::mesh::view::ClusterView;
use crate::core::objects::istio::{ListedObject, VirtualService, VirtualServiceSpec};
use crate::core::objects::plan::{GatewayHop, RouteChange};

/// The write asked for, as the checks need it.
#[derive(Debug, Clone, Copy)]
pub struct Proposal<'a> {
    pub namespace: &'a str,
    pub host: &'a str,
    pub change: &'a RouteChange,
    /// `via-gateway --tls-origination`: the admins' gateway must open TLS to the host.
    pub origination: bool,
}

/// Why Istio would not honour `vs` written over the VirtualServices `listed` (`before`: the one
/// of its name there now), as the whole message of the refusal (None when nothing stands in the
/// way, or what stands in the way cannot be read: that is not held against the write); and what
/// the write should warn of although it goes ahead: a Sidecar that does not import what it
/// writes (EGR023, with the fix).
pub fn judged(
    view: &ClusterView,
    listed: &[ListedObject<VirtualServiceSpec>],
    before: Option<&ListedObject<VirtualServiceSpec>>,
    vs: &VirtualService,
    proposal: &Proposal<'_>,
) -> (Option<String>, Vec<String>) {
    let host = proposal.host;
    let next = with_written(view, listed, before, vs);
    // An object whose spec could not be read may say anything of the host: its empty spec is
    // neither held against the write nor taken as clearing it (status reports it unknown).
    if !status::unreadable(&next).is_empty() {
        return (None, vec![]);
    }
    let report = status::analyse(&next, &[host.to_string()]);
    let Some(report) = report
        .hosts
        .iter()
        .find(|h| h.namespace == proposal.namespace && h.host == host)
    else {
        return (None, vec![]);
    };
    let warnings = report
        .findings
        .iter()
        .filter(|f| f.code == Code::SidecarDoesNotImport)
        .map(|f| format!("{} {}", f.code, f.message))
        .collect();
    (refusal_of(report, proposal), warnings)
}

fn refusal_of(report: &HostReport, proposal: &Proposal<'_>) -> Option<String> {
    let host = proposal.host;
    let reason = gateway_hops(report, proposal).or_else(|| blocking_finding(report))?;
    let what = match proposal.change {
        RouteChange::ViaGateway(..) => "via-gateway",
        RouteChange::SetRetries(_) => "retries",
        _ => "timeout",
    };
    Some(format!(
        "{what} {host} would not work: {reason}; nothing was written (fix that first, or write it anyway with --force)"
    ))
}

/// The view with `vs` in place of the listed VirtualService of its name.
fn with_written(
    view: &ClusterView,
    listed: &[ListedObject<VirtualServiceSpec>],
    before: Option<&ListedObject<VirtualServiceSpec>>,
    vs: &VirtualService,
) -> ClusterView {
    let mut next = view.clone();
    let mut written = vs.clone();
    // A new object is the newest; an existing one keeps its age (it decides which wins).
    written.metadata.creation_timestamp = before
        .and_then(|b| b.typed.metadata.creation_timestamp.clone())
        .or_else(|| Some("9999-12-31T23:59:59Z".into()));
    next.virtual_services = listed
        .iter()
        .map(|v| v.typed.clone())
        .filter(|v| v.metadata.name != vs.metadata.name)
        .chain([written])
        .collect();
    next
}

/// via-gateway's hops, in this order: the HTTP hop must go through the gateway, the TLS hop
/// (`--tls`) through it and out, the HTTP hop out, and with `--tls-origination` out in TLS.
fn gateway_hops(report: &HostReport, proposal: &Proposal<'_>) -> Option<String> {
    let RouteChange::ViaGateway(hop, tls) = proposal.change else {
        return None;
    };
    let host = proposal.host;
    // The HTTP hop and what status says of its port.
    let http_hop = hop
        .as_ref()
        .and_then(|hop| port(report, u32::from(hop.port)).map(|t| (hop, t)));
    if let Some((hop, t)) = http_hop
        && t.via != Via::Gateway
    {
        return Some(ignored(report, host, hop, t));
    }
    if let Some(tls) = tls
        && let Some(t) = port(report, 443)
        && (t.via != Via::Gateway || !leaves(t))
    {
        return Some(format!(
            "TLS to {host}:443 would go {} ({}{}), not through {}:{}",
            t.via,
            t.outcome,
            because(t),
            tls.gateway_host,
            tls.port
        ));
    }
    let (hop, t) = http_hop?;
    if !leaves(t) {
        return Some(format!(
            "requests to port {} would get {} ({}{})",
            hop.port,
            t.response.map_or("no answer", |r| r.as_str()),
            t.outcome,
            because(t)
        ));
    }
    // --tls-origination: what leaves the gateway for the host must be TLS.
    (proposal.origination && t.outcome == Outcome::Egress && t.upstream_tls.is_none()).then(|| {
        format!(
            "the egress gateway sends {host}'s port {} on in plain text to {}: it does not originate TLS (an admin runs kubectl egress gateway {host} --tls-origination)",
            hop.port,
            t.hops.last().map(String::as_str).unwrap_or(host)
        )
    })
}

fn port(report: &HostReport, number: u32) -> Option<&Traffic> {
    report.traffic.iter().find(|t| t.port == number)
}

/// Out to the host, or not known (not held against the write).
fn leaves(t: &Traffic) -> bool {
    matches!(t.outcome, Outcome::Egress | Outcome::Unknown)
}

fn because(t: &Traffic) -> String {
    t.reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// A gateway route Istio ignores: status's EGR011 message, or what it says of the port.
fn ignored(report: &HostReport, host: &str, hop: &GatewayHop, t: &Traffic) -> String {
    report
        .findings
        .iter()
        .find(|f| f.code == Code::RouteIgnored)
        .map(|f| f.message.clone())
        .unwrap_or_else(|| {
            format!(
                "Istio ignores a gateway route for port {} of {host} (requests to it go {})",
                hop.port, t.via
            )
        })
}

/// The errors that leave a route with no exit, whatever the change: no Gateway for the host, no
/// egress gateway Service, the gateway cannot see the host, a cluster Istio does not push.
fn blocking_finding(report: &HostReport) -> Option<String> {
    let blocking = [
        Code::NoGatewayForHost,
        Code::NoEgressGatewayService,
        Code::HostHiddenFromGateway,
        Code::NoCluster,
    ];
    report
        .findings
        .iter()
        .find(|f| f.severity == Severity::Error && blocking.contains(&f.code))
        .map(|f| format!("{} {}", f.code, f.message))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::core::mesh::traffic::KubeService;
    use crate::core::mesh::view::{GATEWAY_NAMESPACE, Known};
    use crate::core::objects::istio::typed;
    use crate::core::objects::istio::{
        ApiVersion, DEFAULT_EGRESS_GATEWAY_HOST, HttpRetry, Kind, to_value,
    };
    use crate::core::objects::plan::{self, AllowOptions, RouteSettings, Target};
    use crate::core::objects::validate::Host;
    use crate::core::plans::gateway::{self, GatewayOptions, Listing};
    use serde_json::Value;

    const HOST: &str = "httpbin.org";

    fn target(namespace: &str) -> Target {
        Target {
            namespace: namespace.into(),
            api_version: ApiVersion::V1,
        }
    }

    /// The course: the admins' objects for httpbin.org (`gateway httpbin.org`), the egress
    /// gateway's Service, REGISTRY_ONLY, and the student's `allow httpbin.org` in s1.
    fn course(options: &GatewayOptions) -> ClusterView {
        let host = Host::parse(HOST).unwrap();
        let admins = gateway::plan_host(
            &target(GATEWAY_NAMESPACE),
            &host,
            options,
            &Listing::default(),
            &[],
            false,
        )
        .unwrap();
        let of = |kind: Kind| -> Vec<Value> {
            let objects = admins.writes.iter().filter(|w| w.kind == kind);
            objects.map(|w| w.object.clone()).collect()
        };
        ClusterView {
            elsewhere: Default::default(),
            service_entries: vec![plan::service_entry(
                &target("s1"),
                &host,
                &AllowOptions::default(),
            )],
            virtual_services: vec![],
            gateways: Known::Yes(of(Kind::Gateway).iter().map(typed).collect()),
            gateway_service_entries: Known::Yes(of(Kind::ServiceEntry).iter().map(typed).collect()),
            egress_gateway_service: Known::Yes(true),
            gateway_virtual_services: Known::Yes(
                of(Kind::VirtualService).iter().map(typed).collect(),
            ),
            destination_rules: Known::Yes(of(Kind::DestinationRule).iter().map(typed).collect()),
            namespace_destination_rules: vec![],
            services: BTreeMap::from([(
                DEFAULT_EGRESS_GATEWAY_HOST.to_string(),
                Known::Yes(Some(KubeService {
                    name: "istio-egressgateway".into(),
                    namespace: GATEWAY_NAMESPACE.into(),
                    selector: GatewayOptions::default().selector,
                    ports: vec![(80, "HTTP2".into()), (443, "HTTPS".into())],
                    export_to: vec![],
                })),
            )]),
            outbound_policy: Known::Yes(Some("REGISTRY_ONLY".into())),
            scope: Default::default(),
        }
    }

    fn exercise() -> ClusterView {
        course(&GatewayOptions::default())
    }

    /// The host's VirtualService as `change` leaves it, written over `listed`.
    fn check_over(
        view: &ClusterView,
        listed: &[Value],
        change: RouteChange,
        origination: bool,
    ) -> Option<String> {
        let host = Host::parse(HOST).unwrap();
        let listed: Vec<ListedObject<VirtualServiceSpec>> =
            listed.iter().cloned().map(ListedObject::new).collect();
        let current = listed.first().map_or_else(RouteSettings::default, |vs| {
            RouteSettings::from_virtual_service(HOST, &vs.typed.spec)
        });
        let next = change.apply(&current);
        let vs = plan::virtual_service(&target("s1"), "httpbin", &host, &next).unwrap();
        let proposal = Proposal {
            namespace: "s1",
            host: HOST,
            change: &change,
            origination,
        };
        judged(view, &listed, listed.first(), &vs, &proposal).0
    }

    fn check(view: &ClusterView, change: RouteChange) -> Option<String> {
        check_over(view, &[], change, false)
    }

    fn via(hop: GatewayHop) -> RouteChange {
        RouteChange::ViaGateway(Some(hop), None)
    }

    fn refused(message: Option<String>, what: &str, says: &str) -> String {
        let message = message.expect("refused");
        assert!(
            message.starts_with(&format!("{what} {HOST} would not work: "))
                && message.ends_with(
                    "; nothing was written (fix that first, or write it anyway with --force)"
                )
                && message.contains(says),
            "{message}"
        );
        message
    }

    #[test]
    fn the_exercise_route_and_timeout_go_through() {
        let view = exercise();
        assert_eq!(check(&view, via(GatewayHop::default())), None);
        assert_eq!(check(&view, RouteChange::SetTimeout("0.5s".into())), None);
        let routed = plan::virtual_service(
            &target("s1"),
            "httpbin",
            &Host::parse(HOST).unwrap(),
            &via(GatewayHop::default()).apply(&RouteSettings::default()),
        );
        let listed = [to_value(&routed.unwrap())];
        let timeout = RouteChange::SetTimeout("0.5s".into());
        assert_eq!(check_over(&view, &listed, timeout, false), None);
    }

    #[test]
    fn a_gateway_route_on_a_port_that_is_not_http_is_refused() {
        let hop = GatewayHop {
            port: 443,
            ..GatewayHop::default()
        };
        refused(
            check(&exercise(), via(hop)),
            "via-gateway",
            "route for port 443 is ignored by Istio",
        );
    }

    #[test]
    fn a_subset_no_destination_rule_defines_is_refused() {
        let hop = GatewayHop {
            subset: Some("nowhere".into()),
            ..GatewayHop::default()
        };
        refused(
            check(&exercise(), via(hop)),
            "via-gateway",
            "requests to port 80 would get 503 NC",
        );
    }

    #[test]
    fn a_gateway_host_with_no_service_is_refused() {
        let gateway_host = "other-egressgateway.istio-system.svc.cluster.local";
        let mut view = exercise();
        view.services
            .insert(gateway_host.to_string(), Known::Yes(None));
        let hop = GatewayHop {
            gateway_host: gateway_host.into(),
            ..GatewayHop::default()
        };
        refused(
            check(&view, via(hop)),
            "via-gateway",
            "requests to port 80 would get 503",
        );
    }

    #[test]
    fn a_gateway_with_no_server_for_the_host_is_refused() {
        let mut view = exercise();
        if let Known::Yes(gateways) = &mut view.gateways {
            gateways[0].spec.servers[0].hosts = vec!["example.org".into()];
        }
        refused(
            check(&view, via(GatewayHop::default())),
            "via-gateway",
            "requests to port 80 would get 404",
        );
        view.gateways = Known::Yes(vec![]);
        refused(
            check(&view, via(GatewayHop::default())),
            "via-gateway",
            "requests to port 80 would get 503 UF",
        );
    }

    #[test]
    fn a_gateway_with_no_route_for_the_host_is_refused() {
        let mut view = exercise();
        view.gateway_virtual_services = Known::Yes(vec![]);
        refused(
            check(&view, via(GatewayHop::default())),
            "via-gateway",
            "requests to port 80 would get 404",
        );
    }

    #[test]
    fn a_host_the_gateway_cannot_see_is_refused() {
        let mut view = exercise();
        view.gateway_service_entries = Known::Yes(vec![]);
        refused(
            check(&view, via(GatewayHop::default())),
            "via-gateway",
            "the egress gateway cannot see",
        );
    }

    #[test]
    fn a_route_to_a_port_no_service_entry_declares_is_refused() {
        let mut view = exercise();
        if let Known::Yes(entries) = &mut view.gateway_service_entries {
            entries[0].spec.ports.retain(|p| p.number != 80);
        }
        refused(
            check(&view, via(GatewayHop::default())),
            "via-gateway",
            "503 NC",
        );
    }

    #[test]
    fn a_timeout_over_a_gateway_route_with_no_exit_is_refused_by_its_finding() {
        let mut view = exercise();
        let routed = plan::virtual_service(
            &target("s1"),
            "httpbin",
            &Host::parse(HOST).unwrap(),
            &via(GatewayHop::default()).apply(&RouteSettings::default()),
        );
        let listed = [to_value(&routed.unwrap())];
        view.gateways = Known::Yes(vec![]);
        let retries = RouteChange::SetRetries(HttpRetry::default());
        refused(
            check_over(&view, &listed, retries, false),
            "retries",
            "EGR005 no Gateway in istio-system exposes httpbin.org",
        );
    }

    #[test]
    fn a_tls_hop_the_gateway_does_not_pass_through_is_refused() {
        let tls = GatewayHop {
            port: 443,
            ..GatewayHop::default()
        };
        let change = RouteChange::ViaGateway(Some(GatewayHop::default()), Some(tls));
        refused(
            check(&exercise(), change.clone()),
            "via-gateway",
            "TLS to httpbin.org:443 would go",
        );
        let passthrough = course(&GatewayOptions {
            tls: true,
            ..GatewayOptions::default()
        });
        assert_eq!(check(&passthrough, change), None);
    }

    #[test]
    fn tls_origination_the_gateway_does_not_do_is_refused() {
        let view = exercise();
        let change = via(GatewayHop::default());
        refused(
            check_over(&view, &[], change.clone(), true),
            "via-gateway",
            "it does not originate TLS",
        );
        let originating = course(&GatewayOptions {
            tls_origination: true,
            ..GatewayOptions::default()
        });
        assert_eq!(check_over(&originating, &[], change, true), None);
    }

    #[test]
    fn what_cannot_be_read_is_not_held_against_the_write() {
        let mut view = exercise();
        view.gateways = Known::Unknown("forbidden".into());
        view.gateway_service_entries = Known::Unknown("forbidden".into());
        view.gateway_virtual_services = Known::Unknown("forbidden".into());
        view.destination_rules = Known::Unknown("forbidden".into());
        view.egress_gateway_service = Known::Unknown("forbidden".into());
        view.services.insert(
            DEFAULT_EGRESS_GATEWAY_HOST.to_string(),
            Known::Unknown("forbidden".into()),
        );
        assert_eq!(check(&view, via(GatewayHop::default())), None);
    }

    /// `name` as listed with a spec that does not fit ours (from another CRD version).
    fn unreadable(kind: &str, namespace: &str, name: &str) -> Value {
        serde_json::json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"hosts": HOST, "servers": HOST}
        })
    }

    #[test]
    fn an_unreadable_object_is_not_held_against_the_write() {
        // The admins' Gateway unreadable: not taken for no Gateway (503 UF).
        let mut view = exercise();
        if let Known::Yes(gateways) = &mut view.gateways {
            gateways[0] = typed(&unreadable("Gateway", GATEWAY_NAMESPACE, "httpbin"));
            assert!(gateways[0].unreadable.is_some());
        }
        assert_eq!(check(&view, via(GatewayHop::default())), None);
        // Their ServiceEntry unreadable: not taken for a host the gateway cannot see.
        let mut view = exercise();
        view.gateway_service_entries = Known::Yes(vec![typed(&unreadable(
            "ServiceEntry",
            GATEWAY_NAMESPACE,
            "httpbin",
        ))]);
        assert_eq!(check(&view, via(GatewayHop::default())), None);
        // Their VirtualService unreadable: not taken for no route (404).
        let mut view = exercise();
        view.gateway_virtual_services = Known::Yes(vec![typed(&unreadable(
            "VirtualService",
            GATEWAY_NAMESPACE,
            "httpbin",
        ))]);
        assert_eq!(check(&view, via(GatewayHop::default())), None);
        // In the namespace: a ServiceEntry, or another VirtualService that may name the host.
        let mut view = exercise();
        view.gateways = Known::Yes(vec![]);
        refused(
            check(&view, via(GatewayHop::default())),
            "via-gateway",
            "503 UF",
        );
        view.service_entries
            .push(typed(&unreadable("ServiceEntry", "s1", "odd")));
        assert_eq!(check(&view, via(GatewayHop::default())), None);
        view.service_entries.pop();
        let other = [unreadable("VirtualService", "s1", "odd")];
        let timeout = RouteChange::SetTimeout("0.5s".into());
        assert_eq!(
            check_over(&view, &other, via(GatewayHop::default()), false),
            None
        );
        assert_eq!(check_over(&view, &other, timeout, false), None);
        // The one being written over is replaced, so its old spec does not matter.
        let same = [unreadable("VirtualService", "s1", "httpbin")];
        refused(
            check_over(&view, &same, via(GatewayHop::default()), false),
            "via-gateway",
            "503 UF",
        );
    }
}
