/*
 * libFuzzer target: arbitrary bytes as a book. The first byte picks the
 * split mode, an HTTP charset and boilerplate stripping; the rest is the
 * body. The text must come out valid UTF-8, every word non-empty, valid
 * UTF-8 too and (in the Unicode mode) in NFC, and the counted total must
 * equal the sum of the table's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "boilerplate.h"
#include "charset.h"
#include "tokenize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opts = data[0];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	static const char *const http[] = {NULL, "utf-8", "iso-8859-1", "utf-16", "koi8-r",
	                                   "x-unknown", "UTF-16BE", ""};
	struct jg_text tx;
	if (jg_text_decode(body, len, http[(opts >> 3) & 7], &tx) < 0)
		return 0;
	if (!jg_utf8_valid(tx.text, tx.len))
		abort(); /* what the tokenizer gets is always UTF-8 */
	const char *text = tx.text;
	size_t start = 0, end = tx.len;
	if (opts & 4)
		jg_text_strip_boilerplate(text, tx.len, &start, &end);
	if (start > end || end > tx.len)
		abort();
	struct jg_tokenizer t;
	struct jg_wordcount wc;
	jg_tokenizer_init(&t);
	jg_wc_init(&wc);
	jg_tokenize(&t, text + start, end - start, (opts & 1) ? JG_SPLIT_WHITESPACE : JG_SPLIT_WORDS, &wc);
	uint64_t sum = 0;
	for (size_t i = 0; wc.slots && i <= wc.mask; i++)
		if (wc.slots[i].word) {
			sum += wc.slots[i].count;
			const struct jg_word *w = &wc.slots[i];
			if (w->len == 0 || !jg_utf8_valid(w->word, w->len))
				abort(); /* no empty words, none that is not UTF-8 */
			if (!(opts & 1)) {
				utf8proc_uint8_t *nfc = utf8proc_NFC((const utf8proc_uint8_t *)w->word);
				if (!nfc || strlen((char *)nfc) != w->len || memcmp(nfc, w->word, w->len))
					abort(); /* a word is in NFC */
				free(nfc);
			}
		}
	if (sum != wc.total)
		abort();
	jg_wc_fini(&wc);
	jg_tokenizer_fini(&t);
	jg_text_fini(&tx);
	return 0;
}
