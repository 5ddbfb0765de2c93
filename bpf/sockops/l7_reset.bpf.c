// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice_l7_reset: a TCP socket iterator that destroys the connections sluice_l7_kill names
 * (a denied request head too short to be rewritten into a reply, l7_http.bpf.c). The socket is
 * aborted as by SOCK_DESTROY: the peer gets a RST, the server process ECONNABORTED. The agent
 * creates the iterator in the network namespace of the pod that owns the connection (an
 * iterator walks the sockets of the namespace it was created in) and reads it to the end.
 * A separate object because iterators are tracing programs, which a kernel may refuse while
 * it runs everything else.
 */
#include "common.h"
#include "maps.h"

/* The kernel's prototype takes struct sock_common *; libbpf 1.1 matches this one to it. */
extern int bpf_sock_destroy(struct sock *sk) __ksym;

SEC("iter/tcp")
int sluice_l7_reset(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	__u64 cookie;

	if (!skc)
		return 0;
	cookie = bpf_get_socket_cookie(skc);
	if (!bpf_map_lookup_elem(&sluice_l7_kill, &cookie))
		return 0;
	if (!bpf_sock_destroy((struct sock *)skc))
		stat_add(SL_STAT_L7_RESET, 0);
	bpf_map_delete_elem(&sluice_l7_kill, &cookie);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
