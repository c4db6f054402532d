//! Faults between the plugin and the API server (`support/faults.rs`): proxies, fake servers,
//! a server killed mid-run, retries.

use crate::support::*;

use crate::faults::{Answer, FakeServer, Fault, Proxy};

#[test]
fn faults_between_the_plugin_and_the_api_server() {
    let c = Cluster::main();
    let upstream = api_server_addr(&c);
    // (fault, exit code, what stderr says, whether the object is written)
    let cases: Vec<(Fault, i32, &str, bool)> = vec![
        (Fault::None, 0, "", true),
        (
            Fault::Delay(std::time::Duration::from_millis(300)),
            0,
            "",
            true,
        ),
        (Fault::Hang, 5, "did not answer in time", false),
        (Fault::Reset, 5, "unreachable", false),
        (Fault::Close, 5, "unreachable", false),
        (Fault::Garbage, 1, "unexpected response from", false),
        // One byte every 50 ms: the list alone would take minutes; --request-timeout bounds the
        // whole request, body included.
        (Fault::Trickle, 5, "did not answer in time", false),
    ];
    for (fault, code, says, written) in cases {
        let ns = c.namespace("fault", "student1");
        let proxy = Proxy::start(upstream, fault);
        let (_dir, path) = kubeconfig_pointing_at(&c, &format!("https://127.0.0.1:{}", proxy.port));
        let run = egress_with(
            path,
            &["allow", "httpbin.org", "-n", &ns, "--request-timeout=2s"],
        );
        assert_eq!(run.code, code, "{fault:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{fault:?}: {}", run.stderr);
        if code != 0 {
            assert_eq!(run.stderr.lines().count(), 1, "{fault:?}: {}", run.stderr);
        }
        assert_eq!(
            service_entry_names(&c, &ns) == ["httpbin"],
            written,
            "{fault:?}"
        );
        println!("{fault:?}: exit {} {}", run.code, run.stderr.trim());
    }
}

#[test]
fn status_through_a_trickling_proxy_stops_at_the_request_timeout() {
    let c = Cluster::main();
    let ns = c.namespace("trickle", "student1");
    let student1 = Session::student1(&c, &ns);
    student1.ok(&["allow", "a.example.com", "b.example.com"]);
    let proxy = Proxy::start(api_server_addr(&c), Fault::Trickle);
    let (_dir, path) = kubeconfig_pointing_at(&c, &format!("https://127.0.0.1:{}", proxy.port));
    let run = egress_with(path, &["status", "-n", &ns, "--request-timeout=1s"]);
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(
        run.stderr.contains("did not answer in time"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_killed_mid_run_leaves_a_report_of_what_was_done() {
    let c = Cluster::main();
    let ns = c.namespace("killed", "student1");
    // Measure how many bytes a 3-host allow reads, then let through a part of that.
    let hosts = ["one.example.com", "two.example.com", "three.example.com"];
    let probe_ns = c.namespace("killed-probe", "student1");
    let counting = Proxy::start(api_server_addr(&c), Fault::None);
    let (_d, path) = kubeconfig_pointing_at(&c, &format!("https://127.0.0.1:{}", counting.port));
    ok(egress_with(
        path,
        &[&["allow", "-n", &probe_ns][..], &hosts[..]].concat(),
    ));
    let total = counting.forwarded();
    drop(counting);
    // Stop somewhere inside the writes (sent concurrently: several may be cut off at once).
    for fraction in [0.7, 0.8, 0.9, 0.95] {
        let ns = c.namespace("killed", "student1");
        let proxy = Proxy::start(
            api_server_addr(&c),
            Fault::StopAfter((total as f64 * fraction) as usize),
        );
        let (_d, path) = kubeconfig_pointing_at(&c, &format!("https://127.0.0.1:{}", proxy.port));
        let run = egress_with(
            path,
            &[
                &["allow", "-n", &ns, "--request-timeout=3s"][..],
                &hosts[..],
            ]
            .concat(),
        );
        let written = service_entry_names(&c, &ns);
        println!(
            "stopped after {fraction} of {total} bytes: exit {}, written {written:?}\n{}{}",
            run.code, run.stdout, run.stderr
        );
        if run.code == 0 {
            continue;
        }
        assert_eq!(run.code, 5, "{}", run.stderr);
        // Each object is said written (stdout), or unknown (its request got no answer), or
        // not written (stderr), in the order of the hosts; the admin's view agrees.
        for name in ["one", "two", "three"] {
            let object = format!("serviceentry.networking.istio.io/{name}");
            let said_written = run.stdout.contains(&format!("{object} created"));
            let said_unknown = run.stderr.contains(&format!("not known: {object}"));
            let said_not = run.stderr.contains(&format!("not written: {object}"));
            assert_eq!(
                [said_written, said_unknown, said_not]
                    .iter()
                    .filter(|s| **s)
                    .count(),
                1,
                "{name}: {}{}",
                run.stdout,
                run.stderr
            );
            let is_written = written.iter().any(|w| w == name);
            assert!(!said_written || is_written, "{name}");
            assert!(!said_not || !is_written, "{name}");
        }
        assert!(run.stderr.lines().last().unwrap().starts_with("error: "));
    }
    let _ = ns;
}

/// Answers as an empty API server would: empty lists, no objects, namespaces exist.
fn empty_api(_: usize, line: &str) -> Answer {
    if line.contains("/api/v1/namespaces/")
        && !line.contains("/services/")
        && !line.contains("/configmaps/")
    {
        Answer::new(
            "200 OK",
            "application/json",
            r#"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x"}}"#,
        )
    } else if line.starts_with("GET /apis/networking.istio.io/v1/") {
        Answer::new(
            "200 OK",
            "application/json",
            r#"{"kind":"List","apiVersion":"networking.istio.io/v1","metadata":{"resourceVersion":"1"},"items":[]}"#,
        )
    } else {
        Answer::new(
            "404 Not Found",
            "application/json",
            r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"not found"}"#,
        )
    }
}

#[test]
fn answers_that_are_not_the_kubernetes_api_are_named() {
    let c = Cluster::main();
    for (label, answer) in [
        (
            "html",
            Answer::new(
                "200 OK",
                "text/html",
                "<html><body>Welcome to nginx!</body></html>",
            ),
        ),
        (
            "broken json",
            Answer::new(
                "200 OK",
                "application/json",
                r#"{"kind":"ServiceEntryList","items":[{"#,
            ),
        ),
        (
            "html error",
            Answer::new("502 Bad Gateway", "text/html", "<html>bad gateway</html>"),
        ),
    ] {
        let server = FakeServer::start(move |_, _| answer.clone());
        let (_d, path) = kubeconfig_pointing_at(&c, &format!("http://127.0.0.1:{}", server.port));
        let run = egress_with(path, &["status", "--request-timeout=5s"]);
        assert_eq!(run.code, 1, "{label}: {}", run.stderr);
        assert!(
            run.stderr
                .starts_with("error: unexpected response from http://127.0.0.1:"),
            "{label}: {}",
            run.stderr
        );
    }
    // http:// to the API server's HTTPS port: a kubeconfig problem, not a rejected object.
    let (_d, path) = kubeconfig_pointing_at(&c, &format!("http://{}", api_server_addr(&c)));
    let run = egress_with(path, &["allow", "httpbin.org"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("use https://"), "{}", run.stderr);
}

#[test]
fn too_many_requests_and_unavailable_are_retried_after_retry_after() {
    let c = Cluster::main();
    for status in ["429 Too Many Requests", "503 Service Unavailable"] {
        // The first request is refused with Retry-After: 1, then the server answers.
        let server = FakeServer::start(move |n, line| {
            if n == 0 {
                Answer::new(status, "application/json", r#"{"kind":"Status","apiVersion":"v1","status":"Failure","code":429,"message":"slow down"}"#)
                    .header("Retry-After", "1")
            } else {
                empty_api(n, line)
            }
        });
        let (_d, path) = kubeconfig_pointing_at(&c, &format!("http://127.0.0.1:{}", server.port));
        let run = egress_with(path.clone(), &["status", "-n", "x", "-o", "json"]);
        assert_eq!(run.code, 0, "{status}: {}", run.stderr);
        // Retry-After beyond --request-timeout: not waited for; said at once.
        let server = FakeServer::start(move |_, _| {
            Answer::new(status, "text/plain", "busy").header("Retry-After", "600")
        });
        let (_d, path) = kubeconfig_pointing_at(&c, &format!("http://127.0.0.1:{}", server.port));
        let run = egress_with(path, &["status", "-n", "x", "--request-timeout=2s"]);
        assert_eq!(run.code, 5, "{status}: {}", run.stderr);
        assert!(
            run.stderr.contains("overloaded"),
            "{status}: {}",
            run.stderr
        );
        assert_eq!(server.requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
