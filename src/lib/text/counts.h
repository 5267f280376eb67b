/*
 * A word-count table as the public API sees it (struct jg_counts): the
 * pool's merged table, and tables a program makes, reads from a TSV file
 * and merges, as `juggle merge` and a resumed run do.
 *
 * Sharded: 64 tables, a word's by the top bits of its hash. The pool's
 * table grows on the loop as the workers' tables come in, and a table
 * grows by rehashing all it holds: one table of a million words would
 * stop the loop for tens of milliseconds at each doubling, a shard of it
 * for a 64th of that. The tokenizer's per-book table stays one table.
 */
#ifndef JG_COUNTS_H
#define JG_COUNTS_H

#include "juggle.h"
#include "wordcount.h"

#define JG_COUNTS_SHARD_BITS 6
#define JG_COUNTS_SHARDS (1u << JG_COUNTS_SHARD_BITS)

struct jg_counts {
	struct jg_wordcount shard[JG_COUNTS_SHARDS];
};

/* The shard a word of hash `hash` lives in. */
static inline unsigned jg_counts_shard_of(uint32_t hash)
{
	return hash >> (32 - JG_COUNTS_SHARD_BITS);
}

void jg_counts_init(struct jg_counts *c);
void jg_counts_fini(struct jg_counts *c);
/* Empties the table, keeping its memory. */
void jg_counts_clear(struct jg_counts *c);
/* Adds `n` to `word` (`hash`: jg_wc_hash's). 0, or -1 on ENOMEM. */
int jg_counts_add(struct jg_counts *c, const char *word, size_t len, uint32_t hash, uint64_t n);

/*
 * Moves `src` into `dst` a step at a time, so that a large table merges
 * over several loop iterations: a call looks at `*budget` of `src`'s
 * slots at most, from `*at` (zeroed to start) on, and takes off the
 * budget what it looked at. A drained shard of `src` is emptied, its
 * memory kept. 1 when all of `src` is in `dst`, 0 when there is more, -1
 * on ENOMEM (the word at `*at` is not added yet: a later call goes on
 * from it).
 */
struct jg_counts_cursor {
	unsigned shard;
	size_t slot;
};
int jg_counts_drain(struct jg_counts *dst, struct jg_counts *src, struct jg_counts_cursor *at,
                    size_t *budget);

#endif
