// SPDX-License-Identifier: Apache-2.0
/*
 * agent/loader/kclock: CONFIG_HZ from a kernel config, plain or gzip (as /proc/config.gz),
 * the bounds it accepts, and that the running kernel's value is found where its config is.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "agent/loader/kclock.h"

static void write_plain(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void write_gz(const char *path, const char *text)
{
	gzFile f = gzopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(gzputs(f, text), (int)strlen(text));
	assert_int_equal(gzclose(f), Z_OK);
}

static int hz_of(const char *text, bool gz)
{
	char path[] = "/tmp/sl-kclock-XXXXXX";
	int fd = mkstemp(path), hz;

	assert_true(fd >= 0);
	close(fd);
	if (gz)
		write_gz(path, text);
	else
		write_plain(path, text);
	hz = kclock_hz_from(path);
	unlink(path);
	return hz;
}

static const char cfg250[] = "#\n# Automatically generated file; DO NOT EDIT.\n"
			     "CONFIG_HZ_250=y\n# CONFIG_HZ_1000 is not set\nCONFIG_HZ=250\n"
			     "CONFIG_SCHED_HRTICK=y\n";

static void hz_from__plain_config__value_of_config_hz(void **state)
{
	(void)state;
	assert_int_equal(hz_of(cfg250, false), 250);
}

static void hz_from__gzip_config__value_of_config_hz(void **state)
{
	(void)state;
	assert_int_equal(hz_of("CONFIG_HZ_1000=y\nCONFIG_HZ=1000\n", true), 1000);
}

static void hz_from__no_config_hz_line__zero(void **state)
{
	(void)state;
	assert_int_equal(hz_of("CONFIG_HZ_250=y\nCONFIG_HZ_PERIODIC=y\n", false), 0);
}

static void hz_from__garbage_or_out_of_range__zero(void **state)
{
	(void)state;
	assert_int_equal(hz_of("CONFIG_HZ=abc\n", false), 0);
	assert_int_equal(hz_of("CONFIG_HZ=250x\n", false), 0);
	assert_int_equal(hz_of("CONFIG_HZ=\n", false), 0);
	assert_int_equal(hz_of("CONFIG_HZ=0\n", false), 0);
	assert_int_equal(hz_of("CONFIG_HZ=99999999999999999999\n", false), 0);
}

static void hz_from__missing_file__negative_errno(void **state)
{
	(void)state;
	assert_int_equal(kclock_hz_from("/nonexistent/sl-kclock-config"), -ENOENT);
}

static void ns_per_jiffy__common_rates(void **state)
{
	(void)state;
	assert_int_equal(kclock_ns_per_jiffy(0), 0);
	assert_int_equal(kclock_ns_per_jiffy(100), 10000000);
	assert_int_equal(kclock_ns_per_jiffy(250), 4000000);
	assert_int_equal(kclock_ns_per_jiffy(300), 3333333);
	assert_int_equal(kclock_ns_per_jiffy(1000), 1000000);
}

/* This machine ships /proc/config.gz (CONFIG_IKCONFIG_PROC): kclock_hz must find it. */
static void hz__running_kernel__matches_proc_config(void **state)
{
	int want = kclock_hz_from("/proc/config.gz");

	(void)state;
	if (want == -ENOENT)
		skip();
	assert_true(want > 0);
	assert_int_equal(kclock_hz(), (unsigned int)want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hz_from__plain_config__value_of_config_hz),
		cmocka_unit_test(hz_from__gzip_config__value_of_config_hz),
		cmocka_unit_test(hz_from__no_config_hz_line__zero),
		cmocka_unit_test(hz_from__garbage_or_out_of_range__zero),
		cmocka_unit_test(hz_from__missing_file__negative_errno),
		cmocka_unit_test(ns_per_jiffy__common_rates),
		cmocka_unit_test(hz__running_kernel__matches_proc_config),
	};

	return cmocka_run_group_tests_name("kclock", tests, NULL, NULL);
}
