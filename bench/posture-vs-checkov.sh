#!/usr/bin/env bash
# End-to-end posture benchmark: palisade against checkov (the Kubernetes framework, offline)
# over the same manifests, on one core (taskset -c 0), in one run.
#
#   bench/posture-vs-checkov.sh            # defaults: 5 palisade runs, 3 checkov runs
#   RUNS=9 CHECKOV_RUNS=1 N_OBJECTS=100000 bench/posture-vs-checkov.sh
#
# Prints medians (wall seconds, resources/s, peak RSS) and the throughput ratio, and writes
# the same table to target/bench/posture-results.md. checkov is installed once into a venv
# under target/ (PALISADE_BENCH_VENV to reuse another one); nothing leaves the machine.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS="${PALISADE_CORPUS:-$(cd .. && pwd)/shared/corpus}"
MANIFESTS="$CORPUS/manifests"
RUNS="${RUNS:-5}"
CHECKOV_RUNS="${CHECKOV_RUNS:-3}"
N_OBJECTS="${N_OBJECTS:-100000}"
OUT=target/bench
VENV="${PALISADE_BENCH_VENV:-target/bench-venv}"
mkdir -p "$OUT"
[ -d "$MANIFESTS" ] || { echo "corpus not found: $MANIFESTS (set PALISADE_CORPUS)" >&2; exit 2; }

if [ ! -x /usr/bin/time ]; then
    apt-get install -y -qq time >/dev/null
fi
echo "building palisade (release)..." >&2
cargo build --release -q -p palisade
BIN=target/release/palisade
if [ ! -x "$VENV/bin/checkov" ]; then
    echo "installing checkov into $VENV ..." >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q checkov
fi
CHECKOV_VERSION="$("$VENV/bin/checkov" --version 2>/dev/null | tail -1)"

count_resources() {
    # exit code 2 (the corpus holds a few malformed files) is expected here
    { "$BIN" posture scan --format json "$1" 2>/dev/null || true; } |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["resources"])'
}

# measure LABEL RUNS WARMUP CMD... -> appends "wall rss_kb cpu_s" lines to $OUT/LABEL.times
# (cpu_s = user + system time: unlike wall time, it does not grow when other work shares the
# core, so it is the fairer figure on a busy machine)
measure() {
    local label="$1" runs="$2" warmup="$3"; shift 3
    local file="$OUT/$label.times"; : >"$file"
    for ((i = 0; i < runs + warmup; i++)); do
        /usr/bin/time -f "%e %M %U %S" -o "$OUT/.t" taskset -c 0 "$@" >/dev/null 2>&1 || true
        if ((i >= warmup)); then grep -v "^Command" "$OUT/.t" | awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' >>"$file"; fi
    done
}

# median COLUMN FILE
median() {
    sort -n -k"$1" "$2" | awk -v c="$1" '{v[NR]=$c} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}

export BC_SKIP_MAPPING=TRUE CKV_SKIP_PACKAGE_UPDATE_CHECK=true
CHECKOV=("$VENV/bin/checkov" --framework kubernetes --skip-download --soft-fail -o json --quiet)

echo "corpus: $MANIFESTS" >&2
R_CORPUS="$(count_resources "$MANIFESTS")"
measure palisade-corpus "$RUNS" 1 "$BIN" posture scan --format json "$MANIFESTS"
echo "checkov over the corpus ($CHECKOV_RUNS runs; this takes minutes)..." >&2
measure checkov-corpus "$CHECKOV_RUNS" 0 "${CHECKOV[@]}" -d "$MANIFESTS"

GEN="$OUT/objects-$N_OBJECTS.yaml"
if [ ! -s "$GEN" ]; then
    { "$BIN" posture scan --format json "$MANIFESTS" 2>/dev/null || true; } |
        python3 -c 'import json,sys; print("\n".join(sorted({e["file"] for e in json.load(sys.stdin)["errors"]})))' >"$OUT/malformed.txt"
    python3 bench/gen-objects.py "$MANIFESTS" "$N_OBJECTS" "$GEN" "$OUT/malformed.txt" >&2
fi
R_GEN="$(count_resources "$GEN")"
measure palisade-generated "$RUNS" 1 "$BIN" posture scan --format json "$GEN"

row() { # label resources
    local w r c
    w="$(median 1 "$OUT/$1.times")"; r="$(median 2 "$OUT/$1.times")"; c="$(median 3 "$OUT/$1.times")"
    awk -v l="$1" -v n="$2" -v w="$w" -v r="$r" -v c="$c" -v runs="$(wc -l <"$OUT/$1.times")" \
        'BEGIN {printf "| %s | %d | %d | %.3f | %.0f | %.2f | %.0f | %.0f |\n", l, runs, n, w, (w > 0 ? n / w : 0), c, (c > 0 ? n / c : 0), r / 1024}'
}
{
    echo "## posture scan benchmark ($(date -u +%Y-%m-%d), $(nproc) vCPU, pinned to one core)"
    echo
    echo "checkov: $CHECKOV_VERSION; palisade: $("$BIN" --version)"
    echo
    echo "| run | runs | resources | median wall s | resources/s (wall) | median CPU s | resources/CPU-s | median peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|"
    row palisade-corpus "$R_CORPUS"
    row checkov-corpus "$R_CORPUS"
    row palisade-generated "$R_GEN"
    echo
    awk -v p="$(median 1 "$OUT/palisade-corpus.times")" -v c="$(median 1 "$OUT/checkov-corpus.times")" \
        'BEGIN {printf "throughput ratio palisade / checkov over the corpus (wall): %.0fx\n", (p > 0 ? c / p : 0)}'
    awk -v p="$(median 3 "$OUT/palisade-corpus.times")" -v c="$(median 3 "$OUT/checkov-corpus.times")" \
        'BEGIN {printf "throughput ratio palisade / checkov over the corpus (CPU time): %.0fx\n", (p > 0 ? c / p : 0)}'
} | tee "$OUT/posture-results.md"
