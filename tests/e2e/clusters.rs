//! Other clusters and the course environment: v1beta1 only, no Istio, an unreachable server, RBAC
//! grants, kubectl's completion, client certificates.

use crate::support::*;

#[test]
fn a_cluster_serving_only_v1beta1() {
    let c = Cluster::from_env("EGRESS_E2E_V1BETA1");
    let ns = c.namespace("old", "student1");
    let student1 = Session::student1(&c, &ns);
    let mark = c.audit_mark();
    let run = ok(egress(
        &c,
        "student1",
        &["allow", "httpbin.org", "-n", &ns, "-o", "yaml"],
    ));
    assert!(
        run.stdout
            .contains("apiVersion: networking.istio.io/v1beta1"),
        "{}",
        run.stdout
    );
    // One failed v1 list, the v1beta1 list, the apply; then the Sidecars of the namespace and
    // of istio-system, each at v1 (not served) and v1beta1.
    assert_eq!(c.audit_since(mark, "student1").len(), 7);
    student1.ok(&["timeout", "httpbin.org", "0.5s"]);
    let vs = c
        .get(
            "virtualservices.v1beta1.networking.istio.io",
            &ns,
            "httpbin",
        )
        .unwrap();
    assert_eq!(vs["spec"], seed("api-egress-vs-timeout.yaml")["spec"]);
    student1.ok(&["status"]);
    let run = student1.run(&["allow", "httpbin.org", "--api-version", "v1"]);
    assert_eq!(run.code, 6);
    assert!(
        run.stderr.contains("networking.istio.io/v1"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_cluster_without_istio() {
    let c = Cluster::from_env("EGRESS_E2E_NOCRDS");
    for args in [
        vec!["allow", "httpbin.org"],
        vec!["status"],
        vec!["cleanup"],
    ] {
        let run = egress(&c, "admin", &[&args[..], &["-n", "student1"]].concat());
        assert_eq!(run.code, 6, "{args:?}");
        assert!(
            run.stderr.contains("Istio's CRDs are not installed"),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1);
    }
}

#[test]
fn an_unreachable_or_silent_api_server() {
    let c = Cluster::main();
    // Nothing listens: bind a port, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_dir, path) = kubeconfig_pointing_at(&c, &format!("https://127.0.0.1:{port}"));
    let run = egress_with(path, &["allow", "httpbin.org"]);
    assert_eq!(run.code, 5);
    assert!(
        run.stderr.contains("unreachable") && run.stderr.contains(&port.to_string()),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);

    // A server that accepts and never answers: --request-timeout bounds the wait.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let (_dir2, path) = kubeconfig_pointing_at(&c, &format!("https://127.0.0.1:{port}"));
    let start = std::time::Instant::now();
    let run = egress_with(path, &["status", "--request-timeout=1s"]);
    let waited = start.elapsed();
    assert_eq!(run.code, 5);
    assert!(
        run.stderr.contains("did not answer in time"),
        "{}",
        run.stderr
    );
    println!("silent server: gave up after {waited:?} with --request-timeout=1s");
    drop(silent);
}

#[test]
fn the_course_environment_grants_what_the_exercise_expects() {
    let c = Cluster::main();
    let se = |ns: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: env-check-{}, namespace: {ns}}}\nspec:\n  hosts: [env-check.example.com]\n  ports: [{{number: 80, name: http, protocol: HTTP}}]\n  resolution: DNS\n",
            std::process::id()
        )
    };
    let mark = c.audit_mark();
    let created = c.kubectl_as("student1", &["create", "-f", "-"], Some(&se("student1")));
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let refused = c.kubectl_as(
        "student1",
        &["create", "-f", "-"],
        Some(&se("istio-system")),
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("forbidden"));
    let hidden = c.kubectl_as("student2", &["get", "gateways", "-n", "istio-system"], None);
    assert!(!hidden.status.success());
    assert!(String::from_utf8_lossy(&hidden.stderr).contains("forbidden"));
    // student1 may read istio-system: the admins' exit point for httpbin.org is there.
    let gateways = c.kubectl_as(
        "student1",
        &["get", "gateways", "-n", "istio-system", "-o", "name"],
        None,
    );
    assert!(String::from_utf8_lossy(&gateways.stdout).contains("gateway.networking.istio.io/"));

    // The audit log witnessed each: 201 in student1, 403 in istio-system for both students.
    let decided = |user: &str, verb: &str, ns: &str| -> Vec<i64> {
        c.audit_since(mark, user)
            .iter()
            .filter(|e| e["verb"] == verb && e["objectRef"]["namespace"] == ns)
            .filter(|e| {
                e["objectRef"]["resource"] == "serviceentries"
                    || e["objectRef"]["resource"] == "gateways"
            })
            .map(|e| e["responseStatus"]["code"].as_i64().unwrap())
            .collect()
    };
    assert_eq!(decided("student1", "create", "student1"), vec![201]);
    assert_eq!(decided("student1", "create", "istio-system"), vec![403]);
    assert_eq!(decided("student2", "list", "istio-system"), vec![403]);
    c.admin_ok(
        &[
            "delete",
            "serviceentry",
            &format!("env-check-{}", std::process::id()),
            "-n",
            "student1",
        ],
        None,
    );
}

/// A PATH where kubectl finds the plugin and its completion helper, as after an install.
fn plugin_path() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_kubectl-egress"),
        dir.path().join("kubectl-egress"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_kubectl_complete-egress"),
        dir.path().join("kubectl_complete-egress"),
    )
    .unwrap();
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    (dir, path)
}

/// `kubectl __complete egress ...` through the real kubectl: its lines, directive last.
fn complete_through_kubectl(c: &Cluster, user: &str, words: &[&str]) -> Vec<String> {
    let (_dir, path) = plugin_path();
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(c.dir.join("kubectl"))
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .env("KUBECONFIG", c.kubeconfig(user))
        .args(["__complete", "egress"])
        .args(words)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn kubectl_completes_subcommands_flags_and_the_namespace_hosts() {
    let c = Cluster::main();
    let subcommands = complete_through_kubectl(&c, "student1", &[""]);
    for sub in ["allow", "timeout", "via-gateway", "status", "cleanup"] {
        assert!(
            subcommands
                .iter()
                .any(|l| l.starts_with(&format!("{sub}\t"))),
            "{sub} missing: {subcommands:?}"
        );
    }
    assert_eq!(subcommands.last().unwrap(), ":4");

    let ns = c.namespace("complete", "student1");

    let student1 = Session::student1(&c, &ns);
    student1.ok(&["allow", "httpbin.org", "api.github.com"]);
    let hosts = complete_through_kubectl(&c, "student1", &["timeout", "-n", &ns, ""]);
    assert_eq!(hosts, ["api.github.com", "httpbin.org", ":4"]);
    let hosts = complete_through_kubectl(&c, "student1", &["cleanup", "-n", &ns, "http"]);
    assert_eq!(hosts, ["httpbin.org", ":4"]);
    let values = complete_through_kubectl(&c, "student1", &["status", "-o", ""]);
    assert_eq!(values, ["yaml", "json", "name", "wide", ":4"]);
    // A user who may not list the namespace gets no hosts and no error.
    let none = complete_through_kubectl(&c, "student2", &["timeout", "-n", &ns, ""]);
    assert_eq!(none, [":4"]);
}

/// A kubeconfig with a client certificate instead of a token works the same, as the same user.
#[test]
fn client_certificate_kubeconfigs_work() {
    let c = Cluster::main();
    let ns = c.namespace("cert", "student1");
    let mark = c.audit_mark();
    let run = ok(egress(
        &c,
        "student1-cert",
        &["allow", "httpbin.org", "-n", &ns],
    ));
    assert_eq!(
        run.stdout,
        "serviceentry.networking.istio.io/httpbin created\n"
    );
    let events = c.audit_since(mark, "student1");
    assert!(
        events
            .iter()
            .any(|e| e["verb"] == "patch" && e["objectRef"]["namespace"] == ns.as_str()),
        "{events:?}"
    );
    assert_managed(&c.get("serviceentry", &ns, "httpbin").unwrap());
}
