/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only code that writes BPF maps. A reconcile compares each map with its desired contents
 * and writes the difference: upserts in table order, then deletes in reverse table order (so
 * backends exist before the services pointing at them, and services go before their backends).
 * On the first failed write every change already made is undone, and the error names the map.
 */
#ifndef SL_AGENT_MAPS_H
#define SL_AGENT_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Map syscalls; a unit test passes fakes. Each returns 0 or a negative errno. */
struct map_ops {
	int (*get_next_key)(void *ctx, int fd, const void *key, void *next_key);
	int (*lookup)(void *ctx, int fd, const void *key, void *value);
	int (*update)(void *ctx, int fd, const void *key, const void *value);
	int (*delete)(void *ctx, int fd, const void *key);
	/*
	 * Optional: up to *count entries from the batch cursor in (NULL: the start) into keys and
	 * values, the next cursor into out; -ENOENT once the map is exhausted (entries may still
	 * come with it). A kernel without batch ops for the map type answers -EINVAL or
	 * -EOPNOTSUPP, and maps_dump walks the keys instead.
	 */
	int (*lookup_batch)(void *ctx, int fd, const void *in, void *out, void *keys,
			    void *values, uint32_t *count);
	/*
	 * Optional: writes *count entries (keys and values packed) at once; on failure *count says
	 * how many were written. -EINVAL or -EOPNOTSUPP where the map has no batch ops: maps_reconcile
	 * then writes one at a time.
	 */
	int (*update_batch)(void *ctx, int fd, const void *keys, const void *values,
			    uint32_t *count);
	void *ctx;
};

extern const struct map_ops maps_bpf_ops;

struct maps_table {
	const char *name;
	int fd;
	size_t key_size;
	size_t value_size;  /* bytes per lookup/update: per-CPU maps pass the whole CPU array */
	bool keys_only;	    /* only presence matters (per-CPU counters): never overwrite values */
	/* desired entries: n records of key_size + value_size bytes (value ignored if keys_only) */
	const void *entries;
	size_t n;
};

struct maps_result {
	size_t updates;
	size_t deletes;
};

int maps_reconcile(const struct map_ops *ops, struct maps_table *tables, size_t n_tables,
		   struct maps_result *ret_result, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Reads every key/value of a map into a malloc'd array of key+value records. */
int maps_dump(const struct map_ops *ops, int fd, size_t key_size, size_t value_size,
	      void **ret_entries, size_t *ret_n) __attribute__((warn_unused_result));

/* One service's Maglev table for maps_maglev_sync: size entries of backend slots. */
struct maps_maglev {
	uint32_t svc_id;
	uint32_t size;
	const uint32_t *table;
};

/*
 * Makes the hash-of-maps outer_fd (sluice_maglev) hold exactly these tables. A table that
 * differs from the one in place is written whole into a new inner array, which then replaces
 * the old one with a single update: lookups see the old table or the new, never a mix. Ids not
 * listed are deleted. Counts writes (one per table replaced or deleted) in ret_result.
 */
int maps_maglev_sync(int outer_fd, const struct maps_maglev *t, size_t n,
		     struct maps_result *ret_result, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Value size of a per-CPU map for one lookup (value rounded to 8 bytes, times possible CPUs). */
size_t maps_percpu_size(size_t value_size);

#endif
