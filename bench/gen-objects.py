#!/usr/bin/env python3
"""Writes N Kubernetes objects (multi-document YAML) by cycling through the documents of a
manifest directory, skipping CustomResourceDefinitions (huge and not checked) and documents
that do not look like objects. Each copy gets a unique name suffix so nothing is deduplicated,
and each round through the documents goes to its own namespaces (`NS-<round>`), the way a
large cluster holds many instances of the same applications: a service then selects the
workloads of its own instance, not every copy of them.

usage: gen-objects.py MANIFEST_DIR N OUT.yaml [SKIP_LIST]

SKIP_LIST: a file naming, one per line, input files to leave out (e.g. the files palisade
reports as malformed), so the generated input is valid YAML throughout.
"""
import os
import re
import sys

src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
skip = set()
if len(sys.argv) > 4:
    skip = {os.path.realpath(l.strip()) for l in open(sys.argv[4], encoding="utf-8") if l.strip()}
docs = []
for root, _, files in sorted(os.walk(src)):
    for f in sorted(files):
        if not f.endswith((".yaml", ".yml")) or os.path.realpath(os.path.join(root, f)) in skip:
            continue
        try:
            text = open(os.path.join(root, f), encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        if "{{" in text:
            continue  # unrendered templates
        for d in re.split(r"^---\s*$", text, flags=re.M):
            if re.search(r"^kind:\s*\w", d, re.M) and re.search(r"^apiVersion:", d, re.M) \
                    and "kind: CustomResourceDefinition" not in d \
                    and re.search(r"^  name:\s*\S", d, re.M) and len(d) < 200_000:
                docs.append(d.strip("\n"))
if not docs:
    sys.exit(f"no documents found under {src}")
name = re.compile(r"^(  name:\s*)(\S+)", re.M)
namespace = re.compile(r"^(  namespace:\s*)(\S+)", re.M)
CLUSTER_SCOPED = {"Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "PriorityClass", "IngressClass", "RuntimeClass",
                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                  "APIService", "PodSecurityPolicy", "CSIDriver", "GatewayClass"}
kind_re = re.compile(r"^kind:\s*(\w+)", re.M)
with open(out, "w", encoding="utf-8") as fh:
    for i in range(n):
        r = i // len(docs)
        d = docs[i % len(docs)]
        if r > 0 and kind_re.search(d).group(1) not in CLUSTER_SCOPED:
            if namespace.search(d):
                d = namespace.sub(lambda m: f"{m.group(1)}{m.group(2).strip(chr(34))}-{r}", d, count=1)
            else:
                d = name.sub(lambda m: f"{m.group(0)}\n  namespace: default-{r}", d, count=1)
        d = name.sub(lambda m: f"{m.group(1)}{m.group(2).strip(chr(34))}-{i}", d, count=1)
        fh.write("---\n")
        fh.write(d)
        fh.write("\n")
print(f"{n} objects from {len(docs)} distinct documents -> {out} ({os.path.getsize(out) // (1 << 20)} MiB)")
