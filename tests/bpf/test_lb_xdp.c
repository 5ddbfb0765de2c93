// SPDX-License-Identifier: Apache-2.0
/*
 * BPF_PROG_TEST_RUN of NodePort load balancing in sluice_xdp_in (Maglev pick, conntrack, DNAT
 * with direct checksum updates), and of the reply path through sluice_tc_up, from the real
 * xdp_node and tc_pod skeletons. Pinning is off (see test_tc.c); frontends and backends are
 * written through agent/maps (maps_reconcile, then maps_maglev_sync for the Maglev tables, in
 * the agent's order), and each table is built by agent/lb/maglev.c from the backend identity
 * agent/sync uses (struct sl_backend_val up to flags: address, port, family).
 *
 * The expected backend of a flow is computed here: the same flow hash as bpf/include/lb.h
 * (flow_hash: source address, ports, protocol; ports and addresses as the packet carries them)
 * indexes the Maglev table we built, whose entry is the backend slot.
 *
 * Test-run repeat reruns the program on the frame it already rewrote (pinned by
 * xdp_test_run__repeat_of_dnat__reruns_on_rewritten_frame); the benches (SL_BENCH=1) seed the
 * reverse mapping too, so that every run takes the measured path (see bench_* below).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/lb/maglev.h"
#include "agent/maps/maps.h"
#include "sl_abi.h"
#include "floor.skel.h"
#include "tc_pod.skel.h"
#include "tests/bpf/pktbuild.h"
#include "tests/bpf/testrun.h"
#include "xdp_node.skel.h"

#define MAX_SVC	   8
#define MAX_BE	   8
#define NODE	   "198.18.0.1"
#define NODE6	   "fd00:18::1"
#define NODEPORT   30080
#define CLIENT	   "203.0.113.7"
#define CLIENT6	   "2001:db8::7"
#define CLUSTER_IP "10.96.0.10"

#define TCPF_SYN 0x02
#define TCPF_ACK 0x10

#define BENCH_REPEAT	 1000000u
#define DISRUPTION_FLOWS 10000

struct be_def {
	const char *addr;
	uint16_t port; /* host order */
};

/* One frontend as the agent writes it; node-facing ones with backends get a Maglev table. */
struct svc_def {
	const char *vip;
	uint16_t port; /* host order */
	uint8_t proto;
	uint32_t svc_id;
	uint16_t flags;
	bool no_table; /* sluice_svc says maglev_size, but no table was written (agent behind) */
	size_t n;
	struct be_def be[MAX_BE];
};

struct fix {
	struct xdp_node *skel;
	struct tc_pod *tc; /* loaded on demand, sharing sluice_ct */
	int stats_fd;
	int svc_fd;
	int backend_fd;
	int ct_fd;
	int maglev_fd;
	/* the Maglev tables last written, by svc_id, for the expected picks */
	uint32_t tab_id[MAX_SVC];
	uint32_t *tab[MAX_SVC];
	size_t n_tab;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->skel = xdp_node__open();
	if (!f->skel)
		goto err_free;
	f->skel->rodata->sl_cfg.ns_per_jiffy = tr_ns_per_jiffy();
	if (tr_pins_clear(f->skel->obj) < 0 || xdp_node__load(f->skel) < 0)
		goto err_destroy;
	f->stats_fd = bpf_map__fd(f->skel->maps.sluice_stats);
	f->svc_fd = bpf_map__fd(f->skel->maps.sluice_svc);
	f->backend_fd = bpf_map__fd(f->skel->maps.sluice_backend);
	f->ct_fd = bpf_map__fd(f->skel->maps.sluice_ct);
	f->maglev_fd = bpf_map__fd(f->skel->maps.sluice_maglev);
	*state = f;
	return 0;
err_destroy:
	xdp_node__destroy(f->skel);
err_free:
	free(f);
	return -1;
}

static void tables_free(struct fix *f)
{
	size_t i;

	for (i = 0; i < f->n_tab; i++)
		free(f->tab[i]);
	f->n_tab = 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	tables_free(f);
	tc_pod__destroy(f->tc);
	xdp_node__destroy(f->skel);
	free(f);
	return 0;
}

/* Loads tc_pod with its sluice_ct replaced by the XDP object's, as the pins share it. */
static void tc_load_shared_ct(struct fix *f)
{
	f->tc = tc_pod__open();
	assert_non_null(f->tc);
	f->tc->rodata->sl_cfg.ns_per_jiffy = tr_ns_per_jiffy();
	assert_int_equal(tr_pins_clear(f->tc->obj), 0);
	assert_int_equal(bpf_map__reuse_fd(f->tc->maps.sluice_ct, f->ct_fd), 0);
	assert_int_equal(tc_pod__load(f->tc), 0);
}

static struct sl_backend_val be_val(const struct be_def *b)
{
	struct sl_backend_val v = { .port = htons(b->port) };

	v.family = tr_abi_addr(b->addr, v.addr);
	return v;
}

static bool node_facing(const struct svc_def *d)
{
	return (d->flags & (SL_SVC_F_NODEPORT | SL_SVC_F_EXTERNAL)) && d->n > 0;
}

/*
 * Makes sluice_svc, sluice_backend and sluice_maglev hold exactly these frontends, the way
 * agent.c does: one maps_reconcile (backends, then services), then maps_maglev_sync with one
 * table per node-facing frontend, built like agent/sync/sync.c's maglev_push.
 */
static void lb_seed(struct fix *f, const struct svc_def *d, size_t n)
{
	unsigned char svc[MAX_SVC * (sizeof(struct sl_svc_key) + sizeof(struct sl_svc_val))];
	unsigned char bk[MAX_SVC * MAX_BE *
			 (sizeof(struct sl_backend_key) + sizeof(struct sl_backend_val))];
	struct maps_maglev mg[MAX_SVC];
	size_t i, j, nb = 0, n_mg = 0, off;
	struct maps_table t[] = {
		{ .name = "sluice_backend", .fd = f->backend_fd,
		  .key_size = sizeof(struct sl_backend_key),
		  .value_size = sizeof(struct sl_backend_val), .entries = bk },
		{ .name = "sluice_svc", .fd = f->svc_fd, .key_size = sizeof(struct sl_svc_key),
		  .value_size = sizeof(struct sl_svc_val), .entries = svc, .n = n },
	};
	struct maps_result res = {};
	char err[256] = "";

	assert_true(n <= MAX_SVC);
	tables_free(f);
	for (i = 0; i < n; i++) {
		struct sl_svc_key k = { .port = htons(d[i].port), .proto = d[i].proto };
		struct sl_svc_val v = { .svc_id = d[i].svc_id, .count = (uint16_t)d[i].n,
					.flags = d[i].flags };
		struct sl_backend_val slots[MAX_BE];
		struct maglev_backend mb[MAX_BE];

		assert_true(d[i].n <= MAX_BE);
		k.family = tr_abi_addr(d[i].vip, k.addr);
		for (j = 0; j < d[i].n; j++) {
			struct sl_backend_key bkk = { .svc_id = d[i].svc_id, .slot = (uint32_t)j };

			slots[j] = be_val(&d[i].be[j]);
			mb[j].id = &slots[j];
			mb[j].len = offsetof(struct sl_backend_val, flags);
			off = nb * (sizeof(bkk) + sizeof(slots[j]));
			memcpy(bk + off, &bkk, sizeof(bkk));
			memcpy(bk + off + sizeof(bkk), &slots[j], sizeof(slots[j]));
			nb++;
		}
		if (node_facing(&d[i])) {
			v.maglev_size = SL_MAGLEV_DEFAULT;
			f->tab_id[f->n_tab] = d[i].svc_id;
			f->tab[f->n_tab] = malloc(SL_MAGLEV_DEFAULT * sizeof(uint32_t));
			assert_non_null(f->tab[f->n_tab]);
			assert_int_equal(maglev_build(mb, d[i].n, SL_MAGLEV_DEFAULT,
						      f->tab[f->n_tab]), 0);
			if (!d[i].no_table)
				mg[n_mg++] = (struct maps_maglev){ .svc_id = d[i].svc_id,
								   .size = SL_MAGLEV_DEFAULT,
								   .table = f->tab[f->n_tab] };
			f->n_tab++;
		}
		off = i * (sizeof(k) + sizeof(v));
		memcpy(svc + off, &k, sizeof(k));
		memcpy(svc + off + sizeof(k), &v, sizeof(v));
	}
	t[0].n = nb;
	if (maps_reconcile(&maps_bpf_ops, t, 2, &res, err, sizeof(err)) != 0)
		fail_msg("lb_seed: %s", err);
	if (maps_maglev_sync(f->maglev_fd, mg, n_mg, &res, err, sizeof(err)) != 0)
		fail_msg("lb_seed: %s", err);
}

/* lb.h's mix32 and flow_hash over the tuple as the packet carries it. */
static uint32_t mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static uint32_t flow_hash(const char *src, uint16_t sport, uint16_t dport, uint8_t proto)
{
	uint32_t s[4], h = 0x9e3779b9;
	int i;

	tr_abi_addr(src, s);
	for (i = 0; i < 4; i++)
		h = mix32(h ^ s[i]);
	h = mix32(h ^ (((uint32_t)htons(sport) << 16) | htons(dport)));
	return mix32(h ^ proto);
}

/* The slot Maglev gives the flow in svc_id's table as last written. */
static uint32_t maglev_expect(struct fix *f, uint32_t svc_id, const char *src, uint16_t sport,
			      uint16_t dport, uint8_t proto)
{
	size_t i;

	for (i = 0; i < f->n_tab; i++)
		if (f->tab_id[i] == svc_id)
			return f->tab[i][flow_hash(src, sport, dport, proto) % SL_MAGLEV_DEFAULT];
	fail_msg("no Maglev table for service %u", svc_id);
	return 0;
}

static void run_xdp(struct fix *f, const uint8_t *pkt, int len, struct tr_out *out)
{
	assert_int_equal(tr_run(f->skel->progs.sluice_xdp_in, false, pkt, len, 1, out, NULL), 0);
}

static const struct svc_def np5 = {
	.vip = NODE, .port = NODEPORT, .proto = IPPROTO_TCP, .svc_id = 3,
	.flags = SL_SVC_F_NODEPORT, .n = 5,
	.be = { { "10.244.1.1", 8080 }, { "10.244.1.2", 8080 }, { "10.244.1.3", 8080 },
		{ "10.244.1.4", 8080 }, { "10.244.1.5", 8080 } },
};

static const struct svc_def np6 = {
	.vip = NODE6, .port = NODEPORT, .proto = IPPROTO_TCP, .svc_id = 5,
	.flags = SL_SVC_F_NODEPORT, .n = 3,
	.be = { { "fd00:10:244::11", 8080 }, { "fd00:10:244::12", 8080 },
		{ "fd00:10:244::13", 8080 } },
};

/* The frontend with backend at slot `gone` removed, slots reassigned as agent/sync does. */
static struct svc_def svc_without(const struct svc_def *d, size_t gone)
{
	struct svc_def r = *d;

	/* slots_assign: a backend keeps its slot while it is below the new count; the ones at
	 * or above it fill the freed slots in order */
	assert_true(gone < d->n);
	r.n = d->n - 1;
	if (gone != r.n)
		r.be[gone] = d->be[r.n];
	return r;
}

static void xdp_in__nodeport_syn__dnat_to_maglev_backend_and_ct_new(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	const struct be_def *b;
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &np5, 1);
	b = &np5.be[maglev_expect(f, 3, CLIENT, 50000, NODEPORT, IPPROTO_TCP)];
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50000, NODE, NODEPORT, 0, 0);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 50000, b->addr, b->port, 0, 0);
	run_xdp(f, in, len, &o);
	tr_assert_translated(&o, XDP_PASS, want, wlen);
	{
		const struct tr_stat_want w[] = {
			{ SL_STAT_XDP_IN_PASS, 1, (uint64_t)len },
			{ SL_STAT_CT_NEW, 1, 0 },
			{ SL_STAT_XDP_DNAT, 1, (uint64_t)len },
		};

		tr_assert_stats(f->stats_fd, w, 3);
	}
	{
		struct sl_ct_key kf = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_TCP, CLIENT, 50000, NODE,
						NODEPORT);
		struct sl_ct_key kr = tr_ct_key(SL_CT_DIR_REV, IPPROTO_TCP, b->addr, b->port,
						CLIENT, 50000);

		tr_assert_ct(f->ct_fd, &kf, b->addr, b->port, 3, SL_CT_F_NODEPORT);
		tr_assert_ct(f->ct_fd, &kr, NODE, NODEPORT, 3, SL_CT_F_NODEPORT);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 2);
}

/* 500 flows: each lands on the backend the Maglev table names, the same on every resend. */
static void xdp_in__many_flows__each_on_its_maglev_backend(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	size_t used[MAX_BE] = {};
	char src[INET_ADDRSTRLEN];
	struct tr_out o;
	int i, k, len, wlen;

	lb_seed(f, &np5, 1);
	for (i = 0; i < 500; i++) {
		uint16_t sport = (uint16_t)(1024 + (i * 7919) % 60000);
		uint32_t slot;

		snprintf(src, sizeof(src), "198.51.100.%d", i % 250 + 1);
		slot = maglev_expect(f, 3, src, sport, NODEPORT, IPPROTO_TCP);
		assert_true(slot < np5.n);
		used[slot]++;
		for (k = 0; k < 2; k++) {
			/* SYN, then SYN again (a retransmit: Maglev again, same answer) */
			len = tr_frame(in, AF_INET, IPPROTO_TCP, src, sport, NODE, NODEPORT, 0, 0);
			wlen = tr_frame(want, AF_INET, IPPROTO_TCP, src, sport, np5.be[slot].addr,
					8080, 0, 0);
			run_xdp(f, in, len, &o);
			tr_assert_translated(&o, XDP_PASS, want, wlen);
		}
		/* and the ACK follows conntrack to the same place */
		len = tr_frame(in, AF_INET, IPPROTO_TCP, src, sport, NODE, NODEPORT, 0, TCPF_ACK);
		wlen = tr_frame(want, AF_INET, IPPROTO_TCP, src, sport, np5.be[slot].addr, 8080, 0,
				TCPF_ACK);
		run_xdp(f, in, len, &o);
		tr_assert_translated(&o, XDP_PASS, want, wlen);
	}
	for (k = 0; k < 5; k++)
		assert_true(used[k] > 0);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 1000);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 500);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), 1500);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_MAGLEV_MISS), 0);
}

static void xdp_in__established_flow_after_backend_removal__ct_keeps_new_syn_rebalances(
	void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	uint32_t slot, slot2;
	struct svc_def four;
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &np5, 1);
	slot = maglev_expect(f, 3, CLIENT, 50001, NODEPORT, IPPROTO_TCP);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50001, NODE, NODEPORT, 0, 0);
	run_xdp(f, in, len, &o);
	/* the flow's backend leaves the service */
	four = svc_without(&np5, slot);
	lb_seed(f, &four, 1);
	slot2 = maglev_expect(f, 3, CLIENT, 50001, NODEPORT, IPPROTO_TCP);
	assert_true(strcmp(four.be[slot2].addr, np5.be[slot].addr) != 0);

	/* established: the ACK and data still reach the old backend (conntrack hit) */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50001, NODE, NODEPORT, 100, TCPF_ACK);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 50001, np5.be[slot].addr, 8080, 100,
			TCPF_ACK);
	run_xdp(f, in, len, &o);
	tr_assert_translated(&o, XDP_PASS, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 1);
	/* a new SYN on the same tuple is balanced again, onto the new table's pick */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50001, NODE, NODEPORT, 0, 0);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 50001, four.be[slot2].addr, 8080, 0, 0);
	run_xdp(f, in, len, &o);
	tr_assert_translated(&o, XDP_PASS, want, wlen);
	{
		struct sl_ct_key kf = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_TCP, CLIENT, 50001, NODE,
						NODEPORT);

		tr_assert_ct(f->ct_fd, &kf, four.be[slot2].addr, 8080, 3, SL_CT_F_NODEPORT);
	}
	/* and the rest of that connection follows it */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50001, NODE, NODEPORT, 0, TCPF_ACK);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 50001, four.be[slot2].addr, 8080, 0,
			TCPF_ACK);
	run_xdp(f, in, len, &o);
	tr_assert_translated(&o, XDP_PASS, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 2);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 2);
}

static void xdp_in__not_node_facing__passes_unchanged(void **state)
{
	struct fix *f = *state;
	const struct svc_def d[] = {
		np5,
		{ .vip = CLUSTER_IP, .port = 80, .proto = IPPROTO_TCP, .svc_id = 4, .n = 1,
		  .be = { { "10.244.1.1", 8080 } } },
	};
	static const struct {
		const char *dst;
		uint16_t dport;
		int proto;
	} miss[] = {
		{ NODE, 22, IPPROTO_TCP },		/* node address, other port */
		{ NODE, NODEPORT, IPPROTO_UDP },	/* the NodePort over the other protocol */
		{ "198.18.0.2", NODEPORT, IPPROTO_TCP },/* another address */
		{ CLUSTER_IP, 80, IPPROTO_TCP },	/* ClusterIP frontend: not exposed here */
	};
	uint8_t in[PKT_MAX];
	uint64_t bytes = 0;
	struct tr_out o;
	size_t i;
	int len;

	lb_seed(f, d, 2);
	for (i = 0; i < sizeof(miss) / sizeof(miss[0]); i++) {
		len = tr_frame(in, AF_INET, miss[i].proto, CLIENT, 50000, miss[i].dst,
			       miss[i].dport, 30, 0);
		run_xdp(f, in, len, &o);
		tr_assert_out(&o, XDP_PASS, in, len);
		bytes += (uint64_t)len;
	}
	{
		const struct tr_stat_want w[] = { { SL_STAT_XDP_IN_PASS, 4, bytes } };

		tr_assert_stats(f->stats_fd, w, 1);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
}

static void xdp_in__nodeport_without_backends__drops_and_counts_no_backend(void **state)
{
	struct fix *f = *state;
	struct svc_def empty = np5;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	int len;

	empty.n = 0;
	lb_seed(f, &empty, 1);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50000, NODE, NODEPORT, 0, 0);
	run_xdp(f, in, len, &o);
	assert_int_equal(o.retval, XDP_DROP);
	{
		/* no backend means no Maglev table either: only NO_BACKEND, never MAGLEV_MISS */
		const struct tr_stat_want w[] = {
			{ SL_STAT_XDP_IN_PASS, 1, (uint64_t)len },
			{ SL_STAT_NO_BACKEND, 1, (uint64_t)len },
		};

		tr_assert_stats(f->stats_fd, w, 2);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
}

static void xdp_in__nodeport_table_not_written__random_backend_counts_maglev_miss(void **state)
{
	struct fix *f = *state;
	struct svc_def late = np5;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	size_t j;
	int len, i;

	late.no_table = true;
	lb_seed(f, &late, 1);
	for (i = 0; i < 20; i++) {
		uint32_t dst;
		bool known = false;

		len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, (uint16_t)(51000 + i), NODE,
			       NODEPORT, 0, 0);
		run_xdp(f, in, len, &o);
		assert_int_equal(o.retval, XDP_PASS);
		assert_int_equal(pkt_csums_verify(o.data, o.len), 0);
		memcpy(&dst, o.data + 14 + 16, 4);
		for (j = 0; j < late.n; j++) {
			uint32_t a[4];

			tr_abi_addr(late.be[j].addr, a);
			known |= a[0] == dst;
		}
		assert_true(known);
	}
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_MAGLEV_MISS), 20);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), 20);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 20);
}

static void xdp_in__truncated_headers__pass_unchanged_and_count_parse_error(void **state)
{
	struct fix *f = *state;
	static const struct {
		int family;
		size_t opt, cut;
	} cuts[] = {
		{ AF_INET, 0, 14 },		/* Ethernet header only */
		{ AF_INET, 0, 14 + 12 },	/* IPv4 fixed header cut */
		{ AF_INET, 8, 14 + 20 + 4 },	/* IPv4 options cut */
		{ AF_INET, 0, 14 + 20 + 12 },	/* TCP header cut */
		{ AF_INET6, 0, 14 + 30 },	/* IPv6 header cut */
		{ AF_INET6, 0, 14 + 40 + 19 },	/* TCP header one byte short */
	};
	uint64_t bytes = 0;
	struct tr_out o;
	size_t i;

	lb_seed(f, &np5, 1);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct pkt_spec s = { .family = cuts[i].family, .l4 = IPPROTO_TCP,
				      .src = cuts[i].family == AF_INET ? CLIENT : CLIENT6,
				      .dst = cuts[i].family == AF_INET ? NODE : NODE6,
				      .dport = NODEPORT, .ip_opt_len = cuts[i].opt,
				      .truncate_to = cuts[i].cut };
		uint8_t in[PKT_MAX];
		int len = pkt_build(&s, in, sizeof(in));

		assert_int_equal(len, (int)cuts[i].cut);
		run_xdp(f, in, len, &o);
		tr_assert_out(&o, XDP_PASS, in, len);
		bytes += (uint64_t)len;
	}
	{
		const struct tr_stat_want w[] = { { SL_STAT_PARSE_ERROR, 6, bytes } };

		tr_assert_stats(f->stats_fd, w, 1);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
}

static void xdp_in__fragments_to_nodeport__pass_untranslated_and_count_fragment(void **state)
{
	struct fix *f = *state;
	static const uint16_t frag[] = { 0x2000, 0x2000 | 185, 185 };
	struct svc_def udp = np5;
	uint64_t bytes = 0;
	struct tr_out o;
	size_t i;

	udp.proto = IPPROTO_UDP;
	lb_seed(f, &udp, 1);
	for (i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
		struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_UDP, .src = CLIENT,
				      .dst = NODE, .sport = 50000, .dport = NODEPORT,
				      .payload_len = 200, .frag_off = frag[i] };
		uint8_t in[PKT_MAX];
		int len = pkt_build(&s, in, sizeof(in));

		run_xdp(f, in, len, &o);
		tr_assert_out(&o, XDP_PASS, in, len);
		bytes += (uint64_t)len;
	}
	{
		const struct tr_stat_want w[] = {
			{ SL_STAT_XDP_IN_PASS, 3, bytes },
			{ SL_STAT_FRAGMENT, 3, bytes },
		};

		tr_assert_stats(f->stats_fd, w, 2);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
}

static void xdp_in__udp_nodeport__checksum_valid_and_zero_stays_zero(void **state)
{
	struct fix *f = *state;
	struct svc_def udp = np5;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	const struct be_def *b;
	struct tr_out o;
	int len, wlen, zero;

	udp.proto = IPPROTO_UDP;
	lb_seed(f, &udp, 1);
	for (zero = 0; zero < 2; zero++) {
		uint16_t sport = (uint16_t)(50000 + zero);

		b = &udp.be[maglev_expect(f, 3, CLIENT, sport, NODEPORT, IPPROTO_UDP)];
		len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, sport, NODE, NODEPORT, 33, 0);
		wlen = tr_frame(want, AF_INET, IPPROTO_UDP, CLIENT, sport, b->addr, b->port, 33, 0);
		if (zero) {
			tr_udp_csum_zero(in, len);
			tr_udp_csum_zero(want, wlen);
		}
		run_xdp(f, in, len, &o);
		tr_assert_translated(&o, XDP_PASS, want, wlen);
	}
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), 2);
}

/* A rewrite whose new UDP checksum folds to 0 must send 0xffff (0 would mean "none"). */
static void xdp_in__udp_checksum_folding_to_zero__sent_as_ffff(void **state)
{
	struct fix *f = *state;
	struct svc_def udp = np5, udp6 = np6;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	const struct be_def *b;
	struct tr_out o;
	int len, wlen;
	uint16_t w;

	udp.proto = IPPROTO_UDP;
	lb_seed(f, &udp, 1);
	b = &udp.be[maglev_expect(f, 3, CLIENT, 50000, NODEPORT, IPPROTO_UDP)];
	wlen = tr_frame(want, AF_INET, IPPROTO_UDP, CLIENT, 50000, b->addr, b->port, 16, 0);
	w = tr_udp_csum_to_ffff(want, wlen);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, 50000, NODE, NODEPORT, 16, 0);
	tr_udp_word_set(in, len, w);
	run_xdp(f, in, len, &o);
	tr_assert_translated(&o, XDP_PASS, want, wlen);
	udp6.proto = IPPROTO_UDP;
	lb_seed(f, &udp6, 1);
	b = &udp6.be[maglev_expect(f, 5, CLIENT6, 50000, NODEPORT, IPPROTO_UDP)];
	wlen = tr_frame(want, AF_INET6, IPPROTO_UDP, CLIENT6, 50000, b->addr, b->port, 16, 0);
	w = tr_udp_csum_to_ffff(want, wlen);
	len = tr_frame(in, AF_INET6, IPPROTO_UDP, CLIENT6, 50000, NODE6, NODEPORT, 16, 0);
	tr_udp_word_set(in, len, w);
	run_xdp(f, in, len, &o);
	tr_assert_translated(&o, XDP_PASS, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), 2);
}

static void xdp_in__ipv4_with_options__dnat_keeps_options_and_checksums(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .src = CLIENT, .dst = NODE,
			      .sport = 50000, .dport = NODEPORT, .payload_len = 10,
			      .ip_opt_len = 40 };
	uint8_t in[PKT_MAX], want[PKT_MAX];
	const struct be_def *b;
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &np5, 1);
	b = &np5.be[maglev_expect(f, 3, CLIENT, 50000, NODEPORT, IPPROTO_TCP)];
	len = pkt_build(&s, in, sizeof(in));
	assert_int_equal(pkt_l4_csum_fill(in, (size_t)len), 0);
	s.dst = b->addr;
	s.dport = b->port;
	wlen = pkt_build(&s, want, sizeof(want));
	assert_int_equal(pkt_l4_csum_fill(want, (size_t)wlen), 0);
	assert_int_equal(in[14], 0x4f); /* ihl 15: the longest IPv4 header */
	run_xdp(f, in, len, &o);
	tr_assert_translated(&o, XDP_PASS, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), 1);
}


static void xdp_in__ipv6_nodeport__dnat_to_maglev_backend(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	const struct be_def *b;
	struct tr_out o;
	int len, wlen, i;

	lb_seed(f, &np6, 1);
	for (i = 0; i < 16; i++) {
		uint16_t sport = (uint16_t)(52000 + i * 37);

		b = &np6.be[maglev_expect(f, 5, CLIENT6, sport, NODEPORT, IPPROTO_TCP)];
		len = tr_frame(in, AF_INET6, IPPROTO_TCP, CLIENT6, sport, NODE6, NODEPORT, 0, 0);
		wlen = tr_frame(want, AF_INET6, IPPROTO_TCP, CLIENT6, sport, b->addr, b->port, 0,
				0);
		run_xdp(f, in, len, &o);
		tr_assert_translated(&o, XDP_PASS, want, wlen);
	}
	{
		struct sl_ct_key kr = tr_ct_key(SL_CT_DIR_REV, IPPROTO_TCP, b->addr, 8080, CLIENT6,
						(uint16_t)(52000 + 15 * 37));

		tr_assert_ct(f->ct_fd, &kr, NODE6, NODEPORT, 5, SL_CT_F_NODEPORT);
	}
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), 16);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 16);
}

/* XDP DNAT on the way in, sluice_tc_up restoring the NodePort as source on the way out. */
static void tc_up__nodeport_reply__source_back_to_node_port(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	const struct be_def *b;
	struct tr_out o;
	int len, wlen, fam;

	tc_load_shared_ct(f);
	for (fam = 0; fam < 2; fam++) {
		const struct svc_def *d = fam ? &np6 : &np5;
		const char *client = fam ? CLIENT6 : CLIENT, *node = fam ? NODE6 : NODE;
		int af = fam ? AF_INET6 : AF_INET;

		lb_seed(f, d, 1);
		b = &d->be[maglev_expect(f, d->svc_id, client, 50000, NODEPORT, IPPROTO_TCP)];
		len = tr_frame(in, af, IPPROTO_TCP, client, 50000, node, NODEPORT, 0, 0);
		run_xdp(f, in, len, &o);
		assert_int_equal(o.retval, XDP_PASS);
		/* SYN-ACK from the backend leaves through the uplink */
		len = tr_frame(in, af, IPPROTO_TCP, b->addr, b->port, client, 50000, 0,
			       TCPF_SYN | TCPF_ACK);
		wlen = tr_frame(want, af, IPPROTO_TCP, node, NODEPORT, client, 50000, 0,
				TCPF_SYN | TCPF_ACK);
		assert_int_equal(tr_run(f->tc->progs.sluice_tc_up, true, in, len, 1, &o, NULL), 0);
		tr_assert_out(&o, TC_ACT_OK, want, wlen);
		assert_int_equal(pkt_csums_verify(o.data, o.len), 0);
		/* an untracked packet leaving the uplink is left alone */
		len = tr_frame(in, af, IPPROTO_TCP, b->addr, b->port, client, 50001, 0, TCPF_ACK);
		assert_int_equal(tr_run(f->tc->progs.sluice_tc_up, true, in, len, 1, &o, NULL), 0);
		tr_assert_out(&o, TC_ACT_OK, in, len);
	}
	{
		/* sluice_tc_up counts only what it translated: the two SYN-ACKs, 54 + 74 bytes */
		const struct tr_stat_want w[] = { { SL_STAT_UP_REVNAT, 2, 54 + 74 } };

		tr_assert_stats(bpf_map__fd(f->tc->maps.sluice_stats), w, 1);
	}
}

/*
 * Maglev disruption, end to end through the program: 10,000 flows (distinct source address
 * and port) balanced over 5 backends with conntrack cleared, then over the 4 left after one is
 * removed (slots reassigned as agent/sync does), conntrack cleared again. Every flow of the
 * removed backend must move; of the others at most 10% of all flows may (Maglev's bound is
 * well below that: it only reshuffles a few table entries besides the removed backend's).
 */
static void xdp_in__maglev_backend_removed__only_its_flows_move(void **state)
{
	struct fix *f = *state;
	const size_t gone = 2;
	uint8_t in[PKT_MAX], *was = calloc(DISRUPTION_FLOWS, 1);
	size_t per[MAX_BE] = {}, on_gone = 0, moved_other = 0, i, j;
	uint32_t addr[MAX_BE];
	struct svc_def four = svc_without(&np5, gone);
	char src[INET_ADDRSTRLEN];
	struct tr_out o;
	int phase, len;

	assert_non_null(was);
	for (j = 0; j < np5.n; j++) {
		uint32_t a[4];

		tr_abi_addr(np5.be[j].addr, a);
		addr[j] = a[0];
	}
	for (phase = 0; phase < 2; phase++) {
		const struct svc_def *d = phase ? &four : &np5;

		lb_seed(f, d, 1);
		tr_ct_walk(f->ct_fd, true);
		for (i = 0; i < DISRUPTION_FLOWS; i++) {
			uint16_t sport = (uint16_t)(1024 + (i * 7919u) % 64000);
			uint32_t dst, slot;
			size_t who = MAX_BE;

			snprintf(src, sizeof(src), "100.64.%zu.%zu", i / 200, i % 200 + 1);
			len = tr_frame(in, AF_INET, IPPROTO_TCP, src, sport, NODE, NODEPORT, 0, 0);
			run_xdp(f, in, len, &o);
			assert_int_equal(o.retval, XDP_PASS);
			memcpy(&dst, o.data + 14 + 16, 4);
			for (j = 0; j < np5.n; j++)
				if (addr[j] == dst)
					who = j;
			assert_true(who < np5.n);
			/* exactly the backend the table names */
			slot = maglev_expect(f, 3, src, sport, NODEPORT, IPPROTO_TCP);
			assert_string_equal(d->be[slot].addr, np5.be[who].addr);
			if (phase == 0) {
				was[i] = (uint8_t)who;
				per[who]++;
				continue;
			}
			assert_true(who != gone);
			if (was[i] == gone)
				on_gone++;
			else if (was[i] != who)
				moved_other++;
		}
		assert_int_equal(tr_ct_walk(f->ct_fd, false), 2 * DISRUPTION_FLOWS);
	}
	/* balance: each backend within 20% +- 3 points of the flows */
	for (j = 0; j < np5.n; j++)
		assert_true(per[j] > DISRUPTION_FLOWS * 17 / 100 &&
			    per[j] < DISRUPTION_FLOWS * 23 / 100);
	assert_int_equal(on_gone, per[gone]);
	assert_true(moved_other <= DISRUPTION_FLOWS / 10);
	if (getenv("SL_BENCH") && !strcmp(getenv("SL_BENCH"), "1"))
		fprintf(stderr, "maglev: %zu of %d flows on the removed backend, %zu others moved\n",
			on_gone, DISRUPTION_FLOWS, moved_other);
	free(was);
}

static void xdp_test_run__repeat_of_dnat__reruns_on_rewritten_frame(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	const struct be_def *b;
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &np5, 1);
	b = &np5.be[maglev_expect(f, 3, CLIENT, 50000, NODEPORT, IPPROTO_TCP)];
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50000, NODE, NODEPORT, 0, 0);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 50000, b->addr, b->port, 0, 0);
	assert_int_equal(tr_run(f->skel->progs.sluice_xdp_in, false, in, len, 3, &o, NULL), 0);
	tr_assert_translated(&o, XDP_PASS, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_IN_PASS), 3);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 1);
}

/* --- benches (SL_BENCH=1) --------------------------------------------------------------- */

/*
 * xdp_ct_hit: an established NodePort flow (ACK, 64 bytes of payload) over 5 backends. Its SYN
 * went through once; a second forward entry client -> backend:8080 -> NodePort translates the
 * rewritten frame back, so every run is a conntrack hit with a full DNAT, alternating.
 */
static void bench__xdp_ct_hit__every_run_a_hit(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	const struct be_def *b;
	struct sl_ct_key back;
	struct tr_out o;
	uint32_t ns;
	int len;

	lb_seed(f, &np5, 1);
	b = &np5.be[maglev_expect(f, 3, CLIENT, 50000, NODEPORT, IPPROTO_TCP)];
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50000, NODE, NODEPORT, 0, 0);
	run_xdp(f, in, len, &o);
	back = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_TCP, CLIENT, 50000, b->addr, b->port);
	tr_ct_put(f->ct_fd, &back, NODE, NODEPORT, 3, SL_CT_F_NODEPORT);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50000, NODE, NODEPORT, 64, TCPF_ACK);
	assert_int_equal(tr_run(f->skel->progs.sluice_xdp_in, false, in, len, BENCH_REPEAT, &o,
				&ns), 0);
	tr_assert_out(&o, XDP_PASS, in, len);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), BENCH_REPEAT);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), BENCH_REPEAT + 1);
	tr_bench_print("xdp_ct_hit", ns);
}

/*
 * xdp_maglev_new: a SYN to a NodePort over 5 backends; each backend address:8080 is itself a
 * NodePort frontend whose only backend is the node's NodePort, so the rewritten frame is
 * balanced back on the next run. The XDP path balances every pure SYN anew (ct_lookup_fwd with
 * syn_reuse_ns = 0), so each run is the full new-flow path: frontend lookup, Maglev table
 * lookup, backend lookup, two conntrack writes, DNAT. The difference from a first packet is
 * that the conntrack lookup finds the tuple's entry from two runs before (and ignores it for
 * the SYN), and the two writes replace existing keys instead of inserting new ones.
 */
static void bench__xdp_maglev_new__every_run_a_new_flow(void **state)
{
	struct fix *f = *state;
	struct svc_def d[1 + 5];
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint32_t ns;
	size_t i;
	int len;

	d[0] = np5;
	for (i = 0; i < 5; i++)
		d[1 + i] = (struct svc_def){ .vip = np5.be[i].addr, .port = 8080,
					     .proto = IPPROTO_TCP, .svc_id = 100 + (uint32_t)i,
					     .flags = SL_SVC_F_NODEPORT, .n = 1,
					     .be = { { NODE, NODEPORT } } };
	lb_seed(f, d, 6);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50000, NODE, NODEPORT, 0, 0);
	assert_int_equal(tr_run(f->skel->progs.sluice_xdp_in, false, in, len, BENCH_REPEAT, &o,
				&ns), 0);
	tr_assert_out(&o, XDP_PASS, in, len);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), BENCH_REPEAT);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 0);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_MAGLEV_MISS), 0);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), BENCH_REPEAT);
	tr_bench_print("xdp_maglev_new", ns);
}

/* xdp_miss: a TCP segment to a node port that is no frontend (nothing tracked). */
static void bench__xdp_miss__every_run_passes(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint32_t ns;
	int len;

	lb_seed(f, &np5, 1);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 50000, NODE, 22, 64, TCPF_ACK);
	assert_int_equal(tr_run(f->skel->progs.sluice_xdp_in, false, in, len, BENCH_REPEAT, &o,
				&ns), 0);
	tr_assert_out(&o, XDP_PASS, in, len);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_IN_PASS), BENCH_REPEAT);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_XDP_DNAT), 0);
	tr_bench_print("xdp_miss", ns);
}

/*
 * xdp_empty: a program that only returns, on the same frame and repeat count as the benches here:
 * what BPF_PROG_TEST_RUN itself costs per run on this machine, to read the others net of it.
 */
static void bench__xdp_empty__test_run_floor(void **state)
{
	uint8_t in[PKT_MAX];
	long ns;
	int len;

	(void)state;
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, NODE, 22, 64, TCPF_ACK);
	ns = pkt_bench_empty(true, in, (size_t)len, BENCH_REPEAT);
	assert_true(ns >= 0);
	tr_bench_print("xdp_empty", (uint32_t)ns);
}

/*
 * xdp_floor_ct_lookup: tests/bpf/floor.bpf.c, one hit of a 40-byte sluice_ct key in an LRU
 * hash and nothing else. No conntrack hit can cost less than this on the machine: it is the
 * floor to read xdp_ct_hit and tc_ct_hit against (with xdp_empty, the test-run's own cost).
 */
static void bench__xdp_floor_ct_lookup__one_hash_hit(void **state)
{
	struct sl_ct_key k;
	struct sl_ct_val v = { .family = SL_AF_INET };
	uint8_t in[PKT_MAX];
	struct floor *fl;
	struct tr_out o;
	uint32_t ns;
	int len;

	(void)state;
	fl = floor__open_and_load();
	assert_non_null(fl);
	memset(&k, 0, sizeof(k));
	k.proto = IPPROTO_TCP;
	k.family = SL_AF_INET;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(fl->maps.floor_ct), &k, &v, BPF_ANY), 0);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, NODE, 22, 64, TCPF_ACK);
	assert_int_equal(tr_run(fl->progs.floor_ct_lookup, false, in, len, BENCH_REPEAT, &o, &ns), 0);
	floor__destroy(fl);
	assert_int_equal(o.retval, XDP_PASS);
	tr_bench_print("xdp_floor_ct_lookup", ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(xdp_in__nodeport_syn__dnat_to_maglev_backend_and_ct_new),
		T(xdp_in__many_flows__each_on_its_maglev_backend),
		T(xdp_in__established_flow_after_backend_removal__ct_keeps_new_syn_rebalances),
		T(xdp_in__not_node_facing__passes_unchanged),
		T(xdp_in__nodeport_without_backends__drops_and_counts_no_backend),
		T(xdp_in__nodeport_table_not_written__random_backend_counts_maglev_miss),
		T(xdp_in__truncated_headers__pass_unchanged_and_count_parse_error),
		T(xdp_in__fragments_to_nodeport__pass_untranslated_and_count_fragment),
		T(xdp_in__udp_nodeport__checksum_valid_and_zero_stays_zero),
		T(xdp_in__udp_checksum_folding_to_zero__sent_as_ffff),
		T(xdp_in__ipv4_with_options__dnat_keeps_options_and_checksums),
		T(xdp_in__ipv6_nodeport__dnat_to_maglev_backend),
		T(tc_up__nodeport_reply__source_back_to_node_port),
		T(xdp_in__maglev_backend_removed__only_its_flows_move),
		T(xdp_test_run__repeat_of_dnat__reruns_on_rewritten_frame),
	};
	const struct CMUnitTest benches[] = {
		T(bench__xdp_ct_hit__every_run_a_hit),
		T(bench__xdp_maglev_new__every_run_a_new_flow),
		T(bench__xdp_miss__every_run_passes),
		T(bench__xdp_empty__test_run_floor),
		T(bench__xdp_floor_ct_lookup__one_hash_hit),
#undef T
	};
	const char *bench = getenv("SL_BENCH");
	int err;

	pkt_require_bpf("test_lb_xdp");
	err = pkt_netns_fresh();
	if (err < 0) {
		printf("test_lb_xdp: skipped: cannot enter a fresh network namespace: %s\n",
		       strerror(-err));
		return 77;
	}
	libbpf_set_print(tr_libbpf_quiet);
	err = cmocka_run_group_tests_name("lb_xdp", tests, NULL, NULL);
	if (bench && !strcmp(bench, "1"))
		err |= cmocka_run_group_tests_name("lb_xdp_bench", benches, NULL, NULL);
	return err;
}
