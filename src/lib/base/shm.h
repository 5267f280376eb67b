/*
 * Memory shared with the workers, where bodies are received. One memfd,
 * made before the first worker is started and mapped by each of them
 * (read-only, as descriptor 3), so a completed body is handed over by its
 * place in it: the pipe carries a frame saying where the book lies, not
 * the book, and nothing is copied between receiving it and counting it.
 *
 * Only the loop allocates and frees, so nothing here locks. Allocations
 * come from a sparse file far larger than any budget (pages cost only
 * once touched); the low part stays resident once used, because fresh
 * pages cost a zeroing fault each, and what is freed above it is given
 * back to the kernel. An allocation that finds no room fails, and its
 * caller falls back to private memory and the pipe.
 */
#ifndef JG_SHM_H
#define JG_SHM_H

#include <stddef.h>
#include <stdint.h>

struct jg_shm;

/* The descriptor number a worker finds the shared memory at. */
#define JG_SHM_WORKER_FD 3
/* Bodies from this size on are received into it: below, the pipe's copy
 * costs less than the frame's round of page bookkeeping. */
#define JG_SHM_MIN_BODY (64u * 1024)

/* A new shared region of `size` bytes (rounded to pages), or NULL. */
struct jg_shm *jg_shm_new(size_t size);
/* Unmaps and closes it; workers keep their own mappings until they exit. */
void jg_shm_free(struct jg_shm *s);
int jg_shm_fd(const struct jg_shm *s);
/* In a forked child: drops the inherited writable mapping. */
void jg_shm_unmap(struct jg_shm *s);

/* `n` bytes, or NULL when no free run is that long. */
void *jg_shm_alloc(struct jg_shm *s, size_t n);
/* `p` grown to `n` bytes, in place when the run after it is free, else
 * moved; NULL (and `p` untouched) when there is no room. */
void *jg_shm_realloc(struct jg_shm *s, void *p, size_t n);
void jg_shm_release(struct jg_shm *s, void *p);
/* 1 when `p` lies in `s` (NULL `s`: never). */
int jg_shm_owns(const struct jg_shm *s, const void *p);
/* Where `p` lies, for the frame; `p` must be owned. */
uint64_t jg_shm_offset(const struct jg_shm *s, const void *p);

/* Frees a body wherever it lives: shared memory or the heap. */
void jg_body_free(struct jg_shm *s, void *p);

/* Figures, for tests: bytes allocated now, and free runs. */
uint64_t jg_shm_used(const struct jg_shm *s);
size_t jg_shm_free_runs(const struct jg_shm *s);

#endif
