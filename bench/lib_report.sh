# SPDX-License-Identifier: Apache-2.0
# Sourced by bench/run.sh at the end: turns $RAW and $INFO (see lib.sh) into bench/RESULTS.md.
# Every number printed is a median over runs; targets are reported, never asserted.

# med ROW_REGEX METRIC: the median of METRIC over all runs of the rows matching ROW_REGEX.
med() {
	awk -F'\t' -v r="$1" -v m="$2" '$1 ~ r && $2 == m { print $3 }' "$RAW" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
nvals() { awk -F'\t' -v r="$1" -v m="$2" '$1 ~ r && $2 == m { n++ } END { print n + 0 }' "$RAW"; }
fail_reason() { awk -F'\t' -v r="$1" '$1 == r && $2 == "fail" { print $3; exit }' "$RAW"; }
rx() { printf '^%s$' "$(sed 's/[.@]/\\&/g' <<<"$1")"; }

# paired ROW BASE METRIC: ROW's value ÷ BASE's value in each run that measured both (one connlat
# process, or one ABBA sockperf pair); prints "MEDIAN Q1 Q3 N" of those ratios, or nothing.
paired() {
	awk -F'\t' -v a="$1" -v b="$2" -v m="$3" '
		$2 == m && $1 == a { x[$4] = $3 }
		$2 == m && $1 == b { y[$4] = $3 }
		END { for (k in x) if ((k in y) && y[k] > 0) print x[k] / y[k] }' "$RAW" | sort -g |
		awk 'function q(p,    i) { i = 1 + p * (NR - 1); return v[int(i)] + (i - int(i)) * (v[int(i) + 1] - v[int(i)]) }
			{ v[NR] = $1 } END { if (NR) printf "%.4f %.4f %.4f %d\n", q(0.5), q(0.25), q(0.75), NR }'
}

# paired_diff ROW BASE METRIC: the median over runs of ROW's value - BASE's value.
paired_diff() {
	awk -F'\t' -v a="$1" -v b="$2" -v m="$3" '
		$2 == m && $1 == a { x[$4] = $3 }
		$2 == m && $1 == b { y[$4] = $3 }
		END { for (k in x) if (k in y) print x[k] - y[k] }' "$RAW" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.2f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# fmt VALUE DECIMALS
# (These helpers return 0 with empty input: run.sh runs under set -e, and x=$(helper) would
# otherwise end the run on a missing number.)
fmt() { [ -z "$1" ] || awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }'; }
# ratio A B: A / B with three decimals, empty when either is missing.
ratio() { [ -z "$1" ] || [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b }'; }
# le A B: A <= B (numbers)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
pct_change() { awk -v r="$1" 'BEGIN { printf "%+.1f %%", (r - 1) * 100 }'; }
# thousands 10000 -> 10,000 (whatever the locale)
thousands() { sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta' <<<"$1"; }
# services N: "1 Service", "1,000 Services"
services() { [ "$1" = 1 ] && echo "1 Service" || echo "$(thousands "$1") Services"; }
mb() { awk -v v="$1" 'BEGIN { printf "%.1f MB", v * 1024 / 1e6 }'; }

DIRECT_RX='^direct@[0-9]+$'
METRICS="connect_p50_us connect_p99_us txn_p50_us txn_p99_us conn_per_s rr_p50_us rr_p99_us pp_p50_us pp_p99_us"

# cell ROW_REGEX METRIC FAILED: a table cell.
cell() {
	local v d=1
	[ "$2" = conn_per_s ] && d=0
	v=$(med "$1" "$2")
	if [ -n "$v" ]; then fmt "$v" $d
	elif [ -n "$3" ]; then echo "failed"
	else echo "—"
	fi
}

# pratio ROW BASE METRIC: "1.012" from paired(), or "—".
pratio() {
	local p
	p=$(paired "$1" "$2" "$3")
	if [ -n "$p" ]; then fmt "${p%% *}" 3; else echo "—"; fi
}

# table_row LABEL SERVICES ROW_ID BASE: one row; BASE is the row ID the ratios pair with
# (measured in the same runs), or "pooled" for the median of every direct row.
table_row() {
	local label=$1 scale=$2 id=$3 base=$4 re failed m line rc rs rp rr
	re=$(rx "$id")
	failed=$(fail_reason "$id")
	line="| $label | $scale"
	for m in $METRICS; do line+=" | $(cell "$re" "$m" "$failed")"; done
	if [ "$base" = pooled ]; then
		rc=$(ratio "$(med "$re" connect_p50_us)" "$(med "$DIRECT_RX" connect_p50_us)")
		rs=$(ratio "$(med "$re" conn_per_s)" "$(med "$DIRECT_RX" conn_per_s)")
		rp=$(ratio "$(med "$re" pp_p50_us)" "$(med "$DIRECT_RX" pp_p50_us)")
		# an iptables row's round trips alternate with its "rules loaded" direct row's
		if [[ $id == ipt-* ]]; then rr=$(pratio "$id" "direct$id" rr_p50_us)
		else rr=$(ratio "$(med "$re" rr_p50_us)" "$(med "$DIRECT_RX" rr_p50_us)"); rr=${rr:+$rr¹}
		fi
		line+=" | ${rc:+$rc¹} | ${rs:+$rs¹} | $rr | ${rp:+$rp¹}"
	elif [ "$base" = self ]; then
		line+=" | 1 | 1 | 1 | 1"
	else
		line+=" | $(pratio "$id" "$base" connect_p50_us) | $(pratio "$id" "$base" conn_per_s) | $(pratio "$id" "$base" rr_p50_us) | $(pratio "$id" "$base" pp_p50_us)"
	fi
	line+=" | $(nvals "$re" connect_p50_us) / $(nvals "$re" rr_p50_us) / $(nvals "$re" pp_p50_us) |"
	echo "${line//|  |/| — |}"
}

# target_row TEXT MEASURED MET(yes/no/noisy-yes/noisy-no/"")
# noisy-*: the medians say yes or no, but the runs spread wider than the margin being judged.
target_row() {
	local status
	case $3 in
	yes) status="met" ;;
	no) status="**not met**" ;;
	noisy-yes) status="not resolved (runs spread wider than ±3 %; the median meets it)" ;;
	noisy-no) status="not resolved (runs spread wider than ±3 %; the median misses it)" ;;
	info) status="reported (the issue sets no number)" ;;
	*) status="not measured" ;;
	esac
	echo "| $1 | $2 | $status |"
}

# wide Q1 Q3: the interquartile range is wider than the ±3 % a target judges.
wide() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(b - a > 0.06) }'; }

# scale_ratios METRIC: "TEXT<tab>STATUS" for a "within 3 % of direct" target over the scales:
# each scale's paired ratio, interquartile range and median difference; STATUS for target_row.
scale_ratios() {
	local m=$1 n p r q1 q3 d all=yes any= noisy= txt=()
	for n in $SCALES; do
		p=$(paired "sluice@$n" "direct@$n" "$m")
		if [ -z "$p" ]; then
			txt+=("$(thousands "$n"): failed")
			all=no
			continue
		fi
		read -r r q1 q3 _ <<<"$p"
		any=1
		d=
		[ "$m" = conn_per_s ] || d=", $(paired_diff "sluice@$n" "direct@$n" "$m" | awk '{ printf "%+.1f", $1 }') µs"
		txt+=("$(thousands "$n"): $(fmt "$r" 3)× [$(fmt "$q1" 3)–$(fmt "$q3" 3)]$d")
		if [ "$m" = conn_per_s ]; then le 0.97 "$r" || all=no; else le "$r" 1.03 || all=no; fi
		wide "$q1" "$q3" && noisy=noisy-
	done
	[ -n "$any" ] || all=
	[ -z "$all" ] || all=$noisy$all
	printf '%s\t%s\n' "$(IFS=';'; echo "${txt[*]}" | sed 's/;/; /g')" "$all"
}

# flat_ratio METRIC: "TEXT<tab>STATUS" for "flat from the first to the last scale": the change
# of the paired ratio to direct, and the raw medians.
flat_ratio() {
	local m=$1 p1 pn r q1 q3 noisy= scales=($SCALES) first last
	first=${scales[0]}
	last=${scales[${#scales[@]} - 1]}
	if [ "$first" = "$last" ]; then
		printf 'one scale only (BENCH_SCALES)\t\n'
		return 0
	fi
	p1=$(paired "sluice@$first" "direct@$first" "$m")
	pn=$(paired "sluice@$last" "direct@$last" "$m")
	if [ -z "$p1" ] || [ -z "$pn" ]; then
		printf 'failed (see below)\t\n'
		return 0
	fi
	r=$(ratio "${pn%% *}" "${p1%% *}")
	read -r _ q1 q3 _ <<<"$p1"
	wide "$q1" "$q3" && noisy=noisy-
	read -r _ q1 q3 _ <<<"$pn"
	wide "$q1" "$q3" && noisy=noisy-
	printf '%s\t%s\n' "÷ direct $(fmt "${p1%% *}" 3) → $(fmt "${pn%% *}" 3), change ${r}× ($(pct_change "$r")); raw $(fmt "$(med "$(rx "sluice@$first")" "$m")" 1) → $(fmt "$(med "$(rx "sluice@$last")" "$m")" 1) µs" \
		"$noisy$(le "$r" 1.03 && echo yes || echo no)"
}

# tel_targets: the telemetry rows of the targets table (issue 5).
tel_targets() {
	local p r q1 q3 st on off add
	p=$(paired tel-on tel-off rps)
	if [ -n "$p" ]; then
		read -r r q1 q3 _ <<<"$p"
		st=$(le 0.98 "$r" && echo yes || echo no)
		awk -v a="$q1" -v b="$q3" 'BEGIN { exit !(b - a > 0.04) }' && st=noisy-$st
		target_row "Telemetry on: wrk requests/s ÷ off ≥ 0.98 (nginx through a ClusterIP)" \
			"$(fmt "$r" 3)× [$(fmt "$q1" 3)–$(fmt "$q3" 3)]; medians $(fmt "$(med '^tel-on$' rps)" 0) vs $(fmt "$(med '^tel-off$' rps)" 0) requests/s" "$st"
	else
		target_row "Telemetry on: wrk requests/s ÷ off ≥ 0.98 (nginx through a ClusterIP)" "failed: $(fail_reason tel-on)$(fail_reason tel-off)" ""
	fi
	p=$(paired tel-on tel-off p99_us)
	if [ -n "$p" ]; then
		read -r r q1 q3 _ <<<"$p"
		st=$(le "$r" 1.05 && echo yes || echo no)
		awk -v a="$q1" -v b="$q3" 'BEGIN { exit !(b - a > 0.10) }' && st=noisy-$st
		target_row "Telemetry on: wrk p99 ÷ off ≤ 1.05" \
			"$(fmt "$r" 3)× [$(fmt "$q1" 3)–$(fmt "$q3" 3)]; medians $(fmt "$(med '^tel-on$' p99_us)" 0) vs $(fmt "$(med '^tel-off$' p99_us)" 0) µs" "$st"
	else
		target_row "Telemetry on: wrk p99 ÷ off ≤ 1.05" "failed" ""
	fi
	on=$(info_get tel_bpf_ns_on)
	off=$(info_get tel_bpf_ns_off)
	if [ -n "$on" ] && [ -n "$off" ]; then
		add=$((on - off))
		target_row "BPF time per request added by telemetry ≤ 500 ns (run_time_ns, stats on)" \
			"$add ns (every sluice_* program: $on ns per request with telemetry, $off ns without; client and server veth both parse, as both pods are on this node)" \
			"$(le "$add" 500 && echo yes || echo no)"
	else
		target_row "BPF time per request added by telemetry ≤ 500 ns (run_time_ns, stats on)" "failed: $(info_get tel_bpf_fail_on)$(info_get tel_bpf_fail_off)" ""
	fi
	v=$(info_get tel_rss_kb)
	if [ -n "$v" ]; then
		target_row "Agent RSS with 2,000 series per metric" \
			"$(mb "$v") (VmRSS after two scrapes; series: tcp $(info_get tel_series_tcp), http_server $(info_get tel_series_http_server), http_client $(info_get tel_series_http_client); /metrics $(thousands "$(info_get tel_metrics_bytes)") bytes)" info
	else
		target_row "Agent RSS with 2,000 series per metric" "failed: $(info_get tel_series_fail)" ""
	fi
}

# tel_section: the telemetry section (issue 5).
tel_section() {
	local m
	echo "## Telemetry (issue 5)"
	echo
	echo "wrk (1 thread, $TEL_CONNS keep-alive connections, $TEL_SECS s a run) from a client pod to nginx (\`return 200\`)"
	echo "through a ClusterIP, the agent restarted between runs with \`l4_telemetry\` and \`http_telemetry\` on or off"
	echo "(the loader swaps the programs in place), $TEL_RUNS runs per mode in ABBA order; ratios pair the"
	echo "runs of one pair. Client on CPU 0, nginx on CPU 1. Both pods are on this node, so the client's"
	echo "and the server's veth both parse every request and response."
	echo
	echo "| Telemetry | requests/s | p50 µs | p99 µs | runs |"
	echo "|---|---:|---:|---:|---:|"
	for m in on off; do
		echo "| $m | $(cell "^tel-$m\$" rps "$(fail_reason "tel-$m")") | $(cell "^tel-$m\$" p50_us "") | $(cell "^tel-$m\$" p99_us "") | $(nvals "^tel-$m\$" rps) |"
	done
	echo
	echo "BPF time per request (one more wrk run per mode under \`bench/bpfstats\`, which turns the kernel's"
	echo "run-time statistics on with BPF_ENABLE_STATS for that run only), by program:"
	echo
	for m in on off; do
		echo "- telemetry $m: $(info_get "tel_bpf_ns_$m") ns per request: $(info_get "tel_bpf_detail_$m")"
	done
	echo
	echo "The parser alone, from BPF_PROG_TEST_RUN (test_http_tel, SL_BENCH=1, a wrk-like request and an"
	echo "nginx-like response, one veth): $(for c in http_tel_request http_tel_request_off http_tel_response http_tel_response_off http_tel_per_request_one_veth; do v=$(med "$(rx "bpf:test_http_tel:$c")" ns_per_pkt); [ -n "$v" ] && echo -n "$c $(fmt "$v" 0) ns; "; done | sed 's/; $//')."
	echo
}

# bench_cmd: the command line that reproduces this run.
bench_cmd() {
	local v cmd=
	for v in BENCH_RUNS BENCH_CONN_N BENCH_RR_N BENCH_PP_SECS BENCH_PP_RUNS BENCH_TEL_RUNS BENCH_TEL_SECS BENCH_SCALES BENCH_BPF_RUNS BENCH_PIN BENCH_RESULTS; do
		[ -n "${!v:-}" ] && cmd+="$v='${!v}' "
	done
	cmd+="make bench"
	[ "$(basename "$O")" = build ] || cmd+=" O=$O"
	echo "$cmd"
}

report() {
	local n v row id re failed reasons=() s ok r q1 q3 d any p label m all txt noisy
	local scales=($SCALES) first last
	first=${scales[0]}
	last=${scales[${#scales[@]} - 1]}

	echo "# Benchmark results"
	echo
	echo "Made by \`make bench\` (bench/run.sh; bench/README.md says what each number means)."
	echo
	echo "- Command: \`$(bench_cmd)\`"
	echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "- Machine: nproc $(nproc), CPU $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) memory, kernel $(uname -r), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
	echo "- Load average (1, 5, 15 min) at the start: $(info_get load_start); at the end: $(info_get load_end). The machine was not reserved for the run: other work on it shows up as noise."
	# "-dirty" when the code differs from the commit; RESULTS.md itself does not count
	local rev dirty=
	rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
	git -C "$TOP" diff --quiet HEAD -- . ':(exclude)bench/RESULTS.md' 2>/dev/null || dirty=-dirty
	echo "- Sluice: $rev$dirty ($("$SLUICE" version 2>/dev/null | head -n1 || true))"
	echo "- Tools: $(iptables-nft --version 2>/dev/null | head -n1), $(iptables-legacy --version 2>/dev/null | head -n1), $(sockperf --version 2>/dev/null | sed -n 's/^sockperf, //p' | head -n1 | sed 's/^/sockperf /')"
	echo "- Settings: $RUNS runs per row; connlat $CONN_N connections per target per run (+$CONN_WARMUP warm-up), the two targets of a row pair interleaved in one client; connlat -P $RR_N round trips of $RR_SIZE bytes per target per run (+$((RR_N / 10)) warm-up), alternating; sockperf $PP_SECS s per run, $PP_RUNS direct/Sluice pairs per scale in ABBA order and $RUNS runs per iptables row; client pinned to CPU 0 and servers to CPU 1: $([ ${#PIN_CLIENT[@]} -gt 0 ] && echo yes || echo no)"
	echo "- The whole run took $(info_get total_s) s."
	echo

	# --- targets
	echo "## Targets"
	echo
	echo "Sluice's ratios are paired: each run's Sluice number ÷ the direct number from the same run"
	echo "(the same connlat process, or the same ABBA sockperf pair), median over runs, interquartile range in"
	echo "brackets, and the median per-run difference in µs. Lower is better for latency, higher for"
	echo "conn/s. A target whose runs spread wider than the ±3 % it judges is \"not resolved\": the"
	echo "machine's noise, not the path, decides it."
	echo
	echo "| Target | Measured | Status |"
	echo "|---|---|---|"
	for m in connect_p50_us conn_per_s rr_p50_us; do
		IFS=$'\t' read -r txt all < <(scale_ratios $m)
		case $m in
		connect_p50_us) label="Sluice connect p50 within 3 % of direct" ;;
		conn_per_s) label="Sluice connections/s within 3 % of direct" ;;
		rr_p50_us)
			label="Sluice request/response p50 within 3 % of direct"
			txt="round trips alternating with direct's in one client (connlat -P): $txt"
			IFS=$'\t' read -r v _ < <(scale_ratios pp_p50_us)
			txt+="; sockperf ping-pong, runs seconds apart (ABBA): $v"
			;;
		esac
		target_row "$label" "$txt" "$all"
	done
	for m in connect_p50_us rr_p50_us; do
		label="Sluice flat from $(thousands "$first") to $(thousands "$last") Services ($([ $m = connect_p50_us ] && echo connect || echo request/response) p50)"
		IFS=$'\t' read -r txt all < <(flat_ratio $m)
		if [ $m = rr_p50_us ]; then
			IFS=$'\t' read -r v _ < <(flat_ratio pp_p50_us)
			txt="connlat -P: $txt; sockperf: $v"
		fi
		target_row "$label" "$txt" "$all"
	done
	any=
	ok=yes
	local cts=()
	while IFS= read -r row; do
		[ -n "$row" ] || continue
		awk -v c="${row##*:}" 'BEGIN { c = tolower(c); exit !(c ~ /hit/ && c ~ /(^|[_-])(ct|conntrack)([_-]|$)/) }' || continue
		v=$(med "$(rx "$row")" ns_per_pkt)
		cts+=("${row#bpf:}: $(fmt "$v" 1) ns")
		any=1
		le "$v" 50 || ok=no
	done < <(awk -F'\t' '$1 ~ /^bpf:/ { print $1 }' "$RAW" | sort -u)
	# the machine's floor: a program doing one sluice_ct lookup and nothing else
	local fl
	fl=$(awk -F'\t' '$1 ~ /^bpf:.*:xdp_floor_ct_lookup$/ { print $1; exit }' "$RAW")
	[ -n "$fl" ] && cts+=("floor here, one sluice_ct lookup alone (${fl#bpf:}): $(fmt "$(med "$(rx "$fl")" ns_per_pkt)" 1) ns")
	if [ -n "$any" ]; then
		target_row "tc/XDP conntrack hit ≤ 50 ns/packet" "$(IFS=';'; echo "${cts[*]}" | sed 's/;/; /g')" $ok
	else
		target_row "tc/XDP conntrack hit ≤ 50 ns/packet" "no BPF test prints a conntrack-hit case (see below)" ""
	fi
	tel_targets
	# policy (issue 4): the program's cost flat over rule counts, and apply to enforcement
	local pc=() pmin= pmax= pv
	for n in 1rule 1000rules 10000rules; do
		pv=$(med "$(rx "bpf:test_policy_tc:tc_pol_syn_$n")" ns_per_pkt)
		[ -n "$pv" ] || continue
		pc+=("${n%rule*} rule(s): $(fmt "$pv" 0) ns")
		if [ -z "$pmin" ] || le "$pv" "$pmin"; then pmin=$pv; fi
		if [ -z "$pmax" ] || le "$pmax" "$pv"; then pmax=$pv; fi
	done
	if [ ${#pc[@]} -ge 2 ]; then
		r=$(ratio "$pmax" "$pmin")
		target_row "Policy program flat within 5 % from 1 to 10,000 rules (a judged new flow, test-run)" \
			"$(IFS=';'; echo "${pc[*]}" | sed 's/;/; /g'); max ÷ min $r" "$(le "$r" 1.05 && echo yes || echo no)"
	else
		target_row "Policy program flat within 5 % from 1 to 10,000 rules (a judged new flow, test-run)" \
			"test_policy_tc printed no tc_pol_syn_* case (see below)" ""
	fi
	pv=$(for ((r = 1; r <= RUNS; r++)); do info_get "pol_enforce_${r}_ms"; done | grep . | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	label="\`sluice apply\` of a policy to enforcement ≤ 50 ms at $(thousands "$POL_PODS") Pods"
	if [ -n "$pv" ]; then
		s=
		awk -F'\t' '$1 ~ /^pol_enforce_leak_/' "$INFO" | grep -q . && s="; but a connection passed right after an apply"
		target_row "$label" "median $(fmt "$pv" 0) ms over $(for ((r = 1; r <= RUNS; r++)); do info_get "pol_enforce_${r}_ms"; done | grep -c .) applies (the apply returns once the maps are written; a connection right after each was dropped)$s" \
			"$([ -z "$s" ] && le "$pv" 50 && echo yes || echo no)"
	else
		target_row "$label" "failed: $(info_get pol_enforce_1_fail)" no
	fi
	label="Apply $(thousands $SCALE_SVCS) Services with $(thousands $((SCALE_SVCS * SCALE_EPS))) endpoints ≤ 1 s"
	v=$(info_get scale_apply_ms)
	s=
	[ "$(info_get scale_held)" = "$SCALE_SVCS" ] && [ "$(info_get scale_be_entries)" = "$((SCALE_SVCS * SCALE_EPS))" ] ||
		s="; but the agent then held $(info_get scale_held) Services and sluice_backend $(info_get scale_be_entries) entries"
	if [ -n "$v" ]; then
		target_row "$label" "$(fmt "$(awk -v v="$v" 'BEGIN { print v / 1000 }')" 3) s$s" \
			"$([ -z "$s" ] && le "$v" 1000 && echo yes || echo no)"
	elif [ -n "$(info_get scale_apply_done_ms)" ]; then
		target_row "$label" "failed: $(info_get scale_apply_fail); the agent answered again after $(fmt "$(awk -v v="$(info_get scale_apply_done_ms)" 'BEGIN { print v / 1000 }')" 1) s$s" no
	else
		target_row "$label" "failed: $(info_get scale_apply_fail)" no
	fi
	v=$(info_get scale_rss_kb)
	if [ -n "$v" ]; then
		target_row "Agent RSS after that apply ≤ 30 MB" "$(mb "$v") (VmRSS; peak VmHWM $(mb "$(info_get scale_hwm_kb)"))" \
			"$(le "$((v * 1024))" 30000000 && echo yes || echo no)"
	else
		target_row "Agent RSS after that apply ≤ 30 MB" "failed: $(info_get scale_apply_fail)" ""
	fi
	echo
	v=$(med "$(rx "ipt-nft@$first")" connect_p50_us)
	s=$(med "$(rx "ipt-nft@$last")" connect_p50_us)
	if [ -n "$v" ] && [ -n "$s" ] && [ "$first" != "$last" ]; then
		echo "Anchor: iptables-nft connect p50 went $(fmt "$v" 1) → $(fmt "$s" 1) µs from $(thousands "$first") to $(thousands "$last") Services here (the issue's anchor: 19 → 98 µs from 1 to 10,000 rules)."
		echo
	fi
	echo "Noise: the direct path's connect p50 was $(for n in $SCALES; do echo -n "$(fmt "$(med "$(rx "direct@$n")" connect_p50_us)" 1), "; done | sed 's/, $//') µs"
	echo "its rr p50 $(for n in $SCALES; do echo -n "$(fmt "$(med "$(rx "direct@$n")" rr_p50_us)" 1), "; done | sed 's/, $//') µs and its pp p50 $(for n in $SCALES; do echo -n "$(fmt "$(med "$(rx "direct@$n")" pp_p50_us)" 1), "; done | sed 's/, $//') µs in the $(wc -w <<<"$SCALES") groups of runs beside Sluice; rows"
	echo "measured at different times (everything unpaired, marked ¹) differ by that much without any"
	echo "difference in the path. A paired ratio's interquartile range shows how well it is resolved."
	echo

	# --- the table
	echo "## New connections and request/response"
	echo
	echo "connect and txn: connlat (one connection at a time: socket, connect, one request, the reply to EOF,"
	echo "close); conn/s: 1 / mean txn of one closed-loop client; rr: round trip of $RR_SIZE bytes on one established"
	echo "TCP connection to an echo server (connlat -P, one connection per target, round trips to the two"
	echo "targets of a row pair alternating); pp: sockperf ping-pong round trip on one established TCP"
	echo "connection, one target per run. Latencies in µs; medians over the runs of each run's p50 and p99."
	echo "Sluice's ratios are paired with the direct row of its scale. ¹ ratio of medians to the pooled"
	echo "direct rows measured beside Sluice (unpaired: the iptables rows ran later). The \"direct, rules"
	echo "loaded\" rows are measured interleaved with the iptables row above them: kube-proxy's nat rules"
	echo "see every new connection, also those to pod IPs."
	echo
	echo "| Path | Services | connect p50 | connect p99 | txn p50 | txn p99 | conn/s | rr p50 | rr p99 | pp p50 | pp p99 | connect p50 ÷ direct | conn/s ÷ direct | rr p50 ÷ direct | pp p50 ÷ direct | runs (connlat / -P / sockperf) |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for n in $SCALES; do
		table_row "direct (pod IP)" "$(thousands "$n")" "direct@$n" self
		table_row "**Sluice** (ClusterIP, socket LB)" "$(thousands "$n")" "sluice@$n" "direct@$n"
	done
	for v in nft legacy; do
		if [ -n "$(info_get "ipt_${v}_missing")" ]; then
			echo "| iptables-$v DNAT | — | not measured: $(info_get "ipt_${v}_missing") ||||||||||||||"
			continue
		fi
		for n in $SCALES; do
			table_row "iptables-$v DNAT (kube-proxy rules)" "$(thousands "$n")" "ipt-$v@$n" pooled
			table_row "direct (pod IP), iptables-$v rules loaded" "$(thousands "$n")" "directipt-$v@$n" pooled
		done
	done
	echo
	while IFS=$'\t' read -r row _ v _; do
		reasons+=("- $row: $v")
	done < <(awk -F'\t' '$2 == "fail"' "$RAW")
	if [ ${#reasons[@]} -gt 0 ]; then
		echo "Failed rows (no numbers were made up for them):"
		echo
		printf '%s\n' "${reasons[@]}"
		echo
	fi
	echo "Checks and setup:"
	echo
	for n in $SCALES; do
		s="- $(services "$n"): the agent held $(services "$(info_get "sluice_held_$n")"), sluice_svc $(thousands "$(info_get "sluice_svc_entries_$n")") entries"
		v=$(info_get "sluice_apply_${n}_ms")
		[ -n "$v" ] && s+="; \`sluice apply\` of the Services added at this step took $v ms"
		v=$(info_get "sluice_apply_${n}_fail")
		[ -n "$v" ] && s+="; the apply failed: $v"
		v=$(info_get "sluice_socklb_$n")
		[ -n "$v" ] && s+="; during these runs the socket LB translated $(thousands "$v") connect()s (the Sluice rows open $(thousands $((RUNS * (CONN_N + CONN_WARMUP) + PP_RUNS))): connlat's and one per sockperf run) and the tc fallback $(thousands "$(info_get "sluice_tcdnat_$n")") packets"
		echo "$s"
	done
	for v in nft legacy; do
		s=$(for n in $SCALES; do r=$(info_get "ipt_${v}_restore_$n"); [ -n "$r" ] && echo -n " $(services "$n") ($(thousands "$(info_get "ipt_rules_$n")") rules) in $r ms;"; done | sed 's/;$//')
		[ -n "$s" ] && echo "- iptables-$v-restore of the whole ruleset:$s"
	done
	echo

	# --- NetworkPolicy with real traffic
	echo "## NetworkPolicy: rules with real traffic"
	echo
	echo "connlat from the client pod to a server pod whose ingress holds N rules, the matching one last,"
	echo "interleaved in one client with a server pod without rules (the baseline of the ratio). Sluice: a"
	echo "NetworkPolicy of N rules (each allows app=client on one port) on srv. iptables-nft: N filter"
	echo "INPUT rules in srv2's network namespace with no conntrack shortcut, so every packet walks them."
	echo "Latencies in µs, medians over runs."
	echo
	echo "| Path | Rules | connect p50 | connect p99 | txn p50 | conn/s | connect p50 ÷ baseline | runs |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for n in $SCALES; do
		for pair in "polsluice@$n polbase@$n Sluice" "polipt-nft@$n polbase-ipt@$n iptables-nft"; do
			set -- $pair
			[ "$3" = iptables-nft ] && [ -n "$(info_get polipt_missing)" ] && continue
			re=$(rx "$1")
			failed=$(fail_reason "$1")
			echo "| $3 | $(thousands "$n") | $(cell "$re" connect_p50_us "$failed") | $(cell "$re" connect_p99_us "$failed") | $(cell "$re" txn_p50_us "$failed") | $(cell "$re" conn_per_s "$failed") | $(pratio "$1" "$2" connect_p50_us) | $(nvals "$re" connect_p50_us) |"
		done
	done
	echo
	v=$(info_get polipt_missing)
	[ -n "$v" ] && echo "- iptables-nft not measured: $v"
	for n in $SCALES; do
		v=$(info_get "pol_apply_${n}_ms")
		[ -n "$v" ] && echo "- $(thousands "$n") rule(s): \`sluice apply\` took $v ms; sluice_policy then held $(info_get "pol_entries_$n") entries"
	done
	echo "- Apply to enforcement: $(info_get pol_pods_held) Pods held (the lab's 3 plus $(thousands "$POL_PODS") of other nodes, applied in $(info_get pol_pods_apply_ms) ms); deny-policy applies took $(for ((r = 1; r <= RUNS; r++)); do info_get "pol_enforce_${r}_ms"; done | grep . | tr '\n' ' ' | sed 's/ $//;s/ /, /g') ms, deletes $(for ((r = 1; r <= RUNS; r++)); do info_get "pol_lift_$r"; done | grep . | tr '\n' ' ' | sed 's/ $//;s/ /, /g') ms"
	awk -F'\t' '$1 ~ /^pol_(enforce_leak|lift_fail)_/ { print "- " $1 ": " $2 }' "$INFO"
	echo
	# --- BPF
	echo "## BPF program cost (BPF_PROG_TEST_RUN)"
	echo
	any=
	while IFS= read -r row; do
		[ -n "$row" ] || continue
		if [ -z "$any" ]; then
			echo "Medians over runs of \`SL_BENCH=1 ${O#"$TOP"/}/tests/bpf/<test>\`: each line is what the test prints as"
			echo "\`bench <case> ns_per_pkt=<N>\` (test-run repeats over the \`tests/bpf/\` fixtures; how a case"
			echo "keeps a rewriting program on the path it names is up to the test, see its source)."
			echo
			echo "| Test | Case | ns/packet | runs |"
			echo "|---|---|---:|---:|"
			any=1
		fi
		id=${row#bpf:}
		echo "| ${id%%:*} | ${id#*:} | $(fmt "$(med "$(rx "$row")" ns_per_pkt)" 1) | $(nvals "$(rx "$row")" ns_per_pkt) |"
	done < <(awk -F'\t' '$1 ~ /^bpf:/ { print $1 }' "$RAW" | sort -u)
	[ -z "$any" ] || echo
	v=$(info_get bpf_none)
	[ -n "$v" ] && echo "- not measured: $v"
	while IFS=$'\t' read -r k v; do
		case $k in
		bpfnone_*) echo "- ${k#bpfnone_}: not measured: it $v" ;;
		bpfrc_*) echo "- ${k#bpfrc_} exited $v in at least one run (a failing case); any bench lines it printed were used" ;;
		esac
	done <"$INFO"
	echo

	tel_section
	# --- apply at scale
	echo "## Apply at scale"
	echo
	echo "A fresh lab agent (no pods), then one \`sluice apply -f\` of $(thousands $SCALE_SVCS) selector-less Services and $(thousands $SCALE_SVCS)"
	echo "EndpointSlices with $SCALE_EPS endpoints each ($(thousands $((SCALE_SVCS * SCALE_EPS))) endpoints), one compact JSON List of"
	echo "$(thousands "$(info_get scale_bytes)") bytes. Wall time of the command: reading the file, sending it, the agent's"
	echo "parse, validation, map writes and state save, and the CLI printing the 20,000 results (a"
	echo "single file goes to the agent unparsed). The CLI gives an apply 60 s."
	echo
	v=$(info_get scale_apply_fail)
	[ -n "$v" ] && echo "- failed: $v"
	v=$(info_get scale_apply_done_ms)
	[ -n "$v" ] && echo "- the agent answered its API again $v ms after the apply was sent"
	v=$(info_get scale_apply_ms)
	[ -n "$v" ] && echo "- apply: $v ms (target ≤ 1000 ms: $(le "$v" 1000 && echo met || echo '**not met**'))"
	v=$(info_get scale_reapply_ms)
	[ -n "$v" ] && echo "- the same apply again (every object unchanged): $v ms"
	v=$(info_get scale_reapply_fail)
	[ -n "$v" ] && echo "- the same apply again failed: $v"
	v=$(info_get scale_reapply_skip)
	[ -n "$v" ] && echo "- the same apply again: skipped, $v"
	v=$(info_get scale_rss0_kb)
	[ -n "$v" ] && echo "- agent VmRSS before: $(mb "$v")"
	v=$(info_get scale_rss_kb)
	[ -n "$v" ] && echo "- agent VmRSS after: $(mb "$v") (target ≤ 30 MB: $(le "$((v * 1024))" 30000000 && echo met || echo '**not met**')); VmHWM (peak): $(mb "$(info_get scale_hwm_kb)")"
	echo "- the agent then held $(thousands "$(info_get scale_held)") of $(thousands $SCALE_SVCS) Services; sluice_svc $(thousands "$(info_get scale_svc_entries)") entries, sluice_backend $(thousands "$(info_get scale_be_entries)") (expected $(thousands $((SCALE_SVCS * SCALE_EPS))))"
	echo

	# --- how
	echo "## How it was measured"
	echo
	echo "- Everything ran inside \`unshare --mount --net\`: one \`sluice lab\` with a server pod (connsrv and"
	echo "  \`sockperf server --tcp\`) and a client pod, both on the lab's bridge in 10.244.0.0/24."
	echo "- direct: the client connects to the server pod's IP. Sluice stays attached: the cgroup connect"
	echo "  hook sees these connects too and finds no Service."
	echo "- Sluice: the client connects to the Service's ClusterIP ($SVC_VIP); the socket LB rewrites"
	echo "  connect() in the client pod's cgroup (the counters above show it did, for every connection)."
	echo "  The extra Services are selector-less, each with its own ClusterIP in 10.96.0.0/16 and one"
	echo "  EndpointSlice endpoint, added with \`sluice apply -f\` before each scale's runs. Their names"
	echo "  (d00002, d00003, …) sort after every object applied before them; see bench/README.md for why."
	echo "- One connlat process measures direct and Sluice interleaved connection by connection; sockperf"
	echo "  runs to both in ABBA order. So both rows of a scale see the same machine, and the ratio of a"
	echo "  run is not moved by load that comes and goes."
	echo "- iptables: kube-proxy's iptables-mode rules (KUBE-SERVICES → KUBE-SVC-* → KUBE-SEP-* DNAT, with"
	echo "  comments, KUBE-MARK-MASQ, KUBE-POSTROUTING, KUBE-NODEPORTS and filter KUBE-FORWARD) for N"
	echo "  Services in 10.97.0.0/16 (outside every Sluice ClusterIP), loaded with iptables-restore in the"
	echo "  lab's node network namespace only, with bridge-nf-call-iptables on there as kube-proxy needs."
	echo "  The measured Service's rules come last in KUBE-SERVICES (the worst case). Only one backend's"
	echo "  rules are loaded at a time; each is flushed after its rows."
	echo "- Order: direct + Sluice per scale; iptables-nft per scale; iptables-legacy per scale; BPF tests;"
	echo "  apply at scale in a second, fresh lab. Raw per-run numbers: \`${OUTDIR#"$TOP"/}/raw.tsv\` (ROW, METRIC,"
	echo "  VALUE, RUN) and \`${OUTDIR#"$TOP"/}/info.tsv\`."
}
