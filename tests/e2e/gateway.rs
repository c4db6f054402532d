//! The admin's side: `gateway` writes the course environment and lets hosts out through the
//! egress gateway; students may not run it.

use crate::support::*;

/// The admins' hand-written objects for httpbin.org (hack/cluster/egress-httpbin.yaml).
fn admins_reference() -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hack/cluster/egress-httpbin.yaml");
    std::fs::read_to_string(path)
        .unwrap()
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str(doc).unwrap())
        .collect()
}

const GATEWAY_KINDS: &str = "serviceentries,destinationrules,gateways,virtualservices";

/// What istio-system holds of `gateway`'s four kinds, by `kind/name`.
fn istio_system_objects(c: &Cluster) -> Vec<String> {
    let json: Value = serde_json::from_str(&c.admin_ok(
        &["get", GATEWAY_KINDS, "-n", "istio-system", "-o", "json"],
        None,
    ))
    .unwrap();
    json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_course_environment_is_written_by_gateway_and_equals_the_reference() {
    for c in [Cluster::main(), Cluster::from_env("EGRESS_E2E_V1BETA1")] {
        for reference in admins_reference() {
            let kind = reference["kind"].as_str().unwrap().to_ascii_lowercase();
            let name = reference["metadata"]["name"].as_str().unwrap();
            let object = c
                .get(&kind, "istio-system", name)
                .unwrap_or_else(|| panic!("{kind}/{name} missing from istio-system"));
            // scripts/test builds the plugin first, so scripts/cluster wrote them with it.
            assert_managed(&object);
            assert_eq!(
                object["metadata"]["labels"]["app.kubernetes.io/component"],
                "egress-gateway"
            );
            assert_eq!(object["spec"], reference["spec"], "{kind}/{name}");
        }
    }
}

/// Long on purpose: one session, each step starting from the state the last one left (see
/// tests/README.md).
#[test]
fn gateway_lets_a_host_out_through_the_egress_gateway_and_students_may_not_run_it() {
    let c = Cluster::main();
    let ns = c.namespace("gateway", "student1");
    let student1 = Session::student1(&c, &ns);
    let host = format!("gw{}.example.org", std::process::id());
    let base = host.split('.').next().unwrap().to_string();
    let before = istio_system_objects(&c);
    student1.ok(&["allow", &host]);
    // No exit point for the host yet: via-gateway refuses (404 at the gateway), writes nothing.
    let run = student1.run(&["via-gateway", &host]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(c.get("virtualservice", &ns, &base).is_none());

    // A student may not write the admins' objects: forbidden, exit 7, and nothing written.
    for user in ["student1", "student2"] {
        let mark = c.audit_mark();
        let run = egress(&c, user, &["gateway", &host]);
        assert_eq!(run.code, 7, "{user}: {}", run.stderr);
        assert!(run.stderr.starts_with("error: forbidden"), "{}", run.stderr);
        assert!(run.stderr.contains("via-gateway"), "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1);
        let events = c.audit_since(mark, user);
        assert!(!events.is_empty());
        for e in events
            .iter()
            .filter(|e| WRITE_VERBS.contains(&e["verb"].as_str().unwrap()))
        {
            assert_eq!(e["objectRef"]["namespace"], "istio-system", "{e}");
            assert_eq!(e["responseStatus"]["code"], 403, "{e}");
        }
        assert_eq!(istio_system_objects(&c), before, "{user} wrote nothing");
    }

    // The admin: four objects, each checked by the server before any is written.
    let mark = c.audit_mark();
    let run = ok(egress(&c, "admin", &["gateway", &host]));
    assert_eq!(
        run.stdout,
        format!(
            "serviceentry.networking.istio.io/{base} created\n\
             destinationrule.networking.istio.io/egressgateway-for-{base} created\n\
             gateway.networking.istio.io/{base}-egressgateway created\n\
             virtualservice.networking.istio.io/{base}-egressgateway created\n"
        )
    );
    let events = c.audit_since(mark, "admin");
    let verbs: Vec<String> = events
        .iter()
        .map(|e| {
            let dry = e["requestURI"].as_str().unwrap().contains("dryRun");
            format!(
                "{}{}",
                e["verb"].as_str().unwrap(),
                if dry { " dry" } else { "" }
            )
        })
        .collect();
    assert_eq!(
        verbs,
        [vec!["list"; 4], vec!["patch dry"; 4], vec!["patch"; 4]].concat(),
        "requests of gateway for one host"
    );
    for o in [
        "serviceentry",
        "destinationrule",
        "gateway",
        "virtualservice",
    ] {
        let name = match o {
            "serviceentry" => base.clone(),
            "destinationrule" => format!("egressgateway-for-{base}"),
            _ => format!("{base}-egressgateway"),
        };
        assert_managed(&c.get(o, "istio-system", &name).unwrap());
    }
    let run = ok(egress(&c, "admin", &["gateway", &host]));
    assert_eq!(
        run.stdout.matches(" unchanged\n").count(),
        4,
        "{}",
        run.stdout
    );

    // Now the student's route is one Istio honours: accepted without --force, and status agrees.
    student1.ok(&["via-gateway", &host]);
    ok(egress(
        &c,
        "student1",
        &["via-gateway", &host, "-n", &ns, "--subset", &base],
    ));
    let report: Value = serde_json::from_str(
        &ok(egress(&c, "student1", &["status", "-n", &ns, "-o", "json"])).stdout,
    )
    .unwrap();
    let row = &report["hosts"][0];
    assert_eq!(row["host"], host.as_str());
    let port80 = row["traffic"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["port"] == 80)
        .unwrap();
    assert_eq!(port80["via"], "gateway", "{row}");
    assert_eq!(port80["outcome"], "egress", "{row}");
    for f in row["findings"].as_array().unwrap() {
        assert!(
            !["EGR005", "EGR010", "EGR012"].contains(&f["code"].as_str().unwrap()),
            "{f}"
        );
    }

    // A hand-made Gateway under the plugin's name is refused, and never deleted.
    ok(egress(&c, "admin", &["gateway", &host, "--off"]));
    assert_eq!(istio_system_objects(&c), before);
    let hand_made = format!(
        "apiVersion: networking.istio.io/v1beta1\nkind: Gateway\nmetadata:\n  name: {base}-egressgateway\n  namespace: istio-system\nspec:\n  selector:\n    istio: egressgateway\n  servers:\n  - port: {{number: 80, name: http, protocol: HTTP}}\n    hosts: [{host}]\n"
    );
    c.admin_ok(&["apply", "-f", "-"], Some(&hand_made));
    let run = egress(&c, "admin", &["gateway", &host]);
    assert_eq!(run.code, 8, "{}", run.stderr);
    assert!(run.stderr.contains("--adopt"), "{}", run.stderr);
    assert!(
        c.get("serviceentry", "istio-system", &base).is_none(),
        "all or nothing"
    );
    ok(egress(&c, "admin", &["gateway", &host, "--adopt"]));
    // Adopted, it is the plugin's: cleanup of the host in istio-system removes all four.
    let run = ok(egress(
        &c,
        "admin",
        &["cleanup", &host, "-n", "istio-system"],
    ));
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    c.admin_ok(&["apply", "-f", "-"], Some(&hand_made));
    let run = ok(egress(&c, "admin", &["gateway", &host, "--off"]));
    assert!(run.stderr.contains("nothing to remove"), "{}", run.stderr);
    let run = ok(egress(
        &c,
        "admin",
        &["cleanup", &host, "-n", "istio-system"],
    ));
    assert_eq!(run.stdout, "");
    assert!(
        c.get("gateway", "istio-system", &format!("{base}-egressgateway"))
            .is_some()
    );
    c.admin_ok(
        &[
            "delete",
            "gateway",
            &format!("{base}-egressgateway"),
            "-n",
            "istio-system",
        ],
        None,
    );
    assert_eq!(istio_system_objects(&c), before);
    // A student's cleanup looks for no Gateway: one delete-collection each for VirtualServices,
    // ServiceEntries and DestinationRules (TLS origination).
    let mark = c.audit_mark();
    student1.ok(&["cleanup"]);
    assert_eq!(c.audit_since(mark, "student1").len(), 3);
}
