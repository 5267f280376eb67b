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

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* The bytes of `x` that are A..Z, turned to a..z. */
static inline uint64_t lower8(uint64_t x)
{
	uint64_t low7 = x & ~HIGHS;
	uint64_t ge_a = low7 + ONES * (0x80 - 'A');
	uint64_t gt_z = low7 + ONES * (0x80 - 'Z' - 1);
	uint64_t upper = ge_a & ~gt_z & ~x & HIGHS;
	return x | (upper >> 2);
}

/* Flags the bytes of `x` below 0x21; the lowest flag is exact. */
static inline uint64_t low_bytes(uint64_t x)
{
	return (x - ONES * 0x21) & ~x & HIGHS;
}

/* The word being built: its folded bytes in t->word, its hash so far. */
struct ws_word {
	size_t n;
	uint64_t h;
	uint64_t cur;    /* bytes since the last full chunk */
};

static inline void ws_byte(struct jg_tokenizer *t, struct ws_word *w, unsigned char c)
{
	c = (unsigned char)((unsigned)(c - 'A') < 26u ? c + 32 : c);
	t->word[w->n] = (char)c;
	w->cur |= (uint64_t)c << (8 * (w->n & 7));
	if ((++w->n & 7) == 0) {
		w->h = jg_wc_mix(w->h, w->cur);
		w->cur = 0;
	}
}

/*
 * The countwords rule, 8 bytes at a time: a chunk without a byte below
 * 0x21 is all word (folded and hashed at once); otherwise the first such
 * byte ends the word, unless it is a control character that is not white
 * space, which is rare enough to go byte by byte.
 */
static int split_whitespace(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
                            struct jg_wordcount *wc)
{
	while (p < end) {
		while (p < end && ascii_space[*p])
			p++;
		if (p == end)
			break;
		struct ws_word w = {0, JG_WC_SEED, 0};
		for (;;) {
			if (w.n + 16 > t->cap && reserve(t, w.n + 16) < 0)
				return -1;
			if ((w.n & 7) == 0 && end - p >= 8) {
				uint64_t x;
				memcpy(&x, p, 8);
				uint64_t stop = low_bytes(x);
				uint64_t lx = lower8(x);
				if (!stop) {
					memcpy(t->word + w.n, &lx, 8);
					w.h = jg_wc_mix(w.h, lx);
					w.n += 8;
					p += 8;
					continue;
				}
				unsigned k = (unsigned)__builtin_ctzll(stop) / 8;
				if (ascii_space[p[k]]) {
					memcpy(t->word + w.n, &lx, 8);
					w.cur = k ? lx & (~0ULL >> (64 - 8 * k)) : 0;
					w.n += k;
					p += k;
					break;
				}
			}
			/* Byte by byte: the input's last bytes, or a control byte. */
			if (p == end || ascii_space[*p])
				break;
			ws_byte(t, &w, *p++);
		}
		if (jg_wc_add(wc, t->word, w.n, jg_wc_finish(w.h, w.cur, w.n), 1) < 0)
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

/* The state of the word being built, hashed as it grows (see wordcount.h). */
struct building {
	size_t n;
	uint64_t h;
	uint64_t cur;    /* bytes since the last full 8-byte chunk */
	int apostrophe;  /* one was seen after the last word character */
};

static inline void emit(struct jg_tokenizer *t, struct building *b, unsigned char c)
{
	t->word[b->n] = (char)c;
	b->cur |= (uint64_t)c << (8 * (b->n & 7));
	if ((++b->n & 7) == 0) {
		b->h = jg_wc_mix(b->h, b->cur);
		b->cur = 0;
	}
}

static int append(struct jg_tokenizer *t, struct building *b, const unsigned char *bytes, size_t k)
{
	if (b->n + k + 16 > t->cap && reserve(t, b->n + k + 16) < 0)
		return -1;
	if (b->apostrophe) {
		emit(t, b, '\'');
		b->apostrophe = 0;
	}
	for (size_t i = 0; i < k; i++)
		emit(t, b, bytes[i]);
	return 0;
}

static int end_word(struct jg_tokenizer *t, struct building *b, struct jg_wordcount *wc)
{
	int rc = b->n ? jg_wc_add(wc, t->word, b->n, jg_wc_finish(b->h, b->cur, b->n), 1) : 0;
	b->n = 0;
	b->h = JG_WC_SEED;
	b->cur = 0;
	b->apostrophe = 0;
	return rc;
}

/* Flags the ASCII letters and digits of `x`. */
static inline uint64_t alnum8(uint64_t x)
{
	uint64_t low7 = x & ~HIGHS;
	uint64_t folded = low7 | ONES * 0x20;
	uint64_t digit = (low7 + ONES * (0x80 - '0')) & ~(low7 + ONES * (0x80 - '9' - 1));
	uint64_t alpha = (folded + ONES * (0x80 - 'a')) & ~(folded + ONES * (0x80 - 'z' - 1));
	return (digit | alpha) & ~x & HIGHS;
}

/*
 * At a chunk boundary of the word, takes up to 8 ASCII letters and digits
 * at once; returns how many bytes it took (0: take the slow path).
 */
static inline size_t take_chunk(struct jg_tokenizer *t, struct building *b, const unsigned char *p,
                                const unsigned char *end)
{
	if ((b->n & 7) || b->apostrophe || end - p < 8 || b->n + 16 > t->cap)
		return 0;
	uint64_t x;
	memcpy(&x, p, 8);
	uint64_t stop = ~alnum8(x) & HIGHS;
	uint64_t lx = lower8(x);
	if (!stop) {
		memcpy(t->word + b->n, &lx, 8);
		b->h = jg_wc_mix(b->h, lx);
		b->n += 8;
		return 8;
	}
	unsigned k = (unsigned)__builtin_ctzll(stop) / 8;
	if (k == 0)
		return 0;
	memcpy(t->word + b->n, &lx, 8);
	b->cur = lx & (~0ULL >> (64 - 8 * k));
	b->n += k;
	return k;
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
	struct building b = {0, JG_WC_SEED, 0, 0};
	while (p < end) {
		size_t took = take_chunk(t, &b, p, end);
		if (took) {
			p += took;
			continue;
		}
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
