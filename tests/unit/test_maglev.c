// SPDX-License-Identifier: Apache-2.0
/*
 * agent/lb/maglev: the primality check behind the table-size option, and maglev_build's
 * contract (prime m > n >= 1, every entry a backend index), balance (the population loop hands
 * out entries round-robin, so shares differ by at most one), determinism, and disruption when
 * one backend leaves or joins (Eisenbud et al., NSDI 2016, section 3.4).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/lb/maglev.h"
#include "sl_abi.h"

#define M_DEFAULT SL_MAGLEV_DEFAULT /* 16381 */
#define MAX_N	  SL_MAX_BACKENDS_PER_SVC

/* Backend identities as the agent hashes them: address text and port. */
struct ids {
	char name[MAX_N + 1][32];
	struct maglev_backend b[MAX_N + 1];
	size_t n;
};

/* Backends first..first+n-1, named by address; the table of size m is the caller's. */
static void ids_make(struct ids *s, size_t first, size_t n)
{
	size_t i;

	assert_true(n <= MAX_N + 1);
	s->n = n;
	for (i = 0; i < n; i++) {
		snprintf(s->name[i], sizeof(s->name[i]), "10.%zu.%zu.%zu:8080", (first + i) >> 16,
			 ((first + i) >> 8) & 0xff, (first + i) & 0xff);
		s->b[i].id = s->name[i];
		s->b[i].len = strlen(s->name[i]);
	}
}

/* Drops backend k from s, keeping the others in order (their indexes above k shift down). */
static void ids_remove(struct ids *s, size_t k)
{
	size_t i;

	for (i = k; i + 1 < s->n; i++) {
		memcpy(s->name[i], s->name[i + 1], sizeof(s->name[i]));
		s->b[i].id = s->name[i];
		s->b[i].len = strlen(s->name[i]);
	}
	s->n--;
}

static uint32_t *table_new(uint32_t m)
{
	uint32_t *t = malloc((size_t)m * sizeof(*t));

	assert_non_null(t);
	return t;
}

static void counts(const uint32_t *t, uint32_t m, size_t n, size_t *cnt)
{
	uint32_t i;

	memset(cnt, 0, n * sizeof(*cnt));
	for (i = 0; i < m; i++) {
		assert_true(t[i] < n);
		cnt[t[i]]++;
	}
}

/* --- maglev_is_prime ------------------------------------------------------------------------ */

static void maglev_is_prime__edges_and_small_numbers__exact(void **state)
{
	static const uint32_t primes[] = { 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 97, 251, 65537 };
	static const uint32_t composites[] = { 4, 6, 8, 9, 10, 15, 21, 25, 27, 49, 91, 121,
					       561 /* Carmichael */, 65536, 65535 };
	size_t i;

	(void)state;
	assert_false(maglev_is_prime(0));
	assert_false(maglev_is_prime(1));
	for (i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		assert_true(maglev_is_prime(primes[i]));
	for (i = 0; i < sizeof(composites) / sizeof(composites[0]); i++)
		assert_false(maglev_is_prime(composites[i]));
}

static void maglev_is_prime__table_sizes__default_and_max_prime(void **state)
{
	(void)state;
	assert_true(maglev_is_prime(SL_MAGLEV_DEFAULT));
	assert_true(maglev_is_prime(16381));
	assert_false(maglev_is_prime(16383)); /* 3 * 43 * 127 */
	assert_false(maglev_is_prime(16384));
	assert_true(maglev_is_prime(SL_MAGLEV_MAX));
	assert_true(maglev_is_prime(131071)); /* 2^17 - 1 */
	assert_false(maglev_is_prime(131073)); /* 3 * 43691 */
	assert_false(maglev_is_prime(1009 * 1013)); /* product of two primes near the root */
}

static void maglev_is_prime__near_uint32_max__no_overflow(void **state)
{
	(void)state;
	assert_true(maglev_is_prime(4294967291u));  /* largest 32-bit prime */
	assert_false(maglev_is_prime(UINT32_MAX));  /* 3 * 5 * 17 * 257 * 65537 */
	assert_false(maglev_is_prime(4294967071u)); /* 65521 * 65551 */
	assert_false(maglev_is_prime(65521u * 65521u));
}

/* --- maglev_build: contract ----------------------------------------------------------------- */

static void maglev_build__invalid_arguments__einval_table_untouched(void **state)
{
	struct ids s;
	uint32_t t[32];
	size_t i;

	(void)state;
	ids_make(&s, 1, 5);
	memset(t, 0xab, sizeof(t));
	assert_int_equal(maglev_build(s.b, 0, 17, t), -EINVAL);	 /* no backend */
	assert_int_equal(maglev_build(s.b, 5, 16, t), -EINVAL);	 /* not prime */
	assert_int_equal(maglev_build(s.b, 5, 25, t), -EINVAL);	 /* not prime */
	assert_int_equal(maglev_build(s.b, 5, 5, t), -EINVAL);	 /* m == n */
	assert_int_equal(maglev_build(s.b, 5, 3, t), -EINVAL);	 /* m < n */
	assert_int_equal(maglev_build(s.b, 1, 1, t), -EINVAL);	 /* 1 is not prime */
	assert_int_equal(maglev_build(s.b, 1, 0, t), -EINVAL);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(t[i], 0xabababab);
}

static void maglev_build__one_backend__every_entry_zero(void **state)
{
	struct ids s;
	uint32_t *t = table_new(M_DEFAULT), small[2];
	uint32_t i;

	(void)state;
	ids_make(&s, 1, 1);
	assert_int_equal(maglev_build(s.b, 1, M_DEFAULT, t), 0);
	for (i = 0; i < M_DEFAULT; i++)
		assert_int_equal(t[i], 0);
	/* the smallest table allowed: m = 2 > n = 1 */
	assert_int_equal(maglev_build(s.b, 1, 2, small), 0);
	assert_int_equal(small[0], 0);
	assert_int_equal(small[1], 0);
	free(t);
}

static void maglev_build__m_just_above_n__every_backend_present(void **state)
{
	struct ids s;
	size_t cnt[12];
	uint32_t t[13];
	size_t i;

	(void)state;
	ids_make(&s, 1, 12);
	assert_int_equal(maglev_build(s.b, 12, 13, t), 0);
	counts(t, 13, 12, cnt);
	/* round-robin: backend 0 takes two entries, every other exactly one */
	assert_int_equal(cnt[0], 2);
	for (i = 1; i < 12; i++)
		assert_int_equal(cnt[i], 1);
}

static void maglev_build__identical_ids__still_fills_every_entry(void **state)
{
	struct maglev_backend b[3] = { { "same", 4 }, { "same", 4 }, { "same", 4 } };
	uint32_t t[101];
	size_t cnt[3];

	(void)state;
	assert_int_equal(maglev_build(b, 3, 101, t), 0);
	counts(t, 101, 3, cnt);
	assert_int_equal(cnt[0], 34);
	assert_int_equal(cnt[1], 34);
	assert_int_equal(cnt[2], 33);
}

/* --- maglev_build: balance ------------------------------------------------------------------ */

static void check_balance(uint32_t m, size_t n)
{
	struct ids *s = calloc(1, sizeof(*s));
	size_t *cnt = calloc(n, sizeof(*cnt)), i, lo, hi;
	uint32_t *t = table_new(m);

	assert_non_null(s);
	assert_non_null(cnt);
	ids_make(s, 1, n);
	assert_int_equal(maglev_build(s->b, n, m, t), 0);
	counts(t, m, n, cnt); /* also: every entry a valid index */
	for (i = 0; i < n; i++) {
		/* The paper's bound for equal weights: shares differ by at most one entry, and
		 * the first m % n backends (in fill order) hold the extra ones. */
		assert_int_equal(cnt[i], m / n + (i < m % n ? 1 : 0));
		/* and the looser bound from the brief: within 10% of m/n */
		lo = (size_t)(0.9 * m / n);
		hi = (size_t)(1.1 * m / n) + 1;
		assert_in_range(cnt[i], lo, hi);
	}
	free(t);
	free(cnt);
	free(s);
}

static void maglev_build__3_5_10_100_backends__shares_within_one_entry(void **state)
{
	(void)state;
	check_balance(M_DEFAULT, 3);
	check_balance(M_DEFAULT, 5);
	check_balance(M_DEFAULT, 10);
	check_balance(M_DEFAULT, 100);
}

static void maglev_build__max_backends_in_max_table__shares_within_one_entry(void **state)
{
	(void)state;
	check_balance(SL_MAGLEV_MAX, MAX_N);
	check_balance(SL_MAGLEV_MAX, 7);
}

/* --- maglev_build: determinism -------------------------------------------------------------- */

static void maglev_build__same_backends_twice__identical_tables(void **state)
{
	struct ids *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	uint32_t *t1 = table_new(M_DEFAULT), *t2 = table_new(M_DEFAULT);

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	ids_make(a, 1, 10);
	ids_make(b, 1, 10); /* same bytes at other addresses: only the contents are hashed */
	memset(t2, 0x5a, (size_t)M_DEFAULT * sizeof(*t2));
	assert_int_equal(maglev_build(a->b, 10, M_DEFAULT, t1), 0);
	assert_int_equal(maglev_build(b->b, 10, M_DEFAULT, t2), 0);
	assert_memory_equal(t1, t2, (size_t)M_DEFAULT * sizeof(*t1));
	/* and the table depends on the ids: other backends give another table */
	ids_make(b, 1000, 10);
	assert_int_equal(maglev_build(b->b, 10, M_DEFAULT, t2), 0);
	assert_true(memcmp(t1, t2, (size_t)M_DEFAULT * sizeof(*t1)) != 0);
	free(t1);
	free(t2);
	free(a);
	free(b);
}

/* --- maglev_build: disruption --------------------------------------------------------------- */

/*
 * Builds n backends, then the same without backend k; every entry that was on k must move, and
 * entries that were on a remaining backend and moved anyway must be few (the paper's Figure 11
 * reports well under 5% of the table for M >> N).
 */
static void check_removal(size_t n, size_t k, uint32_t m)
{
	struct ids *s = calloc(1, sizeof(*s));
	uint32_t *t1 = table_new(m), *t2 = table_new(m);
	size_t moved_own = 0, collateral = 0, was_on_k = 0;
	uint32_t i, old, now;

	assert_non_null(s);
	ids_make(s, 1, n);
	assert_int_equal(maglev_build(s->b, n, m, t1), 0);
	ids_remove(s, k);
	assert_int_equal(maglev_build(s->b, n - 1, m, t2), 0);
	for (i = 0; i < m; i++) {
		assert_true(t2[i] < n - 1);
		old = t1[i];
		/* back to the first build's index: those above k shifted down by one */
		now = t2[i] >= k ? t2[i] + 1 : t2[i];
		assert_int_not_equal(now, k);
		if (old == k) {
			was_on_k++;
			moved_own++;
		} else if (old != now) {
			collateral++;
		}
	}
	assert_int_equal(was_on_k, m / n + (k < m % n ? 1 : 0));
	assert_int_equal(moved_own, was_on_k);
	/* the ideal is 0; Maglev trades a little for balance */
	assert_true(collateral < m / 20);
	/* and far below what a modulo hash would move, (n-1)/n of the table */
	assert_true(collateral < m / n);
	free(t1);
	free(t2);
	free(s);
}

static void maglev_build__remove_one_of_5_or_10__few_other_entries_move(void **state)
{
	size_t k;

	(void)state;
	for (k = 0; k < 5; k++)
		check_removal(5, k, M_DEFAULT);
	check_removal(10, 0, M_DEFAULT);
	check_removal(10, 4, M_DEFAULT);
	check_removal(10, 9, M_DEFAULT);
}

static void check_addition(size_t n, uint32_t m)
{
	struct ids *s = calloc(1, sizeof(*s));
	uint32_t *t1 = table_new(m), *t2 = table_new(m);
	size_t to_new = 0, collateral = 0;
	uint32_t i;

	assert_non_null(s);
	ids_make(s, 1, n + 1);
	assert_int_equal(maglev_build(s->b, n, m, t1), 0);	/* backends 0..n-1 */
	assert_int_equal(maglev_build(s->b, n + 1, m, t2), 0); /* and backend n joins */
	for (i = 0; i < m; i++) {
		if (t2[i] == n)
			to_new++;
		else if (t2[i] != t1[i])
			collateral++;
	}
	/* the newcomer takes its fair share, and only about that moves */
	assert_int_equal(to_new, m / (n + 1) + (n < m % (n + 1) ? 1 : 0));
	assert_true(collateral < m / 20);
	assert_true(collateral < m / (n + 1));
	free(t1);
	free(t2);
	free(s);
}

static void maglev_build__add_one_to_5_or_10__few_other_entries_move(void **state)
{
	(void)state;
	check_addition(5, M_DEFAULT);
	check_addition(10, M_DEFAULT);
	check_addition(4, M_DEFAULT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(maglev_is_prime__edges_and_small_numbers__exact),
		cmocka_unit_test(maglev_is_prime__table_sizes__default_and_max_prime),
		cmocka_unit_test(maglev_is_prime__near_uint32_max__no_overflow),
		cmocka_unit_test(maglev_build__invalid_arguments__einval_table_untouched),
		cmocka_unit_test(maglev_build__one_backend__every_entry_zero),
		cmocka_unit_test(maglev_build__m_just_above_n__every_backend_present),
		cmocka_unit_test(maglev_build__identical_ids__still_fills_every_entry),
		cmocka_unit_test(maglev_build__3_5_10_100_backends__shares_within_one_entry),
		cmocka_unit_test(maglev_build__max_backends_in_max_table__shares_within_one_entry),
		cmocka_unit_test(maglev_build__same_backends_twice__identical_tables),
		cmocka_unit_test(maglev_build__remove_one_of_5_or_10__few_other_entries_move),
		cmocka_unit_test(maglev_build__add_one_to_5_or_10__few_other_entries_move),
	};

	return cmocka_run_group_tests_name("maglev", tests, NULL, NULL);
}
