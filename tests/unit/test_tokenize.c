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

static void test_bom_and_latin1(void **state)
{
	const char *out;
	size_t len;
	char *owned;
	assert_int_equal(jg_text_utf8("\xEF\xBB\xBFword", 7, JG_CHARSET_UTF8, &out, &len, &owned), 0);
	assert_null(owned);
	assert_int_equal(len, 4);
	assert_memory_equal(out, "word", 4);
	/* "Café – naïve" in Windows-1252, with an undefined byte 0x81. */
	const char cp[] = "Caf\xe9 \x96 na\xefve\x81!";
	assert_int_equal(jg_text_utf8(cp, sizeof cp - 1, JG_CHARSET_CP1252, &out, &len, &owned), 0);
	assert_non_null(owned);
	assert_memory_equal(out, "Café – naïve !", len);
	free(owned);
	assert_int_equal(jg_charset_of("text/plain; charset=ISO-8859-1"), JG_CHARSET_CP1252);
	assert_int_equal(jg_charset_of("text/plain; charset=\"windows-1252\""), JG_CHARSET_CP1252);
	assert_int_equal(jg_charset_of("text/plain; charset=utf-8"), JG_CHARSET_UTF8);
	assert_int_equal(jg_charset_of(NULL), JG_CHARSET_UTF8);
}

static void test_gutenberg_boilerplate(void **state)
{
	const char text[] = "The Project Gutenberg eBook of X\r\nLicence words\r\n"
	                    "*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\n"
	                    "Call me Ishmael.\r\n"
	                    "*** END OF THE PROJECT GUTENBERG EBOOK X ***\r\nMore licence\r\n";
	size_t start = 0, end = sizeof text - 1;
	jg_text_strip_boilerplate(text, end, &start, &end);
	assert_int_equal(end - start, strlen("Call me Ishmael.\r\n"));
	assert_memory_equal(text + start, "Call me Ishmael.\r\n", end - start);
	const char plain[] = "no markers *** START OF here\n";
	start = 0;
	end = sizeof plain - 1;
	jg_text_strip_boilerplate(plain, end, &start, &end);
	assert_int_equal(start, 0); /* a marker must begin a line */
	assert_int_equal(end, sizeof plain - 1);
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
		cmocka_unit_test(test_bom_and_latin1),
		cmocka_unit_test(test_gutenberg_boilerplate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
