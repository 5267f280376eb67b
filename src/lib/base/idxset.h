/*
 * A hash set of 32-bit indices whose keys live elsewhere (in the caller's
 * records). Storing 4-byte indices rather than pointers keeps a set of a
 * million URLs at 8 MB.
 */
#ifndef JG_IDXSET_H
#define JG_IDXSET_H

#include <stddef.h>
#include <stdint.h>

/* The key of entry `idx`, as a string; `ctx` is the set's context. */
typedef const char *(*jg_idxset_key_fn)(void *ctx, uint32_t idx);

struct jg_idxset {
	uint32_t *slots;     /* idx + 1; 0 marks an empty slot */
	size_t mask;         /* slot count - 1; slot count is a power of two */
	size_t count;
	jg_idxset_key_fn key;
	void *ctx;
};

void jg_idxset_init(struct jg_idxset *set, jg_idxset_key_fn key, void *ctx);
void jg_idxset_fini(struct jg_idxset *set);
uint64_t jg_hash_str(const char *s, size_t len);
/* No index: what a lookup that finds nothing returns. */
#define JG_NONE UINT32_MAX

/* The index whose key equals `key` (of `len` bytes), or JG_NONE. */
uint32_t jg_idxset_find(const struct jg_idxset *set, const char *key, size_t len);
/* Adds `idx`, whose key must not be present yet. 0, or -1 on ENOMEM. */
int jg_idxset_insert(struct jg_idxset *set, uint32_t idx);
/* Removes `idx` (its key must still be readable); nothing if absent. */
void jg_idxset_remove(struct jg_idxset *set, uint32_t idx);

#endif
