#include "say.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t jg_utf8_seq_len(const unsigned char *p)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t n;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
	else
		return 0;
	for (size_t i = 1; i < n; i++, lo = 0x80, hi = 0xBF)
		if (p[i] < lo || p[i] > hi)
			return 0; /* the terminating NUL stops it too */
	return n;
}

/* Writes the escaped form of `s` (`n` bytes) through `put`. */
static void escape(const char *s, size_t n, void (*put)(void *ctx, const char *p, size_t n),
                   void *ctx)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	char esc[8];
	while (p < end) {
		const unsigned char *run = p;
		while (p < end && *p >= 0x20 && *p < 0x7f)
			p++;
		if (p > run)
			put(ctx, (const char *)run, (size_t)(p - run));
		if (p == end)
			break;
		size_t len = *p >= 0x80 ? jg_utf8_seq_len(p) : 0;
		if (len == 2 && p[0] == 0xC2 && p[1] < 0xA0) { /* C1: U+0080..U+009F */
			snprintf(esc, sizeof esc, "\\u%04x", p[1]);
			put(ctx, esc, strlen(esc));
		} else if (len) {
			put(ctx, (const char *)p, len);
			p += len;
			continue;
		} else if (*p == '\n') {
			put(ctx, "\\n", 2);
		} else if (*p == '\t') {
			put(ctx, "\\t", 2);
		} else if (*p == '\r') {
			put(ctx, "\\r", 2);
		} else {
			snprintf(esc, sizeof esc, "\\x%02x", *p);
			put(ctx, esc, 4);
		}
		p += len ? len : 1;
	}
}

static void put_file(void *ctx, const char *p, size_t n)
{
	fwrite(p, 1, n, ctx);
}

/* Where the authority after "://" at `p` ends. */
static const char *authority_end(const char *p)
{
	return p + strcspn(p, "/?#@ \t\r\n\"'<>");
}

const char *jg_count_text(uint64_t n, char buf[32])
{
	char digits[24];
	int len = snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
	char *o = buf;
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			*o++ = ',';
		*o++ = digits[i];
	}
	*o = '\0';
	return buf;
}

const char *jg_count_of(uint64_t n, const char *one, const char *many, char buf[96])
{
	char num[32];
	snprintf(buf, 96, "%s %s", jg_count_text(n, num), n == 1 ? one : many);
	return buf;
}

char *jg_mask_secrets(const char *s)
{
	size_t len = strlen(s), grow = 0;
	/* "***" may be longer than what it hides: room for each, first. */
	for (const char *p = strstr(s, "://"); p; p = strstr(p + 3, "://"))
		grow += 3;
	char *out = malloc(len + grow + 1), *o = out;
	if (!out)
		return NULL;
	const char *p = s;
	for (const char *sep; (sep = strstr(p, "://")) != NULL;) {
		const char *user = sep + 3;
		const char *end = authority_end(user);
		const char *colon = memchr(user, ':', (size_t)(end - user));
		memcpy(o, p, (size_t)(user - p));
		o += user - p;
		p = user;
		if (*end == '@' && colon) {
			/* user:password@host: the user stays, the password goes. */
			memcpy(o, user, (size_t)(colon + 1 - user));
			o += colon + 1 - user;
			memcpy(o, "***", 3);
			o += 3;
			p = end;
		}
	}
	strcpy(o, p);
	return out;
}

void jg_say(FILE *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *text = NULL;
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	char *masked = jg_mask_secrets(text);
	free(text);
	if (!masked) {
		fputs("juggle: out of memory\n", f);
		return;
	}
	text = masked;
	size_t len = strlen(text);
	int newline = len && text[len - 1] == '\n';
	escape(text, len - newline, put_file, f);
	if (newline)
		fputc('\n', f);
	free(text);
}

struct buf {
	char *out;
	size_t used, len;
	int full;
};

/* Pieces come whole: a run of ASCII may be cut, a UTF-8 sequence is not. */
static void put_buf(void *ctx, const char *p, size_t n)
{
	struct buf *b = ctx;
	if (b->full)
		return;
	if (b->used + n >= b->len) {
		b->full = 1;
		if ((unsigned char)p[0] >= 0x80)
			return;
		n = b->len - 1 - b->used;
	}
	memcpy(b->out + b->used, p, n);
	b->used += n;
}

const char *jg_escape(const char *s, char *out, size_t len)
{
	struct buf b = {out, 0, len, 0};
	if (len == 0)
		return out;
	escape(s ? s : "", s ? strlen(s) : 0, put_buf, &b);
	out[b.used] = '\0';
	return out;
}
