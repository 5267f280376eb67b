/*
 * libFuzzer target: arbitrary bytes as a book. The first byte picks the
 * split mode, charset and boilerplate stripping; the rest is the text. The
 * counted total must equal the sum of the table's counts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tokenize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opts = data[0];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	const char *text;
	size_t tlen;
	char *owned;
	if (jg_text_utf8(body, len, (opts & 2) ? JG_CHARSET_CP1252 : JG_CHARSET_UTF8, &text, &tlen,
	                 &owned) < 0)
		return 0;
	size_t start = 0, end = tlen;
	if (opts & 4)
		jg_text_strip_boilerplate(text, tlen, &start, &end);
	struct jg_tokenizer t;
	struct jg_wordcount wc;
	jg_tokenizer_init(&t);
	jg_wc_init(&wc);
	jg_tokenize(&t, text + start, end - start, (opts & 1) ? JG_SPLIT_WHITESPACE : JG_SPLIT_WORDS, &wc);
	uint64_t sum = 0;
	for (size_t i = 0; wc.slots && i <= wc.mask; i++)
		if (wc.slots[i].word) {
			sum += wc.slots[i].count;
			if (wc.slots[i].len == 0)
				abort(); /* no empty words */
		}
	if (sum != wc.total)
		abort();
	jg_wc_fini(&wc);
	jg_tokenizer_fini(&t);
	free(owned);
	return 0;
}
