/* Hand-made brotli streams (RFC 7932) that declare any window from 10 to
 * 24 bits.  libbrotlienc is not used for these: it would allocate the
 * window it declares (16 MiB for 24), and even its fastest mode spends
 * real CPU on a run of zeros.
 *
 * A run of one byte is cut into meta-blocks of up to 16 MiB (the
 * format's maximum), each a single command "insert 0 (or 1 or 2)
 * literals, copy the rest from distance 1" with one-symbol prefix codes,
 * which cost zero bits per symbol: ~13 bytes per 16 MiB, so a GiB is
 * under 1 KiB.  Any other body goes out as uncompressed meta-blocks of
 * 64 KiB, read straight into the output.  The stream ends with an empty
 * last meta-block. */
#include "bits.h"
#include "enc_impl.h"

#include <stdlib.h>

#define RUN_BLOCK (1u << 24)      /* MLEN's maximum */
#define STORED_BLOCK (1u << 16)

/* Copy length codes (RFC 7932 section 5): base length, extra bits. */
static const struct {
    uint32_t base;
    unsigned bits;
} copy_codes[24] = {
    { 2, 0 }, { 3, 0 }, { 4, 0 }, { 5, 0 }, { 6, 0 }, { 7, 0 },
    { 8, 0 }, { 9, 0 }, { 10, 1 }, { 12, 1 }, { 14, 2 }, { 18, 2 },
    { 22, 3 }, { 30, 3 }, { 38, 4 }, { 54, 4 }, { 70, 5 }, { 102, 5 },
    { 134, 6 }, { 198, 7 }, { 326, 8 }, { 582, 9 }, { 1094, 10 },
    { 2118, 24 },
};
/* First insert-and-copy code of each cell with an explicit distance, for
 * insert codes 0..7 and copy codes 0..7, 8..15, 16..23. */
static const unsigned cmd_cell[3] = { 128, 192, 384 };
/* Distance symbol 16 with NPOSTFIX = NDIRECT = 0 is distance 1 + one
 * extra bit; it does not depend on the distance ring buffer. */
#define DIST_SYM 16

struct bcraft {
    struct jg_enc base;
    struct jg_bits bits;
    unsigned window;
    bool started, ending;
    uint64_t off;                /* body bytes framed so far */
    uint64_t raw_left;           /* of the current uncompressed meta-block */
};

static void put_window(struct jg_bits *b, unsigned w)
{
    if (w == 16) {
        jg_bits_put(b, 0, 1);
    } else if (w >= 18) {
        jg_bits_put(b, 1, 1);
        jg_bits_put(b, w - 17, 3);
    } else {                     /* 10..15, or 17 */
        jg_bits_put(b, 1, 1);
        jg_bits_put(b, 0, 3);
        jg_bits_put(b, w == 17 ? 0 : w - 8, 3);
    }
}

/* ISLAST = 0, MNIBBLES and MLEN - 1, with the fewest nibbles as the
 * format demands. */
static void put_mlen(struct jg_bits *b, uint32_t mlen)
{
    uint32_t v = mlen - 1;
    unsigned nibbles = v < (1u << 16) ? 4 : v < (1u << 20) ? 5 : 6;

    jg_bits_put(b, 0, 1);
    jg_bits_put(b, nibbles - 4, 2);
    jg_bits_put(b, v, nibbles * 4);
}

/* A prefix code with a single symbol, read as zero bits. */
static void put_one_symbol(struct jg_bits *b, unsigned sym, unsigned bits)
{
    jg_bits_put(b, 1, 2);        /* simple prefix code */
    jg_bits_put(b, 0, 2);        /* NSYM - 1 */
    jg_bits_put(b, sym, bits);
}

static void run_block(struct bcraft *d, uint32_t mlen, bool first)
{
    struct jg_bits *b = &d->bits;
    /* The first byte must be a literal; a copy is 0 or at least 2 bytes
     * (the decoder stops as soon as MLEN is reached, so a command whose
     * literals fill the meta-block never reads its copy). */
    uint32_t ins = first ? (mlen == 2 ? 2 : 1) : (mlen == 1 ? 1 : 0);
    uint32_t copy = mlen - ins;
    unsigned cc = 0;

    while (cc + 1 < 24 && copy_codes[cc + 1].base <= copy)
        cc++;
    unsigned cmd = cmd_cell[cc >> 3] + ins * 8 + (cc & 7);

    put_mlen(b, mlen);
    jg_bits_put(b, 0, 1);        /* ISUNCOMPRESSED */
    jg_bits_put(b, 0, 3);        /* one block type for L, I and D */
    jg_bits_put(b, 0, 2);        /* NPOSTFIX */
    jg_bits_put(b, 0, 4);        /* NDIRECT */
    jg_bits_put(b, 0, 2);        /* literal context mode */
    jg_bits_put(b, 0, 2);        /* one literal and one distance tree */
    put_one_symbol(b, (unsigned char)d->base.src->fill, 8);
    put_one_symbol(b, cmd, 10);
    put_one_symbol(b, DIST_SYM, 6);
    /* The command: its symbols cost nothing; insert codes 0..2 have no
     * extra bits; then the copy's extra bits and the distance's one. */
    if (copy >= 2) {
        jg_bits_put(b, copy - copy_codes[cc].base, copy_codes[cc].bits);
        jg_bits_put(b, 0, 1);
    } else {
        jg_bits_put(b, 0, copy_codes[0].bits);
    }
}

static void stored_block(struct bcraft *d, uint32_t mlen)
{
    put_mlen(&d->bits, mlen);
    jg_bits_put(&d->bits, 1, 1); /* ISUNCOMPRESSED */
    jg_bits_align(&d->bits);
    d->raw_left = mlen;
}

static void next_unit(struct bcraft *d)
{
    const struct jg_body *src = d->base.src;
    uint64_t left = src->size - d->off;

    if (!d->started) {
        put_window(&d->bits, d->window);
        d->started = true;
    } else if (left == 0) {
        jg_bits_put(&d->bits, 3, 2); /* ISLAST, ISLASTEMPTY */
        jg_bits_align(&d->bits);
        d->ending = true;
    } else if (src->kind == JG_BODY_FILL) {
        uint32_t mlen = left < RUN_BLOCK ? (uint32_t)left : RUN_BLOCK;
        run_block(d, mlen, d->off == 0);
        d->off += mlen;
    } else {
        stored_block(d, left < STORED_BLOCK ? (uint32_t)left : STORED_BLOCK);
    }
}

static ssize_t produce(struct jg_enc *e, char *dst, size_t n, bool *eof)
{
    struct bcraft *d = (struct bcraft *)e;
    size_t out = 0;

    while (out < n) {
        if (jg_bits_queued(&d->bits)) {
            out += jg_bits_take(&d->bits, dst + out, n - out);
        } else if (d->raw_left) {
            size_t want = n - out < d->raw_left ? n - out : (size_t)d->raw_left;
            ssize_t r = jg_body_read(e->src, d->off, dst + out, want);
            if (r <= 0)
                return -1;
            d->off += (uint64_t)r;
            d->raw_left -= (uint64_t)r;
            out += (size_t)r;
        } else if (!d->ending) {
            next_unit(d);
        } else {
            break;
        }
    }
    *eof = d->ending && !jg_bits_queued(&d->bits);
    return (ssize_t)out;
}

static void bfree(struct jg_enc *e)
{
    free(e);
}

static const struct jg_enc_ops ops = { produce, bfree };

struct jg_enc *jg_craft_brotli_new(const struct jg_body *src, unsigned window)
{
    struct bcraft *d = calloc(1, sizeof *d);

    if (!d)
        return NULL;
    d->base.ops = &ops;
    d->base.src = src;
    d->window = window;
    return &d->base;
}
