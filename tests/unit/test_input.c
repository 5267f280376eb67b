/* Unit tests of the URL list reader: trimming, comments, long lines, NULs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "juggle.h"

struct seen {
	char urls[8][128];
	char names[8][128];
	unsigned long url_lines[8];
	int n_urls;
	char errors[8][128];
	int n_errors;
};

static void on_url(void *ctx, const char *source, unsigned long line, const char *text,
                   const char *name)
{
	struct seen *s = ctx;
	snprintf(s->names[s->n_urls], sizeof s->names[0], "%s", name ? name : "(none)");
	snprintf(s->urls[s->n_urls], sizeof s->urls[0], "%s", text);
	s->url_lines[s->n_urls++] = line;
}

static void on_error(void *ctx, const char *source, unsigned long line, const char *why)
{
	struct seen *s = ctx;
	snprintf(s->errors[s->n_errors++], sizeof s->errors[0], "%s:%lu: %s", source, line, why);
}

static void read_text(const char *text, size_t len, struct seen *s)
{
	memset(s, 0, sizeof *s);
	FILE *fp = fmemopen((void *)text, len, "r");
	assert_non_null(fp);
	struct jg_input_sink sink = {on_url, on_error, s};
	jg_input_read(fp, "list.txt", &sink);
	fclose(fp);
}

static void test_trims_and_skips(void **state)
{
	static const char text[] = "  http://a/x  \r\n\n# comment\n\t  \n   # indented comment\nhttp://b/y";
	struct seen s;
	read_text(text, sizeof text - 1, &s);
	assert_int_equal(s.n_urls, 2);
	assert_string_equal(s.urls[0], "http://a/x");
	assert_int_equal(s.url_lines[0], 1);
	assert_string_equal(s.urls[1], "http://b/y"); /* no final newline */
	assert_int_equal(s.url_lines[1], 6);
	assert_int_equal(s.n_errors, 0);
}

static void test_byte_order_mark_loses_no_line(void **state)
{
	static const char text[] = "\xEF\xBB\xBFhttp://a/x\n\xEF\xBB\xBFhttp://b/y\n";
	struct seen s;
	read_text(text, sizeof text - 1, &s);
	assert_int_equal(s.n_urls, 2);
	assert_string_equal(s.urls[0], "http://a/x");
	/* Only the file's first bytes can be a byte order mark. */
	assert_string_equal(s.urls[1], "\xEF\xBB\xBFhttp://b/y");
	static const char comment[] = "\xEF\xBB\xBF# a list\nhttp://c/z\n";
	read_text(comment, sizeof comment - 1, &s);
	assert_int_equal(s.n_urls, 1);
	assert_string_equal(s.urls[0], "http://c/z");
}

static void test_long_line_is_refused_and_rest_goes_on(void **state)
{
	size_t n = JG_URL_MAX + 100;
	char *text = malloc(n + 64);
	assert_non_null(text);
	memcpy(text, "http://a/", 9);
	memset(text + 9, 'x', n - 9);
	strcpy(text + n, "\nhttp://b/ok\n");
	struct seen s;
	read_text(text, strlen(text), &s);
	free(text);
	assert_int_equal(s.n_errors, 1);
	assert_string_equal(s.errors[0], "list.txt:1: line longer than 8 KiB");
	assert_int_equal(s.n_urls, 1);
	assert_string_equal(s.urls[0], "http://b/ok");
	assert_int_equal(s.url_lines[0], 2);
}

static void test_nul_byte_is_refused(void **state)
{
	static const char text[] = "http://a/\0x\nhttp://b/\n";
	struct seen s;
	read_text(text, sizeof text - 1, &s);
	assert_int_equal(s.n_errors, 1);
	assert_string_equal(s.errors[0], "list.txt:1: line contains a NUL byte");
	assert_int_equal(s.n_urls, 1);
}

static void test_trim_in_place(void **state)
{
	char a[] = " \t x y \r\n";
	assert_string_equal(jg_input_trim(a), "x y");
	char b[] = "   ";
	assert_string_equal(jg_input_trim(b), "");
}

static void test_a_tab_names_the_file(void **state)
{
	static const char text[] = "http://a/x\tmoby.txt\n  http://b/y \t  my book.txt \n"
	                           "http://c/z\t\nhttp://d/w\ta\tb\n";
	struct seen s;
	read_text(text, sizeof text - 1, &s);
	assert_int_equal(s.n_urls, 4);
	assert_string_equal(s.urls[0], "http://a/x");
	assert_string_equal(s.names[0], "moby.txt");
	assert_string_equal(s.urls[1], "http://b/y");
	assert_string_equal(s.names[1], "my book.txt");
	/* A trailing tab is trimmed with the line: no name. */
	assert_string_equal(s.urls[2], "http://c/z");
	assert_string_equal(s.names[2], "(none)");
	/* Only the first tab splits: the rest is the name's (made safe later). */
	assert_string_equal(s.urls[3], "http://d/w");
	assert_string_equal(s.names[3], "a\tb");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_tab_names_the_file),
		cmocka_unit_test(test_trims_and_skips),
		cmocka_unit_test(test_byte_order_mark_loses_no_line),
		cmocka_unit_test(test_long_line_is_refused_and_rest_goes_on),
		cmocka_unit_test(test_nul_byte_is_refused),
		cmocka_unit_test(test_trim_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
