//! The traffic models `status` builds from the view, one per Sidecar scope: the Services,
//! the ServiceEntries pulled in and what narrowing Sidecars import (a `Context`), and the
//! `traffic::Mesh` over them, for the namespace's sidecars and the egress gateway.

use super::*;

/// Services as the traffic model reads them.
pub(super) type ServiceMap = BTreeMap<String, Result<Option<KubeService>, String>>;

pub(super) struct Context {
    services: ServiceMap,
    /// Per proxy namespace: what [`traffic::pulled_in_by_routes`] and
    /// [`traffic::pulled_in_under`] make of the view.
    pulled_in: BTreeMap<String, Vec<ServiceEntry>>,
    /// Per namespace whose Sidecar narrows its imports: what its sidecars see.
    scoped: BTreeMap<String, traffic::Scoped>,
}

pub(super) fn mesh_context(
    view: &ClusterView,
    scopes: &BTreeMap<String, NamespaceScope>,
) -> Context {
    let (service_entries, virtual_services) = every_entry_and_route(view);
    let services: ServiceMap = view
        .services
        .iter()
        .map(|(k, v)| (k.clone(), known_result(v).cloned()))
        .collect();
    let mut pulled_in: BTreeMap<String, Vec<ServiceEntry>> = BTreeMap::new();
    // The egress gateway's proxies get none (DefaultSidecarScopeForGateway).
    for se in traffic::pulled_in_by_routes(&service_entries, &virtual_services) {
        let namespace = se.metadata.namespace.clone().unwrap_or_default();
        if namespace != GATEWAY_NAMESPACE {
            pulled_in.entry(namespace).or_default().push(se);
        }
    }
    let mut scoped = BTreeMap::new();
    for (namespace, scope) in scopes {
        let effect = &scope.effect;
        let Some(imports) = &effect.imports else {
            // Istio's default scope keeps each hostname from one namespace too: only where two
            // namespaces visible here name one host does that change what the sidecars see.
            if traffic::hostnames_shared(&service_entries, namespace) {
                let imported = traffic::imported_service_entries(
                    &service_entries,
                    &Imports::everything(),
                    namespace,
                );
                scoped.insert(
                    namespace.clone(),
                    traffic::Scoped {
                        service_entries: imported,
                        services_pulled_in: BTreeMap::new(),
                    },
                );
            }
            continue;
        };
        let listener_port = effect.listener_port.as_ref().map(|(p, _)| *p);
        let imported = imported_on(&service_entries, imports, namespace, listener_port);
        let under = traffic::pulled_in_under(
            imports,
            namespace,
            &imported,
            &service_entries,
            &virtual_services,
            &services,
            listener_port,
        );
        let mut entries = under.service_entries;
        let mut services_pulled_in = under.services;
        // The Sidecar's other egress listeners: what they import is the sidecar's services too
        // (clusters), as are the destinations of the routes they import.
        for other in &effect.other_listeners {
            let port = other.port.as_ref().map(|(p, _)| *p);
            let imports = other.imports.clone().unwrap_or_else(Imports::everything);
            let theirs = imported_on(&service_entries, &imports, namespace, port);
            let under = traffic::pulled_in_under(
                &imports,
                namespace,
                &theirs,
                &service_entries,
                &virtual_services,
                &services,
                port,
            );
            entries.extend(theirs);
            entries.extend(under.service_entries);
            let imported_services = services.iter().filter_map(|(fqdn, service)| match service {
                Ok(Some(service))
                    if service.exported_to(namespace)
                        && imports.service(&service.namespace, fqdn) =>
                {
                    let ports: Vec<u32> = service
                        .ports
                        .iter()
                        .map(|(n, _)| *n)
                        .filter(|n| port.is_none_or(|p| p == *n))
                        .collect();
                    Some((fqdn.clone(), ports))
                }
                _ => None,
            });
            for (fqdn, ports) in under.services.into_iter().chain(imported_services) {
                services_pulled_in.entry(fqdn).or_default().extend(ports);
            }
        }
        pulled_in.insert(namespace.clone(), entries);
        scoped.insert(
            namespace.clone(),
            traffic::Scoped {
                service_entries: imported,
                services_pulled_in,
            },
        );
    }
    Context {
        services,
        pulled_in,
        scoped,
    }
}

/// The ServiceEntries an egress listener imports, only its port of them when it has one.
pub(super) fn imported_on(
    service_entries: &[&ServiceEntry],
    imports: &Imports,
    namespace: &str,
    port: Option<u32>,
) -> Vec<ServiceEntry> {
    let imported = traffic::imported_service_entries(service_entries, imports, namespace);
    match port {
        Some(port) => traffic::on_port_only(imported, port),
        None => imported,
    }
}

/// What the models are built from: the scopes as given, and per namespace whose Sidecar has
/// egress listeners on ports of their own, per such port, the scopes with that listener
/// followed.
pub(super) struct Contexts {
    base: (Scopes, Context),
    on_port: Vec<((String, u32), Scopes, Context)>,
}

/// Each namespace's Sidecar scope.
pub(super) type Scopes = BTreeMap<String, NamespaceScope>;

impl Contexts {
    pub(super) fn of(view: &ClusterView, scopes: &BTreeMap<String, NamespaceScope>) -> Contexts {
        let mut on_port = vec![];
        for (namespace, scope) in scopes {
            for port in scope.effect.listener_ports() {
                let Some(effect) = scope.effect.on_port(port) else {
                    continue;
                };
                let mut theirs = scopes.clone();
                theirs.insert(
                    namespace.clone(),
                    NamespaceScope {
                        decided_by: scope.decided_by.clone(),
                        effect,
                    },
                );
                let context = mesh_context(view, &theirs);
                on_port.push(((namespace.clone(), port), theirs, context));
            }
        }
        Contexts {
            base: (scopes.clone(), mesh_context(view, scopes)),
            on_port,
        }
    }
}

/// The traffic model, one per egress listener with a port of its own ([`Contexts`]): a
/// request on such a port is answered by that listener's model.
pub(super) struct Models<'a> {
    base: Mesh<'a>,
    on_port: Vec<((String, u32), Mesh<'a>)>,
}

impl<'a> Models<'a> {
    pub(super) fn of(view: &'a ClusterView, contexts: &'a Contexts) -> Models<'a> {
        let (scopes, context) = &contexts.base;
        Models {
            base: traffic_mesh(view, context, scopes),
            on_port: contexts
                .on_port
                .iter()
                .map(|(key, scopes, context)| (key.clone(), traffic_mesh(view, context, scopes)))
                .collect(),
        }
    }

    pub(super) fn traffic(
        &self,
        namespace: &str,
        host: &str,
        ports: &[(u32, String)],
    ) -> Vec<Traffic> {
        ports
            .iter()
            .flat_map(|(port, protocol)| {
                let on_port = self
                    .on_port
                    .iter()
                    .find(|((ns, p), _)| ns == namespace && p == port)
                    .map(|(_, model)| model);
                let Some(model) = on_port else {
                    return self
                        .base
                        .traffic(namespace, host, &[(*port, protocol.clone())]);
                };
                // When the port's own egress listener imports no service with that port, Istio
                // builds the port's listener (filter chains and all) from the one without a port,
                // yet its HTTP routes from the port's own: TLS and TCP meet the former's, HTTP
                // the former's listener and the latter's routes.
                if !model.has_listener(namespace, *port) && self.base.has_listener(namespace, *port)
                {
                    if Wire::of(protocol) != Wire::Http {
                        return self
                            .base
                            .traffic(namespace, host, &[(*port, protocol.clone())]);
                    }
                    return vec![
                        model.http_on_listener_of(&self.base, namespace, host, *port, protocol),
                    ];
                }
                model.traffic(namespace, host, &[(*port, protocol.clone())])
            })
            .collect()
    }

    pub(super) fn at_gateway(&self, host: &str, gateway_host: &str) -> Vec<Traffic> {
        self.base.at_gateway(host, gateway_host)
    }
}

/// Every ServiceEntry and VirtualService read: the namespace's, istio-system's, other namespaces'.
pub(super) fn every_entry_and_route(
    view: &ClusterView,
) -> (Vec<&ServiceEntry>, Vec<&VirtualService>) {
    let service_entries = with_gateways(
        &view.service_entries,
        &view.gateway_service_entries,
        &view.elsewhere.service_entries,
    );
    let virtual_services = with_gateways(
        &view.virtual_services,
        &view.gateway_virtual_services,
        &view.elsewhere.virtual_services,
    );
    (service_entries, virtual_services)
}

/// The namespace's objects of one kind, istio-system's and other namespaces' (when read), each
/// once: with -A istio-system's are among the namespace's already.
pub(super) fn with_gateways<'a, S>(
    listed: &'a [Object<S>],
    gateways: &'a Known<Vec<Object<S>>>,
    elsewhere: &'a Known<Vec<Object<S>>>,
) -> Vec<&'a Object<S>> {
    let mut all: Vec<&Object<S>> = listed.iter().collect();
    if let Known::Yes(theirs) = elsewhere {
        all.extend(theirs);
    }
    if let Known::Yes(theirs) = gateways {
        for object in theirs {
            let listed = all.iter().any(|o| {
                o.metadata.name == object.metadata.name
                    && o.metadata.namespace == object.metadata.namespace
            });
            if !listed {
                all.push(object);
            }
        }
    }
    all
}

/// Everything the sidecar and the gateway can be configured by, from what was read.
pub(super) fn traffic_mesh<'a>(
    view: &'a ClusterView,
    context: &'a Context,
    scopes: &BTreeMap<String, NamespaceScope>,
) -> Mesh<'a> {
    let (service_entries, virtual_services) = every_entry_and_route(view);
    Mesh {
        service_entries,
        pulled_in: context
            .pulled_in
            .iter()
            .map(|(ns, list)| (ns.clone(), list.iter().collect()))
            .collect(),
        scoped: &context.scoped,
        virtual_services,
        destination_rules: known_result(&view.destination_rules).map(|l| l.iter().collect()),
        // Other namespaces' apply to the hosts their ServiceEntries define (Mesh::client_tls).
        namespace_destination_rules: view
            .namespace_destination_rules
            .iter()
            .chain(
                known_result(&view.elsewhere.destination_rules)
                    .into_iter()
                    .flatten(),
            )
            .collect(),
        gateways: known_result(&view.gateways).map(|l| l.iter().collect()),
        gateway_routes_known: known_result(&view.gateway_virtual_services).map(|_| ()),
        services: &context.services,
        registry_only: known_result(&view.outbound_policy)
            .map(|mode| mode.as_deref() == Some("REGISTRY_ONLY")),
        sidecar_scopes: scopes
            .iter()
            .map(|(ns, scope)| (ns.clone(), scope.effect.clone()))
            .collect(),
        index: Default::default(),
    }
}
