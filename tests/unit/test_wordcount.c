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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_growth_keeps_every_count),
		cmocka_unit_test(test_merge_and_top),
		cmocka_unit_test(test_tsv_order),
		cmocka_unit_test(test_tsv_reader_takes_only_digits),
		cmocka_unit_test(test_hash_of_halves_is_hash_of_bytes),
		cmocka_unit_test(test_lengths_prefixes_and_nul),
		cmocka_unit_test(test_promote_keeps_every_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
