use std::collections::BTreeMap;

use super::*;
use crate::core::analysis::findings::CATALOGUE;
use crate::core::objects::plan::{self, AllowOptions, GatewayHop, Target};
use crate::core::objects::validate::{Host, PortSpec};

const HOST: &str = "httpbin.org";

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
        services: BTreeMap::new(),
        outbound_policy: Known::Yes(Some("REGISTRY_ONLY".into())),
        scope: Default::default(),
    }
}

fn target() -> Target {
    Target::v1("s1")
}

fn se(options: AllowOptions) -> ServiceEntry {
    plan::service_entry(&target(), &Host::parse(HOST).unwrap(), &options)
}

fn vs(name: &str, settings: &RouteSettings) -> VirtualService {
    plan::virtual_service(&target(), name, &Host::parse(HOST).unwrap(), settings).unwrap()
}

fn traffic(port: u32, protocol: &str, via: Via, outcome: Outcome) -> Traffic {
    let mut t = Traffic::starting(port, protocol, "sidecar".into());
    t.via = via;
    t.outcome = outcome;
    t.response = (outcome == Outcome::NoCluster).then_some(Response::NoCluster);
    t
}

/// Runs one analyzer on a host's objects; the traffic is given, as the model would compute it.
fn codes_of(
    analyzer: fn(&HostFacts) -> Vec<Finding>,
    view: &ClusterView,
    ses: &[ServiceEntry],
    vss: &[VirtualService],
    traffic: &[Traffic],
) -> Vec<Code> {
    let ses: Vec<&ServiceEntry> = ses.iter().collect();
    let vss: Vec<&VirtualService> = vss.iter().collect();
    let settings = vss
        .first()
        .map(|v| RouteSettings::from_virtual_service(HOST, &v.spec))
        .unwrap_or_default();
    let facts = HostFacts {
        view,
        egress_gateway: match view.egress_gateway_service {
            Known::Yes(b) => Some(b),
            Known::Unknown(_) => None,
        },
        namespace: "s1",
        host: HOST,
        service_entries: &ses,
        virtual_services: &vss,
        settings: &settings,
        traffic,
        gateway: &[],
    };
    analyzer(&facts).iter().map(|f| f.code).collect()
}

fn timeout(t: &str) -> RouteSettings {
    RouteSettings {
        timeout: Some(t.into()),
        ..RouteSettings::default()
    }
}

fn via_gateway(port: u16) -> RouteSettings {
    RouteSettings {
        via_gateway: Some(GatewayHop {
            port,
            ..GatewayHop::default()
        }),
        ..RouteSettings::default()
    }
}

fn ports(specs: &[&str]) -> AllowOptions {
    AllowOptions {
        ports: specs.iter().map(|p| PortSpec::parse(p).unwrap()).collect(),
        ..AllowOptions::default()
    }
}

#[test]
fn egr001_two_virtual_services() {
    let one = [vs("a", &timeout("1s"))];
    let two = [vs("a", &timeout("1s")), vs("b", &timeout("2s"))];
    let v = view();
    assert!(codes_of(duplicate_virtual_services, &v, &[], &one, &[]).is_empty());
    assert_eq!(
        codes_of(duplicate_virtual_services, &v, &[], &two, &[]),
        [Code::DuplicateVirtualService]
    );
}

#[test]
fn egr016_two_service_entries() {
    let v = view();
    let mut other = se(AllowOptions::default());
    other.metadata.name = "other".into();
    assert!(
        codes_of(
            duplicate_service_entries,
            &v,
            &[se(AllowOptions::default())],
            &[],
            &[]
        )
        .is_empty()
    );
    assert_eq!(
        codes_of(
            duplicate_service_entries,
            &v,
            &[se(AllowOptions::default()), other],
            &[],
            &[]
        ),
        [Code::DuplicateServiceEntry]
    );
}

#[test]
fn egr002_route_without_service_entry() {
    let v = view();
    let route = [vs("a", &timeout("1s"))];
    assert_eq!(
        codes_of(no_service_entry, &v, &[], &route, &[]),
        [Code::NoServiceEntry]
    );
    assert!(
        codes_of(
            no_service_entry,
            &v,
            &[se(AllowOptions::default())],
            &route,
            &[]
        )
        .is_empty()
    );
}

#[test]
fn egr003_visible_beyond_the_namespace() {
    let v = view();
    let export = |e: &[&str]| {
        se(AllowOptions {
            export_to: e.iter().map(|s| s.to_string()).collect(),
            ..AllowOptions::default()
        })
    };
    assert!(codes_of(exported_beyond_namespace, &v, &[export(&[])], &[], &[]).is_empty());
    assert_eq!(
        codes_of(exported_beyond_namespace, &v, &[export(&["*"])], &[], &[]),
        [Code::ExportedBeyondNamespace]
    );
    // istio-system is needed when the host goes through the gateway there.
    let to_gateway = export(&[".", GATEWAY_NAMESPACE]);
    assert_eq!(
        codes_of(
            exported_beyond_namespace,
            &v,
            std::slice::from_ref(&to_gateway),
            &[],
            &[]
        ),
        [Code::ExportedBeyondNamespace]
    );
    let routed = [vs("a", &via_gateway(80))];
    assert!(codes_of(exported_beyond_namespace, &v, &[to_gateway], &routed, &[]).is_empty());
}

#[test]
fn egr004_and_egr008_timeouts_and_tls() {
    let v = view();
    let t = [vs("a", &timeout("1s"))];
    let https_only = [se(ports(&["443/HTTPS"]))];
    let both = [se(AllowOptions::default())];
    let http_only = [se(ports(&["80/HTTP"]))];
    assert_eq!(
        codes_of(timeout_without_http, &v, &https_only, &t, &[]),
        [Code::TimeoutWithoutHttp]
    );
    assert!(codes_of(timeout_without_http, &v, &both, &t, &[]).is_empty());
    assert_eq!(
        codes_of(timeout_not_on_https, &v, &both, &t, &[]),
        [Code::TimeoutNotOnHttps]
    );
    assert!(codes_of(timeout_not_on_https, &v, &http_only, &t, &[]).is_empty());
    assert!(codes_of(timeout_not_on_https, &v, &https_only, &t, &[]).is_empty());
}

#[test]
fn egr005_no_gateway_exposes_the_host() {
    let routed = [vs("a", &via_gateway(80))];
    let mut v = view();
    assert_eq!(
        codes_of(no_gateway_for_host, &v, &[], &routed, &[]),
        [Code::NoGatewayForHost]
    );
    v.gateways = Known::Yes(vec![Gateway {
        unreadable: None,
        api_version: "networking.istio.io/v1".into(),
        kind: "Gateway".into(),
        metadata: Metadata::default(),
        spec: GatewaySpec {
            selector: BTreeMap::new(),
            servers: vec![GatewayServer {
                hosts: vec![format!("./{HOST}")],
                port: None,
                tls: None,
            }],
        },
    }]);
    assert!(codes_of(no_gateway_for_host, &v, &[], &routed, &[]).is_empty());
    // Unreadable Gateways: EGR009 instead.
    v.gateways = Known::Unknown("forbidden".into());
    assert!(codes_of(no_gateway_for_host, &v, &[], &routed, &[]).is_empty());
}

#[test]
fn egr009_what_could_not_be_read() {
    let routed = [vs("a", &via_gateway(80))];
    let hidden = [se(AllowOptions::default())];
    let mut v = view();
    assert!(codes_of(unknown, &v, &hidden, &routed, &[]).is_empty());
    v.gateways = Known::Unknown("forbidden".into());
    v.gateway_service_entries = Known::Unknown("forbidden".into());
    assert_eq!(
        codes_of(unknown, &v, &hidden, &routed, &[]),
        [Code::Unknown, Code::Unknown]
    );
    // Each stands in for the finding it cannot make.
    assert!(codes_of(no_gateway_for_host, &v, &hidden, &routed, &[]).is_empty());
    assert!(codes_of(host_hidden_from_gateway, &v, &hidden, &routed, &[]).is_empty());
    // Not routed via the gateway: nothing needed from istio-system.
    let direct = [vs("a", &timeout("1s"))];
    assert!(codes_of(unknown, &v, &hidden, &direct, &[]).is_empty());
}

#[test]
fn egr007_the_mesh_policy() {
    let mut v = view();
    let messages =
        |v: &ClusterView| -> Vec<String> { run_mesh(v).into_iter().map(|f| f.message).collect() };
    assert_eq!(
        messages(&v),
        [
            "the mesh runs outboundTrafficPolicy REGISTRY_ONLY: hosts without a ServiceEntry are blocked (HTTP 502, TLS errors)"
        ]
    );
    v.outbound_policy = Known::Yes(None);
    assert_eq!(
        messages(&v),
        [
            "the mesh runs outboundTrafficPolicy ALLOW_ANY: unknown hosts pass through, ServiceEntries add control but are not required"
        ]
    );
    v.outbound_policy = Known::Unknown("forbidden".into());
    assert!(messages(&v).is_empty());
}

#[test]
fn egr010_gateway_cannot_see_the_host() {
    let routed = [vs("a", &via_gateway(80))];
    let mut v = view();
    let hidden = [se(AllowOptions::default())];
    assert_eq!(
        codes_of(host_hidden_from_gateway, &v, &hidden, &routed, &[]),
        [Code::HostHiddenFromGateway]
    );
    let mut admins = se(AllowOptions::default());
    admins.metadata.namespace = Some(GATEWAY_NAMESPACE.into());
    v.gateway_service_entries = Known::Yes(vec![admins]);
    assert!(codes_of(host_hidden_from_gateway, &v, &hidden, &routed, &[]).is_empty());
}

#[test]
fn egr006_no_egress_gateway_service() {
    let routed = [vs("a", &via_gateway(80))];
    let mut v = view();
    assert!(codes_of(no_egress_gateway_service, &v, &[], &routed, &[]).is_empty());
    v.egress_gateway_service = Known::Yes(false);
    assert_eq!(
        codes_of(no_egress_gateway_service, &v, &[], &routed, &[]),
        [Code::NoEgressGatewayService]
    );
}

#[test]
fn egr011_route_on_a_port_istio_ignores() {
    let v = view();
    let on_443 = [vs("a", &via_gateway(443))];
    let on_80 = [vs("a", &via_gateway(80))];
    let both = [se(AllowOptions::default())];
    let t = [
        traffic(80, "HTTP", Via::Direct, Outcome::Egress),
        traffic(443, "HTTPS", Via::Direct, Outcome::Egress),
    ];
    assert_eq!(
        codes_of(route_ignored, &v, &both, &on_443, &t),
        [Code::RouteIgnored]
    );
    assert!(codes_of(route_ignored, &v, &both, &on_80, &t).is_empty());
    let no_8080 = [vs("a", &via_gateway(8080))];
    let t = [traffic(8080, "HTTP", Via::Blocked, Outcome::Blackhole)];
    assert_eq!(
        codes_of(route_ignored, &v, &both, &no_8080, &t),
        [Code::RouteIgnored]
    );
}

#[test]
fn egr012_no_cluster() {
    let v = view();
    assert!(
        codes_of(
            no_cluster,
            &v,
            &[],
            &[],
            &[traffic(80, "HTTP", Via::Direct, Outcome::Egress)]
        )
        .is_empty()
    );
    assert_eq!(
        codes_of(
            no_cluster,
            &v,
            &[],
            &[],
            &[traffic(80, "HTTP", Via::Direct, Outcome::NoCluster)]
        ),
        [Code::NoCluster]
    );
}

#[test]
fn egr013_tcp_port_without_addresses() {
    let v = view();
    assert_eq!(
        codes_of(
            tcp_port_catches_all,
            &v,
            &[se(ports(&["5432/TCP"]))],
            &[],
            &[]
        ),
        [Code::TcpPortCatchesAll]
    );
    let mut addressed = se(ports(&["5432/TCP"]));
    addressed.spec.addresses = vec!["10.1.2.3".into()];
    assert!(codes_of(tcp_port_catches_all, &v, &[addressed], &[], &[]).is_empty());
    assert!(
        codes_of(
            tcp_port_catches_all,
            &v,
            &[se(ports(&["443/TLS"]))],
            &[],
            &[]
        )
        .is_empty()
    );
}

#[test]
fn egr014_portless_destination_on_a_two_port_host() {
    let v = view();
    let t = [vs("a", &timeout("0.5s"))];
    assert_eq!(
        codes_of(
            routed_by_listener_port,
            &v,
            &[se(AllowOptions::default())],
            &t,
            &[]
        ),
        [Code::RoutedByListenerPort]
    );
    assert!(
        codes_of(
            routed_by_listener_port,
            &v,
            &[se(ports(&["80/HTTP"]))],
            &t,
            &[]
        )
        .is_empty()
    );
}

#[test]
fn egr015_only_http_through_the_gateway() {
    let v = view();
    let routed = [vs("a", &via_gateway(80))];
    let t = [
        traffic(80, "HTTP", Via::Gateway, Outcome::Egress),
        traffic(443, "HTTPS", Via::Direct, Outcome::Egress),
    ];
    assert_eq!(
        codes_of(not_through_gateway, &v, &[], &routed, &t),
        [Code::NotThroughGateway]
    );
    assert!(codes_of(not_through_gateway, &v, &[], &routed, &t[..1]).is_empty());
}

fn tls_via_gateway() -> RouteSettings {
    RouteSettings {
        tls_via_gateway: Some(GatewayHop {
            port: 443,
            ..GatewayHop::default()
        }),
        ..via_gateway(80)
    }
}

#[test]
fn egr017_tls_route_on_a_port_that_is_not_tls() {
    let v = view();
    let routed = [vs("a", &tls_via_gateway())];
    let https = [se(AllowOptions::default())];
    let http_443 = [se(ports(&["80/HTTP", "443/HTTP"]))];
    let without = [se(ports(&["80/HTTP"]))];
    assert!(codes_of(tls_route_not_on_tls_port, &v, &https, &routed, &[]).is_empty());
    for ses in [&http_443, &without] {
        assert_eq!(
            codes_of(tls_route_not_on_tls_port, &v, ses, &routed, &[]),
            [Code::TlsRouteNotOnTlsPort]
        );
    }
}

#[test]
fn egr018_plain_http_to_443() {
    let v = view();
    let mut to_443 = traffic(80, "HTTP", Via::Direct, Outcome::Egress);
    to_443.hops.push(format!("{HOST}:443"));
    to_443.upstream_port = Some(443);
    assert_eq!(
        codes_of(plain_http_to_tls_port, &v, &[], &[], &[to_443.clone()]),
        [Code::PlainHttpToTlsPort]
    );
    let mut originated = to_443.clone();
    originated.upstream_tls = Some("SIMPLE".into());
    assert!(codes_of(plain_http_to_tls_port, &v, &[], &[], &[originated]).is_empty());
    // The client's own choice of HTTP on 443 is not flagged; the gateway's hop to 443 is.
    let mut declared = traffic(443, "HTTP", Via::Direct, Outcome::Egress);
    declared.hops.push(format!("{HOST}:443"));
    assert!(codes_of(plain_http_to_tls_port, &v, &[], &[], &[declared]).is_empty());
    let mut second_hop = traffic(80, "HTTP", Via::Gateway, Outcome::Egress);
    second_hop.hops.push(format!("{HOST}:443"));
    assert_eq!(
        codes_of(plain_http_to_tls_port, &v, &[], &[], &[second_hop]),
        [Code::PlainHttpToTlsPort]
    );
}

#[test]
fn egr019_tls_inside_tls() {
    let v = view();
    let mut t = traffic(443, "TLS", Via::Gateway, Outcome::Egress);
    assert!(codes_of(tls_twice, &v, &[], &[], &[t.clone()]).is_empty());
    t.upstream_tls = Some("SIMPLE".into());
    assert_eq!(
        codes_of(tls_twice, &v, &[], &[], &[t.clone()]),
        [Code::TlsTwice]
    );
    // In the gateway's namespace it is about pods there, rarely any: worth knowing only.
    let settings = RouteSettings::default();
    let facts = |namespace| HostFacts {
        view: &v,
        egress_gateway: Some(true),
        namespace,
        host: HOST,
        service_entries: &[],
        virtual_services: &[],
        settings: &settings,
        traffic: std::slice::from_ref(&t),
        gateway: &[],
    };
    let elsewhere = tls_twice(&facts("s1")).remove(0);
    assert_eq!(elsewhere.severity, Severity::Error);
    let there = tls_twice(&facts(GATEWAY_NAMESPACE)).remove(0);
    assert_eq!(there.severity, Severity::Info);
    assert_eq!(
        there.message,
        format!(
            "for a pod with a sidecar in istio-system: {}",
            elsewhere.message
        )
    );
}

#[test]
fn egr020_no_tls_server_at_the_gateway() {
    let v = view();
    for outcome in [Outcome::NoListener, Outcome::NoRoute] {
        let t = traffic(443, "HTTPS", Via::Gateway, outcome);
        assert_eq!(
            codes_of(no_tls_server_at_gateway, &v, &[], &[], &[t]),
            [Code::NoTlsServerAtGateway]
        );
    }
    let fine = traffic(443, "HTTPS", Via::Gateway, Outcome::Egress);
    assert!(codes_of(no_tls_server_at_gateway, &v, &[], &[], &[fine]).is_empty());
}

#[test]
fn egr022_tls_to_port_80() {
    let v = view();
    let mut t = traffic(80, "HTTP", Via::Direct, Outcome::Egress);
    t.hops.push(format!("{HOST}:80"));
    assert!(codes_of(tls_to_plain_port, &v, &[], &[], &[t.clone()]).is_empty());
    t.upstream_tls = Some("SIMPLE".into());
    assert_eq!(
        codes_of(tls_to_plain_port, &v, &[], &[], &[t.clone()]),
        [Code::TlsToPlainPort]
    );
    // To 443 (allow --tls-origination's targetPort) it is what was asked for.
    t.hops
        .last_mut()
        .unwrap()
        .replace_range(.., &format!("{HOST}:443"));
    assert!(codes_of(tls_to_plain_port, &v, &[], &[], &[t]).is_empty());
}

#[test]
fn egr023_a_sidecar_that_does_not_import_the_host() {
    let sidecar = |name: &str, spec: serde_json::Value| -> Sidecar {
        typed(&serde_json::json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
            "metadata": {"name": name, "namespace": "s1"}, "spec": spec,
        }))
    };
    let entry = [se(AllowOptions::default())];
    let route = [vs("httpbin", &timeout("1s"))];
    let mut v = view();
    assert!(codes_of(sidecar_does_not_import, &v, &entry, &route, &[]).is_empty());
    v.scope.sidecars = Known::Yes(vec![sidecar(
        "default",
        serde_json::json!({"egress": [{"hosts": ["istio-system/*"]}]}),
    )]);
    let ses: Vec<&ServiceEntry> = entry.iter().collect();
    let vss: Vec<&VirtualService> = route.iter().collect();
    let settings = timeout("1s");
    let facts = HostFacts {
        view: &v,
        egress_gateway: Some(true),
        namespace: "s1",
        host: HOST,
        service_entries: &ses,
        virtual_services: &vss,
        settings: &settings,
        traffic: &[],
        gateway: &[],
    };
    let found = sidecar_does_not_import(&facts);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0].message,
        format!(
            "the namespace's sidecars never get its ServiceEntry or its VirtualService for {HOST}: the Sidecar s1/default imports only istio-system/*; add ./{HOST} to its egress hosts (the plugin does not edit Sidecars)"
        )
    );
    // Importing the host, or a Sidecar for some workloads only that does not: named by their
    // labels.
    let mut v = v.clone();
    v.scope.sidecars = Known::Yes(vec![
        sidecar(
            "default",
            serde_json::json!({"egress": [{"hosts": ["istio-system/*", format!("./{HOST}")]}]}),
        ),
        sidecar(
            "api",
            serde_json::json!({
                "workloadSelector": {"labels": {"app": "sentences", "mode": "api"}},
                "egress": [{"hosts": ["istio-system/*"]}],
            }),
        ),
    ]);
    let facts = HostFacts {
        view: &v,
        service_entries: &ses,
        virtual_services: &vss,
        settings: &settings,
        ..facts
    };
    let found = sidecar_does_not_import(&facts);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]
            .message
            .starts_with("the sidecars of workloads app=sentences,mode=api never get"),
        "{found:?}"
    );
}

#[test]
fn egr021_the_gateway_side_fails() {
    let v = view();
    let side = |outcome, response| {
        let mut t = traffic(80, "HTTP", Via::Gateway, outcome);
        t.hops = vec!["istio-egressgateway.istio-system:80".into()];
        t.response = response;
        t.reason = Some("the admins' VirtualService for it is missing".into());
        t
    };
    let gateway = [
        side(Outcome::Egress, None),
        side(Outcome::Unknown, None),
        side(Outcome::NoRoute, Some(Response::NoRoute)),
    ];
    let settings = RouteSettings::default();
    let facts = HostFacts {
        view: &v,
        egress_gateway: Some(true),
        namespace: GATEWAY_NAMESPACE,
        host: HOST,
        service_entries: &[],
        virtual_services: &[],
        settings: &settings,
        traffic: &[],
        gateway: &gateway,
    };
    let found = gateway_side_fails(&facts);
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        "at the egress gateway, requests for httpbin.org on port 80 get 404 NR (no-route): the admins' VirtualService for it is missing"
    );
    // A host only a Gateway names (no ServiceEntry, no VirtualService): this finding alone.
    assert_eq!(run(&facts), found);
}

/// The catalogue, the analyzers and what they report agree: each code has exactly one
/// analyzer (`run` and `run_mesh` check in debug builds that it reports its own code only),
/// and a finding can only be made from a catalogue code.
#[test]
fn every_code_has_one_analyzer() {
    for entry in CATALOGUE {
        let analyzers = ANALYZERS.iter().filter(|(c, _)| *c == entry.code).count();
        assert_eq!(analyzers, 1, "{}: {analyzers} analyzers", entry.code);
    }
    assert_eq!(ANALYZERS.len(), CATALOGUE.len());
    // The mesh's own finding is the only one not about a host.
    let mesh: Vec<Code> = ANALYZERS
        .iter()
        .filter(|(_, a)| matches!(a, Analyzer::Mesh(_)))
        .map(|(c, _)| *c)
        .collect();
    assert_eq!(mesh, [Code::MeshPolicy]);
}

/// Each analyzer's unit test above is named after its code (`egr001_...`), and each code has
/// one: a finding added to the catalogue without a test fails here.
#[test]
fn every_code_has_its_test() {
    let tests: Vec<&str> = include_str!("tests.rs")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("fn egr"))
        .collect();
    for entry in CATALOGUE {
        let code = entry.code.as_str().to_ascii_lowercase();
        assert!(
            tests.iter().any(|t| format!("egr{t}").contains(&code)),
            "no unit test named after {}",
            entry.code
        );
    }
}
