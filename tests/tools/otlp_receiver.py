#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A local OTLP/HTTP (JSON) receiver for the tests: no collector is packaged here, so this
stands in for one. It decodes what arrives at /v1/metrics and keeps each body as a file.

Usage: otlp_receiver.py PORT OUTDIR [FAIL_FIRST]

The first FAIL_FIRST posts get a 503 (the exporter must retry them); every later one that is
valid JSON with resourceMetrics is written to OUTDIR/NNNNNN.json and answered 200 with "{}";
anything else gets a 400.
"""
import http.server
import json
import os
import sys

PORT, OUT = int(sys.argv[1]), sys.argv[2]
FAIL = int(sys.argv[3]) if len(sys.argv) > 3 else 0
state = {"posts": 0, "saved": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        state["posts"] += 1
        if self.path != "/v1/metrics" or self.headers.get("Content-Type") != "application/json":
            return self.reply(404, b"{}")
        if state["posts"] <= FAIL:
            return self.reply(503, b"{}")
        try:
            doc = json.loads(body)
            assert isinstance(doc["resourceMetrics"], list)
        except Exception:
            return self.reply(400, b"{}")
        state["saved"] += 1
        tmp = os.path.join(OUT, ".tmp")
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, os.path.join(OUT, "%06d.json" % state["saved"]))
        self.reply(200, b"{}")

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


os.makedirs(OUT, exist_ok=True)
http.server.HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
