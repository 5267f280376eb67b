/* Unit tests of the loop-stall histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "stall.h"

static void test_quantiles_bound_the_truth(void **state)
{
	struct jg_stall st;
	memset(&st, 0, sizeof st);
	for (int i = 0; i < 990; i++)
		jg_stall_record(&st, 100e-6);
	for (int i = 0; i < 10; i++)
		jg_stall_record(&st, 0.05);
	double p99 = jg_stall_quantile(&st, 0.99);
	assert_true(p99 >= 100e-6 && p99 < 100e-6 * 1.1);
	assert_true(jg_stall_quantile(&st, 0.999) >= 0.05);
	assert_true(jg_stall_quantile(&st, 1.0) <= st.max);
	assert_true(st.max == 0.05);
	assert_int_equal(st.iterations, 1000);
}

static void test_empty(void **state)
{
	struct jg_stall st;
	memset(&st, 0, sizeof st);
	assert_true(jg_stall_quantile(&st, 0.99) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantiles_bound_the_truth),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
