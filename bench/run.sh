#!/usr/bin/env bash
# `make bench`: the gateway against a bare hyper server answering the same
# envelope, with wrk on loopback. Each case runs alone: a fresh server on a
# fresh data directory (or a fresh PostgreSQL database), started for the
# case and stopped after it, with nothing else of the bench running. The
# bare server is measured right before each case, alone too, and the case
# is reported beside that figure and as a ratio of it, with the server's
# CPU time per request beside the bare server's.
#
# Then the asynchronous path end to end: clients that submit a
# designated-async call and long-poll its result (bench/async-load), on
# SQLite and, when ACTIONGATE_TEST_POSTGRES_URL names a server (make bench
# starts a throwaway one, idle between its cases), on PostgreSQL: completed
# jobs per second and submit-to-result latency.
#
# Then, once each: 10,000 idle keep-alive connections (bench/connections.py)
# and a mixed load of 32 clients for MIXED_DURATION seconds (180) in one
# growing project (bench/async-load's actiongate-bench-mixed), reported per
# kind of call at its start and its end.
#
# Environment: DURATION (default 10s), ROUNDS (3), CONNECTIONS (64), THREADS
# (1: wrk shares the machine's 2 cores with the server under test),
# LOG_LEVEL (info: every request is logged, as in production), ASYNC_CLIENTS
# ("24 32": the client counts of the end-to-end async runs), CASES (a
# regular expression: only the cases whose names match), BEFORE (a git
# revision: its build runs every gateway case too, interleaved with this
# one's, each printed with " [before]", to compare two builds in one run).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
CASES=${CASES:-.}

if ! command -v wrk >/dev/null; then
    echo "installing wrk"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$nginx_bin" ]; then
    echo "installing nginx"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi

cargo build --release --quiet --example custom_service -p actiongate
cargo build --release --quiet -p actiongate-bench-bare -p actiongate-bench-async --bins

work=$(mktemp -d)
server_pid=
db=
cleanup() {
    stop_server
    if [ -n "${BEFORE:-}" ]; then git worktree remove --force "$work/before" 2>/dev/null || true; fi
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
    tail -n 20 "$work"/*.log >&2 || true
    exit 1
}

# The builds under test: "label|binary".
builds=("|target/release/examples/custom_service")
if [ -n "${BEFORE:-}" ]; then
    git worktree add --quiet --detach "$work/before" "$BEFORE"
    (cd "$work/before" && CARGO_TARGET_DIR="$OLDPWD/target/bench-before" \
        cargo build --release --quiet --example custom_service -p actiongate)
    builds+=(" [before]|target/bench-before/release/examples/custom_service")
fi

stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
    if [ -n "${upstream_pid:-}" ]; then
        kill "$upstream_pid" 2>/dev/null || true
        wait "$upstream_pid" 2>/dev/null || true
        upstream_pid=
    fi
}

# Starts the bare server as the upstream of a proxy case; sets
# $upstream_addr. stop_server stops it too.
start_upstream() {
    upstream_addr=127.0.0.1:$(free_port)
    target/release/actiongate-bench-bare "$upstream_addr" >/dev/null &
    upstream_pid=$!
    wait_up "$upstream_addr"
}

# nginx as a reverse proxy to $upstream_addr with upstream keep-alive, as
# many workers as cores, logging every request (buffered) as the gateway
# does; sets $addr.
start_nginx() {
    addr=127.0.0.1:$(free_port)
    mkdir -p "$work/nginx"
    cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log $work/nginx/access.log combined buffer=64k flush=1s;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    upstream bare { server $upstream_addr; keepalive 128; }
    server {
        listen $addr;
        location / {
            proxy_pass http://bare;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        }
    }
}
CONF
    "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>>"$work/gateway.log" &
    server_pid=$!
    wait_up "$addr"
}

# Starts the bare server; sets $addr.
start_bare() {
    addr=127.0.0.1:$(free_port)
    target/release/actiongate-bench-bare "$addr" >/dev/null &
    server_pid=$!
    wait_up "$addr"
}

# Starts a gateway (the binary $gateway_bin) on a fresh database (sqlite or
# postgres), with the settings in $2 (NAME=value ... of ACTIONGATE_*
# variables) if any; sets $addr, $token and $data. The gateway logs every request at info, as in
# production. Rate limiting is on, with a budget the load never spends: the
# limiter counts every call without turning the benchmark away.
start_gateway() {
    addr=127.0.0.1:$(free_port)
    data=$(mktemp -d "$work/data.XXXX")
    local url=
    if [ "$1" = postgres ]; then
        db="bench_$(basename "$data" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
        psql -q "$ACTIONGATE_TEST_POSTGRES_URL" -c "CREATE DATABASE $db" >/dev/null
        url="${ACTIONGATE_TEST_POSTGRES_URL%/*}/$db"
    fi
    # shellcheck disable=SC2086 # $2 is a list of assignments
    env ACTIONGATE_RATE_LIMITS__PER_TOKEN=100000000/s ACTIONGATE_CONFIG=/nonexistent ${2:-} \
        ACTIONGATE_LISTEN="$addr" ACTIONGATE_DATA_DIR="$data" ${url:+ACTIONGATE_DATABASE_URL="$url"} \
        ACTIONGATE_LOG_LEVEL="${LOG_LEVEL:-info}" "$gateway_bin" >"$work/gateway.log" 2>&1 &
    server_pid=$!
    wait_up "$addr"
    token=$(cat "$data/admin.token")
}

# Ends a gateway's case: the server stops, its database goes.
finish_gateway() {
    stop_server
    rm -rf "$data"
    if [ -n "${db:-}" ]; then
        psql -q "$ACTIONGATE_TEST_POSTGRES_URL" -c "DROP DATABASE $db WITH (FORCE)" >/dev/null
        db=
    fi
}

# CPU time (user and system, all threads) the process $1 has used, in clock
# ticks.
cpu_ticks() {
    awk '{print $14 + $15}' "/proc/$1/stat"
}

# One wrk run against the server $server_pid: "req/s p50_us p99_us cpu_us",
# the last the server's CPU time per request, whatever the client's speed;
# $4 overrides CONNECTIONS.
measure() {
    local out before after
    before=$(cpu_ticks "$server_pid")
    out=$(BENCH_BODY="$2" BENCH_TOKEN="$3" wrk -t"$THREADS" -c"${4:-$CONNECTIONS}" -d"$DURATION" --latency -s bench/post.lua "$1")
    after=$(cpu_ticks "$server_pid")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "unexpected non-2xx responses from $1:" >&2
        echo "$out" >&2
        tail -n 20 "$work"/gateway.log >&2
        exit 1
    fi
    python3 - "$out" "$((after - before))" "$(getconf CLK_TCK)" <<'PY'
import re, sys
out, ticks, per_second = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def micros(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
p50 = micros(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
p99 = micros(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
requests = int(re.search(r"(\d+) requests in", out).group(1))
print(rps, p50, p99, ticks / per_second * 1e6 / requests)
PY
}

# The bare server alone: its figures (as measure's) right now ($1: with
# that many connections).
measure_bare() {
    start_bare
    measure "http://$addr/" '{}' '' "${1:-}"
    stop_server
}

# The body a case posts, after whatever set-up it needs on its gateway.
case_body() {
    case $1 in
        project/get)
            local project
            project=$(curl -s -XPOST "http://$addr/console/v1/project/create" \
                -H "Authorization: Bearer $token" -d '{"name": "bench"}' |
                python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["id"])')
            echo "{\"id\": \"$project\"}" ;;
        project/update)
            local project
            project=$(curl -s -XPOST "http://$addr/console/v1/project/create" \
                -H "Authorization: Bearer $token" -d '{"name": "bench"}' |
                python3 -c 'import json, sys; print(json.load(sys.stdin)["result"]["id"])')
            echo "{\"id\": \"$project\", \"description\": \"updated\"}" ;;
        activity/list)
            # A project holding 100,000 activities, one in ten on the
            # environment listed.
            local made project environment
            made=$(curl -s -XPOST "http://$addr/console/v1/project/create" \
                -H "Authorization: Bearer $token" -d '{"name": "bench"}')
            project=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["result"]["id"])' "$made")
            made=$(curl -s -XPOST "http://$addr/deploy/v1/environment/create" \
                -H "Authorization: Bearer $token" -d "{\"project_id\": \"$project\", \"name\": \"production\"}")
            environment=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["result"]["id"])' "$made")
            python3 bench/seed-activities.py "$data/actiongate.db" "$project" "$environment" 100000
            echo "{\"project_id\": \"$project\", \"environment_id\": \"$environment\"}" ;;
        event/list)
            # 1,000,000 events over 30 days; the window is one hour of
            # them, an hour ago.
            python3 bench/seed-events.py "$data/actiongate.db" 1000000
            python3 -c 'import time; now = int(time.time() * 1000); print("{\"begin\": %d, \"end\": %d}" % (now - 7200000, now - 3600000))' ;;
        hello/custom-role)
            # A token carrying a custom role of 50 rules, the one that
            # allows hello last; the case calls with it.
            python3 - "http://$addr" "$token" >"$data/case.token" <<'PY'
import json, sys, urllib.request
base, token = sys.argv[1], sys.argv[2]
def call(path, body):
    request = urllib.request.Request(f"{base}/{path}", json.dumps(body).encode(),
                                     {"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(request))["result"]
codes = [p["code"] for p in call("access/v1/authz/policies", {})["policies"]
         if not p["code"].startswith("greeter:")]
rules = [{"action": code, "effect": "allow"} if i % 2 else
         {"action": code, "effect": "allow", "resources": ["project:*:**"]}
         for i, code in enumerate(codes[:49])]
rules.append({"action": "greeter::hello", "effect": "allow"})
assert len(rules) == 50
call("access/v1/role/create", {"name": "fifty-rules", "rules": rules})
print(call("access/v1/token/create", {"name": "bench", "role": "fifty-rules"})["secret"])
PY
            echo '{"name": "bench"}' ;;
        hello*) echo '{"name": "bench"}' ;;
        *) echo '{}' ;;
    esac
}

# name|database|path|body kind|authenticated|settings|connections
cases=(
    "greeter/v1/hello (sync, no database)|sqlite|greeter/v1/hello|hello|yes"
    "greeter/v1/hello, metrics off|sqlite|greeter/v1/hello|hello|yes|ACTIONGATE_METRICS=false"
    "greeter/v1/hello/open (no auth, no limit)|sqlite|greeter/v1/hello/open|hello|"
    "greeter/v1/hello, token with a 50-rule custom role|sqlite|greeter/v1/hello|hello/custom-role|yes"
    "console/v1/project/get (SQLite)|sqlite|console/v1/project/get|project/get|yes"
    "console/v1/project/update (SQLite, sync write)|sqlite|console/v1/project/update|project/update|yes"
    "greeter/v1/report (designated async, 202)|sqlite|greeter/v1/report|report|yes"
    "deploy/v1/activity/list, 100k activities, 32 conns|sqlite|deploy/v1/activity/list|activity/list|yes||32"
    "access/v1/event/list, 1M events, one-hour window, 32 conns|sqlite|access/v1/event/list|event/list|yes||32"
)
if [ -n "${ACTIONGATE_TEST_POSTGRES_URL:-}" ]; then
    cases+=("greeter/v1/report on PostgreSQL (202)|postgres|greeter/v1/report|report|yes")
fi
# Proxying: the bare server called directly, through actiongate as an
# upstream service (authenticated, rate-limited), and through nginx; each
# case alone, the proxied ones with the bare server as their upstream.
proxy_cases=(
    "proxy: bare server, direct|direct"
    "proxy: through actiongate (upstream)|actiongate"
    "proxy: through nginx (keep-alive)|nginx"
)
async_secs=${DURATION%s}
# Two operating points by default: with more clients, more jobs are in
# flight, so throughput and latency trade against each other.
async_clients=${ASYNC_CLIENTS:-24 32}
async_cases=()
for clients in $async_clients; do
    async_cases+=("async end to end, SQLite, $clients clients|sqlite|$clients")
    # What syncing each commit (the default) costs against syncing at
    # checkpoints only.
    async_cases+=("async end to end, SQLite synchronous=normal, $clients clients|sqlite|$clients|ACTIONGATE_SQLITE_SYNCHRONOUS=normal")
    if [ -n "${ACTIONGATE_TEST_POSTGRES_URL:-}" ]; then
        async_cases+=("async end to end, PostgreSQL, $clients clients|postgres|$clients")
    fi
done

# Rounds interleave the cases, so that the machine's noise falls on all of
# them alike; each figure reported is the median over the rounds, and each
# ratio the median of the rounds' ratios to the bare figure measured just
# before.
results="$work/results"
async_results="$work/async-results"
proxy_results="$work/proxy-results"
: >"$results"
: >"$async_results"
: >"$proxy_results"
for round in $(seq 1 "$ROUNDS"); do
    for entry in "${cases[@]}"; do
        IFS='|' read -r name database path kind authenticated settings connections <<<"$entry"
        grep -Eq -- "$CASES" <<<"$name" || continue
        for build in "${builds[@]}"; do
            IFS='|' read -r label gateway_bin <<<"$build"
            bare=$(measure_bare "$connections") || exit 1
            start_gateway "$database" "$settings"
            body=$(case_body "$kind")
            # A case may call with a token of its own.
            if [ -s "$data/case.token" ]; then token=$(cat "$data/case.token"); fi
            figures=$(measure "http://$addr/$path" "$body" "${authenticated:+$token}" "$connections") || exit 1
            finish_gateway
            echo "$name$label|$figures|$bare" >>"$results"
        done
    done
    for entry in "${proxy_cases[@]}"; do
        IFS='|' read -r name how <<<"$entry"
        grep -Eq -- "$CASES" <<<"$name" || continue
        case $how in
            direct)
                start_bare
                figures=$(measure "http://$addr/v1/hello" '{"name": "bench"}' '') || exit 1
                stop_server ;;
            actiongate)
                start_upstream
                gateway_bin=${builds[0]#*|}
                ACTIONGATE_UPSTREAMS__BARE__TARGETS="[\"http://$upstream_addr\"]" start_gateway sqlite
                figures=$(measure "http://$addr/bare/v1/hello" '{"name": "bench"}' "$token") || exit 1
                finish_gateway ;;
            nginx)
                start_upstream
                start_nginx
                figures=$(measure "http://$addr/v1/hello" '{"name": "bench"}' '') || exit 1
                stop_server ;;
        esac
        echo "$name|$figures" >>"$proxy_results"
    done
    for entry in "${async_cases[@]}"; do
        IFS='|' read -r name database clients settings <<<"$entry"
        grep -Eq -- "$CASES" <<<"$name" || continue
        for build in "${builds[@]}"; do
            IFS='|' read -r label gateway_bin <<<"$build"
            bare=$(measure_bare) || exit 1
            start_gateway "$database" "$settings"
            before=$(cpu_ticks "$server_pid")
            figures=$(CONCURRENCY=$clients DURATION=$async_secs \
                target/release/actiongate-bench-async "http://$addr" "$token" greeter/v1/report '{}') || exit 1
            after=$(cpu_ticks "$server_pid")
            finish_gateway
            echo "$name$label|$figures $((after - before))|$bare" >>"$async_results"
        done
    done
    echo "round $round of $ROUNDS done" >&2
done

echo "wrk: $THREADS thread(s), $CONNECTIONS connections, $DURATION per case, median of $ROUNDS interleaved rounds, $(nproc) cores;"
echo "every case alone on a fresh server and database, the bare server measured alone just before it"
python3 - "$results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, figures, bare = line.rstrip("\n").split("|")
    rows.setdefault(name, []).append(([float(x) for x in figures.split()], [float(x) for x in bare.split()]))
fmt = lambda us: f"{us / 1000:.2f}ms" if us >= 1000 else f"{us:.0f}us"
print(f"{'case':<52}{'req/s':>10}{'p50':>10}{'p99':>10}{'bare req/s':>12}{'bare p50':>10}{'vs bare':>9}"
      f"{'CPU/req':>9}{'bare':>7}{'CPU x':>7}")
med = {}
for name, runs in rows.items():
    rps, p50, p99, cpu = [statistics.median(col) for col in zip(*(r for r, _ in runs))]
    bare_rps, bare_p50, _, bare_cpu = [statistics.median(col) for col in zip(*(b for _, b in runs))]
    ratio = statistics.median(r[0] / b[0] for r, b in runs)
    cpu_ratio = statistics.median(r[3] / b[3] for r, b in runs)
    med[name] = rps
    print(f"{name:<52}{rps:>10.0f}{fmt(p50):>10}{fmt(p99):>10}{bare_rps:>12.0f}{fmt(bare_p50):>10}{100 * ratio:>8.0f}%"
          f"{fmt(cpu):>9}{fmt(bare_cpu):>7}{cpu_ratio:>7.2f}")
if rows:
    print("CPU/req: the server's CPU time (all threads) per request; CPU x: that of the case over the bare server's")
secured = med.get("greeter/v1/hello (sync, no database)")
open_ = med.get("greeter/v1/hello/open (no auth, no limit)")
if secured and open_:
    print(f"cost of security: authenticated and rate-limited hello keeps {100 * secured / open_:.0f}% of the open route's req/s")
custom = med.get("greeter/v1/hello, token with a 50-rule custom role")
if secured and custom:
    print(f"cost of a custom role: hello with a 50-rule role's token keeps {custom / secured:.3f} of the admin token's req/s")
unmetered = med.get("greeter/v1/hello, metrics off")
if secured and unmetered:
    print(f"cost of metrics: hello with metrics on keeps {secured / unmetered:.3f} of its req/s with metrics off")
PY

if [ -s "$proxy_results" ]; then
    echo
    echo "proxying to the bare server: $DURATION per case, median of $ROUNDS interleaved rounds, each case alone"
    python3 - "$proxy_results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, figures = line.rstrip("\n").split("|")
    rows.setdefault(name, []).append([float(x) for x in figures.split()])
fmt = lambda us: f"{us / 1000:.2f}ms" if us >= 1000 else f"{us:.0f}us"
print(f"{'case':<52}{'req/s':>10}{'p50':>10}{'p99':>10}")
med = {}
for name, runs in rows.items():
    med[name] = [statistics.median(col) for col in zip(*runs)]
    # Not the CPU figure: for nginx it is its master process's alone.
    rps, p50, p99 = med[name][:3]
    print(f"{name:<52}{rps:>10.0f}{fmt(p50):>10}{fmt(p99):>10}")
ours = med.get("proxy: through actiongate (upstream)")
nginx = med.get("proxy: through nginx (keep-alive)")
if ours and nginx:
    print(f"actiongate / nginx: {ours[0] / nginx[0]:.2f} of its req/s; p50 {(ours[1] - nginx[1]) / 1000:+.2f} ms, p99 {(ours[2] - nginx[2]) / 1000:+.2f} ms against nginx's")
PY
fi

if [ -s "$async_results" ]; then
    echo
    echo "submit, then long-poll the result: $DURATION per run, median of $ROUNDS, each alone on a fresh gateway"
    python3 - "$async_results" "$async_secs" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
seconds, per_second = float(sys.argv[2]), int(sys.argv[3])
rows = {}
for line in open(sys.argv[1]):
    name, figures, bare = line.rstrip("\n").split("|")
    jobs, p50, p99, ticks = [float(x) for x in figures.split()]
    # The gateway's CPU time per completed job (its database's not counted).
    cpu = ticks / per_second * 1e6 / (jobs * seconds)
    rows.setdefault(name, []).append(((jobs, p50, p99, cpu), float(bare.split()[0])))
print(f"{'case':<52}{'jobs/s':>10}{'p50':>10}{'p99':>10}{'bare req/s':>12}{'CPU/job':>9}")
for name, runs in rows.items():
    jobs, p50, p99, cpu = [statistics.median(col) for col in zip(*(r for r, _ in runs))]
    bare = statistics.median(b for _, b in runs)
    print(f"{name:<52}{jobs:>10.0f}{p50 / 1000:>8.2f}ms{p99 / 1000:>8.2f}ms{bare:>12.0f}{cpu:>7.0f}us")
print("CPU/job: the gateway's CPU time (all threads) per completed job, submit and polls included")
PY
fi

# Connections, once, alone: 10,000 keep-alive connections each make one
# call and stay open; the gateway's memory idle, with them open, and
# $CONNECTIONS_SETTLE seconds (60) after they closed.
connections_case="connections: 10,000 idle keep-alive"
if grep -Eq -- "$CASES" <<<"$connections_case"; then
    for build in "${builds[@]}"; do
        IFS='|' read -r label gateway_bin <<<"$build"
        start_gateway sqlite
        figures=$(python3 bench/connections.py "$addr" "$token" "$server_pid" 10000 "${CONNECTIONS_SETTLE:-60}") || exit 1
        finish_gateway
        read -r idle held after <<<"$figures"
        echo
        echo "$connections_case$label: RSS idle $((idle / 1024)) MB, with them open $((held / 1024)) MB ($(((held - idle) / 10000)) KB each), $((${CONNECTIONS_SETTLE:-60})) s after they closed $((after / 1024)) MB"
    done
fi

# Statements per job, once, alone, on PostgreSQL: what the database ran
# while 32 clients submitted a designated-async call and long-polled its
# result for $DURATION, from pg_stat_statements (scripts/with-postgres.sh
# loads it) and the database's commit count, each divided by the jobs that
# succeeded. The job engine's statements are the same on SQLite.
statements_case="statements per job (PostgreSQL)"
if [ -n "${ACTIONGATE_TEST_POSTGRES_URL:-}" ] && grep -Eq -- "$CASES" <<<"$statements_case"; then
    gateway_bin=${builds[0]#*|}
    start_gateway postgres
    stats_url="${ACTIONGATE_TEST_POSTGRES_URL%/*}/$db"
    psql -qAt "$stats_url" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
    commits() {
        psql -qAt "$stats_url" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    }
    psql -qAt "$stats_url" -c "SELECT pg_stat_statements_reset()" >/dev/null
    commits_before=$(commits)
    CONCURRENCY=32 DURATION=$async_secs target/release/actiongate-bench-async "http://$addr" "$token" greeter/v1/report '{}' >/dev/null || exit 1
    sleep 1
    commits_after=$(commits)
    jobs=$(psql -qAt "$stats_url" -c "SELECT count(*) FROM jobs WHERE state = 'succeeded'")
    psql -qAt -F '|' "$stats_url" -o "$work/statements" -c "SELECT calls, rows, regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements \
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg\_%'"
    finish_gateway
    echo
    echo "$statements_case: 32 clients for $DURATION"
    python3 - "$jobs" "$((commits_after - commits_before))" "$work/statements" <<'PY'
import sys
jobs, commits, statements = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3]).read()
# One line per kind of statement: a batch of 1 and of 5 rows are one kind.
kinds = {}
for line in statements.splitlines():
    calls, rows, query = line.split("|", 2)
    words = query.replace('"', "").split()
    kind = " ".join(words[:4])
    if words[0] == "SELECT" and "FROM" in words:
        start = words.index("FROM")
        where = words.index("WHERE") if "WHERE" in words else len(words)
        kind = " ".join(["SELECT", words[1], "...", *words[start:start + 2], *words[where:where + 4]])
    total = kinds.setdefault(kind, [0, 0])
    total[0] += int(calls)
    total[1] += int(rows)
print(f"{jobs} jobs; {commits / jobs:.2f} transactions per job (an autocommitted read is one)")
print(f"{'per job':>8}{'rows each':>11}  statement")
for kind, (calls, rows) in sorted(kinds.items(), key=lambda k: -k[1][0]):
    if calls / jobs >= 0.001:
        print(f"{calls / jobs:>8.3f}{rows / max(calls, 1):>11.1f}  {kind[:100]}")
PY
fi

# A mixed load, once, alone: clones (their 202s), reads and bad input in
# one project that grows by every clone; each kind's p50 and p99 over the
# first and the last 20 s.
mixed_case="mixed load: clone, project/get, environment/list, bad input"
if grep -Eq -- "$CASES" <<<"$mixed_case"; then
    for build in "${builds[@]}"; do
        IFS='|' read -r label gateway_bin <<<"$build"
        start_gateway sqlite
        figures=$(DURATION=${MIXED_DURATION:-180} target/release/actiongate-bench-mixed "http://$addr" "$token") || exit 1
        finish_gateway
        echo
        echo "$mixed_case$label, 32 clients, ${MIXED_DURATION:-180} s:"
        python3 - "$figures" <<'PY'
import sys
fmt = lambda us: f"{int(us) / 1000:.2f}ms"
print(f"{'call':<28}{'start p50':>11}{'start p99':>11}{'end p50':>10}{'end p99':>10}{'calls':>9}")
for line in sys.argv[1].splitlines():
    name, figures = line.split("|")
    if name == "environments":
        print(f"the project held {figures} environments at the end")
        continue
    s50, s99, e50, e99, calls = figures.split()
    print(f"{name:<28}{fmt(s50):>11}{fmt(s99):>11}{fmt(e50):>10}{fmt(e99):>10}{calls:>9}")
PY
    done
fi
