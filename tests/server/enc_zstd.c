/* zstd through libzstd, for real content. */
#include "enc_impl.h"

#include <stdlib.h>
#include <zstd.h>

/* Level 1 with a 32 KiB window and 8 K hash entries: ~270 KiB of state
 * per response (ZSTD_sizeof_CCtx), like zlib's.  The defaults for an
 * unknown size (2 MiB window) would cost several MiB per connection. */
#define LEVEL 1
#define WINDOW_LOG 15
#define HASH_LOG 13

struct zsenc {
    struct jg_enc base;
    ZSTD_CCtx *cc;
    struct jg_feed feed;
    bool done;
};

static ssize_t produce(struct jg_enc *e, char *dst, size_t n, bool *eof)
{
    struct zsenc *z = (struct zsenc *)e;
    ZSTD_outBuffer out = { dst, n, 0 };
    size_t fed = 0;

    while (!z->done && out.pos < out.size) {
        if (z->feed.avail == 0 && !jg_feed_at_end(&z->feed, e->src)) {
            if (fed >= JG_FEED_PER_CALL)
                break;
            if (!jg_feed_refill(&z->feed, e->src))
                return -1;
            fed += z->feed.avail;
        }
        bool last = jg_feed_at_end(&z->feed, e->src);
        ZSTD_inBuffer in = { z->feed.next, z->feed.avail, 0 };
        size_t rc = ZSTD_compressStream2(z->cc, &out, &in,
                                         last ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(rc))
            return -1;
        z->feed.next += in.pos;
        z->feed.avail -= in.pos;
        /* With ZSTD_e_end, 0 means the frame is complete. */
        if (last && rc == 0)
            z->done = true;
    }
    *eof = z->done;
    return (ssize_t)out.pos;
}

static void zsfree(struct jg_enc *e)
{
    struct zsenc *z = (struct zsenc *)e;

    ZSTD_freeCCtx(z->cc);
    free(z);
}

static const struct jg_enc_ops ops = { produce, zsfree };

struct jg_enc *jg_enc_zstd_new(const struct jg_body *src)
{
    struct zsenc *z = calloc(1, sizeof *z);

    if (!z)
        return NULL;
    z->cc = ZSTD_createCCtx();
    if (!z->cc ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cc, ZSTD_c_compressionLevel,
                                            LEVEL)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cc, ZSTD_c_windowLog,
                                            WINDOW_LOG)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(z->cc, ZSTD_c_hashLog,
                                            HASH_LOG))) {
        ZSTD_freeCCtx(z->cc);
        free(z);
        return NULL;
    }
    z->base.ops = &ops;
    z->base.src = src;
    return &z->base;
}
