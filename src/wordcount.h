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
 * The table's hash, FNV-1a: the tokenizer folds it in byte by byte while
 * it scans a word, so the hash is ready the moment the word ends.
 */
#define JG_WC_SEED 0x811c9dc5u
#define JG_WC_STEP(h, c) (((h) ^ (uint8_t)(c)) * 0x01000193u)
static inline uint32_t jg_wc_hash(const char *w, size_t len)
{
	uint32_t h = JG_WC_SEED;
	for (size_t i = 0; i < len; i++)
		h = JG_WC_STEP(h, w[i]);
	return h;
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
