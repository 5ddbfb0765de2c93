// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_sockops: sock_ops on the mesh's cgroup subtree (never the root cgroup). Counts
 * established connections; sockmap acceleration and RTT telemetry hook in here later.
 * Never fails a socket: every path returns 1.
 */
#include "common.h"
#include "maps.h"

SEC("sockops")
int sluice_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) { /* op: host byte order */
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		stat_add(SL_STAT_SOCK_ACTIVE_EST, 0);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		stat_add(SL_STAT_SOCK_PASSIVE_EST, 0);
		break;
	default:
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
