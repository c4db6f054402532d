//! What a Sidecar's egress hosts import, matched as Istio matches them, and what a Sidecar does
//! to the traffic model. Pure; core/sidecar.rs decides which Sidecar applies.

use std::collections::{BTreeMap, BTreeSet};

/// What a namespace's Sidecar does to the model: its own outboundTrafficPolicy mode (REGISTRY_ONLY:
/// true), the hosts it imports (None: everything exported to the namespace), or why the model
/// cannot answer for the namespace's sidecars.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SidecarEffect {
    pub registry_only: Option<bool>,
    pub imports: Option<Imports>,
    pub unmodelled: Option<String>,
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
