#include "job.h"

#include "retry.h"
#include "stall.h"
#include "url.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

enum job_state { JOB_RESOLVING_PROXY, JOB_RESOLVING, JOB_FETCHING, JOB_WAITING, JOB_READY };

/* Unreachable attempts in a row (connect, DNS, timeout; no answer in
 * between) after which a host's queued URLs fail at once. */
enum { HOST_FAILURES_MAX = 5 };

/* An admitted book, from admission until it is reported. */
struct jg_job {
	struct jg_jobs *js;
	struct jg_job *prev, *next;
	struct jg_resolve_req dns;
	struct jg_resolve_req proxy_dns;
	const struct jg_proxy *proxy; /* the current attempt's, NULL: direct */
	char *proxy_at;            /* its "host:port:addrs" for curl, NULL: a literal */
	struct jg_transfer xfer;
	ev_timer backoff;
	struct jg_store_temp file;  /* the attempt's file: always when downloading
	                               only; when counting, a partial continued */
	int no_partial;            /* a partial was refused: the book starts from zero */
	enum job_state state;
	int has_slot;              /* counted in js->active and its host's */
	struct jg_job *ready_next; /* JOB_READY: in js->ready */
	uint32_t book;
	const char *name;          /* the catalog's, for as long as the job lives */
	const char *url;           /* the book's (the catalog's): its partial's key,
	                              whichever mirror it goes to */
	const struct jg_book_prior *prior;
	uint32_t host;             /* the politeness slot: the first URL's host */
	int may_fall_back;         /* another mirror may have the book */
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

static char *strdup_or_null(const char *p)
{
	return p ? strdup(p) : NULL;
}

static void job_attempt(struct jg_job *job);

/* Tells the session; 0 when it is being freed. */
static int tell(struct jg_jobs *js, const struct jg_job_event *ev)
{
	return js->event(js->ctx, ev);
}

/* Tells the session's log what happens to a job, when it keeps one. */
static void note(struct jg_job *job, enum jg_event_kind kind, const char *url,
                 const char *detail, double delay)
{
	struct jg_jobs *js = job->js;
	if (!js->noting)
		return;
	struct jg_event e = {.kind = kind, .url = url, .detail = detail ? detail : "",
	                     .delay = delay, .attempt = job->out.attempts};
	struct jg_job_event ev = {.kind = JG_JOB_NOTE, .book = job->book, .note = &e};
	tell(js, &ev);
}

static void slot_free(struct jg_jobs *js)
{
	struct jg_job_event ev = {.kind = JG_JOB_SLOT_FREE};
	tell(js, &ev);
}

/* ---- jobs --------------------------------------------------------------- */

static struct jg_job *job_new(struct jg_jobs *js, uint32_t book, uint32_t host)
{
	struct jg_job *job = calloc(1, sizeof *job);
	if (!job)
		return NULL;
	job->visited = calloc(js->opt->max_redirects + 1, sizeof *job->visited);
	if (!job->visited) {
		free(job);
		return NULL;
	}
	job->js = js;
	job->book = book;
	job->host = host;
	job->out.started = ev_now(js->loop);
	job->file.fd = -1;
	ev_timer_init(&job->backoff, NULL, 0., 0.);
	job->next = js->list;
	if (js->list)
		js->list->prev = job;
	js->list = job;
	return job;
}

/* Stops whatever the job is waiting on; no callback of it fires after. */
static void job_stop(struct jg_job *job)
{
	struct jg_jobs *js = job->js;
	switch (job->state) {
	case JOB_RESOLVING_PROXY:
		jg_resolver_cancel(js->resolver, &job->proxy_dns);
		break;
	case JOB_RESOLVING:
		jg_resolver_cancel(js->resolver, &job->dns);
		break;
	case JOB_FETCHING:
		jg_fetch_cancel(&job->xfer);
		break;
	case JOB_WAITING:
		ev_timer_stop(js->loop, &job->backoff);
		js->waiting--;
		break;
	case JOB_READY:
		for (struct jg_job **p = &js->ready; *p; p = &(*p)->ready_next)
			if (*p == job) {
				*p = job->ready_next;
				if (!*p)
					js->ready_tail = p;
				break;
			}
		js->waiting--;
		break;
	}
}

static void job_give_slot(struct jg_job *job)
{
	struct jg_jobs *js = job->js;
	if (!job->has_slot)
		return;
	jg_hosts_release(js->hosts, job->host);
	js->active--;
	job->has_slot = 0;
	/* Descriptors ran out earlier: one more transfer may go now. */
	if (js->cap && ++js->cap >= js->opt->jobs)
		js->cap = 0;
}

static void job_free(struct jg_job *job)
{
	struct jg_jobs *js = job->js;
	if (job->prev)
		job->prev->next = job->next;
	else
		js->list = job->next;
	if (job->next)
		job->next->prev = job->prev;
	job_give_slot(job);
	jg_store_abort(js->store, &job->file);
	jg_url_fini(&job->cur);
	free(job->proxy_at);
	free(job->visited);
	jg_outcome_fini(&job->out);
	free(job);
}

/* Reports the job's end, frees it and lets the next book in. */
static void job_finish(struct jg_job *job, const struct failure *fail, uint64_t bytes)
{
	struct jg_jobs *js = job->js;
	struct jg_outcome o = job->out; /* its strings stay the job's */
	o.final_url = job->cur.url;
	o.err = fail ? fail->err : JG_OK;
	o.error = fail ? fail->why : NULL;
	o.bytes = bytes;
	struct jg_job_event ev = {.kind = JG_JOB_DONE, .book = job->book, .outcome = &o};
	int alive = tell(js, &ev);
	job_free(job);
	if (alive)
		slot_free(js); /* the next book, or the idle report */
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
	struct jg_jobs *js = job->js;
	job->state = JOB_READY;
	job->ready_next = NULL;
	*js->ready_tail = job;
	js->ready_tail = &job->ready_next;
	slot_free(js);
}

/* Waits `delay` seconds holding no slot, then queues for one. */
static void job_wait(struct jg_job *job, double delay)
{
	struct jg_jobs *js = job->js;
	jg_store_abort(js->store, &job->file); /* no descriptor held while waiting */
	job_give_slot(job);
	job->state = JOB_WAITING;
	js->waiting++;
	ev_timer_init(&job->backoff, on_backoff, delay, 0.);
	job->backoff.data = job;
	ev_timer_start(js->loop, &job->backoff);
	slot_free(js); /* its slot is free for another book meanwhile */
}

/* A transient failure: wait, or give up when attempts are spent. */
static void job_retry_or_fail(struct jg_job *job, int err, const char *why, double retry_after)
{
	struct jg_jobs *js = job->js;
	if (job->out.attempts > js->opt->retries ||
	    (job->may_fall_back && jg_retry_is_mirrors_fault(err, job->out.http_code))) {
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
	js->retries++;
	double delay = jg_retry_backoff(job->out.attempts, js->opt->retry_delay, retry_after, js->rng);
	if (retry_after > 0) {
		char text[600];
		snprintf(text, sizeof text, "%s (Retry-After %.0f s)", why, retry_after);
		note(job, JG_EVENT_RETRY, job->cur.url, text, delay);
	} else {
		note(job, JG_EVENT_RETRY, job->cur.url, why, delay);
	}
	job_wait(job, delay);
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
	struct jg_jobs *js = job->js;
	job->out.attempts--;
	job_give_slot(job);
	js->cap = js->active > 0 ? (unsigned)js->active : 1;
	job_wait(job, FD_PRESSURE_DELAY_MS / 1000.0);
}

/*
 * Host `host` did not answer HOST_FAILURES_MAX times in a row: its queued
 * URLs, and those waiting for a retry, fail now, naming the host, rather
 * than each waiting out its own retries. Those in flight go on; a later
 * URL of the host gets a fresh chance.
 */
static void trip_host(struct jg_jobs *js, const struct jg_job *job, int err, const char *last)
{
	char why[600];
	uint32_t host = job->host;
	snprintf(why, sizeof why, "%s: unreachable, %u consecutive failures; last: %.400s",
	         js->hosts->v[host].name, (unsigned)HOST_FAILURES_MAX, last);
	js->hosts->v[host].failures_in_row = 0;
	struct jg_job_event ev = {.kind = JG_JOB_HOST_DOWN, .host = host, .err = err, .why = why};
	if (!tell(js, &ev))
		return;
	struct jg_job *next;
	for (struct jg_job *j = js->list; j && !js->stopped; j = next) {
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
	struct jg_jobs *js = job->js;
	struct jg_host *h = &js->hosts->v[job->host];
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
	trip_host(js, job, err, last);
	if (!js->stopped) {
		char text[700]; /* callbacks may have grown the hosts: no `h` now */
		snprintf(text, sizeof text, "%s: unreachable, %u consecutive failures; last: %.400s",
		         js->hosts->v[job->host].name, (unsigned)HOST_FAILURES_MAX, last);
		job_fail((struct jg_job *)job, err, text);
	}
	return 1;
}

/*
 * The attempt's file: a partial an earlier attempt or run left of the
 * book, which the attempt goes on writing (base/partial.h); else, when
 * downloading only, a new temporary file. 0, or -1 with the job waiting
 * or failed.
 */
static int open_file(struct jg_job *job, struct jg_partial_found *have, int *found)
{
	struct jg_jobs *js = job->js;
	char why[512];
	*found = job->no_partial ? 0
	                         : jg_partial_take(js->partials, js->store, job->url, &job->file,
	                                           have);
	/* (The threads engine names the file before a thread may need to
	 * link it as a partial: fetch_threads.c.) */
	if (*found < 0 || (!*found && js->streaming &&
	                   jg_store_begin(js->store, &job->file, why, sizeof why) < 0)) {
		if (out_of_descriptors(errno))
			job_wait_for_descriptors(job);
		else
			job_fail(job, JG_EIO, *found < 0 ? strerror(errno) : why);
		return -1;
	}
	return 0;
}

static void job_fetch(struct jg_job *job, const char *addrs)
{
	struct jg_jobs *js = job->js;
	char resolve[JG_URL_MAX + 64];
	const char *entry = NULL;
	if (addrs) {
		snprintf(resolve, sizeof resolve, "%s:%ld:%s", job->cur.host, job->cur.port, addrs);
		entry = resolve;
	}
	jg_store_abort(js->store, &job->file); /* each attempt starts afresh */
	struct jg_partial_found have;
	int found;
	if (open_file(job, &have, &found) < 0)
		return;
	job->state = JOB_FETCHING;
	const struct jg_book_prior *prior = job->prior;
	struct jg_fetch_cond cond = {prior ? prior->etag : NULL, prior ? prior->last_modified : NULL};
	struct jg_fetch_route route = {
		.resolve = entry,
		.proxy = job->proxy ? job->proxy->curl_url : NULL,
		.proxy_resolve = job->proxy_at,
	};
	struct jg_fetch_part part = {
		.url = js->partials->enabled ? job->url : NULL,
		.sink = job->file.fd >= 0 ? &job->file : NULL,
		.have = found ? &have : NULL,
	};
	if (jg_fetch_start(js->fetch, &job->xfer, job->cur.url, &route, job->file.fd,
	                   prior ? &cond : NULL, &part) < 0)
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

/* Resolves the current URL's host when curl needs its address, then fetches. */
static void job_resolve_server(struct jg_job *job)
{
	struct jg_jobs *js = job->js;
	/* Through an http(s) or socks5h proxy the name is the proxy's to
	 * resolve: curl gets none of ours, and needs none. */
	if (job->cur.is_ip || (job->proxy && !jg_proxy_wants_address(job->proxy))) {
		job_fetch(job, NULL);
		return;
	}
	const char *answer;
	int transient;
	job->state = JOB_RESOLVING;
	job->dns.cb = on_resolved;
	switch (jg_resolver_lookup(js->resolver, job->cur.host, job->cur.port, &job->dns, &answer,
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

/* The proxy's address is known: curl gets it as a CURLOPT_RESOLVE entry. */
static void job_proxy_found(struct jg_job *job, const char *addrs)
{
	const struct jg_proxy *p = job->proxy;
	free(job->proxy_at);
	if (asprintf(&job->proxy_at, "%s:%ld:%s", p->host, p->port, addrs) < 0) {
		job->proxy_at = NULL;
		job_fail(job, JG_ENOMEM, "out of memory");
		return;
	}
	job_resolve_server(job);
}

/* The proxy's name did not resolve: the proxy's failure, not the host's. */
static void job_proxy_unknown(struct jg_job *job, const char *why, int transient)
{
	char text[600];
	snprintf(text, sizeof text, "proxy %s: %.400s", job->proxy->shown, why);
	if (transient)
		job_retry_or_fail(job, JG_EPROXY, text, 0);
	else
		job_fail(job, JG_EPROXY, text);
}

static void on_proxy_resolved(struct jg_resolve_req *req, const char *addrs, const char *why,
                              int transient)
{
	struct jg_job *job = container_of(req, struct jg_job, proxy_dns);
	if (addrs)
		job_proxy_found(job, addrs);
	else
		job_proxy_unknown(job, why, transient);
}

/*
 * One attempt: the route (direct, or which proxy: it may differ after a
 * redirect), the proxy's address, the server's when curl needs it, then
 * the transfer.
 */
static void job_attempt(struct jg_job *job)
{
	struct jg_jobs *js = job->js;
	job->out.attempts++;
	note(job, JG_EVENT_START, job->cur.url, NULL, 0);
	free(job->proxy_at);
	job->proxy_at = NULL;
	job->proxy = jg_proxies_route(js->proxies, &job->cur);
	if (!job->proxy || job->proxy->is_ip) {
		job_resolve_server(job);
		return;
	}
	const char *answer;
	int transient;
	job->state = JOB_RESOLVING_PROXY;
	job->proxy_dns.cb = on_proxy_resolved;
	switch (jg_resolver_lookup(js->resolver, job->proxy->host, job->proxy->port, &job->proxy_dns,
	                           &answer, &transient)) {
	case JG_RESOLVE_DONE:
		job_proxy_found(job, answer);
		break;
	case JG_RESOLVE_FAILED:
		job_proxy_unknown(job, answer, transient);
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
	struct jg_jobs *js = job->js;
	char why[600], reason[256];
	struct jg_url next;
	if (job->out.redirects >= js->opt->max_redirects) {
		snprintf(why, sizeof why, "too many redirects (more than %u)", js->opt->max_redirects);
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
	note(job, JG_EVENT_REDIRECT, job->cur.url, next.url, 0);
	jg_url_fini(&job->cur);
	job->cur = next;
	/* Following a redirect is not a new attempt. */
	job->out.attempts--;
	job_attempt(job);
}

/* The body goes to the pool (through the session); the job ends here and frees its slot. */
static void job_hand_over(struct jg_job *job, enum jg_pool_job what, char *body, size_t len,
                          uint64_t held, uint64_t ino)
{
	struct jg_jobs *js = job->js;
	free((void *)(uintptr_t)job->out.final_url);
	job->out.final_url = strdup_or_null(job->cur.url);
	struct jg_handoff_req req = {
		.what = what,
		.book = job->book,
		.name = job->name,
		.out = &job->out,
		.body = body,
		.len = len,
		.held = held,
		.ino = ino,
	};
	int taken = 0;
	struct jg_job_event ev = {.kind = JG_JOB_BODY, .book = job->book, .req = &req, .taken = &taken};
	tell(js, &ev);
	if (!taken) {
		job_fail(job, JG_ENOMEM, "out of memory");
		return;
	}
	job_free(job);
	slot_free(js);
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
	struct jg_jobs *js = job->js;
	keep_validators(job, prior);
	jg_partial_drop(js->partials, job->url); /* the book is complete */
	if (js->counting) {
		job_hand_over(job, JG_POOL_RECOUNT, NULL, prior->bytes, 0, prior->ino);
		return;
	}
	job_finish(job, NULL, prior->bytes);
}

/*
 * A body that came whole. Without counting it is in its file already;
 * with counting it goes to the workers, which save it, or, when it went
 * to a file (memory ran short and it spilled, it is large enough to be
 * kept as a partial, or it continued one), which count that file.
 */
static void job_save(struct jg_job *job)
{
	struct jg_jobs *js = job->js;
	const char *name = job->name;
	size_t len = job->xfer.len;
	char why[512];
	/* A spill holds the body when there is one (a body that came whole
	 * again leaves a stale partial in the attempt's file). */
	struct jg_store_temp *file = job->xfer.spill.fd >= 0 ? &job->xfer.spill
	                             : job->file.fd >= 0   ? &job->file
	                                                   : NULL;
	if (job->xfer.range.continuing)
		job->out.continued_from = job->xfer.range.from;
	if (file) {
		/* Read from the descriptor before the file has its name: what
		 * the caller's journal records of it needs no stat by name. */
		struct stat st;
		uint64_t ino = 0;
		if (fstat(file->fd, &st) == 0) {
			ino = (uint64_t)st.st_ino;
			job->out.stamped = 1;
			job->out.mtime = st.st_mtim;
		}
		int rc = jg_store_commit(js->store, file, name, why, sizeof why);
		if (rc == 0)
			jg_partial_drop(js->partials, job->url); /* the book is complete */
		jg_fetch_release(&job->xfer);
		if (rc < 0)
			job_fail(job, JG_EIO, why);
		else if (js->streaming)
			job_finish(job, NULL, len);
		else
			job_hand_over(job, JG_POOL_RECOUNT, NULL, len, 0, ino);
		return;
	}
	uint64_t held;
	char *body = jg_fetch_take_body(&job->xfer, &len, &held);
	jg_fetch_release(&job->xfer); /* job->out.content_type has its type */
	jg_partial_drop(js->partials, job->url); /* one of another run may be left */
	job_hand_over(job, JG_POOL_SAVE, body, len, held, 0);
}

/* JG_EPROXY when the attempt's proxy failed it, JG_OK otherwise. */
static int proxy_failure(const struct jg_job *job, const struct jg_transfer *t, char *why,
                         size_t why_len, int *transient)
{
	struct jg_proxy_attempt pa = {
		.curl_code = t->code,
		.http_code = t->http_code,
		.curl_error = t->errbuf,
	};
	if (t->aborted || t->stalled || t->out_of_fds)
		return JG_OK; /* we stopped it ourselves, or had no descriptor */
	jg_fetch_proxy_answer(t, &pa.connect_code, &pa.proxy_error);
	return jg_proxy_classify(job->proxy, &pa, why, why_len, transient);
}

/*
 * The partial did not hold: a 416, or a 206 that does not continue it.
 * Its bytes go, and the book starts again from its first byte, at once:
 * the server answered, and nothing of this is a transient failure.
 */
static int partial_refused(struct jg_job *job, struct jg_transfer *t)
{
	struct jg_jobs *js = job->js;
	if (!t->range.from || (t->http_code != 416 && t->aborted != JG_ABORT_RANGE))
		return 0;
	jg_partial_drop(js->partials, job->url);
	jg_fetch_release(t);
	job->no_partial = 1; /* whatever is on disk: never two refusals */
	job_attempt(job);
	return 1;
}

void jg_job_on_transfer_done(struct jg_transfer *t)
{
	struct jg_job *job = container_of(t, struct jg_job, xfer);
	struct jg_jobs *js = job->js;
	const struct jg_book_prior *prior = job->prior;
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
		jg_store_abort(js->store, &job->file);
		job->out.reused = 1;
		job_keep(job, prior);
		return;
	}
	if (t->sink_errno) {
		char why[512];
		snprintf(why, sizeof why, "%s/%s: %s", js->store->dir, job->name,
		         strerror(t->sink_errno));
		jg_fetch_release(t);
		job_fail(job, JG_EIO, why);
		return;
	}
	if (partial_refused(job, t))
		return;
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
		.stall_timeout = js->opt->stall_timeout,
		.max_size = js->opt->max_size,
		.curl_error = t->errbuf,
	};
	char why[600];
	int transient;
	int err = job->proxy ? proxy_failure(job, t, why, sizeof why, &transient) : JG_OK;
	if (err == JG_OK)
		err = jg_retry_classify(&a, why, sizeof why, &transient);
	if (err == JG_EPROXY) {
		/* Nothing was heard from the server: no word on its host. */
		jg_fetch_release(t);
		if (transient)
			job_retry_or_fail(job, err, why, 0);
		else
			job_fail(job, err, why);
		return;
	}
	int answered = t->http_code > 0;
	/* What the server says of its load is the host's business, beyond
	 * this URL: a 429 or 503 slows the whole host down (AIMD). */
	jg_hosts_set_now(js->hosts, ev_now(js->loop));
	if (t->http_code == 429 || t->http_code == 503)
		jg_hosts_back_off(js->hosts, job->host, t->retry_after);
	else if (answered)
		jg_hosts_answered(js->hosts, job->host);
	if (err == JG_OK) {
		host_attempt(job, answered, err, why);
		job_save(job);
		return;
	}
	/* A book that fails for good has nothing to continue; a transient
	 * failure keeps its partial for the next attempt, or the next run.
	 * Before the release: the attempt's file still holds its blocks, so
	 * the trash, not this call, frees them. */
	if (!transient)
		jg_partial_drop(js->partials, job->url);
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

/*
 * Jobs whose retry is due take the next slots, ahead of new books; one
 * whose host is at its per-host limit waits for that host's next slot.
 */
unsigned jg_jobs_admit_ready(struct jg_jobs *js, unsigned budget)
{
	unsigned n = 0;
	struct jg_job **p = &js->ready;
	unsigned jobs = jg_jobs_limit(js);
	/* Admitted before a drain: they go on through it, as in-flight ones. */
	while (*p && n < budget && !js->stopped && js->active < jobs && !jg_slice_spent(js->loop)) {
		struct jg_job *job = *p;
		if (!jg_hosts_try_acquire(js->hosts, job->host)) {
			p = &job->ready_next;
			continue;
		}
		*p = job->ready_next;
		if (!*p)
			js->ready_tail = p;
		job->has_slot = 1;
		js->active++;
		js->waiting--;
		n++;
		job_attempt(job);
		if (js->stopped)
			break;
	}
	return n;
}


int jg_job_start(struct jg_jobs *js, uint32_t book, uint32_t host, const struct jg_book *b,
                 const char *url, int may_fall_back)
{
	struct jg_job *job = job_new(js, book, host);
	if (!job)
		return -1;
	job->name = b->name;
	job->url = b->url;
	job->may_fall_back = may_fall_back;
	job->prior = b->prior;
	job->has_slot = 1; /* jg_hosts_pop counted it on its host */
	js->active++;
	char why[256];
	/* The book's own URL was parsed when it was added, and its host
	 * keyed (a mirror's URL it moved on to was not): no second parse. */
	int err = url == b->url
	                  ? jg_url_from_host_port(url, js->hosts->v[b->host].name, &job->cur)
	                  : jg_url_parse(url, &job->cur, why, sizeof why);
	if (err == JG_ENOMEM) {
		job_fail(job, JG_ENOMEM, "out of memory");
		return 0;
	}
	if (err != JG_OK) {
		job_fail(job, JG_EURL, err == JG_EINVAL ? "no port in the host's key" : why);
		return 0;
	}
	job->visited[0] = jg_hash_str(job->cur.url, strlen(job->cur.url));
	job_attempt(job);
	return 0;
}

void jg_jobs_cancel(struct jg_jobs *js)
{
	while (js->list) {
		struct jg_job *job = js->list;
		job_stop(job);
		struct jg_outcome o = {.err = JG_ECANCELED, .attempts = job->out.attempts};
		struct jg_job_event ev = {.kind = JG_JOB_DONE, .book = job->book, .outcome = &o};
		tell(js, &ev);
		job_free(job);
	}
}
