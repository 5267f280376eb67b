/* Unit tests of sharding: stable values, an exact partition, balance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"

static uint32_t of(const char *s, uint32_t n)
{
	return jg_shard_of(s, strlen(s), n);
}

/* The values are a contract: tasks of one job may run different builds. */
static void test_values_never_change(void **state)
{
	assert_int_equal(of("https://www.gutenberg.org/cache/epub/84/pg84.txt", 1000), 693);
	assert_int_equal(of("84", 1000), 84);
	assert_int_equal(of("", 7), 5);
	assert_int_equal(of("a", 1), 0);
}

/* Every URL lands in exactly one of N shards, and the same one every time
 * whatever else the list holds: filtering by K and unioning gives back the
 * list once. */
static void test_partition_is_exact(void **state)
{
	enum { URLS = 20000, N = 7 };
	static uint8_t seen[URLS];
	memset(seen, 0, sizeof seen);
	char url[96];
	for (uint32_t k = 0; k < N; k++)
		for (unsigned i = 0; i < URLS; i++) {
			snprintf(url, sizeof url, "http://mirror.test/cache/epub/%u/pg%u.txt", i, i);
			if (of(url, N) == k)
				seen[i]++;
		}
	for (unsigned i = 0; i < URLS; i++)
		assert_int_equal(seen[i], 1);
}

/* 100,000 URLs of one mirror over 2 to 16 shards: each within 3 % of its
 * fair share (measured worst: 0.3, 0.7, 1.2 and 2.1 %). Over 100 shards
 * the 1,000 URLs each are too few: chance alone spreads them by ~3 % a
 * standard deviation. */
static void test_balanced_on_100000_urls(void **state)
{
	enum { URLS = 100000 };
	const uint32_t ns[] = {2, 4, 8, 16};
	char url[96];
	for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
		uint32_t n = ns[t];
		unsigned count[16] = {0};
		for (unsigned i = 1; i <= URLS; i++) {
			snprintf(url, sizeof url, "https://www.gutenberg.org/cache/epub/%u/pg%u.txt", i, i);
			count[of(url, n)]++;
		}
		double fair = (double)URLS / n;
		for (uint32_t k = 0; k < n; k++)
			if (count[k] < 0.97 * fair || count[k] > 1.03 * fair)
				fail_msg("n=%u shard %u has %u URLs, fair share %.0f", n, k, count[k], fair);
	}
}

static void test_parse(void **state)
{
	struct jg_shard s;
	char why[160];
	assert_int_equal(jg_shard_parse("3/8", &s, why, sizeof why), 0);
	assert_int_equal(s.k, 3);
	assert_int_equal(s.n, 8);
	assert_int_equal(jg_shard_parse("0/1", &s, why, sizeof why), 0);
	const char *bad[] = {"8/8", "1/0", "x/4", "4", "/4", "1/", "-1/4", "1/4x", "99999999999/4"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(jg_shard_parse(bad[i], &s, why, sizeof why), -1);
	assert_non_null(strstr(why, "99999999999/4"));
}

static void test_auto_from_the_scheduler(void **state)
{
	struct jg_shard s;
	char why[160];
	unsetenv("SLURM_ARRAY_TASK_ID");
	unsetenv("JOB_COMPLETION_INDEX");
	assert_int_equal(jg_shard_parse("auto/4", &s, why, sizeof why), -1);
	assert_non_null(strstr(why, "neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX"));
	setenv("JOB_COMPLETION_INDEX", "2", 1);
	assert_int_equal(jg_shard_parse("auto/4", &s, why, sizeof why), 0);
	assert_int_equal(s.k, 2);
	setenv("SLURM_ARRAY_TASK_ID", "1", 1); /* Slurm's wins */
	assert_int_equal(jg_shard_parse("auto/4", &s, why, sizeof why), 0);
	assert_int_equal(s.k, 1);
	setenv("SLURM_ARRAY_TASK_ID", "4", 1);
	assert_int_equal(jg_shard_parse("auto/4", &s, why, sizeof why), -1);
	assert_non_null(strstr(why, "SLURM_ARRAY_TASK_ID=4 is not below 4"));
	setenv("SLURM_ARRAY_TASK_ID", "one", 1);
	assert_int_equal(jg_shard_parse("auto/4", &s, why, sizeof why), -1);
	unsetenv("SLURM_ARRAY_TASK_ID");
	unsetenv("JOB_COMPLETION_INDEX");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_never_change),
		cmocka_unit_test(test_partition_is_exact),
		cmocka_unit_test(test_balanced_on_100000_urls),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_auto_from_the_scheduler),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
