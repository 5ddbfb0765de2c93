#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Reads an OTLP/JSON ExportMetricsServiceRequest and prints the total of one metric over the
data points whose attributes match: a Sum's values, or a Histogram's counts (checking on the
way that each histogram's bucket counts add up to its count).

Usage: otlp_query.py FILE METRIC [KEY=VALUE]...
Prints the total, or "absent" when no such metric is in the body; exits 1 on a malformed body.
"""
import json
import sys


def attr_value(v):
    for k in ("stringValue", "intValue", "boolValue", "doubleValue"):
        if k in v:
            return str(v[k]).lower() if k == "boolValue" else str(v[k])
    return ""


def main():
    doc = json.load(open(sys.argv[1]))
    name, want = sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
    total, found = 0, False
    for rm in doc["resourceMetrics"]:
        for sm in rm["scopeMetrics"]:
            for m in sm["metrics"]:
                if m["name"] != name:
                    continue
                found = True
                body = m.get("sum") or m.get("histogram")
                assert body["aggregationTemporality"] == 2, "not cumulative"
                for dp in body["dataPoints"]:
                    attrs = {a["key"]: attr_value(a["value"]) for a in dp["attributes"]}
                    if any(attrs.get(k) != v for k, v in want.items()):
                        continue
                    if "sum" in m:
                        total += int(dp["asInt"])
                    else:
                        counts = [int(c) for c in dp["bucketCounts"]]
                        assert len(counts) == len(dp["explicitBounds"]) + 1, "bucket count"
                        assert sum(counts) == int(dp["count"]), "buckets do not add up"
                        total += int(dp["count"])
    print(total if found else "absent")


if __name__ == "__main__":
    try:
        main()
    except (KeyError, AssertionError, ValueError) as e:
        print("malformed: %s" % e)
        sys.exit(1)
