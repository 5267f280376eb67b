/*
 * The catalog: the table of the books added to a session. Each book has a
 * slot (a 32-bit index, in pages of 4096), its URL and file name (each
 * unique, through two index sets), the checked prior an earlier run gave,
 * and the name a foreign file took from it. It knows the output directory
 * only to look at what is there; it never calls up into the session and
 * has no timers or I/O watchers.
 *
 * A book's strings live in the arena for the whole session, or, when the
 * session forgets finished books, on the heap, freed with the book, whose
 * slot the next book then takes.
 */
#ifndef JG_CATALOG_H
#define JG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "idxset.h"
#include "juggle.h"
#include "url.h"

/* What an earlier run saved for a book (jg_session_add_prior), checked. */
struct jg_book_prior {
	enum jg_prior_use use;
	uint64_t bytes;
	uint64_t ino;                      /* the file checked: a recount reads it only */
	const char *etag, *last_modified;  /* NULL when none */
	const char *content_type;          /* NULL when none */
};

/* One added URL: 48 bytes. */
struct jg_book {
	const char *url;   /* NULL: a free slot */
	const char *name;  /* the file name in the output directory */
	void *user;
	struct jg_book_prior *prior; /* NULL: fetch as usual */
	uint64_t seq;      /* its position among the URLs added (the index) */
	uint32_t host;     /* the session's: its politeness slot */
	/* A bare ebook number: `url` is on its first mirror. */
	uint8_t mirror;         /* the mirror it goes to now, + 1; 0: not a number */
	uint8_t mirrors_left;   /* mirrors not tried yet */
	uint16_t attempts_before; /* attempts on the mirrors that failed it */
};

enum { BOOK_PAGE_SHIFT = 12, BOOK_PAGE = 1 << BOOK_PAGE_SHIFT };

/* A book saved under another name than its own because a file that was
 * there before the session held it. */
struct jg_foreign {
	uint32_t book;
	const char *name;  /* the name it would have had */
};

struct jg_catalog {
	int forget;                 /* finished books are forgotten */
	struct jg_arena strings;
	struct jg_book **pages;
	size_t n_books, n_pages;    /* slots in use or freed */
	uint32_t *free_books;       /* slots of forgotten books, for reuse */
	size_t n_free, cap_free;
	int last_fresh;             /* the last jg_catalog_add() took a new slot */
	struct jg_idxset urls;
	struct jg_idxset names;
	/* Files in the output directory when the session began: a book takes
	 * none of their names unless the caller claims the file. */
	const char **existing;
	uint8_t *claimed;
	size_t n_existing, cap_existing;
	struct jg_idxset existing_set;
	struct jg_foreign *foreign; /* in book order */
	size_t n_foreign, cap_foreign;
};

void jg_catalog_init(struct jg_catalog *c, int forget);
void jg_catalog_fini(struct jg_catalog *c);

static inline struct jg_book *jg_catalog_book(const struct jg_catalog *c, uint32_t idx)
{
	return &c->pages[idx >> BOOK_PAGE_SHIFT][idx & (BOOK_PAGE - 1)];
}

/* A file that was in the output directory before the session. 0, or -1. */
int jg_catalog_note_existing(struct jg_catalog *c, const char *name);
/* The caller's file `name` (one of those noted) may be a book's again. */
void jg_catalog_claim(struct jg_catalog *c, const char *name);

/* Whether a book has this URL. */
int jg_catalog_has_url(const struct jg_catalog *c, const char *url);

/*
 * Adds the book of URL `u`: a slot, its URL, its file name (see
 * catalog.c), and `prior` when it holds for the file in `dirfd` (the
 * output directory). Its URL and name are taken from then on. The new
 * book, with its slot in `*idx`, or NULL leaving no trace: ENOMEM, or
 * with `*clash` set, `name` (the caller's choice, NULL: from the URL) is
 * another book's or empty once made safe. `*refused`: a prior was given
 * and does not hold.
 */
struct jg_book *jg_catalog_add(struct jg_catalog *c, int dirfd, const struct jg_url *u,
                               const char *name, const struct jg_prior *prior, void *user,
                               uint64_t seq, uint32_t *idx, int *refused, int *clash);
/* Takes back the book the last jg_catalog_add() gave: as if never added. */
void jg_catalog_drop(struct jg_catalog *c, uint32_t idx);

/* The URL and name of book `idx` are no longer taken: another book may
 * have them. */
void jg_catalog_unlist(struct jg_catalog *c, uint32_t idx);
/* Frees a forgotten book; the next book may take its slot. */
void jg_catalog_forget(struct jg_catalog *c, uint32_t idx);

/* The name a foreign file took from book `idx`, or NULL. */
const char *jg_catalog_foreign_name(const struct jg_catalog *c, uint32_t idx);

#endif
