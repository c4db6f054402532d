//! `status --proxies`: each sidecar's live config against what status predicts for its pod, host
//! by host and port by port, and the external hosts it has that status does not show. Pure:
//! commands/status.rs reads the proxies (cluster/proxies.rs) and prints [`section`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::proxy_config::{
    self, Expectation, Proxy, RetriesByHost, Summary, VirtualHost, action_words,
};
use super::status::{HostReport, Report};
use crate::core::mesh::traffic::{self, Outcome, Traffic, Wire};
use crate::core::objects::istio::VirtualService;
use crate::core::objects::plan::RouteSettings;

/// What one sidecar has live, against the prediction for its pod.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyReport {
    pub pod: String,
    pub namespace: String,
    /// Every predicted port is live as predicted and no unpredicted external host is there;
    /// null when its config could not be read (`unreadable` says why).
    pub agrees: Option<bool>,
    /// The labels of the Sidecar selector whose answers are the pod's, if one picks it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    pub ports: Vec<PortAnswer>,
    /// Clusters for external hosts that status shows no row for (`outbound|80||www.httpbin.org`):
    /// something status did not read or does not model made them.
    pub unpredicted: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// One host and port of the pod: status's line for it, the proxy's, and what differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortAnswer {
    pub host: String,
    pub port: u32,
    pub predicted: String,
    pub live: String,
    /// null where status's outcome is unknown (nothing to hold the proxy to).
    pub agrees: Option<bool>,
    pub differences: Vec<String>,
}

/// A pod with a sidecar, as the comparison needs it.
pub struct Pod<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

/// The hosts of `report` that apply to `pod` (its namespace's rows), each with the traffic its
/// sidecar gets: its workload's where a Sidecar's selector picks it out, else the namespace's.
pub fn traffic_for<'r>(
    report: &'r Report,
    pod: &Pod<'_>,
) -> Vec<(&'r HostReport, &'r [Traffic], Option<&'r str>)> {
    let selected = |selector: &str| {
        selector.split(',').all(|pair| {
            pair.split_once('=')
                .is_some_and(|(k, v)| pod.labels.get(k).is_some_and(|l| l == v))
        })
    };
    report
        .hosts
        .iter()
        .filter(|h| h.namespace == pod.namespace)
        .map(
            |h| match h.workloads.iter().find(|w| selected(&w.selector)) {
                Some(w) => (h, w.traffic.as_slice(), Some(w.selector.as_str())),
                None => (h, h.traffic.as_slice(), None),
            },
        )
        .collect()
}

/// The retries each host's VirtualService (the one status says applies) sets: the proxy is held
/// to them only where one does (the mesh's default retry policy is not read).
pub fn retries_by_host(report: &Report, virtual_services: &[VirtualService]) -> RetriesByHost {
    let mut retries = RetriesByHost::new();
    for host in &report.hosts {
        let vs = host.virtual_services.first().and_then(|name| {
            virtual_services.iter().find(|v| {
                &v.metadata.name == name
                    && v.metadata.namespace.as_deref().unwrap_or(&host.namespace) == host.namespace
            })
        });
        if let Some(set) =
            vs.and_then(|vs| RouteSettings::from_virtual_service(&host.host, &vs.spec).retries)
        {
            retries.insert(host.host.clone(), set);
        }
    }
    retries
}

/// The pod's live `config` against `report`'s prediction for it.
pub fn compare(
    report: &Report,
    pod: &Pod<'_>,
    retries: &RetriesByHost,
    config: &Summary,
) -> ProxyReport {
    let hosts = traffic_for(report, pod);
    let workload = hosts.iter().find_map(|(_, _, w)| *w).map(str::to_string);
    let mut ports = vec![];
    for (host, traffic, _) in &hosts {
        for t in traffic.iter() {
            ports.push(port_answer(host, t, retries, config));
        }
    }
    // The pod's namespace's rows only: with -A, another namespace's row for a host is no answer
    // for this pod.
    let shown: BTreeSet<&str> = hosts.iter().map(|(h, _, _)| h.host.as_str()).collect();
    let unpredicted: Vec<String> = config
        .clusters
        .iter()
        .filter(|c| external_host(c).is_some_and(|h| !shown.contains(h)))
        .cloned()
        .collect();
    let agrees = ports.iter().all(|p| p.agrees != Some(false)) && unpredicted.is_empty();
    ProxyReport {
        pod: pod.name.to_string(),
        namespace: pod.namespace.to_string(),
        agrees: Some(agrees),
        workload,
        ports,
        unpredicted,
        unreadable: None,
    }
}

/// A pod whose config could not be read, and why.
pub fn unreadable(pod: &Pod<'_>, why: String) -> ProxyReport {
    ProxyReport {
        pod: pod.name.to_string(),
        namespace: pod.namespace.to_string(),
        agrees: None,
        workload: None,
        ports: vec![],
        unpredicted: vec![],
        unreadable: Some(why),
    }
}

fn port_answer(
    host: &HostReport,
    t: &Traffic,
    retries: &RetriesByHost,
    config: &Summary,
) -> PortAnswer {
    let checks = proxy_config::sidecar_checks(host, t, retries.get(&host.host));
    let predictable = t.outcome != Outcome::Unknown && !checks.is_empty();
    let differences = match (Expectation {
        proxy: Proxy::Sidecar,
        checks,
    })
    .met(config)
    {
        Ok(()) => vec![],
        Err(difference) => difference.0,
    };
    PortAnswer {
        host: host.host.clone(),
        port: t.port,
        predicted: predicted_words(&host.host, t),
        live: live_words(config, &host.host, t.port, t.wire),
        agrees: predictable.then_some(differences.is_empty()),
        differences,
    }
}

/// Status's line for the port, without the port it starts with (`sidecar -> httpbin.org:80 ...`).
fn predicted_words(host: &str, t: &Traffic) -> String {
    let line = traffic::describe(host, t);
    let port = format!(":{}", t.port);
    line.strip_prefix(&port)
        .unwrap_or(&line)
        .trim_start()
        .to_string()
}

/// What the proxy has for `host:port`: its clusters for that port, and on an HTTP port the route
/// configuration's virtual host (or the catch-all that answers instead), on a TLS port the
/// listener's filter chain for the SNI.
pub fn live_words(config: &Summary, host: &str, port: u32, wire: Option<Wire>) -> String {
    let clusters: Vec<&str> = config
        .clusters
        .iter()
        .filter(|c| {
            cluster_host(c) == Some(host) && c.split('|').nth(1) == Some(port.to_string().as_str())
        })
        .map(String::as_str)
        .collect();
    let mut said = vec![if clusters.is_empty() {
        format!("no cluster for {host}")
    } else {
        format!("cluster {}", clusters.join(", "))
    }];
    if wire == Some(Wire::Http) {
        said.push(route_words(config, host, port));
    } else if wire == Some(Wire::Tls) {
        said.push(match proxy_config::tls_chain(config, host, port) {
            (name, Some(chain)) => format!(
                "listener {name} SNI {host}: to {}",
                chain.cluster.as_deref().unwrap_or("no cluster")
            ),
            (name, None) => format!("listener {name}: no filter chain for SNI {host}"),
        });
    }
    said.join("; ")
}

fn route_words(config: &Summary, host: &str, port: u32) -> String {
    let name = port.to_string();
    let Some(hosts) = config.route_configs.get(&name) else {
        return format!("no route configuration {name}");
    };
    let wanted = format!("{host}:{port}");
    match hosts.iter().find(|v| v.name == wanted) {
        Some(vhost) => format!("route {name} {wanted}: {}", first_route(vhost)),
        None => {
            let catch_all = hosts
                .iter()
                .find(|v| v.domains.iter().any(|d| d == "*"))
                .map_or("nothing".to_string(), |v| v.name.clone());
            format!("route {name}: no virtual host {wanted} ({catch_all} answers)")
        }
    }
}

fn first_route(vhost: &VirtualHost) -> String {
    let Some(route) = vhost.routes.first() else {
        return "no route".into();
    };
    let mut words = action_words(&route.action);
    let timeout = route.timeout.as_deref().unwrap_or("0s");
    if crate::core::objects::validate::go_duration_nanos(timeout) == Some(0) {
        words.push_str(", timeout none");
    } else {
        words.push_str(&format!(", timeout {timeout}"));
    }
    if let Some(retries) = &route.retries {
        words.push_str(&format!(", {} retries", retries.num_retries));
    }
    words
}

/// `outbound|80||httpbin.org` -> `httpbin.org`.
fn cluster_host(cluster: &str) -> Option<&str> {
    let mut parts = cluster.splitn(4, '|');
    (parts.next()? == "outbound").then_some(())?;
    parts.nth(2)
}

/// The host of an outbound cluster for a host outside the cluster (not a Kubernetes Service's
/// `name.namespace.svc...`).
fn external_host(cluster: &str) -> Option<&str> {
    cluster_host(cluster).filter(|h| !h.contains(".svc.") && !h.ends_with(".svc"))
}

/// Below status's table: `proxies`, one line per pod, then what differs (every port with -o wide).
pub fn section(proxies: &[ProxyReport], wide: bool) -> String {
    let mut out = String::from("\nproxies\n");
    if proxies.is_empty() {
        out.push_str("  no running pod with a sidecar\n");
    }
    for p in proxies {
        let whose = p
            .workload
            .as_ref()
            .map(|w| format!(" (workloads {w})"))
            .unwrap_or_default();
        let verdict = match (&p.unreadable, p.agrees) {
            (Some(why), _) => format!("unreadable: {why}"),
            (None, Some(true)) => {
                let unknown = p.ports.iter().filter(|a| a.agrees.is_none()).count();
                let predicted = p.ports.len() - unknown;
                match unknown {
                    0 => format!("agrees with status ({predicted} ports)"),
                    _ => format!(
                        "agrees with status on {predicted} ports; {unknown} status cannot predict (their live config below)"
                    ),
                }
            }
            _ => "differs from status".to_string(),
        };
        out.push_str(&format!("  {}/{}{whose}: {verdict}\n", p.namespace, p.pod));
        for port in &p.ports {
            let unknown = port.agrees.is_none();
            if !(wide || unknown || port.agrees == Some(false)) {
                continue;
            }
            out.push_str(&format!("    {}:{}\n", port.host, port.port));
            out.push_str(&format!("      status: {}\n", port.predicted));
            out.push_str(&format!("      live:   {}\n", port.live));
            for d in &port.differences {
                out.push_str(&format!("      differs: {d}\n"));
            }
        }
        if !p.unpredicted.is_empty() {
            out.push_str(&format!(
                "    live clusters status shows no host for: {}\n",
                p.unpredicted.join(", ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! Against the real dumps of the project's mesh (tests/fixtures/envoy) and the mesh those
    //! fixtures were taken in.
    use super::*;
    use crate::core::analysis::proxy_config::tests::{HOST, NS, fixture, mesh, student, timeout};
    use crate::core::analysis::status::{self, ClusterView};

    fn labels() -> BTreeMap<String, String> {
        BTreeMap::from([("app".to_string(), "sentences".to_string())])
    }

    fn compared(view: &ClusterView, hosts: &[&str], step: &str) -> ProxyReport {
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let report = status::analyse_in(view, Some(NS), &hosts);
        let labels = labels();
        let pod = Pod {
            namespace: NS,
            name: "api-v1-abc",
            labels: &labels,
        };
        compare(
            &report,
            &pod,
            &RetriesByHost::new(),
            &fixture(step, "sidecar"),
        )
    }

    #[test]
    fn a_proxy_with_what_status_predicts_agrees_port_by_port() {
        let p = compared(&student(Some(timeout())), &[], "timeout");
        assert_eq!(p.agrees, Some(true), "{p:#?}");
        let ports: Vec<(u32, Option<bool>)> = p.ports.iter().map(|a| (a.port, a.agrees)).collect();
        assert_eq!(ports, [(80, Some(true)), (443, Some(true))]);
        assert_eq!(
            p.ports[0].live,
            "cluster outbound|80||httpbin.org; route 80 httpbin.org:80: to outbound|80||httpbin.org, timeout 0.500s, 2 retries"
        );
        assert_eq!(
            p.ports[1].live,
            "cluster outbound|443||httpbin.org; listener 0.0.0.0_443 SNI httpbin.org: to outbound|443||httpbin.org"
        );
        assert!(p.unpredicted.is_empty());
    }

    #[test]
    fn a_proxy_without_the_timeout_differs_and_says_what_it_has() {
        let p = compared(&student(Some(timeout())), &[], "allow");
        assert_eq!(p.agrees, Some(false));
        assert_eq!(
            p.ports[0].differences,
            ["route 80 httpbin.org:80: timeout none, expected 0.5s"]
        );
        assert_eq!(p.ports[1].agrees, Some(true));
        insta::with_settings!({snapshot_path => "../../../tests/snapshots"}, {
            insta::assert_snapshot!("live_section_timeout_not_live", section(&[p], false));
        });
    }

    #[test]
    fn hosts_the_proxy_has_and_status_does_not_show_are_named() {
        // Nothing in student1: status shows no host; the proxy still has httpbin.org's clusters
        // (as when another namespace exports a ServiceEntry status could not read).
        let p = compared(&mesh(), &[], "allow");
        assert!(p.ports.is_empty());
        assert_eq!(
            p.unpredicted,
            ["outbound|443||httpbin.org", "outbound|80||httpbin.org"]
        );
        assert_eq!(p.agrees, Some(false));
        // Asked by name, the host gets its row: blocked, which the proxy contradicts port by port.
        let named = compared(&mesh(), &[HOST], "allow");
        assert!(named.unpredicted.is_empty());
        assert_eq!(named.ports[0].agrees, Some(false));
        assert!(
            named.ports[0]
                .live
                .contains("route 80 httpbin.org:80: to outbound|80||httpbin.org"),
            "{named:#?}"
        );
        // And once the clusters are gone it agrees: the catch-all answers.
        let cleaned = compared(&mesh(), &[HOST], "cleanup");
        assert_eq!(cleaned.agrees, Some(true), "{cleaned:#?}");
        assert_eq!(
            cleaned.ports[0].live,
            "no cluster for httpbin.org; route 80: no virtual host httpbin.org:80 (block_all answers)"
        );
    }

    #[test]
    fn a_pod_a_sidecar_selects_is_held_to_its_workloads_answers() {
        let report = status::analyse_in(&student(None), Some(NS), &[]);
        let mut report = report;
        let mut blocked = report.hosts[0].traffic.clone();
        for t in &mut blocked {
            t.outcome = Outcome::Unknown;
        }
        report.hosts[0].workloads = vec![status::WorkloadTraffic {
            selector: "app=sentences".into(),
            sidecar: "student1/api-only".into(),
            shadowed_by: vec![],
            same_as_namespace: false,
            traffic: blocked,
        }];
        let labels = labels();
        let chosen = Pod {
            namespace: NS,
            name: "api",
            labels: &labels,
        };
        let p = compare(
            &report,
            &chosen,
            &RetriesByHost::new(),
            &fixture("initial", "sidecar"),
        );
        assert_eq!(p.workload.as_deref(), Some("app=sentences"));
        // Unknown ports hold the proxy to nothing, and show what it has.
        assert!(p.ports.iter().all(|a| a.agrees.is_none()));
        assert_eq!(p.agrees, Some(true));
        let other_labels = BTreeMap::new();
        let other = Pod {
            namespace: NS,
            name: "web",
            labels: &other_labels,
        };
        let q = compare(
            &report,
            &other,
            &RetriesByHost::new(),
            &fixture("initial", "sidecar"),
        );
        assert_eq!(q.workload, None);
        assert_eq!(
            q.agrees,
            Some(false),
            "the namespace's answer: allowed, not live"
        );
    }
}
