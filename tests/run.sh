#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs unit, BPF and netns tests in that order; prints failures' output and one summary line.
# TESTS=<substring> narrows the run by test name.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"
O=${O:-build}
export O
FILTER=${TESTS:-}
pass=0; fail=0; skip=0
failed=()

want() { [ -z "$FILTER" ] || [[ "$1" == *"$FILTER"* ]]; }

run_cmocka() {
	local bin=$1 name out rc p f s
	name=$(basename "$bin")
	want "$name" || return 0
	out=$("$bin" 2>&1); rc=$?
	if [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP $name: $(tail -n1 <<<"$out")"; return
	fi
	p=$(grep -oE '\[  PASSED  \] [0-9]+' <<<"$out" | awk '{s+=$NF} END {print s+0}')
	f=$(grep -oE '\[  FAILED  \] [0-9]+ test' <<<"$out" | awk '{s+=$(NF-1)} END {print s+0}')
	s=$(grep -oE '\[  SKIPPED \] [0-9]+ test' <<<"$out" | awk '{s+=$(NF-1)} END {print s+0}')
	pass=$((pass + p)); skip=$((skip + s))
	if [ $rc -ne 0 ] || [ "$f" -gt 0 ]; then
		[ "$f" -gt 0 ] || f=1
		fail=$((fail + f)); failed+=("$name")
		echo "FAIL $name (exit $rc)"; echo "$out" | sed 's/^/    /'
	fi
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
echo "== unit"
for t in "$O"/tests/unit/test_*; do [ -x "$t" ] && run_cmocka "$t"; done
echo "== bpf"
for t in "$O"/tests/bpf/test_*; do [ -x "$t" ] && run_cmocka "$t"; done
echo "== netns"
for t in tests/netns/test_*.sh; do
	name=$(basename "$t" .sh)
	want "$name" || continue
	start=$(date +%s)
	out=$(timeout 600 bash "$t" 2>&1); rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) pass=$((pass + 1)); echo "ok   $name (${secs}s)" ;;
	77) skip=$((skip + 1)); echo "SKIP $name: $(tail -n1 <<<"$out")" ;;
	*) fail=$((fail + 1)); failed+=("$name"); echo "FAIL $name (exit $rc, ${secs}s)"; echo "$out" | sed 's/^/    /' ;;
	esac
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
if [ $skip -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ $fail -eq 0 ]
