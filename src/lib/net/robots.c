#include "robots.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void jg_robots_init(struct jg_robots *r)
{
	memset(r, 0, sizeof *r);
}

void jg_robots_fini(struct jg_robots *r)
{
	free(r->text);
	free(r->rules);
	jg_robots_init(r);
}

/* ---- percent-encoding ---------------------------------------------------- */

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Characters a URI may hold unencoded (RFC 3986 2.2, 2.3). */
static int uri_char(unsigned char c)
{
	return unreserved(c) || (c && strchr(":/?#[]@!$&'()*+,;=", c) != NULL);
}

/* An escape whose character means the same unencoded, where it stands. */
static int decodable(unsigned char c, int in_query)
{
	return unreserved(c) || c == ':' || c == '@' || (in_query && (c == '/' || c == '?'));
}

enum norm_mode { NORM_PATH, NORM_PATTERN };

static size_t put_escape(char *out, size_t o, unsigned char c)
{
	static const char digits[] = "0123456789ABCDEF";
	out[o++] = '%';
	out[o++] = digits[c >> 4];
	out[o++] = digits[c & 15];
	return o;
}

/*
 * Writes the normalised form of `n` bytes at `s` to `out` (room for 3n
 * bytes) and returns its length. In a pattern '*' stays the operator; in
 * a path it is an octet like any other, as '$' is in both (a pattern's
 * final '$' was taken off before).
 */
static size_t normalize(const char *s, size_t n, char *out, enum norm_mode mode)
{
	size_t o = 0;
	int in_query = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && i + 2 < n && hex_value((unsigned char)s[i + 1]) >= 0 &&
		    hex_value((unsigned char)s[i + 2]) >= 0) {
			unsigned char d = (unsigned char)(hex_value((unsigned char)s[i + 1]) * 16 +
			                                  hex_value((unsigned char)s[i + 2]));
			i += 2;
			if (decodable(d, in_query))
				out[o++] = (char)d;
			else
				o = put_escape(out, o, d);
			continue;
		}
		if (c == '?')
			in_query = 1;
		if (c == '*' && mode == NORM_PATTERN)
			out[o++] = '*';
		else if (uri_char(c) && c != '*' && c != '$')
			out[o++] = (char)c;
		else
			o = put_escape(out, o, c); /* also a '%' that starts no escape */
	}
	return o;
}

/* ---- matching ------------------------------------------------------------ */

/*
 * Whether pattern `p` (`m` bytes, '*' its only operator) matches path `s`
 * (`n` bytes) from its start, and to its end when `anchored`. Each segment
 * between stars is taken at its leftmost place after the previous one:
 * any later place leaves less room for the rest, never more.
 */
static int match(const char *p, size_t m, int anchored, const char *s, size_t n)
{
	const char *star = memchr(p, '*', m);
	size_t seg = star ? (size_t)(star - p) : m;
	if (seg > n || memcmp(p, s, seg) != 0)
		return 0;
	if (!star)
		return !anchored || seg == n;
	size_t pos = seg;
	for (;;) {
		p += seg + 1;
		m -= seg + 1;
		star = memchr(p, '*', m);
		seg = star ? (size_t)(star - p) : m;
		if (!star) {
			if (anchored)
				return n - pos >= seg && memcmp(s + n - seg, p, seg) == 0;
			return seg == 0 || memmem(s + pos, n - pos, p, seg) != NULL;
		}
		if (seg) {
			const char *at = memmem(s + pos, n - pos, p, seg);
			if (!at)
				return 0;
			pos = (size_t)(at - s) + seg;
		}
	}
}

static size_t priority(const struct jg_robots_rule *rule)
{
	return (size_t)rule->len + rule->anchored;
}

enum { PATH_ON_STACK = 2048 };

size_t jg_robots_normalize_path(const char *path, size_t len, char *out)
{
	size_t n = 0;
	if (len == 0 || path[0] != '/')
		out[n++] = '/';
	return n + normalize(path, len, out + n, NORM_PATH);
}

int jg_robots_allowed(const struct jg_robots *r, const char *path, size_t len,
                      const struct jg_robots_rule **by)
{
	if (by)
		*by = NULL;
	char stack[PATH_ON_STACK], *norm = stack;
	size_t need = 3 * len + 1;
	if (need > sizeof stack && !(norm = malloc(need)))
		return -1;
	size_t n = jg_robots_normalize_path(path, len, norm);
	int allowed = 1;
	static const char self[] = "/robots.txt";
	if (!(n == sizeof self - 1 && memcmp(norm, self, n) == 0)) {
		/* Sorted most specific first, Allow first on a tie: the first
		 * rule that matches decides. */
		for (size_t i = 0; i < r->n_rules; i++) {
			const struct jg_robots_rule *rule = &r->rules[i];
			if (match(r->text + rule->off, rule->len, rule->anchored, norm, n)) {
				allowed = rule->allow;
				if (by)
					*by = rule;
				break;
			}
		}
	}
	if (norm != stack)
		free(norm);
	return allowed;
}

const char *jg_robots_url_path(const char *url, size_t *len)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	p += strcspn(p, "/?#");
	*len = strcspn(p, "#");
	return p;
}

size_t jg_robots_agent(const char *user_agent, char *out)
{
	size_t n = strcspn(user_agent, "/ \t");
	if (n > JG_ROBOTS_AGENT_MAX)
		n = JG_ROBOTS_AGENT_MAX;
	memcpy(out, user_agent, n);
	out[n] = '\0';
	return n;
}

/* ---- parsing ------------------------------------------------------------- */

/* The rules of one kind of group, as they are read. */
struct rule_list {
	struct jg_robots_rule *v;
	size_t n, cap;
	double crawl_delay;
	int seen;                    /* a group of this kind exists */
};

struct parser {
	const char *agent;
	size_t agent_len;
	char *text;                  /* patterns of both lists */
	size_t text_len, text_cap;
	struct rule_list mine, star;
	int in_agents;               /* the last record was a user-agent line */
	int group_mine, group_star;  /* what the current group names */
	int failed;                  /* out of memory */
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int reserve_text(struct parser *ps, size_t more)
{
	if (ps->text_cap - ps->text_len >= more)
		return 0;
	size_t cap = ps->text_cap ? ps->text_cap : 1024;
	while (cap - ps->text_len < more)
		cap *= 2;
	char *t = realloc(ps->text, cap);
	if (!t)
		return -1;
	ps->text = t;
	ps->text_cap = cap;
	return 0;
}

static int push_rule(struct rule_list *l, struct jg_robots_rule rule)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct jg_robots_rule *v = realloc(l->v, cap * sizeof *v);
		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = rule;
	return 0;
}

/* A user-agent line: its product token against ours, or '*'. */
static void agent_line(struct parser *ps, const char *v, size_t n)
{
	if (!ps->in_agents)
		ps->group_mine = ps->group_star = 0; /* a new group starts */
	ps->in_agents = 1;
	if (n == 1 && v[0] == '*') {
		ps->group_star = ps->star.seen = 1;
		return;
	}
	size_t tok = 0;
	while (tok < n && v[tok] != '/' && !is_blank(v[tok]))
		tok++;
	if (tok && tok == ps->agent_len && strncasecmp(v, ps->agent, tok) == 0)
		ps->group_mine = ps->mine.seen = 1;
}

static void rule_line(struct parser *ps, int allow, const char *v, size_t n)
{
	ps->in_agents = 0;
	if (n == 0 || (!ps->group_mine && !ps->group_star))
		return; /* no rule, or outside any group of ours */
	int anchored = v[n - 1] == '$';
	if (anchored)
		n--;
	int slash = n == 0 || (v[0] != '/' && v[0] != '*');
	if (reserve_text(ps, 3 * n + 1) < 0) {
		ps->failed = 1;
		return;
	}
	size_t off = ps->text_len;
	if (slash)
		ps->text[ps->text_len++] = '/';
	ps->text_len += normalize(v, n, ps->text + ps->text_len, NORM_PATTERN);
	size_t len = ps->text_len - off;
	if (len > UINT32_MAX || off > UINT32_MAX) {
		ps->failed = 1;
		return;
	}
	struct jg_robots_rule rule = {(uint32_t)off, (uint32_t)len, (uint8_t)allow, (uint8_t)anchored};
	if ((ps->group_mine && push_rule(&ps->mine, rule) < 0) ||
	    (ps->group_star && push_rule(&ps->star, rule) < 0))
		ps->failed = 1;
}

/* "10", "0.5", " 2 ": seconds; anything else is no delay. */
static void delay_line(struct parser *ps, const char *v, size_t n)
{
	ps->in_agents = 0;
	char num[32];
	if (n == 0 || n >= sizeof num || (!ps->group_mine && !ps->group_star))
		return;
	memcpy(num, v, n);
	num[n] = '\0';
	char *end;
	double d = strtod(num, &end);
	if (*end || !isfinite(d) || !(d > 0) || strchr(num, 'x') || strchr(num, 'X'))
		return;
	if (ps->group_mine && d > ps->mine.crawl_delay)
		ps->mine.crawl_delay = d;
	if (ps->group_star && d > ps->star.crawl_delay)
		ps->star.crawl_delay = d;
}

enum key { KEY_NONE, KEY_AGENT, KEY_ALLOW, KEY_DISALLOW, KEY_DELAY, KEY_OTHER };

static enum key key_of(const char *k, size_t n)
{
	static const struct {
		const char *name;
		enum key key;
	} keys[] = {
		{"user-agent", KEY_AGENT},
		{"allow", KEY_ALLOW},
		{"disallow", KEY_DISALLOW},
		{"crawl-delay", KEY_DELAY},
	};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strlen(keys[i].name) == n && strncasecmp(k, keys[i].name, n) == 0)
			return keys[i].key;
	return KEY_OTHER;
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s))
		(*s)++, (*n)--;
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

/* One line, its end of line and comment already cut off. */
static void parse_line(struct parser *ps, const char *line, size_t n)
{
	trim(&line, &n);
	if (n == 0)
		return;
	const char *sep = memchr(line, ':', n);
	int colon = sep != NULL;
	if (!sep)
		for (sep = line; sep < line + n && !is_blank(*sep); sep++)
			;
	size_t kn = (size_t)(sep - line);
	const char *v = sep + (sep < line + n);
	size_t vn = n - kn - (sep < line + n);
	trim(&line, &kn);
	trim(&v, &vn);
	enum key key = key_of(line, kn);
	if (!colon && (key == KEY_OTHER || sep == line + n))
		return; /* neither "key: value" nor a typo of one of ours */
	switch (key) {
	case KEY_AGENT: agent_line(ps, v, vn); break;
	case KEY_ALLOW: rule_line(ps, 1, v, vn); break;
	case KEY_DISALLOW: rule_line(ps, 0, v, vn); break;
	case KEY_DELAY: delay_line(ps, v, vn); break;
	default: break; /* Sitemap and others: no part of any group */
	}
}

static int by_priority(const void *a, const void *b)
{
	const struct jg_robots_rule *x = a, *y = b;
	size_t px = priority(x), py = priority(y);
	if (px != py)
		return px > py ? -1 : 1;
	if (x->allow != y->allow)
		return x->allow ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Keeps the list that applies, with only its patterns, sorted. */
static int finish(struct parser *ps, struct jg_robots *r)
{
	struct rule_list *l = ps->mine.seen ? &ps->mine : ps->star.seen ? &ps->star : NULL;
	if (!l)
		return 0;
	r->group = l == &ps->mine ? JG_ROBOTS_GROUP_AGENT : JG_ROBOTS_GROUP_STAR;
	r->crawl_delay = l->crawl_delay;
	if (l->n == 0)
		return 0;
	size_t total = 0;
	for (size_t i = 0; i < l->n; i++)
		total += l->v[i].len;
	if (!(r->text = malloc(total ? total : 1)))
		return -1;
	for (size_t i = 0; i < l->n; i++) {
		memcpy(r->text + r->text_len, ps->text + l->v[i].off, l->v[i].len);
		l->v[i].off = (uint32_t)r->text_len;
		r->text_len += l->v[i].len;
	}
	qsort(l->v, l->n, sizeof *l->v, by_priority);
	r->rules = l->v;
	r->n_rules = l->n;
	l->v = NULL;
	return 0;
}

/* Where the next line starts after the one ending at `p` (LF, CR, CRLF). */
static const char *next_line(const char *p, const char *end)
{
	if (p < end && *p == '\r')
		p++;
	else
		return p < end ? p + 1 : p;
	return p < end && *p == '\n' ? p + 1 : p;
}

static const char *line_end(const char *p, const char *end)
{
	while (p < end && *p != '\n' && *p != '\r')
		p++;
	return p;
}

size_t jg_robots_readable(const char *text, size_t len)
{
	if (len <= JG_ROBOTS_MAX_BYTES)
		return len;
	/* Up to the last line end within the limit: no line cut short. */
	size_t n = JG_ROBOTS_MAX_BYTES;
	while (n > 0 && text[n - 1] != '\n' && text[n - 1] != '\r')
		n--;
	return n;
}

int jg_robots_parse(struct jg_robots *r, const char *text, size_t len, const char *agent)
{
	jg_robots_init(r);
	struct parser ps = {.agent = agent, .agent_len = strlen(agent)};
	const char *p = text, *end = text + jg_robots_readable(text, len);
	if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end && !ps.failed) {
		const char *e = line_end(p, end);
		const char *hash = memchr(p, '#', (size_t)(e - p));
		parse_line(&ps, p, (size_t)((hash ? hash : e) - p));
		p = next_line(e, end);
	}
	int rc = ps.failed ? -1 : finish(&ps, r);
	free(ps.text);
	free(ps.mine.v);
	free(ps.star.v);
	if (rc < 0)
		jg_robots_fini(r);
	return rc;
}
