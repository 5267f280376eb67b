/*
 * The block readers, written once and compiled once per instruction set:
 * a file that includes this has defined
 *
 *   BLK(name)   the name of its copy of `name` (name##_sse2)
 *   BLK_ATTR    the attributes of every function here (a target)
 *   BLK(classify_ws)(p, &space)              64 bytes at p: white space
 *   BLK(classify_words)(p, &alnum, &apos, &high)   64 bytes at p: ASCII
 *               letters and digits, ', bytes >= 0x80
 *   BLK(key16)(p, len, &lo, &hi)             16 bytes at p, A-Z folded,
 *               those from len on zeroed, as two little-endian halves
 *   BLK(tz)(x)  the trailing zeros of x, 64 for 0
 *
 * Bit i of a mask stands for byte p[i]. A reader walks the text in 64-byte
 * blocks and looks at 128 bytes (the block and the next): every word that
 * starts in the block and has at most 16 bytes ends inside that window.
 * tokenize.c has the design; tokenize_paths.h the hand-over to the rules.
 */
#ifndef BLK
#error "tokenize_blocks.h is a template: define BLK, BLK_ATTR and the classifiers first"
#endif

#include "tokenize_paths.h"

/*
 * The table as the hot loop holds it, in registers. Words found in their
 * home slot add to `found`, which goes to the table's total when the loop
 * lets go of the table (before the rules add words, and at the end). A
 * word that is not there (a collision, or new) waits in `misses` until
 * the block's words are done: a call inside the per-word loop would cost
 * every word, as calls clobber the vector registers its constants live in.
 */
struct BLK(hot) {
	struct jg_word *slots;
	size_t mask;
	uint64_t found;
};

/* At most 32 words start in a block: each has a byte before it that is
 * not in a word. */
struct BLK(misses) {
	size_t n;
	uint64_t lo[32], hi[32];
	uint32_t len[32], hash[32];
};

BLK_ATTR static inline void BLK(store8)(char *p, uint64_t x)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	memcpy(p, &x, 8);
}

/* Counts the words that were not in their home slot: further on, or new.
 * 0, or -1 on ENOMEM. */
BLK_ATTR __attribute__((noinline)) static int BLK(settle)(struct jg_wordcount *wc,
                                                           struct BLK(misses) *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct jg_word *e = jg_wc_probe16(wc->slots, wc->mask, m->lo[i], m->hi[i], m->len[i],
		                                  m->hash[i]);
		if (e->word) {
			e->count++;
			wc->total++;
			jg_wc_promote(wc, e);
			continue;
		}
		char word[16];
		BLK(store8)(word, m->lo[i]);
		BLK(store8)(word + 8, m->hi[i]);
		if (jg_wc_insert(wc, (size_t)(e - wc->slots), word, m->len[i], m->hash[i], 1) < 0) {
			m->n = 0; /* the table is incomplete now; never count one twice */
			return -1;
		}
	}
	m->n = 0;
	return 0;
}

/* For a text of `len` bytes (a short one never reaches the hot loop, nor
 * needs slots yet). 0, or -1 on ENOMEM. */
BLK_ATTR static inline int BLK(hot_init)(struct BLK(hot) *h, struct BLK(misses) *m,
                                         struct jg_wordcount *wc, size_t len)
{
	m->n = 0;
	if (len >= 128 && jg_wc_reserve(wc) < 0)
		return -1;
	h->slots = wc->slots;
	h->mask = wc->mask;
	h->found = 0;
	return 0;
}

/* After a block: the misses counted, the table (maybe grown) taken up
 * again. 0, or -1 on ENOMEM. */
BLK_ATTR static inline int BLK(hot_sync)(struct BLK(hot) *h, struct BLK(misses) *m,
                                         struct jg_wordcount *wc)
{
	if (__builtin_expect(m->n == 0, 1))
		return 0;
	int rc = BLK(settle)(wc, m);
	h->slots = wc->slots;
	h->mask = wc->mask;
	return rc;
}

/* Lets go of the table, for the rules or for good. 0, or -1 on ENOMEM. */
BLK_ATTR static inline int BLK(hot_flush)(struct BLK(hot) *h, struct BLK(misses) *m,
                                          struct jg_wordcount *wc)
{
	int rc = BLK(hot_sync)(h, m, wc);
	wc->total += h->found;
	h->found = 0;
	return rc;
}

BLK_ATTR static inline void BLK(hot_reload)(struct BLK(hot) *h, const struct jg_wordcount *wc)
{
	h->slots = wc->slots;
	h->mask = wc->mask;
}

/* Counts the word p[0..len), 1 <= len <= 16, with p[0..16) readable, or
 * leaves it in `m` for hot_sync. */
BLK_ATTR static inline void BLK(count16)(struct BLK(hot) *h, struct BLK(misses) *m,
                                         const unsigned char *p, size_t len)
{
	uint64_t lo, hi;
	BLK(key16)(p, len, &lo, &hi);
	uint32_t hash = jg_wc_hash16(lo, hi, len);
	struct jg_word *e = &h->slots[hash & h->mask];
	if (__builtin_expect(jg_wc_is16(e, lo, hi, len), 1)) {
		e->count++;
		h->found++;
		return;
	}
	size_t i = m->n++;
	m->lo[i] = lo;
	m->hi[i] = hi;
	m->len[i] = (uint32_t)len;
	m->hash[i] = hash;
}

/*
 * Where words end. A word's exclusive end is a byte outside words after
 * one inside: `ends` has those bits of the block, `ends1` of the next.
 * The block's word starts and its ends pair up in order, once the first
 * end is dropped when a counted word crosses into the block (that end is
 * its), so a word's end is the next set bit; the block's last word may
 * end in the next block, at the first bit of `ends1` (64 + 64 with none:
 * a long word).
 */
BLK_ATTR static inline unsigned BLK(next_end)(uint64_t *ends, uint64_t ends1)
{
	uint64_t e = *ends;
	*ends = e & (e - 1);
	return e ? (unsigned)__builtin_ctzll(e) : 64 + BLK(tz)(ends1);
}

/* White-space mode: a word is a run of bytes that are not white space. */
BLK_ATTR int BLK(jg_tok_blocks_ws)(struct jg_tokenizer *t, const unsigned char *p,
                                   const unsigned char *end, struct jg_wordcount *wc)
{
	struct BLK(hot) h;
	struct BLK(misses) m;
	if (BLK(hot_init)(&h, &m, wc, (size_t)(end - p)) < 0)
		return -1;
	const unsigned char *clean = p; /* all before is counted; no word open */
	uint64_t in_word = 0;           /* p[-1] is part of a counted word */
	uint64_t space0 = 0, space1 = 0;
	int have_next = 0;              /* space1 is p + 64's already */
	while (end - p >= 128) {
		if (have_next)
			space0 = space1;
		else
			BLK(classify_ws)(p, &space0);
		BLK(classify_ws)(p + 64, &space1);
		have_next = 1;
		uint64_t word0 = ~space0, word1 = ~space1;
		uint64_t starts = word0 & ~(word0 << 1 | in_word);
		uint64_t ends = space0 & (word0 << 1 | in_word);
		uint64_t ends1 = space1 & (word1 << 1 | word0 >> 63);
		ends &= ends - in_word; /* the crossing word's end */
		while (starts) {
			unsigned s = (unsigned)__builtin_ctzll(starts);
			starts &= starts - 1;
			size_t len = BLK(next_end)(&ends, ends1) - s;
			if (__builtin_expect(len > 16, 0)) {
				if (BLK(hot_flush)(&h, &m, wc) < 0)
					return -1;
				const unsigned char *r = jg_tok_bytes_ws(t, clean, end, p + s + 1, wc);
				if (!r)
					return -1;
				BLK(hot_reload)(&h, wc);
				p = clean = r;
				in_word = 0;
				have_next = 0;
				goto next;
			}
			BLK(count16)(&h, &m, p + s, len);
			clean = p + s + len;
		}
		if (BLK(hot_sync)(&h, &m, wc) < 0) {
			BLK(hot_flush)(&h, &m, wc);
			return -1;
		}
		in_word = word0 >> 63;
		p += 64;
next:;
	}
	if (BLK(hot_flush)(&h, &m, wc) < 0)
		return -1;
	return jg_tok_bytes_ws(t, clean, end, end, wc) ? 0 : -1;
}

/*
 * Words mode. Its words here are runs of ASCII letters and digits, with
 * an apostrophe that has one on each side inside. What decides anything
 * else (a byte >= 0x80, an apostrophe beside one) is marked `odd`; a word
 * is counted here only if no odd byte comes before its end or right after
 * it in the window, and the first odd byte sends the reader to the rules
 * from the last counted word's end.
 */
BLK_ATTR int BLK(jg_tok_blocks_words)(struct jg_tokenizer *t, const unsigned char *p,
                                      const unsigned char *end, struct jg_wordcount *wc)
{
	struct BLK(hot) h;
	struct BLK(misses) m;
	if (BLK(hot_init)(&h, &m, wc, (size_t)(end - p)) < 0)
		return -1;
	const unsigned char *clean = p;
	uint64_t prev_alnum = 0, prev_in = 0; /* of p[-1] */
	uint64_t al0 = 0, ap0 = 0, hi0 = 0, al1 = 0, ap1 = 0, hi1 = 0;
	int have_next = 0;
	while (end - p >= 128) {
		if (have_next) {
			al0 = al1;
			ap0 = ap1;
			hi0 = hi1;
		} else {
			BLK(classify_words)(p, &al0, &ap0, &hi0);
		}
		BLK(classify_words)(p + 64, &al1, &ap1, &hi1);
		have_next = 1;
		/* Apostrophes between two letters or digits. The window's last
		 * bits (past 64 + 16) never count: a word taken here ends by then. */
		uint64_t join0 = ap0 & (al0 << 1 | prev_alnum) & (al0 >> 1 | al1 << 63);
		uint64_t join1 = ap1 & (al1 << 1 | al0 >> 63) & (al1 >> 1);
		uint64_t in0 = al0 | join0, in1 = al1 | join1;
		/* p[-1] is never odd here: the reader stopped at any odd byte of
		 * the block before, and the rules leave none open behind them. */
		uint64_t odd0 = hi0 | (ap0 & (hi0 << 1 | hi0 >> 1 | hi1 << 63));
		uint64_t odd1 = hi1 | (ap1 & (hi1 << 1 | hi0 >> 63 | hi1 >> 1));
		unsigned first_odd = odd0 ? (unsigned)__builtin_ctzll(odd0) : 64 + BLK(tz)(odd1);
		uint64_t starts = in0 & ~(in0 << 1 | prev_in);
		uint64_t ends = ~in0 & (in0 << 1 | prev_in);
		uint64_t ends1 = ~in1 & (in1 << 1 | in0 >> 63);
		ends &= ends - prev_in;
		unsigned target = first_odd < 64 ? first_odd : 128; /* the rules' turn, if any */
		while (starts) {
			unsigned s = (unsigned)__builtin_ctzll(starts);
			starts &= starts - 1;
			unsigned e = BLK(next_end)(&ends, ends1);
			if (__builtin_expect(e - s > 16 || e >= first_odd, 0)) {
				target = s;
				break;
			}
			BLK(count16)(&h, &m, p + s, e - s);
			clean = p + e;
		}
		if (BLK(hot_sync)(&h, &m, wc) < 0) {
			BLK(hot_flush)(&h, &m, wc);
			return -1;
		}
		if (__builtin_expect(target < 128, 0)) {
			if (BLK(hot_flush)(&h, &m, wc) < 0)
				return -1;
			const unsigned char *r = jg_tok_bytes_words(t, clean, end, p + target + 1, wc);
			if (!r)
				return -1;
			BLK(hot_reload)(&h, wc);
			p = clean = r;
			prev_alnum = prev_in = 0;
			have_next = 0;
			continue;
		}
		prev_alnum = al0 >> 63;
		prev_in = in0 >> 63;
		p += 64;
	}
	if (BLK(hot_flush)(&h, &m, wc) < 0)
		return -1;
	return jg_tok_bytes_words(t, clean, end, end, wc) ? 0 : -1;
}
