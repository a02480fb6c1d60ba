"""Fills a gateway's SQLite event stream for the event/list bench case:
COUNT events sent over the last 30 days, evenly, each tagged `env` (one of
3 values) and `host` (one of 50), with their tag rows and the pairs seen.

Usage: seed-events.py DB COUNT
"""

import sqlite3
import sys
import time

TYPES = ["Custom", "Monitoring", "Platform", "Cloud"]
SEVERITIES = ["info", "warn", "err", "crit"]
ENVS = ["prod", "staging", "dev"]


def main():
    db, count = sys.argv[1], int(sys.argv[2])
    conn = sqlite3.connect(db, timeout=30)
    user, org = conn.execute("SELECT user_id, org_id FROM tokens LIMIT 1").fetchone()
    now = int(time.time() * 1000)
    span = 30 * 24 * 3600 * 1000
    step = span // count
    start = now - span
    batch_events, batch_tags = [], []

    def flush():
        conn.executemany(
            "INSERT INTO events (id, org_id, type, severity, title, message, icon, color,"
            " user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?)",
            batch_events,
        )
        conn.executemany(
            "INSERT INTO event_tags (event_id, org_id, key, value, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            batch_tags,
        )
        batch_events.clear()
        batch_tags.clear()

    for n in range(count):
        at = start + n * step
        event_id = f"evt_bench{n:010d}"
        batch_events.append(
            (event_id, org, TYPES[n % 4], SEVERITIES[(n // 4) % 4], f"event {n}",
             f"something happened ({n})", user, at, at + 90 * 24 * 3600 * 1000)
        )
        batch_tags.append((event_id, org, "env", ENVS[n % 3], at))
        batch_tags.append((event_id, org, "host", f"host{n % 50:02d}", at))
        if len(batch_events) >= 50_000:
            flush()
    flush()
    conn.executemany(
        "INSERT OR IGNORE INTO event_tag_values (org_id, key, value) VALUES (?, ?, ?)",
        [(org, "env", env) for env in ENVS] + [(org, "host", f"host{h:02d}") for h in range(50)],
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


if __name__ == "__main__":
    main()
