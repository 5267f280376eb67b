/*
 * xorshift64*: the session's own generator (retry jitter, random waits,
 * temporary names), so nothing global is shared between sessions.
 */
#ifndef JG_RNG_H
#define JG_RNG_H

#include <stdint.h>

static inline uint64_t jg_rng_next(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, 1): the top 53 bits. */
static inline double jg_rng_unit(uint64_t *state)
{
	return (double)(jg_rng_next(state) >> 11) / 9007199254740992.0;
}

#endif
