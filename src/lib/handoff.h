/*
 * The hand-over: books on their way to the worker pool and back. A job
 * whose body came whole (or whose saved file is to be counted again)
 * gives its book here and ends; the pool saves and counts it, and the
 * hand-over answers the session through its one callback with the book's
 * outcome, the pool's figures in it. While counting is held (a
 * checkpoint's consistent table), books wait here, in the memory budget.
 */
#ifndef JG_HANDOFF_H
#define JG_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#include "fetch.h"
#include "outcome.h"
#include "pool.h"

struct jg_handoff_book;

/* A book's end: its outcome, counted or not. 0 when the session is being
 * freed (the hand-over then stops calling). */
typedef int (*jg_handoff_done_fn)(void *ctx, uint32_t book, const struct jg_outcome *o);

struct jg_handoff {
	struct jg_pool *pool;
	struct jg_fetch *fetch;     /* the memory budget the bodies are held in */
	const char *dir;            /* where books are saved */
	unsigned count_flags, top;
	uint64_t counting;          /* handed over, not yet answered */
	int hold;                   /* books wait in `parked` for the pool */
	struct jg_handoff_book *parked, **parked_tail;
	jg_handoff_done_fn done;
	void *ctx;
};

void jg_handoff_init(struct jg_handoff *h, struct jg_pool *pool, struct jg_fetch *fetch,
                     const char *dir, unsigned count_flags, unsigned top, jg_handoff_done_fn done,
                     void *ctx);

/* One book to hand over. */
struct jg_handoff_req {
	enum jg_pool_job what;      /* save `body`, or count the saved file again */
	uint32_t book;
	const char *name;           /* its file name; must last until it is answered */
	struct jg_outcome *out;     /* what the job found; its strings are taken */
	char *body;                 /* SAVE: taken (NULL for an empty body) */
	size_t len;                 /* the body's length, or the saved file's */
	uint64_t held;              /* the body's bytes in the memory budget: taken */
	uint64_t ino;               /* RECOUNT: the inode of the file to read */
};

/*
 * Hands a book over: 0, the answer comes through `done`; or -1, out of
 * memory: the body and its budget are given back, and `*req->out` stays
 * the caller's.
 */
int jg_handoff_give(struct jg_handoff *h, const struct jg_handoff_req *req);

/* Holds books back from the pool, or lets the held ones go. */
void jg_handoff_hold(struct jg_handoff *h, int hold);

/* Every book not yet answered ends cancelled: the session goes away. */
void jg_handoff_cancel(struct jg_handoff *h);

#endif
