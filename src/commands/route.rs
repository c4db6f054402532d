//! `timeout` and `via-gateway`: two edits of the host's one VirtualService.
//!
//! Requests: one list of ServiceEntries (the host's object name and ports; it also picks the API
//! version; when it is empty, one get of the namespace, which may not exist), one list of
//! VirtualServices (the current route to compose with), one apply (or delete). The write is
//! conditional on the VirtualService listed (its resourceVersion, or its absence): when another
//! writer changed it meanwhile, the list and the write are made again with the route composed
//! afresh (see commands::retrying), so no one's setting is lost.

use serde_json::Value;

use crate::cli::{RetriesArgs, TimeoutArgs, ViaGatewayArgs, WriteArgs};
use crate::cluster::api::IstioApi;
use crate::cluster::connect;
use crate::cluster::view::read_view;
use crate::core::change::Precondition;
use crate::core::istio::{
    ApiVersion, HttpRetry, Kind, ServiceEntry, VirtualServiceSpec, to_value, typed,
};
use crate::core::ownership::{self, Request};
use crate::core::plan::{self, GatewayHop, RouteChange, RouteSettings, Target};
use crate::core::route_checks::{self, Proposal};
use crate::core::status::ClusterView;
use crate::core::validate::{
    Host, InputError, Timeout, dns_label, export_to_list, is_http_protocol, port_number,
};
use crate::error::{Error, Reason, Result};
use crate::settings::{DryRun, Settings};

use crate::core::change::find_by_name;
use crate::core::ownership::existing;

use super::{Attempt, Change, Written, carry_out, retrying, warn};

pub async fn run_timeout(settings: &Settings, args: TimeoutArgs) -> Result<u8> {
    let host = Host::parse(&args.host)?;
    let change = match (&args.duration, args.clear) {
        (Some(d), false) => RouteChange::SetTimeout(Timeout::parse(d)?.to_string()),
        _ => RouteChange::ClearTimeout,
    };
    edit(
        settings,
        &host,
        change,
        &args.export_to,
        args.check.force,
        false,
        &args.write,
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
        &host,
        change,
        &args.export_to,
        args.check.force,
        false,
        &args.write,
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
        &host,
        change,
        &args.export_to,
        args.check.force,
        args.tls_origination,
        &args.write,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn edit(
    settings: &Settings,
    host: &Host,
    change: RouteChange,
    export_to_flags: &[String],
    force: bool,
    // via-gateway --tls-origination: the admins' gateway must open TLS to the host.
    origination: bool,
    write: &WriteArgs,
) -> Result<u8> {
    let export_to_flags = export_to_list(export_to_flags)?;
    settings.object_format()?;

    let session = connect::open(settings, settings.dry_run == DryRun::Client).await?;
    let namespace = session.namespace.clone();
    let Some(cluster) = &session.cluster else {
        warn(
            "no kubeconfig: rendering from the flags alone; a timeout or gateway route already on \
             the cluster is not included",
        );
        let target = Target {
            namespace: namespace.clone(),
            api_version: settings.api_version.unwrap_or(ApiVersion::V1beta1),
        };
        let next = RouteSettings {
            export_to: export_to_flags,
            ..change.apply(&RouteSettings::default())
        };
        let changes = plan::virtual_service(&target, &host.default_object_name(), host, &next)
            .map(|vs| Change::Apply {
                kind: Kind::VirtualService.into(),
                namespace: namespace.clone(),
                object: to_value(&vs),
                before: None,
                precondition: Precondition::None,
            })
            .into_iter()
            .collect();
        return carry_out(settings, None, changes, false, &Written::default()).await;
    };

    // A list is empty in a namespace that does not exist too: an empty list checks the namespace
    // and says that first (exit 4), as status and cleanup do, not what a route there would get
    // (503 NC, exit 3). One request more, only when the namespace has no ServiceEntry.
    let api = IstioApi::new(cluster, settings.api_version).verify_namespaces();
    // Decoded once, into the typed shape status reads too.
    let service_entries: Vec<ServiceEntry> = api
        .list_typed(Kind::ServiceEntry, Some(&namespace), None)
        .await?;
    let lists_host = |se: &ServiceEntry| se.spec.hosts.iter().any(|h| h == host.as_str());
    let service_entry = service_entries
        .iter()
        .filter(|se| lists_host(se))
        .max_by_key(|se| se.metadata.is_managed());
    match (service_entry, &change) {
        (
            None,
            RouteChange::SetTimeout(_) | RouteChange::SetRetries(_) | RouteChange::ViaGateway(..),
        ) => warn(&format!(
            "no ServiceEntry for {host} in namespace {namespace}: with REGISTRY_ONLY calls still fail; run kubectl egress allow {host}"
        )),
        (Some(se), RouteChange::SetTimeout(t))
            if !se.spec.ports.iter().any(|p| is_http_protocol(&p.protocol)) =>
        {
            warn(&format!(
                "{host} has no HTTP port: timeout {t} applies only to HTTP routes, never to HTTPS/TLS traffic (istio#47713)"
            ))
        }
        _ => {}
    }
    // The VirtualService takes its ServiceEntry's name; with none, a name no other host's
    // ServiceEntry has, so that a later `allow` can give the ServiceEntry the same one.
    let service_entry_name = service_entry.map(|se| se.metadata.name.as_str());
    let other_hosts_names: Vec<String> = service_entries
        .iter()
        .filter(|se| !lists_host(se))
        .map(|se| se.metadata.name.clone())
        .collect();

    // Before adding a route or a timeout, read what decides whether Istio will honour it, once:
    // each attempt checks the VirtualService it composes against it.
    let checks = match (&change, force, settings.dry_run) {
        (
            RouteChange::SetTimeout(_) | RouteChange::SetRetries(_) | RouteChange::ViaGateway(..),
            false,
            DryRun::None | DryRun::Server,
        ) => {
            let gateway_host = match &change {
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
                    &api,
                    Some(&namespace),
                    service_entries.clone(),
                    vec![],
                    &gateway_host,
                )
                .await,
            )
        }
        _ => None,
    };
    let edit = Edit {
        checks: checks.as_ref(),
        namespace: &namespace,
        host,
        change: &change,
        export_to_flags: &export_to_flags,
        write,
        service_entry_name,
        other_hosts_names: &other_hosts_names,
        origination,
    };
    let written = Written::default();
    retrying(&written, |attempt| {
        edit_virtual_service(settings, &api, &edit, attempt)
    })
    .await
}

/// What `timeout` or `via-gateway` asks of the host's VirtualService, and what was learnt from the
/// ServiceEntries (read once: they only pick the name).
struct Edit<'a> {
    /// What istio-system holds, to refuse a write Istio would not honour (None: --force).
    checks: Option<&'a ClusterView>,
    namespace: &'a str,
    host: &'a Host,
    change: &'a RouteChange,
    export_to_flags: &'a [String],
    write: &'a WriteArgs,
    service_entry_name: Option<&'a str>,
    other_hosts_names: &'a [String],
    origination: bool,
}

/// One attempt: list the VirtualServices, compose the host's from the one there, write it (or
/// delete it when nothing is left) on condition that it is still the one listed.
async fn edit_virtual_service(
    settings: &Settings,
    api: &IstioApi<'_>,
    edit: &Edit<'_>,
    attempt: Attempt<'_>,
) -> Result<u8> {
    let Edit {
        namespace, host, ..
    } = *edit;
    let virtual_services = api
        .list_with_version(Kind::VirtualService, Some(namespace), None)
        .await?;
    let placement = ownership::place(
        &Request {
            kind: Kind::VirtualService,
            namespace,
            host,
            requested_name: None,
            preferred_name: edit.service_entry_name,
            given_to_others: edit.other_hosts_names,
            adopt: edit.write.adopt,
        },
        &existing(&virtual_services.items),
    )
    .map_err(|e| Error::failed(Reason::Conflict, e))?;
    if attempt.number == 1 {
        placement.warnings.iter().for_each(|w| warn(w));
    }
    let before = find_by_name(&virtual_services.items, &placement.name).cloned();
    let current = before
        .as_ref()
        .map(|vs| {
            RouteSettings::from_virtual_service(
                host.as_str(),
                &typed::<VirtualServiceSpec>(vs).spec,
            )
        })
        .unwrap_or_default();
    let mut next = edit.change.apply(&current);
    if !edit.export_to_flags.is_empty() {
        next.export_to = edit.export_to_flags.to_vec();
    }
    let target = Target {
        namespace: namespace.to_string(),
        api_version: api.version(),
    };
    let planned = plan::virtual_service(&target, &placement.name, host, &next);
    if let (Some(view), Some(vs)) = (edit.checks, &planned) {
        let proposal = Proposal {
            namespace,
            host: host.as_str(),
            change: edit.change,
            origination: edit.origination,
        };
        let listed = &virtual_services.items;
        if let Some(refusal) = route_checks::refusal(view, listed, before.as_ref(), vs, &proposal) {
            return Err(Error::failed(Reason::Findings, refusal));
        }
    }
    let changes = match planned {
        Some(vs) => vec![Change::Apply {
            kind: Kind::VirtualService.into(),
            namespace: namespace.to_string(),
            object: to_value(&vs),
            precondition: Precondition::from_read(before.as_ref(), &virtual_services),
            before,
        }],
        // Nothing left to say about the host: the VirtualService goes.
        None => match before {
            // Never delete what the plugin did not create, even when adopting.
            Some(vs) if typed::<Value>(&vs).metadata.is_managed() => vec![Change::Delete {
                kind: Kind::VirtualService.into(),
                namespace: namespace.to_string(),
                name: placement.name.clone(),
                uid: vs["metadata"]["uid"].as_str().map(String::from),
                resource_version: vs["metadata"]["resourceVersion"].as_str().map(String::from),
            }],
            _ => {
                eprintln!(
                    "{host} has no timeout and no gateway route in namespace {namespace}: nothing to change"
                );
                vec![]
            }
        },
    };
    carry_out(
        settings,
        Some(api),
        changes,
        edit.write.force_conflicts,
        attempt.written,
    )
    .await
}
