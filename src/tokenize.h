/*
 * Bytes to words, with no I/O: charset conversion, Project Gutenberg
 * boilerplate stripping, and two ways of splitting.
 *
 * JG_SPLIT_WORDS (default): words are maximal runs of Unicode letters and
 * digits; an apostrophe (' or U+2019) between two word characters stays in
 * the word, written as '; everything is case-folded (utf8proc) behind an
 * ASCII fast path. Invalid UTF-8 bytes separate words.
 * JG_SPLIT_WHITESPACE: the "countwords" benchmark's rule: ASCII lower-case,
 * split on ASCII white space only.
 */
#ifndef JG_TOKENIZE_H
#define JG_TOKENIZE_H

#include <stddef.h>

#include "wordcount.h"

enum jg_split { JG_SPLIT_WORDS = 0, JG_SPLIT_WHITESPACE = 1 };
enum jg_charset { JG_CHARSET_UTF8 = 0, JG_CHARSET_CP1252 = 1 };

/* Scratch space reused across calls (the current word). */
struct jg_tokenizer {
	char *word;
	size_t cap;
};

void jg_tokenizer_init(struct jg_tokenizer *t);
void jg_tokenizer_fini(struct jg_tokenizer *t);

/* Counts the words of UTF-8 `text` into `wc`. 0, or -1 on ENOMEM. */
int jg_tokenize(struct jg_tokenizer *t, const char *text, size_t len, enum jg_split mode,
                struct jg_wordcount *wc);

/* The charset named by a Content-Type value (NULL = none: UTF-8). */
enum jg_charset jg_charset_of(const char *content_type);

/*
 * A UTF-8 view of `in`: for UTF-8, `in` itself past a byte order mark; for
 * Latin-1/Windows-1252, a converted copy (iconv) that the caller frees
 * (`*owned` set). 0, or -1 on ENOMEM.
 */
int jg_text_utf8(const char *in, size_t len, enum jg_charset cs, const char **out,
                 size_t *out_len, char **owned);

/*
 * Narrows [*start, *end) of `text` to what lies between the "*** START OF"
 * and "*** END OF" marker lines of a Project Gutenberg text; leaves the
 * range alone where a marker is missing.
 */
void jg_text_strip_boilerplate(const char *text, size_t len, size_t *start, size_t *end);

#endif
