/*
 * libFuzzer target: arbitrary bytes as a robots.txt, parsed for one of a
 * few agents (the first byte picks it), and asked about a path (the next
 * byte is its length, the bytes after it the path; the rest is the file).
 *
 * Checked: every rule's pattern lies inside the set's text and is in
 * normal form (printable US-ASCII, each '%' followed by two upper-case
 * hex digits); the rules are sorted most specific first, Allow first on a
 * tie; the normal form of a path starts with '/' and is a fixed point;
 * "/robots.txt" is always allowed; and the verdict is the one a model
 * written here reaches: every rule tried with a plain dynamic-programming
 * glob match (not the matcher's leftmost-segment search), the most
 * specific match winning, Allow on a tie, no match allowing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robots.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_robots: invariant violated: %s\n", what);
		abort();
	}
}

static int is_hex_upper(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

static void check_normal(const char *s, size_t n, int pattern)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		check(c > 0x20 && c < 0x7f, "normal form: a byte outside printable US-ASCII");
		check(pattern || c != '*', "normal form: a bare '*' in a path");
		check(c != '$', "normal form: a bare '$'");
		if (c == '%') {
			check(i + 2 < n && is_hex_upper(s[i + 1]) && is_hex_upper(s[i + 2]),
			      "normal form: '%' without two upper-case hex digits");
			i += 2;
		}
	}
}

/* The model: does glob `p` ('*' only) match all of `s` (anchored) or a prefix of it? */
static int model_match(const char *p, size_t m, int anchored, const char *s, size_t n)
{
	/* can[j]: the pattern so far matches s[0..j). */
	unsigned char *can = calloc(n + 1, 1), *next = calloc(n + 1, 1);
	check(can && next, "out of memory in the model");
	can[0] = 1;
	for (size_t i = 0; i < m; i++) {
		memset(next, 0, n + 1);
		if (p[i] == '*') {
			int any = 0;
			for (size_t j = 0; j <= n; j++) {
				any |= can[j];
				next[j] = (unsigned char)any;
			}
		} else {
			for (size_t j = 0; j < n; j++)
				next[j + 1] = can[j] && s[j] == p[i];
		}
		unsigned char *t = can;
		can = next;
		next = t;
	}
	int hit = 0;
	if (anchored)
		hit = can[n];
	else
		for (size_t j = 0; j <= n && !hit; j++)
			hit = can[j];
	free(can);
	free(next);
	return hit;
}

static const char *const agents[] = {"juggle", "foobot", "*", "", "a"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const char *agent = agents[data[0] % (sizeof agents / sizeof agents[0])];
	size_t plen = data[1];
	if (plen > size - 2)
		plen = size - 2;
	const char *path = (const char *)data + 2;
	const char *text = path + plen;
	size_t tlen = size - 2 - plen;

	struct jg_robots r;
	if (jg_robots_parse(&r, text, tlen, agent) < 0)
		return 0; /* out of memory */
	for (size_t i = 0; i < r.n_rules; i++) {
		const struct jg_robots_rule *rule = &r.rules[i];
		check((size_t)rule->off + rule->len <= r.text_len, "a rule outside the text");
		check(rule->len > 0 && r.text[rule->off] != '\0', "an empty pattern");
		check(r.text[rule->off] == '/' || r.text[rule->off] == '*',
		      "a pattern that starts with neither '/' nor '*'");
		check_normal(r.text + rule->off, rule->len, 1);
		if (i > 0) {
			const struct jg_robots_rule *prev = &r.rules[i - 1];
			size_t pp = prev->len + prev->anchored, pr = rule->len + rule->anchored;
			check(pp > pr || (pp == pr && prev->allow >= rule->allow), "rules out of order");
		}
	}
	check(r.n_rules == 0 || r.group != JG_ROBOTS_GROUP_NONE, "rules without a group");
	check(r.crawl_delay >= 0, "a negative crawl delay");

	char *norm = malloc(3 * plen + 2), *again = malloc(9 * plen + 8);
	check(norm && again, "out of memory");
	size_t n = jg_robots_normalize_path(path, plen, norm);
	check(n >= 1 && norm[0] == '/', "a normal path without its '/'");
	check_normal(norm, n, 0);
	size_t n2 = jg_robots_normalize_path(norm, n, again);
	check(n2 == n && memcmp(norm, again, n) == 0, "normalising twice changed the path");

	const struct jg_robots_rule *by;
	int verdict = jg_robots_allowed(&r, path, plen, &by);
	check(verdict == 0 || verdict == 1, "a verdict that is neither");
	check(by ? verdict == by->allow : verdict == 1, "the deciding rule disagrees");
	int want = 1;
	size_t best = 0;
	int found = 0;
	if (!(n == 11 && memcmp(norm, "/robots.txt", 11) == 0)) {
		for (size_t i = 0; i < r.n_rules; i++) {
			const struct jg_robots_rule *rule = &r.rules[i];
			size_t prio = rule->len + rule->anchored;
			if (found && (prio < best || (prio == best && !rule->allow)))
				continue;
			if (model_match(r.text + rule->off, rule->len, rule->anchored, norm, n)) {
				want = rule->allow;
				best = prio;
				found = 1;
			}
		}
	}
	check(verdict == want, "the verdict is not the model's");
	check(jg_robots_allowed(&r, "/robots.txt", 11, NULL) == 1, "/robots.txt refused");
	free(norm);
	free(again);
	jg_robots_fini(&r);
	return 0;
}
