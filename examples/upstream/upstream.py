"""A small service to put behind actiongate: invoices and reports.

It shows what an upstream does with what the gateway sends:

- verifies `X-Actiongate-Identity` against the gateway's JWKS with PyJWT
  (audience "billing", issuer the gateway's URL), and uses its claims
  (`sub`, `org`, `role`) as the caller;
- makes each call once, whatever the retries, by its `Idempotency-Key`
  (the gateway's request id, the same on every attempt);
- answers a slow job with 202 and a `Location` the gateway polls.

    GATEWAY_URL=http://127.0.0.1:8080 python3 upstream.py 9001

Only the standard library and PyJWT (`pip install "PyJWT[crypto]"`).
"""

import json
import os
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

GATEWAY = os.environ.get("GATEWAY_URL", "http://127.0.0.1:8080")
KEYS = jwt.PyJWKClient(f"{GATEWAY}/.well-known/jwks.json")

# Idempotency-Key -> the answer given; a real service keeps it in its
# database, in the transaction that does the work.
DONE = {}
REPORTS = {}
LOCK = threading.Lock()


def caller(headers):
    """The verified identity, or None."""
    token = headers.get("X-Actiongate-Identity")
    if not token:
        return None
    try:
        key = KEYS.get_signing_key_from_jwt(token)
        return jwt.decode(
            token, key.key, algorithms=["EdDSA"], audience="billing", issuer=GATEWAY
        )
    except jwt.PyJWTError:
        return None


class Handler(BaseHTTPRequestHandler):
    def answer(self, code, body=None, headers=()):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/healthz":
            return self.answer(200, {})
        if self.path.startswith("/reports/"):
            if caller(self.headers) is None:
                return self.answer(401, {})
            report = REPORTS.get(self.path.rsplit("/", 1)[1])
            if report is None:
                return self.answer(404, {})
            if time.time() < report["ready_at"]:
                return self.answer(202, None, [("Location", self.path), ("Retry-After", "1")])
            return self.answer(200, {"report": report["id"], "rows": 3})
        self.answer(404, {})

    def do_POST(self):
        who = caller(self.headers)
        if who is None:
            return self.answer(401, {})
        length = int(self.headers.get("Content-Length") or 0)
        params = json.loads(self.rfile.read(length) or b"{}")
        key = self.headers.get("Idempotency-Key")
        with LOCK:
            if key in DONE:
                return self.answer(*DONE[key])
            if self.path == "/v1/invoice/create":
                invoice = {
                    "id": f"inv_{uuid.uuid4().hex[:12]}",
                    "amount": params.get("amount"),
                    "created_by": who["sub"],
                    "org": who["org"],
                }
                DONE[key] = (200, invoice)
            elif self.path == "/v1/report/build":
                report = {"id": uuid.uuid4().hex[:8], "ready_at": time.time() + 2}
                REPORTS[report["id"]] = report
                DONE[key] = (202, None, [("Location", f"/reports/{report['id']}")])
            else:
                return self.answer(404, {})
            return self.answer(*DONE[key])

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9001
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"billing upstream on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
