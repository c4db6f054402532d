//go:build tools

// Keeps the dependencies of istioctl and istiod (pilot-discovery) in go.sum, so
// scripts/lib/common.sh can build them from this module at the same Istio version as the oracle.
package oracle

import (
	_ "istio.io/istio/istioctl/cmd/istioctl"
	_ "istio.io/istio/pilot/cmd/pilot-discovery"
)
