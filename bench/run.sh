#!/usr/bin/env bash
# `make bench`: the gateway against a bare hyper server answering the same
# envelope, measured in one run with wrk on loopback. Prints req/s, p50 and
# p99 for each case and the gateway's req/s as a share of the baseline.
#
# Then the asynchronous path end to end: clients that submit a
# designated-async call and long-poll its result (bench/async-load), on
# SQLite and, when ACTIONGATE_TEST_POSTGRES_URL names a server (make bench
# starts a throwaway one), on PostgreSQL: completed jobs per second and
# submit-to-result latency.
#
# Environment: DURATION (default 10s), ROUNDS (3), CONNECTIONS (64), THREADS (1: wrk
# shares the machine's 2 cores with the server under test), LOG_LEVEL
# (info: every request is logged, as in production), ASYNC_CLIENTS ("24 32":
# the client counts of the end-to-end async runs).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}

if ! command -v wrk >/dev/null; then
    echo "installing wrk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --example custom_service -p actiongate
cargo build --release --quiet -p actiongate-bench-bare -p actiongate-bench-async

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_up() {
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://$1/" && return 0
        sleep 0.1
    done
    echo "server on $1 did not start" >&2
    exit 1
}

bare_addr=127.0.0.1:$(free_port)
gw_addr=127.0.0.1:$(free_port)

target/release/actiongate-bench-bare "$bare_addr" >/dev/null &
pids+=($!)
# The gateway logs every request at info, as in production. Rate limiting
# is on, with a budget the load never spends: the limiter counts every call,
# as it would in production, without turning the benchmark away.
export ACTIONGATE_RATE_LIMITS__PER_TOKEN=100000000/s
ACTIONGATE_CONFIG=/nonexistent ACTIONGATE_LISTEN="$gw_addr" ACTIONGATE_DATA_DIR="$work/data" \
    ACTIONGATE_LOG_LEVEL="${LOG_LEVEL:-info}" target/release/examples/custom_service >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_up "$bare_addr"
wait_up "$gw_addr"
token=$(cat "$work/data/admin.token")

pg_addr=
if [ -n "${ACTIONGATE_TEST_POSTGRES_URL:-}" ]; then
    psql -q "$ACTIONGATE_TEST_POSTGRES_URL" -c 'CREATE DATABASE bench' >/dev/null
    pg_addr=127.0.0.1:$(free_port)
    ACTIONGATE_CONFIG=/nonexistent ACTIONGATE_LISTEN="$pg_addr" ACTIONGATE_DATA_DIR="$work/pg" \
        ACTIONGATE_DATABASE_URL="${ACTIONGATE_TEST_POSTGRES_URL%/*}/bench" \
        ACTIONGATE_LOG_LEVEL="${LOG_LEVEL:-info}" target/release/examples/custom_service >"$work/gateway-pg.log" 2>&1 &
    pids+=($!)
    wait_up "$pg_addr"
    pg_token=$(cat "$work/pg/admin.token")
fi

project=$(curl -s -XPOST "http://$gw_addr/console/v1/project/create" \
    -H "Authorization: Bearer $token" -d '{"name": "bench"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["id"])')

# One wrk run: "req/s p50_us p99_us".
measure() {
    local out
    out=$(BENCH_BODY="$2" BENCH_TOKEN="$3" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/post.lua "$1")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "unexpected non-2xx responses from $1:" >&2
        echo "$out" >&2
        tail -n 20 "$work"/gateway*.log >&2
        exit 1
    fi
    python3 - "$out" <<'PY'
import re, sys
out = sys.argv[1]
def micros(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = micros(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
p99 = micros(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
print(rps, p50, p99)
PY
}

ROUNDS=${ROUNDS:-3}
cases=(
    "bare hyper, same envelope|http://$bare_addr/|{}|"
    "greeter/v1/hello (sync, no database)|http://$gw_addr/greeter/v1/hello|{\"name\": \"bench\"}|$token"
    "greeter/v1/hello/open (no auth, no limit)|http://$gw_addr/greeter/v1/hello/open|{\"name\": \"bench\"}|"
    "console/v1/project/get (SQLite)|http://$gw_addr/console/v1/project/get|{\"id\": \"$project\"}|$token"
    "greeter/v1/report (designated async, 202)|http://$gw_addr/greeter/v1/report|{}|$token"
)
if [ -n "$pg_addr" ]; then
    cases+=("greeter/v1/report on PostgreSQL (202)|http://$pg_addr/greeter/v1/report|{}|$pg_token")
fi
async_secs=${DURATION%s}

# One end-to-end async run with $3 clients: "jobs/s p50_us p99_us".
measure_async() {
    CONCURRENCY=$3 DURATION=$async_secs \
        target/release/actiongate-bench-async "$1" "$2" greeter/v1/report '{}'
}
# Two operating points by default: with more clients, more jobs are in
# flight, so throughput and latency trade against each other.
async_clients=${ASYNC_CLIENTS:-24 32}

# Designated-async cases leave a backlog of accepted jobs that the gateway
# runs after wrk stops; the next case waits for it to drain, and for the
# database to put the write burst behind it (a WAL checkpoint on SQLite, a
# vacuum and checkpoint on PostgreSQL, which autovacuum would otherwise do
# during the next case), so that it measures itself and not that backlog.
drain() {
    local query="SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')"
    for _ in $(seq 1 600); do
        if [ "$(pending "$1" "$query")" = 0 ]; then
            settle "$1"
            return 0
        fi
        sleep 0.5
    done
    echo "the job backlog on $1 did not drain" >&2
    exit 1
}

settle() {
    case $1 in
        sqlite) python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA wal_checkpoint(TRUNCATE)")' \
            "$work/data/actiongate.db" ;;
        postgres) psql -q "${ACTIONGATE_TEST_POSTGRES_URL%/*}/bench" -c 'VACUUM ANALYZE jobs' -c 'CHECKPOINT' >/dev/null ;;
    esac
}

pending() {
    case $1 in
        sqlite) python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' \
            "$work/data/actiongate.db" "$2" ;;
        postgres) psql -qtA "${ACTIONGATE_TEST_POSTGRES_URL%/*}/bench" -c "$2" ;;
    esac
}

# Rounds interleave the cases, so that the machine's noise falls on all of
# them alike; each figure reported is the median over the rounds.
results="$work/results"
async_results="$work/async-results"
: >"$results"
: >"$async_results"
for round in $(seq 1 "$ROUNDS"); do
    for entry in "${cases[@]}"; do
        IFS='|' read -r name url body auth <<<"$entry"
        figures=$(measure "$url" "$body" "$auth") || exit 1
        echo "$name|$figures" >>"$results"
        case $name in
            *PostgreSQL*202*) drain postgres ;;
            *202*) drain sqlite ;;
        esac
    done
    for clients in $async_clients; do
        figures=$(measure_async "http://$gw_addr" "$token" "$clients") || exit 1
        echo "async end to end, SQLite, $clients clients|$figures" >>"$async_results"
        settle sqlite
        if [ -n "$pg_addr" ]; then
            figures=$(measure_async "http://$pg_addr" "$pg_token" "$clients") || exit 1
            echo "async end to end, PostgreSQL, $clients clients|$figures" >>"$async_results"
            settle postgres
        fi
    done
    echo "round $round of $ROUNDS done" >&2
done

echo "wrk: $THREADS thread(s), $CONNECTIONS connections, $DURATION per case, median of $ROUNDS interleaved rounds, $(nproc) cores"
python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, figures = line.rstrip("\n").split("|")
    rows.setdefault(name, []).append([float(x) for x in figures.split()])
med = {name: [statistics.median(col) for col in zip(*runs)] for name, runs in rows.items()}
bare = med["bare hyper, same envelope"][0]
print(f"{'case':<44}{'req/s':>11}{'p50':>11}{'p99':>11}{'vs bare':>9}")
for name, (rps, p50, p99) in med.items():
    fmt = lambda us: f"{us / 1000:.2f}ms" if us >= 1000 else f"{us:.0f}us"
    print(f"{name:<44}{rps:>11.0f}{fmt(p50):>11}{fmt(p99):>11}{100 * rps / bare:>8.0f}%")
secured = med["greeter/v1/hello (sync, no database)"][0]
open_ = med["greeter/v1/hello/open (no auth, no limit)"][0]
print(f"cost of security: authenticated and rate-limited hello keeps {100 * secured / open_:.0f}% of the open route's req/s")
PY

echo
echo "submit, then long-poll the result: $DURATION per run, median of $ROUNDS"
python3 - "$async_results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, figures = line.rstrip("\n").split("|")
    rows.setdefault(name, []).append([float(x) for x in figures.split()])
print(f"{'case':<44}{'jobs/s':>11}{'p50':>11}{'p99':>11}")
for name, runs in rows.items():
    jobs, p50, p99 = [statistics.median(col) for col in zip(*runs)]
    print(f"{name:<44}{jobs:>11.0f}{p50 / 1000:>9.2f}ms{p99 / 1000:>9.2f}ms")
PY
