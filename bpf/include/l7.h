/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What sock_ops and the HTTPPolicy programs share: the (local address, port) key of a socket. */
#ifndef SL_BPF_L7_H
#define SL_BPF_L7_H

#include "common.h"

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) becomes the IPv4 address, in place. */
static __always_inline void addr_unmap(__u32 *a, __u8 *family)
{
	if (*family == SL_AF_INET6 && !a[0] && !a[1] && a[2] == bpf_htonl(0xffff)) {
		*family = SL_AF_INET;
		a[0] = a[3];
		a[2] = a[3] = 0;
	}
}

/*
 * The sluice_l7_port key of the socket of ctx, a struct bpf_sock_ops * or a struct __sk_buff *:
 * both have family, local_ip4, local_ip6 and local_port (host byte order), which the verifier
 * lets a program read only field by field, hence a macro. A dual-stack socket's IPv4-mapped
 * address is keyed as IPv4, as the agent writes pod addresses.
 */
#define L7_PORT_KEY(k, ctx)                                                                      \
	do {                                                                                     \
		__builtin_memset((k), 0, sizeof(*(k)));                                          \
		(k)->port = bpf_htons((__u16)(ctx)->local_port);                                 \
		if ((ctx)->family == 2 /* AF_INET */) {                                          \
			(k)->family = SL_AF_INET;                                                \
			(k)->addr[0] = (ctx)->local_ip4;                                         \
		} else {                                                                         \
			(k)->family = SL_AF_INET6;                                               \
			(k)->addr[0] = (ctx)->local_ip6[0];                                      \
			(k)->addr[1] = (ctx)->local_ip6[1];                                      \
			(k)->addr[2] = (ctx)->local_ip6[2];                                      \
			(k)->addr[3] = (ctx)->local_ip6[3];                                      \
			addr_unmap((k)->addr, &(k)->family);                                     \
		}                                                                                \
	} while (0)

#endif
