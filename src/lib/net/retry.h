/* What a finished attempt means, and how long to wait before the next. */
#ifndef JG_RETRY_H
#define JG_RETRY_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Longest Retry-After juggle waits for; a longer one fails the URL. */
#define JG_RETRY_AFTER_MAX 300.0
/* Longest computed backoff between two attempts. */
#define JG_BACKOFF_MAX 60.0

struct jg_attempt {
	int curl_code;        /* CURLcode */
	long http_code;
	int stalled;          /* our stall timer fired */
	int aborted;          /* enum jg_abort (fetch.h): why we stopped it */
	const char *abort_why; /* its details, may be "" */
	double stall_timeout;
	uint64_t max_size;
	const char *curl_error; /* curl's error buffer, may be "" */
};

/* The verdict: JG_OK, or a failure kind with `why` and whether to retry. */
int jg_retry_classify(const struct jg_attempt *a, char *why, size_t why_len, int *transient);

/*
 * Seconds to wait before attempt `attempt` + 1 (attempt >= 1): `base`
 * doubled per attempt, capped, with "equal jitter" (between half and all of
 * it) drawn from `*rng`; never less than `retry_after` (0 = none).
 */
/*
 * Whether a failure is the mirror's rather than the book's, so that the
 * next mirror may have it: no connection, no name, a timeout, TLS, a
 * broken transfer, a 5xx or 429, and 404 or 410 (a mirror may lack a book).
 */
int jg_retry_is_mirrors_fault(int err, long http_code);

double jg_retry_backoff(unsigned attempt, double base, double retry_after, uint64_t *rng);

#endif
