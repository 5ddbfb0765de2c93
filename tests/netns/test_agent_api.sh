#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# agent__apply_get_delete_restart__atomic_and_pins_survive_clean_exit
# sluice-agent on its own (no lab): an invalid manifest is refused whole with an error naming
# object, field and value; apply/re-apply/change report created/unchanged/configured; the
# frontend lands in the pinned sluice_svc map; delete of something absent changes nothing;
# SIGTERM leaves the pins in place and --teardown removes them.
. "$(dirname "$0")/lib.sh"

AGENT="$O/sluice-agent"
"$AGENT" --help | grep -q -- --bpffs-root || fail "--help"
"$AGENT" --version | grep -q '^sluice-agent ' || fail "--version"
cat >"$TMP/agent.yaml" <<YAML
bpffs_root: $BPFFS
api_socket: $SLUICE_SOCKET
metrics_address: 127.0.0.1:9464
state_file: $TMP/state.json
log_level: info
YAML
set +e
"$AGENT" --config "$TMP/agent.yaml" --log-level loud 2>"$TMP/bad.log"; rc=$?
set -e
[ $rc = 2 ] && grep -q 'loud' "$TMP/bad.log" || fail "bad log level not refused: rc=$rc"

start_agent() {
	"$AGENT" --config "$TMP/agent.yaml" 2>>"$TMP/agent.log" &
	apid=$!
	wait_for 10 curl -sf --unix-socket "$SLUICE_SOCKET" http://l/healthz || { cat "$TMP/agent.log"; fail "agent did not start"; }
}
start_agent
on_cleanup "kill -9 $apid; $AGENT --teardown --bpffs-root $BPFFS --state-file $TMP/state.json"
[ "$(stat -c %a "$SLUICE_SOCKET")" = 600 ] || fail "API socket is not 0600"

mkdir -p "$TMP/good"
cat >"$TMP/good/10-svc.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: 10.96.0.20
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
YAML
cat >"$TMP/good/20-ns.json" <<'JSON'
{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
JSON
cat >"$TMP/bad.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata: {name: would-be-created}
---
apiVersion: v1
kind: Service
metadata: {name: broken, namespace: team-a}
spec:
  ports: [{port: 70000}]
YAML

set +e
"$SLUICE" apply -f "$TMP/bad.yaml" >"$TMP/out" 2>"$TMP/err"; rc=$?
set -e
[ $rc = 1 ] || fail "invalid apply exit $rc"
grep -q 'Service team-a/broken: spec.ports\[0\].port: .*70000' "$TMP/err" || fail "error does not name object/field/value: $(cat "$TMP/err")"
[ "$("$SLUICE" get namespaces -o json | jq '.items | length')" = 0 ] || fail "invalid apply was half-applied"
# a syntax error in the one file applied (sent unparsed: the agent's error is put under its name)
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: x\n' >"$TMP/syntax.yaml"
if "$SLUICE" apply -f "$TMP/syntax.yaml" >"$TMP/out" 2>"$TMP/err"; then fail "a YAML syntax error was applied"; fi
grep -q "^error: $TMP/syntax.yaml: line [0-9]" "$TMP/err" || fail "syntax error does not name the file and line: $(cat "$TMP/err")"
printf '# nothing here\n' >"$TMP/empty.yaml"
if "$SLUICE" apply -f "$TMP/empty.yaml" >"$TMP/out" 2>"$TMP/err"; then fail "an empty manifest applied"; fi
grep -qx "error: no objects passed to apply" "$TMP/err" || fail "empty manifest: $(cat "$TMP/err")"

"$SLUICE" apply -f "$TMP/good" >"$TMP/out"
grep -qx 'service/web created' "$TMP/out" && grep -qx 'namespace/team-a created' "$TMP/out" || fail "apply: $(cat "$TMP/out")"
"$SLUICE" apply -f "$TMP/good" | grep -qx 'service/web unchanged' || fail "re-apply not unchanged"
sed 's/targetPort: 8080/targetPort: 8081/' "$TMP/good/10-svc.yaml" | "$SLUICE" apply -f - | grep -qx 'service/web configured' ||
	fail "changed apply not configured"
"$SLUICE" get services | grep -qE '^web +ClusterIP +10\.96\.0\.20 ' || fail "get services: $("$SLUICE" get services)"
n=$(bpftool -j map dump pinned "$BPFFS/maps/sluice_svc" | jq length)
[ "$n" = 1 ] || fail "sluice_svc holds $n entries, want 1"

set +e
"$SLUICE" delete -f "$TMP/bad.yaml" >/dev/null 2>"$TMP/err"; rc=$?
set -e
[ $rc = 1 ] && grep -q 'not found' "$TMP/err" || fail "delete of absent objects: rc=$rc $(cat "$TMP/err")"
[ "$("$SLUICE" get services -o json | jq '.items | length')" = 1 ] || fail "failed delete removed something"

curl -sf http://127.0.0.1:9464/metrics >"$TMP/metrics"
grep -qx 'sluice_reconcile_errors_total 0' "$TMP/metrics" || fail "reconcile errors in /metrics"
grep -qx 'sluice_map_entries{map="sluice_svc"} 1' "$TMP/metrics" || fail "map fill not in /metrics"

# Clean exit keeps the datapath and state; a new agent picks both up and writes nothing.
kill -TERM $apid; wait $apid || fail "agent exit status on SIGTERM"
[ -e "$BPFFS/maps/sluice_svc" ] && [ -e "$BPFFS/progs/sluice_tc_in" ] || fail "pins gone after clean exit"
start_agent
[ "$(curl -s --unix-socket "$SLUICE_SOCKET" http://l/v1/status | jq .reconcile.writes)" = 0 ] ||
	fail "restarted agent rewrote unchanged maps"
"$SLUICE" delete -f "$TMP/good" | grep -qx 'service "web" deleted' || fail "delete"
[ "$(bpftool -j map dump pinned "$BPFFS/maps/sluice_svc" | jq length)" = 0 ] || fail "frontend left after delete"
kill -TERM $apid; wait $apid || true
"$AGENT" --teardown --bpffs-root "$BPFFS" --state-file "$TMP/state.json" 2>/dev/null || fail "teardown"
[ ! -e "$BPFFS" ] || fail "teardown left $BPFFS"
exit 0
