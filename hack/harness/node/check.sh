#!/usr/bin/env bash
# Checks meshnode (hack/harness/node/meshnode) against a running cluster, through the cluster's
# real kubectl: it starts the node with a test runtime (images mapped to sh -c and python3
# http.server, a sandbox hook that makes a network namespace with a fixed address), runs pods on
# it, and checks registration, status, logs, exec, port-forward, restarts, fast deletion, that the
# kubelet API refuses clients without the API server's certificate, and that nothing is left
# behind once the node stops. Prints PASS/FAIL lines; exits non-zero if any check failed.
#
#   EGRESS_CLUSTER_DIR=/tmp/nodedev scripts/cluster up --crds none
#   EGRESS_CLUSTER_DIR=/tmp/nodedev hack/harness/node/check.sh
#
# Needs root (network namespaces), curl, python3, ip, setpriv. NODE_CHECK_KEEP=1 keeps its work
# directory (the node's log, the hook's log) for a look afterwards.
set -euo pipefail
# shellcheck source=../../../scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../scripts/lib/common.sh"
no_arguments "$@"

STATE=${EGRESS_CLUSTER_DIR:-$DEFAULT_CLUSTER_DIR}
if [[ ! -f $STATE/apiserver.pid ]] || ! kill -0 "$(cat "$STATE/apiserver.pid")" 2>/dev/null; then
    die "no cluster is running in $STATE: run scripts/cluster up first"
fi
[[ -f $STATE/node.kubeconfig && -f $STATE/pki/kubelet.crt ]] ||
    die "$STATE has no node kubeconfig or kubelet certificates: restart it with this scripts/cluster"
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for tool in curl python3 ip setpriv; do need "$tool" "apt-get install it"; done

NODE=meshnode
MARK=nodecheck-marker-$$
WORK=$(mktemp -d /tmp/meshnode-check.XXXXXX)
chmod 755 "$WORK"
K=("$STATE/kubectl" --kubeconfig "$STATE/admin.kubeconfig")
failures=0
node_pid=
pf_pid=

pass() { printf 'PASS %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; failures=$((failures + 1)); }
# check NAME COMMAND...: PASS if the command succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

cleanup() {
    [[ -z $pf_pid ]] || kill "$pf_pid" 2>/dev/null || true
    if [[ -n $node_pid ]] && kill -0 "$node_pid" 2>/dev/null; then
        kill "$node_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$node_pid" 2>/dev/null || true
    fi
    # Only what this check's hook made (it records each namespace it adds).
    if [[ -f $WORK/netns.list ]]; then
        while read -r ns; do
            ip netns del "$ns" 2>/dev/null || true
            rm -rf "/etc/netns/$ns"
        done <"$WORK/netns.list"
    fi
    "${K[@]}" delete pod -l nodecheck=1 --grace-period=0 --force --wait=false >/dev/null 2>&1 || true
    "${K[@]}" delete node "$NODE" --wait=false >/dev/null 2>&1 || true
    if [[ -n ${NODE_CHECK_KEEP:-} ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The sandbox hook: a network namespace whose lo also holds a fixed address per pod,
# and its resolv.conf; del removes both. Every call is logged so the checks can see it ran.
cat >"$WORK/hook" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
work=$(dirname "$0")
echo "$1 $POD_NAMESPACE/$POD_NAME uid=$POD_UID ip=${POD_IP:-} netns=${POD_NETNS:-}" >>"$work/hook.log"
case $1 in
    add)
        exec 9>"$work/hook.lock"
        flock 9
        n=$(($(cat "$work/counter" 2>/dev/null || echo 10) + 1))
        echo "$n" >"$work/counter"
        ns=mnchk-$$-$n
        ip netns add "$ns"
        echo "$ns" >>"$work/netns.list"
        ip -n "$ns" link set lo up
        ip -n "$ns" addr add "10.250.0.$n/32" dev lo
        mkdir -p "/etc/netns/$ns"
        echo "nameserver 10.96.0.10" >"/etc/netns/$ns/resolv.conf"
        echo "adding $ns" >&2
        printf '{"ip": "10.250.0.%s", "netns": "%s"}\n' "$n" "$ns"
        ;;
    del)
        ip netns del "$POD_NETNS"
        rm -rf "/etc/netns/$POD_NETNS"
        ;;
esac
EOF
chmod 755 "$WORK/hook"
cat >"$WORK/runtime.json" <<EOF
{"sandbox": {"add": ["$WORK/hook", "add"], "del": ["$WORK/hook", "del"]},
 "images": [{"match": "check/sh", "command": ["sh", "-c"]},
            {"match": "check/http", "command": ["python3", "-m", "http.server"], "user": 1000}]}
EOF

bin=$(mesh_node_bin)
port=$(free_port)
node_args=(--kubeconfig "$STATE/node.kubeconfig" --node-name "$NODE" --tls-cert "$STATE/pki/kubelet.crt"
    --tls-key "$STATE/pki/kubelet.key" --client-ca "$STATE/pki/kubelet-client-ca.crt"
    --runtime "$WORK/runtime.json" --state "$WORK/state")

if "$bin" "${node_args[@]}" --listen "0.0.0.0:$port" >"$WORK/refused.log" 2>&1; then
    fail "meshnode refuses a non-loopback --listen"
else
    check "meshnode refuses a non-loopback --listen" grep -q "loopback" "$WORK/refused.log"
fi

"$bin" "${node_args[@]}" --listen "127.0.0.1:$port" >"$WORK/node.log" 2>&1 &
node_pid=$!
ready=
for _ in $(seq 1 100); do
    if [[ $("${K[@]}" get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]; then
        ready=1
        break
    fi
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.2
done
if [[ -z $ready ]]; then
    fail "node $NODE registers and is Ready"
    tail -n 30 "$WORK/node.log"
    exit 1
fi
pass "node $NODE registers and is Ready"
check "node publishes only InternalIP 127.0.0.1 and port $port" test \
    "$("${K[@]}" get node "$NODE" -o jsonpath='{.status.addresses[*].type}={.status.addresses[*].address}:{.status.daemonEndpoints.kubeletEndpoint.Port}')" == "InternalIP=127.0.0.1:$port"
check "node capacity cpu 2, memory 24Gi, pods 110" test \
    "$("${K[@]}" get node "$NODE" -o jsonpath='{.status.capacity.cpu}/{.status.capacity.memory}/{.status.capacity.pods}')" == "2/24Gi/110"
check "node lease in kube-node-lease" "${K[@]}" -n kube-node-lease get lease "$NODE" -o name >/dev/null

cat >"$WORK/pod.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: node-check
  namespace: default
  labels: {nodecheck: "1", app: checker}
  annotations: {kubectl.kubernetes.io/default-container: main}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 30
  initContainers:
  - name: sidecar
    image: check/sh
    restartPolicy: Always
    args: ["echo native sidecar up; while true; do sleep 1; done # $MARK"]
  - name: init
    image: check/sh
    args: ["echo init ran as \$(id -u) $MARK"]
  containers:
  - name: main
    image: check/sh
    env:
    - {name: MY_POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MY_APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: MY_NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: MY_CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
    - {name: GREETING, value: hello}
    - {name: MSG, value: "\$(GREETING) world"}
    args:
    - |
      for i in 1 2 3 4 5; do echo line\$i; done
      echo "env ip=\$MY_POD_IP app=\$MY_APP node=\$MY_NODE cpu=\$MY_CPU msg=\$MSG egress_ip=\$EGRESS_POD_IP labels=\$EGRESS_POD_LABELS container=\$EGRESS_CONTAINER_NAME sa=\$EGRESS_POD_SERVICE_ACCOUNT"
      echo "resolv: \$(cat /etc/resolv.conf)"
      trap 'echo got TERM; exit 0' TERM
      while true; do echo tick; sleep 0.3; done # $MARK
  - name: web
    image: check/http
    args: ["8080", "--bind", "127.0.0.1"]
    env: [{name: MARK, value: $MARK}]
  - name: stubborn
    image: check/sh
    args: ["trap 'echo ignoring TERM' TERM; while true; do sleep 0.2; done # $MARK"]
EOF
cat >"$WORK/bad.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: node-check-bad, namespace: default, labels: {nodecheck: "1"}}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 30
  containers:
  - name: crasher
    image: check/sh
    args: ["echo crashing $MARK; exit 7"]
  - name: unmapped
    image: example.com/not-in-runtime:1.0
---
apiVersion: v1
kind: Pod
metadata: {name: node-check-initfail, namespace: default, labels: {nodecheck: "1"}}
spec:
  nodeName: $NODE
  initContainers:
  - name: failing-init
    image: check/sh
    args: ["echo init failing $MARK; exit 4"]
  containers:
  - name: never
    image: check/sh
    args: ["sleep 1000 # $MARK"]
EOF

start=$(date +%s.%N)
"${K[@]}" apply -f "$WORK/pod.yaml" -f "$WORK/bad.yaml" >/dev/null
if "${K[@]}" wait --for=condition=Ready pod/node-check --timeout=30s >/dev/null; then
    pass "pod Running and Ready in $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")s (kubectl apply + wait)"
else
    fail "pod Running and Ready"
    "${K[@]}" get pod node-check -o yaml | sed -n '/^status:/,$p'
    tail -n 30 "$WORK/node.log"
fi
pod_ip=$("${K[@]}" get pod node-check -o jsonpath='{.status.podIP}')
check "podIP is the sandbox's address ($pod_ip)" grep -q "sandbox ready.* pod=default/node-check ip=$pod_ip " "$WORK/node.log"
check "podIP/podIPs/hostIP/phase" test "$("${K[@]}" get pod node-check -o jsonpath='{.status.phase} {.status.podIPs[0].ip} {.status.hostIP} {.status.startTime}' | cut -c1-30)" \
    == "$(printf 'Running %s 127.0.0.1 20' "$pod_ip" | cut -c1-30)"
check "conditions PodScheduled, Initialized, ContainersReady, Ready are True" test \
    "$("${K[@]}" get pod node-check -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status}{.status.conditions[?(@.type=="Initialized")].status}{.status.conditions[?(@.type=="ContainersReady")].status}{.status.conditions[?(@.type=="Ready")].status}')" == TrueTrueTrueTrue
check "native sidecar (init, restartPolicy Always) running; init container terminated with exit 0" test \
    "$("${K[@]}" get pod node-check -o jsonpath='{.status.initContainerStatuses[0].started}/{.status.initContainerStatuses[1].state.terminated.exitCode}')" == true/0
check "containers running and ready" test \
    "$("${K[@]}" get pod node-check -o jsonpath='{.status.containerStatuses[*].ready}')" == "true true true"

# Logs.
sleep 0.5
logs=$("${K[@]}" logs node-check)
check "kubectl logs (default container from the annotation)" grep -q '^line5$' <<<"$logs"
check "env: fieldRefs, resourceFieldRef, \$(VAR) expansion, EGRESS_* variables" grep -qx \
    "env ip=$pod_ip app=checker node=$NODE cpu=2 msg=hello world egress_ip=$pod_ip labels=app=checker,nodecheck=1 container=main sa=default" <<<"$logs"
check "container sees the pod's resolv.conf (/etc/netns bind mount)" grep -q "resolv: nameserver 10.96.0.10" <<<"$logs"
check "kubectl logs -c init (init ran as root)" grep -q "init ran as 0 $MARK" <<<"$("${K[@]}" logs node-check -c init)"
check "kubectl logs --tail=2 gives 2 lines" test "$("${K[@]}" logs node-check -c main --tail=2 | wc -l)" == 2
check "kubectl logs --timestamps" grep -Eq '^20[0-9-]+T[0-9:.]+Z tick$' <<<"$("${K[@]}" logs node-check --tail=1 --timestamps)"
check "kubectl logs --limit-bytes=5" test "$("${K[@]}" logs node-check --limit-bytes=5)" == line1
follow_rc=0
timeout 3 "${K[@]}" logs -f node-check --tail=1 >"$WORK/follow.out" 2>&1 || follow_rc=$?
check "kubectl logs -f streams new lines until stopped (rc $follow_rc, $(grep -c tick "$WORK/follow.out") ticks in 3 s)" \
    test "$follow_rc" == 124 -a "$(grep -c tick "$WORK/follow.out")" -ge 5

# Exec.
exec_rc=0
"${K[@]}" exec node-check -c main -- sh -c 'exit 3' 2>/dev/null || exec_rc=$?
check "kubectl exec -- sh -c 'exit 3' returns 3 (got $exec_rc)" test "$exec_rc" == 3
check "kubectl exec runs in the pod's netns (ip addr shows $pod_ip)" grep -q "inet $pod_ip/" <<<"$("${K[@]}" exec node-check -- ip -4 addr)"
check "kubectl exec -i passes stdin" test "$(echo via-stdin | "${K[@]}" exec -i node-check -- cat)" == via-stdin
check "kubectl exec runs as the container's user (web: image user 1000)" test "$("${K[@]}" exec node-check -c web -- id -u)" == 1000
# shellcheck disable=SC2016 # $MSG is for the container's shell
check "kubectl exec gets the container's env" test "$("${K[@]}" exec node-check -- sh -c 'echo $MSG')" == "hello world"

# Port-forward to a listener only the pod's netns has (python3 http.server on its 127.0.0.1:8080).
"${K[@]}" port-forward pod/node-check :8080 >"$WORK/pf.out" 2>&1 &
pf_pid=$!
local_port=
for _ in $(seq 1 50); do
    local_port=$(sed -n 's/^Forwarding from 127.0.0.1:\([0-9]*\) -> 8080$/\1/p' "$WORK/pf.out")
    [[ -z $local_port ]] || break
    sleep 0.1
done
if [[ -n $local_port ]] && curl -sf --max-time 5 "http://127.0.0.1:$local_port/" -o "$WORK/pf.body"; then
    pass "kubectl port-forward pod/node-check :8080 reaches the pod's listener"
    check "port-forward twice on one tunnel" curl -sf --max-time 5 "http://127.0.0.1:$local_port/" -o /dev/null
else
    fail "kubectl port-forward pod/node-check :8080 reaches the pod's listener"
    cat "$WORK/pf.out"
fi
kill "$pf_pid" 2>/dev/null || true
wait "$pf_pid" 2>/dev/null || true
pf_pid=
check "the web container logged the request (kubectl logs -c web)" grep -q '"GET / HTTP/1.1" 200' <<<"$("${K[@]}" logs node-check -c web)"
check "nothing listens on the host's 8080 (the listener is in the pod's netns)" \
    test -z "$(python3 -c 'import socket; s=socket.socket(); print("open" if s.connect_ex(("127.0.0.1", 8080)) == 0 else "")')"

# Failures show in the status.
crash_ok=
for _ in $(seq 1 50); do
    if [[ $("${K[@]}" get pod node-check-bad -o jsonpath='{.status.containerStatuses[?(@.name=="crasher")].restartCount}') -ge 1 ]]; then
        crash_ok=1
        break
    fi
    sleep 0.2
done
check "an exiting container is restarted (restartCount >= 1)" test -n "$crash_ok"
check "its lastState shows exit code 7" test \
    "$("${K[@]}" get pod node-check-bad -o jsonpath='{.status.containerStatuses[?(@.name=="crasher")].lastState.terminated.exitCode}')" == 7
follow_rc=0
timeout 10 "${K[@]}" logs -f node-check-bad -c crasher >/dev/null 2>&1 || follow_rc=$?
check "kubectl logs -f of a container that has exited ends by itself (rc $follow_rc)" test "$follow_rc" == 0
check "kubectl logs of a container that never started says why" grep -q 'is waiting to start: CreateContainerError' \
    <<<"$("${K[@]}" logs node-check-bad -c unmapped 2>&1 || true)"
check "kubectl logs --previous" grep -q "crashing $MARK" <<<"$("${K[@]}" logs node-check-bad -c crasher --previous)"
check "an unmapped image waits with a reason naming the image" grep -q 'CreateContainerError .*example.com/not-in-runtime:1.0' <<<"$("${K[@]}" get pod node-check-bad \
    -o jsonpath='{.status.containerStatuses[?(@.name=="unmapped")].state.waiting.reason} {.status.containerStatuses[?(@.name=="unmapped")].state.waiting.message}')"
check "a failing init container shows exit 4 and keeps the pod Pending" grep -Eq '^Pending 44?$' <<<"$("${K[@]}" get pod node-check-initfail -o jsonpath='{.status.phase} {.status.initContainerStatuses[0].lastState.terminated.exitCode}{.status.initContainerStatuses[0].state.terminated.exitCode}')"

# The kubelet API takes only the API server's client certificate.
check "kubelet API refuses a client without a certificate" \
    test "$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' "https://127.0.0.1:$port/pods" || true)" == 000
check "kubelet API refuses a certificate from the cluster CA (student1's)" \
    test "$(curl -sk --max-time 5 -o /dev/null -w '%{http_code}' --cert "$STATE/pki/student1.crt" --key "$STATE/pki/student1.key" "https://127.0.0.1:$port/pods" || true)" == 000
check "kubelet API serves the API server's kubelet client certificate (serving cert checks out for 127.0.0.1)" \
    test "$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/apiserver-kubelet-client.crt" \
        --key "$STATE/pki/apiserver-kubelet-client.key" "https://127.0.0.1:$port/pods" || true)" == 200

rss_kb=$(ps -o rss= -p "$node_pid" | tr -d ' ')

# Deletion: a 30 s grace pod goes in a couple of seconds, its sandbox deleted.
netns=$(grep "^add default/node-check " "$WORK/hook.log" | tail -n 1 | sed 's/.* //')
start=$(date +%s.%N)
"${K[@]}" delete pod node-check >/dev/null
took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$start" "$(date +%s.%N)")
check "kubectl delete pod (grace 30 s, a container ignoring SIGTERM) returns within 3 s (${took}s)" python3 -c "import sys; sys.exit(float(sys.argv[1]) >= 3)" "$took"
check "its state directory is removed" test -z "$(find "$WORK/state/pods" -maxdepth 1 -name 'default_node-check_*')"
check "sandbox.del ran with POD_IP and POD_NETNS" grep -q "^del default/node-check uid=.* ip=$pod_ip netns=mnchk-" "$WORK/hook.log"
check "its network namespace is gone" test -z "$(ip netns list | grep -w "${netns#netns=}" || true)"

# Shutdown: SIGTERM stops every pod and deletes every sandbox.
kill -TERM "$node_pid"
stopped=
for _ in $(seq 1 100); do
    kill -0 "$node_pid" 2>/dev/null || { stopped=1; break; }
    sleep 0.1
done
check "meshnode exits on SIGTERM" test -n "$stopped"
wait "$node_pid" 2>/dev/null || true
node_pid=
check "no network namespace left" test -z "$(ip netns list | grep mnchk- || true)"
check "no process left" test -z "$(pgrep -f "$MARK" || true)"
check "sandbox.del ran for every sandbox added" test "$(grep -c '^add ' "$WORK/hook.log")" == "$(grep -c '^del ' "$WORK/hook.log")"
check "no pod state left" test -z "$(ls -A "$WORK/state/pods")"

# A meshnode killed with SIGKILL cleans up after itself on its next start. The two pods still bound
# to the node come back when it starts again; then it is killed, started, and stopped.
start_node() {
    "$bin" "${node_args[@]}" --listen "127.0.0.1:$port" >>"$WORK/node.log" 2>&1 &
    node_pid=$!
}
wait_pods_sandboxed() {
    for _ in $(seq 1 100); do
        [[ $(find "$WORK/state/pods" -name sandbox.json 2>/dev/null | wc -l) == 2 ]] && return 0
        sleep 0.1
    done
    return 1
}
start_node
check "after a restart the node's pods get sandboxes again" wait_pods_sandboxed
kill -9 "$node_pid"
wait "$node_pid" 2>/dev/null || true
check "meshnode killed with SIGKILL leaves its sandboxes (2 netns)" test "$(ip netns list | grep -c mnchk- || true)" == 2
start_node
for _ in $(seq 1 50); do
    [[ $(grep -c 'cleaning up a sandbox left by an earlier meshnode' "$WORK/node.log") == 2 ]] && break
    sleep 0.1
done
check "the next meshnode kills their processes and deletes them (sandbox.del) before starting" \
    test "$(grep -c 'cleaning up a sandbox left by an earlier meshnode' "$WORK/node.log")" == 2
wait_pods_sandboxed || true
kill -TERM "$node_pid"
wait "$node_pid" 2>/dev/null || true
node_pid=
check "after SIGKILL, restart and SIGTERM: no netns, no process, no state left" test \
    -z "$(ip netns list | grep mnchk- || true)$(pgrep -f "$MARK" || true)$(ls -A "$WORK/state/pods")"
check "sandbox.del ran for every sandbox added, overall" test "$(grep -c '^add ' "$WORK/hook.log")" == "$(grep -c '^del ' "$WORK/hook.log")"

check "the node's log shows no RBAC refusal (forbidden) or rejected event" test -z "$(grep -Ei 'forbidden|rejected' "$WORK/node.log" || true)"
# Conflicts (a status written against an older resourceVersion) are retried by virtual-kubelet.
check "the node's log shows no failed status update (other than retried conflicts)" test -z \
    "$(grep -Ei 'error while updating pod status|Failed to update pod status' "$WORK/node.log" | grep -v 'the object has been modified' || true)"

say "meshnode: $bin ($(du -m "$bin" | cut -f1) MB), RSS ${rss_kb} kB with 3 pods; node log: see above on failure"
if ((failures > 0)); then
    say "--- last lines of the node's log"
    tail -n 40 "$WORK/node.log" >&2
    say "$failures check(s) failed"
    exit 1
fi
say "all checks passed"
