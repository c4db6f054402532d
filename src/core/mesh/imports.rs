//! What a Sidecar's egress hosts import, matched as Istio matches them, and what a Sidecar does
//! to the traffic model. Pure; core/mesh/sidecar.rs decides which Sidecar applies.

use std::collections::{BTreeMap, BTreeSet};

/// What a namespace's Sidecar does to the model: its own outboundTrafficPolicy mode (REGISTRY_ONLY:
/// true), the hosts the egress listener the model follows imports (None: everything exported to
/// the namespace), or why the model cannot answer for the namespace's sidecars.
///
/// A Sidecar with egress listeners on ports of their own is followed one listener at a time
/// ([`SidecarEffect::on_port`]): each port's listener and routes come from the egress listener
/// for that port, else from the one without a port (Istio's GetEgressListenerForRDS); the
/// sidecar's clusters come from all of them (collectImportedServices).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SidecarEffect {
    pub registry_only: Option<bool>,
    pub imports: Option<Imports>,
    /// The port and protocol of the egress listener followed, when it has a port: it imports
    /// only that port of each service (serviceMatchingListenerPort).
    pub listener_port: Option<(u32, String)>,
    /// The Sidecar's other egress listeners: the clusters of what they import are the
    /// sidecar's too, their listeners and routes are not the followed one's.
    pub other_listeners: Vec<EgressListener>,
    pub unmodelled: Option<String>,
}

/// One egress listener of a Sidecar: its port and protocol (None: every port no other listener
/// has), and its imports (None: everything).
#[derive(Debug, Clone, PartialEq)]
pub struct EgressListener {
    pub port: Option<(u32, String)>,
    pub imports: Option<Imports>,
}

impl SidecarEffect {
    /// The ports egress listeners of their own decide.
    pub fn listener_ports(&self) -> Vec<u32> {
        self.other_listeners
            .iter()
            .filter_map(|l| l.port.as_ref().map(|(p, _)| *p))
            .collect()
    }

    /// The effect for a request on `port` when an egress listener of its own takes it: that
    /// listener followed, every other one (this one's included) clusters only.
    pub fn on_port(&self, port: u32) -> Option<SidecarEffect> {
        let at = self
            .other_listeners
            .iter()
            .position(|l| l.port.as_ref().is_some_and(|(p, _)| *p == port))?;
        let mut others = self.other_listeners.clone();
        let taken = others.remove(at);
        others.push(EgressListener {
            port: self.listener_port.clone(),
            imports: self.imports.clone(),
        });
        Some(SidecarEffect {
            registry_only: self.registry_only,
            imports: Some(taken.imports.unwrap_or_else(Imports::everything)),
            listener_port: taken.port,
            other_listeners: others,
            unmodelled: self.unmodelled.clone(),
        })
    }

    /// Whether any of the Sidecar's egress listeners imports the service `host` of `namespace`.
    pub fn any_imports_service(&self, namespace: &str, host: &str) -> bool {
        std::iter::once(&self.imports)
            .chain(self.other_listeners.iter().map(|l| &l.imports))
            .any(|i| i.as_ref().is_none_or(|i| i.service(namespace, host)))
    }

    /// Whether any of them imports a VirtualService of `namespace` with `hosts`.
    pub fn any_imports_virtual_service(&self, namespace: &str, hosts: &[String]) -> bool {
        std::iter::once(&self.imports)
            .chain(self.other_listeners.iter().map(|l| &l.imports))
            .any(|i| {
                i.as_ref()
                    .is_none_or(|i| i.virtual_service(namespace, hosts))
            })
    }

    /// Whether it narrows what the sidecars see at all.
    pub fn narrows(&self) -> bool {
        self.imports.is_some() || !self.other_listeners.is_empty()
    }
}

/// The hosts one egress listener imports, by namespace (`*`: every namespace), as Istio
/// classifies them (convertIstioListenerToWrapper's hostsByNamespace), with `.` already read as
/// the proxy's namespace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Imports {
    by_namespace: BTreeMap<String, HostClass>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct HostClass {
    exact: BTreeSet<String>,
    /// Exact and wildcard hosts, as written.
    all: Vec<String>,
    /// `~ns/host`: hosts of the namespace never imported.
    excluded: Vec<String>,
}

/// Istio's `host.Name.SubsetOf`: every name `host` covers, `of` covers too.
fn subset_of(host: &str, of: &str) -> bool {
    match (host.strip_prefix('*'), of.strip_prefix('*')) {
        (Some(h), Some(o)) => host.len() >= of.len() && h.ends_with(o),
        (Some(_), None) => false,
        (None, Some(o)) => host.ends_with(o),
        (None, None) => host == of,
    }
}

/// Istio's `host.Name.Matches`: the two names have a name in common.
fn overlaps(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (Some(x), Some(y)) if a.len() < b.len() => y.ends_with(x),
        (Some(x), Some(y)) => x.ends_with(y),
        (Some(x), None) => b.ends_with(x),
        (None, Some(y)) => a.ends_with(y),
        (None, None) => a == b,
    }
}

impl HostClass {
    fn excludes(&self, host: &str) -> bool {
        self.excluded.iter().any(|e| subset_of(host, e))
    }

    /// hostClassification.Matches (`same`: SubsetOf, a service's hostname) or VSMatches
    /// (`same`: Matches, a VirtualService's host, not Gateway API semantics): exact hosts by
    /// lookup, the rest by `same` where either is a wildcard.
    fn matches(&self, host: &str, same: fn(&str, &str) -> bool) -> bool {
        self.exact.contains(host)
            || self.all.iter().any(|imported| {
                (host.starts_with('*') || imported.starts_with('*')) && same(host, imported)
            })
    }
}

impl Imports {
    /// Istio's default scope: every host of every namespace (`*/*`).
    pub fn everything() -> Imports {
        Imports::parse(&["*/*".to_string()], "")
    }

    /// What a Sidecar without an egress listener for every port imports on the rest: nothing.
    pub fn nothing() -> Imports {
        Imports::default()
    }

    /// The egress hosts of a Sidecar applied to a proxy in `proxy_namespace`.
    pub fn parse(hosts: &[String], proxy_namespace: &str) -> Imports {
        let mut by_namespace: BTreeMap<String, HostClass> = BTreeMap::new();
        for entry in hosts {
            // Istio skips (and its validation refuses) anything but namespace/dnsName.
            if entry.matches('/').count() != 1 {
                continue;
            }
            let (namespace, name) = entry.split_once('/').unwrap_or_default();
            let excluded = namespace.strip_prefix('~');
            let namespace = match excluded.unwrap_or(namespace) {
                "" => "*",
                "." => proxy_namespace,
                other => other,
            };
            let class = by_namespace.entry(namespace.to_string()).or_default();
            if excluded.is_some() {
                class.excluded.push(name.to_string());
                continue;
            }
            if !name.starts_with('*') {
                class.exact.insert(name.to_string());
            }
            class.all.push(name.to_string());
        }
        Imports { by_namespace }
    }

    /// The imports of `namespace` by name and of every namespace (`*`).
    fn classes<'i>(&'i self, namespace: &'i str) -> impl Iterator<Item = &'i HostClass> {
        [namespace, "*"]
            .into_iter()
            .filter_map(|ns| self.by_namespace.get(ns))
    }

    /// Imported by one of `namespace`'s classes under `same`, and excluded by none.
    fn takes(&self, namespace: &str, host: &str, same: fn(&str, &str) -> bool) -> bool {
        !self.classes(namespace).any(|class| class.excludes(host))
            && self
                .classes(namespace)
                .any(|class| class.matches(host, same))
    }

    /// Whether a service (a ServiceEntry's host, or a Kubernetes Service) of `namespace` named
    /// `host` is imported (selectServices).
    pub fn service(&self, namespace: &str, host: &str) -> bool {
        self.takes(namespace, host, subset_of)
    }

    /// Whether a VirtualService of `namespace` with `hosts` is imported (SelectVirtualServices):
    /// one of its hosts matches an import and is not excluded.
    pub fn virtual_service(&self, namespace: &str, hosts: &[String]) -> bool {
        hosts
            .iter()
            .any(|host| self.takes(namespace, host, overlaps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of Istio's pkg/config/host/name.go.
    #[test]
    fn host_names_match_as_istios_do() {
        for (a, b, matches) in [
            ("foo.com", "foo.com", true),
            ("foo.com", "bar.com", false),
            ("*.com", "foo.com", true),
            ("bar.com", "*.com", true),
            ("*.foo.com", "foo.com", false),
            ("*", "foo.com", true),
            ("*", "*.com", true),
        ] {
            assert_eq!(overlaps(a, b), matches, "{a} matches {b}");
        }
        for (a, b, subset) in [
            ("foo.com", "*.com", true),
            ("*.com", "foo.com", false),
            ("*.foo.com", "*.com", true),
            ("*.com", "*.foo.com", false),
            ("*.com", "*", true),
            ("foo.com", "foo.com", true),
        ] {
            assert_eq!(subset_of(a, b), subset, "{a} subset of {b}");
        }
    }

    #[test]
    fn entries_istio_skips_import_nothing() {
        let imports = Imports::parse(&["httpbin.org".into(), "a/b/c".into()], "s1");
        assert!(!imports.service("s1", "httpbin.org"));
        let excluded_only = Imports::parse(&["~./httpbin.org".into()], "s1");
        assert!(!excluded_only.service("s1", "api.example.com"));
    }
}
