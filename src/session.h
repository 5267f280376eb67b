/* One run's state: ties input, hosts, resolver, fetch and store together. */
#ifndef JG_SESSION_H
#define JG_SESSION_H

#include <ev.h>
#include <stdint.h>

#include "arena.h"
#include "fetch.h"
#include "hosts.h"
#include "idxset.h"
#include "juggle.h"
#include "options.h"
#include "resolve.h"
#include "stall.h"
#include "store.h"
#include "trash.h"

/* What an earlier run saved for a book (jg_session_add_prior), checked. */
struct jg_book_prior {
	enum jg_prior_use use;
	uint64_t bytes;
	uint64_t ino;                      /* the file checked: a recount reads it only */
	const char *etag, *last_modified;  /* arena; NULL when none */
	const char *content_type;          /* arena; NULL when none */
};

/*
 * One added URL: 48 bytes. Kept for the whole session, its strings in the
 * arena; or, when the session forgets finished books, until it is
 * reported, its strings on the heap and its slot taken by a later book.
 */
struct jg_book {
	const char *url;   /* NULL: a free slot */
	const char *name;  /* the file name in the output directory */
	void *user;
	struct jg_book_prior *prior; /* NULL: fetch as usual */
	uint64_t seq;      /* its position among the URLs added (the index) */
	uint32_t host;
};

enum { BOOK_PAGE_SHIFT = 12, BOOK_PAGE = 1 << BOOK_PAGE_SHIFT };

struct jg_job;
struct counting;

/* A book saved under another name than its own because a file that was
 * there before the session held it. */
struct jg_foreign {
	uint32_t book;
	const char *name;  /* arena: the name it would have had */
};

struct jg_session {
	struct ev_loop *loop;
	struct jg_options opt;
	struct jg_store store;
	struct jg_trash trash;      /* big temporary files, freed a slice at a time */
	struct jg_fetch fetch;
	struct jg_resolver resolver;
	struct jg_hosts hosts;
	struct jg_stall stall;
	struct jg_arena strings;
	struct jg_book **pages;
	size_t n_books, n_pages;    /* slots in use or freed */
	uint64_t added;             /* URLs accepted: the next book's seq */
	uint32_t *free_books;       /* slots of forgotten books, for reuse */
	size_t n_free, cap_free;
	struct jg_idxset urls;
	struct jg_idxset names;
	/* Files in the output directory when the session began: a book takes
	 * none of their names unless the caller claims the file. */
	const char **existing;      /* arena names */
	uint8_t *claimed;
	size_t n_existing, cap_existing;
	struct jg_idxset existing_set;
	struct jg_foreign *foreign; /* in book order */
	size_t n_foreign, cap_foreign;
	struct jg_job *jobs;        /* admitted, resolving, fetching or waiting */
	struct jg_job *ready, **ready_tail; /* waited for their retry; want a slot */
	unsigned jobs_cap;          /* fewer transfers than jobs while descriptors
	                               ran out (0: jobs) */
	uint32_t *reuse;            /* books kept or recounted without a transfer */
	size_t n_reuse, cap_reuse, next_reuse;
	ev_prepare admit;           /* runs admission before the loop next waits */
	ev_idle admit_more;         /* keeps the loop from waiting: more to admit */
	ev_prepare reap;            /* finishes a free requested from a callback */
	jg_book_cb on_book;
	void *on_book_user;
	jg_idle_cb on_idle;
	void *on_idle_user;
	char user_agent[32];
	uint64_t rng;
	uint64_t active, waiting, ok, failed, retries;
	uint64_t counting;          /* handed to the pool, not yet answered */
	int hold_counting;          /* books wait in `parked` for the pool */
	struct counting *parked, **parked_tail;
	int streaming;              /* bodies go straight to files (no counting) */
	int draining;
	int freeing;
	int in_callback;
	int idle_reported;
};

#endif
