#include "noproxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_separator(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "/N" after an address: 0 .. max, at most three digits. -1 if malformed. */
static int prefix_bits(const char *s, size_t len, unsigned max)
{
	if (len < 1 || len > 3)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= max ? (int)v : -1;
}

/* An address entry, "A[/N]" or "[A6][/N]"; 1 if it is one, 0 if not. */
static int parse_address(const char *tok, size_t len, struct jg_noproxy_entry *e, int *bad_bits)
{
	char text[64];
	const char *slash = memchr(tok, '/', len);
	const char *a = tok;
	size_t alen = slash ? (size_t)(slash - tok) : len;
	if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
		a++;
		alen -= 2;
	}
	if (alen == 0 || alen >= sizeof text)
		return 0;
	memcpy(text, a, alen);
	text[alen] = '\0';
	unsigned max;
	if (inet_pton(AF_INET, text, e->addr) == 1) {
		e->kind = JG_NOPROXY_IPV4;
		max = 32;
	} else if (inet_pton(AF_INET6, text, e->addr) == 1) {
		e->kind = JG_NOPROXY_IPV6;
		max = 128;
	} else {
		return 0;
	}
	e->bits = max;
	if (slash) {
		int bits = prefix_bits(slash + 1, len - (size_t)(slash + 1 - tok), max);
		if (bits < 0)
			*bad_bits = 1;
		else
			e->bits = (unsigned)bits;
	}
	return 1;
}

/* One entry of the list; 0, or -1 with `why`. */
static int parse_entry(const char *tok, size_t len, struct jg_noproxy_entry *e, char *why,
                       size_t why_len)
{
	memset(e, 0, sizeof *e);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)tok[i] < 0x20 || tok[i] == 0x7f) {
			snprintf(why, why_len, "a control character (0x%02x) in an entry",
			         (unsigned)(unsigned char)tok[i]);
			return -1;
		}
	const char *orig = tok;
	size_t orig_len = len;
	/* ".example.org" and "example.org." mean example.org (and ".10.0.0.1"
	 * the address: a name never matches one). */
	if (len > 1 && tok[0] == '.') {
		tok++;
		len--;
	}
	if (len > 1 && tok[len - 1] == '.')
		len--;
	int bad_bits = 0;
	if (parse_address(tok, len, e, &bad_bits)) {
		if (!bad_bits)
			return 0;
		snprintf(why, why_len, "'%.*s': the prefix length must be 0 to %u", (int)orig_len,
		         orig, e->kind == JG_NOPROXY_IPV4 ? 32 : 128);
		return -1;
	}
	if (memchr(tok, '/', len)) {
		snprintf(why, why_len, "'%.*s': a prefix length needs an IP address", (int)orig_len,
		         orig);
		return -1;
	}
	if (memchr(tok, ':', len) || memchr(tok, '[', len) || memchr(tok, ']', len)) {
		snprintf(why, why_len, "'%.*s': not a host name, domain or IP address (no port)",
		         (int)orig_len, orig);
		return -1;
	}
	if (len == 1 && tok[0] == '.')
		len = 0;
	if (len && (tok[0] == '.' || tok[len - 1] == '.' || memmem(tok, len, "..", 2))) {
		snprintf(why, why_len, "'%.*s': an empty label", (int)(orig_len > 64 ? 64 : orig_len),
		         orig);
		return -1;
	}
	if (len == 0 || len > JG_NOPROXY_NAME_MAX) {
		snprintf(why, why_len, "'%.*s': %s", (int)(orig_len > 64 ? 64 : orig_len), orig,
		         len ? "longer than a host name can be" : "an empty name");
		return -1;
	}
	e->kind = JG_NOPROXY_NAME;
	for (size_t i = 0; i < len; i++)
		e->name[i] = (char)tolower((unsigned char)tok[i]);
	e->name[len] = '\0';
	return 0;
}

int jg_noproxy_parse(const char *list, struct jg_noproxy *out, char *why, size_t why_len)
{
	memset(out, 0, sizeof *out);
	size_t cap = 0;
	const char *p = list ? list : "";
	for (;;) {
		while (*p && is_separator(*p))
			p++;
		if (!*p)
			return 0;
		const char *tok = p;
		while (*p && !is_separator(*p))
			p++;
		size_t len = (size_t)(p - tok);
		if (len == 1 && tok[0] == '*') {
			out->all = 1;
			continue;
		}
		if (out->n == JG_NOPROXY_MAX) {
			snprintf(why, why_len, "more than %d entries", JG_NOPROXY_MAX);
			goto fail;
		}
		if (out->n == cap) {
			size_t grown = cap ? cap * 2 : 8;
			struct jg_noproxy_entry *v = realloc(out->v, grown * sizeof *v);
			if (!v) {
				snprintf(why, why_len, "out of memory");
				goto fail;
			}
			out->v = v;
			cap = grown;
		}
		if (parse_entry(tok, len, &out->v[out->n], why, why_len) < 0)
			goto fail;
		out->n++;
	}
fail:
	jg_noproxy_fini(out);
	return -1;
}

void jg_noproxy_fini(struct jg_noproxy *np)
{
	free(np->v);
	memset(np, 0, sizeof *np);
}

/* The first `bits` bits of a and b agree. */
static int same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	if (memcmp(a, b, whole) != 0)
		return 0;
	if (!rest)
		return 1;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

/* `host` is `name` or a name under it. */
static int in_domain(const char *host, size_t hl, const char *name)
{
	size_t nl = strlen(name);
	if (nl > hl || strncasecmp(host + hl - nl, name, nl) != 0)
		return 0;
	return nl == hl || host[hl - nl - 1] == '.';
}

int jg_noproxy_match(const struct jg_noproxy *np, const char *host)
{
	if (np->all)
		return 1;
	if (np->n == 0)
		return 0;
	uint8_t addr[16];
	enum jg_noproxy_kind kind = JG_NOPROXY_NAME;
	size_t hl = strlen(host);
	char text[64];
	if (host[0] == '[' && hl >= 2 && hl - 2 < sizeof text) {
		memcpy(text, host + 1, hl - 2);
		text[hl - 2] = '\0';
		if (inet_pton(AF_INET6, text, addr) == 1)
			kind = JG_NOPROXY_IPV6;
	} else if (inet_pton(AF_INET, host, addr) == 1) {
		kind = JG_NOPROXY_IPV4;
	}
	if (kind == JG_NOPROXY_NAME && hl && host[hl - 1] == '.')
		hl--;
	for (size_t i = 0; i < np->n; i++) {
		const struct jg_noproxy_entry *e = &np->v[i];
		if (e->kind != kind)
			continue;
		if (kind == JG_NOPROXY_NAME ? in_domain(host, hl, e->name)
		                            : same_prefix(addr, e->addr, e->bits))
			return 1;
	}
	return 0;
}
