//! istioctl analyze over what the plugin writes (issue 8).

use crate::support::*;

/// One message of `istioctl analyze -o json`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Analysis {
    code: String,
    level: String,
    /// The object it is about, as istioctl names it: `VirtualService ns/name`, `Namespace name`.
    origin: String,
    message: String,
}

impl Analysis {
    /// The object's kind and, for a namespaced object, its namespace and name.
    fn object(&self) -> (&str, Option<(&str, &str)>) {
        let (kind, rest) = self.origin.split_once(' ').unwrap_or((&self.origin, ""));
        (kind, rest.split_once('/'))
    }

    fn line(&self) -> String {
        format!(
            "{} [{}] ({}) {}",
            self.level, self.code, self.origin, self.message
        )
    }
}

/// What the untouched course environment raises on the local control plane: no kubelet runs, so
/// no pod ever exists (seen with `scripts/analyze` on a fresh `scripts/cluster up`). Code and
/// object both have to match; nothing else is an artefact.
const ENVIRONMENT: [(&str, &str, &str); 2] = [
    (
        "IST0101",
        "Gateway istio-system/httpbin-egressgateway",
        "its selector app=istio-egressgateway matches no pod: no kubelet runs here",
    ),
    (
        "IST0173",
        "DestinationRule istio-system/egressgateway-for-httpbin",
        "subset httpbin selects no pod: no kubelet runs here",
    ),
];

/// Messages the plugin's own objects raise that the plugin explains: code, kind, reason, and the
/// check that the object named is the one the reason is about.
struct Explained {
    code: &'static str,
    kind: &'static str,
    reason: &'static str,
    is_about: fn(&Cluster, &str, &str) -> bool,
}

const EXPLAINED: [Explained; 2] = [
    Explained {
        code: "IST0112",
        kind: "VirtualService",
        reason: "explained by status EGR014: the `timeout` route names no destination port; \
                 Istio routes it by the port of the listener that took the request, and an http \
                 route only ever applies on the host's HTTP ports",
        is_about: timeout_route_of_a_host_with_several_ports,
    },
    Explained {
        code: "IST0129",
        kind: "DestinationRule",
        reason: "explained in docs/commands.md (HTTPS: TLS origination) and status (TLS SIMPLE \
                 on the last hop): with no caCertificates Istio's proxies check the server's \
                 certificate against their OS CA certificates (pilot cluster_tls.go: \
                 CaCertificatePath defaults to \"system\"); the analyzer predates that default",
        is_about: origination_rule_of_the_plugin,
    },
];

/// The DestinationRule is one the plugin writes to originate TLS (allow --tls-origination,
/// gateway --tls-origination): SIMPLE, the host as SNI, no caCertificates.
fn origination_rule_of_the_plugin(c: &Cluster, ns: &str, name: &str) -> bool {
    let Some(dr) = c.get("destinationrule", ns, name) else {
        return false;
    };
    let host = dr["spec"]["host"].clone();
    dr["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-egress"
        && dr["spec"]["trafficPolicy"]["portLevelSettings"]
            .as_array()
            .is_some_and(|ports| {
                ports.iter().all(|p| {
                    p["tls"]["mode"] == "SIMPLE"
                        && p["tls"]["sni"] == host
                        && p["tls"]["caCertificates"].is_null()
                })
            })
}

/// The VirtualService is the plugin's, routes mesh traffic straight to its host with a timeout
/// and no destination port, and the plugin's ServiceEntry for that host has several ports.
fn timeout_route_of_a_host_with_several_ports(c: &Cluster, ns: &str, name: &str) -> bool {
    let Some(vs) = c.get("virtualservice", ns, name) else {
        return false;
    };
    let host = vs["spec"]["hosts"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let direct_timeout = vs["spec"]["gateways"].is_null()
        && vs["spec"]["http"].as_array().is_some_and(|routes| {
            routes.iter().all(|r| {
                r["timeout"].is_string()
                    && r["route"].as_array().is_some_and(|ds| {
                        ds.iter().all(|d| {
                            d["destination"]["host"] == host.as_str()
                                && d["destination"]["port"].is_null()
                        })
                    })
            })
        });
    let several_ports = admin_list(c, "serviceentries", ns).iter().any(|se| {
        se["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-egress"
            && se["spec"]["hosts"]
                .as_array()
                .is_some_and(|hs| hs.iter().any(|h| h == host.as_str()))
            && se["spec"]["ports"]
                .as_array()
                .is_some_and(|ps| ps.len() > 1)
    });
    vs["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubectl-egress"
        && direct_timeout
        && several_ports
}

/// `istioctl analyze -A -o json` as the admin. EGRESS_ISTIOCTL is set by scripts/test, which
/// builds istioctl from hack/harness/istio-sim.
fn istioctl_analyze(c: &Cluster) -> Vec<Analysis> {
    let istioctl = std::env::var_os("EGRESS_ISTIOCTL")
        .expect("EGRESS_ISTIOCTL is not set: run the end-to-end tests with scripts/test");
    let out = Command::new(istioctl)
        .arg("analyze")
        .arg("--kubeconfig")
        .arg(c.kubeconfig("admin"))
        .args(["-A", "-o", "json"])
        .output()
        .unwrap();
    let messages: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "istioctl analyze: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let text = |m: &Value, key: &str| m[key].as_str().unwrap_or_default().to_string();
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Analysis {
            code: text(m, "code"),
            level: text(m, "level"),
            origin: text(m, "origin"),
            message: text(m, "message"),
        })
        .collect()
}

/// Printed whether the test passes or not (libtest captures only the print macros).
fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// What a step does, the plugin's runs (`gateway` as the admin, the others as student1 in the
/// test's namespace), and the explained messages it must raise (code, object's name).
type Step = (
    &'static str,
    &'static [&'static [&'static str]],
    &'static [(&'static str, &'static str)],
);

const STEPS: &[Step] = &[
    ("allow", &[&["allow", "httpbin.org"]], &[]),
    (
        "timeout 0.5s",
        &[&["timeout", "httpbin.org", "0.5s"]],
        &[("IST0112", "httpbin")],
    ),
    (
        "timeout 2s",
        &[&["timeout", "httpbin.org", "2s"]],
        &[("IST0112", "httpbin")],
    ),
    (
        "via-gateway (timeout kept)",
        &[&["via-gateway", "httpbin.org"]],
        &[],
    ),
    (
        "timeout --clear",
        &[&["timeout", "httpbin.org", "--clear"]],
        &[],
    ),
    (
        "via-gateway --off",
        &[&["via-gateway", "httpbin.org", "--off"]],
        &[],
    ),
    ("cleanup", &[&["cleanup"]], &[]),
    (
        "allow --port 8080/HTTP, timeout 0.5s",
        &[
            &["allow", "httpbin.org", "--port", "8080/HTTP"],
            &["timeout", "httpbin.org", "0.5s"],
        ],
        &[],
    ),
    ("... via-gateway", &[&["via-gateway", "httpbin.org"]], &[]),
    ("cleanup", &[&["cleanup"]], &[]),
    (
        "allow '*.wikipedia.org', timeout 1s",
        &[
            &["allow", "*.wikipedia.org"],
            &["timeout", "*.wikipedia.org", "1s"],
        ],
        &[("IST0112", "wildcard-wikipedia")],
    ),
    (
        "... via-gateway",
        // No Gateway for it in istio-system: via-gateway refuses without --force (404).
        &[&["via-gateway", "*.wikipedia.org", "--force"]],
        &[],
    ),
    ("cleanup", &[&["cleanup"]], &[]),
    (
        "allow --export-to . --export-to istio-system, via-gateway",
        &[
            &[
                "allow",
                "httpbin.org",
                "--export-to",
                ".",
                "--export-to",
                "istio-system",
            ],
            &["via-gateway", "httpbin.org"],
        ],
        &[],
    ),
    (
        "... timeout 0.5s",
        &[&["timeout", "httpbin.org", "0.5s"]],
        &[],
    ),
    ("cleanup", &[&["cleanup"]], &[]),
    (
        "allow --export-to '*'",
        &[&["allow", "httpbin.org", "--export-to", "*"]],
        &[],
    ),
    ("cleanup", &[&["cleanup"]], &[]),
    (
        "allow --port 443/HTTPS, timeout 1s",
        &[
            &["allow", "httpbin.org", "--port", "443/HTTPS"],
            &["timeout", "httpbin.org", "1s"],
        ],
        &[],
    ),
    ("cleanup", &[&["cleanup"]], &[]),
    (
        "allow api.github.com api.gitlab.com, timeout api.gitlab.com 1s",
        &[
            &["allow", "api.github.com", "api.gitlab.com"],
            &["timeout", "api.gitlab.com", "1s"],
        ],
        &[("IST0112", "api-gitlab")],
    ),
    ("cleanup", &[&["cleanup"]], &[]),
    // HTTPS modes (issue 11), both sides; `gateway` runs as admin in istio-system, on the
    // course environment's own host (its Gateway keeps its name, so the environment's known
    // artefacts stay what they were), and is put back as it was at the end.
    (
        "gateway --tls; allow, via-gateway --tls, retries",
        &[
            &["gateway", "httpbin.org", "--tls"],
            &["allow", "httpbin.org"],
            &["via-gateway", "httpbin.org", "--tls"],
            &["retries", "httpbin.org", "--attempts", "3"],
        ],
        &[],
    ),
    (
        "gateway --tls-origination; via-gateway --tls-origination, timeout 2s",
        &[
            &["gateway", "httpbin.org", "--tls-origination"],
            &["via-gateway", "httpbin.org", "--tls-origination"],
            &["timeout", "httpbin.org", "2s"],
        ],
        &[("IST0129", "originate-tls-for-httpbin")],
    ),
    ("cleanup", &[&["cleanup"], &["gateway", "httpbin.org"]], &[]),
    (
        "allow --tls-origination, timeout 2s, retries",
        &[
            &["allow", "httpbin.org", "--tls-origination"],
            &["timeout", "httpbin.org", "2s"],
            &["retries", "httpbin.org", "--attempts", "2"],
        ],
        &[("IST0112", "httpbin"), ("IST0129", "httpbin")],
    ),
    ("cleanup", &[&["cleanup"]], &[]),
    (
        "gateway '*.wikipedia.org' --tls --upstream; allow, via-gateway --tls",
        &[
            &[
                "gateway",
                "*.wikipedia.org",
                "--tls",
                "--upstream",
                "www.wikipedia.org",
            ],
            &["allow", "*.wikipedia.org"],
            &["via-gateway", "*.wikipedia.org", "--tls"],
        ],
        &[],
    ),
    (
        "cleanup",
        &[&["cleanup"], &["gateway", "*.wikipedia.org", "--off"]],
        &[],
    ),
];

#[test]
fn istioctl_analyze_raises_nothing_unexplained() {
    let c = Cluster::main();
    let ns = c.namespace("analyze", "student1");
    // Like the course's student namespaces: labelled for injection (else IST0102 on it).
    c.admin_ok(
        &["label", "namespace", &ns, "istio-injection=enabled"],
        None,
    );

    // Before the plugin writes anything. Tests run one at a time, so what is new after a step
    // outside `ns` is the plugin's doing too; what was there before is not.
    let before = istioctl_analyze(&c);
    environment_raises_only_its_artefacts(&ns, &before);

    let mut unexplained = Vec::new();
    for (what, runs, expected) in STEPS {
        for args in *runs {
            if args[0] == "gateway" {
                ok(egress(&c, "admin", args));
            } else {
                let args = [args, &["-n", &ns][..]].concat();
                ok(egress(&c, "student1", &args));
            }
        }
        let messages: Vec<Analysis> = istioctl_analyze(&c)
            .into_iter()
            .filter(|m| !before.contains(m))
            .collect();
        report(&format!(
            "istioctl analyze after `{what}` in {ns}: {} new message(s)",
            messages.len()
        ));
        let mut seen = Vec::new();
        for m in &messages {
            match judge(&c, &ns, runs, m) {
                Judged::Explained(reason) => {
                    report(&format!("  {}  -- {reason}", m.line()));
                    seen.push((m.code.clone(), m.object().1.unwrap().1.to_string()));
                }
                Judged::Artefact(reason) => report(&format!("  {}  -- {reason}", m.line())),
                Judged::Unexplained => {
                    report(&format!("  {}  -- NOT EXPLAINED", m.line()));
                    unexplained.push(format!("after `{what}`: {}", m.line()));
                }
                Judged::Information => report(&format!("  {}", m.line())),
            }
        }
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(code, name)| (code.to_string(), name.to_string()))
            .collect();
        assert_eq!(
            seen, expected,
            "after `{what}`: the explained messages istioctl raised"
        );
    }
    assert!(
        unexplained.is_empty(),
        "istioctl analyze raised errors or warnings about the plugin's objects that the plugin \
         does not explain:\n{}",
        unexplained.join("\n")
    );
    assert!(admin_list(&c, "serviceentries", &ns).is_empty());
    assert!(admin_list(&c, "virtualservices", &ns).is_empty());
}

/// The untouched course environment raises only its known artefacts in istio-system.
fn environment_raises_only_its_artefacts(ns: &str, before: &[Analysis]) {
    report(&format!(
        "\nistioctl analyze -A before the plugin writes in {ns}: {} message(s)",
        before.len()
    ));
    let mut elsewhere = 0;
    for m in before {
        match ENVIRONMENT
            .iter()
            .find(|(code, origin, _)| m.code == *code && m.origin == *origin)
        {
            Some((_, _, why)) => report(&format!("  {}  -- environment: {why}", m.line())),
            None => elsewhere += 1,
        }
    }
    report(&format!(
        "  and {elsewhere} about the namespace default and other tests' namespaces"
    ));
    let in_istio_system: Vec<(&str, &str)> = before
        .iter()
        .filter(|m| matches!(m.object().1, Some(("istio-system", _))))
        .map(|m| (m.code.as_str(), m.origin.as_str()))
        .collect();
    assert_eq!(
        in_istio_system,
        ENVIRONMENT
            .iter()
            .map(|(code, origin, _)| (*code, *origin))
            .collect::<Vec<_>>(),
        "the untouched course environment raises only the known artefacts"
    );
}

/// What one new message after a step is.
enum Judged {
    /// One of EXPLAINED, about the object its reason is about.
    Explained(&'static str),
    /// Not the plugin's fault: the environment, or another namespace the step exported to.
    Artefact(&'static str),
    /// An error or warning nothing explains: the test fails.
    Unexplained,
    /// Information only.
    Information,
}

fn judge(c: &Cluster, ns: &str, runs: &[&[&str]], m: &Analysis) -> Judged {
    let (kind, object) = m.object();
    let explained = EXPLAINED.iter().find(|e| {
        e.code == m.code
            && e.kind == kind
            && object.is_some_and(|(in_ns, name)| {
                (in_ns == ns || in_ns == "istio-system") && (e.is_about)(c, in_ns, name)
            })
    });
    // A ServiceEntry exported to every namespace changes what other namespaces' objects
    // route to (e.g. their VirtualServices now see a two-port host: IST0112); status
    // warns of exactly that export (EGR003).
    let exports_everywhere = runs
        .iter()
        .any(|args| args.windows(2).any(|w| w == ["--export-to", "*"]));
    let elsewhere = object.is_some_and(|(in_ns, _)| in_ns != ns);
    // The environment's artefacts (no gateway pod runs here) on another host's objects
    // that `gateway` wrote, as on the course environment's own.
    let no_pods_here = matches!(
        (m.code.as_str(), kind, object),
        ("IST0101", "Gateway", Some(("istio-system", name)))
            | ("IST0173", "DestinationRule", Some(("istio-system", name)))
            if c.get(if kind == "Gateway" { "gateway" } else { "destinationrule" }, "istio-system", name)
                .is_some_and(|o| o["metadata"]["labels"]["app.kubernetes.io/component"] == "egress-gateway")
    );
    match explained {
        _ if no_pods_here => Judged::Artefact(
            "environment: the egress gateway's pods never run on the local control plane (no kubelet)",
        ),
        Some(e) => Judged::Explained(e.reason),
        None if elsewhere && exports_everywhere => Judged::Artefact(
            "in another namespace, because the step exported to every namespace: status EGR003",
        ),
        None if m.level == "Error" || m.level == "Warning" => Judged::Unexplained,
        None => Judged::Information,
    }
}
