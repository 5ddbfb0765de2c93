/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Service load balancing shared by the socket LB, the tc fallback and XDP NodePort: frontend
 * lookup, backend choice (random, Maglev, sessionAffinity), and connection tracking. Every
 * lookup is a hash or array hit, whatever the number of services or backends.
 */
#ifndef SL_BPF_LB_H
#define SL_BPF_LB_H

#include "common.h"
#include "maps.h"
#include "parse.h"

#define NSEC_PER_SEC	    1000000000ull
#define CT_REFRESH_NS	    NSEC_PER_SEC	/* last_seen is rewritten at most this often */
#define CT_TCP_REUSE_NS	    (10 * NSEC_PER_SEC)	/* a SYN on an entry idle this long starts over */
#define CT_UDP_REUSE_NS	    (30 * NSEC_PER_SEC)	/* a UDP flow idle this long is balanced anew */

/*
 * The conntrack and affinity clock, in ns. jiffies where the agent knows the tick length:
 * bpf_jiffies64() is a memory read, while bpf_ktime_get_ns() reads the clocksource (about
 * 40 ns a packet in a VM with kvm-clock). A tick (4 ms at HZ=250) is far below any timeout
 * here; only differences of this clock are ever used.
 */
static __always_inline __u64 sl_now(void)
{
	__u32 npj = sl_cfg.ns_per_jiffy;

	if (npj)
		return bpf_jiffies64() * npj;
	return bpf_ktime_get_ns();
}

static __always_inline void addr_copy(__u32 *dst, const __u32 *src)
{
	dst[0] = src[0];
	dst[1] = src[1];
	dst[2] = src[2];
	dst[3] = src[3];
}

static __always_inline bool addr_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* The sluice_sk_slot slot of a socket cookie, or NULL where the loader set no slots. */
static __always_inline struct sl_sk_slot *sk_slot(__u64 cookie)
{
	__u32 idx = (__u32)cookie & sl_cfg.sk_slots_mask;

	return sl_cfg.sk_slots_mask ? bpf_map_lookup_elem(&sluice_sk_slot, &idx) : NULL;
}

static __always_inline struct sl_svc_val *svc_lookup(const __u32 *addr, __u16 port, __u8 proto,
						     __u8 family)
{
	struct sl_svc_key k = { .port = port, .proto = proto, .family = family };

	addr_copy(k.addr, addr);
	return bpf_map_lookup_elem(&sluice_svc, &k);
}

static __always_inline struct sl_backend_val *backend_at(__u32 svc_id, __u32 slot)
{
	struct sl_backend_key k = { .svc_id = svc_id, .slot = slot };

	return bpf_map_lookup_elem(&sluice_backend, &k);
}

/* An affinity entry still valid for sv: not timed out and its slot holds the same backend. */
static __always_inline struct sl_backend_val *affinity_get(const struct sl_svc_val *sv,
							   const struct sl_aff_key *ak, __u64 now)
{
	struct sl_aff_val *av = bpf_map_lookup_elem(&sluice_affinity, ak);
	struct sl_backend_val *b;

	if (!av || now - av->last_used > (__u64)sv->affinity_timeout * NSEC_PER_SEC)
		return NULL;
	if (av->slot >= sv->count)
		return NULL;
	b = backend_at(sv->svc_id, av->slot);
	if (!b || b->port != av->port || b->family != av->family || !addr_eq(b->addr, av->addr))
		return NULL;
	if (now - av->last_used > CT_REFRESH_NS)
		av->last_used = now;
	return b;
}

static __always_inline void affinity_put(const struct sl_aff_key *ak, __u32 slot,
					 const struct sl_backend_val *b, __u64 now)
{
	struct sl_aff_val av = { .last_used = now, .slot = slot, .port = b->port,
				 .family = b->family };

	addr_copy(av.addr, b->addr);
	if (bpf_map_update_elem(&sluice_affinity, ak, &av, BPF_ANY) < 0)
		stat_add(SL_STAT_CT_FULL, 0);
}

/*
 * Picks a backend of sv: the client's affinity entry when the service has one, else the given
 * slot (random or Maglev), recording affinity. NULL when the service has no backend.
 */
static __always_inline struct sl_backend_val *backend_pick(const struct sl_svc_val *sv,
							   const struct sl_aff_key *ak, __u32 slot,
							   __u64 now)
{
	struct sl_backend_val *b;

	if (sv->count == 0)
		return NULL;
	if ((sv->flags & SL_SVC_F_AFFINITY) && ak) {
		b = affinity_get(sv, ak, now);
		if (b)
			return b;
	}
	if (slot >= sv->count)
		slot = slot % sv->count;
	b = backend_at(sv->svc_id, slot);
	if (b && (sv->flags & SL_SVC_F_AFFINITY) && ak)
		affinity_put(ak, slot, b, now);
	return b;
}

static __always_inline void ct_key_fwd(struct sl_ct_key *k, const struct pkt *p)
{
	__builtin_memset(k, 0, sizeof(*k));
	addr_copy(k->saddr, p->saddr);
	addr_copy(k->daddr, p->daddr);
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->family = p->family;
	k->dir = SL_CT_DIR_FWD;
}

/* The key a reply from the backend carries: backend -> client, looked up as SL_CT_DIR_REV. */
static __always_inline void ct_key_rev_of(struct sl_ct_key *k, const struct pkt *p)
{
	ct_key_fwd(k, p);
	k->dir = SL_CT_DIR_REV;
}

/*
 * The forward entry of a tracked flow, or NULL when the packet is to be balanced anew (no entry,
 * a UDP flow idle too long, or a new SYN on an old entry). Refreshes last_seen at most once a
 * second. A pure SYN reuses an entry only while it is younger than syn_reuse_ns: the tc path
 * picks at random, so it keeps a retransmitted SYN on its first backend for a while; the XDP
 * path passes 0, since Maglev sends a retransmitted SYN to the same backend anyway and a new
 * connection on a reused tuple must not go to a backend removed since.
 */
static __always_inline struct sl_ct_val *ct_lookup_fwd(const struct pkt *p, __u64 now,
						       __u64 syn_reuse_ns)
{
	struct sl_ct_key k;
	struct sl_ct_val *v;
	__u64 idle;

	ct_key_fwd(&k, p);
	v = bpf_map_lookup_elem(&sluice_ct, &k);
	if (!v)
		return NULL;
	idle = now - v->last_seen;
	if (p->proto == IPPROTO_TCP &&
	    (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN && idle >= syn_reuse_ns)
		return NULL;
	if (p->proto == IPPROTO_UDP && idle > CT_UDP_REUSE_NS)
		return NULL;
	if (idle > CT_REFRESH_NS)
		v->last_seen = now;
	return v;
}

/* Records a translated flow: forward (client -> frontend) and reply (backend -> client). */
static __always_inline int ct_create(const struct pkt *p, const struct sl_backend_val *b,
				     __u32 svc_id, __u8 flags, __u64 now)
{
	struct sl_ct_key k;
	struct sl_ct_val v = { .port = b->port, .family = b->family, .flags = flags,
			       .svc_id = svc_id, .last_seen = now };

	ct_key_fwd(&k, p);
	addr_copy(v.addr, b->addr);
	if (bpf_map_update_elem(&sluice_ct, &k, &v, BPF_ANY) < 0)
		goto full;
	/* reply: saddr = backend, daddr = client, sport = backend port, dport = client port */
	addr_copy(k.saddr, b->addr);
	addr_copy(k.daddr, p->saddr);
	k.sport = b->port;
	k.dport = p->sport;
	k.dir = SL_CT_DIR_REV;
	addr_copy(v.addr, p->daddr);
	v.port = p->dport;
	v.family = p->family;
	if (bpf_map_update_elem(&sluice_ct, &k, &v, BPF_ANY) < 0)
		goto full;
	stat_add(SL_STAT_CT_NEW, 0);
	return 0;
full:
	stat_add(SL_STAT_CT_FULL, 0);
	return -1;
}

/* A 32-bit hash of the flow (murmur3's finaliser over the tuple), for Maglev. */
static __always_inline __u32 mix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 flow_hash(const struct pkt *p)
{
	__u32 h = 0x9e3779b9;

	h = mix32(h ^ p->saddr[0]);
	h = mix32(h ^ p->saddr[1]);
	h = mix32(h ^ p->saddr[2]);
	h = mix32(h ^ p->saddr[3]);
	h = mix32(h ^ (((__u32)p->sport << 16) | p->dport));
	return mix32(h ^ p->proto);
}

/* The Maglev slot for a flow, or -1 when the service has no table (agent not caught up). */
static __always_inline int maglev_slot(const struct sl_svc_val *sv, const struct pkt *p)
{
	__u32 id = sv->svc_id, idx, *slot;
	void *table;

	if (!sv->maglev_size)
		return -1;
	table = bpf_map_lookup_elem(&sluice_maglev, &id);
	if (!table)
		return -1;
	idx = flow_hash(p) % sv->maglev_size;
	slot = bpf_map_lookup_elem(table, &idx);
	return slot ? (int)*slot : -1;
}

#endif
