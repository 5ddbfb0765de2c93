#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# netpol__reachability_truth_tables_bypass_attempts_and_update_while_flowing
# NetworkPolicy over real connections between lab pods, as Kubernetes' network-policy e2e
# suite checks it: five pods in two namespaces (x/a x/b x/c y/a y/b), each serving TCP 80 and
# 81 (named serve-80, serve-81) and recording UDP datagrams on 80. For each policy set a full
# matrix of pods x pods x ports is probed at once (tests/tools/slprobe reach) and compared
# with the truth table the semantics give (a pod always reaches itself: that traffic stays on
# the pod's loopback, as Kubernetes documents):
#   no policy; default-deny ingress; podSelector; namespaceSelector (namespace isolation);
#   namespaceSelector and podSelector in one peer; named port; endPort; default-deny egress
#   (replies of allowed flows still pass); ipBlock with except (pods inside it too); egress to
#   a Service (policy sees the backend); the podSelector table again over IPv6.
# `sluice observe` shows the verdicts (JSON and lines, filters, live), /metrics the drops per
# flow (sluice_dropped_packets_total by pod, peer, port and reason). Then: a policy applied
# while a connection streams (it keeps streaming, new ones are denied)
# and bypass attempts from pods (tests/tools/slsend): IP fragments, IPv4 options, an IPv6
# extension header and a spoofed source address never reach the server where the policy
# allows only the plain datagram from one peer, and each is counted by its reason.
. "$(dirname "$0")/lib.sh"

PROBE="$O/tests/tools/slprobe"
SEND="$O/tests/tools/slsend"
[ -x "$PROBE" ] && [ -x "$SEND" ] || fail "tests/tools are not built (make test builds them)"
PODS=(x/a x/b x/c y/a y/b)

cat >"$TMP/lab.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {ns: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: y, labels: {ns: y}}
---
apiVersion: v1
kind: Service
metadata: {name: svc-b, namespace: x}
spec:
  clusterIP: 10.96.1.2
  selector: {app: b}
  ports: [{name: http, port: 80, targetPort: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: svc-c, namespace: x}
spec:
  clusterIP: 10.96.1.3
  selector: {app: c}
  ports: [{name: http, port: 80, targetPort: 80, protocol: TCP}]
EOF
for p in "${PODS[@]}"; do
	ns=${p%/*} name=${p#*/}
	cat >>"$TMP/lab.yaml" <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: $name, namespace: $ns, labels: {app: $name}}
spec:
  containers:
  - name: tcp80
    command: ["socat", "TCP6-LISTEN:80,ipv6only=0,fork,reuseaddr", "EXEC:cat"]
    ports: [{name: serve-80, containerPort: 80}]
  - name: tcp81
    command: ["socat", "TCP6-LISTEN:81,ipv6only=0,fork,reuseaddr", "EXEC:cat"]
    ports: [{name: serve-81, containerPort: 81}]
  - name: udp80
    command: ["socat", "-u", "UDP6-RECV:80,ipv6only=0", "OPEN:$TMP/udp-$ns-$name,creat,append"]
    ports: [{name: dns, containerPort: 80, protocol: UDP}]
EOF
done
"$SLUICE" lab up "$TMP/lab.yaml" --name "$LAB" --metrics-address 127.0.0.1:9464 >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "lab up"; }

"$SLUICE" get pods -A -o json >"$TMP/pods.json"
declare -A IP IP6
for p in "${PODS[@]}"; do
	IP[$p]=$(jq -r --arg ns "${p%/*}" --arg n "${p#*/}" '.items[] | select(.metadata.namespace==$ns and .metadata.name==$n) | .status.podIP' "$TMP/pods.json")
	IP6[$p]=$(jq -r --arg ns "${p%/*}" --arg n "${p#*/}" '.items[] | select(.metadata.namespace==$ns and .metadata.name==$n) | .status.podIPs[]?.ip | select(contains(":"))' "$TMP/pods.json")
	[ -n "${IP[$p]}" ] && [ "${IP[$p]}" != null ] && [ -n "${IP6[$p]}" ] || fail "$p has no addresses"
done
ex() { local p=$1; shift; timeout 20 "$SLUICE" lab exec --name "$LAB" -n "${p%/*}" "${p#*/}" -- "$@"; }
for p in "${PODS[@]}"; do
	wait_for 10 ex "$p" sh -c "ss -Htln | grep -q ':81 '" || fail "$p servers not listening"
	wait_for 10 ex "$p" sh -c "ss -Huln | grep -q ':80 '" || fail "$p UDP recorder not listening"
done

counter() {
	curl -sf -m 2 http://127.0.0.1:9464/metrics |
		awk -v c="$1" '$1 == "sluice_datapath_packets_total{counter=\"" c "\"}" { print $2 }'
}

# policy NAME: applies the NetworkPolicies in $TMP/NAME.yaml (stdin); unpolicy NAME removes them
policy() { cat >"$TMP/$1.yaml"; "$SLUICE" apply -f "$TMP/$1.yaml" >"$TMP/apply.log" 2>&1 || { cat "$TMP/apply.log"; fail "apply $1"; }; }
unpolicy() { "$SLUICE" delete -f "$TMP/$1.yaml" >"$TMP/apply.log" 2>&1 || { cat "$TMP/apply.log"; fail "delete $1"; }; }

# matrix TABLE EXPECT [6]: probes every pod -> pod:80/81 and compares each with
# "EXPECT SRC DST PORT" (which prints ok or fail); IPv6 addresses with a third argument.
matrix() {
	local table=$1 expect=$2 fam=${3:-} s d port targets out want got bad=() n=0
	for s in "${PODS[@]}"; do
		targets=()
		for d in "${PODS[@]}"; do
			for port in 80 81; do
				if [ -n "$fam" ]; then targets+=("[${IP6[$d]}]:$port"); else targets+=("${IP[$d]}:$port"); fi
			done
		done
		out=$(ex "$s" "$PROBE" reach -t 500 "${targets[@]}") || fail "$table: probe from $s"
		for d in "${PODS[@]}"; do
			for port in 80 81; do
				if [ -n "$fam" ]; then got=$(grep -F "[${IP6[$d]}]:$port " <<<"$out" | awk '{print $2}')
				else got=$(grep -F "${IP[$d]}:$port " <<<"$out" | awk '{print $2}'); fi
				# a pod reaches itself over its own loopback, never past its veth
				if [ "$s" = "$d" ]; then want=ok; else want=$($expect "$s" "$d" "$port"); fi
				n=$((n + 1))
				[ "$got" = "$want" ] || bad+=("$s->$d:$port got=$got want=$want")
			done
		done
	done
	[ ${#bad[@]} = 0 ] || fail "$table: ${#bad[@]} of $n cells differ: ${bad[*]}"
	log "$table: $n cells as expected"
}

# --- truth tables --------------------------------------------------------------------------------
all_ok() { echo ok; }
matrix "no policy" all_ok

policy deny-x <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}
EOF
deny_x() { [[ $2 == x/* ]] && echo fail || echo ok; }
matrix "default-deny ingress in x" deny_x

policy allow-b <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-b, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]
EOF
a_from_b() { if [[ $2 == x/a ]]; then [ "$1" = x/b ] && echo ok || echo fail; else deny_x "$@"; fi; }
matrix "podSelector: x/a from x/b, default deny in x" a_from_b
matrix "podSelector over IPv6" a_from_b 6

# --- sluice observe: the verdicts just probed, as JSON and as lines, filtered and live ---------
"$SLUICE" observe --no-follow -o json --verdict denied --pod a -n x >"$TMP/obs.json" || fail "observe"
jq -se --arg s "${IP[y/a]}" 'map(select(.source.ip == $s and .source.namespace == "y" and
	.source.pod == "a" and .destination.namespace == "x" and .destination.pod == "a" and
	.destination.port == 80 and .protocol == "TCP" and .reason == "no_rule" and
	.direction == "ingress")) | length > 0' "$TMP/obs.json" >/dev/null ||
	fail "observe: no denied y/a -> x/a:80 flow: $(head -c 600 "$TMP/obs.json")"
jq -se 'map(select(.verdict != "denied" or ((.source.namespace != "x" or .source.pod != "a") and
	(.destination.namespace != "x" or .destination.pod != "a")))) | length == 0' "$TMP/obs.json" >/dev/null ||
	fail "observe --verdict denied --pod a -n x printed other flows"
"$SLUICE" observe --no-follow -o json --verdict allowed >"$TMP/obs-allowed.json" || fail "observe allowed"
jq -se 'map(select(.source.pod == "b" and .destination.pod == "a" and .policy == "x/a-from-b")) |
	length > 0' "$TMP/obs-allowed.json" >/dev/null || fail "observe: no x/b -> x/a flow allowed by x/a-from-b"
"$SLUICE" observe --no-follow --verdict denied --pod a -n x >"$TMP/obs.txt" || fail "observe (lines)"
grep -Eq "^[0-9T:.-]+Z  y/a:[0-9]+ -> x/a:80  TCP  denied  no_rule  ingress$" "$TMP/obs.txt" ||
	fail "observe line format: $(head -n3 "$TMP/obs.txt")"
# the same denials per flow in /metrics (L4 telemetry): y/a's SYNs to x/a:80, dropped at x/a
curl -sf -m 2 http://127.0.0.1:9464/metrics >"$TMP/metrics" || fail "no /metrics"
[ "$(metric_sum "$TMP/metrics" sluice_dropped_packets_total k8s_namespace_name=x k8s_pod_name=a \
	peer_k8s_namespace_name=y peer_k8s_pod_name=a server_port=80 network_transport=tcp \
	error_type=policy_denied network_io_direction=receive)" -ge 1 ] ||
	fail "no per-flow drop y/a -> x/a:80: $(grep '^sluice_dropped_packets_total' "$TMP/metrics" | head -n3)"
# (x/b -> x/a is allowed now, but earlier tables denied it: counters are cumulative)
"$SLUICE" observe -o json --verdict denied --pod c >"$TMP/live.json" 2>&1 &
obs=$!; on_cleanup "kill $obs"
sleep 0.3
ex y/b "$PROBE" reach -t 300 "${IP[x/c]}:81" >/dev/null
wait_for 5 grep -q "\"port\":81" "$TMP/live.json" || fail "observe did not show a live denied flow"
kill "$obs" 2>/dev/null || true
unpolicy allow-b
unpolicy deny-x

policy ns-y <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-ns-y-80, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
    ports: [{protocol: TCP, port: 80}]
EOF
ns_y() { if [[ $2 == x/a ]]; then [[ $1 == y/* && $3 == 80 ]] && echo ok || echo fail; else echo ok; fi; }
matrix "namespaceSelector: x/a from namespace y on 80" ns_y
unpolicy ns-y

policy both <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-y-a, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {app: a}}}]
EOF
both() { if [[ $2 == x/a ]]; then [ "$1" = y/a ] && echo ok || echo fail; else echo ok; fi; }
matrix "namespaceSelector and podSelector in one peer: x/a from y/a" both
unpolicy both

policy named <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-serve-81, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{port: serve-81}]}]
EOF
only81() { if [[ $2 == x/a ]]; then [ "$3" = 81 ] && echo ok || echo fail; else echo ok; fi; }
matrix "named port: x/a on serve-81 from anyone" only81
unpolicy named

policy range <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-81-to-90, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{ports: [{protocol: TCP, port: 81, endPort: 90}]}]
EOF
matrix "endPort: x/a on 81-90" only81
unpolicy range

policy deny-out-y <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: y}
spec: {podSelector: {}, policyTypes: [Egress]}
EOF
deny_out_y() { [[ $1 == y/* ]] && echo fail || echo ok; }
matrix "default-deny egress in y (replies to x still pass)" deny_out_y
unpolicy deny-out-y

policy ipblock <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-to-block, namespace: y}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16, except: ["${IP[x/b]}/32"]}}]}]
EOF
ipblock() { if [ "$1" = y/a ]; then [ "$2" = x/b ] && echo fail || echo ok; else echo ok; fi; }
matrix "ipBlock: y/a to 10.244.0.0/16 except x/b" ipblock
unpolicy ipblock

# egress to a Service: y/a may reach app=b pods of x only; svc-b is backed by x/b, svc-c by x/c
policy to-svc <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-to-x-b, namespace: y}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress: [{to: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {app: b}}}]}]
EOF
out=$(ex y/a "$PROBE" reach -t 500 10.96.1.2:80 10.96.1.3:80 "${IP[x/b]}:81" "${IP[x/c]}:80")
[ "$out" = "10.96.1.2:80 ok
10.96.1.3:80 fail
${IP[x/b]}:81 ok
${IP[x/c]}:80 fail" ] || fail "egress to a Service: want svc-b ok, svc-c denied, got: $(tr '\n' ' ' <<<"$out")"
"$SLUICE" observe --no-follow -o json --pod a -n y >"$TMP/obs-svc.json" || fail "observe egress"
jq -se 'map(select(.direction == "egress" and .verdict == "allowed" and .destination.pod == "b" and
	.destination.service == "svc-b" and .destination.port == 80)) | length > 0' "$TMP/obs-svc.json" >/dev/null ||
	fail "observe: the egress flow to svc-b does not name the backend pod and its Service"
jq -se 'map(select(.direction == "egress" and .verdict == "denied" and .destination.pod == "c")) |
	length > 0' "$TMP/obs-svc.json" >/dev/null || fail "observe: the denied egress flow to svc-c's backend is missing"
unpolicy to-svc

# --- a policy applied while a connection streams -----------------------------------------------
printf '#!/bin/sh\nwhile true; do echo tick; sleep 0.05; done\n' >"$TMP/ticker"
chmod +x "$TMP/ticker"
"$SLUICE" lab exec --name "$LAB" -n x a -- socat -u TCP-LISTEN:82,reuseaddr OPEN:"$TMP/ticks",creat,append &
srv=$!; on_cleanup "kill $srv"
wait_for 5 ex x/a sh -c "ss -Htln | grep -q ':82 '" || fail "stream server not listening"
"$SLUICE" lab exec --name "$LAB" -n y a -- socat -u EXEC:"$TMP/ticker" TCP:"${IP[x/a]}":82 &
cli=$!; on_cleanup "kill $cli"
wait_for 5 test -s "$TMP/ticks" || fail "stream did not start"
"$SLUICE" apply -f "$TMP/deny-x.yaml" >"$TMP/apply.log" 2>&1 || { cat "$TMP/apply.log"; fail "apply deny-x again"; }
n1=$(wc -l <"$TMP/ticks"); sleep 0.5; n2=$(wc -l <"$TMP/ticks")
[ "$n2" -gt "$n1" ] || fail "established stream stopped when a deny policy was applied ($n1 -> $n2)"
out=$(ex y/a "$PROBE" reach -t 500 "${IP[x/a]}:80")
[ "$out" = "${IP[x/a]}:80 fail" ] || fail "new connection passed the policy applied while streaming: $out"
unpolicy deny-x
out=$(ex y/a "$PROBE" reach -t 500 "${IP[x/a]}:80")
[ "$out" = "${IP[x/a]}:80 ok" ] || fail "new connection denied after the policy was deleted: $out"
kill "$cli" "$srv" 2>/dev/null || true

# --- bypass attempts: x/a takes only plain UDP 80 from x/b ---------------------------------------
policy udp-b <<'EOF'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-udp-from-b, namespace: x}
spec:
  podSelector: {matchLabels: {app: a}}
  ingress: [{from: [{podSelector: {matchLabels: {app: b}}}], ports: [{protocol: UDP, port: 80}]}]
EOF
frag0=$(counter policy_denied_fragment) ext0=$(counter policy_denied_l4_unknown)
spoof0=$(counter policy_denied_spoofed)
ex x/b "$SEND" "${IP[x/a]}" 80 plain-from-b || fail "send plain"
ex x/b "$SEND" "${IP6[x/a]}" 80 plain6-from-b || fail "send plain v6"
ex y/a "$SEND" "${IP[x/a]}" 80 plain-from-ya || fail "send from y/a"
ex x/b "$SEND" -f "${IP[x/a]}" 80 frag-from-b || fail "send fragments"
ex x/b "$SEND" -f "${IP6[x/a]}" 80 frag6-from-b || fail "send v6 fragments"
ex x/b "$SEND" -o "${IP[x/a]}" 80 opts-from-b || fail "send with IP options"
ex y/a "$SEND" -o "${IP[x/a]}" 80 opts-from-ya || fail "send with IP options from y/a"
ex x/b "$SEND" -x "${IP6[x/a]}" 80 ext6-from-b || fail "send with an IPv6 extension header"
ex y/a "$SEND" -S "${IP[x/b]}" "${IP[x/a]}" 80 spoofed-as-b || fail "send spoofed"
sleep 0.5
got=$(cat "$TMP/udp-x-a" 2>/dev/null || true)
for tok in plain-from-b plain6-from-b opts-from-b; do
	grep -q "$tok" <<<"$got" || fail "allowed datagram $tok did not arrive (got: ${got:0:200})"
done
for tok in plain-from-ya frag-from-b frag6-from-b opts-from-ya ext6-from-b spoofed-as-b; do
	grep -q "$tok" <<<"$got" && fail "bypass attempt $tok reached x/a"
done
[ "$(counter policy_denied_fragment)" -ge $((frag0 + 4)) ] ||
	fail "fragments not counted as policy_denied_fragment ($frag0 -> $(counter policy_denied_fragment))"
[ "$(counter policy_denied_l4_unknown)" -ge $((ext0 + 1)) ] ||
	fail "IPv6 extension header not counted as policy_denied_l4_unknown"
[ "$(counter policy_denied_spoofed)" -ge $((spoof0 + 1)) ] ||
	fail "spoofed source not counted as policy_denied_spoofed"
unpolicy udp-b
exit 0
