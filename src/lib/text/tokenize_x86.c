/*
 * The block readers with x86 vector instructions: SSE2, which every
 * x86-64 CPU has, and AVX2 (with BMI1/BMI2 for the bit walking), compiled
 * for its target only in these functions and taken when the CPU says so
 * at run time. A byte range test is one add and one signed compare: the
 * add moves the range to the bottom of the signed bytes (-128...).
 */
#include "tokenize_paths.h"

#ifdef JG_TOKENIZE_X86

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

int jg_tok_cpu_has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
	       __builtin_cpu_supports("bmi2");
}

/* 16 bytes of 0xff then 16 of 0: 16 bytes from (16 - n) keep n bytes. */
static const unsigned char keep_n[32] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* The bytes of `x` in [lo, lo + n), n <= 127: 0xff, else 0. */
#define RANGE128(x, lo, n)                                                                   \
	_mm_cmpgt_epi8(_mm_set1_epi8((char)(-128 + (n))),                                      \
	               _mm_add_epi8((x), _mm_set1_epi8((char)(0x80 - (lo)))))
#define RANGE256(x, lo, n)                                                                   \
	_mm256_cmpgt_epi8(_mm256_set1_epi8((char)(-128 + (n))),                                \
	                  _mm256_add_epi8((x), _mm256_set1_epi8((char)(0x80 - (lo)))))

static inline __m128i space16(__m128i x)
{
	return _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')), RANGE128(x, '\t', 5));
}

static inline __m128i alnum16(__m128i x)
{
	__m128i folded = _mm_or_si128(x, _mm_set1_epi8(0x20));
	return _mm_or_si128(RANGE128(folded, 'a', 26), RANGE128(x, '0', 10));
}

static inline uint64_t mask16(__m128i m)
{
	return (uint16_t)_mm_movemask_epi8(m);
}

static inline void classify_ws_sse2(const unsigned char *p, uint64_t *space)
{
	uint64_t m = 0;
	for (unsigned i = 0; i < 4; i++)
		m |= mask16(space16(_mm_loadu_si128((const __m128i *)(p + 16 * i)))) << (16 * i);
	*space = m;
}

static inline void classify_words_sse2(const unsigned char *p, uint64_t *alnum, uint64_t *apos,
                                       uint64_t *high)
{
	uint64_t al = 0, ap = 0, hi = 0;
	for (unsigned i = 0; i < 4; i++) {
		__m128i x = _mm_loadu_si128((const __m128i *)(p + 16 * i));
		al |= mask16(alnum16(x)) << (16 * i);
		ap |= mask16(_mm_cmpeq_epi8(x, _mm_set1_epi8('\''))) << (16 * i);
		hi |= mask16(x) << (16 * i);
	}
	*alnum = al;
	*apos = ap;
	*high = hi;
}

/* The constants of fold16 as memory operands: kept in registers they
 * would be rebuilt in every iteration, as the table's rare out-of-line
 * calls clobber every vector register. */
static const unsigned char fold_consts[3][16] __attribute__((aligned(16))) = {
	{0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f},
	{0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a, 0x9a},
	{0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20},
};

static inline __m128i fold16(__m128i x)
{
	const __m128i *c = (const __m128i *)fold_consts;
	__m128i upper = _mm_cmpgt_epi8(c[1], _mm_add_epi8(x, c[0])); /* 'A' + 0x3f = 0x80 */
	return _mm_or_si128(x, _mm_and_si128(upper, c[2]));
}

static inline void key16_sse2(const unsigned char *p, size_t len, uint64_t *lo, uint64_t *hi)
{
	__m128i keep = _mm_loadu_si128((const __m128i *)(keep_n + 16 - len));
	__m128i x = _mm_and_si128(fold16(_mm_loadu_si128((const __m128i *)p)), keep);
	*lo = (uint64_t)_mm_cvtsi128_si64(x);
	*hi = (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(x, x));
}

static inline unsigned tz_sse2(uint64_t x)
{
	return x ? (unsigned)__builtin_ctzll(x) : 64;
}

#define BLK(name) name##_sse2
#define BLK_ATTR
#include "tokenize_blocks.h"
#undef BLK
#undef BLK_ATTR

#define AVX2 __attribute__((target("avx2,bmi,bmi2")))

AVX2 static inline uint64_t mask32(__m256i m)
{
	return (uint32_t)_mm256_movemask_epi8(m);
}

AVX2 static inline void classify_ws_avx2(const unsigned char *p, uint64_t *space)
{
	uint64_t m = 0;
	for (unsigned i = 0; i < 2; i++) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(p + 32 * i));
		__m256i s = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(' ')),
		                            RANGE256(x, '\t', 5));
		m |= mask32(s) << (32 * i);
	}
	*space = m;
}

AVX2 static inline void classify_words_avx2(const unsigned char *p, uint64_t *alnum,
                                            uint64_t *apos, uint64_t *high)
{
	uint64_t al = 0, ap = 0, hi = 0;
	for (unsigned i = 0; i < 2; i++) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(p + 32 * i));
		__m256i folded = _mm256_or_si256(x, _mm256_set1_epi8(0x20));
		__m256i w = _mm256_or_si256(RANGE256(folded, 'a', 26), RANGE256(x, '0', 10));
		al |= mask32(w) << (32 * i);
		ap |= mask32(_mm256_cmpeq_epi8(x, _mm256_set1_epi8('\''))) << (32 * i);
		hi |= mask32(x) << (32 * i);
	}
	*alnum = al;
	*apos = ap;
	*high = hi;
}

AVX2 static inline void key16_avx2(const unsigned char *p, size_t len, uint64_t *lo, uint64_t *hi)
{
	key16_sse2(p, len, lo, hi);
}

AVX2 static inline unsigned tz_avx2(uint64_t x)
{
	return (unsigned)_tzcnt_u64(x); /* BMI1: 64 for 0 */
}

#define BLK(name) name##_avx2
#define BLK_ATTR AVX2
#include "tokenize_blocks.h"

#else
/* Not x86-64: tokenize_scalar.c is the block reader. (ISO C wants a
 * translation unit to declare something.) */
typedef int jg_tokenize_x86_unused;
#endif
