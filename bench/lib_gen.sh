# SPDX-License-Identifier: Apache-2.0
# Sourced by bench/run.sh: generators for the objects and rules the benchmarks load.
#   gen_services    a JSON List of selector-less Services and their EndpointSlices, for
#                   `sluice apply -f` (compact JSON: 10,000 Services with 100,000 endpoints
#                   must fit the 8 MiB a single apply takes)
#   gen_kube_proxy  an iptables-restore ruleset in the shape kube-proxy's iptables mode writes
# Both are awk, so 10,000 Services take well under a second.

# gen_services FIRST LAST EPS VIP_NET EP_OCTET
# Services dFIRST..dLAST (named d00001, d00002, ...), each with ClusterIP
# VIP_NET.<1 + i/256>.<i%256> (VIP_NET is the first two octets, e.g. 10.96) and port 8080, and
# one EndpointSlice dI-1 labelled kubernetes.io/service-name=dI with EPS endpoints at
# 10.EP_OCTET.0.0 and up (10.100.x.y, 10.101.x.y, ...), port 8080, with no conditions (unset
# ready means ready).
# The names are zero-padded, so every object sorts after those applied before it and the agent's
# sorted store only ever appends (an earlier store lost objects inserted in the middle; see
# bench/README.md). run.sh checks the agent's object and map counts after every apply anyway.
gen_services() {
	awk -v first="$1" -v last="$2" -v eps="$3" -v vipnet="$4" -v epnet="$5" 'BEGIN {
		printf "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
		for (i = first; i <= last; i++) {
			printf "%s{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"d%05d\",\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"%s.%d.%d\",\"ports\":[{\"port\":8080,\"protocol\":\"TCP\"}]}}", \
				(i > first ? "," : ""), i, vipnet, 1 + int(i / 256), i % 256
			printf ",{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"d%05d-1\",\"namespace\":\"default\",\"labels\":{\"kubernetes.io/service-name\":\"d%05d\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"\",\"port\":8080,\"protocol\":\"TCP\"}],\"endpoints\":[", i, i
			for (k = 0; k < eps; k++) {
				j = i * eps + k
				printf "%s{\"addresses\":[\"10.%d.%d.%d\"]}", (k ? "," : ""), \
					epnet + int(j / 65536), int(j / 256) % 256, j % 256
			}
			printf "]}"
		}
		print "]}"
	}'
}

# gen_kube_proxy N VIP_NET REAL_VIP REAL_EP CONN_PORT PP_PORT POD_CIDR [RR_PORT]
# An iptables-restore ruleset for N Services as kube-proxy (iptables mode) writes them:
#   nat PREROUTING/OUTPUT -> KUBE-SERVICES: one rule per service port (-d VIP -p tcp --dport)
#   jumping to KUBE-SVC-<hash>, which marks off-cluster sources for masquerade and picks an
#   endpoint with "-m statistic --mode random --probability 1/n" (the last one unconditionally)
#   as KUBE-SEP-<hash>, which marks hairpin traffic and DNATs; the KUBE-NODEPORTS jump last;
#   KUBE-POSTROUTING masquerades marked packets; filter FORWARD -> KUBE-FORWARD.
# N - 1 dummy Services (one port, one endpoint each, VIPs VIP_NET.<1 + i/256>.<i%256>) come
# first, the real one (REAL_VIP, ports CONN_PORT, PP_PORT and RR_PORT, DNAT to REAL_EP) last, so its
# connections walk the whole KUBE-SERVICES chain: the worst case, which a real cluster meets for
# the service whose rules happen to sort last. Chain names are kube-proxy's length (16 hash
# characters) and unique per service port.
gen_kube_proxy() {
	awk -v n="$1" -v vipnet="$2" -v rvip="$3" -v rep="$4" -v cport="$5" -v pport="$6" \
		-v cidr="$7" -v rport="${8:-}" '
	function hash(i, salt) {
		# two bijections of i mod 2^32: unique, and they look like kube-proxy hashes
		return sprintf("%08X%08X", (i * 2654435761 + salt) % 4294967296,
			       (i * 40503 + salt * 7919) % 4294967296)
	}
	# Prints one service port: its chain declarations (what == "decl"), its KUBE-SERVICES
	# rule ("svc") or its KUBE-SVC and KUBE-SEP rules ("rules"). Separate passes keep every
	# chain declared before a rule jumps to it, without building the ruleset in memory.
	function svc(what, idx, ns, name, port, vip, eplist, tport,    s, e, k, neps, epip, epa) {
		s = "KUBE-SVC-" hash(idx, 1)
		neps = split(eplist, epa, " ")
		if (what == "decl")
			print ":" s " - [0:0]"
		if (what == "svc")
			printf "-A KUBE-SERVICES -d %s/32 -p tcp -m comment --comment \"%s/%s:%s cluster IP\" -m tcp --dport %d -j %s\n", vip, ns, name, port, tport, s
		if (what == "rules")
			printf "-A %s ! -s %s -d %s/32 -p tcp -m comment --comment \"%s/%s:%s cluster IP\" -m tcp --dport %d -j KUBE-MARK-MASQ\n", s, cidr, vip, ns, name, port, tport
		for (k = 1; k <= neps; k++) {
			e = "KUBE-SEP-" hash(idx * 64 + k, 2)
			if (what == "decl")
				print ":" e " - [0:0]"
			if (what != "rules")
				continue
			if (k < neps)
				printf "-A %s -m comment --comment \"%s/%s:%s -> %s\" -m statistic --mode random --probability %.11f -j %s\n", s, ns, name, port, epa[k], 1 / (neps - k + 1), e
			else
				printf "-A %s -m comment --comment \"%s/%s:%s -> %s\" -j %s\n", s, ns, name, port, epa[k], e
			epip = epa[k]
			sub(/:.*/, "", epip)
			printf "-A %s -s %s/32 -m comment --comment \"%s/%s:%s\" -j KUBE-MARK-MASQ\n", e, epip, ns, name, port
			printf "-A %s -p tcp -m comment --comment \"%s/%s:%s\" -m tcp -j DNAT --to-destination %s\n", e, ns, name, port, epa[k]
		}
	}
	function all(what,    i) {
		for (i = 1; i < n; i++)
			svc(what, i, "default", "d" i, "http", \
			    sprintf("%s.%d.%d", vipnet, 1 + int(i / 256), i % 256), \
			    sprintf("10.%d.%d.%d:8080", 100 + int(i / 65536), int(i / 256) % 256, i % 256), 8080)
		svc(what, n, "default", "bench", "conn", rvip, rep ":" cport, cport)
		svc(what, n + 1, "default", "bench", "pp", rvip, rep ":" pport, pport)
		if (rport != "")
			svc(what, n + 2, "default", "bench", "rr", rvip, rep ":" rport, rport)
	}
	BEGIN {
		print "*nat"
		print ":PREROUTING ACCEPT [0:0]"
		print ":INPUT ACCEPT [0:0]"
		print ":OUTPUT ACCEPT [0:0]"
		print ":POSTROUTING ACCEPT [0:0]"
		print ":KUBE-SERVICES - [0:0]"
		print ":KUBE-NODEPORTS - [0:0]"
		print ":KUBE-POSTROUTING - [0:0]"
		print ":KUBE-MARK-MASQ - [0:0]"
		all("decl")
		print "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
		print "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
		print "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
		print "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
		print "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000"
		print "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
		print "-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000"
		all("svc")
		print "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
		all("rules")
		print "COMMIT"
		print "*filter"
		print ":INPUT ACCEPT [0:0]"
		print ":FORWARD ACCEPT [0:0]"
		print ":OUTPUT ACCEPT [0:0]"
		print ":KUBE-FORWARD - [0:0]"
		print "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"
		print "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"
		print "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT"
		print "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
		print "COMMIT"
	}'
}

# gen_netpol N CONN_PORT: a NetworkPolicy isolating app=srv with N ingress rules from
# app=client pods, each for one port: N - 1 ports 20000.. that no traffic uses, then CONN_PORT,
# so the measured connections match the last rule (JSON for `sluice apply -f`).
gen_netpol() {
	awk -v n="$1" -v cport="$2" 'BEGIN {
		printf "{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"NetworkPolicy\",\"metadata\":{\"name\":\"bench-rules\",\"namespace\":\"default\"},\"spec\":{\"podSelector\":{\"matchLabels\":{\"app\":\"srv\"}},\"ingress\":["
		for (i = 0; i < n; i++)
			printf "%s{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"client\"}}}],\"ports\":[{\"protocol\":\"TCP\",\"port\":%d}]}", \
				(i ? "," : ""), (i == n - 1 ? cport : 20000 + i)
		print "]}}"
	}'
}

# gen_filter_rules N CLIENT CONN_PORT: the same N rules as iptables filter INPUT rules for an
# iptables-restore in the server pod's namespace: N - 1 ACCEPTs for other ports, the real one
# last, then a DROP for the port. No conntrack rule comes first, as in a policy that judges
# every packet: each packet of a measured connection walks all N rules.
gen_filter_rules() {
	awk -v n="$1" -v client="$2" -v cport="$3" 'BEGIN {
		print "*filter"
		print ":INPUT ACCEPT [0:0]"
		for (i = 0; i < n; i++)
			printf "-A INPUT -s %s/32 -p tcp -m tcp --dport %d -j ACCEPT\n", client, \
				(i == n - 1 ? cport : 20000 + i)
		printf "-A INPUT -p tcp -m tcp --dport %d -j DROP\n", cport
		print "COMMIT"
	}'
}

# gen_pods N: N Pods of other nodes (status.podIP 10.246.x.y), labelled app=g<i % 20>, as a
# JSON List: identities and addresses for the policy compiler to work through.
gen_pods() {
	awk -v n="$1" 'BEGIN {
		printf "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":["
		for (i = 0; i < n; i++)
			printf "%s{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"far-%05d\",\"namespace\":\"default\",\"labels\":{\"app\":\"g%d\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]},\"status\":{\"podIP\":\"10.246.%d.%d\",\"podIPs\":[{\"ip\":\"10.246.%d.%d\"}]}}", \
				(i ? "," : ""), i, i % 20, int(i / 256), i % 256, int(i / 256), i % 256
		print "]}"
	}'
}
