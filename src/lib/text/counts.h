/*
 * A word-count table as the public API sees it (struct jg_counts): the
 * pool's merged table, and tables a program makes, reads from a TSV file
 * and merges, as `juggle merge` and a resumed run do.
 */
#ifndef JG_COUNTS_H
#define JG_COUNTS_H

#include "juggle.h"
#include "wordcount.h"

struct jg_counts {
	struct jg_wordcount wc;
};

#endif
