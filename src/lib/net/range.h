/*
 * Continuing a body with a range request, as wget -c, curl -C - and aria2
 * do, and judging the answer (RFC 9110 14): what a transfer sends to ask
 * for the rest of a partial body (base/partial.h), and what the head of
 * the answer means for the body that follows:
 *
 *   206, Content-Range bytes N-(L-1)/L      the rest: it goes on at N
 *   200 (or any other 2xx)                  the server ignored the range
 *                                           or the validator changed
 *                                           (If-Range): the whole body
 *                                           again, from its first byte
 *   206 starting elsewhere, of another      refused: the transfer stops
 *   length or coding, without a length,     and the book starts again
 *   twice, unparsable                       from zero
 *   416                                     (not a 2xx: the job starts
 *                                           the book again from zero)
 *
 * and whether a body from its first byte may be kept as a partial: no
 * Content-Encoding (a range continues the identity bytes, and juggle
 * decodes gzip, br and zstd itself, so the request for the rest says
 * `Accept-Encoding: identity`), a strong validator, and more than
 * JG_PARTIAL_MIN bytes announced, or no length announced.
 *
 * The judging is pure: the transfer gathers the head's fields, this
 * decides.
 */
#ifndef JG_RANGE_H
#define JG_RANGE_H

#include <stddef.h>
#include <stdint.h>

#include "partial.h"

/* A Content-Range value (RFC 9110 14.4). */
struct jg_content_range {
	int unsatisfied;          /* "bytes * /L" (a 416's): no first, no last */
	uint64_t first, last;     /* the bytes sent, both included */
	uint64_t complete;        /* the whole length; UINT64_MAX: "*", not known */
};

/*
 * Parses `len` bytes of a Content-Range value: "bytes FIRST-LAST/LENGTH"
 * (LENGTH may be "*") or "bytes * /LENGTH", with FIRST <= LAST < LENGTH,
 * decimals of at most 19 digits, the unit in any case, nothing around.
 * 0, or -1 for anything else.
 */
int jg_content_range_parse(const char *v, size_t len, struct jg_content_range *out);

/* A transfer's partial body: given at its start, found at its head. The
 * strings are the transfer's own: an engine thread's copy of a transfer
 * may outlive the job that started it. */
struct jg_range {
	char *url;                /* the book's URL, its partial's key; NULL: no
	                             body of this transfer is ever kept */
	char *sink_name;          /* the sink's temporary name in the store, or NULL */
	struct jg_store_temp *sink_file; /* the job's sink, borrowed, for the loop
	                             thread to name when it has no name; NULL
	                             on an engine thread (sink_name it is) */
	uint64_t from;            /* bytes of a partial in the sink: ask for the rest */
	enum jg_validator have_kind;
	char *have;               /* its validator, sent as If-Range */
	uint64_t have_length;     /* its whole length; 0: not known */
	/* The answer: */
	int continuing;           /* a 206 going on at `from` */
	int restarted;            /* asked for the rest, got the whole body */
	int candidate;            /* the body may be kept: `meta` says how */
	int linked;               /* it is kept: DIR/.juggle/partial/<name> */
	enum jg_validator kind;   /* this answer's validator, for a candidate */
	char *validator;
	uint64_t length;          /* the whole body's length; 0: not known */
};

/* What the head of a 2xx answer said, as the judge needs it. */
struct jg_range_answer {
	long code;
	int identity;             /* no Content-Encoding, or identity */
	int64_t content_length;   /* -1: none */
	const char *content_range; /* NULL: absent */
	unsigned content_ranges;  /* how many Content-Range fields came */
	const char *etag, *last_modified, *date; /* NULL: absent */
};

enum jg_range_verdict {
	JG_RANGE_FRESH,           /* a body from its first byte, as any other */
	JG_RANGE_CONTINUES,       /* the rest of the partial: it goes on at `from` */
	JG_RANGE_RESTARTS,        /* the whole body again: the partial is stale */
	JG_RANGE_REFUSED,         /* a 206 that does not continue it (`why`) */
};

/*
 * Judges a 2xx answer for transfer range `r` and fills its answer part
 * (candidate, validator, length). `why` says what a refused 206 got
 * wrong. -1 (and nothing judged) when out of memory.
 */
int jg_range_judge(struct jg_range *r, const struct jg_range_answer *a,
                   enum jg_range_verdict *verdict, char *why, size_t why_len);

/* Frees the strings of `r` and zeroes it. */
void jg_range_fini(struct jg_range *r);

#endif
