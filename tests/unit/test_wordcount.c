/* Unit tests of the frequency table: growth, merge, top-k, sort order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "juggle.h"
#include "counts.h"
#include "wordcount.h"
#include <unistd.h>

static void add(struct jg_wordcount *wc, const char *w, uint64_t n)
{
	assert_int_equal(jg_wc_add(wc, w, strlen(w), jg_wc_hash(w, strlen(w)), n), 0);
}

static void test_growth_keeps_every_count(void **state)
{
	struct jg_wordcount wc;
	jg_wc_init(&wc);
	char w[32];
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 50000; i++) {
			snprintf(w, sizeof w, "w%d", i);
			add(&wc, w, 1);
		}
	assert_int_equal(wc.distinct, 50000);
	assert_int_equal(wc.total, 150000);
	for (int i = 0; i < 50000; i += 997) {
		snprintf(w, sizeof w, "w%d", i);
		assert_int_equal(jg_wc_get(&wc, w, strlen(w)), 3);
	}
	assert_int_equal(jg_wc_get(&wc, "absent", 6), 0);
	jg_wc_fini(&wc);
}

static void test_merge_and_top(void **state)
{
	struct jg_wordcount a, b;
	jg_wc_init(&a);
	jg_wc_init(&b);
	add(&a, "the", 5);
	add(&a, "cat", 2);
	add(&b, "the", 1);
	add(&b, "bat", 2);
	add(&b, "ant", 2);
	assert_int_equal(jg_wc_merge(&a, &b), 0);
	assert_int_equal(a.total, 12);
	assert_int_equal(a.distinct, 4);
	const struct jg_word *top[3];
	assert_int_equal(jg_wc_top(&a, 3, top), 3);
	assert_string_equal(top[0]->word, "the");
	assert_int_equal(top[0]->count, 6);
	assert_string_equal(top[1]->word, "ant"); /* ties: word ascending */
	assert_string_equal(top[2]->word, "bat");
	assert_int_equal(jg_wc_top(&a, 0, top), 0);
	jg_wc_clear(&a);
	assert_int_equal(a.distinct + a.total, 0);
	assert_int_equal(jg_wc_get(&a, "the", 3), 0);
	jg_wc_fini(&a);
	jg_wc_fini(&b);
}

/* One pass that merges and picks the source's top gives what a merge and
 * a jg_wc_top() of the source give, for every n. */
static void test_merge_top_is_merge_then_top(void **state)
{
	struct jg_wordcount src, one, two;
	jg_wc_init(&src);
	jg_wc_init(&one);
	jg_wc_init(&two);
	char w[16];
	for (unsigned i = 0; i < 500; i++) {
		snprintf(w, sizeof w, "w%u", i);
		add(&src, w, 1 + (i * 7919u) % 37); /* many ties */
		if (i % 3 == 0) {
			add(&one, w, i);
			add(&two, w, i);
		}
	}
	const struct jg_word *want[12], *got[12];
	size_t sizes[] = {0, 1, 10, 12};
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		size_t n = sizes[s], n_got = 99;
		size_t n_want = jg_wc_top(&src, n, want);
		assert_int_equal(jg_wc_merge_top(&one, &src, n, got, &n_got), 0);
		assert_int_equal(jg_wc_merge(&two, &src), 0);
		assert_int_equal(n_got, n_want);
		for (size_t i = 0; i < n_got; i++)
			assert_ptr_equal(got[i], want[i]);
	}
	assert_int_equal(one.total, two.total);
	assert_int_equal(one.distinct, two.distinct);
	for (unsigned i = 0; i < 500; i++) {
		snprintf(w, sizeof w, "w%u", i);
		assert_int_equal(jg_wc_get(&one, w, strlen(w)), jg_wc_get(&two, w, strlen(w)));
	}
	jg_wc_fini(&src);
	jg_wc_fini(&one);
	jg_wc_fini(&two);
}

static void test_tsv_order(void **state)
{
	struct jg_wordcount wc;
	jg_wc_init(&wc);
	add(&wc, "b", 2);
	add(&wc, "a", 2);
	add(&wc, "z", 9);
	add(&wc, "ab", 2);
	char buf[256] = {0};
	FILE *f = fmemopen(buf, sizeof buf, "w");
	assert_int_equal(jg_wc_write_tsv(&wc, f), 0);
	fclose(f);
	assert_string_equal(buf, "z\t9\na\t2\nab\t2\nb\t2\n");
	jg_wc_fini(&wc);
}

static void add_n(struct jg_wordcount *wc, const char *w, size_t len, uint64_t n)
{
	assert_int_equal(jg_wc_add(wc, w, len, jg_wc_hash(w, len), n), 0);
}

/* Words alike in their first 8 bytes, words holding a NUL byte, the
 * largest count, and a word longer than the writer's buffer: in the order
 * of jg_wc_compare (count down, then bytes, a prefix first). */
static void test_tsv_order_past_the_first_eight_bytes(void **state)
{
	struct jg_wordcount wc;
	jg_wc_init(&wc);
	size_t long_len = 70000;
	char *longw = malloc(long_len);
	assert_non_null(longw);
	memset(longw, 'q', long_len);
	add_n(&wc, "abcdefghi", 9, 3);
	add_n(&wc, "abcdefgh", 8, 3);
	add_n(&wc, "abcdefg\0", 8, 3);
	add_n(&wc, "abcdefg", 7, 3);
	add_n(&wc, "abcdefgha", 9, 3);
	add_n(&wc, "abcdefgh\0", 9, 3);
	add_n(&wc, "max", 3, UINT64_MAX);
	add_n(&wc, longw, long_len, 2);
	add_n(&wc, "q", 1, 2);
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	assert_non_null(f);
	assert_int_equal(jg_wc_write_tsv(&wc, f), 0);
	assert_int_equal(fclose(f), 0);
	const char head[] = "max\t18446744073709551615\n"
	                    "abcdefg\t3\nabcdefg\0\t3\nabcdefgh\t3\nabcdefgh\0\t3\n"
	                    "abcdefgha\t3\nabcdefghi\t3\nq\t2\n";
	size_t head_len = sizeof head - 1;
	assert_int_equal(size, head_len + long_len + 3);
	assert_memory_equal(buf, head, head_len);
	assert_memory_equal(buf + head_len, longw, long_len);
	assert_memory_equal(buf + head_len + long_len, "\t2\n", 3);
	free(buf);
	free(longw);
	jg_wc_fini(&wc);
}

/* Reads `text` as a counts file: JG_OK or the error. */
static int read_counts(const char *text, uint64_t *total)
{
	char path[] = "/tmp/jg-test-counts-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct jg_counts *c = jg_counts_new();
	char err[JG_ERRBUF_SIZE] = "";
	int rc = jg_counts_read_tsv(c, path, err);
	assert_true(rc == JG_OK || strlen(err) > 0);
	*total = jg_counts_total(c);
	jg_counts_free(c);
	unlink(path);
	return rc;
}

/* A count is digits and nothing else: strtoull alone takes " -1" as 2^64-1. */
static void test_tsv_reader_takes_only_digits(void **state)
{
	(void)state;
	uint64_t total;
	assert_int_equal(read_counts("a\t5\nb\t07\n", &total), JG_OK);
	assert_int_equal(total, 12);
	const char *bad[] = {"a\t -1\n", "a\t-1\n", "a\t+5\n", "a\t 5\n", "a\t5 \n",
	                     "a\t0x5\n", "a\t\n", "a\t0\n", "a\t\v5\n"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(read_counts(bad[i], &total), JG_EIO);
}

/* The tokenizer hashes a word from its two zero-padded halves; every
 * other caller from its bytes: the two must agree for every length. The
 * bytes live in a buffer of exactly their size, so ASan sees a read past
 * a word's end. */
static void test_hash_of_halves_is_hash_of_bytes(void **state)
{
	static const char bytes[17] = "Ab\xc3\xa9 \0z\x80~'9\xffQq\x01m";
	for (size_t len = 1; len <= 16; len++) {
		char *w = malloc(len);
		memcpy(w, bytes, len);
		uint64_t lo = 0, hi = 0;
		for (size_t i = 0; i < len; i++)
			*(i < 8 ? &lo : &hi) |= (uint64_t)(unsigned char)w[i] << (8 * (i % 8));
		assert_int_equal(jg_wc_hash(w, len), jg_wc_hash16(lo, hi, len));
		free(w);
	}
	/* Length is part of the hash: "a" and "a\0" are two words. */
	assert_int_not_equal(jg_wc_hash("a", 1), jg_wc_hash("a\0", 2));
}

/* Words that share prefixes, hold NUL bytes or are long: each its own. */
static void test_lengths_prefixes_and_nul(void **state)
{
	struct jg_wordcount wc;
	jg_wc_init(&wc);
	char w[64];
	memset(w, 'x', sizeof w);
	for (size_t len = 1; len <= 40; len++) {
		char *exact = malloc(len);
		memcpy(exact, w, len);
		assert_int_equal(jg_wc_add(&wc, exact, len, jg_wc_hash(exact, len), len), 0);
		free(exact);
	}
	assert_int_equal(jg_wc_add(&wc, "x\0", 2, jg_wc_hash("x\0", 2), 100), 0);
	assert_int_equal(wc.distinct, 41);
	for (size_t len = 1; len <= 40; len++)
		assert_int_equal(jg_wc_get(&wc, w, len), len);
	assert_int_equal(jg_wc_get(&wc, "x\0", 2), 100);
	assert_int_equal(jg_wc_get(&wc, "y", 1), 0);
	/* 9 to 16 bytes, one head: the second half decides. */
	for (int i = 0; i < 3000; i++) {
		snprintf(w, sizeof w, "samehead%04d", i);
		add(&wc, w, (uint64_t)i + 1);
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(w, sizeof w, "samehead%04d", i);
		assert_int_equal(jg_wc_get(&wc, w, 12), (uint64_t)i + 1);
	}
	assert_int_equal(wc.distinct, 41 + 3000);
	/* Stored words are NUL-terminated and their heads are their bytes. */
	for (size_t i = 0; i <= wc.mask; i++) {
		const struct jg_word *e = &wc.slots[i];
		if (!e->word)
			continue;
		assert_int_equal(e->word[e->len], '\0');
		assert_int_equal(e->head, jg_wc_load(e->word, e->len < 8 ? e->len : 8));
	}
	jg_wc_fini(&wc);
}

/* Moving entries to their home slots (the tokenizer does it as it finds
 * words) loses none: every word is still found, with its count. */
static void test_promote_keeps_every_word(void **state)
{
	struct jg_wordcount wc;
	jg_wc_init(&wc);
	char w[32];
	enum { N = 3000 };
	for (int i = 0; i < N; i++) {
		snprintf(w, sizeof w, "p%d", i);
		add(&wc, w, (uint64_t)(i % 97) + 1);
	}
	unsigned seed = 7;
	for (int round = 0; round < 20000; round++) {
		seed = seed * 1103515245u + 12345u;
		snprintf(w, sizeof w, "p%u", (seed >> 8) % N);
		struct jg_word *e = jg_wc_probe(wc.slots, wc.mask, w, strlen(w), jg_wc_hash(w, strlen(w)));
		assert_non_null(e->word);
		e->count += 50;
		jg_wc_promote(&wc, e);
	}
	uint64_t sum = 0;
	for (int i = 0; i < N; i++) {
		snprintf(w, sizeof w, "p%d", i);
		uint64_t c = jg_wc_get(&wc, w, strlen(w));
		assert_true(c >= (uint64_t)(i % 97) + 1);
		sum += c;
	}
	uint64_t want = 20000 * 50;
	for (int i = 0; i < N; i++)
		want += (uint64_t)(i % 97) + 1;
	assert_int_equal(sum, want);
	assert_int_equal(wc.distinct, N);
	jg_wc_fini(&wc);
}

static void counts_add(struct jg_counts *c, const char *w, uint64_t n)
{
	assert_int_equal(jg_counts_add(c, w, strlen(w), jg_wc_hash(w, strlen(w)), n), 0);
}

/* Drained a few slots at a time (the pool's way over loop turns), a
 * table ends up where one merge puts it, and the source is empty and
 * fills again. */
static void test_drain_in_steps_equals_merge(void **state)
{
	enum { N = 5000 };
	const size_t steps[] = {1, 7, 2048, (size_t)-1};
	for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
		struct jg_counts src, dst, want;
		jg_counts_init(&src);
		jg_counts_init(&dst);
		jg_counts_init(&want);
		char w[32];
		for (int i = 0; i < N; i++) {
			snprintf(w, sizeof w, "word%d", i);
			counts_add(&src, w, (uint64_t)i % 13 + 1);
			if (i % 3 == 0)
				counts_add(&dst, w, 100);
		}
		assert_int_equal(jg_counts_merge(&want, &dst), JG_OK);
		assert_int_equal(jg_counts_merge(&want, &src), JG_OK);
		struct jg_counts_cursor at = {0, 0};
		int rc, calls = 0;
		do {
			size_t budget = steps[s];
			rc = jg_counts_drain(&dst, &src, &at, &budget);
			assert_true(rc >= 0);
			assert_true(rc == 1 || budget == 0); /* a call stops on its budget only */
			calls++;
		} while (rc == 0);
		if (steps[s] == 1)
			assert_true(calls > N);
		assert_int_equal(jg_counts_distinct(&src), 0);
		assert_int_equal(jg_counts_total(&src), 0);
		assert_int_equal(jg_counts_distinct(&dst), N);
		assert_int_equal(jg_counts_total(&dst), jg_counts_total(&want));
		for (int i = 0; i < N; i++) {
			snprintf(w, sizeof w, "word%d", i);
			assert_int_equal(jg_counts_get(&dst, w), jg_counts_get(&want, w));
			assert_int_equal(jg_counts_get(&src, w), 0);
		}
		counts_add(&src, "again", 2); /* emptied, not broken */
		assert_int_equal(jg_counts_get(&src, "again"), 2);
		jg_counts_fini(&src);
		jg_counts_fini(&dst);
		jg_counts_fini(&want);
	}
}

/* Words in different shards still come out in one order. */
static void test_top_and_tsv_across_shards(void **state)
{
	struct jg_counts *c = jg_counts_new();
	assert_non_null(c);
	char w[16];
	for (int i = 0; i < 300; i++) {
		snprintf(w, sizeof w, "w%03d", i);
		counts_add(c, w, (uint64_t)(i % 50) + 1);
	}
	struct jg_word_count top[4];
	assert_int_equal(jg_counts_top(c, 4, top), 4);
	assert_string_equal(top[0].word, "w049");
	assert_string_equal(top[1].word, "w099");
	assert_string_equal(top[2].word, "w149");
	assert_string_equal(top[3].word, "w199");
	assert_int_equal(top[3].count, 50);
	assert_int_equal(jg_counts_write_tsv_fd(c, -1), JG_EINVAL);
	char path[] = "/tmp/jg-test-shards-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(jg_counts_write_tsv_fd(c, fd), JG_OK);
	close(fd);
	FILE *f = fopen(path, "r");
	char line[64], prev[64] = "";
	unsigned long prev_count = ~0ul;
	int lines = 0;
	while (fgets(line, sizeof line, f)) {
		char word[32];
		unsigned long n;
		assert_int_equal(sscanf(line, "%31[^\t]\t%lu", word, &n), 2);
		assert_true(n < prev_count || (n == prev_count && strcmp(prev, word) < 0));
		prev_count = n;
		snprintf(prev, sizeof prev, "%s", word);
		lines++;
	}
	fclose(f);
	unlink(path);
	assert_int_equal(lines, 300);
	jg_counts_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_keeps_every_count),
		cmocka_unit_test(test_merge_and_top),
		cmocka_unit_test(test_merge_top_is_merge_then_top),
		cmocka_unit_test(test_tsv_order),
		cmocka_unit_test(test_tsv_order_past_the_first_eight_bytes),
		cmocka_unit_test(test_tsv_reader_takes_only_digits),
		cmocka_unit_test(test_hash_of_halves_is_hash_of_bytes),
		cmocka_unit_test(test_lengths_prefixes_and_nul),
		cmocka_unit_test(test_promote_keeps_every_word),
		cmocka_unit_test(test_drain_in_steps_equals_merge),
		cmocka_unit_test(test_top_and_tsv_across_shards),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
