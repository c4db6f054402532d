//! `Mesh` for TLS and opaque TCP: the `tls` route a sidecar applies, where it sends the
//! connection, and what the egress gateway does with it; and the gateway's servers and the
//! routes bound to them, which HTTP at the gateway reads too.

use super::*;

impl<'a> Mesh<'a> {
    /// The `tls` route a sidecar in `namespace` applies to TLS for `host` (SNI) on `port`: the
    /// first VirtualService, in Istio's order, with a route matching the port and the SNI.
    pub(super) fn tls_route(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
    ) -> Option<(&'a VirtualService, &'a Destination)> {
        let mut candidates: Vec<&VirtualService> = self
            .virtual_services
            .iter()
            .copied()
            .filter(|vs| binds_to_mesh(&vs.spec))
            .filter(|vs| self.sees_virtual_service(namespace, vs))
            .filter(|vs| vs.spec.hosts.iter().any(|h| covers(h, host)))
            .collect();
        candidates.sort_by_key(|vs| precedence(vs, namespace));
        candidates.into_iter().find_map(|vs| {
            let route = vs
                .spec
                .tls
                .iter()
                .find(|r| tls_route_takes(r, MESH_GATEWAY, port, host, &vs.spec.gateways))?;
            Some((vs, &route.route.first()?.destination))
        })
    }

    /// TLS sent by a `tls` route: to the egress gateway (then its SNI routes), or to a host.
    pub(super) fn tls_to(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
        destination: &Destination,
        t: &mut Traffic,
    ) {
        let target = destination.host.as_str();
        let target_port = destination.port.as_ref().map(|p| p.number).unwrap_or(port);
        let is_gateway = self.sends_to_gateway(host, target, t);
        match self.cluster_pushed(
            namespace,
            target,
            target_port,
            destination.subset.as_deref(),
        ) {
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(why);
            }
            Ok(false) => {
                t.outcome = Outcome::NoCluster;
                t.response = Some(Response::Reset);
                t.hops
                    .push(format!("{}:{target_port}", short_service(target)));
                t.reason = Some(match &destination.subset {
                    Some(subset) => {
                        format!("no DestinationRule defines subset {subset} of {target}")
                    }
                    None => format!("no Service or ServiceEntry gives {target} port {target_port}"),
                });
            }
            Ok(true) if is_gateway => {
                t.hops
                    .push(format!("{}:{target_port}", short_service(target)));
                self.tls_at_gateway(host, target, target_port, t);
            }
            Ok(true) => self.egress_at(namespace, target, target_port, t),
        }
    }

    /// The gateway's side of TLS passthrough: a TLS server on the port for the host, and a
    /// VirtualService's `tls` route bound to it by SNI.
    pub(super) fn tls_at_gateway(
        &self,
        host: &str,
        gateway_host: &str,
        port: u32,
        t: &mut Traffic,
    ) {
        let Some((gateway_ns, servers)) =
            self.gateway_listening(gateway_host, port, Response::Reset, t)
        else {
            return;
        };
        let mut bound: Vec<(&VirtualService, String)> = vec![];
        for (gateway, server) in &servers {
            if !is_passthrough(server) || !server_covers(server, host) {
                continue;
            }
            bound.extend(self.bound_to(gateway, gateway_ns, host));
        }
        bound.sort_by(|a, b| creation_order(&a.0, &b.0));
        let route = bound.iter().find_map(|(vs, reference)| {
            vs.spec
                .tls
                .iter()
                .find(|r| tls_route_takes(r, reference, port, host, &vs.spec.gateways))
        });
        // A passthrough server gets filter chains only from the tls routes bound to it: with
        // none for any host, the gateway opens no listener on the port at all.
        if route.is_none() && !self.any_tls_route_on(&servers, gateway_ns, port) {
            t.outcome = Outcome::NoListener;
            t.response = Some(Response::Reset);
            t.reason = Some(format!(
                "the egress gateway has no TLS passthrough route on port {port} for any host, so it does not listen there: the admins' VirtualService tls route for {host} is missing"
            ));
            return;
        }
        let Some(destination) = route.and_then(|r| r.route.first()).map(|r| &r.destination) else {
            t.outcome = Outcome::NoRoute;
            t.response = Some(Response::Reset);
            t.reason = Some(format!(
                "the egress gateway has no TLS passthrough route for {host} on port {port}: the admins' Gateway server (tls.mode PASSTHROUGH) or VirtualService tls route for it is missing"
            ));
            return;
        };
        let target_port = destination.port.as_ref().map(|p| p.number).unwrap_or(port);
        self.send_from_gateway(gateway_ns, destination, target_port, Response::Reset, t);
    }

    /// What the gateway Service on `gateway_host` listens with on `port`: its namespace and
    /// the servers of its Gateways there. None when it cannot be known or there is no server,
    /// with `t` saying so (`no_listener`: what a client then sees).
    pub(super) fn gateway_listening(
        &self,
        gateway_host: &str,
        port: u32,
        no_listener: Response,
        t: &mut Traffic,
    ) -> Option<(&'a str, Vec<(&'a Gateway, &'a GatewayServer)>)> {
        let Some(Ok(Some(service))) = self.services.get(gateway_host) else {
            t.outcome = Outcome::Unknown;
            return None;
        };
        let gateways = match &self.gateways {
            Ok(g) => g,
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(format!("the egress gateway's Gateways: {why}"));
                return None;
            }
        };
        if let Err(why) = &self.gateway_routes_known {
            t.outcome = Outcome::Unknown;
            t.reason = Some(format!("the egress gateway's VirtualServices: {why}"));
            return None;
        }
        let gateway_ns = service.namespace.as_str();
        let servers = self.gateway_servers(gateways, service, port);
        if servers.is_empty() {
            t.outcome = Outcome::NoListener;
            t.response = Some(no_listener);
            t.reason = Some(format!(
                "no Gateway in {gateway_ns} opens port {port} on {}",
                short_service(gateway_host)
            ));
            return None;
        }
        Some((gateway_ns, servers))
    }

    /// The gateway's route sends to `destination` on `target_port`: out, if the gateway has
    /// the cluster (`no_cluster`: what a client sees when it has not).
    pub(super) fn send_from_gateway(
        &self,
        gateway_ns: &str,
        destination: &Destination,
        target_port: u32,
        no_cluster: Response,
        t: &mut Traffic,
    ) {
        let target = destination.host.as_str();
        match self.cluster_pushed(
            gateway_ns,
            target,
            target_port,
            destination.subset.as_deref(),
        ) {
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(why);
            }
            Ok(false) => {
                t.outcome = Outcome::NoCluster;
                t.response = Some(no_cluster);
                t.hops.push(format!("{target}:{target_port}"));
                t.reason = Some(format!(
                    "the egress gateway cannot see {target}:{target_port}: no ServiceEntry for it is visible in {gateway_ns}"
                ));
            }
            Ok(true) => self.egress_at(gateway_ns, target, target_port, t),
        }
    }

    /// Whether any tls route is bound to a passthrough server among `servers` on `port`.
    pub(super) fn any_tls_route_on(
        &self,
        servers: &[(&'a Gateway, &'a GatewayServer)],
        gateway_ns: &str,
        port: u32,
    ) -> bool {
        servers.iter().any(|(gateway, server)| {
            is_passthrough(server)
                && server.hosts.iter().any(|h| {
                    let pattern = h.split_once('/').map_or(h.as_str(), |(_, p)| p);
                    self.virtual_services.iter().any(|vs| {
                        let names_gateway = vs.spec.gateways.iter().any(|g| {
                            *g == format!("{}/{}", namespace_of(*gateway), gateway.metadata.name)
                                || (g == &gateway.metadata.name
                                    && namespace_of(vs) == namespace_of(*gateway))
                        });
                        names_gateway
                            && exported_to(vs, gateway_ns)
                            && vs.spec.tls.iter().any(|r| {
                                r.matches.iter().any(|m| {
                                    m.port.is_none_or(|p| p == port)
                                        && m.sni_hosts
                                            .iter()
                                            .any(|sni| covers(pattern, sni) || covers(sni, pattern))
                                })
                            })
                    })
                })
        })
    }

    /// The Gateways the gateway Service's pods run, and their servers on `port`.
    pub(super) fn gateway_servers(
        &self,
        gateways: &[&'a Gateway],
        service: &KubeService,
        port: u32,
    ) -> Vec<(&'a Gateway, &'a GatewayServer)> {
        gateways
            .iter()
            .copied()
            .filter(|g| {
                namespace_of(g) == service.namespace
                    && !g.spec.selector.is_empty()
                    && g.spec
                        .selector
                        .iter()
                        .all(|(k, v)| service.selector.get(k) == Some(v))
            })
            .flat_map(|g| g.spec.servers.iter().map(move |s| (g, s)))
            .filter(|(_, s)| s.port.as_ref().is_some_and(|p| p.number == port))
            .collect()
    }

    /// The VirtualServices bound to `gateway` for `host`, with how they name the gateway.
    pub(super) fn bound_to(
        &self,
        gateway: &Gateway,
        gateway_ns: &str,
        host: &str,
    ) -> Vec<(&'a VirtualService, String)> {
        let full = format!("{}/{}", namespace_of(gateway), gateway.metadata.name);
        self.virtual_services
            .iter()
            .copied()
            .filter(|vs| {
                vs.spec.gateways.iter().any(|g| {
                    *g == full
                        || (g == &gateway.metadata.name
                            && namespace_of(vs) == namespace_of(gateway))
                })
            })
            .filter(|vs| exported_to(vs, gateway_ns))
            .filter(|vs| vs.spec.hosts.iter().any(|h| covers(h, host)))
            .map(|vs| {
                let reference = if namespace_of(vs) == namespace_of(gateway) {
                    gateway.metadata.name.clone()
                } else {
                    full.clone()
                };
                (vs, reference)
            })
            .collect()
    }

    /// The host whose ServiceEntry owns an opaque TCP port with no addresses: Istio builds one
    /// listener for the port, and the first TCP chain on it ([`Mesh::tcp_chains`]) takes it.
    pub(super) fn tcp_port_owner(&self, namespace: &str, port: u32) -> Option<String> {
        let visible = self.visible(namespace);
        if let Some(owner) = visible.tcp_owners.borrow().get(&port) {
            return owner.clone();
        }
        let owner = self
            .tcp_chains(namespace, port)
            .first()
            .and_then(|se| se.spec.hosts.first().cloned());
        visible.tcp_owners.borrow_mut().insert(port, owner.clone());
        owner
    }
}
