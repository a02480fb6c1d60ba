#!/usr/bin/env bash
# The scenario with curl: create a project, create an environment in it,
# clone the environment (an asynchronous call: 202, then poll), list the
# project's environments, and list its activities (the clone is one).
#
#   ACTIONGATE_URL=http://127.0.0.1:8080 ACTIONGATE_TOKEN=$(cat data/admin.token) examples/curl.sh
set -euo pipefail
URL=${ACTIONGATE_URL:-http://127.0.0.1:8080}
TOKEN=${ACTIONGATE_TOKEN:?set ACTIONGATE_TOKEN to a token, such as the one in data/admin.token}

# POST <path> <json>: prints the envelope.
call() {
    curl -sS -X POST "$URL/$1" -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' -d "$2"
}

# <field path> of the envelope on stdin, such as result.id.
field() {
    python3 -c 'import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[key]
print(value)' "$1"
}

project=$(call console/v1/project/create '{"name": "example-curl"}' | field result.id)
echo "project $project"
staging=$(call deploy/v1/environment/create "{\"project_id\": \"$project\", \"name\": \"staging\"}" | field result.id)
echo "environment $staging"

# Designated asynchronous: answered 202 with where to poll.
accepted=$(call deploy/v1/environment/clone "{\"id\": \"$staging\", \"name\": \"staging-copy\"}")
location=$(field result.location <<<"$accepted")
status=Accepted
while [ "$status" = Accepted ]; do
    # A long-poll: the gateway holds it until the result is there (up to 10 s).
    done_envelope=$(curl -sS "$location?wait=10" -H "Authorization: Bearer $TOKEN")
    status=$(field status <<<"$done_envelope")
done
[ "$status" = Success ] || { echo "clone ended $status: $done_envelope" >&2; exit 1; }
clone=$(field result.id <<<"$done_envelope")
echo "clone $clone"

call deploy/v1/environment/list "{\"project_id\": \"$project\", \"order_by\": \"name\"}" |
    python3 -c 'import json, sys
for env in json.load(sys.stdin)["result"]["results"]:
    print("  ", env["name"], env["id"], "from", env.get("parent"))'
# Every operation that ran as an activity, newest first.
call deploy/v1/activity/list "{\"project_id\": \"$project\"}" |
    python3 -c 'import json, sys
for activity in json.load(sys.stdin)["result"]["results"]:
    print("activity", activity["type"], activity["state"], activity["result"], activity["id"])'
echo "scenario done: $clone"
