//! `kubectl egress apply -f PATH...`: the exercise's first step, `envsubst < f | kubectl apply
//! -f -`, scoped to one namespace.
//!
//! read files -> substitute, parse, check scope (core::manifest) -> discovery of only the
//! group-versions the files use (one request each) -> one list per kind (created, configured or
//! unchanged) -> server-side apply through the write engine (server dry run of all first when there
//! are several). The reading and the lists are `commands::manifests`, shared with `cleanup -f`;
//! the writes are planned in core/plans/apply_plan.rs, online and offline alike.

use crate::cli::ApplyArgs;
use crate::cluster::api::IstioApi;
use crate::cluster::connect::{self, Cluster};
use crate::core::plans::apply_plan::{self, Live};
use crate::core::plans::manifest::{self, Manifest};
use crate::error::Result;
use crate::settings::Settings;
use crate::write::{self, Options, Plan, Written};

use super::manifests::{live, load, resolve};
use super::warn;

pub async fn run(settings: &Settings, args: ApplyArgs) -> Result<u8> {
    settings.object_format()?;
    let mut manifests = load(&args.filenames)?;
    let session = connect::open_for_writing(settings).await?;
    let namespace = session.namespace.clone();
    manifest::check_scope(&manifests, &namespace).map_err(crate::error::Error::Content)?;
    for m in &mut manifests {
        if let Some(warning) = manifest::place(m, &namespace) {
            warn(&warning);
        }
    }
    let Some(cluster) = &session.cluster else {
        warn(
            "no kubeconfig: rendering from the files alone; kinds are not checked against a cluster",
        );
        // The same planning as online, over kinds as the files name them and an empty namespace.
        let resources = manifests.iter().map(apply_plan::unresolved).collect();
        let changes = apply_plan::plan(&namespace, manifests, resources, &Live::new());
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
    // The hosts the files' ServiceEntries and VirtualServices name: what --wait checks.
    let mut hosts: Vec<String> = vec![];
    for m in &manifests {
        for host in m.object["spec"]["hosts"].as_array().into_iter().flatten() {
            if let Some(host) = host.as_str().filter(|h| !hosts.iter().any(|k| k == h)) {
                hosts.push(host.to_string());
            }
        }
    }
    let resources = resolve(&api, &manifests, namespace).await?;
    let live = live(&api, &resources, namespace).await?;
    let changes = apply_plan::plan(namespace, manifests, resources, &live);
    let code = write::carry_out(
        Some(&api),
        Plan::in_order(changes),
        &Options::new(settings)?.force_conflicts(force_conflicts),
        &Written::default(),
    )
    .await?;
    let written = super::wait::Written {
        namespace,
        hosts,
        proxies: super::wait::Proxies::Sidecars,
    };
    super::wait::after_write(settings, cluster, written, code).await
}
