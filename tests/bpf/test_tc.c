// SPDX-License-Identifier: Apache-2.0
/*
 * BPF_PROG_TEST_RUN of sluice_tc_in / sluice_tc_out from the real tc_pod skeleton.
 *
 * Pinning: the object's maps are LIBBPF_PIN_BY_NAME, and libbpf 1.1 turns that into a pin path
 * under /sys/fs/bpf even when no pin_root_path is given (then load reuses or creates pins there,
 * sharing state with a running agent or failing without a bpffs). Each map's pin path is
 * therefore cleared with bpf_map__set_pin_path(map, NULL) before load, which makes libbpf
 * create private, unpinned maps: every case loads its own skeleton and starts from zero counters.
 *
 * ifindex: for tc, test-run reads __sk_buff.ifindex from ctx_in and attaches the skb to that
 * device in the caller's netns (0 or 1 mean loopback); an ifindex with no device there fails
 * the run with -ENODEV. In the fresh netns this file runs in, only lo exists, so the seeded
 * endpoint uses ifindex 1 and skb->ifindex reads back as 1.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

#define LO_IFINDEX 1

struct fix {
	struct tc_pod *skel;
	int stats_fd;
	int ep_stats_fd;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->skel = tc_pod__open();
	if (!f->skel)
		goto err_free;
	if (tr_pins_clear(f->skel->obj) < 0 || tc_pod__load(f->skel) < 0)
		goto err_destroy;
	f->stats_fd = bpf_map__fd(f->skel->maps.sluice_stats);
	f->ep_stats_fd = bpf_map__fd(f->skel->maps.sluice_ep_stats);
	{
		/* pktbuild's default sources are pods on lo, as the agent would register them */
		const struct tr_ep eps[] = { { "10.0.0.1", 1, 1, 0, 0 }, { "fd00::1", 1, 1, 0, 0 } };

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

/* Seeds sluice_ep_stats with the given ifindexes the way the agent does (keys only). */
static void seed_ep_stats(struct fix *f, const uint32_t *ifindexes, size_t n,
			  size_t expect_updates)
{
	struct maps_result res;

	tr_ep_stats_seed(f->ep_stats_fd, ifindexes, n, &res);
	assert_int_equal(res.updates, expect_updates);
	assert_int_equal(res.deletes, 0);
}

static void run_prog(const struct bpf_program *prog, const uint8_t *pkt, int len,
		     struct tr_out *out)
{
	assert_int_equal(tr_run(prog, true, pkt, len, 1, out, NULL), 0);
}

static void ep_stats_get(struct fix *f, uint32_t ifindex, struct sl_ep_stats *v)
{
	uint64_t s[4];

	assert_int_equal(pkt_percpu_sum(f->ep_stats_fd, &ifindex, s, 4), 0);
	*v = (struct sl_ep_stats){ s[0], s[1], s[2], s[3] };
}

/* Every sluice_stats slot is zero except idx_a and idx_b (each at 1 packet, len bytes). */
static void assert_stats_only(struct fix *f, int idx_a, int idx_b, uint64_t len)
{
	struct tr_stat_want w[2];
	size_t n = 0;

	if (idx_a >= 0)
		w[n++] = (struct tr_stat_want){ idx_a, 1, len };
	if (idx_b >= 0)
		w[n++] = (struct tr_stat_want){ idx_b, 1, len };
	tr_assert_stats(f->stats_fd, w, n);
}

static void tc_in__ipv4_tcp_from_seeded_pod__passes_and_counts_from_pod(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .payload_len = 100 };
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	assert_int_equal(len, 14 + 20 + 20 + 100);
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_TC_IN_PASS, -1, (uint64_t)len);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.from_pod_packets, 1);
	assert_int_equal(es.from_pod_bytes, len);
	assert_int_equal(es.to_pod_packets, 0);
	assert_int_equal(es.to_pod_bytes, 0);
}

static void tc_out__ipv4_udp_to_seeded_pod__passes_and_counts_to_pod(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_UDP, .payload_len = 33 };
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_out, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_TC_OUT_PASS, -1, (uint64_t)len);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.to_pod_packets, 1);
	assert_int_equal(es.to_pod_bytes, len);
	assert_int_equal(es.from_pod_packets, 0);
	assert_int_equal(es.from_pod_bytes, 0);
}

static void tc_out__ipv6_tcp_to_seeded_pod__passes_and_counts_to_pod(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET6, .l4 = IPPROTO_TCP, .payload_len = 7 };
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	assert_int_equal(len, 14 + 40 + 20 + 7);
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_out, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_TC_OUT_PASS, -1, (uint64_t)len);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.to_pod_packets, 1);
	assert_int_equal(es.to_pod_bytes, len);
	assert_int_equal(es.from_pod_packets, 0);
}

static void tc_in__ipv4_with_options_and_fragment__passes_and_counts(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_UDP, .payload_len = 16,
			      .ip_opt_len = 8, .frag_off = 0x2000 /* IP_MF */ | 3 };
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	assert_int_equal(len, 14 + 28 + 8 + 16);
	assert_int_equal(pkt[14], 0x47); /* version 4, ihl 7 */
	assert_int_equal(pkt_csum(pkt + 14, 28), 0); /* header checksum verifies */
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_TC_IN_PASS, SL_STAT_FRAGMENT, (uint64_t)len);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.from_pod_packets, 1);
}

/*
 * Kernels since about 6.15 refuse to test-run an skb whose EtherType is IPv4/IPv6 but whose
 * L3 header is shorter than the fixed header (-EINVAL before the program runs). There the case
 * checks that nothing was counted; elsewhere it checks the parse-error path. test_xdp drives
 * real truncation through XDP on every kernel.
 */
static void tc_in__truncated_ipv4_header__passes_and_counts_parse_error(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .truncate_to = 14 + 10 };
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt)), err;

	assert_int_equal(len, 24);
	seed_ep_stats(f, &ifx, 1, 1);
	err = tr_run(f->skel->progs.sluice_tc_in, true, pkt, len, 1, &o, NULL);
	if (err == -EINVAL) {
		/* the kernel refused the frame before the program ran: no counter may move */
		assert_stats_only(f, -1, -1, 0);
		return;
	}
	assert_int_equal(err, 0);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_PARSE_ERROR, -1, (uint64_t)len);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.from_pod_packets, 0);
}

static void tc_in__ipv4_ihl_below_5__passes_and_counts_parse_error(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP };
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	pkt[14] = 0x44; /* version 4, ihl 4 */
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_PARSE_ERROR, -1, (uint64_t)len);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.from_pod_packets, 0);
}

static void tc_out__ipv6_wrong_version__passes_and_counts_parse_error(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET6, .l4 = IPPROTO_UDP };
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	pkt[14] = 0x40; /* version 4 in an IPv6 EtherType */
	run_prog(f->skel->progs.sluice_tc_out, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_PARSE_ERROR, -1, (uint64_t)len);
}

static void tc_in__ipv4_options_past_end__passes_and_counts_parse_error(void **state)
{
	struct fix *f = *state;
	/* ihl says 60 bytes of header, the frame holds only 20 + 4 of them */
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .ip_opt_len = 40,
			      .truncate_to = 14 + 24 };
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	run_prog(f->skel->progs.sluice_tc_in, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_PARSE_ERROR, -1, (uint64_t)len);
}

static void tc_out__arp_request__passes_and_counts_non_ip(void **state)
{
	struct fix *f = *state;
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build_arp(pkt, sizeof(pkt));

	assert_int_equal(len, 42);
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_out, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	assert_stats_only(f, SL_STAT_NON_IP, -1, (uint64_t)len);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.to_pod_packets, 0);
}

static void tc_in__unknown_ifindex__passes_and_counts_ep_miss(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP };
	uint32_t other = 4242; /* seeded, but not the device the packet is on */
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	seed_ep_stats(f, &other, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, &o);
	tr_assert_out(&o, TC_ACT_OK, pkt, len);
	/* the pass counter moves before the endpoint lookup */
	assert_stats_only(f, SL_STAT_TC_IN_PASS, SL_STAT_EP_MISS, (uint64_t)len);
	ep_stats_get(f, other, &es);
	assert_int_equal(es.from_pod_packets, 0);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.from_pod_packets, 0);
}

static void ep_stats__reseed_after_traffic__keeps_counters(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP };
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct tr_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, &o);
	seed_ep_stats(f, &ifx, 1, 0); /* same keys: no write, counters survive */
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.from_pod_packets, 1);
	assert_int_equal(es.from_pod_bytes, len);
}

static void tc_test_run__ctx_ifindex_without_device__fails_enodev(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP };
	uint8_t pkt[PKT_MAX], out[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));
	struct __sk_buff ctx = { .ifindex = 4242 };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = pkt,
		.data_size_in = (uint32_t)len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
	);

	/* documents why the cases above use lo: the kernel resolves ctx ifindex to a device */
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.sluice_tc_in),
						&opts), -ENODEV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(tc_in__ipv4_tcp_from_seeded_pod__passes_and_counts_from_pod),
		T(tc_out__ipv4_udp_to_seeded_pod__passes_and_counts_to_pod),
		T(tc_out__ipv6_tcp_to_seeded_pod__passes_and_counts_to_pod),
		T(tc_in__ipv4_with_options_and_fragment__passes_and_counts),
		T(tc_in__truncated_ipv4_header__passes_and_counts_parse_error),
		T(tc_in__ipv4_ihl_below_5__passes_and_counts_parse_error),
		T(tc_out__ipv6_wrong_version__passes_and_counts_parse_error),
		T(tc_in__ipv4_options_past_end__passes_and_counts_parse_error),
		T(tc_out__arp_request__passes_and_counts_non_ip),
		T(tc_in__unknown_ifindex__passes_and_counts_ep_miss),
		T(ep_stats__reseed_after_traffic__keeps_counters),
		T(tc_test_run__ctx_ifindex_without_device__fails_enodev),
#undef T
	};
	int err;

	pkt_require_bpf("test_tc");
	err = pkt_netns_fresh();
	if (err < 0) {
		printf("test_tc: skipped: cannot enter a fresh network namespace: %s\n",
		       strerror(-err));
		return 77;
	}
	libbpf_set_print(tr_libbpf_quiet);
	return cmocka_run_group_tests_name("tc_pod", tests, NULL, NULL);
}
