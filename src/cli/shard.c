#include "shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * FNV-1a over the bytes, then a 64-bit finaliser (splitmix64's) so that
 * every bit of the result depends on every byte; "% n" of that is even
 * enough for shard counts far below 2^32. Written out here rather than
 * taken from a library because the value must never change: it decides
 * which task downloads which book, across versions and machines.
 */
uint64_t jg_shard_hash(const char *text, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)text[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

uint32_t jg_shard_of(const char *text, size_t len, uint32_t n)
{
	return (uint32_t)(jg_shard_hash(text, len) % n);
}

static int parse_u32(const char *s, const char *end, uint32_t *out)
{
	if (s == end || end - s > 9)
		return -1;
	uint32_t v = 0;
	for (const char *p = s; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	*out = v;
	return 0;
}

int jg_shard_parse(const char *arg, struct jg_shard *out, char *why, size_t why_len)
{
	const char *slash = strchr(arg, '/');
	uint32_t n;
	if (!slash || parse_u32(slash + 1, slash + strlen(slash), &n) < 0 || n == 0 ||
	    n > JG_SHARDS_MAX) {
		snprintf(why, why_len, "expected K/N or auto/N with 1 <= N <= %u, got '%s'",
		         JG_SHARDS_MAX, arg);
		return -1;
	}
	uint32_t k;
	if ((size_t)(slash - arg) == 4 && strncmp(arg, "auto", 4) == 0) {
		const char *var = "SLURM_ARRAY_TASK_ID";
		const char *val = getenv(var);
		if (!val || !*val) {
			var = "JOB_COMPLETION_INDEX";
			val = getenv(var);
		}
		if (!val || !*val) {
			snprintf(why, why_len, "auto/%u: neither SLURM_ARRAY_TASK_ID nor "
			         "JOB_COMPLETION_INDEX is set", n);
			return -1;
		}
		if (parse_u32(val, val + strlen(val), &k) < 0) {
			snprintf(why, why_len, "auto/%u: %s='%.40s' is not a shard number", n, var, val);
			return -1;
		}
		if (k >= n) {
			snprintf(why, why_len, "auto/%u: %s=%u is not below %u", n, var, k, n);
			return -1;
		}
	} else if (parse_u32(arg, slash, &k) < 0 || k >= n) {
		snprintf(why, why_len, "expected K/N with 0 <= K < N, got '%s'", arg);
		return -1;
	}
	out->k = k;
	out->n = n;
	return 0;
}
