/* What the implementations of enc.h share: the object header that
 * dispatches to them, their constructors, and input feeding for the
 * library encoders.  Not for use outside the enc*.c and craft_*.c files. */
#ifndef JG_ENC_IMPL_H
#define JG_ENC_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "body.h"
#include "enc.h"

struct jg_enc_ops {
    ssize_t (*produce)(struct jg_enc *e, char *dst, size_t n, bool *eof);
    void (*free)(struct jg_enc *e);
};

/* First member of every implementation's state. */
struct jg_enc {
    const struct jg_enc_ops *ops;
    const struct jg_body *src;
};

/* Library encoders, for bodies that are real content. */
struct jg_enc *jg_enc_zlib_new(const struct jg_body *src, bool gzip);
struct jg_enc *jg_enc_brotli_new(const struct jg_body *src);
struct jg_enc *jg_enc_zstd_new(const struct jg_body *src);

/* Hand-made streams: a run of one byte (JG_BODY_FILL) costs next to no
 * CPU whatever its length, and any other body is stored uncompressed in a
 * frame that declares the window asked for. */
struct jg_enc *jg_craft_deflate_new(const struct jg_body *run, bool gzip);
struct jg_enc *jg_craft_brotli_new(const struct jg_body *src,
                                   unsigned window);
struct jg_enc *jg_craft_zstd_new(const struct jg_body *src, unsigned window);

/* Input staging for the library encoders. */
#define JG_FEED_CAP (16 * 1024)
/* Bounds the time one produce call may spend: 4 MiB of input at most. */
#define JG_FEED_PER_CALL (4u * 1024 * 1024)

struct jg_feed {
    uint64_t off;          /* body bytes read so far */
    const unsigned char *next;
    size_t avail;          /* unconsumed bytes at next */
    unsigned char buf[JG_FEED_CAP];
};

/* Reads the next piece of src into f once f is empty.  False if the
 * source failed. */
bool jg_feed_refill(struct jg_feed *f, const struct jg_body *src);

static inline bool jg_feed_at_end(const struct jg_feed *f,
                                  const struct jg_body *src)
{
    return f->avail == 0 && f->off >= src->size;
}

#endif
