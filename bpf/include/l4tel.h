/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * L4 telemetry from sock_ops: the TCP connections of mesh pods, aggregated in the kernel per
 * flow (struct sl_l4_key) in the per-CPU hash sluice_l4_flow; nothing per packet.
 *   - established (active or passive): opened; the socket gets its sluice_l4_sk storage;
 *   - while it lives, the agent's flush iterator (sluice_l4_flush, over sluice_l4_sk) adds what
 *     its tcp_sock counted since the last flush: bytes acked and received, segments each way,
 *     retransmissions;
 *   - state CLOSE: how it ended (closed, reset; refused or failed for a connect() that never
 *     established), the rest of those totals, and its smoothed RTT into the histogram.
 * sock_ops reports state changes only to sockets that ask: TCP_CONNECT_CB and
 * PASSIVE_ESTABLISHED_CB set BPF_SOCK_OPS_STATE_CB_FLAG. A client socket also gets
 * BPF_SOCK_OPS_RTO_CB_FLAG, which marks its role for the close (a struct sock does not say
 * which side opened it); its callback, an RTO, does nothing here.
 */
#ifndef SL_BPF_L4TEL_H
#define SL_BPF_L4TEL_H

#include <bpf/bpf_core_read.h>

#include "common.h"
#include "l7.h"
#include "lb.h"
#include "maps.h"

#define L4_ECONNRESET	104
#define L4_EPIPE	32
#define L4_ECONNREFUSED 111

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sl_l4_sk);
	__uint(pinning, LIBBPF_PIN_BY_NAME); /* an agent restart keeps what was flushed */
} sluice_l4_sk SEC(".maps");

/* A connection's totals from its tcp_sock, payload only (l4_payload_*). */
struct l4_tot {
	__u64 tx, rx, segs_tx, segs_rx, retrans;
};

static __always_inline bool l4_on(void)
{
	return sl_cfg.flags & SL_CFG_F_L4_TELEMETRY;
}

/* The flow key of the socket of skops. */
static __always_inline void l4_key(struct bpf_sock_ops *skops, struct sl_l4_key *k, __u8 role)
{
	struct sl_sk_rev_key rk = { .cookie = 0 };
	struct sl_sk_rev_val *fe = NULL;
	struct sl_sk_slot *sl;
	__u8 pf = SL_AF_INET6;
	__u64 cookie;

	__builtin_memset(k, 0, sizeof(*k));
	k->proto = IPPROTO_TCP;
	k->role = role;
	if (skops->family == 2 /* AF_INET, host byte order */) {
		k->family = SL_AF_INET;
		k->local[0] = skops->local_ip4;	  /* network byte order */
		k->peer[0] = skops->remote_ip4;	  /* network byte order */
	} else {
		k->family = SL_AF_INET6;
		k->local[0] = skops->local_ip6[0]; /* network byte order */
		k->local[1] = skops->local_ip6[1];
		k->local[2] = skops->local_ip6[2];
		k->local[3] = skops->local_ip6[3];
		k->peer[0] = skops->remote_ip6[0];
		k->peer[1] = skops->remote_ip6[1];
		k->peer[2] = skops->remote_ip6[2];
		k->peer[3] = skops->remote_ip6[3];
		addr_unmap(k->local, &k->family);
		addr_unmap(k->peer, &pf);
	}
	/* local_port: host byte order; remote_port: network byte order in the high 16 bits */
	k->port = role == SL_L4_SERVER ? (__u16)skops->local_port
				       : (__u16)bpf_ntohl(skops->remote_port);
	if (role != SL_L4_CLIENT)
		return;
	/* the frontend the socket LB translated this connect() from, if it did */
	cookie = bpf_get_socket_cookie(skops);
	sl = sk_slot(cookie);
	if (sl && sl->cookie == cookie) {
		fe = &sl->fe;
	} else {
		rk.cookie = cookie;
		addr_copy(rk.addr, k->peer);
		rk.port = bpf_htons(k->port);
		rk.family = k->family;
		fe = bpf_map_lookup_elem(&sluice_sk_rev, &rk);
	}
	if (fe && fe->family == k->family) {
		addr_copy(k->svc, fe->addr);
		k->svc_port = bpf_ntohs(fe->port);
	}
}

/* The flow's per-CPU counters, created on its first connection; NULL (counted) when full. */
static __always_inline struct sl_l4_val *l4_flow(const struct sl_l4_key *k)
{
	struct sl_l4_val *v = bpf_map_lookup_elem(&sluice_l4_flow, k), zero;

	if (v)
		return v;
	__builtin_memset(&zero, 0, sizeof(zero));
	/* EEXIST: another CPU created it meanwhile; the lookup below finds it */
	bpf_map_update_elem(&sluice_l4_flow, k, &zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(&sluice_l4_flow, k);
	if (!v)
		stat_add(SL_STAT_L4_FLOW_FULL, 0);
	return v;
}

static __always_inline __u32 l4_rtt_bucket(__u32 us)
{
	static const __u32 bounds[SL_RTT_BUCKETS - 1] = { SL_RTT_BOUNDS_US };
	__u32 i;

	for (i = 0; i < SL_RTT_BUCKETS - 1; i++)
		if (us <= bounds[i])
			return i;
	return SL_RTT_BUCKETS - 1;
}

/* sock_ops (TCP_CONNECT_CB, PASSIVE_ESTABLISHED_CB): ask for the state changes of skops. */
static __always_inline void l4_watch(struct bpf_sock_ops *skops, __u8 role)
{
	__u32 f = skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG;

	if (role == SL_L4_CLIENT)
		f |= BPF_SOCK_OPS_RTO_CB_FLAG;
	bpf_sock_ops_cb_flags_set(skops, (int)f);
}

static __always_inline void l4_opened(struct bpf_sock_ops *skops, __u8 role)
{
	struct bpf_sock *bsk = skops->sk;
	struct sl_l4_sk *s;
	struct sl_l4_key k;
	struct sl_l4_val *v;

	l4_key(skops, &k, role);
	v = l4_flow(&k);
	if (v)
		v->opened++;
	if (!bsk)
		return;
	s = bpf_sk_storage_get(&sluice_l4_sk, bsk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return; /* no memory: its totals are added at close, all at once */
	__builtin_memset(s, 0, sizeof(*s));
	s->key = k;
}

/*
 * Payload bytes from tcp_sock's RFC 4898 counters, which count sequence space: bytes_acked
 * includes an active opener's SYN and our FIN once acked (a passive opener's SYN-ACK is not
 * counted: its snd_una is set, not advanced), bytes_received includes the peer's FIN.
 */
static __always_inline __u64 l4_payload_acked(__u64 n, struct tcp_sock *tp, __u8 role,
					      __u32 old_state)
{
	__u64 seq = 0;

	if (role == SL_L4_CLIENT)
		seq++;
	/* our FIN was queued in these states; acked when nothing is outstanding */
	if (tp && (old_state == BPF_TCP_FIN_WAIT1 || old_state == BPF_TCP_FIN_WAIT2 ||
		   old_state == BPF_TCP_CLOSING || old_state == BPF_TCP_LAST_ACK) &&
	    tp->snd_una == tp->write_seq)
		seq++;
	return n > seq ? n - seq : 0;
}

static __always_inline __u64 l4_payload_received(__u64 n, struct tcp_sock *tp)
{
	/* SOCK_DONE: tcp_fin() saw the peer's FIN */
	if (tp && n && (tp->inet_conn.icsk_inet.sk.__sk_common.skc_flags &
			(1ul << bpf_core_enum_value(enum sock_flags, SOCK_DONE))))
		n--;
	return n;
}

/* Adds to v what the connection moved since s was last brought up to t. */
static __always_inline void l4_add(struct sl_l4_val *v, struct sl_l4_sk *s, const struct l4_tot *t)
{
	if (t->tx > s->bytes_tx)
		v->bytes_tx += t->tx - s->bytes_tx;
	if (t->rx > s->bytes_rx)
		v->bytes_rx += t->rx - s->bytes_rx;
	if (t->segs_tx > s->segs_tx)
		v->segs_tx += t->segs_tx - s->segs_tx;
	if (t->segs_rx > s->segs_rx)
		v->segs_rx += t->segs_rx - s->segs_rx;
	if (t->retrans > s->retrans)
		v->retrans += t->retrans - s->retrans;
	s->bytes_tx = t->tx > s->bytes_tx ? t->tx : s->bytes_tx;
	s->bytes_rx = t->rx > s->bytes_rx ? t->rx : s->bytes_rx;
	s->segs_tx = t->segs_tx > s->segs_tx ? t->segs_tx : s->segs_tx;
	s->segs_rx = t->segs_rx > s->segs_rx ? t->segs_rx : s->segs_rx;
	s->retrans = t->retrans > s->retrans ? t->retrans : s->retrans;
}

/*
 * The flush iterator's work on one live connection (sluice_l4_flush): its totals so far into
 * its flow. The FIN adjustments of l4_payload_* hold for the state it is in now.
 */
static __always_inline void l4_flush(struct tcp_sock *tp, struct sl_l4_sk *s)
{
	struct l4_tot t;
	struct sl_l4_val *v;
	__u32 state;

	if (s->closed)
		return;
	state = tp->inet_conn.icsk_inet.sk.__sk_common.skc_state;
	if (state == BPF_TCP_CLOSE || state == BPF_TCP_SYN_SENT || state == BPF_TCP_SYN_RECV)
		return;
	t.tx = l4_payload_acked(tp->bytes_acked, tp, s->key.role, state);
	t.rx = l4_payload_received(tp->bytes_received, tp);
	t.segs_tx = tp->segs_out;
	t.segs_rx = tp->segs_in;
	t.retrans = tp->total_retrans;
	v = l4_flow(&s->key);
	if (v)
		l4_add(v, s, &t);
}

/* sock_ops STATE_CB into TCP_CLOSE from old_state. */
static __always_inline void l4_closed(struct bpf_sock_ops *skops, __u32 old_state)
{
	__u8 role = skops->bpf_sock_ops_cb_flags & BPF_SOCK_OPS_RTO_CB_FLAG ? SL_L4_CLIENT
									   : SL_L4_SERVER;
	struct bpf_sock *bsk = skops->sk;
	struct tcp_sock *tp = NULL;
	struct sl_l4_sk base, *s = NULL;
	struct l4_tot t;
	struct sl_l4_key k;
	struct sl_l4_val *v;
	__u32 srtt, b;
	int err = 0;

	l4_key(skops, &k, role);
	v = l4_flow(&k);
	if (!v)
		return;
	if (bsk) {
		tp = bpf_skc_to_tcp_sock(bsk);
		s = bpf_sk_storage_get(&sluice_l4_sk, bsk, NULL, 0);
	}
	/* what the flushes already added (nothing if it was never flushed); no more flushes */
	__builtin_memset(&base, 0, sizeof(base));
	if (s) {
		base.bytes_tx = s->bytes_tx;
		base.bytes_rx = s->bytes_rx;
		base.segs_tx = s->segs_tx;
		base.segs_rx = s->segs_rx;
		base.retrans = s->retrans;
		s->closed = 1;
	}
	if (tp)
		err = tp->inet_conn.icsk_inet.sk.sk_err;
	if (old_state == BPF_TCP_SYN_SENT) {
		if (err == L4_ECONNREFUSED)
			v->refused++;
		else
			v->failed++;
		return;
	}
	v->closed++;
	/* a reset received sets sk_err; one sent (an abort: SO_LINGER 0, close with unread
	 * data) leaves ESTABLISHED or CLOSE_WAIT for CLOSE directly, skipping the FIN states */
	if (err == L4_ECONNRESET || err == L4_EPIPE ||
	    (!err && (old_state == BPF_TCP_ESTABLISHED || old_state == BPF_TCP_CLOSE_WAIT)))
		v->reset++;
	t.tx = l4_payload_acked(skops->bytes_acked, tp, role, old_state);
	t.rx = l4_payload_received(skops->bytes_received, tp);
	t.segs_tx = skops->segs_out;
	t.segs_rx = skops->segs_in;
	t.retrans = skops->total_retrans;
	l4_add(v, &base, &t);
	srtt = skops->srtt_us >> 3; /* tcp_sock keeps it in µs << 3 */
	v->rtt_sum_us += srtt;
	b = l4_rtt_bucket(srtt);
	if (b < SL_RTT_BUCKETS)
		v->rtt[b]++;
}

#endif
