#include "session.h"
#include "grow.h"

#include "catalog.h"
#include "handoff.h"
#include "job.h"
#include "outcome.h"
#include "engine.h"
#include "pool.h"
#include "retry.h"
#include "url.h"

#include <ares.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A result's "DIR/name": the directory may take PATH_MAX - 1 bytes. */
#define JG_RESULT_PATH (PATH_MAX + JG_NAME_MAX + 32)

static void hex_digest(const uint8_t d[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[64] = '\0';
}

static char *strdup_or_null(const char *p)
{
	return p ? strdup(p) : NULL;
}

static void kick(struct jg_session *s);

/* ---- reporting ---------------------------------------------------------- */

static int notify(struct jg_session *s, uint32_t idx, const struct jg_result *r);

/* Mirrors (with the add functions, below). */
static int to_next_mirror(struct jg_session *s, uint32_t idx, const struct jg_outcome *o);
static const char *url_now(const struct jg_session *s, const struct jg_book *b, char *buf,
                           size_t len);

/*
 * The one place a book's outcome becomes its public result, and is
 * reported. Returns 0 when the session is being freed.
 */
static int report(struct jg_session *s, uint32_t idx, const struct jg_outcome *o)
{
	if (o->err != JG_OK && to_next_mirror(s, idx, o))
		return 1;
	const struct jg_book *b = jg_catalog_book(&s->cat, idx);
	char path[JG_RESULT_PATH], sha[65];
	snprintf(path, sizeof path, "%s/%s", s->store.dir, b->name);
	int ok = o->err == JG_OK;
	const struct jg_pool_result *pr = o->counted;
	char why[1024];
	const char *error = ok ? "" : o->error ? o->error : jg_strerror(o->err);
	if (!ok && b->mirror && s->opt.n_mirrors > 1 && o->err != JG_ECANCELED) {
		snprintf(why, sizeof why, "%.900s (every mirror failed it: %zu tried)", error,
		         s->opt.n_mirrors);
		error = why;
	}
	struct jg_result r = {
		.url = b->url,
		.final_url = o->final_url ? o->final_url : b->url,
		.file = ok ? path : NULL,
		.user = b->user,
		.index = b->seq,
		.err = o->err,
		.error = error,
		.http_code = o->http_code,
		.bytes = ok ? o->bytes : 0,
		.attempts = o->attempts + b->attempts_before,
		.redirects = o->redirects,
		.elapsed = o->started > 0 ? ev_now(s->loop) - o->started : 0,
		.foreign_file = jg_catalog_foreign_name(&s->cat, idx),
	};
	if (ok) {
		r.reused = o->reused;
		r.continued_from = o->continued_from;
		r.etag = o->etag;
		r.last_modified = o->last_modified;
		r.content_type = o->content_type;
	}
	if (ok && pr) {
		r.counted = !(s->opt.count_flags & JG_COUNT_OFF);
		r.words = pr->words;
		r.distinct = pr->distinct;
		r.n_top = pr->n_top;
		r.top = pr->top;
		if (pr->sha256) {
			hex_digest(pr->sha256, sha);
			r.sha256 = sha;
		}
		r.charset = pr->charset;
		r.charset_from = pr->charset_from;
		r.charset_note = pr->charset_note && *pr->charset_note ? pr->charset_note : NULL;
	}
	/* A callback may add a URL that is reported at once: one inside the
	 * other, each sees its own. */
	const struct jg_result *outer = s->reporting;
	const struct timespec *outer_mtime = s->reporting_mtime;
	s->reporting = &r;
	s->reporting_mtime = ok && o->stamped ? &o->mtime : NULL;
	int alive = notify(s, idx, &r);
	s->reporting = outer;
	s->reporting_mtime = outer_mtime;
	return alive;
}

/* Calls the user back; returns 0 when the session is being freed. */
static int notify(struct jg_session *s, uint32_t idx, const struct jg_result *r)
{
	struct jg_result cancelled;
	if (s->freeing && r->err != JG_ECANCELED) {
		/* Freed from a callback: what ends meanwhile is only cancelled. */
		cancelled = *r;
		cancelled.err = JG_ECANCELED;
		cancelled.error = jg_strerror(JG_ECANCELED);
		cancelled.file = NULL;
		cancelled.counted = 0;
		cancelled.n_top = 0;
		r = &cancelled;
	}
	if (r->err == JG_OK)
		s->ok++;
	else if (r->err != JG_ECANCELED)
		s->failed++;
	/* A book kept from an earlier run asked nothing of its host. */
	if (r->err != JG_ECANCELED && !(r->reused && r->attempts == 0))
		jg_hosts_book_done(&s->hosts, jg_catalog_book(&s->cat, idx)->host, r->err == JG_OK,
		                   r->bytes);
	int forget = s->opt.forget_finished;
	if (forget)
		jg_catalog_unlist(&s->cat, idx); /* the callback may add the same URL again */
	if (s->on_book) {
		s->in_callback++;
		s->on_book(s, r, s->on_book_user);
		s->in_callback--;
	}
	if (forget)
		jg_catalog_forget(&s->cat, idx); /* `r` pointed into the book until here */
	return !s->freeing;
}

/* Reports a book that ends without a transfer of its own (cancel, ENOMEM). */
static int report_unfinished(struct jg_session *s, uint32_t idx, int err, unsigned attempts)
{
	struct jg_outcome o = {.err = err, .attempts = attempts};
	return report(s, idx, &o);
}

/* A queued book failed without an attempt of its own (its host tripped). */
static int report_failed(struct jg_session *s, uint32_t idx, int err, const char *why)
{
	struct jg_outcome o = {.err = err, .error = why};
	return report(s, idx, &o);
}

/* Reports idleness once per stretch of it: admission may run many times. */
static void maybe_idle(struct jg_session *s)
{
	if (s->freeing || s->jobs.list || s->handoff.counting || s->robots.fetching ||
	    ((s->hosts.queued || s->next_reuse < s->n_reuse) && !s->draining) || s->idle_reported)
		return;
	s->idle_reported = 1;
	if (!s->on_idle)
		return;
	s->in_callback++;
	s->on_idle(s, s->on_idle_user);
	s->in_callback--;
}

struct tripped {
	struct jg_session *s;
	int err;
	const char *why;
};

static void fail_queued(void *ctx, uint32_t book)
{
	struct tripped *t = ctx;
	report_failed(t->s, book, t->err, t->why);
}

/* The caller's log: an event of book `idx`, as it happens. */
static void tell_event(struct jg_session *s, uint32_t idx, const struct jg_event *e)
{
	if (!s->on_event || s->freeing)
		return;
	struct jg_event copy = *e;
	copy.user = jg_catalog_book(&s->cat, idx)->user;
	s->in_callback++;
	s->on_event(s, &copy, s->on_event_user);
	s->in_callback--;
}

/* The jobs' answer: a book's end, a slot come free, a host gone down. */
static int on_job_event(void *ctx, const struct jg_job_event *ev)
{
	struct jg_session *s = ctx;
	switch (ev->kind) {
	case JG_JOB_DONE:
		return report(s, ev->book, ev->outcome);
	case JG_JOB_SLOT_FREE:
		kick(s);
		break;
	case JG_JOB_BODY:
		*ev->taken = jg_handoff_give(&s->handoff, ev->req) == 0;
		break;
	case JG_JOB_NOTE:
		tell_event(s, ev->book, ev->note);
		break;
	case JG_JOB_HOST_DOWN: {
		/* Its queued URLs fail now, naming the host, rather than each
		 * waiting out its own retries; the jobs fail those waiting. */
		struct tripped t = {s, ev->err, ev->why};
		jg_hosts_drain_host(&s->hosts, ev->host, fail_queued, &t);
		break;
	}
	}
	return !s->freeing;
}

/* The hand-over's answer: a book's end, counted or not. */
static int on_handed_back(void *ctx, uint32_t book, const struct jg_outcome *o)
{
	struct jg_session *s = ctx;
	int alive = report(s, book, o);
	if (alive)
		kick(s);
	return alive;
}

/* ---- admission ---------------------------------------------------------- */

static int may_admit(const struct jg_session *s)
{
	/* Bodies in flight, parked, or with the pool, and decoders: all
	 * counted from their first byte until freed. */
	uint64_t held = s->fetch.in_memory;
	/* Downloads can outrun the workers (small books, slow disks): past a
	 * few books per slot waiting to be counted, a backlog only costs
	 * memory, so wait for the workers. */
	uint64_t backlog_max = 4 * (uint64_t)s->opt.jobs + 64;
	/* A robots.txt in flight is a transfer too. */
	uint64_t active = s->jobs.active + s->robots.fetching;
	return !s->draining && !s->freeing && active < jg_jobs_limit(&s->jobs) &&
	       held < s->opt.max_buffer &&
	       s->handoff.counting < backlog_max;
}

/*
 * What the host's robots.txt says of the book just popped: 1 it goes; 0
 * it waits in its queue for that robots.txt, or was refused (reported).
 */
static int robots_let_in(struct jg_session *s, uint32_t book, uint32_t host, const char *url)
{
	char why[600];
	switch (jg_robots_gate_check(&s->robots, host, book, url, why, sizeof why)) {
	case JG_ROBOTS_GO:
		return 1;
	case JG_ROBOTS_DENY:
		report_failed(s, book, JG_EROBOTS, why);
		break;
	case JG_ROBOTS_WAIT:
		break;
	}
	return 0;
}

static void admit_one(struct jg_session *s, uint32_t book, uint32_t host)
{
	s->idle_reported = 0;
	const struct jg_book *b = jg_catalog_book(&s->cat, book);
	char buf[JG_URL_MAX + 64];
	const char *url = url_now(s, b, buf, sizeof buf); /* a mirror's, perhaps */
	if (!url) {
		jg_hosts_release(&s->hosts, host);
		report_failed(s, book, JG_ETOOLONG, "the URL on this mirror is too long");
		return;
	}
	if (s->opt.robots && !robots_let_in(s, book, host, url))
		return;
	if (jg_job_start(&s->jobs, book, host, b, url, b->mirror && b->mirrors_left) < 0) {
		/* Report without a job: count the slot back first. */
		jg_hosts_release(&s->hosts, host);
		report_unfinished(s, book, JG_ENOMEM, 0);
	}
}

/* A book kept from an earlier run, reported without a transfer. */
static int report_kept(struct jg_session *s, uint32_t idx)
{
	const struct jg_book_prior *prior = jg_catalog_book(&s->cat, idx)->prior;
	struct jg_outcome o = {
		.bytes = prior->bytes,
		.reused = 1,
		.etag = prior->etag, /* borrowed: this outcome is never finished */
		.last_modified = prior->last_modified,
		.content_type = prior->content_type,
	};
	return report(s, idx, &o);
}

/* A book whose saved file is counted again, without a transfer. */
static int recount_kept(struct jg_session *s, uint32_t idx)
{
	const struct jg_book *b = jg_catalog_book(&s->cat, idx);
	const struct jg_book_prior *prior = b->prior;
	struct jg_outcome o = {
		.started = ev_now(s->loop),
		.reused = 1,
		.etag = strdup_or_null(prior->etag),
		.last_modified = strdup_or_null(prior->last_modified),
		.content_type = strdup_or_null(prior->content_type),
	};
	struct jg_handoff_req req = {
		.what = JG_POOL_RECOUNT,
		.book = idx,
		.name = b->name,
		.out = &o,
		.len = prior->bytes,
		.ino = prior->ino,
	};
	if (jg_handoff_give(&s->handoff, &req) == 0)
		return 1;
	jg_outcome_fini(&o);
	return report_unfinished(s, idx, JG_ENOMEM, 0);
}

/* Books kept from an earlier run: cheap, but bounded per turn as well. */
static void reuse_some(struct jg_session *s)
{
	uint64_t backlog_max = 4 * (uint64_t)s->opt.jobs + 64;
	while (s->next_reuse < s->n_reuse && !s->draining && !s->freeing && !jg_slice_spent(s->loop)) {
		uint32_t idx = s->reuse[s->next_reuse];
		int recount = jg_catalog_book(&s->cat, idx)->prior->use == JG_PRIOR_RECOUNT && s->jobs.counting;
		if (recount && s->handoff.counting >= backlog_max)
			return; /* the workers' answers kick admission again */
		s->next_reuse++;
		int alive = recount ? recount_kept(s, idx) : report_kept(s, idx);
		if (!alive)
			return;
	}
	if (s->next_reuse == s->n_reuse)
		s->next_reuse = s->n_reuse = 0; /* all taken: the list starts over */
}

/*
 * New transfers per loop iteration. Each costs curl some 100 us to start
 * (socket, connect, options) in its next timer action, which cannot be
 * cut short: 16 keep that under 2 ms, and still start 2,000 transfers
 * within a few hundred milliseconds.
 */
enum { ADMIT_PER_TURN = 16 };

/* The next paced host is due: admission goes on. */
static void on_pacing(struct ev_loop *loop, ev_timer *w, int revents)
{
	kick(w->data);
}

/* Sets the pacing timer for the host due next, if one sleeps. */
static void arm_pacing(struct jg_session *s)
{
	double at = jg_hosts_next_wake(&s->hosts);
	if (ev_is_active(&s->pacing))
		ev_timer_stop(s->loop, &s->pacing);
	if (at <= 0 || s->freeing)
		return;
	double in = at - ev_now(s->loop);
	ev_timer_set(&s->pacing, in > 0 ? in : 0, 0.);
	ev_timer_start(s->loop, &s->pacing);
}

static void on_admit(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct jg_session *s = w->data;
	ev_prepare_stop(loop, w);
	jg_hosts_set_now(&s->hosts, ev_now(loop));
	jg_hosts_wake(&s->hosts);
	reuse_some(s);
	if (s->freeing)
		return;
	uint32_t book;
	uint32_t host;
	unsigned admitted = jg_jobs_admit_ready(&s->jobs, ADMIT_PER_TURN);
	if (s->freeing)
		return;
	while (may_admit(s) && admitted < ADMIT_PER_TURN && !jg_slice_spent(loop) &&
	       (host = jg_hosts_pop(&s->hosts, &book)) != JG_NONE) {
		admit_one(s, book, host);
		admitted++;
	}
	if (s->freeing)
		return;
	arm_pacing(s);
	int more_reuse = s->next_reuse < s->n_reuse && !s->draining && jg_slice_spent(loop);
	if (more_reuse ||
	    ((may_admit(s) || s->jobs.ready) && (s->hosts.queued || s->jobs.ready) &&
	     (admitted == ADMIT_PER_TURN || jg_slice_spent(loop)))) {
		/* Out of time with more to admit: go on next turn, without
		 * waiting for an event (an idle watcher keeps poll from blocking). */
		ev_prepare_start(loop, w);
		ev_idle_start(loop, &s->admit_more);
		return;
	}
	maybe_idle(s);
}

static void on_admit_more(struct ev_loop *loop, ev_idle *w, int revents)
{
	ev_idle_stop(loop, w);
}

/* Admission runs from the loop, never inside the caller's call. */
static void kick(struct jg_session *s)
{
	if (!s->freeing && !ev_is_active(&s->admit))
		ev_prepare_start(s->loop, &s->admit);
}

/* ---- public API --------------------------------------------------------- */

static uint64_t seed(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
}

/* jg_store_list()'s callback: one file that was there before us. */
static int remember_existing(void *ctx, const char *name)
{
	return jg_catalog_note_existing(ctx, name);
}

/* Transfers end here: a robots.txt's goes to the gate, the rest to their jobs. */
static void on_transfer_done(struct jg_transfer *t)
{
	struct jg_session *s = (struct jg_session *)(void *)((char *)t->f -
	                                                     offsetof(struct jg_session, fetch));
	if (!s->opt.robots || !jg_robots_gate_take(&s->robots, t))
		jg_job_on_transfer_done(t);
}

/* A host's robots.txt is known: its books may go. */
static void on_robots_ready(void *ctx)
{
	kick(ctx);
}

/* Large bodies are kept and continued unless turned off, or the caller
 * asks for ranges of its own (-H Range), which would be theirs to judge. */
static int continuing(const struct jg_options *o)
{
	for (size_t i = 0; i < o->n_headers; i++)
		if (strncasecmp(o->headers[i], "Range:", 6) == 0 ||
		    strncasecmp(o->headers[i], "If-Range:", 9) == 0)
			return 0;
	return !o->no_continue;
}

static int setup(struct jg_session *s, char *why, size_t why_len)
{
	if (jg_store_open(&s->store, s->opt.output_dir, (uint32_t)jg_rng_next(&s->rng), why,
	                  why_len) < 0)
		return errno == ENAMETOOLONG ? JG_EINVAL : JG_EIO;
	int locked = jg_store_lock(&s->store, why, why_len);
	if (locked != 0)
		return locked > 0 ? JG_EBUSY : JG_EIO;
	jg_store_sweep(&s->store); /* only now: the lock says no one else writes here */
	jg_trash_init(&s->trash, s->loop);
	s->store.trash = &s->trash;
	if (jg_partials_open(&s->partials, &s->store, continuing(&s->opt), why, why_len) < 0)
		return JG_EIO;
	if (jg_store_list(&s->store, remember_existing, &s->cat) != 0) {
		snprintf(why, why_len, "%s: cannot list it: %s", s->opt.output_dir, strerror(errno));
		return JG_EIO;
	}
	if (jg_resolver_init(&s->resolver, s->loop, s->opt.dns_servers, why, why_len) < 0)
		return JG_EINVAL;
	for (size_t i = 0; i < s->opt.n_resolve; i++)
		if (jg_resolver_pin(&s->resolver, s->opt.resolve[i]) < 0)
			return JG_ENOMEM;
	/* The setters validated these: only memory can fail here. */
	if (jg_proxies_init(&s->proxies, s->opt.proxy_http, s->opt.proxy_https, s->opt.noproxy, why,
	                    why_len) < 0)
		return JG_EINVAL;
	/* Crawlers' manners: name the program and, when the build says where,
	 * a page for the server's operator ("+URL", as search engines do). */
	if (*JG_CONTACT_URL)
		snprintf(s->user_agent, sizeof s->user_agent, "juggle/%s (+%s)", JG_VERSION,
		         JG_CONTACT_URL);
	else
		snprintf(s->user_agent, sizeof s->user_agent, "juggle/%s", JG_VERSION);
	const char *ua = s->opt.user_agent ? s->opt.user_agent : s->user_agent;
	struct jg_fetch_config cfg = {
		.connect_timeout = s->opt.connect_timeout,
		.stall_timeout = s->opt.stall_timeout,
		.max_size = s->opt.max_size,
		.max_buffer = s->opt.max_buffer,
		.limit_rate = s->opt.limit_rate,
		.store = &s->store,
		.partials = &s->partials,
		.cacert = s->opt.cacert,
		.user_agent = ua,
		.headers = s->opt.headers,
		.n_headers = s->opt.n_headers,
		.engine = s->opt.engine == JG_ENGINE_LOOP ? &jg_engine_multi : &jg_engine_threads,
		.threads = s->opt.threads,
		.max_connections = s->opt.jobs, /* one per transfer slot */
	};
	if (jg_fetch_init(&s->fetch, s->loop, &cfg, on_transfer_done, why, why_len) < 0)
		return JG_EINTERNAL;
	if (s->opt.robots && jg_robots_gate_init(&s->robots, s->loop, &s->fetch, &s->resolver,
	                                         &s->hosts, &s->store, ua, on_robots_ready, s,
	                                         why, why_len) < 0)
		return JG_EIO;
	s->robots.proxies = &s->proxies;
	/* Without counting, workers would only copy bodies to disk: the body
	 * streams to its file as it arrives instead, holding no memory. */
	s->jobs = (struct jg_jobs){
		.loop = s->loop,
		.opt = &s->opt,
		.fetch = &s->fetch,
		.resolver = &s->resolver,
		.proxies = &s->proxies,
		.hosts = &s->hosts,
		.store = &s->store,
		.partials = &s->partials,
		.rng = &s->rng,
		.streaming = !s->opt.pool || (s->opt.count_flags & JG_COUNT_OFF),
		.counting = s->opt.pool && !(s->opt.count_flags & JG_COUNT_OFF),
		.event = on_job_event,
		.ctx = s,
	};
	s->jobs.ready_tail = &s->jobs.ready;
	if (s->opt.pool && jg_pool_attach(s->opt.pool, s->loop) < 0) {
		snprintf(why, why_len, "the worker pool runs on another loop");
		return JG_EINVAL;
	}
	if (s->jobs.counting)
		s->fetch.stream_over = JG_FETCH_STREAM_OVER;
	return JG_OK;
}

JG_EXPORT int jg_session_new(struct jg_session **out, struct ev_loop *loop,
                             const struct jg_options *opts, char *errbuf)
{
	char why[JG_ERRBUF_SIZE] = "out of memory";
	int err = JG_ENOMEM;
	*out = NULL;
	if (!loop) {
		snprintf(why, sizeof why, "no loop given");
		err = JG_EINVAL;
		goto fail_early;
	}
	struct jg_session *s = calloc(1, sizeof *s);
	if (!s)
		goto fail_early;
	s->loop = loop;
	s->rng = seed();
	s->store.dirfd = -1;
	s->partials.dirfd = s->partials.statefd = -1; /* none to close if set-up fails first */
	ev_prepare_init(&s->admit, on_admit);
	s->admit.data = s;
	ev_idle_init(&s->admit_more, on_admit_more);
	if (jg_options_copy(&s->opt, opts) < 0) {
		free(s);
		goto fail_early;
	}
	jg_catalog_init(&s->cat, s->opt.forget_finished);
	if (s->opt.engine == JG_ENGINE_SERIAL)
		s->opt.jobs = s->opt.threads = 1;
	else if (s->opt.engine == JG_ENGINE_THREADS && s->opt.threads == 0)
		s->opt.threads = s->opt.jobs;
	jg_hosts_init(&s->hosts, s->opt.per_host);
	s->hosts.wait = s->opt.wait;
	s->hosts.random_wait = s->opt.random_wait;
	s->hosts.rng = &s->rng;
	ev_timer_init(&s->pacing, on_pacing, 0., 0.);
	s->pacing.data = s;
	if (s->opt.limit_rate && s->opt.engine != JG_ENGINE_LOOP) {
		/* The bucket lives on the loop (rate.h); curl's own per-transfer
		 * limit, all the other engines could use, let 2 MiB of a fast
		 * server through in 13 ms at 512K: no limit to offer. */
		snprintf(why, sizeof why, "a rate limit needs the loop engine");
		jg_session_free(s);
		err = JG_EINVAL;
		goto fail_early;
	}
	if ((err = setup(s, why, sizeof why)) != JG_OK) {
		jg_session_free(s);
		goto fail_early;
	}
	jg_handoff_init(&s->handoff, s->opt.pool, &s->fetch, s->store.dir, s->opt.count_flags,
	                s->opt.top, on_handed_back, s);
	jg_stall_start(&s->stall, loop);
	*out = s;
	return JG_OK;
fail_early:
	if (errbuf)
		snprintf(errbuf, JG_ERRBUF_SIZE, "%s", why);
	return err;
}

JG_EXPORT int jg_session_result_mtime(const struct jg_session *s, const struct jg_result *r,
                                      struct timespec *mtime)
{
	if (!s || !r || !mtime || r != s->reporting || !s->reporting_mtime)
		return JG_EINVAL;
	*mtime = *s->reporting_mtime;
	return JG_OK;
}

JG_EXPORT void jg_session_on_book(struct jg_session *s, jg_book_cb cb, void *user)
{
	s->on_book = cb;
	s->on_book_user = user;
}

JG_EXPORT void jg_session_on_idle(struct jg_session *s, jg_idle_cb cb, void *user)
{
	s->on_idle = cb;
	s->on_idle_user = user;
}

JG_EXPORT void jg_session_on_event(struct jg_session *s, jg_event_cb cb, void *user)
{
	s->on_event = cb;
	s->on_event_user = user;
	s->jobs.noting = cb != NULL;
}

static int queue_reuse(struct jg_session *s, uint32_t idx)
{
	if (jg_grow(&s->reuse, &s->cap_reuse, s->n_reuse, sizeof *s->reuse, 64) < 0)
		return -1;
	s->reuse[s->n_reuse++] = idx;
	return 0;
}

/*
 * Project Gutenberg's terms: its main site is for people; automated tools
 * get their address blocked unless they go one request at a time, 2 s
 * apart (its own harvesting example is `wget -w 2`), and bulk downloads
 * belong on a mirror. Unless the caller set a limit or a wait, juggle
 * keeps to that for these names.
 */
enum { GUTENBERG_PER_HOST = 1 };
#define GUTENBERG_WAIT 2.0

static int is_gutenberg(const char *host)
{
	return strcmp(host, "www.gutenberg.org") == 0 || strcmp(host, "gutenberg.org") == 0;
}

/* The host (politeness slot) of `u`, created on first use. JG_NONE: ENOMEM. */
static uint32_t host_of(struct jg_session *s, const struct jg_url *u)
{
	/* A host is a name and port: what one server answers on, and what
	 * fails together when it is down. */
	char key[JG_URL_MAX + 16];
	snprintf(key, sizeof key, "%s:%ld", u->host, u->port);
	int created;
	uint32_t host = jg_hosts_intern_new(&s->hosts, key, &created);
	if (host != JG_NONE && created && is_gutenberg(u->host) && !s->opt.per_host_set &&
	    !s->opt.wait_set) {
		jg_hosts_set_limits(&s->hosts, host, GUTENBERG_PER_HOST, GUTENBERG_WAIT);
		s->hosts.v[host].paced_by_default = 1;
	}
	return host;
}

/*
 * Where a book goes now: its own URL, or, for an ebook number moved on to
 * another mirror, that mirror's URL (written to `buf`). NULL: too long.
 */
static const char *url_now(const struct jg_session *s, const struct jg_book *b, char *buf,
                           size_t len)
{
	size_t n = s->opt.n_mirrors;
	if (!b->mirror || n < 2)
		return b->url;
	size_t now = b->mirror - 1u, tried = n - 1 - b->mirrors_left;
	if (tried == 0)
		return b->url;
	/* The number, from the first mirror's ".../pgN.txt" (parsed, so
	 * perhaps not spelled as the mirror was: only the end is sure). */
	const char *pg = strrchr(b->url, '/');
	char number[16];
	size_t digits = pg ? strspn(pg + 3, "0123456789") : 0;
	if (!pg || strncmp(pg, "/pg", 3) != 0 || digits == 0 || digits >= sizeof number)
		return NULL;
	memcpy(number, pg + 3, digits);
	number[digits] = '\0';
	return jg_url_expand_ebook(number, s->opt.mirrors[now], buf, len) ? buf : NULL;
}

/*
 * A failed ebook number goes to its next mirror when the failure was its
 * mirror's (jg_retry_is_mirrors_fault): queued there, ahead of no one,
 * its attempts so far kept. 1 when it did; 0 to report the failure.
 */
static int to_next_mirror(struct jg_session *s, uint32_t idx, const struct jg_outcome *o)
{
	struct jg_book *b = jg_catalog_book(&s->cat, idx);
	if (!b->mirror || !b->mirrors_left || s->draining || s->freeing ||
	    !jg_retry_is_mirrors_fault(o->err, o->http_code))
		return 0;
	uint8_t was = b->mirror, left = b->mirrors_left;
	b->mirror = (uint8_t)(b->mirror % s->opt.n_mirrors + 1);
	b->mirrors_left--;
	char buf[JG_URL_MAX + 64];
	const char *url = url_now(s, b, buf, sizeof buf);
	struct jg_url u;
	uint32_t host = JG_NONE;
	if (url && jg_url_parse(url, &u, NULL, 0) == JG_OK) {
		host = host_of(s, &u);
		jg_url_fini(&u);
	}
	if (host == JG_NONE || jg_hosts_push_book(&s->hosts, host, idx) < 0) {
		b->mirror = was;
		b->mirrors_left = left;
		return 0;
	}
	b->host = host;
	unsigned sum = b->attempts_before + o->attempts;
	b->attempts_before = (uint16_t)(sum > UINT16_MAX ? UINT16_MAX : sum);
	struct jg_event e = {.kind = JG_EVENT_MIRROR, .url = url,
	                     .detail = o->error ? o->error : jg_strerror(o->err),
	                     .attempt = b->attempts_before};
	tell_event(s, idx, &e);
	s->idle_reported = 0;
	kick(s);
	return 1;
}

/* `mirror`: the ebook number's first mirror, + 1; 0 for a URL. `name`:
 * the caller's file name, NULL: from the URL. */
static int add_parsed(struct jg_session *s, const struct jg_url *u, const char *name,
                      const struct jg_prior *prior, void *user, unsigned mirror)
{
	if (jg_catalog_has_url(&s->cat, u->url))
		return JG_EDUPLICATE;
	uint32_t host = host_of(s, u), idx;
	if (host == JG_NONE)
		return JG_ENOMEM;
	int refused, clash;
	struct jg_book *b = jg_catalog_add(&s->cat, s->store.dirfd, u, name, prior, user, s->added,
	                                   &idx, &refused, &clash);
	if (!b)
		return clash ? JG_ENAME : JG_ENOMEM;
	b->host = host;
	if (mirror) {
		b->mirror = (uint8_t)mirror;
		b->mirrors_left = (uint8_t)(s->opt.n_mirrors - 1);
	}
	/* Kept and recounted books need no transfer slot: a list of their own. */
	int reuse = b->prior && b->prior->use != JG_PRIOR_REVALIDATE;
	if ((reuse ? queue_reuse(s, idx) : jg_hosts_push_book(&s->hosts, host, idx)) < 0) {
		jg_catalog_drop(&s->cat, idx);
		return JG_ENOMEM;
	}
	s->added++;
	s->idle_reported = 0;
	kick(s);
	if (refused)
		s->priors_refused++;
	if (!reuse && s->hosts.v[host].paced_by_default)
		s->paced_by_default++;
	return refused ? JG_PRIOR_REFUSED : JG_OK;
}

static int add(struct jg_session *s, const char *url, const char *name,
               const struct jg_prior *prior, void *user)
{
	if (!s || !url)
		return JG_EINVAL;
	if (s->draining || s->freeing)
		return JG_EDRAINING;
	char expanded[JG_URL_MAX + 64];
	unsigned mirror = 0;
	if (jg_url_is_ebook(url)) {
		/* Spread over the mirrors, the same way in every run. */
		char number[16];
		int w = snprintf(number, sizeof number, "%lu", strtoul(url, NULL, 10));
		mirror = (unsigned)(jg_hash_str(number, (size_t)w) % s->opt.n_mirrors);
		if (!jg_url_expand_ebook(url, s->opt.mirrors[mirror++], expanded, sizeof expanded))
			return JG_ETOOLONG;
		url = expanded;
	}
	struct jg_url u;
	int err = jg_url_parse(url, &u, NULL, 0);
	if (err != JG_OK)
		return err;
	err = add_parsed(s, &u, name, prior, user, mirror);
	jg_url_fini(&u);
	return err;
}

JG_EXPORT int jg_session_add_url(struct jg_session *s, const char *url, void *user)
{
	return add(s, url, NULL, NULL, user);
}

/*
 * The sized structs as 0.3 had them, for the functions programs built
 * against 0.3 call: their last field then. They never change.
 */
#define PRIOR_SIZE_0_3 (offsetof(struct jg_prior, content_type) + sizeof(const char *))
#define STATS_SIZE_0_3 (offsetof(struct jg_stats, threads) + sizeof(unsigned))

JG_EXPORT int jg_session_add_prior_sized(struct jg_session *s, const char *url,
                                         const struct jg_prior *prior, size_t prior_size,
                                         void *user)
{
	if (!prior)
		return JG_EINVAL;
	return jg_session_add_named(s, url, NULL, prior, prior_size, user);
}

JG_EXPORT int jg_session_add_named(struct jg_session *s, const char *url, const char *name,
                                   const struct jg_prior *prior, size_t prior_size, void *user)
{
	if (name && !*name)
		return JG_ENAME;
	if (!prior)
		return add(s, url, name, NULL, user);
	if (prior_size < PRIOR_SIZE_0_3)
		return JG_EINVAL;
	/* A larger struct than ours: its fields beyond ours are not read. A
	 * smaller one (an older program's) would leave ours past its end as 0. */
	struct jg_prior p = {0};
	memcpy(&p, prior, prior_size < sizeof p ? prior_size : sizeof p);
	int rc = add(s, url, name, &p, user);
	return rc == JG_PRIOR_REFUSED ? JG_OK : rc;
}

JG_EXPORT uint64_t jg_session_paced_by_default(const struct jg_session *s)
{
	return s ? s->paced_by_default : 0;
}

JG_EXPORT uint64_t jg_session_priors_refused(const struct jg_session *s)
{
	return s ? s->priors_refused : 0;
}

/* The 0.3 entry point: a 0.3 struct, JG_PRIOR_REFUSED when refused. */
JG_EXPORT int (jg_session_add_prior)(struct jg_session *s, const char *url,
                                     const struct jg_prior *prior, void *user)
{
	if (!prior)
		return add(s, url, NULL, NULL, user);
	struct jg_prior p = {0};
	memcpy(&p, prior, PRIOR_SIZE_0_3);
	return add(s, url, NULL, &p, user);
}

JG_EXPORT int jg_session_claim_file(struct jg_session *s, const char *name)
{
	if (!s || !name)
		return JG_EINVAL;
	jg_catalog_claim(&s->cat, name);
	return JG_OK;
}

JG_EXPORT void jg_session_drain(struct jg_session *s)
{
	if (!s || s->draining)
		return;
	s->draining = 1;
	s->idle_reported = 0; /* the caller waits for the end of the drain */
	if (!s->jobs.list && !s->freeing)
		kick(s); /* lets on_admit report idle from the loop */
}

JG_EXPORT void jg_session_hold_counting(struct jg_session *s, int hold)
{
	if (!s || s->freeing)
		return;
	jg_handoff_hold(&s->handoff, hold);
	if (!hold)
		kick(s);
}

/* A host's robots.txt for the hosts array: "" when never asked; the
 * https origin's when both were (a host is a name and port). */
static const char *robots_standing(const struct jg_host *h)
{
	enum jg_robots_state st = h->robots[1] != JG_ROBOTS_UNKNOWN ? h->robots[1] : h->robots[0];
	return st == JG_ROBOTS_UNKNOWN ? "" : jg_robots_state_name(st);
}

JG_EXPORT size_t jg_session_host_count(const struct jg_session *s)
{
	return s ? s->hosts.n : 0;
}

JG_EXPORT int jg_session_host_stats(const struct jg_session *s, size_t i,
                                    struct jg_host_stats *out, size_t size)
{
	if (!s || !out || i >= s->hosts.n)
		return JG_EINVAL;
	const struct jg_host *h = &s->hosts.v[i];
	double now = ev_now(s->loop);
	struct jg_host_stats st = {
		.name = h->name,
		.requests = h->requests,
		.ok = h->ok,
		.failed = h->failed,
		.bytes = h->bytes,
		/* A host asleep now has waited since it fell asleep too. */
		.waited = h->waited + (h->sleeping ? now - h->slept_at : 0),
		.concurrency_max = h->active_max,
		.limit = h->limit,
		.robots = robots_standing(h),
	};
	memset(out, 0, size);
	memcpy(out, &st, size < sizeof st ? size : sizeof st);
	return JG_OK;
}

static void fill_stats(const struct jg_session *s, struct jg_stats *out)
{
	memset(out, 0, sizeof *out);
	out->added = s->added;
	out->queued = s->hosts.queued + (s->n_reuse - s->next_reuse);
	out->active = s->jobs.active;
	out->waiting = s->jobs.waiting;
	out->counting = s->handoff.counting;
	out->ok = s->ok;
	out->failed = s->failed;
	out->bytes = s->fetch.received;
	out->buffered = s->fetch.in_memory;
	out->retries = s->jobs.retries;
	out->loop_iterations = s->stall.iterations;
	out->stall_max = s->stall.max;
	out->stall_p99 = jg_stall_quantile(&s->stall, 0.99);
	out->engine = (enum jg_engine)s->opt.engine;
	out->threads = jg_fetch_threads_started(&s->fetch);
	out->active_sized = s->fetch.announced;
	out->bytes_expected = s->fetch.announced_left;
}

JG_EXPORT void jg_session_stats_sized(const struct jg_session *s, struct jg_stats *out,
                                      size_t size)
{
	struct jg_stats st;
	fill_stats(s, &st);
	memset(out, 0, size);
	memcpy(out, &st, size < sizeof st ? size : sizeof st);
}

/* The 0.3 entry point: fills the 0.3 struct, however ours grows. */
JG_EXPORT void (jg_session_stats)(const struct jg_session *s, struct jg_stats *out)
{
	jg_session_stats_sized(s, out, STATS_SIZE_0_3);
}



static void cancel_queued(void *ctx, uint32_t idx)
{
	report_unfinished(ctx, idx, JG_ECANCELED, 0);
}

static void destroy(struct jg_session *s)
{
	s->freeing = 1;
	s->jobs.stopped = 1;
	if (s->cat.pages)
		jg_handoff_cancel(&s->handoff);
	while (s->next_reuse < s->n_reuse)
		report_unfinished(s, s->reuse[s->next_reuse++], JG_ECANCELED, 0);
	free(s->reuse);
	jg_jobs_cancel(&s->jobs);
	if (s->robots.loop) /* set up: a session that failed earlier has none */
		jg_robots_gate_fini(&s->robots);
	if (s->cat.pages)
		jg_hosts_drain_books(&s->hosts, cancel_queued, s);
	ev_prepare_stop(s->loop, &s->admit);
	ev_idle_stop(s->loop, &s->admit_more);
	ev_prepare_stop(s->loop, &s->reap);
	ev_timer_stop(s->loop, &s->pacing);
	jg_stall_stop(&s->stall);
	jg_fetch_fini(&s->fetch);
	jg_partials_close(&s->partials); /* engine threads are gone: none links now */
	if (s->resolver.loop)
		jg_resolver_fini(&s->resolver);
	jg_proxies_fini(&s->proxies);
	jg_store_close(&s->store);
	if (s->trash.loop)
		jg_trash_fini(&s->trash);
	jg_hosts_fini(&s->hosts);
	jg_catalog_fini(&s->cat);
	jg_options_fini(&s->opt);
	free(s);
}

static void on_reap(struct ev_loop *loop, ev_prepare *w, int revents)
{
	destroy(w->data);
}

JG_EXPORT void jg_session_free(struct jg_session *s)
{
	if (!s)
		return;
	if (s->in_callback) {
		/* Callers up the stack still use the session: finish before
		 * the loop next waits, when none of them is left. */
		if (!s->freeing) {
			s->freeing = 1;
			s->jobs.stopped = 1;
			ev_prepare_init(&s->reap, on_reap);
			s->reap.data = s;
			ev_prepare_start(s->loop, &s->reap);
		}
		return;
	}
	destroy(s);
}
