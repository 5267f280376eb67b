/*
 * UTF-8 text to words, with no I/O, in one of two ways.
 *
 * JG_SPLIT_WORDS (default): a word is a maximal run of Unicode letters and
 * digits (categories L* and N*), with combining marks (M*) kept inside it,
 * as Unicode's word boundaries never split before a mark; an apostrophe
 * (' or U+2019) between two such runs stays in the word, written as '.
 * Each word is case-folded, then put in NFC, so that a decomposed and a
 * precomposed letter make the same word (utf8proc both, behind an ASCII
 * fast path that needs neither). Invalid UTF-8 bytes separate words.
 * JG_SPLIT_WHITESPACE: the "countwords" benchmark's rule: ASCII lower-case,
 * split on ASCII white space only.
 */
#ifndef JG_TOKENIZE_H
#define JG_TOKENIZE_H

#include <stddef.h>

#include "wordcount.h"

#include <stdint.h>

enum jg_split { JG_SPLIT_WORDS = 0, JG_SPLIT_WHITESPACE = 1 };

/*
 * How the text is read (tokenize.c says more); every path counts the same
 * words. BYTEWISE is the reference, one byte or code point at a time;
 * the others read 64-byte blocks, SCALAR in portable C (SWAR), SSE2 and
 * AVX2 with x86 vector instructions, and hand what is not ASCII to it.
 */
enum jg_tokenize_path {
	JG_TOKENIZE_BYTEWISE = 0,
	JG_TOKENIZE_SCALAR = 1,
	JG_TOKENIZE_SSE2 = 2,
	JG_TOKENIZE_AVX2 = 3,
};

/* Scratch space reused across calls: the current word, its NFC, and what
 * is known of code points' need for NFC (filled as they are met). */
struct jg_tokenizer {
	enum jg_tokenize_path path;
	char *word;
	size_t cap;
	int32_t *cps;            /* code points of a word being normalized */
	size_t cps_cap;
	uint8_t *nfc_pages[0x110000 >> 12];
};

/*
 * Takes the fastest path this CPU has, or the one JUGGLE_TOKENIZE_PATH
 * names (bytewise, scalar, sse2, avx2: for tests, which run every path
 * and compare) when this CPU has it.
 */
void jg_tokenizer_init(struct jg_tokenizer *t);
void jg_tokenizer_fini(struct jg_tokenizer *t);
/* Picks `path`: 0, or -1 when this build or CPU does not have it. */
int jg_tokenizer_set_path(struct jg_tokenizer *t, enum jg_tokenize_path path);
/* The path's name ("avx2"), for benchmarks and test messages. */
const char *jg_tokenize_path_name(enum jg_tokenize_path path);

/* Counts the words of UTF-8 `text` into `wc`. 0, or -1 on ENOMEM. */
int jg_tokenize(struct jg_tokenizer *t, const char *text, size_t len, enum jg_split mode,
                struct jg_wordcount *wc);

#endif
