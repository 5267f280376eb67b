#include "catalog.h"
#include "grow.h"

#include "store.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *url_key(void *ctx, uint32_t idx)
{
	return jg_catalog_book(ctx, idx)->url;
}

static const char *name_key(void *ctx, uint32_t idx)
{
	return jg_catalog_book(ctx, idx)->name;
}

static const char *existing_key(void *ctx, uint32_t idx)
{
	const struct jg_catalog *c = ctx;
	return c->existing[idx];
}

void jg_catalog_init(struct jg_catalog *c, int forget)
{
	memset(c, 0, sizeof *c);
	c->forget = forget;
	jg_arena_init(&c->strings);
	jg_idxset_init(&c->urls, url_key, c);
	jg_idxset_init(&c->names, name_key, c);
	jg_idxset_init(&c->existing_set, existing_key, c);
}

/* ---- the books' memory -------------------------------------------------- */

static void *book_alloc(struct jg_catalog *c, size_t n)
{
	return c->forget ? malloc(n) : jg_arena_alloc(&c->strings, n);
}

static char *book_strdup(struct jg_catalog *c, const char *p)
{
	return c->forget ? strdup(p) : jg_arena_strdup(&c->strings, p);
}

static void book_free(struct jg_catalog *c, const void *p)
{
	if (c->forget)
		free((void *)(uintptr_t)p);
}

/* Where book `idx` is, or would go, in the foreign list (in book order). */
static size_t foreign_at(const struct jg_catalog *c, uint32_t idx)
{
	size_t lo = 0, hi = c->n_foreign;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->foreign[mid].book < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const char *jg_catalog_foreign_name(const struct jg_catalog *c, uint32_t idx)
{
	if (!c->n_foreign)
		return NULL;
	size_t at = foreign_at(c, idx);
	return at < c->n_foreign && c->foreign[at].book == idx ? c->foreign[at].name : NULL;
}

static void drop_foreign(struct jg_catalog *c, uint32_t idx)
{
	size_t at = foreign_at(c, idx);
	if (at == c->n_foreign || c->foreign[at].book != idx)
		return;
	book_free(c, c->foreign[at].name);
	memmove(&c->foreign[at], &c->foreign[at + 1], (c->n_foreign - at - 1) * sizeof *c->foreign);
	c->n_foreign--;
}

/* Frees what a book holds; its slot is free from then on. */
static void book_release(struct jg_catalog *c, uint32_t idx)
{
	struct jg_book *b = jg_catalog_book(c, idx);
	drop_foreign(c, idx);
	if (b->prior) {
		book_free(c, b->prior->etag);
		book_free(c, b->prior->last_modified);
		book_free(c, b->prior->content_type);
		book_free(c, b->prior);
	}
	book_free(c, b->url);
	book_free(c, b->name);
	memset(b, 0, sizeof *b);
}

void jg_catalog_unlist(struct jg_catalog *c, uint32_t idx)
{
	jg_idxset_remove(&c->urls, idx);
	jg_idxset_remove(&c->names, idx);
}

/* Never fails: the free list has room for every slot. */
void jg_catalog_forget(struct jg_catalog *c, uint32_t idx)
{
	book_release(c, idx);
	c->free_books[c->n_free++] = idx;
}

void jg_catalog_fini(struct jg_catalog *c)
{
	jg_idxset_fini(&c->urls);
	jg_idxset_fini(&c->names);
	jg_idxset_fini(&c->existing_set);
	free(c->existing);
	free(c->claimed);
	for (uint32_t i = 0; c->forget && i < c->n_books; i++)
		if (jg_catalog_book(c, i)->url)
			book_release(c, i);
	free(c->foreign);
	free(c->free_books);
	for (size_t i = 0; i < c->n_pages; i++)
		free(c->pages[i]);
	free(c->pages);
	jg_arena_fini(&c->strings);
}

/* ---- files that were there before --------------------------------------- */

int jg_catalog_note_existing(struct jg_catalog *c, const char *name)
{
	if (c->n_existing == c->cap_existing) {
		size_t cap = c->cap_existing ? c->cap_existing * 2 : 64;
		const char **names = realloc(c->existing, cap * sizeof *names);
		uint8_t *claimed = names ? realloc(c->claimed, cap) : NULL;
		if (names)
			c->existing = names;
		if (!claimed)
			return -1;
		c->claimed = claimed;
		c->cap_existing = cap;
	}
	if (c->n_existing >= UINT32_MAX - 1 ||
	    !(c->existing[c->n_existing] = jg_arena_strdup(&c->strings, name)))
		return -1;
	c->claimed[c->n_existing] = 0;
	if (jg_idxset_insert(&c->existing_set, (uint32_t)c->n_existing) < 0)
		return -1;
	c->n_existing++;
	return 0;
}

void jg_catalog_claim(struct jg_catalog *c, const char *name)
{
	uint32_t at = c->n_existing ? jg_idxset_find(&c->existing_set, name, strlen(name)) : JG_NONE;
	if (at != JG_NONE)
		c->claimed[at] = 1;
}

/*
 * Whether `name` is held by a file that was in the output directory
 * before the session and is not the caller's: neither claimed nor named by
 * this book's prior (a NULL file there takes whatever holds the name).
 */
static int held_by_foreign(const struct jg_catalog *c, int dirfd, const char *name,
                           const struct jg_prior *prior)
{
	uint32_t at = c->n_existing ? jg_idxset_find(&c->existing_set, name, strlen(name)) : JG_NONE;
	if (at != JG_NONE && c->claimed[at])
		return 0;
	/* Forgetting, a file saved by a finished book counts as foreign too:
	 * the session no longer knows whose it is. */
	if (at == JG_NONE && !c->forget)
		return 0;
	if (prior && (!prior->file || strcmp(prior->file, name) == 0))
		return 0;
	struct stat st;
	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0; /* still there */
}

static int note_foreign(struct jg_catalog *c, uint32_t book, const char *name)
{
	if (jg_grow(&c->foreign, &c->cap_foreign, c->n_foreign, sizeof *c->foreign, 16) < 0)
		return -1;
	const char *copy = book_strdup(c, name);
	if (!copy)
		return -1;
	/* In book order; a reused slot may come before the last one. */
	size_t at = foreign_at(c, book);
	memmove(&c->foreign[at + 1], &c->foreign[at], (c->n_foreign - at) * sizeof *c->foreign);
	c->foreign[at] = (struct jg_foreign){book, copy};
	c->n_foreign++;
	return 0;
}

/* ---- adding a book ------------------------------------------------------ */

/*
 * A slot for the next book: a forgotten book's, or a new one at the end.
 * `*fresh` says which, for book_untake() should the add fail.
 */
static struct jg_book *book_take(struct jg_catalog *c, uint32_t *idx, int *fresh)
{
	*fresh = c->n_free == 0;
	if (!*fresh) {
		*idx = c->free_books[--c->n_free];
		return jg_catalog_book(c, *idx);
	}
	if (c->n_books >= UINT32_MAX - 1)
		return NULL;
	if (c->forget && c->n_books == c->cap_free) {
		/* Room for every slot in the free list, so forgetting never fails. */
		size_t cap = c->cap_free ? c->cap_free * 2 : 256;
		uint32_t *f = realloc(c->free_books, cap * sizeof *f);
		if (!f)
			return NULL;
		c->free_books = f;
		c->cap_free = cap;
	}
	if ((c->n_books >> BOOK_PAGE_SHIFT) >= c->n_pages) {
		struct jg_book **pages = realloc(c->pages, (c->n_pages + 1) * sizeof *pages);
		if (!pages)
			return NULL;
		c->pages = pages;
		if (!(pages[c->n_pages] = malloc(BOOK_PAGE * sizeof **pages)))
			return NULL;
		c->n_pages++;
	}
	*idx = (uint32_t)c->n_books;
	return jg_catalog_book(c, *idx);
}

/* The slot book_take() gave, unused after all; its strings freed. */
static void book_untake(struct jg_catalog *c, uint32_t idx, int fresh)
{
	book_release(c, idx);
	if (!fresh)
		c->free_books[c->n_free++] = idx;
}

/*
 * The file name of book `book` being added: its URL's last path segment,
 * percent-decoded and made safe ("index.html" for a URL that ends in '/',
 * as wget names it); on a clash with an earlier book, "name.1", "name.2",
 * ... so names depend on the order URLs were added, never on finish
 * order. A name held by a foreign file is passed over the same way.
 */
static const char *assign_name(struct jg_catalog *c, int dirfd, uint32_t book,
                               const struct jg_url *u, const char *want,
                               const struct jg_prior *prior, int *clash)
{
	char base[JG_NAME_MAX + 1];
	char name[JG_NAME_MAX + 24];
	if (want) {
		/* The caller's name, made safe; another book's is refused, not
		 * numbered: the caller asked for that very file. */
		if (!jg_store_sanitize(want, strlen(want), base) ||
		    jg_idxset_find(&c->names, base, strlen(base)) != JG_NONE) {
			*clash = 1;
			return NULL;
		}
	} else if (!jg_store_sanitize(u->basename, strlen(u->basename), base)) {
		snprintf(base, sizeof base, "index.html");
	}
	snprintf(name, sizeof name, "%s", base);
	int foreign_seen = 0;
	for (unsigned k = 1;; k++) {
		if (jg_idxset_find(&c->names, name, strlen(name)) == JG_NONE) {
			if (!held_by_foreign(c, dirfd, name, prior))
				break;
			if (!foreign_seen++ && note_foreign(c, book, name) < 0)
				return NULL;
		}
		snprintf(name, sizeof name, "%s.%u", base, k);
	}
	return book_strdup(c, name);
}

static const char *copy_or_null(struct jg_catalog *c, const char *p, int *failed)
{
	if (!p)
		return NULL;
	const char *q = book_strdup(c, p);
	if (!q)
		*failed = 1;
	return q;
}

/*
 * A prior is believed only for the very file it names: the name this
 * session gives the book, a regular file (no symlink followed) of the
 * size recorded. Returns the checked copy, NULL to fetch as usual.
 */
static struct jg_book_prior *check_prior(struct jg_catalog *c, int dirfd,
                                         const struct jg_book *b, const struct jg_prior *prior,
                                         int *failed)
{
	struct stat st;
	if (!prior || (prior->file && strcmp(prior->file, b->name) != 0) ||
	    prior->use < JG_PRIOR_KEEP || prior->use > JG_PRIOR_REVALIDATE ||
	    fstatat(dirfd, b->name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    (prior->file && (uint64_t)st.st_size != prior->bytes))
		return NULL;
	struct jg_book_prior *p = book_alloc(c, sizeof *p);
	if (!p) {
		*failed = 1;
		return NULL;
	}
	p->use = prior->use;
	p->bytes = (uint64_t)st.st_size;
	p->ino = (uint64_t)st.st_ino;
	p->etag = copy_or_null(c, prior->etag, failed);
	p->last_modified = copy_or_null(c, prior->last_modified, failed);
	p->content_type = copy_or_null(c, prior->content_type, failed);
	return p;
}

int jg_catalog_has_url(const struct jg_catalog *c, const char *url)
{
	return jg_idxset_find(&c->urls, url, strlen(url)) != JG_NONE;
}

struct jg_book *jg_catalog_add(struct jg_catalog *c, int dirfd, const struct jg_url *u,
                               const char *name, const struct jg_prior *prior, void *user,
                               uint64_t seq, uint32_t *idx, int *refused, int *clash)
{
	*clash = 0;
	int fresh;
	struct jg_book *b = book_take(c, idx, &fresh);
	if (!b)
		return NULL;
	memset(b, 0, sizeof *b);
	int failed = 0;
	b->user = user;
	b->seq = seq;
	b->url = book_strdup(c, u->url);
	b->name = b->url ? assign_name(c, dirfd, *idx, u, name, prior, clash) : NULL;
	b->prior = b->name ? check_prior(c, dirfd, b, prior, &failed) : NULL;
	if (!b->name || failed) {
		/* An add that failed leaves nothing behind: no strings, no
		 * foreign name. */
		book_untake(c, *idx, fresh);
		return NULL;
	}
	/* The book counts from here on; the sets index it by slot. */
	if (fresh)
		c->n_books++;
	if (jg_idxset_insert(&c->urls, *idx) < 0 || jg_idxset_insert(&c->names, *idx) < 0) {
		/* A set that failed to grow holds nothing new. */
		jg_catalog_unlist(c, *idx);
		if (fresh)
			c->n_books--;
		book_untake(c, *idx, fresh);
		return NULL;
	}
	c->last_fresh = fresh;
	*refused = prior && !b->prior;
	return b;
}

void jg_catalog_drop(struct jg_catalog *c, uint32_t idx)
{
	jg_catalog_unlist(c, idx);
	if (c->last_fresh)
		c->n_books--;
	book_untake(c, idx, c->last_fresh);
}
