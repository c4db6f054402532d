package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

const (
	nodeIP = "127.0.0.1"
	// A pod's processes get at most this long after SIGTERM, whatever its grace period: the
	// harness's pods are local processes and deleting them must be quick.
	maxStopGrace = 2 * time.Second
	// Restart back-off: doubles from the first to the cap, reset after a run this long.
	backoffFirst = time.Second
	backoffMax   = 30 * time.Second
	backoffReset = 20 * time.Second
)

// provider runs the pods bound to this node as local processes (virtual-kubelet's
// PodLifecycleHandler and PodNotifier, plus logs, exec and port-forward in streams.go).
type provider struct {
	nodeName string
	rt       *runtimeConfig
	podsDir  string
	client   kubernetes.Interface
	listers  nodeutil.ProviderConfig

	mu           sync.Mutex
	pods         map[string]*podRun // by namespace/name
	notify       func(*corev1.Pod)
	shuttingDown bool
}

func newProvider(nodeName string, rt *runtimeConfig, podsDir string, client kubernetes.Interface) *provider {
	return &provider{nodeName: nodeName, rt: rt, podsDir: podsDir, client: client, pods: map[string]*podRun{}}
}

// podRun is one pod: its sandbox, its containers and the status pushed to the API server.
type podRun struct {
	p   *provider
	key string
	dir string // EGRESS_POD_DIR; logs/ beneath it

	ctx    context.Context // cancelled when the pod is stopped: no more starts or restarts
	cancel context.CancelFunc

	mu         sync.Mutex
	pod        *corev1.Pod // as created; status fields are rebuilt from the ones below
	sandbox    *sandboxInfo
	startTime  metav1.Time
	initDone   bool
	failed     string // a reason that makes the pod Failed (an init container under Never)
	message    string // why the pod is not running yet (sandbox errors)
	containers []*containerRun
	conds      map[corev1.PodConditionType]corev1.PodCondition

	kick     chan struct{} // a status push is due (coalesced)
	stopOnce sync.Once
	runDone  chan struct{} // the pod's start-up goroutine has returned
	done     chan struct{} // stopped: processes gone, sandbox deleted
}

type containerRun struct {
	spec    corev1.Container
	init    bool // an init container that must run to completion
	sidecar bool // an init container with restartPolicy Always (a native sidecar)
	logPath string

	status  corev1.ContainerStatus
	pid     int           // the running process (and its group); 0 when none
	exited  chan struct{} // closed when the current process has exited
	logDone chan struct{} // closed when its output is all in the log
	env     []string      // the environment it was last started with (exec uses it too)
	final   bool          // exited and will not be restarted
	starts  int           // processes started so far (restartCount is one less)
}

func podKey(namespace, name string) string { return namespace + "/" + name }

// NotifyPods is virtual-kubelet's hook for status pushes: statuses go out when they change.
func (p *provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = f
	p.mu.Unlock()
}

func (p *provider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	key := podKey(pod.Namespace, pod.Name)
	p.mu.Lock()
	if p.shuttingDown {
		p.mu.Unlock()
		return fmt.Errorf("meshnode is shutting down")
	}
	old := p.pods[key]
	p.mu.Unlock()
	if old != nil {
		if old.pod.UID == pod.UID {
			return nil
		}
		// A new pod of the same name: the old one goes first (bounded wait).
		go old.stop(false)
		select {
		case <-old.done:
		case <-time.After(hookTimeout + 5*time.Second):
			return fmt.Errorf("the previous pod %s is still stopping", key)
		}
	}
	dir := filepath.Join(p.podsDir, fmt.Sprintf("%s_%s_%.8s", pod.Namespace, pod.Name, pod.UID))
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return err
	}
	// World-writable with the sticky bit (like /tmp): wrappers running as the containers' users
	// (the proxy's 1337, an app's 1000) keep their files here.
	if err := os.Chmod(dir, 0o1777); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &podRun{
		p: p, key: key, dir: dir, ctx: ctx, cancel: cancel,
		pod:       pod.DeepCopy(),
		startTime: metav1.Now(),
		conds:     map[corev1.PodConditionType]corev1.PodCondition{},
		kick:      make(chan struct{}, 1),
		runDone:   make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, c := range pod.Spec.InitContainers {
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		r.containers = append(r.containers, newContainerRun(c, !sidecar, sidecar, dir))
	}
	for _, c := range pod.Spec.Containers {
		r.containers = append(r.containers, newContainerRun(c, false, false, dir))
	}
	p.mu.Lock()
	if p.shuttingDown {
		p.mu.Unlock()
		cancel()
		return fmt.Errorf("meshnode is shutting down")
	}
	p.pods[key] = r
	p.mu.Unlock()
	logger.Info("creating pod", "pod", key, "uid", pod.UID)
	go r.pushLoop()
	r.changed()
	go r.run()
	return nil
}

func newContainerRun(c corev1.Container, init, sidecar bool, dir string) *containerRun {
	return &containerRun{
		spec: c, init: init, sidecar: sidecar,
		logPath: filepath.Join(dir, "logs", c.Name+".log"),
		status: corev1.ContainerStatus{
			Name:  c.Name,
			Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "PodInitializing"}},
		},
	}
}

// UpdatePod: a pod's containers cannot change, so only its metadata is kept up to date.
func (p *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	if r := p.get(pod.Namespace, pod.Name); r != nil && r.pod.UID == pod.UID {
		r.mu.Lock()
		r.pod.Labels = pod.Labels
		r.pod.Annotations = pod.Annotations
		r.mu.Unlock()
	}
	return nil
}

// DeletePod stops the pod in the background and returns: once its processes are gone and its
// sandbox deleted, the Pod object is deleted with grace 0 (virtual-kubelet itself would wait the
// pod's whole grace period before deleting it).
func (p *provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	r := p.get(pod.Namespace, pod.Name)
	if r == nil || r.pod.UID != pod.UID {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	go r.stop(true)
	return nil
}

func (p *provider) get(namespace, name string) *podRun {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pods[podKey(namespace, name)]
}

func (p *provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	r := p.get(namespace, name)
	if r == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, name)
	}
	return r.snapshot(), nil
}

func (p *provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	pods := make([]*corev1.Pod, 0, len(runs))
	for _, r := range runs {
		pods = append(pods, r.snapshot())
	}
	return pods, nil
}

// shutdown stops every pod (processes, then sandbox.del) in parallel and waits for them.
func (p *provider) shutdown() {
	p.mu.Lock()
	p.shuttingDown = true
	runs := make([]*podRun, 0, len(p.pods))
	for _, r := range p.pods {
		runs = append(runs, r)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stop(false)
		}()
	}
	wg.Wait()
}

// changed asks for a status push; pushLoop sends the latest status, in order, without blocking
// the goroutine that changed it.
func (r *podRun) changed() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *podRun) pushLoop() {
	for {
		select {
		case <-r.kick:
			// Changes come in bursts (sandbox, then each container): one write for a burst.
			time.Sleep(20 * time.Millisecond)
			select {
			case <-r.kick:
			default:
			}
			r.p.mu.Lock()
			notify := r.p.notify
			r.p.mu.Unlock()
			if notify != nil {
				notify(r.snapshot())
			}
		case <-r.done:
			return
		}
	}
}

// run makes the sandbox, runs the init containers in order, then starts the containers.
func (r *podRun) run() {
	defer close(r.runDone)
	sb := r.makeSandbox()
	if sb == nil {
		return
	}
	for _, c := range r.containers {
		if c.init {
			if !r.runInitToCompletion(c) {
				return
			}
			continue
		}
		if c.sidecar {
			// A native sidecar starts and keeps running; the next init container waits for it.
			go r.supervise(c)
			if !r.waitStarted(c) {
				return
			}
		}
	}
	r.mu.Lock()
	r.initDone = true
	r.mu.Unlock()
	r.changed()
	for _, c := range r.containers {
		if !c.init && !c.sidecar {
			go r.supervise(c)
		}
	}
}

// makeSandbox runs sandbox.add, retried with back-off until it works or the pod is stopped.
func (r *podRun) makeSandbox() *sandboxInfo {
	backoff := backoffFirst
	for {
		sb, err := r.p.rt.addSandbox(r.pod.Namespace, r.pod.Name, string(r.pod.UID), filepath.Join(r.dir, "sandbox.log"))
		if err == nil {
			if data, err := json.Marshal(sb); err == nil {
				_ = os.WriteFile(filepath.Join(r.dir, "sandbox.json"), data, 0o644)
			}
			r.mu.Lock()
			r.sandbox = sb
			r.message = ""
			r.mu.Unlock()
			logger.Info("sandbox ready", "pod", r.key, "ip", sb.IP, "netns", sb.Netns)
			r.changed()
			return sb
		}
		logger.Warn("sandbox.add failed", "pod", r.key, "err", err)
		r.mu.Lock()
		r.message = "sandbox: " + err.Error()
		r.mu.Unlock()
		r.changed()
		if !sleepCtx(r.ctx, backoff) {
			return nil
		}
		backoff = min(2*backoff, backoffMax)
	}
}

func (r *podRun) runInitToCompletion(c *containerRun) bool {
	backoff := backoffFirst
	for {
		code, ok := r.runOnce(c)
		if r.ctx.Err() != nil {
			return false
		}
		if ok && code == 0 {
			return true
		}
		if r.pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			r.mu.Lock()
			c.final = true
			r.failed = "Init:Error"
			r.mu.Unlock()
			r.changed()
			return false
		}
		if !r.backOff(c, &backoff) {
			return false
		}
	}
}

// supervise runs a container and restarts it as its restart policy says.
func (r *podRun) supervise(c *containerRun) {
	backoff := backoffFirst
	for {
		started := time.Now()
		code, ok := r.runOnce(c)
		if r.ctx.Err() != nil {
			return
		}
		policy := r.pod.Spec.RestartPolicy
		restart := c.sidecar || !ok || policy == corev1.RestartPolicyAlways || policy == "" ||
			(policy == corev1.RestartPolicyOnFailure && code != 0)
		if !restart {
			r.mu.Lock()
			c.final = true
			r.mu.Unlock()
			r.changed()
			return
		}
		if time.Since(started) > backoffReset {
			backoff = backoffFirst
		}
		if !r.backOff(c, &backoff) {
			return
		}
	}
}

// backOff waits before a restart, showing CrashLoopBackOff; false when the pod was stopped.
func (r *podRun) backOff(c *containerRun, backoff *time.Duration) bool {
	r.mu.Lock()
	if t := c.status.State.Terminated; t != nil {
		c.status.LastTerminationState = corev1.ContainerState{Terminated: t}
		c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", *backoff, c.spec.Name, r.key),
		}}
	}
	r.mu.Unlock()
	r.changed()
	ok := sleepCtx(r.ctx, *backoff)
	*backoff = min(2**backoff, backoffMax)
	return ok
}

func (r *podRun) waitStarted(c *containerRun) bool {
	for {
		r.mu.Lock()
		running := c.pid != 0
		r.mu.Unlock()
		if running {
			return true
		}
		if !sleepCtx(r.ctx, 50*time.Millisecond) {
			return false
		}
	}
}

// runOnce starts the container's process and waits for it to exit. ok is false when it could not
// be started (its status then says why).
func (r *podRun) runOnce(c *containerRun) (code int32, ok bool) {
	r.mu.Lock()
	// Checked under the lock stop() takes after cancelling: no process starts after stop().
	if r.ctx.Err() != nil {
		r.mu.Unlock()
		return 0, false
	}
	im := r.p.rt.imageFor(c.spec.Image)
	if im == nil {
		c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason:  "CreateContainerError",
			Message: fmt.Sprintf("meshnode: no entry of the runtime file's images matches image %q", c.spec.Image),
		}}
		r.mu.Unlock()
		r.changed()
		return 0, false
	}
	env := r.p.containerEnv(r.pod, &c.spec, r.sandbox, r.dir)
	vars := envMap(env)
	argv := append([]string{}, im.Command...)
	for _, a := range append(append([]string{}, c.spec.Command...), c.spec.Args...) {
		argv = append(argv, expand(a, vars))
	}
	uid, gid := containerUser(r.pod, &c.spec, im)
	dir := "/"
	if c.spec.WorkingDir != "" {
		if st, err := os.Stat(c.spec.WorkingDir); err == nil && st.IsDir() {
			dir = c.spec.WorkingDir
		}
	}
	if c.starts > 0 {
		// A restart: the previous run's log is kept for `kubectl logs --previous`.
		_ = os.Rename(c.logPath, c.logPath+".previous")
	}
	cmd, logDone, err := startProcess(inPod(r.sandbox.Netns, uid, gid, argv), env, dir, c.logPath, uid, gid)
	if err != nil {
		c.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{
			Reason: "RunContainerError", Message: err.Error(),
		}}
		r.mu.Unlock()
		r.changed()
		return 0, false
	}
	if c.starts > 0 {
		c.status.RestartCount++
		if t := c.status.State.Terminated; t != nil {
			c.status.LastTerminationState = corev1.ContainerState{Terminated: t}
		}
	}
	c.starts++
	startedAt := metav1.Now()
	c.pid = cmd.Process.Pid
	c.exited = make(chan struct{})
	c.logDone = logDone
	c.env = env
	c.status.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}
	c.status.ContainerID = fmt.Sprintf("meshnode://%s-%d", c.spec.Name, c.pid)
	c.status.ImageID = c.spec.Image
	c.status.Ready = !c.init
	started := true
	c.status.Started = &started
	exited := c.exited
	r.mu.Unlock()
	logger.Info("container started", "pod", r.key, "container", c.spec.Name, "pid", cmd.Process.Pid, "uid", uid, "argv", strings.Join(argv, " "))
	r.changed()

	_ = cmd.Wait()
	code = exitCode(cmd.ProcessState)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	r.mu.Lock()
	c.pid = 0
	c.status.Ready = false
	notStarted := false
	c.status.Started = &notStarted
	c.status.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: startedAt, FinishedAt: metav1.Now(), ContainerID: c.status.ContainerID,
	}}
	close(exited)
	r.mu.Unlock()
	logger.Info("container exited", "pod", r.key, "container", c.spec.Name, "code", code)
	r.changed()
	return code, true
}

// stop: SIGTERM to every container's process group, SIGKILL after the grace period (at most 2 s),
// then whatever is left in the network namespace, then sandbox.del. With deleteObject the Pod
// object is then deleted with grace 0, so `kubectl delete pod` returns at once.
func (r *podRun) stop(deleteObject bool) {
	first := false
	r.stopOnce.Do(func() {
		first = true
		r.cancel()
		grace := maxStopGrace
		if g := r.pod.Spec.TerminationGracePeriodSeconds; g != nil && time.Duration(*g)*time.Second < grace {
			grace = time.Duration(*g) * time.Second
		}
		if d := r.pod.DeletionGracePeriodSeconds; d != nil && time.Duration(*d)*time.Second < grace {
			grace = time.Duration(*d) * time.Second
		}
		logger.Info("stopping pod", "pod", r.key, "grace", grace)
		r.signalAll(syscall.SIGTERM)
		if !r.waitExited(grace) {
			r.signalAll(syscall.SIGKILL)
			r.waitExited(2 * time.Second)
		}
		// The start-up goroutine may be in sandbox.add (bounded by the hook timeout).
		<-r.runDone
		r.mu.Lock()
		sb := r.sandbox
		r.mu.Unlock()
		if sb != nil {
			killNetnsProcesses(sb.Netns)
			if err := r.p.rt.delSandbox(sb, filepath.Join(r.dir, "sandbox.log")); err != nil {
				logger.Warn("sandbox.del failed", "pod", r.key, "err", err)
			}
		}
		r.p.mu.Lock()
		if r.p.pods[r.key] == r {
			delete(r.p.pods, r.key)
		}
		r.p.mu.Unlock()
		_ = os.RemoveAll(r.dir)
		close(r.done)
		logger.Info("pod stopped", "pod", r.key)
	})
	if !first {
		<-r.done
		return
	}
	if deleteObject && r.p.client != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		zero := int64(0)
		uid := r.pod.UID
		err := r.p.client.CoreV1().Pods(r.pod.Namespace).Delete(ctx, r.pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero,
			Preconditions:      &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			logger.Warn("deleting the Pod object failed", "pod", r.key, "err", err)
		}
	}
}

func (r *podRun) signalAll(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.containers {
		if c.pid != 0 {
			_ = syscall.Kill(-c.pid, sig)
		}
	}
}

// waitExited waits up to d for every container's process to exit.
func (r *podRun) waitExited(d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	r.mu.Lock()
	var waits []chan struct{}
	for _, c := range r.containers {
		if c.pid != 0 {
			waits = append(waits, c.exited)
		}
	}
	r.mu.Unlock()
	for _, w := range waits {
		select {
		case <-w:
		case <-deadline.C:
			return false
		}
	}
	return true
}

// snapshot is the pod with its current status.
func (r *podRun) snapshot() *corev1.Pod {
	r.mu.Lock()
	defer r.mu.Unlock()
	pod := r.pod.DeepCopy()
	st := &pod.Status
	st.HostIP = nodeIP
	st.HostIPs = []corev1.HostIP{{IP: nodeIP}}
	st.StartTime = &r.startTime
	st.Reason, st.Message = "", r.message
	if r.sandbox != nil {
		st.PodIP = r.sandbox.IP
		st.PodIPs = []corev1.PodIP{{IP: r.sandbox.IP}}
	}
	st.InitContainerStatuses, st.ContainerStatuses = nil, nil
	allReady, anyStarted, allFinal, allSucceeded := true, false, true, true
	regular := 0
	for _, c := range r.containers {
		cs := *c.status.DeepCopy()
		if c.init || c.sidecar {
			if c.sidecar {
				cs.Ready = c.pid != 0
			}
			st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
			continue
		}
		regular++
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.Ready {
			allReady = false
		}
		if cs.State.Running != nil || cs.State.Terminated != nil || cs.RestartCount > 0 {
			anyStarted = true
		}
		if !c.final {
			allFinal = false
		} else if t := cs.State.Terminated; t == nil || t.ExitCode != 0 {
			allSucceeded = false
		}
	}
	switch {
	case r.failed != "":
		st.Phase, st.Reason = corev1.PodFailed, r.failed
	case !r.initDone || r.sandbox == nil:
		st.Phase = corev1.PodPending
	case regular > 0 && allFinal && allSucceeded:
		st.Phase = corev1.PodSucceeded
	case regular > 0 && allFinal:
		st.Phase = corev1.PodFailed
	case anyStarted:
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	ready := r.initDone && allReady && regular > 0
	r.setCondition(corev1.PodScheduled, true, "")
	r.setCondition(corev1.PodReadyToStartContainers, r.sandbox != nil, "")
	r.setCondition(corev1.PodInitialized, r.initDone, "ContainersNotInitialized")
	r.setCondition(corev1.ContainersReady, ready, "ContainersNotReady")
	r.setCondition(corev1.PodReady, ready, "ContainersNotReady")
	st.Conditions = nil
	for _, t := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
		st.Conditions = append(st.Conditions, r.conds[t])
	}
	return pod
}

// setCondition keeps a condition's transition time unless its status changes.
func (r *podRun) setCondition(t corev1.PodConditionType, ok bool, falseReason string) {
	status, reason := corev1.ConditionTrue, ""
	if !ok {
		status, reason = corev1.ConditionFalse, falseReason
	}
	if c, seen := r.conds[t]; seen && c.Status == status {
		return
	}
	r.conds[t] = corev1.PodCondition{Type: t, Status: status, Reason: reason, LastTransitionTime: metav1.Now()}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
