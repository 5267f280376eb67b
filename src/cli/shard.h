/*
 * Sharding a URL list over a scheduler's array tasks: shard K of N takes
 * the URLs whose hash falls in K. The hash is of the URL as written (after
 * trimming), so it does not depend on the list's order, the machine or
 * the run, and the N shards partition any list exactly.
 */
#ifndef JG_SHARD_H
#define JG_SHARD_H

#include <stddef.h>
#include <stdint.h>

/* Far more than any scheduler runs as one array. */
#define JG_SHARDS_MAX 1000000u

struct jg_shard {
	uint32_t k, n;      /* n == 0: no sharding */
};

/* The stable 64-bit hash of `text` that shards are cut from. */
uint64_t jg_shard_hash(const char *text, size_t len);
/* The shard (0..n-1) that `text` belongs to among `n`: the hash % n. */
uint32_t jg_shard_of(const char *text, size_t len, uint32_t n);

/*
 * Parses "K/N" or "auto/N" (K from SLURM_ARRAY_TASK_ID, else from
 * JOB_COMPLETION_INDEX, Kubernetes' Indexed Job). 0, or -1 with `why`.
 */
int jg_shard_parse(const char *arg, struct jg_shard *out, char *why, size_t why_len);

#endif
