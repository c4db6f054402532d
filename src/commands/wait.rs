//! `--wait[=DURATION]` after a write: until every proxy the change applies to has it live.
//!
//! What must be live is what status predicts for each pod after the write (core/analysis/status, read
//! as a write's check reads: the namespace's objects and istio-system's), turned into an
//! expectation per proxy (core/analysis/proxy_config); the proxies are asked through port-forwards
//! (cluster/proxies.rs), all at once. Requests: the status read (about 10), one list of pods
//! (two with the gateway's), then per pod one port-forward and one or two GETs per poll.

use serde::Serialize;
use tokio::time::Instant;

use crate::cluster::api::IstioApi;
use crate::cluster::connect::Cluster;
use crate::cluster::proxies::{self, ProxyPod, Reached, Unreachable};
use crate::cluster::view::{Reach, read_view};
use crate::core::analysis::live;
use crate::core::analysis::proxy_config::{self, Expectation, RetriesByHost};
use crate::core::analysis::status::{self, GATEWAY_NAMESPACE, HostReport, Report};
use crate::core::mesh::traffic::{Traffic, Via};
use crate::core::objects::istio::{Kind, ServiceEntry, VirtualService};
use crate::core::render::{self, ObjectFormat};
use crate::error::{Error, Reason, Result};
use crate::settings::{DryRun, Settings};

/// Whose proxies a write changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proxies {
    /// The namespace's sidecars (and the gateway's, for hosts routed through it).
    Sidecars,
    /// `gateway`: the egress gateway's pods.
    Gateway,
}

/// What a write touched: the namespace it wrote to, and the hosts.
pub struct Written<'a> {
    pub namespace: &'a str,
    pub hosts: Vec<String>,
    pub proxies: Proxies,
}

/// The figures `-o json|yaml` carries (`wait:` beside the List's items).
#[derive(Debug, Serialize)]
pub struct Figures {
    pub sidecars: usize,
    pub reached: usize,
    pub seconds: f64,
    pub pending: Vec<Pending>,
}

#[derive(Debug, Serialize)]
pub struct Pending {
    pub pod: String,
    pub missing: String,
}

/// After the write that ended with `code`: waits when --wait was given (not in a dry run, nor
/// after a failed write), prints the figures (and, with -o json|yaml, the objects kept), and
/// returns the exit code.
pub async fn after_write(
    settings: &Settings,
    cluster: &Cluster,
    written: Written<'_>,
    code: u8,
) -> Result<u8> {
    let Some(limit) = settings.wait.filter(|_| settings.dry_run == DryRun::None) else {
        return Ok(code);
    };
    let started = Instant::now();
    let outcome = wait(settings, cluster, &written, started + limit).await;
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(Waited::NoProxies(said)) => {
            eprintln!("{said}");
            print_objects(settings, None);
            Ok(code)
        }
        Ok(Waited::Asked(results)) => report(settings, results, seconds, code),
        Err(error) => {
            print_objects(settings, None);
            Err(error)
        }
    }
}

enum Waited {
    NoProxies(String),
    Asked(Vec<(ProxyPod, Reached)>),
}

async fn wait(
    settings: &Settings,
    cluster: &Cluster,
    written: &Written<'_>,
    deadline: Instant,
) -> Result<Waited> {
    let api = IstioApi::new(cluster, settings.api_version);
    let namespace = match written.proxies {
        Proxies::Sidecars => written.namespace,
        Proxies::Gateway => GATEWAY_NAMESPACE,
    };
    let (report, retries) = predicted(&api, namespace, &written.hosts).await?;
    let through_gateway = report
        .hosts
        .iter()
        .any(|h| h.traffic.iter().any(|t| t.via == Via::Gateway));
    let mut pods: Vec<(ProxyPod, Expectation)> = vec![];
    if written.proxies == Proxies::Sidecars {
        for pod in listed(proxies::sidecars(cluster, namespace).await, namespace)? {
            let expectation = for_sidecar(&report, &pod, &retries);
            pods.push((pod, expectation));
        }
        if pods.is_empty() {
            return Ok(Waited::NoProxies(format!(
                "no sidecars in {namespace} to wait for"
            )));
        }
    }
    if written.proxies == Proxies::Gateway || through_gateway {
        // `gateway --off`: a host the gateway has no server for any more.
        let gone: Vec<String> = match written.proxies {
            Proxies::Gateway => written
                .hosts
                .iter()
                .filter(|h| {
                    !report
                        .hosts
                        .iter()
                        .any(|r| &r.host == *h && !r.gateway.is_empty())
                })
                .cloned()
                .collect(),
            Proxies::Sidecars => vec![],
        };
        let reports: Vec<&HostReport> = report.hosts.iter().collect();
        let expectation = proxy_config::gateway_expectation(&reports, &gone);
        match proxies::gateway_pods(cluster).await {
            Ok(found) => pods.extend(found.into_iter().map(|p| (p, expectation.clone()))),
            // A student may not list istio-system's pods: the sidecars alone are checked.
            Err(_) if written.proxies == Proxies::Sidecars => eprintln!(
                "the egress gateway's pods cannot be listed: only the sidecars are checked"
            ),
            Err(e) => {
                listed(Err(e), GATEWAY_NAMESPACE)?;
            }
        }
        if pods.is_empty() {
            return Ok(Waited::NoProxies(
                "no egress gateway pods in istio-system to wait for".into(),
            ));
        }
    }
    let asked = pods.iter().map(|(pod, expectation)| async move {
        let reached = proxies::wait_for(cluster, pod, expectation, deadline).await;
        (pod.clone(), reached)
    });
    let mut results = futures_util::future::join_all(asked).await;
    // A student may list istio-system's pods but not forward to them: as when it may not list
    // them, the sidecars alone are checked (istiod pushes the gateway's routes in the same push).
    if written.proxies == Proxies::Sidecars {
        let before = results.len();
        results.retain(|(pod, reached)| {
            !(pod.namespace == GATEWAY_NAMESPACE && matches!(reached, Reached::Forbidden(_)))
        });
        if results.len() < before {
            eprintln!(
                "the egress gateway's pods cannot be reached (pods/portforward in {GATEWAY_NAMESPACE} is forbidden): only the sidecars are checked"
            );
        }
    }
    Ok(Waited::Asked(results))
}

/// What status says of `hosts` in `namespace` now, and the retries their VirtualServices set.
async fn predicted(
    api: &IstioApi<'_>,
    namespace: &str,
    hosts: &[String],
) -> Result<(Report, RetriesByHost)> {
    let service_entries: Vec<ServiceEntry> = api
        .list_typed(Kind::ServiceEntry, Some(namespace), None)
        .await?;
    let virtual_services: Vec<VirtualService> = api
        .list_typed(Kind::VirtualService, Some(namespace), None)
        .await?;
    let view = read_view(
        api,
        Some(namespace),
        service_entries,
        virtual_services,
        &[],
        Reach::OwnOnly,
    )
    .await;
    let report = status::analyse_in(&view, Some(namespace), hosts);
    let retries = live::retries_by_host(&report, &view.virtual_services);
    Ok((report, retries))
}

/// The pod's answers: its workload's where a Sidecar's selector picks it out, else the
/// namespace's.
fn for_sidecar(report: &Report, pod: &ProxyPod, retries: &RetriesByHost) -> Expectation {
    let pod = live::Pod {
        namespace: &pod.namespace,
        name: &pod.name,
        labels: &pod.labels,
    };
    let hosts: Vec<(&HostReport, &[Traffic])> = live::traffic_for(report, &pod)
        .into_iter()
        .map(|(h, traffic, _)| (h, traffic))
        .collect();
    proxy_config::sidecar_expectation(&hosts, retries)
}

fn listed(
    found: std::result::Result<Vec<ProxyPod>, Unreachable>,
    namespace: &str,
) -> Result<Vec<ProxyPod>> {
    found.map_err(|e| match e {
        Unreachable::Forbidden(what) => Error::failed(
            Reason::Forbidden,
            format!("the write stands, but --wait cannot {what}: forbidden; ask for list on pods in {namespace}, or leave out --wait"),
        ),
        Unreachable::Gone => Error::runtime(format!("the write stands, but --wait found no namespace {namespace}")),
        Unreachable::Other(why) => Error::runtime(format!("the write stands, but --wait {why}")),
    })
}

/// Prints what became of each proxy and picks the exit code.
fn report(
    settings: &Settings,
    results: Vec<(ProxyPod, Reached)>,
    seconds: f64,
    code: u8,
) -> Result<u8> {
    let forbidden = results.iter().find_map(|(pod, r)| match r {
        Reached::Forbidden(_) => Some(pod.namespace.clone()),
        _ => None,
    });
    let pending: Vec<Pending> = results
        .iter()
        .filter_map(|(pod, r)| match r {
            Reached::Yes => None,
            Reached::No(missing) | Reached::Forbidden(missing) => Some(Pending {
                pod: pod.qualified(),
                missing: missing.clone(),
            }),
        })
        .collect();
    let figures = Figures {
        sidecars: results.len(),
        reached: results.len() - pending.len(),
        seconds: (seconds * 100.0).round() / 100.0,
        pending,
    };
    let line = summary_line(&figures);
    print_objects(settings, Some(&figures));
    if settings.object_format().ok().flatten().is_none() {
        println!("{line}");
    } else if settings.object_format().ok().flatten() == Some(ObjectFormat::Name) {
        eprintln!("{line}");
    }
    if let Some(namespace) = forbidden {
        return Err(Error::failed(
            Reason::PortForwardForbidden,
            format!(
                "the write stands, but --wait cannot create pods/portforward in namespace {namespace} (forbidden): ask for it (RBAC: create on pods/portforward), or leave out --wait"
            ),
        ));
    }
    if figures.reached < figures.sidecars {
        return Err(Error::failed(
            Reason::NotReached,
            format!(
                "the write stands, but {} of {} sidecars did not have it live in time",
                figures.sidecars - figures.reached,
                figures.sidecars
            ),
        ));
    }
    Ok(code)
}

/// `reached 3/3 sidecars in 0.84 s`, and which did not, with what they miss.
pub fn summary_line(figures: &Figures) -> String {
    let mut line = format!(
        "reached {}/{} sidecars in {:.2} s",
        figures.reached, figures.sidecars, figures.seconds
    );
    if !figures.pending.is_empty() {
        let pending: Vec<String> = figures
            .pending
            .iter()
            .map(|p| format!("{} ({})", p.pod, p.missing))
            .collect();
        line.push_str(&format!("; not reached: {}", pending.join(", ")));
    }
    line
}

/// With -o json|yaml the objects written were kept: printed now as a List carrying `wait`.
fn print_objects(settings: &Settings, figures: Option<&Figures>) {
    let Ok(Some(format @ (ObjectFormat::Json | ObjectFormat::Yaml))) = settings.object_format()
    else {
        return;
    };
    let mut list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": crate::write::held(),
        "metadata": {},
    });
    if let Some(figures) = figures {
        list["wait"] = serde_json::to_value(figures).unwrap_or_default();
    }
    match format {
        ObjectFormat::Json => print!("{}", render::json(&[list])),
        _ => print!("{}", render::yaml(&[list])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_pods_not_reached_and_what_they_miss() {
        let figures = Figures {
            sidecars: 3,
            reached: 1,
            seconds: 60.0,
            pending: vec![Pending {
                pod: "student1/api-v1-abc".into(),
                missing: "route 80 httpbin.org:80: no such virtual host".into(),
            }],
        };
        assert_eq!(
            summary_line(&figures),
            "reached 1/3 sidecars in 60.00 s; not reached: student1/api-v1-abc (route 80 httpbin.org:80: no such virtual host)"
        );
        let all = Figures {
            sidecars: 3,
            reached: 3,
            seconds: 0.84,
            pending: vec![],
        };
        assert_eq!(summary_line(&all), "reached 3/3 sidecars in 0.84 s");
    }
}
