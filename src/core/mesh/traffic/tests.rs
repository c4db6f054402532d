use super::*;

#[test]
fn host_patterns_cover_like_istio() {
    assert!(covers("httpbin.org", "httpbin.org"));
    assert!(covers("*", "httpbin.org"));
    assert!(covers("*.example.org", "api.example.org"));
    assert!(!covers("*.example.org", "example.org"));
    assert!(!covers("*.example.org", "api.example.org.evil.com"));
    assert!(!covers("*xample.org", "example.org"));
}

fn virtual_service(namespace: &str, name: &str, created: &str, export: &[&str]) -> VirtualService {
    Object {
        api_version: "networking.istio.io/v1".into(),
        kind: "VirtualService".into(),
        metadata: Metadata {
            name: name.into(),
            namespace: Some(namespace.into()),
            creation_timestamp: Some(created.into()),
            ..Metadata::default()
        },
        spec: VirtualServiceSpec {
            export_to: export.iter().map(|e| e.to_string()).collect(),
            ..VirtualServiceSpec::default()
        },
        unreadable: None,
    }
}

#[test]
fn export_to_is_relative_to_the_objects_own_namespace() {
    let everywhere = virtual_service("s1", "a", "", &[]);
    assert!(exported_to(&everywhere, "s1") && exported_to(&everywhere, "s2"));
    let public = virtual_service("s1", "a", "", &["*"]);
    assert!(exported_to(&public, "s2"));
    let own = virtual_service("s1", "a", "", &["."]);
    assert!(exported_to(&own, "s1") && !exported_to(&own, "s2"));
    let named = virtual_service("s1", "a", "", &[".", "istio-system"]);
    assert!(exported_to(&named, "istio-system") && !exported_to(&named, "s2"));
    let mut service_entry: ServiceEntry = Object {
        api_version: "networking.istio.io/v1".into(),
        kind: "ServiceEntry".into(),
        metadata: Metadata::default(),
        spec: ServiceEntrySpec::default(),
        unreadable: None,
    };
    service_entry.spec.export_to = vec![".".into()];
    service_entry.metadata.namespace = Some("s1".into());
    assert!(exported_to(&service_entry, "s1") && !exported_to(&service_entry, "istio-system"));
}

#[test]
fn own_namespace_first_then_named_then_public_then_oldest() {
    let public_old = virtual_service("s1", "a", "2026-01-01T00:00:00Z", &[]);
    let named = virtual_service("s2", "b", "2026-01-02T00:00:00Z", &["s1"]);
    let own = virtual_service("s1", "c", "2026-01-03T00:00:00Z", &["."]);
    let public_new = virtual_service("s2", "d", "2026-01-04T00:00:00Z", &["*"]);
    let mut order = [&public_new, &own, &public_old, &named];
    order.sort_by_key(|vs| precedence(vs, "s1"));
    let names: Vec<&str> = order.iter().map(|vs| vs.metadata.name.as_str()).collect();
    assert_eq!(names, ["c", "b", "a", "d"]);
}

#[test]
fn only_a_passthrough_server_routes_tls_by_sni() {
    let server = |mode: Option<&str>| GatewayServer {
        port: None,
        hosts: vec!["httpbin.org".into()],
        tls: mode.map(|m| ServerTls { mode: m.into() }),
    };
    assert!(is_passthrough(&server(Some("PASSTHROUGH"))));
    assert!(is_passthrough(&server(Some("passthrough"))));
    assert!(!is_passthrough(&server(Some("SIMPLE"))));
    assert!(!is_passthrough(&server(None)));
}
