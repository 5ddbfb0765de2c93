// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"

/* 64-bit FNV-1a with a seed, finished with a murmur3-style mixer. */
static uint64_t hash64(const void *p, size_t len, uint64_t seed)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= c[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

int maglev_is_prime(uint32_t m)
{
	uint32_t d;

	if (m < 2)
		return 0;
	for (d = 2; (uint64_t)d * d <= m; d++)
		if (m % d == 0)
			return 0;
	return 1;
}

int maglev_build(const struct maglev_backend *b, size_t n, uint32_t m, uint32_t *table)
{
	uint32_t *offset, *skip, *next;
	size_t i, filled = 0;
	uint32_t c;

	if (n == 0 || m <= n || !maglev_is_prime(m))
		return -EINVAL;
	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	next = calloc(n, sizeof(*next));
	if (!offset || !skip || !next) {
		free(offset);
		free(skip);
		free(next);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		offset[i] = (uint32_t)(hash64(b[i].id, b[i].len, 0x5bd1e995) % m);
		skip[i] = (uint32_t)(hash64(b[i].id, b[i].len, 0x27d4eb2f) % (m - 1)) + 1;
	}
	memset(table, 0xff, (size_t)m * sizeof(*table));
	/* Each backend in turn takes the next free entry of its permutation. */
	while (filled < m) {
		for (i = 0; i < n && filled < m; i++) {
			do {
				c = (uint32_t)(((uint64_t)offset[i] + (uint64_t)next[i] * skip[i]) % m);
				next[i]++;
			} while (table[c] != UINT32_MAX);
			table[c] = (uint32_t)i;
			filled++;
		}
	}
	free(offset);
	free(skip);
	free(next);
	return 0;
}
