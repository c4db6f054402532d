//! The one error type. Every failure is one line that names the value or object and says what to
//! do; `main` prints it once and turns it into the exit code, one per kind of failure, so a
//! script can tell "fix your input" from "ask for access" from "the cluster is down".

use crate::core::objects::validate::InputError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input is invalid: nothing was contacted or written.
    #[error("{0}")]
    Input(#[from] InputError),
    /// What the files given with -f hold is invalid (exit 2 as well; the command line itself
    /// was right, so no usage line follows).
    #[error("{0}")]
    Content(InputError),
    /// The kubeconfig, the API server or the objects in it did not allow the work.
    #[error("{message}")]
    Runtime { reason: Reason, message: String },
}

/// Why a command failed at run time; each has its own exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Anything not below.
    Other,
    /// No kubeconfig, an unknown context, or a namespace that does not exist.
    Config,
    /// The API server did not answer, or not in time.
    Unreachable,
    /// networking.istio.io is not served: Istio's CRDs are not installed.
    IstioMissing,
    /// A kind in `apply -f`'s files is not served: its CRD is not installed (exit 6, as Istio's).
    KindMissing,
    /// RBAC forbids the request, or the credentials were rejected.
    Forbidden,
    /// Another owner stands in the way: a hand-made object, or fields another manager owns.
    Conflict,
    /// The API server refused the object (e.g. the CRD's validation rules).
    Rejected,
    /// The object changed between the read a write was composed from and the write (optimistic
    /// concurrency): re-read and retry. Exit 8 when retries run out.
    Modified,
    /// The write would not do what was asked: Istio would ignore it or answer with an error.
    Findings,
    /// --wait: the write stands, but not every sidecar had it live by the deadline (exit 10).
    NotReached,
    /// --wait: the write stands, but RBAC forbids pods/portforward, so no sidecar could be
    /// asked (exit 11).
    PortForwardForbidden,
}

pub type Result<T> = std::result::Result<T, Error>;

/// Exit codes, documented in docs/commands.md and in `--help`.
pub mod exit {
    pub const OK: u8 = 0;
    pub const RUNTIME: u8 = 1;
    pub const INPUT: u8 = 2;
    pub const FINDINGS: u8 = 3;
    pub const CONFIG: u8 = 4;
    pub const UNREACHABLE: u8 = 5;
    pub const ISTIO_MISSING: u8 = 6;
    pub const FORBIDDEN: u8 = 7;
    pub const CONFLICT: u8 = 8;
    pub const REJECTED: u8 = 9;
    /// --wait: written, but not live in every sidecar by the deadline.
    pub const NOT_REACHED: u8 = 10;
    /// --wait: written, but pods/portforward is forbidden: the sidecars could not be asked.
    pub const PORTFORWARD_FORBIDDEN: u8 = 11;
}

impl Error {
    /// A run-time failure of no particular kind (exit 1).
    pub fn runtime(message: impl Into<String>) -> Error {
        Error::failed(Reason::Other, message)
    }

    pub fn failed(reason: Reason, message: impl Into<String>) -> Error {
        Error::Runtime {
            reason,
            message: message.into(),
        }
    }

    /// True when RBAC refused the request.
    pub fn is_forbidden(&self) -> bool {
        matches!(
            self,
            Error::Runtime {
                reason: Reason::Forbidden,
                ..
            }
        )
    }

    /// True when the object changed since it was read: the write may be composed again.
    pub fn is_modified(&self) -> bool {
        matches!(
            self,
            Error::Runtime {
                reason: Reason::Modified,
                ..
            }
        )
    }

    pub fn input(message: impl Into<String>) -> Error {
        Error::Input(InputError(message.into()))
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) | Error::Content(_) => exit::INPUT,
            Error::Runtime { reason, .. } => match reason {
                Reason::Other => exit::RUNTIME,
                Reason::Config => exit::CONFIG,
                Reason::Unreachable => exit::UNREACHABLE,
                Reason::IstioMissing | Reason::KindMissing => exit::ISTIO_MISSING,
                Reason::Forbidden => exit::FORBIDDEN,
                Reason::Conflict | Reason::Modified => exit::CONFLICT,
                Reason::Rejected => exit::REJECTED,
                Reason::Findings => exit::FINDINGS,
                Reason::NotReached => exit::NOT_REACHED,
                Reason::PortForwardForbidden => exit::PORTFORWARD_FORBIDDEN,
            },
        }
    }
}
