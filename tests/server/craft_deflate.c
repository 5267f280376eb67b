/* Hand-made deflate stream (RFC 1951) of N copies of one byte, in the
 * gzip (RFC 1952) or zlib (RFC 1950) wrapper, at no CPU cost per byte:
 * zlib spends ~2 s per GiB of zeros at its fastest level that reaches
 * deflate's ratio ceiling, which would make every bomb request a
 * denial of service on the server itself.
 *
 * The stream is one dynamic-Huffman block whose literal/length code has
 * three symbols: length 258 (1 bit, code 0), the byte and end-of-block
 * (2 bits each); the distance code has two 1-bit symbols, distance 1
 * being code 0.  The data is one literal, then (N - 1) / 258 matches of
 * length 258 at distance 1, two zero bits each, so plain zero bytes at
 * 1032:1 (the format's ceiling), then the rest as literals.  The check
 * value of the run is computed by combining, in O(log N) steps. */
#include "bits.h"
#include "enc_impl.h"

#include <stdlib.h>
#include <zlib.h>

#define MATCH_MAX 258
#define NLIT 286               /* literal/length codes up to 285 */
#define NDIST 2
#define NCLEN 18               /* code-length codes sent, in cl_order */
#define EOB 256
#define LEN_258 285

/* Order in which the code-length code's lengths are sent (RFC 1951). */
static const unsigned char cl_order[19] = {
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
};
/* The code-length code: 0 (single zero), 17 and 18 (zero runs) get 2
 * bits, the lengths 1 and 2 get 3 bits.  Complete, as zlib requires:
 * 3/4 + 2/8 = 1. */
static const unsigned char cl_len[19] = {
    [0] = 2, [1] = 3, [2] = 3, [17] = 2, [18] = 2,
};

enum state { ST_HEAD, ST_ZEROS, ST_TAIL, ST_END };

struct dcraft {
    struct jg_enc base;
    struct jg_bits bits;
    bool gzip;
    unsigned char byte;
    uint64_t size;
    uint64_t matches;
    uint64_t zero_bytes;       /* whole zero bytes of matches left */
    unsigned zero_tail;        /* zero bits after them */
    enum state st;
    unsigned short lit_code[NLIT], cl_code[19];
};

/* Canonical Huffman codes from code lengths (RFC 1951 3.2.2). */
static void canonical(const unsigned char *len, unsigned n,
                      unsigned short *code)
{
    unsigned count[16] = { 0 }, next[16];
    unsigned c = 0;

    for (unsigned i = 0; i < n; i++)
        count[len[i]]++;
    count[0] = 0;
    for (unsigned b = 1; b < 16; b++) {
        c = (c + count[b - 1]) << 1;
        next[b] = c;
    }
    for (unsigned i = 0; i < n; i++)
        if (len[i])
            code[i] = (unsigned short)next[len[i]]++;
}

/* Huffman codes are defined most significant bit first. */
static void put_code(struct jg_bits *b, unsigned code, unsigned len)
{
    unsigned rev = 0;

    for (unsigned i = 0; i < len; i++)
        rev |= ((code >> i) & 1u) << (len - 1 - i);
    jg_bits_put(b, rev, len);
}

static void put_cl(struct dcraft *d, unsigned sym)
{
    put_code(&d->bits, d->cl_code[sym], cl_len[sym]);
}

/* The literal/length and distance code lengths, as one run-length coded
 * sequence. */
static void put_lengths(struct dcraft *d, const unsigned char *seq,
                        unsigned n)
{
    for (unsigned i = 0; i < n;) {
        unsigned run = 1;

        while (i + run < n && seq[i + run] == seq[i])
            run++;
        i += run;
        if (seq[i - run] != 0) {
            while (run--)
                put_cl(d, seq[i - 1]);
            continue;
        }
        while (run >= 11) {
            unsigned t = run > 138 ? 138 : run;
            put_cl(d, 18);
            jg_bits_put(&d->bits, t - 11, 7);
            run -= t;
        }
        if (run >= 3) {
            put_cl(d, 17);
            jg_bits_put(&d->bits, run - 3, 3);
        } else {
            while (run--)
                put_cl(d, 0);
        }
    }
}

static void put_wrapper_head(struct dcraft *d)
{
    static const unsigned char gz[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
    /* CMF 0x78: deflate, 32 KiB window; FLG 0x01 makes it a multiple of
     * 31, as zlib writes it at its fast levels. */
    static const unsigned char zl[2] = { 0x78, 0x01 };
    const unsigned char *h = d->gzip ? gz : zl;
    size_t n = d->gzip ? sizeof gz : sizeof zl;

    for (size_t i = 0; i < n; i++)
        jg_bits_put(&d->bits, h[i], 8);
}

static void head_unit(struct dcraft *d)
{
    unsigned char seq[NLIT + NDIST] = { 0 };
    unsigned short dummy[NDIST];

    seq[d->byte] = 2;
    seq[EOB] = 2;
    seq[LEN_258] = 1;
    seq[NLIT] = seq[NLIT + 1] = 1;
    canonical(cl_len, 19, d->cl_code);
    canonical(seq, NLIT, d->lit_code);
    canonical(seq + NLIT, NDIST, dummy);

    put_wrapper_head(d);
    jg_bits_put(&d->bits, 1, 1);            /* BFINAL */
    jg_bits_put(&d->bits, 2, 2);            /* dynamic Huffman */
    jg_bits_put(&d->bits, NLIT - 257, 5);
    jg_bits_put(&d->bits, NDIST - 1, 5);
    jg_bits_put(&d->bits, NCLEN - 4, 4);
    for (unsigned i = 0; i < NCLEN; i++)
        jg_bits_put(&d->bits, cl_len[cl_order[i]], 3);
    put_lengths(d, seq, NLIT + NDIST);
    if (d->size)
        put_code(&d->bits, d->lit_code[d->byte], 2);

    /* Matches are zero bits: finish the current byte with them, then the
     * rest are whole zero bytes and a few bits. */
    uint64_t zbits = d->matches * 2;
    unsigned pre = (8 - d->bits.nacc) & 7;
    if (pre > zbits)
        pre = (unsigned)zbits;
    jg_bits_put(&d->bits, 0, pre);
    d->zero_bytes = (zbits - pre) / 8;
    d->zero_tail = (unsigned)((zbits - pre) % 8);
}

/* The value the wrapper's trailer checks: CRC-32 or Adler-32 of the run,
 * by doubling with the combine functions. */
static uLong run_check(const struct dcraft *d)
{
    uLong one = d->gzip ? crc32(0, &d->byte, 1) : adler32(1, &d->byte, 1);
    uLong acc = d->gzip ? crc32(0, Z_NULL, 0) : adler32(0, Z_NULL, 0);
    uint64_t len = 0;

    for (int bit = 63; bit >= 0; bit--) {
        if (len) {
            acc = d->gzip ? crc32_combine(acc, acc, (z_off_t)len)
                          : adler32_combine(acc, acc, (z_off_t)len);
            len *= 2;
        }
        if ((d->size >> bit) & 1) {
            acc = d->gzip ? crc32_combine(acc, one, 1)
                          : adler32_combine(acc, one, 1);
            len++;
        }
    }
    return acc;
}

static void tail_unit(struct dcraft *d)
{
    uint64_t lits = d->size ? d->size - 1 - d->matches * MATCH_MAX : 0;
    uLong check = run_check(d);

    jg_bits_put(&d->bits, 0, d->zero_tail);
    for (uint64_t i = 0; i < lits; i++)
        put_code(&d->bits, d->lit_code[d->byte], 2);
    put_code(&d->bits, d->lit_code[EOB], 2);
    jg_bits_align(&d->bits);
    if (d->gzip) {
        jg_bits_put(&d->bits, (uint32_t)check, 32);
        jg_bits_put(&d->bits, (uint32_t)d->size, 32);  /* size mod 2^32 */
    } else {
        for (int s = 24; s >= 0; s -= 8)
            jg_bits_put(&d->bits, (uint32_t)(check >> s) & 0xff, 8);
    }
}

static ssize_t produce(struct jg_enc *e, char *dst, size_t n, bool *eof)
{
    struct dcraft *d = (struct dcraft *)e;
    size_t out = 0;

    while (out < n) {
        if (jg_bits_queued(&d->bits)) {
            out += jg_bits_take(&d->bits, dst + out, n - out);
        } else if (d->st == ST_HEAD) {
            head_unit(d);
            d->st = ST_ZEROS;
        } else if (d->st == ST_ZEROS && d->zero_bytes) {
            size_t k = n - out < d->zero_bytes ? n - out
                                               : (size_t)d->zero_bytes;
            memset(dst + out, 0, k);
            out += k;
            d->zero_bytes -= k;
        } else if (d->st == ST_ZEROS) {
            tail_unit(d);
            d->st = ST_TAIL;
        } else {
            d->st = ST_END;
            break;
        }
    }
    *eof = d->st == ST_END || (d->st == ST_TAIL && !jg_bits_queued(&d->bits));
    if (*eof)
        d->st = ST_END;
    return (ssize_t)out;
}

static void dfree(struct jg_enc *e)
{
    free(e);
}

static const struct jg_enc_ops ops = { produce, dfree };

struct jg_enc *jg_craft_deflate_new(const struct jg_body *run, bool gzip)
{
    struct dcraft *d = calloc(1, sizeof *d);

    if (!d)
        return NULL;
    d->base.ops = &ops;
    d->base.src = run;
    d->gzip = gzip;
    d->byte = (unsigned char)run->fill;
    d->size = run->size;
    d->matches = run->size ? (run->size - 1) / MATCH_MAX : 0;
    return &d->base;
}
