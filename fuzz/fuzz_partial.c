/*
 * libFuzzer target: arbitrary bytes as a partial body's sidecar
 * (DIR/.juggle/partial/.NAME.resume), which anyone who can write to the
 * output directory controls: jg_partial_meta_parse() must read no byte
 * outside the text and accept only what jg_partial_meta_format() could
 * have written. What it accepts is formatted again and parsed back: the
 * same URL, validator and length, with no control byte anywhere (the URL
 * is compared with the book's, the validator goes into an If-Range
 * header line), and within the sizes a sidecar may have.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_partial: invariant violated: %s\n", what);
		abort();
	}
}

static int clean(const char *s, size_t max)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return n > 0 && n <= max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > JG_PARTIAL_META_MAX)
		return 0; /* never read: partial.c reads at most that much */
	char *text = malloc(size + 1); /* exactly the room parse may use */
	memcpy(text, data, size);
	struct jg_partial_meta m;
	if (jg_partial_meta_parse(text, size, &m) == 0) {
		check(m.url && clean(m.url, JG_URL_MAX), "url: empty, too long or a control byte");
		check(m.validator && clean(m.validator, JG_PARTIAL_VALIDATOR_MAX),
		      "validator: empty, too long or a control byte");
		check(m.kind == JG_VALIDATOR_ETAG || m.kind == JG_VALIDATOR_DATE, "a validator kind");
		char out[JG_PARTIAL_META_MAX + 1];
		int n = jg_partial_meta_format(&m, out, sizeof out);
		check(n > 0 && (size_t)n == size, "format: not the text it was read from, reordered");
		struct jg_partial_meta back;
		check(jg_partial_meta_parse(out, (size_t)n, &back) == 0, "format: not parsed back");
		check(strcmp(back.url, m.url) == 0 && strcmp(back.validator, m.validator) == 0 &&
		      back.kind == m.kind && back.length == m.length, "round trip: other fields");
	}
	free(text);
	return 0;
}
