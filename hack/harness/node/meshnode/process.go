package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// The node's capacity, also what resourceFieldRef limits default to (a container without limits
// may use the whole node, as on a real kubelet).
var (
	nodeCPU    = resource.MustParse("2")
	nodeMemory = resource.MustParse("24Gi")
	nodePods   = resource.MustParse("110")
)

// containerEnv is the container's environment as a kubelet would give it (literal values, the
// downward API, configMap/secret keys) plus the EGRESS_* variables the image wrappers read.
func (p *provider) containerEnv(pod *corev1.Pod, c *corev1.Container, sb *sandboxInfo, podDir string) []string {
	values := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := values[k]; !ok {
			order = append(order, k)
		}
		values[k] = v
	}
	for _, from := range c.EnvFrom {
		for k, v := range p.envFromSource(pod.Namespace, from) {
			set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			// $(VAR) refers to variables defined before it, as on a kubelet.
			set(e.Name, expand(e.Value, values))
			continue
		}
		if v, ok := p.envValueFrom(pod, c, sb, e); ok {
			set(e.Name, v)
		}
	}
	podLabels := make([]string, 0, len(pod.Labels))
	for k, v := range pod.Labels {
		podLabels = append(podLabels, k+"="+v)
	}
	sort.Strings(podLabels)
	set("EGRESS_POD_NAME", pod.Name)
	set("EGRESS_POD_NAMESPACE", pod.Namespace)
	set("EGRESS_POD_UID", string(pod.UID))
	set("EGRESS_POD_IP", sb.IP)
	set("EGRESS_POD_NETNS", sb.Netns)
	set("EGRESS_POD_LABELS", strings.Join(podLabels, ","))
	set("EGRESS_CONTAINER_NAME", c.Name)
	set("EGRESS_POD_SERVICE_ACCOUNT", serviceAccount(pod))
	set("EGRESS_POD_DIR", podDir)
	if _, ok := values["PATH"]; !ok {
		set("PATH", defaultPath)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+values[k])
	}
	return env
}

func serviceAccount(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName != "" {
		return pod.Spec.ServiceAccountName
	}
	return "default"
}

func (p *provider) envValueFrom(pod *corev1.Pod, c *corev1.Container, sb *sandboxInfo, e corev1.EnvVar) (string, bool) {
	vf := e.ValueFrom
	switch {
	case vf.FieldRef != nil:
		v, err := fieldValue(pod, sb, vf.FieldRef.FieldPath)
		if err != nil {
			logger.Warn("env var not set", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "var", e.Name, "err", err)
			return "", false
		}
		return v, true
	case vf.ResourceFieldRef != nil:
		return resourceValue(c, vf.ResourceFieldRef), true
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		if p.listers.ConfigMaps != nil {
			if cm, err := p.listers.ConfigMaps.ConfigMaps(pod.Namespace).Get(ref.Name); err == nil {
				if v, ok := cm.Data[ref.Key]; ok {
					return v, true
				}
			}
		}
		logger.Info("env var from a configMap key not found: left unset", "pod", pod.Namespace+"/"+pod.Name, "var", e.Name, "configMap", ref.Name, "key", ref.Key)
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		if p.listers.Secrets != nil {
			if s, err := p.listers.Secrets.Secrets(pod.Namespace).Get(ref.Name); err == nil {
				if v, ok := s.Data[ref.Key]; ok {
					return string(v), true
				}
			}
		}
		logger.Info("env var from a secret key not found: left unset", "pod", pod.Namespace+"/"+pod.Name, "var", e.Name, "secret", ref.Name, "key", ref.Key)
	default:
		logger.Info("env var source not supported: left unset", "pod", pod.Namespace+"/"+pod.Name, "var", e.Name)
	}
	return "", false
}

func (p *provider) envFromSource(namespace string, from corev1.EnvFromSource) map[string]string {
	out := map[string]string{}
	switch {
	case from.ConfigMapRef != nil && p.listers.ConfigMaps != nil:
		if cm, err := p.listers.ConfigMaps.ConfigMaps(namespace).Get(from.ConfigMapRef.Name); err == nil {
			for k, v := range cm.Data {
				out[k] = v
			}
		} else {
			logger.Info("envFrom configMap not found: skipped", "namespace", namespace, "configMap", from.ConfigMapRef.Name)
		}
	case from.SecretRef != nil && p.listers.Secrets != nil:
		if s, err := p.listers.Secrets.Secrets(namespace).Get(from.SecretRef.Name); err == nil {
			for k, v := range s.Data {
				out[k] = string(v)
			}
		} else {
			logger.Info("envFrom secret not found: skipped", "namespace", namespace, "secret", from.SecretRef.Name)
		}
	}
	return out
}

// fieldValue resolves the downward API's fieldRef paths a kubelet supports.
func fieldValue(pod *corev1.Pod, sb *sandboxInfo, path string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return labels.FormatLabels(pod.Labels), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return sb.IP, nil
	case "status.hostIP", "status.hostIPs":
		return nodeIP, nil
	}
	return "", fmt.Errorf("fieldRef %q is not supported", path)
}

// subscript parses PREFIX['key'] (or PREFIX["key"]).
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"[")
	if !ok || !strings.HasSuffix(rest, "]") || len(rest) < 3 {
		return "", false
	}
	rest = rest[:len(rest)-1]
	if q := rest[0]; (q == '\'' || q == '"') && rest[len(rest)-1] == q {
		return rest[1 : len(rest)-1], true
	}
	return "", false
}

// resourceValue is a resourceFieldRef: the container's limit or request, divided by the divisor
// and rounded up as a kubelet does; a limit not set is the node's capacity, a request not set 0.
func resourceValue(c *corev1.Container, ref *corev1.ResourceFieldSelector) string {
	var q resource.Quantity
	var ok bool
	switch ref.Resource {
	case "limits.cpu":
		if q, ok = c.Resources.Limits[corev1.ResourceCPU]; !ok {
			q = nodeCPU
		}
	case "limits.memory":
		if q, ok = c.Resources.Limits[corev1.ResourceMemory]; !ok {
			q = nodeMemory
		}
	case "limits.ephemeral-storage":
		if q, ok = c.Resources.Limits[corev1.ResourceEphemeralStorage]; !ok {
			return "0"
		}
	case "requests.cpu":
		if q, ok = c.Resources.Requests[corev1.ResourceCPU]; !ok {
			return "0"
		}
	case "requests.memory":
		if q, ok = c.Resources.Requests[corev1.ResourceMemory]; !ok {
			return "0"
		}
	case "requests.ephemeral-storage":
		if q, ok = c.Resources.Requests[corev1.ResourceEphemeralStorage]; !ok {
			return "0"
		}
	default:
		return "0"
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	// In milli-units so that cpu "500m" with divisor "1" rounds up to 1.
	n := q.MilliValue()
	d := divisor.MilliValue()
	if d == 0 {
		d = 1
	}
	return strconv.FormatInt((n+d-1)/d, 10)
}

// expand replaces $(VAR) with the variable's value where it is defined, $$ with $, and leaves
// everything else as written (Kubernetes' rule for command, args and env values).
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteByte(s[i])
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// containerUser: securityContext runAsUser/runAsGroup (container over pod), else the image
// entry's user, else root. A group not given is the user's primary group, else the uid itself.
func containerUser(pod *corev1.Pod, c *corev1.Container, im *imageEntry) (uid, gid int64) {
	var u, g *int64
	if psc := pod.Spec.SecurityContext; psc != nil {
		u, g = psc.RunAsUser, psc.RunAsGroup
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			u = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			g = sc.RunAsGroup
		}
	}
	if u == nil && im != nil {
		u = im.User
	}
	if u != nil {
		uid = *u
	}
	switch {
	case g != nil:
		gid = *g
	case uid == 0:
		gid = 0
	default:
		gid = uid
		if usr, err := user.LookupId(strconv.FormatInt(uid, 10)); err == nil {
			if n, err := strconv.ParseInt(usr.Gid, 10, 64); err == nil {
				gid = n
			}
		}
	}
	return uid, gid
}

// inPod wraps argv to run in the pod's network namespace (ip netns exec also mounts
// /etc/netns/NETNS/* over /etc: the pod's resolv.conf) as uid:gid. ip netns exec executes the
// command in place, so the process started is the command's own.
func inPod(netns string, uid, gid int64, argv []string) []string {
	cmd := []string{"ip", "netns", "exec", netns}
	if uid != 0 || gid != 0 {
		cmd = append(cmd, "setpriv", "--reuid", strconv.FormatInt(uid, 10), "--regid", strconv.FormatInt(gid, 10), "--clear-groups", "--")
	}
	return append(cmd, argv...)
}

// logWriter writes a process's output to a container's log file, a timestamp before each line
// (the file's format: "RFC3339NANO line"), so logs can be served with or without timestamps.
type logWriter struct {
	mu sync.Mutex
	f  *os.File
}

const logTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

func (w *logWriter) copyLines(r io.Reader) {
	br := bufio.NewReaderSize(r, 64*1024)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			w.mu.Lock()
			_, _ = w.f.WriteString(time.Now().UTC().Format(logTimeFormat) + " ")
			_, _ = w.f.Write(line)
			if line[len(line)-1] != '\n' {
				_, _ = w.f.WriteString("\n")
			}
			w.mu.Unlock()
		}
		if err != nil && err != bufio.ErrBufferFull {
			return
		}
	}
}

// startProcess starts argv in its own process group with stdout and stderr going, line by line,
// to logPath (appended). logDone is closed once the output is all in the file.
func startProcess(argv, env []string, dir, logPath string, uid, gid int64) (cmd *exec.Cmd, logDone chan struct{}, err error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	// The container's user owns its stdout, as a container runtime's log pipe is the container's:
	// a process that reopens /dev/stdout (Envoy's access log, accessLogFile: /dev/stdout) may.
	if err := pw.Chown(int(uid), int(gid)); err != nil {
		_ = pr.Close()
		_ = pw.Close()
		_ = f.Close()
		return nil, nil, err
	}
	cmd = exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin = nil
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = pr.Close()
		_ = pw.Close()
		_ = f.Close()
		return nil, nil, err
	}
	// Only the child holds the write end now: the reader sees EOF when it (and its children) exit.
	_ = pw.Close()
	logDone = make(chan struct{})
	go func() {
		defer close(logDone)
		w := &logWriter{f: f}
		w.copyLines(pr)
		_ = pr.Close()
		_ = f.Close()
	}()
	return cmd, logDone, nil
}

// exitCode of a finished process: its status, or 128+signal as a container runtime reports it.
func exitCode(state *os.ProcessState) int32 {
	if state == nil {
		return -1
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int32(128 + ws.Signal())
	}
	return int32(state.ExitCode())
}
