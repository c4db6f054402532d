//! Which Sidecar decides what a namespace's workloads see, and what of it the traffic model
//! follows. Pure.
//!
//! Istio picks, for a workload, the Sidecar in its namespace whose `workloadSelector` matches
//! its labels, else the namespace's Sidecar without a selector, else the root namespace's
//! without a selector, else its default scope (every service and VirtualService exported to
//! the namespace) (PushContext.getSidecarScope). What the model follows: egress listeners on
//! the proxy's captured traffic (no bind or captureMode), each on a port of its own but a last
//! one without (`SidecarEffect::on_port` follows them port by port), whatever their hosts
//! (`*/*`, `./*`, `ns/*`, `ns/host`, `*/*.example.org`, `~ns/host`), and the Sidecar's own
//! `outboundTrafficPolicy` mode. Anything else (a bind, an egressProxy, a generic HTTP proxy
//! listener) makes the answers `unknown`, naming the object: an honest unknown, never a guess.

use std::collections::BTreeMap;

use super::imports::{EgressListener, Imports, SidecarEffect};
use super::view::{Known, MeshScope};
use crate::core::objects::istio::{EnvoyFilter, Object, Sidecar, SidecarEgress, WasmPlugin};

/// What the model knows of the scope of a namespace's sidecars.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NamespaceScope {
    /// `namespace/name` of the Sidecar that decides (None: Istio's default scope).
    pub decided_by: Option<String>,
    /// What it changes for the traffic model.
    pub effect: SidecarEffect,
}

impl NamespaceScope {
    fn unmodelled(decided_by: Option<String>, why: String) -> NamespaceScope {
        NamespaceScope {
            decided_by,
            effect: SidecarEffect {
                unmodelled: Some(why),
                ..SidecarEffect::default()
            },
        }
    }
}

fn name_of<S>(object: &Object<S>) -> String {
    format!(
        "{}/{}",
        object.metadata.namespace.as_deref().unwrap_or_default(),
        object.metadata.name
    )
}

/// Whether an egress section imports every host of every namespace, on every port, as Istio's
/// default scope does.
fn imports_everything(egress: &[SidecarEgress]) -> bool {
    match egress {
        [] => true,
        [only] => {
            only.port.is_none()
                && only.bind.is_none()
                && only.capture_mode.is_none()
                && only.hosts.iter().any(|h| h == "*/*")
                && !only.hosts.iter().any(|h| h.starts_with('~'))
        }
        _ => false,
    }
}

/// The scope of the sidecars of `namespace`'s workloads that no Sidecar with a selector picks
/// out ([`workload_scopes`] answers for those).
pub fn scope_of(scope: &MeshScope, namespace: &str) -> NamespaceScope {
    if let Some(why) = envoy_filters_applying(scope, namespace) {
        return NamespaceScope::unmodelled(None, why);
    }
    match deciding_sidecar(scope, namespace) {
        Err(why) => NamespaceScope::unmodelled(None, why),
        Ok(None) => NamespaceScope::default(),
        Ok(Some(sidecar)) => NamespaceScope {
            decided_by: Some(name_of(sidecar)),
            effect: effect_of(sidecar, namespace),
        },
    }
}

/// The EnvoyFilters that patch the namespace's sidecars (its own, and the root namespace's
/// without a selector): what they change is not modelled.
fn envoy_filters_applying(scope: &MeshScope, namespace: &str) -> Option<String> {
    let own = match &scope.envoy_filters {
        Known::Yes(all) => all,
        Known::Unknown(why) => {
            return Some(format!(
                "the namespace's EnvoyFilters could not be read: {why}"
            ));
        }
    };
    // Unreadable root EnvoyFilters are said under mesh.unknown.
    let root: &[EnvoyFilter] = match &scope.root_envoy_filters {
        Known::Yes(root) => root,
        Known::Unknown(_) => &[],
    };
    let applying: Vec<String> = own
        .iter()
        .filter(|f| f.metadata.namespace.as_deref() == Some(namespace))
        .chain(root.iter().filter(|f| f.spec.workload_selector.is_none()))
        .map(name_of)
        .collect();
    if !applying.is_empty() {
        return Some(format!(
            "EnvoyFilter {} may patch the sidecars' config here: status does not model EnvoyFilters",
            applying.join(", ")
        ));
    }
    wasm_plugins_applying(scope, namespace)
}

/// The WasmPlugins that may filter the namespace's sidecars' requests (its own, and the root
/// namespace's that select and target nothing): what their filters answer is not modelled.
/// Unreadable ones are said under mesh.unknown (a student may not be let read the kind).
fn wasm_plugins_applying(scope: &MeshScope, namespace: &str) -> Option<String> {
    let none = vec![];
    let own: &[WasmPlugin] = match &scope.wasm_plugins {
        Known::Yes(all) => all,
        Known::Unknown(_) => &none,
    };
    let root: &[WasmPlugin] = match &scope.root_wasm_plugins {
        Known::Yes(root) => root,
        Known::Unknown(_) => &none,
    };
    let applying: Vec<String> = own
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .chain(
            root.iter()
                .filter(|p| p.spec.selector.is_none() && p.spec.target_refs.is_empty()),
        )
        .map(name_of)
        .collect();
    (!applying.is_empty()).then(|| {
        format!(
            "WasmPlugin {} may filter the sidecars' requests here: status does not model WasmPlugins",
            applying.join(", ")
        )
    })
}

/// The Sidecar Istio applies to the namespace's workloads that no Sidecar with a selector picks
/// out ([`workload_scopes`]): its own with an empty selector, else its own without a selector,
/// else the root namespace's; Err when the model cannot say.
fn deciding_sidecar<'s>(
    scope: &'s MeshScope,
    namespace: &str,
) -> Result<Option<&'s Sidecar>, String> {
    let own: Vec<&Sidecar> = match &scope.sidecars {
        Known::Yes(all) => all
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(namespace))
            .collect(),
        Known::Unknown(why) => {
            return Err(format!("the namespace's Sidecars could not be read: {why}"));
        }
    };
    if let Some(unreadable) = own.iter().find_map(|s| s.unreadable.clone()) {
        return Err(unreadable);
    }
    // A selector without labels picks every workload, before any Sidecar without one (the
    // oldest, as Istio tries selecting Sidecars oldest first).
    let mut everyone: Vec<&Sidecar> = own
        .iter()
        .copied()
        .filter(|s| {
            s.spec
                .workload_selector
                .as_ref()
                .is_some_and(|w| w.labels.is_empty())
        })
        .collect();
    everyone.sort_by(|a, b| age(a).cmp(&age(b)));
    if let Some(first) = everyone.first() {
        return Ok(Some(first));
    }
    if let Some(sidecar) = without_selector(own, namespace)? {
        return Ok(Some(sidecar));
    }
    match &scope.root_sidecars {
        Known::Yes(root) => without_selector(root.iter().collect(), "the root namespace"),
        // Unreadable root Sidecars are said under mesh.unknown.
        Known::Unknown(_) => Ok(None),
    }
}

/// Sidecars that scope the namespace's workloads, or some of them, and do not import what
/// the namespace has for a host (its ServiceEntry: `entry`, its VirtualService: `route`).
/// Said as a finding (EGR023) by `finding`, beside its analyzer in analysis/analyzers.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingImport {
    /// `the namespace's sidecars`, or `the sidecars of workloads app=...`.
    pub whose: String,
    /// ` its ServiceEntry or its VirtualService`
    pub what: String,
    pub sidecar: String,
    /// Its egress hosts as written.
    pub egress: Vec<String>,
}

pub fn missing_imports(
    scope: &MeshScope,
    namespace: &str,
    host: &str,
    entry: bool,
    route: bool,
) -> Vec<MissingImport> {
    let mut scopes = vec![(
        "the namespace's sidecars".to_string(),
        scope_of(scope, namespace),
    )];
    scopes.extend(workload_scopes(scope, namespace).into_iter().map(|w| {
        let labels: Vec<String> = w.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        (
            format!("the sidecars of workloads {}", labels.join(",")),
            w.scope,
        )
    }));
    let hosts = [host.to_string()];
    scopes
        .into_iter()
        .filter_map(|(whose, decided)| {
            let effect = &decided.effect;
            if !effect.narrows() {
                return None;
            }
            let sidecar = decided.decided_by.clone()?;
            let missing: Vec<&str> = [
                (entry && !effect.any_imports_service(namespace, host))
                    .then_some(" its ServiceEntry"),
                (route && !effect.any_imports_virtual_service(namespace, &hosts))
                    .then_some(" its VirtualService"),
            ]
            .into_iter()
            .flatten()
            .collect();
            (!missing.is_empty()).then(|| MissingImport {
                whose,
                what: missing.join(" or"),
                egress: egress_hosts(scope, &sidecar),
                sidecar,
            })
        })
        .collect()
}

/// The egress hosts of the Sidecar `name` (`namespace/name`), as written.
pub fn egress_hosts(scope: &MeshScope, name: &str) -> Vec<String> {
    [&scope.sidecars, &scope.root_sidecars]
        .into_iter()
        .filter_map(|known| match known {
            Known::Yes(list) => Some(list),
            Known::Unknown(_) => None,
        })
        .flatten()
        .find(|s| name_of(s) == name)
        .map(|s| s.spec.egress.iter().flat_map(|e| e.hosts.clone()).collect())
        .unwrap_or_default()
}

/// Whether a workload may carry both `selector`'s labels and `labels` (no key with two values):
/// the labels a selector asks for are all a pod may be known by here (no Pod is read).
pub fn may_pick_the_same(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.get(k).is_none_or(|theirs| theirs == v))
}

/// Creation time, then name: the order Istio tries Sidecars with a selector in.
fn age(sidecar: &Sidecar) -> (&str, &str) {
    (
        sidecar
            .metadata
            .creation_timestamp
            .as_deref()
            .unwrap_or_default(),
        &sidecar.metadata.name,
    )
}

/// A Sidecar with a workloadSelector in a namespace, and the scope of the workloads it picks.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadScope {
    /// `namespace/name` of the Sidecar.
    pub sidecar: String,
    pub labels: BTreeMap<String, String>,
    pub scope: NamespaceScope,
    /// Older Sidecars with selectors that may pick some of the same workloads: Istio gives
    /// those workloads the oldest one's scope. (One that picks all of them leaves this Sidecar
    /// out: it never applies.)
    pub shadowed_by: Vec<String>,
}

/// The scopes of the namespace's workloads that a Sidecar with a selector (labels) picks out,
/// oldest first (PushContext.getSidecarScope tries them in that order before the namespace's
/// Sidecar without a selector). None when the namespace's Sidecars could not be read: the
/// namespace's own scope says so.
pub fn workload_scopes(scope: &MeshScope, namespace: &str) -> Vec<WorkloadScope> {
    let Known::Yes(all) = &scope.sidecars else {
        return vec![];
    };
    let mut selecting: Vec<&Sidecar> = all
        .iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some(namespace))
        .filter(|s| s.spec.workload_selector.is_some())
        .collect();
    selecting.sort_by(|a, b| age(a).cmp(&age(b)));
    let labels_of = |s: &Sidecar| {
        s.spec
            .workload_selector
            .as_ref()
            .map(|w| w.labels.clone())
            .unwrap_or_default()
    };
    let mesh_wide = envoy_filters_applying(scope, namespace);
    let mut out = vec![];
    for (i, sidecar) in selecting.iter().enumerate() {
        let labels = labels_of(sidecar);
        if labels.is_empty() {
            // It is the namespace's scope (deciding_sidecar).
            continue;
        }
        // An older one whose labels all of these workloads carry takes every one of them.
        let covered = selecting[..i].iter().any(|older| {
            labels_of(older)
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        });
        if covered {
            continue;
        }
        let name = name_of(*sidecar);
        let scope = match &mesh_wide {
            Some(why) => NamespaceScope::unmodelled(Some(name.clone()), why.clone()),
            None => NamespaceScope {
                decided_by: Some(name.clone()),
                effect: effect_of(sidecar, namespace),
            },
        };
        let shadowed_by = selecting[..i]
            .iter()
            .filter(|older| may_pick_the_same(&labels_of(older), &labels))
            .map(|older| name_of(*older))
            .collect();
        out.push(WorkloadScope {
            sidecar: name,
            labels,
            scope,
            shadowed_by,
        });
    }
    out
}

/// The one Sidecar without a workloadSelector among `sidecars` (of one namespace, `place`).
fn without_selector<'s>(
    sidecars: Vec<&'s Sidecar>,
    place: &str,
) -> Result<Option<&'s Sidecar>, String> {
    let mut unselective: Vec<&Sidecar> = sidecars
        .into_iter()
        .filter(|s| s.spec.workload_selector.is_none())
        .collect();
    if unselective.len() > 1 {
        let names: Vec<String> = unselective.iter().map(|s| name_of(*s)).collect();
        return Err(format!(
            "several Sidecars without a workloadSelector in {place} ({}): Istio applies one of them; keep one",
            names.join(", ")
        ));
    }
    Ok(unselective.pop())
}

/// What the deciding Sidecar changes for a proxy in `namespace`: the hosts it imports, its
/// outboundTrafficPolicy mode, or why the model cannot follow it.
fn effect_of(sidecar: &Sidecar, namespace: &str) -> SidecarEffect {
    let unmodelled = |why: String| SidecarEffect {
        unmodelled: Some(why),
        ..SidecarEffect::default()
    };
    if let Some(why) = &sidecar.unreadable {
        return unmodelled(why.clone());
    }
    let egress = sidecar.spec.egress.as_slice();
    if imports_everything(egress) {
        return mode_of(sidecar);
    }
    let listeners = match egress_listeners(egress, namespace) {
        Ok(listeners) => listeners,
        Err(why) => return unmodelled(format!("Sidecar {} {why}", name_of(sidecar))),
    };
    // The one without a port is followed by default; a Sidecar without one has no listener on
    // any port its others do not name.
    let (catch_all, ported): (Vec<EgressListener>, Vec<EgressListener>) =
        listeners.into_iter().partition(|l| l.port.is_none());
    let imports = match catch_all.into_iter().next() {
        Some(catch_all) => catch_all.imports,
        None => Some(Imports::nothing()),
    };
    SidecarEffect {
        imports,
        other_listeners: ported,
        ..mode_of(sidecar)
    }
}

/// A Sidecar's egress listeners as the model follows them: on the proxy's captured traffic (no
/// bind, no captureMode), each on a port of its own but the last, which may have none (Istio's
/// validation asks the same), none a generic HTTP proxy. Err: what the model does not follow.
fn egress_listeners(
    egress: &[SidecarEgress],
    namespace: &str,
) -> Result<Vec<EgressListener>, String> {
    let mut listeners = vec![];
    let mut ports = std::collections::BTreeSet::new();
    for (i, listener) in egress.iter().enumerate() {
        if listener.bind.is_some()
            || listener
                .capture_mode
                .as_deref()
                .is_some_and(|m| m != "DEFAULT")
        {
            return Err(format!(
                "has an egress listener with a bind or captureMode (hosts {}): status does not model that yet",
                listener.hosts.join(", ")
            ));
        }
        let port = match &listener.port {
            Some(port) if port.number != 0 => {
                let protocol = port.protocol.to_ascii_uppercase();
                if protocol.is_empty() || protocol == "HTTP_PROXY" || !ports.insert(port.number) {
                    return Err(format!(
                        "has an egress listener on port {} that is a generic HTTP proxy, has no protocol or repeats a port: status does not model that",
                        port.number
                    ));
                }
                Some((port.number, protocol))
            }
            _ if i + 1 < egress.len() => {
                return Err(
                    "has an egress listener without a port before the last: Istio's validation refuses that"
                        .to_string(),
                );
            }
            _ => None,
        };
        let imports = if imports_everything(std::slice::from_ref(&SidecarEgress {
            port: None,
            ..listener.clone()
        })) {
            None
        } else {
            Some(Imports::parse(&listener.hosts, namespace))
        };
        listeners.push(EgressListener { port, imports });
    }
    Ok(listeners)
}

/// The Sidecar's own outboundTrafficPolicy, or why the model cannot follow it.
fn mode_of(sidecar: &Sidecar) -> SidecarEffect {
    let unmodelled = |why: String| SidecarEffect {
        unmodelled: Some(why),
        ..SidecarEffect::default()
    };
    let Some(policy) = &sidecar.spec.outbound_traffic_policy else {
        return SidecarEffect::default();
    };
    if policy.egress_proxy.is_some() {
        return unmodelled(format!(
            "Sidecar {} sends unknown hosts to an egressProxy: status does not model that yet",
            name_of(sidecar)
        ));
    }
    match policy.mode.as_deref() {
        Some("REGISTRY_ONLY") => SidecarEffect {
            registry_only: Some(true),
            ..SidecarEffect::default()
        },
        Some("ALLOW_ANY") | None => SidecarEffect {
            registry_only: Some(false),
            ..SidecarEffect::default()
        },
        Some(other) => unmodelled(format!(
            "Sidecar {} has outboundTrafficPolicy mode {other:?}, which Istio does not know",
            name_of(sidecar)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::objects::istio::typed;
    use serde_json::{Value, json};

    fn sidecar(namespace: &str, name: &str, spec: Value) -> Sidecar {
        typed(&json!({
            "apiVersion": "networking.istio.io/v1",
            "kind": "Sidecar",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }))
    }

    fn scope(own: Vec<Sidecar>, root: Vec<Sidecar>) -> MeshScope {
        MeshScope {
            sidecars: Known::Yes(own),
            root_sidecars: Known::Yes(root),
            ..MeshScope::default()
        }
    }

    #[test]
    fn no_sidecar_is_istios_default_scope() {
        assert_eq!(
            scope_of(&scope(vec![], vec![]), "student1"),
            NamespaceScope::default()
        );
    }

    #[test]
    fn the_namespaces_sidecar_overrides_the_mesh_policy() {
        let allow_any = sidecar(
            "student1",
            "default",
            json!({"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}),
        );
        let got = scope_of(&scope(vec![allow_any], vec![]), "student1");
        assert_eq!(got.decided_by.as_deref(), Some("student1/default"));
        assert_eq!(got.effect.registry_only, Some(false));
        assert_eq!(got.effect.unmodelled, None);
        // Another namespace's Sidecar is not this one's.
        let theirs = sidecar(
            "student2",
            "default",
            json!({"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}),
        );
        assert_eq!(
            scope_of(&scope(vec![theirs], vec![]), "student1"),
            NamespaceScope::default()
        );
    }

    #[test]
    fn the_root_namespaces_sidecar_is_the_default_and_the_namespaces_own_wins() {
        let root = sidecar(
            "istio-system",
            "default",
            json!({"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}),
        );
        let got = scope_of(&scope(vec![], vec![root.clone()]), "student1");
        assert_eq!(got.decided_by.as_deref(), Some("istio-system/default"));
        assert_eq!(got.effect.registry_only, Some(true));
        let own = sidecar("student1", "mine", json!({"egress": [{"hosts": ["*/*"]}]}));
        let got = scope_of(&scope(vec![own], vec![root]), "student1");
        assert_eq!(got.decided_by.as_deref(), Some("student1/mine"));
        assert_eq!(got.effect.registry_only, None);
        assert_eq!(got.effect.unmodelled, None);
    }

    #[test]
    fn a_narrowing_sidecar_imports_what_istio_imports() {
        let narrowed = sidecar(
            "student1",
            "default",
            json!({"egress": [{"hosts": ["istio-system/*", "./httpbin.org", "*/*.example.org", "~*/bad.example.org"]}]}),
        );
        let got = scope_of(&scope(vec![narrowed], vec![]), "student1");
        assert_eq!(got.effect.unmodelled, None);
        let imports = got.effect.imports.expect("narrowed");
        assert!(imports.service(
            "istio-system",
            "istio-egressgateway.istio-system.svc.cluster.local"
        ));
        assert!(imports.service("student1", "httpbin.org"));
        // `.` is the proxy's namespace, not every namespace.
        assert!(!imports.service("student2", "httpbin.org"));
        assert!(!imports.service("student1", "api.example.com"));
        assert!(imports.service("student2", "a.example.org"));
        assert!(imports.service("student2", "*.a.example.org"));
        // A wildcard service is imported only by a pattern covering all of it.
        assert!(!imports.service("student1", "*.org"));
        assert!(!imports.service("student2", "bad.example.org"));
        // VirtualServices match both ways: `*.org` overlaps `*.example.org`.
        assert!(imports.virtual_service("student2", &["*.org".into()]));
        assert!(imports.virtual_service("student1", &["httpbin.org".into()]));
        assert!(!imports.virtual_service("student2", &["httpbin.org".into()]));
        assert!(!imports.virtual_service("student2", &["bad.example.org".into()]));
        // A root Sidecar's `.` is each namespace it applies to.
        let root = sidecar(
            "istio-system",
            "default",
            json!({"egress": [{"hosts": ["./*"]}]}),
        );
        let imports = scope_of(&scope(vec![], vec![root]), "student2")
            .effect
            .imports
            .unwrap();
        assert!(imports.service("student2", "httpbin.org"));
        assert!(!imports.service("istio-system", "httpbin.org"));
        // `*/*` without exclusions is Istio's default scope.
        let everything = sidecar(
            "student1",
            "default",
            json!({"egress": [{"hosts": ["*/*", "./x.org"]}]}),
        );
        assert_eq!(
            scope_of(&scope(vec![everything], vec![]), "student1")
                .effect
                .imports,
            None
        );
    }

    #[test]
    fn egress_listeners_on_ports_are_followed_one_port_at_a_time() {
        let ported = sidecar(
            "student1",
            "default",
            json!({"egress": [
                {"port": {"number": 80, "protocol": "HTTP", "name": "http"}, "hosts": ["./httpbin.org"]},
                {"port": {"number": 443, "protocol": "TLS", "name": "tls"}, "hosts": ["*/*"]},
            ]}),
        );
        let effect = scope_of(&scope(vec![ported], vec![]), "student1").effect;
        assert_eq!(effect.unmodelled, None);
        assert_eq!(effect.listener_ports(), [80, 443]);
        // No listener without a port: every other port imports nothing.
        let rest = effect.imports.as_ref().unwrap();
        assert!(!rest.service("student1", "httpbin.org"));
        let web = effect.on_port(80).unwrap();
        assert_eq!(web.listener_port, Some((80, "HTTP".to_string())));
        assert!(
            web.imports
                .as_ref()
                .unwrap()
                .service("student1", "httpbin.org")
        );
        assert!(
            !web.imports
                .as_ref()
                .unwrap()
                .service("student1", "api.example.com")
        );
        // The others stay, clusters only: 443's and the (empty) rest.
        assert_eq!(web.other_listeners.len(), 2);
        let tls = effect.on_port(443).unwrap();
        assert!(
            tls.imports
                .as_ref()
                .unwrap()
                .service("student2", "api.example.com")
        );
        assert_eq!(effect.on_port(8080), None);
        assert!(effect.any_imports_service("student1", "api.example.com"));
    }

    #[test]
    fn what_the_model_does_not_follow_is_named() {
        let selecting = sidecar(
            "student1",
            "api",
            json!({
                "workloadSelector": {"labels": {"app": "sentences", "mode": "api"}},
                "egress": [{"hosts": ["istio-system/*"]}]
            }),
        );
        let everything = sidecar(
            "student1",
            "default",
            json!({"egress": [{"hosts": ["*/*"]}]}),
        );
        let both = scope(vec![selecting, everything], vec![]);
        // The namespace's other workloads get the Sidecar without a selector; those labelled
        // app=sentences,mode=api the selecting one's imports.
        let rest = scope_of(&both, "student1");
        assert_eq!(rest.decided_by.as_deref(), Some("student1/default"));
        assert_eq!((rest.effect.imports, rest.effect.unmodelled), (None, None));
        let picked = workload_scopes(&both, "student1");
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].sidecar, "student1/api");
        assert_eq!(picked[0].labels["mode"], "api");
        let imports = picked[0].scope.effect.imports.as_ref().unwrap();
        assert!(imports.service("istio-system", "x.istio-system.svc.cluster.local"));
        assert!(!imports.service("student1", "httpbin.org"));
        assert!(workload_scopes(&both, "student2").is_empty());
        let two = vec![
            sidecar("student1", "a", json!({})),
            sidecar("student1", "b", json!({})),
        ];
        let why = scope_of(&scope(two, vec![]), "student1")
            .effect
            .unmodelled
            .unwrap();
        assert!(why.contains("student1/a, student1/b"), "{why}");
        for unfollowed in [
            json!([{"bind": "127.0.0.1", "hosts": ["*/*"]}]),
            json!([{"captureMode": "NONE", "port": {"number": 80, "protocol": "HTTP", "name": "http"}, "hosts": ["*/*"]}]),
            json!([{"hosts": ["./*"]}, {"port": {"number": 80, "protocol": "HTTP", "name": "http"}, "hosts": ["*/*"]}]),
            json!([{"port": {"number": 3128, "protocol": "HTTP_PROXY", "name": "proxy"}, "hosts": ["*/*"]}]),
        ] {
            let odd = sidecar("student1", "default", json!({ "egress": unfollowed }));
            assert!(
                scope_of(&scope(vec![odd], vec![]), "student1")
                    .effect
                    .unmodelled
                    .is_some(),
                "{unfollowed}"
            );
        }
        let proxy = sidecar(
            "student1",
            "default",
            json!({"outboundTrafficPolicy": {"mode": "ALLOW_ANY", "egressProxy": {"host": "proxy.example.com"}}}),
        );
        assert!(
            scope_of(&scope(vec![proxy], vec![]), "student1")
                .effect
                .unmodelled
                .is_some()
        );
        let mut patched = scope(vec![], vec![]);
        patched.envoy_filters = Known::Yes(vec![typed(&json!({
            "apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
            "metadata": {"name": "lua", "namespace": "student1"}, "spec": {},
        }))]);
        let why = scope_of(&patched, "student1").effect.unmodelled.unwrap();
        assert!(why.contains("EnvoyFilter student1/lua"), "{why}");
        assert_eq!(scope_of(&patched, "student2").effect.unmodelled, None);
        let plugin = |ns: &str, spec: Value| -> WasmPlugin {
            typed(&json!({
                "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
                "metadata": {"name": "auth", "namespace": ns}, "spec": spec,
            }))
        };
        let mut filtered = scope(vec![], vec![]);
        filtered.wasm_plugins = Known::Yes(vec![plugin("student1", json!({"url": "oci://x"}))]);
        let why = scope_of(&filtered, "student1").effect.unmodelled.unwrap();
        assert!(why.contains("WasmPlugin student1/auth"), "{why}");
        assert_eq!(scope_of(&filtered, "student2").effect.unmodelled, None);
        // The root namespace's: every namespace's sidecars, unless it selects some.
        let mut everywhere = scope(vec![], vec![]);
        everywhere.root_wasm_plugins = Known::Yes(vec![plugin("istio-system", json!({}))]);
        assert!(
            scope_of(&everywhere, "student2")
                .effect
                .unmodelled
                .is_some()
        );
        everywhere.root_wasm_plugins = Known::Yes(vec![plugin(
            "istio-system",
            json!({"selector": {"matchLabels": {"istio": "egressgateway"}}}),
        )]);
        assert_eq!(scope_of(&everywhere, "student2").effect.unmodelled, None);
        let mut unreadable = scope(vec![], vec![]);
        unreadable.sidecars = Known::Unknown("forbidden".into());
        assert!(
            scope_of(&unreadable, "student1")
                .effect
                .unmodelled
                .unwrap()
                .contains("forbidden")
        );
    }
}
