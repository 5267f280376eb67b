#include "idxset.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a, 64-bit: short keys (URLs, file and host names), no dependency. */
uint64_t jg_hash_str(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

void jg_idxset_init(struct jg_idxset *set, jg_idxset_key_fn key, void *ctx)
{
	set->slots = NULL;
	set->mask = 0;
	set->count = 0;
	set->key = key;
	set->ctx = ctx;
}

void jg_idxset_fini(struct jg_idxset *set)
{
	free(set->slots);
	set->slots = NULL;
	set->mask = 0;
	set->count = 0;
}

static int key_equals(const struct jg_idxset *set, uint32_t idx, const char *key, size_t len)
{
	const char *k = set->key(set->ctx, idx);
	return strncmp(k, key, len) == 0 && k[len] == '\0';
}

uint32_t jg_idxset_find(const struct jg_idxset *set, const char *key, size_t len)
{
	if (!set->slots)
		return UINT32_MAX;
	size_t i = jg_hash_str(key, len) & set->mask;
	for (;;) {
		uint32_t v = set->slots[i];
		if (v == 0)
			return UINT32_MAX;
		if (key_equals(set, v - 1, key, len))
			return v - 1;
		i = (i + 1) & set->mask;
	}
}

static void place(uint32_t *slots, size_t mask, uint64_t hash, uint32_t value)
{
	size_t i = hash & mask;
	while (slots[i] != 0)
		i = (i + 1) & mask;
	slots[i] = value;
}

static int grow(struct jg_idxset *set)
{
	size_t n = set->slots ? (set->mask + 1) * 2 : 64;
	uint32_t *slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	for (size_t i = 0; set->slots && i <= set->mask; i++) {
		uint32_t v = set->slots[i];
		if (v) {
			const char *k = set->key(set->ctx, v - 1);
			place(slots, n - 1, jg_hash_str(k, strlen(k)), v);
		}
	}
	free(set->slots);
	set->slots = slots;
	set->mask = n - 1;
	return 0;
}

static size_t home(const struct jg_idxset *set, uint32_t v)
{
	const char *k = set->key(set->ctx, v - 1);
	return jg_hash_str(k, strlen(k)) & set->mask;
}

/*
 * Backward-shift deletion: no tombstones, so a set that sees as many
 * removals as inserts (a daemon forgetting finished URLs) keeps its
 * probes as short as a fresh one. Each entry after the hole moves into it
 * unless the hole lies before the entry's home slot, cyclically.
 */
void jg_idxset_remove(struct jg_idxset *set, uint32_t idx)
{
	if (!set->slots)
		return;
	size_t i = home(set, idx + 1);
	while (set->slots[i] != idx + 1) {
		if (set->slots[i] == 0)
			return;
		i = (i + 1) & set->mask;
	}
	for (size_t j = (i + 1) & set->mask; set->slots[j] != 0; j = (j + 1) & set->mask) {
		size_t h = home(set, set->slots[j]);
		/* Does h lie cyclically in (i, j]? Then the entry stays. */
		int stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
		if (!stays) {
			set->slots[i] = set->slots[j];
			i = j;
		}
	}
	set->slots[i] = 0;
	set->count--;
}

int jg_idxset_insert(struct jg_idxset *set, uint32_t idx)
{
	/* Linear probing stays short below a load of 3/4. */
	if (!set->slots || (set->count + 1) * 4 > (set->mask + 1) * 3) {
		if (grow(set) < 0)
			return -1;
	}
	const char *k = set->key(set->ctx, idx);
	place(set->slots, set->mask, jg_hash_str(k, strlen(k)), idx + 1);
	set->count++;
	return 0;
}
