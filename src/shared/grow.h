/*
 * The one growable-array step both wings use: room for element `n` of an
 * array of `*cap`, doubling (from `first`). Header-only and free of
 * either wing's types, so the command line can use it without seeing the
 * library's insides.
 */
#ifndef JG_GROW_H
#define JG_GROW_H

#include <stddef.h>
#include <stdlib.h>

/* `array` is the address of the array's pointer. 0, or -1 out of memory
 * with nothing changed. */
static inline int jg_grow(void *array, size_t *cap, size_t n, size_t elem, size_t first)
{
	if (n < *cap)
		return 0;
	size_t want = *cap ? *cap * 2 : first;
	void **v = (void **)array;
	void *p = realloc(*v, want * elem);
	if (!p)
		return -1;
	*v = p;
	*cap = want;
	return 0;
}

#endif
