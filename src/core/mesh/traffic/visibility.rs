//! What a sidecar in a namespace can see, and which object wins where several name a host:
//! `exportTo`, the imports of a narrowing Sidecar, the ServiceEntries routes pull in, and
//! Istio's precedence (oldest first, then by name, the proxy's own namespace first).

use super::*;

/// Whether `pattern` (a host as Istio writes it: `a.org`, `*.a.org`, `*`) covers `host`.
pub fn covers(pattern: &str, host: &str) -> bool {
    pattern == host
        || pattern == "*"
        || pattern
            .strip_prefix('*')
            .is_some_and(|suffix| suffix.starts_with('.') && host.ends_with(suffix))
}

/// The specs Istio scopes to namespaces with `exportTo`.
pub trait Exported {
    fn export_to(&self) -> &[String];
    fn export_to_mut(&mut self) -> &mut Vec<String>;
    /// The hosts it is for (a DestinationRule's one).
    fn hosts(&self) -> &[String];
}

macro_rules! exported {
    ($($spec:ty),*) => {$(
        impl Exported for $spec {
            fn export_to(&self) -> &[String] {
                &self.export_to
            }
            fn export_to_mut(&mut self) -> &mut Vec<String> {
                &mut self.export_to
            }
            fn hosts(&self) -> &[String] {
                &self.hosts
            }
        }
    )*};
}

exported!(ServiceEntrySpec, VirtualServiceSpec);

impl Exported for DestinationRuleSpec {
    fn export_to(&self) -> &[String] {
        &self.export_to
    }
    fn export_to_mut(&mut self) -> &mut Vec<String> {
        &mut self.export_to
    }
    fn hosts(&self) -> &[String] {
        std::slice::from_ref(&self.host)
    }
}

/// Whether `object` is visible in `namespace` (its `exportTo`, relative to its own namespace).
/// No exportTo means every namespace (Istio's default).
pub fn exported_to<S: Exported>(object: &Object<S>, namespace: &str) -> bool {
    visible_in(object.spec.export_to(), namespace_of(object), namespace)
}

/// Istio's exportTo rule, for an object of namespace `own`: none, `*`, `namespace` by name, or
/// `.` when it is `own`.
pub(super) fn visible_in(export_to: &[String], own: &str, namespace: &str) -> bool {
    export_to.is_empty()
        || export_to
            .iter()
            .any(|e| e == "*" || e == namespace || (e == "." && own == namespace))
}

/// The ServiceEntries whose clusters a namespace's sidecars get although they are not
/// exported there: for each host a VirtualService visible there routes to, Istio adds the
/// host's service from the proxy's own namespace whatever its exportTo
/// (SidecarScope.collectImportedServices), with only the ports the routes name when every
/// route names one, unless a service the proxy sees already has that hostname. Clusters only:
/// listeners come from the services the proxy sees. Each comes back as a copy naming that one
/// host. (Gateways get no such services: the caller leaves out the gateway's namespace.)
pub fn pulled_in_by_routes(
    service_entries: &[&ServiceEntry],
    virtual_services: &[&VirtualService],
) -> Vec<ServiceEntry> {
    let mut namespaces: Vec<&str> = service_entries.iter().map(|se| namespace_of(se)).collect();
    namespaces.sort();
    namespaces.dedup();
    let mut pulled_in = vec![];
    for namespace in namespaces {
        let routes = virtual_services
            .iter()
            .filter(|vs| binds_to_mesh(&vs.spec) && exported_to(vs, namespace));
        for (host, ports) in route_destinations(routes) {
            let seen = |se: &&&ServiceEntry| se.spec.hosts.iter().any(|h| *h == host);
            if service_entries
                .iter()
                .filter(|se| exported_to(se, namespace))
                .any(|se| seen(&se))
            {
                continue;
            }
            let mut own: Vec<&&ServiceEntry> = service_entries
                .iter()
                .filter(|se| namespace_of(se) == namespace)
                .filter(seen)
                .collect();
            own.sort_by(|a, b| creation_order(a, b));
            let Some(service_entry) = own.first() else {
                continue;
            };
            let mut copy = (**service_entry).clone();
            copy.spec.hosts = vec![host.to_string()];
            if !ports.contains(&0) {
                copy.spec.ports.retain(|p| ports.contains(&p.number));
            }
            if !copy.spec.ports.is_empty() {
                pulled_in.push(copy);
            }
        }
    }
    pulled_in
}

/// The ServiceEntries a proxy in `namespace` sees under a Sidecar's `imports`: each one exported
/// there with only its imported hosts (one with none left out), in the order given, and each
/// hostname from one namespace: the proxy's own, else the first in creation order
/// (selectServices; every host of a ServiceEntry is a service of its own to Istio). Copies.
pub fn imported_service_entries(
    service_entries: &[&ServiceEntry],
    imports: &Imports,
    namespace: &str,
) -> Vec<ServiceEntry> {
    let exported: Vec<&ServiceEntry> = service_entries
        .iter()
        .copied()
        .filter(|se| exported_to(se, namespace))
        .collect();
    let mut by_age = exported.clone();
    by_age.sort_by(creation_order);
    let mut owner: HashMap<&str, &str> = HashMap::new();
    for se in &by_age {
        let own = namespace_of(se);
        for host in se.spec.hosts.iter().filter(|h| imports.service(own, h)) {
            let taken = owner.entry(host.as_str()).or_insert(own);
            if own == namespace {
                *taken = own;
            }
        }
    }
    exported
        .into_iter()
        .filter_map(|se| {
            let own = namespace_of(se);
            let hosts: Vec<String> = se
                .spec
                .hosts
                .iter()
                .filter(|h| imports.service(own, h) && owner.get(h.as_str()) == Some(&own))
                .cloned()
                .collect();
            (!hosts.is_empty()).then(|| {
                let mut copy = se.clone();
                copy.spec.hosts = hosts;
                copy
            })
        })
        .collect()
}

/// What an egress listener on `port` takes of the services it imports: that port alone, and
/// no service without it (serviceMatchingListenerPort).
pub fn on_port_only(service_entries: Vec<ServiceEntry>, port: u32) -> Vec<ServiceEntry> {
    service_entries
        .into_iter()
        .filter_map(|mut se| {
            se.spec.ports.retain(|p| p.number == port);
            (!se.spec.ports.is_empty()).then_some(se)
        })
        .collect()
}

/// Whether two namespaces whose ServiceEntries are visible in `namespace` name one host.
pub fn hostnames_shared(service_entries: &[&ServiceEntry], namespace: &str) -> bool {
    let mut first: HashMap<&str, &str> = HashMap::new();
    service_entries
        .iter()
        .filter(|se| exported_to(se, namespace))
        .any(|se| {
            let own = namespace_of(se);
            se.spec
                .hosts
                .iter()
                .any(|h| *first.entry(h.as_str()).or_insert(own) != own)
        })
}

/// What a Sidecar's imported VirtualServices pull into a proxy in `namespace` besides what it
/// imports: for each host they route to that no imported service has, the host's service
/// from the proxy's namespace whatever its exportTo, else a visible Kubernetes Service, else
/// the oldest visible ServiceEntry of another namespace (collectImportedServices,
/// pickBestVisibleNamespace), with the ports the routes name (all when one names none).
/// Clusters only: listeners come from what is imported.
pub struct PulledIn {
    pub service_entries: Vec<ServiceEntry>,
    pub services: BTreeMap<String, Vec<u32>>,
}

///
/// Under an egress listener with a port (`listener_port`) a destination keeps only that port,
/// whatever the route names (serviceMatchingListenerPort).
pub fn pulled_in_under(
    imports: &Imports,
    namespace: &str,
    imported: &[ServiceEntry],
    service_entries: &[&ServiceEntry],
    virtual_services: &[&VirtualService],
    services: &BTreeMap<String, Result<Option<KubeService>, String>>,
    listener_port: Option<u32>,
) -> PulledIn {
    let mut out = PulledIn {
        service_entries: vec![],
        services: BTreeMap::new(),
    };
    let routes = virtual_services.iter().filter(|vs| {
        binds_to_mesh(&vs.spec)
            && exported_to(vs, namespace)
            && imports.virtual_service(namespace_of(vs), &vs.spec.hosts)
    });
    for (host, ports) in route_destinations(routes) {
        let wanted = |number: u32| match listener_port {
            Some(only) => number == only,
            None => ports.contains(&0) || ports.contains(&number),
        };
        let kube = match services.get(host) {
            Some(Ok(Some(service)))
                if service.namespace == namespace || service.exported_to(namespace) =>
            {
                Some(service)
            }
            _ => None,
        };
        if imported
            .iter()
            .any(|se| se.spec.hosts.iter().any(|h| h == host))
            || kube.is_some_and(|k| imports.service(&k.namespace, host))
        {
            continue;
        }
        let mut own: Vec<&ServiceEntry> = service_entries
            .iter()
            .copied()
            .filter(|se| se.spec.hosts.iter().any(|h| h == host))
            .collect();
        own.sort_by(creation_order);
        let chosen = own
            .iter()
            .find(|se| namespace_of(se) == namespace)
            .or_else(|| {
                if kube.is_some() {
                    return None;
                }
                own.iter().find(|se| exported_to(se, namespace))
            });
        if let Some(se) = chosen {
            let mut copy = (*se).clone();
            copy.spec.hosts = vec![host.to_string()];
            copy.spec.ports.retain(|p| wanted(p.number));
            if !copy.spec.ports.is_empty() {
                out.service_entries.push(copy);
            }
        } else if let Some(service) = kube {
            let numbers: Vec<u32> = service
                .ports
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| wanted(*n))
                .collect();
            if !numbers.is_empty() {
                out.services.insert(host.to_string(), numbers);
            }
        }
    }
    out
}

/// Host -> the ports the routes send it to (0: a destination that names no port), over the
/// http, tls and tcp routes (virtualServiceDestinationsFilteredBySourceNamespace).
pub(super) fn route_destinations<'v>(
    virtual_services: impl Iterator<Item = &'v &'v VirtualService>,
) -> BTreeMap<&'v str, Vec<u32>> {
    let mut out: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut add =
        |host: &'v str, port: Option<u32>| out.entry(host).or_default().push(port.unwrap_or(0));
    for vs in virtual_services {
        let typed = vs
            .spec
            .http
            .iter()
            .flat_map(|r| &r.route)
            .chain(vs.spec.tls.iter().flat_map(|r| &r.route));
        for d in typed {
            add(
                &d.destination.host,
                d.destination.port.as_ref().map(|p| p.number),
            );
        }
        for route in vs
            .spec
            .tcp
            .iter()
            .filter_map(|r| r["route"].as_array())
            .flatten()
        {
            if let Some(host) = route["destination"]["host"].as_str() {
                let port = route["destination"]["port"]["number"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok());
                add(host, port);
            }
        }
    }
    out
}

/// An object's name as seen from `namespace`: `name` there, `other/name` from elsewhere.
pub(super) fn name_from<S>(object: &Object<S>, namespace: &str) -> String {
    match namespace_of(object) {
        own if own == namespace => object.metadata.name.clone(),
        other => format!("{other}/{}", object.metadata.name),
    }
}

pub(super) fn namespace_of<S>(object: &Object<S>) -> &str {
    object.metadata.namespace.as_deref().unwrap_or_default()
}

pub(super) fn creation_order<S>(a: &&Object<S>, b: &&Object<S>) -> std::cmp::Ordering {
    (
        a.metadata.creation_timestamp.as_deref().unwrap_or_default(),
        &a.metadata.name,
        namespace_of(a),
    )
        .cmp(&(
            b.metadata.creation_timestamp.as_deref().unwrap_or_default(),
            &b.metadata.name,
            namespace_of(b),
        ))
}

/// Istio's order of the VirtualServices a proxy in `namespace` sees: those of its own namespace
/// exported there (`.`, or the namespace by name) first, then those of other namespaces exported
/// to it by name, then public ones (`*` or no exportTo); by creation time within each
/// (PushContext.VirtualServicesForGateway). The same
/// order decides which of several ServiceEntries for one host defines its ports.
pub fn precedence<'v, S: Exported>(
    object: &'v Object<S>,
    namespace: &str,
) -> (u8, &'v str, &'v str, &'v str) {
    let export = object.spec.export_to();
    let own = namespace_of(object);
    let class = if export.is_empty() || export.iter().any(|e| e == "*") {
        2
    } else if own == namespace && export.iter().any(|e| e == "." || e == own) {
        0
    } else {
        1
    };
    (
        class,
        object
            .metadata
            .creation_timestamp
            .as_deref()
            .unwrap_or_default(),
        &object.metadata.name,
        own,
    )
}

/// Two of `duplicates` (one namespace's ServiceEntries for one host) that Istio cannot merge and
/// has no fixed order for: the same place in its order, created in the same second.
pub(super) fn unordered_pair<'s>(
    duplicates: &[&'s ServiceEntry],
    namespace: &str,
) -> Option<(&'s str, &'s str)> {
    let class_and_time = |se: &ServiceEntry| {
        let (class, created, _, _) = service_precedence(se, namespace);
        (class, created.to_string())
    };
    duplicates.iter().enumerate().find_map(|(i, a)| {
        duplicates[i + 1..]
            .iter()
            .find(|b| class_and_time(a) == class_and_time(b) && !can_merge(a, b))
            .map(|b| (a.metadata.name.as_str(), b.metadata.name.as_str()))
    })
}

/// Whether Istio merges two ServiceEntries' Services for one host (canMergeServices): same
/// namespace, resolution, labels, workloadSelector and exportTo.
pub(super) fn can_merge(a: &ServiceEntry, b: &ServiceEntry) -> bool {
    let resolution = |se: &ServiceEntry| {
        se.spec
            .resolution
            .as_deref()
            .unwrap_or("NONE")
            .to_ascii_uppercase()
    };
    let export = |se: &ServiceEntry| {
        se.spec
            .export_to
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    namespace_of(a) == namespace_of(b)
        && resolution(a) == resolution(b)
        && a.metadata.labels == b.metadata.labels
        && a.spec.workload_selector == b.spec.workload_selector
        && export(a) == export(b)
}

/// Istio's order of the Services (from ServiceEntries) a proxy in `namespace` sees: those
/// exported to it (its own with `.`, or any naming it) first, then public ones, by creation
/// time within each (PushContext.servicesExportedToNamespace; unlike VirtualServices, a
/// namespace's own come first only by age).
pub fn service_precedence<'v>(
    se: &'v ServiceEntry,
    namespace: &str,
) -> (u8, &'v str, &'v str, &'v str) {
    let (class, created, name, own) = precedence(se, namespace);
    (u8::from(class == 2), created, name, own)
}
