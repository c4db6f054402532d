//! `apply -f` and `cleanup -f` with the exercise's own files.

use crate::support::*;

/// `apply -f` as the exercise's first step: student1, $STUDENT_NS and $TRAINING_NAME.
fn apply_as_student(c: &Cluster, ns: &str, args: &[&str]) -> Run {
    egress_env(
        c.kubeconfig("student1"),
        &[("STUDENT_NS", ns), ("TRAINING_NAME", "egress")],
        args,
    )
}

/// Long on purpose: one session, each step starting from the state the last one left (see
/// tests/README.md).
#[test]
fn apply_f_the_exercise_as_student1_then_cleanup_f_removes_exactly_them() {
    let c = Cluster::main();
    let ns = c.namespace("apply", "student1");
    let student1 = Session::student1(&c, &ns);
    let dir = exercise_dir();

    let mark = c.audit_mark();
    let run = ok(apply_as_student(&c, &ns, &["apply", "-f", &dir]));
    assert_eq!(
        run.stdout,
        "deployment.apps/api-v1 created\nservice/api created\n\
         gateway.networking.istio.io/sentences created\n\
         virtualservice.networking.istio.io/sentences created\n\
         deployment.apps/sentences-v2 created\n"
    );
    // Requests: one discovery per group-version the files use, one list per kind, a server dry
    // run and an apply per object.
    let events = c.audit_since(mark, "student1");
    let discovery: Vec<&str> = events
        .iter()
        .filter(|e| e["objectRef"].is_null())
        .map(|e| e["requestURI"].as_str().unwrap())
        .collect();
    assert_eq!(
        discovery,
        [
            "/apis/apps/v1",
            "/apis/networking.istio.io/v1beta1",
            "/api/v1"
        ]
    );
    let lists = events.iter().filter(|e| e["verb"] == "list").count();
    let patches: Vec<&Value> = events.iter().filter(|e| e["verb"] == "patch").collect();
    assert_eq!(
        (lists, patches.len(), events.len()),
        (4, 10, 17),
        "{events:?}"
    );
    for e in &patches {
        assert_eq!(e["objectRef"]["namespace"], ns.as_str(), "{e}");
    }
    println!("apply -f of the exercise: {} requests", events.len());

    // Checked as admin: in the namespace, labelled, substituted.
    for (kind, name) in [
        ("deployment", "api-v1"),
        ("service", "api"),
        ("deployment", "sentences-v2"),
        ("gateway.networking.istio.io", "sentences"),
        ("virtualservice.networking.istio.io", "sentences"),
    ] {
        let object = c
            .get(kind, &ns, name)
            .unwrap_or_else(|| panic!("{kind}/{name} missing"));
        assert_managed(&object);
    }
    let gateway = c
        .get("gateway.networking.istio.io", &ns, "sentences")
        .unwrap();
    assert_eq!(
        gateway["spec"]["servers"][0]["hosts"][0],
        format!("{ns}.sentences.egress.eficode.academy")
    );
    let vs = c
        .get("virtualservice.networking.istio.io", &ns, "sentences")
        .unwrap();
    assert_eq!(
        vs["spec"]["hosts"][0],
        format!("{ns}.sentences.egress.eficode.academy")
    );
    let api: Value = serde_json::from_str(&c.admin_ok(
        &[
            "get",
            "deployment",
            "api-v1",
            "-n",
            &ns,
            "-o",
            "json",
            "--show-managed-fields",
        ],
        None,
    ))
    .unwrap();
    let fields = &api["metadata"]["managedFields"];
    assert!(
        fields
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["manager"] == "kubectl-egress" && f["operation"] == "Apply"),
        "{fields}"
    );

    // Again: nothing changes.
    let run = ok(apply_as_student(&c, &ns, &["apply", "-f", &dir]));
    assert_eq!(
        run.stdout.matches(" unchanged\n").count(),
        5,
        "{}",
        run.stdout
    );

    // Hand-made objects, and the plugin's own ServiceEntry, are not the files' to delete.
    c.admin_ok(
        &[
            "create",
            "configmap",
            "handmade",
            "-n",
            &ns,
            "--from-literal=a=b",
        ],
        None,
    );
    student1.ok(&["allow", "httpbin.org"]);
    let handmade = tempfile::NamedTempFile::with_suffix(".yaml").unwrap();
    std::fs::write(
        handmade.path(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: handmade}\n",
    )
    .unwrap();
    let handmade_path = handmade.path().display().to_string();

    let run = ok(apply_as_student(
        &c,
        &ns,
        &[
            "cleanup",
            "-f",
            &dir,
            "-f",
            &handmade_path,
            "--dry-run=client",
        ],
    ));
    assert_eq!(run.stdout.matches("deleted (dry run)\n").count(), 5);
    assert!(c.get("deployment", &ns, "api-v1").is_some());

    let mark = c.audit_mark();
    let run = ok(apply_as_student(
        &c,
        &ns,
        &["cleanup", "-f", &dir, "-f", &handmade_path],
    ));
    assert_eq!(
        run.stdout,
        "deployment.apps/sentences-v2 deleted\n\
         virtualservice.networking.istio.io/sentences deleted\n\
         gateway.networking.istio.io/sentences deleted\n\
         service/api deleted\n\
         deployment.apps/api-v1 deleted\n"
    );
    assert!(
        run.stderr.contains("skipped configmap/handmade")
            && run.stderr.contains("not made by kubectl-egress"),
        "{}",
        run.stderr
    );
    // Every delete carried the uid it listed.
    let deletes: Vec<Value> = c
        .audit_since(mark, "student1")
        .into_iter()
        .filter(|e| e["verb"] == "delete")
        .collect();
    assert_eq!(deletes.len(), 5);
    for (kind, name) in [
        ("deployment", "api-v1"),
        ("service", "api"),
        ("deployment", "sentences-v2"),
        ("gateway.networking.istio.io", "sentences"),
        ("virtualservice.networking.istio.io", "sentences"),
    ] {
        assert!(c.get(kind, &ns, name).is_none(), "{kind}/{name} left");
    }
    assert!(c.get("configmap", &ns, "handmade").is_some());
    assert!(c.get("serviceentry", &ns, "httpbin").is_some());

    // Nothing left to delete: said, not an error.
    let run = ok(apply_as_student(&c, &ns, &["cleanup", "-f", &dir]));
    assert!(run.stdout.is_empty());
    assert_eq!(run.stderr.matches("not found in namespace").count(), 5);
}

#[test]
fn apply_f_refusals_send_nothing_or_write_nothing() {
    let c = Cluster::main();
    let ns = c.namespace("apply-refused", "student1");
    let write = |text: &str| {
        let file = tempfile::NamedTempFile::with_suffix(".yaml").unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    };

    // Another namespace: refused before any request.
    let foreign = write(
        "apiVersion: v1\nkind: Service\nmetadata: {name: x, namespace: student2}\nspec: {ports: [{port: 80}]}\n",
    );
    let mark = c.audit_mark();
    let run = apply_as_student(&c, &ns, &["apply", "-f", foreign.path().to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("names namespace \"student2\""),
        "{}",
        run.stderr
    );
    assert!(c.audit_since(mark, "student1").is_empty());

    // A cluster-scoped kind only discovery knows: refused after discovery, nothing written.
    let csr = write(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {name: x}\n",
    );
    let mark = c.audit_mark();
    let run = apply_as_student(&c, &ns, &["apply", "-f", csr.path().to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("CertificateSigningRequest/x is cluster-scoped"),
        "{}",
        run.stderr
    );
    let events = c.audit_since(mark, "student1");
    assert_eq!(events.len(), 1, "{events:?}");

    // An unknown kind: exit 6, naming it, nothing written.
    let unknown = write(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
    );
    let mark = c.audit_mark();
    let run = apply_as_student(&c, &ns, &["apply", "-f", unknown.path().to_str().unwrap()]);
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr.contains("Widget/w")
            && run.stderr.contains("example.com/v1")
            && run.stderr.contains("CRD is not installed"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1);
    assert!(
        c.audit_since(mark, "student1")
            .iter()
            .all(|e| e["verb"] == "get"),
        "only discovery"
    );

    // A server-side rejection of the last object: the first is not written either.
    let rejected = write(
        "apiVersion: v1\nkind: Service\nmetadata: {name: first}\nspec: {ports: [{port: 80}]}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: b}}\n    spec: {containers: [{name: c, image: i}]}\n",
    );
    let run = apply_as_student(&c, &ns, &["apply", "-f", rejected.path().to_str().unwrap()]);
    assert_eq!(run.code, 9, "{}", run.stderr);
    assert!(run.stderr.contains("deployment.apps/bad"), "{}", run.stderr);
    assert!(c.get("service", &ns, "first").is_none(), "half done");
}

#[test]
fn apply_f_without_istio_names_the_kind() {
    let c = Cluster::from_env("EGRESS_E2E_NOCRDS");
    let run = egress_env(
        c.kubeconfig("admin"),
        &[("STUDENT_NS", "student1"), ("TRAINING_NAME", "egress")],
        &["apply", "-f", &exercise_dir(), "--dry-run=server"],
    );
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr.contains("Gateway/sentences")
            && run.stderr.contains("networking.istio.io/v1beta1"),
        "{}",
        run.stderr
    );
}
