#include "charset.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The UTF-8 checks are our own: utf8proc validates one code point per
 * call, which would make the validity pass over a whole book cost as much
 * as tokenizing it; this one takes ASCII 8 bytes at a time and is a small
 * fraction of the tokenizer's time.
 */

static const unsigned char replacement[3] = {0xEF, 0xBF, 0xBD}; /* U+FFFD */

/*
 * The sequence at `p`: its length when well formed (*ok = 1), else the
 * length of its maximal invalid subpart (*ok = 0), at least 1. The bounds
 * are those of the Unicode standard's table of well-formed sequences.
 */
static size_t utf8_next(const unsigned char *p, size_t left, int *ok)
{
	unsigned char c = p[0];
	size_t need;
	unsigned char lo = 0x80, hi = 0xBF;
	*ok = 0;
	if (c < 0x80) {
		*ok = 1;
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		need = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 1;
	}
	for (size_t i = 1; i < need; i++) {
		if (i >= left || p[i] < lo || p[i] > hi)
			return i;
		lo = 0x80;
		hi = 0xBF;
	}
	*ok = 1;
	return need;
}

#define HIGHS 0x8080808080808080ULL

int jg_utf8_valid(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + len;
	while (p < end) {
		if (end - p >= 8) {
			uint64_t x;
			memcpy(&x, p, 8);
			if (!(x & HIGHS)) {
				p += 8;
				continue;
			}
		}
		int ok;
		size_t n = utf8_next(p, (size_t)(end - p), &ok);
		if (!ok)
			return 0;
		p += n;
	}
	return 1;
}

/*
 * The converters below put the copy they make in t->owned as soon as it
 * exists, and keep it there as it grows: a reader of a mapped book that
 * is cut short under it leaves a converter by a jump (the worker's
 * SIGBUS), and jg_text_fini() then frees what was made so far.
 */

/* A copy of `in` with each maximal invalid subpart replaced by U+FFFD. */
static int utf8_repair(struct jg_text *t, const char *in, size_t len)
{
	if (len > (SIZE_MAX - 1) / 3)
		return -1;
	unsigned char *out = malloc(len * 3 + 1), *o = out;
	if (!out)
		return -1;
	t->owned = (char *)out;
	const unsigned char *p = (const unsigned char *)in, *end = p + len;
	while (p < end) {
		int ok;
		size_t n = utf8_next(p, (size_t)(end - p), &ok);
		if (ok) {
			memcpy(o, p, n);
			o += n;
		} else {
			memcpy(o, replacement, 3);
			o += 3;
		}
		p += n;
	}
	t->len = (size_t)(o - out);
	return 0;
}

/* Windows-1252's 0x80..0x9F as WHATWG maps them (holes: the C1 controls). */
static const uint16_t cp1252_high[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* A table, not iconv: glibc's WINDOWS-1252 rejects the five holes. */
static int from_cp1252(struct jg_text *t, const char *in, size_t len)
{
	if (len > (SIZE_MAX - 1) / 3)
		return -1;
	unsigned char *out = malloc(len * 3 + 1), *o = out;
	if (!out)
		return -1;
	t->owned = (char *)out;
	for (size_t i = 0; i < len; i++) {
		unsigned c = (unsigned char)in[i];
		if (c < 0x80) {
			*o++ = (unsigned char)c;
			continue;
		}
		unsigned cp = c < 0xA0 ? cp1252_high[c - 0x80] : c;
		if (cp < 0x800) {
			*o++ = (unsigned char)(0xC0 | cp >> 6);
			*o++ = (unsigned char)(0x80 | (cp & 0x3F));
		} else {
			*o++ = (unsigned char)(0xE0 | cp >> 12);
			*o++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
			*o++ = (unsigned char)(0x80 | (cp & 0x3F));
		}
	}
	t->len = (size_t)(o - out);
	return 0;
}

/* At least `need` bytes free past `used`. 0, or -1 on ENOMEM. */
static int room_for(char **out, size_t *cap, size_t used, size_t need)
{
	if (*cap - used >= need)
		return 0;
	if (*cap > SIZE_MAX / 2)
		return -1;
	char *grown = realloc(*out, *cap * 2);
	if (!grown)
		return -1;
	*out = grown;
	*cap *= 2;
	return 0;
}

/*
 * Through iconv; what it cannot convert becomes U+FFFD. -1 on ENOMEM.
 * Each call gets all but RESERVE bytes of the room left, so that a
 * U+FFFD always fits after a call that stopped.
 */
static int from_iconv(struct jg_text *t, iconv_t cd, const char *in, size_t len)
{
	enum { RESERVE = 4, MIN_ROOM = 64 };
	size_t cap = len * 2 + MIN_ROOM, used = 0;
	char **kept = &t->owned, *out = *kept = malloc(cap);
	char *src = (char *)in;
	size_t left = len;
	while (out && left) {
		if (room_for(&out, &cap, used, MIN_ROOM) < 0)
			goto nomem;
		*kept = out;
		char *dst = out + used;
		size_t room = cap - used - RESERVE;
		size_t rc = iconv(cd, &src, &left, &dst, &room);
		int err = errno;
		used = (size_t)(dst - out);
		if (rc != (size_t)-1)
			continue; /* all of it converted */
		if (err == E2BIG) {
			if (room_for(&out, &cap, used, cap - used + 1) < 0)
				goto nomem; /* twice the room, next turn */
			*kept = out;
			continue;
		}
		/* EILSEQ, or EINVAL (cut short at the end): one U+FFFD. */
		memcpy(out + used, replacement, 3);
		used += 3;
		if (err != EILSEQ)
			break;
		src++;
		left--;
	}
	if (!out || room_for(&out, &cap, used, MIN_ROOM) < 0)
		goto nomem;
	*kept = out;
	char *dst = out + used;
	size_t room = cap - used - RESERVE;
	iconv(cd, NULL, NULL, &dst, &room); /* a stateful charset's last shift */
	t->len = (size_t)(dst - out);
	return 0;
nomem:
	free(out);
	*kept = NULL;
	return -1;
}

enum kind { KIND_UNKNOWN, KIND_UTF8, KIND_CP1252, KIND_ICONV };

/* Labels of Windows-1252 and its subsets, lower case. */
static const char *const latin_labels[] = {
	"iso-8859-1", "iso8859-1", "iso_8859-1", "iso_8859-1:1987", "latin1", "latin-1", "l1",
	"iso latin-1", "iso-latin-1", "windows-1252", "cp1252", "x-cp1252", "us-ascii", "ascii",
	"iso-646-us", "iso646-us", "ansi_x3.4-1968", "cp819", "ibm819",
};

/*
 * What a charset label names, with its name as reported in `canon`. The
 * label is trimmed, and a trailing "(...)" comment dropped (Gutenberg
 * writes "ISO-646-US (US-ASCII)"). Only names made of letters, digits and
 * "-_.:" reach iconv: a header's bytes are not a path to probe it with.
 */
static enum kind resolve(const char *label, char canon[JG_CHARSET_NAME_MAX + 1])
{
	char name[JG_CHARSET_NAME_MAX + 1];
	size_t n = 0;
	while (*label == ' ' || *label == '\t' || *label == '"' || *label == '\'')
		label++;
	for (; *label && *label != '(' && *label != '"' && *label != '\'' && n < sizeof name - 1;
	     label++)
		name[n++] = (char)tolower((unsigned char)*label);
	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
		n--;
	name[n] = '\0';
	canon[0] = '\0';
	if (n == 0)
		return KIND_UNKNOWN;
	for (size_t i = 0; i < sizeof latin_labels / sizeof *latin_labels; i++)
		if (strcmp(name, latin_labels[i]) == 0) {
			strcpy(canon, "windows-1252");
			return KIND_CP1252;
		}
	if (strcmp(name, "utf-8") == 0 || strcmp(name, "utf8") == 0) {
		strcpy(canon, "utf-8");
		return KIND_UTF8;
	}
	if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.:") != n)
		return KIND_UNKNOWN;
	iconv_t cd = iconv_open("UTF-8", name);
	if (cd == (iconv_t)-1)
		return KIND_UNKNOWN;
	iconv_close(cd);
	memcpy(canon, name, n + 1);
	return KIND_ICONV;
}

/*
 * The value of a "Character set encoding:" line that starts a line in the
 * first JG_CHARSET_SNIFF bytes, into `out`; 0 when there is none.
 */
static int book_label(const char *body, size_t len, char out[JG_CHARSET_NAME_MAX + 1])
{
	static const char key[] = "character set encoding:";
	size_t kl = sizeof key - 1;
	size_t lim = len < JG_CHARSET_SNIFF ? len : JG_CHARSET_SNIFF;
	for (size_t at = 0; at + kl <= lim;) {
		if (strncasecmp(body + at, key, kl) == 0) {
			size_t v = at + kl, e;
			while (v < lim && (body[v] == ' ' || body[v] == '\t'))
				v++;
			for (e = v; e < lim && body[e] != '\r' && body[e] != '\n'; e++)
				;
			while (e > v && (body[e - 1] == ' ' || body[e - 1] == '\t'))
				e--;
			size_t n = e - v < JG_CHARSET_NAME_MAX ? e - v : JG_CHARSET_NAME_MAX;
			memcpy(out, body + v, n);
			out[n] = '\0';
			return 1;
		}
		const char *nl = memchr(body + at, '\n', lim - at);
		if (!nl)
			break;
		at = (size_t)(nl - body) + 1;
	}
	return 0;
}

/* Printable ASCII only in a note: the label came from outside. */
static void quote_label(const char *label, char *out, size_t out_len)
{
	size_t n = 0;
	for (; *label && n + 5 < out_len; label++) {
		unsigned char c = (unsigned char)*label;
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out[n++] = (char)c;
		} else {
			snprintf(out + n, out_len - n, "\\x%02x", c);
			n += 4;
		}
	}
	out[n] = '\0';
}

static void note_unknown(struct jg_text *t, const char *who, const char *label)
{
	char q[4 * JG_CHARSET_NAME_MAX + 1];
	if (t->note[0])
		return;
	quote_label(label, q, sizeof q);
	/* The label at most 120 bytes of its quoted form: the note has room
	 * for it and for what is added after ("; read as ..."). */
	snprintf(t->note, sizeof t->note, "the charset '%.120s' named by the %.8s is unknown", q, who);
}

/* Step 3: the body's bytes decide. */
static enum kind detect(const char *body, size_t len, char canon[JG_CHARSET_NAME_MAX + 1])
{
	if (len >= 2 && (unsigned char)body[0] == 0xFF && (unsigned char)body[1] == 0xFE) {
		strcpy(canon, "utf-16le");
		return KIND_ICONV;
	}
	if (len >= 2 && (unsigned char)body[0] == 0xFE && (unsigned char)body[1] == 0xFF) {
		strcpy(canon, "utf-16be");
		return KIND_ICONV;
	}
	size_t skip = len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	if (jg_utf8_valid(body + skip, len - skip)) {
		strcpy(canon, "utf-8");
		return KIND_UTF8;
	}
	strcpy(canon, "windows-1252");
	return KIND_CP1252;
}

static int convert(struct jg_text *t, enum kind kind, const char *body, size_t len)
{
	if (kind == KIND_CP1252) {
		int rc = from_cp1252(t, body, len);
		t->text = t->owned;
		return rc;
	}
	if (kind == KIND_ICONV) {
		iconv_t cd = iconv_open("UTF-8", t->charset);
		if (cd == (iconv_t)-1)
			return -1;
		t->converter = cd; /* closed by jg_text_fini() if left by a jump */
		/* Detected by its byte order mark, which is not text. */
		size_t skip = t->from == JG_CHARSET_FROM_DETECTED ? 2 : 0;
		int rc = from_iconv(t, cd, body + skip, len - skip);
		t->converter = NULL;
		iconv_close(cd);
		t->text = t->owned;
		return rc;
	}
	if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
		body += 3;
		len -= 3;
	}
	if (t->from == JG_CHARSET_FROM_DETECTED || jg_utf8_valid(body, len)) {
		t->text = body;
		t->len = len;
		return 0;
	}
	int rc = utf8_repair(t, body, len);
	t->text = t->owned;
	return rc;
}

int jg_text_decode(const char *body, size_t len, const char *http_charset, struct jg_text *t)
{
	memset(t, 0, sizeof *t);
	enum kind kind = KIND_UNKNOWN;
	char label[JG_CHARSET_NAME_MAX + 1];
	if (http_charset && *http_charset) {
		kind = resolve(http_charset, t->charset);
		t->from = JG_CHARSET_FROM_HTTP;
		if (kind == KIND_UNKNOWN)
			note_unknown(t, "server", http_charset);
	}
	if (kind == KIND_UNKNOWN && book_label(body, len, label)) {
		kind = resolve(label, t->charset);
		t->from = JG_CHARSET_FROM_BOOK;
		if (kind == KIND_UNKNOWN)
			note_unknown(t, "book", label);
	}
	if (kind == KIND_UNKNOWN) {
		kind = detect(body, len, t->charset);
		t->from = JG_CHARSET_FROM_DETECTED;
	}
	if (t->note[0]) {
		size_t n = strlen(t->note);
		snprintf(t->note + n, sizeof t->note - n, "; read as %s (%s)", t->charset,
		         jg_charset_from_name(t->from));
	}
	return convert(t, kind, body ? body : "", body ? len : 0);
}

void jg_text_fini(struct jg_text *t)
{
	if (t->converter)
		iconv_close((iconv_t)t->converter);
	t->converter = NULL;
	free(t->owned);
	t->owned = NULL;
	t->text = NULL;
}

const char *jg_charset_from_name(enum jg_charset_from from)
{
	switch (from) {
	case JG_CHARSET_FROM_HTTP: return "http";
	case JG_CHARSET_FROM_BOOK: return "book";
	case JG_CHARSET_FROM_DETECTED: return "detected";
	}
	return "unknown";
}

void jg_content_type_charset(const char *ct, char *out)
{
	out[0] = '\0';
	for (const char *p = ct; p && (p = strchr(p, ';')) != NULL;) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "charset=", 8) != 0)
			continue;
		p += 8;
		int quoted = *p == '"';
		p += quoted;
		size_t n = strcspn(p, quoted ? "\"" : "; \t");
		if (n > JG_CHARSET_NAME_MAX)
			return;
		memcpy(out, p, n);
		out[n] = '\0';
		return;
	}
}

int jg_content_type_is_html(const char *ct)
{
	if (!ct)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return strncasecmp(ct, "text/html", 9) == 0 || strncasecmp(ct, "application/xhtml", 17) == 0;
}
