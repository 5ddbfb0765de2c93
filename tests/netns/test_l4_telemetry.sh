#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# l4_telemetry__nginx_curl_counts_bytes_prometheus_cardinality_and_deleted_pods
# L4 telemetry (sock_ops, sluice_l4_flow) on real connections between lab pods: curl in the
# client pod talks to two nginx pods through a ClusterIP and directly, and asks a port nothing
# listens on. Then:
#   - connections opened and closed per (pod, role, peer pod, Service, port) equal what curl made,
#     on the client's side and on the servers', and the RTT histogram has one sample each;
#   - payload bytes each way equal what nginx's access log says it read ($request_length) and
#     sent ($bytes_sent), exactly; the refused connect is counted as refused;
#   - a connection kept open shows its bytes within seconds (the flush iterator), and its
#     close does not count them again;
#   - /metrics passes `promtool check metrics`, and a real Prometheus server scraping it
#     answers a PromQL query with the connection count;
#   - a pod whose endpoint is released (the CNI DEL's API call) loses its series;
#   - with a series limit of 1 and an allow-list of two labels, the rest sums into the
#     otel_metric_overflow="true" series and nothing is lost; a bad allow-list stops the agent
#     with an error naming the label.
. "$(dirname "$0")/lib.sh"
[ -n "${SL_TRACE:-}" ] && set -x

command -v nginx >/dev/null || skip "nginx missing"
command -v promtool >/dev/null || fail "promtool missing (make deps installs prometheus)"
command -v prometheus >/dev/null || fail "prometheus missing (make deps installs it)"
VIP=10.96.0.30
N_SVC=20
N_DIRECT=5

for p in web1 web2; do
	nginx_conf "log_format len '\$request_length \$bytes_sent'; access_log $TMP/access-$p.log len;" \
		"location / { return 200 \"$p \$request_method \$uri\\n\"; }" >"$TMP/nginx-$p.conf"
	: >"$TMP/access-$p.log"
done
cat >"$TMP/lab.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: $VIP
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
---
apiVersion: v1
kind: Pod
metadata: {name: web1, namespace: default, labels: {app: web}}
spec:
  containers:
  - name: nginx
    command: ["sh", "-c", "exec nginx -e stderr -p \"\$TMPDIR/\" -c $TMP/nginx-web1.conf"]
---
apiVersion: v1
kind: Pod
metadata: {name: web2, namespace: default, labels: {app: web}}
spec:
  containers:
  - name: nginx
    command: ["sh", "-c", "exec nginx -e stderr -p \"\$TMPDIR/\" -c $TMP/nginx-web2.conf"]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - {name: sleep, command: ["sleep", "infinity"]}
EOF
echo "telemetry_series_limit: 2000" >"$TMP/agent.yaml"
"$SLUICE" lab up "$TMP/lab.yaml" --name "$LAB" --metrics-address 127.0.0.1:9464 \
	--agent-config "$TMP/agent.yaml" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "lab up"; }
WEB1=$(pod_ip web1)
for p in web1 web2; do
	# ready without a connection: every connection counts
	wait_for 10 in_pod "$p" sh -c "ss -Htln | grep -q ':8080 '" || fail "nginx in $p not listening"
done
jq -e '.telemetry.l4 == true' <<<"$(curl -sf --unix-socket "$SLUICE_SOCKET" http://x/v1/status)" >/dev/null ||
	fail "L4 telemetry not on in /v1/status"

scrape() { curl -sf -m 5 http://127.0.0.1:9464/metrics; }
msum() { metric_sum "$TMP/metrics" "$@"; }
want() { # want WHAT GOT EXPECTED
	[ "$2" = "$3" ] || fail "$1: got $2, want $3"
}

# --- traffic ---------------------------------------------------------------------------------
for ((i = 0; i < N_SVC; i++)); do
	in_pod client curl -sf -m 2 -o /dev/null "http://$VIP/svc" || fail "curl through $VIP failed"
done
for ((i = 0; i < N_DIRECT; i++)); do
	in_pod client curl -sf -m 2 -o /dev/null "http://$WEB1:8080/direct" || fail "curl to $WEB1 failed"
done
in_pod client curl -s -m 2 -o /dev/null "http://$WEB1:9999/" && fail "port 9999 answered"

# every close is in (the server side closes last, after the client's FIN)
closed_all() {
	scrape >"$TMP/metrics" &&
		[ "$(msum sluice_tcp_connections_closed_total role=server)" = $((N_SVC + N_DIRECT)) ] &&
		[ "$(msum sluice_tcp_connections_closed_total role=client)" = $((N_SVC + N_DIRECT)) ]
}
wait_for 10 closed_all || fail "closes not counted: $(grep '^sluice_tcp_connections_closed_total' "$TMP/metrics")"

# --- counts ----------------------------------------------------------------------------------
want "client->Service opened" "$(msum sluice_tcp_connections_opened_total k8s_pod_name=client role=client service_name=web service_namespace=default server_port=80)" $N_SVC
want "client->Service closed" "$(msum sluice_tcp_connections_closed_total k8s_pod_name=client role=client service_name=web)" $N_SVC
want "client->web1 direct opened" "$(msum sluice_tcp_connections_opened_total k8s_pod_name=client role=client peer_k8s_pod_name=web1 server_port=8080 !service_name)" $N_DIRECT
svc_web1=$(msum sluice_tcp_connections_opened_total k8s_pod_name=client service_name=web peer_k8s_pod_name=web1)
svc_web2=$(msum sluice_tcp_connections_opened_total k8s_pod_name=client service_name=web peer_k8s_pod_name=web2)
want "Service connections by backend pod" $((svc_web1 + svc_web2)) $N_SVC
want "web1 accepted" "$(msum sluice_tcp_connections_opened_total k8s_pod_name=web1 role=server peer_k8s_pod_name=client server_port=8080)" $((svc_web1 + N_DIRECT))
want "web2 accepted" "$(msum sluice_tcp_connections_opened_total k8s_pod_name=web2 role=server peer_k8s_pod_name=client)" "$svc_web2"
want "resets" "$(msum sluice_tcp_connections_reset_total)" 0
want "refused to 9999" "$(msum sluice_tcp_connections_refused_total k8s_pod_name=client role=client server_port=9999)" 1
want "RTT samples (client)" "$(msum sluice_tcp_rtt_seconds_count k8s_pod_name=client)" $((N_SVC + N_DIRECT))
want "RTT samples (servers)" "$(msum sluice_tcp_rtt_seconds_count role=server)" $((N_SVC + N_DIRECT))
inf=$(msum sluice_tcp_rtt_seconds_bucket k8s_pod_name=client le=+Inf)
want "RTT +Inf bucket = count" "$inf" $((N_SVC + N_DIRECT))

# --- bytes, against nginx's own accounting -----------------------------------------------------
lsum() { awk -v f="$1" '{ s += $f } END { print s + 0 }' "${@:2}"; }
wait_for 5 sh -c "[ \$(cat $TMP/access-web1.log $TMP/access-web2.log | wc -l) -eq $((N_SVC + N_DIRECT)) ]" ||
	fail "nginx logged $(cat "$TMP"/access-web*.log | wc -l) requests, want $((N_SVC + N_DIRECT))"
want "client sent = nginx request_length" "$(msum sluice_tcp_sent_bytes_total k8s_pod_name=client role=client)" "$(lsum 1 "$TMP"/access-web1.log "$TMP"/access-web2.log)"
want "client received = nginx bytes_sent" "$(msum sluice_tcp_received_bytes_total k8s_pod_name=client role=client)" "$(lsum 2 "$TMP"/access-web1.log "$TMP"/access-web2.log)"
want "web1 received = its request_length" "$(msum sluice_tcp_received_bytes_total k8s_pod_name=web1 role=server)" "$(lsum 1 "$TMP"/access-web1.log)"
want "web1 sent = its bytes_sent" "$(msum sluice_tcp_sent_bytes_total k8s_pod_name=web1 role=server)" "$(lsum 2 "$TMP"/access-web1.log)"
[ "$(msum sluice_tcp_sent_segments_total k8s_pod_name=client)" -ge $((3 * (N_SVC + N_DIRECT))) ] ||
	fail "client sent fewer than 3 segments per connection"

# --- a live connection's bytes move before it closes (the flush iterator, every second) -------
sent0=$(msum sluice_tcp_sent_bytes_total k8s_pod_name=client role=client)
closed0=$(msum sluice_tcp_connections_closed_total k8s_pod_name=client role=client)
REQ='GET /live HTTP/1.1\r\nHost: web1\r\n\r\n'
in_pod client python3 -c "
import socket, time
s = socket.create_connection(('$WEB1', 8080))
s.sendall(b'$REQ')
s.recv(4096)
time.sleep(6)
" &
live=$!
reqlen=$(printf "$REQ" | wc -c)
moved() {
	scrape >"$TMP/metrics" &&
		[ "$(msum sluice_tcp_sent_bytes_total k8s_pod_name=client role=client)" = $((sent0 + reqlen)) ]
}
wait_for 5 moved || fail "an open connection's bytes: $(msum sluice_tcp_sent_bytes_total k8s_pod_name=client role=client), want $((sent0 + reqlen))"
want "still open" "$(msum sluice_tcp_connections_closed_total k8s_pod_name=client role=client)" "$closed0"
wait $live || fail "the live connection's client failed"
closed_live() { scrape >"$TMP/metrics" && [ "$(msum sluice_tcp_connections_closed_total k8s_pod_name=client role=client)" = $((closed0 + 1)) ]; }
wait_for 5 closed_live || fail "the live connection's close not counted"
want "its bytes counted once" "$(msum sluice_tcp_sent_bytes_total k8s_pod_name=client role=client)" $((sent0 + reqlen))

# --- the exposition format, and a real Prometheus ----------------------------------------------
promtool check metrics <"$TMP/metrics" >"$TMP/promtool.out" 2>&1 ||
	fail "promtool check metrics: $(head -n5 "$TMP/promtool.out")"
prom_start
prom_wait 'sum(sluice_tcp_connections_opened_total{k8s_pod_name="client",role="client",service_name="web"})' $N_SVC 30

# --- a released endpoint takes its series with it ----------------------------------------------
total_before=$(msum sluice_tcp_connections_opened_total)
web2_server=$(msum sluice_tcp_connections_opened_total k8s_pod_name=web2)
cid=$("$SLUICE" lab info --name "$LAB" | jq -r '.pods[] | select(.name == "web2") | .containerID')
[ -n "$cid" ] || fail "no container id for web2 in lab info"
# what sluice-cni DEL sends the agent for the pod
curl -sf --unix-socket "$SLUICE_SOCKET" -X POST -d "{\"containerID\":\"$cid\"}" \
	http://x/v1/cni/del >/dev/null || fail "endpoint release of web2"
scrape >"$TMP/metrics"
grep -q 'k8s_pod_name="web2"' "$TMP/metrics" && fail "series of web2 still exported after its endpoint went"
want "what web2 held went with it" "$(msum sluice_tcp_connections_opened_total)" $((total_before - web2_server))
total=$(msum sluice_tcp_connections_opened_total)

# --- series limit, overflow and allow-list ----------------------------------------------------
apid=$("$SLUICE" lab info --name "$LAB" | jq -r .agentPid)
kill "$apid"
wait_for 10 sh -c "! kill -0 $apid" || fail "agent did not stop"
printf 'telemetry_series_limit: 1\ntelemetry_labels: "k8s_pod_name, role"\n' >"$TMP/agent.yaml"
"$SLUICE" lab agent-start --name "$LAB" >/dev/null || fail "agent restart"
wait_for 10 sh -c "curl -sf -m 2 http://127.0.0.1:9464/metrics >$TMP/metrics" || fail "no /metrics after restart"
grep '^sluice_tcp_connections_opened_total' "$TMP/metrics" >"$TMP/opened"
want "series with own labels" "$(grep -vc otel_metric_overflow "$TMP/opened")" 1
grep -q '^sluice_tcp_connections_opened_total{otel_metric_overflow="true"} ' "$TMP/opened" ||
	fail "no overflow series: $(cat "$TMP/opened")"
grep -v otel_metric_overflow "$TMP/opened" | grep -qE '^sluice_tcp_connections_opened_total\{k8s_pod_name="[a-z0-9]+",role="(client|server)"\} [0-9]+$' ||
	fail "labels beyond the allow-list: $(cat "$TMP/opened")"
want "nothing lost to the overflow" "$(msum sluice_tcp_connections_opened_total)" "$total"
grep -q '^sluice_telemetry_series{group="tcp",kind="series"} 1$' "$TMP/metrics" ||
	fail "sluice_telemetry_series does not say 1 series"
promtool check metrics <"$TMP/metrics" >"$TMP/promtool.out" 2>&1 ||
	fail "promtool check metrics (overflow): $(head -n5 "$TMP/promtool.out")"

# --- a bad allow-list is refused with the label named -------------------------------------------
printf 'telemetry_labels: "k8s_pod_name,pod"\n' >"$TMP/bad.yaml"
if timeout 10 "$O/sluice-agent" --config "$TMP/bad.yaml" --bpffs-root "/sys/fs/bpf/sluice-bad-$LAB" \
	--api-socket "$TMP/bad.sock" --state-file "$TMP/bad.json" --metrics-address off \
	>"$TMP/bad.log" 2>&1; then
	fail "the agent started with telemetry_labels naming an unknown label"
fi
grep -q "unknown label 'pod'" "$TMP/bad.log" || fail "no error naming the label: $(tail -n2 "$TMP/bad.log")"
rm -rf "/sys/fs/bpf/sluice-bad-$LAB"
echo "ok"
