// SPDX-License-Identifier: Apache-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "maps.h"

#define MAPS_MAX_DUMP (1u << 22)

static int bpf_next(void *ctx, int fd, const void *key, void *next)
{
	(void)ctx;
	return bpf_map_get_next_key(fd, key, next) < 0 ? -errno : 0;
}

static int bpf_lookup(void *ctx, int fd, const void *key, void *val)
{
	(void)ctx;
	return bpf_map_lookup_elem(fd, key, val) < 0 ? -errno : 0;
}

static int bpf_update(void *ctx, int fd, const void *key, const void *val)
{
	(void)ctx;
	return bpf_map_update_elem(fd, key, val, BPF_ANY) < 0 ? -errno : 0;
}

static int bpf_delete(void *ctx, int fd, const void *key)
{
	(void)ctx;
	return bpf_map_delete_elem(fd, key) < 0 ? -errno : 0;
}

static int bpf_lookup_batch(void *ctx, int fd, const void *in, void *out, void *keys,
			    void *values, uint32_t *count)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	(void)ctx;
	return bpf_map_lookup_batch(fd, (void *)in, out, keys, values, count, &bo) < 0 ? -errno : 0;
}

static int bpf_update_batch(void *ctx, int fd, const void *keys, const void *values,
			    uint32_t *count)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);

	(void)ctx;
	return bpf_map_update_batch(fd, keys, values, count, &bo) < 0 ? -errno : 0;
}

const struct map_ops maps_bpf_ops = {
	.get_next_key = bpf_next,
	.lookup = bpf_lookup,
	.update = bpf_update,
	.delete = bpf_delete,
	.lookup_batch = bpf_lookup_batch,
	.update_batch = bpf_update_batch,
};

#define WRITE_BATCH 4096

/* Writes queued upserts of one table: by batches where the map has them, else one by one. */
struct wq {
	unsigned char *keys, *vals;
	uint32_t n;
	bool no_batch;
};

static int wq_flush(const struct map_ops *ops, const struct maps_table *t, struct wq *q,
		    char *err, size_t errlen)
{
	uint32_t i, count = q->n;
	int r = 0;

	if (!q->n)
		return 0;
	if (ops->update_batch && !q->no_batch) {
		r = ops->update_batch(ops->ctx, t->fd, q->keys, q->vals, &count);
		if (r != -EINVAL && r != -EOPNOTSUPP && r != -524 /* ENOTSUPP */)
			goto done;
		/* no batch ops here (EINVAL may also be one bad entry: the slow path names it) */
		q->no_batch = true;
		r = 0;
	}
	for (i = 0; i < q->n && r == 0; i++)
		r = ops->update(ops->ctx, t->fd, q->keys + (size_t)i * t->key_size,
				q->vals + (size_t)i * t->value_size);
done:
	q->n = 0;
	if (r < 0)
		snprintf(err, errlen, "map %s: update failed: %s%s", t->name, strerror(-r),
			 r == -E2BIG || r == -ENOSPC ? " (map full: raise its size in the config)" : "");
	return r;
}

size_t maps_percpu_size(size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();

	if (ncpu < 1)
		ncpu = 1;
	return ((value_size + 7) & ~(size_t)7) * (size_t)ncpu;
}

#define DUMP_BATCH 8192

/*
 * maps_dump by batches: a few syscalls for a map of 100,000 entries instead of two per entry.
 * Returns -EOPNOTSUPP (nothing read) where the kernel has no batch ops for the map.
 */
static int dump_batched(const struct map_ops *ops, int fd, size_t key_size, size_t value_size,
			void **ret_entries, size_t *ret_n)
{
	size_t rec = key_size + value_size, n = 0, cap = 0, i, csz = key_size > 8 ? key_size : 8;
	unsigned char *buf = NULL, *nb, *keys, *vals, *cur_in, *cur_out;
	uint32_t chunk = DUMP_BATCH, count;
	bool first = true;
	int err;

	keys = malloc((size_t)chunk * key_size);
	vals = malloc((size_t)chunk * value_size);
	cur_in = calloc(2, csz);
	if (!keys || !vals || !cur_in) {
		err = -ENOMEM;
		goto out;
	}
	cur_out = cur_in + csz;
	for (;;) {
		count = chunk;
		err = ops->lookup_batch(ops->ctx, fd, first ? NULL : cur_in, cur_out, keys, vals,
					&count);
		if (err == -ENOSPC && count == 0 && chunk < (1u << 20)) {
			/* one hash bucket holds more than a chunk: grow and retry */
			chunk *= 2;
			nb = realloc(keys, (size_t)chunk * key_size);
			if (nb)
				keys = nb;
			nb = nb ? realloc(vals, (size_t)chunk * value_size) : NULL;
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			vals = nb;
			continue;
		}
		if (err < 0 && err != -ENOENT) {
			if (first && (err == -EINVAL || err == -EOPNOTSUPP || err == -524))
				err = -EOPNOTSUPP;
			goto out;
		}
		if (n + count > cap) {
			cap = (n + count) * 2;
			if (cap > MAPS_MAX_DUMP)
				cap = MAPS_MAX_DUMP;
			if (n + count > cap) {
				err = -E2BIG;
				goto out;
			}
			nb = realloc(buf, cap * rec);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		for (i = 0; i < count; i++) {
			memcpy(buf + (n + i) * rec, keys + i * key_size, key_size);
			memcpy(buf + (n + i) * rec + key_size, vals + i * value_size, value_size);
		}
		n += count;
		if (err == -ENOENT)
			break;
		memcpy(cur_in, cur_out, csz);
		first = false;
	}
	err = 0;
	*ret_entries = buf;
	*ret_n = n;
	buf = NULL;
out:
	free(buf);
	free(keys);
	free(vals);
	free(cur_in);
	return err;
}

int maps_dump(const struct map_ops *ops, int fd, size_t key_size, size_t value_size,
	      void **ret_entries, size_t *ret_n)
{
	size_t rec = key_size + value_size, n = 0, cap = 0;
	unsigned char *buf = NULL, *nb, *prev = NULL;
	int err;

	if (ops->lookup_batch) {
		err = dump_batched(ops, fd, key_size, value_size, ret_entries, ret_n);
		if (err != -EOPNOTSUPP)
			return err;
	}
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			if (cap > MAPS_MAX_DUMP) {
				err = -E2BIG;
				goto err_free;
			}
			nb = realloc(buf, cap * rec);
			if (!nb) {
				err = -ENOMEM;
				goto err_free;
			}
			buf = nb;
			if (n)
				prev = buf + (n - 1) * rec;
		}
		err = ops->get_next_key(ops->ctx, fd, prev, buf + n * rec);
		if (err == -ENOENT)
			break;
		if (err < 0)
			goto err_free;
		err = ops->lookup(ops->ctx, fd, buf + n * rec, buf + n * rec + key_size);
		if (err == -ENOENT)
			continue; /* deleted under us; prev stays, next round moves on */
		if (err < 0)
			goto err_free;
		prev = buf + n * rec;
		n++;
	}
	*ret_entries = buf;
	*ret_n = n;
	return 0;
err_free:
	free(buf);
	return err;
}

struct journal_op {
	size_t table;
	unsigned char *rec; /* key + old value */
	bool had_old;
};

struct journal {
	struct journal_op *ops;
	size_t n, cap;
};

static int journal_add(struct journal *j, size_t table, const void *key, size_t ksz,
		       const void *old, size_t vsz)
{
	struct journal_op *n;
	unsigned char *rec;

	if (j->n == j->cap) {
		j->cap = j->cap ? j->cap * 2 : 64;
		n = realloc(j->ops, j->cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		j->ops = n;
	}
	rec = malloc(ksz + vsz);
	if (!rec)
		return -ENOMEM;
	memcpy(rec, key, ksz);
	if (old)
		memcpy(rec + ksz, old, vsz);
	j->ops[j->n++] = (struct journal_op){ .table = table, .rec = rec, .had_old = !!old };
	return 0;
}

static void journal_undo(const struct map_ops *ops, struct maps_table *t, struct journal *j)
{
	struct journal_op *op;
	size_t i;

	for (i = j->n; i-- > 0;) {
		op = &j->ops[i];
		if (op->had_old)
			(void)ops->update(ops->ctx, t[op->table].fd, op->rec,
					  op->rec + t[op->table].key_size);
		else
			(void)ops->delete(ops->ctx, t[op->table].fd, op->rec);
	}
}

static void journal_free(struct journal *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		free(j->ops[i].rec);
	free(j->ops);
}

static int cmp_key(const void *a, const void *b, void *arg)
{
	return memcmp(a, b, *(const size_t *)arg);
}

struct sorted {
	unsigned char *recs;
	size_t n, rec;
};

static const unsigned char *sorted_find(const struct sorted *s, const void *key, size_t ksz)
{
	size_t lo = 0, hi = s->n, mid;
	int c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = memcmp(s->recs + mid * s->rec, key, ksz);
		if (c == 0)
			return s->recs + mid * s->rec;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int maps_reconcile(const struct map_ops *ops, struct maps_table *tables, size_t n_tables,
		   struct maps_result *ret_result, char *err, size_t errlen)
{
	struct maps_result res = {};
	struct journal j = {};
	struct wq q = {};
	struct sorted *want = NULL;
	void **cur = NULL;
	size_t *n_cur = NULL, ti, i, dsz;
	unsigned char *old;
	const unsigned char *w, *c;
	int r = 0;

	want = calloc(n_tables, sizeof(*want));
	cur = calloc(n_tables, sizeof(*cur));
	n_cur = calloc(n_tables, sizeof(*n_cur));
	if (!want || !cur || !n_cur) {
		r = -ENOMEM;
		goto out;
	}
	/* Read every map and sort the desired records before the first write. */
	for (ti = 0; ti < n_tables; ti++) {
		struct maps_table *t = &tables[ti];

		dsz = t->key_size + t->value_size;
		want[ti].rec = dsz;
		want[ti].n = t->n;
		want[ti].recs = malloc(t->n * dsz + 1);
		if (!want[ti].recs) {
			r = -ENOMEM;
			goto out;
		}
		if (t->n)
			memcpy(want[ti].recs, t->entries, t->n * dsz);
		qsort_r(want[ti].recs, t->n, dsz, cmp_key, &t->key_size);
		for (i = 1; i < t->n; i++) {
			if (!memcmp(want[ti].recs + (i - 1) * dsz, want[ti].recs + i * dsz,
				    t->key_size)) {
				snprintf(err, errlen, "map %s: two desired entries share a key",
					 t->name);
				r = -EINVAL;
				goto out;
			}
		}
		r = maps_dump(ops, t->fd, t->key_size, t->value_size, &cur[ti], &n_cur[ti]);
		if (r < 0) {
			snprintf(err, errlen, "map %s: read failed: %s", t->name, strerror(-r));
			goto out;
		}
		qsort_r(cur[ti], n_cur[ti], dsz, cmp_key, &t->key_size);
	}
	/* Upserts, in table order, queued and written by batches. Each is journalled before it is
	 * queued: undoing one that never landed rewrites what is there (or deletes nothing). */
	for (ti = 0; ti < n_tables; ti++) {
		struct maps_table *t = &tables[ti];
		struct sorted have = { .recs = cur[ti], .n = n_cur[ti],
				       .rec = t->key_size + t->value_size };

		q.n = 0;
		free(q.keys);
		free(q.vals);
		q.keys = malloc((size_t)WRITE_BATCH * t->key_size);
		q.vals = calloc(WRITE_BATCH, t->value_size); /* keys_only: zero values */
		if (!q.keys || !q.vals) {
			r = -ENOMEM;
			goto fail;
		}
		for (i = 0; i < want[ti].n; i++) {
			w = want[ti].recs + i * want[ti].rec;
			c = sorted_find(&have, w, t->key_size);
			if (c && (t->keys_only ||
				  !memcmp(c + t->key_size, w + t->key_size, t->value_size)))
				continue;
			old = c ? (unsigned char *)c + t->key_size : NULL;
			r = journal_add(&j, ti, w, t->key_size, old, t->value_size);
			if (r < 0)
				goto fail;
			memcpy(q.keys + (size_t)q.n * t->key_size, w, t->key_size);
			if (!t->keys_only)
				memcpy(q.vals + (size_t)q.n * t->value_size, w + t->key_size,
				       t->value_size);
			res.updates++;
			if (++q.n == WRITE_BATCH) {
				r = wq_flush(ops, t, &q, err, errlen);
				if (r < 0)
					goto fail;
				if (t->keys_only)
					memset(q.vals, 0, (size_t)WRITE_BATCH * t->value_size);
			}
		}
		r = wq_flush(ops, t, &q, err, errlen);
		if (r < 0)
			goto fail;
	}
	/* Deletes, in reverse table order. */
	for (ti = n_tables; ti-- > 0;) {
		struct maps_table *t = &tables[ti];
		size_t rec = t->key_size + t->value_size;

		for (i = 0; i < n_cur[ti]; i++) {
			c = (unsigned char *)cur[ti] + i * rec;
			if (sorted_find(&want[ti], c, t->key_size))
				continue;
			r = journal_add(&j, ti, c, t->key_size, c + t->key_size, t->value_size);
			if (r < 0)
				goto fail;
			r = ops->delete(ops->ctx, t->fd, c);
			if (r == -ENOENT) {
				/* gone already: nothing to restore on rollback */
				free(j.ops[--j.n].rec);
				r = 0;
				continue;
			}
			if (r < 0) {
				snprintf(err, errlen, "map %s: delete failed: %s", t->name,
					 strerror(-r));
				goto fail;
			}
			res.deletes++;
		}
	}
	*ret_result = res;
	r = 0;
	goto out;
fail:
	if (r == -ENOMEM && !err[0])
		snprintf(err, errlen, "reconcile: out of memory");
	journal_undo(ops, tables, &j);
	log_debug("maps", "reconcile rolled back", "ops=%zu", j.n);
out:
	free(q.keys);
	free(q.vals);
	journal_free(&j);
	for (ti = 0; want && ti < n_tables; ti++)
		free(want[ti].recs);
	for (ti = 0; cur && ti < n_tables; ti++)
		free(cur[ti]);
	free(want);
	free(cur);
	free(n_cur);
	return r;
}

/* Whether the inner table behind outer[svc_id] equals want (same size and entries). */
static bool maglev_same(int outer_fd, const struct maps_maglev *want)
{
	struct bpf_map_info info = {};
	__u32 id, len = sizeof(info), i, *have = NULL;
	bool same = false;
	int fd;

	if (bpf_map_lookup_elem(outer_fd, &want->svc_id, &id) < 0)
		return false;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return false;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 || info.max_entries != want->size)
		goto out;
	have = malloc((size_t)want->size * sizeof(*have) * 2);
	if (!have)
		goto out;
	{
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		__u32 out_batch, count = want->size;

		/* one syscall for the whole table; per entry where batches are missing */
		if (bpf_map_lookup_batch(fd, NULL, &out_batch, have + want->size, have, &count,
					 &bo) < 0 && errno != ENOENT)
			count = 0;
		if (count != want->size)
			for (i = 0; i < want->size; i++)
				if (bpf_map_lookup_elem(fd, &i, &have[i]) < 0)
					goto out;
	}
	same = !memcmp(have, want->table, (size_t)want->size * sizeof(*have));
out:
	free(have);
	close(fd);
	return same;
}

static int maglev_write(int outer_fd, const struct maps_maglev *t)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	/* the outer map's template carries BPF_F_INNER_MAP, which inner maps must match */
	LIBBPF_OPTS(bpf_map_create_opts, co, .map_flags = BPF_F_INNER_MAP);
	__u32 *keys, i, count = t->size;
	int fd, r;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_mg_inner", sizeof(__u32), sizeof(__u32),
			    t->size, &co);
	if (fd < 0)
		return -errno;
	keys = malloc((size_t)t->size * sizeof(*keys));
	if (!keys) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < t->size; i++)
		keys[i] = i;
	r = bpf_map_update_batch(fd, keys, t->table, &count, &bo) < 0 ? -errno : 0;
	if (r == -EINVAL || r == -EOPNOTSUPP || r == -524 /* ENOTSUPP */) {
		/* no batch ops for arrays on this kernel: one entry at a time */
		for (i = 0, r = 0; i < t->size && r == 0; i++)
			r = bpf_map_update_elem(fd, &keys[i], &t->table[i], BPF_ANY) < 0 ? -errno : 0;
	}
	if (r == 0)
		r = bpf_map_update_elem(outer_fd, &t->svc_id, &fd, BPF_ANY) < 0 ? -errno : 0;
out:
	free(keys);
	close(fd);
	return r;
}

int maps_maglev_sync(int outer_fd, const struct maps_maglev *t, size_t n,
		     struct maps_result *ret_result, char *err, size_t errlen)
{
	struct maps_result res = {};
	__u32 key, next, *stale = NULL, *ns;
	size_t i, n_stale = 0, cap = 0;
	bool want, have_prev = false;
	int r = 0;

	for (i = 0; i < n; i++) {
		if (maglev_same(outer_fd, &t[i]))
			continue;
		r = maglev_write(outer_fd, &t[i]);
		if (r < 0) {
			snprintf(err, errlen, "map sluice_maglev: service id %u: update failed: %s%s",
				 t[i].svc_id, strerror(-r),
				 r == -E2BIG || r == -ENOSPC ?
				 " (map full: raise map_size_maglev_services in the config)" : "");
			return r;
		}
		res.updates++;
	}
	while (bpf_map_get_next_key(outer_fd, have_prev ? &key : NULL, &next) == 0) {
		key = next;
		have_prev = true;
		for (i = 0, want = false; i < n && !want; i++)
			want = t[i].svc_id == key;
		if (want)
			continue;
		if (n_stale == cap) {
			cap = cap ? cap * 2 : 16;
			ns = realloc(stale, cap * sizeof(*ns));
			if (!ns) {
				free(stale);
				snprintf(err, errlen, "map sluice_maglev: out of memory");
				return -ENOMEM;
			}
			stale = ns;
		}
		stale[n_stale++] = key;
	}
	for (i = 0; i < n_stale; i++) {
		if (bpf_map_delete_elem(outer_fd, &stale[i]) < 0 && errno != ENOENT) {
			r = -errno;
			snprintf(err, errlen, "map sluice_maglev: delete failed: %s", strerror(-r));
			break;
		}
		res.deletes++;
	}
	free(stale);
	if (r == 0 && ret_result)
		*ret_result = res;
	return r;
}
