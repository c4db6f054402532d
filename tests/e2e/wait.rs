//! `--wait` on the local control plane, where no kubelet runs: with no sidecar in the namespace
//! it says so and succeeds; a pod object with an istio-proxy container that no node runs is
//! reported by name and bounded; a port-forward RBAC refuses is its own exit code; bad values
//! are usage errors before anything is contacted. (The live path, a real sidecar reached, is in
//! tests/mesh.rs, on the mesh whose node runs the pods.)

use crate::support::*;

#[test]
fn with_no_sidecar_in_the_namespace_wait_says_so_and_succeeds() {
    let c = Cluster::main();
    let ns = c.namespace("wait-none", "student1");
    let student1 = Session::student1(&c, &ns);
    for args in [
        vec!["allow", "httpbin.org", "--wait"],
        vec!["timeout", "httpbin.org", "0.5s", "--wait=5s"],
        vec!["via-gateway", "httpbin.org", "--wait"],
        vec!["cleanup", "--wait"],
    ] {
        let run = student1.ok(&args);
        assert_eq!(
            run.stderr,
            format!("no sidecars in {ns} to wait for\n"),
            "{args:?}"
        );
    }
    // -o json: the objects still come, as a List.
    let run = student1.ok(&["allow", "httpbin.org", "--wait", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["kind"], "ServiceEntry");
}

#[test]
fn a_dry_run_does_not_wait() {
    let c = Cluster::main();
    let ns = c.namespace("wait-dry", "student1");
    let student1 = Session::student1(&c, &ns);
    let mark = c.audit_mark();
    let run = student1.ok(&["allow", "httpbin.org", "--wait", "--dry-run=server"]);
    assert_eq!(run.stderr, "");
    let pods = c
        .audit_since(mark, "student1")
        .into_iter()
        .filter(|e| e["objectRef"]["resource"] == "pods")
        .count();
    assert_eq!(pods, 0);
}

#[test]
fn bad_wait_values_are_usage_errors_and_contact_nothing() {
    let c = Cluster::main();
    let ns = c.namespace("wait-bad", "student1");
    let student1 = Session::student1(&c, &ns);
    let mark = c.audit_mark();
    for value in ["--wait=abc", "--wait=-1s", "--wait=0s", "--wait="] {
        let run = student1.run(&["allow", "httpbin.org", value]);
        assert_eq!(run.code, 2, "{value}: {}", run.stderr);
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{}", run.stderr);
        assert!(lines[0].starts_with("error: "), "{}", run.stderr);
        assert_eq!(lines[1], "See 'kubectl egress allow --help' for usage.");
    }
    assert!(c.audit_since(mark, "student1").is_empty());
}

/// A pod object with an injected istio-proxy, Running by its status, on no node; gone again
/// when what it returns is dropped (istioctl analyze, run by another test, reads every
/// namespace's pods: one left behind hides its IST0173 for the gateway's subset).
#[must_use]
fn bare_sidecar_pod<'a>(c: &'a Cluster, ns: &str) -> UndoOnDrop<'a> {
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: api-v1-abc, namespace: {ns}, labels: {{app: sentences, mode: api}}}}\n\
         spec: {{containers: [{{name: api, image: \"app\"}}, {{name: istio-proxy, image: \"proxy\"}}]}}\n"
    );
    c.admin_ok(&["apply", "-f", "-"], Some(&pod));
    c.admin_ok(
        &[
            "patch",
            "pod",
            "api-v1-abc",
            "-n",
            ns,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running"}}"#,
        ],
        None,
    );
    c.undo_on_drop(&[&[
        "delete",
        "pod",
        "api-v1-abc",
        "-n",
        ns,
        "--grace-period=0",
        "--force",
        "--ignore-not-found",
    ]])
}

#[test]
fn a_forbidden_port_forward_is_its_own_exit_and_the_write_stands() {
    let c = Cluster::main();
    let ns = c.namespace("wait-rbac", "student1");
    let _pod = bare_sidecar_pod(&c, &ns);
    let student1 = Session::student1(&c, &ns);
    let run = student1.run(&["allow", "httpbin.org", "--wait=5s"]);
    assert_eq!(run.code, 11, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("serviceentry.networking.istio.io/httpbin created\n")
    );
    let error: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(error.len(), 1, "{}", run.stderr);
    assert!(
        error[0].contains("pods/portforward") && error[0].contains(&ns),
        "{}",
        error[0]
    );
    assert!(c.get("serviceentry", &ns, "httpbin").is_some());
}

#[test]
fn a_pod_no_node_runs_is_named_and_the_wait_ends_at_its_deadline() {
    let c = Cluster::main();
    let ns = c.namespace("wait-nonode", "student1");
    let _pod = bare_sidecar_pod(&c, &ns);
    let started = std::time::Instant::now();
    // The admin may port-forward; the API server then finds no node for the pod.
    let run = egress(
        &c,
        "admin",
        &["allow", "httpbin.org", "--wait=2s", "-n", &ns],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(run.code, 10, "{}", run.stderr);
    assert!(
        run.stdout.contains("reached 0/1 sidecars in ")
            && run
                .stdout
                .contains(&format!("not reached: {ns}/api-v1-abc (")),
        "{}",
        run.stdout
    );
    assert!(c.get("serviceentry", &ns, "httpbin").is_some());
}
