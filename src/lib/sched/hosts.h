/*
 * Admission order: URLs wait in per-host queues, and hosts that may start
 * another transfer (work waiting, fewer than per-host transfers running)
 * sit in a ring served round-robin. Every operation is O(1), so a million
 * queued URLs cost nothing per admission.
 *
 * Pacing: a host with a wait (wget's -w: at least that long between the
 * starts of two of its requests) is not due until its next start; found
 * in the ring before then, it sleeps in a heap ordered by that time and
 * goes back into the ring when jg_hosts_wake() passes it. Other hosts are
 * never held up by one host's wait.
 */
#ifndef JG_HOSTS_H
#define JG_HOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "idxset.h"

/*
 * What a host's robots.txt says, when the session keeps to it
 * (robots_gate.h); one per scheme, as RFC 9309 has a file per origin.
 */
enum jg_robots_state {
	JG_ROBOTS_UNKNOWN = 0,  /* not asked: robots off, or no URL of that scheme yet */
	JG_ROBOTS_FETCHING,     /* its fetch is in flight: the host's books wait */
	JG_ROBOTS_ALLOW_ALL,    /* a 4xx (or redirects past 5): everything allowed */
	JG_ROBOTS_PARSED,       /* read: each URL is checked against its rules */
	JG_ROBOTS_UNREACHABLE,  /* a 5xx or no answer: everything disallowed this run */
};

struct jg_host {
	char *name;
	unsigned active;            /* admitted and not yet released */
	unsigned failures_in_row;   /* unreachable attempts since the last answer */
	uint32_t head, tail;        /* queued book indices */
	uint32_t ring_next;
	int in_ring;
	int sleeping;               /* in the heap, waiting for next_start */
	unsigned per_host;          /* its limit of transfers at once */
	unsigned limit;             /* the limit now: halved when the server asks
	                               to slow down, grown back by one per
	                               JG_HOSTS_GROW_EVERY answers */
	unsigned ok_run;            /* answers since the last change of limit */
	int paced_by_default;       /* limits from the session's rule for that site */
	double wait;                /* seconds between the starts of its requests */
	double next_start;          /* not due before (the clock of jg_hosts_set_now) */
	/* What the run did with it (jg_host_stats): */
	uint64_t requests, ok, failed, bytes;
	unsigned active_max;
	double waited, slept_at;    /* seconds held back; when it last began to */
	double min_wait;            /* a floor under every wait, random or not
	                               (robots.txt's Crawl-delay) */
	double undo_next_start;     /* next_start before the last pop: jg_hosts_refund */
	int held;                   /* admits nothing until released (jg_hosts_hold) */
	enum jg_robots_state robots[2]; /* [0] http, [1] https */
};

struct jg_host_sleeper {
	double at;
	uint32_t id;
};

struct jg_hosts {
	struct jg_host *v;
	size_t n, cap;
	struct jg_idxset by_name;
	uint32_t *next;             /* per book index: the next queued book */
	size_t next_cap;
	uint32_t ring_head, ring_tail;
	unsigned per_host;
	uint64_t queued;            /* books waiting in all queues */
	double wait;                /* a new host's wait */
	int random_wait;            /* each wait scaled by 0.5 .. 1.5 (wget's) */
	uint64_t *rng;              /* for random_wait */
	double now;                 /* the caller's clock, as last set */
	struct jg_host_sleeper *heap; /* hosts waiting to be due, soonest first */
	size_t n_heap, cap_heap;
};

void jg_hosts_init(struct jg_hosts *h, unsigned per_host);
void jg_hosts_fini(struct jg_hosts *h);
/* The id of host `name`, created on first use; JG_NONE on ENOMEM.
 * `*created` (may be NULL) says whether it is new. */
uint32_t jg_hosts_intern(struct jg_hosts *h, const char *name);
uint32_t jg_hosts_intern_new(struct jg_hosts *h, const char *name, int *created);
/* A host's own limit and wait, in place of the defaults it was made with. */
void jg_hosts_set_limits(struct jg_hosts *h, uint32_t host, unsigned per_host, double wait);
/* The time pacing compares with (the caller's loop clock), before popping. */
static inline void jg_hosts_set_now(struct jg_hosts *h, double now)
{
	h->now = now;
}
/*
 * The server asked to slow down (429, 503): the host's limit halves, never
 * below 1, and with `retry_after` > 0 its next request waits that long (a
 * floor for the host, not only for the URL that was told).
 */
void jg_hosts_back_off(struct jg_hosts *h, uint32_t host, double retry_after);
/* An answer that was no such refusal: the limit grows back, by one per
 * JG_HOSTS_GROW_EVERY of them, up to per_host (additive increase). */
#define JG_HOSTS_GROW_EVERY 5
void jg_hosts_answered(struct jg_hosts *h, uint32_t host);
/* Sleeping hosts that are due by now go back into the ring. */
void jg_hosts_wake(struct jg_hosts *h);
/* When the next sleeping host is due; 0 when none sleeps. */
double jg_hosts_next_wake(const struct jg_hosts *h);
/* Queues book `book` behind host `host`. 0, or -1 on ENOMEM. */
int jg_hosts_push_book(struct jg_hosts *h, uint32_t host, uint32_t book);

/*
 * Takes the next admissible book into `*book` and counts it as active on
 * its host, whose id it returns; JG_NONE when nothing is admissible.
 */
uint32_t jg_hosts_pop(struct jg_hosts *h, uint32_t *book);
/*
 * Held, a host admits nothing (its books wait, its slots stay counted)
 * until it is released; jg_hosts_release_hold() puts it back in turn.
 */
void jg_hosts_hold(struct jg_hosts *h, uint32_t host);
void jg_hosts_release_hold(struct jg_hosts *h, uint32_t host);
/*
 * The book just popped from `host` goes back to the head of its queue;
 * the slot and the pacing start the pop took stay taken (they are spent
 * on another request in its place: its robots.txt).
 */
void jg_hosts_unpop(struct jg_hosts *h, uint32_t host, uint32_t book);
/*
 * The book just popped from `host` was not requested (robots.txt forbids
 * it): the slot and the place in the pacing the pop took are given back.
 * Only right after that pop, before another of the same host.
 */
void jg_hosts_refund(struct jg_hosts *h, uint32_t host);
/*
 * Never less than `seconds` between two starts of `host`, whatever the
 * wait and --random-wait say; the next start is held back accordingly
 * from the last one, at `since`.
 */
void jg_hosts_set_min_wait(struct jg_hosts *h, uint32_t host, double seconds, double since);
/* One admitted book of `host` is finished with. */
void jg_hosts_release(struct jg_hosts *h, uint32_t host);
/* A book of `host` was reported: saved (`bytes`) or failed. */
void jg_hosts_book_done(struct jg_hosts *h, uint32_t host, int ok, uint64_t bytes);
/* Takes a slot of `host` for a book admitted before (a retry): 1, or 0
 * when the host has per-host transfers already. */
int jg_hosts_try_acquire(struct jg_hosts *h, uint32_t host);
/* Removes every queued book of `host`, calling `fn` for each. */
void jg_hosts_drain_host(struct jg_hosts *h, uint32_t host,
                         void (*fn)(void *ctx, uint32_t book), void *ctx);
/* Removes every queued book, calling `fn` for each, in queue order. */
void jg_hosts_drain_books(struct jg_hosts *h, void (*fn)(void *ctx, uint32_t book), void *ctx);

#endif
