//! Read-compose-write under optimistic concurrency: a command's attempt is made again, from a
//! fresh read, when another writer changed what it was composed from.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::report::Action;
use crate::error::{Error, Reason, Result};

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
pub struct Written(RefCell<BTreeMap<String, Action>>);

impl Written {
    /// What an earlier write of this command did to the object (`kind/name`), if any.
    pub fn earlier(&self, name: &str) -> Option<Action> {
        self.0.borrow().get(name).copied()
    }

    pub fn remember(&self, name: &str, action: Action) {
        self.0.borrow_mut().insert(name.to_string(), action);
    }

    /// The object was deleted again.
    pub fn forget(&self, name: &str) {
        self.0.borrow_mut().remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit;

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
