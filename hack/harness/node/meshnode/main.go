// meshnode is the kubelet of one node whose pods' containers are local processes: each pod gets
// a network namespace from the runtime file's sandbox hook, each container runs the local command
// its image is mapped to, inside that namespace. Built on virtual-kubelet; serves logs, exec and
// port-forward to the API server only (a client certificate signed by --client-ca is required).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// kubeletVersion is what the Node reports; the build sets it to the cluster's Kubernetes version.
var kubeletVersion = "v0.0.0-meshnode"

var logger *slog.Logger

func main() {
	var (
		kubeconfig = flag.String("kubeconfig", "", "kubeconfig the node authenticates to the API server with")
		nodeName   = flag.String("node-name", "", "name of the Node to register")
		listen     = flag.String("listen", "", "loopback address the kubelet API listens on (127.0.0.1:PORT)")
		tlsCert    = flag.String("tls-cert", "", "serving certificate of the kubelet API")
		tlsKey     = flag.String("tls-key", "", "key of --tls-cert")
		clientCA   = flag.String("client-ca", "", "CA that must have signed a client's certificate (the API server's kubelet client)")
		runtimeCfg = flag.String("runtime", "", "runtime JSON: sandbox hooks and the command each image maps to")
		stateDir   = flag.String("state", "", "directory for the pods' logs and files")
	)
	flag.Parse()
	level := slog.LevelInfo
	if os.Getenv("MESHNODE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	vklog.L = vkslog.FromSlog(logger)
	if err := run(*kubeconfig, *nodeName, *listen, *tlsCert, *tlsKey, *clientCA, *runtimeCfg, *stateDir); err != nil {
		fmt.Fprintf(os.Stderr, "meshnode: %v\n", err)
		os.Exit(1)
	}
}

func run(kubeconfig, nodeName, listen, tlsCert, tlsKey, clientCA, runtimeFile, stateDir string) error {
	for flagName, v := range map[string]string{
		"kubeconfig": kubeconfig, "node-name": nodeName, "listen": listen, "tls-cert": tlsCert,
		"tls-key": tlsKey, "client-ca": clientCA, "runtime": runtimeFile, "state": stateDir,
	} {
		if v == "" {
			return fmt.Errorf("--%s is required", flagName)
		}
	}
	port, err := loopbackPort(listen)
	if err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return errors.New("must run as root (network namespaces, containers as other users)")
	}
	rt, err := loadRuntime(runtimeFile)
	if err != nil {
		return err
	}
	podsDir, err := filepath.Abs(filepath.Join(stateDir, "pods"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(podsDir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(filepath.Dir(podsDir), 0o755); err != nil {
		return err
	}
	recoverLeftovers(rt, podsDir)

	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("--kubeconfig: %w", err)
	}
	restCfg.QPS, restCfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}

	prov := newProvider(nodeName, rt, podsDir, client)
	mux := http.NewServeMux()
	// NewNode makes a default client from $KUBECONFIG before taking ours (and warns when it
	// cannot): point it at ours for the call only, so the hooks do not inherit it.
	userKubeconfig, hadKubeconfig := os.LookupEnv("KUBECONFIG")
	if err := os.Setenv("KUBECONFIG", kubeconfig); err != nil {
		return err
	}
	n, err := nodeutil.NewNode(nodeName,
		func(cfg nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
			prov.listers = cfg
			describeNode(cfg.Node, port)
			return prov, nil, nil
		},
		nodeutil.WithClient(client),
		func(cfg *nodeutil.NodeConfig) error {
			cfg.HTTPListenAddr = listen
			// The provider resolves the downward API itself (status.podIP is known only once the
			// sandbox exists).
			cfg.SkipDownwardAPIResolution = true
			cfg.Handler = requireVerifiedClient(webSocketPortForward(mux, prov))
			cfg.StreamIdleTimeout = 4 * time.Hour
			cfg.StreamCreationTimeout = 30 * time.Second
			return nil
		},
		nodeutil.AttachProviderRoutes(mux),
		nodeutil.WithTLSConfig(nodeutil.WithKeyPairFromPath(tlsCert, tlsKey), nodeutil.WithCAFromPath(clientCA)),
	)
	if hadKubeconfig {
		_ = os.Setenv("KUBECONFIG", userKubeconfig)
	} else {
		_ = os.Unsetenv("KUBECONFIG")
	}
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		if err := n.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Error("node stopped", "err", err)
		}
	}()
	var runErr error
	select {
	case <-n.Ready():
		logger.Info("node ready", "node", nodeName, "listen", listen)
		select {
		case sig := <-signals:
			logger.Info("shutting down", "signal", sig.String())
		case <-n.Done():
			runErr = fmt.Errorf("node controller exited: %v", n.Err())
		}
	case sig := <-signals:
		logger.Info("shutting down before the node was ready", "signal", sig.String())
	case <-n.Done():
		runErr = fmt.Errorf("node did not start: %v", n.Err())
	}
	// Pods first (their processes and sandboxes), then the controllers.
	prov.shutdown()
	cancel()
	select {
	case <-n.Done():
	case <-time.After(5 * time.Second):
	}
	logger.Info("meshnode stopped")
	return runErr
}

// loopbackPort refuses any --listen that is not a loopback IP and port: the kubelet API runs
// commands as root and must not be reachable from elsewhere.
func loopbackPort(listen string) (int32, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return 0, fmt.Errorf("--listen %q: %w", listen, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return 0, fmt.Errorf("--listen %q: the host must be a loopback IP address (127.0.0.1)", listen)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return 0, fmt.Errorf("--listen %q: a port 1-65535 is required", listen)
	}
	return int32(port), nil
}

// requireVerifiedClient: TLS already refuses a client without a certificate from --client-ca;
// this makes the handler refuse too, should the TLS config ever be loosened.
func requireVerifiedClient(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "Unauthorized: a client certificate signed by the kubelet client CA is required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// describeNode fills in the Node to register: one InternalIP (the API server reaches the kubelet
// API there), the daemon port, capacity, and conditions.
func describeNode(n *corev1.Node, port int32) {
	delete(n.Labels, "type")
	n.Labels["kubernetes.io/os"] = "linux"
	n.Labels["kubernetes.io/arch"] = runtime.GOARCH
	n.Labels["node.kubernetes.io/meshnode"] = "true"
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: nodeIP}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = port
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    nodeCPU,
		corev1.ResourceMemory: nodeMemory,
		corev1.ResourcePods:   nodePods,
		"ephemeral-storage":   resource.MustParse("100Gi"),
	}
	n.Status.Capacity = capacity
	n.Status.Allocatable = capacity.DeepCopy()
	var uts unix.Utsname
	kernel := ""
	if unix.Uname(&uts) == nil {
		kernel = unix.ByteSliceToString(uts.Release[:])
	}
	n.Status.NodeInfo = corev1.NodeSystemInfo{
		OperatingSystem:         "linux",
		Architecture:            runtime.GOARCH,
		KernelVersion:           kernel,
		OSImage:                 "meshnode (local processes in network namespaces)",
		ContainerRuntimeVersion: "meshnode://" + kubeletVersion,
		KubeletVersion:          kubeletVersion,
	}
	now := metav1.Now()
	for i, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			continue
		}
		c.Status = corev1.ConditionFalse
		c.LastTransitionTime = now
		c.Reason = "KubeletHasNo" + string(c.Type)
		if c.Type == corev1.NodeNetworkUnavailable {
			c.Reason = "RouteCreated"
		}
		n.Status.Conditions[i] = c
	}
}
