/* Unit tests of range requests' answers (net/range.c): Content-Range, and
 * what a 2xx head means for a body that may be continued or kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "range.h"

static int parse(const char *v, struct jg_content_range *cr)
{
	return jg_content_range_parse(v, strlen(v), cr);
}

static void test_content_range_forms(void **state)
{
	struct jg_content_range cr;
	assert_int_equal(parse("bytes 0-499/1234", &cr), 0);
	assert_int_equal(cr.first, 0);
	assert_int_equal(cr.last, 499);
	assert_int_equal(cr.complete, 1234);
	assert_false(cr.unsatisfied);
	assert_int_equal(parse("BYTES 5-5/*", &cr), 0); /* the unit in any case */
	assert_int_equal(cr.complete, UINT64_MAX);
	assert_int_equal(parse("bytes */1234", &cr), 0);
	assert_true(cr.unsatisfied);
	assert_int_equal(cr.complete, 1234);
	assert_int_equal(parse("bytes 0-9999999999999999998/9999999999999999999", &cr), 0);
	static const char *bad[] = {
		"", "bytes", "bytes ", "bytes 1-2", "bytes 1-2/", "bytes 2-1/5", "bytes 0-5/5",
		"bytes */*", "bytes -1-2/5", "bytes 1--2/5", "bytes 1-2/5 ", " bytes 1-2/5",
		"bytes  1-2/5", "items 1-2/5", "bytes 1-2/5,3-4/5", "bytes 1-2/0x10",
		"bytes 0-1/99999999999999999999", "bytes 00000000000000000001-2/5", "bytes=1-2/5",
		"bytes 1-2/+5",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(parse(bad[i], &cr), -1);
}

static struct jg_range continuing(uint64_t from, uint64_t length)
{
	struct jg_range r = {.url = strdup("http://h/big.txt"),
	                     .from = from, .have_kind = JG_VALIDATOR_ETAG, .have = strdup("\"v1\""),
	                     .have_length = length};
	return r;
}

static enum jg_range_verdict judge(struct jg_range *r, const struct jg_range_answer *a)
{
	enum jg_range_verdict v;
	char why[300];
	assert_int_equal(jg_range_judge(r, a, &v, why, sizeof why), 0);
	return v;
}

static void test_a_206_that_continues_exactly(void **state)
{
	struct jg_range r = continuing(1000, 5000);
	struct jg_range_answer a = {206, 1, 4000, "bytes 1000-4999/5000", 1, "\"v1\"", NULL, NULL};
	assert_int_equal(judge(&r, &a), JG_RANGE_CONTINUES);
	assert_true(r.continuing && r.linked);
	assert_int_equal(r.length, 5000);
	jg_range_fini(&r);
}

static void test_206s_that_do_not_continue_are_refused(void **state)
{
	const struct jg_range_answer bad[] = {
		{206, 1, 4001, "bytes 999-4999/5000", 1, NULL, NULL, NULL}, /* another start */
		{206, 1, 3000, "bytes 1000-3999/5000", 1, NULL, NULL, NULL}, /* not to the end */
		{206, 1, 4000, "bytes 1000-4999/*", 1, NULL, NULL, NULL},    /* no length */
		{206, 1, 4000, "bytes 1000-4999/6000", 1, NULL, NULL, NULL}, /* not a range of it */
		{206, 1, 4000, "bytes 1000-4999/5000", 2, NULL, NULL, NULL}, /* two of them */
		{206, 1, 4000, NULL, 0, NULL, NULL, NULL},                   /* none */
		{206, 1, 4000, "bytes */5000", 1, NULL, NULL, NULL},         /* a 416's */
		{206, 1, 10, "bytes 1000-4999/5000", 1, NULL, NULL, NULL},   /* Content-Length */
		{206, 0, -1, "bytes 1000-4999/5000", 1, NULL, NULL, NULL},   /* coded */
		{206, 1, 4000, "bytes 1000-4999/5000", 1, "\"v2\"", NULL, NULL}, /* another body */
		{206, 1, 4000, "junk", 1, NULL, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct jg_range r = continuing(1000, 5000);
		assert_int_equal(judge(&r, &bad[i]), JG_RANGE_REFUSED);
		assert_false(r.continuing);
		jg_range_fini(&r);
	}
}

static void test_a_200_after_a_range_is_the_whole_body_again(void **state)
{
	struct jg_range r = continuing(1000, 5000);
	struct jg_range_answer a = {200, 1, 5000000, NULL, 0, "\"v2\"", NULL, NULL};
	assert_int_equal(judge(&r, &a), JG_RANGE_RESTARTS);
	assert_true(r.restarted && r.candidate); /* and it may be kept, by its own ETag */
	assert_string_equal(r.validator, "\"v2\"");
	jg_range_fini(&r);
}

static struct jg_range fresh(void)
{
	struct jg_range r = {.url = strdup("http://h/b.txt")};
	return r;
}

static void test_which_bodies_may_be_kept(void **state)
{
	const char *lm = "Sat, 01 Jan 2022 00:00:00 GMT", *later = "Tue, 01 Dec 2026 15:00:00 GMT";
	struct {
		struct jg_range_answer a;
		int kept;
		enum jg_validator kind;
	} cases[] = {
		{{200, 1, 2 << 20, NULL, 0, "\"e\"", NULL, NULL}, 1, JG_VALIDATOR_ETAG},
		{{200, 1, -1, NULL, 0, "\"e\"", NULL, NULL}, 1, JG_VALIDATOR_ETAG},  /* no length yet */
		{{200, 1, 1 << 20, NULL, 0, "\"e\"", NULL, NULL}, 0, 0},             /* 1 MiB: too small */
		{{200, 0, -1, NULL, 0, "\"e\"", NULL, NULL}, 0, 0},                  /* coded */
		{{200, 1, 2 << 20, NULL, 0, "W/\"e\"", lm, later}, 0, 0},            /* weak: no date then */
		{{200, 1, 2 << 20, NULL, 0, "e", NULL, NULL}, 0, 0},                 /* not an entity tag */
		{{200, 1, 2 << 20, NULL, 0, NULL, lm, later}, 1, JG_VALIDATOR_DATE}, /* a strong date */
		{{200, 1, 2 << 20, NULL, 0, NULL, lm, lm}, 0, 0},                    /* the same second */
		{{200, 1, 2 << 20, NULL, 0, NULL, lm, NULL}, 0, 0},                  /* no Date */
		{{200, 1, 2 << 20, NULL, 0, NULL, NULL, later}, 0, 0},               /* no validator */
		{{206, 1, 2 << 20, "bytes 0-9/10", 1, "\"e\"", NULL, NULL}, 0, 0},   /* a 206 not asked for */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct jg_range r = fresh();
		assert_int_equal(judge(&r, &cases[i].a), JG_RANGE_FRESH);
		assert_int_equal(r.candidate, cases[i].kept);
		if (r.candidate)
			assert_int_equal(r.kind, cases[i].kind);
		jg_range_fini(&r);
	}
	struct jg_range none = {0}; /* keeping turned off: no URL */
	struct jg_range_answer a = {200, 1, 2 << 20, NULL, 0, "\"e\"", NULL, NULL};
	assert_int_equal(judge(&none, &a), JG_RANGE_FRESH);
	assert_false(none.candidate);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_range_forms),
		cmocka_unit_test(test_a_206_that_continues_exactly),
		cmocka_unit_test(test_206s_that_do_not_continue_are_refused),
		cmocka_unit_test(test_a_200_after_a_range_is_the_whole_body_again),
		cmocka_unit_test(test_which_bodies_may_be_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
