/*
 * The tokenizer: UTF-8 text to counted words (tokenize.h has the rules).
 *
 * Where the time goes. Book text is nearly all ASCII and its words are
 * short (KJV: 5.3 bytes with the space), so the cost is per word, not per
 * byte: finding where words begin and end, folding and hashing them,
 * finding them in the table. perf on the old tokenizer (8 bytes at a
 * time, words hashed as they grew) put two thirds of the white-space
 * mode's time in the table, and most of that in its key compare: a byte
 * loop whose trip count is the word's tail length, which the branch
 * predictor cannot guess. So the design is about instructions and
 * branches per word more than about bytes:
 *
 * - A block reader (tokenize_blocks.h) classifies 64 bytes at once into
 *   bit masks (white space; or letter/digit, apostrophe, byte >= 0x80),
 *   with SSE2 (every x86-64 CPU), AVX2 (when the CPU says so at run time)
 *   or portable 64-bit arithmetic (SWAR, tokenize_scalar.c) elsewhere.
 * - Word starts are mask & ~(mask << 1) and ends ~mask & (mask << 1),
 *   paired in order and walked with count-trailing-zeros; the next
 *   block's masks are at hand, so a word crossing into it is no special
 *   case (no branch but the loop's).
 * - A word of up to 16 bytes is loaded as 16 bytes, A-Z lower-cased and
 *   cut to its length with vector masks, hashed from its two 64-bit
 *   halves with one 64x64->128-bit multiply, and compared with its home
 *   slot's entry as length + first 8 bytes (+ second 8 bytes when longer),
 *   all in registers (wordcount.h): no copy, no byte loop, no call.
 * - A word not found in its home slot waits until its block is done
 *   (a call in the per-word loop made GCC rebuild vector constants for
 *   every word), and is then moved into its home slot if the word there is
 *   rarer: frequent words end up found with one probe.
 * Prefetching slots ahead (by 8 words, or a block's worth) was measured
 * and lost every time: the out-of-order core already overlaps the misses.
 *
 * Whatever is not that simple goes to the bytewise machines below, which
 * are the rules themselves: a word longer than 16 bytes, the last 128
 * bytes of the text, and in words mode every byte >= 0x80 (with utf8proc,
 * as before) together with the ASCII word it touches and an apostrophe
 * beside it (which a non-ASCII letter may keep inside a word). A block
 * reader hands over at a point where no word is open and takes back where
 * the machine next stops with none open (tokenize_paths.h), so the two
 * never disagree about a word. In words mode an ASCII apostrophe is inside
 * a word exactly when an ASCII letter or digit is on each side: that is a
 * mask too. The unit tests and the differential fuzzer run every path
 * against the bytewise one; JUGGLE_TOKENIZE_PATH picks one for a test.
 *
 * Hand-written: simdutf and the like validate and transcode UTF-8 but do
 * not split words; no library applies these rules (Unicode letters and
 * marks, apostrophes, NFC) or feeds a table with words still in registers.
 */
#include "tokenize.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenize_paths.h"

static enum jg_tokenize_path best_path(void)
{
#ifdef JG_TOKENIZE_X86
	return jg_tok_cpu_has_avx2() ? JG_TOKENIZE_AVX2 : JG_TOKENIZE_SSE2;
#else
	return JG_TOKENIZE_SCALAR;
#endif
}

static const char *const path_names[] = {"bytewise", "scalar", "sse2", "avx2"};

const char *jg_tokenize_path_name(enum jg_tokenize_path path)
{
	return (unsigned)path < 4 ? path_names[path] : "unknown";
}

int jg_tokenizer_set_path(struct jg_tokenizer *t, enum jg_tokenize_path path)
{
	switch (path) {
	case JG_TOKENIZE_BYTEWISE:
	case JG_TOKENIZE_SCALAR:
		break;
#ifdef JG_TOKENIZE_X86
	case JG_TOKENIZE_SSE2:
		break;
	case JG_TOKENIZE_AVX2:
		if (!jg_tok_cpu_has_avx2())
			return -1;
		break;
#endif
	default:
		return -1;
	}
	t->path = path;
	return 0;
}

void jg_tokenizer_init(struct jg_tokenizer *t)
{
	memset(t, 0, sizeof *t);
	t->path = best_path();
	/* A test's choice, when this CPU has it (else the best one). */
	const char *want = getenv("JUGGLE_TOKENIZE_PATH");
	for (int i = 0; want && i < 4; i++)
		if (strcmp(want, path_names[i]) == 0)
			(void)jg_tokenizer_set_path(t, (enum jg_tokenize_path)i);
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

static int count_word(struct jg_wordcount *wc, const char *word, size_t n)
{
	return jg_wc_add(wc, word, n, jg_wc_hash(word, n), 1);
}

/* The countwords rule: ASCII white space splits, A-Z is lower-cased. */
const unsigned char *jg_tok_bytes_ws(struct jg_tokenizer *t, const unsigned char *p,
                                     const unsigned char *end, const unsigned char *target,
                                     struct jg_wordcount *wc)
{
	size_t n = 0;
	for (; p < end; p++) {
		unsigned char c = *p;
		if (ascii_space[c]) {
			if (n && count_word(wc, t->word, n) < 0)
				return NULL;
			n = 0;
			continue;
		}
		if (!n && p >= target)
			return p;
		if (n + 1 > t->cap && reserve(t, n + 1) < 0)
			return NULL;
		t->word[n++] = (char)((unsigned)(c - 'A') < 26u ? c + 32 : c);
	}
	if (n && count_word(wc, t->word, n) < 0)
		return NULL;
	return end;
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

/* The word being built (folded, in t->word). */
struct building {
	size_t n;
	int apostrophe;  /* one was seen after the last word character */
	int nfc;         /* it holds a code point that NFC may change */
};

static int append(struct jg_tokenizer *t, struct building *b, const unsigned char *bytes, size_t k)
{
	if (b->n + k + 1 > t->cap && reserve(t, b->n + k + 1) < 0)
		return -1;
	if (b->apostrophe) {
		t->word[b->n++] = '\'';
		b->apostrophe = 0;
	}
	for (size_t i = 0; i < k; i++) /* 1-4 bytes mostly: no memcpy call */
		t->word[b->n++] = (char)bytes[i];
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

/* Out of line: rare (a word with marks or a decomposable letter). */
__attribute__((noinline)) static int add_normalized(struct jg_tokenizer *t, struct building *b,
                                                    struct jg_wordcount *wc)
{
	if (normalize_word(t, b) < 0)
		return -1;
	return count_word(wc, t->word, b->n);
}

static int end_word(struct jg_tokenizer *t, struct building *b, struct jg_wordcount *wc)
{
	int rc = 0;
	if (b->n)
		rc = b->nfc ? add_normalized(t, b, wc) : count_word(wc, t->word, b->n);
	b->n = 0;
	b->apostrophe = 0;
	b->nfc = 0;
	return rc;
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

/*
 * Words mode. A word starts at a letter or digit; an apostrophe seen
 * after one is held, and written only if another letter or digit
 * follows; a mark joins the word it follows unless an apostrophe is held.
 */
const unsigned char *jg_tok_bytes_words(struct jg_tokenizer *t, const unsigned char *p,
                                        const unsigned char *end, const unsigned char *target,
                                        struct jg_wordcount *wc)
{
	struct building b = {0, 0, 0};
	while (p < end) {
		unsigned char c = *p;
		if (c < 0x80) {
			if (!b.n && p >= target)
				return p;
			unsigned char w = ascii_word(c);
			p++;
			if (w) {
				if (append(t, &b, &w, 1) < 0)
					return NULL;
			} else if (c == '\'' && b.n) {
				if (b.apostrophe && end_word(t, &b, wc) < 0) /* two in a row */
					return NULL;
				b.apostrophe = b.n > 0;
			} else if (b.n && end_word(t, &b, wc) < 0) {
				return NULL;
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
				return NULL;
			b.nfc |= nfc;
		} else if (kind == APOSTROPHE && b.n && !b.apostrophe) {
			b.apostrophe = 1;
		} else if (b.n && end_word(t, &b, wc) < 0) {
			return NULL;
		}
	}
	return end_word(t, &b, wc) < 0 ? NULL : end;
}

/* One path's two readers. */
struct path {
	int (*ws)(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
	          struct jg_wordcount *wc);
	int (*words)(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
	             struct jg_wordcount *wc);
};

static int bytewise_ws(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
                       struct jg_wordcount *wc)
{
	return jg_tok_bytes_ws(t, p, end, end, wc) ? 0 : -1;
}

static int bytewise_words(struct jg_tokenizer *t, const unsigned char *p, const unsigned char *end,
                          struct jg_wordcount *wc)
{
	return jg_tok_bytes_words(t, p, end, end, wc) ? 0 : -1;
}

static const struct path paths[] = {
	[JG_TOKENIZE_BYTEWISE] = {bytewise_ws, bytewise_words},
	[JG_TOKENIZE_SCALAR] = {jg_tok_blocks_ws_scalar, jg_tok_blocks_words_scalar},
#ifdef JG_TOKENIZE_X86
	[JG_TOKENIZE_SSE2] = {jg_tok_blocks_ws_sse2, jg_tok_blocks_words_sse2},
	[JG_TOKENIZE_AVX2] = {jg_tok_blocks_ws_avx2, jg_tok_blocks_words_avx2},
#endif
};

int jg_tokenize(struct jg_tokenizer *t, const char *text, size_t len, enum jg_split mode,
                struct jg_wordcount *wc)
{
	const unsigned char *p = (const unsigned char *)text;
	const struct path *path = &paths[t->path];
	if (mode == JG_SPLIT_WHITESPACE)
		return path->ws(t, p, p + len, wc);
	return path->words(t, p, p + len, wc);
}
