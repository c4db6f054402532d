//go:build tools

// Keeps istioctl's dependencies in go.sum, so scripts/lib/common.sh can build
// istio.io/istio/istioctl/cmd/istioctl from this module at the same Istio version.
package oracle

import _ "istio.io/istio/istioctl/cmd/istioctl"
