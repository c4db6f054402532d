//! What status reports: objects student2 may not read, duplicates, all namespaces, the gateway's
//! side in istio-system, objects the CRDs accept that our types once could not read.

use crate::support::*;

/// Long on purpose: one session, each step starting from the state the last one left (see
/// tests/README.md).
#[test]
fn status_reports_what_student2_may_not_read_as_unknown() {
    let c = Cluster::main();
    let ns = c.namespace("status2", "student2");
    ok(egress(&c, "student2", &["allow", "httpbin.org", "-n", &ns]));
    ok(egress(
        &c,
        "student2",
        &["via-gateway", "httpbin.org", "-n", &ns],
    ));
    let run = ok(egress(&c, "student2", &["status", "-n", &ns]));
    assert!(
        run.stdout.contains("unknown gateways: forbidden"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("cannot tell whether a Gateway exposes httpbin.org")
            && run
                .stdout
                .contains("cannot tell whether the egress gateway knows httpbin.org"),
        "{}",
        run.stdout
    );
    let json: Value = serde_json::from_str(
        &ok(egress(&c, "student2", &["status", "-n", &ns, "-o", "json"])).stdout,
    )
    .unwrap();
    assert_eq!(json["mesh"]["outboundTrafficPolicy"], Value::Null);
    assert_eq!(json["hosts"][0]["host"], "httpbin.org");
    assert_eq!(json["hosts"][0]["route"]["kind"], "gateway");

    // student1 may read istio-system: the policy and the admins' Gateway are known.
    let ns1 = c.namespace("status1", "student1");
    ok(egress(
        &c,
        "student1",
        &["allow", "httpbin.org", "-n", &ns1],
    ));
    ok(egress(
        &c,
        "student1",
        &["via-gateway", "httpbin.org", "-n", &ns1],
    ));
    let json: Value = serde_json::from_str(
        &ok(egress(
            &c,
            "student1",
            &["status", "-n", &ns1, "-o", "json"],
        ))
        .stdout,
    )
    .unwrap();
    assert_eq!(json["mesh"]["outboundTrafficPolicy"], "REGISTRY_ONLY");
    assert_eq!(json["mesh"]["egressGateway"], true);
    let codes: Vec<&str> = json["hosts"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        !codes.contains(&"EGR005"),
        "the admins' Gateway lists httpbin.org: {codes:?}"
    );
    assert!(
        !codes.contains(&"EGR010"),
        "the admins' ServiceEntry in istio-system makes httpbin.org known to the gateway: {codes:?}"
    );
    // A gateway route for a host no Gateway exposes is an error, and --exit-code says so.
    ok(egress(
        &c,
        "student1",
        &["allow", "example.org", "-n", &ns1],
    ));
    ok(egress(
        &c,
        "student1",
        &["via-gateway", "example.org", "-n", &ns1, "--force"],
    ));
    let run = egress(
        &c,
        "student1",
        &["status", "example.org", "-n", &ns1, "--exit-code"],
    );
    assert_eq!(run.code, 3, "{}", run.stdout);
    assert!(run.stdout.contains("EGR005"), "{}", run.stdout);
    // Its ServiceEntry is exportTo ["."] and no admin made one in istio-system: the gateway
    // cannot see the host (istio#48300). Exporting it to istio-system, as the finding says, fixes it.
    assert!(run.stdout.contains("EGR010"), "{}", run.stdout);
    let fix = ok(egress(
        &c,
        "student1",
        &[
            "allow",
            "example.org",
            "--export-to",
            ".",
            "--export-to",
            "istio-system",
            "-n",
            &ns1,
        ],
    ));
    assert!(fix.stdout.contains("configured"), "{}", fix.stdout);
    let run = egress(&c, "student1", &["status", "example.org", "-n", &ns1]);
    assert!(!run.stdout.contains("EGR010"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("EGR003"),
        "exported to the gateway's namespace for the gateway's sake: {}",
        run.stdout
    );
}

/// Long on purpose: one session, each step starting from the state the last one left (see
/// tests/README.md).
#[test]
fn status_finds_duplicate_virtual_services_and_all_namespaces() {
    let c = Cluster::main();
    let a = c.namespace("alla", "student1");
    let b = c.namespace("allb", "student1");
    ok(egress(&c, "student1", &["allow", "httpbin.org", "-n", &a]));
    ok(egress(
        &c,
        "student1",
        &["timeout", "httpbin.org", "1s", "-n", &a],
    ));
    let second = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second}
spec:
  hosts: [httpbin.org]
  # Only here: a public one would also clash with other tests' namespaces (istioctl IST0109).
  exportTo: ["."]
  http:
  - route:
    - destination: {host: httpbin.org}
"#;
    c.admin_ok(&["apply", "-n", &a, "-f", "-"], Some(second));
    ok(egress(
        &c,
        "student1",
        &[
            "allow",
            "api.github.com",
            "--port",
            "443",
            "--export-to",
            "*",
            "-n",
            &b,
        ],
    ));
    ok(egress(
        &c,
        "student1",
        &["timeout", "api.github.com", "1s", "-n", &b],
    ));

    let run = ok(egress(&c, "admin", &["status", "-A", "-o", "wide"]));
    assert!(run.stdout.starts_with("NAMESPACE"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("{a}/httpbin.org")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("{b}/api.github.com")),
        "{}",
        run.stdout
    );
    let json: Value =
        serde_json::from_str(&ok(egress(&c, "admin", &["status", "-A", "-o", "json"])).stdout)
            .unwrap();
    let host = |ns: &str, h: &str| -> Value {
        json["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["namespace"] == ns && x["host"] == h)
            .unwrap()
            .clone()
    };
    let codes = |v: &Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    let dup = host(&a, "httpbin.org");
    assert_eq!(dup["virtualServices"].as_array().unwrap().len(), 2);
    assert!(codes(&dup).contains(&"EGR001".to_string()));
    assert_eq!(dup["managed"], false);
    let gh = host(&b, "api.github.com");
    assert!(codes(&gh).contains(&"EGR003".to_string()), "{gh}");
    assert!(codes(&gh).contains(&"EGR004".to_string()), "{gh}");
    // -A for cleanup only when asked; here, per namespace.
    ok(egress(&c, "student1", &["cleanup", "-n", &a]));
    assert!(c.get("virtualservice", &a, "second").is_some());
}

/// For the admin, `status -n istio-system` shows the gateway's side of each host (issue 10): the
/// course environment's httpbin.org leaves the gateway on port 80, and a Gateway server with no
/// route for its host is an error there (404 at the gateway). The oracle test checks these
/// entries against Istio.
#[test]
fn status_in_istio_system_shows_the_gateways_side() {
    let c = Cluster::main();
    let run = ok(egress(&c, "admin", &["status", "-n", "istio-system"]));
    assert!(
        run.stdout
            .contains("gateway :80  istio-egressgateway.istio-system:80 -> httpbin.org:80"),
        "{}",
        run.stdout
    );
    // A hand-made Gateway server for a host with no second hop: the gateway answers 404.
    let host = format!("lost{}.example.org", std::process::id());
    let name = format!("lost{}", std::process::id());
    c.admin_ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: {name}\n  namespace: istio-system\nspec:\n  selector:\n    istio: egressgateway\n  servers:\n  - port: {{number: 80, name: http, protocol: HTTP}}\n    hosts: [{host}]\n"
        )),
    );
    let json = ok(egress(
        &c,
        "admin",
        &["status", "-n", "istio-system", "-o", "json"],
    ));
    c.admin_ok(&["delete", "gateway", &name, "-n", "istio-system"], None);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    let entry = report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host.as_str())
        .unwrap_or_else(|| panic!("{host} not listed: {}", json.stdout))
        .clone();
    assert_eq!(entry["gateway"][0]["outcome"], "no-route", "{entry}");
    assert_eq!(entry["gateway"][0]["response"], "404 NR", "{entry}");
    assert!(entry["traffic"].as_array().unwrap().is_empty(), "{entry}");
    assert_eq!(entry["findings"][0]["code"], "EGR021", "{entry}");
    // A student's namespace has no gateway side.
    let ns = c.namespace("gwside", "student1");
    let student1 = Session::student1(&c, &ns);
    student1.ok(&["allow", "httpbin.org"]);
    let json = ok(egress(&c, "student1", &["status", "-n", &ns, "-o", "json"]));
    assert!(!json.stdout.contains("\"gateway\":"), "{}", json.stdout);
}

/// What Istio's CRDs accept reads as it is: `retries.attempts` and a route's `weight` are int32
/// with no minimum, and a negative one once made the whole VirtualService read as empty.
#[test]
fn status_reads_what_the_crds_accept() {
    let c = Cluster::main();
    let ns = c.namespace("negative", "student1");
    ok(egress(&c, "student1", &["allow", "httpbin.org", "-n", &ns]));
    let negative = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: negative}
spec:
  hosts: [httpbin.org]
  exportTo: ["."]
  http:
  - timeout: 3s
    retries: {attempts: -1}
    route:
    - destination: {host: httpbin.org}
      weight: -5
"#;
    c.admin_ok(&["apply", "-n", &ns, "-f", "-"], Some(negative));
    let json: Value = serde_json::from_str(
        &ok(egress(&c, "student1", &["status", "-n", &ns, "-o", "json"])).stdout,
    )
    .unwrap();
    let host = &json["hosts"][0];
    assert_eq!(host["host"], "httpbin.org", "{json}");
    assert_eq!(
        host["virtualServices"],
        serde_json::json!(["negative"]),
        "{json}"
    );
    assert_eq!(host["timeout"], "3s", "{json}");
    // All a student may not read: other namespaces' objects (a cluster-wide list).
    let unknown: Vec<&str> = json["mesh"]["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u.as_str())
        .collect();
    assert_eq!(unknown.len(), 3, "{json}");
    assert!(
        unknown
            .iter()
            .all(|u| u.contains("of other namespaces could not be read")),
        "{json}"
    );
}

/// The admin's `status -n NS -o json`, and its row for `host` (which must be there).
fn admin_status_row(c: &Cluster, ns: &str, host: &str) -> (Value, Value) {
    let admin: Value =
        serde_json::from_str(&ok(egress(c, "admin", &["status", "-n", ns, "-o", "json"])).stdout)
            .unwrap();
    let row = admin["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host)
        .cloned()
        .unwrap_or_else(|| panic!("no row for {host}: {admin}"));
    (admin, row)
}

/// Beside that namespace's exported ServiceEntry, one of its own for the same host exported
/// nowhere else: Istio pools their listeners and endpoints, so the admin's status of another
/// namespace reads the hidden one too and says unknown, naming both.
#[test]
fn a_hidden_service_entry_beside_an_exported_one_makes_the_host_unknown() {
    let c = Cluster::main();
    let mine = c.namespace("mine", "student1");
    let theirs = c.namespace("pooled", "student2");
    // A host of this run's alone: other tests export www.httpbin.org, and the oldest wins.
    let host = format!("{theirs}.example.com");
    ok(egress(
        &c,
        "student2",
        &["allow", &host, "--export-to", "*", "-n", &theirs],
    ));
    c.admin_ok(
        &["apply", "-n", &theirs, "-f", "-"],
        Some(&format!("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: theirs-only}}\nspec:\n  hosts: [{host}]\n  ports: [{{number: 80, name: http, protocol: HTTP, targetPort: 8080}}]\n  resolution: DNS\n  exportTo: [.]\n")),
    );
    let (admin, row) = admin_status_row(&c, &mine, &host);
    let t = &row["traffic"][0];
    assert_eq!(t["outcome"], "unknown", "{admin}");
    let reason = t["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("{theirs}/theirs-only"))
            && reason.contains(&format!("not all are exported to {mine}")),
        "{t}"
    );
}

/// Another namespace's ServiceEntry exported to every namespace (the seed's warning about
/// `--export-to '*'`): the admin's status of student1's namespace lists the host, allowed by
/// that entry; student1, who may not list cluster-wide, is told what it cannot see.
#[test]
fn other_namespaces_exports_are_listed_or_named_unknown() {
    let c = Cluster::main();
    let mine = c.namespace("mine", "student1");
    let theirs = c.namespace("theirs", "student2");
    // A host of this run's alone: on a cluster reused from an earlier run, that run's export of
    // the same host is older and would allow it.
    let host = format!("www.{theirs}.example.org");
    ok(egress(
        &c,
        "student2",
        &["allow", &host, "--export-to", "*", "-n", &theirs],
    ));
    // The one ServiceEntry `allow` wrote there, by the name the cluster holds.
    let written = c.admin_ok(
        &[
            "get",
            "serviceentries",
            "-n",
            &theirs,
            "-o",
            "jsonpath={.items[*].metadata.name}",
        ],
        None,
    );
    let (admin, row) = admin_status_row(&c, &mine, &host);
    assert_eq!(
        row["allowedBy"],
        format!("{theirs}/{written} (exported to all)"),
        "{admin}"
    );
    assert_eq!(row["traffic"][0]["outcome"], "egress", "{admin}");
    assert_eq!(admin["mesh"]["unknown"], serde_json::json!([]), "{admin}");
    let student: Value = serde_json::from_str(
        &ok(egress(
            &c,
            "student1",
            &["status", "-n", &mine, "-o", "json"],
        ))
        .stdout,
    )
    .unwrap();
    assert!(
        !student["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["host"] == host.as_str()),
        "{student}"
    );
    let said = student["mesh"]["unknown"][0].as_str().unwrap_or_default();
    assert!(
        said.contains("serviceentries of other namespaces could not be read")
            && said.contains(&format!("hosts they export to {mine} are not shown")),
        "{student}"
    );
}

/// A user refused the cluster-wide list who may list namespaces reads them one by one: what the
/// namespaces it may read export is listed, and those it may not are named.
#[test]
fn namespaces_a_user_may_read_are_read_one_by_one() {
    let c = Cluster::main();
    let mine = c.namespace("mine", "student2");
    let theirs = c.namespace("readable", "student1");
    let host = format!("www.{theirs}.example.org");
    ok(egress(
        &c,
        "student1",
        &["allow", &host, "--export-to", "*", "-n", &theirs],
    ));
    let lister = format!("{mine}-lists-namespaces");
    c.admin_ok(
        &[
            "create",
            "clusterrole",
            &lister,
            "--verb=list",
            "--resource=namespaces",
        ],
        None,
    );
    let _undo = c.undo_on_drop(&[
        &[
            "delete",
            "clusterrolebinding",
            &lister,
            "--ignore-not-found",
        ],
        &["delete", "clusterrole", &lister, "--ignore-not-found"],
    ]);
    c.admin_ok(
        &[
            "create",
            "clusterrolebinding",
            &lister,
            &format!("--clusterrole={lister}"),
            "--user=student2",
        ],
        None,
    );
    c.admin_ok(
        &[
            "create",
            "rolebinding",
            "student2-reads",
            "-n",
            &theirs,
            "--clusterrole=course:reader",
            "--user=student2",
        ],
        None,
    );
    let student: Value = serde_json::from_str(
        &ok(egress(
            &c,
            "student2",
            &["status", "-n", &mine, "-o", "json"],
        ))
        .stdout,
    )
    .unwrap();
    let row = student["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host.as_str())
        .unwrap_or_else(|| panic!("no row for {host}: {student}"));
    assert!(
        row["allowedBy"].as_str().is_some_and(
            |a| a.starts_with(&format!("{theirs}/")) && a.ends_with("(exported to all)")
        ),
        "{student}"
    );
    assert_eq!(row["traffic"][0]["outcome"], "egress", "{student}");
    let unknown: Vec<&str> = student["mesh"]["unknown"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let said = unknown
        .iter()
        .find(|u| {
            u.starts_with("serviceentries of other namespaces were read one namespace at a time")
        })
        .unwrap_or_else(|| panic!("{student}"));
    // Most namespaces (student1's among them) are not student2's to read; the one it may read
    // is not among those named.
    assert!(said.contains(" could not be read ("), "{said}");
    assert!(!said.contains(&theirs), "{said}");
    assert!(
        !unknown
            .iter()
            .any(|u| u.contains("in all namespaces is forbidden):")),
        "{student}"
    );
}

/// A Sidecar that imports only istio-system's hosts: allow writes the ServiceEntry and warns that
/// the namespace's sidecars never get it, with the fix; status says the same (EGR023; exit 3
/// with --exit-code).
#[test]
fn a_sidecar_that_hides_what_allow_writes_is_named_with_the_fix() {
    let c = Cluster::main();
    let ns = c.namespace("scoped", "student1");
    c.admin_ok(
        &["apply", "-n", &ns, "-f", "-"],
        Some("apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default}\nspec:\n  egress: [{hosts: [istio-system/*]}]\n"),
    );
    let run = ok(egress(&c, "student1", &["allow", "httpbin.org", "-n", &ns]));
    assert_eq!(
        run.stderr,
        format!(
            "warning: EGR023 the namespace's sidecars never get its ServiceEntry for httpbin.org: the Sidecar {ns}/default imports only istio-system/*; add ./httpbin.org to its egress hosts (the plugin does not edit Sidecars)\n"
        )
    );
    let status = egress(
        &c,
        "student1",
        &["status", "-n", &ns, "-o", "json", "--exit-code"],
    );
    assert_eq!(status.code, 3, "{}", status.stderr);
    let json: Value = serde_json::from_str(&status.stdout).unwrap();
    let host = &json["hosts"][0];
    assert_eq!(host["findings"][0]["code"], "EGR023", "{json}");
    assert_eq!(host["traffic"][0]["outcome"], "blackhole", "{json}");
}

/// An AuthorizationPolicy of istio-system that selects the egress gateway: what it denies through
/// the gateway is `denied` (403), naming it; a rule on the request's path makes it unknown.
#[test]
fn a_policy_on_the_egress_gateway_decides_its_requests() {
    let c = Cluster::main();
    let ns = c.namespace("policed", "student1");
    ok(egress(&c, "student1", &["allow", "httpbin.org", "-n", &ns]));
    ok(egress(
        &c,
        "student1",
        &["via-gateway", "httpbin.org", "-n", &ns],
    ));
    let port_80 = |json: &Value| json["hosts"][0]["traffic"][0].clone();
    let status = |c: &Cluster| -> Value {
        serde_json::from_str(&egress(c, "student1", &["status", "-n", &ns, "-o", "json"]).stdout)
            .unwrap()
    };
    assert_eq!(port_80(&status(&c))["outcome"], "egress");
    let _removed = c.undo_on_drop(&[&[
        "delete",
        "authorizationpolicy",
        "-n",
        "istio-system",
        "deny-egress-test",
        "--ignore-not-found",
    ]]);
    c.admin_ok(
        &["apply", "-f", "-"],
        Some("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-egress-test, namespace: istio-system}\nspec:\n  selector: {matchLabels: {istio: egressgateway}}\n  action: DENY\n  rules: [{to: [{operation: {hosts: [httpbin.org]}}]}]\n"),
    );
    let t = port_80(&status(&c));
    assert_eq!(
        (&t["outcome"], &t["response"]),
        (&"denied".into(), &"403".into()),
        "{t}"
    );
    assert!(
        t["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("AuthorizationPolicy istio-system/deny-egress-test (DENY)"),
        "{t}"
    );
    c.admin_ok(
        &["apply", "-f", "-"],
        Some("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny-egress-test, namespace: istio-system}\nspec:\n  selector: {matchLabels: {istio: egressgateway}}\n  action: DENY\n  rules: [{to: [{operation: {paths: [/admin]}}]}]\n"),
    );
    let t = port_80(&status(&c));
    assert_eq!(t["outcome"], "unknown", "{t}");
    assert!(
        t["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("AuthorizationPolicy istio-system/deny-egress-test may deny it (it depends on the request's path)"),
        "{t}"
    );
}

#[test]
fn a_wasm_plugin_makes_its_namespaces_answers_unknown() {
    let c = Cluster::main();
    let ns = c.namespace("wasm", "student1");
    // The WasmPlugin goes again: istioctl analyze, run by another test, reads every namespace.
    let _removed = c.undo_on_drop(&[&[
        "delete",
        "wasmplugins",
        "-n",
        &ns,
        "--all",
        "--ignore-not-found",
    ]]);
    ok(egress(&c, "student1", &["allow", "httpbin.org", "-n", &ns]));
    let port_80 = |c: &Cluster, who: &str| -> Value {
        let run = egress(c, who, &["status", "-n", &ns, "-o", "json"]);
        serde_json::from_str::<Value>(&run.stdout).unwrap()["hosts"][0]["traffic"][0].clone()
    };
    assert_eq!(port_80(&c, "student1")["outcome"], "egress");
    // The real CRD (extensions.istio.io/v1alpha1) holds it; the plugin never writes the kind.
    c.admin_ok(
        &["apply", "-n", &ns, "-f", "-"],
        Some("apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: auth}\nspec:\n  url: oci://registry.example.com/auth:1\n  phase: AUTHN\n"),
    );
    let t = port_80(&c, "student1");
    assert_eq!(t["outcome"], "unknown", "{t}");
    assert!(
        t["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("WasmPlugin {ns}/auth")),
        "{t}"
    );
    // A namespace beside it is not filtered by it.
    let other = c.namespace("wasm-other", "student1");
    ok(egress(
        &c,
        "student1",
        &["allow", "httpbin.org", "-n", &other],
    ));
    let run = egress(&c, "student1", &["status", "-n", &other, "-o", "json"]);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        json["hosts"][0]["traffic"][0]["outcome"], "egress",
        "{json}"
    );
}

#[test]
fn a_namespace_of_a_revision_is_answered_with_its_mesh_config() {
    let c = Cluster::main();
    let ns = c.namespace("revision", "student1");
    let mesh = |c: &Cluster, ns: &str| -> Value {
        let run = egress(
            c,
            "student1",
            &["status", "httpbin.org", "-n", ns, "-o", "json"],
        );
        serde_json::from_str(&run.stdout).unwrap()
    };
    // The default revision's mesh config: REGISTRY_ONLY, and student1 may read its namespace.
    let before = mesh(&c, &ns);
    assert_eq!(
        before["mesh"]["outboundTrafficPolicy"], "REGISTRY_ONLY",
        "{before}"
    );
    assert!(
        !before["mesh"]["unknown"].to_string().contains("labels"),
        "{before}"
    );
    assert_eq!(before["hosts"][0]["traffic"][0]["outcome"], "blackhole");
    // The canary revision lets unknown hosts pass.
    // The revision's ConfigMap and the labels go again (istioctl analyze, run by another test,
    // reads every namespace's revision).
    let _removed = c.undo_on_drop(&[
        &[
            "delete",
            "configmap",
            "-n",
            "istio-system",
            "istio-canary",
            "--ignore-not-found",
        ],
        &[
            "label",
            "namespace",
            &ns,
            "istio.io/rev-",
            "istio-injection-",
        ],
    ]);
    c.admin_ok(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio-canary, namespace: istio-system}\ndata:\n  mesh: |-\n    outboundTrafficPolicy:\n      mode: ALLOW_ANY\n"),
    );
    c.admin_ok(&["label", "namespace", &ns, "istio.io/rev=canary"], None);
    let canary = mesh(&c, &ns);
    assert_eq!(
        canary["mesh"]["outboundTrafficPolicy"], "ALLOW_ANY",
        "{canary}"
    );
    assert_eq!(canary["mesh"]["meshConfig"], "istio-system/istio-canary");
    assert_eq!(
        canary["hosts"][0]["traffic"][0]["via"], "passthrough",
        "{canary}"
    );
    // A revision with no ConfigMap (a tag, say): unknown, said why, not the default's answer.
    c.admin_ok(
        &[
            "label",
            "--overwrite",
            "namespace",
            &ns,
            "istio.io/rev=stable",
        ],
        None,
    );
    let tagged = mesh(&c, &ns);
    assert_eq!(
        tagged["mesh"]["outboundTrafficPolicy"],
        Value::Null,
        "{tagged}"
    );
    assert!(
        tagged["mesh"]["unknown"]
            .to_string()
            .contains("istio-stable not found"),
        "{tagged}"
    );
    // istio-injection wins over istio.io/rev, as in Istio's webhooks.
    c.admin_ok(
        &["label", "namespace", &ns, "istio-injection=enabled"],
        None,
    );
    let injected = mesh(&c, &ns);
    assert_eq!(
        injected["mesh"]["outboundTrafficPolicy"], "REGISTRY_ONLY",
        "{injected}"
    );
}

/// The course exercise drawn: `status --graph` on the real API server shows each step's path,
/// and `-o dot` is Graphviz that the real `dot` (EGRESS_DOT, set by scripts/test) renders.
#[test]
fn status_graph_and_dot_draw_the_exercise() {
    let c = Cluster::main();
    let ns = c.namespace("graph", "student1");
    let student1 = Session::student1(&c, &ns);
    let graph = student1.ok(&["status", "httpbin.org", "--graph"]);
    assert!(
        graph
            .stdout
            .contains("httpbin.org:80 HTTP  [nothing this sidecar sees names it: REGISTRY_ONLY]\n   │  └─ blocked: blackhole (502)"),
        "{}",
        graph.stdout
    );
    student1.ok(&["allow", "httpbin.org"]);
    student1.ok(&["timeout", "httpbin.org", "0.5s"]);
    student1.ok(&["via-gateway", "httpbin.org"]);
    let graph = student1.ok(&["status", "--graph"]);
    assert!(
        graph.stdout.contains(&format!(
            "pods in {ns}\n└─ sidecar (Istio's default scope)\n"
        )),
        "{}",
        graph.stdout
    );
    assert!(
        graph.stdout.contains(
            "gateway -> istio-egressgateway.istio-system:80 -> httpbin.org:80: egress (timeout 0.5s)"
        ),
        "{}",
        graph.stdout
    );
    // Not a terminal: no colour, whatever NO_COLOR says.
    assert!(!graph.stdout.contains('\x1b'), "{}", graph.stdout);
    let refused = student1.run(&["status", "--graph", "-o", "json"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("--graph draws a tree"),
        "{}",
        refused.stderr
    );

    let dot = student1.ok(&["status", "-o", "dot"]);
    let graphviz = std::env::var_os("EGRESS_DOT")
        .expect("EGRESS_DOT is not set: run the end-to-end tests with scripts/test");
    let mut render = std::process::Command::new(graphviz);
    render.arg("-Tsvg");
    let svg = output_with_stdin(render, &dot.stdout);
    let stderr = String::from_utf8_lossy(&svg.stderr);
    assert!(
        svg.status.success() && stderr.is_empty(),
        "{stderr}\n{}",
        dot.stdout
    );
    let svg = String::from_utf8_lossy(&svg.stdout);
    assert!(
        svg.contains("<svg") && svg.contains("istio&#45;egressgateway.istio&#45;system:80"),
        "{svg}"
    );
}
