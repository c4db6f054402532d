//! A proxy's live Envoy config, as its admin port's `config_dump` gives it, summed up; and what
//! must be live there for a write to be enforced (an [`Expectation`] per proxy, from what status
//! predicts for it). Pure: `cluster/proxies.rs` fetches the dumps.
//!
//! Ground truth: the dumps in tests/fixtures/envoy, captured from the project's real mesh.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::status::HostReport;
use crate::core::mesh::traffic::{Outcome, Traffic, Via, Wire};
use crate::core::objects::validate::go_duration_nanos;

/// The admin paths a check needs: only clusters' names (a field mask: a few KB, not tens), and
/// the route configurations whole.
pub const CLUSTERS_PATH: &str = "/config_dump?resource=dynamic_active_clusters&mask=cluster.name";
pub const ROUTES_PATH: &str = "/config_dump?resource=dynamic_route_configs";
/// And the listeners, for TLS ports: which SNI goes to which cluster is decided there.
pub const LISTENERS_PATH: &str = "/config_dump?resource=dynamic_listeners";

/// What a proxy has live, as far as the plugin's writes change it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Cluster names: `outbound|80||httpbin.org`, `BlackHoleCluster`, ...
    pub clusters: BTreeSet<String>,
    /// Route configurations by name: `80` on a sidecar, `http.8080` on the gateway.
    pub route_configs: BTreeMap<String, Vec<VirtualHost>>,
    /// Listeners by name (`0.0.0.0_443`): their filter chains, read when a TLS port is checked.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub listeners: BTreeMap<String, Vec<FilterChain>>,
}

/// One filter chain of a listener: the SNIs it matches and the cluster its TCP proxy sends to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FilterChain {
    pub server_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VirtualHost {
    /// `httpbin.org:80`, `block_all`, `allow_any`.
    pub name: String,
    pub domains: Vec<String>,
    pub routes: Vec<RouteEntry>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RouteEntry {
    pub action: Action,
    /// Envoy's spelling (`0.500s`; `0s`: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Cluster(String),
    WeightedClusters(Vec<(String, u32)>),
    DirectResponse(u16),
    /// A redirect, or anything else the plugin never writes.
    Other,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Retries {
    pub retry_on: String,
    pub num_retries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<String>,
}

// config_dump's JSON, only the fields read (unknown ones ignored).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Dump<T> {
    configs: Vec<T>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClusterConfig {
    cluster: Named,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Named {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RouteConfigDump {
    route_config: RouteConfigJson,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RouteConfigJson {
    name: String,
    virtual_hosts: Vec<VirtualHostJson>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VirtualHostJson {
    name: String,
    domains: Vec<String>,
    routes: Vec<RouteJson>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RouteJson {
    route: Option<RouteActionJson>,
    direct_response: Option<DirectResponseJson>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RouteActionJson {
    cluster: Option<String>,
    weighted_clusters: Option<WeightedJson>,
    timeout: Option<String>,
    retry_policy: Option<RetryJson>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WeightedJson {
    clusters: Vec<WeightJson>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct WeightJson {
    name: String,
    weight: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DirectResponseJson {
    status: u16,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RetryJson {
    retry_on: String,
    num_retries: Option<u32>,
    per_try_timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListenerDump {
    /// Absent while a listener warms or drains: such a one serves nothing yet.
    active_state: Option<ActiveListener>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActiveListener {
    listener: ListenerJson,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListenerJson {
    name: String,
    filter_chains: Vec<FilterChainJson>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FilterChainJson {
    filter_chain_match: ChainMatchJson,
    filters: Vec<FilterJson>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChainMatchJson {
    server_names: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FilterJson {
    name: String,
    typed_config: TcpProxyJson,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TcpProxyJson {
    cluster: Option<String>,
}

/// The answer to [`LISTENERS_PATH`]: each listener's filter chains.
pub fn parse_listeners(json: &str) -> Result<BTreeMap<String, Vec<FilterChain>>, String> {
    let dump: Dump<ListenerDump> =
        serde_json::from_str(json).map_err(|e| format!("not a listeners config_dump: {e}"))?;
    Ok(dump
        .configs
        .into_iter()
        .filter_map(|c| c.active_state)
        .map(|active| {
            let listener = active.listener;
            let chains = listener.filter_chains.into_iter().map(|chain| FilterChain {
                server_names: chain.filter_chain_match.server_names,
                cluster: chain
                    .filters
                    .into_iter()
                    .find(|f| f.name == "envoy.filters.network.tcp_proxy")
                    .and_then(|f| f.typed_config.cluster),
            });
            (listener.name, chains.collect())
        })
        .collect())
}

/// The answer to [`CLUSTERS_PATH`] (or the unmasked dump): the clusters' names.
pub fn parse_clusters(json: &str) -> Result<BTreeSet<String>, String> {
    let dump: Dump<ClusterConfig> =
        serde_json::from_str(json).map_err(|e| format!("not a clusters config_dump: {e}"))?;
    Ok(dump.configs.into_iter().map(|c| c.cluster.name).collect())
}

/// The answer to [`ROUTES_PATH`]: route configurations by name.
pub fn parse_routes(json: &str) -> Result<BTreeMap<String, Vec<VirtualHost>>, String> {
    let dump: Dump<RouteConfigDump> =
        serde_json::from_str(json).map_err(|e| format!("not a routes config_dump: {e}"))?;
    Ok(dump
        .configs
        .into_iter()
        .map(|c| {
            let hosts = c.route_config.virtual_hosts.into_iter().map(virtual_host);
            (c.route_config.name, hosts.collect())
        })
        .collect())
}

fn virtual_host(json: VirtualHostJson) -> VirtualHost {
    VirtualHost {
        name: json.name,
        domains: json.domains,
        routes: json.routes.into_iter().map(route_entry).collect(),
    }
}

fn route_entry(json: RouteJson) -> RouteEntry {
    let Some(route) = json.route else {
        return RouteEntry {
            action: json
                .direct_response
                .map_or(Action::Other, |d| Action::DirectResponse(d.status)),
            timeout: None,
            retries: None,
        };
    };
    let action = match (route.cluster, route.weighted_clusters) {
        (Some(cluster), _) => Action::Cluster(cluster),
        (None, Some(weighted)) => Action::WeightedClusters(
            weighted
                .clusters
                .into_iter()
                .map(|w| (w.name, w.weight.unwrap_or(0)))
                .collect(),
        ),
        (None, None) => Action::Other,
    };
    RouteEntry {
        action,
        timeout: route.timeout,
        retries: route.retry_policy.map(|r| Retries {
            retry_on: r.retry_on,
            num_retries: r.num_retries.unwrap_or(1),
            per_try_timeout: r.per_try_timeout,
        }),
    }
}

/// Which kind of proxy an expectation is for: the route configurations are named differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxy {
    /// A sidecar: route configuration `80` for port 80.
    Sidecar,
    /// The egress gateway: `http.8080` for its Service's port 80 (the listener's target port,
    /// which the model does not know): any `http.*` configuration.
    Gateway,
}

/// One thing that must be live.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The virtual host `host:port` routes to `cluster`, with `timeout` (None: none) and, when
    /// the VirtualService sets them, these retries.
    Routed {
        host: String,
        port: u32,
        cluster: String,
        timeout: Option<String>,
        retries: Option<crate::core::objects::istio::HttpRetry>,
    },
    /// The virtual host `host:port` has some route (its cluster is not pushed: 503 NC).
    Routes {
        host: String,
        port: u32,
    },
    /// No virtual host `host:port`: the catch-all (block_all, allow_any) answers.
    NoVirtualHost {
        host: String,
        port: u32,
    },
    ClusterPresent(String),
    /// On a TLS port: the listener `0.0.0.0_PORT` has a filter chain for the SNI `host` that
    /// sends to `cluster`; None: no filter chain names it (the request is not routed by SNI).
    TlsChain {
        host: String,
        port: u32,
        cluster: Option<String>,
    },
}

/// What must be live on one proxy for a write to be enforced.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub proxy: Proxy,
    pub checks: Vec<Check>,
}

/// What is not live yet, in words a user reads: `route 80 httpbin.org:80: timeout 15s, expected 0.5s`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference(pub Vec<String>);

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("; "))
    }
}

impl Expectation {
    pub fn met(&self, live: &Summary) -> Result<(), Difference> {
        let missing: Vec<String> = self
            .checks
            .iter()
            .filter_map(|check| self.unmet(check, live))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Difference(missing))
        }
    }

    /// Whether the check needs the route configurations (a clusters-only check is one GET).
    pub fn needs_routes(&self) -> bool {
        self.checks.iter().any(|c| {
            matches!(
                c,
                Check::Routed { .. } | Check::Routes { .. } | Check::NoVirtualHost { .. }
            )
        })
    }

    /// Whether it needs the listeners (a TLS port is checked).
    pub fn needs_listeners(&self) -> bool {
        self.checks
            .iter()
            .any(|c| matches!(c, Check::TlsChain { .. }))
    }

    fn unmet(&self, check: &Check, live: &Summary) -> Option<String> {
        match check {
            Check::ClusterPresent(name) => {
                (!live.clusters.contains(name)).then(|| format!("cluster {name}: not there"))
            }
            Check::TlsChain {
                host,
                port,
                cluster,
            } => tls_chain_differs(live, host, *port, cluster.as_deref()),
            Check::NoVirtualHost { host, port } => self
                .find(live, host, *port)
                .map(|(config, _)| format!("route {config} {host}:{port}: still there")),
            Check::Routes { host, port } => match self.find(live, host, *port) {
                None => Some(self.no_such_host(host, *port)),
                Some(_) => None,
            },
            Check::Routed {
                host,
                port,
                cluster,
                timeout,
                retries,
            } => match self.find(live, host, *port) {
                None => Some(self.no_such_host(host, *port)),
                Some((config, vhost)) => {
                    let at = format!("route {config} {host}:{port}");
                    route_differs(vhost, cluster, timeout.as_deref(), retries.as_ref())
                        .map(|what| format!("{at}: {what}"))
                }
            },
        }
    }

    fn no_such_host(&self, host: &str, port: u32) -> String {
        match self.proxy {
            Proxy::Sidecar => format!("route {port} {host}:{port}: no such virtual host"),
            Proxy::Gateway => format!("gateway route http.* {host}:{port}: no such virtual host"),
        }
    }

    /// The virtual host `host:port` in the route configuration that serves `port`.
    fn find<'s>(
        &self,
        live: &'s Summary,
        host: &str,
        port: u32,
    ) -> Option<(&'s str, &'s VirtualHost)> {
        let name = format!("{host}:{port}");
        let sidecar_config = port.to_string();
        live.route_configs
            .iter()
            .filter(|(config, _)| match self.proxy {
                Proxy::Sidecar => **config == sidecar_config,
                Proxy::Gateway => config.starts_with("http."),
            })
            .find_map(|(config, hosts)| {
                hosts
                    .iter()
                    .find(|v| v.name == name)
                    .map(|v| (config.as_str(), v))
            })
    }
}

/// The filter chain of listener `0.0.0.0_PORT` whose SNIs name `host`, and the listener's name.
pub(crate) fn tls_chain<'s>(
    live: &'s Summary,
    host: &str,
    port: u32,
) -> (String, Option<&'s FilterChain>) {
    let name = format!("0.0.0.0_{port}");
    let chain = live.listeners.get(&name).and_then(|chains| {
        chains
            .iter()
            .find(|c| c.server_names.iter().any(|s| s == host))
    });
    (name, chain)
}

fn tls_chain_differs(
    live: &Summary,
    host: &str,
    port: u32,
    cluster: Option<&str>,
) -> Option<String> {
    let (name, chain) = tls_chain(live, host, port);
    match (cluster, chain) {
        (Some(want), Some(c)) if c.cluster.as_deref() == Some(want) => None,
        (Some(want), Some(c)) => Some(format!(
            "listener {name} SNI {host}: to {}, expected {want}",
            c.cluster.as_deref().unwrap_or("no cluster")
        )),
        (Some(_), None) => Some(format!("listener {name}: no filter chain for SNI {host}")),
        (None, Some(_)) => Some(format!("listener {name} SNI {host}: still there")),
        (None, None) => None,
    }
}

/// What differs in the first route of `vhost` (the plugin's VirtualServices have one per host)
/// from what is expected; None when nothing does.
fn route_differs(
    vhost: &VirtualHost,
    cluster: &str,
    timeout: Option<&str>,
    retries: Option<&crate::core::objects::istio::HttpRetry>,
) -> Option<String> {
    let Some(route) = vhost.routes.first() else {
        return Some("no route".into());
    };
    let mut said = vec![];
    match &route.action {
        Action::Cluster(c) if c == cluster => {}
        Action::Cluster(c) => said.push(format!("to {c}, expected {cluster}")),
        Action::WeightedClusters(w) if w.iter().any(|(c, _)| c == cluster) => {}
        other => said.push(format!("{}, expected {cluster}", action_words(other))),
    }
    let live = route.timeout.as_deref().unwrap_or("0s");
    let wanted = timeout.unwrap_or("0s");
    if go_duration_nanos(live) != go_duration_nanos(wanted) {
        let shown = |t: &str| {
            if go_duration_nanos(t) == Some(0) {
                "none".to_string()
            } else {
                t.to_string()
            }
        };
        said.push(format!(
            "timeout {}, expected {}",
            shown(live),
            shown(wanted)
        ));
    }
    if let Some(want) = retries {
        said.extend(retries_differ(route.retries.as_ref(), want));
    }
    (!said.is_empty()).then(|| said.join(", "))
}

pub(crate) fn action_words(action: &Action) -> String {
    match action {
        Action::Cluster(c) => format!("to {c}"),
        Action::WeightedClusters(w) => {
            let names: Vec<&str> = w.iter().map(|(c, _)| c.as_str()).collect();
            format!("to {}", names.join(" + "))
        }
        Action::DirectResponse(status) => format!("answers {status}"),
        Action::Other => "not a route to a cluster".into(),
    }
}

fn retries_differ(
    live: Option<&Retries>,
    want: &crate::core::objects::istio::HttpRetry,
) -> Option<String> {
    let Some(live) = live else {
        return Some(format!("no retries, expected {}", want.attempts));
    };
    let mut said = vec![];
    if i64::from(live.num_retries) != i64::from(want.attempts) {
        said.push(format!(
            "retries {}, expected {}",
            live.num_retries, want.attempts
        ));
    }
    if let Some(per_try) = &want.per_try_timeout {
        let got = live.per_try_timeout.as_deref().unwrap_or("0s");
        if go_duration_nanos(got) != go_duration_nanos(per_try) {
            said.push(format!("per-try timeout {got}, expected {per_try}"));
        }
    }
    if let Some(on) = &want.retry_on
        && &live.retry_on != on
    {
        said.push(format!("retry on {}, expected {on}", live.retry_on));
    }
    (!said.is_empty()).then(|| said.join(", "))
}

/// The cluster Istio names for `host`'s `port` (and subset).
pub fn cluster_name(port: u32, subset: Option<&str>, host: &str) -> String {
    format!("outbound|{port}|{}|{host}", subset.unwrap_or_default())
}

/// What a sidecar must have live for `reports` (what status predicts for its pod, host by host
/// and port by port). `traffic` is the pod's (its workload's answers where a Sidecar selects it).
pub fn sidecar_expectation(
    hosts: &[(&HostReport, &[Traffic])],
    retries: &RetriesByHost,
) -> Expectation {
    let mut checks = vec![];
    for (report, traffic) in hosts {
        for t in traffic.iter() {
            checks.extend(sidecar_checks(report, t, retries.get(&report.host)));
        }
    }
    Expectation {
        proxy: Proxy::Sidecar,
        checks,
    }
}

/// The retries each host's VirtualService sets (the plugin checks them only where one does: the
/// mesh's default retry policy is not read).
pub type RetriesByHost = BTreeMap<String, crate::core::objects::istio::HttpRetry>;

pub(crate) fn sidecar_checks(
    report: &HostReport,
    t: &Traffic,
    retries: Option<&crate::core::objects::istio::HttpRetry>,
) -> Vec<Check> {
    let host = report.host.clone();
    let port = t.port;
    let http = t.wire == Some(Wire::Http);
    let tls = t.wire == Some(Wire::Tls);
    match (t.outcome, t.via) {
        (Outcome::Egress, Via::Direct) => {
            let cluster = cluster_name(t.cluster_port.unwrap_or(port), None, &host);
            routed_or_cluster(t, host, cluster, retries)
        }
        // Refused at the gateway: the sidecar sends it there all the same.
        (Outcome::Egress | Outcome::NoRoute | Outcome::Denied, Via::Gateway) => {
            let Some((gateway, gateway_port)) = gateway_hop(t) else {
                return vec![];
            };
            let subset = report.route.subset.as_deref();
            let cluster = cluster_name(gateway_port, subset, &gateway);
            routed_or_cluster(t, host, cluster, retries)
        }
        // What decides it: no virtual host (HTTP), no filter chain for the SNI (TLS). The
        // host's cluster may be there all the same (a VirtualService's route pulls it in).
        (Outcome::Blackhole, _) | (Outcome::Egress, Via::Passthrough) if http => {
            vec![Check::NoVirtualHost { host, port }]
        }
        (Outcome::Blackhole, _) | (Outcome::Egress, Via::Passthrough) if tls => {
            vec![Check::TlsChain {
                host,
                port,
                cluster: None,
            }]
        }
        (Outcome::NoCluster, _) if http => vec![Check::Routes { host, port }],
        // Unknown, no listener: nothing the plugin can tell from the config.
        _ => vec![],
    }
}

/// The cluster, and what sends the port's requests to it: the route (HTTP) or the SNI's filter
/// chain (TLS).
fn routed_or_cluster(
    t: &Traffic,
    host: String,
    cluster: String,
    retries: Option<&crate::core::objects::istio::HttpRetry>,
) -> Vec<Check> {
    let port = t.port;
    let mut checks = vec![Check::ClusterPresent(cluster.clone())];
    match t.wire {
        Some(Wire::Http) => checks.push(Check::Routed {
            host,
            port,
            cluster,
            timeout: t.timeout.clone(),
            retries: retries.cloned(),
        }),
        Some(Wire::Tls) => checks.push(Check::TlsChain {
            host,
            port,
            cluster: Some(cluster),
        }),
        _ => {}
    }
    checks
}

/// The gateway a request goes to, from its second hop (`istio-egressgateway.istio-system:80`):
/// the Service's FQDN and port.
fn gateway_hop(t: &Traffic) -> Option<(String, u32)> {
    let fqdn = t.gateway_host.clone()?;
    let port = t.hops.get(1)?.rsplit_once(':')?.1.parse().ok()?;
    Some((fqdn, port))
}

/// What the egress gateway must have live: for each host a sidecar sends through it (HTTP), a
/// virtual host on its port when status says the request leaves (none when it says 404 NR); and
/// for `gateway`'s own hosts, what status predicts at the gateway (`gateway` entries), or no
/// virtual host for a host with no objects left (`gone`).
pub fn gateway_expectation(reports: &[&HostReport], gone: &[String]) -> Expectation {
    let mut checks = vec![];
    for report in reports {
        for t in &report.traffic {
            if t.via != Via::Gateway || t.wire != Some(Wire::Http) {
                continue;
            }
            let Some((_, port)) = gateway_hop(t) else {
                continue;
            };
            let host = report.host.clone();
            checks.push(match t.outcome {
                // The RBAC filter refuses it after the route is chosen.
                Outcome::Egress | Outcome::Denied => Check::Routes { host, port },
                Outcome::NoRoute => Check::NoVirtualHost { host, port },
                _ => continue,
            });
        }
        for t in report.gateway.iter().filter(|t| t.wire == Some(Wire::Http)) {
            let host = report.host.clone();
            let port = t.port;
            match t.outcome {
                Outcome::Egress | Outcome::Denied => {
                    let cluster = cluster_name(t.cluster_port.unwrap_or(port), None, &host);
                    checks.extend(routed_or_cluster(t, host, cluster, None));
                }
                Outcome::NoRoute => checks.push(Check::NoVirtualHost { host, port }),
                _ => {}
            }
        }
    }
    for host in gone {
        checks.push(Check::NoVirtualHost {
            host: host.clone(),
            port: 80,
        });
    }
    Expectation {
        proxy: Proxy::Gateway,
        checks,
    }
}

#[cfg(test)]
pub(crate) mod tests;
