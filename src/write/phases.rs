//! The engine's phases, in the order `carry_out` runs them. Each takes what it needs and returns
//! what it found; only `record` and `undo` update the outcomes, in order, after the requests.

use crate::core::objects::istio::metadata_of;
use std::cell::Cell;
use std::ops::Range;

use kube::api::Preconditions;
use serde_json::Value;

use super::report::{Action, Outcome};
use super::{IN_FLIGHT, Options, Order, Plan, Server, Written};
use crate::cluster::api::DeleteRequest;
use crate::core::plans::change::{Change, Resource};
use crate::core::render;
use crate::error::{Error, Result};
use crate::settings::DryRun;

/// Every change in one list, in the order given; a chain is a range of it.
pub struct Schedule {
    pub changes: Vec<Change>,
    /// Chains written first: those whose writes can be taken back or change nothing.
    pub first: Vec<Range<usize>>,
    /// Chains checked by a dry run before anything is written, and written after `first`.
    pub second: Vec<Range<usize>>,
    /// Requests in flight at once.
    pub limit: usize,
}

impl Schedule {
    /// kind/name of each change, as kubectl names objects.
    pub fn names(&self) -> Vec<String> {
        self.changes.iter().map(Change::display_name).collect()
    }
}

/// Phase 1 (pure): which chains go first. In independent order these are the chains that only
/// create objects, or apply one of the plugin's own objects exactly as it is (the server changes
/// nothing); every other chain (updates, deletes), and every chain in sequential order, goes
/// second, after a dry run.
pub fn schedule(plan: Plan) -> Schedule {
    let mut changes = vec![];
    let mut ranges = vec![];
    for chain in plan.chains {
        let start = changes.len();
        changes.extend(chain);
        ranges.push(start..changes.len());
    }
    let undoable = |range: &Range<usize>| {
        plan.order == Order::Independent && changes[range.clone()].iter().all(takes_back)
    };
    let (first, second) = ranges.into_iter().partition(undoable);
    let limit = match plan.order {
        Order::Sequential => 1,
        Order::Independent => IN_FLIGHT,
    };
    Schedule {
        changes,
        first,
        second,
        limit,
    }
}

/// Whether a change can be taken back (a create: deleted again) or changes nothing.
fn takes_back(change: &Change) -> bool {
    match change {
        Change::Apply { before: None, .. } => true,
        Change::Apply {
            kind: Resource::Istio(_),
            before: Some(before),
            object,
            ..
        } => metadata_of(before).is_managed() && same_content(before, object),
        _ => false,
    }
}

/// Phase 2: with several objects to apply, the server checks (dry run) those written second
/// before any is written. The first refusal in the order given, as when sent one by one.
pub async fn preflight<S: Server>(
    server: &S,
    schedule: &Schedule,
    options: &Options<'_>,
) -> Result<()> {
    let is_apply = |c: &&Change| matches!(c, Change::Apply { .. });
    let applies = schedule.changes.iter().filter(is_apply).count();
    let checked: Vec<&Change> = schedule
        .second
        .iter()
        .flat_map(|r| &schedule.changes[r.clone()])
        .filter(is_apply)
        .collect();
    if applies < 2 || checked.is_empty() {
        return Ok(());
    }
    // Once one is refused, those not yet sent are not.
    let halted = Cell::new(false);
    let mut failures = bounded(checked.into_iter().enumerate(), IN_FLIGHT, |(i, change)| {
        let halted = &halted;
        async move {
            let Change::Apply {
                kind,
                namespace,
                object,
                before,
                precondition,
            } = change
            else {
                return None;
            };
            if halted.get() {
                return None;
            }
            let check = options.apply(true);
            let result = server
                .write(
                    kind,
                    namespace,
                    object,
                    before.as_ref(),
                    precondition,
                    &check,
                )
                .await;
            result.err().map(|e| {
                halted.set(true);
                (i, e)
            })
        }
    })
    .await
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    failures.sort_by_key(|(i, _)| *i);
    match failures.into_iter().next() {
        Some((_, error)) => Err(error),
        None => Ok(()),
    }
}

/// What one request did.
pub enum Sent {
    /// The object as the server has it (as rendered, when nothing was sent).
    Applied(Value),
    Deleted,
}

/// Every change starts as not sent.
pub fn not_sent(schedule: &Schedule) -> Vec<Outcome> {
    schedule.changes.iter().map(|_| Outcome::NotSent).collect()
}

/// Phase 3: sends the chains in `ranges`, each in order, `schedule.limit` chains at once
/// (`server` None: nothing is sent, the objects are reported as rendered). A failure stops every
/// chain before its next request. Returns what each request did, by index in the schedule.
pub async fn send<S: Server>(
    server: Option<&S>,
    schedule: &Schedule,
    ranges: &[Range<usize>],
    options: &Options<'_>,
) -> Vec<(usize, Result<Sent>)> {
    let halted = Cell::new(false);
    bounded(ranges.iter().cloned(), schedule.limit, |range| {
        let halted = &halted;
        async move {
            let mut results = vec![];
            for index in range {
                if halted.get() {
                    break;
                }
                let result = send_one(server, &schedule.changes[index], options).await;
                let failed = result.is_err();
                results.push((index, result));
                if failed {
                    halted.set(true);
                    break;
                }
            }
            results
        }
    })
    .await
    .into_iter()
    .flatten()
    .collect()
}

async fn send_one<S: Server>(
    server: Option<&S>,
    change: &Change,
    options: &Options<'_>,
) -> Result<Sent> {
    let server_dry_run = options.dry_run == DryRun::Server;
    match change {
        Change::Apply {
            kind,
            namespace,
            object,
            before,
            precondition,
        } => Ok(Sent::Applied(match server {
            None => object.clone(),
            Some(server) => {
                let apply = options.apply(server_dry_run);
                server
                    .write(
                        kind,
                        namespace,
                        object,
                        before.as_ref(),
                        precondition,
                        &apply,
                    )
                    .await?
            }
        })),
        Change::Delete {
            kind,
            namespace,
            name,
            uid,
            resource_version,
        } => {
            if let Some(server) = server {
                server
                    .delete(DeleteRequest {
                        kind,
                        namespace,
                        name,
                        preconditions: Preconditions {
                            uid: uid.clone(),
                            resource_version: resource_version.clone(),
                        },
                        dry_run: server_dry_run,
                    })
                    .await?;
            }
            Ok(Sent::Deleted)
        }
    }
}

/// After each send: what each request did, as kubectl says it (`created`, `configured`,
/// `unchanged`, `deleted`), and what this command has now written (a retry reports `created`
/// or `configured` for an object an earlier attempt wrote, not `unchanged`).
pub fn record(
    outcomes: &mut [Outcome],
    sent: Vec<(usize, Result<Sent>)>,
    schedule: &Schedule,
    written: &Written,
    options: &Options<'_>,
) {
    let suffix = options.suffix();
    for (index, result) in sent {
        outcomes[index] = match (result, &schedule.changes[index]) {
            (Err(error), _) => Outcome::Failed(error),
            (Ok(Sent::Applied(object)), Change::Apply { kind, before, .. }) => {
                let name = render::name(&object);
                let same = |before: &Value| match kind {
                    Resource::Istio(_) => same_content(before, &object),
                    Resource::Discovered(_) => same_object(before, &object),
                };
                let action = match (before, written.earlier(&name)) {
                    (None, _) => Action::Created,
                    (Some(b), None) if same(b) => Action::Unchanged,
                    (Some(b), Some(earlier)) if same(b) => earlier,
                    (Some(_), _) => Action::Configured,
                };
                if action != Action::Unchanged {
                    written.remember(&name, action);
                }
                Outcome::Done {
                    line: format!("{name} {}{suffix}\n", action.as_str()),
                    object,
                    action,
                }
            }
            (Ok(_), change) => Outcome::Done {
                line: format!("{} deleted{suffix}\n", change.display_name()),
                object: Value::Null,
                action: Action::Deleted,
            },
        };
    }
}

/// Phase 4: the server refused a change: deletes again the objects the first chains created
/// (each only if still the one created), so that none is left. Returns those whose delete failed.
pub async fn undo<S: Server>(
    server: &S,
    schedule: &Schedule,
    outcomes: &mut [Outcome],
    written: &Written,
) -> Vec<(usize, Error)> {
    // Created by this command, in this attempt or an earlier one that a conflict cut short: an
    // undo takes it back all the same.
    let created: Vec<(usize, &Resource, &str, Value)> = schedule
        .first
        .iter()
        .flat_map(|r| r.clone())
        .filter_map(|index| match (&outcomes[index], &schedule.changes[index]) {
            (
                Outcome::Done {
                    action: Action::Created,
                    object,
                    ..
                },
                Change::Apply {
                    kind, namespace, ..
                },
            ) => Some((index, kind, namespace.as_str(), object.clone())),
            _ => None,
        })
        .collect();
    let results = bounded(
        created,
        IN_FLIGHT,
        |(index, kind, namespace, object)| async move {
            let meta = metadata_of(&object);
            let deletion = DeleteRequest {
                kind,
                namespace,
                name: &meta.name,
                preconditions: Preconditions {
                    uid: meta.uid.clone(),
                    resource_version: meta.resource_version.clone(),
                },
                dry_run: false,
            };
            (index, render::name(&object), server.delete(deletion).await)
        },
    )
    .await;
    let mut not_undone = vec![];
    for (index, key, result) in results {
        match result {
            Ok(()) => {
                written.forget(&key);
                outcomes[index] = Outcome::Undone;
            }
            Err(e) => not_undone.push((index, e)),
        }
    }
    not_undone.sort_by_key(|(i, _)| *i);
    not_undone
}

/// Runs `task` for every item, at most `limit` at once, and returns what each returned.
async fn bounded<I, F, Fut>(items: I, limit: usize, task: F) -> Vec<Fut::Output>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: std::future::Future,
{
    use futures_util::StreamExt;
    futures_util::stream::iter(items)
        .map(task)
        .buffer_unordered(limit.max(1))
        .collect()
        .await
}

/// Whether a write changed what matters: the spec and the labels.
pub fn same_content(before: &Value, after: &Value) -> bool {
    before["spec"] == after["spec"] && before["metadata"]["labels"] == after["metadata"]["labels"]
}

/// Whether a write changed anything but the server's bookkeeping (any kind: a ConfigMap has no
/// spec). Status is the controllers', not ours.
pub fn same_object(before: &Value, after: &Value) -> bool {
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
