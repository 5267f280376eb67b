/* Unit tests of the index set: inserts and removals against a plain model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "idxset.h"

enum { KEYS = 3000 };
static char keys[KEYS][16];

static const char *key_of(void *ctx, uint32_t idx)
{
	(void)ctx;
	return keys[idx];
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

/*
 * Random inserts and removals, with the set kept small so that probe
 * runs wrap around the end of the table: after each step, every key the
 * model holds is found under its own index and every other one is not.
 */
static void test_removals_keep_every_other_key_findable(void **state)
{
	(void)state;
	for (int i = 0; i < KEYS; i++)
		snprintf(keys[i], sizeof keys[i], "k%d", i);
	for (int live = 40; live <= 2000; live *= 7) {
		struct jg_idxset set;
		jg_idxset_init(&set, key_of, NULL);
		unsigned char in[KEYS] = {0};
		size_t count = 0;
		for (int step = 0; step < 20000; step++) {
			uint32_t k = next_random() % (uint32_t)(live * 3 / 2);
			if (in[k]) {
				jg_idxset_remove(&set, k);
				in[k] = 0;
				count--;
			} else if (count < (size_t)live) {
				assert_int_equal(jg_idxset_insert(&set, k), 0);
				in[k] = 1;
				count++;
			}
			assert_int_equal(set.count, count);
			if (step % 97 == 0 || live == 40)
				for (uint32_t j = 0; j < (uint32_t)(live * 3 / 2); j++)
					assert_int_equal(jg_idxset_find(&set, keys[j], strlen(keys[j])),
					                 in[j] ? j : UINT32_MAX);
		}
		/* Removing what is absent changes nothing. */
		for (uint32_t j = 0; j < (uint32_t)(live * 3 / 2); j++)
			if (!in[j])
				jg_idxset_remove(&set, j);
		assert_int_equal(set.count, count);
		jg_idxset_fini(&set);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removals_keep_every_other_key_findable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
