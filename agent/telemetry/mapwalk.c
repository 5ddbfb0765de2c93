// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent/telemetry/mapwalk.h"
#include "agent/telemetry/names.h"

#define KEY_MAX 128

struct doomed {
	unsigned char *k;
	size_t n, cap, size;
};

static int doomed_push(struct doomed *d, const void *key)
{
	unsigned char *nk;

	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		nk = realloc(d->k, d->cap * d->size);
		if (!nk)
			return -ENOMEM;
		d->k = nk;
	}
	memcpy(d->k + d->n++ * d->size, key, d->size);
	return 0;
}

static void doomed_delete(struct doomed *d, int fd)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		bpf_map_delete_elem(fd, d->k + i * d->size);
	free(d->k);
}

int tel_map_walk(int fd, size_t key_size, size_t n_u64, tel_walk_fn fn, void *ctx)
{
	int ncpu = libbpf_num_possible_cpus(), c, r = 0;
	unsigned char key[KEY_MAX], next[KEY_MAX];
	struct doomed gone = { .size = key_size };
	uint64_t *sum, *pc;
	bool del, first = true;
	size_t i;

	if (ncpu < 1 || key_size > KEY_MAX)
		return -EINVAL;
	pc = calloc((size_t)ncpu, n_u64 * sizeof(uint64_t));
	sum = calloc(n_u64, sizeof(uint64_t));
	if (!pc || !sum) {
		free(pc);
		free(sum);
		return -ENOMEM;
	}
	while (r == 0 && bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		memcpy(key, next, key_size);
		first = false;
		if (bpf_map_lookup_elem(fd, key, pc) < 0)
			continue; /* deleted meanwhile */
		memset(sum, 0, n_u64 * sizeof(uint64_t));
		for (c = 0; c < ncpu; c++)
			for (i = 0; i < n_u64; i++)
				sum[i] += pc[(size_t)c * n_u64 + i];
		del = false;
		r = fn(ctx, key, sum, &del);
		if (r == 0 && del)
			r = doomed_push(&gone, key);
	}
	doomed_delete(&gone, fd);
	free(pc);
	free(sum);
	return r;
}

void tel_map_forget(int fd, size_t key_size, size_t family_off, const char *ip)
{
	unsigned char key[KEY_MAX], next[KEY_MAX];
	struct doomed gone = { .size = key_size };
	bool first = true;
	__u32 addr[4];
	__u8 family;

	if (fd < 0 || key_size > KEY_MAX || family_off >= key_size ||
	    !tel_abi_addr(ip, addr, &family))
		return;
	while (bpf_map_get_next_key(fd, first ? NULL : key, next) == 0) {
		memcpy(key, next, key_size);
		first = false;
		if (key[family_off] == family && !memcmp(key, addr, sizeof(addr)) &&
		    doomed_push(&gone, key) < 0)
			break;
	}
	doomed_delete(&gone, fd);
}
