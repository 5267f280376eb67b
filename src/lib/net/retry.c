#include "retry.h"

#include "fetch.h"
#include "juggle.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>


static int http_transient(long code)
{
	return code == 408 || code == 429 || (code >= 500 && code <= 599 && code != 501 && code != 505);
}

static int curl_transient(int code)
{
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

static int curl_kind(int code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return JG_EDNS;
	case CURLE_COULDNT_CONNECT:
		return JG_ECONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return JG_ETIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		return JG_ETLS;
	case CURLE_OUT_OF_MEMORY:
		return JG_ENOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return JG_ESCHEME;
	default:
		return JG_ETRANSFER;
	}
}

/* What we stopped ourselves, and why; JG_OK when nothing was. */
static int aborted_kind(const struct jg_attempt *a, char *why, size_t why_len, int *transient)
{
	const char *detail = a->abort_why ? a->abort_why : "";
	switch (a->aborted) {
	case JG_ABORT_TOO_LARGE:
		snprintf(why, why_len, "body larger than the size limit of %" PRIu64 " bytes",
		         a->max_size);
		return JG_ETOOLARGE;
	case JG_ABORT_ANNOUNCED_LARGE:
		snprintf(why, why_len, "%s is over the size limit of %" PRIu64 " bytes", detail,
		         a->max_size);
		return JG_ETOOLARGE;
	case JG_ABORT_HEAD_TOO_LONG:
		snprintf(why, why_len, "headers and trailers longer than %u KiB", JG_HEAD_BYTES_MAX / 1024);
		return JG_ETRANSFER;
	case JG_ABORT_CODING:
		snprintf(why, why_len, "unsupported Content-Encoding '%.100s'", detail);
		return JG_ETRANSFER;
	case JG_ABORT_DECODE:
		/* A body cut short may come whole next time; broken data will not. */
		*transient = strstr(detail, "ends early") != NULL;
		snprintf(why, why_len, "%s", detail);
		return JG_ETRANSFER;
	case JG_ABORT_BUDGET:
		*transient = 1; /* memory comes free as books are counted */
		snprintf(why, why_len, "%s", detail);
		return JG_ETRANSFER;
	case JG_ABORT_RANGE:
		/* The job starts the book again from zero before it gets here. */
		*transient = 1;
		snprintf(why, why_len, "%s", detail);
		return JG_ETRANSFER;
	default:
		return JG_OK;
	}
}

int jg_retry_classify(const struct jg_attempt *a, char *why, size_t why_len, int *transient)
{
	*transient = 0;
	int kind = aborted_kind(a, why, why_len, transient);
	if (kind != JG_OK)
		return kind;
	if (a->stalled) {
		*transient = 1;
		snprintf(why, why_len, "stalled: no data for %g s", a->stall_timeout);
		return JG_ETIMEOUT;
	}
	if (a->curl_code != CURLE_OK) {
		*transient = curl_transient(a->curl_code);
		const char *detail = a->curl_error && a->curl_error[0]
		                             ? a->curl_error : curl_easy_strerror((CURLcode)a->curl_code);
		snprintf(why, why_len, "%s", detail);
		return curl_kind(a->curl_code);
	}
	if (a->http_code < 200 || a->http_code > 299) {
		*transient = http_transient(a->http_code);
		snprintf(why, why_len, "HTTP %ld", a->http_code);
		return JG_EHTTP;
	}
	if (why_len)
		why[0] = '\0';
	return JG_OK;
}

double jg_retry_backoff(unsigned attempt, double base, double retry_after, uint64_t *rng)
{
	double d = base * pow(2.0, attempt > 0 ? attempt - 1 : 0);
	if (d > JG_BACKOFF_MAX)
		d = JG_BACKOFF_MAX;
	double unit = jg_rng_unit(rng);
	d = d / 2 + unit * d / 2;
	return d < retry_after ? retry_after : d;
}

int jg_retry_is_mirrors_fault(int err, long http_code)
{
	switch (err) {
	case JG_ECONNECT:
	case JG_EDNS:
	case JG_ETIMEOUT:
	case JG_ETLS:
	case JG_ETRANSFER:
		return 1;
	case JG_EHTTP:
		return http_code >= 500 || http_code == 429 || http_code == 404 || http_code == 410;
	default:
		return 0;
	}
}
