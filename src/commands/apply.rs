//! `kubectl egress apply -f PATH...` and `cleanup -f PATH...`: the exercise's first and last
//! steps, `envsubst < f | kubectl apply -f -` and `kubectl delete -f`, scoped to one namespace.
//!
//! read files -> substitute, parse, check scope (core::manifest) -> discovery of only the
//! group-versions the files use (one request each) -> one list per kind (created, configured or
//! unchanged; what cleanup may delete) -> server-side apply through `carry_out` (server dry run of
//! all first when there are several), or uid-guarded deletes.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use kube::api::Preconditions;
use serde_json::Value;

use crate::cli::ApplyArgs;
use crate::cluster::api::{IstioApi, Precondition, Resource};
use crate::cluster::connect::{self, Cluster};
use crate::core::istio::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, Metadata};
use crate::core::manifest::{self, ApiKind, Manifest};
use crate::core::render;
use crate::error::{Error, Reason, Result, exit};
use crate::settings::{DryRun, Settings};

use super::{Change, Written, carry_out, warn};

/// One file's text, and how to parse it.
struct Source {
    name: String,
    text: String,
    json: bool,
}

/// Files as kubectl reads `-f`: a file, a directory's *.yaml/*.yml/*.json (sorted, not
/// recursive), or `-` for stdin (once).
fn read_sources(paths: &[PathBuf]) -> Result<Vec<Source>> {
    let mut sources = vec![];
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_read {
                return Err(Error::input("-f - given twice: stdin can be read once"));
            }
            stdin_read = true;
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::input(format!("cannot read stdin: {e}")))?;
            sources.push(Source {
                name: "-".into(),
                text,
                json: false,
            });
            continue;
        }
        let metadata = std::fs::metadata(path)
            .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
        if metadata.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && extension(p).is_some())
                .collect();
            files.sort();
            for file in files {
                sources.push(read_file(&file)?);
            }
        } else {
            sources.push(read_file(path)?);
        }
    }
    Ok(sources)
}

fn extension(path: &Path) -> Option<&'static str> {
    match path.extension()?.to_str()? {
        "yaml" => Some("yaml"),
        "yml" => Some("yml"),
        "json" => Some("json"),
        _ => None,
    }
}

fn read_file(path: &Path) -> Result<Source> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
    Ok(Source {
        name: path.display().to_string(),
        text,
        json: extension(path) == Some("json"),
    })
}

/// Every object the paths name, substituted from the environment and parsed.
fn load(paths: &[PathBuf]) -> Result<Vec<Manifest>> {
    let env = |name: &str| std::env::var(name).ok();
    let mut manifests = vec![];
    for source in read_sources(paths)? {
        let text = manifest::substitute(&source.name, &source.text, &env)?;
        manifests.extend(manifest::parse(&source.name, &text, source.json)?);
    }
    if manifests.is_empty() {
        let named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::input(format!(
            "no objects in {}: give YAML or JSON files, or directories holding *.yaml, *.yml or *.json",
            named.join(", ")
        )));
    }
    Ok(manifests)
}

/// Each object's kind as the cluster serves it: one discovery request per group-version the
/// files use. An unknown kind is exit 6; a cluster-scoped one exit 2 (nothing written either way).
async fn resolve(
    api: &IstioApi<'_>,
    manifests: &[Manifest],
    namespace: &str,
) -> Result<Vec<manifest::Resource>> {
    let mut served: BTreeMap<String, Option<Vec<manifest::Resource>>> = BTreeMap::new();
    for gv in manifest::group_versions(manifests) {
        let kinds = api.discover(&gv).await?;
        served.insert(gv, kinds);
    }
    manifests
        .iter()
        .map(|m| {
            let gv = m.kind.group_version();
            let Some(kinds) = &served[&gv] else {
                return Err(Error::failed(
                    Reason::KindMissing,
                    format!(
                        "{}: {} cannot be applied: the cluster does not serve {gv}, so kind {} is unknown (its CRD is not installed, or apiVersion is wrong)",
                        m.origin,
                        m.describe(),
                        m.kind.kind
                    ),
                ));
            };
            let resource = kinds.iter().find(|r| r.kind.kind == m.kind.kind).ok_or_else(|| {
                Error::failed(
                    Reason::KindMissing,
                    format!(
                        "{}: {} cannot be applied: the cluster serves {gv} but no kind {} in it (its CRD is not installed, or the kind is misspelt)",
                        m.origin,
                        m.describe(),
                        m.kind.kind
                    ),
                )
            })?;
            if !resource.namespaced {
                return Err(manifest::cluster_scoped(m, namespace).into());
            }
            Ok(resource.clone())
        })
        .collect()
}

/// The objects already in the namespace, by kind: one list per kind.
async fn live(
    api: &IstioApi<'_>,
    resources: &[manifest::Resource],
    namespace: &str,
) -> Result<BTreeMap<ApiKind, Vec<Value>>> {
    let mut live = BTreeMap::new();
    for resource in resources {
        if !live.contains_key(&resource.kind) {
            let items = api.list_resource(resource, namespace).await?;
            live.insert(resource.kind.clone(), items);
        }
    }
    Ok(live)
}

fn named<'v>(
    live: &'v BTreeMap<ApiKind, Vec<Value>>,
    kind: &ApiKind,
    name: &str,
) -> Option<&'v Value> {
    live.get(kind)?
        .iter()
        .find(|v| v["metadata"]["name"].as_str() == Some(name))
}

pub async fn run(settings: &Settings, args: ApplyArgs) -> Result<u8> {
    settings.object_format()?;
    let mut manifests = load(&args.filenames)?;
    let session = connect::open(settings, settings.dry_run == DryRun::Client).await?;
    let namespace = session.namespace.clone();
    manifest::check_scope(&manifests, &namespace)?;
    for m in &mut manifests {
        if let Some(warning) = manifest::place(m, &namespace) {
            warn(&warning);
        }
    }
    let Some(cluster) = &session.cluster else {
        warn(
            "no kubeconfig: rendering from the files alone; kinds are not checked against a cluster",
        );
        let changes = manifests
            .into_iter()
            .map(|m| Change::Apply {
                kind: Resource::Discovered(manifest::Resource {
                    kind: m.kind,
                    plural: String::new(),
                    namespaced: true,
                }),
                namespace: namespace.clone(),
                object: m.object,
                before: None,
                precondition: Precondition::None,
            })
            .collect();
        return carry_out(settings, None, changes, false, &Written::default()).await;
    };
    apply(
        settings,
        cluster,
        manifests,
        &namespace,
        args.force_conflicts,
    )
    .await
}

async fn apply(
    settings: &Settings,
    cluster: &Cluster,
    manifests: Vec<Manifest>,
    namespace: &str,
    force_conflicts: bool,
) -> Result<u8> {
    let api = IstioApi::new(cluster, settings.api_version);
    let resources = resolve(&api, &manifests, namespace).await?;
    let live = live(&api, &resources, namespace).await?;
    let changes = manifests
        .into_iter()
        .zip(resources)
        .map(|(m, resource)| Change::Apply {
            before: named(&live, &m.kind, m.name()).cloned(),
            kind: Resource::Discovered(resource),
            namespace: namespace.to_string(),
            object: m.object,
            // Server-side apply states the whole object: the result is what the files say,
            // whoever wrote in between, so no precondition (and no retry) is needed.
            precondition: Precondition::None,
        })
        .collect();
    carry_out(
        settings,
        Some(&api),
        changes,
        force_conflicts,
        &Written::default(),
    )
    .await
}

/// `cleanup -f PATH...`: deletes exactly the objects the files name that carry the plugin's
/// label, each only if it is still the object listed (uid). The others are skipped, on stderr.
pub async fn cleanup(settings: &Settings, paths: &[PathBuf]) -> Result<u8> {
    let format = settings.object_format()?;
    let manifests = load(paths)?;
    let (namespace, cluster) = connect::open_cluster(settings).await?;
    manifest::check_scope(&manifests, &namespace)?;
    let api = IstioApi::new(&cluster, settings.api_version);
    let resources = resolve(&api, &manifests, &namespace).await?;
    let live = live(&api, &resources, &namespace).await?;
    let suffix = match settings.dry_run {
        DryRun::None => "",
        DryRun::Client => " (dry run)",
        DryRun::Server => " (server dry run)",
    };
    let mut deleted: Vec<Value> = vec![];
    let mut seen: Vec<(ApiKind, String)> = vec![];
    // In reverse: what was applied last (routes, gateways) goes first.
    for (m, resource) in manifests.iter().zip(resources).rev() {
        let key = (m.kind.clone(), m.name().to_string());
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let shown = format!("{}/{}", m.kind.qualified(), m.name());
        let Some(object) = named(&live, &m.kind, m.name()) else {
            eprintln!(
                "skipped {shown} ({}): not found in namespace {namespace}",
                m.origin
            );
            continue;
        };
        let metadata: Metadata =
            serde_json::from_value(object["metadata"].clone()).unwrap_or_default();
        if !metadata.is_managed() {
            eprintln!(
                "skipped {shown} ({}): not made by kubectl-egress (no label {MANAGED_BY_LABEL}={MANAGED_BY_VALUE}), left as it is",
                m.origin
            );
            continue;
        }
        if settings.dry_run != DryRun::Client {
            api.delete(
                &Resource::Discovered(resource),
                &namespace,
                m.name(),
                Preconditions {
                    uid: metadata.uid.clone(),
                    resource_version: None,
                },
                settings.dry_run == DryRun::Server,
            )
            .await?;
        }
        match format {
            Some(_) => deleted.push(object.clone()),
            None => println!("{} deleted{suffix}", render::name(object)),
        }
    }
    if let Some(format) = format {
        print!("{}", render::objects(format, &deleted));
    }
    Ok(exit::OK)
}
