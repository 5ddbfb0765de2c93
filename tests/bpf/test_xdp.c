// SPDX-License-Identifier: Apache-2.0
/*
 * BPF_PROG_TEST_RUN of sluice_xdp_in from the real xdp_node skeleton. Pinning is turned off by
 * clearing every map's pin path before load (see test_tc.c for why), so each case gets fresh,
 * unpinned maps. XDP test-run has no ctx here: the frame runs as if it arrived on lo.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sl_abi.h"
#include "xdp_node.skel.h"
#include "tests/bpf/pktbuild.h"

struct fix {
	struct xdp_node *skel;
	int stats_fd;
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
	f->skel = xdp_node__open();
	if (!f->skel)
		goto err_free;
	bpf_object__for_each_map(m, f->skel->obj) {
		if (bpf_map__set_pin_path(m, NULL) < 0)
			goto err_destroy;
	}
	if (xdp_node__load(f->skel) < 0)
		goto err_destroy;
	f->stats_fd = bpf_map__fd(f->skel->maps.sluice_stats);
	*state = f;
	return 0;
err_destroy:
	xdp_node__destroy(f->skel);
err_free:
	free(f);
	return -1;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	xdp_node__destroy(f->skel);
	free(f);
	return 0;
}

/* Runs the frame; checks XDP_PASS with the bytes unchanged and only stat idx at 1/len. */
static void run_expect(struct fix *f, const uint8_t *pkt, int len, int idx)
{
	uint8_t out[PKT_MAX];
	uint64_t s[2];
	uint32_t i;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = pkt,
		.data_size_in = (uint32_t)len,
		.data_out = out,
		.data_size_out = sizeof(out),
		.repeat = 1,
	);

	assert_true(len > 0);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(f->skel->progs.sluice_xdp_in),
						&opts), 0);
	assert_int_equal(opts.retval, XDP_PASS);
	assert_int_equal(opts.data_size_out, len);
	assert_memory_equal(out, pkt, (size_t)len);
	for (i = 0; i < SL_STAT_MAX; i++) {
		assert_int_equal(pkt_percpu_sum(f->stats_fd, &i, s, 2), 0);
		assert_int_equal(s[0], (int)i == idx ? 1 : 0);
		assert_int_equal(s[1], (int)i == idx ? (uint64_t)len : 0);
	}
}

static void xdp_in__ipv4_tcp__passes_and_counts_xdp_in_pass(void **state)
{
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .payload_len = 64 };
	uint8_t pkt[PKT_MAX];

	run_expect(*state, pkt, pkt_build(&s, pkt, sizeof(pkt)), SL_STAT_XDP_IN_PASS);
}

static void xdp_in__ipv6_udp__passes_and_counts_xdp_in_pass(void **state)
{
	struct pkt_spec s = { .family = AF_INET6, .l4 = IPPROTO_UDP, .payload_len = 5 };
	uint8_t pkt[PKT_MAX];

	run_expect(*state, pkt, pkt_build(&s, pkt, sizeof(pkt)), SL_STAT_XDP_IN_PASS);
}

static void xdp_in__truncated_ipv4_header__passes_and_counts_parse_error(void **state)
{
	struct pkt_spec s = { .family = AF_INET, .l4 = IPPROTO_TCP, .truncate_to = 14 + 10 };
	uint8_t pkt[PKT_MAX];

	run_expect(*state, pkt, pkt_build(&s, pkt, sizeof(pkt)), SL_STAT_PARSE_ERROR);
}

static void xdp_in__truncated_ipv6_header__passes_and_counts_parse_error(void **state)
{
	struct pkt_spec s = { .family = AF_INET6, .l4 = IPPROTO_TCP, .truncate_to = 14 + 39 };
	uint8_t pkt[PKT_MAX];

	run_expect(*state, pkt, pkt_build(&s, pkt, sizeof(pkt)), SL_STAT_PARSE_ERROR);
}

static void xdp_in__arp_request__passes_and_counts_non_ip(void **state)
{
	uint8_t pkt[PKT_MAX];

	run_expect(*state, pkt, pkt_build_arp(pkt, sizeof(pkt)), SL_STAT_NON_IP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(xdp_in__ipv4_tcp__passes_and_counts_xdp_in_pass),
		T(xdp_in__ipv6_udp__passes_and_counts_xdp_in_pass),
		T(xdp_in__truncated_ipv4_header__passes_and_counts_parse_error),
		T(xdp_in__truncated_ipv6_header__passes_and_counts_parse_error),
		T(xdp_in__arp_request__passes_and_counts_non_ip),
#undef T
	};
	int err;

	pkt_require_bpf("test_xdp");
	err = pkt_netns_fresh();
	if (err < 0) {
		printf("test_xdp: skipped: cannot enter a fresh network namespace: %s\n",
		       strerror(-err));
		return 77;
	}
	libbpf_set_print(libbpf_quiet);
	return cmocka_run_group_tests_name("xdp_node", tests, NULL, NULL);
}
