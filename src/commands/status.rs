//! `kubectl egress status [HOST...]`: what is allowed, how it is routed, what is wrong.
//!
//! Requests: one list each of the namespace's ServiceEntries and VirtualServices, one
//! cluster-wide list each of ServiceEntries, VirtualServices and DestinationRules (other
//! namespaces' exports and istio-system's; refused, istio-system's alone), one list of
//! istio-system's Gateways, one get for the mesh ConfigMap and for each Service a route sends
//! to, the Sidecars and EnvoyFilters (cluster/view.rs). Reads the user may not make are reported
//! as unknown, never as an error that hides the rest.

use std::io::Write;

use crate::cli::StatusArgs;
use crate::cluster::view::{Reach, read_view};
use crate::cluster::{api::IstioApi, connect};
use crate::core::istio::{Kind, ServiceEntry, VirtualService};
use crate::core::render::ObjectFormat;
use crate::core::status::{self, Severity};
use crate::error::{Error, Result, exit};
use crate::settings::{Output, Settings};

use super::parse_hosts;

pub async fn run(settings: &Settings, args: StatusArgs) -> Result<u8> {
    let hosts: Vec<String> = parse_hosts(&args.hosts)?
        .iter()
        .map(|h| h.to_string())
        .collect();
    if settings.output == Output::Objects(ObjectFormat::Name) {
        return Err(Error::input(
            "-o name is not available for status: use wide, yaml or json",
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
    // The report owns what it says: what was read goes before it is printed (memory).
    drop(view);
    match settings.output {
        // Written as serialised, not built whole first: a namespace of 20,000 hosts makes tens
        // of megabytes of JSON or YAML.
        Output::Objects(ObjectFormat::Json) => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if serde_json::to_writer_pretty(&mut out, &report).is_ok() {
                let _ = writeln!(out);
            }
            let _ = out.flush();
        }
        Output::Objects(_) => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if let Err(e) = serde_saphyr::to_io_writer(&mut out, &report) {
                let _ = writeln!(out, "# cannot render YAML: {e}");
            }
            let _ = out.flush();
        }
        Output::Default | Output::Wide => print!(
            "{}",
            status::table(
                &report,
                status::Columns {
                    namespace: args.all_namespaces,
                    wide: settings.output == Output::Wide,
                }
            )
        ),
    }
    if !hosts.is_empty() {
        for missing in hosts
            .iter()
            .filter(|h| !report.hosts.iter().any(|r| &r.host == *h))
        {
            eprintln!("{missing}: no ServiceEntry or VirtualService in this namespace");
        }
    }
    let failing = report.worst().is_some_and(|s| s >= Severity::Warning);
    Ok(if args.exit_code && failing {
        exit::FINDINGS
    } else {
        exit::OK
    })
}
