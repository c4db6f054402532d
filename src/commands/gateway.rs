//! `kubectl egress gateway HOST...`: the admins' objects in the egress gateway's namespace (see
//! core::plans::gateway for what and why).
//!
//! Requests: one list each of the namespace's ServiceEntries (it also picks the API version),
//! DestinationRules, Gateways and VirtualServices; then a server dry run of every object and one
//! server-side apply each (crate::write), every write conditional on the list it was
//! composed from (write::retrying re-reads and re-composes on a conflict). `--off`: the same
//! lists, one delete per object, uid and resourceVersion guarded.

use std::collections::BTreeMap;

use crate::cli::GatewayArgs;
use crate::cluster::api::IstioApi;
use crate::cluster::connect;
use crate::core::objects::istio::{ApiVersion, Kind};
use crate::core::objects::plan::Target;
use crate::core::objects::validate::{Host, InputError, dns_label};
use crate::core::plans::change::Precondition;
use crate::core::plans::gateway::{self as plan, GatewayOptions, Listing};
use crate::error::{Error, Reason, Result};
use crate::settings::Settings;
use crate::write::{self, Attempt, Options, Plan, Written, retrying};

use super::{Change, parse_hosts, warn};

pub async fn run(
    settings: &Settings,
    args: GatewayArgs,
    namespace_flag: Option<String>,
) -> Result<u8> {
    let hosts = parse_hosts(&args.hosts)?;
    let namespace = dns_label("--gateway-namespace", &args.gateway_namespace)?;
    if let Some(n) = namespace_flag.filter(|n| *n != namespace) {
        return Err(Error::input(format!(
            "gateway writes into the egress gateway's namespace, not -n \"{}\": use \
             --gateway-namespace (default istio-system)",
            n.escape_debug()
        )));
    }
    let options = options(&args)?;
    if !args.off {
        for host in &hosts {
            plan::check_options(host, &options).map_err(Error::input)?;
        }
    }
    settings.object_format()?;
    // Everything happens in the gateway's namespace, whatever $STUDENT_NS or the context say.
    let settings = &Settings {
        namespace: Some(namespace.clone()),
        ..settings.clone()
    };

    let session = connect::open_for_writing(settings).await?;
    let Some(cluster) = &session.cluster else {
        if args.off {
            return Err(Error::failed(
                Reason::Config,
                "gateway --off needs the cluster (it deletes only what it finds there): no kubeconfig found",
            ));
        }
        warn("no kubeconfig: rendering from the flags alone, without checking the cluster");
        return render_offline(settings, namespace, &hosts, &options).await;
    };

    let api = IstioApi::new(cluster, settings.api_version);
    let written = Written::default();
    let request = Request {
        namespace: &namespace,
        hosts: &hosts,
        options: &options,
        off: args.off,
        adopt: args.write.adopt,
        force_conflicts: args.write.force_conflicts,
    };
    let code = retrying(&written, |attempt| write(settings, &api, &request, attempt))
        .await
        .map_err(for_admins)?;
    let written = super::wait::Written {
        namespace: &namespace,
        hosts: hosts.iter().map(|h| h.to_string()).collect(),
        proxies: super::wait::Proxies::Gateway,
    };
    super::wait::after_write(settings, cluster, written, code).await
}

/// Where the egress gateway is and what to let through it, from the flags.
fn options(args: &GatewayArgs) -> Result<GatewayOptions> {
    Ok(GatewayOptions {
        service: dns_label("--gateway-service", &args.gateway_service)?,
        selector: if args.selector.is_empty() {
            GatewayOptions::default().selector
        } else {
            selector(&args.selector)?
        },
        tls: args.tls,
        tls_origination: args.tls_origination,
        upstream: args
            .upstream
            .as_deref()
            .map(|u| Host::parse(u).map_err(|e| InputError(e.0.replacen("host", "--upstream", 1))))
            .transpose()?,
    })
}

/// Without a cluster: every host's objects as if the namespace were empty, rendered.
async fn render_offline(
    settings: &Settings,
    namespace: String,
    hosts: &[Host],
    options: &GatewayOptions,
) -> Result<u8> {
    let target = Target {
        namespace,
        api_version: settings.api_version.unwrap_or(ApiVersion::V1beta1),
    };
    let mut given: Vec<String> = vec![];
    let mut changes = vec![];
    for host in hosts {
        let planned = plan::plan_host(&target, host, options, &Listing::default(), &given, false)
            .map_err(|e| Error::failed(Reason::Conflict, e))?;
        given.push(planned.names.base);
        changes.extend(planned.writes.into_iter().map(|p| Change::Apply {
            kind: p.kind.into(),
            namespace: target.namespace.clone(),
            object: p.object,
            before: None,
            precondition: Precondition::None,
        }));
    }
    write::render(Plan::in_order(changes), &Options::new(settings)?).await
}

/// -n is no way out of a refusal here: the objects belong in the gateway's namespace.
fn for_admins(error: Error) -> Error {
    match error {
        Error::Runtime {
            reason: Reason::Forbidden,
            message,
        } => Error::failed(
            Reason::Forbidden,
            message.replace(
                "ask the cluster admin for access, or choose your own namespace with -n",
                "gateway is for the cluster's admins; students route through what it wrote \
                 with kubectl egress via-gateway HOST",
            ),
        ),
        other => other,
    }
}

/// `--selector` values: KEY=VALUE, each a Kubernetes label.
fn selector(values: &[String]) -> std::result::Result<BTreeMap<String, String>, InputError> {
    let label_part = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let mut map = BTreeMap::new();
    for value in values {
        let parsed = value.split_once('=').filter(|(key, v)| {
            let name = key.rsplit_once('/').map_or(*key, |(_, n)| n);
            let prefix_ok = key.rsplit_once('/').is_none_or(|(p, _)| label_part(p, 253));
            label_part(name, 63) && prefix_ok && (v.is_empty() || label_part(v, 63))
        });
        match parsed {
            Some((key, v)) if !map.contains_key(key) => {
                map.insert(key.to_string(), v.to_string());
            }
            Some((key, _)) => {
                return Err(InputError(format!(
                    "--selector {key} is given twice: each label key may appear once"
                )));
            }
            None => {
                return Err(InputError(format!(
                    "invalid --selector \"{}\": use KEY=VALUE with Kubernetes label syntax, e.g. istio=egressgateway",
                    value.escape_debug()
                )));
            }
        }
    }
    Ok(map)
}

struct Request<'a> {
    namespace: &'a str,
    hosts: &'a [Host],
    options: &'a GatewayOptions,
    off: bool,
    adopt: bool,
    force_conflicts: bool,
}

/// One attempt: list the four kinds, compose every host's objects (or deletions), write them all
/// on condition that what was listed still holds.
async fn write(
    settings: &Settings,
    api: &IstioApi<'_>,
    request: &Request<'_>,
    attempt: Attempt<'_>,
) -> Result<u8> {
    let ns = request.namespace;
    // In this order (the first list also picks the API version).
    let listing = Listing {
        service_entries: api
            .list_with_version(Kind::ServiceEntry, Some(ns), None)
            .await?,
        destination_rules: api
            .list_with_version(Kind::DestinationRule, Some(ns), None)
            .await?,
        gateways: api.list_with_version(Kind::Gateway, Some(ns), None).await?,
        virtual_services: api
            .list_with_version(Kind::VirtualService, Some(ns), None)
            .await?,
    };
    let target = Target {
        namespace: ns.to_string(),
        api_version: api.version(),
    };
    let mut changes = vec![];
    // Parts no longer asked for go after every write: the route stops naming them first.
    let mut removals = vec![];
    let mut given: Vec<String> = vec![];
    for host in request.hosts {
        if request.off {
            changes.extend(off(ns, host, &listing, &attempt));
            continue;
        }
        let planned = plan::plan_host(
            &target,
            host,
            request.options,
            &listing,
            &given,
            request.adopt,
        )
        .map_err(|e| Error::failed(Reason::Conflict, e))?;
        if attempt.number == 1 {
            planned.warnings.iter().for_each(|w| warn(w));
        }
        given.push(planned.names.base);
        removals.extend(
            planned
                .removals
                .iter()
                .map(|(kind, metadata)| Change::delete_of(*kind, ns, metadata)),
        );
        changes.extend(planned.writes.into_iter().map(|p| Change::Apply {
            kind: p.kind.into(),
            namespace: ns.to_string(),
            precondition: listing.precondition(p.kind, p.before.as_ref()),
            object: p.object,
            before: p.before,
        }));
    }
    changes.extend(removals);
    write::carry_out(
        Some(api),
        Plan::in_order(changes),
        &Options::new(settings)?.force_conflicts(request.force_conflicts),
        attempt.written,
    )
    .await
}

/// `--off` for one host: the deletions, with what is kept (and that there is nothing to remove)
/// said on the first attempt.
fn off(ns: &str, host: &Host, listing: &Listing, attempt: &Attempt<'_>) -> Vec<Change> {
    let (gone, kept) = plan::plan_off(listing, host.as_str());
    if attempt.number == 1 {
        kept.iter().for_each(|k| warn(k));
        if gone.is_empty() {
            eprintln!(
                "{host}: no egress gateway objects written by kubectl-egress in namespace {ns}: nothing to remove"
            );
        }
    }
    gone.iter()
        .map(|(kind, metadata)| Change::delete_of(*kind, ns, metadata))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_labels() {
        let ok = selector(&[
            "istio=egressgateway".into(),
            "app.kubernetes.io/name=gw".into(),
        ])
        .unwrap();
        assert_eq!(ok["istio"], "egressgateway");
        for bad in ["istio", "=x", "a=b c", "a=-x", "a/=x"] {
            assert!(selector(&[bad.into()]).is_err(), "{bad}");
        }
        assert!(selector(&["a=1".into(), "a=2".into()]).is_err());
    }
}
