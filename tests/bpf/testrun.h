/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the tests/bpf drivers share around BPF_PROG_TEST_RUN: loading skeletons with pinning
 * off, running a program, building checksummed frames, and cmocka checks of the output, of
 * sluice_stats and of sluice_ct. Unlike pktbuild, which returns errnos, these helpers assert:
 * they are called from inside cmocka cases (or setups) and fail the case themselves.
 */
#ifndef SL_TESTS_TESTRUN_H
#define SL_TESTS_TESTRUN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "sl_abi.h"
#include "tests/bpf/pktbuild.h"

struct maps_result;

/* What one test-run returned: the verdict and the frame as the program left it. */
struct tr_out {
	int retval;
	uint8_t data[PKT_MAX];
	uint32_t len;
};

/* An expected sluice_stats slot: packets and bytes summed over CPUs. */
struct tr_stat_want {
	int idx;
	uint64_t packets;
	uint64_t bytes;
};

/* A libbpf print callback that shows warnings only: libbpf_set_print(tr_libbpf_quiet). */
int tr_libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap);

/*
 * Moves the calling process into a cgroup of its own, CG_ROOT/sluice-test-NAME-PID (never the
 * root cgroup), for tests that attach cgroup programs; tr_cg_path() is its path. tr_cg_leave
 * moves it back to CG_ROOT and removes the cgroup. Returns 0 or a negative errno.
 */
#define TR_CG_ROOT "/sys/fs/cgroup/unified"
int tr_cg_enter(const char *name);
void tr_cg_leave(void);
const char *tr_cg_path(void);

/*
 * Clears every map's pin path before load. The objects' maps are LIBBPF_PIN_BY_NAME, which
 * libbpf turns into pins under /sys/fs/bpf even without a pin_root_path (see test_tc.c); with
 * no pin path, load creates private, unpinned maps. Returns 0 or a negative errno.
 */
int tr_pins_clear(struct bpf_object *obj);

/*
 * sl_config.ns_per_jiffy as the agent's loader sets it on this kernel (0 where CONFIG_HZ is
 * unknown), so that the programs under test run on the agent's datapath clock.
 */
unsigned int tr_ns_per_jiffy(void);

/*
 * Seeds sluice_ep_stats (fd) with these ifindexes the way the agent does (keys only, through
 * maps_reconcile). Asserts that the reconcile succeeds; ret_res, if given, gets its result.
 */
void tr_ep_stats_seed(int fd, const uint32_t *ifindexes, size_t n, struct maps_result *ret_res);

/* A pod address as the agent registers it in sluice_ep. */
struct tr_ep {
	const char *addr;
	uint32_t ifindex;
	uint32_t ep_id;
	uint32_t flags;	  /* SL_EP_F_* */
	uint32_t pol_ctx;
};

/* Makes sluice_ep (fd) hold exactly these endpoints, through maps_reconcile. */
void tr_ep_seed(int fd, const struct tr_ep *eps, size_t n);

/*
 * Runs prog over pkt repeat times. skb: a tc program, given a __sk_buff ctx on lo (ifindex 1,
 * the only device in the fresh netns each file runs in); otherwise XDP, without ctx. Fills
 * out and, if given, *ret_ns (mean ns per run). Returns 0 or the test-run's negative errno.
 */
int tr_run(const struct bpf_program *prog, bool skb, const uint8_t *pkt, int len,
	   uint32_t repeat, struct tr_out *out, uint32_t *ret_ns);

/* Text address -> ABI form (network byte order, IPv4 in addr[0]); returns the SL_AF_*. */
uint8_t tr_abi_addr(const char *s, uint32_t addr[4]);

/* A frame (PKT_MAX buffer) with correct IPv4 and L4 checksums; flags 0 keeps pkt_build's SYN. */
int tr_frame(uint8_t *buf, int family, int proto, const char *src, uint16_t sport,
	     const char *dst, uint16_t dport, size_t payload, uint8_t tcp_flags);

/* sluice_stats (fd) slot idx, summed over CPUs. */
void tr_stat_get(int fd, uint32_t idx, struct sl_stat_val *v);
uint64_t tr_stat_packets(int fd, uint32_t idx);

/* Every sluice_stats (fd) slot below SL_STAT_MAX is zero except those listed, which match. */
void tr_assert_stats(int fd, const struct tr_stat_want *w, size_t n);

/* The verdict is retval and the frame is want, byte for byte. */
void tr_assert_out(const struct tr_out *o, int retval, const uint8_t *want, int len);

/* As tr_assert_out, and the output's IPv4 and L4 checksums verify. */
void tr_assert_translated(const struct tr_out *o, int retval, const uint8_t *want, int len);

/* A conntrack key; both addresses must be of one family. Ports in host order. */
struct sl_ct_key tr_ct_key(int dir, uint8_t proto, const char *saddr, uint16_t sport,
			   const char *daddr, uint16_t dport);

/* The conntrack entry under k (sluice_ct fd) exists and points at addr:port of svc_id. */
void tr_assert_ct(int ct_fd, const struct sl_ct_key *k, const char *addr, uint16_t port,
		  uint32_t svc_id, uint8_t flags);

/* Writes a conntrack entry the way ct_create does (the agent never writes conntrack). */
/* last_seen 0: idle since the clock's origin, refreshed by the first packet that hits */
void tr_ct_put(int ct_fd, const struct sl_ct_key *k, const char *addr, uint16_t port,
	       uint32_t svc_id, uint8_t flags);

/* Counts (clear = false) or deletes (clear = true) every conntrack entry; returns how many. */
size_t tr_ct_walk(int ct_fd, bool clear);

/* Zeroes the UDP checksum of an IPv4 frame (IPv4 UDP without a checksum). */
void tr_udp_csum_zero(uint8_t *buf, int len);

/*
 * Makes the UDP frame's checksum compute to 0, which UDP sends as 0xffff: the payload's first
 * word becomes the checksum of the frame with that word zeroed, cancelling everything else.
 * Returns that word (as stored) for the other frame of the pair.
 */
uint16_t tr_udp_csum_to_ffff(uint8_t *buf, int len);

/* Sets the payload's first word and refreshes the checksum. */
void tr_udp_word_set(uint8_t *buf, int len, uint16_t w);

/* Prints the line bench/run.sh reads: "bench <name> ns_per_pkt=<ns>". */
void tr_bench_print(const char *name, uint32_t ns);

#endif
