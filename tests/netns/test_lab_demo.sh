#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# lab__demo_app__traffic_counted_survives_agent_kill_and_tears_down_clean
# Brings examples/demo.yaml up in the lab, checks pod-to-pod traffic goes through the attached
# tc programs (per-endpoint counters move by at least the packets curl sent), kills the agent
# with SIGKILL while a long-lived TCP stream flows, restarts it, and checks that the stream
# survived, counters did not reset and the restarted agent wrote nothing (nothing differed).
# Ends with `sluice lab down` and checks nothing is left behind.
. "$(dirname "$0")/lib.sh"

"$SLUICE" lab up "$TOP/examples/demo.yaml" --name "$LAB" --metrics-address 127.0.0.1:9464 \
	>"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "lab up"; }

# Every pod Running with an address, programs linked on 4 veths, sock_ops on the lab cgroup.
[ "$("$SLUICE" get pods -o json | jq '[.items[] | select(.status.phase=="Running")] | length')" = 4 ] ||
	fail "expected 4 running pods: $("$SLUICE" get pods)"
st=$("$SLUICE" status -o json 2>/dev/null || curl -s --unix-socket "$SLUICE_SOCKET" http://l/v1/status)
for p in sluice_tc_in sluice_tc_out; do
	n=$(jq -r --arg p $p '.programs[] | select(.name==$p) | .links' <<<"$st")
	[ "$n" = 4 ] || fail "$p has $n links, want 4"
done
[ "$(jq -r '.programs[] | select(.name=="sluice_sockops") | .links' <<<"$st")" = 1 ] || fail "sockops not linked"
[ "$(jq -r '.programs[] | select(.name=="sluice_xdp_in") | .links' <<<"$st")" = 1 ] || fail "xdp not linked"

web0=$(pod_ip web-0); client=$(pod_ip client)
[ -n "$web0" ] && [ "$web0" != null ] || fail "web-0 has no IP"
wait_for 10 in_pod client curl -sf -m 2 "http://$web0:8080/" || fail "client cannot reach web-0 at $web0:8080"

# The web-0 veth's counters, read from the pinned map with bpftool.
ifname=$("$SLUICE" get pods -o json | jq -r '.items[] | select(.metadata.name=="web-0") | .status.hostIfname')
ifidx=$(nsenter --net="$(node_ns)" cat /sys/class/net/"$ifname"/ifindex 2>/dev/null ||
	nsenter --net="$(node_ns)" ip -j link show "$ifname" | jq '.[0].ifindex')
key=$(printf '%02x %02x %02x %02x' $((ifidx & 255)) $(((ifidx >> 8) & 255)) $(((ifidx >> 16) & 255)) $((ifidx >> 24)))
to0=$(map_sum sluice_ep_stats "$key" to_pod_packets)
from0=$(map_sum sluice_ep_stats "$key" from_pod_packets)
for i in $(seq 1 20); do in_pod client curl -sf -m 2 -o /dev/null "http://$web0:8080/"; done
to1=$(map_sum sluice_ep_stats "$key" to_pod_packets)
from1=$(map_sum sluice_ep_stats "$key" from_pod_packets)
# each request is at least SYN, ACK, request, FIN to the pod and SYN-ACK, response, FIN from it
[ $((to1 - to0)) -ge 60 ] || fail "to_pod counter moved $((to1 - to0)) for 20 requests"
[ $((from1 - from0)) -ge 40 ] || fail "from_pod counter moved $((from1 - from0)) for 20 requests"
curl -sf -m 2 http://127.0.0.1:9464/metrics >"$TMP/metrics" || fail "/metrics not served"
grep -q '^sluice_build_info{version=' "$TMP/metrics" || fail "no build info in /metrics"
grep -q "sluice_endpoint_packets_total{k8s_namespace_name=\"default\",k8s_pod_name=\"web-0\",direction=\"to_pod\"} [1-9]" "$TMP/metrics" ||
	fail "web-0 counter not exported"

# A long-lived TCP stream web-1 -> client while the agent dies and comes back. web-1 opens it:
# the demo's NetworkPolicy lets web pods' ingress take only the client's HTTP, so a connection
# from the client to web-1:9000 would be dropped (checked first).
web1=$(pod_ip web-1)
clientip=$(pod_ip client)
in_pod web-1 sh -c 'socat TCP-LISTEN:9000,reuseaddr /dev/null & echo $! >'"$TMP/deny.pid" ||
	fail "deny-check server"
on_cleanup "kill \$(cat $TMP/deny.pid) 2>/dev/null"
wait_for 5 in_pod web-1 sh -c "ss -Htln | grep -q ':9000 '" || fail "deny-check server not listening"
denied() { curl -sf -m 2 http://127.0.0.1:9464/metrics |
	awk '/^sluice_datapath_packets_total\{counter="policy_denied_no_rule"\}/ { print $2 }'; }
d0=$(denied)
if in_pod client socat -u /dev/null TCP:"$web1":9000,connect-timeout=1 2>/dev/null; then
	fail "client reached web-1:9000, which the demo's NetworkPolicy does not allow"
fi
[ "$(denied)" -gt "$d0" ] || fail "client -> web-1:9000 failed, but not by a policy drop"
kill "$(cat "$TMP/deny.pid")" 2>/dev/null || true
printf '#!/bin/sh\nwhile true; do echo tick; sleep 0.05; done\n' >"$TMP/ticker"
chmod +x "$TMP/ticker"
"$SLUICE" lab exec --name "$LAB" client -- socat -u TCP-LISTEN:9000,reuseaddr \
	OPEN:"$TMP/ticks",creat,append >"$TMP/srv.log" 2>&1 &
srv=$!; on_cleanup "kill $srv"
wait_for 5 in_pod client sh -c "ss -Htln | grep -q ':9000 '" || fail "stream server not listening"
"$SLUICE" lab exec --name "$LAB" web-1 -- socat -u EXEC:"$TMP/ticker" TCP:"$clientip":9000 &
cli=$!; on_cleanup "kill $cli"
wait_for 5 test -s "$TMP/ticks" || { sleep 1; cat $TMP/srv.log; fail "stream did not start ($clientip)"; }

apid=$("$SLUICE" lab info --name "$LAB" | jq -r .agentPid)
kill -9 "$apid"
wait_for 5 sh -c "! kill -0 $apid" || fail "agent survived SIGKILL"
n1=$(wc -l <"$TMP/ticks"); sleep 1; n2=$(wc -l <"$TMP/ticks")
[ "$n2" -gt "$n1" ] || fail "stream stalled while the agent was down ($n1 -> $n2)"
in_pod client curl -sf -m 2 -o /dev/null "http://$web0:8080/" || fail "new connection failed with agent down"

"$SLUICE" lab agent-start --name "$LAB" >/dev/null || fail "agent restart"
st=$(curl -s --unix-socket "$SLUICE_SOCKET" http://l/v1/status)
[ "$(jq .reconcile.runs <<<"$st")" -ge 1 ] || fail "restarted agent did not reconcile"
[ "$(jq .reconcile.writes <<<"$st")" = 0 ] || fail "restarted agent rewrote maps: $(jq -c .reconcile <<<"$st")"
[ "$(jq .endpoints <<<"$st")" = 4 ] || fail "restarted agent lost endpoints"
to2=$(map_sum sluice_ep_stats "$key" to_pod_packets)
[ "$to2" -ge "$to1" ] || fail "counters reset across restart ($to1 -> $to2)"
n3=$(wc -l <"$TMP/ticks"); sleep 1; n4=$(wc -l <"$TMP/ticks")
[ "$n4" -gt "$n3" ] || fail "stream stalled after restart"
kill -0 "$cli" || fail "stream connection lost across the agent restart"
in_pod client curl -sf -m 2 -o /dev/null "http://$web0:8080/" || fail "traffic after restart"
kill "$cli" "$srv" 2>/dev/null || true

# Teardown leaves nothing: namespaces, cgroup, pins, run dir.
"$SLUICE" lab down --name "$LAB" >"$TMP/down.log" 2>&1 || { cat "$TMP/down.log"; fail "lab down"; }
left=$(ls /run/netns | grep -c "^sl-$LAB-" || true)
[ "$left" = 0 ] || fail "$left network namespaces left: $(ls /run/netns)"
[ ! -e "$BPFFS" ] || fail "pins left under $BPFFS"
[ ! -e /sys/fs/cgroup/unified/sluice-lab-$LAB ] || fail "cgroup left"
[ ! -e /run/sluice/lab/$LAB ] || fail "run dir left"
exit 0
