/*
 * libFuzzer target: arbitrary bytes as a book. The first byte picks the
 * split mode, an HTTP charset and boilerplate stripping; the rest is the
 * body. The text must come out valid UTF-8, every word non-empty, valid
 * UTF-8 too and (in the Unicode mode) in NFC, and the counted total must
 * equal the sum of the table's.
 *
 * Differential too: the text, and the body's raw bytes (which need not be
 * UTF-8), are counted on every tokenizer path this CPU has (bytewise,
 * scalar, SSE2, AVX2), and every table must equal the bytewise one.
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

/* `a` and `b` hold the same words with the same counts. */
static int same_table(const struct jg_wordcount *a, const struct jg_wordcount *b)
{
	if (a->distinct != b->distinct || a->total != b->total)
		return 0;
	for (size_t i = 0; a->slots && i <= a->mask; i++) {
		const struct jg_word *e = &a->slots[i];
		if (e->word && jg_wc_get(b, e->word, e->len) != e->count)
			return 0;
	}
	return 1;
}

/* Counts text[0..len) on each path; all must agree with the bytewise. */
static void check_paths(const char *text, size_t len, enum jg_split mode)
{
	static const enum jg_tokenize_path paths[] = {JG_TOKENIZE_BYTEWISE, JG_TOKENIZE_SCALAR,
	                                              JG_TOKENIZE_SSE2, JG_TOKENIZE_AVX2};
	/* An exact copy: ASan sees any read past the end. */
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return;
	memcpy(copy, text, len);
	struct jg_wordcount ref, wc;
	jg_wc_init(&ref);
	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
		struct jg_tokenizer t;
		jg_tokenizer_init(&t);
		if (jg_tokenizer_set_path(&t, paths[i]) < 0) {
			jg_tokenizer_fini(&t);
			continue;
		}
		struct jg_wordcount *into = i == 0 ? &ref : &wc;
		if (i)
			jg_wc_init(&wc);
		if (jg_tokenize(&t, copy, len, mode, into) < 0)
			abort(); /* no ENOMEM at these sizes */
		if (i && !same_table(&ref, &wc))
			abort(); /* a path disagrees with the rules */
		if (i)
			jg_wc_fini(&wc);
		jg_tokenizer_fini(&t);
	}
	jg_wc_fini(&ref);
	free(copy);
}

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
	enum jg_split mode = (opts & 1) ? JG_SPLIT_WHITESPACE : JG_SPLIT_WORDS;
	check_paths(text + start, end - start, mode);
	check_paths(body, len, mode);
	jg_wc_fini(&wc);
	jg_tokenizer_fini(&t);
	jg_text_fini(&tx);
	return 0;
}
