#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# http_events__observe_lines_trace_ids_p50_against_curl_and_otlp_spans
# HTTP request events (tc's sluice_http_events ring, sampled per CPU) in lab pods: curl asks
# nginx through a ClusterIP (fixed answers, a 404 with a query string) and
# tests/tools/stream_server.py (a chunked stream taking about 30 ms), most requests carrying a
# W3C traceparent of their own. Then:
#   - `sluice observe --type request` prints one line per request per side that saw it (the
#     server's veth and the client's), with method, path, status, latency and the trace id;
#   - the p50 of the durations the server's and the client's veths measured is within 1 ms of
#     the p50 of curl's own clock (time_total less time_connect: from the request going out);
#   - the agent pushes a span per request and side to an OTLP receiver (tests/tools/
#     otlp_receiver.py standing in for a collector, as in test_otlp): trace id and parent span
#     id from the header, SERVER and CLIENT kinds, HTTP attributes, the pods as resources;
#     requests without a valid traceparent get no span.
. "$(dirname "$0")/lib.sh"
[ -n "${SL_TRACE:-}" ] && set -x

for c in nginx python3 jq; do
	command -v $c >/dev/null || fail "$c missing (make deps installs it)"
done
VIP=10.96.0.70
SVIP=10.96.0.71
N=25
RECV="$TOP/tests/tools/otlp_receiver.py"

nginx_conf "access_log off; keepalive_requests 100000;" \
	"location = /fixed { return 200 \"hello\\n\"; }
		location / { return 404; }" >"$TMP/nginx.conf"
cat >"$TMP/lab.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: $VIP
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: llm, namespace: default}
spec:
  clusterIP: $SVIP
  selector: {app: llm}
  ports: [{name: http, port: 80, targetPort: 8000, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  containers:
  - name: nginx
    command: ["sh", "-c", "exec nginx -e stderr -p \"\$TMPDIR/\" -c $TMP/nginx.conf"]
---
apiVersion: v1
kind: Pod
metadata: {name: llm, namespace: default, labels: {app: llm}}
spec:
  containers:
  - name: stream
    command: ["python3", "$TOP/tests/tools/stream_server.py", "8000", "$TMP/stream.log", "20", "10", "2"]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - {name: sleep, command: ["sleep", "infinity"]}
EOF
printf 'otlp_endpoint: http://127.0.0.1:4318\notlp_interval_ms: 300\n' >"$TMP/agent.yaml"
"$SLUICE" lab up "$TMP/lab.yaml" --name "$LAB" --metrics-address 127.0.0.1:9464 \
	--agent-config "$TMP/agent.yaml" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "lab up"; }
wait_for 10 in_pod web sh -c "ss -Htln | grep -q ':8080 '" || fail "nginx not listening"
wait_for 10 in_pod llm sh -c "ss -Htln | grep -q ':8000 '" || fail "stream server not listening"
nsenter --net="$(node_ns)" python3 "$RECV" 4318 "$TMP/otlp" >"$TMP/recv.log" 2>&1 &
RECV_PID=$!
on_cleanup "kill $RECV_PID 2>/dev/null"

# --- traffic: each request its own trace ----------------------------------------------------
tid() { printf '%032x' $((0x5100000 + $1)); }
PARENT=00f067aa0ba902b7
for ((i = 0; i < N; i++)); do
	in_pod client curl -sf -o /dev/null -w '%{time_total} %{time_connect}\n' \
		-H "traceparent: 00-$(tid $i)-$PARENT-01" "http://$SVIP/stream" >>"$TMP/curl.txt" ||
		fail "curl stream $i"
done
in_pod client curl -s -o /dev/null -o /dev/null -H "traceparent: 00-$(tid 99)-$PARENT-01" \
	"http://$VIP/fixed" "http://$VIP/missing/thing?q=1" || fail "curl keep-alive pair"
in_pod client curl -s -o /dev/null -H "traceparent: 00-nothex-$PARENT-01" "http://$VIP/fixed" ||
	fail "curl with a malformed traceparent"

# --- sluice observe ----------------------------------------------------------------------------
want_events=$((2 * (N + 3))) # each request seen on the client's veth and on the server's
observed() {
	"$SLUICE" observe --type request --no-follow -o json >"$TMP/obs.json" 2>"$TMP/obs.err" &&
		[ "$(wc -l <"$TMP/obs.json")" -ge $want_events ]
}
wait_for 10 observed || fail "sluice observe --type request: $(wc -l <"$TMP/obs.json") events, want $want_events: $(cat "$TMP/obs.err")"
q() { jq -s "$1" "$TMP/obs.json"; }
[ "$(q '[.[] | select(.http.path == "/stream" and .http.status == 200 and .http.method == "GET")] | length')" = $((2 * N)) ] ||
	fail "want $((2 * N)) GET /stream -> 200 events: $(head -c 600 "$TMP/obs.json")"
[ "$(q '[.[] | select(.http.path == "/stream" and .observed == "server" and .destination.pod == "llm" and .source.pod == "client")] | length')" = $N ] ||
	fail "server-side events do not name both pods: $(q '[.[] | select(.observed == "server")][0]')"
[ "$(q '[.[] | select(.http.path == "/stream" and .observed == "client" and .source.pod == "client")] | length')" = $N ] ||
	fail "client-side events: $(q '[.[] | select(.observed == "client")][0]')"
for ((i = 0; i < N; i++)); do
	[ "$(q "[.[] | select(.trace.trace_id == \"$(tid $i)\" and .trace.parent_span_id == \"$PARENT\" and .trace.sampled == true)] | length")" = 2 ] ||
		fail "trace $(tid $i) not in two events"
done
[ "$(q '[.[] | select(.http.path == "/missing/thing?q=1" and .http.status == 404)] | length')" = 2 ] ||
	fail "the 404 with a query string: $(q '[.[] | select(.http.status == 404)]')"
[ "$(q '[.[] | select(.http.path == "/stream") | .http.chunks] | min')" -ge 2 ] || fail "chunks not counted"
[ "$(q "[.[] | select(.trace.trace_id == \"$(tid 99)\")] | length")" = 4 ] ||
	fail "both requests of a keep-alive connection carry its traceparent"
[ "$(q '[.[] | select(.http.path == "/fixed" and .trace == null)] | length')" = 2 ] ||
	fail "a malformed traceparent gave a trace id"
"$SLUICE" observe --type request --no-follow >"$TMP/obs.txt" 2>&1 || fail "sluice observe (text)"
grep -q "default/client:[0-9]* -> default/llm:8000 (svc llm)  HTTP  GET /stream -> 200  [0-9.]* ms (ttfb [0-9.]* ms)  seen=server  trace=$(tid 0)" "$TMP/obs.txt" ||
	fail "no L7 line for the first stream request: $(grep /stream "$TMP/obs.txt" | head -n2)"

# --- p50 of the kernel's durations against curl's clock --------------------------------------
p50() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
curl_ms=$(awk '{ printf "%.3f\n", ($1 - $2) * 1000 }' "$TMP/curl.txt" | p50)
for side in server client; do
	got=$(jq -r "select(.http.path == \"/stream\" and .observed == \"$side\") | .http.duration_ms" "$TMP/obs.json" | p50)
	awk -v g="$got" -v w="$curl_ms" 'BEGIN { d = g - w; exit !(d < 1 && d > -1) }' ||
		fail "p50 duration on the $side's veth $got ms, curl's $curl_ms ms"
done

# --- spans at the OTLP receiver ----------------------------------------------------------------
spans_ok() {
	python3 - "$TMP/otlp/traces" "$N" "$PARENT" >"$TMP/spans.out" 2>&1 <<'EOF'
import glob, json, sys
d, n, parent = sys.argv[1], int(sys.argv[2]), sys.argv[3]
spans = []
for f in sorted(glob.glob(d + "/*.json")):
    for rs in json.load(open(f))["resourceSpans"]:
        res = {a["key"]: a["value"].get("stringValue") for a in rs["resource"]["attributes"]}
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                s["_res"] = res
                s["_attrs"] = {a["key"]: list(a["value"].values())[0] for a in s["attributes"]}
                spans.append(s)
stream = [s for s in spans if s["_attrs"].get("url.path") == "/stream"]
assert len(stream) == 2 * n, "%d /stream spans, want %d" % (len(stream), 2 * n)
for i in range(n):
    tid = "%032x" % (0x5100000 + i)
    mine = [s for s in stream if s["traceId"] == tid]
    assert sorted(s["kind"] for s in mine) == [2, 3], (tid, [s["kind"] for s in mine])
    for s in mine:
        assert s["parentSpanId"] == parent and len(s["spanId"]) == 16 and s["spanId"] != "0" * 16, s
        assert s["name"] == "GET" and s["_attrs"]["http.request.method"] == "GET", s
        assert s["_attrs"]["http.response.status_code"] == "200", s
        assert int(s["endTimeUnixNano"]) - int(s["startTimeUnixNano"]) > 20_000_000, s
        pod = "llm" if s["kind"] == 2 else "client"
        assert s["_res"].get("k8s.pod.name") == pod and s["_res"].get("k8s.namespace.name") == "default", s["_res"]
        if s["kind"] == 2:
            assert s["_res"].get("service.name") == "llm", s["_res"]
    assert mine[0]["spanId"] != mine[1]["spanId"]
nf = [s for s in spans if s["_attrs"].get("url.path") == "/missing/thing?q=1"]
assert len(nf) == 2 and all(s["_attrs"]["http.response.status_code"] == "404" for s in nf), nf
# a 404 is an error for the client, not for the server
assert {s["kind"]: s.get("status", {}).get("code") for s in nf} == {2: None, 3: 2}, nf
assert not [s for s in spans if s["_attrs"].get("url.path") == "/fixed" and s["traceId"] != "%032x" % (0x5100000 + 99)]
print("ok", len(spans))
EOF
}
wait_for 10 spans_ok || fail "spans at the receiver: $(tail -n3 "$TMP/spans.out")"
curl -sf -m 2 http://127.0.0.1:9464/metrics >"$TMP/metrics" || fail "no /metrics"
[ "$(metric_sum "$TMP/metrics" sluice_otlp_spans_total result=exported)" -ge $((2 * N + 4)) ] ||
	fail "spans exported: $(grep sluice_otlp_spans "$TMP/metrics")"
echo "ok"
