/*
 * Jobs: one admitted book's attempts, from admission until its end.
 *
 *   resolve -> fetch -> redirect (a new attempt at the new URL)
 *                    -> retry-wait (no slot held) -> ready -> resolve ...
 *                    -> saved (streamed to its file) | body (to the hand-over)
 *                    -> kept (304: the earlier run's file)
 *
 * A job is handed its book's URL, file name and prior at creation and
 * never looks into the session's tables. It answers the session through
 * one callback, with an event (its end, its body to hand over, a slot
 * given back, its host found down), and calls no other stage: the session
 * decides what follows.
 *
 * A job holds a transfer slot (of the session's jobs and of its host)
 * while it resolves and fetches, not while it waits for a retry: a URL
 * waiting seconds for its backoff must not keep others from going (a list
 * of a million URLs to a dead host took days that way).
 */
#ifndef JG_JOB_H
#define JG_JOB_H

#include <ev.h>
#include <stdint.h>

#include "catalog.h"
#include "fetch.h"
#include "handoff.h"
#include "hosts.h"
#include "options.h"
#include "outcome.h"
#include "proxy.h"
#include "partial.h"
#include "resolve.h"
#include "store.h"

struct jg_job;

enum jg_job_event_kind {
	JG_JOB_DONE,       /* the book ended: `outcome` (no hand-over follows) */
	JG_JOB_SLOT_FREE,  /* a slot came free: more may be admitted */
	JG_JOB_HOST_DOWN,  /* `host` is unreachable (`err`, `why`): its queue fails */
	JG_JOB_BODY,       /* the book is whole: hand `req` over to the pool and
	                      set `*taken` (the job ends either way) */
	JG_JOB_NOTE,       /* `note` happened to `book`: for the caller's log */
};

struct jg_job_event {
	enum jg_job_event_kind kind;
	uint32_t book;                 /* DONE */
	const struct jg_outcome *outcome;
	uint32_t host;                 /* HOST_DOWN */
	int err;
	const char *why;
	const struct jg_handoff_req *req; /* BODY */
	int *taken;
	const struct jg_event *note;   /* NOTE (its `user` left to the session) */
};

/* Returns 0 when the session is being freed: the jobs stop calling. */
typedef int (*jg_job_event_fn)(void *ctx, const struct jg_job_event *ev);

/* The jobs of one session, the services they use, and their slots. */
struct jg_jobs {
	struct ev_loop *loop;
	const struct jg_options *opt;
	struct jg_fetch *fetch;
	struct jg_resolver *resolver;
	const struct jg_proxies *proxies; /* which URLs go through which proxy */
	struct jg_hosts *hosts;
	struct jg_store *store;
	struct jg_partials *partials;  /* partial bodies kept and continued */
	uint64_t *rng;                 /* the retries' jitter */
	int streaming;                 /* bodies go straight to files */
	int counting;                  /* kept files are counted again */
	int stopped;                   /* the session is being freed */
	int noting;                    /* the session wants JG_JOB_NOTE events */
	jg_job_event_fn event;
	void *ctx;
	struct jg_job *list;           /* resolving, fetching or waiting */
	struct jg_job *ready, **ready_tail; /* waited for their retry; want a slot */
	uint64_t active, waiting, retries;
	unsigned cap;                  /* fewer transfers than jobs while descriptors
	                                  ran out (0: opt->jobs) */
};

/* The transfers that may run now. */
static inline unsigned jg_jobs_limit(const struct jg_jobs *js)
{
	return js->cap ? js->cap : js->opt->jobs;
}

/*
 * Starts the book `book` (its host's slot taken already) at `url`, which
 * is the book's own or a mirror's. With `may_fall_back` (another mirror
 * may have it), a failure that is the mirror's fault ends the job at
 * once, without retries. 0, or -1 out of memory, having started nothing.
 */
int jg_job_start(struct jg_jobs *js, uint32_t book, uint32_t host, const struct jg_book *b,
                 const char *url, int may_fall_back);

/* Jobs whose retry is due take up to `budget` slots; how many did. */
unsigned jg_jobs_admit_ready(struct jg_jobs *js, unsigned budget);

/* Every job ends cancelled (JG_JOB_DONE with JG_ECANCELED). */
void jg_jobs_cancel(struct jg_jobs *js);

/* The curl transfer callback jg_fetch_init() takes. */
void jg_job_on_transfer_done(struct jg_transfer *t);

#endif
