//! `kubectl egress allow HOST...`: one ServiceEntry per host.
//!
//! Requests: one list of the namespace's ServiceEntries (it also picks the API version), then one
//! server-side apply per host, 16 at once (write::Plan::independent): N+1 for N new hosts.
//! All or nothing: when the server refuses one, the ones created are deleted again; hosts whose
//! objects exist already are checked first by a server dry run (with several hosts), as an
//! update cannot be undone. Each apply is conditional on the list: when another writer changed or
//! created one of the objects meanwhile, the whole attempt is made again from a fresh list (see
//! write::retrying).

use crate::cli::{AllowArgs, WriteArgs};
use crate::cluster::api::IstioApi;
use crate::cluster::connect;
use crate::core::change::Precondition;
use crate::core::istio::{ApiVersion, Kind, ServiceEntrySpec, to_value, typed};
use crate::core::naming;
use crate::core::ownership::{self, Request};
use crate::core::plan::{self, AllowOptions, LOCATIONS, RESOLUTIONS, Target};
use crate::core::validate::{Host, InputError, PortSpec, dns_label, export_to_list};
use crate::error::{Error, Reason, Result};
use crate::settings::{DryRun, Settings};
use crate::write::{self, Attempt, Options, Plan, Written, retrying};

use super::{Change, existing, find_by_name, parse_hosts, warn};

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

    let session = connect::open(settings, settings.dry_run == DryRun::Client).await?;
    let namespace = session.namespace.clone();
    let Some(cluster) = &session.cluster else {
        warn("no kubeconfig: rendering from the flags alone, without checking the cluster");
        let target = Target {
            namespace,
            api_version: settings.api_version.unwrap_or(ApiVersion::V1beta1),
        };
        let names = match &options.name {
            Some(name) => vec![name.clone()],
            None => naming::unique_names(&hosts, |_| false),
        };
        let mut chains = vec![];
        for (host, name) in hosts.iter().zip(names) {
            let mut chain = vec![];
            if options.tls_origination {
                chain.push(Change::Apply {
                    kind: Kind::DestinationRule.into(),
                    namespace: target.namespace.clone(),
                    object: to_value(&plan::origination_rule(
                        &target,
                        &name,
                        host,
                        &options.export_to,
                    )),
                    before: None,
                    precondition: Precondition::None,
                });
            }
            chain.push(Change::Apply {
                kind: Kind::ServiceEntry.into(),
                namespace: target.namespace.clone(),
                object: to_value(&plan::service_entry(
                    &target,
                    host,
                    &AllowOptions {
                        name: Some(name),
                        ..options.clone()
                    },
                )),
                before: None,
                precondition: Precondition::None,
            });
            chains.push(chain);
        }
        return write::render(Plan::independent(chains), &Options::new(settings)?).await;
    };

    let api = IstioApi::new(cluster, settings.api_version);
    let written = Written::default();
    retrying(&written, |attempt| {
        write_service_entries(
            settings,
            &api,
            &namespace,
            &hosts,
            &options,
            &args.write,
            attempt,
        )
    })
    .await
}

/// One attempt: list, decide every host's object, write them all, each on condition that what
/// was listed still holds (another `allow` may be naming or writing the same objects).
async fn write_service_entries(
    settings: &Settings,
    api: &IstioApi<'_>,
    namespace: &str,
    hosts: &[Host],
    options: &AllowOptions,
    write: &WriteArgs,
    attempt: Attempt<'_>,
) -> Result<u8> {
    let listed = api
        .list_with_version(Kind::ServiceEntry, Some(namespace), None)
        .await?;
    let known = existing(&listed.items);
    // --tls-origination: each host's DestinationRule, under its ServiceEntry's name. Without it,
    // a host the plugin allowed with it before (port 80 to 443) loses its rule, else the sidecar
    // would go on opening TLS to port 80: read the rules only then, to keep `allow` at 2 requests.
    let was_originating = !options.tls_origination
        && listed.items.iter().any(|se| {
            let se = typed::<ServiceEntrySpec>(se);
            se.metadata.is_managed()
                && se
                    .spec
                    .hosts
                    .iter()
                    .any(|h| hosts.iter().any(|x| x.as_str() == h))
                && se.spec.ports.iter().any(|p| p.target_port == Some(443))
        });
    let rules = if options.tls_origination || was_originating {
        Some(
            api.list_with_version(Kind::DestinationRule, Some(namespace), None)
                .await?,
        )
    } else {
        None
    };
    let target = Target {
        namespace: namespace.to_string(),
        api_version: api.version(),
    };
    // Decide every host before writing any, so a refusal leaves nothing half done. One chain of
    // changes per host: hosts do not depend on each other, so they are written concurrently.
    let mut chains = vec![];
    let mut given: Vec<String> = vec![];
    let mut removals = vec![];
    for host in hosts {
        let placement = ownership::place(
            &Request {
                kind: Kind::ServiceEntry,
                namespace,
                host,
                requested_name: options.name.as_deref(),
                preferred_name: None,
                given_to_others: &given,
                adopt: write.adopt,
            },
            &known,
        )
        .map_err(|e| Error::failed(Reason::Conflict, e))?;
        if attempt.number == 1 {
            placement.warnings.iter().for_each(|w| warn(w));
        }
        given.push(placement.name.clone());
        let mut chain = vec![];
        let named = AllowOptions {
            name: Some(placement.name.clone()),
            ..options.clone()
        };
        if let (Some(rules), false) = (&rules, options.tls_origination) {
            // The plugin's origination rule for the host, under the ServiceEntry's name: it goes
            // after the ServiceEntry stops sending port 80 to 443.
            let stale = find_by_name(&rules.items, &placement.name).filter(|dr| {
                typed::<serde_json::Value>(dr).metadata.is_managed()
                    && dr["spec"]["host"] == host.as_str()
            });
            if let Some(dr) = stale {
                let field = |f: &str| dr["metadata"][f].as_str().map(String::from);
                removals.push(Change::Delete {
                    kind: Kind::DestinationRule.into(),
                    namespace: namespace.to_string(),
                    name: placement.name.clone(),
                    uid: field("uid"),
                    resource_version: field("resourceVersion"),
                });
            }
        }
        if let (Some(rules), true) = (&rules, options.tls_origination) {
            let rule = ownership::place(
                &Request {
                    kind: Kind::DestinationRule,
                    namespace,
                    host,
                    requested_name: Some(&placement.name),
                    preferred_name: None,
                    given_to_others: &[],
                    adopt: write.adopt,
                },
                &existing(&rules.items),
            )
            .map_err(|e| Error::failed(Reason::Conflict, e))?;
            let before = find_by_name(&rules.items, &rule.name).cloned();
            // The rule goes first: the ServiceEntry's port 80 then never reaches 443 in plain text.
            chain.push(Change::Apply {
                kind: Kind::DestinationRule.into(),
                namespace: namespace.to_string(),
                object: to_value(&plan::origination_rule(
                    &target,
                    &rule.name,
                    host,
                    &options.export_to,
                )),
                precondition: Precondition::from_read(before.as_ref(), rules),
                before,
            });
        }
        let before = find_by_name(&listed.items, &placement.name).cloned();
        chain.push(Change::Apply {
            kind: Kind::ServiceEntry.into(),
            namespace: namespace.to_string(),
            object: to_value(&plan::service_entry(&target, host, &named)),
            precondition: Precondition::from_read(before.as_ref(), &listed),
            before,
        });
        chain.append(&mut removals);
        chains.push(chain);
    }
    write::carry_out(
        Some(api),
        Plan::independent(chains),
        &Options::new(settings)?.force_conflicts(write.force_conflicts),
        attempt.written,
    )
    .await
}
