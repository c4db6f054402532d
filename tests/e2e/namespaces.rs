//! Namespaces that are missing or being deleted, and cleanup across all namespaces.

use crate::support::*;

#[test]
fn missing_namespace_is_named() {
    let c = Cluster::main();
    let run = egress(
        &c,
        "admin",
        &["allow", "httpbin.org", "-n", "no-such-namespace"],
    );
    assert_eq!(run.code, 4);
    assert!(
        run.stderr
            .contains("namespace \"no-such-namespace\" does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn status_and_cleanup_of_a_missing_namespace_exit_4_even_as_admin() {
    let c = Cluster::main();
    for args in [
        vec!["status"],
        vec!["cleanup"],
        vec!["cleanup", "--dry-run"],
    ] {
        let run = egress(&c, "admin", &[&args[..], &["-n", "no-such-ns"]].concat());
        assert_eq!(run.code, 4, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr
                .contains("namespace \"no-such-ns\" does not exist"),
            "{}",
            run.stderr
        );
    }
}

/// Route writes into a namespace that does not exist say so first, as status, allow and cleanup
/// do (exit 4), not what a route there would get (503 NC, exit 3); with --force and in every dry
/// run too. Nothing is written.
#[test]
fn route_writes_into_a_missing_namespace_exit_4_naming_it() {
    let c = Cluster::main();
    for args in [
        vec!["timeout", "httpbin.org", "2s"],
        vec!["timeout", "httpbin.org", "2s", "--force"],
        vec!["timeout", "httpbin.org", "--clear"],
        vec!["via-gateway", "httpbin.org"],
        vec!["via-gateway", "httpbin.org", "--tls", "--dry-run=server"],
        vec!["via-gateway", "httpbin.org", "--off"],
        vec![
            "retries",
            "httpbin.org",
            "--attempts",
            "3",
            "--dry-run=client",
        ],
    ] {
        let mark = c.audit_mark();
        let run = egress(&c, "admin", &[&args[..], &["-n", "no-such-ns"]].concat());
        assert_eq!(run.code, 4, "{args:?}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            "error: namespace \"no-such-ns\" does not exist: check -n or $STUDENT_NS (kubectl get namespaces)\n",
            "{args:?}"
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        // The list of ServiceEntries, then the namespace: nothing else.
        let events = c.audit_since(mark, "admin");
        assert_eq!(events.len(), 2, "{args:?}: {events:?}");
        assert_eq!(events[1]["objectRef"]["resource"], "namespaces");
    }
}

#[test]
fn cleanup_all_namespaces_as_admin() {
    let c = Cluster::main();
    let (a, b) = (
        c.namespace("clean-a", "student1"),
        c.namespace("clean-b", "student1"),
    );
    ok(egress(&c, "admin", &["allow", "x.example.com", "-n", &a]));
    ok(egress(
        &c,
        "admin",
        &["timeout", "x.example.com", "1s", "-n", &a],
    ));
    ok(egress(&c, "admin", &["allow", "y.example.com", "-n", &b]));
    let dry = ok(egress(&c, "admin", &["cleanup", "-A", "--dry-run=server"]));
    assert!(
        dry.stdout.contains(&format!(
            "serviceentry.networking.istio.io/x deleted (server dry run) -n {a}"
        )),
        "{}",
        dry.stdout
    );
    assert_eq!(service_entry_names(&c, &a), ["x"]);
    let run = ok(egress(&c, "admin", &["cleanup", "-A"]));
    assert!(
        run.stdout.contains(&format!(
            "virtualservice.networking.istio.io/x deleted -n {a}"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "serviceentry.networking.istio.io/y deleted -n {b}"
        )),
        "{}",
        run.stdout
    );
    assert!(service_entry_names(&c, &a).is_empty() && service_entry_names(&c, &b).is_empty());
    assert!(admin_list(&c, "virtualservices", &a).is_empty());
    // The course environment's egress objects in istio-system are the plugin's too (`gateway`
    // wrote them): -A takes them as well. Put them back for the other tests.
    assert!(
        run.stdout
            .contains("gateway.networking.istio.io/httpbin-egressgateway deleted -n istio-system"),
        "{}",
        run.stdout
    );
    ok(egress(&c, "admin", &["gateway", "httpbin.org"]));
}

/// A namespace being deleted answers writes with 403 from admission, not RBAC: exit 4 and the
/// reason, not "forbidden ... ask the cluster admin" (no namespace controller runs here, so the
/// namespace stays Terminating).
#[test]
fn a_namespace_being_deleted_is_named_as_such() {
    let c = Cluster::main();
    let ns = c.namespace("terminating", "student1");
    c.admin_ok(&["delete", "namespace", &ns, "--wait=false"], None);
    let run = egress(&c, "admin", &["allow", "httpbin.org", "-n", &ns]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("the namespace is being deleted") && !run.stderr.contains("forbidden"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}
