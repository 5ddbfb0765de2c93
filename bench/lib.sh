# SPDX-License-Identifier: Apache-2.0
# Sourced by bench/run.sh. Re-runs the script in fresh network and mount namespaces with a
# private bpffs, /run/netns and /run/sluice (as tests/netns/lib.sh does), so nothing a benchmark
# makes -- labs, veths, iptables rules, pins -- is ever visible from the host. Everything the
# run brings up is removed from an EXIT trap, even when a step fails.
# Also: progress output, the pod helpers and the result records run.sh aggregates.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O="$TOP/$O" ;; esac
SLUICE="$O/sluice"
BENCH_BIN="$O/bench"

die() { echo "bench: $*" >&2; exit 1; }

if [ -z "${SL_BENCH_IN_NS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || die "make bench needs root (network namespaces, cgroups, bpffs)"
	command -v unshare >/dev/null || die "unshare (util-linux) is missing"
	export SL_BENCH_IN_NS=1 SL_BENCH_T0=${SL_BENCH_T0:-$(date +%s)}
	exec unshare --mount --net --propagation private -- bash "$0" "$@"
fi

# Inside the private namespaces now.
ip link set lo up
mount -t bpf bpf /sys/fs/bpf
mkdir -p /run/netns /run/sluice
mount -t tmpfs -o mode=0755 tmpfs /run/netns
mount -t tmpfs -o mode=0755 tmpfs /run/sluice

TMP=$(mktemp -d /tmp/sluice-bench.XXXXXX)
LABS=()  # every lab this run brought up (or tried to), torn down in reverse
BG_PID=  # the command limited() is waiting for

bench_teardown() {
	local rc=$? i lab cg
	set +e
	trap - INT TERM
	# timeout(1) runs in a process group of its own: stop it and what it runs
	if [ -n "$BG_PID" ]; then
		kill -TERM -- "-$BG_PID" 2>/dev/null || kill -TERM "$BG_PID" 2>/dev/null
		wait "$BG_PID" 2>/dev/null
	fi
	for ((i = ${#LABS[@]} - 1; i >= 0; i--)); do
		lab=${LABS[$i]}
		if [ -d "/run/sluice/lab/$lab" ]; then
			"$SLUICE" lab down --name "$lab" >"$TMP/down-$lab.log" 2>&1 ||
				{ rc=${rc:-1}; cat "$TMP/down-$lab.log" >&2; }
		fi
		# belt and braces: the lab's cgroup subtree lives in the shared cgroup fs
		for cg in /sys/fs/cgroup/unified/sluice-lab-"$lab" /sys/fs/cgroup/sluice-lab-"$lab"; do
			[ -d "$cg" ] || continue
			[ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill"
			sleep 0.2
			find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	done
	rm -rf "$TMP"
	exit $rc
}
trap bench_teardown EXIT
trap 'exit 130' INT TERM

# Progress on stderr, with the seconds since `make bench` started.
say() { printf '[%4ds] %s\n' $(($(date +%s) - SL_BENCH_T0)) "$*" >&2; }

now_ns() { date +%s%N; }

# A unique lab name: 1-12 lower-case letters or digits.
lab_name() { printf '%s%04x%04x' "$1" $(($$ & 0xffff)) $((RANDOM & 0xffff)) | cut -c1-12; }

# lab_up NAME FILE [OPTIONS]...: brings a lab up and registers it for teardown; OPTIONS go to
# `sluice lab up` (the default is no /metrics).
lab_up() {
	local name=$1 file=$2
	shift 2
	LABS+=("$name")
	[ $# -gt 0 ] || set -- --metrics-address off
	"$SLUICE" lab up --name "$name" "$@" "$file" >"$TMP/up-$name.log" 2>&1 ||
		{ cat "$TMP/up-$name.log" >&2; return 1; }
}

lab_down() {
	"$SLUICE" lab down --name "$1" >"$TMP/down-$1.log" 2>&1 || { cat "$TMP/down-$1.log" >&2; return 1; }
}

lab_sock() { echo "/run/sluice/lab/$1/agent.sock"; }
node_ns() { echo "/run/netns/sl-$1-node"; }
agent_pid() { "$SLUICE" lab info --name "$1" | jq -r .agentPid; }

# pod_ip LAB POD
pod_ip() {
	SLUICE_SOCKET=$(lab_sock "$1") "$SLUICE" get pods -o json |
		jq -r --arg n "$2" '.items[] | select(.metadata.name==$n) | .status.podIP'
}

# limited SECONDS CMD...: runs CMD, killed after SECONDS. Every command that may run for long
# goes through here, with its output sent to files rather than read through $(...): timeout(1)
# puts CMD in a process group of its own, where a Ctrl-C does not reach it, and bash, seeing its
# child end normally, would then let the SIGINT pass without running the trap. Waiting with the
# `wait` builtin instead lets the INT/TERM trap (and the teardown) run at once. The command's
# stdin is /dev/null.
limited() {
	local t=$1 rc=0
	shift
	timeout -k 2 "$t" "$@" </dev/null &
	BG_PID=$!
	wait "$BG_PID" || rc=$?
	BG_PID=
	return $rc
}

# in_pod LAB POD SECONDS CMD...: runs CMD in the pod's netns and cgroup, killed after SECONDS.
in_pod() {
	local lab=$1 pod=$2 t=$3
	shift 3
	limited "$t" "$SLUICE" lab exec --name "$lab" "$pod" -- "$@"
}

# Waits until a command succeeds (at most $1 seconds).
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# kB of a /proc/PID/status field (VmRSS, VmHWM).
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

# status_json LAB: the agent's /v1/status (empty when it does not answer within 10 s).
status_json() { SLUICE_SOCKET=$(lab_sock "$1") "$SLUICE" status -o json 2>/dev/null || true; }

# map_entries LAB MAP: entries of one Sluice map, from the agent's status ("?" if unknown).
map_entries() {
	status_json "$1" | jq -r --arg m "$2" '[.maps[]? | select(.name == $m) | .entries] | first // "?"' 2>/dev/null || echo "?"
}

# agent_wait LAB SECONDS: waits until the lab's agent answers /v1/status again (after an apply
# the CLI gave up on, the agent is still busy with it: its API serves one request at a time).
agent_wait() {
	local end=$(($(date +%s) + $2))
	while [ "$(date +%s)" -lt "$end" ]; do
		[ -n "$(status_json "$1")" ] && return 0
		sleep 1
	done
	return 1
}

# stat_sum BPFFS NAME: a datapath counter (enum sl_stat in bpf/include/sl_abi.h, e.g. SOCK_LB),
# summed over CPUs, read with bpftool from the lab's pinned sluice_stats map.
stat_sum() {
	local idx
	idx=$(awk -v n="SL_STAT_$2" '/^enum sl_stat \{/ { on = 1; i = 0; next }
		on && /^\};/ { exit }
		on && $1 ~ /^SL_STAT_/ { sub(/,.*/, "", $1); if ($1 == n) { print i; exit } i++ }' \
		"$TOP/bpf/include/sl_abi.h")
	[ -n "$idx" ] || { echo "?"; return; }
	bpftool map dump pinned "$1/maps/sluice_stats" -j 2>/dev/null |
		jq -r --argjson k "$idx" '[.[] | select(.formatted.key == $k) | .formatted.values[].value.packets] | add // "?"' 2>/dev/null ||
		echo "?"
}

# --- result records --------------------------------------------------------------------------
# $RAW holds one line per measured value: ROW <tab> METRIC <tab> VALUE <tab> RUN, one line per
# run, so the report can take medians and pair rows measured in the same run (RUN is the same
# string for rows that one connlat process measured together). A failed row records METRIC
# "fail" with the reason as VALUE. $INFO holds single values: KEY <tab> VALUE.
RAW="$TMP/raw.tsv"
INFO="$TMP/info.tsv"
: >"$RAW"
: >"$INFO"

rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:--}" >>"$RAW"; }
info() { printf '%s\t%s\n' "$1" "$2" >>"$INFO"; }
info_get() { awk -F'\t' -v k="$1" '$1 == k { v = $2 } END { print v }' "$INFO"; }
row_failed() { awk -F'\t' -v r="$1" '$1 == r && $2 == "fail" { f = 1 } END { exit !f }' "$RAW"; }
row_fail() { row_failed "$1" || rec "$1" fail "$2"; }

# CPU pinning (BENCH_PIN=0 turns it off): client on CPU 0, servers on CPU 1, so a run does not
# depend on where the scheduler happens to put the two ends.
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	PIN_CLIENT=(taskset -c 0)
	PIN_SERVER='"taskset", "-c", "1", '
else
	PIN_CLIENT=()
	PIN_SERVER=
fi

# connlat_run RUN LAB POD PORT ROW ADDR [ROW ADDR]...: one connlat process from POD that
# measures every ADDR:PORT interleaved, connection by connection; records each target's five
# numbers under its ROW, tagged RUN. A row that failed before is left out.
connlat_run() { connlat_go conn "$@"; }

# rr_run RUN LAB POD PORT ROW ADDR [ROW ADDR]...: the same for request/response: one
# `connlat -P` process holds one established connection per ADDR:PORT (an echo server) and
# alternates round trips between them; records rr_p50_us and rr_p99_us under each ROW.
rr_run() { connlat_go rr "$@"; }

# connlat_go MODE RUN LAB POD PORT ROW ADDR [ROW ADDR]...: what connlat_run and rr_run share.
connlat_go() {
	local mode=$1 run=$2 lab=$3 pod=$4 port=$5 out rc=0 k k2 v f line addr row nok nerr n
	local args=() rows=() opts
	shift 5
	while [ $# -ge 2 ]; do
		if ! row_failed "$1"; then
			rows+=("$1")
			args+=("$2" "$port")
		fi
		shift 2
	done
	[ ${#rows[@]} -gt 0 ] || return 0
	if [ "$mode" = rr ]; then
		n=$RR_N
		opts=(-P "$RR_SIZE" -n "$RR_N" -w "$((RR_N / 10))")
	else
		n=$CONN_N
		opts=(-n "$CONN_N" -w "$CONN_WARMUP")
	fi
	in_pod "$lab" "$pod" $((CONN_DEADLINE + 10)) "${PIN_CLIENT[@]}" "$BENCH_BIN/connlat" \
		"${opts[@]}" -t 1000 -d "$CONN_DEADLINE" "${args[@]}" \
		>"$TMP/connlat.out" 2>"$TMP/connlat.err" || rc=$?
	out=$(cat "$TMP/connlat.out")
	for ((k = 0; k < ${#rows[@]}; k++)); do
		row=${rows[$k]}
		addr=${args[$((2 * k))]}
		line=$(grep -m1 "^target=$addr:$port " <<<"$out" || true)
		nok=$(sed -n 's/.* n=\([0-9]*\) .*/\1/p' <<<"$line")
		nerr=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
		if [ -z "$line" ] || [ "${nok:-0}" -eq 0 ] || [ $((${nerr:-0} * 100)) -gt "$n" ]; then
			row_fail "$row" "connlat$([ "$mode" = rr ] && echo " -P") to $addr:$port (exit $rc): $(grep -m1 -F " $addr port" "$TMP/connlat.err" | sed 's/^connlat: //')${line:+ ($line)}"
			continue
		fi
		for f in $line; do
			k2=${f%%=*}
			v=${f#*=}
			case $k2 in connect_p50_us | connect_p99_us | txn_p50_us | txn_p99_us | conn_per_s | rr_p50_us | rr_p99_us) rec "$row" "$k2" "$v" "$run" ;; esac
		done
	done
}

# pp_run ROW RUN LAB POD ADDR PORT: one sockperf ping-pong run over an established TCP
# connection. --full-rtt makes sockperf report round trips rather than half round trips.
pp_run() {
	local row=$1 run=$2 lab=$3 pod=$4 addr=$5 port=$6 out rc=0 p50 p99
	row_failed "$row" && return 0
	if [ -z "$HAVE_SOCKPERF" ]; then
		row_fail "$row" "sockperf is not installed"
		return 1
	fi
	in_pod "$lab" "$pod" $((PP_SECS + 15)) "${PIN_CLIENT[@]}" sockperf ping-pong --tcp \
		-i "$addr" -p "$port" -t "$PP_SECS" --full-rtt >"$TMP/pp.out" 2>&1 || rc=$?
	out=$(sed 's/\x1b\[[0-9;]*m//g' "$TMP/pp.out")
	p50=$(awk '/---> percentile 50.000 =/ { print $NF }' <<<"$out")
	p99=$(awk '/---> percentile 99.000 =/ { print $NF }' <<<"$out")
	if [ $rc -ne 0 ] || [ -z "$p50" ] || [ -z "$p99" ]; then
		row_fail "$row" "sockperf pp to $addr:$port: $(grep -m1 -i -E 'error|refused|fail|timed out' <<<"$out" || echo "no percentiles in its output (exit $rc)")"
		return 1
	fi
	rec "$row" pp_p50_us "$p50" "$run"
	rec "$row" pp_p99_us "$p99" "$run"
}

# pp_pair RUN LAB POD PORT ROW_A ADDR_A ROW_B ADDR_B: sockperf to both, A first in odd runs and
# B first in even ones (ABBA), so drift over a run does not favour either.
pp_pair() {
	local run=$1 lab=$2 pod=$3 port=$4
	if [ $((${run##*:} % 2)) -eq 1 ]; then
		pp_run "$5" "$run" "$lab" "$pod" "$6" "$port" || true
		pp_run "$7" "$run" "$lab" "$pod" "$8" "$port" || true
	else
		pp_run "$7" "$run" "$lab" "$pod" "$8" "$port" || true
		pp_run "$5" "$run" "$lab" "$pod" "$6" "$port" || true
	fi
}

# probe LAB POD ADDR PORT: does one short connlat run get through? Sets PROBE_ERR if not.
probe() {
	local out rc=0
	in_pod "$1" "$2" 15 "$BENCH_BIN/connlat" -n 20 -w 0 -t 500 -d 5 "$3" "$4" >"$TMP/probe.out" 2>&1 ||
		rc=$?
	out=$(cat "$TMP/probe.out")
	PROBE_ERR=
	[ $rc -eq 0 ] && return 0
	PROBE_ERR=$(grep -m1 '^connlat:' <<<"$out" | sed 's/^connlat: //')
	PROBE_ERR=${PROBE_ERR:-connlat exited $rc}
	return 1
}
