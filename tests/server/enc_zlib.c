/* gzip and deflate (zlib format) through zlib, for real content. */
#include "enc_impl.h"

#include <stdlib.h>
#include <zlib.h>

/* Level 1 keeps up with benchmark traffic on text; runs of one byte never
 * come here (see craft_deflate.c). */
#define LEVEL 1
#define WINDOW_BITS 15
#define GZIP_WRAPPER 16

struct zenc {
    struct jg_enc base;
    z_stream zs;
    struct jg_feed feed;
    bool done;
};

static ssize_t produce(struct jg_enc *e, char *dst, size_t n, bool *eof)
{
    struct zenc *z = (struct zenc *)e;
    size_t fed = 0;

    z->zs.next_out = (Bytef *)dst;
    z->zs.avail_out = (uInt)n;
    while (!z->done && z->zs.avail_out > 0) {
        if (z->feed.avail == 0 && !jg_feed_at_end(&z->feed, e->src)) {
            if (fed >= JG_FEED_PER_CALL)
                break;
            if (!jg_feed_refill(&z->feed, e->src))
                return -1;
            fed += z->feed.avail;
        }
        z->zs.next_in = (Bytef *)z->feed.next;
        z->zs.avail_in = (uInt)z->feed.avail;
        int flush = z->feed.off >= e->src->size ? Z_FINISH : Z_NO_FLUSH;
        int rc = deflate(&z->zs, flush);
        z->feed.next = z->zs.next_in;
        z->feed.avail = z->zs.avail_in;
        if (rc == Z_STREAM_END)
            z->done = true;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return -1;
    }
    *eof = z->done;
    return (ssize_t)(n - z->zs.avail_out);
}

static void zfree(struct jg_enc *e)
{
    struct zenc *z = (struct zenc *)e;

    deflateEnd(&z->zs);
    free(z);
}

static const struct jg_enc_ops ops = { produce, zfree };

struct jg_enc *jg_enc_zlib_new(const struct jg_body *src, bool gzip)
{
    struct zenc *z = calloc(1, sizeof *z);

    if (!z)
        return NULL;
    /* memLevel 8 and a 32 KiB window: ~256 KiB per response. */
    if (deflateInit2(&z->zs, LEVEL, Z_DEFLATED,
                     WINDOW_BITS + (gzip ? GZIP_WRAPPER : 0), 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    z->base.ops = &ops;
    z->base.src = src;
    return &z->base;
}
