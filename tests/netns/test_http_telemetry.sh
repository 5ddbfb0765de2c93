#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# http_telemetry__nginx_log_equals_metrics_streams_timed_prometheus_query
# HTTP/1.x telemetry (tc on the pods' veths, bpf/include/http_tel.h) against real servers and
# clients in lab pods, through ClusterIPs: nginx serves fixed answers (200, 404, 503), a
# gzipped static file (chunked) and HEAD; curl makes keep-alive sequences, POSTs with bodies
# and compressed downloads; socat sends pipelined requests with an unknown method; wrk
# hammers one URL over keep-alive connections; tests/tools/stream_server.py streams chunks on a
# schedule, as an LLM server streams tokens. Then:
#   - requests per (method, status) on the server side (the web pod) and on the client side
#     (the client pod, towards Service web) equal nginx's access log exactly; error_type says
#     which failed (5xx for a server, 4xx and 5xx for a client);
#   - chunked responses are counted as streamed; for the streams, the mean time to first chunk
#     and the mean gap between chunks are within 1 ms of the server's own log of when it sent
#     them, and the mean request duration within 1 ms of curl's;
#   - /metrics passes promtool, and a real Prometheus answers the request count;
#   - `sluice top` shows Service web with a rate and the share of its 503s.
. "$(dirname "$0")/lib.sh"
[ -n "${SL_TRACE:-}" ] && set -x

for c in nginx wrk socat python3 promtool prometheus; do
	command -v $c >/dev/null || fail "$c missing (make deps installs it)"
done
VIP=10.96.0.40
SVIP=10.96.0.41
N_STREAM=3
FIRST_MS=60
GAP_MS=25
CHUNKS=5

mkdir -p "$TMP/www/files"
for ((i = 0; i < 400; i++)); do echo "line $i of a text file that compresses well"; done >"$TMP/www/files/big.txt"
chmod -R o+rX "$TMP" # nginx's workers run as nobody
nginx_conf "log_format req '\$request_method \$status'; access_log $TMP/access.log req;
	keepalive_requests 100000; gzip on; gzip_types text/plain; gzip_min_length 1;" \
	"location = /fixed { return 200 \"hello\\n\"; }
		location = /missing { return 404; }
		location = /fail { return 503; }
		location /files/ { root $TMP/www; }" >"$TMP/nginx.conf"
: >"$TMP/access.log"
: >"$TMP/stream.log"
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
    command: ["python3", "$TOP/tests/tools/stream_server.py", "8000", "$TMP/stream.log", "$FIRST_MS", "$GAP_MS", "$CHUNKS"]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - {name: sleep, command: ["sleep", "infinity"]}
EOF
"$SLUICE" lab up "$TMP/lab.yaml" --name "$LAB" --metrics-address 127.0.0.1:9464 >"$TMP/up.log" 2>&1 ||
	{ cat "$TMP/up.log"; fail "lab up"; }
wait_for 10 in_pod web sh -c "ss -Htln | grep -q ':8080 '" || fail "nginx not listening"
wait_for 10 in_pod llm sh -c "ss -Htln | grep -q ':8000 '" || fail "stream server not listening"
jq -e '.telemetry.http == true' <<<"$(curl -sf --unix-socket "$SLUICE_SOCKET" http://x/v1/status)" >/dev/null ||
	fail "HTTP telemetry not on in /v1/status"
msum() { metric_sum "$TMP/metrics" "$@"; }
want() { [ "$2" = "$3" ] || fail "$1: got $2, want $3"; }

# --- traffic ---------------------------------------------------------------------------------
for ((i = 0; i < 3; i++)); do # one keep-alive connection each
	in_pod client curl -s "http://$VIP/fixed" "http://$VIP/missing" "http://$VIP/fixed" \
		"http://$VIP/fail" >/dev/null || fail "curl keep-alive sequence"
done
in_pod client curl -s -d 'a=1&b=2' "http://$VIP/fixed" "http://$VIP/fixed" >/dev/null ||
	fail "curl POST"
in_pod client curl -s -o /dev/null -I "http://$VIP/fixed" || fail "curl HEAD"
for ((i = 0; i < 2; i++)); do
	in_pod client curl -sf --compressed -o /dev/null "http://$VIP/files/big.txt" || fail "curl gzip"
done
in_pod client curl -s --compressed -D "$TMP/gz.head" -o /dev/null "http://$VIP/files/big.txt"
grep -qi '^transfer-encoding: chunked' "$TMP/gz.head" || fail "nginx did not chunk the gzipped file"
# pipelined, in one segment, with a method the parser does not know
printf 'GET /fixed HTTP/1.1\r\nHost: web\r\n\r\nPURGE /fixed HTTP/1.1\r\nHost: web\r\n\r\nGET /missing HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n' |
	in_pod client socat -t 2 - "TCP:$VIP:80" >"$TMP/pipelined.out" || fail "socat pipelined"
want "pipelined responses" "$(grep -c '^HTTP/1.1 ' "$TMP/pipelined.out")" 3
in_pod client wrk -t1 -c2 -d1s "http://$VIP/fixed" >"$TMP/wrk.out" 2>&1 || fail "wrk: $(tail -n3 "$TMP/wrk.out")"
for ((i = 0; i < N_STREAM; i++)); do
	in_pod client curl -s -o /dev/null -w '%{time_total}\n' "http://$SVIP/stream" >>"$TMP/curl_stream.txt" ||
		fail "curl stream"
done

# --- nginx's log against the metrics --------------------------------------------------------
# 499 is nginx's own code for a request whose client left before any response (wrk at its end):
# no response crossed the wire, so there is nothing to pair it with.
settled() {
	local n
	n=$(wc -l <"$TMP/access.log")
	sleep 0.3
	[ "$n" = "$(wc -l <"$TMP/access.log")" ]
}
wait_for 10 settled || fail "nginx's log does not settle"
awk '$2 != 499 { m = $1; if (m !~ /^(GET|HEAD|POST|PUT|DELETE|CONNECT|OPTIONS|TRACE|PATCH)$/) m = "_OTHER"; n[m " " $2]++ }
	END { for (k in n) print k, n[k] }' "$TMP/access.log" | sort >"$TMP/want.txt"
total=$(awk '{ s += $3 } END { print s }' "$TMP/want.txt")
[ "$total" -gt 100 ] || fail "nginx logged only $total requests: $(cat "$TMP/want.txt")"
counted() {
	curl -sf -m 5 http://127.0.0.1:9464/metrics >"$TMP/metrics" &&
		[ "$(msum http_server_request_duration_seconds_count k8s_pod_name=web)" = "$total" ] &&
		[ "$(msum http_client_request_duration_seconds_count k8s_pod_name=client service_name=web)" = "$total" ]
}
wait_for 10 counted || fail "requests counted: server $(msum http_server_request_duration_seconds_count k8s_pod_name=web), client $(msum http_client_request_duration_seconds_count k8s_pod_name=client service_name=web), nginx $total"
while read -r m s n; do
	want "server $m $s" "$(msum http_server_request_duration_seconds_count k8s_pod_name=web http_request_method=$m http_response_status_code=$s service_name=web)" "$n"
	want "client $m $s" "$(msum http_client_request_duration_seconds_count k8s_pod_name=client peer_k8s_pod_name=web http_request_method=$m http_response_status_code=$s)" "$n"
done <"$TMP/want.txt"
want "server errors are 5xx" "$(msum http_server_request_duration_seconds_count k8s_pod_name=web error_type=503)" \
	"$(awk '$1 == "GET" && $2 == 503 { print $3 }' "$TMP/want.txt")"
want "no server error_type on a 404" "$(msum http_server_request_duration_seconds_count k8s_pod_name=web error_type=404)" 0
[ "$(msum http_client_request_duration_seconds_count k8s_pod_name=client error_type=404)" -gt 0 ] ||
	fail "no client error_type on a 404"
want "+Inf bucket = count" "$(msum http_server_request_duration_seconds_bucket k8s_pod_name=web le=+Inf)" "$total"
want "gzipped (chunked) responses" "$(msum sluice_http_server_streamed_responses_total k8s_pod_name=web)" 3
[ "$(msum sluice_http_server_response_bytes_total k8s_pod_name=web)" -gt 0 ] || fail "no response bytes"
want "request bytes seen alike by both ends" \
	"$(msum sluice_http_client_request_bytes_total k8s_pod_name=client service_name=web)" \
	"$(msum sluice_http_server_request_bytes_total k8s_pod_name=web)"

# --- streams: time to first chunk, gaps and duration against the server's and curl's clocks ---
want "streams counted" "$(msum sluice_http_client_streamed_responses_total k8s_pod_name=client service_name=llm)" $N_STREAM
within_1ms() { # within_1ms WHAT GOT_S WANT_MS
	awk -v g="$2" -v w="$3" 'BEGIN { d = g * 1000 - w; exit !(d < 1 && d > -1) }' ||
		fail "$1: $(awk -v g="$2" 'BEGIN { printf "%.3f", g * 1000 }') ms, the other clock says $3 ms"
}
mean() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.9f", s / n }'; }
first_ms=$(awk '{ s += $1 } END { printf "%.3f", s / NR }' "$TMP/stream.log")
gap_ms=$(awk '{ for (i = 2; i <= NF; i++) { s += $i - $(i - 1); n++ } } END { printf "%.3f", s / n }' "$TMP/stream.log")
curl_ms=$(awk '{ s += $1 } END { printf "%.3f", s * 1000 / NR }' "$TMP/curl_stream.txt")
c="k8s_pod_name=client service_name=llm"
within_1ms "mean time to first chunk" "$(mean "$(msum sluice_http_client_time_to_first_chunk_seconds_sum $c)" "$(msum sluice_http_client_time_to_first_chunk_seconds_count $c)")" "$first_ms"
want "gaps" "$(msum sluice_http_client_chunk_gap_seconds_count $c)" $((N_STREAM * (CHUNKS - 1)))
within_1ms "mean gap between chunks" "$(mean "$(msum sluice_http_client_chunk_gap_seconds_sum $c)" "$(msum sluice_http_client_chunk_gap_seconds_count $c)")" "$gap_ms"
within_1ms "mean request duration (client side vs curl)" "$(mean "$(msum http_client_request_duration_seconds_sum $c)" "$(msum http_client_request_duration_seconds_count $c)")" "$curl_ms"

# --- exposition and Prometheus ------------------------------------------------------------------
promtool check metrics <"$TMP/metrics" >"$TMP/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(head -n5 "$TMP/promtool.out")"
prom_start
prom_wait 'sum(http_server_request_duration_seconds_count{k8s_pod_name="web"})' "$total" 30

# --- sluice top: rate, errors and latency per Service over an interval -------------------------
( end=$(($(date +%s) + 4)); while [ "$(date +%s)" -lt "$end" ]; do
	in_pod client curl -s "http://$VIP/fixed" "http://$VIP/fail" "http://$VIP/fixed" "http://$VIP/fail" >/dev/null
done ) &
gen=$!
sleep 0.5
"$SLUICE" top --interval 2 --iterations 1 >"$TMP/top.txt" 2>&1 || fail "sluice top: $(cat "$TMP/top.txt")"
"$SLUICE" top --client --interval 1 --iterations 1 >"$TMP/top-client.txt" 2>&1 || fail "sluice top --client: $(cat "$TMP/top-client.txt")"
wait $gen || true
row=$(awk '$1 == "default/web"' "$TMP/top.txt")
[ -n "$row" ] || fail "no default/web row in sluice top: $(cat "$TMP/top.txt")"
awk '{ rps = $2; err = $3; sub(/%/, "", err); exit !(rps > 0 && err >= 40 && err <= 60) }' <<<"$row" ||
	fail "sluice top: want a rate and about half errors (503s) for default/web: $row"
awk '$1 == "default/web" { found = 1 } END { exit !found }' "$TMP/top-client.txt" ||
	fail "no default/web row in sluice top --client: $(cat "$TMP/top-client.txt")"
echo "ok"
