/* Unit tests of the tokenizer on tricky text, and of charset handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tokenize.h"

static struct jg_wordcount count(const char *text, enum jg_split mode)
{
	struct jg_wordcount wc;
	struct jg_tokenizer t;
	jg_wc_init(&wc);
	jg_tokenizer_init(&t);
	assert_int_equal(jg_tokenize(&t, text, strlen(text), mode, &wc), 0);
	jg_tokenizer_fini(&t);
	return wc;
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
