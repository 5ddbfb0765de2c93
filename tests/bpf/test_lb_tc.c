// SPDX-License-Identifier: Apache-2.0
/*
 * BPF_PROG_TEST_RUN of the Service load-balancing paths of sluice_tc_in (DNAT of packets a pod
 * sends to a frontend, with conntrack) and sluice_tc_out (reverse NAT of the backend's reply),
 * from the real tc_pod skeleton. Pinning is off and each case loads its own skeleton (see
 * test_tc.c); frontends and backends are written through agent/maps (maps_reconcile, backends
 * before services, as the agent orders them), conntrack is read back by fd.
 *
 * Checksums: test-run builds a linear skb with ip_summed = CHECKSUM_NONE, so the skb helpers
 * (bpf_l3/l4_csum_replace) rewrite the checksum fields in the packet itself. Inputs carry
 * correct IPv4 and TCP/UDP checksums (pkt_l4_csum_fill); every translated packet is compared
 * byte for byte with a frame built from scratch for the translated tuple, and its checksums
 * are also recomputed in userspace (pkt_csums_verify).
 *
 * Test-run repeat (net/bpf/test_run.c): the same skb runs repeat times, and nothing resets it
 * between runs, so a program that rewrites the packet sees its own output on the next run
 * (tc_test_run__repeat_of_dnat__reruns_on_rewritten_packet pins this). The benches (SL_BENCH=1)
 * rely on it: each seeds a second conntrack entry that translates the rewritten packet back, so
 * every run of the repeat takes the measured path with a full rewrite (see bench_* below).
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
#include <time.h>

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

#define LO_IFINDEX 1
#define MAX_BE	   4

#define CLIENT	  "10.244.0.2"
#define VIP	  "10.96.0.10"
#define BE_A	  "10.244.0.5"
#define BE_B	  "10.244.0.6"
#define CLIENT6	  "fd00:10:244::2"
#define VIP6	  "fd00:96::10"
#define BE6	  "fd00:10:244::5"

#define TCPF_SYN 0x02
#define TCPF_ACK 0x10

#define BENCH_REPEAT 1000000u

struct fix {
	struct tc_pod *skel;
	int stats_fd;
	int ep_stats_fd;
	int svc_fd;
	int backend_fd;
	int ct_fd;
};

struct be_def {
	const char *addr;
	uint16_t port; /* host order */
};

/* One frontend as the agent writes it: sluice_svc entry plus backends in slots 0..n-1. */
struct svc_def {
	const char *vip;
	uint16_t port; /* host order */
	uint8_t proto;
	uint32_t svc_id;
	uint16_t flags;
	uint32_t aff_timeout;
	size_t n;
	struct be_def be[MAX_BE];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	uint32_t lo = LO_IFINDEX;

	if (!f)
		return -1;
	f->skel = tc_pod__open();
	if (!f->skel)
		goto err_free;
	f->skel->rodata->sl_cfg.ns_per_jiffy = tr_ns_per_jiffy();
	f->skel->rodata->sl_cfg.flags = SL_CFG_F_L4_TELEMETRY; /* drops per flow (droptel.h) */
	if (tr_pins_clear(f->skel->obj) < 0 || tc_pod__load(f->skel) < 0)
		goto err_destroy;
	f->stats_fd = bpf_map__fd(f->skel->maps.sluice_stats);
	f->ep_stats_fd = bpf_map__fd(f->skel->maps.sluice_ep_stats);
	f->svc_fd = bpf_map__fd(f->skel->maps.sluice_svc);
	f->backend_fd = bpf_map__fd(f->skel->maps.sluice_backend);
	f->ct_fd = bpf_map__fd(f->skel->maps.sluice_ct);
	/* lo seeded the way the agent does, so no case counts EP_MISS */
	tr_ep_stats_seed(f->ep_stats_fd, &lo, 1, NULL);
	/* ... and the client is a pod on it, so its packets pass the source check */
	{
		const struct tr_ep eps[] = { { CLIENT, LO_IFINDEX, 1, 0, 0 },
					     { CLIENT6, LO_IFINDEX, 1, 0, 0 } };

		tr_ep_seed(bpf_map__fd(f->skel->maps.sluice_ep), eps, 2);
	}
	*state = f;
	return 0;
err_destroy:
	tc_pod__destroy(f->skel);
err_free:
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	tc_pod__destroy(f->skel);
	free(f);
	return 0;
}

/* Makes sluice_svc and sluice_backend hold exactly these frontends; returns the writes. */
static size_t lb_seed(struct fix *f, const struct svc_def *d, size_t n)
{
	unsigned char svc[8 * (sizeof(struct sl_svc_key) + sizeof(struct sl_svc_val))];
	unsigned char bk[8 * MAX_BE * (sizeof(struct sl_backend_key) + sizeof(struct sl_backend_val))];
	size_t i, j, nb = 0, off;
	struct maps_table t[] = {
		{ .name = "sluice_backend", .fd = f->backend_fd,
		  .key_size = sizeof(struct sl_backend_key),
		  .value_size = sizeof(struct sl_backend_val), .entries = bk },
		{ .name = "sluice_svc", .fd = f->svc_fd, .key_size = sizeof(struct sl_svc_key),
		  .value_size = sizeof(struct sl_svc_val), .entries = svc, .n = n },
	};
	struct maps_result res = {};
	char err[256] = "";

	assert_true(n <= 8);
	for (i = 0; i < n; i++) {
		struct sl_svc_key k = { .port = htons(d[i].port), .proto = d[i].proto };
		struct sl_svc_val v = { .svc_id = d[i].svc_id, .count = (uint16_t)d[i].n,
					.flags = d[i].flags,
					.affinity_timeout = d[i].aff_timeout };

		assert_true(d[i].n <= MAX_BE);
		k.family = tr_abi_addr(d[i].vip, k.addr);
		off = i * (sizeof(k) + sizeof(v));
		memcpy(svc + off, &k, sizeof(k));
		memcpy(svc + off + sizeof(k), &v, sizeof(v));
		for (j = 0; j < d[i].n; j++) {
			struct sl_backend_key bkk = { .svc_id = d[i].svc_id, .slot = (uint32_t)j };
			struct sl_backend_val bv = { .port = htons(d[i].be[j].port) };

			bv.family = tr_abi_addr(d[i].be[j].addr, bv.addr);
			off = nb * (sizeof(bkk) + sizeof(bv));
			memcpy(bk + off, &bkk, sizeof(bkk));
			memcpy(bk + off + sizeof(bkk), &bv, sizeof(bv));
			nb++;
		}
	}
	t[0].n = nb;
	if (maps_reconcile(&maps_bpf_ops, t, 2, &res, err, sizeof(err)) != 0)
		fail_msg("lb_seed: %s", err);
	return res.updates + res.deletes;
}

static void run_prog(const struct bpf_program *prog, const uint8_t *pkt, int len,
		     struct tr_out *out)
{
	assert_int_equal(tr_run(prog, true, pkt, len, 1, out, NULL), 0);
}

/* The checksum checks the cases rely on do catch a wrong byte anywhere they cover. */
static void pktbuild__corrupted_frames__checksum_verify_fails(void **state)
{
	static const size_t at[] = { 14 + 8 /* TTL: IPv4 header */, 14 + 12 /* source address */,
				     14 + 20 + 2 /* TCP port */, 14 + 20 + 20 + 3 /* payload */ };
	uint8_t buf[PKT_MAX];
	size_t i;
	int len;

	(void)state;
	for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		len = tr_frame(buf, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 8, 0);
		buf[at[i]] ^= 0x01;
		assert_int_equal(pkt_csums_verify(buf, (size_t)len), -EBADMSG);
	}
	len = tr_frame(buf, AF_INET6, IPPROTO_UDP, CLIENT6, 40000, VIP6, 53, 8, 0);
	buf[14 + 8 + 15] ^= 0x80; /* source address: only the pseudo-header covers it */
	assert_int_equal(pkt_csums_verify(buf, (size_t)len), -EBADMSG);
	len = tr_frame(buf, AF_INET, IPPROTO_UDP, CLIENT, 40000, VIP, 53, 8, 0);
	tr_udp_csum_zero(buf, len);
	buf[14 + 20 + 8] ^= 0x01; /* no UDP checksum: payload not covered */
	assert_int_equal(pkt_csums_verify(buf, (size_t)len), 0);
}

static const struct svc_def svc_web = {
	.vip = VIP, .port = 80, .proto = IPPROTO_TCP, .svc_id = 7, .n = 1,
	.be = { { BE_A, 8080 } },
};

static void tc_in__tcp_syn_to_frontend__dnat_to_backend_and_ct_new(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct sl_ct_key kf = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_TCP, CLIENT, 40000, VIP, 80);
	struct sl_ct_key kr = tr_ct_key(SL_CT_DIR_REV, IPPROTO_TCP, BE_A, 8080, CLIENT, 40000);
	struct tr_out o;
	int len, wlen;

	assert_int_equal(lb_seed(f, &svc_web, 1), 2);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, 0);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 40000, BE_A, 8080, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	{
		const struct tr_stat_want w[] = {
			{ SL_STAT_TC_IN_PASS, 1, (uint64_t)len },
			{ SL_STAT_CT_NEW, 1, 0 },
			{ SL_STAT_TC_DNAT, 1, (uint64_t)len },
		};

		tr_assert_stats(f->stats_fd, w, 3);
	}
	tr_assert_ct(f->ct_fd, &kf, BE_A, 8080, 7, 0);
	tr_assert_ct(f->ct_fd, &kr, VIP, 80, 7, 0);
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 2);
}

static void tc_in__established_flow_after_backend_change__ct_hit_keeps_backend(void **state)
{
	struct fix *f = *state;
	struct svc_def moved = svc_web;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &svc_web, 1);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	/* the only backend is replaced: A leaves, B takes slot 0 */
	moved.be[0] = (struct be_def){ BE_B, 8080 };
	assert_int_equal(lb_seed(f, &moved, 1), 1);

	/* the handshake's ACK and a data segment of the same flow stay on A */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, TCPF_ACK);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 40000, BE_A, 8080, 0, TCPF_ACK);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 300, TCPF_ACK | 0x08);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 40000, BE_A, 8080, 300,
			TCPF_ACK | 0x08);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	/* a retransmitted SYN within CT_TCP_REUSE_NS also keeps A */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, 0);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 40000, BE_A, 8080, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 3);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 4);

	/* a new flow (other source port) goes to the new backend */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40001, VIP, 80, 0, 0);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 40001, BE_B, 8080, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 3);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 2);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_IN_PASS), 5);
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 4);
}

static void tc_in__two_backends__every_flow_on_one_of_them_and_stable(void **state)
{
	struct fix *f = *state;
	struct svc_def two = svc_web;
	uint8_t in[PKT_MAX], want_a[PKT_MAX], want_b[PKT_MAX];
	int len, la, lb, i, on_a = 0;
	struct tr_out o;

	two.n = 2;
	two.be[1] = (struct be_def){ BE_B, 8080 };
	lb_seed(f, &two, 1);
	for (i = 0; i < 64; i++) {
		uint16_t sport = (uint16_t)(41000 + i);
		bool a;

		len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, sport, VIP, 80, 0, 0);
		la = tr_frame(want_a, AF_INET, IPPROTO_TCP, CLIENT, sport, BE_A, 8080, 0, 0);
		lb = tr_frame(want_b, AF_INET, IPPROTO_TCP, CLIENT, sport, BE_B, 8080, 0, 0);
		run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
		a = o.len == (uint32_t)la && !memcmp(o.data, want_a, (size_t)la);
		assert_true(a || (o.len == (uint32_t)lb && !memcmp(o.data, want_b, (size_t)lb)));
		on_a += a;
		/* the next segment of the flow follows the first */
		len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, sport, VIP, 80, 10, TCPF_ACK);
		la = tr_frame(want_a, AF_INET, IPPROTO_TCP, CLIENT, sport, a ? BE_A : BE_B, 8080,
			      10, TCPF_ACK);
		run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
		tr_assert_translated(&o, TC_ACT_OK, want_a, la);
	}
	/* random choice: both used (a one-sided split of 64 has probability 2^-63) */
	assert_true(on_a > 0 && on_a < 64);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 64);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 64);
}

static void tc_in__not_a_frontend__passes_unchanged(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint64_t bytes = 0;
	int len;

	lb_seed(f, &svc_web, 1);
	/* another address, the VIP on another port, the VIP:port over UDP */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, "10.244.0.9", 80, 20, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_out(&o, TC_ACT_OK, in, len);
	bytes += (uint64_t)len;
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 81, 20, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_out(&o, TC_ACT_OK, in, len);
	bytes += (uint64_t)len;
	len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, 40000, VIP, 80, 20, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_out(&o, TC_ACT_OK, in, len);
	bytes += (uint64_t)len;
	{
		const struct tr_stat_want w[] = { { SL_STAT_TC_IN_PASS, 3, bytes } };

		tr_assert_stats(f->stats_fd, w, 1);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
}

static void tc_in__frontend_without_backends__shot_and_counts_no_backend(void **state)
{
	struct fix *f = *state;
	struct svc_def empty = svc_web;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	int len;

	empty.n = 0;
	lb_seed(f, &empty, 1);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	assert_int_equal(o.retval, TC_ACT_SHOT);
	{
		const struct tr_stat_want w[] = {
			{ SL_STAT_TC_IN_PASS, 1, (uint64_t)len },
			{ SL_STAT_NO_BACKEND, 1, (uint64_t)len },
		};

		tr_assert_stats(f->stats_fd, w, 2);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
	/* and per flow: the client's packet to the frontend, dropped for want of a backend */
	{
		struct sl_l4_dkey k = { .port = 80, .family = SL_AF_INET, .proto = IPPROTO_TCP,
					.dir = SL_POL_EGRESS, .reason = SL_DROP_NO_BACKEND };
		uint64_t sum[2];

		tr_abi_addr(CLIENT, k.local);
		tr_abi_addr(VIP, k.peer);
		assert_int_equal(pkt_percpu_sum(bpf_map__fd(f->skel->maps.sluice_l4_drop), &k, sum,
						2), 0);
		assert_int_equal(sum[0], 1);
		assert_int_equal(sum[1], (uint64_t)len);
	}
}

static void tc_out__reply_of_tracked_flow__source_back_to_frontend(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct tr_out o;
	int len, wlen, slen;

	lb_seed(f, &svc_web, 1);
	slen = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, slen, &o);
	/* SYN-ACK from the backend, on its way into the client pod */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, BE_A, 8080, CLIENT, 40000, 0, TCPF_SYN | TCPF_ACK);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, VIP, 80, CLIENT, 40000, 0, TCPF_SYN | TCPF_ACK);
	run_prog(f->skel->progs.sluice_tc_out, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	{
		const struct tr_stat_want w[] = {
			{ SL_STAT_TC_IN_PASS, 1, (uint64_t)slen },
			{ SL_STAT_CT_NEW, 1, 0 },
			{ SL_STAT_TC_DNAT, 1, (uint64_t)slen },
			{ SL_STAT_TC_OUT_PASS, 1, (uint64_t)len },
			{ SL_STAT_TC_REVNAT, 1, (uint64_t)len },
		};

		tr_assert_stats(f->stats_fd, w, 5);
	}
	/* the backend talking to the same client from another port is not this flow */
	len = tr_frame(in, AF_INET, IPPROTO_TCP, BE_A, 8080, CLIENT, 40001, 0, TCPF_ACK);
	run_prog(f->skel->progs.sluice_tc_out, in, len, &o);
	tr_assert_out(&o, TC_ACT_OK, in, len);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_REVNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_OUT_PASS), 2);
}

static const struct svc_def svc_dns = {
	.vip = VIP, .port = 53, .proto = IPPROTO_UDP, .svc_id = 9, .n = 1,
	.be = { { BE_B, 5353 } },
};

static void tc_in_out__udp_with_checksum__dnat_and_reverse_keep_it_valid(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct sl_ct_key kr = tr_ct_key(SL_CT_DIR_REV, IPPROTO_UDP, BE_B, 5353, CLIENT, 33333);
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &svc_dns, 1);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, 33333, VIP, 53, 29, 0);
	wlen = tr_frame(want, AF_INET, IPPROTO_UDP, CLIENT, 33333, BE_B, 5353, 29, 0);
	assert_int_not_equal(in[14 + 20 + 6] | in[14 + 20 + 7], 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	tr_assert_ct(f->ct_fd, &kr, VIP, 53, 9, 0);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, BE_B, 5353, CLIENT, 33333, 61, 0);
	wlen = tr_frame(want, AF_INET, IPPROTO_UDP, VIP, 53, CLIENT, 33333, 61, 0);
	run_prog(f->skel->progs.sluice_tc_out, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_REVNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 1);
}

/*
 * A UDP flow idle for longer than CT_UDP_REUSE_NS (30 s) is balanced anew; one idle for 2 s is
 * a hit and gets last_seen refreshed. Ages are set by moving last_seen back on the datapath
 * clock the loader picked (jiffies where CONFIG_HZ is known), so this checks that clock too.
 */
static void tc_in__udp_flow_idle_past_reuse__balanced_anew(void **state)
{
	struct fix *f = *state;
	struct sl_ct_key kf = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_UDP, CLIENT, 33333, VIP, 53);
	uint8_t in[PKT_MAX];
	struct sl_ct_val v;
	struct tr_out o;
	uint64_t t0;
	int len;

	lb_seed(f, &svc_dns, 1);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, 33333, VIP, 53, 29, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 1);
	assert_int_equal(bpf_map_lookup_elem(f->ct_fd, &kf, &v), 0);
	t0 = v.last_seen;

	v.last_seen = t0 - 2 * 1000000000ull;
	assert_int_equal(bpf_map_update_elem(f->ct_fd, &kf, &v, BPF_EXIST), 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	assert_int_equal(o.retval, TC_ACT_OK);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 1);
	assert_int_equal(bpf_map_lookup_elem(f->ct_fd, &kf, &v), 0);
	assert_true(v.last_seen >= t0);

	v.last_seen = t0 - 31 * 1000000000ull;
	assert_int_equal(bpf_map_update_elem(f->ct_fd, &kf, &v, BPF_EXIST), 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 2);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 3);
}

/* Conntrack timestamps are nanoseconds whichever clock backs them: two flows 200 ms apart. */
static void ct_clock__flows_200ms_apart__last_seen_200ms_apart(void **state)
{
	struct fix *f = *state;
	struct sl_ct_key ka = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_UDP, CLIENT, 33333, VIP, 53);
	struct sl_ct_key kb = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_UDP, CLIENT, 33334, VIP, 53);
	struct timespec nap = { .tv_nsec = 200000000 };
	struct sl_ct_val a, b;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint64_t d;
	int len;

	lb_seed(f, &svc_dns, 1);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, 33333, VIP, 53, 29, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	assert_int_equal(nanosleep(&nap, NULL), 0);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, 33334, VIP, 53, 29, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	assert_int_equal(bpf_map_lookup_elem(f->ct_fd, &ka, &a), 0);
	assert_int_equal(bpf_map_lookup_elem(f->ct_fd, &kb, &b), 0);
	assert_true(b.last_seen > a.last_seen);
	d = b.last_seen - a.last_seen;
	/* at least the nap less one tick (10 ms at HZ=100); a busy VM may add to it */
	if (d < 190000000ull || d > 2000000000ull)
		fail_msg("last_seen 200 ms apart differ by %llu ns (ns_per_jiffy %u)",
			 (unsigned long long)d, tr_ns_per_jiffy());
}

static void tc_in_out__udp_checksum_zero__stays_zero(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &svc_dns, 1);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, 33333, VIP, 53, 29, 0);
	tr_udp_csum_zero(in, len);
	wlen = tr_frame(want, AF_INET, IPPROTO_UDP, CLIENT, 33333, BE_B, 5353, 29, 0);
	tr_udp_csum_zero(want, wlen);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	/* IP checksum fixed, UDP checksum still 0 */
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, BE_B, 5353, CLIENT, 33333, 8, 0);
	tr_udp_csum_zero(in, len);
	wlen = tr_frame(want, AF_INET, IPPROTO_UDP, VIP, 53, CLIENT, 33333, 8, 0);
	tr_udp_csum_zero(want, wlen);
	run_prog(f->skel->progs.sluice_tc_out, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_REVNAT), 1);
}

/* A rewrite whose new UDP checksum folds to 0 must send 0xffff (0 would mean "none"). */
static void tc_in_out__udp_checksum_folding_to_zero__sent_as_ffff(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct tr_out o;
	int len, wlen;
	uint16_t w;

	lb_seed(f, &svc_dns, 1);
	wlen = tr_frame(want, AF_INET, IPPROTO_UDP, CLIENT, 33333, BE_B, 5353, 16, 0);
	w = tr_udp_csum_to_ffff(want, wlen);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, CLIENT, 33333, VIP, 53, 16, 0);
	tr_udp_word_set(in, len, w);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	/* the same on the reply, and over IPv6 */
	wlen = tr_frame(want, AF_INET, IPPROTO_UDP, VIP, 53, CLIENT, 33333, 16, 0);
	w = tr_udp_csum_to_ffff(want, wlen);
	len = tr_frame(in, AF_INET, IPPROTO_UDP, BE_B, 5353, CLIENT, 33333, 16, 0);
	tr_udp_word_set(in, len, w);
	run_prog(f->skel->progs.sluice_tc_out, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	{
		const struct svc_def dns6 = {
			.vip = VIP6, .port = 53, .proto = IPPROTO_UDP, .svc_id = 12, .n = 1,
			.be = { { BE6, 5353 } },
		};

		lb_seed(f, &dns6, 1);
	}
	wlen = tr_frame(want, AF_INET6, IPPROTO_UDP, CLIENT6, 33333, BE6, 5353, 16, 0);
	w = tr_udp_csum_to_ffff(want, wlen);
	len = tr_frame(in, AF_INET6, IPPROTO_UDP, CLIENT6, 33333, VIP6, 53, 16, 0);
	tr_udp_word_set(in, len, w);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 2);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_REVNAT), 1);
}

/*
 * Frames cut inside a header, all towards the frontend. Since about 6.15 test-run refuses an
 * skb whose EtherType is IPv4/IPv6 but whose L3 fixed header is incomplete (-EINVAL before the
 * program runs, see test_tc.c); such a frame then counts nothing. The others reach the program,
 * which passes them unchanged (the stack drops them) and counts PARSE_ERROR.
 */
static void tc_in__truncated_headers__pass_unchanged_and_count_parse_error(void **state)
{
	struct fix *f = *state;
	static const struct {
		int family;
		size_t opt, cut;
	} cuts[] = {
		{ AF_INET, 0, 14 },		/* Ethernet header only */
		{ AF_INET, 0, 14 + 12 },	/* IPv4 fixed header cut */
		{ AF_INET, 8, 14 + 20 + 4 },	/* IPv4 options cut (ihl 7) */
		{ AF_INET, 0, 14 + 20 + 12 },	/* TCP header cut */
		{ AF_INET6, 0, 14 + 30 },	/* IPv6 header cut */
		{ AF_INET6, 0, 14 + 40 + 19 },	/* TCP header cut, one byte short */
	};
	uint64_t ran = 0, bytes = 0;
	struct tr_out o;
	size_t i;

	lb_seed(f, &svc_web, 1);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct pkt_spec s = { .family = cuts[i].family, .l4 = IPPROTO_TCP,
				      .src = cuts[i].family == AF_INET ? CLIENT : CLIENT6,
				      .dst = cuts[i].family == AF_INET ? VIP : VIP6,
				      .dport = 80, .ip_opt_len = cuts[i].opt,
				      .truncate_to = cuts[i].cut };
		uint8_t in[PKT_MAX];
		int len = pkt_build(&s, in, sizeof(in)), err;

		assert_int_equal(len, (int)cuts[i].cut);
		err = tr_run(f->skel->progs.sluice_tc_in, true, in, len, 1, &o, NULL);
		if (err == -EINVAL && cuts[i].cut < 14 + (cuts[i].family == AF_INET ? 20u : 40u))
			continue;
		assert_int_equal(err, 0);
		tr_assert_out(&o, TC_ACT_OK, in, len);
		ran++;
		bytes += (uint64_t)len;
	}
	/* the three cuts past the fixed L3 header reach the program on every kernel */
	assert_true(ran == 3 || ran == 6);
	{
		const struct tr_stat_want w[] = { { SL_STAT_PARSE_ERROR, ran, bytes } };

		tr_assert_stats(f->stats_fd, w, 1);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
}

static void tc_in__ipv4_with_options__dnat_keeps_options_and_checksums(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .src = CLIENT, .dst = VIP,
			      .sport = 40000, .dport = 80, .payload_len = 40, .ip_opt_len = 12 };
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &svc_web, 1);
	len = pkt_build(&s, in, sizeof(in));
	assert_int_equal(pkt_l4_csum_fill(in, (size_t)len), 0);
	s.dst = BE_A;
	s.dport = 8080;
	wlen = pkt_build(&s, want, sizeof(want));
	assert_int_equal(pkt_l4_csum_fill(want, (size_t)wlen), 0);
	assert_int_equal(in[14], 0x48); /* ihl 8 */
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	/* and the reply, with options too */
	s.src = BE_A;
	s.sport = 8080;
	s.dst = CLIENT;
	s.dport = 40000;
	len = pkt_build(&s, in, sizeof(in));
	assert_int_equal(pkt_l4_csum_fill(in, (size_t)len), 0);
	s.src = VIP;
	s.sport = 80;
	wlen = pkt_build(&s, want, sizeof(want));
	assert_int_equal(pkt_l4_csum_fill(want, (size_t)wlen), 0);
	run_prog(f->skel->progs.sluice_tc_out, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_REVNAT), 1);
}

static void tc_in__fragments_to_frontend__pass_untranslated_and_count_fragment(void **state)
{
	struct fix *f = *state;
	static const uint16_t frag[] = { 0x2000 /* MF, offset 0 */, 0x2000 | 185, 185, 0x4000 | 1 };
	uint64_t bytes = 0;
	struct tr_out o;
	size_t i;

	lb_seed(f, &svc_dns, 1);
	for (i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
		struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_UDP, .src = CLIENT,
				      .dst = VIP, .sport = 33333, .dport = 53, .payload_len = 64,
				      .frag_off = frag[i] };
		uint8_t in[PKT_MAX];
		int len = pkt_build(&s, in, sizeof(in));

		run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
		tr_assert_out(&o, TC_ACT_OK, in, len);
		bytes += (uint64_t)len;
	}
	{
		const struct tr_stat_want w[] = {
			{ SL_STAT_TC_IN_PASS, 4, bytes },
			{ SL_STAT_FRAGMENT, 4, bytes },
		};

		tr_assert_stats(f->stats_fd, w, 2);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
}

static const struct svc_def svc_web6 = {
	.vip = VIP6, .port = 80, .proto = IPPROTO_TCP, .svc_id = 11, .n = 1,
	.be = { { BE6, 8080 } },
};

static void tc_in_out__ipv6_tcp_clusterip__dnat_and_reverse(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct sl_ct_key kf = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_TCP, CLIENT6, 40000, VIP6, 80);
	struct sl_ct_key kr = tr_ct_key(SL_CT_DIR_REV, IPPROTO_TCP, BE6, 8080, CLIENT6, 40000);
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &svc_web6, 1);
	len = tr_frame(in, AF_INET6, IPPROTO_TCP, CLIENT6, 40000, VIP6, 80, 0, 0);
	wlen = tr_frame(want, AF_INET6, IPPROTO_TCP, CLIENT6, 40000, BE6, 8080, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	tr_assert_ct(f->ct_fd, &kf, BE6, 8080, 11, 0);
	tr_assert_ct(f->ct_fd, &kr, VIP6, 80, 11, 0);
	len = tr_frame(in, AF_INET6, IPPROTO_TCP, CLIENT6, 40000, VIP6, 80, 100, TCPF_ACK);
	wlen = tr_frame(want, AF_INET6, IPPROTO_TCP, CLIENT6, 40000, BE6, 8080, 100, TCPF_ACK);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	len = tr_frame(in, AF_INET6, IPPROTO_TCP, BE6, 8080, CLIENT6, 40000, 77, TCPF_ACK);
	wlen = tr_frame(want, AF_INET6, IPPROTO_TCP, VIP6, 80, CLIENT6, 40000, 77, TCPF_ACK);
	run_prog(f->skel->progs.sluice_tc_out, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 2);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_REVNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_PARSE_ERROR), 0);
}

static void tc_in_out__ipv6_udp__dnat_and_reverse_keep_checksum_valid(void **state)
{
	struct fix *f = *state;
	const struct svc_def dns6 = {
		.vip = VIP6, .port = 53, .proto = IPPROTO_UDP, .svc_id = 12, .n = 1,
		.be = { { BE6, 5353 } },
	};
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &dns6, 1);
	len = tr_frame(in, AF_INET6, IPPROTO_UDP, CLIENT6, 33333, VIP6, 53, 40, 0);
	wlen = tr_frame(want, AF_INET6, IPPROTO_UDP, CLIENT6, 33333, BE6, 5353, 40, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	len = tr_frame(in, AF_INET6, IPPROTO_UDP, BE6, 5353, CLIENT6, 33333, 90, 0);
	wlen = tr_frame(want, AF_INET6, IPPROTO_UDP, VIP6, 53, CLIENT6, 33333, 90, 0);
	run_prog(f->skel->progs.sluice_tc_out, in, len, &o);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_REVNAT), 1);
}

static void tc_in__ipv6_extension_header_to_frontend__passes_and_counts_unsupported(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	int len;

	lb_seed(f, &svc_web6, 1);
	len = tr_frame(in, AF_INET6, IPPROTO_TCP, CLIENT6, 40000, VIP6, 80, 0, 0);
	in[14 + 6] = 0; /* next header: hop-by-hop options */
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_assert_out(&o, TC_ACT_OK, in, len);
	{
		const struct tr_stat_want w[] = {
			{ SL_STAT_TC_IN_PASS, 1, (uint64_t)len },
			{ SL_STAT_L4_UNSUPPORTED, 1, (uint64_t)len },
		};

		tr_assert_stats(f->stats_fd, w, 2);
	}
	assert_int_equal(tr_ct_walk(f->ct_fd, false), 0);
}

static void tc_in__affinity_service__one_client_sticks_to_one_backend(void **state)
{
	struct fix *f = *state;
	struct svc_def aff = svc_web;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint8_t first[4] = {};
	int len, i;

	aff.flags = SL_SVC_F_AFFINITY;
	aff.aff_timeout = 10800;
	aff.n = 2;
	aff.be[1] = (struct be_def){ BE_B, 8080 };
	lb_seed(f, &aff, 1);
	for (i = 0; i < 32; i++) {
		len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, (uint16_t)(42000 + i), VIP, 80, 0,
			       0);
		run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
		assert_int_equal(o.retval, TC_ACT_OK);
		assert_int_equal(pkt_csums_verify(o.data, o.len), 0);
		if (i == 0)
			memcpy(first, o.data + 14 + 16, 4);
		assert_memory_equal(o.data + 14 + 16, first, 4);
	}
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 32);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 32);
}

/* Pins the test-run semantics the benches rely on: repeat reruns on the rewritten skb. */
static void tc_test_run__repeat_of_dnat__reruns_on_rewritten_packet(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct tr_out o;
	int len, wlen;

	lb_seed(f, &svc_web, 1);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, TCPF_ACK);
	wlen = tr_frame(want, AF_INET, IPPROTO_TCP, CLIENT, 40000, BE_A, 8080, 0, TCPF_ACK);
	assert_int_equal(tr_run(f->skel->progs.sluice_tc_in, true, in, len, 3, &o, NULL), 0);
	tr_assert_translated(&o, TC_ACT_OK, want, wlen);
	/* run 1 translated; runs 2 and 3 saw client -> BE_A:8080, which is no frontend */
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_IN_PASS), 3);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_NEW), 1);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), 0);
}

/* --- benches (SL_BENCH=1) --------------------------------------------------------------- */

/*
 * tc_ct_hit: sluice_tc_in on an established flow (bare ACK, 64 bytes of payload). The flow's
 * SYN went through once (CT_NEW, client -> VIP:80 tracked to BE_A:8080); a second forward
 * entry client -> BE_A:8080 -> VIP:80 is added so the rewritten packet is translated back on
 * the next run. Every run is therefore a conntrack hit with a full DNAT (address, port, IPv4
 * and TCP checksums), alternating direction; the counters check that all of them were.
 */
static void bench__tc_ct_hit__every_run_a_hit(void **state)
{
	struct fix *f = *state;
	struct sl_ct_key back = tr_ct_key(SL_CT_DIR_FWD, IPPROTO_TCP, CLIENT, 40000, BE_A, 8080);
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint32_t ns;
	int len;

	lb_seed(f, &svc_web, 1);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_ct_put(f->ct_fd, &back, VIP, 80, 7, 0);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 64, TCPF_ACK);
	assert_int_equal(tr_run(f->skel->progs.sluice_tc_in, true, in, len, BENCH_REPEAT, &o, &ns),
			 0);
	tr_assert_out(&o, TC_ACT_OK, in, len); /* an even number of runs: back where it started */
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_CT_HIT), BENCH_REPEAT);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), BENCH_REPEAT + 1);
	tr_bench_print("tc_ct_hit", ns);
}

/* tc_miss: sluice_tc_in on a TCP segment to an address that is no frontend (nothing tracked). */
static void bench__tc_miss__every_run_passes(void **state)
{
	struct fix *f = *state;
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint32_t ns;
	int len;

	lb_seed(f, &svc_web, 1);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, "10.244.0.9", 80, 64, TCPF_ACK);
	assert_int_equal(tr_run(f->skel->progs.sluice_tc_in, true, in, len, BENCH_REPEAT, &o, &ns),
			 0);
	tr_assert_out(&o, TC_ACT_OK, in, len);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_IN_PASS), BENCH_REPEAT);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_DNAT), 0);
	tr_bench_print("tc_miss", ns);
}

/*
 * tc_empty: a program that only returns, on the same frame and repeat count as the benches here:
 * what BPF_PROG_TEST_RUN itself costs per run on this machine, to read the others net of it.
 */
static void bench__tc_empty__test_run_floor(void **state)
{
	uint8_t in[PKT_MAX];
	long ns;
	int len;

	(void)state;
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, "10.244.0.9", 80, 64, TCPF_ACK);
	ns = pkt_bench_empty(false, in, (size_t)len, BENCH_REPEAT);
	assert_true(ns >= 0);
	tr_bench_print("tc_empty", (uint32_t)ns);
}

/*
 * tc_revnat: sluice_tc_out on the backend's reply (ACK, 64 bytes) of a tracked flow. A second
 * reply entry VIP:80 -> client -> BE_A:8080 translates the rewritten packet back, so every run
 * is a reply-entry hit with a full source rewrite.
 */
static void bench__tc_revnat__every_run_translated(void **state)
{
	struct fix *f = *state;
	struct sl_ct_key back = tr_ct_key(SL_CT_DIR_REV, IPPROTO_TCP, VIP, 80, CLIENT, 40000);
	uint8_t in[PKT_MAX];
	struct tr_out o;
	uint32_t ns;
	int len;

	lb_seed(f, &svc_web, 1);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, CLIENT, 40000, VIP, 80, 0, 0);
	run_prog(f->skel->progs.sluice_tc_in, in, len, &o);
	tr_ct_put(f->ct_fd, &back, BE_A, 8080, 7, 0);
	len = tr_frame(in, AF_INET, IPPROTO_TCP, BE_A, 8080, CLIENT, 40000, 64, TCPF_ACK);
	assert_int_equal(tr_run(f->skel->progs.sluice_tc_out, true, in, len, BENCH_REPEAT, &o, &ns),
			 0);
	tr_assert_out(&o, TC_ACT_OK, in, len);
	assert_int_equal(tr_stat_packets(f->stats_fd, SL_STAT_TC_REVNAT), BENCH_REPEAT);
	tr_bench_print("tc_revnat", ns);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(pktbuild__corrupted_frames__checksum_verify_fails),
		T(tc_in__tcp_syn_to_frontend__dnat_to_backend_and_ct_new),
		T(tc_in__established_flow_after_backend_change__ct_hit_keeps_backend),
		T(tc_in__two_backends__every_flow_on_one_of_them_and_stable),
		T(tc_in__not_a_frontend__passes_unchanged),
		T(tc_in__frontend_without_backends__shot_and_counts_no_backend),
		T(tc_out__reply_of_tracked_flow__source_back_to_frontend),
		T(tc_in_out__udp_with_checksum__dnat_and_reverse_keep_it_valid),
		T(tc_in__udp_flow_idle_past_reuse__balanced_anew),
		T(ct_clock__flows_200ms_apart__last_seen_200ms_apart),
		T(tc_in_out__udp_checksum_zero__stays_zero),
		T(tc_in_out__udp_checksum_folding_to_zero__sent_as_ffff),
		T(tc_in__truncated_headers__pass_unchanged_and_count_parse_error),
		T(tc_in__ipv4_with_options__dnat_keeps_options_and_checksums),
		T(tc_in__fragments_to_frontend__pass_untranslated_and_count_fragment),
		T(tc_in_out__ipv6_tcp_clusterip__dnat_and_reverse),
		T(tc_in_out__ipv6_udp__dnat_and_reverse_keep_checksum_valid),
		T(tc_in__ipv6_extension_header_to_frontend__passes_and_counts_unsupported),
		T(tc_in__affinity_service__one_client_sticks_to_one_backend),
		T(tc_test_run__repeat_of_dnat__reruns_on_rewritten_packet),
	};
	const struct CMUnitTest benches[] = {
		T(bench__tc_ct_hit__every_run_a_hit),
		T(bench__tc_miss__every_run_passes),
		T(bench__tc_empty__test_run_floor),
		T(bench__tc_revnat__every_run_translated),
#undef T
	};
	const char *bench = getenv("SL_BENCH");
	int err;

	pkt_require_bpf("test_lb_tc");
	err = pkt_netns_fresh();
	if (err < 0) {
		printf("test_lb_tc: skipped: cannot enter a fresh network namespace: %s\n",
		       strerror(-err));
		return 77;
	}
	libbpf_set_print(tr_libbpf_quiet);
	err = cmocka_run_group_tests_name("lb_tc", tests, NULL, NULL);
	if (bench && !strcmp(bench, "1"))
		err |= cmocka_run_group_tests_name("lb_tc_bench", benches, NULL, NULL);
	return err;
}
