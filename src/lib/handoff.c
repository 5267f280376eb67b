#include "handoff.h"

#include "charset.h"

#include <stdlib.h>
#include <string.h>

struct jg_handoff_book {
	struct jg_handoff *h;
	enum jg_pool_job what;
	uint32_t book;
	const char *name;
	struct jg_outcome out;     /* the job's, taken over; bytes: the body's */
	uint64_t held;             /* the body's bytes in the memory budget */
	uint64_t ino;
	/* Parked while counting is held: */
	struct jg_handoff_book *next_parked;
	char *body;
};

void jg_handoff_init(struct jg_handoff *h, struct jg_pool *pool, struct jg_fetch *fetch,
                     const char *dir, unsigned count_flags, unsigned top, jg_handoff_done_fn done,
                     void *ctx)
{
	memset(h, 0, sizeof *h);
	h->pool = pool;
	h->fetch = fetch;
	h->dir = dir;
	h->count_flags = count_flags;
	h->top = top;
	h->done = done;
	h->ctx = ctx;
	h->parked_tail = &h->parked;
}

/* Frees `c`; its body is gone by now (or goes with it): out of the budget. */
static void book_free(struct jg_handoff_book *c)
{
	if (c->held)
		jg_fetch_unhold(c->h->fetch, c->held);
	free(c->body);
	jg_outcome_fini(&c->out);
	free(c);
}

/* A book that ends without the pool's answer (cancelled, out of memory). */
static void end_unanswered(struct jg_handoff_book *c, int err)
{
	struct jg_handoff *h = c->h;
	struct jg_outcome o = {.err = err, .attempts = c->out.attempts};
	h->counting--;
	h->done(h->ctx, c->book, &o);
	book_free(c);
}

static void on_counted(void *user, uint64_t cookie, const struct jg_pool_result *pr)
{
	struct jg_handoff_book *c = (struct jg_handoff_book *)(uintptr_t)cookie;
	struct jg_handoff *h = user;
	c->out.err = pr->err;
	c->out.error = pr->err ? pr->error : NULL;
	c->out.counted = pr;
	h->counting--;
	h->done(h->ctx, c->book, &c->out); /* it points into c and pr until it returns */
	book_free(c);
}

/* The book to the pool, which frees the body. 0, or -1 out of memory. */
static int submit(struct jg_handoff *h, struct jg_handoff_book *c, char *body)
{
	char charset[JG_CHARSET_NAME_MAX + 1];
	jg_content_type_charset(c->out.content_type, charset);
	struct jg_pool_book pb = {
		.job = c->what,
		.body = body,
		.len = c->what == JG_POOL_SAVE ? (size_t)c->out.bytes : 0,
		.dir = h->dir,
		.name = c->name,
		.charset = charset,
		.expect_size = c->out.bytes,
		.expect_ino = c->ino,
		.count = {h->count_flags, h->top, jg_content_type_is_html(c->out.content_type)},
		.done = on_counted,
		.user = h,
		.cookie = (uintptr_t)c,
	};
	if (jg_pool_submit(h->pool, &pb) < 0) {
		free(pb.body);
		return -1;
	}
	return 0;
}

int jg_handoff_give(struct jg_handoff *h, const struct jg_handoff_req *req)
{
	struct jg_handoff_book *c = calloc(1, sizeof *c);
	if (!c) {
		free(req->body);
		jg_fetch_unhold(h->fetch, req->held);
		return -1;
	}
	c->h = h;
	c->what = req->what;
	c->book = req->book;
	c->name = req->name;
	c->out = *req->out;
	c->out.bytes = req->len;
	c->held = req->held;
	c->ino = req->ino;
	if (h->hold) {
		/* Kept here, in the memory budget, until the hold ends. */
		c->body = req->body;
		*h->parked_tail = c;
		h->parked_tail = &c->next_parked;
	} else if (submit(h, c, req->body) < 0) {
		memset(&c->out, 0, sizeof c->out); /* still the caller's */
		book_free(c);
		return -1;
	}
	memset(req->out, 0, sizeof *req->out); /* c owns its strings from here on */
	h->counting++;
	return 0;
}

void jg_handoff_hold(struct jg_handoff *h, int hold)
{
	h->hold = hold != 0;
	if (hold)
		return;
	struct jg_handoff_book *c = h->parked;
	h->parked = NULL;
	h->parked_tail = &h->parked;
	while (c) {
		struct jg_handoff_book *next = c->next_parked;
		char *body = c->body;
		c->body = NULL;
		c->next_parked = NULL;
		if (submit(h, c, body) < 0)
			end_unanswered(c, JG_ENOMEM);
		c = next;
	}
}

static void cancel_one(void *user, uint64_t cookie)
{
	end_unanswered((struct jg_handoff_book *)(uintptr_t)cookie, JG_ECANCELED);
}

void jg_handoff_cancel(struct jg_handoff *h)
{
	while (h->parked) {
		struct jg_handoff_book *c = h->parked;
		h->parked = c->next_parked;
		end_unanswered(c, JG_ECANCELED);
	}
	h->parked_tail = &h->parked;
	if (h->pool)
		jg_pool_forget(h->pool, h, cancel_one);
}
