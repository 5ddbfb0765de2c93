// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_sockops: sock_ops on the mesh's cgroup subtree (never the root cgroup). Counts
 * established connections, puts each server socket accepted on a (pod address, port) with
 * HTTP rules into sluice_l7_socks, whose stream parser and verdict (l7_http.bpf.c) judge its
 * requests, and, with L4 telemetry on, aggregates connections per flow (l4tel.h). Sockmap
 * acceleration hooks in here later. Never fails a socket: every path returns 1.
 */
#include "common.h"
#include "maps.h"
#include "l4tel.h"
#include "l7.h"

static __always_inline void l7_add(struct bpf_sock_ops *skops)
{
	struct sl_l7_port_key k;
	__u64 cookie;

	L7_PORT_KEY(&k, skops);
	if (!bpf_map_lookup_elem(&sluice_l7_port, &k))
		return;
	cookie = bpf_get_socket_cookie(skops);
	if (bpf_sock_hash_update(skops, &sluice_l7_socks, &cookie, BPF_NOEXIST)) {
		/* a connection HTTPPolicy cannot judge is not let through: the agent resets it */
		struct sl_l7_kill kv = { .family = k.family };

		__builtin_memcpy(kv.addr, k.addr, sizeof(kv.addr));
		bpf_map_update_elem(&sluice_l7_kill, &cookie, &kv, BPF_ANY);
		stat_add(SL_STAT_L7_SOCK_FULL, 0);
	} else {
		stat_add(SL_STAT_L7_SOCK, 0);
	}
}

SEC("sockops")
int sluice_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) { /* op: host byte order */
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		if (l4_on())
			l4_watch(skops, SL_L4_CLIENT);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		stat_add(SL_STAT_SOCK_ACTIVE_EST, 0);
		if (l4_on())
			l4_opened(skops, SL_L4_CLIENT);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		stat_add(SL_STAT_SOCK_PASSIVE_EST, 0);
		l7_add(skops);
		if (l4_on()) {
			l4_watch(skops, SL_L4_SERVER);
			l4_opened(skops, SL_L4_SERVER);
		}
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* args[0]: the old state, args[1]: the new one (host byte order) */
		if (l4_on() && skops->args[1] == BPF_TCP_CLOSE)
			l4_closed(skops, skops->args[0]);
		break;
	default:
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
