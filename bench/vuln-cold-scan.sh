#!/usr/bin/env bash
# Cold image scan against merely inflating the image's layers (palisade-vuln).
#
# Builds two OCI layouts from Debian bookworm (debootstrap with its default mirror, umoci):
#   small: debootstrap --variant=minbase bookworm, one layer (about 100 MB compressed);
#   large: the same plus a second layer of large packages (JDK, clang/LLVM, compilers,
#          Python, Perl, git), about 1 GB uncompressed across layers.
# Then runs `examples/coldscan.rs` RUNS times (default 5) on each and prints medians of the
# inflate time, the scan time, their ratio (wall and CPU = user + system of all threads) and
# the peak RSS. Both timings see a warm page cache (the example reads the blobs first).
# On a busy machine wall times follow CPU share; the scan's main-thread CPU over the inflate
# CPU is what the wall ratio approaches with a free second core (hashing runs beside it).
#
# usage: sudo bench/vuln-cold-scan.sh            (build if missing, then measure)
#        BENCH_WORK=/srv/bench RUNS=9 bench/vuln-cold-scan.sh   (default: target/vuln-bench)
#        bench/vuln-cold-scan.sh --build-only
# A database for matching comes from $VULN_DB (a directory with advisories.pvdb); without
# it one is imported once from the corpus advisory sources into the work directory.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_WORK:-$ROOT/target/vuln-bench}
RUNS=${RUNS:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench}
LARGE_PACKAGES=${LARGE_PACKAGES:-default-jdk-headless,clang,llvm,gcc,g++,make,python3,python3-pip,perl,git,curl,ca-certificates}

if [ "$(id -u)" != 0 ]; then
    echo "run as root (debootstrap and umoci need it)" >&2
    exit 1
fi
mkdir -p "$WORK"

# build_layout NAME [debootstrap --include list for a second layer]
build_layout() {
    local name=$1 include=${2:-}
    local oci=$WORK/oci-$name
    if [ -f "$oci.done" ]; then
        return
    fi
    rm -rf "$oci" "$WORK/bundle-$name"
    local base=$WORK/rootfs-minbase
    if [ ! -f "$base.done" ]; then
        rm -rf "$base"
        debootstrap --variant=minbase bookworm "$base" >"$WORK/debootstrap-minbase.log"
        touch "$base.done"
    fi
    umoci init --layout "$oci"
    umoci new --image "$oci:bench"
    umoci unpack --image "$oci:bench" "$WORK/bundle-$name"
    cp -a "$base/." "$WORK/bundle-$name/rootfs/"
    umoci repack --image "$oci:bench" "$WORK/bundle-$name"
    if [ -n "$include" ]; then
        local big=$WORK/rootfs-$name
        if [ ! -f "$big.done" ]; then
            rm -rf "$big"
            debootstrap --variant=minbase --include="$include" bookworm "$big" \
                >"$WORK/debootstrap-$name.log"
            touch "$big.done"
        fi
        rm -rf "$WORK/bundle-$name"
        umoci unpack --image "$oci:bench" "$WORK/bundle-$name"
        # The second layer holds what the larger root filesystem adds or changes.
        cp -a "$big/." "$WORK/bundle-$name/rootfs/"
        umoci repack --image "$oci:bench" "$WORK/bundle-$name"
    fi
    umoci gc --layout "$oci"
    rm -rf "$WORK/bundle-$name"
    touch "$oci.done"
}

build_layout small
build_layout large "$LARGE_PACKAGES"
for n in small large; do
    printf '%-6s OCI layout %s\n' "$n" "$(du -sh "$WORK/oci-$n" | cut -f1)"
done
[ "${1:-}" = "--build-only" ] && exit 0

(cd "$ROOT" && cargo build --release -q -p palisade-vuln --example coldscan)
BIN=$CARGO_TARGET_DIR/release/examples/coldscan

DB=${VULN_DB:-}
if [ -z "$DB" ]; then
    # The OSV-family sources of the corpus, when present (no Debian data among them: the
    # match step then costs lookups only); otherwise an empty database.
    DB=$WORK/db
    if [ ! -f "$DB/advisories.pvdb" ]; then
        CORPUS=${PALISADE_CORPUS:-$ROOT/../shared/corpus}
        inputs=()
        for s in golang-vulndb pypa-advisory-database rustsec-advisory-db nodejs-security-wg \
            alpine-secdb-deprecated-mirror cisa-kev; do
            [ -d "$CORPUS/vuln/osv/$s" ] && inputs+=("$CORPUS/vuln/osv/$s")
        done
        "$BIN" --build-db "$DB" "${inputs[@]}"
    fi
fi

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo
echo "load average before runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| image | runs | inflate s | scan s | scan/inflate | inflate CPU s | scan CPU s | CPU ratio | scan main-thread CPU / inflate CPU | peak RSS MiB (max) | packages | vulns |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in small large; do
    out=$WORK/results-$n.tsv
    : >"$out"
    for _ in $(seq "$RUNS"); do
        "$BIN" --db "$DB" --tsv "$WORK/oci-$n" >>"$out"
    done
    col() { cut -f"$1" "$out" | median; }
    cpu_ratio=$(awk -F'\t' '$7 > 0 {print $8 / $7}' "$out" | median)
    main_ratio=$(awk -F'\t' '$7 > 0 {print $9 / $7}' "$out" | median)
    rss=$(cut -f4 "$out" | sort -g | tail -1)
    printf '| %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f | %s | %s | %s |\n' "$n" "$RUNS" \
        "$(col 1)" "$(col 2)" "$(col 3)" "$(col 7)" "$(col 8)" "$cpu_ratio" "$main_ratio" "$rss" \
        "$(cut -f5 "$out" | tail -1)" "$(cut -f6 "$out" | tail -1)"
done
