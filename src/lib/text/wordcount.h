/*
 * The word-frequency table: open addressing (linear probing, at most half
 * full) over entries that carry the word's length, hash and first 8 bytes
 * beside the pointer to it, words packed, zero-padded, in chunks of the
 * table's own. Built for the tokenizer's hot loop: the caller passes the
 * hash it computed while scanning; a word of up to 8 bytes is found with
 * two 64-bit compares, one of up to 16 with three, and no look at the key
 * store for most words; a word found past its home slot moves into it when
 * the one there is rarer. Also for merging tables from workers, top-k and
 * sorted dumps. Hand-written rather than a library's (khash, a C++ map):
 * the tokenizer probes it with a word still in registers, folded and
 * padded, which no general table takes.
 */
#ifndef JG_WORDCOUNT_H
#define JG_WORDCOUNT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct jg_word {
	const char *word;  /* the table's key store, NUL-terminated */
	uint32_t len;
	uint32_t hash;
	uint64_t count;
	/* The word's first 8 bytes, zero-padded (jg_wc_load): a word of up
	 * to 8 bytes, most words, compares without a look at the store. */
	uint64_t head;
};

struct jg_wordcount {
	struct jg_word *slots;
	size_t mask;
	size_t distinct;
	uint64_t total;
	struct jg_keys *keys;    /* chunks the words are stored in */
	size_t first_slots;      /* the first table's size, a power of 2 (0: 1024) */
};

/*
 * The hash reads a word as zero-padded 16-byte blocks, each two 64-bit
 * little-endian halves (lo, hi) folded by one 64x64->128-bit multiply
 * (the "mum" of wyhash and XXH3, written here: they hash bytes in memory,
 * while the tokenizer holds a word's folded bytes in registers, and all
 * but a few words in a book fit one block). The length is in the first
 * block, so "a" and "a\0" differ. The 32 bits kept are the low ones of
 * the product's halves XORed, so the high half mixes every input bit in.
 */
#define JG_WC_K0 0xa0761d6478bd642fULL
#define JG_WC_K1 0xe7037ed1a0b428dbULL
#define JG_WC_K2 0x8ebc6af09c88c6e3ULL

static inline uint64_t jg_wc_mum(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	__extension__ typedef unsigned __int128 u128;
	u128 r = (u128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
	uint64_t ha = a >> 32, la = (uint32_t)a, hb = b >> 32, lb = (uint32_t)b;
	uint64_t hh = ha * hb, hl = ha * lb, lh = la * hb, ll = la * lb;
	uint64_t mid = (ll >> 32) + (uint32_t)hl + (uint32_t)lh;
	uint64_t lo = (mid << 32) | (uint32_t)ll;
	uint64_t hi = hh + (hl >> 32) + (lh >> 32) + (mid >> 32);
	return lo ^ hi;
#endif
}

/* A word of at most 16 bytes, given as its zero-padded halves. */
static inline uint64_t jg_wc_hash16_64(uint64_t lo, uint64_t hi, size_t len)
{
	return jg_wc_mum(lo ^ JG_WC_K0, hi ^ JG_WC_K1 ^ len);
}

static inline uint32_t jg_wc_fold32(uint64_t h)
{
	return (uint32_t)h;
}

static inline uint32_t jg_wc_hash16(uint64_t lo, uint64_t hi, size_t len)
{
	return jg_wc_fold32(jg_wc_hash16_64(lo, hi, len));
}

/* Little-endian loads, whatever the machine: the first byte is the low
 * one, so that zero-padding is masking off high bits everywhere. */
static inline uint64_t jg_wc_load8(const char *w)
{
	uint64_t x;
	memcpy(&x, w, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

static inline uint64_t jg_wc_load4(const char *w)
{
	uint32_t x;
	memcpy(&x, w, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap32(x);
#endif
	return x;
}

/* Bytes w[0..n), 0 <= n <= 8, as a zero-padded little-endian word; it
 * never reads past w + n (overlapping loads instead of a byte loop). */
static inline uint64_t jg_wc_load(const char *w, size_t n)
{
	if (n >= 4) {
		if (n == 8)
			return jg_wc_load8(w);
		return jg_wc_load4(w) | jg_wc_load4(w + n - 4) << (8 * (n - 4));
	}
	if (n == 0)
		return 0;
	const unsigned char *u = (const unsigned char *)w;
	return (uint64_t)u[0] | (uint64_t)u[n / 2] << (8 * (n / 2)) | (uint64_t)u[n - 1] << (8 * (n - 1));
}

/* Word bytes w[0..len), any len, as the zero-padded halves of its first
 * block (len <= 16) or of any block. */
static inline void jg_wc_halves(const char *w, size_t len, uint64_t *lo, uint64_t *hi)
{
	if (len >= 16) {
		*lo = jg_wc_load8(w);
		*hi = jg_wc_load8(w + 8);
	} else if (len > 8) {
		*lo = jg_wc_load8(w);
		*hi = jg_wc_load8(w + len - 8) >> (8 * (16 - len));
	} else {
		*lo = jg_wc_load(w, len);
		*hi = 0;
	}
}

static inline uint32_t jg_wc_hash(const char *w, size_t len)
{
	uint64_t lo, hi;
	jg_wc_halves(w, len, &lo, &hi);
	uint64_t h = jg_wc_hash16_64(lo, hi, len);
	for (size_t at = 16; at < len; at += 16) {
		jg_wc_halves(w + at, len - at, &lo, &hi);
		h = jg_wc_mum(lo ^ JG_WC_K2 ^ h, hi ^ JG_WC_K1);
	}
	return jg_wc_fold32(h);
}

void jg_wc_init(struct jg_wordcount *wc);
void jg_wc_fini(struct jg_wordcount *wc);
/* Empties the table, keeping its memory. */
void jg_wc_clear(struct jg_wordcount *wc);
/* Makes sure the table has slots (an empty table may have none), so that
 * a slot can be computed before the first word is added. 0 or -1 ENOMEM. */
int jg_wc_reserve(struct jg_wordcount *wc);
/* Out of line: grows the table or stores a new word at slot `i`. */
int jg_wc_insert(struct jg_wordcount *wc, size_t i, const char *word, size_t len, uint32_t hash,
                 uint64_t n);

/* An entry's length and hash, as one 64-bit value: one compare. */
static inline uint64_t jg_wc_tag(size_t len, uint32_t hash)
{
	return (uint64_t)(uint32_t)len | (uint64_t)hash << 32;
}

static inline uint64_t jg_wc_entry_tag(const struct jg_word *e)
{
	return jg_wc_tag(e->len, e->hash);
}

/*
 * Whether `e` holds the word of at most 16 bytes whose zero-padded halves
 * are `lo`, `hi`: the same length and bytes, so no hash compare. An empty
 * slot has length 0, a word never. Stored words are padded with zeroes to
 * a multiple of 8 bytes (wordcount.c), so the second half compares as one
 * 64-bit value too; no loop, no byte compares.
 */
static inline int jg_wc_is16(const struct jg_word *e, uint64_t lo, uint64_t hi, size_t len)
{
	if (((e->len ^ len) | (e->head ^ lo)) != 0)
		return 0;
	return len <= 8 || jg_wc_load8(e->word + 8) == hi;
}

/* The slot of a word of at most 16 bytes, or the empty one where it
 * would go. */
static inline struct jg_word *jg_wc_probe16(struct jg_word *slots, size_t mask, uint64_t lo,
                                            uint64_t hi, size_t len, uint32_t hash)
{
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct jg_word *e = &slots[i];
		if (!e->word || jg_wc_is16(e, lo, hi, len))
			return e;
	}
}

/* Compares 8 bytes at a time: a word's tail past 16 bytes. */
static inline int jg_wc_same(const char *a, const char *b, size_t len)
{
	while (len >= 8) {
		if (jg_wc_load8(a) != jg_wc_load8(b))
			return 0;
		a += 8;
		b += 8;
		len -= 8;
	}
	return jg_wc_load(a, len) == jg_wc_load(b, len);
}

/* The slot of `word` (any length, any memory: read only within
 * word[0..len)), or the empty slot where it would go. */
static inline struct jg_word *jg_wc_probe(struct jg_word *slots, size_t mask, const char *word,
                                          size_t len, uint32_t hash)
{
	uint64_t lo, hi;
	jg_wc_halves(word, len, &lo, &hi);
	if (len <= 16)
		return jg_wc_probe16(slots, mask, lo, hi, len, hash);
	uint64_t tag = jg_wc_tag(len, hash);
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct jg_word *e = &slots[i];
		if (!e->word || (jg_wc_entry_tag(e) == tag && jg_wc_same(e->word, word, len)))
			return e;
	}
}

/*
 * Moves `e`, found away from its home slot, into it when the word there
 * is rarer: then the words that make most of a text are found at home,
 * with no second probe (and no mispredicted branch). Swapping two entries
 * of one run of full slots keeps both reachable by linear probing: the
 * other entry's home is at or before `e`'s, and every slot up to `e`'s
 * is full.
 */
static inline void jg_wc_promote(struct jg_wordcount *wc, struct jg_word *e)
{
	struct jg_word *home = &wc->slots[e->hash & wc->mask];
	if (home != e && home->count < e->count) {
		struct jg_word x = *home;
		*home = *e;
		*e = x;
	}
}

/*
 * Adds `n` to `word`; `hash` must be jg_wc_hash(word, len). 0, or -1 on
 * ENOMEM. The tokenizer's hot loop has its own copy of this, working on
 * a word's halves (tokenize_blocks.h).
 */
static inline int jg_wc_add(struct jg_wordcount *wc, const char *word, size_t len, uint32_t hash,
                            uint64_t n)
{
	if (!wc->slots)
		return jg_wc_insert(wc, 0, word, len, hash, n);
	struct jg_word *e = jg_wc_probe(wc->slots, wc->mask, word, len, hash);
	if (!e->word)
		return jg_wc_insert(wc, (size_t)(e - wc->slots), word, len, hash, n);
	e->count += n;
	wc->total += n;
	return 0;
}
/* The count of `word`, 0 when absent. */
uint64_t jg_wc_get(const struct jg_wordcount *wc, const char *word, size_t len);
/* Adds every count of `src` to `dst`. 0 or -1 ENOMEM. */
int jg_wc_merge(struct jg_wordcount *dst, const struct jg_wordcount *src);
/*
 * jg_wc_merge(), and jg_wc_top(src, n, out) in the same pass over `src`
 * (a worker wants both for each book: one walk of its table less, 2-3% of
 * a counting run's CPU). `*n_out` is how many went into `out`, pointers
 * into `src`. 0 or -1 ENOMEM (`out` is then not to be used).
 */
int jg_wc_merge_top(struct jg_wordcount *dst, const struct jg_wordcount *src, size_t n,
                    const struct jg_word **out, size_t *n_out);
/*
 * The `n` most frequent words, by count descending then word ascending
 * (bytewise), into `out` (pointers into the table). Returns how many.
 */
size_t jg_wc_top(const struct jg_wordcount *wc, size_t n, const struct jg_word **out);
/* The same over `n_tables` tables with no word in common (the parts of
 * a sharded table). */
size_t jg_wc_top_of(const struct jg_wordcount *tables, size_t n_tables, size_t n,
                    const struct jg_word **out);
/* Every word as "word\tcount\n" in the same order. 0, or -1 on I/O error. */
int jg_wc_write_tsv(const struct jg_wordcount *wc, FILE *f);
/* The same over `n_tables` tables with no word in common. */
int jg_wc_write_tsv_of(const struct jg_wordcount *tables, size_t n_tables, FILE *f);
/* Order used by top and dumps: count descending, then word ascending. */
int jg_wc_compare(const struct jg_word *a, const struct jg_word *b);

#endif
