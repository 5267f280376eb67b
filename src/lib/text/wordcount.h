/*
 * The word-frequency table: open addressing over entries that carry their
 * hash and length, words packed in an arena. Built for the tokenizer's hot
 * loop (the caller passes the hash it computed while scanning), for merging
 * tables from workers, and for top-k and sorted dumps.
 */
#ifndef JG_WORDCOUNT_H
#define JG_WORDCOUNT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"

struct jg_word {
	const char *word;  /* arena, NUL-terminated */
	uint32_t len;
	uint32_t hash;
	uint64_t count;
};

struct jg_wordcount {
	struct jg_word *slots;
	size_t mask;
	size_t distinct;
	uint64_t total;
	struct jg_arena words;
};

/*
 * The table's hash works 8 bytes at a time (a multiply per 8 bytes, not
 * per byte as FNV would): full 8-byte chunks of the word in order, then
 * the 0..7 bytes left with the length in the top byte. Chunks are
 * little-endian, so a tokenizer that reads words 8 bytes at a time can
 * hash them as it goes and get the same value.
 */
#define JG_WC_SEED 0x9e3779b97f4a7c15ULL
static inline uint64_t jg_wc_mix(uint64_t h, uint64_t x)
{
	h = (h ^ x) * 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 31);
}

static inline uint32_t jg_wc_finish(uint64_t h, uint64_t tail, size_t len)
{
	h = jg_wc_mix(h, tail | (uint64_t)(len & 0xff) << 56);
	return (uint32_t)(h ^ (h >> 32));
}

static inline uint64_t jg_wc_load(const char *w, size_t n)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x |= (uint64_t)(unsigned char)w[i] << (8 * i);
	return x;
}

static inline uint32_t jg_wc_hash(const char *w, size_t len)
{
	uint64_t h = JG_WC_SEED;
	size_t left = len;
	while (left >= 8) {
		h = jg_wc_mix(h, jg_wc_load(w, 8));
		w += 8;
		left -= 8;
	}
	return jg_wc_finish(h, jg_wc_load(w, left), len);
}

void jg_wc_init(struct jg_wordcount *wc);
void jg_wc_fini(struct jg_wordcount *wc);
/* Empties the table, keeping its memory. */
void jg_wc_clear(struct jg_wordcount *wc);
/* Out of line: grows the table or stores a new word at slot `i`. */
int jg_wc_insert(struct jg_wordcount *wc, size_t i, const char *word, size_t len, uint32_t hash,
                 uint64_t n);

/* Short words dominate: compare 8 bytes at a time, without a libc call. */
static inline int jg_wc_same(const char *a, const char *b, size_t len)
{
	while (len >= 8) {
		uint64_t x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return 0;
		a += 8;
		b += 8;
		len -= 8;
	}
	while (len--)
		if (*a++ != *b++)
			return 0;
	return 1;
}

/*
 * Adds `n` to `word`; `hash` must be jg_wc_hash(word, len). 0, or -1 on
 * ENOMEM. Inline because the tokenizer calls it once per word: the usual
 * case, a word already seen, costs one probe and one compare.
 */
static inline int jg_wc_add(struct jg_wordcount *wc, const char *word, size_t len, uint32_t hash,
                            uint64_t n)
{
	if (wc->slots) {
		size_t i = hash & wc->mask;
		for (;;) {
			struct jg_word *e = &wc->slots[i];
			if (!e->word)
				return jg_wc_insert(wc, i, word, len, hash, n);
			if (e->hash == hash && e->len == len && jg_wc_same(e->word, word, len)) {
				e->count += n;
				wc->total += n;
				return 0;
			}
			i = (i + 1) & wc->mask;
		}
	}
	return jg_wc_insert(wc, 0, word, len, hash, n);
}
/* The count of `word`, 0 when absent. */
uint64_t jg_wc_get(const struct jg_wordcount *wc, const char *word, size_t len);
/* Adds every count of `src` to `dst`. 0 or -1 ENOMEM. */
int jg_wc_merge(struct jg_wordcount *dst, const struct jg_wordcount *src);
/*
 * The `n` most frequent words, by count descending then word ascending
 * (bytewise), into `out` (pointers into the table). Returns how many.
 */
size_t jg_wc_top(const struct jg_wordcount *wc, size_t n, const struct jg_word **out);
/* Every word as "word\tcount\n" in the same order. 0, or -1 on I/O error. */
int jg_wc_write_tsv(const struct jg_wordcount *wc, FILE *f);
/* Order used by top and dumps: count descending, then word ascending. */
int jg_wc_compare(const struct jg_word *a, const struct jg_word *b);

#endif
