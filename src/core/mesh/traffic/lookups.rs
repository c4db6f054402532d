//! `Mesh`'s lookups: what a sidecar in a namespace sees (its ServiceEntries, imports,
//! listeners, TCP chains, the VirtualService that wins a host) and the clusters it gets, each
//! looked up through the index built on first use.

use super::*;

impl<'a> Mesh<'a> {
    /// The ServiceEntries a proxy in `namespace` sees, indexed (built once per namespace).
    pub(super) fn visible(&self, namespace: &str) -> Rc<Visible<'a>> {
        if let Some(visible) = self.index.visible.borrow().get(namespace) {
            return visible.clone();
        }
        let seen = match self.scoped.get(namespace) {
            Some(scoped) => scoped.service_entries.iter().collect(),
            None => self
                .service_entries
                .iter()
                .copied()
                .filter(|se| exported_to(se, namespace))
                .collect(),
        };
        let visible = Rc::new(Visible::new(seen));
        self.index
            .visible
            .borrow_mut()
            .insert(namespace.to_string(), visible.clone());
        visible
    }

    /// What the Sidecar of `namespace` imports, when it narrows it.
    pub(super) fn imports(&self, namespace: &str) -> Option<&Imports> {
        self.sidecar_scopes
            .get(namespace)
            .and_then(|s| s.imports.as_ref())
    }

    /// Whether a sidecar in `namespace` applies `vs`: exported there, and imported by its
    /// Sidecar.
    pub(super) fn sees_virtual_service(&self, namespace: &str, vs: &VirtualService) -> bool {
        exported_to(vs, namespace)
            && self
                .imports(namespace)
                .is_none_or(|i| i.virtual_service(namespace_of(vs), &vs.spec.hosts))
    }

    /// Whether a sidecar in `namespace` has the Kubernetes Service `fqdn` among its services
    /// (listeners and clusters).
    pub(super) fn imports_service(
        &self,
        namespace: &str,
        fqdn: &str,
        service: &KubeService,
    ) -> bool {
        service.exported_to(namespace)
            && self
                .imports(namespace)
                .is_none_or(|i| i.service(&service.namespace, fqdn))
    }

    /// Whether a sidecar in `namespace` has a cluster for the Kubernetes Service `fqdn` on
    /// `port`: imported, or pulled in by an imported route.
    pub(super) fn kube_cluster(
        &self,
        namespace: &str,
        fqdn: &str,
        service: &KubeService,
        port: u32,
    ) -> bool {
        let on_listener_port = self
            .sidecar_scopes
            .get(namespace)
            .and_then(|s| s.listener_port.as_ref())
            .is_none_or(|(only, _)| *only == port);
        service.ports.iter().any(|(n, _)| *n == port)
            && ((on_listener_port && self.imports_service(namespace, fqdn, service))
                || self
                    .scoped
                    .get(namespace)
                    .and_then(|s| s.services_pulled_in.get(fqdn))
                    .is_some_and(|ports| ports.contains(&port)))
    }

    /// The ports of `host` that a proxy in `namespace` knows, with their protocol.
    pub(super) fn host_ports(&self, namespace: &str, host: &str) -> Vec<(u32, String)> {
        if let Some(Ok(Some(service))) = self.services.get(host) {
            return service.ports.clone();
        }
        self.defining_service_entry(namespace, host)
            .map(|se| {
                se.spec
                    .ports
                    .iter()
                    .map(|p| (p.number, p.protocol.to_ascii_uppercase()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The sidecar's listener on `port` in `namespace`, from the protocols of every Service port
    /// `port` a proxy there knows: whether there is one, and whether it is an HTTP listener.
    pub(super) fn listener(&self, namespace: &str, port: u32) -> Listener {
        let visible = self.visible(namespace);
        if let Some(listener) = visible.listeners.borrow().get(&port) {
            return *listener;
        }
        let protocols = self.port_protocols(namespace, port);
        // No protocol: Istio sniffs the port (protocol "auto"), with both kinds of chain.
        let listener = Listener {
            exists: !protocols.is_empty(),
            http: protocols
                .iter()
                .any(|p| p.is_empty() || is_http_protocol(p)),
            tcp: !self.tcp_chains(namespace, port).is_empty(),
        };
        visible.listeners.borrow_mut().insert(port, listener);
        listener
    }

    /// The protocol each service a proxy in `namespace` sees declares on `port` (uppercase;
    /// empty: none, sniffed): its ServiceEntries', then the Kubernetes Services it imports.
    pub(super) fn port_protocols(&self, namespace: &str, port: u32) -> Vec<String> {
        let mut protocols: Vec<String> = self
            .visible(namespace)
            .all
            .iter()
            .flat_map(|se| se.spec.ports.iter())
            .filter(|p| p.number == port)
            .map(|p| p.protocol.to_ascii_uppercase())
            .collect();
        for (fqdn, service) in self.services.iter() {
            let Ok(Some(service)) = service else { continue };
            if !self.imports_service(namespace, fqdn, service) {
                continue;
            }
            protocols.extend(
                service
                    .ports
                    .iter()
                    .filter(|(n, _)| *n == port)
                    .map(|(_, p)| p.clone()),
            );
        }
        protocols
    }

    /// The ServiceEntries (with no addresses) whose opaque-TCP filter chain is on the wildcard
    /// listener for `port`, in Istio's order: it builds the listener service by service
    /// (buildSidecarOutboundListener). A TCP port always adds its chain; a port with no
    /// protocol (sniffed) adds its chains only while no HTTP or sniffed port came before it,
    /// since an HTTP port's listener is already a sniffing one (with a fall-through chain).
    pub(super) fn tcp_chains(&self, namespace: &str, port: u32) -> Vec<&'a ServiceEntry> {
        let visible = self.visible(namespace);
        let mut in_order: Vec<&ServiceEntry> = visible
            .all
            .iter()
            .copied()
            .filter(|se| se.spec.addresses.is_empty())
            .collect();
        in_order.sort_by_key(|se| service_precedence(se, namespace));
        let mut sniffing = false;
        let mut chains = vec![];
        for se in in_order {
            for p in se.spec.ports.iter().filter(|p| p.number == port) {
                let protocol = p.protocol.to_ascii_uppercase();
                if protocol.is_empty() {
                    if !sniffing {
                        chains.push(se);
                    }
                    sniffing = true;
                } else if is_http_protocol(&protocol) {
                    sniffing = true;
                } else if Wire::of(&protocol) == Wire::Tcp {
                    chains.push(se);
                }
            }
        }
        chains
    }

    /// The VirtualService a sidecar in `namespace` applies to `host` on `port`: the first, in
    /// Istio's order, that has a route for the port (Istio never merges them; one with no route
    /// for the port makes no virtual host there).
    pub fn winning_virtual_service(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
        service_has_port: bool,
    ) -> Option<&'a VirtualService> {
        let mut candidates: Vec<&VirtualService> = self
            .virtual_services
            .iter()
            .copied()
            .filter(|vs| binds_to_mesh(&vs.spec))
            .filter(|vs| self.sees_virtual_service(namespace, vs))
            .filter(|vs| vs.spec.hosts.iter().any(|h| h == host))
            // A wildcard host whose Service has this HTTP port is indexed to one VirtualService
            // whatever its routes (mostSpecificWildcardVsIndex); otherwise the virtual host comes
            // from the first with a route for the port.
            .filter(|vs| {
                (host.contains('*') && service_has_port)
                    || vs
                        .spec
                        .http
                        .iter()
                        .any(|r| route_takes(r, MESH_GATEWAY, port, &vs.spec.gateways))
            })
            .collect();
        candidates.sort_by_key(|vs| precedence(vs, namespace));
        candidates.first().copied()
    }

    /// The ServiceEntry whose ports make `host`'s clusters: when several name the host, the
    /// first in Istio's order (as for VirtualServices).
    pub(super) fn defining_service_entry(
        &self,
        namespace: &str,
        host: &str,
    ) -> Option<&'a ServiceEntry> {
        self.service_entries_in_order(namespace, host)
            .first()
            .copied()
    }

    pub(super) fn service_entries_in_order(
        &self,
        namespace: &str,
        host: &str,
    ) -> Vec<&'a ServiceEntry> {
        let mut candidates: Vec<&ServiceEntry> = self.visible(namespace).naming(host).collect();
        candidates.sort_by_key(|se| service_precedence(se, namespace));
        candidates
    }

    /// The port numbers of the Service a proxy in `namespace` builds `host`'s clusters from:
    /// the defining ServiceEntry's, and those of each later one Istio merges into it, numbers
    /// it lacks added (SidecarScope.appendSidecarServices); one it cannot merge is ignored.
    pub(super) fn cluster_ports(&self, namespace: &str, host: &str) -> Vec<u32> {
        self.cluster_port_definitions(namespace, host)
            .iter()
            .map(|(_, p)| p.number)
            .collect()
    }

    /// [`Mesh::cluster_ports`] with the entry and port definition each number comes from.
    pub(super) fn cluster_port_definitions(
        &self,
        namespace: &str,
        host: &str,
    ) -> Vec<(&'a ServiceEntry, &'a ServicePort)> {
        let in_order = self.service_entries_in_order(namespace, host);
        let Some(first) = in_order
            .first()
            .copied()
            .or_else(|| self.pulled_in_entry(namespace, host))
        else {
            return vec![];
        };
        let mut ports: Vec<(&ServiceEntry, &ServicePort)> =
            first.spec.ports.iter().map(|p| (first, p)).collect();
        // A Sidecar's other egress listeners add the ports they import of the same service
        // (appendSidecarServices); they come in as pulled-in entries.
        let other_listeners = self
            .pulled_in
            .get(namespace)
            .into_iter()
            .flatten()
            .copied()
            .filter(|se| !std::ptr::eq(*se, first) && se.spec.hosts.iter().any(|h| h == host));
        for other in in_order.iter().skip(1).copied().chain(other_listeners) {
            if can_merge(first, other) {
                for p in &other.spec.ports {
                    if !ports.iter().any(|(_, q)| q.number == p.number) {
                        ports.push((other, p));
                    }
                }
            }
        }
        ports
    }

    /// The ServiceEntry whose ports make the clusters a proxy in `namespace` has for `host`:
    /// the defining one it sees, else one a route pulled in ([`pulled_in_by_routes`]), which
    /// adds clusters but no listener.
    pub(super) fn cluster_service_entry(
        &self,
        namespace: &str,
        host: &str,
    ) -> Option<&'a ServiceEntry> {
        self.defining_service_entry(namespace, host)
            .or_else(|| self.pulled_in_entry(namespace, host))
    }

    /// The entry for `host` a route of `namespace` pulled in ([`pulled_in_by_routes`]).
    pub(super) fn pulled_in_entry(&self, namespace: &str, host: &str) -> Option<&'a ServiceEntry> {
        self.pulled_in
            .get(namespace)?
            .iter()
            .copied()
            .find(|se| se.spec.hosts.iter().any(|h| h == host))
    }

    pub(super) fn cluster_pushed(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
        subset: Option<&str>,
    ) -> Result<bool, String> {
        let port_known = match self.services.get(host) {
            Some(Err(why)) => return Err(why.clone()),
            Some(Ok(Some(service))) => self.kube_cluster(namespace, host, service, port),
            Some(Ok(None)) => false,
            None => self.cluster_ports(namespace, host).contains(&port),
        };
        if !port_known {
            return Ok(false);
        }
        let Some(subset) = subset else {
            return Ok(true);
        };
        let rules = self.destination_rules.as_ref().map_err(Clone::clone)?;
        Ok(rules.iter().any(|dr| {
            dr.spec.host == host
                && exported_to(dr, namespace)
                && dr.spec.subsets.iter().any(|s| s.name == subset)
        }))
    }
}
