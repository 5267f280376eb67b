/*
 * libFuzzer target: arbitrary bytes as the head of an answer to a range
 * request (net/range.c), which a server controls entirely.
 *
 * The whole input is a Content-Range value for jg_content_range_parse(),
 * checked against a model written here from RFC 9110 14.4 in another way
 * (split at the '/' and the '-', each part all digits): the same verdict
 * and the same numbers. Then the input is cut into the fields of a 2xx
 * head (status, coding, lengths, Content-Range, ETag, Last-Modified,
 * Date) and judged for a transfer that asked for the rest of a partial,
 * or did not: a 206 continues only exactly what was asked for, is refused
 * only when a range was asked for, and a body is kept only when it has
 * no coding, is over JG_PARTIAL_MIN or of unknown length, and has a
 * validator it came with. ASan watches every string.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_range: invariant violated: %s\n", what);
		abort();
	}
}

/* 1..19 characters, all digits. */
static int digits(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > 19)
		return 0;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 1;
}

static int model(const char *v, size_t len, struct jg_content_range *m)
{
	memset(m, 0, sizeof *m);
	if (len < 6 || strncasecmp(v, "bytes ", 6) != 0)
		return -1;
	const char *rest = v + 6, *end = v + len;
	const char *slash = memchr(rest, '/', (size_t)(end - rest));
	if (!slash || memchr(slash + 1, '/', (size_t)(end - slash - 1)))
		return -1;
	size_t left = (size_t)(slash - rest), right = (size_t)(end - slash - 1);
	if (left == 1 && rest[0] == '*') {
		m->unsatisfied = 1;
		return digits(slash + 1, right, &m->complete) ? 0 : -1;
	}
	const char *dash = memchr(rest, '-', left);
	if (!dash || !digits(rest, (size_t)(dash - rest), &m->first) ||
	    !digits(dash + 1, (size_t)(slash - dash - 1), &m->last) || m->first > m->last)
		return -1;
	if (right == 1 && slash[1] == '*') {
		m->complete = UINT64_MAX;
		return 0;
	}
	return digits(slash + 1, right, &m->complete) && m->last < m->complete ? 0 : -1;
}

/* The next field of the input, NUL-terminated (fields are split at '\n'),
 * or NULL when the field is "-". */
static const char *field(char **p)
{
	char *f = *p;
	char *nl = strchr(f, '\n');
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = f + strlen(f);
	}
	return strcmp(f, "-") == 0 ? NULL : f;
}

static void judge(const uint8_t *data, size_t size)
{
	if (size < 4)
		return;
	char *text = malloc(size - 4 + 1);
	memcpy(text, data + 4, size - 4);
	text[size - 4] = '\0';
	char *p = text;
	struct jg_range r = {0};
	r.url = strdup("http://h/b.txt");
	if (data[0] & 1) {
		r.from = JG_PARTIAL_MIN + data[1];
		r.have_kind = data[0] & 2 ? JG_VALIDATOR_ETAG : JG_VALIDATOR_DATE;
		r.have = strdup("\"v\"");
		r.have_length = data[0] & 4 ? r.from + 1000 : 0;
	}
	struct jg_range_answer a = {
		.code = data[2] & 1 ? 206 : 200 + data[2] % 100,
		.identity = !(data[3] & 1),
		.content_length = data[3] & 2 ? -1 : (int64_t)data[1] << (data[3] >> 3),
	};
	a.content_range = field(&p);
	a.content_ranges = a.content_range ? 1 + (data[3] >> 7) : 0;
	a.etag = field(&p);
	a.last_modified = field(&p);
	a.date = field(&p);
	enum jg_range_verdict v;
	char why[300];
	why[0] = '\0';
	int rc = jg_range_judge(&r, &a, &v, why, sizeof why);
	check(rc == 0 || rc == -1, "judge: an unknown return");
	check(memchr(why, '\0', sizeof why) != NULL, "why: not NUL-terminated");
	if (rc == 0 && v == JG_RANGE_CONTINUES) {
		struct jg_content_range cr;
		check(r.from && a.code == 206 && a.identity, "continues: without asking, coded or no 206");
		check(a.content_ranges == 1 && a.content_range &&
		      jg_content_range_parse(a.content_range, strlen(a.content_range), &cr) == 0,
		      "continues: without one good Content-Range");
		check(!cr.unsatisfied && cr.first == r.from && cr.complete != UINT64_MAX &&
		      cr.last + 1 == cr.complete && r.length == cr.complete,
		      "continues: not from the byte asked for to the end");
		check(!r.have_length || cr.complete == r.have_length, "continues: another length");
		check(a.content_length < 0 || (uint64_t)a.content_length == cr.complete - cr.first,
		      "continues: a Content-Length of other bytes");
	}
	if (rc == 0 && v == JG_RANGE_REFUSED)
		check(r.from && a.code == 206 && why[0], "refused: without asking, or without a reason");
	if (rc == 0 && (v == JG_RANGE_FRESH || v == JG_RANGE_RESTARTS))
		check((v == JG_RANGE_RESTARTS) == (r.from != 0) && !(r.from && a.code == 206),
		      "fresh or restarts: misjudged");
	if (r.candidate) {
		check(a.identity && a.code != 206, "kept: coded, or a 206");
		check(a.content_length < 0 || (uint64_t)a.content_length > JG_PARTIAL_MIN,
		      "kept: too small");
		check(r.validator && (r.kind == JG_VALIDATOR_ETAG ? a.etag && !strcmp(r.validator, a.etag)
		                                                  : a.last_modified &&
		                                                    !strcmp(r.validator, a.last_modified)),
		      "kept: by a validator it did not come with");
		check(r.kind == JG_VALIDATOR_DATE || r.validator[0] == '"', "kept: by a weak ETag");
	}
	jg_range_fini(&r);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jg_content_range got, want;
	int rc = jg_content_range_parse((const char *)data, size, &got);
	int mrc = model((const char *)data, size, &want);
	check(rc == mrc, "parse: another verdict than the model's");
	if (rc == 0)
		check(got.unsatisfied == want.unsatisfied && got.complete == want.complete &&
		      (got.unsatisfied || (got.first == want.first && got.last == want.last)),
		      "parse: other numbers than the model's");
	judge(data, size);
	return 0;
}
