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

use serde_json::Value;

use crate::cli::{Cli, Command};

use crate::core::istio::typed;
use crate::core::ownership::Existing;
use crate::core::validate::Host;
use crate::error::{Result, exit};
use crate::settings::Settings;

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

/// What ownership decisions need to know about listed objects.
pub fn existing(listed: &[Value]) -> Vec<Existing> {
    listed
        .iter()
        .map(|v| Existing {
            name: v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            managed: typed::<serde_json::Map<String, Value>>(v)
                .metadata
                .is_managed(),
            // ServiceEntries and VirtualServices list hosts; a DestinationRule names one.
            hosts: v["spec"]["hosts"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|h| h.as_str().map(String::from))
                        .collect()
                })
                .or_else(|| v["spec"]["host"].as_str().map(|h| vec![h.to_string()]))
                .unwrap_or_default(),
        })
        .collect()
}

pub fn find_by_name<'v>(listed: &'v [Value], name: &str) -> Option<&'v Value> {
    listed
        .iter()
        .find(|v| v["metadata"]["name"].as_str() == Some(name))
}

pub use crate::core::change::Change;

pub fn warn(message: &str) {
    eprintln!("warning: {message}");
}
