//! The engine's phases against an in-memory API server that keeps objects, checks the
//! preconditions as kube-apiserver does (measured end to end in tests/e2e), answers the refusals a
//! test asks for and logs every request. What the real server does is proven in tests/e2e.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::*;
use crate::cluster::api::{DeleteRequest, WriteOptions};
use crate::core::objects::istio::Kind;
use crate::core::plans::change::{Change, Precondition, Resource};
use crate::error::{Error, Reason, exit};

#[derive(Default)]
struct Memory {
    objects: RefCell<BTreeMap<String, Value>>,
    version: Cell<u64>,
    /// Names whose apply the server refuses (dry run or not), and how.
    refuse: BTreeMap<String, Reason>,
    /// Names whose apply the server refuses only when not a dry run.
    refuse_writes: BTreeSet<String>,
    /// Names whose delete fails.
    refuse_delete: BTreeSet<String>,
    requests: RefCell<Vec<String>>,
}

impl Memory {
    fn refusing(name: &str, reason: Reason) -> Memory {
        Memory {
            refuse: [(name.to_string(), reason)].into(),
            ..Memory::default()
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.borrow().clone()
    }

    fn names(&self) -> Vec<String> {
        self.objects.borrow().keys().cloned().collect()
    }

    /// Stores `object` as the server would have it (uid, resourceVersion).
    fn store(&self, object: &Value) -> Value {
        self.version.set(self.version.get() + 1);
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let mut stored = object.clone();
        stored["metadata"]["uid"] = json!(format!("uid-{name}"));
        stored["metadata"]["resourceVersion"] = json!(self.version.get().to_string());
        self.objects.borrow_mut().insert(name, stored.clone());
        stored
    }
}

impl Server for Memory {
    async fn write(
        &self,
        _kind: &Resource,
        _namespace: &str,
        object: &Value,
        _before: Option<&Value>,
        precondition: &Precondition,
        options: &WriteOptions<'_>,
    ) -> Result<Value> {
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let verb = if options.dry_run { "check" } else { "apply" };
        self.requests.borrow_mut().push(format!("{verb} {name}"));
        if let Some(reason) = self.refuse.get(&name) {
            return Err(Error::failed(*reason, format!("{name} refused")));
        }
        // Another request may go meanwhile, as over HTTP/2.
        tokio::task::yield_now().await;
        if !options.dry_run && self.refuse_writes.contains(&name) {
            return Err(Error::failed(Reason::Rejected, format!("{name} refused")));
        }
        let current = self.objects.borrow().get(&name).cloned();
        let version = |v: &Value| v["metadata"]["resourceVersion"].as_str().map(String::from);
        let holds = match (precondition, &current) {
            (
                Precondition::Unchanged {
                    resource_version, ..
                },
                Some(current),
            ) => version(current).as_ref() == Some(resource_version),
            (Precondition::Unchanged { .. }, None) => false,
            (Precondition::Absent { .. }, current) => current.is_none(),
            (Precondition::None, _) => true,
        };
        if !holds {
            return Err(Error::failed(Reason::Modified, format!("{name} changed")));
        }
        if options.dry_run {
            return Ok(object.clone());
        }
        Ok(self.store(object))
    }

    async fn delete(&self, d: DeleteRequest<'_>) -> Result<()> {
        self.requests
            .borrow_mut()
            .push(format!("delete {}", d.name));
        tokio::task::yield_now().await;
        let current = self.objects.borrow().get(d.name).cloned();
        let uid = current
            .as_ref()
            .map(|c| c["metadata"]["uid"].as_str().unwrap().to_string());
        if self.refuse_delete.contains(d.name) || d.preconditions.uid != uid {
            return Err(Error::failed(
                Reason::Rejected,
                format!("{} not deleted", d.name),
            ));
        }
        if !d.dry_run {
            self.objects.borrow_mut().remove(d.name);
        }
        Ok(())
    }
}

fn service_entry(name: &str, port: u32) -> Value {
    json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "kubectl-egress"}},
        "spec": {"hosts": [format!("{name}.org")], "ports": [{"number": port}]},
    })
}

fn create(name: &str) -> Change {
    Change::Apply {
        kind: Kind::ServiceEntry.into(),
        namespace: "student1".into(),
        object: service_entry(name, 80),
        before: None,
        precondition: Precondition::Absent {
            list_resource_version: "1".into(),
        },
    }
}

/// An update of `before` (as stored) to the object on `port`.
fn update(before: &Value, port: u32) -> Change {
    let name = before["metadata"]["name"].as_str().unwrap();
    Change::Apply {
        kind: Kind::ServiceEntry.into(),
        namespace: "student1".into(),
        object: service_entry(name, port),
        before: Some(before.clone()),
        precondition: Precondition::Unchanged {
            uid: format!("uid-{name}"),
            resource_version: before["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .into(),
        },
    }
}

fn options(dry_run: DryRun) -> Options<'static> {
    Options {
        field_manager: "kubectl-egress",
        force_conflicts: false,
        dry_run,
        format: None,
        hold: false,
    }
}

fn run<S: Server>(
    server: Option<&S>,
    plan: Plan,
    options: &Options,
    written: &Written,
) -> Conclusion {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(execute(server, plan, options, written))
}

fn exit_code(conclusion: &Conclusion) -> u8 {
    match &conclusion.result {
        Ok(code) => *code,
        Err(e) => e.exit_code(),
    }
}

const SE: &str = "serviceentry.networking.istio.io";

#[test]
fn creates_are_written_in_one_request_each_and_reported_as_kubectl_does() {
    let server = Memory::default();
    let plan = Plan::independent(vec![vec![create("a")], vec![create("b")]]);
    let done = run(
        Some(&server),
        plan,
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(exit_code(&done), exit::OK);
    assert_eq!(done.stdout, format!("{SE}/a created\n{SE}/b created\n"));
    assert!(done.stderr.is_empty());
    // No dry run first: a create can be taken back.
    assert_eq!(server.requests(), ["apply a", "apply b"]);
    assert_eq!(server.names(), ["a", "b"]);
}

#[test]
fn a_refused_create_takes_back_the_others_created() {
    let server = Memory::refusing("b", Reason::Rejected);
    let plan = Plan::independent(vec![
        vec![create("a")],
        vec![create("b")],
        vec![create("c")],
    ]);
    let done = run(
        Some(&server),
        plan,
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(exit_code(&done), exit::REJECTED);
    assert!(
        server.names().is_empty(),
        "left behind: {:?}",
        server.names()
    );
    assert_eq!(server.requests(), ["apply a", "apply b", "delete a"]);
    assert_eq!(done.stdout, "");
    assert_eq!(
        done.stderr,
        [
            format!("not written: {SE}/a (created, then deleted again)"),
            format!("not written: {SE}/b"),
            // Refused before c's chain had sent anything: c was never sent.
            format!("not written: {SE}/c"),
        ]
    );
}

#[test]
fn a_failure_stops_the_other_chains_before_their_next_request() {
    let server = Memory::refusing("a", Reason::Rejected);
    // b1 is in flight when a is refused: b2 is never sent, b1 is taken back.
    let plan = Plan::independent(vec![vec![create("b1"), create("b2")], vec![create("a")]]);
    let done = run(
        Some(&server),
        plan,
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(exit_code(&done), exit::REJECTED);
    assert!(
        !server.requests().contains(&"apply b2".to_string()),
        "{:?}",
        server.requests()
    );
    assert!(server.names().is_empty());
}

#[test]
fn updates_are_checked_by_a_dry_run_so_a_refusal_writes_nothing() {
    let server = Memory::refusing("b", Reason::Rejected);
    let a = server.store(&service_entry("a", 80));
    let plan = Plan::in_order(vec![update(&a, 8080), create("b")]);
    let done = run(
        Some(&server),
        plan,
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(exit_code(&done), exit::REJECTED);
    assert_eq!(server.requests(), ["check a", "check b"]);
    assert_eq!(server.objects.borrow()["a"], a, "a was changed");
    assert_eq!((done.stdout.as_str(), done.stderr.len()), ("", 0));
}

#[test]
fn a_refusal_after_the_checks_says_what_was_done_and_what_was_not() {
    // The dry runs pass; the write of b is then refused (say, admission changed meanwhile).
    let mut server = Memory::default();
    let a = server.store(&service_entry("a", 80));
    server.refuse_writes.insert("b".into());
    let plan = Plan::in_order(vec![update(&a, 8080), create("b"), create("c")]);
    let done = run(
        Some(&server),
        plan,
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(exit_code(&done), exit::REJECTED);
    assert_eq!(
        server.requests(),
        ["check a", "check b", "check c", "apply a", "apply b"]
    );
    assert_eq!(done.stdout, format!("{SE}/a configured\n"));
    assert_eq!(
        done.stderr,
        [
            format!("not written: {SE}/b"),
            format!("not written: {SE}/c")
        ]
    );
}

#[test]
fn a_change_made_meanwhile_prints_nothing_so_the_attempt_is_made_again() {
    let server = Memory::default();
    let a = server.store(&service_entry("a", 80));
    let stale = update(&a, 8080);
    server.store(&service_entry("a", 9090));
    let done = run(
        Some(&server),
        Plan::in_order(vec![stale]),
        &options(DryRun::None),
        &Written::default(),
    );
    assert!(matches!(&done.result, Err(e) if e.is_modified()));
    assert_eq!((done.stdout.as_str(), done.stderr.len()), ("", 0));
}

#[test]
fn a_retry_reports_what_an_earlier_attempt_created_not_unchanged() {
    let server = Memory::default();
    let written = Written::default();
    let first = run(
        Some(&server),
        Plan::independent(vec![vec![create("a")]]),
        &options(DryRun::None),
        &written,
    );
    assert_eq!(first.stdout, format!("{SE}/a created\n"));
    // The next attempt finds the object it wrote, exactly as it would write it.
    let a = server.objects.borrow()["a"].clone();
    let again = run(
        Some(&server),
        Plan::independent(vec![vec![update(&a, 80)]]),
        &options(DryRun::None),
        &written,
    );
    assert_eq!(again.stdout, format!("{SE}/a created\n"));
    // A command that did not write it says unchanged.
    let a = server.objects.borrow()["a"].clone();
    let fresh = run(
        Some(&server),
        Plan::independent(vec![vec![update(&a, 80)]]),
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(fresh.stdout, format!("{SE}/a unchanged\n"));
}

#[test]
fn client_dry_run_and_no_cluster_send_nothing() {
    let server = Memory::default();
    let plan = || Plan::independent(vec![vec![create("a")], vec![create("b")]]);
    let done = run(
        Some(&server),
        plan(),
        &options(DryRun::Client),
        &Written::default(),
    );
    assert_eq!(
        done.stdout,
        format!("{SE}/a created (dry run)\n{SE}/b created (dry run)\n")
    );
    assert!(server.requests().is_empty());
    let offline = run::<Memory>(None, plan(), &options(DryRun::Client), &Written::default());
    assert_eq!(offline.stdout, done.stdout);
}

#[test]
fn server_dry_run_sends_every_write_as_a_dry_run_and_stores_nothing() {
    let server = Memory::default();
    let a = server.store(&service_entry("a", 80));
    let plan = Plan::in_order(vec![update(&a, 8080), create("b")]);
    let done = run(
        Some(&server),
        plan,
        &options(DryRun::Server),
        &Written::default(),
    );
    assert_eq!(
        done.stdout,
        format!("{SE}/a configured (server dry run)\n{SE}/b created (server dry run)\n")
    );
    assert_eq!(server.requests(), ["check a", "check b"]);
    assert_eq!(server.names(), ["a"]);
}

#[test]
fn a_delete_is_conditional_on_the_object_listed() {
    let server = Memory::default();
    server.store(&service_entry("a", 80));
    let delete = |uid: &str| Change::Delete {
        kind: Resource::Istio(Kind::ServiceEntry),
        namespace: "student1".into(),
        name: "a".into(),
        uid: Some(uid.into()),
        resource_version: None,
    };
    let other = run(
        Some(&server),
        Plan::in_order(vec![delete("uid-someone-else")]),
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(exit_code(&other), exit::REJECTED);
    assert_eq!(server.names(), ["a"]);
    let ours = run(
        Some(&server),
        Plan::in_order(vec![delete("uid-a")]),
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(ours.stdout, format!("{SE}/a deleted\n"));
    assert!(server.names().is_empty());
}

#[test]
fn a_create_that_cannot_be_taken_back_is_named() {
    let mut server = Memory::refusing("b", Reason::Rejected);
    server.refuse_delete.insert("a".into());
    let plan = Plan::independent(vec![vec![create("a")], vec![create("b")]]);
    let done = run(
        Some(&server),
        plan,
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(exit_code(&done), exit::REJECTED);
    assert_eq!(done.stdout, format!("{SE}/a created\n"));
    assert!(
        done.stderr[0].starts_with(&format!(
            "not undone: {SE}/a (created; deleting it again failed: "
        )),
        "{:?}",
        done.stderr
    );
}

#[test]
fn no_answer_is_not_taken_back_and_says_it_may_have_been_written() {
    let server = Memory::refusing("b", Reason::Unreachable);
    let plan = Plan::independent(vec![vec![create("a")], vec![create("b")]]);
    let done = run(
        Some(&server),
        plan,
        &options(DryRun::None),
        &Written::default(),
    );
    assert_eq!(exit_code(&done), exit::UNREACHABLE);
    // Only a refusal is taken back: with no answer, what the server holds is not known.
    assert_eq!(server.names(), ["a"]);
    assert_eq!(
        done.stderr,
        [format!(
            "not known: {SE}/b (sent, but no answer came: it may have been written)"
        )]
    );
}

#[test]
fn with_an_output_format_the_objects_are_printed_as_the_server_returned_them() {
    let server = Memory::default();
    let options = Options {
        format: Some(crate::core::render::ObjectFormat::Name),
        ..options(DryRun::None)
    };
    let done = run(
        Some(&server),
        Plan::in_order(vec![create("a")]),
        &options,
        &Written::default(),
    );
    assert_eq!(done.stdout, format!("{SE}/a\n"));
}
