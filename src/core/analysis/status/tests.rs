use super::*;
use crate::core::mesh::traffic::{Outcome, Response};
use crate::core::objects::plan::{self, AllowOptions, GatewayHop, Target};
use crate::core::objects::validate::{Host, PortSpec};

fn target(ns: &str) -> Target {
    Target {
        namespace: ns.into(),
        api_version: ApiVersion::V1,
    }
}

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
        services: BTreeMap::from([(
            DEFAULT_EGRESS_GATEWAY_HOST.to_string(),
            Known::Yes(Some(KubeService {
                name: "istio-egressgateway".into(),
                namespace: GATEWAY_NAMESPACE.into(),
                selector: BTreeMap::from([("istio".into(), "egressgateway".into())]),
                ports: vec![(80, "HTTP2".into()), (443, "HTTPS".into())],
                export_to: vec![],
            })),
        )]),
        outbound_policy: Known::Yes(Some("REGISTRY_ONLY".into())),
        scope: Default::default(),
    }
}

fn leaving(port: u32, via: Via) -> Traffic {
    let mut t = Traffic::starting(port, "HTTP", "sidecar".into());
    t.via = via;
    t.gateway_host = (via == Via::Gateway).then(|| DEFAULT_EGRESS_GATEWAY_HOST.into());
    t.outcome = Outcome::Egress;
    t
}

#[test]
fn a_hosts_route_sums_up_its_ports() {
    let none = RouteSettings::default();
    let hop = RouteSettings {
        via_gateway: Some(GatewayHop {
            subset: Some("httpbin".into()),
            ..GatewayHop::default()
        }),
        ..RouteSettings::default()
    };
    // Any port through a gateway: the route is the gateway's, with the hop's subset.
    let mixed = [leaving(443, Via::Direct), leaving(80, Via::Gateway)];
    let route = route_summary(&mixed, &hop, false);
    assert_eq!(
        (route.kind, route.port, route.subset.as_deref()),
        (Via::Gateway, Some(80), Some("httpbin"))
    );
    assert_eq!(
        route.gateway_host.as_deref(),
        Some(DEFAULT_EGRESS_GATEWAY_HOST)
    );
    // A host only a Gateway names is the gateway's, with no port of its own.
    let only = route_summary(&[], &none, true);
    assert_eq!((only.kind, only.port), (Via::Gateway, None));
    let blocked = [leaving(80, Via::Blocked), leaving(443, Via::Blocked)];
    assert_eq!(route_summary(&blocked, &none, false).kind, Via::Blocked);
    let partly = [leaving(80, Via::Blocked), leaving(443, Via::Direct)];
    assert_eq!(route_summary(&partly, &none, false).kind, Via::Direct);
    let open = [leaving(80, Via::Passthrough), leaving(443, Via::Blocked)];
    assert_eq!(route_summary(&open, &none, false).kind, Via::Passthrough);
}

fn codes(report: &Report) -> Vec<Code> {
    report
        .hosts
        .iter()
        .flat_map(|h| h.findings.iter().map(|f| f.code))
        .collect()
}

/// The exercise's end state: httpbin.org allowed in s1, with a timeout and routed through
/// the egress gateway, whose admins expose it (a Gateway, its second hop, a ServiceEntry).
fn exercise_state() -> ClusterView {
    let host = Host::parse("httpbin.org").unwrap();
    let mut v = view();
    v.service_entries = vec![plan::service_entry(
        &target("s1"),
        &host,
        &AllowOptions::default(),
    )];
    let settings = plan::RouteSettings {
        retries: None,
        tls_via_gateway: None,
        timeout: Some("0.5s".into()),
        via_gateway: Some(GatewayHop::default()),
        export_to: vec![],
    };
    v.virtual_services =
        vec![plan::virtual_service(&target("s1"), "httpbin", &host, &settings).unwrap()];
    v.gateways = Known::Yes(vec![http_gateway()]);
    // The admins' second hop, bound to that Gateway.
    let mut second_hop = plan::virtual_service(
        &target(GATEWAY_NAMESPACE),
        "httpbin-egressgateway",
        &host,
        &plan::RouteSettings {
            retries: None,
            tls_via_gateway: None,
            timeout: None,
            via_gateway: Some(GatewayHop {
                gateway_host: "httpbin.org".into(),
                port: 80,
                subset: None,
            }),
            export_to: vec![],
        },
    )
    .unwrap();
    second_hop.spec.gateways = vec!["egw".into()];
    second_hop.spec.http[0].matches[0].gateways = vec!["egw".into()];
    v.gateway_virtual_services = Known::Yes(vec![second_hop]);
    // The admins' ServiceEntry in istio-system makes httpbin.org known to the gateway.
    v.gateway_service_entries = Known::Yes(vec![plan::service_entry(
        &target(GATEWAY_NAMESPACE),
        &host,
        &AllowOptions::default(),
    )]);
    v
}

/// The admins' Gateway in istio-system: port 80 HTTP for httpbin.org.
fn http_gateway() -> Gateway {
    Gateway {
        unreadable: None,
        api_version: "networking.istio.io/v1".into(),
        kind: "Gateway".into(),
        metadata: Metadata {
            name: "egw".into(),
            namespace: Some(GATEWAY_NAMESPACE.into()),
            ..Metadata::default()
        },
        spec: GatewaySpec {
            selector: BTreeMap::from([("istio".into(), "egressgateway".into())]),
            servers: vec![GatewayServer {
                hosts: vec!["httpbin.org".into()],
                port: Some(ServicePort {
                    number: 80,
                    name: "http".into(),
                    protocol: "HTTP".into(),
                    target_port: None,
                }),
                tls: None,
            }],
        },
    }
}

#[test]
fn the_exercise_state_reads_back_with_its_path() {
    let report = analyse(&exercise_state(), &[]);
    assert_eq!(report.hosts.len(), 1);
    let h = &report.hosts[0];
    let lines: Vec<String> = h
        .traffic
        .iter()
        .map(|t| traffic::describe(&h.host, t))
        .collect();
    assert_eq!(
        lines,
        vec![
            ":80  sidecar -> istio-egressgateway.istio-system:80 -> httpbin.org:80  (timeout 0.5s)",
            ":443  sidecar -> httpbin.org:443  (TLS, direct)",
        ]
    );
    assert_eq!(
        (h.traffic[0].via, h.traffic[0].outcome),
        (Via::Gateway, Outcome::Egress)
    );
    assert_eq!(
        (h.traffic[1].via, h.traffic[1].timeout.as_deref()),
        (Via::Direct, None)
    );
    assert!(h.managed);
    assert_eq!(
        codes(&report),
        vec![Code::TimeoutNotOnHttps, Code::NotThroughGateway]
    );
    assert_eq!(report.worst(), Some(Severity::Info));
}

#[test]
fn problems_are_found() {
    let host = Host::parse("httpbin.org").unwrap();
    let mut v = view();
    let mut se = plan::service_entry(
        &target("s1"),
        &host,
        &AllowOptions {
            ports: vec![crate::core::objects::validate::PortSpec::parse("443").unwrap()],
            export_to: vec!["*".into()],
            ..AllowOptions::default()
        },
    );
    se.metadata.labels.clear();
    v.service_entries = vec![se];
    let settings = plan::RouteSettings {
        retries: None,
        tls_via_gateway: None,
        timeout: Some("1s".into()),
        via_gateway: Some(GatewayHop::default()),
        export_to: vec![],
    };
    let vs = plan::virtual_service(&target("s1"), "httpbin", &host, &settings).unwrap();
    let mut second = vs.clone();
    second.metadata.name = "other".into();
    v.virtual_services = vec![vs, second];
    v.egress_gateway_service = Known::Yes(false);
    let report = analyse(&v, &[]);
    let found = codes(&report);
    for code in [
        Code::DuplicateVirtualService,
        Code::ExportedBeyondNamespace,
        Code::TimeoutWithoutHttp,
        Code::NoGatewayForHost,
        Code::NoEgressGatewayService,
    ] {
        assert!(found.contains(&code), "{code} missing from {found:?}");
    }
    assert!(!report.hosts[0].managed);
    assert_eq!(report.worst(), Some(Severity::Error));
}

/// An object whose spec does not fit ours, as listed (`typed` keeps it with an empty spec).
fn unreadable_object<S: serde::de::DeserializeOwned + Default>(
    kind: &str,
    namespace: &str,
) -> Object<S> {
    typed(&serde_json::json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": kind,
        "metadata": {"name": "odd", "namespace": namespace},
        "spec": {"hosts": ["odd.example.com"], "exportTo": "."}
    }))
}

#[test]
fn unreadable_objects_are_unknown_with_the_reason_and_change_nothing_else() {
    let host = Host::parse("httpbin.org").unwrap();
    let mut v = view();
    v.service_entries = vec![plan::service_entry(
        &target("s1"),
        &host,
        &AllowOptions::default(),
    )];
    let readable = analyse(&v, &[]);
    assert!(readable.mesh.unknown.is_empty());

    let reason = |kind: &str, ns: &str| {
        format!(
            "{kind} {ns}/odd: spec.exportTo could not be read: \
                 invalid type: string \".\", expected a sequence"
        )
    };
    // In the namespace, and in istio-system, ServiceEntries and VirtualServices alike.
    v.service_entries
        .push(unreadable_object("ServiceEntry", "s1"));
    v.virtual_services
        .push(unreadable_object("VirtualService", "s1"));
    v.gateway_service_entries =
        Known::Yes(vec![unreadable_object("ServiceEntry", GATEWAY_NAMESPACE)]);
    v.gateway_virtual_services =
        Known::Yes(vec![unreadable_object("VirtualService", GATEWAY_NAMESPACE)]);
    let report = analyse(&v, &[]);
    assert_eq!(
        report.mesh.unknown,
        [
            reason("ServiceEntry", "s1"),
            reason("VirtualService", "s1"),
            reason("ServiceEntry", GATEWAY_NAMESPACE),
            reason("VirtualService", GATEWAY_NAMESPACE),
        ]
    );
    // No host is made up from their empty specs; the readable host reads as before.
    assert_eq!(report.hosts, readable.hosts);
    assert!(table(&report, Columns::default()).contains(&format!(
        "  unknown {}\n",
        reason("VirtualService", GATEWAY_NAMESPACE)
    )));
    // Listed twice (istio-system with -A): said once.
    v.service_entries = vec![unreadable_object("ServiceEntry", GATEWAY_NAMESPACE)];
    v.virtual_services = vec![];
    v.gateway_virtual_services = Known::Yes(vec![]);
    assert_eq!(
        analyse(&v, &[]).mesh.unknown,
        [reason("ServiceEntry", GATEWAY_NAMESPACE)]
    );
}

#[test]
fn route_without_service_entry_and_unknowns() {
    let host = Host::parse("api.example.com").unwrap();
    let mut v = view();
    let settings = plan::RouteSettings {
        retries: None,
        tls_via_gateway: None,
        timeout: None,
        via_gateway: Some(GatewayHop::default()),
        export_to: vec![],
    };
    v.virtual_services =
        vec![plan::virtual_service(&target("s2"), "api", &host, &settings).unwrap()];
    v.gateways = Known::Unknown("forbidden".into());
    v.outbound_policy = Known::Unknown("forbidden".into());
    let report = analyse(&v, &[]);
    let h = &report.hosts[0];
    // HTTP on 80 still goes to the gateway (Istio makes a virtual host from the
    // VirtualService alone); what the gateway does with it is unknown here.
    assert_eq!(h.route.kind, Via::Gateway);
    assert_eq!(h.traffic[0].outcome, Outcome::Unknown);
    // ... and 443 depends on the mesh policy, which could not be read.
    assert_eq!(
        (h.traffic[1].port, h.traffic[1].outcome),
        (443, Outcome::Unknown)
    );
    assert!(codes(&report).contains(&Code::NoServiceEntry));
    assert!(codes(&report).contains(&Code::Unknown));
    assert_eq!(report.mesh.outbound_traffic_policy, None);
    assert_eq!(report.mesh.unknown.len(), 2);
    let text = table(&report, Columns::default());
    assert!(text.contains("unknown gateways: forbidden"), "{text}");
}

fn traffic_of<'r>(report: &'r Report, host: &str, port: u32) -> &'r Traffic {
    let h = report.hosts.iter().find(|h| h.host == host).unwrap();
    h.traffic.iter().find(|t| t.port == port).unwrap()
}

/// Istio gives a sidecar the cluster of a host its own namespace's VirtualService routes to,
/// from a ServiceEntry of that namespace that is not exported there (exportTo
/// istio-system, or ~): clusters only, no listener (SidecarScope.collectImportedServices).
#[test]
fn a_route_pulls_in_the_cluster_of_its_namespaces_hidden_service_entry() {
    let host = Host::parse("httpbin.org").unwrap();
    for export in [vec!["istio-system".to_string()], vec!["~".to_string()]] {
        let mut v = view();
        let mut se = plan::service_entry(&target("s1"), &host, &AllowOptions::default());
        se.spec.export_to = export.clone();
        v.service_entries = vec![se];
        let hidden = analyse(&v, &[]);
        assert_eq!(hidden.hosts.len(), 1, "{export:?}");
        let timeout = plan::RouteSettings {
            timeout: Some("2s".into()),
            ..plan::RouteSettings::default()
        };
        v.virtual_services =
            vec![plan::virtual_service(&target("s1"), "httpbin", &host, &timeout).unwrap()];
        let routed = analyse(&v, &[]);
        let http = traffic_of(&routed, "httpbin.org", 80);
        assert_eq!(
            (http.via, http.outcome, http.timeout.as_deref()),
            (Via::Direct, Outcome::Egress, Some("2s")),
            "{export:?}"
        );
        // Exported elsewhere, the VirtualService is not the namespace's to see: no pull.
        v.virtual_services[0].spec.export_to = vec!["istio-system".into()];
        let unseen = analyse(&v, &[]);
        assert!(
            unseen
                .hosts
                .iter()
                .flat_map(|h| &h.traffic)
                .all(|t| t.outcome != Outcome::Egress),
            "{export:?}"
        );
    }
}

/// Two ServiceEntries of the namespace for one host: Istio merges their ports where it can
/// (same resolution, labels, workloadSelector and exportTo); one not exported here still
/// changes the listeners (the oracle: a hidden TLS 443 takes the other's 443 away), so the
/// answer is unknown naming both.
#[test]
fn several_service_entries_for_one_host() {
    let entry = |name: &str,
                 ports: serde_json::Value,
                 resolution: &str,
                 export: serde_json::Value,
                 created: &str| {
        typed::<ServiceEntrySpec>(&serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": name, "namespace": "s1", "creationTimestamp": created},
            "spec": {"hosts": ["httpbin.org"], "ports": ports, "resolution": resolution, "exportTo": export},
        }))
    };
    let http = serde_json::json!([{"number": 80, "name": "http", "protocol": "HTTP"}]);
    let tls = serde_json::json!([{"number": 443, "name": "tls", "protocol": "TLS"}]);
    let mut v = view();
    v.service_entries = vec![
        entry(
            "a",
            http.clone(),
            "DNS",
            serde_json::json!(["."]),
            "2026-01-01T00:00:10Z",
        ),
        entry(
            "b",
            tls.clone(),
            "DNS",
            serde_json::json!(["."]),
            "2026-01-01T00:00:20Z",
        ),
    ];
    let merged = analyse(&v, &["httpbin.org".to_string()]);
    let ports: Vec<(u32, Outcome)> = merged.hosts[0]
        .traffic
        .iter()
        .map(|t| (t.port, t.outcome))
        .collect();
    assert_eq!(
        ports,
        vec![(80, Outcome::Egress), (443, Outcome::Egress)],
        "{merged:?}"
    );
    // Resolutions differ: the clusters are the first's alone, b's listener stays (reset).
    v.service_entries[1].spec.resolution = Some("NONE".into());
    let first = analyse(&v, &[]);
    assert_eq!(
        traffic_of(&first, "httpbin.org", 443).outcome,
        Outcome::NoCluster,
        "{first:?}"
    );
    // One not exported here.
    v.service_entries[1].spec.export_to = vec!["~".into()];
    let hidden = analyse(&v, &[]);
    let t = traffic_of(&hidden, "httpbin.org", 80);
    assert_eq!(t.outcome, Outcome::Unknown, "{t:?}");
    assert!(t.reason.as_deref().unwrap().contains("s1/a, s1/b"), "{t:?}");
}

/// A host named on the command line that nothing allows gets its row: blocked under
/// REGISTRY_ONLY (502 on the HTTP listener of 80, the gateway Service's port; a reset on 443),
/// passthrough when the namespace's Sidecar says ALLOW_ANY, unknown when its Sidecar narrows
/// what the namespace sees (not modelled yet), naming the Sidecar.
#[test]
fn a_named_host_nothing_allows_and_the_namespaces_sidecar() {
    let v = view();
    let only = ["httpbin.org".to_string()];
    assert!(analyse(&v, &only).hosts.is_empty(), "no namespace: no row");
    let blocked = analyse_in(&v, Some("s1"), &only);
    let row = &blocked.hosts[0];
    assert_eq!((row.namespace.as_str(), row.managed), ("s1", false));
    let http = traffic_of(&blocked, "httpbin.org", 80);
    assert_eq!(
        (http.outcome, http.response),
        (Outcome::Blackhole, Some(Response::BadGateway))
    );
    let tls = traffic_of(&blocked, "httpbin.org", 443);
    assert_eq!(
        (tls.outcome, tls.response),
        (Outcome::Blackhole, Some(Response::Reset))
    );
    let sidecar = |spec: serde_json::Value| -> Sidecar {
        typed(&serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": "default", "namespace": "s1"}, "spec": spec,
        }))
    };
    let mut v = view();
    v.scope.sidecars = Known::Yes(vec![sidecar(
        serde_json::json!({"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}),
    )]);
    let open = analyse_in(&v, Some("s1"), &only);
    assert_eq!(open.hosts[0].sidecar.as_deref(), Some("s1/default"));
    for port in [80, 443] {
        let t = traffic_of(&open, "httpbin.org", port);
        assert_eq!((t.via, t.outcome), (Via::Passthrough, Outcome::Egress));
    }
    // The same Sidecar in another namespace changes nothing here.
    assert_eq!(
        traffic_of(&analyse_in(&v, Some("s2"), &only), "httpbin.org", 80).outcome,
        Outcome::Blackhole
    );
    v.scope.sidecars = Known::Yes(vec![sidecar(
        serde_json::json!({"egress": [{"hosts": ["istio-system/*"]}]}),
    )]);
    v.service_entries = vec![plan::service_entry(
        &target("s1"),
        &Host::parse("httpbin.org").unwrap(),
        &AllowOptions::default(),
    )];
    // The Sidecar imports istio-system's services only: the gateway Service keeps an HTTP
    // listener on port 80, which has no virtual host for httpbin.org (the 502).
    let narrowed = analyse(&v, &[]);
    let t = traffic_of(&narrowed, "httpbin.org", 80);
    assert_eq!(
        (t.outcome, t.response),
        (Outcome::Blackhole, Some(Response::BadGateway)),
        "{t:?}"
    );
    assert_eq!(narrowed.hosts[0].sidecar.as_deref(), Some("s1/default"));
    // Importing the namespace's own hosts too, the entry is seen again.
    v.scope.sidecars = Known::Yes(vec![sidecar(
        serde_json::json!({"egress": [{"hosts": ["istio-system/*", "./httpbin.org"]}]}),
    )]);
    let seen = analyse(&v, &[]);
    let t = traffic_of(&seen, "httpbin.org", 80);
    assert_eq!((t.via, t.outcome), (Via::Direct, Outcome::Egress), "{t:?}");
}

/// An AuthorizationPolicy of istio-system selecting the egress gateway: what it refuses is
/// denied (403), what turns on the request's path unknown naming it; one for other workloads
/// changes nothing.
#[test]
fn egress_listeners_on_ports_answer_for_their_port() {
    let sidecar = |egress: serde_json::Value| -> Sidecar {
        typed(&serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": "default", "namespace": "s1"}, "spec": {"egress": egress},
        }))
    };
    let mut v = view();
    let options = AllowOptions {
        ports: vec![
            PortSpec::parse("80/HTTP").unwrap(),
            PortSpec::parse("443/TLS").unwrap(),
        ],
        ..AllowOptions::default()
    };
    v.service_entries = vec![plan::service_entry(
        &target("s1"),
        &Host::parse("httpbin.org").unwrap(),
        &options,
    )];
    // Port 80 imports the host; every other port only istio-system's services.
    v.scope.sidecars = Known::Yes(vec![sidecar(serde_json::json!([
        {"port": {"number": 80, "protocol": "HTTP", "name": "web"}, "hosts": ["./httpbin.org"]},
        {"hosts": ["istio-system/*"]},
    ]))]);
    let report = analyse(&v, &[]);
    let web = traffic_of(&report, "httpbin.org", 80);
    assert_eq!(
        (web.via, web.outcome),
        (Via::Direct, Outcome::Egress),
        "{web:?}"
    );
    // 443: the gateway Service's TLS port makes a listener with no chain for the host.
    let tls = traffic_of(&report, "httpbin.org", 443);
    assert_eq!(
        (tls.outcome, tls.response),
        (Outcome::Blackhole, Some(Response::Reset)),
        "{tls:?}"
    );
    // Without a listener for the other ports, 443 has none at all: the same reset, by the
    // virtual outbound listener.
    v.scope.sidecars = Known::Yes(vec![sidecar(serde_json::json!([
        {"port": {"number": 443, "protocol": "TLS", "name": "tls"}, "hosts": ["./*"]},
    ]))]);
    let report = analyse(&v, &[]);
    let tls = traffic_of(&report, "httpbin.org", 443);
    assert_eq!(
        (tls.via, tls.outcome),
        (Via::Direct, Outcome::Egress),
        "{tls:?}"
    );
    let web = traffic_of(&report, "httpbin.org", 80);
    assert_eq!(
        (web.outcome, web.response),
        (Outcome::Blackhole, Some(Response::Reset)),
        "{web:?}"
    );
    // Port 80's own listener imports no service with the port, the one without a port
    // does: the listener is the latter's, HTTP routes the former's (none: 502), TLS the
    // latter's (as Istio's config generation builds them).
    v.scope.sidecars = Known::Yes(vec![sidecar(serde_json::json!([
        {"port": {"number": 80, "protocol": "HTTP", "name": "web"}, "hosts": ["./nothing.org"]},
        {"hosts": ["./*"]},
    ]))]);
    let report = analyse(&v, &[]);
    let web = traffic_of(&report, "httpbin.org", 80);
    assert_eq!(
        (web.outcome, web.response),
        (Outcome::Blackhole, Some(Response::BadGateway)),
        "{web:?}"
    );
    let tls = traffic_of(&report, "httpbin.org", 443);
    assert_eq!(
        (tls.via, tls.outcome),
        (Via::Direct, Outcome::Egress),
        "{tls:?}"
    );
    // ... however the listener without a port imports the host on the port (api.example.com
    // here), while the port's own imports only another host's 443.
    let mut only_tls = v.clone();
    only_tls.service_entries = vec![
        plan::service_entry(
            &target("s1"),
            &Host::parse("httpbin.org").unwrap(),
            &AllowOptions {
                ports: vec![PortSpec::parse("443/TLS").unwrap()],
                ..AllowOptions::default()
            },
        ),
        plan::service_entry(
            &target("s1"),
            &Host::parse("api.example.com").unwrap(),
            &AllowOptions {
                ports: vec![PortSpec::parse("80/HTTP").unwrap()],
                ..AllowOptions::default()
            },
        ),
    ];
    only_tls.scope.sidecars = Known::Yes(vec![sidecar(serde_json::json!([
        {"port": {"number": 80, "protocol": "HTTP", "name": "web"}, "hosts": ["./httpbin.org"]},
        {"hosts": ["./*"]},
    ]))]);
    let report = analyse(&only_tls, &[]);
    let other = traffic_of(&report, "api.example.com", 80);
    assert_eq!(
        (other.outcome, other.response),
        (Outcome::Blackhole, Some(Response::BadGateway)),
        "{other:?}"
    );

    // A listener whose protocol is not its services': unknown, saying why.
    v.scope.sidecars = Known::Yes(vec![sidecar(serde_json::json!([
        {"port": {"number": 80, "protocol": "TCP", "name": "tcp"}, "hosts": ["./*"]},
    ]))]);
    let report = analyse(&v, &[]);
    let web = traffic_of(&report, "httpbin.org", 80);
    assert_eq!(web.outcome, Outcome::Unknown, "{web:?}");
    assert!(
        web.reason
            .as_deref()
            .is_some_and(|r| r.contains("protocol TCP")),
        "{web:?}"
    );
}

#[test]
fn the_gateways_policies_decide_what_goes_through_it() {
    let policy = |name: &str, selector: serde_json::Value, rules: serde_json::Value| {
        typed::<AuthorizationPolicySpec>(&serde_json::json!({
            "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": GATEWAY_NAMESPACE},
            "spec": {"selector": selector, "action": "DENY", "rules": rules},
        }))
    };
    let mut v = exercise_state();
    let through = |v: &ClusterView| {
        let report = analyse(v, &[]);
        let t = traffic_of(&report, "httpbin.org", 80).clone();
        (t, report)
    };
    let (t, _) = through(&v);
    assert_eq!((t.via, t.outcome), (Via::Gateway, Outcome::Egress), "{t:?}");
    let egress_gateway = serde_json::json!({"matchLabels": {"istio": "egressgateway"}});
    let httpbin = serde_json::json!([{"to": [{"operation": {"hosts": ["httpbin.org"]}}]}]);
    v.scope.gateway_policies = Known::Yes(vec![policy(
        "ingress-only",
        serde_json::json!({"matchLabels": {"istio": "ingressgateway"}}),
        httpbin.clone(),
    )]);
    let (t, _) = through(&v);
    assert_eq!(t.outcome, Outcome::Egress, "{t:?}");
    v.scope.gateway_policies = Known::Yes(vec![policy(
        "deny-httpbin",
        egress_gateway.clone(),
        httpbin,
    )]);
    let (t, report) = through(&v);
    assert_eq!(
        (t.outcome, t.response),
        (Outcome::Denied, Some(Response::Forbidden)),
        "{t:?}"
    );
    assert!(
            t.reason
                .as_deref()
                .unwrap()
                .contains("RBAC: access denied at the egress gateway: denied by AuthorizationPolicy istio-system/deny-httpbin"),
            "{t:?}"
        );
    assert!(
        report.hosts[0].path.contains("-x denied (403)"),
        "{}",
        report.hosts[0].path
    );
    v.scope.gateway_policies = Known::Yes(vec![policy(
        "deny-delay",
        egress_gateway,
        serde_json::json!([{"to": [{"operation": {"paths": ["/delay/*"]}}]}]),
    )]);
    let (t, _) = through(&v);
    assert_eq!(t.outcome, Outcome::Unknown, "{t:?}");
    assert!(
            t.reason
                .as_deref()
                .unwrap()
                .contains("AuthorizationPolicy istio-system/deny-delay may deny it (it depends on the request's path)"),
            "{t:?}"
        );
    v.scope.gateway_policies = Known::Unknown("forbidden".into());
    assert!(
        analyse(&v, &[])
            .mesh
            .unknown
            .iter()
            .any(|u| u.contains("AuthorizationPolicies: forbidden"))
    );
}

/// A Sidecar for the api pods: their answers beside the namespace's, in the JSON and below
/// the table; one an older Sidecar's selector covers never applies and is left out.
#[test]
fn a_sidecar_for_some_workloads_answers_for_them() {
    let sidecar = |name: &str, created: &str, spec: serde_json::Value| -> Sidecar {
        typed(&serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": name, "namespace": "s1", "creationTimestamp": created},
            "spec": spec,
        }))
    };
    let mut v = view();
    v.service_entries = vec![plan::service_entry(
        &target("s1"),
        &Host::parse("httpbin.org").unwrap(),
        &AllowOptions::default(),
    )];
    let api = serde_json::json!({
        "workloadSelector": {"labels": {"app": "sentences", "mode": "api"}},
        "egress": [{"hosts": ["istio-system/*"]}],
    });
    let covered = serde_json::json!({
        "workloadSelector": {"labels": {"app": "sentences", "mode": "api", "version": "v1"}},
        "outboundTrafficPolicy": {"mode": "ALLOW_ANY"},
    });
    v.scope.sidecars = Known::Yes(vec![
        sidecar("api", "2026-01-01T00:00:01Z", api),
        sidecar("v1", "2026-01-01T00:00:02Z", covered),
    ]);
    let report = analyse(&v, &[]);
    let host = &report.hosts[0];
    assert_eq!(host.traffic[0].outcome, Outcome::Egress);
    assert_eq!(host.workloads.len(), 1, "{:?}", host.workloads);
    let api = &host.workloads[0];
    assert_eq!(
        (
            api.selector.as_str(),
            api.sidecar.as_str(),
            api.same_as_namespace
        ),
        ("app=sentences,mode=api", "s1/api", false)
    );
    assert_eq!(
        (api.traffic[0].outcome, api.traffic[0].response),
        (Outcome::Blackhole, Some(Response::BadGateway))
    );
    let text = table(&report, Columns::default());
    assert!(
        text.contains("  workloads app=sentences,mode=api (Sidecar s1/api):\n    "),
        "{text}"
    );
}

/// An admin's ServiceEntry in istio-system exported to every namespace allows its host in
/// each: the namespace's status lists it, saying who allows it; one exported only to its own
/// namespace (the course's) is not listed.
#[test]
fn a_host_istio_system_exports_is_the_namespaces_too() {
    let mut v = view();
    let host = Host::parse("api.example.com").unwrap();
    let mut central =
        plan::service_entry(&target(GATEWAY_NAMESPACE), &host, &AllowOptions::default());
    central.metadata.name = "central-api".into();
    central.spec.export_to = vec![];
    let mut private = plan::service_entry(
        &target(GATEWAY_NAMESPACE),
        &Host::parse("httpbin.org").unwrap(),
        &AllowOptions::default(),
    );
    private.spec.export_to = vec![".".into()];
    v.gateway_service_entries = Known::Yes(vec![central, private]);
    let report = analyse_in(&v, Some("s1"), &[]);
    assert_eq!(report.hosts.len(), 1, "{:?}", report.hosts);
    let row = &report.hosts[0];
    assert_eq!(
        (row.host.as_str(), row.allowed_by.as_deref(), row.managed),
        (
            "api.example.com",
            Some("istio-system/central-api (exported to all)"),
            false
        )
    );
    let http = traffic_of(&report, "api.example.com", 80);
    assert_eq!((http.via, http.outcome), (Via::Direct, Outcome::Egress));
    assert!(table(&report, Columns::default()).contains("allowed by istio-system/central-api"));
    // Without a namespace to answer for (-A), istio-system's own rows say it.
    assert!(analyse(&v, &[]).hosts.is_empty());
}

/// The endpoints of a STATIC ServiceEntry take a port's targetPort, as DNS ones do.
#[test]
fn a_static_service_entry_leaves_on_the_target_port() {
    let host = Host::parse("httpbin.org").unwrap();
    let mut v = view();
    let mut se = plan::service_entry(&target("s1"), &host, &AllowOptions::default());
    se.spec.resolution = Some("STATIC".into());
    se.spec.ports.retain(|p| p.number == 80);
    se.spec.ports[0].target_port = Some(8443);
    v.service_entries = vec![se];
    let report = analyse(&v, &[]);
    let http = traffic_of(&report, "httpbin.org", 80);
    assert_eq!(
        (http.outcome, http.upstream_port),
        (Outcome::Egress, Some(8443))
    );
}

/// A ServiceEntry port with no protocol is sniffed: HTTP on it is routed by Host, and its
/// TCP chain is on the listener only if no HTTP or sniffed port came first in Istio's order.
#[test]
fn a_port_with_no_protocol_is_sniffed() {
    let port = |number: u32, protocol: &str| ServicePort {
        number,
        name: format!("p-{number}"),
        protocol: protocol.into(),
        ..ServicePort::default()
    };
    let entry = |host: &str, created: &str, ports: Vec<ServicePort>| {
        let mut se = plan::service_entry(
            &target("s1"),
            &Host::parse(host).unwrap(),
            &AllowOptions::default(),
        );
        se.metadata.creation_timestamp = Some(created.into());
        se.spec.resolution = Some("NONE".into());
        se.spec.ports = ports;
        se
    };
    let sniffed = entry(
        "db.example.com",
        "2026-01-01T00:00:01Z",
        vec![port(8080, "")],
    );
    let mut v = view();
    v.service_entries = vec![sniffed.clone()];
    let alone = analyse(&v, &[]);
    let tcp = traffic_of(&alone, "db.example.com", 8080);
    assert_eq!((tcp.via, tcp.outcome), (Via::Direct, Outcome::Egress));
    // An older HTTP port on 8080 made the listener first: the sniffed port adds no chain.
    let http = entry(
        "api.example.com",
        "2026-01-01T00:00:00Z",
        vec![port(8080, "HTTP")],
    );
    v.service_entries = vec![sniffed.clone(), http.clone()];
    let after_http = analyse(&v, &[]);
    let tcp = traffic_of(&after_http, "db.example.com", 8080);
    assert_eq!(
        (tcp.via, tcp.outcome, tcp.response),
        (Via::Blocked, Outcome::Blackhole, Some(Response::Reset))
    );
    // A TCP port always adds its chain.
    let opaque = entry(
        "tcp.example.com",
        "2026-01-01T00:00:02Z",
        vec![port(8080, "TCP")],
    );
    v.service_entries = vec![http, opaque];
    let tcp_after_http = analyse(&v, &[]);
    let tcp = traffic_of(&tcp_after_http, "tcp.example.com", 8080);
    assert_eq!((tcp.via, tcp.outcome), (Via::Direct, Outcome::Egress));
}

#[test]
fn in_mesh_and_ingress_routes_are_not_egress() {
    let mut v = view();
    let internal = Host::parse("name").unwrap();
    let settings = plan::RouteSettings {
        retries: None,
        tls_via_gateway: None,
        timeout: Some("1s".into()),
        ..Default::default()
    };
    let mut ingress = plan::virtual_service(
        &target("s1"),
        "sentences",
        &Host::parse("s1.sentences.example.com").unwrap(),
        &settings,
    )
    .unwrap();
    ingress.spec.gateways = vec!["sentences".into()];
    v.virtual_services = vec![
        plan::virtual_service(&target("s1"), "name", &internal, &settings).unwrap(),
        ingress,
    ];
    assert!(analyse(&v, &[]).hosts.is_empty());
}

#[test]
fn a_host_the_egress_gateway_cannot_see_is_found() {
    let host = Host::parse("api.example.org").unwrap();
    let via_gateway = plan::RouteSettings {
        via_gateway: Some(GatewayHop::default()),
        ..Default::default()
    };
    let state = |export_to: &[&str], in_gateway_ns: Known<Vec<ServiceEntry>>| {
        let mut v = view();
        let options = AllowOptions {
            export_to: export_to.iter().map(|e| e.to_string()).collect(),
            ..AllowOptions::default()
        };
        v.service_entries = vec![plan::service_entry(&target("s1"), &host, &options)];
        v.virtual_services =
            vec![plan::virtual_service(&target("s1"), "api", &host, &via_gateway).unwrap()];
        v.gateway_service_entries = in_gateway_ns;
        codes(&analyse(&v, &[]))
    };
    // exportTo ["."] and nothing in istio-system: the gateway drops it.
    assert!(state(&[], Known::Yes(vec![])).contains(&Code::HostHiddenFromGateway));
    // Exported to istio-system (the fix the finding suggests), or to everyone: seen.
    let seen = |codes: Vec<Code>| !codes.contains(&Code::HostHiddenFromGateway);
    let exported = state(&[".", GATEWAY_NAMESPACE], Known::Yes(vec![]));
    assert!(seen(exported.clone()));
    // ... and that is no EGR003 (visible beyond the namespace): the gateway needs it.
    assert!(!exported.contains(&Code::ExportedBeyondNamespace));
    assert!(seen(state(&["*"], Known::Yes(vec![]))));
    // An admins' wildcard ServiceEntry in istio-system covers it.
    let wildcard = plan::service_entry(
        &target(GATEWAY_NAMESPACE),
        &Host::parse("*.example.org").unwrap(),
        &AllowOptions::default(),
    );
    assert!(seen(state(&[], Known::Yes(vec![wildcard.clone()]))));
    // ... unless it is exported only elsewhere.
    let mut elsewhere = wildcard;
    elsewhere.spec.export_to = vec!["s9".into()];
    assert!(!seen(state(&[], Known::Yes(vec![elsewhere]))));
    // Unreadable istio-system: unknown, not an error.
    let unknown = state(&[], Known::Unknown("forbidden".into()));
    assert!(seen(unknown.clone()) && unknown.contains(&Code::Unknown));
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let mut v = view();
    let mut se = plan::service_entry(
        &target("s1"),
        &Host::parse("httpbin.org").unwrap(),
        &AllowOptions::default(),
    );
    se.spec.hosts = vec!["evil\u{1b}[2J.org".into()];
    v.service_entries = vec![se];
    let text = table(&analyse(&v, &[]), Columns::default());
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(text.contains("evil\\u{1b}[2J.org"), "{text}");
}

#[test]
fn columns_align_like_kubectl() {
    let rows = vec![
        vec!["A".to_string(), "BB".to_string()],
        vec!["ccc".to_string(), "d".to_string()],
    ];
    assert_eq!(columns(rows), "A     BB\nccc   d\n");
    // Display width, not characters: a wide character takes two columns.
    let wide = vec![
        vec!["日本.jp".to_string(), "x".to_string()],
        vec!["abcdefg".to_string(), "y".to_string()],
    ];
    assert_eq!(columns(wide), "日本.jp   x\nabcdefg   y\n");
}
