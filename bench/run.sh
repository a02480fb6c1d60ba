#!/usr/bin/env bash
# `make bench`: the gateway against a bare hyper server answering the same
# envelope, measured in one run with wrk on loopback. Prints req/s, p50 and
# p99 for each case and the gateway's req/s as a share of the baseline.
#
# Environment: DURATION (default 10s), CONNECTIONS (64), THREADS (1: wrk
# shares the machine's 2 cores with the server under test).
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
cargo build --release --quiet -p actiongate-bench-bare

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
# The gateway logs every request at info, as in production; to /dev/null.
ACTIONGATE_CONFIG=/nonexistent ACTIONGATE_LISTEN="$gw_addr" ACTIONGATE_DATA_DIR="$work/data" \
    ACTIONGATE_LOG_LEVEL=info target/release/examples/custom_service >"$work/gateway.log" 2>&1 &
pids+=($!)
wait_up "$bare_addr"
wait_up "$gw_addr"
token=$(cat "$work/data/admin.token")

project=$(curl -s -XPOST "http://$gw_addr/console/v1/project/create" \
    -H "Authorization: Bearer $token" -d '{"name": "bench"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["id"])')

# run NAME URL BODY TOKEN -> "req/s p50 p99"
run() {
    local out
    out=$(BENCH_BODY="$3" BENCH_TOKEN="$4" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/post.lua "$2")
    local rps p50 p99 non2xx
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    if [ -n "$non2xx" ]; then
        echo "$1: $non2xx non-2xx responses" >&2
        exit 1
    fi
    echo "$rps $p50 $p99"
}

echo "wrk: $THREADS thread(s), $CONNECTIONS connections, $DURATION per case, on $(nproc) cores"
printf '%-42s %12s %10s %10s %9s\n' case "req/s" p50 p99 "vs bare"
read -r bare_rps bare_p50 bare_p99 < <(run bare "http://$bare_addr/" '{}' '')
printf '%-42s %12s %10s %10s %9s\n' "bare hyper, same envelope" "$bare_rps" "$bare_p50" "$bare_p99" "100%"
report() {
    read -r rps p50 p99 < <(run "$1" "$2" "$3" "$token")
    share=$(python3 -c "print(f'{100 * $rps / $bare_rps:.0f}%')")
    printf '%-42s %12s %10s %10s %9s\n' "$1" "$rps" "$p50" "$p99" "$share"
}
report "greeter/v1/hello (sync, no database)" "http://$gw_addr/greeter/v1/hello" '{"name": "bench"}'
report "console/v1/project/get (SQLite)" "http://$gw_addr/console/v1/project/get" "{\"id\": \"$project\"}"
report "greeter/v1/report (designated async, 202)" "http://$gw_addr/greeter/v1/report" '{}'
