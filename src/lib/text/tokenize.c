#include "tokenize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

void jg_tokenizer_init(struct jg_tokenizer *t)
{
	memset(t, 0, sizeof *t);
}

void jg_tokenizer_fini(struct jg_tokenizer *t)
{
	free(t->word);
	free(t->cps);
	for (size_t i = 0; i < sizeof t->nfc_pages / sizeof *t->nfc_pages; i++)
		free(t->nfc_pages[i]);
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
	int nfc;         /* it holds a code point that NFC may change */
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

static int reserve_cps(struct jg_tokenizer *t, size_t need)
{
	if (need <= t->cps_cap)
		return 0;
	size_t cap = t->cps_cap ? t->cps_cap : 64;
	while (cap < need)
		cap *= 2;
	int32_t *c = realloc(t->cps, cap * sizeof *c);
	if (!c)
		return -1;
	t->cps = c;
	t->cps_cap = cap;
	return 0;
}

/*
 * The word's NFC, in place. utf8proc_map() would allocate per word; this
 * decomposes into the tokenizer's scratch, composes there and writes the
 * result back. 0, or -1 on ENOMEM.
 */
static int normalize_word(struct jg_tokenizer *t, struct building *b)
{
	const utf8proc_option_t opts = UTF8PROC_COMPOSE | UTF8PROC_STABLE;
	utf8proc_ssize_t n = utf8proc_decompose((const utf8proc_uint8_t *)t->word, (utf8proc_ssize_t)b->n,
	                                        t->cps, (utf8proc_ssize_t)t->cps_cap, opts);
	if (n > (utf8proc_ssize_t)t->cps_cap) {
		if (reserve_cps(t, (size_t)n) < 0)
			return -1;
		n = utf8proc_decompose((const utf8proc_uint8_t *)t->word, (utf8proc_ssize_t)b->n, t->cps,
		                       (utf8proc_ssize_t)t->cps_cap, opts);
	}
	if (n < 0)
		return 0; /* not UTF-8 after all: leave the word as it is */
	n = utf8proc_normalize_utf32(t->cps, n, opts);
	if (n < 0 || reserve(t, (size_t)n * 4 + 16) < 0)
		return n < 0 ? 0 : -1;
	size_t len = 0;
	for (utf8proc_ssize_t i = 0; i < n; i++)
		len += (size_t)utf8proc_encode_char(t->cps[i], (utf8proc_uint8_t *)t->word + len);
	b->n = len;
	return 0;
}

/* Out of line: rare (a word with marks or a decomposable letter), and
 * kept out of the ASCII loop's way. */
__attribute__((noinline)) static int add_normalized(struct jg_tokenizer *t, struct building *b,
                                                    struct jg_wordcount *wc)
{
	if (normalize_word(t, b) < 0)
		return -1;
	return jg_wc_add(wc, t->word, b->n, jg_wc_hash(t->word, b->n), 1);
}

static inline int end_word(struct jg_tokenizer *t, struct building *b, struct jg_wordcount *wc)
{
	int rc = 0;
	if (b->n)
		rc = b->nfc ? add_normalized(t, b, wc)
		            : jg_wc_add(wc, t->word, b->n, jg_wc_finish(b->h, b->cur, b->n), 1);
	b->n = 0;
	b->h = JG_WC_SEED;
	b->cur = 0;
	b->apostrophe = 0;
	b->nfc = 0;
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

/*
 * Whether NFC may change a string holding `cp`, as first computed and then
 * remembered. It cannot when `cp` is a starter (combining class 0) that
 * nothing before it composes with and that NFC leaves as it is alone:
 * then a word made only of such code points is in NFC already, and most
 * accented letters (é, ß, ж) are such code points.
 */
static int compute_nfc_active(utf8proc_int32_t cp)
{
	const utf8proc_property_t *p = utf8proc_get_property(cp);
	if (p->combining_class || (p->category >= UTF8PROC_CATEGORY_MN && p->category <= UTF8PROC_CATEGORY_ME))
		return 1;
	/* Hangul vowel and final jamo compose with the syllable before them. */
	if ((cp >= 0x1161 && cp <= 0x1175) || (cp >= 0x11A8 && cp <= 0x11C2))
		return 1;
	if (p->decomp_seqindex == UINT16_MAX || p->decomp_type != 0)
		return 0; /* no canonical decomposition */
	utf8proc_int32_t d[8];
	int last = 0;
	utf8proc_ssize_t n = utf8proc_decompose_char(cp, d, 8, UTF8PROC_DECOMPOSE, &last);
	if (n <= 0 || n > 8)
		return 1;
	n = utf8proc_normalize_utf32(d, n, UTF8PROC_COMPOSE | UTF8PROC_STABLE);
	return !(n == 1 && d[0] == cp); /* a singleton or an exclusion */
}

enum { NFC_PAGE_SHIFT = 12, NFC_UNKNOWN = 0, NFC_INERT = 1, NFC_ACTIVE = 2 };

static int nfc_active(struct jg_tokenizer *t, utf8proc_int32_t cp)
{
	if (cp < 0 || cp > 0x10FFFF)
		return 1;
	uint8_t **page = &t->nfc_pages[cp >> NFC_PAGE_SHIFT];
	if (!*page && !(*page = calloc(1u << NFC_PAGE_SHIFT, 1)))
		return 1; /* out of memory: normalizing is always right */
	uint8_t *e = &(*page)[cp & ((1 << NFC_PAGE_SHIFT) - 1)];
	if (*e == NFC_UNKNOWN)
		*e = compute_nfc_active(cp) ? NFC_ACTIVE : NFC_INERT;
	return *e == NFC_ACTIVE;
}

/* A non-ASCII code point: a word character or a combining mark (folded
 * into `out`), an apostrophe, or a separator. Returns the bytes consumed. */
enum kind { SEPARATOR, WORD, MARK, APOSTROPHE };

static int is_mark_category(utf8proc_category_t c)
{
	return c >= UTF8PROC_CATEGORY_MN && c <= UTF8PROC_CATEGORY_ME;
}

static size_t classify(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
                       enum kind *kind, unsigned char *out, size_t *out_len, int *nfc)
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
	utf8proc_category_t cat = utf8proc_category(cp);
	if (is_word_category(cat))
		*kind = WORD;
	else if (is_mark_category(cat))
		*kind = MARK;
	else {
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
	for (utf8proc_ssize_t i = 0; i < m; i++) {
		n += (size_t)utf8proc_encode_char(folded[i], out + n);
		*nfc |= nfc_active(t, folded[i]);
	}
	*out_len = n;
	return (size_t)r;
}

static int split_words(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
                       struct jg_wordcount *wc)
{
	struct building b = {0, JG_WC_SEED, 0, 0, 0};
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
		int nfc = 0;
		p += classify(t, p, end, &kind, folded, &flen, &nfc);
		/* A mark belongs to the word it follows; alone, or after an
		 * apostrophe, it is no word of its own. */
		if (kind == WORD || (kind == MARK && b.n && !b.apostrophe)) {
			if (append(t, &b, folded, flen) < 0)
				return -1;
			b.nfc |= nfc;
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
