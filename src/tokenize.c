#include "tokenize.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

void jg_tokenizer_init(struct jg_tokenizer *t)
{
	t->word = NULL;
	t->cap = 0;
}

void jg_tokenizer_fini(struct jg_tokenizer *t)
{
	free(t->word);
	jg_tokenizer_init(t);
}

static int reserve(struct jg_tokenizer *t, size_t need)
{
	if (need <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : 256;
	while (cap < need)
		cap *= 2;
	char *w = realloc(t->word, cap);
	if (!w)
		return -1;
	t->word = w;
	t->cap = cap;
	return 0;
}

static const unsigned char ascii_space[256] = {
	[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, ['\v'] = 1, ['\f'] = 1,
};

static int split_whitespace(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
                            struct jg_wordcount *wc)
{
	if (reserve(t, 4096) < 0)
		return -1;
	while (p < end) {
		while (p < end && ascii_space[*p])
			p++;
		if (p == end)
			break;
		uint32_t h = JG_WC_SEED;
		size_t n = 0;
		while (p < end && !ascii_space[*p]) {
			unsigned char c = *p++;
			c = (unsigned char)((unsigned)(c - 'A') < 26u ? c + 32 : c);
			if (n == t->cap && reserve(t, n + 1) < 0)
				return -1;
			t->word[n++] = (char)c;
			h = JG_WC_STEP(h, c);
		}
		if (jg_wc_add(wc, t->word, n, h, 1) < 0)
			return -1;
	}
	return 0;
}

/* An ASCII letter or digit, folded; 0 for everything else. */
static inline unsigned char ascii_word(unsigned char c)
{
	if ((unsigned)((c | 32) - 'a') < 26u)
		return (unsigned char)(c | 32);
	return (unsigned)(c - '0') < 10u ? c : 0;
}

static int is_word_category(utf8proc_category_t c)
{
	return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
	       (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

/* The state of the word being built. */
struct building {
	size_t n;
	int apostrophe;  /* one was seen after the last word character */
};

static int append(struct jg_tokenizer *t, struct building *b, const unsigned char *bytes, size_t k)
{
	if (b->n + k + 1 > t->cap && reserve(t, b->n + k + 1) < 0)
		return -1;
	if (b->apostrophe) {
		t->word[b->n++] = '\'';
		b->apostrophe = 0;
	}
	for (size_t i = 0; i < k; i++)
		t->word[b->n++] = (char)bytes[i];
	return 0;
}

static int end_word(struct jg_tokenizer *t, struct building *b, struct jg_wordcount *wc)
{
	int rc = b->n ? jg_wc_add(wc, t->word, b->n, jg_wc_hash(t->word, b->n), 1) : 0;
	b->n = 0;
	b->apostrophe = 0;
	return rc;
}

/* A non-ASCII code point: a word character (folded into `out`), an
 * apostrophe, or a separator. Returns the bytes consumed. */
enum kind { SEPARATOR, WORD, APOSTROPHE };

static size_t classify(const unsigned char *p, const unsigned char *end, enum kind *kind,
                       unsigned char *out, size_t *out_len)
{
	utf8proc_int32_t cp;
	utf8proc_ssize_t r = utf8proc_iterate(p, end - p, &cp);
	if (r < 0) {
		*kind = SEPARATOR;
		return 1;
	}
	if (cp == 0x2019) {
		*kind = APOSTROPHE;
		return (size_t)r;
	}
	if (!is_word_category(utf8proc_category(cp))) {
		*kind = SEPARATOR;
		return (size_t)r;
	}
	utf8proc_int32_t folded[8];
	int last = 0;
	utf8proc_ssize_t m = utf8proc_decompose_char(cp, folded, 8, UTF8PROC_CASEFOLD, &last);
	if (m < 0 || m > 8) {
		folded[0] = cp;
		m = 1;
	}
	size_t n = 0;
	for (utf8proc_ssize_t i = 0; i < m; i++)
		n += (size_t)utf8proc_encode_char(folded[i], out + n);
	*out_len = n;
	*kind = WORD;
	return (size_t)r;
}

static int split_words(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
                       struct jg_wordcount *wc)
{
	struct building b = {0, 0};
	while (p < end) {
		unsigned char c = *p;
		if (c < 0x80) {
			unsigned char w = ascii_word(c);
			p++;
			if (w) {
				if (append(t, &b, &w, 1) < 0)
					return -1;
			} else if (c == '\'' && b.n) {
				if (b.apostrophe && end_word(t, &b, wc) < 0) /* two in a row */
					return -1;
				b.apostrophe = b.n > 0;
			} else if (b.n && end_word(t, &b, wc) < 0) {
				return -1;
			}
			continue;
		}
		enum kind kind;
		unsigned char folded[32];
		size_t flen = 0;
		p += classify(p, end, &kind, folded, &flen);
		if (kind == WORD) {
			if (append(t, &b, folded, flen) < 0)
				return -1;
		} else if (kind == APOSTROPHE && b.n && !b.apostrophe) {
			b.apostrophe = 1;
		} else if (b.n && end_word(t, &b, wc) < 0) {
			return -1;
		}
	}
	return end_word(t, &b, wc);
}

int jg_tokenize(struct jg_tokenizer *t, const char *text, size_t len, enum jg_split mode,
                struct jg_wordcount *wc)
{
	const unsigned char *p = (const unsigned char *)text;
	if (mode == JG_SPLIT_WHITESPACE)
		return split_whitespace(t, p, p + len, wc);
	return split_words(t, p, p + len, wc);
}

enum jg_charset jg_charset_of(const char *ct)
{
	const char *cs = ct ? strcasestr(ct, "charset=") : NULL;
	if (!cs)
		return JG_CHARSET_UTF8;
	cs += 8;
	if (*cs == '"')
		cs++;
	static const char *const latin[] = {"iso-8859-1", "iso8859-1", "latin1", "latin-1",
	                                    "windows-1252", "cp1252", "iso-8859-15", "us-ascii"};
	for (size_t i = 0; i < sizeof latin / sizeof *latin; i++)
		if (strncasecmp(cs, latin[i], strlen(latin[i])) == 0)
			return JG_CHARSET_CP1252;
	return JG_CHARSET_UTF8;
}

/* Windows-1252 is a superset of Latin-1's printable range; iconv does the
 * work, and the five bytes it leaves undefined become spaces. */
static int convert_cp1252(const char *in, size_t len, char **owned, size_t *out_len)
{
	iconv_t cd = iconv_open("UTF-8", "WINDOWS-1252");
	if (cd == (iconv_t)-1)
		return -1;
	size_t cap = len * 3 + 1;
	char *out = malloc(cap);
	if (!out) {
		iconv_close(cd);
		return -1;
	}
	char *src = (char *)in, *dst = out;
	size_t left = len, room = cap;
	while (left > 0) {
		if (iconv(cd, &src, &left, &dst, &room) != (size_t)-1)
			break;
		if (errno != EILSEQ && errno != EINVAL)
			break;
		src++;
		left--;
		*dst++ = ' ';
		room--;
	}
	iconv_close(cd);
	*owned = out;
	*out_len = (size_t)(dst - out);
	return 0;
}

int jg_text_utf8(const char *in, size_t len, enum jg_charset cs, const char **out,
                 size_t *out_len, char **owned)
{
	*owned = NULL;
	if (cs == JG_CHARSET_CP1252) {
		if (convert_cp1252(in, len, owned, out_len) < 0)
			return -1;
		*out = *owned;
		return 0;
	}
	if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0) {
		in += 3;
		len -= 3;
	}
	*out = in;
	*out_len = len;
	return 0;
}

/* The offset of the first line of text[from..len) that starts with `marker`. */
static const char *find_marker_line(const char *text, size_t from, size_t len, const char *marker)
{
	size_t ml = strlen(marker);
	const char *p = text + from, *end = text + len;
	while ((p = memmem(p, (size_t)(end - p), marker, ml)) != NULL) {
		if (p == text || p[-1] == '\n')
			return p;
		p++;
	}
	return NULL;
}

void jg_text_strip_boilerplate(const char *text, size_t len, size_t *start, size_t *end)
{
	const char *s = find_marker_line(text, *start, *end, "*** START OF");
	if (!s)
		return;
	const char *nl = memchr(s, '\n', (size_t)(text + *end - s));
	size_t body = nl ? (size_t)(nl + 1 - text) : *end;
	const char *e = find_marker_line(text, body, *end, "*** END OF");
	*start = body;
	if (e)
		*end = (size_t)(e - text);
}
