#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# svc_lb__clusterip_nodeport_maglev_affinity_removal_refusal_ipv6_and_tc_fallback
# Service load balancing over real connections between lab pods (nginx and socat servers,
# tests/tools/slprobe as the client):
#   - 3,000 connections to a ClusterIP spread over 3 backends within +-10 % each
#   - getpeername shows the Service address; an unconnected UDP request/response through the
#     ClusterIP comes back from the Service address (recvmsg rewrite), connected UDP too
#   - IPv6 ClusterIP (dual-stack Service) over TCP and UDP
#   - sessionAffinity: ClientIP keeps one backend
#   - a Service without backends refuses at once (ECONNREFUSED, no SYN timeout)
#   - removing a backend from an EndpointSlice: no new connection reaches it, an established
#     keep-alive connection to it finishes its next request
#   - the per-packet tc fallback: a process in the pod's network namespace but outside the
#     mesh's cgroup (no socket hooks) reaches the Service through tc DNAT and reverse NAT
#   - NodePort from the "external" namespace through XDP on the node's uplink veth, IPv4 and
#     IPv6; Maglev: removing 1 of 3 backends moves only the flows that were on it (bound: at most
#     5 % of the other flows move), measured with the same 600 source ports before and after
. "$(dirname "$0")/lib.sh"

PROBE="$O/tests/tools/slprobe"
[ -x "$PROBE" ] || fail "$PROBE is not built (make test builds it)"
OUT_NS="/run/netns/sl-$LAB-out"
VIP=10.96.0.10
VIP6=fd00:96::10
NODE_IP=198.18.0.1
NODE_IP6=fd00:198:18::1
NODEPORT=30080

cat >"$TMP/lab.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: ClusterIP
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  clusterIP: $VIP
  clusterIPs: [$VIP, $VIP6]
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http, protocol: TCP}
  - {name: dns, port: 53, targetPort: 5353, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata: {name: sticky, namespace: default}
spec:
  clusterIP: 10.96.0.11
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: empty, namespace: default}
spec:
  clusterIP: 10.96.0.12
  selector: {app: nothing-has-this-label}
  ports:
  - {name: http, port: 80, targetPort: 8080, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: edge, namespace: default}
spec:
  type: NodePort
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  clusterIP: 10.96.0.20
  clusterIPs: [10.96.0.20, fd00:96::20]
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: $NODEPORT, protocol: TCP}
EOF
for i in 0 1 2; do
	cat >>"$TMP/lab.yaml" <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: web-$i, namespace: default, labels: {app: web}}
spec:
  containers:
  - name: nginx
    command: ["sh", "-c", "exec nginx -e stderr -p \"\$TMPDIR/\" -c $TOP/examples/nginx/web.conf"]
    ports:
    - {name: http, containerPort: 8080}
  - name: echo
    command: ["socat", "UDP6-RECVFROM:5353,ipv6only=0,fork", "SYSTEM:read l; echo web-$i \$l"]
EOF
done
cat >>"$TMP/lab.yaml" <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - {name: client, command: ["sleep", "infinity"]}
EOF

"$SLUICE" lab up "$TMP/lab.yaml" --name "$LAB" --metrics-address 127.0.0.1:9464 >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "lab up"; }
declare -A NAME_OF
for i in 0 1 2; do
	ip=$(pod_ip web-$i)
	[ -n "$ip" ] && [ "$ip" != null ] || fail "web-$i has no IP"
	WEB[$i]=$ip
	NAME_OF[$ip]=web-$i
	WEB6[$i]=$("$SLUICE" get pods -o json |
		jq -r --arg n web-$i '.items[] | select(.metadata.name==$n) | .status.podIPs[]?.ip | select(contains(":"))')
	[ -n "${WEB6[$i]}" ] || fail "web-$i has no IPv6 address: $("$SLUICE" get pods -o json | jq -c '.items[].status')"
	wait_for 10 in_pod client curl -sf -m 2 "http://${WEB[$i]}:8080/" || fail "web-$i does not answer at ${WEB[$i]}:8080"
	wait_for 10 in_pod web-$i sh -c "ss -Huln | grep -q ':5353 '" || fail "web-$i UDP echo not listening"
done

# slices MEMBERS...: the EndpointSlice of the selector-less Service "edge" with those web pods
slices() {
	local i
	{
		printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
		printf 'metadata: {name: edge-1, namespace: default, labels: {kubernetes.io/service-name: edge}}\n'
		printf 'addressType: IPv4\nports:\n- {name: http, port: 8080, protocol: TCP}\nendpoints:\n'
		for i in "$@"; do
			printf -- '- addresses: [%s]\n  conditions: {ready: true}\n  targetRef: {kind: Pod, name: web-%s, namespace: default}\n' "${WEB[$i]}" "$i"
		done
		printf -- '---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n'
		printf 'metadata: {name: edge-2, namespace: default, labels: {kubernetes.io/service-name: edge}}\n'
		printf 'addressType: IPv6\nports:\n- {name: http, port: 8080, protocol: TCP}\nendpoints:\n'
		for i in "$@"; do
			printf -- '- addresses: ["%s"]\n  conditions: {ready: true}\n  targetRef: {kind: Pod, name: web-%s, namespace: default}\n' "${WEB6[$i]}" "$i"
		done
	} >"$TMP/slices.yaml"
	"$SLUICE" apply -f "$TMP/slices.yaml" >"$TMP/apply.log" 2>&1 || { cat "$TMP/apply.log"; fail "apply EndpointSlices $*"; }
}
slices 0 1 2

# backend_counts FILE: "web-N COUNT" lines from slprobe's "PEER web ADDR" output
backend_counts() { awk '{print $3}' "$1" | sort | uniq -c | awk '{print $2, $1}'; }

# --- distribution over 3 backends, getpeername ----------------------------------------------
in_pod client "$PROBE" tcp -n 3000 $VIP 80 >"$TMP/dist" || fail "3000 connections to $VIP:80: $(tail -n2 "$TMP/dist")"
[ "$(wc -l <"$TMP/dist")" = 3000 ] || fail "$(wc -l <"$TMP/dist") of 3000 connections answered"
bad=$(awk -v v="$VIP:80" '$1 != v' "$TMP/dist" | head -n1)
[ -z "$bad" ] || fail "getpeername did not return the Service address: $bad"
backend_counts "$TMP/dist" >"$TMP/dist.counts"
[ "$(wc -l <"$TMP/dist.counts")" = 3 ] || fail "want 3 backends, got: $(tr '\n' ' ' <"$TMP/dist.counts")"
while read -r addr n; do
	[ -n "${NAME_OF[$addr]:-}" ] || fail "answered by $addr, not a backend"
	[ "$n" -ge 900 ] && [ "$n" -le 1100 ] ||
		fail "backend $addr got $n of 3000 connections (want 1000 +- 10 %): $(tr '\n' ' ' <"$TMP/dist.counts")"
done <"$TMP/dist.counts"
log "distribution: $(tr '\n' ' ' <"$TMP/dist.counts")"

# --- UDP through the ClusterIP, unconnected and connected --------------------------------------
declare -A seen=()
for i in $(seq 1 30); do
	r=$(in_pod client "$PROBE" udp $VIP 53 "q$i") || fail "UDP request $i to $VIP:53: $r"
	set -- $r
	[ "$1" = "$VIP:53" ] || fail "UDP reply came from $1, want the Service address $VIP:53"
	[ "$3" = "q$i" ] || fail "UDP reply \"$r\" does not echo q$i"
	seen[$2]=1
done
[ ${#seen[@]} -ge 2 ] || fail "30 unconnected UDP requests all went to ${!seen[*]}"
r=$(in_pod client "$PROBE" udp -c $VIP 53 hello) || fail "connected UDP to $VIP:53: $r"
[[ "$r" == "$VIP:53 web-"?" hello" ]] || fail "connected UDP: \"$r\""

# --- IPv6 ClusterIP ------------------------------------------------------------------------------
in_pod client "$PROBE" tcp -n 30 $VIP6 80 >"$TMP/v6" || fail "IPv6 ClusterIP [$VIP6]:80: $(tail -n2 "$TMP/v6")"
bad=$(awk -v v="[$VIP6]:80" '$1 != v' "$TMP/v6" | head -n1)
[ -z "$bad" ] || fail "IPv6 getpeername did not return the Service address: $bad"
awk '{print $3}' "$TMP/v6" | grep -qv ':' && fail "IPv6 ClusterIP answered from an IPv4 backend: $(head -n3 "$TMP/v6")"
[ "$(awk '{print $3}' "$TMP/v6" | sort -u | wc -l)" -ge 2 ] || fail "30 IPv6 connections all went to one backend"
r=$(in_pod client "$PROBE" udp $VIP6 53 six) || fail "IPv6 UDP to [$VIP6]:53: $r"
[[ "$r" == "[$VIP6]:53 web-"?" six" ]] || fail "IPv6 UDP reply: \"$r\""

# --- sessionAffinity: ClientIP ---------------------------------------------------------------
in_pod client "$PROBE" tcp -n 50 10.96.0.11 80 >"$TMP/sticky" || fail "sticky Service: $(tail -n2 "$TMP/sticky")"
[ "$(awk '{print $3}' "$TMP/sticky" | sort -u | wc -l)" = 1 ] ||
	fail "sessionAffinity ClientIP spread over: $(backend_counts "$TMP/sticky" | tr '\n' ' ')"

# --- zero backends: refused at once ------------------------------------------------------------
r=$(in_pod client "$PROBE" tcp 10.96.0.12 80) && fail "connect to a Service with no backend succeeded: $r"
[[ "$r" == "error=ECONNREFUSED "* ]] || fail "no-backend connect: want ECONNREFUSED, got \"$r\""
ms=${r##*connect_ms=}
[ "${ms%.*}" -lt 100 ] || fail "no-backend refusal took $ms ms"

# --- backend removal: no new connections to it, the established one finishes -----------------
in_pod client "$PROBE" tcp -n 60 10.96.0.20 80 >"$TMP/edge0" || fail "edge ClusterIP: $(tail -n2 "$TMP/edge0")"
[ "$(awk '{print $3}' "$TMP/edge0" | sort -u | wc -l)" = 3 ] || fail "edge: not all 3 backends used: $(backend_counts "$TMP/edge0" | tr '\n' ' ')"
# hold connections until one of them sits on web-2
held=
for try in $(seq 1 12); do
	timeout 30 "$SLUICE" lab exec --name "$LAB" client -- "$PROBE" hold 10.96.0.20 80 6 >"$TMP/hold$try" 2>&1 &
	pid=$!; on_cleanup "kill $pid"
	wait_for 5 test -s "$TMP/hold$try" || fail "held connection $try: no first answer"
	if [ "$(awk 'NR==1 {print $3}' "$TMP/hold$try")" = "${WEB[2]}" ]; then held=$try; break; fi
	kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
done
[ -n "$held" ] || fail "12 connections and none on web-2 (${WEB[2]})"
slices 0 1
in_pod client "$PROBE" tcp -n 300 10.96.0.20 80 >"$TMP/edge1" || fail "edge after removal: $(tail -n2 "$TMP/edge1")"
grep -q " ${WEB[2]}\$" "$TMP/edge1" && fail "new connections still reach the removed backend web-2: $(backend_counts "$TMP/edge1" | tr '\n' ' ')"
wait $pid || fail "the connection held on web-2 failed after its removal: $(cat "$TMP/hold$held")"
[ "$(wc -l <"$TMP/hold$held")" = 2 ] && [ "$(awk 'NR==2 {print $3}' "$TMP/hold$held")" = "${WEB[2]}" ] ||
	fail "held connection: $(cat "$TMP/hold$held")"
slices 0 1 2

# --- tc fallback: the pod's netns, outside the cgroup (no socket hooks) -------------------------
cns=$("$SLUICE" lab info --name "$LAB" | jq -r '.pods[] | select(.name=="client") | .netns')
[ -n "$cns" ] && [ "$cns" != null ] || fail "cannot find the client pod's network namespace"
stat_packets() { map_sum sluice_stats "$(printf '%02x 00 00 00' "$1")" packets; }
dnat0=$(stat_packets 11); rev0=$(stat_packets 12)   # SL_STAT_TC_DNAT, SL_STAT_TC_REVNAT
timeout 20 nsenter --net=/run/netns/$cns "$PROBE" tcp -n 20 $VIP 80 >"$TMP/tc" ||
	fail "tc fallback to $VIP:80: $(tail -n2 "$TMP/tc")"
bad=$(awk -v v="$VIP:80" '$1 != v' "$TMP/tc" | head -n1)
[ -z "$bad" ] || fail "tc fallback: reply not reverse-translated: $bad"
dnat1=$(stat_packets 11); rev1=$(stat_packets 12)
[ $((dnat1 - dnat0)) -ge 100 ] || fail "tc DNAT counter moved $((dnat1 - dnat0)) for 20 connections"
[ $((rev1 - rev0)) -ge 80 ] || fail "tc reverse NAT counter moved $((rev1 - rev0)) for 20 connections"
r=$(timeout 10 nsenter --net=/run/netns/$cns "$PROBE" udp $VIP 53 viatc) || fail "tc fallback UDP: $r"
[[ "$r" == "$VIP:53 web-"?" viatc" ]] || fail "tc fallback UDP reply: \"$r\""

# --- NodePort through XDP on the uplink, and the Maglev disruption bound ----------------------
st=$(curl -s --unix-socket "$SLUICE_SOCKET" http://l/v1/status)
[ "$(jq -r '.programs[] | select(.name=="sluice_xdp_in") | .links' <<<"$st")" = 1 ] || fail "XDP not attached to the uplink"
xdp0=$(stat_packets 13)   # SL_STAT_XDP_DNAT
out() { timeout 60 nsenter --net="$OUT_NS" "$@"; }
out "$PROBE" tcp -R -s 20000 -n 600 $NODE_IP $NODEPORT >"$TMP/np0" || fail "NodePort $NODE_IP:$NODEPORT from outside: $(tail -n2 "$TMP/np0")"
xdp1=$(stat_packets 13)
[ $((xdp1 - xdp0)) -ge 1800 ] || fail "XDP DNAT counter moved $((xdp1 - xdp0)) for 600 NodePort connections"
bad=$(awk -v v="$NODE_IP:$NODEPORT" '$1 != v' "$TMP/np0" | head -n1)
[ -z "$bad" ] || fail "NodePort reply not reverse-translated on the uplink: $bad"
[ "$(awk '{print $3}' "$TMP/np0" | sort -u | wc -l)" = 3 ] || fail "NodePort: not all 3 backends used: $(backend_counts "$TMP/np0" | tr '\n' ' ')"
# the same 600 source ports again: Maglev is deterministic, every flow keeps its backend
out "$PROBE" tcp -R -s 20000 -n 600 $NODE_IP $NODEPORT >"$TMP/np0b" || fail "NodePort second round: $(tail -n2 "$TMP/np0b")"
moved=$(paste -d' ' "$TMP/np0" "$TMP/np0b" | awk '$3 != $6' | wc -l)
[ "$moved" = 0 ] || fail "$moved of 600 NodePort flows changed backend with no backend change"
slices 0 1
out "$PROBE" tcp -R -s 20000 -n 600 $NODE_IP $NODEPORT >"$TMP/np1" || fail "NodePort after removal: $(tail -n2 "$TMP/np1")"
on2=$(awk -v b="${WEB[2]}" '$3 == b' "$TMP/np0" | wc -l)
grep -q " ${WEB[2]}\$" "$TMP/np1" && fail "NodePort flows still reach the removed backend"
others_moved=$(paste -d' ' "$TMP/np0" "$TMP/np1" | awk -v b="${WEB[2]}" '$3 != b && $3 != $6' | wc -l)
log "maglev: $on2 of 600 flows were on web-2; $others_moved other flows moved"
[ "$others_moved" -le 30 ] || fail "removing 1 of 3 backends moved $others_moved of the $((600 - on2)) flows on the others (bound 30 = 5 %)"
# IPv6 NodePort
out "$PROBE" tcp -n 10 $NODE_IP6 $NODEPORT >"$TMP/np6" || fail "IPv6 NodePort [$NODE_IP6]:$NODEPORT: $(tail -n2 "$TMP/np6")"
bad=$(awk -v v="[$NODE_IP6]:$NODEPORT" '$1 != v' "$TMP/np6" | head -n1)
[ -z "$bad" ] || fail "IPv6 NodePort reply not reverse-translated: $bad"

# --- map fill levels in /metrics; nothing dropped for want of map space ------------------------
curl -sf -m 2 http://127.0.0.1:9464/metrics >"$TMP/metrics" || fail "/metrics not served"
metric() { awk -v k="$1" '$1 == k {print $2}' "$TMP/metrics"; }
for m in sluice_svc sluice_backend sluice_ct sluice_maglev sluice_affinity sluice_sk_rev; do
	[ -n "$(metric "sluice_map_max_entries{map=\"$m\"}")" ] || fail "no capacity of $m in /metrics"
done
[ "$(metric 'sluice_map_entries{map="sluice_ct"}')" -gt 0 ] || fail "conntrack fill level not exported"
# one table per node-facing frontend: edge on 198.18.0.1 and on fd00:198:18::1
m=$(metric 'sluice_map_entries{map="sluice_maglev"}'); [ "$m" = 2 ] || fail "want 2 Maglev tables (NodePort edge, IPv4 and IPv6), /metrics says $m"
[ "$(metric sluice_map_full_errors_total)" = 0 ] || fail "map full errors: $(metric sluice_map_full_errors_total)"
[ "$(metric 'sluice_datapath_packets_total{counter="ct_full"}')" = 0 ] || fail "conntrack full in the datapath"
exit 0
