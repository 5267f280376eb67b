/* Append-only string storage: many small strings, one malloc per chunk. */
#ifndef JG_ARENA_H
#define JG_ARENA_H

#include <stddef.h>

struct jg_arena {
	struct arena_chunk *head;
	size_t used;      /* bytes taken in head */
	size_t total;     /* bytes of all chunks, for memory accounting */
};

void jg_arena_init(struct jg_arena *a);
void jg_arena_fini(struct jg_arena *a);
/* Copies `len` bytes of `s` and a NUL; returns the copy or NULL. */
/* `n` bytes aligned to 8, uninitialised; NULL when out of memory. */
void *jg_arena_alloc(struct jg_arena *a, size_t n);
char *jg_arena_strndup(struct jg_arena *a, const char *s, size_t len);
char *jg_arena_strdup(struct jg_arena *a, const char *s);

#endif
