//! What the egress gateway's AuthorizationPolicies do to one request, as istiod builds its RBAC
//! filters (`pilot/pkg/security/authz/{builder,model}` in the pinned module): CUSTOM first, then
//! DENY, then ALLOW; a DENY rule that matches refuses, and where any ALLOW policy applies a
//! request no ALLOW rule matches is refused. Refused: HTTP `403` ("RBAC: access denied"), a TLS or
//! TCP connection closed.
//!
//! Status knows the host, the port and whether the gateway reads HTTP or only the SNI; not who
//! sends (a principal, a namespace, an IP), nor the method or path the application asks for. A
//! rule that turns on one of those, a `when` condition, a port (the gateway listens on its
//! container port, not the Service's) or a policy that may select the gateway but need not, makes
//! the answer unknown, naming the policy: an honest unknown, never a guess.

use std::collections::BTreeMap;

use crate::core::objects::istio::{AuthorizationPolicy, PolicyOperation, PolicyRule};

/// The request as it arrives at the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayRequest<'a> {
    /// The Host header (HTTP) or the SNI (TLS).
    pub host: &'a str,
    /// The Service port it was sent to.
    pub port: u32,
    /// The gateway reads HTTP on the port; else it forwards TLS by SNI or TCP (HTTP fields
    /// cannot apply there).
    pub http: bool,
}

/// What the policies do to the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// No policy applies, or they let it through.
    Allowed,
    /// Refused; why, naming the policies.
    Denied(String),
    /// It depends on what status cannot know; why, naming the policies.
    Unknown(String),
}

/// Three-valued: whether a rule matches the request.
#[derive(Debug, Clone, PartialEq)]
enum Match {
    Yes,
    No,
    /// What it turns on.
    Depends(&'static str),
}

impl Match {
    fn of(b: bool) -> Match {
        if b { Match::Yes } else { Match::No }
    }

    /// Every part must match.
    fn all(parts: impl IntoIterator<Item = Match>) -> Match {
        let mut out = Match::Yes;
        for part in parts {
            match part {
                Match::No => return Match::No,
                Match::Depends(why) => out = Match::Depends(why),
                Match::Yes => {}
            }
        }
        out
    }

    /// One part must match.
    fn any(parts: impl IntoIterator<Item = Match>) -> Match {
        let mut out = Match::No;
        for part in parts {
            match part {
                Match::Yes => return Match::Yes,
                Match::Depends(why) => out = Match::Depends(why),
                Match::No => {}
            }
        }
        out
    }
}

/// `namespace/name`.
fn name(policy: &AuthorizationPolicy) -> String {
    format!(
        "{}/{}",
        policy.metadata.namespace.as_deref().unwrap_or_default(),
        policy.metadata.name
    )
}

/// Whether the policy applies to the gateway's pods, known by their Service's selector (no Pod
/// is read): one without a selector applies to its namespace's workloads (the gateway's, or every
/// namespace's in the root namespace); one asking only for labels the selector has applies; one
/// asking for a label with another value does not; one asking for more may.
fn selects(policy: &AuthorizationPolicy, gateway_labels: &BTreeMap<String, String>) -> Match {
    if !policy.spec.target_refs.is_empty() || policy.spec.target_ref.is_some() {
        // targetRefs attach to Gateway API gateways and Services, not to this Deployment.
        return Match::Depends("it targets by targetRefs");
    }
    let Some(selector) = &policy.spec.selector else {
        return Match::Yes;
    };
    let mut out = Match::Yes;
    for (key, value) in &selector.match_labels {
        match gateway_labels.get(key) {
            Some(theirs) if theirs == value => {}
            Some(_) => return Match::No,
            None => {
                out = Match::Depends(
                    "its selector asks for labels beyond the gateway Service's selector",
                )
            }
        }
    }
    out
}

/// Istio's host matcher: exact, `*`, `*suffix` or `prefix*`, case-insensitive.
fn host_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    if pattern == "*" {
        !host.is_empty()
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        host.ends_with(suffix)
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        host.starts_with(prefix)
    } else {
        pattern == host
    }
}

/// Whether a host pattern matches the request's host; for a wildcard host (`*.wikipedia.org`,
/// a request to any name under it) yes only where it matches every such name.
fn host_match(pattern: &str, host: &str) -> Match {
    let Some(names) = host.strip_prefix('*') else {
        return Match::of(host_matches(pattern, host));
    };
    let (pattern, names) = (pattern.to_ascii_lowercase(), names.to_ascii_lowercase());
    if pattern == "*" {
        return Match::Yes;
    }
    let some = Match::Depends("it names some hosts of a wildcard, not all");
    if let Some(suffix) = pattern.strip_prefix('*') {
        if names.ends_with(suffix) {
            Match::Yes
        } else if suffix.ends_with(&names) {
            some
        } else {
            Match::No
        }
    } else if pattern.ends_with('*') || pattern.ends_with(&names) {
        some
    } else {
        Match::No
    }
}

/// Whether `op` has a field only HTTP carries (`hosts`, `methods`, `paths`).
fn has_http_fields(op: &PolicyOperation) -> bool {
    [
        &op.hosts,
        &op.not_hosts,
        &op.methods,
        &op.not_methods,
        &op.paths,
        &op.not_paths,
    ]
    .iter()
    .any(|l| !l.is_empty())
}

/// One `to.operation`. On a TLS or TCP chain a DENY rule's HTTP fields are dropped (the rule
/// refuses more), as istiod does.
fn operation_matches(op: &PolicyOperation, request: &GatewayRequest) -> Match {
    let mut parts = vec![];
    if request.http {
        // Port 80's Host header is the bare host; on another port it carries `:port`, which an
        // exact pattern matches or not as the gateway's HCM strips it: not modelled.
        let plain = request.port == 80;
        if !op.hosts.is_empty() {
            parts.push(if plain {
                Match::any(op.hosts.iter().map(|h| host_match(h, request.host)))
            } else {
                Match::Depends("its hosts are matched against a Host header with a port")
            });
        }
        if !op.not_hosts.is_empty() {
            parts.push(if plain {
                match Match::any(op.not_hosts.iter().map(|h| host_match(h, request.host))) {
                    Match::Yes => Match::No,
                    Match::No => Match::Yes,
                    depends => depends,
                }
            } else {
                Match::Depends("its hosts are matched against a Host header with a port")
            });
        }
        if !(op.methods.is_empty() && op.not_methods.is_empty()) {
            parts.push(Match::Depends("it depends on the request's method"));
        }
        if !(op.paths.is_empty() && op.not_paths.is_empty()) {
            parts.push(Match::Depends("it depends on the request's path"));
        }
    }
    if !(op.ports.is_empty() && op.not_ports.is_empty()) {
        parts.push(Match::Depends(
            "its ports are the gateway's container ports, which status does not read",
        ));
    }
    Match::all(parts)
}

/// One rule of a policy with `action`.
fn rule_matches(rule: &PolicyRule, request: &GatewayRequest, allow: bool) -> Match {
    // An ALLOW rule with an HTTP field is left out of a TLS or TCP chain whole.
    if allow
        && !request.http
        && rule
            .to
            .iter()
            .filter_map(|t| t.operation.as_ref())
            .any(has_http_fields)
    {
        return Match::No;
    }
    let to = if rule.to.is_empty() {
        Match::Yes
    } else {
        Match::any(rule.to.iter().map(|t| match &t.operation {
            Some(op) => operation_matches(op, request),
            None => Match::Yes,
        }))
    };
    let from = if rule
        .from
        .iter()
        .filter_map(|f| f.source.as_ref())
        .any(|s| s.values().any(|v| !is_empty_value(v)))
    {
        Match::Depends("it depends on who sends the request")
    } else {
        Match::Yes
    };
    let when = if rule.when.is_empty() {
        Match::Yes
    } else {
        Match::Depends("its when conditions are not modelled")
    };
    Match::all([to, from, when])
}

fn is_empty_value(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Null => true,
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Whether any rule of the policy matches (a policy with no rules matches nothing).
fn policy_matches(policy: &AuthorizationPolicy, request: &GatewayRequest, allow: bool) -> Match {
    Match::any(
        policy
            .spec
            .rules
            .iter()
            .map(|r| rule_matches(r, request, allow)),
    )
}

/// What `policies` (the gateway's namespace's and the root namespace's) do to `request` at a
/// gateway whose pods carry `gateway_labels`.
pub fn decide(
    policies: &[AuthorizationPolicy],
    gateway_labels: &BTreeMap<String, String>,
    request: &GatewayRequest,
) -> Verdict {
    let mut unknown: Vec<String> = vec![];
    let mut deny: Vec<(&AuthorizationPolicy, bool)> = vec![];
    let mut allow: Vec<(&AuthorizationPolicy, bool)> = vec![];
    // A CUSTOM policy acts before the DENY ones: what it answers is not known.
    let mut custom = false;
    for policy in policies {
        let certain = match selects(policy, gateway_labels) {
            Match::No => continue,
            Match::Yes => true,
            Match::Depends(why) => {
                unknown.push(format!(
                    "AuthorizationPolicy {} may select the egress gateway ({why})",
                    name(policy)
                ));
                false
            }
        };
        if let Some(why) = &policy.unreadable {
            unknown.push(format!(
                "AuthorizationPolicy {} could not be read ({why})",
                name(policy)
            ));
            continue;
        }
        match policy.spec.action.as_deref().unwrap_or("ALLOW") {
            "DENY" => deny.push((policy, certain)),
            "ALLOW" => allow.push((policy, certain)),
            "AUDIT" => {}
            // CUSTOM sends the request to an external authorizer first; istiod ignores others.
            "CUSTOM" => {
                custom = true;
                unknown.push(format!(
                    "AuthorizationPolicy {} sends requests to an external authorizer (CUSTOM)",
                    name(policy)
                ));
            }
            _ => {}
        }
    }
    // A DENY that matches refuses whatever else may (only a CUSTOM policy acts before it).
    for (policy, certain) in &deny {
        match policy_matches(policy, request, false) {
            Match::Yes if *certain && !custom => {
                return Verdict::Denied(format!(
                    "denied by AuthorizationPolicy {} (DENY)",
                    name(policy)
                ));
            }
            Match::No => {}
            Match::Yes => unknown.push(format!(
                "AuthorizationPolicy {} denies it where it applies",
                name(policy)
            )),
            Match::Depends(why) => unknown.push(format!(
                "AuthorizationPolicy {} may deny it ({why})",
                name(policy)
            )),
        }
    }
    if !allow.is_empty() {
        let mut allowed = false;
        let mut undecided = vec![];
        for (policy, certain) in &allow {
            match policy_matches(policy, request, true) {
                Match::Yes if *certain => allowed = true,
                Match::Yes => undecided.push(format!(
                    "AuthorizationPolicy {} allows it where it applies",
                    name(policy)
                )),
                Match::No => {}
                Match::Depends(why) => undecided.push(format!(
                    "AuthorizationPolicy {} may allow it ({why})",
                    name(policy)
                )),
            }
        }
        let applies = allow.iter().any(|(_, certain)| *certain);
        if !allowed {
            if !undecided.is_empty() || !applies {
                unknown.extend(undecided);
            } else if !custom {
                // Refused by the ALLOW filter whatever the DENY policies left undecided.
                let names: Vec<String> = allow.iter().map(|(p, _)| name(p)).collect();
                return Verdict::Denied(format!(
                    "no ALLOW rule of AuthorizationPolicy {} matches it",
                    names.join(", ")
                ));
            }
        }
    }
    if unknown.is_empty() {
        Verdict::Allowed
    } else {
        Verdict::Unknown(unknown.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::objects::istio::typed;

    fn policy(name: &str, spec: serde_json::Value) -> AuthorizationPolicy {
        typed(&serde_json::json!({
            "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": name, "namespace": "istio-system"},
            "spec": spec,
        }))
    }

    fn gateway() -> BTreeMap<String, String> {
        [("app", "istio-egressgateway"), ("istio", "egressgateway")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const HTTP: GatewayRequest = GatewayRequest {
        host: "httpbin.org",
        port: 80,
        http: true,
    };
    const TLS: GatewayRequest = GatewayRequest {
        host: "httpbin.org",
        port: 443,
        http: false,
    };

    fn on_gateway(rules: serde_json::Value, action: &str) -> AuthorizationPolicy {
        policy(
            "p",
            serde_json::json!({
                "selector": {"matchLabels": {"istio": "egressgateway"}},
                "action": action, "rules": rules,
            }),
        )
    }

    #[test]
    fn a_deny_rule_on_the_host_refuses_it_and_no_other() {
        let p = on_gateway(
            serde_json::json!([{"to": [{"operation": {"hosts": ["HTTPbin.org"]}}]}]),
            "DENY",
        );
        assert_eq!(
            decide(std::slice::from_ref(&p), &gateway(), &HTTP),
            Verdict::Denied("denied by AuthorizationPolicy istio-system/p (DENY)".into())
        );
        let other = GatewayRequest {
            host: "edition.cnn.com",
            ..HTTP
        };
        assert_eq!(decide(&[p], &gateway(), &other), Verdict::Allowed);
    }

    #[test]
    fn host_patterns_match_as_istio_matches_them() {
        for (pattern, matches) in [
            ("*", true),
            ("*.org", true),
            ("*bin.org", true),
            ("httpbin.*", true),
            ("www.httpbin.org", false),
            ("*.com", false),
        ] {
            assert_eq!(host_matches(pattern, "httpbin.org"), matches, "{pattern}");
        }
    }

    /// A wildcard host stands for every name under it: a pattern decides only what it covers.
    #[test]
    fn a_wildcard_host_is_matched_for_every_name_under_it() {
        for (pattern, expected) in [
            ("*", Match::Yes),
            ("*.wikipedia.org", Match::Yes),
            ("*.org", Match::Yes),
            ("*pedia.org", Match::Yes),
            ("en.wikipedia.org", Match::Depends("")),
            ("*.en.wikipedia.org", Match::Depends("")),
            ("en.*", Match::Depends("")),
            ("httpbin.org", Match::No),
            ("*.com", Match::No),
        ] {
            let got = host_match(pattern, "*.wikipedia.org");
            assert_eq!(
                std::mem::discriminant(&got),
                std::mem::discriminant(&expected),
                "{pattern}: {got:?}"
            );
        }
    }

    #[test]
    fn an_allow_policy_refuses_what_it_does_not_name() {
        let p = on_gateway(
            serde_json::json!([{"to": [{"operation": {"hosts": ["edition.cnn.com"]}}]}]),
            "ALLOW",
        );
        assert!(matches!(
            decide(std::slice::from_ref(&p), &gateway(), &HTTP),
            Verdict::Denied(why) if why.contains("no ALLOW rule of AuthorizationPolicy istio-system/p")
        ));
        let cnn = GatewayRequest {
            host: "edition.cnn.com",
            ..HTTP
        };
        assert_eq!(decide(&[p], &gateway(), &cnn), Verdict::Allowed);
    }

    #[test]
    fn policies_without_rules_allow_nothing_or_deny_nothing() {
        let allow_nothing = policy("allow-nothing", serde_json::json!({}));
        assert!(matches!(
            decide(&[allow_nothing], &gateway(), &HTTP),
            Verdict::Denied(_)
        ));
        let deny_nothing = on_gateway(serde_json::json!([]), "DENY");
        assert_eq!(decide(&[deny_nothing], &gateway(), &HTTP), Verdict::Allowed);
        let deny_all = on_gateway(serde_json::json!([{}]), "DENY");
        assert!(matches!(
            decide(&[deny_all], &gateway(), &TLS),
            Verdict::Denied(_)
        ));
    }

    /// On a TLS chain (SNI passthrough) hosts cannot apply: a DENY rule naming hosts refuses every
    /// connection, an ALLOW rule naming them allows none (istiod drops the field, or the rule).
    #[test]
    fn http_fields_on_a_tls_chain_widen_a_deny_and_drop_an_allow() {
        let deny_other = on_gateway(
            serde_json::json!([{"to": [{"operation": {"hosts": ["edition.cnn.com"]}}]}]),
            "DENY",
        );
        assert!(matches!(
            decide(&[deny_other], &gateway(), &TLS),
            Verdict::Denied(_)
        ));
        let allow_it = on_gateway(
            serde_json::json!([{"to": [{"operation": {"hosts": ["httpbin.org"]}}]}]),
            "ALLOW",
        );
        assert!(matches!(
            decide(&[allow_it], &gateway(), &TLS),
            Verdict::Denied(_)
        ));
    }

    #[test]
    fn what_status_cannot_know_is_unknown_naming_the_policy() {
        for rule in [
            serde_json::json!({"to": [{"operation": {"hosts": ["httpbin.org"], "paths": ["/delay/*"]}}]}),
            serde_json::json!({"to": [{"operation": {"methods": ["GET"]}}]}),
            serde_json::json!({"to": [{"operation": {"ports": ["8080"]}}]}),
            serde_json::json!({"from": [{"source": {"namespaces": ["student1"]}}]}),
            serde_json::json!({"when": [{"key": "request.headers[x]", "values": ["y"]}]}),
        ] {
            let p = on_gateway(serde_json::json!([rule]), "DENY");
            assert!(
                matches!(decide(&[p], &gateway(), &HTTP), Verdict::Unknown(ref why) if why.contains("istio-system/p")),
                "{rule}"
            );
        }
        // A part that cannot match settles it whatever the rest turns on.
        let p = on_gateway(
            serde_json::json!([{"to": [{"operation": {"hosts": ["edition.cnn.com"], "paths": ["/x"]}}]}]),
            "DENY",
        );
        assert_eq!(decide(&[p], &gateway(), &HTTP), Verdict::Allowed);
        let custom = on_gateway(serde_json::json!([{}]), "CUSTOM");
        assert!(matches!(
            decide(&[custom], &gateway(), &HTTP),
            Verdict::Unknown(_)
        ));
    }

    #[test]
    fn selection_by_the_gateway_services_labels() {
        let spec = |selector: serde_json::Value| {
            policy(
                "p",
                serde_json::json!({"selector": selector, "action": "DENY", "rules": [{}]}),
            )
        };
        let ingress = spec(serde_json::json!({"matchLabels": {"istio": "ingressgateway"}}));
        assert_eq!(decide(&[ingress], &gateway(), &HTTP), Verdict::Allowed);
        let more =
            spec(serde_json::json!({"matchLabels": {"istio": "egressgateway", "version": "v2"}}));
        assert!(matches!(
            decide(&[more], &gateway(), &HTTP),
            Verdict::Unknown(_)
        ));
        let namespace_wide = policy("all", serde_json::json!({"action": "DENY", "rules": [{}]}));
        assert!(matches!(
            decide(&[namespace_wide], &gateway(), &HTTP),
            Verdict::Denied(_)
        ));
        let audit = on_gateway(serde_json::json!([{}]), "AUDIT");
        assert_eq!(decide(&[audit], &gateway(), &HTTP), Verdict::Allowed);
    }
}
