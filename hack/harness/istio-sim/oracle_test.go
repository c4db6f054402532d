// The Istio oracle: istiod's own config generation (pilot/test/xds) and Istio's own Envoy
// matching emulator (pilot/pkg/simulation), run on the objects of a namespace, so that the
// plugin's `status` can be checked against what Istio would really do with them.
//
// It is a test binary because simulation.NewSimulation takes a *testing.T; `go test -c` builds
// it and scripts/oracle runs it:
//
//	ORACLE_INPUT=in.json ORACLE_OUTPUT=out.json istio-sim.test -test.run '^TestOracle$'
//
// Input: {"cases": [{"name", "config" (Istio YAML), "kube" (Services, Pods, Namespaces YAML),
// "mesh" (mesh config YAML), "requests": [{"namespace", "host", "port", "protocol"}]}]}.
// Output: one result per request, in order: what the sidecar in that namespace matched
// (listener, virtual host, route, cluster, route timeout, the VirtualService that made the route)
// and, when the sidecar sends the request to an egress gateway Service, what that gateway matched;
// then the outcome in the words of `status` (via, outcome, response).
package oracle

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/pkg/simulation"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pilot/test/xdstest"
	"istio.io/istio/pkg/config/mesh"
)

type input struct {
	Cases []testCase `json:"cases"`
}

type testCase struct {
	Name     string    `json:"name"`
	Config   string    `json:"config"`
	Kube     string    `json:"kube"`
	Mesh     string    `json:"mesh"`
	Requests []request `json:"requests"`
}

type request struct {
	Namespace string `json:"namespace"`
	Host      string `json:"host"`
	Port      int    `json:"port"`
	// HTTP (plain HTTP, Host header), TLS (SNI) or TCP (neither).
	Protocol string `json:"protocol"`
	// Set: the request starts at this egress gateway Service (its FQDN) on Port, as a
	// sidecar's would arrive there, instead of at a sidecar in Namespace.
	Gateway string `json:"gateway,omitempty"`
	// The client workload's labels (a Sidecar's workloadSelector picks by them); none: the
	// namespace's plain client, app=oracle-client.
	Labels map[string]string `json:"labels,omitempty"`
}

// What one proxy did with the request.
type hop struct {
	Proxy          string `json:"proxy"`
	Listener       string `json:"listener,omitempty"`
	FilterChain    string `json:"filterChain,omitempty"`
	RouteConfig    string `json:"routeConfig,omitempty"`
	VirtualHost    string `json:"virtualHost,omitempty"`
	Route          string `json:"route,omitempty"`
	Cluster        string `json:"cluster,omitempty"`
	ClusterPushed  bool   `json:"clusterPushed"`
	DirectResponse uint32 `json:"directResponse,omitempty"`
	TimeoutMs      *int64 `json:"timeoutMs"`
	// namespace/name of the VirtualService that generated the matched route, if any.
	VirtualService string `json:"virtualService,omitempty"`
	// TLS the cluster originates: mode SIMPLE/MUTUAL with its SNI.
	UpstreamTLS string `json:"upstreamTls,omitempty"`
	UpstreamSNI string `json:"upstreamSni,omitempty"`
	// The port of the cluster's endpoint (a DNS cluster's host:port; a targetPort shows here).
	EndpointPort uint32 `json:"endpointPort,omitempty"`
	Error        string `json:"error,omitempty"`
}

type result struct {
	Case    string  `json:"case"`
	Request request `json:"request"`
	Hops    []hop   `json:"hops"`
	// direct, gateway, passthrough, blocked
	Via string `json:"via"`
	// The gateway Service the sidecar sends to, when via is gateway.
	GatewayHost string `json:"gatewayHost,omitempty"`
	// egress, blackhole, no-route, no-cluster, no-listener, unknown
	Outcome  string `json:"outcome"`
	Response string `json:"response,omitempty"`
	// The sidecar route's timeout (null: none applies).
	TimeoutMs      *int64 `json:"timeoutMs"`
	VirtualService string `json:"virtualService,omitempty"`
	// Where the request leaves the mesh, when it does through a cluster of a host.
	Destination string `json:"destination,omitempty"`
	// On the way out: the TLS the last proxy originates, its SNI, and the host's port when it
	// is not the port the client used.
	UpstreamTLS  string `json:"upstreamTls,omitempty"`
	UpstreamSNI  string `json:"upstreamSni,omitempty"`
	UpstreamPort uint32 `json:"upstreamPort,omitempty"`
	Error        string `json:"error,omitempty"`
}

func TestOracle(t *testing.T) {
	in := os.Getenv("ORACLE_INPUT")
	out := os.Getenv("ORACLE_OUTPUT")
	if in == "" || out == "" {
		t.Skip("ORACLE_INPUT and ORACLE_OUTPUT are not set: run through scripts/oracle")
	}
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	var cases input
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("reading %s: %v", in, err)
	}
	results := []result{}
	for i, c := range cases.Cases {
		name := c.Name
		if name == "" {
			name = fmt.Sprintf("case-%d", i)
		}
		var got []result
		ok := t.Run(sanitize(name), func(t *testing.T) {
			got = runCase(t, name, c)
		})
		if !ok || len(got) != len(c.Requests) {
			// The config could not be loaded: every request of the case is unknown.
			got = got[:0]
			for _, r := range c.Requests {
				got = append(got, result{Case: name, Request: r, Outcome: "unknown", Error: "the oracle failed on this case; see its log"})
			}
		}
		results = append(results, got...)
	}
	encoded, err := json.MarshalIndent(results, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, encoded, 0o644); err != nil {
		t.Fatal(err)
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func sanitize(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// An egress (or any) gateway: a Service whose selector matches a Pod of the kube objects.
type gatewayService struct {
	host      string
	namespace string
	labels    map[string]string
	ip        string
	// Service port -> the port the gateway listens on (targetPort).
	targetPorts map[int]int
}

func runCase(t *testing.T, name string, c testCase) []result {
	meshCfg := mesh.DefaultMeshConfig()
	if strings.TrimSpace(c.Mesh) != "" {
		parsed, err := mesh.ApplyMeshConfigDefaults(c.Mesh)
		if err != nil {
			t.Fatalf("mesh config: %v", err)
		}
		meshCfg = parsed
	}
	gateways := findGateways(t, c.Kube)
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{
		ConfigString:           c.Config,
		KubernetesObjectString: c.Kube,
		MeshConfig:             meshCfg,
	})
	// The endpoints istiod sends each proxy by EDS: where an EDS cluster (a STATIC
	// ServiceEntry's) connects, which the clusters alone do not say.
	eds := map[*simulation.Simulation][]*endpoint.ClusterLoadAssignment{}
	sidecars := map[string]*simulation.Simulation{}
	sidecar := func(ns string, workload map[string]string) *simulation.Simulation {
		labels := map[string]string{"app": "oracle-client"}
		if len(workload) > 0 {
			labels = workload
		}
		keys := make([]string, 0, len(labels))
		for k, v := range labels {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		key := ns + "@" + strings.Join(keys, ",")
		if sim, ok := sidecars[key]; ok {
			return sim
		}
		proxy := s.SetupProxy(&model.Proxy{
			ConfigNamespace: ns,
			Labels:          labels,
			IPAddresses:     []string{fmt.Sprintf("10.244.9.%d", 9+len(sidecars))},
			Metadata:        &model.NodeMetadata{Namespace: ns, Labels: labels},
		})
		sim := simulation.NewSimulation(t, s, proxy)
		eds[sim] = s.Endpoints(proxy)
		sidecars[key] = sim
		return sim
	}
	gatewaySims := map[string]*simulation.Simulation{}
	gatewaySim := func(g gatewayService) *simulation.Simulation {
		if sim, ok := gatewaySims[g.host]; ok {
			return sim
		}
		proxy := s.SetupProxy(&model.Proxy{
			Type:            model.Router,
			ConfigNamespace: g.namespace,
			Labels:          g.labels,
			IPAddresses:     []string{g.ip},
			Metadata:        &model.NodeMetadata{Namespace: g.namespace, Labels: g.labels},
		})
		sim := simulation.NewSimulation(t, s, proxy)
		eds[sim] = s.Endpoints(proxy)
		gatewaySims[g.host] = sim
		return sim
	}

	var results []result
	for _, req := range c.Requests {
		res := result{Case: name, Request: req}
		if req.Gateway != "" {
			// The gateway's side alone: what it does with a request for the host on the port.
			res.Via, res.GatewayHost = "gateway", req.Gateway
			g, ok := gateways[req.Gateway]
			if !ok {
				res.Outcome, res.Error = "unknown", "no such gateway Service: "+req.Gateway
				results = append(results, res)
				continue
			}
			target, ok := g.targetPorts[req.Port]
			if !ok {
				res.Outcome, res.Error = "unknown", fmt.Sprintf("service %s has no port %d", req.Gateway, req.Port)
				results = append(results, res)
				continue
			}
			h := walk(t, "gateway", gatewaySim(g), eds, call(req, target, simulation.CallModeGateway))
			res.Hops = append(res.Hops, h)
			gatewayOutcome(&res, h, req)
			results = append(results, res)
			continue
		}
		first := walk(t, "sidecar", sidecar(req.Namespace, req.Labels), eds, call(req, req.Port, simulation.CallModeOutbound))
		res.Hops = append(res.Hops, first)
		res.TimeoutMs = first.TimeoutMs
		res.VirtualService = first.VirtualService
		decide(&res, first, req, func(gatewayHost string, port int) (hop, bool) {
			g, ok := gateways[gatewayHost]
			if !ok {
				return hop{}, false
			}
			target, ok := g.targetPorts[port]
			if !ok {
				return hop{Proxy: "gateway", Error: fmt.Sprintf("service %s has no port %d", gatewayHost, port)}, true
			}
			h := walk(t, "gateway", gatewaySim(g), eds, call(req, target, simulation.CallModeGateway))
			return h, true
		})
		results = append(results, res)
	}
	return results
}

func call(req request, port int, mode simulation.CallMode) simulation.Call {
	c := simulation.Call{
		// An address outside every Service: what DNS would give for an external host.
		Address:  "203.0.113.7",
		Port:     port,
		CallMode: mode,
	}
	switch strings.ToUpper(req.Protocol) {
	case "TLS":
		c.Protocol = simulation.TCP
		c.TLS = simulation.TLS
		c.Sni = req.Host
	case "TCP":
		c.Protocol = simulation.TCP
	default:
		c.Protocol = simulation.HTTP
		c.HostHeader = req.Host
	}
	if mode == simulation.CallModeGateway {
		c.Address = "0.0.0.0"
	}
	return c
}

// walk runs the request through one proxy's generated config and reads what it matched.
func walk(t *testing.T, proxy string, sim *simulation.Simulation,
	eds map[*simulation.Simulation][]*endpoint.ClusterLoadAssignment, c simulation.Call,
) hop {
	r := sim.Run(c)
	h := hop{
		Proxy:       proxy,
		Listener:    r.ListenerMatched,
		FilterChain: r.FilterChainMatched,
		RouteConfig: r.RouteConfigMatched,
		VirtualHost: r.VirtualHostMatched,
		Route:       r.RouteMatched,
		Cluster:     r.ClusterMatched,
	}
	if r.Error != nil {
		h.Error = r.Error.Error()
	}
	if h.Cluster != "" {
		if cl := xdstest.ExtractCluster(h.Cluster, sim.Clusters); cl != nil {
			h.ClusterPushed = true
			h.UpstreamTLS, h.UpstreamSNI = upstreamTLS(t, cl)
			assignments := []*endpoint.ClusterLoadAssignment{cl.GetLoadAssignment()}
			for _, cla := range eds[sim] {
				if cla.GetClusterName() == h.Cluster {
					assignments = append(assignments, cla)
				}
			}
			for _, cla := range assignments {
				for _, locality := range cla.GetEndpoints() {
					for _, e := range locality.GetLbEndpoints() {
						if p := e.GetEndpoint().GetAddress().GetSocketAddress().GetPortValue(); p != 0 && h.EndpointPort == 0 {
							h.EndpointPort = p
						}
					}
				}
			}
		}
	}
	if r.VirtualHostMatched != "" {
		if rt := matchedRoute(sim, r, c); rt != nil {
			if d := rt.GetDirectResponse(); d != nil {
				h.DirectResponse = d.GetStatus()
			}
			if a := rt.GetRoute(); a != nil && a.GetTimeout() != nil {
				ms := a.GetTimeout().AsDuration().Milliseconds()
				if ms > 0 {
					h.TimeoutMs = &ms
				}
			}
			if md := rt.GetMetadata().GetFilterMetadata()["istio"]; md != nil {
				cfg := md.GetFields()["config"].GetStringValue()
				// /apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME
				parts := strings.Split(cfg, "/")
				if len(parts) >= 8 && parts[6] == "virtual-service" {
					h.VirtualService = parts[5] + "/" + parts[7]
				}
			}
		}
	}
	return h
}

// matchedRoute finds the route the simulation matched: the first of the virtual host's routes
// whose path match takes the request's path, as simulation.matchRoute does.
func matchedRoute(sim *simulation.Simulation, r simulation.Result, c simulation.Call) *route.Route {
	var rc *route.RouteConfiguration
	if r.RouteConfigMatched != "" {
		rc = xdstest.ExtractRouteConfigurations(sim.Routes)[r.RouteConfigMatched]
	} else {
		for _, l := range sim.Listeners {
			if l.Name != r.ListenerMatched {
				continue
			}
			for _, fc := range l.FilterChains {
				if fc.Name == r.FilterChainMatched {
					rc = xdstest.ExtractHTTPConnectionManager(nil, fc).GetRouteConfig()
				}
			}
		}
	}
	for _, vh := range rc.GetVirtualHosts() {
		if vh.Name != r.VirtualHostMatched {
			continue
		}
		path := c.Path
		if path == "" {
			path = "/"
		}
		for _, rt := range vh.Routes {
			switch p := rt.GetMatch().GetPathSpecifier().(type) {
			case *route.RouteMatch_Prefix:
				if strings.HasPrefix(path, p.Prefix) {
					return rt
				}
			case *route.RouteMatch_PathSeparatedPrefix:
				if strings.HasPrefix(path, p.PathSeparatedPrefix) {
					return rt
				}
			case *route.RouteMatch_Path:
				if path == p.Path {
					return rt
				}
			case *route.RouteMatch_SafeRegex:
				if re, err := regexp.Compile(p.SafeRegex.GetRegex()); err == nil && re.MatchString(path) {
					return rt
				}
			}
		}
	}
	return nil
}

func upstreamTLS(t *testing.T, cl *cluster.Cluster) (string, string) {
	ts := cl.GetTransportSocket()
	if ts == nil {
		for _, m := range cl.GetTransportSocketMatches() {
			if m.GetName() == "tlsMode-disabled" || m.GetTransportSocket().GetName() == "envoy.transport_sockets.raw_buffer" {
				continue
			}
			ts = m.GetTransportSocket()
			break
		}
	}
	if ts == nil || ts.GetTypedConfig() == nil {
		return "", ""
	}
	ctx := &tlsv3.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(ctx); err != nil {
		return "", ""
	}
	mode := "SIMPLE"
	if len(ctx.GetCommonTlsContext().GetTlsCertificateSdsSecretConfigs()) > 0 || len(ctx.GetCommonTlsContext().GetTlsCertificates()) > 0 {
		mode = "MUTUAL"
	}
	return mode, ctx.GetSni()
}

// decide turns what the proxies matched into the words of `status`. Facts only come from the
// generated config: the names of Istio's special clusters, whether a cluster was pushed to the
// proxy, the route's direct response, and the gateway's own walk.
func decide(res *result, first hop, req request,
	atGateway func(gatewayHost string, port int) (hop, bool),
) {
	plainHTTP := strings.ToUpper(req.Protocol) != "TLS" && strings.ToUpper(req.Protocol) != "TCP"
	switch {
	case first.DirectResponse != 0:
		res.Via, res.Outcome, res.Response = "blocked", "blackhole", strconv.Itoa(int(first.DirectResponse))
	case first.Cluster == "BlackHoleCluster":
		// Through a TCP proxy the connection is closed; through an HTTP route Envoy finds no
		// endpoint in the cluster.
		res.Via, res.Outcome, res.Response = "blocked", "blackhole", "reset"
		if first.VirtualHost != "" {
			res.Response = "503 UH"
		}
	case first.Cluster == "PassthroughCluster":
		res.Via, res.Outcome = "passthrough", "egress"
	case first.Error != "" && first.Cluster == "":
		switch first.Error {
		case simulation.ErrNoVirtualHost.Error(), simulation.ErrNoRoute.Error():
			res.Via, res.Outcome, res.Response = "blocked", "no-route", "404 NR"
		default:
			// No listener or filter chain takes the connection: Envoy closes it.
			res.Via, res.Outcome, res.Response = "blocked", "blackhole", "reset"
		}
		res.Error = first.Error
	case first.Cluster != "" && !first.ClusterPushed:
		_, _, _, host := parseCluster(first.Cluster)
		res.Via = "direct"
		if host != req.Host {
			res.Via, res.GatewayHost = "gateway", host
		}
		res.Outcome, res.Response = "no-cluster", "503 NC"
		if !plainHTTP {
			res.Response = "reset"
		}
	default:
		_, port, _, host := parseCluster(first.Cluster)
		g, isGateway := atGateway(host, port)
		if !isGateway {
			// A cluster of an external host (this one, or another that owns the port).
			res.Via, res.Outcome, res.Destination = "direct", "egress", host
			leaving(res, first, req)
			return
		}
		res.Via, res.GatewayHost = "gateway", host
		res.Hops = append(res.Hops, g)
		gatewayOutcome(res, g, req)
	}
}

// gatewayOutcome records what the egress gateway's hop g did with the request.
func gatewayOutcome(res *result, g hop, req request) {
	plainHTTP := strings.ToUpper(req.Protocol) != "TLS" && strings.ToUpper(req.Protocol) != "TCP"
	{
		switch {
		case g.Listener == "" || g.Error == simulation.ErrNoListener.Error():
			res.Outcome, res.Response = "no-listener", "503 UF"
			if !plainHTTP {
				res.Response = "reset"
			}
		case g.Error == simulation.ErrNoFilterChain.Error():
			// A listener on the port, but nothing for this SNI: the connection is closed.
			res.Outcome, res.Response = "no-route", "reset"
		case g.Error == simulation.ErrNoVirtualHost.Error() || g.Error == simulation.ErrNoRoute.Error():
			res.Outcome, res.Response = "no-route", "404 NR"
		case g.DirectResponse != 0:
			res.Outcome, res.Response = "blackhole", strconv.Itoa(int(g.DirectResponse))
		case g.Cluster == "BlackHoleCluster":
			res.Outcome, res.Response = "blackhole", "reset"
		case g.Cluster != "" && !g.ClusterPushed:
			res.Outcome, res.Response = "no-cluster", "503 NC"
			if !plainHTTP {
				res.Response = "reset"
			}
		case g.Error != "":
			res.Outcome, res.Error = "unknown", g.Error
		default:
			res.Outcome = "egress"
			_, _, _, res.Destination = parseCluster(g.Cluster)
			leaving(res, g, req)
		}
	}
}

// leaving records how the request leaves through hop's cluster: TLS origination and the port.
func leaving(res *result, h hop, req request) {
	res.UpstreamTLS, res.UpstreamSNI = h.UpstreamTLS, h.UpstreamSNI
	if h.EndpointPort != 0 && int(h.EndpointPort) != req.Port {
		res.UpstreamPort = h.EndpointPort
	}
}

// parseCluster splits outbound|80|subset|host.
func parseCluster(name string) (direction string, port int, subset string, host string) {
	parts := strings.Split(name, "|")
	if len(parts) != 4 {
		return "", 0, "", ""
	}
	port, _ = strconv.Atoi(parts[1])
	return parts[0], port, parts[2], parts[3]
}

// findGateways reads the Services and Pods of the kube objects: a Service whose selector picks
// a Pod labelled istio=<something>gateway is a gateway, reachable by its FQDN.
func findGateways(t *testing.T, kube string) map[string]gatewayService {
	var services []corev1.Service
	var pods []corev1.Pod
	for _, doc := range strings.Split(kube, "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("kube objects: %v", err)
		}
		switch meta.Kind {
		case "Service":
			var s corev1.Service
			if err := yaml.Unmarshal([]byte(doc), &s); err != nil {
				t.Fatalf("service: %v", err)
			}
			services = append(services, s)
		case "Pod":
			var p corev1.Pod
			if err := yaml.Unmarshal([]byte(doc), &p); err != nil {
				t.Fatalf("pod: %v", err)
			}
			pods = append(pods, p)
		}
	}
	gateways := map[string]gatewayService{}
	for _, s := range services {
		if len(s.Spec.Selector) == 0 {
			continue
		}
		for _, p := range pods {
			if p.Namespace != s.Namespace || !selects(s.Spec.Selector, p.Labels) || !strings.HasSuffix(p.Labels["istio"], "gateway") {
				continue
			}
			g := gatewayService{
				host:        s.Name + "." + s.Namespace + ".svc.cluster.local",
				namespace:   s.Namespace,
				labels:      p.Labels,
				ip:          p.Status.PodIP,
				targetPorts: map[int]int{},
			}
			for _, port := range s.Spec.Ports {
				target := port.TargetPort.IntValue()
				if target == 0 {
					target = int(port.Port)
				}
				g.targetPorts[int(port.Port)] = target
			}
			gateways[g.host] = g
			break
		}
	}
	return gateways
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
