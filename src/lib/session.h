/* One run's state: ties input, hosts, resolver, fetch and store together. */
#ifndef JG_SESSION_H
#define JG_SESSION_H

#include <ev.h>
#include <stdint.h>

#include "catalog.h"
#include "fetch.h"
#include "handoff.h"
#include "job.h"
#include "hosts.h"
#include "juggle.h"
#include "options.h"
#include "proxy.h"
#include "partial.h"
#include "resolve.h"
#include "robots_gate.h"
#include "stall.h"
#include "store.h"
#include "trash.h"


struct jg_session {
	struct ev_loop *loop;
	struct jg_options opt;
	struct jg_store store;
	struct jg_trash trash;      /* big temporary files, freed a slice at a time */
	struct jg_partials partials; /* large bodies kept to be continued */
	struct jg_fetch fetch;
	struct jg_resolver resolver;
	struct jg_proxies proxies;  /* which URLs go through which proxy */
	struct jg_hosts hosts;
	struct jg_stall stall;
	struct jg_catalog cat;      /* the books added */
	uint64_t added;             /* URLs accepted: the next book's seq */
	struct jg_jobs jobs;        /* admitted books: their attempts and slots */
	struct jg_robots_gate robots; /* robots.txt fetched and kept to (opt.robots) */
	uint32_t *reuse;            /* books kept or recounted without a transfer */
	size_t n_reuse, cap_reuse, next_reuse;
	ev_prepare admit;           /* runs admission before the loop next waits */
	ev_idle admit_more;         /* keeps the loop from waiting: more to admit */
	ev_prepare reap;            /* finishes a free requested from a callback */
	ev_timer pacing;            /* wakes when the next paced host is due */
	jg_book_cb on_book;
	void *on_book_user;
	jg_idle_cb on_idle;
	void *on_idle_user;
	jg_event_cb on_event;
	void *on_event_user;
	char user_agent[32 + sizeof JG_CONTACT_URL];
	uint64_t rng;
	uint64_t ok, failed;
	uint64_t priors_refused;    /* priors given that did not hold */
	uint64_t paced_by_default;  /* books queued for a host paced by its own default */
	struct jg_handoff handoff;  /* books with the pool, or held for it */
	/* The result being reported, and what jg_session_result_mtime() says
	 * of it: NULL outside the book callback. */
	const struct jg_result *reporting;
	const struct timespec *reporting_mtime;
	int draining;
	int freeing;
	int in_callback;
	int idle_reported;
};

#endif
