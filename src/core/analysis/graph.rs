//! `status --graph` (a tree in the terminal) and `status -o dot` (Graphviz): the report's egress
//! paths as a picture. Pure: it draws what [`status`](super::status) worked out, nothing more.
//!
//! One picture per group of workloads that get the same answers: a namespace's pods under its
//! Sidecar (or Istio's default scope); then the workloads a Sidecar with a selector picks out,
//! where their answers differ; then, for istio-system's hosts, the egress gateway's own side.
//! Under each: the sidecar, each host and port asked for with the objects that decided it, and
//! where the request goes (direct, through the gateway, passthrough) ending in what the client
//! gets (egress, `502`, `404 NR`, `503 NC`, unknown and why).

use std::fmt::Write;

use super::status::{HostReport, Report, WorkloadTraffic};
use crate::core::mesh::traffic::{Outcome, Traffic, Via};
use crate::core::render::escaped_controls as printable;

/// Workloads that get the same answers, and the requests they make.
struct Group<'a> {
    /// Who they are: `pods in student1`, `workloads app=sentences in student1`.
    title: String,
    /// The first hop and what scopes it: `sidecar (Sidecar student1/default)`.
    proxy: String,
    /// Workload Sidecars whose selections get the same answers as this group.
    same: Vec<String>,
    requests: Vec<Request<'a>>,
}

/// One host and port a workload asks for.
struct Request<'a> {
    host: &'a str,
    traffic: &'a Traffic,
    /// The objects that decided where it goes: `ServiceEntry httpbin`, `VirtualService httpbin`.
    decided_by: Vec<String>,
}

/// The report's requests grouped by who makes them, in the report's order.
fn groups(report: &Report) -> Vec<Group<'_>> {
    let mut groups: Vec<Group> = vec![];
    let mut namespaces: Vec<&str> = vec![];
    for h in &report.hosts {
        if !namespaces.contains(&h.namespace.as_str()) {
            namespaces.push(&h.namespace);
        }
    }
    for namespace in namespaces {
        let hosts: Vec<&HostReport> = report
            .hosts
            .iter()
            .filter(|h| h.namespace == namespace)
            .collect();
        let scope = hosts
            .iter()
            .find_map(|h| h.sidecar.as_deref())
            .map(|s| format!("Sidecar {s}"))
            .unwrap_or_else(|| "Istio's default scope".into());
        let mut pods = Group {
            title: format!("pods in {namespace}"),
            proxy: format!("sidecar ({scope})"),
            same: vec![],
            requests: hosts
                .iter()
                .flat_map(|h| h.traffic.iter().map(move |t| request(h, t)))
                .collect(),
        };
        // Each workload Sidecar's selection: a group of its own where any answer differs.
        let mut selections: Vec<(&str, &str)> = vec![];
        for w in hosts.iter().flat_map(|h| &h.workloads) {
            if !selections.contains(&(w.selector.as_str(), w.sidecar.as_str())) {
                selections.push((&w.selector, &w.sidecar));
            }
        }
        let mut selected = vec![];
        for (selector, sidecar) in selections {
            fn theirs<'h>(
                h: &'h HostReport,
                selector: &str,
                sidecar: &str,
            ) -> Option<&'h WorkloadTraffic> {
                h.workloads
                    .iter()
                    .find(|w| w.selector == selector && w.sidecar == sidecar)
            }
            if hosts
                .iter()
                .all(|h| theirs(h, selector, sidecar).is_none_or(|w| w.same_as_namespace))
            {
                pods.same
                    .push(format!("workloads {selector} (Sidecar {sidecar})"));
                continue;
            }
            selected.push(Group {
                title: format!("workloads {selector} in {namespace}"),
                proxy: format!("sidecar (Sidecar {sidecar})"),
                same: vec![],
                requests: hosts
                    .iter()
                    .flat_map(|h| {
                        let traffic = match theirs(h, selector, sidecar) {
                            Some(w) if !w.same_as_namespace => &w.traffic,
                            _ => &h.traffic,
                        };
                        traffic.iter().map(move |t| request(h, t))
                    })
                    .collect(),
            });
        }
        groups.push(pods);
        groups.extend(selected);
        let at_gateway: Vec<Request> = hosts
            .iter()
            .flat_map(|h| h.gateway.iter().map(move |t| request(h, t)))
            .collect();
        if let Some(first) = at_gateway.first() {
            groups.push(Group {
                title: format!("the egress gateway's side, in {namespace}"),
                proxy: first.traffic.hops.first().cloned().unwrap_or_default(),
                same: vec![],
                requests: at_gateway,
            });
        }
    }
    groups
}

fn request<'a>(h: &'a HostReport, t: &'a Traffic) -> Request<'a> {
    let mut decided_by = vec![];
    // Blocked: nothing the sidecar sees names the host on the port (its ServiceEntry, if any,
    // is out of this sidecar's scope), and REGISTRY_ONLY sends it to the BlackHoleCluster.
    if t.outcome == Outcome::Blackhole {
        return Request {
            host: &h.host,
            traffic: t,
            decided_by: vec!["nothing this sidecar sees names it: REGISTRY_ONLY".into()],
        };
    }
    match (&h.service_entry, &h.allowed_by) {
        (Some(se), _) => decided_by.push(format!("ServiceEntry {se}")),
        (None, Some(by)) => decided_by.push(format!("ServiceEntry {by}")),
        (None, None) => {}
    }
    if let Some(vs) = &t.virtual_service {
        decided_by.push(format!("VirtualService {vs}"));
    }
    Request {
        host: &h.host,
        traffic: t,
        decided_by,
    }
}

/// What the client gets, in words: `egress (timeout 0.5s)`, `blackhole (502)`.
fn outcome(t: &Traffic) -> String {
    let mut text = t.outcome.to_string();
    if let Some(response) = t.response {
        text.push_str(&format!(" ({response})"));
    }
    if t.via == Via::Passthrough && t.outcome == Outcome::Egress {
        text.push_str(" (passthrough: ALLOW_ANY)");
    }
    if let Some(timeout) = &t.timeout {
        text.push_str(&format!(" (timeout {timeout})"));
    }
    if let Some(reason) = &t.reason {
        text.push_str(&format!(": {reason}"));
    }
    text
}

/// How the outcome is coloured on a terminal.
#[derive(Clone, Copy)]
enum Tone {
    Leaves,
    Stopped,
    Unknown,
}

fn tone(t: &Traffic) -> Tone {
    match t.outcome {
        Outcome::Egress => Tone::Leaves,
        Outcome::Unknown => Tone::Unknown,
        _ => Tone::Stopped,
    }
}

/// Where the request goes after the first proxy: `direct -> httpbin.org:443`,
/// `gateway -> istio-egressgateway.istio-system:80 -> httpbin.org:80`.
fn path(t: &Traffic) -> String {
    // The gateway's own side starts at the gateway: the request goes on from there.
    let first = if t.hops.first().is_some_and(|h| h == "sidecar") {
        t.via.to_string()
    } else {
        "on".to_string()
    };
    let mut parts = vec![first];
    parts.extend(t.hops.iter().skip(1).cloned());
    parts.join(" -> ")
}

/// `status --graph`: a tree per group; `colour` only on a terminal (the caller honours NO_COLOR).
pub fn tree(report: &Report, colour: bool) -> String {
    let paint = |tone: Tone, text: &str| -> String {
        if !colour {
            return text.to_string();
        }
        let code = match tone {
            Tone::Leaves => "32",
            Tone::Stopped => "31",
            Tone::Unknown => "33",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    };
    let mut out = String::new();
    let groups = groups(report);
    if groups.is_empty() {
        out.push_str("No external hosts found.\n");
    }
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{}", printable(&group.title));
        for same in &group.same {
            let _ = writeln!(out, "  (and {}: the same answers)", printable(same));
        }
        let _ = writeln!(out, "└─ {}", printable(&group.proxy));
        for (j, r) in group.requests.iter().enumerate() {
            let last = j + 1 == group.requests.len();
            let (branch, under) = if last {
                ("└─", "   ")
            } else {
                ("├─", "│  ")
            };
            let t = r.traffic;
            let decided = if r.decided_by.is_empty() {
                "no ServiceEntry".to_string()
            } else {
                r.decided_by.join(", ")
            };
            let _ = writeln!(
                out,
                "   {branch} {}:{} {}  [{}]",
                printable(r.host),
                t.port,
                t.protocol,
                printable(&decided)
            );
            let _ = writeln!(
                out,
                "   {under}└─ {}: {}",
                printable(&path(t)),
                paint(tone(t), &printable(&outcome(t)))
            );
        }
    }
    if !report.mesh.unknown.is_empty() || report.mesh.egress_gateway == Some(false) {
        out.push('\n');
    }
    if report.mesh.egress_gateway == Some(false) {
        out.push_str("egress gateway: istio-egressgateway not found in istio-system\n");
    }
    for why in &report.mesh.unknown {
        let _ = writeln!(
            out,
            "{} {}",
            paint(Tone::Unknown, "unknown"),
            printable(why)
        );
    }
    out
}

/// `status -o dot`: the same graph in Graphviz's language, one cluster per group; the proxies
/// and hosts a group's requests pass through are one node each, so shared paths meet.
pub fn dot(report: &Report) -> String {
    let mut out = String::from(
        "digraph egress {\n  graph [rankdir=LR, fontname=\"Helvetica\"];\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for (g, group) in groups(report).iter().enumerate() {
        let id = |name: &str| quoted(&format!("g{g}/{name}"));
        let mut title = group.title.clone();
        for same in &group.same {
            title.push_str(&format!("\n(and {same}: the same answers)"));
        }
        let _ = writeln!(out, "  subgraph cluster_{g} {{");
        let _ = writeln!(out, "    label={};", quoted(&title));
        let _ = writeln!(out, "    {} [label=\"pods\", shape=ellipse];", id("pods"));
        let _ = writeln!(out, "    {} [label={}];", id("proxy"), quoted(&group.proxy));
        let _ = writeln!(out, "    {} -> {};", id("pods"), id("proxy"));
        let mut hops: Vec<&str> = vec![];
        for (r, request) in group.requests.iter().enumerate() {
            let t = request.traffic;
            let asked = id(&format!("request{r}"));
            let _ = writeln!(
                out,
                "    {asked} [label={}];",
                quoted(&format!("{}:{}\n{}", request.host, t.port, t.protocol))
            );
            let _ = writeln!(
                out,
                "    {} -> {asked} [label={}];",
                id("proxy"),
                quoted(&request.decided_by.join("\n"))
            );
            // The hops between the first proxy and the last one (the host, drawn with the
            // outcome): the gateway, shared by every request through it.
            let between = t
                .hops
                .get(1..t.hops.len().saturating_sub(1))
                .unwrap_or_default();
            let mut from = asked;
            let mut label = t.via.to_string();
            for hop in between {
                let node = id(&format!("hop/{hop}"));
                if !hops.contains(&hop.as_str()) {
                    hops.push(hop);
                    let _ = writeln!(out, "    {node} [label={}];", quoted(hop));
                }
                let _ = writeln!(out, "    {from} -> {node} [label={}];", quoted(&label));
                from = node;
                label.clear();
            }
            let end = id(&format!("outcome{r}"));
            let last_hop = t.hops.get(1..).and_then(|h| h.last());
            let text = match last_hop {
                Some(hop) => format!("{hop}\n{}", outcome(t)),
                None => outcome(t),
            };
            let colour = match tone(t) {
                Tone::Leaves => "darkgreen",
                Tone::Stopped => "red3",
                Tone::Unknown => "orange3",
            };
            let _ = writeln!(
                out,
                "    {end} [label={}, color={colour}, fontcolor={colour}];",
                quoted(&text)
            );
            let _ = writeln!(out, "    {from} -> {end} [label={}];", quoted(&label));
        }
        out.push_str("  }\n");
    }
    let mut notes: Vec<String> = report
        .mesh
        .unknown
        .iter()
        .map(|why| format!("unknown {why}"))
        .collect();
    if report.mesh.egress_gateway == Some(false) {
        notes.push("egress gateway: istio-egressgateway not found in istio-system".into());
    }
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "  \"mesh\" [shape=note, label={}];",
            quoted(&notes.join("\n"))
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT string: quotes and backslashes escaped, newlines as `\n`, other control characters
/// dropped (a hand-made host's escape never reaches Graphviz).
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::analysis::proxy_config::tests::{mesh, student, timeout};
    use crate::core::analysis::status::{self, ClusterView};
    use crate::core::objects::plan::{GatewayHop, RouteSettings};

    const NS: &str = "student1";
    const HOST: &str = "httpbin.org";

    fn report(view: &ClusterView) -> Report {
        status::analyse_in(view, Some(NS), &[HOST.to_string()])
    }

    /// The course exercise's four states: nothing allowed, `allow`, `timeout 0.5s`,
    /// `via-gateway` (the timeout kept on the gateway route).
    fn exercise() -> Vec<(&'static str, ClusterView)> {
        let via_gateway = RouteSettings {
            via_gateway: Some(GatewayHop::default()),
            ..timeout()
        };
        vec![
            ("nothing allowed", mesh()),
            ("allow httpbin.org", student(None)),
            ("timeout httpbin.org 0.5s", student(Some(timeout()))),
            ("via-gateway httpbin.org", student(Some(via_gateway))),
        ]
    }

    fn snapshot(name: &str, text: String) {
        insta::with_settings!({
            snapshot_path => concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots"),
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(name, text);
        });
    }

    #[test]
    fn the_exercise_as_trees() {
        let mut text = String::new();
        for (step, view) in exercise() {
            text.push_str(&format!("# {step}\n{}\n", tree(&report(&view), false)));
        }
        snapshot("graph_exercise_tree", text);
    }

    #[test]
    fn the_exercise_as_dot() {
        let (_, view) = exercise().pop().unwrap();
        snapshot("graph_exercise_dot", dot(&report(&view)));
    }

    #[test]
    fn colour_only_when_asked_and_outcomes_keep_their_words() {
        let blocked = report(&mesh());
        let plain = tree(&blocked, false);
        assert!(!plain.contains('\x1b'), "{plain}");
        assert!(plain.contains("blackhole (502)"), "{plain}");
        let coloured = tree(&blocked, true);
        assert!(coloured.contains("\x1b[31mblackhole (502)"), "{coloured}");
        let leaves = tree(&report(&student(None)), true);
        assert!(leaves.contains("\x1b[32megress"), "{leaves}");
    }

    #[test]
    fn every_request_of_the_report_is_drawn_once() {
        for (step, view) in exercise() {
            let report = report(&view);
            let entries: usize = report.hosts.iter().map(|h| h.traffic.len()).sum();
            let text = tree(&report, false);
            let drawn = text
                .lines()
                .filter(|l| {
                    l.starts_with(&format!("   ├─ {HOST}:"))
                        || l.starts_with(&format!("   └─ {HOST}:"))
                })
                .count();
            assert_eq!(drawn, entries, "{step}:\n{text}");
            let dot = dot(&report);
            assert_eq!(dot.matches("[label=\"pods\"").count(), 1, "{step}:\n{dot}");
            assert_eq!(
                dot.matches("/outcome").count(),
                2 * entries,
                "{step}:\n{dot}"
            );
        }
    }

    /// A Sidecar for the api pods that imports only istio-system's hosts: they get a group of
    /// their own (blocked), the namespace's other pods theirs (egress); one whose answers are the
    /// same is named under the namespace's group instead.
    #[test]
    fn workloads_a_sidecar_selects_get_their_own_group_where_answers_differ() {
        let sidecar =
            |name: &str, created: &str, hosts: &str| -> crate::core::objects::istio::Sidecar {
                serde_json::from_value(serde_json::json!({
                    "apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
                    "metadata": {"name": name, "namespace": NS, "creationTimestamp": created},
                    "spec": {"workloadSelector": {"labels": {"app": name}},
                             "egress": [{"hosts": [hosts]}]},
                }))
                .unwrap()
            };
        let mut view = student(None);
        view.scope.sidecars = status::Known::Yes(vec![
            sidecar("api", "2026-01-01T00:00:01Z", "istio-system/*"),
            sidecar("web", "2026-01-01T00:00:02Z", "*/*"),
        ]);
        let report = report(&view);
        let text = tree(&report, false);
        snapshot("graph_workload_sidecars_tree", text.clone());
        assert!(text.contains("pods in student1\n  (and workloads app=web (Sidecar student1/web): the same answers)\n"), "{text}");
        let api = text
            .split("workloads app=api in student1\n")
            .nth(1)
            .expect(&text);
        assert!(
            api.starts_with("└─ sidecar (Sidecar student1/api)\n"),
            "{text}"
        );
        assert!(
            api.contains("blackhole (502)") && !api.contains(": egress"),
            "{text}"
        );
        let dot = dot(&report);
        assert_eq!(dot.matches("subgraph cluster_").count(), 2, "{dot}");
    }

    #[test]
    fn dot_strings_cannot_be_broken_out_of() {
        assert_eq!(quoted("a\"b\\c\nd\x1b"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(printable("a\x1b[31m"), "a\\u{1b}[31m");
    }
}
