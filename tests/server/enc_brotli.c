/* br through libbrotlienc, for real content. */
#include "enc_impl.h"

#include <brotli/encode.h>
#include <stdlib.h>

/* Quality 1 is the fast two-pass mode: ~70 KiB of state with a 64 KiB
 * window, and ~150 MB/s on text.  From quality 2 on the encoder keeps
 * ~1 MiB of hash tables per response. */
#define QUALITY 1
#define LGWIN 16

struct benc {
    struct jg_enc base;
    BrotliEncoderState *st;
    struct jg_feed feed;
};

static ssize_t produce(struct jg_enc *e, char *dst, size_t n, bool *eof)
{
    struct benc *b = (struct benc *)e;
    size_t avail_out = n, fed = 0;
    uint8_t *next_out = (uint8_t *)dst;

    while (avail_out > 0 && !BrotliEncoderIsFinished(b->st)) {
        if (b->feed.avail == 0 && !jg_feed_at_end(&b->feed, e->src)) {
            if (fed >= JG_FEED_PER_CALL)
                break;
            if (!jg_feed_refill(&b->feed, e->src))
                return -1;
            fed += b->feed.avail;
        }
        BrotliEncoderOperation op = jg_feed_at_end(&b->feed, e->src)
                                        ? BROTLI_OPERATION_FINISH
                                        : BROTLI_OPERATION_PROCESS;
        if (!BrotliEncoderCompressStream(b->st, op, &b->feed.avail,
                                         &b->feed.next, &avail_out,
                                         &next_out, NULL))
            return -1;
    }
    *eof = BrotliEncoderIsFinished(b->st);
    return (ssize_t)(n - avail_out);
}

static void bfree(struct jg_enc *e)
{
    struct benc *b = (struct benc *)e;

    BrotliEncoderDestroyInstance(b->st);
    free(b);
}

static const struct jg_enc_ops ops = { produce, bfree };

struct jg_enc *jg_enc_brotli_new(const struct jg_body *src)
{
    struct benc *b = calloc(1, sizeof *b);

    if (!b)
        return NULL;
    b->st = BrotliEncoderCreateInstance(NULL, NULL, NULL);
    if (!b->st || !BrotliEncoderSetParameter(b->st, BROTLI_PARAM_QUALITY,
                                             QUALITY) ||
        !BrotliEncoderSetParameter(b->st, BROTLI_PARAM_LGWIN, LGWIN)) {
        BrotliEncoderDestroyInstance(b->st);
        free(b);
        return NULL;
    }
    b->base.ops = &ops;
    b->base.src = src;
    return &b->base;
}
