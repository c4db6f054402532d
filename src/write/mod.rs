//! The write engine: carries out the changes a command planned, all or nothing as far as the API
//! server allows, and reports them the way kubectl does.
//!
//! A command plans (core), then hands the plan here. The engine runs in phases, each a function
//! with its inputs and outputs ([`phases`]):
//!
//! 1. **schedule** (pure): which chains can be taken back (creates) and go first, which are checked
//!    by a server dry run and go after;
//! 2. **preflight**: the server dry-runs those that cannot be taken back, before anything is written;
//! 3. **send**: each chain in order, several chains at once; a failure stops every chain before
//!    its next request;
//! 4. **undo**: when the server refused one, the objects created are deleted again;
//! 5. **report** (pure, [`report`]): kubectl's lines, or the objects; what was not written.
//!
//! The API server is reached through the small [`Server`] trait, so that every phase is
//! unit-tested without a cluster (tests.rs); the real one is [`IstioApi`], tested end to end.

mod phases;
mod report;
mod retry;
#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::cluster::api::{DeleteRequest, IstioApi, WriteOptions};
use crate::core::plans::change::{Change, Precondition, Resource};
use crate::core::render::ObjectFormat;
use crate::error::Result;
use crate::settings::{DryRun, Settings};
use report::Conclusion;

pub use retry::{Attempt, MAX_ATTEMPTS, Written, retrying};

/// Requests in flight at once when a command writes many independent objects (kubectl's
/// client-go sends one at a time; the API server takes this many at once over HTTP/2).
pub const IN_FLIGHT: usize = 16;

/// What the engine needs of the API server: a server-side apply and a conditional delete.
// Futures here need not be Send: the plugin runs on tokio's current-thread runtime.
#[allow(async_fn_in_trait)]
pub trait Server {
    /// Applies `object` (a dry run when `options.dry_run`) and returns it as the server has it.
    async fn write(
        &self,
        kind: &Resource,
        namespace: &str,
        object: &Value,
        before: Option<&Value>,
        precondition: &Precondition,
        options: &WriteOptions<'_>,
    ) -> Result<Value>;

    /// Deletes the object if it still matches `preconditions`.
    async fn delete(&self, request: DeleteRequest<'_>) -> Result<()>;
}

impl Server for IstioApi<'_> {
    async fn write(
        &self,
        kind: &Resource,
        namespace: &str,
        object: &Value,
        before: Option<&Value>,
        precondition: &Precondition,
        options: &WriteOptions<'_>,
    ) -> Result<Value> {
        IstioApi::write(self, kind, namespace, object, before, precondition, options).await
    }

    async fn delete(&self, request: DeleteRequest<'_>) -> Result<()> {
        IstioApi::delete(self, request).await
    }
}

/// How the writes go: from the global flags, and the command's --force-conflicts.
#[derive(Clone, Copy)]
pub struct Options<'a> {
    pub field_manager: &'a str,
    /// Take over fields another field manager owns (--force-conflicts).
    pub force_conflicts: bool,
    pub dry_run: DryRun,
    /// -o yaml|json|name; None: kubectl's `kind/name created` lines.
    pub format: Option<ObjectFormat>,
    /// --wait with -o yaml|json: the objects are kept ([`held`]) and printed with the wait's
    /// figures, after it.
    pub hold: bool,
}

impl<'a> Options<'a> {
    pub fn new(settings: &'a Settings) -> Result<Options<'a>> {
        Ok(Options {
            field_manager: &settings.field_manager,
            force_conflicts: false,
            dry_run: settings.dry_run,
            format: settings.object_format()?,
            hold: settings.wait.is_some()
                && settings.dry_run == DryRun::None
                && matches!(
                    settings.object_format()?,
                    Some(ObjectFormat::Json | ObjectFormat::Yaml)
                ),
        })
    }

    pub fn force_conflicts(self, force_conflicts: bool) -> Options<'a> {
        Options {
            force_conflicts,
            ..self
        }
    }

    /// The options of one server-side apply.
    fn apply(&self, dry_run: bool) -> WriteOptions<'a> {
        WriteOptions {
            field_manager: self.field_manager,
            force: self.force_conflicts,
            dry_run,
        }
    }

    /// What kubectl appends to each line in a dry run.
    fn suffix(&self) -> &'static str {
        match self.dry_run {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        }
    }
}

/// What to write: chains of changes, each chain in order.
pub struct Plan {
    chains: Vec<Vec<Change>>,
    order: Order,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Order {
    /// One chain, one request at a time.
    Sequential,
    /// Chains that do not depend on each other (one per host): [`IN_FLIGHT`] at once, creates
    /// taken back when the server refuses one.
    Independent,
}

impl Plan {
    /// Changes sent one after another, in order. With several objects to apply, the server first
    /// checks them all (a dry run of each, sent concurrently), so that a rejection of the last
    /// leaves nothing half done.
    pub fn in_order(changes: Vec<Change>) -> Plan {
        Plan {
            chains: vec![changes],
            order: Order::Sequential,
        }
    }

    /// Independent chains of changes (one per host: an object of one host never depends on
    /// another's), each chain in order, [`IN_FLIGHT`] requests at once. All or nothing for what
    /// the server refuses, at N writes for N new objects:
    ///
    /// - chains that only create objects (or apply one of the plugin's objects exactly as it is,
    ///   which changes nothing) are not checked by a dry run first: they are written, and when the
    ///   server refuses one, those created are deleted again (each only if still the one created:
    ///   uid and resourceVersion), so none is left; in between, the namespace holds them;
    /// - chains that change existing objects (or delete) are checked first by a dry run of each
    ///   apply, as [`Plan::in_order`] is (an update cannot be undone without a trace), and written
    ///   after every create went through.
    pub fn independent(chains: Vec<Vec<Change>>) -> Plan {
        Plan {
            chains,
            order: Order::Independent,
        }
    }
}

/// Carries out `plan` through `server` (None: rendering with no cluster, as --dry-run=client)
/// and prints the result the way kubectl does. All checks that can refuse have run before this.
/// `written` carries what earlier attempts of the command wrote (see [`retrying`]).
pub async fn carry_out<S: Server>(
    server: Option<&S>,
    plan: Plan,
    options: &Options<'_>,
    written: &Written,
) -> Result<u8> {
    let conclusion = execute(server, plan, options, written).await;
    if options.hold {
        hold(conclusion.objects);
    } else {
        print!("{}", conclusion.stdout);
    }
    for line in &conclusion.stderr {
        eprintln!("{line}");
    }
    conclusion.result
}

/// The phases, in order; what to print and how the command ends.
async fn execute<S: Server>(
    server: Option<&S>,
    plan: Plan,
    options: &Options<'_>,
    written: &Written,
) -> Conclusion {
    let schedule = phases::schedule(plan);
    let online = server.filter(|_| options.dry_run == DryRun::None);
    if let Some(server) = online
        && let Err(refusal) = phases::preflight(server, &schedule, options).await
    {
        return Conclusion::failed(refusal);
    }
    // Offline and with --dry-run=client nothing is sent.
    let sending = server.filter(|_| options.dry_run != DryRun::Client);
    let mut outcomes = phases::not_sent(&schedule);
    let sent = phases::send(sending, &schedule, &schedule.first, options).await;
    phases::record(&mut outcomes, sent, &schedule, written, options);
    let mut not_undone = vec![];
    match online {
        Some(server) if report::refused_any(&outcomes) => {
            not_undone = phases::undo(server, &schedule, &mut outcomes, written).await;
        }
        _ if !report::failed_any(&outcomes) => {
            let sent = phases::send(sending, &schedule, &schedule.second, options).await;
            phases::record(&mut outcomes, sent, &schedule, written, options);
        }
        _ => {}
    }
    report::conclude(&schedule.names(), outcomes, &not_undone, options.format)
}

thread_local! {
    // The plugin runs on one thread (tokio's current-thread runtime).
    static HELD: std::cell::RefCell<Vec<Value>> = const { std::cell::RefCell::new(vec![]) };
}

/// Keeps objects to print after --wait (cleanup's deletions too).
pub fn hold(objects: Vec<Value>) {
    HELD.with(|held| held.borrow_mut().extend(objects));
}

/// The objects kept since the last call.
pub fn held() -> Vec<Value> {
    HELD.with(|held| std::mem::take(&mut *held.borrow_mut()))
}

/// [`carry_out`] with no cluster: the objects rendered from the flags alone.
pub async fn render(plan: Plan, options: &Options<'_>) -> Result<u8> {
    carry_out::<IstioApi<'_>>(None, plan, options, &Written::default()).await
}
