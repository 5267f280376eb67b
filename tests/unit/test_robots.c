/* Unit tests of the robots.txt parser and matcher (RFC 9309). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "robots.h"

/* Whether `path` is allowed to `agent` by the file `text`. */
static int allowed_by(const char *text, size_t len, const char *agent, const char *path)
{
	struct jg_robots r;
	assert_int_equal(jg_robots_parse(&r, text, len, agent), 0);
	int ok = jg_robots_allowed(&r, path, strlen(path), NULL);
	assert_true(ok == 0 || ok == 1);
	jg_robots_fini(&r);
	return ok;
}

static int allowed(const char *text, const char *agent, const char *path)
{
	return allowed_by(text, strlen(text), agent, path);
}

/* RFC 9309 5.1, the simple example, for each of its agents. */
static const char rfc_example[] =
	"User-Agent: *\n"
	"Disallow: *.gif$\n"
	"Disallow: /example/\n"
	"Allow: /publications/\n"
	"\n"
	"User-Agent: foobot\n"
	"Disallow:/\n"
	"Allow:/example/page.html\n"
	"Allow:/example/allowed.gif\n"
	"\n"
	"User-Agent: barbot\n"
	"User-Agent: bazbot\n"
	"Disallow: /example/page.html\n"
	"\n"
	"User-Agent: quxbot\n"
	"\n"
	"EOF\n";

static void test_rfc_simple_example(void **state)
{
	/* foobot: everything but the two pages it is allowed. */
	assert_true(allowed(rfc_example, "foobot", "/example/page.html"));
	assert_true(allowed(rfc_example, "foobot", "/example/allowed.gif"));
	assert_false(allowed(rfc_example, "foobot", "/example/other.html"));
	assert_false(allowed(rfc_example, "foobot", "/"));
	assert_false(allowed(rfc_example, "foobot", "/publications/"));
	/* barbot and bazbot share a group: only that page; '*' is not theirs. */
	assert_false(allowed(rfc_example, "barbot", "/example/page.html"));
	assert_false(allowed(rfc_example, "bazbot", "/example/page.html"));
	assert_true(allowed(rfc_example, "bazbot", "/example/other.html"));
	assert_true(allowed(rfc_example, "barbot", "/a.gif"));
	/* quxbot's group is empty: everything. */
	assert_true(allowed(rfc_example, "quxbot", "/example/page.html"));
	assert_true(allowed(rfc_example, "quxbot", "/a.gif"));
	/* Anyone else: the '*' group. */
	assert_false(allowed(rfc_example, "juggle", "/images/a.gif"));
	assert_true(allowed(rfc_example, "juggle", "/images/a.gif?x=1")); /* '$': not the end */
	assert_false(allowed(rfc_example, "juggle", "/example/"));
	assert_false(allowed(rfc_example, "juggle", "/example/x.html"));
	assert_true(allowed(rfc_example, "juggle", "/publications/"));
	assert_true(allowed(rfc_example, "juggle", "/books/1.txt"));
}

/* RFC 9309 5.2: the most octets win. */
static void test_longest_match_wins(void **state)
{
	const char *t = "User-Agent: foobot\n"
	                "Allow: /example/page/\n"
	                "Disallow: /example/page/disallowed.gif\n";
	assert_true(allowed(t, "foobot", "/example/page/"));
	assert_true(allowed(t, "foobot", "/example/page/ok.gif"));
	assert_false(allowed(t, "foobot", "/example/page/disallowed.gif"));
	/* The order in the file does not matter. */
	const char *u = "User-Agent: *\n"
	                "Disallow: /a/b/c\n"
	                "Allow: /a\n"
	                "Disallow: /a/b\n";
	assert_false(allowed(u, "x", "/a/b/c/d"));
	assert_false(allowed(u, "x", "/a/b/x"));
	assert_true(allowed(u, "x", "/a/x"));
}

static void test_allow_wins_a_tie(void **state)
{
	const char *t = "User-agent: *\nDisallow: /page\nAllow: /page\n";
	assert_true(allowed(t, "juggle", "/page"));
	const char *u = "User-agent: *\nAllow: /pag*\nDisallow: /page\n";
	assert_true(allowed(u, "juggle", "/page"));
	/* A wildcard counts as an octet of the pattern. */
	const char *v = "User-agent: *\nAllow: /p*\nDisallow: /pag\n";
	assert_false(allowed(v, "juggle", "/page"));
}

static void test_agent_match_is_by_product_token_without_case(void **state)
{
	const char *t = "User-agent: JUGGLE/2.0 (compatible)\nDisallow: /mine\n"
	                "User-agent: *\nDisallow: /\n";
	assert_false(allowed(t, "juggle", "/mine"));
	assert_true(allowed(t, "juggle", "/other"));
	/* Not a prefix match: "jugglebot" is another crawler. */
	const char *u = "User-agent: jugglebot\nDisallow: /\nUser-agent: *\nDisallow: /x\n";
	assert_true(allowed(u, "juggle", "/a"));
	assert_false(allowed(u, "juggle", "/x"));
	/* Keys are case-insensitive too. */
	assert_false(allowed("USER-AGENT: *\nDISALLOW: /x\n", "juggle", "/x"));
	assert_false(allowed("uSeR-aGeNt: *\ndisAllow: /x\n", "juggle", "/x"));
}

static void test_groups_for_one_agent_are_merged(void **state)
{
	const char *t = "User-agent: juggle\nDisallow: /a\n"
	                "User-agent: other\nDisallow: /b\n"
	                "User-agent: juggle\nDisallow: /c\n"
	                "User-agent: *\nDisallow: /d\n"
	                "User-agent: *\nDisallow: /e\n";
	assert_false(allowed(t, "juggle", "/a"));
	assert_true(allowed(t, "juggle", "/b"));
	assert_false(allowed(t, "juggle", "/c"));
	assert_true(allowed(t, "juggle", "/d")); /* '*' is not ours */
	assert_false(allowed(t, "nobody", "/d"));
	assert_false(allowed(t, "nobody", "/e"));
	assert_true(allowed(t, "nobody", "/a"));
}

static void test_several_agent_lines_make_one_group(void **state)
{
	const char *t = "User-agent: a\nUser-agent: juggle\nUser-agent: b\nDisallow: /x\n"
	                "Allow: /x/y\n"
	                "User-agent: c\nDisallow: /z\n";
	assert_false(allowed(t, "juggle", "/x"));
	assert_true(allowed(t, "juggle", "/x/y"));
	assert_true(allowed(t, "juggle", "/z")); /* a user-agent after rules starts a group */
	assert_false(allowed(t, "a", "/x"));
	assert_false(allowed(t, "c", "/z"));
	assert_true(allowed(t, "c", "/x"));
}

static void test_rules_outside_a_group_are_ignored(void **state)
{
	assert_true(allowed("Disallow: /\nUser-agent: *\nDisallow: /x\n", "juggle", "/a"));
	assert_true(allowed("Disallow: /\n", "juggle", "/a"));
}

static void test_empty_disallow_allows_everything(void **state)
{
	assert_true(allowed("User-agent: *\nDisallow:\n", "juggle", "/anything"));
	assert_true(allowed("User-agent: *\nDisallow:   \n", "juggle", "/"));
	/* An empty file, or one without groups. */
	assert_true(allowed("", "juggle", "/x"));
	assert_true(allowed("Sitemap: http://h/s.xml\n", "juggle", "/x"));
}

static void test_line_ends_bom_and_comments(void **state)
{
	const char *ends[] = {"\n", "\r\n", "\r"};
	for (size_t i = 0; i < 3; i++) {
		char t[256];
		snprintf(t, sizeof t, "User-agent: *%sDisallow: /a%sAllow: /a/b%s", ends[i], ends[i],
		         ends[i]);
		assert_false(allowed(t, "juggle", "/a/c"));
		assert_true(allowed(t, "juggle", "/a/b"));
	}
	/* A byte order mark before the first line is no part of its key. */
	assert_false(allowed("\xEF\xBB\xBFUser-agent: *\nDisallow: /a\n", "juggle", "/a"));
	/* Comments: whole lines and the end of lines; '#' ends the value. */
	const char *c = "# hello\nUser-agent: * # everyone\n#Disallow: /\nDisallow: /a#b\n";
	assert_true(allowed(c, "juggle", "/b"));
	assert_false(allowed(c, "juggle", "/a"));
	assert_false(allowed(c, "juggle", "/ab"));
	/* No line end at the end of the file. */
	assert_false(allowed("User-agent: *\nDisallow: /a", "juggle", "/a"));
	/* Blanks around keys and values. */
	assert_false(allowed("  User-agent  :   *  \n\tDisallow\t:\t/a\t\n", "juggle", "/a"));
}

static void test_missing_colon(void **state)
{
	/* A typo of one of our keys keeps its meaning. */
	assert_false(allowed("User-agent *\nDisallow /a\n", "juggle", "/a"));
	assert_true(allowed("User-agent *\nDisallow /a\n", "juggle", "/b"));
	/* Anything else without a colon is skipped, and ends no group. */
	const char *t = "User-agent: *\nnonsense here\nDisallow: /a\nfoo\nDisallow\n";
	assert_false(allowed(t, "juggle", "/a"));
	assert_true(allowed(t, "juggle", "/b"));
}

static void test_wildcards_and_end_anchor(void **state)
{
	const char *t = "User-agent: *\n"
	                "Disallow: /*.pdf$\n"
	                "Disallow: /private*/secret\n"
	                "Disallow: /exact$\n"
	                "Disallow: /**/deep*\n";
	assert_false(allowed(t, "juggle", "/a/b.pdf"));
	assert_true(allowed(t, "juggle", "/a/b.pdf?x"));
	assert_true(allowed(t, "juggle", "/a/b.pdfx"));
	assert_false(allowed(t, "juggle", "/private/secret"));
	assert_false(allowed(t, "juggle", "/private-x/y/secret/z"));
	assert_true(allowed(t, "juggle", "/private/open"));
	assert_false(allowed(t, "juggle", "/exact"));
	assert_true(allowed(t, "juggle", "/exact/"));
	assert_false(allowed(t, "juggle", "/x/deep"));
	assert_true(allowed(t, "juggle", "/deep")); /* two slashes around the stars */
	/* A pattern may start with '*'; one that starts with neither '/' nor
	 * '*' is taken as if it did with '/'. */
	assert_false(allowed("User-agent: *\nDisallow: *.gif\n", "juggle", "/a/b.gif"));
	assert_false(allowed("User-agent: *\nDisallow: private\n", "juggle", "/private/x"));
	/* '$' anywhere but at the end is an octet; "/$" only the root. */
	assert_false(allowed("User-agent: *\nDisallow: /a$b\n", "juggle", "/a$b"));
	assert_true(allowed("User-agent: *\nDisallow: /a$b\n", "juggle", "/ab"));
	const char *root = "User-agent: *\nDisallow: /\nAllow: /$\n";
	assert_true(allowed(root, "juggle", "/"));
	assert_true(allowed(root, "juggle", ""));
	assert_false(allowed(root, "juggle", "/a"));
	/* "*$" at the end matches everything the prefix does. */
	assert_false(allowed("User-agent: *\nDisallow: /a*$\n", "juggle", "/abc"));
	/* A literal '*' in a URL is an octet; "%2A" in a pattern is a literal. */
	assert_false(allowed("User-agent: *\nDisallow: /a%2Ab\n", "juggle", "/a*b"));
	assert_true(allowed("User-agent: *\nDisallow: /a%2Ab\n", "juggle", "/axb"));
	assert_false(allowed("User-agent: *\nDisallow: /a*b\n", "juggle", "/axxb"));
}

/* RFC 9309 2.2.2's table, and the choices around it. */
static void test_percent_encoding(void **state)
{
	struct {
		const char *pattern, *path;
	} match[] = {
		{"/foo/bar?baz=quz", "/foo/bar?baz=quz"},
		{"/foo/bar?baz=https://foo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar"},
		{"/foo/bar/\xE3\x83\x84", "/foo/bar/%E3%83%84"},
		{"/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84"},
		{"/foo/bar/%62%61%7A", "/foo/bar/baz"},
		{"/foo/bar/baz", "/foo/bar/%62%61%7a"},
		{"/foo/bar/%e3%83%84", "/foo/bar/\xE3\x83\x84"}, /* hex case */
		{"/a b", "/a%20b"},
		{"/100%", "/100%25"},                            /* a '%' that escapes nothing */
		{"/%7Euser", "/~user"},
	};
	for (size_t i = 0; i < sizeof match / sizeof match[0]; i++) {
		char t[256];
		snprintf(t, sizeof t, "User-agent: *\nDisallow: %s$\n", match[i].pattern);
		if (allowed(t, "juggle", match[i].path))
			fail_msg("pattern %s should match %s", match[i].pattern, match[i].path);
	}
	/* Escapes that mean something else decoded stay apart. */
	struct {
		const char *pattern, *path;
	} apart[] = {
		{"/a/b", "/a%2Fb"},     /* a '/' inside a path segment */
		{"/a?b", "/a%3Fb"},     /* not a query */
		{"/q?a=b&c", "/q?a=b%26c"},
	};
	for (size_t i = 0; i < sizeof apart / sizeof apart[0]; i++) {
		char t[256];
		snprintf(t, sizeof t, "User-agent: *\nDisallow: %s$\n", apart[i].pattern);
		if (!allowed(t, "juggle", apart[i].path))
			fail_msg("pattern %s should not match %s", apart[i].pattern, apart[i].path);
	}
}

static void test_robots_txt_is_always_allowed(void **state)
{
	assert_true(allowed("User-agent: *\nDisallow: /\n", "juggle", "/robots.txt"));
	assert_false(allowed("User-agent: *\nDisallow: /\n", "juggle", "/robots.txt?x"));
	assert_false(allowed("User-agent: *\nDisallow: /\n", "juggle", "/robots.txt.bak"));
}

static void test_crawl_delay(void **state)
{
	struct jg_robots r;
	const char *t = "User-agent: *\nCrawl-delay: 7\n"
	                "User-agent: juggle\nCrawl-delay: 2.5\nDisallow: /x\n"
	                "User-agent: juggle\ncrawl-delay: 1\n"
	                "User-agent: other\nCrawl-delay: 50\n";
	assert_int_equal(jg_robots_parse(&r, t, strlen(t), "juggle"), 0);
	assert_true(r.crawl_delay == 2.5); /* the largest of our groups' */
	assert_int_equal(r.group, JG_ROBOTS_GROUP_AGENT);
	jg_robots_fini(&r);
	assert_int_equal(jg_robots_parse(&r, t, strlen(t), "nobody"), 0);
	assert_true(r.crawl_delay == 7);
	assert_int_equal(r.group, JG_ROBOTS_GROUP_STAR);
	jg_robots_fini(&r);
	const char *bad[] = {"x", "-3", "0", "inf", "nan", "0x10", "1 2", ""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char b[64];
		snprintf(b, sizeof b, "User-agent: *\nCrawl-delay: %s\n", bad[i]);
		assert_int_equal(jg_robots_parse(&r, b, strlen(b), "juggle"), 0);
		if (r.crawl_delay != 0)
			fail_msg("Crawl-delay: %s gave %g", bad[i], r.crawl_delay);
		jg_robots_fini(&r);
	}
	/* A crawl-delay line ends a run of user-agent lines, as a rule does. */
	const char *u = "User-agent: juggle\nCrawl-delay: 3\nUser-agent: other\nDisallow: /\n";
	assert_true(allowed(u, "juggle", "/a"));
}

static void test_no_group_at_all(void **state)
{
	struct jg_robots r;
	assert_int_equal(jg_robots_parse(&r, "garbage\n\x01\x02", 10, "juggle"), 0);
	assert_int_equal(r.group, JG_ROBOTS_GROUP_NONE);
	assert_int_equal(r.n_rules, 0);
	jg_robots_fini(&r);
	jg_robots_init(&r); /* what a 404 means */
	assert_int_equal(jg_robots_allowed(&r, "/x", 2, NULL), 1);
	jg_robots_fini(&r);
}

static void test_the_rule_that_decided(void **state)
{
	struct jg_robots r;
	const char *t = "User-agent: *\nDisallow: /private/\nAllow: /private/ok$\n";
	assert_int_equal(jg_robots_parse(&r, t, strlen(t), "juggle"), 0);
	const struct jg_robots_rule *by;
	assert_int_equal(jg_robots_allowed(&r, "/private/x", 10, &by), 0);
	assert_non_null(by);
	assert_int_equal(by->allow, 0);
	assert_int_equal(by->len, 9);
	assert_memory_equal(r.text + by->off, "/private/", 9);
	assert_int_equal(jg_robots_allowed(&r, "/private/ok", 11, &by), 1);
	assert_int_equal(by->allow, 1);
	assert_int_equal(by->anchored, 1);
	assert_int_equal(jg_robots_allowed(&r, "/public", 7, &by), 1);
	assert_null(by);
	jg_robots_fini(&r);
}

static void test_only_500_kib_are_read(void **state)
{
	size_t cap = JG_ROBOTS_MAX_BYTES;
	char *t = malloc(cap + 4096);
	assert_non_null(t);
	const char head[] = "User-agent: *\nDisallow: /early\n";
	memcpy(t, head, sizeof head - 1);
	size_t n = sizeof head - 1;
	/* Comment lines up to just before the cap, then a rule that crosses
	 * it, then one wholly past it. */
	while (n < cap - 100) {
		size_t line = cap - 100 - n < 80 ? cap - 100 - n : 80;
		memset(t + n, '#', line - 1);
		t[n + line - 1] = '\n';
		n += line;
	}
	const char inside[] = "Disallow: /inside\n";
	memcpy(t + n, inside, sizeof inside - 1);
	n += sizeof inside - 1;
	/* Cut at the cap, it would read "Disallow: /ac", which matches. */
	memset(t + n, ' ', cap - 13 - n);
	n = cap - 13;
	const char across[] = "Disallow: /across\nDisallow: /beyond\n";
	memcpy(t + n, across, sizeof across - 1);
	n += sizeof across - 1;
	assert_true(n > cap);
	assert_false(allowed_by(t, n, "juggle", "/early"));
	assert_false(allowed_by(t, n, "juggle", "/inside"));
	assert_true(allowed_by(t, n, "juggle", "/across")); /* cut: dropped whole */
	assert_true(allowed_by(t, n, "juggle", "/beyond"));
	free(t);
}

/* A hostile file: one endless line, and a pattern that is all stars. */
static void test_hostile_long_lines(void **state)
{
	size_t n = 2u << 20;
	char *t = malloc(n);
	assert_non_null(t);
	const char head[] = "User-agent: *\nDisallow: /";
	memcpy(t, head, sizeof head - 1);
	memset(t + sizeof head - 1, 'a', n - (sizeof head - 1));
	/* Past the cap without a line end: the line is dropped, nothing else. */
	assert_true(allowed_by(t, n, "juggle", "/aaaa"));
	/* A 400 KiB pattern of stars and letters, read, and matched quickly
	 * against a long path that it does not match. */
	size_t m = 400u * 1024;
	memcpy(t, head, sizeof head - 1);
	for (size_t i = sizeof head - 1; i < m; i++)
		t[i] = i % 2 ? '*' : 'a';
	memcpy(t + m, "z\n", 2);
	char *path = malloc(8193);
	assert_non_null(path);
	path[0] = '/';
	memset(path + 1, 'a', 8191);
	path[8192] = '\0';
	clock_t start = clock();
	assert_true(allowed_by(t, m + 2, "juggle", path));
	path[8191] = 'z';
	assert_true(allowed_by(t, m + 2, "juggle", path)); /* far too few a's */
	assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 2.0);
	/* 40,000 rules that each scan the path. */
	size_t k = 0;
	k += (size_t)snprintf(t, n, "User-agent: *\n");
	while (k < JG_ROBOTS_MAX_BYTES - 32)
		k += (size_t)snprintf(t + k, n - k, "Disallow: /*q\n");
	start = clock();
	assert_true(allowed_by(t, k, "juggle", "/a/b/c/d/e/f/g/h/i/j/1.txt"));
	assert_true((double)(clock() - start) / CLOCKS_PER_SEC < 2.0);
	free(path);
	free(t);
}

static void test_agent_token_and_url_path(void **state)
{
	char tok[JG_ROBOTS_AGENT_MAX + 1];
	assert_int_equal(jg_robots_agent("juggle/0.4.0", tok), 6);
	assert_string_equal(tok, "juggle");
	assert_int_equal(jg_robots_agent("Mozilla/5.0 (X11)", tok), 7);
	assert_string_equal(tok, "Mozilla");
	assert_int_equal(jg_robots_agent("my-bot crawling", tok), 6);
	assert_string_equal(tok, "my-bot");
	assert_int_equal(jg_robots_agent("/weird", tok), 0);
	char longua[200];
	memset(longua, 'x', sizeof longua - 1);
	longua[sizeof longua - 1] = '\0';
	assert_int_equal(jg_robots_agent(longua, tok), JG_ROBOTS_AGENT_MAX);
	size_t len;
	const char *p = jg_robots_url_path("http://h.test:8080/a/b?c=d#frag", &len);
	assert_int_equal(len, 8);
	assert_memory_equal(p, "/a/b?c=d", 8);
	p = jg_robots_url_path("https://[::1]:443", &len);
	assert_int_equal(len, 0);
	p = jg_robots_url_path("http://h?q", &len);
	assert_int_equal(len, 2);
	assert_memory_equal(p, "?q", 2);
	/* "?q" is the root's query. */
	assert_false(allowed("User-agent: *\nDisallow: /?q\n", "juggle", "?q"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_simple_example),
		cmocka_unit_test(test_longest_match_wins),
		cmocka_unit_test(test_allow_wins_a_tie),
		cmocka_unit_test(test_agent_match_is_by_product_token_without_case),
		cmocka_unit_test(test_groups_for_one_agent_are_merged),
		cmocka_unit_test(test_several_agent_lines_make_one_group),
		cmocka_unit_test(test_rules_outside_a_group_are_ignored),
		cmocka_unit_test(test_empty_disallow_allows_everything),
		cmocka_unit_test(test_line_ends_bom_and_comments),
		cmocka_unit_test(test_missing_colon),
		cmocka_unit_test(test_wildcards_and_end_anchor),
		cmocka_unit_test(test_percent_encoding),
		cmocka_unit_test(test_robots_txt_is_always_allowed),
		cmocka_unit_test(test_crawl_delay),
		cmocka_unit_test(test_no_group_at_all),
		cmocka_unit_test(test_the_rule_that_decided),
		cmocka_unit_test(test_only_500_kib_are_read),
		cmocka_unit_test(test_hostile_long_lines),
		cmocka_unit_test(test_agent_token_and_url_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
