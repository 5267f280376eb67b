/*
 * --limit-rate: one token bucket for the whole session, on the loop.
 *
 * Why not curl's CURLOPT_MAX_RECV_SPEED_LARGE per transfer: a share of the
 * rate per transfer must be divided again each time a transfer starts or
 * ends, and curl measures its limit over windows of seconds from when it
 * was set, so shares that change under it overshoot or idle; a transfer
 * alone would also get only its share. One bucket on the loop holds the
 * sum exactly whatever the number of transfers, and is fair: a transfer
 * that finds the bucket empty is paused (CURL_WRITEFUNC_PAUSE, so curl
 * keeps the bytes and TCP holds the sender back) and waits in a FIFO;
 * each refill resumes waiters in order while tokens last.
 *
 * The other engines' writes happen on their threads: a session with one
 * of them refuses a rate (curl's own option, measured, does not hold it).
 */
#ifndef JG_RATE_H
#define JG_RATE_H

#include <ev.h>
#include <stdint.h>

struct jg_rate_waiter {
	struct jg_rate_waiter *next;
	int waiting;
};

struct jg_rate {
	struct ev_loop *loop;
	double per_second;          /* 0: no limit */
	double burst;               /* most tokens saved up while idle */
	double tokens;              /* bytes that may come now; < 0: owed */
	double refilled;            /* the loop time tokens were last added */
	ev_timer tick;
	struct jg_rate_waiter *head, **tail;
	struct jg_rate_waiter *resuming; /* the one being resumed: goes first */
	void (*resume)(struct jg_rate_waiter *w);
};

/* `per_second` 0: jg_rate_may() is always 1. */
void jg_rate_init(struct jg_rate *r, struct ev_loop *loop, uint64_t per_second,
                  void (*resume)(struct jg_rate_waiter *w));
void jg_rate_fini(struct jg_rate *r);

/* Whether bytes may come now for `w`: tokens are left, and none wait ahead. */
int jg_rate_may(struct jg_rate *r, const struct jg_rate_waiter *w);
/* `n` bytes came. */
void jg_rate_spend(struct jg_rate *r, uint64_t n);
/* `w` waits for tokens; its resume callback fires when they come. */
void jg_rate_wait(struct jg_rate *r, struct jg_rate_waiter *w);
/* `w` stops waiting (its transfer ended). */
void jg_rate_forget(struct jg_rate *r, struct jg_rate_waiter *w);

#endif
