#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make demo: bring examples/demo.yaml up in the lab, send traffic, show what the datapath saw,
# tear down (also on Ctrl-C or failure).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-build}
case "$O" in /*) ;; *) O="$TOP/$O" ;; esac
S="$O/sluice"
LAB=demo
export SLUICE_SOCKET=/run/sluice/lab/$LAB/agent.sock

[ "$(id -u)" -eq 0 ] || { echo "make demo needs root (namespaces, cgroups, bpffs)" >&2; exit 1; }
trap '"$S" lab down --name $LAB >/dev/null 2>&1 || true' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "sluice lab up examples/demo.yaml"
"$S" lab up "$TOP/examples/demo.yaml" --name $LAB --metrics-address 127.0.0.1:9464

step "sluice get pods -o wide"
"$S" get pods -o wide
step "sluice get services / endpoints / policies"
"$S" get services
"$S" get endpoints
"$S" get policies

step "traffic: client -> each web pod, 10 requests each"
for w in web-0 web-1 web-2; do
	ip=$("$S" get pods -o json | jq -r --arg n $w '.items[] | select(.metadata.name==$n) | .status.podIP')
	for _ in $(seq 1 50); do
		"$S" lab exec --name $LAB client -- curl -sf -m 1 -o /dev/null "http://$ip:8080/" && break
		sleep 0.1
	done
	for _ in $(seq 1 10); do
		"$S" lab exec --name $LAB client -- curl -s -m 2 "http://$ip:8080/"
	done | sort | uniq -c
done

step "what the datapath saw (from /metrics on 127.0.0.1:9464)"
curl -s http://127.0.0.1:9464/metrics |
	grep -E '^sluice_(endpoint_packets_total|datapath_packets_total|program_links)' |
	grep -v ' 0$'

step "sluice status"
"$S" status

step "sluice lab down"
"$S" lab down --name $LAB
trap - EXIT
