"""Fills a gateway's SQLite job table with finished activities, for the
activity/list bench case: COUNT of them in the project PROJECT, one in ten
on the environment ENVIRONMENT and the rest on 99 others, newest last.

Usage: seed-activities.py DB PROJECT ENVIRONMENT COUNT
"""

import json
import sqlite3
import sys
import time

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def request_id(ms, n):
    """A prq_ id as the gateway makes them (a ULID: 48 bits of time, 80 of
    anything), ordered by `ms` and then `n`."""
    value = (ms << 80) | n
    text = "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
    return "prq_" + text


def main():
    db, project, environment, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    conn = sqlite3.connect(db, timeout=30)
    token, user, org = conn.execute("SELECT id, user_id, org_id FROM tokens LIMIT 1").fetchone()
    start = int(time.time() * 1000) - count * 1000
    types = ["environment.branch", "environment.sync", "environment.pause", "environment.resume"]
    rows = []
    for n in range(count):
        at = start + n * 1000
        env = environment if n % 10 == 0 else f"env_other{n % 99:02d}"
        rid = request_id(at, n)
        body = json.dumps({"id": env, "name": f"branch-{n}"}).encode()
        response = json.dumps(
            {
                "request_id": rid,
                "request_time": "2026-01-01T00:00:00.000000Z",
                "response_time": "2026-01-01T00:00:00.001000Z",
                "status": "Success",
                "summary": "Done",
                "result": {"id": env},
            }
        )
        log = json.dumps([{"at": "2026-01-01T00:00:00.000500Z", "message": "done"}])
        rows.append(
            (rid, org, user, token, "admin", "deploy", "v1", "environment/sync", body,
             "succeeded", 0, 1, 0, response, 200, at, at, at + 5, at + 10**12,
             f"environment:{env}", types[n % len(types)], project, 100, log,
             f"bench {types[n % len(types)]} of {env}")
        )
    conn.executemany(
        "INSERT INTO jobs (request_id, org_id, user_id, token_id, role, service, version, action,"
        " input, state, cancel_requested, attempts, poll_count, response, http_code, request_time,"
        " started_at, finished_at, expires_at, queue_key, activity_type, activity_project_id,"
        " progress, log, description)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.close()


if __name__ == "__main__":
    main()
