// Command stripcrds rewrites Istio's CRD file so that the local control plane looks like a
// cluster of an older Istio:
//
//	stripcrds v1beta1 < customresourcedefinitions.gen.yaml > crds.json
//
// v1beta1: networking.istio.io serves v1beta1 (and v1alpha3) only, as before Istio 1.22, and
// v1beta1 becomes the storage version; CRDs of that group with no v1beta1 are dropped. Other
// groups pass unchanged. The output is a JSON List, which kubectl apply -f - reads.
//
// It is Go, in this module, so that no YAML library has to be installed while the tests run:
// apimachinery's decoder reads the multi-document YAML as kubectl does.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/util/yaml"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "v1beta1" {
		fmt.Fprintln(os.Stderr, "usage: stripcrds v1beta1 < crds.yaml > crds.json")
		os.Exit(2)
	}
	items, err := strip(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stripcrds:", err)
		os.Exit(1)
	}
	list := map[string]any{"apiVersion": "v1", "kind": "List", "items": items}
	if err := json.NewEncoder(os.Stdout).Encode(list); err != nil {
		fmt.Fprintln(os.Stderr, "stripcrds:", err)
		os.Exit(1)
	}
}

func strip(in io.Reader) ([]map[string]any, error) {
	decoder := yaml.NewYAMLOrJSONDecoder(in, 4096)
	var items []map[string]any
	for {
		var doc map[string]any
		if err := decoder.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				return items, nil
			}
			return nil, err
		}
		if doc == nil {
			continue
		}
		spec, _ := doc["spec"].(map[string]any)
		if spec == nil || spec["group"] != "networking.istio.io" {
			items = append(items, doc)
			continue
		}
		versions, _ := spec["versions"].([]any)
		var kept []any
		hasV1beta1 := false
		for _, v := range versions {
			version, _ := v.(map[string]any)
			if version == nil || version["name"] == "v1" {
				continue
			}
			version["storage"] = version["name"] == "v1beta1"
			hasV1beta1 = hasV1beta1 || version["name"] == "v1beta1"
			kept = append(kept, version)
		}
		if !hasV1beta1 {
			continue
		}
		spec["versions"] = kept
		items = append(items, doc)
	}
}
