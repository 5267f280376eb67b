#include "enc.h"
#include "enc_impl.h"

#include <string.h>

/* Hand-made streams declare these windows unless told otherwise: 16 is
 * brotli's smallest common one, and 17 is the smallest zstd window whose
 * blocks reach the format's 128 KiB maximum (4 bytes per RLE block). */
#define BR_CRAFT_WINDOW 16
#define ZSTD_CRAFT_WINDOW 17

static const char *const names[] = {
    [JG_ENC_GZIP] = "gzip",
    [JG_ENC_DEFLATE] = "deflate",
    [JG_ENC_BR] = "br",
    [JG_ENC_ZSTD] = "zstd",
};

bool jg_enc_parse(const char *name, enum jg_coding *out)
{
    for (size_t i = 1; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (enum jg_coding)i;
            return true;
        }
    }
    return false;
}

const char *jg_enc_name(enum jg_coding c)
{
    return c == JG_ENC_NONE ? NULL : names[c];
}

/* A run of one byte never goes through a library: even zlib's fastest
 * useful level spends ~2 s of CPU per GiB of zeros, and a bomb must be
 * cheap to serve.  A declared window other than the library's own is
 * also hand-made, since asking the library for a 16 MiB or 128 MiB window
 * would make the server allocate it. */
struct jg_enc *jg_enc_new(enum jg_coding c, unsigned window,
                          const struct jg_body *src)
{
    bool run = src->kind == JG_BODY_FILL;

    switch (c) {
    case JG_ENC_NONE:
        return NULL;
    case JG_ENC_GZIP:
    case JG_ENC_DEFLATE:
        return run ? jg_craft_deflate_new(src, c == JG_ENC_GZIP)
                   : jg_enc_zlib_new(src, c == JG_ENC_GZIP);
    case JG_ENC_BR:
        return run || window
                   ? jg_craft_brotli_new(src, window ? window : BR_CRAFT_WINDOW)
                   : jg_enc_brotli_new(src);
    case JG_ENC_ZSTD:
        return run || window
                   ? jg_craft_zstd_new(src, window ? window : ZSTD_CRAFT_WINDOW)
                   : jg_enc_zstd_new(src);
    }
    return NULL;
}

void jg_enc_free(struct jg_enc *e)
{
    if (e)
        e->ops->free(e);
}

ssize_t jg_enc_produce(struct jg_enc *e, char *dst, size_t n, bool *eof)
{
    return e->ops->produce(e, dst, n, eof);
}

bool jg_feed_refill(struct jg_feed *f, const struct jg_body *src)
{
    ssize_t r;

    if (f->avail || f->off >= src->size)
        return true;
    r = jg_body_read(src, f->off, (char *)f->buf, sizeof f->buf);
    if (r <= 0)
        return false; /* the size said there was more */
    f->next = f->buf;
    f->avail = (size_t)r;
    f->off += (uint64_t)r;
    return true;
}
