//! `kubectl egress cleanup [HOST...]`: delete what the plugin created, nothing else.
//!
//! Everything it deletes is selected by the label app.kubernetes.io/managed-by=kubectl-egress:
//! a hand-made object is never touched, whatever its name. Without hosts, one delete-collection
//! request per kind; with hosts, one list per kind and one delete (uid-guarded) per object.

use kube::api::Preconditions;

use serde_json::Value;

use crate::cli::CleanupArgs;
use crate::cluster::{api::IstioApi, connect};
use crate::core::gateway;
use crate::core::istio::{
    COMPONENT_LABEL, COMPONENT_VALUE, Kind, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
};
use crate::core::render;
use crate::error::{Result, exit};
use crate::settings::{DryRun, Settings};

use super::parse_hosts;

pub async fn run(settings: &Settings, args: CleanupArgs) -> Result<u8> {
    if !args.filenames.is_empty() {
        return super::apply::cleanup(settings, &args.filenames).await;
    }
    let hosts = parse_hosts(&args.hosts)?;
    settings.object_format()?;
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    let (session_namespace, cluster) = connect::open_cluster(settings).await?;
    let api = IstioApi::new(&cluster, settings.api_version);
    let namespace = (!args.all_namespaces).then_some(session_namespace.as_str());
    let suffix = match settings.dry_run {
        DryRun::None => "",
        DryRun::Client => " (dry run)",
        DryRun::Server => " (server dry run)",
    };

    let mut deleted: Vec<Value> = vec![];
    // Routes first, so no VirtualService is left pointing at a host no longer allowed. Then, only
    // where `gateway` wrote (its VirtualServices or ServiceEntries carry its component label, so a
    // student's cleanup costs no extra request), its Gateways and DestinationRules; never the
    // Gateways `apply -f` wrote.
    let gateway_selector = format!("{selector},{COMPONENT_LABEL}={COMPONENT_VALUE}");
    let mut gateway_bases: Vec<String> = vec![];
    for kind in [
        Kind::VirtualService,
        Kind::ServiceEntry,
        Kind::Gateway,
        Kind::DestinationRule,
    ] {
        let selector = match kind {
            Kind::Gateway | Kind::DestinationRule => {
                if !deleted.iter().any(gateway::is_gateways) {
                    continue;
                }
                &gateway_selector
            }
            _ => &selector,
        };
        if hosts.is_empty() && settings.dry_run != DryRun::Client {
            let gone = api
                .delete_collection(
                    kind,
                    namespace,
                    selector,
                    settings.dry_run == DryRun::Server,
                )
                .await?;
            deleted.extend(gone);
            continue;
        }
        let listed = api.list(kind, namespace, Some(selector)).await?;
        for object in listed {
            let lists = |list: &Value| {
                list.as_array().is_some_and(|list| {
                    list.iter().filter_map(Value::as_str).any(|h| {
                        let h = h.split_once('/').map_or(h, |(_, h)| h);
                        hosts.iter().any(|w| h == w.as_str())
                    })
                })
            };
            let name = object["metadata"]["name"].as_str().unwrap_or_default();
            let lists_wanted_host = hosts.is_empty()
                || match kind {
                    Kind::Gateway => object["spec"]["servers"]
                        .as_array()
                        .is_some_and(|servers| servers.iter().any(|s| lists(&s["hosts"]))),
                    // The host's DestinationRule is named after its ServiceEntry (core::gateway).
                    Kind::DestinationRule => gateway_bases
                        .iter()
                        .any(|base| gateway::Names::of(base).destination_rule == name),
                    _ => lists(&object["spec"]["hosts"]),
                };
            if !lists_wanted_host {
                continue;
            }
            if kind == Kind::ServiceEntry && gateway::is_gateways(&object) {
                gateway_bases.push(name.to_string());
            }
            if settings.dry_run != DryRun::Client {
                api.delete(
                    &kind.into(),
                    object["metadata"]["namespace"].as_str().unwrap_or_default(),
                    object["metadata"]["name"].as_str().unwrap_or_default(),
                    // Uid only: cleanup removes the object whatever changed in it meanwhile.
                    Preconditions {
                        uid: object["metadata"]["uid"].as_str().map(String::from),
                        resource_version: None,
                    },
                    settings.dry_run == DryRun::Server,
                )
                .await?;
            }
            deleted.push(object);
        }
    }
    match settings.object_format()? {
        Some(format) => print!("{}", render::objects(format, &deleted)),
        None => {
            for object in &deleted {
                let ns = if args.all_namespaces {
                    format!(
                        " -n {}",
                        object["metadata"]["namespace"].as_str().unwrap_or("")
                    )
                } else {
                    String::new()
                };
                println!("{} deleted{suffix}{ns}", render::name(object));
            }
            if deleted.is_empty() {
                eprintln!(
                    "nothing to delete: no objects labelled {selector}{}",
                    namespace
                        .map(|ns| format!(" in namespace {ns}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    Ok(exit::OK)
}
