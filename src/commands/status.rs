//! `kubectl egress status [HOST...]`: what is allowed, how it is routed, what is wrong.
//!
//! Requests: one list each of the namespace's ServiceEntries and VirtualServices, one
//! cluster-wide list each of ServiceEntries, VirtualServices and DestinationRules (other
//! namespaces' exports and istio-system's; refused, istio-system's alone), one list of
//! istio-system's Gateways, one get for the mesh ConfigMap and for each Service a route sends
//! to, the Sidecars, EnvoyFilters and WasmPlugins (cluster/view.rs); with --proxies, one list of
//! pods and a port-forward to each sidecar. Reads the user may not make are reported
//! as unknown, never as an error that hides the rest.

use std::io::{IsTerminal, Write};

use serde::Serialize;
use tokio::time::Instant;

use crate::cli::StatusArgs;
use crate::cluster::connect::Cluster;
use crate::cluster::proxies::{self, Unreachable};
use crate::cluster::view::{Reach, read_view};
use crate::cluster::{api::IstioApi, connect};
use crate::core::analysis::graph;
use crate::core::analysis::live::{self, ProxyReport};
use crate::core::analysis::proxy_config::RetriesByHost;
use crate::core::analysis::status::{self, Report, Severity};
use crate::core::objects::istio::{Kind, ServiceEntry, VirtualService};
use crate::core::render::ObjectFormat;
use crate::error::{Error, Reason, Result, exit};
use crate::settings::{Output, Settings};

use super::parse_hosts;

pub async fn run(settings: &Settings, args: StatusArgs) -> Result<u8> {
    let hosts: Vec<String> = parse_hosts(&args.hosts)?
        .iter()
        .map(|h| h.to_string())
        .collect();
    if settings.output == Output::Objects(ObjectFormat::Name) {
        return Err(Error::input(
            "-o name is not available for status: use wide, yaml, json or dot",
        ));
    }
    if args.graph && settings.output != Output::Default {
        return Err(Error::input(
            "--graph draws a tree: leave out -o (or use -o dot for Graphviz)",
        ));
    }
    if settings.output == Output::Dot && args.proxies {
        return Err(Error::input(
            "-o dot draws status's prediction: leave out --proxies (or use -o json)",
        ));
    }
    let (session_namespace, cluster) = connect::open_cluster(settings).await?;
    let api = IstioApi::new(&cluster, settings.api_version).verify_namespaces();
    let namespace = (!args.all_namespaces).then_some(session_namespace.as_str());

    let service_entries: Vec<ServiceEntry> =
        api.list_typed(Kind::ServiceEntry, namespace, None).await?;
    let virtual_services: Vec<VirtualService> = api
        .list_typed(Kind::VirtualService, namespace, None)
        .await?;
    let view = read_view(
        &api,
        namespace,
        service_entries,
        virtual_services,
        &[],
        Reach::Elsewhere,
    )
    .await;
    let report = status::analyse_in(&view, namespace, &hosts);
    let retries = args
        .proxies
        .then(|| live::retries_by_host(&report, &view.virtual_services));
    // The report owns what it says: what was read goes before it is printed (memory).
    drop(view);
    let proxies = match retries {
        Some(retries) => Some(read_proxies(&cluster, namespace, &report, &retries).await),
        None => None,
    };
    let listed = proxies.as_ref().map(|p| p.as_ref().map(Vec::as_slice));
    print(settings, &args, &report, listed.and_then(|p| p.ok()));
    if !hosts.is_empty() {
        for missing in hosts
            .iter()
            .filter(|h| !report.hosts.iter().any(|r| &r.host == *h))
        {
            eprintln!("{missing}: no ServiceEntry or VirtualService in this namespace");
        }
    }
    let proxies = match proxies {
        Some(Err(error)) => return Err(error),
        Some(Ok(proxies)) => proxies,
        None => vec![],
    };
    if let Some(forbidden) = proxies.iter().find(|p| {
        p.unreadable
            .as_deref()
            .is_some_and(|w| w.starts_with(FORBIDDEN))
    }) {
        return Err(Error::failed(
            Reason::PortForwardForbidden,
            format!(
                "--proxies cannot create pods/portforward in namespace {} (forbidden): ask for it (RBAC: create on pods/portforward), or leave out --proxies",
                forbidden.namespace
            ),
        ));
    }
    let differs = proxies.iter().any(|p| p.agrees == Some(false));
    let failing = report.worst().is_some_and(|s| s >= Severity::Warning) || differs;
    Ok(if args.exit_code && failing {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// `status -o json|yaml`: the report's fields, then (with --proxies) `proxies`.
#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    report: &'a Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    proxies: Option<&'a [ProxyReport]>,
}

fn print(settings: &Settings, args: &StatusArgs, report: &Report, proxies: Option<&[ProxyReport]>) {
    let shown = Shown { report, proxies };
    match settings.output {
        // Written as serialised, not built whole first: a namespace of 20,000 hosts makes tens
        // of megabytes of JSON or YAML.
        Output::Objects(ObjectFormat::Json) => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if serde_json::to_writer_pretty(&mut out, &shown).is_ok() {
                let _ = writeln!(out);
            }
            let _ = out.flush();
        }
        Output::Objects(_) => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if let Err(e) = serde_saphyr::to_io_writer(&mut out, &shown) {
                let _ = writeln!(out, "# cannot render YAML: {e}");
            }
            let _ = out.flush();
        }
        Output::Dot => print!("{}", graph::dot(report)),
        Output::Default if args.graph => {
            // Colour only for a person at a terminal, and never when NO_COLOR is set.
            let colour = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            print!("{}", graph::tree(report, colour));
        }
        Output::Default | Output::Wide => {
            let wide = settings.output == Output::Wide;
            let shown = status::Columns {
                namespace: args.all_namespaces,
                wide,
            };
            print!("{}", status::table(report, shown));
            if let Some(proxies) = proxies {
                print!("{}", live::section(proxies, wide));
            }
        }
    }
}

/// The reason an unreadable pod gives when its port-forward is refused.
const FORBIDDEN: &str = "forbidden";

/// Each running sidecar the report is for (the namespace's, or every namespace's with -A), read
/// once and compared; at most 8 port-forwards at a time, each within 10 s.
async fn read_proxies(
    cluster: &Cluster,
    namespace: Option<&str>,
    report: &Report,
    retries: &RetriesByHost,
) -> Result<Vec<ProxyReport>> {
    use futures_util::stream::StreamExt;
    let found = match namespace {
        Some(namespace) => proxies::sidecars(cluster, namespace).await,
        None => proxies::all_sidecars(cluster).await,
    };
    let pods = found.map_err(|e| match e {
        Unreachable::Forbidden(what) => Error::failed(
            Reason::Forbidden,
            format!(
                "--proxies cannot {what}: forbidden; ask for list on pods, or leave out --proxies"
            ),
        ),
        Unreachable::Gone => Error::runtime("--proxies found no such namespace"),
        Unreachable::Other(why) => Error::runtime(format!("--proxies {why}")),
    })?;
    let deadline = Instant::now() + READ_WITHIN;
    let read = pods.iter().map(|pod| async move {
        let whose = live::Pod {
            namespace: &pod.namespace,
            name: &pod.name,
            labels: &pod.labels,
        };
        match proxies::read_config(cluster, pod, deadline).await {
            Ok(config) => live::compare(report, &whose, retries, &config),
            Err(Unreachable::Forbidden(what)) => {
                live::unreadable(&whose, format!("{FORBIDDEN}: {what}"))
            }
            Err(Unreachable::Gone) => live::unreadable(&whose, "the pod is gone".into()),
            Err(Unreachable::Other(why)) => live::unreadable(&whose, why),
        }
    });
    Ok(futures_util::stream::iter(read)
        .buffered(AT_ONCE)
        .collect()
        .await)
}

const AT_ONCE: usize = 8;
const READ_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);
