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
#include <arpa/inet.h>
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

#define LO_IFINDEX 1

struct fix {
	struct tc_pod *skel;
	int stats_fd;
	int ep_stats_fd;
};

struct run_out {
	int retval;
	uint8_t data[PKT_MAX];
	uint32_t len;
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct bpf_map *m;

	if (!f)
		return -1;
	f->skel = tc_pod__open();
	if (!f->skel)
		goto err_free;
	bpf_object__for_each_map(m, f->skel->obj) {
		if (bpf_map__set_pin_path(m, NULL) < 0)
			goto err_destroy;
	}
	if (tc_pod__load(f->skel) < 0)
		goto err_destroy;
	f->stats_fd = bpf_map__fd(f->skel->maps.sluice_stats);
	f->ep_stats_fd = bpf_map__fd(f->skel->maps.sluice_ep_stats);
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
	size_t vsz = maps_percpu_size(sizeof(struct sl_ep_stats)), rec = sizeof(uint32_t) + vsz, i;
	unsigned char *recs = calloc(n ? n : 1, rec);
	struct maps_table t = {
		.name = "sluice_ep_stats",
		.fd = f->ep_stats_fd,
		.key_size = sizeof(uint32_t),
		.value_size = vsz,
		.keys_only = true,
		.entries = recs,
		.n = n,
	};
	struct maps_result res = {};
	char err[256] = "";

	assert_non_null(recs);
	for (i = 0; i < n; i++)
		memcpy(recs + i * rec, &ifindexes[i], sizeof(uint32_t));
	assert_int_equal(maps_reconcile(&maps_bpf_ops, &t, 1, &res, err, sizeof(err)), 0);
	assert_int_equal(res.updates, expect_updates);
	assert_int_equal(res.deletes, 0);
	free(recs);
}

static void run_prog(const struct bpf_program *prog, const uint8_t *pkt, int len,
		     uint32_t ifindex, struct run_out *out)
{
	struct __sk_buff ctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = pkt,
		.data_size_in = (uint32_t)len,
		.data_out = out->data,
		.data_size_out = sizeof(out->data),
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.repeat = 1,
	);

	assert_true(len > 0);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	out->retval = (int)opts.retval;
	out->len = opts.data_size_out;
}

static void stat_get(struct fix *f, uint32_t idx, struct sl_stat_val *v)
{
	uint64_t s[2];

	assert_int_equal(pkt_percpu_sum(f->stats_fd, &idx, s, 2), 0);
	v->packets = s[0];
	v->bytes = s[1];
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
	struct sl_stat_val v;
	int i;

	for (i = 0; i < SL_STAT_MAX; i++) {
		stat_get(f, (uint32_t)i, &v);
		if (i == idx_a || i == idx_b) {
			assert_int_equal(v.packets, 1);
			assert_int_equal(v.bytes, len);
		} else {
			assert_int_equal(v.packets, 0);
			assert_int_equal(v.bytes, 0);
		}
	}
}

static void assert_passed_unchanged(const struct run_out *o, const uint8_t *pkt, int len)
{
	assert_int_equal(o->retval, TC_ACT_OK);
	assert_int_equal(o->len, len);
	assert_memory_equal(o->data, pkt, (size_t)len);
}

static void tc_in__ipv4_tcp_from_seeded_pod__passes_and_counts_from_pod(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .payload_len = 100 };
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	assert_int_equal(len, 14 + 20 + 20 + 100);
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
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
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_out, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
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
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	assert_int_equal(len, 14 + 40 + 20 + 7);
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_out, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
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
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	assert_int_equal(len, 14 + 28 + 8 + 16);
	assert_int_equal(pkt[14], 0x47); /* version 4, ihl 7 */
	assert_int_equal(pkt_csum(pkt + 14, 28), 0); /* header checksum verifies */
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
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
	struct __sk_buff ctx = { .ifindex = LO_IFINDEX };
	struct sl_ep_stats es;
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt)), err;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = pkt,
		.data_size_in = (uint32_t)len,
		.data_out = o.data,
		.data_size_out = sizeof(o.data),
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
	);

	assert_int_equal(len, 24);
	seed_ep_stats(f, &ifx, 1, 1);
	err = bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.sluice_tc_in), &opts);
	if (err == -EINVAL) {
		/* the kernel refused the frame before the program ran: no counter may move */
		assert_stats_only(f, -1, -1, 0);
		return;
	}
	assert_int_equal(err, 0);
	o.retval = (int)opts.retval;
	o.len = opts.data_size_out;
	assert_passed_unchanged(&o, pkt, len);
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
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	pkt[14] = 0x44; /* version 4, ihl 4 */
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
	assert_stats_only(f, SL_STAT_PARSE_ERROR, -1, (uint64_t)len);
	ep_stats_get(f, LO_IFINDEX, &es);
	assert_int_equal(es.from_pod_packets, 0);
}

static void tc_out__ipv6_wrong_version__passes_and_counts_parse_error(void **state)
{
	struct fix *f = *state;
	struct pkt_spec s = { .family = AF_INET6, .l4 = IPPROTO_UDP };
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	pkt[14] = 0x40; /* version 4 in an IPv6 EtherType */
	run_prog(f->skel->progs.sluice_tc_out, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
	assert_stats_only(f, SL_STAT_PARSE_ERROR, -1, (uint64_t)len);
}

static void tc_in__ipv4_options_past_end__passes_and_counts_parse_error(void **state)
{
	struct fix *f = *state;
	/* ihl says 60 bytes of header, the frame holds only 20 + 4 of them */
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .ip_opt_len = 40,
			      .truncate_to = 14 + 24 };
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	run_prog(f->skel->progs.sluice_tc_in, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
	assert_stats_only(f, SL_STAT_PARSE_ERROR, -1, (uint64_t)len);
}

static void tc_out__arp_request__passes_and_counts_non_ip(void **state)
{
	struct fix *f = *state;
	uint32_t ifx = LO_IFINDEX;
	struct sl_ep_stats es;
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build_arp(pkt, sizeof(pkt));

	assert_int_equal(len, 42);
	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_out, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
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
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	seed_ep_stats(f, &other, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, LO_IFINDEX, &o);
	assert_passed_unchanged(&o, pkt, len);
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
	struct run_out o;
	uint8_t pkt[PKT_MAX];
	int len = pkt_build(&s, pkt, sizeof(pkt));

	seed_ep_stats(f, &ifx, 1, 1);
	run_prog(f->skel->progs.sluice_tc_in, pkt, len, LO_IFINDEX, &o);
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
	libbpf_set_print(libbpf_quiet);
	return cmocka_run_group_tests_name("tc_pod", tests, NULL, NULL);
}
