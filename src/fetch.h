/*
 * The glue between libcurl's multi socket interface and a libev loop:
 * curl tells which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to
 * wake it (CURLMOPT_TIMERFUNCTION); ev_io and one ev_timer call back into
 * curl_multi_socket_action. No thread, no polling.
 *
 * A transfer is one HTTP exchange of one URL into a memory buffer. What
 * it means (redirect, retry, save) is for the caller to decide.
 */
#ifndef JG_FETCH_H
#define JG_FETCH_H

#include <curl/curl.h>
#include <ev.h>
#include <stddef.h>
#include <stdint.h>

struct jg_fetch;
struct jg_transfer;
struct jg_task;
struct jg_threads;

/* Called once per started transfer, outside any curl callback. */
typedef void (*jg_fetch_done_cb)(struct jg_transfer *t);

struct jg_transfer {
	struct jg_fetch *f;
	CURL *easy;
	struct curl_slist *resolve;
	char *body;
	size_t len, cap;
	uint64_t received;        /* decoded body bytes seen, kept or not */
	ev_timer stall;
	ev_tstamp last_activity;
	int stalled;
	int too_large;
	int keep_body;            /* 2xx: the body is worth keeping */
	int checked_status;
	int threaded;             /* filled by an engine thread, not the loop */
	int sink;                 /* fd the body streams to, or -1: kept in `body` */
	int sink_errno;           /* writing to `sink` failed with this */
	struct jg_task *task;     /* threads engine: the thread's copy, in flight */
	struct curl_slist *headers; /* request headers: the validators */
	/* Filled when done: */
	CURLcode code;
	long http_code;
	double retry_after;       /* seconds; 0 = none */
	char errbuf[CURL_ERROR_SIZE];
};

struct jg_fetch_config {
	double connect_timeout;
	double stall_timeout;
	uint64_t max_size;
	const char *cacert;
	const char *user_agent;
	unsigned threads;         /* 0: the loop engine; else at most this many threads */
};

struct jg_fetch {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	struct jg_fetch_config cfg;
	jg_fetch_done_cb done;
	CURL **spare;             /* easy handles kept for reuse */
	size_t n_spare, cap_spare;
	struct jg_threads *threads; /* the threads engine, or NULL */
	unsigned running;
	/* Atomic: engine threads add to them while the loop reads them. */
	_Atomic uint64_t buffered; /* bytes of bodies held by transfers */
	_Atomic uint64_t received; /* body bytes received in all */
};

/*
 * 0, or -1 with `why` filled (out of memory). `cfg` strings are borrowed.
 * With cfg->threads, transfers run in engine threads (fetch_threads.h)
 * and `done` still fires on the loop thread.
 */
int jg_fetch_init(struct jg_fetch *f, struct ev_loop *loop, const struct jg_fetch_config *cfg,
                  jg_fetch_done_cb done, char *why, size_t why_len);
/* Transfers must have been cancelled or finished before. */
void jg_fetch_fini(struct jg_fetch *f);

/* A conditional GET: the validators of the copy one has, NULL when none. */
struct jg_fetch_cond {
	const char *etag;
	const char *last_modified;
};

/*
 * Starts fetching `url`; `resolve` ("host:port:addrs", may be NULL) tells
 * curl where the host is, so curl never resolves on its own. A 2xx body
 * is written to `sink` as it arrives when sink >= 0 (t->len counts it),
 * else kept in memory. With `cond`,
 * the request carries If-None-Match / If-Modified-Since (a 304 then ends
 * the transfer with no body). 0, or -1 with t->errbuf filled. The caller owns `t`
 * until `done` fires or it cancels.
 */
int jg_fetch_start(struct jg_fetch *f, struct jg_transfer *t, const char *url,
                   const char *resolve, int sink, const struct jg_fetch_cond *cond);
/* Stops a transfer in flight without calling `done`; frees its body. */
void jg_fetch_cancel(struct jg_transfer *t);
/* Takes the body out of a finished transfer; the caller frees it. */
char *jg_fetch_take_body(struct jg_transfer *t, size_t *len);
/* Releases what a finished transfer still holds (body, handle). */
void jg_fetch_release(struct jg_transfer *t);
/* The Content-Type of a finished transfer's answer, or NULL. */
const char *jg_fetch_content_type(const struct jg_transfer *t);
/* The value of response header `name` of a finished transfer, or NULL. */
const char *jg_fetch_header(const struct jg_transfer *t, const char *name);
/* The Location of a 3xx answer of a finished transfer, or NULL. */
const char *jg_fetch_redirect_url(const struct jg_transfer *t);

#endif
