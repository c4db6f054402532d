#!/usr/bin/env python3
"""scripts/mesh's helpers that are easier in Python than in bash.

  mesh.py report REQUEST_ID UPSTREAM_LOG < curl output
      one JSON line for a request: code, seconds, origin (the peer the upstream saw), how many
      attempts of it reached the upstream and from where, whether they came over TLS
  mesh.py wait ISTIOD_HTTP_PORT SYNCZ_BEFORE < KIND/NAMESPACE/NAME/RESOURCEVERSION lines
      until istiod holds exactly those Istio objects and every proxy has acknowledged what istiod
      sent, steadily; prints the seconds it took (bounded: 20 s, then an error)
"""
import json
import sys
import time
import urllib.request


def report(request_id, log):
    code, seconds, origin, tls = 0, None, None, None
    for line in sys.stdin:
        line = line.strip()
        if line.startswith("CURL_RESULT "):
            _, c, t = line.split()
            code, seconds = int(c), float(t)
        elif line.lower().startswith("x-upstream-peer:"):
            origin = line.split(":", 1)[1].strip()
        elif line.lower().startswith("x-upstream-tls:"):
            tls = line.split(":", 1)[1].strip() == "1"
    peers, tls_seen = [], []
    try:
        with open(log) as f:
            for entry in f:
                e = json.loads(entry)
                if e.get("request_id") == request_id:
                    peers.append(e["peer"])
                    tls_seen.append(e["tls"])
    except FileNotFoundError:
        pass
    print(json.dumps({
        "code": code,
        "seconds": round(seconds, 4) if seconds is not None else None,
        "origin": origin,
        "upstream_attempts": len(peers),
        "upstream_peers": peers,
        "upstream_tls": tls if tls is not None else (tls_seen[0] if tls_seen else None),
        "request_id": request_id,
    }))
    return 0 if code else 1


KINDS = {"ServiceEntry", "VirtualService", "DestinationRule", "Gateway", "Sidecar", "AuthorizationPolicy"}
XDS_TYPES = ("cluster", "listener", "route", "endpoint")


def newest_push(status):
    """The highest push-context counter among the nonces istiod has sent."""
    newest = 0
    for proxy in status:
        for t in XDS_TYPES:
            version = proxy.get(f"{t}_sent", "")[:-36]
            counter = version.rpartition("/")[2]
            if counter.isdigit():
                newest = max(newest, int(counter))
    return newest


def wait(port, before_file):
    start = time.monotonic()
    deadline = start + 20

    def get(path):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return json.load(r) or []

    # The sync status as it was when the wait began (scripts/mesh reads it first thing, with
    # curl: a push follows a write by about 0.1 s, less than Python takes to start).
    with open(before_file) as f:
        before = newest_push(json.load(f) or [])
    want = {line.strip() for line in sys.stdin if line.strip()}

    while True:
        have = set()
        for c in get("/debug/configz"):
            kind = c.get("kind", "")
            m = c.get("metadata") or {}
            if kind in KINDS:
                have.add(f"{kind}/{m.get('namespace')}/{m.get('name')}/{m.get('resourceVersion')}")
        if have == want:
            break
        if time.monotonic() > deadline:
            missing, stale = sorted(want - have)[:3], sorted(have - want)[:3]
            print(f"error: istiod did not read the cluster's Istio objects within 20s (missing {missing}, stale {stale})", file=sys.stderr)
            return 1
        time.sleep(0.05)
    # istiod debounces config events (100 ms), builds a new push context and pushes to the proxies
    # the change concerns. Its nonces start with the push context's version ("<time>/<counter>",
    # then a 36-character uuid), so a push that went out after `before` has a higher counter.
    seen = time.monotonic()
    settled_since = None
    while True:
        now = time.monotonic()
        status = get("/debug/syncz")
        acked = all(s.get(f"{t}_sent", "") == s.get(f"{t}_acked", "") for s in status for t in XDS_TYPES)
        pushed = newest_push(status) > before
        # Done once a newer push is acknowledged by every proxy (steady for 0.1 s: one push goes out
        # type by type, proxy by proxy), or when none came within 1 s: the change concerned no
        # proxy, or its push had already been acknowledged before we looked.
        if acked and (pushed or now - seen >= 1.0):
            settled_since = settled_since or now
            if now - settled_since >= 0.1:
                break
        else:
            settled_since = None
        if now > deadline:
            print("error: the proxies did not acknowledge istiod's push within 20s", file=sys.stderr)
            return 1
        time.sleep(0.02)
    print(f"{time.monotonic() - start:.2f}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "report":
        sys.exit(report(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 4 and sys.argv[1] == "wait":
        sys.exit(wait(sys.argv[2], sys.argv[3]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
