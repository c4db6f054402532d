package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/kubelet/pkg/cri/streaming/portforward"
	utilexec "k8s.io/utils/exec"
)

// container finds a pod's container (init containers included) and the pod's sandbox.
func (p *provider) container(namespace, pod, name string) (*podRun, *containerRun, *sandboxInfo, error) {
	r := p.get(namespace, pod)
	if r == nil {
		return nil, nil, nil, errdefs.NotFoundf("pod %s/%s is not on this node", namespace, pod)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.containers {
		if c.spec.Name == name {
			return r, c, r.sandbox, nil
		}
	}
	return nil, nil, nil, errdefs.NotFoundf("pod %s/%s has no container %q", namespace, pod, name)
}

// GetContainerLogs serves a container's log file: tail, since, timestamps, limitBytes, previous,
// and follow (until the container's process has exited and its output is all sent, or the client
// goes away).
func (p *provider) GetContainerLogs(ctx context.Context, namespace, pod, container string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	r, c, _, err := p.container(namespace, pod, container)
	if err != nil {
		return nil, err
	}
	path := c.logPath
	r.mu.Lock()
	exited, logDone := c.exited, c.logDone
	waiting := c.status.State.Waiting
	r.mu.Unlock()
	if opts.Previous {
		path += ".previous"
		exited, logDone = nil, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if opts.Previous {
			return nil, errdefs.InvalidInputf("previous terminated container %q in pod %q not found", container, pod)
		}
		if waiting != nil {
			// As a kubelet answers for a container that never started.
			return nil, errdefs.InvalidInputf("container %q in pod %q is waiting to start: %s", container, pod, waiting.Reason)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	if err != nil {
		return nil, err
	}
	if opts.Tail > 0 {
		off, err := tailOffset(f, opts.Tail)
		if err == nil {
			_, err = f.Seek(off, io.SeekStart)
		}
		if err != nil {
			_ = f.Close()
			return nil, err
		}
	}
	var since time.Time
	if opts.SinceSeconds > 0 {
		since = time.Now().Add(-time.Duration(opts.SinceSeconds) * time.Second)
	} else if !opts.SinceTime.IsZero() {
		since = opts.SinceTime
	}
	pr, pw := io.Pipe()
	go func() {
		defer func() { _ = f.Close() }()
		var out io.Writer = pw
		if opts.LimitBytes > 0 {
			out = &limitWriter{w: pw, left: opts.LimitBytes}
		}
		err := streamLog(ctx, f, out, opts.Timestamps, since, opts.Follow, exited, logDone)
		if errors.Is(err, errLimitReached) {
			err = nil
		}
		_ = pw.CloseWithError(err)
	}()
	return pr, nil
}

var errLimitReached = errors.New("limitBytes reached")

type limitWriter struct {
	w    io.Writer
	left int
}

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.left <= 0 {
		return 0, errLimitReached
	}
	if len(b) > l.left {
		n, err := l.w.Write(b[:l.left])
		l.left -= n
		if err == nil {
			err = errLimitReached
		}
		return n, err
	}
	n, err := l.w.Write(b)
	l.left -= n
	return n, err
}

// streamLog copies log lines ("TIMESTAMP line") from f to out. Following, it polls for more until
// the container's output is complete (logDone) and read, or ctx ends.
func streamLog(ctx context.Context, f *os.File, out io.Writer, timestamps bool, since time.Time, follow bool, exited, logDone chan struct{}) error {
	br := bufio.NewReaderSize(f, 64*1024)
	var partial []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			partial = append(partial, chunk...)
		}
		if err == nil || err == bufio.ErrBufferFull && len(partial) > 1<<20 {
			if werr := writeLogLine(out, partial, timestamps, since); werr != nil {
				return werr
			}
			partial = partial[:0]
			continue
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != io.EOF {
			return err
		}
		// At the end of what has been written so far.
		if !follow {
			if len(partial) > 0 {
				return writeLogLine(out, partial, timestamps, since)
			}
			return nil
		}
		if logDone != nil {
			select {
			case <-logDone:
				// Everything is in the file: one more read, then the end.
				follow = false
				continue
			default:
			}
		} else if exited == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func writeLogLine(out io.Writer, line []byte, timestamps bool, since time.Time) error {
	ts, text, ok := bytes.Cut(line, []byte(" "))
	if !ok {
		text = line
	}
	if !since.IsZero() {
		if t, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil && t.Before(since) {
			return nil
		}
	}
	if timestamps {
		_, err := out.Write(line)
		return err
	}
	_, err := out.Write(text)
	return err
}

// tailOffset is where the last n lines of f begin, read backwards in blocks.
func tailOffset(f *os.File, n int) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	const block = 64 * 1024
	buf := make([]byte, block)
	newlines := 0
	pos := end
	// A last line that ends with a newline: that newline is not a line boundary to count.
	skipLast := true
	for pos > 0 {
		size := int64(block)
		if pos < size {
			size = pos
		}
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil && err != io.EOF {
			return 0, err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] != '\n' {
				skipLast = false
				continue
			}
			if skipLast {
				skipLast = false
				continue
			}
			newlines++
			if newlines == n {
				return pos + i + 1, nil
			}
		}
	}
	return 0, nil
}

// RunInContainer is exec: the command runs in the pod's network namespace as the container's user
// with its environment, stdin/stdout/stderr wired to the stream; its exit code goes back to
// kubectl. No TTY: a request for one gets plain pipes.
func (p *provider) RunInContainer(ctx context.Context, namespace, pod, container string, cmdArgs []string, attach api.AttachIO) error {
	r, c, sb, err := p.container(namespace, pod, container)
	if err != nil {
		return err
	}
	if sb == nil {
		return errdefs.InvalidInputf("pod %s/%s has no sandbox yet", namespace, pod)
	}
	if len(cmdArgs) == 0 {
		return errdefs.InvalidInput("no command given")
	}
	r.mu.Lock()
	env := c.env
	if env == nil {
		env = p.containerEnv(r.pod, &c.spec, sb, r.dir)
	}
	uid, gid := containerUser(r.pod, &c.spec, p.rt.imageFor(c.spec.Image))
	r.mu.Unlock()
	argv := inPod(sb.Netns, uid, gid, cmdArgs)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	var copies sync.WaitGroup
	var readEnds []*os.File
	var writeEnds []*os.File
	wire := func(w io.Writer) (*os.File, error) {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		readEnds = append(readEnds, pr)
		writeEnds = append(writeEnds, pw)
		copies.Add(1)
		go func() {
			defer copies.Done()
			_, _ = io.Copy(w, pr)
		}()
		return pw, nil
	}
	defer func() {
		for _, f := range readEnds {
			_ = f.Close()
		}
	}()
	if w := attach.Stdout(); w != nil {
		if cmd.Stdout, err = wire(w); err != nil {
			return err
		}
	}
	if w := attach.Stderr(); w != nil {
		if cmd.Stderr, err = wire(w); err != nil {
			return err
		}
	} else if attach.TTY() && cmd.Stdout != nil {
		cmd.Stderr = cmd.Stdout
	}
	if in := attach.Stdin(); in != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return err
		}
		cmd.Stdin = pr
		writeEnds = append(writeEnds, pr)
		go func() {
			_, _ = io.Copy(pw, in)
			_ = pw.Close()
		}()
		// Once the command is done, a client still sending stdin gets EPIPE instead of a reader.
		defer func() { _ = pw.Close() }()
	}
	if err := cmd.Start(); err != nil {
		for _, f := range writeEnds {
			_ = f.Close()
		}
		return err
	}
	for _, f := range writeEnds {
		_ = f.Close()
	}
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-stopped:
		}
	}()
	waitErr := cmd.Wait()
	close(stopped)
	// Output still buffered in the pipes is delivered; a background child holding them open
	// does not keep the session past a second.
	copied := make(chan struct{})
	go func() { copies.Wait(); close(copied) }()
	select {
	case <-copied:
	case <-time.After(time.Second):
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		return utilexec.CodeExitError{Err: waitErr, Code: int(exitCode(ee.ProcessState))}
	}
	return waitErr
}

func (p *provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errdefs.InvalidInput("meshnode does not support attach: use kubectl logs -f or kubectl exec")
}

// PortForward connects to 127.0.0.1:port inside the pod's network namespace and copies both ways.
func (p *provider) PortForward(ctx context.Context, namespace, pod string, port int32, stream io.ReadWriteCloser) error {
	r := p.get(namespace, pod)
	if r == nil {
		return errdefs.NotFoundf("pod %s/%s is not on this node", namespace, pod)
	}
	r.mu.Lock()
	sb := r.sandbox
	r.mu.Unlock()
	if sb == nil {
		return errdefs.InvalidInputf("pod %s/%s has no sandbox yet", namespace, pod)
	}
	conn, err := dialInNetns(sb.Netns, port)
	if err != nil {
		return fmt.Errorf("port-forward to %s/%s:%d: %w", namespace, pod, port, err)
	}
	defer func() { _ = conn.Close() }()
	go func() {
		<-ctx.Done()
		_ = conn.Close()
	}()
	go func() {
		_, _ = io.Copy(conn, stream)
		// The client is done sending: pass the half-close on, keep reading the answer.
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	_, _ = io.Copy(stream, conn)
	return stream.Close()
}

// dialInNetns opens a TCP connection from inside a network namespace: the socket is made by a
// thread that has entered the namespace (a socket stays in the namespace it was made in).
func dialInNetns(netns string, port int32) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		restored := false
		// A thread left in the pod's namespace is never reused: it ends with this goroutine.
		defer func() {
			if restored {
				runtime.UnlockOSThread()
			}
		}()
		self, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer func() { _ = unix.Close(self) }()
		target, err := unix.Open("/run/netns/"+netns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			restored = true
			done <- result{err: fmt.Errorf("network namespace %s: %w", netns, err)}
			return
		}
		defer func() { _ = unix.Close(target) }()
		if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
			restored = true
			done <- result{err: fmt.Errorf("entering network namespace %s: %w", netns, err)}
			return
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))), 5*time.Second)
		restored = unix.Setns(self, unix.CLONE_NEWNET) == nil
		done <- result{conn, err}
	}()
	res := <-done
	return res.conn, res.err
}

// GetStatsSummary: no resource accounting on this node; an empty summary keeps callers working.
func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.nodeName}}, nil
}

func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, nil
}

// webSocketPortForward serves port-forwards that arrive as WebSockets (v4.channel.k8s.io, as
// kube-rs and older kubectl send them; the API server passes those through to the kubelet)
// with the ports the request names. virtual-kubelet's handler gives the WebSocket path empty
// options, so such a forward carried no port and closed at once. SPDY requests (and the
// API server's translation of kubectl's tunnelled ones) go on to virtual-kubelet's handler.
func webSocketPortForward(next http.Handler, p *provider) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/portForward/")
		if !ok || !wsstream.IsWebSocketRequest(r) {
			next.ServeHTTP(w, r)
			return
		}
		namespace, pod, ok := strings.Cut(rest, "/")
		if !ok || namespace == "" || pod == "" || strings.Contains(pod, "/") {
			http.Error(w, "expected /portForward/NAMESPACE/POD", http.StatusBadRequest)
			return
		}
		opts, err := portforward.NewV4Options(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		forwarder := podPortForwarder{provider: p, namespace: namespace}
		portforward.ServePortForward(w, r, forwarder, pod, "", opts, 4*time.Hour, 30*time.Second, nil)
	})
}

// podPortForwarder is the kubelet streaming library's PortForwarder for one namespace.
type podPortForwarder struct {
	provider  *provider
	namespace string
}

func (f podPortForwarder) PortForward(ctx context.Context, pod string, _ types.UID, port int32, stream io.ReadWriteCloser) error {
	return f.provider.PortForward(ctx, f.namespace, pod, port, stream)
}
