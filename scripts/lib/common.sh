# Shared by the project's scripts: pinned versions, the binary cache, messages.
# shellcheck shell=bash

# Pinned versions. The harness modules in hack/harness pin the same ones in their go.mod.
KUBE_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
ISTIO_API_VERSION=v1.32.0
KREW_VERSION=v0.4.3

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${KUBECTL_EGRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-egress}
BIN_CACHE=$CACHE_DIR/bin

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need() {
    local tool=$1 how=$2
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required but not on PATH: $how"
}

# build_go_tool NAME VERSION HARNESS_DIR PACKAGE [LDFLAGS]: builds once per version into the cache,
# printing progress (packages compiled, minutes) while a cold build runs. Echoes the binary path.
build_go_tool() {
    local name=$1 version=$2 harness=$3 package=$4 ldflags=${5:-}
    local out=$BIN_CACHE/$name-$version
    if [[ -x $out ]]; then
        echo "$out"
        return 0
    fi
    need go "install Go 1.24 or newer (https://go.dev/doc/install)"
    mkdir -p "$BIN_CACHE"
    local log=$BIN_CACHE/$name-$version.build.log
    say "building $name $version from Go modules (first time only; a cold build takes minutes on 2 cores)..."
    local start=$SECONDS
    (cd "$REPO_ROOT/$harness" && go build -v -ldflags "-s -w $ldflags" -o "$out.tmp" "$package") >"$log" 2>&1 &
    local pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 15
        kill -0 "$pid" 2>/dev/null || break
        say "  $name: $((SECONDS - start))s, $(grep -c -v '^go: ' "$log" 2>/dev/null || echo 0) packages compiled, last: $(tail -n 1 "$log" 2>/dev/null)"
    done
    if ! wait "$pid"; then
        tail -n 30 "$log" >&2
        die "building $name $version failed (full log: $log)"
    fi
    mv "$out.tmp" "$out"
    say "built $name $version in $((SECONDS - start))s -> $out"
    echo "$out"
}

kube_ldflags() {
    local minor=${KUBE_VERSION#v1.}
    minor=${minor%%.*}
    echo "-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
}

kube_apiserver_bin() { build_go_tool kube-apiserver "$KUBE_VERSION" hack/harness/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$(kube_ldflags)"; }
kubectl_bin() { build_go_tool kubectl "$KUBE_VERSION" hack/harness/kube-apiserver k8s.io/kubernetes/cmd/kubectl "$(kube_ldflags)"; }
etcd_bin() { build_go_tool etcd "$ETCD_VERSION" hack/harness/etcd go.etcd.io/etcd/server/v3; }
krew_bin() { build_go_tool krew "$KREW_VERSION" hack/harness/krew sigs.k8s.io/krew/cmd/krew; }
validate_krew_bin() { build_go_tool validate-krew-manifest "$KREW_VERSION" hack/harness/krew sigs.k8s.io/krew/cmd/validate-krew-manifest; }

# The Istio CRDs, straight from the istio.io/api Go module.
istio_crds_file() {
    need go "install Go 1.24 or newer"
    local dir
    dir=$(cd "$REPO_ROOT/hack/harness/kube-apiserver" && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -f $dir/kubernetes/customresourcedefinitions.gen.yaml ]] || die "istio.io/api $ISTIO_API_VERSION has no kubernetes/customresourcedefinitions.gen.yaml"
    echo "$dir/kubernetes/customresourcedefinitions.gen.yaml"
}
