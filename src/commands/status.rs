//! `kubectl egress status [HOST...]`: what is allowed, how it is routed, what is wrong.
//!
//! Requests: one list per kind (ServiceEntries, VirtualServices; Gateways and ServiceEntries in
//! istio-system), and one get each for the egress gateway Service and the mesh ConfigMap. Reads the user may not
//! make are reported as unknown, never as an error that hides the rest.

use serde_json::Value;

use crate::cli::StatusArgs;
use crate::cluster::{api::IstioApi, connect};
use crate::core::istio::{Kind, VirtualServiceSpec};
use crate::core::render::{self, ObjectFormat};
use crate::core::status::{self, ClusterView, GATEWAY_NAMESPACE, Known, Severity};
use crate::error::{Error, Result, exit};
use crate::settings::{Output, Settings};

use super::{parse_hosts, typed};

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
    let api = IstioApi::new(&cluster, settings.api_version);
    let namespace = (!args.all_namespaces).then_some(session_namespace.as_str());

    let service_entries = api.list(Kind::ServiceEntry, namespace, None).await?;
    let virtual_services = api.list(Kind::VirtualService, namespace, None).await?;
    // What the egress gateway knows of external hosts: already listed with -A, else one list.
    let gateway_service_entries = if namespace.is_none() || namespace == Some(GATEWAY_NAMESPACE) {
        Known::Yes(
            service_entries
                .iter()
                .filter(|se| se["metadata"]["namespace"] == GATEWAY_NAMESPACE)
                .map(typed)
                .collect(),
        )
    } else {
        known(
            api.list(Kind::ServiceEntry, Some(GATEWAY_NAMESPACE), None)
                .await,
        )
        .map(|list| list.iter().map(typed).collect())
    };
    let gateways = known(api.list(Kind::Gateway, Some(GATEWAY_NAMESPACE), None).await)
        .map(|list| list.iter().map(typed).collect());
    let egress_gateway_service = known(
        api.get_core(
            "Service",
            "services",
            GATEWAY_NAMESPACE,
            "istio-egressgateway",
        )
        .await,
    )
    .map(|s| s.is_some());
    let outbound_policy = match known(
        api.get_core("ConfigMap", "configmaps", GATEWAY_NAMESPACE, "istio")
            .await,
    ) {
        Known::Yes(Some(config_map)) => Known::Yes(outbound_mode(&config_map)),
        Known::Yes(None) => Known::Unknown("ConfigMap istio-system/istio not found".into()),
        Known::Unknown(why) => Known::Unknown(why),
    };

    let view = ClusterView {
        service_entries: service_entries.iter().map(typed).collect(),
        virtual_services: virtual_services
            .iter()
            .map(typed::<VirtualServiceSpec>)
            .collect(),
        gateways,
        gateway_service_entries,
        egress_gateway_service,
        outbound_policy,
    };
    let report = status::analyse(&view, &hosts);
    match settings.output {
        Output::Objects(ObjectFormat::Json) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_default()
            )
        }
        Output::Objects(_) => print!("{}", render::yaml_one(&report)),
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
