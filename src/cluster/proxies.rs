//! The proxies a change applies to, and their live Envoy config, through the API server as
//! `istioctl proxy-config` reads it: a port-forward (pods/portforward, WebSocket) to each pod's
//! admin port 15000, then HTTP/1.1 GETs of `config_dump` on that one stream, polled until the
//! expectation (core/analysis/proxy_config) is met or the deadline passes.
//!
//! Requests: one list of the namespace's pods (paged), for the gateway one list of istio-system's
//! pods labelled istio=egressgateway; then one port-forward per pod (again only if its stream
//! breaks), and on it one or two GETs per poll.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::time::Instant;

use super::connect::Cluster;
use crate::core::analysis::proxy_config::{
    CLUSTERS_PATH, Expectation, LISTENERS_PATH, ROUTES_PATH, Summary, parse_clusters,
    parse_listeners, parse_routes,
};

/// Envoy's admin port in every Istio proxy.
pub const ADMIN_PORT: u16 = 15000;
/// The container Istio's injection adds.
const PROXY_CONTAINER: &str = "istio-proxy";
const GATEWAY_SELECTOR: &str = "istio=egressgateway";
const PAGE: u32 = 500;
/// Between polls of one proxy: from 50 ms, doubling, at most 500 ms (istiod debounces 100 ms).
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_millis(500);
/// One GET on the admin port, at most (a stalled stream is said, not waited on forever).
const GET_TIMEOUT: Duration = Duration::from_secs(5);

/// A pod with an Envoy to ask.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyPod {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl ProxyPod {
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Why pods could not be listed or reached.
#[derive(Debug, Clone, PartialEq)]
pub enum Unreachable {
    /// RBAC: the verb and resource refused (`create pods/portforward`, `list pods`).
    Forbidden(String),
    /// The pod is not there any more (deleted while waiting).
    Gone,
    Other(String),
}

/// The namespace's Running pods that carry an injected `istio-proxy` container.
pub async fn sidecars(cluster: &Cluster, namespace: &str) -> Result<Vec<ProxyPod>, Unreachable> {
    list_proxies(cluster, Some(namespace), None).await
}

/// Every namespace's Running pods with an injected `istio-proxy` (status -A --proxies).
pub async fn all_sidecars(cluster: &Cluster) -> Result<Vec<ProxyPod>, Unreachable> {
    list_proxies(cluster, None, None).await
}

/// The egress gateway's Running pods in istio-system (`istio=egressgateway`).
pub async fn gateway_pods(cluster: &Cluster) -> Result<Vec<ProxyPod>, Unreachable> {
    list_proxies(cluster, Some("istio-system"), Some(GATEWAY_SELECTOR)).await
}

async fn list_proxies(
    cluster: &Cluster,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<ProxyPod>, Unreachable> {
    let api: Api<Pod> = match namespace {
        Some(namespace) => Api::namespaced(cluster.client.clone(), namespace),
        None => Api::all(cluster.client.clone()),
    };
    let namespace = namespace.unwrap_or("any namespace");
    let mut pods = vec![];
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE);
        if let Some(selector) = selector {
            params = params.labels(selector);
        }
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let page = api
            .list(&params)
            .await
            .map_err(|e| unreachable("list pods", namespace, e))?;
        pods.extend(
            page.items
                .iter()
                .filter_map(|pod| proxy_pod(pod, selector.is_some())),
        );
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(pods);
        }
    }
}

/// A Running pod with an Envoy: a sidecar (an `istio-proxy` container beside the app's), or a
/// gateway pod (the selector picked it; its only container is the proxy).
fn proxy_pod(pod: &Pod, gateway: bool) -> Option<ProxyPod> {
    let running = pod.status.as_ref()?.phase.as_deref() == Some("Running");
    let deleting = pod.metadata.deletion_timestamp.is_some();
    let containers = &pod.spec.as_ref()?.containers;
    let injected = containers.len() > 1 && containers.iter().any(|c| c.name == PROXY_CONTAINER);
    (running && !deleting && (gateway || injected)).then(|| ProxyPod {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
    })
}

fn unreachable(doing: &str, namespace: &str, error: kube::Error) -> Unreachable {
    match &error {
        kube::Error::Api(status) if status.code == 403 => {
            Unreachable::Forbidden(format!("{doing} in {namespace}"))
        }
        kube::Error::Api(status) if status.code == 404 => Unreachable::Gone,
        kube::Error::Api(status) => {
            Unreachable::Other(format!("cannot {doing} in {namespace}: {}", status.message))
        }
        _ => Unreachable::Other(format!(
            "cannot {doing} in {namespace}: {}",
            super::connect::one_line(&error.to_string())
        )),
    }
}

/// One read of `pod`'s clusters and route configurations (status --proxies), by `deadline`.
pub async fn read_config(
    cluster: &Cluster,
    pod: &ProxyPod,
    deadline: Instant,
) -> Result<Summary, Unreachable> {
    let open = tokio::time::timeout_at(deadline, Admin::open(cluster, pod));
    let mut admin = open
        .await
        .map_err(|_| Unreachable::Other("its admin port did not answer in time".into()))??;
    let everything = Wanted {
        routes: true,
        listeners: true,
    };
    admin
        .summary(everything, deadline)
        .await
        .map_err(Unreachable::Other)
}

/// What became of one proxy.
#[derive(Debug, Clone, PartialEq)]
pub enum Reached {
    Yes,
    /// The deadline passed; what was still missing (or why it could not be read).
    No(String),
    Forbidden(String),
}

/// Polls `pod`'s config until `expectation` is met or `deadline`: a broken stream is opened
/// again; a pod that is gone ends the wait for it at once.
pub async fn wait_for(
    cluster: &Cluster,
    pod: &ProxyPod,
    expectation: &Expectation,
    deadline: Instant,
) -> Reached {
    let mut pause = FIRST_PAUSE;
    let mut last = String::from("not asked yet");
    let mut admin: Option<Admin> = None;
    loop {
        if admin.is_none() {
            match Admin::open(cluster, pod).await {
                Ok(opened) => admin = Some(opened),
                Err(Unreachable::Forbidden(what)) => return Reached::Forbidden(what),
                Err(Unreachable::Gone) => return Reached::No("pod gone".into()),
                Err(Unreachable::Other(why)) => last = why,
            }
        }
        if let Some(open) = &mut admin {
            let wanted = Wanted {
                routes: expectation.needs_routes(),
                listeners: expectation.needs_listeners(),
            };
            match open.summary(wanted, deadline).await {
                Ok(live) => match expectation.met(&live) {
                    Ok(()) => return Reached::Yes,
                    Err(difference) => last = difference.to_string(),
                },
                Err(why) => {
                    last = why;
                    admin = None;
                }
            }
        }
        if Instant::now() + pause >= deadline {
            return Reached::No(last);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// Which dumps beside the clusters' names a read takes.
#[derive(Clone, Copy)]
struct Wanted {
    routes: bool,
    listeners: bool,
}

/// One port-forward to a pod's admin port, and an HTTP/1.1 connection on it.
struct Admin {
    sender: SendRequest<Empty<Bytes>>,
    // Kept: dropping it ends the forward.
    _forwarder: kube::api::Portforwarder,
}

impl Admin {
    async fn open(cluster: &Cluster, pod: &ProxyPod) -> Result<Admin, Unreachable> {
        let api: Api<Pod> = Api::namespaced(cluster.upgrade_client.clone(), &pod.namespace);
        let mut forwarder = api
            .portforward(&pod.name, &[ADMIN_PORT])
            .await
            .map_err(|e| unreachable("create pods/portforward", &pod.namespace, e))?;
        let stream = forwarder
            .take_stream(ADMIN_PORT)
            .ok_or_else(|| Unreachable::Other("port-forward gave no stream".into()))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| Unreachable::Other(format!("admin port: {e}")))?;
        // The connection is driven beside the requests; it ends with the stream.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Admin {
            sender,
            _forwarder: forwarder,
        })
    }

    /// The clusters' names, and the route configurations and listeners when the check needs them.
    async fn summary(&mut self, wanted: Wanted, deadline: Instant) -> Result<Summary, String> {
        let clusters = parse_clusters(&self.get(CLUSTERS_PATH, deadline).await?)?;
        let route_configs = match wanted.routes {
            true => parse_routes(&self.get(ROUTES_PATH, deadline).await?)?,
            false => BTreeMap::new(),
        };
        let listeners = match wanted.listeners {
            true => parse_listeners(&self.get(LISTENERS_PATH, deadline).await?)?,
            false => BTreeMap::new(),
        };
        Ok(Summary {
            clusters,
            route_configs,
            listeners,
        })
    }

    async fn get(&mut self, path: &str, deadline: Instant) -> Result<String, String> {
        let bound = (Instant::now() + GET_TIMEOUT).min(deadline + Duration::from_millis(100));
        let request = http::Request::get(path)
            .header(http::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let exchange = async {
            self.sender
                .ready()
                .await
                .map_err(|e| format!("admin port closed: {e}"))?;
            let response = self
                .sender
                .send_request(request)
                .await
                .map_err(|e| format!("admin port: {e}"))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("admin port: {e}"))?
                .to_bytes();
            if !status.is_success() {
                return Err(format!("admin {path}: HTTP {status}"));
            }
            String::from_utf8(body.to_vec()).map_err(|_| format!("admin {path}: not UTF-8"))
        };
        tokio::time::timeout_at(bound, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("admin {path}: no answer in time")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str, containers: &[&str]) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api-1", "namespace": "student1", "labels": {"app": "sentences"}},
            "spec": {"containers": containers.iter().map(|c| serde_json::json!({"name": c})).collect::<Vec<_>>()},
            "status": {"phase": phase}
        }))
        .unwrap()
    }

    #[test]
    fn only_running_injected_pods_are_asked() {
        let injected = proxy_pod(&pod("Running", &["api", "istio-proxy"]), false).unwrap();
        assert_eq!(injected.qualified(), "student1/api-1");
        assert_eq!(injected.labels["app"], "sentences");
        assert_eq!(proxy_pod(&pod("Running", &["api"]), false), None);
        assert_eq!(
            proxy_pod(&pod("Pending", &["api", "istio-proxy"]), false),
            None
        );
        // A gateway pod's one container is the proxy, whatever its name; it is no sidecar.
        assert!(proxy_pod(&pod("Running", &["istio-proxy"]), true).is_some());
        assert_eq!(proxy_pod(&pod("Running", &["istio-proxy"]), false), None);
    }
}
