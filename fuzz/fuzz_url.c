/*
 * libFuzzer target: arbitrary bytes (up to the first NUL) as a line of a
 * URL list or a URL argument. The line is trimmed as the list reader does,
 * a bare ebook number expanded against two mirrors, the URL parsed as a
 * session adds it, and the file names made of its basename and host as
 * the store makes them. Checked:
 *  - the trim leaves no white space at either end and changes nothing
 *    between;
 *  - only 1 to 9 digits expand, to MIRROR/cache/epub/N/pgN.txt, which
 *    parses and is named pgN.txt;
 *  - a URL that parses had at most JG_URL_MAX bytes and is http(s) with a
 *    lower-case host, a port in range and no fragment, and parses again
 *    to itself (a session parses it again before each transfer);
 *  - jg_store_sanitize of its basename and host gives at most JG_NAME_MAX
 *    bytes, no '/', no backslash, no control byte, no leading '.', keeps
 *    every other byte as it was, cuts only what does not fit and never
 *    inside a UTF-8 sequence that was whole in the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "juggle.h"
#include "store.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_url: invariant violated: %s\n", what);
		abort();
	}
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int cont(const unsigned char *s, size_t len, size_t i, unsigned char lo, unsigned char hi)
{
	return i < len && s[i] >= lo && s[i] <= hi;
}

/* The length of the well-formed UTF-8 sequence at s[i] (RFC 3629), or 0. */
static size_t utf8_at(const unsigned char *s, size_t len, size_t i)
{
	unsigned char c = s[i];
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return cont(s, len, i + 1, 0x80, 0xBF) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
		return cont(s, len, i + 1, lo, hi) && cont(s, len, i + 2, 0x80, 0xBF) ? 3 : 0;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
		return cont(s, len, i + 1, lo, hi) && cont(s, len, i + 2, 0x80, 0xBF) &&
		               cont(s, len, i + 3, 0x80, 0xBF)
		           ? 4
		           : 0;
	}
	return 0;
}

static int utf8_valid(const unsigned char *s, size_t len)
{
	for (size_t i = 0, n; i < len; i += n)
		if (!(n = utf8_at(s, len, i)))
			return 0;
	return 1;
}

/* jg_store_sanitize's promises for the name it makes of `seg`. */
static void check_name(const char *seg)
{
	const unsigned char *s = (const unsigned char *)seg;
	size_t len = strlen(seg);
	char out[JG_NAME_MAX + 1];
	size_t n = jg_store_sanitize(seg, len, out);
	check(n <= JG_NAME_MAX && out[n] == '\0' && strlen(out) == n, "name: length");
	check(n == 0 || out[0] != '.', "name: a leading dot");
	size_t skip = 0;
	while (skip < len && s[skip] == '.')
		skip++;
	check(n <= len - skip, "name: longer than its segment");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i], in = s[skip + i];
		check(c >= 0x20 && c != 0x7f && c != '/' && c != '\\', "name: a forbidden byte");
		int bad = in < 0x20 || in == 0x7f || in == '/' || in == '\\';
		check(bad ? c == '_' : c == in, "name: a byte changed");
	}
	/* Cut only what does not fit, and never inside a whole sequence. */
	size_t cut = skip + n;
	if (len - skip <= JG_NAME_MAX)
		check(cut == len, "name: cut though it fits");
	for (size_t p = cut > 3 ? cut - 3 : 0; p < cut; p++)
		check(p + utf8_at(s, len, p) <= cut, "name: cut inside a UTF-8 sequence");
	if (cut < len && utf8_valid(s + skip, len - skip))
		check(n + 3 >= JG_NAME_MAX, "name: cut more than the last character");
}

static void check_parsed(const char *text, const struct jg_url *u)
{
	check(strlen(text) <= JG_URL_MAX, "parse: accepted a URL over JG_URL_MAX");
	check(u->url && u->host && u->basename, "parse: a part missing");
	check(strncmp(u->url, u->is_https ? "https://" : "http://", u->is_https ? 8 : 7) == 0,
	      "parse: not http(s), or is_https wrong");
	check(!strchr(u->url, '#'), "parse: a fragment kept");
	check(u->host[0] != '\0', "parse: no host");
	for (const char *p = u->host; *p; p++)
		check(*p < 'A' || *p > 'Z', "parse: host not lower case");
	check(u->host[0] != '[' || (u->is_ip && u->host[strlen(u->host) - 1] == ']'),
	      "parse: an IPv6 literal");
	check(u->port >= 0 && u->port <= 65535, "parse: port out of range");
	check_name(u->basename);
	check_name(u->host);

	/* The normalized URL is what a session stores, parses again before
	 * each transfer and uses to tell duplicates: it must be stable. */
	struct jg_url v;
	char why[256];
	check(jg_url_parse(u->url, &v, why, sizeof why) == JG_OK, "reparse: refused");
	check(strcmp(u->url, v.url) == 0 && strcmp(u->host, v.host) == 0 && u->port == v.port &&
	          u->is_ip == v.is_ip && u->is_https == v.is_https &&
	          strcmp(u->basename, v.basename) == 0,
	      "reparse: another URL");
	jg_url_fini(&v);

	/* A book's URL when it starts: its parts from the host:port key the
	 * session made of this parse, without parsing it again. */
	char key[JG_URL_MAX + 32];
	snprintf(key, sizeof key, "%s:%ld", u->host, u->port);
	check(jg_url_from_host_port(u->url, key, &v) == JG_OK, "from key: refused");
	check(strcmp(u->url, v.url) == 0 && strcmp(u->host, v.host) == 0 && u->port == v.port &&
	          u->is_ip == v.is_ip && u->is_https == v.is_https,
	      "from key: other parts");
	jg_url_fini(&v);
}

static void check_ebook(const char *text, const char *mirror)
{
	char out[JG_URL_MAX + 64];
	int r = jg_url_expand_ebook(text, mirror, out, sizeof out);
	size_t digits = strspn(text, "0123456789");
	check(r == (digits >= 1 && digits <= 9 && text[digits] == '\0'), "ebook: expanded or not");
	if (!r)
		return;
	unsigned long id = strtoul(text, NULL, 10);
	size_t m = strlen(mirror);
	while (m > 0 && mirror[m - 1] == '/')
		m--;
	char want[JG_URL_MAX + 64], name[32];
	snprintf(want, sizeof want, "%.*s/cache/epub/%lu/pg%lu.txt", (int)m, mirror, id, id);
	snprintf(name, sizeof name, "pg%lu.txt", id);
	check(strcmp(out, want) == 0, "ebook: not the mirror's pgN.txt");
	struct jg_url u;
	check(jg_url_parse(out, &u, NULL, 0) == JG_OK, "ebook: the URL does not parse");
	check(strcmp(u.basename, name) == 0, "ebook: not named pgN.txt");
	check_parsed(out, &u);
	jg_url_fini(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	size_t len = strlen(line); /* a list line holds no NUL: argv's cannot */

	size_t lead = 0, end = len;
	while (lead < len && is_space((unsigned char)line[lead]))
		lead++;
	while (end > lead && is_space((unsigned char)line[end - 1]))
		end--;
	char *text = jg_input_trim(line);
	check(text == line + lead && strlen(text) == end - lead &&
	          memcmp(text, data + lead, end - lead) == 0,
	      "trim");

	check_ebook(text, "https://www.gutenberg.org");
	check_ebook(text, "http://127.0.0.1:8080//");

	struct jg_url u;
	char why[256] = "";
	int err = jg_url_parse(text, &u, why, sizeof why);
	if (err == JG_OK) {
		check_parsed(text, &u);
		jg_url_fini(&u);
	} else {
		check(err == JG_EURL || err == JG_ESCHEME || err == JG_ETOOLONG || err == JG_ENOMEM,
		      "parse: an unexpected error");
		check(err == JG_ENOMEM || why[0] != '\0', "parse: no reason given");
	}
	free(line);
	return 0;
}
