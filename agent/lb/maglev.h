/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network
 * Load Balancer", NSDI 2016, section 3.4): a lookup table of prime size m in which each of n
 * backends owns about m/n entries, and removing one backend reassigns about 1/n of them.
 */
#ifndef SL_AGENT_MAGLEV_H
#define SL_AGENT_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

/* A backend's identity: the bytes hashed to place it (address, port, family). */
struct maglev_backend {
	const void *id;
	size_t len;
};

/*
 * Fills table[0..m-1] with backend indexes 0..n-1. m must be a prime larger than n, n >= 1.
 * Returns 0, or -EINVAL / -ENOMEM.
 */
int maglev_build(const struct maglev_backend *b, size_t n, uint32_t m, uint32_t *table)
	__attribute__((warn_unused_result));

/* Whether m is prime (for config validation). */
int maglev_is_prime(uint32_t m);

#endif
