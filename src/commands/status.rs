//! `kubectl egress status [HOST...]`: what is allowed, how it is routed, what is wrong.
//!
//! Requests: one list each of the namespace's ServiceEntries and VirtualServices, one list each of
//! istio-system's Gateways, ServiceEntries, VirtualServices and DestinationRules, one get for the
//! mesh ConfigMap and for each Service a route sends to. Reads the user may not make are reported
//! as unknown, never as an error that hides the rest.

use std::io::Write;

use serde_json::Value;

use crate::cli::StatusArgs;
use crate::cluster::{api::IstioApi, connect};
use std::collections::BTreeMap;

use crate::core::istio::{
    DEFAULT_EGRESS_GATEWAY_HOST, DestinationRule, Kind, ServiceEntry, VirtualService,
};
use crate::core::render::ObjectFormat;
use crate::core::status::{self, ClusterView, GATEWAY_NAMESPACE, Known, Severity};
use crate::core::traffic::{KubeService, service_port_protocol};
use crate::error::{Error, Result, exit};
use crate::settings::{Output, Settings};

use super::parse_hosts;

pub async fn run(settings: &Settings, args: StatusArgs) -> Result<u8> {
    let hosts: Vec<String> = parse_hosts(&args.hosts)?
        .iter()
        .map(|h| h.to_string())
        .collect();
    if settings.output == Output::Objects(ObjectFormat::Name) {
        return Err(Error::input(
            "-o name is not available for status: use wide, yaml or json",
        ));
    }
    let (session_namespace, cluster) = connect::open_cluster(settings).await?;
    let api = IstioApi::new(&cluster, settings.api_version).verify_namespaces();
    let namespace = (!args.all_namespaces).then_some(session_namespace.as_str());

    let service_entries: Vec<ServiceEntry> =
        api.list_typed(Kind::ServiceEntry, namespace, None).await?;
    let virtual_services: Vec<VirtualService> = api
        .list_typed(Kind::VirtualService, namespace, None)
        .await?;
    let view = read_view(&api, namespace, service_entries, virtual_services, &[]).await;
    let report = status::analyse(&view, &hosts);
    // The report owns what it says: what was read goes before it is printed (memory).
    drop(view);
    match settings.output {
        // Written as serialised, not built whole first: a namespace of 20,000 hosts makes tens
        // of megabytes of JSON or YAML.
        Output::Objects(ObjectFormat::Json) => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if serde_json::to_writer_pretty(&mut out, &report).is_ok() {
                let _ = writeln!(out);
            }
            let _ = out.flush();
        }
        Output::Objects(_) => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if let Err(e) = serde_saphyr::to_io_writer(&mut out, &report) {
                let _ = writeln!(out, "# cannot render YAML: {e}");
            }
            let _ = out.flush();
        }
        Output::Default | Output::Wide => print!(
            "{}",
            status::table(
                &report,
                args.all_namespaces,
                settings.output == Output::Wide
            )
        ),
    }
    if !hosts.is_empty() {
        for missing in hosts
            .iter()
            .filter(|h| !report.hosts.iter().any(|r| &r.host == *h))
        {
            eprintln!("{missing}: no ServiceEntry or VirtualService in this namespace");
        }
    }
    let failing = report.worst().is_some_and(|s| s >= Severity::Warning);
    Ok(if args.exit_code && failing {
        exit::FINDINGS
    } else {
        exit::OK
    })
}

/// What decides where a namespace's traffic goes, beside its own ServiceEntries and
/// VirtualServices (already listed): what istio-system holds, the Services routes send to, the
/// mesh config. Reads the user may not make come back as unknown. `timeout` and `via-gateway`
/// use it too, to check what they are about to write.
pub async fn read_view(
    api: &IstioApi<'_>,
    namespace: Option<&str>,
    service_entries: Vec<ServiceEntry>,
    virtual_services: Vec<VirtualService>,
    also_services: &[&str],
) -> ClusterView {
    // What the egress gateway knows of external hosts: already listed with -A, else one list.
    let gateway_service_entries = if namespace.is_none() || namespace == Some(GATEWAY_NAMESPACE) {
        Known::Yes(
            service_entries
                .iter()
                .filter(|se| se.metadata.namespace.as_deref() == Some(GATEWAY_NAMESPACE))
                .cloned()
                .collect(),
        )
    } else {
        known(
            api.list_typed(Kind::ServiceEntry, Some(GATEWAY_NAMESPACE), None)
                .await,
        )
    };
    let gateways = known(
        api.list_typed(Kind::Gateway, Some(GATEWAY_NAMESPACE), None)
            .await,
    );
    let gateway_virtual_services = if namespace.is_none() || namespace == Some(GATEWAY_NAMESPACE) {
        Known::Yes(
            virtual_services
                .iter()
                .filter(|vs| vs.metadata.namespace.as_deref() == Some(GATEWAY_NAMESPACE))
                .cloned()
                .collect(),
        )
    } else {
        known(
            api.list_typed(Kind::VirtualService, Some(GATEWAY_NAMESPACE), None)
                .await,
        )
    };
    let destination_rules = known(
        api.list_typed(Kind::DestinationRule, Some(GATEWAY_NAMESPACE), None)
            .await,
    );
    // The namespace's own (TLS origination); with -A or in istio-system, the list above has them.
    let namespace_destination_rules: Vec<DestinationRule> = match namespace {
        Some(ns) if ns != GATEWAY_NAMESPACE => {
            known(api.list_typed(Kind::DestinationRule, Some(ns), None).await)
                .into_option()
                .unwrap_or_default()
        }
        None => known(api.list_typed(Kind::DestinationRule, None, None).await)
            .into_option()
            .unwrap_or_default()
            .into_iter()
            .filter(|dr: &DestinationRule| {
                dr.metadata.namespace.as_deref() != Some(GATEWAY_NAMESPACE)
            })
            .collect(),
        _ => vec![],
    };
    // The Services that routes send to: the egress gateway's, and any other a route names.
    let typed_virtual_services = virtual_services;
    let mut services = BTreeMap::new();
    let mut wanted = vec![DEFAULT_EGRESS_GATEWAY_HOST.to_string()];
    wanted.extend(
        also_services
            .iter()
            .filter(|s| s.ends_with(".svc.cluster.local") && **s != DEFAULT_EGRESS_GATEWAY_HOST)
            .map(|s| s.to_string()),
    );
    for vs in &typed_virtual_services {
        for route in vs.spec.http.iter().flat_map(|r| &r.route) {
            let host = &route.destination.host;
            if host.ends_with(".svc.cluster.local") && !wanted.contains(host) {
                wanted.push(host.clone());
            }
        }
    }
    for fqdn in wanted {
        let mut parts = fqdn.split('.');
        let (Some(name), Some(ns)) = (parts.next(), parts.next()) else {
            continue;
        };
        let service = known(api.get_core("Service", "services", ns, name).await)
            .map(|s| s.as_ref().map(kube_service));
        services.insert(fqdn, service);
    }
    let egress_gateway_service = match &services[DEFAULT_EGRESS_GATEWAY_HOST] {
        Known::Yes(s) => Known::Yes(s.is_some()),
        Known::Unknown(why) => Known::Unknown(why.clone()),
    };
    let outbound_policy = match known(
        api.get_core("ConfigMap", "configmaps", GATEWAY_NAMESPACE, "istio")
            .await,
    ) {
        Known::Yes(Some(config_map)) => Known::Yes(outbound_mode(&config_map)),
        Known::Yes(None) => Known::Unknown("ConfigMap istio-system/istio not found".into()),
        Known::Unknown(why) => Known::Unknown(why),
    };

    ClusterView {
        service_entries,
        virtual_services: typed_virtual_services,
        gateways,
        gateway_service_entries,
        egress_gateway_service,
        gateway_virtual_services,
        destination_rules,
        namespace_destination_rules,
        services,
        outbound_policy,
    }
}

/// A Service as the traffic model needs it: its selector and its ports' protocols.
fn kube_service(service: &Value) -> KubeService {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    KubeService {
        name: text(&service["metadata"]["name"]),
        namespace: text(&service["metadata"]["namespace"]),
        selector: service["spec"]["selector"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
            .unwrap_or_default(),
        ports: service["spec"]["ports"]
            .as_array()
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| {
                        let number = u32::try_from(p["port"].as_u64()?).ok()?;
                        let protocol = service_port_protocol(
                            p["name"].as_str().unwrap_or_default(),
                            p["appProtocol"].as_str(),
                        );
                        Some((number, protocol))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// A read the user may not be allowed to make: the reason instead of an error.
fn known<T>(result: Result<T>) -> Known<T> {
    match result {
        Ok(value) => Known::Yes(value),
        Err(e) => Known::Unknown(e.to_string()),
    }
}

/// `outboundTrafficPolicy.mode` from the mesh config in the `istio` ConfigMap's `mesh` key.
fn outbound_mode(config_map: &Value) -> Option<String> {
    let mesh = config_map["data"]["mesh"].as_str()?;
    let parsed: Value = serde_saphyr::from_str(mesh).ok()?;
    parsed["outboundTrafficPolicy"]["mode"]
        .as_str()
        .map(String::from)
}
