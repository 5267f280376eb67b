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
#include "worker.h"

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
	size_t seed_most;             /* most_in_a_turn once the seed was in */
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
	if ((r->kill_at == KILL_WHILE_STAGING && !merging &&
	     jg_pool_most_in_a_turn(r->pool) > r->seed_most) ||
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
		r->seed_most = jg_pool_most_in_a_turn(pool);
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
	assert_true(most > r.seed_most);
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

/* Mapped books, cut short by the worker's test hook, then a small book. */
enum { CUT_BIG_MAX = 2 };

struct cut {
	struct ev_loop *loop;
	struct jg_pool *pool;
	unsigned books, answered;
	int err[CUT_BIG_MAX + 1];
	char error[CUT_BIG_MAX + 1][512];
	int collected;
	uint64_t total;
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
	c->err[cookie] = res->err;
	snprintf(c->error[cookie], sizeof c->error[cookie], "%s", res->error ? res->error : "");
	if (++c->answered == c->books && jg_pool_collect(c->pool, on_cut_collected, c) != JG_OK)
		ev_break(c->loop, EVBREAK_ALL);
}

/*
 * `big` books of 17 MiB (past the 16 MiB a worker reads into its buffer:
 * mapped), each cut by the hook as `cut` and `at` say, then a small book
 * of 3 words read from its pipe frame. Each big book must fail as cut
 * short with nothing of it counted, and the worker must live on to count
 * the small one.
 */
static void run_cut_books(unsigned big, const char *cut, const char *at)
{
	if (!jg_worker_test_hooks())
		skip(); /* a release build: no hook to cut a book with */
	char dir[] = "/tmp/jg-test-pool.XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	size_t len[CUT_BIG_MAX];
	for (unsigned b = 0; b < big; b++) {
		snprintf(path, sizeof path, "%s/big%u.txt", dir, b);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		/* 1,000 bytes in its last page: 100 cut off stay within it. */
		len[b] = (17u << 20) + 1000;
		for (size_t n = 0; n < len[b];)
			n += (size_t)fprintf(f, "word%zu\n", n % 1000);
		assert_int_equal(fclose(f), 0);
		assert_int_equal(truncate(path, (off_t)len[b]), 0);
	}
	struct cut c = {.loop = ev_loop_new(EVFLAG_AUTO), .books = big + 1};
	char why[JG_ERRBUF_SIZE];
	assert_int_equal(setenv("JUGGLE_TEST_WORKER_CUT_MAPPED", cut, 1), 0);
	assert_int_equal(setenv("JUGGLE_TEST_WORKER_CUT_AT", at, 1), 0);
	assert_int_equal(jg_pool_new(&c.pool, 1, why), JG_OK);
	assert_int_equal(jg_pool_attach(c.pool, c.loop), 0);
	char names[CUT_BIG_MAX][32];
	for (unsigned b = 0; b < big; b++) {
		snprintf(names[b], sizeof names[b], "big%u.txt", b);
		struct jg_pool_book book = {
			.job = JG_POOL_RECOUNT, .dir = dir, .name = names[b], .expect_size = len[b],
			.count = {.flags = JG_COUNT_WHITESPACE | JG_COUNT_KEEP_BOILERPLATE},
			.done = on_cut_done, .user = &c, .cookie = b,
		};
		assert_int_equal(jg_pool_submit(c.pool, &book), 0);
	}
	char *small = strdup("alpha beta gamma\n");
	assert_non_null(small);
	struct jg_pool_book last = {
		.job = JG_POOL_SAVE, .body = small, .len = strlen(small), .dir = dir,
		.name = "small.txt", .count = {.flags = JG_COUNT_WHITESPACE | JG_COUNT_KEEP_BOILERPLATE},
		.done = on_cut_done, .user = &c, .cookie = big,
	};
	assert_int_equal(jg_pool_submit(c.pool, &last), 0);
	ev_timer limit;
	ev_timer_init(&limit, on_limit, 20., 0.);
	ev_timer_start(c.loop, &limit);
	while (!c.collected && ev_is_active(&limit))
		ev_run(c.loop, EVRUN_ONCE);
	ev_timer_stop(c.loop, &limit);
	assert_int_equal(unsetenv("JUGGLE_TEST_WORKER_CUT_MAPPED"), 0);
	assert_int_equal(unsetenv("JUGGLE_TEST_WORKER_CUT_AT"), 0);

	for (unsigned b = 0; b <= big; b++)
		print_message("book %u: %d, %s\n", b, c.err[b], c.error[b]);
	print_message("restarts %u, total %llu\n", (unsigned)jg_pool_restarts(c.pool),
	              (unsigned long long)c.total);
	assert_int_equal(c.answered, big + 1);
	for (unsigned b = 0; b < big; b++) {
		char want[64];
		snprintf(want, sizeof want, "big%u.txt: cut short while it was read", b);
		assert_int_equal(c.err[b], JG_EIO);
		assert_non_null(strstr(c.error[b], want));
	}
	assert_int_equal(c.err[big], JG_OK);
	assert_int_equal(jg_pool_restarts(c.pool), 0);
	assert_true(c.collected);
	assert_int_equal(c.total, 3); /* the small book's words, and only those */
	jg_pool_free(c.pool);
	ev_loop_destroy(c.loop);
	for (unsigned b = 0; b < big; b++) {
		snprintf(path, sizeof path, "%s/big%u.txt", dir, b);
		assert_int_equal(unlink(path), 0);
	}
	snprintf(path, sizeof path, "%s/small.txt", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* Emptied once mapped: the first read of a lost page raises SIGBUS. */
static void test_a_book_emptied_while_it_is_read_fails_and_counts_nothing(void **state)
{
	run_cut_books(1, "1000000000000", "map");
}

/* 100 bytes off its end, within its last page: no SIGBUS, the bytes past
 * the new end read as zeros; the file's size says it was cut. */
static void test_a_book_cut_within_its_last_page_fails_too(void **state)
{
	run_cut_books(1, "100", "map");
}

/* Emptied once counted, as it is hashed: a whole table of it is dropped;
 * twice, so the second jump finds SIGBUS unblocked again. */
static void test_books_cut_as_they_are_hashed_fail_and_the_worker_goes_on(void **state)
{
	run_cut_books(2, "1000000000000", "hash");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_large_table_merges_a_step_per_turn),
		cmocka_unit_test(test_a_worker_killed_while_its_table_goes_in_changes_nothing),
		cmocka_unit_test(test_a_book_emptied_while_it_is_read_fails_and_counts_nothing),
		cmocka_unit_test(test_a_book_cut_within_its_last_page_fails_too),
		cmocka_unit_test(test_books_cut_as_they_are_hashed_fail_and_the_worker_goes_on),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
