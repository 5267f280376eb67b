#include "wordcount.h"

#include <stdlib.h>
#include <string.h>

/*
 * The key store: words one after another, each zero-padded to a multiple
 * of 8 bytes with at least one NUL, in chunks. So the second 8 bytes of a
 * stored word of 9 to 16 bytes read as one 64-bit value (jg_wc_is16); a
 * short word costs what strndup's len + 1 would, rounded up to 8.
 */
enum { KEYS_FIRST = 16 << 10, KEYS_CHUNK = 1 << 20 };

struct jg_keys {
	struct jg_keys *next;
	size_t size;
	size_t used;
	char data[]; /* at offset 24: 8-aligned */
};

static void keys_free(struct jg_keys *k)
{
	while (k) {
		struct jg_keys *next = k->next;
		free(k);
		k = next;
	}
}

static const char *keys_add(struct jg_wordcount *wc, const char *word, size_t len)
{
	size_t need = (len + 8) & ~(size_t)7;
	struct jg_keys *k = wc->keys;
	if (!k || k->size - k->used < need) {
		/* Doubling from 16 KiB: a sharded table's 64 parts each start
		 * small, and a big table soon takes 1 MiB at a time. */
		size_t size = !k ? KEYS_FIRST : k->size < KEYS_CHUNK ? 2 * k->size : KEYS_CHUNK;
		if (size < need)
			size = need;
		k = malloc(sizeof *k + size);
		if (!k)
			return NULL;
		k->size = size;
		k->used = 0;
		k->next = wc->keys;
		wc->keys = k;
	}
	char *p = k->data + k->used;
	memset(p + need - 8, 0, 8);
	memcpy(p, word, len);
	k->used += need;
	return p;
}

void jg_wc_init(struct jg_wordcount *wc)
{
	memset(wc, 0, sizeof *wc);
}

void jg_wc_fini(struct jg_wordcount *wc)
{
	free(wc->slots);
	keys_free(wc->keys);
	memset(wc, 0, sizeof *wc);
}

void jg_wc_clear(struct jg_wordcount *wc)
{
	if (wc->slots)
		memset(wc->slots, 0, (wc->mask + 1) * sizeof *wc->slots);
	/* The newest chunk, the largest, is kept for the next words: a table
	 * cleared and filled again (a worker's per book, the pool's staging
	 * per table) does not give its memory back and fault it in again. */
	if (wc->keys && wc->keys->size <= KEYS_CHUNK) {
		keys_free(wc->keys->next);
		wc->keys->next = NULL;
		wc->keys->used = 0;
	} else {
		keys_free(wc->keys); /* one huge word's: not kept */
		wc->keys = NULL;
	}
	wc->distinct = 0;
	wc->total = 0;
}

static int grow(struct jg_wordcount *wc)
{
	size_t n = wc->slots ? (wc->mask + 1) * 2 : wc->first_slots ? wc->first_slots : 1024;
	struct jg_word *slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; wc->slots && i <= wc->mask; i++) {
		struct jg_word *e = &wc->slots[i];
		if (!e->word)
			continue;
		size_t j = e->hash & (n - 1);
		while (slots[j].word)
			j = (j + 1) & (n - 1);
		slots[j] = *e;
	}
	free(wc->slots);
	wc->slots = slots;
	wc->mask = n - 1;
	return 0;
}

int jg_wc_reserve(struct jg_wordcount *wc)
{
	return wc->slots ? 0 : grow(wc);
}

int jg_wc_insert(struct jg_wordcount *wc, size_t i, const char *word, size_t len, uint32_t hash,
                 uint64_t n)
{
	/* Half full at most: probes stay short, and the table of a book's
	 * vocabulary (tens of thousands of words) stays in cache. */
	if (!wc->slots || (wc->distinct + 1) * 2 > wc->mask + 1) {
		if (grow(wc) < 0)
			return -1;
		i = hash & wc->mask;
		while (wc->slots[i].word)
			i = (i + 1) & wc->mask;
	}
	struct jg_word *e = &wc->slots[i];
	e->word = keys_add(wc, word, len);
	if (!e->word)
		return -1;
	e->len = (uint32_t)len;
	e->hash = hash;
	e->count = n;
	e->head = jg_wc_load(word, len < 8 ? len : 8);
	wc->distinct++;
	wc->total += n;
	return 0;
}

uint64_t jg_wc_get(const struct jg_wordcount *wc, const char *word, size_t len)
{
	if (!wc->slots)
		return 0;
	const struct jg_word *e = jg_wc_probe(wc->slots, wc->mask, word, len, jg_wc_hash(word, len));
	return e->word ? e->count : 0;
}

int jg_wc_compare(const struct jg_word *a, const struct jg_word *b)
{
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->word, b->word, n);
	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Keeps the best `n` (n > 0) in `out[0..*have)` by insertion: n is small
 * (a top 10), and most words lose to the last kept at once. */
static inline void offer_top(const struct jg_word *e, size_t n, const struct jg_word **out,
                             size_t *have)
{
	if (*have == n && jg_wc_compare(e, out[n - 1]) >= 0)
		return;
	size_t j = *have < n ? (*have)++ : n - 1;
	while (j > 0 && jg_wc_compare(e, out[j - 1]) < 0) {
		out[j] = out[j - 1];
		j--;
	}
	out[j] = e;
}

int jg_wc_merge_top(struct jg_wordcount *dst, const struct jg_wordcount *src, size_t n,
                    const struct jg_word **out, size_t *n_out)
{
	*n_out = 0;
	for (size_t i = 0; src->slots && i <= src->mask; i++) {
		const struct jg_word *e = &src->slots[i];
		if (!e->word)
			continue;
		if (jg_wc_add(dst, e->word, e->len, e->hash, e->count) < 0)
			return -1;
		if (n)
			offer_top(e, n, out, n_out);
	}
	return 0;
}

int jg_wc_merge(struct jg_wordcount *dst, const struct jg_wordcount *src)
{
	size_t none;
	return jg_wc_merge_top(dst, src, 0, NULL, &none);
}

size_t jg_wc_top_of(const struct jg_wordcount *tables, size_t n_tables, size_t n,
                    const struct jg_word **out)
{
	size_t have = 0;
	for (size_t t = 0; t < n_tables; t++) {
		const struct jg_wordcount *wc = &tables[t];
		for (size_t i = 0; n && wc->slots && i <= wc->mask; i++)
			if (wc->slots[i].word)
				offer_top(&wc->slots[i], n, out, &have);
	}
	return have;
}

size_t jg_wc_top(const struct jg_wordcount *wc, size_t n, const struct jg_word **out)
{
	return jg_wc_top_of(wc, 1, n, out);
}

int jg_wc_write_tsv(const struct jg_wordcount *wc, FILE *f)
{
	return jg_wc_write_tsv_of(wc, 1, f);
}

/*
 * A word as the TSV writer sorts it: its count and its first 8 bytes in
 * the entry itself, so that most comparisons look at neither the slot
 * nor the key store (32,000 words of the KJV: 4 ms of sorting before).
 * `key` is the head (little-endian: jg_wc_load) byte-swapped: when two
 * keys differ, they order as the words do (a zero pad sorts first, as a
 * shorter word does).
 */
struct sorted_word {
	uint64_t count, key;
	const struct jg_word *w;
};

static int compare_sorted(const void *pa, const void *pb)
{
	const struct sorted_word *a = pa, *b = pb;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if (a->key != b->key)
		return a->key < b->key ? -1 : 1;
	return jg_wc_compare(a->w, b->w);
}

/* `n` in decimal at `out`, which has room for 20 digits; the digits used. */
static size_t put_u64(char *out, uint64_t n)
{
	char digits[20];
	size_t len = 0;
	do {
		digits[len++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	for (size_t i = 0; i < len; i++)
		out[i] = digits[len - 1 - i];
	return len;
}

int jg_wc_write_tsv_of(const struct jg_wordcount *tables, size_t n_tables, FILE *f)
{
	size_t distinct = 0;
	for (size_t t = 0; t < n_tables; t++)
		distinct += tables[t].distinct;
	struct sorted_word *all = malloc((distinct ? distinct : 1) * sizeof *all);
	enum { OUT_CAP = 1 << 16 };
	char *out = malloc(OUT_CAP);
	if (!all || !out) {
		free(all);
		free(out);
		return -1;
	}
	size_t n = 0;
	for (size_t t = 0; t < n_tables; t++) {
		const struct jg_wordcount *wc = &tables[t];
		for (size_t i = 0; wc->slots && i <= wc->mask; i++) {
			const struct jg_word *e = &wc->slots[i];
			if (e->word)
				all[n++] = (struct sorted_word){e->count, __builtin_bswap64(e->head), e};
		}
	}
	qsort(all, n, sizeof *all, compare_sorted);
	/* Lines are put together here, not by stdio's formatting: fprintf()
	 * was half the time of writing a table. */
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		const struct jg_word *e = all[i].w;
		if (OUT_CAP - used < (size_t)e->len + 22) {
			fwrite(out, 1, used, f);
			used = 0;
		}
		/* By length: a whitespace-split word may hold a NUL byte. A word
		 * longer than the buffer goes out by itself. */
		if ((size_t)e->len + 22 > OUT_CAP) {
			fwrite(e->word, 1, e->len, f);
		} else {
			memcpy(out + used, e->word, e->len);
			used += e->len;
		}
		out[used++] = '\t';
		used += put_u64(out + used, e->count);
		out[used++] = '\n';
	}
	fwrite(out, 1, used, f);
	free(out);
	free(all);
	return ferror(f) ? -1 : 0;
}
