#include "rate.h"

#include <stddef.h>

/* Refills are at least this far apart: a timer per few bytes would cost
 * more than the bytes. */
#define RATE_TICK_MIN 0.005

static void refill(struct jg_rate *r)
{
	double now = ev_now(r->loop);
	r->tokens += (now - r->refilled) * r->per_second;
	if (r->tokens > r->burst)
		r->tokens = 0; /* no head start: the rate holds from the first byte */
	r->refilled = now;
}

static void arm(struct jg_rate *r)
{
	if (ev_is_active(&r->tick) || !r->head)
		return;
	double in = r->tokens < 0 ? -r->tokens / r->per_second : 0;
	ev_timer_set(&r->tick, in > RATE_TICK_MIN ? in : RATE_TICK_MIN, 0.);
	ev_timer_start(r->loop, &r->tick);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jg_rate *r = w->data;
	refill(r);
	/* In order while tokens last: a resumed transfer spends them at once
	 * (curl hands its kept bytes over inside the resume). */
	while (r->head && r->tokens > 0) {
		struct jg_rate_waiter *first = r->head;
		r->head = first->next;
		if (!r->head)
			r->tail = &r->head;
		first->waiting = 0;
		first->next = NULL;
		r->resuming = first;
		r->resume(first);
		r->resuming = NULL;
	}
	arm(r);
}

void jg_rate_init(struct jg_rate *r, struct ev_loop *loop, uint64_t per_second,
                  void (*resume)(struct jg_rate_waiter *w))
{
	r->loop = loop;
	r->per_second = (double)per_second;
	/* An eighth of a second's worth, and at least one read of curl's. */
	r->burst = r->per_second / 8 > 16384 ? r->per_second / 8 : 16384;
	r->tokens = 0; /* no head start: the rate holds from the first byte */
	r->refilled = ev_now(loop);
	r->head = r->resuming = NULL;
	r->tail = &r->head;
	r->resume = resume;
	ev_timer_init(&r->tick, on_tick, 0., 0.);
	r->tick.data = r;
}

void jg_rate_fini(struct jg_rate *r)
{
	if (r->loop)
		ev_timer_stop(r->loop, &r->tick);
}

int jg_rate_may(struct jg_rate *r, const struct jg_rate_waiter *w)
{
	if (r->per_second <= 0)
		return 1;
	if (r->head && r->resuming != w)
		return 0; /* others wait first */
	refill(r);
	return r->tokens > 0;
}

void jg_rate_spend(struct jg_rate *r, uint64_t n)
{
	if (r->per_second > 0)
		r->tokens -= (double)n;
}

void jg_rate_wait(struct jg_rate *r, struct jg_rate_waiter *w)
{
	if (w->waiting)
		return;
	w->waiting = 1;
	w->next = NULL;
	*r->tail = w;
	r->tail = &w->next;
	arm(r);
}

void jg_rate_forget(struct jg_rate *r, struct jg_rate_waiter *w)
{
	if (!w->waiting)
		return;
	for (struct jg_rate_waiter **p = &r->head; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			if (!*p)
				r->tail = p;
			break;
		}
	w->waiting = 0;
}
