#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * A million queued URLs must fit in well under 200 MB, so strings are not
 * malloc'd one by one (16+ bytes of overhead each) but packed in chunks.
 */
enum { CHUNK_SIZE = 1 << 20 };

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;
	char data[];
};

void jg_arena_init(struct jg_arena *a)
{
	a->head = NULL;
	a->used = 0;
	a->total = 0;
}

void jg_arena_fini(struct jg_arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	jg_arena_init(a);
}

static char *arena_alloc(struct jg_arena *a, size_t n)
{
	if (!a->head || a->head->size - a->used < n) {
		size_t size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		struct arena_chunk *c = malloc(sizeof *c + size);
		if (!c)
			return NULL;
		c->next = a->head;
		c->size = size;
		a->head = c;
		a->used = 0;
		a->total += size;
	}
	char *p = a->head->data + a->used;
	a->used += n;
	return p;
}

void *jg_arena_alloc(struct jg_arena *a, size_t n)
{
	/* Strings leave the fill at any byte: 7 spare bytes align a struct. */
	char *p = arena_alloc(a, n + 7);
	return p ? (void *)(((uintptr_t)p + 7) & ~(uintptr_t)7) : NULL;
}

char *jg_arena_strndup(struct jg_arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *jg_arena_strdup(struct jg_arena *a, const char *s)
{
	return jg_arena_strndup(a, s, strlen(s));
}
