/*
 * The block readers in portable C, for machines without the x86 paths:
 * 64-bit words as eight byte lanes (SWAR). A byte test sets bit 7 of each
 * lane that passes, exactly: the lane's low 7 bits are added to a
 * constant below 0x80, which can never carry into the next lane, and
 * bytes >= 0x80 are taken out with ~x. A multiply then gathers the eight
 * bit 7s into one byte, as pmovmskb does.
 */
#include "tokenize_paths.h"

#include <stdint.h>
#include <string.h>

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Bit 7 of each lane of `x` that is an ASCII byte in [lo, hi]. */
static inline uint64_t in_range(uint64_t x, unsigned lo, unsigned hi)
{
	uint64_t low7 = x & ~HIGHS;
	return (low7 + ONES * (0x80 - lo)) & ~(low7 + ONES * (0x7f - hi)) & ~x & HIGHS;
}

/* The lanes' bit 7s as the 8 bits of a byte, lane 0 the lowest. */
static inline uint64_t gather8(uint64_t flags)
{
	return ((flags >> 7) * 0x0102040810204080ULL) >> 56;
}

static inline uint64_t lower8(uint64_t x)
{
	return x | in_range(x, 'A', 'Z') >> 2;
}

static inline void classify_ws_scalar(const unsigned char *p, uint64_t *space)
{
	uint64_t m = 0;
	for (unsigned i = 0; i < 8; i++) {
		uint64_t x = jg_wc_load8((const char *)p + 8 * i);
		m |= gather8(in_range(x, '\t', '\r') | in_range(x, ' ', ' ')) << (8 * i);
	}
	*space = m;
}

static inline void classify_words_scalar(const unsigned char *p, uint64_t *alnum, uint64_t *apos,
                                         uint64_t *high)
{
	uint64_t al = 0, ap = 0, hi = 0;
	for (unsigned i = 0; i < 8; i++) {
		uint64_t x = jg_wc_load8((const char *)p + 8 * i);
		uint64_t letters = in_range(x | ONES * 0x20, 'a', 'z');
		al |= gather8(letters | in_range(x, '0', '9')) << (8 * i);
		ap |= gather8(in_range(x, '\'', '\'')) << (8 * i);
		hi |= gather8(x & HIGHS) << (8 * i);
	}
	*alnum = al;
	*apos = ap;
	*high = hi;
}

/* The low `n` bytes of a lane word kept, 0 <= n <= 8. */
static inline uint64_t keep_bytes(size_t n)
{
	return n >= 8 ? ~0ULL : ~(~0ULL << (8 * n));
}

static inline void key16_scalar(const unsigned char *p, size_t len, uint64_t *lo, uint64_t *hi)
{
	*lo = lower8(jg_wc_load8((const char *)p)) & keep_bytes(len);
	*hi = lower8(jg_wc_load8((const char *)p + 8)) & keep_bytes(len > 8 ? len - 8 : 0);
}

static inline unsigned tz_scalar(uint64_t x)
{
	return x ? (unsigned)__builtin_ctzll(x) : 64;
}

#define BLK(name) name##_scalar
#define BLK_ATTR
#include "tokenize_blocks.h"
