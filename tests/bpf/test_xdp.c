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
#include "tests/bpf/testrun.h"

struct fix {
	struct xdp_node *skel;
	int stats_fd;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->skel = xdp_node__open();
	if (!f->skel)
		goto err_free;
	if (tr_pins_clear(f->skel->obj) < 0 || xdp_node__load(f->skel) < 0)
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
	const struct tr_stat_want w[] = { { idx, 1, (uint64_t)len } };
	struct tr_out o;

	assert_int_equal(tr_run(f->skel->progs.sluice_xdp_in, false, pkt, len, 1, &o, NULL), 0);
	tr_assert_out(&o, XDP_PASS, pkt, len);
	tr_assert_stats(f->stats_fd, w, 1);
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
	libbpf_set_print(tr_libbpf_quiet);
	return cmocka_run_group_tests_name("xdp_node", tests, NULL, NULL);
}
