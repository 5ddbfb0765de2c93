// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level Service load balancing on the mesh's cgroup subtree (never the root cgroup):
 *   sluice_conn4/6: connect() to a frontend is rewritten to a backend, once per connection.
 *   sluice_send4/6: unconnected UDP sendmsg() to a frontend, per datagram.
 *   sluice_recv4/6: UDP recvmsg() shows the frontend as the datagram's source.
 *   sluice_peer4/6: getpeername() shows the frontend, as the application connected to it.
 * Frontend with no backend: the call fails with ECONNREFUSED at once (SL_STAT_NO_BACKEND).
 * Anything else (not a frontend, not TCP/UDP): left alone. IPv4-mapped IPv6 addresses on
 * dual-stack sockets are balanced as IPv4. The reverse translation of a TCP connect() goes to a
 * slot of sluice_sk_slot, moved into sluice_sk_rev (LRU, keyed by socket cookie and backend)
 * by the first getpeername() that needs it; that of UDP goes to sluice_sk_rev at once (see
 * struct sl_sk_slot). All bpf_sock_addr address and port fields are in network byte order.
 */
#include "common.h"
#include "lb.h"
#include "maps.h"

#define ECONNREFUSED_ 111
#define V4MAPPED_BE   __bpf_constant_htonl(0xffff)

struct sa {
	__u32 addr[4];
	__u16 port;
	__u8 family;  /* of addr: SL_AF_INET also for v4-mapped IPv6 */
	__u8 mapped;  /* addr came from a v4-mapped IPv6 sockaddr */
};

static __always_inline void sa_read(struct bpf_sock_addr *ctx, bool v6, struct sa *s)
{
	__builtin_memset(s, 0, sizeof(*s));
	s->port = (__u16)ctx->user_port; /* network byte order in the low 16 bits */
	if (!v6) {
		s->family = SL_AF_INET;
		s->addr[0] = ctx->user_ip4;
		return;
	}
	s->addr[0] = ctx->user_ip6[0];
	s->addr[1] = ctx->user_ip6[1];
	s->addr[2] = ctx->user_ip6[2];
	s->addr[3] = ctx->user_ip6[3];
	s->family = SL_AF_INET6;
	if (s->addr[0] == 0 && s->addr[1] == 0 && s->addr[2] == V4MAPPED_BE) {
		s->addr[0] = s->addr[3];
		s->addr[3] = 0;
		s->addr[2] = 0;
		s->family = SL_AF_INET;
		s->mapped = 1;
	}
}

static __always_inline void sa_write(struct bpf_sock_addr *ctx, bool v6, const struct sa *s,
				     const __u32 *addr, __u16 port)
{
	ctx->user_port = (__u32)port;
	if (!v6) {
		ctx->user_ip4 = addr[0];
		return;
	}
	if (s->mapped) {
		ctx->user_ip6[3] = addr[0];
		return;
	}
	ctx->user_ip6[0] = addr[0];
	ctx->user_ip6[1] = addr[1];
	ctx->user_ip6[2] = addr[2];
	ctx->user_ip6[3] = addr[3];
}

/* connect/sendmsg: frontend -> backend. Returns the hook verdict (1 allow, 0 refuse). */
static __always_inline int sock_fwd(struct bpf_sock_addr *ctx, bool v6, bool conn)
{
	__u8 proto = ctx->protocol; /* host byte order */
	struct sl_aff_key ak = { .svc_id = 0 };
	struct sl_sk_rev_key rk = { .cookie = 0 };
	struct sl_sk_rev_val rv = { .svc_id = 0 };
	struct sl_backend_val *b;
	struct sl_svc_val *sv;
	struct sl_sk_slot *sl;
	struct sa s;
	__u64 now = 0;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 1;
	sa_read(ctx, v6, &s);
	sv = svc_lookup(s.addr, s.port, proto, s.family);
	if (!sv)
		return 1;
	if (sv->flags & SL_SVC_F_AFFINITY) { /* the clock and the netns only matter for affinity */
		now = sl_now();
		ak.netns_cookie = bpf_get_netns_cookie(ctx);
		ak.svc_id = sv->svc_id;
		ak.family = s.family;
	}
	b = backend_pick(sv, &ak, bpf_get_prandom_u32(), now);
	if (!b || b->family != s.family) {
		stat_add(SL_STAT_NO_BACKEND, 0);
		bpf_set_retval(-ECONNREFUSED_);
		return 0;
	}
	rk.cookie = bpf_get_socket_cookie(ctx);
	addr_copy(rv.addr, s.addr);
	rv.port = s.port;
	rv.family = s.family;
	rv.svc_id = sv->svc_id;
	sl = conn && proto == IPPROTO_TCP ? sk_slot(rk.cookie) : NULL;
	if (sl) {
		sl->cookie = rk.cookie;
		addr_copy(sl->be_addr, b->addr);
		sl->be_port = b->port;
		sl->be_family = b->family;
		sl->fe = rv;
	} else {
		addr_copy(rk.addr, b->addr);
		rk.port = b->port;
		rk.family = b->family;
		if (bpf_map_update_elem(&sluice_sk_rev, &rk, &rv, BPF_ANY) < 0)
			stat_add(SL_STAT_CT_FULL, 0);
	}
	sa_write(ctx, v6, &s, b->addr, b->port);
	stat_add(SL_STAT_SOCK_LB, 0);
	return 1;
}

/* getpeername/recvmsg: backend -> frontend for a socket the LB translated. */
static __always_inline int sock_rev(struct bpf_sock_addr *ctx, bool v6)
{
	struct sl_sk_rev_key rk = { .cookie = 0 };
	struct sl_sk_rev_val *rv, fe;
	struct sa s;

	sa_read(ctx, v6, &s);
	rk.cookie = bpf_get_socket_cookie(ctx);
	addr_copy(rk.addr, s.addr);
	rk.port = s.port;
	rk.family = s.family;
	rv = bpf_map_lookup_elem(&sluice_sk_rev, &rk);
	if (!rv && ctx->protocol == IPPROTO_TCP) {
		struct sl_sk_slot *sl = sk_slot(rk.cookie);

		if (!sl || sl->cookie != rk.cookie || sl->be_family != s.family ||
		    sl->be_port != s.port || !addr_eq(sl->be_addr, s.addr))
			return 1;
		/* from here on the LRU keeps it, as long as the socket uses it */
		fe = sl->fe;
		if (bpf_map_update_elem(&sluice_sk_rev, &rk, &fe, BPF_ANY) < 0)
			stat_add(SL_STAT_CT_FULL, 0);
		sl->cookie = 0;
		rv = &fe;
	}
	if (!rv)
		return 1;
	sa_write(ctx, v6, &s, rv->addr, rv->port);
	stat_add(SL_STAT_SOCK_REVNAT, 0);
	return 1;
}

SEC("cgroup/connect4")
int sluice_conn4(struct bpf_sock_addr *ctx)
{
	return sock_fwd(ctx, false, true);
}

SEC("cgroup/connect6")
int sluice_conn6(struct bpf_sock_addr *ctx)
{
	return sock_fwd(ctx, true, true);
}

SEC("cgroup/sendmsg4")
int sluice_send4(struct bpf_sock_addr *ctx)
{
	return sock_fwd(ctx, false, false);
}

SEC("cgroup/sendmsg6")
int sluice_send6(struct bpf_sock_addr *ctx)
{
	return sock_fwd(ctx, true, false);
}

SEC("cgroup/recvmsg4")
int sluice_recv4(struct bpf_sock_addr *ctx)
{
	return sock_rev(ctx, false);
}

SEC("cgroup/recvmsg6")
int sluice_recv6(struct bpf_sock_addr *ctx)
{
	return sock_rev(ctx, true);
}

SEC("cgroup/getpeername4")
int sluice_peer4(struct bpf_sock_addr *ctx)
{
	return sock_rev(ctx, false);
}

SEC("cgroup/getpeername6")
int sluice_peer6(struct bpf_sock_addr *ctx)
{
	return sock_rev(ctx, true);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
