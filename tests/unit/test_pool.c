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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counts.h"
#include "pool.h"

enum { WORDS = 300000, WORD_LEN = 5 };

/* When the test kills the worker: never, as its table's words come in,
 * or once its whole table is going into the pool's. */
enum kill_at { KILL_NEVER, KILL_WHILE_STAGING, KILL_WHILE_MERGING };

struct run {
	struct ev_loop *loop;
	struct jg_pool *pool;
	enum kill_at kill_at;
	int killed;
	ev_check watch;
	int err;
	uint64_t book_words;
	int collected, seeded;
	char *dir;
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

static void kill_worker(struct run *r)
{
	pid_t pid;
	assert_int_equal(jg_pool_pids(r->pool, &pid, 1), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	r->killed = 1;
}

/* After each poll: is it the moment to kill the worker? */
static void on_watch(struct ev_loop *loop, ev_check *w, int revents)
{
	struct run *r = w->data;
	if (r->killed || !r->book_words)
		return;
	int merging = jg_pool_merging(r->pool);
	if ((r->kill_at == KILL_WHILE_STAGING && !merging && jg_pool_most_in_a_turn(r->pool) > 0) ||
	    (r->kill_at == KILL_WHILE_MERGING && merging))
		kill_worker(r);
}

static void on_done(void *user, uint64_t cookie, const struct jg_pool_result *res);

/* The big book: WORDS different words. */
static void submit_book(struct run *r)
{
	size_t len = (size_t)WORDS * (WORD_LEN + 1);
	char *body = malloc(len);
	assert_non_null(body);
	for (unsigned i = 0; i < WORDS; i++) {
		word_of(i, body + (size_t)i * (WORD_LEN + 1));
		body[(size_t)i * (WORD_LEN + 1) + WORD_LEN] = '\n';
	}
	struct jg_pool_book b = {
		.job = JG_POOL_SAVE, .body = body, .len = len, .dir = r->dir, .name = "book.txt",
		.expect_size = len, /* a recount reads the saved file back */
		.count = {.flags = JG_COUNT_WHITESPACE | JG_COUNT_KEEP_BOILERPLATE, .top = 3},
		.done = on_done, .user = r,
	};
	assert_int_equal(jg_pool_submit(r->pool, &b), 0);
}

static void on_collected(struct jg_pool *pool, const struct jg_counts *counts, void *user)
{
	struct run *r = user;
	char w[WORD_LEN + 1];
	if (!r->seeded) {
		/* The pool's table holds a word now: the big book's table has to
		 * be merged into it, not moved in whole. */
		r->seeded = 1;
		assert_int_equal(jg_counts_total(counts), 1);
		submit_book(r);
		return;
	}
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
	if (!r->seeded) {
		assert_int_equal(res->err, 0);
		if (jg_pool_collect(r->pool, on_collected, r) != JG_OK)
			ev_break(r->loop, EVBREAK_ALL);
		return;
	}
	r->err = res->err;
	r->book_words = res->words;
	ev_prepare_init(&r->turns, on_turn);
	r->turns.data = r;
	ev_prepare_start(r->loop, &r->turns);
	if (jg_pool_collect(r->pool, on_collected, r) != JG_OK)
		ev_break(r->loop, EVBREAK_ALL);
}

/* A book of one word, collected; then one of WORDS different words,
 * counted and collected. */
static void count_one_book(struct run *r, char *dir)
{
	assert_non_null(mkdtemp(dir));
	r->dir = dir;
	r->loop = ev_loop_new(EVFLAG_AUTO);
	r->err = -1;
	char why[JG_ERRBUF_SIZE];
	assert_int_equal(jg_pool_new(&r->pool, 1, why), JG_OK);
	assert_int_equal(jg_pool_attach(r->pool, r->loop), 0);
	ev_check_init(&r->watch, on_watch);
	r->watch.data = r;
	ev_check_start(r->loop, &r->watch);
	ev_unref(r->loop);
	char *seed = strdup("seedword\n");
	assert_non_null(seed);
	struct jg_pool_book b = {
		.job = JG_POOL_SAVE, .body = seed, .len = strlen(seed), .dir = dir, .name = "seed.txt",
		.count = {.flags = JG_COUNT_WHITESPACE | JG_COUNT_KEEP_BOILERPLATE},
		.done = on_done, .user = r,
	};
	assert_int_equal(jg_pool_submit(r->pool, &b), 0);
	ev_run(r->loop, 0);
	ev_ref(r->loop);
	ev_check_stop(r->loop, &r->watch);

	assert_int_equal(r->err, 0);
	assert_int_equal(r->book_words, WORDS);
	assert_true(r->collected);
	assert_int_equal(r->total, WORDS + 1);
	assert_int_equal(r->distinct, WORDS + 1);
	assert_int_equal(r->first, 1);
	assert_int_equal(r->last, 1);
}

static void done_with(struct run *r, char *dir)
{
	jg_pool_free(r->pool);
	ev_loop_destroy(r->loop);
	char path[64];
	snprintf(path, sizeof path, "%s/book.txt", dir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof path, "%s/seed.txt", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_a_large_table_merges_a_step_per_turn(void **state)
{
	char dir[] = "/tmp/jg-test-pool.XXXXXX";
	struct run r = {.kill_at = KILL_NEVER};
	count_one_book(&r, dir);
	/* Decoding the table and merging it into the pool's took many
	 * iterations, none of them more than a quarter of the work. */
	size_t most = jg_pool_most_in_a_turn(r.pool);
	print_message("most table entries in one iteration: %zu of %u; %u iterations\n", most,
	              2 * WORDS, r.iterations);
	assert_true(most > 0);
	assert_true(most <= WORDS / 4);
	assert_true(r.iterations >= 4);
	done_with(&r, dir);
}

static void on_limit(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* Ten seconds and the death was not seen: the assertion after says so. */
}

/* Killed as its table comes in, the worker's table is dropped whole and
 * the book counted again from its file; killed once the table is whole,
 * the table goes in all the same, and nothing is counted twice. */
static void test_a_worker_killed_while_its_table_goes_in_changes_nothing(void **state)
{
	const enum kill_at when[] = {KILL_WHILE_STAGING, KILL_WHILE_MERGING};
	for (size_t i = 0; i < sizeof when / sizeof *when; i++) {
		char dir[] = "/tmp/jg-test-pool.XXXXXX";
		struct run r = {.kill_at = when[i]};
		count_one_book(&r, dir);
		assert_true(r.killed);
		/* Killed while merging, the worker may be found dead only after
		 * the collection ended: its pipe's EOF is still to be read. */
		ev_timer limit;
		ev_timer_init(&limit, on_limit, 10., 0.);
		ev_timer_start(r.loop, &limit);
		while (jg_pool_restarts(r.pool) == 0 && ev_is_active(&limit))
			ev_run(r.loop, EVRUN_ONCE);
		ev_timer_stop(r.loop, &limit);
		assert_int_equal(jg_pool_restarts(r.pool), 1);
		done_with(&r, dir);
	}
}

struct cut {
	struct ev_loop *loop;
	struct jg_pool *pool;
	int answered, err, collected;
	char error[512];
	uint64_t words, total;
};

static void on_cut_collected(struct jg_pool *pool, const struct jg_counts *counts, void *user)
{
	struct cut *c = user;
	c->collected = 1;
	c->total = jg_counts_total(counts);
	ev_break(c->loop, EVBREAK_ALL);
}

static void on_cut_done(void *user, uint64_t cookie, const struct jg_pool_result *res)
{
	struct cut *c = user;
	c->answered = 1;
	c->err = res->err;
	c->words = res->words;
	snprintf(c->error, sizeof c->error, "%s", res->error ? res->error : "");
	if (jg_pool_collect(c->pool, on_cut_collected, c) != JG_OK)
		ev_break(c->loop, EVBREAK_ALL);
}

/* A saved book truncated once the worker has mapped it (the worker's test
 * hook does it; a book is mapped past 16 MiB): the book fails as cut short, the worker lives on, and
 * nothing of the book is in the pool's table. */
static void test_a_book_cut_short_while_it_is_read_fails_and_counts_nothing(void **state)
{
	char dir[] = "/tmp/jg-test-pool.XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/book.txt", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	size_t len = 0;
	/* Past the 16 MiB a worker reads into its buffer: a mapped book. */
	for (unsigned i = 0; len <= (17u << 20); i++)
		len += (size_t)fprintf(f, "word%u\n", i % 1000);
	assert_int_equal(fclose(f), 0);

	struct cut c = {.loop = ev_loop_new(EVFLAG_AUTO)};
	char why[JG_ERRBUF_SIZE];
	assert_int_equal(setenv("JUGGLE_TEST_WORKER_CUT_MAPPED", "1", 1), 0);
	assert_int_equal(jg_pool_new(&c.pool, 1, why), JG_OK);
	assert_int_equal(jg_pool_attach(c.pool, c.loop), 0);
	struct jg_pool_book b = {
		.job = JG_POOL_RECOUNT, .dir = dir, .name = "book.txt", .expect_size = len,
		.count = {.flags = JG_COUNT_WHITESPACE | JG_COUNT_KEEP_BOILERPLATE},
		.done = on_cut_done, .user = &c,
	};
	assert_int_equal(jg_pool_submit(c.pool, &b), 0);
	ev_timer limit;
	ev_timer_init(&limit, on_limit, 10., 0.);
	ev_timer_start(c.loop, &limit);
	while (!c.collected && ev_is_active(&limit))
		ev_run(c.loop, EVRUN_ONCE);
	ev_timer_stop(c.loop, &limit);
	assert_int_equal(unsetenv("JUGGLE_TEST_WORKER_CUT_MAPPED"), 0);

	print_message("answer: %d, %s; restarts %u\n", c.err, c.error,
	              (unsigned)jg_pool_restarts(c.pool));
	assert_true(c.answered);
	assert_int_equal(c.err, JG_EIO);
	assert_non_null(strstr(c.error, "book.txt: cut short while it was read"));
	assert_int_equal(jg_pool_restarts(c.pool), 0);
	assert_true(c.collected);
	assert_int_equal(c.total, 0);
	jg_pool_free(c.pool);
	ev_loop_destroy(c.loop);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_large_table_merges_a_step_per_turn),
		cmocka_unit_test(test_a_worker_killed_while_its_table_goes_in_changes_nothing),
		cmocka_unit_test(test_a_book_cut_short_while_it_is_read_fails_and_counts_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
