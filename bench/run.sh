#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: Service load balancing (issue 3), side by side in one run, in a lab that lives in
# private network and mount namespaces. Writes bench/RESULTS.md; see bench/README.md.
#   1. pod -> pod IP directly and pod -> Sluice Service ClusterIP (socket LB), at 1, 1,000 and
#      10,000 Services: new connections (connlat, both targets interleaved in one client) and
#      request/response on an established connection (connlat -P against an echo server, both
#      targets alternating round trip by round trip in one client; and sockperf ping-pong, ABBA)
#   2. pod -> kube-proxy-style iptables DNAT (iptables-nft, then iptables-legacy) in the lab's
#      node netns, at the same scales; connlat interleaves pod -> pod IP under the same rules
#   3. BPF program cost in ns/packet from every tests/bpf binary that prints
#      `bench <case> ns_per_pkt=<N>` with SL_BENCH=1
#   4. time to apply 10,000 Services with 100,000 endpoints to a fresh agent, and its RSS after
#   5. NetworkPolicy: rules over real traffic, Sluice and iptables; apply to enforcement
#   6. telemetry: wrk against nginx through a ClusterIP with telemetry on and off (paired), BPF
#      time per request from the kernel's run-time statistics, agent RSS with 2,000 series
# Targets are reported as met / not met; they never fail the run. Knobs (environment):
#   BENCH_RUNS (7) runs per row, BENCH_CONN_N (3000) measured connections per target per connlat
#   run, BENCH_RR_N (5000) round trips per target per connlat -P run, BENCH_PP_SECS (1) seconds
#   per sockperf run, BENCH_SCALES ("1 1000 10000"),
#   BENCH_BPF_RUNS (3), BENCH_PIN (1) pin client and servers to CPUs 0 and 1,
#   BENCH_RESULTS (bench/RESULTS.md).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_gen.sh"

RUNS=${BENCH_RUNS:-7}
CONN_N=${BENCH_CONN_N:-3000}
CONN_WARMUP=$((CONN_N / 10))
CONN_DEADLINE=60
RR_N=${BENCH_RR_N:-5000}
RR_SIZE=64
PP_SECS=${BENCH_PP_SECS:-1}
PP_RUNS=${BENCH_PP_RUNS:-12}
SCALES=${BENCH_SCALES:-"1 1000 10000"}
BPF_RUNS=${BENCH_BPF_RUNS:-3}
POL_PODS=${BENCH_POL_PODS:-1000}
TEL_RUNS=${BENCH_TEL_RUNS:-6}
TEL_SECS=${BENCH_TEL_SECS:-3}
TEL_CONNS=8
RESULTS=${BENCH_RESULTS:-$TOP/bench/RESULTS.md}
OUTDIR="$O/bench"
APPLY_WAIT=240 # after an apply the CLI gave up on: how long to wait for the agent to finish it
SCALE_SVCS=10000
SCALE_EPS=10

SVC_VIP=10.96.0.10   # the real Sluice Service; dummies at 10.96.1.0 and up
IPT_VIP=10.97.0.10   # the real kube-proxy Service; dummies at 10.97.1.0 and up (no Sluice VIP)
CONN_PORT=8080
PP_PORT=11111
RR_PORT=8081
POD_CIDR=10.244.0.0/16

for b in "$SLUICE" "$O/sluice-agent" "$O/sluice-cni" "$BENCH_BIN/connlat" "$BENCH_BIN/connsrv" \
	"$BENCH_BIN/bpfstats"; do
	[ -x "$b" ] || die "$b is not built; run \`make bench\`, which builds it"
done
for c in jq ip nsenter timeout awk bpftool wrk nginx python3; do
	command -v $c >/dev/null || die "$c is missing (make deps installs it)"
done
for v in "$RUNS" "$CONN_N" "$RR_N" "$PP_SECS" "$PP_RUNS" "$BPF_RUNS"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS, BENCH_CONN_N, BENCH_RR_N, BENCH_PP_SECS, BENCH_PP_RUNS and BENCH_BPF_RUNS take positive integers"
done
for n in $SCALES; do
	[[ $n =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 60000 ] || die "BENCH_SCALES: \"$n\" is not a Service count (1-60000)"
done
HAVE_SOCKPERF=$(command -v sockperf || true)
mkdir -p "$OUTDIR"
info load_start "$(cut -d' ' -f1-3 /proc/loadavg)"

# apply_timed LAB FILE KEY: `sluice apply -f FILE` into LAB, timed; records KEY_ms, or KEY_fail
# and, once the agent answers again, KEY_done_ms (when it finished the apply the CLI gave up on).
apply_timed() {
	local lab=$1 file=$2 key=$3 t0 rc=0 ms
	t0=$(now_ns)
	SLUICE_SOCKET=$(lab_sock "$lab") limited 300 "$SLUICE" apply -f "$file" >"$TMP/$key.log" 2>&1 ||
		rc=$?
	ms=$((($(now_ns) - t0) / 1000000))
	if [ $rc -eq 0 ]; then
		info "${key}_ms" "$ms"
		return 0
	fi
	info "${key}_fail" "sluice apply exited $rc after $ms ms: $(grep -m1 -i -E 'error|timed out|timeout' "$TMP/$key.log" | cut -c1-300)"
	say "apply failed after $ms ms; waiting up to ${APPLY_WAIT}s for the agent to answer again"
	agent_wait "$lab" "$APPLY_WAIT" && info "${key}_done_ms" "$((($(now_ns) - t0) / 1000000))"
	return 1
}

# --- the lab ---------------------------------------------------------------------------------
LAB=$(lab_name b)
cat >"$TMP/lab.yaml" <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Service
metadata: {name: bench, namespace: default}
spec:
  type: ClusterIP
  clusterIP: $SVC_VIP
  selector: {app: srv}
  ports:
  - {name: conn, port: $CONN_PORT, targetPort: $CONN_PORT, protocol: TCP}
  - {name: pp, port: $PP_PORT, targetPort: $PP_PORT, protocol: TCP}
  - {name: rr, port: $RR_PORT, targetPort: $RR_PORT, protocol: TCP}
---
apiVersion: v1
kind: Pod
metadata: {name: srv, namespace: default, labels: {app: srv}}
spec:
  containers:
  - name: connsrv
    command: [${PIN_SERVER}"$BENCH_BIN/connsrv", "-p", "$CONN_PORT"]
  - name: echo
    command: [${PIN_SERVER}"$BENCH_BIN/connsrv", "-E", "-p", "$RR_PORT"]
EOF
if [ -n "$HAVE_SOCKPERF" ]; then
	cat >>"$TMP/lab.yaml" <<EOF
  - name: sockperf
    command: [${PIN_SERVER}"sockperf", "server", "--tcp", "-i", "0.0.0.0", "-p", "$PP_PORT"]
EOF
fi
cat >>"$TMP/lab.yaml" <<EOF
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - {name: client, command: ["sleep", "infinity"]}
EOF

say "lab $LAB: bringing up a server pod and a client pod"
lab_up "$LAB" "$TMP/lab.yaml" || die "sluice lab up failed (see above)"
export SLUICE_SOCKET
SLUICE_SOCKET=$(lab_sock "$LAB")
NODE=$(node_ns "$LAB")
BPFFS=$(status_json "$LAB" | jq -r '.bpffs // empty')
SRV=$(pod_ip "$LAB" srv)
[[ $SRV =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "server pod has no IPv4 address (got \"$SRV\")"
wait_for 10 in_pod "$LAB" client 5 "$BENCH_BIN/connlat" -n 1 -w 0 -t 500 "$SRV" $CONN_PORT ||
	die "connsrv in the server pod does not answer on $SRV:$CONN_PORT"
wait_for 10 in_pod "$LAB" client 5 "$BENCH_BIN/connlat" -P "$RR_SIZE" -n 1 -w 0 -t 500 "$SRV" $RR_PORT ||
	die "connsrv -E in the server pod does not echo on $SRV:$RR_PORT"
if [ -n "$HAVE_SOCKPERF" ]; then
	wait_for 10 in_pod "$LAB" srv 5 sh -c "ss -Htln | grep -q ':$PP_PORT '" ||
		die "sockperf server in the server pod is not listening on port $PP_PORT"
fi

# --- 1. direct vs Sluice, at each scale --------------------------------------------------------
applied=1
for n in $SCALES; do
	if [ "$n" -gt "$applied" ]; then
		gen_services $((applied + 1)) "$n" 1 10.96 100 >"$TMP/svc-$n.json"
		say "sluice: applying Services $((applied + 1))..$n (one endpoint each)"
		apply_timed "$LAB" "$TMP/svc-$n.json" "sluice_apply_$n" ||
			row_fail "sluice@$n" "sluice apply of Services $((applied + 1))..$n failed: $(info_get "sluice_apply_${n}_fail")"
		applied=$n
	fi
	st=$(status_json "$LAB")
	held=$(jq -r '.objects.services // "?"' <<<"$st" 2>/dev/null || echo "?")
	info "sluice_held_$n" "$held"
	info "sluice_svc_entries_$n" "$(jq -r '[.maps[]? | select(.name == "sluice_svc") | .entries] | first // "?"' <<<"$st" 2>/dev/null || echo "?")"
	if ! [[ $held =~ ^[0-9]+$ ]] || [ "$held" -lt "$n" ]; then
		row_fail "sluice@$n" "the agent holds $held Services, not $n: the row would not measure $n Services"
	fi
	if ! row_failed "sluice@$n" && ! probe "$LAB" client $SVC_VIP $CONN_PORT; then
		row_fail "sluice@$n" "no connection to ClusterIP $SVC_VIP:$CONN_PORT: $PROBE_ERR"
	fi
	say "direct and sluice at $n Service(s): $RUNS connlat runs, $PP_RUNS sockperf pairs, interleaved"
	lb0=$(stat_sum "$BPFFS" SOCK_LB)
	tc0=$(stat_sum "$BPFFS" TC_DNAT)
	for ((r = 1; r <= (RUNS > PP_RUNS ? RUNS : PP_RUNS); r++)); do
		[ "$r" -gt "$RUNS" ] ||
			connlat_run "$n:$r" "$LAB" client $CONN_PORT "direct@$n" "$SRV" "sluice@$n" $SVC_VIP
		[ "$r" -gt "$RUNS" ] ||
			rr_run "$n:$r" "$LAB" client $RR_PORT "direct@$n" "$SRV" "sluice@$n" $SVC_VIP
		[ "$r" -gt "$PP_RUNS" ] ||
			pp_pair "$n:$r" "$LAB" client $PP_PORT "direct@$n" "$SRV" "sluice@$n" $SVC_VIP
	done
	lb1=$(stat_sum "$BPFFS" SOCK_LB)
	tc1=$(stat_sum "$BPFFS" TC_DNAT)
	if [[ "$lb0$lb1$tc0$tc1" =~ ^[0-9]+$ ]]; then
		info "sluice_socklb_$n" "$((lb1 - lb0))"
		info "sluice_tcdnat_$n" "$((tc1 - tc0))"
	fi
done

# --- 2. kube-proxy-style iptables DNAT, nft then legacy, in the lab's node netns only --------
# Pod traffic crosses the node's bridge; kube-proxy relies on br_netfilter
# (bridge-nf-call-iptables, per network namespace) so that bridged replies are un-DNATed.
# Each backend is tried with a real restore of the 1-Service ruleset and flushed again at once,
# so that only one backend's rules are ever loaded while a row is measured.
ipt_flush() {
	if [ "$1" = nft ]; then
		nsenter --net="$NODE" nft flush ruleset
	else
		for t in nat filter; do
			nsenter --net="$NODE" iptables-legacy -t $t -F
			nsenter --net="$NODE" iptables-legacy -t $t -X
		done
	fi
}
IPT_BACKENDS=()
for v in nft legacy; do
	if ! command -v "iptables-$v-restore" >/dev/null; then
		info "ipt_${v}_missing" "iptables-$v-restore is not installed"
		continue
	fi
	gen_kube_proxy 1 10.97 $IPT_VIP "$SRV" $CONN_PORT $PP_PORT $POD_CIDR >"$TMP/kp-check.rules"
	if ! nsenter --net="$NODE" "iptables-$v-restore" "$TMP/kp-check.rules" >"$TMP/ipt-$v.err" 2>&1; then
		info "ipt_${v}_missing" "iptables-$v-restore fails in a network namespace on this kernel: $(head -n1 "$TMP/ipt-$v.err")"
		ipt_flush "$v" >/dev/null 2>&1 || true
		continue
	fi
	ipt_flush "$v" || die "cannot flush the iptables-$v rules in the node netns"
	IPT_BACKENDS+=("$v")
done
if [ ${#IPT_BACKENDS[@]} -gt 0 ]; then
	nsenter --net="$NODE" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null ||
		info ipt_brnf "net.bridge.bridge-nf-call-iptables cannot be set in the node netns"
fi
for v in "${IPT_BACKENDS[@]}"; do
	for n in $SCALES; do
		gen_kube_proxy "$n" 10.97 $IPT_VIP "$SRV" $CONN_PORT $PP_PORT $POD_CIDR $RR_PORT >"$TMP/kp-$n.rules"
		info "ipt_rules_$n" "$(grep -c '^-A' "$TMP/kp-$n.rules")"
		say "iptables-$v: $n Service(s), $(info_get "ipt_rules_$n") rules, $RUNS runs"
		t0=$(now_ns)
		if ! limited 300 nsenter --net="$NODE" "iptables-$v-restore" "$TMP/kp-$n.rules" >"$TMP/ipt.err" 2>&1; then
			row_fail "ipt-$v@$n" "iptables-$v-restore of $n Services failed: $(head -n1 "$TMP/ipt.err")"
			row_fail "directipt-$v@$n" "iptables-$v-restore of $n Services failed"
			continue
		fi
		info "ipt_${v}_restore_$n" "$((($(now_ns) - t0) / 1000000))"
		probe "$LAB" client $IPT_VIP $CONN_PORT ||
			row_fail "ipt-$v@$n" "no connection to $IPT_VIP:$CONN_PORT through the DNAT rules: $PROBE_ERR"
		for ((r = 1; r <= RUNS; r++)); do
			connlat_run "ipt-$v:$n:$r" "$LAB" client $CONN_PORT "directipt-$v@$n" "$SRV" "ipt-$v@$n" $IPT_VIP
			rr_run "ipt-$v:$n:$r" "$LAB" client $RR_PORT "directipt-$v@$n" "$SRV" "ipt-$v@$n" $IPT_VIP
			pp_run "ipt-$v@$n" "ipt-$v:$n:$r" "$LAB" client $IPT_VIP $PP_PORT || true
		done
	done
	ipt_flush "$v" || die "cannot flush the iptables-$v rules in the node netns"
done

# --- 3. BPF program cost from test-run repeats -----------------------------------------------
# Every tests/bpf binary is asked; those that print `bench <case> ns_per_pkt=<N>` lines with
# SL_BENCH=1 are measured, BPF_RUNS times.
BPF_BINS=()
for bin in "$O"/tests/bpf/test_*; do
	[ -f "$bin" ] && [ -x "$bin" ] && BPF_BINS+=("$bin")
done
[ ${#BPF_BINS[@]} -gt 0 ] || info bpf_none "no tests/bpf binary is built in $O/tests/bpf"
for bin in "${BPF_BINS[@]}"; do
	t=$(basename "$bin")
	say "BPF test-run: $t with SL_BENCH=1, up to $BPF_RUNS runs"
	got=0
	for ((r = 1; r <= BPF_RUNS; r++)); do
		rc=0
		SL_BENCH=1 limited 300 "$bin" >"$TMP/$t.out" 2>&1 || rc=$?
		[ $rc -eq 0 ] || info "bpfrc_$t" "$rc"
		while read -r c v; do
			rec "bpf:$t:$c" ns_per_pkt "$v" "$r"
			got=1
		done < <(sed -nE 's/^[[:space:]]*bench[[:space:]]+([^[:space:]]+)[[:space:]]+ns_per_pkt=([0-9.]+).*/\1 \2/p' "$TMP/$t.out")
		[ $got = 1 ] || break
	done
	if [ $got = 1 ]; then
		info "bpfok_$t" "$r"
	else
		info "bpfnone_$t" "prints no \`bench <case> ns_per_pkt=<N>\` line with SL_BENCH=1 (exit $rc)"
	fi
done

say "lab $LAB: tearing down"
lab_down "$LAB" || die "sluice lab down failed"

# --- 4. apply 10,000 Services with 100,000 endpoints to a fresh agent --------------------------
ALAB=$(lab_name a)
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n' >"$TMP/ns.yaml"
gen_services 1 $SCALE_SVCS $SCALE_EPS 10.96 100 >"$TMP/scale.json"
info scale_bytes "$(stat -c %s "$TMP/scale.json")"
say "apply at scale: fresh lab $ALAB, $SCALE_SVCS Services + $SCALE_SVCS EndpointSlices ($(($(stat -c %s "$TMP/scale.json") / 1024)) KiB)"
if lab_up "$ALAB" "$TMP/ns.yaml"; then
	apid=$(agent_pid "$ALAB")
	info scale_rss0_kb "$(proc_kb "$apid" VmRSS)"
	apply_timed "$ALAB" "$TMP/scale.json" scale_apply || true
	info scale_rss_kb "$(proc_kb "$apid" VmRSS)"
	info scale_hwm_kb "$(proc_kb "$apid" VmHWM)"
	st=$(status_json "$ALAB")
	info scale_held "$(jq -r '.objects.services // "?"' <<<"$st" 2>/dev/null || echo "?")"
	info scale_svc_entries "$(jq -r '[.maps[]? | select(.name == "sluice_svc") | .entries] | first // "?"' <<<"$st" 2>/dev/null || echo "?")"
	info scale_be_entries "$(jq -r '[.maps[]? | select(.name == "sluice_backend") | .entries] | first // "?"' <<<"$st" 2>/dev/null || echo "?")"
	# the same apply again, where nothing changes; skipped when the first took over a minute
	v=$(info_get scale_apply_ms)
	if [ -n "$v" ] && [ "$v" -le 60000 ]; then
		say "apply at scale: the same file again (nothing changes)"
		apply_timed "$ALAB" "$TMP/scale.json" scale_reapply || true
	else
		info scale_reapply_skip "the first apply did not succeed within a minute"
	fi
	lab_down "$ALAB" || die "sluice lab down failed"
else
	info scale_apply_fail "sluice lab up failed"
fi

# --- 5. NetworkPolicy: N rules with real traffic, Sluice and iptables; apply to enforcement ---
# A fresh lab: srv (app=srv) and srv2 (app=srv2) both run connsrv; client connects. Each row
# pair interleaves a baseline target and a measured one in one connlat client:
#   polipt-nft@N   srv2 with N iptables filter INPUT rules in its netns, beside srv (no rules)
#   polsluice@N    srv isolated by a NetworkPolicy of N rules, beside srv2 (no policy)
# Then POL_PODS Pods of other nodes are added and a deny-all policy for srv is applied and
# deleted RUNS times: each `sluice apply` returns once the maps are written, and a connection
# right after it must be dropped (after the delete: accepted).
PLAB=$(lab_name p)
{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: default}\n'
	for p in srv srv2; do
		printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: default, labels: {app: %s}}\n' $p $p
		printf 'spec:\n  containers:\n  - name: connsrv\n    command: [%s"%s", "-p", "%s"]\n' "$PIN_SERVER" "$BENCH_BIN/connsrv" $CONN_PORT
	done
	printf -- '---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: default, labels: {app: client}}\n'
	printf 'spec:\n  containers:\n  - {name: client, command: ["sleep", "infinity"]}\n'
} >"$TMP/pol-lab.yaml"
say "policy: fresh lab $PLAB (two servers, a client)"
if lab_up "$PLAB" "$TMP/pol-lab.yaml"; then
	PSRV=$(pod_ip "$PLAB" srv)
	PSRV2=$(pod_ip "$PLAB" srv2)
	PCLI=$(pod_ip "$PLAB" client)
	for t in "$PSRV" "$PSRV2"; do
		wait_for 10 in_pod "$PLAB" client 5 "$BENCH_BIN/connlat" -n 1 -w 0 -t 500 "$t" $CONN_PORT ||
			row_fail "polsluice@1" "connsrv at $t:$CONN_PORT does not answer"
	done
	pol_ipt=
	if command -v iptables-nft-restore >/dev/null &&
		gen_filter_rules 1 "$PCLI" $CONN_PORT >"$TMP/f1.rules" &&
		in_pod "$PLAB" srv2 30 iptables-nft-restore "$TMP/f1.rules" >"$TMP/f.err" 2>&1; then
		pol_ipt=1
		in_pod "$PLAB" srv2 30 nft flush ruleset || die "cannot flush nft rules in srv2"
	else
		info polipt_missing "iptables-nft-restore unavailable in a pod netns: $(head -n1 "$TMP/f.err" 2>/dev/null)"
	fi
	for n in $SCALES; do
		if [ -n "$pol_ipt" ]; then
			gen_filter_rules "$n" "$PCLI" $CONN_PORT >"$TMP/f$n.rules"
			say "policy: iptables-nft, $n filter rule(s) in srv2, $RUNS runs"
			if in_pod "$PLAB" srv2 60 iptables-nft-restore "$TMP/f$n.rules" >"$TMP/f.err" 2>&1; then
				for ((r = 1; r <= RUNS; r++)); do
					connlat_run "polipt:$n:$r" "$PLAB" client $CONN_PORT "polbase-ipt@$n" "$PSRV" "polipt-nft@$n" "$PSRV2"
				done
			else
				row_fail "polipt-nft@$n" "iptables-nft-restore of $n rules: $(head -n1 "$TMP/f.err")"
			fi
			in_pod "$PLAB" srv2 30 nft flush ruleset || die "cannot flush nft rules in srv2"
		fi
		gen_netpol "$n" $CONN_PORT >"$TMP/pol-$n.json"
		say "policy: sluice, a NetworkPolicy of $n rule(s) on srv, $RUNS runs"
		if apply_timed "$PLAB" "$TMP/pol-$n.json" "pol_apply_$n"; then
			info "pol_entries_$n" "$(map_entries "$PLAB" sluice_policy)"
			for ((r = 1; r <= RUNS; r++)); do
				connlat_run "pol:$n:$r" "$PLAB" client $CONN_PORT "polbase@$n" "$PSRV2" "polsluice@$n" "$PSRV"
			done
			SLUICE_SOCKET=$(lab_sock "$PLAB") limited 120 "$SLUICE" delete -f "$TMP/pol-$n.json" >/dev/null 2>&1 ||
				die "cannot delete the $n-rule policy"
		else
			row_fail "polsluice@$n" "sluice apply of the $n-rule policy failed: $(info_get "pol_apply_${n}_fail")"
		fi
	done
	gen_pods "$POL_PODS" >"$TMP/pol-pods.json"
	apply_timed "$PLAB" "$TMP/pol-pods.json" pol_pods_apply || true
	info pol_pods_held "$(status_json "$PLAB" | jq -r '.objects.pods // "?"' 2>/dev/null || echo "?")"
	printf '%s\n' '{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"bench-deny","namespace":"default"},"spec":{"podSelector":{"matchLabels":{"app":"srv"}},"policyTypes":["Ingress"]}}' >"$TMP/deny.json"
	say "policy: apply to enforcement with $POL_PODS more Pods, $RUNS runs"
	for ((r = 1; r <= RUNS; r++)); do
		apply_timed "$PLAB" "$TMP/deny.json" "pol_enforce_$r" || continue
		in_pod "$PLAB" client 5 "$BENCH_BIN/connlat" -n 1 -w 0 -t 300 "$PSRV" $CONN_PORT >/dev/null 2>&1 &&
			info "pol_enforce_leak_$r" "a connection passed right after the deny policy was applied"
		t0=$(now_ns)
		SLUICE_SOCKET=$(lab_sock "$PLAB") limited 60 "$SLUICE" delete -f "$TMP/deny.json" >/dev/null 2>&1 ||
			die "cannot delete the deny policy"
		info "pol_lift_$r" "$((($(now_ns) - t0) / 1000000))"
		in_pod "$PLAB" client 5 "$BENCH_BIN/connlat" -n 1 -w 0 -t 1000 "$PSRV" $CONN_PORT >/dev/null 2>&1 ||
			info "pol_lift_fail_$r" "no connection right after the deny policy was deleted"
	done
	lab_down "$PLAB" || die "sluice lab down failed"
else
	row_fail "polsluice@1" "sluice lab up failed for the policy lab"
fi

# --- 6. telemetry (issue 5): wrk against nginx through a ClusterIP, telemetry on and off ------
# One lab: nginx (web) behind a ClusterIP, a client, and tests/tools/stream_server.py (status)
# for label sets. The agent is restarted with telemetry on or off (the loader swaps the
# programs in place; links stay). TEL_RUNS wrk runs per mode in ABBA order give the paired
# requests/s and p99 ratios; one more run per mode under bpfstats gives the BPF time per
# request; then 2,000 label sets per metric group are made and the agent's RSS is read.
TLAB=$(lab_name t)
TVIP=10.96.0.50
cat >"$TMP/tnginx.conf" <<EOF
daemon off;
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path body;
	proxy_temp_path proxy;
	fastcgi_temp_path fastcgi;
	uwsgi_temp_path uwsgi;
	scgi_temp_path scgi;
	keepalive_requests 100000000;
	server { listen 8080; location / { default_type text/plain; return 200 "hello\n"; } }
}
EOF
cat >"$TMP/tel-lab.yaml" <<EOF
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  clusterIP: $TVIP
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  containers:
  - name: nginx
    command: [${PIN_SERVER}"sh", "-c", "exec nginx -e stderr -p \"\$TMPDIR/\" -c $TMP/tnginx.conf"]
---
apiVersion: v1
kind: Pod
metadata: {name: status, namespace: default, labels: {app: status}}
spec:
  containers:
  - name: status
    command: ["python3", "$TOP/tests/tools/stream_server.py", "8000", "/dev/null", "1", "1", "1"]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - {name: client, command: ["sleep", "infinity"]}
EOF
# tel_mode on|off: the lab's agent restarted with telemetry on or off
tel_mode() {
	local pid v
	v=$([ "$1" = on ] && echo 1 || echo 0)
	printf 'l4_telemetry: %s\nhttp_telemetry: %s\n' "$v" "$v" >"$TMP/tel-agent.yaml"
	pid=$(agent_pid "$TLAB")
	kill "$pid" 2>/dev/null || true
	wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || die "the telemetry lab's agent did not stop"
	"$SLUICE" lab agent-start --name "$TLAB" >/dev/null 2>&1 || die "the telemetry lab's agent did not start"
	agent_wait "$TLAB" 30 || die "the telemetry lab's agent does not answer"
}
# wrk_us VALUE: wrk's latency (85.00us, 1.20ms, 2.00s) in µs
wrk_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1e6 }'; }
# wrk_run ROW RUN: one wrk run from the client pod; records rps, p50_us, p99_us
wrk_run() {
	local row=$1 run=$2 out
	in_pod "$TLAB" client $((TEL_SECS + 15)) "${PIN_CLIENT[@]}" wrk -t1 -c"$TEL_CONNS" -d"${TEL_SECS}s" \
		--latency "http://$TVIP/" >"$TMP/wrk.out" 2>&1 ||
		{ row_fail "$row" "wrk: $(tail -n1 "$TMP/wrk.out")"; return 1; }
	out=$(cat "$TMP/wrk.out")
	rec "$row" rps "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" "$run"
	rec "$row" p50_us "$(wrk_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" "$run"
	rec "$row" p99_us "$(wrk_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")" "$run"
}
printf 'l4_telemetry: 1\nhttp_telemetry: 1\n' >"$TMP/tel-agent.yaml"
say "telemetry: fresh lab $TLAB (nginx behind a ClusterIP, a client, a status server)"
if lab_up "$TLAB" "$TMP/tel-lab.yaml" --metrics-address 127.0.0.1:9464 --agent-config "$TMP/tel-agent.yaml"; then
	wait_for 10 in_pod "$TLAB" web 5 sh -c "ss -Htln | grep -q ':8080 '" || row_fail "tel-on" "nginx does not listen"
	say "telemetry: $TEL_RUNS wrk runs of ${TEL_SECS} s ($TEL_CONNS connections) per mode, on and off in ABBA order"
	for ((r = 1; r <= TEL_RUNS; r++)); do
		if [ $((r % 2)) -eq 1 ]; then order="on off"; else order="off on"; fi
		for m in $order; do
			tel_mode "$m"
			wrk_run "tel-$m" "$r" || true
		done
	done
	say "telemetry: BPF time per request, one wrk run per mode under bpfstats"
	for m in on off; do
		tel_mode "$m"
		"$BENCH_BIN/bpfstats" "$SLUICE" lab exec --name "$TLAB" client -- "${PIN_CLIENT[@]}" wrk -t1 \
			-c"$TEL_CONNS" -d"${TEL_SECS}s" "http://$TVIP/" >"$TMP/bs-wrk.out" 2>"$TMP/bs.err" || true
		reqs=$(awk '/requests in/ { print $1 }' "$TMP/bs-wrk.out")
		ns=$(awk '/^bpfstats prog=/ { split($3, a, "="); s += a[2] } END { print s + 0 }' "$TMP/bs.err")
		if [[ $reqs =~ ^[0-9]+$ ]] && [ "$reqs" -gt 0 ]; then
			info "tel_bpf_ns_$m" "$(awk -v n="$ns" -v r="$reqs" 'BEGIN { printf "%.0f", n / r }')"
			info "tel_bpf_detail_$m" "$(awk -v r="$reqs" '/^bpfstats prog=/ { split($2, p, "="); split($3, a, "="); split($4, c, "="); if (c[2] > 0) printf "%s %.0f ns (%.1f runs); ", p[2], a[2] / r, c[2] / r }' "$TMP/bs.err" | sed 's/; $//')"
		else
			info "tel_bpf_fail_$m" "no request count from wrk under bpfstats: $(head -n2 "$TMP/bs.err" | tr '\n' ' ')"
		fi
	done
	# 2,000 label sets per metric group: methods x statuses from the status server (HTTP server
	# and client side), and refused connects to 2,000 of its ports (L4)
	say "telemetry: 2,000 label sets per metric group, then the agent's RSS"
	tel_mode on
	SIP=$(pod_ip "$TLAB" status)
	in_pod "$TLAB" client 120 python3 -c "
import http.client, socket
c = http.client.HTTPConnection('$SIP', 8000)
for m in ('GET', 'POST', 'PUT', 'DELETE', 'PATCH'):
    for s in range(200, 600):
        c.request(m, '/status/%d' % s)
        c.getresponse().read()
for p in range(20000, 22000):
    k = socket.socket()
    k.connect_ex(('$SIP', p))
    k.close()
" >"$TMP/series.out" 2>&1 || info tel_series_fail "$(tail -n1 "$TMP/series.out")"
	sleep 1
	for i in 1 2; do curl -sf -m 30 http://127.0.0.1:9464/metrics >"$TMP/tel-metrics" || true; done
	for g in tcp http_server http_client; do
		info "tel_series_$g" "$(awk -v k="sluice_telemetry_series{group=\"$g\",kind=\"series\"}" '$1 == k { print $2 }' "$TMP/tel-metrics")"
		info "tel_overflowed_$g" "$(awk -v k="sluice_telemetry_series{group=\"$g\",kind=\"overflowed\"}" '$1 == k { print $2 }' "$TMP/tel-metrics")"
	done
	info tel_metrics_bytes "$(wc -c <"$TMP/tel-metrics")"
	apid=$(agent_pid "$TLAB")
	info tel_rss_kb "$(proc_kb "$apid" VmRSS)"
	info tel_hwm_kb "$(proc_kb "$apid" VmHWM)"
	lab_down "$TLAB" || die "sluice lab down failed"
else
	row_fail "tel-on" "sluice lab up failed for the telemetry lab"
fi

# --- RESULTS.md --------------------------------------------------------------------------------
info load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
info total_s $(($(date +%s) - SL_BENCH_T0))
cp "$RAW" "$OUTDIR/raw.tsv"
cp "$INFO" "$OUTDIR/info.tsv"
say "writing $RESULTS"
. "$(dirname "$0")/lib_report.sh"
report >"$TMP/RESULTS.md"
mv "$TMP/RESULTS.md" "$RESULTS"
say "done: $RESULTS (raw numbers in $OUTDIR/raw.tsv), $(info_get total_s) s"
