/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny packet builder for BPF_PROG_TEST_RUN inputs: Ethernet + IPv4/IPv6 + TCP/UDP with
 * correct lengths and IPv4 header checksum, plus ways to break them (truncate, IP options,
 * fragment bits). pkt_build leaves L4 checksums zero; pkt_l4_csum_fill writes correct ones.
 */
#ifndef SL_TESTS_PKTBUILD_H
#define SL_TESTS_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 2048

struct pkt_spec {
	int family;		/* AF_INET or AF_INET6 */
	int l4;			/* IPPROTO_TCP or IPPROTO_UDP */
	const char *src, *dst;	/* textual addresses; defaults 10.0.0.1 -> 10.0.0.2 / fd00::1 -> ::2 */
	uint16_t sport, dport;	/* host order; defaults 40000 -> 80 */
	size_t payload_len;	/* bytes of 0xab after the L4 header */
	size_t ip_opt_len;	/* IPv4 only: NOP options, a multiple of 4, at most 40 */
	uint16_t frag_off;	/* IPv4 only, host order: IP_MF | IP_DF | offset in 8-byte units */
	size_t truncate_to;	/* if non-zero, cut the finished frame to this many bytes */
};

/* Writes the frame into buf (cap bytes); returns its length, or a negative errno. */
int pkt_build(const struct pkt_spec *spec, uint8_t *buf, size_t cap);

/* A 42-byte ARP who-has request (Ethernet + ARP for IPv4). Returns its length or -errno. */
int pkt_build_arp(uint8_t *buf, size_t cap);

/* The RFC 1071 checksum of len bytes (folded, complemented). */
uint16_t pkt_csum(const void *data, size_t len);

/*
 * Moves the calling process into a fresh network namespace and brings its lo up, so a test
 * file sees only lo (ifindex 1). Returns 0, or a negative errno.
 */
int pkt_netns_fresh(void);

/*
 * Exits 77 with one line on stdout when the test cannot run here: not root, or BPF
 * unavailable (probed by creating a one-entry array map). Call at the top of main().
 */
void pkt_require_bpf(const char *prog);

/*
 * Sums a per-CPU map value made of n_u64 __u64 fields over all possible CPUs into sum[].
 * A missing key sums to zeros. Returns 0 or a negative errno.
 */
int pkt_percpu_sum(int map_fd, const void *key, uint64_t *sum, size_t n_u64);

/*
 * Helpers for the load-balancing tests, which read and check L4 checksums. Each takes a frame
 * as pkt_build makes it (Ethernet, IPv4 with any options or IPv6 without extension headers,
 * then TCP or UDP) and returns a negative errno for anything else.
 */

/* Where the L4 header starts; *ret_family (AF_INET/AF_INET6) and *ret_proto say what it is. */
int pkt_l4_off(const uint8_t *buf, size_t len, int *ret_family, int *ret_proto);

/* Writes the correct TCP/UDP checksum over pseudo-header and segment (UDP: 0 becomes 0xffff). */
int pkt_l4_csum_fill(uint8_t *buf, size_t len);

/*
 * 0 when the IPv4 header checksum (IPv4) and the TCP/UDP checksum verify; an IPv4 UDP
 * checksum of 0 (none computed) counts as valid. -EBADMSG when one does not verify.
 */
int pkt_csums_verify(const uint8_t *buf, size_t len);

/* Sets the TCP flags byte (e.g. 0x10 for a bare ACK); the L4 checksum is not refreshed. */
int pkt_tcp_flags_set(uint8_t *buf, size_t len, uint8_t flags);

/*
 * Mean ns per run of a program that only returns (XDP_PASS for xdp, TC_ACT_OK for sched_cls)
 * over buf, repeated: the floor BPF_PROG_TEST_RUN itself adds, measured beside a bench so its
 * numbers can be read net of it. Negative errno on failure.
 */
long pkt_bench_empty(bool xdp, const uint8_t *buf, size_t len, uint32_t repeat);

#endif
