/* LSB-first bit writer for the hand-made deflate and brotli streams (both
 * formats pack bits from the least significant end of each byte).  Whole
 * bytes queue in buf, which the encoder hands out before it writes the
 * next unit of its stream; every unit is far smaller than JG_BITS_CAP. */
#ifndef JG_BITS_H
#define JG_BITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JG_BITS_CAP 256

struct jg_bits {
    uint64_t acc;          /* pending bits, fewer than 8 between calls */
    unsigned nacc;
    size_t len, off;       /* queued bytes are buf[off, len) */
    unsigned char buf[JG_BITS_CAP];
};

/* Appends the low n (<= 32) bits of v. */
static inline void jg_bits_put(struct jg_bits *b, uint32_t v, unsigned n)
{
    uint64_t mask = n < 32 ? ((uint64_t)1 << n) - 1 : 0xffffffffu;

    b->acc |= ((uint64_t)v & mask) << b->nacc;
    b->nacc += n;
    while (b->nacc >= 8 && b->len < JG_BITS_CAP) {
        b->buf[b->len++] = (unsigned char)b->acc;
        b->acc >>= 8;
        b->nacc -= 8;
    }
}

/* Zero bits up to the next byte boundary. */
static inline void jg_bits_align(struct jg_bits *b)
{
    if (b->nacc)
        jg_bits_put(b, 0, 8 - b->nacc);
}

static inline bool jg_bits_queued(const struct jg_bits *b)
{
    return b->off < b->len;
}

/* Hands out up to n queued bytes. */
static inline size_t jg_bits_take(struct jg_bits *b, char *dst, size_t n)
{
    size_t k = b->len - b->off;

    if (k > n)
        k = n;
    memcpy(dst, b->buf + b->off, k);
    b->off += k;
    if (b->off == b->len)
        b->off = b->len = 0;
    return k;
}

#endif
