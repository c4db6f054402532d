//! HTTPS (issue 11) on both sides: TLS, origination, wildcards through the gateway.

use crate::support::*;

/// `status -o json`'s traffic entry for `port` of `host` in `ns`, as `user`.
fn traffic_of(c: &Cluster, user: &str, ns: &str, host: &str, port: u64) -> Value {
    let run = ok(egress(c, user, &["status", host, "-n", ns, "-o", "json"]));
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    report["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == host)
        .and_then(|h| {
            h["traffic"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["port"] == port)
                .cloned()
        })
        .unwrap_or_else(|| panic!("no traffic for {host}:{port}: {}", run.stdout))
}

/// HTTPS (issue 11), both sides on the local control plane: the admin's `gateway --tls` and
/// `--tls-origination`, the student's `via-gateway --tls` and `--tls-origination`, composed with
/// timeout and retries, each part undone by its `--off` or by a run without the flag, then
/// cleanup. What status says of each state is checked against Istio by the oracle test.
/// Long on purpose: one session, each step starting from the state the last one left (see
/// tests/README.md).
#[test]
fn https_modes_work_end_to_end_on_both_sides() {
    let c = Cluster::main();
    let ns = c.namespace("https", "student1");
    let student1 = Session::student1(&c, &ns);
    let host = format!("secure{}.example.org", std::process::id());
    let base = host.split('.').next().unwrap().to_string();
    let gateway_vs = format!("{base}-egressgateway");
    let origination_rule = format!("originate-tls-for-{base}");
    student1.ok(&["allow", &host]);
    ok(egress(&c, "admin", &["gateway", &host, "--tls"]));
    let gateway = c.get("gateway", "istio-system", &gateway_vs).unwrap();
    assert_eq!(gateway["spec"]["servers"][1]["tls"]["mode"], "PASSTHROUGH");
    assert_eq!(gateway["spec"]["servers"][1]["port"]["number"], 443);

    // The admins' gateway passes TLS through and does not originate: --tls-origination is
    // refused (exit 3) and nothing is written.
    let run = student1.run(&["via-gateway", &host, "--tls-origination"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("does not originate TLS")
            && run
                .stderr
                .contains(&format!("gateway {host} --tls-origination")),
        "{}",
        run.stderr
    );
    assert!(c.get("virtualservice", &ns, &base).is_none());

    // Passthrough, composed with a timeout and retries on the same VirtualService.
    student1.ok(&["via-gateway", &host, "--tls"]);
    student1.ok(&["timeout", &host, "2s"]);
    student1.ok(&["retries", &host, "--attempts", "3"]);
    let vs = c.get("virtualservice", &ns, &base).unwrap();
    assert_eq!(
        vs["spec"]["tls"][0]["match"][0]["sniHosts"][0],
        host.as_str()
    );
    assert_eq!(
        vs["spec"]["tls"][0]["route"][0]["destination"]["port"]["number"],
        443
    );
    assert_eq!(vs["spec"]["http"][0]["timeout"], "2s");
    assert_eq!(vs["spec"]["http"][0]["retries"]["attempts"], 3);
    let tls = traffic_of(&c, "student1", &ns, &host, 443);
    assert_eq!(
        (tls["via"].as_str(), tls["outcome"].as_str()),
        (Some("gateway"), Some("egress")),
        "{tls}"
    );
    assert!(
        tls["timeout"].is_null(),
        "no timeout applies to passed-through TLS: {tls}"
    );
    assert!(tls["upstreamTls"].is_null(), "{tls}");

    // The admin switches the host to origination at the gateway: the TLS server and route go,
    // the origination rule comes, the second hop goes to 443.
    ok(egress(
        &c,
        "admin",
        &["gateway", &host, "--tls-origination"],
    ));
    let gateway = c.get("gateway", "istio-system", &gateway_vs).unwrap();
    assert_eq!(gateway["spec"]["servers"].as_array().unwrap().len(), 1);
    let rule = c
        .get("destinationrule", "istio-system", &origination_rule)
        .unwrap();
    assert_managed(&rule);
    assert_eq!(rule["spec"]["exportTo"], serde_json::json!(["."]));
    assert_eq!(
        rule["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"],
        serde_json::json!({"mode": "SIMPLE", "sni": host})
    );
    let second_hop = c
        .get("virtualservice", "istio-system", &gateway_vs)
        .unwrap();
    assert!(second_hop["spec"]["tls"].is_null(), "{second_hop}");
    assert_eq!(
        second_hop["spec"]["http"][0]["route"][0]["destination"]["port"]["number"],
        443
    );
    // The student's passthrough route now meets no TLS server: status says so.
    let tls = traffic_of(&c, "student1", &ns, &host, 443);
    assert_ne!(tls["outcome"], "egress", "{tls}");
    // The student follows: the same HTTP route, now accepted; the TLS route goes, the timeout
    // and retries stay, and apply to what leaves the gateway as HTTPS.
    student1.ok(&["via-gateway", &host, "--tls-origination"]);
    let vs = c.get("virtualservice", &ns, &base).unwrap();
    assert!(vs["spec"]["tls"].is_null(), "{vs}");
    assert_eq!(vs["spec"]["http"][0]["timeout"], "2s");
    assert_eq!(vs["spec"]["http"][0]["retries"]["attempts"], 3);
    let http = traffic_of(&c, "student1", &ns, &host, 80);
    assert_eq!(http["via"], "gateway", "{http}");
    assert_eq!(http["outcome"], "egress", "{http}");
    assert_eq!(http["timeout"], "2s", "{http}");
    assert_eq!(http["upstreamTls"], "SIMPLE", "{http}");
    assert_eq!(http["upstreamSni"], host.as_str(), "{http}");
    assert_eq!(http["upstreamPort"], 443, "{http}");

    // Back to plain HTTP at the gateway: the origination rule is deleted, nothing else.
    let run = ok(egress(&c, "admin", &["gateway", &host]));
    assert!(
        run.stdout.contains(&format!(
            "destinationrule.networking.istio.io/{origination_rule} deleted"
        )),
        "{}",
        run.stdout
    );
    assert!(
        c.get("destinationrule", "istio-system", &origination_rule)
            .is_none()
    );
    let http = traffic_of(&c, "student1", &ns, &host, 80);
    assert!(http["upstreamTls"].is_null(), "{http}");

    // --off on each side undoes it; cleanup leaves nothing of the plugin's.
    student1.ok(&["via-gateway", &host, "--off"]);
    let vs = c.get("virtualservice", &ns, &base).unwrap();
    assert!(
        vs["spec"]["gateways"].is_null() && vs["spec"]["tls"].is_null(),
        "{vs}"
    );
    ok(egress(
        &c,
        "admin",
        &["gateway", &host, "--tls-origination"],
    ));
    ok(egress(&c, "admin", &["gateway", &host, "--off"]));
    for (kind, name) in [
        ("gateway", gateway_vs.as_str()),
        ("virtualservice", gateway_vs.as_str()),
        ("destinationrule", origination_rule.as_str()),
        ("serviceentry", base.as_str()),
    ] {
        assert!(c.get(kind, "istio-system", name).is_none(), "{kind}/{name}");
    }
    student1.ok(&["cleanup"]);
    assert!(admin_list(&c, "virtualservices", &ns).is_empty());
    assert!(admin_list(&c, "serviceentries", &ns).is_empty());
}

/// A wildcard through the gateway (issue 11): the admin names one upstream, only TLS passes.
#[test]
fn a_wildcard_passes_through_the_gateway_to_one_upstream() {
    let c = Cluster::main();
    let ns = c.namespace("wildcard", "student1");
    let student1 = Session::student1(&c, &ns);
    let wildcard = format!("*.wiki{}.example.org", std::process::id());
    let upstream = format!("www.wiki{}.example.org", std::process::id());
    // Without --upstream or --tls the admin is told why, and nothing is sent.
    for args in [
        vec!["gateway", wildcard.as_str(), "--tls"],
        vec![
            "gateway",
            wildcard.as_str(),
            "--upstream",
            upstream.as_str(),
        ],
    ] {
        let mark = c.audit_mark();
        let run = egress(&c, "admin", &args);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(c.audit_since(mark, "admin").is_empty());
    }
    student1.ok(&["allow", &wildcard]);
    // The student's TLS route is refused until the admins' passthrough exists.
    let run = student1.run(&["via-gateway", &wildcard, "--tls"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let run = ok(egress(
        &c,
        "admin",
        &["gateway", &wildcard, "--tls", "--upstream", &upstream],
    ));
    let base = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("serviceentry.networking.istio.io/"))
        .and_then(|l| l.strip_suffix(" created"))
        .unwrap()
        .to_string();
    let se = c.get("serviceentry", "istio-system", &base).unwrap();
    assert_eq!(se["spec"]["hosts"], serde_json::json!([upstream]));
    student1.ok(&["via-gateway", &wildcard, "--tls"]);
    let vs = admin_list(&c, "virtualservices", &ns);
    assert_eq!(vs.len(), 1);
    assert!(
        vs[0]["spec"]["http"].is_null(),
        "only TLS goes through: {}",
        vs[0]
    );
    let tls = traffic_of(&c, "student1", &ns, &wildcard, 443);
    assert_eq!(
        (tls["via"].as_str(), tls["outcome"].as_str()),
        (Some("gateway"), Some("egress")),
        "{tls}"
    );
    assert!(
        tls["hops"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == format!("{upstream}:443").as_str()),
        "{tls}"
    );
    ok(egress(&c, "admin", &["gateway", &wildcard, "--off"]));
    assert!(c.get("serviceentry", "istio-system", &base).is_none());
    student1.ok(&["cleanup"]);
}

/// `allow HOST` after `allow HOST --tls-origination` takes the origination back whole: the
/// ServiceEntry's port 80 stops going to 443 and the plugin's DestinationRule goes (else the
/// sidecar would open TLS to port 80); a hand-made rule is never deleted.
#[test]
fn allow_without_tls_origination_undoes_it() {
    let c = Cluster::main();
    let ns = c.namespace("unorigin", "student1");
    let student1 = Session::student1(&c, &ns);
    student1.ok(&["allow", "httpbin.org", "--tls-origination"]);
    let run = student1.ok(&["allow", "httpbin.org"]);
    assert!(
        run.stdout
            .contains("destinationrule.networking.istio.io/httpbin deleted"),
        "{}",
        run.stdout
    );
    assert!(c.get("destinationrule", &ns, "httpbin").is_none());
    let t = traffic_of(&c, "student1", &ns, "httpbin.org", 80);
    assert!(
        t["upstreamTls"].is_null() && t["upstreamPort"].is_null(),
        "{t}"
    );
    // Once undone, allow costs its 4 requests again (list, apply, the two lists of Sidecars).
    let mark = c.audit_mark();
    student1.ok(&["allow", "httpbin.org"]);
    assert_eq!(c.audit_since(mark, "student1").len(), 4);
    // A hand-made rule under the name stays.
    student1.ok(&["allow", "httpbin.org", "--tls-origination"]);
    c.admin_ok(
        &[
            "label",
            "destinationrule",
            "httpbin",
            "-n",
            &ns,
            "app.kubernetes.io/managed-by-",
        ],
        None,
    );
    student1.ok(&["allow", "httpbin.org"]);
    assert!(c.get("destinationrule", &ns, "httpbin").is_some());
}
