/* Unit tests of admission order and per-host limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hosts.h"

static void test_per_host_limit_and_round_robin(void **state)
{
	struct jg_hosts h;
	jg_hosts_init(&h, 2);
	uint32_t a = jg_hosts_intern(&h, "a.test"), b = jg_hosts_intern(&h, "b.test");
	assert_int_equal(jg_hosts_intern(&h, "a.test"), a);
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(jg_hosts_push_book(&h, a, i), 0);
	assert_int_equal(jg_hosts_push_book(&h, b, 5), 0);
	uint32_t book, order[8];
	int n = 0;
	uint32_t host;
	while ((host = jg_hosts_pop(&h, &book)) != JG_NONE)
		order[n++] = book;
	/* Two of a (the limit), one of b, alternating hosts. */
	assert_int_equal(n, 3);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 5);
	assert_int_equal(order[2], 1);
	assert_int_equal(h.queued, 3);
	jg_hosts_release(&h, a);
	assert_int_equal(jg_hosts_pop(&h, &book), a);
	assert_int_equal(book, 2); /* input order within a host */
	assert_int_equal(jg_hosts_pop(&h, &book), JG_NONE);
	jg_hosts_fini(&h);
}

/* A paced host sleeps until due; a host without a wait goes on meanwhile. */
static void test_a_waiting_host_sleeps_and_others_go_on(void **state)
{
	struct jg_hosts h;
	jg_hosts_init(&h, 4);
	uint32_t a = jg_hosts_intern(&h, "a.test"), b = jg_hosts_intern(&h, "b.test");
	jg_hosts_set_limits(&h, a, 4, 1.0);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(jg_hosts_push_book(&h, a, i), 0);
	for (uint32_t i = 10; i < 13; i++)
		assert_int_equal(jg_hosts_push_book(&h, b, i), 0);
	uint32_t book;
	jg_hosts_set_now(&h, 100.0);
	assert_int_equal(jg_hosts_pop(&h, &book), a);
	assert_int_equal(book, 0);
	/* a is not due before 101: b's books come, a sleeps. */
	for (uint32_t i = 10; i < 13; i++) {
		assert_int_equal(jg_hosts_pop(&h, &book), b);
		assert_int_equal(book, i);
	}
	assert_int_equal(jg_hosts_pop(&h, &book), JG_NONE);
	assert_true(jg_hosts_next_wake(&h) == 101.0);
	jg_hosts_set_now(&h, 100.9);
	jg_hosts_wake(&h);
	assert_int_equal(jg_hosts_pop(&h, &book), JG_NONE); /* still not due */
	jg_hosts_set_now(&h, 101.0);
	jg_hosts_wake(&h);
	assert_true(jg_hosts_next_wake(&h) == 0);
	assert_int_equal(jg_hosts_pop(&h, &book), a);
	assert_int_equal(book, 1);
	/* A retry's slot is paced too. */
	assert_int_equal(jg_hosts_try_acquire(&h, a), 0);
	jg_hosts_set_now(&h, 102.0);
	jg_hosts_wake(&h);
	assert_int_equal(jg_hosts_try_acquire(&h, a), 1);
	assert_int_equal(h.queued, 1);
	jg_hosts_fini(&h);
}

/* 429/503: the limit halves (never below 1), then grows back by one per
 * JG_HOSTS_GROW_EVERY answers; Retry-After holds the host. */
static void test_back_off_halves_and_grows_back(void **state)
{
	struct jg_hosts h;
	jg_hosts_init(&h, 8);
	uint32_t a = jg_hosts_intern(&h, "a.test");
	jg_hosts_set_now(&h, 10.0);
	jg_hosts_back_off(&h, a, 0);
	assert_int_equal(h.v[a].limit, 4);
	jg_hosts_back_off(&h, a, 3.0);
	assert_int_equal(h.v[a].limit, 2);
	assert_true(h.v[a].next_start == 13.0);
	jg_hosts_back_off(&h, a, 1.0); /* a shorter Retry-After does not shorten the hold */
	assert_int_equal(h.v[a].limit, 1);
	assert_true(h.v[a].next_start == 13.0);
	jg_hosts_back_off(&h, a, 0);
	assert_int_equal(h.v[a].limit, 1);
	for (int i = 0; i < JG_HOSTS_GROW_EVERY - 1; i++)
		jg_hosts_answered(&h, a);
	assert_int_equal(h.v[a].limit, 1);
	jg_hosts_answered(&h, a);
	assert_int_equal(h.v[a].limit, 2);
	for (int i = 0; i < 100 * JG_HOSTS_GROW_EVERY; i++)
		jg_hosts_answered(&h, a);
	assert_int_equal(h.v[a].limit, 8); /* never past --per-host */
	jg_hosts_fini(&h);
}

static void test_many_books_cost_no_search(void **state)
{
	struct jg_hosts h;
	jg_hosts_init(&h, 1);
	uint32_t a = jg_hosts_intern(&h, "a");
	for (uint32_t i = 0; i < 100000; i++)
		assert_int_equal(jg_hosts_push_book(&h, a, i), 0);
	uint32_t book;
	for (uint32_t i = 0; i < 100000; i++) {
		assert_int_equal(jg_hosts_pop(&h, &book), a);
		assert_int_equal(book, i);
		assert_int_equal(jg_hosts_pop(&h, &book), JG_NONE);
		jg_hosts_release(&h, a);
	}
	assert_int_equal(h.queued, 0);
	jg_hosts_fini(&h);
}

static void count(void *ctx, uint32_t book)
{
	(*(int *)ctx)++;
}

static void test_drain(void **state)
{
	struct jg_hosts h;
	jg_hosts_init(&h, 1);
	uint32_t a = jg_hosts_intern(&h, "a");
	jg_hosts_push_book(&h, a, 0);
	jg_hosts_push_book(&h, a, 1);
	int n = 0;
	jg_hosts_drain_books(&h, count, &n);
	assert_int_equal(n, 2);
	uint32_t book;
	assert_int_equal(jg_hosts_pop(&h, &book), JG_NONE);
	jg_hosts_fini(&h);
}

/*
 * robots.txt's part: a held host admits nothing while its robots.txt is
 * fetched with the slot and pacing start of the book put back; a book it
 * refuses gives both back; Crawl-delay is a floor under every wait.
 */
static void test_hold_unpop_and_refund(void **state)
{
	struct jg_hosts h;
	jg_hosts_init(&h, 1);
	uint32_t a = jg_hosts_intern(&h, "a"), b = jg_hosts_intern(&h, "b");
	jg_hosts_set_limits(&h, a, 1, 2.0);
	for (uint32_t i = 0; i < 3; i++)
		jg_hosts_push_book(&h, a, i);
	jg_hosts_push_book(&h, b, 10);
	uint32_t book;
	jg_hosts_set_now(&h, 100.0);
	assert_int_equal(jg_hosts_pop(&h, &book), a);
	assert_int_equal(book, 0);
	/* Its robots.txt goes first, on that slot and start. */
	jg_hosts_hold(&h, a);
	jg_hosts_unpop(&h, a, book);
	assert_int_equal(h.queued, 4);
	assert_int_equal(h.v[a].active, 1);
	assert_int_equal(jg_hosts_pop(&h, &book), b); /* others go on */
	jg_hosts_set_now(&h, 103.0);
	jg_hosts_wake(&h);
	assert_int_equal(jg_hosts_pop(&h, &book), JG_NONE); /* held, though due */
	jg_hosts_release(&h, a);
	jg_hosts_release_hold(&h, a);
	assert_int_equal(jg_hosts_pop(&h, &book), a);
	assert_int_equal(book, 0); /* the same book, still first */
	assert_true(h.v[a].next_start == 105.0);
	/* Refused: its slot and its pacing start come back at once. */
	jg_hosts_refund(&h, a);
	assert_int_equal(h.v[a].active, 0);
	assert_true(h.v[a].next_start <= 103.0);
	assert_int_equal(jg_hosts_pop(&h, &book), a);
	assert_int_equal(book, 1);
	assert_int_equal(jg_hosts_pop(&h, &book), JG_NONE);
	jg_hosts_fini(&h);
}

static void test_min_wait_is_a_floor(void **state)
{
	struct jg_hosts h;
	uint64_t rng = 42;
	jg_hosts_init(&h, 4);
	h.random_wait = 1;
	h.rng = &rng;
	uint32_t a = jg_hosts_intern(&h, "a");
	jg_hosts_set_limits(&h, a, 4, 1.0);
	for (uint32_t i = 0; i < 100; i++)
		jg_hosts_push_book(&h, a, i);
	jg_hosts_set_now(&h, 10.0);
	uint32_t book;
	assert_int_equal(jg_hosts_pop(&h, &book), a);
	/* Learnt after the start at 10: the next is held back from there. */
	jg_hosts_set_min_wait(&h, a, 1.25, 10.0);
	assert_true(h.v[a].next_start == 11.25);
	double now = 11.25;
	for (int i = 0; i < 50; i++) {
		jg_hosts_set_now(&h, now);
		jg_hosts_wake(&h);
		assert_int_equal(jg_hosts_pop(&h, &book), a);
		jg_hosts_release(&h, a);
		/* 0.5 .. 1.5 of the 1 s wait, never under the floor. */
		assert_true(h.v[a].next_start - now >= 1.25 - 1e-9);
		assert_true(h.v[a].next_start - now <= 1.5 + 1e-9);
		now = h.v[a].next_start;
	}
	/* A smaller floor later does not lower it. */
	jg_hosts_set_min_wait(&h, a, 0.5, now);
	assert_true(h.v[a].min_wait == 1.25);
	jg_hosts_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_host_limit_and_round_robin),
		cmocka_unit_test(test_many_books_cost_no_search),
		cmocka_unit_test(test_a_waiting_host_sleeps_and_others_go_on),
		cmocka_unit_test(test_back_off_halves_and_grows_back),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_hold_unpop_and_refund),
		cmocka_unit_test(test_min_wait_is_a_floor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
