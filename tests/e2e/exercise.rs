//! The course exercise as student1 and the plugin's basic writes: naming, idempotence, composing
//! routes, adopting hand-made objects, cleanup, istio-system refused.

use crate::support::*;

#[test]
fn the_exercise_as_student1_gives_the_seed_objects() {
    let c = Cluster::main();
    let ns = c.namespace("exercise", "student1");
    let student1 = Session::student1(&c, &ns);
    let mark = c.audit_mark();

    let run = student1.ok(&["allow", "httpbin.org"]);
    assert_eq!(
        run.stdout,
        "serviceentry.networking.istio.io/httpbin created\n"
    );
    let se = c
        .get("serviceentry", &ns, "httpbin")
        .expect("ServiceEntry created");
    assert_managed(&se);
    assert_eq!(se["spec"], seed("api-egress-se.yaml")["spec"]);

    let run = student1.ok(&["timeout", "httpbin.org", "0.5s"]);
    assert_eq!(
        run.stdout,
        "virtualservice.networking.istio.io/httpbin created\n"
    );
    let vs = c.get("virtualservice", &ns, "httpbin").unwrap();
    assert_managed(&vs);
    assert_eq!(vs["spec"], seed("api-egress-vs-timeout.yaml")["spec"]);

    // The exercise rewrites the VirtualService to route through the gateway (no timeout left).
    student1.ok(&["timeout", "httpbin.org", "--clear"]);
    let run = student1.ok(&["via-gateway", "httpbin.org"]);
    assert_eq!(
        run.stdout,
        "virtualservice.networking.istio.io/httpbin created\n"
    );
    let vs = c.get("virtualservice", &ns, "httpbin").unwrap();
    assert_eq!(vs["spec"], seed("api-egress-vs-gateway.yaml")["spec"]);

    let status = student1.ok(&["status"]);
    assert!(
        status
            .stdout
            .contains("sidecar -> istio-egressgateway.istio-system:80 -> httpbin.org"),
        "{}",
        status.stdout
    );

    let run = student1.ok(&["cleanup"]);
    assert!(
        run.stdout
            .contains("virtualservice.networking.istio.io/httpbin deleted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("serviceentry.networking.istio.io/httpbin deleted"),
        "{}",
        run.stdout
    );
    assert!(c.get("serviceentry", &ns, "httpbin").is_none());
    assert!(c.get("virtualservice", &ns, "httpbin").is_none());

    // Per the audit log, every write went to the target namespace and nowhere else.
    let writes: Vec<Value> = c
        .audit_since(mark, "student1")
        .into_iter()
        .filter(|e| WRITE_VERBS.contains(&e["verb"].as_str().unwrap_or("")))
        .collect();
    assert!(!writes.is_empty());
    for w in &writes {
        assert_eq!(
            w["objectRef"]["namespace"],
            ns.as_str(),
            "write outside {ns}: {w}"
        );
    }
}

#[test]
fn hosts_sharing_a_first_label_are_all_allowed() {
    let c = Cluster::main();
    let ns = c.namespace("naming", "student1");
    let student1 = Session::student1(&c, &ns);
    // A hand-made object of another host already has the next name.
    c.admin_ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: api-gitlab, namespace: {ns}}}\nspec: {{hosts: [gitlab.example.com], resolution: DNS, ports: [{{number: 443, name: https, protocol: HTTPS}}]}}\n"
        )),
    );
    let run = student1.ok(&["allow", "api.github.com", "api.gitlab.com"]);
    assert_eq!(
        run.stdout,
        "serviceentry.networking.istio.io/api created\nserviceentry.networking.istio.io/api-gitlab-com created\n"
    );
    let hosts = |name: &str| c.get("serviceentry", &ns, name).unwrap()["spec"]["hosts"].clone();
    assert_eq!(hosts("api"), serde_json::json!(["api.github.com"]));
    assert_eq!(
        hosts("api-gitlab-com"),
        serde_json::json!(["api.gitlab.com"])
    );
    assert_eq!(
        hosts("api-gitlab"),
        serde_json::json!(["gitlab.example.com"])
    );
    // The VirtualService takes the ServiceEntry's name; re-running keeps every name.
    let run = student1.ok(&["timeout", "api.gitlab.com", "2s"]);
    assert_eq!(
        run.stdout,
        "virtualservice.networking.istio.io/api-gitlab-com created\n"
    );
    let run = student1.ok(&["allow", "api.gitlab.com", "api.github.com"]);
    assert_eq!(
        run.stdout,
        "serviceentry.networking.istio.io/api-gitlab-com unchanged\nserviceentry.networking.istio.io/api unchanged\n"
    );
}

#[test]
fn rerunning_changes_nothing() {
    let c = Cluster::main();
    let ns = c.namespace("idempotent", "student1");
    let student1 = Session::student1(&c, &ns);
    student1.ok(&["allow", "httpbin.org"]);
    student1.ok(&["timeout", "httpbin.org", "0.5s"]);
    student1.ok(&["via-gateway", "httpbin.org"]);
    let before = c.get("virtualservice", &ns, "httpbin").unwrap();
    let rv = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (args, line) in [
        (
            vec!["allow", "httpbin.org"],
            "serviceentry.networking.istio.io/httpbin unchanged\n",
        ),
        (
            vec!["timeout", "httpbin.org", "0.5s"],
            "virtualservice.networking.istio.io/httpbin unchanged\n",
        ),
        (
            vec!["via-gateway", "httpbin.org"],
            "virtualservice.networking.istio.io/httpbin unchanged\n",
        ),
    ] {
        let args = [&args[..], &["-n", &ns]].concat();
        assert_eq!(ok(egress(&c, "student1", &args)).stdout, line);
    }
    assert_eq!(
        rv(&before),
        rv(&c.get("virtualservice", &ns, "httpbin").unwrap())
    );
}

#[test]
fn timeout_and_gateway_compose_on_one_virtual_service_both_ways() {
    let c = Cluster::main();
    let ns = c.namespace("compose", "student1");
    let student1 = Session::student1(&c, &ns);
    student1.ok(&["allow", "httpbin.org"]);
    // Gateway first, then timeout.
    student1.ok(&["via-gateway", "httpbin.org"]);
    let run = student1.ok(&["timeout", "httpbin.org", "0.5s"]);
    assert_eq!(
        run.stdout,
        "virtualservice.networking.istio.io/httpbin configured\n"
    );
    let vs = c.get("virtualservice", &ns, "httpbin").unwrap();
    let mut expected = seed("api-egress-vs-gateway.yaml")["spec"].clone();
    expected["http"][0]["timeout"] = "0.5s".into();
    assert_eq!(vs["spec"], expected);
    // Turning the gateway off keeps the timeout: the exercise's timeout VirtualService.
    student1.ok(&["via-gateway", "httpbin.org", "--off"]);
    let vs = c.get("virtualservice", &ns, "httpbin").unwrap();
    assert_eq!(vs["spec"], seed("api-egress-vs-timeout.yaml")["spec"]);
    // Timeout first, then gateway: the timeout stays, on the gateway route.
    student1.ok(&["via-gateway", "httpbin.org"]);
    assert_eq!(
        c.get("virtualservice", &ns, "httpbin").unwrap()["spec"],
        expected
    );
    // Undo both: nothing left to say, so the VirtualService goes.
    student1.ok(&["timeout", "httpbin.org", "--clear"]);
    let run = student1.ok(&["via-gateway", "httpbin.org", "--off"]);
    assert_eq!(
        run.stdout,
        "virtualservice.networking.istio.io/httpbin deleted\n"
    );
    assert!(c.get("virtualservice", &ns, "httpbin").is_none());
    // Only one VirtualService for the host ever existed.
    let list: Value = serde_json::from_str(
        &c.admin_ok(&["get", "virtualservices", "-n", &ns, "-o", "json"], None),
    )
    .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

const HAND_MADE_SE: &str = r#"
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: httpbin
spec:
  hosts: [httpbin.org]
  exportTo: ["."]
  ports:
  - {number: 80, name: http-port, protocol: HTTP}
  - {number: 443, name: https-port, protocol: HTTPS}
  resolution: DNS
"#;

#[test]
fn hand_made_objects_are_refused_then_adopted() {
    let c = Cluster::main();
    let ns = c.namespace("adopt", "student1");
    let student1 = Session::student1(&c, &ns);
    // The student's own object from doing the exercise by hand.
    c.admin_ok(&["apply", "-n", &ns, "-f", "-"], Some(HAND_MADE_SE));
    let before = c.get("serviceentry", &ns, "httpbin").unwrap();
    let run = student1.run(&["allow", "httpbin.org"]);
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("serviceentry.networking.istio.io/httpbin"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--adopt"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let after = c.get("serviceentry", &ns, "httpbin").unwrap();
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );

    let run = student1.ok(&["allow", "httpbin.org", "--adopt"]);
    assert_eq!(
        run.stdout,
        "serviceentry.networking.istio.io/httpbin configured\n"
    );
    assert_managed(&c.get("serviceentry", &ns, "httpbin").unwrap());

    // A hand-made VirtualService for the host under another name: Istio would ignore one of two.
    let vs = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: my-httpbin-route}
spec:
  hosts: [httpbin.org]
  http:
  - timeout: 3s
    route:
    - destination: {host: httpbin.org}
"#;
    c.admin_ok(&["apply", "-n", &ns, "-f", "-"], Some(vs));
    let run = student1.run(&["timeout", "httpbin.org", "1s"]);
    assert_eq!(run.code, 8);
    assert!(
        run.stderr.contains("my-httpbin-route") && run.stderr.contains("Istio ignores one"),
        "{}",
        run.stderr
    );
    assert!(
        c.get("virtualservice", &ns, "httpbin").is_none(),
        "no second VirtualService was made"
    );
    ok(egress(
        &c,
        "student1",
        &[
            "timeout",
            "httpbin.org",
            "1s",
            "--adopt",
            "-n",
            &ns,
            "--force-conflicts",
        ],
    ));
    let adopted = c.get("virtualservice", &ns, "my-httpbin-route").unwrap();
    assert_managed(&adopted);
    assert_eq!(adopted["spec"]["http"][0]["timeout"], "1s");

    // A name taken by an object for another host is refused even with --adopt.
    let run = student1.run(&["allow", "httpbin.com", "--name", "httpbin", "--adopt"]);
    assert_eq!(run.code, 8);
    assert!(run.stderr.contains("not httpbin.com"), "{}", run.stderr);
}

#[test]
fn cleanup_deletes_only_what_the_plugin_made() {
    let c = Cluster::main();
    let ns = c.namespace("cleanup", "student1");
    let student1 = Session::student1(&c, &ns);
    let hand_made = HAND_MADE_SE
        .replace("name: httpbin", "name: manual")
        .replace("httpbin.org", "example.org");
    c.admin_ok(&["apply", "-n", &ns, "-f", "-"], Some(&hand_made));
    student1.ok(&["allow", "httpbin.org", "api.github.com"]);
    student1.ok(&["timeout", "httpbin.org", "2s"]);

    let run = student1.ok(&["cleanup", "--dry-run=client"]);
    assert!(run.stdout.contains("deleted (dry run)"), "{}", run.stdout);
    assert!(c.get("serviceentry", &ns, "httpbin").is_some());

    let run = student1.ok(&["cleanup", "httpbin.org"]);
    assert_eq!(
        run.stdout,
        "virtualservice.networking.istio.io/httpbin deleted\nserviceentry.networking.istio.io/httpbin deleted\n"
    );
    assert!(
        c.get("serviceentry", &ns, "api").is_some(),
        "other host kept"
    );

    // A hand-made object with the plugin's usual name is safe too.
    c.admin_ok(&["apply", "-n", &ns, "-f", "-"], Some(HAND_MADE_SE));
    let run = student1.ok(&["cleanup"]);
    assert_eq!(run.stdout, "serviceentry.networking.istio.io/api deleted\n");
    assert!(c.get("serviceentry", &ns, "manual").is_some());
    assert!(c.get("serviceentry", &ns, "httpbin").is_some());
}

#[test]
fn writing_into_istio_system_is_refused_and_nothing_is_written_elsewhere() {
    let c = Cluster::main();
    let mark = c.audit_mark();
    let run = egress(
        &c,
        "student1",
        &["allow", "example.net", "-n", "istio-system"],
    );
    assert_eq!(run.code, 7);
    assert!(run.stderr.starts_with("error: forbidden"), "{}", run.stderr);
    for needle in ["\"student1\"", "serviceentries", "istio-system", "patch"] {
        assert!(run.stderr.contains(needle), "{needle}: {}", run.stderr);
    }
    assert_eq!(run.stderr.lines().count(), 1);
    let events = c.audit_since(mark, "student1");
    assert!(!events.is_empty());
    for e in events
        .iter()
        .filter(|e| WRITE_VERBS.contains(&e["verb"].as_str().unwrap()))
    {
        assert_eq!(e["objectRef"]["namespace"], "istio-system", "{e}");
        assert_eq!(e["responseStatus"]["code"], 403, "{e}");
    }
    // student1 may not write in another student's namespace either.
    let run = egress(
        &c,
        "student1",
        &["timeout", "httpbin.org", "1s", "-n", "student2"],
    );
    assert_eq!(run.code, 7);
    assert!(
        run.stderr.contains("forbidden") && run.stderr.contains("student2"),
        "{}",
        run.stderr
    );
}

#[test]
fn adopt_replaces_the_spec_and_takes_every_field_over() {
    let c = Cluster::main();
    let ns = c.namespace("adopt-all", "student1");
    let student1 = Session::student1(&c, &ns);
    // Made by kubectl apply (client-side): other ports, another location, retries on the route.
    let hand_made = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: web, protocol: HTTP}, {number: 8080, name: alt, protocol: HTTP}]
  resolution: DNS
  location: MESH_INTERNAL
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin}
spec:
  hosts: [httpbin.org]
  http:
  - timeout: 3s
    retries: {attempts: 2}
    route:
    - destination: {host: httpbin.org}
"#;
    c.admin_ok(&["apply", "-n", &ns, "-f", "-"], Some(hand_made));
    student1.ok(&["allow", "httpbin.org", "--adopt"]);
    let se = c.get("serviceentry", &ns, "httpbin").unwrap();
    assert_eq!(se["spec"], seed("api-egress-se.yaml")["spec"]);
    // No --force-conflicts needed to take over what kubectl apply made.
    student1.ok(&["timeout", "httpbin.org", "0.5s", "--adopt"]);
    let vs = c.get("virtualservice", &ns, "httpbin").unwrap();
    // The route's settings the plugin expresses (timeout, retries, gateway hops) are composed
    // like any of its own VirtualService's: the retries stay, the timeout is the new one.
    let mut expected = seed("api-egress-vs-timeout.yaml")["spec"].clone();
    expected["http"][0]["retries"] = serde_json::json!({"attempts": 2});
    assert_eq!(vs["spec"], expected);
    let managers = |kind: &str| -> Vec<String> {
        let out = c.admin_ok(
            &[
                "get",
                kind,
                "httpbin",
                "-n",
                &ns,
                "-o",
                "json",
                "--show-managed-fields",
            ],
            None,
        );
        let v: Value = serde_json::from_str(&out).unwrap();
        v["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                format!(
                    "{} {}",
                    m["manager"].as_str().unwrap(),
                    m["operation"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(managers("serviceentry"), ["kubectl-egress Apply"]);
    assert_eq!(managers("virtualservice"), ["kubectl-egress Apply"]);
    // The plugin now owns every field: clearing the timeout removes it.
    student1.ok(&["via-gateway", "httpbin.org"]);
    student1.ok(&["timeout", "httpbin.org", "--clear"]);
    student1.ok(&["retries", "httpbin.org", "--clear"]);
    let vs = c.get("virtualservice", &ns, "httpbin").unwrap();
    assert_eq!(vs["spec"], seed("api-egress-vs-gateway.yaml")["spec"]);
}
