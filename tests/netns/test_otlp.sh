#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# otlp__push_to_a_receiver_retry_bounded_queue_and_recovery
# The agent's OTLP/HTTP (JSON) push. No OpenTelemetry collector is packaged for this machine,
# so tests/tools/otlp_receiver.py stands in for one: a local HTTP server that decodes every
# body it accepts and keeps it. It runs in the lab's node namespace, where the agent runs.
#   - curl through a ClusterIP to nginx: the bodies carry http.server.request.duration with the
#     request count, http.request.method, http.response.status_code (an int) and k8s.pod.name,
#     and the L4 sums, all cumulative, each histogram's buckets adding up to its count;
#   - the receiver refuses the first posts with 503: the agent retries them;
#   - with the receiver gone the agent's queue stays within otlp_queue bodies (the oldest are
#     dropped and counted) and /metrics still answers at once; when it is back, pushes resume;
#   - an otlp_endpoint that is not http(s) stops the agent with an error naming the key.
. "$(dirname "$0")/lib.sh"
[ -n "${SL_TRACE:-}" ] && set -x

command -v nginx >/dev/null || skip "nginx missing"
command -v python3 >/dev/null || fail "python3 missing"
VIP=10.96.0.60
QUEUE=3
RECV="$TOP/tests/tools/otlp_receiver.py"
QUERY="$TOP/tests/tools/otlp_query.py"

nginx_conf "access_log off;" "location / { return 200 \"hi\\n\"; }" >"$TMP/nginx.conf"
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
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  containers:
  - name: nginx
    command: ["sh", "-c", "exec nginx -e stderr -p \"\$TMPDIR/\" -c $TMP/nginx.conf"]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - {name: sleep, command: ["sleep", "infinity"]}
EOF
printf 'otlp_endpoint: http://127.0.0.1:4318/\notlp_interval_ms: 200\notlp_timeout_ms: 500\notlp_queue: %s\n' \
	$QUEUE >"$TMP/agent.yaml"
"$SLUICE" lab up "$TMP/lab.yaml" --name "$LAB" --metrics-address 127.0.0.1:9464 \
	--agent-config "$TMP/agent.yaml" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "lab up"; }
wait_for 10 in_pod web sh -c "ss -Htln | grep -q ':8080 '" || fail "nginx not listening"
scrape() { curl -sf -m 1 http://127.0.0.1:9464/metrics >"$TMP/metrics"; }
msum() { metric_sum "$TMP/metrics" "$@"; }

recv_start() { # recv_start FAIL_FIRST
	nsenter --net="$(node_ns)" python3 "$RECV" 4318 "$TMP/otlp" "$1" >"$TMP/recv.log" 2>&1 &
	RECV_PID=$!
	on_cleanup "kill $RECV_PID 2>/dev/null"
}
latest() { ls "$TMP/otlp"/*.json 2>/dev/null | tail -n1; }

recv_start 2
for ((i = 0; i < 10; i++)); do
	in_pod client curl -sf -m 2 -o /dev/null "http://$VIP/r$i" || fail "curl through $VIP"
done
pushed() {
	local f
	f=$(latest)
	[ -n "$f" ] &&
		[ "$(python3 "$QUERY" "$f" http.server.request.duration k8s.pod.name=web http.request.method=GET http.response.status_code=200)" = 10 ] &&
		[ "$(python3 "$QUERY" "$f" http.client.request.duration k8s.pod.name=client k8s.service.name=web)" = 10 ] &&
		[ "$(python3 "$QUERY" "$f" sluice.tcp.connections.opened k8s.pod.name=client sluice.role=client)" -ge 10 ]
}
wait_for 15 pushed || {
	f=$(latest)
	fail "the receiver's latest body (${f:-none}) does not hold the 10 requests: $( [ -n "$f" ] && python3 "$QUERY" "$f" http.server.request.duration k8s.pod.name=web)"
}
f=$(latest)
python3 "$QUERY" "$f" sluice.tcp.rtt k8s.pod.name=client >/dev/null || fail "malformed histogram: $(python3 "$QUERY" "$f" sluice.tcp.rtt)"
grep -q '"key":"http.response.status_code","value":{"intValue":"200"}' "$f" ||
	fail "http.response.status_code is not an int attribute"
grep -q '"key":"service.name","value":{"stringValue":"sluice-agent"}' "$f" || fail "no service.name resource"
scrape || fail "no /metrics"
[ "$(msum sluice_otlp_exports_total result=sent)" -ge 1 ] || fail "no sent export counted"
[ "$(msum sluice_otlp_exports_total result=failed)" -ge 2 ] || fail "the refused posts were not retried"

# --- the collector goes away: bounded queue, /metrics unaffected; then it comes back ---------
kill "$RECV_PID"
wait "$RECV_PID" 2>/dev/null || true
sleep 2.5
t0=$(date +%s%N)
scrape || fail "/metrics does not answer within 1 s with the collector gone"
[ $((($(date +%s%N) - t0) / 1000000)) -lt 1000 ] || fail "/metrics slow with the collector gone"
q=$(msum sluice_otlp_queue_bodies)
[ "$q" -le $QUEUE ] || fail "queue holds $q bodies, more than otlp_queue $QUEUE"
[ "$(msum sluice_otlp_exports_total result=dropped)" -ge 1 ] || fail "no body dropped while the collector was gone (queue $q)"
sent=$(msum sluice_otlp_exports_total result=sent)
recv_start 0
resumed() { scrape && [ "$(msum sluice_otlp_exports_total result=sent)" -gt "$sent" ]; }
wait_for 15 resumed || fail "no push after the collector came back"

# --- a bad endpoint is refused with the key named -----------------------------------------------
printf 'otlp_endpoint: "ftp://127.0.0.1"\n' >"$TMP/bad.yaml"
if timeout 10 "$O/sluice-agent" --config "$TMP/bad.yaml" --bpffs-root "/sys/fs/bpf/sluice-bad-$LAB" \
	--api-socket "$TMP/bad.sock" --state-file "$TMP/bad.json" --metrics-address off \
	>"$TMP/bad.log" 2>&1; then
	fail "the agent started with an ftp:// otlp_endpoint"
fi
grep -q 'otlp_endpoint: want http' "$TMP/bad.log" || fail "no error naming otlp_endpoint: $(tail -n2 "$TMP/bad.log")"
rm -rf "/sys/fs/bpf/sluice-bad-$LAB"
echo "ok"
