#include "range.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* 1 to 19 digits (always below 2^64) at *p, which moves past them. */
static int take_decimal(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	while (s < end && *s >= '0' && *s <= '9' && s - *p < 19)
		v = v * 10 + (uint64_t)(*s++ - '0');
	if (s == *p || (s < end && *s >= '0' && *s <= '9'))
		return -1;
	*p = s;
	*out = v;
	return 0;
}

int jg_content_range_parse(const char *v, size_t len, struct jg_content_range *out)
{
	const char *p = v, *end = v + len;
	memset(out, 0, sizeof *out);
	if (len < 6 || strncasecmp(p, "bytes ", 6) != 0)
		return -1;
	p += 6;
	if (p < end && *p == '*') {
		out->unsatisfied = 1;
		p++;
	} else if (take_decimal(&p, end, &out->first) < 0 || p == end || *p++ != '-' ||
	           take_decimal(&p, end, &out->last) < 0 || out->first > out->last) {
		return -1;
	}
	if (p == end || *p++ != '/')
		return -1;
	if (p < end && *p == '*' && !out->unsatisfied) {
		out->complete = UINT64_MAX;
		p++;
	} else if (take_decimal(&p, end, &out->complete) < 0 ||
	           (!out->unsatisfied && out->last >= out->complete)) {
		return -1;
	}
	return p == end ? 0 : -1;
}

void jg_range_fini(struct jg_range *r)
{
	free(r->url);
	free(r->sink_name);
	free(r->have);
	free(r->validator);
	memset(r, 0, sizeof *r);
}

/*
 * Why a 206 does not continue the partial, or NULL when it does: the
 * bytes from `from` to the end of the same body, with no coding.
 */
static const char *check_rest(const struct jg_range *r, const struct jg_range_answer *a,
                              struct jg_content_range *cr, char *why, size_t why_len)
{
	const char *v = a->content_range;
	if (!a->identity)
		return "a 206 with a Content-Encoding: not the identity bytes asked for";
	if (a->content_ranges != 1 || !v)
		return a->content_ranges ? "a 206 with more than one Content-Range" : "a 206 without Content-Range";
	if (jg_content_range_parse(v, strlen(v), cr) < 0 || cr->unsatisfied) {
		snprintf(why, why_len, "a 206 with Content-Range '%.80s', not bytes FIRST-LAST/LENGTH", v);
		return why;
	}
	if (cr->first != r->from) {
		snprintf(why, why_len, "a 206 from byte %" PRIu64 " where byte %" PRIu64 " was asked for",
		         cr->first, r->from);
		return why;
	}
	if (cr->complete == UINT64_MAX || cr->last != cr->complete - 1)
		return "a 206 that does not say it runs to the body's end";
	if (r->have_length && cr->complete != r->have_length) {
		snprintf(why, why_len, "a 206 of a body of %" PRIu64 " bytes, the partial's had %" PRIu64,
		         cr->complete, r->have_length);
		return why;
	}
	if (a->content_length >= 0 && (uint64_t)a->content_length != cr->last - cr->first + 1)
		return "a 206 whose Content-Length is not its Content-Range's";
	const char *same = r->have_kind == JG_VALIDATOR_ETAG ? a->etag : a->last_modified;
	if (same && strcmp(same, r->have) != 0)
		return "a 206 of a body whose validator is not the partial's";
	return NULL;
}

/* A strong entity tag: quoted, not W/ (RFC 9110 8.8.3). */
static int strong_etag(const char *e)
{
	size_t n = strlen(e);
	return n >= 2 && n <= JG_PARTIAL_VALIDATOR_MAX && e[0] == '"' && e[n - 1] == '"';
}

/* A Last-Modified a second or more before the answer's Date is strong
 * (RFC 9110 8.8.2.2): a change within that second could not be told. */
static int strong_date(const char *last_modified, const char *date)
{
	if (!last_modified || !date || strlen(last_modified) > JG_PARTIAL_VALIDATOR_MAX)
		return 0;
	time_t lm = curl_getdate(last_modified, NULL), now = curl_getdate(date, NULL);
	return lm >= 0 && now >= 0 && lm + 1 <= now;
}

/* A body from its first byte: whether it may be kept, and by what. */
static int consider_keeping(struct jg_range *r, const struct jg_range_answer *a)
{
	if (!r->url || !a->identity ||
	    (a->content_length >= 0 && (uint64_t)a->content_length <= JG_PARTIAL_MIN))
		return 0;
	const char *v = NULL;
	/* With an ETag, and only a weak one, a date must not stand in for it
	 * (RFC 9110 13.1.5): the body cannot be continued. */
	if (a->etag)
		v = strong_etag(a->etag) ? a->etag : NULL;
	else if (strong_date(a->last_modified, a->date))
		v = a->last_modified;
	if (!v)
		return 0;
	if (!(r->validator = strdup(v)))
		return -1;
	r->kind = a->etag ? JG_VALIDATOR_ETAG : JG_VALIDATOR_DATE;
	r->length = a->content_length > 0 ? (uint64_t)a->content_length : 0;
	r->candidate = 1;
	return 0;
}

int jg_range_judge(struct jg_range *r, const struct jg_range_answer *a,
                   enum jg_range_verdict *verdict, char *why, size_t why_len)
{
	free(r->validator);
	r->validator = NULL;
	r->continuing = r->restarted = r->candidate = r->linked = 0;
	r->length = 0;
	r->kind = JG_VALIDATOR_NONE;
	if (r->from && a->code == 206) {
		struct jg_content_range cr;
		const char *bad = check_rest(r, a, &cr, why, why_len);
		if (bad) {
			if (bad != why)
				snprintf(why, why_len, "%s", bad);
			*verdict = JG_RANGE_REFUSED;
			return 0;
		}
		r->continuing = r->linked = 1; /* the sink is the partial's file */
		r->length = cr.complete;
		*verdict = JG_RANGE_CONTINUES;
		return 0;
	}
	r->restarted = r->from != 0;
	*verdict = r->restarted ? JG_RANGE_RESTARTS : JG_RANGE_FRESH;
	/* A 206 nobody asked for (a caller's own Range) is taken as it is,
	 * never kept: what it holds is not the body from its first byte. */
	return a->code == 206 ? 0 : consider_keeping(r, a);
}
