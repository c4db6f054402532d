//! Against real dumps of the project's mesh (tests/fixtures/envoy): each step's expectation
//! is met by the dump taken after that step, and the dump of the step before names what
//! is missing.
use super::*;
use crate::core::analysis::status::{self, ClusterView, GATEWAY_NAMESPACE, Known};
use crate::core::mesh::traffic::KubeService;
use crate::core::objects::istio::*;
use crate::core::objects::plan::{self, AllowOptions, GatewayHop, RouteSettings, Target};
use crate::core::objects::validate::Host;

pub(crate) const NS: &str = "student1";
pub(crate) const HOST: &str = "httpbin.org";

pub(crate) fn fixture(step: &str, proxy: &str) -> Summary {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/envoy");
    let read =
        |what: &str| std::fs::read_to_string(format!("{dir}/{step}/{proxy}-{what}.json")).unwrap();
    Summary {
        clusters: parse_clusters(&read("clusters")).unwrap(),
        route_configs: parse_routes(&read("routes")).unwrap(),
        listeners: parse_listeners(&read("listeners")).unwrap(),
    }
}

fn target(ns: &str) -> Target {
    Target {
        namespace: ns.into(),
        api_version: ApiVersion::V1,
    }
}

fn host() -> Host {
    Host::parse(HOST).unwrap()
}

/// The mesh of the fixtures: REGISTRY_ONLY, the egress gateway, and the admins' httpbin.org
/// objects in istio-system (a Gateway, its second hop, a ServiceEntry, the subset).
pub(crate) fn mesh() -> ClusterView {
    let mut second_hop = plan::virtual_service(
        &target(GATEWAY_NAMESPACE),
        "httpbin-egressgateway",
        &host(),
        &RouteSettings {
            via_gateway: Some(GatewayHop {
                gateway_host: HOST.into(),
                port: 80,
                subset: None,
            }),
            ..RouteSettings::default()
        },
    )
    .unwrap();
    second_hop.spec.gateways = vec!["httpbin-egressgateway".into()];
    second_hop.spec.http[0].matches[0].gateways = vec!["httpbin-egressgateway".into()];
    ClusterView {
        elsewhere: Default::default(),
        service_entries: vec![],
        virtual_services: vec![],
        gateways: Known::Yes(vec![gateway()]),
        gateway_service_entries: Known::Yes(vec![plan::service_entry(
            &target(GATEWAY_NAMESPACE),
            &host(),
            &AllowOptions {
                ports: vec![crate::core::objects::validate::PortSpec::parse("80/HTTP").unwrap()],
                ..AllowOptions::default()
            },
        )]),
        egress_gateway_service: Known::Yes(true),
        gateway_virtual_services: Known::Yes(vec![second_hop]),
        destination_rules: Known::Yes(vec![subset_rule()]),
        namespace_destination_rules: vec![],
        services: BTreeMap::from([(
            crate::core::objects::istio::DEFAULT_EGRESS_GATEWAY_HOST.to_string(),
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

fn gateway() -> Gateway {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": "httpbin-egressgateway", "namespace": GATEWAY_NAMESPACE},
        "spec": {"selector": {"istio": "egressgateway"},
                 "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                              "hosts": [HOST]}]}
    }))
    .unwrap()
}

fn subset_rule() -> DestinationRule {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
        "metadata": {"name": "egressgateway-for-httpbin", "namespace": GATEWAY_NAMESPACE},
        "spec": {"host": crate::core::objects::istio::DEFAULT_EGRESS_GATEWAY_HOST,
                 "subsets": [{"name": "httpbin"}]}
    }))
    .unwrap()
}

/// student1 after `allow httpbin.org` and a VirtualService with `route`.
pub(crate) fn student(route: Option<RouteSettings>) -> ClusterView {
    let mut view = mesh();
    view.service_entries = vec![plan::service_entry(
        &target(NS),
        &host(),
        &AllowOptions::default(),
    )];
    if let Some(route) = route {
        view.virtual_services =
            vec![plan::virtual_service(&target(NS), "httpbin", &host(), &route).unwrap()];
    }
    view
}

pub(crate) fn timeout() -> RouteSettings {
    RouteSettings {
        timeout: Some("0.5s".into()),
        ..RouteSettings::default()
    }
}

fn via_gateway(subset: Option<&str>) -> RouteSettings {
    RouteSettings {
        via_gateway: Some(GatewayHop {
            subset: subset.map(str::to_string),
            ..GatewayHop::default()
        }),
        ..timeout()
    }
}

fn retries() -> HttpRetry {
    HttpRetry {
        attempts: 3,
        per_try_timeout: Some("2s".into()),
        retry_on: Some("5xx,connect-failure".into()),
    }
}

fn expected(view: &ClusterView, retries: &RetriesByHost) -> (Expectation, Expectation) {
    let report = status::analyse_in(view, Some(NS), &[HOST.to_string()]);
    let hosts: Vec<(&HostReport, &[Traffic])> = report
        .hosts
        .iter()
        .map(|h| (h, h.traffic.as_slice()))
        .collect();
    let reports: Vec<&HostReport> = report.hosts.iter().collect();
    (
        sidecar_expectation(&hosts, retries),
        gateway_expectation(&reports, &[]),
    )
}

fn differs(expectation: &Expectation, live: &Summary) -> String {
    expectation.met(live).expect_err("not met").to_string()
}

#[test]
fn the_parser_reads_what_envoy_dumps() {
    let live = fixture("allow", "sidecar");
    assert!(live.clusters.contains("outbound|80||httpbin.org"));
    assert!(live.clusters.contains("BlackHoleCluster"));
    let names: Vec<&str> = live.route_configs["80"]
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "httpbin.org:80",
            "istio-egressgateway.istio-system.svc.cluster.local:80",
            "block_all"
        ]
    );
    // The masked dump (what the plugin asks for) names the same clusters as the whole one.
    assert_eq!(live.clusters, fixture("timeout", "sidecar").clusters);
    let gateway = fixture("initial", "gateway");
    assert_eq!(
        gateway.route_configs.keys().collect::<Vec<_>>(),
        ["http.8080"]
    );
    assert!(fixture("gateway-off", "gateway").route_configs["http.8080"].is_empty());
}

#[test]
fn summaries_of_the_exercise_read_as_envoy_has_them() {
    insta::with_settings!({snapshot_path => "../../../../tests/snapshots"}, {
        insta::assert_yaml_snapshot!("envoy_retries_sidecar_routes", fixture("retries", "sidecar").route_configs);
        insta::assert_yaml_snapshot!("envoy_gateway_on_routes", fixture("gateway-on", "gateway").route_configs);
    });
}

#[test]
fn allow_is_met_by_its_dump_and_not_before() {
    let (sidecar, gateway) = expected(&student(None), &RetriesByHost::new());
    assert_eq!(sidecar.met(&fixture("allow", "sidecar")), Ok(()));
    assert_eq!(
        differs(&sidecar, &fixture("initial", "sidecar")),
        "cluster outbound|80||httpbin.org: not there; route 80 httpbin.org:80: no such virtual host; cluster outbound|443||httpbin.org: not there; listener 0.0.0.0_443: no filter chain for SNI httpbin.org"
    );
    assert!(gateway.checks.is_empty());
}

#[test]
fn a_timeout_is_met_by_its_dump_and_names_the_live_one() {
    let (sidecar, _) = expected(&student(Some(timeout())), &RetriesByHost::new());
    assert_eq!(sidecar.met(&fixture("timeout", "sidecar")), Ok(()));
    assert_eq!(
        differs(&sidecar, &fixture("allow", "sidecar")),
        "route 80 httpbin.org:80: timeout none, expected 0.5s"
    );
}

#[test]
fn via_gateway_needs_the_sidecars_route_and_the_gateways_host() {
    let (sidecar, gateway) = expected(&student(Some(via_gateway(None))), &RetriesByHost::new());
    assert_eq!(sidecar.met(&fixture("via-gateway", "sidecar")), Ok(()));
    assert_eq!(
        differs(&sidecar, &fixture("timeout", "sidecar")),
        "route 80 httpbin.org:80: to outbound|80||httpbin.org, expected outbound|80||istio-egressgateway.istio-system.svc.cluster.local"
    );
    assert_eq!(gateway.met(&fixture("via-gateway", "gateway")), Ok(()));
    assert_eq!(
        differs(&gateway, &fixture("gateway-off", "gateway")),
        "gateway route http.* httpbin.org:80: no such virtual host"
    );
    // That fixture's via-gateway came with no timeout.
    let hop = RouteSettings {
        timeout: None,
        ..via_gateway(Some("httpbin"))
    };
    let (subset, _) = expected(&student(Some(hop)), &RetriesByHost::new());
    assert_eq!(
        subset.met(&fixture("via-gateway-subset", "sidecar")),
        Ok(())
    );
    assert!(subset.met(&fixture("via-gateway", "sidecar")).is_err());
}

#[test]
fn retries_are_checked_where_the_virtual_service_sets_them() {
    let route = RouteSettings {
        retries: Some(retries()),
        ..via_gateway(None)
    };
    let set = RetriesByHost::from([(HOST.to_string(), retries())]);
    let (sidecar, _) = expected(&student(Some(route)), &set);
    assert_eq!(sidecar.met(&fixture("retries", "sidecar")), Ok(()));
    assert_eq!(
        differs(&sidecar, &fixture("via-gateway", "sidecar")),
        "route 80 httpbin.org:80: retries 2, expected 3, per-try timeout 0s, expected 2s, \
             retry on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes, expected 5xx,connect-failure"
    );
}

#[test]
fn cleanup_is_met_when_the_hosts_route_and_sni_chain_are_gone() {
    let (sidecar, _) = expected(&mesh(), &RetriesByHost::new());
    assert_eq!(sidecar.met(&fixture("cleanup", "sidecar")), Ok(()));
    assert_eq!(sidecar.met(&fixture("initial", "sidecar")), Ok(()));
    assert_eq!(
        differs(&sidecar, &fixture("allow", "sidecar")),
        "route 80 httpbin.org:80: still there; listener 0.0.0.0_443 SNI httpbin.org: still there"
    );
}

#[test]
fn the_gateways_own_objects_are_checked_at_the_gateway() {
    let report = status::analyse_in(&mesh(), Some(GATEWAY_NAMESPACE), &[HOST.to_string()]);
    let reports: Vec<&HostReport> = report.hosts.iter().collect();
    let on = gateway_expectation(&reports, &[]);
    assert!(!on.checks.is_empty(), "{report:?}");
    assert_eq!(on.met(&fixture("gateway-on", "gateway")), Ok(()));
    assert_eq!(
        differs(&on, &fixture("gateway-off", "gateway")),
        "cluster outbound|80||httpbin.org: not there; gateway route http.* httpbin.org:80: no such virtual host"
    );
    let off = gateway_expectation(&[], &[HOST.to_string()]);
    assert_eq!(off.met(&fixture("gateway-off", "gateway")), Ok(()));
    assert_eq!(
        differs(&off, &fixture("gateway-on", "gateway")),
        "route http.8080 httpbin.org:80: still there"
    );
}

#[test]
fn a_target_port_leaves_the_cluster_named_by_the_service_port() {
    // allow --tls-origination: port 80's targetPort is 443; Envoy's cluster stays
    // outbound|80||host (seen on the real mesh), only its endpoints are on 443.
    let mut view = mesh();
    view.service_entries = vec![plan::service_entry(
        &target(NS),
        &host(),
        &AllowOptions {
            tls_origination: true,
            ..AllowOptions::default()
        },
    )];
    let report = status::analyse_in(&view, Some(NS), &[]);
    let http = &report.hosts[0].traffic[0];
    assert_eq!((http.port, http.upstream_port), (80, Some(443)), "{http:?}");
    let (sidecar, _) = expected(&view, &RetriesByHost::new());
    assert!(
        sidecar
            .checks
            .contains(&Check::ClusterPresent("outbound|80||httpbin.org".into())),
        "{sidecar:?}"
    );
}

#[test]
fn a_dump_that_is_not_one_is_said_so() {
    assert!(
        parse_routes("<html>")
            .unwrap_err()
            .starts_with("not a routes config_dump")
    );
    assert_eq!(parse_clusters("{}").unwrap(), BTreeSet::new());
}
