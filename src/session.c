#include "session.h"

#include "catalog.h"
#include "handoff.h"
#include "outcome.h"
#include "fetch_threads.h"
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/*
 * A job holds a transfer slot (of --jobs and of its host) while it
 * resolves and fetches, not while it waits for a retry: a URL waiting
 * seconds for its backoff must not keep others from going (a list of a
 * million URLs to a dead host took days that way).
 */
enum job_state { JOB_RESOLVING, JOB_FETCHING, JOB_WAITING, JOB_READY };

/* Unreachable attempts in a row (connect, DNS, timeout; no answer in
 * between) after which a host's queued URLs fail at once. */
enum { HOST_FAILURES_MAX = 5 };

/* A result's "DIR/name": the directory may take PATH_MAX - 1 bytes. */
#define JG_RESULT_PATH (PATH_MAX + JG_NAME_MAX + 32)

/* An admitted book, from admission until it is reported. */
struct jg_job {
	struct jg_session *s;
	struct jg_job *prev, *next;
	struct jg_resolve_req dns;
	struct jg_transfer xfer;
	ev_timer backoff;
	struct jg_store_temp file;  /* download only: the attempt's file */
	enum job_state state;
	int has_slot;              /* counted in s->active and its host's */
	struct jg_job *ready_next; /* JOB_READY: in s->ready */
	uint32_t book;
	uint32_t host;             /* the politeness slot: the first URL's host */
	struct jg_url cur;         /* where the current attempt goes */
	uint64_t *visited;         /* hashes of the URLs of the redirect chain */
	struct jg_outcome out;     /* attempts and the answer: what its report says
	                              (final_url stays NULL: `cur` has it) */
};

/* Details of a failure, carried to the report. */
struct failure {
	int err;
	char why[512];
};

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
static void job_attempt(struct jg_job *job);
static void on_transfer_done(struct jg_transfer *t);

/* ---- reporting ---------------------------------------------------------- */

static int notify(struct jg_session *s, uint32_t idx, const struct jg_result *r);

/*
 * The one place a book's outcome becomes its public result, and is
 * reported. Returns 0 when the session is being freed.
 */
static int report(struct jg_session *s, uint32_t idx, const struct jg_outcome *o)
{
	const struct jg_book *b = jg_catalog_book(&s->cat, idx);
	char path[JG_RESULT_PATH], sha[65];
	snprintf(path, sizeof path, "%s/%s", s->store.dir, b->name);
	int ok = o->err == JG_OK;
	const struct jg_pool_result *pr = o->counted;
	struct jg_result r = {
		.url = b->url,
		.final_url = o->final_url ? o->final_url : b->url,
		.file = ok ? path : NULL,
		.user = b->user,
		.index = b->seq,
		.err = o->err,
		.error = ok ? "" : o->error ? o->error : jg_strerror(o->err),
		.http_code = o->http_code,
		.bytes = ok ? o->bytes : 0,
		.attempts = o->attempts,
		.redirects = o->redirects,
		.elapsed = o->started > 0 ? ev_now(s->loop) - o->started : 0,
		.foreign_file = jg_catalog_foreign_name(&s->cat, idx),
	};
	if (ok) {
		r.reused = o->reused;
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
	return notify(s, idx, &r);
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

/* Reports idleness once per stretch of it: admission may run many times. */
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

static void maybe_idle(struct jg_session *s)
{
	if (s->freeing || s->jobs || s->handoff.counting ||
	    ((s->hosts.queued || s->next_reuse < s->n_reuse) && !s->draining) || s->idle_reported)
		return;
	s->idle_reported = 1;
	if (!s->on_idle)
		return;
	s->in_callback++;
	s->on_idle(s, s->on_idle_user);
	s->in_callback--;
}

/* ---- jobs --------------------------------------------------------------- */

static struct jg_job *job_new(struct jg_session *s, uint32_t book, uint32_t host)
{
	struct jg_job *job = calloc(1, sizeof *job);
	if (!job)
		return NULL;
	job->visited = calloc(s->opt.max_redirects + 1, sizeof *job->visited);
	if (!job->visited) {
		free(job);
		return NULL;
	}
	job->s = s;
	job->book = book;
	job->host = host;
	job->out.started = ev_now(s->loop);
	job->file.fd = -1;
	ev_timer_init(&job->backoff, NULL, 0., 0.);
	job->next = s->jobs;
	if (s->jobs)
		s->jobs->prev = job;
	s->jobs = job;
	return job;
}

/* Stops whatever the job is waiting on; no callback of it fires after. */
static void job_stop(struct jg_job *job)
{
	struct jg_session *s = job->s;
	switch (job->state) {
	case JOB_RESOLVING:
		jg_resolver_cancel(&s->resolver, &job->dns);
		break;
	case JOB_FETCHING:
		jg_fetch_cancel(&job->xfer);
		break;
	case JOB_WAITING:
		ev_timer_stop(s->loop, &job->backoff);
		s->waiting--;
		break;
	case JOB_READY:
		for (struct jg_job **p = &s->ready; *p; p = &(*p)->ready_next)
			if (*p == job) {
				*p = job->ready_next;
				if (!*p)
					s->ready_tail = p;
				break;
			}
		s->waiting--;
		break;
	}
}

static void job_give_slot(struct jg_job *job)
{
	struct jg_session *s = job->s;
	if (!job->has_slot)
		return;
	jg_hosts_release(&s->hosts, job->host);
	s->active--;
	job->has_slot = 0;
	/* Descriptors ran out earlier: one more transfer may go now. */
	if (s->jobs_cap && ++s->jobs_cap >= s->opt.jobs)
		s->jobs_cap = 0;
}

static void job_free(struct jg_job *job)
{
	struct jg_session *s = job->s;
	if (job->prev)
		job->prev->next = job->next;
	else
		s->jobs = job->next;
	if (job->next)
		job->next->prev = job->prev;
	job_give_slot(job);
	jg_store_abort(&s->store, &job->file);
	jg_url_fini(&job->cur);
	free(job->visited);
	jg_outcome_fini(&job->out);
	free(job);
}

/* Reports the job's end, frees it and lets the next book in. */
static void job_finish(struct jg_job *job, const struct failure *fail, uint64_t bytes)
{
	struct jg_session *s = job->s;
	struct jg_outcome o = job->out; /* its strings stay the job's */
	o.final_url = job->cur.url;
	o.err = fail ? fail->err : JG_OK;
	o.error = fail ? fail->why : NULL;
	o.bytes = bytes;
	int alive = report(s, job->book, &o);
	job_free(job);
	if (alive)
		kick(s); /* the next book, or the idle report */
}

static void job_fail(struct jg_job *job, int err, const char *why)
{
	struct failure f;
	f.err = err;
	snprintf(f.why, sizeof f.why, "%.*s", (int)sizeof f.why - 1, why);
	job_finish(job, &f, 0);
}

/* Its wait is over: the job queues for a slot, ahead of new books. */
static void on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jg_job *job = w->data;
	struct jg_session *s = job->s;
	job->state = JOB_READY;
	job->ready_next = NULL;
	*s->ready_tail = job;
	s->ready_tail = &job->ready_next;
	kick(s);
}

/* Waits `delay` seconds holding no slot, then queues for one. */
static void job_wait(struct jg_job *job, double delay)
{
	struct jg_session *s = job->s;
	jg_store_abort(&s->store, &job->file); /* no descriptor held while waiting */
	job_give_slot(job);
	job->state = JOB_WAITING;
	s->waiting++;
	ev_timer_init(&job->backoff, on_backoff, delay, 0.);
	job->backoff.data = job;
	ev_timer_start(s->loop, &job->backoff);
	kick(s); /* its slot is free for another book meanwhile */
}

/* A transient failure: wait, or give up when attempts are spent. */
static void job_retry_or_fail(struct jg_job *job, int err, const char *why, double retry_after)
{
	struct jg_session *s = job->s;
	if (job->out.attempts > s->opt.retries) {
		job_fail(job, err, why);
		return;
	}
	if (retry_after > JG_RETRY_AFTER_MAX) {
		char text[600];
		snprintf(text, sizeof text, "%s (Retry-After %.0f s is longer than %.0f s)", why,
		         retry_after, JG_RETRY_AFTER_MAX);
		job_fail(job, err, text);
		return;
	}
	s->retries++;
	job_wait(job, jg_retry_backoff(job->out.attempts, s->opt.retry_delay, retry_after, &s->rng));
}

/*
 * The process ran out of descriptors (EMFILE, ENFILE) for this attempt's
 * socket or file: that is no fault of the book. The attempt does not
 * count, the job tries again shortly, and fewer transfers run until
 * descriptors come free (one more each time a job gives its slot back).
 */
static int out_of_descriptors(long err)
{
	return err == EMFILE || err == ENFILE;
}

enum { FD_PRESSURE_DELAY_MS = 100 };

static void job_wait_for_descriptors(struct jg_job *job)
{
	struct jg_session *s = job->s;
	job->out.attempts--;
	job_give_slot(job);
	s->jobs_cap = s->active > 0 ? (unsigned)s->active : 1;
	job_wait(job, FD_PRESSURE_DELAY_MS / 1000.0);
}

struct tripped {
	struct jg_session *s;
	int err;
	const char *why;
};

static int report_failed(struct jg_session *s, uint32_t idx, int err, const char *why);

static void fail_queued(void *ctx, uint32_t book)
{
	struct tripped *t = ctx;
	report_failed(t->s, book, t->err, t->why);
}

/*
 * Host `host` did not answer HOST_FAILURES_MAX times in a row: its queued
 * URLs, and those waiting for a retry, fail now, naming the host, rather
 * than each waiting out its own retries. Those in flight go on; a later
 * URL of the host gets a fresh chance.
 */
static void trip_host(struct jg_session *s, const struct jg_job *job, int err, const char *last)
{
	char why[600];
	uint32_t host = job->host;
	snprintf(why, sizeof why, "%s: unreachable, %u consecutive failures; last: %.400s",
	         s->hosts.v[host].name, (unsigned)HOST_FAILURES_MAX, last);
	s->hosts.v[host].failures_in_row = 0;
	struct tripped t = {s, err, why};
	jg_hosts_drain_host(&s->hosts, host, fail_queued, &t);
	struct jg_job *next;
	for (struct jg_job *j = s->jobs; j && !s->freeing; j = next) {
		next = j->next;
		if (j->host == host && (j->state == JOB_WAITING || j->state == JOB_READY)) {
			job_stop(j);
			job_fail(j, err, why);
		}
	}
}

/*
 * What an attempt says of its host: an answer of any kind resets the
 * count; a failure to reach it adds one. 1 when the host tripped (the
 * job's own URL included), 0 otherwise.
 */
static int host_attempt(struct jg_job *job, int answered, int err, const char *why)
{
	struct jg_session *s = job->s;
	struct jg_host *h = &s->hosts.v[job->host];
	if (answered) {
		h->failures_in_row = 0;
		return 0;
	}
	if (err != JG_ECONNECT && err != JG_EDNS && err != JG_ETIMEOUT)
		return 0;
	if (++h->failures_in_row < HOST_FAILURES_MAX)
		return 0;
	char last[512];
	snprintf(last, sizeof last, "%s", why);
	trip_host(s, job, err, last);
	if (!s->freeing) {
		char text[700]; /* callbacks may have grown the hosts: no `h` now */
		snprintf(text, sizeof text, "%s: unreachable, %u consecutive failures; last: %.400s",
		         s->hosts.v[job->host].name, (unsigned)HOST_FAILURES_MAX, last);
		job_fail((struct jg_job *)job, err, text);
	}
	return 1;
}

static void job_fetch(struct jg_job *job, const char *addrs)
{
	struct jg_session *s = job->s;
	char resolve[JG_URL_MAX + 64];
	const char *entry = NULL;
	if (addrs) {
		snprintf(resolve, sizeof resolve, "%s:%ld:%s", job->cur.host, job->cur.port, addrs);
		entry = resolve;
	}
	char why[512];
	jg_store_abort(&s->store, &job->file); /* each attempt starts afresh */
	if (s->streaming && jg_store_begin(&s->store, &job->file, why, sizeof why) < 0) {
		if (out_of_descriptors(errno))
			job_wait_for_descriptors(job);
		else
			job_fail(job, JG_EIO, why);
		return;
	}
	job->state = JOB_FETCHING;
	const struct jg_book_prior *prior = jg_catalog_book(&s->cat, job->book)->prior;
	struct jg_fetch_cond cond = {prior ? prior->etag : NULL, prior ? prior->last_modified : NULL};
	if (jg_fetch_start(&s->fetch, &job->xfer, job->cur.url, entry, job->file.fd,
	                   prior ? &cond : NULL) < 0)
		job_fail(job, JG_EINTERNAL, job->xfer.errbuf);
}

static void on_resolved(struct jg_resolve_req *req, const char *addrs, const char *why,
                        int transient)
{
	struct jg_job *job = container_of(req, struct jg_job, dns);
	if (addrs)
		job_fetch(job, addrs);
	else if (host_attempt(job, 0, JG_EDNS, why))
		return;
	else if (transient)
		job_retry_or_fail(job, JG_EDNS, why, 0);
	else
		job_fail(job, JG_EDNS, why);
}

/* One attempt: resolve the current URL's host, then fetch it. */
static void job_attempt(struct jg_job *job)
{
	struct jg_session *s = job->s;
	job->out.attempts++;
	if (job->cur.is_ip) {
		job_fetch(job, NULL);
		return;
	}
	const char *answer;
	int transient;
	job->state = JOB_RESOLVING;
	job->dns.cb = on_resolved;
	switch (jg_resolver_lookup(&s->resolver, job->cur.host, job->cur.port, &job->dns, &answer,
	                           &transient)) {
	case JG_RESOLVE_DONE:
		job_fetch(job, answer);
		break;
	case JG_RESOLVE_FAILED:
		on_resolved(&job->dns, NULL, answer, transient);
		break;
	case JG_RESOLVE_PENDING:
		break;
	}
}

static int seen_before(const struct jg_job *job, uint64_t h)
{
	for (unsigned i = 0; i <= job->out.redirects; i++)
		if (job->visited[i] == h)
			return 1;
	return 0;
}

static void job_redirect(struct jg_job *job, const char *location)
{
	struct jg_session *s = job->s;
	char why[600], reason[256];
	struct jg_url next;
	if (job->out.redirects >= s->opt.max_redirects) {
		snprintf(why, sizeof why, "too many redirects (more than %u)", s->opt.max_redirects);
		job_fail(job, JG_EREDIRECT, why);
		return;
	}
	if (jg_url_parse(location, &next, reason, sizeof reason) != JG_OK) {
		snprintf(why, sizeof why, "redirect to %.300s: %s", location, reason);
		job_fail(job, JG_EREDIRECT, why);
		return;
	}
	uint64_t h = jg_hash_str(next.url, strlen(next.url));
	if (seen_before(job, h)) {
		snprintf(why, sizeof why, "redirect loop at %.400s", next.url);
		jg_url_fini(&next);
		job_fail(job, JG_EREDIRECT, why);
		return;
	}
	job->visited[++job->out.redirects] = h;
	jg_url_fini(&job->cur);
	job->cur = next;
	/* Following a redirect is not a new attempt. */
	job->out.attempts--;
	job_attempt(job);
}

/* What a book handed to the pool still needs for its report. */
/* The hand-over's answer: a book's end, counted or not. */
static int on_handed_back(void *ctx, uint32_t book, const struct jg_outcome *o)
{
	struct jg_session *s = ctx;
	int alive = report(s, book, o);
	if (alive)
		kick(s);
	return alive;
}

/* The pool saves and counts; the job ends here and frees its slot. */
static void job_hand_over(struct jg_job *job, enum jg_pool_job what, char *body, size_t len,
                          uint64_t held, uint64_t ino)
{
	struct jg_session *s = job->s;
	free((void *)(uintptr_t)job->out.final_url);
	job->out.final_url = strdup_or_null(job->cur.url);
	struct jg_handoff_req req = {
		.what = what,
		.book = job->book,
		.name = jg_catalog_book(&s->cat, job->book)->name,
		.out = &job->out,
		.body = body,
		.len = len,
		.held = held,
		.ino = ino,
	};
	if (jg_handoff_give(&s->handoff, &req) < 0) {
		job_fail(job, JG_ENOMEM, "out of memory");
		return;
	}
	job_free(job);
	kick(s);
}

static int counting_on(const struct jg_session *s)
{
	return s->opt.pool && !(s->opt.count_flags & JG_COUNT_OFF);
}

static void keep_validators(struct jg_job *job, const struct jg_book_prior *prior)
{
	/* A 304 need not repeat the headers: the prior's still hold. */
	if (!job->out.etag)
		job->out.etag = strdup_or_null(prior->etag);
	if (!job->out.last_modified)
		job->out.last_modified = strdup_or_null(prior->last_modified);
	if (!job->out.content_type)
		job->out.content_type = strdup_or_null(prior->content_type);
}

/* The saved file stays: count it again when counting, else report it. */
static void job_keep(struct jg_job *job, const struct jg_book_prior *prior)
{
	struct jg_session *s = job->s;
	keep_validators(job, prior);
	if (counting_on(s)) {
		job_hand_over(job, JG_POOL_RECOUNT, NULL, prior->bytes, 0, prior->ino);
		return;
	}
	job_finish(job, NULL, prior->bytes);
}

/*
 * A body that came whole. Without counting it is in its file already;
 * with counting it goes to the workers, which save it, or, when memory
 * ran short and it spilled to its file, which count that file.
 */
static void job_save(struct jg_job *job)
{
	struct jg_session *s = job->s;
	const char *name = jg_catalog_book(&s->cat, job->book)->name;
	size_t len = job->xfer.len;
	char why[512];
	if (s->streaming || job->xfer.spill.fd >= 0) {
		struct jg_store_temp *file = s->streaming ? &job->file : &job->xfer.spill;
		struct stat st;
		uint64_t ino = fstat(file->fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
		int rc = jg_store_commit(&s->store, file, name, why, sizeof why);
		jg_fetch_release(&job->xfer);
		if (rc < 0)
			job_fail(job, JG_EIO, why);
		else if (s->streaming)
			job_finish(job, NULL, len);
		else
			job_hand_over(job, JG_POOL_RECOUNT, NULL, len, 0, ino);
		return;
	}
	uint64_t held;
	char *body = jg_fetch_take_body(&job->xfer, &len, &held);
	jg_fetch_release(&job->xfer); /* job->out.content_type has its type */
	job_hand_over(job, JG_POOL_SAVE, body, len, held, 0);
}

static void on_transfer_done(struct jg_transfer *t)
{
	struct jg_job *job = container_of(t, struct jg_job, xfer);
	struct jg_session *s = job->s;
	const struct jg_book_prior *prior = jg_catalog_book(&s->cat, job->book)->prior;
	job->out.http_code = t->http_code;
	if (t->code == CURLE_OK && (t->http_code == 304 || (t->http_code >= 200 && t->http_code <= 299))) {
		jg_outcome_fini(&job->out); /* a new answer: the validators are its */
		job->out.etag = strdup_or_null(jg_fetch_header(t, "ETag"));
		job->out.last_modified = strdup_or_null(jg_fetch_header(t, "Last-Modified"));
		job->out.content_type = strdup_or_null(jg_fetch_content_type(t));
	}
	if (t->code == CURLE_OK && t->http_code == 304 && prior) {
		/* Not modified: the earlier run's file is the book. */
		jg_fetch_release(t);
		jg_store_abort(&s->store, &job->file);
		job->out.reused = 1;
		job_keep(job, prior);
		return;
	}
	if (t->sink_errno) {
		char why[512];
		snprintf(why, sizeof why, "%s/%s: %s", s->store.dir, jg_catalog_book(&s->cat, job->book)->name,
		         strerror(t->sink_errno));
		jg_fetch_release(t);
		job_fail(job, JG_EIO, why);
		return;
	}
	const char *location = jg_fetch_redirect_url(t);
	if (t->code == CURLE_OK && location) {
		char *copy = strdup(location);
		jg_fetch_release(t);
		if (!copy) {
			job_fail(job, JG_ENOMEM, "out of memory");
			return;
		}
		job_redirect(job, copy);
		free(copy);
		return;
	}
	struct jg_attempt a = {
		.curl_code = t->code,
		.http_code = t->http_code,
		.stalled = t->stalled,
		.aborted = t->aborted,
		.abort_why = t->abort_why,
		.stall_timeout = s->opt.stall_timeout,
		.max_size = s->opt.max_size,
		.curl_error = t->errbuf,
	};
	char why[300];
	int transient;
	int err = jg_retry_classify(&a, why, sizeof why, &transient);
	int answered = t->http_code > 0;
	if (err == JG_OK) {
		host_attempt(job, answered, err, why);
		job_save(job);
		return;
	}
	double retry_after = t->retry_after;
	int out_of_fds = t->out_of_fds;
	jg_fetch_release(t);
	if (err == JG_ECONNECT && out_of_fds)
		job_wait_for_descriptors(job); /* our limit, not the host's fault */
	else if (host_attempt(job, answered, err, why))
		return;
	else if (transient)
		job_retry_or_fail(job, err, why, retry_after);
	else
		job_fail(job, err, why);
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
	unsigned jobs = s->jobs_cap ? s->jobs_cap : s->opt.jobs;
	return !s->draining && !s->freeing && s->active < jobs && held < s->opt.max_buffer &&
	       s->handoff.counting < backlog_max;
}

static void admit_one(struct jg_session *s, uint32_t book, uint32_t host)
{
	struct jg_job *job = job_new(s, book, host);
	s->active++;
	s->idle_reported = 0;
	if (job)
		job->has_slot = 1; /* jg_hosts_pop counted it on its host */
	if (!job) {
		/* Report without a job: count the slot back first. */
		s->active--;
		jg_hosts_release(&s->hosts, host);
		report_unfinished(s, book, JG_ENOMEM, 0);
		return;
	}
	char why[256];
	if (jg_url_parse(jg_catalog_book(&s->cat, book)->url, &job->cur, why, sizeof why) != JG_OK) {
		job_fail(job, JG_EURL, why);
		return;
	}
	job->visited[0] = jg_hash_str(job->cur.url, strlen(job->cur.url));
	job_attempt(job);
}

/*
 * Jobs whose retry is due take the next slots, ahead of new books; one
 * whose host is at its per-host limit waits for that host's next slot.
 */
static unsigned admit_ready(struct jg_session *s, unsigned budget)
{
	unsigned n = 0;
	struct jg_job **p = &s->ready;
	unsigned jobs = s->jobs_cap ? s->jobs_cap : s->opt.jobs;
	/* Admitted before a drain: they go on through it, as in-flight ones. */
	while (*p && n < budget && !s->freeing && s->active < jobs && !jg_slice_spent(s->loop)) {
		struct jg_job *job = *p;
		if (!jg_hosts_try_acquire(&s->hosts, job->host)) {
			p = &job->ready_next;
			continue;
		}
		*p = job->ready_next;
		if (!*p)
			s->ready_tail = p;
		job->has_slot = 1;
		s->active++;
		s->waiting--;
		n++;
		job_attempt(job);
		if (s->freeing)
			break;
	}
	return n;
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
		int recount = jg_catalog_book(&s->cat, idx)->prior->use == JG_PRIOR_RECOUNT && counting_on(s);
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

static void on_admit(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct jg_session *s = w->data;
	ev_prepare_stop(loop, w);
	reuse_some(s);
	if (s->freeing)
		return;
	uint32_t book;
	uint32_t host;
	unsigned admitted = admit_ready(s, ADMIT_PER_TURN);
	if (s->freeing)
		return;
	while (may_admit(s) && admitted < ADMIT_PER_TURN && !jg_slice_spent(loop) &&
	       (host = jg_hosts_pop(&s->hosts, &book)) != JG_NONE) {
		admit_one(s, book, host);
		admitted++;
	}
	if (s->freeing)
		return;
	int more_reuse = s->next_reuse < s->n_reuse && !s->draining && jg_slice_spent(loop);
	if (more_reuse ||
	    ((may_admit(s) || s->ready) && (s->hosts.queued || s->ready) &&
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
	if (jg_store_list(&s->store, remember_existing, &s->cat) != 0) {
		snprintf(why, why_len, "%s: cannot list it: %s", s->opt.output_dir, strerror(errno));
		return JG_EIO;
	}
	if (jg_resolver_init(&s->resolver, s->loop, s->opt.dns_servers, why, why_len) < 0)
		return JG_EINVAL;
	for (size_t i = 0; i < s->opt.n_resolve; i++)
		if (jg_resolver_pin(&s->resolver, s->opt.resolve[i]) < 0)
			return JG_ENOMEM;
	snprintf(s->user_agent, sizeof s->user_agent, "juggle/%s", JG_VERSION);
	struct jg_fetch_config cfg = {
		.connect_timeout = s->opt.connect_timeout,
		.stall_timeout = s->opt.stall_timeout,
		.max_size = s->opt.max_size,
		.max_buffer = s->opt.max_buffer,
		.store = &s->store,
		.cacert = s->opt.cacert,
		.user_agent = s->user_agent,
		.threads = s->opt.engine == JG_ENGINE_LOOP ? 0 : s->opt.threads,
	};
	if (jg_fetch_init(&s->fetch, s->loop, &cfg, on_transfer_done, why, why_len) < 0)
		return JG_EINTERNAL;
	/* Without counting, workers would only copy bodies to disk: the body
	 * streams to its file as it arrives instead, holding no memory. */
	s->streaming = !s->opt.pool || (s->opt.count_flags & JG_COUNT_OFF);
	if (s->opt.pool && jg_pool_attach(s->opt.pool, s->loop) < 0) {
		snprintf(why, why_len, "the worker pool runs on another loop");
		return JG_EINVAL;
	}
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
	s->ready_tail = &s->ready;
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

static int queue_reuse(struct jg_session *s, uint32_t idx)
{
	if (s->n_reuse == s->cap_reuse) {
		size_t cap = s->cap_reuse ? s->cap_reuse * 2 : 64;
		uint32_t *r = realloc(s->reuse, cap * sizeof *r);
		if (!r)
			return -1;
		s->reuse = r;
		s->cap_reuse = cap;
	}
	s->reuse[s->n_reuse++] = idx;
	return 0;
}

static int add_parsed(struct jg_session *s, const struct jg_url *u, const struct jg_prior *prior,
                      void *user)
{
	if (jg_catalog_has_url(&s->cat, u->url))
		return JG_EDUPLICATE;
	/* A host is a name and port: what one server answers on, and what
	 * fails together when it is down. */
	char key[JG_URL_MAX + 16];
	snprintf(key, sizeof key, "%s:%ld", u->host, u->port);
	uint32_t host = jg_hosts_intern(&s->hosts, key), idx;
	if (host == JG_NONE)
		return JG_ENOMEM;
	int refused;
	struct jg_book *b =
		jg_catalog_add(&s->cat, s->store.dirfd, u, prior, user, s->added, &idx, &refused);
	if (!b)
		return JG_ENOMEM;
	b->host = host;
	/* Kept and recounted books need no transfer slot: a list of their own. */
	int reuse = b->prior && b->prior->use != JG_PRIOR_REVALIDATE;
	if ((reuse ? queue_reuse(s, idx) : jg_hosts_push_book(&s->hosts, host, idx)) < 0) {
		jg_catalog_drop(&s->cat, idx);
		return JG_ENOMEM;
	}
	s->added++;
	s->idle_reported = 0;
	kick(s);
	return refused ? JG_PRIOR_REFUSED : JG_OK;
}

static int add(struct jg_session *s, const char *url, const struct jg_prior *prior, void *user)
{
	if (!s || !url)
		return JG_EINVAL;
	if (s->draining || s->freeing)
		return JG_EDRAINING;
	char expanded[JG_URL_MAX + 64];
	if (jg_url_expand_ebook(url, s->opt.mirror, expanded, sizeof expanded))
		url = expanded;
	struct jg_url u;
	int err = jg_url_parse(url, &u, NULL, 0);
	if (err != JG_OK)
		return err;
	err = add_parsed(s, &u, prior, user);
	jg_url_fini(&u);
	return err;
}

JG_EXPORT int jg_session_add_url(struct jg_session *s, const char *url, void *user)
{
	return add(s, url, NULL, user);
}

JG_EXPORT int jg_session_add_prior(struct jg_session *s, const char *url,
                                   const struct jg_prior *prior, void *user)
{
	return add(s, url, prior, user);
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
	if (!s->jobs && !s->freeing)
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

JG_EXPORT void jg_session_stats(const struct jg_session *s, struct jg_stats *out)
{
	memset(out, 0, sizeof *out);
	out->added = s->added;
	out->queued = s->hosts.queued + (s->n_reuse - s->next_reuse);
	out->active = s->active;
	out->waiting = s->waiting;
	out->counting = s->handoff.counting;
	out->ok = s->ok;
	out->failed = s->failed;
	out->bytes = s->fetch.received;
	out->buffered = s->fetch.in_memory;
	out->retries = s->retries;
	out->loop_iterations = s->stall.iterations;
	out->stall_max = s->stall.max;
	out->stall_p99 = jg_stall_quantile(&s->stall, 0.99);
	out->engine = (enum jg_engine)s->opt.engine;
	out->threads = s->fetch.threads ? jg_threads_started(&s->fetch) : 0;
}

static void cancel_queued(void *ctx, uint32_t idx)
{
	report_unfinished(ctx, idx, JG_ECANCELED, 0);
}

static void destroy(struct jg_session *s)
{
	s->freeing = 1;
	if (s->cat.pages)
		jg_handoff_cancel(&s->handoff);
	while (s->next_reuse < s->n_reuse)
		report_unfinished(s, s->reuse[s->next_reuse++], JG_ECANCELED, 0);
	free(s->reuse);
	while (s->jobs) {
		struct jg_job *job = s->jobs;
		job_stop(job);
		report_unfinished(s, job->book, JG_ECANCELED, job->out.attempts);
		job_free(job);
	}
	if (s->cat.pages)
		jg_hosts_drain_books(&s->hosts, cancel_queued, s);
	ev_prepare_stop(s->loop, &s->admit);
	ev_idle_stop(s->loop, &s->admit_more);
	ev_prepare_stop(s->loop, &s->reap);
	jg_stall_stop(&s->stall);
	jg_fetch_fini(&s->fetch);
	if (s->resolver.loop)
		jg_resolver_fini(&s->resolver);
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
			ev_prepare_init(&s->reap, on_reap);
			s->reap.data = s;
			ev_prepare_start(s->loop, &s->reap);
		}
		return;
	}
	destroy(s);
}
