//! `timeout` and `via-gateway`: two edits of the host's one VirtualService.
//!
//! Requests: one list of ServiceEntries (the host's object name and ports; it also picks the API
//! version; when it is empty, one get of the namespace, which may not exist), one list of
//! VirtualServices (the current route to compose with), one apply (or delete). The write is
//! conditional on the VirtualService listed (its resourceVersion, or its absence): when another
//! writer changed it meanwhile, the list and the write are made again with the route composed
//! afresh (see write::retrying), so no one's setting is lost. What to write is planned in
//! core/plans/route_plan.rs, online from the lists and offline from nothing.

use crate::cli::{CheckArgs, RetriesArgs, TimeoutArgs, ViaGatewayArgs, WriteArgs};
use crate::cluster::api::IstioApi;
use crate::cluster::connect;
use crate::cluster::view::{Reach, read_view};
use crate::core::mesh::view::ClusterView;
use crate::core::objects::istio::{ApiVersion, HttpRetry, Kind, ServiceEntry};
use crate::core::objects::plan::{GatewayHop, RouteChange, Target};
use crate::core::objects::validate::{
    Host, InputError, Timeout, dns_label, export_to_list, port_number,
};
use crate::core::plans::change::{Listed, Planned};
use crate::core::plans::route_plan::{self, RouteRequest, ServiceEntryFacts};
use crate::error::{Error, Result};
use crate::settings::{DryRun, Settings};
use crate::write::{self, Attempt, Options, Plan, Written, retrying};

use super::{Change, refusal_error, warn};

pub async fn run_timeout(settings: &Settings, args: TimeoutArgs) -> Result<u8> {
    let host = Host::parse(&args.host)?;
    let change = match (&args.duration, args.clear) {
        (Some(d), false) => RouteChange::SetTimeout(Timeout::parse(d)?.to_string()),
        _ => RouteChange::ClearTimeout,
    };
    edit(
        settings,
        Edit {
            host: &host,
            change,
            export_to: &args.export_to,
            check: &args.check,
            write: &args.write,
            origination: false,
        },
    )
    .await
}

pub async fn run_retries(settings: &Settings, args: RetriesArgs) -> Result<u8> {
    let host = Host::parse(&args.host)?;
    let change = if args.clear {
        RouteChange::ClearRetries
    } else {
        let attempts = args.attempts.as_deref().unwrap_or_default();
        let attempts = match attempts.parse::<i32>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => {
                return Err(Error::input(format!(
                    "invalid --attempts \"{}\": use a whole number of tries, 1-100, e.g. 3",
                    attempts.escape_debug()
                )));
            }
        };
        let per_try_timeout = args
            .per_try_timeout
            .as_deref()
            .map(|d| {
                Timeout::parse(d)
                    .map(|t| t.to_string())
                    .map_err(|e| InputError(e.0.replacen("duration", "--per-try-timeout", 1)))
            })
            .transpose()?;
        let retry_on = args.retry_on.as_deref().map(retry_conditions).transpose()?;
        RouteChange::SetRetries(HttpRetry {
            attempts,
            per_try_timeout,
            retry_on,
        })
    };
    edit(
        settings,
        Edit {
            host: &host,
            change,
            export_to: &args.export_to,
            check: &args.check,
            write: &args.write,
            origination: false,
        },
    )
    .await
}

/// Envoy's retry conditions, as Istio's retryOn takes them (plus HTTP status codes).
const RETRY_CONDITIONS: [&str; 13] = [
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "envoy-ratelimited",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "unavailable",
];

fn retry_conditions(list: &str) -> std::result::Result<String, InputError> {
    let conditions: Vec<&str> = list.split(',').map(str::trim).collect();
    for c in &conditions {
        let status_code = c.len() == 3 && c.chars().all(|d| d.is_ascii_digit());
        if !status_code && !RETRY_CONDITIONS.contains(c) {
            return Err(InputError(format!(
                "invalid --retry-on condition \"{}\": use {} or an HTTP status code, comma-separated",
                c.escape_debug(),
                RETRY_CONDITIONS.join(", ")
            )));
        }
    }
    Ok(conditions.join(","))
}

pub async fn run_via_gateway(settings: &Settings, args: ViaGatewayArgs) -> Result<u8> {
    let host = Host::parse(&args.host)?;
    let change = if args.off {
        RouteChange::Direct
    } else {
        let port = match port_number(&args.port) {
            Some(p) => p,
            None => {
                return Err(InputError(format!(
                    "invalid --port \"{}\": use a port number 1-65535, e.g. 80",
                    args.port.escape_debug()
                ))
                .into());
            }
        };
        let gateway_host = Host::parse(&args.gateway_host)
            .map_err(|e| InputError(e.0.replacen("host", "--gateway-host", 1)))?;
        if gateway_host.is_wildcard() {
            return Err(Error::input(format!(
                "invalid --gateway-host \"{gateway_host}\": name the egress gateway Service, e.g. istio-egressgateway.istio-system.svc.cluster.local"
            )));
        }
        let hop = GatewayHop {
            gateway_host: gateway_host.to_string(),
            port,
            subset: args
                .subset
                .as_deref()
                .map(|s| dns_label("--subset", s))
                .transpose()?,
        };
        if args.tls_origination && host.is_wildcard() {
            return Err(Error::input(format!(
                "--tls-origination cannot be used with wildcard host \"{host}\": TLS is opened to one concrete host, named in its SNI; route each host by name, or use --tls"
            )));
        }
        let tls = args.tls.then(|| GatewayHop {
            port: 443,
            ..hop.clone()
        });
        // A wildcard's plain HTTP cannot be sent on by the gateway (its second hop connects to
        // one upstream, chosen by SNI): only its TLS goes through.
        let http = (!(host.is_wildcard() && args.tls)).then_some(hop);
        RouteChange::ViaGateway(http, tls)
    };
    edit(
        settings,
        Edit {
            host: &host,
            change,
            export_to: &args.export_to,
            check: &args.check,
            write: &args.write,
            origination: args.tls_origination,
        },
    )
    .await
}

/// What `timeout`, `retries` and `via-gateway` share once their own flags are read.
struct Edit<'a> {
    host: &'a Host,
    change: RouteChange,
    /// --export-to as given.
    export_to: &'a [String],
    check: &'a CheckArgs,
    write: &'a WriteArgs,
    /// via-gateway --tls-origination: the admins' gateway must open TLS to the host.
    origination: bool,
}

async fn edit(settings: &Settings, edit: Edit<'_>) -> Result<u8> {
    let export_to = export_to_list(edit.export_to)?;
    settings.object_format()?;
    let request = RouteRequest {
        host: edit.host,
        change: &edit.change,
        export_to: &export_to,
        adopt: edit.write.adopt,
        origination: edit.origination,
    };

    let session = connect::open_for_writing(settings).await?;
    let namespace = session.namespace.clone();
    let Some(cluster) = &session.cluster else {
        warn(
            "no kubeconfig: rendering from the flags alone; a timeout or gateway route already on \
             the cluster is not included",
        );
        let target = Target {
            namespace,
            api_version: settings.api_version.unwrap_or(ApiVersion::V1beta1),
        };
        // The same planning as online, over a namespace of which nothing is known.
        let facts = ServiceEntryFacts::default();
        let planned = route_plan::plan(&target, &request, &facts, &Listed::default(), None);
        let changes = said(planned, 1)?;
        return write::render(Plan::in_order(changes), &Options::new(settings)?).await;
    };

    // A list is empty in a namespace that does not exist too: an empty list checks the namespace
    // and says that first (exit 4), as status and cleanup do, not what a route there would get
    // (503 NC, exit 3). One request more, only when the namespace has no ServiceEntry.
    let api = IstioApi::new(cluster, settings.api_version).verify_namespaces();
    // Decoded once, into the typed shape status reads too.
    let service_entries: Vec<ServiceEntry> = api
        .list_typed(Kind::ServiceEntry, Some(&namespace), None)
        .await?;
    let facts = route_plan::service_entry_facts(&request, &namespace, &service_entries);
    facts.warnings.iter().for_each(|w| warn(w));

    let checks = read_checks(settings, &api, &namespace, &edit, service_entries).await;
    let planning = Planning {
        request: &request,
        facts: &facts,
        checks: checks.as_ref(),
        namespace: &namespace,
        force_conflicts: edit.write.force_conflicts,
    };
    let written = Written::default();
    let code = retrying(&written, |attempt| {
        edit_virtual_service(settings, &api, &planning, attempt)
    })
    .await?;
    let written = super::wait::Written {
        namespace: &namespace,
        hosts: vec![edit.host.to_string()],
        proxies: super::wait::Proxies::Sidecars,
    };
    super::wait::after_write(settings, cluster, written, code).await
}

/// Before adding a route or a timeout (unless --force, or --dry-run=client), reads what decides
/// whether Istio will honour it, once: each attempt checks the VirtualService it composes
/// against it.
async fn read_checks(
    settings: &Settings,
    api: &IstioApi<'_>,
    namespace: &str,
    edit: &Edit<'_>,
    service_entries: Vec<ServiceEntry>,
) -> Option<ClusterView> {
    match (&edit.change, edit.check.force, settings.dry_run) {
        (
            RouteChange::SetTimeout(_) | RouteChange::SetRetries(_) | RouteChange::ViaGateway(..),
            false,
            DryRun::None | DryRun::Server,
        ) => {
            let gateway_host = match &edit.change {
                RouteChange::ViaGateway(hop, tls) => hop
                    .iter()
                    .chain(tls)
                    .map(|h| h.gateway_host.as_str())
                    .take(1)
                    .collect(),
                _ => vec![],
            };
            Some(
                read_view(
                    api,
                    Some(namespace),
                    service_entries,
                    vec![],
                    &gateway_host,
                    Reach::OwnOnly,
                )
                .await,
            )
        }
        _ => None,
    }
}

/// What every attempt plans from: the request, and what was read once.
struct Planning<'a> {
    request: &'a RouteRequest<'a>,
    facts: &'a ServiceEntryFacts,
    /// What istio-system holds, to refuse a write Istio would not honour (None: --force).
    checks: Option<&'a ClusterView>,
    namespace: &'a str,
    force_conflicts: bool,
}

/// One attempt: list the VirtualServices, compose the host's from the one there, write it (or
/// delete it when nothing is left) on condition that it is still the one listed.
async fn edit_virtual_service(
    settings: &Settings,
    api: &IstioApi<'_>,
    planning: &Planning<'_>,
    attempt: Attempt<'_>,
) -> Result<u8> {
    let virtual_services = api
        .list_with_version(Kind::VirtualService, Some(planning.namespace), None)
        .await?;
    let target = Target {
        namespace: planning.namespace.to_string(),
        api_version: api.version(),
    };
    let planned = route_plan::plan(
        &target,
        planning.request,
        planning.facts,
        &virtual_services,
        planning.checks,
    );
    let changes = said(planned, attempt.number)?;
    write::carry_out(
        Some(api),
        Plan::in_order(changes),
        &Options::new(settings)?.force_conflicts(planning.force_conflicts),
        attempt.written,
    )
    .await
}

/// Says the plan's warnings (on the first attempt only) and notes, and returns its changes, or
/// its refusal.
fn said(planned: Planned, attempt: u32) -> Result<Vec<Change>> {
    if attempt == 1 {
        planned.warnings.iter().for_each(|w| warn(w));
    }
    planned.notes.iter().for_each(|n| eprintln!("{n}"));
    Ok(planned.outcome.map_err(refusal_error)?.concat())
}
