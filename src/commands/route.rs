//! `timeout` and `via-gateway`: two edits of the host's one VirtualService.
//!
//! Requests: one list of ServiceEntries (the host's object name and ports; it also picks the API
//! version), one list of VirtualServices (the current route to compose with), one apply.

use serde_json::Value;

use crate::cli::{TimeoutArgs, ViaGatewayArgs, WriteArgs};
use crate::cluster::{api::IstioApi, connect};
use crate::core::istio::{ApiVersion, Kind, VirtualServiceSpec};
use crate::core::ownership::{self, Request};
use crate::core::plan::{self, GatewayHop, RouteChange, RouteSettings, Target};
use crate::core::validate::{Host, InputError, Timeout, dns_label, export_to, is_http_protocol};
use crate::error::{Error, Reason, Result};
use crate::settings::{DryRun, Settings};

use super::allow::to_value;
use super::{Change, carry_out, existing, find_by_name, typed, warn};

pub async fn run_timeout(settings: &Settings, args: TimeoutArgs) -> Result<u8> {
    let host = Host::parse(&args.host)?;
    let change = match (&args.duration, args.clear) {
        (Some(d), false) => RouteChange::SetTimeout(Timeout::parse(d)?.to_string()),
        _ => RouteChange::ClearTimeout,
    };
    edit(settings, &host, change, &args.export_to, &args.write).await
}

pub async fn run_via_gateway(settings: &Settings, args: ViaGatewayArgs) -> Result<u8> {
    let host = Host::parse(&args.host)?;
    let change = if args.off {
        RouteChange::Direct
    } else {
        let port = match args.port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => {
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
        RouteChange::ViaGateway(GatewayHop {
            gateway_host: gateway_host.to_string(),
            port,
            subset: args
                .subset
                .as_deref()
                .map(|s| dns_label("--subset", s))
                .transpose()?,
        })
    };
    edit(settings, &host, change, &args.export_to, &args.write).await
}

async fn edit(
    settings: &Settings,
    host: &Host,
    change: RouteChange,
    export_to_flags: &[String],
    write: &WriteArgs,
) -> Result<u8> {
    let export_to_flags = export_to_flags
        .iter()
        .map(|e| export_to(e))
        .collect::<std::result::Result<Vec<_>, _>>()?;
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
                kind: Kind::VirtualService,
                namespace: namespace.clone(),
                object: to_value(&vs),
                before: None,
            })
            .into_iter()
            .collect();
        return carry_out(settings, None, changes, false).await;
    };

    let api = IstioApi::new(cluster, settings.api_version);
    let service_entries = api.list(Kind::ServiceEntry, Some(&namespace), None).await?;
    let service_entry = service_entries
        .iter()
        .filter(|se| lists_host(se, host))
        .max_by_key(|se| typed::<Value>(se).metadata.is_managed());
    match (service_entry, &change) {
        (None, RouteChange::SetTimeout(_) | RouteChange::ViaGateway(_)) => warn(&format!(
            "no ServiceEntry for {host} in namespace {namespace}: with REGISTRY_ONLY calls still fail; run kubectl egress allow {host}"
        )),
        (Some(se), RouteChange::SetTimeout(t)) if !has_http_port(se) => warn(&format!(
            "{host} has no HTTP port: timeout {t} applies only to HTTP routes, never to HTTPS/TLS traffic (istio#47713)"
        )),
        _ => {}
    }
    // The VirtualService takes its ServiceEntry's name; with none, a name no other host's
    // ServiceEntry has, so that a later `allow` can give the ServiceEntry the same one.
    let service_entry_name = service_entry.and_then(|se| se["metadata"]["name"].as_str());
    let other_hosts_names: Vec<String> = service_entries
        .iter()
        .filter(|se| !lists_host(se, host))
        .filter_map(|se| se["metadata"]["name"].as_str().map(String::from))
        .collect();

    let virtual_services = api
        .list(Kind::VirtualService, Some(&namespace), None)
        .await?;
    let placement = ownership::place(
        &Request {
            kind: Kind::VirtualService,
            namespace: &namespace,
            host,
            requested_name: None,
            preferred_name: service_entry_name,
            given_to_others: &other_hosts_names,
            adopt: write.adopt,
        },
        &existing(&virtual_services),
    )
    .map_err(|e| Error::failed(Reason::Conflict, e))?;
    placement.warnings.iter().for_each(|w| warn(w));
    let before = find_by_name(&virtual_services, &placement.name).cloned();
    let current = before
        .as_ref()
        .map(|vs| {
            RouteSettings::from_virtual_service(
                host.as_str(),
                &typed::<VirtualServiceSpec>(vs).spec,
            )
        })
        .unwrap_or_default();
    let mut next = change.apply(&current);
    if !export_to_flags.is_empty() {
        next.export_to = export_to_flags;
    }
    let target = Target {
        namespace: namespace.clone(),
        api_version: api.version(),
    };
    let changes = match plan::virtual_service(&target, &placement.name, host, &next) {
        Some(vs) => vec![Change::Apply {
            kind: Kind::VirtualService,
            namespace: namespace.clone(),
            object: to_value(&vs),
            before,
        }],
        // Nothing left to say about the host: the VirtualService goes.
        None => match before {
            // Never delete what the plugin did not create, even when adopting.
            Some(vs) if typed::<Value>(&vs).metadata.is_managed() => vec![Change::Delete {
                kind: Kind::VirtualService,
                namespace: namespace.clone(),
                name: placement.name.clone(),
                uid: vs["metadata"]["uid"].as_str().map(String::from),
            }],
            _ => {
                eprintln!(
                    "{host} has no timeout and no gateway route in namespace {namespace}: nothing to change"
                );
                vec![]
            }
        },
    };
    carry_out(settings, Some(&api), changes, write.force_conflicts).await
}

fn lists_host(object: &Value, host: &Host) -> bool {
    object["spec"]["hosts"]
        .as_array()
        .is_some_and(|hosts| hosts.iter().any(|h| h.as_str() == Some(host.as_str())))
}

fn has_http_port(service_entry: &Value) -> bool {
    service_entry["spec"]["ports"]
        .as_array()
        .is_some_and(|ports| {
            ports
                .iter()
                .any(|p| p["protocol"].as_str().is_some_and(is_http_protocol))
        })
}
