#include "fetch.h"

#include "engine.h"
#include "juggle.h"
#include "stall.h"
#include "store.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/*
 * Bodies of unknown length start at FIRST_BUFFER and double. Decoded
 * bytes come out DECODE_STEP at a time, between which a transfer on the
 * loop checks its slice.
 */
/* Each transfer resumed reads its socket in the next timer action of
 * curl's, all of them in that one call: a few a turn keep it short. */
enum { RESUMES_PER_TURN = 4 };
enum { FIRST_BUFFER = 16 * 1024, PREALLOC_MAX = 64 << 20, DECODE_STEP = 16 * 1024,
       SPILL_STEP = 256 * 1024 };

struct fetch_sock {
	ev_io io;
	struct jg_fetch *f;
};

static void check_done(struct jg_fetch *f);
static void on_drain(struct ev_loop *loop, ev_prepare *w, int revents);
static void on_drain_more(struct ev_loop *loop, ev_idle *w, int revents);

static void socket_action(struct jg_fetch *f, curl_socket_t fd, int flags)
{
	int running = 0;
	curl_multi_socket_action(f->multi, fd, flags, &running);
	check_done(f);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct fetch_sock *s = w->data;
	/* Level-triggered: a socket skipped now is reported again at once. */
	if (jg_slice_spent(loop))
		return;
	int flags = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) |
	            ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	socket_action(s->f, w->fd, flags);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	if (jg_slice_spent(loop)) {
		/* Curl's timeouts start new transfers in bulk: next turn. */
		ev_timer_set(w, 0., 0.);
		ev_timer_start(loop, w);
		return;
	}
	socket_action(w->data, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: only (re)arm watchers; never call curl here. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct jg_fetch *f = userp;
	struct fetch_sock *s = socketp;
	if (what == CURL_POLL_REMOVE) {
		/* curl closes the fd after this returns: the watcher goes first. */
		if (s) {
			ev_io_stop(f->loop, &s->io);
			free(s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof *s);
		if (!s)
			return -1;
		s->f = f;
		ev_init(&s->io, on_io);
		s->io.data = s;
		curl_multi_assign(f->multi, fd, s);
	}
	int events = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	ev_io_stop(f->loop, &s->io);
	ev_io_set(&s->io, fd, events);
	ev_io_start(f->loop, &s->io);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer, 0 means "on the next turn". */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct jg_fetch *f = userp;
	ev_timer_stop(f->loop, &f->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&f->timer, timeout_ms / 1000.0, 0.);
		ev_timer_start(f->loop, &f->timer);
	}
	return 0;
}

static void touch(struct jg_transfer *t);

static void fail_now(struct jg_transfer *t);

/*
 * Lets a paused transfer go on. The read curl kept is taken whatever the
 * time (each resumption moves the transfer on), whether curl hands it
 * over inside curl_easy_pause() (7.88) or at its next read (8.8 on). When
 * on_write refuses it there (the size cap, a sink error), curl returns
 * the error and would forget the transfer: it ends here.
 */
static void resume(struct jg_transfer *t)
{
	t->paused = 0;
	t->resume_owed = 1;
	if (curl_easy_pause(t->easy, CURLPAUSE_CONT) != CURLE_OK && !t->finished)
		fail_now(t);
}

/* Tokens came: curl hands over the bytes it kept, into on_write. */
static void on_rate_resume(struct jg_rate_waiter *w)
{
	struct jg_transfer *t =
		(struct jg_transfer *)(void *)((char *)w - offsetof(struct jg_transfer, rate_wait));
	touch(t);
	resume(t);
}

int jg_fetch_init(struct jg_fetch *f, struct ev_loop *loop, const struct jg_fetch_config *cfg,
                  jg_fetch_done_cb done, char *why, size_t why_len)
{
	memset(f, 0, sizeof *f);
	f->loop = loop;
	f->cfg = *cfg;
	f->done = done;
	f->multi = curl_multi_init();
	if (!f->multi) {
		snprintf(why, why_len, "curl_multi_init failed");
		return -1;
	}
	f->engine = cfg->engine ? cfg->engine : &jg_engine_multi;
	if (f->engine->init && f->engine->init(f, cfg->threads, why, why_len) < 0) {
		curl_multi_cleanup(f->multi);
		f->multi = NULL;
		return -1;
	}
	ev_timer_init(&f->timer, on_timer, 0., 0.);
	f->timer.data = f;
	ev_prepare_init(&f->drain, on_drain);
	f->drain.data = f;
	ev_idle_init(&f->drain_more, on_drain_more);
	jg_rate_init(&f->rate, loop, f->engine == &jg_engine_multi ? cfg->limit_rate : 0,
	             on_rate_resume);
	f->budget.held = &f->in_memory;
	f->budget.limit = cfg->max_buffer ? cfg->max_buffer : UINT64_MAX;
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	/* curl's default cache is four times the transfers added at the time:
	 * when one loop iteration removes most of them before the next adds
	 * their successors, it shrinks under the connections in use and
	 * closes idle ones the next transfers then open again (400 connects
	 * for 5,000 books from one host at -j 20, instead of 20). */
	if (cfg->max_connections)
		curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)cfg->max_connections);
	return 0;
}

void jg_fetch_fini(struct jg_fetch *f)
{
	if (!f->multi)
		return;
	if (f->engine->fini)
		f->engine->fini(f); /* gives its handles back to the spares */
	for (size_t i = 0; i < f->n_spare; i++)
		curl_easy_cleanup(f->spare[i]);
	free(f->spare);
	/* Closes cached connections; their CURL_POLL_REMOVE stops the watchers. */
	curl_multi_cleanup(f->multi);
	ev_timer_stop(f->loop, &f->timer);
	ev_prepare_stop(f->loop, &f->drain);
	ev_idle_stop(f->loop, &f->drain_more);
	jg_rate_fini(&f->rate);
	f->multi = NULL;
}

/* Frees the body's memory; `len` still counts what was kept. */
static void free_body(struct jg_transfer *t)
{
	t->f->in_memory -= t->cap;
	free(t->body);
	t->body = NULL;
	t->cap = 0;
}

static void drop_body(struct jg_transfer *t)
{
	free_body(t);
	t->len = 0;
}

static void touch(struct jg_transfer *t)
{
	/* An engine thread must not read the loop's cached time. */
	t->last_activity = t->threaded ? ev_time() : ev_now(t->f->loop);
}

static size_t stop(struct jg_transfer *t, enum jg_abort why)
{
	if (!t->aborted)
		t->aborted = why;
	return 0; /* curl then ends the transfer with CURLE_WRITE_ERROR */
}

static int body_wanted(struct jg_transfer *t)
{
	if (!t->checked_status) {
		long code = 0;
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
		t->keep_body = code >= 200 && code <= 299;
		t->checked_status = 1;
	}
	return t->keep_body;
}

static void add_todo(struct jg_transfer *t);

/*
 * Memory ran short (or the body is to be kept as a partial): the body
 * goes on in its temporary file, as a body that streams does. New bytes
 * go there at once (at their offset); what was in memory follows a step
 * at a time between iterations (a single write of 32 MiB would hold the
 * loop some 40 ms), and is freed then.
 */
enum spill_why { SPILL_MEMORY, SPILL_KEEP, SPILL_STREAM };

static int spill(struct jg_transfer *t, enum spill_why reason)
{
	struct jg_fetch *f = t->f;
	char why[256];
	if (!f->cfg.store || jg_store_begin(f->cfg.store, &t->spill, why, sizeof why) < 0) {
		snprintf(t->abort_why, sizeof t->abort_why, "%s",
		         f->cfg.store ? why : "over the memory budget, with nowhere to spill");
		t->sink_errno = f->cfg.store ? errno : ENOMEM;
		return -1;
	}
	t->spill_prefix = t->len;
	t->spill_written = 0;
	if (reason == SPILL_MEMORY)
		f->spills++;
	if (!t->threaded && t->len)
		add_todo(t);
	return 0;
}

/* Bytes of the body still in memory that its spill file lacks. */
static size_t prefix_left(const struct jg_transfer *t)
{
	return t->spill.fd >= 0 && t->body ? t->spill_prefix - t->spill_written : 0;
}

/*
 * The temporary name the body's file is linked from, given to it now if
 * it has none (store.h): the spill's, the job's sink's (loop engine), or
 * the copy a thread has of it (threads engine). NULL when it cannot be.
 */
static const char *kept_file_name(struct jg_transfer *t)
{
	struct jg_store_temp *tmp = t->spill.fd >= 0 ? &t->spill : t->range.sink_file;
	if (!tmp)
		return t->range.sink_name;
	return jg_store_name(t->f->cfg.store, tmp) == 0 ? tmp->name : NULL;
}

/*
 * A body that may be kept becomes a partial once JG_PARTIAL_MIN of it is
 * in its file with no gap (a spilled body's first bytes may still be on
 * their way from memory): a kill from then on leaves its bytes so far.
 */
static void maybe_keep(struct jg_transfer *t)
{
	struct jg_range *r = &t->range;
	if (!r->candidate || r->linked || t->len < JG_PARTIAL_MIN || prefix_left(t))
		return;
	const char *file = kept_file_name(t);
	struct jg_partial_meta m = {r->url, r->kind, r->validator, r->length};
	if (file && jg_partial_link(t->f->cfg.partials, t->f->cfg.store->dirfd, file, &m) == 0)
		r->linked = 1;
	else
		r->candidate = 0; /* cannot be kept here (no hard links, say): no more tries */
}

/*
 * Writes the spilled body's in-memory part to its file: a step at a time
 * within the slice on the loop, all of it on an engine thread. 0 (done or
 * out of time), or -1 when the write failed.
 */
static int write_prefix(struct jg_transfer *t)
{
	while (prefix_left(t)) {
		size_t n = prefix_left(t) < SPILL_STEP ? prefix_left(t) : SPILL_STEP;
		ssize_t w = pwrite(t->spill.fd, t->body + t->spill_written, n, (off_t)t->spill_written);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			t->sink_errno = errno;
			return -1;
		}
		t->spill_written += (size_t)w;
		if (!t->threaded && jg_slice_spent(t->f->loop))
			break;
	}
	if (t->body && !prefix_left(t)) {
		free_body(t);
		maybe_keep(t);
	}
	return 0;
}

/*
 * Whether a body of `len` bytes goes to its file as it comes, to be
 * counted from there (jg_fetch.stream_over). Measured against receiving
 * bodies into memory the workers share and letting them save it: 1,000
 * books of 400 KiB from nginx took 1.46 s and 2.3 s of CPU this way, 1.65 s
 * and 3.0 s that way. The loop writes each piece while it is still in the
 * cache from the socket; a worker saving a whole body reads it back from
 * memory first, and reads it again to hash and count it.
 */
static int streams(const struct jg_transfer *t, uint64_t len)
{
	/* Creating the file is the costly part (half a millisecond on an ext4
	 * that freed many inodes lately), and dozens of answers may begin in
	 * one iteration: past the slice the body waits in memory, within the
	 * budget, and goes to its file at a later piece. */
	return t->book && t->f->stream_over && len > t->f->stream_over && t->sink < 0 &&
	       t->spill.fd < 0 && (t->threaded || !jg_slice_spent(t->f->loop));
}

/* Room for `need` bytes of body in memory, within the budget; 1 when the
 * body had to spill to its file instead, -1 on failure. */
static int reserve(struct jg_transfer *t, size_t need)
{
	if (need <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap : FIRST_BUFFER;
	curl_off_t cl = -1;
	if (!t->cap && curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
	    cl > 0 && (uint64_t)cl <= t->f->cfg.max_size && cl < PREALLOC_MAX)
		cap = (size_t)cl;
	while (cap < need)
		cap *= 2;
	if (streams(t, need))
		return spill(t, SPILL_STREAM) < 0 ? -1 : 1;
	if (t->f->in_memory + (cap - t->cap) > t->f->budget.limit)
		return spill(t, SPILL_MEMORY) < 0 ? -1 : 1;
	char *body = realloc(t->body, cap);
	if (!body)
		return spill(t, SPILL_MEMORY) < 0 ? -1 : 1;
	t->f->in_memory += cap - t->cap;
	t->body = body;
	t->cap = cap;
	return 0;
}

/* Decoded bytes into the body: its file, or memory. 0, or -1 (aborted). */
static int keep(struct jg_transfer *t, const void *data, size_t n)
{
	/* The cap counts decoded bytes, so a compression bomb stops too. */
	if (t->len + n > t->f->cfg.max_size) {
		stop(t, JG_ABORT_TOO_LARGE);
		return -1;
	}
	int fd = t->spill.fd >= 0 ? t->spill.fd : t->sink;
	/* A body of no announced length that may be kept goes to its file
	 * once it is large enough to be worth keeping. */
	if (fd < 0 && t->range.candidate && t->len + n > JG_PARTIAL_MIN) {
		if (spill(t, SPILL_KEEP) < 0) {
			stop(t, JG_ABORT_SINK);
			return -1;
		}
		fd = t->spill.fd;
	}
	if (fd < 0) {
		int r = reserve(t, t->len + n);
		if (r < 0) {
			stop(t, JG_ABORT_SINK);
			return -1;
		}
		if (r == 0) {
			memcpy(t->body + t->len, data, n);
			t->len += n;
			return 0;
		}
		fd = t->spill.fd;
	}
	/* Download only, or spilled: straight to the file; nothing held. A
	 * spilled body's bytes go at their place: what was in memory is
	 * still being written before them. */
	int failed = fd == t->spill.fd ? jg_pwrite_all(fd, data, n, (off_t)t->len) < 0
	                               : jg_write_all(fd, data, n) < 0;
	if (failed || (t->threaded && write_prefix(t) < 0)) {
		if (failed)
			t->sink_errno = errno;
		stop(t, JG_ABORT_SINK);
		return -1;
	}
	t->len += n;
	maybe_keep(t);
	return 0;
}

static void add_todo(struct jg_transfer *t)
{
	struct jg_fetch *f = t->f;
	if (!t->in_todo) {
		t->in_todo = 1;
		t->todo_next = f->todo;
		f->todo = t;
	}
	if (!ev_is_active(&f->drain))
		ev_prepare_start(f->loop, &f->drain);
}

static void remove_todo(struct jg_transfer *t)
{
	if (!t->in_todo)
		return;
	for (struct jg_transfer **p = &t->f->todo; *p; p = &(*p)->todo_next)
		if (*p == t) {
			*p = t->todo_next;
			break;
		}
	t->in_todo = 0;
}

/*
 * Decodes what `*in` holds into the body, a step at a time. A transfer on
 * the loop stops once the iteration's slice is spent (after one step at
 * least, so it always gets on); engine threads decode all. 0, or -1 once
 * the transfer is aborted.
 */
static int decode(struct jg_transfer *t, const uint8_t **in, size_t *in_len)
{
	if (t->dec.coding == JG_CODING_IDENTITY && *in_len) {
		/* Nothing to undo: the read goes on whole, one write of it, not
		 * a copy and a write per step. */
		if (keep(t, *in, *in_len) < 0)
			return -1;
		*in += *in_len;
		*in_len = 0;
		touch(t);
		return 0;
	}
	uint8_t out[DECODE_STEP];
	do {
		long n = jg_decoder_step(&t->dec, in, in_len, out, sizeof out, t->abort_why,
		                         sizeof t->abort_why);
		if (n < 0) {
			stop(t, jg_decoder_over_budget(&t->dec) ? JG_ABORT_BUDGET : JG_ABORT_DECODE);
			return -1;
		}
		/* A full output may leave more inside the decoder (brotli and
		 * zstd keep a window of it): it is called again, input or not. */
		t->dec_full = n == (long)sizeof out;
		if (n > 0 && keep(t, out, (size_t)n) < 0)
			return -1;
		touch(t);
	} while ((*in_len || t->dec_full) && (t->threaded || !jg_slice_spent(t->f->loop)));
	return 0;
}

/* Keeps the bytes the slice left undecoded, for the next iteration. */
static int keep_pending(struct jg_transfer *t, const uint8_t *in, size_t len)
{
	if (len > t->pending_cap) {
		uint8_t *p = realloc(t->pending, len);
		if (!p)
			return -1;
		t->f->in_memory += len - t->pending_cap;
		t->pending = p;
		t->pending_cap = len;
	}
	if (len) /* none left, but the decoder's output was full */
		memmove(t->pending, in, len);
	t->pending_len = len;
	add_todo(t);
	return 0;
}

/* The transfer's announced length no longer counts: it ended. */
static void forget_announced(struct jg_transfer *t)
{
	if (!t->announced)
		return;
	t->f->announced--;
	t->f->announced_left -= t->announced_left;
	t->announced = 0;
	t->announced_left = 0;
}

static void announce(struct jg_transfer *t, uint64_t length)
{
	forget_announced(t);
	t->announced = 1;
	t->announced_left = length;
	t->f->announced++;
	t->f->announced_left += length;
}

/* `bytes` of the body came: that much less of the length is to come (a
 * server that sends more than it said does not make it negative). */
static void arrived(struct jg_transfer *t, uint64_t bytes)
{
	if (!t->announced)
		return;
	uint64_t n = bytes < t->announced_left ? bytes : t->announced_left;
	t->announced_left -= n;
	t->f->announced_left -= n;
}

/* Whether the transfer is a stream of a shared connection (HTTP/2): curl
 * 7.88 holds the whole connection while one of its streams is paused. */
static int multiplexed(struct jg_transfer *t)
{
	long v = 0;
	curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &v);
	return v >= CURL_HTTP_VERSION_2_0;
}

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
	struct jg_transfer *t = userp;
	size_t bytes = size * n;
	if (t->aborted)
		return 0; /* a read handed back after the transfer was stopped */
	if (body_wanted(t) && (t->pending_len || t->dec_full)) {
		/* Still decoding the last read: curl keeps this one for us and
		 * hands it over again, so it is not received yet. */
		t->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (t->resume_owed)
		t->resume_owed = 0;
	else if (!t->threaded && jg_slice_spent(t->f->loop) && !multiplexed(t)) {
		/* Out of time: one socket action reads until the socket is dry,
		 * and one timer action runs every transfer due, so without this
		 * an action could take milliseconds (a timer action that ran
		 * five fast transfers took 1.6 MB and 4.5 ms). curl keeps this
		 * read; the transfer goes on from the next turn's drain. */
		t->paused = 1;
		add_todo(t);
		return CURL_WRITEFUNC_PAUSE;
	}
	if (!jg_rate_may(&t->f->rate, &t->rate_wait)) {
		/* Over --limit-rate: curl keeps these bytes until tokens come. */
		jg_rate_wait(&t->f->rate, &t->rate_wait);
		return CURL_WRITEFUNC_PAUSE;
	}
	jg_rate_spend(&t->f->rate, bytes);
	t->received += bytes;
	t->f->received += bytes;
	arrived(t, bytes);
	if (!body_wanted(t)) {
		/* An error page or a redirect: read a little, drop it, and take
		 * the answer as complete; it is no sign of life either. */
		t->discarded += bytes;
		return t->discarded > JG_ERROR_BODY_MAX ? stop(t, JG_ABORT_ERROR_BODY) : bytes;
	}
	const uint8_t *in = (const uint8_t *)data;
	size_t left = bytes;
	if (decode(t, &in, &left) < 0)
		return 0;
	if ((left || t->dec_full) && keep_pending(t, in, left) < 0)
		return stop(t, JG_ABORT_SINK);
	return bytes;
}

/* The value of the head's field `name` and how many came, or NULL. */
static const char *head_field(const struct jg_transfer *t, const char *name, unsigned *count)
{
	struct curl_header *h;
	if (curl_easy_header(t->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	if (count)
		*count = (unsigned)h->amount;
	return h->value; /* curl's storage: later calls clobber `h`, not this */
}

/*
 * A 2xx head: the rest of a partial, the whole body again, or a body
 * worth keeping (range.h). 0, or -1 with the transfer stopped.
 */
static int judge_range(struct jg_transfer *t, long code, curl_off_t cl)
{
	struct jg_range *r = &t->range;
	/* Most books: no partial asked for, and nothing that could be kept
	 * (what range.c would say, without looking the head's fields up). */
	if (!r->from && (!r->url || code == 206 || (cl >= 0 && (uint64_t)cl <= JG_PARTIAL_MIN)))
		return 0;
	struct jg_range_answer a = {
		.code = code,
		.identity = t->head.coding == JG_CODING_IDENTITY && !t->head.bad_coding,
		.content_length = cl,
		.etag = head_field(t, "ETag", NULL),
		.last_modified = head_field(t, "Last-Modified", NULL),
		.date = head_field(t, "Date", NULL),
	};
	a.content_range = head_field(t, "Content-Range", &a.content_ranges);
	enum jg_range_verdict v;
	jg_range_judge(r, &a, &v, t->abort_why, sizeof t->abort_why); /* -1: not kept, no more */
	switch (v) {
	case JG_RANGE_REFUSED:
		stop(t, JG_ABORT_RANGE);
		return -1;
	case JG_RANGE_CONTINUES:
		if (r->length > t->f->cfg.max_size) {
			snprintf(t->abort_why, sizeof t->abort_why, "Content-Range length %" PRIu64,
			         r->length);
			stop(t, JG_ABORT_ANNOUNCED_LARGE);
			return -1;
		}
		t->len = (size_t)r->from; /* the sink holds them, and is at their end */
		return 0;
	case JG_RANGE_RESTARTS:
		/* The sink holds the stale partial's bytes: the new body goes to a
		 * file of its own, and the partial's name goes now, so that a kill
		 * cannot leave it to be continued with this body's bytes. */
		jg_partial_unlink(t->f->cfg.partials, r->url);
		break;
	case JG_RANGE_FRESH:
		if (!r->candidate || t->sink >= 0 || cl < 0)
			return 0;
		break; /* large and kept: to its file from the first byte */
	}
	if (spill(t, SPILL_KEEP) < 0) {
		stop(t, JG_ABORT_SINK);
		return -1;
	}
	return 0;
}

/* The final head is complete: the body's fate is decided here. */
static int head_ended(struct jg_transfer *t)
{
	long code = 0;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299)
		return 0;
	curl_off_t cl = -1;
	if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK &&
	    cl >= 0 && (uint64_t)cl > t->f->cfg.max_size) {
		snprintf(t->abort_why, sizeof t->abort_why, "Content-Length %" PRId64, (int64_t)cl);
		stop(t, JG_ABORT_ANNOUNCED_LARGE);
		return -1;
	}
	if (t->head.bad_coding && !(t->range.from && code == 206)) {
		snprintf(t->abort_why, sizeof t->abort_why, "%s", t->head.coding_name);
		stop(t, JG_ABORT_CODING);
		return -1;
	}
	if (judge_range(t, code, cl) < 0)
		return -1;
	/* Announced large enough to be counted from its file: there at once,
	 * rather than after a first piece in memory. */
	if (cl >= 0 && streams(t, (uint64_t)cl) && spill(t, SPILL_STREAM) < 0) {
		stop(t, JG_ABORT_SINK);
		return -1;
	}
	int rc = jg_decoder_init(&t->dec, t->head.coding, &t->f->budget);
	if (rc < 0) {
		snprintf(t->abort_why, sizeof t->abort_why, "%s: %s", jg_coding_name(t->head.coding),
		         rc == -2 ? "decoding needs more memory than the budget allows"
		                  : "out of memory");
		stop(t, rc == -2 ? JG_ABORT_BUDGET : JG_ABORT_DECODE);
		return -1;
	}
	t->dec_ready = 1;
	if (cl >= 0)
		announce(t, (uint64_t)cl);
	return 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct jg_transfer *t = userp;
	size_t bytes = size * n;
	int in_head = !t->head.ended;
	switch (jg_head_line(&t->head, data, bytes)) {
	case JG_HEAD_TOO_LONG:
		return stop(t, JG_ABORT_HEAD_TOO_LONG);
	case JG_HEAD_END:
		if (head_ended(t) < 0)
			return 0;
		break;
	case JG_HEAD_LINE:
		break;
	}
	/* Each response of a redirect chain or retry is judged on its own. */
	if (bytes > 5 && memcmp(data, "HTTP/", 5) == 0)
		t->checked_status = 0;
	const char *v;
	size_t vl;
	if (in_head && bytes < JG_URL_MAX && jg_head_value(data, bytes, "location:", &v, &vl)) {
		free(t->location);
		t->location = strndup(v, vl);
	}
	if (in_head)
		touch(t); /* trailers are no progress */
	return bytes;
}

/* Every byte is in: the transfer is the caller's to judge. */
static void complete(struct jg_transfer *t)
{
	remove_todo(t);
	if (t->code == CURLE_OK && t->keep_body && t->dec_ready && !t->aborted &&
	    t->dec.coding != JG_CODING_IDENTITY && !t->dec.done) {
		snprintf(t->abort_why, sizeof t->abort_why, "%s: the coded body ends early",
		         jg_coding_name(t->dec.coding));
		t->aborted = JG_ABORT_DECODE;
		t->code = CURLE_WRITE_ERROR;
	}
	t->f->done(t);
}

static void finish(struct jg_transfer *t, CURLcode code)
{
	struct jg_fetch *f = t->f;
	ev_timer_stop(f->loop, &t->stall);
	curl_multi_remove_handle(f->multi, t->easy);
	f->running--;
	forget_announced(t);
	/* An error body cut at its cap: the answer itself is complete. */
	t->code = t->aborted == JG_ABORT_ERROR_BODY ? CURLE_OK : code;
	t->finished = 1;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->http_code);
	curl_off_t ra = 0;
	if (curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		t->retry_after = (double)ra;
	if (t->code == CURLE_OK && (t->pending_len || t->dec_full || prefix_left(t))) {
		add_todo(t); /* the last read, or the spilled body, is not done */
		return;
	}
	t->pending_len = 0;
	complete(t);
}

/* Ends a transfer that failed outside curl's callbacks. */
static void fail_now(struct jg_transfer *t)
{
	t->pending_len = 0;
	if (!t->finished)
		finish(t, CURLE_WRITE_ERROR);
	else {
		t->code = CURLE_WRITE_ERROR;
		complete(t);
	}
}

/* One turn for a transfer with work left: a spilled body's in-memory
 * part to write, bytes of an earlier read to decode. 1 when it resumed
 * the transfer from a pause, else 0. */
static int drain_one(struct jg_transfer *t)
{
	if (prefix_left(t)) {
		if (write_prefix(t) < 0) {
			stop(t, JG_ABORT_SINK);
			fail_now(t);
			return 0;
		}
		if (prefix_left(t))
			return 0; /* out of time */
	}
	const uint8_t *in = t->pending;
	size_t left = t->pending_len;
	if ((left || t->dec_full) && decode(t, &in, &left) < 0) {
		fail_now(t);
		return 0;
	}
	if (left || t->dec_full) {
		memmove(t->pending, in, left);
		t->pending_len = left;
		return 0;
	}
	t->pending_len = 0;
	remove_todo(t);
	if (t->finished) {
		complete(t);
	} else if (t->paused) {
		resume(t);
		return 1;
	}
	return 0;
}

/*
 * Before the loop waits: decoding left over from earlier iterations, a
 * transfer a turn, round robin, within the slice.
 */
static void on_drain(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct jg_fetch *f = w->data;
	struct jg_transfer *t;
	/* What a transfer's end sets off (the caller's admission, say) is
	 * started from here, a prepare watcher, and would run only after the
	 * loop next waits: one more turn without waiting lets it run now. */
	ev_idle_start(loop, &f->drain_more);
	/* One at least, or a loop busy with its sockets would never get back
	 * to the transfers it paused for want of time. */
	unsigned resumed = 0;
	for (int first = 1; (t = f->todo) != NULL && resumed < RESUMES_PER_TURN &&
	                    (first || !jg_slice_spent(loop));
	     first = 0) {
		resumed += (unsigned)drain_one(t);
		if (t == f->todo && t->todo_next) { /* still pending: to the back */
			f->todo = t->todo_next;
			struct jg_transfer *last = f->todo;
			while (last->todo_next)
				last = last->todo_next;
			last->todo_next = t;
			t->todo_next = NULL;
		}
	}
	if (!f->todo)
		ev_prepare_stop(loop, w);
}

static void on_drain_more(struct ev_loop *loop, ev_idle *w, int revents)
{
	/* Only there to keep the loop from waiting while work is left. */
	ev_idle_stop(loop, w);
}

static void on_stall(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jg_transfer *t = w->data;
	if (t->rate_wait.waiting)
		touch(t); /* held back by --limit-rate, not by the server */
	double idle = ev_now(loop) - t->last_activity;
	double limit = t->f->cfg.stall_timeout;
	if (idle < limit) {
		/* Data came since the timer was set: sleep for what is left. */
		ev_timer_set(w, limit - idle, 0.);
		ev_timer_start(loop, w);
		return;
	}
	t->stalled = 1;
	finish(t, CURLE_OPERATION_TIMEDOUT);
}

/*
 * An easy handle set to read with a receive buffer of `buffer` bytes: a
 * spare one, or a new one. curl frees a transfer's buffer at its end,
 * except when its connection is still in use (an HTTP/2 stream among
 * others): then the spare handle keeps the buffer, refuses a new size,
 * and would read the default 16 KiB that curl_easy_reset() set into it,
 * however small the buffer was. Such a handle is not used.
 */
static CURL *take_easy(struct jg_fetch *f, long buffer)
{
	while (f->n_spare > 0) {
		CURL *e = f->spare[--f->n_spare];
		curl_easy_reset(e);
		if (curl_easy_setopt(e, CURLOPT_BUFFERSIZE, buffer) == CURLE_OK)
			return e;
		curl_easy_cleanup(e);
	}
	CURL *e = curl_easy_init();
	if (e)
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, buffer);
	return e;
}

static void give_easy(struct jg_fetch *f, CURL *e)
{
	if (f->n_spare == f->cap_spare) {
		size_t cap = f->cap_spare ? f->cap_spare * 2 : 16;
		CURL **spare = realloc(f->spare, cap * sizeof *spare);
		if (!spare) {
			curl_easy_cleanup(e);
			return;
		}
		f->spare = spare;
		f->cap_spare = cap;
	}
	f->spare[f->n_spare++] = e;
}

/*
 * Our own socket(): curl reports a socket that could not be made as a
 * connect failure, with no errno, and running out of descriptors is the
 * process's limit, not the host's fault.
 */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct jg_transfer *t = clientp;
	curl_socket_t fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	if (fd == CURL_SOCKET_BAD && (errno == EMFILE || errno == ENFILE))
		t->out_of_fds = 1;
	return fd;
}

long jg_fetch_receive_buffer(unsigned running)
{
	unsigned long size = JG_RECEIVE_BUDGET / ((unsigned long)running + 1);
	size -= size % JG_RECEIVE_MIN;
	return (long)(size > JG_RECEIVE_MAX ? JG_RECEIVE_MAX : size < JG_RECEIVE_MIN ? JG_RECEIVE_MIN : size);
}

static void configure(struct jg_fetch *f, struct jg_transfer *t, const char *url,
                      const char *proxy)
{
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, f->cfg.user_agent);
	/* Content codings are undone here (decode.h), not by curl. */
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	/* Redirects are followed by the caller, which resolves the new host
	 * first; curl following them would resolve in a thread. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* Only the proxy the caller chose, or none: curl would otherwise read
	 * *_proxy and no_proxy from the environment (explicit strings, ""
	 * included, keep it from that), and resolve what they name in its
	 * thread. Which URLs go direct is decided before (proxy.h). */
	curl_easy_setopt(e, CURLOPT_PROXY, proxy ? proxy : "");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "");
	if (proxy) {
		/* The proxy's answer to CONNECT is no part of the server's head. */
		curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
		if (f->cfg.cacert)
			curl_easy_setopt(e, CURLOPT_PROXY_CAINFO, f->cfg.cacert);
	}
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* Waiting for a connection that may multiplex pays only with TLS
	 * (HTTP/2 is negotiated there); on cleartext it would serialise. */
	if (strncmp(url, "https:", 6) == 0)
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	if (f->cfg.connect_timeout > 0)
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(f->cfg.connect_timeout * 1000));
	if (f->cfg.cacert)
		curl_easy_setopt(e, CURLOPT_CAINFO, f->cfg.cacert);
	if (t->resolve)
		curl_easy_setopt(e, CURLOPT_RESOLVE, t->resolve);
	if (t->headers)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
}

/* Whether the caller sets header `name` itself (its own replaces ours). */
static int caller_sets(const struct jg_fetch *f, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < f->cfg.n_headers; i++)
		if (strncasecmp(f->cfg.headers[i], name, n) == 0 && f->cfg.headers[i][n] == ':')
			return 1;
	return 0;
}

static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	char line[1024];
	if (!value || !*value)
		return 0;
	/* A validator is one header line: nothing a server sent can add
	 * another one to our request. */
	if (strpbrk(value, "\r\n") || snprintf(line, sizeof line, "%s: %s", name, value) >= (int)sizeof line)
		return 0;
	struct curl_slist *l = curl_slist_append(*list, line);
	if (!l)
		return -1;
	*list = l;
	return 0;
}

/* The transfer's own copy of what it needs of its partial. 0 or -1. */
static int take_part(struct jg_transfer *t, const struct jg_fetch_part *part)
{
	struct jg_range *r = &t->range;
	if (!part || !part->url)
		return 0;
	r->sink_file = part->sink;
	if (!(r->url = strdup(part->url)) ||
	    (part->sink && part->sink->name[0] && !(r->sink_name = strdup(part->sink->name))))
		return -1;
	if (part->have) {
		/* If-Range guards the rest: never a range without it (partial.c
		 * reads no validator that could not be sent). */
		assert(part->have->kind != JG_VALIDATOR_NONE && part->have->validator[0] &&
		       !strpbrk(part->have->validator, "\r\n"));
		if (!(r->have = strdup(part->have->validator)))
			return -1;
		r->from = part->have->bytes;
		r->have_kind = part->have->kind;
		r->have_length = part->have->length;
	}
	return 0;
}

/* Range and If-Range for the rest of a partial (RFC 9110 14.2, 13.1.5). */
static int ask_for_rest(struct curl_slist **list, const struct jg_range *r)
{
	char bytes[48];
	snprintf(bytes, sizeof bytes, "bytes=%" PRIu64 "-", r->from);
	return add_header(list, "Range", bytes) < 0 || add_header(list, "If-Range", r->have) < 0
	               ? -1 : 0;
}

/* Appends `entry` (if any) to the transfer's CURLOPT_RESOLVE list. */
static int add_resolve(struct jg_transfer *t, const char *entry)
{
	if (!entry)
		return 0;
	struct curl_slist *l = curl_slist_append(t->resolve, entry);
	if (!l)
		return -1;
	t->resolve = l;
	return 0;
}

int jg_fetch_start(struct jg_fetch *f, struct jg_transfer *t, const char *url,
                   const struct jg_fetch_route *route, int sink,
                   const struct jg_fetch_cond *cond, const struct jg_fetch_part *part)
{
	static const struct jg_fetch_route direct;
	if (!route)
		route = &direct;
	memset(t, 0, sizeof *t);
	t->f = f;
	t->sink = sink;
	t->spill.fd = -1;
	t->book = part != NULL;
	jg_head_init(&t->head);
	if (add_resolve(t, route->resolve) < 0 || add_resolve(t, route->proxy_resolve) < 0)
		goto nomem;
	if (take_part(t, part) < 0)
		goto nomem;
	/* The rest of a partial is of its identity bytes: a server that
	 * codes on the fly must not code this answer (a coded one is
	 * refused, and the book starts again). */
	if (!caller_sets(f, "Accept-Encoding") &&
	    add_header(&t->headers, "Accept-Encoding",
	               t->range.from ? "identity" : JG_ACCEPT_ENCODING) < 0)
		goto nomem;
	if (t->range.from && ask_for_rest(&t->headers, &t->range) < 0)
		goto nomem;
	if (cond && ((!caller_sets(f, "If-None-Match") &&
	              add_header(&t->headers, "If-None-Match", cond->etag) < 0) ||
	             (!caller_sets(f, "If-Modified-Since") &&
	              add_header(&t->headers, "If-Modified-Since", cond->last_modified) < 0)))
		goto nomem;
	for (size_t i = 0; i < f->cfg.n_headers; i++) {
		struct curl_slist *l = curl_slist_append(t->headers, f->cfg.headers[i]);
		if (!l)
			goto nomem;
		t->headers = l;
	}
	if (!(t->easy = take_easy(f, jg_fetch_receive_buffer(f->running))))
		goto nomem;
	configure(f, t, url, route->proxy);
	if (f->engine->start(f, t) < 0) {
		jg_fetch_release(t);
		return -1;
	}
	f->running++;
	return 0;
nomem:
	snprintf(t->errbuf, sizeof t->errbuf, "out of memory");
	jg_fetch_release(t);
	return -1;
}

void jg_fetch_cancel(struct jg_transfer *t)
{
	t->f->engine->cancel(t);
}

unsigned jg_fetch_threads_started(const struct jg_fetch *f)
{
	return f->engine->threads_started ? f->engine->threads_started(f) : 0;
}

/* ---- the multi engine: curl's multi socket interface on the loop ------- */

static int multi_start(struct jg_fetch *f, struct jg_transfer *t)
{
	ev_timer_init(&t->stall, on_stall, f->cfg.stall_timeout, 0.);
	t->stall.data = t;
	touch(t);
	CURLMcode rc = curl_multi_add_handle(f->multi, t->easy);
	if (rc != CURLM_OK) {
		snprintf(t->errbuf, sizeof t->errbuf, "curl: %s", curl_multi_strerror(rc));
		return -1;
	}
	ev_timer_start(f->loop, &t->stall);
	return 0;
}

static void multi_cancel(struct jg_transfer *t)
{
	struct jg_fetch *f = t->f;
	remove_todo(t);
	if (!t->finished) {
		ev_timer_stop(f->loop, &t->stall);
		curl_multi_remove_handle(f->multi, t->easy);
		f->running--;
	}
	jg_fetch_release(t);
}

const struct jg_engine_ops jg_engine_multi = {
	.name = "loop",
	.start = multi_start,
	.cancel = multi_cancel,
};

char *jg_fetch_take_body(struct jg_transfer *t, size_t *len, uint64_t *held)
{
	char *body = t->body;
	*len = t->len;
	*held = t->cap;
	t->body = NULL;
	t->len = t->cap = 0;
	return body;
}

void jg_fetch_unhold(struct jg_fetch *f, uint64_t held)
{
	f->in_memory -= held;
}

void jg_fetch_release(struct jg_transfer *t)
{
	forget_announced(t); /* the threads engine's, cancelled ones */
	if (t->body)
		drop_body(t);
	remove_todo(t);
	jg_rate_forget(&t->f->rate, &t->rate_wait);
	if (t->pending) {
		t->f->in_memory -= t->pending_cap;
		free(t->pending);
		t->pending = NULL;
		t->pending_len = t->pending_cap = 0;
	}
	if (t->dec_ready) {
		jg_decoder_fini(&t->dec);
		t->dec_ready = 0;
	}
	if (t->spill.fd >= 0 && t->f->cfg.store)
		jg_store_abort(t->f->cfg.store, &t->spill);
	free(t->location);
	t->location = NULL;
	if (t->easy) {
		give_easy(t->f, t->easy);
		t->easy = NULL;
	}
	curl_slist_free_all(t->resolve);
	t->resolve = NULL;
	curl_slist_free_all(t->headers);
	t->headers = NULL;
	jg_range_fini(&t->range);
}

void jg_fetch_proxy_answer(const struct jg_transfer *t, long *connect_code, long *proxy_error)
{
	*connect_code = *proxy_error = 0;
	if (!t->easy)
		return;
	curl_easy_getinfo(t->easy, CURLINFO_HTTP_CONNECTCODE, connect_code);
	curl_easy_getinfo(t->easy, CURLINFO_PROXY_ERROR, proxy_error);
}

const char *jg_fetch_header(const struct jg_transfer *t, const char *name)
{
	struct curl_header *h;
	if (!t->easy || curl_easy_header(t->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return h->value;
}

/*
 * A redirect whose endless body was cut at its cap ended with an error as
 * far as curl knows, which then gives no redirect URL: ours, from the
 * Location the head carried, resolved as curl would.
 */
static char *resolve_location(struct jg_transfer *t)
{
	char *base = NULL, *url = NULL;
	CURLU *h = curl_url();
	if (h && curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &base) == CURLE_OK && base &&
	    curl_url_set(h, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(h, CURLUPART_URL, t->location, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK)
		curl_url_get(h, CURLUPART_URL, &url, 0);
	curl_url_cleanup(h);
	return url;
}

const char *jg_fetch_redirect_url(struct jg_transfer *t)
{
	char *url = NULL;
	if (t->http_code < 300 || t->http_code > 399 || !t->easy)
		return NULL;
	if (curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &url) == CURLE_OK && url)
		return url;
	if (!t->location || t->aborted != JG_ABORT_ERROR_BODY)
		return NULL;
	char *resolved = resolve_location(t);
	if (!resolved)
		return NULL;
	free(t->location); /* from here on, the resolved one */
	t->location = strdup(resolved);
	curl_free(resolved);
	return t->location;
}

const char *jg_fetch_content_type(const struct jg_transfer *t)
{
	char *ct = NULL;
	if (!t->easy || curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ct) != CURLE_OK)
		return NULL;
	return ct;
}

/* Collects finished transfers; called after every socket action. */
static void check_done(struct jg_fetch *f)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct jg_transfer *t = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		finish(t, msg->data.result);
	}
}
