//! Driving the Istio oracle (hack/harness/istio-sim, built by scripts/lib/common.sh's
//! istio_sim_bin) from the tests: cases in, Istio's verdicts out, and the comparison with the
//! `traffic` entries of `status`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

/// The oracle binary: scripts/test exports its path in EGRESS_ORACLE.
pub fn binary() -> PathBuf {
    std::env::var_os("EGRESS_ORACLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "EGRESS_ORACLE is not set: run these tests with scripts/test, which builds the Istio oracle"
            )
        })
}

/// One state of the world for the oracle: Istio objects, Kubernetes objects, mesh config, and
/// the requests to walk through it.
pub struct Case {
    pub name: String,
    pub istio: Vec<Value>,
    pub kube: Vec<Value>,
    pub mesh: String,
    /// (namespace, host, port, HTTP|TLS|TCP)
    pub requests: Vec<(String, String, u32, String)>,
}

fn yaml_stream(objects: &[Value]) -> String {
    // JSON is YAML: one document per object.
    objects
        .iter()
        .map(|o| serde_json::to_string(o).unwrap())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// Runs every case through the oracle in one process; one verdict per request, in order.
pub fn run(cases: &[Case]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    let output = dir.path().join("out.json");
    let body = json!({
        "cases": cases.iter().map(|c| json!({
            "name": c.name,
            "config": yaml_stream(&c.istio),
            "kube": yaml_stream(&c.kube),
            "mesh": c.mesh,
            "requests": c.requests.iter().map(|(ns, host, port, protocol)| {
                match ns.strip_prefix(AT_GATEWAY) {
                    Some(gateway) => json!({
                        "namespace": "", "gateway": gateway, "host": host, "port": port,
                        "protocol": protocol,
                    }),
                    None => {
                        let (ns, labels) = ns.split_once(WITH_LABELS).unwrap_or((ns, ""));
                        let labels: serde_json::Map<String, Value> = labels
                            .split(',')
                            .filter_map(|kv| kv.split_once('='))
                            .map(|(k, v)| (k.to_string(), json!(v)))
                            .collect();
                        json!({
                            "namespace": ns, "host": host, "port": port, "protocol": protocol,
                            "labels": labels,
                        })
                    }
                }
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    std::fs::write(&input, serde_json::to_vec(&body).unwrap()).unwrap();
    let log = dir.path().join("log.txt");
    let status = Command::new(binary())
        .args(["-test.run", "^TestOracle$"])
        .env("ORACLE_INPUT", &input)
        .env("ORACLE_OUTPUT", &output)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::inherit())
        .status()
        .unwrap();
    let verdicts: Vec<Value> = std::fs::read(&output)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            panic!(
                "the oracle wrote no verdicts (exit {status}); last lines of its log:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        });
    // A case the oracle could not load: show why (its log's failure lines).
    if verdicts.iter().any(|v| {
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("oracle failed"))
    }) {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        for line in text
            .lines()
            .filter(|l| {
                l.contains("--- FAIL")
                    || l.contains("_test.go:")
                    || l.contains(".go:")
                    || l.contains("panic")
            })
            .take(20)
        {
            println!("oracle log: {line}");
        }
    }
    let asked: usize = cases.iter().map(|c| c.requests.len()).sum();
    assert_eq!(
        verdicts.len(),
        asked,
        "the oracle answered {} of {asked} requests",
        verdicts.len()
    );
    verdicts
}

/// Istio's verdict and the plugin's `traffic` entry, reduced to what both say.
#[derive(Debug, PartialEq)]
pub struct Said {
    pub via: String,
    pub outcome: String,
    pub response: Option<String>,
    pub timeout_ms: Option<u64>,
    pub virtual_service: Option<String>,
    pub gateway_host: Option<String>,
    /// The external host the request leaves to.
    pub destination: Option<String>,
    /// TLS originated toward it (mode, SNI), and its port when not the client's.
    pub upstream_tls: Option<String>,
    pub upstream_sni: Option<String>,
    pub upstream_port: Option<u64>,
}

pub fn from_oracle(verdict: &Value) -> Said {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(String::from);
    Said {
        via: verdict["via"].as_str().unwrap_or_default().to_string(),
        outcome: verdict["outcome"].as_str().unwrap_or_default().to_string(),
        response: text(&verdict["response"]),
        timeout_ms: verdict["timeoutMs"].as_u64(),
        // namespace/name: the plugin names a VirtualService of the client's own namespace (and
        // at a gateway, any) by its name alone, another namespace's as namespace/name.
        virtual_service: text(&verdict["virtualService"]).map(|v| {
            let client = verdict["request"]["namespace"].as_str().unwrap_or_default();
            match v.split_once('/') {
                Some((ns, name)) if client.is_empty() || ns == client => name.to_string(),
                _ => v,
            }
        }),
        gateway_host: text(&verdict["gatewayHost"]),
        destination: text(&verdict["destination"]),
        upstream_tls: text(&verdict["upstreamTls"]),
        upstream_sni: text(&verdict["upstreamSni"]),
        upstream_port: verdict["upstreamPort"].as_u64(),
    }
}

pub fn from_plugin(traffic: &Value) -> Said {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(String::from);
    Said {
        via: traffic["via"].as_str().unwrap_or_default().to_string(),
        outcome: traffic["outcome"].as_str().unwrap_or_default().to_string(),
        response: text(&traffic["response"]),
        timeout_ms: traffic["timeout"]
            .as_str()
            .and_then(kubectl_egress::core::objects::validate::go_duration_nanos)
            .map(|n| (n / 1_000_000) as u64),
        // Envoy's TCP proxies keep no trace of the VirtualService behind them: the oracle can
        // name it for HTTP only, so only HTTP is compared.
        virtual_service: matches!(
            traffic["protocol"]
                .as_str()
                .map(str::to_ascii_uppercase)
                .as_deref(),
            Some("HTTP" | "HTTP2" | "GRPC")
        )
        .then(|| text(&traffic["virtualService"]))
        .flatten(),
        gateway_host: text(&traffic["gatewayHost"]),
        destination: (traffic["outcome"] == "egress" && traffic["via"] != "passthrough")
            .then(|| {
                let last = traffic["hops"].as_array()?.last()?.as_str()?;
                Some(last.rsplit_once(':').map_or(last, |(h, _)| h).to_string())
            })
            .flatten(),
        upstream_tls: text(&traffic["upstreamTls"]),
        upstream_sni: text(&traffic["upstreamSni"]),
        upstream_port: traffic["upstreamPort"].as_u64(),
    }
}

/// A request's "namespace" that starts at an egress gateway (its Service's FQDN follows) rather
/// than at a sidecar: `status`'s `gateway` entries, in the gateway's namespace.
pub const AT_GATEWAY: &str = "gateway=";

/// A request's "namespace" from a workload with labels (`s1@app=sentences,mode=api`): a
/// `workloads` entry of status, which a Sidecar's selector picks out.
pub const WITH_LABELS: &str = "@";

/// The requests a `status -o json` report asks about: one per host and traffic entry, one per
/// `workloads` entry's (from a client with its labels), then one per `gateway` entry (from the
/// gateway itself).
pub fn requests_of(report: &Value) -> Vec<(String, String, u32, String, Value)> {
    let mut requests = vec![];
    for host in report["hosts"].as_array().into_iter().flatten() {
        let sidecar = host["traffic"].as_array().into_iter().flatten().map(|t| {
            (
                host["namespace"].as_str().unwrap_or_default().to_string(),
                t,
            )
        });
        let gateway = host["gateway"].as_array().into_iter().flatten().map(|t| {
            (
                format!(
                    "{AT_GATEWAY}{}",
                    t["gatewayHost"].as_str().unwrap_or_default()
                ),
                t,
            )
        });
        let workloads = host["workloads"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|w| {
                let from = format!(
                    "{}{WITH_LABELS}{}",
                    host["namespace"].as_str().unwrap_or_default(),
                    w["selector"].as_str().unwrap_or_default()
                );
                w["traffic"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |t| (from.clone(), t))
            });
        for (from, t) in sidecar.chain(workloads).chain(gateway) {
            let wire = match t["protocol"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_uppercase()
                .as_str()
            {
                "HTTP" | "HTTP2" | "GRPC" => "HTTP",
                "HTTPS" | "TLS" => "TLS",
                _ => "TCP",
            };
            requests.push((
                from,
                host["host"].as_str().unwrap_or_default().to_string(),
                t["port"].as_u64().unwrap_or_default() as u32,
                wire.to_string(),
                t.clone(),
            ));
        }
    }
    requests
}

/// The Kubernetes side the oracle needs: namespaces, the Services given, and for each Service
/// that selects a gateway, a Pod with its labels (no kubelet runs pods here).
pub fn kube_objects(namespaces: &[&str], services: &[Value]) -> Vec<Value> {
    let mut objects: Vec<Value> = namespaces
        .iter()
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .collect();
    for (i, service) in services.iter().enumerate() {
        let mut clean = service.clone();
        if let Some(meta) = clean["metadata"].as_object_mut() {
            meta.retain(|k, _| {
                k == "name" || k == "namespace" || k == "labels" || k == "annotations"
            });
        }
        if let Some(spec) = clean["spec"].as_object_mut() {
            spec.retain(|k, _| k == "selector" || k == "ports");
        }
        objects.push(clean);
        if let Some(selector) = service["spec"]["selector"].as_object() {
            objects.push(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {
                    "name": format!("{}-0", service["metadata"]["name"].as_str().unwrap_or("gw")),
                    "namespace": service["metadata"]["namespace"],
                    "labels": selector,
                },
                "spec": {"containers": [{"name": "istio-proxy", "image": "proxyv2"}]},
                "status": {"podIP": format!("10.244.0.{}", i + 2), "phase": "Running"},
            }));
        }
    }
    objects
}
