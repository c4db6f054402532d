//! `kubectl egress apply -f PATH...`: the exercise's first step, `envsubst < f | kubectl apply
//! -f -`, scoped to one namespace.
//!
//! read files -> substitute, parse, check scope (core::manifest) -> discovery of only the
//! group-versions the files use (one request each) -> one list per kind (created, configured or
//! unchanged) -> server-side apply through the write engine (server dry run of all first when there
//! are several). The reading and the lists are `commands::manifests`, shared with `cleanup -f`.

use crate::cli::ApplyArgs;
use crate::cluster::api::IstioApi;
use crate::cluster::connect::{self, Cluster};
use crate::core::change::{Precondition, Resource};
use crate::core::manifest::{self, Manifest};
use crate::error::Result;
use crate::settings::{DryRun, Settings};
use crate::write::{self, Options, Plan, Written};

use super::manifests::{live, load, named, resolve};
use super::{Change, warn};

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
        return write::render(Plan::in_order(changes), &Options::new(settings)?).await;
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
    write::carry_out(
        Some(&api),
        Plan::in_order(changes),
        &Options::new(settings)?.force_conflicts(force_conflicts),
        &Written::default(),
    )
    .await
}
