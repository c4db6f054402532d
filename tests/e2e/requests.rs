//! Requests counted in the audit log: budgets, server dry runs, several hosts all or nothing,
//! server-side refusals, conflicts, pages and batches.

use crate::support::*;

#[test]
fn request_budgets_from_the_audit_log() {
    let c = Cluster::main();
    let ns = c.namespace("budget", "student1");
    let mut report = vec![];
    for (args, budget) in [
        // The list and the apply, then the namespace's and the root namespace's Sidecars (does
        // one scope the pods so that they never see what was written? EGR023).
        (vec!["allow", "httpbin.org"], 4),
        // Writes of a route also read what decides whether Istio honours it (istio-system's
        // Gateways, ServiceEntries, VirtualServices, DestinationRules, the namespace's
        // DestinationRules, the mesh config, the gateway's Service, the namespace's and the root
        // namespace's Sidecars and EnvoyFilters) and the namespace's labels (its revision's mesh
        // config?).
        (vec!["timeout", "httpbin.org", "0.5s"], 15),
        (vec!["via-gateway", "httpbin.org"], 15),
        // status also reads what decides the gateway hop (istio-system's VirtualServices and
        // DestinationRules), TLS origination (the namespace's DestinationRules) and the
        // sidecars' scope (the namespace's and the root namespace's Sidecars and EnvoyFilters),
        // and tries the cluster-wide list of ServiceEntries once (other namespaces' exports):
        // forbidden to a student, it asks for no other kind cluster-wide, and tries once to
        // list namespaces (to read those it may, one by one; forbidden too); istio-system's
        // AuthorizationPolicies (may one refuse requests at the egress gateway?), and the
        // namespace's and the root namespace's WasmPlugins, and the namespace's labels.
        (vec!["status"], 19),
        // One delete-collection each for VirtualServices, ServiceEntries, DestinationRules.
        (vec!["cleanup"], 3),
    ] {
        let mark = c.audit_mark();
        ok(egress(&c, "student1", &[&args[..], &["-n", &ns]].concat()));
        let events = c.audit_since(mark, "student1");
        report.push(format!("{}: {} requests", args[0], events.len()));
        assert!(
            events.len() <= budget,
            "{args:?} made {} requests: {events:?}",
            events.len()
        );
        assert!(!events.is_empty());
        // No discovery: every request names a resource.
        for e in &events {
            assert!(
                e["objectRef"]["resource"].is_string(),
                "{args:?} sent {}",
                e["requestURI"]
            );
        }
    }
    println!("{}", report.join(", "));
}

#[test]
fn server_dry_run_changes_nothing() {
    let c = Cluster::main();
    let ns = c.namespace("dryrun", "student1");
    let student1 = Session::student1(&c, &ns);
    let run = student1.ok(&["allow", "httpbin.org", "--dry-run=server"]);
    assert_eq!(
        run.stdout,
        "serviceentry.networking.istio.io/httpbin created (server dry run)\n"
    );
    assert!(c.get("serviceentry", &ns, "httpbin").is_none());
    let run = student1.ok(&["allow", "httpbin.org", "--dry-run=server", "-o", "json"]);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(v["metadata"]["uid"].is_string(), "server-returned object");
    assert_eq!(v["apiVersion"], "networking.istio.io/v1");
}

#[test]
fn several_hosts_are_all_or_nothing() {
    let c = Cluster::main();
    let ns = c.namespace("atomic", "student1");
    let student1 = Session::student1(&c, &ns);
    // The admins forbid STATIC resolution here (an admission policy: a real server-side rejection).
    let run = deny_service_entries(
        &c,
        &ns,
        &format!("no-static-{ns}"),
        "!has(object.spec.resolution) || object.spec.resolution != 'STATIC' || object.spec.hosts[0] != 'static.example.com'",
        "static.example.com may not use STATIC resolution in this course",
        &[
            "allow",
            "static.example.com",
            "--resolution",
            "STATIC",
            "--dry-run=server",
            "-n",
            &ns,
        ],
    );
    assert_eq!(run.code, 9);
    assert!(
        run.stderr
            .contains("static.example.com may not use STATIC resolution"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("rejected serviceentry.networking.istio.io/static"),
        "{}",
        run.stderr
    );

    let run = student1.run(&[
        "allow",
        "ok.example.com",
        "static.example.com",
        "--resolution",
        "STATIC",
    ]);
    assert_eq!(run.code, 9, "{}", run.stdout);
    assert!(
        c.get("serviceentry", &ns, "ok").is_none(),
        "the first host was not written"
    );
    c.admin_ok(
        &[
            "delete",
            "validatingadmissionpolicybinding,validatingadmissionpolicy",
            &format!("no-static-{ns}"),
        ],
        None,
    );
}

/// A ValidatingAdmissionPolicy (a real server-side rejection) that refuses ServiceEntries for
/// `host` in `ns`; returns once the server enforces it (a server dry run is refused).
fn refuse_host(c: &Cluster, ns: &str, host: &str) -> String {
    let name = format!("refuse-{ns}");
    let run = deny_service_entries(
        c,
        ns,
        &name,
        &format!("!object.spec.hosts.exists(h, h == '{host}')"),
        &format!("{host} is not allowed in this course"),
        &["allow", host, "--dry-run=server", "-n", ns],
    );
    assert_eq!(run.code, 9, "{}", run.stderr);
    name
}

/// Applies a ValidatingAdmissionPolicy (and its binding, both called `name`) that denies
/// ServiceEntries in `ns` unless `expression` holds, with `message`; returns the plugin's first
/// refused run of `probe` (a server dry run), once the server enforces the policy.
fn deny_service_entries(
    c: &Cluster,
    ns: &str,
    name: &str,
    expression: &str,
    message: &str,
    probe: &[&str],
) -> Run {
    let policy = format!(
        r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: "{name}"}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [networking.istio.io]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [serviceentries]
  validations:
  - expression: "{expression}"
    message: "{message}"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: "{name}"}}
spec:
  policyName: "{name}"
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {{kubernetes.io/metadata.name: "{ns}"}}
"#
    );
    c.admin_ok(&["apply", "-f", "-"], Some(&policy));
    // The policy takes a moment to be enforced.
    for _ in 0..100 {
        let run = egress(c, "student1", probe);
        if run.code != 0 {
            return run;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the admission policy {name} was never enforced");
}

/// Long on purpose: one session, each step starting from the state the last one left (see
/// tests/README.md).
#[test]
fn many_hosts_cost_a_request_each_and_stay_all_or_nothing() {
    const N: usize = 50;
    let c = Cluster::main();
    let hosts: Vec<String> = (0..N).map(|i| format!("h{i}.many.example.com")).collect();
    let names: Vec<String> = (0..N).map(|i| format!("h{i}")).collect();
    let allow = |ns: &str, extra: &[&str]| {
        let mut args = vec!["allow", "-n", ns];
        args.extend(extra);
        args.extend(hosts.iter().map(String::as_str));
        egress(&c, "student1", &args)
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };

    // N new hosts: one list, then one apply each (no dry runs), all written; then the two lists
    // of Sidecars.
    let ns = c.namespace("many", "student1");
    let mark = c.audit_mark();
    let run = ok(allow(&ns, &[]));
    let events = c.audit_since(mark, "student1");
    println!("allow of {N} new hosts: {} requests", events.len());
    let dry_runs = events
        .iter()
        .filter(|e| e["requestURI"].as_str().unwrap().contains("dryRun=All"))
        .count();
    assert!(
        events.len() <= N + 3,
        "allow of {N} new hosts made {} requests (budget {}), {dry_runs} of them dry runs",
        events.len(),
        N + 3,
    );
    assert_eq!(
        run.stdout.matches(" created\n").count(),
        N,
        "{}",
        run.stdout
    );
    assert_eq!(sorted(service_entry_names(&c, &ns)), sorted(names.clone()));
    // The same again: the objects are as the plugin left them, nothing to check first.
    let mark = c.audit_mark();
    let run = ok(allow(&ns, &[]));
    let events = c.audit_since(mark, "student1");
    println!(
        "allow of the same {N} hosts again: {} requests",
        events.len()
    );
    assert!(events.len() <= N + 3, "{} requests", events.len());
    assert_eq!(
        run.stdout.matches(" unchanged\n").count(),
        N,
        "{}",
        run.stdout
    );

    // The server refuses one host of the N: none is left, whatever was created before the
    // refusal came back, and every object is said not written.
    let ns = c.namespace("many-refused", "student1");
    let refused = &hosts[N * 3 / 4];
    let policy = refuse_host(&c, &ns, refused);
    let mark = c.audit_mark();
    let run = allow(&ns, &[]);
    let events = c.audit_since(mark, "student1");
    let created = events
        .iter()
        .filter(|e| e["verb"] == "patch" && e["responseStatus"]["code"] == 201)
        .count();
    println!(
        "allow of {N} new hosts, one refused: exit {}, {} requests, {created} created then deleted again",
        run.code,
        events.len()
    );
    assert_eq!(run.code, 9, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains(&format!("{refused} is not allowed")),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "nothing is said written");
    assert_eq!(
        run.stderr.matches("not written: ").count(),
        N,
        "{}",
        run.stderr
    );
    assert_eq!(service_entry_names(&c, &ns), Vec::<String>::new());

    // Some hosts exist already (their objects would change with --port): those are checked by a
    // dry run first; the new ones are written and deleted again; the existing ones stay as they
    // were.
    let existing: Vec<&str> = hosts[..10].iter().map(String::as_str).collect();
    ok(egress(
        &c,
        "student1",
        &[&["allow", "-n", &ns][..], &existing[..]].concat(),
    ));
    let versions = |ns: &str| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = admin_list(&c, "serviceentries", ns)
            .iter()
            .map(|o| {
                (
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                    o["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before = versions(&ns);
    assert_eq!(before.len(), 10);
    let run = allow(&ns, &["--port", "8080/HTTP"]);
    assert_eq!(run.code, 9, "{}{}", run.stdout, run.stderr);
    assert_eq!(versions(&ns), before, "{}", run.stderr);
    let spec = c.get("serviceentry", &ns, "h0").unwrap()["spec"].clone();
    assert_eq!(spec["ports"][0]["number"], 80, "{spec}");

    // A refusal of an update (fields another manager owns) is found by the dry runs: nothing
    // is written at all.
    c.admin_ok(
        &[
            "delete",
            "validatingadmissionpolicybinding,validatingadmissionpolicy",
            &policy,
        ],
        None,
    );
    let other = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: h3, namespace: {ns}}}\nspec:\n  hosts: [h3.many.example.com]\n  resolution: NONE\n"
    );
    c.admin_ok(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=other-tool",
            "-f",
            "-",
        ],
        Some(&other),
    );
    let before = versions(&ns);
    let mark = c.audit_mark();
    let run = allow(&ns, &[]);
    let writes = c
        .audit_since(mark, "student1")
        .iter()
        .filter(|e| {
            e["verb"] == "patch" && !e["requestURI"].as_str().unwrap().contains("dryRun=All")
        })
        .count();
    assert_eq!(run.code, 8, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("other-tool"), "{}", run.stderr);
    assert_eq!(writes, 0, "no write after a refused dry run");
    assert_eq!(versions(&ns), before);
}

#[test]
fn conflicts_with_another_field_manager_suggest_force() {
    let c = Cluster::main();
    let ns = c.namespace("conflict", "student1");
    let student1 = Session::student1(&c, &ns);
    student1.ok(&["allow", "httpbin.org"]);
    // Another tool takes over the resolution field.
    let other = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: httpbin, namespace: {ns}}}\nspec:\n  hosts: [httpbin.org]\n  resolution: NONE\n"
    );
    c.admin_ok(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=other-tool",
            "-f",
            "-",
        ],
        Some(&other),
    );
    let run = student1.run(&["allow", "httpbin.org"]);
    assert_eq!(run.code, 8);
    assert!(
        run.stderr.contains("conflict") && run.stderr.contains("--force-conflicts"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("other-tool"), "{}", run.stderr);
    let run = student1.ok(&["allow", "httpbin.org", "--force-conflicts"]);
    assert_eq!(
        run.stdout,
        "serviceentry.networking.istio.io/httpbin configured\n"
    );
    assert_eq!(
        c.get("serviceentry", &ns, "httpbin").unwrap()["spec"]["resolution"],
        "DNS"
    );
}

#[test]
fn thousands_of_objects_are_listed_in_pages_and_cleaned_up_in_batches() {
    let c = Cluster::main();
    let ns = c.namespace("many", "student1");
    let student1 = Session::student1(&c, &ns);
    const N: usize = 5000;
    // Created by 10 kubectl processes at once: one alone (client-side rate limits) takes minutes.
    std::thread::scope(|scope| {
        for part in 0..10 {
            let ns = &ns;
            let c = &c;
            scope.spawn(move || {
                let mut yaml = String::new();
                for i in (part..N).step_by(10) {
                    yaml.push_str(&format!(
                        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: h{i}, namespace: {ns}, labels: {{app.kubernetes.io/managed-by: kubectl-egress}}}}\nspec: {{hosts: [h{i}.example.com], ports: [{{number: 80, name: http-port, protocol: HTTP}}], resolution: DNS, exportTo: [.]}}\n---\n"
                    ));
                }
                c.admin_ok(&["create", "-f", "-", "-o", "name"], Some(&yaml));
            });
        }
    });
    let mark = c.audit_mark();
    let run = ok(egress(&c, "student1", &["status", "-n", &ns, "-o", "json"]));
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["hosts"].as_array().unwrap().len(), N);
    let lists: Vec<Value> = c
        .audit_since(mark, "student1")
        .into_iter()
        .filter(|e| e["verb"] == "list" && e["objectRef"]["namespace"] == ns.as_str())
        .collect();
    // Pages of 500: 10 for the ServiceEntries, 1 for the VirtualServices, 1 for the
    // DestinationRules (TLS origination), 1 each for the Sidecars, EnvoyFilters and WasmPlugins.
    assert_eq!(lists.len(), N / 500 + 5, "{lists:?}");
    assert!(
        lists
            .iter()
            .all(|e| e["requestURI"].as_str().unwrap().contains("limit=500"))
    );

    let run = student1.ok(&["cleanup"]);
    assert_eq!(run.stdout.lines().count(), N);
    assert!(run.stderr.contains("so far"), "{}", run.stderr);
    let left = admin_list(&c, "serviceentries", &ns);
    assert!(left.is_empty(), "{} left; {}", left.len(), run.stderr);
}
