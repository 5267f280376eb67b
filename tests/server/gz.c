#include "gz.h"

#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#define IN_CAP (16 * 1024)
/* Bounds the time one call may spend: 4 MiB of 'a' compress to ~4 KB. */
#define IN_PER_CALL (4u * 1024 * 1024)
#define GZIP_WINDOW (15 + 16)

struct jg_gz {
    z_stream zs;
    uint64_t in_off;
    bool done;
    unsigned char in[IN_CAP];
};

struct jg_gz *jg_gz_new(int level)
{
    struct jg_gz *g = calloc(1, sizeof *g);

    if (!g)
        return NULL;
    if (deflateInit2(&g->zs, level, Z_DEFLATED, GZIP_WINDOW, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g);
        return NULL;
    }
    return g;
}

void jg_gz_free(struct jg_gz *g)
{
    if (!g)
        return;
    deflateEnd(&g->zs);
    free(g);
}

static bool refill(struct jg_gz *g, const struct jg_body *src)
{
    ssize_t r = jg_body_read(src, g->in_off, (char *)g->in, IN_CAP);

    if (r < 0)
        return false;
    g->zs.next_in = g->in;
    g->zs.avail_in = (uInt)r;
    g->in_off += (uint64_t)r;
    return true;
}

ssize_t jg_gz_produce(struct jg_gz *g, const struct jg_body *src, char *dst,
                      size_t n, bool *eof)
{
    size_t fed = 0;

    g->zs.next_out = (Bytef *)dst;
    g->zs.avail_out = (uInt)n;
    while (!g->done && g->zs.avail_out > 0) {
        if (g->zs.avail_in == 0 && g->in_off < src->size) {
            if (fed >= IN_PER_CALL)
                break;
            if (!refill(g, src))
                return -1;
            fed += g->zs.avail_in;
        }
        int flush = g->in_off >= src->size ? Z_FINISH : Z_NO_FLUSH;
        int rc = deflate(&g->zs, flush);
        if (rc == Z_STREAM_END)
            g->done = true;
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return -1;
    }
    *eof = g->done;
    return (ssize_t)(n - g->zs.avail_out);
}
