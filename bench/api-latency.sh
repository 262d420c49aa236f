#!/usr/bin/env bash
# API latency at scale on both store backends (palisade-server, examples/api_latency.rs).
#
# Seeds 10 clusters x 10,000 Deployments (100,000 resources, 1,000,000 findings) and 100,000
# alerts, starts the server as a child process and times each list RUNS times (p50/p99), on:
#   sqlite:   the embedded store in a temporary directory;
#   postgres: a throwaway PostgreSQL server started here (initdb into target/, loopback port,
#             socket in the same directory; as the `postgres` user through runuser when run as
#             root, since initdb refuses root), stopped and removed at the end.
# PostgreSQL runs with fsync/synchronous_commit off: that speeds the seeding (100,000 alert
# transactions) and does not change read latency, which is what is measured.
#
# usage: bench/api-latency.sh                  (both backends, RUNS=200)
#        BACKENDS=postgres RUNS=100 bench/api-latency.sh
#        SMALL=1 bench/api-latency.sh          (2,000 resources / 2,000 alerts: a quick check)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-200}
BACKENDS=${BACKENDS:-"sqlite postgres"}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench}
extra=()
[ -n "${SMALL:-}" ] && extra+=(--small)

(cd "$ROOT" && cargo build --release -q -p palisade-server --example api_latency)
BIN=$CARGO_TARGET_DIR/release/examples/api_latency

PGDIR=""
PG_BIN=""
cleanup() {
    if [ -n "$PGDIR" ] && [ -f "$PGDIR/data/postmaster.pid" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    [ -n "$PGDIR" ] && rm -rf "$PGDIR"
}
trap cleanup EXIT

as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_postgres() {
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
        echo "PostgreSQL is not installed (apt-get install postgresql)" >&2
        exit 1
    fi
    PGDIR=$(mktemp -d "$ROOT/target/api-latency-pg.XXXXXX")
    chmod 700 "$PGDIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$PGDIR"
    as_pg "$PG_BIN/initdb" -D "$PGDIR/data" -A trust -U postgres -E UTF8 --no-sync \
        --no-instructions >"$PGDIR/initdb.log"
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w \
        -o "-p $port -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null
    as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres palisade_bench
    PG_URL="postgres://postgres@127.0.0.1:$port/palisade_bench"
}

echo "load average before runs: $(cut -d' ' -f1-3 /proc/loadavg)"
for backend in $BACKENDS; do
    echo
    echo "## $backend"
    case $backend in
        sqlite) "$BIN" --runs "$RUNS" "${extra[@]}" ;;
        postgres)
            start_postgres
            "$BIN" "$PG_URL" --runs "$RUNS" "${extra[@]}"
            cleanup
            PGDIR=""
            ;;
        *) echo "unknown backend $backend (sqlite, postgres)" >&2; exit 2 ;;
    esac
done
