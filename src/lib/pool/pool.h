/*
 * The worker pool, on the loop's side: a fixed set of forked processes,
 * each behind its own pair of pipes. Books go to the worker with the
 * fewest bytes outstanding; writes are non-blocking and queue behind an
 * ev_io write watcher; answers are read by an ev_io read watcher.
 *
 * Nothing is lost when a worker dies (EOF on its pipe): a respawned worker
 * gets the books it had not answered, and the books whose counts died in
 * its running table are counted again from their saved files. A book that
 * was being counted when a worker died twice fails with JG_EWORKER.
 */
#ifndef JG_POOL_H
#define JG_POOL_H

#include <ev.h>
#include <stdint.h>
#include <sys/types.h>

#include "juggle.h"
#include "wordcount.h"

/* One book's outcome, borrowed during the callback. */
struct jg_pool_result {
	int err;
	const char *error;
	uint64_t words, distinct;
	size_t n_top;
	const struct jg_word_count *top;
	const uint8_t *sha256;    /* 32 bytes: the saved file's; NULL on failure */
	const char *charset;      /* what it was read in; NULL when not counted */
	const char *charset_from; /* "http", "book", "detected"; NULL likewise */
	const char *charset_note; /* why a named charset was passed over; "" */
};

typedef void (*jg_pool_done_cb)(void *user, uint64_t cookie, const struct jg_pool_result *r);

enum jg_pool_job {
	JG_POOL_SAVE,             /* save `body` as the book, then count it */
	JG_POOL_RECOUNT,          /* the book is saved already: count its file */
};

/* How a book is counted; the pool turns it into the frame's flags. */
struct jg_count_spec {
	unsigned flags;           /* enum jg_count_flags (JG_COUNT_OFF: save only) */
	unsigned top;             /* most frequent words to report, 0..64 */
	int html;                 /* text/html: no Gutenberg boilerplate rule */
};

struct jg_pool_book {
	enum jg_pool_job job;
	char *body;               /* SAVE: taken, the pool frees it (NULL for an
	                             empty body) */
	size_t len;
	const char *dir, *name;   /* copied */
	const char *charset;      /* the answer's charset, NULL when none; copied */
	uint64_t expect_size;     /* RECOUNT: the file's size and inode as the */
	uint64_t expect_ino;      /* caller checked them (inode 0: any) */
	struct jg_count_spec count;
	jg_pool_done_cb done;
	void *user;
	uint64_t cookie;
};

/* Hands a book over; `done` fires once, later, from the loop. 0 or -1. */
int jg_pool_submit(struct jg_pool *p, struct jg_pool_book *b);
/* Binds the pool to `loop` on first use; -1 if it is bound to another. */
int jg_pool_attach(struct jg_pool *p, struct ev_loop *loop);
/* Body bytes the pool holds now (part of the memory budget). */
uint64_t jg_pool_held(const struct jg_pool *p);
/* Calls `fn(user, cookie)` for each book of `user` not yet answered and
 * drops its callback: its owner is going away. */
void jg_pool_forget(struct jg_pool *p, void *user, void (*fn)(void *user, uint64_t cookie));
/* For tests and stats: the workers' current PIDs. */
size_t jg_pool_pids(const struct jg_pool *p, pid_t *out, size_t max);
/* For tests: the most table entries (words of the workers' tables, slots
 * merged into the pool's) the loop took in within one iteration. */
size_t jg_pool_most_in_a_turn(const struct jg_pool *p);
/* For tests: 1 while a worker's whole table is still going into the
 * pool's (a worker killed then must change nothing). */
int jg_pool_merging(const struct jg_pool *p);

#endif
