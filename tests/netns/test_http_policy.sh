#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# http_policy__curl_against_nginx_allowed_denied_keepalive_pipelined_observed
# HTTPPolicy (sluice.dev/v1alpha1) in lab pods with a real server and client: nginx serves
# pods web (selected by the policy, on its named port) and open (not selected); curl in the
# client pod sends requests allowed and denied by method, path (exact and segment prefix) and
# Host, over IPv4 and IPv6, on new connections and on one keep-alive connection mixing them,
# plus pipelined and split requests from socat. What nginx's access log holds is what reached
# the server: every allowed request once, no denied one. Denied requests get a 403 of Sluice's
# on the same connection, and one too short for it a reset; `sluice observe` shows each verdict
# with method, path and policy; /metrics counts them; the CRD's schema and the agent refuse the
# same invalid objects; deleting the policy lifts it.
. "$(dirname "$0")/lib.sh"
[ -n "${SL_TRACE:-}" ] && set -x

command -v nginx >/dev/null || skip "nginx missing"
for p in web open; do
	cat >"$TMP/nginx-$p.conf" <<EOF
daemon off;
worker_processes 1;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 256; }
http {
	log_format req '\$request_method \$request_uri \$host';
	access_log $TMP/access-$p.log req;
	client_body_temp_path body;
	proxy_temp_path proxy;
	fastcgi_temp_path fastcgi;
	uwsgi_temp_path uwsgi;
	scgi_temp_path scgi;
	keepalive_requests 1000;
	server {
		listen 8080;
		listen [::]:8080;
		location / {
			default_type text/plain;
			return 200 "$p \$request_method \$uri\n";
		}
	}
}
EOF
	: >"$TMP/access-$p.log"
done
cat >"$TMP/lab.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  containers:
  - name: nginx
    command: ["sh", "-c", "exec nginx -e stderr -p \"\$TMPDIR/\" -c $TMP/nginx-web.conf"]
    ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: open, namespace: default, labels: {app: open}}
spec:
  containers:
  - name: nginx
    command: ["sh", "-c", "exec nginx -e stderr -p \"\$TMPDIR/\" -c $TMP/nginx-open.conf"]
    ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec:
  containers:
  - {name: sleep, command: ["sleep", "infinity"]}
EOF
"$SLUICE" lab up "$TMP/lab.yaml" --name "$LAB" --metrics-address 127.0.0.1:9464 >"$TMP/up.log" 2>&1 || { cat "$TMP/up.log"; fail "lab up"; }
WEB=$(pod_ip web) OPEN=$(pod_ip open)
WEB6=$("$SLUICE" get pods -o json | jq -r '.items[] | select(.metadata.name=="web") | .status.podIPs[]?.ip | select(contains(":"))')
[ -n "$WEB6" ] || fail "pod web has no IPv6 address"
for ip in "$WEB" "$OPEN"; do
	wait_for 10 in_pod client curl -sf -m 1 "http://$ip:8080/ready" || fail "nginx at $ip not answering"
done
jq -e '.http_policy.enforced == true' <<<"$(curl -sf --unix-socket "$SLUICE_SOCKET" http://x/v1/status)" >/dev/null ||
	fail "HTTPPolicy not enforced: $(curl -sf --unix-socket "$SLUICE_SOCKET" http://x/v1/status | jq -c .http_policy)"

counter() {
	curl -sf -m 2 http://127.0.0.1:9464/metrics |
		awk -v c="$1" '$1 == "sluice_datapath_packets_total{counter=\"" c "\"}" { print $2 }'
}
# code METHOD URL [curl args...]: the status curl gets, on a new connection
code() {
	local m=$1 u=$2 how; shift 2
	if [ "$m" = HEAD ]; then how=(-I); else how=(-X "$m"); fi # -X HEAD waits for a body
	in_pod client curl -s -o /dev/null -m 3 -w '%{http_code}' "${how[@]}" "$@" "$u"
}
access() { grep -c -F -x "$1" "$TMP/access-$2.log" || true; }

[ "$(code GET "http://$WEB:8080/admin")" = 200 ] || fail "before any policy: GET /admin not 200"
: >"$TMP/access-web.log"

cat >"$TMP/pol.yaml" <<'EOF'
apiVersion: sluice.dev/v1alpha1
kind: HTTPPolicy
metadata: {name: web-api, namespace: default}
spec:
  podSelector: {matchLabels: {app: web}}
  ports: [{port: http}]
  rules:
  - methods: [GET, HEAD]
    path: {prefix: /public}
  - methods: [POST]
    path: {exact: /api}
  - host: admin.local
EOF
"$SLUICE" apply -f "$TMP/pol.yaml" >"$TMP/apply.log" 2>&1 || { cat "$TMP/apply.log"; fail "apply the HTTPPolicy"; }
"$SLUICE" get httppolicies >"$TMP/get.txt" || fail "sluice get httppolicies"
grep -q "^web-api .*app=web .*http .*3" "$TMP/get.txt" || fail "get httppolicies: $(cat "$TMP/get.txt")"

# --- one request per connection: method, path, host ----------------------------------------
declare -a CASES=(
	"200 GET /public/index.html"
	"200 HEAD /public"
	"403 GET /publicity"
	"403 GET /admin"
	"403 DELETE /public/x"
	"403 GET /public/../admin --path-as-is"
	"403 GET /public/%2e%2e/admin --path-as-is"
	"200 POST /api -d payload=1"
	"403 POST /api/x -d payload=1"
	"403 GET /api"
	"200 GET /anything -H Host:admin.local"
	"200 PUT /x -H Host:ADMIN.local:8080"
	"403 GET /anything -H Host:admin.local.example"
)
for c in "${CASES[@]}"; do
	read -r want m path extra <<<"$c"
	# shellcheck disable=SC2086
	got=$(code "$m" "http://$WEB:8080$path" $extra)
	[ "$got" = "$want" ] || fail "$m $path $extra: got $got, want $want"
done
# the server saw exactly the allowed ones
[ "$(access "GET /public/index.html $WEB" web)" = 1 ] || fail "nginx did not log GET /public/index.html once"
[ "$(access "POST /api $WEB" web)" = 1 ] || fail "nginx did not log POST /api once"
[ "$(access "GET /anything admin.local" web)" = 1 ] || fail "nginx did not log the admin.local request once"
n=$(wc -l <"$TMP/access-web.log")
[ "$n" = 5 ] || fail "nginx logged $n requests, want the 5 allowed: $(cat "$TMP/access-web.log")"
# IPv6: the same rules on the pod's other address
[ "$(code GET "http://[$WEB6]:8080/public/v6" -g)" = 200 ] || fail "IPv6: GET /public/v6 not 200"
[ "$(code GET "http://[$WEB6]:8080/admin" -g)" = 403 ] || fail "IPv6: GET /admin not 403"
[ "$(access "GET /public/v6 [$WEB6]" web)" = 1 ] || fail "nginx did not log the IPv6 request once: $(cat "$TMP/access-web.log")"
# a pod the policy does not select is not judged
[ "$(code GET "http://$OPEN:8080/admin")" = 200 ] || fail "pod open: GET /admin not 200"

# --- keep-alive: allowed and denied requests on one connection --------------------------------
: >"$TMP/access-web.log"
ka=()
for u in /public/1 /admin /public/2 /secret /public/3; do ka+=(-o /dev/null "http://$WEB:8080$u"); done
in_pod client curl -s -m 5 -w '%{http_code} %{num_connects}\n' "${ka[@]}" >"$TMP/ka.txt" ||
	fail "keep-alive curl"
printf '200 1\n403 0\n200 0\n403 0\n200 0\n' | diff - "$TMP/ka.txt" >/dev/null ||
	fail "keep-alive: want 200 403 200 403 200 on one connection, got $(tr '\n' ' ' <"$TMP/ka.txt")"
printf 'GET /public/1 %s\nGET /public/2 %s\nGET /public/3 %s\n' "$WEB" "$WEB" "$WEB" |
	diff - "$TMP/access-web.log" >/dev/null || fail "keep-alive: nginx logged $(cat "$TMP/access-web.log")"

# --- pipelined in one write, and one request split over segments -------------------------------
: >"$TMP/access-web.log"
req() { printf '%s %s HTTP/1.1\r\nHost: web\r\nUser-Agent: sluice-test\r\nAccept: */*\r\n\r\n' "$1" "$2"; }
{ req GET /public/p1; req GET /private; req GET /public/p2; req GET /public/p3; sleep 1; } |
	in_pod client socat -t 2 - "TCP:$WEB:8080" >"$TMP/pipe.out" 2>/dev/null || true
[ "$(grep -c '^HTTP/1.1 200' "$TMP/pipe.out")" = 3 ] && [ "$(grep -c '^HTTP/1.1 403' "$TMP/pipe.out")" = 1 ] ||
	fail "pipelined: want three 200 and one 403, got: $(grep '^HTTP' "$TMP/pipe.out" | tr '\r\n' '  ')"
{ printf 'GET /adm'; sleep 0.3; printf 'in HTTP/1.1\r\nHo'; sleep 0.3; printf 'st: web\r\nAccept: */*\r\nUser-Agent: x\r\n\r\n'; sleep 1; } |
	in_pod client socat -t 2 - "TCP:$WEB:8080" >"$TMP/split.out" 2>/dev/null || true
grep -q '^HTTP/1.1 403' "$TMP/split.out" || fail "split request: no 403: $(head -c 200 "$TMP/split.out")"
printf 'GET /public/p1 web\nGET /public/p2 web\nGET /public/p3 web\n' | diff - "$TMP/access-web.log" >/dev/null ||
	fail "pipelined/split: nginx logged $(cat "$TMP/access-web.log")"

# --- a denied head too short to be rewritten into a 403: the connection is reset ---------------
# curl without its default headers sends "GET /short HTTP/1.1\r\n\r\n", 23 bytes
rc=0
in_pod client curl -sS -o /dev/null -m 5 -H 'User-Agent:' -H 'Accept:' -H 'Host:' \
	"http://$WEB:8080/short" 2>"$TMP/short.err" || rc=$?
[ "$rc" = 56 ] && grep -q "reset by peer" "$TMP/short.err" ||
	fail "short denied head: want curl's reset (exit 56), got exit $rc: $(cat "$TMP/short.err")"
[ "$(counter http_policy_reset)" = 1 ] || fail "http_policy_reset: $(counter http_policy_reset)"

# --- observe and counters ----------------------------------------------------------------------
sleep 0.3 # the agent drains the event ring every 100 ms
"$SLUICE" observe --no-follow --type http -o json >"$TMP/obs.json" || fail "observe"
jq -e -s --arg web "$WEB" 'map(select(.verdict == "denied" and .http.method == "GET" and
	.http.path == "/admin" and .http.status == 403 and .reason == "no_rule" and
	.destination.pod == "web" and .source.pod == "client" and .destination.port == 8080)) | length >= 2' \
	"$TMP/obs.json" >/dev/null || fail "observe: no denied GET /admin event: $(head -c 600 "$TMP/obs.json")"
jq -e -s 'map(select(.verdict == "allowed" and .http.method == "POST" and .http.path == "/api" and
	.policy == "default/web-api")) | length == 1' "$TMP/obs.json" >/dev/null ||
	fail "observe: no allowed POST /api event naming the policy"
jq -e -s 'map(select(.reason == "ambiguous_path")) | length == 2' "$TMP/obs.json" >/dev/null ||
	fail "observe: want two ambiguous_path denials"
"$SLUICE" observe --no-follow --type http --verdict denied >"$TMP/obs.txt" || fail "observe lines"
grep -Eq "default/client:[0-9]+ -> default/web:8080  HTTP  denied  no_rule  ingress  DELETE /public/x host=$WEB -> 403" "$TMP/obs.txt" ||
	fail "observe line format: $(head -n 3 "$TMP/obs.txt")"
! grep -q "  allowed  " "$TMP/obs.txt" || fail "observe --verdict denied printed an allowed request"
# 5 single requests, 1 over IPv6, 3 on the keep-alive connection, 3 pipelined; denied: 6, 1
# over IPv6, 2, 1, the split one and the short one
[ "$(counter http_policy_allowed)" = 12 ] || fail "http_policy_allowed: $(counter http_policy_allowed)"
[ "$(counter http_policy_denied_no_rule)" = 12 ] || fail "http_policy_denied_no_rule: $(counter http_policy_denied_no_rule)"
[ "$(counter http_policy_denied_ambiguous_path)" = 2 ] || fail "http_policy_denied_ambiguous_path: $(counter http_policy_denied_ambiguous_path)"

# --- an invalid policy is refused whole; deleting the policy lifts it -------------------------
cat >"$TMP/bad.yaml" <<'EOF'
apiVersion: sluice.dev/v1alpha1
kind: HTTPPolicy
metadata: {name: bad, namespace: default}
spec:
  podSelector: {}
  ports: [{port: 8080}]
  rules: [{path: {prefix: /a/../b}}]
EOF
if "$SLUICE" apply -f "$TMP/bad.yaml" >"$TMP/bad.log" 2>&1; then fail "a dot-segment rule path was accepted"; fi
grep -q 'HTTPPolicy default/bad: spec.rules\[0\].path.prefix: can never match' "$TMP/bad.log" ||
	fail "bad policy error: $(cat "$TMP/bad.log")"
"$SLUICE" delete -f "$TMP/pol.yaml" >/dev/null || fail "delete the HTTPPolicy"
[ "$(code GET "http://$WEB:8080/admin")" = 200 ] || fail "after delete: GET /admin not 200"

# --- the CRD's schema and the agent agree: examples accepted, each invalid object refused ------
CRDV="$TOP/tests/tools/crd_validate.py"
python3 -c 'import jsonschema, yaml' 2>/dev/null || fail "python3-jsonschema and python3-yaml missing (make deps)"
python3 "$CRDV" "$TOP/deploy/crds/httppolicy.yaml" "$TOP/examples/httppolicy.yaml" >"$TMP/crd.log" ||
	fail "examples/httppolicy.yaml against the CRD: $(cat "$TMP/crd.log")"
"$SLUICE" apply -f "$TOP/examples/httppolicy.yaml" >/dev/null || fail "sluice apply examples/httppolicy.yaml"
"$SLUICE" delete -f "$TOP/examples/httppolicy.yaml" >/dev/null || fail "delete the examples"
bad_spec() {
	printf 'apiVersion: sluice.dev/v1alpha1\nkind: HTTPPolicy\nmetadata: {name: bad, namespace: default}\nspec: %s\n' "$1" >"$TMP/b.yaml"
	if python3 "$CRDV" "$TOP/deploy/crds/httppolicy.yaml" "$TMP/b.yaml" >/dev/null; then
		fail "the CRD schema accepts spec $1"
	fi
	if "$SLUICE" apply -f "$TMP/b.yaml" >"$TMP/b.log" 2>&1; then fail "the agent accepts spec $1"; fi
	grep -q "$2" "$TMP/b.log" || fail "spec $1: want \"$2\", got $(cat "$TMP/b.log")"
}
bad_spec '{podSelector: {}}' 'spec.ports: required'
bad_spec '{podSelector: {}, ports: [{port: 70000}]}' 'spec.ports\[0\].port: must be between 1 and 65535'
bad_spec '{podSelector: {}, ports: [{port: 80, protocol: UDP}]}' 'spec.ports\[0\].protocol: must be TCP'
bad_spec '{podSelector: {}, ports: [{port: 80}], rules: [{methods: [FETCH]}]}' 'spec.rules\[0\].methods\[0\]: must be one of'
bad_spec '{podSelector: {}, ports: [{port: 80}], rules: [{path: {exact: /a, prefix: /b}}]}' 'must have exactly one of exact, prefix'
bad_spec '{podSelector: {}, ports: [{port: 80}], rules: [{path: {exact: a}}]}' "must start with '/'"
bad_spec '{podSelector: {}, ports: [{port: 80}], rules: [{host: "a.com:80"}]}' 'spec.rules\[0\].host: must be a host name'
bad_spec '{podSelector: {}, ports: [{port: 80}], rules: [{upgrade: "yes"}]}' 'spec.rules\[0\].upgrade: must be a boolean'
echo "ok"
