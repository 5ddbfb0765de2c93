// SPDX-License-Identifier: Apache-2.0
/*
 * BPF_PROG_TEST_RUN cases for NetworkPolicy in sluice_tc_in (the pod's egress) and
 * sluice_tc_out (its ingress): allow and deny by identity, port, range, protocol and SL_ID_ANY;
 * tracked flows and replies on one lookup, a SYN judged again, UDP idle; the node and ICMP
 * errors always pass; bypass attempts (fragments, IP options, IPv6 extension headers, spoofed
 * sources) denied; egress judged on the backend after the tc DNAT; flow events in the ring
 * buffer and their per-CPU rate limit. Maps are seeded through agent/maps as the agent writes
 * them. SL_BENCH=1 adds per-packet costs of a judged new flow with 1, 1,000 and 10,000 rules.
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

#include "agent/maps/maps.h"
#include "sl_abi.h"
#include "tc_pod.skel.h"
#include "tests/bpf/pktbuild.h"
#include "tests/bpf/testrun.h"

#define LO	   1
#define POD	   "10.244.0.10"
#define POD6	   "fd00:10:244::10"
#define PEER	   "10.244.0.20"
#define PEER6	   "fd00:10:244::20"
#define OTHER	   "10.244.0.30"
#define NODE	   "10.244.0.1"
#define OUTSIDE	   "192.0.2.1"
#define VIP	   "10.96.0.10"
#define ID_PEER	   300
#define ID_OTHER   400
#define CTX	   77
#define EP_ID	   5
#define MAX_EV	   16
#define BENCH_REPEAT 200000u

struct fix {
	struct tc_pod *skel;
	int stats_fd, ipc_fd, pol_fd, pct_fd, ep_fd;
	struct ring_buffer *rb;
	struct sl_pol_event ev[MAX_EV];
	size_t n_ev;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct fix *f = ctx;

	if (len >= sizeof(struct sl_pol_event) && f->n_ev < MAX_EV)
		memcpy(&f->ev[f->n_ev++], data, sizeof(struct sl_pol_event));
	return 0;
}

static bool l4_tel; /* the next setup loads with SL_CFG_F_L4_TELEMETRY */

static int setup_rate(void **state, uint32_t rate)
{
	struct fix *f = calloc(1, sizeof(*f));
	uint32_t lo = LO;

	if (!f)
		return -1;
	f->skel = tc_pod__open();
	if (!f->skel)
		goto err_free;
	f->skel->rodata->sl_cfg.ns_per_jiffy = tr_ns_per_jiffy();
	f->skel->rodata->sl_cfg.pol_events_per_sec = rate;
	f->skel->rodata->sl_cfg.flags = l4_tel ? SL_CFG_F_L4_TELEMETRY : 0;
	if (tr_pins_clear(f->skel->obj) < 0 || tc_pod__load(f->skel) < 0)
		goto err_destroy;
	f->stats_fd = bpf_map__fd(f->skel->maps.sluice_stats);
	f->ipc_fd = bpf_map__fd(f->skel->maps.sluice_ipcache);
	f->pol_fd = bpf_map__fd(f->skel->maps.sluice_policy);
	f->pct_fd = bpf_map__fd(f->skel->maps.sluice_pol_ct);
	f->ep_fd = bpf_map__fd(f->skel->maps.sluice_ep);
	f->rb = ring_buffer__new(bpf_map__fd(f->skel->maps.sluice_events), on_event, f, NULL);
	if (!f->rb)
		goto err_destroy;
	tr_ep_stats_seed(bpf_map__fd(f->skel->maps.sluice_ep_stats), &lo, 1, NULL);
	*state = f;
	return 0;
err_destroy:
	tc_pod__destroy(f->skel);
err_free:
	free(f);
	return -1;
}

static int setup(void **state)
{
	return setup_rate(state, 1000);
}

static int setup_rate2(void **state)
{
	return setup_rate(state, 2);
}

static int teardown(void **state)
{
	struct fix *f = *state;

	ring_buffer__free(f->rb);
	tc_pod__destroy(f->skel);
	free(f);
	return 0;
}

/* --- seeding -------------------------------------------------------------------------------- */

/* The pod under test (both families) with these isolation flags; PEER is a pod on lo too. */
static void pod_seed(struct fix *f, uint32_t flags)
{
	const struct tr_ep eps[] = {
		{ POD, LO, EP_ID, flags, flags ? CTX : 0 },
		{ POD6, LO, EP_ID, flags, flags ? CTX : 0 },
		{ PEER, LO, 6, 0, 0 },
		{ PEER6, LO, 6, 0, 0 },
	};

	tr_ep_seed(f->ep_fd, eps, 4);
}

struct ipc_def {
	const char *addr;
	unsigned len;
	uint32_t id;
};

static void reconcile(int fd, const char *name, size_t ksz, size_t vsz, const void *recs,
		      size_t n)
{
	struct maps_table t = { .name = name, .fd = fd, .key_size = ksz, .value_size = vsz,
				.entries = recs, .n = n };
	struct maps_result res = {};
	char err[256] = "";

	if (maps_reconcile(&maps_bpf_ops, &t, 1, &res, err, sizeof(err)) != 0)
		fail_msg("seed %s: %s", name, err);
}

static void ipc_seed(struct fix *f, const struct ipc_def *d, size_t n)
{
	size_t rec = sizeof(struct sl_ipc_key) + sizeof(struct sl_ipc_val), i;
	unsigned char *recs = calloc(n ? n : 1, rec);

	assert_non_null(recs);
	for (i = 0; i < n; i++) {
		struct sl_ipc_key k = { .prefixlen = 0 };
		struct sl_ipc_val v = { .identity = d[i].id };

		k.family = tr_abi_addr(d[i].addr, k.addr);
		k.prefixlen = 32 + d[i].len;
		memcpy(recs + i * rec, &k, sizeof(k));
		memcpy(recs + i * rec + sizeof(k), &v, sizeof(v));
	}
	reconcile(f->ipc_fd, "sluice_ipcache", sizeof(struct sl_ipc_key), sizeof(struct sl_ipc_val),
		  recs, n);
	free(recs);
}

/* PEER and PEER6 are ID_PEER, OTHER is ID_OTHER, NODE is the host. */
static void ipc_default(struct fix *f)
{
	const struct ipc_def d[] = { { PEER, 32, ID_PEER }, { PEER6, 128, ID_PEER },
				     { OTHER, 32, ID_OTHER }, { NODE, 32, SL_ID_HOST },
				     { POD, 32, 500 }, { POD6, 128, 500 } };

	ipc_seed(f, d, sizeof(d) / sizeof(d[0]));
}

struct pol_def {
	uint32_t id;
	uint8_t proto;
	uint16_t port; /* host order; 0 with ranges or every port */
	uint8_t dir;
	uint8_t n_ranges;
	struct sl_port_range r[SL_POL_RANGES];
};

#define PD(i, pr, po, d) { .id = (i), .proto = (pr), .port = (po), .dir = (d) }

static void pol_seed(struct fix *f, const struct pol_def *d, size_t n)
{
	size_t rec = sizeof(struct sl_pol_key) + sizeof(struct sl_pol_val), i;
	unsigned char *recs = calloc(n ? n : 1, rec);

	assert_non_null(recs);
	for (i = 0; i < n; i++) {
		struct sl_pol_key k = { .ctx = CTX, .identity = d[i].id, .dport = htons(d[i].port),
					.proto = d[i].proto, .dir = d[i].dir };
		struct sl_pol_val v = { .policy = 1, .n_ranges = d[i].n_ranges };

		memcpy(v.r, d[i].r, sizeof(v.r));
		memcpy(recs + i * rec, &k, sizeof(k));
		memcpy(recs + i * rec + sizeof(k), &v, sizeof(v));
	}
	reconcile(f->pol_fd, "sluice_policy", sizeof(struct sl_pol_key), sizeof(struct sl_pol_val),
		  recs, n);
	free(recs);
}

/* --- running -------------------------------------------------------------------------------- */

/* Runs the hook of dir (SL_POL_EGRESS: sluice_tc_in) over the frame; returns its verdict. */
static int run(struct fix *f, int dir, const uint8_t *pkt, int len)
{
	const struct bpf_program *prog =
		dir == SL_POL_EGRESS ? f->skel->progs.sluice_tc_in : f->skel->progs.sluice_tc_out;
	struct tr_out o;

	assert_int_equal(tr_run(prog, true, pkt, len, 1, &o, NULL), 0);
	return o.retval;
}

static int frame(uint8_t *buf, const char *src, uint16_t sport, const char *dst, uint16_t dport,
		 int proto, uint8_t flags)
{
	return tr_frame(buf, strchr(src, ':') ? AF_INET6 : AF_INET, proto, src, sport, dst, dport,
			16, flags);
}

#define SYN 0x02
#define ACK 0x10

static uint64_t stat(struct fix *f, int idx)
{
	return tr_stat_packets(f->stats_fd, (uint32_t)idx);
}

static size_t events(struct fix *f)
{
	assert_true(ring_buffer__consume(f->rb) >= 0);
	return f->n_ev;
}

static size_t pct_count(struct fix *f)
{
	struct sl_pct_key k, next;
	void *prev = NULL;
	size_t n = 0;

	while (bpf_map_get_next_key(f->pct_fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* --- cases ---------------------------------------------------------------------------------- */

static void not_isolated__passes_untracked(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, 0);
	ipc_default(f);
	len = frame(in, OUTSIDE, 40000, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	assert_int_equal(pct_count(f), 0);
	assert_int_equal(stat(f, SL_STAT_POL_ALLOWED) + stat(f, SL_STAT_POL_NO_RULE), 0);
	assert_int_equal(events(f), 0);
}

static void ingress_allowed_port__passes_tracks_and_emits_allow_event(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_TCP, 80, SL_POL_INGRESS) };
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_ALLOWED), 1);
	assert_int_equal(pct_count(f), 2);
	assert_int_equal(events(f), 1);
	assert_int_equal(f->ev[0].verdict, SL_VERDICT_ALLOW);
	assert_int_equal(f->ev[0].reason, SL_POL_R_ALLOWED);
	assert_int_equal(f->ev[0].ep_id, EP_ID);
	assert_int_equal(f->ev[0].peer_id, ID_PEER);
	assert_int_equal(f->ev[0].policy, 1);
	assert_int_equal(f->ev[0].dir, SL_POL_INGRESS);
	assert_int_equal(ntohs(f->ev[0].dport), 80);
	assert_int_equal(f->ev[0].proto, IPPROTO_TCP);
	/* the rest of the flow and the pod's replies: one lookup each, no new judgement */
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, ACK);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame(in, POD, 80, PEER, 40000, IPPROTO_TCP, SYN | ACK);
	assert_int_equal(run(f, SL_POL_EGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_TRACKED), 2);
	assert_int_equal(stat(f, SL_STAT_POL_OPEN), 0);
	assert_int_equal(stat(f, SL_STAT_POL_ALLOWED), 1);
	assert_int_equal(events(f), 1);
}

/* The drops of one flow (sluice_l4_drop), summed over CPUs. */
static struct sl_l4_dval drops_of(struct fix *f, const char *peer, uint16_t port, uint8_t proto,
				  uint8_t dir, uint8_t reason)
{
	struct sl_l4_dkey k = { .port = port, .family = SL_AF_INET, .proto = proto, .dir = dir,
				.reason = reason };
	uint64_t sum[2];
	struct sl_l4_dval v;

	tr_abi_addr(POD, k.local);
	tr_abi_addr(peer, k.peer);
	assert_int_equal(pkt_percpu_sum(bpf_map__fd(f->skel->maps.sluice_l4_drop), &k, sum, 2), 0);
	memcpy(&v, sum, sizeof(v));
	return v;
}

static size_t drop_count(struct fix *f)
{
	struct sl_l4_dkey k, next;
	int fd = bpf_map__fd(f->skel->maps.sluice_l4_drop);
	size_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static void ingress_no_rule__shot_counted_and_deny_event(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_TCP, 80, SL_POL_INGRESS) };
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = frame(in, PEER, 40000, POD, 81, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	len = frame(in, OTHER, 40000, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	len = frame(in, OUTSIDE, 40000, POD, 80, IPPROTO_UDP, 0);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	assert_int_equal(stat(f, SL_STAT_POL_NO_RULE), 3);
	assert_int_equal(pct_count(f), 0);
	assert_int_equal(events(f), 3);
	assert_int_equal(f->ev[1].verdict, SL_VERDICT_DENY);
	assert_int_equal(f->ev[1].reason, SL_POL_R_NO_RULE);
	assert_int_equal(f->ev[1].peer_id, ID_OTHER);
	assert_int_equal(f->ev[2].peer_id, SL_ID_WORLD);
	/* a reply-looking packet from a denied peer is no reply: nothing was let through */
	len = frame(in, OTHER, 80, POD, 40000, IPPROTO_TCP, ACK);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	assert_int_equal(drop_count(f), 0); /* L4 telemetry off: no per-flow drops */
}

/* With L4 telemetry on, each denied packet is counted per (pod, peer, port, proto, dir, reason). */
static void drops__counted_per_flow_and_reason(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_TCP, 80, SL_POL_INGRESS) };
	struct sl_l4_dval v;
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = frame(in, PEER, 40000, POD, 81, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT); /* the SYN again */
	len = frame(in, OUTSIDE, 40000, POD, 80, IPPROTO_UDP, 0);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, SYN); /* allowed: not a drop */
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	v = drops_of(f, PEER, 81, IPPROTO_TCP, SL_POL_INGRESS, SL_POL_R_NO_RULE);
	assert_int_equal(v.packets, 2);
	assert_int_equal(v.bytes, 2 * (uint64_t)frame(in, PEER, 40000, POD, 81, IPPROTO_TCP, SYN));
	assert_int_equal(drops_of(f, OUTSIDE, 80, IPPROTO_UDP, SL_POL_INGRESS, SL_POL_R_NO_RULE).packets, 1);
	assert_int_equal(drop_count(f), 2);
}

static int setup_l4_tel(void **state)
{
	int r;

	l4_tel = true;
	r = setup(state);
	l4_tel = false;
	return r;
}

static void ranges_protocol_any_and_any_identity(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = {
		{ .id = ID_PEER, .proto = IPPROTO_TCP, .dir = SL_POL_INGRESS, .n_ranges = 2,
		  .r = { { 8000, 8010 }, { 9000, 9000 } } },
		PD(ID_OTHER, 0, 0, SL_POL_INGRESS),
		PD(SL_ID_ANY, IPPROTO_UDP, 53, SL_POL_INGRESS),
	};
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 3);
	len = frame(in, PEER, 40000, POD, 8005, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame(in, PEER, 40001, POD, 9000, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame(in, PEER, 40002, POD, 8011, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	len = frame(in, PEER, 40003, POD, 8005, IPPROTO_UDP, 0);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	len = frame(in, OTHER, 40000, POD, 1, IPPROTO_UDP, 0);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame(in, OUTSIDE, 40000, POD, 53, IPPROTO_UDP, 0);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame(in, OUTSIDE, 40000, POD, 54, IPPROTO_UDP, 0);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
}

static void syn_on_tracked_tuple__judged_again_after_rule_removed(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_TCP, 80, SL_POL_INGRESS) };
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	pol_seed(f, p, 0);
	/* the established connection goes on ... */
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, ACK);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	/* ... a new one on the same tuple is judged under the new policy */
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
}

static void udp_flow_idle__judged_again(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_UDP, 53, SL_POL_INGRESS) };
	struct sl_pct_key k, next;
	struct sl_pct_val v;
	uint8_t in[PKT_MAX];
	void *prev = NULL;
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = frame(in, PEER, 40000, POD, 53, IPPROTO_UDP, 0);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	pol_seed(f, p, 0);
	while (bpf_map_get_next_key(f->pct_fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		assert_int_equal(bpf_map_lookup_elem(f->pct_fd, &k, &v), 0);
		v.last_seen -= (SL_POL_UDP_IDLE_S + 1) * 1000000000ull;
		assert_int_equal(bpf_map_update_elem(f->pct_fd, &k, &v, BPF_EXIST), 0);
	}
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
}

static void node_icmp_errors_and_echo(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED | SL_EP_F_EGRESS_ISOLATED);
	ipc_default(f);
	len = frame(in, NODE, 40000, POD, 8080, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_HOST), 1);
	/* ICMP: a UDP frame turned into ICMP with the type where the source port was */
	len = frame(in, OUTSIDE, 0, POD, 0, IPPROTO_UDP, 0);
	in[14 + 9] = IPPROTO_ICMP;
	in[14 + 20] = 3; /* destination unreachable */
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_ICMP), 1);
	in[14 + 20] = 8; /* echo request: a protocol like any other, denied without a rule */
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
}

/* SCTP: judged on its ports (the common header), though never load-balanced at tc. */
static void sctp__judged_on_ports(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_SCTP, 9, SL_POL_INGRESS) };
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = frame(in, PEER, 40000, POD, 9, IPPROTO_UDP, 0); /* 16 bytes after the ports */
	in[14 + 9] = IPPROTO_SCTP;
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame(in, PEER, 40000, POD, 10, IPPROTO_UDP, 0);
	in[14 + 9] = IPPROTO_SCTP;
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	assert_int_equal(stat(f, SL_STAT_TC_DNAT), 0);
}

static void fragments__denied_unless_every_protocol_allowed(void **state)
{
	struct fix *f = *state;
	struct pol_def p[] = { PD(ID_PEER, IPPROTO_UDP, 53, SL_POL_INGRESS) };
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_UDP, .src = PEER, .dst = POD,
			      .dport = 53, .payload_len = 32, .frag_off = 0x2000 /* MF */ };
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = pkt_build(&s, in, sizeof(in));
	assert_true(len > 0);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	s.frag_off = 3; /* a later fragment */
	len = pkt_build(&s, in, sizeof(in));
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	assert_int_equal(stat(f, SL_STAT_POL_FRAGMENT), 2);
	p[0].proto = 0;
	p[0].port = 0;
	pol_seed(f, p, 1);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
}

static void ip_options__judged_on_the_real_ports(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_TCP, 80, SL_POL_INGRESS) };
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .src = PEER, .dst = POD,
			      .dport = 80, .ip_opt_len = 40 };
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = pkt_build(&s, in, sizeof(in));
	assert_true(len > 0);
	pkt_tcp_flags_set(in, (size_t)len, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	s.dport = 81;
	s.sport = 40001;
	len = pkt_build(&s, in, sizeof(in));
	pkt_tcp_flags_set(in, (size_t)len, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
}

/* An IPv6 TCP frame with an 8-byte hop-by-hop header before the TCP header. */
static int frame6_hbh(uint8_t *buf, uint16_t dport)
{
	uint8_t tmp[PKT_MAX];
	int len = frame(tmp, PEER6, 40000, POD6, dport, IPPROTO_TCP, SYN);
	uint16_t plen;

	assert_true(len > 54);
	memcpy(buf, tmp, 54);
	buf[14 + 6] = 0; /* next header: hop-by-hop */
	buf[54] = IPPROTO_TCP;
	buf[55] = 0;
	memset(buf + 56, 0, 6); /* PadN of 4 after Pad1 x2 would do; zeros are Pad1 */
	memcpy(buf + 62, tmp + 54, (size_t)len - 54);
	plen = (uint16_t)(ntohs(*(uint16_t *)(buf + 18)) + 8);
	*(uint16_t *)(buf + 18) = htons(plen);
	return len + 8;
}

static void ipv6_extension_header__denied_unless_every_protocol_allowed(void **state)
{
	struct fix *f = *state;
	struct pol_def p[] = { PD(ID_PEER, IPPROTO_TCP, 80, SL_POL_INGRESS) };
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = frame(in, PEER6, 40000, POD6, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame6_hbh(in, 80);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	assert_int_equal(stat(f, SL_STAT_POL_L4_UNKNOWN), 1);
	p[0].proto = 0;
	p[0].port = 0;
	pol_seed(f, p, 1);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
}

static void spoofed_source__shot_at_egress_link_local_v6_passes(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, 0);
	ipc_default(f);
	/* OTHER is not registered on this veth (nor anywhere): a pod may not send as it */
	len = frame(in, OTHER, 40000, PEER, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_EGRESS, in, len), TC_ACT_SHOT);
	assert_int_equal(stat(f, SL_STAT_POL_SPOOFED), 1);
	assert_int_equal(events(f), 1);
	assert_int_equal(f->ev[0].reason, SL_POL_R_SPOOFED);
	len = frame(in, POD, 40000, PEER, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_EGRESS, in, len), TC_ACT_OK);
	len = frame(in, "fe80::1", 0, "ff02::1", 0, IPPROTO_UDP, 0);
	assert_int_equal(run(f, SL_POL_EGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_SPOOFED), 1);
}

static void egress_after_dnat__judged_on_the_backend(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_TCP, 8080, SL_POL_EGRESS) };
	struct sl_svc_key sk = { .port = htons(80), .proto = IPPROTO_TCP };
	struct sl_svc_val sv = { .svc_id = 9, .count = 1 };
	struct sl_backend_key bk = { .svc_id = 9, .slot = 0 };
	struct sl_backend_val bv = { .port = htons(8080) };
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_EGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	sk.family = tr_abi_addr(VIP, sk.addr);
	bv.family = tr_abi_addr(PEER, bv.addr);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.sluice_backend), &bk, &bv,
					     BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.sluice_svc), &sk, &sv,
					     BPF_ANY), 0);
	len = frame(in, POD, 40000, VIP, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_EGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_TC_DNAT), 1);
	assert_int_equal(stat(f, SL_STAT_POL_ALLOWED), 1);
	assert_int_equal(events(f), 1);
	assert_int_equal(f->ev[0].peer_id, ID_PEER);
	assert_int_equal(ntohs(f->ev[0].dport), 8080);
	/* the same Service backed by OTHER: denied, the backend is what counts */
	bv.family = tr_abi_addr(OTHER, bv.addr);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(f->skel->maps.sluice_backend), &bk, &bv,
					     BPF_ANY), 0);
	len = frame(in, POD, 40001, VIP, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_EGRESS, in, len), TC_ACT_SHOT);
	assert_int_equal(stat(f, SL_STAT_POL_NO_RULE), 1);
}

static void other_direction_isolated__flow_tracked_so_replies_pass(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	len = frame(in, POD, 40000, OUTSIDE, 443, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_EGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_OPEN), 1);
	len = frame(in, OUTSIDE, 443, POD, 40000, IPPROTO_TCP, SYN | ACK);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_TRACKED), 1);
	len = frame(in, OUTSIDE, 443, POD, 40001, IPPROTO_TCP, SYN | ACK);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
}

/* A flow that began before any policy isolated the pod: spared with SL_EP_F_TRACK, judged
 * (and here dropped) without it. */
static void flow_before_isolation__spared_only_when_tracked(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	int len;

	ipc_default(f);
	pod_seed(f, SL_EP_F_TRACK);
	len = frame(in, OTHER, 40000, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_OPEN), 1);
	assert_int_equal(pct_count(f), 2);
	pod_seed(f, SL_EP_F_TRACK | SL_EP_F_INGRESS_ISOLATED);
	len = frame(in, OTHER, 40000, POD, 80, IPPROTO_TCP, ACK);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame(in, OTHER, 40001, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	/* without the flag nothing was tracked, so the same flow's next segment is judged */
	pod_seed(f, 0);
	len = frame(in, OTHER, 40002, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	len = frame(in, OTHER, 40002, POD, 80, IPPROTO_TCP, ACK);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
}

static void events__rate_limited_per_cpu(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	int len, i;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	for (i = 0; i < 5; i++) {
		len = frame(in, OTHER, (uint16_t)(40000 + i), POD, 80, IPPROTO_TCP, SYN);
		assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_SHOT);
	}
	assert_int_equal(events(f), 2);
	assert_int_equal(stat(f, SL_STAT_EVENT_SAMPLED), 3);
	assert_int_equal(stat(f, SL_STAT_POL_NO_RULE), 5);
}

/* --- benches (SL_BENCH=1) ------------------------------------------------------------------- */

/*
 * tc_pol_syn_<N>rules: a SYN to the pod allowed by the last of N rules (N policy entries of the
 * pod's context, each another identity and port, plus N /32 identities in sluice_ipcache). A
 * pure SYN is always judged, so every run is the full new-flow path: tracked-flow lookup,
 * identity, rule lookups, two tracking writes. tc_pol_tracked: an ACK of that flow.
 */
/* Loads n rules into f, the matching one last, as the 1/1,000/10,000-rule benches have them. */
static void bench_seed(struct fix *f, size_t n)
{
	size_t i;
	struct pol_def *p = calloc(n, sizeof(*p));
	struct ipc_def *d = calloc(n + 2, sizeof(*d));
	char (*ips)[48] = calloc(n, sizeof(*ips));

	assert_true(p && d && ips);
	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	for (i = 0; i < n; i++) {
		p[i] = (struct pol_def){ .id = (uint32_t)(1000 + i), .proto = IPPROTO_TCP,
					 .port = (uint16_t)(1 + i % 60000), .dir = SL_POL_INGRESS };
		snprintf(ips[i], sizeof(ips[i]), "10.%u.%u.%u", (unsigned)(100 + i / 65536),
			 (unsigned)((i / 256) % 256), (unsigned)(i % 256));
		d[i] = (struct ipc_def){ ips[i], 32, (uint32_t)(1000 + i) };
	}
	p[n - 1] = (struct pol_def){ .id = ID_PEER, .proto = IPPROTO_TCP, .port = 80,
				     .dir = SL_POL_INGRESS };
	d[n] = (struct ipc_def){ PEER, 32, ID_PEER };
	d[n + 1] = (struct ipc_def){ POD, 32, 500 };
	ipc_seed(f, d, n + 2);
	pol_seed(f, p, n);
	free(p);
	free(d);
	free(ips);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

#define BENCH_ROUNDS 15

/*
 * A judged SYN with 1, 1,000 and 10,000 rules loaded, each in its own skeleton (its own maps),
 * measured in interleaved rounds (A B C, B C A, ...) of BENCH_REPEAT / 10 repeats: the host's
 * noise then falls on all three alike, and the median of the rounds is printed for each. The
 * fixture never reaches the flow table, so every repeat is a new flow.
 */
static void bench__tc_pol_syn_rules(void **state)
{
	static const size_t counts[] = { 1, 1000, 10000 };
	static const char *const names[] = { "tc_pol_syn_1rule", "tc_pol_syn_1000rules",
					      "tc_pol_syn_10000rules" };
	void *fx[3] = { *state, NULL, NULL };
	uint32_t ns[3][BENCH_ROUNDS];
	uint8_t in[PKT_MAX];
	struct tr_out o;
	size_t r, k, c;
	int len;

	assert_int_equal(setup(&fx[1]), 0);
	assert_int_equal(setup(&fx[2]), 0);
	for (c = 0; c < 3; c++)
		bench_seed(fx[c], counts[c]);
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, SYN);
	for (r = 0; r < BENCH_ROUNDS; r++) {
		for (k = 0; k < 3; k++) {
			c = (r + k) % 3;
			assert_int_equal(tr_run(((struct fix *)fx[c])->skel->progs.sluice_tc_out, true,
						in, len, BENCH_REPEAT / 10, &o, &ns[c][r]),
					 0);
			assert_int_equal(o.retval, TC_ACT_OK);
		}
	}
	for (c = 0; c < 3; c++) {
		assert_int_equal(stat(fx[c], SL_STAT_POL_ALLOWED),
				 (uint64_t)BENCH_ROUNDS * (BENCH_REPEAT / 10));
		qsort(ns[c], BENCH_ROUNDS, sizeof(ns[c][0]), cmp_u32);
		tr_bench_print(names[c], ns[c][BENCH_ROUNDS / 2]);
	}
	teardown(&fx[1]);
	teardown(&fx[2]);
}

static void bench__tc_pol_tracked(void **state)
{
	struct fix *f = *state;
	const struct pol_def p[] = { PD(ID_PEER, IPPROTO_TCP, 80, SL_POL_INGRESS) };
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint32_t ns;
	int len;

	pod_seed(f, SL_EP_F_INGRESS_ISOLATED);
	ipc_default(f);
	pol_seed(f, p, 1);
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, SYN);
	assert_int_equal(run(f, SL_POL_INGRESS, in, len), TC_ACT_OK);
	len = frame(in, PEER, 40000, POD, 80, IPPROTO_TCP, ACK);
	assert_int_equal(tr_run(f->skel->progs.sluice_tc_out, true, in, len, BENCH_REPEAT, &o, &ns),
			 0);
	assert_int_equal(o.retval, TC_ACT_OK);
	assert_int_equal(stat(f, SL_STAT_POL_TRACKED), BENCH_REPEAT);
	tr_bench_print("tc_pol_tracked", ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(not_isolated__passes_untracked),
		T(ingress_allowed_port__passes_tracks_and_emits_allow_event),
		T(ingress_no_rule__shot_counted_and_deny_event),
		cmocka_unit_test_setup_teardown(drops__counted_per_flow_and_reason, setup_l4_tel,
						teardown),
		T(ranges_protocol_any_and_any_identity),
		T(syn_on_tracked_tuple__judged_again_after_rule_removed),
		T(udp_flow_idle__judged_again),
		T(node_icmp_errors_and_echo),
		T(sctp__judged_on_ports),
		T(fragments__denied_unless_every_protocol_allowed),
		T(ip_options__judged_on_the_real_ports),
		T(ipv6_extension_header__denied_unless_every_protocol_allowed),
		T(spoofed_source__shot_at_egress_link_local_v6_passes),
		T(egress_after_dnat__judged_on_the_backend),
		T(other_direction_isolated__flow_tracked_so_replies_pass),
		T(flow_before_isolation__spared_only_when_tracked),
		cmocka_unit_test_setup_teardown(events__rate_limited_per_cpu, setup_rate2,
						teardown),
	};
	const struct CMUnitTest benches[] = {
		T(bench__tc_pol_syn_rules),
		T(bench__tc_pol_tracked),
#undef T
	};
	const char *bench = getenv("SL_BENCH");
	int err;

	pkt_require_bpf("test_policy_tc");
	err = pkt_netns_fresh();
	if (err < 0) {
		printf("test_policy_tc: skipped: cannot enter a fresh network namespace: %s\n",
		       strerror(-err));
		return 77;
	}
	libbpf_set_print(tr_libbpf_quiet);
	err = cmocka_run_group_tests_name("policy_tc", tests, NULL, NULL);
	if (bench && !strcmp(bench, "1"))
		err |= cmocka_run_group_tests_name("policy_tc_bench", benches, NULL, NULL);
	return err;
}
