/* Unit tests of the charset decision and the conversion to UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "charset.h"

/* Decodes `body` and checks the decision and the text. */
static void expect(const char *body, size_t len, const char *http, const char *charset,
                   enum jg_charset_from from, const char *text)
{
	struct jg_text t;
	assert_int_equal(jg_text_decode(body, len, http, &t), 0);
	assert_string_equal(t.charset, charset);
	assert_int_equal(t.from, from);
	assert_int_equal(t.len, strlen(text));
	assert_memory_equal(t.text, text, t.len);
	assert_true(jg_utf8_valid(t.text, t.len));
	jg_text_fini(&t);
}

#define EXPECT(body, http, cs, from, text) expect(body, sizeof(body) - 1, http, cs, from, text)

static void test_http_charset_comes_first(void **state)
{
	/* The book says UTF-8 and is valid UTF-8, but the server says Latin-1. */
	EXPECT("Character set encoding: UTF-8\r\n\xc3\xa9", "ISO-8859-1", "windows-1252",
	       JG_CHARSET_FROM_HTTP, "Character set encoding: UTF-8\r\n\xc3\x83\xc2\xa9");
	EXPECT("\xef\xbb\xbf" "caf\xc3\xa9", "utf-8", "utf-8", JG_CHARSET_FROM_HTTP, "caf\xc3\xa9");
	EXPECT("caf\xe9", "\"windows-1252\"", "windows-1252", JG_CHARSET_FROM_HTTP, "caf\xc3\xa9");
	/* A charset iconv knows, though no Gutenberg book uses it here. */
	EXPECT("\xc1\xc2", "koi8-r", "koi8-r", JG_CHARSET_FROM_HTTP, "\xd0\xb0\xd0\xb1");
}

static void test_the_books_own_line(void **state)
{
	EXPECT("Title: X\r\nCharacter set encoding: ISO-8859-1\r\n\r\nf\xfcr", NULL, "windows-1252",
	       JG_CHARSET_FROM_BOOK, "Title: X\r\nCharacter set encoding: ISO-8859-1\r\n\r\nf\xc3\xbcr");
	EXPECT("Character set encoding: ISO-646-US (US-ASCII)\nabc", NULL, "windows-1252",
	       JG_CHARSET_FROM_BOOK, "Character set encoding: ISO-646-US (US-ASCII)\nabc");
	/* Declared UTF-8 but broken: the declaration holds, the bad bytes
	 * become U+FFFD, one per maximal invalid subpart. */
	EXPECT("Character set encoding: UTF-8\nx\xe2\x80y\xed\xa0\x80z", NULL, "utf-8",
	       JG_CHARSET_FROM_BOOK,
	       "Character set encoding: UTF-8\nx\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
	/* Not at the start of a line, or too far in: not the book's line. */
	EXPECT("a Character set encoding: ISO-8859-1\n\xc3\xa9", NULL, "utf-8",
	       JG_CHARSET_FROM_DETECTED, "a Character set encoding: ISO-8859-1\n\xc3\xa9");
	size_t n = JG_CHARSET_SNIFF + 64;
	char *far = malloc(n + 1);
	memset(far, 'x', n);
	memcpy(far + JG_CHARSET_SNIFF - 1, "\nCharacter set encoding: ISO-8859-1\n", 36);
	struct jg_text t;
	assert_int_equal(jg_text_decode(far, n, NULL, &t), 0);
	assert_int_equal(t.from, JG_CHARSET_FROM_DETECTED);
	jg_text_fini(&t);
	free(far);
}

static void test_detected_utf8_judges_the_whole_body(void **state)
{
	/* Valid UTF-8 for 300 KB, then one Windows-1252 byte (as pg37106.txt). */
	size_t n = 300000;
	char *body = malloc(n + 2);
	memset(body, 'a', n);
	memcpy(body, "\xc3\xa9", 2);
	body[n] = (char)0x92;
	body[n + 1] = 's';
	struct jg_text t;
	assert_int_equal(jg_text_decode(body, n + 2, NULL, &t), 0);
	assert_string_equal(t.charset, "windows-1252");
	assert_int_equal(t.from, JG_CHARSET_FROM_DETECTED);
	assert_memory_equal(t.text + t.len - 4, "\xe2\x80\x99s", 4); /* U+2019 */
	jg_text_fini(&t);
	body[n] = 'b';
	assert_int_equal(jg_text_decode(body, n + 2, NULL, &t), 0);
	assert_string_equal(t.charset, "utf-8");
	assert_ptr_equal(t.text, body); /* no copy for a valid UTF-8 body */
	jg_text_fini(&t);
	free(body);
	EXPECT("\xef\xbb\xbf" "abc", NULL, "utf-8", JG_CHARSET_FROM_DETECTED, "abc");
	EXPECT("\xff\xfe" "a\0b\0", NULL, "utf-16le", JG_CHARSET_FROM_DETECTED, "ab");
	EXPECT("", NULL, "utf-8", JG_CHARSET_FROM_DETECTED, "");
}

static void test_windows_1252_fallback_and_its_holes(void **state)
{
	/* "Café – naïve" and the five bytes Windows-1252 leaves unassigned,
	 * which WHATWG maps to the C1 controls of the same value. */
	EXPECT("Caf\xe9 \x96 na\xefve\x81\x8d\x8f\x90\x9d", NULL, "windows-1252",
	       JG_CHARSET_FROM_DETECTED,
	       "Caf\xc3\xa9 \xe2\x80\x93 na\xc3\xafve\xc2\x81\xc2\x8d\xc2\x8f\xc2\x90\xc2\x9d");
}

static void test_unknown_names_are_passed_over_and_said(void **state)
{
	struct jg_text t;
	const char body[] = "Character set encoding: ISO-8859-1\nf\xfcr";
	assert_int_equal(jg_text_decode(body, sizeof body - 1, "x-no-such\x1b[1m", &t), 0);
	assert_int_equal(t.from, JG_CHARSET_FROM_BOOK);
	assert_string_equal(t.charset, "windows-1252");
	assert_non_null(strstr(t.note, "'x-no-such\\x1b[1m' named by the server is unknown"));
	assert_non_null(strstr(t.note, "read as windows-1252 (book)"));
	jg_text_fini(&t);
	const char odd[] = "Character set encoding: Klingon\n\xc3\xa9";
	assert_int_equal(jg_text_decode(odd, sizeof odd - 1, NULL, &t), 0);
	assert_int_equal(t.from, JG_CHARSET_FROM_DETECTED);
	assert_string_equal(t.charset, "utf-8");
	assert_non_null(strstr(t.note, "'Klingon' named by the book is unknown"));
	jg_text_fini(&t);
	/* A name with a path in it never reaches iconv. */
	assert_int_equal(jg_text_decode("ab", 2, "../../tmp/x", &t), 0);
	assert_int_equal(t.from, JG_CHARSET_FROM_DETECTED);
	jg_text_fini(&t);
}

static void test_content_type_parameters(void **state)
{
	char cs[JG_CHARSET_NAME_MAX + 1];
	jg_content_type_charset("text/plain; charset=ISO-8859-1", cs);
	assert_string_equal(cs, "ISO-8859-1");
	jg_content_type_charset("text/plain;format=flowed; Charset=\"utf-8\"", cs);
	assert_string_equal(cs, "utf-8");
	jg_content_type_charset("text/plain", cs);
	assert_string_equal(cs, "");
	jg_content_type_charset(NULL, cs);
	assert_string_equal(cs, "");
	jg_content_type_charset("text/plain; charset=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", cs);
	assert_string_equal(cs, ""); /* too long to be a name */
	assert_true(jg_content_type_is_html("text/html; charset=utf-8"));
	assert_true(jg_content_type_is_html("TEXT/HTML"));
	assert_false(jg_content_type_is_html("text/plain"));
	assert_false(jg_content_type_is_html(NULL));
}

static void test_utf8_validity(void **state)
{
	assert_true(jg_utf8_valid("plain ascii, long enough for a word", 35));
	assert_true(jg_utf8_valid("\xf4\x8f\xbf\xbf", 4));   /* U+10FFFF */
	assert_false(jg_utf8_valid("\xf4\x90\x80\x80", 4));  /* past U+10FFFF */
	assert_false(jg_utf8_valid("\xc0\xaf", 2));          /* overlong */
	assert_false(jg_utf8_valid("\xed\xa0\x80", 3));      /* a surrogate */
	assert_false(jg_utf8_valid("abcdefgh\xe2\x82", 10)); /* cut short */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_charset_comes_first),
		cmocka_unit_test(test_the_books_own_line),
		cmocka_unit_test(test_detected_utf8_judges_the_whole_body),
		cmocka_unit_test(test_windows_1252_fallback_and_its_holes),
		cmocka_unit_test(test_unknown_names_are_passed_over_and_said),
		cmocka_unit_test(test_content_type_parameters),
		cmocka_unit_test(test_utf8_validity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
