/*
 * The pool on a real loop with a real worker: a worker's table of a
 * large vocabulary reaches the pool's table a bounded step per loop
 * iteration, not in one, and arrives whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counts.h"
#include "pool.h"

enum { WORDS = 300000, WORD_LEN = 5 };

struct run {
	struct ev_loop *loop;
	struct jg_pool *pool;
	int err;
	uint64_t book_words;
	int collected;
	uint64_t total, distinct, first, last;
	unsigned iterations;  /* from the collection's start to its end */
	ev_prepare turns;
};

/* Word `i` of the book: five letters, all different words. */
static void word_of(unsigned i, char out[WORD_LEN + 1])
{
	for (int k = WORD_LEN - 1; k >= 0; k--) {
		out[k] = (char)('a' + i % 26);
		i /= 26;
	}
	out[WORD_LEN] = '\0';
}

static void on_turn(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct run *r = w->data;
	r->iterations++;
}

static void on_collected(struct jg_pool *pool, const struct jg_counts *counts, void *user)
{
	struct run *r = user;
	char w[WORD_LEN + 1];
	r->collected = 1;
	r->total = jg_counts_total(counts);
	r->distinct = jg_counts_distinct(counts);
	word_of(0, w);
	r->first = jg_counts_get(counts, w);
	word_of(WORDS - 1, w);
	r->last = jg_counts_get(counts, w);
	ev_prepare_stop(r->loop, &r->turns);
	ev_break(r->loop, EVBREAK_ALL);
}

static void on_done(void *user, uint64_t cookie, const struct jg_pool_result *res)
{
	struct run *r = user;
	r->err = res->err;
	r->book_words = res->words;
	ev_prepare_init(&r->turns, on_turn);
	r->turns.data = r;
	ev_prepare_start(r->loop, &r->turns);
	if (jg_pool_collect(r->pool, on_collected, r) != JG_OK)
		ev_break(r->loop, EVBREAK_ALL);
}

static void test_a_large_table_merges_a_step_per_turn(void **state)
{
	char dir[] = "/tmp/jg-test-pool.XXXXXX";
	assert_non_null(mkdtemp(dir));
	size_t len = (size_t)WORDS * (WORD_LEN + 1);
	char *body = malloc(len);
	assert_non_null(body);
	for (unsigned i = 0; i < WORDS; i++) {
		word_of(i, body + (size_t)i * (WORD_LEN + 1));
		body[(size_t)i * (WORD_LEN + 1) + WORD_LEN] = '\n';
	}
	struct run r = {.loop = ev_loop_new(EVFLAG_AUTO), .err = -1};
	char why[JG_ERRBUF_SIZE];
	assert_int_equal(jg_pool_new(&r.pool, 1, why), JG_OK);
	assert_int_equal(jg_pool_attach(r.pool, r.loop), 0);
	struct jg_pool_book b = {
		.job = JG_POOL_SAVE, .body = body, .len = len, .dir = dir, .name = "book.txt",
		.count = {.flags = JG_COUNT_WHITESPACE | JG_COUNT_KEEP_BOILERPLATE, .top = 3},
		.done = on_done, .user = &r,
	};
	assert_int_equal(jg_pool_submit(r.pool, &b), 0);
	ev_run(r.loop, 0);

	assert_int_equal(r.err, 0);
	assert_int_equal(r.book_words, WORDS);
	assert_true(r.collected);
	assert_int_equal(r.total, WORDS);
	assert_int_equal(r.distinct, WORDS);
	assert_int_equal(r.first, 1);
	assert_int_equal(r.last, 1);
	/* Decoding the table and merging it into the pool's took many
	 * iterations, none of them more than a quarter of the work. */
	size_t most = jg_pool_most_in_a_turn(r.pool);
	print_message("most table entries in one iteration: %zu of %u; %u iterations\n", most,
	              2 * WORDS, r.iterations);
	assert_true(most > 0);
	assert_true(most <= WORDS / 4);
	assert_true(r.iterations >= 4);

	jg_pool_free(r.pool);
	ev_loop_destroy(r.loop);
	char path[64];
	snprintf(path, sizeof path, "%s/book.txt", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_large_table_merges_a_step_per_turn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
