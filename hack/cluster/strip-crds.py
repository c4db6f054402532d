"""Rewrites Istio's CRD file for an older-looking cluster.

  strip-crds.py v1beta1 < crds.yaml   networking.istio.io serves v1beta1 (and v1alpha3) only,
                                      as before Istio 1.22; v1beta1 becomes the storage version.
"""
import sys

import yaml

mode = sys.argv[1]
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
out = []
for doc in docs:
    if mode == "v1beta1" and doc["spec"]["group"] == "networking.istio.io":
        versions = [v for v in doc["spec"]["versions"] if v["name"] != "v1"]
        if not any(v["name"] == "v1beta1" for v in versions):
            continue
        for v in versions:
            v["storage"] = v["name"] == "v1beta1"
        doc["spec"]["versions"] = versions
    out.append(doc)
yaml.safe_dump_all(out, sys.stdout, sort_keys=False)
