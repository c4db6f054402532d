package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runtimeConfig is the --runtime file: how a pod's sandbox is made and which local command stands
// in for which image.
type runtimeConfig struct {
	Sandbox struct {
		Add []string `json:"add"`
		Del []string `json:"del"`
	} `json:"sandbox"`
	Images []imageEntry `json:"images"`
}

type imageEntry struct {
	Match   string   `json:"match"`
	Command []string `json:"command"`
	// User is the uid the command runs as when the pod's securityContext names none.
	User *int64 `json:"user,omitempty"`
}

func loadRuntime(path string) (*runtimeConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rt runtimeConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rt); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rt.Sandbox.Add) == 0 || len(rt.Sandbox.Del) == 0 {
		return nil, fmt.Errorf("%s: sandbox.add and sandbox.del must both name a command", path)
	}
	for i, im := range rt.Images {
		if im.Match == "" || len(im.Command) == 0 {
			return nil, fmt.Errorf("%s: images[%d] needs a match and a command", path, i)
		}
	}
	return &rt, nil
}

// imageFor is the first entry whose match is a substring of the image.
func (rt *runtimeConfig) imageFor(image string) *imageEntry {
	for i := range rt.Images {
		if strings.Contains(image, rt.Images[i].Match) {
			return &rt.Images[i]
		}
	}
	return nil
}

// sandboxInfo is what sandbox.add prints, plus the pod it belongs to; kept in the pod's state
// directory so that a meshnode that died without cleaning up can undo it on its next start.
type sandboxInfo struct {
	IP        string `json:"ip"`
	Netns     string `json:"netns"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	UID       string `json:"uid,omitempty"`
}

// Hooks get a bounded time: a hung hook must not hang pod deletion or shutdown forever.
const hookTimeout = 30 * time.Second

func hookEnv(sb *sandboxInfo) []string {
	env := append(os.Environ(), "POD_NAMESPACE="+sb.Namespace, "POD_NAME="+sb.Name, "POD_UID="+sb.UID)
	if sb.Netns != "" {
		env = append(env, "POD_IP="+sb.IP, "POD_NETNS="+sb.Netns)
	}
	return env
}

// runHook runs a sandbox hook, its stderr appended to logFile, and returns its stdout.
func runHook(argv []string, env []string, logFile string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// Its own process group, so that a timeout kills whatever the hook started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	if logFile != "" && stderr.Len() > 0 {
		if f, ferr := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
			_, _ = f.Write(stderr.Bytes())
			_ = f.Close()
		}
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 400 {
			msg = "..." + msg[len(msg)-400:]
		}
		return stdout.Bytes(), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, msg)
	}
	return stdout.Bytes(), nil
}

// addSandbox runs sandbox.add for the pod and parses the JSON line it prints (the last one that
// looks like an object, so a chatty hook does not break it).
func (rt *runtimeConfig) addSandbox(namespace, name, uid, logFile string) (*sandboxInfo, error) {
	sb := &sandboxInfo{Namespace: namespace, Name: name, UID: uid}
	out, err := runHook(rt.Sandbox.Add, hookEnv(sb), logFile)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "{") {
			continue
		}
		if err := json.Unmarshal([]byte(line), sb); err != nil {
			return nil, fmt.Errorf("sandbox.add printed %q: %w", line, err)
		}
		if sb.IP == "" || sb.Netns == "" {
			return nil, fmt.Errorf("sandbox.add printed %q: want both \"ip\" and \"netns\"", line)
		}
		if _, err := os.Stat(filepath.Join("/run/netns", sb.Netns)); err != nil {
			return nil, fmt.Errorf("sandbox.add named network namespace %q, which does not exist: %w", sb.Netns, err)
		}
		return sb, nil
	}
	return nil, fmt.Errorf("sandbox.add printed no JSON line (stdout: %q)", strings.TrimSpace(string(out)))
}

func (rt *runtimeConfig) delSandbox(sb *sandboxInfo, logFile string) error {
	_, err := runHook(rt.Sandbox.Del, hookEnv(sb), logFile)
	return err
}

// killNetnsProcesses SIGKILLs every process left in the network namespace (daemons that left
// their container's process group, exec sessions), a few rounds until none is left.
func killNetnsProcesses(netns string) {
	for range 5 {
		out, err := exec.Command("ip", "netns", "pids", netns).Output()
		if err != nil {
			return
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recoverLeftovers undoes the sandboxes of a previous meshnode that did not shut down cleanly
// (killed with SIGKILL): their processes are killed and sandbox.del runs for each.
func recoverLeftovers(rt *runtimeConfig, podsDir string) {
	entries, err := os.ReadDir(podsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(podsDir, e.Name())
		data, err := os.ReadFile(filepath.Join(dir, "sandbox.json"))
		if err == nil {
			var sb sandboxInfo
			if json.Unmarshal(data, &sb) == nil && sb.Netns != "" {
				logger.Info("cleaning up a sandbox left by an earlier meshnode", "pod", sb.Namespace+"/"+sb.Name, "netns", sb.Netns)
				killNetnsProcesses(sb.Netns)
				if err := rt.delSandbox(&sb, ""); err != nil {
					logger.Warn("sandbox.del of a leftover sandbox failed", "netns", sb.Netns, "err", err)
				}
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			logger.Warn("reading leftover sandbox state", "dir", dir, "err", err)
		}
		_ = os.RemoveAll(dir)
	}
}
