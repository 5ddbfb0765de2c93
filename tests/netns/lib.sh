# SPDX-License-Identifier: Apache-2.0
# Sourced by every tests/netns/test_*.sh. Re-runs the script in fresh network and mount
# namespaces with a private bpffs, /run/netns and /run/sluice, gives the run a unique lab name,
# and removes what the test made from an EXIT trap even when a step fails.
# SLUICE_TEST_DEBUG=1 opens a shell inside the environment before teardown.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O="$TOP/$O" ;; esac
SLUICE="$O/sluice"
SKIP=77

skip() { echo "SKIP: $*" >&2; exit $SKIP; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { [ -n "${SLUICE_TEST_VERBOSE:-}" ] && echo "  .. $*" >&2 || true; }

if [ -z "${SL_IN_NS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || skip "netns tests need root"
	command -v unshare >/dev/null || skip "unshare (util-linux) missing"
	export SL_IN_NS=1
	exec unshare --mount --net --propagation private -- bash "$0" "$@"
fi

# Inside the private namespaces now.
ip link set lo up
mount -t bpf bpf /sys/fs/bpf
mkdir -p /run/netns /run/sluice
mount -t tmpfs -o mode=0755 tmpfs /run/netns
mount -t tmpfs -o mode=0755 tmpfs /run/sluice
mountpoint -q /sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true

LAB="t$(printf '%04x%04x' $$ $RANDOM | cut -c1-8)"
BPFFS="/sys/fs/bpf/sluice-$LAB"
export SLUICE_SOCKET="/run/sluice/lab/$LAB/agent.sock"
TMP=$(mktemp -d /tmp/sluice-test.XXXXXX)
CLEANUPS=()

on_cleanup() { CLEANUPS+=("$*"); }

sl_teardown() {
	local rc=$?
	set +e
	if [ -n "${SLUICE_TEST_DEBUG:-}" ]; then
		echo "SLUICE_TEST_DEBUG: lab $LAB, tmp $TMP; exit the shell to tear down" >&2
		bash -i </dev/tty >/dev/tty 2>&1 || true
	fi
	for ((i = ${#CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${CLEANUPS[$i]}" >/dev/null 2>&1; done
	if [ -d "/run/sluice/lab/$LAB" ]; then
		"$SLUICE" lab down --name "$LAB" >"$TMP/down.log" 2>&1 || { rc=${rc:-1}; cat "$TMP/down.log" >&2; }
	fi
	# belt and braces: the lab's cgroup subtree lives in the shared cgroup fs
	for cg in /sys/fs/cgroup/unified/sluice-lab-"$LAB" /sys/fs/cgroup/sluice-lab-"$LAB"; do
		[ -d "$cg" ] || continue
		[ -e "$cg/cgroup.kill" ] && echo 1 >"$cg/cgroup.kill"
		sleep 0.2
		find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf "$TMP"
	exit $rc
}
trap sl_teardown EXIT

# Runs a command in a lab pod (netns + cgroup), with a timeout.
in_pod() { local pod=$1; shift; timeout 20 "$SLUICE" lab exec --name "$LAB" "$pod" -- "$@"; }

node_ns() { echo "/run/netns/sl-$LAB-node"; }

pod_ip() {
	"$SLUICE" get pods -o json | jq -r --arg n "$1" '.items[] | select(.metadata.name==$n) | .status.podIP'
}

# Waits until a command succeeds (at most $1 seconds).
wait_for() {
	local t=$1 i; shift
	for ((i = 0; i < t * 10; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# Sum of a per-CPU counter field over CPUs, read from a pinned map with bpftool.
# map_sum MAP KEY_HEX_BYTES FIELD, e.g. map_sum sluice_stats "0 0 0 0" packets
map_sum() {
	bpftool -j map lookup pinned "$BPFFS/maps/$1" key hex $2 2>/dev/null |
		jq "[(.formatted // .).values[].value.$3] | add"
}

# metric_sum FILE METRIC [LABEL=VALUE | !LABEL]...: the sum of METRIC over the series in FILE
# (Prometheus text) that have every LABEL=VALUE and no !LABEL. A label matches only whole:
# peer_k8s_pod_name="x" is not k8s_pod_name="x".
metric_sum() {
	local file=$1 m=$2
	shift 2
	awk -v m="$m" -v conds="$*" '
		BEGIN { n = split(conds, c, " ") }
		{
			name = $1; sub(/\{.*/, "", name)
			if (name != m) next
			for (i = 1; i <= n; i++) {
				if (substr(c[i], 1, 1) == "!") {
					l = substr(c[i], 2) "=\""
					if (index($0, "{" l) || index($0, "," l)) next
				} else {
					split(c[i], kv, "=")
					l = kv[1] "=\"" kv[2] "\""
					if (!index($0, "{" l) && !index($0, "," l)) next
				}
			}
			s += $NF
		}
		END { printf "%.15g\n", s + 0 }' "$file"
}

# nginx_conf HTTP_DIRECTIVES SERVER_DIRECTIVES: an nginx.conf for a lab pod on stdout (one
# worker, no daemon, temp paths under the pod's $TMPDIR prefix, listening on 8080).
nginx_conf() {
	cat <<NGINX
daemon off;
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
	client_body_temp_path body;
	proxy_temp_path proxy;
	fastcgi_temp_path fastcgi;
	uwsgi_temp_path uwsgi;
	scgi_temp_path scgi;
	default_type text/plain;
	$1
	server {
		listen 8080;
		$2
	}
}
NGINX
}

# prom_start: a real Prometheus server scraping the lab agent's /metrics (127.0.0.1:9464)
# every second, on 127.0.0.1:9090 of this test's namespace; stopped at exit.
prom_start() {
	printf 'global: {scrape_interval: 1s}\nscrape_configs:\n- job_name: sluice\n  static_configs: [{targets: ["127.0.0.1:9464"]}]\n' \
		>"$TMP/prom.yml"
	prometheus --config.file="$TMP/prom.yml" --storage.tsdb.path="$TMP/prom" \
		--web.listen-address=127.0.0.1:9090 >"$TMP/prom.log" 2>&1 &
	on_cleanup "kill $! 2>/dev/null; wait $! 2>/dev/null"
}

# prom_query QUERY: the first result's value of a PromQL instant query, or nothing.
prom_query() {
	curl -sf -m 2 --data-urlencode "query=$1" http://127.0.0.1:9090/api/v1/query |
		jq -r '.data.result[0].value[1] // empty'
}

# prom_wait QUERY VALUE SECONDS: waits until the query answers VALUE; fails saying what it said.
prom_wait() {
	local i
	for ((i = 0; i < $3 * 2; i++)); do
		[ "$(prom_query "$1")" = "$2" ] && return 0
		sleep 0.5
	done
	fail "Prometheus: $1 = \"$(prom_query "$1")\", want $2 ($(tail -n3 "$TMP/prom.log"))"
}
