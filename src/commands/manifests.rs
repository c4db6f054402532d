//! What `apply -f` and `cleanup -f` share: the files read as kubectl reads `-f` and parsed
//! (core::manifest), each object's kind resolved by discovery of only the group-versions the
//! files use (one request each), and one list per kind of what the namespace holds.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cluster::api::IstioApi;
use crate::core::objects::validate::InputError;
use crate::core::plans::manifest::{self, ApiKind, Manifest};
use crate::error::{Error, Reason, Result};

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
pub fn load(paths: &[PathBuf]) -> Result<Vec<Manifest>> {
    let env = |name: &str| std::env::var(name).ok();
    let mut manifests = vec![];
    for source in read_sources(paths)? {
        let text =
            manifest::substitute(&source.name, &source.text, &env).map_err(Error::Content)?;
        manifests
            .extend(manifest::parse(&source.name, &text, source.json).map_err(Error::Content)?);
    }
    if manifests.is_empty() {
        let named: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(Error::Content(InputError(format!(
            "no objects in {}: give YAML or JSON files, or directories holding *.yaml, *.yml or *.json",
            named.join(", ")
        ))));
    }
    Ok(manifests)
}

/// Each object's kind as the cluster serves it: one discovery request per group-version the
/// files use. An unknown kind is exit 6; a cluster-scoped one exit 2 (nothing written either way).
pub async fn resolve(
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
                return Err(Error::Content(manifest::cluster_scoped(m, namespace)));
            }
            Ok(resource.clone())
        })
        .collect()
}

/// The objects already in the namespace, by kind: one list per kind.
pub async fn live(
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
