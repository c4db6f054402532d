// Command idealapply is scripts/bench's "ideal client": it server-side applies a list of objects
// with a fixed number of requests in flight over one HTTP/2 connection, and does nothing else (no
// discovery, no reads, no rate limiter, no decoding of the answers beyond their status). It sets
// the bar the API server allows on the machine, for `kubectl egress allow` of many hosts and
// `kubectl apply --server-side` of the same objects.
//
// It is Go, in this module, because client-go (pinned here with kube-apiserver and kubectl) reads
// kubeconfigs exactly as kubectl does and its transport speaks HTTP/2 to the API server, as
// kubectl's does; scripts/lib/common.sh builds and caches it like the other tools.
//
//	idealapply --kubeconfig FILE [--concurrency 16] [--field-manager NAME] [--dry-run] < list.json
//
// Reads a JSON List (`kubectl egress allow ... --dry-run=client -o json`) or a JSON object per
// line on stdin; each item needs apiVersion, kind, metadata.name and metadata.namespace. Prints
// one JSON line: objects applied, failures, the HTTP protocol of the answers, seconds. Exit 1
// when any apply failed (the first failures go to stderr).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

type object struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// plural of the kinds the plugin writes (ServiceEntry, VirtualService, DestinationRule, Gateway).
func plural(kind string) string {
	lower := strings.ToLower(kind)
	if strings.HasSuffix(lower, "y") {
		return strings.TrimSuffix(lower, "y") + "ies"
	}
	return lower + "s"
}

func readObjects(in io.Reader) ([]json.RawMessage, error) {
	data, err := io.ReadAll(in)
	if err != nil {
		return nil, err
	}
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &list); err == nil && list.Kind == "List" {
		return list.Items, nil
	}
	var items []json.RawMessage
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 1<<20), 1<<26)
	for scanner.Scan() {
		line := bytes.TrimSpace(scanner.Bytes())
		if len(line) > 0 {
			items = append(items, append(json.RawMessage{}, line...))
		}
	}
	return items, scanner.Err()
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file")
	concurrency := flag.Int("concurrency", 16, "requests in flight")
	fieldManager := flag.String("field-manager", "kubectl-egress", "server-side apply field manager")
	dryRun := flag.Bool("dry-run", false, "server dry run (dryRun=All): validated, not stored")
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	// No client-side rate limiter: the server is the limit being measured.
	config.QPS = -1
	var protocol atomic.Value
	protocol.Store("")
	config.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(r)
			if err == nil {
				protocol.Store(resp.Proto)
			}
			return resp, err
		})
	})
	client, err := rest.HTTPClientFor(config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
	items, err := readObjects(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error: reading objects:", err)
		os.Exit(2)
	}

	start := time.Now()
	var failed atomic.Int64
	var reported atomic.Int64
	work := make(chan json.RawMessage)
	var wg sync.WaitGroup
	for i := 0; i < *concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for raw := range work {
				if err := apply(client, config.Host, *fieldManager, *dryRun, raw); err != nil {
					failed.Add(1)
					if reported.Add(1) <= 5 {
						fmt.Fprintln(os.Stderr, "error:", err)
					}
				}
			}
		}()
	}
	for _, raw := range items {
		work <- raw
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	summary, _ := json.Marshal(map[string]any{
		"applied":  int64(len(items)) - failed.Load(),
		"failed":   failed.Load(),
		"protocol": protocol.Load(),
		"seconds":  elapsed,
	})
	fmt.Println(string(summary))
	if failed.Load() > 0 {
		os.Exit(1)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func apply(client *http.Client, host, fieldManager string, dryRun bool, raw json.RawMessage) error {
	var o object
	if err := json.Unmarshal(raw, &o); err != nil {
		return err
	}
	prefix := "/apis/" + o.APIVersion
	if !strings.Contains(o.APIVersion, "/") {
		prefix = "/api/" + o.APIVersion
	}
	url := fmt.Sprintf("%s%s/namespaces/%s/%s/%s?fieldManager=%s", strings.TrimSuffix(host, "/"),
		prefix, o.Metadata.Namespace, plural(o.Kind), o.Metadata.Name, fieldManager)
	if dryRun {
		url += "&dryRun=All"
	}
	request, err := http.NewRequestWithContext(context.Background(), http.MethodPatch, url,
		bytes.NewReader(raw))
	if err != nil {
		return err
	}
	request.Header.Set("Content-Type", "application/apply-patch+yaml")
	request.Header.Set("Accept", "application/json")
	resp, err := client.Do(request)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", o.Kind, o.Metadata.Name, resp.StatusCode,
			strings.TrimSpace(string(body)))
	}
	return nil
}
