/*
 * The glue between libcurl's multi socket interface and a libev loop:
 * curl tells which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to
 * wake it (CURLMOPT_TIMERFUNCTION); ev_io and one ev_timer call back into
 * curl_multi_socket_action. No thread, no polling.
 *
 * A transfer is one HTTP exchange of one URL into a memory buffer (or its
 * file). What it means (redirect, retry, save) is for the caller to decide.
 *
 * What a server sends is bounded here, whatever it sends:
 * - header and trailer bytes (JG_HEAD_BYTES_MAX, head.h);
 * - the body of an answer that is not a 2xx: JG_ERROR_BODY_MAX bytes are
 *   read and dropped, then the answer counts as complete; those bytes are
 *   no sign of life for the stall timer;
 * - a 2xx body: `max_size` decoded bytes, refused at once when the
 *   Content-Length says more;
 * - memory: every body byte and every decoder allocation held counts in
 *   `max_buffer`; a body that would take it past goes to its temporary
 *   file in the store instead (spilled), and decoders are refused past it;
 * - time: content codings are undone here, step by step, and a transfer
 *   whose decoding has used up the loop's slice is paused (its undecoded
 *   bytes kept, at most one read) and goes on in the next iteration; so is
 *   one whose read comes once the slice is spent (curl keeps that read).
 *
 * A large body with a strong validator and no coding is kept on disk as
 * it comes, so that a later attempt or run can ask for the rest; a
 * transfer given such a partial asks for the rest and judges the answer
 * (range.h, base/partial.h).
 */
#ifndef JG_FETCH_H
#define JG_FETCH_H

#include <curl/curl.h>
#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"
#include "engine.h"
#include "head.h"
#include "rate.h"
#include "partial.h"
#include "range.h"
#include "store.h"

/*
 * With counting, bodies past this size are counted from their files
 * (jg_fetch.stream_over). Below it the loop keeps the body and the pipe
 * carries it: a 4 KiB copy costs less than the loop creating the file and
 * the worker opening it again.
 */
#define JG_FETCH_STREAM_OVER (64u * 1024)

/*
 * curl's receive buffer, chosen as each transfer starts (curl keeps a
 * transfer's buffer to its end). curl reads a socket in steps of it, a
 * poll() between them, and a fast server fills every step: against nginx,
 * 1,000 books of 400 KiB 64 at once cost juggle 0.40 s of CPU with 64 KiB
 * and 0.59 s with 16 KiB. But a buffer costs the pages its reads touch, the
 * whole of it when the server is fast: 8,000 fast transfers at 64 KiB would
 * hold 512 MiB. So a transfer gets its share of a budget among those open
 * as it starts: 64 KiB while 256 or fewer are, 32 KiB at 512, 16 KiB at
 * 1,024, 4 KiB from 4,096 on. n transfers starting together get about
 * 16 MiB x (1 + ln(n / 256)) between them (70 MiB for 8,000).
 */
#define JG_RECEIVE_BUDGET (16ul << 20)
#define JG_RECEIVE_MAX (64ul << 10)
#define JG_RECEIVE_MIN (4ul << 10)   /* a page: what any read touches */
/* The buffer a transfer starting with `running` others open gets. */
long jg_fetch_receive_buffer(unsigned running);

/* The body of an error or redirect answer is read this far at most. */
#define JG_ERROR_BODY_MAX (64u * 1024)

struct jg_fetch;
struct jg_transfer;
struct jg_task;
struct jg_threads;

/* Called once per started transfer, outside any curl callback. */
typedef void (*jg_fetch_done_cb)(struct jg_transfer *t);

/* Why a transfer stopped itself (its callbacks returned an error). */
enum jg_abort {
	JG_ABORT_NONE = 0,
	JG_ABORT_TOO_LARGE,       /* the decoded body passed max_size */
	JG_ABORT_ANNOUNCED_LARGE, /* the Content-Length said so */
	JG_ABORT_HEAD_TOO_LONG,   /* headers and trailers past JG_HEAD_BYTES_MAX */
	JG_ABORT_ERROR_BODY,      /* an error body reached JG_ERROR_BODY_MAX: the
	                             answer is taken as complete */
	JG_ABORT_CODING,          /* a Content-Encoding juggle cannot undo */
	JG_ABORT_DECODE,          /* the coded body is broken */
	JG_ABORT_BUDGET,          /* a decoder needs more memory than the budget has */
	JG_ABORT_SINK,            /* writing the body's file failed */
	JG_ABORT_RANGE,           /* a 206 that does not continue the partial */
};

struct jg_transfer {
	struct jg_fetch *f;
	CURL *easy;
	struct curl_slist *resolve;
	char *body;
	size_t len, cap;          /* len: decoded bytes kept, in memory or file */
	uint64_t received;        /* body bytes seen as they came, kept or not */
	int announced;            /* a 2xx that gave its Content-Length: counted in
	                             the fetch's `announced` until it ends */
	uint64_t announced_left;  /* that length less the body bytes since */
	ev_timer stall;
	ev_tstamp last_activity;
	int stalled;
	enum jg_abort aborted;
	char abort_why[300];      /* its details */
	int keep_body;            /* 2xx: the body is worth keeping */
	int checked_status;
	int threaded;             /* filled by an engine thread, not the loop */
	int sink;                 /* fd the body streams to, or -1: kept in `body` */
	int book;                 /* a book's (it came with a jg_fetch_part), not
	                             robots.txt's: it may go to a file to count */
	int sink_errno;           /* writing to `sink` or the spill failed */
	struct jg_store_temp spill; /* the body's file once memory ran short */
	size_t spill_prefix;      /* bytes in memory when it spilled */
	size_t spill_written;     /* of those, bytes written to the file */
	struct jg_head head;
	struct jg_decoder dec;
	int dec_ready;
	uint8_t *pending;         /* read, not yet decoded (the slice ran out) */
	int dec_full;             /* the decoder filled its output last time: it
	                             may hold more without more input */
	size_t pending_len, pending_cap;
	int paused;               /* we told curl to hold on (WRITEFUNC_PAUSE) */
	int resume_owed;          /* resumed: the next read is taken whatever the time */
	struct jg_rate_waiter rate_wait; /* paused for --limit-rate's tokens */
	int finished;             /* curl is done; the pending bytes are not */
	struct jg_transfer *todo_next; /* in the fetch's list of work left */
	int in_todo;
	uint64_t discarded;       /* bytes of an error body read and dropped */
	char *location;           /* a 3xx's Location, as sent, when cut short */
	struct jg_task *task;     /* threads engine: the thread's copy, in flight */
	struct curl_slist *headers; /* request headers */
	struct jg_range range;    /* the body's partial: continued, or kept */
	/* Filled when done: */
	CURLcode code;
	long http_code;
	int out_of_fds;           /* its socket could not be made: EMFILE, ENFILE */
	double retry_after;       /* seconds; 0 = none */
	char errbuf[CURL_ERROR_SIZE];
};

struct jg_fetch_config {
	double connect_timeout;
	double stall_timeout;
	uint64_t max_size;
	uint64_t max_buffer;      /* bytes of bodies and decoders in memory */
	const char *cacert;
	const char *user_agent;
	char *const *headers;     /* "Name: value" lines the caller adds */
	size_t n_headers;
	const struct jg_engine_ops *engine; /* engine.h; NULL: jg_engine_multi */
	unsigned threads;         /* the threads engine's limit */
	struct jg_store *store;   /* where bodies spill; borrowed, may be NULL */
	uint64_t limit_rate;      /* bytes per second for all transfers; 0: none */
	struct jg_partials *partials; /* where bodies are kept; borrowed, may be NULL */
	unsigned max_connections; /* kept alive, in use or idle (0: curl's default) */
};

struct jg_fetch {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	struct jg_fetch_config cfg;
	jg_fetch_done_cb done;
	CURL **spare;             /* easy handles kept for reuse */
	size_t n_spare, cap_spare;
	const struct jg_engine_ops *engine;
	struct jg_threads *threads; /* the threads engine's state, or NULL */
	unsigned running;
	struct jg_decode_budget budget;
	struct jg_transfer *todo;   /* transfers with bytes to decode or to unpause */
	ev_prepare drain;           /* works through `todo` before the loop waits */
	ev_idle drain_more;         /* keeps the loop from waiting meanwhile */
	uint64_t spills;            /* bodies sent to their file for want of memory */
	struct jg_rate rate;        /* --limit-rate, for the multi engine */
	/* With counting: a body past this many bytes goes to its file as it
	 * comes, and the workers count that file (0: bodies stay in memory
	 * and the workers save them). */
	uint64_t stream_over;
	/* Atomic: engine threads add to them while the loop reads them. */
	_Atomic uint64_t in_memory; /* body and decoder bytes held, until the
	                               caller releases a body it took */
	_Atomic uint64_t received; /* body bytes received in all */
	/* Transfers in flight whose 2xx gave a Content-Length, and the bytes
	 * they still have to receive by it: what progress can count on. The
	 * length is of the body as sent (coded, if it has a Content-Encoding),
	 * the same bytes `received` counts. */
	_Atomic uint64_t announced;
	_Atomic uint64_t announced_left;
};

/*
 * 0, or -1 with `why` filled (out of memory). `cfg` strings are borrowed.
 * cfg->engine runs the transfers (engine.h); with the threads engine
 * `done` still fires on the loop thread.
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
 * A body that may be kept as a partial, or continues one (base/partial.h):
 * strings borrowed for the call only.
 */
struct jg_fetch_part {
	const char *url;           /* the book's URL, its partial's key */
	struct jg_store_temp *sink; /* the sink's temporary file in the store,
	                              NULL without a sink: borrowed until the
	                              transfer is released (it may be given a
	                              name, store.h, on the loop thread only) */
	const struct jg_partial_found *have; /* the partial the sink holds; NULL: none */
};

/*
 * Where a transfer goes, so that curl never resolves a name on its own
 * (Debian's libcurl would in a thread): "host:port:addrs" entries for
 * CURLOPT_RESOLVE, and the proxy, if any. Strings are borrowed for the
 * call (curl copies them).
 */
struct jg_fetch_route {
	const char *resolve;       /* the server's address, or NULL: an address
	                              literal, or the proxy resolves its name */
	const char *proxy;         /* for CURLOPT_PROXY (proxy.h), NULL: direct */
	const char *proxy_resolve; /* the proxy's address, or NULL: a literal */
};

/*
 * Starts fetching `url` along `route` (NULL: direct, nothing to resolve:
 * an address literal). A 2xx body
 * is written to `sink` as it arrives when sink >= 0 (t->len counts it),
 * else kept in memory. With `cond`,
 * the request carries If-None-Match / If-Modified-Since (a 304 then ends
 * the transfer with no body). With `part` (a book's transfer), a body
 * past the fetch's stream_over goes to its file, a large one may be kept
 * as a partial, and with part->have (the sink holds its bytes, positioned at
 * their end) the request asks for the rest: t->range says what came
 * (continuing: the body went on in the sink; restarted: it came whole
 * again, into t->spill). 0, or -1 with t->errbuf filled. The caller owns
 * `t` until `done` fires or it cancels.
 */
int jg_fetch_start(struct jg_fetch *f, struct jg_transfer *t, const char *url,
                   const struct jg_fetch_route *route, int sink,
                   const struct jg_fetch_cond *cond, const struct jg_fetch_part *part);
/* Stops a transfer in flight without calling `done`; frees its body. */
void jg_fetch_cancel(struct jg_transfer *t);
/* Engine threads started so far (0 for the loop engine). */
unsigned jg_fetch_threads_started(const struct jg_fetch *f);
/*
 * Takes the body out of a finished transfer (NULL for an empty one); the
 * caller frees it, and calls jg_fetch_unhold(f, *held) once it has, so the
 * memory budget knows. A spilled body is not in memory: see t->spill.
 */
char *jg_fetch_take_body(struct jg_transfer *t, size_t *len, uint64_t *held);
void jg_fetch_unhold(struct jg_fetch *f, uint64_t held);
/* Releases what a finished transfer still holds (body, handle). */
void jg_fetch_release(struct jg_transfer *t);
/* The Content-Type of a finished transfer's answer, or NULL. */
const char *jg_fetch_content_type(const struct jg_transfer *t);
/* The value of response header `name` of a finished transfer, or NULL. */
const char *jg_fetch_header(const struct jg_transfer *t, const char *name);
/* What the proxy of a finished transfer answered: its status to CONNECT
 * (0 if none) and curl's CURLproxycode (a SOCKS failure; 0 if none). */
void jg_fetch_proxy_answer(const struct jg_transfer *t, long *connect_code, long *proxy_error);
/* The Location of a 3xx answer of a finished transfer, resolved against
 * its URL, or NULL. Valid until the transfer is released. */
const char *jg_fetch_redirect_url(struct jg_transfer *t);

#endif
