//! One module per subcommand: parse -> plan (core) -> cluster (edge) -> print.
//! What the writing commands share lives here: reading hosts, carrying out changes, printing.

pub mod allow;
pub mod apply;
pub mod cleanup;
pub mod completion;
pub mod gateway;
mod manifests;
pub mod route;
pub mod status;

use serde_json::Value;

use crate::cli::{Cli, Command};
use kube::api::Preconditions;

use crate::cluster::api::{IstioApi, WriteOptions};
use crate::core::change::{Refusal, Resource};
use crate::core::istio::typed;
use crate::core::render;
use crate::core::validate::Host;
use crate::error::{Error, Reason, Result, exit};
use crate::settings::{DryRun, Settings};

pub async fn run(cli: Cli) -> Result<u8> {
    let settings = Settings::from_args(&cli.global, std::env::var("STUDENT_NS").ok())?;
    match cli.command {
        Command::Allow(args) => allow::run(&settings, args).await,
        Command::Timeout(args) => route::run_timeout(&settings, args).await,
        Command::Retries(args) => route::run_retries(&settings, args).await,
        Command::ViaGateway(args) => route::run_via_gateway(&settings, args).await,
        Command::Gateway(args) => gateway::run(&settings, args, cli.global.namespace).await,
        Command::Apply(args) => apply::run(&settings, args).await,
        Command::Status(args) => status::run(&settings, args).await,
        Command::Cleanup(args) => cleanup::run(&settings, args).await,
        Command::Completion(args) => {
            completion::run(args);
            Ok(exit::OK)
        }
    }
}

pub fn parse_hosts(inputs: &[String]) -> Result<Vec<Host>> {
    let mut hosts: Vec<Host> = vec![];
    for input in inputs {
        let host = Host::parse(input)?;
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

/// A planner's refusal as the error the command exits with.
pub fn refusal_error(refusal: Refusal) -> Error {
    match refusal {
        Refusal::Conflict(message) => Error::failed(Reason::Conflict, message),
        Refusal::Findings(message) => Error::failed(Reason::Findings, message),
    }
}

pub use crate::core::change::Change;

/// How often a command re-reads and re-composes its writes when another writer changed the
/// objects in between, before giving up with exit 8.
pub const MAX_ATTEMPTS: u32 = 5;

/// One attempt of a command's read-compose-write.
#[derive(Clone, Copy)]
pub struct Attempt<'w> {
    /// 1 for the first: warnings are said once, not on every retry.
    pub number: u32,
    pub written: &'w Written,
}

/// Runs `attempt` (read, compose, write) until it is not refused for a change made meanwhile by
/// another writer, at most [`MAX_ATTEMPTS`] times, with a short jittered pause in between so that
/// two writers racing do not meet again at once.
pub async fn retrying<'w, F, Fut>(written: &'w Written, mut attempt: F) -> Result<u8>
where
    F: FnMut(Attempt<'w>) -> Fut,
    Fut: std::future::Future<Output = Result<u8>>,
{
    let mut number = 1;
    loop {
        match attempt(Attempt { number, written }).await {
            Err(e) if e.is_modified() && number < MAX_ATTEMPTS => {
                tokio::time::sleep(backoff(number)).await;
                number += 1;
            }
            Err(Error::Runtime {
                reason: Reason::Modified,
                message,
            }) => {
                return Err(Error::failed(
                    Reason::Conflict,
                    format!(
                        "conflict: gave up after {MAX_ATTEMPTS} attempts, each re-reading and re-composing: {message}; another writer keeps changing it, run the command again"
                    ),
                ));
            }
            other => return other,
        }
    }
}

/// 10-20 ms after the first attempt, doubling each time (at most ~300 ms in all).
fn backoff(attempt: u32) -> std::time::Duration {
    use std::hash::{BuildHasher, Hasher};
    let base = 10u64 << (attempt - 1).min(6);
    // std's RandomState is seeded per process: jitter without a random-number crate.
    let jitter = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        % base;
    std::time::Duration::from_millis(base + jitter)
}

/// What earlier attempts of a command wrote, so that a retry reports `created` or `configured`
/// for an object an earlier attempt wrote, not `unchanged`.
#[derive(Default)]
pub struct Written(std::cell::RefCell<std::collections::BTreeMap<String, &'static str>>);

/// Requests in flight at once when a command writes many independent objects (kubectl's
/// client-go sends one at a time; the API server takes this many at once over HTTP/2).
pub const IN_FLIGHT: usize = 16;

/// Sends the changes one after another, in order (or, with --dry-run=client, only reports them)
/// and prints the result the way kubectl does. All checks that can refuse have run before this.
///
/// With several objects to apply, the server first checks them all (a dry run of each, sent
/// concurrently), so that a rejection of the last leaves nothing half done.
pub async fn carry_out(
    settings: &Settings,
    api: Option<&IstioApi<'_>>,
    changes: Vec<Change>,
    force_conflicts: bool,
    written: &Written,
) -> Result<u8> {
    execute(
        settings,
        api,
        vec![changes],
        Order::Sequential,
        force_conflicts,
        written,
    )
    .await
}

/// [`carry_out`] for independent chains of changes (one per host: an object of one host never
/// depends on another's), each chain in order, [`IN_FLIGHT`] requests at once. All or nothing
/// for what the server refuses, at N writes for N new objects:
///
/// - chains that only create objects (or apply one of the plugin's objects exactly as it is,
///   which changes nothing) are not checked by a dry run first: they are written, and when the
///   server refuses one, those created are deleted again (each only if still the one created:
///   uid and resourceVersion), so none is left; in between, the namespace holds them;
/// - chains that change existing objects (or delete) are checked first by a dry run of each
///   apply, as [`carry_out`] does (an update cannot be undone without a trace), and written after
///   every create went through.
pub async fn carry_out_independent(
    settings: &Settings,
    api: Option<&IstioApi<'_>>,
    chains: Vec<Vec<Change>>,
    force_conflicts: bool,
    written: &Written,
) -> Result<u8> {
    execute(
        settings,
        api,
        chains,
        Order::Independent,
        force_conflicts,
        written,
    )
    .await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    Sequential,
    Independent,
}

/// What became of one change.
enum Outcome {
    NotSent,
    Done {
        line: String,
        object: Value,
        /// Whether it created the object (an undo deletes it).
        created: bool,
    },
    Failed(Error),
    /// Created, then deleted again after the server refused another object.
    Undone,
}

impl Outcome {
    fn failed(&self) -> Option<&Error> {
        match self {
            Outcome::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// Whether the server refused (it answered, and said no), as opposed to a change made meanwhile
/// (retried) or no answer (nothing can be known, nor undone).
fn refused(error: &Error) -> bool {
    !matches!(
        error,
        Error::Runtime {
            reason: Reason::Modified | Reason::Unreachable,
            ..
        }
    )
}

/// Runs `task` for every item, at most `limit` at once, until all have run.
async fn bounded<I, F, Fut>(items: I, limit: usize, task: F)
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use futures_util::StreamExt;
    futures_util::stream::iter(items)
        .map(task)
        .buffer_unordered(limit.max(1))
        .for_each(|()| async {})
        .await;
}

async fn execute(
    settings: &Settings,
    api: Option<&IstioApi<'_>>,
    chains: Vec<Vec<Change>>,
    order: Order,
    force_conflicts: bool,
    written: &Written,
) -> Result<u8> {
    let format = settings.object_format()?;
    let options = |dry_run: bool| WriteOptions {
        field_manager: &settings.field_manager,
        force: force_conflicts,
        dry_run,
    };
    let suffix = match settings.dry_run {
        DryRun::None => "",
        DryRun::Client => " (dry run)",
        DryRun::Server => " (server dry run)",
    };
    // Every change in one list, in the order given; a chain is a range of it.
    let mut ranges = vec![];
    let mut changes: Vec<Change> = vec![];
    for chain in chains {
        let start = changes.len();
        changes.extend(chain);
        ranges.push(start..changes.len());
    }
    let names: Vec<String> = changes.iter().map(Change::display_name).collect();
    let limit = match order {
        Order::Sequential => 1,
        Order::Independent => IN_FLIGHT,
    };
    // Chains whose writes can be taken back or change nothing: creates (deleted again), and
    // applies of one of the plugin's own objects exactly as it is (the server changes nothing).
    let undoable = |range: &std::ops::Range<usize>| {
        order == Order::Independent
            && changes[range.clone()].iter().all(|c| match c {
                Change::Apply { before: None, .. } => true,
                Change::Apply {
                    kind: Resource::Istio(_),
                    before: Some(before),
                    object,
                    ..
                } => typed::<Value>(before).metadata.is_managed() && same_content(before, object),
                _ => false,
            })
    };
    let (first, second): (Vec<_>, Vec<_>) = ranges.iter().cloned().partition(undoable);

    let online = match (api, settings.dry_run) {
        (Some(api), DryRun::None) => Some(api),
        _ => None,
    };
    // Several objects: the server checks those not undoable (dry run) before any is written.
    if let Some(api) = online {
        let applies = changes
            .iter()
            .filter(|c| matches!(c, Change::Apply { .. }))
            .count();
        let checked: Vec<&Change> = second
            .iter()
            .flat_map(|r| &changes[r.clone()])
            .filter(|c| matches!(c, Change::Apply { .. }))
            .collect();
        if applies > 1 && !checked.is_empty() {
            let failures = std::cell::RefCell::new(vec![]);
            let stop = std::cell::Cell::new(false);
            bounded(checked.into_iter().enumerate(), IN_FLIGHT, |(i, change)| {
                let (failures, stop) = (&failures, &stop);
                async move {
                    let Change::Apply {
                        kind,
                        namespace,
                        object,
                        before,
                        precondition,
                    } = change
                    else {
                        return;
                    };
                    if stop.get() {
                        return;
                    }
                    if let Err(e) = api
                        .write(
                            kind,
                            namespace,
                            object,
                            before.as_ref(),
                            precondition,
                            &options(true),
                        )
                        .await
                    {
                        stop.set(true);
                        failures.borrow_mut().push((i, e));
                    }
                }
            })
            .await;
            // The first refused in the order given, as when they were sent one by one.
            let mut failures = failures.into_inner();
            failures.sort_by_key(|(i, _)| *i);
            if let Some((_, error)) = failures.into_iter().next() {
                return Err(error);
            }
        }
    }

    let outcomes: std::cell::RefCell<Vec<Outcome>> =
        std::cell::RefCell::new(changes.iter().map(|_| Outcome::NotSent).collect());
    let stop = std::cell::Cell::new(false);
    let send = |index: usize| {
        let change = &changes[index];
        async move {
            match change {
                Change::Apply {
                    kind,
                    namespace,
                    object,
                    before,
                    precondition,
                } => {
                    let result = match (settings.dry_run, api) {
                        (DryRun::Client, _) | (_, None) => object.clone(),
                        (dry_run, Some(api)) => {
                            api.write(
                                kind,
                                namespace,
                                object,
                                before.as_ref(),
                                precondition,
                                &options(dry_run == DryRun::Server),
                            )
                            .await?
                        }
                    };
                    let name = render::name(&result);
                    let earlier = written.0.borrow().get(&name).copied();
                    let same = |b: &Value| match kind {
                        Resource::Istio(_) => same_content(b, &result),
                        Resource::Discovered(_) => same_object(b, &result),
                    };
                    let action = match (before, earlier) {
                        (None, _) => "created",
                        (Some(b), None) if same(b) => "unchanged",
                        (Some(b), Some(earlier)) if same(b) => earlier,
                        (Some(_), _) => "configured",
                    };
                    if action != "unchanged" {
                        written.0.borrow_mut().insert(name.clone(), action);
                    }
                    Ok(Outcome::Done {
                        line: format!("{name} {action}{suffix}\n"),
                        object: result,
                        // Created by this command, in this attempt or an earlier one that a
                        // conflict cut short: an undo takes it back all the same.
                        created: action == "created",
                    })
                }
                Change::Delete {
                    kind,
                    namespace,
                    name,
                    uid,
                    resource_version,
                } => {
                    if let (Some(api), false) = (api, settings.dry_run == DryRun::Client) {
                        api.delete(
                            kind,
                            namespace,
                            name,
                            Preconditions {
                                uid: uid.clone(),
                                resource_version: resource_version.clone(),
                            },
                            settings.dry_run == DryRun::Server,
                        )
                        .await?;
                    }
                    Ok(Outcome::Done {
                        line: format!("{}/{name} deleted{suffix}\n", kind.qualified()),
                        object: Value::Null,
                        created: false,
                    })
                }
            }
        }
    };
    // Each chain in order; a failure stops every chain before its next request.
    let run_chains = |ranges: Vec<std::ops::Range<usize>>| {
        let (outcomes, stop, send) = (&outcomes, &stop, &send);
        bounded(ranges, limit, move |range| async move {
            for index in range {
                if stop.get() {
                    return;
                }
                let outcome = send(index).await.unwrap_or_else(|e| {
                    stop.set(true);
                    Outcome::Failed(e)
                });
                let failed = matches!(outcome, Outcome::Failed(_));
                outcomes.borrow_mut()[index] = outcome;
                if failed {
                    return;
                }
            }
        })
    };
    run_chains(first.clone()).await;
    // The server refused a create: delete those created, so that none is left.
    let mut not_undone = vec![];
    let refusal = outcomes
        .borrow()
        .iter()
        .filter_map(Outcome::failed)
        .any(refused);
    if let (Some(api), true) = (online, refusal) {
        let undo: Vec<usize> = first
            .iter()
            .flat_map(|r| r.clone())
            .filter(|&i| matches!(outcomes.borrow()[i], Outcome::Done { created: true, .. }))
            .collect();
        let failures = std::cell::RefCell::new(vec![]);
        bounded(undo, IN_FLIGHT, |index| {
            let (outcomes, failures, change) = (&outcomes, &failures, &changes[index]);
            async move {
                let (kind, namespace) = match change {
                    Change::Apply {
                        kind, namespace, ..
                    } => (kind, namespace),
                    Change::Delete { .. } => return,
                };
                let (key, name, preconditions) = match &outcomes.borrow()[index] {
                    Outcome::Done { object, .. } => (
                        render::name(object),
                        object["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        Preconditions {
                            uid: object["metadata"]["uid"].as_str().map(String::from),
                            resource_version: object["metadata"]["resourceVersion"]
                                .as_str()
                                .map(String::from),
                        },
                    ),
                    _ => return,
                };
                match api
                    .delete(kind, namespace, &name, preconditions, false)
                    .await
                {
                    Ok(()) => {
                        written.0.borrow_mut().remove(&key);
                        outcomes.borrow_mut()[index] = Outcome::Undone;
                    }
                    Err(e) => failures.borrow_mut().push((index, e)),
                }
            }
        })
        .await;
        not_undone = failures.into_inner();
        not_undone.sort_by_key(|(i, _)| *i);
    } else if !stop.get() {
        run_chains(second).await;
    }

    let mut outcomes = outcomes.into_inner();
    // The error to return: the first refusal in the order given, else the first failure.
    let failed_at = |refusal: bool, outcomes: &[Outcome]| {
        outcomes
            .iter()
            .position(|o| o.failed().is_some_and(|e| refused(e) == refusal))
    };
    let Some(at) = failed_at(true, &outcomes).or_else(|| failed_at(false, &outcomes)) else {
        print_done(format, &outcomes, true);
        return Ok(exit::OK);
    };
    let error = match std::mem::replace(&mut outcomes[at], Outcome::NotSent) {
        Outcome::Failed(error) => error,
        _ => Error::runtime("internal error: lost the failure being reported"),
    };
    // A change made meanwhile by another writer: the whole attempt is made again (and reports
    // these writes then).
    if error.is_modified() {
        return Err(error);
    }
    // Say what was done and what was not, in order, before the error.
    print_done(format, &outcomes, false);
    // One object and nothing done: the error alone says it.
    if names.len() > 1 {
        for (index, (name, outcome)) in names.iter().zip(&outcomes).enumerate() {
            let unanswered = match outcome {
                Outcome::Failed(e) => !refused(e),
                _ => index == at && !refused(&error),
            };
            match outcome {
                Outcome::Done { .. } => {
                    if let Some((_, e)) = not_undone.iter().find(|(i, _)| *i == index) {
                        eprintln!("not undone: {name} (created; deleting it again failed: {e})");
                    }
                }
                _ if unanswered => eprintln!(
                    "not known: {name} (sent, but no answer came: it may have been written)"
                ),
                Outcome::Undone => eprintln!("not written: {name} (created, then deleted again)"),
                _ => eprintln!("not written: {name}"),
            }
        }
    }
    Err(error)
}

/// Prints what was done: kubectl's lines, or the objects with -o yaml|json (an empty list only
/// when the command succeeded).
fn print_done(format: Option<render::ObjectFormat>, outcomes: &[Outcome], succeeded: bool) {
    let mut lines = String::new();
    let mut objects = vec![];
    for outcome in outcomes {
        if let Outcome::Done { line, object, .. } = outcome {
            lines.push_str(line);
            objects.push(object.clone());
        }
    }
    if lines.is_empty() && !succeeded {
        return;
    }
    match format {
        None => print!("{lines}"),
        Some(format) => print!("{}", render::objects(format, &objects)),
    }
}

/// Whether a write changed what matters: the spec and the labels.
fn same_content(before: &Value, after: &Value) -> bool {
    before["spec"] == after["spec"] && before["metadata"]["labels"] == after["metadata"]["labels"]
}

/// Whether a write changed anything but the server's bookkeeping (any kind: a ConfigMap has no
/// spec). Status is the controllers', not ours.
fn same_object(before: &Value, after: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(object) = v.as_object_mut() {
            // A list's items may lack apiVersion and kind (built-in kinds do).
            for outside in ["status", "apiVersion", "kind"] {
                object.remove(outside);
            }
        }
        if let Some(meta) = v["metadata"].as_object_mut() {
            for volatile in [
                "resourceVersion",
                "managedFields",
                "generation",
                "creationTimestamp",
            ] {
                meta.remove(volatile);
            }
        }
        v
    };
    strip(before) == strip(after)
}

pub fn warn(message: &str) {
    eprintln!("warning: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_short_and_grows() {
        for attempt in 1..MAX_ATTEMPTS {
            let pause = backoff(attempt).as_millis() as u64;
            let base = 10 << (attempt - 1);
            assert!((base..2 * base).contains(&pause), "{attempt}: {pause}");
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retrying_gives_up_with_a_conflict_after_max_attempts() {
        let attempts = std::cell::Cell::new(0);
        let written = Written::default();
        let result = retrying(&written, |attempt| {
            attempts.set(attempt.number);
            async {
                Err(Error::failed(
                    Reason::Modified,
                    "virtualservice.networking.istio.io/httpbin in namespace student1 changed",
                ))
            }
        })
        .await;
        assert_eq!(attempts.get(), MAX_ATTEMPTS);
        let error = result.unwrap_err();
        assert_eq!(error.exit_code(), exit::CONFLICT);
        let message = error.to_string();
        assert!(
            message.contains("virtualservice.networking.istio.io/httpbin")
                && message.contains("gave up after 5 attempts")
                && !message.contains('\n'),
            "{message}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn other_failures_are_not_retried() {
        let attempts = std::cell::Cell::new(0);
        let written = Written::default();
        let result = retrying(&written, |attempt| {
            attempts.set(attempt.number);
            async {
                Err(Error::failed(
                    Reason::Conflict,
                    "fields owned by other-tool",
                ))
            }
        })
        .await;
        assert_eq!(attempts.get(), 1);
        assert_eq!(result.unwrap_err().exit_code(), exit::CONFLICT);
    }
}
