// meshagent stands in for istio-agent (pilot-agent) in the project's real mesh (scripts/mesh):
// it does what pilot-agent does for an Envoy that takes plaintext xDS from a local istiod, and no
// more, with Istio's own code wherever Istio has it:
//
//   - the bootstrap: Istio's pkg/bootstrap renders Istio's own template
//     (tools/packaging/common/envoy_bootstrap.json) from the node metadata the injection template's
//     environment gives (POD_NAME, POD_NAMESPACE, INSTANCE_IP, ISTIO_META_*), exactly as
//     pilot-agent does in pkg/istio-agent;
//   - the XDS pipe: Envoy's xds-grpc cluster is the unix socket ./etc/istio/proxy/XDS, which this
//     forwards byte for byte to istiod's plaintext xDS port (pilot-agent proxies it too, over TLS
//     to 15012 with a JWT; that part is what stands in);
//   - SDS: Istio's listeners and clusters name SDS secrets on ./var/run/secrets/workload-spiffe-uds/socket.
//     "default" and "ROOTCA" (mesh mTLS, never used on the egress path: the gateway has no
//     tlsMode label) get a self-signed certificate; "file-root:PATH" (TLS origination without
//     caCertificates: "file-root:system") gets the pod's CA bundle, as pilot-agent reads the
//     image's system roots;
//   - Envoy itself, started as pilot-agent starts it (same flags), inside the pod's network
//     namespace as uid/gid 1337: run there by the node as the istio-proxy container (no --netns),
//     or entering it with ip netns exec (--netns), which also gives it the pod's own resolv.conf
//     and CA bundle from /etc/netns/NAME;
//   - istio-iptables: `meshagent istio-iptables ARGS` is Istio's own command
//     (tools/istio-iptables/pkg/cmd), the one pilot-agent and istio-init run.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	sds "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"

	"istio.io/istio/pkg/bootstrap"
	"istio.io/istio/pkg/config/mesh"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/security"
	iptables "istio.io/istio/tools/istio-iptables/pkg/cmd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "istio-iptables" {
		// pilot-agent's own logging flags come with it (istio-init passes --log_output_level).
		logOptions := istiolog.DefaultOptions()
		cmd := iptables.GetCommand(logOptions)
		logOptions.AttachCobraFlags(cmd)
		cmd.SetArgs(os.Args[2:])
		if err := cmd.Execute(); err != nil {
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "relay" {
		relay(os.Args[2:])
		return
	}
	if len(os.Args) < 2 || os.Args[1] != "proxy" {
		fmt.Fprintln(os.Stderr, "usage: meshagent proxy [flags] | meshagent relay --listen PATH --to HOST:PORT | meshagent istio-iptables [istio-iptables flags]")
		os.Exit(2)
	}
	proxy(os.Args[2:])
}

// relay carries istiod's xDS from the host's loopback into the pods: a unix socket crosses network
// namespaces, so an agent inside a pod reaches istiod through it, as pilot-agent reaches
// istiod's Service over the pod network in a cluster.
func relay(args []string) {
	fs := flag.NewFlagSet("relay", flag.ExitOnError)
	listen := fs.String("listen", "", "unix socket to listen on")
	to := fs.String("to", "", "TCP address to forward each connection to")
	uid := fs.Int("uid", 1337, "owner of the socket (the agents' uid)")
	_ = fs.Parse(args)
	if *listen == "" || *to == "" {
		log.Fatalf("meshagent relay: --listen and --to are required")
	}
	forward(listenUnix(*listen, *uid), *to)
}

func proxy(args []string) {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	dir := fs.String("dir", "", "the proxy's root: bootstrap, sockets and the pod's files live under it (pilot-agent's working directory)")
	netns := fs.String("netns", "", "network namespace Envoy runs in; empty: this process already runs inside the pod (its network namespace, as the proxy's uid), as a kubelet starts pilot-agent")
	kind := fs.String("type", "sidecar", "sidecar or router")
	ip := fs.String("ip", "", "the pod's IP")
	pod := fs.String("pod", "", "pod name")
	namespace := fs.String("namespace", "", "pod namespace")
	labels := fs.String("labels", "", "pod labels, k=v,k=v")
	workload := fs.String("workload", "", "workload (deployment) name")
	serviceAccount := fs.String("service-account", "default", "service account")
	envoy := fs.String("envoy", "", "the Envoy binary")
	template := fs.String("template", "", "Istio's envoy_bootstrap.json")
	xds := fs.String("xds", "127.0.0.1:15010", "istiod's plaintext xDS address: HOST:PORT, or unix:PATH (a relay's socket)")
	caBundle := fs.String("ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "the pod's system CA bundle (served as file-root:system)")
	uid := fs.Int("uid", 1337, "uid and gid Envoy runs as")
	logLevel := fs.String("log-level", "warning", "Envoy's log level")
	_ = fs.Parse(args)
	for name, v := range map[string]string{"dir": *dir, "ip": *ip, "pod": *pod, "namespace": *namespace, "envoy": *envoy, "template": *template} {
		if v == "" {
			log.Fatalf("meshagent: --%s is required", name)
		}
	}
	// What it creates is read by Envoy as another user, whatever the caller's umask.
	syscall.Umask(0o022)
	if err := os.Chdir(*dir); err != nil {
		log.Fatalf("meshagent: %v", err)
	}

	// The pod's downward-API labels file, where pilot-agent reads them (constants.PodInfoLabelsPath).
	must(os.MkdirAll("etc/istio/pod", 0o755))
	var labelLines []string
	for _, kv := range strings.Split(*labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			labelLines = append(labelLines, fmt.Sprintf("%s=%q", k, v))
		}
	}
	must(os.WriteFile("etc/istio/pod/labels", []byte(strings.Join(labelLines, "\n")+"\n"), 0o644))

	// The environment the injection template gives the istio-proxy container.
	envs := []string{
		"POD_NAME=" + *pod,
		"POD_NAMESPACE=" + *namespace,
		"INSTANCE_IP=" + *ip,
		"SERVICE_ACCOUNT=" + *serviceAccount,
		"ISTIO_META_CLUSTER_ID=Kubernetes",
		"ISTIO_META_INTERCEPTION_MODE=REDIRECT",
		"ISTIO_META_WORKLOAD_NAME=" + *workload,
		"ISTIO_META_OWNER=kubernetes://apis/apps/v1/namespaces/" + *namespace + "/deployments/" + *workload,
		"ISTIO_META_MESH_ID=cluster.local",
		"TRUST_DOMAIN=cluster.local",
	}
	proxyConfig := mesh.DefaultProxyConfig()
	proxyConfig.ProxyBootstrapTemplatePath = *template
	node, err := bootstrap.GetNodeMetaData(bootstrap.MetadataOptions{
		ID:                  fmt.Sprintf("%s~%s~%s.%s~%s.svc.cluster.local", *kind, *ip, *pod, *namespace, *namespace),
		Envs:                envs,
		InstanceIPs:         []string{*ip},
		ProxyConfig:         proxyConfig,
		PilotSubjectAltName: []string{"spiffe://cluster.local/ns/istio-system/sa/istiod"},
		EnvoyStatusPort:     15021,
		EnvoyPrometheusPort: 15090,
		// pilot-agent's defaults (pkg/istio-agent): the SDS socket's file name, plaintext xDS.
		WorkloadIdentitySocketFile: security.DefaultWorkloadIdentitySocketFile,
	})
	must(err)
	bootstrapFile, err := bootstrap.New(bootstrap.Config{Node: node}).CreateFile()
	must(err)
	// pilot-agent runs as the proxy's uid in a pod, so what it writes is Envoy's to read; here the
	// stand-in runs as root and hands the config directory over instead.
	must(os.Chown(proxyConfig.ConfigPath, *uid, *uid))
	must(os.Chown(bootstrapFile, *uid, *uid))
	bootstrapFile, err = filepath.Abs(bootstrapFile)
	must(err)

	must(os.MkdirAll(security.WorkloadIdentityPath, 0o755))
	xdsListener := listenUnix(filepath.Join(proxyConfig.ConfigPath, "XDS"), *uid)
	go forward(xdsListener, *xds)
	sdsListener := listenUnix(filepath.Join(security.WorkloadIdentityPath, security.DefaultWorkloadIdentitySocketFile), *uid)
	grpcServer := grpc.NewServer()
	sds.RegisterSecretDiscoveryServiceServer(grpcServer, &secrets{workload: selfSigned(*pod + "." + *namespace), caBundle: *caBundle})
	go func() { _ = grpcServer.Serve(sdsListener) }()

	// As pilot-agent's envoy.go starts Envoy (minus hot restart epochs and concurrency from the
	// CPU limit), inside the pod: its network namespace and its files under /etc/netns/NAME.
	envoyArgs := []string{
		"-c", bootstrapFile,
		"--drain-time-s", "1", "--drain-strategy", "immediate",
		"--local-address-ip-version", "v4",
		"--file-flush-interval-msec", "1000",
		"--disable-hot-restart", "--allow-unknown-static-fields",
		"-l", *logLevel, "--component-log-level", "misc:error",
		"--concurrency", "2",
	}
	cmd := exec.Command(*envoy, envoyArgs...)
	if *netns != "" {
		enter := []string{"netns", "exec", *netns, "setpriv", fmt.Sprintf("--reuid=%d", *uid), fmt.Sprintf("--regid=%d", *uid), "--clear-groups", "--", *envoy}
		cmd = exec.Command("ip", append(enter, envoyArgs...)...)
	}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	must(cmd.Start())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-stop:
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
		}
	case err := <-done:
		log.Fatalf("meshagent: envoy exited: %v", err)
	}
}

func must(err error) {
	if err != nil {
		log.Fatalf("meshagent: %v", err)
	}
}

// listenUnix listens on a unix socket that Envoy, running as uid, may connect to.
func listenUnix(path string, uid int) net.Listener {
	must(os.MkdirAll(filepath.Dir(path), 0o755))
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	must(err)
	must(os.Chown(path, uid, uid))
	return l
}

// closeWrite half-closes a TCP or unix connection, so the other side sees the end of the stream.
func closeWrite(c net.Conn) {
	if hc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = hc.CloseWrite()
	}
}

// forward copies each connection on l to a new connection to target (HOST:PORT, or unix:PATH),
// both ways.
func forward(l net.Listener, target string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			network, address := "tcp", target
			if path, ok := strings.CutPrefix(target, "unix:"); ok {
				network, address = "unix", path
			}
			u, err := net.DialTimeout(network, address, 5*time.Second)
			if err != nil {
				log.Printf("meshagent: xds: %v", err)
				return
			}
			defer u.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(u, c); closeWrite(u) }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, u); closeWrite(c) }()
			wg.Wait()
		}()
	}
}

type keyPair struct{ cert, key []byte }

func selfSigned(name string) keyPair {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(err)
	keyDer, err := x509.MarshalECPrivateKey(key)
	must(err)
	return keyPair{
		cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		key:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDer}),
	}
}

// secrets is a state-of-the-world SDS server: each stream asks for its names and gets them once.
type secrets struct {
	sds.UnimplementedSecretDiscoveryServiceServer
	workload keyPair
	caBundle string
}

func (s *secrets) secret(name string) (*tlsv3.Secret, error) {
	inline := func(b []byte) *core.DataSource {
		return &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: b}}
	}
	switch {
	case name == "default":
		return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inline(s.workload.cert), PrivateKey: inline(s.workload.key),
		}}}, nil
	case name == "ROOTCA":
		return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inline(s.workload.cert),
		}}}, nil
	case strings.HasPrefix(name, "file-root:"):
		path := strings.TrimPrefix(name, "file-root:")
		if path == "system" {
			path = s.caBundle
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return &tlsv3.Secret{Name: name, Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inline(b),
		}}}, nil
	}
	return nil, fmt.Errorf("no secret %q", name)
}

func (s *secrets) StreamSecrets(stream sds.SecretDiscoveryService_StreamSecretsServer) error {
	var sent []string
	nonce := 0
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		if req.ErrorDetail != nil {
			log.Printf("meshagent: sds: envoy rejected %v: %s", req.ResourceNames, req.ErrorDetail.Message)
		}
		if req.ResponseNonce != "" && strings.Join(req.ResourceNames, ",") == strings.Join(sent, ",") {
			continue // an ACK (or NACK) of what was sent
		}
		resp := &discovery.DiscoveryResponse{VersionInfo: time.Now().Format(time.RFC3339Nano), TypeUrl: req.TypeUrl}
		for _, name := range req.ResourceNames {
			secret, err := s.secret(name)
			if err != nil {
				log.Printf("meshagent: sds: %v", err)
				continue
			}
			a, err := anypb.New(secret)
			if err != nil {
				return err
			}
			resp.Resources = append(resp.Resources, a)
		}
		nonce++
		resp.Nonce = fmt.Sprint(nonce)
		if err := stream.Send(resp); err != nil {
			return err
		}
		sent = req.ResourceNames
	}
}
