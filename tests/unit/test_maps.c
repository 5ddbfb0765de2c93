// SPDX-License-Identifier: Apache-2.0
/*
 * maps_reconcile against fake in-memory maps passed through the map_ops table. The fake keeps
 * each map as an insertion-ordered record list (so iteration order differs from key order, as
 * a kernel hash does), logs every write, and can fail the Nth update or delete.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/maps/maps.h"

#define FAKE_MAPS    4
#define FAKE_ENTRIES 64
#define FAKE_LOG     256
#define KSZ	     4
#define VSZ	     8

struct fake_map {
	size_t n;
	uint32_t keys[FAKE_ENTRIES];
	uint64_t vals[FAKE_ENTRIES];
};

enum fake_op_kind { FOP_UPDATE, FOP_DELETE };

struct fake_op {
	enum fake_op_kind kind;
	int fd;
	uint32_t key;
};

struct fake {
	struct fake_map maps[FAKE_MAPS];
	struct fake_op log[FAKE_LOG];
	size_t n_log;
	size_t n_updates, n_deletes;	 /* calls so far, failed ones included */
	size_t fail_update_at;		 /* 1-based call number to fail, 0 = never */
	size_t fail_delete_at;
	int fail_err;
	int fail_next_key_fd;		 /* fd whose iteration fails, -1 = none */
};

static int fake_find(const struct fake_map *m, uint32_t key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->keys[i] == key)
			return (int)i;
	return -1;
}

static int fake_next(void *ctx, int fd, const void *key, void *next)
{
	struct fake *f = ctx;
	struct fake_map *m = &f->maps[fd];
	uint32_t k;
	int i = -1;

	if (fd == f->fail_next_key_fd)
		return -EPERM;
	if (key) {
		memcpy(&k, key, KSZ);
		i = fake_find(m, k); /* like a hash: an unknown key restarts from the first */
	}
	if ((size_t)(i + 1) >= m->n)
		return -ENOENT;
	memcpy(next, &m->keys[i + 1], KSZ);
	return 0;
}

static int fake_lookup(void *ctx, int fd, const void *key, void *val)
{
	struct fake *f = ctx;
	uint32_t k;
	int i;

	memcpy(&k, key, KSZ);
	i = fake_find(&f->maps[fd], k);
	if (i < 0)
		return -ENOENT;
	memcpy(val, &f->maps[fd].vals[i], VSZ);
	return 0;
}

static void fake_log(struct fake *f, enum fake_op_kind kind, int fd, const void *key)
{
	assert_true(f->n_log < FAKE_LOG);
	f->log[f->n_log].kind = kind;
	f->log[f->n_log].fd = fd;
	memcpy(&f->log[f->n_log].key, key, KSZ);
	f->n_log++;
}

static int fake_update(void *ctx, int fd, const void *key, const void *val)
{
	struct fake *f = ctx;
	struct fake_map *m = &f->maps[fd];
	uint32_t k;
	int i;

	if (++f->n_updates == f->fail_update_at)
		return f->fail_err;
	fake_log(f, FOP_UPDATE, fd, key);
	memcpy(&k, key, KSZ);
	i = fake_find(m, k);
	if (i < 0) {
		if (m->n == FAKE_ENTRIES)
			return -E2BIG;
		i = (int)m->n++;
		m->keys[i] = k;
	}
	memcpy(&m->vals[i], val, VSZ);
	return 0;
}

static int fake_delete(void *ctx, int fd, const void *key)
{
	struct fake *f = ctx;
	struct fake_map *m = &f->maps[fd];
	uint32_t k;
	int i;

	if (++f->n_deletes == f->fail_delete_at)
		return f->fail_err;
	fake_log(f, FOP_DELETE, fd, key);
	memcpy(&k, key, KSZ);
	i = fake_find(m, k);
	if (i < 0)
		return -ENOENT;
	memmove(&m->keys[i], &m->keys[i + 1], (m->n - (size_t)i - 1) * sizeof(m->keys[0]));
	memmove(&m->vals[i], &m->vals[i + 1], (m->n - (size_t)i - 1) * sizeof(m->vals[0]));
	m->n--;
	return 0;
}

/* Desired/current records: a 4-byte key followed by an 8-byte value, packed. */
struct rec {
	uint32_t key;
	uint64_t val;
} __attribute__((packed));

_Static_assert(sizeof(struct rec) == KSZ + VSZ, "records are key + value, packed");

struct t {
	struct fake f;
	struct map_ops ops;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->f.fail_next_key_fd = -1;
	t->f.fail_err = -EIO;
	t->ops = (struct map_ops){
		.get_next_key = fake_next,
		.lookup = fake_lookup,
		.update = fake_update,
		.delete = fake_delete,
		.ctx = &t->f,
	};
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void seed(struct fake *f, int fd, const struct rec *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		f->maps[fd].keys[i] = r[i].key;
		f->maps[fd].vals[i] = r[i].val;
	}
	f->maps[fd].n = n;
}

/* The map holds exactly these records, in any order. */
static void assert_map(const struct fake *f, int fd, const struct rec *r, size_t n)
{
	const struct fake_map *m = &f->maps[fd];
	size_t i;
	int j;

	assert_int_equal(m->n, n);
	for (i = 0; i < n; i++) {
		j = fake_find(m, r[i].key);
		assert_true(j >= 0);
		assert_int_equal(m->vals[j], r[i].val);
	}
}

static struct maps_table table(const char *name, int fd, const struct rec *r, size_t n)
{
	return (struct maps_table){ .name = name, .fd = fd, .key_size = KSZ, .value_size = VSZ,
				    .entries = r, .n = n };
}

static void reconcile__empty_map__creates_every_entry(void **state)
{
	struct t *t = *state;
	const struct rec want[] = { { 3, 30 }, { 1, 10 }, { 2, 20 } };
	struct maps_table tb = table("sluice_svc", 0, want, 3);
	struct maps_result res = { 99, 99 };
	char err[256] = "";

	assert_int_equal(maps_reconcile(&t->ops, &tb, 1, &res, err, sizeof(err)), 0);
	assert_int_equal(res.updates, 3);
	assert_int_equal(res.deletes, 0);
	assert_map(&t->f, 0, want, 3);
}

static void reconcile__mixed_diff__counts_updates_and_deletes(void **state)
{
	struct t *t = *state;
	const struct rec have[] = { { 1, 10 }, { 2, 20 }, { 3, 30 } };
	const struct rec want[] = { { 4, 40 }, { 2, 21 }, { 1, 10 } };
	struct maps_table tb = table("sluice_svc", 0, want, 3);
	struct maps_result res = {};
	char err[256] = "";

	seed(&t->f, 0, have, 3);
	assert_int_equal(maps_reconcile(&t->ops, &tb, 1, &res, err, sizeof(err)), 0);
	assert_int_equal(res.updates, 2); /* 2 changed, 4 created */
	assert_int_equal(res.deletes, 1); /* 3 gone */
	assert_int_equal(t->f.n_log, 3);
	assert_map(&t->f, 0, want, 3);
}

static void reconcile__unchanged__writes_nothing(void **state)
{
	struct t *t = *state;
	const struct rec have[] = { { 7, 70 }, { 5, 50 }, { 6, 60 } };
	const struct rec want[] = { { 5, 50 }, { 6, 60 }, { 7, 70 } };
	struct maps_table tb = table("sluice_backend", 0, want, 3);
	struct maps_result res = { 99, 99 };
	char err[256] = "";

	seed(&t->f, 0, have, 3);
	assert_int_equal(maps_reconcile(&t->ops, &tb, 1, &res, err, sizeof(err)), 0);
	assert_int_equal(res.updates, 0);
	assert_int_equal(res.deletes, 0);
	assert_int_equal(t->f.n_updates + t->f.n_deletes, 0);
	assert_map(&t->f, 0, have, 3);
}

static void reconcile__empty_desired__deletes_everything(void **state)
{
	struct t *t = *state;
	const struct rec have[] = { { 1, 10 }, { 2, 20 } };
	struct maps_table tb = table("sluice_ep", 0, NULL, 0);
	struct maps_result res = {};
	char err[256] = "";

	seed(&t->f, 0, have, 2);
	assert_int_equal(maps_reconcile(&t->ops, &tb, 1, &res, err, sizeof(err)), 0);
	assert_int_equal(res.updates, 0);
	assert_int_equal(res.deletes, 2);
	assert_int_equal(t->f.maps[0].n, 0);
}

static void reconcile__keys_only__never_overwrites_values(void **state)
{
	struct t *t = *state;
	const struct rec have[] = { { 1, 1111 }, { 9, 9999 } };
	const struct rec want[] = { { 1, 5 }, { 2, 6 } }; /* values must be ignored */
	const struct rec after[] = { { 1, 1111 }, { 2, 0 } };
	struct maps_table tb = table("sluice_ep_stats", 0, want, 2);
	struct maps_result res = {};
	char err[256] = "";

	tb.keys_only = true;
	seed(&t->f, 0, have, 2);
	assert_int_equal(maps_reconcile(&t->ops, &tb, 1, &res, err, sizeof(err)), 0);
	assert_int_equal(res.updates, 1); /* only the new key, written as zeros */
	assert_int_equal(res.deletes, 1); /* the stale key still goes */
	assert_map(&t->f, 0, after, 2);

	/* a second pass with the same keys touches nothing, counters stay */
	t->f.n_updates = t->f.n_deletes = 0;
	assert_int_equal(maps_reconcile(&t->ops, &tb, 1, &res, err, sizeof(err)), 0);
	assert_int_equal(res.updates, 0);
	assert_int_equal(res.deletes, 0);
	assert_int_equal(t->f.n_updates + t->f.n_deletes, 0);
	assert_map(&t->f, 0, after, 2);
}

static void reconcile__update_fails_midway__rolls_back_and_names_map(void **state)
{
	struct t *t = *state;
	const struct rec have0[] = { { 1, 10 }, { 2, 20 } };
	const struct rec have1[] = { { 100, 1 }, { 101, 2 } };
	const struct rec want0[] = { { 1, 11 }, { 3, 30 } };	 /* change 1, add 3, drop 2 */
	const struct rec want1[] = { { 100, 5 }, { 102, 7 } }; /* change 100, add 102, drop 101 */
	struct maps_table tb[2] = { table("sluice_backend", 0, want0, 2),
				    table("sluice_svc", 1, want1, 2) };
	struct maps_result res = { 42, 43 };
	char err[256] = "";
	size_t nth;

	for (nth = 1; nth <= 4; nth++) {
		seed(&t->f, 0, have0, 2);
		seed(&t->f, 1, have1, 2);
		t->f.n_updates = t->f.n_deletes = t->f.n_log = 0;
		t->f.fail_update_at = nth;
		t->f.fail_err = -ENOSPC;
		err[0] = '\0';
		assert_int_equal(maps_reconcile(&t->ops, tb, 2, &res, err, sizeof(err)), -ENOSPC);
		assert_map(&t->f, 0, have0, 2);
		assert_map(&t->f, 1, have1, 2);
		assert_int_equal(res.updates, 42); /* ret_result untouched on failure */
		assert_int_equal(res.deletes, 43);
		assert_non_null(strstr(err, nth <= 2 ? "sluice_backend" : "sluice_svc"));
		assert_null(strstr(err, nth <= 2 ? "sluice_svc" : "sluice_backend"));
		assert_non_null(strstr(err, "map full"));
	}
}

static void reconcile__delete_fails__rolls_back_upserts_and_deletes(void **state)
{
	struct t *t = *state;
	const struct rec have0[] = { { 1, 10 }, { 2, 20 } };
	const struct rec have1[] = { { 100, 1 }, { 101, 2 } };
	const struct rec want0[] = { { 1, 11 } };
	const struct rec want1[] = { { 102, 7 } };
	struct maps_table tb[2] = { table("sluice_backend", 0, want0, 1),
				    table("sluice_svc", 1, want1, 1) };
	struct maps_result res = {};
	char err[256] = "";

	seed(&t->f, 0, have0, 2);
	seed(&t->f, 1, have1, 2);
	/* deletes run svc (100, 101) first, then backend (2): fail the last one */
	t->f.fail_delete_at = 3;
	t->f.fail_err = -EPERM;
	assert_int_equal(maps_reconcile(&t->ops, tb, 2, &res, err, sizeof(err)), -EPERM);
	assert_map(&t->f, 0, have0, 2);
	assert_map(&t->f, 1, have1, 2);
	assert_non_null(strstr(err, "sluice_backend"));
	assert_non_null(strstr(err, "delete"));
}

static void reconcile__two_tables__upserts_in_order_then_deletes_reversed(void **state)
{
	struct t *t = *state;
	const struct rec have0[] = { { 1, 10 }, { 2, 20 } };
	const struct rec have1[] = { { 100, 1 }, { 101, 2 } };
	const struct rec want0[] = { { 3, 30 }, { 1, 10 } };	/* add 3, drop 2 */
	const struct rec want1[] = { { 102, 1 }, { 100, 1 } }; /* add 102, drop 101 */
	struct maps_table tb[2] = { table("sluice_backend", 0, want0, 2),
				    table("sluice_svc", 1, want1, 2) };
	const struct fake_op want_log[] = {
		{ FOP_UPDATE, 0, 3 },	/* backends first */
		{ FOP_UPDATE, 1, 102 }, /* then the services pointing at them */
		{ FOP_DELETE, 1, 101 }, /* services removed before */
		{ FOP_DELETE, 0, 2 },	/* their backends */
	};
	struct maps_result res = {};
	char err[256] = "";
	size_t i;

	seed(&t->f, 0, have0, 2);
	seed(&t->f, 1, have1, 2);
	assert_int_equal(maps_reconcile(&t->ops, tb, 2, &res, err, sizeof(err)), 0);
	assert_int_equal(res.updates, 2);
	assert_int_equal(res.deletes, 2);
	assert_int_equal(t->f.n_log, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(t->f.log[i].kind, want_log[i].kind);
		assert_int_equal(t->f.log[i].fd, want_log[i].fd);
		assert_int_equal(t->f.log[i].key, want_log[i].key);
	}
}

static void reconcile__duplicate_desired_key__einval_without_writes(void **state)
{
	struct t *t = *state;
	const struct rec want[] = { { 1, 10 }, { 2, 20 }, { 1, 11 } };
	struct maps_table tb = table("sluice_ep", 0, want, 3);
	struct maps_result res = {};
	char err[256] = "";

	assert_int_equal(maps_reconcile(&t->ops, &tb, 1, &res, err, sizeof(err)), -EINVAL);
	assert_int_equal(t->f.n_updates + t->f.n_deletes, 0);
	assert_non_null(strstr(err, "sluice_ep"));
}

static void reconcile__read_fails__error_names_map_without_writes(void **state)
{
	struct t *t = *state;
	const struct rec want0[] = { { 1, 10 } };
	const struct rec want1[] = { { 2, 20 } };
	struct maps_table tb[2] = { table("sluice_backend", 0, want0, 1),
				    table("sluice_svc", 1, want1, 1) };
	struct maps_result res = {};
	char err[256] = "";

	t->f.fail_next_key_fd = 1;
	assert_int_equal(maps_reconcile(&t->ops, tb, 2, &res, err, sizeof(err)), -EPERM);
	assert_int_equal(t->f.n_updates + t->f.n_deletes, 0);
	assert_non_null(strstr(err, "sluice_svc"));
}

static void dump__three_entries__returns_all_records(void **state)
{
	struct t *t = *state;
	const struct rec have[] = { { 9, 90 }, { 4, 40 }, { 6, 60 } };
	struct rec *got;
	void *buf = NULL;
	size_t n = 0, i;

	seed(&t->f, 2, have, 3);
	assert_int_equal(maps_dump(&t->ops, 2, KSZ, VSZ, &buf, &n), 0);
	assert_int_equal(n, 3);
	got = buf;
	for (i = 0; i < 3; i++) {
		assert_int_equal(got[i].key, have[i].key);
		assert_int_equal(got[i].val, have[i].val);
	}
	free(buf);
}

static void dump__more_than_initial_capacity__returns_all_records(void **state)
{
	struct t *t = *state;
	void *buf = NULL;
	size_t n = 0, i;
	struct rec r[FAKE_ENTRIES];

	for (i = 0; i < FAKE_ENTRIES; i++)
		r[i] = (struct rec){ (uint32_t)i + 1, i * 3 };
	seed(&t->f, 3, r, FAKE_ENTRIES);
	assert_int_equal(maps_dump(&t->ops, 3, KSZ, VSZ, &buf, &n), 0);
	assert_int_equal(n, FAKE_ENTRIES);
	assert_memory_equal(buf, r, sizeof(r));
	free(buf);
}

static void percpu_size__twelve_bytes__rounds_to_eight_per_cpu(void **state)
{
	size_t one = maps_percpu_size(1);

	(void)state;
	assert_true(one >= 8 && one % 8 == 0);
	assert_int_equal(maps_percpu_size(12), one * 2);
	assert_int_equal(maps_percpu_size(16), one * 2);
	assert_int_equal(maps_percpu_size(32), one * 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(reconcile__empty_map__creates_every_entry),
		T(reconcile__mixed_diff__counts_updates_and_deletes),
		T(reconcile__unchanged__writes_nothing),
		T(reconcile__empty_desired__deletes_everything),
		T(reconcile__keys_only__never_overwrites_values),
		T(reconcile__update_fails_midway__rolls_back_and_names_map),
		T(reconcile__delete_fails__rolls_back_upserts_and_deletes),
		T(reconcile__two_tables__upserts_in_order_then_deletes_reversed),
		T(reconcile__duplicate_desired_key__einval_without_writes),
		T(reconcile__read_fails__error_names_map_without_writes),
		T(dump__three_entries__returns_all_records),
		T(dump__more_than_initial_capacity__returns_all_records),
		cmocka_unit_test(percpu_size__twelve_bytes__rounds_to_eight_per_cpu),
#undef T
	};

	return cmocka_run_group_tests_name("maps", tests, NULL, NULL);
}
