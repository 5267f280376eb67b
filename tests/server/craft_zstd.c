/* Hand-made zstd frames (RFC 8878) that declare any window: RLE blocks
 * for a run of one byte (4 bytes per 128 KiB block, so a GiB of zeros is
 * 32 KiB and costs no compression at all), raw blocks for other bodies,
 * read straight into the output.
 *
 * The frame has no content size and no checksum, and it is not single
 * segment, so the decoder must believe the Window_Descriptor: with
 * windowLog 27 a decoder that does not cap windows allocates 128 MiB. */
#include "enc_impl.h"

#include <stdlib.h>
#include <string.h>

#define MAGIC 0xFD2FB528u
#define BLOCK_CAP (128u * 1024)    /* Block_Maximum_Size's ceiling */
#define RAW_BLOCK 0u
#define RLE_BLOCK 1u

struct zcraft {
    struct jg_enc base;
    unsigned char pend[8];       /* frame header or block header + RLE byte */
    size_t pend_len, pend_off;
    bool started, last_sent;
    unsigned window;
    uint64_t off;                /* body bytes framed so far */
    uint64_t raw_left;           /* of the current raw block */
};

static void frame_header(struct zcraft *z)
{
    for (int i = 0; i < 4; i++)
        z->pend[i] = (unsigned char)(MAGIC >> (8 * i));
    z->pend[4] = 0;  /* no content size, not single segment, no checksum */
    /* Window_Descriptor: exponent windowLog - 10, mantissa 0. */
    z->pend[5] = (unsigned char)((z->window - 10) << 3);
    z->pend_len = 6;
    z->pend_off = 0;
}

static void next_block(struct zcraft *z)
{
    const struct jg_body *src = z->base.src;
    uint64_t left = src->size - z->off;
    uint32_t max = z->window < 17 ? 1u << z->window : BLOCK_CAP;
    uint32_t size = left < max ? (uint32_t)left : max;
    bool last = left == size;
    /* An empty body still needs one (raw, empty) last block. */
    bool rle = src->kind == JG_BODY_FILL && size > 0;
    uint32_t h = (last ? 1u : 0u) | (rle ? RLE_BLOCK : RAW_BLOCK) << 1 |
                 size << 3;

    z->pend[0] = (unsigned char)h;
    z->pend[1] = (unsigned char)(h >> 8);
    z->pend[2] = (unsigned char)(h >> 16);
    z->pend_len = 3;
    z->pend_off = 0;
    if (rle) {
        z->pend[z->pend_len++] = (unsigned char)src->fill;
        z->off += size;
    } else {
        z->raw_left = size;
    }
    z->last_sent = last;
}

static ssize_t produce(struct jg_enc *e, char *dst, size_t n, bool *eof)
{
    struct zcraft *z = (struct zcraft *)e;
    size_t out = 0;

    while (out < n) {
        if (z->pend_off < z->pend_len) {
            size_t k = z->pend_len - z->pend_off;
            if (k > n - out)
                k = n - out;
            memcpy(dst + out, z->pend + z->pend_off, k);
            z->pend_off += k;
            out += k;
        } else if (z->raw_left) {
            size_t want = n - out < z->raw_left ? n - out : (size_t)z->raw_left;
            ssize_t r = jg_body_read(e->src, z->off, dst + out, want);
            if (r <= 0)
                return -1;
            z->off += (uint64_t)r;
            z->raw_left -= (uint64_t)r;
            out += (size_t)r;
        } else if (!z->started) {
            frame_header(z);
            z->started = true;
        } else if (!z->last_sent) {
            next_block(z);
        } else {
            break;
        }
    }
    *eof = z->started && z->last_sent && z->pend_off == z->pend_len &&
           z->raw_left == 0;
    return (ssize_t)out;
}

static void zfree(struct jg_enc *e)
{
    free(e);
}

static const struct jg_enc_ops ops = { produce, zfree };

struct jg_enc *jg_craft_zstd_new(const struct jg_body *src, unsigned window)
{
    struct zcraft *z = calloc(1, sizeof *z);

    if (!z)
        return NULL;
    z->base.ops = &ops;
    z->base.src = src;
    z->window = window;
    return &z->base;
}
