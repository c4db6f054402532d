//! Concurrent writers and the preconditions of server-side apply.

use crate::support::*;

/// Two runs of the plugin started together, as two people (or two CI jobs) would.
fn race(c: &Cluster, first: &[&str], second: &[&str]) -> (Run, Run) {
    let start = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            start.wait();
            egress(c, "student1", first)
        });
        let b = s.spawn(|| {
            start.wait();
            egress(c, "student1", second)
        });
        (a.join().unwrap(), b.join().unwrap())
    })
}

#[test]
fn concurrent_writers_lose_no_update() {
    const ROUNDS: usize = 50;
    let c = Cluster::main();
    let ns = c.namespace("race", "student1");
    let mark = c.audit_mark();
    let host = |i: usize| format!("t{i}.example.com");

    // Both settings at once on a host with no VirtualService yet (both race to create it).
    for i in 0..ROUNDS {
        let h = host(i);
        let (a, b) = race(
            &c,
            // Concurrency, not Istio's verdict, is under test: no ServiceEntry, so --force.
            &["timeout", &h, "2s", "-n", &ns, "--force"],
            &["via-gateway", &h, "-n", &ns, "--force"],
        );
        ok(a);
        ok(b);
    }
    let vs = admin_list(&c, "virtualservices", &ns);
    let mut lost: Vec<String> = vs
        .iter()
        .filter(|v| {
            let route = &v["spec"]["http"][0];
            route["timeout"] != "2s" || v["spec"]["gateways"] != serde_json::json!(["mesh"])
        })
        .map(|v| format!("{}: {}", v["metadata"]["name"], v["spec"]))
        .collect();
    assert_eq!(vs.len(), ROUNDS, "one VirtualService per host");

    // Both settings undone at once: the last one to write finds nothing left and deletes.
    for i in 0..ROUNDS {
        let h = host(i);
        let (a, b) = race(
            &c,
            &["timeout", &h, "--clear", "-n", &ns],
            &["via-gateway", &h, "--off", "-n", &ns],
        );
        ok(a);
        ok(b);
    }
    lost.extend(
        admin_list(&c, "virtualservices", &ns)
            .iter()
            .map(|v| format!("{} left: {}", v["metadata"]["name"], v["spec"])),
    );

    // Two hosts that want the same name, allowed at once.
    let wanted = |i: usize| [format!("r{i}.a.example.com"), format!("r{i}.b.example.com")];
    for i in 0..ROUNDS {
        let [x, y] = wanted(i);
        let (a, b) = race(&c, &["allow", &x, "-n", &ns], &["allow", &y, "-n", &ns]);
        ok(a);
        ok(b);
    }
    let allowed: Vec<String> = admin_list(&c, "serviceentries", &ns)
        .iter()
        .flat_map(|se| se["spec"]["hosts"].as_array().unwrap().clone())
        .map(|h| h.as_str().unwrap().to_string())
        .collect();
    lost.extend(
        (0..ROUNDS)
            .flat_map(wanted)
            .filter(|h| !allowed.contains(h))
            .map(|h| format!("{h} not allowed")),
    );

    let retried = c
        .audit_since(mark, "student1")
        .iter()
        .filter(|e| e["responseStatus"]["code"] == 409)
        .count();
    assert!(lost.is_empty(), "lost updates: {lost:#?}");
    println!(
        "concurrency: {} rounds, {} lost updates ({retried} writes refused with 409 Conflict and retried)",
        3 * ROUNDS,
        lost.len()
    );
}

/// The preconditions the plugin relies on (cluster/api, Precondition), as this API server
/// implements them: a change here would silently bring lost updates back.
#[test]
fn server_side_apply_honours_the_preconditions_the_plugin_sends() {
    let c = Cluster::main();
    let ns = c.namespace("precondition", "student1");
    let apply = |name: &str, metadata: &str| {
        c.admin(
            &["apply", "--server-side", "--field-manager=probe", "-f", "-"],
            Some(&format!(
                "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: {name}, namespace: {ns}{metadata}}}\nspec: {{hosts: [{name}.example.com], resolution: DNS, ports: [{{number: 80, name: http, protocol: HTTP}}]}}\n"
            )),
        )
    };
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).to_string();
    // No object yet: a resourceVersion is ignored and the object is created...
    let out = apply("a", ", resourceVersion: \"1\"");
    assert!(out.status.success(), "{}", stderr(&out));
    // ...and once it exists, one that is not its own is refused.
    let out = apply("a", ", resourceVersion: \"1\"");
    assert!(
        stderr(&out).contains("the object has been modified"),
        "{}",
        stderr(&out)
    );
    // A uid with no object there is refused: nothing is re-created from a stale read.
    let out = apply("b", ", uid: 6b1c3f6e-0000-4000-8000-000000000000");
    assert!(stderr(&out).contains("uid mismatch"), "{}", stderr(&out));
    assert!(c.get("serviceentry", &ns, "b").is_none());
}
