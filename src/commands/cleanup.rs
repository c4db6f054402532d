//! `kubectl egress cleanup [HOST...]`: delete what the plugin created, nothing else.
//!
//! Everything it deletes is selected by the label app.kubernetes.io/managed-by=kubectl-egress:
//! a hand-made object is never touched, whatever its name. Without hosts, delete-collection in
//! bounded batches per kind (each request deletes at most a batch, so none outlives
//! --request-timeout while the server goes on deleting); `-A` first lists the labelled objects
//! across namespaces (there is no cluster-wide delete-collection for namespaced kinds), then
//! deletes per namespace. With hosts, one list per kind and one delete (uid-guarded) per object.
//! Each object is printed as it goes; a failure says how far it got.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::api::Preconditions;

use serde_json::Value;

use crate::cli::CleanupArgs;
use crate::cluster::api::{Batch, DeleteRequest, IstioApi};
use crate::cluster::connect;
use crate::core::objects::istio::{
    COMPONENT_LABEL, COMPONENT_VALUE, DestinationRuleSpec, GatewaySpec, Kind, MANAGED_BY_LABEL,
    MANAGED_BY_VALUE, ServiceEntrySpec, VirtualServiceSpec, metadata_of, strip_namespace, typed,
};
use crate::core::objects::validate::Host;
use crate::core::plans::change::Resource;
use crate::core::plans::gateway;
use crate::core::plans::manifest::{self, ApiKind};
use crate::core::render::{self, ObjectFormat};
use crate::error::{Error, Result, exit};
use crate::settings::{DryRun, Settings};
use crate::write;

use super::manifests::{live, load, resolve};
use super::parse_hosts;
use crate::core::plans::change::find_by_name;

/// Objects per delete-collection request: starts here, doubles while a batch takes under an
/// eighth of --request-timeout, halves when one takes over a third.
const FIRST_BATCH: u32 = 100;
const MAX_BATCH: u32 = 2000;
const MIN_BATCH: u32 = 10;

/// Prints each deleted object as it goes (or keeps it for -o yaml|json), and counts.
struct Report {
    format: Option<ObjectFormat>,
    all_namespaces: bool,
    suffix: &'static str,
    kept: Vec<Value>,
    count: usize,
    /// Whether something `gateway` wrote went: then its Gateways go too.
    gateway_objects: bool,
    /// --wait with -o yaml|json: the objects are printed after the wait, with its figures.
    hold: bool,
    /// The hosts of what went (for --wait).
    hosts: Vec<String>,
}

impl Report {
    fn deleted(&mut self, object: Value) {
        self.count += 1;
        for host in hosts_of(&object) {
            if !self.hosts.contains(&host) {
                self.hosts.push(host);
            }
        }
        let metadata = metadata_of(&object);
        self.gateway_objects |= metadata.is_gateways();
        match self.format {
            Some(_) => self.kept.push(object),
            None => {
                let ns = if self.all_namespaces {
                    format!(" -n {}", metadata.namespace.unwrap_or_default())
                } else {
                    String::new()
                };
                println!("{} deleted{}{ns}", render::name(&object), self.suffix);
            }
        }
    }

    fn finish(&mut self) {
        if self.hold {
            write::hold(std::mem::take(&mut self.kept));
        } else if let Some(format) = self.format {
            print!("{}", render::objects(format, &self.kept));
        }
    }
}

/// A ServiceEntry's or VirtualService's hosts (other kinds: none a sidecar routes by).
fn hosts_of(object: &Value) -> Vec<String> {
    object["spec"]["hosts"]
        .as_array()
        .map(|hosts| {
            hosts
                .iter()
                .filter_map(|h| h.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the objects wait to be printed after --wait (not in a dry run).
fn holds(settings: &Settings, format: Option<ObjectFormat>) -> bool {
    settings.wait.is_some()
        && settings.dry_run == DryRun::None
        && matches!(format, Some(ObjectFormat::Json | ObjectFormat::Yaml))
}

pub async fn run(settings: &Settings, args: CleanupArgs) -> Result<u8> {
    if !args.filenames.is_empty() {
        return cleanup_files(settings, &args.filenames).await;
    }
    let hosts = parse_hosts(&args.hosts)?;
    let format = settings.object_format()?;
    if args.all_namespaces && settings.wait.is_some() {
        return Err(Error::input(
            "--wait is for one namespace's sidecars: leave out -A, or --wait",
        ));
    }
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    let (session_namespace, cluster) = connect::open_cluster(settings).await?;
    let api = IstioApi::new(&cluster, settings.api_version).verify_namespaces();
    let namespace = (!args.all_namespaces).then_some(session_namespace.as_str());
    let mut report = Report {
        format,
        all_namespaces: args.all_namespaces,
        suffix: match settings.dry_run {
            DryRun::None => "",
            DryRun::Client => " (dry run)",
            DryRun::Server => " (server dry run)",
        },
        kept: vec![],
        count: 0,
        gateway_objects: false,
        hold: holds(settings, format),
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
    };
    let deletion = Deletion {
        api: &api,
        namespace,
        hosts: &hosts,
        dry_run: settings.dry_run,
        request_timeout: cluster.request_timeout,
    };
    let result = delete(&deletion, &selector, &mut report).await;
    report.finish();
    if let Err(error) = result {
        if report.count > 0 {
            eprintln!(
                "{} object(s) deleted before the failure (listed above); the rest remain: run cleanup again",
                report.count
            );
        }
        return Err(error);
    }
    if report.count == 0 && format.is_none() {
        eprintln!(
            "nothing to delete: no objects labelled {selector}{}",
            namespace
                .map(|ns| format!(" in namespace {ns}"))
                .unwrap_or_default()
        );
    }
    let written = super::wait::Written {
        namespace: &session_namespace,
        hosts: std::mem::take(&mut report.hosts),
        proxies: super::wait::Proxies::Sidecars,
    };
    super::wait::after_write(settings, &cluster, written, exit::OK).await
}

/// `cleanup -f PATH...`: deletes exactly the objects the files name that carry the plugin's
/// label, each only if it is still the object listed (uid). The others are skipped, on stderr.
async fn cleanup_files(settings: &Settings, paths: &[PathBuf]) -> Result<u8> {
    let format = settings.object_format()?;
    let manifests = load(paths)?;
    let (namespace, cluster) = connect::open_cluster(settings).await?;
    manifest::check_scope(&manifests, &namespace).map_err(crate::error::Error::Content)?;
    let api = IstioApi::new(&cluster, settings.api_version);
    let resources = resolve(&api, &manifests, &namespace).await?;
    let live = live(&api, &resources, &namespace).await?;
    let suffix = match settings.dry_run {
        DryRun::None => "",
        DryRun::Client => " (dry run)",
        DryRun::Server => " (server dry run)",
    };
    let mut deleted: Vec<Value> = vec![];
    let mut hosts: Vec<String> = vec![];
    let mut seen: Vec<(ApiKind, String)> = vec![];
    // In reverse: what was applied last (routes, gateways) goes first.
    for (m, resource) in manifests.iter().zip(resources).rev() {
        let key = (m.kind.clone(), m.name().to_string());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let shown = format!("{}/{}", m.kind.qualified(), m.name());
        let Some(object) = live
            .get(&m.kind)
            .and_then(|items| find_by_name(items, m.name()))
        else {
            eprintln!(
                "skipped {shown} ({}): not found in namespace {namespace}",
                m.origin
            );
            continue;
        };
        let metadata = metadata_of(object);
        if !metadata.is_managed() {
            eprintln!(
                "skipped {shown} ({}): not made by kubectl-egress (no label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}), left as it is",
                m.origin
            );
            continue;
        }
        if settings.dry_run != DryRun::Client {
            api.delete(DeleteRequest {
                kind: &Resource::Discovered(resource),
                namespace: &namespace,
                name: m.name(),
                preconditions: Preconditions {
                    uid: metadata.uid.clone(),
                    resource_version: None,
                },
                dry_run: settings.dry_run == DryRun::Server,
            })
            .await?;
        }
        for host in hosts_of(object) {
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        match format {
            Some(_) => deleted.push(object.clone()),
            None => println!("{} deleted{suffix}", render::name(object)),
        }
    }
    if holds(settings, format) {
        write::hold(deleted);
    } else if let Some(format) = format {
        print!("{}", render::objects(format, &deleted));
    }
    let written = super::wait::Written {
        namespace: &namespace,
        hosts,
        proxies: super::wait::Proxies::Sidecars,
    };
    super::wait::after_write(settings, &cluster, written, exit::OK).await
}

/// What `cleanup` deletes and how: in a namespace (None: all), the plugin's objects for `hosts`
/// (none: all of them).
struct Deletion<'a> {
    api: &'a IstioApi<'a>,
    namespace: Option<&'a str>,
    hosts: &'a [Host],
    dry_run: DryRun,
    request_timeout: Option<Duration>,
}

/// Routes first, so no VirtualService is left pointing at a host no longer allowed; the
/// ServiceEntry before the DestinationRule that originates TLS for its port 80 (never a moment of
/// plain HTTP to the host's 443). Then, only where `gateway` wrote (its objects carry its
/// component label, so a student's cleanup costs no extra request), its Gateways; never the
/// Gateways `apply -f` wrote.
const ORDER: [Kind; 4] = [
    Kind::VirtualService,
    Kind::ServiceEntry,
    Kind::DestinationRule,
    Kind::Gateway,
];

async fn delete(deletion: &Deletion<'_>, selector: &str, report: &mut Report) -> Result<()> {
    let gateway_selector = format!("{selector},{COMPONENT_LABEL}={COMPONENT_VALUE}");
    // The bases of the ServiceEntries `gateway` wrote that went: their gateway rules go too.
    let mut gateway_bases: Vec<String> = vec![];
    for kind in ORDER {
        let selector = match kind {
            Kind::Gateway if !report.gateway_objects && gateway_bases.is_empty() => continue,
            Kind::Gateway => gateway_selector.as_str(),
            _ => selector,
        };
        if deletion.hosts.is_empty() && deletion.dry_run != DryRun::Client {
            delete_all(deletion, kind, selector, report).await?;
        } else {
            delete_listed(deletion, kind, selector, &mut gateway_bases, report).await?;
        }
    }
    Ok(())
}

/// Deletes every object of `kind` matching `selector`, by delete-collection per namespace (with
/// all namespaces, those the objects are in, from a list first).
async fn delete_all(
    deletion: &Deletion<'_>,
    kind: Kind,
    selector: &str,
    report: &mut Report,
) -> Result<()> {
    let api = deletion.api;
    let namespaces: Vec<String> = match deletion.namespace {
        Some(ns) => vec![ns.to_string()],
        None => {
            let mut found = BTreeSet::new();
            api.list_each(kind, None, Some(selector), |object| {
                if let Some(ns) = metadata_of(&object).namespace {
                    found.insert(ns);
                }
            })
            .await?;
            found.into_iter().collect()
        }
    };
    for ns in namespaces {
        delete_in_batches(
            api,
            kind,
            &ns,
            selector,
            deletion.dry_run == DryRun::Server,
            deletion.request_timeout,
            report,
        )
        .await?;
    }
    Ok(())
}

/// Lists the objects of `kind` matching `selector` and deletes, one by one, those for the hosts
/// (all with none), each only if it is still the object listed (uid).
async fn delete_listed(
    deletion: &Deletion<'_>,
    kind: Kind,
    selector: &str,
    gateway_bases: &mut Vec<String>,
    report: &mut Report,
) -> Result<()> {
    let api = deletion.api;
    for object in api.list(kind, deletion.namespace, Some(selector)).await? {
        let metadata = metadata_of(&object);
        if !is_for_hosts(kind, &object, deletion.hosts, gateway_bases) {
            continue;
        }
        if kind == Kind::ServiceEntry && metadata.is_gateways() {
            gateway_bases.push(metadata.name.clone());
        }
        if deletion.dry_run != DryRun::Client {
            api.delete(DeleteRequest {
                kind: &kind.into(),
                namespace: metadata.namespace.as_deref().unwrap_or_default(),
                name: &metadata.name,
                // Uid only: cleanup removes the object whatever changed in it meanwhile.
                preconditions: Preconditions {
                    uid: metadata.uid,
                    resource_version: None,
                },
                dry_run: deletion.dry_run == DryRun::Server,
            })
            .await?;
        }
        report.deleted(object);
    }
    Ok(())
}

/// Whether `object`, of `kind`, is for one of `hosts` (any object with none): a host it lists
/// (a Gateway's servers' hosts without their `namespace/`); for a DestinationRule, the host it is
/// for, or being `gateway`'s rule for the egress gateway Service, named after a host's
/// ServiceEntry among `gateway_bases` (core::plans::gateway).
fn is_for_hosts(kind: Kind, object: &Value, hosts: &[Host], gateway_bases: &[String]) -> bool {
    if hosts.is_empty() {
        return true;
    }
    let wanted = |h: &String| {
        let h = strip_namespace(h);
        hosts.iter().any(|w| h == w.as_str())
    };
    match kind {
        Kind::Gateway => typed::<GatewaySpec>(object)
            .spec
            .servers
            .iter()
            .any(|s| s.hosts.iter().any(wanted)),
        Kind::DestinationRule => {
            let rule = typed::<DestinationRuleSpec>(object);
            hosts.iter().any(|w| w.as_str() == rule.spec.host)
                || gateway_bases
                    .iter()
                    .any(|base| gateway::Names::of(base).destination_rule == rule.metadata.name)
        }
        Kind::ServiceEntry => typed::<ServiceEntrySpec>(object)
            .spec
            .hosts
            .iter()
            .any(wanted),
        Kind::VirtualService => typed::<VirtualServiceSpec>(object)
            .spec
            .hosts
            .iter()
            .any(wanted),
    }
}

/// Deletes a kind's labelled objects in one namespace, batch after batch, until none is left.
/// With more than one batch, progress goes to stderr.
async fn delete_in_batches(
    api: &IstioApi<'_>,
    kind: Kind,
    namespace: &str,
    selector: &str,
    dry_run: bool,
    request_timeout: Option<Duration>,
    report: &mut Report,
) -> Result<()> {
    let mut limit = FIRST_BATCH;
    let mut token: Option<String> = None;
    let mut here = 0usize;
    loop {
        let started = Instant::now();
        let (deleted, next) = api
            .delete_batch(
                kind,
                namespace,
                selector,
                &Batch {
                    limit,
                    continue_token: token.as_deref(),
                },
                dry_run,
            )
            .await
            .map_err(|e| match e {
                Error::Runtime { reason, message } if message.contains("did not answer in time") => {
                    Error::failed(
                        reason,
                        format!(
                            "{message}; the server may still be deleting that batch of at most {limit} {}",
                            kind.plural()
                        ),
                    )
                }
                other => other,
            })?;
        let took = started.elapsed();
        here += deleted.len();
        for object in deleted {
            report.deleted(object);
        }
        let Some(next) = next else { break };
        token = Some(next);
        eprintln!(
            "cleanup: {here} {} deleted in namespace {namespace} so far, going on",
            kind.plural()
        );
        if let Some(timeout) = request_timeout {
            if took < timeout / 8 {
                limit = (limit * 2).min(MAX_BATCH);
            } else if took > timeout / 3 {
                limit = (limit / 2).max(MIN_BATCH);
            }
        } else {
            limit = (limit * 2).min(MAX_BATCH);
        }
    }
    if here == 0 {
        api.check_namespace(namespace).await?;
    } else {
        api.namespace_exists(namespace);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An object of `kind` as the API server lists it.
    fn object(kind: &str, name: &str, spec: Value) -> Value {
        json!({"apiVersion": "networking.istio.io/v1", "kind": kind,
            "metadata": {"name": name, "namespace": "s1"}, "spec": spec})
    }

    fn hosts(names: &[&str]) -> Vec<Host> {
        names.iter().map(|h| Host::parse(h).unwrap()).collect()
    }

    #[test]
    fn objects_are_for_the_hosts_they_list() {
        let wanted = hosts(&["httpbin.org"]);
        let se = object("ServiceEntry", "httpbin", json!({"hosts": ["httpbin.org"]}));
        assert!(is_for_hosts(Kind::ServiceEntry, &se, &wanted, &[]));
        assert!(!is_for_hosts(
            Kind::ServiceEntry,
            &se,
            &hosts(&["other.org"]),
            &[]
        ));
        // No hosts: every object.
        assert!(is_for_hosts(Kind::VirtualService, &json!({}), &[], &[]));
        let gw = object(
            "Gateway",
            "g",
            json!({"servers": [{"hosts": ["./httpbin.org"]}]}),
        );
        assert!(is_for_hosts(Kind::Gateway, &gw, &wanted, &[]));
    }

    #[test]
    fn destination_rules_are_for_their_host_or_a_gateway_base() {
        let wanted = hosts(&["httpbin.org"]);
        let origination = object(
            "DestinationRule",
            "originate-tls-for-httpbin",
            json!({"host": "httpbin.org"}),
        );
        assert!(is_for_hosts(
            Kind::DestinationRule,
            &origination,
            &wanted,
            &[]
        ));
        let gateways = object(
            "DestinationRule",
            "egressgateway-for-httpbin",
            json!({"host": "istio-egressgateway.istio-system.svc.cluster.local"}),
        );
        assert!(!is_for_hosts(
            Kind::DestinationRule,
            &gateways,
            &wanted,
            &[]
        ));
        assert!(is_for_hosts(
            Kind::DestinationRule,
            &gateways,
            &wanted,
            &["httpbin".into()]
        ));
    }
}
