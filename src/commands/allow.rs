//! `kubectl egress allow HOST...`: one ServiceEntry per host.
//!
//! Requests: one list of the namespace's ServiceEntries (it also picks the API version), then one
//! server-side apply per host, 16 at once (write::Plan::independent): N+1 for N new hosts.
//! All or nothing: when the server refuses one, the ones created are deleted again; hosts whose
//! objects exist already are checked first by a server dry run (with several hosts), as an
//! update cannot be undone. Each apply is conditional on the list: when another writer changed or
//! created one of the objects meanwhile, the whole attempt is made again from a fresh list (see
//! write::retrying). What to write is planned in core/plans/allow_plan.rs, online from the lists and
//! offline from nothing.

use crate::cli::AllowArgs;
use crate::cluster::api::IstioApi;
use crate::cluster::connect;
use crate::cluster::view::read_sidecars;
use crate::core::mesh::sidecar;
use crate::core::objects::istio::{ApiVersion, Kind};
use crate::core::objects::plan::{self, AllowOptions, LOCATIONS, RESOLUTIONS, Target};
use crate::core::objects::validate::{InputError, PortSpec, dns_label, export_to_list};
use crate::core::plans::allow_plan::{self, AllowListings, AllowRequest};
use crate::core::plans::change::{Listed, Planned};
use crate::error::Result;
use crate::settings::Settings;
use crate::write::{self, Attempt, Options, Plan, Written, retrying};

use super::{Change, parse_hosts, refusal_error, warn};

fn options(args: &AllowArgs) -> std::result::Result<AllowOptions, InputError> {
    let one_of = |flag: &str, value: &Option<String>, allowed: &[&str]| match value {
        None => Ok(None),
        Some(v) if allowed.contains(&v.to_ascii_uppercase().as_str()) => {
            Ok(Some(v.to_ascii_uppercase()))
        }
        Some(v) => Err(InputError(format!(
            "invalid {flag} \"{}\": use one of {}",
            v.escape_debug(),
            allowed.join(", ")
        ))),
    };
    Ok(AllowOptions {
        tls_origination: args.tls_origination,
        ports: args
            .ports
            .iter()
            .map(|p| PortSpec::parse(p))
            .collect::<std::result::Result<_, _>>()?,
        resolution: one_of("--resolution", &args.resolution, &RESOLUTIONS)?,
        export_to: export_to_list(&args.export_to)?,
        location: one_of("--location", &args.location, &LOCATIONS)?,
        name: args
            .name
            .as_deref()
            .map(|n| dns_label("--name", n))
            .transpose()?,
    })
}

pub async fn run(settings: &Settings, args: AllowArgs) -> Result<u8> {
    let hosts = parse_hosts(&args.hosts)?;
    let options = options(&args)?;
    plan::check_allow(&hosts, &options)?;
    settings.object_format()?;
    let request = AllowRequest {
        hosts: &hosts,
        options: &options,
        adopt: args.write.adopt,
    };

    let session = connect::open_for_writing(settings).await?;
    let namespace = session.namespace.clone();
    let Some(cluster) = &session.cluster else {
        warn("no kubeconfig: rendering from the flags alone, without checking the cluster");
        let target = Target {
            namespace,
            api_version: settings.api_version.unwrap_or(ApiVersion::V1beta1),
        };
        // The same planning as online, over a namespace that holds nothing.
        let listings = AllowListings {
            service_entries: &Listed::default(),
            destination_rules: &Listed::default(),
        };
        let chains = said(allow_plan::plan(&target, &request, &listings), 1)?;
        return write::render(Plan::independent(chains), &Options::new(settings)?).await;
    };

    let api = IstioApi::new(cluster, settings.api_version);
    let written = Written::default();
    let code = retrying(&written, |attempt| {
        write_service_entries(
            settings,
            &api,
            &namespace,
            &request,
            args.write.force_conflicts,
            attempt,
        )
    })
    .await?;
    // What was written reaches the sidecars only if their Sidecar imports it (EGR023).
    let scope = read_sidecars(&api, &namespace).await;
    for host in &hosts {
        let host = host.to_string();
        for missing in sidecar::missing_imports(&scope, &namespace, &host, true, false) {
            let finding = missing.finding(&host);
            warn(&format!("{} {}", finding.code, finding.message));
        }
    }
    let written = super::wait::Written {
        namespace: &namespace,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        proxies: super::wait::Proxies::Sidecars,
    };
    super::wait::after_write(settings, cluster, written, code).await
}

/// One attempt: list, plan every host's objects, write them all, each on condition that what
/// was listed still holds (another `allow` may be naming or writing the same objects).
async fn write_service_entries(
    settings: &Settings,
    api: &IstioApi<'_>,
    namespace: &str,
    request: &AllowRequest<'_>,
    force_conflicts: bool,
    attempt: Attempt<'_>,
) -> Result<u8> {
    let service_entries = api
        .list_with_version(Kind::ServiceEntry, Some(namespace), None)
        .await?;
    let destination_rules = if allow_plan::reads_destination_rules(request, &service_entries) {
        api.list_with_version(Kind::DestinationRule, Some(namespace), None)
            .await?
    } else {
        Listed::default()
    };
    let target = Target {
        namespace: namespace.to_string(),
        api_version: api.version(),
    };
    let listings = AllowListings {
        service_entries: &service_entries,
        destination_rules: &destination_rules,
    };
    let chains = said(
        allow_plan::plan(&target, request, &listings),
        attempt.number,
    )?;
    write::carry_out(
        Some(api),
        Plan::independent(chains),
        &Options::new(settings)?.force_conflicts(force_conflicts),
        attempt.written,
    )
    .await
}

/// Says the plan's warnings (on the first attempt only) and returns its chains, or its refusal.
fn said(planned: Planned, attempt: u32) -> Result<Vec<Vec<Change>>> {
    if attempt == 1 {
        planned.warnings.iter().for_each(|w| warn(w));
    }
    planned.outcome.map_err(refusal_error)
}
