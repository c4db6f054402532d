//! One module per subcommand: parse -> plan (core) -> cluster (edge) -> print.
//! What the writing commands share lives here: reading hosts, printing warnings; the writes
//! themselves go through the write engine (`crate::write`).

pub mod allow;
pub mod apply;
pub mod cleanup;
pub mod completion;
pub mod gateway;
mod manifests;
pub mod route;
pub mod status;
pub mod wait;

use crate::cli::{Cli, Command};

use crate::core::objects::validate::Host;
use crate::core::plans::change::Refusal;
use crate::error::{Error, Reason, Result, exit};
use crate::settings::Settings;

pub async fn run(cli: Cli) -> Result<u8> {
    let mut settings = Settings::from_args(&cli.global, std::env::var("STUDENT_NS").ok())?;
    settings.wait = cli.command.wait();
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

pub use crate::core::plans::change::Change;

pub fn warn(message: &str) {
    eprintln!("warning: {message}");
}
