// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_l4_flush: a TCP socket iterator that adds to sluice_l4_flow what each live mesh
 * connection (one with sluice_l4_sk storage, l4tel.h) moved since the last flush: bytes,
 * segments, retransmissions. The agent creates it in each pod's network namespace (an
 * iterator walks the sockets of the namespace it was created in) every second, so long-lived
 * connections' counters move while they live, not only when they close. A separate object,
 * like sluice_l7_reset: a kernel that refuses tracing programs still runs the rest.
 */
#include "common.h"
#include "maps.h"
#include "l4tel.h"

SEC("iter/tcp")
int sluice_l4_flush(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	struct sl_l4_sk *s;

	if (!skc || !l4_on())
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	s = bpf_sk_storage_get(&sluice_l4_sk, tp, NULL, 0);
	if (s)
		l4_flush(tp, s);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
