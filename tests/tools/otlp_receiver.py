#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A local OTLP/HTTP (JSON) receiver for the tests: no collector is packaged here, so this
stands in for one. It decodes what arrives at /v1/metrics and /v1/traces and keeps each body
as a file.

Usage: otlp_receiver.py PORT OUTDIR [FAIL_FIRST]

The first FAIL_FIRST posts get a 503 (the exporter must retry them); every later one that is
valid JSON with resourceMetrics (at /v1/metrics) is written to OUTDIR/NNNNNN.json, with
resourceSpans (at /v1/traces) to OUTDIR/traces/NNNNNN.json, and answered 200 with "{}";
anything else gets a 400.
"""
import http.server
import json
import os
import sys

PORT, OUT = int(sys.argv[1]), sys.argv[2]
FAIL = int(sys.argv[3]) if len(sys.argv) > 3 else 0
state = {"posts": 0, "saved": 0, "traces": 0}
KEY = {"/v1/metrics": "resourceMetrics", "/v1/traces": "resourceSpans"}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        state["posts"] += 1
        if self.path not in KEY or self.headers.get("Content-Type") != "application/json":
            return self.reply(404, b"{}")
        if state["posts"] <= FAIL:
            return self.reply(503, b"{}")
        try:
            doc = json.loads(body)
            assert isinstance(doc[KEY[self.path]], list)
        except Exception:
            return self.reply(400, b"{}")
        if self.path == "/v1/traces":
            state["traces"] += 1
            out, n = os.path.join(OUT, "traces"), state["traces"]
        else:
            state["saved"] += 1
            out, n = OUT, state["saved"]
        tmp = os.path.join(out, ".tmp")
        with open(tmp, "wb") as f:
            f.write(body)
        os.rename(tmp, os.path.join(out, "%06d.json" % n))
        self.reply(200, b"{}")

    def reply(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


os.makedirs(os.path.join(OUT, "traces"), exist_ok=True)
http.server.HTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
