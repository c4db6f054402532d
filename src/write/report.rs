//! Phase 5 (pure): what became of each change, said the way kubectl says it, and the error.

use serde_json::Value;

use crate::core::render::{self, ObjectFormat};
use crate::error::{Error, Reason, Result, exit};

/// What kubectl says a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Created,
    Configured,
    Unchanged,
    Deleted,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Configured => "configured",
            Action::Unchanged => "unchanged",
            Action::Deleted => "deleted",
        }
    }
}

/// What became of one change.
#[derive(Debug)]
pub enum Outcome {
    NotSent,
    Done {
        line: String,
        /// As the server returned it (Null for a delete).
        object: Value,
        action: Action,
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
pub fn refused(error: &Error) -> bool {
    !matches!(
        error,
        Error::Runtime {
            reason: Reason::Modified | Reason::Unreachable,
            ..
        }
    )
}

pub fn failed_any(outcomes: &[Outcome]) -> bool {
    outcomes.iter().any(|o| o.failed().is_some())
}

pub fn refused_any(outcomes: &[Outcome]) -> bool {
    outcomes.iter().filter_map(Outcome::failed).any(refused)
}

/// What the command prints, and how it ends.
pub struct Conclusion {
    pub stdout: String,
    /// What was written, as the server returned it (for --wait -o json|yaml, printed after).
    pub objects: Vec<Value>,
    pub stderr: Vec<String>,
    pub result: Result<u8>,
}

impl Conclusion {
    /// Nothing done: the error alone says it.
    pub fn failed(error: Error) -> Conclusion {
        Conclusion {
            stdout: String::new(),
            objects: vec![],
            stderr: vec![],
            result: Err(error),
        }
    }
}

/// The report of `outcomes` (one per change, named by `names`). On a failure: what was done, then
/// on stderr what was not (with several changes), and the error: the first refusal in the order
/// given, else the first failure. A change made meanwhile by another writer prints nothing: the
/// whole attempt is made again, and reports these writes then.
pub fn conclude(
    names: &[String],
    mut outcomes: Vec<Outcome>,
    not_undone: &[(usize, Error)],
    format: Option<ObjectFormat>,
) -> Conclusion {
    let failed_at = |refusal: bool, outcomes: &[Outcome]| {
        outcomes
            .iter()
            .position(|o| o.failed().is_some_and(|e| refused(e) == refusal))
    };
    let Some(at) = failed_at(true, &outcomes).or_else(|| failed_at(false, &outcomes)) else {
        return Conclusion {
            stdout: done(format, &outcomes, true),
            objects: written(&outcomes),
            stderr: vec![],
            result: Ok(exit::OK),
        };
    };
    let error = match std::mem::replace(&mut outcomes[at], Outcome::NotSent) {
        Outcome::Failed(error) => error,
        _ => Error::runtime("internal error: lost the failure being reported"),
    };
    if error.is_modified() {
        return Conclusion::failed(error);
    }
    // One object and nothing done: the error alone says it.
    let stderr = if names.len() > 1 {
        not_done(names, &outcomes, at, refused(&error), not_undone)
    } else {
        vec![]
    };
    Conclusion {
        stdout: done(format, &outcomes, false),
        objects: written(&outcomes),
        stderr,
        result: Err(error),
    }
}

/// One line for each change, in order, saying what became of it when the command failed at `at`.
fn not_done(
    names: &[String],
    outcomes: &[Outcome],
    at: usize,
    error_refused: bool,
    not_undone: &[(usize, Error)],
) -> Vec<String> {
    let mut lines = vec![];
    for (index, (name, outcome)) in names.iter().zip(outcomes).enumerate() {
        let unanswered = match outcome {
            Outcome::Failed(e) => !refused(e),
            _ => index == at && !error_refused,
        };
        match outcome {
            Outcome::Done { .. } => {
                if let Some((_, e)) = not_undone.iter().find(|(i, _)| *i == index) {
                    lines.push(format!(
                        "not undone: {name} (created; deleting it again failed: {e})"
                    ));
                }
            }
            _ if unanswered => lines.push(format!(
                "not known: {name} (sent, but no answer came: it may have been written)"
            )),
            Outcome::Undone => {
                lines.push(format!("not written: {name} (created, then deleted again)"))
            }
            _ => lines.push(format!("not written: {name}")),
        }
    }
    lines
}

fn written(outcomes: &[Outcome]) -> Vec<Value> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Done { object, .. } if !object.is_null() => Some(object.clone()),
            _ => None,
        })
        .collect()
}

/// What was done: kubectl's lines, or the objects with -o yaml|json (an empty list only when
/// the command succeeded).
fn done(format: Option<ObjectFormat>, outcomes: &[Outcome], succeeded: bool) -> String {
    let mut lines = String::new();
    let mut objects = vec![];
    for outcome in outcomes {
        if let Outcome::Done { line, object, .. } = outcome {
            lines.push_str(line);
            objects.push(object.clone());
        }
    }
    if lines.is_empty() && !succeeded {
        return String::new();
    }
    match format {
        None => lines,
        Some(format) => render::objects(format, &objects),
    }
}
