//! `Mesh` for HTTP, and for what no route decides: no match (the mesh policy), leaving
//! directly (egress, client TLS), the sidecar's HTTP route, the hop to the egress gateway and
//! the gateway's own HTTP route.

use super::*;

impl<'a> Mesh<'a> {
    /// Nothing in the sidecar's config names the host on this port: the mesh policy decides.
    /// On an HTTP listener REGISTRY_ONLY answers 502 (block_all); elsewhere the connection goes
    /// to the BlackHoleCluster and is closed.
    pub(super) fn no_match(&self, namespace: &str, on_http_listener: bool, t: &mut Traffic) {
        let registry_only = match self
            .sidecar_scopes
            .get(namespace)
            .and_then(|s| s.registry_only)
        {
            Some(own) => Ok(own),
            None => self.registry_only.clone(),
        };
        match &registry_only {
            Ok(true) => {
                t.via = Via::Blocked;
                t.outcome = Outcome::Blackhole;
                t.response = Some(if on_http_listener {
                    Response::BadGateway
                } else {
                    Response::Reset
                });
            }
            Ok(false) => {
                t.via = Via::Passthrough;
                t.outcome = Outcome::Egress;
            }
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(format!("the mesh's outboundTrafficPolicy: {why}"));
            }
        }
    }

    /// The request leaves the mesh from a proxy in `proxy_ns` to `host:port`: with the TLS a
    /// DestinationRule there originates, on the ServiceEntry's targetPort.
    pub(super) fn egress_at(&self, proxy_ns: &str, host: &str, port: u32, t: &mut Traffic) {
        t.outcome = Outcome::Egress;
        // The port as the Service Istio builds the cluster from has it (merged entries too).
        let target_port = self
            .cluster_port_definitions(proxy_ns, host)
            .into_iter()
            .find(|(_, p)| p.number == port)
            .filter(|(se, _)| {
                // STATIC too: its endpoints take the port's targetPort when they name none.
                matches!(
                    se.spec.resolution.as_deref(),
                    Some("DNS") | Some("DNS_ROUND_ROBIN") | Some("STATIC") | None
                )
            })
            .and_then(|(_, p)| p.target_port)
            .filter(|tp| *tp != port);
        let leaves_on = target_port.unwrap_or(port);
        // resolution NONE: an original-destination cluster, the connection keeps the address
        // and port it was made to; no other port can be named.
        let original_destination = self
            .cluster_service_entry(proxy_ns, host)
            .is_some_and(|se| se.spec.resolution.as_deref() == Some("NONE"));
        t.upstream_port = (leaves_on != t.port && !original_destination).then_some(leaves_on);
        t.cluster_port = Some(port);
        t.hops.push(format!("{host}:{leaves_on}"));
        if let Some(tls) = self.client_tls(proxy_ns, host, port) {
            t.upstream_tls = Some(tls.mode.clone());
            t.upstream_sni = tls.sni.clone();
        }
    }

    /// The TLS a proxy in `proxy_ns` originates to `host:port`: the first DestinationRule for the
    /// host it sees (its own namespace's, then istio-system's, the root namespace), its port's
    /// setting before the rule's default.
    pub(super) fn client_tls(
        &self,
        proxy_ns: &str,
        host: &str,
        port: u32,
    ) -> Option<&'a ClientTls> {
        let root: Vec<&DestinationRule> = self.destination_rules.clone().unwrap_or_default();
        let all: Vec<&DestinationRule> = self
            .namespace_destination_rules
            .iter()
            .copied()
            .chain(root.iter().copied())
            .collect();
        // The proxy's own namespace first, then the namespace of the ServiceEntry that defines
        // the host, then the root namespace (istio-system); a rule elsewhere never applies.
        let service_ns = self
            .cluster_service_entry(proxy_ns, host)
            .map(|se| namespace_of(se).to_string())
            .unwrap_or_default();
        let rule = all
            .iter()
            .copied()
            .filter(|dr| namespace_of(dr) == proxy_ns)
            .chain(
                all.iter()
                    .copied()
                    .filter(|dr| namespace_of(dr) == service_ns && service_ns != proxy_ns),
            )
            .chain(
                root.iter()
                    .copied()
                    .filter(|dr| namespace_of(dr) != proxy_ns && namespace_of(dr) != service_ns),
            )
            .find(|dr| dr.spec.host == host && exported_to(dr, proxy_ns))?;
        let policy = rule.spec.traffic_policy.as_ref()?;
        let tls = policy
            .port_level_settings
            .iter()
            .find(|p| p.port.as_ref().is_some_and(|p| p.number == port))
            .and_then(|p| p.tls.as_ref())
            .or(policy.tls.as_ref())?;
        matches!(tls.mode.as_str(), "SIMPLE" | "MUTUAL").then_some(tls)
    }

    /// Straight from the sidecar to the host, if Istio pushed the host's cluster for the port.
    pub(super) fn leave_direct(&self, namespace: &str, host: &str, port: u32, t: &mut Traffic) {
        t.via = Via::Direct;
        match self.cluster_pushed(namespace, host, port, None) {
            Ok(true) => self.egress_at(namespace, host, port, t),
            Ok(false) => {
                t.hops.push(format!("{host}:{port}"));
                t.outcome = Outcome::NoCluster;
                t.response = Some(if t.wire == Some(Wire::Http) {
                    Response::NoCluster
                } else {
                    Response::Reset
                });
                t.reason = Some(format!(
                    "several ServiceEntries name {host}: Istio takes its ports from one, {}, which has no port {port}",
                    self.defining_service_entry(namespace, host)
                        .map(|se| se.metadata.name.as_str())
                        .unwrap_or("?")
                ));
            }
            Err(why) => {
                t.outcome = Outcome::Unknown;
                t.reason = Some(why);
            }
        }
    }

    /// HTTP at the sidecar: the virtual host and route for the host on the port, then where
    /// the route sends it (out, or on to the egress gateway).
    pub(super) fn http_at_sidecar(&self, namespace: &str, host: &str, port: u32, t: &mut Traffic) {
        let (service_here, routed) = self.sidecar_http_route(namespace, host, port);
        let Some((vs, route)) = routed else {
            // block_all (REGISTRY_ONLY: 502) or allow_any (PassthroughCluster), unless the
            // host's own port makes a cluster to go to.
            return if service_here {
                self.leave_direct(namespace, host, port, t)
            } else {
                self.no_match(namespace, true, t)
            };
        };
        t.virtual_service = Some(name_from(vs, namespace));
        t.timeout = route
            .timeout
            .clone()
            .filter(|d| go_duration_nanos(d).is_some_and(|n| n > 0));
        let Some(destination) = route.route.first().map(|r| &r.destination) else {
            t.outcome = Outcome::Unknown;
            t.reason = Some("the route has no destination".into());
            return;
        };
        let target = destination.host.as_str();
        let target_port = self.sidecar_destination_port(namespace, destination, port);
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
                return;
            }
            Ok(false) => {
                t.outcome = Outcome::NoCluster;
                t.response = Some(Response::NoCluster);
                t.hops
                    .push(format!("{}:{target_port}", short_service(target)));
                t.reason =
                    Some(self.why_no_cluster(namespace, destination, target_port, is_gateway));
                return;
            }
            Ok(true) => {}
        }
        if !is_gateway {
            return self.egress_at(namespace, target, target_port, t);
        }
        t.hops
            .push(format!("{}:{target_port}", short_service(target)));
        self.http_at_gateway(host, target, target_port, t);
    }

    /// The sidecar's virtual host for `host` on `port`: whether the host's own ServiceEntry
    /// has an HTTP port there, and the applied VirtualService with its route for the port, if
    /// any. A VirtualService makes a virtual host on the host's HTTP ports, and on port 80
    /// whatever the host's ports (route.go's "gross hack" for hosts outside the registry).
    pub(super) fn sidecar_http_route(
        &self,
        namespace: &str,
        host: &str,
        port: u32,
    ) -> (bool, Option<(&'a VirtualService, &'a HttpRoute)>) {
        let http_ports: Vec<u32> = self
            .visible(namespace)
            .naming(host)
            .flat_map(|se| se.spec.ports.iter())
            // A port with no protocol is sniffed: its HTTP chain has the host's virtual host.
            .filter(|p| p.protocol.is_empty() || is_http_protocol(&p.protocol))
            .map(|p| p.number)
            .collect();
        let service_here = http_ports.contains(&port);
        if !service_here && port != 80 {
            return (false, None);
        }
        let routed = self
            .winning_virtual_service(namespace, host, port, service_here)
            .and_then(|vs| {
                let route = vs
                    .spec
                    .http
                    .iter()
                    .find(|r| route_takes(r, MESH_GATEWAY, port, &vs.spec.gateways))?;
                Some((vs, route))
            });
        (service_here, routed)
    }

    /// The port a sidecar's HTTP route sends to. No port given: a one-port Service's port,
    /// when the route was built for that Service; else the listener's port
    /// (GetDestinationCluster).
    pub(super) fn sidecar_destination_port(
        &self,
        namespace: &str,
        destination: &Destination,
        port: u32,
    ) -> u32 {
        let target_ports = self.host_ports(namespace, &destination.host);
        let built_for_service = target_ports
            .iter()
            .any(|(n, p)| *n == port && (is_http_protocol(p) || p == "AUTO"));
        destination
            .port
            .as_ref()
            .map(|p| p.number)
            .or_else(|| (built_for_service && target_ports.len() == 1).then(|| target_ports[0].0))
            .unwrap_or(port)
    }

    /// Whether a sidecar's route to `target` goes through a gateway (a Service the model knows,
    /// other than the host itself) or leaves directly; `t` says which.
    pub(super) fn sends_to_gateway(&self, host: &str, target: &str, t: &mut Traffic) -> bool {
        let is_gateway = target != host && self.services.contains_key(target);
        t.via = if is_gateway {
            Via::Gateway
        } else {
            Via::Direct
        };
        if is_gateway {
            t.gateway_host = Some(target.to_string());
        }
        is_gateway
    }

    /// Why a sidecar's HTTP route to `destination` gets 503 NC: the subset, the gateway's
    /// port, or the host's port that no ServiceEntry gives.
    pub(super) fn why_no_cluster(
        &self,
        namespace: &str,
        destination: &Destination,
        target_port: u32,
        is_gateway: bool,
    ) -> String {
        let target = destination.host.as_str();
        match &destination.subset {
            Some(subset)
                if self
                    .host_ports(namespace, target)
                    .iter()
                    .any(|(n, _)| *n == target_port) =>
            {
                format!("no DestinationRule defines subset {subset} of {target}")
            }
            _ if is_gateway => format!("{target} has no port {target_port}"),
            _ => format!("no ServiceEntry visible here gives {target} port {target_port}"),
        }
    }

    /// The second hop: the egress gateway's listener, virtual host and route for the host.
    pub(super) fn http_at_gateway(
        &self,
        host: &str,
        gateway_host: &str,
        port: u32,
        t: &mut Traffic,
    ) {
        let Some((gateway_ns, servers)) =
            self.gateway_listening(gateway_host, port, Response::UpstreamFailure, t)
        else {
            return;
        };
        // VirtualServices bound to one of those Gateways for the host (the oldest wins).
        let mut bound: Vec<(&VirtualService, String)> = vec![];
        for (gateway, server) in &servers {
            if server_covers(server, host) {
                bound.extend(self.bound_to(gateway, gateway_ns, host));
            }
        }
        bound.sort_by(|a, b| creation_order(&a.0, &b.0));
        let route = bound.iter().find_map(|(vs, reference)| {
            vs.spec
                .http
                .iter()
                .find(|r| route_takes(r, reference, port, &vs.spec.gateways))
        });
        let Some(route) = route else {
            t.outcome = Outcome::NoRoute;
            t.response = Some(Response::NoRoute);
            t.reason = Some(format!(
                "the egress gateway has no route for {host} on port {port}: the admins' VirtualService for it is missing"
            ));
            return;
        };
        let Some(destination) = route.route.first().map(|r| &r.destination) else {
            t.outcome = Outcome::Unknown;
            return;
        };
        let target_ports = self.host_ports(gateway_ns, &destination.host);
        let target_port = destination
            .port
            .as_ref()
            .map(|p| p.number)
            .or_else(|| (target_ports.len() == 1).then(|| target_ports[0].0))
            .unwrap_or(port);
        self.send_from_gateway(gateway_ns, destination, target_port, Response::NoCluster, t);
    }
}
