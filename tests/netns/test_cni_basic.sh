#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cni__first_cut__version_errors_del_idempotent_check_drift
# sluice-cni called by hand the way a runtime calls it: VERSION answers; malformed stdin and a
# missing prevResult give CNI error JSON on stdout with exit 1; DEL of something already gone
# succeeds twice; CHECK reports programs removed from a pod's veth.
. "$(dirname "$0")/lib.sh"

CNI="$O/sluice-cni"
out=$(CNI_COMMAND=VERSION "$CNI" </dev/null) || fail "VERSION failed"
jq -e '.supportedVersions | index("1.0.0")' <<<"$out" >/dev/null || fail "VERSION: $out"

set +e
out=$(echo '{not json' | CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=/x CNI_IFNAME=eth0 "$CNI"); rc=$?
set -e
[ $rc = 1 ] || fail "bad stdin: exit $rc"
[ "$(jq .code <<<"$out")" = 6 ] || fail "bad stdin: $out"

set +e
out=$(echo '{"cniVersion":"1.0.0","name":"n","type":"sluice-cni"}' |
	CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=/x CNI_IFNAME=eth0 "$CNI"); rc=$?
set -e
[ $rc = 1 ] && [ "$(jq .code <<<"$out")" = 7 ] || fail "no prevResult: rc=$rc $out"
jq -e '.msg | test("prevResult")' <<<"$out" >/dev/null || fail "error does not name prevResult: $out"

set +e
out=$(echo '{"cniVersion":"9.9.9","name":"n","type":"sluice-cni"}' | CNI_COMMAND=ADD CNI_CONTAINERID=x "$CNI"); rc=$?
set -e
[ $rc = 1 ] && [ "$(jq .code <<<"$out")" = 1 ] || fail "bad version: rc=$rc $out"

cat >"$TMP/pod.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: c, command: ["sleep", "infinity"]}]
YAML
"$SLUICE" lab up "$TMP/pod.yaml" --name "$LAB" >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "lab up"; }

# DEL of an unknown container, twice, with the agent up: success, nothing printed as error.
conf="{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"sluice-cni\",\"bpffsRoot\":\"$BPFFS\",\"agentSocket\":\"$SLUICE_SOCKET\"}"
for i in 1 2; do
	echo "$conf" | CNI_COMMAND=DEL CNI_CONTAINERID=gone CNI_NETNS=/gone CNI_IFNAME=eth0 "$CNI" >/dev/null ||
		fail "DEL of a gone container failed (try $i)"
done

# CHECK on the real pod passes, then fails with code 103 once its links are unpinned.
res=$("$SLUICE" lab info --name "$LAB" | jq -c '.pods[0].cniResult')
veth=$("$SLUICE" get pods -o json | jq -r '.items[0].status.hostIfname')
chk() {
	jq -c --argjson r "$res" '. + {prevResult: $r}' <<<"$conf" |
		nsenter --net="$(node_ns)" env CNI_COMMAND=CHECK CNI_CONTAINERID=c CNI_NETNS=/x CNI_IFNAME=eth0 "$CNI"
}
chk >/dev/null || fail "CHECK failed on a healthy pod"
rm -f "$BPFFS/links/$veth/sluice_tc_in"
set +e
out=$(chk); rc=$?
set -e
[ $rc = 1 ] && [ "$(jq .code <<<"$out")" = 103 ] || fail "CHECK after detach: rc=$rc $out"
exit 0
