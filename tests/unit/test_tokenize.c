/*
 * Unit tests of the tokenizer on tricky text, each on every path this
 * machine has (bytewise, scalar, SSE2, AVX2), and of the paths against
 * one another on texts made to hit their block edges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize.h"

/* The path the checks below run on; main() runs them on each. */
static enum jg_tokenize_path current_path;

static struct jg_wordcount count_n(const char *text, size_t len, enum jg_split mode,
                                   enum jg_tokenize_path path)
{
	struct jg_wordcount wc;
	struct jg_tokenizer t;
	jg_wc_init(&wc);
	jg_tokenizer_init(&t);
	assert_int_equal(jg_tokenizer_set_path(&t, path), 0);
	assert_int_equal(jg_tokenize(&t, text, len, mode, &wc), 0);
	jg_tokenizer_fini(&t);
	return wc;
}

static struct jg_wordcount count(const char *text, enum jg_split mode)
{
	return count_n(text, strlen(text), mode, current_path);
}

#define HAS(wc, w, n) assert_int_equal(jg_wc_get(&(wc), (w), strlen(w)), (n))

static void test_apostrophes_straight_and_curly(void **state)
{
	struct jg_wordcount wc = count("Don't DON\u2019T o\u2019clock 'tis dogs' rock''n", JG_SPLIT_WORDS);
	HAS(wc, "don't", 2);
	HAS(wc, "o'clock", 1);
	HAS(wc, "tis", 1);
	HAS(wc, "dogs", 1);
	HAS(wc, "rock", 1);
	HAS(wc, "n", 1);
	assert_int_equal(wc.total, 7);
	jg_wc_fini(&wc);
}

static void test_hyphens_dashes_and_punctuation(void **state)
{
	struct jg_wordcount wc = count("well-known\u2014the end... (end); 3.14", JG_SPLIT_WORDS);
	HAS(wc, "well", 1);
	HAS(wc, "known", 1);
	HAS(wc, "the", 1);
	HAS(wc, "end", 2);
	HAS(wc, "3", 1);
	HAS(wc, "14", 1);
	assert_int_equal(wc.total, 7);
	jg_wc_fini(&wc);
}

static void test_accents_greek_cyrillic_and_folding(void **state)
{
	struct jg_wordcount wc = count("Café CAFÉ Ἀθῆναι Москва МОСКВА Straße STRASSE", JG_SPLIT_WORDS);
	HAS(wc, "café", 2);
	HAS(wc, "москва", 2);
	HAS(wc, "strasse", 2); /* full case folding: ß -> ss */
	assert_int_equal(wc.distinct, 4);
	assert_int_equal(wc.total, 7);
	jg_wc_fini(&wc);
}

static void test_crlf_and_invalid_bytes(void **state)
{
	struct jg_wordcount wc = count("one\r\ntwo\xff\xfethree\x80 four\0", JG_SPLIT_WORDS);
	HAS(wc, "one", 1);
	HAS(wc, "two", 1);
	HAS(wc, "three", 1);
	HAS(wc, "four", 1);
	jg_wc_fini(&wc);
}

static void test_whitespace_mode_is_countwords(void **state)
{
	struct jg_wordcount wc = count("The the\tTHE, don't\r\nCafé café  ", JG_SPLIT_WHITESPACE);
	HAS(wc, "the", 2);
	HAS(wc, "the,", 1);
	HAS(wc, "don't", 1);
	HAS(wc, "cafÉ", 0);
	HAS(wc, "café", 2); /* only ASCII is lower-cased: "Café" -> "café" */
	assert_int_equal(wc.total, 6);
	jg_wc_fini(&wc);
}

static void test_empty_input(void **state)
{
	struct jg_wordcount a = count("", JG_SPLIT_WORDS), b = count("  \n", JG_SPLIT_WHITESPACE);
	assert_int_equal(a.total + b.total, 0);
	jg_wc_fini(&a);
	jg_wc_fini(&b);
}

static void test_long_word_grows(void **state)
{
	size_t n = 200000;
	char *text = malloc(n + 1);
	memset(text, 'a', n);
	text[n] = '\0';
	struct jg_wordcount wc = count(text, JG_SPLIT_WORDS);
	assert_int_equal(wc.distinct, 1);
	assert_int_equal(jg_wc_get(&wc, text, n), 1);
	jg_wc_fini(&wc);
	wc = count(text, JG_SPLIT_WHITESPACE);
	assert_int_equal(jg_wc_get(&wc, text, n), 1);
	jg_wc_fini(&wc);
	free(text);
}

static void test_combining_marks_stay_inside_words(void **state)
{
	/* "com͠andé" with U+0360 (52834-0.txt), a decomposed "é" (e + U+0301),
	 * a mark after a space and after an apostrophe, and Hebrew points. */
	struct jg_wordcount wc = count("com\u0360and\u00e9 cafe\u0301 x \u0301y don'\u0301t "
	                               "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd", JG_SPLIT_WORDS);
	HAS(wc, "com\u0360and\u00e9", 1);
	HAS(wc, "caf\u00e9", 1);      /* NFC: the composed letter */
	HAS(wc, "cafe\u0301", 0);
	HAS(wc, "x", 1);
	HAS(wc, "y", 1);               /* a mark alone makes no word */
	HAS(wc, "don", 1);             /* nor one after an apostrophe */
	HAS(wc, "t", 1);
	/* NFC puts the points in canonical order: qamats (18) before the
	 * shin dot (24); shin with its dot has no composed form in NFC. */
	HAS(wc, "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd", 1);
	assert_int_equal(wc.total, 7);
	jg_wc_fini(&wc);
}

static void test_nfc_after_case_folding(void **state)
{
	/* Precomposed and decomposed, upper and lower case: one word. The
	 * Angstrom sign is a singleton (NFC: U+00C5, folded: U+00E5); the
	 * dotted capital I folds to i + U+0307, which stays so in NFC. */
	struct jg_wordcount wc = count("\u00c9t\u00e9 E\u0301te\u0301 \u00e9t\u00e9 "
	                               "\u212bngstr\u00f6m \u00e5ngstro\u0308m \u0130stanbul",
	                               JG_SPLIT_WORDS);
	HAS(wc, "\u00e9t\u00e9", 3);
	HAS(wc, "\u00e5ngstr\u00f6m", 2);
	HAS(wc, "i\u0307stanbul", 1);
	assert_int_equal(wc.distinct, 3);
	/* Hangul: a syllable and a trailing jamo compose; a lone one does not. */
	jg_wc_fini(&wc);
	wc = count("\u1100\u1161\u11a8 \uac01 \u1100", JG_SPLIT_WORDS);
	HAS(wc, "\uac01", 2);
	HAS(wc, "\u1100", 1);
	jg_wc_fini(&wc);
}

/* The table as sorted "word<TAB>count" lines, to compare two whole. */
static char *table_text(const struct jg_wordcount *wc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(jg_wc_write_tsv(wc, f), 0);
	fclose(f);
	return buf;
}

static const enum jg_tokenize_path all_paths[] = {JG_TOKENIZE_BYTEWISE, JG_TOKENIZE_SCALAR,
                                                   JG_TOKENIZE_SSE2, JG_TOKENIZE_AVX2};

static int have_path(enum jg_tokenize_path path)
{
	struct jg_tokenizer t;
	jg_tokenizer_init(&t);
	int ok = jg_tokenizer_set_path(&t, path) == 0;
	jg_tokenizer_fini(&t);
	return ok;
}

/* Every path this machine has counts text[0..len) as the bytewise one. */
static void assert_paths_agree(const char *text, size_t len, enum jg_split mode)
{
	struct jg_wordcount ref = count_n(text, len, mode, JG_TOKENIZE_BYTEWISE);
	char *want = table_text(&ref);
	for (size_t i = 1; i < sizeof all_paths / sizeof *all_paths; i++) {
		if (!have_path(all_paths[i]))
			continue;
		struct jg_wordcount wc = count_n(text, len, mode, all_paths[i]);
		char *got = table_text(&wc);
		if (strcmp(want, got) != 0 || wc.total != ref.total || wc.distinct != ref.distinct)
			fail_msg("%s disagrees with bytewise (mode %d, %zu bytes)",
			         jg_tokenize_path_name(all_paths[i]), (int)mode, len);
		free(got);
		jg_wc_fini(&wc);
	}
	free(want);
	jg_wc_fini(&ref);
}

/*
 * Pieces that each decide something: apostrophes beside letters, digits,
 * non-ASCII letters, marks and U+2019; white space of every kind; words
 * of 8, 9, 16 and 17 bytes (the block readers' limits); invalid UTF-8, a
 * NUL, a lone continuation byte; upper case to fold.
 */
static const char *const pieces[] = {
	"a", "Z", "7", "'", "\u2019", "\u00e9", "\u00c9", "e\u0301", "\u0301", "\u0416",
	" ", "\t", "\r\n", "\n", "\v", "\f", "-", ".", ",", "\xff", "\x80", "\xe2\x80", "",
	"don't", "'tis", "rock''n", "ABCDEFGH", "abcdefghi", "ABCDEFGHIJKLMNOP", "abcdefghijklmnopq",
	"\u00dfe", "o\u2019clock", "I", "\x01", "Caf\u00e9", "x\u0301'y",
};

static size_t random_text(char *buf, size_t cap, unsigned *seed)
{
	size_t n = 0;
	for (;;) {
		*seed = *seed * 1103515245u + 12345u;
		const char *piece = pieces[(*seed >> 16) % (sizeof pieces / sizeof *pieces)];
		size_t k = strlen(piece);
		if ((*seed >> 8) % 97 == 0)
			k = 1; /* a NUL byte now and then */
		if (n + k > cap)
			return n;
		memcpy(buf + n, (*seed >> 8) % 97 == 0 ? "\0" : piece, k);
		n += k;
	}
}

static void test_paths_agree_on_random_text(void **state)
{
	enum { CAP = 6000 };
	char *buf = malloc(CAP);
	unsigned seed = 12345;
	for (int round = 0; round < 200; round++) {
		size_t n = random_text(buf, CAP, &seed);
		/* Every length near the block readers' edges, and the whole. */
		size_t lens[] = {n, n - 1, 127, 128, 129, 191, 192, 193, 255, 256, 257, 1000 + (size_t)round};
		for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
			if (lens[i] > n)
				continue;
			char *copy = malloc(lens[i] ? lens[i] : 1); /* exact size: ASan sees overreads */
			memcpy(copy, buf, lens[i]);
			assert_paths_agree(copy, lens[i], JG_SPLIT_WORDS);
			assert_paths_agree(copy, lens[i], JG_SPLIT_WHITESPACE);
			free(copy);
		}
	}
	free(buf);
}

/* One tricky piece at every offset of a plain ASCII text: each crosses a
 * 64-byte block edge and the end of the 128-byte window somewhere. */
static void test_paths_agree_at_every_offset(void **state)
{
	static const char *const tricky[] = {"x'y", "x\u00e9", "\u00e9x", "x'\u00e9", "\u00e9'x",
	                                     "x\u2019y", "abcdefghijklmnop", "abcdefghijklmnopq",
	                                     "x\u0301y", "aB'", "'Ab", "x''y", "a\xff\xfe\x62"};
	char text[400];
	for (size_t k = 0; k < sizeof tricky / sizeof *tricky; k++) {
		size_t tl = strlen(tricky[k]);
		for (size_t at = 0; at + tl <= 300; at++) {
			for (size_t i = 0; i < sizeof text; i++)
				text[i] = "The Lord said, Go \n"[i % 19];
			memcpy(text + at, tricky[k], tl);
			assert_paths_agree(text, sizeof text, JG_SPLIT_WORDS);
			assert_paths_agree(text, sizeof text, JG_SPLIT_WHITESPACE);
		}
	}
}

/* A text that ends right after a word, an apostrophe or inside a UTF-8
 * sequence counts the same on every path, whatever its length. */
static void test_paths_agree_on_every_length(void **state)
{
	char text[300];
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = "In the beginning God's word\u2019s caf\u00e9 \r\n"[i % 40];
	for (size_t len = 0; len <= sizeof text; len++) {
		char *copy = malloc(len ? len : 1);
		memcpy(copy, text, len);
		assert_paths_agree(copy, len, JG_SPLIT_WORDS);
		assert_paths_agree(copy, len, JG_SPLIT_WHITESPACE);
		free(copy);
	}
}

/* The block readers' own limits, counted right (not only alike). */
static void test_word_lengths_around_16(void **state)
{
	char text[4096];
	size_t n = 0;
	for (size_t len = 1; len <= 40; len++)
		for (int copies = 0; copies < 3; copies++) {
			for (size_t i = 0; i < len; i++)
				text[n++] = (char)('A' + i % 26);
			text[n++] = copies == 2 ? '\n' : ' ';
		}
	text[n] = '\0';
	for (int mode = 0; mode < 2; mode++) {
		struct jg_wordcount wc = count(text, mode ? JG_SPLIT_WHITESPACE : JG_SPLIT_WORDS);
		char word[41];
		for (size_t len = 1; len <= 40; len++) {
			for (size_t i = 0; i < len; i++)
				word[i] = (char)('a' + i % 26);
			word[len] = '\0';
			HAS(wc, word, 3);
		}
		assert_int_equal(wc.distinct, 40);
		assert_int_equal(wc.total, 120);
		jg_wc_fini(&wc);
	}
}

/* Many distinct words (the table grows under the block readers, and
 * words are found past their home slot and moved into it). */
static void test_many_words(void **state)
{
	size_t cap = 700000, n = 0;
	char *text = malloc(cap);
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 20000; i++)
			n += (size_t)snprintf(text + n, cap - n, "W%d%c", i * 7919 % 20000, round ? ' ' : '\n');
	for (int mode = 0; mode < 2; mode++) {
		struct jg_wordcount wc = count(text, mode ? JG_SPLIT_WHITESPACE : JG_SPLIT_WORDS);
		assert_int_equal(wc.distinct, 20000);
		assert_int_equal(wc.total, 60000);
		char w[16];
		for (int i = 0; i < 20000; i += 37) {
			snprintf(w, sizeof w, "w%d", i);
			HAS(wc, w, 3);
		}
		jg_wc_fini(&wc);
	}
	free(text);
}

static void test_path_names_and_choice(void **state)
{
	assert_string_equal(jg_tokenize_path_name(JG_TOKENIZE_BYTEWISE), "bytewise");
	assert_string_equal(jg_tokenize_path_name(JG_TOKENIZE_AVX2), "avx2");
	struct jg_tokenizer t;
	jg_tokenizer_init(&t);
	assert_int_equal(jg_tokenizer_set_path(&t, (enum jg_tokenize_path)9), -1);
	assert_int_equal(jg_tokenizer_set_path(&t, JG_TOKENIZE_SCALAR), 0); /* everywhere */
	jg_tokenizer_fini(&t);
#if defined(__x86_64__) && defined(__SSE2__)
	assert_true(have_path(JG_TOKENIZE_SSE2)); /* every x86-64 CPU */
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_apostrophes_straight_and_curly),
		cmocka_unit_test(test_hyphens_dashes_and_punctuation),
		cmocka_unit_test(test_accents_greek_cyrillic_and_folding),
		cmocka_unit_test(test_crlf_and_invalid_bytes),
		cmocka_unit_test(test_whitespace_mode_is_countwords),
		cmocka_unit_test(test_empty_input),
		cmocka_unit_test(test_long_word_grows),
		cmocka_unit_test(test_combining_marks_stay_inside_words),
		cmocka_unit_test(test_nfc_after_case_folding),
		cmocka_unit_test(test_word_lengths_around_16),
		cmocka_unit_test(test_many_words),
	};
	const struct CMUnitTest across[] = {
		cmocka_unit_test(test_path_names_and_choice),
		cmocka_unit_test(test_paths_agree_on_random_text),
		cmocka_unit_test(test_paths_agree_at_every_offset),
		cmocka_unit_test(test_paths_agree_on_every_length),
	};
	int failed = 0;
	for (size_t i = 0; i < sizeof all_paths / sizeof *all_paths; i++) {
		if (!have_path(all_paths[i])) {
			printf("[ SKIPPED  ] path %s: not on this CPU\n", jg_tokenize_path_name(all_paths[i]));
			continue;
		}
		current_path = all_paths[i];
		printf("[==========] path %s\n", jg_tokenize_path_name(current_path));
		failed += cmocka_run_group_tests_name(jg_tokenize_path_name(current_path), tests, NULL, NULL);
	}
	return failed + cmocka_run_group_tests_name("paths against bytewise", across, NULL, NULL);
}
