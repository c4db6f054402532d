package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"POD_NAMESPACE": "student1", "EMPTY": ""}
	for in, want := range map[string]string{
		"$(POD_NAMESPACE).svc.cluster.local": "student1.svc.cluster.local",
		"$(UNDEFINED)/x":                     "$(UNDEFINED)/x",
		"$$(POD_NAMESPACE)":                  "$(POD_NAMESPACE)",
		"a$(EMPTY)b":                         "ab",
		"cost $5 $(":                         "cost $5 $(",
		"$(id -u)":                           "$(id -u)",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSubscript(t *testing.T) {
	if k, ok := subscript("metadata.labels['app']", "metadata.labels"); !ok || k != "app" {
		t.Errorf("got %q %v", k, ok)
	}
	if k, ok := subscript(`metadata.annotations["a/b"]`, "metadata.annotations"); !ok || k != "a/b" {
		t.Errorf("got %q %v", k, ok)
	}
	if _, ok := subscript("metadata.labels", "metadata.labels"); ok {
		t.Error("no subscript must not parse")
	}
}

func TestResourceValue(t *testing.T) {
	c := &corev1.Container{Resources: corev1.ResourceRequirements{
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("1Gi")},
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
	}}
	for _, tc := range []struct {
		res, divisor, want string
		c                  *corev1.Container
	}{
		{"limits.cpu", "", "1", c},
		{"limits.cpu", "1m", "500", c},
		{"limits.memory", "1Mi", "1024", c},
		{"requests.cpu", "1m", "100", c},
		{"limits.cpu", "", "2", &corev1.Container{}},
		{"limits.memory", "", "25769803776", &corev1.Container{}},
		{"requests.memory", "", "0", &corev1.Container{}},
	} {
		ref := &corev1.ResourceFieldSelector{Resource: tc.res}
		if tc.divisor != "" {
			ref.Divisor = resource.MustParse(tc.divisor)
		}
		if got := resourceValue(tc.c, ref); got != tc.want {
			t.Errorf("%s/%s = %s, want %s", tc.res, tc.divisor, got, tc.want)
		}
	}
}

func TestTailOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b strings.Builder
	for i := range 100000 {
		b.WriteString(strings.Repeat("x", i%7) + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, n := range []int{1, 3, 12345, 100000, 200000} {
		off, err := tailOffset(f, n)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Count(b.String()[off:], "\n")
		want := min(n, 100000)
		if got != want {
			t.Errorf("tail %d: %d lines from offset %d", n, got, off)
		}
	}
}

func TestLoopbackPort(t *testing.T) {
	if p, err := loopbackPort("127.0.0.1:10250"); err != nil || p != 10250 {
		t.Errorf("got %d %v", p, err)
	}
	for _, bad := range []string{"0.0.0.0:10250", ":10250", "localhost:10250", "10.0.0.1:1", "127.0.0.1:0", "127.0.0.1"} {
		if _, err := loopbackPort(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
