/*
 * The tokenizer's paths as its files share them: the bytewise machines
 * (tokenize.c), which are the rules, and the block readers built on them
 * (tokenize_blocks.h, once per instruction set).
 */
#ifndef JG_TOKENIZE_PATHS_H
#define JG_TOKENIZE_PATHS_H

#include "tokenize.h"

/*
 * The rules, one byte (one code point) at a time, from `p` where no word
 * is open. They stop at the first point at or after `target` where no
 * word is open (in words mode, also with an ASCII byte or the end next),
 * so that a block reader can go on from there as if from the start of a
 * text; at `end` they count the last word. Return where they stopped, or
 * NULL on ENOMEM.
 */
const unsigned char *jg_tok_bytes_ws(struct jg_tokenizer *t, const unsigned char *p,
                                     const unsigned char *end, const unsigned char *target,
                                     struct jg_wordcount *wc);
const unsigned char *jg_tok_bytes_words(struct jg_tokenizer *t, const unsigned char *p,
                                        const unsigned char *end, const unsigned char *target,
                                        struct jg_wordcount *wc);

/* The block readers: the whole of p[0..end). 0, or -1 on ENOMEM. */
int jg_tok_blocks_ws_scalar(struct jg_tokenizer *t, const unsigned char *p,
                            const unsigned char *end, struct jg_wordcount *wc);
int jg_tok_blocks_words_scalar(struct jg_tokenizer *t, const unsigned char *p,
                               const unsigned char *end, struct jg_wordcount *wc);

#if defined(__x86_64__) && defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#define JG_TOKENIZE_X86 1
int jg_tok_blocks_ws_sse2(struct jg_tokenizer *t, const unsigned char *p,
                          const unsigned char *end, struct jg_wordcount *wc);
int jg_tok_blocks_words_sse2(struct jg_tokenizer *t, const unsigned char *p,
                             const unsigned char *end, struct jg_wordcount *wc);
int jg_tok_blocks_ws_avx2(struct jg_tokenizer *t, const unsigned char *p,
                          const unsigned char *end, struct jg_wordcount *wc);
int jg_tok_blocks_words_avx2(struct jg_tokenizer *t, const unsigned char *p,
                             const unsigned char *end, struct jg_wordcount *wc);
/* Whether this CPU runs the AVX2 readers (AVX2, BMI1, BMI2). */
int jg_tok_cpu_has_avx2(void);
#endif

#endif
