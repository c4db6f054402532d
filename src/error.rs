//! The one error type. Every failure is one line that names the value or object and says what to
//! do; `main` prints it once and turns it into the exit code.

use crate::core::validate::InputError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input is invalid: nothing was contacted or written.
    #[error("{0}")]
    Input(#[from] InputError),
    /// The kubeconfig, the API server or the objects in it did not allow the work.
    #[error("{0}")]
    Runtime(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// Exit codes, documented in the README and in `--help`.
pub mod exit {
    pub const OK: u8 = 0;
    pub const RUNTIME: u8 = 1;
    pub const INPUT: u8 = 2;
    pub const FINDINGS: u8 = 3;
}

impl Error {
    pub fn runtime(message: impl Into<String>) -> Error {
        Error::Runtime(message.into())
    }

    pub fn input(message: impl Into<String>) -> Error {
        Error::Input(InputError(message.into()))
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => exit::INPUT,
            Error::Runtime(_) => exit::RUNTIME,
        }
    }
}
