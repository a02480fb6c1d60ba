#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server, started from the
# installed server binaries in a temporary directory and stopped (and
# removed) when the command ends. The command finds the server in
# ACTIONGATE_TEST_POSTGRES_URL.
#
#   scripts/with-postgres.sh cargo test --workspace
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "with-postgres: PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)" >&2
    exit 1
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/actiongate-pg.XXXXXX")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# initdb refuses to run as root; run the server as the postgres user then.
as_postgres=()
if [ "$(id -u)" = 0 ]; then
    chown postgres "$dir"
    as_postgres=(runuser -u postgres --)
fi

stop() {
    "${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT

"${as_postgres[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
# fsync off: the data is thrown away, and tests should not wait on the disk.
"${as_postgres[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=300 -c shared_preload_libraries=pg_stat_statements" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }

export ACTIONGATE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
"$@"
