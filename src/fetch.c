#include "fetch.h"

#include "fetch_threads.h"
#include "stall.h"
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bodies of unknown length start here and double. */
enum { FIRST_BUFFER = 16 * 1024, PREALLOC_MAX = 64 << 20 };

struct fetch_sock {
	ev_io io;
	struct jg_fetch *f;
};

static void check_done(struct jg_fetch *f);

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
	if (cfg->threads && jg_threads_init(f, cfg->threads, why, why_len) < 0) {
		curl_multi_cleanup(f->multi);
		f->multi = NULL;
		return -1;
	}
	ev_timer_init(&f->timer, on_timer, 0., 0.);
	f->timer.data = f;
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
	curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	return 0;
}

void jg_fetch_fini(struct jg_fetch *f)
{
	if (!f->multi)
		return;
	if (f->threads)
		jg_threads_fini(f); /* gives its handles back to the spares */
	for (size_t i = 0; i < f->n_spare; i++)
		curl_easy_cleanup(f->spare[i]);
	free(f->spare);
	/* Closes cached connections; their CURL_POLL_REMOVE stops the watchers. */
	curl_multi_cleanup(f->multi);
	ev_timer_stop(f->loop, &f->timer);
	f->multi = NULL;
}

static void drop_body(struct jg_transfer *t)
{
	t->f->buffered -= t->cap;
	free(t->body);
	t->body = NULL;
	t->len = t->cap = 0;
}

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
	char *body = realloc(t->body, cap);
	if (!body)
		return -1;
	t->f->buffered += cap - t->cap;
	t->body = body;
	t->cap = cap;
	return 0;
}

static void touch(struct jg_transfer *t)
{
	/* An engine thread must not read the loop's cached time. */
	t->last_activity = t->threaded ? ev_time() : ev_now(t->f->loop);
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

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
	struct jg_transfer *t = userp;
	size_t bytes = size * n;
	touch(t);
	t->received += bytes;
	t->f->received += bytes;
	if (!body_wanted(t))
		return bytes; /* an error page or a redirect: not worth keeping */
	/* The cap counts decoded bytes, so a compression bomb stops too. */
	if (t->len + bytes > t->f->cfg.max_size) {
		t->too_large = 1;
		return 0;
	}
	if (t->sink >= 0) {
		/* Download only: straight to the file, as curl does; nothing held. */
		if (jg_write_all(t->sink, data, bytes) < 0) {
			t->sink_errno = errno;
			return 0;
		}
		t->len += bytes;
		return bytes;
	}
	if (reserve(t, t->len + bytes) < 0)
		return 0;
	memcpy(t->body + t->len, data, bytes);
	t->len += bytes;
	return bytes;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	struct jg_transfer *t = userp;
	touch(t);
	/* Each response of a redirect chain or retry is judged on its own. */
	if (size * n > 5 && memcmp(data, "HTTP/", 5) == 0)
		t->checked_status = 0;
	return size * n;
}

static void finish(struct jg_transfer *t, CURLcode code)
{
	struct jg_fetch *f = t->f;
	ev_timer_stop(f->loop, &t->stall);
	curl_multi_remove_handle(f->multi, t->easy);
	f->running--;
	t->code = code;
	curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->http_code);
	curl_off_t ra = 0;
	if (curl_easy_getinfo(t->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		t->retry_after = (double)ra;
	f->done(t);
}

static void on_stall(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct jg_transfer *t = w->data;
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

static CURL *take_easy(struct jg_fetch *f)
{
	if (f->n_spare > 0) {
		CURL *e = f->spare[--f->n_spare];
		curl_easy_reset(e);
		return e;
	}
	return curl_easy_init();
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

static void configure(struct jg_fetch *f, struct jg_transfer *t, const char *url)
{
	CURL *e = t->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, f->cfg.user_agent);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, ""); /* all curl can decode */
	/* curl reads a socket in buffer-sized steps with a poll() between
	 * them: at the default 16 KiB, a 400 KB book from a fast server costs
	 * 25 reads and 25 polls; 64 KiB cut juggle's CPU by a quarter (bench).
	 * Only the touched part of the buffer costs memory. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 65536L);
	/* Redirects are followed by the caller, which resolves the new host
	 * first; curl following them would resolve in a thread. */
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* A proxy from the environment would be resolved by curl's thread. */
	curl_easy_setopt(e, CURLOPT_PROXY, "");
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

int jg_fetch_start(struct jg_fetch *f, struct jg_transfer *t, const char *url, const char *resolve,
                   int sink, const struct jg_fetch_cond *cond)
{
	memset(t, 0, sizeof *t);
	t->f = f;
	t->sink = sink;
	if (resolve && !(t->resolve = curl_slist_append(NULL, resolve)))
		goto nomem;
	if (cond && (add_header(&t->headers, "If-None-Match", cond->etag) < 0 ||
	             add_header(&t->headers, "If-Modified-Since", cond->last_modified) < 0))
		goto nomem;
	if (!(t->easy = take_easy(f)))
		goto nomem;
	configure(f, t, url);
	if (f->threads) {
		if (jg_threads_submit(f, t) < 0) {
			jg_fetch_release(t);
			return -1;
		}
		f->running++;
		return 0;
	}
	ev_timer_init(&t->stall, on_stall, f->cfg.stall_timeout, 0.);
	t->stall.data = t;
	touch(t);
	CURLMcode rc = curl_multi_add_handle(f->multi, t->easy);
	if (rc != CURLM_OK) {
		snprintf(t->errbuf, sizeof t->errbuf, "curl: %s", curl_multi_strerror(rc));
		jg_fetch_release(t);
		return -1;
	}
	ev_timer_start(f->loop, &t->stall);
	f->running++;
	return 0;
nomem:
	snprintf(t->errbuf, sizeof t->errbuf, "out of memory");
	jg_fetch_release(t);
	return -1;
}

void jg_fetch_cancel(struct jg_transfer *t)
{
	struct jg_fetch *f = t->f;
	if (t->task) {
		jg_threads_cancel(t);
		f->running--;
		return;
	}
	ev_timer_stop(f->loop, &t->stall);
	curl_multi_remove_handle(f->multi, t->easy);
	f->running--;
	jg_fetch_release(t);
}

char *jg_fetch_take_body(struct jg_transfer *t, size_t *len)
{
	char *body = t->body;
	*len = t->len;
	t->f->buffered -= t->cap;
	t->body = NULL;
	t->len = t->cap = 0;
	return body;
}

void jg_fetch_release(struct jg_transfer *t)
{
	if (t->body)
		drop_body(t);
	if (t->easy) {
		give_easy(t->f, t->easy);
		t->easy = NULL;
	}
	curl_slist_free_all(t->resolve);
	t->resolve = NULL;
	curl_slist_free_all(t->headers);
	t->headers = NULL;
}

const char *jg_fetch_header(const struct jg_transfer *t, const char *name)
{
	struct curl_header *h;
	if (!t->easy || curl_easy_header(t->easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return h->value;
}

const char *jg_fetch_redirect_url(const struct jg_transfer *t)
{
	char *url = NULL;
	if (t->http_code < 300 || t->http_code > 399)
		return NULL;
	if (!t->easy || curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &url) != CURLE_OK)
		return NULL;
	return url;
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
